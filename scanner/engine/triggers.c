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
 * marks "any". The last positions of a chunk, where 34 bytes are not left
 * to load, use exact per-byte tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/simd.h"
#include "triggers.h"

dg_err
trig_check(const struct dg_detector *d, char *why, size_t n_why)
{
    const struct dg_trigger *tr = d->triggers;
    size_t k;

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
    return DG_OK;
}

/* A set of triggers searched as one bucket: its members' nibbles at each of
 * the three bytes, as 16-bit sets, and the detectors they belong to. */
struct group {
    uint16_t lo[3], hi[3];
    uint32_t dets;    /* bit i: detector i (i < REGISTRY_MAX <= 32) */
    int first;        /* the first byte all its triggers share, -1 for several */
};

#define MAX_GROUPS 128u
#define GROUPS_PER_DETECTOR 4u

/* How often a byte is v in process memory, roughly, out of 541: half of a
 * real core's bytes are 0, a twentieth 1 (a JVM core: 49 % and 4.6 %),
 * 0xff is common in masks and -1, the rest are rare and alike. */
static unsigned
weight(unsigned v)
{
    return v == 0 ? 256u : v == 1 ? 24u : v == 0xff ? 8u : 1u;
}

/* The share of positions of process memory a bucket of g lets through:
 * at each byte, the weight of the bytes whose low and high nibbles it
 * allows, over all bytes' (taking the three bytes as independent). */
static double
pass_rate(const struct group *g)
{
    double r = 1.0;

    for (unsigned j = 0; j < 3; j++) {
        unsigned lo = g->lo[j], hi = g->hi[j];
        /* every allowed byte weighs 1, and 0, 1 and 0xff weigh more: the
         * sum of weight() over them without a loop (plan() asks often) */
        unsigned w = (unsigned)__builtin_popcount(lo) * (unsigned)__builtin_popcount(hi);

        if ((lo & 1u) && (hi & 1u))
            w += weight(0) - 1;
        if ((lo >> 1 & 1u) && (hi & 1u))
            w += weight(1) - 1;
        if ((lo >> 15 & 1u) && (hi >> 15 & 1u))
            w += weight(0xff) - 1;
        r *= w / 541.0;
    }
    return r;
}

static struct group
merged(const struct group *a, const struct group *b)
{
    struct group m = {.dets = a->dets | b->dets, .first = a->first == b->first ? a->first : -1};

    for (unsigned j = 0; j < 3; j++) {
        m.lo[j] = a->lo[j] | b->lo[j];
        m.hi[j] = a->hi[j] | b->hi[j];
    }
    return m;
}

static void
add_trigger(struct group *g, const struct dg_trigger *t)
{
    for (unsigned j = 0; j < 3; j++)
        if (j >= t->len || (t->any & (1u << j))) {
            g->lo[j] = g->hi[j] = 0xffff;
        } else {
            g->lo[j] |= (uint16_t)(1u << (t->b[j] & 15));
            g->hi[j] |= (uint16_t)(1u << (t->b[j] >> 4));
        }
}

/* Each detector's triggers in groups by first byte (at most
 * GROUPS_PER_DETECTOR: the rest join its last), then the two groups whose
 * union lets through the fewest more positions merged until TRIG_BUCKETS
 * are left: a detector whose triggers start with several bytes gets several
 * buckets when others can share, so that nibbles of different triggers
 * combine less into false hits. Returns the number of groups. */
static size_t
plan(const struct dg_detector *const *det, size_t n, struct group *g)
{
    size_t n_g = 0;

    for (size_t i = 0; i < n && i < 32; i++) {
        size_t mine = n_g;

        for (const struct dg_trigger *t = det[i]->triggers; t != NULL && t->len != 0; t++) {
            int first = (t->any & 1u) ? -1 : t->b[0];
            size_t k = mine;

            while (k < n_g && !(first >= 0 && g[k].first == first))
                k++;
            if (k == n_g && (n_g - mine == GROUPS_PER_DETECTOR || n_g == MAX_GROUPS))
                k = n_g - 1; /* its last group */
            if (k == n_g)
                g[n_g++] = (struct group){.dets = 1u << i, .first = first};
            add_trigger(&g[k], t);
            g[k].dets |= 1u << i;
            if (g[k].first != first)
                g[k].first = -1;
        }
    }
    while (n_g > TRIG_BUCKETS) {
        size_t ba = 0, bb = 1;
        double best = 0;

        for (size_t a = 0; a < n_g; a++)
            for (size_t b = a + 1; b < n_g; b++) {
                struct group m = merged(&g[a], &g[b]);
                double cost = pass_rate(&m) - pass_rate(&g[a]) - pass_rate(&g[b]);

                if ((a == 0 && b == 1) || cost < best) {
                    best = cost;
                    ba = a;
                    bb = b;
                }
            }
        g[ba] = merged(&g[ba], &g[bb]);
        g[bb] = g[--n_g];
    }
    return n_g;
}

/* The views of the n detectors whose bucket sets are set[] (0: none): one
 * per distinct set, in order of first use; past TRIG_VIEWS - 1 sets, a last
 * view of every bucket takes the detectors left (a superset of their hits
 * is allowed). view[i] is 1 + detector i's view, or 0. */
static void
plan_views(struct trig_table *t, const uint8_t *set, size_t n, uint8_t *view)
{
    unsigned distinct = 0;
    bool more = false;

    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;

        while (v < distinct && t->view[v] != set[i])
            v++;
        if (set[i] != 0 && v == distinct) {
            if (distinct < TRIG_VIEWS - 1)
                t->view[distinct++] = set[i];
            else
                more = true;
        }
    }
    if (more)
        t->view[distinct++] = (uint8_t)((1u << t->n_buckets) - 1);
    t->n_views = distinct;
    for (unsigned b = 0; b < 256; b++) /* b: a set of buckets */
        for (unsigned v = 0; v < distinct; v++)
            if (b & t->view[v])
                t->views_of[b] |= (uint16_t)(1u << v);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;

        while (v + 1 < distinct && t->view[v] != set[i])
            v++;
        view[i] = set[i] == 0 ? 0 : (uint8_t)(v + 1);
    }
}

dg_err
trig_table_build(struct trig_table *t, const struct dg_detector *const *det, size_t n,
                 uint8_t *view, char *why, size_t n_why)
{
    struct group g[MAX_GROUPS];
    uint8_t buckets[32] = {0};
    size_t n_g;

    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        dg_err rc = trig_check(det[i], why, n_why);

        view[i] = 0;
        if (rc != DG_OK)
            return rc;
    }
    n_g = plan(det, n, g);
    /* each trigger goes to the bucket holding its detector's group for its
     * first byte; the tables take its exact bytes */
    for (size_t i = 0; i < n && i < 32; i++)
        for (const struct dg_trigger *tr = det[i]->triggers; tr != NULL && tr->len != 0; tr++) {
            struct group one = {.first = -1};
            uint8_t bit = 0;

            add_trigger(&one, tr);
            for (size_t k = 0; k < n_g && bit == 0; k++) {
                bool inside = (g[k].dets >> i) & 1u;

                for (unsigned j = 0; inside && j < 3; j++)
                    inside = (one.lo[j] & ~g[k].lo[j]) == 0 && (one.hi[j] & ~g[k].hi[j]) == 0;
                if (inside)
                    bit = (uint8_t)(1u << k);
            }
            buckets[i] |= bit;
            for (unsigned j = 0; j < 3; j++) {
                if (j >= tr->len || (tr->any & (1u << j))) { /* any byte */
                    if (j >= tr->len)
                        t->fits[j] |= bit;
                    for (unsigned v = 0; v < 256; v++)
                        t->byte[j][v] |= bit;
                    for (unsigned v = 0; v < 16; v++) {
                        t->lo[j][v] |= bit;
                        t->hi[j][v] |= bit;
                    }
                } else {
                    t->byte[j][tr->b[j]] |= bit;
                    t->lo[j][tr->b[j] & 15] |= bit;
                    t->hi[j][tr->b[j] >> 4] |= bit;
                }
            }
        }
    t->n_buckets = (unsigned)n_g;
    plan_views(t, buckets, n < 32 ? n : 32, view);
    return DG_OK;
}

dg_err
trig_hits_reserve(struct trig_hits *h, const struct trig_table *t, size_t len)
{
    size_t cap = 2 * (len / 32 + 1), need;

    if (cap > TRIG_VIEW_WORDS)
        cap = TRIG_VIEW_WORDS;
    need = cap * (t->n_views > 0 ? t->n_views : 1);
    if (need > h->size) {
        uint32_t *w = realloc(h->w, need * sizeof *w); /* exactly: cap bounds trig_find() */

        if (w == NULL)
            return DG_E_NOMEM;
        h->w = w;
        h->size = need;
    }
    h->cap = cap;
    return DG_OK;
}

void
trig_hits_free(struct trig_hits *h)
{
    free(h->w);
    *h = (struct trig_hits){0};
}

/* Appends block at with its mask (not zero) to view v's list, or marks
 * the view full when the list has no room. */
static inline void
put_view(struct trig_hits *h, unsigned v, uint32_t at, uint32_t mask)
{
    uint32_t *list = h->w + v * h->cap;
    size_t n = h->n[v];

    if (n + 2 > h->cap) {
        h->full |= 1u << v;
        return;
    }
    list[n] = at;
    list[n + 1] = mask;
    h->n[v] = n + 2;
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

/* The buckets that hit anywhere among the 32 lookups m: the OR of its
 * bytes. */
DG_TARGET_AVX2 static inline unsigned
bucket_set(__m256i m)
{
    __m128i x = _mm_or_si128(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));

    x = _mm_or_si128(x, _mm_srli_si128(x, 8));
    x = _mm_or_si128(x, _mm_srli_si128(x, 4));
    x = _mm_or_si128(x, _mm_srli_si128(x, 2));
    x = _mm_or_si128(x, _mm_srli_si128(x, 1));
    return (unsigned)_mm_cvtsi128_si32(x) & 0xffu;
}

/* The positions among the 32 lookups m that have a bucket of set. */
DG_TARGET_AVX2 static inline uint32_t
set_mask(__m256i m, uint8_t set)
{
    __m256i in = _mm256_and_si256(m, _mm256_set1_epi8((char)set));

    return ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(in, _mm256_setzero_si256()));
}

/* Blocks of 32 positions are looked up GROUP at a time into a buffer, with
 * a bit per block that has a hit; only then are those blocks' masks taken.
 * One in thirteen blocks of a real core has a hit, at no pattern a branch
 * predictor can follow: a branch per block was mispredicted at most hits. */
#define GROUP 64u

DG_TARGET_AVX2 bool
trig_find(const struct trig_table *t, const uint8_t *p, size_t len, struct trig_hits *h)
{
    const __m256i lo0 = table(t->lo[0]), hi0 = table(t->hi[0]);
    const __m256i lo1 = table(t->lo[1]), hi1 = table(t->hi[1]);
    const __m256i lo2 = table(t->lo[2]), hi2 = table(t->hi[2]);
    __m256i found[GROUP];
    size_t i = 0;

    memset(h->n, 0, sizeof h->n);
    h->full = 0;
    while (i + 34 <= len) {
        const size_t first = i / 32;
        uint64_t any = 0;

        for (unsigned b = 0; b < GROUP && i + 34 <= len; b++, i += 32) {
            __m256i m = _mm256_and_si256(
                _mm256_and_si256(lookup(lo0, hi0, p + i), lookup(lo1, hi1, p + i + 1)),
                lookup(lo2, hi2, p + i + 2));

            _mm256_store_si256(&found[b], m);
            any |= (uint64_t)!_mm256_testz_si256(m, m) << b;
        }
        /* a block's hits go to the views that have a bucket among them:
         * one or two on a real core, out of eight */
        for (; any != 0; any &= any - 1) {
            unsigned b = (unsigned)__builtin_ctzll(any);

            for (unsigned vs = t->views_of[bucket_set(found[b])]; vs != 0; vs &= vs - 1) {
                unsigned v = (unsigned)__builtin_ctz(vs);

                put_view(h, v, (uint32_t)(first + b), set_mask(found[b], t->view[v]));
            }
        }
    }
    /* the last positions, which cannot load 34 bytes */
    for (; i < len; i += 32) {
        uint32_t mask[TRIG_VIEWS] = {0};

        for (size_t q = i; q < i + 32 && q < len; q++) {
            uint8_t m = buckets_at(t, p, len, q);

            for (unsigned v = 0; m != 0 && v < t->n_views; v++)
                if (m & t->view[v])
                    mask[v] |= 1u << (q - i);
        }
        for (unsigned v = 0; v < t->n_views; v++)
            if (mask[v] != 0)
                put_view(h, v, (uint32_t)(i / 32), mask[v]);
    }
    return h->full == 0;
}
#else
bool
trig_find(const struct trig_table *t, const uint8_t *p, size_t len, struct trig_hits *h)
{
    (void)p;
    (void)len;
    memset(h->n, 0, sizeof h->n);
    h->full = (uint32_t)((1ull << t->n_views) - 1); /* never called: the engine runs it only
                                                     * where dg_cpu_avx2() */
    return false;
}
#endif

size_t
dg_hits_next(const struct dg_chunk *ch, struct dg_hit_iter *it)
{
    const struct trig_hits *h = ch->hits->h;
    const uint32_t *list = h->w + (size_t)ch->hits->view * h->cap;
    const size_t n = h->n[ch->hits->view];

    while (it->bits == 0) {
        if (it->next + 2 > n)
            return SIZE_MAX;
        it->base = (size_t)list[it->next] * 32;
        it->bits = list[it->next + 1];
        it->next += 2;
    }
    {
        size_t pos = it->base + (size_t)__builtin_ctz(it->bits);

        it->bits &= it->bits - 1;
        return pos;
    }
}
