/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * sarif.c - the report for code-scanning tools: one SARIF 2.1.0 document
 * (OASIS, schema in ../shared/schemas/sarif-schema-2.1.0.json) for every
 * file of a run, built with jansson, for GitHub code scanning among others.
 * One rule per detector of the registry, with the descriptions, help (what
 * it finds, what a finding means, what to do), tags, precision and
 * security-severity GitHub reads. One result per key: located by byte
 * offset and length in the file (in the decompressed dump for a compressed
 * one: the artifact says so) and startLine 1, which GitHub requires; every
 * other copy of the key is a related location. The key's public
 * fingerprints go in partialFingerprints, the JSONL fields and the result's
 * own security-severity in its property bag. Diagnostics become tool
 * execution notifications. Nothing secret is written: findings hold none
 * (finding.h). The mapping is documented in docs/FINDINGS.md.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dumpgate/dumpgate.h>

#include "../../detectors/registry.h"
#include "../where/where.h"
#include "report.h"

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"

struct sarif_doc {
    json_t *run;       /* runs[0] */
    json_t *artifacts; /* run.artifacts */
    json_t *results;   /* run.results */
    json_t *notes;     /* invocations[0].toolExecutionNotifications */
    bool ok;           /* every file could be scanned */
};

static const char *
level_of(enum dg_severity s)
{
    return s == DG_SEV_HIGH ? "error" : s == DG_SEV_MEDIUM ? "warning" : "note";
}

static json_t *
text_msg(const char *s)
{
    return json_pack("{s:s}", "text", s);
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* A URI reference for a path: unreserved bytes and '/' as they are, the rest
 * percent-encoded; absolute paths become file:// URIs. */
static json_t *
path_uri(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path), k = 0;
    char *u = malloc(n * 3 + 8);
    json_t *j;

    if (u == NULL)
        return json_string("-");
    if (path[0] == '/') {
        memcpy(u, "file://", 7);
        k = 7;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            u[k++] = (char)c;
        } else {
            u[k++] = '%';
            u[k++] = hex[c >> 4];
            u[k++] = hex[c & 15];
        }
    }
    u[k] = '\0';
    j = json_string(u);
    free(u);
    return j;
}

/* How sure a detector's findings are, in GitHub's words (properties.precision),
 * and what its rule's help says. Detectors whose findings are proven by math
 * are "very-high"; evidence detectors (no results) "high"; pattern rules and
 * plug-ins, which dumpgate cannot prove, "medium". */
enum rule_kind {
    RULE_KEY,      /* private keys, proven with OpenSSL */
    RULE_AES,      /* AES key schedules: proven by the schedule's own relations */
    RULE_EVIDENCE, /* public evidence only: never a result */
    RULE_PATTERN,  /* text secrets matched by rules */
    RULE_PLUGIN,   /* anything loaded with --plugin */
};

struct rule_doc {
    const char *detector;
    enum rule_kind kind;
    const char *extra; /* one more sentence for "what a finding means", or NULL */
};

static const struct rule_doc rule_docs[] = {
    {"pem", RULE_KEY,
     "An encrypted PEM key is a `candidate`: it is only as safe as its passphrase."},
    {"der", RULE_KEY,
     "An encrypted PKCS#8 key is a `candidate`: it is only as safe as its passphrase."},
    {"jwk", RULE_KEY,
     "An `oct` JWK is a shared secret: with a signing use (`HS256`, `\"use\": \"sig\"`) it "
     "signs JWTs and is `long-term`; otherwise it is `symmetric`."},
    {"rsa-raw", RULE_KEY,
     "A lone prime (`rsa-prime`) breaks its key as surely as the whole key does."},
    {"rsa-factor", RULE_KEY,
     "The key was held as its modulus and primes, without CRT exponents, in a program's own "
     "layout (packed bytes, 32-bit limbs, SSH mpints)."},
    {"ec-raw", RULE_KEY, NULL},
    {"eddsa-raw", RULE_KEY, NULL},
    {"dsa-raw", RULE_KEY,
     "The key was held by an OpenSSL 3 program (its `DSA` structure), after the PEM or DER it "
     "was loaded from was gone."},
    {"sexp", RULE_KEY, "The key was held by a libgcrypt program (gpg-agent, for one)."},
    {"sshkey", RULE_KEY,
     "The key was held by ssh-agent, shielded in memory, and unshielded with its prekey."},
    {"keystore", RULE_KEY,
     "A store whose password is not known is a `candidate` named by its certificate or "
     "public key."},
    {"winblob", RULE_KEY, NULL},
    {"aes", RULE_AES, NULL},
    {"certs", RULE_EVIDENCE,
     "a certificate in the dump names the private key it belongs to (the finding's key "
     "label)"},
    {"drbg", RULE_EVIDENCE,
     "an AES key that is the state of an OpenSSL random generator is reported with role "
     "`rng-state`"},
    {"keyshare", RULE_EVIDENCE,
     "a private key whose public half was sent in a TLS handshake is reported with role "
     "`ephemeral`"},
    {"rules", RULE_PATTERN, NULL},
};

static const struct rule_doc *
rule_doc(const struct dg_detector *d)
{
    static const struct rule_doc plugin = {NULL, RULE_PLUGIN, NULL};

    if (registry_is_builtin(d))
        for (size_t i = 0; i < sizeof rule_docs / sizeof rule_docs[0]; i++)
            if (strcmp(rule_docs[i].detector, d->name) == 0)
                return &rule_docs[i];
    return &plugin;
}

static const char *
precision_of(enum rule_kind k)
{
    return k == RULE_KEY || k == RULE_AES ? "very-high" : k == RULE_EVIDENCE ? "high" : "medium";
}

/* What a finding of a rule of kind k means, and what to do about it. Written
 * in Markdown; put() drops the backticks for the plain-text version. */
static const char *const means_of[] = {
    [RULE_KEY] =
        ("A private key that was in the process's memory when the dump was written: whoever "
        "can read the dump holds the key. A `confirmed` finding was rebuilt with OpenSSL and "
        "its math holds (RSA `p*q = n` and the CRT relations, EC `d*G = Q`, the EdDSA public "
        "key from its seed); a `candidate` was seen by its structure but could not be proven "
        "(encrypted, truncated, undecodable). The result's role says what the key "
        "is for: `long-term` keys sign or identify (high), `key-agreement` keys are medium, "
        "and an `ephemeral` key, whose public half is a TLS key share in the same dump, is "
        "reported for completeness (low)."),
    [RULE_AES] =
        ("An AES key, found as its expanded key schedule and named by the SHA-256 of its bytes "
        "(`key_sha256`, an identifier only). The result's role says what it is for: "
        "`rng-state` (the key of an OpenSSL CTR-DRBG random generator) and `session` (the "
        "record key of one TLS or SSH connection, beside its GCM context) are low and "
        "reported for completeness; `symmetric` (a key of unknown use) is medium."),
    [RULE_EVIDENCE] =
        ("This detector reports no results: it reads public evidence in the dump and lends "
        "it, by fingerprint, to the findings of other detectors:"),
    [RULE_PATTERN] =
        ("A text secret (an API token, a password, a connection string) matched by a PCRE2 "
        "rule. A pattern match is not a proof: the result's `match_sha256` identifies the "
        "matched bytes without showing them, and its severity is the one its rule declares."),
    [RULE_PLUGIN] =
        ("A finding of a detector loaded as a plug-in (`--plugin`): dumpgate reports it as the "
        "plug-in describes it and proves nothing itself."),
};

static const char *const todo_of[] = {
    [RULE_KEY] =
        ("Rotate the key: revoke the certificate, or remove the public key from where it is "
        "trusted (`authorized_keys`, a JWKS, a trust store); issue a new one; and find how it "
        "reached the dump (which process held it, why it dumped core, where the dump went). "
        "The result's `spki_sha256/v1` fingerprint is the SHA-256 of the key's DER "
        "SubjectPublicKeyInfo, as `openssl pkey -pubout -outform DER | sha256sum` prints it: "
        "compare it with your keys' to tell which one it is. Until the key is rotated, keep "
        "the dump where only the key's owners can read it. Findings with role `ephemeral` "
        "need nothing done. A key that belongs there (a test key) can be allowed with "
        "`--allow`: its result is then suppressed."),
    [RULE_AES] =
        ("Findings with role `rng-state` or `session` are reported for completeness: nothing "
        "needs rotating (a session key matters only to someone who also recorded that "
        "connection's traffic). For a `symmetric` key, find what it encrypts (the process's "
        "configuration names its keys); if it is a stored key protecting data or other "
        "secrets, replace it and re-encrypt what it protected."),
    [RULE_EVIDENCE] = "Nothing: this rule never has a result.",
    [RULE_PATTERN] =
        ("Check the match against the credential it looks like. If it is real, revoke it, "
        "issue a new one, and find how it reached the process's memory (configuration, "
        "environment, a request it handled)."),
    [RULE_PLUGIN] =
        ("Follow the plug-in's documentation. When the finding is a credential or a private "
        "key, revoke or rotate it and find how it reached the dump."),
};

/* A bounded text being built: Markdown, or plain text (backticks dropped). */
struct text {
    char buf[4096];
    size_t len;
    bool md;
};

/* Appends s. Our own words (lit) go as written; words a detector supplies
 * (its summary, a plug-in's forms) have Markdown's active characters escaped. */
static void
put(struct text *t, const char *s, bool lit)
{
    for (; *s != '\0' && t->len + 3 < sizeof t->buf; s++) {
        if (*s == '`' && (!t->md || !lit))
            continue;
        if (t->md && !lit && strchr("\\*_[]<>#|!", *s) != NULL)
            t->buf[t->len++] = '\\';
        t->buf[t->len++] = *s;
    }
    t->buf[t->len] = '\0';
}

/* The rule's help (md: Markdown) or, with full_desc, its fullDescription:
 * what the detector finds, what a finding means, what to do. */
static json_t *
help_of(const struct dg_detector *d, const struct rule_doc *doc, bool md, bool full_desc)
{
    struct text t = {.len = 0, .md = md};

    t.buf[0] = '\0';
    if (!full_desc)
        put(&t, md ? "**What it finds:** " : "What it finds: ", true);
    put(&t, d->summary != NULL && d->summary[0] ? d->summary : d->name, false);
    put(&t, ".", true);
    for (const char *const *f = d->forms; !full_desc && f != NULL && *f != NULL; f++) {
        put(&t, f == d->forms ? " Forms: `" : ", `", true);
        put(&t, *f, false);
        put(&t, f[1] == NULL ? "`." : "`", true);
    }
    put(&t, full_desc ? " " : md ? "\n\n**What a finding means:** " : "\n\nWhat a finding means: ",
        true);
    put(&t, means_of[doc->kind], true);
    if (doc->extra != NULL) {
        put(&t, " ", true);
        put(&t, doc->extra, true);
        if (doc->kind == RULE_EVIDENCE)
            put(&t, ".", true);
    }
    if (!full_desc) {
        put(&t, md ? "\n\n**What to do:** " : "\n\nWhat to do: ", true);
        put(&t, todo_of[doc->kind], true);
    }
    if (t.len + 3 >= sizeof t.buf) { /* truncated: never end inside a UTF-8 sequence */
        while (t.len > 0 && ((unsigned char)t.buf[t.len - 1] & 0xC0) == 0x80)
            t.len--;
        if (t.len > 0 && ((unsigned char)t.buf[t.len - 1] & 0x80) != 0)
            t.len--;
        t.buf[t.len] = '\0';
    }
    return json_string(t.buf);
}

/* GitHub's security-severity: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9
 * medium, below 4.0 low. */
static const char *
security_severity(enum dg_severity s)
{
    return s == DG_SEV_HIGH ? "9.0" : s == DG_SEV_MEDIUM ? "5.0" : s == DG_SEV_LOW ? "2.0" : "0.0";
}

/* One rule per detector of the registry, with GitHub's documented rule
 * properties: descriptions, help, tags, precision, security-severity. */
static json_t *
rules(void)
{
    json_t *a = json_array();

    for (size_t i = 0; i < registry_count(); i++) {
        const struct dg_detector *d = registry_get(i);
        const struct rule_doc *doc = rule_doc(d);
        json_t *forms = json_array(), *tags, *r;

        for (const char *const *f = d->forms; f != NULL && *f != NULL; f++)
            json_array_append_new(forms, json_string(*f));
        tags = json_pack("[s, s, s]", "security", "secret", "crash-dump");
        if (doc->kind == RULE_KEY)
            json_array_append_new(tags, json_string("private-key"));
        r = json_pack("{s:s, s:s, s:o, s:{s:o}, s:{s:o, s:o}, s:{s:s}, "
                      "s:{s:o, s:o, s:s, s:s, s:b}}",
                      "id", d->name, "name", d->name, "shortDescription",
                      text_msg(d->summary != NULL && d->summary[0] ? d->summary : d->name),
                      "fullDescription", "text", help_of(d, doc, false, true), "help", "text",
                      help_of(d, doc, false, false), "markdown", help_of(d, doc, true, false),
                      "defaultConfiguration", "level", level_of(d->severity), "properties",
                      "forms", forms, "tags", tags, "precision", precision_of(doc->kind),
                      "security-severity", security_severity(d->severity), "defaultOn",
                      d->default_on);
        /* A plug-in's name or summary that is not UTF-8 still gets its rule,
         * so that every ruleIndex stays right. */
        if (r == NULL) {
            char id[32];

            snprintf(id, sizeof id, "detector-%zu", i);
            r = json_pack("{s:s}", "id", id);
        }
        json_array_append_new(a, r);
    }
    return a;
}

struct sarif_doc *
sarif_new(void)
{
    struct sarif_doc *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->artifacts = json_array();
    s->results = json_array();
    s->notes = json_array();
    s->ok = true;
    s->run = json_pack("{s:{s:{s:s, s:s, s:s, s:o}}, s:s}", "tool", "driver", "name", "dumpgate",
                       "version", DG_VERSION, "semanticVersion", DG_VERSION, "rules", rules(),
                       "columnKind", "unicodeCodePoints");
    if (s->run == NULL || s->artifacts == NULL || s->results == NULL || s->notes == NULL) {
        sarif_free(s);
        return NULL;
    }
    return s;
}

void
sarif_free(struct sarif_doc *s)
{
    if (s == NULL)
        return;
    json_decref(s->run);
    json_decref(s->artifacts);
    json_decref(s->results);
    json_decref(s->notes);
    free(s);
}

static size_t
rule_index(const char *detector)
{
    for (size_t i = 0; i < registry_count(); i++)
        if (strcmp(registry_get(i)->name, detector) == 0)
            return i;
    return 0;
}

/* GitHub code scanning rejects a result with more than 1,000 locations (and
 * shows 100): with locations[0], at most this many related ones are written;
 * properties.copies counts them all. */
#define SARIF_MAX_RELATED 999

/* The region of a byte range: byteOffset and byteLength, and startLine 1,
 * which GitHub requires of every location (a dump has no lines). */
static json_t *
byte_region(uint64_t off, uint64_t len)
{
    return json_pack("{s:I, s:I, s:i}", "byteOffset", (json_int_t)off, "byteLength",
                     (json_int_t)(len ? len : 1), "startLine", 1);
}

/* A physical location: byte range off..off+len of artifact art. */
static json_t *
location(const struct scan_result *r, size_t art, uint64_t off, uint64_t len)
{
    return json_pack("{s:{s:{s:o, s:I}, s:o}}", "physicalLocation", "artifactLocation", "uri",
                     path_uri(r->name), "index", (json_int_t)art, "region",
                     byte_region(off, len));
}

static json_t *
region_json(const struct dg_region *reg)
{
    return json_pack("{s:s, s:o, s:o, s:I}", "kind", dg_span_kind_name(reg->kind), "name",
                     str_or_null(reg->name), "thread",
                     reg->thread >= 0 ? json_integer(reg->thread) : json_null(), "index",
                     (json_int_t)reg->index);
}

static json_t *
vaddr_json(bool has_va, uint64_t va)
{
    char buf[24];

    if (!has_va)
        return json_null();
    snprintf(buf, sizeof buf, "0x%" PRIx64, va);
    return json_string(buf);
}

/* Copy number nth (1-based) of n_all places a key sits, as a location of
 * the result: "copy 2 of 3 (der-pkcs1)", with id and what JSONL says of it. */
static json_t *
copy_location(const struct scan_result *r, size_t art, size_t nth, size_t n_all,
              const struct scan_location *l)
{
    json_t *loc = location(r, art, l->off, l->len);
    char msg[96];

    snprintf(msg, sizeof msg, "copy %zu of %zu (%s)", nth, n_all,
             l->encoding[0] ? l->encoding : l->detector);
    json_object_set_new(loc, "id", json_integer((json_int_t)nth - 1));
    json_object_set_new(loc, "message", text_msg(msg));
    json_object_set_new(loc, "properties",
                        json_pack("{s:s, s:o, s:o, s:o}", "detector", l->detector, "encoding",
                                  str_or_null(l->encoding), "vaddr",
                                  vaddr_json(l->has_va, l->va), "region",
                                  region_json(&l->region)));
    return loc;
}

/* locations[0].logicalLocations from the attribution (where.h): the
 * variable or symbol (kind "variable"/"member"), the module ("module") and
 * the thread ("thread"), each with its fullyQualifiedName. */
static void
add_logical(json_t *loc, const struct scan_result *r, const struct scan_finding *sf)
{
    const struct where_loc *w = where_of_finding(r, sf);
    json_t *ll = json_array();
    char name[64];

    if (w != NULL && w->variable[0])
        json_array_append_new(ll, json_pack("{s:s, s:s, s:s}", "name", w->variable,
                                            "fullyQualifiedName", w->variable, "kind",
                                            strchr(w->variable, '.') || strchr(w->variable, '[')
                                                ? "member"
                                                : "variable"));
    else if (w != NULL && w->symbol[0])
        json_array_append_new(ll, json_pack("{s:s, s:s, s:s}", "name", w->symbol,
                                            "fullyQualifiedName", w->symbol, "kind", "variable"));
    if (w != NULL && w->module[0])
        json_array_append_new(ll, json_pack("{s:s, s:s, s:s}", "name", w->module,
                                            "fullyQualifiedName", w->module, "kind", "module"));
    if (w != NULL && w->thread >= 0) {
        snprintf(name, sizeof name, "thread %lld", (long long)w->thread);
        json_array_append_new(ll, json_pack("{s:s, s:s, s:s}", "name", name,
                                            "fullyQualifiedName", name, "kind", "thread"));
    }
    if (json_array_size(ll) > 0)
        json_object_set_new(loc, "logicalLocations", ll);
    else
        json_decref(ll);
}

/* One result per key: the finding's own place is locations[0]; every other
 * copy of the same key in the dump is a related location. */
static json_t *
result(const struct scan_result *r, const struct scan_finding *sf, size_t art)
{
    const struct dg_finding *f = &sf->f;
    json_t *fp = json_object(), *props = json_object(), *key = json_object(), *res, *primary;
    size_t n_all = sf->n_copies + 1;
    char msg[440], copies[40] = "";

    if (sf->n_copies > 0)
        snprintf(copies, sizeof copies, " (%zu copies in the dump)", n_all);
    snprintf(msg, sizeof msg, "%s (%s) %s %s (%s%s%s)%s%s%s%s at offset %" PRIu64 "%s%s", f->type,
             dg_role_name(f->role), dg_status_name(f->status), dg_severity_name(f->severity),
             f->encoding[0] ? f->encoding : sf->detector, f->text[0] ? ", " : "", f->text,
             f->key.algorithm[0] ? " " : "", f->key.algorithm,
             f->key.spki_sha256[0] ? " spki_sha256=" : "", f->key.spki_sha256, f->off,
             r->compression[0] ? " of the decompressed dump" : "", copies);
    if (f->key.spki_sha256[0])
        json_object_set_new(fp, "spki_sha256/v1", json_string(f->key.spki_sha256));
    if (f->key.key_sha256[0])
        json_object_set_new(fp, "key_sha256/v1", json_string(f->key.key_sha256));
    if (f->match_sha256[0])
        json_object_set_new(fp, "match_sha256/v1", json_string(f->match_sha256));
    json_object_set_new(key, "algorithm", str_or_null(f->key.algorithm));
    json_object_set_new(key, "bits", f->key.bits ? json_integer(f->key.bits) : json_null());
    json_object_set_new(key, "curve", str_or_null(f->key.curve));
    json_object_set_new(key, "spki_sha256", str_or_null(f->key.spki_sha256));
    json_object_set_new(key, "key_sha256", str_or_null(f->key.key_sha256));
    json_object_set_new(key, "label", str_or_null(f->key.label));
    json_object_set_new(key, "kid", str_or_null(f->key.kid));
    json_object_set_new(key, "jwk_thumbprint", str_or_null(f->key.jwk_thumbprint));
    json_object_set_new(props, "security-severity", json_string(security_severity(f->severity)));
    json_object_set_new(props, "detector", json_string(sf->detector));
    json_object_set_new(props, "type", json_string(f->type));
    json_object_set_new(props, "status", json_string(dg_status_name(f->status)));
    json_object_set_new(props, "severity", json_string(dg_severity_name(f->severity)));
    json_object_set_new(props, "role", json_string(dg_role_name(f->role)));
    json_object_set_new(props, "reason", str_or_null(f->reason));
    json_object_set_new(props, "encoding", str_or_null(f->encoding));
    json_object_set_new(props, "text", str_or_null(f->text));
    json_object_set_new(props, "vaddr", vaddr_json(sf->has_va, sf->va));
    json_object_set_new(props, "region", region_json(&sf->region));
    json_object_set_new(props, "key", key);
    json_object_set_new(props, "proof", str_or_null(f->proof));
    json_object_set_new(props, "note", str_or_null(f->note));
    json_object_set_new(props, "preview", str_or_null(f->preview));
    json_object_set_new(props, "match_sha256", str_or_null(f->match_sha256));
    json_object_set_new(props, "offsets", json_string(r->compression[0] ? "decompressed" : "file"));
    json_object_set_new(props, "copies", json_integer((json_int_t)n_all));
    json_object_set_new(props, "where", jsonl_where(r, sf));
    primary = location(r, art, f->off, f->len);
    if (primary != NULL)
        add_logical(primary, r, sf);
    if (primary != NULL && sf->n_copies > 0) {
        char where[96];

        snprintf(where, sizeof where, "copy 1 of %zu (%s)", n_all,
                 f->encoding[0] ? f->encoding : sf->detector);
        json_object_set_new(primary, "message", text_msg(where));
    }
    res = json_pack("{s:s, s:I, s:s, s:s, s:o, s:[o], s:o, s:o}",
                    "ruleId", sf->detector, "ruleIndex", (json_int_t)rule_index(sf->detector),
                    "kind", "fail", "level", level_of(f->severity), "message", text_msg(msg),
                    "locations", primary, "partialFingerprints", fp, "properties", props);
    if (res != NULL && sf->n_copies > 0) {
        json_t *rel = json_array();

        for (size_t i = 0; i < sf->n_copies && i < SARIF_MAX_RELATED; i++)
            json_array_append_new(rel, copy_location(r, art, i + 2, n_all, &sf->copies[i]));
        json_object_set_new(res, "relatedLocations", rel);
    }
    if (res != NULL && sf->allowed)
        json_object_set_new(res, "suppressions",
                            json_pack("[{s:s, s:s}]", "kind", "external", "justification",
                                      sf->allow_note[0] ? sf->allow_note : "on the allow list"));
    return res;
}

void
sarif_add(struct sarif_doc *s, const struct scan_result *r, bool failed)
{
    size_t art = json_array_size(s->artifacts);
    json_t *a, *props;

    if (failed)
        s->ok = false;
    props = json_pack("{s:s, s:o, s:o, s:I, s:I}", "format", r->format, "compression",
                      str_or_null(r->compression), "compressedBytes",
                      r->compression[0] ? json_integer((json_int_t)r->compressed_bytes)
                                        : json_null(),
                      "scannedBytes", (json_int_t)r->cov.scanned_bytes, "findings",
                      (json_int_t)r->n_findings);
    a = json_pack("{s:{s:o}, s:o}", "location", "uri", path_uri(r->name), "properties", props);
    if (strcmp(r->name, "-") == 0)
        json_object_set_new(a, "description", text_msg("standard input"));
    if (r->compression[0]) {
        char d[160];

        snprintf(d, sizeof d,
                 "%s-compressed; byte offsets of results refer to the decompressed dump (%" PRIu64
                 " bytes)",
                 r->compression, r->cov.file_bytes);
        json_object_set_new(a, "description", text_msg(d));
    } else if (!failed) {
        json_object_set_new(a, "length", json_integer((json_int_t)r->cov.file_bytes));
    }
    json_array_append_new(s->artifacts, a);
    for (size_t i = 0; i < r->n_findings; i++)
        json_array_append_new(s->results, result(r, &r->findings[i], art));
    for (size_t i = 0; r->diag != NULL && i < dg_diag_count(r->diag); i++) {
        const struct dg_diag_msg *m = dg_diag_get(r->diag, i);
        json_t *n = json_pack("{s:s, s:o}", "level",
                              m->level == DG_DIAG_ERROR     ? "error"
                              : m->level == DG_DIAG_WARNING ? "warning"
                                                            : "note",
                              "message", text_msg(m->text));

        if (m->off != DG_NO_OFFSET)
            json_object_set_new(
                n, "locations",
                json_pack("[{s:{s:{s:o, s:I}, s:{s:I, s:i}}}]", "physicalLocation",
                          "artifactLocation", "uri", path_uri(r->name), "index",
                          (json_int_t)art, "region", "byteOffset", (json_int_t)m->off,
                          "startLine", 1));
        json_array_append_new(s->notes, n);
    }
}

void
sarif_write(struct sarif_doc *s, FILE *out)
{
    json_t *doc;

    json_object_set(s->run, "artifacts", s->artifacts);
    json_object_set(s->run, "results", s->results);
    json_object_set_new(s->run, "invocations",
                        json_pack("[{s:b, s:O}]", "executionSuccessful", s->ok,
                                  "toolExecutionNotifications", s->notes));
    doc = json_pack("{s:s, s:s, s:[O]}", "$schema", SARIF_SCHEMA, "version", "2.1.0", "runs",
                    s->run);
    json_dumpf(doc, out, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    fputc('\n', out);
    json_decref(doc);
}
