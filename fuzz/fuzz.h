/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz.h - the contract of a fuzz harness: one parser, three functions.
 * driver_libfuzzer.c adapts them to libFuzzer; replay.c runs them over the
 * files of a corpus directory (regression runs under `meson test`).
 * dg_fuzz_one() must accept any bytes and return 0; a crash, a sanitizer
 * report, a leak or a hang is the bug.
 */
#ifndef DUMPGATE_FUZZ_H
#define DUMPGATE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int dg_fuzz_init(void);
int dg_fuzz_one(const uint8_t *data, size_t len);
void dg_fuzz_fini(void);

#endif
