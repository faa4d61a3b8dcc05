/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * verdict.h - what each finding's key is for, and how much it matters: the
 * role of every finding (long-term, key-agreement, ephemeral, session,
 * rng-state, symmetric) from the evidence the detectors and the dump give,
 * and its severity from the role under a policy (defaults, per-role and
 * per-detector overrides from the configuration file).
 *
 * Contract: verdict_apply() runs once per scan result, after identity_apply()
 * (a key named by --known-keys is long-term whatever else is seen). It sets
 * f.role, f.reason and f.severity of every finding and never drops one. When
 * in doubt a private key stays long-term: only positive evidence (a key
 * share of a handshake in the dump, a generator's state structure, a record
 * cipher context) gives it another role.
 */
#ifndef DUMPGATE_VERDICT_H
#define DUMPGATE_VERDICT_H

#include <stddef.h>

#include <dumpgate/finding.h>

#include "scan.h"

#define VERDICT_MAX_OVERRIDES 64

struct verdict_override {
    char detector[32];            /* a detector's name */
    enum dg_severity severity;
};

struct verdict_policy {
    enum dg_severity role_severity[DG_ROLE_COUNT]; /* severity of a finding in each role */
    struct verdict_override det[VERDICT_MAX_OVERRIDES]; /* per detector, wins over the role */
    size_t n_det;
};

/* The default policy: long-term high; key-agreement and symmetric medium;
 * ephemeral, session and rng-state low. */
void verdict_policy_init(struct verdict_policy *p);

/* Sets (or replaces) the severity of every finding of detector name.
 * Returns false when the table is full. */
bool verdict_policy_set_detector(struct verdict_policy *p, const char *name,
                                 enum dg_severity sev);

/* Gives every finding of r its role, reason and severity under p. */
void verdict_apply(const struct verdict_policy *p, struct scan_result *r);

#endif
