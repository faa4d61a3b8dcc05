/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * scanchild.h - one dump scanned by this binary in a child process, as the
 * gates (core-handler, gateway) run it: `scan --format jsonl` on the open
 * descriptor of the dump, with the user's scan options, under a timeout, as
 * another user under a seccomp filter (`--sandbox USER`, sandbox.h), in its
 * own process group so that a timeout kills everything it started.
 *
 * Contract: scanchild_run(o, fd, sr) scans the file open at fd (the child
 * reads /proc/self/fd/3, so nothing renamed or swapped in a directory
 * meanwhile changes what is scanned) with o->scanner (default
 * /proc/self/exe), o->fail_on, o->threads, o->scan_args and o->scan_user
 * ("none": no sandbox), and waits at most o->timeout seconds. It fills sr:
 * the exit status or the signal, whether it timed out, its JSONL output (at
 * most SCANCHILD_OUT_MAX bytes; more sets truncated), or why it could not
 * run. sr->out is malloc'ed (may be NULL); the caller frees it.
 * scanchild_records() reads that output.
 */
#ifndef DUMPGATE_SCANCHILD_H
#define DUMPGATE_SCANCHILD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "options.h"

#define SCANCHILD_OUT_MAX (32u << 20) /* scanner output kept for the verdict */

struct scan_run {
    int exit_code;     /* the scanner's exit status, or -1 */
    int sig;           /* the signal that ended it, or 0 */
    bool timed_out;
    char *out;         /* its JSONL output */
    size_t len;
    bool truncated;    /* output beyond SCANCHILD_OUT_MAX was dropped */
    char error[200];   /* it could not be run */
    double seconds;
};

void scanchild_run(const struct cli_opts *o, int fd, struct scan_run *sr);

/* Reads the JSONL output in sr->out (splitting it in place): appends each
 * finding record to findings and returns the first summary record (a new
 * reference), or NULL when there is none. Unparsable lines are skipped. */
json_t *scanchild_records(struct scan_run *sr, json_t *findings);

#endif
