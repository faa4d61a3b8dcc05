/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * tap.h - the smallest TAP producer for C unit tests: ok()/not ok lines,
 * a plan at the end, and an exit status that fails when any check failed.
 */
#ifndef DUMPGATE_TAP_H
#define DUMPGATE_TAP_H

#include <stdarg.h>
#include <stdio.h>

struct tap {
    int n, failed;
};

static inline int
tap_check(struct tap *t, int cond, const char *fmt, ...)
{
    va_list ap;

    t->n++;
    if (!cond)
        t->failed++;
    printf("%s %d - ", cond ? "ok" : "not ok", t->n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return cond;
}

static inline int
tap_done(const struct tap *t)
{
    printf("1..%d\n", t->n);
    return t->failed == 0 ? 0 : 1;
}

#endif
