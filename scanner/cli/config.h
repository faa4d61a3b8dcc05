/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * config.h - the configuration file (/etc/dumpgate/dumpgate.yaml, or
 * --config FILE): read with libyaml, checked, and held as a struct config.
 *
 * Contract: config_load() reads one YAML file of at most CONFIG_FILE_MAX
 * bytes and CONFIG_MAX_DEPTH levels of nesting into a struct config that
 * owns every string in it. It never prints and never exits. Every key, type
 * and value is checked while loading (an unknown key, a wrong type, a level
 * that is not low/medium/high, a number out of range, a role that does not
 * exist); detector names exist only once the plug-ins are loaded, so
 * config_check_detectors() checks those later. An error is one line,
 * "FILE:LINE: why", with LINE 1-based and the key named. Relative paths in
 * the file are taken relative to the file's directory, so that the file
 * means the same from any working directory. What the values mean for a
 * command (the file is applied first, then the command line) is options.c's
 * and main.c's business; the keys are documented in dist/dumpgate.yaml and
 * dumpgate(1).
 */
#ifndef DUMPGATE_CONFIG_H
#define DUMPGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <dumpgate/error.h>
#include <dumpgate/finding.h>

#define CONFIG_DEFAULT_PATH "/etc/dumpgate/dumpgate.yaml"
#define CONFIG_ENV "DUMPGATE_CONFIG"    /* replaces CONFIG_DEFAULT_PATH when set */
#define CONFIG_FILE_MAX (1u << 20)      /* bytes of a configuration file, at most */
#define CONFIG_MAX_DEPTH 16             /* levels of nested lists and mappings, at most */
#define CONFIG_MAX_FILES 16             /* entries of each list of files */
#define CONFIG_MAX_DETECTORS 32         /* entries of `detectors` */
#define CONFIG_MAX_OVERRIDES 64         /* entries of `detector_severity` */

/* A string of the file and the line it is on. */
struct config_str {
    const char *s;              /* owned by the struct config */
    unsigned long line;         /* 1-based */
};

struct config_files {
    struct config_str v[CONFIG_MAX_FILES]; /* paths, resolved against the file's directory */
    size_t n;
};

enum config_detectors {
    CONFIG_DETECTORS_UNSET,     /* no `detectors` key: the default set */
    CONFIG_DETECTORS_LIST,      /* a list: exactly these */
    CONFIG_DETECTORS_SWITCH,    /* a mapping: the default set, these on or off */
};

struct config_switch {
    struct config_str name;     /* a detector */
    bool on;                    /* always true in a list */
};

struct config_override {
    struct config_str detector; /* a detector */
    enum dg_severity severity;
};

struct config {
    const char *path;           /* the file, as named (owned) */

    bool has_fail_on;
    enum dg_severity fail_on;   /* fail_on */

    bool has_role[DG_ROLE_COUNT];
    enum dg_severity role_severity[DG_ROLE_COUNT]; /* severity: role -> level */

    struct config_override det[CONFIG_MAX_OVERRIDES]; /* detector_severity, in file order */
    size_t n_det;

    enum config_detectors detectors_mode;
    struct config_switch detectors[CONFIG_MAX_DETECTORS]; /* detectors, in file order */
    size_t n_detectors;

    struct config_files allow;  /* allow */
    struct config_files known;  /* known_keys */
    struct config_files rules;  /* rules: paths, or "default" as written */
    struct config_files plugins; /* plugins */

    bool has_no_builtin_allow;
    bool no_builtin_allow;      /* no_builtin_allow */
    bool has_strict;
    bool strict;                /* strict: an incomplete scan is an error */

    bool has_jobs;
    unsigned jobs;              /* jobs: worker threads per file, 1..64 */

    bool has_timeout;
    unsigned timeout;           /* handler.timeout: seconds, 1..86400 */
    struct config_str spool;    /* handler.spool; .s NULL when not given */
    bool has_receive_timeout;
    unsigned receive_timeout;   /* handler.receive_timeout: seconds, 1..86400 */
    bool has_max_dump_size;
    unsigned long long max_dump_size; /* handler.max_dump_size: bytes, >= 1 */
    bool has_keep_free;
    unsigned long long keep_free; /* handler.keep_free: bytes, >= 1 */
    struct config_str scan_user; /* handler.scan_user: a user name; .s NULL when not given */

    bool has_max_decompressed;
    unsigned long long max_decompressed; /* max_decompressed: bytes, >= 1 */
    bool has_scan_timeout;
    unsigned scan_timeout;      /* scan_timeout: seconds, 1..86400 */

    bool has_max_age_days;
    unsigned max_age_days;      /* quarantine.max_age_days: days, 1..36500 */
    bool has_max_total_bytes;
    unsigned long long max_total_bytes; /* quarantine.max_total_bytes: bytes, >= 1 */
    struct config_str release_command; /* quarantine.release_command: a program; .s NULL
                                          when not given */
    struct config_str metrics_file; /* quarantine.metrics_file: a Prometheus textfile;
                                       .s NULL when not given */

    char **owned;               /* every string above, for config_free */
    size_t n_owned, cap_owned;
};

/* Reads and checks the file at path. On success *out is a new struct config
 * (free it with config_free) and the result is DG_OK. On failure *out is
 * NULL, err (of size n) holds "FILE[:LINE]: why", and the result is
 * DG_E_IO (cannot be read), DG_E_LIMIT (too large, too deep, too many
 * entries), DG_E_FORMAT (bad YAML, key, type or value) or DG_E_NOMEM. */
dg_err config_load(const char *path, struct config **out, char *err, size_t n);

void config_free(struct config *cfg);

/* Parses a size in bytes: a whole number, optionally followed by K, M, G or
 * T (or KiB, MiB, GiB, TiB: powers of 1024), at least 1. OUT: *bytes.
 * Returns false, *bytes unchanged, for anything else or an overflow. */
bool config_parse_bytes(const char *s, unsigned long long *bytes);

/* Checks that every detector the file names (detectors, detector_severity)
 * is in the registry; call once the plug-ins are loaded. DG_OK, or
 * DG_E_NOT_FOUND with "FILE:LINE: unknown detector 'NAME'" in err. */
dg_err config_check_detectors(const struct config *cfg, char *err, size_t n);

/* Applies the `detectors` key to a selection. names[0..*n) holds the
 * default set on entry (cap entries of room, not counting a terminating
 * NULL, which is written); a list replaces it, a mapping switches
 * detectors on (appended) and off (removed) in it. Names point into cfg or
 * stay as they were. Returns false, names unchanged, when cap is too small. */
bool config_select_detectors(const struct config *cfg, const char **names, size_t *n,
                             size_t cap);

#endif
