/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * simd.h - what the byte prefilters may use: SSE2 always on x86-64, AVX2 when
 * the CPU has it (chosen at run time, so one binary serves every x86-64).
 *
 * Contract: DG_HAVE_AVX2 is 1 where the compiler can build functions marked
 * DG_TARGET_AVX2 (GCC or clang on x86-64), else 0. dg_cpu_avx2() tells
 * whether this CPU runs them; it is cheap enough to call once per chunk.
 * Code under DG_TARGET_AVX2 must only run when dg_cpu_avx2() is true.
 */
#ifndef DUMPGATE_SIMD_H
#define DUMPGATE_SIMD_H

#include <stdbool.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DG_HAVE_AVX2 1
#define DG_TARGET_AVX2 __attribute__((target("avx2")))
#include <immintrin.h>

static inline bool
dg_cpu_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
}
#else
#define DG_HAVE_AVX2 0
#define DG_TARGET_AVX2

static inline bool
dg_cpu_avx2(void)
{
    return false;
}
#endif

#endif
