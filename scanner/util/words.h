/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * words.h - little-endian word loads and a byte-mask trick, the few word
 * helpers the byte-scanning detectors share.
 *
 * Contract: load_le64()/load_le32() read 8/4 bytes at any alignment as a
 * little-endian number, whatever the host's byte order. zero_bytes(w) has bit
 * 7 of each byte set exactly where that byte of w is zero (no false positives:
 * the additions cannot carry across bytes); count_flagged(m) is the number of
 * bytes flagged in such a mask. user_pointer(v) is true when v
 * can be an 8-byte-aligned pointer into the user half of a 64-bit process
 * (48-bit addresses, above the first 64 KiB that no process maps:
 * [USER_VA_START, USER_VA_END)). popcount32()/popcount64() count set bits.
 * all_zero(p, len) is true when every byte of p[0..len) is zero.
 * distinct_at_least(p, n, min) is true when the n bytes at p hold at least
 * min distinct values (a key or seed looks random; text, counters and
 * padding do not).
 */
#ifndef DUMPGATE_WORDS_H
#define DUMPGATE_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define USER_VA_START 0x10000ull           /* no process maps the first 64 KiB */
#define USER_VA_END 0x0000800000000000ull /* end of x86-64 user space */

static inline uint64_t
load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint32_t
load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
zero_bytes(uint64_t w)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;

    return ~(((w & lo7) + lo7) | w | lo7);
}

static inline unsigned
count_flagged(uint64_t m)
{
    return (unsigned)(((m >> 7) * 0x0101010101010101ull) >> 56); /* no popcnt needed */
}

/* True if the n bytes at p hold at least min distinct values. */
static inline bool
distinct_at_least(const uint8_t *p, size_t n, unsigned min)
{
    uint8_t seen[256 / 8] = {0};
    unsigned d = 0;

    for (size_t i = 0; i < n; i++) {
        d += !(seen[p[i] >> 3] & (1u << (p[i] & 7)));
        seen[p[i] >> 3] |= (uint8_t)(1u << (p[i] & 7));
    }
    return d >= min;
}

/* True if the len bytes at p are all zero: 64 at a time, returning at the
 * first block that is not (for most memory, the first). */
static inline bool
all_zero(const uint8_t *p, size_t len)
{
    size_t i = 0;

    for (; i + 64 <= len; i += 64) {
        uint64_t acc = 0, v;

        for (size_t k = 0; k < 64; k += 8) {
            memcpy(&v, p + i + k, 8);
            acc |= v;
        }
        if (acc != 0)
            return false;
    }
    for (; i < len; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static inline bool
user_pointer(uint64_t v)
{
    return (v & 7) == 0 && v >= USER_VA_START && v < USER_VA_END;
}

/* Bits set in v, inline: without -mpopcnt (not in the x86-64 baseline)
 * __builtin_popcount is a libgcc call. */
static inline unsigned
popcount32(uint32_t v)
{
    v -= (v >> 1) & 0x55555555u;
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}

static inline unsigned
popcount64(uint64_t v)
{
    v -= (v >> 1) & 0x5555555555555555ull;
    v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((v * 0x0101010101010101ull) >> 56);
}

#endif
