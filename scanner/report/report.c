/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * report.c - dispatches a scan result to the text or JSONL writer.
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
    for (size_t i = 0; i < r->n_findings; i++) {
        if (rp->format == REPORT_JSONL)
            jsonl_finding(rp->out, r, &r->findings[i]);
        else
            text_finding(rp->out, r, &r->findings[i]);
    }
    if (rp->format == REPORT_JSONL)
        jsonl_summary(rp->out, r);
    else
        text_summary(rp->out, r);
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
        text_summary(rp->out, r);
    fflush(rp->out);
}
