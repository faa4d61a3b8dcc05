/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * names.c - names of enum values and small string helpers shared by every
 * layer (severity, status, span kinds, bounded formatted copies).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <dumpgate/detector.h>
#include <dumpgate/finding.h>

void
dg_strlcpyf(char *dst, unsigned long n, const char *fmt, ...)
{
    va_list ap;

    if (n == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

const char *
dg_severity_name(enum dg_severity s)
{
    switch (s) {
    case DG_SEV_LOW:
        return "low";
    case DG_SEV_MEDIUM:
        return "medium";
    case DG_SEV_HIGH:
        return "high";
    case DG_SEV_NONE:
        break;
    }
    return "none";
}

const char *
dg_status_name(enum dg_status s)
{
    return s == DG_STATUS_CONFIRMED ? "confirmed" : "candidate";
}

bool
dg_severity_parse(const char *s, enum dg_severity *out)
{
    static const enum dg_severity all[] = {DG_SEV_LOW, DG_SEV_MEDIUM, DG_SEV_HIGH};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, dg_severity_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

const char *
dg_role_name(enum dg_role r)
{
    static const char *const names[DG_ROLE_COUNT] = {
        [DG_ROLE_UNSET] = "unset",           [DG_ROLE_LONG_TERM] = "long-term",
        [DG_ROLE_KEY_AGREEMENT] = "key-agreement", [DG_ROLE_EPHEMERAL] = "ephemeral",
        [DG_ROLE_SESSION] = "session",       [DG_ROLE_RNG_STATE] = "rng-state",
        [DG_ROLE_SYMMETRIC] = "symmetric",
    };

    return (unsigned)r < DG_ROLE_COUNT ? names[r] : "unset";
}

bool
dg_role_parse(const char *s, enum dg_role *out)
{
    for (int r = DG_ROLE_UNSET + 1; r < DG_ROLE_COUNT; r++) {
        if (strcmp(s, dg_role_name((enum dg_role)r)) == 0) {
            *out = (enum dg_role)r;
            return true;
        }
    }
    return false;
}

const char *
dg_span_kind_name(enum dg_span_kind k)
{
    static const char *const names[DG_SPAN_KIND_COUNT] = {
        [DG_SPAN_ANON] = "anon",       [DG_SPAN_HEAP] = "heap",
        [DG_SPAN_STACK] = "stack",     [DG_SPAN_FILE] = "file",
        [DG_SPAN_MODULE] = "module",   [DG_SPAN_VDSO] = "vdso",
        [DG_SPAN_MEMORY] = "memory",   [DG_SPAN_HEADER] = "header",
        [DG_SPAN_NOTES] = "notes",     [DG_SPAN_STREAM] = "stream",
        [DG_SPAN_CONTEXT] = "context", [DG_SPAN_GAP] = "gap",
        [DG_SPAN_TRAILING] = "trailing", [DG_SPAN_RAW] = "raw",
    };

    return (unsigned)k < DG_SPAN_KIND_COUNT && names[k] != NULL ? names[k] : "unknown";
}
