/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrsums.c - the summaries of where the words of each piece of a core's
 * file point (see ptrsums.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ptrsums.h"

uint64_t *
ptr_mapped_build(const struct dg_regions *map, uint64_t reach, unsigned bits)
{
    uint64_t *m = calloc(((size_t)1 << bits) / 64, sizeof *m), blocks = 0;

    for (size_t r = 0; m != NULL && r < regions_va_count(map); r++) {
        uint64_t lo, hi;

        if (!ptr_cover_reach(regions_va_get(map, r), reach, &lo, &hi))
            continue;
        if ((blocks += (hi >> 16) - (lo >> 16) + 1) > PTR_MAPPED_MAX_BLOCKS) {
            free(m);
            return NULL;
        }
        for (uint64_t blk = lo >> 16; blk <= hi >> 16; blk++) {
            uint64_t b = ptr_mapped_bit(blk << 16, bits);

            m[b >> 6] |= 1ull << (b & 63);
        }
    }
    return m;
}

dg_err
ptr_sums_init(struct ptr_sums *ps, const struct dg_regions *map, uint64_t reach, size_t budget)
{
    uint64_t end = 0, blocks;
    size_t most;

    *ps = (struct ptr_sums){.reach = reach};
    if (budget == 0)
        budget = PTR_SUMS_BUDGET;
    for (size_t r = 0; r < regions_va_count(map); r++) {
        const struct dg_region *reg = regions_va_get(map, r);

        if (reg->off + reg->len > end)
            end = reg->off + reg->len;
    }
    ps->sum_bits = PTR_SUMS_BITS;
    ps->block = PTR_SUMS_BLOCK_MIN;
    most = budget / (((size_t)1 << ps->sum_bits) / 8);
    while (ps->block < PTR_SUMS_BLOCK_MAX && (end + ps->block - 1) / ps->block > most)
        ps->block *= 2;
    blocks = (end + ps->block - 1) / ps->block;
    ps->n = blocks < most ? (size_t)blocks : most;
    if (ps->n == 0)
        return DG_E_UNSUPPORTED;
    ps->bits = calloc(ps->n * ptr_sum_words(ps->sum_bits), sizeof *ps->bits);
    ps->done = calloc(ps->n, sizeof *ps->done);
    ps->mapped = ptr_mapped_build(map, reach, PTR_SUMS_MAPPED_BITS);
    if (ps->bits == NULL || ps->done == NULL) {
        ptr_sums_free(ps);
        ps->reach = reach;
        return DG_E_NOMEM;
    }
    return DG_OK;
}

uint64_t *
ptr_sums_open(struct ptr_sums *ps, uint64_t k)
{
    return k < ps->n ? ps->bits + k * ptr_sum_words(ps->sum_bits) : NULL;
}

bool
ptr_sums_saturate(const struct ptr_sums *ps, uint64_t *sum, size_t set)
{
    if (set * PTR_SUMS_FULL < (size_t)1 << ps->sum_bits)
        return false;
    memset(sum, 0xff, ptr_sum_words(ps->sum_bits) * sizeof *sum);
    return true;
}

void
ptr_sums_close(struct ptr_sums *ps, uint64_t k)
{
    if (k < ps->n)
        atomic_store_explicit(&ps->done[k], 1, memory_order_release);
}

const uint64_t *
ptr_sums_get(const struct ptr_sums *ps, uint64_t k)
{
    if (k >= ps->n || !atomic_load_explicit(&ps->done[k], memory_order_acquire))
        return NULL;
    return ps->bits + k * ptr_sum_words(ps->sum_bits);
}

/* Notes word v (in the cover) in sum, unless it points where the dump has
 * no memory; *last is the 64 KiB block of the word looked at before
 * (pointers into one object come in runs). */
static inline void
note_word(const struct ptr_sums *ps, uint64_t *sum, size_t *set, uint64_t *last, uint64_t v)
{
    uint64_t bit;
    unsigned b;

    if (v >> PTR_SUMS_GRAIN == *last)
        return;
    *last = v >> PTR_SUMS_GRAIN;
    b = ptr_sum_bit(v, ps->sum_bits);
    bit = 1ull << (b & 63);
    /* a bit set already says all the word could; the filter, a load from
     * further away, only for a bit not yet set */
    if ((sum[b >> 6] & bit) != 0 || !ptr_mapped_has(ps->mapped, PTR_SUMS_MAPPED_BITS, v))
        return;
    (*set)++;
    sum[b >> 6] |= bit;
}

#if DG_HAVE_AVX2
/* ptr_sums_note() eight words at a test: one compare against the cover's
 * hull answers most of them (text, random bytes, small numbers). Returns
 * the words done; *any as ptr_sums_note() says. */
DG_TARGET_AVX2 static size_t
note_avx2(const struct ptr_sums *ps, uint64_t *sum, size_t *set, const struct ptr_cover *c,
          const uint8_t *p, size_t n, bool *any, uint64_t *last)
{
    struct ptr_cover_lanes l;
    const struct ptr_lane_range hull = ptr_cover_lanes_hull(c, &l);
    size_t k = 0;

    for (; k + 8 <= n; k += 8) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8 * k));
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8 * k + 32));
        unsigned in;

        if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_and_si256(
                ptr_lane_outside(hull, v0), ptr_lane_outside(hull, v1)))) == 15)
            continue; /* all eight outside the hull */
        in = ~(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ptr_cover_outside(&l, v0))) & 15u;
        in |= (~(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ptr_cover_outside(&l, v1))) &
               15u) << 4;
        if (in == 0)
            continue;
        *any = true;
        {
            /* the words into the block noted last need nothing more */
            const __m256i lastv = _mm256_set1_epi64x((long long)*last);
            unsigned same = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(
                                _mm256_cmpeq_epi64(_mm256_srli_epi64(v0, PTR_SUMS_GRAIN), lastv))) |
                            (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(
                                _mm256_cmpeq_epi64(_mm256_srli_epi64(v1, PTR_SUMS_GRAIN), lastv)))
                                << 4;

            in &= ~same;
        }
        for (; in != 0; in &= in - 1)
            note_word(ps, sum, set, last, load_le64(p + 8 * (k + (size_t)__builtin_ctz(in))));
    }
    return k;
}
#endif

bool
ptr_sums_note(const struct ptr_sums *ps, uint64_t *sum, size_t *set, const struct ptr_cover *cover,
              const uint8_t *p, size_t n, bool avx2)
{
    uint64_t last = UINT64_MAX;
    bool any = false;
    size_t k = 0;

#if DG_HAVE_AVX2
    if (avx2)
        k = note_avx2(ps, sum, set, cover, p, n, &any, &last);
#else
    (void)avx2;
#endif
    for (; k < n; k++) {
        uint64_t v = load_le64(p + 8 * k);

        if (ptr_cover_has(cover, v)) {
            any = true;
            note_word(ps, sum, set, &last, v);
        }
    }
    return any;
}

bool
ptr_sums_holds(const struct ptr_sums *ps, const struct dg_regions *map, uint64_t max_offset)
{
    uint64_t blocks = 0;

    if (ps->bits == NULL || max_offset > ps->reach)
        return false;
    if (ps->mapped == NULL)
        return true; /* no filter: every word in the cover was noted */
    for (size_t r = 0; r < regions_va_count(map); r++) {
        uint64_t lo, hi;

        if (!ptr_cover_reach(regions_va_get(map, r), max_offset, &lo, &hi))
            continue;
        if ((blocks += (hi >> 16) - (lo >> 16) + 1) > PTR_MAPPED_MAX_BLOCKS)
            return false;
        for (uint64_t blk = lo >> 16; blk <= hi >> 16; blk++)
            if (!ptr_mapped_has(ps->mapped, PTR_SUMS_MAPPED_BITS, blk << 16))
                return false;
    }
    return true;
}

void
ptr_sums_free(struct ptr_sums *ps)
{
    free(ps->bits);
    free(ps->done);
    free(ps->mapped);
    *ps = (struct ptr_sums){0};
}
