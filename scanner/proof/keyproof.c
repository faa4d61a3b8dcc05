/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * keyproof.c - proves private keys with OpenSSL 3 and computes their public
 * identity (see keyproof.h for the contract), and turns a proof into the
 * verdict of a finding, the same for every detector.
 *
 * EVP_PKEY_private_check() on RSA only checks 1 <= d < n, so the relations are
 * checked here with BIGNUM arithmetic. Speculative OpenSSL calls run inside
 * ERR_set_mark()/ERR_pop_to_mark() so that a failed proof leaves no errors on
 * the thread's queue.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "keyproof.h"


/* OSSL_PARAM_free() is OpenSSL >= 3.2: clears every parameter's data,
 * then frees the array (which OSSL_PARAM_BLD_to_param allocated with it). */
static void
params_clear_free(OSSL_PARAM *params)
{
    if (params == NULL)
        return;
    for (OSSL_PARAM *p = params; p->key != NULL; p++)
        if (p->data != NULL && p->data_size > 0)
            OPENSSL_cleanse(p->data, p->data_size);
    OSSL_PARAM_free(params);
}

void
keyproof_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

const char *
keyproof_curve_name(const char *group)
{
    static const struct {
        const char *ossl, *jwk;
    } map[] = {
        {"prime256v1", "P-256"}, {"P-256", "P-256"}, {"secp384r1", "P-384"},
        {"P-384", "P-384"},      {"secp521r1", "P-521"}, {"P-521", "P-521"},
        {"secp256k1", "secp256k1"},
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(group, map[i].ossl) == 0)
            return map[i].jwk;
    return group;
}

static const char *
algorithm_name(const EVP_PKEY *pkey)
{
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        return "RSA";
    case EVP_PKEY_RSA_PSS:
        return "RSA-PSS";
    case EVP_PKEY_EC:
        return "EC";
    case EVP_PKEY_DSA:
        return "DSA";
    case EVP_PKEY_ED25519:
        return "Ed25519";
    case EVP_PKEY_ED448:
        return "Ed448";
    case EVP_PKEY_X25519:
        return "X25519";
    case EVP_PKEY_X448:
        return "X448";
    case EVP_PKEY_DH:
        return "DH";
    case EVP_PKEY_SM2:
        return "SM2";
    default:
        break;
    }
    return EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey) : "unknown";
}

dg_err
keyproof_identity(const EVP_PKEY *pkey, struct dg_key *key)
{
    unsigned char *der = NULL;
    char group[64];
    size_t glen = 0;
    int len;

    dg_strlcpyf(key->algorithm, sizeof key->algorithm, "%s", algorithm_name(pkey));
    key->bits = (unsigned)(EVP_PKEY_get_bits(pkey) > 0 ? EVP_PKEY_get_bits(pkey) : 0);
    key->curve[0] = '\0';
    ERR_set_mark();
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) == 1)
        dg_strlcpyf(key->curve, sizeof key->curve, "%s", keyproof_curve_name(group));
    len = i2d_PUBKEY(pkey, &der);
    ERR_pop_to_mark();
    if (len <= 0) {
        key->spki_sha256[0] = '\0';
        return DG_E_CRYPTO;
    }
    keyproof_sha256_hex(der, (size_t)len, key->spki_sha256);
    OPENSSL_free(der);
    return DG_OK;
}

/* True when the n bytes at der are the DER encoding of a SEQUENCE that
 * OpenSSL's generic codec reads whole and writes back byte for byte
 * (minimal lengths, nothing after it); *seq then holds its elements (the
 * caller frees them with sk_ASN1_TYPE_pop_free(.., ASN1_TYPE_free)). */
static bool
der_sequence(const unsigned char *der, long n, ASN1_SEQUENCE_ANY **seq)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    bool same;

    if ((*seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, n)) == NULL)
        return false;
    same = p == der + n && i2d_ASN1_SEQUENCE_ANY(*seq, &re) == n &&
           memcmp(re, der, (size_t)n) == 0;
    OPENSSL_free(re);
    if (!same) {
        sk_ASN1_TYPE_pop_free(*seq, ASN1_TYPE_free);
        *seq = NULL;
    }
    return same;
}

/* True when the SEQUENCE seq is two positive INTEGERs (RSAPublicKey). */
static bool
two_positive_integers(const ASN1_SEQUENCE_ANY *seq)
{
    if (sk_ASN1_TYPE_num(seq) != 2)
        return false;
    for (int i = 0; i < 2; i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
        const ASN1_INTEGER *v = t->value.integer;

        if (ASN1_TYPE_get(t) != V_ASN1_INTEGER || v->type != V_ASN1_INTEGER || v->length == 0 ||
            (v->length == 1 && v->data[0] == 0))
            return false; /* not an INTEGER, negative, or zero */
    }
    return true;
}

/* True when the SubjectPublicKeyInfo der[0..len) is byte for byte what
 * i2d_PUBKEY() writes for the key it holds, for the algorithms whose
 * encoding has one form: rsaEncryption with NULL parameters and a DER
 * RSAPublicKey; id-ecPublicKey on a named NIST curve with an uncompressed
 * point of the curve's size; Ed25519 and Ed448 without parameters.
 * Everything is read and re-encoded by OpenSSL's ASN.1 codecs, nothing by
 * hand. */
static bool
spki_is_canonical(const unsigned char *der, size_t len)
{
    ASN1_SEQUENCE_ANY *spki = NULL, *rsa = NULL;
    const ASN1_TYPE *alg_t, *key_t;
    X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *oid;
    const void *pval;
    const ASN1_BIT_STRING *bits;
    const unsigned char *p;
    unsigned char *re = NULL;
    int ptype, nid;
    long alen;
    bool ok = false;

    if (len > 1u << 16 || !der_sequence(der, (long)len, &spki) || sk_ASN1_TYPE_num(spki) != 2)
        goto out;
    alg_t = sk_ASN1_TYPE_value(spki, 0);
    key_t = sk_ASN1_TYPE_value(spki, 1);
    if (ASN1_TYPE_get(alg_t) != V_ASN1_SEQUENCE || ASN1_TYPE_get(key_t) != V_ASN1_BIT_STRING)
        goto out;
    /* the AlgorithmIdentifier, read and written back by its own codec */
    p = alg_t->value.sequence->data;
    alen = alg_t->value.sequence->length;
    if ((alg = d2i_X509_ALGOR(NULL, &p, alen)) == NULL || p != alg_t->value.sequence->data + alen ||
        i2d_X509_ALGOR(alg, &re) != alen ||
        memcmp(re, alg_t->value.sequence->data, (size_t)alen) != 0)
        goto out;
    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    bits = key_t->value.bit_string;
    if ((bits->flags & 0x07) != 0) /* unused bits in the last byte */
        goto out;
    nid = OBJ_obj2nid(oid);
    if (nid == NID_rsaEncryption) {
        ok = ptype == V_ASN1_NULL && der_sequence(bits->data, bits->length, &rsa) &&
             two_positive_integers(rsa);
    } else if (nid == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT) {
        int curve = OBJ_obj2nid(pval);
        int field = curve == NID_X9_62_prime256v1 ? 32 : curve == NID_secp384r1 ? 48
                  : curve == NID_secp521r1       ? 66 : 0;

        ok = field != 0 && bits->length == 1 + 2 * field && bits->data[0] == 4;
    } else if (nid == NID_ED25519 || nid == NID_ED448) {
        ok = ptype == V_ASN1_UNDEF && bits->length == (nid == NID_ED25519 ? 32 : 57);
    }
out:
    OPENSSL_free(re);
    X509_ALGOR_free(alg);
    sk_ASN1_TYPE_pop_free(rsa, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(spki, ASN1_TYPE_free);
    return ok;
}

dg_err
keyproof_spki_sha256(const unsigned char *der, size_t len, char out[65])
{
    const unsigned char *p = der;
    struct dg_key key;
    EVP_PKEY *pkey;
    dg_err rc;

    out[0] = '\0';
    ERR_set_mark();
    if (spki_is_canonical(der, len)) {
        ERR_pop_to_mark();
        keyproof_sha256_hex(der, len, out);
        return DG_OK;
    }
    pkey = len <= LONG_MAX ? d2i_PUBKEY(NULL, &p, (long)len) : NULL;
    ERR_pop_to_mark();
    if (pkey == NULL)
        return DG_E_FORMAT;
    memset(&key, 0, sizeof key);
    rc = keyproof_identity(pkey, &key);
    EVP_PKEY_free(pkey);
    if (rc == DG_OK)
        memcpy(out, key.spki_sha256, 65);
    return rc;
}

/* Fetches BIGNUM parameter name of pkey into *out (NULL when absent). */
static BIGNUM *
get_bn(const EVP_PKEY *pkey, const char *name)
{
    BIGNUM *bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        return NULL;
    return bn;
}


/* RSA: n = p*q, e*d = 1 mod (p-1) and (q-1), dP, dQ, qInv, primality; for a key
 * without factors, m^(e*d) = m mod n for a random m. */
/* The time the primality tests of one key may take: a pre-commit hook or a
 * core handler must not wait minutes for a proof, and a slow machine's
 * tests of 8192-bit primes come near it. */
#define PRIME_BUDGET_SECONDS 10

/* Miller-Rabin rounds for a prime of `bits` bits, after OpenSSL's trial
 * division. p*q = n already proves that the dump holds the factors of the
 * key's modulus (a random window satisfies it with probability about
 * 2^-1024); the rounds check that the factors are the two primes of a
 * well-formed key. For primes chosen at random, as every key generator
 * does, FIPS 186-5 (Table B.1) asks a key generator for 5 rounds at 1024
 * bits (an error below 2^-112), 4 at 1536 (2^-128) and 4 at 2048 (2^-144);
 * the error only falls as primes grow. Primes of other sizes, which the
 * table does not cover, get 10, far below 2^-100 at 512 bits and up
 * (FIPS 186-4 Table C.3 asks 7 there). BN_check_prime's own 64 rounds (128
 * above 2048 bits) bound the error for primes an adversary built, which
 * here could only make the gate block a dump that holds n's factors anyway,
 * at 13 to 32 times the cost. */
static int
prime_rounds(int bits)
{
    if (bits >= 1024 && bits < 1536)
        return 5;
    if (bits >= 1536 && bits <= 2048)
        return 4;
    return 10;
}

/* A running proof's clock: its deadline, when to report progress next, and
 * the Miller-Rabin rounds the number under test has passed. */
struct proof_clock {
    struct timespec start, end;
    unsigned next;                      /* seconds of the next progress call */
    const struct dg_proof_policy *pol;  /* NULL: no progress */
    int bits;
    int rounds;                         /* rounds passed by the current number */
    int want;                           /* rounds it must pass (prime_rounds()) */
};

/* Seconds since the proof began; *past: the deadline has come. */
static unsigned
elapsed(const struct proof_clock *c, bool *past)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    *past = now.tv_sec > c->end.tv_sec ||
            (now.tv_sec == c->end.tv_sec && now.tv_nsec >= c->end.tv_nsec);
    return (unsigned)(now.tv_sec - c->start.tv_sec);
}

/* BN_GENCB callback of BN_check_prime, called with (1, -1) after its trial
 * division and (1, i) after Miller-Rabin round i passed: go on while the
 * deadline is ahead and fewer than c->want rounds passed, saying once a
 * second after KEYPROOF_PROGRESS_AFTER that the proof is still running.
 * Stopping makes BN_check_prime return -1; c->rounds tells why. */
static int
prime_round(int a, int b, BN_GENCB *cb)
{
    struct proof_clock *c = BN_GENCB_get_arg(cb);
    bool past;
    unsigned s = elapsed(c, &past);

    if (a == 1 && b >= 0)
        c->rounds = b + 1;
    if (s >= c->next && c->pol != NULL && c->pol->progress != NULL) {
        c->pol->progress(c->pol->progress_arg, "RSA", c->bits, s);
        c->next = s + 1;
    }
    return !past && c->rounds < c->want;
}

/* 1: x passed trial division and prime_rounds() Miller-Rabin rounds; 0: x
 * is composite; -1: the deadline came first, or OpenSSL failed. */
static int
probable_prime(const BIGNUM *x, BN_CTX *ctx, BN_GENCB *cb, struct proof_clock *c)
{
    int r;

    c->rounds = 0;
    c->want = prime_rounds(BN_num_bits(x));
    ERR_set_mark();
    r = BN_check_prime(x, ctx, cb);
    ERR_pop_to_mark();
    return r < 0 && c->rounds >= c->want ? 1 : r;
}

/* Probable-primality of p and q, within PRIME_BUDGET_SECONDS. DG_OK,
 * DG_E_FORMAT when one is composite, or DG_E_LIMIT (with proof saying so)
 * when the budget ran out first. */
static dg_err
check_primes(const struct dg_proof_policy *pol, const BIGNUM *p, const BIGNUM *q, BN_CTX *ctx,
             char *proof, size_t n_proof)
{
    struct proof_clock c = {.next = KEYPROOF_PROGRESS_AFTER, .pol = pol,
                            .bits = BN_num_bits(p) + BN_num_bits(q)};
    BN_GENCB *cb = BN_GENCB_new();
    int rp = -1, rq = -1;

    if (cb == NULL)
        return DG_E_NOMEM;
    clock_gettime(CLOCK_MONOTONIC, &c.start);
    c.end = c.start;
    c.end.tv_sec += PRIME_BUDGET_SECONDS;
    BN_GENCB_set(cb, prime_round, &c);
    rp = probable_prime(p, ctx, cb, &c);
    if (rp == 1)
        rq = probable_prime(q, ctx, cb, &c);
    BN_GENCB_free(cb);
    if (rp == 1 && rq == 1)
        return DG_OK;
    if (rp < 0 || rq < 0) {
        bool past;

        (void)elapsed(&c, &past);
        if (past) {
            dg_strlcpyf(proof, n_proof,
                        "p*q=n and e*d=1 hold; the primality tests of its %d-bit primes "
                        "passed the %d s budget",
                        BN_num_bits(p), PRIME_BUDGET_SECONDS);
            return DG_E_LIMIT;
        }
    }
    return DG_E_FORMAT;
}

static dg_err
prove_rsa(const struct dg_proof_policy *pol, const EVP_PKEY *pkey, char *proof,
          size_t n_proof)
{
    BIGNUM *n = get_bn(pkey, OSSL_PKEY_PARAM_RSA_N);
    BIGNUM *e = get_bn(pkey, OSSL_PKEY_PARAM_RSA_E);
    BIGNUM *d = get_bn(pkey, OSSL_PKEY_PARAM_RSA_D);
    BIGNUM *p = get_bn(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1);
    BIGNUM *q = get_bn(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2);
    BIGNUM *f3 = get_bn(pkey, OSSL_PKEY_PARAM_RSA_FACTOR3);
    BIGNUM *dp = get_bn(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1);
    BIGNUM *dq = get_bn(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2);
    BIGNUM *qi = get_bn(pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *t, *pm1, *qm1, *m, *c;
    dg_err rc = DG_E_FORMAT;
    const char *why = "missing n, e or d";

    if (ctx == NULL) {
        rc = DG_E_NOMEM;
        goto out;
    }
    BN_CTX_start(ctx);
    t = BN_CTX_get(ctx);
    pm1 = BN_CTX_get(ctx);
    qm1 = BN_CTX_get(ctx);
    m = BN_CTX_get(ctx);
    c = BN_CTX_get(ctx);
    if (c == NULL) {
        rc = DG_E_NOMEM;
        goto end;
    }
    if (n == NULL || e == NULL || d == NULL || BN_is_zero(n) || BN_is_zero(d))
        goto end;
    if (f3 != NULL) {
        why = "multi-prime RSA is not proven here";
        rc = DG_E_UNSUPPORTED;
        goto end;
    }
    if (p == NULL || q == NULL || BN_is_zero(p) || BN_is_zero(q)) {
        /* No factors: check the exponent pair on a random message. */
        if (!BN_rand_range(m, n) || !BN_mod_exp(c, m, e, n, ctx) ||
            !BN_mod_exp(t, c, d, n, ctx)) {
            why = "modular exponentiation failed";
            rc = DG_E_CRYPTO;
            goto end;
        }
        if (BN_cmp(t, m) != 0) {
            why = "m^(e*d) != m mod n";
            goto end;
        }
        dg_strlcpyf(proof, n_proof, "m^(e*d)=m mod n (no factors stored)");
        rc = DG_OK;
        goto end;
    }
    why = "p*q != n";
    if (!BN_mul(t, p, q, ctx) || BN_cmp(t, n) != 0)
        goto end;
    why = "e*d != 1 mod (p-1) or (q-1)";
    if (!BN_sub(pm1, p, BN_value_one()) || !BN_sub(qm1, q, BN_value_one()) ||
        !BN_mod_mul(t, e, d, pm1, ctx) || !BN_is_one(t) || !BN_mod_mul(t, e, d, qm1, ctx) ||
        !BN_is_one(t))
        goto end;
    why = "dP, dQ or qInv inconsistent";
    if (dp != NULL && (!BN_mod(t, d, pm1, ctx) || BN_cmp(t, dp) != 0))
        goto end;
    if (dq != NULL && (!BN_mod(t, d, qm1, ctx) || BN_cmp(t, dq) != 0))
        goto end;
    if (qi != NULL && (!BN_mod_mul(t, qi, q, p, ctx) || !BN_is_one(t)))
        goto end;
    why = "a factor is not prime";
    if ((rc = check_primes(pol, p, q, ctx, proof, n_proof)) != DG_OK) {
        if (rc == DG_E_LIMIT)
            goto out_limit;
        rc = DG_E_FORMAT;
        goto end;
    }
    {
        const int rp = prime_rounds(BN_num_bits(p)), rq = prime_rounds(BN_num_bits(q));
        char rounds[32];

        if (rp == rq)
            snprintf(rounds, sizeof rounds, "%d", rp);
        else
            snprintf(rounds, sizeof rounds, "%d and %d", rp, rq);
        dg_strlcpyf(proof, n_proof,
                    "p*q=n, e*d=1 mod (p-1),(q-1)%s, p and q probable primes (%s rounds)",
                    (dp != NULL && dq != NULL && qi != NULL) ? ", dP dQ qInv" : "", rounds);
    }
    rc = DG_OK;
end:
    if (rc != DG_OK)
        dg_strlcpyf(proof, n_proof, "%s", why);
out_limit:
    BN_CTX_end(ctx);
out:
    BN_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    BN_clear_free(d);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_clear_free(f3);
    BN_clear_free(dp);
    BN_clear_free(dq);
    BN_clear_free(qi);
    return rc;
}

/* EC: 0 < d < order and d*G equals the key's public point. */
static dg_err
prove_ec(const EVP_PKEY *pkey, unsigned flags, char *proof, size_t n_proof)
{
    char group[64];
    unsigned char pub[1 + 2 * 66 + 8];
    size_t glen = 0, publen = 0;
    BIGNUM *d = get_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
    EC_GROUP *g = NULL;
    EC_POINT *dg = NULL, *q = NULL;
    BN_CTX *ctx = BN_CTX_new();
    dg_err rc = DG_E_FORMAT;
    const char *why = "no private scalar";
    int nid;

    if (d == NULL || ctx == NULL)
        goto out;
    why = "unknown curve";
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) != 1)
        goto out;
    nid = OBJ_txt2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    g = nid == NID_undef ? NULL : EC_GROUP_new_by_curve_name(nid);
    if (g == NULL) {
        rc = DG_E_UNSUPPORTED;
        goto out;
    }
    why = "scalar out of range";
    if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
        goto out;
    why = "no public point";
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub,
                                        &publen) != 1)
        goto out;
    dg = EC_POINT_new(g);
    q = EC_POINT_new(g);
    why = "public point not on the curve";
    if (dg == NULL || q == NULL || EC_POINT_oct2point(g, q, pub, publen, ctx) != 1)
        goto out;
    why = "scalar multiplication failed";
    if (EC_POINT_mul(g, dg, d, NULL, NULL, ctx) != 1)
        goto out;
    why = "d*G != Q";
    if (EC_POINT_cmp(g, dg, q, ctx) != 0)
        goto out;
    dg_strlcpyf(proof, n_proof, "%s", (flags & KEYPROOF_PUB_STORED)
                                          ? "d*G=Q (stored public point), 0<d<n"
                                          : "Q derived as d*G, 0<d<n (no stored public point)");
    rc = DG_OK;
out:
    if (rc != DG_OK)
        dg_strlcpyf(proof, n_proof, "%s", why);
    EC_POINT_free(dg);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    BN_CTX_free(ctx);
    BN_clear_free(d);
    return rc;
}

/* Ed25519/Ed448/X25519/X448: public key derived from the private key equals the
 * key's public key. */
static dg_err
prove_ecx(const EVP_PKEY *pkey, unsigned flags, char *proof, size_t n_proof)
{
    unsigned char priv[64], pub[64], pub2[64];
    size_t privlen = sizeof priv, publen = sizeof pub, publen2 = sizeof pub2;
    EVP_PKEY *k2 = NULL;
    dg_err rc = DG_E_FORMAT;
    const char *why = "no raw private key";

    if (EVP_PKEY_get_raw_private_key(pkey, priv, &privlen) != 1)
        goto out;
    why = "no public key";
    if (EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1)
        goto out;
    k2 = EVP_PKEY_new_raw_private_key(EVP_PKEY_get_base_id(pkey), NULL, priv, privlen);
    why = "private key rejected";
    if (k2 == NULL || EVP_PKEY_get_raw_public_key(k2, pub2, &publen2) != 1)
        goto out;
    why = "derived public key differs from the stored one";
    if (publen != publen2 || CRYPTO_memcmp(pub, pub2, publen) != 0)
        goto out;
    dg_strlcpyf(proof, n_proof, "%s",
                (flags & KEYPROOF_PUB_STORED)
                    ? "public key derived from the private key equals the stored one"
                    : "public key derived from the private key (no stored public key)");
    rc = DG_OK;
out:
    if (rc != DG_OK)
        dg_strlcpyf(proof, n_proof, "%s", why);
    OPENSSL_cleanse(priv, sizeof priv);
    EVP_PKEY_free(k2);
    return rc;
}

/* DSA: y = g^x mod p and 0 < x < q. */
static dg_err
prove_dsa(const EVP_PKEY *pkey, char *proof, size_t n_proof)
{
    BIGNUM *p = get_bn(pkey, OSSL_PKEY_PARAM_FFC_P);
    BIGNUM *q = get_bn(pkey, OSSL_PKEY_PARAM_FFC_Q);
    BIGNUM *g = get_bn(pkey, OSSL_PKEY_PARAM_FFC_G);
    BIGNUM *x = get_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
    BIGNUM *y = get_bn(pkey, OSSL_PKEY_PARAM_PUB_KEY);
    BIGNUM *t = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    dg_err rc = DG_E_FORMAT;

    if (p && q && g && x && y && t && ctx && !BN_is_zero(x) && BN_cmp(x, q) < 0 &&
        BN_mod_exp(t, g, x, p, ctx) == 1 && BN_cmp(t, y) == 0) {
        dg_strlcpyf(proof, n_proof, "y=g^x mod p, 0<x<q");
        rc = DG_OK;
    } else {
        dg_strlcpyf(proof, n_proof, "y != g^x mod p");
    }
    BN_CTX_free(ctx);
    BN_free(t);
    BN_free(p);
    BN_free(q);
    BN_free(g);
    BN_clear_free(x);
    BN_free(y);
    return rc;
}

/* Private keys published in a library's source and compiled into its
 * command-line tools, so every core of those tools holds them: OpenSSL's
 * apps/testrsa.h (for `openssl speed`) and GnuTLS's src/benchmark-tls.c (for
 * `gnutls-cli --benchmark-tls-*`). Known by their public halves; proving
 * them (7680-bit primes for RSA-15360) would cost half a minute a core and
 * tell nothing. */
static const struct {
    const char *spki_sha256, *what;
} test_keys[] = {
    {"7055066ee3969c25d66c1b891c252e83db653ae6834cd60e49250a4af73a97fe",
     "OpenSSL's public RSA-512 test key (apps/testrsa.h)"},
    {"0ea7caf9dd07fd79fe22ceb5efbbd7d4445d231e92ee1bf3b2a022eaffb00495",
     "OpenSSL's public RSA-1024 test key (apps/testrsa.h)"},
    {"a6fdc2c6d07aa877e3ac360c2ce5efb69ab7dce2fd8df3c1bce0564b17114bc2",
     "OpenSSL's public RSA-2048 test key (apps/testrsa.h)"},
    {"01e67e56244b43b668e2b9a697daaafcfb501fa78de2fcc4aa32bdae6dd94af6",
     "OpenSSL's public RSA-3072 test key (apps/testrsa.h)"},
    {"adadc3246bb4830551c6da143d7462727967bda53059ae6f152323b0aba69595",
     "OpenSSL's public RSA-4096 test key (apps/testrsa.h)"},
    {"d2d8c7d1de1e118e810c15eb7f8d9560a433e15cd55eac52aade81d6669cf133",
     "OpenSSL's public RSA-7680 test key (apps/testrsa.h)"},
    {"cebf59a465ccd9c42a7f7f6a789cc741d43cacbc502587ed1c5f0f4e445f1c39",
     "OpenSSL's public RSA-15360 test key (apps/testrsa.h)"},
    {"980ba340b591afc2404e61f2ab4d16ea2a6437cb2b314ac48fa77fba9c3c5247",
     "GnuTLS's public RSA-3072 benchmark key (src/benchmark-tls.c)"},
    {"2644b62ddc46a6f3e588597cdf779f4e0d21eb5b71dda6862b63117ec1af9739",
     "GnuTLS's public P-256 benchmark key (src/benchmark-tls.c)"},
    {"ec35b9d2a919ac42aa4ab076f4790bbd1a22b9002d1da68b01928b13db3f559e",
     "GnuTLS's public Ed25519 benchmark key (src/benchmark-tls.c)"},
};

size_t
keyproof_test_key_count(void)
{
    return sizeof test_keys / sizeof test_keys[0];
}

const char *
keyproof_test_key(size_t i, char *what, size_t what_len)
{
    if (i >= keyproof_test_key_count())
        return NULL;
    dg_strlcpyf(what, what_len, "%s", test_keys[i].what);
    return test_keys[i].spki_sha256;
}

/* ---- the memo of proofs ---- */

#define MEMO_SLOTS 4096u  /* > KEYPROOF_MEMO_KEYS: probes stay short */
#define MEMO_PROOF 160u   /* proof text kept (callers' buffers are smaller) */

struct memo_slot {
    bool used;
    uint8_t digest[32];   /* memo_digest(): flags, type and every parameter */
    dg_err rc;
    char proof[MEMO_PROOF];
    /* keyproof_identity()'s answer (public) */
    char algorithm[sizeof ((struct dg_key *)0)->algorithm];
    unsigned bits;
    char curve[sizeof ((struct dg_key *)0)->curve];
    char spki_sha256[sizeof ((struct dg_key *)0)->spki_sha256];
};

struct keyproof_memo {
    pthread_mutex_t lock;
    size_t n;
    uint16_t taken[KEYPROOF_MEMO_KEYS]; /* the slots in use, in the order filled */
    struct memo_slot slots[MEMO_SLOTS];
};
_Static_assert(MEMO_SLOTS <= 65536, "keyproof_memo.taken holds slot numbers in 16 bits");

struct keyproof_memo *
keyproof_memo_new(void)
{
    struct keyproof_memo *m = calloc(1, sizeof *m);

    if (m != NULL && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void
keyproof_memo_free(struct keyproof_memo *memo)
{
    if (memo == NULL)
        return;
    pthread_mutex_destroy(&memo->lock);
    /* Only the slots in use hold anything: the rest of the 1.3 MB calloc()
     * gave was never touched, and reading or wiping it would fault in every
     * page (330 faults, 2 ms at the end of every scan with a finding). */
    for (size_t i = 0; i < memo->n; i++)
        OPENSSL_cleanse(&memo->slots[memo->taken[i]], sizeof memo->slots[0]);
    free(memo);
}

size_t
keyproof_memo_count(struct keyproof_memo *memo)
{
    size_t n;

    pthread_mutex_lock(&memo->lock);
    n = memo->n;
    pthread_mutex_unlock(&memo->lock);
    return n;
}

/* memo_digest()'s hash of the parameters EVP_PKEY_export() hands over:
 * each one's name, type, size and bytes. */
static int
digest_params(const OSSL_PARAM params[], void *arg)
{
    EVP_MD_CTX *md = arg;

    for (const OSSL_PARAM *p = params; p->key != NULL; p++) {
        uint64_t type = p->data_type, size = p->data_size;

        if (EVP_DigestUpdate(md, p->key, strlen(p->key) + 1) != 1 ||
            EVP_DigestUpdate(md, &type, sizeof type) != 1 ||
            EVP_DigestUpdate(md, &size, sizeof size) != 1 ||
            (p->data != NULL && EVP_DigestUpdate(md, p->data, p->data_size) != 1))
            return 0;
    }
    return 1;
}

/* The memo's name for pkey under flags: SHA-256 over the flags, the key's
 * type and every parameter of the key pair as its provider exports it
 * (domain parameters, public and private key). No encoder is looked up, so
 * a copy costs microseconds, not the ~100 us of i2d_PrivateKey and
 * i2d_PUBKEY. False when the key does not export. */
static bool
memo_digest(const EVP_PKEY *pkey, unsigned flags, uint8_t digest[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const char *type = EVP_PKEY_get0_type_name(pkey);
    int32_t base = EVP_PKEY_get_base_id(pkey);
    uint8_t f = (uint8_t)flags;
    bool ok;

    ERR_set_mark();
    ok = md != NULL && type != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, &f, 1) == 1 && EVP_DigestUpdate(md, &base, sizeof base) == 1 &&
         EVP_DigestUpdate(md, type, strlen(type) + 1) == 1 &&
         EVP_PKEY_export(pkey, EVP_PKEY_KEYPAIR, digest_params, md) == 1 &&
         EVP_DigestFinal_ex(md, digest, NULL) == 1;
    ERR_pop_to_mark();
    EVP_MD_CTX_free(md); /* cleanses the hash state */
    return ok;
}

/* The slot for digest: the one holding it, or the empty one where it goes. */
static struct memo_slot *
memo_slot(struct keyproof_memo *m, const uint8_t digest[32])
{
    size_t i = ((size_t)digest[0] | (size_t)digest[1] << 8) % MEMO_SLOTS;

    while (m->slots[i].used && memcmp(m->slots[i].digest, digest, 32) != 0)
        i = (i + 1) % MEMO_SLOTS;
    return &m->slots[i];
}

/* The memo's answer for digest: the proof's result and text, and the key's
 * identity into key. */
static bool
memo_get(struct keyproof_memo *m, const uint8_t digest[32], dg_err *rc, char *proof,
         size_t proof_len, struct dg_key *key)
{
    struct memo_slot *s;
    bool hit;

    pthread_mutex_lock(&m->lock);
    s = memo_slot(m, digest);
    hit = s->used;
    if (hit) {
        *rc = s->rc;
        dg_strlcpyf(proof, proof_len, "%s", s->proof);
        dg_strlcpyf(key->algorithm, sizeof key->algorithm, "%s", s->algorithm);
        key->bits = s->bits;
        dg_strlcpyf(key->curve, sizeof key->curve, "%s", s->curve);
        dg_strlcpyf(key->spki_sha256, sizeof key->spki_sha256, "%s", s->spki_sha256);
    }
    pthread_mutex_unlock(&m->lock);
    return hit;
}

static void
memo_put(struct keyproof_memo *m, const uint8_t digest[32], dg_err rc, const char *proof,
         const struct dg_key *key)
{
    struct memo_slot *s;

    pthread_mutex_lock(&m->lock);
    s = memo_slot(m, digest);
    if (!s->used && m->n < KEYPROOF_MEMO_KEYS) {
        s->used = true;
        m->taken[m->n] = (uint16_t)(s - m->slots);
        memcpy(s->digest, digest, 32);
        s->rc = rc;
        dg_strlcpyf(s->proof, sizeof s->proof, "%s", proof);
        dg_strlcpyf(s->algorithm, sizeof s->algorithm, "%s", key->algorithm);
        s->bits = key->bits;
        dg_strlcpyf(s->curve, sizeof s->curve, "%s", key->curve);
        dg_strlcpyf(s->spki_sha256, sizeof s->spki_sha256, "%s", key->spki_sha256);
        m->n++;
    }
    pthread_mutex_unlock(&m->lock);
}

/* True if the key named by key->spki_sha256 is not to be proven: a published
 * test key or one on the scan's allow list; proof says which. */
static bool
named_only(const struct dg_proof_policy *pol, const struct dg_key *key, char *proof,
           size_t proof_len)
{
    char note[96];

    if (key->spki_sha256[0] == '\0')
        return false;
    for (size_t i = 0; i < keyproof_test_key_count(); i++) {
        if (strcmp(key->spki_sha256, test_keys[i].spki_sha256) == 0) {
            dg_strlcpyf(proof, proof_len, "%s, named by its public half", test_keys[i].what);
            return true;
        }
    }
    note[0] = '\0';
    if (pol != NULL && pol->allowed != NULL &&
        pol->allowed(pol->allowed_arg, key->spki_sha256, note, sizeof note)) {
        dg_strlcpyf(proof, proof_len, "allowed%s%s%s, named by its public half, not proven",
                    note[0] ? " (" : "", note, note[0] ? ")" : "");
        return true;
    }
    return false;
}

dg_err
keyproof_prove(const struct dg_proof_policy *pol, const EVP_PKEY *pkey, unsigned flags,
               struct dg_key *key, char *proof, size_t proof_len)
{
    dg_err rc, id;
    uint8_t digest[32];
    bool memo;

    ERR_set_mark();
    /* The same key again (a dump holds many copies): the first copy's
     * identity and proof. */
    memo = pol != NULL && pol->memo != NULL && memo_digest(pkey, flags, digest);
    if (memo && memo_get(pol->memo, digest, &rc, proof, proof_len, key)) {
        if (named_only(pol, key, proof, proof_len)) {
            ERR_pop_to_mark();
            return DG_E_UNSUPPORTED;
        }
        if (rc == DG_OK && pol->proven != NULL)
            pol->proven(pol->proven_arg, pkey, key);
        ERR_pop_to_mark();
        return rc;
    }
    /* The identity first (the proofs below leave key alone): a published
     * test key, or one on the scan's allow list, is named by its public
     * half, never proven. */
    id = keyproof_identity(pkey, key);
    if (id == DG_OK && named_only(pol, key, proof, proof_len)) {
        ERR_pop_to_mark();
        return DG_E_UNSUPPORTED;
    }
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        rc = prove_rsa(pol, pkey, proof, proof_len);
        break;
    case EVP_PKEY_EC:
    case EVP_PKEY_SM2:
        rc = prove_ec(pkey, flags, proof, proof_len);
        break;
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
    case EVP_PKEY_X25519:
    case EVP_PKEY_X448:
        rc = prove_ecx(pkey, flags, proof, proof_len);
        break;
    case EVP_PKEY_DSA:
        rc = prove_dsa(pkey, proof, proof_len);
        break;
    default:
        dg_strlcpyf(proof, proof_len, "no proof for %s keys", algorithm_name(pkey));
        rc = DG_E_UNSUPPORTED;
        break;
    }
    if (id != DG_OK && rc == DG_OK)
        rc = DG_E_CRYPTO;
    if (memo && id == DG_OK)
        memo_put(pol->memo, digest, rc, proof, key);
    if (rc == DG_OK && pol != NULL && pol->proven != NULL)
        pol->proven(pol->proven_arg, pkey, key);
    ERR_pop_to_mark();
    return rc;
}


/* True if OpenSSL has the named curve nid built in (no group is made). */
static bool
builtin_curve(int nid)
{
    EC_builtin_curve c[128];
    size_t n = EC_get_builtin_curves(c, sizeof c / sizeof c[0]);

    for (size_t i = 0; i < n && i < sizeof c / sizeof c[0]; i++)
        if (c[i].nid == nid)
            return true;
    return false;
}

/* Builds an RSA EVP_PKEY from the given numbers with OSSL_PARAM_BLD: a key
 * pair, or with d NULL (and no factors) the public key (n, e). */
static dg_err
rsa_fromdata(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p,
             const BIGNUM *q, const BIGNUM *dp, const BIGNUM *dq, const BIGNUM *qi,
             EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    dg_err rc = DG_E_CRYPTO;
    int ok;

    *out = NULL;
    if (bld == NULL)
        return DG_E_NOMEM;
    ok = OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
         (d == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d));
    if (ok && p != NULL && q != NULL)
        ok = OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q);
    if (ok && dp != NULL && dq != NULL && qi != NULL)
        ok = OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi);
    if (ok)
        params = OSSL_PARAM_BLD_to_param(bld);
    if (params != NULL)
        pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (pctx != NULL && EVP_PKEY_fromdata_init(pctx) == 1 &&
        EVP_PKEY_fromdata(pctx, out, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) == 1)
        rc = DG_OK;
    EVP_PKEY_CTX_free(pctx);
    params_clear_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

dg_err
keyproof_rsa_alias(const EVP_PKEY *pkey, char out[65])
{
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY *rsa = NULL;
    struct dg_key key;
    dg_err rc = DG_E_CRYPTO;

    out[0] = '\0';
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA_PSS)
        return DG_E_UNSUPPORTED;
    ERR_set_mark();
    if ((n = get_bn(pkey, OSSL_PKEY_PARAM_RSA_N)) != NULL &&
        (e = get_bn(pkey, OSSL_PKEY_PARAM_RSA_E)) != NULL &&
        (rc = rsa_fromdata(n, e, NULL, NULL, NULL, NULL, NULL, NULL, &rsa)) == DG_OK) {
        memset(&key, 0, sizeof key);
        if ((rc = keyproof_identity(rsa, &key)) == DG_OK)
            memcpy(out, key.spki_sha256, 65);
    }
    ERR_pop_to_mark();
    EVP_PKEY_free(rsa);
    BN_free(n);
    BN_free(e);
    return rc;
}

dg_err
keyproof_rsa_from_components(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
                             const BIGNUM *p, const BIGNUM *q, EVP_PKEY **out)
{
    BN_CTX *ctx;
    BIGNUM *dp, *dq, *qi, *pm1, *qm1;
    dg_err rc = DG_E_NOMEM;

    *out = NULL;
    if (d == NULL)
        return DG_E_CRYPTO; /* no private key (rsa_fromdata() would make n, e's public one) */
    if ((ctx = BN_CTX_secure_new()) == NULL)
        return DG_E_NOMEM;
    ERR_set_mark();
    BN_CTX_start(ctx);
    dp = BN_CTX_get(ctx);
    dq = BN_CTX_get(ctx);
    qi = BN_CTX_get(ctx);
    pm1 = BN_CTX_get(ctx);
    qm1 = BN_CTX_get(ctx);
    if (qm1 == NULL)
        goto out;
    if (p == NULL || q == NULL) {
        rc = rsa_fromdata(n, e, d, NULL, NULL, NULL, NULL, NULL, out);
        goto out;
    }
    rc = DG_E_FORMAT;
    if (!BN_sub(pm1, p, BN_value_one()) || !BN_sub(qm1, q, BN_value_one()) ||
        !BN_mod(dp, d, pm1, ctx) || !BN_mod(dq, d, qm1, ctx) ||
        BN_mod_inverse(qi, q, p, ctx) == NULL)
        goto out;
    rc = rsa_fromdata(n, e, d, p, q, dp, dq, qi, out);
out:
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    ERR_pop_to_mark();
    return rc;
}

dg_err
keyproof_rsa_from_primes(const BIGNUM *p, const BIGNUM *q, const BIGNUM *e, EVP_PKEY **out)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *n, *d, *pm1, *qm1, *g, *lcm;
    dg_err rc = DG_E_NOMEM;

    *out = NULL;
    if (ctx == NULL)
        return DG_E_NOMEM;
    ERR_set_mark();
    BN_CTX_start(ctx);
    n = BN_CTX_get(ctx);
    d = BN_CTX_get(ctx);
    pm1 = BN_CTX_get(ctx);
    qm1 = BN_CTX_get(ctx);
    g = BN_CTX_get(ctx);
    lcm = BN_CTX_get(ctx);
    if (lcm == NULL)
        goto out;
    rc = DG_E_FORMAT;
    if (!BN_mul(n, p, q, ctx) || !BN_sub(pm1, p, BN_value_one()) ||
        !BN_sub(qm1, q, BN_value_one()) || !BN_gcd(g, pm1, qm1, ctx) ||
        !BN_mul(lcm, pm1, qm1, ctx) || !BN_div(lcm, NULL, lcm, g, ctx) ||
        BN_mod_inverse(d, e, lcm, ctx) == NULL)
        goto out;
    /* The larger prime goes first, as OpenSSL's key generation orders them. */
    if (BN_cmp(p, q) >= 0)
        rc = keyproof_rsa_from_components(n, e, d, p, q, out);
    else
        rc = keyproof_rsa_from_components(n, e, d, q, p, out);
out:
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    ERR_pop_to_mark();
    return rc;
}

/* Makes the key pair of OpenSSL key type `type` from the parameters in bld
 * (which it frees) into *out, wiping the private key's copy in the
 * parameter array. bld NULL (its pushes failed): DG_E_CRYPTO. */
static dg_err
keypair_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    dg_err rc = DG_E_CRYPTO;

    *out = NULL;
    ERR_set_mark();
    if (bld != NULL && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) != NULL &&
        EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) == 1)
        rc = DG_OK;
    ERR_pop_to_mark();
    EVP_PKEY_CTX_free(ctx);
    if (params != NULL) {
        OSSL_PARAM *pk = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PRIV_KEY);

        if (pk != NULL)
            OPENSSL_cleanse(pk->data, pk->data_size);
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

dg_err
keyproof_dsa_from_components(const BIGNUM *p, const BIGNUM *q, const BIGNUM *g, const BIGNUM *y,
                             const BIGNUM *x, EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();

    if (bld != NULL && !(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p) &&
                         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, q) &&
                         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, g) &&
                         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y) &&
                         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, x))) {
        OSSL_PARAM_BLD_free(bld);
        bld = NULL;
    }
    return keypair_fromdata("DSA", bld, out);
}

dg_err
keyproof_ecx_from_raw(const char *type, const uint8_t *priv, size_t priv_len, const uint8_t *pub,
                      size_t pub_len, EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();

    if (bld != NULL &&
        !(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv, priv_len) &&
          (pub == NULL ||
           OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len)))) {
        OSSL_PARAM_BLD_free(bld);
        bld = NULL;
    }
    return keypair_fromdata(type, bld, out);
}

dg_err
keyproof_ec_from_scalar(const char *group, const BIGNUM *d, const uint8_t *pub,
                        size_t pub_len, EVP_PKEY **out)
{
    unsigned char derived[1 + 2 * 66 + 8];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EC_GROUP *g = NULL;
    EC_POINT *pt = NULL;
    BN_CTX *ctx = NULL;
    dg_err rc = DG_E_CRYPTO;
    int nid = OBJ_txt2nid(group);

    *out = NULL;
    ERR_set_mark();
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    if (nid == NID_undef || !builtin_curve(nid)) {
        rc = DG_E_UNSUPPORTED;
        goto out;
    }
    /* The group itself (costly: its precomputation) only to derive Q. */
    if (pub == NULL) {
        if ((g = EC_GROUP_new_by_curve_name(nid)) == NULL) {
            rc = DG_E_UNSUPPORTED;
            goto out;
        }
        ctx = BN_CTX_new();
        pt = EC_POINT_new(g);
        if (ctx == NULL || pt == NULL || EC_POINT_mul(g, pt, d, NULL, NULL, ctx) != 1)
            goto out;
        pub_len = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, derived,
                                     sizeof derived, ctx);
        if (pub_len == 0)
            goto out;
        pub = derived;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto out;
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (pctx != NULL && EVP_PKEY_fromdata_init(pctx) == 1 &&
        EVP_PKEY_fromdata(pctx, out, EVP_PKEY_KEYPAIR, params) == 1)
        rc = DG_OK;
out:
    EVP_PKEY_CTX_free(pctx);
    params_clear_free(params);
    OSSL_PARAM_BLD_free(bld);
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    BN_CTX_free(ctx);
    ERR_pop_to_mark();
    return rc;
}

dg_err
keyproof_rsa_from_crt(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p,
                      const BIGNUM *q, const BIGNUM *dp, const BIGNUM *dq, const BIGNUM *qi,
                      EVP_PKEY **out)
{
    dg_err rc;

    ERR_set_mark();
    rc = rsa_fromdata(n, e, d, p, q, dp, dq, qi, out);
    ERR_pop_to_mark();
    return rc;
}

dg_err
keyproof_rsa_public(const BIGNUM *n, const BIGNUM *e, EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    dg_err rc = DG_E_CRYPTO;

    *out = NULL;
    if (bld == NULL)
        return DG_E_NOMEM;
    ERR_set_mark();
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        params = OSSL_PARAM_BLD_to_param(bld);
    if (params != NULL)
        pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (pctx != NULL && EVP_PKEY_fromdata_init(pctx) == 1 &&
        EVP_PKEY_fromdata(pctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1)
        rc = DG_OK;
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    ERR_pop_to_mark();
    return rc;
}

const char *
keyproof_type_name(const char *algorithm)
{
    static const struct {
        const char *alg, *type;
    } map[] = {
        {"RSA", "rsa-private-key"},     {"RSA-PSS", "rsa-private-key"},
        {"EC", "ec-private-key"},       {"SM2", "ec-private-key"},
        {"DSA", "dsa-private-key"},     {"Ed25519", "ed25519-private-key"},
        {"Ed448", "ed448-private-key"}, {"X25519", "x25519-private-key"},
        {"X448", "x448-private-key"},
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(algorithm, map[i].alg) == 0)
            return map[i].type;
    return "private-key";
}

dg_err
keyproof_policy_create(const struct dg_config *cfg, void **shared)
{
    const struct dg_proof_policy **p = malloc(sizeof *p);

    if (p == NULL)
        return DG_E_NOMEM;
    *p = cfg->proof;
    *shared = p;
    return DG_OK;
}

void
keyproof_policy_destroy(void *shared)
{
    free(shared);
}

const struct dg_proof_policy *
keyproof_policy_of(const void *shared)
{
    return shared != NULL ? *(const struct dg_proof_policy *const *)shared : NULL;
}

dg_err
keyproof_prove_finding(const struct dg_proof_policy *pol, const EVP_PKEY *pkey, unsigned flags,
                       struct dg_finding *f)
{
    dg_err rc = keyproof_prove(pol, pkey, flags, &f->key, f->proof, sizeof f->proof);

    dg_strlcpyf(f->type, sizeof f->type, "%s", keyproof_type_name(f->key.algorithm));
    if (rc == DG_OK) {
        f->status = DG_STATUS_CONFIRMED;
        f->severity = DG_SEV_HIGH;
        return rc;
    }
    f->status = DG_STATUS_CANDIDATE;
    f->severity = DG_SEV_MEDIUM;
    if (keyproof_named(rc, &f->key))
        dg_strlcpyf(f->note, sizeof f->note, "%s", f->proof);
    else
        dg_strlcpyf(f->note, sizeof f->note, "key decoded but not proven: %s", f->proof);
    f->proof[0] = '\0';
    return rc;
}

bool
keyproof_describe_encrypted_pkcs8(const unsigned char *der, size_t len, char *note,
                                  size_t n)
{
    const unsigned char *p = der;
    X509_SIG *sig;
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *oid = NULL;
    char scheme[64] = "?", kdf[64] = "", cipher[64] = "";

    ERR_set_mark();
    sig = d2i_X509_SIG(NULL, &p, (long)len);
    if (sig == NULL || (size_t)(p - der) != len) {
        X509_SIG_free(sig);
        ERR_pop_to_mark();
        return false;
    }
    X509_SIG_get0(sig, &alg, NULL);
    X509_ALGOR_get0(&oid, NULL, NULL, alg);
    OBJ_obj2txt(scheme, sizeof scheme, oid, 0);
    if (OBJ_obj2nid(oid) == NID_pbes2) {
        PBE2PARAM *pbe2 = NULL;
        int ptype;
        const void *pval;

        X509_ALGOR_get0(NULL, &ptype, &pval, alg);
        if (ptype == V_ASN1_SEQUENCE)
            pbe2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
        if (pbe2 != NULL) {
            OBJ_obj2txt(kdf, sizeof kdf, pbe2->keyfunc->algorithm, 0);
            OBJ_obj2txt(cipher, sizeof cipher, pbe2->encryption->algorithm, 0);
            PBE2PARAM_free(pbe2);
        }
    }
    if (kdf[0] != '\0')
        dg_strlcpyf(note, n, "encrypted PKCS#8 (%s: %s, %s)", scheme, kdf, cipher);
    else
        dg_strlcpyf(note, n, "encrypted PKCS#8 (%s)", scheme);
    X509_SIG_free(sig);
    ERR_pop_to_mark();
    return true;
}
