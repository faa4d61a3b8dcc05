/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * triggers.h - the detectors' shared prefilter: one pass over a chunk finds
 * where any detector's triggers (dg_detector.triggers, 1 to 3 bytes) start,
 * and each detector then visits only its own (dg_hits_next()).
 *
 * Contract: trig_table_build() puts the detectors' triggers into at most
 * TRIG_BUCKETS buckets (a detector's triggers may span several buckets, and
 * detectors may share one) and builds the tables of a nibble-shuffle search
 * (Hyperscan's "Teddy"); it refuses a trigger longer than 3 bytes, or
 * TRIG_MAX of them, and says which. Detectors with the same set of buckets
 * share a view: the hits of those buckets, kept in a list of their own, so
 * that each detector walks only the blocks where its buckets hit. trig_find()
 * needs dg_cpu_avx2(); it fills each view's list in h with the 32-byte
 * blocks of p[0..len) where its buckets may match, ascending, each with its
 * bit mask of positions. A mask is a superset: every position where a
 * trigger of the view starts and fits (position + length <= len) is set, and
 * some others may be. A view whose hits do not fit in its list (more than
 * TRIG_VIEW_WORDS) is marked full in h and is not to be used for the chunk;
 * trig_find() then returns false, the other views being complete.
 */
#ifndef DUMPGATE_TRIGGERS_H
#define DUMPGATE_TRIGGERS_H

#include <stddef.h>
#include <stdint.h>

#include "dumpgate/detector.h"

#define TRIG_BUCKETS 8u
#define TRIG_VIEWS 16u  /* distinct sets of buckets; more share the last, all buckets */
#define TRIG_MAX 64u    /* triggers of one detector */
/* Words of a view's hits kept per chunk, two a block: every block of a
 * 4 MiB chunk (the default), half of an 8 MiB one. A view with more, whose triggers are so dense that one pass
 * saves little, is searched by each of its detectors itself. On a 1.39 GB
 * JVM core the densest 8 MiB chunk needs 0.35 M words for every bucket. */
#define TRIG_VIEW_WORDS (256u << 10)

struct trig_table {
    uint8_t lo[3][16], hi[3][16]; /* bucket bits by low and high nibble, per byte */
    uint8_t byte[3][256];         /* bucket bits by byte value, per byte */
    uint8_t fits[3];              /* buckets with a trigger of length <= k: k bytes suffice */
    unsigned n_buckets;
    uint8_t view[TRIG_VIEWS];     /* the buckets of each view */
    uint16_t views_of[256];       /* by set of buckets: the views with one of them */
    unsigned n_views;
};

/* Each view's blocks with hits, ascending, as pairs of 32-bit words: the
 * block's number (positions 32 * number .. + 31) and the mask of its
 * positions (bit i: position 32 * number + i). View v's list is
 * w[v * cap .. v * cap + n[v]). */
struct trig_hits {
    uint32_t *w;
    size_t cap;                   /* words of each view's list */
    size_t size;                  /* words allocated */
    size_t n[TRIG_VIEWS];         /* words in each */
    uint32_t full;                /* bit v: view v's hits did not fit */
};

/* What one detector sees of a chunk's hits (dg_chunk.hits). */
struct dg_hits {
    const struct trig_hits *h;
    unsigned view;                /* the view holding its triggers' hits */
};

/* Checks d's trigger list (NULL or empty: none): DG_OK, or DG_E_ARG with
 * why (a trigger longer than 3 bytes, or TRIG_MAX of them or more). */
dg_err trig_check(const struct dg_detector *d, char *why, size_t n_why);

/* Builds t for the n detectors det[] (at most 32); view[i] is 1 + the view
 * holding detector i's hits, 0 when it has no triggers. DG_E_ARG (with why)
 * when a detector's trigger is malformed. */
dg_err trig_table_build(struct trig_table *t, const struct dg_detector *const *det, size_t n,
                        uint8_t *view, char *why, size_t n_why);

/* Makes room in h for the hits of t's views in a chunk of len bytes, at
 * most TRIG_VIEW_WORDS a view. DG_E_NOMEM on failure. */
dg_err trig_hits_reserve(struct trig_hits *h, const struct trig_table *t, size_t len);
void trig_hits_free(struct trig_hits *h);

/* The hits of p[0..len) into h; only where dg_cpu_avx2(). False: some view
 * has more hits than its list holds (h->full says which); the lists of
 * the others are complete. */
bool trig_find(const struct trig_table *t, const uint8_t *p, size_t len, struct trig_hits *h);

#endif
