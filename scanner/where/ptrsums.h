/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrsums.h - which 64 KiB blocks of address space the words of each piece
 * of a core's file point into: the summaries by which attribution's pointer
 * search (ptrpath.c) passes over memory that cannot point near what it
 * looks for. The scan makes them as it reads each chunk (ptrfree.c), so
 * that the search need not read the dump's writable memory once more to
 * make them.
 *
 * Contract: ptr_sums_init(ps, map, reach, budget) readies ps for a core
 * whose memory map is map: a summary of 2^PTR_SUMS_BITS bits (ps->sum_bits)
 * for each block of ps->block bytes of the file (block k: [k * block,
 * (k + 1) * block)) up to the end of its last memory region. The block is
 * PTR_SUMS_BLOCK_MIN or, for a file whose summaries would take more than
 * budget bytes (0: PTR_SUMS_BUDGET), as much larger (a power of two, at
 * most PTR_SUMS_BLOCK_MAX) as they need to fit; as many as the budget holds
 * are kept (the blocks past them have none). With them goes a filter of the
 * 64 KiB blocks of address space that lie in a region or less than reach
 * bytes below one (ptr_mapped_build()). DG_E_NOMEM, or DG_E_UNSUPPORTED
 * when no summary fits: ps then has none.
 *
 * Block k's summary is filled by one thread: ptr_sums_open(ps, k) gives its
 * bits (NULL: it has none); ptr_sums_note(ps, sum, &set, cover, p, n, avx2)
 * notes in sum the 64 KiB block (PTR_SUMS_GRAIN) of each of the n
 * little-endian 64-bit words at p that lies in cover and in the filter,
 * adds to set the bits it set, and is true when a word lay in cover (the
 * answer ptrfree.h wants); ptr_sums_saturate(ps, sum, set) makes a summary
 * with one bit in PTR_SUMS_FULL set or more all ones (true), after which
 * the rest of its block need not be noted; ptr_sums_close(ps, k) says every
 * word of the block's memory has been noted. Only then does
 * ptr_sums_get(ps, k) give the summary to readers on other threads (NULL
 * before). ptr_sums_holds(ps, map, max_offset) says whether the filter
 * still holds every region of map (as it is at the end: a stream's map
 * grows) and max_offset <= reach: then a closed summary that misses each
 * 64 KiB block of a set of targets says its block holds no word of the
 * dump's memory that points at most max_offset bytes below a target.
 * ptr_sums_free() releases ps; a ps never readied (all zero) has no
 * summary.
 */
#ifndef DUMPGATE_PTRSUMS_H
#define DUMPGATE_PTRSUMS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#include "../container/regions.h"
#include "ptrcover.h"

#define PTR_SUMS_BLOCK_MIN (256u << 10) /* bytes of the file per summary ... */
#define PTR_SUMS_BLOCK_MAX (4u << 20)   /* ... up to this for the largest files: a chunk
                                         * (SCAN_DEFAULT_CHUNK), which closes it whole */
#define PTR_SUMS_BITS 13u /* 1 KiB a summary: 2 GiB of file in the budget at the smallest
                           * block, 32 GiB at the largest; a piece of the real benchmark
                           * core sets fewer than 512 bits, most fewer than 32 */
#define PTR_SUMS_GRAIN 16u /* a bit stands for 64 KiB of address space; 4 or 16 KiB fill
                            * the summaries, 128 KiB to 4 MiB do no better (tried) */
#define PTR_SUMS_BUDGET (8u << 20) /* bytes of summaries by default */
/* A summary with one bit in PTR_SUMS_FULL set meets most sets of targets
 * anyway: memory whose words point everywhere (the synthetic benchmark
 * core's heap of random links gets there in its piece's first 8 KiB; at
 * one in eight, noting it cost that core 2 to 3 %). Of the real core's
 * 5,300 pieces, 4 set 256 to 511 bits, the others fewer. */
#define PTR_SUMS_FULL 32u
#define PTR_MAPPED_BITS 20u      /* a search's filter: 2^20 bits (128 KiB), hashed */
#define PTR_SUMS_MAPPED_BITS 17u /* the scan's: 16 KiB, so that it stays in the first-level
                                  * cache beside the chunk's bytes */
#define PTR_MAPPED_MAX_BLOCKS (1ull << 24) /* more 64 KiB blocks (1 TiB of mappings): no filter */

struct ptr_sums {
    uint64_t *bits;           /* n summaries of 2^bits bits each */
    atomic_uchar *done;       /* per summary: every word of its block noted */
    size_t n;
    uint64_t block;           /* bytes of the file per summary */
    unsigned sum_bits;        /* PTR_SUMS_BITS */
    uint64_t reach;
    uint64_t *mapped;         /* the filter (PTR_SUMS_MAPPED_BITS), or NULL: every word
                               * in the cover counts */
};

/* The 64-bit words of a summary of 2^bits bits. */
static inline size_t
ptr_sum_words(unsigned bits)
{
    return ((size_t)1 << bits) / 64;
}

/* The bit of the 64 KiB block holding address v, in a summary of 2^bits
 * bits. */
static inline unsigned
ptr_sum_bit(uint64_t v, unsigned bits)
{
    return (unsigned)(((v >> PTR_SUMS_GRAIN) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* The filter of map's 64 KiB blocks of address space (each region and the
 * reach bytes below it), 2^bits bits (at most 32), or NULL when they number
 * more than PTR_MAPPED_MAX_BLOCKS (or on no memory). ptr_mapped_has(m,
 * bits, v): v's block may be one of them (always, when m is NULL). */
uint64_t *ptr_mapped_build(const struct dg_regions *map, uint64_t reach, unsigned bits);

/* The bit of the 64 KiB block holding address v in a filter of 2^bits bits. */
static inline uint64_t
ptr_mapped_bit(uint64_t v, unsigned bits)
{
    return ((v >> 16) * 0xff51afd7ed558ccdull) >> (64 - bits);
}

static inline bool
ptr_mapped_has(const uint64_t *m, unsigned bits, uint64_t v)
{
    uint64_t b;

    if (m == NULL)
        return true;
    b = ptr_mapped_bit(v, bits);
    return m[b >> 6] >> (b & 63) & 1;
}

dg_err ptr_sums_init(struct ptr_sums *ps, const struct dg_regions *map, uint64_t reach,
                     size_t budget);
uint64_t *ptr_sums_open(struct ptr_sums *ps, uint64_t k);
bool ptr_sums_note(const struct ptr_sums *ps, uint64_t *sum, size_t *set,
                   const struct ptr_cover *cover, const uint8_t *p, size_t n, bool avx2);
bool ptr_sums_saturate(const struct ptr_sums *ps, uint64_t *sum, size_t set);
void ptr_sums_close(struct ptr_sums *ps, uint64_t k);
const uint64_t *ptr_sums_get(const struct ptr_sums *ps, uint64_t k);
bool ptr_sums_holds(const struct ptr_sums *ps, const struct dg_regions *map, uint64_t max_offset);
void ptr_sums_free(struct ptr_sums *ps);

#endif
