/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_ecgroups.c - the curve cache: a real public point is on its curve
 * (uncompressed and compressed) and on no other; a point with one byte
 * changed, a cut point, an empty one and an unknown curve are on none; a
 * group asked for twice is the same group; a full cache says no rather than
 * growing; nothing is left on the error queue.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "../../scanner/proof/ecgroups.h"
#include "tap.h"

static const int curves[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1,
                             NID_secp256k1, NID_brainpoolP256r1};
#define N_CURVES (sizeof curves / sizeof curves[0])

/* The encoded public point of a new key on curve nid (compressed or not). */
static size_t
point_of(int nid, int compressed, unsigned char *out, size_t cap)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nid));
    size_t len = 0;

    if (k == NULL)
        return 0;
    if (compressed)
        EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       "compressed");
    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, cap, &len) !=
        1)
        len = 0;
    EVP_PKEY_free(k);
    return len;
}

int
main(void)
{
    struct tap t = {0, 0};
    struct ecgroups *eg = ecgroups_new();
    unsigned char pt[1 + 2 * 66];

    if (!tap_check(&t, eg != NULL, "a new cache"))
        return tap_done(&t);
    for (size_t i = 0; i < N_CURVES; i++) {
        const char *name = OBJ_nid2sn(curves[i]);

        for (int comp = 0; comp < 2; comp++) {
            size_t len = point_of(curves[i], comp, pt, sizeof pt);
            int on_other = 0;

            tap_check(&t, len > 0 && ecgroups_on_curve(eg, curves[i], pt, len),
                      "%s %s point: on its curve", name, comp ? "compressed" : "uncompressed");
            for (size_t j = 0; j < N_CURVES; j++)
                if (j != i && ecgroups_on_curve(eg, curves[j], pt, len))
                    on_other = 1;
            /* secp256k1, prime256v1 and brainpoolP256r1 share a size: only
             * the equation tells them apart */
            tap_check(&t, !on_other, "%s %s point: on no other curve", name,
                      comp ? "compressed" : "uncompressed");
            tap_check(&t, !ecgroups_on_curve(eg, curves[i], pt, len - 1), "%s: a cut point",
                      name);
            if (!comp) {
                pt[len - 1] ^= 1; /* y changed: off the curve */
                tap_check(&t, !ecgroups_on_curve(eg, curves[i], pt, len),
                          "%s: a point with its last byte changed", name);
            }
        }
    }
    tap_check(&t, !ecgroups_on_curve(eg, NID_X9_62_prime256v1, pt, 0), "an empty point");
    tap_check(&t, !ecgroups_on_curve(eg, NID_undef, pt, 65), "no curve");
    tap_check(&t, ecgroups_get(eg, NID_undef) == NULL, "no group for NID_undef");
    tap_check(&t, ecgroups_get(eg, NID_sha256) == NULL, "no group for a digest's NID");
    tap_check(&t, ecgroups_get(eg, NID_secp384r1) != NULL &&
                      ecgroups_get(eg, NID_secp384r1) == ecgroups_get(eg, NID_secp384r1),
              "a group asked for twice is the same");

    /* Fill the cache with every built-in curve; past ECGROUPS_MAX it says no. */
    {
        size_t n = EC_get_builtin_curves(NULL, 0), got = 0, refused = 0;
        EC_builtin_curve *all = OPENSSL_malloc(n * sizeof *all);

        if (all != NULL && EC_get_builtin_curves(all, n) == n)
            for (size_t i = 0; i < n; i++) {
                if (ecgroups_get(eg, all[i].nid) != NULL)
                    got++;
                else
                    refused++;
            }
        OPENSSL_free(all);
        tap_check(&t, n > ECGROUPS_MAX && got > 0 && got < n && refused > 0,
                  "a full cache refuses (%zu curves: %zu groups, %zu refused)", n, got, refused);
        tap_check(&t, ecgroups_get(eg, NID_secp384r1) != NULL, "a cached group stays");
    }
    tap_check(&t, ERR_peek_error() == 0, "the error queue is empty");
    ecgroups_free(eg);
    ecgroups_free(NULL);
    return tap_done(&t);
}
