/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrfree.c - the blocks of a core that hold no pointer into it (see
 * ptrfree.h).
 */
#include "ptrfree.h"

#include "../engine/chunkmemo.h"

void
ptr_free_init(struct ptr_free *pf, const struct dg_regions *map, uint64_t size)
{
    const struct regions_info *info = regions_info_const(map);
    uint64_t unit = PTR_FREE_UNIT_MIN;

    *pf = (struct ptr_free){0};
    /* small blocks, unless the file is so large that a bit each for the
     * first PTR_FREE_MAX_UNITS of them would leave much of it out (a
     * stream: its first 64 GiB); a sparse core of terabytes marks its
     * first blocks only (its holes are the zero map's), the rest is read */
    while (unit < PTR_FREE_UNIT_MAX && size / unit > PTR_FREE_MAX_UNITS)
        unit *= 2;
    if (size == 0 || size / unit > PTR_FREE_MAX_UNITS)
        size = PTR_FREE_MAX_UNITS * unit - 1;
    if ((info->word_size != 0 && info->word_size != 8) || info->big_endian ||
        zero_map_init(&pf->blocks, unit, size) != DG_OK)
        return;
    ptr_cover_build(map, PTR_FREE_REACH, &pf->cover);
    pf->on = true;
}

/* Whether the n words from file offset w0 of chunk ch are a block whose
 * answer the chunk's memo already has (chunkmemo.h: the detectors asked,
 * with this cover), and if so that answer in *has. */
static bool
memo_says(const struct ptr_free *pf, const struct dg_chunk *ch, uint64_t w0, size_t n, bool *has)
{
    const struct dg_chunk_memo *m = ch->memo;
    size_t a, rel, b;

    if (m == NULL || m->cover != &pf->cover || n != MEMO_BLOCK_WORDS)
        return false;
    a = (size_t)(m->w - ch->p);
    if (w0 - ch->off < a || (rel = (size_t)(w0 - ch->off) - a) % (8 * MEMO_BLOCK_WORDS) != 0 ||
        (b = rel / (8 * MEMO_BLOCK_WORDS)) >= m->n_blocks || m->blocks[b].ptr == MEMO_UNKNOWN)
        return false;
    *has = m->blocks[b].ptr != 0;
    return true;
}

/* True when block [lo, lo + unit), whole in ch's owned bytes, is all
 * writable memory (or of unknown permissions) without a word in the cover.
 * *last is the region the block before ended in (blocks of one region do
 * not look it up again), or NULL. */
static bool
block_free(const struct ptr_free *pf, const struct dg_regions *map, const struct dg_chunk *ch,
           uint64_t lo, bool avx2, const struct dg_region **last)
{
    const uint64_t hi = lo + pf->blocks.unit, chunk_end = ch->off + ch->len;

    for (uint64_t at = lo; at < hi;) {
        const struct dg_region *r = *last;
        uint64_t stop, w0;
        bool has;

        if (r == NULL || at < r->off || at - r->off >= r->len)
            *last = r = regions_at(map, at);
        if (r == NULL || !r->has_va || r->off + r->len <= at ||
            (r->perms != 0 && !(r->perms & DG_PERM_W)))
            return false; /* not memory a search reads, or not only such memory */
        stop = r->off + r->len < hi ? r->off + r->len : hi;
        /* the first word aligned in the process at or after at */
        w0 = at + (8 - (r->va + (at - r->off)) % 8) % 8;
        if (w0 < stop && w0 + 8 <= chunk_end) {
            size_t n = (size_t)((stop - w0 + 7) / 8);

            if (n > (chunk_end - w0) / 8)
                n = (size_t)((chunk_end - w0) / 8); /* the file ends: no word past it */
            if (memo_says(pf, ch, w0, n, &has) ? has
                                               : ptr_cover_any(&pf->cover, ch->p + (w0 - ch->off),
                                                               n, avx2))
                return false;
        }
        at = stop;
    }
    return true;
}

void
ptr_free_chunk(struct ptr_free *pf, const struct dg_regions *map, const struct dg_chunk *ch,
               bool avx2)
{
    const struct dg_region *last = NULL;
    uint64_t b, end, unit = pf->blocks.unit;

    if (!pf->on)
        return;
    end = (ch->off + ch->owned) / unit;
    for (b = (ch->off + unit - 1) / unit; b < end; b++)
        if (block_free(pf, map, ch, b * unit, avx2, &last))
            zero_map_set(&pf->blocks, b);
}

bool
ptr_free_usable(const struct ptr_free *pf, const struct dg_regions *map, uint64_t max_offset)
{
    return pf != NULL && pf->on && max_offset <= PTR_FREE_REACH &&
           ptr_cover_holds(&pf->cover, map, max_offset);
}

uint64_t
ptr_free_run(const struct ptr_free *pf, uint64_t off, uint64_t end, bool *is_free)
{
    if (!pf->on) {
        *is_free = false;
        return end;
    }
    return zero_map_run(&pf->blocks, off, end, is_free);
}

void
ptr_free_free(struct ptr_free *pf)
{
    zero_map_free(&pf->blocks);
    *pf = (struct ptr_free){0};
}
