/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * jsonl.c - one JSON object per line, written with jansson: findings (the
 * contract in docs/FINDINGS.md), spans of the region map, and one summary per
 * file with coverage, counts and diagnostics. Every record starts with
 * "record" (what it is) and "schema" (JSONL_SCHEMA, the version of the
 * contract); docs/findings.schema.json describes each record.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

#include "../container/regions.h"
#include "../where/where.h"
#include "report.h"

/* The version of the JSONL contract (docs/FINDINGS.md), in every record.
 * Adding a field keeps it; renaming, removing or retyping one, or giving a
 * field a value its readers cannot expect, bumps it. */
#define JSONL_SCHEMA 1

static json_t *
str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* A count or offset as a JSON integer: jansson's are signed 64-bit, so a
 * count a hostile header inflated past INT64_MAX is written as INT64_MAX, not
 * as a negative number. */
static json_t *
json_count(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *
hex_addr(uint64_t va)
{
    char buf[24];

    snprintf(buf, sizeof buf, "0x%" PRIx64, va);
    return json_string(buf);
}

static void
emit(FILE *out, json_t *o)
{
    json_dumpf(o, out, JSON_COMPACT | JSON_ENSURE_ASCII);
    fputc('\n', out);
    json_decref(o);
}

/* A new record of the given kind: "record" and "schema" come first. */
static json_t *
record(const char *kind)
{
    return json_pack("{s:s, s:i}", "record", kind, "schema", JSONL_SCHEMA);
}

static json_t *
region_json(const struct dg_region *s)
{
    json_t *o = json_object();

    json_object_set_new(o, "kind", json_string(dg_span_kind_name(s->kind)));
    json_object_set_new(o, "name", str_or_null(s->name));
    json_object_set_new(o, "thread", s->thread >= 0 ? json_integer(s->thread) : json_null());
    json_object_set_new(o, "index", json_integer(s->index));
    return o;
}

static json_t *
location_json(uint64_t off, uint64_t len, bool has_va, uint64_t va, const struct dg_region *reg,
              const char *detector, const char *encoding)
{
    json_t *o = json_object();

    json_object_set_new(o, "offset", json_count(off));
    json_object_set_new(o, "length", json_count(len));
    json_object_set_new(o, "vaddr", has_va ? hex_addr(va) : json_null());
    json_object_set_new(o, "region", region_json(reg));
    json_object_set_new(o, "detector", json_string(detector));
    json_object_set_new(o, "encoding", str_or_null(encoding));
    return o;
}

json_t *
jsonl_process(const struct scan_result *r)
{
    const struct regions_process *p;
    json_t *o;

    if (r->map == NULL || !(p = &regions_info_const(r->map)->process)->known)
        return json_null();
    o = json_object();
    json_object_set_new(o, "name", str_or_null(p->name));
    json_object_set_new(o, "pid", p->pid >= 0 ? json_integer(p->pid) : json_null());
    json_object_set_new(o, "ppid", p->ppid >= 0 ? json_integer(p->ppid) : json_null());
    json_object_set_new(o, "uid", p->uid >= 0 ? json_integer(p->uid) : json_null());
    json_object_set_new(o, "args", str_or_null(p->args));
    json_object_set_new(o, "modules", p->n_modules ? json_integer(p->n_modules) : json_null());
    return o;
}

json_t *
jsonl_where(const struct scan_result *r, const struct scan_finding *sf)
{
    const struct where_loc *w = where_of_finding(r, sf);
    const struct regions_process *p = r->map != NULL ? &regions_info_const(r->map)->process : NULL;
    json_t *o = json_object(), *proc = json_null(), *thr = json_null();

    if (p != NULL && p->known)
        proc = json_pack("{s:o, s:o}", "name", str_or_null(p->name), "pid",
                         p->pid >= 0 ? json_integer(p->pid) : json_null());
    if (w != NULL && w->thread >= 0)
        thr = json_pack("{s:I, s:o}", "id", (json_int_t)w->thread, "name",
                        str_or_null(w->thread_name));
    json_object_set_new(o, "process", proc);
    json_object_set_new(o, "thread", thr);
    json_object_set_new(o, "module", str_or_null(w ? w->module : NULL));
    json_object_set_new(o, "build_id", str_or_null(w ? w->build_id : NULL));
    json_object_set_new(o, "section", str_or_null(w ? w->section : NULL));
    json_object_set_new(o, "symbol", str_or_null(w ? w->symbol : NULL));
    json_object_set_new(o, "variable", str_or_null(w ? w->variable : NULL));
    json_object_set_new(o, "type", str_or_null(w ? w->type : NULL));
    json_object_set_new(o, "path", str_or_null(w ? w->path : NULL));
    json_object_set_new(o, "note", w != NULL ? str_or_null(w->note)
                                             : json_string("not attributed"));
    return o;
}

void
jsonl_finding(FILE *out, const struct scan_result *r, const struct scan_finding *sf)
{
    const struct dg_finding *f = &sf->f;
    json_t *o = record("finding"), *k = json_object(), *locs;

    json_object_set_new(o, "file", json_string(r->name));
    json_object_set_new(o, "detector", json_string(sf->detector));
    json_object_set_new(o, "type", json_string(f->type));
    json_object_set_new(o, "status", json_string(dg_status_name(f->status)));
    json_object_set_new(o, "severity", json_string(dg_severity_name(f->severity)));
    json_object_set_new(o, "role", json_string(dg_role_name(f->role)));
    json_object_set_new(o, "reason", str_or_null(f->reason));
    json_object_set_new(o, "offset", json_count(f->off));
    json_object_set_new(o, "length", json_count(f->len));
    json_object_set_new(o, "vaddr", sf->has_va ? hex_addr(sf->va) : json_null());
    json_object_set_new(o, "region", region_json(&sf->region));
    json_object_set_new(o, "encoding", str_or_null(f->encoding));
    json_object_set_new(o, "text", str_or_null(f->text));
    json_object_set_new(k, "algorithm", str_or_null(f->key.algorithm));
    json_object_set_new(k, "bits", f->key.bits ? json_integer(f->key.bits) : json_null());
    json_object_set_new(k, "curve", str_or_null(f->key.curve));
    json_object_set_new(k, "spki_sha256", str_or_null(f->key.spki_sha256));
    json_object_set_new(k, "key_sha256", str_or_null(f->key.key_sha256));
    json_object_set_new(k, "label", str_or_null(f->key.label));
    json_object_set_new(k, "kid", str_or_null(f->key.kid));
    json_object_set_new(k, "jwk_thumbprint", str_or_null(f->key.jwk_thumbprint));
    json_object_set_new(o, "key", k);
    json_object_set_new(o, "proof", str_or_null(f->proof));
    json_object_set_new(o, "note", str_or_null(f->note));
    json_object_set_new(o, "preview", str_or_null(f->preview));
    json_object_set_new(o, "match_sha256", str_or_null(f->match_sha256));
    json_object_set_new(o, "allowed", json_boolean(sf->allowed));
    json_object_set_new(o, "allow_note", sf->allowed ? str_or_null(sf->allow_note) : json_null());
    json_object_set_new(o, "copies", json_count(sf->n_copies + 1));
    locs = json_array();
    json_array_append_new(locs, location_json(f->off, f->len, sf->has_va, sf->va, &sf->region,
                                              sf->detector, f->encoding));
    for (size_t i = 0; i < sf->n_copies; i++) {
        const struct scan_location *l = &sf->copies[i];

        json_array_append_new(locs, location_json(l->off, l->len, l->has_va, l->va, &l->region,
                                                  l->detector, l->encoding));
    }
    json_object_set_new(o, "locations", locs);
    json_object_set_new(o, "where", jsonl_where(r, sf));
    emit(out, o);
}

void
jsonl_span(FILE *out, const struct dg_region *s)
{
    json_t *o = record("span");
    char perms[4];

    report_perms(s->perms, perms);
    json_object_set_new(o, "offset", json_count(s->off));
    json_object_set_new(o, "size", json_count(s->len));
    json_object_set_new(o, "vaddr", s->has_va ? hex_addr(s->va) : json_null());
    json_object_set_new(o, "perms", s->has_va && s->perms ? json_string(perms) : json_null());
    json_object_set_new(o, "kind", json_string(dg_span_kind_name(s->kind)));
    json_object_set_new(o, "name", str_or_null(s->name));
    json_object_set_new(o, "thread", s->thread >= 0 ? json_integer(s->thread) : json_null());
    json_object_set_new(o, "index", json_integer(s->index));
    emit(out, o);
}

void
jsonl_summary(FILE *out, const struct scan_result *r)
{
    json_t *o = record("summary"), *cov = json_object(), *cnt = json_object();
    json_t *warn = json_array(), *err = json_array(), *info = json_array();
    size_t by_sev[4] = {0}, n_allowed = 0;

    for (size_t i = 0; i < r->n_findings; i++) {
        by_sev[r->findings[i].f.severity & 3]++;
        n_allowed += r->findings[i].allowed;
    }
    json_object_set_new(o, "file", json_string(r->name));
    json_object_set_new(o, "format", json_string(r->format));
    json_object_set_new(o, "detail", str_or_null(r->format_detail));
    json_object_set_new(o, "compression", str_or_null(r->compression));
    json_object_set_new(o, "compressed_bytes", r->compression[0]
                        ? json_count(r->compressed_bytes) : json_null());
    json_object_set_new(o, "process", jsonl_process(r));
    json_object_set_new(cov, "file_bytes", json_count(r->cov.file_bytes));
    json_object_set_new(cov, "region_bytes", json_count(r->cov.region_bytes));
    json_object_set_new(cov, "outside_bytes", json_count(r->cov.outside_bytes));
    json_object_set_new(cov, "unreadable_bytes",
                        json_count(r->cov.unreadable_bytes));
    json_object_set_new(cov, "scanned_bytes", json_count(r->cov.scanned_bytes));
    json_object_set_new(cov, "regions", json_count(r->cov.n_regions));
    json_object_set_new(cov, "spans", json_count(r->cov.n_spans));
    json_object_set_new(o, "coverage", cov);
    json_object_set_new(cnt, "total", json_count(r->n_findings));
    json_object_set_new(cnt, "high", json_count(by_sev[DG_SEV_HIGH]));
    json_object_set_new(cnt, "medium", json_count(by_sev[DG_SEV_MEDIUM]));
    json_object_set_new(cnt, "low", json_count(by_sev[DG_SEV_LOW]));
    json_object_set_new(cnt, "allowed", json_count(n_allowed));
    json_object_set_new(o, "findings", cnt);
    for (size_t i = 0; i < dg_diag_count(r->diag); i++) {
        const struct dg_diag_msg *m = dg_diag_get(r->diag, i);
        json_t *e = json_object();

        json_object_set_new(e, "offset",
                            m->off == DG_NO_OFFSET ? json_null() : json_count(m->off));
        json_object_set_new(e, "message", json_string(m->text));
        json_array_append_new(m->level == DG_DIAG_ERROR     ? err
                              : m->level == DG_DIAG_WARNING ? warn
                                                            : info,
                              e);
    }
    json_object_set_new(o, "warnings", warn);
    json_object_set_new(o, "errors", err);
    json_object_set_new(o, "info", info);
    json_object_set_new(o, "seconds", json_real(r->seconds));
    emit(out, o);
}
