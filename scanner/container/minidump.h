/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * minidump.h - minidump container reader (Windows, Breakpad, Crashpad).
 *
 * Contract: minidump_probe() looks at the first bytes of a file and says
 * whether it is a minidump ('MDMP', or big-endian 'PMDM', which is recognised
 * but not supported). minidump_read() turns a minidump into claims on a
 * region map: the header and the stream directory, every stream body, the
 * memory of MemoryListStream and Memory64ListStream (with virtual
 * addresses), thread contexts and stacks, module names and Linux maps names.
 * It never prints; every problem goes to the diagnostics sink as a warning
 * naming the file offset concerned, and reading goes on with the rest. Layouts:
 * ../shared/reference/dumps.md section 2.
 */
#ifndef DUMPGATE_MINIDUMP_H
#define DUMPGATE_MINIDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#include "../input/input.h"
#include "regions.h"

#define MINIDUMP_HEADER_SIZE 32u    /* bytes of MINIDUMP_HEADER */
#define MINIDUMP_MAX_STREAMS (1u << 16) /* directory entries read at most */

/* True when p[0..n) starts with a minidump signature, little-endian 'MDMP'
 * or big-endian 'PMDM' (minidump_read() refuses the latter with
 * DG_E_UNSUPPORTED). Needs n >= 4. */
bool minidump_probe(const uint8_t *p, size_t n);

/* Reads the minidump `in` into map (claims, attribution and regions_info());
 * does not call regions_finish(). Returns DG_OK when the header and the
 * directory could be used, even if streams were damaged (each problem is a
 * DG_DIAG_WARNING with code DG_E_BAD_MINIDUMP in d). Returns
 * DG_E_BAD_MINIDUMP when the header itself is unusable (shorter than 32
 * bytes, directory entirely outside the file), DG_E_UNSUPPORTED for a
 * big-endian minidump, DG_E_NOMEM or DG_E_LIMIT from the map; the reason is
 * already in d, and the caller should then scan the file raw. */
dg_err minidump_read(const struct dg_input *in, struct dg_regions *map, struct dg_diag *d);

#endif
