/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_regions.c - the region map's resolution of claims into a cover of the
 * file: overlaps by priority and claim order, gaps, trailing bytes, claims
 * past the end (unreadable), stream files of unknown size, naming by va.
 */
#include <string.h>

#include "../../scanner/container/regions.h"
#include "tap.h"

struct want {
    uint64_t off, len;
    enum dg_span_kind kind;
    uint64_t va; /* UINT64_MAX: no va */
};

static struct dg_region
mem(uint64_t off, uint64_t len, uint64_t va)
{
    return (struct dg_region){.off = off, .len = len, .va = va, .has_va = true,
                              .kind = DG_SPAN_ANON, .thread = -1};
}

static struct dg_region
meta(uint64_t off, uint64_t len, enum dg_span_kind kind)
{
    return (struct dg_region){.off = off, .len = len, .kind = kind, .thread = -1};
}

static int
same(const struct dg_regions *m, const struct want *w, size_t n)
{
    if (regions_count(m) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const struct dg_region *s = regions_get(m, i);

        if (s->off != w[i].off || s->len != w[i].len || s->kind != w[i].kind)
            return 0;
        if (w[i].va == UINT64_MAX ? s->has_va : (!s->has_va || s->va != w[i].va))
            return 0;
    }
    return 1;
}

int
main(void)
{
    struct tap t = {0};
    struct dg_regions *m;
    struct dg_region r;

    /* Header, gap, memory, overlap resolved in favour of memory, trailing. */
    m = regions_new();
    r = meta(0, 64, DG_SPAN_HEADER);
    regions_claim(m, &r, REGIONS_PRIO_META);
    r = mem(100, 50, 0x1000);
    regions_claim(m, &r, REGIONS_PRIO_MEMORY);
    r = meta(120, 60, DG_SPAN_NOTES); /* overlaps the memory claim */
    regions_claim(m, &r, REGIONS_PRIO_META);
    tap_check(&t, regions_finish(m, 300) == DG_OK, "finish");
    {
        const struct want w[] = {
            {0, 64, DG_SPAN_HEADER, UINT64_MAX}, {64, 36, DG_SPAN_GAP, UINT64_MAX},
            {100, 50, DG_SPAN_ANON, 0x1000},     {150, 30, DG_SPAN_NOTES, UINT64_MAX},
            {180, 120, DG_SPAN_TRAILING, UINT64_MAX},
        };

        tap_check(&t, same(m, w, 5), "memory wins an overlap; gap and trailing spans");
    }
    tap_check(&t, regions_at(m, 149) == regions_get(m, 2) && regions_at(m, 150) == regions_get(m, 3),
              "regions_at finds the span of an offset");
    tap_check(&t, regions_at_va(m, 0x1010) == regions_get(m, 2), "regions_at_va");
    tap_check(&t, regions_at_va(m, 0x1050) == NULL, "va past the region");
    tap_check(&t, regions_unreadable(m) == 0, "nothing unreadable");
    regions_free(m);

    /* Two memory claims overlapping: the first claimed wins, the second keeps
     * its own va for the part it owns. Claims past the end are unreadable. */
    m = regions_new();
    r = mem(0, 100, 0x10000);
    regions_claim(m, &r, REGIONS_PRIO_MEMORY);
    r = mem(50, 100, 0x20000);
    regions_claim(m, &r, REGIONS_PRIO_MEMORY);
    r = mem(180, 1000, 0x30000);
    regions_claim(m, &r, REGIONS_PRIO_MEMORY);
    regions_finish(m, 200);
    {
        const struct want w[] = {
            {0, 100, DG_SPAN_ANON, 0x10000}, {100, 50, DG_SPAN_ANON, 0x20000 + 50},
            {150, 30, DG_SPAN_GAP, UINT64_MAX}, {180, 20, DG_SPAN_ANON, 0x30000},
        };

        tap_check(&t, same(m, w, 4), "first claim wins; clipped to the file");
    }
    tap_check(&t, regions_unreadable(m) == 980, "980 bytes past the end are unreadable (got %llu)",
              (unsigned long long)regions_unreadable(m));
    regions_free(m);

    /* A stream of unknown size: the cover ends in an open trailing span. */
    m = regions_new();
    r = meta(0, 10, DG_SPAN_HEADER);
    regions_claim(m, &r, REGIONS_PRIO_META);
    regions_finish(m, UINT64_MAX);
    tap_check(&t, regions_count(m) == 2 && regions_get(m, 1)->kind == DG_SPAN_TRAILING &&
                      regions_get(m, 1)->len == UINT64_MAX - 10,
              "stream: open trailing span");
    regions_finish(m, 25);
    tap_check(&t, regions_count(m) == 2 && regions_get(m, 1)->len == 15,
              "finish again with the final size");
    regions_free(m);

    /* Naming by va: only unnamed memory claims overlapping the range. */
    m = regions_new();
    for (unsigned i = 0; i < 1000; i++) {
        r = mem(i * 4096ull, 4096, 0x400000 + i * 8192ull);
        regions_claim(m, &r, REGIONS_PRIO_MEMORY);
    }
    regions_name_va(m, 0x400000 + 10 * 8192ull, 3 * 8192, DG_SPAN_FILE, "/lib/x.so", -1);
    regions_name_va(m, 0x400000 + 11 * 8192ull + 5, 1, DG_SPAN_STACK, "[stack]", 7);
    regions_finish(m, 1000 * 4096ull);
    tap_check(&t, regions_get(m, 9)->name == NULL, "span before the range unnamed");
    tap_check(&t, regions_get(m, 10)->name && strcmp(regions_get(m, 10)->name, "/lib/x.so") == 0 &&
                      regions_get(m, 10)->kind == DG_SPAN_FILE,
              "span in the range named");
    tap_check(&t, regions_get(m, 11)->kind == DG_SPAN_FILE && regions_get(m, 11)->thread == -1,
              "a named file region is not renamed a stack");
    tap_check(&t, regions_get(m, 13)->name == NULL, "span after the range unnamed");
    regions_free(m);

    /* Many claims: the cover stays sorted and exact (PN_XNUM-sized maps). */
    m = regions_new();
    for (unsigned i = 0; i < 70000; i++) {
        r = mem((69999 - i) * 64ull, 64, i * 4096ull);
        regions_claim(m, &r, REGIONS_PRIO_MEMORY);
    }
    regions_finish(m, 70000 * 64ull);
    {
        int ok = regions_count(m) == 70000;

        for (size_t i = 1; ok && i < regions_count(m); i++)
            ok = regions_get(m, i)->off == regions_get(m, i - 1)->off + 64;
        tap_check(&t, ok, "70000 claims in reverse order resolve to a sorted cover");
    }
    regions_free(m);
    return tap_done(&t);
}
