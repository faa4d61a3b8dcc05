/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * raw.c - the raw container: one span covering the whole file, and a namer
 * for formats dumpgate recognizes by magic but does not read as a dump
 * (compressed wrappers, Windows kernel dumps, executables, text).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "raw.h"

void
raw_describe(const uint8_t *p, size_t n, char *out, size_t out_len)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *what;
    } known[] = {
        {"\x1f\x8b", 2, "gzip-compressed data"},
        {"\x28\xb5\x2f\xfd", 4, "zstd-compressed data"},
        {"\xfd" "7zXZ\0", 6, "xz-compressed data"},
        {"BZh", 3, "bzip2-compressed data"},
        {"\x04\x22\x4d\x18", 4, "lz4-compressed data"},
        {"PAGEDU64", 8, "Windows 64-bit kernel dump"},
        {"PAGEDUMP", 8, "Windows 32-bit kernel dump"},
        {"PMDM", 4, "big-endian minidump"},
        {"\xcf\xfa\xed\xfe", 4, "Mach-O 64-bit file"},
        {"\xce\xfa\xed\xfe", 4, "Mach-O 32-bit file"},
        {"MZ", 2, "PE/DOS executable"},
        {"PK\x03\x04", 4, "zip archive"},
        {"\x7f" "ELF", 4, "ELF file"},
        {"ProblemType: ", 13, "apport crash report"},
    };
    size_t printable = 0;

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (n >= known[i].len && memcmp(p, known[i].magic, known[i].len) == 0) {
            snprintf(out, out_len, "%s", known[i].what);
            return;
        }
    }
    for (size_t i = 0; i < n && i < 512; i++)
        printable += (p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\n' || p[i] == '\r' ||
                     p[i] == '\t';
    if (n > 0 && printable == (n < 512 ? n : 512)) {
        snprintf(out, out_len, "text");
        return;
    }
    if (n >= 4)
        snprintf(out, out_len, "unrecognized format (first bytes %02x %02x %02x %02x)", p[0],
                 p[1], p[2], p[3]);
    else
        snprintf(out, out_len, "unrecognized format (%zu bytes)", n);
}

dg_err
raw_read(struct dg_regions *map, uint64_t size)
{
    struct dg_region r = {.off = 0, .len = size, .kind = DG_SPAN_RAW, .thread = -1};

    regions_info(map)->format = "raw";
    return size == UINT64_MAX ? regions_claim_to_end(map, &r, REGIONS_PRIO_META)
                              : regions_claim(map, &r, REGIONS_PRIO_META);
}
