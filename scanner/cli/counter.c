/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * counter.c - a count in a spool file, raised in place under a lock (see
 * counter.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "counter.h"

/* Writes value at the start of fd, padded to COUNTER_WIDTH and a newline. */
static int
put(int fd, uint64_t value)
{
    char text[COUNTER_WIDTH + 2];
    int len = snprintf(text, sizeof text, "%-*" PRIu64 "\n", COUNTER_WIDTH, value);

    if (len != COUNTER_WIDTH + 1)
        return EOVERFLOW;
    if (pwrite(fd, text, (size_t)len, 0) != len)
        return errno ? errno : EIO;
    return fsync(fd) != 0 ? errno : 0;
}

/* dir/name opened read-write, never through a link; a regular file of this
 * user only. -1 and errno otherwise. */
static int
open_counter(int dir, const char *name, int flags)
{
    struct stat st;
    int fd = openat(dir, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | flags, 0644);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

int
counter_ensure(int dir, const char *name)
{
    int fd = open_counter(dir, name, O_CREAT | O_EXCL), e;

    if (fd < 0)
        return errno == EEXIST ? 0 : errno;
    flock(fd, LOCK_EX);
    e = put(fd, 0);
    close(fd);
    if (e == 0)
        fsync(dir);
    return e;
}

static int
get(int fd, uint64_t *value)
{
    char text[COUNTER_WIDTH + 2];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    char *end;

    *value = 0;
    if (n < 0)
        return errno;
    text[n] = '\0';
    if (n > 0) {
        unsigned long long v = strtoull(text, &end, 10);

        if (end == text)
            return EINVAL;
        *value = (uint64_t)v;
    }
    return 0;
}

int
counter_add(int dir, const char *name, uint64_t n, uint64_t *now)
{
    uint64_t v = 0;
    int fd = open_counter(dir, name, 0), e;

    if (fd < 0 && errno == ENOENT)
        fd = open_counter(dir, name, O_CREAT);
    if (fd < 0)
        return errno;
    flock(fd, LOCK_EX);
    e = get(fd, &v);
    if (e == 0)
        e = put(fd, v + n);
    close(fd);
    if (e == 0 && now != NULL)
        *now = v + n;
    return e;
}

int
counter_read(int dir, const char *name, uint64_t *value)
{
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), e;

    *value = 0;
    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    e = get(fd, value);
    close(fd);
    return e;
}
