/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrfree.h - the blocks of an ELF core where the scan found no word that
 * may point into the dump's memory (text, random bytes, zeros), so that
 * attribution's pointer search (ptrpath.c) need not read them again: on the
 * real-bytes benchmark core half of the writable memory (three eighths in
 * blocks of 64 KiB).
 *
 * Contract: ptr_free_init() readies pf for a dump of size bytes (0: a
 * stream) whose memory map is map. Its blocks are 4 KiB, or larger (up to
 * PTR_FREE_UNIT_MAX) for a file so large that PTR_FREE_MAX_UNITS blocks of
 * 4 KiB would not cover it; the map has a bit for each of the first
 * PTR_FREE_MAX_UNITS blocks at most (2 MiB), whatever size a sparse core
 * claims, and blocks past them are never marked. It makes a cover of that
 * memory (ptrcover.h) reaching PTR_FREE_REACH bytes below each region, and
 * is off (marks nothing) for dumps whose words are not 64-bit little-endian
 * or when out of memory. ptr_free_chunk(pf, map, ch, avx2, sums) looks at
 * the blocks that lie whole in chunk ch's owned bytes and marks those where
 * every 8-byte aligned word (in the process) of a memory region that is
 * writable or of unknown permissions lies outside the cover; a block that
 * holds memory of another kind is never marked. It may run on several
 * threads at once, each with its own chunks; without sums a block stops at
 * its first word in the cover, and most words of text and random bytes are
 * answered by one compare against the cover's hull; a block the chunk's
 * memo (ch->memo, chunkmemo.h, with pf's cover) has already answered for
 * "no pointer", the detectors having asked, is not tested again (without
 * sums, nor one it answered "a pointer" for). avx2 may be true only when
 * dg_cpu_avx2() is. With sums, it also makes the summaries (ptrsums.h,
 * pf->sums: where the words of each piece of the file point) of the pieces
 * that lie whole in the chunk's owned bytes, or end the file there
 * (ch->last, no margin), and closes them. A chunk found to hold only zeros,
 * or a hole, is given to ptr_free_empty(pf, off, owned, to_end) instead,
 * which closes its pieces' summaries empty. So a summary is closed once
 * the chunks that hold its piece were scanned with sums, and attribution
 * reads again only the memory whose summary is not closed, or meets its
 * targets. ptr_free_usable(pf, map, max_offset) says whether pf answers
 * for a search over map (its memory regions and permissions as they are at
 * the end: a stream's map grows) with that max_offset: pf is on,
 * max_offset <= PTR_FREE_REACH, and every region's reach lies in pf's
 * cover. Then no word a search reads in a marked block can point near a
 * target, at any level: ptr_free_run(pf, off, end, &is_free) walks [off,
 * end) by runs of blocks alike (is_free: the run's blocks are marked; it
 * returns the run's end, at most end).
 * ptr_free_free() releases pf; a pf never readied (all zero) marks nothing.
 */
#ifndef DUMPGATE_PTRFREE_H
#define DUMPGATE_PTRFREE_H

#include <stdbool.h>
#include <stdint.h>

#include <dumpgate/detector.h>
#include <dumpgate/error.h>

#include "../container/regions.h"
#include "../util/zeromap.h"
#include "ptrcover.h"
#include "ptrsums.h"

#define PTR_FREE_UNIT_MIN (4u << 10)   /* a block, unless the file is larger than ... */
#define PTR_FREE_UNIT_MAX (64u << 10)  /* ... this many blocks of 4 KiB would cover */
#define PTR_FREE_MAX_UNITS (1ull << 24) /* the blocks a map can mark: 2 MiB of bits */
#define PTR_FREE_REACH (64u << 10) /* bytes below a region a word may point and count */

struct ptr_free {
    struct zero_map blocks;  /* the blocks found without a pointer (blocks.unit bytes each) */
    struct ptr_cover cover;  /* of the map as it was at ptr_free_init() */
    struct ptr_sums sums;    /* reaching PTR_FREE_REACH; none when out of memory */
    bool on;
};

void ptr_free_init(struct ptr_free *pf, const struct dg_regions *map, uint64_t size);
void ptr_free_chunk(struct ptr_free *pf, const struct dg_regions *map, const struct dg_chunk *ch,
                    bool avx2, bool sums);
void ptr_free_empty(struct ptr_free *pf, uint64_t off, uint64_t owned, bool to_end);
bool ptr_free_usable(const struct ptr_free *pf, const struct dg_regions *map,
                     uint64_t max_offset);
uint64_t ptr_free_run(const struct ptr_free *pf, uint64_t off, uint64_t end, bool *is_free);
void ptr_free_free(struct ptr_free *pf);

#endif
