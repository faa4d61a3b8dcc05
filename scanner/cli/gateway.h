/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * gateway.h - `dumpgate gateway`: the crash-upload reverse proxy (gateway.c).
 */
#ifndef DUMPGATE_GATEWAY_H
#define DUMPGATE_GATEWAY_H

#include "options.h"

/* Serves uploads on o->listen until SIGTERM or SIGINT (SIGHUP: retry the
 * outbox now), scanning each into o->spool and forwarding the clean ones to
 * o->upstream. Returns 0 after a signal, 2 when it cannot start (bad
 * address, spool, token file; the reason on stderr). */
int gateway_run(const struct cli_opts *o);

#endif
