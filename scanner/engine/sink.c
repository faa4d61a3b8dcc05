/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * sink.c - the findings sink: dg_report() copies a detector's finding into
 * the worker's list, stamped with the detector's name. Bounded by SINK_MAX per
 * scan; past it findings are counted and a warning says so. Evidence about
 * keys (dg_report_evidence: certificates, key shares, generator state) is
 * kept beside, the first sighting of each fingerprint and kind.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

void
sink_init(struct dg_sink *s, struct dg_diag *diag)
{
    memset(s, 0, sizeof *s);
    s->diag = diag;
}

void
sink_free(struct dg_sink *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
    free(s->pub);
    s->pub = NULL;
    s->n_pub = s->cap_pub = 0;
}

void
dg_report_public(struct dg_sink *s, const char *spki_sha256, const char *what, uint64_t off)
{
    dg_report_evidence(s, DG_EVIDENCE_PUBLIC, spki_sha256, what, off);
}

void
dg_report_evidence(struct dg_sink *s, enum dg_evidence kind, const char *hash,
                   const char *what, uint64_t off)
{
    struct scan_public *p;

    for (size_t i = 0; i < s->n_pub; i++) {
        if (s->pub[i].kind != kind || strcmp(s->pub[i].spki_sha256, hash) != 0)
            continue;
        /* The lowest offset names it, in whatever order the workers found
         * the copies and their sinks are merged: a report says the same
         * at -j1 and -j2. */
        if (off < s->pub[i].off) {
            dg_strlcpyf(s->pub[i].what, sizeof s->pub[i].what, "%s", what);
            s->pub[i].off = off;
        }
        return;
    }
    if (s->n_pub >= SINK_PUBLIC_MAX)
        return;
    if (s->n_pub == s->cap_pub) {
        size_t cap = s->cap_pub ? 2 * s->cap_pub : 8;
        struct scan_public *np = realloc(s->pub, cap * sizeof *np);

        if (np == NULL)
            return;
        s->pub = np;
        s->cap_pub = cap;
    }
    p = &s->pub[s->n_pub++];
    p->kind = kind;
    dg_strlcpyf(p->spki_sha256, sizeof p->spki_sha256, "%s", hash);
    dg_strlcpyf(p->what, sizeof p->what, "%s", what);
    p->off = off;
}

static bool
reserve(struct dg_sink *s, size_t extra)
{
    size_t cap = s->cap ? s->cap : 16;
    struct scan_finding *nv;

    if (s->n + extra <= s->cap)
        return true;
    while (cap < s->n + extra)
        cap *= 2;
    nv = realloc(s->v, cap * sizeof *nv);
    if (nv == NULL)
        return false;
    s->v = nv;
    s->cap = cap;
    return true;
}

void
dg_report(struct dg_sink *s, const struct dg_finding *f)
{
    struct scan_finding *sf;

    if (s->n >= SINK_MAX || !reserve(s, 1)) {
        if (!s->full)
            dg_diag_at(s->diag, DG_DIAG_WARNING, DG_E_LIMIT, f->off,
                       "more than %u findings: further findings are counted, not listed",
                       SINK_MAX);
        s->full = true;
        s->dropped++;
        return;
    }
    sf = &s->v[s->n++];
    memset(sf, 0, sizeof *sf);
    sf->f = *f;
    sf->detector = s->detector;
    if (s->found != NULL && !atomic_load_explicit(s->found, memory_order_relaxed))
        atomic_store_explicit(s->found, true, memory_order_relaxed);
}

void
dg_sink_warn(struct dg_sink *s, uint64_t off, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (s->name != NULL)
        dg_diag_at(s->diag, DG_DIAG_WARNING, DG_E_LIMIT, off, "%s: %s", s->name, text);
    else
        dg_diag_at(s->diag, DG_DIAG_WARNING, DG_E_LIMIT, off, "%s", text);
}

bool
sink_take(struct dg_sink *dst, struct dg_sink *src)
{
    if (src->n > 0) {
        if (!reserve(dst, src->n))
            return false;
        memcpy(dst->v + dst->n, src->v, src->n * sizeof *src->v);
        dst->n += src->n;
    }
    dst->dropped += src->dropped;
    src->n = 0;
    src->dropped = 0;
    for (size_t i = 0; i < src->n_pub; i++)
        dg_report_evidence(dst, src->pub[i].kind, src->pub[i].spki_sha256, src->pub[i].what,
                           src->pub[i].off);
    src->n_pub = 0;
    return true;
}
