/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ptrfree.c - the blocks of a core that hold no pointer into it, and the
 * summaries of where the others point (see ptrfree.h).
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
    (void)ptr_sums_init(&pf->sums, map, PTR_FREE_REACH, 0); /* or none: the search makes them */
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

/* Looks at block [lo, hi) of chunk ch (whole in its owned bytes, or its
 * last bytes when it ends the file): true when all of it is writable memory
 * (or of unknown permissions) without a word in the cover. With sum, every
 * word of such memory in the block is noted there (ptrsums.h); without, the
 * walk stops at the first answer. *last is the span the block before ended
 * in (blocks of one span do not look it up again), or NULL. */
static bool
block_walk(const struct ptr_free *pf, const struct dg_regions *map, const struct dg_chunk *ch,
           uint64_t lo, uint64_t hi, bool avx2, const struct dg_region **last, uint64_t *sum,
           size_t *set)
{
    const uint64_t chunk_end = ch->off + ch->len;
    bool is_free = true;

    for (uint64_t at = lo; at < hi;) {
        const struct dg_region *r = *last;
        uint64_t stop, w0;
        bool has;

        if (r == NULL || at < r->off || at - r->off >= r->len)
            *last = r = regions_at(map, at);
        if (r == NULL || r->off + r->len <= at)
            return false; /* past the map: nothing a search reads */
        stop = r->off + r->len < hi ? r->off + r->len : hi;
        if (!r->has_va || (r->perms != 0 && !(r->perms & DG_PERM_W))) {
            /* not memory a search reads: the block is not only such memory */
            if (sum == NULL)
                return false;
            is_free = false;
            at = stop;
            continue;
        }
        /* the first word aligned in the process at or after at */
        w0 = at + (8 - (r->va + (at - r->off)) % 8) % 8;
        if (w0 < stop && w0 + 8 <= chunk_end) {
            size_t n = (size_t)((stop - w0 + 7) / 8);
            const uint8_t *p = ch->p + (w0 - ch->off);
            bool asked;

            if (n > (chunk_end - w0) / 8)
                n = (size_t)((chunk_end - w0) / 8); /* the file ends: no word past it */
            /* the memo's answer (the detectors asked) where it has one: a
             * "no" needs nothing more, a "yes" still its words noted */
            asked = memo_says(pf, ch, w0, n, &has);
            if (asked && !has)
                ;
            else if (sum != NULL)
                is_free &= !ptr_sums_note(&pf->sums, sum, set, &pf->cover, p, n, avx2);
            else if (asked || ptr_cover_any(&pf->cover, p, n, avx2))
                return false;
        }
        at = stop;
    }
    return is_free;
}

void
ptr_free_chunk(struct ptr_free *pf, const struct dg_regions *map, const struct dg_chunk *ch,
               bool avx2, bool sums)
{
    const struct dg_region *last = NULL;
    const uint64_t unit = pf->blocks.unit, own_end = ch->off + ch->owned;
    const uint64_t sb = pf->sums.block != 0 ? pf->sums.block : PTR_SUMS_BLOCK_MIN;
    /* the file ends with this chunk's owned bytes: its last block, however
     * short, is whole */
    const bool to_end = ch->last && ch->owned == ch->len;
    uint64_t b, end, s_lo, s_hi, open_k = UINT64_MAX;
    bool full = false; /* open_k's summary is all ones */
    size_t set = 0;    /* bits of open_k's summary set */

    if (!pf->on)
        return;
    /* the summaries (ptrsums.h) of the blocks of the file that lie whole in
     * the owned bytes, one chunk filling each */
    s_lo = (ch->off + sb - 1) / sb;
    s_hi = !sums ? s_lo : to_end ? (own_end + sb - 1) / sb : own_end / sb;
    end = to_end ? (own_end + unit - 1) / unit : own_end / unit;
    for (b = (ch->off + unit - 1) / unit; b < end; b++) {
        const uint64_t lo = b * unit, hi = lo + unit < own_end ? lo + unit : own_end;
        const uint64_t k = lo / sb;
        uint64_t *sum = k >= s_lo && k < s_hi ? ptr_sums_open(&pf->sums, k) : NULL;

        if (sum != NULL && k != open_k) {
            open_k = k;
            full = false;
            set = 0;
        } else if (sum != NULL && !full) {
            full = ptr_sums_saturate(&pf->sums, sum, set);
        }
        if (full)
            sum = NULL; /* it meets every target already: nothing more to note */
        if (block_walk(pf, map, ch, lo, hi, avx2, &last, sum, &set) && hi - lo == unit)
            zero_map_set(&pf->blocks, b);
    }
    for (uint64_t k = s_lo; k < s_hi; k++)
        ptr_sums_close(&pf->sums, k);
}

void
ptr_free_empty(struct ptr_free *pf, uint64_t off, uint64_t owned, bool to_end)
{
    const uint64_t own_end = off + owned;
    const uint64_t sb = pf->sums.block != 0 ? pf->sums.block : PTR_SUMS_BLOCK_MIN;
    uint64_t k = (off + sb - 1) / sb;
    const uint64_t k_end = to_end ? (own_end + sb - 1) / sb : own_end / sb;

    if (!pf->on)
        return;
    for (; k < k_end; k++)
        ptr_sums_close(&pf->sums, k); /* nothing to note: no word there points anywhere */
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
    ptr_sums_free(&pf->sums);
    *pf = (struct ptr_free){0};
}
