/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * openssh.h - the openssh-key-v1 private key format (PROTOCOL.key in
 * OpenSSH): "openssh-key-v1\0", cipher, KDF, KDF options, the public keys and
 * the (possibly encrypted) private section.
 *
 * Contract: openssh_parse() reads a binary blob defensively (every length is
 * bounded by the blob) and rebuilds what it can with OpenSSL: the public key
 * always, the private key when the blob is unencrypted. It never keeps or
 * prints key bytes; the caller frees the keys with openssh_key_free().
 */
#ifndef DUMPGATE_OPENSSH_H
#define DUMPGATE_OPENSSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <dumpgate/error.h>

#define OPENSSH_MAGIC "openssh-key-v1"
#define OPENSSH_MAGIC_LEN 15 /* with its NUL */

struct openssh_key {
    char cipher[32];      /* "none", "aes256-ctr", ... */
    char kdf[32];         /* "none", "bcrypt" */
    uint32_t rounds;      /* bcrypt rounds, 0 if none */
    char keytype[48];     /* "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ... */
    bool encrypted;
    EVP_PKEY *pub;        /* the public key, or NULL if its type is unknown */
    EVP_PKEY *priv;       /* the private key (unencrypted blobs), else NULL */
    unsigned proof_flags; /* KEYPROOF_PUB_STORED when priv carries the stored public key */
    size_t len;           /* bytes of the blob that belong to the key */
    char why[96];         /* why priv is NULL for an unencrypted blob */
};

/* Parses p[0..n). Returns DG_OK when the container is well formed (priv may
 * still be NULL: see why), DG_E_FORMAT otherwise. */
dg_err openssh_parse(const uint8_t *p, size_t n, struct openssh_key *out);
void openssh_key_free(struct openssh_key *k);

#endif
