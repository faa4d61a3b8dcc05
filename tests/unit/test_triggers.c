/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_triggers.c - the detectors' shared prefilter against a naive search.
 * The built-in detectors' triggers, and ten made-up detectors (more than
 * there are buckets, so some share one) with triggers of one to three bytes
 * and "any" bytes, are searched in random buffers of every length from 0 to
 * 300 and some long ones, drawn from a small alphabet so that triggers occur
 * often, and planted at the very end. The built-in detectors' triggers
 * start with more distinct bytes than there are buckets, so the planner
 * merges groups across detectors. For every detector, dg_hits_next()
 * must return ascending positions inside the buffer that include every
 * position where one of its triggers starts and fits. Malformed trigger
 * lists are refused, naming the detector.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../detectors/registry.h"
#include "../../scanner/engine/triggers.h"
#include "../../scanner/util/simd.h"
#include "tap.h"

static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool
matches(const struct dg_trigger *t, const uint8_t *p, size_t at, size_t len)
{
    if (t->len > len - at)
        return false;
    for (unsigned j = 0; j < t->len; j++)
        if (!(t->any & (1u << j)) && p[at + j] != t->b[j])
            return false;
    return true;
}

/* Searches p[0..len) for det[0..n) and checks each detector's hits. */
static bool
agrees(const struct trig_table *tab, const uint8_t *bucket, const struct dg_detector *const *det,
       size_t n, struct trig_hits *h, const uint8_t *p, size_t len, char *why, size_t n_why)
{
    if (!trig_find(tab, p, len, h)) {
        snprintf(why, n_why, "trig_find kept no hits of some view in %zu bytes", len);
        return false;
    }
    for (size_t d = 0; d < n; d++) {
        struct dg_hits view = {.h = h, .view = bucket[d] > 0 ? bucket[d] - 1u : 0};
        struct dg_chunk ch = {.p = p, .len = len, .owned = len, .hits = &view};
        struct dg_hit_iter it = {0};
        size_t want = 0, k, last = SIZE_MAX;

        if (bucket[d] == 0)
            continue;
        while ((k = dg_hits_next(&ch, &it)) != SIZE_MAX) {
            if (k >= len || (last != SIZE_MAX && k <= last)) {
                snprintf(why, n_why, "%s: position %zu out of order or range (len %zu)",
                         det[d]->name, k, len);
                return false;
            }
            /* every exact match before k was returned */
            for (; want < k; want++)
                for (const struct dg_trigger *t = det[d]->triggers; t->len != 0; t++)
                    if (matches(t, p, want, len)) {
                        snprintf(why, n_why, "%s: missed position %zu of %zu", det[d]->name, want,
                                 len);
                        return false;
                    }
            want = k + 1;
            last = k;
        }
        if (dg_hits_next(&ch, &it) != SIZE_MAX) {
            snprintf(why, n_why, "%s: a hit after the end", det[d]->name);
            return false;
        }
        for (; want < len; want++)
            for (const struct dg_trigger *t = det[d]->triggers; t->len != 0; t++)
                if (matches(t, p, want, len)) {
                    snprintf(why, n_why, "%s: missed position %zu of %zu", det[d]->name, want, len);
                    return false;
                }
    }
    return true;
}

/* Ten made-up detectors, more than TRIG_BUCKETS. */
static const struct dg_trigger t1[] = {{1, {'A', 0, 0}, 0}, {0, {0}, 0}};
static const struct dg_trigger t2[] = {{2, {'A', 'B', 0}, 0}, {2, {0, 'B', 0}, 0}, {0, {0}, 0}};
static const struct dg_trigger t3[] = {{3, {'C', 'D', 'E'}, 0}, {0, {0}, 0}};
static const struct dg_trigger t4[] = {{3, {'-', 0, '-'}, 2}, {0, {0}, 0}};
static const struct dg_trigger t5[] = {{3, {0xff, 0, 0x80}, 0}, {2, {0x80, 0xff, 0}, 0}, {0, {0}, 0}};
static const struct dg_trigger t6[] = {{3, {0, 0, 0}, 7}, {0, {0}, 0}}; /* any three bytes */
static const struct dg_trigger t7[] = {{2, {'E', 'A', 0}, 0}, {0, {0}, 0}};
static const struct dg_trigger t8[] = {{3, {'B', 'B', 'B'}, 0}, {1, {'D', 0, 0}, 0}, {0, {0}, 0}};
static const struct dg_trigger t9[] = {{2, {0x80, 0x80, 0}, 0}, {0, {0}, 0}};
static const struct dg_trigger t10[] = {{3, {'A', 0, 'A'}, 2}, {3, {0, 0, 'C'}, 3}, {0, {0}, 0}};
static const struct dg_trigger *const made_up[] = {t1, t2, t3, t4, t5, t6, t7, t8, t9, t10};

static void
search_all(struct tap *tap, const char *what, const struct dg_detector *const *det, size_t n,
           const uint8_t *alphabet, size_t n_alpha)
{
    struct trig_table tab;
    uint8_t bucket[REGISTRY_MAX + 16];
    struct trig_hits h = {0};
    char why[200] = "";
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    bool ok = true;
    static uint8_t buf[200000];

    if (!tap_check(tap, trig_table_build(&tab, det, n, bucket, why, sizeof why) == DG_OK,
                   "%s: the table builds %s", what, why))
        return;
    for (size_t len = 0; ok && len <= 300 + 3 * 65536; len = len < 300 ? len + 1 : len + 65533) {
        for (unsigned round = 0; ok && round < (len < 300 ? 20u : 3u); round++) {
            for (size_t i = 0; i < len; i++)
                buf[i] = alphabet[rnd(&seed) % n_alpha];
            /* a trigger of some detector at the very end */
            if (len > 0) {
                const struct dg_detector *d = det[rnd(&seed) % n];

                if (d->triggers != NULL && d->triggers[0].len != 0 &&
                    d->triggers[0].len <= len)
                    for (unsigned j = 0; j < d->triggers[0].len; j++)
                        buf[len - d->triggers[0].len + j] = d->triggers[0].b[j];
            }
            ok = trig_hits_reserve(&h, &tab, len) == DG_OK &&
                 agrees(&tab, bucket, det, n, &h, buf, len, why, sizeof why);
        }
    }
    tap_check(tap, ok, "%s: every trigger found, in order, in buffers of 0 to 300 bytes and "
              "three long ones %s", what, why);
    trig_hits_free(&h);
}

int
main(void)
{
    struct tap tap = {0};
    struct dg_detector fake[10];
    const struct dg_detector *det[REGISTRY_MAX + 16];
    size_t n = 0;
    static const uint8_t small[] = {'A', 'B', 'C', 'D', 'E', '-', 0, 0xff, 0x80, 'x'};
    uint8_t builtin_alpha[64];
    size_t n_alpha = 0;

    if (!dg_cpu_avx2()) {
        tap_check(&tap, 1, "# SKIP: the shared prefilter runs only where the CPU has AVX2");
        return tap_done(&tap);
    }
    /* the built-in detectors, over an alphabet of their trigger bytes */
    for (size_t i = 0; i < registry_count() && n < REGISTRY_MAX; i++) {
        const struct dg_detector *d = registry_get(i);

        det[n++] = d;
        for (const struct dg_trigger *t = d->triggers; t != NULL && t->len != 0; t++)
            for (unsigned j = 0; j < t->len; j++)
                if (n_alpha < sizeof builtin_alpha && memchr(builtin_alpha, t->b[j], n_alpha) == NULL)
                    builtin_alpha[n_alpha++] = t->b[j];
    }
    if (n_alpha < sizeof builtin_alpha)
        builtin_alpha[n_alpha++] = 0x55;
    tap_check(&tap, n_alpha > 4, "the built-in detectors have triggers (%zu distinct bytes)", n_alpha);
    search_all(&tap, "built-in detectors", det, n, builtin_alpha, n_alpha);

    for (size_t i = 0; i < 10; i++) {
        fake[i] = (struct dg_detector){.abi = DG_DETECTOR_ABI, .name = "made-up",
                                       .triggers = made_up[i]};
        det[i] = &fake[i];
    }
    search_all(&tap, "ten made-up detectors", det, 10, small, sizeof small);

    {
        static const struct dg_trigger bad[] = {{4, {'a', 'b', 'c'}, 0}, {0, {0}, 0}};
        static struct dg_trigger many[TRIG_MAX + 1];
        struct dg_detector d = {.abi = DG_DETECTOR_ABI, .name = "broken", .triggers = bad};
        const struct dg_detector *one[1] = {&d};
        struct trig_table tab;
        uint8_t bucket[1];
        char why[200] = "";

        tap_check(&tap, trig_table_build(&tab, one, 1, bucket, why, sizeof why) == DG_E_ARG &&
                            strstr(why, "broken") != NULL && strstr(why, "4 bytes") != NULL,
                  "a 4-byte trigger is refused: %s", why);
        for (size_t i = 0; i < TRIG_MAX; i++)
            many[i] = (struct dg_trigger){1, {(uint8_t)i, 0, 0}, 0};
        d.triggers = many;
        tap_check(&tap, trig_table_build(&tab, one, 1, bucket, why, sizeof why) == DG_E_ARG,
                  "%u triggers are refused: %s", TRIG_MAX, why);
    }
    {
        /* a chunk where every block has a hit of t1 ("A"): its view is
         * full past TRIG_VIEW_WORDS, and t3's ("CDE") keeps its one hit */
        size_t len = (size_t)(TRIG_VIEW_WORDS / 2 + 1000) * 32;
        uint8_t *p = malloc(len);
        struct trig_table tab;
        struct trig_hits h = {0};
        uint8_t view[3];
        char why[200] = "";

        if (p != NULL) {
            memset(p, 'A', len);
            memcpy(p + len / 2, "CDE", 3);
            bool built = trig_table_build(&tab, det, 3, view, why, sizeof why) == DG_OK;

            if (tap_check(&tap, built && view[0] != view[2] && view[0] != 0 && view[2] != 0 &&
                                    trig_hits_reserve(&h, &tab, len) == DG_OK,
                          "the made-up detectors t1, t2, t3 have views %u %u %u %s", view[0],
                          view[1], view[2], why)) {
                struct dg_hits v3 = {.h = &h, .view = view[2] - 1u};
                struct dg_chunk ch = {.p = p, .len = len, .owned = len, .hits = &v3};
                struct dg_hit_iter it = {0};
                bool full = !trig_find(&tab, p, len, &h) && (h.full >> (view[0] - 1) & 1u) &&
                            !(h.full >> (view[2] - 1) & 1u) && h.cap == TRIG_VIEW_WORDS;
                size_t k = dg_hits_next(&ch, &it);

                tap_check(&tap, full && k <= len / 2 && dg_hits_next(&ch, &it) == SIZE_MAX,
                          "hits in every one of %zu blocks fill t1's view; t3's keeps its one "
                          "hit (%zu)", len / 32, k);
                memset(p, 'x', len);
                p[len - 1] = 'A';
                {
                    struct dg_hits v1 = {.h = &h, .view = view[0] - 1u};
                    struct dg_chunk c1 = {.p = p, .len = len, .owned = len, .hits = &v1};
                    struct dg_hit_iter i1 = {0};
                    bool one = trig_find(&tab, p, len, &h) && h.full == 0;

                    one = one && dg_hits_next(&c1, &i1) == len - 1 &&
                          dg_hits_next(&c1, &i1) == SIZE_MAX;
                    tap_check(&tap, one,
                              "the same hits memory takes a chunk of that size with one hit");
                }
            }
        }
        free(p);
        trig_hits_free(&h);
    }
    {
        /* more distinct sets of buckets than TRIG_VIEWS: 32 detectors with
         * two triggers each, "xz" and "yz" for a pair of eight first bytes
         * (one bucket each), so that 28 pairs of buckets occur. The last
         * view is every bucket, and each detector still gets all its hits
         * (search_all). */
        static struct dg_trigger pair[32][3];
        static struct dg_detector many[32];
        const struct dg_detector *mdet[32];
        static const uint8_t bytes[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'z', 'y'};
        struct trig_table tab;
        uint8_t view[32];
        char why[200] = "";
        size_t i = 0;

        for (unsigned x = 0; x < 8; x++)
            for (unsigned y = x + 1; y < 8; y++, i++) {
                pair[i][0] = (struct dg_trigger){2, {bytes[x], 'z', 0}, 0};
                pair[i][1] = (struct dg_trigger){2, {bytes[y], 'z', 0}, 0};
            }
        for (; i < 32; i++) /* four more, alone */
            pair[i][0] = (struct dg_trigger){2, {bytes[i % 8], 'z', 0}, 0};
        for (i = 0; i < 32; i++) {
            many[i] = (struct dg_detector){.abi = DG_DETECTOR_ABI, .name = "many",
                                           .triggers = pair[i]};
            mdet[i] = &many[i];
        }
        bool built = trig_table_build(&tab, mdet, 32, view, why, sizeof why) == DG_OK;

        tap_check(&tap, built && tab.n_views == TRIG_VIEWS &&
                            tab.view[TRIG_VIEWS - 1] == (1u << tab.n_buckets) - 1,
                  "32 detectors with many sets of buckets: %u views, the last of every bucket %s",
                  tab.n_views, why);
        search_all(&tap, "32 made-up detectors", mdet, 32, bytes, sizeof bytes);
    }
    return tap_done(&tap);
}
