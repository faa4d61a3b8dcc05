/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * chunkmemo.h - what several built-in detectors compute from the same chunk,
 * computed once per chunk and shared: the word_flags() of its 64-bit words,
 * which rsa-raw and rsa-factor both read (each computed them for itself
 * before: 2.5 % of a scan each), and where runs of random-looking words lie,
 * which aes, eddsa-raw, rsa-raw and rsa-factor read to skip the blocks no
 * key can be in.
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

#define MEMO_BLOCK_WORDS 512u /* words per block computed on demand: 4 KiB of memory */
#define MEMO_RUN_MAX 8u       /* runs of words that are not WF_BAD are measured up to this */
#define MEMO_RUN_BYTES 4u     /* per block: longest run, lead, trail, longest run near */
#define MEMO_NEAR_UNKNOWN 0xffu

struct dg_chunk_memo {
    const uint8_t *w;     /* the chunk's first aligned word: p + chunk_phase() */
    size_t n_words;       /* its words */
    uint8_t *wf;          /* their flags, block by block as asked for */
    uint64_t *done;       /* bit b: block b of wf is computed */
    uint8_t *runs;        /* per block, four bytes: its longest run of words that are
                           * not WF_BAD, how many such words begin and end it (each at
                           * most MEMO_RUN_MAX; valid once its flags are computed),
                           * and the longest run with a word in it or a neighbour
                           * (0xff until chunk_random_near() asks) */
    size_t cap_words;
    bool avx2;
};

/* Ties m to ch (no flag computed yet). DG_E_NOMEM: m is left empty and the
 * chunk must not carry it. */
dg_err chunk_memo_reset(struct dg_chunk_memo *m, const struct dg_chunk *ch);
void chunk_memo_free(struct dg_chunk_memo *m);

struct dg_chunk_memo *chunk_memo_of(const struct dg_chunk *ch, struct dg_chunk_memo *own);
const uint8_t *chunk_word_flags(struct dg_chunk_memo *m, size_t lo, size_t hi);
/* The longest run near block b (b < the chunk's blocks), computed now and
 * kept: chunk_random_near() calls it the first time. */
unsigned chunk_random_near_run(struct dg_chunk_memo *m, size_t b);

static inline bool
chunk_random_near(struct dg_chunk_memo *m, size_t b, unsigned r)
{
    unsigned near;

    if (b >= (m->n_words + MEMO_BLOCK_WORDS - 1) / MEMO_BLOCK_WORDS)
        return false;
    near = m->runs[MEMO_RUN_BYTES * b + 3]; /* the answer once asked */
    if (near == MEMO_NEAR_UNKNOWN)
        near = chunk_random_near_run(m, b);
    return near >= (r < MEMO_RUN_MAX ? r : MEMO_RUN_MAX);
}

#endif
