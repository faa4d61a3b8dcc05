/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * report.h - writing scan results for people (text) and machines (jsonl,
 * sarif).
 *
 * Contract: a report prints findings, the per-file summary and the region map
 * of a struct scan_result to a FILE. It prints nothing secret: findings carry
 * no key bytes (finding.h) and reports add none. JSON is produced by jansson
 * only. Diagnostics of the scan go into the summary; printing them to stderr
 * is the CLI's job.
 */
#ifndef DUMPGATE_REPORT_H
#define DUMPGATE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "../engine/scan.h"

enum report_format {
    REPORT_TEXT,
    REPORT_JSONL,
    REPORT_SARIF,
};

struct sarif_doc;

struct report {
    FILE *out;
    enum report_format format;
    unsigned verbose;
    bool color;               /* text: the severity word in ANSI colour (a terminal
                                 without NO_COLOR) */
    struct sarif_doc *sarif;  /* REPORT_SARIF: the document being collected (owned;
                                 report_finish() writes and frees it) */
};

/* Findings of r, then its summary. SARIF needs one document for all files:
 * report_scan() adds r to rp->sarif and report_finish() writes it. */
void report_scan(const struct report *rp, const struct scan_result *r);
/* Like report_scan() for an input that could not be scanned (r holds why). */
void report_failed(const struct report *rp, const struct scan_result *r);
/* Writes what was collected (SARIF) and releases it; nothing for text/jsonl. */
void report_finish(struct report *rp);
/* The region map of r, then its summary. */
void report_regions(const struct report *rp, const struct scan_result *r);

/* Formats for text output, shared by the text report and the CLI. */
void report_perms(unsigned perms, char out[4]);
/* n as "123 B", "4.5 KiB", "6.7 MiB" or "8.90 GiB" in out (len bytes); returns out. */
const char *report_bytes(uint64_t n, char *out, size_t len);
/* s[0..len) with every byte outside printable ASCII written as \xNN and the
 * backslash as \\: strings a dump or a verdict gives (names chosen by the
 * dumped process) never reach a terminal as control codes. */
void report_escaped(FILE *out, const char *s, size_t len);

/* jsonl.c */
struct json_t;
/* The `where` object of a finding (docs/FINDINGS.md), new reference. */
struct json_t *jsonl_where(const struct scan_result *r, const struct scan_finding *sf);
/* The `process` object of a summary, or JSON null; new reference. */
struct json_t *jsonl_process(const struct scan_result *r);
void jsonl_finding(FILE *out, const struct scan_result *r, const struct scan_finding *f);
void jsonl_summary(FILE *out, const struct scan_result *r);
void jsonl_span(FILE *out, const struct dg_region *s);
/* sarif.c */
struct sarif_doc *sarif_new(void); /* NULL when out of memory */
void sarif_add(struct sarif_doc *s, const struct scan_result *r, bool failed);
void sarif_write(struct sarif_doc *s, FILE *out);
void sarif_free(struct sarif_doc *s);
/* text.c */
void text_finding(FILE *out, const struct scan_result *r, const struct scan_finding *f,
                  bool color);
/* verbose: allowed findings were listed (else the summary says how to list them) */
void text_summary(FILE *out, const struct scan_result *r, unsigned verbose);
void text_span(FILE *out, const struct dg_region *s);

#endif
