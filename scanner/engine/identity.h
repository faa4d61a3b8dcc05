/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * identity.h - which key a finding is: names from the user's own public keys
 * (--known-keys), the allow list of known test keys (--allow, plus the
 * public test keys compiled into OpenSSL), and the grouping of every copy of
 * one key in a dump into one finding with several locations.
 *
 * Contract: an identity_db is built once by the CLI and read by any number
 * of scans. It holds fingerprints and labels only, never key material. Load
 * errors name the file and line and go to the diag sink.
 */
#ifndef DUMPGATE_IDENTITY_H
#define DUMPGATE_IDENTITY_H

#include <stdbool.h>

#include <dumpgate/error.h>

#include "scan.h"

struct identity_db;

/* A database that knows the built-in public test keys when builtin is true. */
struct identity_db *identity_new(bool builtin);
void identity_free(struct identity_db *db);

/* Reads an allow file, either of two kinds:
 * - a list: one SHA-256 (spki_sha256, key_sha256 or match_sha256, 64 hex
 *   digits, optionally written "spki_sha256=...") per line, then an
 *   optional "# comment" (the note); blank lines and comment lines are
 *   skipped;
 * - a report of `dumpgate scan --format jsonl` (its first non-blank
 *   character is '{'): every fingerprint of every "finding" record
 *   (key.spki_sha256, key.key_sha256, match_sha256) is allowed, with the
 *   note "from report NAME".
 * Loading n fingerprints takes O(n log n). Errors name the file and line. */
dg_err identity_load_allow(struct identity_db *db, const char *path, struct dg_diag *d);

/* Reads a file of the user's public keys: a JWK, a JWKS or an array of JWKs;
 * PEM certificates and public keys; or OpenSSH public key lines. */
dg_err identity_load_known(struct identity_db *db, const char *path, struct dg_diag *d);

/* Sets pol's allow half (allowed, allowed_arg): keyproof_prove() then names
 * a key on db's allow list by its public half and never proves it. db must
 * outlive every scan that uses pol. */
struct dg_proof_policy;
void identity_proof_policy(const struct identity_db *db, struct dg_proof_policy *pol);

/* Names and allows the findings of r. */
void identity_apply(const struct identity_db *db, struct scan_result *r);

/* Folds every copy of a key into one finding: findings with the same
 * spki_sha256 (or key_sha256), and findings whose bytes lie inside a
 * confirmed finding's bytes (a prime inside its DER key), become extra
 * locations of the best one. */
void identity_group(struct scan_result *r);

/* Names findings after public material seen in the same dump: a private key
 * whose public half is in a certificate there gets "private half of the
 * certificate /CN=... at offset N of this dump" as its label. */
void identity_name_from_dump(struct scan_result *r);

#endif
