/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * openssh.c - reads openssh-key-v1 blobs (see openssh.h). The SSH wire
 * encoding (uint32 big-endian lengths, strings, mpints) is parsed here with a
 * bounds-checked cursor because no library we use reads it; every number is
 * handed to OpenSSL (BN_bin2bn, EVP_PKEY_fromdata) to rebuild the key.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/param_build.h>

#include "../proof/keyproof.h"
#include "openssh.h"

struct cur {
    const uint8_t *p;
    size_t n, pos;
};

static bool
get_u32(struct cur *c, uint32_t *v)
{
    if (c->n - c->pos < 4)
        return false;
    *v = (uint32_t)c->p[c->pos] << 24 | (uint32_t)c->p[c->pos + 1] << 16 |
         (uint32_t)c->p[c->pos + 2] << 8 | c->p[c->pos + 3];
    c->pos += 4;
    return true;
}

static bool
get_string(struct cur *c, const uint8_t **s, size_t *len)
{
    uint32_t l;

    if (!get_u32(c, &l) || l > c->n - c->pos)
        return false;
    *s = c->p + c->pos;
    *len = l;
    c->pos += l;
    return true;
}

static bool
get_cstr(struct cur *c, char *out, size_t out_len)
{
    const uint8_t *s;
    size_t l;

    if (!get_string(c, &s, &l) || l >= out_len)
        return false;
    for (size_t i = 0; i < l; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    memcpy(out, s, l);
    out[l] = '\0';
    return true;
}

/* Reads an mpint as a non-negative BIGNUM (secure memory). */
static BIGNUM *
get_mpint(struct cur *c)
{
    const uint8_t *s;
    size_t l;
    BIGNUM *bn;

    if (!get_string(c, &s, &l) || l > 2048 || (l > 0 && (s[0] & 0x80)))
        return NULL;
    bn = BN_secure_new();
    if (bn != NULL && BN_bin2bn(s, (int)l, bn) == NULL) {
        BN_free(bn);
        bn = NULL;
    }
    return bn;
}

static const char *
ecdsa_group(const char *keytype)
{
    if (strcmp(keytype, "ecdsa-sha2-nistp256") == 0)
        return "prime256v1";
    if (strcmp(keytype, "ecdsa-sha2-nistp384") == 0)
        return "secp384r1";
    if (strcmp(keytype, "ecdsa-sha2-nistp521") == 0)
        return "secp521r1";
    return NULL;
}

static EVP_PKEY *
fromdata(const char *type, int selection, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* Public key blob: string keytype, then type-specific fields. */
static EVP_PKEY *
parse_public(const uint8_t *p, size_t n, char *keytype, size_t kt_len)
{
    struct cur c = {p, n, 0};
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *a = NULL, *b = NULL;
    const uint8_t *s, *q;
    size_t l, ql;
    const char *group;

    if (!get_cstr(&c, keytype, kt_len))
        return NULL;
    if (strcmp(keytype, "ssh-ed25519") == 0) {
        if (get_string(&c, &s, &l) && l == 32)
            pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, s, l);
        return pkey;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return NULL;
    if (strcmp(keytype, "ssh-rsa") == 0) {
        if ((a = get_mpint(&c)) != NULL && (b = get_mpint(&c)) != NULL &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, a) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, b))
            pkey = fromdata("RSA", EVP_PKEY_PUBLIC_KEY, bld);
    } else if ((group = ecdsa_group(keytype)) != NULL) {
        if (get_string(&c, &s, &l) && get_string(&c, &q, &ql) &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, ql))
            pkey = fromdata("EC", EVP_PKEY_PUBLIC_KEY, bld);
    }
    BN_free(a);
    BN_free(b);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* Private section of an unencrypted key: check1 check2, keytype, fields. */
static void
parse_private(struct cur *c, struct openssh_key *k)
{
    uint32_t check1, check2;
    char kt[48];
    const uint8_t *s, *q;
    size_t l, ql;
    const char *group;
    BIGNUM *n = NULL, *e = NULL, *d = NULL, *iqmp = NULL, *p = NULL, *qq = NULL;

    if (!get_u32(c, &check1) || !get_u32(c, &check2) || check1 != check2) {
        dg_strlcpyf(k->why, sizeof k->why, "check words differ (damaged or encrypted)");
        return;
    }
    if (!get_cstr(c, kt, sizeof kt) || strcmp(kt, k->keytype) != 0) {
        dg_strlcpyf(k->why, sizeof k->why, "private key type differs from the public one");
        return;
    }
    if (strcmp(kt, "ssh-ed25519") == 0) {
        if (get_string(c, &q, &ql) && ql == 32 && get_string(c, &s, &l) && l == 64 &&
            keyproof_ecx_from_raw("ED25519", s, 32, q, 32, &k->priv) == DG_OK)
            k->proof_flags = KEYPROOF_PUB_STORED;
    } else if (strcmp(kt, "ssh-rsa") == 0) {
        if ((n = get_mpint(c)) && (e = get_mpint(c)) && (d = get_mpint(c)) &&
            (iqmp = get_mpint(c)) && (p = get_mpint(c)) && (qq = get_mpint(c)))
            keyproof_rsa_from_components(n, e, d, p, qq, &k->priv);
    } else if ((group = ecdsa_group(kt)) != NULL) {
        if (get_string(c, &s, &l) && get_string(c, &q, &ql) && (d = get_mpint(c)) != NULL &&
            keyproof_ec_from_scalar(group, d, q, ql, &k->priv) == DG_OK)
            k->proof_flags = KEYPROOF_PUB_STORED;
    } else {
        dg_strlcpyf(k->why, sizeof k->why, "key type %s is not rebuilt here", kt);
        return;
    }
    if (k->priv == NULL && k->why[0] == '\0')
        dg_strlcpyf(k->why, sizeof k->why, "private fields of %s do not parse", kt);
    BN_free(n);
    BN_free(e);
    BN_clear_free(d);
    BN_clear_free(iqmp);
    BN_clear_free(p);
    BN_clear_free(qq);
}

dg_err
openssh_parse(const uint8_t *p, size_t n, struct openssh_key *k)
{
    struct cur c = {p, n, OPENSSH_MAGIC_LEN};
    const uint8_t *kdfopt, *pub, *priv;
    size_t kdfopt_len, pub_len, priv_len;
    uint32_t nkeys;

    memset(k, 0, sizeof *k);
    if (n < OPENSSH_MAGIC_LEN || memcmp(p, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN) != 0)
        return DG_E_FORMAT;
    ERR_set_mark();
    if (!get_cstr(&c, k->cipher, sizeof k->cipher) || !get_cstr(&c, k->kdf, sizeof k->kdf) ||
        !get_string(&c, &kdfopt, &kdfopt_len) || !get_u32(&c, &nkeys) || nkeys != 1 ||
        !get_string(&c, &pub, &pub_len) || !get_string(&c, &priv, &priv_len)) {
        ERR_pop_to_mark();
        return DG_E_FORMAT;
    }
    k->len = c.pos;
    k->encrypted = strcmp(k->cipher, "none") != 0;
    if (strcmp(k->kdf, "bcrypt") == 0 && kdfopt_len >= 4) {
        struct cur o = {kdfopt, kdfopt_len, 0};
        const uint8_t *salt;
        size_t salt_len;

        if (get_string(&o, &salt, &salt_len))
            (void)get_u32(&o, &k->rounds);
    }
    k->pub = parse_public(pub, pub_len, k->keytype, sizeof k->keytype);
    if (!k->encrypted) {
        struct cur pc = {priv, priv_len, 0};

        parse_private(&pc, k);
    }
    ERR_pop_to_mark();
    return DG_OK;
}

void
openssh_key_free(struct openssh_key *k)
{
    EVP_PKEY_free(k->pub);
    EVP_PKEY_free(k->priv);
    k->pub = k->priv = NULL;
}

dg_err
openssh_public_blob(const uint8_t *p, size_t n, char *keytype, size_t kt_len, EVP_PKEY **out)
{
    ERR_set_mark();
    *out = parse_public(p, n, keytype, kt_len);
    ERR_pop_to_mark();
    return *out != NULL ? DG_OK : DG_E_FORMAT;
}

dg_err
openssh_ppk_private(const uint8_t *pub, size_t pub_len, const uint8_t *priv, size_t priv_len,
                    char *keytype, size_t kt_len, EVP_PKEY **out, unsigned *proof_flags)
{
    struct cur pc = {pub, pub_len, 0}, vc = {priv, priv_len, 0};
    BIGNUM *e = NULL, *n = NULL, *d = NULL, *p = NULL, *q = NULL;
    const uint8_t *s, *pt;
    size_t l, ptl;
    const char *group;
    dg_err rc = DG_E_FORMAT;

    *out = NULL;
    *proof_flags = 0;
    ERR_set_mark();
    if (!get_cstr(&pc, keytype, kt_len))
        goto out;
    if (strcmp(keytype, "ssh-ed25519") == 0) {
        if (get_string(&pc, &pt, &ptl) && ptl == 32 && get_string(&vc, &s, &l) && l == 32)
            keyproof_ecx_from_raw("ED25519", s, 32, pt, 32, out);
        *proof_flags = KEYPROOF_PUB_STORED;
    } else if (strcmp(keytype, "ssh-rsa") == 0) {
        if ((e = get_mpint(&pc)) != NULL && (n = get_mpint(&pc)) != NULL &&
            (d = get_mpint(&vc)) != NULL && (p = get_mpint(&vc)) != NULL &&
            (q = get_mpint(&vc)) != NULL)
            keyproof_rsa_from_components(n, e, d, p, q, out);
    } else if ((group = ecdsa_group(keytype)) != NULL) {
        if (get_string(&pc, &s, &l) && get_string(&pc, &pt, &ptl) &&
            (d = get_mpint(&vc)) != NULL &&
            keyproof_ec_from_scalar(group, d, pt, ptl, out) == DG_OK)
            *proof_flags = KEYPROOF_PUB_STORED;
    } else {
        rc = DG_E_UNSUPPORTED;
        goto out;
    }
    rc = *out != NULL ? DG_OK : DG_E_FORMAT;
out:
    BN_free(e);
    BN_free(n);
    BN_clear_free(d);
    BN_clear_free(p);
    BN_clear_free(q);
    ERR_pop_to_mark();
    return rc;
}

/* DSA private key from p q g y x (ssh-dss). */
static EVP_PKEY *
dsa_private(struct cur *c)
{
    BIGNUM *v[5] = {NULL, NULL, NULL, NULL, NULL};
    static const char *const names[5] = {OSSL_PKEY_PARAM_FFC_P, OSSL_PKEY_PARAM_FFC_Q,
                                         OSSL_PKEY_PARAM_FFC_G, OSSL_PKEY_PARAM_PUB_KEY,
                                         OSSL_PKEY_PARAM_PRIV_KEY};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    bool ok = bld != NULL;

    for (int i = 0; i < 5 && ok; i++)
        ok = (v[i] = get_mpint(c)) != NULL && OSSL_PARAM_BLD_push_BN(bld, names[i], v[i]);
    if (ok)
        pkey = fromdata("DSA", EVP_PKEY_KEYPAIR, bld);
    for (int i = 0; i < 5; i++)
        BN_clear_free(v[i]);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

dg_err
openssh_private_serial(const uint8_t *p, size_t n, char *keytype, size_t kt_len, EVP_PKEY **out,
                       unsigned *proof_flags, size_t *used)
{
    struct cur c = {p, n, 0};
    const uint8_t *s, *q;
    size_t l, ql;
    const char *group;
    BIGNUM *bn[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    dg_err rc = DG_E_FORMAT;

    *out = NULL;
    *proof_flags = 0;
    *used = 0;
    if (kt_len > 0)
        keytype[0] = '\0';
    if (!get_cstr(&c, keytype, kt_len) || keytype[0] == '\0')
        return DG_E_FORMAT;
    ERR_set_mark();
    if (strcmp(keytype, "ssh-ed25519") == 0) {
        /* pk(32), then sk(64) = seed(32) || pk(32) */
        if (get_string(&c, &q, &ql) && ql == 32 && get_string(&c, &s, &l) && l == 64 &&
            keyproof_ecx_from_raw("ED25519", s, 32, q, 32, out) == DG_OK)
            *proof_flags = KEYPROOF_PUB_STORED;
    } else if (strcmp(keytype, "ssh-rsa") == 0) {
        /* n e d iqmp p q */
        bool ok = true;

        for (int i = 0; i < 6 && ok; i++)
            ok = (bn[i] = get_mpint(&c)) != NULL;
        if (ok)
            (void)keyproof_rsa_from_components(bn[0], bn[1], bn[2], bn[4], bn[5], out);
    } else if ((group = ecdsa_group(keytype)) != NULL) {
        /* curve name, Q, d */
        if (get_string(&c, &s, &l) && get_string(&c, &q, &ql) && (bn[0] = get_mpint(&c)) &&
            keyproof_ec_from_scalar(group, bn[0], q, ql, out) == DG_OK)
            *proof_flags = KEYPROOF_PUB_STORED;
    } else if (strcmp(keytype, "ssh-dss") == 0) {
        *out = dsa_private(&c);
    } else {
        rc = DG_E_UNSUPPORTED;
    }
    for (int i = 0; i < 6; i++)
        BN_clear_free(bn[i]);
    ERR_pop_to_mark();
    if (*out == NULL)
        return rc;
    *used = c.pos;
    return DG_OK;
}
