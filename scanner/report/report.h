/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * report.h - writing scan results for people (text) and machines (jsonl).
 *
 * Contract: a report prints findings, the per-file summary and the region map
 * of a struct scan_result to a FILE. It prints nothing secret: findings carry
 * no key bytes (finding.h) and reports add none. JSON is produced by jansson
 * only. Diagnostics of the scan go into the summary; printing them to stderr
 * is the CLI's job.
 */
#ifndef DUMPGATE_REPORT_H
#define DUMPGATE_REPORT_H

#include <stdio.h>

#include "../engine/scan.h"

enum report_format {
    REPORT_TEXT,
    REPORT_JSONL,
};

struct report {
    FILE *out;
    enum report_format format;
    unsigned verbose;
};

/* Findings of r, then its summary. */
void report_scan(const struct report *rp, const struct scan_result *r);
/* The region map of r, then its summary. */
void report_regions(const struct report *rp, const struct scan_result *r);

/* Formats for text output, shared by the text report and the CLI. */
void report_perms(unsigned perms, char out[4]);

/* jsonl.c */
void jsonl_finding(FILE *out, const struct scan_result *r, const struct scan_finding *f);
void jsonl_summary(FILE *out, const struct scan_result *r);
void jsonl_span(FILE *out, const struct dg_region *s);
/* text.c */
void text_finding(FILE *out, const struct scan_result *r, const struct scan_finding *f);
void text_summary(FILE *out, const struct scan_result *r);
void text_span(FILE *out, const struct dg_region *s);

#endif
