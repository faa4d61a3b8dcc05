/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * sarif.c - the report for code-scanning tools: one SARIF 2.1.0 document
 * (OASIS, schema in ../shared/schemas/sarif-schema-2.1.0.json) for every
 * file of a run, built with jansson. One rule per detector of the registry;
 * one result per finding, located by byte offset and length in the file (in
 * the decompressed dump for a compressed one: the artifact says so), with
 * the key's public fingerprints in partialFingerprints and the JSONL fields
 * in the result's property bag. Diagnostics become tool execution
 * notifications. Nothing secret is written: findings hold none (finding.h).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dumpgate/dumpgate.h>

#include "../../detectors/registry.h"
#include "report.h"

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"

struct sarif_doc {
    json_t *run;       /* runs[0] */
    json_t *artifacts; /* run.artifacts */
    json_t *results;   /* run.results */
    json_t *notes;     /* invocations[0].toolExecutionNotifications */
    bool ok;           /* every file could be scanned */
};

static const char *
level_of(enum dg_severity s)
{
    return s == DG_SEV_HIGH ? "error" : s == DG_SEV_MEDIUM ? "warning" : "note";
}

static json_t *
text_msg(const char *s)
{
    return json_pack("{s:s}", "text", s);
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* A URI reference for a path: unreserved bytes and '/' as they are, the rest
 * percent-encoded; absolute paths become file:// URIs. */
static json_t *
path_uri(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path), k = 0;
    char *u = malloc(n * 3 + 8);
    json_t *j;

    if (u == NULL)
        return json_string("-");
    if (path[0] == '/') {
        memcpy(u, "file://", 7);
        k = 7;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            u[k++] = (char)c;
        } else {
            u[k++] = '%';
            u[k++] = hex[c >> 4];
            u[k++] = hex[c & 15];
        }
    }
    u[k] = '\0';
    j = json_string(u);
    free(u);
    return j;
}

static json_t *
rules(void)
{
    json_t *a = json_array();

    for (size_t i = 0; i < registry_count(); i++) {
        const struct dg_detector *d = registry_get(i);
        json_t *forms = json_array();

        for (const char *const *f = d->forms; f != NULL && *f != NULL; f++)
            json_array_append_new(forms, json_string(*f));
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:o, s:{s:s}, s:{s:o, s:[s, s], s:b}}", "id", d->name,
                         "name", d->name, "shortDescription", text_msg(d->summary),
                         "defaultConfiguration", "level", level_of(d->severity), "properties",
                         "forms", forms, "tags", "security", "private-key", "defaultOn",
                         d->default_on));
    }
    return a;
}

struct sarif_doc *
sarif_new(void)
{
    struct sarif_doc *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->artifacts = json_array();
    s->results = json_array();
    s->notes = json_array();
    s->ok = true;
    s->run = json_pack("{s:{s:{s:s, s:s, s:s, s:o}}, s:s}", "tool", "driver", "name", "dumpgate",
                       "version", DG_VERSION, "semanticVersion", DG_VERSION, "rules", rules(),
                       "columnKind", "unicodeCodePoints");
    if (s->run == NULL || s->artifacts == NULL || s->results == NULL || s->notes == NULL) {
        sarif_free(s);
        return NULL;
    }
    return s;
}

void
sarif_free(struct sarif_doc *s)
{
    if (s == NULL)
        return;
    json_decref(s->run);
    json_decref(s->artifacts);
    json_decref(s->results);
    json_decref(s->notes);
    free(s);
}

static size_t
rule_index(const char *detector)
{
    for (size_t i = 0; i < registry_count(); i++)
        if (strcmp(registry_get(i)->name, detector) == 0)
            return i;
    return 0;
}

/* A physical location: byte range off..off+len of artifact art. */
static json_t *
location(const struct scan_result *r, size_t art, uint64_t off, uint64_t len)
{
    return json_pack("{s:{s:{s:o, s:I}, s:{s:I, s:I}}}", "physicalLocation", "artifactLocation",
                     "uri", path_uri(r->name), "index", (json_int_t)art, "region", "byteOffset",
                     (json_int_t)off, "byteLength", (json_int_t)(len ? len : 1));
}

static json_t *
result(const struct scan_result *r, const struct scan_finding *sf, size_t art)
{
    const struct dg_finding *f = &sf->f;
    json_t *fp = json_object(), *props = json_object(), *key = json_object(), *region, *res;
    char msg[400], va[24];

    snprintf(msg, sizeof msg, "%s (%s) %s %s (%s%s%s)%s%s%s%s at offset %" PRIu64 "%s", f->type,
             dg_role_name(f->role), dg_status_name(f->status), dg_severity_name(f->severity),
             f->encoding[0] ? f->encoding : sf->detector, f->text[0] ? ", " : "", f->text,
             f->key.algorithm[0] ? " " : "", f->key.algorithm,
             f->key.spki_sha256[0] ? " spki_sha256=" : "", f->key.spki_sha256, f->off,
             r->compression[0] ? " of the decompressed dump" : "");
    if (f->key.spki_sha256[0])
        json_object_set_new(fp, "spki_sha256/v1", json_string(f->key.spki_sha256));
    if (f->key.key_sha256[0])
        json_object_set_new(fp, "key_sha256/v1", json_string(f->key.key_sha256));
    if (f->match_sha256[0])
        json_object_set_new(fp, "match_sha256/v1", json_string(f->match_sha256));
    snprintf(va, sizeof va, "0x%" PRIx64, sf->va);
    json_object_set_new(key, "algorithm", str_or_null(f->key.algorithm));
    json_object_set_new(key, "bits", f->key.bits ? json_integer(f->key.bits) : json_null());
    json_object_set_new(key, "curve", str_or_null(f->key.curve));
    json_object_set_new(key, "spki_sha256", str_or_null(f->key.spki_sha256));
    json_object_set_new(key, "key_sha256", str_or_null(f->key.key_sha256));
    json_object_set_new(key, "label", str_or_null(f->key.label));
    region = json_pack("{s:s, s:o, s:o, s:I}", "kind", dg_span_kind_name(sf->region.kind),
                       "name", str_or_null(sf->region.name), "thread",
                       sf->region.thread >= 0 ? json_integer(sf->region.thread) : json_null(),
                       "index", (json_int_t)sf->region.index);
    json_object_set_new(props, "detector", json_string(sf->detector));
    json_object_set_new(props, "type", json_string(f->type));
    json_object_set_new(props, "status", json_string(dg_status_name(f->status)));
    json_object_set_new(props, "severity", json_string(dg_severity_name(f->severity)));
    json_object_set_new(props, "role", json_string(dg_role_name(f->role)));
    json_object_set_new(props, "reason", str_or_null(f->reason));
    json_object_set_new(props, "encoding", str_or_null(f->encoding));
    json_object_set_new(props, "text", str_or_null(f->text));
    json_object_set_new(props, "vaddr", sf->has_va ? json_string(va) : json_null());
    json_object_set_new(props, "region", region);
    json_object_set_new(props, "key", key);
    json_object_set_new(props, "proof", str_or_null(f->proof));
    json_object_set_new(props, "note", str_or_null(f->note));
    json_object_set_new(props, "preview", str_or_null(f->preview));
    json_object_set_new(props, "match_sha256", str_or_null(f->match_sha256));
    json_object_set_new(props, "offsets", json_string(r->compression[0] ? "decompressed" : "file"));
    json_object_set_new(key, "kid", str_or_null(f->key.kid));
    json_object_set_new(key, "jwk_thumbprint", str_or_null(f->key.jwk_thumbprint));
    json_object_set_new(props, "copies", json_integer((json_int_t)sf->n_copies + 1));
    res = json_pack("{s:s, s:I, s:s, s:s, s:o, s:[o], s:o, s:o}",
                    "ruleId", sf->detector, "ruleIndex", (json_int_t)rule_index(sf->detector),
                    "kind", "fail", "level", level_of(f->severity), "message", text_msg(msg),
                    "locations", location(r, art, f->off, f->len), "partialFingerprints", fp,
                    "properties", props);
    /* Every copy of the same key in the dump is a further location. */
    for (size_t i = 0; res != NULL && i < sf->n_copies; i++)
        json_array_append_new(json_object_get(res, "locations"),
                              location(r, art, sf->copies[i].off, sf->copies[i].len));
    if (res != NULL && sf->allowed)
        json_object_set_new(res, "suppressions",
                            json_pack("[{s:s, s:s}]", "kind", "external", "justification",
                                      sf->allow_note[0] ? sf->allow_note : "on the allow list"));
    return res;
}

void
sarif_add(struct sarif_doc *s, const struct scan_result *r, bool failed)
{
    size_t art = json_array_size(s->artifacts);
    json_t *a, *props;

    if (failed)
        s->ok = false;
    props = json_pack("{s:s, s:o, s:o, s:I, s:I}", "format", r->format, "compression",
                      str_or_null(r->compression), "compressedBytes",
                      r->compression[0] ? json_integer((json_int_t)r->compressed_bytes)
                                        : json_null(),
                      "scannedBytes", (json_int_t)r->cov.scanned_bytes, "findings",
                      (json_int_t)r->n_findings);
    a = json_pack("{s:{s:o}, s:o}", "location", "uri", path_uri(r->name), "properties", props);
    if (strcmp(r->name, "-") == 0)
        json_object_set_new(a, "description", text_msg("standard input"));
    if (r->compression[0]) {
        char d[160];

        snprintf(d, sizeof d,
                 "%s-compressed; byte offsets of results refer to the decompressed dump (%" PRIu64
                 " bytes)",
                 r->compression, r->cov.file_bytes);
        json_object_set_new(a, "description", text_msg(d));
    } else if (!failed) {
        json_object_set_new(a, "length", json_integer((json_int_t)r->cov.file_bytes));
    }
    json_array_append_new(s->artifacts, a);
    for (size_t i = 0; i < r->n_findings; i++)
        json_array_append_new(s->results, result(r, &r->findings[i], art));
    for (size_t i = 0; r->diag != NULL && i < dg_diag_count(r->diag); i++) {
        const struct dg_diag_msg *m = dg_diag_get(r->diag, i);
        json_t *n = json_pack("{s:s, s:o}", "level",
                              m->level == DG_DIAG_ERROR     ? "error"
                              : m->level == DG_DIAG_WARNING ? "warning"
                                                            : "note",
                              "message", text_msg(m->text));

        if (m->off != DG_NO_OFFSET)
            json_object_set_new(
                n, "locations",
                json_pack("[{s:{s:{s:o, s:I}, s:{s:I}}}]", "physicalLocation",
                          "artifactLocation", "uri", path_uri(r->name), "index",
                          (json_int_t)art, "region", "byteOffset", (json_int_t)m->off));
        json_array_append_new(s->notes, n);
    }
}

void
sarif_write(struct sarif_doc *s, FILE *out)
{
    json_t *doc;

    json_object_set(s->run, "artifacts", s->artifacts);
    json_object_set(s->run, "results", s->results);
    json_object_set_new(s->run, "invocations",
                        json_pack("[{s:b, s:O}]", "executionSuccessful", s->ok,
                                  "toolExecutionNotifications", s->notes));
    doc = json_pack("{s:s, s:s, s:[O]}", "$schema", SARIF_SCHEMA, "version", "2.1.0", "runs",
                    s->run);
    json_dumpf(doc, out, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    fputc('\n', out);
    json_decref(doc);
}
