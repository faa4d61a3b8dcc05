/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_detector.c - harness for one detector's candidate parser and proof
 * path, without the container and engine around it: the input is one chunk
 * (owned through its end) handed straight to the detector named by
 * DG_FUZZ_DETECTOR, then its finish() (joins evidence across chunks). The
 * input is also the dump's one memory region, mapped at FUZZ_VA, so the
 * detectors that follow pointers through the address map (sshkey, ec-raw's
 * ECX_KEY and BIGNUM walks, rsa-raw's modulus search) follow them into the
 * input itself: an 8-byte little-endian FUZZ_VA + x points at input[x]. The
 * detector is
 * created once: a built-in detector's finish() leaves it as create() made it
 * (detectors/registry.h), so each input is a dump of its own, and the
 * harness checks that rule: a finish() after a finish() reports nothing.
 * A detector with triggers scans the input twice, searching it itself and
 * told where its triggers are by the engine's shared pass (triggers.h), and
 * both must report the same findings.
 */
#include <stdlib.h>
#include <string.h>

#include "../detectors/registry.h"
#include "../scanner/engine/engine_int.h"
#include "../scanner/engine/triggers.h"
#include "../scanner/util/simd.h"
#include "fuzz.h"

#define FUZZ_VA 0x10000ull /* lowest address the pointer checks accept */

#ifndef DG_FUZZ_DETECTOR
#error "define DG_FUZZ_DETECTOR"
#endif

static const struct dg_detector *det;
static const struct dg_config cfg;
static void *shared, *ctx;
static struct trig_table trig;    /* det's triggers alone */
static uint8_t view_of; /* 1 + the detector's view of the hits; 0: none */
static bool use_trig;

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
    char why[160];

    det = registry_find(DG_FUZZ_DETECTOR);
    if (det == NULL || !registry_is_builtin(det))
        return -1;
    if (trig_table_build(&trig, &det, 1, &view_of, why, sizeof why) != DG_OK)
        return -1;
    use_trig = view_of != 0 && dg_cpu_avx2();
    return start();
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    struct dg_region mem = {.off = 0, .len = len, .va = FUZZ_VA, .has_va = true,
                            .perms = DG_PERM_R | DG_PERM_W, .kind = DG_SPAN_ANON, .thread = -1};
    struct dg_regions *map = regions_new();
    struct dg_input in;
    struct dg_dump dump = {.in = &in, .map = map};
    struct dg_chunk ch = {.p = data, .len = len, .owned = len, .off = 0, .last = true,
                          .dump = &dump};
    struct dg_sink sink;

    if (map == NULL || (len > 0 && regions_claim(map, &mem, REGIONS_PRIO_MEMORY) != DG_OK) ||
        regions_finish(map, len) != DG_OK) {
        regions_free(map);
        return 0;
    }
    input_open_memory("fuzz", data, len, &in);
    sink_init(&sink, NULL);
    sink.detector = det->name;
    det->scan(ctx, &ch, &sink);
    if (det->finish != NULL)
        det->finish(shared, &dump, &sink);
    for (size_t i = 0; i < sink.n; i++)
        if (sink.v[i].f.off >= len && len > 0)
            __builtin_trap(); /* a finding outside the input */
    if (use_trig) {
        /* again, told where the triggers are: the same findings */
        struct trig_hits hits = {0};
        struct dg_hits view = {.h = &hits, .view = view_of - 1u};
        struct dg_sink again;

        /* (too dense a chunk: the engine would not use them either) */
        if (trig_hits_reserve(&hits, &trig, len) == DG_OK && trig_find(&trig, data, len, &hits)) {
            ch.hits = &view;
            sink_init(&again, NULL);
            again.detector = det->name;
            det->scan(ctx, &ch, &again);
            if (det->finish != NULL)
                det->finish(shared, &dump, &again);
            if (again.n != sink.n)
                __builtin_trap();
            for (size_t i = 0; i < sink.n; i++)
                if (again.v[i].f.off != sink.v[i].f.off || again.v[i].f.len != sink.v[i].f.len ||
                    strcmp(again.v[i].f.type, sink.v[i].f.type) != 0 ||
                    again.v[i].f.status != sink.v[i].f.status)
                    __builtin_trap();
            sink_free(&again);
            ch.hits = NULL;
        }
        trig_hits_free(&hits);
    }
    sink_free(&sink);
    if (det->finish != NULL) {
        /* The evidence is gone: a second finish() finds nothing to report. */
        sink_init(&sink, NULL);
        det->finish(shared, &dump, &sink);
        if (sink.n != 0)
            __builtin_trap();
        sink_free(&sink);
    }
    regions_free(map);
    return 0;
}

void
dg_fuzz_fini(void)
{
    stop();
}
