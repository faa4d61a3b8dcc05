/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * envelope.c - splits a Sentry envelope into its item payloads as the bytes
 * arrive (contract in envelope.h).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "envelope.h"

void
envelope_init(struct envelope *e)
{
    memset(e, 0, sizeof *e);
    e->state = ENV_HEADER;
}

/* A complete header line is in e->line[0..e->len): the envelope's header,
 * a blank line, or an item's header (which starts its payload). */
static bool
header_line(struct envelope *e, envelope_part_fn fn, void *arg, char *why, size_t cap)
{
    json_t *h = NULL, *len;
    bool was_header = e->state == ENV_HEADER;

    if (e->len > 0) {
        e->line[e->len] = '\0';
        h = json_loadb(e->line, e->len, 0, NULL);
        if (!json_is_object(h)) {
            json_decref(h);
            snprintf(why, cap, "envelope: a header line that is no JSON object");
            return false;
        }
    }
    e->len = 0;
    e->state = ENV_ITEM;
    if (was_header || h == NULL) {
        json_decref(h);
        return true;
    }
    len = json_object_get(h, "length");
    e->left = json_is_integer(len) && json_integer_value(len) >= 0
                  ? (uint64_t)json_integer_value(len)
                  : UINT64_MAX;
    json_decref(h);
    e->items++;
    if (!fn(arg, true, "", 0)) {
        snprintf(why, cap, "stopped");
        return false;
    }
    e->state = e->left == 0 ? ENV_NEWLINE : ENV_PAYLOAD;
    return true;
}

bool
envelope_feed(struct envelope *e, const char *data, size_t len, envelope_part_fn fn, void *arg,
              char *why, size_t cap)
{
    for (size_t i = 0; i < len;) {
        if (e->state == ENV_HEADER || e->state == ENV_ITEM) {
            const char *nl = memchr(data + i, '\n', len - i);
            size_t take = nl != NULL ? (size_t)(nl - (data + i)) : len - i;

            if (e->len + take >= sizeof e->line) {
                snprintf(why, cap, "envelope: a header line longer than %u bytes",
                         ENVELOPE_LINE_MAX);
                return false;
            }
            memcpy(e->line + e->len, data + i, take);
            e->len += take;
            i += take;
            if (nl == NULL)
                break;
            i++; /* the newline */
            if (!header_line(e, fn, arg, why, cap))
                return false;
        } else if (e->state == ENV_PAYLOAD) {
            size_t take = len - i;
            const char *nl = NULL;

            if (e->left == UINT64_MAX && (nl = memchr(data + i, '\n', take)) != NULL)
                take = (size_t)(nl - (data + i));
            else if (e->left != UINT64_MAX && take > e->left)
                take = (size_t)e->left;
            if (take > 0 && !fn(arg, false, data + i, take)) {
                snprintf(why, cap, "stopped");
                return false;
            }
            i += take;
            if (e->left != UINT64_MAX)
                e->left -= take;
            if (nl != NULL) {
                i++;
                e->state = ENV_ITEM;
            } else if (e->left == 0) {
                e->state = ENV_NEWLINE;
            }
        } else { /* the newline after a payload of known length, if any */
            if (data[i] == '\n')
                i++;
            e->state = ENV_ITEM;
        }
    }
    return true;
}

bool
envelope_end(const struct envelope *e, char *why, size_t cap)
{
    if (e->state == ENV_HEADER || e->len > 0 ||
        (e->state == ENV_PAYLOAD && e->left != UINT64_MAX)) {
        snprintf(why, cap, "envelope ends early");
        return false;
    }
    return true;
}
