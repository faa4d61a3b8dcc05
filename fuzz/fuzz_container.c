/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_container.c - harness for a container reader (DG_FUZZ_CONTAINER is
 * elfcore or minidump): reads any bytes into a region map and checks the
 * resulting cover: exact, and every memory span findable by its address.
 */
#include "../scanner/container/elfcore.h"
#include "../scanner/container/minidump.h"
#include "fuzz.h"

#define CAT(a, b) a##b
#define READER(name) CAT(name, _read)

int
dg_fuzz_init(void)
{
    return 0;
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    struct dg_input in;
    struct dg_regions *m = regions_new();
    struct dg_diag *d = dg_diag_new();
    uint64_t total = 0;

    input_open_memory("fuzz", data, len, &in);
    if (m != NULL && d != NULL && READER(DG_FUZZ_CONTAINER)(&in, m, d) == DG_OK &&
        regions_finish(m, len) == DG_OK) {
        for (size_t i = 0; i < regions_count(m); i++)
            total += regions_get(m, i)->len;
        if (total != len)
            __builtin_trap(); /* the cover must be exact */
        for (size_t i = 0; i < regions_va_count(m); i++)
            if (regions_at_va(m, regions_va_get(m, i)->va) == NULL)
                __builtin_trap();
    }
    regions_free(m);
    dg_diag_free(d);
    return 0;
}

void
dg_fuzz_fini(void)
{
}
