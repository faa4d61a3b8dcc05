/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * durable.h - writing a JSON document (a verdict) into a spool directory so
 * that it is there whole or not at all, for the core handler and the
 * quarantine commands alike.
 *
 * Contract: durable_write_json() writes v to a new file beside dir/name
 * (".NAME.PID.tmp", created O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, so never
 * through a planted link nor into a file that is there; a stale one of a
 * dead writer with the same PID is removed first), fsyncs it, renames it to
 * name and fsyncs the directory. An existing dir/name is replaced only when
 * replace is true; otherwise the rename refuses (RENAME_NOREPLACE). Returns 0
 * or an errno (EEXIST: the name is taken); on error nothing is left behind.
 */
#ifndef DUMPGATE_DURABLE_H
#define DUMPGATE_DURABLE_H

#include <stdbool.h>

#include <jansson.h>

int durable_write_json(int dir, const char *name, const json_t *v, bool replace);

#endif
