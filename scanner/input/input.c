/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * input.c - opens dumps and gives container readers bounded random access to
 * their bytes (see input.h). Regular files are read with pread; streams
 * (stdin, pipes, FIFOs) keep a growing head of at most INPUT_HEAD_MAX bytes
 * for the container reader, and the engine pulls the rest sequentially.
 * Compressed inputs are sniffed here and pulled through a decompress.c
 * decoder. Limits (input_limits): a deadline after which no read of a
 * stream waits (the stream ends there), and a cap on decompressed bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/deadline.h"
#include "../util/fdio.h"
#include "../util/words.h"
#include "decompress.h"
#include "input.h"

#define SPILL_BLOCK (64u << 10) /* a block of zeros is a hole in the spill file */
#define SPILL_PREALLOC_MIN (256u << 10) /* shorter runs are written unallocated */
/* Bytes per write: larger writes make the page cache take larger folios,
 * which on this project's benchmark machine (a virtual machine) were
 * sometimes much slower to fill, the memory behind them new to the host. */
#define SPILL_WRITE (256u << 10)

/* A range of the stream asked for by input_keep_range(). */
struct kept {
    uint64_t off;
    size_t len;        /* bytes asked for (buf's size) */
    size_t got;        /* of them, bytes that went by: buf[0..got) */
    uint8_t *buf;
};

struct input_head {
    uint8_t *buf;
    size_t len;   /* bytes read into buf */
    size_t cap;
    bool eof;
    double deadline;   /* no read waits past it (0: none) */
    bool timed_out;    /* a read ended at the deadline */
    uint64_t pos;      /* stream offset of the next byte input_pull() delivers */
    struct kept kept[INPUT_KEPT_RANGES];
    size_t n_kept, kept_bytes;
    /* input_spill(): the stream's bytes [0, spilled) are in spill_fd */
    int spill_fd;                  /* -1: none */
    uint64_t spill_max;
    _Atomic uint64_t spilled;      /* written by the reader, read by any thread */
    int spill_errno;               /* why spilling stopped, 0 if it did not */
    bool spill_no_prealloc;        /* its file system cannot fallocate() */
};

static struct input_head *
head_new(void)
{
    struct input_head *h = calloc(1, sizeof *h);

    if (h != NULL)
        h->spill_fd = -1;
    return h;
}

/* Reads up to len bytes from a stream (fewer only at its end, or when the
 * deadline passes: then *late is set and the bytes read so far count). */
static ssize_t
read_full(int fd, uint8_t *buf, size_t len, double deadline, bool *late)
{
    size_t got = 0;

    while (got < len) {
        ssize_t r;

        if (!deadline_wait_readable(fd, deadline)) {
            *late = true;
            break;
        }
        r = read(fd, buf + got, len - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Turns out (whose fd reads the compressed bytes, after prefix[0..n) already
 * consumed) into a stream of the decompressed bytes. */
static dg_err
open_compressed(struct dg_input *out, enum dc_kind k, const uint8_t *prefix, size_t n,
                const struct input_limits *lim, struct dg_diag *d)
{
    dg_err rc;

    if (out->head == NULL && (out->head = head_new()) == NULL)
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", out->name);
    rc = decompress_open(k, out->fd, prefix, n, out->name, d, &out->decoder);
    if (rc != DG_OK)
        return rc;
    decompress_limit(out->decoder, lim->max_decompressed, lim->deadline);
    out->stream = true;
    out->size = 0;
    snprintf(out->compression, sizeof out->compression, "%s", decompress_kind_name(k));
    return DG_OK;
}

/* A stream that is not compressed: the sniffed bytes start its head. */
static dg_err
keep_sniffed(struct dg_input *out, const uint8_t *p, size_t n, struct dg_diag *d)
{
    if (out->head == NULL || (out->head->buf = malloc(65536)) == NULL)
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", out->name);
    out->head->cap = 65536;
    memcpy(out->head->buf, p, n);
    out->head->len = n;
    out->head->pos = n;
    out->head->eof = n < DC_SNIFF_LEN && !out->head->timed_out;
    return DG_OK;
}

/* The descriptor N of a path /proc/self/fd/N or /dev/fd/N, or -1. */
static int
fd_of_path(const char *path)
{
    static const char *const prefixes[] = {"/proc/self/fd/", "/dev/fd/"};

    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t k = strlen(prefixes[i]);
        char *end;
        long v;

        if (strncmp(path, prefixes[i], k) != 0 || path[k] < '0' || path[k] > '9')
            continue;
        errno = 0;
        v = strtol(path + k, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 0 && v <= 1 << 20)
            return (int)v;
    }
    return -1;
}

static dg_err open_descriptor(const char *path, int fd, const struct input_limits *lim,
                              struct dg_diag *d, struct dg_input *out);

dg_err
input_open(const char *path, struct dg_diag *d, struct dg_input *out)
{
    return input_open_limited(path, NULL, d, out);
}

dg_err
input_open_limited(const char *path, const struct input_limits *lim, struct dg_diag *d,
                   struct dg_input *out)
{
    int fd, given;

    memset(out, 0, sizeof *out);
    out->name = path;
    out->fd = -1;
    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
    } else if ((given = fd_of_path(path)) >= 0) {
        /* the descriptor itself: its file may be one this process cannot
         * open by name (the handler's dump, for a scan without privileges) */
        fd = fcntl(given, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return dg_diag(d, errno == EBADF ? DG_E_NOT_FILE : DG_E_IO, DG_NO_OFFSET,
                           "%s: cannot open: %s", path, strerror(errno));
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return dg_diag(d, errno == ENOENT ? DG_E_NOT_FILE : DG_E_IO, DG_NO_OFFSET,
                           "%s: cannot open: %s", path, strerror(errno));
    }
    return open_descriptor(path, fd, lim, d, out);
}

dg_err
input_open_fd(const char *name, int fd, const struct input_limits *lim, struct dg_diag *d,
              struct dg_input *out)
{
    int own;

    memset(out, 0, sizeof *out);
    out->name = name;
    out->fd = -1;
    if ((own = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: cannot open: %s", name, strerror(errno));
    return open_descriptor(name, own, lim, d, out);
}

/* The rest of input_open_limited() once fd (owned; STDIN_FILENO is never
 * closed) is open: a file, or a stream whose first bytes are sniffed. */
static dg_err
open_descriptor(const char *path, int fd, const struct input_limits *lim, struct dg_diag *d,
                struct dg_input *out)
{
    static const struct input_limits none = {0};
    struct stat st;
    uint8_t magic[DC_SNIFF_LEN];
    enum dc_kind kind;
    ssize_t n;
    dg_err rc;
    bool late = false;

    if (lim == NULL)
        lim = &none;
    if (fstat(fd, &st) != 0) {
        int e = errno;

        if (fd != STDIN_FILENO)
            close(fd);
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        if (fd != STDIN_FILENO)
            close(fd);
        return dg_diag(d, DG_E_NOT_FILE, DG_NO_OFFSET, "%s: is a directory", path);
    }
    /* Opened non-blocking so that a FIFO without a writer cannot hang open(). */
    if (fd != STDIN_FILENO)
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    out->fd = fd;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        out->size = (uint64_t)st.st_size;
        if (S_ISBLK(st.st_mode)) {
            off_t end = lseek(fd, 0, SEEK_END);

            out->size = end > 0 ? (uint64_t)end : 0;
        }
        if (out->size == 0) {
            input_close(out);
            return dg_diag(d, DG_E_EMPTY, 0, "%s: empty file", path);
        }
        if (!S_ISREG(st.st_mode))
            return DG_OK;
        do
            n = pread(fd, magic, sizeof magic, 0);
        while (n < 0 && errno == EINTR);
        kind = n > 0 ? decompress_sniff(magic, (size_t)n, false) : DC_NONE;
        if (kind == DC_NONE)
            return DG_OK;
        /* the decoder reads from offset 0 (a descriptor handed over may be
         * elsewhere) */
        if (lseek(fd, 0, SEEK_SET) != 0) {
            int e = errno;

            input_close(out);
            return dg_diag(d, DG_E_IO, 0, "%s: cannot read: %s", path, strerror(e));
        }
        rc = open_compressed(out, kind, NULL, 0, lim, d);
        if (rc != DG_OK)
            input_close(out);
        return rc;
    }
    out->stream = true;
    if ((out->head = head_new()) == NULL) {
        input_close(out);
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", path);
    }
    out->head->deadline = lim->deadline;
    n = read_full(fd, magic, sizeof magic, lim->deadline, &late);
    if (n < 0) {
        int e = errno;

        input_close(out);
        return dg_diag(d, DG_E_IO, 0, "%s: cannot read: %s", path, strerror(e));
    }
    if (late && n == 0) {
        input_close(out);
        return dg_diag(d, DG_E_LIMIT, 0, "%s: nothing arrived before the time budget ran out",
                       path);
    }
    out->head->timed_out = late;
    kind = late ? DC_NONE : decompress_sniff(magic, (size_t)n, false);
    if (kind != DC_NONE)
        rc = open_compressed(out, kind, magic, (size_t)n, lim, d);
    else
        rc = keep_sniffed(out, magic, (size_t)n, d);
    if (rc != DG_OK)
        input_close(out);
    return rc;
}

void
input_open_memory(const char *name, const uint8_t *p, size_t len, struct dg_input *out)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    out->fd = -1;
    out->mem = p;
    out->size = len;
}

dg_err
input_finish(struct dg_input *in, struct dg_diag *d)
{
    struct dc_status st;
    size_t len;
    bool dup;

    if (in->decoder == NULL)
        return DG_OK;
    decompress_close(in->decoder, &st);
    in->decoder = NULL;
    snprintf(in->compression, sizeof in->compression, "%s", st.label);
    in->compressed_bytes = st.in_bytes;
    dg_diag_at(d, DG_DIAG_INFO, DG_OK, DG_NO_OFFSET,
               "%s: %s-compressed: %llu bytes decompressed to %llu; offsets refer to the "
               "decompressed dump",
               in->name, in->compression, (unsigned long long)st.in_bytes,
               (unsigned long long)st.out_bytes);
    if (st.rc == DG_OK)
        return DG_OK;
    /* The reason starts with the codec that failed ("zstd: ..."); the label
     * is said too only when it adds to that ("apport+gzip: gzip: ..."). */
    len = strlen(in->compression);
    dup = strncmp(st.why, in->compression, len) == 0 && st.why[len] == ':';
    return dg_diag_at(d, st.out_bytes > 0 ? DG_DIAG_WARNING : DG_DIAG_ERROR, st.rc,
                      st.out_bytes > 0 ? st.out_bytes : DG_NO_OFFSET, "%s: %s%s%s%s", in->name,
                      dup ? "" : in->compression, dup ? "" : ": ", st.why,
                      st.out_bytes > 0 ? "; scanned the bytes before it" : "");
}

void
input_close(struct dg_input *in)
{
    if (in->decoder != NULL) {
        struct dc_status st;

        decompress_close(in->decoder, &st);
        in->decoder = NULL;
    }
    if (in->fd >= 0 && in->fd != STDIN_FILENO)
        close(in->fd);
    in->fd = -1;
    if (in->head != NULL) {
        free(in->head->buf);
        for (size_t i = 0; i < in->head->n_kept; i++)
            free(in->head->kept[i].buf);
        free(in->head); /* the spill file is the caller's */
        in->head = NULL;
    }
}

static void spill(struct input_head *h, uint64_t at, const uint8_t *p, size_t n);

/* Copies what of the kept ranges of h lies in p[0..n), the bytes at stream
 * offset at. */
static void
keep_from(struct input_head *h, uint64_t at, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < h->n_kept; i++) {
        struct kept *k = &h->kept[i];
        uint64_t lo = at > k->off ? at : k->off;
        uint64_t hi = at + n < k->off + k->len ? at + n : k->off + k->len;

        if (lo < hi) {
            memcpy(k->buf + (lo - k->off), p + (lo - at), (size_t)(hi - lo));
            if (lo - k->off + (hi - lo) > k->got)
                k->got = (size_t)(lo - k->off + (hi - lo));
        }
    }
}

/* input_pull(), and input_pull_unspilled() when to_spill is false. */
static dg_err
pull(const struct dg_input *in, uint8_t *buf, size_t len, size_t *got, bool to_spill)
{
    ssize_t r = 0;

    if (in->decoder != NULL) {
        *got = decompress_read(in->decoder, buf, len);
    } else if (in->head != NULL && in->head->timed_out) {
        *got = 0; /* the stream was cut at its deadline */
    } else {
        r = read_full(in->fd, buf, len, in->head != NULL ? in->head->deadline : 0,
                      in->head != NULL ? &in->head->timed_out : &(bool){false});
        *got = r > 0 ? (size_t)r : 0;
    }
    if (in->head != NULL) {
        if (in->head->n_kept > 0)
            keep_from(in->head, in->head->pos, buf, *got);
        if (to_spill && in->head->spill_fd >= 0)
            spill(in->head, in->head->pos, buf, *got);
        in->head->pos += *got;
    }
    return r < 0 ? DG_E_IO : DG_OK;
}

dg_err
input_pull(const struct dg_input *in, uint8_t *buf, size_t len, size_t *got)
{
    return pull(in, buf, len, got, true);
}

dg_err
input_pull_unspilled(const struct dg_input *in, uint8_t *buf, size_t len, size_t *got)
{
    return pull(in, buf, len, got, false);
}

void
input_spill_add(const struct dg_input *in, uint64_t at, const uint8_t *p, size_t n)
{
    if (in->stream && in->head != NULL && in->head->spill_fd >= 0)
        spill(in->head, at, p, n);
}

/* Allocates the spill's blocks for [off, off + len) before a write there
 * when the run is long enough to pay: ext4 then maps each page it writes
 * to an extent that exists instead of reserving a delayed block for it:
 * 1.4 GB took the kernel 0.23-0.43 s to write so, in SPILL_WRITE pieces,
 * against 0.39-0.50 s in 64 KiB writes unallocated (ext4, kernel 6.18;
 * docs/PERFORMANCE.md, twenty-eighth session).
 * Holes stay holes: only bytes about to be written are allocated.
 * A file system that cannot (EOPNOTSUPP) is not asked again; any other
 * failure is the write's to report. */
static void
spill_prealloc(struct input_head *h, uint64_t off, size_t len)
{
    if (h->spill_no_prealloc || len < SPILL_PREALLOC_MIN)
        return;
    if (fallocate(h->spill_fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0 &&
        (errno == EOPNOTSUPP || errno == ENOSYS))
        h->spill_no_prealloc = true;
}

/* Appends p[0..n), the bytes at stream offset at, to h's spill file, or
 * stops spilling (the file is kept for what it holds) when they do not
 * follow what it holds, when spill_max is reached, or on a write error.
 * Blocks of zeros are left as holes (a fifth of a real JVM core); the
 * blocks between them are allocated at once (spill_prealloc()) and
 * written SPILL_WRITE bytes a call. The file is extended over a trailing
 * hole, so that every spilled byte reads back. */
static void
spill(struct input_head *h, uint64_t at, const uint8_t *p, size_t n)
{
    uint64_t have = atomic_load_explicit(&h->spilled, memory_order_relaxed);
    uint64_t written = have; /* the file's size: at least have, from the calls before */
    size_t done = 0;

    if (h->spill_errno != 0 || n == 0)
        return;
    if (at != have || n > h->spill_max - have) {
        h->spill_errno = at != have ? EINVAL : EFBIG;
        return;
    }
    while (done < n) {
        size_t run = 0; /* nonzero blocks from done on */

        while (done + run < n) {
            size_t len = SPILL_BLOCK < n - done - run ? SPILL_BLOCK : n - done - run;

            if (all_zero(p + done + run, len))
                break;
            run += len;
        }
        if (run > 0)
            spill_prealloc(h, have + done, run);
        for (size_t end = done + run; done < end;) {
            size_t len = SPILL_WRITE < end - done ? SPILL_WRITE : end - done;

            errno = 0;
            if (fd_pwrite_all(h->spill_fd, p + done, len, have + done) != DG_OK) {
                h->spill_errno = errno != 0 ? errno : ENOSPC;
                break;
            }
            done += len;
            written = have + done;
        }
        if (h->spill_errno != 0)
            break;
        if (done < n)
            done += SPILL_BLOCK < n - done ? SPILL_BLOCK : n - done; /* a hole */
    }
    if (written < have + done && ftruncate(h->spill_fd, (off_t)(have + done)) != 0) {
        if (h->spill_errno == 0)
            h->spill_errno = errno;
        done = (size_t)(written - have);
    }
    atomic_store_explicit(&h->spilled, have + done, memory_order_release);
}

dg_err
input_spill(const struct dg_input *in, int fd, uint64_t max)
{
    struct input_head *h = in->head;
    struct stat st;

    if (!in->stream || h == NULL || h->spill_fd >= 0)
        return DG_E_UNSUPPORTED;
    /* Emptied only when it holds something: on ext4 a truncation to size 0
     * marks the file for a flush of its delayed blocks when it is closed
     * (auto_da_alloc), and a spill truncated on its way in was written to
     * disk whole at exit (0.4 s for a 1.4 GB core). scan.c empties it after
     * each stream. */
    if (fstat(fd, &st) != 0 || (st.st_size != 0 && ftruncate(fd, 0) != 0))
        return DG_E_IO;
    h->spill_fd = fd;
    h->spill_max = max;
    atomic_store(&h->spilled, 0);
    /* what the head holds went by before: the stream's first bytes */
    spill(h, 0, h->buf, h->len);
    return h->spill_errno == 0 ? DG_OK : DG_E_IO;
}

void
input_spill_done(const struct dg_input *in)
{
    struct input_head *h = in->head;

    if (!in->stream || h == NULL || h->spill_fd < 0)
        return;
    atomic_store(&h->spilled, 0);
    if (ftruncate(h->spill_fd, 0) != 0 && h->spill_errno == 0)
        h->spill_errno = errno;
}

bool
input_reads_back(const struct dg_input *in)
{
    const struct input_head *h = in->head;

    if (!in->stream)
        return true;
    return h != NULL && h->spill_fd >= 0 && h->spill_errno == 0 &&
           atomic_load_explicit(&h->spilled, memory_order_acquire) == h->pos;
}

uint64_t
input_spilled(const struct dg_input *in, int *why)
{
    const struct input_head *h = in->head;

    if (h == NULL || h->spill_fd < 0) {
        if (why != NULL)
            *why = 0;
        return 0;
    }
    if (why != NULL)
        *why = h->spill_errno; /* the reader's: only once it has stopped */
    return atomic_load_explicit(&h->spilled, memory_order_acquire);
}

dg_err
input_keep_range(const struct dg_input *in, uint64_t off, size_t len)
{
    struct input_head *h = in->head;
    struct kept *k;

    if (!in->stream || h == NULL)
        return DG_E_UNSUPPORTED;
    if (len == 0 || off + len < off)
        return DG_E_ARG;
    if (h->n_kept == INPUT_KEPT_RANGES || len > INPUT_KEPT_MAX - h->kept_bytes)
        return DG_E_LIMIT;
    k = &h->kept[h->n_kept];
    if ((k->buf = malloc(len)) == NULL)
        return DG_E_NOMEM;
    k->off = off;
    k->len = len;
    k->got = 0;
    h->n_kept++;
    h->kept_bytes += len;
    /* what went by already is in the head (all of the stream before pos) */
    if (off < h->len)
        keep_from(h, 0, h->buf, h->len);
    return DG_OK;
}

bool
input_kept(const struct dg_input *in, size_t i, uint64_t *off, const uint8_t **p, size_t *len)
{
    const struct input_head *h = in->head;

    if (h == NULL || i >= h->n_kept)
        return false;
    *off = h->kept[i].off;
    *p = h->kept[i].buf;
    *len = h->kept[i].got;
    return true;
}

bool
input_timed_out(const struct dg_input *in)
{
    return in->head != NULL && in->head->timed_out;
}

dg_err
input_head(const struct dg_input *in, size_t want, const uint8_t **p, size_t *len)
{
    struct input_head *h = in->head;

    if (!in->stream || h == NULL)
        return DG_E_UNSUPPORTED;
    if (want > INPUT_HEAD_MAX)
        want = INPUT_HEAD_MAX;
    if (want > h->cap) {
        size_t cap = h->cap ? h->cap : 65536;
        uint8_t *nb;

        while (cap < want)
            cap *= 2;
        if (cap > INPUT_HEAD_MAX)
            cap = INPUT_HEAD_MAX;
        nb = realloc(h->buf, cap);
        if (nb == NULL)
            return DG_E_NOMEM;
        h->buf = nb;
        h->cap = cap;
    }
    /* The head grows only while nothing was pulled past it: the stream's
     * next bytes then follow it (later, input_read_at() answers from the
     * spill, or not at all). */
    if (h->len < want && !h->eof && h->pos == h->len) {
        size_t got;
        dg_err rc = input_pull(in, h->buf + h->len, want - h->len, &got);

        if (rc != DG_OK)
            return rc;
        h->len += got;
        h->eof = h->len < want;
    }
    *p = h->buf;
    *len = h->len;
    return DG_OK;
}

bool
input_head_eof(const struct dg_input *in)
{
    return in->head != NULL && in->head->eof;
}

uint64_t
input_known_size(const struct dg_input *in)
{
    if (in->stream)
        return in->head != NULL ? in->head->len : 0;
    return in->size;
}

dg_err
input_read_at(const struct dg_input *in, uint64_t off, void *buf, size_t len, size_t *got)
{
    *got = 0;
    if (in->mem != NULL) {
        if (off < in->size) {
            size_t n = (size_t)((in->size - off) < len ? (in->size - off) : len);

            memcpy(buf, in->mem + off, n);
            *got = n;
        }
        return DG_OK;
    }
    if (in->stream) {
        const uint8_t *p;
        size_t have;
        dg_err rc;
        uint64_t spilled = in->head != NULL && in->head->spill_fd >= 0
                               ? atomic_load_explicit(&in->head->spilled, memory_order_acquire)
                               : 0;

        /* past the head, from the spill file (the head answers the container
         * reader, which reads before the engine pulls) */
        if (len <= spilled && off <= spilled - len && in->head->len < off + len) {
            if (fd_pread_all(in->head->spill_fd, buf, len, off) != DG_OK)
                return DG_E_IO;
            *got = len;
            return DG_OK;
        }
        if (off >= INPUT_HEAD_MAX || len > INPUT_HEAD_MAX - off)
            return DG_E_UNAVAILABLE;
        rc = input_head(in, (size_t)off + len, &p, &have);
        if (rc != DG_OK)
            return rc;
        if (off < have) {
            size_t n = have - (size_t)off < len ? have - (size_t)off : len;

            memcpy(buf, p + off, n);
            *got = n;
        }
        return DG_OK;
    }
    while (*got < len && off + *got < in->size) {
        ssize_t r = pread(in->fd, (uint8_t *)buf + *got, len - *got, (off_t)(off + *got));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return DG_E_IO;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return DG_OK;
}
