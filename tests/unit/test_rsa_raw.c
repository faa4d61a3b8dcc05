/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_rsa_raw.c - unit test of the rsa-raw detector (TAP output).
 *
 * Generates real RSA keys with OpenSSL at run time, lays their numbers out in
 * buffers of random filler, zeros and text the way OpenSSL (LE limbs), .NET
 * (BE byte[]) and Java (BigInteger int[] mag) keep them, and checks the
 * findings: count, type, encoding, offset and SPKI SHA-256 against
 * keyproof_identity() of the original key. Also: a lone prime with its dP,
 * a key across a 64 KiB chunk edge with one and two threads, a modulus far
 * from the primes found through the address map, a read-only file mapping
 * that is not searched, a key whose numbers lie megabytes apart found through
 * the OpenSSL, Go and mbedTLS headers that point at them, and 64 MiB of random
 * bytes that must stay silent.
 *
 * The detector is driven directly (create/init/scan/finish) by a small chunk
 * runner below that behaves like the engine (owned part + max_span margin);
 * the dump and sink services are stubbed here, so this links only the
 * detector, keyproof and util. Only fingerprints are compared and printed.
 */
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <dumpgate/detector.h>

#include "../../scanner/engine/chunkmemo.h"
#include "../../scanner/proof/keyproof.h"
#include "../../detectors/rsa_tables.h"

extern const struct dg_detector dg_detector_rsa_raw;

/* ---- stubbed engine services ---- */

#define MAX_FINDINGS 64

struct dg_sink {
    pthread_mutex_t lock;
    struct dg_finding f[MAX_FINDINGS];
    size_t n;
    size_t n_warn;
};

struct dg_dump {
    const uint8_t *p;
    size_t len;
    struct dg_region reg; /* one region covering the buffer */
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

dg_err
dg_dump_read_va(const struct dg_dump *dump, uint64_t va, void *buf, size_t len)
{
    if (len > DG_DUMP_READ_MAX)
        return DG_E_ARG;
    if (dg_dump_va_count(dump) == 0 || va < dump->reg.va || va - dump->reg.va > dump->len ||
        len > dump->len - (va - dump->reg.va))
        return DG_E_NOT_FOUND;
    memcpy(buf, dump->p + (va - dump->reg.va), len);
    return DG_OK;
}

const struct dg_region *
dg_dump_region_at_va(const struct dg_dump *dump, uint64_t va)
{
    if (dg_dump_va_count(dump) == 0 || va < dump->reg.va || va - dump->reg.va >= dump->len)
        return NULL;
    return &dump->reg;
}

unsigned
dg_dump_word_size(const struct dg_dump *dump)
{
    return dump != NULL ? 8 : 0;
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
    size_t n = strlen(name);

    for (const char *const *kv = cfg != NULL ? cfg->keyvals : NULL; kv != NULL && *kv; kv++)
        if (strncmp(*kv, name, n) == 0 && (*kv)[n] == '=')
            return *kv + n + 1;
    return NULL;
}

/* ---- chunk runner ---- */

struct job {
    const struct dg_detector *d;
    const struct dg_dump *dump;
    void *shared;
    size_t chunk;
    unsigned threads, index;
    struct dg_sink *sink;
    dg_err rc;
};

static void *
worker(void *arg)
{
    struct job *j = arg;
    void *ctx = NULL;

    struct dg_chunk_memo memo = {0};

    j->rc = j->d->init(j->shared, &ctx);
    if (j->rc != DG_OK)
        return NULL;
    for (size_t k = j->index; k * j->chunk < j->dump->len; k += j->threads) {
        size_t off = k * j->chunk, rest = j->dump->len - off;
        size_t len = rest < j->chunk + j->d->max_span ? rest : j->chunk + j->d->max_span;
        struct dg_chunk ch = {.p = j->dump->p + off,
                              .len = len,
                              .owned = len < j->chunk ? len : j->chunk,
                              .off = off,
                              .last = off + len == j->dump->len,
                              .dump = j->dump};
        dg_err rc;

        /* odd chunks carry a memo as the engine's do, even ones none (the
         * detector's own memo then): it must find the same either way */
        if (k % 2 == 1 && chunk_memo_reset(&memo, &ch) == DG_OK)
            ch.memo = &memo;
        rc = j->d->scan(ctx, &ch, j->sink);
        if (rc != DG_OK)
            j->rc = rc;
    }
    chunk_memo_free(&memo);
    j->d->release(ctx);
    return NULL;
}

/* Scans buf like the engine would, as the one region reg. */
static dg_err
run_in(const uint8_t *buf, size_t len, size_t chunk, unsigned threads, struct dg_region reg,
       const char *option, struct dg_sink *sink)
{
    const struct dg_detector *d = &dg_detector_rsa_raw;
    const char *kv[2] = {option, NULL};
    struct dg_config cfg = {.keyvals = kv};
    struct dg_dump dump = {buf, len, reg};
    struct job jobs[4];
    pthread_t tid[4];
    void *shared = NULL;
    dg_err rc;

    memset(sink, 0, sizeof *sink);
    pthread_mutex_init(&sink->lock, NULL);
    rc = d->create(&cfg, &shared);
    if (rc != DG_OK)
        return rc;
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] = (struct job){d, &dump, shared, chunk, threads, t, sink, DG_OK};
        pthread_create(&tid[t], NULL, worker, &jobs[t]);
    }
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        if (jobs[t].rc != DG_OK)
            rc = jobs[t].rc;
    }
    if (rc == DG_OK)
        rc = d->finish(shared, &dump, sink);
    d->destroy(shared);
    return rc;
}

/* Scans buf like the engine would; with_va gives it one memory region (heap). */
static dg_err
run(const uint8_t *buf, size_t len, size_t chunk, unsigned threads, bool with_va,
    const char *option, struct dg_sink *sink)
{
    struct dg_region reg = {.off = 0,
                            .len = len,
                            .va = 0x7f1234560000ull,
                            .has_va = with_va,
                            .perms = DG_PERM_R | DG_PERM_W,
                            .kind = with_va ? DG_SPAN_HEAP : DG_SPAN_RAW,
                            .thread = -1};

    return run_in(buf, len, chunk, threads, reg, option, sink);
}

/* ---- data ---- */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t
rnd(void)
{
    uint64_t x = rng_state += 0x9E3779B97F4A7C15ull;

    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Random bytes with a zero page and a text page every 64 KiB. */
static uint8_t *
filler(size_t len)
{
    static const char text[] = "-----BEGIN nothing----- lorem ipsum dolor sit amet, ";
    uint8_t *p = malloc(len);

    if (p == NULL)
        abort();
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rnd();

        memcpy(p + i, &v, 8);
    }
    for (size_t off = 0x8000; off + 0x2000 <= len; off += 0x10000) {
        memset(p + off, 0, 0x1000);
        for (size_t i = 0; i < 0x1000; i++)
            p[off + 0x1000 + i] = (uint8_t)text[i % (sizeof text - 1)];
    }
    return p;
}

enum rep { LE, BE, JAVA };

/* Writes bn as a k-word number in layout rep at buf+off (8-aligned), with the
 * header word its runtime puts before it: a glibc chunk size for OpenSSL's
 * limbs, a .NET byte[] length for big-endian bytes, a compressed class
 * pointer and int[] length for Java. */
static void
put(uint8_t *buf, size_t off, const BIGNUM *bn, unsigned k, enum rep rep)
{
    uint8_t *o = buf + off;
    uint64_t hdr = rep == LE ? (8u * k + 16u) | 1u
                 : rep == BE ? 8u * k
                             : (uint64_t)(2u * k) << 32 | 0x00000d68u;

    memcpy(o - 8, &hdr, 8);

    if (rep == LE) {
        BN_bn2lebinpad(bn, o, (int)(8 * k));
        return;
    }
    BN_bn2binpad(bn, o, (int)(8 * k));
    if (rep == JAVA)
        for (unsigned g = 0; g < 2 * k; g++) {
            uint8_t t0 = o[4 * g], t1 = o[4 * g + 1];

            o[4 * g] = o[4 * g + 3];
            o[4 * g + 1] = o[4 * g + 2];
            o[4 * g + 2] = t1;
            o[4 * g + 3] = t0;
        }
}

struct key {
    EVP_PKEY *pkey;
    BIGNUM *n, *p, *q, *dp, *dq, *qi;
    unsigned k; /* words per prime */
    char spki[65];
};

static struct key
make_key(unsigned bits)
{
    struct key key;
    struct dg_key id;

    memset(&key, 0, sizeof key);
    key.pkey = EVP_RSA_gen(bits);
    if (key.pkey == NULL ||
        !EVP_PKEY_get_bn_param(key.pkey, OSSL_PKEY_PARAM_RSA_N, &key.n) ||
        !EVP_PKEY_get_bn_param(key.pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &key.p) ||
        !EVP_PKEY_get_bn_param(key.pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &key.q) ||
        !EVP_PKEY_get_bn_param(key.pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, &key.dp) ||
        !EVP_PKEY_get_bn_param(key.pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, &key.dq) ||
        !EVP_PKEY_get_bn_param(key.pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &key.qi) ||
        keyproof_identity(key.pkey, &id) != DG_OK) {
        fprintf(stderr, "key generation failed\n");
        exit(2);
    }
    key.k = bits / 128;
    memcpy(key.spki, id.spki_sha256, sizeof key.spki);
    return key;
}

static void
free_key(struct key *key)
{
    EVP_PKEY_free(key->pkey);
    BN_free(key->n);
    BN_clear_free(key->p);
    BN_clear_free(key->q);
    BN_clear_free(key->dp);
    BN_clear_free(key->dq);
    BN_clear_free(key->qi);
}

/* OpenSSL-like placement: n, then p and q 0x90 apart, dP/dQ/qInv 0xb0 apart. */
static void
place_key(uint8_t *buf, size_t n_off, size_t p_off, const struct key *key, enum rep rep)
{
    size_t stride = 8 * key->k + 16;

    put(buf, n_off, key->n, 2 * key->k, rep);
    put(buf, p_off, key->p, key->k, rep);
    put(buf, p_off + stride, key->q, key->k, rep);
    put(buf, p_off + 0x3800, key->dp, key->k, rep);
    put(buf, p_off + 0x3800 + stride, key->dq, key->k, rep);
    put(buf, p_off + 0x3800 + 2 * stride, key->qi, key->k, rep);
}

/* ---- checks ---- */

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

static size_t
count_type(const struct dg_sink *s, const char *type)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        n += strcmp(s->f[i].type, type) == 0;
    return n;
}

/* True if the sink holds exactly one confirmed key with this fingerprint, at
 * offset off, in encoding enc, and nothing else. */
static bool
one_key(const struct dg_sink *s, const struct key *key, uint64_t off, const char *enc)
{
    const struct dg_finding *f = &s->f[0];

    if (s->n != 1) {
        for (size_t i = 0; i < s->n; i++)
            printf("# finding %zu: %s %s off 0x%llx\n", i, s->f[i].type,
                   dg_status_name(s->f[i].status), (unsigned long long)s->f[i].off);
        return false;
    }
    if (strcmp(f->type, "rsa-private-key") != 0 || f->status != DG_STATUS_CONFIRMED ||
        f->severity != DG_SEV_HIGH || strcmp(f->key.spki_sha256, key->spki) != 0 ||
        strcmp(f->encoding, enc) != 0 || f->len != 8ull * key->k ||
        f->key.bits != 128 * key->k || strstr(f->preview, "redacted") == NULL) {
        printf("# got %s %s enc %s bits %u off 0x%llx proof '%s'\n", f->type,
               dg_status_name(f->status), f->encoding, f->key.bits,
               (unsigned long long)f->off, f->proof);
        return false;
    }
    if (f->off != off) {
        printf("# offset 0x%llx, expected 0x%llx\n", (unsigned long long)f->off,
               (unsigned long long)off);
        return false;
    }
    return true;
}

static void
test_layout(const struct key *kp, enum rep rep, const char *enc, bool with_va)
{
    const size_t len = 2u << 20;
    const struct key key = *kp;
    unsigned bits = 128 * key.k;
    uint8_t *buf = filler(len);
    size_t n_off = 0x40008, p_off = n_off + 0xB000; /* odd multiple of 8 */
    struct dg_sink sink;
    dg_err rc;

    struct timespec t0, t1, t2;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = run(buf, len, 8u << 20, 1, with_va, NULL, &sink); /* filler only */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    place_key(buf, n_off, p_off, &key, rep);
    rc = rc == DG_OK ? run(buf, len, 8u << 20, 1, with_va, NULL, &sink) : rc;
    clock_gettime(CLOCK_MONOTONIC, &t2);
    ok(rc == DG_OK && one_key(&sink, &key, p_off, enc), "RSA-%u in %s%s: one confirmed key", bits,
       enc, with_va ? " (with address map)" : "");
    printf("# RSA-%u %s: %.1f ms for the key (scan of 2 MiB without it: %.1f ms)\n", bits, enc,
           ((double)(t2.tv_sec - t1.tv_sec) - (double)(t1.tv_sec - t0.tv_sec)) * 1e3 +
               ((double)(t2.tv_nsec - t1.tv_nsec) - (double)(t1.tv_nsec - t0.tv_nsec)) / 1e6,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    free(buf);
}

/* A SymCrypt RSAKEY as keyforms.md section 3.3 lays it out (one allocation:
 * header, modulus object, prime modulus objects each as wide as the modulus,
 * CRT inverses in Montgomery form, d, then dP and dQ as wide as the modulus;
 * little-endian words, zeros above each value, 16-byte alignment): rsa-raw
 * finds p through dP and proves the key with n from the modulus object. */
static void
test_symcrypt_layout(const struct key *key)
{
    const size_t len = 2u << 20, x = 0x40000, w = 16u * key->k; /* modulus bytes */
    uint8_t *buf = filler(len);
    size_t at = x, p_at, obj = 0x40;
    struct dg_sink sink;
    dg_err rc;

    for (size_t i = 0; i < 0x100; i += 8) { /* header: sizes, counts, flags */
        uint64_t v = (i / 8) % 5 == 0 ? 128u * key->k : i / 8;

        memcpy(buf + at + i, &v, 8);
    }
    at += 0x100;
    memset(buf + at, 0, obj); /* modulus object header, then n */
    BN_bn2lebinpad(key->n, buf + at + obj, (int)w);
    at += obj + w;
    p_at = at + obj;
    for (int i = 0; i < 2; i++) { /* the primes, as wide as n */
        memset(buf + at, 0, obj);
        BN_bn2lebinpad(i == 0 ? key->p : key->q, buf + at + obj, (int)w);
        at += obj + w;
    }
    at += 2 * w + w; /* CRT inverses (Montgomery form) and d: the filler */
    BN_bn2lebinpad(key->dp, buf + at, (int)w);
    BN_bn2lebinpad(key->dq, buf + at + w, (int)w);
    rc = run(buf, len, 8u << 20, 1, false, NULL, &sink);
    ok(rc == DG_OK && one_key(&sink, key, p_at, "bn-le64"),
       "RSA-%u in a SymCrypt RSAKEY layout: one confirmed key", 128 * key->k);
    free(buf);
}

/* The anchor gate: the same limbs with no structured word within 4 KiB
 * (nothing a heap, an array or a blob would put around them) are not
 * searched; one header word before p is enough to find them again. */
static void
test_unanchored(void)
{
    const size_t len = 1u << 20;
    struct key key = make_key(2048);
    uint8_t *buf = malloc(len);
    struct dg_sink sink;
    dg_err rc;
    uint64_t hdr = 0x91;

    if (buf == NULL)
        abort();
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rnd() | 0x0101010101010101ull; /* no zero byte anywhere */

        memcpy(buf + i, &v, 8);
    }
    BN_bn2lebinpad(key.p, buf + 0x40008, 128);
    BN_bn2lebinpad(key.dp, buf + 0x40808, 128);
    rc = run(buf, len, 8u << 20, 1, false, NULL, &sink);
    ok(rc == DG_OK && sink.n == 0, "p and dP in random bytes with no structured word: not searched");
    memcpy(buf + 0x40000, &hdr, 8);
    rc = rc == DG_OK ? run(buf, len, 8u << 20, 1, false, NULL, &sink) : rc;
    ok(rc == DG_OK && count_type(&sink, "rsa-prime") == 1, "the same with a chunk header before p: found");
    free(buf);
    free_key(&key);
}

static void
test_partial(void)
{
    const size_t len = 1u << 20;
    struct key key = make_key(2048);
    uint8_t *buf = filler(len);
    uint8_t be[256];
    char want[65];
    int blen = BN_bn2bin(key.p, be);
    struct dg_sink sink;
    dg_err rc;

    keyproof_sha256_hex(be, (size_t)blen, want);
    put(buf, 0x20000, key.p, key.k, LE);
    put(buf, 0x23800, key.dp, key.k, LE);
    rc = run(buf, len, 8u << 20, 1, false, NULL, &sink);
    ok(rc == DG_OK && sink.n == 1 && count_type(&sink, "rsa-prime") == 1 &&
           sink.f[0].status == DG_STATUS_CONFIRMED && sink.f[0].off == 0x20000 &&
           strcmp(sink.f[0].key.key_sha256, want) == 0 && sink.f[0].key.bits == 2048 &&
           sink.f[0].key.spki_sha256[0] == '\0',
       "p and dP without modulus: one confirmed rsa-prime with key_sha256 of p");
    free(buf);
    free_key(&key);
}

static void
test_chunk_edge(void)
{
    const size_t len = 1u << 20, chunk = 64u << 10;
    struct key key = make_key(2048);
    uint8_t *buf = filler(len);
    size_t p_off = 5 * chunk - 0x40, n_off = p_off + 0x6000;

    /* p straddles the edge of chunk 4; dP and n lie in the next chunk. */
    place_key(buf, n_off, p_off, &key, LE);
    for (unsigned threads = 1; threads <= 2; threads++) {
        struct dg_sink sink;
        dg_err rc = run(buf, len, chunk, threads, false, NULL, &sink);

        ok(rc == DG_OK && one_key(&sink, &key, p_off, "bn-le64"),
           "key across a 64 KiB chunk edge, %u thread(s): found once", threads);
    }
    /* dP before p, p just after the edge: the pair belongs to the first chunk. */
    {
        struct dg_sink sink;
        uint8_t *b2 = filler(len);
        size_t p2 = 6 * chunk + 0x100, stride = 8 * key.k + 16;
        dg_err rc;

        put(b2, p2, key.p, key.k, BE);
        put(b2, p2 + stride, key.q, key.k, BE);
        put(b2, p2 - 0x3000, key.dp, key.k, BE);
        put(b2, p2 - 0x3000 + stride, key.dq, key.k, BE);
        put(b2, p2 + 0x2000, key.n, 2 * key.k, BE);
        rc = run(b2, len, chunk, 2, false, NULL, &sink);
        ok(rc == DG_OK && one_key(&sink, &key, p2, "bn-be"),
           "dP before the chunk edge, p after it, 2 threads: found once");
        free(b2);
    }
    free(buf);
    free_key(&key);
}

/* The modulus 384 KiB before the primes: beyond the scan radius, found in
 * finish() through the address map; without one the primes stay alone. */
static void
test_far_modulus(void)
{
    const size_t len = 2u << 20;
    struct key key = make_key(2048);
    uint8_t *buf = filler(len);
    size_t n_off = 0x10000, p_off = n_off + 0x60000;
    struct dg_sink sink;
    dg_err rc;

    place_key(buf, n_off, p_off, &key, LE);
    rc = run(buf, len, 8u << 20, 1, true, NULL, &sink);
    ok(rc == DG_OK && one_key(&sink, &key, p_off, "bn-le64"),
       "modulus 384 KiB away, address map: key found in finish()");
    rc = run(buf, len, 8u << 20, 1, false, NULL, &sink);
    ok(rc == DG_OK && sink.n == 2 && count_type(&sink, "rsa-prime") == 2,
       "modulus 384 KiB away, raw buffer: two rsa-prime findings");
    free(buf);
    free_key(&key);
}

/* A file's read-only image (a library's code and constants, a file mapped for
 * reading) holds no number the process computed: the same key is not
 * searched there, and is found when the mapping is writable (a library's
 * .data) or anonymous memory made read-only (mprotect after loading). */
static void
test_file_image(void)
{
    const size_t len = 2u << 20;
    struct key key = make_key(2048);
    uint8_t *buf = filler(len);
    size_t n_off = 0x10000, p_off = n_off + 0x800;
    struct dg_region reg = {.off = 0, .len = len, .va = 0x7f1234560000ull, .has_va = true,
                            .perms = DG_PERM_R, .kind = DG_SPAN_FILE,
                            .name = "/usr/lib/x86_64-linux-gnu/libexample.so.1", .thread = -1};
    struct dg_sink sink;
    dg_err rc;

    place_key(buf, n_off, p_off, &key, LE);
    rc = run_in(buf, len, 1u << 20, 1, reg, NULL, &sink);
    ok(rc == DG_OK && sink.n == 0, "key in a read-only file mapping: not searched");
    reg.perms = DG_PERM_R | DG_PERM_W;
    rc = run_in(buf, len, 1u << 20, 1, reg, NULL, &sink);
    ok(rc == DG_OK && one_key(&sink, &key, p_off, "bn-le64"),
       "the same in a writable file mapping: found");
    reg.perms = DG_PERM_R;
    reg.kind = DG_SPAN_ANON;
    reg.name = NULL;
    rc = run_in(buf, len, 1u << 20, 1, reg, NULL, &sink);
    ok(rc == DG_OK && one_key(&sink, &key, p_off, "bn-le64"),
       "the same in read-only anonymous memory: found");
    reg.kind = DG_SPAN_FILE;
    reg.perms = 0;
    rc = run_in(buf, len, 1u << 20, 1, reg, NULL, &sink);
    ok(rc == DG_OK && one_key(&sink, &key, p_off, "bn-le64"),
       "the same in a file mapping of unknown permissions: found");
    free(buf);
    free_key(&key);
}

/* A Java key whose smaller prime is below sqrt(2)*2^1023 (BigInteger.probablePrime
 * only sets the top bit): found with the default and with strict=all. */
static void
test_java_small_prime(void)
{
    const size_t len = 1u << 20;
    BIGNUM *p = BN_new(), *q = BN_new(), *e = BN_new(), *lim = BN_new();
    BN_CTX *bn = BN_CTX_new();
    struct key key;
    struct dg_key id;
    uint8_t *buf;
    EVP_PKEY *pk = NULL;

    memset(&key, 0, sizeof key);
    BN_set_word(e, 65537);
    /* lim = 0xB504F333F9DE6484 * 2^960 */
    BN_set_word(lim, 0xB504F333F9DE6484ull);
    BN_lshift(lim, lim, 960);
    do {
        BN_generate_prime_ex2(p, 1024, 0, NULL, NULL, NULL, bn);
        BN_set_bit(p, 1023);
        BN_clear_bit(p, 1022);
        BN_clear_bit(p, 1021);
    } while (BN_check_prime(p, bn, NULL) != 1);
    do {
        BN_generate_prime_ex2(q, 1024, 0, NULL, NULL, NULL, bn);
        BN_mul(lim, p, q, bn);
    } while (BN_num_bits(lim) != 2048);
    if (keyproof_rsa_from_primes(p, q, e, &pk) != DG_OK || keyproof_identity(pk, &id) != DG_OK) {
        ok(false, "Java small prime: key built");
        return;
    }
    key.pkey = pk;
    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &key.n);
    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR1, &key.p);
    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR2, &key.q);
    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_EXPONENT1, &key.dp);
    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_EXPONENT2, &key.dq);
    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &key.qi);
    key.k = 16;
    memcpy(key.spki, id.spki_sha256, sizeof key.spki);
    buf = filler(len);
    /* key.q is the small prime (keyproof puts the larger one first): it goes
     * first in memory, so the default finds the key at 0x20000 and strict=all,
     * which sees only the larger prime, at 0x20090 */
    put(buf, 0x20000, key.q, 16, JAVA);
    put(buf, 0x20090, key.p, 16, JAVA);
    put(buf, 0x21000, key.dq, 16, JAVA);
    put(buf, 0x210b0, key.dp, 16, JAVA);
    put(buf, 0x30000, key.n, 32, JAVA);
    {
        struct dg_sink sink;
        dg_err rc = run(buf, len, 8u << 20, 1, false, NULL, &sink);

        ok(rc == DG_OK && one_key(&sink, &key, 0x20000, "java-int"),
           "Java key with a prime below sqrt(2)*2^1023: found");
        rc = run(buf, len, 8u << 20, 1, false, "rsa-raw.strict=all", &sink);
        ok(rc == DG_OK && one_key(&sink, &key, 0x20090, "java-int"),
           "same key with strict=all: found through the larger prime and n");
    }
    free(buf);
    free_key(&key);
    BN_free(e);
    BN_free(lim);
    BN_CTX_free(bn);
    BN_clear_free(p);
    BN_clear_free(q);
}

/* Writes a library's header for the k-limb number at va into buf+off. */
enum lib { LIB_OPENSSL, LIB_GO, LIB_MBEDTLS };

static void
put_header(uint8_t *buf, size_t off, uint64_t va, unsigned k, enum lib lib)
{
    uint64_t w[4];

    if (lib == LIB_OPENSSL) /* {d, top | dmax << 32, neg | flags << 32} */
        w[0] = va, w[1] = k | (uint64_t)(k + 1) << 32, w[2] = 0, w[3] = 0x40;
    else if (lib == LIB_GO) /* {neg, ptr, len, cap} */
        w[0] = 0, w[1] = va, w[2] = k, w[3] = k + 4;
    else /* {s, n, p} */
        w[0] = 1, w[1] = k, w[2] = va, w[3] = 0x51;
    memcpy(buf + off, w, sizeof w);
}

/* A key whose numbers lie megabytes apart (the Go runtime puts p and dP in
 * the spans of different size classes): the join of nearby words cannot
 * pair them, the headers that point at them can. Without headers nothing is
 * found, which shows the headers are what found it. */
static void
test_far_numbers(void)
{
    static const char *const lib_name[] = {"OpenSSL BIGNUM", "Go big.Int", "mbedtls_mpi"};
    const size_t len = 8u << 20;
    struct key key = make_key(2048);
    const uint64_t va0 = 0x7f1234560000ull;
    const size_t at[] = {0x100000, 0x100090, 0x380000, 0x5a0000, 0x5a00b0, 0x710000};
    const BIGNUM *num[] = {key.p, key.q, key.n, key.dp, key.dq, key.qi};
    const unsigned k[] = {16, 16, 32, 16, 16, 16};

    for (int lib = -1; lib <= LIB_MBEDTLS; lib++) {
        uint8_t *buf = filler(len);
        struct dg_sink sink;
        dg_err rc;

        for (size_t i = 0; i < 6; i++) {
            put(buf, at[i], num[i], k[i], LE);
            if (lib >= 0)
                put_header(buf, 0x7c0000 + 0x40 * i, va0 + at[i], k[i], (enum lib)lib);
        }
        rc = run(buf, len, 1u << 20, 2, true, NULL, &sink);
        if (lib < 0)
            ok(rc == DG_OK && sink.n == 0, "RSA-2048 numbers 2-6 MiB apart, no headers: not found");
        else
            ok(rc == DG_OK && one_key(&sink, &key, at[0], "bn-le64"),
               "RSA-2048 numbers 2-6 MiB apart behind %s headers: one confirmed key",
               lib_name[lib]);
        free(buf);
    }
    free_key(&key);
}

/* A managed heap: 32-byte objects as a JVM lays them out (a mark word of 1,
 * a compressed class pointer beside a field, a random long, two compressed
 * references), the shape that made nine in ten of rsa-raw's candidates on
 * the real benchmark core before a structured word inside a window ruled it
 * out, and after each 4 KiB of them an array of 64 compressed references
 * (most of the rest, before clustered() ruled them out). */
static uint8_t *
managed_heap(size_t len)
{
    uint8_t *p = malloc(len);

    if (p == NULL)
        abort();
    for (size_t i = 0; i + 32 <= len; i += 32) {
        uint64_t w[4] = {1, (rnd() & 0xffffffff00000000ull) | 0x01000a08u, rnd(),
                         rnd() | 0x0101010101010101ull};

        if (i % 4096 >= 3840) { /* 256 bytes of references into one heap */
            uint32_t ref = 0xe7000000u + (uint32_t)(rnd() & 0xfffff0u);

            for (unsigned q = 0; q < 4; q++, ref += 0x40)
                w[q] = (uint64_t)(ref + 0x20) << 32 | ref;
        }
        memcpy(p + i, w, sizeof w);
    }
    return p;
}

/* A key placed in a managed_heap(), its numbers with the headers put()
 * gives them right before and after, is still found in each layout (each
 * layout writes the same bytes over the last one's). */
static void
test_managed_heap(const struct key *kp)
{
    static const char *const enc[] = {"bn-le64", "bn-be", "java-int"};
    const size_t len = 2u << 20;
    size_t n_off = 0x40008, p_off = n_off + 0xB000;
    uint8_t *buf = managed_heap(len);

    for (int r = LE; r <= JAVA; r++) {
        struct dg_sink sink;
        dg_err rc;

        place_key(buf, n_off, p_off, kp, (enum rep)r);
        rc = run(buf, len, 8u << 20, 1, false, NULL, &sink);
        ok(rc == DG_OK && one_key(&sink, kp, p_off, enc[r]),
           "RSA-%u in %s among a managed heap's objects: one confirmed key", 128 * kp->k, enc[r]);
    }
    free(buf);
}

static void
test_random(void)
{
    const size_t len = 64u << 20;
    uint8_t *buf = malloc(len);
    struct dg_sink sink;
    dg_err rc;

    if (buf == NULL)
        abort();
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rnd();

        memcpy(buf + i, &v, 8);
    }
    rc = run(buf, len, 8u << 20, 2, false, "rsa-raw.strict=none", &sink);
    ok(rc == DG_OK && sink.n == 0 && sink.n_warn == 0, "64 MiB of random bytes: no finding");
    free(buf);
}

/* The sieve's tables, made at build time (rsa_tables.py), say what
 * rsa_tables.h says they do. */
static void
test_tables(void)
{
    unsigned bad_inv = 0, bad_coprime = 0;

    for (uint32_t t = 1; t < RSA_TABLE_E; t++)
        bad_inv += (uint64_t)(rsa_inv1[t] + 1u) * t % RSA_TABLE_E != 1;
    for (unsigned r = 0; r < 65536; r++) {
        unsigned a = r, b = 65535; /* gcd(r, 65535) */

        while (b != 0) {
            unsigned t = a % b;

            a = b;
            b = t;
        }
        bad_coprime += (r < 65535 && a == 1) != ((rsa_coprime[r >> 3] >> (r & 7)) & 1);
    }
    ok(rsa_inv1[0] == 0 && bad_inv == 0, "rsa_inv1: (t^-1 mod E) - 1 for every t (%u wrong)",
       bad_inv);
    ok(bad_coprime == 0, "rsa_coprime: gcd(r, 65535) == 1 (%u wrong)", bad_coprime);
}

int
main(void)
{
    static const unsigned bits[] = {1024, 2048, 3072, 4096};

    test_tables();
    static const char *const enc[] = {"bn-le64", "bn-be", "java-int"};

    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
        struct key key = make_key(bits[b]);

        for (int r = LE; r <= JAVA; r++)
            test_layout(&key, (enum rep)r, enc[r], false);
        if (bits[b] == 2048) {
            test_layout(&key, LE, "bn-le64", true);
            test_symcrypt_layout(&key);
            test_managed_heap(&key);
        }
        free_key(&key);
    }
    test_unanchored();
    test_partial();
    test_chunk_edge();
    test_far_modulus();
    test_file_image();
    test_java_small_prime();
    test_far_numbers();
    test_random();
    printf("1..%u\n", n_test);
    return n_fail == 0 ? 0 : 1;
}
