/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * identity.c - names, allows and groups findings by the public identity of
 * their key (see identity.h). Public keys given by the user are read with
 * OpenSSL (PEM, X.509, OSSL_DECODER), jansson (JWK/JWKS) and the openssh
 * blob reader; only their SHA-256 fingerprints and a label are kept.
 *
 * The built-in allow list holds the RSA test keys of OpenSSL's apps/testrsa.h:
 * private keys published in OpenSSL's source and compiled into every
 * `openssl` binary (for `openssl speed`), so every core of an openssl process
 * holds them. They are reported as allowed, never hidden.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
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

struct entry {
    char hash[65];
    char label[160];   /* --known-keys: "private half of ..." */
    char note[96];     /* --allow: the line's comment */
    bool allow;
};

struct identity_db {
    struct entry *v;
    size_t n, cap;
};

static const struct {
    const char *spki_sha256, *what;
} builtin_allow[] = {
    {"7055066ee3969c25d66c1b891c252e83db653ae6834cd60e49250a4af73a97fe", "RSA-512"},
    {"0ea7caf9dd07fd79fe22ceb5efbbd7d4445d231e92ee1bf3b2a022eaffb00495", "RSA-1024"},
    {"a6fdc2c6d07aa877e3ac360c2ce5efb69ab7dce2fd8df3c1bce0564b17114bc2", "RSA-2048"},
    {"01e67e56244b43b668e2b9a697daaafcfb501fa78de2fcc4aa32bdae6dd94af6", "RSA-3072"},
    {"adadc3246bb4830551c6da143d7462727967bda53059ae6f152323b0aba69595", "RSA-4096"},
    {"d2d8c7d1de1e118e810c15eb7f8d9560a433e15cd55eac52aade81d6669cf133", "RSA-7680"},
    {"cebf59a465ccd9c42a7f7f6a789cc741d43cacbc502587ed1c5f0f4e445f1c39", "RSA-15360"},
};

static struct entry *
add(struct identity_db *db, const char *hash)
{
    struct entry *e;

    for (size_t i = 0; i < db->n; i++)
        if (strcmp(db->v[i].hash, hash) == 0)
            return &db->v[i];
    if (db->n == db->cap) {
        size_t cap = db->cap ? 2 * db->cap : 32;
        struct entry *nv = realloc(db->v, cap * sizeof *nv);

        if (nv == NULL)
            return NULL;
        db->v = nv;
        db->cap = cap;
    }
    e = &db->v[db->n++];
    memset(e, 0, sizeof *e);
    dg_strlcpyf(e->hash, sizeof e->hash, "%s", hash);
    return e;
}

struct identity_db *
identity_new(bool builtin)
{
    struct identity_db *db = calloc(1, sizeof *db);

    for (size_t i = 0; db != NULL && builtin && i < sizeof builtin_allow / sizeof builtin_allow[0];
         i++) {
        struct entry *e = add(db, builtin_allow[i].spki_sha256);

        if (e == NULL) {
            identity_free(db);
            return NULL;
        }
        e->allow = true;
        dg_strlcpyf(e->note, sizeof e->note, "OpenSSL's public %s test key (apps/testrsa.h)",
                    builtin_allow[i].what);
    }
    return db;
}

void
identity_free(struct identity_db *db)
{
    if (db == NULL)
        return;
    free(db->v);
    free(db);
}

static bool
is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

dg_err
identity_load_allow(struct identity_db *db, const char *path, struct dg_diag *d)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    unsigned lineno = 0;
    dg_err rc = DG_OK;

    if (f == NULL)
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: cannot open allow file: %m", path);
    while (fgets(line, sizeof line, f) != NULL) {
        char *p = line, *hash, *hash_end, *comment;
        char lower[65];
        struct entry *e;

        lineno++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (strncmp(p, "spki_sha256=", 12) == 0)
            p += 12;
        else if (strncmp(p, "key_sha256=", 11) == 0)
            p += 11;
        else if (strncmp(p, "sha256:", 7) == 0)
            p += 7;
        hash = p;
        hash_end = hash;
        while (isxdigit((unsigned char)*hash_end))
            hash_end++;
        if (hash_end - hash != 64 || !is_hex64(hash) ||
            (*hash_end != '\0' && !isspace((unsigned char)*hash_end) && *hash_end != '#')) {
            rc = dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET,
                         "%s:%u: expected a SHA-256 (64 hex digits) and an optional # comment",
                         path, lineno);
            break;
        }
        for (int i = 0; i < 64; i++)
            lower[i] = (char)tolower((unsigned char)hash[i]);
        lower[64] = '\0';
        if ((e = add(db, lower)) == NULL) {
            rc = dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", path);
            break;
        }
        e->allow = true;
        comment = strchr(hash_end, '#');
        if (comment != NULL) {
            comment++;
            while (isspace((unsigned char)*comment))
                comment++;
            comment[strcspn(comment, "\r\n")] = '\0';
            dg_strlcpyf(e->note, sizeof e->note, "%s", comment);
        } else {
            dg_strlcpyf(e->note, sizeof e->note, "in %s", path);
        }
    }
    fclose(f);
    return rc;
}

/* Records the public key pkey under label; frees nothing. */
static dg_err
known(struct identity_db *db, const EVP_PKEY *pkey, const char *label)
{
    struct dg_key k;
    struct entry *e;

    memset(&k, 0, sizeof k);
    if (keyproof_identity(pkey, &k) != DG_OK || k.spki_sha256[0] == '\0')
        return DG_E_FORMAT;
    if ((e = add(db, k.spki_sha256)) == NULL)
        return DG_E_NOMEM;
    dg_strlcpyf(e->label, sizeof e->label, "%s", label);
    return DG_OK;
}

static const char *
base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s != NULL ? s + 1 : path;
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
    if (n == 0)
        return dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET,
                       "%s: no public key found (expected a JWK/JWKS, PEM certificates or "
                       "public keys, or OpenSSH public key lines)",
                       path);
    return DG_OK;
}

void
identity_apply(const struct identity_db *db, struct scan_result *r)
{
    for (size_t i = 0; db != NULL && i < r->n_findings; i++) {
        struct scan_finding *sf = &r->findings[i];
        const char *h = sf->f.key.spki_sha256[0] ? sf->f.key.spki_sha256 : sf->f.key.key_sha256;

        if (h[0] == '\0')
            continue;
        for (size_t k = 0; k < db->n; k++) {
            const struct entry *e = &db->v[k];

            if (strcmp(e->hash, h) != 0)
                continue;
            if (e->label[0] != '\0')
                dg_strlcpyf(sf->f.key.label, sizeof sf->f.key.label, "%s", e->label);
            if (e->allow) {
                sf->allowed = true;
                dg_strlcpyf(sf->allow_note, sizeof sf->allow_note, "%s", e->note);
            }
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
            if (strcmp(r->publics[j].spki_sha256, k->spki_sha256) == 0) {
                dg_strlcpyf(k->label, sizeof k->label,
                            "private half of the %s at offset %llu of this dump",
                            r->publics[j].what, (unsigned long long)r->publics[j].off);
                break;
            }
        }
    }
}
