/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_envelope.c - harness for the Sentry envelope splitter
 * (scanner/input/envelope.c). The first byte picks the piece size the rest
 * is fed in, so that every split of a header line or a payload is tried;
 * the item payloads must add up to at most the input.
 */
#include <stdlib.h>

#include "../scanner/input/envelope.h"
#include "fuzz.h"

struct count {
    size_t parts, bytes;
};

static bool
on_part(void *arg, bool fresh, const char *data, size_t len)
{
    struct count *c = arg;

    (void)data;
    c->parts += fresh;
    c->bytes += len;
    return c->parts <= 64;
}

int
dg_fuzz_init(void)
{
    return 0;
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    struct envelope *e = NULL;
    struct count c = {0, 0};
    char why[200];
    size_t step;
    bool ok = true;

    if (len == 0)
        return 0;
    step = (size_t)data[0] % 17 + 1;
    e = malloc(sizeof *e);
    if (e == NULL)
        return 0;
    envelope_init(e);
    for (size_t i = 1; ok && i < len; i += step)
        ok = envelope_feed(e, (const char *)data + i, i + step <= len ? step : len - i, on_part,
                           &c, why, sizeof why);
    if (ok)
        envelope_end(e, why, sizeof why);
    if (c.bytes > len)
        __builtin_trap();
    free(e);
    return 0;
}

void
dg_fuzz_fini(void)
{
}
