/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * triggers.c - the detectors' shared prefilter (see triggers.h).
 *
 * The search is a nibble shuffle ("Teddy", after Hyperscan): for each of the
 * three bytes of a trigger, two 16-entry tables give, by the byte's low and
 * high nibble, the buckets whose triggers allow that nibble there; the AND
 * of the two lookups, over the three bytes at positions i, i+1 and i+2, is
 * the set of buckets that may start at i. Six byte shuffles and a few ANDs
 * answer 32 positions for every detector at once, where each detector's
 * own search cost two to four compares per pattern. A trigger shorter than
 * three bytes allows every byte after its end, as does a byte the trigger
 * marks "any". The last positions of a
 * chunk, where 34 bytes are not left to load, use exact per-byte tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/simd.h"
#include "triggers.h"

dg_err
trig_check(const struct dg_detector *d, size_t *count, char *why, size_t n_why)
{
    const struct dg_trigger *tr = d->triggers;
    size_t k;

    *count = 0;
    if (tr == NULL)
        return DG_OK;
    for (k = 0; k < TRIG_MAX && tr[k].len != 0; k++)
        if (tr[k].len > 3) {
            snprintf(why, n_why, "detector %s: trigger %zu is %u bytes long (at most 3)", d->name,
                     k, tr[k].len);
            return DG_E_ARG;
        }
    if (k == TRIG_MAX) {
        snprintf(why, n_why, "detector %s: more than %u triggers", d->name, TRIG_MAX - 1);
        return DG_E_ARG;
    }
    *count = k;
    return DG_OK;
}

dg_err
trig_table_build(struct trig_table *t, const struct dg_detector *const *det, size_t n,
                 uint8_t *bucket, char *why, size_t n_why)
{
    unsigned next = 0;

    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const struct dg_trigger *tr = det[i]->triggers;
        size_t count;
        dg_err rc = trig_check(det[i], &count, why, n_why);
        uint8_t bit;

        bucket[i] = TRIG_NONE;
        if (rc != DG_OK)
            return rc;
        if (count == 0)
            continue; /* no list, or an empty one: it reads the chunk itself */
        bucket[i] = (uint8_t)(next % TRIG_BUCKETS);
        bit = (uint8_t)(1u << bucket[i]);
        next++;
        for (size_t k = 0; k < count; k++)
            for (unsigned j = 0; j < 3; j++) {
                if (j >= tr[k].len || (tr[k].any & (1u << j))) { /* any byte */
                    if (j >= tr[k].len)
                        t->fits[j] |= bit;
                    for (unsigned v = 0; v < 256; v++)
                        t->byte[j][v] |= bit;
                    for (unsigned v = 0; v < 16; v++) {
                        t->lo[j][v] |= bit;
                        t->hi[j][v] |= bit;
                    }
                } else {
                    t->byte[j][tr[k].b[j]] |= bit;
                    t->lo[j][tr[k].b[j] & 15] |= bit;
                    t->hi[j][tr[k].b[j] >> 4] |= bit;
                }
            }
    }
    t->n_buckets = next < TRIG_BUCKETS ? next : TRIG_BUCKETS;
    return DG_OK;
}

dg_err
trig_hits_reserve(struct trig_hits *h, size_t len)
{
    size_t need = len / 32 + 1;
    struct trig_block *b;

    if (need <= h->cap)
        return DG_OK;
    b = realloc(h->b, need * sizeof *b);
    if (b == NULL)
        return DG_E_NOMEM;
    h->b = b;
    h->cap = need;
    return DG_OK;
}

void
trig_hits_free(struct trig_hits *h)
{
    free(h->b);
    *h = (struct trig_hits){0};
}

/* Buckets that may start at p[i] of p[0..len), from the exact tables. */
static uint8_t
buckets_at(const struct trig_table *t, const uint8_t *p, size_t len, size_t i)
{
    uint8_t m = t->byte[0][p[i]];

    m &= i + 1 < len ? t->byte[1][p[i + 1]] : t->fits[1];
    m &= i + 2 < len ? t->byte[2][p[i + 2]] : t->fits[2];
    return m;
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static inline __m256i
table(const uint8_t v[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)v));
}

DG_TARGET_AVX2 static inline __m256i
lookup(__m256i lo, __m256i hi, const uint8_t *p)
{
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);

    return _mm256_and_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(v, nib)),
                            _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
}

DG_TARGET_AVX2 void
trig_find(const struct trig_table *t, const uint8_t *p, size_t len, struct trig_hits *h)
{
    const __m256i lo0 = table(t->lo[0]), hi0 = table(t->hi[0]);
    const __m256i lo1 = table(t->lo[1]), hi1 = table(t->hi[1]);
    const __m256i lo2 = table(t->lo[2]), hi2 = table(t->hi[2]);
    size_t i = 0;

    h->n = 0;
    for (; i + 34 <= len; i += 32) {
        __m256i m = _mm256_and_si256(_mm256_and_si256(lookup(lo0, hi0, p + i), lookup(lo1, hi1, p + i + 1)),
                                     lookup(lo2, hi2, p + i + 2));
        struct trig_block *b;

        if (_mm256_testz_si256(m, m))
            continue;
        b = &h->b[h->n++];
        b->at = (uint32_t)(i / 32);
        for (unsigned k = 0; k < TRIG_BUCKETS; k++)
            b->mask[k] = k < t->n_buckets
                ? (uint32_t)_mm256_movemask_epi8(_mm256_sll_epi16(m, _mm_cvtsi32_si128(7 - (int)k)))
                : 0;
    }
    /* the last positions, which cannot load 34 bytes */
    for (; i < len; i += 32) {
        struct trig_block b = {.at = (uint32_t)(i / 32)};
        bool any = false;

        for (size_t q = i; q < i + 32 && q < len; q++) {
            uint8_t m = buckets_at(t, p, len, q);

            for (unsigned k = 0; m != 0 && k < t->n_buckets; k++)
                if (m & (1u << k)) {
                    b.mask[k] |= 1u << (q - i);
                    any = true;
                }
        }
        if (any)
            h->b[h->n++] = b;
    }
}
#else
void
trig_find(const struct trig_table *t, const uint8_t *p, size_t len, struct trig_hits *h)
{
    (void)t;
    (void)p;
    (void)len;
    h->n = 0; /* never called: the engine runs it only where dg_cpu_avx2() */
}
#endif

size_t
dg_hits_next(const struct dg_chunk *ch, struct dg_hit_iter *it)
{
    const struct trig_hits *h = ch->hits->h;
    unsigned k = ch->hits->bucket;

    for (;;) {
        size_t nb;

        if (it->bits != 0) {
            size_t pos = (size_t)h->b[it->block].at * 32 + (size_t)__builtin_ctz(it->bits);

            it->bits &= it->bits - 1;
            return pos;
        }
        nb = it->started ? it->block + 1 : 0;
        it->started = true;
        while (nb < h->n && h->b[nb].mask[k] == 0)
            nb++;
        if (nb >= h->n) {
            it->block = h->n;
            return SIZE_MAX;
        }
        it->block = nb;
        it->bits = h->b[nb].mask[k];
    }
}
