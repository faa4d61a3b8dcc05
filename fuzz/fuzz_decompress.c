/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_decompress.c - harness for the decompression front end
 * (scanner/input/input.c, decompress.c, apport.c): the input is a dump as
 * dumpgate opens it with input_open(), so its magic picks the codec (zstd,
 * lz4 frame, xz, gzip, bzip2, an apport .crash report and the gzip, zstd or
 * zlib inside it) exactly as for a dump, and its decoder is pulled. Each
 * compressed input is opened twice: as a regular file (a memfd: the decoder
 * reads from offset 0, as for a .zst file) and as a stream (a pipe: the 16
 * sniffed bytes reach the decoder as a prefix, the way stdin is read, so the
 * codec sees them as a read of their own).
 *
 * The output is drained the way the engine reads it (the container's head
 * through input_head(), the rest through input_pull()) and capped at OUT_CAP
 * bytes, after which the reader stops, as a scan that stops early does, so
 * that bombs cost at most OUT_CAP of decoding. Checked on each run:
 * the codec is the one the magic names; every error is a dg_err with a
 * message of its own, a warning when bytes came out and an error when none
 * did; the count input_finish() reports is the count that was pulled
 * (exactly: the decoder decodes no further than asked); compressed bytes consumed never
 * exceed the input, and equal it when a zstd, lz4 or xz source decoded to its
 * end. Between the two runs: the same label and verdict, the same bytes as
 * far as both came (a corrupt frame may let a few more out of one than of the
 * other: how much a library releases before it finds the damage depends on
 * how its input was cut, and the stream cuts it after 16 bytes), and the
 * same count when both decoded to the end.
 *
 * One harness serves every codec: an input whose magic is broken costs an
 * open and a close, so the dispatch wastes little time, and the
 * seeds (fuzz/seeds.sh) and fuzz/decompress.dict give libFuzzer every magic.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../scanner/input/decompress.h"
#include "../scanner/input/input.h"
#include "fuzz.h"

/* Decompressed bytes read before the reader gives up: the 64 KiB head, then
 * 1 MiB pulls to 4 MiB. A bomb decoded further only runs the codec library's
 * own loop longer, which costs executions and reaches no more of dumpgate. */
#ifndef OUT_CAP
#define OUT_CAP (4ull << 20)
#endif
#define HEAD_WANT 65536u      /* what a container reader asks for first */
#define SINK_LEN (1u << 20)   /* input_pull() size when draining the rest */
#define PIPE_DEFAULT 65536u   /* a new pipe's capacity on Linux */

static int memfd = -1;
static uint8_t *sink;
static uint8_t *first; /* the file run's output, for the stream run to match */

int
dg_fuzz_init(void)
{
    memfd = memfd_create("dg-fuzz-decompress", MFD_CLOEXEC);
    sink = malloc(SINK_LEN);
    first = malloc(OUT_CAP);
    return memfd >= 0 && sink != NULL && first != NULL ? 0 : -1;
}

void
dg_fuzz_fini(void)
{
    if (memfd >= 0)
        close(memfd);
    memfd = -1;
    free(sink);
    sink = NULL;
    free(first);
    first = NULL;
}

/* Puts data[0..len) into a pipe whose write end is then closed. Returns the
 * read end, or -1 when the pipe cannot hold the input without a writer
 * thread (then the input is only opened as a file). */
static int
as_pipe(const uint8_t *data, size_t len)
{
    int fds[2];
    size_t done = 0;

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    if (len > PIPE_DEFAULT)
        (void)fcntl(fds[1], F_SETPIPE_SZ, (int)len);
    while (done < len) {
        ssize_t w = write(fds[1], data + done, len - done);

        if (w <= 0) { /* full (a pipe smaller than asked for): no stream then */
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
        done += (size_t)w;
    }
    close(fds[1]);
    return fds[0];
}

/* Puts data[0..len) into the memfd. Returns it, or -1. */
static int
as_file(const uint8_t *data, size_t len)
{
    size_t done = 0;

    if (ftruncate(memfd, 0) != 0)
        return -1;
    while (done < len) {
        ssize_t w = pwrite(memfd, data + done, len - done, (off_t)done);

        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return memfd;
}

/* A message must be a terminated, non-empty sentence that ends in a reason,
 * not in a bare "label: ". */
static void
check_text(const struct dg_diag_msg *m)
{
    size_t n;

    if (memchr(m->text, '\0', sizeof m->text) == NULL)
        __builtin_trap();
    n = strlen(m->text);
    if (n == 0 || (n >= 2 && m->text[n - 2] == ':' && m->text[n - 1] == ' '))
        __builtin_trap();
}

/* Checks what input_finish() reported from diag index `from` on: one INFO
 * line with the decompressed count (which must be `drained`), then nothing
 * when rc is DG_OK, or exactly one message
 * carrying rc: a warning if bytes came out, an error if none did. */
static void
check_finish(const struct dg_diag *d, size_t from, dg_err rc, uint64_t drained)
{
    const struct dg_diag_msg *info;
    const char *at;
    unsigned long long out;

    if (dg_diag_count(d) < from + 1)
        __builtin_trap();
    info = dg_diag_get(d, from);
    check_text(info);
    if (info->level != DG_DIAG_INFO || info->code != DG_OK)
        __builtin_trap();
    at = strstr(info->text, "decompressed to ");
    if (at == NULL || sscanf(at, "decompressed to %llu", &out) != 1)
        __builtin_trap(); /* the count is what -v tells the user: it must be there */
    if (out != drained)
        __builtin_trap();
    if (rc == DG_OK) {
        if (dg_diag_count(d) != from + 1)
            __builtin_trap();
        return;
    }
    if ((unsigned)rc >= DG_E_LAST || dg_diag_count(d) != from + 2)
        __builtin_trap();
    {
        const struct dg_diag_msg *m = dg_diag_get(d, from + 1);

        check_text(m);
        if (m->code != rc || m->level != (out > 0 ? DG_DIAG_WARNING : DG_DIAG_ERROR))
            __builtin_trap();
    }
}


/* What one way of opening the input gave. */
struct outcome {
    bool opened;         /* input_open() succeeded */
    bool compressed;     /* a decoder was opened */
    dg_err rc;           /* input_finish()'s verdict */
    bool capped;         /* the reader stopped at OUT_CAP */
    uint64_t drained;    /* decompressed bytes pulled */
    char label[24];      /* "zstd", "apport+gzip", ... */
};

/* Keeps the n bytes at offset off of the output (first run, keep), or
 * checks them against what the first run kept up to its count prev. */
static void
take(bool keep, uint64_t prev, uint64_t off, const uint8_t *p, size_t n)
{
    if (keep) {
        memcpy(first + off, p, n); /* off + n <= OUT_CAP */
    } else if (off < prev) {
        size_t both = prev - off < n ? (size_t)(prev - off) : n;

        if (memcmp(first + off, p, both) != 0)
            __builtin_trap(); /* a file and a stream decoded to different bytes */
    }
}

/* Opens the input (len bytes) held by fd as dumpgate opens a dump, drains
 * it as the engine does and checks every invariant of one run (see the
 * top). keep: the first run, whose output is kept; otherwise the output is
 * matched against the first run's prev bytes. */
static void
run(size_t len, enum dc_kind kind, int fd, bool keep, uint64_t prev, struct outcome *o)
{
    struct dg_diag *d = dg_diag_new();
    struct dg_input in;
    const uint8_t *head;
    size_t head_len, from;
    char path[64];
    dg_err rc;

    memset(o, 0, sizeof *o);
    if (d == NULL)
        return;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    rc = input_open(path, d, &in);
    if (rc != DG_OK) {
        /* Only an empty file is refused for its bytes; the rest would be the
         * machine's (no memory). Either way: a code and a message. */
        if ((unsigned)rc >= DG_E_LAST || dg_diag_count(d) == 0 ||
            dg_diag_get(d, dg_diag_count(d) - 1)->code != rc)
            __builtin_trap();
        check_text(dg_diag_get(d, dg_diag_count(d) - 1));
        dg_diag_free(d);
        return;
    }
    o->opened = true;
    if (in.decoder == NULL) {
        if (kind != DC_NONE || in.compression[0] != '\0')
            __builtin_trap(); /* a magic that did not start its codec */
        input_close(&in);
        dg_diag_free(d);
        return;
    }
    if (kind == DC_NONE || !in.stream || strcmp(in.compression, decompress_kind_name(kind)) != 0)
        __builtin_trap(); /* a codec that the magic does not name */
    o->compressed = true;

    /* The container reader's head, then the rest as the engine reads it. */
    if (input_head(&in, HEAD_WANT, &head, &head_len) != DG_OK || head_len > HEAD_WANT ||
        (head_len < HEAD_WANT && !input_head_eof(&in)) || input_known_size(&in) != head_len)
        __builtin_trap();
    take(keep, prev, 0, head, head_len);
    o->drained = head_len;
    while (!input_head_eof(&in)) {
        size_t want = OUT_CAP - o->drained < SINK_LEN ? (size_t)(OUT_CAP - o->drained) : SINK_LEN;
        size_t got;

        if (want == 0) {
            o->capped = true;
            break;
        }
        if (input_pull(&in, sink, want, &got) != DG_OK || got > want)
            __builtin_trap(); /* a decoder's errors end its stream; they are no read error */
        take(keep, prev, o->drained, sink, got);
        o->drained += (uint64_t)got;
        if (got < want)
            break;
    }

    from = dg_diag_count(d);
    o->rc = input_finish(&in, d);
    if (in.decoder != NULL || in.compressed_bytes > len)
        __builtin_trap();
    if (strncmp(in.compression, decompress_kind_name(kind), strlen(decompress_kind_name(kind))) !=
        0)
        __builtin_trap(); /* "apport+gzip" starts with "apport" */
    check_finish(d, from, o->rc, o->drained);
    if (o->rc == DG_OK && !o->capped && kind != DC_GZIP && kind != DC_BZIP2 &&
        kind != DC_APPORT && in.compressed_bytes != len)
        __builtin_trap(); /* zstd, lz4, xz: decoded to the end means read to the end */
    snprintf(o->label, sizeof o->label, "%s", in.compression);
    input_close(&in);
    dg_diag_free(d);
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    enum dc_kind kind = decompress_sniff(data, len < DC_SNIFF_LEN ? len : DC_SNIFF_LEN, false);
    struct outcome file, stream;
    int fd;

    if ((fd = as_file(data, len)) < 0)
        return 0;
    run(len, kind, fd, true, 0, &file);
    if (!file.compressed || (fd = as_pipe(data, len)) < 0)
        return 0;
    run(len, kind, fd, false, file.drained, &stream);
    close(fd); /* input_open had a descriptor of its own */

    /* The same bytes from a file and from a stream (whose first 16 bytes
     * reach the codec as a read of their own) must decode alike; the bytes
     * both gave were matched as they came. */
    if (!stream.opened)
        return 0; /* no descriptor to be had: nothing to compare */
    if (!stream.compressed || strcmp(file.label, stream.label) != 0)
        __builtin_trap();
    if (!file.capped && !stream.capped &&
        (file.rc != stream.rc || (file.rc == DG_OK && file.drained != stream.drained)))
        __builtin_trap();
    if (file.capped != stream.capped && (file.capped ? stream.rc : file.rc) == DG_OK)
        __builtin_trap(); /* only an error may end one of them short of the cap */
    return 0;
}
