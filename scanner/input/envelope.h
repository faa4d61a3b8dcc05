/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * envelope.h - splits a Sentry envelope into its item payloads, as a stream.
 *
 * An envelope (develop.sentry.dev/sdk/envelopes) is a header line (a JSON
 * object), then items: each a JSON header line with an optional "length",
 * and that many payload bytes, or without "length" a payload up to the next
 * newline; a newline may follow a payload; blank lines between items are
 * allowed. No library parses this framing; this one is defensive: a header
 * line is at most ENVELOPE_LINE_MAX bytes and must be a JSON object
 * (jansson), and nothing is buffered beyond that one line.
 *
 * Contract: envelope_init(), then envelope_feed() with the bytes in order
 * (any split), then envelope_end(). For every item payload the callback is
 * called with fresh = true (data may be empty) before its first bytes, then
 * with fresh = false for the rest; it returns false to stop (the splitter
 * then returns false with why "stopped"). envelope_feed() and
 * envelope_end() return false with why set when the bytes are no envelope
 * or end inside a header line or a payload of known length.
 */
#ifndef DUMPGATE_ENVELOPE_H
#define DUMPGATE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_LINE_MAX 8192u

typedef bool (*envelope_part_fn)(void *arg, bool fresh, const char *data, size_t len);

struct envelope {
    enum { ENV_HEADER, ENV_ITEM, ENV_PAYLOAD, ENV_NEWLINE } state;
    char line[ENVELOPE_LINE_MAX];
    size_t len;
    uint64_t left;               /* payload bytes left; UINT64_MAX: up to a newline */
    unsigned items;
};

void envelope_init(struct envelope *e);
bool envelope_feed(struct envelope *e, const char *data, size_t len, envelope_part_fn fn,
                   void *arg, char *why, size_t cap);
bool envelope_end(const struct envelope *e, char *why, size_t cap);

#endif
