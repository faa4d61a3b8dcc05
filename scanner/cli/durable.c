/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * durable.c - a JSON document written into a spool directory whole or not at
 * all (see durable.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"

int
durable_write_json(int dir, const char *name, const json_t *v, bool replace)
{
    char tmp[400];
    char *text = json_dumps(v, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    size_t len = text != NULL ? strlen(text) : 0, off = 0;
    int fd, e = 0;

    if (text == NULL)
        return ENOMEM;
    if (snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", name, (long)getpid()) >= (int)sizeof tmp) {
        free(text);
        return ENAMETOOLONG;
    }
    fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && unlinkat(dir, tmp, 0) == 0)
        fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
        free(text);
        return e;
    }
    while (off < len && e == 0) {
        ssize_t w = write(fd, text + off, len - off);

        if (w < 0 && errno != EINTR)
            e = errno;
        else if (w > 0)
            off += (size_t)w;
    }
    free(text);
    if (e == 0 && (write(fd, "\n", 1) != 1 || fsync(fd) != 0))
        e = errno ? errno : EIO;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && renameat2(dir, tmp, dir, name, replace ? 0 : RENAME_NOREPLACE) != 0)
        e = errno;
    if (e != 0)
        unlinkat(dir, tmp, 0);
    else
        fsync(dir);
    return e;
}
