/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * text.c - the report for people: one line per key (file, severity, type
 * and role, fingerprint and name, where it sits and how many copies, how
 * sure, why that role), one summary line per file, and a table for the
 * region map. Offsets are hexadecimal everywhere on a finding's line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../container/regions.h"
#include "../where/where.h"
#include "report.h"

const char *
report_bytes(uint64_t n, char *out, size_t len)
{
    if (n >= (1ull << 30))
        snprintf(out, len, "%.2f GiB", (double)n / (double)(1ull << 30));
    else if (n >= (1ull << 20))
        snprintf(out, len, "%.1f MiB", (double)n / (double)(1ull << 20));
    else if (n >= (1ull << 10))
        snprintf(out, len, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(out, len, "%" PRIu64 " B", n);
    return out;
}

void
report_escaped(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\')
            fputs("\\\\", out);
        else if (c < 0x20 || c > 0x7e)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

/* report_escaped() of a NUL-terminated string. */
static void
put_escaped(FILE *out, const char *s)
{
    report_escaped(out, s, strlen(s));
}

/* " - in g_conf.tls.key_pem[120] (char [4096]) .data of /usr/bin/x": what
 * attribution learned about sf (where.h), if anything. */
static void
put_where(FILE *out, const struct scan_result *r, const struct scan_finding *sf)
{
    const struct where_loc *w = where_of_finding(r, sf);
    bool named = false;

    if (w == NULL)
        return;
    if (w->variable[0]) {
        fputs(" - in ", out);
        put_escaped(out, w->variable);
        if (w->type[0]) {
            fputs(" (", out);
            put_escaped(out, w->type);
            fputc(')', out);
        }
        named = true;
    } else if (w->symbol[0]) {
        fputs(" - in ", out);
        put_escaped(out, w->symbol);
        named = true;
    }
    if (w->module[0]) {
        fputs(named ? " " : " - in ", out);
        if (w->section[0]) {
            put_escaped(out, w->section);
            fputc(' ', out);
        }
        fputs(named || w->section[0] ? "of " : "module ", out);
        put_escaped(out, w->module);
        if (w->build_id[0])
            fprintf(out, " (build-id %.16s%s)", w->build_id, strlen(w->build_id) > 16 ? "..." : "");
    }
    if (w->thread >= 0) {
        fprintf(out, " - thread %" PRId64, w->thread);
        if (w->thread_name[0]) {
            fputs(" (", out);
            put_escaped(out, w->thread_name);
            fputc(')', out);
        }
    }
    if (w->path[0]) {
        fputs(" - reachable from ", out);
        put_escaped(out, w->path);
    }
    if (w->note[0]) {
        fputs(" [", out);
        put_escaped(out, w->note);
        fputc(']', out);
    }
}

void
text_finding(FILE *out, const struct scan_result *r, const struct scan_finding *sf, bool color)
{
    const struct dg_finding *f = &sf->f;
    /* bold red, yellow, dim: the severity word only */
    const char *on = !color ? ""
                     : f->severity == DG_SEV_HIGH   ? "\033[1;31m"
                     : f->severity == DG_SEV_MEDIUM ? "\033[33m"
                                                    : "\033[2m";

    /* what, and how much it matters */
    put_escaped(out, r->name);
    fprintf(out, ": %s%s%s %s (%s)", on, dg_severity_name(f->severity), color ? "\033[0m" : "",
            f->type, dg_role_name(f->role));
    if (f->key.algorithm[0]) {
        fprintf(out, " %s", f->key.algorithm);
        if (f->key.curve[0])
            fprintf(out, " %s", f->key.curve);
        else if (f->key.bits && (f->key.algorithm[0] == 'R' || f->key.algorithm[0] == 'D'))
            fprintf(out, "-%u", f->key.bits);
    }
    /* which key */
    if (f->key.spki_sha256[0])
        fprintf(out, " spki_sha256=%s", f->key.spki_sha256);
    else if (f->key.key_sha256[0])
        fprintf(out, " key_sha256=%s", f->key.key_sha256);
    if (f->match_sha256[0])
        fprintf(out, " match_sha256=%s", f->match_sha256);
    if (f->key.kid[0]) {
        fputs(" kid=", out);
        put_escaped(out, f->key.kid);
    }
    if (f->key.jwk_thumbprint[0])
        fprintf(out, " jkt=%s", f->key.jwk_thumbprint);
    if (f->key.label[0]) {
        fputs(" \"", out);
        put_escaped(out, f->key.label);
        fputc('"', out);
    }
    /* where */
    fprintf(out, " - at 0x%" PRIx64, f->off);
    if (sf->has_va)
        fprintf(out, " (vaddr 0x%" PRIx64 ")", sf->va);
    fprintf(out, " [%s%s", dg_span_kind_name(sf->region.kind), sf->region.name ? " " : "");
    if (sf->region.name != NULL)
        put_escaped(out, sf->region.name);
    if (sf->region.thread >= 0)
        fprintf(out, " thread %" PRId64, sf->region.thread);
    fputc(']', out);
    if (sf->n_copies > 0)
        fprintf(out, ", %zu copies", sf->n_copies + 1);
    put_where(out, r, sf);
    /* how sure, and why this role */
    fprintf(out, " - %s (%s", dg_status_name(f->status),
            f->encoding[0] ? f->encoding : sf->detector);
    if (f->text[0])
        fprintf(out, ", %s", f->text);
    fputc(')', out);
    if (f->status == DG_STATUS_CANDIDATE && f->note[0]) {
        fputs(": ", out);
        put_escaped(out, f->note); /* may quote a key store's alias */
    }
    if (f->reason[0]) {
        fputs(" - ", out);
        put_escaped(out, f->reason);
    }
    if (sf->allowed)
        fprintf(out, " [allowed: %s]", sf->allow_note);
    fputc('\n', out);
}

void
text_summary(FILE *out, const struct scan_result *r, unsigned verbose)
{
    char total[32], inreg[32], outside[32], unread[32];
    size_t hi = 0, med = 0, lo = 0, allowed = 0;

    for (size_t i = 0; i < r->n_findings; i++) {
        hi += r->findings[i].f.severity == DG_SEV_HIGH;
        med += r->findings[i].f.severity == DG_SEV_MEDIUM;
        lo += r->findings[i].f.severity == DG_SEV_LOW;
    }
    report_bytes(r->cov.file_bytes, total, sizeof total);
    report_bytes(r->cov.region_bytes, inreg, sizeof inreg);
    report_bytes(r->cov.outside_bytes, outside, sizeof outside);
    report_bytes(r->cov.unreadable_bytes, unread, sizeof unread);
    put_escaped(out, r->name);
    fprintf(out, ": %s%s", r->format, r->format_detail[0] ? " (" : "");
    put_escaped(out, r->format_detail);
    fprintf(out,
            "%s, %s: %zu finding%s (%zu high, %zu medium, %zu low); %s in %zu regions, %s "
            "outside, %s unreadable",
            r->format_detail[0] ? ")" : "", total, r->n_findings, r->n_findings == 1 ? "" : "s",
            hi, med, lo, inreg, r->cov.n_regions, outside, unread);
    for (size_t i = 0; i < r->n_findings; i++)
        allowed += r->findings[i].allowed;
    if (allowed > 0)
        fprintf(out, "; %zu allowed%s", allowed, verbose ? "" : " (listed with -v)");
    if (r->compression[0])
        fprintf(out, "; %s-compressed, offsets in the decompressed dump", r->compression);
    if (r->map != NULL && regions_info_const(r->map)->process.known) {
        const struct regions_process *p = &regions_info_const(r->map)->process;

        fputs("; process ", out);
        put_escaped(out, p->name[0] ? p->name : "?");
        if (p->pid >= 0)
            fprintf(out, " pid %" PRId64, p->pid);
        if (p->uid >= 0)
            fprintf(out, " uid %" PRId64, p->uid);
        if (p->args[0]) {
            fputs(" (", out);
            put_escaped(out, p->args);
            fputc(')', out);
        }
    }
    if (dg_diag_count_level(r->diag, DG_DIAG_WARNING) > 0)
        fprintf(out, "; %zu warning%s", dg_diag_count_level(r->diag, DG_DIAG_WARNING),
                dg_diag_count_level(r->diag, DG_DIAG_WARNING) == 1 ? "" : "s");
    fputc('\n', out);
}

void
text_span(FILE *out, const struct dg_region *s)
{
    char perms[4];

    report_perms(s->perms, perms);
    fprintf(out, "0x%012" PRIx64 " %12" PRIu64 " ", s->off, s->len);
    if (s->has_va)
        fprintf(out, "0x%016" PRIx64 " %s ", s->va, perms);
    else
        fprintf(out, "%-18s --- ", "-");
    fprintf(out, "%-8s ", dg_span_kind_name(s->kind));
    if (s->name != NULL)
        put_escaped(out, s->name); /* a mapped file's path, from the dump */
    if (s->thread >= 0)
        fprintf(out, " (thread %" PRId64 ")", s->thread);
    fputc('\n', out);
}
