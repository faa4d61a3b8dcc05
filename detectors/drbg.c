/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * drbg.c - the `drbg` detector: OpenSSL 3's CTR-DRBG instances (the random
 * generators every process that links libcrypto seeds on first use), whose
 * AES key the `aes` detector finds as an expanded schedule. A generator's
 * key is not a leak of signing material; this detector never reports a
 * finding, only evidence (dg_report_evidence, DG_EVIDENCE_RNG_STATE) naming
 * the key by key_sha256, so the verdict gives that AES key the role
 * rng-state, and names the instance: primary, public or private.
 *
 * The state, from providers/implementations/rands/drbg_ctr.c (3.0 to 3.5,
 * 64-bit): five pointers (ctx_ecb, ctx_ctr, ctx_df, cipher_ecb, cipher_ctr),
 * size_t keylen (16, 24 or 32), int use_df (0 or 1), K[32], V[16],
 * bltmp[16], size_t bltmp_pos (at most 16), KX[48]: 176 bytes. The key
 * schedules in ctx_ecb and ctx_ctr are set from K after every update, so
 * SHA-256 of K[0..keylen) is the aes finding's key_sha256.
 *
 * The instance, in finish(), by following OpenSSL's own structures through
 * the dump (every read bounded, every step optional):
 *   PROV_DRBG: the struct whose `data` pointer is the state's address; the
 *     time_t reseed_time_interval 40 bytes before `data` is 3600 for the
 *     primary and 420 for the secondaries (rand_local.h);
 *   EVP_RAND_CTX {meth, algctx, parent, ...}: algctx points a little below
 *     `data` (to the PROV_DRBG); a secondary's parent is the primary's ctx;
 *   RAND_GLOBAL {lock, seed, primary, public key, private key}: the thread-
 *     local keys of the public and private instances;
 *   glibc's struct pthread keeps {seq, value} per key, 16 bytes apart: the
 *     two secondaries of one thread sit (private key - public key) slots
 *     apart, which says which is which.
 *
 * A state is made at run time in the heap, so a file's read-only image
 * (chunk_span_end(): a library's code and constants, a file mapped for
 * reading) is not searched (DG_DET_NO_IMAGES), nor a 4 KiB block with no
 * word near it that may point into the dump (chunk_kept_span(): a state
 * begins with five pointers to the heap).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/engine/chunkmemo.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/words.h"

#define STATE_LEN 176u         /* sizeof(PROV_DRBG_CTR) on LP64 */
#define OFF_KEYLEN 40u
#define OFF_USE_DF 48u
#define OFF_K 52u
#define OFF_BLTMP_POS 120u
#define MAX_STATES 64u         /* generators kept per dump: a process has a few */
#define NEAR (512u << 10)      /* around a state for its PROV_DRBG and EVP_RAND_CTX (one read) */
#define GLOBAL_NEAR (512u << 10) /* around the primary's ctx for RAND_GLOBAL (one read) */
#define SLOT_REGION_MAX (64ull << 20) /* thread-slot search: regions up to this size */
#define SLOT_BUDGET (256ull << 20)    /* and this many bytes in all */

static const char *const forms[] = {"openssl3-ctr-drbg", NULL};

struct state {
    uint64_t off, va;          /* the PROV_DRBG_CTR */
    unsigned keylen;
    char key_sha256[65];
    int kind;                  /* 0 unknown, 1 primary, 2 secondary */
    uint64_t ctx;              /* its EVP_RAND_CTX, 0 if not found */
    uint64_t parent;           /* that ctx's parent */
    uint64_t slot;             /* its thread-local slot, 0 if not found */
    const char *name;          /* "primary", "public", "private", or NULL */
};

struct shared {
    bool avx2;                 /* this CPU runs scan_avx2() */
    pthread_mutex_t lock;
    struct state v[MAX_STATES];
    size_t n;
};

static dg_err
drbg_create(const struct dg_config *cfg, void **out)
{
    struct shared *sh = calloc(1, sizeof *sh);

    (void)cfg;
    if (sh == NULL)
        return DG_E_NOMEM;
    pthread_mutex_init(&sh->lock, NULL);
    sh->avx2 = dg_cpu_avx2();
    *out = sh;
    return DG_OK;
}

static void
drbg_destroy(void *p)
{
    struct shared *sh = p;

    if (sh == NULL)
        return;
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

static dg_err
drbg_init(void *shared, void **ctx)
{
    *ctx = shared;
    return DG_OK;
}

/* Is p[0..STATE_LEN) a PROV_DRBG_CTR? Fills *keylen. */
static bool
is_state(const uint8_t *p, unsigned *keylen)
{
    uint64_t kl = load_le64(p + OFF_KEYLEN);
    uint32_t df = load_le32(p + OFF_USE_DF);
    const uint8_t *k = p + OFF_K;
    unsigned distinct = 0;
    uint8_t seen[32] = {0};

    if ((kl != 16 && kl != 24 && kl != 32) || df > 1)
        return false;
    if (!user_pointer(load_le64(p)) || !user_pointer(load_le64(p + 8)) ||
        !user_pointer(load_le64(p + 24)) || !user_pointer(load_le64(p + 32)))
        return false;
    if (df == 1 ? !user_pointer(load_le64(p + 16)) : load_le64(p + 16) != 0)
        return false;
    if (load_le64(p + OFF_BLTMP_POS) > 16)
        return false;
    for (unsigned i = (unsigned)kl; i < 32; i++)
        if (k[i] != 0)
            return false; /* zero-allocated, written keylen bytes at a time */
    for (unsigned i = 0; i < kl; i++) {
        if (!(seen[k[i] >> 3] & (1u << (k[i] & 7)))) {
            seen[k[i] >> 3] |= (uint8_t)(1u << (k[i] & 7));
            distinct++;
        }
    }
    if (distinct < kl / 2)
        return false; /* a key from a CSPRNG, not a counter or text */
    *keylen = (unsigned)kl;
    return true;
}

/* Could p[0..12) be a state's keylen and use_df: a little-endian word 16,
 * 24 or 32, then a 32-bit 0 or 1? (Reads p[0..16).) */
static inline bool
keylen_use_df(const uint8_t *p)
{
#ifdef __SSE2__
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_setzero_si128()));
    unsigned k = (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8(16)),
                     _mm_or_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8(24)),
                                  _mm_cmpeq_epi8(a, _mm_set1_epi8(32)))));
    unsigned one = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_set1_epi8(1)));

    return (z & 0x0efe) == 0x0efe && (k & 1) && ((z | one) & 0x100);
#else
    uint64_t w = load_le64(p);

    return w - 16 <= 16 && (w & 7) == 0 && load_le32(p + 8) <= 1;
#endif
}

static void
try_state(struct shared *sh, const struct dg_chunk *ch, size_t s)
{
    unsigned keylen;
    struct state st;

    if (!is_state(ch->p + s, &keylen))
        return;
    memset(&st, 0, sizeof st);
    st.off = ch->off + s;
    st.keylen = keylen;
    keyproof_sha256_hex(ch->p + s + OFF_K, keylen, st.key_sha256);
    pthread_mutex_lock(&sh->lock);
    if (sh->n < MAX_STATES)
        sh->v[sh->n++] = st;
    pthread_mutex_unlock(&sh->lock);
}

#if DG_HAVE_AVX2
/* Struct starts s, s + 8, ... before end whose keylen word is 16, 24 or
 * 32, four words to a load; returns where it stopped (the rest is left to
 * the portable loop). */
DG_TARGET_AVX2 static size_t
scan_avx2(struct shared *sh, const struct dg_chunk *ch, size_t s, size_t end)
{
    const __m256i k16 = _mm256_set1_epi64x(16), k24 = _mm256_set1_epi64x(24),
                  k32 = _mm256_set1_epi64x(32);

    for (; s + 24 < end && s + OFF_KEYLEN + 32 <= ch->len; s += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(ch->p + s + OFF_KEYLEN));
        __m256i eq = _mm256_or_si256(_mm256_cmpeq_epi64(a, k16),
                                     _mm256_or_si256(_mm256_cmpeq_epi64(a, k24),
                                                     _mm256_cmpeq_epi64(a, k32)));
        unsigned m = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(eq));

        for (; m != 0; m &= m - 1) {
            size_t t = s + 8 * (size_t)__builtin_ctz(m);

            if (t < end && keylen_use_df(ch->p + t + OFF_KEYLEN))
                try_state(sh, ch, t);
        }
    }
    return s;
}
#endif

static dg_err
drbg_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct shared *sh = ctx;
    size_t s = (size_t)((8 - (ch->off & 7)) & 7), end;

    (void)sink;
    if (ch->len < STATE_LEN)
        return DG_OK;
    /* a struct starts before owned and ends within len */
    end = ch->owned < ch->len - STATE_LEN + 1 ? ch->owned : ch->len - STATE_LEN + 1;
    while (s < end) {
        /* a file's read-only image is skipped: no state the process made */
        size_t stop = chunk_searched_span(ch, &s, end);

        /* the state's five pointers lie in its block or the next */
        if ((s = chunk_kept_span(ch, s, stop, 0, &stop)) >= stop)
            continue;
#if DG_HAVE_AVX2
        if (sh->avx2)
            s = scan_avx2(sh, ch, s, stop);
#endif
        /* anchor: the keylen and use_df words, 40 bytes into the struct */
        for (; s < stop; s += 8)
            if (keylen_use_df(ch->p + s + OFF_KEYLEN))
                try_state(sh, ch, s);
    }
    return DG_OK;
}

/* Reads the part of [va - before, va + after) inside va's memory region into
 * a new buffer; *lo is the address of its first byte. NULL if nothing. */
static uint8_t *
read_around(const struct dg_dump *dump, uint64_t va, uint64_t before, uint64_t after,
            uint64_t *lo, size_t *len)
{
    const struct dg_region *r = dg_dump_region_at_va(dump, va);
    uint64_t a, b;
    uint8_t *buf;

    if (r == NULL)
        return NULL;
    a = va - r->va > before ? va - before : r->va;
    b = r->va + r->len - va > after ? va + after : r->va + r->len;
    a &= ~(uint64_t)7;
    if (b <= a || b - a > DG_DUMP_READ_MAX)
        return NULL;
    if ((buf = malloc((size_t)(b - a))) == NULL)
        return NULL;
    if (dg_dump_read_va(dump, a, buf, (size_t)(b - a)) != DG_OK) {
        free(buf);
        return NULL;
    }
    *lo = a;
    *len = (size_t)(b - a);
    return buf;
}

/* Could w be the address of code? Executable memory, or memory the dump
 * does not hold (gcore and the kernel leave read-only file text out). */
static bool
code_pointer(const struct dg_dump *dump, uint64_t w)
{
    const struct dg_region *r;

    if (w < USER_VA_START || w >= USER_VA_END)
        return false;
    r = dg_dump_region_at_va(dump, w);
    return r == NULL || (r->perms & DG_PERM_X) != 0;
}

/* Four function pointers at q, into one library (within 16 MiB). */
static bool
four_functions(const struct dg_dump *dump, const uint8_t *q)
{
    uint64_t lo = UINT64_MAX, hi = 0;

    for (int i = 0; i < 4; i++) {
        uint64_t w = load_le64(q + 8 * i);

        if (!code_pointer(dump, w))
            return false;
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    return hi - lo < (16u << 20);
}

/* Finds the PROV_DRBG and EVP_RAND_CTX of st: the PROV_DRBG's `data` is the
 * state's address, 40 bytes after its reseed time interval; the struct
 * starts with two data pointers (lock, provctx) and four function pointers
 * (instantiate, uninstantiate, reseed, generate); the EVP_RAND_CTX's algctx
 * is that start. */
static void
follow(const struct dg_dump *dump, struct state *st)
{
    uint64_t lo, data = 0, start = 0;
    size_t len, di = 0;
    uint8_t *b = read_around(dump, st->va, NEAR, NEAR, &lo, &len);

    if (b == NULL)
        return;
    for (size_t i = 48; i + 8 <= len && data == 0; i += 8) {
        uint64_t t;

        if (load_le64(b + i) != st->va || load_le32(b + i - 8) > 2) /* DRBG_STATUS */
            continue;
        t = load_le64(b + i - 40);
        if (t == 3600 || t == 420) {
            st->kind = t == 3600 ? 1 : 2;
            data = lo + i;
            di = i;
        }
    }
    for (size_t k = 512; data != 0 && k >= 64 && start == 0; k -= 8) {
        const uint8_t *q;

        if (k > di)
            continue;
        q = b + di - k;
        if (user_pointer(load_le64(q + 8)) &&
            dg_dump_region_at_va(dump, load_le64(q + 8)) != NULL && four_functions(dump, q + 16))
            start = data - k;
    }
    for (size_t i = 0; start != 0 && i + 32 <= len && st->ctx == 0; i += 8) {
        if (load_le64(b + i + 8) == start && user_pointer(load_le64(b + i)) &&
            load_le32(b + i + 24) - 1 < 1024) {
            st->ctx = lo + i;
            st->parent = load_le64(b + i + 16);
        }
    }
    free(b);
}

/* RAND_GLOBAL {lock, seed, primary, public key, private key} near the
 * primary's ctx, whose parent is the seed source: fills the two
 * thread-local keys. */
static bool
global_keys(const struct dg_dump *dump, const struct state *primary, uint32_t *pub,
            uint32_t *priv)
{
    uint64_t lo;
    size_t len;
    uint8_t *b = read_around(dump, primary->ctx, GLOBAL_NEAR, GLOBAL_NEAR, &lo, &len);
    bool ok = false;

    if (b == NULL)
        return false;
    for (size_t i = 16; i + 16 <= len && !ok; i += 8) {
        uint32_t a, c;

        if (load_le64(b + i) != primary->ctx || load_le64(b + i - 8) != primary->parent ||
            !user_pointer(load_le64(b + i - 16)) || lo + i == primary->ctx + 16)
            continue;
        a = load_le32(b + i + 8);
        c = load_le32(b + i + 12);
        if (a != c && a < 1024 && c < 1024) {
            *pub = a;
            *priv = c;
            ok = true;
        }
    }
    free(b);
    return ok;
}

/* Finds the thread-local slot {seq, value} holding each secondary's ctx in
 * anonymous read-write memory, within a budget. */
static void
find_slots(const struct dg_dump *dump, struct state *v, size_t n)
{
    uint64_t budget = SLOT_BUDGET;
    size_t want = 0;

    for (size_t k = 0; k < n; k++)
        want += v[k].kind == 2 && v[k].ctx != 0;
    for (size_t i = 0; want > 0 && i < dg_dump_va_count(dump) && budget > 0; i++) {
        const struct dg_region *r = dg_dump_va_region(dump, i);
        uint8_t *b;

        if ((r->perms & DG_PERM_W) == 0 || r->kind == DG_SPAN_FILE || r->len > SLOT_REGION_MAX ||
            r->len < 16)
            continue;
        for (uint64_t at = 0; at + 16 <= r->len && budget > 0; at += DG_DUMP_READ_MAX - 16) {
            size_t len = (size_t)(r->len - at < DG_DUMP_READ_MAX ? r->len - at : DG_DUMP_READ_MAX);

            if ((b = malloc(len)) == NULL)
                return;
            budget = budget > len ? budget - len : 0;
            if (dg_dump_read_va(dump, r->va + at, b, len) == DG_OK) {
                for (size_t j = 8; j + 8 <= len; j += 8) {
                    uint64_t w = load_le64(b + j), seq = load_le64(b + j - 8);

                    if ((seq & 1) == 0 || seq > 0xffffffffu)
                        continue;
                    for (size_t k = 0; k < n; k++) {
                        if (v[k].kind == 2 && v[k].ctx == w && v[k].slot == 0) {
                            v[k].slot = r->va + at + j - 8;
                            want--;
                        }
                    }
                }
            }
            free(b);
            if (len < DG_DUMP_READ_MAX)
                break;
        }
    }
}

/* Names each state: primary, or public/private from the thread slots. */
static void
name_states(const struct dg_dump *dump, struct state *v, size_t n)
{
    const struct state *prim = NULL;
    uint64_t primary = 0;
    uint32_t kpub = 0, kpriv = 0;
    bool keys = false;

    for (size_t i = 0; i < n; i++) {
        if (v[i].va == 0)
            continue;
        follow(dump, &v[i]);
        if (v[i].kind == 1) {
            v[i].name = "primary";
            if (v[i].ctx != 0) {
                primary = v[i].ctx;
                prim = &v[i];
            }
        }
    }
    if (prim != NULL)
        keys = global_keys(dump, prim, &kpub, &kpriv);
    if (!keys)
        return;
    find_slots(dump, v, n);
    /* two secondaries of one thread: slots (kpriv - kpub) entries apart */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int64_t d = (int64_t)(v[j].slot - v[i].slot);

            if (i == j || v[i].slot == 0 || v[j].slot == 0 || v[i].kind != 2 || v[j].kind != 2)
                continue;
            if (d == 16 * ((int64_t)kpriv - (int64_t)kpub) && v[i].parent == primary &&
                v[j].parent == primary) {
                v[i].name = "public";
                v[j].name = "private";
            }
        }
    }
}

static dg_err
drbg_finish(void *shared, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct shared *sh = shared;

    for (size_t i = 0; i < sh->n; i++) {
        const struct dg_region *r = dg_dump_region_at(dump, sh->v[i].off);

        sh->v[i].va = r != NULL && r->has_va ? r->va + (sh->v[i].off - r->off) : 0;
    }
    if (dg_dump_word_size(dump) == 8 && !dg_dump_big_endian(dump)) {
        name_states(dump, sh->v, sh->n);
    }
    for (size_t i = 0; i < sh->n; i++) {
        const struct state *st = &sh->v[i];
        char what[120];

        dg_strlcpyf(what, sizeof what, "the key of OpenSSL's CTR-DRBG (%s, AES-%u) whose state is",
                    st->name != NULL ? st->name
                    : st->kind == 2  ? "public or private"
                                     : "instance unknown",
                    st->keylen * 8);
        dg_report_evidence(sink, DG_EVIDENCE_RNG_STATE, st->key_sha256, what, st->off);
    }
    sh->n = 0;
    return DG_OK;
}

const struct dg_detector dg_detector_drbg = {
    .abi = DG_DETECTOR_ABI,
    .name = "drbg",
    .summary = "OpenSSL 3 CTR-DRBG states (never findings): name the AES keys of random "
               "generators (primary, public, private) so they are reported as rng-state",
    .forms = forms,
    .severity = DG_SEV_NONE,
    .max_span = STATE_LEN,
    .flags = DG_DET_BINARY | DG_DET_NO_IMAGES,
    .default_on = true,
    .create = drbg_create,
    .init = drbg_init,
    .scan = drbg_scan,
    .finish = drbg_finish,
    .destroy = drbg_destroy,
};
