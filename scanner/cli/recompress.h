/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * recompress.h - writes bytes in the compression a dump came in (zstd, lz4
 * frame, xz, gzip, bzip2), with the real libraries, for `redact`: a .zst
 * core gives a .zst copy. The counterpart of input/decompress.h.
 *
 * An apport .crash report is written back as a report (recompress_apport()).
 *
 * Contract: recompress(k, src, len, dst, why, cap) reads len bytes of src
 * from offset 0 and writes their compressed form at dst's position,
 * streaming (bounded memory). Returns DG_OK, DG_E_ARG for a kind it does not
 * write (DC_ZLIB, DC_APPORT, DC_NONE), or an error with why set.
 */
#ifndef DUMPGATE_RECOMPRESS_H
#define DUMPGATE_RECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#include "../input/decompress.h"

dg_err recompress(enum dc_kind k, int src, uint64_t len, int dst, char *why, size_t cap);

/* An apport .crash report again: the report at fd report copied to dst with
 * its CoreDump value replaced by len bytes of core, written as apport writes
 * it (the key line "CoreDump: base64", then lines of " " + base64 of one
 * piece of a gzip stream each). Every other field is copied byte for byte.
 * DG_E_FORMAT when the report has no such field. */
dg_err recompress_apport(int report, int core, uint64_t len, int dst, char *why, size_t cap);

#endif
