/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * identity.c - names, allows and groups findings by the public identity of
 * their key (see identity.h). Public keys given by the user are read with
 * OpenSSL (PEM, X.509, OSSL_DECODER), jansson (JWK/JWKS) and the openssh
 * blob reader; only their SHA-256 fingerprints and a label are kept.
 *
 * The built-in allow list is keyproof's table of published test keys
 * (OpenSSL's apps/testrsa.h, GnuTLS's src/benchmark-tls.c): private keys
 * compiled into the `openssl` and `gnutls-cli` programs, so every core of
 * those holds them. They are reported as allowed, never hidden.
 *
 * Storage: one small entry per fingerprint (the SHA-256 in binary, flags,
 * and offsets of its label and note in one text buffer), appended as files
 * are read, then sorted and merged once per file (settle()), so that every
 * identity_db a caller sees is sorted, holds each fingerprint once, and is
 * searched by bisection: loading n fingerprints costs O(n log n), a lookup
 * O(log n), whatever the input (no hash to collide).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../container/regions.h"
#include "../formats/jwk.h"
#include "../formats/openssh.h"
#include "../proof/keydecode.h"
#include "../proof/keyproof.h"
#include "identity.h"

#define KNOWN_FILE_MAX (16u << 20) /* bytes of a --known-keys file read at most */
#define LABEL_MAX (sizeof ((struct dg_key *)0)->label - 1)          /* bytes kept */
#define NOTE_MAX (sizeof ((struct scan_finding *)0)->allow_note - 1) /* bytes kept */

struct entry {
    unsigned char hash[32]; /* the SHA-256 (spki, key or match), binary */
    uint32_t seq;           /* order of loading: the later label and note win */
    uint32_t label;         /* --known-keys: "private half of ...", offset in db->text; 0 none */
    uint32_t note;          /* --allow: the line's comment, offset in db->text; 0 none */
    bool allow;
};

struct identity_db {
    struct entry *v;        /* sorted by hash, one entry per hash (between loads) */
    size_t n, cap;
    uint32_t seq;           /* entries ever added */
    char *text;             /* NUL-terminated labels and notes; text[0] = "" */
    size_t text_len, text_cap;
};

/* Keeps at most max bytes of s in db->text. OUT: *off, its offset. */
static dg_err
intern(struct identity_db *db, const char *s, size_t max, uint32_t *off)
{
    size_t len = strnlen(s, max);

    if (db->text_len + len + 1 > db->text_cap) {
        size_t cap = db->text_cap ? 2 * db->text_cap : 4096;
        char *t;

        while (cap < db->text_len + len + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return DG_E_LIMIT;
        if ((t = realloc(db->text, cap)) == NULL)
            return DG_E_NOMEM;
        db->text = t;
        db->text_cap = cap;
    }
    memcpy(db->text + db->text_len, s, len);
    db->text[db->text_len + len] = '\0';
    *off = (uint32_t)db->text_len;
    db->text_len += len + 1;
    return DG_OK;
}

/* Reads 64 hex digits (either case) at s into out[32]; false if s has fewer. */
static bool
unhex64(const char *s, unsigned char out[32])
{
    for (int i = 0; i < 32; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]), lo;

        /* hi first: a string shorter than 64 ends at its NUL, never read past */
        if (hi < 0 || (lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1])) < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* Appends an entry (not yet searchable: settle() makes it so). */
static dg_err
add(struct identity_db *db, const unsigned char hash[32], bool allow, uint32_t label,
    uint32_t note)
{
    struct entry *e;

    if (db->n == db->cap) {
        size_t cap = db->cap ? 2 * db->cap : 64;
        struct entry *nv = realloc(db->v, cap * sizeof *nv);

        if (nv == NULL)
            return DG_E_NOMEM;
        db->v = nv;
        db->cap = cap;
    }
    if (db->seq == UINT32_MAX)
        return DG_E_LIMIT;
    e = &db->v[db->n++];
    memcpy(e->hash, hash, sizeof e->hash);
    e->seq = db->seq++;
    e->allow = allow;
    e->label = label;
    e->note = note;
    return DG_OK;
}

static int
cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = memcmp(x->hash, y->hash, sizeof x->hash);

    return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts db->v and merges the entries of one hash into one: allowed if any
 * of them is, with the last label and the last allow note. */
static void
settle(struct identity_db *db)
{
    size_t k = 0;

    if (db->n < 2)
        return; /* sorted, and db->v may be NULL, which qsort must not see */
    qsort(db->v, db->n, sizeof *db->v, cmp_entry);
    for (size_t i = 0; i < db->n; i++) {
        const struct entry *e = &db->v[i];
        struct entry *m = k > 0 ? &db->v[k - 1] : NULL; /* the last one kept */

        if (m != NULL && memcmp(m->hash, e->hash, sizeof e->hash) == 0) {
            if (e->label != 0)
                m->label = e->label;
            if (e->allow) {
                m->allow = true;
                m->note = e->note;
            }
            m->seq = e->seq;
        } else {
            db->v[k++] = *e;
        }
    }
    db->n = k;
}

/* The entry of the SHA-256 written in hex, or NULL. The db is settled:
 * sorted, one entry per hash. */
static const struct entry *
find(const struct identity_db *db, const char *hex)
{
    unsigned char h[32];

    if (db->n == 0 || strlen(hex) != 64 || !unhex64(hex, h))
        return NULL;
    for (size_t lo = 0, hi = db->n; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(db->v[mid].hash, h, sizeof h);

        if (c == 0)
            return &db->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

struct identity_db *
identity_new(bool builtin)
{
    struct identity_db *db = calloc(1, sizeof *db);
    uint32_t empty;

    if (db == NULL || intern(db, "", 0, &empty) != DG_OK) {
        identity_free(db);
        return NULL;
    }
    /* the published test keys keyproof names without proving them */
    for (size_t i = 0; builtin && i < keyproof_test_key_count(); i++) {
        unsigned char h[32];
        char note[NOTE_MAX + 1];
        uint32_t off;
        const char *spki = keyproof_test_key(i, note, sizeof note);

        if (spki == NULL || !unhex64(spki, h) ||
            intern(db, note, NOTE_MAX, &off) != DG_OK || add(db, h, true, 0, off) != DG_OK) {
            identity_free(db);
            return NULL;
        }
    }
    settle(db);
    return db;
}

void
identity_free(struct identity_db *db)
{
    if (db == NULL)
        return;
    free(db->v);
    free(db->text);
    free(db);
}

static const char *
base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s != NULL ? s + 1 : path;
}

/* One line of a list of fingerprints: "[spki_sha256=|key_sha256=|
 * match_sha256=|sha256:]HEX64 [# comment]", a comment line or a blank one.
 * file_note: the note of a line without a comment. */
static dg_err
allow_line(struct identity_db *db, const char *path, unsigned long lineno, char *line,
           uint32_t file_note, struct dg_diag *d)
{
    static const char *const prefixes[] = {"spki_sha256=", "key_sha256=", "match_sha256=",
                                           "sha256:"};
    char *p = line, *hash_end, *comment;
    unsigned char h[32];
    uint32_t note = file_note;
    dg_err rc;

    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0' || *p == '#')
        return DG_OK;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(p, prefixes[i], strlen(prefixes[i])) == 0) {
            p += strlen(prefixes[i]);
            break;
        }
    hash_end = p;
    while (isxdigit((unsigned char)*hash_end))
        hash_end++;
    if (hash_end - p != 64 || !unhex64(p, h) ||
        (*hash_end != '\0' && !isspace((unsigned char)*hash_end) && *hash_end != '#'))
        return dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET,
                       "%s:%lu: expected a SHA-256 (64 hex digits) and an optional # comment",
                       path, lineno);
    comment = strchr(hash_end, '#');
    if (comment != NULL) {
        comment++;
        while (isspace((unsigned char)*comment))
            comment++;
        comment[strcspn(comment, "\r\n")] = '\0';
        if ((rc = intern(db, comment, NOTE_MAX, &note)) != DG_OK)
            return dg_diag(d, rc, DG_NO_OFFSET, "%s: %s", path, dg_strerror(rc));
    }
    if ((rc = add(db, h, true, 0, note)) != DG_OK)
        return dg_diag(d, rc, DG_NO_OFFSET, "%s: %s", path, dg_strerror(rc));
    return DG_OK;
}

/* One line of a JSONL report of `dumpgate scan`: every fingerprint of a
 * "finding" record is allowed; other records are skipped. */
static dg_err
allow_record(struct identity_db *db, const char *path, unsigned long lineno, const char *line,
             size_t len, uint32_t note, struct dg_diag *d)
{
    static const char *const names[] = {"key.spki_sha256", "key.key_sha256", "match_sha256"};
    json_error_t jerr;
    json_t *rec;
    const json_t *key, *fields[3];
    const char *kind;
    dg_err rc = DG_OK;

    while (len > 0 && isspace((unsigned char)line[len - 1]))
        len--;
    if (len == 0)
        return DG_OK;
    rec = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(rec)) {
        json_decref(rec);
        return dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET,
                       "%s:%lu: not a record of a JSONL report (a JSON object per line): %s",
                       path, lineno, rec == NULL ? jerr.text : "not an object");
    }
    kind = json_string_value(json_object_get(rec, "record"));
    key = json_object_get(rec, "key");
    fields[0] = json_object_get(key, "spki_sha256");
    fields[1] = json_object_get(key, "key_sha256");
    fields[2] = json_object_get(rec, "match_sha256");
    for (size_t i = 0; kind != NULL && strcmp(kind, "finding") == 0 && i < 3 && rc == DG_OK;
         i++) {
        const char *hex = json_string_value(fields[i]);
        unsigned char h[32];

        if (fields[i] == NULL || json_is_null(fields[i]))
            continue;
        if (hex == NULL || strlen(hex) != 64 || !unhex64(hex, h))
            rc = dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET,
                         "%s:%lu: %s of a finding must be a SHA-256 (64 hex digits)", path,
                         lineno, names[i]);
        else if ((rc = add(db, h, true, 0, note)) != DG_OK)
            rc = dg_diag(d, rc, DG_NO_OFFSET, "%s: %s", path, dg_strerror(rc));
    }
    json_decref(rec);
    return rc;
}

dg_err
identity_load_allow(struct identity_db *db, const char *path, struct dg_diag *d)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, note[NOTE_MAX + 1];
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    uint32_t file_note;
    bool report;
    int c;
    dg_err rc;

    if (f == NULL)
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: cannot open allow file: %m", path);
    /* A report when its first non-blank character opens a JSON object. */
    while ((c = getc(f)) != EOF && isspace(c))
        lineno += c == '\n';
    report = c == '{';
    if (c != EOF)
        ungetc(c, f);
    if (report)
        dg_strlcpyf(note, sizeof note, "from report %s", base_name(path));
    else
        dg_strlcpyf(note, sizeof note, "in %s", path);
    rc = intern(db, note, NOTE_MAX, &file_note);
    if (rc != DG_OK)
        rc = dg_diag(d, rc, DG_NO_OFFSET, "%s: %s", path, dg_strerror(rc));
    while (rc == DG_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (report)
            rc = allow_record(db, path, lineno, line, (size_t)len, file_note, d);
        else if (strlen(line) != (size_t)len)
            rc = dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET, "%s:%lu: a NUL byte in the line", path,
                         lineno);
        else
            rc = allow_line(db, path, lineno, line, file_note, d);
    }
    if (rc == DG_OK && ferror(f))
        rc = dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: read error: %m", path);
    free(line);
    fclose(f);
    settle(db);
    return rc;
}

/* Records the public key pkey under label (not yet searchable: the caller
 * settles), and an RSA-PSS key under its rsaEncryption name too
 * (keyproof_rsa_alias(): what its private half found as raw numbers is
 * called); frees nothing. */
static dg_err
known(struct identity_db *db, const EVP_PKEY *pkey, const char *label)
{
    struct dg_key k;
    unsigned char h[32];
    char alias[65];
    uint32_t off;
    dg_err rc;

    memset(&k, 0, sizeof k);
    if (keyproof_identity(pkey, &k) != DG_OK || k.spki_sha256[0] == '\0' ||
        !unhex64(k.spki_sha256, h))
        return DG_E_FORMAT;
    if ((rc = intern(db, label, LABEL_MAX, &off)) != DG_OK ||
        (rc = add(db, h, false, off, 0)) != DG_OK)
        return rc;
    if (keyproof_rsa_alias(pkey, alias) == DG_OK && unhex64(alias, h))
        rc = add(db, h, false, off, 0);
    return rc;
}

static size_t
known_json(struct identity_db *db, const char *path, const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr), *keys, *o;
    size_t i, n = 0;

    if (root == NULL)
        return 0;
    keys = json_is_array(root) ? root : json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        keys = json_array();
        json_array_append(keys, root);
    } else {
        json_incref(keys);
    }
    json_array_foreach(keys, i, o) {
        EVP_PKEY *pkey = jwk_public_key(o);
        const char *kid = json_string_value(json_object_get(o, "kid"));
        char label[160];

        if (pkey == NULL)
            continue;
        if (kid != NULL)
            dg_strlcpyf(label, sizeof label, "private half of kid=%.80s from %s", kid,
                        base_name(path));
        else
            dg_strlcpyf(label, sizeof label, "private half of JWK #%zu from %s", i + 1,
                        base_name(path));
        n += known(db, pkey, label) == DG_OK;
        EVP_PKEY_free(pkey);
    }
    json_decref(keys);
    json_decref(root);
    return n;
}

static size_t
known_pem(struct identity_db *db, const char *path, const char *buf, size_t len)
{
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    size_t n = 0, idx = 0;

    while (bio != NULL && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
        const unsigned char *p = data;
        EVP_PKEY *pkey = NULL;
        X509 *x = NULL;
        char label[160], subject[100] = "";

        idx++;
        if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "TRUSTED CERTIFICATE") == 0 ||
            strcmp(name, "X509 CERTIFICATE") == 0) {
            x = strcmp(name, "TRUSTED CERTIFICATE") == 0 ? d2i_X509_AUX(NULL, &p, dlen)
                                                          : d2i_X509(NULL, &p, dlen);
            if (x != NULL) {
                X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
                pkey = X509_get_pubkey(x);
            }
            dg_strlcpyf(label, sizeof label, "private half of the certificate %s from %s",
                        subject, base_name(path));
        } else if (strcmp(name, "PUBLIC KEY") == 0) {
            pkey = d2i_PUBKEY(NULL, &p, dlen);
            dg_strlcpyf(label, sizeof label, "private half of public key #%zu from %s", idx,
                        base_name(path));
        } else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
            pkey = keydecode(NULL, p, (size_t)dlen, "type-specific", "RSA", EVP_PKEY_PUBLIC_KEY,
                             NULL);
            dg_strlcpyf(label, sizeof label, "private half of RSA public key #%zu from %s", idx,
                        base_name(path));
        }
        if (pkey != NULL)
            n += known(db, pkey, label) == DG_OK;
        EVP_PKEY_free(pkey);
        X509_free(x);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
    BIO_free(bio);
    return n;
}

/* authorized_keys style lines: "TYPE BASE64 [comment]". */
static size_t
known_ssh(struct identity_db *db, const char *path, char *buf)
{
    size_t n = 0;

    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char type[48], b64[16384], comment[96] = "", kt[48], label[160];
        unsigned char blob[12288];
        EVP_PKEY *pkey = NULL;
        int blen, len, pad = 0;

        if (sscanf(line, "%47s %16383s %95[^\r\n]", type, b64, comment) < 2 ||
            (strncmp(type, "ssh-", 4) != 0 && strncmp(type, "ecdsa-", 6) != 0))
            continue;
        len = (int)strlen(b64);
        if (len % 4 != 0 || len / 4 * 3 > (int)sizeof blob)
            continue;
        blen = EVP_DecodeBlock(blob, (const unsigned char *)b64, len);
        while (len > 0 && b64[--len] == '=')
            pad++;
        if (blen <= pad || openssh_public_blob(blob, (size_t)(blen - pad), kt, sizeof kt,
                                               &pkey) != DG_OK)
            continue;
        dg_strlcpyf(label, sizeof label, "private half of the SSH key %s from %s",
                    comment[0] ? comment : kt, base_name(path));
        n += known(db, pkey, label) == DG_OK;
        EVP_PKEY_free(pkey);
    }
    return n;
}

dg_err
identity_load_known(struct identity_db *db, const char *path, struct dg_diag *d)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t len, n = 0;
    const char *p;

    if (f == NULL)
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: cannot open known-keys file: %m", path);
    buf = malloc(KNOWN_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", path);
    }
    len = fread(buf, 1, KNOWN_FILE_MAX, f);
    fclose(f);
    buf[len] = '\0';
    ERR_set_mark();
    for (p = buf; *p != '\0' && isspace((unsigned char)*p); p++)
        ;
    if (*p == '{' || *p == '[')
        n = known_json(db, path, buf, len);
    else if (strstr(buf, "-----BEGIN ") != NULL)
        n = known_pem(db, path, buf, len);
    else
        n = known_ssh(db, path, buf);
    ERR_pop_to_mark();
    free(buf);
    settle(db);
    if (n == 0)
        return dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET,
                       "%s: no public key found (expected a JWK/JWKS, PEM certificates or "
                       "public keys, or OpenSSH public key lines)",
                       path);
    return DG_OK;
}

/* dg_proof_policy.allowed: an spki_sha256 on the allow list. */
static bool
allowed_spki(const void *arg, const char *spki_sha256, char *note, size_t note_len)
{
    const struct identity_db *db = arg;
    const struct entry *e = find(db, spki_sha256);

    if (e == NULL || !e->allow)
        return false;
    dg_strlcpyf(note, note_len, "%s", db->text + e->note);
    return true;
}

void
identity_proof_policy(const struct identity_db *db, struct dg_proof_policy *pol)
{
    pol->allowed = allowed_spki;
    pol->allowed_arg = db;
}

void
identity_apply(const struct identity_db *db, struct scan_result *r)
{
    for (size_t i = 0; db != NULL && i < r->n_findings; i++) {
        struct scan_finding *sf = &r->findings[i];
        const char *h = sf->f.key.spki_sha256[0] ? sf->f.key.spki_sha256 : sf->f.key.key_sha256;
        const struct entry *e = h[0] != '\0' ? find(db, h) : NULL;
        const struct entry *m = sf->f.match_sha256[0] ? find(db, sf->f.match_sha256) : NULL;

        if (e != NULL && e->label != 0) {
            dg_strlcpyf(sf->f.key.label, sizeof sf->f.key.label, "%s", db->text + e->label);
            sf->known = true;
        }
        if (e == NULL || !e->allow)
            e = m; /* a rule's or plug-in's match, allowed by its match_sha256 */
        if (e != NULL && e->allow) {
            sf->allowed = true;
            dg_strlcpyf(sf->allow_note, sizeof sf->allow_note, "%s", db->text + e->note);
        }
    }
}

/* --- grouping ------------------------------------------------------------- */

static bool
better(const struct scan_finding *a, const struct scan_finding *b)
{
    if (a->f.status != b->f.status)
        return a->f.status == DG_STATUS_CONFIRMED;
    if (a->f.severity != b->f.severity)
        return a->f.severity > b->f.severity;
    return a->f.off < b->f.off;
}

static void
as_location(const struct scan_finding *f, struct scan_location *loc)
{
    loc->off = f->f.off;
    loc->len = f->f.len;
    loc->has_va = f->has_va;
    loc->va = f->va;
    loc->region = f->region;
    loc->detector = f->detector;
    dg_strlcpyf(loc->encoding, sizeof loc->encoding, "%s", f->f.encoding);
}

/* Moves finding src (and its copies) into dst as further locations; dst
 * becomes the better of the two. Returns false when out of memory. */
static bool
fold(struct scan_finding *dst, struct scan_finding *src)
{
    size_t need = dst->n_copies + src->n_copies + 1;
    struct scan_location *v = realloc(dst->copies, need * sizeof *v);

    if (v == NULL)
        return false;
    dst->copies = v;
    if (better(src, dst)) {
        struct scan_finding tmp = *dst;

        *dst = *src;
        dst->copies = tmp.copies;
        dst->n_copies = tmp.n_copies;
        as_location(&tmp, &dst->copies[dst->n_copies++]);
    } else {
        as_location(src, &dst->copies[dst->n_copies++]);
    }
    for (size_t i = 0; i < src->n_copies; i++)
        dst->copies[dst->n_copies++] = src->copies[i];
    free(src->copies);
    src->copies = NULL;
    src->n_copies = 0;
    return true;
}

static const char *
key_id(const struct scan_finding *f)
{
    return f->f.key.spki_sha256[0] ? f->f.key.spki_sha256 : f->f.key.key_sha256;
}

/* Orders finding indices by key identity, then offset (stable groups). */
static int
cmp_key(const void *a, const void *b, void *arg)
{
    const struct scan_finding *v = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(key_id(&v[x]), key_id(&v[y]));

    return c != 0 ? c : (x < y ? -1 : x > y);
}

void
identity_group(struct scan_result *r)
{
    size_t n = r->n_findings, k = 0, m = 0;
    bool *gone = calloc(n ? n : 1, sizeof *gone);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t cover = SIZE_MAX; /* the confirmed finding reaching furthest so far */

    if (gone == NULL || order == NULL) {
        free(gone);
        free(order);
        return;
    }
    /* Bytes explained by a confirmed key (findings are sorted by offset). */
    for (size_t i = 0; i < n; i++) {
        struct scan_finding *f = &r->findings[i];

        if (cover != SIZE_MAX) {
            const struct scan_finding *c = &r->findings[cover];

            if (f->f.off >= c->f.off && f->f.off + f->f.len <= c->f.off + c->f.len &&
                (f->f.off != c->f.off || f->f.len != c->f.len || strcmp(f->detector, c->detector))) {
                if (fold(&r->findings[cover], f))
                    gone[i] = true;
                continue;
            }
        }
        if (f->f.status == DG_STATUS_CONFIRMED &&
            (cover == SIZE_MAX ||
             f->f.off + f->f.len > r->findings[cover].f.off + r->findings[cover].f.len))
            cover = i;
    }
    /* The same key found again elsewhere: sort by key, fold each run. */
    for (size_t i = 0; i < n; i++)
        if (!gone[i] && key_id(&r->findings[i])[0] != '\0')
            order[m++] = i;
    qsort_r(order, m, sizeof *order, cmp_key, r->findings);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;

        while (j < m && strcmp(key_id(&r->findings[order[i]]), key_id(&r->findings[order[j]])) == 0) {
            if (fold(&r->findings[order[i]], &r->findings[order[j]]))
                gone[order[j]] = true;
            j++;
        }
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        if (!gone[i])
            r->findings[k++] = r->findings[i];
    r->n_findings = k;
    free(gone);
    free(order);
}

void
identity_name_from_dump(struct scan_result *r)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        struct dg_key *k = &r->findings[i].f.key;

        if (k->spki_sha256[0] == '\0' || k->label[0] != '\0')
            continue;
        for (size_t j = 0; j < r->n_publics; j++) {
            if (r->publics[j].kind == DG_EVIDENCE_PUBLIC &&
                strcmp(r->publics[j].spki_sha256, k->spki_sha256) == 0) {
                dg_strlcpyf(k->label, sizeof k->label,
                            "private half of the %s at offset 0x%llx of this dump",
                            r->publics[j].what, (unsigned long long)r->publics[j].off);
                break;
            }
        }
    }
}
