/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * engine_int.h - internals shared by the engine's files: the dump service
 * behind dg_dump_* (dump.c), the findings sink behind dg_report (sink.c) and
 * the chunk runner (engine.c). Not installed.
 */
#ifndef DUMPGATE_ENGINE_INT_H
#define DUMPGATE_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/detector.h>

#include "../container/regions.h"
#include "../input/input.h"
#include "../util/zeromap.h"
#include "scan.h"

struct ptr_free;

struct dg_dump {
    const struct dg_input *in;
    const struct dg_regions *map;
    const struct zero_map *zeros; /* chunks known to hold only zeros (after the
                                   * scan, for attribution), or NULL */
    const struct ptr_free *ptrfree; /* blocks known to hold no pointer into the
                                     * dump (after the scan, for attribution), or NULL */
};

/* A sink collects the findings of one worker (or of finish()). */
struct dg_sink {
    struct scan_finding *v;
    size_t n, cap;
    const char *detector;     /* name stamped on findings reported now */
    struct dg_diag *diag;
    const char *name;         /* the dump's name, put before warnings; NULL for none */
    bool full;                /* SINK_MAX reached: further findings counted only */
    size_t dropped;
    struct scan_public *pub;  /* public material seen (dg_report_public) */
    size_t n_pub, cap_pub;
    atomic_bool *found;       /* set at a finding's report, or NULL: a worker's sink tells
                                 the other workers at once (engine.c) */
};

#define SINK_MAX 100000u
#define SINK_PUBLIC_MAX 4096u /* public records kept per scan */

void sink_init(struct dg_sink *s, struct dg_diag *diag);
void sink_free(struct dg_sink *s);
/* Moves every finding of src to the end of dst; src is left empty. */
bool sink_take(struct dg_sink *dst, struct dg_sink *src);

/* What the caller does at three points of engine_run() (any NULL: nothing):
 * stream_end(arg, length) once a stream has ended, before the detectors'
 * finish(): it reads what the container left for later (a gcore core's
 * notes) and completes map with the stream's length, so that what is
 * searched after the stream (engine.c) and finish() see the final map;
 * scanned(arg, found) once every chunk has been scanned, before the
 * detectors' finish(), with the findings so far; idle(arg) on each thread of
 * the detectors' finish() once no detector is left for it to take: work
 * that need not wait for the last finish() runs there. */
struct engine_hooks {
    void (*stream_end)(void *arg, uint64_t length);
    void (*scanned)(void *arg, const struct dg_sink *found);
    void (*idle)(void *arg);
    void *arg;
};

/* Runs the detectors over every byte of in as described by map. Fills
 * *scanned with the bytes handed to detectors and appends findings to out.
 * Calls the hooks (unless NULL): stream_end when a stream has ended, even
 * when it ended on an error; scanned before the detectors' finish(); idle
 * on each thread of the detectors' finish() calls once none is left to
 * take (work that may run beside the last of them), all returned before
 * engine_run() does. Unless
 * zeros is NULL, it is made a map of the dump's chunks that marks those
 * found to hold only zeros, whole when scanned is called (the caller frees
 * it with zero_map_free()). Unless ptrfree is NULL (else readied by the
 * caller, ptr_free_init()), it marks the blocks of each chunk scanned that
 * hold no pointer into the dump (ptrfree.h), whole when scanned is called. */
dg_err engine_run(const struct dg_input *in, struct dg_regions *map,
                  const struct scan_opts *opts, const struct engine_hooks *hooks,
                  struct dg_diag *diag, struct dg_sink *out, uint64_t *scanned,
                  struct zero_map *zeros, struct ptr_free *ptrfree);

#endif
