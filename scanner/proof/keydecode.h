/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * keydecode.h - rebuilding keys from DER with OpenSSL's decoders, cheaply
 * when it happens often.
 *
 * OpenSSL 3.0 builds a decoder context by asking every provider for every
 * decoder that could lead to the requested key: about 600 microseconds,
 * whatever the bytes. The decode itself is 40-80. A keydecoder keeps one
 * context per (input structure, key type, selection) it has been asked for
 * and reuses it, so a detector that tries many candidates pays the setup
 * once per worker, not once per candidate.
 *
 * Contract: a keydecoder is not thread-safe; each worker owns its own.
 * keydecode() leaves nothing on the thread's error queue and keeps no key
 * bytes: the decoded key belongs to the caller, who frees it. structure and
 * type are OpenSSL's names ("PrivateKeyInfo", "type-specific", "RSA", ...) or
 * NULL to let OpenSSL try them all.
 */
#ifndef DUMPGATE_KEYDECODE_H
#define DUMPGATE_KEYDECODE_H

#include <stddef.h>

#include <openssl/evp.h>

struct keydecoder;

/* A new decoder cache, or NULL when out of memory. */
struct keydecoder *keydecoder_new(void);

/* Frees the cache and its contexts; NULL is allowed. */
void keydecoder_free(struct keydecoder *kd);

/* Decodes the DER at der (len bytes) as structure/type with the given
 * selection (EVP_PKEY_KEYPAIR, EVP_PKEY_PUBLIC_KEY, ...). Returns the key or
 * NULL. When used is not NULL it receives the count of bytes the key took
 * (a caller that wants the whole input to be the key compares it with len). */
EVP_PKEY *keydecode(struct keydecoder *kd, const unsigned char *der, size_t len,
                    const char *structure, const char *type, int selection, size_t *used);

#endif
