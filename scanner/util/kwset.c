/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * kwset.c - one pass over a buffer for any of a set of literal keywords,
 * ignoring ASCII case (see kwset.h).
 *
 * The words are dealt into 8 buckets by their first letter. Six 16-entry
 * tables map the low and the high nibble of a word's first, second and third
 * byte (both cases) to the buckets whose words may start so; a position is a candidate when the
 * AND of its six table entries is not zero. That is the "Teddy" shuffle
 * prefilter: with AVX2 it is three loads, six shuffles and a compare per 32
 * positions; elsewhere the same tables are read one position at a time. A
 * candidate is confirmed with strncasecmp() against the words of its
 * buckets only. This is a literal prefilter in front of PCRE2 (which still
 * matches every pattern), the way YARA and Hyperscan find atoms first.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kwset.h"
#include "simd.h"

#define BUCKETS 8u
#define MAX_WORD 255u

struct kwset {
    uint8_t lo0[16], hi0[16], lo1[16], hi1[16], lo2[16], hi2[16]; /* nibble -> buckets */
    uint8_t short1, short2; /* buckets with words of one byte, of at most two */
    bool avx2;
    size_t n;
    const char **word; /* into text */
    size_t *len;
    uint8_t *bucket;
    char *text;
};

static uint8_t
fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Marks byte c (both cases) as a possible byte of bucket bit b in lo/hi. */
static void
mark(uint8_t *lo, uint8_t *hi, uint8_t c, uint8_t b)
{
    uint8_t f = fold(c), u = f >= 'a' && f <= 'z' ? (uint8_t)(f - 32) : f;

    lo[f & 15] |= b;
    hi[f >> 4] |= b;
    lo[u & 15] |= b;
    hi[u >> 4] |= b;
}

dg_err
kwset_new(const char *const *words, const size_t *lens, size_t n, struct kwset **out)
{
    struct kwset *ks;
    size_t total = 0;
    char *w;

    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > MAX_WORD)
            return DG_E_ARG;
        total += lens[i];
    }
    ks = calloc(1, sizeof *ks);
    if (ks == NULL)
        return DG_E_NOMEM;
    ks->word = calloc(n ? n : 1, sizeof *ks->word);
    ks->len = calloc(n ? n : 1, sizeof *ks->len);
    ks->bucket = calloc(n ? n : 1, 1);
    ks->text = malloc(total ? total : 1);
    if (ks->word == NULL || ks->len == NULL || ks->bucket == NULL || ks->text == NULL) {
        kwset_free(ks);
        return DG_E_NOMEM;
    }
    ks->n = n;
    w = ks->text;
    for (size_t i = 0; i < n; i++) {
        /* Words that start with the same letter share a bucket, so that the
         * first-byte tables of a bucket stay exact. */
        uint8_t b = (uint8_t)(1u << (fold((uint8_t)words[i][0]) % BUCKETS));

        memcpy(w, words[i], lens[i]);
        ks->word[i] = w;
        ks->len[i] = lens[i];
        ks->bucket[i] = b;
        w += lens[i];
        mark(ks->lo0, ks->hi0, (uint8_t)words[i][0], b);
        if (lens[i] == 1)
            ks->short1 |= b;
        else
            mark(ks->lo1, ks->hi1, (uint8_t)words[i][1], b);
        if (lens[i] <= 2)
            ks->short2 |= b;
        else
            mark(ks->lo2, ks->hi2, (uint8_t)words[i][2], b);
    }
    /* A word shorter than the tables takes any byte where it has none. */
    for (unsigned j = 0; j < 16; j++) {
        ks->lo1[j] |= ks->short1;
        ks->hi1[j] |= ks->short1;
        ks->lo2[j] |= ks->short2;
        ks->hi2[j] |= ks->short2;
    }
#if DG_HAVE_AVX2
    ks->avx2 = dg_cpu_avx2();
#endif
    *out = ks;
    return DG_OK;
}

void
kwset_free(struct kwset *ks)
{
    if (ks == NULL)
        return;
    free(ks->word);
    free(ks->len);
    free(ks->bucket);
    free(ks->text);
    free(ks);
}

/* The buckets position pos may start a word of. */
static inline uint8_t
buckets_at(const struct kwset *ks, const uint8_t *t, size_t len, size_t pos)
{
    uint8_t c = t[pos], b = (uint8_t)(ks->lo0[c & 15] & ks->hi0[c >> 4]);

    if (b == 0)
        return 0;
    if (pos + 1 >= len)
        return b & ks->short1;
    c = t[pos + 1];
    b &= (uint8_t)(ks->lo1[c & 15] & ks->hi1[c >> 4]);
    if (b == 0 || pos + 2 >= len)
        return b & ks->short2;
    c = t[pos + 2];
    return (uint8_t)(b & ks->lo2[c & 15] & ks->hi2[c >> 4]);
}

/* Confirms the candidate at pos; false if hit() stopped the scan. */
static bool
confirm(const struct kwset *ks, const uint8_t *t, size_t len, size_t pos, uint8_t b,
        bool (*hit)(void *, size_t, size_t), void *arg)
{
    uint8_t f0 = fold(t[pos]), f1 = pos + 1 < len ? fold(t[pos + 1]) : 0;

    for (size_t i = 0; i < ks->n; i++)
        if ((ks->bucket[i] & b) && ks->len[i] <= len - pos && fold((uint8_t)ks->word[i][0]) == f0 &&
            (ks->len[i] == 1 || fold((uint8_t)ks->word[i][1]) == f1) &&
            strncasecmp((const char *)t + pos, ks->word[i], ks->len[i]) == 0 &&
            !hit(arg, i, pos))
            return false;
    return true;
}

#if DG_HAVE_AVX2
/* The bucket bits of the 32 bytes of v through the nibble tables lo, hi. */
DG_TARGET_AVX2 static inline __m256i
classify_avx2(const uint8_t *lo, const uint8_t *hi, __m256i v)
{
    const __m256i nib = _mm256_set1_epi8(0x0f);
    const __m256i l = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)lo));
    const __m256i h = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)hi));

    return _mm256_and_si256(_mm256_shuffle_epi8(l, _mm256_and_si256(v, nib)),
                            _mm256_shuffle_epi8(h, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
}

/* Positions [from, ...) 32 at a time while 34 bytes are left; returns where
 * it stopped, or (size_t)-1 if hit() stopped the scan. */
DG_TARGET_AVX2 static size_t
scan_avx2(const struct kwset *ks, const uint8_t *t, size_t len, size_t from,
          bool (*hit)(void *, size_t, size_t), void *arg)
{
    const __m256i zero = _mm256_setzero_si256();
    size_t i = from;

    for (; i + 34 <= len; i += 32) {
        __m256i c = classify_avx2(ks->lo0, ks->hi0,
                                  _mm256_loadu_si256((const __m256i *)(const void *)(t + i)));
        uint32_t m;

        c = _mm256_and_si256(c, classify_avx2(ks->lo1, ks->hi1,
                                              _mm256_loadu_si256((const __m256i *)(const void *)(t + i + 1))));
        c = _mm256_and_si256(c, classify_avx2(ks->lo2, ks->hi2,
                                              _mm256_loadu_si256((const __m256i *)(const void *)(t + i + 2))));
        m = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, zero));
        for (; m != 0; m &= m - 1) {
            size_t pos = i + (size_t)__builtin_ctz(m);

            if (!confirm(ks, t, len, pos, buckets_at(ks, t, len, pos), hit, arg))
                return (size_t)-1;
        }
    }
    return i;
}
#endif

bool
kwset_scan(const struct kwset *ks, const uint8_t *t, size_t len,
           bool (*hit)(void *arg, size_t word, size_t pos), void *arg)
{
    size_t i = 0;

    if (ks->n == 0)
        return true;
#if DG_HAVE_AVX2
    if (ks->avx2 && (i = scan_avx2(ks, t, len, 0, hit, arg)) == (size_t)-1)
        return false;
#endif
    for (; i < len; i++) {
        uint8_t b = buckets_at(ks, t, len, i);

        if (b != 0 && !confirm(ks, t, len, i, b, hit, arg))
            return false;
    }
    return true;
}
