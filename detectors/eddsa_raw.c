/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * eddsa_raw.c - finds Ed25519 private keys kept as the 64-byte
 * `seed || public key` that libsodium (crypto_sign_*), PyNaCl, Go
 * (ed25519.PrivateKey), wolfSSL (ed25519_key.k) and others hold, with no
 * encoding around them. Proof: the public key OpenSSL derives from the seed
 * equals the stored one (keyproof_prove).
 *
 * Deriving a public key costs about 25 us, far too much for every offset, so
 * a block is only tried where what sits around it is what an allocator or a
 * runtime writes around a 64-byte object (x86-64 and other 64-bit
 * little-endian processes; offsets in the process's address space are
 * 8-byte aligned):
 *   - glibc malloc: the chunk size word 0x50 or 0x51 (80 bytes, the chunk of
 *     malloc(56..72)) right before the block;
 *   - CPython bytes: ob_size = 64 two words before the block (ob_shash between)
 *     and the terminating NUL after it;
 *   - Go: a slice header {ptr, len 64, cap 64} anywhere; finish() reads the
 *     64 bytes at ptr through the dump's address map;
 *   - GnuTLS: two adjacent gnutls_datum_t {data*, size 32}, raw_pub then
 *     raw_priv of gnutls_pk_params_st; finish() reads the public key and the
 *     seed through the address map;
 *   - a copy of the public key next to the key: the same 32 bytes at distance
 *     32 or 64 (wolfSSL's ed25519_key {p[32], k[64]}; a `pk[32], sk[64]`
 *     pair of buffers or the reverse), so the public half is the repeat.
 * A candidate block must look random in both halves (at least 20 distinct
 * bytes of 32) before any public key is derived, and derivations are capped
 * per chunk and per dump (a warning says so), so random data, zero pages and
 * library code cost one pass of word compares; a file's read-only image
 * (chunk_span_end()) costs none: no key the process made lies there. The
 * seed never leaves this file: findings carry the key's identity, offsets and
 * a redacted preview.
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
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/words.h"

#define KEY 64u                 /* seed || public key */
#define HALF 32u
#define MIN_DISTINCT 20u        /* distinct bytes in a random-looking half */
#define MAX_CHUNK_TRIES 2048u   /* derivations per chunk */
#define MAX_TRIES 50000u        /* derivations per dump (about 1.5 s) */
#define MAX_SLICES 65536u       /* Go slice headers and GnuTLS datum pairs per dump */
#define SPAN 160u               /* longest pattern: a repeat 64 bytes after 64 bytes */

static const char *const forms[] = {"seed-pk", "seed-datum", NULL};

/* What put a candidate there, for the finding's note. */
enum site { S_MALLOC, S_PYBYTES, S_GO, S_DATUMS, S_PK_BEFORE, S_PK_AFTER, N_SITES };

static const char *const site_note[N_SITES] = {
    [S_MALLOC] = "after a glibc malloc chunk header (80-byte chunk)",
    [S_PYBYTES] = "the value of a CPython bytes object of 64 bytes",
    [S_GO] = "seed || public key, the backing array of a Go []byte slice {ptr, 64, 64}",
    [S_DATUMS] = "the seed and public key of two GnuTLS datums {ptr, 32} (raw_priv, raw_pub)",
    [S_PK_BEFORE] = "right after a copy of its public key (wolfSSL ed25519_key; pk, sk buffers)",
    [S_PK_AFTER] = "right before a copy of its public key",
};

/* A key read through the address map: a Go slice's backing array (seed and
 * public key at va), or a GnuTLS datum pair (seed at va, public key at pk). */
struct slice {
    uint64_t va;
    uint64_t pk;  /* 0 for a slice */
    uint64_t off; /* file offset of the header */
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

static bool
looks_random(const uint8_t *p)
{
    uint8_t seen[256 / 8] = {0};
    unsigned n = 0;

    for (unsigned i = 0; i < HALF; i++) {
        n += !(seen[p[i] >> 3] & (1u << (p[i] & 7)));
        seen[p[i] >> 3] |= (uint8_t)(1u << (p[i] & 7));
    }
    return n >= MIN_DISTINCT;
}

/* Takes one derivation from the chunk's and the dump's budgets. */
static bool
spend(struct ctx *c)
{
    if (c->tries >= MAX_CHUNK_TRIES ||
        atomic_fetch_add(&c->sh->tries, 1) >= MAX_TRIES) {
        atomic_store(&c->sh->tries_capped, true);
        return false;
    }
    c->tries++;
    return true;
}

/* Tests key = seed || pk and reports it at file offset off when the seed
 * gives pk. Returns true if reported. */
static bool
try_key(const struct shared *sh, const uint8_t *key, uint64_t off, enum site site,
        uint64_t ctx_off, struct dg_sink *sink)
{
    struct dg_finding f;
    EVP_PKEY *pk = NULL;
    dg_err rc = DG_E_CRYPTO;

    memset(&f, 0, sizeof f);
    if (keyproof_ecx_from_raw("ED25519", key, HALF, key + HALF, HALF, &pk) == DG_OK)
        rc = keyproof_prove_finding(sh->proof, pk, KEYPROOF_PUB_STORED, &f);
    EVP_PKEY_free(pk);
    if (rc != DG_OK && !keyproof_named(rc, &f.key))
        return false;
    f.off = off;
    if (site == S_DATUMS) { /* the seed alone; the public key is elsewhere */
        f.len = HALF;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "ed25519-seed");
        dg_strlcpyf(f.preview, sizeof f.preview, "32 raw bytes: seed (redacted)");
    } else {
        f.len = KEY;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "ed25519-seed-pk");
        dg_strlcpyf(f.preview, sizeof f.preview,
                    "64 raw bytes: 32-byte seed, public key (redacted)");
    }
    if (rc == DG_OK) {
        if (site == S_GO || site == S_DATUMS)
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

    if (at + KEY > ch->len || !looks_random(k) || !looks_random(k + HALF) || !spend(c))
        return false;
    return try_key(c->sh, k, ch->off + at, site, 0, sink);
}

/* --- the pass --------------------------------------------------------------- */

static void
keep_slice(struct ctx *c, uint64_t va, uint64_t pk, uint64_t off)
{
    struct shared *sh = c->sh;

    pthread_mutex_lock(&sh->lock);
    if (sh->n_slices < MAX_SLICES)
        sh->slices[sh->n_slices++] = (struct slice){va, pk, off};
    else
        sh->slices_capped = true;
    pthread_mutex_unlock(&sh->lock);
}

/* Examines the nonzero word w at chunk index j (8-byte aligned in the
 * process; j + 96 <= ch->len): each context it may announce. */
static void
look(struct ctx *c, const struct dg_chunk *ch, size_t j, uint64_t w, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;

    if ((w | 1) == 0x51) {
        if (j + 8 < ch->owned)
            visit(c, ch, j + 8, S_MALLOC, sink);
    } else if (w == KEY) {
        if (j + 16 < ch->owned && p[j + 16 + KEY] == 0)
            visit(c, ch, j + 16, S_PYBYTES, sink);
        /* {ptr, len, cap}: w is len, the word after it cap, before it ptr */
        if (j >= 8 && load_le64(p + j + 8) == KEY && j - 8 < ch->owned) {
            uint64_t va = load_le64(p + j - 8);

            if (user_pointer(va))
                keep_slice(c, va, 0, ch->off + j - 8);
        }
    } else if (w == HALF) {
        /* {pub*, 32} {priv*, 32}: w is the public datum's size */
        if (j >= 8 && j - 8 < ch->owned && load_le64(p + j + 16) == HALF) {
            uint64_t pub = load_le64(p + j - 8), priv = load_le64(p + j + 8);

            if (user_pointer(pub) && user_pointer(priv) && pub != priv)
                keep_slice(c, priv, pub, ch->off + j - 8);
        }
    }
    /* a public key repeated 32 or 64 bytes later; the seed differs from it
     * and a fill pattern's period does not go on */
    if (w != load_le64(p + j + 8)) {
        const uint8_t *pk = p + j;

        if (j >= HALF && j - HALF < ch->owned && w == load_le64(pk + HALF) &&
            memcmp(pk, pk + HALF, HALF) == 0 && memcmp(pk - HALF, pk, HALF) != 0)
            visit(c, ch, j - HALF, S_PK_AFTER, sink); /* seed, pk | pk */
        if (j + HALF < ch->owned && w == load_le64(pk + KEY) &&
            memcmp(pk, pk + KEY, HALF) == 0 && memcmp(pk, pk + HALF, HALF) != 0 &&
            (j + 2 * KEY > ch->len || memcmp(pk + HALF, pk + KEY + HALF, HALF) != 0))
            visit(c, ch, j + HALF, S_PK_BEFORE, sink); /* pk | seed, pk */
    }
}

/* True if the nonzero word w at p may announce a key: a context word, or
 * equal to the word 32 or 64 bytes later. */
static inline bool
notable(const uint8_t *p, uint64_t w)
{
    return (w | 1) == 0x51 || w == KEY || w == HALF || w == load_le64(p + HALF) ||
           w == load_le64(p + KEY);
}

#if DG_HAVE_AVX2
/* notable() for four words at once; returns where the scalar pass goes on. */
DG_TARGET_AVX2 static size_t
scan_avx2(struct ctx *c, const struct dg_chunk *ch, size_t j, size_t end, struct dg_sink *sink)
{
    const __m256i one = _mm256_set1_epi64x(1), m51 = _mm256_set1_epi64x(0x51);
    const __m256i key = _mm256_set1_epi64x(KEY), half = _mm256_set1_epi64x(HALF);
    const __m256i zero = _mm256_setzero_si256();

    __m256i v, v32, v64;

    if (!(j + 32 <= end && j + 32 + KEY + HALF <= ch->len))
        return j;
    /* the words 32 and 64 bytes on are the next two loads: kept, not reloaded */
    v = _mm256_loadu_si256((const __m256i *)(ch->p + j));
    v32 = _mm256_loadu_si256((const __m256i *)(ch->p + j + HALF));
    for (; j + 32 <= end && j + 32 + KEY + HALF <= ch->len; j += 32, v = v32, v32 = v64) {
        __m256i m;
        unsigned bits;

        v64 = _mm256_loadu_si256((const __m256i *)(ch->p + j + KEY));
        m = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi64(_mm256_or_si256(v, one), m51),
                            _mm256_or_si256(_mm256_cmpeq_epi64(v, key),
                                            _mm256_cmpeq_epi64(v, half))),
            _mm256_or_si256(_mm256_cmpeq_epi64(v, v32), _mm256_cmpeq_epi64(v, v64)));
        bits = (unsigned)_mm256_movemask_pd(
            _mm256_castsi256_pd(_mm256_andnot_si256(_mm256_cmpeq_epi64(v, zero), m)));

        for (; bits != 0; bits &= bits - 1) {
            size_t at = j + 8 * (size_t)__builtin_ctz(bits);

            look(c, ch, at, load_le64(ch->p + at), sink);
        }
    }
    return j;
}
#endif

static dg_err
ed_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = vctx;
    const uint8_t *p = ch->p;
    size_t j = chunk_phase(ch);
    /* j indexes a word; a block it announces starts before owned (checked
     * at each site) and ends by j + 96 (a public key 64 bytes after it) */
    size_t end = ch->owned + HALF;
    bool avx2 = dg_cpu_avx2();

    c->tries = 0;
    while (j < end && j + KEY + HALF <= ch->len) {
        bool image;
        size_t stop = chunk_span_end(ch, j, &image);

        if (image) { /* a file's read-only image: no key the process made */
            j += (stop - j + 7) & ~(size_t)7;
            continue;
        }
        if (stop > end)
            stop = end;
#if DG_HAVE_AVX2
        if (avx2)
            j = scan_avx2(c, ch, j, stop, sink);
#else
        (void)avx2;
#endif
        for (; j < stop && j + KEY + HALF <= ch->len; j += 8) {
            uint64_t w = load_le64(p + j);

            if (w != 0 && notable(p + j, w))
                look(c, ch, j, w, sink);
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
    return x->pk < y->pk ? -1 : x->pk > y->pk;
}

/* Reads each Go slice's backing array through the address map. */
static dg_err
ed_finish(void *vsh, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct shared *sh = vsh;
    struct ctx c = {.sh = sh};
    uint8_t key[KEY];

    /* one read per distinct key address: a busy Go heap holds many stale
     * headers pointing at the same few arrays */
    qsort(sh->slices, sh->n_slices, sizeof *sh->slices, cmp_slice);
    for (size_t i = 0; i < sh->n_slices && dg_dump_va_count(dump) > 0; i++) {
        const struct slice *s = &sh->slices[i];

        if (i > 0 && s->va == s[-1].va && s->pk == s[-1].pk)
            continue;
        const struct dg_region *r = dg_dump_region_at_va(dump, s->va);

        if (r == NULL ||
            (s->pk == 0 ? dg_dump_read_va(dump, s->va, key, KEY)
                        : dg_dump_read_va(dump, s->va, key, HALF) == DG_OK
                              ? dg_dump_read_va(dump, s->pk, key + HALF, HALF)
                              : DG_E_UNAVAILABLE) != DG_OK ||
            !looks_random(key) || !looks_random(key + HALF))
            continue;
        c.tries = 0;
        if (spend(&c))
            try_key(sh, key, r->off + (s->va - r->va), s->pk == 0 ? S_GO : S_DATUMS, s->off,
                    sink);
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
    sh->slices = calloc(MAX_SLICES, sizeof *sh->slices);
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
    .summary = "Ed25519 keys held as the raw 64 bytes seed || public key (libsodium, PyNaCl, "
               "Go, wolfSSL), found by what allocators and runtimes write around them; "
               "proven by deriving the public key",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = SPAN,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .create = ed_create,
    .init = ed_init,
    .scan = ed_scan,
    .release = ed_release,
    .finish = ed_finish,
    .destroy = ed_destroy,
};
