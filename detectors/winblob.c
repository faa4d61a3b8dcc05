/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * winblob.c - the `winblob` detector: Windows CNG and CAPI private key blobs.
 *
 * Finds, at any offset (layouts: ../shared/reference/keyforms.md §2.9, §2.10):
 * - CNG BCRYPT_RSAKEY_BLOB, magic "RSA2" (BCRYPT_RSAPRIVATE_MAGIC: header
 *   {Magic, BitLength, cbPublicExp, cbModulus, cbPrime1, cbPrime2}, then e, n,
 *   p, q big-endian) and "RSA3" (BCRYPT_RSAFULLPRIVATE_MAGIC: + dP, dQ, qInv,
 *   d); encodings cng-rsa2, cng-rsa3;
 * - CNG BCRYPT_ECCKEY_BLOB private magics {Magic, cbKey} then X, Y, d
 *   big-endian: ECS2/ECS4/ECS6 (ECDSA P-256/384/521), ECK2/ECK4/ECK6 (ECDH)
 *   and the generic-curve ECDV/ECKV, whose curve is the one of cbKey's size on
 *   which d*G equals (X, Y); encoding cng-ecc;
 * - CAPI PRIVATEKEYBLOB: BLOBHEADER {bType 07, bVersion 02, reserved 0,
 *   aiKeyAlg CALG_RSA_SIGN 0x2400 | CALG_RSA_KEYX 0xa400} + RSAPUBKEY {"RSA2",
 *   bitlen, pubexp}, then n, p, q, dP, dQ, qInv, d little-endian, bitlen/8
 *   and bitlen/16 bytes; also the same RSAPUBKEY body without its BLOBHEADER
 *   (PVK files, CAPI key containers); encoding capi-privatekeyblob.
 * Public blobs (RSA1, ECS1/3/5, ECK1/3/5, ECDP, ECKP, PUBLICKEYBLOB) carry no
 * anchor here and are never findings.
 *
 * 1. Prefilter: an SSE2 pass (portable loop elsewhere) marks "RS" and "EC";
 *    the four-byte magic is then compared exactly.
 * 2. The header is validated strictly before any big number is made:
 *    BitLength 512..16384, cbModulus = BitLength/8 rounded up, primes of half
 *    the modulus (+-1 byte), cbPublicExp 1..8, the blob inside the chunk; the
 *    modulus has exactly BitLength bits and is odd, like e, p and q.
 * 3. The key is rebuilt with OpenSSL (keyproof builders) and proven by
 *    keyproof_prove(): RSA p*q = n, e*d = 1 mod p-1 and q-1, the stored CRT
 *    values (RSA3, CAPI), probable primes; EC d*G = the stored point.
 * Verdicts: proven keys are confirmed/high. A blob whose header is valid but
 * whose math fails (a damaged prime, a scalar that does not match its point)
 * is a medium candidate named by its public key (n, e or the point on the
 * curve); a generic-curve blob that proves on no curve is silent.
 *
 * SymCrypt's in-memory RSA key (SYMCRYPT_RSAKEY, the "MSRK" of issue 5) is not
 * recognised: its public definition (inc/symcrypt_internal.h) has no constant
 * magic (SYMCRYPT_MAGIC_FIELD holds an address-dependent value in checked
 * builds only), its fields changed between releases, and its numbers are
 * digit-padded little-endian word arrays that the rsa-raw detector reads
 * (tests/unit/test_rsa_raw.c plants a key in that layout).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/ecgroups.h"
#include "../scanner/proof/keyproof.h"
#include "../scanner/util/simd.h"

#define MIN_BITS 512
#define MAX_BITS 16384
#define MAX_MOD (MAX_BITS / 8)
#define WB_SPAN (10u << 10) /* largest blob: RSA3 of 16384 bits, 9253 bytes */
#define CNG_RSA_HDR 24
#define CAPI_HDR 8          /* BLOBHEADER before "RSA2" */
#define CAPI_PUB 12         /* RSAPUBKEY: magic, bitlen, pubexp */

static const char *const forms[] = {"cng-rsa2", "cng-rsa3", "cng-ecc", "capi-privatekeyblob",
                                    NULL};

/* Curves of CNG ECC blobs: named by magic, or by cbKey for the generic ones. */
static const struct {
    size_t cb;
    const char *group;
} ec_curves[] = {
    {32, "prime256v1"}, {48, "secp384r1"},       {66, "secp521r1"},
    {32, "secp256k1"},  {32, "brainpoolP256r1"}, {48, "brainpoolP384r1"},
    {64, "brainpoolP512r1"},
};

#define N_EC_CURVES (sizeof ec_curves / sizeof ec_curves[0])

struct ctx {
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
    size_t covered;                 /* chunk index up to which a reported blob reaches */
    struct ecgroups *eg;            /* this worker's curve groups */
};

static dg_err
wb_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL || (c->eg = ecgroups_new()) == NULL) {
        free(c);
        return DG_E_NOMEM;
    }
    c->proof = keyproof_policy_of(shared);
    *out = c;
    return DG_OK;
}

static void
wb_release(void *p)
{
    struct ctx *c = p;

    if (c == NULL)
        return;
    ecgroups_free(c->eg);
    free(c);
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The numbers of an RSA blob, as big numbers (secret ones in secure memory). */
struct rsa_nums {
    BIGNUM *n, *e, *p, *q, *dp, *dq, *qi, *d;
};

static void
nums_free(struct rsa_nums *r)
{
    BN_free(r->n);
    BN_free(r->e);
    BN_clear_free(r->p);
    BN_clear_free(r->q);
    BN_clear_free(r->dp);
    BN_clear_free(r->dq);
    BN_clear_free(r->qi);
    BN_clear_free(r->d);
    memset(r, 0, sizeof *r);
}

/* Big-endian (le = false) or little-endian bytes into a new BIGNUM. */
static BIGNUM *
bn_from(const uint8_t *p, size_t len, bool le, bool secret)
{
    BIGNUM *b = secret ? BN_secure_new() : BN_new();

    if (b == NULL)
        return NULL;
    if ((le ? BN_lebin2bn(p, (int)len, b) : BN_bin2bn(p, (int)len, b)) == NULL) {
        BN_clear_free(b);
        return NULL;
    }
    return b;
}

static void
finding_base(struct dg_finding *f, const struct dg_chunk *ch, size_t s, size_t len,
             const char *encoding)
{
    memset(f, 0, sizeof *f);
    f->off = ch->off + s;
    f->len = len;
    dg_strlcpyf(f->encoding, sizeof f->encoding, "%s", encoding);
}

/* Proves an RSA blob's numbers and reports the verdict. bits is the header's
 * bit length, what names the form for the preview. */
static void
judge_rsa(const struct ctx *c, struct rsa_nums *r, unsigned bits, struct dg_finding *f,
          const char *what, struct dg_sink *sink)
{
    BN_CTX *bctx = BN_CTX_secure_new();
    BIGNUM *t = NULL, *pm1 = NULL, *qm1 = NULL, *g = NULL;
    EVP_PKEY *pkey = NULL;
    const char *why = NULL;

    ERR_set_mark();
    if (bctx == NULL)
        goto out;
    BN_CTX_start(bctx);
    t = BN_CTX_get(bctx);
    pm1 = BN_CTX_get(bctx);
    qm1 = BN_CTX_get(bctx);
    g = BN_CTX_get(bctx);
    if (g == NULL || !BN_mul(t, r->p, r->q, bctx))
        goto end;
    if (BN_cmp(t, r->n) != 0) {
        why = "p*q != n";
    } else if (r->d == NULL) {
        /* RSA2 stores no private exponent: d = e^-1 mod lcm(p-1, q-1). */
        r->d = BN_secure_new();
        if (r->d == NULL || !BN_sub(pm1, r->p, BN_value_one()) ||
            !BN_sub(qm1, r->q, BN_value_one()) || !BN_gcd(g, pm1, qm1, bctx) ||
            !BN_mul(t, pm1, qm1, bctx) || !BN_div(t, NULL, t, g, bctx) ||
            BN_mod_inverse(r->d, r->e, t, bctx) == NULL)
            why = "e is not invertible modulo lcm(p-1, q-1)";
        else if (keyproof_rsa_from_components(r->n, r->e, r->d, r->p, r->q, &pkey) != DG_OK)
            why = "OpenSSL did not accept the numbers";
    } else if (keyproof_rsa_from_crt(r->n, r->e, r->d, r->p, r->q, r->dp, r->dq, r->qi, &pkey) !=
               DG_OK) {
        why = "OpenSSL did not accept the numbers";
    }
    if (pkey != NULL &&
        keyproof_prove(c->proof, pkey, 0, &f->key, f->proof, sizeof f->proof) == DG_OK) {
        f->status = DG_STATUS_CONFIRMED;
        f->severity = DG_SEV_HIGH;
    } else {
        char proof[112];

        if (why == NULL) { /* keyproof_prove said why */
            dg_strlcpyf(proof, sizeof proof, "%s", f->proof);
            why = proof;
        }
        dg_strlcpyf(f->note, sizeof f->note, "valid %s header, but the key does not prove: %s",
                    what, why);
        f->proof[0] = '\0';
        f->status = DG_STATUS_CANDIDATE;
        f->severity = DG_SEV_MEDIUM;
        EVP_PKEY_free(pkey);
        pkey = NULL;
        memset(&f->key, 0, sizeof f->key);
        if (keyproof_rsa_public(r->n, r->e, &pkey) != DG_OK || keyproof_identity(pkey, &f->key) != DG_OK) {
            dg_strlcpyf(f->key.algorithm, sizeof f->key.algorithm, "RSA");
            f->key.bits = bits;
        }
    }
    dg_strlcpyf(f->type, sizeof f->type, "rsa-private-key");
    dg_strlcpyf(f->preview, sizeof f->preview, "%s, RSA-%u (redacted)", what, bits);
    dg_report(sink, f);
end:
    BN_CTX_end(bctx);
out:
    EVP_PKEY_free(pkey);
    BN_CTX_free(bctx);
    ERR_pop_to_mark();
}

/* Byte count of a prime of a modulus of mod bytes: half, or one byte off. */
static bool
half_ok(uint32_t cb, uint32_t mod)
{
    return cb + 1 >= mod / 2 && cb <= mod / 2 + 1 && cb > 0;
}

/* The modulus has exactly `bits` bits and is odd; a prime is odd and fills
 * at least its top byte but one. */
static bool
numbers_plausible(const struct rsa_nums *r, unsigned bits, unsigned cb_half)
{
    unsigned pb = (unsigned)BN_num_bits(r->p), qb = (unsigned)BN_num_bits(r->q);

    return (unsigned)BN_num_bits(r->n) == bits && BN_is_odd(r->n) && BN_is_odd(r->e) &&
           !BN_is_one(r->e) && BN_is_odd(r->p) && BN_is_odd(r->q) && pb + 16 > 8 * cb_half &&
           qb + 16 > 8 * cb_half;
}

/* CNG BCRYPT_RSAKEY_BLOB with magic RSA2 or RSA3 at chunk index k. Returns
 * the end of a reported blob, or 0. */
static size_t
at_cng_rsa(const struct ctx *c, const struct dg_chunk *ch, size_t k, bool full,
           struct dg_sink *sink)
{
    const uint8_t *p = ch->p + k;
    uint32_t bits, cb_e, cb_n, cb_p, cb_q;
    size_t total, o;
    struct rsa_nums r = {0};
    struct dg_finding f;

    if (k >= ch->owned || ch->len - k < CNG_RSA_HDR)
        return 0;
    bits = le32(p + 4);
    cb_e = le32(p + 8);
    cb_n = le32(p + 12);
    cb_p = le32(p + 16);
    cb_q = le32(p + 20);
    if (bits < MIN_BITS || bits > MAX_BITS || cb_e == 0 || cb_e > 8 || cb_n != (bits + 7) / 8 ||
        !half_ok(cb_p, cb_n) || !half_ok(cb_q, cb_n))
        return 0;
    total = CNG_RSA_HDR + (size_t)cb_e + cb_n + cb_p + cb_q;
    if (full)
        total += (size_t)cb_p + cb_q + cb_p + cb_n;
    if (total > ch->len - k || total > WB_SPAN)
        return 0;
    o = CNG_RSA_HDR;
    r.e = bn_from(p + o, cb_e, false, false);
    o += cb_e;
    r.n = bn_from(p + o, cb_n, false, false);
    o += cb_n;
    r.p = bn_from(p + o, cb_p, false, true);
    o += cb_p;
    r.q = bn_from(p + o, cb_q, false, true);
    o += cb_q;
    if (full) {
        r.dp = bn_from(p + o, cb_p, false, true);
        o += cb_p;
        r.dq = bn_from(p + o, cb_q, false, true);
        o += cb_q;
        r.qi = bn_from(p + o, cb_p, false, true);
        o += cb_p;
        r.d = bn_from(p + o, cb_n, false, true);
    }
    if (r.e == NULL || r.n == NULL || r.p == NULL || r.q == NULL ||
        (full && (r.dp == NULL || r.dq == NULL || r.qi == NULL || r.d == NULL)) ||
        !numbers_plausible(&r, bits, cb_p < cb_q ? cb_p : cb_q)) {
        nums_free(&r);
        return 0;
    }
    finding_base(&f, ch, k, total, full ? "cng-rsa3" : "cng-rsa2");
    judge_rsa(c, &r, bits, &f, full ? "BCRYPT_RSAFULLPRIVATE_BLOB" : "BCRYPT_RSAPRIVATE_BLOB", sink);
    nums_free(&r);
    return k + total;
}

/* CAPI RSAPUBKEY "RSA2" at chunk index k, with its BLOBHEADER before it when
 * present. Returns the end of a reported blob, or 0. */
static size_t
at_capi(const struct ctx *c, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    bool header = k >= CAPI_HDR && p[k - 8] == 0x07 && p[k - 7] == 0x02 && p[k - 6] == 0 &&
                  p[k - 5] == 0 && (le32(p + k - 4) == 0xa400 || le32(p + k - 4) == 0x2400);
    size_t s = header ? k - CAPI_HDR : k, total, o;
    uint32_t bits, pubexp, cb_n, cb_h;
    struct rsa_nums r = {0};
    struct dg_finding f;

    if (s >= ch->owned || ch->len - k < CAPI_PUB)
        return 0;
    bits = le32(p + k + 4);
    pubexp = le32(p + k + 8);
    if (bits < MIN_BITS || bits > MAX_BITS || bits % 16 != 0 || pubexp < 3 || !(pubexp & 1))
        return 0;
    cb_n = bits / 8;
    cb_h = bits / 16;
    total = (k - s) + CAPI_PUB + 2 * (size_t)cb_n + 5 * (size_t)cb_h;
    if (total > ch->len - s || total > WB_SPAN)
        return 0;
    o = k + CAPI_PUB;
    r.e = BN_new();
    if (r.e != NULL && !BN_set_word(r.e, pubexp)) {
        BN_free(r.e);
        r.e = NULL;
    }
    r.n = bn_from(p + o, cb_n, true, false);
    o += cb_n;
    r.p = bn_from(p + o, cb_h, true, true);
    o += cb_h;
    r.q = bn_from(p + o, cb_h, true, true);
    o += cb_h;
    r.dp = bn_from(p + o, cb_h, true, true);
    o += cb_h;
    r.dq = bn_from(p + o, cb_h, true, true);
    o += cb_h;
    r.qi = bn_from(p + o, cb_h, true, true);
    o += cb_h;
    r.d = bn_from(p + o, cb_n, true, true);
    if (r.e == NULL || r.n == NULL || r.p == NULL || r.q == NULL || r.dp == NULL ||
        r.dq == NULL || r.qi == NULL || r.d == NULL || !numbers_plausible(&r, bits, cb_h)) {
        nums_free(&r);
        return 0;
    }
    finding_base(&f, ch, s, total, "capi-privatekeyblob");
    judge_rsa(c, &r, bits, &f, header ? "CAPI PRIVATEKEYBLOB" : "CAPI RSAPUBKEY RSA2 without BLOBHEADER",
              sink);
    nums_free(&r);
    return s + total;
}

/* True when the octet string pub is a point of curve i. A blob whose point
 * is not on its curve can neither prove nor be a damaged key, and this is
 * the cheap way to say so: the worker's group, made once, against an
 * OpenSSL key import (which makes the group again) per candidate. */
static bool
on_curve(struct ctx *c, size_t i, const uint8_t *pub, size_t len)
{
    return ecgroups_on_curve(c->eg, OBJ_sn2nid(ec_curves[i].group), pub, len);
}

/* CNG BCRYPT_ECCKEY_BLOB, private magic at chunk index k; group is the named
 * curve, or NULL for the generic magics. Returns the end of a reported blob,
 * or 0. */
static size_t
at_cng_ecc(struct ctx *c, const struct dg_chunk *ch, size_t k, const char *group, size_t want,
           struct dg_sink *sink)
{
    const uint8_t *p = ch->p + k;
    uint8_t pub[1 + 2 * 66];
    size_t cb, total;
    BIGNUM *d = NULL;
    struct dg_finding f;
    bool done = false;

    if (k >= ch->owned || ch->len - k < 8)
        return 0;
    cb = le32(p + 4);
    if ((group != NULL && cb != want) || (group == NULL && cb != 32 && cb != 48 && cb != 64 && cb != 66))
        return 0;
    total = 8 + 3 * cb;
    if (total > ch->len - k)
        return 0;
    pub[0] = 0x04;
    memcpy(pub + 1, p + 8, 2 * cb);
    d = bn_from(p + 8 + 2 * cb, cb, false, true);
    if (d == NULL || BN_is_zero(d)) {
        BN_clear_free(d);
        return 0;
    }
    finding_base(&f, ch, k, total, "cng-ecc");
    ERR_set_mark();
    for (size_t i = 0; i < N_EC_CURVES && !done; i++) {
        const char *g = group != NULL ? group : ec_curves[i].group;
        EVP_PKEY *pkey = NULL;
        dg_err rc = DG_E_CRYPTO;

        if (group == NULL ? ec_curves[i].cb != cb : strcmp(group, ec_curves[i].group) != 0)
            continue;
        if (!on_curve(c, i, pub, 1 + 2 * cb))
            continue;
        if (keyproof_ec_from_scalar(g, d, pub, 1 + 2 * cb, &pkey) == DG_OK)
            rc = keyproof_prove(c->proof, pkey, KEYPROOF_PUB_STORED, &f.key, f.proof,
                                sizeof f.proof);
        if (rc == DG_OK) {
            f.status = DG_STATUS_CONFIRMED;
            f.severity = DG_SEV_HIGH;
            done = true;
        } else if ((group != NULL && pkey != NULL) || keyproof_named(rc, &f.key)) {
            /* A named-curve blob whose point is on its curve: the scalar is
             * damaged; or the key was named without a proof. */
            dg_strlcpyf(f.note, sizeof f.note, "valid BCRYPT_ECCPRIVATE_BLOB header%s: %s",
                        keyproof_named(rc, &f.key) ? "" : ", but the key does not prove",
                        f.proof);
            f.proof[0] = '\0';
            f.status = DG_STATUS_CANDIDATE;
            f.severity = DG_SEV_MEDIUM;
            done = true;
        }
        EVP_PKEY_free(pkey);
    }
    ERR_pop_to_mark();
    BN_clear_free(d);
    if (!done)
        return 0;
    dg_strlcpyf(f.type, sizeof f.type, "ec-private-key");
    dg_strlcpyf(f.preview, sizeof f.preview, "BCRYPT_ECCPRIVATE_BLOB %.4s, %zu-byte X, Y, d (redacted)",
                (const char *)p, cb);
    dg_report(sink, &f);
    return k + total;
}

/* Examines a marked position: "RS" or "EC" at k. Returns the end of a
 * reported blob, or 0. */
static size_t
probe(struct ctx *c, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    const uint8_t *p = ch->p + k;
    size_t end;

    if (ch->len - k < 4)
        return 0;
    if (p[0] == 'R' && p[1] == 'S' && p[2] == 'A') {
        if (p[3] == '3')
            return at_cng_rsa(c, ch, k, true, sink);
        if (p[3] != '2')
            return 0;
        end = at_cng_rsa(c, ch, k, false, sink);
        return end != 0 ? end : at_capi(c, ch, k, sink);
    }
    if (p[0] != 'E' || p[1] != 'C')
        return 0;
    if (p[2] == 'S' || p[2] == 'K') {
        switch (p[3]) {
        case '2':
            return at_cng_ecc(c, ch, k, "prime256v1", 32, sink);
        case '4':
            return at_cng_ecc(c, ch, k, "secp384r1", 48, sink);
        case '6':
            return at_cng_ecc(c, ch, k, "secp521r1", 66, sink);
        case 'V':
            return p[2] == 'K' ? at_cng_ecc(c, ch, k, NULL, 0, sink) : 0;
        default:
            return 0;
        }
    }
    if (p[2] == 'D' && p[3] == 'V')
        return at_cng_ecc(c, ch, k, NULL, 0, sink);
    return 0;
}

static void
visit(struct ctx *c, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    size_t end;

    if (k < c->covered)
        return;
    end = probe(c, ch, k, sink);
    if (end > c->covered)
        c->covered = end;
}

/* Bit i set where "RS" or "EC" starts at p[i] (the magics RSA1-3, ECS1-6,
 * ECK1-6 and a CAPI blob's "RSA2"), for i < 16 (reads p[0..17)). */
static inline uint32_t
magic16(const uint8_t *p)
{
#ifdef __SSE2__
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));

    return (uint32_t)_mm_movemask_epi8(
        _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('R')), _mm_cmpeq_epi8(b, _mm_set1_epi8('S'))),
                     _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('E')), _mm_cmpeq_epi8(b, _mm_set1_epi8('C')))));
#else
    uint32_t m = 0;

    for (unsigned i = 0; i < 16; i++)
        m |= (uint32_t)((p[i] == 'R' && p[i + 1] == 'S') || (p[i] == 'E' && p[i + 1] == 'C')) << i;
    return m;
#endif
}

#if DG_HAVE_AVX2
/* magic16() for i < 32 (reads p[0..33)). */
DG_TARGET_AVX2 static inline uint32_t
magic32(const uint8_t *p)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));

    return (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8('R')), _mm256_cmpeq_epi8(b, _mm256_set1_epi8('S'))),
        _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8('E')), _mm256_cmpeq_epi8(b, _mm256_set1_epi8('C')))));
}
#endif

/* Visits every magic mask_at() finds in blocks of step positions from i;
 * returns where it stopped. Inline, so each caller has mask_at() inlined. */
static inline __attribute__((always_inline)) size_t
scan_blocks(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
            uint32_t (*mask_at)(const uint8_t *), size_t step)
{
    for (; i + step + 1 <= ch->len && i < end; i += step)
        for (uint32_t m = mask_at(ch->p + i); m != 0; m &= m - 1) {
            size_t k = i + (size_t)__builtin_ctz(m);

            if (k >= end)
                break;
            visit(c, ch, k, sink);
        }
    return i;
}

static size_t
scan_blocks16(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end)
{
    return scan_blocks(c, ch, sink, i, end, magic16, 16);
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static size_t
scan_blocks32(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end)
{
    return scan_blocks(c, ch, sink, i, end, magic32, 32);
}
#endif

static dg_err
wb_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    const uint8_t *p = ch->p;
    size_t i = 0, end;

    c->covered = 0;
    /* A CAPI blob starting before owned has its "RSA2" up to 8 bytes later. */
    end = ch->owned + CAPI_HDR < ch->len ? ch->owned + CAPI_HDR : ch->len;
    if (ch->hits != NULL) { /* the engine found the magics' first bytes */
        struct dg_hit_iter it = {0};

        for (size_t k; (k = dg_hits_next(ch, &it)) < end;)
            if (k + 1 < ch->len &&
                ((p[k] == 'R' && p[k + 1] == 'S') || (p[k] == 'E' && p[k + 1] == 'C')))
                visit(c, ch, k, sink);
        return DG_OK;
    }
#if DG_HAVE_AVX2
    if (dg_cpu_avx2())
        i = scan_blocks32(c, ch, sink, i, end);
#endif
    i = scan_blocks16(c, ch, sink, i, end);
    for (; i < end && i + 1 < ch->len; i++)
        if ((p[i] == 'R' && p[i + 1] == 'S') || (p[i] == 'E' && p[i + 1] == 'C'))
            visit(c, ch, i, sink);
    return DG_OK;
}

/* magic16()'s strings */
static const struct dg_trigger triggers[] = {{2, {'R', 'S'}, 0}, {2, {'E', 'C'}, 0}, {0, {0}, 0}};

const struct dg_detector dg_detector_winblob = {
    .abi = DG_DETECTOR_ABI,
    .name = "winblob",
    .summary = "Windows key blobs: CNG BCRYPT_RSAKEY_BLOB (RSA2, RSA3), BCRYPT_ECCKEY_BLOB private "
               "(ECS2/4/6, ECK2/4/6, ECDV, ECKV), CAPI PRIVATEKEYBLOB; proven with OpenSSL",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = WB_SPAN,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .create = keyproof_policy_create,
    .init = wb_init,
    .scan = wb_scan,
    .release = wb_release,
    .destroy = keyproof_policy_destroy,
    .triggers = triggers,
};
