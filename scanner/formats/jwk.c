/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * jwk.c - JSON Web Keys (RFC 7517/7518/8037) as OpenSSL keys: base64url
 * members decoded by OpenSSL, private and public keys rebuilt with
 * EVP_PKEY_fromdata, and the RFC 7638 thumbprint. Used by the jwk detector
 * (private keys found in dumps) and by --known-keys (public JWKS). Buffers
 * that held secret members are cleansed.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/param_build.h>

#include "../proof/keyproof.h"
#include "jwk.h"

/* Base64url-decodes member `name` of o into c->b with OpenSSL; returns the
 * byte count, or -1 when absent, empty, too long or not base64url. */
int
jwk_member(struct jwk_buf *c, const json_t *o, const char *name)
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
    out = EVP_DecodeBlock(c->b, (const unsigned char *)buf, (int)(n + pad));
    OPENSSL_cleanse(buf, n + pad);
    if (out < 0)
        return -1;
    return out - (int)pad; /* EVP_DecodeBlock counts the padding as zero bytes */
}

/* The member as a BIGNUM (secure memory for secrets), or NULL. */
static BIGNUM *
member_bn(struct jwk_buf *c, const json_t *o, const char *name)
{
    int n = jwk_member(c, o, name);
    BIGNUM *bn;

    if (n <= 0)
        return NULL;
    bn = BN_secure_new();
    if (bn != NULL && BN_bin2bn(c->b, n, bn) == NULL) {
        BN_clear_free(bn);
        bn = NULL;
    }
    OPENSSL_cleanse(c->b, (size_t)n);
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
void
jwk_thumbprint(const json_t *o, char out[48])
{
    const char *kty = json_string_value(json_object_get(o, "kty"));

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
    if (kty == NULL)
        goto out;
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

static EVP_PKEY *
fromdata(const char *type, int selection, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *pctx = params != NULL ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    EVP_PKEY *pkey = NULL;

    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, selection, params) != 1)
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
rsa_key(struct jwk_buf *c, const json_t *o)
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
        pkey = fromdata("RSA", EVP_PKEY_KEYPAIR, bld);
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
ec_key(struct jwk_buf *c, const json_t *o, unsigned *flags)
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
    xl = jwk_member(c, o, "x");
    if (xl > 0 && (size_t)xl <= flen)
        memcpy(pub + 1 + flen - (size_t)xl, c->b, (size_t)xl);
    yl = jwk_member(c, o, "y");
    if (yl > 0 && (size_t)yl <= flen)
        memcpy(pub + 1 + 2 * flen - (size_t)yl, c->b, (size_t)yl);
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
okp_key(struct jwk_buf *c, const json_t *o, unsigned *flags)
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
    dl = jwk_member(c, o, "d");
    if (dl != map[i].len)
        return NULL;
    memcpy(priv, c->b, (size_t)dl);
    OPENSSL_cleanse(c->b, (size_t)dl);
    if (json_object_get(o, "x") != NULL) {
        xl = jwk_member(c, o, "x");
        if (xl != map[i].len) {
            OPENSSL_cleanse(priv, sizeof priv);
            return NULL;
        }
        memcpy(pub, c->b, (size_t)xl);
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld != NULL && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv,
                                                         (size_t)dl) == 1 &&
        (xl < 0 || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                    (size_t)xl) == 1))
        pkey = fromdata(map[i].type, EVP_PKEY_KEYPAIR, bld);
    if (pkey != NULL && xl > 0)
        *flags = KEYPROOF_PUB_STORED;
    OSSL_PARAM_BLD_free(bld);
    OPENSSL_cleanse(priv, sizeof priv);
    return pkey;
}


/* The public key of o (RSA n and e; EC crv, x and y; OKP crv and x), or NULL. */
EVP_PKEY *
jwk_public_key(const json_t *o)
{
    const char *kty = json_string_value(json_object_get(o, "kty"));
    struct jwk_buf c;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;

    if (kty == NULL || bld == NULL)
        goto out;
    ERR_set_mark();
    if (strcmp(kty, "RSA") == 0) {
        BIGNUM *n = member_bn(&c, o, "n"), *e = member_bn(&c, o, "e");

        if (n != NULL && e != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            pkey = fromdata("RSA", EVP_PKEY_PUBLIC_KEY, bld);
        BN_free(n);
        BN_free(e);
    } else if (strcmp(kty, "EC") == 0) {
        size_t flen = 0;
        const char *group = ec_group(json_string_value(json_object_get(o, "crv")), &flen);
        unsigned char pt[1 + 2 * 66];
        int xl, yl;

        memset(pt, 0, sizeof pt);
        pt[0] = 0x04;
        if (group != NULL && (xl = jwk_member(&c, o, "x")) > 0 && (size_t)xl <= flen) {
            memcpy(pt + 1 + flen - (size_t)xl, c.b, (size_t)xl);
            if ((yl = jwk_member(&c, o, "y")) > 0 && (size_t)yl <= flen) {
                memcpy(pt + 1 + 2 * flen - (size_t)yl, c.b, (size_t)yl);
                if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
                    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                                     1 + 2 * flen))
                    pkey = fromdata("EC", EVP_PKEY_PUBLIC_KEY, bld);
            }
        }
    } else if (strcmp(kty, "OKP") == 0) {
        static const struct {
            const char *crv;
            int type, len;
        } map[] = {{"Ed25519", EVP_PKEY_ED25519, 32}, {"Ed448", EVP_PKEY_ED448, 57},
                   {"X25519", EVP_PKEY_X25519, 32}, {"X448", EVP_PKEY_X448, 56}};
        const char *crv = json_string_value(json_object_get(o, "crv"));

        for (size_t i = 0; crv != NULL && i < sizeof map / sizeof map[0]; i++)
            if (strcmp(crv, map[i].crv) == 0 && jwk_member(&c, o, "x") == map[i].len)
                pkey = EVP_PKEY_new_raw_public_key(map[i].type, NULL, c.b, (size_t)map[i].len);
    }
    ERR_pop_to_mark();
out:
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* The private key of o (RSA, EC or OKP with "d"), or NULL. */
EVP_PKEY *
jwk_private_key(const json_t *o, unsigned *flags)
{
    const char *kty = json_string_value(json_object_get(o, "kty"));
    struct jwk_buf c;
    EVP_PKEY *pkey = NULL;

    *flags = 0;
    if (kty == NULL)
        return NULL;
    ERR_set_mark();
    if (strcmp(kty, "RSA") == 0)
        pkey = rsa_key(&c, o);
    else if (strcmp(kty, "EC") == 0)
        pkey = ec_key(&c, o, flags);
    else if (strcmp(kty, "OKP") == 0)
        pkey = okp_key(&c, o, flags);
    ERR_pop_to_mark();
    OPENSSL_cleanse(&c, sizeof c);
    return pkey;
}
