/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * ecgroups.h - OpenSSL EC groups made once per worker, and the cheap check
 * that comes with them: is this encoded point on that curve?
 *
 * Making an EC_GROUP by curve name costs about as much as checking a
 * signature: OpenSSL copies the curve's parameters and precomputes for its
 * generator. A detector that meets many candidate public points (a CNG ECC
 * blob, a SEC1 key without its curve) rejects the ones off every curve with
 * one group per curve per worker, made on first use, before it builds any
 * key. An OpenSSL key import would make the group again for each candidate.
 *
 * Contract: an ecgroups cache is not thread-safe; each worker owns its own.
 * Nothing here touches secret bytes. Calls leave nothing on the thread's
 * error queue. Curves are named by NID; a curve OpenSSL does not build in is
 * no curve (every check on it fails).
 */
#ifndef DUMPGATE_ECGROUPS_H
#define DUMPGATE_ECGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ec.h>

struct ecgroups;

/* A new, empty cache, or NULL when out of memory. */
struct ecgroups *ecgroups_new(void);

/* Frees the cache and its groups; NULL is allowed. */
void ecgroups_free(struct ecgroups *eg);

/* The group of curve nid, made on first use and owned by the cache; NULL
 * when OpenSSL has no such curve, memory is short, or the cache is full
 * (it holds ECGROUPS_MAX curves, more than dumpgate knows). */
#define ECGROUPS_MAX 24
const EC_GROUP *ecgroups_get(struct ecgroups *eg, int nid);

/* Is pub[0..len) an encoded point (SEC1: compressed, uncompressed or hybrid)
 * on curve nid? False too when the group cannot be had. */
bool ecgroups_on_curve(struct ecgroups *eg, int nid, const uint8_t *pub, size_t len);

#endif
