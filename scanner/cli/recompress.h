/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * recompress.h - writes bytes in the compression a dump came in (zstd, lz4
 * frame, xz, gzip, bzip2), with the real libraries, for `redact`: a .zst
 * core gives a .zst copy. The counterpart of input/decompress.h.
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

#endif
