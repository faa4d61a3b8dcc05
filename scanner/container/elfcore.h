/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * elfcore.h - ELF core container reader (see elfcore.c).
 *
 * elfcore_read() claims every part of an ET_CORE file on the region map and
 * names memory regions from the notes. It returns DG_OK when the program
 * headers could be read (warnings may have gone to d), DG_E_UNSUPPORTED for an
 * ELF file that is not a core, or another error when the file cannot be read
 * as ELF at all; on error the caller scans the file as raw bytes.
 */
#ifndef DUMPGATE_ELFCORE_H
#define DUMPGATE_ELFCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#include "../input/input.h"
#include "regions.h"

bool elfcore_probe(const uint8_t *p, size_t n);
dg_err elfcore_read(const struct dg_input *in, struct dg_regions *map, struct dg_diag *d);
const char *elfcore_machine_name(unsigned machine);

/* For a stream whose notes lay past the head elfcore_read() had (gcore
 * writes them last): names regions from the notes the input kept as the
 * engine pulled them by (input_keep_range()). Call after the whole stream was
 * read, before regions_finish(). DG_OK (a no-op) when nothing was kept;
 * warnings for notes the stream ended before. */
dg_err elfcore_read_late(const struct dg_input *in, struct dg_regions *map, struct dg_diag *d);

#endif
