/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * rsa_factor.c - finds RSA private keys held as a modulus and its primes,
 * with no CRT exponents, at any byte offset: big-endian bytes, or
 * little-endian bytes (32- and 64-bit limbs alike), in packed structs and in
 * serialized forms (SSH mpints, 32-bit length words, bare arrays). Proof:
 * n mod p = 0 found with OpenSSL, then the key rebuilt from p and q = n / p
 * and proven by keyproof (primality included).
 *
 * A division at every byte offset would cost minutes per GiB, so candidates
 * are chosen where numbers begin and joined by one 64-bit relation before any
 * division:
 *   - a number begins where a run of high-entropy words (wordflags.h) begins
 *     after a structured word (two or more zero or 0xff bytes: a length, an
 *     mpint's leading zero, a pointer's high bytes, a malloc header): after
 *     one of that word's last three zero or 0xff bytes, at the run's first
 *     word, or after the one zero or 0xff byte that word may hold; or a
 *     word or two earlier, when the number's own first words are low
 *     entropy by chance (7-bit clean, or two zero or two 0xff bytes);
 *   - the two primes lie next to each other, q after p with a gap of 0, 2, 4,
 *     5 or 8 bytes (bare, a 16-bit count, a 32-bit length, an mpint's length
 *     and leading zero, a 64-bit length), in either order;
 *   - the modulus begins where a run begins (anywhere in the chunk: its low
 *     64 bits are joined against p_low * q_low mod 2^64), or right before p
 *     or right after q with such a gap;
 *   - or, with no second prime, both numbers are announced by their lengths
 *     (an SSH mpint's 32-bit big-endian length, a 32-bit little-endian count
 *     of bytes or limbs, an OpenPGP 16-bit bit count) within 4 KiB: such a
 *     pair is rare enough to divide.
 * Only a run start with a word of four or more zero or 0xff bytes within 512
 * bytes (a size, a length, a pointer: rsa-raw's anchor gate), in a 4 KiB
 * block near a run of three random-looking words (chunk_random_near(): a
 * number of eight words or more holds one but once in 40,000), is looked at,
 * so random bytes cost one pass of word classes. A candidate number is odd,
 * has its top bit set (every library this was tried with makes primes of
 * exactly half the bits and a modulus of exactly the key's: OpenSSL, Go,
 * Java, NSS, GnuTLS, libgcrypt, mbedTLS, wolfSSL) and holds at most
 * 1 + len/64 low-entropy words. A 64-bit coincidence between unrelated
 * numbers has probability 2^-64, so divisions are only made for real keys.
 *
 * Not found here: a modulus and one prime with neither a second prime beside
 * it nor lengths before both; numbers that begin inside a run of random
 * bytes, or far from any structured word; numbers further apart than one
 * chunk; exponents other than 65537 (the public exponent is not stored with
 * the primes in most of these forms; the finding says whether 65537 was
 * seen beside the modulus). Keys with CRT exponents are rsa-raw's. A file's
 * read-only image (chunk_span_end()) holds no number the process computed
 * and is skipped.
 * Findings never carry key bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/engine/chunkmemo.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/grow.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/wordflags.h"
#include "../scanner/util/words.h"

#define RSA_E 65537u
#define N_SIZES 4u
#define N_GAPS 5u
#define N_ENCS 2u
#define ANCHOR_WORDS 64u            /* anchor gate radius: 512 bytes, as rsa-raw's */
#define FAC_RANDOM_RUN 3u           /* a number of 8 words or more holds a run of this many
                                     * words that are not low entropy (but once in 40,000
                                     * for 8 words): chunk_random_near() */
#define MIN_RUN 7u                  /* good words of 8 that open a run (a 64-byte prime covers 7) */
#define MAX_PRIME 256u              /* RSA-4096 */
#define MAX_SPAN (2u * MAX_PRIME + 8u + MAX_PRIME + 8u + MAX_PRIME + 16u)
#define MAX_TRIES_PER_CHUNK 4096u   /* divisions per chunk */
#define ANNOUNCED_RADIUS 4096u      /* bytes between an announced modulus and prime */
#define MAX_KEYS_PER_CHUNK 256u     /* moduli reported per chunk */

static const char BESIDE[] = "the other prime beside it";
static const char ANNOUNCED[] = "both announced by their lengths";

static const unsigned prime_bytes[N_SIZES] = {64, 128, 192, 256}; /* RSA-1024 .. 4096 */
static const unsigned gaps[N_GAPS] = {0, 2, 4, 5, 8};

enum enc { ENC_LE = 0, ENC_BE = 1 };
static const char *const enc_name[N_ENCS] = {"bn-le", "bn-be"};

/* A number that may be a modulus: its low word and where it is. */
struct modcand {
    uint64_t low;
    uint32_t x;     /* chunk index of its first byte */
    uint8_t enc;
    uint8_t si;     /* size index: modulus of 2 * prime_bytes[si] bytes */
};

/* Two adjacent numbers that may be p and q: their low words' product. */
struct paircand {
    uint64_t prod;
    uint32_t x;     /* chunk index of the first prime */
    uint8_t enc;
    uint8_t si;
};

struct fac_ctx {
    const struct dg_proof_policy *proof;
    struct dg_chunk_memo own; /* the word flags when the chunk carries no memo */
    uint64_t *bad;           /* bit w: word w is WF_BAD (one more zero word at the end) */
    size_t bad_cap;
    uint64_t *st;            /* bit w: word w is WF_STRUCT (likewise) */
    size_t st_cap;
    uint64_t *anc;           /* bit w: word w is WF_ANCHOR (likewise) */
    size_t anc_cap;
    struct modcand *mods;
    size_t n_mods, mods_cap;
    struct paircand *pairs;
    size_t n_pairs, pairs_cap;
    uint32_t *slots;         /* join(): 1 + index of a modulus, by low word; 0 empty */
    size_t slots_cap;
    struct modcand *amods;   /* moduli announced by a length (low unused) */
    size_t n_amods, amods_cap;
    struct modcand *aprimes; /* primes announced by a length */
    size_t n_aprimes, aprimes_cap;
    uint32_t done[MAX_KEYS_PER_CHUNK]; /* moduli reported in this chunk */
    size_t n_done;
    unsigned tries;
    bool tries_capped;
    BN_CTX *bn;
};

/* ---- numbers in a chunk ---- */

static inline uint64_t
load_be64(const uint8_t *p)
{
    return __builtin_bswap64(load_le64(p));
}

/* The low 64 bits of the len-byte number at b. */
static inline uint64_t
low_word(const uint8_t *b, unsigned len, enum enc e)
{
    return e == ENC_LE ? load_le64(b) : load_be64(b + len - 8);
}

static inline uint8_t
top_byte(const uint8_t *b, unsigned len, enum enc e)
{
    return e == ENC_LE ? b[len - 1] : b[0];
}

static inline bool
odd(const uint8_t *b, unsigned len, enum enc e)
{
    return ((e == ENC_LE ? b[0] : b[len - 1]) & 1) != 0;
}

/* The number of WF_BAD words among words [w0, w1). */
static inline unsigned
bad_words(const uint64_t *bad, size_t w0, size_t w1)
{
    unsigned n = 0;

    if (w0 >= w1)
        return 0;
    if (w0 / 64 == (w1 - 1) / 64)
        return popcount64((bad[w0 / 64] >> (w0 % 64)) &
                                              (~0ull >> (63 - (w1 - 1) % 64 + w0 % 64)));
    n = popcount64(bad[w0 / 64] >> (w0 % 64));
    for (size_t i = w0 / 64 + 1; i < (w1 - 1) / 64; i++)
        n += popcount64(bad[i]);
    return n + popcount64(bad[(w1 - 1) / 64] << (63 - (w1 - 1) % 64));
}

/* True when [x, x + len) lies in the chunk and the words wholly inside it hold
 * at most 1 + len / 64 low-entropy ones (words are 8-byte aligned from
 * phase a). */
static inline bool
dense(const struct fac_ctx *c, const struct dg_chunk *ch, size_t a, size_t x, unsigned len)
{
    if (x < a || x + len > ch->len)
        return false;
    return bad_words(c->bad, (x - a + 7) / 8, (x + len - a) / 8) <= 1 + len / 64;
}

static inline bool
prime_shape(const struct dg_chunk *ch, size_t x, unsigned len, enum enc e)
{
    return x + len <= ch->len && odd(ch->p + x, len, e) && top_byte(ch->p + x, len, e) >= 0x80;
}

static inline bool
modulus_shape(const struct dg_chunk *ch, size_t x, unsigned len, enum enc e)
{
    return x + len <= ch->len && odd(ch->p + x, len, e) && top_byte(ch->p + x, len, e) >= 0x80;
}

static bool
decode(const uint8_t *b, unsigned len, enum enc e, BIGNUM *bn)
{
    return (e == ENC_LE ? BN_lebin2bn(b, (int)len, bn) : BN_bin2bn(b, (int)len, bn)) != NULL;
}

/* True if the bytes before x give the length of a len-byte number: a
 * big-endian 32-bit length (an SSH mpint, also with its leading zero byte),
 * a little-endian 32-bit count of bytes, of 32-bit or of 64-bit limbs, or a
 * big-endian 16-bit count of bits (an OpenPGP MPI of a full-length number). */
static bool
announced(const struct dg_chunk *ch, size_t x, unsigned len)
{
    const uint8_t *p = ch->p;

    if (x >= 5 && p[x - 1] == 0 && __builtin_bswap32(load_le32(p + x - 5)) == len + 1)
        return true;
    if (x >= 4) {
        uint32_t le = load_le32(p + x - 4);

        if (__builtin_bswap32(le) == len || le == len || le == len / 4 || le == len / 8)
            return true;
    }
    return x >= 2 && ((unsigned)p[x - 2] << 8 | p[x - 1]) == 8 * len;
}

/* ---- proof ---- */

/* True if 65537 is stored within 64 bytes of the modulus at [x, x + len)
 * (big-endian 01 00 01, or a little-endian 32-bit word). */
static bool
exponent_beside(const struct dg_chunk *ch, size_t x, unsigned len)
{
    size_t lo = x >= 64 ? x - 64 : 0, hi = x + len + 64 < ch->len ? x + len + 64 : ch->len;
    static const uint8_t be[3] = {1, 0, 1};

    for (size_t i = lo; i + 3 <= hi; i++)
        if ((i + 3 <= x || i >= x + len) && memcmp(ch->p + i, be, 3) == 0)
            return true;
    return false;
}

/* Tries the modulus at nx and the prime at px (size index si, encoding e):
 * when the prime divides the modulus, proves and reports the key. */
static void
try_key(struct fac_ctx *c, const struct dg_chunk *ch, size_t nx, size_t px, unsigned si,
        enum enc e, const char *why, struct dg_sink *sink)
{
    const unsigned lp = prime_bytes[si], ln = 2 * lp;
    struct dg_finding f;
    EVP_PKEY *pk = NULL;
    BIGNUM *n, *p, *q, *r, *ev;
    dg_err rc = DG_E_CRYPTO;

    if ((nx < px ? nx : px) >= ch->owned)
        return; /* the next chunk's */
    for (size_t i = 0; i < c->n_done; i++)
        if (c->done[i] == nx)
            return;
    if (c->tries >= MAX_TRIES_PER_CHUNK || c->n_done >= MAX_KEYS_PER_CHUNK) {
        c->tries_capped = true;
        return;
    }
    c->tries++;
    BN_CTX_start(c->bn);
    n = BN_CTX_get(c->bn);
    p = BN_CTX_get(c->bn);
    q = BN_CTX_get(c->bn);
    r = BN_CTX_get(c->bn);
    ev = BN_CTX_get(c->bn);
    if (ev == NULL || !decode(ch->p + nx, ln, e, n) || !decode(ch->p + px, lp, e, p) ||
        !BN_div(q, r, n, p, c->bn) || !BN_is_zero(r) || BN_is_one(q) ||
        BN_num_bits(q) > BN_num_bits(p) + 1 || BN_num_bits(p) > BN_num_bits(q) + 1 ||
        !BN_set_word(ev, RSA_E)) {
        ERR_clear_error();
        BN_CTX_end(c->bn);
        return;
    }
    c->done[c->n_done++] = (uint32_t)nx;
    memset(&f, 0, sizeof f);
    if (keyproof_rsa_from_primes(p, q, ev, &pk) == DG_OK)
        rc = keyproof_prove_finding(c->proof, pk, 0, &f);
    if (rc == DG_OK || keyproof_named(rc, &f.key)) {
        long long dist = (long long)nx - (long long)px;

        f.off = ch->off + px;
        f.len = lp;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "%s", enc_name[e]);
        dg_strlcpyf(f.preview, sizeof f.preview, "%s bytes, %u-byte prime (redacted)",
                    e == ENC_LE ? "LE" : "BE", lp);
        if (rc == DG_OK)
            dg_strlcpyf(f.note, sizeof f.note,
                        "prime dividing the modulus at %+lld bytes (n mod p = 0), %s; e 65537 %s",
                        dist, why, exponent_beside(ch, nx, ln) ? "seen beside the modulus"
                                                          : "assumed (not seen beside it)");
        dg_report(sink, &f);
    }
    EVP_PKEY_free(pk);
    BN_clear(p);
    BN_clear(q);
    BN_CTX_end(c->bn);
}

/* ---- candidates ---- */

/* Appends m to the array *v of *n elements (capacity *cap). */
static bool
push_mod(struct modcand **v, size_t *n, size_t *cap, struct modcand m)
{
    struct modcand *nv = grow_to(*v, *n + 1, cap, sizeof **v, 1024);

    if (nv == NULL)
        return false;
    *v = nv;
    nv[(*n)++] = m;
    return true;
}

/* Everything a number beginning at chunk index x can be: a modulus (kept for
 * the join, and tried with p and q right after it), or the first of two
 * adjacent primes (their product kept for the join, and tried with a modulus
 * right before or after them). */
static bool
candidate(struct fac_ctx *c, const struct dg_chunk *ch, size_t a, size_t x, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;

    for (unsigned ei = 0; ei < N_ENCS; ei++) {
        enum enc e = (enum enc)ei;

        /* the byte at x is, whatever the size, a little-endian number's low
         * byte (odd) or a big-endian one's top byte (>= 0x80) */
        if (x >= ch->len || (e == ENC_LE ? !(p[x] & 1) : p[x] < 0x80))
            continue;
        for (unsigned si = 0; si < N_SIZES; si++) {
            const unsigned lp = prime_bytes[si], ln = 2 * lp;

            if (modulus_shape(ch, x, ln, e) && dense(c, ch, a, x, ln)) {
                uint64_t nl = low_word(p + x, ln, e);

                if (!push_mod(&c->mods, &c->n_mods, &c->mods_cap,
                              (struct modcand){nl, (uint32_t)x, (uint8_t)e, (uint8_t)si}))
                    return false;
                if (announced(ch, x, ln)) {
                    if (!push_mod(&c->amods, &c->n_amods, &c->amods_cap,
                                  (struct modcand){0, (uint32_t)x, (uint8_t)e, (uint8_t)si}))
                        return false;
                }
                for (unsigned g1 = 0; g1 < N_GAPS; g1++) {
                    size_t px = x + ln + gaps[g1];

                    if (!prime_shape(ch, px, lp, e))
                        continue;
                    for (unsigned g2 = 0; g2 < N_GAPS; g2++) {
                        size_t qx = px + lp + gaps[g2];

                        if (prime_shape(ch, qx, lp, e) &&
                            low_word(p + px, lp, e) * low_word(p + qx, lp, e) == nl)
                            try_key(c, ch, x, px, si, e, BESIDE, sink);
                    }
                }
            }
            if (!prime_shape(ch, x, lp, e))
                continue;
            if (announced(ch, x, lp) && dense(c, ch, a, x, lp)) {
                if (!push_mod(&c->aprimes, &c->n_aprimes, &c->aprimes_cap,
                              (struct modcand){0, (uint32_t)x, (uint8_t)e, (uint8_t)si}))
                    return false;
            }
            for (unsigned g = 0; g < N_GAPS; g++) {
                size_t qx = x + lp + gaps[g];
                uint64_t prod;

                /* each prime dense on its own: a gap's length straddles
                 * one or two words, which are low entropy */
                if (!prime_shape(ch, qx, lp, e) || !dense(c, ch, a, qx, lp) ||
                    !dense(c, ch, a, x, lp))
                    continue;
                prod = low_word(p + x, lp, e) * low_word(p + qx, lp, e);
                {
                    struct paircand *nv =
                        grow_to(c->pairs, c->n_pairs + 1, &c->pairs_cap, sizeof *c->pairs, 1024);

                    if (nv == NULL)
                        return false;
                    c->pairs = nv;
                }
                c->pairs[c->n_pairs++] = (struct paircand){prod, (uint32_t)x, (uint8_t)e, (uint8_t)si};
                for (unsigned g2 = 0; g2 < N_GAPS; g2++) {
                    size_t nx = qx + lp + gaps[g2];

                    if (modulus_shape(ch, nx, ln, e) && low_word(p + nx, ln, e) == prod)
                        try_key(c, ch, nx, x, si, e, BESIDE, sink);
                }
                for (unsigned g2 = 0; g2 < N_GAPS; g2++) {
                    if (x < ln + gaps[g2])
                        break;
                    size_t nx = x - ln - gaps[g2];

                    if (modulus_shape(ch, nx, ln, e) && low_word(p + nx, ln, e) == prod)
                        try_key(c, ch, nx, x, si, e, BESIDE, sink);
                }
            }
        }
    }
    return true;
}

/* Joins each pair of adjacent primes with the moduli of the chunk whose low
 * word is their product: the moduli go into an open-addressing table by low
 * word (a slot holds 1 + the modulus's index, 0 is empty), the pairs probe
 * it. */
static bool
join(struct fac_ctx *c, const struct dg_chunk *ch, struct dg_sink *sink)
{
    size_t size = 64, mask;

    if (c->n_mods == 0 || c->n_pairs == 0)
        return true;
    while (size < 2 * c->n_mods)
        size *= 2;
    {
        uint32_t *nv = grow_to(c->slots, size, &c->slots_cap, sizeof *c->slots, 64);

        if (nv == NULL)
            return false;
        c->slots = nv;
    }
    mask = size - 1;
    memset(c->slots, 0, size * sizeof *c->slots);
    for (size_t i = 0; i < c->n_mods; i++) {
        size_t h = (size_t)((c->mods[i].low * 0x9E3779B97F4A7C15ull) >> 32) & mask;

        while (c->slots[h] != 0)
            h = (h + 1) & mask;
        c->slots[h] = (uint32_t)i + 1;
    }
    for (size_t i = 0; i < c->n_pairs; i++) {
        const struct paircand *pc = &c->pairs[i];
        size_t h = (size_t)((pc->prod * 0x9E3779B97F4A7C15ull) >> 32) & mask;

        for (; c->slots[h] != 0; h = (h + 1) & mask) {
            const struct modcand *m = &c->mods[c->slots[h] - 1];

            if (m->low == pc->prod && m->enc == pc->enc && m->si == pc->si)
                try_key(c, ch, m->x, pc->x, pc->si, (enum enc)pc->enc, BESIDE, sink);
        }
    }
    return true;
}

/* Tries each announced prime with each announced modulus of twice its size
 * within ANNOUNCED_RADIUS bytes (both lists are in chunk order: run starts
 * are visited in order and a run start's candidates lie within 16 bytes). */
static void
join_announced(struct fac_ctx *c, const struct dg_chunk *ch, struct dg_sink *sink)
{
    size_t lo = 0;

    for (size_t i = 0; i < c->n_aprimes; i++) {
        const struct modcand *pr = &c->aprimes[i];

        while (lo < c->n_amods && c->amods[lo].x + ANNOUNCED_RADIUS + 16 < pr->x)
            lo++;
        for (size_t j = lo; j < c->n_amods && c->amods[j].x < pr->x + ANNOUNCED_RADIUS + 16; j++)
            if (c->amods[j].enc == pr->enc && c->amods[j].si == pr->si && c->amods[j].x != pr->x)
                try_key(c, ch, c->amods[j].x, pr->x, pr->si, (enum enc)pr->enc, ANNOUNCED, sink);
    }
}

/* Appends to xs (at *n) the positions after the last three zero or 0xff
 * bytes of the 8 bytes at b, chunk index x. */
static void
after_marks(const uint8_t *b, size_t x, size_t *xs, size_t *n)
{
    for (int j = 7, got = 0; j >= 0 && got < 3; j--)
        if (b[j] == 0x00 || b[j] == 0xff) {
            xs[(*n)++] = x + (size_t)j + 1;
            got++;
        }
}

/* Where a number beginning at the run of good words starting at word w can
 * begin: after the last zero or 0xff bytes of the words before it, at word
 * w, and after a zero or 0xff byte inside word w (a good word holds at most
 * one of each: the last byte of a length or a leading zero one byte into
 * the word). */
static bool
run_start(struct fac_ctx *c, const struct dg_chunk *ch, size_t a, size_t w, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    size_t x0 = a + 8 * w, xs[16], n = 0;

    /* After each of the last three zero or 0xff bytes of word w - 1: the
     * number's own first bytes in that word may hold one or two (5 % of
     * numbers do). Unless w - 1 is an anchor (four or more: a length, a
     * pointer, padding), it may be the number's own first or second word,
     * low entropy by chance (7-bit clean: one word of a number in 256, one
     * in 128 that holds a zero byte before the number; two or three zero or
     * 0xff bytes: one in 1200): then the same for w - 2, and likewise for
     * w - 3. The walk stops at a good word. A run after text alone is no
     * number's start: fac_scan() calls this only with a structured word
     * among the three before w, and 7-bit text holds no zero or 0xff byte
     * to begin after. */
    for (size_t back = 1; back <= 3 && back <= w; back++) {
        const uint8_t *b = p + x0 - 8 * back;
        uint64_t v = load_le64(b);

        if (!word_bad(v))
            break;
        after_marks(b, x0 - 8 * back, xs, &n);
        if (word_skip(v))
            break;
    }
    if (n == 0)
        return true;
    xs[n++] = x0;
    for (size_t j = 0; j < 7; j++)
        if (p[x0 + j] == 0x00 || p[x0 + j] == 0xff)
            xs[n++] = x0 + j + 1;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;

        while (k < i && xs[k] != xs[i])
            k++;
        if (k == i && !candidate(c, ch, a, xs[i], sink))
            return false;
    }
    return true;
}

/* True if a WF_ANCHOR word (four or more zero or 0xff bytes: a size, a
 * length, a pointer's high half, padding) lies within ANCHOR_WORDS of word
 * w, as one does near every number a program lays out (rsa-raw's anchor
 * gate); random bytes hold one in 6 * 10^7 words. Near the chunk's start,
 * what precedes is not visible: such words pass. */
static inline bool
near_anchor(const uint64_t *anc, size_t w, size_t n_words)
{
    size_t lo = w >= ANCHOR_WORDS ? w - ANCHOR_WORDS : 0;
    size_t hi = w + ANCHOR_WORDS < n_words ? w + ANCHOR_WORDS : n_words;

    if (w < ANCHOR_WORDS)
        return true;
    for (size_t i = lo / 64; i <= (hi - 1) / 64; i++) {
        uint64_t m = anc[i];

        if (i == lo / 64)
            m &= ~0ull << (lo % 64);
        if (i == (hi - 1) / 64)
            m &= ~0ull >> (63 - (hi - 1) % 64);
        if (m != 0)
            return true;
    }
    return false;
}

/* Makes the bitmaps hold n_words bits (and one more word each). */
static bool
size_maps(struct fac_ctx *c, size_t n_words)
{
    uint64_t **maps[3] = {&c->bad, &c->st, &c->anc};
    size_t *caps[3] = {&c->bad_cap, &c->st_cap, &c->anc_cap};

    for (int i = 0; i < 3; i++) {
        uint64_t *m = grow_to(*maps[i], n_words / 64 + 2, caps[i], sizeof *m, 64);

        if (m == NULL)
            return false;
        *maps[i] = m;
    }
    return true;
}

/* Sets bits [lo, hi) of map. */
static void
set_bits(uint64_t *map, size_t lo, size_t hi)
{
    for (size_t w = lo; w < hi;) {
        size_t end = (w / 64 + 1) * 64 < hi ? (w / 64 + 1) * 64 : hi; /* within map[w / 64] */
        uint64_t ones = end - w == 64 ? ~0ull : ((1ull << (end - w)) - 1);

        map[w / 64] |= ones << (w % 64);
        w = end;
    }
}

/* Sets the bits of words [lo, hi) in c->bad, c->st and c->anc from their
 * flags f (f[w] for word w): each WF_BAD, each WF_STRUCT, each WF_ANCHOR. */
static void
span_maps(struct fac_ctx *c, const uint8_t *f, size_t lo, size_t hi)
{
    size_t w = lo;

    for (; w < hi && (w % 16 != 0 || w + 16 > hi); w++) {
        c->bad[w / 64] |= (uint64_t)(f[w] & WF_BAD) << (w % 64);
        c->st[w / 64] |= (uint64_t)((f[w] & WF_STRUCT) != 0) << (w % 64);
        c->anc[w / 64] |= (uint64_t)((f[w] & WF_ANCHOR) != 0) << (w % 64);
    }
#ifdef __SSE2__
    {
        const __m128i bad = _mm_set1_epi8(WF_BAD), st = _mm_set1_epi8(WF_STRUCT);
        const __m128i anc = _mm_set1_epi8(WF_ANCHOR);

        for (; w + 16 <= hi; w += 16) { /* w is a multiple of 16 here */
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(f + w));
            uint64_t mb = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, bad), bad));
            uint64_t ms = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, st), st));
            uint64_t ma = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, anc), anc));

            c->bad[w / 64] |= mb << (w % 64);
            c->st[w / 64] |= ms << (w % 64);
            c->anc[w / 64] |= ma << (w % 64);
        }
    }
#endif
    for (; w < hi; w++) {
        c->bad[w / 64] |= (uint64_t)(f[w] & WF_BAD) << (w % 64);
        c->st[w / 64] |= (uint64_t)((f[w] & WF_STRUCT) != 0) << (w % 64);
        c->anc[w / 64] |= (uint64_t)((f[w] & WF_ANCHOR) != 0) << (w % 64);
    }
}

/* Sets c->bad, c->st and c->anc for the chunk's words from their flags in
 * memo m (chunk_word_flags()); a file's read-only image is all bad and neither structured nor an anchor:
 * no number the process computed lies there, and none begins or runs into
 * it. The bits past the last word are clear. */
static void
chunk_maps(struct fac_ctx *c, const struct dg_chunk *ch, struct dg_chunk_memo *m, size_t a,
           size_t n_words)
{
    size_t n_maps = n_words / 64 + 2;

    memset(c->bad, 0, n_maps * sizeof *c->bad);
    memset(c->st, 0, n_maps * sizeof *c->st);
    memset(c->anc, 0, n_maps * sizeof *c->anc);
    for (size_t w = 0; w < n_words;) {
        bool image;
        size_t end = chunk_span_end(ch, a + 8 * w, &image), we = (end - a + 7) / 8;

        if (we > n_words)
            we = n_words;
        if (we <= w)
            we = w + 1;
        if (image) {
            set_bits(c->bad, w, we);
            w = we;
            continue;
        }
        /* block by block: one with no run of random-looking words near it
         * (pointers, code, text, small numbers) begins no number either */
        for (size_t be; w < we; w = be) {
            size_t b = w / MEMO_BLOCK_WORDS;
            const uint8_t *f;

            be = (b + 1) * MEMO_BLOCK_WORDS < we ? (b + 1) * MEMO_BLOCK_WORDS : we;
            f = chunk_word_flags(m, w, be); /* before the test, which reads them */
            if (chunk_random_near(m, b, FAC_RANDOM_RUN))
                span_maps(c, f, w, be);
            else
                set_bits(c->bad, w, be);
        }
    }
}

static dg_err
fac_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct fac_ctx *c = vctx;
    size_t a = chunk_phase(ch), n_words;
    struct dg_chunk_memo *m;

    if (ch->len < a + 2 * prime_bytes[0] + 64)
        return DG_OK;
    n_words = (ch->len - a) / 8;
    if (!size_maps(c, n_words) || (m = chunk_memo_of(ch, &c->own)) == NULL)
        return DG_E_NOMEM;
    chunk_maps(c, ch, m, a, n_words);
    c->n_mods = c->n_pairs = c->n_done = c->n_amods = c->n_aprimes = 0;
    c->tries = 0;
    c->tries_capped = false;
    /* Run starts, 64 words at a time: a good word after a WF_BAD one that is
     * structured, or after one or two that are only 7-bit clean (a number's
     * own words, by chance) and a structured one (run_start()); with at most
     * two bad words among the MIN_RUN from it, at most one of them
     * structured (a number's word is low entropy by chance one time in 200,
     * so one allowed would lose a number in 2000; two structured ones, one
     * number in 60000, are not allowed: library code is full of them, and a
     * stream cannot tell it from the rest before its end; the word after a
     * 64-byte prime that begins inside a word holds what follows it, so it
     * is not counted), and none of the first six an anchor (four or more
     * zero or 0xff bytes: one word of a number in 3 * 10^7; a JVM's
     * objects put a mark word every fourth word, and made most run starts
     * of the real benchmark core). The seventh may be one: when a 64-byte
     * prime's first whole word is low entropy by chance, the run opens a
     * word late and its seventh word holds the prime's last bytes and what
     * follows, such as a length. */
    for (size_t i = 0; i * 64 < n_words; i++) {
        uint64_t b = c->bad[i], prev = i > 0 ? c->bad[i - 1] >> 63 : 0;
        uint64_t s1 = c->st[i] << 1 | (i > 0 ? c->st[i - 1] >> 63 : 0);
        uint64_t s2 = c->st[i] << 2 | (i > 0 ? c->st[i - 1] >> 62 : 0);
        uint64_t s3 = c->st[i] << 3 | (i > 0 ? c->st[i - 1] >> 61 : 0);
        uint64_t b2 = b << 2 | (i > 0 ? c->bad[i - 1] >> 62 : 0);
        uint64_t st = ~b & (b << 1 | prev) & (s1 | s2 | (b2 & ~s2 & s3));

        if (i == 0)
            st &= ~1ull;
        for (; st != 0; st &= st - 1) {
            size_t w = i * 64 + (size_t)__builtin_ctzll(st);

            if (w + MIN_RUN > n_words)
                break;
            unsigned nb = bad_words(c->bad, w, w + MIN_RUN);

            if ((nb <= 1 || (nb == 2 && bad_words(c->st, w, w + MIN_RUN) <= 1)) &&
                (nb == 0 || bad_words(c->anc, w, w + MIN_RUN - 1) == 0) &&
                near_anchor(c->anc, w, n_words) && !run_start(c, ch, a, w, sink))
                return DG_E_NOMEM;
        }
    }
    if (!join(c, ch, sink))
        return DG_E_NOMEM;
    join_announced(c, ch, sink);
    if (c->tries_capped)
        dg_sink_warn(sink, ch->off, "rsa-factor: more than %u divisions or %u keys in one chunk; "
                     "the rest of the chunk's candidates were not tried", MAX_TRIES_PER_CHUNK,
                     MAX_KEYS_PER_CHUNK);
    return DG_OK;
}

/* ---- setup ---- */

static dg_err
fac_init(void *shared, void **out)
{
    struct fac_ctx *c = calloc(1, sizeof *c);

    *out = NULL;
    if (c == NULL)
        return DG_E_NOMEM;
    c->proof = keyproof_policy_of(shared);
    if ((c->bn = BN_CTX_secure_new()) == NULL) {
        free(c);
        return DG_E_NOMEM;
    }
    *out = c;
    return DG_OK;
}

static void
fac_release(void *vctx)
{
    struct fac_ctx *c = vctx;

    if (c == NULL)
        return;
    chunk_memo_free(&c->own);
    free(c->bad);
    free(c->st);
    free(c->anc);
    free(c->mods);
    free(c->pairs);
    free(c->slots);
    free(c->amods);
    free(c->aprimes);
    BN_CTX_free(c->bn);
    free(c);
}

static const char *const fac_forms[] = {"bn-le", "bn-be", NULL};

const struct dg_detector dg_detector_rsa_factor = {
    .abi = DG_DETECTOR_ABI,
    .name = "rsa-factor",
    .summary = "RSA modulus and primes without CRT exponents, at any byte offset (n mod p = 0)",
    .forms = fac_forms,
    .severity = DG_SEV_HIGH,
    .max_span = MAX_SPAN,
    .flags = DG_DET_BINARY | DG_DET_NO_IMAGES,
    .default_on = true,
    .create = keyproof_policy_create,
    .init = fac_init,
    .scan = fac_scan,
    .release = fac_release,
    .destroy = keyproof_policy_destroy,
};
