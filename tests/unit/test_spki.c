/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_spki.c - keyproof_spki_sha256(), the hash a certificate's public key
 * is named by, always equals keyproof_identity()'s hash of the decoded key
 * (what `openssl pkey -pubout -outform DER | sha256sum` prints), whether
 * it hashed the bytes as they are or decoded them. Keys of every algorithm
 * it knows are made with OpenSSL at run time: RSA (2048, 1024 with e = 3),
 * EC on P-256, P-384 and P-521, Ed25519 and Ed448, whose encoding is hashed
 * as it is; and forms that go through the decoder: a compressed P-256
 * point, secp256k1, X25519, RSA-PSS, DSA. Then encodings that OpenSSL reads
 * but would not write, which must not be hashed as they are: rsaEncryption
 * without its NULL parameters, a SubjectPublicKeyInfo whose length is in a
 * longer form than DER allows, and one with a byte after it; and bytes that
 * are no key at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/dsa.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../../scanner/proof/keyproof.h"
#include "tap.h"

/* The DER SubjectPublicKeyInfo of k into out (at most cap bytes); 0 on error. */
static size_t
spki_of(const EVP_PKEY *k, unsigned char *out, size_t cap)
{
    unsigned char *der = NULL;
    int n = k != NULL ? i2d_PUBKEY(k, &der) : -1;
    size_t len = n > 0 && (size_t)n <= cap ? (size_t)n : 0;

    if (len > 0)
        memcpy(out, der, len);
    OPENSSL_free(der);
    return len;
}

/* keyproof_spki_sha256(der) names k as keyproof_identity() does. */
static void
check_key(struct tap *t, const char *what, const EVP_PKEY *k)
{
    unsigned char der[4096];
    size_t n = spki_of(k, der, sizeof der);
    struct dg_key id;
    char got[65];

    memset(&id, 0, sizeof id);
    if (!tap_check(t, n > 0 && keyproof_identity(k, &id) == DG_OK, "%s: made and named", what))
        return;
    tap_check(t,
              keyproof_spki_sha256(der, n, got) == DG_OK && strcmp(got, id.spki_sha256) == 0,
              "%s: the same spki_sha256 as the decoded key's (%.16s...)", what, id.spki_sha256);
}

/* A key of type ("RSA", or "RSA-PSS" without restrictions) of bits with
 * public exponent e. */
static EVP_PKEY *
rsa_gen(const char *type, unsigned bits, unsigned e)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *k = NULL;
    BIGNUM *bn = BN_new();

    if (c == NULL || bn == NULL || BN_set_word(bn, e) != 1 || EVP_PKEY_keygen_init(c) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(c, (int)bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(c, bn) != 1 || EVP_PKEY_generate(c, &k) != 1)
        k = NULL;
    BN_free(bn);
    EVP_PKEY_CTX_free(c);
    return k;
}

/* A P-256 key's SubjectPublicKeyInfo with its point compressed. */
static EVP_PKEY *
compressed_p256(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    if (k != NULL && EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                    "compressed") != 1) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

/* Encodings OpenSSL reads but does not write, made from rsa's: each must
 * be named by the key it decodes to, not by its own bytes. */
static void
check_noncanonical(struct tap *t, const EVP_PKEY *rsa)
{
    unsigned char der[4096], alt[4200], raw_hash[65], got[65];
    size_t n = spki_of(rsa, der, sizeof der), m;
    struct dg_key id;

    memset(&id, 0, sizeof id);
    if (!tap_check(t, n > 40 && der[0] == 0x30 && der[1] == 0x82 && der[4] == 0x30 &&
                          der[5] == 0x0d && der[17] == 0x05 && der[18] == 0x00 &&
                          keyproof_identity(rsa, &id) == DG_OK,
                   "RSA-2048 SubjectPublicKeyInfo: 30 82 .. 30 0d (OID) 05 00 ..."))
        return;

    /* rsaEncryption without the NULL parameters (RFC 3279 asks for them;
     * OpenSSL reads their absence and writes them back) */
    m = 0;
    alt[m++] = 0x30;
    alt[m++] = 0x82;
    alt[m++] = (unsigned char)((n - 4 - 2) >> 8);
    alt[m++] = (unsigned char)(n - 4 - 2);
    alt[m++] = 0x30;
    alt[m++] = 0x0b;
    memcpy(alt + m, der + 6, 11); /* the OID */
    m += 11;
    memcpy(alt + m, der + 19, n - 19);
    m += n - 19;
    keyproof_sha256_hex(alt, m, (char *)raw_hash);
    tap_check(t,
              keyproof_spki_sha256(alt, m, (char *)got) == DG_OK &&
                  strcmp((char *)got, id.spki_sha256) == 0 &&
                  strcmp((char *)raw_hash, id.spki_sha256) != 0,
              "rsaEncryption without NULL parameters: named by the key, not its bytes");

    /* the outer length in three bytes where two are enough */
    alt[0] = 0x30;
    alt[1] = 0x83;
    alt[2] = 0x00;
    memcpy(alt + 3, der + 2, n - 2);
    m = n + 1;
    {
        char h[65];
        dg_err rc = keyproof_spki_sha256(alt, m, h);

        keyproof_sha256_hex(alt, m, (char *)raw_hash);
        tap_check(t,
                  (rc == DG_OK && strcmp(h, id.spki_sha256) == 0) ||
                      (rc != DG_OK && h[0] == '\0'),
                  "a longer length form than DER's: the key's name or none, never its bytes' "
                  "(%s)",
                  rc == DG_OK ? "decoded" : "refused");
        tap_check(t, strcmp(h, (char *)raw_hash) != 0, "... and not the hash of those bytes");
    }

    /* a byte after the SubjectPublicKeyInfo */
    memcpy(alt, der, n);
    alt[n] = 0;
    {
        char h[65];
        dg_err rc = keyproof_spki_sha256(alt, n + 1, h);

        keyproof_sha256_hex(alt, n + 1, (char *)raw_hash);
        tap_check(t, strcmp(h, (char *)raw_hash) != 0 &&
                         (rc != DG_OK || strcmp(h, id.spki_sha256) == 0),
                  "a byte after it: never the hash of all the bytes");
    }
}

/* A DSA-2048 key, parameters made first. */
static EVP_PKEY *
dsa_gen(void)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
    EVP_PKEY *params = NULL, *k = NULL;

    if (c == NULL || EVP_PKEY_paramgen_init(c) != 1 ||
        EVP_PKEY_CTX_set_dsa_paramgen_bits(c, 2048) != 1 || EVP_PKEY_paramgen(c, &params) != 1)
        params = NULL;
    EVP_PKEY_CTX_free(c);
    c = params != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL) : NULL;
    if (c == NULL || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_generate(c, &k) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(params);
    return k;
}

int
main(void)
{
    struct tap t = {0};
    struct {
        const char *what;
        EVP_PKEY *k;
    } keys[] = {
        /* hashed as they are */
        {"RSA-2048", rsa_gen("RSA", 2048, 65537)},
        {"RSA-1024, e = 3", rsa_gen("RSA", 1024, 3)},
        {"EC P-256", EVP_EC_gen("P-256")},
        {"EC P-384", EVP_EC_gen("P-384")},
        {"EC P-521", EVP_EC_gen("P-521")},
        {"Ed25519", EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")},
        {"Ed448", EVP_PKEY_Q_keygen(NULL, NULL, "ED448")},
        /* decoded */
        {"EC P-256, compressed point", compressed_p256()},
        {"EC secp256k1", EVP_EC_gen("secp256k1")},
        {"X25519", EVP_PKEY_Q_keygen(NULL, NULL, "X25519")},
        {"RSA-PSS", rsa_gen("RSA-PSS", 2048, 65537)},
        {"DSA-2048", dsa_gen()},
    };
    static const unsigned char junk[] = {0x30, 0x06, 0x30, 0x00, 0x03, 0x02, 0x00, 0x00};
    char h[65];

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        check_key(&t, keys[i].what, keys[i].k);
    if (keys[0].k != NULL)
        check_noncanonical(&t, keys[0].k);
    tap_check(&t, keyproof_spki_sha256(junk, sizeof junk, h) == DG_E_FORMAT && h[0] == '\0',
              "an empty algorithm and key: DG_E_FORMAT, no name");
    tap_check(&t, keyproof_spki_sha256(junk, 1, h) == DG_E_FORMAT && h[0] == '\0',
              "one byte: DG_E_FORMAT, no name");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        EVP_PKEY_free(keys[i].k);
    return tap_done(&t);
}
