/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_keydecode.c - the decoder cache gives what a fresh OpenSSL decoder
 * gives, whatever came before: keys of several algorithms in PKCS#8 and
 * type-specific DER, interleaved with junk, cut keys, keys with trailing
 * bytes and keys asked for as the wrong type, through one keydecoder for
 * several rounds; every slot taken and then one more kind of request; no
 * error left on the queue.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../../scanner/proof/keydecode.h"
#include "tap.h"

struct der {
    unsigned char *p;
    int len;
};

static struct der
pkcs8_of(const EVP_PKEY *k)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
    struct der d = {NULL, 0};

    if (p8 != NULL)
        d.len = i2d_PKCS8_PRIV_KEY_INFO(p8, &d.p);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return d;
}

static struct der
traditional_of(const EVP_PKEY *k)
{
    struct der d = {NULL, 0};

    d.len = i2d_PrivateKey(k, &d.p);
    return d;
}

/* Decodes through kd and checks the result against want (NULL: no key). */
static void
check(struct tap *t, struct keydecoder *kd, const unsigned char *der, size_t len,
      const char *structure, const char *type, const EVP_PKEY *want, const char *what)
{
    size_t used = 0;
    EVP_PKEY *got = keydecode(kd, der, len, structure, type, EVP_PKEY_KEYPAIR, &used);

    if (want == NULL)
        tap_check(t, got == NULL || used != len, "%s: no key of the whole input", what);
    else
        tap_check(t, got != NULL && EVP_PKEY_eq(got, want) == 1 && used == len,
                  "%s: the same key, all %zu bytes", what, len);
    tap_check(t, ERR_peek_error() == 0, "%s: the error queue is empty", what);
    EVP_PKEY_free(got);
}

int
main(void)
{
    struct tap t = {0, 0};
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    struct der rsa8 = pkcs8_of(rsa), ec8 = pkcs8_of(ec), ed8 = pkcs8_of(ed), x8 = pkcs8_of(x);
    struct der rsa1 = traditional_of(rsa), ec1 = traditional_of(ec);
    struct keydecoder *kd = keydecoder_new();
    unsigned char junk[300], longer[4096];
    static const char *const types[] = {"RSA", "EC",  "ED25519", "X25519", "ED448", "X448",
                                        "DSA", "DH",  "DHX",     "SM2",    "RSA-PSS"};

    if (rsa == NULL || ec == NULL || ed == NULL || x == NULL || kd == NULL || rsa8.len <= 0 ||
        ec8.len <= 0 || ed8.len <= 0 || x8.len <= 0 || rsa1.len <= 0 || ec1.len <= 0) {
        printf("Bail out! cannot make the test keys\n");
        return 1;
    }
    memset(junk, 0x30, sizeof junk);
    memcpy(longer, rsa8.p, (size_t)rsa8.len);
    memset(longer + rsa8.len, 0, 16);

    for (int round = 0; round < 3; round++) {
        check(&t, kd, rsa8.p, (size_t)rsa8.len, "PrivateKeyInfo", NULL, rsa, "RSA PKCS#8");
        check(&t, kd, junk, sizeof junk, "PrivateKeyInfo", NULL, NULL, "junk as PKCS#8");
        check(&t, kd, ec8.p, (size_t)ec8.len, "PrivateKeyInfo", NULL, ec, "EC PKCS#8");
        check(&t, kd, ec8.p, (size_t)ec8.len / 2, "PrivateKeyInfo", NULL, NULL, "EC PKCS#8 cut");
        check(&t, kd, ed8.p, (size_t)ed8.len, "PrivateKeyInfo", NULL, ed, "Ed25519 PKCS#8");
        check(&t, kd, longer, (size_t)rsa8.len + 16, "PrivateKeyInfo", NULL, NULL,
              "RSA PKCS#8 and 16 more bytes");
        check(&t, kd, x8.p, (size_t)x8.len, "PrivateKeyInfo", NULL, x, "X25519 PKCS#8");
        check(&t, kd, rsa1.p, (size_t)rsa1.len, "type-specific", "RSA", rsa, "RSA PKCS#1");
        check(&t, kd, rsa1.p, (size_t)rsa1.len, "type-specific", "EC", NULL, "RSA PKCS#1 as EC");
        check(&t, kd, ec1.p, (size_t)ec1.len, "type-specific", "EC", ec, "EC SEC1");
        check(&t, kd, ec1.p, (size_t)ec1.len, NULL, NULL, ec, "EC SEC1, structure guessed");
        check(&t, kd, junk, sizeof junk, NULL, NULL, NULL, "junk, structure guessed");
    }
    /* Take every slot, then ask for a kind no slot holds: a one-off context. */
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        check(&t, kd, junk, 40, "type-specific", types[i], NULL, "junk, type-specific");
        check(&t, kd, junk, 40, "PrivateKeyInfo", types[i], NULL, "junk, PKCS#8 of a type");
    }
    check(&t, kd, rsa1.p, (size_t)rsa1.len, "type-specific", "RSA", rsa, "RSA PKCS#1, cached");
    check(&t, kd, ec8.p, (size_t)ec8.len, "PrivateKeyInfo", "EC", ec, "EC PKCS#8 as EC");
    check(&t, NULL, ec1.p, (size_t)ec1.len, "type-specific", "EC", ec, "EC SEC1, no cache");

    keydecoder_free(kd);
    keydecoder_free(NULL);
    OPENSSL_free(rsa8.p);
    OPENSSL_free(ec8.p);
    OPENSSL_free(ed8.p);
    OPENSSL_free(x8.p);
    OPENSSL_free(rsa1.p);
    OPENSSL_free(ec1.p);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(x);
    return tap_done(&t);
}
