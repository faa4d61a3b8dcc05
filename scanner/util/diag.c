/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * diag.c - error strings and the diagnostics sink (include/dumpgate/error.h).
 *
 * A struct dg_diag is a bounded list of messages guarded by a mutex, so that
 * container readers and detector threads can add warnings while the CLI reads
 * them at the end. It never prints.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dumpgate/error.h>

struct dg_diag {
    pthread_mutex_t lock;
    size_t n;
    size_t dropped;
    struct dg_diag_msg msg[DG_DIAG_MAX];
};

const char *
dg_strerror(dg_err code)
{
    switch (code) {
#define DG_ERR_CASE(name, num, msg) \
    case name:                      \
        return msg;
        DG_ERRORS(DG_ERR_CASE)
#undef DG_ERR_CASE
    }
    return "unknown error";
}

struct dg_diag *
dg_diag_new(void)
{
    struct dg_diag *d = calloc(1, sizeof *d);

    if (d != NULL && pthread_mutex_init(&d->lock, NULL) != 0) {
        free(d);
        d = NULL;
    }
    return d;
}

void
dg_diag_free(struct dg_diag *d)
{
    if (d == NULL)
        return;
    pthread_mutex_destroy(&d->lock);
    free(d);
}

dg_err
dg_diag_v(struct dg_diag *d, enum dg_diag_level level, dg_err code, uint64_t off,
          const char *fmt, va_list ap)
{
    if (d == NULL)
        return code;
    pthread_mutex_lock(&d->lock);
    if (d->n < DG_DIAG_MAX) {
        struct dg_diag_msg *m = &d->msg[d->n++];

        m->level = level;
        m->code = code;
        m->off = off;
        vsnprintf(m->text, sizeof m->text, fmt, ap);
    } else {
        d->dropped++;
    }
    pthread_mutex_unlock(&d->lock);
    return code;
}

dg_err
dg_diag(struct dg_diag *d, dg_err code, uint64_t off, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dg_diag_v(d, DG_DIAG_ERROR, code, off, fmt, ap);
    va_end(ap);
    return code;
}

dg_err
dg_diag_at(struct dg_diag *d, enum dg_diag_level level, dg_err code, uint64_t off,
           const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dg_diag_v(d, level, code, off, fmt, ap);
    va_end(ap);
    return code;
}

size_t
dg_diag_count(const struct dg_diag *d)
{
    return d == NULL ? 0 : d->n;
}

const struct dg_diag_msg *
dg_diag_get(const struct dg_diag *d, size_t i)
{
    return (d == NULL || i >= d->n) ? NULL : &d->msg[i];
}

size_t
dg_diag_dropped(const struct dg_diag *d)
{
    return d == NULL ? 0 : d->dropped;
}

size_t
dg_diag_count_level(const struct dg_diag *d, enum dg_diag_level level)
{
    size_t k = 0;

    for (size_t i = 0; d != NULL && i < d->n; i++)
        k += d->msg[i].level == level;
    return k;
}

void
dg_diag_demote(struct dg_diag *d, size_t from)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    for (size_t i = from; i < d->n; i++)
        if (d->msg[i].level == DG_DIAG_ERROR)
            d->msg[i].level = DG_DIAG_WARNING;
    pthread_mutex_unlock(&d->lock);
}
