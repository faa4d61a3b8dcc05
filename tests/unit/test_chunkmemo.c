/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_chunkmemo.c - chunk_random_near() answers what its contract
 * (chunkmemo.h) says, checked against a brute-force reference: a run of r
 * or more consecutive words that are not WF_BAD with a word in block b - 1,
 * b or b + 1. Chunks of pointer-like words with runs of random words of
 * every length 1 to 9 put anywhere (across block edges, at the chunk's ends,
 * over whole blocks), at every phase of the chunk's words, with the AVX2
 * and the portable path; the flags it computes on the way are word_flags()'s
 * own; and a random number of eight words in a block of pointers is
 * near whatever pointers surround it, while the blocks two away are not.
 * chunk_pointer_near() keeps the blocks next to a word in the cover, and
 * chunk_kept_span() walks the kept blocks on the caller's word lattice.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/engine/chunkmemo.h"
#include "../../scanner/util/chunkva.h"
#include "../../scanner/util/simd.h"
#include "../../scanner/util/wordflags.h"
#include "tap.h"

#define N_BLOCKS 9u
#define N_WORDS (N_BLOCKS * MEMO_BLOCK_WORDS - 37u) /* the last block is short */

static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A word of random bytes that is not WF_BAD. */
static uint64_t
good_word(uint64_t *s)
{
    uint64_t v;

    do
        v = rnd(s);
    while (word_bad(v));
    return v;
}

/* The reference: the longest run of good words (good[w]) with a word in
 * blocks b - 1 .. b + 1, at most MEMO_RUN_MAX. */
static unsigned
reference(const bool *good, size_t n, size_t b)
{
    size_t lo = b >= 1 ? (b - 1) * MEMO_BLOCK_WORDS : 0, hi = (b + 2) * MEMO_BLOCK_WORDS;
    unsigned best = 0;

    if (hi > n)
        hi = n;
    for (size_t w = 0; w < n; w++) {
        size_t e = w;

        if (!good[w] || (w > 0 && good[w - 1]))
            continue; /* not a run's first word */
        while (e < n && good[e])
            e++;
        if (w < hi && e > lo) { /* the run [w, e) has a word in [lo, hi) */
            unsigned len = e - w < MEMO_RUN_MAX ? (unsigned)(e - w) : MEMO_RUN_MAX;

            best = len > best ? len : best;
        }
    }
    return best;
}

int
main(void)
{
    struct tap t = {0};
    static uint8_t mem[8 * N_WORDS + 16];
    static bool good[N_WORDS];
    uint64_t seed = 0x2545f4914f6cdd1dull;
    struct dg_chunk_memo m = {0};
    bool avx2 = dg_cpu_avx2();

    for (int round = 0; round < 48; round++) {
        size_t phase = (size_t)round % 8, n = N_WORDS;
        uint8_t *w = mem + phase;
        struct dg_chunk ch = {.p = mem, .len = phase + 8 * N_WORDS, .owned = phase + 8 * N_WORDS,
                              .off = (8 - phase) % 8};
        bool same = true, flags_same = true;
        unsigned n_runs = 1 + (unsigned)(rnd(&seed) % 12);

        /* pointers, zeros and text (all WF_BAD), and runs of good words */
        for (size_t j = 0; j < n; j++) {
            uint64_t r = rnd(&seed), v = r % 3 == 0   ? 0x00007f0000000000ull | (r >> 24)
                                         : r % 3 == 1 ? 0
                                                      : r & 0x7f7f7f7f7f7f7f7full;

            memcpy(w + 8 * j, &v, 8);
            good[j] = false;
        }
        for (unsigned k = 0; k < n_runs; k++) {
            size_t len = 1 + (size_t)(rnd(&seed) % 9), at;

            if (round % 4 == 3 && k == 0) /* a run across a block edge */
                at = (1 + (size_t)(rnd(&seed) % (N_BLOCKS - 1))) * MEMO_BLOCK_WORDS - len / 2;
            else
                at = (size_t)(rnd(&seed) % n);
            if (round == 5 && k == 0) /* a whole block and more */
                at = 3 * MEMO_BLOCK_WORDS - 5, len = MEMO_BLOCK_WORDS + 10;
            for (size_t j = at; j < at + len && j < n; j++) {
                uint64_t v = good_word(&seed);

                memcpy(w + 8 * j, &v, 8);
                good[j] = true;
            }
        }
        if (chunk_memo_reset(&m, &ch) != DG_OK || chunk_phase(&ch) != phase) {
            tap_check(&t, false, "round %d: memo set up at phase %zu", round, phase);
            continue;
        }
        m.avx2 = round % 2 == 0 && avx2;
        /* ask in an odd order: each answer must not depend on which came first */
        for (size_t i = 0; i < N_BLOCKS; i++) {
            size_t b = (i * 5 + (size_t)round) % N_BLOCKS;
            unsigned want = reference(good, n, b);

            for (unsigned r = 1; r <= MEMO_RUN_MAX + 1; r++) {
                bool got = chunk_random_near(&m, b, r);
                bool expect = want >= (r < MEMO_RUN_MAX ? r : MEMO_RUN_MAX);

                if (got != expect) {
                    same = false;
                    fprintf(stderr, "round %d block %zu r %u: got %d, want run %u\n", round, b, r,
                            got, want);
                }
            }
        }
        {
            const uint8_t *f = chunk_word_flags(&m, 0, n);

            for (size_t j = 0; j < n; j++)
                flags_same = flags_same && !(f[j] & WF_BAD) == good[j];
        }
        tap_check(&t, same, "round %d (phase %zu, %u runs, %s path): every block's answer is "
                  "the reference's, for r = 1 to %u", round, phase, n_runs,
                  m.avx2 ? "AVX2" : "portable", MEMO_RUN_MAX + 1);
        tap_check(&t, flags_same, "round %d: the flags computed on the way are word_flags()'s",
                  round);
        tap_check(&t, !chunk_random_near(&m, N_BLOCKS, 1), "round %d: no block past the chunk",
                  round);
    }
    /* A random 64-byte number alone among pointers, in block 4: blocks 3 to
     * 5 are near it (and a detector searching them finds it), 2 and 6 not. */
    {
        struct dg_chunk ch = {.p = mem, .len = 8 * N_WORDS, .owned = 8 * N_WORDS, .off = 0};
        bool ok;

        for (size_t j = 0; j < N_WORDS; j++) {
            uint64_t v = 0x00007f0000000000ull | (j * 64);

            memcpy(mem + 8 * j, &v, 8);
        }
        for (size_t j = 4 * MEMO_BLOCK_WORDS + 100; j < 4 * MEMO_BLOCK_WORDS + 108; j++) {
            uint64_t v = good_word(&seed);

            memcpy(mem + 8 * j, &v, 8);
        }
        ok = chunk_memo_reset(&m, &ch) == DG_OK;
        tap_check(&t, ok && !chunk_random_near(&m, 2, 3) && chunk_random_near(&m, 3, 3) &&
                          chunk_random_near(&m, 4, 8) && chunk_random_near(&m, 5, 3) &&
                          !chunk_random_near(&m, 6, 1),
                  "a number of 8 words is near blocks 3 to 5 only");
    }
    /* Words that may point into the dump: text everywhere, one pointer in
     * block 5 and a random run in block 1. chunk_pointer_near() keeps
     * blocks 4 to 6; chunk_kept_span() walks them (with r, blocks 0 to 2
     * too), keeping each index's place among the words. */
    {
        struct ptr_cover cover = {.lo = {0x7f0000000000ull}, .span = {0x100000000ull}, .n = 1};
        struct dg_chunk ch = {.p = mem, .len = 8 * N_WORDS, .owned = 8 * N_WORDS, .off = 0};
        const size_t blk = 8 * MEMO_BLOCK_WORDS;
        uint64_t ptr = 0x7f0000001230ull;
        size_t x, end, x2, end2, x3, end3, x4, end4;
        bool ok, near_ok = true;

        for (size_t j = 0; j < N_WORDS; j++) {
            uint64_t v = 0x6f6c6c6568207369ull; /* text: no pointer, WF_BAD */

            memcpy(mem + 8 * j, &v, 8);
        }
        memcpy(mem + 5 * blk + 8 * 77, &ptr, 8);
        for (size_t j = MEMO_BLOCK_WORDS + 10; j < MEMO_BLOCK_WORDS + 14; j++) {
            uint64_t v = good_word(&seed);

            memcpy(mem + 8 * j, &v, 8);
        }
        ok = chunk_memo_reset(&m, &ch) == DG_OK;
        m.cover = NULL;
        tap_check(&t, ok && chunk_pointer_near(&m, 0) && chunk_pointer_near(&m, 8),
                  "without a cover, every block may hold a pointer");
        m.cover = &cover;
        ok = ok && chunk_memo_reset(&m, &ch) == DG_OK && m.cover == &cover;
        for (size_t b = 0; b < N_BLOCKS; b++)
            near_ok = near_ok && chunk_pointer_near(&m, b) == (b >= 4 && b <= 6);
        tap_check(&t, ok && near_ok, "a pointer in block 5: blocks 4 to 6 are near one, the "
                  "others not (reset keeps the cover)");
        ch.memo = &m;
        x = chunk_kept_span(&ch, 3, ch.len, 0, &end);
        x2 = chunk_kept_span(&ch, 4 * blk + 40, ch.len, 0, &end2);
        x3 = chunk_kept_span(&ch, 3, ch.len, 4, &end3);
        x4 = chunk_kept_span(&ch, 7 * blk, ch.len, 4, &end4);
        tap_check(&t, x == 4 * blk + 3 && end == 7 * blk && x2 == 4 * blk + 40 && end2 == 7 * blk,
                  "chunk_kept_span() from block 0 starts at block 4 (index %zu, on the same "
                  "word lattice) and ends at block 7 (%zu); from inside block 4 it starts there",
                  x, end);
        tap_check(&t, x3 == 3 && end3 == 3 * blk && x4 == ch.len,
                  "with r 4 the random run keeps blocks 0 to 2 too (%zu .. %zu); past block 6 "
                  "nothing is kept (%zu)", x3, end3, x4);
        ch.memo = NULL;
        x = chunk_kept_span(&ch, 3, ch.len, 0, &end);
        tap_check(&t, x == 3 && end == ch.len, "without the engine's memo everything is kept");
    }
    chunk_memo_free(&m);
    return tap_done(&t);
}
