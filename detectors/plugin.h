/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * plugin.h - loads detector plug-ins (include/dumpgate/plugin.h) into the
 * registry.
 */
#ifndef DUMPGATE_DETECTORS_PLUGIN_H
#define DUMPGATE_DETECTORS_PLUGIN_H

#include <stddef.h>

#include <dumpgate/detector.h>

/* Loads the plug-in at path, checks it (ABI, symbol, name, a trial create()
 * and init() with cfg) and adds its detector to the registry. On failure
 * nothing stays loaded and err (size n) says why, naming path. Call before
 * any scan, on one thread. */
dg_err plugin_load(const char *path, const struct dg_config *cfg, char *err, size_t n);

#endif
