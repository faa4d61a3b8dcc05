/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * recompress.c - compresses a file as zstd, lz4 frame, xz, gzip or bzip2
 * with libzstd, liblz4, liblzma, zlib and libbz2 (contract in recompress.h).
 */
#include <bzlib.h>
#include <errno.h>
#include <lz4frame.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "recompress.h"

#define CHUNK (1u << 20)

/* One codec behind one interface: feed input (last: no more follows),
 * collect output. Each returns false with why on an error. */
struct codec {
    enum dc_kind k;
    ZSTD_CCtx *zs;
    LZ4F_cctx *lz;
    lzma_stream xz;
    z_stream gz;
    bz_stream bz;
    bool started;
    bool lz4_begun;              /* the lz4 frame header is written */
};

static bool
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool
codec_start(struct codec *c, enum dc_kind k, char *why, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->k = k;
    switch (k) {
    case DC_ZSTD:
        c->zs = ZSTD_createCCtx();
        c->started = c->zs != NULL;
        break;
    case DC_LZ4:
        c->started = !LZ4F_isError(LZ4F_createCompressionContext(&c->lz, LZ4F_VERSION));
        break;
    case DC_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;

        c->xz = init;
        c->started = lzma_easy_encoder(&c->xz, 6, LZMA_CHECK_CRC64) == LZMA_OK;
        break;
    }
    case DC_GZIP:
        c->started = deflateInit2(&c->gz, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                  Z_DEFAULT_STRATEGY) == Z_OK;
        break;
    case DC_BZIP2:
        c->started = BZ2_bzCompressInit(&c->bz, 9, 0, 0) == BZ_OK;
        break;
    default:
        snprintf(why, cap, "%s output is not written", decompress_kind_name(k) ?: "plain");
        return false;
    }
    if (!c->started)
        snprintf(why, cap, "%s: cannot start the encoder", decompress_kind_name(k));
    return c->started;
}

static void
codec_end(struct codec *c)
{
    if (!c->started)
        return;
    switch (c->k) {
    case DC_ZSTD:
        ZSTD_freeCCtx(c->zs);
        break;
    case DC_LZ4:
        LZ4F_freeCompressionContext(c->lz);
        break;
    case DC_XZ:
        lzma_end(&c->xz);
        break;
    case DC_GZIP:
        deflateEnd(&c->gz);
        break;
    case DC_BZIP2:
        BZ2_bzCompressEnd(&c->bz);
        break;
    default:
        break;
    }
}

/* Compresses in[0..n) (the last piece when last) and writes the output. */
static bool
codec_feed(struct codec *c, const uint8_t *in, size_t n, bool last, uint8_t *out, size_t out_cap,
           int dst, char *why, size_t cap)
{
    switch (c->k) {
    case DC_ZSTD: {
        ZSTD_inBuffer ib = {in, n, 0};
        size_t left;

        do {
            ZSTD_outBuffer ob = {out, out_cap, 0};

            left = ZSTD_compressStream2(c->zs, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left)) {
                snprintf(why, cap, "zstd: %s", ZSTD_getErrorName(left));
                return false;
            }
            if (!write_all(dst, out, ob.pos))
                goto io;
        } while (last ? left != 0 : ib.pos < ib.size);
        return true;
    }
    case DC_LZ4: {
        size_t w;

        if (out_cap < LZ4F_compressBound(CHUNK, NULL) + LZ4F_HEADER_SIZE_MAX)
            goto lz4err;
        if (!c->lz4_begun) {
            w = LZ4F_compressBegin(c->lz, out, out_cap, NULL);
            if (LZ4F_isError(w) || !write_all(dst, out, w))
                goto lz4err;
            c->lz4_begun = true;
        }
        if (n > 0) {
            w = LZ4F_compressUpdate(c->lz, out, out_cap, in, n, NULL);
            if (LZ4F_isError(w) || !write_all(dst, out, w))
                goto lz4err;
        }
        if (last) {
            w = LZ4F_compressEnd(c->lz, out, out_cap, NULL);
            if (LZ4F_isError(w) || !write_all(dst, out, w))
                goto lz4err;
        }
        return true;
    lz4err:
        snprintf(why, cap, "lz4: cannot compress or write");
        return false;
    }
    case DC_XZ: {
        lzma_ret r;

        c->xz.next_in = in;
        c->xz.avail_in = n;
        do {
            c->xz.next_out = out;
            c->xz.avail_out = out_cap;
            r = lzma_code(&c->xz, last ? LZMA_FINISH : LZMA_RUN);
            if (r != LZMA_OK && r != LZMA_STREAM_END) {
                snprintf(why, cap, "xz: encoder error %d", (int)r);
                return false;
            }
            if (!write_all(dst, out, out_cap - c->xz.avail_out))
                goto io;
        } while (last ? r != LZMA_STREAM_END : c->xz.avail_in > 0);
        return true;
    }
    case DC_GZIP: {
        int r;

        c->gz.next_in = (Bytef *)(uintptr_t)in;
        c->gz.avail_in = (uInt)n;
        do {
            c->gz.next_out = out;
            c->gz.avail_out = (uInt)out_cap;
            r = deflate(&c->gz, last ? Z_FINISH : Z_NO_FLUSH);
            if (r == Z_STREAM_ERROR) {
                snprintf(why, cap, "gzip: encoder error");
                return false;
            }
            if (!write_all(dst, out, out_cap - c->gz.avail_out))
                goto io;
        } while (last ? r != Z_STREAM_END : c->gz.avail_in > 0);
        return true;
    }
    case DC_BZIP2: {
        int r;

        c->bz.next_in = (char *)(uintptr_t)in;
        c->bz.avail_in = (unsigned)n;
        do {
            c->bz.next_out = (char *)out;
            c->bz.avail_out = (unsigned)out_cap;
            r = BZ2_bzCompress(&c->bz, last ? BZ_FINISH : BZ_RUN);
            if (r != BZ_RUN_OK && r != BZ_FINISH_OK && r != BZ_STREAM_END) {
                snprintf(why, cap, "bzip2: encoder error %d", r);
                return false;
            }
            if (!write_all(dst, out, out_cap - c->bz.avail_out))
                goto io;
        } while (last ? r != BZ_STREAM_END : c->bz.avail_in > 0);
        return true;
    }
    default:
        return false;
    }
io:
    snprintf(why, cap, "write: %s", strerror(errno));
    return false;
}

dg_err
recompress(enum dc_kind k, int src, uint64_t len, int dst, char *why, size_t cap)
{
    size_t out_cap = LZ4F_compressBound(CHUNK, NULL) + LZ4F_HEADER_SIZE_MAX + 1024;
    uint8_t *in = malloc(CHUNK), *out = malloc(out_cap);
    struct codec c;
    uint64_t at = 0;
    dg_err rc = DG_OK;

    if (k != DC_ZSTD && k != DC_LZ4 && k != DC_XZ && k != DC_GZIP && k != DC_BZIP2) {
        free(in);
        free(out);
        snprintf(why, cap, "%s output is not written", decompress_kind_name(k) ?: "plain");
        return DG_E_ARG;
    }
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        snprintf(why, cap, "out of memory");
        return DG_E_NOMEM;
    }
    if (!codec_start(&c, k, why, cap))
        rc = DG_E_IO;
    while (rc == DG_OK) {
        size_t n = len - at < CHUNK ? (size_t)(len - at) : CHUNK;
        ssize_t r = n > 0 ? pread(src, in, n, (off_t)at) : 0;

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (size_t)r != n) {
            snprintf(why, cap, "read: %s", r < 0 ? strerror(errno) : "file shrank");
            rc = DG_E_IO;
            break;
        }
        at += n;
        if (!codec_feed(&c, in, n, at == len, out, out_cap, dst, why, cap))
            rc = DG_E_IO;
        if (at == len)
            break;
    }
    codec_end(&c);
    free(in);
    free(out);
    return rc;
}
