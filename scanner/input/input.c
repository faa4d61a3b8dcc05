/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * input.c - opens dumps and gives container readers bounded random access to
 * their bytes (see input.h). Regular files are read with pread; streams
 * (stdin, pipes, FIFOs) keep a growing head of at most INPUT_HEAD_MAX bytes
 * for the container reader, and the engine reads the rest sequentially.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"

struct input_head {
    uint8_t *buf;
    size_t len;   /* bytes read into buf */
    size_t cap;
    bool eof;
};

dg_err
input_open(const char *path, struct dg_diag *d, struct dg_input *out)
{
    struct stat st;
    int fd;

    memset(out, 0, sizeof *out);
    out->name = path;
    out->fd = -1;
    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return dg_diag(d, errno == ENOENT ? DG_E_NOT_FILE : DG_E_IO, DG_NO_OFFSET,
                           "%s: cannot open: %s", path, strerror(errno));
    }
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
        return DG_OK;
    }
    out->stream = true;
    out->head = calloc(1, sizeof *out->head);
    if (out->head == NULL) {
        input_close(out);
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", path);
    }
    return DG_OK;
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

void
input_close(struct dg_input *in)
{
    if (in->fd >= 0 && in->fd != STDIN_FILENO)
        close(in->fd);
    in->fd = -1;
    if (in->head != NULL) {
        free(in->head->buf);
        free(in->head);
        in->head = NULL;
    }
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
    while (h->len < want && !h->eof) {
        ssize_t r = read(in->fd, h->buf + h->len, want - h->len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return DG_E_IO;
        if (r == 0)
            h->eof = true;
        h->len += (size_t)r;
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
