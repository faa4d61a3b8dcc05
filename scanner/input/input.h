/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * input.h - where the bytes of a dump come from: a regular file (read with
 * pread, one chunk at a time, by the engine), standard input or a pipe (a
 * stream: only its head is kept for the container reader, the rest flows
 * through the engine's ring of chunks), or a buffer in memory.
 *
 * A compressed file or stream (zstd, lz4, xz, gzip, bzip2, an apport .crash
 * report; recognized by magic) becomes a stream of its decompressed bytes:
 * input_pull() runs the decoder (decompress.h) straight into the reader's
 * buffer, so all offsets refer to the decompressed dump. input_finish()
 * closes the decoder and reports how decompression went.
 *
 * Contract: input_read_at() is the only random access a container reader
 * has. It never reads past the end of the file and never allocates. For a
 * stream it answers from the retained head, or from the spill (input_spill())
 * for bytes that went by, and returns DG_E_UNAVAILABLE beyond them.
 */
#ifndef DUMPGATE_INPUT_H
#define DUMPGATE_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>

#define INPUT_HEAD_MAX (64u << 20) /* bytes of a stream kept for its container */

/* Bounds on what an input may cost (input_open_limited); 0 for none. */
struct input_limits {
    uint64_t max_decompressed; /* bytes a compressed input may decode to: the
                                  stream ends there with DG_E_LIMIT */
    double deadline;           /* CLOCK_MONOTONIC seconds after which no read
                                  of a stream waits: it ends there */
};

struct dg_input {
    const char *name;     /* as given by the user; not owned */
    int fd;               /* open descriptor (for a compressed input: of the
                             compressed bytes), or -1 for memory */
    bool stream;          /* not seekable */
    uint64_t size;        /* file size; for a stream, bytes in head until EOF is seen */
    const uint8_t *mem;   /* memory input (not owned), or NULL */
    struct input_head *head; /* stream: the bytes read so far for the container */
    struct dc_decoder *decoder; /* compressed input: decodes what fd reads */
    char compression[24];    /* "zstd", "apport+gzip", ...; "" when not compressed */
    uint64_t compressed_bytes; /* compressed bytes consumed (after input_finish) */
};

/* Opens path ("-" = standard input). Returns DG_OK, or an error already
 * described in d (no such file, a directory, unreadable, empty). */
dg_err input_open(const char *path, struct dg_diag *d, struct dg_input *out);

/* input_open() within lim (NULL: none). A path /proc/self/fd/N or /dev/fd/N
 * reads the open descriptor N itself (a duplicate of it), so that a process
 * that may not open the file by name (a scan that dropped its privileges)
 * still reads what it was handed. */
dg_err input_open_limited(const char *path, const struct input_limits *lim, struct dg_diag *d,
                          struct dg_input *out);

/* input_open_limited() on the open descriptor fd (a pipe or socket: a
 * stream), called name in every message. The input reads a duplicate of
 * fd; the caller still owns fd. */
dg_err input_open_fd(const char *name, int fd, const struct input_limits *lim, struct dg_diag *d,
                     struct dg_input *out);

/* True once a read of the stream ended because lim->deadline passed (the
 * stream was cut there; the bytes before it were delivered). */
bool input_timed_out(const struct dg_input *in);

/* Wraps p[0..len) as an input called name. */
void input_open_memory(const char *name, const uint8_t *p, size_t len, struct dg_input *out);

void input_close(struct dg_input *in);

/* Compressed input only (a no-op returning DG_OK otherwise): closes the
 * decoder (no more bytes can be pulled), fills compression and
 * compressed_bytes, and reports to d: an info line saying that offsets are in
 * the decompressed dump, and a warning (some bytes came out) or an error
 * (none did) when the compressed data was corrupt or truncated. Returns the
 * decoder's error, or DG_OK. Call once, after the last input_pull(). */
dg_err input_finish(struct dg_input *in, struct dg_diag *d);

/* Copies up to len bytes at off into buf; *got is set to the bytes copied,
 * fewer at the end of the file. DG_E_UNAVAILABLE for stream bytes past the
 * head, DG_E_IO on a read error. */
dg_err input_read_at(const struct dg_input *in, uint64_t off, void *buf, size_t len,
                     size_t *got);

/* Stream only: makes sure the head holds the first `want` bytes (capped at
 * INPUT_HEAD_MAX and at EOF) by reading more of the stream, and returns them in
 * *p / *len. The head's memory stays valid until input_close(). For a file or
 * memory input, reads nothing and returns DG_E_UNSUPPORTED. */
dg_err input_head(const struct dg_input *in, size_t want, const uint8_t **p, size_t *len);

/* Stream only: reads the next bytes of the stream, after the head and
 * everything pulled before, into buf[0..len); *got is fewer than len only at
 * the end of the stream (for a compressed one, the end of the data or its
 * first error, which input_finish() reports). DG_E_IO on a read error. */
dg_err input_pull(const struct dg_input *in, uint8_t *buf, size_t len, size_t *got);

/* Stream only: as input_pull(), but the bytes are not written to the spill
 * (input_spill()) here: the caller hands each piece to input_spill_add()
 * afterwards, from one thread at a time and in the stream's order, so that
 * a thread other than the reader can write them while the reader decodes
 * on. Until then input_read_at() and input_reads_back() see them as not
 * spilled. */
dg_err input_pull_unspilled(const struct dg_input *in, uint8_t *buf, size_t len, size_t *got);

/* Stream only: writes p[0..n), the bytes at stream offset at that
 * input_pull_unspilled() gave, to the spill (nothing when there is none or
 * spilling stopped; input_spilled() then stops growing). */
void input_spill_add(const struct dg_input *in, uint64_t at, const uint8_t *p, size_t n);

/* Stream only: true once the stream ended inside the head. */
bool input_head_eof(const struct dg_input *in);

/* Stream only: asks that the bytes [off, off+len) be kept as they go by
 * (those already in the head at once, the rest when the engine pulls them):
 * metadata that a container describes in its head but that lies at the
 * stream's end, as gcore's notes do. At most INPUT_KEPT_RANGES ranges and
 * INPUT_KEPT_MAX bytes in all, allocated here. DG_E_LIMIT past those,
 * DG_E_NOMEM, DG_E_ARG for an empty range, DG_E_UNSUPPORTED for a file or
 * memory input (read those with input_read_at()). */
#define INPUT_KEPT_RANGES 8u
#define INPUT_KEPT_MAX (64u << 20)
dg_err input_keep_range(const struct dg_input *in, uint64_t off, size_t len);

/* Range i of input_keep_range() (false past the last): where it starts, and
 * the bytes of it that went by, *len of them from its start (fewer than asked
 * when the stream ended before its end, or before the engine pulled it all).
 * The memory stays valid until input_close(). */
bool input_kept(const struct dg_input *in, size_t i, uint64_t *off, const uint8_t **p,
                size_t *len);

/* Stream only: from now on, every byte of the stream (those in the head
 * first) is also written to fd, an unlinked file of the caller's (emptied
 * here, not closed), up to max bytes, so that input_read_at() can answer
 * for any offset that went by: the detectors' finish() and attribution read
 * the dump again after the scan. Spilling stops quietly at max or on a
 * write error (a full disk); input_spilled() says how far it got and why it
 * stopped. DG_E_UNSUPPORTED for a file or memory input or a second call,
 * DG_E_IO when fd cannot be emptied or written. */
dg_err input_spill(const struct dg_input *in, int fd, uint64_t max);

/* Stream only: the spill will not be read again; empties it (its disk
 * space and page cache freed now, and the file empty when its owner closes
 * it). input_read_at() then answers only from the head. */
void input_spill_done(const struct dg_input *in);

/* The stream bytes [0, return) that input_read_at() can read from the spill
 * (any thread may ask); *why, unless why is NULL, is the errno that stopped
 * spilling (EFBIG at max), 0 if none: ask for it only when the stream's
 * reader is done. */
uint64_t input_spilled(const struct dg_input *in, int *why);

/* True when input_read_at() can read every byte of the input that went by:
 * a file or memory input, or a stream whose spill holds all of it. */
bool input_reads_back(const struct dg_input *in);

/* Bytes known to exist: the file size, or for a stream the head length (or
 * total length once head_eof). */
uint64_t input_known_size(const struct dg_input *in);

#endif
