/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * jwk.h - JSON Web Keys as OpenSSL keys (see jwk.c).
 *
 * Contract: every function takes a parsed jansson object and never keeps
 * pointers into it. Keys returned are new EVP_PKEYs the caller frees.
 * Decoded members land in a caller's struct jwk_buf, which the caller
 * cleanses when it held a secret.
 */
#ifndef DUMPGATE_FORMATS_JWK_H
#define DUMPGATE_FORMATS_JWK_H

#include <jansson.h>
#include <openssl/evp.h>

#define JWK_MAX_MEMBER 2048 /* decoded bytes of one member (RSA-16384) */

struct jwk_buf {
    unsigned char b[JWK_MAX_MEMBER + 4];
};

/* Base64url-decodes member name of o into c->b; returns the byte count, or -1
 * when absent, empty, too long or not base64url. */
int jwk_member(struct jwk_buf *c, const json_t *o, const char *name);

/* RFC 7638 thumbprint of o (base64url SHA-256, no padding), "" if o lacks the
 * required members. */
void jwk_thumbprint(const json_t *o, char out[48]);

/* The private key of o, or NULL; *flags gets KEYPROOF_PUB_STORED when o
 * also carried the public members (so the proof compares against them). */
EVP_PKEY *jwk_private_key(const json_t *o, unsigned *flags);

/* The public key of o (RSA n/e, EC crv/x/y, OKP crv/x), or NULL. */
EVP_PKEY *jwk_public_key(const json_t *o);

#endif
