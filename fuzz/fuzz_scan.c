/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_scan.c - harness for the whole scan of a file: container, chunking
 * with small chunks (so chunk edges are exercised), every default detector,
 * attribution. DG_FUZZ_DETECTORS (comma-separated) restricts the detectors,
 * so one binary serves per-detector fuzzing too (e.g. fuzz_pem).
 */
#include <stdlib.h>
#include <string.h>

#include "../scanner/engine/scan.h"
#include "fuzz.h"

#ifndef DG_FUZZ_DETECTORS
#define DG_FUZZ_DETECTORS NULL
#endif

static const char *only[8];
static struct scan_opts opts;

int
dg_fuzz_init(void)
{
    static char list[128];
    const char *sel = DG_FUZZ_DETECTORS;

    opts.chunk_size = 4096;
    opts.threads = 1;
    if (sel != NULL) {
        size_t n = 0;

        strncpy(list, sel, sizeof list - 1);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < 7;
             t = strtok_r(NULL, ",", &save))
            only[n++] = t;
        only[n] = NULL;
        opts.detectors = only;
    }
    return 0;
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    struct scan_result r;

    scan_memory("fuzz", data, len, &opts, &r);
    for (size_t i = 0; i < r.n_findings; i++)
        if (r.findings[i].f.off >= len)
            __builtin_trap(); /* a finding outside the input */
    scan_result_free(&r);
    return 0;
}

void
dg_fuzz_fini(void)
{
}
