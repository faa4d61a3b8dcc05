/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ec_raw.c - finds EC private scalars (P-256, P-384, P-521, secp256k1) held in
 * the big numbers of OpenSSL (BIGNUM), mbedTLS (mbedtls_mpi), Go (big.Int),
 * GMP (mpz: nettle, GnuTLS) and wolfSSL (sp_int), confirmed against public
 * points stored in the same dump: encoded ones, or the coordinates the
 * library keeps in its own big numbers. NSS softoken's PKCS#11 attribute
 * records give both: d as big-endian bytes (CKA_VALUE) and the raw point
 * 04 || X || Y it points at (CKA_EC_POINT; collect_nss()). The JDK keeps
 * every EC private key as the SEC1 {1, d} it encodes itself, without curve
 * or point (collect_sec1()): d is a candidate like the others, and one that
 * no point proves is still reported, as a weak candidate (a key the JVM
 * made whose public key was never encoded: a TLS handshake's, mostly). The
 * JDK keeps EdDSA and XDH keys as the OCTET STRING of RFC 8410; those are
 * searched for only when the dump holds a public key of their kind, and
 * proven against it (jedx_search(), edx_finish()).
 *
 * scan() does two cheap things per chunk: it harvests uncompressed public
 * points from DER (SubjectPublicKeyInfo in certificates and public keys, the
 * [1] publicKey of SEC1/PKCS#8 private keys: every "03 42 00 04", "03 62 00 04"
 * and "03 81 86 00 04" BIT STRING, the curve taken from a named-curve OID just
 * before it when there is one), and it collects x86-64 big-number headers
 * whose fields are plausible for a 256..521-bit number (collect(): OpenSSL
 * `struct bignum_st { BN_ULONG *d; int top, dmax, neg, flags; }` and the
 * other libraries' forms, read from their cores), in the 4 KiB blocks near
 * a word that may point into the dump or a run of two random-looking words
 * (chunk_kept_span(): every header but wolfSSL's points at its limbs, and
 * wolfSSL's limbs follow its header). A candidate's limbs lie mostly near
 * its header: scan() takes them while their chunk is in memory
 * (chunk_copy_va()), and finish() reads the others through the dump's
 * address map. finish() computes d*G on every
 * curve of that size for which points were harvested, and looks the affine X
 * up among them; a match is rebuilt with keyproof_ec_from_scalar() against
 * the stored point and proven with keyproof_prove(). A scalar that OpenSSL
 * marks private (BN_FLG_CONSTTIME or BN_FLG_SECURE, as ec_key.c sets them),
 * or any number behind another library's header (they mark nothing), needs
 * no encoded point: the x coordinate of d*G is looked up among the values of
 * every big number of the dump, plain (P-521's nistp521 method) and in
 * Montgomery form, x * 2^(64 * limbs of p) mod p (nistz256 for P-256, GFp_mont
 * for P-384 and secp256k1), as an EC_POINT loaded from a key file holds it
 * (Z = 1; a point left in Jacobian coordinates is not found this way); the
 * other libraries keep affine coordinates. Scalar multiplications are capped
 * per dump, and a number that does not look random (cand_plausible()) costs
 * none. Needs an address map (ELF core, minidump): on a raw buffer only the
 * harvest runs. Nothing is looked for in a file's read-only image
 * (chunk_span_end()), points included: a file's image holds no key the
 * process made, and a process that holds a key has its certificate parsed
 * in its heap.
 *
 * Ed25519, X25519, Ed448 and X448 keys are found through OpenSSL 3's
 * `struct ecx_key_st { libctx, propq, unsigned haspubkey:1,
 * unsigned char pubkey[57], unsigned char *privkey, size_t keylen,
 * ECX_KEY_TYPE type, references, lock }`. On x86-64 the compiler packs
 * pubkey into the byte after the one-bit field: offsets 0, 8, 16, 17, 80,
 * 88, 96, 100 (read from cores of OpenSSL 3.0 processes). keylen and type
 * must agree, the pubkey bytes past keylen and the padding must be zero,
 * privkey must be a user address. finish() reads
 * the private key through the address map and keeps it only when the public
 * key it gives equals the one stored in the struct. Scalars without a BIGNUM
 * header (BE byte arrays, Go, Java) are not handled here. Findings never
 * carry key bytes.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/engine/chunkmemo.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/vawin.h"
#include "../scanner/util/words.h"

#define EC_RANDOM_RUN 2u        /* a wolfSSL sp_int's limbs (4 to 9 words) hold a run of
                                 * this many words that are not low entropy */
#define MAX_POINTS 4096u        /* harvested public points per dump */
#define MAX_CANDS 65536u        /* BIGNUM candidates per dump */
#define MAX_CHUNK_CANDS 8192u   /* per chunk */
#define MAX_MULS 20000u         /* scalar multiplications per dump */
#define MAX_COORD 66u           /* P-521 coordinate bytes */
#define MAX_ECX 4096u           /* ECX_KEY candidates per dump */
#define MAX_CHUNK_ECX 256u      /* per chunk */
#define ECX_KEYLEN_AT 88u       /* offsetof(ECX_KEY, keylen) */
#define ECX_STRUCT 104u         /* bytes of ECX_KEY checked */

enum curve { C_P256 = 0, C_K256, C_P384, C_P521, N_CURVES, C_ANY256 = N_CURVES };

static const struct curve_info {
    const char *group;     /* OpenSSL group name */
    int nid;
    unsigned coord;        /* coordinate bytes */
    unsigned min_top, max_top; /* BIGNUM top limbs of a scalar: a library keeps
                              no leading zero limb, and a scalar drawn below the
                              group order leaves its top limb zero with chance
                              2^-64 on a 256- or 384-bit curve (such numbers
                              cost no multiplication), 2^-9 on P-521 */
    const uint8_t *oid;    /* named-curve OID TLV */
    size_t oid_len;
    bool ladder;           /* OpenSSL 3 computes d*G with its generic constant-time
                              ladder (no fixed-base table): about 30 times the cost
                              of P-256's, so join() builds a comb (comb_build()) */
} curves[N_CURVES] = {
    [C_P256] = {"prime256v1", NID_X9_62_prime256v1, 32, 4, 4,
                (const uint8_t *)"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10, false},
    [C_K256] = {"secp256k1", NID_secp256k1, 32, 4, 4,
                (const uint8_t *)"\x06\x05\x2b\x81\x04\x00\x0a", 7, true},
    [C_P384] = {"secp384r1", NID_secp384r1, 48, 6, 6,
                (const uint8_t *)"\x06\x05\x2b\x81\x04\x00\x22", 7, true},
    [C_P521] = {"secp521r1", NID_secp521r1, 66, 8, 9,
                (const uint8_t *)"\x06\x05\x2b\x81\x04\x00\x23", 7, false},
};

/* A harvested public point 04 || X || Y. */
struct point {
    uint8_t oct[1 + 2 * MAX_COORD];
    uint8_t len;           /* 65, 97 or 133 */
    uint8_t curve;         /* enum curve, or C_ANY256 when the OID was not seen */
    uint64_t off;          /* file offset of the 04 byte */
};

/* The big-number headers read, one per library (docs/LIBRARY_KEYS.md). */
enum bn_kind { K_OPENSSL, K_MBEDTLS, K_GO, K_GMP, K_WOLFSSL, K_NSS, K_SEC1, N_KINDS };

static const char *const kind_name[N_KINDS] = {
    [K_OPENSSL] = "OpenSSL BIGNUM",
    [K_MBEDTLS] = "mbedTLS mbedtls_mpi",
    [K_GO] = "Go big.Int",
    [K_GMP] = "GMP mpz",
    [K_WOLFSSL] = "wolfSSL sp_int",
    [K_NSS] = "NSS softoken CKA_VALUE attribute",
    [K_SEC1] = "SEC1 ECPrivateKey {1, d} without curve or point (the JDK's encoding)",
};

/* A big number: top 64-bit LE limbs at va (or be_len big-endian bytes),
 * its header at file offset off. */
struct cand {
    uint64_t va;           /* the limbs */
    uint64_t off;          /* file offset of the header */
    uint8_t top;
    uint8_t prio;          /* 1 when OpenSSL's flags say CONSTTIME or SECURE */
    uint8_t kind;          /* enum bn_kind */
    uint8_t be_len;        /* 0: LE limbs; else the number is be_len BE bytes */
    uint32_t held;         /* 1 + its index in ec_shared.held, once its bytes are
                              there: scan() takes them from the chunk that found
                              it when it can, finish() reads the others; 0: not
                              (yet) read */
};

/* A candidate's number as read from the dump: its 8 * top bytes of limbs or
 * its be_len big-endian bytes; len 0 when they could not be read. It may be
 * a private scalar: whoever holds these wipes them. */
struct cand_bytes {
    uint8_t b[8 * 9];
    uint8_t len;
};

/* The bytes of candidate cd's number: be_len big-endian ones, or 8 * top of
 * little-endian limbs. */
static inline unsigned
cand_len(const struct cand *cd)
{
    return cd->be_len != 0 ? cd->be_len : 8u * cd->top;
}

/* True if candidate cd's number (its cand_len(cd) bytes at b) looks like a
 * random number. Each 64-bit word below its top nonzero word is weak with
 * two zero or two 0xff bytes (probability 8.6e-4 for a random word) and
 * dead with three (1.3e-5); the number passes with one to eight such words,
 * no dead one and at most one weak one, as a uniformly drawn scalar or
 * coordinate does except with probability about 2e-5. Pointers, lengths,
 * text and arrays of them, the numbers that big-number-like headers in a
 * heap point at, fail: scan() keeps no such candidate, so they cost no
 * scalar multiplication, no sort and no place among the values where a
 * public point's coordinate is looked for (a coordinate is as random as a
 * scalar). */
static bool
cand_plausible(const struct cand *cd, const uint8_t *b)
{
    const unsigned len = cand_len(cd);
    uint8_t le[8 * 9] = {0};
    size_t top = 0;
    unsigned weak = 0;

    if (len > sizeof le)
        return false;
    for (unsigned i = 0; i < len; i++)
        le[i] = cd->be_len != 0 ? b[len - 1 - i] : b[i];
    for (size_t j = 0; j < (len + 7) / 8; j++)
        if (load_le64(le + 8 * j) != 0)
            top = j; /* the top nonzero word; the words below it are tested */
    if (top == 0 || top > 8)
        weak = 2; /* no word to test, or too many: fails */
    /* a dead word counts as two weak ones */
    for (size_t j = 0; j < top && weak <= 1; j++) {
        uint64_t w = load_le64(le + 8 * j);
        unsigned z = count_flagged(zero_bytes(w)), f = count_flagged(zero_bytes(~w));

        weak += z > 2 || f > 2 ? 2 : z == 2 || f == 2;
    }
    OPENSSL_cleanse(le, sizeof le);
    return weak <= 1;
}

/* A public point an NSS CKA_EC_POINT attribute points at (read in finish). */
struct point_ref {
    uint64_t va;
    uint64_t off;          /* file offset of the attribute */
    uint8_t len;           /* 65, 97 or 133: 04 || X || Y */
};
#define MAX_REFS 1024u     /* per dump */
#define MAX_CHUNK_REFS 64u

/* An OpenSSL ECX_KEY: where its private key is, and its stored public key. */
struct ecx_cand {
    uint64_t priv_va;      /* unsigned char *privkey */
    uint64_t off;          /* file offset of the struct */
    uint8_t type;          /* ECX_KEY_TYPE: 0 X25519, 1 X448, 2 ED25519, 3 ED448 */
    uint8_t keylen;
    uint8_t pub[57];
};

/* The JDK's encoding of an EdDSA or XDH private key (jedx_search()):
 * where its seed is, and its length. */
struct jedx {
    uint64_t va;           /* the seed */
    uint64_t off;          /* file offset of the 04 */
    uint8_t len;
};
#define MAX_JEDX 256u      /* per dump */

/* The public key of an Ed25519, X25519 or Ed448 SubjectPublicKeyInfo in the
 * dump (its type in ecx_types order). */
struct edx_pub {
    uint8_t type, len;
    uint8_t pub[57];
    uint64_t off;          /* file offset of the SPKI */
};
#define MAX_EDX_PUBS 1024u /* per dump */
#define MAX_CHUNK_EDX_PUBS 16u

struct ec_shared {
    pthread_mutex_t lock;
    struct jedx *jedx;
    size_t n_jedx;
    struct edx_pub *edx_pubs;
    size_t n_edx_pubs;
    struct point *pts;
    size_t n_pts;
    struct cand *cands;
    size_t n_cands;
    struct cand_bytes *held; /* the candidates' numbers (cand.held) */
    size_t n_held;
    struct ecx_cand *ecx;
    size_t n_ecx;
    struct point_ref *refs;
    size_t n_refs;
    bool pts_capped, cands_capped, ecx_capped;
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
};

struct ec_ctx {
    struct ec_shared *sh;
    struct cand local[MAX_CHUNK_CANDS];
    struct cand_bytes local_bytes[MAX_CHUNK_CANDS]; /* their numbers, when the chunk holds them */
    size_t n_local, max_local;
    bool local_capped;
    struct ecx_cand ecx[MAX_CHUNK_ECX];
    size_t n_ecx;
    bool ecx_capped;
    struct point_ref refs[MAX_CHUNK_REFS];
    size_t n_refs;
    struct edx_pub edx_pubs[MAX_CHUNK_EDX_PUBS];
    size_t n_edx_pubs;
};

static const struct ecx_type {
    const char *name;      /* OpenSSL key type */
    uint8_t keylen;
} ecx_types[4] = {{"X25519", 32}, {"X448", 56}, {"ED25519", 32}, {"ED448", 57}};

/* ---- harvest ---- */

/* The curve named by an OID ending within the 12 bytes before bit-string
 * header at p[at] (SPKI: OID then BIT STRING; SEC1: [0] OID then [1]). */
static int
curve_before(const uint8_t *p, size_t at, unsigned coord)
{
    size_t from = at > 24 ? at - 24 : 0;

    for (int c = 0; c < N_CURVES; c++) {
        const struct curve_info *ci = &curves[c];

        if (ci->coord != coord)
            continue;
        for (size_t x = from; x + ci->oid_len <= at; x++)
            if (memcmp(p + x, ci->oid, ci->oid_len) == 0)
                return c;
    }
    return coord == 32 ? C_ANY256 : coord == 48 ? C_P384 : C_P521;
}

/* The uncompressed-point BIT STRING header starting at p[at], if any: its
 * length and the point's coordinate size. */
static bool
point_header(const uint8_t *p, size_t at, size_t len, size_t *hdr_len, unsigned *coord)
{
    static const struct {
        const char *hdr;
        size_t hdr_len;
        unsigned coord;
    } pat[] = {
        {"\x03\x42\x00\x04", 4, 32},
        {"\x03\x62\x00\x04", 4, 48},
        {"\x03\x81\x86\x00\x04", 5, 66},
    };

    for (size_t i = 0; i < sizeof pat / sizeof pat[0]; i++)
        if (at + pat[i].hdr_len <= len && memcmp(p + at, pat[i].hdr, pat[i].hdr_len) == 0) {
            *hdr_len = pat[i].hdr_len;
            *coord = pat[i].coord;
            return true;
        }
    return false;
}

/* Appends the point whose header starts at ch->p[at] to out[*n] (if whole). */
static void
harvest_at(const struct dg_chunk *ch, size_t at, struct point *out, size_t *n)
{
    size_t hdr_len, plen;
    unsigned coord;

    if (!point_header(ch->p, at, ch->len, &hdr_len, &coord))
        return;
    plen = 1 + 2 * (size_t)coord;
    if (at + hdr_len - 1 + plen > ch->len)
        return;
    memcpy(out[*n].oct, ch->p + at + hdr_len - 1, plen);
    out[*n].len = (uint8_t)plen;
    out[*n].curve = (uint8_t)curve_before(ch->p, at, coord);
    out[*n].off = ch->off + at + hdr_len - 1;
    (*n)++;
}

/* Bit i set where p[i] == 0x03 and p[i + 3] or p[i + 4] == 0x04, for
 * i < 16 (reads p[0..20)). */
static inline uint32_t
point_starts16(const uint8_t *p)
{
#ifdef __SSE2__
    const __m128i v03 = _mm_set1_epi8(0x03), v04 = _mm_set1_epi8(0x04);
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(p + 3));
    __m128i e = _mm_loadu_si128((const __m128i *)(const void *)(p + 4));

    return (uint32_t)_mm_movemask_epi8(
        _mm_and_si128(_mm_cmpeq_epi8(a, v03), _mm_or_si128(_mm_cmpeq_epi8(d, v04), _mm_cmpeq_epi8(e, v04))));
#else
    uint32_t m = 0;

    for (unsigned i = 0; i < 16; i++)
        m |= (uint32_t)(p[i] == 0x03 && (p[i + 3] == 0x04 || p[i + 4] == 0x04)) << i;
    return m;
#endif
}

#if DG_HAVE_AVX2
/* point_starts16() for i < 32 (reads p[0..36)). */
DG_TARGET_AVX2 static inline uint32_t
point_starts32(const uint8_t *p)
{
    const __m256i v03 = _mm256_set1_epi8(0x03), v04 = _mm256_set1_epi8(0x04);
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(p + 3));
    __m256i e = _mm256_loadu_si256((const __m256i *)(const void *)(p + 4));

    return (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(
        _mm256_cmpeq_epi8(a, v03), _mm256_or_si256(_mm256_cmpeq_epi8(d, v04), _mm256_cmpeq_epi8(e, v04))));
}
#endif

static inline __attribute__((always_inline)) size_t
harvest_blocks(const struct dg_chunk *ch, size_t i, size_t end, struct point *out, size_t *n,
               size_t cap, uint32_t (*mask_at)(const uint8_t *), size_t step)
{
    for (; i + step + 4 <= ch->len && i < end && *n < cap; i += step)
        for (uint32_t mask = mask_at(ch->p + i); mask != 0 && *n < cap; mask &= mask - 1) {
            size_t at = i + (size_t)__builtin_ctz(mask);

            if (at < end)
                harvest_at(ch, at, out, n);
        }
    return i;
}

static size_t
harvest_blocks16(const struct dg_chunk *ch, size_t i, size_t end, struct point *out, size_t *n,
                 size_t cap)
{
    return harvest_blocks(ch, i, end, out, n, cap, point_starts16, 16);
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static size_t
harvest_blocks32(const struct dg_chunk *ch, size_t i, size_t end, struct point *out, size_t *n,
                 size_t cap)
{
    return harvest_blocks(ch, i, end, out, n, cap, point_starts32, 32);
}
#endif

static void keep(struct ec_ctx *c, const struct dg_chunk *ch, struct cand cd);

/* The SEC1 ECPrivateKey {version 1, privateKey d} with neither curve nor
 * public key whose SEQUENCE starts at ch->p[k]: "30 25 02 01 01 04 20" and
 * 32 bytes of d (P-256 or secp256k1), "30 35 .. 04 30" and 48 (P-384),
 * "30 47 .. 04 42" and 66 (P-521). The JDK's ECPrivateKeyImpl keeps its key
 * so (PKCS8Key.key), beside d as little-endian bytes, for as long as the key
 * lives; a key the JVM generated has no other encoding. d becomes a
 * candidate like a library's big number (the curve is tried by its
 * length), and one that no public point proves is still reported. */
static void
collect_sec1(struct ec_ctx *c, const struct dg_chunk *ch, size_t k)
{
    static const uint8_t form[][2] = {{0x25, 32}, {0x35, 48}, {0x47, 66}};
    const uint8_t *p = ch->p + k;

    if (k >= ch->owned || k + 7 > ch->len || p[0] != 0x30 || p[2] != 0x02 || p[3] != 0x01 ||
        p[4] != 0x01 || p[5] != 0x04)
        return;
    for (size_t i = 0; i < sizeof form / sizeof form[0]; i++) {
        uint64_t va;

        if (p[1] == form[i][0] && p[6] == form[i][1] && (va = chunk_va(ch, k + 7)) != 0)
            keep(c, ch, (struct cand){va, ch->off + k, (uint8_t)((form[i][1] + 7) / 8), 1, K_SEC1,
                                      form[i][1], 0});
    }
}

/* The Ed25519, X25519 or Ed448 SubjectPublicKeyInfo starting at ch->p[k]:
 * 30 L 30 05 06 03 2b 65 {70,6e,71} 03 (len + 1) 00 key (the engine's
 * pass finds its BIT STRING header, nine bytes on). */
static void
collect_edx_pub(struct ec_ctx *c, const struct dg_chunk *ch, size_t k)
{
    static const uint8_t alg[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65};
    static const uint8_t oid_last[4] = {0x6e, 0x6f, 0x70, 0x71}; /* ecx_types order */
    const uint8_t *p = ch->p + k;

    if (k >= ch->owned || k + 12 > ch->len || p[0] != 0x30 || memcmp(p + 2, alg, sizeof alg) != 0 ||
        p[9] != 0x03 || p[11] != 0x00 || c->n_edx_pubs >= MAX_CHUNK_EDX_PUBS)
        return;
    for (uint8_t t = 0; t < 4; t++) {
        unsigned len = ecx_types[t].keylen;

        if (t == 1)
            continue; /* X448: its 03 39 00 is no trigger (a key agreement key, and rare) */
        if (p[8] == oid_last[t] && p[1] == 10 + len && p[10] == len + 1 &&
            k + 12 + len <= ch->len) {
            struct edx_pub *e = &c->edx_pubs[c->n_edx_pubs++];

            e->type = t;
            e->len = (uint8_t)len;
            memcpy(e->pub, p + 12, len);
            e->off = ch->off + k;
            return;
        }
    }
}

/* Calls at(c, ch, pos - back) at each needle in ch->p[i..end) (the
 * detector's own pass, where the engine's gives no hits). */
static void
needle_pass(struct ec_ctx *c, const struct dg_chunk *ch, size_t i, size_t end,
            const uint8_t *needle, size_t n, size_t back,
            void (*at)(struct ec_ctx *, const struct dg_chunk *, size_t))
{
    const uint8_t *p = ch->p, *q;

    for (i = i < back ? back : i;
         i < end && (q = memmem(p + i, ch->len - i, needle, n)) != NULL &&
         (size_t)(q - p) - back < end;
         i = (size_t)(q - p) + 1)
        at(c, ch, (size_t)(q - p) - back);
}

/* Finds the BIT STRING headers of uncompressed points ("03 42 00 04",
 * "03 62 00 04", "03 81 86 00 04") starting in the chunk's owned part,
 * outside files' read-only images, and appends the points to out (at most
 * cap): where the engine's shared pass found their first three bytes (the
 * detector's triggers), or else in a pass of its own, at each 03 byte with
 * a 04 three or four bytes on. */
static size_t
harvest(struct ec_ctx *c, const struct dg_chunk *ch, struct point *out, size_t cap, bool avx2)
{
    size_t n = 0, i = 0, end = ch->owned < ch->len ? ch->owned : ch->len, stop = 0;
    const bool sec1 = dg_dump_va_count(ch->dump) > 0; /* d is read back by its address */
    bool image = false;

    if (ch->hits != NULL) {
        struct dg_hit_iter it = {0};

        for (size_t k; n < cap && (k = dg_hits_next(ch, &it)) < end;) {
            if (k >= stop)
                stop = chunk_span_end(ch, k, &image);
            if (image)
                continue;
            if (ch->p[k] == 0x03 && k + 2 < ch->len && ch->p[k + 2] == 0x00 &&
                (ch->p[k + 1] == 0x21 || ch->p[k + 1] == 0x3a))
                collect_edx_pub(c, ch, k >= 9 ? k - 9 : ch->len); /* 03 21|3a 00 */
            else if (ch->p[k] == 0x03)
                harvest_at(ch, k, out, &n);
            else if (ch->p[k] == 0x30 && sec1)
                collect_sec1(c, ch, k);
        }
        return n;
    }
#if !DG_HAVE_AVX2
    (void)avx2;
#endif
    for (; n < cap && i < end; i = stop) {
        stop = chunk_span_end(ch, i, &image);
        if (stop > end)
            stop = end;
        if (image)
            continue;
        needle_pass(c, ch, i, stop, (const uint8_t *)"\x30\x05\x06\x03\x2b\x65", 6, 2,
                    collect_edx_pub);
        if (sec1)
            needle_pass(c, ch, i, stop, (const uint8_t *)"\x02\x01\x01\x04", 4, 2,
                        collect_sec1);
#if DG_HAVE_AVX2
        if (avx2)
            i = harvest_blocks32(ch, i, stop, out, &n, cap);
#endif
        i = harvest_blocks16(ch, i, stop, out, &n, cap);
        for (; i < stop && n < cap; i++)
            if (ch->p[i] == 0x03)
                harvest_at(ch, i, out, &n);
    }
    return n;
}

/* ---- BIGNUM headers ---- */

/* True if the 24 bytes at p look like the header of a 3..9-limb BIGNUM. */
static inline bool
bignum_header(const uint8_t *p, uint8_t *top_out, uint8_t *prio)
{
    uint64_t d = load_le64(p);
    uint32_t top = load_le32(p + 8), dmax = load_le32(p + 12);
    uint32_t neg = load_le32(p + 16), flags = load_le32(p + 20);

    if (top - 3u > 6u || dmax < top || dmax > 64 || neg > 1 || flags >= 0x20 || !user_pointer(d))
        return false;
    *top_out = (uint8_t)top;
    *prio = (flags & 0x0c) != 0;
    return true;
}

/* Appends cd to the chunk's candidates with its number when the chunk
 * holds it (a number lies mostly near its header: finish() need not read
 * it from the dump), unless that number does not look random: no scalar
 * and no coordinate, it is not kept (cand_plausible()). */
static void
keep(struct ec_ctx *c, const struct dg_chunk *ch, struct cand cd)
{
    const unsigned len = cand_len(&cd);
    struct cand_bytes *cb;

    if (c->n_local >= MAX_CHUNK_CANDS) {
        c->local_capped = true;
        return;
    }
    cb = &c->local_bytes[c->n_local];
    cb->len = len <= sizeof cb->b && chunk_copy_va(ch, cd.va, cb->b, len) ? (uint8_t)len : 0;
    if (cb->len != 0 && !cand_plausible(&cd, cb->b)) {
        OPENSSL_cleanse(cb->b, sizeof cb->b);
        return;
    }
    c->local[c->n_local++] = cd;
}

/* Appends the big-number headers around ch->p[x] to the chunk's candidates:
 * the 64-bit word at x + 8 has its low half in 3..9 (a limb count) and x is
 * 8-byte aligned in the process. Which header that count belongs to:
 *   OpenSSL BIGNUM   {d*, int top, int dmax, int neg, int flags}     at x
 *   mbedtls_mpi      {int s (1 or -1), size_t n, uint64 *p}          at x
 *   Go big.Int       {bool neg, nat {ptr, len, cap}}                  at x - 8
 *   GMP mpz          {int alloc, int size, limb *d}                   at x + 8
 *   wolfSSL sp_int   {int used, int size, int sign, raw{..}, dp[] @40} at x + 8
 * (layouts read from real cores of each library; docs/LIBRARY_KEYS.md). */
static void
collect(struct ec_ctx *c, const struct dg_chunk *ch, size_t x)
{
    const uint8_t *p = ch->p + x;
    uint64_t w1 = load_le64(p + 8), w2 = load_le64(p + 16);
    uint32_t lo1 = (uint32_t)w1, hi1 = (uint32_t)(w1 >> 32);
    uint8_t top, prio;

    if (bignum_header(p, &top, &prio)) {
        keep(c, ch, (struct cand){load_le64(p), ch->off + x, top, prio, K_OPENSSL, 0, 0});
        return;
    }
    if (lo1 - 3u > 6u)
        return; /* the limb count of every form below (the scalar tail has no mask) */
    if (w1 <= 9 && user_pointer(w2) && (load_le32(p) == 1 || load_le32(p) == 0xffffffffu)) {
        keep(c, ch, (struct cand){w2, ch->off + x, (uint8_t)w1, 0, K_MBEDTLS, 0, 0});
        return;
    }
    if (w1 <= 9 && x >= 8 && load_le64(p - 8) <= 1 && user_pointer(load_le64(p)) && w2 >= w1 &&
        w2 <= 64) {
        keep(c, ch, (struct cand){load_le64(p), ch->off + x - 8, (uint8_t)w1, 0, K_GO, 0, 0});
        return;
    }
    /* {alloc, size} of an mpz, or {used, size} of an sp_int: the limb count
     * is lo1 = alloc >= size, or lo1 = used <= size */
    if (x + 24 + 8 <= ch->len && hi1 >= 3 && hi1 <= lo1 && user_pointer(w2)) {
        keep(c, ch, (struct cand){w2, ch->off + x + 8, (uint8_t)hi1, 0, K_GMP, 0, 0});
    } else if (hi1 > lo1 && hi1 <= 1024 && (uint32_t)w2 <= 1 && x + 8 + 40 + 8 * 9 <= ch->len) {
        const uint8_t *dp = p + 8 + 40;
        uint64_t va = chunk_va(ch, x + 8 + 40);
        bool zeros = true;

        for (uint32_t i = lo1; i < 9 && i < hi1; i++)
            zeros = zeros && load_le64(dp + 8 * i) == 0;
        if (zeros && va != 0 && load_le64(dp + 8 * (lo1 - 1)) != 0)
            keep(c, ch, (struct cand){va, ch->off + x + 8, (uint8_t)lo1, 0, K_WOLFSSL, 0, 0});
    }
}

/* NSS softoken keeps a PKCS#11 object's attributes in SFTKAttribute records
 * {next, prev, PRBool freeAttr @16, PRBool freeData @20, handle,
 * CK_ATTRIBUTE {type @32, pValue @40, ulValueLen @48}, space[50] @56} (read
 * from cores of NSS 3.87): an EC key's CKA_VALUE (0x11) is d as big-endian
 * bytes, inline when it fits the space (pValue points at the record's own
 * space: P-256, P-384), else in an allocation of its own with freeData set
 * (P-521's 66 bytes); its CKA_EC_POINT (0x181) the raw 04 || X || Y in a
 * separate allocation. x is the index of the type word. */
#define CKA_VALUE 0x11u
#define CKA_EC_POINT 0x181u
#define NSS_ATTR_SPACE 50u /* ATTR_SPACE: longer values are allocated apart */

static void
collect_nss(struct ec_ctx *c, const struct dg_chunk *ch, size_t x)
{
    const uint8_t *p = ch->p + x;
    uint64_t type, pv, len;

    if (x < 32 || x + 24 > ch->len || x - 32 >= ch->owned)
        return;
    type = load_le64(p);
    pv = load_le64(p + 8);
    len = load_le64(p + 16);
    if (type == CKA_VALUE && (len == 32 || len == 48 || len == 66) &&
        (len > NSS_ATTR_SPACE ? load_le32(p - 12) == 1 && user_pointer(pv)
                              : x + 24 + len <= ch->len && pv == chunk_va(ch, x) + 24 && pv != 24)) {
        keep(c, ch, (struct cand){pv, ch->off + x - 32, (uint8_t)((len + 7) / 8), 0, K_NSS,
                                  (uint8_t)len, 0});
    } else if (type == CKA_EC_POINT && (len == 65 || len == 97 || len == 133) &&
               user_pointer(pv) && c->n_refs < MAX_CHUNK_REFS) {
        c->refs[c->n_refs++] = (struct point_ref){pv, ch->off + x - 32, (uint8_t)len};
    }
}

/* Appends the ECX_KEY whose keylen field is at ch->p[y], if it is one and
 * starts in the chunk's owned part, to the chunk's ECX candidates. */
static void
collect_ecx(struct ec_ctx *c, const struct dg_chunk *ch, size_t y)
{
    const uint8_t *p;
    uint64_t priv, keylen;
    uint32_t type, refs;
    size_t x;

    if (y < ECX_KEYLEN_AT || y - ECX_KEYLEN_AT >= ch->owned ||
        y - ECX_KEYLEN_AT + ECX_STRUCT > ch->len)
        return;
    x = y - ECX_KEYLEN_AT;
    p = ch->p + x;
    priv = load_le64(p + 80);
    keylen = load_le64(p + 88);
    type = load_le32(p + 96);
    refs = load_le32(p + 100);
    if (type > 3 || keylen != ecx_types[type].keylen || p[16] != 1 || refs == 0 ||
        refs > 0xffff || !user_pointer(priv))
        return;
    for (size_t i = 17 + keylen; i < 80; i++)
        if (p[i] != 0)
            return;
    if (c->n_ecx >= MAX_CHUNK_ECX) {
        c->ecx_capped = true;
        return;
    }
    c->ecx[c->n_ecx] = (struct ecx_cand){.priv_va = priv, .off = ch->off + x,
                                         .type = (uint8_t)type, .keylen = (uint8_t)keylen};
    memcpy(c->ecx[c->n_ecx].pub, p + 17, keylen);
    c->n_ecx++;
}

/* Header candidates among the words at p + 8, p + 16, ... (one per 8-byte
 * position of p): bit i (bits 0..7) when the `top` field of a BIGNUM header
 * at p + 8i (the low 32 bits of the word at p + 8i + 8) lies in 3..9, bit
 * 16 + i when the word at p + 8i + 8 is an NSS attribute type (CKA_VALUE,
 * CKA_EC_POINT), bit 32 + i when it is an ECX_KEY keylen (32, 56 or 57).
 * Four positions, reading p[8..40). */
static inline uint64_t
header_masks4(const uint8_t *p)
{
    uint64_t m = 0, k = 0, n = 0;

    for (unsigned i = 0; i < 4; i++) {
        uint64_t w = load_le64(p + 8 + 8 * i);

        n |= (uint64_t)(w == CKA_VALUE || w == CKA_EC_POINT) << i;
    }
#ifdef __SSE2__
    const __m128i two = _mm_set1_epi32(2), ten = _mm_set1_epi32(10), zero = _mm_setzero_si128();
    const __m128i l32 = _mm_set1_epi32(32), l56 = _mm_set1_epi32(56), l57 = _mm_set1_epi32(57);

    for (int h = 0; h < 2; h++) {
        __m128i t = _mm_loadu_si128((const __m128i *)(const void *)(p + 8 + 16 * h));
        unsigned top = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpgt_epi32(t, two), _mm_cmpgt_epi32(ten, t)));
        unsigned len = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi32(t, l32), _mm_cmpeq_epi32(t, l56)), _mm_cmpeq_epi32(t, l57)));

        len &= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi32(t, zero)) >> 4;
        m |= (uint64_t)((top & 1) | (top >> 7 & 2)) << (2 * h);
        k |= (uint64_t)((len & 1) | (len >> 7 & 2)) << (2 * h);
    }
#else
    for (unsigned i = 0; i < 4; i++) {
        uint64_t w = load_le64(p + 8 + 8 * i);

        m |= (uint64_t)((uint32_t)w - 3u <= 6u) << i;
        k |= (uint64_t)(w == 32 || w == 56 || w == 57) << i;
    }
#endif
    return m | n << 16 | k << 32;
}

#if DG_HAVE_AVX2
/* header_masks4() for eight positions, reading p[8..72). */
DG_TARGET_AVX2 static inline uint64_t
header_masks8(const uint8_t *p)
{
    const __m256i two = _mm256_set1_epi32(2), ten = _mm256_set1_epi32(10), zero = _mm256_setzero_si256();
    const __m256i l32 = _mm256_set1_epi32(32), l56 = _mm256_set1_epi32(56), l57 = _mm256_set1_epi32(57);
    const __m256i cv = _mm256_set1_epi64x(CKA_VALUE), cp = _mm256_set1_epi64x(CKA_EC_POINT);
    /* every word collect(), collect_nss() and collect_ecx() take has its low
     * dword in 3..0x181 and its high dword at most 1024: one test drops the
     * others (zeros, text, pointers, random bytes) four words at a time */
    const __m256i pre_sub = _mm256_set1_epi64x(3);
    const __m256i pre_max = _mm256_set1_epi64x(0x401ll << 32 | 0x17f);
    const __m256i minus1 = _mm256_set1_epi32(-1);
    uint64_t m = 0, k = 0, n = 0;
    __m256i tv[2], okv[2];

    /* the pre-test of both halves first, one branch for the eight words */
    for (int h = 0; h < 2; h++) {
        __m256i x;

        tv[h] = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8 + 32 * h));
        x = _mm256_sub_epi32(tv[h], pre_sub);
        okv[h] = _mm256_cmpeq_epi64(
            _mm256_and_si256(_mm256_cmpgt_epi32(x, minus1), _mm256_cmpgt_epi32(pre_max, x)),
            minus1);
    }
    if (_mm256_testz_si256(_mm256_or_si256(okv[0], okv[1]), minus1))
        return 0;
    for (int h = 0; h < 2; h++) {
        __m256i t = tv[h];

        if (_mm256_testz_si256(okv[h], minus1))
            continue;

        n |= (uint64_t)_mm256_movemask_pd(_mm256_castsi256_pd(
                 _mm256_or_si256(_mm256_cmpeq_epi64(t, cv), _mm256_cmpeq_epi64(t, cp))))
             << (4 * h);
        uint32_t top = (uint32_t)_mm256_movemask_epi8(
            _mm256_and_si256(_mm256_cmpgt_epi32(t, two), _mm256_cmpgt_epi32(ten, t)));
        uint32_t len = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi32(t, l32), _mm256_cmpeq_epi32(t, l56)),
            _mm256_cmpeq_epi32(t, l57)));

        len &= (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi32(t, zero)) >> 4;
        top &= 0x01010101u; /* the low dword of each word */
        len &= 0x01010101u;
        m |= (uint64_t)((top | top >> 7 | top >> 14 | top >> 21) & 0xf) << (4 * h);
        k |= (uint64_t)((len | len >> 7 | len >> 14 | len >> 21) & 0xf) << (4 * h);
    }
    return m | n << 16 | k << 32;
}
#endif

/* Collects the candidates masks_at() finds, step positions (of 8 bytes) at a
 * time from x. Positions run ECX_KEYLEN_AT past the owned part so that an
 * ECX_KEY starting at its end is seen; BIGNUM headers only in the owned
 * part. Kept inline so that each caller has masks_at() inlined. */
static inline __attribute__((always_inline)) size_t
header_blocks(struct ec_ctx *c, const struct dg_chunk *ch, size_t x,
              uint64_t (*masks_at)(const uint8_t *), size_t step)
{
    /* the last x with masks_at()'s bytes and the candidates' in the chunk */
    const size_t limit_owned = ch->owned + ECX_KEYLEN_AT, limit_len = ch->len - 24;
    size_t span_end = 0, kept_end = 0;
    bool image = false;

    if (ch->len < 24)
        return x;
    while (x + 8 * step <= limit_owned && x + 8 * step <= limit_len) {
        size_t stop;

        /* no library struct lies in a file's read-only image */
        if (x >= span_end)
            span_end = chunk_span_end(ch, x, &image);
        if (image && x + 8 * step + 24 <= span_end) {
            x += 8 * step;
            continue;
        }
        /* nor in a block with no pointer near (every header but wolfSSL's
         * points at its limbs) and no random-looking run (wolfSSL's limbs
         * follow its header) */
        if (x >= kept_end) {
            size_t nx = chunk_kept_span(ch, x, span_end, EC_RANDOM_RUN, &kept_end);

            if (nx != x) {
                x = nx;
                continue;
            }
        }
        /* the steps that stay in the span and the kept blocks (one at
         * least, as before the loop stepped one at a time) */
        stop = kept_end < span_end ? kept_end : span_end;
        stop = stop > x + 8 * step ? stop : x + 8 * step;
        do {
            const uint64_t mk = masks_at(ch->p + x);

            if (mk != 0) {
                for (uint32_t m = (uint32_t)mk & 0xffu; m != 0; m &= m - 1) {
                    size_t at = x + 8 * (size_t)__builtin_ctz(m);

                    if (at < ch->owned && !c->local_capped)
                        collect(c, ch, at);
                }
                for (uint32_t n = (uint32_t)(mk >> 16) & 0xffu; n != 0; n &= n - 1)
                    collect_nss(c, ch, x + 8 + 8 * (size_t)__builtin_ctz(n));
                for (uint32_t k = (uint32_t)(mk >> 32); k != 0; k &= k - 1)
                    collect_ecx(c, ch, x + 8 + 8 * (size_t)__builtin_ctz(k));
            }
            x += 8 * step;
        } while (x < stop && x + 8 * step <= limit_owned && x + 8 * step <= limit_len);
    }
    return x;
}

static size_t
header_blocks32(struct ec_ctx *c, const struct dg_chunk *ch, size_t x)
{
    return header_blocks(c, ch, x, header_masks4, 4);
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static size_t
header_blocks64(struct ec_ctx *c, const struct dg_chunk *ch, size_t x)
{
    return header_blocks(c, ch, x, header_masks8, 8);
}
#endif

static dg_err
ec_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ec_ctx *c = vctx;
    struct ec_shared *sh = c->sh;
    struct point pts[64];
    bool avx2 = dg_cpu_avx2(), pts_capped;
    size_t n_pts, a = chunk_phase(ch);

    (void)sink;
    c->n_local = 0;
    c->local_capped = false;
    c->n_ecx = 0;
    c->ecx_capped = false;
    c->n_refs = 0;
    c->n_edx_pubs = 0;
    n_pts = harvest(c, ch, pts, sizeof pts / sizeof pts[0], avx2);
    pts_capped = n_pts == sizeof pts / sizeof pts[0];
    /* A raw buffer has no address map to follow pointers through; the header
     * layout is that of 64-bit little-endian processes. */
    if (dg_dump_va_count(ch->dump) > 0 &&
        (dg_dump_word_size(ch->dump) == 0 || dg_dump_word_size(ch->dump) == 8) &&
        !dg_dump_big_endian(ch->dump)) {
        size_t x = a;

#if DG_HAVE_AVX2
        if (avx2)
            x = header_blocks64(c, ch, x);
#endif
        x = header_blocks32(c, ch, x);
        for (; x + 24 <= ch->len && x < ch->owned + ECX_KEYLEN_AT; x += 8) {
            if (x < ch->owned && !c->local_capped)
                collect(c, ch, x);
            if (x + 16 <= ch->len && load_le64(ch->p + x + 8) - 32u <= 25u)
                collect_ecx(c, ch, x + 8);
            if (x + 16 <= ch->len && (load_le64(ch->p + x + 8) == CKA_VALUE ||
                                      load_le64(ch->p + x + 8) == CKA_EC_POINT))
                collect_nss(c, ch, x + 8);
        }
    }
    if (n_pts == 0 && c->n_local == 0 && !c->local_capped && c->n_ecx == 0 && !c->ecx_capped &&
        c->n_refs == 0 && c->n_edx_pubs == 0)
        return DG_OK;
    if (c->n_local > c->max_local)
        c->max_local = c->n_local;
    pthread_mutex_lock(&sh->lock);
    for (size_t i = 0; i < n_pts; i++) {
        bool dup = false;

        for (size_t j = 0; j < sh->n_pts && !dup; j++)
            dup = sh->pts[j].len == pts[i].len &&
                  memcmp(sh->pts[j].oct, pts[i].oct, pts[i].len) == 0;
        if (dup)
            continue;
        if (sh->n_pts >= MAX_POINTS) {
            sh->pts_capped = true;
            break;
        }
        sh->pts[sh->n_pts++] = pts[i];
    }
    for (size_t i = 0; i < c->n_local; i++) {
        if (sh->n_cands >= MAX_CANDS) {
            sh->cands_capped = true;
            break;
        }
        sh->cands[sh->n_cands] = c->local[i];
        if (c->local_bytes[i].len != 0) {
            sh->held[sh->n_held] = c->local_bytes[i];
            sh->cands[sh->n_cands].held = (uint32_t)++sh->n_held;
        }
        sh->n_cands++;
    }
    for (size_t i = 0; i < c->n_ecx; i++) {
        if (sh->n_ecx >= MAX_ECX) {
            sh->ecx_capped = true;
            break;
        }
        sh->ecx[sh->n_ecx++] = c->ecx[i];
    }
    for (size_t i = 0; i < c->n_refs && sh->n_refs < MAX_REFS; i++)
        sh->refs[sh->n_refs++] = c->refs[i];
    for (size_t i = 0; i < c->n_edx_pubs && sh->n_edx_pubs < MAX_EDX_PUBS; i++)
        sh->edx_pubs[sh->n_edx_pubs++] = c->edx_pubs[i];
    sh->pts_capped |= pts_capped;
    sh->cands_capped |= c->local_capped;
    sh->ecx_capped |= c->ecx_capped;
    pthread_mutex_unlock(&sh->lock);
    return DG_OK;
}

/* ---- finish ---- */

struct curve_run {
    EC_GROUP *g;
    const BIGNUM *order;
    EC_POINT *pt;
    size_t *idx;        /* indices of on-curve points of this curve */
    size_t n_idx;
    BIGNUM *p, *rr;     /* the field prime, and R mod p for R = 2^(64 * limbs of p) */
    size_t want;        /* scalars it may multiply, at most (join(): may_multiply()) */
    EC_POINT **comb;    /* comb_build(): 15 points per 4-bit window, or NULL */
    size_t n_win;
};

/* The values of the dump's BIGNUM candidates, by their lowest limb: where a
 * public point's coordinate is looked for when no encoded point names it. */
struct value {
    uint64_t lo;        /* the lowest limb */
    uint32_t cand;      /* index in sh->cands */
};

static int
cmp_value(const void *a, const void *b)
{
    const struct value *x = a, *y = b;

    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Candidate cd's number from its cand_len(cd) bytes at b into out. */
static bool
cand_number(const struct cand *cd, const uint8_t *b, BIGNUM *out)
{
    return (cd->be_len != 0 ? BN_bin2bn(b, (int)cand_len(cd), out)
                            : BN_lebin2bn(b, (int)cand_len(cd), out)) != NULL;
}

/* Candidate cd's bytes (cand_len(cd) of them), or NULL when they could not
 * be read (read_cands()). */
static const uint8_t *
cand_bytes(const struct ec_shared *sh, const struct cand *cd)
{
    return cd->held != 0 ? sh->held[cd->held - 1].b : NULL;
}

/* Reads through w (sh->cands sorted by address) the numbers of the
 * candidates whose bytes scan() could not take, into sh->held beside the
 * others: the array is there and its pages touched, where a copy of every
 * number would cost a new one's first touch (most of a megabyte). A number
 * that does not look random (cand_plausible()) stays unread, as scan()
 * keeps none. */
static void
read_cands(struct ec_shared *sh, struct vawin *w)
{
    for (size_t i = 0; i < sh->n_cands; i++) {
        struct cand *cd = &sh->cands[i];
        struct cand_bytes *cb = &sh->held[sh->n_held];

        if (cd->held != 0 || sh->n_held >= MAX_CANDS)
            continue;
        if (vawin_read(w, cd->va, cb->b, cand_len(cd)) != DG_OK ||
            !cand_plausible(cd, cb->b)) {
            OPENSSL_cleanse(cb->b, sizeof cb->b); /* a read may fail part way */
            continue; /* unread, or no random number: no scalar, no coordinate */
        }
        cb->len = (uint8_t)cand_len(cd);
        cd->held = (uint32_t)++sh->n_held;
    }
}

/* Indexes the candidates' numbers (read_cands()) by their lowest limb; one
 * whose bytes could not be read has no entry (find_value() could not
 * compare it). */
static struct value *
index_values(const struct ec_shared *sh, size_t *n)
{
    struct value *v = malloc((sh->n_cands ? sh->n_cands : 1) * sizeof *v);
    BIGNUM *t = BN_new();
    uint8_t buf[8 * 9];

    *n = 0;
    if (v == NULL || t == NULL) {
        free(v);
        BN_free(t);
        return NULL;
    }
    for (size_t i = 0; i < sh->n_cands; i++) {
        const struct cand *cd = &sh->cands[i];
        const uint8_t *b = cand_bytes(sh, cd);

        if (b == NULL)
            continue;
        if (cd->be_len == 0)
            v[(*n)++] = (struct value){load_le64(b), (uint32_t)i};
        else if (cand_number(cd, b, t) && BN_bn2lebinpad(t, buf, 72) > 0)
            v[(*n)++] = (struct value){load_le64(buf), (uint32_t)i};
    }
    OPENSSL_cleanse(buf, sizeof buf);
    BN_clear_free(t);
    qsort(v, *n, sizeof *v, cmp_value);
    return v;
}

/* The candidate BIGNUM whose value is x (a number below 2^(64*9)), or NULL;
 * limbs is scratch of 8 * 9 bytes. */
static const struct cand *
find_value(const struct ec_shared *sh, const struct value *v, size_t n, const BIGNUM *x,
           BIGNUM *tmp, uint8_t *limbs)
{
    size_t lo = 0, hi = n;
    uint64_t want;

    if (BN_bn2lebinpad(x, limbs, 8 * 9) < 0)
        return NULL;
    want = load_le64(limbs);
    while (lo < hi) { /* the first entry with v.lo >= want */
        size_t mid = lo + (hi - lo) / 2;

        if (v[mid].lo < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && v[lo].lo == want; lo++) {
        const struct cand *cd = &sh->cands[v[lo].cand];
        const uint8_t *b = cand_bytes(sh, cd);

        if (b != NULL && cand_number(cd, b, tmp) && BN_cmp(tmp, x) == 0)
            return cd;
    }
    return NULL;
}

static int
cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;

    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    if (x->va != y->va)
        return x->va < y->va ? -1 : 1;
    return x->top < y->top ? -1 : x->top > y->top;
}

/* Places finding f at the bare SEC1 encoding of candidate cd (cd->off is
 * its SEQUENCE's file offset, 7 bytes before d) and names the form. */
static void
sec1_place(struct dg_finding *f, const struct cand *cd)
{
    f->off = cd->off;
    f->len = 7u + cd->be_len;
    dg_strlcpyf(f->encoding, sizeof f->encoding, "sec1-bare");
    dg_strlcpyf(f->preview, sizeof f->preview, "SEC1 {1, d}, %u bytes of d (redacted)",
                cd->be_len);
}

/* Reports the key with scalar d on curve cv whose public point is pt (where
 * says where the dump holds it): confirmed, or a candidate when it is named
 * without a proof. When inverse (the number d^-1 mod n in the dump) is
 * given, d is an ECDSA signature nonce (inverse_of()). */
static bool
report(const struct ec_shared *sh, const struct dg_dump *dump, const struct cand *cd,
       const BIGNUM *d, int cv, const struct point *pt, const char *where,
       const struct cand *inverse, struct dg_sink *sink, char seen[][65], size_t *n_seen,
       size_t max_seen)
{
    const struct dg_region *r = dg_dump_region_at_va(dump, cd->va);
    struct dg_finding f;
    EVP_PKEY *pk = NULL;
    bool ok = false;
    dg_err rc = DG_E_CRYPTO;

    memset(&f, 0, sizeof f);
    if (r == NULL)
        return false;
    if (keyproof_ec_from_scalar(curves[cv].group, d, pt->oct, pt->len, &pk) == DG_OK)
        rc = keyproof_prove_finding(sh->proof, pk, KEYPROOF_PUB_STORED, &f);
    if (rc == DG_OK || keyproof_named(rc, &f.key)) {
        for (size_t i = 0; i < *n_seen; i++)
            if (strcmp(seen[i], f.key.spki_sha256) == 0) {
                EVP_PKEY_free(pk);
                return true; /* another copy of a key already reported */
            }
        if (*n_seen < max_seen)
            memcpy(seen[(*n_seen)++], f.key.spki_sha256, 65);
        f.off = r->off + (cd->va - r->va);
        if (cd->kind == K_SEC1) {
            sec1_place(&f, cd);
        } else if (cd->be_len != 0) {
            f.len = cd->be_len;
            dg_strlcpyf(f.encoding, sizeof f.encoding, "bn-be");
            dg_strlcpyf(f.preview, sizeof f.preview, "%u big-endian bytes (redacted)", cd->be_len);
        } else {
            f.len = 8ull * cd->top;
            dg_strlcpyf(f.encoding, sizeof f.encoding, "bn-le64");
            dg_strlcpyf(f.preview, sizeof f.preview, "LE limbs, %u x 64-bit (redacted)", cd->top);
        }
        if (rc == DG_OK && inverse != NULL) {
            dg_strlcpyf(f.type, sizeof f.type, "ecdsa-nonce");
            dg_strlcpyf(f.note, sizeof f.note,
                        "its inverse mod n is the %s at file offset 0x%llx; %s header at file "
                        "offset 0x%llx; %s",
                        kind_name[inverse->kind], (unsigned long long)inverse->off,
                        kind_name[cd->kind], (unsigned long long)cd->off, where);
        } else if (rc == DG_OK) {
            dg_strlcpyf(f.note, sizeof f.note, "%s header at file offset 0x%llx; %s",
                        kind_name[cd->kind], (unsigned long long)cd->off, where);
        }
        dg_report(sink, &f);
        ok = true;
    }
    EVP_PKEY_free(pk);
    return ok;
}

/* Reports the bare SEC1 encoding of candidate cd (collect_sec1()), whose d
 * no public point of the dump proves (d*G was never encoded, or lies only
 * in a form not read here): a candidate named by the SHA-256 of d, on the
 * curve its length gives, and a weak signal (low). A JVM makes such a key
 * for every ECDHE handshake of its TLS clients and servers (their key
 * shares hold only the raw point), and a key the JVM made for itself
 * whose public half was never encoded was never given to anyone either. */
static void
report_sec1(const struct cand *cd, const BIGNUM *d, struct dg_sink *sink)
{
    const char *curve = cd->be_len == 48 ? "P-384" : cd->be_len == 66 ? "P-521" : "";
    uint8_t b[MAX_COORD];
    struct dg_finding f;

    if (BN_bn2binpad(d, b, cd->be_len) != cd->be_len)
        return;
    memset(&f, 0, sizeof f);
    f.status = DG_STATUS_CANDIDATE;
    f.severity = DG_SEV_LOW; /* a weak signal: see below */
    dg_strlcpyf(f.type, sizeof f.type, "ec-private-key");
    sec1_place(&f, cd);
    dg_strlcpyf(f.key.algorithm, sizeof f.key.algorithm, "EC");
    f.key.bits = cd->be_len == 66 ? 521u : 8u * cd->be_len;
    dg_strlcpyf(f.key.curve, sizeof f.key.curve, "%s", curve);
    keyproof_sha256_hex(b, cd->be_len, f.key.key_sha256);
    OPENSSL_cleanse(b, sizeof b);
    dg_strlcpyf(f.note, sizeof f.note,
                "SEC1 {1, d} (%s) whose d*G is nowhere in the dump: a key the JVM made, such as "
                "each TLS handshake's; not proven",
                curve[0] ? curve : "P-256 or secp256k1");
    dg_report(sink, &f);
}

/* Reads each ECX_KEY candidate's private key through the address map and
 * reports it when the public key it gives equals the stored one. */
static void
ecx_finish(const struct ec_shared *sh, const struct dg_dump *dump, struct dg_sink *sink)
{
    uint8_t priv[57];

    if (sh->ecx_capped)
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "ec-raw: more than %u ECX_KEY candidates (or %u in a chunk); the rest "
                     "were skipped",
                     MAX_ECX, MAX_CHUNK_ECX);
    for (size_t i = 0; i < sh->n_ecx; i++) {
        const struct ecx_cand *e = &sh->ecx[i];
        const struct dg_region *r = dg_dump_region_at_va(dump, e->priv_va);
        struct dg_finding f;
        EVP_PKEY *pk = NULL;
        dg_err rc = DG_E_CRYPTO;

        if (r == NULL || dg_dump_read_va(dump, e->priv_va, priv, e->keylen) != DG_OK)
            continue;
        memset(&f, 0, sizeof f);
        if (keyproof_ecx_from_raw(ecx_types[e->type].name, priv, e->keylen, e->pub, e->keylen,
                                  &pk) == DG_OK)
            rc = keyproof_prove_finding(sh->proof, pk, KEYPROOF_PUB_STORED, &f);
        if (rc == DG_OK || keyproof_named(rc, &f.key)) {
            f.off = r->off + (e->priv_va - r->va);
            f.len = e->keylen;
            dg_strlcpyf(f.encoding, sizeof f.encoding, "ecx-raw");
            dg_strlcpyf(f.preview, sizeof f.preview, "%u raw bytes (redacted)", e->keylen);
            if (rc == DG_OK)
                dg_strlcpyf(f.note, sizeof f.note,
                            "OpenSSL ECX_KEY at file offset 0x%llx holds the public key; the "
                            "private key is the buffer its privkey points to",
                            (unsigned long long)e->off);
            dg_report(sink, &f);
        }
        EVP_PKEY_free(pk);
    }
    OPENSSL_cleanse(priv, sizeof priv);
}

/* The JDK keeps an EdDSA or XDH private key as the RFC 8410
 * CurvePrivateKey it encodes itself (PKCS8Key.key), an OCTET STRING "04 len
 * seed" (32: Ed25519 or X25519, 57: Ed448; X448's 56 are not looked for, as
 * its public keys are not harvested) in a byte[], whose
 * length word (2 + len) is the high half of the 64-bit word before it (the
 * array's first element is 8-byte aligned). A byte[34] of 04 20 and 32
 * random bytes is also what a SHA-256 key identifier is, so such a seed is
 * only proven against a public key the dump holds: this search runs only
 * when the dump holds an EdDSA or XDH SubjectPublicKeyInfo, and reads the
 * memory a process writes (not a file's image) once, a window at a time;
 * the seeds go to sh->jedx (where they are, never their bytes). */
static void
jedx_search(struct ec_shared *sh, const struct dg_dump *dump)
{
    uint8_t *w = malloc(DG_DUMP_READ_MAX + 16);

    for (size_t r = 0; w != NULL && r < dg_dump_va_count(dump) && sh->n_jedx < MAX_JEDX; r++) {
        const struct dg_region *reg = dg_dump_va_region(dump, r);

        if (reg == NULL || dg_region_is_image(reg))
            continue;
        /* window at: the 04s at w + 8 .. w + 8 + STEP, the seed after the
         * last of them still inside the window */
        enum { STEP = DG_DUMP_READ_MAX - 72 };
        for (uint64_t at = (8 - reg->va % 8) % 8; at + 16 <= reg->len && sh->n_jedx < MAX_JEDX;
             at += STEP) {
            size_t n =
                reg->len - at < DG_DUMP_READ_MAX ? (size_t)(reg->len - at) : DG_DUMP_READ_MAX;

            if (dg_dump_read_va(dump, reg->va + at, w, n) != DG_OK)
                continue;
            for (size_t k = 8; k < 8 + STEP && k + 2 <= n && sh->n_jedx < MAX_JEDX; k += 8) {
                uint32_t len_word = load_le32(w + k - 4);
                unsigned len = w[k + 1];

                if (w[k] != 0x04 || len_word != 2 + len || (len != 32 && len != 57) ||
                    k + 2 + len > n)
                    continue;
                if (distinct_at_least(w + k + 2, len, len == 32 ? 20u : 36u)) /* as a seed */
                    sh->jedx[sh->n_jedx++] = (struct jedx){reg->va + at + k + 2,
                                                           reg->off + at + k, (uint8_t)len};
            }
        }
    }
    if (w != NULL) {
        OPENSSL_cleanse(w, DG_DUMP_READ_MAX + 16);
        free(w);
    }
}

/* Proves each of the JDK's EdDSA and XDH private keys (jedx_search())
 * whose public key, derived from the seed on every type of its length, is
 * one of the dump's SubjectPublicKeyInfos (collect_edx_pub()); a seed no
 * public key names is not reported. */
static void
edx_finish(struct ec_shared *sh, const struct dg_dump *dump, struct dg_sink *sink)
{
    uint8_t seed[57], pub[57];

    if (sh->n_edx_pubs > 0)
        jedx_search(sh, dump);

    for (size_t i = 0; i < sh->n_jedx && sh->n_edx_pubs > 0; i++) {
        const struct jedx *j = &sh->jedx[i];

        if (dg_dump_read_va(dump, j->va, seed, j->len) != DG_OK)
            continue;
        for (uint8_t t = 0; t < 4; t++) {
            const struct edx_pub *hit = NULL;
            EVP_PKEY *pk;
            size_t pub_len = sizeof pub;

            if (ecx_types[t].keylen != j->len)
                continue;
            ERR_set_mark();
            pk = EVP_PKEY_new_raw_private_key_ex(NULL, ecx_types[t].name, NULL, seed, j->len);
            if (pk != NULL && EVP_PKEY_get_raw_public_key(pk, pub, &pub_len) == 1 &&
                pub_len == j->len)
                for (size_t k = 0; k < sh->n_edx_pubs && hit == NULL; k++)
                    if (sh->edx_pubs[k].type == t && memcmp(sh->edx_pubs[k].pub, pub, pub_len) == 0)
                        hit = &sh->edx_pubs[k];
            EVP_PKEY_free(pk);
            ERR_pop_to_mark();
            if (hit != NULL) {
                struct dg_finding f;
                dg_err rc = DG_E_CRYPTO;

                memset(&f, 0, sizeof f);
                pk = NULL;
                if (keyproof_ecx_from_raw(ecx_types[t].name, seed, j->len, hit->pub, hit->len,
                                          &pk) == DG_OK)
                    rc = keyproof_prove_finding(sh->proof, pk, KEYPROOF_PUB_STORED, &f);
                EVP_PKEY_free(pk);
                if (rc == DG_OK || keyproof_named(rc, &f.key)) {
                    f.off = j->off;
                    f.len = 2u + j->len;
                    dg_strlcpyf(f.encoding, sizeof f.encoding, "rfc8410-octet");
                    dg_strlcpyf(f.preview, sizeof f.preview, "04 %02x, %u bytes of key (redacted)",
                                j->len, j->len);
                    if (rc == DG_OK)
                        dg_strlcpyf(f.note, sizeof f.note,
                                    "the JDK's encoding of the private key (RFC 8410 "
                                    "CurvePrivateKey); its public key is the "
                                    "SubjectPublicKeyInfo at file offset 0x%llx",
                                    (unsigned long long)hit->off);
                    dg_report(sink, &f);
                }
                break;
            }
        }
    }
    OPENSSL_cleanse(seed, sizeof seed);
}

/* Looks for the x coordinate of Q = d*G (the point in cr->pt, its affine x
 * in xa) among the dump's big numbers, as a plain number and in Montgomery
 * form (x * R mod p, the form OpenSSL's nistz256 and GFp_mont methods keep).
 * On a hit fills *pt with Q and where with what was found; returns true. */
static bool
find_public_x(const struct ec_shared *sh, const struct value *v, size_t n_v,
              struct curve_run *cr, int cv, const BIGNUM *xa, BN_CTX *bn, uint8_t *limbs,
              struct point *pt, char *where, size_t where_len)
{
    BIGNUM *xm, *tmp;
    const struct cand *hit = NULL;
    const char *form = "affine";

    BN_CTX_start(bn);
    xm = BN_CTX_get(bn);
    tmp = BN_CTX_get(bn);
    if (tmp != NULL) {
        hit = find_value(sh, v, n_v, xa, tmp, limbs);
        if (hit == NULL && cr->rr != NULL && BN_mod_mul(xm, xa, cr->rr, cr->p, bn)) {
            hit = find_value(sh, v, n_v, xm, tmp, limbs);
            form = "Montgomery-form";
        }
    }
    BN_CTX_end(bn);
    if (hit == NULL)
        return false;
    pt->len = (uint8_t)(1 + 2 * curves[cv].coord);
    pt->curve = (uint8_t)cv;
    pt->off = hit->off;
    if (EC_POINT_point2oct(cr->g, cr->pt, POINT_CONVERSION_UNCOMPRESSED, pt->oct, sizeof pt->oct,
                           bn) != pt->len)
        return false;
    dg_strlcpyf(where, where_len,
                "the x coordinate of its public point d*G is the %s %s whose header is at "
                "file offset 0x%llx (no encoded public key needed)",
                form, kind_name[hit->kind], (unsigned long long)hit->off);
    return true;
}

/* Reads the points NSS attributes point at into the harvested points. */
static void
read_point_refs(struct ec_shared *sh, const struct dg_dump *dump)
{
    for (size_t i = 0; i < sh->n_refs && sh->n_pts < MAX_POINTS; i++) {
        const struct point_ref *r = &sh->refs[i];
        struct point *pt = &sh->pts[sh->n_pts];

        if (dg_dump_read_va(dump, r->va, pt->oct, r->len) != DG_OK || pt->oct[0] != 0x04)
            continue;
        pt->len = r->len;
        pt->curve = r->len == 65 ? C_ANY256 : r->len == 97 ? C_P384 : C_P521;
        pt->off = r->off;
        sh->n_pts++;
    }
}

/* Sets up curve cv for join(): its group, the harvested points on it, and
 * its field prime and R mod p for the Montgomery form. */
static dg_err
curve_setup(const struct ec_shared *sh, struct curve_run *cr, int cv, BN_CTX *bn)
{
    cr->g = EC_GROUP_new_by_curve_name(curves[cv].nid);
    cr->pt = cr->g != NULL ? EC_POINT_new(cr->g) : NULL;
    cr->idx = calloc(sh->n_pts ? sh->n_pts : 1, sizeof *cr->idx);
    cr->p = BN_new();
    cr->rr = BN_new();
    if (cr->g == NULL || cr->pt == NULL || cr->idx == NULL || cr->p == NULL || cr->rr == NULL ||
        !EC_GROUP_get_curve(cr->g, cr->p, NULL, NULL, bn) || !BN_one(cr->rr) ||
        !BN_lshift(cr->rr, cr->rr, 64 * ((BN_num_bits(cr->p) + 63) / 64)) ||
        !BN_nnmod(cr->rr, cr->rr, cr->p, bn))
        return DG_E_NOMEM;
    cr->order = EC_GROUP_get0_order(cr->g);
    for (size_t i = 0; i < sh->n_pts; i++) {
        const struct point *p = &sh->pts[i];

        if (p->len != 1 + 2 * curves[cv].coord ||
            (p->curve != cv && !(p->curve == C_ANY256 && curves[cv].coord == 32)))
            continue;
        if (EC_POINT_oct2point(cr->g, cr->pt, p->oct, p->len, bn) == 1)
            cr->idx[cr->n_idx++] = i;
    }
    return DG_OK;
}

#define COMB_FROM 4u /* scalars on a ladder curve from which its comb pays: building it
                      * costs about four ladder multiplications (2 ms for secp256k1) */
#define COMB_WIN 4u   /* bits per comb window */
#define COMB_ROW ((1u << COMB_WIN) - 1)

/* Frees the n points of comb t (NULL: none). */
static void
comb_free(EC_POINT **t, size_t n)
{
    for (size_t i = 0; t != NULL && i < n; i++)
        EC_POINT_free(t[i]);
    free(t);
}

/* Builds the fixed-base comb of curve cr: comb[COMB_ROW * i + j - 1] is
 * j * 2^(COMB_WIN * i) * G for each window i of a scalar below the group
 * order and j = 1..COMB_ROW, so d*G is one point addition per nonzero
 * window of d (point_mul()). With OpenSSL's own point arithmetic this costs
 * about 15 additions per window once (2 ms for secp256k1) and then a quarter
 * of the ladder's time per scalar. Returns false when out of memory. */
static bool
comb_build(struct curve_run *cr, BN_CTX *bn)
{
    size_t n_win = ((size_t)BN_num_bits(cr->order) + COMB_WIN - 1) / COMB_WIN;
    EC_POINT **t = calloc(n_win * COMB_ROW, sizeof *t);
    EC_POINT *base = EC_POINT_dup(EC_GROUP_get0_generator(cr->g), cr->g);
    bool ok = t != NULL && base != NULL;

    for (size_t i = 0; ok && i < n_win; i++) {
        EC_POINT **row = t + COMB_ROW * i;

        for (size_t j = 0; ok && j < COMB_ROW; j++)
            ok = (row[j] = EC_POINT_new(cr->g)) != NULL &&
                 (j == 0 ? EC_POINT_copy(row[j], base)
                         : EC_POINT_add(cr->g, row[j], row[j - 1], base, bn)) == 1;
        ok = ok && EC_POINT_add(cr->g, base, row[COMB_ROW - 1], base, bn) == 1;
    }
    EC_POINT_free(base);
    if (!ok) {
        comb_free(t, n_win * COMB_ROW);
        return false;
    }
    cr->comb = t;
    cr->n_win = n_win;
    return true;
}

/* cr->pt = d*G for 0 < d < order: with the comb on a ladder curve that may
 * multiply COMB_FROM scalars or more, else with EC_POINT_mul(). The comb's time
 * depends on which windows of d are zero; these are numbers read from a
 * dump, not a signer's key in use. */
static bool
point_mul(struct curve_run *cr, int cv, const BIGNUM *d, BN_CTX *bn)
{
    uint8_t le[MAX_COORD];
    bool ok;

    if (!curves[cv].ladder || cr->want < COMB_FROM ||
        (cr->comb == NULL && !comb_build(cr, bn)))
        return EC_POINT_mul(cr->g, cr->pt, d, NULL, NULL, bn) == 1;
    if (BN_bn2lebinpad(d, le, (int)((cr->n_win * COMB_WIN + 7) / 8)) < 0)
        return false;
    ok = EC_POINT_set_to_infinity(cr->g, cr->pt) == 1;
    for (size_t i = 0; ok && i < cr->n_win; i++) {
        unsigned w = (le[i * COMB_WIN / 8] >> (i * COMB_WIN % 8)) & COMB_ROW;

        if (w != 0)
            ok = EC_POINT_add(cr->g, cr->pt, cr->pt, cr->comb[COMB_ROW * i + w - 1], bn) == 1;
    }
    OPENSSL_cleanse(le, sizeof le);
    return ok;
}

/* The candidate whose value is d^-1 mod n of curve cr, or NULL. An ECDSA
 * signer computes k^-1 for each signature's nonce k, and Go leaves k, k^-1
 * and R = k*G behind as big.Int garbage; no signer computes the inverse of
 * its private key. limbs is scratch of 8 * 9 bytes. */
static const struct cand *
inverse_of(const struct ec_shared *sh, const struct value *v, size_t n_v,
           const struct curve_run *cr, const BIGNUM *d, BN_CTX *bn, uint8_t *limbs)
{
    BIGNUM *inv = BN_secure_new(), *tmp = BN_secure_new();
    const struct cand *c = NULL;

    if (inv != NULL && tmp != NULL && BN_mod_inverse(inv, d, cr->order, bn) != NULL)
        c = find_value(sh, v, n_v, inv, tmp, limbs);
    BN_clear_free(inv);
    BN_clear_free(tmp);
    return c;
}

/* Whether candidate i (of sh->cands, sorted) is the number before it again. */
static bool
repeats(const struct ec_shared *sh, size_t i)
{
    return i > 0 && sh->cands[i].va == sh->cands[i - 1].va &&
           sh->cands[i].top == sh->cands[i - 1].top;
}

/* Whether join() multiplies candidate cd on curve cv (cr) if its number is
 * below the curve's order: a scalar of the curve's size that OpenSSL marks
 * private, or any other library's, or any number when the dump holds an
 * encoded point of the curve. */
static bool
may_multiply(const struct curve_run *cr, int cv, const struct cand *cd)
{
    return !(cr->n_idx == 0 && !cd->prio && cd->kind == K_OPENSSL) &&
           cd->top >= curves[cv].min_top && cd->top <= curves[cv].max_top;
}

/* Proves the candidates of the whole dump. Each scalar d is tried on every
 * curve of its size: d*G is looked up among the public points harvested from
 * encodings and, for a scalar OpenSSL marks private (BN_FLG_CONSTTIME or
 * BN_FLG_SECURE), among the dump's BIGNUMs (find_public_x). */
static dg_err
join(struct ec_shared *sh, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct curve_run run[N_CURVES];
    char (*seen)[65] = NULL;
    size_t n_seen = 0, n_muls = 0, max_seen = sh->n_pts + 256, n_v = 0;
    struct value *v = NULL;
    struct vawin win = {0}; /* the candidates, read in address order */
    BN_CTX *bn = NULL;
    BIGNUM *d = NULL, *x = NULL;
    uint8_t limbs[8 * 9], xb[MAX_COORD];
    dg_err rc = DG_OK;

    if (sh->pts_capped)
        dg_sink_warn(sink, DG_NO_OFFSET, "ec-raw: public point harvest capped (%u per dump, "
                                         "64 per chunk)", MAX_POINTS);
    if (sh->cands_capped)
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "ec-raw: more than %u BIGNUM candidates (or %u in a chunk); the rest "
                     "were skipped",
                     MAX_CANDS, MAX_CHUNK_CANDS);
    memset(run, 0, sizeof run);
    if (dg_dump_va_count(dump) > 0) {
        ecx_finish(sh, dump, sink);
        edx_finish(sh, dump, sink);
    }
    if (sh->n_cands == 0 || dg_dump_va_count(dump) == 0)
        return DG_OK;
    bn = BN_CTX_new();
    d = BN_secure_new();
    x = BN_new();
    seen = calloc(max_seen, sizeof *seen);
    /* Candidates: likely private scalars first, then by address. */
    qsort(sh->cands, sh->n_cands, sizeof *sh->cands, cmp_cand);
    vawin_init(&win, dump);
    read_cands(sh, &win);
    v = index_values(sh, &n_v);
    if (bn == NULL || d == NULL || x == NULL || seen == NULL || v == NULL) {
        rc = DG_E_NOMEM;
        goto out;
    }
    ERR_set_mark();
    read_point_refs(sh, dump);
    for (int cv = 0; cv < N_CURVES; cv++)
        if ((rc = curve_setup(sh, &run[cv], cv, bn)) != DG_OK)
            goto out_mark;
    /* how many scalars each curve may multiply: a ladder curve with enough
     * of them builds its comb before the first (point_mul()) */
    for (size_t i = 0; i < sh->n_cands; i++) {
        if (repeats(sh, i) || cand_bytes(sh, &sh->cands[i]) == NULL)
            continue; /* as the loop below skips them */
        for (int cv = 0; cv < N_CURVES; cv++)
            run[cv].want += may_multiply(&run[cv], cv, &sh->cands[i]);
    }
    for (size_t i = 0; i < sh->n_cands; i++) {
        const struct cand *cd = &sh->cands[i];

        if (repeats(sh, i))
            continue;
        const uint8_t *b = cand_bytes(sh, cd);
        bool found = false, in_range = false;

        if (b == NULL || !cand_number(cd, b, d))
            continue; /* unread or implausible (read_cands()) */
        for (int cv = 0; cv < N_CURVES && !found; cv++) {
            struct curve_run *cr = &run[cv];
            /* d^-1 mod n among the dump's numbers (a nonce), looked for
             * only once d*G matched a point */
            const struct cand *inverse = NULL;
            bool inverted = false;
            struct point q;
            char where[200];

            if (!may_multiply(cr, cv, cd) || BN_cmp(d, cr->order) >= 0)
                continue;
            in_range = true;
            if (n_muls >= MAX_MULS) {
                dg_sink_warn(sink, cd->off,
                             "ec-raw: %u scalar multiplications done; remaining candidates "
                             "skipped",
                             MAX_MULS);
                goto out_mark;
            }
            n_muls++;
            if (!point_mul(cr, cv, d, bn) ||
                EC_POINT_get_affine_coordinates(cr->g, cr->pt, x, NULL, bn) != 1 ||
                BN_bn2binpad(x, xb, (int)curves[cv].coord) != (int)curves[cv].coord)
                continue;
            for (size_t j = 0; j < cr->n_idx && !found; j++) {
                const struct point *p = &sh->pts[cr->idx[j]];

                if (memcmp(p->oct + 1, xb, curves[cv].coord) != 0)
                    continue;
                dg_strlcpyf(where, sizeof where, "public point at file offset 0x%llx",
                            (unsigned long long)p->off);
                if (!inverted) {
                    inverse = inverse_of(sh, v, n_v, cr, d, bn, limbs);
                    inverted = true;
                }
                found = report(sh, dump, cd, d, cv, p, where, inverse, sink, seen, &n_seen,
                               max_seen);
            }
            if (!found && (cd->prio || cd->kind != K_OPENSSL) &&
                find_public_x(sh, v, n_v, cr, cv, x, bn, limbs, &q, where, sizeof where)) {
                if (!inverted)
                    inverse = inverse_of(sh, v, n_v, cr, d, bn, limbs);
                found = report(sh, dump, cd, d, cv, &q, where, inverse, sink, seen, &n_seen,
                               max_seen);
            }
        }
        if (!found && in_range && cd->kind == K_SEC1)
            report_sec1(cd, d, sink);
    }
out_mark:
    ERR_pop_to_mark();
out:
    for (int cv = 0; cv < N_CURVES; cv++) {
        comb_free(run[cv].comb, run[cv].n_win * COMB_ROW);
        EC_POINT_free(run[cv].pt);
        EC_GROUP_free(run[cv].g);
        free(run[cv].idx);
        BN_free(run[cv].p);
        BN_free(run[cv].rr);
    }
    OPENSSL_cleanse(limbs, sizeof limbs);
    vawin_done(&win);
    free(v);
    free(seen);
    BN_clear_free(d);
    BN_free(x);
    BN_CTX_free(bn);
    return rc;
}

static dg_err
ec_finish(void *shared, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct ec_shared *sh = shared;
    dg_err rc = join(sh, dump, sink);

    /* The dump's evidence is dropped: sh is as ec_create() made it. */
    OPENSSL_cleanse(sh->held, sh->n_held * sizeof *sh->held);
    sh->n_held = 0;
    sh->n_pts = sh->n_cands = sh->n_ecx = sh->n_refs = sh->n_jedx = sh->n_edx_pubs = 0;
    sh->pts_capped = sh->cands_capped = sh->ecx_capped = false;
    return rc;
}

/* ---- setup ---- */

static dg_err
ec_create(const struct dg_config *cfg, void **out)
{
    struct ec_shared *sh = calloc(1, sizeof *sh);

    *out = NULL;
    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    /* Each array is written before it is read, below its count: not zeroed,
     * so a file that fills none costs no page of them (zeroing 7 MB a file
     * was most of a small file's scan once glibc reused its heap). */
    sh->pts = malloc(MAX_POINTS * sizeof *sh->pts);
    sh->cands = malloc(MAX_CANDS * sizeof *sh->cands);
    sh->held = malloc(MAX_CANDS * sizeof *sh->held);
    sh->ecx = malloc(MAX_ECX * sizeof *sh->ecx);
    sh->refs = malloc(MAX_REFS * sizeof *sh->refs);
    sh->jedx = malloc(MAX_JEDX * sizeof *sh->jedx);
    sh->edx_pubs = malloc(MAX_EDX_PUBS * sizeof *sh->edx_pubs);
    if (sh->pts == NULL || sh->cands == NULL || sh->held == NULL || sh->ecx == NULL || sh->refs == NULL ||
        sh->jedx == NULL || sh->edx_pubs == NULL || pthread_mutex_init(&sh->lock, NULL) != 0) {
        free(sh->pts);
        free(sh->cands);
        free(sh->held);
        free(sh->ecx);
        free(sh->refs);
        free(sh->jedx);
        free(sh->edx_pubs);
        free(sh);
        return DG_E_NOMEM;
    }
    *out = sh;
    return DG_OK;
}

static dg_err
ec_init(void *shared, void **out)
{
    struct ec_ctx *c = malloc(sizeof *c); /* not zeroed: its arrays are written before
                                           * they are read (as ec_create()'s), its counts
                                           * are set here */

    *out = NULL;
    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    c->n_local = c->max_local = c->n_ecx = c->n_refs = c->n_edx_pubs = 0;
    c->local_capped = c->ecx_capped = false;
    *out = c;
    return DG_OK;
}

static void
ec_release(void *ctx)
{
    struct ec_ctx *c = ctx;

    if (c != NULL)
        OPENSSL_cleanse(c->local_bytes, c->max_local * sizeof *c->local_bytes);
    free(c);
}

static void
ec_destroy(void *shared)
{
    struct ec_shared *sh = shared;

    if (sh == NULL)
        return;
    free(sh->pts);
    free(sh->cands);
    OPENSSL_cleanse(sh->held, sh->n_held * sizeof *sh->held);
    free(sh->held);
    free(sh->ecx);
    free(sh->refs);
    free(sh->jedx);
    free(sh->edx_pubs);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

static const char *const ec_forms[] = {"bn-le64", "bn-be", "sec1-bare", "ecx-raw", "rfc8410-octet",
                                       NULL};

/* the first three bytes of point_header()'s BIT STRINGs, of
 * collect_sec1()'s encodings and of collect_edx_pub()'s BIT STRINGs */
static const struct dg_trigger triggers[] = {
    {3, {0x03, 0x42, 0x00}, 0}, {3, {0x03, 0x62, 0x00}, 0}, {3, {0x03, 0x81, 0x86}, 0},
    {3, {0x30, 0x25, 0x02}, 0}, {3, {0x30, 0x35, 0x02}, 0}, {3, {0x30, 0x47, 0x02}, 0},
    {3, {0x03, 0x21, 0x00}, 0}, {3, {0x03, 0x3a, 0x00}, 0}, {0, {0}, 0},
};

const struct dg_detector dg_detector_ec_raw = {
    .abi = DG_DETECTOR_ABI,
    .name = "ec-raw",
    .summary = "EC private scalars in library big numbers and the JDK's SEC1 {1, d}, matched to "
               "public points in the dump; Ed25519/X25519/Ed448/X448 keys in OpenSSL ECX_KEY "
               "structs and the JDK's RFC 8410 encodings",
    .forms = ec_forms,
    .severity = DG_SEV_HIGH,
    .max_span = 1 + 24 + 2 * MAX_COORD + 8, /* a header, or a point with its OID */
    .flags = DG_DET_BINARY | DG_DET_NO_IMAGES,
    .default_on = true,
    .create = ec_create,
    .init = ec_init,
    .scan = ec_scan,
    .release = ec_release,
    .finish = ec_finish,
    .destroy = ec_destroy,
    .triggers = triggers,
};
