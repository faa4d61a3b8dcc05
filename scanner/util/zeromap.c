/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * zeromap.c - the chunks of a dump found to hold only zeros (see zeromap.h).
 */
#include "zeromap.h"

#include <stdlib.h>

dg_err
zero_map_init(struct zero_map *z, uint64_t unit, uint64_t size)
{
    uint64_t n = size == 0 ? ZERO_MAP_STREAM_UNITS : size / unit + 1;

    *z = (struct zero_map){0};
    if (unit == 0 || n > (uint64_t)SIZE_MAX / 64)
        return DG_E_ARG;
    z->bits = calloc((size_t)(n + 63) / 64, sizeof *z->bits);
    if (z->bits == NULL)
        return DG_E_NOMEM;
    z->unit = unit;
    z->n_units = (size_t)n;
    return DG_OK;
}

void
zero_map_free(struct zero_map *z)
{
    free(z->bits);
    *z = (struct zero_map){0};
}

void
zero_map_set(struct zero_map *z, uint64_t k)
{
    if (z->bits != NULL && k < z->n_units)
        atomic_fetch_or_explicit(&z->bits[k / 64], 1ull << (k % 64), memory_order_relaxed);
}

/* Chunk k is marked. */
static bool
is_set(const struct zero_map *z, uint64_t k)
{
    return k < z->n_units &&
           atomic_load_explicit(&z->bits[k / 64], memory_order_relaxed) >> (k % 64) & 1u;
}

bool
zero_map_covers(const struct zero_map *z, uint64_t off, uint64_t len)
{
    if (z->bits == NULL || len == 0 || off + len < off)
        return false;
    for (uint64_t k = off / z->unit; k <= (off + len - 1) / z->unit; k++)
        if (!is_set(z, k))
            return false;
    return true;
}

uint64_t
zero_map_run(const struct zero_map *z, uint64_t off, uint64_t end, bool *marked)
{
    uint64_t k;

    if (z->bits == NULL || end <= off) {
        *marked = false;
        return end;
    }
    k = off / z->unit;
    *marked = is_set(z, k);
    /* the chunks after k while they are alike, up to the one end lies in */
    while (k < (end - 1) / z->unit && is_set(z, k + 1) == *marked)
        k++;
    return end - k * z->unit > z->unit ? k * z->unit + z->unit : end; /* no overflow */
}
