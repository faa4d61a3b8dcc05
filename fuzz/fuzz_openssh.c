/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * fuzz_openssh.c - harness for the openssh-key-v1 reader. The magic is
 * prepended so that every input reaches the length-prefixed fields.
 */
#include <stdlib.h>
#include <string.h>

#include "../scanner/formats/openssh.h"
#include "fuzz.h"

int
dg_fuzz_init(void)
{
    return 0;
}

int
dg_fuzz_one(const uint8_t *data, size_t len)
{
    uint8_t *buf = malloc(len + OPENSSH_MAGIC_LEN);
    struct openssh_key k;

    if (buf == NULL)
        return 0;
    memcpy(buf, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN);
    if (len > 0)
        memcpy(buf + OPENSSH_MAGIC_LEN, data, len);
    if (openssh_parse(buf, len + OPENSSH_MAGIC_LEN, &k) == DG_OK) {
        if (k.len > len + OPENSSH_MAGIC_LEN)
            __builtin_trap();
        openssh_key_free(&k);
    }
    free(buf);
    return 0;
}

void
dg_fuzz_fini(void)
{
}
