/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrcover.h - a few intervals of user address space that hold a dump's
 * memory, and a fast test of words against them: what the pointer search
 * (ptrpath.c) and the scan's map of pointer-free blocks (ptrfree.c) call a
 * word that may point into the dump.
 *
 * Contract: ptr_cover_reach(reg, max_offset, &lo, &hi) gives the addresses
 * [lo, hi] a pointer near region reg may hold: the region and the
 * max_offset bytes below it (false for an empty region). ptr_cover_build()
 * fills a cover of at most PTR_COVER_N intervals ([lo, lo + span],
 * ascending) holding the 64 KiB blocks of every memory region's reach
 * within user space [USER_VA_START, USER_VA_END): their hull with the
 * PTR_COVER_N - 1 widest gaps cut out (a JVM's heap below 4 GiB, the
 * executable's at 0x55..., libraries and stacks at 0x7f...); n is 0 when
 * the dump has no user memory, and then every user address counts as
 * covered. ptr_cover_has(c, v) says whether v lies in the cover,
 * ptr_cover_in(c, lo, hi) whether [lo, hi] lies in one of its intervals,
 * ptr_cover_holds(c, map, max_offset) whether every memory region's reach
 * (as ptr_cover_build() takes it) lies in c: a cover made from an earlier
 * or coarser map still answers for this one. ptr_cover_any(c, p, n, avx2)
 * is true when one of the n little-endian 64-bit words at p (any
 * alignment) lies in the cover, stopping at the first; avx2 may be true
 * only when dg_cpu_avx2() is. ptr_cover_hull() gives the one range that
 * holds the cover. For the vector searches (AVX2 code only):
 * ptr_lane_range(lo, hi) is [lo, hi] in every lane and ptr_lane_outside()
 * the lanes of four words outside it; ptr_cover_lanes() the cover's
 * intervals so (ptr_cover_lanes_hull() with their hull) and
 * ptr_cover_outside() the lanes outside all of them.
 */
#ifndef DUMPGATE_PTRCOVER_H
#define DUMPGATE_PTRCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/detector.h>

#include "../container/regions.h"
#include "../util/simd.h"
#include "../util/words.h"

#define PTR_COVER_N 4u /* intervals a vector test keeps */

struct ptr_cover {
    uint64_t lo[PTR_COVER_N], span[PTR_COVER_N];
    unsigned n;
};

bool ptr_cover_reach(const struct dg_region *reg, uint64_t max_offset, uint64_t *lo,
                     uint64_t *hi);
void ptr_cover_build(const struct dg_regions *map, uint64_t max_offset, struct ptr_cover *c);
bool ptr_cover_holds(const struct ptr_cover *c, const struct dg_regions *map,
                     uint64_t max_offset);
bool ptr_cover_any(const struct ptr_cover *c, const uint8_t *p, size_t n, bool avx2);

static inline bool
ptr_cover_has(const struct ptr_cover *c, uint64_t v)
{
    if (c->n == 0)
        return v - USER_VA_START < USER_VA_END - USER_VA_START;
    for (unsigned i = 0; i < c->n; i++)
        if (v - c->lo[i] <= c->span[i])
            return true;
    return false;
}

static inline bool
ptr_cover_in(const struct ptr_cover *c, uint64_t lo, uint64_t hi)
{
    for (unsigned i = 0; i < c->n; i++)
        if (lo - c->lo[i] <= c->span[i] && hi - c->lo[i] <= c->span[i])
            return true;
    return false;
}

/* [*lo, *hi]: the cover's intervals ascend (all of user space when it has
 * none). */
static inline void
ptr_cover_hull(const struct ptr_cover *c, uint64_t *lo, uint64_t *hi)
{
    *lo = c->n > 0 ? c->lo[0] : USER_VA_START;
    *hi = c->n > 0 ? c->lo[c->n - 1] + c->span[c->n - 1] : USER_VA_END - 1;
}

#if DG_HAVE_AVX2
/* A range of 64-bit values, compared unsigned through the sign bit. */
struct ptr_lane_range {
    __m256i lo, span; /* lo, and (hi - lo) with its sign bit flipped */
};

struct ptr_cover_lanes {
    struct ptr_lane_range r[PTR_COVER_N];
};

DG_TARGET_AVX2 static inline struct ptr_lane_range
ptr_lane_range(uint64_t lo, uint64_t hi)
{
    return (struct ptr_lane_range){
        _mm256_set1_epi64x((long long)lo),
        _mm256_set1_epi64x((long long)((hi - lo) ^ 0x8000000000000000ull))};
}

/* All ones in each lane of v outside r. */
DG_TARGET_AVX2 static inline __m256i
ptr_lane_outside(struct ptr_lane_range r, __m256i v)
{
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ull);

    return _mm256_cmpgt_epi64(_mm256_xor_si256(_mm256_sub_epi64(v, r.lo), sign), r.span);
}

/* c's intervals, the first repeated where there are fewer (all of user
 * space when there is none). */
DG_TARGET_AVX2 static inline void
ptr_cover_lanes(const struct ptr_cover *c, struct ptr_cover_lanes *l)
{
    for (unsigned i = 0; i < PTR_COVER_N; i++) {
        unsigned at = i < c->n ? i : 0;

        l->r[i] = c->n > 0 ? ptr_lane_range(c->lo[at], c->lo[at] + c->span[at])
                           : ptr_lane_range(USER_VA_START, USER_VA_END - 1);
    }
}

/* c's intervals so (ptr_cover_lanes()), and the range that holds them all
 * (ptr_cover_hull()): a vector with no word in it needs no other test. */
DG_TARGET_AVX2 static inline struct ptr_lane_range
ptr_cover_lanes_hull(const struct ptr_cover *c, struct ptr_cover_lanes *l)
{
    uint64_t lo, hi;

    ptr_cover_lanes(c, l);
    ptr_cover_hull(c, &lo, &hi);
    return ptr_lane_range(lo, hi);
}

/* All ones in each lane of v outside every interval of l. */
DG_TARGET_AVX2 static inline __m256i
ptr_cover_outside(const struct ptr_cover_lanes *l, __m256i v)
{
    __m256i out = ptr_lane_outside(l->r[0], v);

    for (unsigned i = 1; i < PTR_COVER_N; i++)
        out = _mm256_and_si256(out, ptr_lane_outside(l->r[i], v));
    return out;
}
#endif

#endif
