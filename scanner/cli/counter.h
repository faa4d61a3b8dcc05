/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * counter.h - a count kept in a spool directory that a script can read
 * (`cat SPOOL/lost`) and that can still be raised when the filesystem is
 * full: the core handler counts there the dumps it could not store.
 *
 * Contract: the file dir/name holds one decimal number, padded with spaces
 * to COUNTER_WIDTH characters and a newline, so that it is rewritten in
 * place (no new block is needed). counter_ensure() creates it holding 0
 * unless it exists (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0644); counter_add()
 * opens it without following a link, refuses anything but a regular file
 * of this user, takes an exclusive flock (handlers run at once), reads,
 * adds, writes back and fsyncs; it creates the file when it is missing.
 * Both return 0 or an errno. counter_read() fills *value (0 when absent).
 */
#ifndef DUMPGATE_COUNTER_H
#define DUMPGATE_COUNTER_H

#include <stdint.h>

#define COUNTER_WIDTH 20

int counter_ensure(int dir, const char *name);
int counter_add(int dir, const char *name, uint64_t n, uint64_t *now);
int counter_read(int dir, const char *name, uint64_t *value);

#endif
