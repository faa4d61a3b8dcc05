/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_vawin.c - vawin_read() answers every read exactly as
 * dg_dump_read_va() does (the bytes and the error), across region ends, gaps
 * and a file cut short, and reads the dump far fewer times for reads in
 * address order. The dump service is a stand-in over a buffer, with three
 * memory regions: two adjacent ones and one after a gap, the last one's
 * bytes partly missing from the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dumpgate/detector.h>

#include "../../scanner/util/vawin.h"
#include "tap.h"

#define N_REG 3

struct dg_dump {
    const uint8_t *p;      /* the "file" */
    size_t file_len;
    struct dg_region reg[N_REG];
    unsigned long reads;   /* calls of dg_dump_read_va() */
};

const struct dg_region *
dg_dump_region_at_va(const struct dg_dump *dump, uint64_t va)
{
    for (size_t i = 0; i < N_REG; i++)
        if (va >= dump->reg[i].va && va - dump->reg[i].va < dump->reg[i].len)
            return &dump->reg[i];
    return NULL;
}

/* As dump.c's: across adjacent regions, never past the file's end. */
dg_err
dg_dump_read_va(const struct dg_dump *dump, uint64_t va, void *buf, size_t len)
{
    uint8_t *out = buf;

    ((struct dg_dump *)dump)->reads++;
    if (len > DG_DUMP_READ_MAX)
        return DG_E_ARG;
    while (len > 0) {
        const struct dg_region *r = dg_dump_region_at_va(dump, va);
        uint64_t n, off;

        if (r == NULL)
            return DG_E_NOT_FOUND;
        n = r->len - (va - r->va) < len ? r->len - (va - r->va) : len;
        off = r->off + (va - r->va);
        if (off > dump->file_len || n > dump->file_len - off)
            return DG_E_NOT_FOUND;
        memcpy(out, dump->p + off, n);
        out += n;
        va += n;
        len -= n;
    }
    return DG_OK;
}

int
main(void)
{
    struct tap t = {0};
    size_t file_len = 900000;
    uint8_t *file = malloc(file_len), a[4096], b[4096];
    struct dg_dump d = {.p = file, .file_len = file_len};
    struct vawin w;
    unsigned long direct_reads, bad = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;

    for (size_t i = 0; i < file_len; i++)
        file[i] = (uint8_t)(i * 131 + (i >> 9));
    /* 0x10000: 300,000 bytes; 0x59ee0: 200,000 bytes right after it, whose
     * file bytes do not follow the first's; 0x100000, after a gap: 500,000
     * bytes, of which the file holds 350,000 */
    d.reg[0] = (struct dg_region){.off = 0, .len = 300000, .va = 0x10000, .has_va = true};
    d.reg[1] = (struct dg_region){.off = 350000, .len = 200000, .va = 0x10000 + 300000,
                                  .has_va = true};
    d.reg[2] = (struct dg_region){.off = 550000, .len = 500000, .va = 0x100000, .has_va = true};

    /* random reads anywhere near the regions, ends and gaps included */
    vawin_init(&w, &d);
    tap_check(&t, w.buf != NULL, "the window is allocated");
    for (int i = 0; i < 200000; i++) {
        uint64_t va, r;
        size_t len;
        dg_err ra, rb;

        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        r = seed;
        switch (r % 4) {
        case 0: /* near a region's start or end, or the file's end */
            va = (uint64_t[]){0x10000, 0x10000 + 300000, 0x10000 + 500000, 0x100000,
                              0x100000 + 350000, 0x100000 + 500000}[(r >> 8) % 6] -
                 64 + (r >> 16) % 128;
            break;
        default:
            va = 0xf000 + (r >> 8) % (0x100000 + 520000 - 0xf000);
            break;
        }
        len = 1 + (size_t)((r >> 40) % ((r >> 60) == 0 ? 4096 : 72));
        memset(a, 0xaa, len);
        memset(b, 0x55, len);
        ra = vawin_read(&w, va, a, len);
        rb = dg_dump_read_va(&d, va, b, len);
        if (ra != rb || (ra == DG_OK && memcmp(a, b, len) != 0)) {
            if (bad++ < 5)
                tap_check(&t, 0, "read of %zu bytes at 0x%llx: %d against %d", len,
                          (unsigned long long)va, (int)ra, (int)rb);
        }
    }
    tap_check(&t, bad == 0, "200,000 random reads: the same bytes and errors as "
                            "dg_dump_read_va (%lu differ)", bad);
    vawin_done(&w);
    tap_check(&t, w.buf == NULL && w.len == 0, "vawin_done forgets the window");

    /* reads in address order: 8-limb numbers 64 bytes apart */
    d.reads = 0;
    for (uint64_t va = 0x10000; va + 72 <= 0x10000 + 500000; va += 64)
        (void)dg_dump_read_va(&d, va, a, 72);
    direct_reads = d.reads;
    d.reads = 0;
    vawin_init(&w, &d);
    bad = 0;
    for (uint64_t va = 0x10000; va + 72 <= 0x10000 + 500000; va += 64) {
        bad += vawin_read(&w, va, a, 72) != DG_OK || dg_dump_read_va(&d, va, b, 72) != DG_OK ||
               memcmp(a, b, 72) != 0;
        d.reads--; /* the check's own read */
    }
    vawin_done(&w);
    tap_check(&t, bad == 0, "in address order, across the two adjacent regions: the same bytes");
    tap_check(&t, d.reads * 100 < direct_reads,
              "in address order: %lu reads of the dump instead of %lu", d.reads, direct_reads);

    /* a window that cannot be had: every read goes to the dump */
    w = (struct vawin){.dump = &d};
    d.reads = 0;
    tap_check(&t, vawin_read(&w, 0x10000, a, 8) == DG_OK && d.reads == 1 &&
                      memcmp(a, file, 8) == 0,
              "without a window, a read is one read of the dump");
    tap_check(&t, vawin_read(&w, 0x100000 + 450000, a, 8) == DG_E_NOT_FOUND,
              "bytes the file does not hold: DG_E_NOT_FOUND");
    free(file);
    return tap_done(&t);
}
