/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * rules.h - rule files: text secrets described in YAML and matched with PCRE2
 * (format: docs/RULES.md). The `rules` detector (rules.c) compiles the files
 * named by its "rules" option; the CLI uses the same loader to check rule
 * files before a scan and to list them in `dumpgate detectors`.
 *
 * Contract: rules_load() reads every file of a spec, compiles every pattern
 * (JIT when PCRE2 has it) and either returns a complete rule set or fails with
 * one message naming the file, the line and the rule. A loaded set is read-only
 * and may be used by many threads at once.
 */
#ifndef DUMPGATE_RULES_H
#define DUMPGATE_RULES_H

#include <stddef.h>

#include <dumpgate/detector.h>

#define RULES_ENC_ASCII 1u
#define RULES_ENC_UTF16LE 2u
#define RULES_ENC_UTF16BE 4u

#define RULES_MAX 512           /* rules in one set */
#define RULES_MAX_KEYWORDS 8    /* keywords of one rule */

struct rule {
    char id[32];                /* [a-z0-9._-], unique in the set; fits dg_finding.encoding */
    char *description;
    char *pattern;
    enum dg_severity severity;
    unsigned encodings;         /* RULES_ENC_* bits */
    double min_entropy;         /* Shannon bits per byte of the match; 0 = no check */
    char *keywords[RULES_MAX_KEYWORDS]; /* any one must be near the match (ASCII, any case) */
    size_t n_keywords;
    size_t keyword_window;      /* characters before and after the match */
    char *file;                 /* where the rule was defined */
    unsigned long line;
    void *code;                 /* pcre2_code_8 * */
    unsigned capture_count;     /* group 1, when set, is the secret part of the match */
};

struct rule_set {
    struct rule *rules;
    size_t n;
};

/* spec: rule sources separated by '\n'; each a file path or "default" (the
 * pack built into dumpgate, rules/default.yaml). On success *out is a new set;
 * on failure *out is NULL, err (size n) holds "FILE:LINE: rule 'ID': reason"
 * and the return value is DG_E_FORMAT, DG_E_IO or DG_E_NOMEM. */
dg_err rules_load(const char *spec, struct rule_set **out, char *err, size_t n);
void rules_free(struct rule_set *set);

/* "ascii, utf-16le" for the bits of a rule (buf of size n). */
const char *rules_encodings_name(unsigned enc, char *buf, size_t n);

/* The default pack, built in (rules_default.c, generated from rules/default.yaml). */
extern const char dg_rules_default_yaml[];

#endif
