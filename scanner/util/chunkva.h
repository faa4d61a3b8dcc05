/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * chunkva.h - where a chunk's bytes were in the dumped process: the two
 * address questions the structure-reading detectors ask of every chunk.
 *
 * Contract: chunk_va(ch, i) is the virtual address of chunk index i, or 0
 * when that byte was not process memory (raw files, headers, notes) or the
 * chunk has no dump. chunk_phase(ch) is the first chunk index that is 8-byte
 * aligned in the process, by file offset when the chunk's first byte has no
 * address: where a scan of 64-bit words starts. chunk_span_end(ch, i, &image)
 * is the chunk index where the span holding chunk index i ends (at most
 * ch->len, always > i), and sets image when that span is a mapping of a file
 * the process could not write (dg_region_is_image(): code, read-only data, a
 * file mapped for reading). Such bytes are the file's own, so nothing the
 * process computed at run time (a key's limbs, a key schedule, a library's
 * key struct) lies there: the detectors that look for those skip them (and
 * say so with DG_DET_NO_IMAGES; chunk_searched_span() walks the spans for
 * them), the ones that look for encodings (PEM, DER) do not.
 * chunk_copy_va(ch, va, buf, len) copies what dg_dump_read_va() would read
 * at va when the chunk holds all of it, else nothing (returns false).
 */
#ifndef DUMPGATE_CHUNKVA_H
#define DUMPGATE_CHUNKVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <dumpgate/detector.h>

static inline uint64_t
chunk_va(const struct dg_chunk *ch, size_t i)
{
    const struct dg_region *r = ch->dump != NULL ? dg_dump_region_at(ch->dump, ch->off + i)
                                                 : NULL;

    return r != NULL && r->has_va ? r->va + (ch->off + i - r->off) : 0;
}

static inline size_t
chunk_phase(const struct dg_chunk *ch)
{
    uint64_t addr = chunk_va(ch, 0);

    if (addr == 0)
        addr = ch->off;
    return (size_t)((8 - (addr & 7)) & 7);
}

static inline size_t
chunk_span_end(const struct dg_chunk *ch, size_t i, bool *image)
{
    const struct dg_region *r = ch->dump != NULL ? dg_dump_region_at(ch->dump, ch->off + i)
                                                 : NULL;
    uint64_t end;

    *image = false;
    if (r == NULL || r->off + r->len <= ch->off + i)
        return ch->len;
    *image = dg_region_is_image(r);
    end = r->off + r->len - ch->off;
    return end < ch->len ? (size_t)end : ch->len;
}

/* Copies into buf the len bytes the process held at address va, when they
 * lie in one span of the dump and within the chunk's bytes, and returns
 * true: the bytes dg_dump_read_va() would give, taken while the chunk is in
 * memory. Else copies nothing and returns false: the detector reads them
 * from the dump later if it still needs them. */
static inline bool
chunk_copy_va(const struct dg_chunk *ch, uint64_t va, void *buf, size_t len)
{
    const struct dg_region *r = ch->dump != NULL ? dg_dump_region_at_va(ch->dump, va) : NULL;
    uint64_t at;

    if (r == NULL || va < r->va || va - r->va > r->len || len > r->len - (va - r->va))
        return false;
    at = r->off + (va - r->va);
    if (at < ch->off || at - ch->off > ch->len || len > ch->len - (at - ch->off))
        return false;
    memcpy(buf, ch->p + (at - ch->off), len);
    return true;
}

/* The next bytes from *i on that a detector skipping a file's read-only
 * image searches: moves *i past the image spans it meets (by whole words,
 * so *i keeps its place among the 8-byte words) and returns where the span
 * it stops in ends, at most end. *i >= end: nothing is left before end. */
static inline size_t
chunk_searched_span(const struct dg_chunk *ch, size_t *i, size_t end)
{
    size_t stop = end;
    bool image;

    while (*i < end) {
        stop = chunk_span_end(ch, *i, &image);
        if (!image)
            break;
        *i += (stop - *i + 7) & ~(size_t)7;
    }
    return stop < end ? stop : end;
}

#endif
