/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * bench_detector.c - single-thread throughput of detectors through the engine.
 *
 * Runs scan_memory() with opts.detectors = {NAME, NULL} on one thread over
 * N MiB of random bytes and N MiB of mixed memory-like bytes (zero pages,
 * ASCII text, pointer arrays, small little-endian integers, random), three
 * times each, and prints the best MB/s (bytes / 1e6 / s) and the findings.
 * Nothing is planted: the figure is the cost of the prefilter and of the
 * structural checks behind it. Usage: bench_detector [MiB] [detector] [FILE]
 * (default 256 der); with FILE, a third run reads the whole of FILE (a core
 * of real process bytes: its container is read, so the detectors that need
 * an address map run, and read-only file images are skipped as in a scan of
 * the file; a core cut short loses the notes gcore writes last). Built by
 * meson as build/tests/bench_detector.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/scan.h"

/* xorshift64*: reproducible filler, no global state */
static uint64_t
next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void
fill_random(uint8_t *p, size_t n, uint64_t *s)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t v = next(s);

        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (uint8_t)next(s);
}

/* 4 KiB pages of: zeros, English-like text, 64-bit heap pointers, small
 * integers and flags, random bytes, in rotation picked by the generator. */
static void
fill_mixed(uint8_t *p, size_t n, uint64_t *s)
{
    static const char words[] =
        "the key of a process is loaded from a file and kept in memory while the server "
        "accepts connections; error: cannot open configuration /etc/ssl/private (errno 2) "
        "GET /index.html HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n{\"id\": 42, "
        "\"name\": \"value\", \"list\": [1, 2, 3]} ";
    for (size_t off = 0; off < n; off += 4096) {
        size_t len = n - off < 4096 ? n - off : 4096;
        uint8_t *q = p + off;

        switch (next(s) % 5) {
        case 0:
            memset(q, 0, len);
            break;
        case 1:
            for (size_t i = 0; i < len; i++)
                q[i] = (uint8_t)words[(off + i) % (sizeof words - 1)];
            break;
        case 2:
            for (size_t i = 0; i + 8 <= len; i += 8) {
                uint64_t v = 0x00005555a0000000ull + (next(s) & 0xffff0);

                memcpy(q + i, &v, 8);
            }
            break;
        case 3:
            for (size_t i = 0; i + 4 <= len; i += 4) {
                uint32_t v = (uint32_t)(next(s) % 300);

                memcpy(q + i, &v, 4);
            }
            break;
        default:
            fill_random(q, len, s);
            break;
        }
    }
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run(const char *what, const uint8_t *p, size_t n, const char *det)
{
    const char *dets[] = {det, NULL};
    struct scan_opts opts = {.threads = 1, .detectors = dets};
    double best = 0;
    size_t found = 0;

    for (int r = 0; r < 3; r++) {
        struct scan_result res;
        double t0 = now(), t;

        memset(&res, 0, sizeof res);
        if (scan_memory(what, p, n, &opts, &res) != DG_OK) {
            fprintf(stderr, "bench_detector: scan_memory failed\n");
            return 1;
        }
        t = now() - t0;
        found = res.n_findings;
        if (res.cov.scanned_bytes != n)
            fprintf(stderr, "bench_detector: scanned %llu of %zu bytes\n",
                    (unsigned long long)res.cov.scanned_bytes, n);
        scan_result_free(&res);
        if (best == 0 || t < best)
            best = t;
    }
    printf("%-8s %zu MiB  detector %s  best of 3: %.3f s  %.0f MB/s  findings %zu\n", what,
           n >> 20, det, best, (double)n / 1e6 / best, found);
    return 0;
}

int
main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    const char *det = argc > 2 ? argv[2] : "der";
    const char *file = argc > 3 ? argv[3] : NULL;
    size_t n = mib << 20;
    uint8_t *buf = malloc(n);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int rc;

    if (buf == NULL || n == 0) {
        fprintf(stderr, "usage: bench_detector [MiB] [detector] [FILE]\n");
        free(buf);
        return 2;
    }
    fill_random(buf, n, &seed);
    rc = run("random", buf, n, det);
    fill_mixed(buf, n, &seed);
    if (rc == 0)
        rc = run("mixed", buf, n, det);
    free(buf);
    if (rc == 0 && file != NULL) {
        FILE *f = fopen(file, "rb");
        long size = f != NULL && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        uint8_t *all = size > 0 ? malloc((size_t)size) : NULL;
        size_t got = 0;

        if (all != NULL && fseek(f, 0, SEEK_SET) == 0)
            got = fread(all, 1, (size_t)size, f);
        if (f != NULL)
            fclose(f);
        if (got == 0 || got != (size_t)size) {
            fprintf(stderr, "bench_detector: cannot read %s\n", file);
            rc = 1;
        } else {
            rc = run("file", all, got, det);
        }
        free(all);
    }
    return rc;
}
