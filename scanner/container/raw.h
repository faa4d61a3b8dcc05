/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * raw.h - the fallback container: a file in no format dumpgate reads is one
 * raw span, scanned byte for byte. raw_describe() names what the first bytes
 * look like, so the warning can say which format was not recognized.
 */
#ifndef DUMPGATE_RAW_H
#define DUMPGATE_RAW_H

#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#include "regions.h"

/* Writes a short description of the format that p[0..n) starts with
 * ("gzip-compressed data", "ELF shared object", "text") into out. */
void raw_describe(const uint8_t *p, size_t n, char *out, size_t out_len);

/* Claims [0, size) as one raw span; size UINT64_MAX (a stream) claims to the
 * end, whatever its length (regions_claim_to_end()). */
dg_err raw_read(struct dg_regions *map, uint64_t size);

#endif
