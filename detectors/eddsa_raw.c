/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * eddsa_raw.c - finds Ed25519 private keys kept as the 64-byte
 * `seed || public key` that libsodium (crypto_sign_*), PyNaCl, Go
 * (ed25519.PrivateKey), wolfSSL (ed25519_key.k) and others hold, and Ed448
 * private keys kept as the 114-byte `seed || public key` (57 bytes each) of
 * wolfSSL's ed448_key.k, with no encoding around them. Proof: the public key
 * OpenSSL derives from the seed equals the stored one (keyproof_prove).
 *
 * Deriving a public key costs about 25 us (a whole try, with OpenSSL's key
 * construction and the proof, measured 0.2 ms for Ed25519 and 0.34 ms for
 * Ed448 on a 2-core x86-64), far too much for every offset, so a block is
 * only tried where what sits around it is what an allocator or a runtime
 * writes around such an object (x86-64 and other 64-bit little-endian
 * processes; offsets in the process's address space are 8-byte aligned).
 * Ed25519:
 *   - glibc malloc: the chunk size word 0x50 or 0x51 (80 bytes, the chunk of
 *     malloc(56..72)) right before the block;
 *   - CPython bytes: ob_size = 64 two words before the block (ob_shash between)
 *     and the terminating NUL after it;
 *   - Go: a slice header {ptr, len 64, cap 64} anywhere; finish() reads the
 *     64 bytes at ptr through the dump's address map;
 *   - GnuTLS: two adjacent gnutls_datum_t {data*, size 32}, raw_pub then
 *     raw_priv of gnutls_pk_params_st; finish() reads the public key and the
 *     seed through the address map (the same for Ed448, below);
 *   - a copy of the public key next to the key: the same 32 bytes at distance
 *     32 or 64 (wolfSSL's ed25519_key {p[32], k[64]}; a `pk[32], sk[64]`
 *     pair of buffers or the reverse), so the public half is the repeat
 *     (8-byte aligned; its first word, random, has a nonzero high half,
 *     unlike the mark word 1 that a JVM repeats every 32 bytes);
 * Ed448:
 *   - glibc malloc: the chunk size word 0x80 or 0x81 (128 bytes, the chunk of
 *     malloc(105..120)) right before the block;
 *   - GnuTLS: two adjacent gnutls_datum_t {data*, size 57} (raw_pub,
 *     raw_priv; seen in a core of gnutls-serv 3.7.9 with an Ed448 key, whose
 *     seed and public key are separate 57-byte buffers);
 *   - a copy of the public key right before the block (`pk | seed, pk`, the
 *     copies 114 bytes apart: wolfSSL 5.5's ed448_key {p[57], k[114]}, whose
 *     seed is at struct offset 57 and second public key copy at 114, read
 *     from a real core) or right after it (`seed, pk | pk`, 57 apart). These
 *     copies sit at any byte alignment: an 8-byte aligned word inside the
 *     first one equals the word 57 or 114 bytes on, and the bytes that go on
 *     matching place the copy's start (repeat448).
 * A candidate block must look random in both halves (at least 20 distinct
 * bytes of 32; Ed448: 40 of 57, the public key's last byte 0x00 or 0x80 and
 * the seed not equal to it) before any public key is derived, and
 * derivations are capped per chunk and per dump, an Ed448 one counting as
 * two (a warning says so), so random data, zero pages and library code cost
 * one pass of word compares (in the 4 KiB blocks with no run of three
 * random-looking words near them, chunk_random_near(), only the compares
 * for the headers that point elsewhere, and those only near a word that
 * may point into the dump, chunk_pointer_near(): a seed || public key
 * holds such a run but once in 40,000); a file's read-only image (chunk_span_end())
 * costs none: no key the process made lies there. The seed never leaves
 * this file: findings carry the key's identity, offsets and a redacted
 * preview.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/engine/chunkmemo.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/words.h"

#define KEY 64u                 /* Ed25519 seed || public key */
#define HALF 32u
#define MIN_DISTINCT 20u        /* distinct bytes in a random-looking Ed25519 half */
#define KEY448 114u             /* Ed448 seed || public key */
#define HALF448 57u
#define MIN_DISTINCT448 40u     /* distinct bytes in a random-looking Ed448 half */
#define LOOK448 122u            /* an Ed448 test reads a word 114 bytes on */
#define REACH448 178u           /* and a copy up to 7 bytes past the word (57 bytes) is
                                 * compared with the bytes 114 on (repeat448) */
#define COST448 2u              /* an Ed448 try, in Ed25519 tries (measured 1.75) */
#define MAX_CHUNK_TRIES 2048u   /* derivations per chunk (in Ed25519 units) */
#define MAX_TRIES 50000u        /* derivations per dump (at most about 10 s: 0.2 ms a try) */
#define MAX_SLICES 65536u       /* Go slice headers and GnuTLS datum pairs per dump */
/* The words scanned run to owned + 64 (an Ed448 public key copy whose seed
 * starts before owned); each Ed448 test of such a word reads up to REACH448
 * bytes */
#define WORDS_PAST 64u
#define ED_RANDOM_RUN 3u        /* the 8 words of seed || public key hold a run of this
                                 * many that are not low entropy (but once in 40,000):
                                 * chunk_random_near() */
#define SPAN (WORDS_PAST + REACH448 + 6u)

static const char *const forms[] = {"seed-pk", "seed-datum", "ed448-seed-pk", "ed448-seed-datum",
                                    NULL};

/* What put a candidate there, for the finding's note. */
enum site {
    S_MALLOC, S_PYBYTES, S_GO, S_DATUMS, S_PK_BEFORE, S_PK_AFTER,
    S448_MALLOC, S448_DATUMS, S448_PK_BEFORE, S448_PK_AFTER, N_SITES
};

static const char *const site_note[N_SITES] = {
    [S_MALLOC] = "after a glibc malloc chunk header (80-byte chunk)",
    [S_PYBYTES] = "the value of a CPython bytes object of 64 bytes",
    [S_GO] = "seed || public key, the backing array of a Go []byte slice {ptr, 64, 64}",
    [S_DATUMS] = "the seed and public key of two GnuTLS datums {ptr, 32} (raw_priv, raw_pub)",
    [S_PK_BEFORE] = "right after a copy of its public key (wolfSSL ed25519_key; pk, sk buffers)",
    [S_PK_AFTER] = "right before a copy of its public key",
    [S448_MALLOC] = "after a glibc malloc chunk header (128-byte chunk)",
    [S448_DATUMS] = "the seed and public key of two GnuTLS datums {ptr, 57} (raw_priv, raw_pub)",
    [S448_PK_BEFORE] = "right after a copy of its public key (wolfSSL ed448_key; pk, sk buffers)",
    [S448_PK_AFTER] = "right before a copy of its public key",
};

/* The two curves' raw forms. */
struct curve {
    const char *type;           /* OpenSSL key type name */
    size_t half;                /* seed and public key length */
    const char *encoding;
    const char *preview;
};

static const struct curve ed25519 = {"ED25519", HALF, "ed25519-seed-pk",
                                     "64 raw bytes: 32-byte seed, public key (redacted)"};
static const struct curve ed448 = {"ED448", HALF448, "ed448-seed-pk",
                                   "114 raw bytes: 57-byte seed, public key (redacted)"};

/* A key read through the address map: a Go slice's backing array (seed and
 * public key at va), or a GnuTLS datum pair (seed at va, public key at pk;
 * Ed25519 or Ed448). */
struct slice {
    uint64_t va;
    uint64_t pk;  /* 0 for a slice */
    uint64_t off; /* file offset of the header */
    bool ed448;   /* a datum pair of size 57 */
};

struct shared {
    const struct dg_proof_policy *proof;
    pthread_mutex_t lock;
    struct slice *slices;
    size_t n_slices;
    bool slices_capped;
    atomic_uint tries;          /* derivations spent in this dump */
    atomic_bool tries_capped;
};

struct ctx {
    struct shared *sh;
    unsigned tries; /* in this chunk */
};

/* --- the test of one block ------------------------------------------------ */

/* An Ed25519 half (32 bytes) that looks random. */
static bool
looks_random(const uint8_t *p)
{
    return distinct_at_least(p, HALF, MIN_DISTINCT);
}

/* Takes cost derivations (1 for Ed25519, COST448 for Ed448) from the chunk's
 * and the dump's budgets. */
static bool
spend(struct ctx *c, unsigned cost)
{
    if (c->tries + cost > MAX_CHUNK_TRIES ||
        atomic_fetch_add(&c->sh->tries, cost) + cost > MAX_TRIES) {
        atomic_store(&c->sh->tries_capped, true);
        return false;
    }
    c->tries += cost;
    return true;
}

/* Tests key = seed || pk of curve cv and reports it at file offset off when
 * the seed gives pk. Returns true if reported. */
static bool
try_key(const struct shared *sh, const struct curve *cv, const uint8_t *key, uint64_t off,
        enum site site, uint64_t ctx_off, struct dg_sink *sink)
{
    struct dg_finding f;
    EVP_PKEY *pk = NULL;
    dg_err rc = DG_E_CRYPTO;

    memset(&f, 0, sizeof f);
    if (keyproof_ecx_from_raw(cv->type, key, cv->half, key + cv->half, cv->half, &pk) == DG_OK)
        rc = keyproof_prove_finding(sh->proof, pk, KEYPROOF_PUB_STORED, &f);
    EVP_PKEY_free(pk);
    if (rc != DG_OK && !keyproof_named(rc, &f.key))
        return false;
    f.off = off;
    if (site == S_DATUMS || site == S448_DATUMS) { /* the seed alone; the public key is elsewhere */
        f.len = cv->half;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "%s", site == S_DATUMS ? "ed25519-seed"
                                                                           : "ed448-seed");
        dg_strlcpyf(f.preview, sizeof f.preview, "%zu raw bytes: seed (redacted)", cv->half);
    } else {
        f.len = 2 * cv->half;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "%s", cv->encoding);
        dg_strlcpyf(f.preview, sizeof f.preview, "%s", cv->preview);
    }
    if (rc == DG_OK) {
        if (site == S_GO || site == S_DATUMS || site == S448_DATUMS)
            dg_strlcpyf(f.note, sizeof f.note, "%s at file offset 0x%llx", site_note[site],
                        (unsigned long long)ctx_off);
        else
            dg_strlcpyf(f.note, sizeof f.note, "seed || public key, %s", site_note[site]);
    }
    dg_report(sink, &f);
    return true;
}

/* Tries the block at chunk index at when it looks random and the budget
 * allows. */
static bool
visit(struct ctx *c, const struct dg_chunk *ch, size_t at, enum site site, struct dg_sink *sink)
{
    const uint8_t *k = ch->p + at;

    if (at + KEY > ch->len || !looks_random(k) || !looks_random(k + HALF) || !spend(c, 1))
        return false;
    return try_key(c->sh, &ed25519, k, ch->off + at, site, 0, sink);
}

/* True if the 114 bytes at k may be an Ed448 seed || pk: a public key's
 * last byte holds only the sign bit of x (RFC 8032, 5.2.2), a seed is not
 * its own public key, and both halves look random. */
static bool
plausible448(const uint8_t *k)
{
    const uint8_t *pk = k + HALF448;

    return (pk[HALF448 - 1] & 0x7f) == 0 && memcmp(k, pk, HALF448) != 0 &&
           distinct_at_least(k, HALF448, MIN_DISTINCT448) &&
           distinct_at_least(pk, HALF448, MIN_DISTINCT448);
}

/* Tries the Ed448 block seed || pk at chunk index at when it is plausible
 * and the budget allows. */
static bool
visit448(struct ctx *c, const struct dg_chunk *ch, size_t at, enum site site,
         struct dg_sink *sink)
{
    const uint8_t *k = ch->p + at;

    if (at + KEY448 > ch->len || !plausible448(k) || !spend(c, COST448))
        return false;
    return try_key(c->sh, &ed448, k, ch->off + at, site, 0, sink);
}

/* --- the pass --------------------------------------------------------------- */

static void
keep_slice(struct ctx *c, uint64_t va, uint64_t pk, uint64_t off, bool ed448)
{
    struct shared *sh = c->sh;

    pthread_mutex_lock(&sh->lock);
    if (sh->n_slices < MAX_SLICES)
        sh->slices[sh->n_slices++] = (struct slice){va, pk, off, ed448};
    else
        sh->slices_capped = true;
    pthread_mutex_unlock(&sh->lock);
}

/* The word at chunk index j is size (32 or 57): if it is the public datum's
 * size of a GnuTLS pair {pub*, size} {priv*, size}, the pair is kept for
 * finish(). */
static void
datums(struct ctx *c, const struct dg_chunk *ch, size_t j, uint64_t size)
{
    const uint8_t *p = ch->p;

    if (j >= 8 && j - 8 < ch->owned && load_le64(p + j + 16) == size) {
        uint64_t pub = load_le64(p + j - 8), priv = load_le64(p + j + 8);

        if (user_pointer(pub) && user_pointer(priv) && pub != priv)
            keep_slice(c, priv, pub, ch->off + j - 8, size == HALF448);
    }
}

/* Examines the nonzero word w at chunk index j (8-byte aligned in the
 * process; j + 96 <= ch->len): each context it may announce. */
static void
look(struct ctx *c, const struct dg_chunk *ch, size_t j, uint64_t w, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;

    /* A pattern belongs to the chunk that owns the word announcing it, which
     * sees all of it (SPAN): the next chunk cannot see that word. */
    if ((w | 1) == 0x51) {
        if (j < ch->owned)
            visit(c, ch, j + 8, S_MALLOC, sink);
    } else if (w == KEY) {
        if (j < ch->owned && p[j + 16 + KEY] == 0)
            visit(c, ch, j + 16, S_PYBYTES, sink);
        /* {ptr, len, cap}: w is len, the word after it cap, before it ptr */
        if (j >= 8 && load_le64(p + j + 8) == KEY && j - 8 < ch->owned) {
            uint64_t va = load_le64(p + j - 8);

            if (user_pointer(va))
                keep_slice(c, va, 0, ch->off + j - 8, false);
        }
    } else if (w == HALF) {
        datums(c, ch, j, HALF);
    }
    /* a public key repeated 32 or 64 bytes later; the seed differs from it
     * and a fill pattern's period does not go on */
    if (w != load_le64(p + j + 8)) {
        const uint8_t *pk = p + j;

        if (j >= HALF && j - HALF < ch->owned && w == load_le64(pk + HALF) &&
            memcmp(pk, pk + HALF, HALF) == 0 && memcmp(pk - HALF, pk, HALF) != 0)
            visit(c, ch, j - HALF, S_PK_AFTER, sink); /* seed, pk | pk */
        if (j < ch->owned && w == load_le64(pk + KEY) &&
            memcmp(pk, pk + KEY, HALF) == 0 && memcmp(pk, pk + HALF, HALF) != 0 &&
            (j + 2 * KEY > ch->len || memcmp(pk + HALF, pk + KEY + HALF, HALF) != 0))
            visit(c, ch, j + HALF, S_PK_BEFORE, sink); /* pk | seed, pk */
    }
}

/* The nonzero word w at chunk index j matched the word d (57 or 114) bytes
 * later: it lies in the first of two copies of an Ed448 public key, d bytes
 * apart: `pk | seed, pk` (d = 114: wolfSSL's ed448_key {p[57], k[114]}, at
 * struct offsets 0, 57 and 114) or `seed, pk | pk` (d = 57). The copies may
 * sit at any byte alignment: the copy starts at most 7 bytes before j, found
 * by the bytes that still match d bytes on, or up to 7 bytes after it when
 * the bytes before the copies happen to match too, so that the run's first
 * word lies before the copy (1 time in 256 for `seed, pk | pk`: when the
 * seed's last byte is the public key's, 0x00 or 0x80). The run is read as
 * far as the chunk holds it (REACH448 in a chunk with its margin). Only
 * the first word of a run of matching words looks (the nonzero word before
 * it, which was looked at, does not match), so a fill with a period of d
 * costs one look per fill. j + LOOK448 <= ch->len. A pattern belongs to the
 * chunk holding its first byte, which sees all of it (SPAN). */
static void
repeat448(struct ctx *c, const struct dg_chunk *ch, size_t j, size_t d, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    size_t s = j, e = j + 8, lim = j + 7 + HALF448;
    uint64_t before = j >= 8 ? load_le64(p + j - 8) : 0;

    if (before != 0 && before == load_le64(p + j - 8 + d))
        return;
    while (s > 0 && s + 7 > j && p[s - 1] == p[s - 1 + d])
        s--;
    if (lim > ch->len - d)
        lim = ch->len - d;
    while (e < lim && p[e] == p[e + d])
        e++;
    /* each start x, up to 7 bytes past j, of a 57-byte copy in the matching
     * run [s, e) */
    for (size_t x = s; x < j + 8 && x + HALF448 <= e; x++) {
        if (d == KEY448) { /* pk at x | seed, pk: no key repeating after it (a fill) */
            if (x >= ch->owned)
                break;
            if (x + KEY448 + KEY448 > ch->len ||
                memcmp(p + x + HALF448, p + x + KEY448 + HALF448, HALF448) != 0)
                visit448(c, ch, x + HALF448, S448_PK_BEFORE, sink);
        } else if (x >= HALF448) { /* seed at x - 57, pk at x | pk */
            if (x - HALF448 >= ch->owned)
                break;
            visit448(c, ch, x - HALF448, S448_PK_AFTER, sink);
        }
    }
}

/* Examines the nonzero word w at chunk index j (8-byte aligned in the
 * process; j + LOOK448 <= ch->len) for the Ed448 contexts: a 128-byte glibc
 * malloc chunk (malloc(105..120)) holding seed || pk, a GnuTLS datum pair,
 * or a public key copy 57 or 114 bytes on (repeat448). A word equal to the
 * next one is a fill whose period divides 8, not a key. */
static void
look448(struct ctx *c, const struct dg_chunk *ch, size_t j, uint64_t w, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;

    if ((w | 1) == 0x81 && j < ch->owned)
        visit448(c, ch, j + 8, S448_MALLOC, sink);
    if (w == HALF448)
        datums(c, ch, j, HALF448);
    if (w == load_le64(p + j + 8))
        return;
    if (w == load_le64(p + j + HALF448))
        repeat448(c, ch, j, HALF448, sink);
    if (w == load_le64(p + j + KEY448))
        repeat448(c, ch, j, KEY448, sink);
}

/* True if the nonzero word w at p may announce an Ed25519 key: a context
 * word, or equal to the word 32 or 64 bytes later with a nonzero high half
 * (the first word of a public key: random bytes; a JVM's mark word, one per
 * 32-byte object, is 1). */
static inline bool
notable(const uint8_t *p, uint64_t w)
{
    return (w | 1) == 0x51 || w == KEY || w == HALF ||
           (w >> 32 != 0 && (w == load_le64(p + HALF) || w == load_le64(p + KEY)));
}

/* The same for an Ed448 key: a 128-byte malloc chunk's size word, a datum's
 * size, or equal to the word 57 or 114 bytes later. */
static inline bool
notable448(const uint8_t *p, uint64_t w)
{
    return (w | 1) == 0x81 || w == HALF448 || w == load_le64(p + HALF448) ||
           w == load_le64(p + KEY448);
}

#if DG_HAVE_AVX2
/* notable() || notable448() for four words at once; returns where the
 * scalar pass goes on. look() and look448() test their own contexts, so a
 * word notable for one curve may go to both. */
DG_TARGET_AVX2 static size_t
scan_avx2(struct ctx *c, const struct dg_chunk *ch, size_t j, size_t end, struct dg_sink *sink)
{
    const __m256i one = _mm256_set1_epi64x(1), m51 = _mm256_set1_epi64x(0x51);
    const __m256i m81 = _mm256_set1_epi64x(0x81), half448 = _mm256_set1_epi64x(HALF448);
    const __m256i key = _mm256_set1_epi64x(KEY), half = _mm256_set1_epi64x(HALF);
    const __m256i zero = _mm256_setzero_si256();
    const __m256i high = _mm256_set1_epi64x((long long)0xffffffff00000000ull);

    __m256i v, v32, v64;

    if (!(j + 32 <= end && j + 32 + KEY448 <= ch->len))
        return j;
    /* the words 32 and 64 bytes on are the next two loads: kept, not reloaded */
    v = _mm256_loadu_si256((const __m256i *)(ch->p + j));
    v32 = _mm256_loadu_si256((const __m256i *)(ch->p + j + HALF));
    for (; j + 32 <= end && j + 32 + KEY448 <= ch->len; j += 32, v = v32, v32 = v64) {
        __m256i m, v1, v57, v114;
        unsigned bits;

        v64 = _mm256_loadu_si256((const __m256i *)(ch->p + j + KEY));
        v57 = _mm256_loadu_si256((const __m256i *)(ch->p + j + HALF448));
        v114 = _mm256_loadu_si256((const __m256i *)(ch->p + j + KEY448));
        v1 = _mm256_or_si256(v, one);
        /* the context words (never zero) */
        m = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi64(v1, m51),
                            _mm256_or_si256(_mm256_cmpeq_epi64(v, key),
                                            _mm256_cmpeq_epi64(v, half))),
            _mm256_or_si256(_mm256_cmpeq_epi64(v1, m81), _mm256_cmpeq_epi64(v, half448)));
        /* an Ed25519 public key's first word, repeated 32 or 64 bytes on,
         * has a nonzero high half (but once in 2^32): a JVM's mark words,
         * one per 32-byte object, do not; an Ed448 copy may begin inside
         * the word, so only a zero word is left out there */
        m = _mm256_or_si256(
            m, _mm256_andnot_si256(
                   _mm256_cmpeq_epi64(_mm256_and_si256(v, high), zero),
                   _mm256_or_si256(_mm256_cmpeq_epi64(v, v32), _mm256_cmpeq_epi64(v, v64))));
        m = _mm256_or_si256(
            m, _mm256_andnot_si256(_mm256_cmpeq_epi64(v, zero),
                                   _mm256_or_si256(_mm256_cmpeq_epi64(v, v57),
                                                   _mm256_cmpeq_epi64(v, v114))));
        bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(m));

        for (; bits != 0; bits &= bits - 1) {
            size_t at = j + 8 * (size_t)__builtin_ctz(bits);
            uint64_t w = load_le64(ch->p + at);

            look(c, ch, at, w, sink);
            look448(c, ch, at, w, sink);
        }
    }
    return j;
}

/* scan_far() four words at a time. */
DG_TARGET_AVX2 static size_t
far_avx2(struct ctx *c, const struct dg_chunk *ch, size_t j, size_t end, struct dg_sink *sink)
{
    const __m256i key = _mm256_set1_epi64x(KEY), half = _mm256_set1_epi64x(HALF);
    const __m256i half448 = _mm256_set1_epi64x(HALF448);

    for (; j + 32 <= end && j + 32 + KEY448 <= ch->len; j += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(ch->p + j));
        __m256i m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi64(v, key),
                                                     _mm256_cmpeq_epi64(v, half)),
                                    _mm256_cmpeq_epi64(v, half448));

        for (unsigned bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(m)); bits != 0;
             bits &= bits - 1) {
            size_t at = j + 8 * (size_t)__builtin_ctz(bits);
            uint64_t w = load_le64(ch->p + at);

            look(c, ch, at, w, sink);
            look448(c, ch, at, w, sink);
        }
    }
    return j;
}
#endif

/* The words of [j, end) of a block with no random-looking run near it
 * (chunk_random_near()): no seed or public key lies there, so only the
 * headers that point at one elsewhere are looked for (a Go slice's length
 * 64, a GnuTLS datum's size 32 or 57). Returns where it stopped. */
static size_t
scan_far(struct ctx *c, const struct dg_chunk *ch, size_t j, size_t end, struct dg_sink *sink)
{
#if DG_HAVE_AVX2
    if (dg_cpu_avx2())
        j = far_avx2(c, ch, j, end, sink);
#endif
    for (; j < end && j + KEY + HALF <= ch->len; j += 8) {
        uint64_t w = load_le64(ch->p + j);

        if (w == KEY || w == HALF)
            look(c, ch, j, w, sink);
        if (w == HALF448 && j + LOOK448 <= ch->len)
            look448(c, ch, j, w, sink);
    }
    return j;
}

static dg_err
ed_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = vctx;
    const uint8_t *p = ch->p;
    const size_t a = chunk_phase(ch), blk = 8 * MEMO_BLOCK_WORDS;
    size_t j = a;
    /* j indexes a word; a block it announces starts before owned (checked
     * at each site) and ends by j + 96 (an Ed25519 public key 64 bytes after
     * it); an Ed448 pattern it announces starts at most 64 bytes before it
     * (seed, pk | pk) and ends by j + 171 */
    size_t end = ch->owned + WORDS_PAST;
    bool avx2 = dg_cpu_avx2();
    /* the engine's memo (see aes.c): without one every block is read whole */
    struct dg_chunk_memo *memo = ch->memo;

    c->tries = 0;
    while (j < end && j + KEY + HALF <= ch->len) {
        /* a file's read-only image is skipped: no key the process made */
        size_t span_stop = chunk_searched_span(ch, &j, end);

        if (j >= end)
            break;
        /* block by block (MEMO_BLOCK_WORDS words): where no run of
         * random-looking words is near, no seed or public key is either */
        while (j < span_stop && j + KEY + HALF <= ch->len) {
            size_t b = (j - a) / blk, e = b + 1, stop = span_stop;
            bool near = memo == NULL || chunk_random_near(memo, b, ED_RANDOM_RUN);

            /* the run of blocks alike */
            for (; memo != NULL && a + e * blk < span_stop &&
                   chunk_random_near(memo, e, ED_RANDOM_RUN) == near;
                 e++)
                ;
            if (memo != NULL && a + e * blk < span_stop)
                stop = a + e * blk;
            if (!near) {
                /* there, headers only, and only near a word that may point
                 * into the dump (chunk_kept_span()) */
                size_t j0 = j;

                while (j < stop) {
                    size_t kept_end;

                    if ((j = chunk_kept_span(ch, j, stop, 0, &kept_end)) >= stop ||
                        (j = scan_far(c, ch, j, kept_end, sink)) < kept_end)
                        break; /* the chunk's end */
                }
                j = j0 + ((j - j0 + 7) & ~(size_t)7); /* on j0's lattice */
                continue;
            }
#if DG_HAVE_AVX2
            if (avx2)
                j = scan_avx2(c, ch, j, stop, sink);
#else
            (void)avx2;
#endif
            for (; j < stop && j + KEY + HALF <= ch->len; j += 8) {
                uint64_t w = load_le64(p + j);

                if (w == 0)
                    continue;
                if (notable(p + j, w))
                    look(c, ch, j, w, sink);
                if (j + LOOK448 <= ch->len && notable448(p + j, w))
                    look448(c, ch, j, w, sink);
            }
        }
    }
    return DG_OK;
}

static int
cmp_slice(const void *a, const void *b)
{
    const struct slice *x = a, *y = b;

    if (x->va != y->va)
        return x->va < y->va ? -1 : 1;
    if (x->pk != y->pk)
        return x->pk < y->pk ? -1 : 1;
    return (int)x->ed448 - (int)y->ed448;
}

/* Reads each Go slice's backing array, and each GnuTLS datum pair's seed and
 * public key, through the address map. */
static dg_err
ed_finish(void *vsh, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct shared *sh = vsh;
    struct ctx c = {.sh = sh};
    uint8_t key[KEY448];

    /* one read per distinct key address: a busy Go heap holds many stale
     * headers pointing at the same few arrays */
    qsort(sh->slices, sh->n_slices, sizeof *sh->slices, cmp_slice);
    for (size_t i = 0; i < sh->n_slices && dg_dump_va_count(dump) > 0; i++) {
        const struct slice *s = &sh->slices[i];
        const struct curve *cv = s->ed448 ? &ed448 : &ed25519;
        const size_t h = cv->half;

        if (i > 0 && s->va == s[-1].va && s->pk == s[-1].pk && s->ed448 == s[-1].ed448)
            continue;
        const struct dg_region *r = dg_dump_region_at_va(dump, s->va);

        if (r == NULL ||
            (s->pk == 0 ? dg_dump_read_va(dump, s->va, key, KEY)
                        : dg_dump_read_va(dump, s->va, key, h) == DG_OK
                              ? dg_dump_read_va(dump, s->pk, key + h, h)
                              : DG_E_UNAVAILABLE) != DG_OK)
            continue;
        if (s->ed448 ? !plausible448(key) : !looks_random(key) || !looks_random(key + HALF))
            continue;
        c.tries = 0;
        if (spend(&c, s->ed448 ? COST448 : 1))
            try_key(sh, cv, key, r->off + (s->va - r->va),
                    s->pk == 0 ? S_GO : s->ed448 ? S448_DATUMS : S_DATUMS, s->off, sink);
    }
    OPENSSL_cleanse(key, sizeof key);
    if (sh->slices_capped)
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "eddsa-raw: more than %u Go slice headers or GnuTLS datum pairs; the "
                     "rest were not read",
                     MAX_SLICES);
    if (atomic_load(&sh->tries_capped))
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "eddsa-raw: the budget of public key derivations (%u per dump, %u per "
                     "chunk) ran out; some candidate blocks were not tried",
                     MAX_TRIES, MAX_CHUNK_TRIES);
    /* the next dump starts afresh */
    sh->n_slices = 0;
    sh->slices_capped = false;
    atomic_store(&sh->tries, 0);
    atomic_store(&sh->tries_capped, false);
    return DG_OK;
}

/* --- setup ------------------------------------------------------------------ */

static dg_err
ed_create(const struct dg_config *cfg, void **out)
{
    struct shared *sh = calloc(1, sizeof *sh);

    *out = NULL;
    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    sh->slices = malloc(MAX_SLICES * sizeof *sh->slices); /* written before read, below n_slices */
    if (sh->slices == NULL || pthread_mutex_init(&sh->lock, NULL) != 0) {
        free(sh->slices);
        free(sh);
        return DG_E_NOMEM;
    }
    atomic_init(&sh->tries, 0);
    atomic_init(&sh->tries_capped, false);
    *out = sh;
    return DG_OK;
}

static void
ed_destroy(void *vsh)
{
    struct shared *sh = vsh;

    if (sh == NULL)
        return;
    pthread_mutex_destroy(&sh->lock);
    free(sh->slices);
    free(sh);
}

static dg_err
ed_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    *out = c;
    return DG_OK;
}

static void
ed_release(void *ctx)
{
    free(ctx);
}

const struct dg_detector dg_detector_eddsa_raw = {
    .abi = DG_DETECTOR_ABI,
    .name = "eddsa-raw",
    .summary = "Ed25519 and Ed448 keys held as the raw seed || public key (libsodium, "
               "PyNaCl, Go, wolfSSL), found by what allocators and runtimes write around "
               "them; proven by deriving the public key",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = SPAN,
    .flags = DG_DET_BINARY | DG_DET_NO_IMAGES,
    .default_on = true,
    .create = ed_create,
    .init = ed_init,
    .scan = ed_scan,
    .release = ed_release,
    .finish = ed_finish,
    .destroy = ed_destroy,
};
