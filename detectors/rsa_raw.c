/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * rsa_raw.c - finds RSA private keys stored as raw numbers (OpenSSL/Go/Rust
 * little-endian 64-bit limbs, CNG/.NET big-endian bytes, Java BigInteger int[]
 * magnitudes) by predict-and-join on e*dP = 1 + k(p-1), e = 65537.
 *
 * Every 8-aligned window of k = 8, 16, 24 or 32 words in a 4 KiB block near a
 * run of three random-looking words (chunk_random_near(): a number of eight
 * words or more holds one but once in 40,000) that passes a cheap
 * entropy gate (at most 1 + k / 8 low-entropy words, none with four or more
 * zero or 0xff bytes, and not all of its 32-bit halves within 2^30 of one
 * another: clustered()) and looks like an odd, full-length number yields,
 * from the window's sum modulo 2^64-1 and its low word, the exact low
 * 64-bit word its CRT exponent dP must have (reference/keyforms.md section
 * 7). The predicted words are joined against the words stored within
 * RSA_RADIUS bytes: a batch of predictions goes into a bitmap and a small
 * hash table, and one pass over the words within the radius of the batch's
 * windows looks each word up; a 64-bit coincidence is then verified exactly
 * (dP == e^-1 mod (p-1)).
 * scan() only collects verified (p, dP) pairs and the moduli it finds next to
 * them into the shared state; finish() de-duplicates primes by value, tests
 * primality, pairs primes through a modulus found in memory (p*q = n, or
 * n mod p = 0), proves the key with keyproof and reports it once. A prime with its CRT exponent but no modulus is reported as a
 * confirmed "rsa-prime". Numbers further apart than RSA_RADIUS are joined
 * through the library headers that point at them (OpenSSL BIGNUM, Go big.Int,
 * mbedtls_mpi: collect_numbers() in scan(), in the 4 KiB blocks near a word
 * that may point into the dump, chunk_kept_span(); join_numbers() in
 * finish(), by address; see "numbers behind library headers" below).
 * Cross-representation pairs (Go 1.24 FIPS: p LE, dP BE), 4-aligned Java
 * arrays and exponents other than 65537 are not handled.
 * A file's read-only image (chunk_span_end(): code, read-only data, a file
 * mapped for reading) holds no number the process computed and is skipped.
 * Findings never carry key bytes; the key_sha256 of a lone prime is a hash.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/engine/chunkmemo.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/wordflags.h"
#include "../scanner/util/words.h"
#include "rsa_tables.h"

#define RSA_E 65537u
#define RSA_RADIUS_WORDS 16384u                  /* join radius: 128 KiB */
#define RSA_RANDOM_RUN 3u                        /* a number of 8 words or more holds a run
                                                  * of this many that are not low entropy
                                                  * (but once in 40,000 for 8 words) */
#define SUB_WORDS 514u                           /* window starts per inner pass */
#define N_SIZES 4                                /* k = 8, 16, 24, 32 words */
#define MAX_K 32u
#define SUB_PREDS (SUB_WORDS * N_SIZES * N_REPS) /* predictions of one sub-block, at most */
#define BATCH_PREDS 16384u                       /* predictions joined in one pass */
#define BATCH_RANGES 256u                        /* word ranges of one batch */
#define PMAP_BITS 18                             /* batch bitmap: 2^18 bits, 32 KiB */
#define PHEAD_BITS 14                            /* batch hash heads: 2^14 */
#define ANCHOR_WORDS 64u                         /* anchor gate radius: 512 bytes */
#define ANCHOR_BAD 8u                            /* an anchor inside a window: > 1 + MAX_K / 8 */
#define STRICT_TOP 0xB504F333F9DE6484ull         /* floor(sqrt(2) * 2^63) */
#define MAX_VERIFY_PER_CHUNK 256u                /* exact checks per chunk */
#define MAX_PRIMES 4096u                         /* (p, dP) pairs kept per dump */
#define MAX_MODULI 1024u                         /* moduli kept per dump */
#define MAX_MOD_SEARCH_PER_CHUNK 8u              /* divisibility searches per chunk */
#define FINISH_SEARCH_RADIUS (512u << 10)        /* bytes around a prime, by VA */
#define MAX_FINISH_SEARCHES 64u
#define MAX_CHUNK_NUMS 2048u                     /* number headers per chunk */
#define MAX_NUMS 65536u                          /* number headers per dump */
#define MAX_NUM_PRIMES 4096u                     /* prime-sized numbers tried per dump */
#define MAX_NUM_MODULI 4096u                     /* moduli tried per structural prime */

enum rep { REP_LE = 0, REP_BE = 1, REP_JAVA = 2, N_REPS = 3 };

_Static_assert(RSA_E == RSA_TABLE_E, "rsa_tables.h is made for this exponent");
_Static_assert(ANCHOR_BAD > 1 + MAX_K / 8, "a window holding a structured word never passes");
_Static_assert((SUB_WORDS + MAX_K + 2 * ANCHOR_WORDS) * (1 + ANCHOR_BAD) <= UINT16_MAX,
               "the prefix counts of low-entropy words fit in 16 bits");

static const unsigned sizes[N_SIZES] = {8, 16, 24, 32};
static const char *const rep_encoding[N_REPS] = {"bn-le64", "bn-be", "java-int"};

/* A verified (p, dP) pair: p's value and where it was. */
struct prime_hit {
    BIGNUM *p;            /* owned, cleared on free */
    uint64_t off;         /* file offset of p's window */
    uint64_t dp_off;      /* file offset of dP's window */
    unsigned k;           /* words */
    enum rep rep;
};

/* A big number that a library header points at: OpenSSL BIGNUM, Go big.Int
 * or mbedtls_mpi with a limb count an RSA number has (collect_numbers()). */
struct num_ref {
    uint64_t va;          /* its limbs, LE 64-bit words */
    uint64_t hdr_off;     /* file offset of the header */
    unsigned k;           /* limbs */
};

/* A modulus found next to a prime during scan(). */
struct modulus_hit {
    BIGNUM *n;            /* public */
    uint64_t off;
    enum rep rep;
};

struct rsa_shared {
    pthread_mutex_t lock;
    uint64_t einv64;      /* E^-1 mod 2^64 */
    bool strict[N_REPS];  /* top word >= floor(sqrt2 * 2^63) instead of top bit */
    struct prime_hit *hits;
    size_t n_hits;
    bool hits_capped;
    struct modulus_hit *mods;
    size_t n_mods;
    bool mods_capped;
    bool verify_capped;
    struct num_ref *nums; /* numbers behind library headers */
    size_t n_nums;
    bool nums_capped;
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
};

struct rsa_ctx {
    const struct rsa_shared *sh;
    struct rsa_shared *shw;      /* same object, for the locked appends */
    uint64_t *pre[N_REPS];       /* prefix sums mod 2^64-1, SUB_WORDS + MAX_K + 1 */
    uint16_t *bad;               /* prefix count of low-entropy words, a
                                  * structured one counting ANCHOR_BAD */
    uint16_t *anc;               /* prefix count of anchor words */
    struct dg_chunk_memo *memo;  /* the chunk's word flags (chunk_memo_of()) */
    struct dg_chunk_memo own;    /* used when the chunk carries no memo */
    bool avx2;                   /* dg_cpu_avx2() */
    uint8_t *sf, *ef;            /* start / end flags per word */
    uint32_t *cand;              /* candidate window starts, one list per layout */
    /* the batch of predictions not yet joined (join_batch()) */
    uint64_t *pred;              /* predicted dP low word in memory form */
    uint64_t *pcand;             /* its window: start word | kidx << 32 | rep << 34 */
    size_t n_pred;
    uint32_t *pnext;             /* hash chain: index + 1 of the next, 0 ends */
    uint32_t *phead;             /* 2^PHEAD_BITS chain heads, index + 1 */
    uint64_t *pmap;              /* 2^PMAP_BITS bits: some prediction folds here */
    size_t rlo[BATCH_RANGES], rhi[BATCH_RANGES]; /* words to look up, ascending */
    size_t n_ranges;
    BN_CTX *bn;
    unsigned n_verify;           /* exact checks in this chunk */
    bool verify_capped;          /* n_verify reached its cap in this chunk */
    /* verified pairs of the current chunk, moved to shared at its end */
    struct prime_hit local[64];
    size_t n_local;
    bool local_capped;
    /* number headers of the current chunk, moved to shared at its end */
    struct num_ref *nums;
    size_t n_nums;
    bool nums_capped;
};

/* ---- small word helpers ---- */

static inline uint64_t
bswap64(uint64_t x)
{
    return __builtin_bswap64(x);
}

static inline uint64_t
rotl32(uint64_t x)
{
    return x << 32 | x >> 32;
}

/* a + b mod 2^64-1 (2^64-1 itself also stands for 0). */
static inline uint64_t
addm(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;

    return s + (s < a);
}

/* a - b mod 2^64-1. */
static inline uint64_t
subm(uint64_t a, uint64_t b)
{
    return a - b - (a < b);
}

/* The batch bitmap's index of a word (any bits serve: predictions are
 * uniformly distributed, so a word sets off a look-up with the bitmap's fill
 * probability whatever it holds). */
static inline size_t
pfold(uint64_t w)
{
    return (size_t)((w ^ w >> 25 ^ w >> 47) & ((1u << PMAP_BITS) - 1));
}

/* ---- numbers in the three layouts ---- */

/* Decodes the k-word window at p in layout rep into bn. */
static bool
decode(const uint8_t *p, unsigned k, enum rep rep, BIGNUM *bn)
{
    uint8_t tmp[16 * MAX_K]; /* a modulus has 2k words */
    bool ok;

    if (rep == REP_LE)
        return BN_lebin2bn(p, (int)(8 * k), bn) != NULL;
    if (rep == REP_BE)
        return BN_bin2bn(p, (int)(8 * k), bn) != NULL;
    for (unsigned g = 0; g < 2 * k; g++) {
        tmp[4 * g] = p[4 * g + 3];
        tmp[4 * g + 1] = p[4 * g + 2];
        tmp[4 * g + 2] = p[4 * g + 1];
        tmp[4 * g + 3] = p[4 * g];
    }
    ok = BN_bin2bn(tmp, (int)(8 * k), bn) != NULL;
    OPENSSL_cleanse(tmp, sizeof tmp);
    return ok;
}

/* True if dp == e^-1 mod (p-1), i.e. dP is p's exact CRT exponent. */
static bool
crt_exponent_matches(const BIGNUM *p, const BIGNUM *dp, BN_CTX *bn)
{
    BIGNUM *pm1, *e, *inv;
    bool ok = false;

    BN_CTX_start(bn);
    pm1 = BN_CTX_get(bn);
    e = BN_CTX_get(bn);
    inv = BN_CTX_get(bn);
    ERR_set_mark();
    if (inv != NULL && BN_is_odd(p) && BN_sub(pm1, p, BN_value_one()) &&
        BN_set_word(e, RSA_E) && BN_mod_inverse(inv, e, pm1, bn) != NULL)
        ok = BN_cmp(inv, dp) == 0;
    ERR_pop_to_mark();
    BN_CTX_end(bn);
    return ok;
}

/* ---- modulus search ---- */

/* Looks in buf[0..len) (byte 0 at file offset off, 8-aligned at phase a) for a
 * 2k-word window in any layout that p divides, within [lo, hi) byte positions.
 * On success sets *n_out (new BIGNUM), *at and *rep_out. Cost: about one BN_mod
 * per odd full-length window. */
static bool
find_modulus(const uint8_t *buf, size_t len, size_t a, size_t lo, size_t hi, const BIGNUM *p,
             unsigned k, BN_CTX *bn, BIGNUM **n_out, size_t *at, enum rep *rep_out)
{
    unsigned kn = 2 * k;
    BIGNUM *n, *r;
    bool found = false;

    if (len < a + 8 * kn)
        return false;
    if (hi > len - 8 * kn + 1)
        hi = len - 8 * kn + 1;
    if (lo < a)
        lo = a;
    lo = a + (lo - a + 7) / 8 * 8;
    BN_CTX_start(bn);
    n = BN_CTX_get(bn);
    r = BN_CTX_get(bn);
    for (size_t x = lo; n != NULL && r != NULL && x < hi && !found; x += 8) {
        uint64_t first = load_le64(buf + x), last = load_le64(buf + x + 8 * (kn - 1));
        unsigned m = (unsigned)((first & 1) && (last >> 63)) |
                     (unsigned)(((first >> 7) & 1) && ((last >> 56) & 1)) << 1 |
                     (unsigned)(((first >> 31) & 1) && ((last >> 32) & 1)) << 2;

        for (int rp = 0; rp < N_REPS && !found; rp++) {
            if (!(m >> rp & 1))
                continue;
            ERR_set_mark();
            if (decode(buf + x, kn, (enum rep)rp, n) && BN_mod(r, n, p, bn) && BN_is_zero(r) &&
                BN_num_bits(n) == (int)(128 * k) && BN_cmp(n, p) != 0) {
                *n_out = BN_dup(n);
                *at = x;
                *rep_out = (enum rep)rp;
                found = *n_out != NULL;
            }
            ERR_pop_to_mark();
        }
    }
    BN_CTX_end(bn);
    return found;
}

/* ---- scan ---- */

/* Appends a verified pair to the chunk-local list (taking ownership of p). */
static void
local_add(struct rsa_ctx *c, BIGNUM *p, uint64_t off, uint64_t dp_off, unsigned k, enum rep rep)
{
    for (size_t i = 0; i < c->n_local; i++)
        if (c->local[i].off == off && c->local[i].rep == rep && c->local[i].k == k) {
            BN_clear_free(p);
            return;
        }
    if (c->n_local >= sizeof c->local / sizeof c->local[0]) {
        c->local_capped = true;
        BN_clear_free(p);
        return;
    }
    c->local[c->n_local++] = (struct prime_hit){p, off, dp_off, k, rep};
}

/* Stored word y equals the prediction from window x (size k, layout rep):
 * verifies the pair when y is where dP's low word would lie, within the
 * radius and owned by this chunk. */
static void
verify_pair(struct rsa_ctx *c, const struct dg_chunk *ch, size_t a, size_t n_words, size_t x,
            unsigned k, enum rep rep, size_t y)
{
    const uint8_t *w = ch->p + a;
    size_t dp;
    BIGNUM *p, *d;
    bool ok;

    if (rep == REP_LE) {
        dp = y;
    } else {
        if (y + 1 < k)
            return;
        dp = y + 1 - k;
    }
    if (dp == x || dp + k > n_words || (dp > x ? dp - x : x - dp) > RSA_RADIUS_WORDS)
        return;
    if (a + 8 * (dp < x ? dp : x) >= ch->owned)
        return; /* the pair belongs to the next chunk */
    if (c->n_verify >= MAX_VERIFY_PER_CHUNK) {
        c->verify_capped = true;
        return;
    }
    c->n_verify++;
    p = BN_secure_new();
    d = BN_secure_new();
    ok = p != NULL && d != NULL && decode(w + 8 * x, k, rep, p) &&
         decode(w + 8 * dp, k, rep, d) && crt_exponent_matches(p, d, c->bn);
    BN_clear_free(d);
    if (ok)
        local_add(c, p, ch->off + a + 8 * x, ch->off + a + 8 * dp, k, rep);
    else
        BN_clear_free(p);
}

/* Joins the batch of predictions against the words of its ranges: each
 * prediction is hashed into pmap and a chain, then every word of the ranges
 * whose fold is set in pmap is compared with the predictions of its chain.
 * Empties the batch. */
static void
join_batch(struct rsa_ctx *c, const struct dg_chunk *ch, size_t a, size_t n_words)
{
    const uint8_t *w = ch->p + a;
    const size_t hmask = ((size_t)1 << PHEAD_BITS) - 1;

    for (size_t i = 0; i < c->n_pred; i++) {
        size_t f = pfold(c->pred[i]);

        c->pmap[f >> 6] |= 1ull << (f & 63);
        c->pnext[i] = c->phead[f & hmask];
        c->phead[f & hmask] = (uint32_t)(i + 1);
    }
    for (size_t r = 0; r < c->n_ranges && !c->verify_capped; r++) {
        for (size_t y = c->rlo[r]; y < c->rhi[r]; y++) {
            uint64_t v = load_le64(w + 8 * y);
            size_t f = pfold(v);

            if (!(c->pmap[f >> 6] >> (f & 63) & 1))
                continue;
            for (uint32_t j = c->phead[f & hmask]; j != 0; j = c->pnext[j - 1]) {
                uint64_t t = c->pcand[j - 1];

                if (c->pred[j - 1] == v)
                    verify_pair(c, ch, a, n_words, (size_t)(t & 0xffffffffu),
                                sizes[(t >> 32) & 3], (enum rep)(t >> 34), y);
            }
        }
    }
    for (size_t i = 0; i < c->n_pred; i++) {
        size_t f = pfold(c->pred[i]);

        c->pmap[f >> 6] = 0;
        c->phead[f & hmask] = 0;
    }
    c->n_pred = 0;
    c->n_ranges = 0;
}

/* Sieves the candidate windows list[0..n) of size k in layout rep (start i
 * relative to w, the chunk's word s) and appends the predicted low word of
 * dP, in the layout's memory form, to c->pred from index n_pred, and the
 * window's chunk word to c->pcand. Returns the new count. Kept
 * inline so that rep is a constant in each copy. */
static inline __attribute__((always_inline)) size_t
predict(struct rsa_ctx *c, const uint8_t *w, size_t s, unsigned k, unsigned ki, enum rep rep,
        const uint32_t *list, size_t n, size_t n_pred)
{
    const struct rsa_shared *sh = c->sh;
    const uint64_t *pre = c->pre[rep];
    const uint16_t *inv1 = rsa_inv1;
    const uint8_t *coprime = rsa_coprime;
    const uint64_t einv = sh->einv64;
    const uint64_t tag = (uint64_t)ki << 32 | (uint64_t)rep << 34;

    for (size_t ci = 0; ci < n; ci++) {
        size_t i = list[ci];
        uint64_t sum = subm(pre[i + k], pre[i]);
        uint64_t lo = load_le64(w + 8 * (i + (rep == REP_LE ? 0 : k - 1)));
        uint64_t p0 = rep == REP_LE ? lo : rep == REP_BE ? bswap64(lo) : rotl32(lo);
        unsigned r65535 = (unsigned)(sum % 65535u);
        unsigned r = (unsigned)(sum % RSA_E);
        unsigned ok = ((coprime[r65535 >> 3] >> (r65535 & 7)) & 1) & (r >= 2);
        uint64_t kp = RSA_E - (uint64_t)inv1[r >= 2 ? r - 1 : 1] - 1;
        uint64_t pred = (1 + kp * (p0 - 1)) * einv;

        c->pred[n_pred] = rep == REP_LE ? pred : rep == REP_BE ? bswap64(pred) : rotl32(pred);
        c->pcand[n_pred] = (uint64_t)(s + i) | tag;
        n_pred += ok;
    }
    return n_pred;
}

/* True if some 8-word window among the span words whose word_flags() are fw
 * holds at most two low-entropy words and no structured one. Each word
 * counts fw & (WF_BAD | WF_ANCHOR): 1 when low entropy, 3 when structured
 * (a structured word is low entropy too). */
static bool
any_dense8(const uint8_t *fw, size_t span)
{
    size_t i = 0;

#ifdef __SSE2__
    const __m128i bad = _mm_set1_epi8(WF_BAD | WF_ANCHOR), three = _mm_set1_epi8(3);

    /* 16 windows at a time: window i + j counts fw[i + j .. i + j + 8) */
    for (; i + 16 + 7 <= span; i += 16) {
        __m128i n = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(fw + i)), bad);

        for (size_t k = 1; k < 8; k++)
            n = _mm_add_epi8(
                n, _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(fw + i + k)), bad));
        if (_mm_movemask_epi8(_mm_cmplt_epi8(n, three)) != 0)
            return true;
    }
#endif
    for (; i + 8 <= span; i++) {
        unsigned n = 0;

        for (size_t k = 0; k < 8; k++)
            n += fw[i + k] & (WF_BAD | WF_ANCHOR);
        if (n <= 2)
            return true;
    }
    return false;
}

/* True if the 2k 32-bit halves of the k words at w lie within 2^30 of one
 * another: an array of 32-bit references into one heap (a JVM's compressed
 * references, two to a word) does, the halves of a random number one time
 * in 10^8 (k = 8: 16 * 4^-15). They were most of rsa-raw's candidates on
 * the real benchmark core once its objects' mark words ruled out the rest. */
static bool
clustered(const uint8_t *w, unsigned k)
{
    uint32_t lo = UINT32_MAX, hi = 0;

    for (unsigned q = 0; q < k; q++) {
        uint64_t v = load_le64(w + 8 * q);
        uint32_t a = (uint32_t)v, b = (uint32_t)(v >> 32);

        lo = a < lo ? a : lo;
        lo = b < lo ? b : lo;
        hi = a > hi ? a : hi;
        hi = b > hi ? b : hi;
        if (hi - lo >= 1u << 30)
            return false;
    }
    return true;
}

/* Appends window start i (relative to s; its words at w) to the lists of
 * the layouts in m (bit r: layout r) when a structured word lies within
 * ANCHOR_WORDS of the window (see scan_sub()) and its halves are not
 * clustered(). */
static inline void
take(const struct rsa_ctx *c, const uint8_t *w, size_t s, size_t alo, size_t ahi, unsigned k,
     size_t i, unsigned m, uint32_t *cl[N_REPS], size_t nl[N_REPS])
{
    size_t a0 = s + i >= ANCHOR_WORDS ? s + i - ANCHOR_WORDS - alo : 0;
    size_t a1 = s + i + k + ANCHOR_WORDS < ahi ? s + i + k + ANCHOR_WORDS - alo : ahi - alo;

    if ((c->anc[a1] == c->anc[a0] && s + i >= ANCHOR_WORDS) || clustered(w + 8 * i, k))
        return;
    for (unsigned r = 0; r < N_REPS; r++) {
        cl[r][nl[r]] = (uint32_t)i;
        nl[r] += (m >> r) & 1;
    }
}

/* Pass 2 for windows of k words starting at [0, end) relative to s: a window
 * is a candidate in layout r when its first word's start flag and its last
 * word's end flag for r are set and at most 1 + k / 8 of its words are low
 * entropy (bw: prefix counts from s; w: the words from s), and take()
 * keeps it. Most windows of real memory fail the entropy test, so the flags
 * of 16 windows are combined at once and only the survivors are looked at
 * one by one. */
static void
gate(struct rsa_ctx *c, const uint8_t *w, size_t s, size_t alo, size_t ahi, const uint16_t *bw,
     unsigned k, size_t end, uint32_t *cl[N_REPS], size_t nl[N_REPS])
{
    const unsigned lim = 1 + k / 8;
    const uint8_t *sf = c->sf, *ef = c->ef + (k - 1);
    size_t i = 0;

#ifdef __SSE2__
    const __m128i limv = _mm_set1_epi16((short)(lim + 1)), zero = _mm_setzero_si128();

    /* sf, ef and bad are allocated 16 entries longer than a span */
    for (; i + 16 <= end; i += 16) {
        __m128i d0 = _mm_sub_epi16(_mm_loadu_si128((const __m128i *)(const void *)(bw + i + k)),
                                   _mm_loadu_si128((const __m128i *)(const void *)(bw + i)));
        __m128i d1 =
            _mm_sub_epi16(_mm_loadu_si128((const __m128i *)(const void *)(bw + i + k + 8)),
                          _mm_loadu_si128((const __m128i *)(const void *)(bw + i + 8)));
        __m128i ok = _mm_packs_epi16(_mm_cmplt_epi16(d0, limv), _mm_cmplt_epi16(d1, limv));
        __m128i m = _mm_and_si128(
            ok, _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(sf + i)),
                              _mm_loadu_si128((const __m128i *)(const void *)(ef + i))));
        unsigned any = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(m, zero)) & 0xffffu;
        uint8_t mb[16];

        if (any == 0)
            continue;
        _mm_storeu_si128((__m128i *)(void *)mb, m);
        for (; any != 0; any &= any - 1) {
            unsigned j = (unsigned)__builtin_ctz(any);

            take(c, w, s, alo, ahi, k, i + j, mb[j], cl, nl);
        }
    }
#endif
    for (; i < end; i++)
        if ((unsigned)(bw[i + k] - bw[i]) <= lim && (sf[i] & ef[i]) != 0)
            take(c, w, s, alo, ahi, k, i, sf[i] & ef[i], cl, nl);
}

/* Processes window starts [s, e) of the chunk's words (all inside one block). */
static void
scan_sub(struct rsa_ctx *c, const struct dg_chunk *ch, size_t a, size_t n_words, size_t s,
         size_t e)
{
    const struct rsa_shared *sh = c->sh;
    const uint8_t *w = ch->p + a;
    size_t span = e - s + MAX_K - 1;
    uint64_t acc[N_REPS] = {0, 0, 0};
    unsigned bad = 0, n_anc = 0, any = 0;
    size_t n_pred, n_cand = 0, alo, ahi;
    const uint8_t *fl;
    const uint16_t *bw;
    uint32_t *cl[N_SIZES][N_REPS];
    size_t nl[N_SIZES][N_REPS] = {{0}};

    if (span > n_words - s)
        span = n_words - s;
    /* Pass 0, over the windows' words and ANCHOR_WORDS on either side:
     * prefix counts of low-entropy words (no window passes the entropy gate
     * with fewer than 6 good words) and of anchor words. The anchor gate: a
     * window is searched only when a structured word (four or more zero or
     * 0xff bytes: a size field, an array length, a pointer, padding) lies
     * within ANCHOR_WORDS of it. Allocators, runtimes and key blobs put one
     * right before a number; uniformly random bytes have one in 3 * 10^7
     * words. Windows that begin within ANCHOR_WORDS of the chunk's start
     * always pass: what precedes the chunk is not visible here. */
    alo = s >= ANCHOR_WORDS ? s - ANCHOR_WORDS : 0;
    ahi = s + span + ANCHOR_WORDS < n_words ? s + span + ANCHOR_WORDS : n_words;
    fl = chunk_word_flags(c->memo, alo, ahi) + alo; /* fl[j]: word alo + j */
    /* A number's words look random: where no run of such words is near,
     * no window begins (chunk_random_near(), from the flags just made). */
    if (!chunk_random_near(c->memo, s / MEMO_BLOCK_WORDS, RSA_RANDOM_RUN) &&
        !chunk_random_near(c->memo, (s + span - 1) / MEMO_BLOCK_WORDS, RSA_RANDOM_RUN))
        return;
    {
        const uint8_t *fw = fl + (s - alo);
        unsigned n_bad = 0;

        for (size_t j = 0; j < span; j++)
            n_bad += fw[j] & WF_BAD;
        for (size_t j = 0; j < ahi - alo; j++)
            any |= fl[j];
        if (span - n_bad < sizes[0] - 1 - sizes[0] / 8 ||
            (!(any & WF_ANCHOR) && s >= ANCHOR_WORDS))
            return;
        /* Every window that passes the entropy gate below holds an 8-word
         * window with at most two low-entropy words and no structured one
         * (split it in k / 8 parts: one has at most one), so a sub-block
         * without one has no candidate. */
        if (!any_dense8(fw, span))
            return;
    }
    /* A structured word (WF_ANCHOR) inside a window counts as ANCHOR_BAD
     * low-entropy words, more than any window allows: a limb of a random
     * number has four zero or four 0xff bytes with probability 3 * 10^-8,
     * while the objects of a managed heap (a JVM's mark words among fields
     * and references) put one every few words between runs of random-
     * looking ones, and made nine in ten of the candidates of the real
     * benchmark core. */
    c->anc[0] = c->bad[0] = 0;
    for (size_t j = 0; j < ahi - alo; j++) {
        bad += (fl[j] & WF_BAD) + (fl[j] & WF_ANCHOR ? ANCHOR_BAD : 0);
        n_anc += (fl[j] & WF_ANCHOR) >> 1;
        c->anc[j + 1] = (uint16_t)n_anc;
        c->bad[j + 1] = (uint16_t)bad;
    }
    bw = c->bad + (s - alo);
    /* Pass 1: each word's layout flags: sf, the low word of a number in
     * layout r is odd (bit r); ef, its top word is full (bit r). */
    {
        const bool st_le = sh->strict[REP_LE], st_be = sh->strict[REP_BE];
        const bool st_java = sh->strict[REP_JAVA];
        uint8_t *sf = c->sf, *ef = c->ef;

        for (size_t j = 0; j < span; j++) {
            uint64_t v = load_le64(w + 8 * (s + j));
            uint64_t vb = bswap64(v), vj = rotl32(v);
            unsigned be_top = st_be ? (vb >= STRICT_TOP) : (unsigned)((v >> 7) & 1);
            unsigned java_top = st_java ? (vj >= STRICT_TOP) : (unsigned)((v >> 31) & 1);
            unsigned le_top = st_le ? (v >= STRICT_TOP) : (unsigned)(v >> 63);

            sf[j] = (uint8_t)((v & 1) | be_top << 1 | java_top << 2);
            ef[j] = (uint8_t)(le_top | ((v >> 56) & 1) << 1 | ((v >> 32) & 1) << 2);
        }
    }
    /* Pass 2, per window size and layout: candidate windows (gate, top and
     * odd), one list each. */
    for (unsigned ki = 0; ki < N_SIZES; ki++) {
        unsigned k = sizes[ki];
        size_t end = span >= k ? span - k + 1 : 0;

        for (int r = 0; r < N_REPS; r++)
            cl[ki][r] = c->cand + (ki * N_REPS + (size_t)r) * (SUB_WORDS + 1);
        if (end > e - s)
            end = e - s;
        gate(c, w + 8 * s, s, alo, ahi, bw, k, end, cl[ki], nl[ki]);
        n_cand += nl[ki][0] + nl[ki][1] + nl[ki][2];
    }
    if (n_cand == 0)
        return;
    /* Pass 3: per-word prefix sums modulo 2^64 - 1 in each layout, then the
     * candidates sieved and predicted by code specialised for the layout. */
    c->pre[0][0] = c->pre[1][0] = c->pre[2][0] = 0;
    for (size_t j = 0; j < span; j++) {
        uint64_t v = load_le64(w + 8 * (s + j));

        acc[0] = addm(acc[0], v);
        acc[1] = addm(acc[1], bswap64(v));
        acc[2] = addm(acc[2], rotl32(v));
        c->pre[0][j + 1] = acc[0];
        c->pre[1][j + 1] = acc[1];
        c->pre[2][j + 1] = acc[2];
    }
    n_pred = c->n_pred;
    for (unsigned ki = 0; ki < N_SIZES; ki++) {
        n_pred = predict(c, w + 8 * s, s, sizes[ki], ki, REP_LE, cl[ki][0], nl[ki][0], n_pred);
        n_pred = predict(c, w + 8 * s, s, sizes[ki], ki, REP_BE, cl[ki][1], nl[ki][1], n_pred);
        n_pred = predict(c, w + 8 * s, s, sizes[ki], ki, REP_JAVA, cl[ki][2], nl[ki][2], n_pred);
    }
    if (n_pred == c->n_pred)
        return;
    c->n_pred = n_pred;
    /* Pass 4, the join, is the batch's (join_batch()): the words within the
     * radius of these windows, where dP's low word may lie, are added to the
     * batch's ranges (merged with the last one when they meet). */
    {
        size_t lo = s > RSA_RADIUS_WORDS ? s - RSA_RADIUS_WORDS : 0;
        size_t hi = e + RSA_RADIUS_WORDS + MAX_K - 1 < n_words ? e + RSA_RADIUS_WORDS + MAX_K - 1
                                                               : n_words;

        if (c->n_ranges > 0 && lo <= c->rhi[c->n_ranges - 1]) {
            c->rhi[c->n_ranges - 1] = hi;
        } else {
            c->rlo[c->n_ranges] = lo;
            c->rhi[c->n_ranges++] = hi;
        }
    }
    if (c->n_pred >= BATCH_PREDS || c->n_ranges == BATCH_RANGES)
        join_batch(c, ch, a, n_words); /* the next sub-block's SUB_PREDS still fit */
}

/* Moves the chunk's verified pairs, and any modulus found near them in the
 * chunk, into the shared state. */
static void
publish(struct rsa_ctx *c, const struct dg_chunk *ch, size_t a)
{
    struct rsa_shared *sh = c->shw;
    struct modulus_hit found[MAX_MOD_SEARCH_PER_CHUNK];
    size_t n_found = 0, n_search = 0;

    for (size_t i = 0; i < c->n_local && n_search < MAX_MOD_SEARCH_PER_CHUNK; i++) {
        const struct prime_hit *h = &c->local[i];
        size_t x = (size_t)(h->off - ch->off), lo, hi, at = 0;
        BIGNUM *n = NULL;
        enum rep rp = REP_LE;
        bool dup = false;

        for (size_t j = 0; j < i && !dup; j++)
            dup = BN_cmp(c->local[j].p, h->p) == 0;
        for (size_t j = 0; j < n_found && !dup; j++) {
            BIGNUM *r = BN_new();

            dup = r != NULL && BN_mod(r, found[j].n, h->p, c->bn) && BN_is_zero(r);
            BN_free(r);
        }
        if (dup)
            continue;
        n_search++;
        lo = x > 8 * RSA_RADIUS_WORDS ? x - 8 * RSA_RADIUS_WORDS : 0;
        hi = x + 8 * RSA_RADIUS_WORDS;
        if (find_modulus(ch->p, ch->len, a, lo, hi, h->p, h->k, c->bn, &n, &at, &rp))
            found[n_found++] = (struct modulus_hit){n, ch->off + at, rp};
    }
    pthread_mutex_lock(&sh->lock);
    for (size_t i = 0; i < c->n_local; i++) {
        if (sh->n_hits >= MAX_PRIMES) {
            sh->hits_capped = true;
            BN_clear_free(c->local[i].p);
            continue;
        }
        sh->hits[sh->n_hits++] = c->local[i];
    }
    for (size_t i = 0; i < n_found; i++) {
        if (sh->n_mods >= MAX_MODULI) {
            sh->mods_capped = true;
            BN_free(found[i].n);
            continue;
        }
        sh->mods[sh->n_mods++] = found[i];
    }
    if (c->local_capped)
        sh->hits_capped = true;
    if (c->verify_capped)
        sh->verify_capped = true;
    pthread_mutex_unlock(&sh->lock);
    c->n_local = 0;
    c->local_capped = false;
}

/* ---- numbers behind library headers ---- */

/* The predict-and-join above pairs p with dP only within RSA_RADIUS bytes.
 * Allocators do not promise that: the Go runtime puts each number in the span
 * of its size class, and p (made by SetBytes, spare capacity) and dP (made by
 * a division) land in different spans, often further apart; a long-running
 * OpenSSL process's heap scatters the BIGNUMs of one key the same way. So
 * scan() also collects the headers that point at RSA-sized numbers, and
 * finish() joins those numbers through the address map, wherever they are:
 *   OpenSSL BIGNUM  {d*, int top, int dmax, int neg, int flags}   count at +8
 *   Go big.Int      {bool neg, nat {ptr, len, cap}}                count at +16
 *   mbedtls_mpi 2.x {int s (1 or -1), size_t n, uint64 *p}         count at +8
 * (layouts read from real cores; docs/LIBRARY_KEYS.md). The count word is a
 * limb count of an RSA prime or modulus (8, 16, 24, 32, 48 or 64); the header
 * must start in the chunk's owned part. GMP mpz (alloc, not the size, is
 * first) and Java (compressed references) are not followed. */

static inline bool
rsa_limb_count(uint32_t k)
{
    return k == 8 || k == 16 || k == 24 || k == 32 || k == 48 || k == 64;
}

static void
keep_num(struct rsa_ctx *c, uint64_t va, uint64_t hdr_off, unsigned k)
{
    if (c->n_nums >= MAX_CHUNK_NUMS) {
        c->nums_capped = true;
        return;
    }
    c->nums[c->n_nums++] = (struct num_ref){va, hdr_off, k};
}

/* The headers whose count word is word j of w (words of the chunk from phase
 * a; j >= 2, j + 1 < n_words). */
static void
number_header(struct rsa_ctx *c, const struct dg_chunk *ch, const uint8_t *w, size_t a,
              size_t j)
{
    uint64_t cnt = load_le64(w + 8 * j), prev = load_le64(w + 8 * (j - 1));
    uint64_t next = load_le64(w + 8 * (j + 1));
    uint32_t top = (uint32_t)cnt, dmax = (uint32_t)(cnt >> 32);

    if (!rsa_limb_count(top))
        return;
    /* OpenSSL: d* at j - 1, top and dmax at j, neg and flags at j + 1 */
    if (dmax >= top && dmax <= 1024 && (uint32_t)next <= 1 && (next >> 32) < 0x20 &&
        user_pointer(prev) && a + 8 * (j - 1) < ch->owned) {
        keep_num(c, prev, ch->off + a + 8 * (j - 1), top);
        return;
    }
    if (dmax != 0)
        return;
    /* Go: neg at j - 2, ptr at j - 1, len at j, cap at j + 1 */
    if (load_le64(w + 8 * (j - 2)) <= 1 && user_pointer(prev) && next >= cnt &&
        next <= cnt + 64 && a + 8 * (j - 2) < ch->owned) {
        keep_num(c, prev, ch->off + a + 8 * (j - 2), top);
        return;
    }
    /* mbedTLS 2.x: s at j - 1 (int, padded), n at j, p at j + 1 */
    if (((uint32_t)prev == 1 || (uint32_t)prev == 0xffffffffu) && user_pointer(next) &&
        a + 8 * (j - 1) < ch->owned)
        keep_num(c, next, ch->off + a + 8 * (j - 1), top);
}

#if DG_HAVE_AVX2
/* collect_numbers()'s filter over words [j, e), eight at a time: returns
 * the first word not looked at. */
DG_TARGET_AVX2 static size_t
headers_avx2(struct rsa_ctx *c, const struct dg_chunk *ch, const uint8_t *w, size_t a, size_t j,
             size_t e)
{
    const __m256i m = _mm256_set1_epi64x(0xffffff87ll), lo = _mm256_set1_epi64x(0xffffffffll);
    const __m256i zero = _mm256_setzero_si256();

    for (; j + 8 <= e; j += 8) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)(w + 8 * j));
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(w + 8 * j + 32));
        __m256i ok0 = _mm256_andnot_si256(_mm256_cmpeq_epi64(_mm256_and_si256(v0, lo), zero),
                                          _mm256_cmpeq_epi64(_mm256_and_si256(v0, m), zero));
        __m256i ok1 = _mm256_andnot_si256(_mm256_cmpeq_epi64(_mm256_and_si256(v1, lo), zero),
                                          _mm256_cmpeq_epi64(_mm256_and_si256(v1, m), zero));
        unsigned mk = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ok0)) |
                      (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ok1)) << 4;

        for (; mk != 0; mk &= mk - 1)
            number_header(c, ch, w, a, j + (size_t)__builtin_ctz(mk));
    }
    return j;
}
#endif

/* Collects the number headers of the chunk's words [2, n_words - 1) whose
 * header starts in the owned part, skipping a file's read-only image. */
static void
collect_numbers(struct rsa_ctx *c, const struct dg_chunk *ch, size_t a, size_t n_words)
{
    const uint8_t *w = ch->p + a;
    size_t span_end = 0;
    bool image = false;

    c->n_nums = 0;
    c->nums_capped = false;
    if (dg_dump_va_count(ch->dump) == 0 ||
        (dg_dump_word_size(ch->dump) != 0 && dg_dump_word_size(ch->dump) != 8) ||
        dg_dump_big_endian(ch->dump) || n_words < 4)
        return;
    for (size_t j = 2; j + 1 < n_words && a + 8 * (j - 2) < ch->owned;) {
        size_t e = j + 512 < n_words - 1 ? j + 512 : n_words - 1;

        if (a + 8 * j >= span_end)
            span_end = chunk_span_end(ch, a + 8 * j, &image);
        if (image && a + 8 * (e + 1) <= span_end) {
            j = e;
            continue;
        }
        /* a header's pointer lies in its block or a neighbour */
        {
            size_t kept_end, x = chunk_kept_span(ch, a + 8 * j, a + 8 * e, 0, &kept_end);

            if (x >= a + 8 * e) {
                j = e;
                continue;
            }
            j = (x - a) / 8;
            e = (kept_end - a) / 8;
        }
        /* the low 32 bits of the word are a multiple of 8 in [8, 120] */
#if DG_HAVE_AVX2
        if (c->avx2)
            j = headers_avx2(c, ch, w, a, j, e);
#endif
#ifdef __SSE2__
        {
            const __m128i m = _mm_set_epi32(0, (int)0xffffff87u, 0, (int)0xffffff87u);
            const __m128i lo = _mm_set_epi32(0, -1, 0, -1), zero = _mm_setzero_si128();

            for (; j + 2 <= e; j += 2) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(w + 8 * j));
                __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi32(_mm_and_si128(v, lo), zero),
                                              _mm_cmpeq_epi32(_mm_and_si128(v, m), zero));
                unsigned mk = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(ok)) & 5u;

                for (; mk != 0; mk &= mk - 1)
                    number_header(c, ch, w, a, j + (size_t)__builtin_ctz(mk) / 2);
            }
        }
#endif
        for (; j < e; j++)
            if (rsa_limb_count((uint32_t)load_le64(w + 8 * j)))
                number_header(c, ch, w, a, j);
    }
}

/* Moves the chunk's number headers into the shared state. */
static void
publish_numbers(struct rsa_ctx *c)
{
    struct rsa_shared *sh = c->shw;
    size_t room;

    pthread_mutex_lock(&sh->lock);
    room = MAX_NUMS - sh->n_nums;
    if (c->n_nums > room || c->nums_capped)
        sh->nums_capped = true;
    memcpy(sh->nums + sh->n_nums, c->nums, (c->n_nums < room ? c->n_nums : room) * sizeof *c->nums);
    sh->n_nums += c->n_nums < room ? c->n_nums : room;
    pthread_mutex_unlock(&sh->lock);
    c->n_nums = 0;
}

static dg_err
rsa_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct rsa_ctx *c = vctx;
    size_t a = chunk_phase(ch), n_words;
    bool image;

    (void)sink;
    if (ch->len < a + 8 * sizes[0])
        return DG_OK;
    if ((c->memo = chunk_memo_of(ch, &c->own)) == NULL)
        return DG_E_NOMEM;
    n_words = (ch->len - a) / 8;
    c->n_pred = 0;
    c->n_ranges = 0;
    c->n_verify = 0;
    c->verify_capped = false;
    c->n_local = 0;
    image = false;
    for (size_t s = 0, span_end = 0; s < n_words; s += SUB_WORDS) {
        size_t e = s + SUB_WORDS < n_words ? s + SUB_WORDS : n_words;

        if (a + 8 * s >= ch->owned + 8 * RSA_RADIUS_WORDS)
            break; /* no pair starting in the owned part can lie further on */
        /* a file's read-only image holds no number the process computed */
        if (a + 8 * s >= span_end)
            span_end = chunk_span_end(ch, a + 8 * s, &image);
        if (image && a + 8 * (e + MAX_K) <= span_end)
            continue;
        scan_sub(c, ch, a, n_words, s, e);
    }
    if (c->n_pred > 0)
        join_batch(c, ch, a, n_words);
    if (c->n_local > 0 || c->verify_capped)
        publish(c, ch, a);
    collect_numbers(c, ch, a, n_words);
    if (c->n_nums > 0 || c->nums_capped)
        publish_numbers(c);
    return DG_OK;
}

/* ---- setup ---- */

static dg_err
rsa_create(const struct dg_config *cfg, void **out)
{
    struct rsa_shared *sh = calloc(1, sizeof *sh);
    const char *strict = dg_config_get(cfg, "rsa-raw.strict");
    uint64_t x = RSA_E;

    *out = NULL;
    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    sh->hits = calloc(MAX_PRIMES, sizeof *sh->hits);
    sh->mods = calloc(MAX_MODULI, sizeof *sh->mods);
    sh->nums = malloc(MAX_NUMS * sizeof *sh->nums);
    if (sh->hits == NULL || sh->mods == NULL ||
        sh->nums == NULL || pthread_mutex_init(&sh->lock, NULL) != 0) {
        free(sh->nums);
        free(sh->hits);
        free(sh->mods);
        free(sh);
        return DG_E_NOMEM;
    }
    for (int i = 0; i < 6; i++)
        x *= 2 - RSA_E * x;
    sh->einv64 = x;
    /* Default: strict top word for LE and BE (FIPS 186-4 / OpenSSL / Go / CNG
     * primes), top bit only for Java. "all" also makes Java strict: the larger
     * prime of any full-length modulus passes, and the modulus search in
     * finish() recovers the other one. */
    sh->strict[REP_LE] = sh->strict[REP_BE] = true;
    sh->strict[REP_JAVA] = false;
    if (strict != NULL && strcmp(strict, "none") == 0)
        sh->strict[REP_LE] = sh->strict[REP_BE] = false;
    else if (strict != NULL && strcmp(strict, "all") == 0)
        sh->strict[REP_JAVA] = true;
    *out = sh;
    return DG_OK;
}

static void
rsa_release(void *vctx)
{
    struct rsa_ctx *c = vctx;

    if (c == NULL)
        return;
    for (int r = 0; r < N_REPS; r++)
        free(c->pre[r]);
    free(c->bad);
    free(c->anc);
    chunk_memo_free(&c->own);
    free(c->sf);
    free(c->ef);
    free(c->cand);
    free(c->pred);
    free(c->pcand);
    free(c->pnext);
    free(c->phead);
    free(c->pmap);
    free(c->nums);
    for (size_t i = 0; i < c->n_local; i++)
        BN_clear_free(c->local[i].p);
    BN_CTX_free(c->bn);
    free(c);
}

static dg_err
rsa_init(void *shared, void **out)
{
    struct rsa_ctx *c = calloc(1, sizeof *c);
    size_t span = SUB_WORDS + MAX_K + 1;
    size_t n_cand = (size_t)N_SIZES * N_REPS * (SUB_WORDS + 1);
    size_t n_pred = BATCH_PREDS + SUB_PREDS + 1;
    bool ok;

    *out = NULL;
    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = c->shw = shared;
    c->avx2 = dg_cpu_avx2();
    ok = true;
    for (int r = 0; r < N_REPS; r++)
        ok = ok && (c->pre[r] = malloc(span * sizeof *c->pre[r])) != NULL;
    c->bad = calloc(span + 2 * ANCHOR_WORDS + 16, sizeof *c->bad);
    c->anc = malloc((span + 2 * ANCHOR_WORDS) * sizeof *c->anc);
    c->sf = calloc(span + 16, 1);
    c->ef = calloc(span + 16, 1);
    c->cand = malloc(n_cand * sizeof *c->cand);
    c->pred = malloc(n_pred * sizeof *c->pred);
    c->pcand = malloc(n_pred * sizeof *c->pcand);
    c->pnext = malloc(n_pred * sizeof *c->pnext);
    c->phead = calloc((size_t)1 << PHEAD_BITS, sizeof *c->phead);
    c->pmap = calloc(((size_t)1 << PMAP_BITS) / 64, sizeof *c->pmap);
    c->bn = BN_CTX_secure_new();
    c->nums = malloc(MAX_CHUNK_NUMS * sizeof *c->nums);
    if (!ok || c->nums == NULL || c->bad == NULL || c->anc == NULL ||
        c->sf == NULL || c->ef == NULL || c->cand == NULL || c->pred == NULL ||
        c->pcand == NULL || c->pnext == NULL || c->phead == NULL || c->pmap == NULL ||
        c->bn == NULL) {
        rsa_release(c);
        return DG_E_NOMEM;
    }
    *out = c;
    return DG_OK;
}

/* ---- finish: de-duplicate, prove primality, pair, report ---- */

/* One distinct prime with its first location. */
struct uprime {
    BIGNUM *p;            /* borrowed from a prime_hit */
    uint64_t off;         /* lowest file offset of a verified copy */
    unsigned k;
    enum rep rep;
    bool used;            /* reported as part of a key */
};

/* One reported key (for de-duplication by modulus). */
struct ukey {
    BIGNUM *n;
};

static int
cmp_hit_off(const void *a, const void *b)
{
    const struct prime_hit *x = a, *y = b;

    return x->off < y->off ? -1 : x->off > y->off;
}

static void
preview(char *out, size_t n, enum rep rep, unsigned k)
{
    if (rep == REP_LE)
        dg_strlcpyf(out, n, "LE limbs, %u x 64-bit (redacted)", k);
    else if (rep == REP_BE)
        dg_strlcpyf(out, n, "BE bytes, %u bytes (redacted)", 8 * k);
    else
        dg_strlcpyf(out, n, "Java int[] mag, %u x 32-bit (redacted)", 2 * k);
}

/* Proves and reports the key with primes p, q (n found at n_off). Returns true
 * if reported. */
static bool
report_key(const struct dg_proof_policy *pol, const struct uprime *up, const BIGNUM *p,
           const BIGNUM *q, uint64_t n_off, enum rep n_rep, struct dg_sink *sink)
{
    struct dg_finding f;
    EVP_PKEY *pk = NULL;
    BIGNUM *e = BN_new();
    bool ok = false;
    dg_err rc = DG_E_CRYPTO;

    memset(&f, 0, sizeof f);
    if (e != NULL && BN_set_word(e, RSA_E) && keyproof_rsa_from_primes(p, q, e, &pk) == DG_OK)
        rc = keyproof_prove_finding(pol, pk, 0, &f);
    if (rc == DG_OK || keyproof_named(rc, &f.key)) {
        f.off = up->off;
        f.len = 8ull * up->k;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "%s", rep_encoding[up->rep]);
        preview(f.preview, sizeof f.preview, up->rep, up->k);
        if (rc == DG_OK)
            dg_strlcpyf(f.note, sizeof f.note,
                        "prime with matching CRT exponent; modulus (%s) at file offset 0x%llx",
                        rep_encoding[n_rep], (unsigned long long)n_off);
        dg_report(sink, &f);
        ok = true;
    }
    EVP_PKEY_free(pk);
    BN_free(e);
    return ok;
}

static void
report_prime(const struct uprime *up, struct dg_sink *sink)
{
    struct dg_finding f;
    uint8_t be[8 * MAX_K];
    int len = BN_bn2bin(up->p, be);

    memset(&f, 0, sizeof f);
    dg_strlcpyf(f.type, sizeof f.type, "rsa-prime");
    f.status = DG_STATUS_CONFIRMED;
    f.severity = DG_SEV_HIGH;
    f.off = up->off;
    f.len = 8ull * up->k;
    dg_strlcpyf(f.encoding, sizeof f.encoding, "%s", rep_encoding[up->rep]);
    dg_strlcpyf(f.key.algorithm, sizeof f.key.algorithm, "RSA");
    f.key.bits = 2u * (unsigned)BN_num_bits(up->p);
    if (len > 0)
        keyproof_sha256_hex(be, (size_t)len, f.key.key_sha256);
    OPENSSL_cleanse(be, sizeof be);
    dg_strlcpyf(f.proof, sizeof f.proof, "e*dP=1 mod (p-1) with the stored dP, p probable prime");
    dg_strlcpyf(f.note, sizeof f.note,
                "RSA prime with matching CRT exponent; modulus not found in the dump");
    preview(f.preview, sizeof f.preview, up->rep, up->k);
    dg_report(sink, &f);
}

/* Searches the dump by virtual address around file offset off for a modulus
 * divisible by p; returns a new BIGNUM or NULL. */
static BIGNUM *
search_dump(const struct dg_dump *dump, uint64_t off, const BIGNUM *p, unsigned k, BN_CTX *bn,
            uint64_t *n_off, enum rep *n_rep)
{
    const struct dg_region *r = dump != NULL ? dg_dump_region_at(dump, off) : NULL;
    uint64_t va, lo, hi;
    uint8_t *buf;
    BIGNUM *n = NULL;
    size_t at = 0, a;

    if (r == NULL || !r->has_va)
        return NULL;
    va = r->va + (off - r->off);
    lo = va - r->va > FINISH_SEARCH_RADIUS ? va - FINISH_SEARCH_RADIUS : r->va;
    hi = r->va + r->len - va > FINISH_SEARCH_RADIUS ? va + FINISH_SEARCH_RADIUS : r->va + r->len;
    if (hi - lo > DG_DUMP_READ_MAX) {
        lo = va > lo + DG_DUMP_READ_MAX / 2 ? va - DG_DUMP_READ_MAX / 2 : lo;
        hi = lo + DG_DUMP_READ_MAX < hi ? lo + DG_DUMP_READ_MAX : hi;
    }
    buf = malloc((size_t)(hi - lo));
    if (buf == NULL)
        return NULL;
    a = (size_t)((8 - (lo & 7)) & 7);
    if (dg_dump_read_va(dump, lo, buf, (size_t)(hi - lo)) == DG_OK &&
        find_modulus(buf, (size_t)(hi - lo), a, 0, (size_t)(hi - lo), p, k, bn, &n, &at, n_rep))
        *n_off = r->off + (lo + at - r->va);
    OPENSSL_cleanse(buf, (size_t)(hi - lo));
    free(buf);
    return n;
}

/* Drops the dump's evidence (the primes wiped), leaving sh as rsa_create()
 * made it. */
static void
forget(struct rsa_shared *sh)
{
    for (size_t i = 0; i < sh->n_hits; i++)
        BN_clear_free(sh->hits[i].p);
    for (size_t i = 0; i < sh->n_mods; i++)
        BN_free(sh->mods[i].n);
    sh->n_hits = sh->n_mods = sh->n_nums = 0;
    sh->hits_capped = sh->mods_capped = sh->verify_capped = sh->nums_capped = false;
}

/* Joins the primes and moduli of the whole dump into keys. */
static dg_err
join(struct rsa_shared *sh, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct uprime *up = NULL;
    size_t n_up = 0, n_searches = 0;
    BN_CTX *bn = BN_CTX_secure_new();
    BIGNUM *q = BN_secure_new(), *rem = BN_new();
    dg_err rc = DG_OK;

    if (sh->verify_capped)
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "rsa-raw: more than %u exact checks in a chunk; later candidates there "
                     "were skipped",
                     MAX_VERIFY_PER_CHUNK);
    if (sh->hits_capped)
        dg_sink_warn(sink, DG_NO_OFFSET, "rsa-raw: more than %u prime hits; the rest were dropped",
                     MAX_PRIMES);
    if (sh->mods_capped)
        dg_sink_warn(sink, DG_NO_OFFSET, "rsa-raw: more than %u moduli; the rest were dropped",
                     MAX_MODULI);
    if (sh->n_hits == 0)
        goto out;
    up = calloc(sh->n_hits, sizeof *up);
    if (bn == NULL || q == NULL || rem == NULL || up == NULL) {
        rc = DG_E_NOMEM;
        goto out;
    }
    /* Distinct primes, each at its lowest offset. Primality is tested once:
     * by keyproof_prove() for a key, before reporting for a lone prime. */
    qsort(sh->hits, sh->n_hits, sizeof *sh->hits, cmp_hit_off);
    for (size_t i = 0; i < sh->n_hits; i++) {
        const struct prime_hit *h = &sh->hits[i];
        bool dup = false;

        for (size_t j = 0; j < n_up && !dup; j++)
            dup = BN_cmp(up[j].p, h->p) == 0;
        if (!dup)
            up[n_up++] = (struct uprime){h->p, h->off, h->k, h->rep, false};
    }
    /* Keys through moduli found next to a prime during the scan. */
    for (size_t m = 0; m < sh->n_mods; m++) {
        const struct modulus_hit *mh = &sh->mods[m];
        bool seen = false;

        for (size_t j = 0; j < m && !seen; j++)
            seen = BN_cmp(sh->mods[j].n, mh->n) == 0;
        for (size_t i = 0; i < n_up && !seen; i++) {
            if (!BN_div(q, rem, mh->n, up[i].p, bn) || !BN_is_zero(rem))
                continue;
            seen = true;
            /* the key's first prime: the lowest offset among p and q */
            {
                const struct uprime *first = &up[i];

                for (size_t j = 0; j < n_up; j++)
                    if (BN_cmp(up[j].p, q) == 0) {
                        up[j].used = true;
                        if (up[j].off < first->off)
                            first = &up[j];
                    }
                if (report_key(sh->proof, first, up[i].p, q, mh->off, mh->rep, sink))
                    up[i].used = true;
            }
        }
    }
    /* Remaining primes: look for their modulus around them by address. */
    for (size_t i = 0; i < n_up; i++) {
        uint64_t n_off = 0;
        enum rep n_rep = REP_LE;
        BIGNUM *n;

        if (up[i].used || dg_dump_va_count(dump) == 0)
            continue;
        if (n_searches++ >= MAX_FINISH_SEARCHES) {
            dg_sink_warn(sink, up[i].off,
                         "rsa-raw: more than %u modulus searches; remaining primes are reported "
                         "alone",
                         MAX_FINISH_SEARCHES);
            break;
        }
        n = search_dump(dump, up[i].off, up[i].p, up[i].k, bn, &n_off, &n_rep);
        if (n == NULL)
            continue;
        if (BN_div(q, rem, n, up[i].p, bn) && BN_is_zero(rem)) {
            const struct uprime *first = &up[i];

            for (size_t j = 0; j < n_up; j++)
                if (BN_cmp(up[j].p, q) == 0) {
                    up[j].used = true;
                    if (up[j].off < first->off)
                        first = &up[j];
                }
            up[i].used = report_key(sh->proof, first, up[i].p, q, n_off, n_rep, sink);
        }
        BN_free(n);
    }
    for (size_t i = 0; i < n_up; i++) {
        bool prime;

        if (up[i].used)
            continue;
        ERR_set_mark();
        prime = BN_check_prime(up[i].p, bn, NULL) == 1;
        ERR_pop_to_mark();
        if (prime)
            report_prime(&up[i], sink);
    }
out:
    free(up);
    BN_clear_free(q);
    BN_free(rem);
    BN_CTX_free(bn);
    return rc;
}

/* ---- finish: numbers behind library headers ---- */

static int
cmp_num(const void *a, const void *b)
{
    const struct num_ref *x = a, *y = b;

    if (x->va != y->va)
        return x->va < y->va ? -1 : 1;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    return x->hdr_off < y->hdr_off ? -1 : x->hdr_off > y->hdr_off;
}

/* A number's low limb and its index in the de-duplicated list. */
struct low_word {
    uint64_t w;
    uint32_t i;
};

static int
cmp_low(const void *a, const void *b)
{
    const struct low_word *x = a, *y = b;

    return x->w < y->w ? -1 : x->w > y->w;
}

/* The file offset of the k limbs at va, or UINT64_MAX if they are not all in
 * one memory region of the file. */
static uint64_t
num_off(const struct dg_dump *dump, uint64_t va, unsigned k)
{
    const struct dg_region *r = dg_dump_region_at_va(dump, va);

    if (r == NULL || va - r->va > r->len || 8ull * k > r->len - (va - r->va))
        return UINT64_MAX;
    return r->off + (va - r->va);
}

/* Reads the k-limb number at va into bn (8 * MAX_K * 2 bytes of scratch). */
static bool
read_num(const struct dg_dump *dump, uint64_t va, unsigned k, BIGNUM *bn)
{
    uint8_t buf[16 * MAX_K];
    bool ok = 8u * k <= sizeof buf && dg_dump_read_va(dump, va, buf, 8u * k) == DG_OK &&
              BN_lebin2bn(buf, (int)(8 * k), bn) != NULL;

    OPENSSL_cleanse(buf, sizeof buf);
    return ok;
}

/* Finds, among the numbers behind headers, each odd full-length prime-sized
 * p whose CRT exponent dP = e^-1 mod (p-1) is also there (looked up by its
 * low limb, then compared whole), and the moduli it divides; adds them to the
 * prime hits and moduli that join() pairs and proves. */
static dg_err
join_numbers(struct rsa_shared *sh, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct low_word *low = NULL;
    size_t n = 0, n_low = 0, n_tried = 0;
    BN_CTX *bn = BN_CTX_secure_new();
    BIGNUM *p = BN_secure_new(), *dp = BN_secure_new(), *x = BN_secure_new();
    BIGNUM *e = BN_new(), *pm1 = BN_secure_new(), *m = BN_new(), *rem = BN_new();
    dg_err rc = DG_OK;

    if (sh->nums_capped)
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "rsa-raw: more than %u big-number headers; the rest were not followed",
                     MAX_NUMS);
    if (sh->n_nums == 0)
        goto out;
    low = malloc(sh->n_nums * sizeof *low);
    if (bn == NULL || p == NULL || dp == NULL || x == NULL || e == NULL || pm1 == NULL ||
        m == NULL || rem == NULL || low == NULL || !BN_set_word(e, RSA_E)) {
        rc = DG_E_NOMEM;
        goto out;
    }
    /* one entry per (address, limbs), at its first header */
    qsort(sh->nums, sh->n_nums, sizeof *sh->nums, cmp_num);
    for (size_t i = 0; i < sh->n_nums; i++)
        if (n == 0 || sh->nums[i].va != sh->nums[n - 1].va || sh->nums[i].k != sh->nums[n - 1].k)
            sh->nums[n++] = sh->nums[i];
    for (size_t i = 0; i < n; i++) {
        uint8_t b[8];

        if (dg_dump_read_va(dump, sh->nums[i].va, b, 8) == DG_OK)
            low[n_low++] = (struct low_word){load_le64(b), (uint32_t)i};
    }
    qsort(low, n_low, sizeof *low, cmp_low);
    for (size_t i = 0; i < n; i++) {
        const struct num_ref *pr = &sh->nums[i];
        uint8_t lb[8 * MAX_K];
        struct low_word key;
        size_t lo = 0, hi = n_low;
        uint64_t p_off;
        bool found = false;

        if (pr->k > MAX_K || (p_off = num_off(dump, pr->va, pr->k)) == UINT64_MAX ||
            !read_num(dump, pr->va, pr->k, p) || !BN_is_odd(p) ||
            BN_num_bits(p) != (int)(64 * pr->k))
            continue;
        if (n_tried++ >= MAX_NUM_PRIMES) {
            dg_sink_warn(sink, pr->hdr_off,
                         "rsa-raw: more than %u prime-sized big numbers; the rest were not tried",
                         MAX_NUM_PRIMES);
            break;
        }
        ERR_set_mark();
        found = BN_sub(pm1, p, BN_value_one()) && BN_mod_inverse(dp, e, pm1, bn) != NULL &&
                BN_bn2lebinpad(dp, lb, (int)(8 * pr->k)) == (int)(8 * pr->k);
        ERR_pop_to_mark();
        if (!found)
            continue;
        found = false;
        key.w = load_le64(lb);
        OPENSSL_cleanse(lb, sizeof lb);
        while (lo < hi) { /* first entry >= key.w */
            size_t mid = lo + (hi - lo) / 2;

            if (low[mid].w < key.w)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t t = lo; t < n_low && low[t].w == key.w && !found; t++) {
            const struct num_ref *dr = &sh->nums[low[t].i];
            uint64_t dp_off = num_off(dump, dr->va, dr->k);

            if (dr->k > pr->k || dp_off == UINT64_MAX || !read_num(dump, dr->va, dr->k, x) ||
                BN_cmp(x, dp) != 0)
                continue;
            found = true;
            if (sh->n_hits >= MAX_PRIMES) {
                sh->hits_capped = true;
            } else {
                BIGNUM *keep = BN_secure_new();

                if (keep != NULL && BN_copy(keep, p) != NULL)
                    sh->hits[sh->n_hits++] =
                        (struct prime_hit){keep, p_off, dp_off, pr->k, REP_LE};
                else
                    BN_free(keep);
            }
        }
        if (!found)
            continue;
        /* its modulus: a number of twice its limbs that it divides */
        for (size_t t = 0, tried = 0; t < n && tried < MAX_NUM_MODULI; t++) {
            const struct num_ref *mr = &sh->nums[t];
            uint64_t m_off;

            if (mr->k != 2 * pr->k || (m_off = num_off(dump, mr->va, mr->k)) == UINT64_MAX)
                continue;
            tried++;
            if (!read_num(dump, mr->va, mr->k, m) || BN_num_bits(m) != (int)(128 * pr->k) ||
                !BN_mod(rem, m, p, bn) || !BN_is_zero(rem))
                continue;
            if (sh->n_mods >= MAX_MODULI) {
                sh->mods_capped = true;
                break;
            }
            {
                BIGNUM *keep = BN_dup(m);

                if (keep != NULL)
                    sh->mods[sh->n_mods++] = (struct modulus_hit){keep, m_off, REP_LE};
            }
            break;
        }
    }
out:
    free(low);
    BN_CTX_free(bn);
    BN_clear_free(p);
    BN_clear_free(dp);
    BN_clear_free(x);
    BN_clear_free(pm1);
    BN_free(e);
    BN_free(m);
    BN_free(rem);
    return rc;
}

static dg_err
rsa_finish(void *shared, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct rsa_shared *sh = shared;
    dg_err rc = join_numbers(sh, dump, sink);

    if (rc == DG_OK)
        rc = join(sh, dump, sink);

    forget(sh);
    return rc;
}

static void
rsa_destroy(void *shared)
{
    struct rsa_shared *sh = shared;

    if (sh == NULL)
        return;
    forget(sh);
    free(sh->hits);
    free(sh->mods);
    free(sh->nums);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

static const char *const rsa_forms[] = {"bn-le64", "bn-be", "java-int", NULL};

static const char *const rsa_raw_options[] = {"rsa-raw.strict", NULL};

const struct dg_detector dg_detector_rsa_raw = {
    .abi = DG_DETECTOR_ABI,
    .name = "rsa-raw",
    .summary = "RSA primes and CRT exponents as raw numbers (LE limbs, BE bytes, Java int[])",
    .forms = rsa_forms,
    .severity = DG_SEV_HIGH,
    .max_span = 8u * RSA_RADIUS_WORDS + 8u * MAX_K + 8u,
    .flags = DG_DET_BINARY | DG_DET_NO_IMAGES,
    .default_on = true,
    .create = rsa_create,
    .init = rsa_init,
    .scan = rsa_scan,
    .release = rsa_release,
    .finish = rsa_finish,
    .destroy = rsa_destroy,
    .options = rsa_raw_options,
};
