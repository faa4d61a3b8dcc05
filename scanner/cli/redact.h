/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * redact.h - `dumpgate redact IN -o OUT`: a same-size copy of a dump with
 * every key at or above --fail-on overwritten, verified by a re-scan
 * (redact.c; docs/REDACT.md).
 */
#ifndef DUMPGATE_REDACT_H
#define DUMPGATE_REDACT_H

#include "options.h"

/* Runs the redact subcommand described by o (o->files[0] is IN, o->output
 * OUT). Prints its diagnostics on stderr. Returns the exit status: 0 OUT
 * written and verified clean, 2 error (no OUT written). */
int redact_run(const struct cli_opts *o);

#endif
