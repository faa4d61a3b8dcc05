/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * vawin.c - reads by virtual address through a window of the dump (see
 * vawin.h), on top of dg_dump_read_va() and dg_dump_region_at_va(): every
 * byte it serves was read from a memory region of the dump.
 */
#include <stdlib.h>
#include <string.h>

#include "iobuf.h"
#include "vawin.h"

void
vawin_init(struct vawin *w, const struct dg_dump *dump)
{
    *w = (struct vawin){.dump = dump, .buf = iobuf_alloc(VAWIN_SIZE)};
}

/* Loads the window around va for a read of len bytes: up to VAWIN_SIZE
 * bytes of va's region, from the page before va's page (from the region's
 * start when va is in its first two pages). False when [va, va + len) does
 * not fit in one window of one region. */
static bool
load(struct vawin *w, uint64_t va, size_t len)
{
    const struct dg_region *r = dg_dump_region_at_va(w->dump, va);
    uint64_t start, n;

    if (r == NULL || va - r->va > r->len || len > r->len - (va - r->va))
        return false;
    start = va - r->va >= 8192 ? (va & ~(uint64_t)4095) - 4096 : r->va;
    n = r->len - (start - r->va);
    n = n < VAWIN_SIZE ? n : VAWIN_SIZE;
    if (va - start > n || len > n - (va - start))
        return false;
    w->len = 0;
    if (dg_dump_read_va(w->dump, start, w->buf, (size_t)n) != DG_OK)
        return false; /* a short file: the plain read says what is missing */
    w->va = start;
    w->len = (size_t)n;
    return true;
}

dg_err
vawin_read(struct vawin *w, uint64_t va, void *buf, size_t len)
{
    if (w->buf != NULL && len <= VAWIN_SIZE / 4) {
        if ((w->len > 0 && va >= w->va && va - w->va <= w->len && len <= w->len - (va - w->va)) ||
            load(w, va, len)) {
            memcpy(buf, w->buf + (va - w->va), len);
            return DG_OK;
        }
    }
    return dg_dump_read_va(w->dump, va, buf, len);
}

void
vawin_done(struct vawin *w)
{
    if (w->buf != NULL) {
        explicit_bzero(w->buf, VAWIN_SIZE);
        free(w->buf);
    }
    *w = (struct vawin){0};
}
