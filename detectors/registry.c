/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * registry.c - the built-in detector table, generated from detector_list.h.
 */
#include <string.h>

#include "registry.h"

#define DETECTOR(n) extern const struct dg_detector dg_detector_##n;
#include "detector_list.h"
#undef DETECTOR

static const struct dg_detector *const builtin[] = {
#define DETECTOR(n) &dg_detector_##n,
#include "detector_list.h"
#undef DETECTOR
};

_Static_assert(sizeof builtin / sizeof builtin[0] <= REGISTRY_MAX, "raise REGISTRY_MAX");

size_t
registry_count(void)
{
    return sizeof builtin / sizeof builtin[0];
}

const struct dg_detector *
registry_get(size_t i)
{
    return i < registry_count() ? builtin[i] : NULL;
}

const struct dg_detector *
registry_find(const char *name)
{
    for (size_t i = 0; i < registry_count(); i++)
        if (strcmp(builtin[i]->name, name) == 0)
            return builtin[i];
    return NULL;
}
