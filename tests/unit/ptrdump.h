/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrdump.h - what the pointer-search tests (test_ptrpath.c, test_ptrfree.c)
 * share to build their dumps in memory: a small random generator, a word
 * put into the file, the search's roots and limits, and a search run. A test defines
 * GLOBALS_VA and GLOBALS_LEN before it includes this: a word there is a
 * root named "g+0x<offset>".
 */
#ifndef DUMPGATE_TEST_PTRDUMP_H
#define DUMPGATE_TEST_PTRDUMP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../scanner/where/ptrpath.h"

/* xorshift64: the next of *s. */
static inline uint64_t
next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The little-endian word v at file[off]. */
static inline void
put(uint8_t *file, uint64_t off, uint64_t v)
{
    memcpy(file + off, &v, 8);
}

/* A word at a globals address is a root ("g+0x..."). */
static inline bool
is_root(void *arg, uint64_t at, char *name, size_t len, int *rank)
{
    (void)arg;
    *rank = 0;
    if (at < GLOBALS_VA || at >= GLOBALS_VA + GLOBALS_LEN)
        return false;
    snprintf(name, len, "g+0x%llx", (unsigned long long)(at - GLOBALS_VA));
    *rank = 3;
    return true;
}

static const struct ptrpath_limits base_lim = {
    .max_depth = 6, .max_level_nodes = 64, .max_nodes = 1024, .max_seconds = 60.0,
    .max_offset = 512, .good_rank = 3, .extra_depth = 2, .threads = 1,
};

/* Searches keys with threads readers; with pre_threads, summaries made
 * beforehand (for at most pre_seconds); budget: ptrpath_limits.sums_budget. */
/* A thread of ptrpath_sums_help(arg). */
static inline void *
help_main(void *arg)
{
    ptrpath_sums_help(arg);
    return NULL;
}

/* Readies the summaries with lim and has pre_threads - 1 threads help make
 * them at once (returned before the search, as the contract asks); NULL
 * when they could not be readied. */
static inline struct ptrpath_sums *
sums_made(const struct dg_dump *d, const struct ptrpath_limits *lim, unsigned pre_threads)
{
    struct ptrpath_sums *pre = NULL;
    pthread_t tid[8];
    unsigned n = 0;

    if (ptrpath_sums_start(d, lim, &pre) != DG_OK)
        return NULL;
    for (; n + 1 < pre_threads && n < 8; n++)
        if (pthread_create(&tid[n], NULL, help_main, pre) != 0)
            break;
    for (unsigned i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
    return pre;
}

static inline void
run_budget(struct dg_dump *d, const uint64_t *keys, size_t n, unsigned threads,
           unsigned pre_threads, double pre_seconds, size_t budget, struct ptrpath_query *q,
           dg_err *rc)
{
    struct ptrpath_limits lim = base_lim;
    struct ptrpath_sums *pre = NULL;

    lim.sums_budget = budget;
    for (size_t i = 0; i < n; i++)
        q[i] = (struct ptrpath_query){.va = keys[i]};
    if (pre_threads > 0) {
        struct ptrpath_limits plim = lim;

        plim.threads = pre_threads;
        plim.max_seconds = pre_seconds;
        pre = sums_made(d, &plim, pre_threads);
    }
    lim.threads = threads;
    *rc = ptrpath_find(d, q, n, &lim, is_root, NULL, NULL, pre);
    ptrpath_sums_free(pre);
}

#endif
