/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * sexp.c - finds private keys held as libgcrypt S-expressions (gcry_sexp_t),
 * the form gpg-agent and every libgcrypt program keep keys in, and proves
 * them with OpenSSL.
 *
 * A gcry_sexp_t is libgcrypt's internal token stream, not the text form:
 * 0x03 opens a list, 0x04 closes it, 0x01 LEN16 (little-endian) BYTES is a
 * datum, 0x00 ends the stream. A key reads
 *   03 01 "private-key" 03 01 "ecc" 03 01 "curve" 01 "NIST P-256" 04
 *   03 01 "q" 01 <04 X Y> 04 03 01 "d" 01 <d> 04 04 04
 * with every number as big-endian bytes at whatever alignment the stream
 * gives it (layouts read from cores of libgcrypt 1.10 programs,
 * docs/LIBRARY_KEYS.md). Copies of sub-lists lie in freed heap chunks
 * whose first 16 bytes the allocator overwrote, so elements are found one by
 * one and grouped by adjacency, not parsed from the list head.
 *
 * scan() looks for the element head 03 01 LEN 00 (a short name) with a
 * vector compare, parses `(name value)` elements and `(rsa`/`(ecc`/`(dsa`
 * list heads, and groups elements that follow each other with no gap. A
 * group with d (or x) is judged:
 *   - RSA (n, e, d, p, q): rebuilt from n, e, d, p, q and proven
 *     (p*q = n, e*d = 1 mod lcm(p-1, q-1), probable primes); without n
 *     (overwritten), from e, p and q;
 *   - EC (curve, q, d) on the NIST curves, secp256k1 and brainpool: d*G = q;
 *   - Ed25519 (q = 0x40 || public key, d = seed) and Ed448 (q = the
 *     57-byte public key, with 0x40 before it or not; d = seed): the public
 *     key of the seed equals q's;
 *   - DSA (p, q, g, y, x; a group with x instead of d): y = g^x mod p.
 * A missing curve name (clobbered) is guessed from q's length and the curve
 * q lies on. Findings carry the key's identity and offsets, never its bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/util/simd.h"

#define NAME_MAX_LEN 16u     /* element and list names */
#define VALUE_MAX 1100u      /* RSA-8192 n with its leading zero */
#define SPAN 8192u           /* a whole RSA-8192 key list */
#define MAX_ELEMS 16u        /* elements in one group */
#define MAX_GROUPS 256u      /* groups judged per chunk */

static const char *const forms[] = {"gcrypt-sexp", NULL};

/* One `(name value)` element, or a list head `(name` (value_len 0, head). */
struct elem {
    size_t start, end;       /* chunk indices: 0x03 .. one past the 0x04 (head: the name) */
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
    bool head;
};

struct ctx {
    const struct dg_proof_policy *proof;
};

/* --- parsing ------------------------------------------------------------------ */

static size_t
le16(const uint8_t *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8;
}

/* Parses an element or list head at chunk index i (p[i] == 0x03,
 * p[i+1] == 0x01). */
static bool
parse_elem(const struct dg_chunk *ch, size_t i, struct elem *e)
{
    const uint8_t *p = ch->p;
    size_t n, j, v;

    if (i + 4 > ch->len || p[i] != 0x03 || p[i + 1] != 0x01)
        return false;
    n = le16(p + i + 2);
    j = i + 4 + n;
    if (n == 0 || n > NAME_MAX_LEN || j + 1 > ch->len)
        return false;
    for (size_t k = 0; k < n; k++)
        if (p[i + 4 + k] < 0x20 || p[i + 4 + k] > 0x7e)
            return false;
    *e = (struct elem){.start = i, .name = p + i + 4, .name_len = n};
    if (p[j] == 0x03) { /* `(rsa (n ...` : a list head */
        e->head = true;
        e->end = j;
        return true;
    }
    if (p[j] != 0x01 || j + 3 > ch->len)
        return false;
    v = le16(p + j + 1);
    if (v == 0 || v > VALUE_MAX || j + 3 + v + 1 > ch->len || p[j + 3 + v] != 0x04)
        return false;
    e->value = p + j + 3;
    e->value_len = v;
    e->end = j + 3 + v + 1;
    return true;
}

static bool
named(const struct elem *e, const char *name)
{
    size_t n = strlen(name);

    return e->name_len == n && memcmp(e->name, name, n) == 0;
}

static const struct elem *
find(const struct elem *g, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!g[i].head && named(&g[i], name))
            return &g[i];
    return NULL;
}

static BIGNUM *
number(const struct elem *e, BIGNUM *into)
{
    return e != NULL ? BN_bin2bn(e->value, (int)e->value_len, into) : NULL;
}

/* --- judging ------------------------------------------------------------------- */

/* The OpenSSL group of a libgcrypt curve name ("NIST P-256", "secp256k1",
 * "brainpoolP256r1", "Ed25519", "Ed448"), or NID_undef. */
static int
curve_nid(const struct elem *c)
{
    char name[NAME_MAX_LEN + 8];
    int nid;

    if (c == NULL || c->value_len >= sizeof name)
        return NID_undef;
    memcpy(name, c->value, c->value_len);
    name[c->value_len] = '\0';
    if (strncmp(name, "NIST ", 5) == 0)
        return EC_curve_nist2nid(name + 5);
    if (strcmp(name, "Ed25519") == 0)
        return NID_ED25519;
    if (strcmp(name, "Ed448") == 0)
        return NID_ED448;
    nid = EC_curve_nist2nid(name);
    return nid != NID_undef ? nid : OBJ_sn2nid(name);
}

/* The curve whose point of q_len bytes q is on, when the name was lost. */
static int
guess_curve(const struct elem *q)
{
    static const int nids[] = {NID_X9_62_prime256v1, NID_secp256k1, NID_secp384r1,
                               NID_secp521r1};

    if (q == NULL)
        return NID_undef;
    if (q->value_len == 33 && q->value[0] == 0x40)
        return NID_ED25519;
    if (q->value_len == 57 || (q->value_len == 58 && q->value[0] == 0x40))
        return NID_ED448; /* no point of the other curves has 57 or 58 bytes */
    for (size_t i = 0; i < sizeof nids / sizeof nids[0]; i++) {
        EC_GROUP *g = EC_GROUP_new_by_curve_name(nids[i]);
        EC_POINT *pt = g != NULL ? EC_POINT_new(g) : NULL;
        bool on = pt != NULL && EC_POINT_oct2point(g, pt, q->value, q->value_len, NULL) == 1;

        EC_POINT_free(pt);
        EC_GROUP_free(g);
        if (on)
            return nids[i];
    }
    return NID_undef;
}

/* The private element of group g (n elements): d (RSA, EC, EdDSA), or x
 * (DSA); NULL when there is none. */
static const struct elem *
secret_of(const struct elem *g, size_t n)
{
    const struct elem *d = find(g, n, "d");

    return d != NULL ? d : find(g, n, "x");
}

/* Rebuilds the DSA key p, q, g, y, x of group g (n elements) into *out. */
static bool
rebuild_dsa(const struct elem *g, size_t n, EVP_PKEY **out)
{
    static const char *const names[5] = {"p", "q", "g", "y", "x"};
    BIGNUM *bn[5] = {NULL};
    bool ok = true;

    for (int i = 0; i < 5; i++) {
        bn[i] = i == 4 ? BN_secure_new() : BN_new();
        ok = ok && bn[i] != NULL && number(find(g, n, names[i]), bn[i]) != NULL;
    }
    ok = ok && keyproof_dsa_from_components(bn[0], bn[1], bn[2], bn[3], bn[4], out) == DG_OK;
    for (int i = 0; i < 5; i++)
        BN_clear_free(bn[i]);
    return ok;
}

/* True when p * q is not n, neither p nor q divides n, and both are
 * probable primes: n, not a prime, is what the allocator overwrote. (When
 * a prime is damaged, the stored n still names the key, and the list stays
 * a candidate under it. The other prime still divides n then, which tells
 * the two apart even when the damaged one is by chance a probable prime
 * too, one time in a few hundred.) */
static bool
modulus_damaged(const BIGNUM *n, const BIGNUM *p, const BIGNUM *q)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *pq = BN_new(), *r = BN_new();
    bool damaged = ctx != NULL && pq != NULL && r != NULL && BN_mul(pq, p, q, ctx) == 1 &&
                   BN_cmp(pq, n) != 0 && BN_mod(r, n, p, ctx) == 1 && !BN_is_zero(r) &&
                   BN_mod(r, n, q, ctx) == 1 && !BN_is_zero(r) &&
                   BN_check_prime(p, ctx, NULL) == 1 && BN_check_prime(q, ctx, NULL) == 1;

    BN_free(r);
    BN_free(pq);
    BN_CTX_free(ctx);
    return damaged;
}

/* True when e * d = 1 mod (p - 1) and mod (q - 1), as keyproof's RSA
 * proof asks of a stored d: it belongs to p, q and e. */
static bool
d_matches(const BIGNUM *e, const BIGNUM *d, const BIGNUM *p, const BIGNUM *q)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *m = BN_new(), *r = BN_secure_new();
    bool ok = ctx != NULL && m != NULL && r != NULL && BN_sub(m, p, BN_value_one()) == 1 &&
              BN_mod_mul(r, e, d, m, ctx) == 1 && BN_is_one(r) &&
              BN_sub(m, q, BN_value_one()) == 1 && BN_mod_mul(r, e, d, m, ctx) == 1 &&
              BN_is_one(r);

    BN_clear_free(r);
    BN_free(m);
    BN_CTX_free(ctx);
    return ok;
}

/* Rebuilds the key of group g (n elements) into *out; *flags gets
 * KEYPROOF_PUB_STORED when a stored public key is to be checked. *from_primes
 * is set when an RSA key's stored n is missing, or is not p * q while p and
 * q are primes, and the key was rebuilt from p, q and e: a freed copy whose
 * n the allocator overwrote. Then the stored d must belong to them: a prime
 * the allocator damaged is still a probable prime one time in a few
 * hundred, and would make up a key. */
static bool
rebuild(const struct elem *g, size_t n, EVP_PKEY **out, unsigned *flags, bool *from_primes)
{
    const struct elem *d = find(g, n, "d"), *q = find(g, n, "q");
    BIGNUM *bn[5] = {NULL};
    bool ok = false;
    int nid;

    *out = NULL;
    *flags = 0;
    *from_primes = false;
    if (d == NULL) /* judge() sees only groups with a secret: this one has x */
        return rebuild_dsa(g, n, out);
    if (find(g, n, "n") != NULL || find(g, n, "p") != NULL) { /* RSA */
        static const char *const names[5] = {"n", "e", "d", "p", "q"};

        for (int i = 0; i < 5; i++)
            bn[i] = i == 2 ? BN_secure_new() : BN_new();
        for (int i = 1; i < 5; i++)
            if (bn[i] == NULL || number(find(g, n, names[i]), bn[i]) == NULL)
                goto rsa_out;
        *from_primes = bn[0] == NULL || number(find(g, n, "n"), bn[0]) == NULL ||
                       modulus_damaged(bn[0], bn[3], bn[4]);
        if (!*from_primes)
            ok = keyproof_rsa_from_components(bn[0], bn[1], bn[2], bn[3], bn[4], out) == DG_OK;
        else if (d_matches(bn[1], bn[2], bn[3], bn[4])) /* n lost: the primes give it */
            ok = keyproof_rsa_from_primes(bn[3], bn[4], bn[1], out) == DG_OK;
    rsa_out:
        for (int i = 0; i < 5; i++)
            BN_clear_free(bn[i]);
        return ok;
    }
    nid = curve_nid(find(g, n, "curve"));
    if (nid == NID_undef)
        nid = guess_curve(q);
    if (nid == NID_ED25519 || nid == NID_ED448) {
        const size_t half = nid == NID_ED25519 ? 32 : 57;
        const char *type = nid == NID_ED25519 ? "ED25519" : "ED448";
        uint8_t seed[57];
        size_t skip = d->value_len == half + 1 && d->value[0] == 0 ? 1 : 0;
        size_t qskip = q != NULL && q->value_len == half + 1 && q->value[0] == 0x40 ? 1 : 0;

        if (d->value_len - skip != half)
            return false;
        memcpy(seed, d->value + skip, half);
        /* Ed25519's q always carries the 0x40; Ed448's may not */
        if (q != NULL && q->value_len - qskip == half && (qskip == 1 || nid == NID_ED448)) {
            ok = keyproof_ecx_from_raw(type, seed, half, q->value + qskip, half, out) == DG_OK;
            *flags = KEYPROOF_PUB_STORED;
        } else {
            ok = keyproof_ecx_from_raw(type, seed, half, NULL, 0, out) == DG_OK;
        }
        OPENSSL_cleanse(seed, sizeof seed);
        return ok;
    }
    if (nid == NID_undef || (bn[0] = BN_secure_new()) == NULL)
        return false;
    if (number(d, bn[0]) != NULL) {
        ok = keyproof_ec_from_scalar(OBJ_nid2sn(nid), bn[0], q != NULL ? q->value : NULL,
                                     q != NULL ? q->value_len : 0, out) == DG_OK;
        *flags = q != NULL ? KEYPROOF_PUB_STORED : 0;
    }
    BN_clear_free(bn[0]);
    return ok;
}

/* Judges group g (n elements, the first list head at chunk index start) and
 * reports its key. */
static void
judge(const struct ctx *c, const struct dg_chunk *ch, size_t start, const struct elem *g,
      size_t n, const char *alg, struct dg_sink *sink)
{
    const struct elem *d = secret_of(g, n);
    struct dg_finding f;
    EVP_PKEY *pkey = NULL;
    unsigned flags;
    bool from_primes;
    dg_err rc;

    ERR_set_mark();
    if (!rebuild(g, n, &pkey, &flags, &from_primes)) {
        ERR_pop_to_mark();
        return; /* no key in it: a public key, or a fragment */
    }
    memset(&f, 0, sizeof f);
    rc = keyproof_prove_finding(c->proof, pkey, flags, &f);
    EVP_PKEY_free(pkey);
    ERR_pop_to_mark();
    f.off = ch->off + start;
    f.len = g[n - 1].end - start;
    dg_strlcpyf(f.encoding, sizeof f.encoding, "gcrypt-sexp");
    dg_strlcpyf(f.preview, sizeof f.preview, "(%s ... (%.*s %zu bytes, redacted))", alg,
                (int)d->name_len, (const char *)d->name, d->value_len);
    if (rc == DG_OK)
        dg_strlcpyf(f.note, sizeof f.note,
                    "libgcrypt S-expression (the token stream of a gcry_sexp_t): %zu elements; "
                    "%.*s at file offset 0x%llx%s",
                    n, (int)d->name_len, (const char *)d->name,
                    (unsigned long long)(ch->off + (size_t)(d->value - ch->p)),
                    from_primes ? "; rebuilt from p, q and e (the list's n is missing or "
                                  "overwritten)"
                                : "");
    dg_report(sink, &f);
}

/* Collects the group of adjacent elements starting with the element at i
 * and judges it; returns the index after the group. */
static size_t
group_at(const struct ctx *c, const struct dg_chunk *ch, size_t i, unsigned *judged,
         struct dg_sink *sink)
{
    struct elem g[MAX_ELEMS];
    size_t n = 0, at = i;
    const char *alg = "key";

    while (n < MAX_ELEMS && parse_elem(ch, at, &g[n])) {
        if (g[n].head) {
            if (n > 0)
                break; /* a new list: another key */
            alg = named(&g[0], "rsa")   ? "rsa"
                  : named(&g[0], "ecc") ? "ecc"
                  : named(&g[0], "dsa") ? "dsa"
                                        : "list";
            at = g[0].end;
            continue; /* heads are not kept */
        }
        if (!g[n].head && secret_of(g, n) != NULL && (named(&g[n], "d") || named(&g[n], "x")))
            break; /* a second d or x: the next key */
        at = g[n].end;
        n++;
        if (at < ch->len && ch->p[at] == 0x04)
            break; /* the list closes */
    }
    /* a group is parsed once and skipped (linear in the bytes); only the
     * groups that hold a "d" or an "x", whose keys are built and proven, are
     * capped */
    if (n > 0 && secret_of(g, n) != NULL && i < ch->owned && (*judged)++ < MAX_GROUPS)
        judge(c, ch, i, g, n, alg, sink);
    return n > 0 ? at : i + 1;
}

/* --- the pass -------------------------------------------------------------------- */

/* True if an element head may start at p: 03 01 LEN 00. */
static inline bool
head_at(const uint8_t *p)
{
    return p[0] == 0x03 && p[1] == 0x01 && p[3] == 0x00 && p[2] != 0 && p[2] <= NAME_MAX_LEN;
}

#if DG_HAVE_AVX2
/* Candidate heads 32 positions at a time; returns where the scalar pass goes on. */
DG_TARGET_AVX2 static size_t
scan_avx2(const struct ctx *c, const struct dg_chunk *ch, size_t i, size_t end, size_t *skip,
          unsigned *judged, struct dg_sink *sink)
{
    const __m256i v03 = _mm256_set1_epi8(0x03), v01 = _mm256_set1_epi8(0x01);
    const __m256i v00 = _mm256_setzero_si256();

    for (; i + 32 <= end && i + 32 + 4 <= ch->len; i += 32) {
        const uint8_t *p = ch->p + i;
        __m256i a = _mm256_loadu_si256((const __m256i *)p);
        __m256i b = _mm256_loadu_si256((const __m256i *)(p + 1));
        __m256i d = _mm256_loadu_si256((const __m256i *)(p + 3));
        uint32_t m = (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(
            _mm256_cmpeq_epi8(a, v03),
            _mm256_and_si256(_mm256_cmpeq_epi8(b, v01), _mm256_cmpeq_epi8(d, v00))));

        for (; m != 0; m &= m - 1) {
            size_t at = i + (size_t)__builtin_ctz(m);

            if (at >= *skip && head_at(ch->p + at))
                *skip = group_at(c, ch, at, judged, sink);
        }
    }
    return i;
}
#endif

static dg_err
sexp_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    const struct ctx *c = vctx;
    size_t i = 0, skip = 0, end = ch->owned;
    unsigned judged = 0;

    if (ch->hits != NULL) { /* the engine found the 03 01s */
        struct dg_hit_iter it = {0};

        for (size_t k; (k = dg_hits_next(ch, &it)) < end;)
            if (k + 4 <= ch->len && k >= skip && head_at(ch->p + k))
                skip = group_at(c, ch, k, &judged, sink);
    } else {
#if DG_HAVE_AVX2
        if (dg_cpu_avx2())
            i = scan_avx2(c, ch, i, end, &skip, &judged, sink);
#endif
        for (; i < end && i + 4 <= ch->len; i++)
            if (i >= skip && head_at(ch->p + i))
                skip = group_at(c, ch, i, &judged, sink);
    }
    if (judged > MAX_GROUPS)
        dg_sink_warn(sink, ch->off,
                     "sexp: more than %u S-expressions with a private number \"d\" in the "
                     "chunk; the rest were not judged",
                     MAX_GROUPS);
    return DG_OK;
}

static dg_err
sexp_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL)
        return DG_E_NOMEM;
    c->proof = keyproof_policy_of(shared);
    *out = c;
    return DG_OK;
}

static void
sexp_release(void *ctx)
{
    free(ctx);
}

/* head_at()'s first bytes */
static const struct dg_trigger triggers[] = {{2, {0x03, 0x01}, 0}, {0, {0}, 0}};

const struct dg_detector dg_detector_sexp = {
    .abi = DG_DETECTOR_ABI,
    .name = "sexp",
    .summary = "libgcrypt S-expressions (gcry_sexp_t token streams, as gpg-agent holds keys): "
               "RSA, EC, Ed25519, Ed448 and DSA private keys, proven with OpenSSL",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = SPAN,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .create = keyproof_policy_create,
    .init = sexp_init,
    .scan = sexp_scan,
    .release = sexp_release,
    .destroy = keyproof_policy_destroy,
    .triggers = triggers,
};
