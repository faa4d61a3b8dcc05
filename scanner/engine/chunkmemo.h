/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * chunkmemo.h - what several built-in detectors compute from the same chunk,
 * computed once per chunk and shared: today the word_flags() of its 64-bit
 * words, which rsa-raw and rsa-factor both read (each computed them for
 * itself before: 2.5 % of a scan each).
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

struct dg_chunk_memo {
    const uint8_t *w;     /* the chunk's first aligned word: p + chunk_phase() */
    size_t n_words;       /* its words */
    uint8_t *wf;          /* their flags, block by block as asked for */
    uint64_t *done;       /* bit b: block b of wf is computed */
    size_t cap_words;
    bool avx2;
};

/* Ties m to ch (no flag computed yet). DG_E_NOMEM: m is left empty and the
 * chunk must not carry it. */
dg_err chunk_memo_reset(struct dg_chunk_memo *m, const struct dg_chunk *ch);
void chunk_memo_free(struct dg_chunk_memo *m);

struct dg_chunk_memo *chunk_memo_of(const struct dg_chunk *ch, struct dg_chunk_memo *own);
const uint8_t *chunk_word_flags(struct dg_chunk_memo *m, size_t lo, size_t hi);

#endif
