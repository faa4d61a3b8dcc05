/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * apport.h - the CoreDump field of an apport .crash report, decoded.
 *
 * An apport report is RFC 822-like text. A binary value starts with the line
 * "CoreDump: base64"; every following line that starts with a space holds one
 * independently base64-encoded piece (each with its own '=' padding), and the
 * pieces joined form a gzip stream (newer apport: zstd; very old: zlib). This
 * reader finds the field and decodes it line by line with OpenSSL's
 * EVP_Decode*, in fixed buffers whatever the length of a line; the
 * decompression itself is decompress.c's. Other fields are not decoded.
 * Format: ../shared/reference/dumps.md 3.3.
 */
#ifndef DUMPGATE_APPORT_H
#define DUMPGATE_APPORT_H

#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

/* A pull source of bytes: fills buf[0..cap) with *got bytes; *got == 0 at the
 * end. Returns DG_OK or an error with the reason in why[0..why_len). */
struct dc_source {
    dg_err (*read)(void *ctx, uint8_t *buf, size_t cap, size_t *got, char *why, size_t why_len);
    void *ctx;
};

struct apport_dec;

/* A decoder reading the report from raw (which must outlive it). Returns
 * DG_OK or DG_E_NOMEM. */
dg_err apport_new(const struct dc_source *raw, struct apport_dec **out);

/* Reads decoded CoreDump bytes, like struct dc_source's read. DG_E_FORMAT
 * when the report has no "CoreDump: base64" field or a line is not base64. */
dg_err apport_read(struct apport_dec *a, uint8_t *buf, size_t cap, size_t *got, char *why,
                   size_t why_len);

void apport_free(struct apport_dec *a);

#endif
