/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * der.c - the `der` detector: binary DER private keys at any offset, proven.
 *
 * Finds PKCS#1 RSAPrivateKey, PKCS#8 PrivateKeyInfo / OneAsymmetricKey (any
 * algorithm OpenSSL decodes: RSA, RSA-PSS, EC on any named curve, DSA,
 * Ed25519, Ed448, X25519, X448), SEC1 ECPrivateKey (with or without curve
 * parameters and public key), OpenSSL's traditional DSA key,
 * EncryptedPrivateKeyInfo (PBES2 and PKCS#12 PBE) and binary openssh-key-v1
 * blobs, with any DER length form (short, 81, 82, 83). Layouts:
 * ../shared/reference/keyforms.md §2.
 *
 * 1. Prefilter: an SSE2 pass (a portable loop elsewhere) marks byte pairs that
 *    start an anchor: "02 01" / "02 03" (version INTEGER 0 or 1; RSA e=65537),
 *    "f7 0d" (the RSADSI OID arc of PBES2 / PKCS#12 PBE), "v1" (the tail of
 *    "openssh-key-v1\0") and "a1 44|64|81" (a SEC1 [1] public key). On random
 *    bytes about one position in 13000 survives; zero pages and text none.
 * 2. At a mark, a bounded TLV walk checks the SEQUENCE header and that the
 *    children fill it exactly with the tags of the form. Only then is OpenSSL
 *    called (OSSL_DECODER "DER", with the worker's reused decoder contexts:
 *    keydecode.h), inside an error-queue mark, and the key is proven by
 *    keyproof_prove().
 * 3. Re-synchronisation for keys whose first bytes were overwritten (a freed
 *    heap buffer keeps 16-32 bytes of allocator pointers at its start):
 *    - a version INTEGER with no SEQUENCE header before it: the children are
 *      walked, the header is rebuilt in a scratch buffer and decoded;
 *    - an RSA key whose n is damaged: from "02 03 01 00 01" (e) the seven
 *      INTEGERs e d p q dP dQ qInv are walked, n = p*q is recomputed, the
 *      PKCS#1 structure is rebuilt and proven (dP, dQ, qInv must match);
 *    - a SEC1 key wrapped in a PKCS#8 whose header is gone: the inner key is
 *      found by its own version; its curve comes from the OID still visible
 *      before it, or from the curves of its field size on which d*G equals
 *      the stored public point (also from the [1] public key alone, with d
 *      the field-size bytes just before it, when the inner header is gone).
 *    Such findings carry the note "outer header overwritten; re-synchronised".
 *
 * One key, one finding: the inner PKCS#1 or SEC1 key inside a PKCS#8
 * OCTET STRING, and the anchors inside an already decoded key, are skipped
 * within a chunk; across chunks every finding is collected in the shared
 * state and finish() drops a finding whose bytes lie inside another's, or
 * that starts inside another of the same key, so a PKCS#8 key cut by a
 * chunk edge is reported once, as the outer structure.
 *
 * Verdicts: proven keys are confirmed/high; a decoded key whose math fails is
 * a medium candidate; encrypted PKCS#8 is a medium candidate naming the KDF
 * and cipher; openssh-key-v1 follows the pem detector's rules. Structures
 * OpenSSL cannot decode are silent (random bytes that happen to start with
 * 30 82), and so are public keys, SubjectPublicKeyInfo and certificates,
 * which have no version INTEGER where a private key has one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>


#include <dumpgate/detector.h>

#include "../scanner/formats/openssh.h"
#include "../scanner/proof/ecgroups.h"
#include "../scanner/proof/keydecode.h"
#include "../scanner/proof/keyproof.h"
#include "../scanner/util/simd.h"

#define DER_MAX_KEY (12u << 10)   /* largest structure decoded (RSA-8192 PKCS#8 ~ 4.8 KiB) */
#define DER_MAX_SPAN (16u << 10)  /* chunk overlap */
#define DER_MAX_DECODES 4096u     /* OpenSSL decodes per chunk: 0.2 s of hostile structures */
#define DER_LOOKAHEAD 2048        /* anchors this far past the owned part may start in it */
#define DER_MAX_CHILDREN 12
#define DER_MAX_PENDING (1u << 18) /* findings kept per file before finish() */
#define SCRATCH (DER_MAX_KEY + 16)
#define RESYNC_NOTE "outer header overwritten; re-synchronised"

static const char *const forms[] = {
    "pkcs1", "pkcs8", "sec1", "dsa", "encrypted-pkcs8", "openssh-key-v1", NULL,
};

struct shared {
    pthread_mutex_t lock;
    struct dg_finding *v;  /* collected findings, reported by finish() */
    size_t n, cap;
    size_t dropped;
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
};

struct ctx {
    struct shared *sh;
    unsigned char *scratch; /* rebuilt DER, SCRATCH bytes, cleansed after use */
    unsigned char *v1;      /* a PKCS#8 v2 key rewritten as v1, SCRATCH bytes */
    bool used;              /* scratch or v1 written: release() wipes them whole (an
                             * untouched buffer is not touched to wipe it) */
    size_t covered;         /* chunk index up to which a decoded key covers the bytes */
    unsigned n_decodes;     /* OpenSSL decodes tried in this chunk */
    struct keydecoder *kd;  /* this worker's OpenSSL decoder contexts */
    struct ecgroups *eg;    /* this worker's curve groups, for ec_guess */
};

/* One TLV child of a SEQUENCE: tag byte, offset of the header, header and content length. */
struct tlv {
    unsigned tag;
    size_t off, hlen, len;
};

/* --- setup ----------------------------------------------------------------- */

static dg_err
der_create(const struct dg_config *cfg, void **out)
{
    struct shared *sh = calloc(1, sizeof *sh);

    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    if (pthread_mutex_init(&sh->lock, NULL) != 0) {
        free(sh);
        return DG_E_THREAD;
    }
    *out = sh;
    return DG_OK;
}

static void
der_destroy(void *p)
{
    struct shared *sh = p;

    if (sh == NULL)
        return;
    pthread_mutex_destroy(&sh->lock);
    free(sh->v);
    free(sh);
}

static dg_err
der_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    c->scratch = malloc(SCRATCH);
    c->v1 = malloc(SCRATCH);
    c->kd = keydecoder_new();
    c->eg = ecgroups_new();
    if (c->scratch == NULL || c->v1 == NULL || c->kd == NULL || c->eg == NULL) {
        free(c->scratch);
        free(c->v1);
        keydecoder_free(c->kd);
        ecgroups_free(c->eg);
        free(c);
        return DG_E_NOMEM;
    }
    *out = c;
    return DG_OK;
}

static void
der_release(void *p)
{
    struct ctx *c = p;

    if (c == NULL)
        return;
    if (c->used) {
        OPENSSL_cleanse(c->scratch, SCRATCH);
        OPENSSL_cleanse(c->v1, SCRATCH);
    }
    free(c->scratch);
    free(c->v1);
    keydecoder_free(c->kd);
    ecgroups_free(c->eg);
    free(c);
}

/* Keeps a finding for finish(). */
static void
collect(struct ctx *c, const struct dg_finding *f)
{
    struct shared *sh = c->sh;

    pthread_mutex_lock(&sh->lock);
    if (sh->n == sh->cap && sh->cap < DER_MAX_PENDING) {
        size_t cap = sh->cap ? sh->cap * 2 : 64;
        struct dg_finding *nv = realloc(sh->v, cap * sizeof *nv);

        if (nv != NULL) {
            sh->v = nv;
            sh->cap = cap;
        }
    }
    if (sh->n < sh->cap)
        sh->v[sh->n++] = *f;
    else
        sh->dropped++;
    pthread_mutex_unlock(&sh->lock);
}

static int
rank(const struct dg_finding *f)
{
    return (int)f->severity * 2 + (f->status == DG_STATUS_CONFIRMED) - (f->note[0] != '\0');
}

/* By offset, then longest first, then the better verdict first. */
static int
cmp_pending(const void *a, const void *b)
{
    const struct dg_finding *x = a, *y = b;

    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return rank(y) - rank(x);
}

/* True when f and g name the same key (by its public or secret hash). */
static bool
same_key(const struct dg_finding *f, const struct dg_finding *g)
{
    return (f->key.spki_sha256[0] != '\0' &&
            strcmp(f->key.spki_sha256, g->key.spki_sha256) == 0) ||
           (f->key.key_sha256[0] != '\0' && strcmp(f->key.key_sha256, g->key.key_sha256) == 0);
}

/* Reports every collected finding that does not lie inside an earlier one,
 * nor start inside an earlier one of the same key: two copies of one key
 * cannot share bytes. (A key re-synchronised from its version at a chunk's
 * start may take a random "[1] LL ..." after the key for an optional
 * child, and so end past the PKCS#8 that holds it.) */
static dg_err
der_finish(void *p, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct shared *sh = p;
    const struct dg_finding *last = NULL; /* the reported finding that reaches furthest */

    (void)dump;
    if (sh->n > 1)
        qsort(sh->v, sh->n, sizeof *sh->v, cmp_pending);
    for (size_t i = 0; i < sh->n; i++) {
        const struct dg_finding *f = &sh->v[i];
        uint64_t end = last != NULL ? last->off + last->len : 0;

        if (last != NULL && (f->off + f->len <= end || (f->off < end && same_key(f, last))))
            continue; /* an inner key, or the same key found again */
        dg_report(sink, f);
        if (last == NULL || f->off + f->len > end)
            last = f;
    }
    if (sh->dropped > 0)
        dg_sink_warn(sink, DG_NO_OFFSET, "der: %zu findings beyond %u were dropped", sh->dropped,
                     DER_MAX_PENDING);
    sh->n = 0;
    sh->dropped = 0;
    return DG_OK;
}

/* --- DER walking ---------------------------------------------------------- */

/* Reads the TLV header at p[i..n) (single-byte tag; length short, 81, 82 or
 * 83). Fills *t and returns true when header and content fit in p[0..n). */
static bool
tlv_at(const uint8_t *p, size_t n, size_t i, struct tlv *t)
{
    size_t l, h;

    if (i + 2 > n)
        return false;
    t->tag = p[i];
    l = p[i + 1];
    h = 2;
    if (l & 0x80) {
        size_t k = l & 0x7f;

        if (k == 0 || k > 3 || i + 2 + k > n)
            return false;
        l = 0;
        for (size_t j = 0; j < k; j++)
            l = l << 8 | p[i + 2 + j];
        h += k;
    }
    if (l > DER_MAX_KEY || i + h + l > n)
        return false;
    t->off = i;
    t->hlen = h;
    t->len = l;
    return true;
}

/* Walks the children in p[from..to); returns their count, or -1 when they
 * do not fill the range exactly or are too many. */
static int
children(const uint8_t *p, size_t from, size_t to, struct tlv *kids)
{
    int n = 0;

    while (from < to) {
        if (n == DER_MAX_CHILDREN || !tlv_at(p, to, from, &kids[n]))
            return -1;
        from += kids[n].hlen + kids[n].len;
        n++;
    }
    return n;
}

/* Writes a DER length into out; returns its byte count. */
static size_t
put_len(unsigned char *out, size_t len)
{
    if (len < 0x80) {
        out[0] = (unsigned char)len;
        return 1;
    }
    if (len < 0x100) {
        out[0] = 0x81;
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len < 0x10000) {
        out[0] = 0x82;
        out[1] = (unsigned char)(len >> 8);
        out[2] = (unsigned char)len;
        return 3;
    }
    out[0] = 0x83;
    out[1] = (unsigned char)(len >> 16);
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    return 4;
}

enum form { F_NONE, F_PKCS1, F_DSA, F_PKCS8, F_SEC1 };

static const char *const form_encoding[] = {"der", "der-pkcs1", "der-dsa", "der-pkcs8",
                                            "der-sec1"};

/* Classifies a SEQUENCE's children as a private-key form. kids[0] is the
 * version INTEGER. */
static enum form
classify(const uint8_t *p, const struct tlv *k, int n)
{
    unsigned v;
    int ints = 0;

    if (n < 2 || k[0].tag != 0x02 || k[0].len != 1)
        return F_NONE;
    v = p[k[0].off + 2];
    for (int i = 0; i < n && k[i].tag == 0x02; i++)
        ints++;
    if (v == 0 && n == 9 && ints == 9 && k[1].len >= 64)
        return F_PKCS1;
    if (v == 1 && n == 10 && ints == 9 && k[9].tag == 0x30 && k[1].len >= 64)
        return F_PKCS1; /* multi-prime */
    if (v == 0 && n == 6 && ints == 6 && k[1].len >= 64)
        return F_DSA;
    if (v <= 1 && n >= 3 && n <= 5 && k[1].tag == 0x30 && k[1].len >= 5 &&
        p[k[1].off + k[1].hlen] == 0x06 && k[2].tag == 0x04 && k[2].len >= 16) {
        for (int i = 3; i < n; i++)
            if (k[i].tag != 0xa0 && k[i].tag != 0x81 && k[i].tag != 0xa1)
                return F_NONE;
        return F_PKCS8;
    }
    if (v == 1 && n >= 2 && n <= 4 && k[1].tag == 0x04 && k[1].len >= 16 && k[1].len <= 72) {
        for (int i = 2; i < n; i++)
            if (k[i].tag != 0xa0 && k[i].tag != 0xa1)
                return F_NONE;
        return F_SEC1;
    }
    return F_NONE;
}

/* --- OpenSSL --------------------------------------------------------------- */

/* Decodes a key with OpenSSL (about 50 microseconds with the worker's
 * decoder contexts, whatever the bytes): at most DER_MAX_DECODES per chunk,
 * then NULL (der_scan() warns). The key must take all len bytes. */
static EVP_PKEY *
decode_der(struct ctx *c, const unsigned char *der, size_t len, const char *structure,
           const char *type)
{
    EVP_PKEY *pkey;
    size_t used = 0;

    if (c->n_decodes > DER_MAX_DECODES || ++c->n_decodes > DER_MAX_DECODES)
        return NULL;
    pkey = keydecode(c->kd, der, len, structure, type, EVP_PKEY_KEYPAIR, &used);
    if (pkey != NULL && used != len) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

/* Curves tried for a SEC1 key without parameters, by field size in bytes. */
static const struct {
    size_t flen;
    const char *group;
} curves[] = {
    {32, "prime256v1"}, {32, "secp256k1"},   {32, "brainpoolP256r1"}, {32, "SM2"},
    {48, "secp384r1"},  {48, "brainpoolP384r1"}, {66, "secp521r1"},   {64, "brainpoolP512r1"},
    {28, "secp224r1"},  {28, "brainpoolP224r1"}, {24, "prime192v1"},  {30, "prime239v1"},
};

/* Rebuilds an EC key from scalar bytes d and the stored public point, on the
 * given group or, when group is NULL, on each known curve of that field size
 * until d*G = Q holds. A curve the point is not on is passed over before any
 * key is built (the worker's groups make that check cheap). Returns the
 * proven key or NULL. */
static EVP_PKEY *
ec_guess(struct ctx *c, const char *group, const uint8_t *d, size_t dlen, const uint8_t *pub,
         size_t publen)
{
    BIGNUM *bn = BN_secure_new();
    EVP_PKEY *pkey = NULL;
    size_t flen = pub != NULL && publen > 1 ? (publen - 1) / 2 : dlen;

    if (bn == NULL || BN_bin2bn(d, (int)dlen, bn) == NULL) {
        BN_clear_free(bn);
        return NULL;
    }
    for (size_t i = 0; i < sizeof curves / sizeof curves[0] && pkey == NULL; i++) {
        const char *g = group != NULL ? group : curves[i].group;
        struct dg_key key;
        char proof[112];

        if (group == NULL && curves[i].flen != flen)
            continue;
        if (pub == NULL || ecgroups_on_curve(c->eg, OBJ_txt2nid(g), pub, publen)) {
            if (keyproof_ec_from_scalar(g, bn, pub, pub != NULL ? publen : 0, &pkey) != DG_OK)
                pkey = NULL;
            /* a probe of the curve, under no policy: the finding is proven later */
            if (pkey != NULL && pub != NULL &&
                keyproof_prove(NULL, pkey, KEYPROOF_PUB_STORED, &key, proof, sizeof proof) !=
                    DG_OK) {
                EVP_PKEY_free(pkey);
                pkey = NULL;
            }
        }
        if (group != NULL)
            break;
    }
    BN_clear_free(bn);
    return pkey;
}

/* Finds the curve OID of a PKCS#8 AlgorithmIdentifier in the bytes just before
 * an inner SEC1 key at `at` ("06 07 <id-ecPublicKey> 06 LL <curve>" then
 * "04 LL" then the key). Returns the OpenSSL short name or NULL. */
static const char *
curve_before(const uint8_t *p, size_t at)
{
    static const uint8_t ecpk[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    size_t lo = at > 40 ? at - 40 : 0;

    for (size_t i = lo; i + sizeof ecpk + 2 <= at; i++) {
        size_t o = i + sizeof ecpk;
        const unsigned char *q = p + o;
        ASN1_OBJECT *obj;
        const char *sn = NULL;

        if (memcmp(p + i, ecpk, sizeof ecpk) != 0 || p[o] != 0x06 || o + 2 + p[o + 1] > at)
            continue;
        ERR_set_mark();
        obj = d2i_ASN1_OBJECT(NULL, &q, 2 + p[o + 1]);
        if (obj != NULL && OBJ_obj2nid(obj) != NID_undef)
            sn = OBJ_nid2sn(OBJ_obj2nid(obj));
        ASN1_OBJECT_free(obj);
        ERR_pop_to_mark();
        return sn;
    }
    return NULL;
}

/* Does a PKCS#8 or SEC1 structure carry its public key? PKCS#8 v2 [1], or a
 * SEC1 [1] inside the OCTET STRING; SEC1: its [1]. */
static bool
has_public(const uint8_t *p, const struct tlv *k, int n, enum form form)
{
    for (int i = 1; i < n; i++)
        if (k[i].tag == 0x81 || k[i].tag == 0xa1)
            return true;
    if (form == F_PKCS8) {
        struct tlv in, kids[DER_MAX_CHILDREN];
        size_t o = k[2].off + k[2].hlen, end = o + k[2].len;
        int m;

        if (tlv_at(p, end, o, &in) && in.tag == 0x30 && o + in.hlen + in.len == end &&
            (m = children(p, o + in.hlen, end, kids)) > 0 &&
            classify(p, kids, m) == F_SEC1)
            return has_public(p, kids, m, F_SEC1);
    }
    return false;
}

/* SEC1 without curve parameters (OpenSSL will not decode it): the curve comes
 * from the OID before it or from the curves matching its public point. */
static EVP_PKEY *
sec1_noparams(struct ctx *c, const uint8_t *p, const struct tlv *k, int n, size_t at)
{
    const uint8_t *d = p + k[1].off + k[1].hlen, *pub = NULL;
    size_t publen = 0;
    const char *group = curve_before(p, at);

    for (int i = 2; i < n; i++) {
        if (k[i].tag == 0xa0)
            return NULL; /* parameters present: OpenSSL should have decoded it */
        if (k[i].tag == 0xa1) {
            struct tlv bs;
            size_t o = k[i].off + k[i].hlen;

            if (tlv_at(p, o + k[i].len, o, &bs) && bs.tag == 0x03 && bs.len >= 2 &&
                p[o + bs.hlen] == 0) {
                pub = p + o + bs.hlen + 1;
                publen = bs.len - 1;
            }
        }
    }
    if (group == NULL && pub == NULL)
        return NULL; /* no way to know the curve */
    return ec_guess(c, group, d, k[1].len, pub, publen);
}

/* --- judging a structure -------------------------------------------------- */

/* OpenSSL 3.0 does not decode a PKCS#8 v2 (OneAsymmetricKey with [1]
 * publicKey). Rewrites it as v1 into c->v1 (version 0, the [1] left out),
 * decodes that, and keeps the key only if its public key equals the stored
 * one. */
static EVP_PKEY *
decode_v2(struct ctx *c, const uint8_t *p, const struct tlv *k, int n)
{
    unsigned char pub[160];
    size_t w = 0, body = 3, publen = 0;
    const struct tlv *pk = NULL;
    EVP_PKEY *pkey;

    for (int i = 1; i < n; i++) {
        if (k[i].tag == 0x81)
            pk = &k[i];
        else
            body += k[i].hlen + k[i].len;
    }
    if (pk == NULL || pk->len < 2 || p[pk->off + pk->hlen] != 0 || body + 8 > SCRATCH)
        return NULL;
    c->used = true;
    c->v1[w++] = 0x30;
    w += put_len(c->v1 + w, body);
    c->v1[w++] = 0x02;
    c->v1[w++] = 0x01;
    c->v1[w++] = 0x00;
    for (int i = 1; i < n; i++) {
        if (&k[i] == pk)
            continue;
        memcpy(c->v1 + w, p + k[i].off, k[i].hlen + k[i].len);
        w += k[i].hlen + k[i].len;
    }
    pkey = decode_der(c, c->v1, w, "PrivateKeyInfo", NULL);
    OPENSSL_cleanse(c->v1, w);
    ERR_set_mark();
    if (pkey != NULL &&
        (EVP_PKEY_get_octet_string_param(pkey, "pub", pub, sizeof pub, &publen) != 1 ||
         publen != pk->len - 1 || memcmp(pub, p + pk->off + pk->hlen + 1, publen) != 0)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    ERR_pop_to_mark();
    return pkey;
}

/* Judges a private-key SEQUENCE whose DER is der[0..len) and whose children
 * are kids (indices into p). Returns true and fills f when it is a key. */
static bool
judge_key(struct ctx *c, const uint8_t *der, size_t len, const uint8_t *p,
          const struct tlv *kids, int n, enum form form, size_t at, struct dg_finding *f)
{
    static const char *const structure[] = {NULL, "type-specific", "type-specific",
                                            "PrivateKeyInfo", "type-specific"};
    static const char *const type[] = {NULL, "RSA", "DSA", NULL, "EC"};
    unsigned flags = 0;
    EVP_PKEY *pkey = decode_der(c, der, len, structure[form], type[form]);

    if (pkey == NULL && form == F_SEC1)
        pkey = sec1_noparams(c, p, kids, n, at);
    else if (pkey == NULL && form == F_PKCS8 && p[kids[0].off + 2] == 1)
        pkey = decode_v2(c, p, kids, n);
    if (pkey == NULL)
        return false;
    if ((form == F_PKCS8 || form == F_SEC1) && has_public(p, kids, n, form))
        flags = KEYPROOF_PUB_STORED;
    dg_strlcpyf(f->encoding, sizeof f->encoding, "%s", form_encoding[form]);
    keyproof_prove_finding(c->sh->proof, pkey, flags, f);
    EVP_PKEY_free(pkey);
    return true;
}

/* Is the structure at s..s+total the exact content of an OCTET STRING whose
 * header ends at s (the inner key of a PKCS#8)? */
static bool
wrapped(const uint8_t *p, size_t s, size_t total)
{
    for (size_t h = 2; h <= 5 && h <= s; h++) {
        struct tlv t;

        if (p[s - h] == 0x04 && tlv_at(p, s + total, s - h, &t) && t.hlen == h &&
            t.len == total)
            return true;
    }
    return false;
}

static void
preview(struct dg_finding *f, const char *what)
{
    dg_strlcpyf(f->preview, sizeof f->preview, "%s [%llu bytes, redacted]", what,
                (unsigned long long)f->len);
}

/* Walks the children of a key whose SEQUENCE header is gone, from its
 * version at k: up to nine INTEGERs (next == 0x02: PKCS#1, or six for DSA),
 * or the required children of PKCS#8 / SEC1 and up to two optional context
 * tags. Returns the count, 0 if too few. */
static int
headerless(const uint8_t *p, size_t len, size_t k, unsigned next, struct tlv *kids)
{
    int want = next == 0x02 ? 9 : next == 0x30 ? 3 : 2, most = next == 0x02 ? 9 : want + 2, n = 0;
    size_t o = k;
    struct tlv t;

    while (n < most && tlv_at(p, len, o, &t) && o + t.hlen + t.len - k <= DER_MAX_KEY) {
        if (next == 0x02 && t.tag != 0x02)
            break;
        if (n >= want && t.tag != 0xa0 && t.tag != 0xa1 && t.tag != 0x81)
            break;
        kids[n++] = t;
        o += t.hlen + t.len;
    }
    if (next == 0x02 && n >= 6 && n < 9)
        return 6; /* DSA: six INTEGERs */
    return n >= want ? n : 0;
}

/* Anchor "02 01 0v" at k (the version INTEGER). Returns the end (chunk index)
 * of a decoded key, or 0. */
static size_t
at_version(struct ctx *c, const struct dg_chunk *ch, size_t k)
{
    const uint8_t *p = ch->p;
    size_t len = ch->len, s = 0, total = 0;
    struct tlv kids[DER_MAX_CHILDREN], hdr;
    struct dg_finding f;
    enum form form = F_NONE;
    int n = -1;
    bool resync = false;
    unsigned next = k + 3 < len ? p[k + 3] : 0;

    if (next != 0x02 && next != 0x30 && next != 0x04)
        return 0;
    /* The SEQUENCE header right before the version, in any length form. */
    for (size_t h = 2; h <= 5 && h <= k; h++) {
        if (p[k - h] == 0x30 && tlv_at(p, len, k - h, &hdr) && hdr.hlen == h &&
            (n = children(p, k, k + hdr.len, kids)) > 0 &&
            (form = classify(p, kids, n)) != F_NONE) {
            s = k - h;
            total = h + hdr.len;
            break;
        }
        form = F_NONE;
    }
    if (form == F_NONE) {
        /* No header: walk the children the form needs and rebuild it. */
        n = headerless(p, len, k, next, kids);
        if (n <= 0)
            return 0;
        form = classify(p, kids, n);
        if (form == F_NONE)
            return 0;
        s = k;
        total = kids[n - 1].off + kids[n - 1].hlen + kids[n - 1].len - k;
        resync = true;
    }
    if (s >= ch->owned || (s + total > len))
        return 0;
    memset(&f, 0, sizeof f);
    if (resync) {
        int required = form == F_PKCS8 ? 3 : form == F_SEC1 ? 2 : n;
        bool ok = false;

        for (; n >= required && !ok; n--) {
            size_t h;

            total = kids[n - 1].off + kids[n - 1].hlen + kids[n - 1].len - k;
            c->used = true;
            c->scratch[0] = 0x30;
            h = 1 + put_len(c->scratch + 1, total);
            memcpy(c->scratch + h, p + k, total);
            ok = judge_key(c, c->scratch, h + total, p, kids, n, form, k, &f);
            OPENSSL_cleanse(c->scratch, h + total);
        }
        if (!ok)
            return 0;
        dg_strlcpyf(f.note, sizeof f.note, "%s", RESYNC_NOTE);
    } else {
        if (!judge_key(c, p + s, total, p, kids, n, form, k, &f))
            return 0;
        if (form != F_PKCS8 && wrapped(p, s, total)) {
            /* The inner key of a PKCS#8 whose outer structure did not decode
             * here (or starts in the previous chunk: finish() drops it then). */
            dg_strlcpyf(f.encoding, sizeof f.encoding, "der-pkcs8");
            if (f.note[0] == '\0')
                dg_strlcpyf(f.note, sizeof f.note, "%s", RESYNC_NOTE);
        }
    }
    f.off = ch->off + s;
    f.len = total;
    preview(&f, f.encoding);
    collect(c, &f);
    return s + total;
}

/* Anchor "02 03 01 00 01 02" at k: e = 65537 followed by d, as in every RSA
 * PKCS#1 key. Used when the start of the key (header, version, part of n) is
 * gone. Returns the end of a decoded key, or 0. */
static size_t
at_exponent(struct ctx *c, const struct dg_chunk *ch, size_t k)
{
    const uint8_t *p = ch->p;
    struct tlv t[7];
    unsigned char nb[2048 + 1], *q = c->scratch;
    size_t o = k, tail, nlen, nb_len, content, w;
    BIGNUM *bp = NULL, *bq = NULL, *bn = NULL;
    BN_CTX *bctx = NULL;
    EVP_PKEY *pkey = NULL;
    struct dg_finding f;
    size_t end = 0;
    dg_err rc;

    if (k >= ch->owned)
        return 0;
    for (int i = 0; i < 7; i++) {
        if (!tlv_at(p, ch->len, o, &t[i]) || t[i].tag != 0x02 || t[i].len == 0)
            return 0;
        o += t[i].hlen + t[i].len;
    }
    /* d, then p and q of about half its size, then dP, dQ, qInv no larger than p. */
    if (t[2].len < 32 || t[3].len < 32 || t[1].len < t[2].len || t[2].len > t[3].len + 8 ||
        t[3].len > t[2].len + 8 || t[4].len > t[2].len + 1 || t[5].len > t[3].len + 1 ||
        t[6].len > t[2].len + 1)
        return 0;
    tail = o - k;
    c->used = true; /* q = c->scratch is written below */
    ERR_set_mark();
    bp = BN_secure_new();
    bq = BN_secure_new();
    bn = BN_new();
    bctx = BN_CTX_new();
    if (bp == NULL || bq == NULL || bn == NULL || bctx == NULL ||
        BN_bin2bn(p + t[2].off + t[2].hlen, (int)t[2].len, bp) == NULL ||
        BN_bin2bn(p + t[3].off + t[3].hlen, (int)t[3].len, bq) == NULL ||
        !BN_mul(bn, bp, bq, bctx))
        goto out;
    nb_len = (size_t)BN_num_bytes(bn);
    if (nb_len == 0 || nb_len > sizeof nb - 1)
        goto out;
    nb[0] = 0;
    BN_bn2bin(bn, nb + 1);
    nlen = (nb[1] & 0x80) ? nb_len + 1 : nb_len; /* INTEGER: a leading 00 keeps it positive */
    content = 3 + 1 + (nlen < 0x80 ? 1 : nlen < 0x100 ? 2 : 3) + nlen + tail;
    if (content + 8 > DER_MAX_KEY)
        goto out;
    q[0] = 0x30;
    w = 1 + put_len(q + 1, content);
    q[w++] = 0x02;
    q[w++] = 0x01;
    q[w++] = 0x00;
    q[w++] = 0x02;
    w += put_len(q + w, nlen);
    memcpy(q + w, (nb[1] & 0x80) ? nb : nb + 1, nlen);
    w += nlen;
    memcpy(q + w, p + k, tail);
    w += tail;
    pkey = decode_der(c, q, w, "type-specific", "RSA");
    OPENSSL_cleanse(q, w);
    if (pkey == NULL)
        goto out;
    memset(&f, 0, sizeof f);
    rc = keyproof_prove_finding(c->sh->proof, pkey, 0, &f);
    if (rc != DG_OK && !keyproof_named(rc, &f.key))
        goto out; /* a guess that does not prove is not worth a finding */
    dg_strlcpyf(f.encoding, sizeof f.encoding, "der-pkcs1");
    dg_strlcpyf(f.note, sizeof f.note, "%s (n recomputed as p*q)", RESYNC_NOTE);
    f.off = ch->off + k;
    f.len = tail;
    preview(&f, "RSA e, d, p, q, dP, dQ, qInv");
    collect(c, &f);
    end = o;
out:
    EVP_PKEY_free(pkey);
    BN_clear_free(bp);
    BN_clear_free(bq);
    BN_free(bn);
    BN_CTX_free(bctx);
    ERR_pop_to_mark();
    return end;
}

/* Anchor "a1 LL 03 LL 00 04": a SEC1 [1] public key. The scalar is the
 * field-size bytes right before it (inner SEC1 of a PKCS#8, no [0]). Used
 * when the header, version and OCTET STRING header before d are gone. */
static size_t
at_ecpub(struct ctx *c, const struct dg_chunk *ch, size_t k)
{
    const uint8_t *p = ch->p;
    struct tlv a, bs;
    size_t flen, publen;
    const uint8_t *pub;
    EVP_PKEY *pkey;
    struct dg_finding f;

    if (!tlv_at(p, ch->len, k, &a) || !tlv_at(p, k + a.hlen + a.len, k + a.hlen, &bs) ||
        bs.tag != 0x03 || bs.hlen + bs.len != a.len || bs.len < 3 ||
        p[k + a.hlen + bs.hlen] != 0 || p[k + a.hlen + bs.hlen + 1] != 0x04)
        return 0;
    pub = p + k + a.hlen + bs.hlen + 1;
    publen = bs.len - 1;
    flen = (publen - 1) / 2;
    if ((publen & 1) == 0 || flen < 24 || flen > 66 || k < flen || k - flen >= ch->owned)
        return 0;
    memset(&f, 0, sizeof f);
    pkey = ec_guess(c, NULL, p + k - flen, flen, pub, publen);
    if (pkey == NULL)
        return 0;
    keyproof_prove_finding(c->sh->proof, pkey, KEYPROOF_PUB_STORED, &f);
    EVP_PKEY_free(pkey);
    dg_strlcpyf(f.encoding, sizeof f.encoding, "der-sec1");
    dg_strlcpyf(f.note, sizeof f.note, "%s (curve found from the public point)", RESYNC_NOTE);
    f.off = ch->off + k - flen;
    f.len = flen + a.hlen + a.len;
    preview(&f, "EC scalar and public point");
    collect(c, &f);
    return k + a.hlen + a.len;
}


/* Anchor "f7 0d" at k: "06 09|0a 2a 86 48 86 f7 0d 01 05|0c" (PBES1/PBES2 or
 * PKCS#12 PBE), the algorithm of an EncryptedPrivateKeyInfo
 * SEQUENCE { SEQUENCE { OID, params }, OCTET STRING }. */
static size_t
at_pbe(struct ctx *c, const struct dg_chunk *ch, size_t k)
{
    static const uint8_t arc[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01};
    const uint8_t *p = ch->p;
    size_t len = ch->len, oid, s = 0, total = 0;
    struct tlv kids[DER_MAX_CHILDREN], hdr, alg;
    struct dg_finding f;
    bool found = false;

    if (k < 6 || k + 5 > len || memcmp(p + k - 4, arc, sizeof arc) != 0)
        return 0;
    oid = k - 6;
    if (!(p[oid] == 0x06 && ((p[oid + 1] == 0x09 && p[k + 3] == 0x05) ||
                             (p[oid + 1] == 0x0a && p[k + 3] == 0x0c && p[k + 4] == 0x01))))
        return 0;
    /* AlgorithmIdentifier header, then the outer SEQUENCE header, before the OID. */
    for (size_t ha = 2; ha <= 4 && !found && ha <= oid; ha++) {
        size_t as = oid - ha;

        if (p[as] != 0x30 || !tlv_at(p, len, as, &alg) || alg.hlen != ha)
            continue;
        for (size_t h = 2; h <= 5 && h <= as; h++) {
            int n;

            if (p[as - h] == 0x30 && tlv_at(p, len, as - h, &hdr) && hdr.hlen == h &&
                (n = children(p, as, as + hdr.len, kids)) == 2 && kids[1].tag == 0x04 &&
                kids[1].len >= 16) {
                s = as - h;
                total = h + hdr.len;
                found = true;
                break;
            }
        }
    }
    if (!found || s >= ch->owned)
        return 0;
    memset(&f, 0, sizeof f);
    if (!keyproof_describe_encrypted_pkcs8(p + s, total, f.note, sizeof f.note))
        return 0;
    f.status = DG_STATUS_CANDIDATE;
    f.severity = DG_SEV_MEDIUM;
    dg_strlcpyf(f.type, sizeof f.type, "encrypted-private-key");
    dg_strlcpyf(f.encoding, sizeof f.encoding, "der-encrypted-pkcs8");
    f.off = ch->off + s;
    f.len = total;
    preview(&f, "EncryptedPrivateKeyInfo");
    collect(c, &f);
    return s + total;
}

/* Anchor "v1\0" at k: "openssh-key-v1\0" starts 12 bytes before. */
static size_t
at_openssh(struct ctx *c, const struct dg_chunk *ch, size_t k)
{
    const uint8_t *p = ch->p;
    struct openssh_key key;
    struct dg_finding f;
    size_t s;

    if (k < 12 || k + 3 > ch->len || p[k + 2] != 0 ||
        memcmp(p + k - 12, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN) != 0)
        return 0;
    s = k - 12;
    if (s >= ch->owned)
        return 0;
    if (openssh_parse(p + s, ch->len - s, &key) != DG_OK)
        return 0; /* the magic alone: a string in ssh's own code */
    memset(&f, 0, sizeof f);
    dg_strlcpyf(f.encoding, sizeof f.encoding, "openssh-key-v1");
    if (key.encrypted) {
        f.status = DG_STATUS_CANDIDATE;
        f.severity = DG_SEV_MEDIUM;
        dg_strlcpyf(f.type, sizeof f.type, "encrypted-private-key");
        if (key.rounds)
            dg_strlcpyf(f.note, sizeof f.note,
                        "encrypted OpenSSH key (%s, cipher %s, KDF %s, %u rounds)",
                        key.keytype[0] ? key.keytype : "unknown type", key.cipher, key.kdf,
                        key.rounds);
        else
            dg_strlcpyf(f.note, sizeof f.note, "encrypted OpenSSH key (%s, cipher %s, KDF %s)",
                        key.keytype[0] ? key.keytype : "unknown type", key.cipher, key.kdf);
        if (key.pub != NULL)
            keyproof_identity(key.pub, &f.key);
    } else if (key.priv != NULL) {
        keyproof_prove_finding(c->sh->proof, key.priv, key.proof_flags, &f);
    } else {
        f.status = DG_STATUS_CANDIDATE;
        f.severity = DG_SEV_MEDIUM;
        dg_strlcpyf(f.type, sizeof f.type, "openssh-private-key");
        dg_strlcpyf(f.note, sizeof f.note, "%s", key.why);
        if (key.pub != NULL)
            keyproof_identity(key.pub, &f.key);
    }
    f.off = ch->off + s;
    f.len = key.len;
    preview(&f, "openssh-key-v1");
    openssh_key_free(&key);
    collect(c, &f);
    return s + f.len;
}

/* Examines the position k that the prefilter marked. Returns the chunk index
 * of the end of a decoded key (0 if none). */
static size_t
probe(struct ctx *c, const struct dg_chunk *ch, size_t k)
{
    const uint8_t *p = ch->p;
    size_t len = ch->len;

    if (k + 2 >= len)
        return 0;
    switch (p[k]) {
    case 0x02:
        if (p[k + 1] == 0x01 && p[k + 2] <= 1 && k < ch->owned + 8)
            return at_version(c, ch, k);
        if (p[k + 1] == 0x03 && k + 6 <= len && p[k + 2] == 0x01 && p[k + 3] == 0x00 &&
            p[k + 4] == 0x01 && p[k + 5] == 0x02)
            return at_exponent(c, ch, k);
        return 0;
    case 0xf7:
        return p[k + 1] == 0x0d ? at_pbe(c, ch, k) : 0;
    case 'v':
        return p[k + 1] == '1' ? at_openssh(c, ch, k) : 0;
    case 0xa1:
        return at_ecpub(c, ch, k);
    default:
        return 0;
    }
}

static void
visit(struct ctx *c, const struct dg_chunk *ch, size_t k)
{
    size_t end;

    if (k < c->covered)
        return;
    end = probe(c, ch, k);
    if (end > c->covered)
        c->covered = end;
}

/* True if an anchor starts at p (reads p[0..2)): 02 01 | 02 03 (a version
 * or a short INTEGER), f7 0d (the tail of the rsaEncryption OID), "v1"
 * (openssh-key-v1), a1 44 | a1 64 | a1 81 (SEC1's [1] publicKey). */
static inline bool
is_anchor(const uint8_t *p)
{
    uint8_t a = p[0], b = p[1];

    return (a == 0x02 && (b | 0x02) == 0x03) || (a == 0xf7 && b == 0x0d) ||
           (a == 'v' && b == '1') || (a == 0xa1 && ((b | 0x20) == 0x64 || b == 0x81));
}

/* The anchors starting at p[0..16). Reads p[0..17). */
static inline uint32_t
anchors16(const uint8_t *p)
{
#ifdef __SSE2__
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
    __m128i m = _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8(0x02)),
                              _mm_cmpeq_epi8(_mm_or_si128(b, _mm_set1_epi8(0x02)), _mm_set1_epi8(0x03)));

    m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8((char)0xf7)),
                                      _mm_cmpeq_epi8(b, _mm_set1_epi8(0x0d))));
    m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('v')),
                                      _mm_cmpeq_epi8(b, _mm_set1_epi8('1'))));
    m = _mm_or_si128(
        m, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8((char)0xa1)),
                         _mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(b, _mm_set1_epi8(0x20)), _mm_set1_epi8(0x64)),
                                      _mm_cmpeq_epi8(b, _mm_set1_epi8((char)0x81)))));
    return (uint32_t)_mm_movemask_epi8(m);
#else
    uint32_t m = 0;

    for (unsigned i = 0; i < 16; i++)
        m |= (unsigned)is_anchor(p + i) << i;
    return m;
#endif
}

#if DG_HAVE_AVX2
/* anchors16() for p[0..32). Reads p[0..33). */
DG_TARGET_AVX2 static inline uint32_t
anchors32(const uint8_t *p)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
    __m256i m = _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8(0x02)),
                                 _mm256_cmpeq_epi8(_mm256_or_si256(b, _mm256_set1_epi8(0x02)), _mm256_set1_epi8(0x03)));

    m = _mm256_or_si256(m, _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8((char)0xf7)),
                                            _mm256_cmpeq_epi8(b, _mm256_set1_epi8(0x0d))));
    m = _mm256_or_si256(m, _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8('v')),
                                            _mm256_cmpeq_epi8(b, _mm256_set1_epi8('1'))));
    m = _mm256_or_si256(
        m, _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8((char)0xa1)),
                            _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_or_si256(b, _mm256_set1_epi8(0x20)), _mm256_set1_epi8(0x64)),
                                            _mm256_cmpeq_epi8(b, _mm256_set1_epi8((char)0x81)))));
    return (uint32_t)_mm256_movemask_epi8(m);
}
#endif

/* Visits every anchor that mask_at() finds in blocks of step positions from
 * i while the block's bytes are in the chunk; returns where it stopped. Kept
 * inline so that each caller has its own copy with mask_at() inlined. */
static inline __attribute__((always_inline)) size_t
scan_blocks(struct ctx *c, const struct dg_chunk *ch, size_t i, size_t end,
            uint32_t (*mask_at)(const uint8_t *), size_t step)
{
    for (; i < end && i + step + 1 <= ch->len; i += step)
        for (uint32_t mask = mask_at(ch->p + i); mask != 0; mask &= mask - 1) {
            size_t k = i + (size_t)__builtin_ctz(mask);

            if (k >= end)
                break;
            visit(c, ch, k);
        }
    return i;
}

static size_t
scan_blocks16(struct ctx *c, const struct dg_chunk *ch, size_t i, size_t end)
{
    return scan_blocks(c, ch, i, end, anchors16, 16);
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static size_t
scan_blocks32(struct ctx *c, const struct dg_chunk *ch, size_t i, size_t end)
{
    return scan_blocks(c, ch, i, end, anchors32, 32);
}
#endif

static dg_err
der_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    size_t i = 0, end;

    /* Anchors up to DER_LOOKAHEAD past the owned part can belong to a key
     * that starts in it (an RSA exponent, an EC public key); every handler
     * reports only what starts before ch->owned. */
    end = ch->owned + DER_LOOKAHEAD < ch->len ? ch->owned + DER_LOOKAHEAD : ch->len;
    c->covered = 0;
    c->n_decodes = 0;
    if (ch->hits != NULL) { /* the engine found the anchors */
        struct dg_hit_iter it = {0};

        for (size_t k; (k = dg_hits_next(ch, &it)) < end;)
            if (k + 1 < ch->len && is_anchor(ch->p + k))
                visit(c, ch, k);
    } else {
#if DG_HAVE_AVX2
        if (dg_cpu_avx2())
            i = scan_blocks32(c, ch, i, end);
#endif
        i = scan_blocks16(c, ch, i, end);
        for (; i < end && i + 1 < ch->len; i++)
            if (is_anchor(ch->p + i))
                visit(c, ch, i);
    }
    if (c->n_decodes > DER_MAX_DECODES)
        dg_sink_warn(sink, ch->off,
                     "der: more than %u key-shaped structures in the chunk; the ones after "
                     "that were not decoded",
                     DER_MAX_DECODES);
    return DG_OK;
}

/* is_anchor()'s pairs */
static const struct dg_trigger triggers[] = {
    {2, {0x02, 0x01}, 0}, {2, {0x02, 0x03}, 0}, {2, {0xf7, 0x0d}, 0}, {2, {'v', '1'}, 0},
    {2, {0xa1, 0x44}, 0}, {2, {0xa1, 0x64}, 0}, {2, {0xa1, 0x81}, 0}, {0, {0}, 0},
};

const struct dg_detector dg_detector_der = {
    .abi = DG_DETECTOR_ABI,
    .name = "der",
    .summary = "binary DER private keys at any offset (PKCS#1, PKCS#8 of every algorithm, SEC1, "
               "DSA, encrypted PKCS#8) and openssh-key-v1 blobs, re-synchronised past "
               "overwritten headers; proven with OpenSSL",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = DER_MAX_SPAN,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .create = der_create,
    .init = der_init,
    .scan = der_scan,
    .release = der_release,
    .finish = der_finish,
    .destroy = der_destroy,
    .triggers = triggers,
};
