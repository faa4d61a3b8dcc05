/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * driver_libfuzzer.c - adapts a harness (fuzz.h) to libFuzzer's entry points.
 */
#include <stdlib.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (dg_fuzz_init() != 0)
        abort();
    atexit(dg_fuzz_fini);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    return dg_fuzz_one(data, len);
}
