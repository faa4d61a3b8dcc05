/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * handler.h - `dumpgate core-handler`: the crash-pipeline gate (handler.c).
 */
#ifndef DUMPGATE_HANDLER_H
#define DUMPGATE_HANDLER_H

#include "options.h"

/* Runs the core-handler subcommand described by o (receive a core from
 * standard input, --recover, or --sweep DIR). Returns the exit status:
 * 0 clean, 1 quarantined, 2 error (the reason went to the log). */
int handler_run(const struct cli_opts *o);

#endif
