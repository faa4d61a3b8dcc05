/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * rules.c - the `rules` detector: text secrets (cloud access keys, API tokens,
 * JWTs) described by YAML rule files (docs/RULES.md) and matched with PCRE2.
 *
 * Loading: libyaml builds the document tree; each node keeps its line, so
 * every error names the file, the line and the rule. Patterns are compiled
 * with pcre2_compile (the error offset goes into the message) and JIT-compiled
 * when the library has a JIT.
 *
 * Scanning: off by default; `--rules FILE|default` sets the option "rules"
 * and turns the detector on, so rules run in the same pass over the bytes as
 * every other detector. ASCII rules run on the chunk itself. For UTF-16LE and
 * UTF-16BE, the runs of printable ASCII characters stored as UTF-16 (at least
 * RUN_MIN characters) are copied into an ASCII buffer, separated by NUL bytes,
 * with the file offset of each run; patterns run there and matches are mapped
 * back. Such text reads the same in both byte orders one byte apart, so a
 * string is reported once: as UTF-16BE in a big-endian dump (or for a rule
 * that lists only utf-16be), otherwise as UTF-16LE. When a pattern has capture groups and group 1 matched, group 1 is the
 * secret: it alone is measured, hashed and located.
 *
 * Checks: min_entropy (Shannon bits per character of the match) and keywords
 * (one of them, in any case, within keyword_window characters before or after
 * the match). A finding is type "secret", candidate, the rule's severity,
 * encoding = the rule id, match_sha256 = SHA-256 of the match's ASCII
 * characters (so the same token has one hash in every encoding). The matched
 * bytes never leave this file.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pcre2.h>
#include <yaml.h>

#include <dumpgate/detector.h>

#include "../scanner/util/kwset.h"
#include "../scanner/util/words.h"
#include "rules.h"

#define RULES_MAX_SPAN 4096u /* longest match in bytes (UTF-16 of 2 KiB characters) */
#define RUN_MIN 8            /* shortest run of UTF-16 characters transcoded */
#define DEFAULT_WINDOW 64    /* keyword_window when a rule has keywords but no window */
#define MAX_WINDOW 4096
#define FILE_MAX (4u << 20)  /* largest rule file read */
#define KW_REACH 2048        /* a rule with keywords: longest match looked for around one */
#define MAX_HITS (1u << 20)  /* keyword hits kept per text; past it rules run everywhere */

static const char *const forms[] = {"ascii", "utf-16le", "utf-16be", NULL};

/* ---- loading ---------------------------------------------------------------- */

struct loader {
    const char *file;  /* name for messages */
    char *err;
    size_t n;
    struct rule_set *set;
};

static dg_err
fail(struct loader *ld, unsigned long line, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static dg_err
fail(struct loader *ld, unsigned long line, const char *rule, const char *fmt, ...)
{
    char why[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (rule != NULL)
        snprintf(ld->err, ld->n, "%s:%lu: rule '%s': %s", ld->file, line, rule, why);
    else
        snprintf(ld->err, ld->n, "%s:%lu: %s", ld->file, line, why);
    return DG_E_FORMAT;
}

static unsigned long
line_of(const yaml_node_t *node)
{
    return (unsigned long)node->start_mark.line + 1;
}

static const char *
scalar(const yaml_node_t *node)
{
    return node != NULL && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value
                                                          : NULL;
}

static bool
valid_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= sizeof ((struct rule *)0)->id)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return false;
    return true;
}

static dg_err
parse_number(struct loader *ld, const yaml_node_t *v, const char *rid, const char *key,
             double lo, double hi, double *out)
{
    const char *s = scalar(v);
    char *end;
    double d;

    if (s == NULL)
        return fail(ld, line_of(v), rid, "%s must be a number", key);
    errno = 0;
    d = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(d >= lo && d <= hi))
        return fail(ld, line_of(v), rid, "%s must be a number from %g to %g, not '%s'", key, lo,
                    hi, s);
    *out = d;
    return DG_OK;
}

static dg_err
compile_rule(struct loader *ld, struct rule *r, unsigned long line)
{
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED,
                                     r->n_keywords ? PCRE2_USE_OFFSET_LIMIT : 0, &ec, &eoff,
                                     NULL);
    uint32_t caps = 0;

    if (code == NULL) {
        PCRE2_UCHAR msg[160];

        pcre2_get_error_message(ec, msg, sizeof msg);
        return fail(ld, line, r->id, "pattern: %s at offset %zu", (const char *)msg,
                    (size_t)eoff);
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* the interpreter if no JIT */
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &caps);
    r->code = code;
    r->capture_count = caps;
    return DG_OK;
}

static void
rule_clear(struct rule *r)
{
    free(r->description);
    free(r->pattern);
    for (size_t i = 0; i < r->n_keywords; i++)
        free(r->keywords[i]);
    free(r->file);
    pcre2_code_free((pcre2_code *)r->code);
    memset(r, 0, sizeof *r);
}

static dg_err
add_keyword(struct loader *ld, struct rule *r, const yaml_node_t *v, const char *rid)
{
    const char *s = scalar(v);

    if (s == NULL || s[0] == '\0')
        return fail(ld, line_of(v), rid, "keyword must be a non-empty string");
    if (r->n_keywords == RULES_MAX_KEYWORDS)
        return fail(ld, line_of(v), rid, "more than %d keywords", RULES_MAX_KEYWORDS);
    if ((r->keywords[r->n_keywords] = strdup(s)) == NULL)
        return DG_E_NOMEM;
    r->n_keywords++;
    return DG_OK;
}

/* Reads one rule mapping into r. */
static dg_err
parse_rule(struct loader *ld, yaml_document_t *doc, const yaml_node_t *node, size_t index,
           struct rule *r)
{
    char fallback[40];
    const char *rid = fallback;
    bool have_window = false;
    unsigned long pline = 0;
    dg_err rc;

    snprintf(fallback, sizeof fallback, "#%zu", index + 1);
    r->line = line_of(node);
    r->encodings = RULES_ENC_ASCII | RULES_ENC_UTF16LE | RULES_ENC_UTF16BE;
    r->severity = DG_SEV_MEDIUM;
    if ((r->file = strdup(ld->file)) == NULL)
        return DG_E_NOMEM;
    if (node->type != YAML_MAPPING_NODE)
        return fail(ld, r->line, rid, "a rule must be a mapping (id: ..., pattern: ...)");
    /* the id first, so that every later message can name the rule */
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(yaml_document_get_node(doc, p->key));
        const yaml_node_t *v = yaml_document_get_node(doc, p->value);

        if (k != NULL && strcmp(k, "id") == 0) {
            const char *s = scalar(v);

            if (s == NULL || !valid_id(s))
                return fail(ld, line_of(v), rid,
                            "id must be 1 to %zu characters of a-z, 0-9, '-', '_', '.'",
                            sizeof r->id - 1);
            snprintf(r->id, sizeof r->id, "%s", s);
            rid = r->id;
        }
    }
    if (r->id[0] == '\0')
        return fail(ld, r->line, rid, "no id");
    for (size_t i = 0; i < ld->set->n; i++)
        if (strcmp(ld->set->rules[i].id, r->id) == 0)
            return fail(ld, r->line, rid, "duplicate id (first defined at %s:%lu)",
                        ld->set->rules[i].file, ld->set->rules[i].line);

    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const char *k = scalar(kn), *s = scalar(v);

        if (k == NULL)
            return fail(ld, line_of(kn), rid, "keys must be plain names");
        if (strcmp(k, "id") == 0)
            continue;
        if (strcmp(k, "description") == 0 || strcmp(k, "pattern") == 0) {
            char **dst = k[0] == 'd' ? &r->description : &r->pattern;

            if (s == NULL || s[0] == '\0')
                return fail(ld, line_of(v), rid, "%s must be a non-empty string", k);
            free(*dst);
            if ((*dst = strdup(s)) == NULL)
                return DG_E_NOMEM;
            if (*dst == r->pattern)
                pline = line_of(v); /* pattern errors point at the pattern */
        } else if (strcmp(k, "severity") == 0) {
            if (s == NULL || !dg_severity_parse(s, &r->severity))
                return fail(ld, line_of(v), rid, "severity must be low, medium or high");
        } else if (strcmp(k, "encodings") == 0) {
            if (v->type != YAML_SEQUENCE_NODE ||
                v->data.sequence.items.top == v->data.sequence.items.start)
                return fail(ld, line_of(v), rid,
                            "encodings must be a list of ascii, utf-16le, utf-16be");
            r->encodings = 0;
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                const yaml_node_t *e = yaml_document_get_node(doc, *it);
                const char *es = scalar(e);

                if (es != NULL && strcmp(es, "ascii") == 0)
                    r->encodings |= RULES_ENC_ASCII;
                else if (es != NULL && strcmp(es, "utf-16le") == 0)
                    r->encodings |= RULES_ENC_UTF16LE;
                else if (es != NULL && strcmp(es, "utf-16be") == 0)
                    r->encodings |= RULES_ENC_UTF16BE;
                else
                    return fail(ld, line_of(e), rid,
                                "unknown encoding '%s' (ascii, utf-16le, utf-16be)",
                                es ? es : "?");
            }
        } else if (strcmp(k, "min_entropy") == 0) {
            if ((rc = parse_number(ld, v, rid, k, 0.0, 8.0, &r->min_entropy)) != DG_OK)
                return rc;
        } else if (strcmp(k, "keyword") == 0 || strcmp(k, "keywords") == 0) {
            if (v->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = v->data.sequence.items.start;
                     it < v->data.sequence.items.top; it++)
                    if ((rc = add_keyword(ld, r, yaml_document_get_node(doc, *it), rid)) != DG_OK)
                        return rc;
            } else if ((rc = add_keyword(ld, r, v, rid)) != DG_OK) {
                return rc;
            }
        } else if (strcmp(k, "keyword_window") == 0) {
            double w;

            if ((rc = parse_number(ld, v, rid, k, 1, MAX_WINDOW, &w)) != DG_OK)
                return rc;
            r->keyword_window = (size_t)w;
            have_window = true;
        } else {
            return fail(ld, line_of(kn), rid,
                        "unknown key '%s' (id, description, pattern, severity, encodings, "
                        "min_entropy, keyword, keyword_window)",
                        k);
        }
    }
    if (r->pattern == NULL)
        return fail(ld, r->line, rid, "no pattern");
    if (r->description == NULL && (r->description = strdup(r->id)) == NULL)
        return DG_E_NOMEM;
    if (have_window && r->n_keywords == 0)
        return fail(ld, r->line, rid, "keyword_window without keyword");
    if (r->n_keywords > 0 && !have_window)
        r->keyword_window = DEFAULT_WINDOW;
    return compile_rule(ld, r, pline);
}

/* The id nearest above line (1-based) in text, for a syntax error: "near rule ...". */
static void
rule_near(const char *text, size_t len, unsigned long line, char *id, size_t n)
{
    unsigned long ln = 1;

    id[0] = '\0';
    for (size_t i = 0; i < len && ln <= line; i++) {
        if (i == 0 || text[i - 1] == '\n') {
            const char *s = text + i;

            while (*s == ' ' || *s == '-' || *s == '\t')
                s++;
            if (strncmp(s, "id:", 3) == 0) {
                size_t k = 0;

                for (s += 3; *s == ' ' || *s == '"' || *s == '\''; s++)
                    ;
                while (k + 1 < n && s[k] && s[k] != '\n' && s[k] != '"' && s[k] != '\'' &&
                       s[k] != ' ' && s[k] != '#')
                    k++;
                memcpy(id, s, k);
                id[k] = '\0';
            }
        }
        if (text[i] == '\n')
            ln++;
    }
}

static dg_err
parse_text(struct loader *ld, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root, *list = NULL;
    dg_err rc = DG_OK;

    if (!yaml_parser_initialize(&parser))
        return DG_E_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        unsigned long line = (unsigned long)parser.problem_mark.line + 1;
        char near[32];

        rule_near(text, len, line, near, sizeof near);
        if (parser.context != NULL)
            rc = fail(ld, line, near[0] ? near : NULL, "malformed YAML: %s (%s at line %lu)",
                      parser.problem ? parser.problem : "error", parser.context,
                      (unsigned long)parser.context_mark.line + 1);
        else
            rc = fail(ld, line, near[0] ? near : NULL, "malformed YAML: %s",
                      parser.problem ? parser.problem : "error");
        yaml_parser_delete(&parser);
        return rc;
    }
    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        rc = fail(ld, 1, NULL, "empty rule file (want a mapping with a 'rules' list)");
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        rc = fail(ld, line_of(root), NULL, "want a mapping with a 'rules' list at the top");
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *k = scalar(kn);

        if (k != NULL && strcmp(k, "rules") == 0) {
            list = v;
        } else if (k != NULL && strcmp(k, "version") == 0) {
            if (scalar(v) == NULL || strcmp(scalar(v), "1") != 0) {
                rc = fail(ld, line_of(v), NULL, "unsupported version (this dumpgate reads 1)");
                goto out;
            }
        } else {
            rc = fail(ld, line_of(kn), NULL, "unknown top-level key '%s' (version, rules)",
                      k ? k : "?");
            goto out;
        }
    }
    if (list == NULL || list->type != YAML_SEQUENCE_NODE) {
        rc = fail(ld, list ? line_of(list) : line_of(root), NULL, "'rules' must be a list");
        goto out;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top; it++) {
        struct rule r = {0};

        if (ld->set->n == RULES_MAX) {
            rc = fail(ld, line_of(yaml_document_get_node(&doc, *it)), NULL,
                      "more than %d rules", RULES_MAX);
            goto out;
        }
        rc = parse_rule(ld, &doc, yaml_document_get_node(&doc, *it),
                        (size_t)(it - list->data.sequence.items.start), &r);
        if (rc != DG_OK) {
            if (rc == DG_E_NOMEM)
                snprintf(ld->err, ld->n, "%s: out of memory", ld->file);
            rule_clear(&r);
            goto out;
        }
        ld->set->rules[ld->set->n++] = r;
    }
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* A rule file named /proc/self/fd/N is read through descriptor N itself,
 * from its start: a scan confined by a seccomp filter (scanner/cli/sandbox.h)
 * may open nothing, so the CLI opens its rule files before and names them so. */
static FILE *
open_rule_file(const char *path)
{
    static const char prefix[] = "/proc/self/fd/";
    char *end;
    long n;
    int fd;
    FILE *fp;

    if (strncmp(path, prefix, sizeof prefix - 1) != 0 || path[sizeof prefix - 1] == '\0')
        return fopen(path, "rb");
    errno = 0;
    n = strtol(path + sizeof prefix - 1, &end, 10);
    if (errno != 0 || *end != '\0' || n < 0 || n > 1 << 20)
        return fopen(path, "rb");
    if ((fd = fcntl((int)n, F_DUPFD_CLOEXEC, 3)) < 0)
        return NULL;
    if ((fp = fdopen(fd, "rb")) == NULL) {
        close(fd);
        return NULL;
    }
    if (fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return NULL;
    }
    return fp;
}

static dg_err
load_file(struct loader *ld, const char *path)
{
    FILE *fp = open_rule_file(path);
    char *buf;
    size_t len;
    dg_err rc;

    if (fp == NULL) {
        snprintf(ld->err, ld->n, "%s: %s", path, strerror(errno));
        return DG_E_IO;
    }
    buf = malloc(FILE_MAX + 1);
    if (buf == NULL) {
        fclose(fp);
        return DG_E_NOMEM;
    }
    len = fread(buf, 1, FILE_MAX + 1, fp);
    if (ferror(fp) || len > FILE_MAX) {
        bool ioerr = ferror(fp) != 0;

        snprintf(ld->err, ld->n, "%s: %s", path,
                 ioerr ? strerror(errno) : "rule file larger than 4 MiB");
        fclose(fp);
        free(buf);
        return ioerr ? DG_E_IO : DG_E_LIMIT;
    }
    fclose(fp);
    ld->file = path;
    rc = parse_text(ld, buf, len);
    free(buf);
    return rc;
}

dg_err
rules_load(const char *spec, struct rule_set **out, char *err, size_t n)
{
    struct rule_set *set = calloc(1, sizeof *set);
    struct loader ld = {.err = err, .n = n, .set = set};
    char *copy = spec != NULL ? strdup(spec) : NULL;
    dg_err rc = DG_OK;

    *out = NULL;
    err[0] = '\0';
    if (set == NULL || copy == NULL ||
        (set->rules = calloc(RULES_MAX, sizeof *set->rules)) == NULL) {
        snprintf(err, n, "rules: out of memory");
        free(copy);
        rules_free(set);
        return DG_E_NOMEM;
    }
    for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t != NULL && rc == DG_OK;
         t = strtok_r(NULL, "\n", &save)) {
        if (strcmp(t, "default") == 0) {
            ld.file = "default.yaml (built in)";
            rc = parse_text(&ld, dg_rules_default_yaml, strlen(dg_rules_default_yaml));
        } else {
            rc = load_file(&ld, t);
        }
    }
    free(copy);
    if (rc == DG_OK && set->n == 0) {
        snprintf(err, n, "rules: no rule in '%s'", spec);
        rc = DG_E_FORMAT;
    }
    if (rc != DG_OK) {
        rules_free(set);
        return rc;
    }
    *out = set;
    return DG_OK;
}

void
rules_free(struct rule_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; set->rules != NULL && i < set->n; i++)
        rule_clear(&set->rules[i]);
    free(set->rules);
    free(set);
}

const char *
rules_encodings_name(unsigned enc, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s%s", enc & RULES_ENC_ASCII ? "ascii" : "",
             (enc & RULES_ENC_ASCII) && (enc & 6u) ? ", " : "",
             enc & RULES_ENC_UTF16LE ? "utf-16le" : "",
             (enc & RULES_ENC_UTF16LE) && (enc & RULES_ENC_UTF16BE) ? ", " : "",
             enc & RULES_ENC_UTF16BE ? "utf-16be" : "");
    return buf;
}

/* ---- scanning ---------------------------------------------------------------- */

struct run {
    size_t apos;  /* first character in the ASCII buffer */
    size_t src;   /* byte offset in the chunk */
};

/* The set, and all its rules' keywords in one kwset (word i belongs to rule
 * kw_rule[i]) so that one pass finds them for every rule. */
struct shared {
    struct rule_set *set;
    struct kwset *kw;
    size_t *kw_rule;
    size_t *kw_len;
};

/* A keyword found in the text being scanned. */
struct kw_hit {
    size_t pos, end;
    size_t rule;
};

struct ctx {
    const struct rule_set *set;
    const struct shared *sh;
    pcre2_match_data *md;
    pcre2_match_context *mctx; /* offset limits */
    struct kw_hit *hits;  /* keywords of the current text, by position */
    size_t n_hits, hcap;
    bool hits_capped;     /* more than MAX_HITS: rules with keywords run everywhere */
    char *abuf;           /* transcoded UTF-16 runs, NUL-separated */
    size_t acap;
    struct run *runs;
    size_t n_runs, rcap;
};

static void
rules_destroy(void *shared)
{
    struct shared *sh = shared;

    if (sh == NULL)
        return;
    kwset_free(sh->kw);
    free(sh->kw_rule);
    free(sh->kw_len);
    rules_free(sh->set);
    free(sh);
}

static dg_err
rules_create(const struct dg_config *cfg, void **shared)
{
    const char *spec = dg_config_get(cfg, "rules");
    struct shared *sh;
    const char **words = NULL;
    size_t n = 0;
    char err[400];
    dg_err rc;

    if (spec == NULL || spec[0] == '\0')
        return DG_E_ARG; /* the CLI always sets it; -d rules alone has nothing to run */
    if ((sh = calloc(1, sizeof *sh)) == NULL)
        return DG_E_NOMEM;
    rc = rules_load(spec, &sh->set, err, sizeof err);
    if (rc != DG_OK) {
        free(sh);
        return rc;
    }
    for (size_t i = 0; i < sh->set->n; i++)
        n += sh->set->rules[i].n_keywords;
    words = calloc(n ? n : 1, sizeof *words);
    sh->kw_len = calloc(n ? n : 1, sizeof *sh->kw_len);
    sh->kw_rule = calloc(n ? n : 1, sizeof *sh->kw_rule);
    rc = words != NULL && sh->kw_len != NULL && sh->kw_rule != NULL ? DG_OK : DG_E_NOMEM;
    n = 0;
    for (size_t i = 0; rc == DG_OK && i < sh->set->n; i++)
        for (size_t k = 0; k < sh->set->rules[i].n_keywords; k++, n++) {
            words[n] = sh->set->rules[i].keywords[k];
            sh->kw_len[n] = strlen(words[n]);
            sh->kw_rule[n] = i;
        }
    if (rc == DG_OK)
        rc = kwset_new(words, sh->kw_len, n, &sh->kw);
    free(words);
    if (rc != DG_OK) {
        rules_destroy(sh);
        return rc;
    }
    *shared = sh;
    return DG_OK;
}

static dg_err
rules_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    c->set = c->sh->set;
    c->md = pcre2_match_data_create(16, NULL);
    c->mctx = pcre2_match_context_create(NULL);
    if (c->md == NULL || c->mctx == NULL) {
        pcre2_match_data_free(c->md);
        pcre2_match_context_free(c->mctx);
        free(c);
        return DG_E_NOMEM;
    }
    *out = c;
    return DG_OK;
}

static void
rules_release(void *ctx)
{
    struct ctx *c = ctx;

    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mctx);
    free(c->hits);
    free(c->abuf);
    free(c->runs);
    free(c);
}

static double
entropy(const uint8_t *p, size_t n)
{
    size_t count[256] = {0};
    double h = 0;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        count[p[i]]++;
    for (size_t i = 0; i < 256; i++)
        if (count[i] != 0) {
            double q = (double)count[i] / (double)n;

            h -= q * log2(q);
        }
    return h;
}

static bool
keyword_near(const struct rule *r, const uint8_t *t, size_t tlen, size_t s, size_t e)
{
    size_t lo = s > r->keyword_window ? s - r->keyword_window : 0;
    size_t hi = e + r->keyword_window < tlen ? e + r->keyword_window : tlen;

    for (size_t k = 0; k < r->n_keywords; k++) {
        size_t kl = strlen(r->keywords[k]);

        for (size_t i = lo; i + kl <= hi; i++)
            if (strncasecmp((const char *)t + i, r->keywords[k], kl) == 0)
                return true;
    }
    return false;
}

static void
sha256_hex(const uint8_t *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return;
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    OPENSSL_cleanse(md, sizeof md);
}

/* Runs rule r over text t[0..tlen) for matches starting in [from, limit]
 * (limit: only for a rule compiled with an offset limit, else tlen). enc is
 * the encoding of the chunk bytes t stands for; for UTF-16, c->runs maps t
 * back to the chunk. Returns where the next search may start. */
static size_t
run_range(struct ctx *c, const struct rule *r, const uint8_t *t, size_t tlen, size_t from,
          size_t limit, unsigned enc, const struct dg_chunk *ch, struct dg_sink *sink)
{
    pcre2_code *code = r->code;
    size_t start = from, run = 0;

    if (r->n_keywords > 0)
        pcre2_set_offset_limit(c->mctx, limit);
    while (start < tlen && start <= limit) {
        int m = pcre2_match(code, t, tlen, start, 0, c->md, r->n_keywords > 0 ? c->mctx : NULL);
        PCRE2_SIZE *ov;
        size_t s, e, ms, me;
        uint64_t off, len;

        if (m == PCRE2_ERROR_NOMATCH) /* no more in [from, limit] */
            return limit < tlen ? limit + 1 : tlen;
        if (m < 0) {
            /* A match, depth or heap limit (or JIT stack): the rest of the
             * range was not searched. Said, never taken for "no match". */
            PCRE2_UCHAR msg[120];

            if (pcre2_get_error_message(m, msg, sizeof msg) < 0)
                snprintf((char *)msg, sizeof msg, "error %d", m);
            dg_sink_warn(sink, ch->off + (start < ch->len ? start : 0),
                         "rule %s: PCRE2 stopped (%s); the rest of this chunk was not searched "
                         "for it",
                         r->id, (const char *)msg);
            return tlen;
        }
        ov = pcre2_get_ovector_pointer(c->md);
        ms = ov[0];
        me = ov[1];
        start = me > ms ? me : ms + 1;
        s = ms;
        e = me;
        if (r->capture_count >= 1 && (m == 0 || m >= 2) && ov[2] != PCRE2_UNSET) {
            s = ov[2];
            e = ov[3];
        }
        if (e <= s)
            continue;
        if (enc == RULES_ENC_ASCII) {
            off = s;
            len = e - s;
        } else {
            if (c->runs[run].apos > s)
                run = 0;
            while (run + 1 < c->n_runs && c->runs[run + 1].apos <= s)
                run++;
            off = c->runs[run].src + 2 * (s - c->runs[run].apos);
            len = 2 * (uint64_t)(e - s);
            if (enc == RULES_ENC_UTF16BE && off > 0)
                off--; /* the zero byte before the first character */
        }
        if (off >= ch->owned)
            return tlen;
        if (r->min_entropy > 0 && entropy(t + s, e - s) < r->min_entropy)
            continue;
        if (r->n_keywords > 0 && !keyword_near(r, t, tlen, ms, me))
            continue;

        struct dg_finding f;

        memset(&f, 0, sizeof f);
        snprintf(f.type, sizeof f.type, "secret");
        f.status = DG_STATUS_CANDIDATE;
        f.severity = r->severity;
        f.off = ch->off + off;
        f.len = len;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "%s", r->id);
        snprintf(f.text, sizeof f.text, "%s",
                 enc == RULES_ENC_ASCII     ? "ascii"
                 : enc == RULES_ENC_UTF16LE ? "utf-16le"
                                            : "utf-16be");
        dg_strlcpyf(f.note, sizeof f.note, "rule %s: %s", r->id, r->description);
        dg_strlcpyf(f.preview, sizeof f.preview, "rule %s [%zu bytes, redacted]", r->id,
                    (size_t)len);
        sha256_hex(t + s, e - s, f.match_sha256);
        dg_report(sink, &f);
    }
    return start;
}

/* kwset_scan() callback: appends a keyword hit, or stops at MAX_HITS. */
static bool
add_hit(void *arg, size_t word, size_t pos)
{
    struct ctx *c = arg;

    if (c->n_hits == c->hcap) {
        size_t ncap = c->hcap ? 2 * c->hcap : 1024;
        struct kw_hit *nh;

        if (ncap > MAX_HITS || (nh = realloc(c->hits, ncap * sizeof *nh)) == NULL) {
            c->hits_capped = true;
            return false;
        }
        c->hits = nh;
        c->hcap = ncap;
    }
    c->hits[c->n_hits++] = (struct kw_hit){pos, pos + c->sh->kw_len[word], c->sh->kw_rule[word]};
    return true;
}

/* Finds the keywords of every rule in t[0..tlen) into c->hits. */
static void
find_keywords(struct ctx *c, const uint8_t *t, size_t tlen)
{
    c->n_hits = 0;
    c->hits_capped = false;
    kwset_scan(c->sh->kw, t, tlen, add_hit, c);
}

/* Runs rule ri over t[0..tlen): everywhere, or for a rule with keywords only
 * near the keywords find_keywords() found (keyword_near() still decides). */
static void
run_rule(struct ctx *c, size_t ri, const uint8_t *t, size_t tlen, unsigned enc,
         const struct dg_chunk *ch, struct dg_sink *sink)
{
    const struct rule *r = &c->set->rules[ri];
    size_t done = 0;

    if (r->n_keywords == 0 || c->hits_capped) {
        run_range(c, r, t, tlen, 0, tlen, enc, ch, sink);
        return;
    }
    for (size_t h = 0; h < c->n_hits; h++) {
        const struct kw_hit *kh = &c->hits[h];
        size_t reach = r->keyword_window + KW_REACH, lo, hi;

        if (kh->rule != ri)
            continue;
        lo = kh->pos > reach ? kh->pos - reach : 0;
        hi = kh->end + r->keyword_window < tlen ? kh->end + r->keyword_window : tlen;
        if (lo < done)
            lo = done;
        if (lo <= hi)
            done = run_range(c, r, t, tlen, lo, hi, enc, ch, sink);
        if (done >= tlen)
            return;
    }
}

/* zero_bytes() of 4 characters at even offsets (zeros at odd ones), and of 3
 * or 4 at odd offsets (zeros at even ones): the only blocks transcode() reads. */
#define ZB_EVEN_TEXT 0x8000800080008000ull
#define ZB_ODD_TEXT 0x0080008000800080ull

static bool
printable(uint8_t b)
{
    return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\n' || b == '\r';
}

/* Copies the runs of printable UTF-16 characters of the chunk into c->abuf.
 * ASCII text in UTF-16 reads the same in both byte orders, one byte apart, so
 * there is one pass: a character is a printable byte followed by a zero byte
 * (little-endian order). For a big-endian dump (tail = true) a run also takes
 * a last character that has a zero before it and a non-zero byte after it,
 * which is how a big-endian string ends. Each run remembers the chunk offset
 * of its first character byte. */
static dg_err
transcode(struct ctx *c, const struct dg_chunk *ch, bool tail, size_t *alen)
{
    const uint8_t *p = ch->p;
    size_t len = ch->len, a = 0;

    c->n_runs = 0;
    if (c->acap < len / 2 + 2) {
        char *nb = realloc(c->abuf, len / 2 + 2);

        if (nb == NULL)
            return DG_E_NOMEM;
        c->abuf = nb;
        c->acap = len / 2 + 2;
    }
    /* A run of RUN_MIN (>= 8) characters spans 16 bytes or more and so holds a
     * whole 8-byte block at an offset divisible by 8 of the chunk, with its
     * characters at even or at odd offsets: only such blocks are looked at,
     * and a run is followed back and forth from there. */
    for (size_t b = 0, done = 0; b + 8 <= len; b += 8) {
        const uint8_t *q = p + b;
        size_t i, j, end;
        uint64_t zb;

        if (b < done)
            continue;
        zb = zero_bytes(load_le64(q));
        if (zb != ZB_EVEN_TEXT && zb != ZB_ODD_TEXT)
            continue; /* not 4 characters at even or at odd offsets: most blocks */
        if ((q[1] | q[3] | q[5] | q[7]) == 0 && printable(q[0]) && printable(q[2]) &&
            printable(q[4]) && printable(q[6]))
            i = b;
        else if ((q[0] | q[2] | q[4] | q[6]) == 0 && printable(q[1]) && printable(q[3]) &&
                 printable(q[5]) && b + 9 <= len && q[8] == 0 && printable(q[7]))
            i = b + 1;
        else
            continue;
        while (i >= done + 2 && p[i - 1] == 0 && printable(p[i - 2]))
            i -= 2;
        j = i;
        while (j + 1 < len && p[j + 1] == 0 && printable(p[j]))
            j += 2;
        end = j;
        if (tail && j > i && j < len && printable(p[j]) && p[j - 1] == 0)
            end = j + 1;
        done = end > j ? end : j;
        if ((end - i + 1) / 2 < RUN_MIN)
            continue;
        if (c->n_runs == c->rcap) {
            size_t ncap = c->rcap ? 2 * c->rcap : 256;
            struct run *nr = realloc(c->runs, ncap * sizeof *nr);

            if (nr == NULL)
                return DG_E_NOMEM;
            c->runs = nr;
            c->rcap = ncap;
        }
        c->runs[c->n_runs++] = (struct run){.apos = a, .src = i};
        for (size_t k = i; k < end; k += 2)
            c->abuf[a++] = (char)p[k];
        c->abuf[a++] = '\0';
    }
    *alen = a;
    return DG_OK;
}

static dg_err
rules_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    const struct rule_set *set = c->set;
    bool big = dg_dump_big_endian(ch->dump);
    unsigned want = 0;
    size_t alen = 0;
    dg_err rc;

    for (size_t i = 0; i < set->n; i++)
        want |= set->rules[i].encodings;
    if (want & RULES_ENC_ASCII)
        find_keywords(c, ch->p, ch->len);
    for (size_t i = 0; i < set->n; i++)
        if (set->rules[i].encodings & RULES_ENC_ASCII)
            run_rule(c, i, ch->p, ch->len, RULES_ENC_ASCII, ch, sink);
    if (!(want & (RULES_ENC_UTF16LE | RULES_ENC_UTF16BE)))
        return DG_OK;
    if ((rc = transcode(c, ch, big && (want & RULES_ENC_UTF16BE), &alen)) != DG_OK)
        return rc;
    if (alen > 0)
        find_keywords(c, (const uint8_t *)c->abuf, alen);
    for (size_t i = 0; alen > 0 && i < set->n; i++) {
        unsigned enc = set->rules[i].encodings;

        /* one report per string: the dump's own byte order when the rule wants it */
        if (enc & RULES_ENC_UTF16BE && (big || !(enc & RULES_ENC_UTF16LE)))
            run_rule(c, i, (const uint8_t *)c->abuf, alen, RULES_ENC_UTF16BE, ch, sink);
        else if (enc & RULES_ENC_UTF16LE)
            run_rule(c, i, (const uint8_t *)c->abuf, alen, RULES_ENC_UTF16LE, ch, sink);
    }
    return DG_OK;
}

static const char *const rules_options[] = {"rules", NULL};

const struct dg_detector dg_detector_rules = {
    .abi = DG_DETECTOR_ABI,
    .name = "rules",
    .summary = "text secrets matched by PCRE2 rule files (--rules FILE|default)",
    .forms = forms,
    .severity = DG_SEV_MEDIUM,
    .max_span = RULES_MAX_SPAN,
    .flags = DG_DET_TEXT,
    .default_on = false,
    .create = rules_create,
    .init = rules_init,
    .scan = rules_scan,
    .release = rules_release,
    .destroy = rules_destroy,
    .options = rules_options,
};
