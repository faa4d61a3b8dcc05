/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * verdict.c - roles and severities of findings (see verdict.h). The role
 * comes, strongest first, from: a --known-keys name (long-term); evidence
 * the dump gives about the same fingerprint (a TLS key share: ephemeral; a
 * generator's state: rng-state; a record context: session); the role the
 * detector set from its own evidence; and last the key's type (a key that
 * can sign is long-term, X25519/X448 key-agreement, other secrets
 * symmetric). A key share does not make a key ephemeral when a certificate
 * for it or a serialized copy of it is in the dump (a peer chooses what a
 * received handshake holds). The severity is the policy's for the role, or the detector's
 * override; a candidate its detector called a weak signal stays low.
 */
#include <string.h>

#include "verdict.h"

void
verdict_policy_init(struct verdict_policy *p)
{
    memset(p, 0, sizeof *p);
    p->role_severity[DG_ROLE_UNSET] = DG_SEV_HIGH; /* never used: every finding gets a role */
    p->role_severity[DG_ROLE_LONG_TERM] = DG_SEV_HIGH;
    p->role_severity[DG_ROLE_KEY_AGREEMENT] = DG_SEV_MEDIUM;
    p->role_severity[DG_ROLE_SYMMETRIC] = DG_SEV_MEDIUM;
    p->role_severity[DG_ROLE_EPHEMERAL] = DG_SEV_LOW;
    p->role_severity[DG_ROLE_SESSION] = DG_SEV_LOW;
    p->role_severity[DG_ROLE_RNG_STATE] = DG_SEV_LOW;
}

bool
verdict_policy_set_detector(struct verdict_policy *p, const char *name, enum dg_severity sev)
{
    for (size_t i = 0; i < p->n_det; i++) {
        if (strcmp(p->det[i].detector, name) == 0) {
            p->det[i].severity = sev;
            return true;
        }
    }
    if (p->n_det == VERDICT_MAX_OVERRIDES)
        return false;
    dg_strlcpyf(p->det[p->n_det].detector, sizeof p->det[p->n_det].detector, "%s", name);
    p->det[p->n_det++].severity = sev;
    return true;
}

/* What a key of each type is for when nothing else is known. */
static const struct type_role {
    const char *type;
    enum dg_role role;
    const char *reason;
} by_type[] = {
    {"rsa-private-key", DG_ROLE_LONG_TERM, "an RSA private key: it can sign and decrypt"},
    {"ec-private-key", DG_ROLE_LONG_TERM,
     "an EC private key: it can sign; nothing in the dump shows it is a key share"},
    {"ed25519-private-key", DG_ROLE_LONG_TERM, "an Ed25519 private key: it signs"},
    {"ed448-private-key", DG_ROLE_LONG_TERM, "an Ed448 private key: it signs"},
    {"dsa-private-key", DG_ROLE_LONG_TERM, "a DSA private key: it signs"},
    {"rsa-prime", DG_ROLE_LONG_TERM, "an RSA prime: its private key can be rebuilt"},
    {"ecdsa-nonce", DG_ROLE_LONG_TERM,
     "an ECDSA signature nonce: with its signature and the signed message it gives the signing "
     "key"},
    {"encrypted-private-key", DG_ROLE_LONG_TERM,
     "an encrypted private key: a stored identity, open to offline guessing"},
    {"openssh-private-key", DG_ROLE_LONG_TERM, "an OpenSSH private key: a login identity"},
    {"pgp-private-key", DG_ROLE_LONG_TERM, "an OpenPGP secret key: it signs"},
    {"private-key", DG_ROLE_LONG_TERM, "a private key of unknown type: taken as long-term"},
    {"x25519-private-key", DG_ROLE_KEY_AGREEMENT,
     "an X25519 key can only agree keys; nothing in the dump shows it is ephemeral"},
    {"x448-private-key", DG_ROLE_KEY_AGREEMENT,
     "an X448 key can only agree keys; nothing in the dump shows it is ephemeral"},
    {"symmetric-key", DG_ROLE_SYMMETRIC, "a symmetric key of unknown use"},
    {"aes-key", DG_ROLE_SYMMETRIC, "an AES key of unknown use"},
};

/* The entry of a key's type, or NULL for a finding that is no key (a rule's
 * or plug-in's token). */
static const struct type_role *
key_type(const char *type)
{
    for (size_t i = 0; i < sizeof by_type / sizeof by_type[0]; i++)
        if (strcmp(type, by_type[i].type) == 0)
            return &by_type[i];
    return NULL;
}

/* The evidence in r about the key with fingerprint hash, of one kind; NULL if none. */
static const struct scan_public *
evidence(const struct scan_result *r, enum dg_evidence kind, const char *hash)
{
    if (hash[0] == '\0')
        return NULL;
    for (size_t i = 0; i < r->n_publics; i++)
        if (r->publics[i].kind == kind && strcmp(r->publics[i].spki_sha256, hash) == 0)
            return &r->publics[i];
    return NULL;
}

/* Is a copy of this key in a form a TLS stack never gives a key share: a
 * serialized private key (PEM, JWK, key store, OpenSSH, Windows blob)? */
static bool
serialized(const struct scan_finding *sf)
{
    static const char *const stored[] = {"pem", "jwk", "keystore", "sshkey", "winblob"};

    for (size_t i = 0; i <= sf->n_copies; i++) {
        const char *det = i == 0 ? sf->detector : sf->copies[i - 1].detector;

        for (size_t k = 0; det != NULL && k < sizeof stored / sizeof stored[0]; k++)
            if (strcmp(det, stored[k]) == 0)
                return true;
    }
    return false;
}

static void
decide(const struct scan_result *r, struct scan_finding *sf)
{
    struct dg_finding *f = &sf->f;
    const char *hash = f->key.spki_sha256[0] ? f->key.spki_sha256 : f->key.key_sha256;
    static const struct {
        enum dg_evidence kind;
        enum dg_role role;
    } implies[] = {
        {DG_EVIDENCE_KEY_SHARE, DG_ROLE_EPHEMERAL},
        {DG_EVIDENCE_RNG_STATE, DG_ROLE_RNG_STATE},
        {DG_EVIDENCE_SESSION, DG_ROLE_SESSION},
    };
    const struct type_role *kt;

    if (sf->known) {
        f->role = DG_ROLE_LONG_TERM;
        dg_strlcpyf(f->reason, sizeof f->reason, "named by --known-keys: %s", f->key.label);
        return;
    }
    for (size_t i = 0; i < sizeof implies / sizeof implies[0]; i++) {
        const struct scan_public *e = evidence(r, implies[i].kind, hash);

        /* A key share never outweighs a certificate or a stored copy: a peer
         * can put any public key into a handshake the process receives. */
        if (e != NULL && implies[i].kind == DG_EVIDENCE_KEY_SHARE &&
            (evidence(r, DG_EVIDENCE_PUBLIC, hash) != NULL || serialized(sf)))
            continue;
        if (e != NULL) {
            f->role = implies[i].role;
            dg_strlcpyf(f->reason, sizeof f->reason, "%s at offset 0x%llx", e->what,
                        (unsigned long long)e->off);
            return;
        }
    }
    if (f->role != DG_ROLE_UNSET && f->role < DG_ROLE_COUNT) {
        if (f->reason[0] == '\0')
            dg_strlcpyf(f->reason, sizeof f->reason, "as the %s detector judged it",
                        sf->detector);
        return;
    }
    kt = key_type(f->type);
    f->role = kt != NULL ? kt->role : DG_ROLE_SYMMETRIC;
    dg_strlcpyf(f->reason, sizeof f->reason, "%s",
                kt != NULL ? kt->reason : "a secret that is not a key (a token, a password)");
}

void
verdict_apply(const struct verdict_policy *p, struct scan_result *r)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        struct scan_finding *sf = &r->findings[i];
        struct dg_finding *f = &sf->f;
        /* a weak signal: armor that does not decode, a FIDO handle */
        bool weak = f->status == DG_STATUS_CANDIDATE && f->severity == DG_SEV_LOW;
        /* rules and plug-ins of other types keep the severity they declared */
        bool keyish = key_type(f->type) != NULL;
        enum dg_severity sev;
        bool overridden = false;

        decide(r, sf);
        sev = keyish || f->severity == DG_SEV_NONE || f->role != DG_ROLE_SYMMETRIC
                  ? p->role_severity[f->role]
                  : f->severity;
        for (size_t k = 0; k < p->n_det; k++)
            if (sf->detector != NULL && strcmp(p->det[k].detector, sf->detector) == 0) {
                sev = p->det[k].severity;
                overridden = true;
            }
        if (weak && sev > DG_SEV_LOW && !sf->known && !overridden) {
            sev = DG_SEV_LOW;
            if (strlen(f->reason) + 24 < sizeof f->reason)
                strcat(f->reason, "; weak evidence: low");
        }
        f->severity = sev;
    }
}
