/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_verdict.c - roles and severities: every key type gets its role and
 * the policy's severity; evidence moves a key out of long-term only where it
 * may (a key share never outweighs a certificate, a stored copy or a
 * --known-keys name); a weak candidate stays low; overrides apply. The
 * invariant the gate rests on: under the default policy, a finding whose
 * role is long-term and whose evidence is not weak is always high.
 */
#include <stdlib.h>
#include <string.h>

#include "../../scanner/engine/verdict.h"
#include "tap.h"

static const char *const all_types[] = {
    "rsa-private-key", "ec-private-key", "ed25519-private-key", "ed448-private-key",
    "x25519-private-key", "x448-private-key", "dsa-private-key", "rsa-prime", "ecdsa-nonce",
    "encrypted-private-key", "openssh-private-key", "pgp-private-key", "symmetric-key",
    "aes-key", "private-key", "aws-access-key",
};
static const char *const all_detectors[] = {"pem", "der", "jwk", "rsa-raw", "ec-raw",
                                            "keystore", "sshkey", "winblob", "aes", "rules"};

static void
finding(struct scan_finding *sf, const char *type, const char *det, enum dg_status st,
        enum dg_severity sev, const char *hash)
{
    memset(sf, 0, sizeof *sf);
    dg_strlcpyf(sf->f.type, sizeof sf->f.type, "%s", type);
    sf->f.status = st;
    sf->f.severity = sev;
    sf->detector = det;
    sf->region.thread = -1;
    dg_strlcpyf(sf->f.key.spki_sha256, sizeof sf->f.key.spki_sha256, "%s", hash);
}

static enum dg_role
role_of(const char *type)
{
    struct verdict_policy p;
    struct scan_finding sf;
    struct scan_result r;

    verdict_policy_init(&p);
    memset(&r, 0, sizeof r);
    finding(&sf, type, "der", DG_STATUS_CONFIRMED, DG_SEV_HIGH, "aa");
    r.findings = &sf;
    r.n_findings = 1;
    verdict_apply(&p, &r);
    return sf.f.role;
}

int
main(void)
{
    struct tap t = {0};
    struct verdict_policy p;
    struct scan_public ev[3];
    struct scan_finding v[4];
    struct scan_result r;
    struct scan_location copy;

    /* types */
    tap_check(&t, role_of("rsa-private-key") == DG_ROLE_LONG_TERM, "RSA is long-term");
    tap_check(&t, role_of("ec-private-key") == DG_ROLE_LONG_TERM, "EC is long-term in doubt");
    tap_check(&t, role_of("ecdsa-nonce") == DG_ROLE_LONG_TERM,
              "an ECDSA nonce gives its signing key: long-term");
    tap_check(&t, role_of("encrypted-private-key") == DG_ROLE_LONG_TERM,
              "an encrypted private key is long-term");
    tap_check(&t, role_of("x25519-private-key") == DG_ROLE_KEY_AGREEMENT,
              "X25519 is key-agreement");
    tap_check(&t, role_of("aes-key") == DG_ROLE_SYMMETRIC, "AES is symmetric");
    tap_check(&t, role_of("aws-access-key") == DG_ROLE_SYMMETRIC,
              "a rule's token is a symmetric secret");

    /* The invariant: every type, every detector, every evidence the engine
     * can see; a long-term finding that is not a weak signal is high. */
    {
        unsigned bad = 0, seen = 0;
        enum dg_evidence kinds[] = {DG_EVIDENCE_PUBLIC, DG_EVIDENCE_KEY_SHARE,
                                    DG_EVIDENCE_RNG_STATE, DG_EVIDENCE_SESSION};

        for (size_t ty = 0; ty < sizeof all_types / sizeof all_types[0]; ty++)
            for (size_t de = 0; de < sizeof all_detectors / sizeof all_detectors[0]; de++)
                for (int st = 0; st < 2; st++)
                    for (int sev = DG_SEV_MEDIUM; sev <= DG_SEV_HIGH; sev++)
                        for (size_t ek = 0; ek <= 4; ek++)
                            for (int known = 0; known < 2; known++) {
                                verdict_policy_init(&p);
                                memset(&r, 0, sizeof r);
                                finding(&v[0], all_types[ty], all_detectors[de],
                                        (enum dg_status)st, (enum dg_severity)sev, "bb");
                                v[0].known = known;
                                if (known)
                                    dg_strlcpyf(v[0].f.key.label, sizeof v[0].f.key.label,
                                                "private half of kid=x from k.jwks");
                                r.findings = v;
                                r.n_findings = 1;
                                if (ek < 4) {
                                    memset(ev, 0, sizeof ev);
                                    ev[0].kind = kinds[ek];
                                    strcpy(ev[0].spki_sha256, "bb");
                                    strcpy(ev[0].what, "evidence");
                                    r.publics = ev;
                                    r.n_publics = 1;
                                }
                                verdict_apply(&p, &r);
                                seen += v[0].f.role == DG_ROLE_LONG_TERM;
                                bad += v[0].f.role == DG_ROLE_LONG_TERM &&
                                       v[0].f.severity != DG_SEV_HIGH;
                                bad += known && v[0].f.role != DG_ROLE_LONG_TERM;
                                bad += v[0].f.role == DG_ROLE_UNSET || v[0].f.reason[0] == '\0';
                            }
        tap_check(&t, bad == 0 && seen > 1000,
                  "long-term is always high, known keys always long-term (%u of %u bad)", bad,
                  seen);
    }

    /* evidence */
    verdict_policy_init(&p);
    memset(&r, 0, sizeof r);
    memset(ev, 0, sizeof ev);
    finding(&v[0], "x25519-private-key", "ec-raw", DG_STATUS_CONFIRMED, DG_SEV_HIGH, "k1");
    finding(&v[1], "ec-private-key", "der", DG_STATUS_CONFIRMED, DG_SEV_HIGH, "k2");
    finding(&v[2], "ec-private-key", "ec-raw", DG_STATUS_CONFIRMED, DG_SEV_HIGH, "k3");
    finding(&v[3], "aes-key", "aes", DG_STATUS_CONFIRMED, DG_SEV_MEDIUM, "");
    strcpy(v[3].f.key.key_sha256, "k4");
    ev[0].kind = DG_EVIDENCE_KEY_SHARE;
    strcpy(ev[0].spki_sha256, "k1");
    ev[1].kind = DG_EVIDENCE_KEY_SHARE;
    strcpy(ev[1].spki_sha256, "k2");
    ev[2].kind = DG_EVIDENCE_RNG_STATE;
    strcpy(ev[2].spki_sha256, "k4");
    r.findings = v;
    r.n_findings = 4;
    r.publics = ev;
    r.n_publics = 3;
    /* k3 has a key share too, but a PEM copy of it is in the dump */
    memset(&copy, 0, sizeof copy);
    copy.detector = "pem";
    v[2].copies = &copy;
    v[2].n_copies = 1;
    ev[1].spki_sha256[1] = '3'; /* the share names k3 now */
    verdict_apply(&p, &r);
    tap_check(&t, v[0].f.role == DG_ROLE_EPHEMERAL && v[0].f.severity == DG_SEV_LOW,
              "an X25519 key share is ephemeral, low");
    tap_check(&t, v[1].f.role == DG_ROLE_LONG_TERM && v[1].f.severity == DG_SEV_HIGH,
              "an EC key without evidence stays long-term");
    tap_check(&t, v[2].f.role == DG_ROLE_LONG_TERM,
              "a key share does not outweigh a stored (PEM) copy");
    tap_check(&t, v[3].f.role == DG_ROLE_RNG_STATE && v[3].f.severity == DG_SEV_LOW,
              "a DRBG's key is rng-state, low");

    /* a certificate outweighs a key share */
    memset(&r, 0, sizeof r);
    memset(ev, 0, sizeof ev);
    finding(&v[0], "ec-private-key", "ec-raw", DG_STATUS_CONFIRMED, DG_SEV_HIGH, "k5");
    ev[0].kind = DG_EVIDENCE_KEY_SHARE;
    strcpy(ev[0].spki_sha256, "k5");
    ev[1].kind = DG_EVIDENCE_PUBLIC;
    strcpy(ev[1].spki_sha256, "k5");
    r.findings = v;
    r.n_findings = 1;
    r.publics = ev;
    r.n_publics = 2;
    verdict_apply(&p, &r);
    tap_check(&t, v[0].f.role == DG_ROLE_LONG_TERM && v[0].f.severity == DG_SEV_HIGH,
              "a key share does not outweigh a certificate");

    /* weak signals, overrides, detector roles */
    memset(&r, 0, sizeof r);
    finding(&v[0], "private-key", "pem", DG_STATUS_CANDIDATE, DG_SEV_LOW, "");
    finding(&v[1], "aes-key", "aes", DG_STATUS_CONFIRMED, DG_SEV_MEDIUM, "");
    v[1].f.role = DG_ROLE_SESSION;
    finding(&v[2], "x25519-private-key", "ec-raw", DG_STATUS_CONFIRMED, DG_SEV_HIGH, "");
    finding(&v[3], "symmetric-key", "jwk", DG_STATUS_CONFIRMED, DG_SEV_MEDIUM, "");
    v[3].f.role = DG_ROLE_LONG_TERM;
    r.findings = v;
    r.n_findings = 4;
    p.role_severity[DG_ROLE_KEY_AGREEMENT] = DG_SEV_HIGH;
    tap_check(&t, verdict_policy_set_detector(&p, "aes", DG_SEV_MEDIUM), "override set");
    verdict_apply(&p, &r);
    tap_check(&t, v[0].f.severity == DG_SEV_LOW && strstr(v[0].f.reason, "weak") != NULL,
              "undecodable armor stays low, and says why");
    tap_check(&t, v[1].f.role == DG_ROLE_SESSION && v[1].f.severity == DG_SEV_MEDIUM,
              "the detector's role is kept; a per-detector override wins over the role");
    tap_check(&t, v[2].f.severity == DG_SEV_HIGH, "a per-role override applies");
    tap_check(&t, v[3].f.role == DG_ROLE_LONG_TERM && v[3].f.severity == DG_SEV_HIGH,
              "a JWT signing key (oct, alg HS256) is long-term, high");

    /* names */
    {
        enum dg_role x;

        tap_check(&t, dg_role_parse("rng-state", &x) && x == DG_ROLE_RNG_STATE &&
                          !dg_role_parse("unset", &x) && !dg_role_parse("LONG-TERM", &x),
                  "role names parse strictly");
    }
    return tap_done(&t);
}
