/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * wordflags.h - the entropy class of each 64-bit word, as the raw-number
 * searches (rsa-raw, rsa-factor) see memory: one byte of flags per word.
 *
 * Contract: word_flags(p, n, out, avx2) writes, for each of the n words at
 * p[0..8n) (any alignment, little-endian), out[j] = WF_BAD when word j is
 * low entropy (word_bad(): two or more zero bytes, two or more 0xff bytes,
 * or plain 7-bit ASCII), | WF_ANCHOR when it is structured (word_skip(): four
 * or more zero or four or more 0xff bytes: a size, a length, a pointer,
 * padding), | WF_STRUCT when it holds two or more zero or two or more 0xff
 * bytes (word_struct(): WF_BAD less the words that are only 7-bit text). avx2 may be true only when dg_cpu_avx2() is. A word of a big
 * number is WF_BAD with probability about 1/200 (7-bit ASCII by chance).
 */
#ifndef DUMPGATE_WORDFLAGS_H
#define DUMPGATE_WORDFLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simd.h"
#include "words.h"

#define WF_BAD 1u    /* word_flags(): low entropy */
#define WF_ANCHOR 2u /* word_flags(): structured (four or more zero or 0xff bytes) */
#define WF_STRUCT 4u /* word_flags(): two or more zero or 0xff bytes */

/* Low-entropy word: >= 2 zero bytes, >= 2 0xff bytes, or plain 7-bit ASCII. */
static inline unsigned
word_bad(uint64_t w)
{
    uint64_t z = zero_bytes(w), f = zero_bytes(~w);

    return ((z & (z - 1)) != 0) | ((f & (f - 1)) != 0) | ((w & 0x8080808080808080ull) == 0);
}

/* Two or more zero bytes or two or more 0xff bytes: a length, a pointer,
 * padding. */
static inline bool
word_struct(uint64_t w)
{
    uint64_t z = zero_bytes(w), f = zero_bytes(~w);

    return (z & (z - 1)) != 0 || (f & (f - 1)) != 0;
}

/* Words not worth a table slot: dP's low limb is one with probability < 2^-26. */
static inline bool
word_skip(uint64_t w)
{
    return count_flagged(zero_bytes(w)) >= 4 || count_flagged(zero_bytes(~w)) >= 4;
}

/* Flags of each of the n words at p: WF_BAD for a low-entropy word (two or
 * more zero bytes, two or more 0xff bytes, or plain 7-bit ASCII: word_bad()),
 * WF_ANCHOR for a structured one (four or more zero or four or more 0xff
 * bytes: word_skip()). The vector forms count the zero and the 0xff bytes of
 * each word with a sum of absolute differences (one count per 64-bit lane)
 * and turn the lane compares into flag bytes through spread[]. */
static const uint32_t spread[16] = {
    0x00000000, 0x00000001, 0x00000100, 0x00000101, 0x00010000, 0x00010001,
    0x00010100, 0x00010101, 0x01000000, 0x01000001, 0x01000100, 0x01000101,
    0x01010000, 0x01010001, 0x01010100, 0x01010101,
};

static inline uint32_t
flag_bytes(unsigned bad, unsigned anchor, unsigned st)
{
    /* byte j: flags of word j (little-endian) */
    return spread[bad] | spread[anchor] << 1 | spread[st] << 2;
}

static inline size_t
word_flags_tail(const uint8_t *p, size_t j, size_t n, uint8_t *out)
{
    for (; j < n; j++) {
        uint64_t v = load_le64(p + 8 * j);

        out[j] = (uint8_t)((word_bad(v) ? WF_BAD : 0) | (word_skip(v) ? WF_ANCHOR : 0) |
                           (word_struct(v) ? WF_STRUCT : 0));
    }
    return j;
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static inline void
word_flags_avx2(const uint8_t *p, size_t n, uint8_t *out)
{
    const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi8(-1);
    const __m256i one = _mm256_set1_epi8(1), high = _mm256_set1_epi8((char)0x80);
    const __m256i c1 = _mm256_set1_epi64x(1), c3 = _mm256_set1_epi64x(3);
    size_t j = 0;

    for (; j + 4 <= n; j += 4) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8 * j));
        __m256i nz = _mm256_sad_epu8(_mm256_and_si256(_mm256_cmpeq_epi8(v, zero), one), zero);
        __m256i nf = _mm256_sad_epu8(_mm256_and_si256(_mm256_cmpeq_epi8(v, ones), one), zero);
        __m256i hi = _mm256_sad_epu8(_mm256_and_si256(v, high), zero);
        __m256i most = _mm256_max_epu8(nz, nf); /* counts <= 8 sit in each lane's low byte */
        __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi64(most, c1), _mm256_cmpeq_epi64(hi, zero));
        __m256i anc = _mm256_cmpgt_epi64(most, c3);
        __m256i st = _mm256_cmpgt_epi64(most, c1);
        uint32_t f = flag_bytes((unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(bad)),
                                (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(anc)),
                                (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(st)));

        memcpy(out + j, &f, 4);
    }
    word_flags_tail(p, j, n, out);
}
#endif

static inline void
word_flags(const uint8_t *p, size_t n, uint8_t *out, bool avx2)
{
    size_t j = 0;

#if DG_HAVE_AVX2
    if (avx2) {
        word_flags_avx2(p, n, out);
        return;
    }
#else
    (void)avx2;
#endif
#ifdef __SSE2__
    const __m128i zero = _mm_setzero_si128(), ones = _mm_set1_epi8(-1);
    const __m128i one = _mm_set1_epi8(1), high = _mm_set1_epi8((char)0x80);
    const __m128i c1 = _mm_set1_epi32(1), c3 = _mm_set1_epi32(3);

    /* Counts and sums sit in the low 32 bits of each 64-bit lane, the high 32
     * bits are zero: 32-bit compares, lanes 0 and 2 of the mask. */
    for (; j + 4 <= n; j += 4) {
        unsigned bad = 0, anc = 0, st = 0;

        for (unsigned h = 0; h < 2; h++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 8 * (j + 2 * h)));
            __m128i nz = _mm_sad_epu8(_mm_and_si128(_mm_cmpeq_epi8(v, zero), one), zero);
            __m128i nf = _mm_sad_epu8(_mm_and_si128(_mm_cmpeq_epi8(v, ones), one), zero);
            __m128i hi = _mm_sad_epu8(_mm_and_si128(v, high), zero);
            __m128i most = _mm_max_epu8(nz, nf);
            unsigned b = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(
                _mm_or_si128(_mm_cmpgt_epi32(most, c1), _mm_cmpeq_epi32(hi, zero))));
            unsigned an = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpgt_epi32(most, c3)));
            unsigned sm = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpgt_epi32(most, c1)));

            bad |= ((b & 1) | (b >> 1 & 2)) << 2 * h;
            anc |= ((an & 1) | (an >> 1 & 2)) << 2 * h;
            st |= ((sm & 1) | (sm >> 1 & 2)) << 2 * h;
        }
        {
            uint32_t f = flag_bytes(bad, anc, st);

            memcpy(out + j, &f, 4);
        }
    }
#endif
    word_flags_tail(p, j, n, out);
}

#endif
