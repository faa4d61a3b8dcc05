/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_ptrpath.c - the pointer-path search finds the same paths whether the
 * first level makes its summaries of memory itself or takes them from
 * ptrpath_sums_start() (made before the keys were known, by the search's
 * thread alone or with ptrpath_sums_help() on one or more others), with one
 * reader or several; summaries readied and freed unused leak nothing; a
 * summary whose time ran out is not used.
 *
 * The dump is in memory: a "globals" region of roots and 40 MiB of
 * writable heap (several 1 MiB windows, region ends not on a window) whose
 * words are random data and pointer-like noise into the heap. Into it go
 * chains root -> object -> object -> key, each hop pointing a little before
 * the next object, and keys no root reaches. With dense noise (a quarter of
 * the words) a level finds more hits than a reader keeps: the answers must
 * still not depend on how the windows were shared among readers.
 *
 * A second dump spreads its memory over seven places of the address space
 * (more than the search's cover has intervals, so some gaps are merged)
 * and chains hop between them, the last pointer of each lying below its
 * key's region (in the max_offset below it that the cover must keep).
 *
 * A third holds a stack, globals and a heap: a key a stack slot points at
 * (a weak root) and, two objects up, a global; at that last level the heap
 * holds more words pointing straight at the object than a level keeps. With
 * the regions ranked, that level reads the globals only and names the
 * global; without, the heap's words crowd the global out and the stack
 * stays the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/container/regions.h"
#include "../../scanner/input/input.h"
#include "../../scanner/where/ptrpath.h"
#include "tap.h"

#define GLOBALS_VA 0x400000ull
#define GLOBALS_LEN (64u << 10)
#define HEAP_VA 0x7f0000000000ull
#define HEAP_LEN ((40u << 20) + 4096u * 3)
#define N_CHAINS 6
#define N_LOST 2

#include "ptrdump.h"

static void
run(struct dg_dump *d, const uint64_t *keys, size_t n, unsigned threads, unsigned pre_threads,
    double pre_seconds, struct ptrpath_query *q, dg_err *rc)
{
    run_budget(d, keys, n, threads, pre_threads, pre_seconds, 0, q, rc);
}

/* Fills file: globals zero but for the roots, the heap random words, one in
 * `every` of them pointer-like noise into the heap; chains into keys. */
static void
fill(uint8_t *file, size_t file_len, unsigned every, uint64_t *keys)
{
    uint64_t seed = 0x2545F4914F6CDD1Dull;

    memset(file, 0, GLOBALS_LEN);
    for (uint64_t off = GLOBALS_LEN; off + 8 <= file_len; off += 8) {
        uint64_t r = next(&seed);

        put(file, off, r % every == 0 ? HEAP_VA + (next(&seed) % HEAP_LEN & ~7ull) : r);
    }
    /* chains: a global -> 3 objects -> the key, each pointer 0x10 before its
     * target (a path says "+0x38": from the value to the next pointer) */
    for (size_t c = 0; c < N_CHAINS + N_LOST; c++) {
        uint64_t obj[4], root = GLOBALS_VA + 0x100 * (c + 1);

        for (int k = 0; k < 4; k++)
            obj[k] = HEAP_VA + 0x1000 + (next(&seed) % (HEAP_LEN - 0x2000) & ~7ull);
        keys[c] = obj[3];
        for (int k = 0; k < 3; k++) /* obj[k]'s word at +0x28 points 0x10 before obj[k + 1] */
            put(file, GLOBALS_LEN + (obj[k] - HEAP_VA) + 0x28, obj[k + 1] - 0x10);
        if (c < N_CHAINS)
            put(file, root - GLOBALS_VA, obj[0] - 0x10);
    }
}

/* Every combination of readers and summary threads gives ref's answers. */
static void
same_everywhere(struct tap *t, struct dg_dump *d, const uint64_t *keys, size_t n,
                const struct ptrpath_query *ref, const char *what)
{
    struct ptrpath_query got[N_CHAINS + N_LOST];
    dg_err rc;

    for (unsigned threads = 1; threads <= 3; threads++) {
        for (unsigned pre = 0; pre <= 3; pre++) {
            bool same = true;

            run(d, keys, n, threads, pre, 60.0, got, &rc);
            for (size_t i = 0; i < n; i++)
                same &= got[i].rc == ref[i].rc && strcmp(got[i].path, ref[i].path) == 0 &&
                        strcmp(got[i].why, ref[i].why) == 0;
            if (pre >= 2)
                tap_check(t, rc == DG_OK && same,
                          "%s: %u reader(s), summaries made before by %u threads: the same "
                          "paths", what, threads, pre);
            else
                tap_check(t, rc == DG_OK && same,
                          "%s: %u reader(s), summaries made by the first level (pre %u): the "
                          "same paths", what, threads, pre);
        }
    }
    /* Smaller summary budgets: the dump's 44 windows get 1 KiB summaries,
     * then 512 bytes, then only the first 8 of them one (the rest are read
     * at every level). */
    for (unsigned b = 0; b < 3; b++) {
        static const size_t budget[3] = {44u << 10, 22u << 10, 4u << 10};

        for (unsigned pre = 0; pre <= 2; pre += 2) {
            bool same = true;

            run_budget(d, keys, n, 2, pre, 60.0, budget[b], got, &rc);
            for (size_t i = 0; i < n; i++)
                same &= got[i].rc == ref[i].rc && strcmp(got[i].path, ref[i].path) == 0 &&
                        strcmp(got[i].why, ref[i].why) == 0;
            tap_check(t, rc == DG_OK && same,
                      "%s: summaries of %zu bytes in all (pre %u): the same paths", what,
                      budget[b], pre);
        }
    }
}

/* The spread dump: globals and six regions far apart, by VA. */
#define SPREAD_LEN (256u << 10)
static const uint64_t spread_va[] = {GLOBALS_VA,           0x10000000ull,        0x200000000000ull,
                                     0x550000000000ull,    0x7f0000000000ull,    0x7f8000000000ull,
                                     0x7ffc00000000ull};
#define N_SPREAD (sizeof spread_va / sizeof spread_va[0])

/* Chains from a global through regions 1..6 in a rotating order to a key 8
 * bytes into a region, whose pointer (0x10 before it) lies below that
 * region. Returns false when the regions cannot be made. */
static bool
spread_dump(struct tap *t, uint8_t *file, struct dg_regions *map, uint64_t *keys)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull;

    memset(file, 0, SPREAD_LEN);
    for (uint64_t off = SPREAD_LEN; off + 8 <= N_SPREAD * SPREAD_LEN; off += 8)
        put(file, off, next(&seed));
    for (size_t c = 0; c < N_CHAINS; c++) {
        uint64_t obj[4];

        for (int k = 0; k < 3; k++) /* three objects in three other regions */
            obj[k] = spread_va[1 + (c + 2 * (unsigned)k) % (N_SPREAD - 1)] + 0x1000 +
                     (next(&seed) % (SPREAD_LEN - 0x2000) & ~7ull);
        obj[3] = spread_va[1 + (c + 1) % (N_SPREAD - 1)] + 8; /* the key */
        keys[c] = obj[3];
        for (int k = 0; k < 3; k++) {
            size_t r = 1 + (c + 2 * (unsigned)k) % (N_SPREAD - 1);

            put(file, r * SPREAD_LEN + (obj[k] - spread_va[r]) + 0x28, obj[k + 1] - 0x10);
        }
        put(file, 0x100 * (c + 1), obj[0] - 0x10);
    }
    for (size_t r = 0; r < N_SPREAD; r++) {
        struct dg_region g = {.off = r * SPREAD_LEN, .len = SPREAD_LEN, .va = spread_va[r],
                              .has_va = true, .perms = DG_PERM_R | DG_PERM_W,
                              .kind = r == 0 ? DG_SPAN_MODULE : DG_SPAN_HEAP, .thread = -1};

        regions_claim(map, &g, REGIONS_PRIO_MEMORY);
    }
    regions_info(map)->word_size = 8;
    regions_info(map)->format = "elf-core";
    return tap_check(t, regions_finish(map, N_SPREAD * SPREAD_LEN) == DG_OK,
                     "spread dump: regions finished");
}

/* The spread dump: every chain is found, however the windows are read. */
static void
spread_paths(struct tap *t)
{
    uint8_t *file = malloc(N_SPREAD * SPREAD_LEN);
    struct dg_regions *map = regions_new();
    uint64_t keys[N_CHAINS];
    struct ptrpath_query got[N_CHAINS];
    struct dg_input in;
    struct dg_dump d;

    if (!tap_check(t, file != NULL && map != NULL, "spread dump made") ||
        !spread_dump(t, file, map, keys)) {
        free(file);
        regions_free(map);
        return;
    }
    input_open_memory("spread", file, N_SPREAD * SPREAD_LEN, &in);
    d = (struct dg_dump){.in = &in, .map = map};
    for (unsigned threads = 1; threads <= 2; threads++)
        for (unsigned pre = 0; pre <= 2; pre += 2) {
            bool all = true;
            dg_err rc;

            run(&d, keys, N_CHAINS, threads, pre, 60.0, got, &rc);
            for (size_t i = 0; i < N_CHAINS; i++)
                all &= got[i].rc == DG_OK && strncmp(got[i].path, "g+0x", 4) == 0 &&
                       strstr(got[i].path, " -> +0x38 -> +0x38 -> +0x38 -> key at +0x10") != NULL;
            tap_check(t, rc == DG_OK && all,
                      "spread over 7 places, %u reader(s), summaries before by %u threads: "
                      "every chain found (%s)", threads, pre, got[0].rc == DG_OK ? got[0].path : got[0].why);
        }
    input_close(&in);
    regions_free(map);
    free(file);
}

/* The stack dump: globals, a stack and a heap, by VA. */
#define RANKED_LEN (64u << 10)
#define STACK_VA 0x7ffd00000000ull
#define CROWD 400u /* heap words at the last level: more than it keeps (4 * 64 + 64) */

/* A word in the stack is a weak root, in the globals a good one. */
static bool
ranked_root(void *arg, uint64_t at, char *name, size_t len, int *rank)
{
    if (at >= STACK_VA && at < STACK_VA + RANKED_LEN) {
        snprintf(name, len, "stack");
        *rank = 1;
        return true;
    }
    return is_root(arg, at, name, len, rank);
}

/* ptrpath_region_rank_fn of the stack dump, as ranked_root() ranks. */
static int
ranked_region(void *arg, const struct dg_region *reg)
{
    (void)arg;
    return reg->kind == DG_SPAN_STACK ? 1 : reg->kind == DG_SPAN_MODULE ? 3 : -1;
}

/* The stack dump: the key's weak root at level 1, its global at level 3,
 * the last its extra depth allows; searched with and without the ranks. */
static void
last_level_roots(struct tap *t)
{
    const size_t len = 2 * RANKED_LEN + (1u << 20);
    uint8_t *file = calloc(1, len);
    struct dg_regions *map = regions_new();
    const uint64_t heap = HEAP_VA, key = heap + 0x8010, a = heap + 0x20000, b = heap + 0x40000;
    const uint64_t heap_off = 2 * RANKED_LEN;
    struct dg_input in;
    struct dg_dump d;

    if (!tap_check(t, file != NULL && map != NULL, "stack dump made")) {
        free(file);
        regions_free(map);
        return;
    }
    put(file, RANKED_LEN + 0x100, key - 0x10);          /* the stack -> the key */
    put(file, heap_off + (a - heap) + 0x28, key - 0x10); /* a -> the key */
    put(file, heap_off + (b - heap) + 0x28, a + 0x18);   /* b -> a's pointer */
    put(file, 0x200, b + 0x18);                          /* a global -> b's pointer */
    for (unsigned i = 0; i < CROWD; i++)                 /* the heap -> b's pointer, closer */
        put(file, heap_off + 0x80000 + 8 * i, b + 0x28);
    {
        static const enum dg_span_kind kind[3] = {DG_SPAN_MODULE, DG_SPAN_STACK, DG_SPAN_HEAP};
        const uint64_t va[3] = {GLOBALS_VA, STACK_VA, HEAP_VA};

        for (unsigned r = 0; r < 3; r++) {
            struct dg_region g = {.off = r * RANKED_LEN, .len = r < 2 ? RANKED_LEN : 1u << 20,
                                  .va = va[r], .has_va = true, .perms = DG_PERM_R | DG_PERM_W,
                                  .kind = kind[r], .thread = r == 1 ? 7 : -1};

            regions_claim(map, &g, REGIONS_PRIO_MEMORY);
        }
    }
    regions_info(map)->word_size = 8;
    regions_info(map)->format = "elf-core";
    if (!tap_check(t, regions_finish(map, len) == DG_OK, "stack dump: regions finished")) {
        free(file);
        regions_free(map);
        return;
    }
    input_open_memory("stack", file, len, &in);
    d = (struct dg_dump){.in = &in, .map = map};
    for (unsigned threads = 1; threads <= 2; threads++) {
        struct ptrpath_limits lim = base_lim;
        struct ptrpath_query q = {.va = key};
        dg_err rc;

        lim.threads = threads;
        rc = ptrpath_find(&d, &q, 1, &lim, ranked_root, ranked_region, NULL, NULL);
        tap_check(t, rc == DG_OK && q.rc == DG_OK &&
                         strcmp(q.path, "g+0x200 -> +0x10 -> +0x10 -> key at +0x10") == 0,
                  "%u reader(s), regions ranked: the last level reads the globals and finds "
                  "the global past %u heap words (%s)", threads, CROWD,
                  q.rc == DG_OK ? q.path : q.why);
        q = (struct ptrpath_query){.va = key};
        rc = ptrpath_find(&d, &q, 1, &lim, ranked_root, NULL, NULL, NULL);
        tap_check(t, rc == DG_OK && q.rc == DG_OK && strncmp(q.path, "stack -> ", 9) == 0,
                  "%u reader(s), regions not ranked: the heap's words crowd the global out, "
                  "the stack stays (%s)", threads, q.rc == DG_OK ? q.path : q.why);
    }
    input_close(&in);
    regions_free(map);
    free(file);
}

int
main(void)
{
    struct tap t = {0};
    size_t file_len = GLOBALS_LEN + HEAP_LEN;
    uint8_t *file = malloc(file_len);
    struct dg_regions *map = regions_new();
    struct dg_input in;
    struct dg_dump d;
    uint64_t keys[N_CHAINS + N_LOST];
    struct ptrpath_query ref[N_CHAINS + N_LOST], got[N_CHAINS + N_LOST];
    dg_err rc_ref, rc;
    size_t n = N_CHAINS + N_LOST;
    bool found_all = true;

    if (!tap_check(&t, file != NULL && map != NULL, "dump made"))
        return tap_done(&t);
    fill(file, file_len, 64, keys);
    {
        struct dg_region g = {.off = 0, .len = GLOBALS_LEN, .va = GLOBALS_VA, .has_va = true,
                              .perms = DG_PERM_R | DG_PERM_W, .kind = DG_SPAN_MODULE,
                              .thread = -1};
        struct dg_region h = {.off = GLOBALS_LEN, .len = HEAP_LEN, .va = HEAP_VA,
                              .has_va = true, .perms = DG_PERM_R | DG_PERM_W,
                              .kind = DG_SPAN_HEAP, .thread = -1};

        regions_claim(map, &g, REGIONS_PRIO_MEMORY);
        regions_claim(map, &h, REGIONS_PRIO_MEMORY);
        regions_info(map)->word_size = 8;
        regions_info(map)->format = "elf-core";
        if (!tap_check(&t, regions_finish(map, file_len) == DG_OK, "regions finished"))
            return tap_done(&t);
    }
    input_open_memory("mem", file, file_len, &in);
    d = (struct dg_dump){.in = &in, .map = map};

    run(&d, keys, n, 1, 0, 0, ref, &rc_ref);
    for (size_t i = 0; i < N_CHAINS; i++)
        found_all &= ref[i].rc == DG_OK && strncmp(ref[i].path, "g+0x", 4) == 0 &&
                     strstr(ref[i].path, " -> +0x38 -> +0x38 -> +0x38 -> key at +0x10") != NULL;
    tap_check(&t, rc_ref == DG_OK && found_all, "one reader: every chain found (%s)",
              ref[0].path);
    tap_check(&t, ref[N_CHAINS].rc != DG_OK && ref[N_CHAINS + 1].rc != DG_OK,
              "the keys no root reaches: no path (%s)", ref[N_CHAINS].why);
    same_everywhere(&t, &d, keys, n, ref, "sparse pointers");

    /* readied (and made by 0 to 2 helpers) and freed unused: nothing leaks
     * (ASan sees the rest) */
    for (int i = 0; i < 21; i++) {
        struct ptrpath_limits plim = base_lim;
        struct ptrpath_sums *pre;

        plim.threads = 3;
        if ((pre = sums_made(&d, &plim, 1 + (unsigned)i % 3)) == NULL) {
            tap_check(&t, false, "summaries start");
            break;
        }
        ptrpath_sums_free(pre);
    }
    tap_check(&t, true, "summaries readied, made by 0 to 2 helpers and freed unused, 21 times");
    /* no time at all for the summaries: they are not used, and the search
     * ends in its (shared) time limit instead of answering wrongly */
    run(&d, keys, n, 2, 2, 0.0, got, &rc);
    {
        bool none_wrong = true;

        for (size_t i = 0; i < n; i++)
            none_wrong &= got[i].rc != DG_OK || strcmp(got[i].path, ref[i].path) == 0;
        tap_check(&t, rc == DG_OK && none_wrong, "summaries out of time: no wrong path");
    }
    {
        struct ptrpath_limits one = base_lim;
        struct ptrpath_sums *pre = (struct ptrpath_sums *)1;

        tap_check(&t, ptrpath_sums_start(&d, &one, &pre) == DG_E_UNSUPPORTED && pre == NULL,
                  "one thread: nothing to ready (no thread would help)");
    }

    /* A quarter of the words pointer-like: a level's hits pass what a
     * reader keeps, and which hits are kept must not depend on which reader
     * read which window. */
    fill(file, file_len, 4, keys);
    run(&d, keys, n, 1, 0, 0, ref, &rc_ref);
    tap_check(&t, rc_ref == DG_OK && ref[0].rc == DG_OK, "dense pointers, one reader: %s",
              ref[0].path);
    same_everywhere(&t, &d, keys, n, ref, "dense pointers");
    spread_paths(&t);
    last_level_roots(&t);

    input_close(&in);
    regions_free(map);
    free(file);
    return tap_done(&t);
}
