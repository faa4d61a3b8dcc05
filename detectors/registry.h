/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * registry.h - the table of built-in detectors (detector_list.h) followed by
 * the detectors added at run time (plug-ins). The only global state of
 * dumpgate: the built-in part is constant; registry_add() is called before
 * any scan, on one thread.
 *
 * One rule every built-in detector keeps beyond detector.h: finish() drops
 * the evidence it joined, leaving `shared` as create() made it, and scan()
 * keeps nothing in a worker's ctx from one chunk to the next. A built-in
 * detector can therefore be handed dump after dump (the fuzz harness does:
 * fuzz/fuzz_detector.c), and no secret it gathered outlives its dump's
 * finish().
 */
#ifndef DUMPGATE_REGISTRY_H
#define DUMPGATE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <dumpgate/detector.h>

#define REGISTRY_MAX 32

size_t registry_count(void);
/* The i-th detector (0 <= i < registry_count()). */
const struct dg_detector *registry_get(size_t i);
/* The detector called name, or NULL. */
const struct dg_detector *registry_find(const char *name);
/* Appends d (kept by pointer, never freed). DG_E_ARG if a detector of that
 * name exists, DG_E_LIMIT if the table is full. Not thread-safe: call before
 * scanning. */
dg_err registry_add(const struct dg_detector *d);
/* True for a detector of detector_list.h. */
bool registry_is_builtin(const struct dg_detector *d);

#endif
