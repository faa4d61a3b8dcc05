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
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "../util/fdio.h"
#include "../util/iobuf.h"
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
            if (fd_write_all(dst, out, ob.pos) != DG_OK)
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
            if (LZ4F_isError(w) || fd_write_all(dst, out, w) != DG_OK)
                goto lz4err;
            c->lz4_begun = true;
        }
        if (n > 0) {
            w = LZ4F_compressUpdate(c->lz, out, out_cap, in, n, NULL);
            if (LZ4F_isError(w) || fd_write_all(dst, out, w) != DG_OK)
                goto lz4err;
        }
        if (last) {
            w = LZ4F_compressEnd(c->lz, out, out_cap, NULL);
            if (LZ4F_isError(w) || fd_write_all(dst, out, w) != DG_OK)
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
            if (fd_write_all(dst, out, out_cap - c->xz.avail_out) != DG_OK)
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
            if (fd_write_all(dst, out, out_cap - c->gz.avail_out) != DG_OK)
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
            if (fd_write_all(dst, out, out_cap - c->bz.avail_out) != DG_OK)
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
    uint8_t *in = iobuf_alloc(CHUNK), *out = malloc(out_cap);
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

/* --- apport .crash reports ------------------------------------------------ */

#define APPORT_KEY "CoreDump: base64"
#define APPORT_CHUNK (1u << 20) /* core bytes per gzip chunk: one base64 line each */

/* Writes the CoreDump value: len bytes of core as a gzip stream (zlib), cut
 * into pieces, each on its own line as " " + base64 of the piece + "\n"
 * (each line decodes on its own, as apport writes it). */
static bool
apport_value(int core, uint64_t len, int dst, char *why, size_t cap)
{
    uint8_t *in = malloc(APPORT_CHUNK), *out = malloc(APPORT_CHUNK);
    unsigned char *b64 = malloc(4 * (APPORT_CHUNK / 3 + 2) + 4);
    z_stream z;
    uint64_t at = 0;
    bool ok = in != NULL && out != NULL && b64 != NULL, zinit = false;
    int zr = Z_OK;

    memset(&z, 0, sizeof z);
    ok = ok && (zinit = deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                     Z_DEFAULT_STRATEGY) == Z_OK);
    while (ok && zr != Z_STREAM_END) {
        size_t n = len - at < APPORT_CHUNK ? (size_t)(len - at) : APPORT_CHUNK;
        ssize_t r = n > 0 ? pread(core, in, n, (off_t)at) : 0;

        if (r < 0 || (size_t)r != n) {
            snprintf(why, cap, "read: %s", r < 0 ? strerror(errno) : "file shrank");
            ok = false;
            break;
        }
        at += n;
        z.next_in = in;
        z.avail_in = (uInt)n;
        do {
            int m;

            z.next_out = out;
            z.avail_out = APPORT_CHUNK;
            zr = deflate(&z, at == len ? Z_FINISH : Z_NO_FLUSH);
            if (zr == Z_STREAM_ERROR) {
                snprintf(why, cap, "gzip: encoder error");
                ok = false;
                break;
            }
            if (APPORT_CHUNK - z.avail_out == 0)
                continue;
            m = EVP_EncodeBlock(b64 + 1, out, (int)(APPORT_CHUNK - z.avail_out));
            b64[0] = ' ';
            b64[m + 1] = '\n';
            if (fd_write_all(dst, b64, (size_t)m + 2) != DG_OK) {
                snprintf(why, cap, "write: %s", strerror(errno));
                ok = false;
            }
        } while (ok && z.avail_out == 0);
        if (at == len && zr != Z_STREAM_END && ok)
            continue;
    }
    if (zinit)
        deflateEnd(&z);
    free(in);
    free(out);
    free(b64);
    return ok;
}

/* True when p[0..n) is only spaces and carriage returns. */
static bool
blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\r')
            return false;
    return true;
}

dg_err
recompress_apport(int report, int core, uint64_t len, int dst, char *why, size_t cap)
{
    enum { LINE_START, COPY, SKIP_LINE } st = LINE_START;
    const size_t key_len = strlen(APPORT_KEY);
    uint8_t *buf = iobuf_alloc(CHUNK);
    char pend[32];   /* the start of a line, while it may still be the key line */
    size_t np = 0;
    bool done = false, value = false; /* the CoreDump value was written; inside it */
    uint64_t at = 0;
    dg_err rc = DG_OK;

    if (buf == NULL) {
        snprintf(why, cap, "out of memory");
        return DG_E_NOMEM;
    }
    for (;;) {
        ssize_t r = pread(report, buf, CHUNK, (off_t)at);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, cap, "read: %s", strerror(errno));
            rc = DG_E_IO;
            break;
        }
        if (r == 0)
            break;
        at += (uint64_t)r;
        for (size_t i = 0; i < (size_t)r && rc == DG_OK;) {
            uint8_t c = buf[i];

            if (st == SKIP_LINE) { /* a continuation line of the old value */
                const uint8_t *nl = memchr(buf + i, '\n', (size_t)r - i);

                i = nl != NULL ? (size_t)(nl - buf) + 1 : (size_t)r;
                if (nl != NULL)
                    st = LINE_START;
                continue;
            }
            if (st == COPY) {
                const uint8_t *nl = memchr(buf + i, '\n', (size_t)r - i);
                size_t end = nl != NULL ? (size_t)(nl - buf) + 1 : (size_t)r;

                if (fd_write_all(dst, buf + i, end - i) != DG_OK)
                    rc = DG_E_IO;
                i = end;
                if (nl != NULL)
                    st = LINE_START;
                continue;
            }
            /* LINE_START: the old value's lines start with a space */
            if (value && np == 0 && c == ' ') {
                st = SKIP_LINE;
                continue;
            }
            value = false;
            pend[np++] = (char)c;
            i++;
            if (c == '\n' && !done && np - 1 >= key_len && memcmp(pend, APPORT_KEY, key_len) == 0 &&
                blank(pend + key_len, np - 1 - key_len)) {
                /* the key line: ours, then the new value */
                if (fd_write_all(dst, (const uint8_t *)APPORT_KEY "\n", key_len + 1) != DG_OK ||
                    !apport_value(core, len, dst, why, cap))
                    rc = DG_E_IO;
                done = value = true;
                np = 0;
                continue;
            }
            if (c == '\n' || np == sizeof pend ||
                (np <= key_len && memcmp(pend, APPORT_KEY, np) != 0) ||
                (np > key_len && !blank(pend + key_len, np - key_len))) {
                if (fd_write_all(dst, (const uint8_t *)pend, np) != DG_OK)
                    rc = DG_E_IO;
                st = c == '\n' ? LINE_START : COPY;
                np = 0;
            }
        }
        if (rc != DG_OK)
            break;
    }
    if (rc == DG_OK && np > 0 && fd_write_all(dst, (const uint8_t *)pend, np) != DG_OK)
        rc = DG_E_IO;
    if (rc == DG_E_IO && why[0] == '\0')
        snprintf(why, cap, "write: %s", strerror(errno));
    if (rc == DG_OK && !done) {
        snprintf(why, cap, "apport report without a \"%s\" field", APPORT_KEY);
        rc = DG_E_FORMAT;
    }
    free(buf);
    return rc;
}
