/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_detector.c - harness for one detector's candidate parser and proof
 * path, without the container and engine around it: the input is one chunk
 * (owned through its end) handed straight to the detector named by
 * DG_FUZZ_DETECTOR. A detector without finish() keeps its state across
 * inputs, as it does across chunks; one with finish() (joins evidence across
 * chunks) is created and finished per input, with no dump map (pointer
 * following sees no memory).
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
static bool persistent;

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
    if (det == NULL)
        return -1;
    persistent = det->finish == NULL;
    return persistent ? start() : 0;
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    struct dg_chunk ch = {.p = data, .len = len, .owned = len, .off = 0, .last = true};
    struct dg_sink sink;

    if (!persistent && start() != 0) {
        stop();
        return 0;
    }
    sink_init(&sink, NULL);
    sink.detector = det->name;
    det->scan(ctx, &ch, &sink);
    if (det->finish != NULL)
        det->finish(shared, NULL, &sink);
    for (size_t i = 0; i < sink.n; i++)
        if (sink.v[i].f.off >= len && len > 0)
            __builtin_trap(); /* a finding outside the input */
    sink_free(&sink);
    if (!persistent)
        stop();
    return 0;
}

void
dg_fuzz_fini(void)
{
    if (persistent)
        stop();
}
