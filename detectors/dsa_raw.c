/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * dsa_raw.c - finds DSA private keys held in OpenSSL 3's `struct dsa_st`,
 * the key behind an EVP_PKEY once the PEM or DER it was loaded from is gone,
 * and proves them (y = g^x mod p, 0 < x < q) with OpenSSL.
 *
 * The struct (x86-64, OpenSSL 3.0; offsets read from a core of a program
 * that loaded a DSA key and wiped its PEM):
 *     0  int pad, int32_t version              both 0
 *     8  FFC_PARAMS { BIGNUM *p, *q, *g, *j; unsigned char *seed;
 *                     size_t seedlen; int pcounter, nid, gindex, h;
 *                     unsigned flags; const char *mdname, *mdprops;
 *                     int keylength }          96 bytes
 *   104  BIGNUM *pub_key                       y
 *   112  BIGNUM *priv_key                      x
 *   120  int flags
 * and each BIGNUM is `struct bignum_st { BN_ULONG *d; int top, dmax, neg,
 * flags; }` with its limbs little-endian 64-bit words.
 *
 * scan() keeps each 8-aligned zero word followed by five distinct user
 * pointers at +8, +16, +24 (p, q, g), +104 and +112 (y, x), with j and seed
 * at +32 and +40 zero or user pointers, seedlen at +48 at most 1024 (0
 * without a seed), and the ints at +72, +96 and +120 (flags, keylength,
 * flags) with zero padding after them: a pattern random memory, code and
 * pointer-dense heaps do not make. Text, random bytes and numbers, the 4 KiB
 * blocks with no word near them that may point into the dump, are not read
 * (chunk_kept_span()).
 * finish() reads the five BIGNUM headers and their limbs through the dump's
 * address map; it tries a candidate only when the sizes are a DSA key's (p,
 * g and y of 1024 to 8192 bits and at most p's, q of 160 to 512 bits, x
 * below q, none negative) and proves it with keyproof. Candidates and tries
 * are capped per dump. Needs an address map (ELF core, minidump); a file's
 * read-only image holds no key the process made and is skipped. Findings
 * carry the key's identity and where x's limbs lie, never their bytes.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/engine/chunkmemo.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/words.h"

#define STRUCT_LEN 128u        /* through flags */
#define MAX_SEED 1024u         /* FFC_PARAMS seedlen */
#define MAX_CANDS 65536u       /* structs kept per dump (1 MiB) */
#define MAX_P_LIMBS 128u       /* 8192 bits */
#define MIN_P_LIMBS 16u        /* 1024 bits */
#define MIN_Q_BITS 160
#define MAX_Q_LIMBS 8u         /* 512 bits */

static const char *const forms[] = {"openssl-dsa", NULL};

/* The five BIGNUM pointers of struct dsa_st and their offsets. */
enum { BN_P, BN_Q, BN_G, BN_Y, BN_X, N_BN };
static const unsigned bn_at[N_BN] = {8, 16, 24, 104, 112};

/* A dsa_st seen in a chunk: its address and file offset. */
struct cand {
    uint64_t va, off;
};

struct shared {
    const struct dg_proof_policy *proof;
    pthread_mutex_t lock;
    struct cand *cands;
    size_t n_cands;
    bool capped;
};

/* Keeps the candidate at chunk index j when the whole pattern holds there. */
static void
consider(struct shared *sh, const struct dg_chunk *ch, size_t j)
{
    const uint8_t *p = ch->p;
    uint64_t bn[N_BN], jj, seed, seedlen, va;

    if (load_le64(p + j) != 0)
        return;
    for (int i = N_BN - 1; i >= 0; i--) { /* x and y first: the rarest */
        bn[i] = load_le64(p + j + bn_at[i]);
        if (!user_pointer(bn[i]))
            return;
        for (int k = i + 1; k < N_BN; k++)
            if (bn[k] == bn[i])
                return; /* five distinct numbers */
    }
    jj = load_le64(p + j + 32);
    seed = load_le64(p + j + 40);
    seedlen = load_le64(p + j + 48);
    if ((jj != 0 && !user_pointer(jj)) || (seed != 0 && !user_pointer(seed)) ||
        seedlen > MAX_SEED || (seed == 0 && seedlen != 0) ||
        load_le64(p + j + 72) >> 32 != 0 || load_le64(p + j + 96) >> 32 != 0 ||
        load_le64(p + j + 120) >> 32 != 0)
        return; /* flags, keylength and flags: an int and padding each */
    if ((va = chunk_va(ch, j)) == 0)
        return;
    pthread_mutex_lock(&sh->lock);
    if (sh->n_cands < MAX_CANDS)
        sh->cands[sh->n_cands++] = (struct cand){va, ch->off + j};
    else
        sh->capped = true;
    pthread_mutex_unlock(&sh->lock);
}

#if DG_HAVE_AVX2
/* 1 for each 64-bit lane of v that lies in user space (unsigned compare
 * through the sign bit). */
DG_TARGET_AVX2 static inline __m256i
in_user(__m256i v)
{
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    const __m256i lo = _mm256_set1_epi64x((long long)USER_VA_START);
    const __m256i span =
        _mm256_set1_epi64x((long long)((USER_VA_END - 1 - USER_VA_START) ^ 0x8000000000000000ull));

    return _mm256_xor_si256(_mm256_cmpgt_epi64(_mm256_xor_si256(_mm256_sub_epi64(v, lo), sign),
                                               span),
                            _mm256_set1_epi64x(-1));
}

DG_TARGET_AVX2 static inline __m256i
load_at(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* The words j, j + 8, ... before stop that are zero, with user-space words
 * 8, 16, 24, 104 and 112 bytes on and an int with zero padding 120 bytes on,
 * go to consider(); returns where the scalar pass goes on. */
DG_TARGET_AVX2 static size_t
scan_avx2(struct shared *sh, const struct dg_chunk *ch, size_t j, size_t stop)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i high = _mm256_set1_epi64x((long long)0xffffffff00000000ull);

    for (; j + 32 <= stop && j + 32 + STRUCT_LEN <= ch->len; j += 32) {
        const uint8_t *p = ch->p + j;
        __m256i ok = _mm256_and_si256(_mm256_cmpeq_epi64(load_at(p), zero),
                                      _mm256_and_si256(in_user(load_at(p + bn_at[BN_X])),
                                                       in_user(load_at(p + bn_at[BN_Y]))));
        unsigned bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ok));

        if (bits == 0)
            continue;
        for (int i = BN_P; i <= BN_G; i++)
            ok = _mm256_and_si256(ok, in_user(load_at(p + bn_at[i])));
        ok = _mm256_and_si256(
            ok, _mm256_cmpeq_epi64(_mm256_and_si256(load_at(p + 120), high), zero));
        for (bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ok)); bits != 0;
             bits &= bits - 1)
            consider(sh, ch, j + 8 * (size_t)__builtin_ctz(bits));
    }
    return j;
}
#endif

static dg_err
dsa_scan(void *vsh, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct shared *sh = vsh;
    bool avx2 = dg_cpu_avx2();

    (void)sink;
    if (ch->dump == NULL || dg_dump_va_count(ch->dump) == 0)
        return DG_OK; /* no address map: nothing can be followed */
    for (size_t j = chunk_phase(ch); j < ch->owned && j + STRUCT_LEN <= ch->len;) {
        size_t stop = chunk_searched_span(ch, &j, ch->owned); /* images skipped */

        if (j >= ch->owned)
            break;
        /* the struct's pointers lie in its block or the next */
        if ((j = chunk_kept_span(ch, j, stop, 0, &stop)) >= stop)
            continue;
#if DG_HAVE_AVX2
        if (avx2)
            j = scan_avx2(sh, ch, j, stop);
#else
        (void)avx2;
#endif
        for (; j < stop && j + STRUCT_LEN <= ch->len; j += 8)
            consider(sh, ch, j);
    }
    return DG_OK;
}

/* A BIGNUM read through the address map: its limbs' address and count. */
struct bn_ref {
    uint64_t d;
    int top;
};

/* Reads the bignum_st at va: a user pointer to its limbs, 0 < top <= dmax,
 * top <= max_limbs, neg 0. */
static bool
read_header(const struct dg_dump *dump, uint64_t va, unsigned max_limbs, struct bn_ref *out)
{
    uint8_t h[24];
    int top, dmax, neg;

    if (dg_dump_read_va(dump, va, h, sizeof h) != DG_OK)
        return false;
    out->d = load_le64(h);
    top = (int)load_le32(h + 8);
    dmax = (int)load_le32(h + 12);
    neg = (int)load_le32(h + 16);
    out->top = top;
    return user_pointer(out->d) && top > 0 && top <= dmax && (unsigned)top <= max_limbs && neg == 0;
}

/* The number of r into bn (buf: scratch of 8 * MAX_P_LIMBS bytes). */
static bool
read_number(const struct dg_dump *dump, const struct bn_ref *r, uint8_t *buf, BIGNUM *bn)
{
    bool ok = dg_dump_read_va(dump, r->d, buf, 8u * (unsigned)r->top) == DG_OK &&
              BN_lebin2bn(buf, 8 * r->top, bn) != NULL;

    OPENSSL_cleanse(buf, 8u * (unsigned)r->top);
    return ok;
}

/* Tries the dsa_st candidate cd. */
static void
try_struct(struct shared *sh, const struct dg_dump *dump, const struct cand *cd,
           BIGNUM *const bn[N_BN], uint8_t *buf, struct dg_sink *sink)
{
    static const unsigned max_limbs[N_BN] = {
        [BN_P] = MAX_P_LIMBS, [BN_Q] = MAX_Q_LIMBS, [BN_G] = MAX_P_LIMBS,
        [BN_Y] = MAX_P_LIMBS, [BN_X] = MAX_Q_LIMBS};
    uint8_t s[STRUCT_LEN];
    struct bn_ref r[N_BN];
    const struct dg_region *reg;
    struct dg_finding f;
    EVP_PKEY *pk = NULL;
    dg_err rc = DG_E_CRYPTO;

    if (dg_dump_read_va(dump, cd->va, s, sizeof s) != DG_OK)
        return;
    for (int i = 0; i < N_BN; i++)
        if (!read_header(dump, load_le64(s + bn_at[i]), max_limbs[i], &r[i]) ||
            !read_number(dump, &r[i], buf, bn[i]))
            return;
    /* p, g, y: 1024 bits or more, g and y below p; q: 160 bits or more,
     * x below it, p at least twice q's bits */
    if (r[BN_P].top < (int)MIN_P_LIMBS || BN_num_bits(bn[BN_Q]) < MIN_Q_BITS ||
        BN_num_bits(bn[BN_P]) < 2 * BN_num_bits(bn[BN_Q]) || BN_cmp(bn[BN_G], bn[BN_P]) >= 0 ||
        BN_cmp(bn[BN_Y], bn[BN_P]) >= 0 || BN_is_zero(bn[BN_X]) ||
        BN_cmp(bn[BN_X], bn[BN_Q]) >= 0 || !BN_is_odd(bn[BN_P]) || !BN_is_odd(bn[BN_Q]))
        return;
    memset(&f, 0, sizeof f);
    if (keyproof_dsa_from_components(bn[BN_P], bn[BN_Q], bn[BN_G], bn[BN_Y], bn[BN_X], &pk) ==
        DG_OK)
        rc = keyproof_prove_finding(sh->proof, pk, 0, &f);
    EVP_PKEY_free(pk);
    if (rc != DG_OK && !keyproof_named(rc, &f.key))
        return;
    reg = dg_dump_region_at_va(dump, r[BN_X].d);
    if (reg == NULL)
        return;
    f.off = reg->off + (r[BN_X].d - reg->va);
    f.len = 8u * (unsigned)r[BN_X].top;
    dg_strlcpyf(f.encoding, sizeof f.encoding, "openssl-dsa");
    dg_strlcpyf(f.preview, sizeof f.preview, "LE 64-bit limbs, %d-bit x (redacted)",
                BN_num_bits(bn[BN_X]));
    if (rc == DG_OK)
        dg_strlcpyf(f.note, sizeof f.note,
                    "x of an OpenSSL DSA key (struct dsa_st at file offset 0x%llx, %d-bit p)",
                    (unsigned long long)cd->off, BN_num_bits(bn[BN_P]));
    dg_report(sink, &f);
}

static int
cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;

    return x->va < y->va ? -1 : x->va > y->va;
}

static dg_err
dsa_finish(void *vsh, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct shared *sh = vsh;
    BIGNUM *bn[N_BN] = {NULL};
    uint8_t *buf;
    dg_err rc;

    if (sh->n_cands == 0) /* most dumps: no OpenSSL set-up for nothing */
        return DG_OK;
    buf = OPENSSL_secure_malloc(8u * MAX_P_LIMBS);
    rc = buf != NULL ? DG_OK : DG_E_NOMEM;
    for (int i = 0; i < N_BN; i++)
        if ((bn[i] = i == BN_X ? BN_secure_new() : BN_new()) == NULL)
            rc = DG_E_NOMEM;
    if (rc != DG_OK)
        goto out;
    qsort(sh->cands, sh->n_cands, sizeof *sh->cands, cmp_cand);
    for (size_t i = 0; i < sh->n_cands; i++)
        if (i == 0 || sh->cands[i].va != sh->cands[i - 1].va)
            try_struct(sh, dump, &sh->cands[i], bn, buf, sink);
    if (sh->capped)
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "dsa-raw: more than %u DSA structures; the rest were not read", MAX_CANDS);
out:
    ERR_clear_error();
    for (int i = 0; i < N_BN; i++)
        BN_clear_free(bn[i]);
    OPENSSL_secure_free(buf);
    /* the next dump starts afresh */
    sh->n_cands = 0;
    sh->capped = false;
    return rc;
}

/* --- setup ------------------------------------------------------------------ */

static dg_err
dsa_create(const struct dg_config *cfg, void **out)
{
    struct shared *sh = calloc(1, sizeof *sh);

    *out = NULL;
    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    sh->cands = malloc(MAX_CANDS * sizeof *sh->cands); /* written before read, below n_cands */
    if (sh->cands == NULL || pthread_mutex_init(&sh->lock, NULL) != 0) {
        free(sh->cands);
        free(sh);
        return DG_E_NOMEM;
    }
    *out = sh;
    return DG_OK;
}

static void
dsa_destroy(void *vsh)
{
    struct shared *sh = vsh;

    if (sh == NULL)
        return;
    pthread_mutex_destroy(&sh->lock);
    free(sh->cands);
    free(sh);
}

static dg_err
dsa_init(void *shared, void **out)
{
    *out = shared; /* scan() keeps candidates in the shared list, under its lock */
    return DG_OK;
}

const struct dg_detector dg_detector_dsa_raw = {
    .abi = DG_DETECTOR_ABI,
    .name = "dsa-raw",
    .summary = "DSA keys held in OpenSSL's DSA structure after their PEM or DER is gone, "
               "read through the address map; proven by y = g^x mod p",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = STRUCT_LEN,
    .flags = DG_DET_BINARY | DG_DET_NO_IMAGES,
    .default_on = true,
    .create = dsa_create,
    .init = dsa_init,
    .scan = dsa_scan,
    .finish = dsa_finish,
    .destroy = dsa_destroy,
};
