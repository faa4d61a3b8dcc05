/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * plugin.c - dlopen()s a detector plug-in, checks it and adds it to the
 * registry. A plug-in stays loaded for the life of the process (its detector
 * struct is in the registry); a refused one is unloaded at once.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <dumpgate/plugin.h>

#include "plugin.h"
#include "registry.h"
#include "../scanner/engine/triggers.h"

static bool
valid_name(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-' ||
              s[n] == '_' || s[n] == '.'))
            return false;
    return n > 0 && n < 32;
}

/* create() and init() once, then release() and destroy(): a plug-in that cannot
 * start is refused before the scan instead of failing every file. */
static dg_err
trial(const struct dg_detector *d, const struct dg_config *cfg, const char **step)
{
    void *shared = NULL, *ctx = NULL;
    dg_err rc = DG_OK;

    *step = "create";
    if (d->create != NULL && (rc = d->create(cfg, &shared)) != DG_OK)
        return rc;
    *step = "init";
    if (d->init != NULL && (rc = d->init(shared, &ctx)) == DG_OK && d->release != NULL &&
        ctx != NULL)
        d->release(ctx);
    if (d->destroy != NULL)
        d->destroy(shared);
    return rc;
}

dg_err
plugin_load(const char *path, const struct dg_config *cfg, char *err, size_t n)
{
    char buf[4096];
    void *h;
    const struct dg_detector *(*entry)(void);
    const struct dg_detector *d;
    const char *step;
    dg_err rc;

    /* a bare name would be searched in the library path: a plug-in is a file */
    snprintf(buf, sizeof buf, "%s%s", strchr(path, '/') ? "" : "./", path);
    dlerror();
    h = dlopen(buf, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(err, n, "plug-in %s: cannot load: %s", path, dlerror());
        return DG_E_IO;
    }
    *(void **)&entry = dlsym(h, DG_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(err, n, "plug-in %s: no symbol %s (not a dumpgate plug-in?)", path,
                 DG_PLUGIN_ENTRY_SYMBOL);
        rc = DG_E_FORMAT;
        goto refuse;
    }
    d = entry();
    rc = DG_E_FORMAT;
    if (d == NULL) {
        snprintf(err, n, "plug-in %s: %s() returned no detector", path, DG_PLUGIN_ENTRY_SYMBOL);
        goto refuse;
    }
    if (d->abi != DG_DETECTOR_ABI) {
        snprintf(err, n, "plug-in %s: detector ABI %u, this dumpgate speaks ABI %d (rebuild "
                 "the plug-in against this dumpgate's headers)", path, d->abi, DG_DETECTOR_ABI);
        rc = DG_E_UNSUPPORTED;
        goto refuse;
    }
    if (d->name == NULL || !valid_name(d->name)) {
        snprintf(err, n, "plug-in %s: the detector needs a name of 1 to 31 characters of "
                 "a-z, 0-9, '-', '_', '.'", path);
        goto refuse;
    }
    if (d->summary == NULL || d->max_span > (64u << 20)) {
        snprintf(err, n, "plug-in %s: detector %s needs a summary and a max_span of at most "
                 "64 MiB", path, d->name);
        goto refuse;
    }
    if (d->scan == NULL && d->finish == NULL) {
        snprintf(err, n, "plug-in %s: detector %s has neither scan nor finish", path, d->name);
        goto refuse;
    }
    {
        char why[160];

        if (trig_check(d, why, sizeof why) != DG_OK) {
            snprintf(err, n, "plug-in %s: %s", path, why);
            goto refuse;
        }
    }
    if (registry_find(d->name) != NULL) {
        snprintf(err, n, "plug-in %s: a detector called '%s' is already loaded", path, d->name);
        rc = DG_E_ARG;
        goto refuse;
    }
    if ((rc = trial(d, cfg, &step)) != DG_OK) {
        snprintf(err, n, "plug-in %s: detector %s: %s failed: %s", path, d->name, step,
                 dg_strerror(rc));
        goto refuse;
    }
    if ((rc = registry_add(d)) != DG_OK) {
        snprintf(err, n, "plug-in %s: too many detectors (at most %d)", path, REGISTRY_MAX);
        goto refuse;
    }
    return DG_OK; /* h stays open: the registry points into it */
refuse:
    dlclose(h);
    return rc;
}
