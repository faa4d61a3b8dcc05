/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * chunkmemo.h - what several built-in detectors compute from the same chunk,
 * computed once per chunk and shared: the word_flags() of its 64-bit words,
 * which rsa-raw and rsa-factor both read (each computed them for itself
 * before: 2.5 % of a scan each); where runs of random-looking words lie,
 * which aes, eddsa-raw, rsa-raw and rsa-factor read to skip the blocks no
 * key can be in; and where words that may point into the dump lie, which
 * the searches for library structs read to skip the blocks no struct with
 * a pointer can be in.
 *
 * Contract: the engine gives each worker a memo, chunk_memo_reset() ties it
 * to a chunk before the detectors see it, and the chunk carries it
 * (dg_chunk.memo). A detector asks chunk_memo_of(ch, own) once per chunk:
 * the chunk's memo, or, when the chunk carries none (a test harness or a
 * fuzzer calls scan() itself), its own memo own tied to ch; NULL only when
 * that is out of memory. chunk_word_flags(m, lo, hi) returns f with f[w] =
 * word_flags() of the word at ch->p + chunk_phase(ch) + 8w for every w in
 * [lo, hi) below (ch->len - chunk_phase(ch)) / 8; the blocks of
 * MEMO_BLOCK_WORDS words holding them are computed on the first request in
 * this chunk, others are not (a detector that skips a file's read-only
 * image costs nothing there). A memo belongs to one worker thread, which
 * runs a chunk's detectors one after the other, so it needs no lock; the
 * flags are valid until the detector's scan() returns.
 */
#ifndef DUMPGATE_CHUNKMEMO_H
#define DUMPGATE_CHUNKMEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/detector.h>
#include <dumpgate/error.h>

#include "../where/ptrcover.h"

#define MEMO_BLOCK_WORDS 512u /* words per block computed on demand: 4 KiB of memory */
#define MEMO_RUN_MAX 8u       /* runs of words that are not WF_BAD are measured up to this
                               * (eight: chunkmemo.c tests eight flags as one word) */
#define MEMO_UNKNOWN 0xffu    /* a memo_block answer not computed yet */

/* What is known of one block. */
struct memo_block {
    uint8_t runs_known;  /* 1 once the three below are computed (from its flags) */
    uint8_t longest;     /* its longest run of words that are not WF_BAD, */
    uint8_t lead, trail; /* and such words at its start and end (each at most
                          * MEMO_RUN_MAX) */
    uint8_t random_near; /* the longest run with a word here or next door, or MEMO_UNKNOWN */
    uint8_t ptr;         /* 1: a word of it lies in the cover; 0, or MEMO_UNKNOWN */
    uint8_t ptr_near;    /* ptr of it or of a neighbour, or MEMO_UNKNOWN */
};

struct dg_chunk_memo {
    const uint8_t *w;     /* the chunk's first aligned word: p + chunk_phase() */
    size_t n_words;       /* its words */
    size_t n_blocks;      /* their blocks */
    uint8_t *wf;          /* their flags, block by block as asked for */
    uint64_t *done;       /* bit b: block b of wf is computed */
    struct memo_block *blocks;
    size_t cap_words;
    const struct ptr_cover *cover; /* see chunk_pointer_near(), or NULL */
    bool avx2;
};

/* Ties m to ch (no flag computed yet; m->cover kept). DG_E_NOMEM: m is left
 * empty and the chunk must not carry it. */
dg_err chunk_memo_reset(struct dg_chunk_memo *m, const struct dg_chunk *ch);
void chunk_memo_free(struct dg_chunk_memo *m);

struct dg_chunk_memo *chunk_memo_of(const struct dg_chunk *ch, struct dg_chunk_memo *own);
const uint8_t *chunk_word_flags(struct dg_chunk_memo *m, size_t lo, size_t hi);

/* The answers below the first time they are asked for a block (b <
 * m->n_blocks), computed then and kept. */
unsigned chunk_random_near_run(struct dg_chunk_memo *m, size_t b);
bool chunk_pointer_near_now(struct dg_chunk_memo *m, size_t b);

static inline bool
chunk_random_near(struct dg_chunk_memo *m, size_t b, unsigned r)
{
    unsigned near;

    if (b >= m->n_blocks)
        return false;
    near = m->blocks[b].random_near;
    if (near == MEMO_UNKNOWN)
        near = chunk_random_near_run(m, b);
    return near >= (r < MEMO_RUN_MAX ? r : MEMO_RUN_MAX);
}

static inline bool
chunk_pointer_near(struct dg_chunk_memo *m, size_t b)
{
    if (m->cover == NULL)
        return true;
    if (b >= m->n_blocks)
        return false;
    if (m->blocks[b].ptr_near != MEMO_UNKNOWN)
        return m->blocks[b].ptr_near != 0;
    return chunk_pointer_near_now(m, b);
}

/* For a detector searching chunk indices [x, stop) of ch in steps of 8
 * bytes for structs that chunk_pointer_near() keeps (and, when r is not 0,
 * for ones that chunk_random_near(.., r) keeps too): the first index at or
 * after x, on x's lattice of 8 bytes, in a block kept, or stop when none
 * is; *end is where that block's run of kept blocks ends (at most stop).
 * Without the engine's memo (ch->memo NULL) or a cover: x, and stop. */
static inline size_t
chunk_kept_span(const struct dg_chunk *ch, size_t x, size_t stop, unsigned r, size_t *end)
{
    struct dg_chunk_memo *m = ch->memo;
    const size_t blk = 8u * MEMO_BLOCK_WORDS;
    size_t a, b, e;

    *end = stop;
    if (m == NULL || m->cover == NULL || x >= stop)
        return x;
    a = (size_t)(m->w - ch->p);
    b = x < a ? 0 : (x - a) / blk;
    while (!chunk_pointer_near(m, b) && !(r != 0 && chunk_random_near(m, b, r))) {
        size_t next = a + (b + 1) * blk;

        if (next >= stop)
            return stop;
        x = next + ((x - next) & 7u); /* x's place among the words */
        b++;
    }
    for (e = b + 1; a + e * blk < stop && (chunk_pointer_near(m, e) ||
                                           (r != 0 && chunk_random_near(m, e, r)));
         e++)
        ;
    *end = a + e * blk < stop ? a + e * blk : stop;
    return x;
}

#endif
