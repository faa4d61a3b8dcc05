/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * marker.c - an example dumpgate plug-in, built out of tree against the
 * installed headers (pkg-config dumpgate). It finds the planted test marker
 * "DUMPGATE-TEST-MARKER-" followed by 16 hex digits and reports it by the
 * SHA-256 of the match, never the match itself.
 *
 *   dumpgate scan --plugin ./marker.so core
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include <dumpgate/plugin.h>

#define PREFIX "DUMPGATE-TEST-MARKER-"
#define PREFIX_LEN (sizeof PREFIX - 1)
#define MATCH_LEN (PREFIX_LEN + 16)

static const char *const forms[] = {"ascii", NULL};

static int
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static dg_err
marker_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    const unsigned char *p = ch->p, *end = ch->p + ch->len, *q;

    (void)ctx;
    for (q = p; (q = memmem(q, (size_t)(end - q), PREFIX, PREFIX_LEN)) != NULL; q++) {
        struct dg_finding f;
        unsigned char md[32];
        unsigned int mdlen = 0;
        size_t i;

        if ((size_t)(q - p) >= ch->owned)
            break; /* the next chunk's */
        if ((size_t)(end - q) < MATCH_LEN)
            break;
        for (i = PREFIX_LEN; i < MATCH_LEN && is_hex(q[i]); i++)
            ;
        if (i < MATCH_LEN)
            continue;
        memset(&f, 0, sizeof f);
        dg_strlcpyf(f.type, sizeof f.type, "test-marker");
        f.status = DG_STATUS_CONFIRMED;
        f.severity = DG_SEV_MEDIUM;
        f.off = ch->off + (uint64_t)(q - p);
        f.len = MATCH_LEN;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "marker");
        dg_strlcpyf(f.text, sizeof f.text, "ascii");
        dg_strlcpyf(f.preview, sizeof f.preview, PREFIX "[16 hex digits, redacted]");
        if (EVP_Digest(q, MATCH_LEN, md, &mdlen, EVP_sha256(), NULL) == 1)
            for (i = 0; i < 32; i++)
                snprintf(f.match_sha256 + 2 * i, 3, "%02x", md[i]);
        dg_report(sink, &f);
    }
    return DG_OK;
}

static const struct dg_detector marker = {
    .abi = DG_DETECTOR_ABI,
    .name = "marker",
    .summary = "example plug-in: the planted DUMPGATE-TEST-MARKER-<16 hex digits>",
    .forms = forms,
    .severity = DG_SEV_MEDIUM,
    .max_span = MATCH_LEN,
    .flags = DG_DET_TEXT,
    .default_on = true,
    .scan = marker_scan,
};

DG_PLUGIN_EXPORT const struct dg_detector *
dg_detector_entry_v1(void)
{
    return &marker;
}
