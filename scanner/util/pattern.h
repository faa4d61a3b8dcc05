/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * pattern.h - where a short fixed byte string may start, 32 positions at a
 * time: the positions whose first two bytes and last byte match it (the
 * "first and last byte" SIMD search). The caller compares the rest. For the
 * detectors anchored on one fixed string, where memchr() of its first byte
 * stops too often in real memory (0x33 and 0xa0 are common bytes).
 *
 * Contract: pattern_mask32(p, pat, len) runs only where dg_cpu_avx2() is
 * true (from a DG_TARGET_AVX2 function, so that it is inlined there). It
 * reads p[0 .. 31 + len) and returns bit i (0 <= i < 32) set when p[i] ==
 * pat[0], p[i + 1] == pat[1] and p[i + len - 1] == pat[len - 1]; 3 <= len.
 * A set bit is a candidate, not a match, when len > 3.
 */
#ifndef DUMPGATE_PATTERN_H
#define DUMPGATE_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "simd.h"

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static inline uint32_t
pattern_mask32(const uint8_t *p, const uint8_t *pat, size_t len)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
    __m256i z = _mm256_loadu_si256((const __m256i *)(const void *)(p + len - 1));
    __m256i m = _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8((char)pat[0])),
                                 _mm256_cmpeq_epi8(b, _mm256_set1_epi8((char)pat[1])));

    m = _mm256_and_si256(m, _mm256_cmpeq_epi8(z, _mm256_set1_epi8((char)pat[len - 1])));
    return (uint32_t)_mm256_movemask_epi8(m);
}
#endif

#endif
