/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_where.c - harness for attribution (scanner/where): any bytes read as
 * an ELF core or a minidump (by magic), then a finding placed at the start,
 * the middle and the last word of each of the first memory spans, and
 * where_attribute() run over them: module lookup and build ids from the
 * dump's own header pages, CodeView, thread names, and the pointer-path
 * search over the dump's memory. Checks that every attribution string is
 * terminated and that nothing is attributed past the findings.
 */
#include <stdlib.h>
#include <string.h>

#include "../scanner/container/elfcore.h"
#include "../scanner/container/minidump.h"
#include "../scanner/where/where.h"
#include "fuzz.h"

#define SPANS 6u /* memory spans given findings */

int
dg_fuzz_init(void)
{
    return 0;
}

static void
check(const char *s, size_t n)
{
    if (memchr(s, '\0', n) == NULL)
        __builtin_trap();
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    struct dg_input in;
    struct scan_result r = {0};
    struct scan_finding f[3 * SPANS];
    dg_err rc = DG_E_UNSUPPORTED;
    size_t n = 0;

    memset(f, 0, sizeof f);
    r.name = "fuzz";
    r.format = "raw";
    r.diag = dg_diag_new();
    r.map = regions_new();
    input_open_memory("fuzz", data, len, &in);
    if (r.diag == NULL || r.map == NULL)
        goto out;
    if (elfcore_probe(data, len)) {
        rc = elfcore_read(&in, r.map, r.diag);
        r.format = "elf-core";
    } else if (minidump_probe(data, len)) {
        rc = minidump_read(&in, r.map, r.diag);
        r.format = "minidump";
    }
    if (rc != DG_OK || regions_finish(r.map, len) != DG_OK)
        goto out;
    for (size_t i = 0; i < regions_va_count(r.map) && i < SPANS; i++) {
        const struct dg_region *s = regions_va_get(r.map, i);
        uint64_t at[3] = {0, s->len / 2, s->len >= 8 ? s->len - 8 : 0};

        for (size_t k = 0; k < 3 && s->off < len; k++) {
            struct scan_finding *x = &f[n++];

            x->detector = "fuzz";
            x->f.off = s->off + at[k];
            x->f.len = 8;
            x->has_va = true;
            x->va = s->va + at[k];
            x->region = *s;
        }
    }
    r.findings = f;
    r.n_findings = n;
    if (where_attribute(&in, &r, NULL) == DG_OK && r.where != NULL) {
        if (r.where->n_locs > n)
            __builtin_trap();
        for (size_t i = 0; i < r.where->n_locs; i++) {
            const struct where_loc *w = &r.where->locs[i];

            check(w->thread_name, sizeof w->thread_name);
            check(w->module, sizeof w->module);
            check(w->build_id, sizeof w->build_id);
            check(w->section, sizeof w->section);
            check(w->symbol, sizeof w->symbol);
            check(w->variable, sizeof w->variable);
            check(w->type, sizeof w->type);
            check(w->path, sizeof w->path);
            check(w->note, sizeof w->note);
        }
    }
out:
    where_free(r.where);
    regions_free(r.map);
    dg_diag_free(r.diag);
    return 0;
}

void
dg_fuzz_fini(void)
{
}
