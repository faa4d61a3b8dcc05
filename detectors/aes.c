/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * aes.c - the `aes` detector: expanded AES-128/192/256 key schedules.
 *
 * A cipher context keeps its key expanded: 11, 13 or 15 round keys of 16
 * bytes, as FIPS-197 §5.2 derives them (encryption schedule), or reversed
 * with InvMixColumns applied to the inner round keys (the decryption schedule
 * of the equivalent inverse cipher, FIPS-197 §5.3.5, as AES_set_decrypt_key
 * and AES-NI's aesimc make it). The 32-bit words are stored either in FIPS
 * byte order (OpenSSL 3 with AES-NI, its x86-64 assembly, mbed TLS) or as
 * host-order integers loaded big-endian (OpenSSL's generic C code, Go), i.e.
 * byte-swapped on little-endian machines. Measured on this machine with
 * OpenSSL 3.0.19: AES-NI keeps both schedules in byte order; vpaes (SSSE3
 * without AES-NI) keeps a transformed encryption schedule, which is not
 * found here. Background: ../shared/reference/keyforms.md §5.3, §5.7.
 *
 * 1. Prefilter (SSE2, portable loop elsewhere), one pass at every byte y:
 *    q = p[y] ^ p[y-4] must be non-zero and equal p[y+δ] for one of the six
 *    linear relations w[k] ^ w[k-1] = w[k-Nk] of the key expansion as they
 *    lie in memory: δ = -16, -24, -32 (encryption, Nk = 4, 6, 8) and +16, +8,
 *    +32 (decryption: round keys reversed; InvMixColumns is linear, so the
 *    relation survives it). A schedule makes runs of 8 to 20 consecutive such
 *    bytes; a run of 8 is the trigger. Zero pages and periodic data give
 *    q = 0 or no runs (a run of 8 needs 4 zero bytes next to 4 non-zero ones
 *    at the same place), text and pointers essentially never make one.
 *    Only the 4 KiB blocks near a run of four random-looking words are
 *    read (chunk_random_near(): a schedule's 22 to 60 expanded words hold
 *    such a run unless four of them are low entropy by chance, about one
 *    schedule in a million): pointer tables, code, text and
 *    small numbers, most of a real process's memory, cost no prefilter.
 * 2. At a trigger y, every start s in [y - 240, y] and each of the six forms
 *    is tested on all linear relations of the schedule (XOR and popcount,
 *    early exit): at most 3 bits per tolerated bit error. A trigger with no
 *    byte of 0x40 or more within 48 bytes is not tried (random_near()):
 *    arrays of small numbers make runs of hits, and a schedule's expanded
 *    words beside a run look random.
 * 3. A survivor is read as 32-bit words in both byte orders, turned into an
 *    encryption schedule (decryption: reversed, MixColumns on the inner round
 *    keys) and the key is recovered from each window of Nk words by running
 *    the expansion (RotWord, SubWord, Rcon) backwards and forwards; the key
 *    whose schedule, laid out as in memory, is nearest in Hamming distance
 *    wins. At most `aes.max-bit-errors` (default 8) flipped bits are
 *    tolerated, like aeskeyfind's decayed keys.
 * 4. Proof: one block encrypted with the recovered round keys equals
 *    EVP AES-*-ECB under the recovered key.
 *
 * Schedules of public keys are consumed silently: the CTR_DRBG derivation
 * function key 00 01 02 ... (every OpenSSL 3 process keeps it expanded, one
 * per DRBG) and the FIPS-197 example keys. The DRBGs' own keys K are secrets
 * and are reported (three AES-256 keys in a core of `openssl s_server`).
 *
 * The S-box is computed in create() from its definition (inverse in GF(2^8)
 * and the affine map) and checked against FIPS-197 Appendix A.1. Findings
 * are "aes-key", confirmed, medium (a session key, not a signing key), with
 * the SHA-256 of the key bytes as key_sha256; the key itself is never kept.
 * A file's read-only image (chunk_span_end()) is skipped: no schedule was
 * expanded there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>


#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/engine/chunkmemo.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/words.h"

#define AES_MAX_BYTES 240       /* AES-256: 15 round keys */
#define AES_MAX_WORDS 60
#define AES_SPAN 320            /* chunk overlap: a schedule and the prefilter's reach */
#define AES_DEFAULT_ERRORS 8    /* tolerated flipped bits over the schedule */
#define AES_MAX_ERRORS 32
#define AES_RUN 8               /* consecutive prefilter hits that trigger */
#define AES_RANDOM_RUN 4        /* a schedule's 22 to 60 words hold a run of this many
                                 * that are not low entropy (chunk_random_near()) */
#define N_FORMS 6

#define GCM_NEAR 1024u /* bytes searched on each side of a schedule for GCM's H */

static const char *const forms[] = {"aes-128", "aes-192", "aes-256", "enc-schedule",
                                    "dec-schedule", NULL};

/* One form of schedule: key size and direction, and its linear relations as
 * memory word indices: word a = word b ^ word c. */
struct form {
    unsigned nk, nr, words;     /* key words, rounds, schedule words */
    bool dec;                   /* decryption schedule */
    int delta;                  /* prefilter byte offset of w[k-Nk] from w[k] */
    unsigned n_rel;
    uint8_t rel[AES_MAX_WORDS][3];
};

struct shared {
    uint8_t sbox[256];
    uint8_t mix[2][4][256];     /* MixColumns (0) and InvMixColumns (1) products */
    bool avx2;                  /* the CPU has AVX2: hits32_avx2() */
    unsigned max_err;           /* tolerated bit errors */
    struct form form[N_FORMS];
};

struct ctx {
    const struct shared *sh;
    size_t covered;             /* chunk index up to which a found schedule reaches */
    size_t tried;               /* every form was tried at every start below this */
};

/* --- GF(2^8) and the AES functions ---------------------------------------- */

static uint8_t
xtime(uint8_t a)
{
    return (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
}

static uint8_t
gmul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;

    while (b != 0) {
        if (b & 1)
            r ^= a;
        a = xtime(a);
        b >>= 1;
    }
    return r;
}

static uint8_t
rotl8(uint8_t b, unsigned n)
{
    return (uint8_t)((b << n) | (b >> (8 - n)));
}

/* The S-box from its definition: multiplicative inverse in GF(2^8) modulo
 * x^8+x^4+x^3+x+1 (0 maps to 0), then the affine map with constant 0x63. */
static void
make_sbox(uint8_t sbox[256])
{
    uint8_t exp[255], lg[256] = {0}, x = 1;

    for (unsigned i = 0; i < 255; i++) {
        exp[i] = x;
        lg[x] = (uint8_t)i;
        x ^= xtime(x); /* times 3, a generator */
    }
    for (unsigned a = 0; a < 256; a++) {
        uint8_t inv = a == 0 ? 0 : exp[(255 - lg[a]) % 255];

        sbox[a] = (uint8_t)(inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^
                            rotl8(inv, 4) ^ 0x63);
    }
}

/* Words are FIPS-197 words as integers: byte 0 (row 0) is the top byte. */
static uint32_t
sub_word(const uint8_t *sbox, uint32_t w)
{
    return (uint32_t)sbox[w >> 24] << 24 | (uint32_t)sbox[(w >> 16) & 0xff] << 16 |
           (uint32_t)sbox[(w >> 8) & 0xff] << 8 | sbox[w & 0xff];
}

/* The function the expansion applies to w[i-1] before XOR with w[i-Nk]. */
static uint32_t
expand_t(const uint8_t *sbox, unsigned nk, unsigned i, uint32_t prev)
{
    if (i % nk == 0) {
        uint8_t rcon = 1;

        for (unsigned r = 1; r < i / nk; r++)
            rcon = xtime(rcon);
        return sub_word(sbox, prev << 8 | prev >> 24) ^ (uint32_t)rcon << 24;
    }
    if (nk == 8 && i % 8 == 4)
        return sub_word(sbox, prev);
    return prev;
}

/* Fills e[0..words) from the nk words already in e[at..at+nk), running the
 * expansion forwards and backwards. */
static void
expand_from(const uint8_t *sbox, unsigned nk, unsigned words, unsigned at, uint32_t *e)
{
    for (unsigned i = at + nk; i < words; i++)
        e[i] = e[i - nk] ^ expand_t(sbox, nk, i, e[i - 1]);
    for (unsigned i = at; i-- > 0;)
        e[i] = e[i + nk] ^ expand_t(sbox, nk, i + nk, e[i + nk - 1]);
}

/* The products MixColumns (2 3 1 1) and InvMixColumns (14 11 13 9) take,
 * as tables, so that a column costs 16 lookups. */
static void
make_mix(uint8_t mix[2][4][256])
{
    static const uint8_t m[2][4] = {{2, 3, 1, 1}, {14, 11, 13, 9}};

    for (unsigned inv = 0; inv < 2; inv++)
        for (unsigned j = 0; j < 4; j++)
            for (unsigned a = 0; a < 256; a++)
                mix[inv][j][a] = gmul((uint8_t)a, m[inv][j]);
}

static uint32_t
mix_column(const struct shared *sh, uint32_t w, bool inverse)
{
    const uint8_t(*t)[256] = sh->mix[inverse];
    uint8_t a = (uint8_t)(w >> 24), b = (uint8_t)(w >> 16), c = (uint8_t)(w >> 8),
            d = (uint8_t)w;

    return (uint32_t)(t[0][a] ^ t[1][b] ^ t[2][c] ^ t[3][d]) << 24 |
           (uint32_t)(t[3][a] ^ t[0][b] ^ t[1][c] ^ t[2][d]) << 16 |
           (uint32_t)(t[2][a] ^ t[3][b] ^ t[0][c] ^ t[1][d]) << 8 |
           (uint32_t)(t[1][a] ^ t[2][b] ^ t[3][c] ^ t[0][d]);
}

/* Memory word index of encryption word k in a schedule of the given form. */
static unsigned
mem_index(const struct form *f, unsigned k)
{
    return f->dec ? 4 * (f->nr - k / 4) + k % 4 : k;
}

/* Does encryption word k lie in memory through InvMixColumns (an inner
 * round key of a decryption schedule)? */
static bool
mixed(const struct form *f, unsigned k)
{
    return f->dec && k / 4 > 0 && k / 4 < f->nr;
}

/* Encryption word k of the schedule whose memory words are m. */
static uint32_t
enc_word(const struct shared *sh, const struct form *f, const uint32_t *m, unsigned k)
{
    uint32_t w = m[mem_index(f, k)];

    return mixed(f, k) ? mix_column(sh, w, false) : w;
}

/* The bits by which encryption word w (index k), laid out as in memory,
 * differs from memory m. */
static unsigned
word_errors(const struct shared *sh, const struct form *f, const uint32_t *m, uint32_t w,
            unsigned k)
{
    if (mixed(f, k))
        w = mix_column(sh, w, true);
    return popcount32(w ^ m[mem_index(f, k)]);
}

/* Encrypts one block with round keys e (FIPS-197 §5.1). */
static void
encrypt_block(const struct shared *sh, const uint32_t *e, unsigned nr, const uint8_t in[16],
              uint8_t out[16])
{
    uint8_t s[16], t[16];

    for (unsigned i = 0; i < 16; i++)
        s[i] = in[i] ^ (uint8_t)(e[i / 4] >> (24 - 8 * (i % 4)));
    for (unsigned r = 1; r <= nr; r++) {
        for (unsigned i = 0; i < 16; i++) /* SubBytes and ShiftRows */
            t[i] = sh->sbox[s[(i + 4 * (i % 4)) % 16]];
        for (unsigned c = 0; c < 4; c++) {
            uint32_t w = (uint32_t)t[4 * c] << 24 | (uint32_t)t[4 * c + 1] << 16 |
                         (uint32_t)t[4 * c + 2] << 8 | t[4 * c + 3];

            if (r < nr)
                w = mix_column(sh, w, false);
            w ^= e[4 * r + c];
            for (unsigned j = 0; j < 4; j++)
                s[4 * c + j] = (uint8_t)(w >> (24 - 8 * j));
        }
    }
    memcpy(out, s, 16);
    OPENSSL_cleanse(s, sizeof s);
    OPENSSL_cleanse(t, sizeof t);
}

/* --- setup ----------------------------------------------------------------- */

static void
make_form(struct form *f, unsigned nk, bool dec)
{
    f->nk = nk;
    f->nr = nk + 6;
    f->words = 4 * (f->nr + 1);
    f->dec = dec;
    /* w[k] ^ w[k-1] = w[k-Nk]: where w[k-Nk] lies from w[k] in memory. */
    f->delta = !dec ? -4 * (int)nk : nk == 4 ? 16 : nk == 6 ? 8 : 32;
    f->n_rel = 0;
    for (unsigned k = nk; k < f->words; k++) {
        unsigned ks[3] = {k, k - 1, k - nk};
        bool ok = k % nk != 0 && !(nk == 8 && k % 8 == 4);

        for (unsigned j = 0; j < 3 && ok && dec; j++)
            ok = ks[j] / 4 >= 1 && ks[j] / 4 < f->nr; /* InvMixColumns rounds only */
        if (!ok)
            continue;
        for (unsigned j = 0; j < 3; j++)
            f->rel[f->n_rel][j] = (uint8_t)mem_index(f, ks[j]);
        f->n_rel++;
    }
}

static void
aes_destroy(void *p)
{
    struct shared *sh = p;

    if (sh == NULL)
        return;
    free(sh);
}

/* Checks the S-box and the expansion against FIPS-197 Appendix A.1, and
 * MixColumns and its inverse on the column db 13 53 45 -> 8e 4d a1 bc. */
static bool
self_test(const struct shared *sh)
{
    uint32_t e[44] = {0x2b7e1516, 0x28aed2a6, 0xabf71588, 0x09cf4f3c};

    expand_from(sh->sbox, 4, 44, 0, e);
    return sh->sbox[0] == 0x63 && sh->sbox[0x53] == 0xed && sh->sbox[0xff] == 0x16 &&
           e[4] == 0xa0fafe17 && e[43] == 0xb6630ca6 &&
           mix_column(sh, 0xdb135345, false) == 0x8e4da1bc &&
           mix_column(sh, 0x8e4da1bc, true) == 0xdb135345;
}

static dg_err
aes_create(const struct dg_config *cfg, void **out)
{
    struct shared *sh = calloc(1, sizeof *sh);
    const char *v = dg_config_get(cfg, "aes.max-bit-errors");

    if (sh == NULL)
        return DG_E_NOMEM;
    sh->max_err = AES_DEFAULT_ERRORS;
#if DG_HAVE_AVX2
    sh->avx2 = dg_cpu_avx2();
#endif
    if (v != NULL) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);

        if (*v == '\0' || *end != '\0' || n > AES_MAX_ERRORS) {
            free(sh);
            return DG_E_ARG;
        }
        sh->max_err = (unsigned)n;
    }
    make_sbox(sh->sbox);
    make_mix(sh->mix);
    for (unsigned i = 0; i < 3; i++) {
        make_form(&sh->form[2 * i], 4 + 2 * i, false);
        make_form(&sh->form[2 * i + 1], 4 + 2 * i, true);
    }
    if (!self_test(sh)) {
        aes_destroy(sh);
        return DG_E_CRYPTO;
    }
    *out = sh;
    return DG_OK;
}

static dg_err
aes_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    *out = c;
    return DG_OK;
}

static void
aes_release(void *p)
{
    free(p);
}

/* --- checks ---------------------------------------------------------------- */

static uint32_t
load32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

/* Step 2: the linear relations of form f at p (f->words * 4 bytes); true
 * when their residue is within 3 bits per tolerated error. */
static bool
linear_ok(const struct form *f, const uint8_t *p, unsigned limit)
{
    unsigned sum = 0;

    for (unsigned i = 0; i < f->n_rel; i++) {
        const uint8_t *r = f->rel[i];

        sum += popcount32(load32(p + 4 * r[0]) ^ load32(p + 4 * r[1]) ^ load32(p + 4 * r[2]));
        if (sum > limit)
            return false;
    }
    return true;
}

struct recovered {
    uint32_t e[AES_MAX_WORDS];  /* the encryption schedule, words as integers */
    unsigned errors;            /* bits that differ from memory */
    bool swapped;               /* words stored as host-order (byte-swapped) integers */
};

/* Step 3: recovers the key of the schedule of form f at p (both word orders),
 * into *out. Returns true when some key's schedule is within max_err bits.
 * Each window of Nk words is expanded one word at a time, forwards then
 * backwards, and compared as it goes: a window stops as soon as it cannot
 * beat the best so far, so bytes that only satisfy the linear relations cost
 * a word or two per window. The window's own words match by construction. */
static bool
recover(const struct shared *sh, const struct form *f, const uint8_t *p, struct recovered *out)
{
    uint32_t m[AES_MAX_WORDS], t[AES_MAX_WORDS];
    const unsigned nk = f->nk, words = f->words;
    bool found = false;

    out->errors = sh->max_err + 1;
    for (unsigned order = 0; order < 2 && out->errors > 0; order++) {
        for (unsigned i = 0; i < words; i++) {
            const uint8_t *b = p + 4 * i;

            m[i] = order == 0 ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                                    (uint32_t)b[2] << 8 | b[3]
                              : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 |
                                    (uint32_t)b[1] << 8 | b[0];
        }
        for (unsigned at = 0; at + nk <= words && out->errors > 0; at += 4) {
            unsigned d = 0;

            for (unsigned i = at; i < at + nk; i++)
                t[i] = enc_word(sh, f, m, i);
            for (unsigned i = at + nk; i < words && d < out->errors; i++) {
                t[i] = t[i - nk] ^ expand_t(sh->sbox, nk, i, t[i - 1]);
                d += word_errors(sh, f, m, t[i], i);
            }
            for (unsigned i = at; i-- > 0 && d < out->errors;) {
                t[i] = t[i + nk] ^ expand_t(sh->sbox, nk, i + nk, t[i + nk - 1]);
                d += word_errors(sh, f, m, t[i], i);
            }
            if (d < out->errors) {
                memcpy(out->e, t, words * sizeof t[0]);
                out->errors = d;
                out->swapped = order == 1;
                found = true;
            }
        }
    }
    OPENSSL_cleanse(m, sizeof m);
    OPENSSL_cleanse(t, sizeof t);
    return found;
}

/* A key of too few distinct byte values is a constant, not a secret (the
 * schedule of an all-zero key satisfies every relation). */
static bool
key_plausible(const uint8_t *key, size_t len)
{
    uint8_t seen[256] = {0};
    size_t distinct = 0;

    for (size_t i = 0; i < len; i++)
        if (!seen[key[i]]++)
            distinct++;
    return distinct * 3 >= len * 2; /* random keys: 15.5 of 16, 30 of 32 */
}

/* Public keys that are not secrets: the key of the SP 800-90A CTR_DRBG
 * derivation function (00 01 02 ... as long as the key; FIPS-197 Appendix C
 * uses the same), which every OpenSSL 3 process keeps expanded for its DRBGs,
 * and the FIPS-197 Appendix A example keys. */
static bool
key_public(const uint8_t *key, size_t len)
{
    static const uint8_t fips_a[3][32] = {
        {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
         0x4f, 0x3c},
        {0x8e, 0x73, 0xb0, 0xf7, 0xda, 0x0e, 0x64, 0x52, 0xc8, 0x10, 0xf3, 0x2b,
         0x80, 0x90, 0x79, 0xe5, 0x62, 0xf8, 0xea, 0xd2, 0x52, 0x2c, 0x6b, 0x7b},
        {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d,
         0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3,
         0x09, 0x14, 0xdf, 0xf4},
    };
    bool counting = true;

    for (size_t i = 0; i < len && counting; i++)
        counting = key[i] == i;
    return counting || memcmp(key, fips_a[(len - 16) / 8], len) == 0;
}

/* Step 4: one block through our round keys and through EVP must agree. */
static bool
evp_agrees(const struct shared *sh, const struct form *f, const uint32_t *e, const uint8_t *key)
{
    /* fetched by OpenSSL when a candidate needs them, not at start-up:
     * the first fetch of a process sets up the provider (3 ms) */
    static const EVP_CIPHER *(*const ecb[3])(void) = {EVP_aes_128_ecb, EVP_aes_192_ecb,
                                                      EVP_aes_256_ecb};
    static const uint8_t block[16] = "dumpgate aes poc";
    uint8_t ours[16], theirs[32];
    int n = 0, n2 = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    bool ok;

    ERR_set_mark();
    ok = c != NULL &&
         EVP_EncryptInit_ex2(c, ecb[(f->nk - 4) / 2](), key, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
         EVP_EncryptUpdate(c, theirs, &n, block, sizeof block) == 1 &&
         EVP_EncryptFinal_ex(c, theirs + n, &n2) == 1 && n + n2 == 16;
    EVP_CIPHER_CTX_free(c);
    ERR_pop_to_mark();
    if (ok) {
        encrypt_block(sh, e, f->nr, block, ours);
        ok = memcmp(ours, theirs, 16) == 0;
    }
    return ok;
}

/* Is the AES key whose schedule e sits at chunk index s [s, s + len) part of
 * a GCM context? GCM keeps its GHASH key H = E_K(0^128) beside the key
 * schedule (OpenSSL's gcm128_context, as two host-order 64-bit words;
 * others in byte order). Returns the distance from the schedule, or -1. */
static long
gcm_beside(const struct shared *sh, const struct form *f, const uint32_t *e,
           const struct dg_chunk *ch, size_t s, size_t len)
{
    static const uint8_t zero[16];
    uint8_t h[16], hs[16];
    size_t a = s > GCM_NEAR ? s - GCM_NEAR : 0, b = s + len + GCM_NEAR;
    long found = -1;

    if (f->dec)
        return -1; /* GCM only encrypts */
    encrypt_block(sh, e, f->nr, zero, h);
    for (int i = 0; i < 16; i++)
        hs[i] = h[(i & ~7) + 7 - (i & 7)];
    if (b > ch->len)
        b = ch->len;
    for (size_t i = a; i + 16 <= b && found < 0; i += 8) {
        if (i + 16 > s && i < s + len)
            continue;
        if (memcmp(ch->p + i, h, 16) == 0 || memcmp(ch->p + i, hs, 16) == 0)
            found = i < s ? (long)(s - i) : (long)(i - s);
    }
    OPENSSL_cleanse(h, sizeof h);
    OPENSSL_cleanse(hs, sizeof hs);
    return found;
}

/* Tests the schedule of form f at chunk index s. Returns true when it is one
 * (reported, or silently consumed when its key is public). */
static bool
try_at(struct ctx *c, const struct dg_chunk *ch, const struct form *f, size_t s,
       struct dg_sink *sink)
{
    const struct shared *sh = c->sh;
    struct recovered r;
    uint8_t key[32];
    unsigned klen = 4 * f->nk, bits = 32 * f->nk;
    struct dg_finding fd;
    bool ok;

    if (!linear_ok(f, ch->p + s, 3 * sh->max_err) || !recover(sh, f, ch->p + s, &r))
        return false;
    for (unsigned i = 0; i < klen; i++)
        key[i] = (uint8_t)(r.e[i / 4] >> (24 - 8 * (i % 4)));
    if (key_public(key, klen)) {
        OPENSSL_cleanse(key, sizeof key);
        OPENSSL_cleanse(&r, sizeof r);
        return true; /* a schedule, but of a public key: consumed, not reported */
    }
    ok = key_plausible(key, klen) && evp_agrees(sh, f, r.e, key);
    if (ok) {
        memset(&fd, 0, sizeof fd);
        dg_strlcpyf(fd.type, sizeof fd.type, "aes-key");
        fd.status = DG_STATUS_CONFIRMED;
        fd.severity = DG_SEV_MEDIUM;
        fd.off = ch->off + s;
        fd.len = 4u * f->words;
        dg_strlcpyf(fd.encoding, sizeof fd.encoding, "%s",
                    f->dec ? "aes-dec-schedule" : "aes-enc-schedule");
        dg_strlcpyf(fd.key.algorithm, sizeof fd.key.algorithm, "AES");
        fd.key.bits = bits;
        keyproof_sha256_hex(key, klen, fd.key.key_sha256);
        dg_strlcpyf(fd.proof, sizeof fd.proof,
                    "AES-%u key expansion holds over %u round keys with %u bit error%s; "
                    "EVP AES-%u-ECB agrees",
                    bits, f->nr + 1, r.errors, r.errors == 1 ? "" : "s", bits);
        if (gcm_beside(sh, f, r.e, ch, s, fd.len) >= 0) {
            fd.role = DG_ROLE_SESSION;
            dg_strlcpyf(fd.reason, sizeof fd.reason,
                        "an AES-GCM record key: its GHASH key E_K(0) sits beside the schedule "
                        "(a TLS or SSH connection's cipher context)");
        }
        if (r.errors > 0)
            dg_strlcpyf(fd.note, sizeof fd.note,
                        "%u bit%s of the schedule differ from the key's expansion (decayed or "
                        "overwritten)",
                        r.errors, r.errors == 1 ? "" : "s");
        dg_strlcpyf(fd.preview, sizeof fd.preview,
                    "AES-%u %scryption key schedule, %u bytes, %s 32-bit words (redacted)", bits,
                    f->dec ? "de" : "en", 4 * f->words,
                    r.swapped ? "byte-swapped" : "byte-order");
        dg_report(sink, &fd);
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(&r, sizeof r);
    return ok;
}

/* Half the bytes looked at around a trigger by random_near(). */
#define NEAR_HALF 48u

/* True when a byte of [y - NEAR_HALF, y + NEAR_HALF) has one of its two
 * high bits set. A schedule holding y has there at least 48 bytes of its
 * expanded words (the hits of a run lie in words the expansion computed,
 * never in the key: a run needs w[k] ^ w[k-1] = w[k-Nk] with k >= Nk, and
 * a schedule is at least 176 bytes long), and those look random: all of
 * them below 0x40 has probability 4^-48, and the tolerated bit errors
 * cannot clear the high bits of some 36 bytes. Arrays of small numbers (a
 * JVM's card tables and bitmaps, counters) make long runs of hits, each of
 * which would try some 1,400 starts and forms; this answers them at once. */
static bool
random_near(const uint8_t *p, size_t len, size_t y)
{
    size_t a = y > NEAR_HALF ? y - NEAR_HALF : 0, b = y + NEAR_HALF < len ? y + NEAR_HALF : len;
    uint64_t acc = 0;

    for (; a + 8 <= b; a += 8)
        acc |= load_le64(p + a);
    for (; a < b; a++)
        acc |= p[a];
    return (acc & 0xc0c0c0c0c0c0c0c0ull) != 0;
}

/* A run of prefilter hits starts at chunk index y: tries every form at every
 * start that would put y inside it, from y down. Starts at or below an
 * earlier trigger that tried them all are not tried again: every form that
 * reaches y from there also reached that trigger, and the answer at a start
 * depends only on the bytes. So dense triggers cost each start once. */
static void
trigger(struct ctx *c, const struct dg_chunk *ch, size_t y, struct dg_sink *sink)
{
    if (y < c->covered || !random_near(ch->p, ch->len, y))
        return;
    for (size_t back = 0; back <= AES_MAX_BYTES && back <= y; back++) {
        size_t s = y - back;

        if (s < c->tried)
            break;
        if (s >= ch->owned)
            continue;
        for (unsigned i = 0; i < N_FORMS; i++) {
            const struct form *f = &c->sh->form[i];

            if (back > 4 * f->words || s + 4 * f->words > ch->len)
                continue;
            if (try_at(c, ch, f, s, sink)) {
                c->covered = s + 4 * f->words;
                return;
            }
        }
    }
    c->tried = y + 1;
}

/* --- prefilter ------------------------------------------------------------- */

static const int deltas[N_FORMS] = {-16, 16, -24, 8, -32, 32};

/* Prefilter hits at y .. y+n-1 as bits, with bounds checks. */
static unsigned
hits_slow(const uint8_t *p, size_t len, size_t y0, unsigned n)
{
    unsigned m = 0;

    for (unsigned i = 0; i < n; i++) {
        size_t y = y0 + i;
        uint8_t q;

        if (y < 4 || y >= len || (q = p[y] ^ p[y - 4]) == 0)
            continue;
        for (unsigned j = 0; j < N_FORMS; j++) {
            size_t t = (size_t)((ptrdiff_t)y + deltas[j]);

            if ((deltas[j] < 0 && y < (size_t)-deltas[j]) || (deltas[j] > 0 && t >= len))
                continue;
            if (p[t] == q) {
                m |= 1u << i;
                break;
            }
        }
    }
    return m;
}

/* Starts of runs of AES_RUN hits that begin in the low 16 bits of w (the
 * previous block; the current one is in the high 16 bits). */
static unsigned
run_starts(uint32_t w)
{
    uint32_t r = w & w >> 1;

    r &= r >> 2;
    r &= r >> 4; /* bit i: bits i..i+7 all set */
    return (unsigned)(r & ~(r << 1) & 0xffffu);
}

/* The hit masks of the 16-byte block at y (bit i: byte y + i is a hit). */
static unsigned
hits16(const uint8_t *p, size_t len, size_t y)
{
#ifdef __SSE2__
    if (y >= 32 && y + 48 <= len) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + y));
        __m128i q = _mm_xor_si128(a, _mm_loadu_si128((const __m128i *)(const void *)(p + y - 4)));
        __m128i z = _mm_cmpeq_epi8(q, _mm_setzero_si128());
        __m128i h = _mm_setzero_si128();

        for (unsigned j = 0; j < N_FORMS; j++)
            h = _mm_or_si128(h, _mm_cmpeq_epi8(q, _mm_loadu_si128((const __m128i *)(const void *)(
                                                      p + y + deltas[j]))));
        return (unsigned)_mm_movemask_epi8(_mm_andnot_si128(z, h));
    }
#endif
    return hits_slow(p, len, y, 16);
}

#if DG_HAVE_AVX2
/* The hit masks of the two 16-byte blocks at y and y + 16 (needs 32 <= y and
 * y + 64 <= len), the same as two hits16() calls. */
DG_TARGET_AVX2 static inline uint32_t
hits32_avx2(const uint8_t *p, size_t y)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(p + y));
    __m256i q = _mm256_xor_si256(a, _mm256_loadu_si256((const __m256i *)(const void *)(p + y - 4)));
    __m256i z = _mm256_cmpeq_epi8(q, _mm256_setzero_si256());
    __m256i h = _mm256_setzero_si256();

    for (unsigned j = 0; j < N_FORMS; j++)
        h = _mm256_or_si256(h, _mm256_cmpeq_epi8(q, _mm256_loadu_si256((const __m256i *)(const void *)(
                                                        p + y + deltas[j]))));
    return (uint32_t)_mm256_movemask_epi8(_mm256_andnot_si256(z, h));
}
#endif

/* The hits m of the two blocks at y and y + 16: triggers every run of
 * AES_RUN hits that starts in the block before y (*prev) or at y. The word w
 * holds *prev in bits 0-15 and m in bits 16-47, so such a run is whole in w. */
static inline __attribute__((always_inline)) void
step(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t y, uint32_t m,
     uint32_t *prev)
{
    uint64_t w = *prev | (uint64_t)m << 16, r = w & w >> 1;

    r &= r >> 2;
    r &= r >> 4; /* bit i: bits i..i+7 all set */
    for (r = r & ~(r << 1) & 0xffffffffu; r != 0; r &= r - 1)
        trigger(c, ch, y - 16 + (size_t)__builtin_ctzll(r), sink);
    *prev = m >> 16;
}

#if DG_HAVE_AVX2
/* Pairs of blocks from y while hits32_avx2() can read them and the second
 * block is before end; returns the next y. */
DG_TARGET_AVX2 static size_t
blocks_avx2(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t y, size_t end,
            uint32_t *prev)
{
    for (; y + 64 <= ch->len && y + 16 < end; y += 32)
        step(c, ch, sink, y, hits32_avx2(ch->p, y), prev);
    return y;
}
#endif

static dg_err
aes_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    const uint8_t *p = ch->p;
    const size_t a = chunk_phase(ch), blk = 8 * MEMO_BLOCK_WORDS;
    size_t len = ch->len, end, y = 0, span_end = 0;
    uint32_t prev = 0;
    const bool avx2 = c->sh->avx2;
    bool image = false;
    /* the engine's memo: its word flags are shared with rsa-raw and
     * rsa-factor, so the blocks' runs cost little; a harness that calls
     * scan() alone has none, and every block is read */
    struct dg_chunk_memo *memo = ch->memo;
    size_t blk_end = memo != NULL ? 0 : SIZE_MAX; /* where the block tested last ends */

    (void)avx2;
    c->covered = c->tried = 0;
    /* A schedule that starts in the owned part has its hits below owned + 240. */
    end = ch->owned + AES_MAX_BYTES + 16 < len ? ch->owned + AES_MAX_BYTES + 16 : len;
    /* Two blocks at a time (see step()). */
    while (y < end) {
        uint32_t m;

        if (y >= span_end) {
            span_end = chunk_span_end(ch, y, &image);
            if (image) { /* a file's read-only image: no schedule was expanded there */
                y = span_end;
                prev = 0;
                continue;
            }
        }
        if (y >= blk_end) {
            /* A schedule looks random: a block with no run of such words
             * near it (pointers, code, text, small numbers) holds none. */
            size_t b = y < a ? 0 : (y - a) / blk;

            blk_end = a + (b + 1) * blk;
            if (!chunk_random_near(memo, b, AES_RANDOM_RUN)) {
                y = blk_end;
                prev = 0;
                continue;
            }
        }

#if DG_HAVE_AVX2
        if (avx2 && y >= 32) {
            size_t lim = span_end < end ? span_end : end;
            size_t y2 = blocks_avx2(c, ch, sink, y, blk_end < lim ? blk_end : lim, &prev);

            if (y2 != y) {
                y = y2;
                continue;
            }
        }
#endif
        m = hits16(p, len, y) | (y + 16 < end ? (uint32_t)hits16(p, len, y + 16) << 16 : 0);
        step(c, ch, sink, y, m, &prev);
        y += 32;
    }
    /* Runs that start in the last block (prev, which began at y - 16). */
    for (unsigned starts = run_starts(prev); starts != 0; starts &= starts - 1)
        trigger(c, ch, y - 16 + (size_t)__builtin_ctz(starts), sink);
    return DG_OK;
}

static const char *const aes_options[] = {"aes.max-bit-errors", NULL};

const struct dg_detector dg_detector_aes = {
    .abi = DG_DETECTOR_ABI,
    .name = "aes",
    .summary = "expanded AES-128/192/256 key schedules (encryption and decryption, byte order "
               "or byte-swapped words), tolerant of a few flipped bits; key_sha256 only",
    .forms = forms,
    .severity = DG_SEV_MEDIUM,
    .max_span = AES_SPAN,
    .flags = DG_DET_BINARY | DG_DET_NO_IMAGES,
    .default_on = true,
    .create = aes_create,
    .init = aes_init,
    .scan = aes_scan,
    .release = aes_release,
    .destroy = aes_destroy,
    .options = aes_options,
};
