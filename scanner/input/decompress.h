/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * decompress.h - turns a compressed dump (zstd, lz4 frame, xz, gzip, zlib,
 * bzip2) or an apport .crash report into the plain bytes of the dump, as a
 * stream.
 *
 * A decoder is pulled: decompress_read() reads the compressed bytes from a
 * descriptor (after a few bytes the caller already read while sniffing) and
 * runs them through the real library (libzstd, liblz4, liblzma, zlib,
 * libbz2; apport reports through apport.c first) straight into the caller's
 * buffer, on the caller's thread: no pipe, no thread, no copy of its own.
 * Memory is bounded by constants, never by anything the input declares
 * beyond each library's own format limits (zstd window <= 128 MiB, xz
 * memlimit below). Errors end the stream and are recorded in the decoder,
 * read back when it is closed; the decoder never prints. Formats: zstd RFC 8878, lz4 frame format, xz file
 * format 1.1, RFC 1950/1952, bzip2; apport: ../shared/reference/dumps.md 3.3.
 */
#ifndef DUMPGATE_DECOMPRESS_H
#define DUMPGATE_DECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

enum dc_kind {
    DC_NONE = 0, /* not compressed */
    DC_ZSTD,
    DC_LZ4,      /* lz4 frame format */
    DC_XZ,
    DC_GZIP,
    DC_ZLIB,     /* bare zlib (old apport reports) */
    DC_BZIP2,
    DC_APPORT,   /* an apport .crash report: the CoreDump field */
};

#define DC_SNIFF_LEN 16u                /* bytes decompress_sniff() wants to see */
#define DC_XZ_MEMLIMIT (512ull << 20)   /* refuse xz streams that need more */

/* Recognizes p[0..len) by magic. DC_APPORT when it starts like an apport
 * report ("ProblemType: "). DC_ZLIB is only returned when allow_zlib (its
 * two-byte magic is too weak for a whole file; apport payloads allow it). */
enum dc_kind decompress_sniff(const uint8_t *p, size_t len, bool allow_zlib);

/* "zstd", "lz4", "xz", "gzip", "zlib", "bzip2", "apport", or NULL for DC_NONE. */
const char *decompress_kind_name(enum dc_kind k);

struct dc_decoder;

/* Opens a decoder for a source of kind k read from src_fd after the bytes
 * prefix[0..prefix_len) (which the caller already consumed; may be 0). The
 * decoder does not close src_fd, and reads nothing until the first
 * decompress_read(). Returns DG_OK, or an error described in d. */
dg_err decompress_open(enum dc_kind k, int src_fd, const uint8_t *prefix, size_t prefix_len,
                       const char *name, struct dg_diag *d, struct dc_decoder **out);

/* Bounds what z may cost (0: no bound): after max_out decompressed bytes
 * the stream ends with DG_E_LIMIT; a read of the source that would wait
 * past deadline (CLOCK_MONOTONIC seconds, util/deadline.h) ends it with
 * DG_E_LIMIT too. Call before the first decompress_read(). */
void decompress_limit(struct dc_decoder *z, uint64_t max_out, double deadline);

/* Decodes the next bytes of the stream into buf[0..cap) and returns how many:
 * fewer than cap only at the end of the stream, where the end is the end of
 * the data or the first error (see decompress_close()); 0 from then on. */
size_t decompress_read(struct dc_decoder *z, uint8_t *buf, size_t cap);

/* What a decoder did. */
struct dc_status {
    dg_err rc;            /* DG_OK unless the data or the source failed */
    char why[200];        /* the reason when rc != DG_OK, in the library's words */
    uint64_t in_bytes;    /* compressed bytes consumed */
    uint64_t out_bytes;   /* decompressed bytes returned */
    char label[24];       /* "zstd", "apport+gzip", ... */
};

/* Fills *st (a stream the caller stopped reading early is not an error) and
 * frees the decoder. */
void decompress_close(struct dc_decoder *z, struct dc_status *st);

#endif
