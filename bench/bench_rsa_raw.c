/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * bench_rsa_raw.c - single-thread throughput of the rsa-raw detector.
 *
 * Drives dg_detector_rsa_raw directly (create, init, scan in 8 MiB chunks
 * with the detector's margin, finish), without the engine, over 256 MiB of
 * random bytes and 256 MiB of mixed memory-like bytes (zeros, ASCII text,
 * pointer arrays, random), and prints MB/s for each. It links only the
 * detector, keyproof and util: the small dump and sink services the detector
 * calls are stubbed below. Usage: bench_rsa_raw [MiB] [strict=none|le-be|all]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dumpgate/detector.h>

extern const struct dg_detector dg_detector_rsa_raw;

/* ---- stubs of the engine services (a raw buffer has no address map) ---- */

struct dg_sink {
    size_t n_findings;
};

void
dg_report(struct dg_sink *sink, const struct dg_finding *f)
{
    sink->n_findings++;
    printf("  finding: %s %s at 0x%llx\n", f->type, dg_status_name(f->status),
           (unsigned long long)f->off);
}

void
dg_sink_warn(struct dg_sink *sink, uint64_t off, const char *fmt, ...)
{
    (void)sink;
    (void)off;
    printf("  warning: %s\n", fmt);
}

const struct dg_region *
dg_dump_region_at(const struct dg_dump *dump, uint64_t off)
{
    (void)dump;
    (void)off;
    return NULL;
}

size_t
dg_dump_va_count(const struct dg_dump *dump)
{
    (void)dump;
    return 0;
}

const struct dg_region *
dg_dump_va_region(const struct dg_dump *dump, size_t i)
{
    (void)dump;
    (void)i;
    return NULL;
}

dg_err
dg_dump_read_va(const struct dg_dump *dump, uint64_t va, void *buf, size_t len)
{
    (void)dump;
    (void)va;
    (void)buf;
    (void)len;
    return DG_E_UNAVAILABLE;
}

const struct dg_region *
dg_dump_region_at_va(const struct dg_dump *dump, uint64_t va)
{
    (void)dump;
    (void)va;
    return NULL;
}

unsigned
dg_dump_word_size(const struct dg_dump *dump)
{
    (void)dump;
    return 0;
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

/* ---- data ---- */

static uint64_t
rnd(uint64_t *s)
{
    uint64_t x = *s += 0x9E3779B97F4A7C15ull;

    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void
fill_random(uint8_t *p, size_t len, uint64_t *s)
{
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rnd(s);

        memcpy(p + i, &v, 8);
    }
}

/* 64 KiB pieces: 25 % each of zeros, text, pointer arrays and random. */
static void
fill_mixed(uint8_t *p, size_t len, uint64_t *s, unsigned pct_random)
{
    static const char text[] = "The quick brown fox jumps over the lazy dog; "
                               "GET /index.html HTTP/1.1\r\nHost: example.org\r\n";
    const size_t piece = 64 << 10;

    for (size_t off = 0; off + piece <= len; off += piece) {
        unsigned r = (unsigned)(rnd(s) % 100);
        unsigned rest = (100 - pct_random) / 3;

        if (r < pct_random) {
            fill_random(p + off, piece, s);
        } else if (r < pct_random + rest) {
            memset(p + off, 0, piece);
        } else if (r < pct_random + 2 * rest) {
            for (size_t i = 0; i < piece; i++)
                p[off + i] = (uint8_t)text[(i + off / 7) % (sizeof text - 1)];
        } else {
            for (size_t i = 0; i + 8 <= piece; i += 8) {
                uint64_t v = 0x00007f0000000000ull | (rnd(s) & 0xfffffffff8ull);

                memcpy(p + off + i, &v, 8);
            }
        }
    }
}

/* CPU time of this process: robust against other tenants taking the core
 * away (wall time is printed too). */
static double
cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scans p[0..len) in 8 MiB chunks; returns CPU seconds, *wall wall seconds. */
static double
run(const uint8_t *p, size_t len, const struct dg_config *cfg, size_t *n_findings, double *wall)
{
    const struct dg_detector *d = &dg_detector_rsa_raw;
    const size_t chunk = 8u << 20;
    struct dg_sink sink = {0};
    void *shared = NULL, *ctx = NULL;
    double t0 = cpu_now(), w0 = now(), t;

    if (d->create(cfg, &shared) != DG_OK || d->init(shared, &ctx) != DG_OK) {
        fprintf(stderr, "setup failed\n");
        exit(2);
    }
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk + d->max_span ? len - off : chunk + d->max_span;
        struct dg_chunk ch = {.p = p + off,
                              .len = n,
                              .owned = n < chunk ? n : chunk,
                              .off = off,
                              .last = off + n == len,
                              .dump = NULL};

        d->scan(ctx, &ch, &sink);
    }
    d->release(ctx);
    d->finish(shared, NULL, &sink);
    d->destroy(shared);
    t = cpu_now() - t0;
    *wall = now() - w0;
    *n_findings = sink.n_findings;
    return t;
}

int
main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 256;
    size_t len = mib << 20;
    const char *kv[2] = {NULL, NULL};
    char opt[64];
    struct dg_config cfg = {.keyvals = kv};
    uint8_t *buf = malloc(len);
    uint64_t seed = 42;
    size_t nf;
    double t, wall;

    if (buf == NULL || mib == 0)
        return 2;
    if (argc > 2) {
        snprintf(opt, sizeof opt, "rsa-raw.%s", argv[2]);
        kv[0] = opt;
    }
    printf("rsa-raw bench, %zu MiB per input, %s\n", mib, kv[0] ? kv[0] : "default options");
    fill_random(buf, len, &seed);
    t = run(buf, len, &cfg, &nf, &wall);
    printf("random      : %7.1f MB/s cpu, %7.1f MB/s wall (%zu findings)\n", (double)len / t / 1e6,
           (double)len / wall / 1e6, nf);
    fill_mixed(buf, len, &seed, 25);
    t = run(buf, len, &cfg, &nf, &wall);
    printf("mixed 25%%rnd: %7.1f MB/s cpu, %7.1f MB/s wall (%zu findings)\n", (double)len / t / 1e6,
           (double)len / wall / 1e6, nf);
    fill_mixed(buf, len, &seed, 50);
    t = run(buf, len, &cfg, &nf, &wall);
    printf("mixed 50%%rnd: %7.1f MB/s cpu, %7.1f MB/s wall (%zu findings)\n", (double)len / t / 1e6,
           (double)len / wall / 1e6, nf);
    memset(buf, 0, len);
    t = run(buf, len, &cfg, &nf, &wall);
    printf("zeros       : %7.1f MB/s cpu, %7.1f MB/s wall (%zu findings)\n", (double)len / t / 1e6,
           (double)len / wall / 1e6, nf);
    free(buf);
    return 0;
}
