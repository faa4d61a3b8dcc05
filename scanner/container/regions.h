/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * regions.h - the region map of one dump: every byte of the file in exactly
 * one span.
 *
 * Container readers (elfcore.c, minidump.c, raw.c) *claim* file ranges with
 * regions_claim(): memory regions, headers, notes, stream bodies. Claims may
 * overlap and may run past the end of the file; regions_finish() resolves
 * them: on overlap the claim with the lower priority number wins (memory
 * before metadata, then first claimed), bytes past the end of the file are
 * counted as unreadable, and every byte nobody claimed becomes a GAP (or
 * TRAILING after the last claim). The result is a sorted cover of
 * [0, file size) that the engine scans and uses to attribute findings, plus an
 * index of the memory regions by virtual address.
 */
#ifndef DUMPGATE_REGIONS_H
#define DUMPGATE_REGIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/detector.h>

enum regions_priority {
    REGIONS_PRIO_MEMORY = 0,  /* process memory (PT_LOAD, minidump ranges) */
    REGIONS_PRIO_META = 1,    /* headers, notes, streams, contexts */
    REGIONS_PRIO_WEAK = 2,    /* descriptive claims that yield to everything */
};

/* Who the dumped process was (ELF NT_PRPSINFO, minidump MiscInfo): strings
 * are "" and numbers -1 where the dump does not say. */
struct regions_process {
    bool known;               /* some field below was read from the dump */
    char name[64];            /* command name (pr_fname) */
    char args[128];           /* pr_psargs: the first 80 bytes of argv, NULs as spaces */
    int64_t pid, ppid, uid;
    unsigned n_modules;       /* modules the dump lists (minidump ModuleList) */
};

/* What the container says about the dump as a whole. */
struct regions_info {
    const char *format;       /* "elf-core", "minidump", "raw" (static string) */
    char detail[96];          /* "ELF64 LSB x86-64" */
    unsigned word_size;       /* 4 or 8; 0 unknown */
    bool big_endian;
    unsigned n_threads;
    bool stream_partial;      /* a stream's container was read from its head only */
    /* A stream's file mappings are named only after its bytes (a gcore
     * core's notes come last): until then, read-only memory may or may not
     * be a file's image (dg_region_is_image()). */
    bool names_late;
    struct regions_process process;
};

struct dg_regions;

/* True when name, the path a process maps (Linux NT_FILE, /proc/PID/maps),
 * is memory processes share rather than a file's bytes: shared anonymous
 * memory ("/dev/zero (deleted)"), a memfd ("/memfd:NAME (deleted)"), System
 * V shared memory ("/SYSV0000002a (deleted)") or POSIX shared memory
 * (/dev/shm/). What lies there was computed at run time: the span is named
 * but anonymous (DG_SPAN_ANON), no file's image (dg_region_is_image()). */
bool regions_shared_memory(const char *name);

struct dg_regions *regions_new(void);
void regions_free(struct dg_regions *m);

/* Claims r->off..r->off+r->len for r (name is copied). Returns DG_OK or
 * DG_E_NOMEM; DG_E_LIMIT past REGIONS_MAX_CLAIMS claims. */
#define REGIONS_MAX_CLAIMS (4u << 20)
dg_err regions_claim(struct dg_regions *m, const struct dg_region *r, enum regions_priority prio);
/* Claims from r->off to the end of the input, whatever length it turns out
 * to have (r->len is not used): the raw span of a stream. What it covers past
 * the end given to regions_finish() is no byte the dump lacks, so it is never
 * counted unreadable. Returns as regions_claim(). */
dg_err regions_claim_to_end(struct dg_regions *m, const struct dg_region *r,
                            enum regions_priority prio);

/* Adds bytes that the headers describe but the file lacks (truncation). */
void regions_add_unreadable(struct dg_regions *m, uint64_t bytes);

/* Names every memory claim whose [va, va+len) overlaps [va, va+size) and
 * has no name yet (NT_FILE, Linux maps, module lists), and sets its kind;
 * size 1 names the claim holding one address (a stack pointer). */
void regions_name_va(struct dg_regions *m, uint64_t va, uint64_t size, enum dg_span_kind kind,
                     const char *name, int64_t thread);

/* A module the container lists with its image range (minidump ModuleList,
 * one per module; ELF NT_FILE, one per file mapping): path, and its identity
 * from the CodeView record: build_id (hex of a Breakpad 'BpEL' ELF build id,
 * or of an 'RSDS' GUID followed by its age) and debug_file (the PDB path). */
struct regions_module {
    uint64_t va, size;        /* image range in the process */
    uint64_t file_off;        /* offset in the file mapped at va (NT_FILE); 0 for an image */
    const char *name;         /* path as the dump gives it (interned) */
    const char *build_id;     /* lowercase hex, or NULL */
    const char *debug_file;   /* PDB path of an RSDS/NB10 record, or NULL */
};
#define REGIONS_MAX_MODULES 8192u
#define REGIONS_MAX_THREAD_NAMES 8192u
/* Records a module (strings copied; NULL for none). DG_E_LIMIT past
 * REGIONS_MAX_MODULES, DG_E_NOMEM. */
dg_err regions_add_module(struct dg_regions *m, uint64_t va, uint64_t size, uint64_t file_off,
                          const char *name, const char *build_id, const char *debug_file);
size_t regions_module_count(const struct dg_regions *m);
const struct regions_module *regions_module_get(const struct dg_regions *m, size_t i);
/* The module whose image holds va, or NULL. */
const struct regions_module *regions_module_at(const struct dg_regions *m, uint64_t va);
/* Records the name of thread tid (minidump ThreadNames); copied. DG_E_LIMIT
 * past REGIONS_MAX_THREAD_NAMES, DG_E_NOMEM. */
dg_err regions_set_thread_name(struct dg_regions *m, int64_t tid, const char *name);
/* The name of thread tid, or NULL. */
const char *regions_thread_name(const struct dg_regions *m, int64_t tid);

/* Resolves the claims into the final cover of [0, file_size). file_size may
 * be UINT64_MAX for a stream of unknown length: the last span then runs to
 * the end of whatever is read. */
dg_err regions_finish(struct dg_regions *m, uint64_t file_size);

size_t regions_count(const struct dg_regions *m);
const struct dg_region *regions_get(const struct dg_regions *m, size_t i);
/* The span holding off (binary search), or NULL. */
const struct dg_region *regions_at(const struct dg_regions *m, uint64_t off);
/* Memory spans sorted by va. */
size_t regions_va_count(const struct dg_regions *m);
const struct dg_region *regions_va_get(const struct dg_regions *m, size_t i);
const struct dg_region *regions_at_va(const struct dg_regions *m, uint64_t va);

/* Bytes the headers describe but the file lacks, at most UINT64_MAX. */
uint64_t regions_unreadable(const struct dg_regions *m);
/* Of those, the bytes the container described past the end given to
 * regions_finish() (a truncated dump). */
uint64_t regions_clipped(const struct dg_regions *m);
struct regions_info *regions_info(struct dg_regions *m);
const struct regions_info *regions_info_const(const struct dg_regions *m);

#endif
