/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * dump.c - the dump service detectors use (dg_dump_* in detector.h): the
 * region of a file offset, the memory region of a virtual address, and
 * bounded reads by virtual address across adjacent regions, safe on lying
 * pointers: every byte read is inside a memory region and inside the file.
 */
#include <string.h>

#include "engine_int.h"

const struct dg_region *
dg_dump_region_at(const struct dg_dump *dump, uint64_t off)
{
    return dump == NULL ? NULL : regions_at(dump->map, off);
}

size_t
dg_dump_va_count(const struct dg_dump *dump)
{
    return dump == NULL ? 0 : regions_va_count(dump->map);
}

const struct dg_region *
dg_dump_va_region(const struct dg_dump *dump, size_t i)
{
    return dump == NULL ? NULL : regions_va_get(dump->map, i);
}

const struct dg_region *
dg_dump_region_at_va(const struct dg_dump *dump, uint64_t va)
{
    return dump == NULL ? NULL : regions_at_va(dump->map, va);
}

dg_err
dg_dump_read_va(const struct dg_dump *dump, uint64_t va, void *buf, size_t len)
{
    uint8_t *out = buf;

    if (len > DG_DUMP_READ_MAX)
        return DG_E_ARG;
    while (len > 0) {
        const struct dg_region *r = dg_dump_region_at_va(dump, va);
        uint64_t in_region, n;
        size_t got = 0;
        dg_err rc;

        if (r == NULL)
            return DG_E_NOT_FOUND;
        in_region = r->len - (va - r->va);
        n = in_region < len ? in_region : len;
        rc = input_read_at(dump->in, r->off + (va - r->va), out, (size_t)n, &got);
        if (rc != DG_OK)
            return rc;
        if (got != n)
            return DG_E_NOT_FOUND;
        out += n;
        va += n;
        len -= (size_t)n;
    }
    return DG_OK;
}

unsigned
dg_dump_word_size(const struct dg_dump *dump)
{
    return dump == NULL ? 0 : regions_info_const(dump->map)->word_size;
}

bool
dg_dump_big_endian(const struct dg_dump *dump)
{
    return dump != NULL && regions_info_const(dump->map)->big_endian;
}

const char *
dg_config_get(const struct dg_config *cfg, const char *name)
{
    size_t n = strlen(name);

    for (const char *const *kv = cfg != NULL ? cfg->keyvals : NULL; kv != NULL && *kv; kv++)
        if (strncmp(*kv, name, n) == 0 && (*kv)[n] == '=')
            return *kv + n + 1;
    return NULL;
}
