/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * decompress.c - the decompression pump (see decompress.h): one thread per
 * compressed input reads the source through fixed buffers, decodes it with
 * libzstd, liblz4 (frame), liblzma, zlib or libbz2 (concatenated frames,
 * streams and members are all decoded, as the command-line tools do), and
 * writes the plain bytes into a pipe. Apport reports go through apport.c
 * first and are then sniffed again. Nothing here prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "apport.h"
#include "decompress.h"

#define IN_BUF (256u << 10)
#define OUT_BUF (512u << 10)
#define PIPE_SIZE (1u << 20)

struct dc_pump {
    pthread_t thread;
    enum dc_kind kind;      /* outer kind (DC_APPORT for a report) */
    enum dc_kind codec;     /* what decodes the bytes */
    int src_fd, wfd;
    uint8_t prefix[DC_SNIFF_LEN];
    size_t prefix_len, prefix_pos;
    uint8_t peek[DC_SNIFF_LEN]; /* apport: first decoded bytes, sniffed */
    size_t peek_len, peek_pos;
    struct apport_dec *apport;
    uint8_t *ibuf, *obuf;
    struct dc_status st;
};

enum dc_kind
decompress_sniff(const uint8_t *p, size_t len, bool allow_zlib)
{
    static const uint8_t xz[6] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
    static const char apport[] = "ProblemType: ";

    if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return DC_ZSTD;
    if (len >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)
        return DC_ZSTD; /* a skippable frame first */
    if (len >= 4 && p[0] == 0x04 && p[1] == 0x22 && p[2] == 0x4d && p[3] == 0x18)
        return DC_LZ4;
    if (len >= 6 && memcmp(p, xz, sizeof xz) == 0)
        return DC_XZ;
    if (len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08)
        return DC_GZIP;
    /* "BZh" + block size, then a block magic (pi) or the end-of-stream magic (sqrt pi) */
    if (len >= 10 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9' &&
        ((p[4] == 0x31 && p[5] == 0x41 && p[6] == 0x59 && p[7] == 0x26 && p[8] == 0x53 &&
          p[9] == 0x59) ||
         (p[4] == 0x17 && p[5] == 0x72 && p[6] == 0x45 && p[7] == 0x38 && p[8] == 0x50 &&
          p[9] == 0x90)))
        return DC_BZIP2;
    if (len >= sizeof apport - 1 && memcmp(p, apport, sizeof apport - 1) == 0)
        return DC_APPORT;
    if (allow_zlib && len >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 &&
        ((unsigned)p[0] * 256u + p[1]) % 31u == 0)
        return DC_ZLIB;
    return DC_NONE;
}

const char *
decompress_kind_name(enum dc_kind k)
{
    switch (k) {
    case DC_ZSTD:
        return "zstd";
    case DC_LZ4:
        return "lz4";
    case DC_XZ:
        return "xz";
    case DC_GZIP:
        return "gzip";
    case DC_ZLIB:
        return "zlib";
    case DC_BZIP2:
        return "bzip2";
    case DC_APPORT:
        return "apport";
    case DC_NONE:
        break;
    }
    return NULL;
}

/* --- sources ---------------------------------------------------------------- */

/* The raw file: the sniffed prefix, then the descriptor. */
static dg_err
raw_read(void *ctx, uint8_t *buf, size_t cap, size_t *got, char *why, size_t why_len)
{
    struct dc_pump *p = ctx;
    ssize_t r;

    *got = 0;
    if (p->prefix_pos < p->prefix_len) {
        size_t n = p->prefix_len - p->prefix_pos < cap ? p->prefix_len - p->prefix_pos : cap;

        memcpy(buf, p->prefix + p->prefix_pos, n);
        p->prefix_pos += n;
        *got = n;
        p->st.in_bytes += n;
        return DG_OK;
    }
    do
        r = read(p->src_fd, buf, cap);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        snprintf(why, why_len, "read error: %s", strerror(errno));
        return DG_E_IO;
    }
    *got = (size_t)r;
    p->st.in_bytes += (size_t)r;
    return DG_OK;
}

/* What the codec reads: the raw file, or an apport report's decoded value. */
static dg_err
src_read(struct dc_pump *p, uint8_t *buf, size_t cap, size_t *got)
{
    char *why = p->st.why;
    size_t why_len = sizeof p->st.why;

    if (p->peek_pos < p->peek_len) {
        size_t n = p->peek_len - p->peek_pos < cap ? p->peek_len - p->peek_pos : cap;

        memcpy(buf, p->peek + p->peek_pos, n);
        p->peek_pos += n;
        *got = n;
        return DG_OK;
    }
    if (p->apport != NULL)
        return apport_read(p->apport, buf, cap, got, why, why_len);
    return raw_read(p, buf, cap, got, why, why_len);
}

/* Writes n bytes into the pipe. DG_E_IO when the reader has gone. */
static dg_err
emit(struct dc_pump *p, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(p->wfd, b, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            p->st.reader_gone = errno == EPIPE;
            snprintf(p->st.why, sizeof p->st.why, "the reader stopped: %s", strerror(errno));
            return DG_E_IO;
        }
        b += w;
        n -= (size_t)w;
        p->st.out_bytes += (size_t)w;
    }
    return DG_OK;
}

static dg_err
fail(struct dc_pump *p, dg_err rc, const char *what, const char *detail)
{
    snprintf(p->st.why, sizeof p->st.why, "%s: %s after %llu decompressed bytes", what, detail,
             (unsigned long long)p->st.out_bytes);
    return rc;
}

/* --- codecs: each decodes src_read() to emit() until the end ---------------- */

static dg_err
run_zstd(struct dc_pump *p)
{
    ZSTD_DStream *z = ZSTD_createDStream();
    ZSTD_inBuffer in = {p->ibuf, 0, 0};
    size_t hint = 0;
    bool any = false, full = false;
    dg_err rc = DG_OK;

    if (z == NULL)
        return fail(p, DG_E_NOMEM, "zstd", "out of memory");
    for (;;) {
        if (in.pos == in.size && !full) {
            size_t got;

            if ((rc = src_read(p, p->ibuf, IN_BUF, &got)) != DG_OK)
                break;
            if (got == 0) {
                if (hint != 0 || !any)
                    rc = fail(p, DG_E_TRUNCATED, "zstd", "truncated stream");
                break;
            }
            in = (ZSTD_inBuffer){p->ibuf, got, 0};
            any = true;
        }
        ZSTD_outBuffer out = {p->obuf, OUT_BUF, 0};
        hint = ZSTD_decompressStream(z, &out, &in);
        if (ZSTD_isError(hint)) {
            rc = fail(p, DG_E_FORMAT, "zstd", ZSTD_getErrorName(hint));
            break;
        }
        full = out.pos == out.size; /* more may be waiting inside the decoder */
        if (out.pos > 0 && (rc = emit(p, p->obuf, out.pos)) != DG_OK)
            break;
    }
    ZSTD_freeDStream(z);
    return rc;
}

static dg_err
run_lz4(struct dc_pump *p)
{
    LZ4F_dctx *z = NULL;
    size_t hint = 1, in_len = 0, in_pos = 0;
    bool any = false, full = false;
    dg_err rc = DG_OK;

    if (LZ4F_isError(LZ4F_createDecompressionContext(&z, LZ4F_VERSION)))
        return fail(p, DG_E_NOMEM, "lz4", "cannot create a context");
    for (;;) {
        size_t src_n, dst_n = OUT_BUF;

        if (in_pos == in_len && !full) {
            size_t got;

            if ((rc = src_read(p, p->ibuf, IN_BUF, &got)) != DG_OK)
                break;
            if (got == 0) {
                if (hint != 0 || !any)
                    rc = fail(p, DG_E_TRUNCATED, "lz4", "truncated frame");
                break;
            }
            in_len = got;
            in_pos = 0;
            any = true;
        }
        src_n = in_len - in_pos;
        hint = LZ4F_decompress(z, p->obuf, &dst_n, p->ibuf + in_pos, &src_n, NULL);
        if (LZ4F_isError(hint)) {
            rc = fail(p, DG_E_FORMAT, "lz4", LZ4F_getErrorName(hint));
            break;
        }
        in_pos += src_n;
        full = dst_n == OUT_BUF;
        if (dst_n > 0 && (rc = emit(p, p->obuf, dst_n)) != DG_OK)
            break;
    }
    LZ4F_freeDecompressionContext(z);
    return rc;
}

static const char *
lzma_words(lzma_ret r)
{
    switch (r) {
    case LZMA_MEM_ERROR:
        return "out of memory";
    case LZMA_MEMLIMIT_ERROR:
        return "the stream needs more memory than the limit (512 MiB)";
    case LZMA_FORMAT_ERROR:
        return "not an xz stream";
    case LZMA_OPTIONS_ERROR:
        return "unsupported options";
    case LZMA_DATA_ERROR:
        return "corrupt data";
    case LZMA_BUF_ERROR:
        return "truncated stream";
    default:
        return "decoder error";
    }
}

static dg_err
run_xz(struct dc_pump *p)
{
    lzma_stream z = LZMA_STREAM_INIT;
    lzma_action act = LZMA_RUN;
    lzma_ret r = lzma_stream_decoder(&z, DC_XZ_MEMLIMIT, LZMA_CONCATENATED);
    dg_err rc = DG_OK;

    if (r != LZMA_OK)
        return fail(p, DG_E_NOMEM, "xz", lzma_words(r));
    for (;;) {
        if (z.avail_in == 0 && act == LZMA_RUN) {
            size_t got;

            if ((rc = src_read(p, p->ibuf, IN_BUF, &got)) != DG_OK)
                break;
            z.next_in = p->ibuf;
            z.avail_in = got;
            if (got == 0)
                act = LZMA_FINISH;
        }
        z.next_out = p->obuf;
        z.avail_out = OUT_BUF;
        r = lzma_code(&z, act);
        if (OUT_BUF - z.avail_out > 0 && (rc = emit(p, p->obuf, OUT_BUF - z.avail_out)) != DG_OK)
            break;
        if (r == LZMA_STREAM_END)
            break;
        if (r != LZMA_OK) {
            rc = fail(p, r == LZMA_BUF_ERROR ? DG_E_TRUNCATED : DG_E_FORMAT, "xz", lzma_words(r));
            break;
        }
    }
    lzma_end(&z);
    return rc;
}

/* gzip (members concatenated, as gzip -d reads them) or bare zlib. */
static dg_err
run_zlib(struct dc_pump *p, bool gzip)
{
    const char *what = gzip ? "gzip" : "zlib";
    z_stream z;
    bool eof = false, full = false;
    unsigned members = 0;
    int r;
    dg_err rc = DG_OK;

    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, gzip ? 15 + 16 : 15) != Z_OK)
        return fail(p, DG_E_NOMEM, what, "cannot initialize zlib");
    for (;;) {
        if (z.avail_in == 0 && !eof) {
            size_t got;

            if ((rc = src_read(p, p->ibuf, IN_BUF, &got)) != DG_OK)
                break;
            z.next_in = p->ibuf;
            z.avail_in = (uInt)got;
            eof = got == 0;
        }
        if (z.avail_in == 0 && eof && !full) {
            if (z.total_in > 0 || members == 0)
                rc = fail(p, DG_E_TRUNCATED, what, "truncated stream");
            break;
        }
        z.next_out = p->obuf;
        z.avail_out = OUT_BUF;
        r = inflate(&z, Z_NO_FLUSH);
        full = z.avail_out == 0;
        if (OUT_BUF - z.avail_out > 0 && (rc = emit(p, p->obuf, OUT_BUF - z.avail_out)) != DG_OK)
            break;
        if (r == Z_STREAM_END) {
            members++;
            if (!gzip)
                break;
            inflateReset(&z); /* total_in is 0 again: a next member may follow */
            continue;
        }
        if (r == Z_DATA_ERROR && members > 0 && z.total_in < 4 && z.total_out == 0)
            break; /* bytes after the last member that are no gzip: gzip -d ignores them too */
        if (r != Z_OK && r != Z_BUF_ERROR) {
            rc = fail(p, r == Z_MEM_ERROR ? DG_E_NOMEM : DG_E_FORMAT, what,
                      z.msg != NULL ? z.msg : "corrupt data");
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

static dg_err
run_bzip2(struct dc_pump *p)
{
    bz_stream z;
    bool eof = false, open = false, full = false;
    unsigned streams = 0;
    int r;
    dg_err rc = DG_OK;

    memset(&z, 0, sizeof z);
    for (;;) {
        if (!open) {
            if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK)
                return fail(p, DG_E_NOMEM, "bzip2", "cannot initialize libbz2");
            open = true;
        }
        if (z.avail_in == 0 && !eof) {
            size_t got;

            if ((rc = src_read(p, p->ibuf, IN_BUF, &got)) != DG_OK)
                break;
            z.next_in = (char *)p->ibuf;
            z.avail_in = (unsigned)got;
            eof = got == 0;
        }
        if (z.avail_in == 0 && eof && !full) {
            if (z.total_in_lo32 > 0 || z.total_in_hi32 > 0 || streams == 0)
                rc = fail(p, DG_E_TRUNCATED, "bzip2", "truncated stream");
            break;
        }
        z.next_out = (char *)p->obuf;
        z.avail_out = OUT_BUF;
        r = BZ2_bzDecompress(&z);
        full = z.avail_out == 0;
        if (OUT_BUF - z.avail_out > 0 && (rc = emit(p, p->obuf, OUT_BUF - z.avail_out)) != DG_OK)
            break;
        if (r == BZ_STREAM_END) {
            /* Another stream may follow (pbzip2, cat a.bz2 b.bz2). */
            char *next = z.next_in;
            unsigned left = z.avail_in;

            streams++;
            BZ2_bzDecompressEnd(&z);
            memset(&z, 0, sizeof z);
            open = false;
            z.next_in = next;
            z.avail_in = left;
            continue;
        }
        if (r != BZ_OK) {
            if (streams > 0 && r == BZ_DATA_ERROR_MAGIC)
                break; /* trailing bytes that are no bzip2 stream */
            rc = fail(p, r == BZ_MEM_ERROR ? DG_E_NOMEM : DG_E_FORMAT, "bzip2",
                      r == BZ_DATA_ERROR_MAGIC ? "not a bzip2 stream" : "corrupt data");
            break;
        }
    }
    if (open)
        BZ2_bzDecompressEnd(&z);
    return rc;
}

/* Not compressed (an apport value that is the core itself): copied through. */
static dg_err
run_copy(struct dc_pump *p)
{
    for (;;) {
        size_t got;
        dg_err rc = src_read(p, p->obuf, OUT_BUF, &got);

        if (rc != DG_OK)
            return rc;
        if (got == 0)
            return DG_OK;
        if ((rc = emit(p, p->obuf, got)) != DG_OK)
            return rc;
    }
}

/* An apport report: decode the head of the CoreDump value and sniff it. */
static dg_err
open_apport(struct dc_pump *p)
{
    struct dc_source raw = {raw_read, p};
    dg_err rc = apport_new(&raw, &p->apport);

    if (rc != DG_OK)
        return fail(p, rc, "apport", "out of memory");
    while (p->peek_len < sizeof p->peek) {
        size_t got;

        rc = apport_read(p->apport, p->peek + p->peek_len, sizeof p->peek - p->peek_len, &got,
                         p->st.why, sizeof p->st.why);
        if (rc != DG_OK)
            return rc;
        if (got == 0)
            break;
        p->peek_len += got;
    }
    p->codec = decompress_sniff(p->peek, p->peek_len, true);
    if (p->codec == DC_APPORT)
        p->codec = DC_NONE;
    snprintf(p->st.label, sizeof p->st.label, "apport%s%s", p->codec != DC_NONE ? "+" : "",
             p->codec != DC_NONE ? decompress_kind_name(p->codec) : "");
    return DG_OK;
}

static void *
pump_main(void *arg)
{
    struct dc_pump *p = arg;
    dg_err rc = DG_OK;

    if (p->kind == DC_APPORT)
        rc = open_apport(p);
    if (rc == DG_OK) {
        switch (p->codec) {
        case DC_ZSTD:
            rc = run_zstd(p);
            break;
        case DC_LZ4:
            rc = run_lz4(p);
            break;
        case DC_XZ:
            rc = run_xz(p);
            break;
        case DC_GZIP:
            rc = run_zlib(p, true);
            break;
        case DC_ZLIB:
            rc = run_zlib(p, false);
            break;
        case DC_BZIP2:
            rc = run_bzip2(p);
            break;
        case DC_NONE:
        case DC_APPORT:
            rc = run_copy(p);
            break;
        }
    }
    p->st.rc = rc;
    close(p->wfd); /* EOF for the reader: the status above is final */
    p->wfd = -1;
    return NULL;
}

dg_err
decompress_start(enum dc_kind k, int src_fd, const uint8_t *prefix, size_t prefix_len,
                 const char *name, struct dg_diag *d, struct dc_pump **out, int *out_fd)
{
    struct dc_pump *p;
    sigset_t all, old;
    int fds[2], e;

    *out = NULL;
    *out_fd = -1;
    if (k == DC_NONE || prefix_len > DC_SNIFF_LEN)
        return dg_diag(d, DG_E_ARG, DG_NO_OFFSET, "%s: nothing to decompress", name);
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->ibuf = malloc(IN_BUF)) == NULL || (p->obuf = malloc(OUT_BUF)) == NULL) {
        if (p != NULL)
            free(p->ibuf);
        free(p);
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", name);
    }
    p->kind = k;
    p->codec = k;
    p->src_fd = src_fd;
    if (prefix_len > 0)
        memcpy(p->prefix, prefix, prefix_len);
    p->prefix_len = prefix_len;
    snprintf(p->st.label, sizeof p->st.label, "%s", decompress_kind_name(k));
    if (pipe2(fds, O_CLOEXEC) != 0) {
        e = errno;
        free(p->ibuf);
        free(p->obuf);
        free(p);
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: pipe: %s", name, strerror(e));
    }
    (void)fcntl(fds[1], F_SETPIPE_SZ, (int)PIPE_SIZE); /* fewer wake-ups; best effort */
    p->wfd = fds[1];
    /* The pump takes no signals: a reader that goes away is EPIPE, not SIGPIPE. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&p->thread, NULL, pump_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        close(fds[0]);
        close(fds[1]);
        free(p->ibuf);
        free(p->obuf);
        free(p);
        return dg_diag(d, DG_E_THREAD, DG_NO_OFFSET, "%s: cannot start the decompressor: %s",
                       name, strerror(e));
    }
    *out = p;
    *out_fd = fds[0];
    return DG_OK;
}

void
decompress_stop(struct dc_pump *p, struct dc_status *st)
{
    pthread_join(p->thread, NULL);
    *st = p->st;
    apport_free(p->apport);
    free(p->ibuf);
    free(p->obuf);
    free(p);
}
