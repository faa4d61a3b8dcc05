/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * options.h - the command line of dumpgate, and the configuration file it
 * names (config.h), parsed into struct cli_opts: the file first, then the
 * command line over it.
 */
#ifndef DUMPGATE_OPTIONS_H
#define DUMPGATE_OPTIONS_H

#include <stdbool.h>

#include "../engine/scan.h"
#include "../engine/verdict.h"
#include "../report/report.h"
#include "config.h"

/* What `dumpgate quarantine` does (quarantine.c). */
enum quarantine_action {
    QA_LIST,
    QA_SHOW,
    QA_RELEASE,
    QA_EXPIRE,
};

enum cli_command {
    CMD_SCAN,
    CMD_REGIONS,
    CMD_DETECTORS,
    CMD_CORE_HANDLER,
    CMD_QUARANTINE,
    CMD_REDACT,                 /* issue 23: redact.c */
    CMD_GATEWAY,
    CMD_HELP,
    CMD_VERSION,
};

struct cli_opts {
    enum cli_command cmd;
    enum report_format format;
    enum dg_severity fail_on;   /* exit 1 at or above it (default high) */
    struct verdict_policy policy; /* severity of each role, per-detector overrides */
    unsigned threads;
    unsigned verbose;
    bool quiet;
    bool strict;                /* --strict: unreadable bytes or a partial scan fail the file */
    bool dumps_only;
    bool no_spill;              /* --no-spill: a stream is not kept for reads after the scan */
    const char *output;         /* -o FILE: the report goes there (scan), else stdout;
                                   redact: the redacted copy */
    bool force;                 /* redact --force: replace an existing OUT */            /* --dumps-only: scan only files whose first bytes are a dump */
    size_t chunk_size;
    char *detector_list;        /* owned copy of --detectors, split in place */
    const char *detectors[33];  /* NULL-terminated names, or detectors[0] == NULL */
    bool detectors_set;
    const char *allow[16];      /* --allow FILE... */
    int n_allow;
    const char *known[16];      /* --known-keys FILE... */
    int n_known;
    const char *debug_dirs[17]; /* --debug-dir DIR..., NULL-terminated (issue 22) */
    int n_debug_dirs;
    bool no_builtin_allow;      /* --no-builtin-allow */
    const char *keyvals[33];    /* --option NAME=VALUE..., NULL-terminated (detector options) */
    int n_keyvals;
    char *p12_pass;             /* owned "p12-pass=..." made from --p12-pass */
    const char *rules[16];      /* --rules FILE|default... */
    int n_rules;
    char *rules_kv;             /* owned "rules=FILE\nFILE..." made from --rules */
    const char *plugins[16];    /* --plugin FILE.so... */
    int n_plugins;
    char **files;               /* argv slice (core-handler: the core_pattern specifiers),
                                   or list below */
    int n_files;
    const char *files_from;     /* scan --files-from LIST ("-": standard input) */
    const char *recursive;      /* scan --recursive DIR */
    char **list;                /* owned: the argv files, then LIST's, then DIR's (strings
                                   from LIST and DIR owned too, from list_own on) */
    int list_own;               /* list[list_own..] are owned copies */
    /* core-handler */
    const char *spool;          /* --spool DIR: incoming/, clean/, quarantine/ */
    const char *sweep;          /* --sweep DIR: scan the dumps stored there (systemd-coredump) */
    const char *scanner;        /* --scanner PROG: run PROG scan ... (default: this binary) */
    unsigned timeout;           /* --timeout SECONDS for one scan (default 600) */
    bool recover_only;          /* --recover: finish half-done work, receive nothing */
    bool log_stderr;            /* --log-stderr: log lines also go to stderr */
    const char *scan_args[256]; /* core-handler: the scan options as given, in order
                                   ("--config", FILE, "--rules", FILE, ...), for each of its scans */
    int n_scan_args;
    const char *metrics;        /* --metrics FILE (core-handler, quarantine): Prometheus
                                   textfile; default quarantine.metrics_file */
    /* budgets (scan; the handler passes max_decompressed on to its scans) */
    unsigned long long max_decompressed; /* --max-decompressed BYTES a compressed dump may
                                   decode to; 0: no cap */
    unsigned scan_timeout;      /* --scan-timeout SECONDS one file's scan may take (scan);
                                   0: none */
    const char *sandbox;        /* scan --sandbox USER: before reading a dump, become USER
                                   (when root) under a seccomp filter (sandbox.h) */
    /* core-handler: what it takes from the kernel */
    unsigned receive_timeout;   /* --receive-timeout SECONDS to receive a core; 0: --timeout */
    unsigned long long max_dump_size; /* --max-dump-size BYTES of a core kept; 0: no cap */
    unsigned long long keep_free; /* --keep-free BYTES: below this free space on the spool's
                                   filesystem a core is not stored (counted as lost) */
    const char *scan_user;      /* --scan-user USER its scans run as ("none": unconfined);
                                   default "nobody" */
    /* gateway (issue 24) */
    const char *listen;         /* --listen ADDRESS:PORT */
    const char *upstream;       /* --upstream URL the clean uploads go to */
    unsigned long long max_upload; /* --max-upload BYTES of one request body; 0: no cap */
    unsigned max_uploads;       /* --max-uploads N connections at once; 0: 64 */
    const char *token_file;     /* --token-file FILE: the bearer token uploads carry */
    const char *tls_cert;       /* --tls-cert FILE (PEM): serve HTTPS */
    const char *tls_key;        /* --tls-key FILE (PEM) */
    const char *tls_client_ca;  /* --tls-client-ca FILE: clients need a certificate it signed */
    bool redact_copy;           /* --redact: gateway: forward the verified redacted copy of a
                                   dirty upload (dumpgate redact) instead of nothing;
                                   core-handler: keep one in SPOOL/redacted beside the
                                   quarantined original */
    const char *dirty_answer;   /* --dirty-answer TEXT: the body answered for a quarantined
                                   upload, before " NAME: REASON" (default "Discarded=dumpgate
                                   quarantined") */
    /* quarantine */
    enum quarantine_action qaction; /* the word after `quarantine` */
    const char *qname;          /* show, release: the dump's name, as given */
    const char *reason;         /* release --reason TEXT */
    const char *by;             /* release --by WHO, or NULL (the invoking user) */
    const char *release_command; /* --command PROGRAM, or quarantine.release_command */
    bool dry_run;               /* expire --dry-run */
    bool has_max_age;
    unsigned max_age_days;      /* --max-age-days N, or quarantine.max_age_days */
    bool has_max_total;
    unsigned long long max_total; /* --max-total BYTES, or quarantine.max_total_bytes */
    struct config *config;      /* the configuration file read (owned), or NULL; strings
                                   above from the file point into it */
    char **args;                /* owned copy of argv without the command, as getopt
                                   permuted it; files points into it */
};

/* Parses argv into o: reads the configuration file (--config FILE, else
 * $DUMPGATE_CONFIG, else /etc/dumpgate/dumpgate.yaml if it exists; none
 * with --no-config) for scan, detectors, core-handler and quarantine, then
 * the command line over it: its scalars win, its list entries come after
 * the file's.
 * The detectors the file chooses are applied by main.c once plug-ins are
 * loaded (config_select_detectors), and only when -d is not given. Returns
 * 0 on success, or 2 after printing a usage or configuration error. Call
 * options_free(o) in either case. */
int options_parse(int argc, char **argv, struct cli_opts *o);
/* Frees what o owns (copies, the configuration); o's strings are gone after. */
void options_free(struct cli_opts *o);
void options_usage(FILE *out);

#endif
