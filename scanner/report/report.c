/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * report.c - dispatches a scan result to the text or JSONL writer, or
 * collects it into the run's SARIF document.
 */
#include "../container/regions.h"
#include "report.h"

void
report_perms(unsigned perms, char out[4])
{
    out[0] = (perms & DG_PERM_R) ? 'r' : '-';
    out[1] = (perms & DG_PERM_W) ? 'w' : '-';
    out[2] = (perms & DG_PERM_X) ? 'x' : '-';
    out[3] = '\0';
}

void
report_scan(const struct report *rp, const struct scan_result *r)
{
    if (rp->format == REPORT_SARIF) {
        if (rp->sarif != NULL)
            sarif_add(rp->sarif, r, false);
        return;
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        if (rp->format == REPORT_JSONL)
            jsonl_finding(rp->out, r, &r->findings[i]);
        else if (!r->findings[i].allowed || rp->verbose > 0) /* allowed: counted */
            text_finding(rp->out, r, &r->findings[i], rp->color);
    }
    if (rp->format == REPORT_JSONL)
        jsonl_summary(rp->out, r);
    else
        text_summary(rp->out, r, rp->verbose);
    fflush(rp->out);
}

void
report_regions(const struct report *rp, const struct scan_result *r)
{
    for (size_t i = 0; r->map != NULL && i < regions_count(r->map); i++) {
        if (rp->format == REPORT_JSONL)
            jsonl_span(rp->out, regions_get(r->map, i));
        else
            text_span(rp->out, regions_get(r->map, i));
    }
    if (rp->format == REPORT_JSONL)
        jsonl_summary(rp->out, r);
    else
        text_summary(rp->out, r, rp->verbose);
    fflush(rp->out);
}

void
report_failed(const struct report *rp, const struct scan_result *r)
{
    if (rp->format == REPORT_SARIF && rp->sarif != NULL)
        sarif_add(rp->sarif, r, true);
    else if (rp->format == REPORT_JSONL)
        report_scan(rp, r);
}

void
report_finish(struct report *rp)
{
    if (rp->sarif == NULL)
        return;
    sarif_write(rp->sarif, rp->out);
    fflush(rp->out);
    sarif_free(rp->sarif);
    rp->sarif = NULL;
}
