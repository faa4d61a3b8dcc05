/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_sink.c - the evidence a scan's sinks keep (scanner/engine/sink.c):
 * the same evidence seen several times is named by its lowest offset,
 * whichever worker's sink saw which copy and in whatever order the sinks
 * are merged, so that -j1 and -j2 give the same report.
 */
#include <string.h>

#include <dumpgate/detector.h>
#include <dumpgate/error.h>

#include "../../scanner/engine/engine_int.h"
#include "tap.h"

#define CERT "certificate /CN=signer"
#define SPKI "7223bc2aad05427e36ca374f557638b76bd7f3d10260877d005105eb39564402"

/* The offset sink s keeps for SPKI's public evidence, or UINT64_MAX. */
static uint64_t
kept_off(const struct dg_sink *s)
{
    for (size_t i = 0; i < s->n_pub; i++)
        if (s->pub[i].kind == DG_EVIDENCE_PUBLIC && strcmp(s->pub[i].spki_sha256, SPKI) == 0)
            return s->pub[i].off;
    return UINT64_MAX;
}

int
main(void)
{
    struct tap t = {0};
    struct dg_diag *d = dg_diag_new();
    struct dg_sink a, b, all;

    sink_init(&a, d);
    sink_init(&b, d);
    sink_init(&all, d);
    /* one sink, the later copy first */
    dg_report_public(&a, SPKI, CERT " (second copy)", 0x246525a0);
    dg_report_public(&a, SPKI, CERT, 0xa08eeb8);
    tap_check(&t, kept_off(&a) == 0xa08eeb8 && a.n_pub == 1, "one sink keeps the lowest offset");
    tap_check(&t, strcmp(a.pub[0].what, CERT) == 0, "and what was seen there");
    /* two workers' sinks, merged with the later copy's first */
    sink_free(&a);
    sink_init(&a, d);
    dg_report_public(&a, SPKI, CERT " (second copy)", 0x246525a0);
    dg_report_public(&b, SPKI, CERT, 0xa08eeb8);
    sink_take(&all, &a);
    sink_take(&all, &b);
    tap_check(&t, kept_off(&all) == 0xa08eeb8 && all.n_pub == 1,
              "merged sinks keep the lowest offset");
    /* other kinds of evidence about the same key stay apart */
    dg_report_evidence(&all, DG_EVIDENCE_KEY_SHARE, SPKI, "TLS 1.3 key share", 0x10);
    tap_check(&t, all.n_pub == 2 && kept_off(&all) == 0xa08eeb8, "a key share is its own");
    sink_free(&a);
    sink_free(&b);
    sink_free(&all);
    dg_diag_free(d);
    return tap_done(&t);
}
