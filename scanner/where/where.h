/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * where.h - attribution: where in the dumped program each finding sits and
 * who holds it (thread, module, build id, section, ELF symbol, DWARF
 * variable and member path), computed after the detectors, from the
 * finding's virtual address, the region map and the dump's bytes.
 *
 * Contract: where_attribute() runs once per scan result, while the input is
 * still open, and only when the result has findings: a dump without
 * findings costs nothing. It never changes a finding and never fails the
 * scan: what it cannot learn it leaves "" and says why in the location's
 * note (no module file, a build-id mismatch, no symbols). Work is bounded:
 * at most WHERE_MAX_FINDINGS findings are attributed, DWARF walks are capped
 * (dwarfvars.h). Module files named by the dump are opened only when they
 * are regular files whose build id matches the dump's; a mismatch is said,
 * never guessed past. ELF is read by libelf, DWARF by libdwarf
 * (dwarfvars.h) only; heap keys get a pointer path from a root
 * (ptrpath.h), bounded in depth, objects and time. The result is owned
 * by the scan result (scan_result_free() calls where_free()).
 */
#ifndef DUMPGATE_WHERE_H
#define DUMPGATE_WHERE_H

#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#include "../engine/scan.h"
#include "../input/input.h"
#include "../util/zeromap.h"

struct ptrpath_sums;
struct ptr_free;

#define WHERE_MAX_FINDINGS 4096u  /* findings attributed per dump; the rest get none */
#define WHERE_MAX_DEBUG_DIRS 16u

/* Where to look for module and debug files besides the paths in the dump. */
struct where_opts {
    /* --debug-dir DIR...: trees of separate debug files laid out as
     * DIR/.build-id/xx/yyyy.debug; NULL-terminated, or NULL for none (at
     * most WHERE_MAX_DEBUG_DIRS are used). /usr/lib/debug is always
     * searched. The module itself is read at the path the dump names. */
    const char *const *debug_dirs;
    unsigned threads;            /* threads the pointer-path search may read with (the scan's) */
    struct ptrpath_sums *prepared; /* where_prepare()'s, or NULL */
    const struct zero_map *zeros; /* chunks the scan found to hold only zeros (none is
                                   * read again), or NULL */
    const struct ptr_free *ptrfree; /* blocks the scan found to hold no pointer into the
                                     * dump (none is read again), or NULL */
};

/* Where one finding sits; each string is "" when unknown. */
struct where_loc {
    int64_t thread;           /* tid of the stack holding it, or -1 */
    char thread_name[64];     /* from the dump (minidump ThreadNames), or "main thread" */
    char module[256];         /* path of the module whose image holds it */
    char build_id[129];       /* the module's build id as the dump gives it (hex, <= 64 bytes) */
    char section[32];         /* ".data", ".bss", ... from the module's ELF file */
    char symbol[160];         /* ELF symbol, "g_conf+0x78" */
    char variable[256];       /* DWARF variable and member path, "g_conf.tls.key_pem[120]" */
    char type[128];           /* DWARF type of the innermost named member, "char [4096]" */
    char path[512];           /* heap: the pointer path from a root (ptrpath.h), or "" */
    char note[240];           /* why something above is missing */
};

struct where_result {
    struct where_loc *locs;   /* locs[i] belongs to findings[i], i < n_locs */
    size_t n_locs;
    size_t n_modules;         /* module files used (build id matched) */
    double seconds;           /* time spent attributing */
};

/* Readies the part of attribution that needs no finding, the pointer-path
 * search's first read of memory (ptrpath_sums_start()), for a scan with
 * o->threads of 2 or more whose main pass found something; each
 * where_prepare_help() call does some of it on its caller's thread: the
 * threads of the detectors' finish() once their own work is done. The caller
 * puts the result in the where_opts it gives where_attribute(), once every
 * where_prepare_help() has returned, and frees it after with
 * where_prepared_free(). NULL when there is nothing to do: not an ELF core,
 * one thread, an input that cannot be read again, no memory. r->map and in
 * must stay as they are until it is freed. */
struct ptrpath_sums *where_prepare(const struct dg_input *in, const struct scan_result *r,
                                   const struct where_opts *o);
void where_prepare_help(struct ptrpath_sums *prepared);
void where_prepared_free(struct ptrpath_sums *prepared);

/* Attributes the findings of r (scanned from in, still open) under o (NULL:
 * no --debug-dir). Sets r->where (NULL when there is nothing to attribute).
 * Returns DG_OK, or DG_E_NOMEM (r->where is then NULL and a warning is in
 * r->diag). */
dg_err where_attribute(const struct dg_input *in, struct scan_result *r,
                       const struct where_opts *o);

/* The attribution of finding i of r, or NULL. */
const struct where_loc *where_of(const struct scan_result *r, size_t i);
/* The attribution of sf, one of r->findings, or NULL. */
const struct where_loc *where_of_finding(const struct scan_result *r,
                                         const struct scan_finding *sf);

void where_free(struct where_result *w);

#endif
