/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_detector.c - harness for one detector's candidate parser and proof
 * path, without the container and engine around it: the input is one chunk
 * (owned through its end) handed straight to the detector named by
 * DG_FUZZ_DETECTOR, then its finish() (joins evidence across chunks) runs
 * with no dump map (pointer following sees no memory). The detector is
 * created once: a built-in detector's finish() leaves it as create() made it
 * (detectors/registry.h), so each input is a dump of its own, and the
 * harness checks that rule: a finish() after a finish() reports nothing.
 */
#include <stdlib.h>

#include "../detectors/registry.h"
#include "../scanner/engine/engine_int.h"
#include "fuzz.h"

#ifndef DG_FUZZ_DETECTOR
#error "define DG_FUZZ_DETECTOR"
#endif

static const struct dg_detector *det;
static const struct dg_config cfg;
static void *shared, *ctx;

static int
start(void)
{
    if (det->create != NULL && det->create(&cfg, &shared) != DG_OK)
        return -1;
    if (det->init != NULL && det->init(shared, &ctx) != DG_OK)
        return -1;
    return 0;
}

static void
stop(void)
{
    if (det->release != NULL && ctx != NULL)
        det->release(ctx);
    if (det->destroy != NULL && shared != NULL)
        det->destroy(shared);
    ctx = shared = NULL;
}

int
dg_fuzz_init(void)
{
    det = registry_find(DG_FUZZ_DETECTOR);
    if (det == NULL || !registry_is_builtin(det))
        return -1;
    return start();
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    struct dg_chunk ch = {.p = data, .len = len, .owned = len, .off = 0, .last = true};
    struct dg_sink sink;

    sink_init(&sink, NULL);
    sink.detector = det->name;
    det->scan(ctx, &ch, &sink);
    if (det->finish != NULL)
        det->finish(shared, NULL, &sink);
    for (size_t i = 0; i < sink.n; i++)
        if (sink.v[i].f.off >= len && len > 0)
            __builtin_trap(); /* a finding outside the input */
    sink_free(&sink);
    if (det->finish != NULL) {
        /* The evidence is gone: a second finish() finds nothing to report. */
        sink_init(&sink, NULL);
        det->finish(shared, NULL, &sink);
        if (sink.n != 0)
            __builtin_trap();
        sink_free(&sink);
    }
    return 0;
}

void
dg_fuzz_fini(void)
{
    stop();
}
