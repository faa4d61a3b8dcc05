/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * textenc.h - reading ASCII text out of raw bytes in the encodings a process
 * keeps strings in (ASCII/UTF-8, UTF-16LE, UTF-16BE), for the text detectors
 * (pem, jwk). Inline helpers only: no state, no allocation.
 */
#ifndef DUMPGATE_TEXTENC_H
#define DUMPGATE_TEXTENC_H

#include <stddef.h>
#include <stdint.h>

enum text_enc { ENC_ASCII, ENC_UTF16LE, ENC_UTF16BE };

/* The ASCII character (< 0x80) at byte i of p[0..len) in encoding e, or -1
 * when out of range or not ASCII (a UTF-16 unit above 0x7f). */
static inline int
text_char_at(const uint8_t *p, size_t len, size_t i, enum text_enc e)
{
    if (e == ENC_ASCII)
        return i < len && p[i] < 0x80 ? p[i] : -1;
    if (i + 1 >= len)
        return -1;
    if (e == ENC_UTF16LE)
        return p[i + 1] == 0 && p[i] < 0x80 ? p[i] : -1;
    return p[i] == 0 && p[i + 1] < 0x80 ? p[i + 1] : -1;
}

/* The value of a hexadecimal digit, or -1. */
static inline int
text_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

#endif
