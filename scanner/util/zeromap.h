/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * zeromap.h - which chunks of a dump the scan found to hold only zeros (or
 * to lie in a hole of a sparse file), so that what reads the dump again
 * after the scan (attribution's pointer search) need not read them.
 *
 * Contract: zero_map_init() ties an empty map to chunks of unit bytes, the
 * k-th at offset k * unit, for a dump of size bytes (0: a stream of unknown
 * length, of which the first ZERO_MAP_STREAM_UNITS chunks can be marked).
 * zero_map_set(z, k) says chunk k holds only zeros, up to the dump's end if
 * the dump ends in it; it may be called from several threads at once, and a
 * chunk the map cannot hold is not marked. zero_map_covers(z, off, len) is
 * true only when every chunk that [off, off + len) meets is marked (len 0:
 * false); a map never initialized (all zero) or freed marks nothing.
 * zero_map_run(z, off, end, &marked) walks [off, end) (off < end) by runs:
 * it says whether the chunk at off is marked and returns where the run of
 * chunks alike that starts there ends, at most end. The map is bounded: a
 * bit per chunk.
 */
#ifndef DUMPGATE_ZEROMAP_H
#define DUMPGATE_ZEROMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#define ZERO_MAP_STREAM_UNITS (1u << 20) /* 4 TiB of 4 MiB stream chunks: 128 KiB of bits */

struct zero_map {
    _Atomic uint64_t *bits;
    uint64_t unit;     /* bytes per chunk; 0: nothing is marked */
    size_t n_units;
};

/* DG_OK, or DG_E_NOMEM (or DG_E_ARG: unit 0, a size no map can hold) and
 * z left empty: it marks nothing. */
dg_err zero_map_init(struct zero_map *z, uint64_t unit, uint64_t size);
void zero_map_free(struct zero_map *z);
void zero_map_set(struct zero_map *z, uint64_t k);
bool zero_map_covers(const struct zero_map *z, uint64_t off, uint64_t len);
uint64_t zero_map_run(const struct zero_map *z, uint64_t off, uint64_t end, bool *marked);

#endif
