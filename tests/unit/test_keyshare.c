/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_keyshare.c - unit test of the keyshare detector's TLS 1.2 messages
 * searched without the engine's trigger hits (TAP output): the path a CPU
 * without AVX2, or a chunk with more hits than the engine keeps, takes.
 *
 * Makes P-256, P-384 and P-521 keys with OpenSSL at run time and lays their
 * public points in random bytes as RFC 8422 gives them: a ClientKeyExchange
 * (10 | len24 | point length | point), a ServerKeyExchange (0c | len24 | 03
 * | group | point length | point | signature), and, for a fourth key, the
 * same point behind a header that is neither. The detector's scan() is
 * called directly (dg_chunk.hits NULL), over the whole buffer and over
 * small chunks whose edges cut the messages. Checks: each of the three keys
 * is named as a key share exactly once by its spki_sha256 (compared with
 * keyproof_identity() of the original key); the fourth never is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <dumpgate/detector.h>

#include "../../scanner/proof/keyproof.h"
#include "tap.h"

extern const struct dg_detector dg_detector_keyshare;

/* ---- stubbed engine services ---- */

#define MAX_SEEN 32

struct dg_sink {
    char seen[MAX_SEEN][65];
    size_t n;
    size_t other; /* evidence of another kind */
};

void
dg_report_evidence(struct dg_sink *sink, enum dg_evidence kind, const char *hash,
                   const char *what, uint64_t off)
{
    (void)what;
    (void)off;
    if (kind != DG_EVIDENCE_KEY_SHARE)
        sink->other++;
    else if (sink->n < MAX_SEEN)
        snprintf(sink->seen[sink->n++], sizeof sink->seen[0], "%s", hash);
}

void
dg_report(struct dg_sink *sink, const struct dg_finding *f)
{
    (void)f;
    sink->other++;
}

void
dg_sink_warn(struct dg_sink *sink, uint64_t off, const char *fmt, ...)
{
    (void)sink;
    (void)off;
    (void)fmt;
}

/* Never called: every chunk here has no hits. */
size_t
dg_hits_next(const struct dg_chunk *ch, struct dg_hit_iter *it)
{
    (void)ch;
    (void)it;
    abort();
}

/* ---- keys and messages ---- */

struct key {
    const char *curve;
    unsigned group; /* TLS NamedGroup */
    uint8_t point[133];
    size_t len;
    char spki[65];
};

static int
make_key(struct key *k)
{
    EVP_PKEY *pk = EVP_EC_gen(k->curve);
    struct dg_key id;
    int good;

    memset(&id, 0, sizeof id);
    good = pk != NULL &&
           EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->point,
                                           sizeof k->point, &k->len) == 1 &&
           k->point[0] == 0x04 && keyproof_identity(pk, &id) == DG_OK && id.spki_sha256[0];
    if (good)
        memcpy(k->spki, id.spki_sha256, sizeof k->spki);
    EVP_PKEY_free(pk);
    return good;
}

/* Writes a ClientKeyExchange of k at p; returns its length. */
static size_t
client_key_exchange(uint8_t *p, const struct key *k)
{
    size_t body = 1 + k->len;

    p[0] = 0x10;
    p[1] = 0;
    p[2] = 0;
    p[3] = (uint8_t)body;
    p[4] = (uint8_t)k->len;
    memcpy(p + 5, k->point, k->len);
    return 4 + body;
}

/* Writes a ServerKeyExchange of k (a 64-byte signature of random bytes) at
 * p; returns its length. */
static size_t
server_key_exchange(uint8_t *p, const struct key *k)
{
    size_t body = 4 + k->len + 4 + 64;

    p[0] = 0x0c;
    p[1] = 0;
    p[2] = (uint8_t)(body >> 8);
    p[3] = (uint8_t)body;
    p[4] = 0x03;
    p[5] = (uint8_t)(k->group >> 8);
    p[6] = (uint8_t)k->group;
    p[7] = (uint8_t)k->len;
    memcpy(p + 8, k->point, k->len);
    p[8 + k->len] = 0x04; /* SHA-256 */
    p[9 + k->len] = 0x03; /* ECDSA */
    p[10 + k->len] = 0;
    p[11 + k->len] = 64;
    RAND_bytes(p + 12 + k->len, 64);
    return 4 + body;
}

/* Scans buf[0..len) in chunks of `chunk` owned bytes plus the detector's
 * margin, without trigger hits; the evidence lands in sink. */
static void
run(const uint8_t *buf, size_t len, size_t chunk, struct dg_sink *sink)
{
    void *ctx = NULL;

    memset(sink, 0, sizeof *sink);
    if (dg_detector_keyshare.init(NULL, &ctx) != DG_OK)
        return;
    for (size_t off = 0; off < len; off += chunk) {
        size_t owned = len - off < chunk ? len - off : chunk;
        size_t have = len - off < chunk + dg_detector_keyshare.max_span
                          ? len - off
                          : chunk + dg_detector_keyshare.max_span;
        struct dg_chunk ch = {.p = buf + off, .len = have, .owned = owned, .off = off,
                              .last = off + have == len};

        dg_detector_keyshare.scan(ctx, &ch, sink);
    }
    dg_detector_keyshare.release(ctx);
}

static size_t
count(const struct dg_sink *s, const char *spki)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        n += strcmp(s->seen[i], spki) == 0;
    return n;
}

int
main(void)
{
    struct key keys[4] = {
        {.curve = "P-256", .group = 0x0017},
        {.curve = "P-384", .group = 0x0018},
        {.curve = "P-521", .group = 0x0019},
        {.curve = "P-256", .group = 0x0017}, /* behind headers that are neither */
    };
    enum { LEN = 1 << 16 };
    uint8_t *buf = malloc(LEN);
    size_t at[3] = {1001, 20003, 40005}, n;
    struct dg_sink sink;
    struct tap t = {0};

    printf("TAP version 13\n");
    for (int i = 0; i < 4; i++)
        if (!make_key(&keys[i])) {
            printf("Bail out! OpenSSL made no %s key\n", keys[i].curve);
            return 1;
        }
    if (buf == NULL || RAND_bytes(buf, LEN) != 1) {
        printf("Bail out! no buffer\n");
        return 1;
    }
    client_key_exchange(buf + at[0], &keys[0]);
    server_key_exchange(buf + at[1], &keys[1]);
    client_key_exchange(buf + at[2], &keys[2]);
    /* the fourth: a handshake type that is not ClientKeyExchange, and a
     * curve type that is not named_curve */
    n = client_key_exchange(buf + 50007, &keys[3]);
    buf[50007] = 0x11;
    server_key_exchange(buf + 50007 + n + 9, &keys[3]);
    buf[50007 + n + 9 + 4] = 0x01;

    run(buf, LEN, LEN, &sink);
    for (int i = 0; i < 3; i++)
        tap_check(&t, count(&sink, keys[i].spki) == 1, "%s %s named once in one chunk", keys[i].curve,
           i == 1 ? "ServerKeyExchange" : "ClientKeyExchange");
    tap_check(&t, count(&sink, keys[3].spki) == 0, "a point without its message names nothing");
    tap_check(&t, sink.other == 0, "no finding, no other evidence");

    /* chunk edges 0 to 7 bytes into each message, and inside its point */
    for (size_t cut = 0; cut < 8; cut++) {
        size_t chunk = at[0] + cut, bad = 0;

        run(buf, LEN, chunk, &sink);
        for (int i = 0; i < 3; i++)
            bad += count(&sink, keys[i].spki) != 1;
        tap_check(&t, bad == 0 && count(&sink, keys[3].spki) == 0,
           "chunks of %zu bytes (an edge %zu bytes into the first message): each key once",
           chunk, cut);
    }
    free(buf);
    return tap_done(&t);
}
