/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * jwk.c - the `jwk` detector: private JSON Web Keys (RFC 7517/7518/8037),
 * alone or in a JWKS "keys" array, proven.
 *
 * Finds JSON objects with "kty" and private members (RSA d/p/q/dp/dq/qi, EC
 * and OKP d, oct k) in ASCII/UTF-8, UTF-16LE and UTF-16BE, raw or
 * JSON-escaped one or more levels deep ({\"kty\":\"RSA\",...} inside a JSON
 * string), anywhere in arbitrary bytes. Layouts: keyforms.md §4.
 *
 * 1. Prefilter: an SSE2 pass (a portable loop elsewhere) marks 'k' followed
 *    by 't' or by a zero byte; "kty" and its quotes are then checked in each
 *    encoding.
 * 2. The characters around the anchor are decoded to ASCII (remembering each
 *    one's byte offset), JSON escapes are undone as many levels as the quote
 *    before "kty" has, the enclosing '{' is found backwards (bounded) and the
 *    matching '}' forwards (string-aware), and the object is parsed with
 *    jansson.
 * 3. Members are base64url-decoded with OpenSSL (EVP_DecodeBlock after
 *    translating the alphabet), the key is rebuilt with EVP_PKEY_fromdata and
 *    proven by keyproof_prove(). The finding carries the "kid" and the RFC 7638
 *    thumbprint.
 *
 * Verdicts: proven keys are confirmed/high; a private JWK whose members decode
 * but whose math fails is a medium candidate; an oct key of 16 bytes or more
 * is confirmed/medium "symmetric-key" with key_sha256 (SHA-256 of the key
 * bytes: an identifier, never the key). Public JWKs, JWKS of public keys and
 * placeholders ("d": "...") are silent.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/param_build.h>

#include <dumpgate/detector.h>

#include "../scanner/formats/jwk.h"
#include "../scanner/formats/textenc.h"
#include "../scanner/proof/keyproof.h"
#include "../scanner/util/simd.h"

#define JWK_BACK 8192        /* characters searched backwards for the '{' */
#define JWK_FORWARD 24576    /* characters searched forwards for the '}' */
#define JWK_MAX_SPAN (96u << 10)  /* bytes: UTF-16 of BACK + FORWARD characters, and more */
#define JWK_LOOKAHEAD (2 * JWK_BACK + 16) /* anchors this far past the owned part */
#define JWK_MAX_LEVELS 3     /* JSON-escape levels undone */
#define JWK_MAX_WINDOWS 2048u /* anchors per chunk whose window is decoded (each up to
                                 BACK + FORWARD characters): bounds a chunk of
                                 nothing but "kty" to about 0.2 s */


static const char *const forms[] = {"rsa", "ec", "okp", "oct", "jwks", NULL};

struct ctx {
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
    char *txt;       /* decoded characters of the window */
    uint32_t *src;   /* byte offset in the chunk of each character, plus one past the end */
    struct jwk_buf *bin; /* a decoded member */
    uint32_t *back;  /* byte offsets of the characters before an anchor, nearest first */
    unsigned n_windows; /* windows decoded in this chunk (JWK_MAX_WINDOWS + 1: some refused) */
    bool used;       /* txt or bin written: release() wipes them whole (an untouched
                      * buffer is not touched to wipe it) */
};

static dg_err
jwk_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);
    size_t n = JWK_BACK + JWK_FORWARD + 8;

    if (c == NULL)
        return DG_E_NOMEM;
    c->proof = keyproof_policy_of(shared);
    c->txt = malloc(n);
    c->src = malloc(n * sizeof *c->src);
    c->bin = malloc(sizeof *c->bin);
    c->back = malloc(JWK_BACK * sizeof *c->back);
    if (c->txt == NULL || c->src == NULL || c->bin == NULL || c->back == NULL) {
        free(c->back);
        free(c->txt);
        free(c->src);
        free(c->bin);
        free(c);
        return DG_E_NOMEM;
    }
    *out = c;
    return DG_OK;
}

static void
jwk_release(void *p)
{
    struct ctx *c = p;

    if (c == NULL)
        return;
    if (c->used) {
        OPENSSL_cleanse(c->txt, JWK_BACK + JWK_FORWARD + 8);
        OPENSSL_cleanse(c->bin, sizeof *c->bin);
    }
    free(c->txt);
    free(c->src);
    free(c->bin);
    free(c->back);
    free(c);
}

/* --- text ------------------------------------------------------------------ */

/* The character at byte i in encoding e, or -1 if not printable ASCII or
 * whitespace, or out of p[0..len). */
static int
char_at(const uint8_t *p, size_t len, size_t i, enum text_enc e)
{
    int ch = text_char_at(p, len, i, e);

    if ((ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\r' || ch == '\t')
        return ch;
    return -1;
}

/* Undoes one level of JSON string escapes in c->txt[0..n) in place, keeping
 * c->src in step; returns the new length. */
static size_t
unescape(struct ctx *c, size_t n, size_t *anchor)
{
    size_t r = 0, w = 0, new_anchor = *anchor;

    while (r < n) {
        char ch = c->txt[r];
        uint32_t at = c->src[r];
        size_t adv = 1;

        if (r == *anchor)
            new_anchor = w;
        if (ch == '\\' && r + 1 < n) {
            char e = c->txt[r + 1];

            adv = 2;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case '"': case '\\': case '/': ch = e; break;
            case 'u':
                if (r + 5 < n) {
                    int v = 0;

                    for (int k = 2; k < 6 && v >= 0; k++)
                        v = text_hexval(c->txt[r + k]) < 0 ? -1 : v * 16 + text_hexval(c->txt[r + k]);
                    if (v >= 0x20 && v < 0x7f) {
                        ch = (char)v;
                        adv = 6;
                        break;
                    }
                }
                ch = '?';
                break;
            default:
                ch = e;
                break;
            }
        }
        c->txt[w] = ch;
        c->src[w] = at;
        w++;
        r += adv;
    }
    c->src[w] = c->src[n];
    *anchor = new_anchor;
    return w;
}

/* Finds the '}' matching the '{' at txt[open], string-aware; returns its
 * index or 0. */
static size_t
match_close(const char *t, size_t n, size_t open)
{
    int depth = 0;
    bool str = false;

    for (size_t i = open; i < n; i++) {
        char ch = t[i];

        if (str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                str = false;
        } else if (ch == '"') {
            str = true;
        } else if (ch == '{') {
            depth++;
        } else if (ch == '}' && --depth == 0) {
            return i;
        }
    }
    return 0;
}

/* An oct JWK that declares a signing use is a JWT signing key: long-term.
 * RFC 7518 3.2 names HS256/384/512; "use": "sig" (RFC 7517 4.2) and
 * "key_ops" with "sign" say the same. Anything else stays the engine's call. */
static void
signing_use(const json_t *o, struct dg_finding *f)
{
    const char *alg = json_string_value(json_object_get(o, "alg"));
    const char *use = json_string_value(json_object_get(o, "use"));
    const json_t *ops = json_object_get(o, "key_ops");
    bool sign = false;
    size_t i;
    const json_t *op;

    json_array_foreach(ops, i, op)
        sign |= json_is_string(op) && strcmp(json_string_value(op), "sign") == 0;
    if (alg != NULL && strncmp(alg, "HS", 2) == 0 && strlen(alg) <= 8) {
        f->role = DG_ROLE_LONG_TERM;
        dg_strlcpyf(f->reason, sizeof f->reason,
                    "a symmetric JWK with \"alg\": \"%s\": it signs tokens (JWT HMAC key)", alg);
    } else if ((use != NULL && strcmp(use, "sig") == 0) || sign) {
        f->role = DG_ROLE_LONG_TERM;
        dg_strlcpyf(f->reason, sizeof f->reason,
                    "a symmetric JWK declared for signing (%s): it signs tokens",
                    sign ? "\"key_ops\": [\"sign\"]" : "\"use\": \"sig\"");
    }
}

/* Judges a parsed object; returns true and fills f for a private key. */
static bool
judge(struct ctx *c, const json_t *o, struct dg_finding *f)
{
    const char *kty = json_string_value(json_object_get(o, "kty"));
    const char *kid = json_string_value(json_object_get(o, "kid"));
    EVP_PKEY *pkey = NULL;
    unsigned flags = 0;

    if (kty == NULL)
        return false;
    if (strcmp(kty, "oct") == 0) {
        int n = jwk_member(c->bin, o, "k");

        if (n < 16)
            return false; /* absent, a placeholder, or too short to be a key */
        keyproof_sha256_hex(c->bin->b, (size_t)n, f->key.key_sha256);
        OPENSSL_cleanse(c->bin->b, (size_t)n);
        dg_strlcpyf(f->type, sizeof f->type, "symmetric-key");
        dg_strlcpyf(f->key.algorithm, sizeof f->key.algorithm, "oct");
        f->key.bits = (unsigned)n * 8;
        f->status = DG_STATUS_CONFIRMED;
        f->severity = DG_SEV_MEDIUM;
        dg_strlcpyf(f->proof, sizeof f->proof, "k decodes to %d bytes", n);
        dg_strlcpyf(f->note, sizeof f->note, "symmetric key (no public half)");
        signing_use(o, f);
    } else {
        if (jwk_member(c->bin, o, "d") <= 0)
            return false; /* public, or a placeholder such as "d": "..." */
        OPENSSL_cleanse(c->bin->b, JWK_MAX_MEMBER);
        pkey = jwk_private_key(o, &flags);
        if (pkey == NULL) {
            f->status = DG_STATUS_CANDIDATE;
            f->severity = DG_SEV_MEDIUM;
            dg_strlcpyf(f->type, sizeof f->type, "private-key");
            dg_strlcpyf(f->note, sizeof f->note,
                        "JWK (kty %.16s) with a private member that OpenSSL cannot rebuild", kty);
        } else if (keyproof_prove(c->proof, pkey, flags, &f->key, f->proof, sizeof f->proof) ==
                   DG_OK) {
            dg_strlcpyf(f->type, sizeof f->type, "%s", keyproof_type_name(f->key.algorithm));
            f->status = DG_STATUS_CONFIRMED;
            f->severity = DG_SEV_HIGH;
        } else {
            dg_strlcpyf(f->type, sizeof f->type, "%s", keyproof_type_name(f->key.algorithm));
            f->status = DG_STATUS_CANDIDATE;
            f->severity = DG_SEV_MEDIUM;
            dg_strlcpyf(f->note, sizeof f->note, "key decoded but not proven: %s", f->proof);
            f->proof[0] = '\0';
        }
        EVP_PKEY_free(pkey);
    }
    if (kid != NULL) {
        size_t i;

        for (i = 0; kid[i] != '\0' && i + 1 < sizeof f->key.kid; i++)
            f->key.kid[i] = kid[i] >= 0x20 && kid[i] < 0x7f ? kid[i] : '?';
        f->key.kid[i] = '\0';
    }
    jwk_thumbprint(o, f->key.jwk_thumbprint);
    return true;
}

/* --- anchors --------------------------------------------------------------- */

/* Examines "kty" at byte k in encoding e. Returns the chunk index of the end
 * of the object (0 if none). */
static size_t
at_kty(struct ctx *c, const struct dg_chunk *ch, size_t k, enum text_enc e, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    size_t w = e == ENC_ASCII ? 1 : 2, lo, n = 0, a, open, close, bs = 0, levels = 0;
    uint32_t *back = c->back;
    size_t nb = 0;
    json_t *o;
    json_error_t jerr;
    struct dg_finding f;

    if (c->n_windows > JWK_MAX_WINDOWS || ++c->n_windows > JWK_MAX_WINDOWS)
        return 0; /* jwk_scan() warns */
    c->used = true;
    /* Characters before the anchor, nearest first. */
    for (size_t i = k; nb < JWK_BACK;) {
        if (i < w)
            break;
        i -= w;
        if (char_at(p, ch->len, i, e) < 0)
            break;
        back[nb++] = (uint32_t)i;
    }
    lo = nb;
    for (size_t j = nb; j-- > 0;) {
        c->src[n] = back[j];
        c->txt[n++] = (char)char_at(p, ch->len, back[j], e);
    }
    a = n;
    for (size_t i = k; n < lo + JWK_FORWARD; i += w) {
        int ch8 = char_at(p, ch->len, i, e);

        if (ch8 < 0) {
            c->src[n] = (uint32_t)i;
            break;
        }
        c->src[n] = (uint32_t)i;
        c->txt[n++] = (char)ch8;
        c->src[n] = (uint32_t)(i + w);
    }
    /* "kty" then a quote; the quote before it tells the escape depth. */
    if (a < 1 || n < a + 4 || memcmp(c->txt + a, "kty", 3) != 0 || c->txt[a - 1] != '"')
        return 0;
    while (bs + 2 <= a && c->txt[a - 2 - bs] == '\\')
        bs++;
    while (levels <= JWK_MAX_LEVELS && (1u << levels) - 1 < bs)
        levels++;
    if ((1u << levels) - 1 != bs || levels > JWK_MAX_LEVELS)
        return 0;
    for (size_t l = 0; l < levels; l++)
        n = unescape(c, n, &a);
    if (n < a + 4 || memcmp(c->txt + a, "kty\"", 4) != 0)
        return 0;
    /* The enclosing '{', backwards, skipping nested objects. */
    {
        int depth = 0;
        size_t i = a;

        open = SIZE_MAX;
        while (i-- > 0) {
            if (c->txt[i] == '}') {
                depth++;
            } else if (c->txt[i] == '{' && depth-- == 0) {
                open = i;
                break;
            }
        }
    }
    if (open == SIZE_MAX)
        return 0; /* none, or before the chunk: then the previous chunk's */
    if (c->src[open] >= ch->owned)
        return 0;
    close = match_close(c->txt, n, open);
    if (close == 0)
        return 0;
    o = json_loadb(c->txt + open, close + 1 - open, JSON_DISABLE_EOF_CHECK, &jerr);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return 0;
    }
    memset(&f, 0, sizeof f);
    if (judge(c, o, &f)) {
        static const char *const encname[] = {"ascii", "utf-16le", "utf-16be"};

        f.off = ch->off + c->src[open];
        f.len = c->src[close + 1] - c->src[open];
        dg_strlcpyf(f.encoding, sizeof f.encoding, "jwk");
        dg_strlcpyf(f.text, sizeof f.text, "%s%s", encname[e], levels ? ", json-escaped" : "");
        dg_strlcpyf(f.preview, sizeof f.preview, "{\"kty\":\"%.8s\", ...} [%llu bytes, redacted]",
                    json_string_value(json_object_get(o, "kty")), (unsigned long long)f.len);
        dg_report(sink, &f);
    }
    json_decref(o);
    OPENSSL_cleanse(c->txt + open, close + 1 - open);
    return c->src[close + 1];
}

/* 'k' at i: "kty" in ASCII, UTF-16LE (k 00 t 00 y 00) or UTF-16BE (00 k 00 t 00 y). */
static size_t
probe(struct ctx *c, const struct dg_chunk *ch, size_t i, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    size_t len = ch->len;

    if (i + 3 <= len && p[i + 1] == 't' && p[i + 2] == 'y')
        return at_kty(c, ch, i, ENC_ASCII, sink);
    if (i + 6 > len || p[i + 1] != 0 || p[i + 2] != 't' || p[i + 3] != 0 || p[i + 4] != 'y')
        return 0;
    /* In the middle of a string both alignments read the same characters;
     * the edges of the object decide. UTF-16LE first, the common one. */
    if (p[i + 5] == 0) {
        size_t r = at_kty(c, ch, i, ENC_UTF16LE, sink);

        if (r != 0)
            return r;
    }
    if (i >= 1 && p[i - 1] == 0)
        return at_kty(c, ch, i - 1, ENC_UTF16BE, sink);
    return 0;
}

/* Bit i set where p[i] == 'k' and p[i + 1] is 't' or 0 ("kty" in ASCII or
 * UTF-16LE), for i < 16 (reads p[0..17)). */
static inline uint32_t
kty16(const uint8_t *p)
{
#ifdef __SSE2__
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));

    return (uint32_t)_mm_movemask_epi8(_mm_and_si128(
        _mm_cmpeq_epi8(a, _mm_set1_epi8('k')),
        _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('t')), _mm_cmpeq_epi8(b, _mm_setzero_si128()))));
#else
    uint32_t m = 0;

    for (unsigned i = 0; i < 16; i++)
        m |= (uint32_t)(p[i] == 'k' && (p[i + 1] == 't' || p[i + 1] == 0)) << i;
    return m;
#endif
}

#if DG_HAVE_AVX2
/* kty16() for i < 32 (reads p[0..33)). */
DG_TARGET_AVX2 static inline uint32_t
kty32(const uint8_t *p)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));

    return (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(
        _mm256_cmpeq_epi8(a, _mm256_set1_epi8('k')),
        _mm256_or_si256(_mm256_cmpeq_epi8(b, _mm256_set1_epi8('t')),
                        _mm256_cmpeq_epi8(b, _mm256_setzero_si256()))));
}
#endif

/* Probes every candidate mask_at() finds in blocks of step positions from i;
 * returns where it stopped. Inline, so each caller has mask_at() inlined. */
static inline __attribute__((always_inline)) size_t
scan_blocks(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
            size_t *skip, uint32_t (*mask_at)(const uint8_t *), size_t step)
{
    for (; i + step + 1 <= ch->len && i < end; i += step)
        for (uint32_t m = mask_at(ch->p + i); m != 0; m &= m - 1) {
            size_t k = i + (size_t)__builtin_ctz(m);

            if (k >= end)
                break;
            if (k >= *skip) {
                size_t r = probe(c, ch, k, sink);

                if (r > *skip)
                    *skip = r;
            }
        }
    return i;
}

static size_t
scan_blocks16(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
              size_t *skip)
{
    return scan_blocks(c, ch, sink, i, end, skip, kty16, 16);
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static size_t
scan_blocks32(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
              size_t *skip)
{
    return scan_blocks(c, ch, sink, i, end, skip, kty32, 32);
}
#endif

static dg_err
jwk_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    const uint8_t *p = ch->p;
    size_t i = 0, skip = 0;
    /* "kty" may follow the object's '{' by up to JWK_BACK characters. */
    size_t end = ch->owned + JWK_LOOKAHEAD < ch->len ? ch->owned + JWK_LOOKAHEAD : ch->len;

    c->n_windows = 0;
    if (ch->hits != NULL) { /* the engine found the "kt"s */
        struct dg_hit_iter it = {0};

        for (size_t k; (k = dg_hits_next(ch, &it)) < end;)
            if (k + 1 < ch->len && p[k] == 'k' && (p[k + 1] == 't' || p[k + 1] == 0) && k >= skip) {
                size_t r = probe(c, ch, k, sink);

                if (r > skip)
                    skip = r;
            }
    } else {
#if DG_HAVE_AVX2
        if (dg_cpu_avx2())
            i = scan_blocks32(c, ch, sink, i, end, &skip);
#endif
        i = scan_blocks16(c, ch, sink, i, end, &skip);
        for (; i < end && i + 1 < ch->len; i++) {
            if (p[i] == 'k' && (p[i + 1] == 't' || p[i + 1] == 0) && i >= skip) {
                size_t r = probe(c, ch, i, sink);

                if (r > skip)
                    skip = r;
            }
        }
    }
    if (c->n_windows > JWK_MAX_WINDOWS)
        dg_sink_warn(sink, ch->off,
                     "jwk: more than %u \"kty\" candidates in the chunk; the ones after that "
                     "were not decoded",
                     JWK_MAX_WINDOWS);
    return DG_OK;
}

/* kty16()'s strings: "kt", and 'k' then 0 (UTF-16) */
static const struct dg_trigger triggers[] = {{2, {'k', 't'}, 0}, {2, {'k', 0}, 0}, {0, {0}, 0}};

const struct dg_detector dg_detector_jwk = {
    .abi = DG_DETECTOR_ABI,
    .name = "jwk",
    .summary = "private JSON Web Keys and JWKS (RSA, EC, OKP, oct) in ASCII, UTF-16 and "
               "JSON-escaped text, with kid and RFC 7638 thumbprint; proven with OpenSSL",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = JWK_MAX_SPAN,
    .flags = DG_DET_TEXT,
    .default_on = true,
    .create = keyproof_policy_create,
    .init = jwk_init,
    .scan = jwk_scan,
    .release = jwk_release,
    .destroy = keyproof_policy_destroy,
    .triggers = triggers,
};
