/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_ec_raw.c - unit test of the ec-raw detector (TAP output).
 *
 * Generates EC keys (P-256, secp256k1, P-384, P-521) with OpenSSL at run
 * time and builds a fake process image the way OpenSSL leaves one: a
 * `struct bignum_st` header (d pointer, top, dmax, neg, flags) pointing at
 * the scalar's LE limbs elsewhere in the image, and the public point as a DER
 * SubjectPublicKeyInfo (or, for secp256k1, a bare SEC1 [1] publicKey without
 * a curve OID). The image is given one memory region through a stubbed dump
 * service, so the detector follows the pointers exactly as it would in an
 * ELF core. Checks: one confirmed finding per key at the limbs' offset with
 * the right SPKI SHA-256 (compared with keyproof_identity() of the original
 * key), decoy headers with wrong scalars stay silent, the same image without
 * an address map gives nothing, and 16 MiB of random bytes give nothing.
 * The limbs are taken with their header's chunk: with the dump unreadable
 * after the scan the keys are still confirmed, and in 4 KiB chunks (limbs
 * in another chunk) they are read in finish() instead.
 * Then the keys with no encoded public point at all, as OpenSSL keeps them
 * after the key file is gone: the scalar's BIGNUM flagged CONSTTIME|SECURE,
 * and the public point's x coordinate in its own BIGNUM, in Montgomery form
 * (x * 2^(64 * limbs of p) mod p: nistz256, GFp_mont) or plain (P-521's
 * nistp521); each is proven through d*G. The same x beside a scalar without
 * those flags, or a flagged scalar beside another key's x, stays silent.
 * Keys of secp256k1 and P-384 behind a dozen other flagged scalars each are
 * still proven: their d*G comes from ec-raw's comb, not OpenSSL's ladder.
 * A P-521 scalar below 2^512 (one key in 512) sits in 8 limbs and is
 * confirmed; a 192-bit number with a P-256 point of its own is not tried
 * (a P-256 key's top limb is zero with chance 2^-64).
 * The JDK's bare SEC1 {1, d}: confirmed against a point in the dump, or a
 * candidate named by SHA-256(d) without one; decoys stay silent. The JDK's
 * EdDSA/XDH OCTET STRING in a byte[]: confirmed against an SPKI in the
 * dump, silent without one. A key behind more false headers in its chunk
 * than a chunk keeps, their limbs no random number, is still proven.
 * Only fingerprints are compared and printed.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <dumpgate/detector.h>

#include "../../scanner/proof/keyproof.h"

extern const struct dg_detector dg_detector_ec_raw;

/* ---- stubbed engine services ---- */

#define MAX_FINDINGS 64
#define BASE_VA 0x55d0c0a00000ull

struct dg_sink {
    pthread_mutex_t lock;
    struct dg_finding f[MAX_FINDINGS];
    size_t n;
    size_t n_warn;
};

struct dg_dump {
    const uint8_t *p;
    size_t len;
    struct dg_region reg;
    bool no_reads;  /* dg_dump_read_va() fails: only what scan() took is known */
};

void
dg_report(struct dg_sink *sink, const struct dg_finding *f)
{
    pthread_mutex_lock(&sink->lock);
    if (sink->n < MAX_FINDINGS)
        sink->f[sink->n++] = *f;
    pthread_mutex_unlock(&sink->lock);
}

void
dg_sink_warn(struct dg_sink *sink, uint64_t off, const char *fmt, ...)
{
    (void)off;
    (void)fmt;
    pthread_mutex_lock(&sink->lock);
    sink->n_warn++;
    pthread_mutex_unlock(&sink->lock);
}

const struct dg_region *
dg_dump_region_at(const struct dg_dump *dump, uint64_t off)
{
    return dump != NULL && off < dump->len ? &dump->reg : NULL;
}

size_t
dg_dump_va_count(const struct dg_dump *dump)
{
    return dump != NULL && dump->reg.has_va ? 1 : 0;
}

const struct dg_region *
dg_dump_va_region(const struct dg_dump *dump, size_t i)
{
    return i < dg_dump_va_count(dump) ? &dump->reg : NULL;
}

const struct dg_region *
dg_dump_region_at_va(const struct dg_dump *dump, uint64_t va)
{
    if (dg_dump_va_count(dump) == 0 || va < dump->reg.va || va - dump->reg.va >= dump->len)
        return NULL;
    return &dump->reg;
}

dg_err
dg_dump_read_va(const struct dg_dump *dump, uint64_t va, void *buf, size_t len)
{
    if (len > DG_DUMP_READ_MAX)
        return DG_E_ARG;
    if (dump->no_reads)
        return DG_E_IO;
    if (dg_dump_region_at_va(dump, va) == NULL || len > dump->len - (va - dump->reg.va))
        return DG_E_NOT_FOUND;
    memcpy(buf, dump->p + (va - dump->reg.va), len);
    return DG_OK;
}

unsigned
dg_dump_word_size(const struct dg_dump *dump)
{
    (void)dump;
    return 8;
}

bool
dg_dump_big_endian(const struct dg_dump *dump)
{
    (void)dump;
    return false;
}

const char *
dg_config_get(const struct dg_config *cfg, const char *name)
{
    (void)cfg;
    (void)name;
    return NULL;
}

/* Runs the detector over buf in chunks of `chunk` bytes on one thread;
 * with no_reads, finish() cannot read the dump. */
static dg_err
run_reads(const uint8_t *buf, size_t len, size_t chunk, bool with_va, bool no_reads,
          struct dg_sink *sink)
{
    const struct dg_detector *d = &dg_detector_ec_raw;
    struct dg_config cfg = {0};
    struct dg_dump dump = {buf, len, {0}, no_reads};
    void *shared = NULL, *ctx = NULL;
    dg_err rc;

    dump.reg = (struct dg_region){.off = 0,
                                  .len = len,
                                  .va = BASE_VA,
                                  .has_va = with_va,
                                  .perms = DG_PERM_R | DG_PERM_W,
                                  .kind = with_va ? DG_SPAN_HEAP : DG_SPAN_RAW,
                                  .thread = -1};
    memset(sink, 0, sizeof *sink);
    pthread_mutex_init(&sink->lock, NULL);
    if ((rc = d->create(&cfg, &shared)) != DG_OK)
        return rc;
    if ((rc = d->init(shared, &ctx)) == DG_OK) {
        for (size_t off = 0; off < len && rc == DG_OK; off += chunk) {
            size_t n = len - off < chunk + d->max_span ? len - off : chunk + d->max_span;
            struct dg_chunk ch = {.p = buf + off, .len = n, .owned = n < chunk ? n : chunk,
                                  .off = off, .last = off + n == len, .dump = &dump};

            rc = d->scan(ctx, &ch, sink);
        }
        d->release(ctx);
    }
    if (rc == DG_OK)
        rc = d->finish(shared, &dump, sink);
    d->destroy(shared);
    return rc;
}

static dg_err
run(const uint8_t *buf, size_t len, size_t chunk, bool with_va, struct dg_sink *sink)
{
    return run_reads(buf, len, chunk, with_va, false, sink);
}

/* ---- image ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t
rnd(void)
{
    uint64_t x = rng_state += 0x9E3779B97F4A7C15ull;

    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint8_t *
random_image(size_t len)
{
    uint8_t *p = malloc(len);

    if (p == NULL)
        abort();
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rnd();

        memcpy(p + i, &v, 8);
    }
    return p;
}

static void
st64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes a BIGNUM header at hdr pointing at `top` LE limbs of v at limbs. */
static void
put_bignum(uint8_t *img, size_t hdr, size_t limbs, const BIGNUM *v, unsigned top, uint32_t flags)
{
    st64(img + hdr, BASE_VA + limbs);
    st32(img + hdr + 8, top);
    st32(img + hdr + 12, top);
    st32(img + hdr + 16, 0);
    st32(img + hdr + 20, flags);
    BN_bn2lebinpad(v, img + limbs, (int)(8 * top));
}

struct eckey {
    EVP_PKEY *pkey;
    BIGNUM *d;
    unsigned top;
    char spki[65];
    uint8_t pub[133];
    size_t pub_len;
    uint8_t *spki_der;
    int spki_len;
};

/* k's SubjectPublicKeyInfo and the SHA-256 of it, from k->pkey. */
static bool
key_identify(struct eckey *k)
{
    struct dg_key id;

    if ((k->spki_len = i2d_PUBKEY(k->pkey, &k->spki_der)) <= 0 ||
        keyproof_identity(k->pkey, &id) != DG_OK)
        return false;
    memcpy(k->spki, id.spki_sha256, sizeof k->spki);
    return true;
}

static struct eckey
make_key(const char *curve, unsigned top)
{
    struct eckey k;

    memset(&k, 0, sizeof k);
    k.pkey = EVP_EC_gen(curve);
    k.top = top;
    if (k.pkey == NULL || !EVP_PKEY_get_bn_param(k.pkey, OSSL_PKEY_PARAM_PRIV_KEY, &k.d) ||
        !EVP_PKEY_get_octet_string_param(k.pkey, OSSL_PKEY_PARAM_PUB_KEY, k.pub, sizeof k.pub,
                                         &k.pub_len) ||
        !key_identify(&k)) {
        fprintf(stderr, "EC key generation failed for %s\n", curve);
        exit(2);
    }
    return k;
}

/* Writes the x coordinate of k's public point, as OpenSSL's EC_POINT holds
 * it, into a BIGNUM at hdr (limbs 0x40 bytes later). */
static void
put_public_x(uint8_t *img, size_t hdr, const struct eckey *k, const char *curve, bool mont)
{
    int nid = EC_curve_nist2nid(curve);
    EC_GROUP *g = EC_GROUP_new_by_curve_name(nid != NID_undef ? nid : OBJ_txt2nid(curve));
    EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
    BIGNUM *p = BN_new(), *x = BN_new(), *r = BN_new();
    BN_CTX *bn = BN_CTX_new();

    if (q == NULL || p == NULL || x == NULL || r == NULL || bn == NULL ||
        !EC_GROUP_get_curve(g, p, NULL, NULL, bn) ||
        !EC_POINT_oct2point(g, q, k->pub, k->pub_len, bn) ||
        !EC_POINT_get_affine_coordinates(g, q, x, NULL, bn) || !BN_one(r) ||
        !BN_lshift(r, r, 64 * ((BN_num_bits(p) + 63) / 64)) ||
        (mont && !BN_mod_mul(x, x, r, p, bn))) {
        fprintf(stderr, "cannot compute x for %s\n", curve);
        exit(2);
    }
    put_bignum(img, hdr, hdr + 0x40, x, (unsigned)(BN_num_bytes(p) + 7) / 8, 0x01);
    BN_CTX_free(bn);
    BN_free(p);
    BN_free(x);
    BN_free(r);
    EC_POINT_free(q);
    EC_GROUP_free(g);
}

/* The key of curve (OpenSSL group name) whose scalar is d, kept in `top`
 * limbs: its public point computed. */
static struct eckey
key_of_scalar(const char *group, const BIGNUM *d, unsigned top)
{
    struct eckey k;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(group));
    EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
    BN_CTX *bn = BN_CTX_new();

    memset(&k, 0, sizeof k);
    k.top = top;
    k.d = BN_dup(d);
    if (q == NULL || bn == NULL || k.d == NULL || EC_POINT_mul(g, q, k.d, NULL, NULL, bn) != 1 ||
        (k.pub_len = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, k.pub,
                                        sizeof k.pub, bn)) == 0 ||
        keyproof_ec_from_scalar(group, k.d, k.pub, k.pub_len, &k.pkey) != DG_OK ||
        !key_identify(&k)) {
        fprintf(stderr, "cannot make a %s key from a scalar\n", group);
        exit(2);
    }
    EC_POINT_free(q);
    EC_GROUP_free(g);
    BN_CTX_free(bn);
    return k;
}

static void
free_key(struct eckey *k)
{
    EVP_PKEY_free(k->pkey);
    BN_clear_free(k->d);
    OPENSSL_free(k->spki_der);
}

static unsigned n_test, n_fail;

static void
ok(bool cond, const char *fmt, ...)
{
    va_list ap;

    n_test++;
    if (!cond)
        n_fail++;
    printf("%s %u - ", cond ? "ok" : "not ok", n_test);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static const struct dg_finding *
find_spki(const struct dg_sink *s, const char *spki)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].key.spki_sha256, spki) == 0)
            return &s->f[i];
    return NULL;
}

int
main(void)
{
    const size_t len = 4u << 20;
    static const struct {
        const char *curve, *jwk;
        unsigned top;
    } spec[] = {
        {"P-256", "P-256", 4},
        {"secp256k1", "secp256k1", 4},
        {"P-384", "P-384", 6},
        {"P-521", "P-521", 9},
    };
    enum { N = sizeof spec / sizeof spec[0] };
    struct eckey keys[N];
    size_t limbs_off[N];
    uint8_t *img = random_image(len);
    struct dg_sink sink;
    dg_err rc;

    for (size_t i = 0; i < N; i++) {
        size_t hdr = 0x10000 + 0x40000 * i + 8 * (i & 1); /* 16- and 8-aligned */

        keys[i] = make_key(spec[i].curve, spec[i].top);
        limbs_off[i] = hdr + 0x1230 + 0x10;
        put_bignum(img, hdr, limbs_off[i], keys[i].d, keys[i].top, 0x0d);
        if (i == 1) {
            /* SEC1 [1] publicKey without a curve OID nearby */
            static const uint8_t tag[] = {0xa1, 0x44, 0x03, 0x42, 0x00};

            memcpy(img + 0x200000 + 0x1000 * i + 3, tag, sizeof tag);
            memcpy(img + 0x200000 + 0x1000 * i + 3 + sizeof tag, keys[i].pub, keys[i].pub_len);
        } else {
            memcpy(img + 0x200000 + 0x1000 * i + 5, keys[i].spki_der, (size_t)keys[i].spki_len);
        }
        /* a decoy: a plausible header whose limbs are not the scalar */
        st64(img + hdr + 0x100, BASE_VA + hdr + 0x2000);
        st32(img + hdr + 0x108, keys[i].top);
        st32(img + hdr + 0x10c, keys[i].top);
        st32(img + hdr + 0x110, 0);
        st32(img + hdr + 0x114, 0x0d);
    }
    rc = run(img, len, 1u << 20, true, &sink);
    ok(rc == DG_OK && sink.n == N, "four keys in a fake image with an address map: %zu findings",
       sink.n);
    for (size_t i = 0; i < N; i++) {
        const struct dg_finding *f = find_spki(&sink, keys[i].spki);

        ok(f != NULL && strcmp(f->type, "ec-private-key") == 0 &&
               f->status == DG_STATUS_CONFIRMED && f->severity == DG_SEV_HIGH &&
               f->off == limbs_off[i] && f->len == 8ull * keys[i].top &&
               strcmp(f->encoding, "bn-le64") == 0 && strcmp(f->key.curve, spec[i].jwk) == 0 &&
               strstr(f->preview, "redacted") != NULL,
           "%s: confirmed at the limbs' offset with the right SPKI SHA-256", spec[i].curve);
        if (f != NULL && f->off != limbs_off[i])
            printf("# offset 0x%llx, expected 0x%zx\n", (unsigned long long)f->off, limbs_off[i]);
    }
    rc = run(img, len, 64u << 10, true, &sink);
    ok(rc == DG_OK && sink.n == N, "same image in 64 KiB chunks: %zu findings", sink.n);
    /* the limbs lie 0x1230 bytes past their header: in its chunk, scan()
     * takes them; in 4 KiB chunks, mostly not, and finish() reads them */
    rc = run_reads(img, len, 1u << 20, true, true, &sink);
    ok(rc == DG_OK && sink.n == N,
       "same image, the dump unreadable after the scan: %zu findings (the limbs were taken "
       "with their chunk)", sink.n);
    rc = run(img, len, 4u << 10, true, &sink);
    ok(rc == DG_OK && sink.n == N, "same image in 4 KiB chunks: %zu findings (limbs read in "
                                    "finish())", sink.n);
    rc = run_reads(img, len, 4u << 10, true, true, &sink);
    ok(rc == DG_OK && sink.n < N,
       "in 4 KiB chunks with the dump unreadable: %zu findings (fewer: not taken)", sink.n);
    rc = run(img, len, 1u << 20, false, &sink);
    ok(rc == DG_OK && sink.n == 0, "same image without an address map: no finding");
    free(img);

    /* No encoded point: the scalar and its public x as OpenSSL's structs hold them. */
    img = random_image(len);
    for (size_t i = 0; i < N; i++) {
        size_t hdr = 0x10000 + 0x40000 * i;
        bool mont = strcmp(spec[i].curve, "P-521") != 0;

        limbs_off[i] = hdr + 0x1240;
        put_bignum(img, hdr, limbs_off[i], keys[i].d, keys[i].top, 0x0d);
        put_public_x(img, hdr + 0x8000, &keys[i], spec[i].curve, mont);
        /* the same x beside an unflagged scalar: not tried */
        put_bignum(img, 0x300000 + 0x1000 * i, 0x300000 + 0x1000 * i + 0x40, keys[i].d,
                   keys[i].top, 0x01);
        put_public_x(img, 0x300000 + 0x1000 * i + 0x100, &keys[(i + 1) % N],
                     spec[(i + 1) % N].curve, strcmp(spec[(i + 1) % N].curve, "P-521") != 0);
    }
    rc = run(img, len, 1u << 20, true, &sink);
    ok(rc == DG_OK && sink.n == N, "four keys whose public points are only OpenSSL BIGNUMs: "
                                    "%zu findings", sink.n);
    for (size_t i = 0; i < N; i++) {
        const struct dg_finding *f = find_spki(&sink, keys[i].spki);

        ok(f != NULL && f->status == DG_STATUS_CONFIRMED && f->off == limbs_off[i] &&
               strstr(f->note, spec[i].top == 9 ? "the affine OpenSSL BIGNUM" : "the Montgomery-form")
                   != NULL,
           "%s: proven through d*G against its %s x coordinate", spec[i].curve,
           spec[i].top == 9 ? "plain" : "Montgomery-form");
        if (f != NULL && f->off != limbs_off[i])
            printf("# offset 0x%llx, expected 0x%zx; %s\n", (unsigned long long)f->off,
                   limbs_off[i], f->note);
    }
    /* only the unflagged scalars (their x is there): nothing */
    for (size_t i = 0; i < N; i++)
        memset(img + 0x10000 + 0x40000 * i, 0, 24);
    rc = run(img, len, 1u << 20, true, &sink);
    ok(rc == DG_OK && sink.n == 0, "scalars without CONSTTIME|SECURE are not tried: %zu findings",
       sink.n);
    /* the flagged scalars again, but no x anywhere: nothing */
    for (size_t i = 0; i < N; i++) {
        put_bignum(img, 0x10000 + 0x40000 * i, limbs_off[i], keys[i].d, keys[i].top, 0x0d);
        memset(img + 0x10000 + 0x40000 * i + 0x8000, 0, 24);
        memset(img + 0x300000 + 0x1000 * i + 0x100, 0, 24);
    }
    rc = run(img, len, 1u << 20, true, &sink);
    ok(rc == DG_OK && sink.n == 0, "flagged scalars with no public x in the dump: %zu findings",
       sink.n);
    free(img);

    /* A dozen flagged scalars on secp256k1 and P-384 before the keys
     * (candidates are tried by address), more than COMB_FROM: every d*G
     * comes from the fixed-base comb, not from EC_POINT_mul(). */
    {
        static const struct {
            const char *curve;
            unsigned top;
        } lad[] = {{"secp256k1", 4}, {"P-384", 6}};
        enum { N_LAD = 3, N_DECOY = 12 };
        struct eckey lk[2][N_LAD];
        size_t at[2][N_LAD];

        img = random_image(len);
        for (size_t c = 0; c < 2; c++) {
            for (size_t j = 0; j < N_DECOY; j++) { /* random limbs: plausible, no x */
                size_t hdr = 0x10000 + 0x8000 * c + 0x100 * j;

                st64(img + hdr, BASE_VA + hdr + 0x40);
                st32(img + hdr + 8, lad[c].top);
                st32(img + hdr + 12, lad[c].top);
                st32(img + hdr + 16, 0);
                st32(img + hdr + 20, 0x0d);
            }
            for (size_t j = 0; j < N_LAD; j++) {
                size_t hdr = 0x200000 + 0x40000 * c + 0x10000 * j;

                lk[c][j] = make_key(lad[c].curve, lad[c].top);
                at[c][j] = hdr + 0x40;
                put_bignum(img, hdr, at[c][j], lk[c][j].d, lad[c].top, 0x0d);
                put_public_x(img, hdr + 0x8000, &lk[c][j], lad[c].curve, true);
            }
        }
        rc = run(img, len, 1u << 20, true, &sink);
        ok(rc == DG_OK && sink.n == 2 * N_LAD,
           "%d decoy scalars, then %d keys each of secp256k1 and P-384: %zu findings",
           2 * N_DECOY, N_LAD, sink.n);
        for (size_t c = 0; c < 2; c++)
            for (size_t j = 0; j < N_LAD; j++) {
                const struct dg_finding *f = find_spki(&sink, lk[c][j].spki);

                ok(f != NULL && f->status == DG_STATUS_CONFIRMED && f->off == at[c][j],
                   "%s key %zu, after %d scalars on its curve: confirmed at its limbs",
                   lad[c].curve, j, N_DECOY);
                free_key(&lk[c][j]);
            }
        free(img);
    }

    /* Limb counts: a P-521 scalar below 2^512 is kept in 8 limbs (OpenSSL
     * keeps no leading zero limb) and is found; a 192-bit number is no key
     * of a 256-bit curve, even beside a P-256 point of its own. */
    {
        BIGNUM *d8 = BN_new(), *d3 = BN_new();
        struct eckey k8, k3;
        const struct dg_finding *f8, *f3;

        if (d8 == NULL || d3 == NULL || !BN_rand(d8, 500, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
            !BN_rand(d3, 190, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY)) {
            fprintf(stderr, "BN_rand failed\n");
            return 2;
        }
        k8 = key_of_scalar("secp521r1", d8, 8);
        k3 = key_of_scalar("prime256v1", d3, 3);
        img = random_image(len);
        put_bignum(img, 0x10000, 0x11240, k8.d, 8, 0x0d);
        memcpy(img + 0x200000, k8.spki_der, (size_t)k8.spki_len);
        put_bignum(img, 0x50000, 0x51240, k3.d, 3, 0x0d);
        memcpy(img + 0x210000, k3.spki_der, (size_t)k3.spki_len);
        rc = run(img, len, 1u << 20, true, &sink);
        f8 = find_spki(&sink, k8.spki);
        f3 = find_spki(&sink, k3.spki);
        ok(rc == DG_OK && f8 != NULL && f8->status == DG_STATUS_CONFIRMED && f8->off == 0x11240 &&
               f8->len == 64 && strcmp(f8->key.curve, "P-521") == 0,
           "a P-521 scalar below 2^512 in 8 limbs: confirmed");
        ok(rc == DG_OK && f3 == NULL && sink.n == 1,
           "a 192-bit number beside its P-256 point: not tried (%zu findings)", sink.n);
        free_key(&k8);
        free_key(&k3);
        BN_free(d8);
        BN_free(d3);
        free(img);
    }

    /* The JDK's bare SEC1 {1, d} (no curve, no point): P-256 with its SPKI
     * elsewhere is confirmed at the encoding, P-384 and P-521 without any
     * point are candidates named by SHA-256(d); a P-256 encoding whose d is
     * not below the order, and one with the wrong length byte, stay
     * silent. The test's run() gives no trigger hits: this is the
     * detector's own pass. */
    {
        static const uint8_t head[3][7] = {{0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20},
                                           {0x30, 0x35, 0x02, 0x01, 0x01, 0x04, 0x30},
                                           {0x30, 0x47, 0x02, 0x01, 0x01, 0x04, 0x42}};
        static const size_t at[3] = {0x10003, 0x50105, 0x90207}; /* any alignment */
        const size_t idx[3] = {0, 2, 3};                          /* P-256, P-384, P-521 */
        uint8_t dbe[66];
        char want[3][65];
        const struct dg_finding *f[3] = {NULL, NULL, NULL};
        size_t n_cand = 0;

        img = random_image(len);
        for (size_t j = 0; j < 3; j++) {
            size_t n = head[j][6];

            memcpy(img + at[j], head[j], 7);
            BN_bn2binpad(keys[idx[j]].d, dbe, (int)n);
            memcpy(img + at[j] + 7, dbe, n);
            keyproof_sha256_hex(dbe, n, want[j]);
        }
        memcpy(img + 0x200005, keys[0].spki_der, (size_t)keys[0].spki_len);
        memcpy(img + 0x300000, head[0], 7); /* d = 2^256 - 1: no scalar of P-256 */
        memset(img + 0x300007, 0xff, 32);
        memcpy(img + 0x310000, head[1], 7); /* P-384's length byte, 32 bytes of d */
        img[0x310006] = 0x20;
        rc = run(img, len, 1u << 20, true, &sink);
        for (size_t i = 0; i < sink.n; i++) {
            if (strcmp(sink.f[i].encoding, "sec1-bare") != 0)
                continue;
            for (size_t j = 0; j < 3; j++)
                if (sink.f[i].off == at[j])
                    f[j] = &sink.f[i];
            n_cand += sink.f[i].status == DG_STATUS_CANDIDATE;
        }
        ok(rc == DG_OK && sink.n == 3, "three bare SEC1 keys and two decoys: %zu findings",
           sink.n);
        ok(f[0] != NULL && f[0]->status == DG_STATUS_CONFIRMED &&
               strcmp(f[0]->key.spki_sha256, keys[0].spki) == 0 && f[0]->len == 7 + 32,
           "P-256 bare SEC1 with its SPKI in the dump: confirmed at the encoding");
        for (size_t j = 1; j < 3; j++)
            ok(f[j] != NULL && f[j]->status == DG_STATUS_CANDIDATE &&
                   f[j]->severity == DG_SEV_LOW && strcmp(f[j]->type, "ec-private-key") == 0 &&
                   strcmp(f[j]->key.key_sha256, want[j]) == 0 && f[j]->key.spki_sha256[0] == 0 &&
                   strcmp(f[j]->key.curve, spec[idx[j]].jwk) == 0 &&
                   strstr(f[j]->preview, "redacted") != NULL,
               "%s bare SEC1 with no point in the dump: a weak candidate named by SHA-256(d)",
               spec[idx[j]].curve);
        ok(n_cand == 2, "no candidate for the decoys");
        rc = run(img, len, 1u << 20, false, &sink);
        ok(rc == DG_OK && sink.n == 0, "the same without an address map: no finding");
        OPENSSL_cleanse(dbe, sizeof dbe);
        free(img);
    }

    /* The JDK's RFC 8410 CurvePrivateKey "04 len seed" in a byte[] (length
     * word 2 + len right before it, the 04 8-byte aligned): Ed25519 and
     * Ed448 with their SPKIs elsewhere are confirmed at the 04; an X25519
     * one without an SPKI, and a misaligned Ed25519 one, stay silent. */
    {
        static const char *const types[3] = {"ED25519", "ED448", "X25519"};
        static const size_t at[3] = {0x20004, 0x60004, 0xa0004}; /* the 04: at + 4 */
        static const size_t spki_at[2] = {0x280001, 0x2c0003};
        EVP_PKEY *pk[3];
        char spki[3][65];
        bool all = true;

        img = random_image(len);
        for (size_t j = 0; j < 3; j++) {
            uint8_t priv[57], *der = NULL;
            size_t n = sizeof priv;
            struct dg_key k;
            int dl;

            memset(&k, 0, sizeof k);
            pk[j] = EVP_PKEY_Q_keygen(NULL, NULL, types[j]);
            if (pk[j] == NULL || EVP_PKEY_get_raw_private_key(pk[j], priv, &n) != 1 ||
                keyproof_identity(pk[j], &k) != DG_OK)
                abort();
            memcpy(spki[j], k.spki_sha256, 65);
            st32(img + at[j], (uint32_t)(2 + n));
            img[at[j] + 4] = 0x04;
            img[at[j] + 5] = (uint8_t)n;
            memcpy(img + at[j] + 6, priv, n);
            if (j == 0) { /* a misaligned copy of the same: not a byte[]'s element */
                st32(img + 0xe0002, (uint32_t)(2 + n));
                img[0xe0006] = 0x04;
                img[0xe0007] = (uint8_t)n;
                memcpy(img + 0xe0008, priv, n);
            }
            OPENSSL_cleanse(priv, sizeof priv);
            if (j < 2 && (dl = i2d_PUBKEY(pk[j], &der)) > 0) {
                memcpy(img + spki_at[j], der, (size_t)dl);
                OPENSSL_free(der);
            }
        }
        rc = run(img, len, 1u << 20, true, &sink);
        for (size_t j = 0; j < 2; j++) {
            const struct dg_finding *f = find_spki(&sink, spki[j]);

            all &= f != NULL && f->status == DG_STATUS_CONFIRMED && f->off == at[j] + 4 &&
                   strcmp(f->encoding, "rfc8410-octet") == 0 &&
                   strstr(f->preview, "redacted") != NULL;
        }
        ok(rc == DG_OK && all && sink.n == 2,
           "the JDK's Ed25519 and Ed448 OCTET STRINGs with their SPKIs: confirmed at the 04; "
           "X25519 without one and a misaligned copy: silent (%zu findings)",
           sink.n);
        for (size_t j = 0; j < 3; j++)
            EVP_PKEY_free(pk[j]);
        free(img);
    }

    /* A heap's false headers by the thousand, their limbs no random number
     * (zeros, small counts, pointers): none takes a candidate's place, so
     * a key behind more of them in one chunk than a chunk keeps (8192) is
     * still proven, and nothing says the candidates were capped. */
    img = random_image(len);
    {
        struct eckey k = make_key("P-256", 4);
        const size_t n_false = 9000, junk = 0x80000, hdr = 0x100 + 24 * n_false + 0x40;
        const uint64_t kinds[3] = {0, 0x40, BASE_VA + 0x1000}; /* zero, small, a pointer */

        for (size_t i = 0; i < 3; i++)
            for (size_t w = 0; w < 4; w++)
                st64(img + junk + 0x40 * i + 8 * w, w == 3 || i == 2 ? kinds[i] + w : 0);
        for (size_t i = 0; i < n_false; i++) {
            uint8_t *h = img + 0x100 + 24 * i;

            st64(h, BASE_VA + junk + 0x40 * (i % 3));
            st32(h + 8, 4);
            st32(h + 12, 4);
            st32(h + 16, 0);
            st32(h + 20, 0x0d);
        }
        put_bignum(img, hdr, hdr + 0x100, k.d, 4, 0x0d);
        memcpy(img + 0x200005, k.spki_der, (size_t)k.spki_len);
        rc = run(img, len, 1u << 20, true, &sink);
        ok(rc == DG_OK && sink.n == 1 && find_spki(&sink, k.spki) != NULL && sink.n_warn == 0,
           "a key behind 9,000 headers of no random number in its chunk: confirmed, no "
           "candidate capped (%zu findings, %zu warnings)",
           sink.n, sink.n_warn);
        free_key(&k);
    }
    free(img);

    img = random_image(16u << 20);
    rc = run(img, 16u << 20, 1u << 20, true, &sink);
    ok(rc == DG_OK && sink.n == 0, "16 MiB of random bytes: no finding");
    free(img);
    for (size_t i = 0; i < N; i++)
        free_key(&keys[i]);
    printf("1..%u\n", n_test);
    return n_fail == 0 ? 0 : 1;
}
