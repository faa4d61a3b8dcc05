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
 * bucket may match, ascending, each with a bit mask per bucket that has
 * one. A mask is a superset: every position where a trigger of the bucket
 * starts and fits (position + length <= len) is set, and some others may
 * be. When the hits do not fit in h (TRIG_MAX_WORDS), trig_find() returns
 * false and h is not to be used for the chunk.
 */
#ifndef DUMPGATE_TRIGGERS_H
#define DUMPGATE_TRIGGERS_H

#include <stddef.h>
#include <stdint.h>

#include "dumpgate/detector.h"

#define TRIG_BUCKETS 8u
#define TRIG_MAX 64u    /* triggers of one detector */
/* Words of hits kept per chunk (8 MiB): a chunk with more, where the
 * triggers are so dense that one pass saves little, is searched by each
 * detector itself. On a 1.39 GB JVM core the densest 8 MiB chunk needs
 * 0.35 M words. */
#define TRIG_MAX_WORDS (2u << 20)

struct trig_table {
    uint8_t lo[3][16], hi[3][16]; /* bucket bits by low and high nibble, per byte */
    uint8_t byte[3][256];         /* bucket bits by byte value, per byte */
    uint8_t fits[3];              /* buckets with a trigger of length <= k: k bytes suffice */
    unsigned n_buckets;
};

/* The blocks with hits, ascending, as 32-bit words: the block's number
 * (positions 32 * number .. + 31), the set of buckets with hits in it,
 * then one mask per bucket of that set, lowest bucket first (bit i:
 * position 32 * number + i). A block of a real core has hits in one bucket
 * or two, so this takes a third of the room of eight masks a block. */
struct trig_hits {
    uint32_t *w;
    size_t n, cap;                /* words */
};

/* What one detector sees of a chunk's hits (dg_chunk.hits). */
struct dg_hits {
    const struct trig_hits *h;
    unsigned buckets;             /* bit k: bucket k holds some of its triggers */
};

/* Checks d's trigger list (NULL or empty: none): DG_OK, or DG_E_ARG with
 * why (a trigger longer than 3 bytes, or TRIG_MAX of them or more). */
dg_err trig_check(const struct dg_detector *d, char *why, size_t n_why);

/* Builds t for the n detectors det[] (at most 32); buckets[i] is the set of
 * buckets holding detector i's triggers, 0 when it has none. DG_E_ARG (with why) when a detector's trigger is malformed. */
dg_err trig_table_build(struct trig_table *t, const struct dg_detector *const *det, size_t n,
                        uint8_t *buckets, char *why, size_t n_why);

/* Makes room in h for the hits of a chunk of len bytes, at most
 * TRIG_MAX_WORDS. DG_E_NOMEM on failure. */
dg_err trig_hits_reserve(struct trig_hits *h, size_t len);
void trig_hits_free(struct trig_hits *h);

/* The hits of p[0..len) into h; only where dg_cpu_avx2(). False: too
 * many blocks have hits for h, which then holds none. */
bool trig_find(const struct trig_table *t, const uint8_t *p, size_t len, struct trig_hits *h);

#endif
