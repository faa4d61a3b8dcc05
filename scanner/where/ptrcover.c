/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrcover.c - the intervals of address space that hold a dump's memory,
 * and the test of words against them (see ptrcover.h).
 */
#include "ptrcover.h"

bool
ptr_cover_reach(const struct dg_region *reg, uint64_t max_offset, uint64_t *lo, uint64_t *hi)
{
    *lo = reg->va > max_offset ? reg->va - max_offset : 0;
    *hi = reg->va + reg->len - 1 >= reg->va ? reg->va + reg->len - 1 : UINT64_MAX;
    return reg->len != 0;
}

/* The reach of reg in user space, by 64 KiB blocks: false when it has none. */
static bool
user_blocks(const struct dg_region *reg, uint64_t max_offset, uint64_t *lo, uint64_t *hi)
{
    if (!ptr_cover_reach(reg, max_offset, lo, hi) || *hi < USER_VA_START || *lo >= USER_VA_END)
        return false;
    *lo = (*lo < USER_VA_START ? USER_VA_START : *lo) >> 16 << 16;
    *hi = (*hi >= USER_VA_END ? USER_VA_END - 1 : *hi) | 0xffffu;
    return true;
}

/* Swaps gaps k - 1 and k. */
static void
gap_swap(uint64_t *lo, uint64_t *hi, unsigned k)
{
    uint64_t a = lo[k], b = hi[k];

    lo[k] = lo[k - 1];
    hi[k] = hi[k - 1];
    lo[k - 1] = a;
    hi[k - 1] = b;
}

/* Keeps the gap [lo, hi] among the PTR_COVER_N - 1 widest (widest first). */
static void
gap_keep(uint64_t *g_lo, uint64_t *g_hi, unsigned *n, uint64_t lo, uint64_t hi)
{
    unsigned k;

    if (*n < PTR_COVER_N - 1)
        k = (*n)++;
    else if (hi - lo > g_hi[PTR_COVER_N - 2] - g_lo[PTR_COVER_N - 2])
        k = PTR_COVER_N - 2;
    else
        return;
    g_lo[k] = lo;
    g_hi[k] = hi;
    for (; k > 0 && g_hi[k] - g_lo[k] > g_hi[k - 1] - g_lo[k - 1]; k--)
        gap_swap(g_lo, g_hi, k);
}

/* One pass over the regions in address order. */
void
ptr_cover_build(const struct dg_regions *map, uint64_t max_offset, struct ptr_cover *c)
{
    uint64_t first = 0, last = 0, gap_lo[PTR_COVER_N - 1] = {0}, gap_hi[PTR_COVER_N - 1] = {0};
    unsigned n_gaps = 0;
    bool any = false;

    c->n = 0;
    for (size_t r = 0; r < regions_va_count(map); r++) {
        uint64_t lo, hi;

        if (!user_blocks(regions_va_get(map, r), max_offset, &lo, &hi))
            continue;
        if (!any) {
            first = lo;
            last = hi;
            any = true;
            continue;
        }
        if (lo > last + 1)
            gap_keep(gap_lo, gap_hi, &n_gaps, last + 1, lo - 1);
        if (hi > last)
            last = hi;
    }
    if (!any)
        return;
    /* the kept gaps in address order cut [first, last] into intervals */
    for (unsigned i = 1; i < n_gaps; i++)
        for (unsigned k = i; k > 0 && gap_lo[k] < gap_lo[k - 1]; k--)
            gap_swap(gap_lo, gap_hi, k);
    for (unsigned i = 0; i <= n_gaps; i++) {
        uint64_t lo = i == 0 ? first : gap_hi[i - 1] + 1, hi = i == n_gaps ? last : gap_lo[i] - 1;

        c->lo[c->n] = lo;
        c->span[c->n++] = hi - lo;
    }
}

bool
ptr_cover_holds(const struct ptr_cover *c, const struct dg_regions *map, uint64_t max_offset)
{
    for (size_t r = 0; r < regions_va_count(map); r++) {
        uint64_t lo, hi;

        if (user_blocks(regions_va_get(map, r), max_offset, &lo, &hi) &&
            !ptr_cover_in(c, lo, hi))
            return false;
    }
    return true;
}

#if DG_HAVE_AVX2
/* ptr_cover_any() sixteen words at a test, then eight; returns the words
 * done, n + 1 when one lies in the cover. One compare against the intervals' hull answers
 * most words (text, random bytes, small numbers lie outside it); the
 * intervals are tested only where a word lies inside. */
DG_TARGET_AVX2 static size_t
any_avx2(const struct ptr_cover *c, const uint8_t *p, size_t n)
{
    struct ptr_cover_lanes l;
    const struct ptr_lane_range hull = ptr_cover_lanes_hull(c, &l);
    size_t k = 0;

    for (; k + 16 <= n; k += 16) {
        const __m256i *q = (const __m256i *)(const void *)(p + 8 * k);
        __m256i v0 = _mm256_loadu_si256(q), v1 = _mm256_loadu_si256(q + 1);
        __m256i v2 = _mm256_loadu_si256(q + 2), v3 = _mm256_loadu_si256(q + 3);

        if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_and_si256(
                _mm256_and_si256(ptr_lane_outside(hull, v0), ptr_lane_outside(hull, v1)),
                _mm256_and_si256(ptr_lane_outside(hull, v2), ptr_lane_outside(hull, v3))))) == 15)
            continue; /* all sixteen outside the hull */
        if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_and_si256(
                _mm256_and_si256(ptr_cover_outside(&l, v0), ptr_cover_outside(&l, v1)),
                _mm256_and_si256(ptr_cover_outside(&l, v2), ptr_cover_outside(&l, v3))))) != 15)
            return n + 1;
    }
    for (; k + 8 <= n; k += 8) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8 * k));
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8 * k + 32));

        if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_and_si256(
                ptr_lane_outside(hull, v0), ptr_lane_outside(hull, v1)))) == 15)
            continue; /* all eight outside the hull */
        if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_and_si256(
                ptr_cover_outside(&l, v0), ptr_cover_outside(&l, v1)))) != 15)
            return n + 1;
    }
    return k;
}
#endif

bool
ptr_cover_any(const struct ptr_cover *c, const uint8_t *p, size_t n, bool avx2)
{
    size_t k = 0;

#if DG_HAVE_AVX2
    if (avx2 && (k = any_avx2(c, p, n)) > n)
        return true;
#else
    (void)avx2;
#endif
    for (; k < n; k++)
        if (ptr_cover_has(c, load_le64(p + 8 * k)))
            return true;
    return false;
}
