/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * registry.c - the built-in detector table, generated from detector_list.h,
 * and the detectors added at run time (plug-ins: plugin.c). The added table is
 * the only mutable global state of dumpgate; it is filled before any scan
 * starts, on one thread, and only read afterwards.
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

#define N_BUILTIN (sizeof builtin / sizeof builtin[0])
_Static_assert(N_BUILTIN <= REGISTRY_MAX, "raise REGISTRY_MAX");

static const struct dg_detector *added[REGISTRY_MAX - N_BUILTIN + 1];
static size_t n_added;

size_t
registry_count(void)
{
    return N_BUILTIN + n_added;
}

const struct dg_detector *
registry_get(size_t i)
{
    if (i < N_BUILTIN)
        return builtin[i];
    return i < registry_count() ? added[i - N_BUILTIN] : NULL;
}

const struct dg_detector *
registry_find(const char *name)
{
    for (size_t i = 0; i < registry_count(); i++)
        if (strcmp(registry_get(i)->name, name) == 0)
            return registry_get(i);
    return NULL;
}

bool
registry_is_builtin(const struct dg_detector *d)
{
    for (size_t i = 0; i < N_BUILTIN; i++)
        if (builtin[i] == d)
            return true;
    return false;
}

dg_err
registry_add(const struct dg_detector *d)
{
    if (d == NULL || d->name == NULL)
        return DG_E_ARG;
    if (registry_find(d->name) != NULL)
        return DG_E_ARG;
    if (registry_count() >= REGISTRY_MAX)
        return DG_E_LIMIT;
    added[n_added++] = d;
    return DG_OK;
}
