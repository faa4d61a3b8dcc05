/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * keydecode.c - a per-worker cache of OpenSSL key decoder contexts (see
 * keydecode.h for the contract).
 *
 * An OSSL_DECODER_CTX made by OSSL_DECODER_CTX_new_for_pkey() writes each
 * key it decodes through the EVP_PKEY ** it was made with; here that is the
 * slot's own `out`, emptied before every decode and handed to the caller
 * after. A context is otherwise left as it was by a decode, good or bad, so
 * it can be used again. When every slot is taken, a one-off context is made
 * and freed, as without the cache.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>

#include "keydecode.h"

#define KEYDECODE_SLOTS 16

struct slot {
    const char *structure, *type; /* the caller's names (string constants) */
    int selection;
    OSSL_DECODER_CTX *ctx;        /* NULL: the slot is free */
    EVP_PKEY *out;                /* where ctx puts the key it decodes */
};

struct keydecoder {
    struct slot slot[KEYDECODE_SLOTS];
};

struct keydecoder *
keydecoder_new(void)
{
    return calloc(1, sizeof(struct keydecoder));
}

void
keydecoder_free(struct keydecoder *kd)
{
    if (kd == NULL)
        return;
    for (size_t i = 0; i < KEYDECODE_SLOTS; i++)
        OSSL_DECODER_CTX_free(kd->slot[i].ctx);
    free(kd);
}

static bool
same_name(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The slot for structure/type/selection, made on first use; NULL when every
 * slot is taken or OpenSSL cannot make the context. */
static struct slot *
slot_for(struct keydecoder *kd, const char *structure, const char *type, int selection)
{
    struct slot *s;

    for (size_t i = 0; i < KEYDECODE_SLOTS; i++) {
        s = &kd->slot[i];
        if (s->ctx == NULL)
            break;
        if (s->selection == selection && same_name(s->structure, structure) &&
            same_name(s->type, type))
            return s;
    }
    if (s->ctx != NULL)
        return NULL;
    s->ctx = OSSL_DECODER_CTX_new_for_pkey(&s->out, "DER", structure, type, selection, NULL,
                                           NULL);
    if (s->ctx == NULL)
        return NULL;
    s->structure = structure;
    s->type = type;
    s->selection = selection;
    return s;
}

/* Runs one decode with ctx, whose output goes to *out. */
static EVP_PKEY *
run(OSSL_DECODER_CTX *ctx, EVP_PKEY **out, const unsigned char *der, size_t len, size_t *used)
{
    const unsigned char *p = der;
    size_t left = len;
    EVP_PKEY *pkey;

    *out = NULL;
    if (OSSL_DECODER_from_data(ctx, &p, &left) != 1) {
        EVP_PKEY_free(*out);
        *out = NULL;
        return NULL;
    }
    pkey = *out;
    *out = NULL;
    if (used != NULL)
        *used = len - left;
    return pkey;
}

EVP_PKEY *
keydecode(struct keydecoder *kd, const unsigned char *der, size_t len, const char *structure,
          const char *type, int selection, size_t *used)
{
    EVP_PKEY *pkey = NULL;
    struct slot *s;

    ERR_set_mark();
    s = kd != NULL ? slot_for(kd, structure, type, selection) : NULL;
    if (s != NULL) {
        pkey = run(s->ctx, &s->out, der, len, used);
    } else {
        EVP_PKEY *out = NULL;
        OSSL_DECODER_CTX *ctx = OSSL_DECODER_CTX_new_for_pkey(&out, "DER", structure, type,
                                                              selection, NULL, NULL);

        if (ctx != NULL)
            pkey = run(ctx, &out, der, len, used);
        OSSL_DECODER_CTX_free(ctx);
    }
    ERR_pop_to_mark();
    return pkey;
}
