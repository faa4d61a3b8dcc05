/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * keyproof.h - proving private keys with OpenSSL and naming them.
 *
 * Every detector that rebuilds a key hands the EVP_PKEY to keyproof_prove(),
 * so "confirmed" means the same thing everywhere: RSA p*q = n, e*d = 1 modulo
 * p-1 and q-1, the CRT values, and probable-prime factors; EC d*G = Q and
 * 0 < d < order; EdDSA/XDH public key derived from the private key equals the
 * stored one; DSA y = g^x mod p. Identity (algorithm, bits, curve and the
 * SHA-256 of the DER SubjectPublicKeyInfo) comes from keyproof_identity(),
 * which also works for public keys. Nothing here prints or keeps key bytes;
 * temporaries holding secrets are cleared before they are freed.
 */
#ifndef DUMPGATE_KEYPROOF_H
#define DUMPGATE_KEYPROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <dumpgate/detector.h>
#include <dumpgate/error.h>
#include <dumpgate/finding.h>

/* The scan's proof policy (dg_config.proof). Cheap identity comes first:
 * keyproof_prove() computes the key's spki_sha256 before any proof and, when
 * allowed() says the key is on the scan's allow list, names it and stops
 * there, so an allowed key never costs a proof. A proof that runs longer
 * than KEYPROOF_PROGRESS_AFTER seconds calls progress() about once a second
 * from the proving thread (any thread of the scan). Either may be NULL. */
#define KEYPROOF_PROGRESS_AFTER 2
struct keyproof_memo;
struct dg_proof_policy {
    /* true if the key is allowed; its note (the allow list's comment) goes
     * into note */
    bool (*allowed)(const void *arg, const char *spki_sha256, char *note, size_t note_len);
    const void *allowed_arg;
    /* a proof of a bits-bit key of the algorithm has run for `seconds` */
    void (*progress)(void *arg, const char *algorithm, int bits, unsigned seconds);
    void *progress_arg;
    /* proofs already done under this policy, or NULL (keyproof_memo_new()) */
    struct keyproof_memo *memo;
    /* a private key proved (DG_OK), at each copy, from the proving thread:
     * pkey (the caller's; up-ref it to keep it) and its identity. For
     * `redact`, which overwrites the key's numbers wherever they are. NULL:
     * none. */
    void (*proven)(void *arg, const EVP_PKEY *pkey, const struct dg_key *key);
    void *proven_arg;
};

/* A memo of proofs, safe to share between threads: keyproof_prove() proves
 * a private key once and answers every later copy of the same key (the same
 * type, parameters and flags: a dump holds the same key many times) from the
 * memo, with the same identity, result and proof text. It keeps a SHA-256 of
 * each key's parameters and the key's public identity, never the key; it
 * holds at most KEYPROOF_MEMO_KEYS keys and proves further keys without
 * remembering them. */
#define KEYPROOF_MEMO_KEYS 3072u
struct keyproof_memo *keyproof_memo_new(void);
void keyproof_memo_free(struct keyproof_memo *memo);
/* Keys remembered (each proven once). */
size_t keyproof_memo_count(struct keyproof_memo *memo);

/* create() and destroy() of a detector whose workers share nothing but the
 * scan's proof policy: *shared becomes a `const struct dg_proof_policy *`
 * (NULL when cfg has none) held in a small allocation; read it with
 * keyproof_policy_of(shared). */
dg_err keyproof_policy_create(const struct dg_config *cfg, void **shared);
void keyproof_policy_destroy(void *shared);
const struct dg_proof_policy *keyproof_policy_of(const void *shared);

/* True when keyproof_prove() returned rc after naming the key without a
 * proof (a published test key, or one on the allow list): the key is known by
 * its public half, and a detector reports it as a candidate like any key that
 * does not prove. */
static inline bool
keyproof_named(dg_err rc, const struct dg_key *key)
{
    return rc == DG_E_UNSUPPORTED && key->spki_sha256[0] != '\0';
}

/* Flags for keyproof_prove(). */
#define KEYPROOF_PUB_STORED 1u /* the encoding carried the public key (EC Q,
                                  Ed/X public): compare against it */

/* Proves the private key pkey under policy pol (NULL: no allow list, no
 * progress). On DG_OK, *key holds its identity and proof (size proof_len)
 * says what was checked. On DG_E_FORMAT the math does not hold and proof
 * says which relation failed; on DG_E_UNSUPPORTED the algorithm has no proof
 * here, or the key is a published test key or on pol's allow list (then
 * *key holds its identity and proof says so); on DG_E_LIMIT the proof ran
 * out of its time budget. Never prints. */
dg_err keyproof_prove(const struct dg_proof_policy *pol, const EVP_PKEY *pkey, unsigned flags,
                      struct dg_key *key, char *proof, size_t proof_len);

/* The published test keys compiled into `openssl` and `gnutls-cli`: the i-th
 * key's spki_sha256 (NULL past the last), and what it is in what. Such a
 * key is never proven: keyproof_prove() names it and returns
 * DG_E_UNSUPPORTED with the reason in proof. */
size_t keyproof_test_key_count(void);
const char *keyproof_test_key(size_t i, char *what, size_t what_len);

/* Fills algorithm, bits, curve and spki_sha256 of a public or private key. */
dg_err keyproof_identity(const EVP_PKEY *pkey, struct dg_key *key);

/* The other name of an RSA-PSS key (id-RSASSA-PSS): the spki_sha256 its
 * modulus and exponent have as an rsaEncryption key, into out. A key found
 * as raw numbers is named so (its limbs do not say PSS), so a list of known
 * keys names a PSS key by both. DG_E_UNSUPPORTED for any other key. */
dg_err keyproof_rsa_alias(const EVP_PKEY *pkey, char out[65]);

/* The spki_sha256 of the public key in the DER SubjectPublicKeyInfo
 * der[0..len) (a certificate's): the hash of what keyproof_identity() would
 * encode, into out. When der is already that encoding (DER throughout; RSA,
 * EC on P-256, P-384 or P-521, Ed25519 or Ed448), it is hashed as it is,
 * without building the key (OpenSSL's decoder and encoder cost about 160 us
 * a key, and a trust store holds hundreds); otherwise the key is decoded
 * and keyproof_identity() names it. DG_E_FORMAT when it cannot be decoded. */
dg_err keyproof_spki_sha256(const unsigned char *der, size_t len, char out[65]);

/* Writes the lowercase hex SHA-256 of data into out (65 bytes with the NUL). */
void keyproof_sha256_hex(const void *data, size_t len, char out[65]);

/* Builds an RSA private key from primes p and q and public exponent e. The
 * modulus is p*q; d is e^-1 mod lcm(p-1, q-1); dP, dQ and qInv are derived.
 * Returns DG_OK and a new key in *out (caller frees with EVP_PKEY_free),
 * DG_E_FORMAT if e is not invertible, DG_E_CRYPTO on OpenSSL failure. */
dg_err keyproof_rsa_from_primes(const BIGNUM *p, const BIGNUM *q, const BIGNUM *e,
                                EVP_PKEY **out);

/* Builds an RSA private key from n, e, d and optional p, q (NULL when absent;
 * then CRT values are not set). Same returns as keyproof_rsa_from_primes. */
dg_err keyproof_rsa_from_components(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
                                    const BIGNUM *p, const BIGNUM *q, EVP_PKEY **out);

/* Builds an EC private key on the named curve (OpenSSL group name, e.g.
 * "prime256v1") from scalar d and, when pub/pub_len are given, the stored
 * public point (octet string); otherwise the public point is d*G. */
dg_err keyproof_ec_from_scalar(const char *group, const BIGNUM *d, const uint8_t *pub,
                               size_t pub_len, EVP_PKEY **out);

/* Builds a DSA private key from the domain parameters p, q, g, the public
 * value y and the private value x, as stored (keyproof_prove() then checks
 * y = g^x mod p and 0 < x < q). Returns DG_OK and a new key in *out,
 * DG_E_CRYPTO when OpenSSL refuses the numbers. */
dg_err keyproof_dsa_from_components(const BIGNUM *p, const BIGNUM *q, const BIGNUM *g,
                                    const BIGNUM *y, const BIGNUM *x, EVP_PKEY **out);

/* Builds an Ed25519/Ed448/X25519/X448 key (OpenSSL key type name, e.g.
 * "ED25519") from its raw private key and, when pub/pub_len are given, the
 * stored raw public key, which keyproof_prove() then checks against the one
 * the private key gives. Returns DG_OK and a new key in *out, DG_E_CRYPTO
 * when OpenSSL refuses the bytes. */
dg_err keyproof_ecx_from_raw(const char *type, const uint8_t *priv, size_t priv_len,
                             const uint8_t *pub, size_t pub_len, EVP_PKEY **out);

/* Maps an OpenSSL group name to the JWK/NIST name ("prime256v1" -> "P-256");
 * returns the input when there is none. */
const char *keyproof_curve_name(const char *group);

/* Builds an RSA private key from all eight stored components, so that
 * keyproof_prove() checks the stored dP, dQ and qInv too (CNG RSA3, CAPI
 * PRIVATEKEYBLOB). Same returns as keyproof_rsa_from_primes. */
dg_err keyproof_rsa_from_crt(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p,
                             const BIGNUM *q, const BIGNUM *dp, const BIGNUM *dq,
                             const BIGNUM *qi, EVP_PKEY **out);

/* Builds an RSA public key from n and e, to name a key whose private half
 * does not prove. Returns DG_OK and a new key in *out, or DG_E_CRYPTO. */
dg_err keyproof_rsa_public(const BIGNUM *n, const BIGNUM *e, EVP_PKEY **out);

/* The finding type for a private key of the given algorithm ("RSA" ->
 * "rsa-private-key", "Ed25519" -> "ed25519-private-key"; else "private-key"). */
const char *keyproof_type_name(const char *algorithm);

/* Proves pkey into f under policy pol: identity, proof text and type;
 * confirmed/high when the math holds, otherwise a medium candidate whose note
 * says which relation failed, or that the key was named without a proof (an
 * allowed or published test key). Returns keyproof_prove()'s result. The one
 * verdict every detector that rebuilds a key uses. */
dg_err keyproof_prove_finding(const struct dg_proof_policy *pol, const EVP_PKEY *pkey,
                              unsigned flags, struct dg_finding *f);

/* Names the scheme, KDF and cipher of a DER EncryptedPrivateKeyInfo into
 * note ("encrypted PKCS#8 (PBES2: PBKDF2, aes-256-cbc)"); false when der is
 * not one. */
bool keyproof_describe_encrypted_pkcs8(const unsigned char *der, size_t len, char *note,
                                       size_t n);

#endif
