/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_keyproof.c - the memo of proofs: a key met again (a dump holds many
 * copies) is answered from the memo with the first proof's result and text,
 * and never for a different key. Keys are made with OpenSSL at run time:
 * an RSA-2048 key proven three times is remembered once; an EC key built
 * from its scalar with its own public point proves, and the same scalar
 * with another key's public point (the stored point is part of what the memo
 * names) fails, before and after the good one is remembered; the same EC key
 * without KEYPROOF_PUB_STORED is a separate entry; an Ed25519 and an X25519
 * key made of the same 32 bytes are two entries with their own identities;
 * a remembered key on the allow list is named, not answered from the memo.
 * Without a memo every copy is proven, with the same results. An RSA key's
 * primes pass the Miller-Rabin rounds FIPS 186-5 asks for their size: 5 for
 * RSA-2048's, 4 for RSA-3072's, 10 for RSA-1024's (below the table).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "../../scanner/proof/keyproof.h"
#include "tap.h"

static BIGNUM *
scalar_of(const EVP_PKEY *k)
{
    BIGNUM *d = NULL;

    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d);
    return d;
}

static size_t
point_of(const EVP_PKEY *k, uint8_t *buf, size_t len)
{
    size_t n = 0;

    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, buf, len, &n) != 1)
        return 0;
    return n;
}

static bool
allow_all(const void *arg, const char *spki_sha256, char *note, size_t note_len)
{
    (void)arg;
    (void)spki_sha256;
    snprintf(note, note_len, "test");
    return true;
}

static bool
same_identity(const struct dg_key *a, const struct dg_key *b)
{
    return strcmp(a->algorithm, b->algorithm) == 0 && a->bits == b->bits &&
           strcmp(a->curve, b->curve) == 0 && strcmp(a->spki_sha256, b->spki_sha256) == 0;
}

/* An EC P-256 key made of a's scalar and b's public point. */
static EVP_PKEY *
mixed(const EVP_PKEY *a, const EVP_PKEY *b)
{
    uint8_t pub[133];
    size_t n = point_of(b, pub, sizeof pub);
    BIGNUM *d = scalar_of(a);
    EVP_PKEY *k = NULL;

    if (n == 0 || d == NULL || keyproof_ec_from_scalar("prime256v1", d, pub, n, &k) != DG_OK)
        k = NULL;
    BN_clear_free(d);
    return k;
}

int
main(void)
{
    struct tap t = {0};
    struct keyproof_memo *memo = keyproof_memo_new();
    struct dg_proof_policy pol = {.memo = memo};
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *ec1 = EVP_EC_gen("P-256"), *ec2 = EVP_EC_gen("P-256");
    EVP_PKEY *good = ec1 != NULL ? mixed(ec1, ec1) : NULL;
    EVP_PKEY *bad = ec1 != NULL && ec2 != NULL ? mixed(ec1, ec2) : NULL;
    static const uint8_t raw[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    EVP_PKEY *ed = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, sizeof raw);
    EVP_PKEY *x = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, raw, sizeof raw);
    struct dg_key key, first_key, ed_key, x_key;
    char proof[112], first[112];
    dg_err rc;

    if (!tap_check(&t, memo != NULL && rsa != NULL && good != NULL && bad != NULL &&
                           ed != NULL && x != NULL,
                   "memo and keys made"))
        return tap_done(&t);

    memset(&first_key, 0, sizeof first_key);
    rc = keyproof_prove(&pol, rsa, 0, &first_key, first, sizeof first);
    tap_check(&t, rc == DG_OK && keyproof_memo_count(memo) == 1 &&
                      strstr(first, "p and q probable primes (5 rounds)") != NULL,
              "RSA-2048 proven: %s", first);
    {
        static const struct {
            unsigned bits;
            const char *rounds;
        } size[] = {{1024, "(10 rounds)"}, {3072, "(4 rounds)"}};

        for (size_t i = 0; i < sizeof size / sizeof size[0]; i++) {
            EVP_PKEY *k = EVP_RSA_gen(size[i].bits);

            memset(&key, 0, sizeof key);
            rc = k != NULL ? keyproof_prove(NULL, k, 0, &key, proof, sizeof proof) : DG_E_NOMEM;
            tap_check(&t, rc == DG_OK && strstr(proof, size[i].rounds) != NULL,
                      "RSA-%u proven, its primes with %s: %s", size[i].bits, size[i].rounds,
                      rc == DG_OK ? proof : "not made");
            EVP_PKEY_free(k);
        }
    }
    for (int i = 0; i < 2; i++) {
        memset(&key, 0, sizeof key);
        rc = keyproof_prove(&pol, rsa, 0, &key, proof, sizeof proof);
        tap_check(&t,
                  rc == DG_OK && strcmp(proof, first) == 0 && key.bits == 2048 &&
                      key.spki_sha256[0] != '\0' && same_identity(&key, &first_key) &&
                      keyproof_memo_count(memo) == 1,
                  "the same key again: the memo's answer, with its identity, still one entry");
    }
    {
        struct dg_proof_policy allow = {.memo = memo, .allowed = allow_all};

        rc = keyproof_prove(&allow, rsa, 0, &key, proof, sizeof proof);
        tap_check(&t,
                  rc == DG_E_UNSUPPORTED && strstr(proof, "allowed (test)") != NULL &&
                      same_identity(&key, &first_key),
                  "the remembered key on the allow list: named, not proven (%s)", proof);
    }

    rc = keyproof_prove(&pol, bad, KEYPROOF_PUB_STORED, &key, proof, sizeof proof);
    tap_check(&t, rc == DG_E_FORMAT, "EC scalar with another key's stored point: fails (%s)",
              proof);
    rc = keyproof_prove(&pol, good, KEYPROOF_PUB_STORED, &key, proof, sizeof proof);
    tap_check(&t, rc == DG_OK, "the same scalar with its own point: proven (%s)", proof);
    rc = keyproof_prove(&pol, bad, KEYPROOF_PUB_STORED, &key, proof, sizeof proof);
    tap_check(&t, rc == DG_E_FORMAT, "the bad one again: still fails, from its own entry");
    rc = keyproof_prove(&pol, good, 0, &key, proof, sizeof proof);
    tap_check(&t, rc == DG_OK && keyproof_memo_count(memo) == 4,
              "the good one without PUB_STORED: proven, a separate entry (%zu entries)",
              keyproof_memo_count(memo));

    memset(&ed_key, 0, sizeof ed_key);
    memset(&x_key, 0, sizeof x_key);
    rc = keyproof_prove(&pol, ed, 0, &ed_key, proof, sizeof proof);
    tap_check(&t, rc == DG_OK && strcmp(ed_key.algorithm, "Ed25519") == 0,
              "Ed25519 proven: %s", proof);
    rc = keyproof_prove(&pol, x, 0, &x_key, proof, sizeof proof);
    tap_check(&t,
              rc == DG_OK && strcmp(x_key.algorithm, "X25519") == 0 &&
                  strcmp(x_key.spki_sha256, ed_key.spki_sha256) != 0 &&
                  keyproof_memo_count(memo) == 6,
              "X25519 of the same 32 bytes: its own entry and identity (%zu entries)",
              keyproof_memo_count(memo));
    rc = keyproof_prove(&pol, ed, 0, &key, proof, sizeof proof);
    tap_check(&t, rc == DG_OK && same_identity(&key, &ed_key) && keyproof_memo_count(memo) == 6,
              "Ed25519 again: the memo's Ed25519 identity");

    pol.memo = NULL;
    rc = keyproof_prove(&pol, rsa, 0, &key, proof, sizeof proof);
    tap_check(&t, rc == DG_OK && strcmp(proof, first) == 0, "no memo: proven again, same text");
    rc = keyproof_prove(&pol, bad, KEYPROOF_PUB_STORED, &key, proof, sizeof proof);
    tap_check(&t, rc == DG_E_FORMAT, "no memo: the bad EC key fails");

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec1);
    EVP_PKEY_free(ec2);
    EVP_PKEY_free(good);
    EVP_PKEY_free(bad);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(x);
    keyproof_memo_free(memo);
    return tap_done(&t);
}
