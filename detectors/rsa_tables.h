/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * rsa_tables.h - constant tables of rsa-raw's prime sieve, made at build
 * time by detectors/rsa_tables.py (rsa_tables.c in the build tree) instead
 * of by every scan (0.25 ms a file, half of a small file's scan).
 *
 *   rsa_inv1[t]     (t^-1 mod E) - 1 for t in [1, E), E = 65537; [0] is 0
 *   rsa_coprime     bit r (byte r / 8, bit r % 8) set iff gcd(r, 65535) == 1,
 *                   for r < 65535
 */
#ifndef DUMPGATE_RSA_TABLES_H
#define DUMPGATE_RSA_TABLES_H

#include <stdint.h>

#define RSA_TABLE_E 65537u

extern const uint16_t rsa_inv1[RSA_TABLE_E];
extern const uint8_t rsa_coprime[65536 / 8];

#endif
