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
 * TRIG_MAX of them, and says which. trig_find() needs
 * dg_cpu_avx2(); it fills h with the 32-byte blocks of p[0..len) where a
 * bucket may match, ascending, each with a bit mask per bucket. A mask is a
 * superset: every position where a trigger of the bucket starts and fits
 * (position + length <= len) is set, and some others may be. h holds at
 * most one entry per block of the largest chunk it was reserved for.
 */
#ifndef DUMPGATE_TRIGGERS_H
#define DUMPGATE_TRIGGERS_H

#include <stddef.h>
#include <stdint.h>

#include "dumpgate/detector.h"

#define TRIG_BUCKETS 8u
#define TRIG_MAX 64u    /* triggers of one detector */

struct trig_table {
    uint8_t lo[3][16], hi[3][16]; /* bucket bits by low and high nibble, per byte */
    uint8_t byte[3][256];         /* bucket bits by byte value, per byte */
    uint8_t fits[3];              /* buckets with a trigger of length <= k: k bytes suffice */
    unsigned n_buckets;
};

struct trig_block {
    uint32_t at;                  /* the block: positions 32 * at .. + 31 */
    uint32_t mask[TRIG_BUCKETS];  /* bit i: position 32 * at + i, per bucket */
};

struct trig_hits {
    struct trig_block *b;
    size_t n, cap;
};

/* What one detector sees of a chunk's hits (dg_chunk.hits). */
struct dg_hits {
    const struct trig_hits *h;
    unsigned buckets;             /* bit k: bucket k holds some of its triggers */
};

/* Checks d's trigger list: DG_OK with *count triggers (0: none), or
 * DG_E_ARG with why (a trigger longer than 3 bytes, or TRIG_MAX or more). */
dg_err trig_check(const struct dg_detector *d, size_t *count, char *why, size_t n_why);

/* Builds t for the n detectors det[] (at most 32); buckets[i] is the set of
 * buckets holding detector i's triggers, 0 when it has none. DG_E_ARG (with why) when a detector's trigger is malformed. */
dg_err trig_table_build(struct trig_table *t, const struct dg_detector *const *det, size_t n,
                        uint8_t *buckets, char *why, size_t n_why);

/* Makes h hold the blocks of a chunk of len bytes. DG_E_NOMEM on failure. */
dg_err trig_hits_reserve(struct trig_hits *h, size_t len);
void trig_hits_free(struct trig_hits *h);

/* The hits of p[0..len) into h (reserved for len); only where dg_cpu_avx2(). */
void trig_find(const struct trig_table *t, const uint8_t *p, size_t len, struct trig_hits *h);

#endif
