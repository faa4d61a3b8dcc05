/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * redact.c - `dumpgate redact IN -o OUT`: a same-size copy of a dump with
 * every key at or above --fail-on overwritten, proven clean by a re-scan.
 *
 * IN is scanned with the scan options; every finding at or above --fail-on
 * that is not allowed names a key to redact. Its spans (the finding and every
 * copy the engine grouped with it) are overwritten. For a key whose proof
 * rebuilt it, keyproof's `proven` hook hands over the EVP_PKEY: each private
 * number (RSA d, p, q, dP, dQ, qInv; EC and DSA private scalars; the raw
 * EdDSA/XDH private key) is derived in the forms processes keep it
 * (big-endian bytes, little-endian bytes and limbs, Java int[] words,
 * base64url) and searched for in the whole of IN, so that copies no detector
 * reported go too. The modulus and public exponent are public and stay. A
 * PEM block keeps its armour lines and a JWK its JSON (narrow_text_spans).
 *
 * OUT is written under a temporary name in its directory (O_EXCL, 0600),
 * streamed block by block from IN with the spans filled with FILL, fsynced,
 * re-scanned with the same options, and renamed only when neither a redacted
 * key nor anything at or above --fail-on is found in it (an unproven
 * candidate below --fail-on lying wholly on fill is residual: reported, not
 * failing). A re-scan that still finds something adds its spans and
 * rewrites the copy, at most REDACT_ROUNDS times in all; then the command
 * fails and OUT is not written. The report
 * OUT.redact.jsonl (fingerprints, roles, spans; never key bytes) goes beside
 * OUT. IN is only read. A compressed IN (zstd, lz4, xz, gzip, bzip2) is
 * redacted on its plain bytes and OUT written back in its compression, an
 * apport report as a report (recompress.h).
 * What and why: docs/REDACT.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pread, mkostemp, asprintf (meson defines it too) */
#endif
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <dumpgate/dumpgate.h>

#include "../engine/identity.h"
#include "../engine/scan.h"
#include "../engine/verdict.h"
#include "../input/decompress.h"
#include "../util/fdio.h"
#include "../util/grow.h"
#include "../util/iobuf.h"
#include "recompress.h"
#include "../proof/keyproof.h"
#include "redact.h"

#define EXIT_CLEAN 0
#define EXIT_ERROR 2

/* The fill, repeated from the first byte of each span. Brackets are neither
 * base64 nor hex nor JSON syntax inside a string; ten bytes of eight
 * distinct values are no number, schedule or PEM body any detector takes. */
#define FILL "[REDACTED]"
#define FILL_LEN 10u
#define REDACT_BLOCK (1u << 20) /* bytes read, patched and written at a time */
#define REDACT_ROUNDS 3         /* writes of OUT, each followed by a re-scan */
#define NUMBER_MIN 16u          /* shorter private numbers are not searched */

/* A byte range of IN to overwrite, and what was there. */
struct span {
    uint64_t off, len;          /* file offset and length in bytes */
    char what[48];              /* "finding pem pem-pkcs8", "rsa-p le" */
    enum span_shape {
        SPAN_PLAIN = 0,         /* overwritten as it is */
        SPAN_PEM,               /* a PEM block found in IN: narrowed to its body */
        SPAN_JSON,              /* a JWK found in IN: narrowed to the numbers in it */
    } shape;
};

struct spans {
    struct span *v;
    size_t n, cap;
};

/* Keys the proofs rebuilt during a scan, by spki_sha256 (proven() is called
 * from the scan's worker threads). */
struct held {
    char spki[65];
    EVP_PKEY *pkey;             /* one reference, ours */
};

struct keybag {
    pthread_mutex_t lock;
    struct held *v;
    size_t n, cap;
    bool nomem;                 /* a key could not be kept */
};

/* One key to redact, and every span overwritten for it. */
struct rkey {
    char fp[65];                /* spki_sha256, key_sha256 or match_sha256; "" for none */
    const char *fp_kind;        /* "spki_sha256", ... or NULL */
    struct dg_finding f;        /* the finding that named it (no secret bytes) */
    const char *detector;
    int round;                  /* 1: found in IN; n: by the re-scan after write n-1 */
    EVP_PKEY *pkey;             /* borrowed from the keybag, or NULL: spans only */
    bool searched;              /* its numbers were searched for in IN */
    size_t n_forms;             /* byte strings of its numbers searched for */
    struct spans spans;
};

struct redaction {
    struct rkey *v;
    size_t n, cap;
};

/* A byte string of one private number in one form, searched for in IN. */
struct form {
    uint8_t *b;                 /* secret: cleansed before it is freed */
    size_t len;
    size_t key;                 /* index into the redaction */
    char what[48];              /* "rsa-d be" */
};

struct forms {
    struct form *v;
    size_t n, cap;
};

/* Everything the scans of IN and of OUT share. */
struct scanner {
    struct scan_opts so;
    struct identity_db *db;
    struct dg_proof_policy proof;
    struct keybag bag;
};

static dg_err
spans_add(struct spans *s, uint64_t off, uint64_t len, const char *what)
{
    void *v;

    if (len == 0)
        return DG_OK;
    if ((v = grow_to(s->v, s->n + 1, &s->cap, sizeof s->v[0], 16)) == NULL)
        return DG_E_NOMEM;
    s->v = v;
    s->v[s->n].off = off;
    s->v[s->n].len = len;
    s->v[s->n].shape = SPAN_PLAIN;
    dg_strlcpyf(s->v[s->n].what, sizeof s->v[s->n].what, "%s", what);
    s->n++;
    return DG_OK;
}

static int
by_off(const void *a, const void *b)
{
    const struct span *x = a, *y = b;

    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

/* Sorts s by offset and joins spans that overlap or touch (the first one's
 * `what` stays). */
static void
spans_merge(struct spans *s)
{
    size_t k = 0;

    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof s->v[0], by_off);
    for (size_t i = 1; i < s->n; i++) {
        struct span *last = &s->v[k];
        uint64_t end = last->off + last->len;

        if (s->v[i].off <= end) {
            if (s->v[i].off + s->v[i].len > end)
                last->len = s->v[i].off + s->v[i].len - last->off;
        } else {
            s->v[++k] = s->v[i];
        }
    }
    s->n = k + 1;
}

static uint64_t
spans_bytes(const struct spans *s)
{
    uint64_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].len;
    return n;
}

/* dg_proof_policy.proven: keeps one reference to each proven key. */
static void
on_proven(void *arg, const EVP_PKEY *pkey, const struct dg_key *key)
{
    struct keybag *b = arg;
    void *v;

    if (key->spki_sha256[0] == '\0')
        return;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->v[i].spki, key->spki_sha256) == 0) {
            pthread_mutex_unlock(&b->lock);
            return;
        }
    }
    if ((v = grow_to(b->v, b->n + 1, &b->cap, sizeof b->v[0], 16)) == NULL) {
        b->nomem = true;
        pthread_mutex_unlock(&b->lock);
        return;
    }
    b->v = v;
    /* the detector frees its reference; ours keeps the key */
    if (EVP_PKEY_up_ref((EVP_PKEY *)pkey) == 1) {
        memcpy(b->v[b->n].spki, key->spki_sha256, sizeof b->v[b->n].spki);
        b->v[b->n++].pkey = (EVP_PKEY *)pkey;
    } else {
        b->nomem = true;
    }
    pthread_mutex_unlock(&b->lock);
}

static EVP_PKEY *
keybag_find(struct keybag *b, const char *spki)
{
    EVP_PKEY *k = NULL;

    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->n && k == NULL; i++)
        if (strcmp(b->v[i].spki, spki) == 0)
            k = b->v[i].pkey;
    pthread_mutex_unlock(&b->lock);
    return k;
}

/* The finding's fingerprint and its kind; "" and NULL when it has none. */
static const char *
fingerprint(const struct dg_finding *f, const char **kind)
{
    if (f->key.spki_sha256[0] != '\0') {
        *kind = "spki_sha256";
        return f->key.spki_sha256;
    }
    if (f->key.key_sha256[0] != '\0') {
        *kind = "key_sha256";
        return f->key.key_sha256;
    }
    if (f->match_sha256[0] != '\0') {
        *kind = "match_sha256";
        return f->match_sha256;
    }
    *kind = NULL;
    return "";
}

static struct rkey *
redaction_find(struct redaction *R, const char *fp)
{
    for (size_t i = 0; fp[0] != '\0' && i < R->n; i++)
        if (strcmp(R->v[i].fp, fp) == 0)
            return &R->v[i];
    return NULL;
}

/* Adds the span of a finding (or of a copy) to key k. A PEM block or a JWK
 * that the scan of IN found is narrowed later (narrow_text_spans); one a
 * re-scan found is overwritten whole. */
static dg_err
finding_span(struct rkey *k, uint64_t off, uint64_t len, const char *detector,
             const char *encoding, int round)
{
    char what[48];
    size_t n = k->spans.n;
    dg_err rc;

    dg_strlcpyf(what, sizeof what, "finding %s %s", detector != NULL ? detector : "", encoding);
    rc = spans_add(&k->spans, off, len, what);
    if (rc == DG_OK && k->spans.n > n && round == 1)
        k->spans.v[n].shape = strncmp(encoding, "pem", 3) == 0   ? SPAN_PEM
                              : strncmp(encoding, "jwk", 3) == 0 ? SPAN_JSON
                                                                 : SPAN_PLAIN;
    return rc;
}

/* Adds the finding sf (found in round `round`) to R: a new key, or more
 * spans of one R holds. */
static dg_err
redaction_add(struct redaction *R, const struct scan_finding *sf, struct keybag *bag, int round)
{
    const char *kind, *fp = fingerprint(&sf->f, &kind);
    struct rkey *k = redaction_find(R, fp);
    dg_err rc;

    if (k == NULL) {
        void *v = grow_to(R->v, R->n + 1, &R->cap, sizeof R->v[0], 8);

        if (v == NULL)
            return DG_E_NOMEM;
        R->v = v;
        k = &R->v[R->n++];
        memset(k, 0, sizeof *k);
        dg_strlcpyf(k->fp, sizeof k->fp, "%s", fp);
        k->fp_kind = kind;
        k->f = sf->f;
        k->detector = sf->detector;
        k->round = round;
        if (sf->f.key.spki_sha256[0] != '\0')
            k->pkey = keybag_find(bag, sf->f.key.spki_sha256);
    }
    rc = finding_span(k, sf->f.off, sf->f.len, sf->detector, sf->f.encoding, round);
    for (size_t i = 0; i < sf->n_copies && rc == DG_OK; i++) {
        const struct scan_location *c = &sf->copies[i];

        rc = finding_span(k, c->off, c->len, c->detector, c->encoding, round);
    }
    return rc;
}

static dg_err
forms_add(struct forms *F, size_t key, const uint8_t *b, size_t len, const char *name,
          const char *form)
{
    struct form *x;
    void *v;

    if (len < NUMBER_MIN)
        return DG_OK;
    if ((v = grow_to(F->v, F->n + 1, &F->cap, sizeof F->v[0], 32)) == NULL)
        return DG_E_NOMEM;
    F->v = v;
    x = &F->v[F->n];
    if ((x->b = malloc(len)) == NULL)
        return DG_E_NOMEM;
    memcpy(x->b, b, len);
    x->len = len;
    x->key = key;
    dg_strlcpyf(x->what, sizeof x->what, "%s %s", name, form);
    F->n++;
    return DG_OK;
}

static void
forms_free(struct forms *F)
{
    for (size_t i = 0; i < F->n; i++) {
        OPENSSL_cleanse(F->v[i].b, F->v[i].len);
        free(F->v[i].b);
    }
    free(F->v);
    memset(F, 0, sizeof *F);
}

/* base64url without padding (RFC 7515) of p[0..n) into out (room for
 * 4 * n / 3 + 4 bytes); returns its length. */
static size_t
base64url(const uint8_t *p, size_t n, uint8_t *out)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t k = 0, i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        out[k++] = (uint8_t)abc[v >> 18];
        out[k++] = (uint8_t)abc[(v >> 12) & 63];
        out[k++] = (uint8_t)abc[(v >> 6) & 63];
        out[k++] = (uint8_t)abc[v & 63];
    }
    if (n - i == 1) {
        out[k++] = (uint8_t)abc[p[i] >> 2];
        out[k++] = (uint8_t)abc[(p[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];

        out[k++] = (uint8_t)abc[v >> 10];
        out[k++] = (uint8_t)abc[(v >> 4) & 63];
        out[k++] = (uint8_t)abc[(v & 15) << 2];
    }
    return k;
}

/* Adds the forms of one private number, be[0..len) big-endian: as is
 * (CNG, .NET, DER), reversed (little-endian bytes and 32/64-bit limbs:
 * OpenSSL, Go, GMP, mbedTLS, CAPI), Java's int[] (most significant word
 * first, each word little-endian) and base64url (JWK). */
static dg_err
number_forms(struct forms *F, size_t key, const uint8_t *be, size_t len, const char *name)
{
    size_t words = (len + 3) / 4, wlen = words * 4;
    uint8_t *tmp = malloc(wlen > len ? wlen : len), *b64 = malloc(len * 4 / 3 + 4);
    dg_err rc = DG_E_NOMEM;

    if (tmp != NULL && b64 != NULL) {
        rc = forms_add(F, key, be, len, name, "be");
        for (size_t i = 0; i < len; i++)
            tmp[i] = be[len - 1 - i];
        if (rc == DG_OK)
            rc = forms_add(F, key, tmp, len, name, "le");
        memset(tmp, 0, wlen);
        memcpy(tmp + (wlen - len), be, len);
        for (size_t w = 0; w < words; w++) {
            uint8_t *x = tmp + 4 * w, t0 = x[0], t1 = x[1];

            x[0] = x[3];
            x[1] = x[2];
            x[2] = t1;
            x[3] = t0;
        }
        if (rc == DG_OK)
            rc = forms_add(F, key, tmp, wlen, name, "int[]");
        if (rc == DG_OK)
            rc = forms_add(F, key, b64, base64url(be, len, b64), name, "base64url");
    }
    if (tmp != NULL)
        OPENSSL_cleanse(tmp, wlen > len ? wlen : len);
    if (b64 != NULL)
        OPENSSL_cleanse(b64, len * 4 / 3 + 4);
    free(tmp);
    free(b64);
    return rc;
}

/* The private numbers of a key, by OpenSSL parameter name. */
static const struct {
    const char *param;
    const char *name;
} private_numbers[] = {
    {OSSL_PKEY_PARAM_RSA_D, "rsa-d"},
    {OSSL_PKEY_PARAM_RSA_FACTOR1, "rsa-p"},
    {OSSL_PKEY_PARAM_RSA_FACTOR2, "rsa-q"},
    {OSSL_PKEY_PARAM_RSA_EXPONENT1, "rsa-dp"},
    {OSSL_PKEY_PARAM_RSA_EXPONENT2, "rsa-dq"},
    {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, "rsa-qinv"},
    {OSSL_PKEY_PARAM_PRIV_KEY, "private"}, /* EC d, DSA x */
};

/* Adds the forms of the number bn, named name, to F: minimal big-endian
 * and, when full is longer, also padded to full bytes (an EC scalar in SEC1
 * or a JWK "d"). */
static dg_err
bn_forms(struct forms *F, size_t key, const BIGNUM *bn, int full, const char *name)
{
    int len = BN_num_bytes(bn);
    uint8_t *be;
    dg_err rc;

    if (full < len)
        full = len;
    if ((be = malloc((size_t)full + 1)) == NULL)
        return DG_E_NOMEM;
    if (BN_bn2binpad(bn, be, full) == full) {
        rc = number_forms(F, key, be + (full - len), (size_t)len, name);
        if (rc == DG_OK && full > len)
            rc = number_forms(F, key, be, (size_t)full, "private-padded");
    } else {
        rc = DG_E_CRYPTO;
    }
    OPENSSL_cleanse(be, (size_t)full);
    free(be);
    return rc;
}

/* An RSA private exponent has two common values: e^-1 mod lcm(p-1, q-1)
 * (OpenSSL 3, FIPS 186) and e^-1 mod (p-1)(q-1) (older OpenSSL, Go, Java,
 * PKCS#1 v1.5 era keys). A proof that rebuilt the key from its primes holds
 * the first; the process may hold the other, and d with n factors n. Adds
 * the forms of each that differs from d. */
static dg_err
rsa_other_d(struct forms *F, size_t key, EVP_PKEY *pkey, const BIGNUM *d)
{
    BIGNUM *p = NULL, *q = NULL, *e = NULL, *p1 = BN_new(), *q1 = BN_new(), *phi = BN_new(),
           *g = BN_new(), *lcm = BN_new(), *d2 = BN_secure_new();
    BN_CTX *ctx = BN_CTX_secure_new();
    dg_err rc = DG_OK;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) == 1 &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &q) == 1 &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1) {
        if (ctx == NULL || d2 == NULL || BN_sub(p1, p, BN_value_one()) != 1 ||
            BN_sub(q1, q, BN_value_one()) != 1 || BN_mul(phi, p1, q1, ctx) != 1 ||
            BN_gcd(g, p1, q1, ctx) != 1 || BN_div(lcm, NULL, phi, g, ctx) != 1)
            rc = DG_E_CRYPTO;
        /* each of the two that d is not */
        for (int i = 0; i < 2 && rc == DG_OK; i++)
            if (BN_mod_inverse(d2, e, i == 0 ? lcm : phi, ctx) != NULL && BN_cmp(d2, d) != 0)
                rc = bn_forms(F, key, d2, 0, i == 0 ? "rsa-d-lcm" : "rsa-d-phi");
    }
    BN_clear_free(p);
    BN_clear_free(q);
    BN_free(e);
    BN_clear_free(p1);
    BN_clear_free(q1);
    BN_clear_free(phi);
    BN_clear_free(g);
    BN_clear_free(lcm);
    BN_clear_free(d2);
    BN_CTX_free(ctx);
    return rc;
}

/* Adds the forms of every private number of R->v[key].pkey to F. */
static dg_err
key_forms(struct forms *F, const struct redaction *R, size_t key)
{
    EVP_PKEY *pkey = R->v[key].pkey;
    int id = EVP_PKEY_get_base_id(pkey);
    dg_err rc = DG_OK;

    if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 || id == EVP_PKEY_X25519 ||
        id == EVP_PKEY_X448) {
        uint8_t raw[64], b64[96];
        size_t len = sizeof raw;

        if (EVP_PKEY_get_raw_private_key(pkey, raw, &len) != 1)
            return DG_E_CRYPTO;
        rc = forms_add(F, key, raw, len, "private", "raw");
        if (rc == DG_OK)
            rc = forms_add(F, key, b64, base64url(raw, len, b64), "private", "base64url");
        OPENSSL_cleanse(raw, sizeof raw);
        OPENSSL_cleanse(b64, sizeof b64);
        return rc;
    }
    for (size_t i = 0; i < sizeof private_numbers / sizeof private_numbers[0] && rc == DG_OK;
         i++) {
        BIGNUM *bn = NULL;

        if (EVP_PKEY_get_bn_param(pkey, private_numbers[i].param, &bn) != 1)
            continue;
        /* an EC scalar also padded to the field's size (SEC1, JWK "d") */
        rc = bn_forms(F, key, bn, id == EVP_PKEY_EC ? (EVP_PKEY_get_bits(pkey) + 7) / 8 : 0,
                      private_numbers[i].name);
        if (rc == DG_OK && i == 0 && (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS))
            rc = rsa_other_d(F, key, pkey, bn);
        BN_clear_free(bn);
    }
    return rc;
}

/* The forms' index: each form by its first 8 bytes (a 64-bit word), sorted,
 * behind a bit filter of FILTER_BITS bits of the word's hash, so that a
 * position costs one load and one bit test whatever the number of forms. */
#define FILTER_BITS 20u
struct entry {
    uint64_t word;              /* the form's first 8 bytes */
    size_t form;                /* index into the forms */
};

struct search {
    const struct forms *F;
    struct redaction *R;
    struct entry *e;            /* sorted by word */
    size_t n_e;
    uint8_t *filter;            /* 1 << FILTER_BITS bits */
};

static uint32_t
word_hash(uint64_t w)
{
    return (uint32_t)((w * 0x9e3779b97f4a7c15ull) >> (64 - FILTER_BITS));
}

static int
by_word(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    return x->word < y->word ? -1 : x->word > y->word;
}

/* Adds a span for every form that starts at buf[pos] for `pos` in
 * [0, decided) and fits in buf[0..have); base is the file offset of buf. */
static dg_err
search_block(const struct search *s, const uint8_t *buf, size_t have, size_t decided,
             uint64_t base)
{
    for (size_t pos = 0; pos < decided && pos + 8 <= have; pos++) {
        uint64_t w;
        uint32_t h;
        size_t lo = 0, hi = s->n_e;

        memcpy(&w, buf + pos, sizeof w);
        h = word_hash(w);
        if ((s->filter[h >> 3] & (1u << (h & 7))) == 0)
            continue;
        while (lo < hi) { /* the first entry whose word is >= w */
            size_t mid = lo + (hi - lo) / 2;

            if (s->e[mid].word < w)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < s->n_e && s->e[lo].word == w; lo++) {
            const struct form *x = &s->F->v[s->e[lo].form];

            if (pos + x->len <= have && memcmp(buf + pos, x->b, x->len) == 0 &&
                spans_add(&s->R->v[x->key].spans, base + (uint64_t)pos, x->len, x->what) !=
                    DG_OK)
                return DG_E_NOMEM;
        }
    }
    return DG_OK;
}

/* Searches the size bytes of fd for every form of F in one streamed pass
 * and adds a span to its key for each occurrence. */
static dg_err
search_forms(int fd, uint64_t size, const struct forms *F, struct redaction *R,
             struct dg_diag *d, const char *name)
{
    struct search s = {.F = F, .R = R, .n_e = F->n};
    size_t maxlen = 8, have = 0;
    uint64_t base = 0;
    uint8_t *buf = NULL;
    dg_err rc = DG_E_NOMEM;

    s.e = calloc(F->n + 1, sizeof *s.e);
    s.filter = calloc((1u << FILTER_BITS) / 8, 1);
    for (size_t i = 0; s.e != NULL && i < F->n; i++) {
        assert(F->v[i].len >= 8); /* NUMBER_MIN */
        memcpy(&s.e[i].word, F->v[i].b, sizeof s.e[i].word);
        s.e[i].form = i;
        if (s.filter != NULL)
            s.filter[word_hash(s.e[i].word) >> 3] |= (uint8_t)(1u << (word_hash(s.e[i].word) & 7));
        if (F->v[i].len > maxlen)
            maxlen = F->v[i].len;
    }
    if (s.e == NULL || s.filter == NULL || (buf = iobuf_alloc(REDACT_BLOCK + maxlen)) == NULL) {
        rc = dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", name);
        goto out;
    }
    qsort(s.e, s.n_e, sizeof *s.e, by_word);
    for (;;) {
        size_t want = size - base - have < REDACT_BLOCK ? (size_t)(size - base - have)
                                                        : REDACT_BLOCK;
        size_t decided;
        bool eof;

        if ((rc = fd_pread_all(fd, buf + have, want, base + have)) != DG_OK) {
            rc = dg_diag(d, rc, base + have, "%s: read: %s", name,
                         rc == DG_E_IO ? strerror(errno) : "the file shrank");
            goto out;
        }
        have += want;
        eof = base + have >= size;
        /* a form starting later may run past the block: the next one sees it */
        decided = eof ? have : have > maxlen - 1 ? have - (maxlen - 1) : 0;
        if ((rc = search_block(&s, buf, have, decided, base)) != DG_OK) {
            rc = dg_diag(d, rc, DG_NO_OFFSET, "%s: out of memory", name);
            goto out;
        }
        if (eof)
            break;
        memmove(buf, buf + decided, have - decided);
        base += decided;
        have -= decided;
    }
out:
    if (buf != NULL)
        OPENSSL_cleanse(buf, REDACT_BLOCK + maxlen);
    free(buf);
    if (s.e != NULL)
        OPENSSL_cleanse(s.e, (F->n + 1) * sizeof *s.e); /* 8 bytes of each number */
    free(s.e);
    free(s.filter);
    return rc;
}

/* Searches IN for the numbers of every key of R that has a rebuilt key and
 * was not searched yet. */
static dg_err
search_new_keys(int fd, uint64_t size, struct redaction *R, struct dg_diag *d, const char *name)
{
    struct forms F = {0};
    dg_err rc = DG_OK;

    for (size_t i = 0; i < R->n && rc == DG_OK; i++) {
        size_t before = F.n;

        if (R->v[i].pkey == NULL || R->v[i].searched)
            continue;
        R->v[i].searched = true;
        rc = key_forms(&F, R, i);
        if (rc != DG_OK)
            rc = dg_diag(d, rc, DG_NO_OFFSET, "%s: key %s: cannot read its private numbers",
                         name, R->v[i].fp);
        R->v[i].n_forms = F.n - before;
    }
    if (rc == DG_OK && F.n > 0)
        rc = search_forms(fd, size, &F, R, d, name);
    forms_free(&F);
    return rc;
}

/* The body of the PEM block p[0..n): the bytes between the line end after
 * its BEGIN line and the line end before its END line, in ASCII or
 * UTF-16 (p[0] is the armour's first byte: NUL for UTF-16BE, and a NUL after
 * it for UTF-16LE). OUT: *lo, *hi. False when three runs of five dashes are
 * not there. */
static bool
pem_body(const uint8_t *p, size_t n, size_t *lo, size_t *hi)
{
    bool be = n > 1 && p[0] == 0, le = !be && n > 1 && p[1] == 0;
    size_t run_end[3], run_start[3];
    int k = 0;

    for (size_t i = 0; i < n && k < 3;) {
        size_t start = i, last = i, dashes = 0;

        if (p[i] != '-') {
            i++;
            continue;
        }
        while (i < n && (p[i] == '-' || (p[i] == 0 && i + 1 < n && p[i + 1] == '-'))) {
            if (p[i] == '-') {
                dashes++;
                last = i;
            }
            i++;
        }
        if (dashes >= 5) {
            run_start[k] = start;
            run_end[k++] = last + 1;
        }
    }
    if (k < 3)
        return false;
    *lo = run_end[1] + (le ? 1 : 0);
    *hi = run_start[2] - (be ? 1 : 0);
    /* the line ends after the BEGIN line and before the END line stay */
    while (*lo < *hi && (p[*lo] == '\r' || p[*lo] == '\n' || p[*lo] == 0))
        ++*lo;
    while (*hi > *lo && (p[*hi - 1] == '\r' || p[*hi - 1] == '\n' || p[*hi - 1] == 0))
        --*hi;
    return *hi > *lo;
}

/* Narrows the spans a PEM block or a JWK found in IN gave (once; they are
 * plain after): a PEM block to its body, so that its armour lines stay; a
 * JWK to the base64url numbers of the key found inside it, so that its JSON
 * stays valid (a JWK with none of them stays whole). The re-scan checks
 * what is left, and a key it still finds is overwritten whole. */
static dg_err
narrow_text_spans(struct redaction *R, int fd, struct dg_diag *d, const char *name)
{
    for (size_t i = 0; i < R->n; i++) {
        struct spans *S = &R->v[i].spans;
        size_t kept = 0;

        for (size_t j = 0; j < S->n; j++) {
            struct span *t = &S->v[j];
            bool drop = false;

            if (t->shape == SPAN_JSON) {
                for (size_t m = 0; m < S->n && !drop; m++)
                    drop = strncmp(S->v[m].what, "finding ", 8) != 0 &&
                           S->v[m].off >= t->off && S->v[m].off + S->v[m].len <= t->off + t->len;
            } else if (t->shape == SPAN_PEM && t->len <= REDACT_BLOCK) {
                size_t len = (size_t)t->len, lo, hi;
                uint8_t *buf = malloc(len);
                dg_err rc = buf != NULL ? fd_pread_all(fd, buf, len, t->off) : DG_E_NOMEM;

                if (rc == DG_OK && pem_body(buf, len, &lo, &hi)) {
                    t->off += lo;
                    t->len = hi - lo;
                    dg_strlcpyf(t->what + strlen(t->what), sizeof t->what - strlen(t->what),
                                " body");
                }
                if (buf != NULL)
                    OPENSSL_cleanse(buf, len);
                free(buf);
                if (rc != DG_OK)
                    return dg_diag(d, rc, t->off, "%s: read: %s", name,
                                   rc == DG_E_IO ? strerror(errno) : "the file shrank");
            }
            t->shape = SPAN_PLAIN;
            if (!drop)
                S->v[kept++] = *t;
        }
        S->n = kept;
    }
    return DG_OK;
}

/* Every span of every key of R, merged. */
static dg_err
all_spans(struct redaction *R, struct spans *all)
{
    all->n = 0;
    for (size_t i = 0; i < R->n; i++) {
        spans_merge(&R->v[i].spans);
        for (size_t k = 0; k < R->v[i].spans.n; k++) {
            const struct span *s = &R->v[i].spans.v[k];

            if (spans_add(all, s->off, s->len, s->what) != DG_OK)
                return DG_E_NOMEM;
        }
    }
    spans_merge(all);
    return DG_OK;
}

/* Copies the size bytes of in to out, each span of `all` (sorted, merged)
 * filled with FILL from its first byte. *changed: bytes that differ. */
static dg_err
write_copy(int in, uint64_t size, const struct spans *all, int out, uint64_t *changed,
           struct dg_diag *d, const char *in_name, const char *out_name)
{
    uint8_t *buf = iobuf_alloc(REDACT_BLOCK);
    size_t si = 0;
    dg_err rc = DG_OK;

    *changed = 0;
    if (buf == NULL)
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", out_name);
    for (uint64_t off = 0; off < size && rc == DG_OK;) {
        size_t n = size - off < REDACT_BLOCK ? (size_t)(size - off) : REDACT_BLOCK;

        if ((rc = fd_pread_all(in, buf, n, off)) != DG_OK) {
            rc = dg_diag(d, rc, off, "%s: read: %s", in_name,
                         rc == DG_E_IO ? strerror(errno) : "the file shrank");
            break;
        }
        while (si < all->n && all->v[si].off + all->v[si].len <= off)
            si++;
        for (size_t k = si; k < all->n && all->v[k].off < off + n; k++) {
            uint64_t lo = all->v[k].off > off ? all->v[k].off : off;
            uint64_t hi = all->v[k].off + all->v[k].len;

            if (hi > off + n)
                hi = off + n;
            for (uint64_t x = lo; x < hi; x++) {
                uint8_t fill = (uint8_t)FILL[(x - all->v[k].off) % FILL_LEN];

                *changed += buf[x - off] != fill;
                buf[x - off] = fill;
            }
        }
        if ((rc = fd_pwrite_all(out, buf, n, off)) != DG_OK)
            rc = dg_diag(d, rc, off, "%s: write: %s", out_name, strerror(errno));
        off += n;
    }
    OPENSSL_cleanse(buf, REDACT_BLOCK);
    free(buf);
    if (rc == DG_OK && fsync(out) != 0)
        rc = dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: fsync: %s", out_name, strerror(errno));
    return rc;
}

static void
print_diag(const struct cli_opts *o, const struct dg_diag *d)
{
    for (size_t i = 0; i < dg_diag_count(d); i++) {
        const struct dg_diag_msg *m = dg_diag_get(d, i);
        const char *lvl = m->level == DG_DIAG_ERROR     ? "error"
                          : m->level == DG_DIAG_WARNING ? "warning"
                                                        : "info";

        if ((m->level == DG_DIAG_INFO && o->verbose == 0) ||
            (m->level == DG_DIAG_WARNING && o->quiet))
            continue;
        if (m->off != DG_NO_OFFSET)
            fprintf(stderr, "dumpgate: %s: %s (offset %" PRIu64 ")\n", lvl, m->text, m->off);
        else
            fprintf(stderr, "dumpgate: %s: %s\n", lvl, m->text);
    }
}

/* Scans path with the options of o and applies names, allow list and
 * verdict. Prints the scan's diagnostics when `loud`. False (after printing
 * why) when the file could not be judged. */
static bool
scan_judged(const struct cli_opts *o, struct scanner *s, const char *path, const char *shown,
            struct scan_result *r, bool loud)
{
    char why[240];
    dg_err rc = scan_path(path, &s->so, r);

    if (loud || rc != DG_OK)
        print_diag(o, r->diag);
    if (rc != DG_OK) {
        fprintf(stderr, "dumpgate: error: %s: cannot be scanned: %s\n", shown,
                dg_strerror(rc));
        return false;
    }
    if (r->over_budget) {
        fprintf(stderr, "dumpgate: error: %s: scan stopped by a budget; not judged\n", shown);
        return false;
    }
    if (o->strict && scan_incomplete(r, why, sizeof why)) {
        fprintf(stderr, "dumpgate: error: %s: incomplete scan (--strict): %s\n", shown, why);
        return false;
    }
    if (s->bag.nomem) {
        fprintf(stderr, "dumpgate: error: %s: out of memory keeping the proven keys\n", shown);
        return false;
    }
    identity_apply(s->db, r);
    verdict_apply(&o->policy, r);
    return true;
}

static bool
failing(const struct cli_opts *o, const struct scan_finding *sf)
{
    return !sf->allowed && sf->f.severity >= o->fail_on;
}

static json_t *
span_json(const struct span *s)
{
    return json_pack("{s:I, s:I, s:s}", "offset", (json_int_t)s->off, "length",
                     (json_int_t)s->len, "source", s->what);
}

/* Writes one record about key k ("redacted-key", "residual-candidate") as
 * a line of f. */
static bool
key_record(FILE *f, const struct cli_opts *o, const struct rkey *k, const char *record)
{
    json_t *spans = json_array(), *rec;
    bool ok;

    for (size_t j = 0; j < k->spans.n; j++)
        json_array_append_new(spans, span_json(&k->spans.v[j]));
    rec = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:o}",
                    "schema", 1, "record", record, "file", o->files[0], "type", k->f.type,
                    "algorithm", k->f.key.algorithm, "role", dg_role_name(k->f.role),
                    "severity", dg_severity_name(k->f.severity), "status",
                    dg_status_name(k->f.status), "detector", k->detector ? k->detector : "",
                    "encoding", k->f.encoding, "round", k->round, "forms_searched",
                    (int)k->n_forms, "bytes", (json_int_t)spans_bytes(&k->spans), "spans", spans);
    if (rec != NULL && k->fp_kind != NULL)
        json_object_set_new(rec, k->fp_kind, json_string(k->fp));
    if (rec != NULL && k->f.key.bits > 0)
        json_object_set_new(rec, "bits", json_integer(k->f.key.bits));
    ok = rec != NULL && json_dumpf(rec, f, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 &&
         fputc('\n', f) != EOF;
    json_decref(rec);
    return ok;
}

/* Writes the report: one "redacted-key" record per key of R, one
 * "residual-candidate" per finding of `left` (what the last re-scan still
 * named, every byte of it fill), then a "redact-summary". */
static bool
write_report(FILE *f, const struct cli_opts *o, const struct redaction *R,
             const struct redaction *left, const struct spans *all, uint64_t size,
             uint64_t changed, int rounds)
{
    bool ok = true;

    for (size_t i = 0; i < R->n && ok; i++)
        ok = key_record(f, o, &R->v[i], "redacted-key");
    for (size_t i = 0; i < left->n && ok; i++)
        ok = key_record(f, o, &left->v[i], "residual-candidate");
    if (ok) {
        json_t *rec = json_pack(
            "{s:i, s:s, s:s, s:s, s:I, s:i, s:i, s:I, s:I, s:i, s:i, s:s, s:s, s:b}", "schema",
            1, "record", "redact-summary", "file", o->files[0], "output", o->output, "size",
            (json_int_t)size, "keys", (int)R->n, "spans", (int)all->n, "bytes_overwritten",
            (json_int_t)spans_bytes(all), "bytes_changed", (json_int_t)changed, "rounds",
            rounds, "residual_candidates", (int)left->n, "fail_on",
            dg_severity_name(o->fail_on), "fill", FILL, "verified", 1);

        ok = rec != NULL && json_dumpf(rec, f, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 &&
             fputc('\n', f) != EOF;
        json_decref(rec);
    }
    return ok;
}

/* May path be written? Refuses IN itself (same inode) always, and an
 * existing file without --force. Prints why. */
static bool
may_write(const struct cli_opts *o, const char *path, const struct stat *in)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return true;
        fprintf(stderr, "dumpgate: error: %s: %s\n", path, strerror(errno));
        return false;
    }
    if (st.st_dev == in->st_dev && st.st_ino == in->st_ino) {
        fprintf(stderr, "dumpgate: error: %s is the input %s: redact never writes its input\n",
                path, o->files[0]);
        return false;
    }
    if (!o->force) {
        fprintf(stderr, "dumpgate: error: %s exists (--force replaces it)\n", path);
        return false;
    }
    return true;
}

/* The temporary files that SIGINT, SIGTERM or SIGHUP must not leave
 * behind, or NULL: set while they exist (unlink() is async-signal-safe). */
static const char *volatile doomed[4]; /* OUT's, the report's, the plain input's, the plain copy's */

static void
on_signal(int sig)
{
    for (int i = 0; i < 4; i++)
        if (doomed[i] != NULL)
            unlink(doomed[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
remove_on_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* A new file path.XXXXXX (O_EXCL, 0600) in path's directory; *tmp gets its
 * name (to free). -1 after printing why. */
static int
create_temp(const char *path, char **tmp)
{
    int fd;

    if (asprintf(tmp, "%s.XXXXXX", path) < 0) {
        *tmp = NULL;
        fprintf(stderr, "dumpgate: out of memory\n");
        return -1;
    }
    if ((fd = mkostemp(*tmp, O_CLOEXEC)) < 0 || fchmod(fd, 0600) != 0) {
        fprintf(stderr, "dumpgate: error: %s: cannot create a file beside it: %s\n", path,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(*tmp);
        }
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    return fd;
}

/* fsyncs the directory holding path, so that a rename in it lasts. */
static void
sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? strdup(".") : strndup(path, (size_t)(slash - path + 1));
    int fd = dir != NULL ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static void
scanner_free(struct scanner *s)
{
    identity_free(s->db);
    keyproof_memo_free(s->proof.memo);
    for (size_t i = 0; i < s->bag.n; i++)
        EVP_PKEY_free(s->bag.v[i].pkey);
    free(s->bag.v);
    pthread_mutex_destroy(&s->bag.lock);
}

/* Sets up the scans as `scan` would with the options of o. False after
 * printing why. */
static bool
scanner_init(const struct cli_opts *o, struct scanner *s)
{
    struct dg_diag *d = dg_diag_new();
    bool error = false;

    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->bag.lock, NULL);
    s->so.threads = o->threads;
    s->so.chunk_size = o->chunk_size;
    s->so.detectors = o->detectors_set ? o->detectors : NULL;
    s->so.cfg.verbose = o->verbose;
    s->so.cfg.keyvals = o->n_keyvals ? o->keyvals : NULL;
    s->so.max_decompressed = o->max_decompressed;
    s->db = identity_new(!o->no_builtin_allow);
    if (s->db == NULL || d == NULL) {
        fprintf(stderr, "dumpgate: out of memory\n");
        dg_diag_free(d);
        return false;
    }
    for (int i = 0; i < o->n_allow && !error; i++)
        error = identity_load_allow(s->db, o->allow[i], d) != DG_OK;
    for (int i = 0; i < o->n_known && !error; i++)
        error = identity_load_known(s->db, o->known[i], d) != DG_OK;
    for (size_t i = 0; i < dg_diag_count(d); i++)
        fprintf(stderr, "dumpgate: error: %s\n", dg_diag_get(d, i)->text);
    dg_diag_free(d);
    if (error)
        return false;
    identity_proof_policy(s->db, &s->proof);
    s->proof.memo = keyproof_memo_new();
    s->proof.proven = on_proven;
    s->proof.proven_arg = &s->bag;
    s->so.cfg.proof = &s->proof;
    return true;
}

/* Opens IN for reading: a regular file, plain, compressed or an apport
 * report (*kind says which). -1 after printing why. */
static int
open_input(const char *in, struct stat *st, enum dc_kind *kind_out)
{
    uint8_t head[64];
    ssize_t n;
    enum dc_kind kind;
    int fd;

    if (strcmp(in, "-") == 0) {
        fprintf(stderr, "dumpgate: error: redact reads a file, not standard input\n");
        return -1;
    }
    if ((fd = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 || fstat(fd, st) != 0) {
        fprintf(stderr, "dumpgate: error: %s: %s\n", in, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        fprintf(stderr, "dumpgate: error: %s: not a regular file\n", in);
        close(fd);
        return -1;
    }
    n = pread(fd, head, sizeof head, 0);
    kind = n > 0 ? decompress_sniff(head, (size_t)n, false) : DC_NONE;
    if (kind == DC_ZLIB) { /* only inside apport reports, never a whole file */
        fprintf(stderr, "dumpgate: error: %s: zlib input: not a dump; nothing written\n", in);
        close(fd);
        return -1;
    }
    *kind_out = kind;
    return fd;
}

/* Decompresses the compressed IN open at *fd into a new file beside out
 * (its name in *plain, doomed[2]), and makes *fd that file and st its
 * size. False after printing why. */
static bool
decompress_input(const struct cli_opts *o, const char *in, const char *out, enum dc_kind kind,
                 int *fd, struct stat *st, char **plain)
{
    char *name = NULL;
    struct dg_diag *d = dg_diag_new();
    struct dc_decoder *z = NULL;
    struct dc_status zs;
    uint8_t *buf = iobuf_alloc(1u << 20);
    int pfd = -1;
    bool ok = false;
    uint64_t at = 0;

    if (d == NULL || buf == NULL || asprintf(&name, "%s.plain", out) < 0) {
        name = NULL;
        fprintf(stderr, "dumpgate: out of memory\n");
        goto out;
    }
    if ((pfd = create_temp(name, plain)) < 0)
        goto out;
    doomed[2] = *plain;
    if (decompress_open(kind, *fd, NULL, 0, in, d, &z) != DG_OK) {
        print_diag(o, d);
        goto out;
    }
    decompress_limit(z, o->max_decompressed, 0);
    for (;;) {
        size_t n = decompress_read(z, buf, 1u << 20);

        if (n > 0 && fd_pwrite_all(pfd, buf, n, at) != DG_OK) {
            fprintf(stderr, "dumpgate: error: %s: %s\n", *plain, strerror(errno));
            break;
        }
        at += n;
        if (n < (1u << 20)) {
            ok = true;
            break;
        }
    }
    decompress_close(z, &zs);
    if (ok && zs.rc != DG_OK) {
        fprintf(stderr, "dumpgate: error: %s: %s: %s; nothing written\n", in,
                decompress_kind_name(kind), zs.why);
        ok = false;
    }
    if (ok) {
        close(*fd);
        *fd = pfd;
        pfd = -1;
        st->st_size = (off_t)at;
    }
out:
    if (pfd >= 0)
        close(pfd);
    if (!ok && *plain != NULL) {
        unlink(*plain);
        free(*plain);
        *plain = NULL;
        doomed[2] = NULL;
    }
    free(name);
    free(buf);
    dg_diag_free(d);
    return ok;
}

/* Is [off, off+len) inside one span of all (sorted, merged)? */
static bool
covered(const struct spans *all, uint64_t off, uint64_t len)
{
    for (size_t i = 0; i < all->n && all->v[i].off <= off; i++)
        if (off + len <= all->v[i].off + all->v[i].len)
            return true;
    return false;
}

/* Is sf a candidate whose every byte was overwritten (the finding and each
 * copy)? A re-scan finds such a key only by its public half: a structure
 * that still names it (an ssh-agent's struct sshkey and its Ed25519 public
 * key) points at fill and proves nothing. Below --fail-on it holds nothing
 * secret and is reported as residual. */
static bool
only_fill(const struct scan_finding *sf, const struct spans *all)
{
    if (sf->f.status != DG_STATUS_CANDIDATE || !covered(all, sf->f.off, sf->f.len))
        return false;
    for (size_t i = 0; i < sf->n_copies; i++)
        if (!covered(all, sf->copies[i].off, sf->copies[i].len))
            return false;
    return true;
}

/* Adds to R every finding of r that still counts: at or above --fail-on, or
 * a key already redacted. When r is the re-scan of a copy whose spans are
 * all, a candidate below --fail-on on fill only goes to `left` instead
 * (residual); at or above --fail-on nothing is excused. Returns how many
 * went to R, or -1 when out of memory. */
static long
add_dirty(const struct cli_opts *o, const struct scan_result *r, struct redaction *R,
          struct keybag *bag, int round, const struct spans *all, struct redaction *left)
{
    long n = 0;

    for (size_t i = 0; i < r->n_findings; i++) {
        const struct scan_finding *sf = &r->findings[i];
        const char *kind, *fp = fingerprint(&sf->f, &kind);
        bool residual;

        if (!failing(o, sf) && redaction_find(R, fp) == NULL)
            continue;
        residual = all != NULL && !failing(o, sf) && only_fill(sf, all);
        if (redaction_add(residual ? left : R, sf, bag, round) != DG_OK)
            return -1;
        n += !residual;
    }
    return n;
}

static void
redaction_free(struct redaction *R)
{
    for (size_t i = 0; i < R->n; i++)
        free(R->v[i].spans.v);
    free(R->v);
    memset(R, 0, sizeof *R);
}

/* Prints each finding of r (the re-scan of the last copy, whose spans are
 * all) that still counts: names and fingerprints only. */
static void
print_left(const struct cli_opts *o, const struct scan_result *r, struct redaction *R,
           const struct spans *all, const char *in)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct scan_finding *sf = &r->findings[i];
        const char *kind, *fp = fingerprint(&sf->f, &kind);

        if (!failing(o, sf) && (redaction_find(R, fp) == NULL || only_fill(sf, all)))
            continue;
        fprintf(stderr, "dumpgate: error: %s: left in the copy: %s %s (%s) at offset %" PRIu64
                "%s%s%s%s\n", in, dg_severity_name(sf->f.severity), sf->f.type, sf->detector,
                sf->f.off, kind != NULL ? " " : "", kind != NULL ? kind : "",
                kind != NULL ? "=" : "", fp);
    }
}

int
redact_run(const struct cli_opts *o)
{
    const char *in = o->files[0], *out = o->output;
    struct scanner s;
    struct redaction R = {0}, left = {0}; /* keys to redact; residual candidates */
    struct spans all = {0};
    struct stat st;
    struct dg_diag *d = NULL;
    char *report = NULL, *tmp = NULL, *rtmp = NULL, *plain = NULL, *ctmp = NULL;
    int in_fd, out_fd = -1, status = EXIT_ERROR, round = 1, report_fd = -1;
    uint64_t changed = 0;
    FILE *rf = NULL;
    bool clean = false;
    enum dc_kind kind = DC_NONE;

    if ((in_fd = open_input(in, &st, &kind)) < 0)
        return EXIT_ERROR;
    if (asprintf(&report, "%s.redact.jsonl", out) < 0) {
        fprintf(stderr, "dumpgate: out of memory\n");
        close(in_fd);
        return EXIT_ERROR;
    }
    if (!may_write(o, out, &st) || !may_write(o, report, &st)) {
        free(report);
        close(in_fd);
        return EXIT_ERROR;
    }
    if (!scanner_init(o, &s))
        goto done;
    d = dg_diag_new();
    if (d == NULL)
        goto done;
    /* A compressed IN: the search and the copy work on its plain bytes (the
     * findings' offsets are those of the plain dump already); OUT is written
     * back in IN's compression and scanned once more as it is. */
    remove_on_signals();
    if (kind == DC_APPORT && (report_fd = dup(in_fd)) < 0) {
        fprintf(stderr, "dumpgate: error: %s: %s\n", in, strerror(errno));
        goto done;
    }
    if (kind != DC_NONE && !decompress_input(o, in, out, kind, &in_fd, &st, &plain))
        goto done;

    /* Round 1: what the scan of IN finds at or above --fail-on. */
    {
        struct scan_result r;
        bool ok = scan_judged(o, &s, in, in, &r, true);
        long n = ok ? add_dirty(o, &r, &R, &s.bag, 1, NULL, NULL) : 0;

        scan_result_free(&r);
        if (!ok)
            goto done;
        if (n < 0) {
            fprintf(stderr, "dumpgate: out of memory\n");
            goto done;
        }
    }
    if ((out_fd = create_temp(out, &tmp)) < 0)
        goto done;
    doomed[kind != DC_NONE ? 3 : 0] = tmp;
    for (;; round++) {
        struct scan_result r;
        long n;

        if (search_new_keys(in_fd, (uint64_t)st.st_size, &R, d, in) != DG_OK ||
            narrow_text_spans(&R, in_fd, d, in) != DG_OK || all_spans(&R, &all) != DG_OK ||
            write_copy(in_fd, (uint64_t)st.st_size, &all, out_fd, &changed, d, in, tmp) !=
                DG_OK) {
            print_diag(o, d);
            if (dg_diag_count(d) == 0)
                fprintf(stderr, "dumpgate: out of memory\n");
            goto done;
        }
        /* the proof: OUT re-scanned with the same options */
        if (!scan_judged(o, &s, tmp, out, &r, o->verbose > 0))
            goto done;
        if (round == REDACT_ROUNDS)
            print_left(o, &r, &R, &all, in);
        redaction_free(&left);
        n = add_dirty(o, &r, &R, &s.bag, round + 1, &all, &left);
        scan_result_free(&r);
        if (n < 0) {
            fprintf(stderr, "dumpgate: out of memory\n");
            goto done;
        }
        if (n == 0) {
            clean = true;
            break;
        }
        if (round == REDACT_ROUNDS) {
            fprintf(stderr,
                    "dumpgate: error: %s: after %d rounds the re-scan of the copy still finds "
                    "%ld key%s at or above --fail-on %s or already redacted; %s not written\n",
                    in, round, n, n == 1 ? "" : "s", dg_severity_name(o->fail_on), out);
            goto done;
        }
    }

    if (kind != DC_NONE) {
        /* the plain copy in IN's compression, and the proof on that file */
        char why[200];
        int cfd = create_temp(out, &ctmp);
        struct scan_result r;
        long n;

        doomed[0] = ctmp;
        if (cfd < 0)
            goto done;
        if ((kind == DC_APPORT
                 ? recompress_apport(report_fd, out_fd, (uint64_t)st.st_size, cfd, why, sizeof why)
                 : recompress(kind, out_fd, (uint64_t)st.st_size, cfd, why, sizeof why)) != DG_OK ||
            fsync(cfd) != 0) {
            fprintf(stderr, "dumpgate: error: %s: %s; nothing written\n", out, why);
            close(cfd);
            goto done;
        }
        close(out_fd);
        out_fd = cfd;
        unlink(tmp);
        doomed[3] = NULL;
        free(tmp);
        tmp = ctmp;
        ctmp = NULL;
        if (!scan_judged(o, &s, tmp, out, &r, o->verbose > 0))
            goto done;
        redaction_free(&left);
        n = add_dirty(o, &r, &R, &s.bag, round + 1, &all, &left);
        scan_result_free(&r);
        if (n != 0) {
            fprintf(stderr, "dumpgate: error: %s: the %s copy's re-scan finds what the plain "
                            "copy's did not; %s not written\n",
                    in, decompress_kind_name(kind), out);
            goto done;
        }
    }

    /* The report, then OUT: each complete under its temporary name first. */
    {
        int rfd = create_temp(report, &rtmp);

        doomed[1] = rtmp;
        if (rfd < 0 || (rf = fdopen(rfd, "w")) == NULL) {
            if (rfd >= 0) {
                fprintf(stderr, "dumpgate: error: %s: %s\n", report, strerror(errno));
                close(rfd);
            }
            goto done;
        }
    }
    if (!write_report(rf, o, &R, &left, &all, (uint64_t)st.st_size, changed, round) ||
        fflush(rf) != 0 || ferror(rf) || fsync(fileno(rf)) != 0) {
        fprintf(stderr, "dumpgate: error: %s: cannot write the report: %s\n", report,
                strerror(errno));
        goto done;
    }
    if (fclose(rf) != 0) {
        rf = NULL;
        fprintf(stderr, "dumpgate: error: %s: %s\n", report, strerror(errno));
        goto done;
    }
    rf = NULL;
    if (close(out_fd) != 0) {
        out_fd = -1;
        fprintf(stderr, "dumpgate: error: %s: %s\n", out, strerror(errno));
        goto done;
    }
    out_fd = -1;
    doomed[1] = NULL;
    if (rename(rtmp, report) != 0) {
        fprintf(stderr, "dumpgate: error: %s: %s\n", report, strerror(errno));
        goto done;
    }
    free(rtmp);
    rtmp = NULL;
    doomed[0] = NULL;
    if (rename(tmp, out) != 0) {
        fprintf(stderr, "dumpgate: error: %s: %s\n", out, strerror(errno));
        unlink(report);
        goto done;
    }
    free(tmp);
    tmp = NULL;
    sync_dir(out);
    if (!o->quiet) {
        char residual[64] = "";

        if (left.n > 0)
            snprintf(residual, sizeof residual, ", %zu residual candidate%s", left.n,
                     left.n == 1 ? "" : "s");
        printf("dumpgate: %s: %zu key%s redacted, %" PRIu64 " bytes in %zu spans (%" PRIu64
               " changed); %s re-scanned clean at --fail-on %s (%d round%s%s); report %s\n",
               in, R.n, R.n == 1 ? "" : "s", spans_bytes(&all), all.n, changed, out,
               dg_severity_name(o->fail_on), round, round == 1 ? "" : "s", residual, report);
    }
    status = clean ? EXIT_CLEAN : EXIT_ERROR;
done:
    doomed[0] = doomed[1] = doomed[2] = doomed[3] = NULL;
    if (report_fd >= 0)
        close(report_fd);
    if (plain != NULL) {
        unlink(plain);
        free(plain);
    }
    if (ctmp != NULL) {
        unlink(ctmp);
        free(ctmp);
    }
    if (rf != NULL)
        fclose(rf);
    if (rtmp != NULL) {
        unlink(rtmp);
        free(rtmp);
    }
    if (out_fd >= 0)
        close(out_fd);
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    redaction_free(&R);
    redaction_free(&left);
    free(all.v);
    free(report);
    dg_diag_free(d);
    scanner_free(&s);
    close(in_fd);
    return status;
}
