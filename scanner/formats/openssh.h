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

/* Rebuilds the public key of an SSH wire-format public key blob (the base64
 * part of an authorized_keys line, decoded): ssh-ed25519, ssh-rsa,
 * ecdsa-sha2-nistp256/384/521. Copies the key type name into keytype.
 * Returns DG_OK and a new key in *out, or DG_E_FORMAT. */
dg_err openssh_public_blob(const uint8_t *p, size_t n, char *keytype, size_t kt_len,
                           EVP_PKEY **out);

/* Rebuilds the private key of a PuTTY PPK file (PuTTY manual, appendix C)
 * from its public blob (SSH wire public key) and its unencrypted private
 * blob: ssh-rsa (mpint d, p, q, iqmp; n and e from the public blob),
 * ssh-ed25519 (string seed), ecdsa-sha2-nistp256/384/521 (mpint d). Copies
 * the key type name into keytype. Returns DG_OK and a new key in *out, with
 * KEYPROOF_PUB_STORED in *proof_flags when the key carries the stored public
 * key; DG_E_UNSUPPORTED for other key types; DG_E_FORMAT when a blob does not
 * parse. Temporaries holding secrets are cleared. */
dg_err openssh_ppk_private(const uint8_t *pub, size_t pub_len, const uint8_t *priv,
                           size_t priv_len, char *keytype, size_t kt_len, EVP_PKEY **out,
                           unsigned *proof_flags);

/* Rebuilds the private key in p[0..n) as OpenSSH's sshkey_private_serialize()
 * writes it (the agent protocol's and the shielded in-memory form; the
 * private section of openssh-key-v1 after its check words): string keytype,
 * then ssh-ed25519: pk(32) sk(64); ssh-rsa: n e d iqmp p q;
 * ecdsa-sha2-nistp*: curve Q d; ssh-dss: p q g y x. Copies the key type name
 * into keytype (also on failure, once it was read). On DG_OK *out is a new
 * private key, *proof_flags is KEYPROOF_PUB_STORED when the key carries its
 * stored public half, and *used counts the bytes read (padding may follow).
 * DG_E_UNSUPPORTED for other types (certificates, security keys),
 * DG_E_FORMAT when the name or the fields do not parse. Keeps no key bytes. */
dg_err openssh_private_serial(const uint8_t *p, size_t n, char *keytype, size_t kt_len,
                              EVP_PKEY **out, unsigned *proof_flags, size_t *used);

#endif
