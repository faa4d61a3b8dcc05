/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * quarantine.h - `dumpgate quarantine list|show|release|expire`: the life of
 * a dump in a core-handler spool after its verdict (quarantine.c), and the
 * spool's counts for Prometheus.
 */
#ifndef DUMPGATE_QUARANTINE_H
#define DUMPGATE_QUARANTINE_H

#include "options.h"

/* Runs `dumpgate quarantine ACTION` as o says (o->qaction, o->spool, ...),
 * printing on stdout and one-line errors on stderr, then writes the spool's
 * counts to o->metrics when it is set. Returns the exit status: 0 done, 2
 * error (a bad spool, dump or verdict, a move that was refused, a release
 * command that failed, a metrics file that could not be written). */
int quarantine_run(const struct cli_opts *o);

/* After `dumpgate core-handler`: writes the counts of o->spool to
 * o->metrics (nothing when it is NULL). A failure goes to syslog (and
 * stderr with --log-stderr) and does not change the handler's exit status. */
void quarantine_handler_metrics(const struct cli_opts *o);

#endif
