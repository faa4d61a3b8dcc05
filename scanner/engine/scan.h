/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * scan.h - scanning one input end to end: open it, read its container into a
 * region map, run the detectors over every byte in chunks on worker threads,
 * and hand back attributed, de-duplicated findings with coverage figures.
 *
 * Contract: scan_path() and scan_memory() never print. Problems go to
 * result->diag; the return value is DG_OK when anything could be scanned
 * (warnings may still be present), or the error that stopped the scan before
 * any byte was read. A struct scan_result owns everything it points to and is
 * released by scan_result_free().
 */
#ifndef DUMPGATE_SCAN_H
#define DUMPGATE_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/detector.h>

struct where_opts;
struct where_result;

struct scan_opts {
    unsigned threads;             /* worker threads; 0 or 1 = scan on the caller's thread */
    size_t chunk_size;            /* owned bytes per chunk; 0 = SCAN_DEFAULT_CHUNK */
    const char *const *detectors; /* NULL-terminated names to run; NULL = the default set */
    struct dg_config cfg;         /* passed to every detector's create() */
    /* Called as the scan passes every SCAN_PROGRESS_STEP bytes, from a worker
     * thread (one call at a time), with the bytes scanned and the input's
     * size (0 when a stream's is unknown); NULL for none. */
    void (*progress)(void *arg, uint64_t scanned, uint64_t total);
    void *progress_arg;
    /* Budgets, 0 for none: a compressed input stops decoding after
     * max_decompressed bytes; past deadline (CLOCK_MONOTONIC seconds,
     * util/deadline.h) no chunk starts and no read of a stream waits. Either
     * ends the scan early with a warning and sets scan_result.over_budget. */
    uint64_t max_decompressed;
    double deadline;
    /* Attribution of findings (scanner/where/where.h): --debug-dir and the
     * like; NULL attributes with the defaults. */
    const struct where_opts *where;
    /* With spill, a stream (a pipe, a compressed file) is written to
     * spill_fd as it is read, at most half the space free on its file
     * system, so that what the detectors and attribution read after the scan
     * can be read again (input_spill()). spill_fd is an unlinked file the
     * caller made with scan_spill_open() and closes; each stream starts it
     * afresh. Without spill, those reads see only the stream's head. */
    bool spill;
    int spill_fd;
};

#define SCAN_PROGRESS_STEP (64ull << 20)

/* A file's chunk and a stream's (whose ring holds threads + 3 of them). At
 * -j2 two chunks of 8 MiB, each read again by every detector, no longer
 * share the last-level cache well: the real benchmark core took 0.56 s
 * against 0.53 s at 4 MiB (the synthetic one 0.40 against 0.34), and -j1
 * no longer (docs/PERFORMANCE.md, thirty-third session). */
#define SCAN_DEFAULT_CHUNK (4u << 20)

/* Evidence about a key seen in the dump (not a finding): public material
 * that names a private half, or what a key is for (dg_report_evidence). */
struct scan_public {
    enum dg_evidence kind;
    char spki_sha256[65];         /* the key's spki_sha256, or key_sha256 for secrets */
    char what[120];               /* "certificate /CN=..." */
    uint64_t off;                 /* file offset */
};

/* One more place where the key of a finding sits. */
struct scan_location {
    uint64_t off, len;            /* file offset and length of this copy */
    bool has_va;
    uint64_t va;
    struct dg_region region;
    const char *detector;
    char encoding[32];
};

/* A finding as the engine hands it out: the detector's finding plus where it sits. */
struct scan_finding {
    struct dg_finding f;
    const char *detector;         /* static name of the detector */
    bool has_va;
    uint64_t va;                  /* virtual address of f.off when has_va */
    struct dg_region region;      /* the span holding f.off (name points into the map) */
    bool allowed;                 /* on the allow list: reported, not counted */
    bool known;                   /* named by --known-keys: long-term whatever else */
    char allow_note[96];          /* the allow list's comment for it */
    struct scan_location *copies; /* other copies of the same key (owned), or NULL */
    size_t n_copies;
};

struct scan_coverage {
    uint64_t file_bytes;          /* bytes of the file (or stream) read */
    uint64_t region_bytes;        /* bytes in memory regions */
    uint64_t outside_bytes;       /* bytes in uncovered spans (headers, notes, gaps...) */
    uint64_t unreadable_bytes;    /* bytes the headers describe that the file lacks */
    uint64_t scanned_bytes;       /* bytes the detectors saw (== file_bytes when complete) */
    size_t n_regions;             /* memory regions */
    size_t n_spans;               /* all spans */
};

struct scan_result {
    char *name;                   /* the input's name as given ("-" for stdin) */
    const char *format;           /* "elf-core", "minidump", "raw" */
    char format_detail[96];       /* "ELF64 LSB x86-64, 3 threads" */
    struct scan_coverage cov;
    struct scan_finding *findings;/* sorted by offset */
    size_t n_findings;
    struct scan_public *publics;  /* public material seen, for naming (owned) */
    size_t n_publics;
    struct dg_diag *diag;         /* errors and warnings about this input */
    struct dg_regions *map;       /* the region map (see scanner/container/regions.h) */
    double seconds;               /* wall time of the scan */
    char compression[24];         /* "zstd", "apport+gzip", ...: offsets and coverage
                                     are in the decompressed dump; "" if none */
    uint64_t compressed_bytes;    /* bytes of the compressed file read */
    bool stream_cut;              /* the compressed stream failed before its end */
    bool over_budget;             /* a budget of scan_opts ended the scan early */
    struct where_result *where;   /* attribution of the findings (scanner/where), or NULL */
};

/* An unlinked file (O_TMPFILE, mode 0600) in directory dir for
 * scan_opts.spill_fd, or -1 with errno set. Made before a process confines
 * itself (sandbox.h), which may open no file afterwards. */
int scan_spill_open(const char *dir);

/* Scans the file at path ("-" = standard input). */
dg_err scan_path(const char *path, const struct scan_opts *opts, struct scan_result *out);

/* Gives the descriptor of a stream to scan_opened(): OUT *fd (still owned
 * by the opener); or an error already described in d. */
typedef dg_err (*scan_open_fn)(void *arg, struct dg_diag *d, int *fd);

/* Scans the stream opener(arg, ...) gives as if it were a file called name
 * (an s3:// object: scanner/cli/s3.c). An error of opener() is the scan's. */
dg_err scan_opened(const char *name, scan_open_fn opener, void *arg, const struct scan_opts *opts,
                   struct scan_result *out);

/* Scans bytes p[0..len) as if they were a file called name. */
dg_err scan_memory(const char *name, const uint8_t *p, size_t len,
                   const struct scan_opts *opts, struct scan_result *out);

/* Reads only the container of path and fills out->map, format and coverage
 * (no detectors run). */
dg_err scan_regions(const char *path, struct scan_result *out);

void scan_result_free(struct scan_result *r);

/* Do the first bytes p[0..n) of a file start a dump dumpgate reads: an ELF
 * file, a minidump, a compressed stream or an apport report? (n >= 16 for
 * every magic to be seen.) */
bool scan_head_is_dump(const uint8_t *p, size_t n);

/* Was r's scan incomplete: bytes its headers describe missing, bytes not
 * scanned, a compressed stream that failed before its end, or a warning
 * that a limit, a truncation or a read error stopped part of it? Says why
 * in why (why_len bytes). */
bool scan_incomplete(const struct scan_result *r, char *why, size_t why_len);

#endif
