/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrpath.h - the pointer path that keeps a heap key alive: from a root (a
 * global, or a slot of a thread's stack) through at most max_depth objects
 * to the key, found backwards over the dump's memory (ptrpath.c).
 *
 * Contract: ptrpath_find() answers several keys at once (one pass over the
 * dump's memory per level serves them all), reads the dump through the
 * region map only (never outside the file) and is bounded in depth, nodes
 * and wall time; when a bound stops a search, its query's why says which.
 * A "pointer" is any aligned word whose value lies at most max_offset bytes
 * before the object it leads to, so a path is a candidate, not a proof: the
 * shortest one found, with the smallest offsets in all.
 */
#ifndef DUMPGATE_PTRPATH_H
#define DUMPGATE_PTRPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#include "../engine/engine_int.h"

struct ptrpath_limits {
    unsigned max_depth;      /* pointers followed at most */
    size_t max_level_nodes;  /* objects kept per level and key (smallest offsets first) */
    size_t max_nodes;        /* objects looked at per key */
    double max_seconds;      /* wall time for the whole call */
    uint64_t max_offset;     /* bytes from a pointer's value to the next hop */
    int good_rank;           /* a root ranked this high ends a key's search at once; a
                                lower one is kept while extra_depth more levels look on */
    unsigned extra_depth;
    unsigned threads;        /* threads reading memory per level (a seekable input); 0, 1: one */
    size_t sums_budget;      /* bytes the first level's window summaries may take; 0: 8 MiB
                                (smaller summaries, then fewer windows summarised, past it) */
};

/* One key to find a path to. */
struct ptrpath_query {
    uint64_t va;             /* IN: the key's virtual address */
    dg_err rc;               /* OUT: DG_OK (path set), DG_E_NOT_FOUND or DG_E_LIMIT (why set) */
    char path[512];          /* OUT: "g_signing_key (EVP_PKEY *) -> +0x68 -> key at +0x0" */
    char why[200];           /* OUT: why there is no path */
};

/* Is the pointer word at virtual address `at` a root? If so its name
 * ("g_signing_key (EVP_PKEY *)", "stack of thread 1234") goes into name
 * and the rank of the root into *rank (higher wins among roots of one
 * depth). When it is not, *rank < 0 says the word leads nowhere useful
 * (the C library's own state) and is not followed either. */
typedef bool (*ptrpath_root_fn)(void *arg, uint64_t at, char *name, size_t len, int *rank);

/* The highest rank a root among the words of region reg may have (a
 * stack's slots, a module's globals), or -1 when none of them is a root
 * (the heap). Called on ptrpath_find()'s thread, once per region at most;
 * an answer too high costs reading, one too low loses roots. */
typedef int (*ptrpath_region_rank_fn)(void *arg, const struct dg_region *reg);

/* The summaries of memory that the first level of every search makes as it
 * reads (which 64 KiB blocks each window's words point into), made before
 * the keys are known: ptrpath_sums_start() readies them and returns at
 * once; every ptrpath_sums_help() call reads, on its caller's thread and
 * beside the other calls, the dump's writable windows no reader has taken
 * yet, and returns when none is left; ptrpath_find() given them reads what
 * is left on its own thread and then reads, at every level, only the
 * windows that may point near a target. So a caller's idle threads (those
 * of the detectors' finish() whose work is done) take most of the search's
 * cost. Every ptrpath_sums_help() must have returned before ptrpath_find()
 * or ptrpath_sums_free() is called. The dump and its map must stay as they
 * are until ptrpath_sums_free(), which frees what ptrpath_find() did not
 * take. ptrpath_sums_start() returns DG_OK (*out set), DG_E_UNSUPPORTED
 * (lim->threads below 2, an input that cannot be read again, a word size or
 * byte order other than 64-bit little-endian: no thread would help) or
 * DG_E_NOMEM; *out is NULL then. */
struct ptrpath_sums;
dg_err ptrpath_sums_start(const struct dg_dump *dump, const struct ptrpath_limits *lim,
                          struct ptrpath_sums **out);
void ptrpath_sums_help(struct ptrpath_sums *sums);
void ptrpath_sums_free(struct ptrpath_sums *sums);

/* Looks for a path from a root to each of the n keys of q, with the
 * summaries pre (NULL: the first level makes them; a pre whose reading
 * failed or ran out of time is not used, and lim->max_seconds counts from
 * its start). root and region_rank (NULL: any region may hold any root)
 * are called with arg. A level after which every key left ends whatever it
 * finds (a weak root held, extra_depth levels looked past it) reads only
 * the regions whose region_rank is above the weakest root held. Returns
 * DG_OK (each query's rc says how it went), DG_E_UNAVAILABLE (a stream: the
 * memory is gone; every why says so) or DG_E_NOMEM. */
dg_err ptrpath_find(const struct dg_dump *dump, struct ptrpath_query *q, size_t n,
                    const struct ptrpath_limits *lim, ptrpath_root_fn root,
                    ptrpath_region_rank_fn region_rank, void *arg, struct ptrpath_sums *pre);

#endif
