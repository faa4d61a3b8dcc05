/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * finding.h - what a detector reports: the finding contract in C.
 *
 * Contract: a struct dg_finding carries offsets, lengths, names and public
 * fingerprints only. It never holds secret bytes: not the key, not a base64
 * line of it, not a hex or decimal number of it. Strings are fixed-size,
 * NUL-terminated arrays so that a finding can be copied by value across
 * threads; too-long text is truncated. The engine adds the detector name, the
 * virtual address and the region; detectors fill the rest. Field names follow
 * the JSON contract in docs/FINDINGS.md.
 */
#ifndef DUMPGATE_FINDING_H
#define DUMPGATE_FINDING_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum dg_severity {
    DG_SEV_NONE = 0,
    DG_SEV_LOW = 1,    /* weak signal */
    DG_SEV_MEDIUM = 2, /* encrypted key, candidate with strong structure */
    DG_SEV_HIGH = 3,   /* confirmed private or secret key */
};

/* What a key is for, decided from positive evidence (docs/FINDINGS.md). A
 * detector may set it when it holds the evidence itself (an oct JWK whose
 * "alg" is HS256 signs JWTs; an AES key inside a GCM record context);
 * DG_ROLE_UNSET leaves the decision to the engine, which reads the type and
 * the evidence the whole dump gives (dg_report_evidence). The severity of a
 * finding follows its role. */
enum dg_role {
    DG_ROLE_UNSET = 0,
    DG_ROLE_LONG_TERM,     /* can sign or identify: RSA, EC, EdDSA, DSA, a signing secret */
    DG_ROLE_KEY_AGREEMENT, /* can only agree (X25519, X448), no sign of being ephemeral */
    DG_ROLE_EPHEMERAL,     /* exists for one handshake (a TLS key share) */
    DG_ROLE_SESSION,       /* symmetric traffic key of a TLS/SSH connection */
    DG_ROLE_RNG_STATE,     /* a random generator's internal key */
    DG_ROLE_SYMMETRIC,     /* any other secret: a real secret of unknown purpose */
    DG_ROLE_COUNT
};

enum dg_status {
    DG_STATUS_CANDIDATE = 0, /* structure seen, proof impossible or incomplete */
    DG_STATUS_CONFIRMED = 1, /* key rebuilt with OpenSSL and its math holds */
};

/* Public identity of a key. Every string is "" when not known. */
struct dg_key {
    char algorithm[16];   /* "RSA", "RSA-PSS", "EC", "DSA", "Ed25519", "X25519", ... */
    unsigned bits;        /* key size in bits (RSA modulus, EC field, ...), 0 if unknown */
    char curve[24];       /* EC curve name as in JWK ("P-256") or OpenSSL's, else "" */
    char spki_sha256[65]; /* lowercase hex SHA-256 of DER SubjectPublicKeyInfo */
    char key_sha256[65];  /* SHA-256 of secret bytes that have no public half (AES
                             keys, oct JWKs, a lone RSA prime): an identifier only */
    char label[160];      /* a name for the key from --known-keys or the dump */
    char kid[128];        /* JWK "kid" member as found, "" if none */
    char jwk_thumbprint[48]; /* RFC 7638 thumbprint: base64url SHA-256, no padding */
};

struct dg_finding {
    char type[40];          /* "rsa-private-key", "encrypted-private-key", ... */
    enum dg_status status;
    enum dg_severity severity;
    uint64_t off;           /* file offset of the first byte of the match */
    uint64_t len;           /* length of the match in bytes */
    char encoding[32];      /* "pem-pkcs8", "pem-pkcs1", "der-sec1", "bn-le64", ... */
    char text[48];          /* text form: "ascii", "utf-16le, json-escaped, one-line" */
    struct dg_key key;
    char proof[112];        /* what was proven: "p*q=n, e*d=1 mod lcm(p-1,q-1), CRT" */
    char note[160];         /* why it is only a candidate, cipher and KDF, ... */
    char preview[112];      /* redacted preview: structure only, never secret bytes */
    char match_sha256[65];  /* lowercase hex SHA-256 of the bytes a rule or plug-in
                               matched (a token, a password): an identifier only */
    enum dg_role role;      /* DG_ROLE_UNSET: the engine decides */
    char reason[120];       /* one line: the evidence for the role ("" = the engine's) */
};

/* Fills dst (size n) with printf-style text, truncating; always NUL-terminates. */
void dg_strlcpyf(char *dst, unsigned long n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *dg_severity_name(enum dg_severity s); /* "low", "medium", "high", "none" */
const char *dg_status_name(enum dg_status s);     /* "candidate", "confirmed" */
/* Parses "low"/"medium"/"high"; returns false if s is none of them. */
bool dg_severity_parse(const char *s, enum dg_severity *out);
/* "long-term", "key-agreement", "ephemeral", "session", "rng-state",
 * "symmetric"; "unset" for DG_ROLE_UNSET. */
const char *dg_role_name(enum dg_role r);
/* Parses a role name; returns false if s names no role. */
bool dg_role_parse(const char *s, enum dg_role *out);

#ifdef __cplusplus
}
#endif
#endif
