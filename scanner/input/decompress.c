/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * decompress.c - the pull decoders (see decompress.h): each compressed input
 * is read through one fixed input buffer and decoded with libzstd, liblz4
 * (frame), liblzma, zlib or libbz2 straight into the buffer the caller hands
 * to decompress_read() (concatenated frames, streams and members are all
 * decoded, as the command-line tools do). Apport reports go through apport.c
 * first and are then sniffed again, on the first read. Each codec is a step
 * function that makes progress (consumes input, produces output, or reaches
 * the end) on every call. Nothing here prints.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "../util/deadline.h"
#include "../util/iobuf.h"
#include "apport.h"
#include "decompress.h"

#define IN_BUF (256u << 10)
/* The longest zstd frame header: magic 4, descriptor 1, window 1, dictionary
 * id 4, content size 8 (ZSTD_FRAMEHEADERSIZE_MAX, an experimental macro). */
#define DC_ZSTD_HEAD_MAX 18u

struct dc_decoder {
    enum dc_kind kind;      /* outer kind (DC_APPORT for a report) */
    enum dc_kind codec;     /* what decodes the bytes; known after the first read */
    bool started;           /* the codec is set up */
    bool done;              /* the stream has ended (its end or an error) */
    int src_fd;
    uint8_t prefix[DC_SNIFF_LEN];
    size_t prefix_len, prefix_pos;
    uint8_t peek[DC_SNIFF_LEN]; /* apport: first decoded bytes, sniffed */
    size_t peek_len, peek_pos;
    struct apport_dec *apport;
    uint8_t *ibuf;          /* compressed bytes ibuf[in_pos..in_len) not yet decoded */
    size_t in_len, in_pos;
    bool src_eof;           /* the source has ended */
    bool any;               /* the source gave at least one byte */
    bool full;              /* the last step filled its output: more may wait inside */
    unsigned ends;          /* frames, streams or members decoded to their end */
    size_t hint;            /* zstd, lz4: 0 at the end of a frame */
    uint8_t zhead[DC_ZSTD_HEAD_MAX]; /* zstd: the current frame's first bytes */
    size_t zhead_len;
    uint64_t frame_out;     /* zstd: bytes decoded from the current frame */
    bool bz_open;
    uint64_t max_out;       /* decompressed bytes allowed (0: no limit) */
    double deadline;        /* no read of the source waits past it (0: none) */
    union {
        ZSTD_DStream *zstd;
        LZ4F_dctx *lz4;
        lzma_stream xz;
        z_stream zlib;
        bz_stream bz;
    } u;
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
    struct dc_decoder *z = ctx;
    ssize_t r;

    *got = 0;
    if (z->prefix_pos < z->prefix_len) {
        size_t n = z->prefix_len - z->prefix_pos < cap ? z->prefix_len - z->prefix_pos : cap;

        memcpy(buf, z->prefix + z->prefix_pos, n);
        z->prefix_pos += n;
        *got = n;
        z->st.in_bytes += n;
        return DG_OK;
    }
    if (!deadline_wait_readable(z->src_fd, z->deadline)) {
        snprintf(why, why_len, "nothing more arrived before the time budget ran out");
        return DG_E_LIMIT;
    }
    do
        r = read(z->src_fd, buf, cap);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        snprintf(why, why_len, "read error: %s", strerror(errno));
        return DG_E_IO;
    }
    *got = (size_t)r;
    z->st.in_bytes += (size_t)r;
    return DG_OK;
}

/* Reads into buf[0..cap) what the codec decodes: an apport value's sniffed
 * first bytes, then the rest of the value; or the raw file. */
static dg_err
source_read(struct dc_decoder *z, uint8_t *buf, size_t cap, size_t *got)
{
    if (z->peek_pos < z->peek_len) {
        size_t n = z->peek_len - z->peek_pos < cap ? z->peek_len - z->peek_pos : cap;

        memcpy(buf, z->peek + z->peek_pos, n);
        z->peek_pos += n;
        *got = n;
        return DG_OK;
    }
    if (z->apport != NULL)
        return apport_read(z->apport, buf, cap, got, z->st.why, sizeof z->st.why);
    return raw_read(z, buf, cap, got, z->st.why, sizeof z->st.why);
}

/* Refills ibuf from the source, once what it held was decoded. Sets src_eof
 * at the end; false (and the stream ends) on a read error. */
static bool
refill(struct dc_decoder *z)
{
    size_t got = 0;
    dg_err rc = z->src_eof ? DG_OK : source_read(z, z->ibuf, IN_BUF, &got);

    if (rc != DG_OK) {
        z->st.rc = rc;
        z->done = true;
        return false;
    }
    z->in_len = got;
    z->in_pos = 0;
    z->src_eof = got == 0;
    z->any = z->any || got > 0;
    return true;
}

/* Makes at least `want` bytes not yet decoded wait in ibuf, or all that the
 * source has left: keeps them and reads behind them (src_eof may then be set
 * while some still wait). False (and the stream ends) on a read error. */
static bool
topup(struct dc_decoder *z, size_t want)
{
    size_t left = z->in_len - z->in_pos;

    if (left >= want || z->src_eof)
        return true;
    memmove(z->ibuf, z->ibuf + z->in_pos, left);
    z->in_len = left;
    z->in_pos = 0;
    while (z->in_len < want) {
        size_t got = 0;
        dg_err rc = source_read(z, z->ibuf + z->in_len, IN_BUF - z->in_len, &got);

        if (rc != DG_OK) {
            z->st.rc = rc;
            z->done = true;
            return false;
        }
        if (got == 0) {
            z->src_eof = true;
            break;
        }
        z->in_len += got;
        z->any = true;
    }
    return true;
}

/* Ends the stream with an error found after the step produced `produced`
 * bytes (still delivered: the message names the offset after them). Returns
 * produced. */
static size_t
fail_after(struct dc_decoder *z, size_t produced, dg_err rc, const char *what, const char *detail)
{
    snprintf(z->st.why, sizeof z->st.why, "%s: %s after %llu decompressed bytes", what, detail,
             (unsigned long long)(z->st.out_bytes + produced));
    z->st.rc = rc;
    z->done = true;
    return produced;
}

/* Ends the stream with an error; returns 0 (bytes produced by the step). */
static size_t
fail(struct dc_decoder *z, dg_err rc, const char *what, const char *detail)
{
    return fail_after(z, 0, rc, what, detail);
}

/* --- codecs: each step decodes into out[0..cap) and returns the count -------- */

static size_t
step_zstd(struct dc_decoder *z, uint8_t *out, size_t cap)
{
    ZSTD_inBuffer in;
    ZSTD_outBuffer o = {out, cap, 0};

    /* A frame starts: libzstd gets its whole header in one call. When the
     * header came in pieces (the 16 sniffed bytes of a stream, a short read),
     * libzstd's single-pass shortcut decodes from the start of the call's
     * input instead of the frame's, and bytes behind the cut that form a
     * frame of their own would decode in place of the real one. */
    if (z->zhead_len == 0 && !topup(z, DC_ZSTD_HEAD_MAX))
        return 0;
    if (z->in_pos == z->in_len && !z->full) {
        if (!refill(z))
            return 0;
        if (z->src_eof) {
            z->done = true;
            return z->hint != 0 || !z->any ? fail(z, DG_E_TRUNCATED, "zstd", "truncated stream")
                                           : 0;
        }
    }
    if (z->zhead_len < sizeof z->zhead) { /* the frame header, for its content size */
        size_t n = sizeof z->zhead - z->zhead_len;

        if (n > z->in_len - z->in_pos)
            n = z->in_len - z->in_pos;
        memcpy(z->zhead + z->zhead_len, z->ibuf + z->in_pos, n);
        z->zhead_len += n;
    }
    in = (ZSTD_inBuffer){z->ibuf, z->in_len, z->in_pos};
    z->hint = ZSTD_decompressStream(z->u.zstd, &o, &in);
    if (ZSTD_isError(z->hint))
        return fail(z, DG_E_FORMAT, "zstd", ZSTD_getErrorName(z->hint));
    z->in_pos = in.pos;
    z->full = o.pos == o.size;
    z->frame_out += o.pos;
    if (z->hint == 0) {
        /* A frame ended. libzstd checks the content size its header declares
         * when it holds the whole frame at once, but not when the frame came
         * in pieces and ends in an empty last block: checked here, so that a
         * file and a stream get the same verdict. (A skippable frame's size
         * reads as 0, what it decodes to.) */
        unsigned long long want = ZSTD_getFrameContentSize(z->zhead, z->zhead_len);

        if (want != ZSTD_CONTENTSIZE_UNKNOWN && want != ZSTD_CONTENTSIZE_ERROR &&
            want != z->frame_out) {
            char why[96];

            snprintf(why, sizeof why, "a frame declares %llu bytes and holds %llu", want,
                     (unsigned long long)z->frame_out);
            return fail_after(z, o.pos, DG_E_FORMAT, "zstd", why);
        }
        z->zhead_len = 0;
        z->frame_out = 0;
    }
    return o.pos;
}

static size_t
step_lz4(struct dc_decoder *z, uint8_t *out, size_t cap)
{
    size_t src_n, dst_n = cap;

    if (z->in_pos == z->in_len && !z->full) {
        if (!refill(z))
            return 0;
        if (z->src_eof) {
            z->done = true;
            return z->hint != 0 || !z->any ? fail(z, DG_E_TRUNCATED, "lz4", "truncated frame")
                                           : 0;
        }
    }
    src_n = z->in_len - z->in_pos;
    z->hint = LZ4F_decompress(z->u.lz4, out, &dst_n, z->ibuf + z->in_pos, &src_n, NULL);
    if (LZ4F_isError(z->hint))
        return fail(z, DG_E_FORMAT, "lz4", LZ4F_getErrorName(z->hint));
    z->in_pos += src_n;
    z->full = dst_n == cap;
    return dst_n;
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

static size_t
step_xz(struct dc_decoder *z, uint8_t *out, size_t cap)
{
    lzma_stream *s = &z->u.xz;
    lzma_ret r;
    size_t n;

    if (s->avail_in == 0 && !z->src_eof) {
        if (!refill(z))
            return 0;
        s->next_in = z->ibuf;
        s->avail_in = z->in_len;
    }
    s->next_out = out;
    s->avail_out = cap;
    r = lzma_code(s, z->src_eof ? LZMA_FINISH : LZMA_RUN);
    n = cap - s->avail_out;
    if (r == LZMA_STREAM_END) {
        z->done = true;
    } else if (r != LZMA_OK) {
        (void)fail_after(z, n, r == LZMA_BUF_ERROR ? DG_E_TRUNCATED : DG_E_FORMAT, "xz",
                         lzma_words(r));
    }
    return n;
}

/* gzip (members concatenated, as gzip -d reads them) or bare zlib. */
static size_t
step_zlib(struct dc_decoder *z, uint8_t *out, size_t cap)
{
    const bool gzip = z->codec == DC_GZIP;
    const char *what = gzip ? "gzip" : "zlib";
    z_stream *s = &z->u.zlib;
    size_t n;
    int r;

    if (s->avail_in == 0 && !z->src_eof) {
        if (!refill(z))
            return 0;
        s->next_in = z->ibuf;
        s->avail_in = (uInt)z->in_len;
    }
    if (s->avail_in == 0 && z->src_eof && !z->full) {
        z->done = true;
        return s->total_in > 0 || z->ends == 0 ? fail(z, DG_E_TRUNCATED, what, "truncated stream")
                                               : 0;
    }
    if (cap > UINT_MAX)
        cap = UINT_MAX;
    s->next_out = out;
    s->avail_out = (uInt)cap;
    r = inflate(s, Z_NO_FLUSH);
    z->full = s->avail_out == 0;
    n = cap - s->avail_out;
    if (r == Z_STREAM_END) {
        z->ends++;
        if (gzip)
            inflateReset(s); /* total_in is 0 again: a next member may follow */
        else
            z->done = true;
    } else if (r == Z_DATA_ERROR && z->ends > 0 && s->total_in < 4 && s->total_out == 0) {
        z->done = true; /* bytes after the last member that are no gzip: gzip -d ignores them */
    } else if (r != Z_OK && r != Z_BUF_ERROR) {
        (void)fail_after(z, n, r == Z_MEM_ERROR ? DG_E_NOMEM : DG_E_FORMAT, what,
                         s->msg != NULL ? s->msg : "corrupt data");
    }
    return n;
}

static size_t
step_bzip2(struct dc_decoder *z, uint8_t *out, size_t cap)
{
    bz_stream *s = &z->u.bz;
    size_t n;
    int r;

    if (!z->bz_open) {
        /* A next stream (pbzip2, cat a.bz2 b.bz2) keeps the input left over. */
        char *next = s->next_in;
        unsigned left = s->avail_in;

        memset(s, 0, sizeof *s);
        if (BZ2_bzDecompressInit(s, 0, 0) != BZ_OK)
            return fail(z, DG_E_NOMEM, "bzip2", "cannot initialize libbz2");
        z->bz_open = true;
        s->next_in = next;
        s->avail_in = left;
    }
    if (s->avail_in == 0 && !z->src_eof) {
        if (!refill(z))
            return 0;
        s->next_in = (char *)z->ibuf;
        s->avail_in = (unsigned)z->in_len;
    }
    if (s->avail_in == 0 && z->src_eof && !z->full) {
        z->done = true;
        return s->total_in_lo32 > 0 || s->total_in_hi32 > 0 || z->ends == 0
                   ? fail(z, DG_E_TRUNCATED, "bzip2", "truncated stream")
                   : 0;
    }
    if (cap > UINT_MAX)
        cap = UINT_MAX;
    s->next_out = (char *)out;
    s->avail_out = (unsigned)cap;
    r = BZ2_bzDecompress(s);
    z->full = s->avail_out == 0;
    n = cap - s->avail_out;
    if (r == BZ_STREAM_END) {
        z->ends++;
        BZ2_bzDecompressEnd(s);
        z->bz_open = false;
    } else if (r != BZ_OK) {
        if (z->ends > 0 && r == BZ_DATA_ERROR_MAGIC)
            z->done = true; /* trailing bytes that are no bzip2 stream */
        else
            (void)fail_after(z, n, r == BZ_MEM_ERROR ? DG_E_NOMEM : DG_E_FORMAT, "bzip2",
                             r == BZ_DATA_ERROR_MAGIC ? "not a bzip2 stream" : "corrupt data");
    }
    return n;
}

/* Not compressed (an apport value that is the core itself): copied through. */
static size_t
step_copy(struct dc_decoder *z, uint8_t *out, size_t cap)
{
    size_t n;

    if (z->in_pos == z->in_len) {
        if (!refill(z))
            return 0;
        if (z->src_eof) {
            z->done = true;
            return 0;
        }
    }
    n = z->in_len - z->in_pos < cap ? z->in_len - z->in_pos : cap;
    memcpy(out, z->ibuf + z->in_pos, n);
    z->in_pos += n;
    return n;
}

/* An apport report: decode the head of the CoreDump value and sniff it. */
static bool
open_apport(struct dc_decoder *z)
{
    struct dc_source raw = {raw_read, z};
    dg_err rc = apport_new(&raw, &z->apport);

    if (rc != DG_OK) {
        (void)fail(z, rc, "apport", "out of memory");
        return false;
    }
    while (z->peek_len < sizeof z->peek) {
        size_t got;

        rc = apport_read(z->apport, z->peek + z->peek_len, sizeof z->peek - z->peek_len, &got,
                         z->st.why, sizeof z->st.why);
        if (rc != DG_OK) {
            z->st.rc = rc;
            z->done = true;
            return false;
        }
        if (got == 0)
            break;
        z->peek_len += got;
    }
    z->codec = decompress_sniff(z->peek, z->peek_len, true);
    if (z->codec == DC_APPORT)
        z->codec = DC_NONE;
    snprintf(z->st.label, sizeof z->st.label, "apport%s%s", z->codec != DC_NONE ? "+" : "",
             z->codec != DC_NONE ? decompress_kind_name(z->codec) : "");
    return true;
}

/* Sets up the codec on the first read (an apport report's is known only
 * then). False when it cannot be, with the stream ended. */
static bool
start(struct dc_decoder *z)
{
    const char *why = NULL;

    z->started = true;
    if (z->kind == DC_APPORT && !open_apport(z))
        return false;
    switch (z->codec) {
    case DC_ZSTD:
        if ((z->u.zstd = ZSTD_createDStream()) == NULL)
            why = "out of memory";
        break;
    case DC_LZ4:
        if (LZ4F_isError(LZ4F_createDecompressionContext(&z->u.lz4, LZ4F_VERSION)))
            why = "cannot create a context";
        break;
    case DC_XZ: {
        lzma_ret r;

        z->u.xz = (lzma_stream)LZMA_STREAM_INIT;
        r = lzma_stream_decoder(&z->u.xz, DC_XZ_MEMLIMIT, LZMA_CONCATENATED);
        if (r != LZMA_OK)
            why = lzma_words(r);
        break;
    }
    case DC_GZIP:
    case DC_ZLIB:
        memset(&z->u.zlib, 0, sizeof z->u.zlib);
        if (inflateInit2(&z->u.zlib, z->codec == DC_GZIP ? 15 + 16 : 15) != Z_OK) {
            memset(&z->u.zlib, 0, sizeof z->u.zlib);
            why = "cannot initialize zlib";
        }
        break;
    case DC_BZIP2:
        memset(&z->u.bz, 0, sizeof z->u.bz); /* step_bzip2 opens each stream */
        break;
    case DC_NONE:
    case DC_APPORT:
        break;
    }
    if (why != NULL) {
        (void)fail(z, DG_E_NOMEM, decompress_kind_name(z->codec), why);
        return false;
    }
    return true;
}

size_t
decompress_read(struct dc_decoder *z, uint8_t *buf, size_t cap)
{
    size_t got = 0;

    if (!z->started && !start(z))
        return 0;
    while (got < cap && !z->done) {
        uint8_t *out = buf + got;
        size_t room = cap - got, n = 0;

        if (z->max_out > 0) {
            if (z->st.out_bytes >= z->max_out) {
                snprintf(z->st.why, sizeof z->st.why,
                         "stopped after %llu decompressed bytes (the max_decompressed limit); "
                         "the rest was not decoded", (unsigned long long)z->max_out);
                z->st.rc = DG_E_LIMIT;
                z->done = true;
                break;
            }
            if (room > z->max_out - z->st.out_bytes)
                room = (size_t)(z->max_out - z->st.out_bytes);
        }

        switch (z->codec) {
        case DC_ZSTD:
            n = step_zstd(z, out, room);
            break;
        case DC_LZ4:
            n = step_lz4(z, out, room);
            break;
        case DC_XZ:
            n = step_xz(z, out, room);
            break;
        case DC_GZIP:
        case DC_ZLIB:
            n = step_zlib(z, out, room);
            break;
        case DC_BZIP2:
            n = step_bzip2(z, out, room);
            break;
        case DC_NONE:
        case DC_APPORT:
            n = step_copy(z, out, room);
            break;
        }
        got += n;
        z->st.out_bytes += n; /* counted as it comes: fail() names the offset */
    }
    return got;
}

void
decompress_limit(struct dc_decoder *z, uint64_t max_out, double deadline)
{
    z->max_out = max_out;
    z->deadline = deadline;
}

dg_err
decompress_open(enum dc_kind k, int src_fd, const uint8_t *prefix, size_t prefix_len,
                const char *name, struct dg_diag *d, struct dc_decoder **out)
{
    struct dc_decoder *z;

    *out = NULL;
    if (k == DC_NONE || prefix_len > DC_SNIFF_LEN)
        return dg_diag(d, DG_E_ARG, DG_NO_OFFSET, "%s: nothing to decompress", name);
    z = calloc(1, sizeof *z);
    if (z == NULL || (z->ibuf = iobuf_alloc(IN_BUF)) == NULL) {
        free(z);
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", name);
    }
    z->kind = k;
    z->codec = k;
    z->src_fd = src_fd;
    if (prefix_len > 0)
        memcpy(z->prefix, prefix, prefix_len);
    z->prefix_len = prefix_len;
    snprintf(z->st.label, sizeof z->st.label, "%s", decompress_kind_name(k));
    *out = z;
    return DG_OK;
}

void
decompress_close(struct dc_decoder *z, struct dc_status *st)
{
    *st = z->st;
    if (z->started) {
        switch (z->codec) {
        case DC_ZSTD:
            ZSTD_freeDStream(z->u.zstd);
            break;
        case DC_LZ4:
            LZ4F_freeDecompressionContext(z->u.lz4);
            break;
        case DC_XZ:
            lzma_end(&z->u.xz);
            break;
        case DC_GZIP:
        case DC_ZLIB:
            if (z->u.zlib.state != NULL)
                inflateEnd(&z->u.zlib);
            break;
        case DC_BZIP2:
            if (z->bz_open)
                BZ2_bzDecompressEnd(&z->u.bz);
            break;
        case DC_NONE:
        case DC_APPORT:
            break;
        }
    }
    apport_free(z->apport);
    free(z->ibuf);
    free(z);
}
