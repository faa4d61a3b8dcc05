/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * config.c - reads the configuration file into a struct config (see
 * config.h; the keys are documented in dist/dumpgate.yaml).
 *
 * Two passes of libyaml over the text. The event parser first checks the
 * shape: one document, no aliases, at most CONFIG_MAX_DEPTH levels of
 * nesting. It stops at the first level too many, so ten thousand nested
 * brackets are refused after a few dozen events, before any tree is built.
 * Then the loader builds the node tree, whose marks give the line of every
 * key and value, and one function per key reads its value. The text is read
 * whole first, at most CONFIG_FILE_MAX bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "../../detectors/registry.h"
#include "../engine/verdict.h"
#include "config.h"

#define ERR_WHY 400 /* bytes of one message before the FILE:LINE prefix */

struct loader {
    const char *path;   /* the file, for messages */
    size_t dir_len;     /* bytes of path before its last '/' */
    bool has_dir;       /* path has a '/': relative paths are joined to its directory */
    yaml_document_t *doc;
    struct config *cfg;
    char *err;          /* OUT: the message */
    size_t n;
};

static dg_err fail(struct loader *ld, dg_err rc, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "FILE:LINE: why" (or "FILE: why" when line is 0) and returns rc. */
static dg_err
fail(struct loader *ld, dg_err rc, unsigned long line, const char *fmt, ...)
{
    char why[ERR_WHY];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(ld->err, ld->n, "%s:%lu: %s", ld->path, line, why);
    else
        snprintf(ld->err, ld->n, "%s: %s", ld->path, why);
    return rc;
}

static unsigned long
line_of(const yaml_node_t *node)
{
    return (unsigned long)node->start_mark.line + 1;
}

static yaml_node_t *
node(const struct loader *ld, int id)
{
    return yaml_document_get_node(ld->doc, id);
}

/* Keeps a copy of s[0..len) in the config; NULL when out of memory. */
static const char *
keep_n(struct config *cfg, const char *s, size_t len)
{
    char *copy;

    if (cfg->n_owned == cfg->cap_owned) {
        size_t cap = cfg->cap_owned ? 2 * cfg->cap_owned : 16;
        char **v = realloc(cfg->owned, cap * sizeof *v);

        if (v == NULL)
            return NULL;
        cfg->owned = v;
        cfg->cap_owned = cap;
    }
    if ((copy = malloc(len + 1)) == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    cfg->owned[cfg->n_owned++] = copy;
    return copy;
}

static dg_err
nomem(struct loader *ld)
{
    return fail(ld, DG_E_NOMEM, 0, "out of memory");
}

/* --- suggestions for misspelt names ---------------------------------------- */

static bool
same_char(char a, char b)
{
    if (a == '-')
        a = '_';
    if (b == '-')
        b = '_';
    return tolower((unsigned char)a) == tolower((unsigned char)b);
}

/* Edit distance of a and b, '-' and '_' and case not counted; SIZE_MAX for
 * long strings. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[33];

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + !same_char(a[i - 1], b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The name of names[0..n) that k is likely a misspelling of, or NULL. */
static const char *
suggest(const char *k, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits */

    for (size_t i = 0; i < n; i++) {
        size_t d = distance(k, names[i]);

        if (d < best_d && d < strlen(names[i]) / 2 + 1) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

/* " (did you mean NAME?)" into buf, or "" when nothing is close. */
static const char *
hint(const char *k, const char *const *names, size_t n, char *buf, size_t cap)
{
    const char *s = suggest(k, names, n);

    if (s == NULL)
        buf[0] = '\0';
    else
        snprintf(buf, cap, " (did you mean %s?)", s);
    return buf;
}

/* --- values ------------------------------------------------------------------ */

static const char *
scalar(const yaml_node_t *v)
{
    return v != NULL && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
}

static bool
is_plain(const yaml_node_t *v)
{
    return v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* `key:` with nothing after it, or ~ or null. */
static bool
is_null(const yaml_node_t *v)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    for (size_t i = 0; is_plain(v) && i < sizeof nulls / sizeof nulls[0]; i++)
        if (strcmp(scalar(v), nulls[i]) == 0)
            return true;
    return false;
}

/* For messages about a value of the wrong type: how to write it. */
static const char *
unquote_hint(const yaml_node_t *v)
{
    return is_plain(v) ? "" : " (without quotes)";
}

static const char *
kind_of(const yaml_node_t *v)
{
    return v->type == YAML_MAPPING_NODE    ? "a mapping"
           : v->type == YAML_SEQUENCE_NODE ? "a list"
           : is_null(v)                    ? "empty"
                                           : "a single value";
}

/* A non-empty string value (*out points into the document). */
static dg_err
text(struct loader *ld, const char *key, const char *what, const yaml_node_t *v,
     const char **out)
{
    const char *s = scalar(v);

    if (s == NULL || is_null(v))
        return fail(ld, DG_E_FORMAT, line_of(v), "%s must be %s, not %s", key, what, kind_of(v));
    if (strlen(s) != v->data.scalar.length)
        return fail(ld, DG_E_FORMAT, line_of(v), "%s contains a NUL character", key);
    *out = s;
    return DG_OK;
}

static dg_err
level(struct loader *ld, const char *key, const yaml_node_t *v, enum dg_severity *out)
{
    const char *s = NULL;
    dg_err rc = text(ld, key, "low, medium or high", v, &s);

    if (rc != DG_OK)
        return rc;
    if (!dg_severity_parse(s, out))
        return fail(ld, DG_E_FORMAT, line_of(v), "%s must be low, medium or high, not '%.60s'",
                    key, s);
    return DG_OK;
}

static dg_err
boolean(struct loader *ld, const char *key, const yaml_node_t *v, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    const char *s = NULL;
    dg_err rc = text(ld, key, "true or false", v, &s);

    if (rc != DG_OK)
        return rc;
    for (size_t i = 0; is_plain(v) && i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return DG_OK;
        }
    }
    return fail(ld, DG_E_FORMAT, line_of(v), "%s must be true or false%s, not '%.60s'", key,
                unquote_hint(v), s);
}

static dg_err
number(struct loader *ld, const char *key, const char *unit, const yaml_node_t *v,
       unsigned lo, unsigned hi, unsigned *out)
{
    const char *s = NULL;
    dg_err rc = text(ld, key, "a number", v, &s);
    unsigned long long x = 0;
    size_t i;

    if (rc != DG_OK)
        return rc;
    for (i = 0; is_plain(v) && s[i] >= '0' && s[i] <= '9' && x <= hi; i++)
        x = x * 10 + (unsigned)(s[i] - '0');
    if (i == 0 || s[i] != '\0' || x < lo || x > hi)
        return fail(ld, DG_E_FORMAT, line_of(v), "%s must be a whole number%s from %u to %u%s, "
                    "not '%.60s'", key, unit, lo, hi, unquote_hint(v), s);
    *out = (unsigned)x;
    return DG_OK;
}

/* A relative path of the file, joined to the file's directory; kept. */
static dg_err
path_value(struct loader *ld, const char *s, const char **out)
{
    char *joined = NULL;
    int len;

    if (s[0] == '/' || !ld->has_dir) {
        *out = keep_n(ld->cfg, s, strlen(s));
        return *out != NULL ? DG_OK : nomem(ld);
    }
    len = asprintf(&joined, "%.*s/%s", (int)ld->dir_len, ld->path, s);
    if (len < 0)
        return nomem(ld);
    *out = keep_n(ld->cfg, joined, (size_t)len);
    free(joined);
    return *out != NULL ? DG_OK : nomem(ld);
}

/* allow, known_keys, rules, plugins: a list of files (rules: or "default"). */
static dg_err
files(struct loader *ld, const char *key, const yaml_node_t *v, struct config_files *out)
{
    bool rules = strcmp(key, "rules") == 0;
    char what[64];

    if (is_null(v))
        return DG_OK;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(ld, DG_E_FORMAT, line_of(v), "%s must be a list of files, not %s", key,
                    kind_of(v));
    snprintf(what, sizeof what, "an entry of %s", key);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        const yaml_node_t *e = node(ld, *it);
        const char *s = NULL;
        dg_err rc = text(ld, what, rules ? "a file or default" : "a file", e, &s);

        if (rc != DG_OK)
            return rc;
        if (out->n == CONFIG_MAX_FILES)
            return fail(ld, DG_E_LIMIT, line_of(e), "%s has more than %d entries", key,
                        CONFIG_MAX_FILES);
        if (rules && strchr(s, '\n') != NULL)
            return fail(ld, DG_E_FORMAT, line_of(e), "%s contains a line break", what);
        if (rules && strcmp(s, "default") == 0)
            s = keep_n(ld->cfg, s, strlen(s));
        else if ((rc = path_value(ld, s, &s)) != DG_OK)
            return rc;
        if (s == NULL)
            return nomem(ld);
        out->v[out->n].s = s;
        out->v[out->n++].line = line_of(e);
    }
    return DG_OK;
}

/* A mapping key: a plain name (*out points into the document). */
static dg_err
key_name(struct loader *ld, const char *where, const yaml_node_t *k, const char **out)
{
    if (scalar(k) == NULL || is_null(k))
        return fail(ld, DG_E_FORMAT, line_of(k), "%s: a key must be a name, not %s", where,
                    kind_of(k));
    return text(ld, where, "a name", k, out);
}

/* The index of key kn among names[0..n): refuses an unknown key (with a
 * hint, and what section takes) and a key given twice; seen[] holds the line
 * of each key met so far. section NULL is the top level. */
static dg_err
known_key(struct loader *ld, const char *section, const char *takes, const char *const *names,
          size_t n, const yaml_node_t *kn, unsigned long *seen, size_t *index)
{
    const char *k = NULL;
    char h[64];
    size_t i;
    dg_err rc = key_name(ld, section != NULL ? section : "configuration", kn, &k);

    if (rc != DG_OK)
        return rc;
    for (i = 0; i < n && strcmp(k, names[i]) != 0; i++)
        ;
    if (i == n && section == NULL)
        return fail(ld, DG_E_FORMAT, line_of(kn), "unknown key '%.40s'%s", k,
                    hint(k, names, n, h, sizeof h));
    if (i == n)
        return fail(ld, DG_E_FORMAT, line_of(kn), "unknown key '%s.%.40s'%s; %s takes %s",
                    section, k, hint(k, names, n, h, sizeof h), section, takes);
    if (seen[i] != 0 && section == NULL)
        return fail(ld, DG_E_FORMAT, line_of(kn), "key '%s' given twice (first on line %lu)",
                    k, seen[i]);
    if (seen[i] != 0)
        return fail(ld, DG_E_FORMAT, line_of(kn), "%s.%s given twice (first on line %lu)",
                    section, k, seen[i]);
    seen[i] = line_of(kn);
    *index = i;
    return DG_OK;
}

/* A value that must be a mapping. OUT: *present, false when the value is
 * null (`key:` alone: nothing to read). */
static dg_err
mapping(struct loader *ld, const char *key, const char *example, const yaml_node_t *v,
        bool *present)
{
    *present = false;
    if (is_null(v))
        return DG_OK;
    if (v->type != YAML_MAPPING_NODE)
        return fail(ld, DG_E_FORMAT, line_of(v), "%s must be a mapping (%s), not %s", key,
                    example, kind_of(v));
    *present = true;
    return DG_OK;
}

/* severity: {ROLE: LEVEL, ...} */
static dg_err
severity(struct loader *ld, const yaml_node_t *v)
{
    const char *roles[DG_ROLE_COUNT];
    unsigned long seen[DG_ROLE_COUNT] = {0};
    size_t n_roles = 0;
    bool present;
    dg_err rc = mapping(ld, "severity", "long-term: high, key-agreement: medium, ...", v,
                        &present);

    for (int r = DG_ROLE_UNSET + 1; r < DG_ROLE_COUNT; r++)
        roles[n_roles++] = dg_role_name((enum dg_role)r);
    for (yaml_node_pair_t *p = present ? v->data.mapping.pairs.start : NULL;
         rc == DG_OK && p != NULL && p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = node(ld, p->key);
        const char *k = NULL;
        char key[64], h[64];
        enum dg_role role;

        if ((rc = key_name(ld, "severity", kn, &k)) != DG_OK)
            break;
        if (!dg_role_parse(k, &role))
            return fail(ld, DG_E_FORMAT, line_of(kn),
                        "severity: unknown role '%.40s'%s; the roles are long-term, "
                        "key-agreement, ephemeral, session, rng-state, symmetric",
                        k, hint(k, roles, n_roles, h, sizeof h));
        if (seen[role] != 0)
            return fail(ld, DG_E_FORMAT, line_of(kn),
                        "severity.%s given twice (first on line %lu)", k, seen[role]);
        seen[role] = line_of(kn);
        snprintf(key, sizeof key, "severity.%s", k);
        rc = level(ld, key, node(ld, p->value), &ld->cfg->role_severity[role]);
        ld->cfg->has_role[role] = rc == DG_OK;
    }
    return rc;
}

/* A detector name as written (checked against the registry later). */
static dg_err
detector_name(struct loader *ld, const char *where, const yaml_node_t *kn, bool is_key,
              const char **out)
{
    const char *k = NULL;
    dg_err rc = is_key ? key_name(ld, where, kn, &k) : text(ld, where, "a detector name", kn, &k);

    if (rc != DG_OK)
        return rc;
    /* struct verdict_override keeps this much; no detector has a longer name */
    if (strlen(k) >= sizeof ((struct verdict_override *)0)->detector)
        return fail(ld, DG_E_FORMAT, line_of(kn), "%s: unknown detector '%.40s...'", where, k);
    *out = keep_n(ld->cfg, k, strlen(k));
    return *out != NULL ? DG_OK : nomem(ld);
}

/* detector_severity: {DETECTOR: LEVEL, ...} */
static dg_err
detector_severity(struct loader *ld, const yaml_node_t *v)
{
    struct config *cfg = ld->cfg;
    bool present;
    dg_err rc = mapping(ld, "detector_severity", "aes: low, der: high, ...", v, &present);

    for (yaml_node_pair_t *p = present ? v->data.mapping.pairs.start : NULL;
         rc == DG_OK && p != NULL && p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = node(ld, p->key);
        struct config_override *o = &cfg->det[cfg->n_det];
        char key[64];

        if (cfg->n_det == CONFIG_MAX_OVERRIDES)
            return fail(ld, DG_E_LIMIT, line_of(kn), "detector_severity has more than %d entries",
                        CONFIG_MAX_OVERRIDES);
        if ((rc = detector_name(ld, "detector_severity", kn, true, &o->detector.s)) != DG_OK)
            break;
        o->detector.line = line_of(kn);
        for (size_t i = 0; i < cfg->n_det; i++)
            if (strcmp(cfg->det[i].detector.s, o->detector.s) == 0)
                return fail(ld, DG_E_FORMAT, line_of(kn),
                            "detector_severity.%s given twice (first on line %lu)",
                            o->detector.s, cfg->det[i].detector.line);
        snprintf(key, sizeof key, "detector_severity.%s", o->detector.s);
        if ((rc = level(ld, key, node(ld, p->value), &o->severity)) == DG_OK)
            cfg->n_det++;
    }
    return rc;
}

/* detectors: [NAME, ...] or {NAME: true|false, ...} */
static dg_err
detectors(struct loader *ld, const yaml_node_t *v)
{
    struct config *cfg = ld->cfg;
    bool list = v->type == YAML_SEQUENCE_NODE;
    size_t n;

    if (is_null(v))
        return DG_OK;
    if (!list && v->type != YAML_MAPPING_NODE)
        return fail(ld, DG_E_FORMAT, line_of(v),
                    "detectors must be a list of detectors to run, or a mapping of detector "
                    "to true or false, not %s", kind_of(v));
    n = list ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)
             : (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (list && n == 0)
        return fail(ld, DG_E_FORMAT, line_of(v),
                    "detectors is an empty list: it would run no detector");
    if (n > CONFIG_MAX_DETECTORS)
        return fail(ld, DG_E_LIMIT, line_of(v), "detectors has more than %d entries",
                    CONFIG_MAX_DETECTORS);
    cfg->detectors_mode = list ? CONFIG_DETECTORS_LIST : CONFIG_DETECTORS_SWITCH;
    for (size_t i = 0; i < n; i++) {
        struct config_switch *s = &cfg->detectors[cfg->n_detectors];
        const yaml_node_t *kn = node(ld, list ? v->data.sequence.items.start[i]
                                              : v->data.mapping.pairs.start[i].key);
        dg_err rc = detector_name(ld, list ? "an entry of detectors" : "detectors", kn, !list,
                                  &s->name.s);
        char key[64];

        if (rc != DG_OK)
            return rc;
        s->name.line = line_of(kn);
        s->on = true;
        for (size_t k = 0; !list && k < cfg->n_detectors; k++)
            if (strcmp(cfg->detectors[k].name.s, s->name.s) == 0)
                return fail(ld, DG_E_FORMAT, line_of(kn),
                            "detectors.%s given twice (first on line %lu)", s->name.s,
                            cfg->detectors[k].name.line);
        snprintf(key, sizeof key, "detectors.%s", s->name.s);
        if (!list && (rc = boolean(ld, key, node(ld, v->data.mapping.pairs.start[i].value),
                                   &s->on)) != DG_OK)
            return rc;
        cfg->n_detectors++;
    }
    return DG_OK;
}

/* A size in bytes (config_parse_bytes). */
static dg_err
bytes(struct loader *ld, const char *key, const yaml_node_t *v, unsigned long long *out)
{
    const char *s = NULL;
    dg_err rc = text(ld, key, "a size in bytes", v, &s);

    if (rc != DG_OK)
        return rc;
    if (!is_plain(v) || !config_parse_bytes(s, out))
        return fail(ld, DG_E_FORMAT, line_of(v),
                    "%s must be a whole number of bytes, at least 1, optionally with K, M, G "
                    "or T (powers of 1024)%s, not '%.60s'", key, unquote_hint(v), s);
    return DG_OK;
}

/* handler: {timeout: SECONDS, spool: DIR, receive_timeout: SECONDS,
 * max_dump_size: BYTES, keep_free: BYTES, scan_user: USER} */
static dg_err
handler(struct loader *ld, const yaml_node_t *v)
{
    static const char *const keys[] = {"timeout", "spool", "receive_timeout", "max_dump_size",
                                       "keep_free", "scan_user"};
    enum { N_KEYS = sizeof keys / sizeof keys[0] };
    struct config *cfg = ld->cfg;
    unsigned long seen[N_KEYS] = {0};
    bool present;
    dg_err rc = mapping(ld, "handler",
                        "timeout: SECONDS, spool: DIR, receive_timeout: SECONDS, "
                        "max_dump_size: BYTES, keep_free: BYTES, scan_user: USER", v, &present);

    for (yaml_node_pair_t *p = present ? v->data.mapping.pairs.start : NULL;
         rc == DG_OK && p != NULL && p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *val = node(ld, p->value);
        const char *s = NULL;
        size_t i = 0;

        if ((rc = known_key(ld, "handler",
                            "timeout, spool, receive_timeout, max_dump_size, keep_free and "
                            "scan_user", keys, N_KEYS, node(ld, p->key), seen, &i)) != DG_OK)
            break;
        switch (i) {
        case 0:
            rc = number(ld, "handler.timeout", " of seconds", val, 1, 86400, &cfg->timeout);
            cfg->has_timeout = rc == DG_OK;
            break;
        case 1:
            if ((rc = text(ld, "handler.spool", "a directory", val, &s)) == DG_OK &&
                (rc = path_value(ld, s, &cfg->spool.s)) == DG_OK)
                cfg->spool.line = line_of(val);
            break;
        case 2:
            rc = number(ld, "handler.receive_timeout", " of seconds", val, 1, 86400,
                        &cfg->receive_timeout);
            cfg->has_receive_timeout = rc == DG_OK;
            break;
        case 3:
            rc = bytes(ld, "handler.max_dump_size", val, &cfg->max_dump_size);
            cfg->has_max_dump_size = rc == DG_OK;
            break;
        case 4:
            rc = bytes(ld, "handler.keep_free", val, &cfg->keep_free);
            cfg->has_keep_free = rc == DG_OK;
            break;
        default:
            if ((rc = text(ld, "handler.scan_user", "a user name", val, &s)) != DG_OK)
                break;
            if (s[0] == '-' || strchr(s, '/') != NULL)
                return fail(ld, DG_E_FORMAT, line_of(val),
                            "handler.scan_user must be a user name, not '%.60s'", s);
            if ((cfg->scan_user.s = keep_n(cfg, s, strlen(s))) == NULL)
                return nomem(ld);
            cfg->scan_user.line = line_of(val);
            break;
        }
    }
    return rc;
}

bool
config_parse_bytes(const char *s, unsigned long long *bytes)
{
    static const char *const units[] = {"K", "M", "G", "T"};
    unsigned long long x = 0;
    unsigned shift = 0;
    size_t i;

    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
        if (x > (ULLONG_MAX - 9) / 10)
            return false;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    if (i == 0)
        return false;
    for (size_t u = 0; s[i] != '\0' && u < sizeof units / sizeof units[0]; u++)
        if (s[i] == units[u][0] && (s[i + 1] == '\0' || strcmp(s + i + 1, "iB") == 0)) {
            shift = 10 * (unsigned)(u + 1);
            i += strlen(s + i);
        }
    if (s[i] != '\0' || x == 0 || (shift > 0 && x > (ULLONG_MAX >> shift)))
        return false;
    *bytes = x << shift;
    return true;
}

/* quarantine: {max_age_days: N, max_total_bytes: N, release_command: PROGRAM,
 * metrics_file: FILE} */
static dg_err
quarantine(struct loader *ld, const yaml_node_t *v)
{
    static const char *const keys[] = {"max_age_days", "max_total_bytes", "release_command",
                                       "metrics_file"};
    enum { N_KEYS = sizeof keys / sizeof keys[0] };
    struct config *cfg = ld->cfg;
    unsigned long seen[N_KEYS] = {0};
    bool present;
    dg_err rc = mapping(ld, "quarantine",
                        "max_age_days: N, max_total_bytes: N, release_command: PROGRAM, "
                        "metrics_file: FILE", v, &present);

    for (yaml_node_pair_t *p = present ? v->data.mapping.pairs.start : NULL;
         rc == DG_OK && p != NULL && p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *val = node(ld, p->value);
        const char *s = NULL;
        size_t i = 0;

        if ((rc = known_key(ld, "quarantine",
                            "max_age_days, max_total_bytes, release_command and metrics_file",
                            keys, N_KEYS, node(ld, p->key), seen, &i)) != DG_OK)
            break;
        switch (i) {
        case 0:
            rc = number(ld, "quarantine.max_age_days", " of days", val, 1, 36500,
                        &cfg->max_age_days);
            cfg->has_max_age_days = rc == DG_OK;
            break;
        case 1:
            if ((rc = text(ld, "quarantine.max_total_bytes", "a size in bytes", val, &s)) !=
                DG_OK)
                break;
            if (!is_plain(val) || !config_parse_bytes(s, &cfg->max_total_bytes))
                return fail(ld, DG_E_FORMAT, line_of(val),
                            "quarantine.max_total_bytes must be a whole number of bytes, at "
                            "least 1, optionally with K, M, G or T (powers of 1024)%s, not "
                            "'%.60s'", unquote_hint(val), s);
            cfg->has_max_total_bytes = true;
            break;
        case 2:
            if ((rc = text(ld, "quarantine.release_command", "a program", val, &s)) == DG_OK &&
                (rc = path_value(ld, s, &cfg->release_command.s)) == DG_OK)
                cfg->release_command.line = line_of(val);
            break;
        default:
            if ((rc = text(ld, "quarantine.metrics_file", "a file", val, &s)) == DG_OK &&
                (rc = path_value(ld, s, &cfg->metrics_file.s)) == DG_OK)
                cfg->metrics_file.line = line_of(val);
            break;
        }
    }
    return rc;
}

/* --- the document ------------------------------------------------------------ */

enum top_key {
    K_FAIL_ON,
    K_SEVERITY,
    K_DETECTOR_SEVERITY,
    K_DETECTORS,
    K_ALLOW,
    K_KNOWN_KEYS,
    K_RULES,
    K_PLUGINS,
    K_NO_BUILTIN_ALLOW,
    K_HANDLER,
    K_JOBS,
    K_STRICT,
    K_QUARANTINE,
    K_MAX_DECOMPRESSED,
    K_SCAN_TIMEOUT,
    K_COUNT
};

static const char *const top_keys[K_COUNT] = {
    [K_FAIL_ON] = "fail_on",       [K_SEVERITY] = "severity",
    [K_DETECTOR_SEVERITY] = "detector_severity", [K_DETECTORS] = "detectors",
    [K_ALLOW] = "allow",           [K_KNOWN_KEYS] = "known_keys",
    [K_RULES] = "rules",           [K_PLUGINS] = "plugins",
    [K_NO_BUILTIN_ALLOW] = "no_builtin_allow", [K_HANDLER] = "handler",
    [K_JOBS] = "jobs",           [K_STRICT] = "strict",
    [K_QUARANTINE] = "quarantine", [K_MAX_DECOMPRESSED] = "max_decompressed",
    [K_SCAN_TIMEOUT] = "scan_timeout",
};

static dg_err
top_value(struct loader *ld, enum top_key k, const yaml_node_t *v)
{
    struct config *cfg = ld->cfg;
    dg_err rc;

    switch (k) {
    case K_FAIL_ON:
        rc = level(ld, "fail_on", v, &cfg->fail_on);
        cfg->has_fail_on = rc == DG_OK;
        return rc;
    case K_SEVERITY:
        return severity(ld, v);
    case K_DETECTOR_SEVERITY:
        return detector_severity(ld, v);
    case K_DETECTORS:
        return detectors(ld, v);
    case K_ALLOW:
        return files(ld, "allow", v, &cfg->allow);
    case K_KNOWN_KEYS:
        return files(ld, "known_keys", v, &cfg->known);
    case K_RULES:
        return files(ld, "rules", v, &cfg->rules);
    case K_PLUGINS:
        return files(ld, "plugins", v, &cfg->plugins);
    case K_NO_BUILTIN_ALLOW:
        rc = boolean(ld, "no_builtin_allow", v, &cfg->no_builtin_allow);
        cfg->has_no_builtin_allow = rc == DG_OK;
        return rc;
    case K_STRICT:
        rc = boolean(ld, "strict", v, &cfg->strict);
        cfg->has_strict = rc == DG_OK;
        return rc;
    case K_HANDLER:
        return handler(ld, v);
    case K_QUARANTINE:
        return quarantine(ld, v);
    case K_JOBS:
        rc = number(ld, "jobs", "", v, 1, 64, &cfg->jobs);
        cfg->has_jobs = rc == DG_OK;
        return rc;
    case K_MAX_DECOMPRESSED:
        rc = bytes(ld, "max_decompressed", v, &cfg->max_decompressed);
        cfg->has_max_decompressed = rc == DG_OK;
        return rc;
    case K_SCAN_TIMEOUT:
        rc = number(ld, "scan_timeout", " of seconds", v, 1, 86400, &cfg->scan_timeout);
        cfg->has_scan_timeout = rc == DG_OK;
        return rc;
    case K_COUNT:
        break;
    }
    return DG_E_ARG;
}

static dg_err
document(struct loader *ld)
{
    const yaml_node_t *root = yaml_document_get_root_node(ld->doc);
    unsigned long seen[K_COUNT] = {0};

    if (root == NULL || is_null(root))
        return DG_OK; /* an empty file, or only comments: nothing changes */
    if (root->type != YAML_MAPPING_NODE)
        return fail(ld, DG_E_FORMAT, line_of(root),
                    "the configuration must be a mapping of keys (fail_on: high, ...), not %s",
                    kind_of(root));
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        size_t i = 0;
        dg_err rc = known_key(ld, NULL, NULL, top_keys, K_COUNT, node(ld, p->key), seen, &i);

        if (rc != DG_OK)
            return rc;
        if ((rc = top_value(ld, (enum top_key)i, node(ld, p->value))) != DG_OK)
            return rc;
    }
    return DG_OK;
}

static dg_err
syntax_error(struct loader *ld, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(ld);
    if (p->context != NULL)
        return fail(ld, DG_E_FORMAT, (unsigned long)p->problem_mark.line + 1,
                    "malformed YAML: %s (%s on line %lu)", p->problem ? p->problem : "error",
                    p->context, (unsigned long)p->context_mark.line + 1);
    return fail(ld, DG_E_FORMAT, (unsigned long)p->problem_mark.line + 1, "malformed YAML: %s",
                p->problem ? p->problem : "error");
}

/* The first pass: one document, no aliases, bounded nesting. */
static dg_err
check_shape(struct loader *ld, const char *text, size_t len)
{
    yaml_parser_t p;
    int depth = 0, docs = 0;
    bool end = false;
    dg_err rc = DG_OK;

    if (!yaml_parser_initialize(&p))
        return nomem(ld);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (rc == DG_OK && !end) {
        yaml_event_t ev;
        unsigned long line;

        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(ld, &p);
            break;
        }
        line = (unsigned long)ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > CONFIG_MAX_DEPTH)
                rc = fail(ld, DG_E_LIMIT, line, "nested deeper than %d levels",
                          CONFIG_MAX_DEPTH);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_ALIAS_EVENT:
            rc = fail(ld, DG_E_FORMAT, line, "aliases (*%.40s) are not supported",
                      (const char *)ev.data.alias.anchor);
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = fail(ld, DG_E_FORMAT, line, "more than one YAML document (---)");
            break;
        case YAML_STREAM_END_EVENT:
            end = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

static dg_err
parse(struct loader *ld, const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_document_t doc;
    dg_err rc = check_shape(ld, text, len);

    if (rc != DG_OK)
        return rc;
    if (!yaml_parser_initialize(&p))
        return nomem(ld);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        rc = syntax_error(ld, &p);
        yaml_parser_delete(&p);
        return rc;
    }
    ld->doc = &doc;
    rc = document(ld);
    ld->doc = NULL;
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

/* Reads the whole file, at most CONFIG_FILE_MAX bytes, into *buf (malloc'd). */
static dg_err
read_text(struct loader *ld, char **buf, size_t *len)
{
    FILE *f = fopen(ld->path, "rb");
    char *b;
    size_t n;

    if (f == NULL)
        return fail(ld, DG_E_IO, 0, "cannot read the configuration: %s", strerror(errno));
    if ((b = malloc(CONFIG_FILE_MAX + 1)) == NULL) {
        fclose(f);
        return nomem(ld);
    }
    n = fread(b, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        int e = errno;

        fclose(f);
        free(b);
        return fail(ld, DG_E_IO, 0, "cannot read the configuration: %s", strerror(e));
    }
    fclose(f);
    if (n > CONFIG_FILE_MAX) {
        free(b);
        return fail(ld, DG_E_LIMIT, 0, "the configuration is larger than %u KiB",
                    CONFIG_FILE_MAX >> 10);
    }
    *buf = b;
    *len = n;
    return DG_OK;
}

dg_err
config_load(const char *path, struct config **out, char *err, size_t n)
{
    struct config *cfg = calloc(1, sizeof *cfg);
    const char *slash = strrchr(path, '/');
    struct loader ld = {.path = path, .has_dir = slash != NULL, .cfg = cfg, .err = err, .n = n};
    char *text = NULL;
    size_t len = 0;
    dg_err rc;

    *out = NULL;
    err[0] = '\0';
    ld.dir_len = slash != NULL ? (size_t)(slash - path) : 0;
    if (cfg == NULL || (cfg->path = keep_n(cfg, path, strlen(path))) == NULL)
        rc = nomem(&ld);
    else if ((rc = read_text(&ld, &text, &len)) == DG_OK)
        rc = parse(&ld, text, len);
    free(text);
    if (rc != DG_OK) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return DG_OK;
}

void
config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_owned; i++)
        free(cfg->owned[i]);
    free(cfg->owned);
    free(cfg);
}

dg_err
config_check_detectors(const struct config *cfg, char *err, size_t n)
{
    const struct config_str *bad = NULL;

    for (size_t i = 0; bad == NULL && i < cfg->n_detectors; i++)
        if (registry_find(cfg->detectors[i].name.s) == NULL)
            bad = &cfg->detectors[i].name;
    for (size_t i = 0; bad == NULL && i < cfg->n_det; i++)
        if (registry_find(cfg->det[i].detector.s) == NULL)
            bad = &cfg->det[i].detector;
    if (bad == NULL)
        return DG_OK;
    snprintf(err, n, "%s:%lu: unknown detector '%s' (see `dumpgate detectors`)", cfg->path,
             bad->line, bad->s);
    return DG_E_NOT_FOUND;
}

bool
config_select_detectors(const struct config *cfg, const char **names, size_t *n, size_t cap)
{
    size_t k = *n;

    if (cfg->detectors_mode == CONFIG_DETECTORS_LIST) {
        if (cfg->n_detectors > cap)
            return false;
        for (k = 0; k < cfg->n_detectors; k++)
            names[k] = cfg->detectors[k].name.s;
    }
    for (size_t i = 0; cfg->detectors_mode == CONFIG_DETECTORS_SWITCH && i < cfg->n_detectors;
         i++) {
        const struct config_switch *s = &cfg->detectors[i];
        size_t at = 0;

        while (at < k && strcmp(names[at], s->name.s) != 0)
            at++;
        if (s->on && at == k) {
            if (k == cap)
                return false;
            names[k++] = s->name.s;
        } else if (!s->on && at < k) {
            memmove(names + at, names + at + 1, (k - at - 1) * sizeof *names);
            k--;
        }
    }
    names[k] = NULL;
    *n = k;
    return true;
}
