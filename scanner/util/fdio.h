/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fdio.h - whole reads and writes on a file descriptor, the loops every
 * file-writing command needs once.
 *
 * Contract: fd_pread_all() reads exactly len bytes at off (DG_E_TRUNCATED
 * when the file ends first, DG_E_IO on an error); fd_pwrite_all() writes
 * len bytes at off and fd_write_all() at the file's position (DG_E_IO on an
 * error or a write of nothing). EINTR is retried; DG_OK otherwise.
 */
#ifndef DUMPGATE_FDIO_H
#define DUMPGATE_FDIO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <dumpgate/error.h>

static inline dg_err
fd_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return DG_E_IO;
        if (n == 0)
            return DG_E_TRUNCATED;
        done += (size_t)n;
    }
    return DG_OK;
}

static inline dg_err
fd_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return DG_E_IO;
        done += (size_t)n;
    }
    return DG_OK;
}

static inline dg_err
fd_write_all(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return DG_E_IO;
        done += (size_t)n;
    }
    return DG_OK;
}

#endif
