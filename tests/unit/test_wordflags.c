/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_wordflags.c - word_flags() gives every word the flags its contract
 * names (wordflags.h), computed here one word at a time from the
 * definitions, whichever path computes them (AVX2 or the portable one),
 * at every alignment of the words and odd counts (the tails), on random
 * words and on the edges of each class: one to five zero or 0xff bytes in
 * any place, 7-bit text, one high bit.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/util/simd.h"
#include "../../scanner/util/wordflags.h"
#include "tap.h"

#define N_WORDS 4096u

/* The flags of v from the contract's words, byte by byte. */
static uint8_t
reference(uint64_t v)
{
    unsigned zeros = 0, ffs = 0, high = 0;
    uint8_t f = 0;

    for (unsigned i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(v >> (8 * i));

        zeros += b == 0;
        ffs += b == 0xff;
        high += b >= 0x80;
    }
    if (zeros >= 2 || ffs >= 2 || high == 0)
        f |= WF_BAD;
    if (zeros >= 4 || ffs >= 4)
        f |= WF_ANCHOR;
    if (zeros >= 2 || ffs >= 2)
        f |= WF_STRUCT;
    return f;
}

static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A word near a class edge: a few zero or 0xff bytes, text, or text with
 * one high bit. */
static uint64_t
edge(uint64_t *s)
{
    static const uint64_t at[] = {
        0, 1, 0xffffffffffffffffull, 0x00007f1234567890ull, 0x6f6c6c6568207369ull,
        0x6f6c6c65682073e9ull, 0x8000000000000000ull, 0xff00ff0012345678ull,
    };
    uint64_t r = rnd(s), v;

    switch (r % 4) {
    case 0:
        return at[(r >> 8) % (sizeof at / sizeof at[0])];
    case 1: /* a random word with up to five of its bytes zero or 0xff */
    case 2:
        v = rnd(s);
        for (unsigned k = (unsigned)(r >> 8) % 6; k > 0; k--)
            v = (r >> 16 & 1 ? v | 0xffull << (8 * (rnd(s) % 8))
                             : v & ~(0xffull << (8 * (rnd(s) % 8))));
        return v;
    default: /* 7-bit text, now and then one high bit */
        v = rnd(s) & 0x7f7f7f7f7f7f7f7full;
        return r >> 20 & 1 ? v | 0x80ull << (8 * (rnd(s) % 8)) : v;
    }
}

int
main(void)
{
    struct tap t = {0};
    static uint8_t mem[8 * N_WORDS + 8], out[N_WORDS], out2[N_WORDS], want[N_WORDS];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    bool avx2 = dg_cpu_avx2();

    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < sizeof mem; i += 8) {
            uint64_t v = round % 2 ? edge(&seed) : rnd(&seed);

            memcpy(mem + i, &v, 8);
        }
        for (size_t shift = 0; shift < 8; shift++) {
            const uint8_t *p = mem + shift;
            size_t n = N_WORDS - (size_t)(rnd(&seed) % 7); /* odd counts: the tails */
            bool same = true, same2 = true;

            for (size_t j = 0; j < n; j++)
                want[j] = reference(load_le64(p + 8 * j));
            word_flags(p, n, out, false);
            word_flags(p, n, out2, avx2);
            for (size_t j = 0; j < n; j++) {
                same = same && out[j] == want[j];
                same2 = same2 && out2[j] == want[j];
            }
            tap_check(&t, same, "round %d, shift %zu, %zu words: the portable path matches", round,
                      shift, n);
            tap_check(&t, same2, "round %d, shift %zu, %zu words: the %s path matches", round,
                      shift, n, avx2 ? "AVX2" : "portable");
        }
    }
    /* each flag alone and together, by itself */
    {
        static const struct {
            uint64_t v;
            uint8_t flags;
        } cases[] = {
            {0x8182838485868788ull, 0},
            {0x8182838485868700ull, 0},
            {0x8182838485860000ull, WF_BAD | WF_STRUCT},
            {0x81828384ffffffffull, WF_BAD | WF_STRUCT | WF_ANCHOR},
            {0x00007f1234567890ull, WF_BAD | WF_STRUCT},
            {0x0000000000000040ull, WF_BAD | WF_STRUCT | WF_ANCHOR},
            {0x6f6c6c6568207369ull, WF_BAD},
            {0x6f6c6c65682073e9ull, 0},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            uint8_t buf[32] = {0}, f[4];

            memcpy(buf + 8, &cases[i].v, 8);
            word_flags(buf, 4, f, avx2);
            tap_check(&t, f[1] == cases[i].flags, "0x%016llx: flags 0x%02x, want 0x%02x",
                      (unsigned long long)cases[i].v, f[1], cases[i].flags);
        }
    }
    return tap_done(&t);
}
