/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * registry.h - the table of built-in detectors (detector_list.h), the only
 * global state of dumpgate, and it is constant.
 */
#ifndef DUMPGATE_REGISTRY_H
#define DUMPGATE_REGISTRY_H

#include <stddef.h>

#include <dumpgate/detector.h>

#define REGISTRY_MAX 32

size_t registry_count(void);
/* The i-th detector (0 <= i < registry_count()). */
const struct dg_detector *registry_get(size_t i);
/* The detector called name, or NULL. */
const struct dg_detector *registry_find(const char *name);

#endif
