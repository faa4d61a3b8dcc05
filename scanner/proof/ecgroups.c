/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ecgroups.c - a per-worker cache of OpenSSL EC groups by curve NID (see
 * ecgroups.h for the contract). A short array searched linearly: a worker
 * meets a handful of curves, and the search is nothing beside a point
 * decode.
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "ecgroups.h"

struct ecgroups {
    size_t n;
    struct {
        int nid;
        EC_GROUP *group; /* NULL: OpenSSL could not make it (remembered) */
    } slot[ECGROUPS_MAX];
};

struct ecgroups *
ecgroups_new(void)
{
    return calloc(1, sizeof(struct ecgroups));
}

void
ecgroups_free(struct ecgroups *eg)
{
    if (eg == NULL)
        return;
    for (size_t i = 0; i < eg->n; i++)
        EC_GROUP_free(eg->slot[i].group);
    free(eg);
}

const EC_GROUP *
ecgroups_get(struct ecgroups *eg, int nid)
{
    EC_GROUP *g;

    if (nid == NID_undef)
        return NULL;
    for (size_t i = 0; i < eg->n; i++)
        if (eg->slot[i].nid == nid)
            return eg->slot[i].group;
    if (eg->n == ECGROUPS_MAX)
        return NULL;
    ERR_set_mark();
    g = EC_GROUP_new_by_curve_name(nid);
    ERR_pop_to_mark();
    eg->slot[eg->n].nid = nid;
    eg->slot[eg->n].group = g;
    eg->n++;
    return g;
}

bool
ecgroups_on_curve(struct ecgroups *eg, int nid, const uint8_t *pub, size_t len)
{
    const EC_GROUP *g = ecgroups_get(eg, nid);
    EC_POINT *pt;
    bool ok;

    if (g == NULL || len == 0)
        return false;
    ERR_set_mark();
    pt = EC_POINT_new(g);
    ok = pt != NULL && EC_POINT_oct2point(g, pt, pub, len, NULL) == 1;
    EC_POINT_free(pt);
    ERR_pop_to_mark();
    return ok;
}
