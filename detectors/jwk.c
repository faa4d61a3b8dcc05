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

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"

#define JWK_BACK 8192        /* characters searched backwards for the '{' */
#define JWK_FORWARD 24576    /* characters searched forwards for the '}' */
#define JWK_MAX_SPAN (96u << 10)  /* bytes: UTF-16 of BACK + FORWARD characters, and more */
#define JWK_LOOKAHEAD (2 * JWK_BACK + 16) /* anchors this far past the owned part */
#define JWK_MAX_MEMBER 2048  /* decoded bytes of one member (RSA-16384) */
#define JWK_MAX_LEVELS 3     /* JSON-escape levels undone */

enum enc { ENC_ASCII, ENC_UTF16LE, ENC_UTF16BE };

static const char *const forms[] = {"rsa", "ec", "okp", "oct", "jwks", NULL};

struct ctx {
    char *txt;       /* decoded characters of the window */
    uint32_t *src;   /* byte offset in the chunk of each character, plus one past the end */
    unsigned char *bin; /* a decoded member, JWK_MAX_MEMBER + 4 bytes */
    uint32_t *back;  /* byte offsets of the characters before an anchor, nearest first */
};

static dg_err
jwk_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);
    size_t n = JWK_BACK + JWK_FORWARD + 8;

    (void)shared;
    if (c == NULL)
        return DG_E_NOMEM;
    c->txt = malloc(n);
    c->src = malloc(n * sizeof *c->src);
    c->bin = malloc(JWK_MAX_MEMBER + 4);
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
    OPENSSL_cleanse(c->txt, JWK_BACK + JWK_FORWARD + 8);
    OPENSSL_cleanse(c->bin, JWK_MAX_MEMBER + 4);
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
char_at(const uint8_t *p, size_t len, size_t i, enum enc e)
{
    int ch;

    if (e == ENC_ASCII) {
        if (i >= len)
            return -1;
        ch = p[i];
    } else {
        if (i + 1 >= len)
            return -1;
        if (e == ENC_UTF16LE ? p[i + 1] != 0 : p[i] != 0)
            return -1;
        ch = e == ENC_UTF16LE ? p[i] : p[i + 1];
    }
    if ((ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\r' || ch == '\t')
        return ch;
    return -1;
}

static int
hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
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
                        v = hexval(c->txt[r + k]) < 0 ? -1 : v * 16 + hexval(c->txt[r + k]);
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

/* --- members --------------------------------------------------------------- */

/* Base64url-decodes member `name` of o into c->bin with OpenSSL; returns the
 * byte count, or -1 when absent, empty, too long or not base64url. */
static int
member(struct ctx *c, const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    char buf[((JWK_MAX_MEMBER + 2) / 3) * 4 + 8];
    size_t n, pad = 0;
    int out;

    if (s == NULL)
        return -1;
    n = strlen(s);
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n == 0 || n % 4 == 1 || n + 4 > sizeof buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (ch == '-')
            ch = '+';
        else if (ch == '_')
            ch = '/';
        else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                   ch == '+' || ch == '/'))
            return -1;
        buf[i] = ch;
    }
    while ((n + pad) % 4 != 0)
        buf[n + pad++] = '=';
    out = EVP_DecodeBlock(c->bin, (const unsigned char *)buf, (int)(n + pad));
    OPENSSL_cleanse(buf, n + pad);
    if (out < 0)
        return -1;
    return out - (int)pad; /* EVP_DecodeBlock counts the padding as zero bytes */
}

/* The member as a BIGNUM (secure memory for secrets), or NULL. */
static BIGNUM *
member_bn(struct ctx *c, const json_t *o, const char *name)
{
    int n = member(c, o, name);
    BIGNUM *bn;

    if (n <= 0)
        return NULL;
    bn = BN_secure_new();
    if (bn != NULL && BN_bin2bn(c->bin, n, bn) == NULL) {
        BN_clear_free(bn);
        bn = NULL;
    }
    OPENSSL_cleanse(c->bin, (size_t)n);
    return bn;
}

/* base64url without padding of data into out (size >= 4 * (len + 2) / 3 + 1). */
static void
b64url(const unsigned char *data, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
        else if (out[i] == '=') {
            out[i] = '\0';
            return;
        }
    }
    out[n] = '\0';
}

/* RFC 7638: SHA-256 of the required members in lexicographic order, no
 * whitespace, base64url. */
static void
thumbprint(const json_t *o, const char *kty, char out[48])
{
    static const struct {
        const char *kty;
        const char *members[4];
    } req[] = {
        {"RSA", {"e", "kty", "n", NULL}},
        {"EC", {"crv", "kty", "x", "y"}},
        {"OKP", {"crv", "kty", "x", NULL}},
        {"oct", {"k", "kty", NULL, NULL}},
    };
    json_t *t = json_object();
    char *canon = NULL;
    unsigned char md[32];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (t == NULL)
        return;
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        if (strcmp(kty, req[i].kty) != 0)
            continue;
        for (size_t m = 0; m < 4 && req[i].members[m] != NULL; m++) {
            json_t *v = json_object_get(o, req[i].members[m]);

            if (!json_is_string(v))
                goto out;
            json_object_set(t, req[i].members[m], v);
        }
        canon = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    }
    if (canon != NULL && EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) == 1 &&
        mdlen == 32)
        b64url(md, 32, out);
out:
    if (canon != NULL) {
        OPENSSL_cleanse(canon, strlen(canon)); /* an oct thumbprint input holds k */
        free(canon);
    }
    json_decref(t);
}

/* --- keys ------------------------------------------------------------------ */

static EVP_PKEY *
fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *pctx = params != NULL ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    EVP_PKEY *pkey = NULL;

    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(pctx);
    if (params != NULL) {
        for (OSSL_PARAM *q = params; q->key != NULL; q++)
            if (q->data != NULL && q->data_size > 0)
                OPENSSL_cleanse(q->data, q->data_size);
        OSSL_PARAM_free(params);
    }
    return pkey;
}

/* RSA from n, e, d and, when all are present, p, q, dp, dq, qi (so that the
 * proof checks the stored CRT values). */
static EVP_PKEY *
rsa_key(struct ctx *c, const json_t *o)
{
    static const char *const names[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    static const char *const params[] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    BIGNUM *bn[8] = {NULL};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    size_t have = 0;
    bool ok = bld != NULL;

    for (size_t i = 0; i < 8; i++)
        have += (bn[i] = member_bn(c, o, names[i])) != NULL;
    if (bn[0] == NULL || bn[1] == NULL || bn[2] == NULL)
        ok = false;
    for (size_t i = 0; ok && i < (have == 8 ? 8u : 3u); i++)
        ok = OSSL_PARAM_BLD_push_BN(bld, params[i], bn[i]) == 1;
    if (ok)
        pkey = fromdata("RSA", bld);
    for (size_t i = 0; i < 8; i++)
        BN_clear_free(bn[i]);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static const char *
ec_group(const char *crv, size_t *flen)
{
    static const struct {
        const char *crv, *group;
        size_t flen;
    } map[] = {
        {"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48},
        {"P-521", "secp521r1", 66},  {"secp256k1", "secp256k1", 32},
    };

    for (size_t i = 0; crv != NULL && i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(crv, map[i].crv) == 0) {
            *flen = map[i].flen;
            return map[i].group;
        }
    }
    return NULL;
}

/* EC from crv, d and (when present) x, y. *flags gets KEYPROOF_PUB_STORED. */
static EVP_PKEY *
ec_key(struct ctx *c, const json_t *o, unsigned *flags)
{
    size_t flen = 0;
    const char *group = ec_group(json_string_value(json_object_get(o, "crv")), &flen);
    unsigned char pub[1 + 2 * 66];
    BIGNUM *d;
    EVP_PKEY *pkey = NULL;
    int xl, yl;

    if (group == NULL || (d = member_bn(c, o, "d")) == NULL)
        return NULL;
    memset(pub, 0, sizeof pub);
    pub[0] = 0x04;
    xl = member(c, o, "x");
    if (xl > 0 && (size_t)xl <= flen)
        memcpy(pub + 1 + flen - (size_t)xl, c->bin, (size_t)xl);
    yl = member(c, o, "y");
    if (yl > 0 && (size_t)yl <= flen)
        memcpy(pub + 1 + 2 * flen - (size_t)yl, c->bin, (size_t)yl);
    if (xl > 0 && yl > 0 && (size_t)xl <= flen && (size_t)yl <= flen) {
        if (keyproof_ec_from_scalar(group, d, pub, 1 + 2 * flen, &pkey) == DG_OK)
            *flags = KEYPROOF_PUB_STORED;
        else
            pkey = NULL; /* the stored point is not on the curve */
    } else if (keyproof_ec_from_scalar(group, d, NULL, 0, &pkey) != DG_OK) {
        pkey = NULL;
    }
    BN_clear_free(d);
    return pkey;
}

/* OKP (RFC 8037) from crv, d and x: the stored public key is kept so that the
 * proof compares it with the one derived from d. */
static EVP_PKEY *
okp_key(struct ctx *c, const json_t *o, unsigned *flags)
{
    static const struct {
        const char *crv, *type;
        int len;
    } map[] = {{"Ed25519", "ED25519", 32}, {"Ed448", "ED448", 57}, {"X25519", "X25519", 32},
               {"X448", "X448", 56}};
    const char *crv = json_string_value(json_object_get(o, "crv"));
    unsigned char priv[64], pub[64];
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;
    int dl, xl = -1;
    size_t i;

    for (i = 0; crv != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(crv, map[i].crv) == 0)
            break;
    if (crv == NULL || i == sizeof map / sizeof map[0])
        return NULL;
    dl = member(c, o, "d");
    if (dl != map[i].len)
        return NULL;
    memcpy(priv, c->bin, (size_t)dl);
    OPENSSL_cleanse(c->bin, (size_t)dl);
    if (json_object_get(o, "x") != NULL) {
        xl = member(c, o, "x");
        if (xl != map[i].len) {
            OPENSSL_cleanse(priv, sizeof priv);
            return NULL;
        }
        memcpy(pub, c->bin, (size_t)xl);
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld != NULL && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv,
                                                         (size_t)dl) == 1 &&
        (xl < 0 || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                    (size_t)xl) == 1))
        pkey = fromdata(map[i].type, bld);
    if (pkey != NULL && xl > 0)
        *flags = KEYPROOF_PUB_STORED;
    OSSL_PARAM_BLD_free(bld);
    OPENSSL_cleanse(priv, sizeof priv);
    return pkey;
}

static void
type_from_algorithm(struct dg_finding *f)
{
    static const struct {
        const char *alg, *type;
    } map[] = {
        {"RSA", "rsa-private-key"},     {"EC", "ec-private-key"},
        {"Ed25519", "ed25519-private-key"}, {"Ed448", "ed448-private-key"},
        {"X25519", "x25519-private-key"},   {"X448", "x448-private-key"},
    };

    dg_strlcpyf(f->type, sizeof f->type, "private-key");
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(f->key.algorithm, map[i].alg) == 0)
            dg_strlcpyf(f->type, sizeof f->type, "%s", map[i].type);
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
        int n = member(c, o, "k");

        if (n < 16)
            return false; /* absent, a placeholder, or too short to be a key */
        keyproof_sha256_hex(c->bin, (size_t)n, f->key.key_sha256);
        OPENSSL_cleanse(c->bin, (size_t)n);
        dg_strlcpyf(f->type, sizeof f->type, "symmetric-key");
        dg_strlcpyf(f->key.algorithm, sizeof f->key.algorithm, "oct");
        f->key.bits = (unsigned)n * 8;
        f->status = DG_STATUS_CONFIRMED;
        f->severity = DG_SEV_MEDIUM;
        dg_strlcpyf(f->proof, sizeof f->proof, "k decodes to %d bytes", n);
        dg_strlcpyf(f->note, sizeof f->note, "symmetric key (no public half)");
    } else {
        if (member(c, o, "d") <= 0)
            return false; /* public, or a placeholder such as "d": "..." */
        OPENSSL_cleanse(c->bin, JWK_MAX_MEMBER);
        ERR_set_mark();
        if (strcmp(kty, "RSA") == 0)
            pkey = rsa_key(c, o);
        else if (strcmp(kty, "EC") == 0)
            pkey = ec_key(c, o, &flags);
        else if (strcmp(kty, "OKP") == 0)
            pkey = okp_key(c, o, &flags);
        ERR_pop_to_mark();
        if (pkey == NULL) {
            f->status = DG_STATUS_CANDIDATE;
            f->severity = DG_SEV_MEDIUM;
            dg_strlcpyf(f->type, sizeof f->type, "private-key");
            dg_strlcpyf(f->note, sizeof f->note,
                        "JWK (kty %.16s) with a private member that OpenSSL cannot rebuild", kty);
        } else if (keyproof_prove(pkey, flags, &f->key, f->proof, sizeof f->proof) == DG_OK) {
            type_from_algorithm(f);
            f->status = DG_STATUS_CONFIRMED;
            f->severity = DG_SEV_HIGH;
        } else {
            type_from_algorithm(f);
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
    thumbprint(o, kty, f->key.jwk_thumbprint);
    return true;
}

/* --- anchors --------------------------------------------------------------- */

/* Examines "kty" at byte k in encoding e. Returns the chunk index of the end
 * of the object (0 if none). */
static size_t
at_kty(struct ctx *c, const struct dg_chunk *ch, size_t k, enum enc e, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    size_t w = e == ENC_ASCII ? 1 : 2, lo, n = 0, a, open, close, bs = 0, levels = 0;
    uint32_t *back = c->back;
    size_t nb = 0;
    json_t *o;
    json_error_t jerr;
    struct dg_finding f;

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

static dg_err
jwk_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    const uint8_t *p = ch->p;
    size_t i = 0, skip = 0;
    /* "kty" may follow the object's '{' by up to JWK_BACK characters. */
    size_t end = ch->owned + JWK_LOOKAHEAD < ch->len ? ch->owned + JWK_LOOKAHEAD : ch->len;

#ifdef __SSE2__
    const __m128i vk = _mm_set1_epi8('k'), vt = _mm_set1_epi8('t'), z = _mm_setzero_si128();

    while (i + 17 <= ch->len && i < end) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
            _mm_cmpeq_epi8(a, vk), _mm_or_si128(_mm_cmpeq_epi8(b, vt), _mm_cmpeq_epi8(b, z))));

        while (m != 0) {
            size_t k = i + (size_t)__builtin_ctz(m);

            m &= m - 1;
            if (k >= end)
                break;
            if (k >= skip) {
                size_t r = probe(c, ch, k, sink);

                if (r > skip)
                    skip = r;
            }
        }
        i += 16;
    }
#endif
    for (; i < end && i + 1 < ch->len; i++) {
        if (p[i] == 'k' && (p[i + 1] == 't' || p[i + 1] == 0) && i >= skip) {
            size_t r = probe(c, ch, i, sink);

            if (r > skip)
                skip = r;
        }
    }
    return DG_OK;
}

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
    .init = jwk_init,
    .scan = jwk_scan,
    .release = jwk_release,
};
