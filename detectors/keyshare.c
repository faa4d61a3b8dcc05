/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * keyshare.c - the `keyshare` detector: public keys sent in TLS handshakes,
 * which are never findings but evidence that the private half of each is an
 * ephemeral key (a key share made for one handshake), not a long-term key.
 * A TLS stack keeps its handshake messages in buffers (the transcript, the
 * record layer) that outlive the handshake in a process's heap; the key
 * share it generated sits beside them. Reported with dg_report_evidence
 * (DG_EVIDENCE_KEY_SHARE), named by the public key's spki_sha256.
 *
 * Forms, big-endian. TLS 1.3 (RFC 8446 4.2.8), anchored on the extension
 * type's 00 33 00 (pattern.h, 32 positions at a time):
 *   ClientHello key_share:  00 33 | ext len | shares len | { group | len | key }...
 *   ServerHello key_share:  00 33 | ext len | group | len | key
 * TLS 1.2 ECDHE (RFC 8422 5.4, 5.7), anchored on the byte before an
 * uncompressed point's length and its 04 (trigger "?? PL 04"):
 *   ServerKeyExchange:  03 (named_curve) | group | PL | point | signature
 *   ClientKeyExchange:  10 00 00 PL+1 | PL | point   (the handshake header)
 * A TLS 1.2 client's point names no group: its length does. TLS 1.2's
 * X25519/X448 exchanges are not read (their keys stay key-agreement, below
 * the gate, as in doubt). Groups: x25519 (0x001d), x448 (0x001e),
 * secp256r1/384r1/521r1 (0x0017-0x0019). An EC point must lie on its curve
 * before a key is built.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/ecgroups.h"
#include "../scanner/proof/keyproof.h"
#include "../scanner/util/pattern.h"

#define SHARE_MAX_SPAN 1024u /* a ClientHello's key_share extension, as far as it is read */

static const char *const forms[] = {"tls13-key-share", "tls12-ecdhe", NULL};

static const struct group {
    uint16_t id;
    size_t len;           /* key exchange bytes */
    const char *name;     /* for the evidence text */
    int nid;              /* EC curve, or NID_X25519 / NID_X448 */
    const char *ossl;     /* OpenSSL's group name for EC, NULL for ECX */
} groups[] = {
    {0x001d, 32, "X25519", NID_X25519, NULL},
    {0x001e, 56, "X448", NID_X448, NULL},
    {0x0017, 65, "P-256", NID_X9_62_prime256v1, "prime256v1"},
    {0x0018, 97, "P-384", NID_secp384r1, "secp384r1"},
    {0x0019, 133, "P-521", NID_secp521r1, "secp521r1"},
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

/* A worker's context is its EC group cache. */
static dg_err
keyshare_init(void *shared, void **out)
{
    (void)shared;
    *out = ecgroups_new();
    return *out != NULL ? DG_OK : DG_E_NOMEM;
}

static void
keyshare_release(void *eg)
{
    ecgroups_free(eg);
}

static unsigned
be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static const struct group *
group_by_id(unsigned id, size_t len)
{
    for (size_t i = 0; i < N_GROUPS; i++)
        if (groups[i].id == id && groups[i].len == len)
            return &groups[i];
    return NULL;
}

/* The public key of group g from the key exchange bytes, or NULL. */
static EVP_PKEY *
public_key(struct ecgroups *eg, const struct group *g, const uint8_t *key)
{
    OSSL_PARAM_BLD *b;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pc = NULL;
    EVP_PKEY *pk = NULL;

    if (g->ossl == NULL)
        return EVP_PKEY_new_raw_public_key(g->nid, NULL, key, g->len);
    if (key[0] != 0x04 || !ecgroups_on_curve(eg, g->nid, key, g->len))
        return NULL;
    if ((b = OSSL_PARAM_BLD_new()) != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, g->ossl, 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, key, g->len) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(b)) != NULL &&
        (pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
        EVP_PKEY_fromdata_init(pc) == 1)
        (void)EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(pc);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    return pk;
}

/* Records the key exchange bytes at chunk index i as a key share. */
static void
share(struct ecgroups *eg, const struct dg_chunk *ch, size_t i, const struct group *g,
      const char *where, struct dg_sink *sink)
{
    EVP_PKEY *pk;
    struct dg_key key;
    char what[120];

    ERR_set_mark();
    pk = public_key(eg, g, ch->p + i);
    memset(&key, 0, sizeof key);
    if (pk != NULL && keyproof_identity(pk, &key) == DG_OK && key.spki_sha256[0]) {
        dg_strlcpyf(what, sizeof what, "its public half is a TLS key share (%s) in %s", g->name,
                    where);
        dg_report_evidence(sink, DG_EVIDENCE_KEY_SHARE, key.spki_sha256, what, ch->off + i);
    }
    EVP_PKEY_free(pk);
    ERR_pop_to_mark();
}

/* key_share extension at chunk index i (the 00 33 type). */
static void
try_tls13(struct ecgroups *eg, const struct dg_chunk *ch, size_t i, struct dg_sink *sink)
{
    const uint8_t *p = ch->p + i;
    size_t avail = ch->len - i, ext, shares;
    const struct group *g;

    if (avail < 8)
        return;
    ext = be16(p + 2);
    /* ServerHello: one share */
    if (ext >= 36 && ext + 4 <= avail && (g = group_by_id(be16(p + 4), be16(p + 6))) != NULL &&
        ext == g->len + 4) {
        share(eg, ch, i + 8, g, "a ServerHello", sink);
        return;
    }
    /* ClientHello: a list of shares */
    shares = be16(p + 4);
    if (shares + 2 != ext || shares < 36 || ext + 4 > avail)
        return;
    for (size_t k = 6; k + 4 <= 6 + shares;) {
        unsigned id = be16(p + k);
        size_t len = be16(p + k + 2);

        if (k + 4 + len > 6 + shares)
            return;
        if ((g = group_by_id(id, len)) != NULL)
            share(eg, ch, i + k + 4, g, "a ClientHello", sink);
        k += 4 + len;
    }
}

/* The EC group whose uncompressed points are len bytes long, or NULL. */
static const struct group *
ec_group_by_len(size_t len)
{
    for (size_t i = 0; i < N_GROUPS; i++)
        if (groups[i].ossl != NULL && groups[i].len == len)
            return &groups[i];
    return NULL;
}

/* TLS 1.2 ECDHE at chunk index k, if any: p[k] is the byte before an EC
 * point's length PL = p[k + 1] (which names the group), and p[k + 2] = 04
 * starts the point. Only messages that start before ch->owned are read. */
static void
try_tls12(struct ecgroups *eg, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    const struct group *g;

    if (k + 2 >= ch->len || p[k + 2] != 0x04 || (g = ec_group_by_len(p[k + 1])) == NULL ||
        k + 2 + g->len > ch->len)
        return;
    if (k >= 3 && k - 3 < ch->owned && p[k] == g->len + 1 && p[k - 3] == 0x10 && p[k - 2] == 0 &&
        p[k - 1] == 0)
        share(eg, ch, k + 2, g, "a TLS 1.2 ClientKeyExchange", sink);
    else if (k >= 2 && k - 2 < ch->owned && p[k - 2] == 0x03 && p[k - 1] == 0 && p[k] == g->id)
        share(eg, ch, k + 2, g, "a TLS 1.2 ServerKeyExchange", sink);
}

/* 00 33 00 LL: a key_share extension's type and the high byte of its length */
static const uint8_t anchor[3] = {0x00, 0x33, 0x00};

#if DG_HAVE_AVX2
/* The anchors at i .. stop, 32 positions at a time while their bytes are in
 * the chunk; returns where it stopped. */
DG_TARGET_AVX2 static size_t
scan_avx2(struct ecgroups *eg, const struct dg_chunk *ch, size_t i, size_t stop,
          struct dg_sink *sink)
{
    for (; i < stop && i + 32 + sizeof anchor <= ch->len; i += 32)
        for (uint32_t m = pattern_mask32(ch->p + i, anchor, sizeof anchor); m != 0; m &= m - 1) {
            size_t k = i + (size_t)__builtin_ctz(m);

            if (k >= stop)
                break;
            if (k + 8 <= ch->len)
                try_tls13(eg, ch, k, sink);
        }
    return i;
}
#endif

static dg_err
keyshare_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ecgroups *eg = vctx;
    size_t i = 0, stop = ch->owned; /* a match starts in p[0..owned) */

    if (ch->hits != NULL) { /* the engine found the anchors */
        struct dg_hit_iter it = {0};

        /* a TLS 1.2 anchor lies 2 or 3 bytes into a message owned here */
        for (size_t k; (k = dg_hits_next(ch, &it)) < stop + 3;) {
            if (k < stop && k + 8 <= ch->len && memcmp(ch->p + k, anchor, sizeof anchor) == 0)
                try_tls13(eg, ch, k, sink);
            try_tls12(eg, ch, k, sink);
        }
        return DG_OK;
    }
#if DG_HAVE_AVX2
    if (dg_cpu_avx2())
        i = scan_avx2(eg, ch, i, stop, sink);
#endif
    for (; i < stop && i + 8 <= ch->len; i++)
        if (memcmp(ch->p + i, anchor, sizeof anchor) == 0)
            try_tls13(eg, ch, i, sink);
    /* TLS 1.2: each 04 (memchr) that follows a point's length */
    {
        size_t end = stop + 5 < ch->len ? stop + 5 : ch->len; /* the 04 of k < stop + 3 */
        const uint8_t *q = ch->p + 2;

        while (q < ch->p + end && (q = memchr(q, 0x04, (size_t)(ch->p + end - q))) != NULL) {
            try_tls12(eg, ch, (size_t)(q - ch->p) - 2, sink);
            q++;
        }
    }
    return DG_OK;
}

/* 00 33 00, and ?? PL 04 for PL = 65, 97, 133 (P-256, P-384, P-521) */
static const struct dg_trigger triggers[] = {{3, {0x00, 0x33, 0x00}, 0},
                                             {3, {0x00, 0x41, 0x04}, 1},
                                             {3, {0x00, 0x61, 0x04}, 1},
                                             {3, {0x00, 0x85, 0x04}, 1},
                                             {0, {0}, 0}};

const struct dg_detector dg_detector_keyshare = {
    .abi = DG_DETECTOR_ABI,
    .name = "keyshare",
    .summary = "public keys sent in TLS handshakes (never findings): mark the private half "
               "of each as an ephemeral key share",
    .forms = forms,
    .severity = DG_SEV_NONE,
    .max_span = SHARE_MAX_SPAN,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .init = keyshare_init,
    .scan = keyshare_scan,
    .release = keyshare_release,
    .triggers = triggers,
};
