/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrfree.c - the blocks of a core that hold no pointer into it (see
 * ptrfree.h).
 */
#include "ptrfree.h"

void
ptr_free_init(struct ptr_free *pf, const struct dg_regions *map, uint64_t size)
{
    const struct regions_info *info = regions_info_const(map);

    *pf = (struct ptr_free){0};
    /* a bit a block of the first PTR_FREE_MAX_BYTES (a sparse core of
     * terabytes: its holes are the zero map's); blocks past them are read */
    if ((info->word_size != 0 && info->word_size != 8) || info->big_endian ||
        zero_map_init(&pf->blocks, PTR_FREE_BLOCK,
                      size > PTR_FREE_MAX_BYTES ? PTR_FREE_MAX_BYTES : size) != DG_OK)
        return;
    ptr_cover_build(map, PTR_FREE_REACH, &pf->cover);
    pf->on = true;
}

/* True when block [lo, lo + PTR_FREE_BLOCK), whole in ch's owned bytes, is
 * all writable memory (or of unknown permissions) without a word in the
 * cover. */
static bool
block_free(const struct ptr_free *pf, const struct dg_regions *map, const struct dg_chunk *ch,
           uint64_t lo, bool avx2)
{
    const uint64_t hi = lo + PTR_FREE_BLOCK, chunk_end = ch->off + ch->len;

    for (uint64_t at = lo; at < hi;) {
        const struct dg_region *r = regions_at(map, at);
        uint64_t stop, w0;

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
            if (ptr_cover_any(&pf->cover, ch->p + (w0 - ch->off), n, avx2))
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
    uint64_t b, end;

    if (!pf->on)
        return;
    end = (ch->off + ch->owned) / PTR_FREE_BLOCK;
    for (b = (ch->off + PTR_FREE_BLOCK - 1) / PTR_FREE_BLOCK; b < end; b++)
        if (block_free(pf, map, ch, b * PTR_FREE_BLOCK, avx2))
            zero_map_set(&pf->blocks, b);
}

bool
ptr_free_usable(const struct ptr_free *pf, const struct dg_regions *map, uint64_t max_offset)
{
    return pf != NULL && pf->on && max_offset <= PTR_FREE_REACH &&
           ptr_cover_holds(&pf->cover, map, max_offset);
}

bool
ptr_free_covers(const struct ptr_free *pf, uint64_t off, uint64_t len)
{
    return pf->on && zero_map_covers(&pf->blocks, off, len);
}

void
ptr_free_free(struct ptr_free *pf)
{
    zero_map_free(&pf->blocks);
    *pf = (struct ptr_free){0};
}
