/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * chunkmemo.c - a chunk's word flags, the runs of words that are not low
 * entropy in each of its blocks, and which of them hold a word that may
 * point into the dump, computed once for every detector that reads them
 * (see chunkmemo.h).
 */
#include "chunkmemo.h"

#include <stdlib.h>
#include <string.h>

#include "../util/chunkva.h"
#include "../util/simd.h"
#include "../util/wordflags.h"

dg_err
chunk_memo_reset(struct dg_chunk_memo *m, const struct dg_chunk *ch)
{
    size_t a = chunk_phase(ch), n = ch->len > a ? (ch->len - a) / 8 : 0;
    size_t n_blocks = (n + MEMO_BLOCK_WORDS - 1) / MEMO_BLOCK_WORDS;

    if (n > m->cap_words) {
        size_t cap = n + n / 8;
        uint8_t *wf = realloc(m->wf, cap);
        size_t blocks = (cap + MEMO_BLOCK_WORDS - 1) / MEMO_BLOCK_WORDS;
        uint64_t *done = wf != NULL ? realloc(m->done, (blocks / 64 + 1) * sizeof *done) : NULL;
        struct memo_block *bl = done != NULL ? realloc(m->blocks, blocks * sizeof *bl) : NULL;

        if (wf != NULL)
            m->wf = wf;
        if (done != NULL)
            m->done = done;
        if (bl == NULL) {
            const struct ptr_cover *cover = m->cover;

            chunk_memo_free(m);
            m->cover = cover;
            return DG_E_NOMEM;
        }
        m->blocks = bl;
        m->cap_words = cap;
    }
    m->w = ch->p + a;
    m->n_words = n;
    m->n_blocks = n_blocks;
    m->avx2 = dg_cpu_avx2();
    if (m->done != NULL)
        memset(m->done, 0, (n_blocks / 64 + 1) * sizeof *m->done);
    for (size_t b = 0; b < n_blocks; b++)
        m->blocks[b] = (struct memo_block){.random_near = MEMO_UNKNOWN, .ptr = MEMO_UNKNOWN,
                                           .ptr_near = MEMO_UNKNOWN};
    return DG_OK;
}

void
chunk_memo_free(struct dg_chunk_memo *m)
{
    free(m->wf);
    free(m->done);
    free(m->blocks);
    memset(m, 0, sizeof *m);
}

struct dg_chunk_memo *
chunk_memo_of(const struct dg_chunk *ch, struct dg_chunk_memo *own)
{
    if (ch->memo != NULL)
        return ch->memo;
    return chunk_memo_reset(own, ch) == DG_OK ? own : NULL;
}

#define RUN_MASKS (MEMO_BLOCK_WORDS / 64)
_Static_assert(MEMO_RUN_MAX == 8, "chunk_random_near_run() reads eight flags as one word");

#if DG_HAVE_AVX2
/* good_masks() 32 flags at a time; returns the flags done. */
DG_TARGET_AVX2 static size_t
good_masks_avx2(const uint8_t *f, size_t n, uint64_t g[RUN_MASKS])
{
    const __m256i bad = _mm256_set1_epi8(WF_BAD), zero = _mm256_setzero_si256();
    size_t j = 0;

    for (; j + 32 <= n; j += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(f + j));
        uint32_t m = (uint32_t)_mm256_movemask_epi8(
            _mm256_cmpeq_epi8(_mm256_and_si256(v, bad), zero));

        g[j / 64] |= (uint64_t)m << (j % 64);
    }
    return j;
}
#endif

/* g[i] bit j: word 64i + j of the n flags f is not WF_BAD (bits past n clear). */
static void
good_masks(const uint8_t *f, size_t n, uint64_t g[RUN_MASKS], bool avx2)
{
    size_t j = 0;

    memset(g, 0, RUN_MASKS * sizeof *g);
#if DG_HAVE_AVX2
    if (avx2) {
        j = good_masks_avx2(f, n, g);
    }
#else
    (void)avx2;
#endif
    for (; j < n; j++)
        g[j / 64] |= (uint64_t)!(f[j] & WF_BAD) << (j % 64);
}

/* The longest run of set bits of the RUN_MASKS words g (bit 0 of g[0]
 * first), and the set bits that begin and end them (of n bits), each at
 * most MEMO_RUN_MAX, into bl. */
static void
run_stats(const uint64_t g[RUN_MASKS], size_t n, struct memo_block *bl)
{
    uint64_t t[RUN_MASKS];
    unsigned longest = 0, lead = 0, trail = 0;

    memcpy(t, g, sizeof t);
    for (unsigned i = 0; i < RUN_MASKS; i++)
        if (g[i] == ~0ull) /* random bytes, mostly: 64 in a row */
            longest = MEMO_RUN_MAX;
    /* after k rounds, bit j of t: bits j .. j + k all set */
    while (longest < MEMO_RUN_MAX) {
        uint64_t acc = 0;

        for (unsigned i = 0; i < RUN_MASKS; i++)
            acc |= t[i];
        if (acc == 0)
            break;
        longest++;
        for (unsigned i = 0; i < RUN_MASKS; i++)
            t[i] &= t[i] >> 1 | (i + 1 < RUN_MASKS ? t[i + 1] << 63 : 0);
    }
    while (lead < MEMO_RUN_MAX && lead < n && (g[lead / 64] >> (lead % 64) & 1u))
        lead++;
    for (size_t j = n - 1; trail < MEMO_RUN_MAX && trail < n && (g[j / 64] >> (j % 64) & 1u); j--)
        trail++;
    bl->longest = (uint8_t)longest;
    bl->lead = (uint8_t)lead;
    bl->trail = (uint8_t)trail;
}

const uint8_t *
chunk_word_flags(struct dg_chunk_memo *m, size_t lo, size_t hi)
{
    if (hi > m->n_words)
        hi = m->n_words;
    for (size_t b = lo / MEMO_BLOCK_WORDS; b * MEMO_BLOCK_WORDS < hi; b++) {
        size_t at = b * MEMO_BLOCK_WORDS;
        size_t n = m->n_words - at < MEMO_BLOCK_WORDS ? m->n_words - at : MEMO_BLOCK_WORDS;

        if (m->done[b / 64] >> (b % 64) & 1u)
            continue;
        word_flags(m->w + 8 * at, n, m->wf + at, m->avx2);
        m->done[b / 64] |= 1ull << (b % 64);
    }
    return m->wf;
}

/* The longest run of words that are not WF_BAD with a word in block x, at
 * most MEMO_RUN_MAX (the runs of x and its neighbours are computed). */
static unsigned
run_in(const struct dg_chunk_memo *m, size_t x)
{
    const struct memo_block *bl = m->blocks;
    unsigned r = bl[x].longest;

    /* a run across an edge: the block before's trail and this one's lead,
     * this one's trail and the next one's lead */
    if (x > 0 && (unsigned)bl[x - 1].trail + bl[x].lead > r)
        r = (unsigned)bl[x - 1].trail + bl[x].lead;
    if (x + 1 < m->n_blocks && (unsigned)bl[x].trail + bl[x + 1].lead > r)
        r = (unsigned)bl[x].trail + bl[x + 1].lead;
    return r < MEMO_RUN_MAX ? r : MEMO_RUN_MAX;
}

unsigned
chunk_random_near_run(struct dg_chunk_memo *m, size_t b)
{
    size_t lo = b >= 2 ? b - 2 : 0, first = b >= 1 ? b - 1 : 0;
    size_t at = b * MEMO_BLOCK_WORDS;
    unsigned best = 0;

    /* random bytes, mostly: MEMO_RUN_MAX words that are not WF_BAD in the
     * block are the longest run counted, and no flag is needed; four places
     * are tried (eight random words hold a WF_BAD one 4 % of the time) */
    for (size_t p = at; p + MEMO_RUN_MAX <= m->n_words && p < at + MEMO_BLOCK_WORDS;
         p += MEMO_BLOCK_WORDS / 4) {
        uint8_t fl[MEMO_RUN_MAX];
        uint64_t f;
        bool run;

        if (m->done[b / 64] >> (b % 64) & 1u) { /* the flags are there */
            memcpy(&f, m->wf + p, 8);
        } else {
            word_flags(m->w + 8 * p, MEMO_RUN_MAX, fl, m->avx2);
            memcpy(&f, fl, 8);
        }
        run = (f & 0x0101010101010101ull * WF_BAD) == 0; /* eight at once */
        if (run) {
            m->blocks[b].random_near = MEMO_RUN_MAX;
            return MEMO_RUN_MAX;
        }
    }
    chunk_word_flags(m, lo * MEMO_BLOCK_WORDS, (b + 3) * MEMO_BLOCK_WORDS);
    for (size_t x = lo; x <= b + 2 && x < m->n_blocks; x++) {
        struct memo_block *bl = &m->blocks[x];

        if (!bl->runs_known) { /* only for a detector that asks */
            size_t at = x * MEMO_BLOCK_WORDS;
            size_t n = m->n_words - at < MEMO_BLOCK_WORDS ? m->n_words - at : MEMO_BLOCK_WORDS;
            uint64_t g[RUN_MASKS];

            good_masks(m->wf + at, n, g, m->avx2);
            run_stats(g, n, bl);
            bl->runs_known = 1;
        }
    }
    for (size_t x = first; x <= b + 1 && x < m->n_blocks; x++) {
        unsigned l = run_in(m, x);

        best = l > best ? l : best;
    }
    m->blocks[b].random_near = (uint8_t)best;
    return best;
}

/* Whether a word of block x lies in the cover. */
static bool
block_has_pointer(struct dg_chunk_memo *m, size_t x)
{
    struct memo_block *bl = &m->blocks[x];

    if (bl->ptr == MEMO_UNKNOWN) {
        size_t at = x * MEMO_BLOCK_WORDS;
        size_t n = m->n_words - at < MEMO_BLOCK_WORDS ? m->n_words - at : MEMO_BLOCK_WORDS;

        bl->ptr = ptr_cover_any(m->cover, m->w + 8 * at, n, m->avx2) ? 1 : 0;
    }
    return bl->ptr != 0;
}

bool
chunk_pointer_near_now(struct dg_chunk_memo *m, size_t b)
{
    bool near = block_has_pointer(m, b) || (b > 0 && block_has_pointer(m, b - 1)) ||
                (b + 1 < m->n_blocks && block_has_pointer(m, b + 1));

    m->blocks[b].ptr_near = near ? 1 : 0;
    return near;
}
