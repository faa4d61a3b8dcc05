/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * grow.h - the one growable-array helper: an array that doubles as it fills.
 *
 * Contract: grow_to(v, need, cap, size, first) returns v when *cap >= need.
 * Otherwise it returns v reallocated to the smallest first * 2^k elements
 * (of size bytes) that hold need (first is the capacity of a first
 * allocation, *cap == 0) and sets *cap to that; or NULL when that size
 * overflows or realloc fails, with v and *cap unchanged (v is still the
 * caller's to free). The caller stores the result: v = p.
 */
#ifndef DUMPGATE_GROW_H
#define DUMPGATE_GROW_H

#include <stdint.h>
#include <stdlib.h>

static inline void *
grow_to(void *v, size_t need, size_t *cap, size_t size, size_t first)
{
    size_t c = *cap ? *cap : (first ? first : 1);
    void *nv;

    if (need <= *cap)
        return v;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return NULL;
        c *= 2;
    }
    if (size != 0 && c > SIZE_MAX / size)
        return NULL;
    if ((nv = realloc(v, c * size)) == NULL)
        return NULL;
    *cap = c;
    return nv;
}

#endif
