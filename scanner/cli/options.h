/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * options.h - the command line of dumpgate, parsed into struct cli_opts.
 */
#ifndef DUMPGATE_OPTIONS_H
#define DUMPGATE_OPTIONS_H

#include <stdbool.h>

#include "../engine/scan.h"
#include "../report/report.h"

enum cli_command {
    CMD_SCAN,
    CMD_REGIONS,
    CMD_DETECTORS,
    CMD_CORE_HANDLER,
    CMD_HELP,
    CMD_VERSION,
};

struct cli_opts {
    enum cli_command cmd;
    enum report_format format;
    enum dg_severity fail_on;
    unsigned threads;
    unsigned verbose;
    bool quiet;
    size_t chunk_size;
    char *detector_list;        /* owned copy of --detectors, split in place */
    const char *detectors[33];  /* NULL-terminated names, or detectors[0] == NULL */
    bool detectors_set;
    const char *allow[16];      /* --allow FILE... */
    int n_allow;
    const char *known[16];      /* --known-keys FILE... */
    int n_known;
    bool no_builtin_allow;      /* --no-builtin-allow */
    const char *keyvals[33];    /* --option NAME=VALUE..., NULL-terminated (detector options) */
    int n_keyvals;
    char *p12_pass;             /* owned "p12-pass=..." made from --p12-pass */
    const char *rules[16];      /* --rules FILE|default... */
    int n_rules;
    char *rules_kv;             /* owned "rules=FILE\nFILE..." made from --rules */
    const char *plugins[16];    /* --plugin FILE.so... */
    int n_plugins;
    char **files;               /* argv slice (core-handler: the core_pattern specifiers) */
    int n_files;
    /* core-handler */
    const char *spool;          /* --spool DIR: incoming/, clean/, quarantine/ */
    const char *sweep;          /* --sweep DIR: scan the dumps stored there (systemd-coredump) */
    const char *scanner;        /* --scanner PROG: run PROG scan ... (default: this binary) */
    unsigned timeout;           /* --timeout SECONDS for one scan (default 600) */
    bool recover_only;          /* --recover: finish half-done work, receive nothing */
    bool log_stderr;            /* --log-stderr: log lines also go to stderr */
    const char *scan_args[256]; /* core-handler: the scan options as given, in order
                                   ("--rules", FILE, ...), for each of its scans */
    int n_scan_args;
};

/* Parses argv into o. Returns 0 on success, or 2 after printing a usage error. */
int options_parse(int argc, char **argv, struct cli_opts *o);
void options_free(struct cli_opts *o);
void options_usage(FILE *out);

#endif
