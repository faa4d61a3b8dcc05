/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * chunkmemo.c - a chunk's word flags, computed once for every detector that
 * reads them (see chunkmemo.h).
 */
#include "chunkmemo.h"

#include <stdlib.h>
#include <string.h>

#include "../util/chunkva.h"
#include "../util/simd.h"
#include "../util/wordflags.h"

dg_err
chunk_memo_reset(struct dg_chunk_memo *m, const struct dg_chunk *ch)
{
    size_t a = chunk_phase(ch), n = ch->len > a ? (ch->len - a) / 8 : 0;
    size_t n_blocks = (n + MEMO_BLOCK_WORDS - 1) / MEMO_BLOCK_WORDS;

    if (n > m->cap_words) {
        size_t cap = n + n / 8;
        uint8_t *wf = realloc(m->wf, cap);
        size_t blocks = (cap + MEMO_BLOCK_WORDS - 1) / MEMO_BLOCK_WORDS;
        uint64_t *done = wf != NULL ? realloc(m->done, (blocks / 64 + 1) * sizeof *done) : NULL;

        if (wf != NULL)
            m->wf = wf;
        if (done == NULL) {
            chunk_memo_free(m);
            return DG_E_NOMEM;
        }
        m->done = done;
        m->cap_words = cap;
    }
    m->w = ch->p + a;
    m->n_words = n;
    m->avx2 = dg_cpu_avx2();
    if (m->done != NULL)
        memset(m->done, 0, (n_blocks / 64 + 1) * sizeof *m->done);
    return DG_OK;
}

void
chunk_memo_free(struct dg_chunk_memo *m)
{
    free(m->wf);
    free(m->done);
    memset(m, 0, sizeof *m);
}

struct dg_chunk_memo *
chunk_memo_of(const struct dg_chunk *ch, struct dg_chunk_memo *own)
{
    if (ch->memo != NULL)
        return ch->memo;
    return chunk_memo_reset(own, ch) == DG_OK ? own : NULL;
}

const uint8_t *
chunk_word_flags(struct dg_chunk_memo *m, size_t lo, size_t hi)
{
    if (hi > m->n_words)
        hi = m->n_words;
    for (size_t b = lo / MEMO_BLOCK_WORDS; b * MEMO_BLOCK_WORDS < hi; b++) {
        size_t at = b * MEMO_BLOCK_WORDS;
        size_t n = m->n_words - at < MEMO_BLOCK_WORDS ? m->n_words - at : MEMO_BLOCK_WORDS;

        if (m->done[b / 64] >> (b % 64) & 1u)
            continue;
        word_flags(m->w + 8 * at, n, m->wf + at, m->avx2);
        m->done[b / 64] |= 1ull << (b % 64);
    }
    return m->wf;
}
