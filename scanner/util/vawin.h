/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * vawin.h - reads by virtual address through a window of the dump: what a
 * detector's finish() uses to read many small numbers (a big number's limbs,
 * a struct) at nearby addresses, one read of the input per window instead
 * of one per number.
 *
 * Contract: vawin_read(w, va, buf, len) fills buf exactly as
 * dg_dump_read_va(w->dump, va, buf, len) would and returns what it would;
 * when [va, va + len) lies in one memory region and len is at most
 * VAWIN_SIZE / 4, it reads the window of up to VAWIN_SIZE bytes of that
 * region around va once and serves later reads inside it from memory. The
 * window may hold key bytes: vawin_done() wipes it. Not for use by two
 * threads at once; every detector keeps its own.
 */
#ifndef DUMPGATE_VAWIN_H
#define DUMPGATE_VAWIN_H

#include <stddef.h>
#include <stdint.h>

#include <dumpgate/detector.h>

#define VAWIN_SIZE (64u << 10)

struct vawin {
    const struct dg_dump *dump;
    uint64_t va;       /* buf holds the dump's bytes at [va, va + len) */
    size_t len;        /* 0: nothing held */
    uint8_t *buf;      /* VAWIN_SIZE bytes, or NULL: every read goes to the dump */
};

/* Sets w up for dump (without a buffer when none can be had: reads still
 * work, one read of the input each). */
void vawin_init(struct vawin *w, const struct dg_dump *dump);
dg_err vawin_read(struct vawin *w, uint64_t va, void *buf, size_t len);
/* Wipes and frees the window. */
void vawin_done(struct vawin *w);

#endif
