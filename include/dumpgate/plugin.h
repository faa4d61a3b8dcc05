/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * plugin.h - what a detector outside dumpgate's tree (a plug-in loaded with
 * `dumpgate scan --plugin FILE.so`) exports. See docs/PLUGINS.md.
 *
 * A plug-in is a shared object that defines, with default visibility,
 *
 *     const struct dg_detector *dg_detector_entry_v1(void);
 *
 * returning a detector that lives as long as the process (a static const
 * struct). dumpgate loads the object with dlopen(RTLD_NOW | RTLD_LOCAL), so
 * every symbol must resolve at load time; the dg_* helpers (dg_report,
 * dg_sink_warn, dg_dump_*, dg_config_get, dg_strlcpyf, ...) are resolved
 * against the dumpgate program that loads it (or libdumpgate when another
 * program embeds it). dumpgate refuses, with exit status 2 and nothing
 * loaded half-way: an object that does not load, lacks the entry symbol,
 * returns NULL, declares an abi other than DG_DETECTOR_ABI, has no name or
 * no scan callback, reuses the name of a loaded detector, or whose create()
 * or init() fails on a trial run. A plug-in runs with the default set unless
 * --detectors names the ones to run.
 */
#ifndef DUMPGATE_PLUGIN_H
#define DUMPGATE_PLUGIN_H

#include <dumpgate/dumpgate.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DG_PLUGIN_ENTRY_SYMBOL "dg_detector_entry_v1"
#define DG_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Defined by the plug-in, called once by dumpgate after dlopen. */
DG_PLUGIN_EXPORT const struct dg_detector *dg_detector_entry_v1(void);

#ifdef __cplusplus
}
#endif
#endif
