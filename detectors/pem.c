/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * pem.c - the `pem` detector: private keys in PEM armor, proven.
 *
 * Finds "-----BEGIN ... PRIVATE KEY-----" (and the SSH2 "---- BEGIN SSH2
 * ENCRYPTED PRIVATE KEY ----" armor) in ASCII, UTF-16LE and UTF-16BE, with LF
 * or CRLF line ends, on one line, and JSON-escaped ("\n", "\/", "\u002b").
 *
 * 1. Prefilter: an SSE2 pass (a portable loop elsewhere) marks positions with
 *    '-' at i and i+2, true for every armor in every encoding; everything
 *    else (zero pages, random bytes, most text) is passed over 16 bytes at a
 *    time.
 * 2. At a mark, the text is decoded to ASCII (undoing UTF-16 and JSON
 *    escapes, remembering each character's byte offset) and matched with
 *    PCRE2 for the armor, its label, RFC 1421 headers and the body.
 * 3. The body is base64-decoded by OpenSSL and the key is rebuilt with
 *    OSSL_DECODER (or the openssh-key-v1 reader) and proven by keyproof.
 *
 * Verdicts: proven keys are confirmed/high; encrypted keys (PKCS#8 PBES2,
 * legacy Proc-Type, OpenSSH with a cipher, SSH2, OpenPGP) are medium
 * candidates; a body that does not decode or has no END line is a low
 * candidate; a BEGIN line with no body or a placeholder body (library
 * strings, "...") is silent, and so are public keys and certificates, whose
 * labels do not end in PRIVATE KEY.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <dumpgate/detector.h>

#include "../scanner/formats/openssh.h"
#include "../scanner/formats/textenc.h"
#include "../scanner/proof/keydecode.h"
#include "../scanner/proof/keyproof.h"
#include "../scanner/util/simd.h"

#define PEM_MAX_SPAN (64u << 10)   /* longest armored key in bytes (UTF-16 RSA-8192) */
#define PEM_MAX_TEXT (32u << 10)   /* decoded characters examined after BEGIN */
#define PEM_MIN_BODY 40            /* fewer base64 characters: a placeholder */
#define PEM_HEAD_TEXT 96           /* characters decoded to read a BEGIN line's label */
#define PEM_MAX_ARMORS 4096u       /* private-key BEGIN lines decoded per chunk (up to
                                      PEM_MAX_TEXT characters each): 0.15 s of nothing
                                      but BEGIN lines */


static const char *const forms[] = {
    "pkcs8", "pkcs1", "sec1", "dsa", "openssh", "encrypted-pkcs8", "legacy-encrypted",
    "pgp", "ssh2", NULL,
};

/* Armor: label, optional headers, body, END with the same label. The decoded
 * text has escapes undone, so only real whitespace separates lines. */
static const char armor_re[] =
    "\\A-----BEGIN (?<label>(?:[A-Z0-9-]+ )*PRIVATE KEY(?: BLOCK)?)-----"
    "(?<hdrs>(?:\\s*[A-Za-z][A-Za-z0-9-]{0,31}:[ \\t]*[^\\r\\n]*)*)"
    "(?<body>[A-Za-z0-9+/=\\s]*?)"
    "(?<end>-----END \\k<label>-----)?"
    "(?(<end>)|(?=[^A-Za-z0-9+/=\\s]|\\z))";
static const char ssh2_re[] =
    "\\A---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----"
    "(?<hdrs>(?:\\s*[A-Za-z][A-Za-z0-9-]{0,63}:[^\\r\\n]*(?:\\\\\\r?\\n[^\\r\\n]*)*)*)"
    "(?<body>[A-Za-z0-9+/=\\s]*?)"
    "(?<end>---- END SSH2 ENCRYPTED PRIVATE KEY ----)?"
    "(?(<end>)|(?=[^A-Za-z0-9+/=\\s]|\\z))";

struct shared {
    pcre2_code *armor, *ssh2;
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
};

struct ctx {
    const struct shared *sh;
    pcre2_match_data *md;
    char *txt;         /* decoded text */
    uint32_t *src;     /* byte offset in the chunk of each decoded character (+1 entry) */
    unsigned char *der;
    bool der_used;     /* der written: release() wipes it whole (an untouched buffer
                        * is not touched to wipe it) */
    struct keydecoder *kd; /* this worker's OpenSSL decoder contexts */
    unsigned n_armors; /* BEGIN lines decoded in this chunk (PEM_MAX_ARMORS + 1: some refused) */
};

/* What the decoder saw besides the characters. */
struct textinfo {
    enum text_enc enc;
    bool escaped;      /* JSON escapes were undone */
    bool crlf;         /* CR in the armor itself (try_armor()) */
    bool lines;        /* the body has line breaks */
};

static dg_err
pem_create(const struct dg_config *cfg, void **out)
{
    struct shared *sh = calloc(1, sizeof *sh);
    int err;
    PCRE2_SIZE eoff;

    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    sh->armor = pcre2_compile((PCRE2_SPTR)armor_re, PCRE2_ZERO_TERMINATED, 0, &err, &eoff, NULL);
    sh->ssh2 = pcre2_compile((PCRE2_SPTR)ssh2_re, PCRE2_ZERO_TERMINATED, 0, &err, &eoff, NULL);
    if (sh->armor == NULL || sh->ssh2 == NULL) {
        pcre2_code_free(sh->armor);
        pcre2_code_free(sh->ssh2);
        free(sh);
        return DG_E_FORMAT;
    }
    (void)pcre2_jit_compile(sh->armor, PCRE2_JIT_COMPLETE);
    (void)pcre2_jit_compile(sh->ssh2, PCRE2_JIT_COMPLETE);
    *out = sh;
    return DG_OK;
}

static void
pem_destroy(void *p)
{
    struct shared *sh = p;

    if (sh == NULL)
        return;
    pcre2_code_free(sh->armor);
    pcre2_code_free(sh->ssh2);
    free(sh);
}

static void
pem_release(void *p)
{
    struct ctx *c = p;

    if (c == NULL)
        return;
    pcre2_match_data_free(c->md);
    free(c->txt);
    free(c->src);
    if (c->der_used)
        OPENSSL_cleanse(c->der, PEM_MAX_TEXT);
    free(c->der);
    keydecoder_free(c->kd);
    free(c);
}

static dg_err
pem_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    c->md = pcre2_match_data_create(8, NULL);
    c->txt = malloc(PEM_MAX_TEXT + 1);
    c->src = malloc((PEM_MAX_TEXT + 1) * sizeof *c->src);
    c->der = malloc(PEM_MAX_TEXT);
    c->kd = keydecoder_new();
    if (c->md == NULL || c->txt == NULL || c->src == NULL || c->der == NULL || c->kd == NULL) {
        pem_release(c);
        return DG_E_NOMEM;
    }
    *out = c;
    return DG_OK;
}

/* --- text decoding ---------------------------------------------------------- */

/* Decodes text starting at byte `start` of the chunk into c->txt, undoing
 * JSON escapes; stops at a control or non-ASCII character, at the end of the
 * chunk, or after max (<= PEM_MAX_TEXT) characters. Returns the character
 * count. */
static size_t
decode_text(struct ctx *c, const uint8_t *p, size_t len, size_t start, struct textinfo *ti,
            size_t max)
{
    size_t w = ti->enc == ENC_ASCII ? 1 : 2, i = start, n = 0;

    while (n < max) {
        int ch = text_char_at(p, len, i, ti->enc);
        size_t at = i;

        if (ch < 0)
            break;
        i += w;
        if (ch == '\\') {
            /* A run of backslashes, then n r t / " or u00XX: one character. */
            int nx;

            while ((nx = text_char_at(p, len, i, ti->enc)) == '\\')
                i += w;
            if (nx == 'n' || nx == 'r' || nx == 't') {
                ch = nx == 'n' ? '\n' : nx == 'r' ? '\r' : '\t';
                i += w;
            } else if (nx == '/') {
                ch = '/';
                i += w;
            } else if (nx == 'u') {
                int v = 0;

                for (int k = 1; k <= 4; k++) {
                    int h = text_hexval(text_char_at(p, len, i + k * w, ti->enc));

                    v = h < 0 ? -1 : (v < 0 ? -1 : v * 16 + h);
                }
                if (v < 0x20 || v >= 0x7f) {
                    if (v != '\n' && v != '\r')
                        break;
                }
                ch = v;
                i += 5 * w;
            } else {
                break;
            }
            ti->escaped = true;
        } else if (ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t') {
            break;
        } else if (ch == 0x7f) {
            break;
        }
        c->src[n] = (uint32_t)at;
        c->txt[n++] = (char)ch;
    }
    c->src[n] = (uint32_t)i;
    c->txt[n] = '\0';
    return n;
}

/* --- verdicts -------------------------------------------------------------- */

static void
describe_text(const struct textinfo *ti, char *out, size_t n)
{
    static const char *const encname[] = {"ascii", "utf-16le", "utf-16be"};

    dg_strlcpyf(out, n, "%s%s%s%s", encname[ti->enc], ti->escaped ? ", json-escaped" : "",
                ti->lines ? "" : ", one-line", ti->crlf && !ti->escaped ? ", crlf" : "");
}

/* Decodes base64 body text (whitespace allowed) into c->der; returns the byte
 * count or -1. */
static int
base64_decode(struct ctx *c, const char *body, size_t blen)
{
    EVP_ENCODE_CTX *e = EVP_ENCODE_CTX_new();
    int out = 0, fin = 0, ok;

    if (e == NULL)
        return -1;
    EVP_DecodeInit(e);
    c->der_used = true;
    ok = EVP_DecodeUpdate(e, c->der, &out, (const unsigned char *)body, (int)blen) >= 0 &&
         EVP_DecodeFinal(e, c->der + out, &fin) == 1;
    EVP_ENCODE_CTX_free(e);
    return ok ? out + fin : -1;
}

/* Does the DER key carry its public key? SEC1 ECPrivateKey: [1] after the
 * scalar; PKCS#8 v2: [1] after the private key. Walked with OpenSSL's
 * ASN1_get_object. */
static bool
der_has_public(const unsigned char *der, size_t len, bool pkcs8)
{
    const unsigned char *p = der, *end;
    long l;
    int tag, cls;

    if ((ASN1_get_object(&p, &l, &tag, &cls, (long)len) & 0x80) || tag != V_ASN1_SEQUENCE)
        return false;
    end = p + l;
    while (p < end) {
        const unsigned char *q = p;

        if (ASN1_get_object(&q, &l, &tag, &cls, end - p) & 0x80)
            return false;
        if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 1)
            return true;
        if (pkcs8 && cls == V_ASN1_UNIVERSAL && tag == V_ASN1_OCTET_STRING) {
            /* PKCS#8 EC: the inner SEC1 key may carry [1] itself. */
            if (der_has_public(q, (size_t)l, false))
                return true;
        }
        p = q + l;
    }
    return false;
}


static const char *
label_algorithm(const char *label)
{
    if (strncmp(label, "RSA ", 4) == 0)
        return "RSA";
    if (strncmp(label, "EC ", 3) == 0)
        return "EC";
    if (strncmp(label, "DSA ", 4) == 0)
        return "DSA";
    if (strncmp(label, "SM2 ", 4) == 0)
        return "SM2";
    return "";
}


static void
candidate(struct dg_finding *f, enum dg_severity sev, const char *type, const char *note)
{
    f->status = DG_STATUS_CANDIDATE;
    f->severity = sev;
    dg_strlcpyf(f->type, sizeof f->type, "%s", type);
    dg_strlcpyf(f->note, sizeof f->note, "%s", note);
}

/* The label's key, from its DER body. */
static void
judge_der(struct ctx *c, const char *label, const unsigned char *der, size_t len,
          struct dg_finding *f)
{
    static const struct {
        const char *label, *structure, *type, *encoding;
    } table[] = {
        {"PRIVATE KEY", "PrivateKeyInfo", NULL, "pem-pkcs8"},
        {"RSA PRIVATE KEY", "type-specific", "RSA", "pem-pkcs1"},
        {"EC PRIVATE KEY", "type-specific", "EC", "pem-sec1"},
        {"DSA PRIVATE KEY", "type-specific", "DSA", "pem-dsa"},
        {"SM2 PRIVATE KEY", "type-specific", "SM2", "pem-sec1"},
    };
    const char *structure = NULL, *type = NULL, *encoding = "pem";
    EVP_PKEY *pkey;
    unsigned flags = 0;

    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(label, table[i].label) == 0) {
            structure = table[i].structure;
            type = table[i].type;
            encoding = table[i].encoding;
        }
    }
    dg_strlcpyf(f->encoding, sizeof f->encoding, "%s", encoding);
    pkey = keydecode(c->kd, der, len, structure, type, EVP_PKEY_KEYPAIR, NULL);
    if (pkey == NULL && structure != NULL) /* mislabeled: let OpenSSL guess */
        pkey = keydecode(c->kd, der, len, NULL, NULL, EVP_PKEY_KEYPAIR, NULL);
    if (pkey == NULL) {
        candidate(f, DG_SEV_LOW, "private-key",
                  "armored private key whose body is not a key OpenSSL can decode");
        return;
    }
    if (der_has_public(der, len, structure != NULL && strcmp(structure, "PrivateKeyInfo") == 0))
        flags |= KEYPROOF_PUB_STORED;
    keyproof_prove_finding(c->sh->proof, pkey, flags, f);
    EVP_PKEY_free(pkey);
}

static void
judge_openssh(const struct dg_proof_policy *pol, const unsigned char *der, size_t len,
              struct dg_finding *f)
{
    struct openssh_key k;

    dg_strlcpyf(f->encoding, sizeof f->encoding, "pem-openssh");
    if (openssh_parse(der, len, &k) != DG_OK) {
        candidate(f, DG_SEV_LOW, "openssh-private-key",
                  "OpenSSH armor whose body is not an openssh-key-v1 blob");
        return;
    }
    if (k.encrypted) {
        char note[160];

        dg_strlcpyf(note, sizeof note, "encrypted OpenSSH key (%s, cipher %s, KDF %s%s%u rounds)",
                    k.keytype[0] ? k.keytype : "unknown type", k.cipher, k.kdf,
                    k.rounds ? ", " : "", k.rounds);
        candidate(f, DG_SEV_MEDIUM, "encrypted-private-key", note);
        if (!k.rounds)
            dg_strlcpyf(f->note, sizeof f->note, "encrypted OpenSSH key (%s, cipher %s, KDF %s)",
                        k.keytype[0] ? k.keytype : "unknown type", k.cipher, k.kdf);
        if (k.pub != NULL)
            keyproof_identity(k.pub, &f->key);
    } else if (k.priv != NULL) {
        keyproof_prove_finding(pol, k.priv, k.proof_flags, f);
    } else {
        candidate(f, DG_SEV_MEDIUM, "openssh-private-key", k.why);
        if (k.pub != NULL)
            keyproof_identity(k.pub, &f->key);
    }
    openssh_key_free(&k);
}

/* Finds the value of header `name` in the header text; copies it to out. */
static bool
header_value(const char *hdrs, size_t n, const char *name, char *out, size_t out_len)
{
    size_t nl = strlen(name);

    for (size_t i = 0; i + nl < n; i++) {
        if ((i == 0 || hdrs[i - 1] == '\n' || hdrs[i - 1] == ' ' || hdrs[i - 1] == '\r') &&
            strncmp(hdrs + i, name, nl) == 0 && hdrs[i + nl] == ':') {
            size_t s = i + nl + 1, e;

            while (s < n && (hdrs[s] == ' ' || hdrs[s] == '\t'))
                s++;
            for (e = s; e < n && hdrs[e] != '\r' && hdrs[e] != '\n'; e++)
                ;
            dg_strlcpyf(out, out_len, "%.*s", (int)(e - s), hdrs + s);
            return true;
        }
    }
    return false;
}

/* Judges one armored block; returns false to stay silent. */
static bool
judge(struct ctx *c, const char *label, const char *hdrs, size_t hlen, const char *body,
      size_t blen, bool has_end, bool ssh2, struct dg_finding *f)
{
    size_t b64 = 0;
    int der_len;
    char v[96];

    for (size_t i = 0; i < blen; i++)
        b64 += body[i] != ' ' && body[i] != '\t' && body[i] != '\r' && body[i] != '\n';
    if (b64 < PEM_MIN_BODY)
        return false; /* a BEGIN line with no key: library strings, placeholders */
    if (ssh2) {
        dg_strlcpyf(f->encoding, sizeof f->encoding, "pem-ssh2");
        candidate(f, DG_SEV_MEDIUM, "encrypted-private-key",
                  "SSH2 (ssh.com) private key; not decoded here");
        return true;
    }
    if (strcmp(label, "PGP PRIVATE KEY BLOCK") == 0) {
        /* Drop the CRC-24 line ("=" and four base64 characters) before decoding. */
        for (size_t i = blen; i-- > 0;) {
            if (body[i] == '=' && (i == 0 || body[i - 1] == '\n') && blen - i <= 7) {
                blen = i;
                break;
            }
        }
    }
    der_len = base64_decode(c, body, blen);
    if (der_len <= 0) {
        dg_strlcpyf(f->encoding, sizeof f->encoding, "pem");
        candidate(f, DG_SEV_LOW, "private-key",
                  has_end ? "armored private key whose body is not valid base64"
                          : "armored private key with no END line (truncated?)");
        return true;
    }
    if (strcmp(label, "PGP PRIVATE KEY BLOCK") == 0) {
        unsigned char t = c->der[0];
        bool secret = (t & 0x80) && ((t & 0x40) ? (t & 0x3f) == 5 : ((t >> 2) & 0xf) == 5);

        dg_strlcpyf(f->encoding, sizeof f->encoding, "pem-pgp");
        candidate(f, secret ? DG_SEV_MEDIUM : DG_SEV_LOW, "pgp-private-key",
                  secret ? "OpenPGP secret-key packet; not proven here"
                         : "OpenPGP armor without a secret-key packet first");
        return true;
    }
    if (strcmp(label, "OPENSSH PRIVATE KEY") == 0) {
        judge_openssh(c->sh->proof, c->der, (size_t)der_len, f);
    } else if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0) {
        char note[160];

        dg_strlcpyf(f->encoding, sizeof f->encoding, "pem-encrypted-pkcs8");
        if (keyproof_describe_encrypted_pkcs8(c->der, (size_t)der_len, note, sizeof note))
            candidate(f, DG_SEV_MEDIUM, "encrypted-private-key", note);
        else
            candidate(f, DG_SEV_LOW, "encrypted-private-key",
                      "ENCRYPTED PRIVATE KEY armor whose body does not parse");
    } else if (header_value(hdrs, hlen, "Proc-Type", v, sizeof v) && strstr(v, "ENCRYPTED")) {
        char cipher[64] = "unknown cipher", note[160];

        if (header_value(hdrs, hlen, "DEK-Info", v, sizeof v)) {
            char *comma = strchr(v, ',');

            if (comma != NULL)
                *comma = '\0'; /* the IV is not needed */
            dg_strlcpyf(cipher, sizeof cipher, "%s", v);
        }
        dg_strlcpyf(f->encoding, sizeof f->encoding, "pem-legacy-encrypted");
        dg_strlcpyf(note, sizeof note, "legacy PEM encryption (DEK-Info %s)", cipher);
        candidate(f, DG_SEV_MEDIUM, "encrypted-private-key", note);
        dg_strlcpyf(f->key.algorithm, sizeof f->key.algorithm, "%s", label_algorithm(label));
    } else {
        judge_der(c, label, c->der, (size_t)der_len, f);
    }
    if (!has_end && f->status != DG_STATUS_CONFIRMED && f->note[0] == '\0')
        dg_strlcpyf(f->note, sizeof f->note, "no END line");
    OPENSSL_cleanse(c->der, (size_t)der_len);
    return true;
}

/* True if the first line of t[0..n) names a private key (what both armor
 * expressions require): "PRIVATE KEY" before the first line break. */
static bool
private_label(const char *t, size_t n)
{
    static const char want[] = "PRIVATE KEY";
    const char *nl = memchr(t, '\n', n);
    size_t line = nl != NULL ? (size_t)(nl - t) : n;

    return line >= sizeof want - 1 && memmem(t, line, want, sizeof want - 1) != NULL;
}

/* Tries to match an armor at byte `start` in encoding e. Returns the bytes
 * the match covers (0 for no match); *f is filled and *report set when the
 * match deserves a finding (a placeholder body matches but stays silent).
 * *text_end is the chunk index where the text decoding stopped. */
static size_t
try_armor(struct ctx *c, const struct dg_chunk *ch, size_t start, enum text_enc e,
          struct dg_finding *f, bool *report, size_t *text_end)
{
    struct textinfo ti = {.enc = e};
    const pcre2_code *re;
    PCRE2_SIZE *ov, l0, h0, h1, b0, b1, e0 = PCRE2_UNSET;
    int g_label, g_hdrs, g_body, g_end, rc;
    char label[64];
    size_t n, nbytes;
    bool ssh2;

    *report = false;
    /* The BEGIN line first: a certificate's (a CA bundle has hundreds) costs
     * no more than that and does not count against the cap. */
    n = decode_text(c, ch->p, ch->len, start, &ti, PEM_HEAD_TEXT);
    *text_end = c->src[n];
    if (!private_label(c->txt, n))
        return 0;
    if (c->n_armors > PEM_MAX_ARMORS || ++c->n_armors > PEM_MAX_ARMORS)
        return 0;
    ti = (struct textinfo){.enc = e};
    n = decode_text(c, ch->p, ch->len, start, &ti, PEM_MAX_TEXT);
    *text_end = c->src[n];
    ssh2 = n > 5 && c->txt[4] == ' ';
    re = ssh2 ? c->sh->ssh2 : c->sh->armor;
    if (n < 27)
        return 0;
    rc = pcre2_match(re, (PCRE2_SPTR)c->txt, n, 0, 0, c->md, NULL);
    if (rc < 0)
        return 0;
    ov = pcre2_get_ovector_pointer(c->md);
    g_label = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "label");
    g_hdrs = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "hdrs");
    g_body = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "body");
    g_end = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "end");
    if (g_label > 0) {
        l0 = ov[2 * g_label];
        dg_strlcpyf(label, sizeof label, "%.*s", (int)(ov[2 * g_label + 1] - l0), c->txt + l0);
    } else {
        dg_strlcpyf(label, sizeof label, "SSH2 ENCRYPTED PRIVATE KEY");
    }
    h0 = ov[2 * g_hdrs];
    h1 = ov[2 * g_hdrs + 1];
    b0 = ov[2 * g_body];
    b1 = ov[2 * g_body + 1];
    if (g_end > 0 && rc > g_end)
        e0 = ov[2 * g_end];
    for (size_t i = b0; i < b1; i++)
        ti.lines |= c->txt[i] == '\n';
    /* CRLF line ends of the armor itself: the decoding may have gone on
     * into whatever follows its END line */
    ti.crlf = memchr(c->txt + ov[0], '\r', ov[1] - ov[0]) != NULL;
    nbytes = c->src[ov[1]] - start;
    memset(f, 0, sizeof *f);
    if (!judge(c, label, c->txt + h0, h1 - h0, c->txt + b0, b1 - b0, e0 != PCRE2_UNSET, ssh2,
               f))
        return nbytes;
    *report = true;
    f->off = ch->off + start;
    f->len = nbytes;
    describe_text(&ti, f->text, sizeof f->text);
    dg_strlcpyf(f->preview, sizeof f->preview, "%s%s%s [%zu bytes, redacted]",
                ssh2 ? "---- BEGIN " : "-----BEGIN ", label, ssh2 ? " ----" : "-----", nbytes);
    return nbytes;
}

/* How good a verdict is, to choose between two readings of the same bytes. */
static int
rank(const struct dg_finding *f, bool report)
{
    if (!report)
        return 0;
    return 1 + (int)f->severity * 2 + (f->status == DG_STATUS_CONFIRMED);
}

/* Checks the encodings at a position with '-' at i and i+2 and reports the
 * best reading. Returns the bytes to skip after a match (0 if none).
 * UTF-16LE at i and UTF-16BE at i-1 read the same characters from the same
 * bytes except at the edges, so when both are possible both are judged: the
 * better verdict wins, then the reading whose text runs further (the true
 * alignment reads the character after the END line), then UTF-16LE, by far
 * the more common in memory (Windows, .NET, Java char[]). */
static size_t
probe(struct ctx *c, const struct dg_chunk *ch, size_t i, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    size_t len = ch->len, r_le = 0, r_be = 0, end_le = 0, end_be = 0;
    struct dg_finding f_le, f_be;
    bool rep_le = false, rep_be = false;
    int rk_le, rk_be;

    if (i + 1 < len && p[i + 1] == '-') {
        struct dg_finding f;
        bool rep = false;
        size_t r = 0, end;

        /* ASCII "-----BEGIN " or "---- BEGIN SSH2" (a longer run of dashes
         * before it is fine: the armor starts at its last five). */
        if (i + 15 <= len &&
            (memcmp(p + i, "-----BEGIN ", 11) == 0 || memcmp(p + i, "---- BEGIN SSH2", 15) == 0))
            r = try_armor(c, ch, i, ENC_ASCII, &f, &rep, &end);
        if (r != 0 && rep)
            dg_report(sink, &f);
        return r;
    }
    if (i + 22 > len || p[i + 1] != 0 || text_char_at(p, len, i + 8, ENC_UTF16LE) != '-' ||
        text_char_at(p, len, i + 10, ENC_UTF16LE) != 'B')
        return 0;
    r_le = try_armor(c, ch, i, ENC_UTF16LE, &f_le, &rep_le, &end_le);
    if (i >= 1 && p[i - 1] == 0 && i - 1 < ch->owned)
        r_be = try_armor(c, ch, i - 1, ENC_UTF16BE, &f_be, &rep_be, &end_be);
    rk_le = r_le ? rank(&f_le, rep_le) : -1;
    rk_be = r_be ? rank(&f_be, rep_be) : -1;
    if (rk_be > rk_le || (rk_be == rk_le && r_be != 0 && end_be > end_le)) {
        if (rep_be)
            dg_report(sink, &f_be);
        return r_be;
    }
    if (rep_le)
        dg_report(sink, &f_le);
    return r_le;
}

/* Bit i set where p[i] and p[i + 2] are '-' (the armor's dashes in ASCII or
 * UTF-16), for i < 16 (reads p[0..18)). */
static inline uint32_t
dashes16(const uint8_t *p)
{
#ifdef __SSE2__
    const __m128i dash = _mm_set1_epi8('-');
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 2));

    return (uint32_t)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, dash), _mm_cmpeq_epi8(b, dash)));
#else
    uint32_t m = 0;

    for (unsigned i = 0; i < 16; i++)
        m |= (uint32_t)(p[i] == '-' && p[i + 2] == '-') << i;
    return m;
#endif
}

#if DG_HAVE_AVX2
/* dashes16() for i < 32 (reads p[0..34)). */
DG_TARGET_AVX2 static inline uint32_t
dashes32(const uint8_t *p)
{
    const __m256i dash = _mm256_set1_epi8('-');
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 2));

    return (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(a, dash), _mm256_cmpeq_epi8(b, dash)));
}
#endif

/* Probes every candidate mask_at() finds in blocks of step positions from i;
 * returns where it stopped. Inline, so each caller has mask_at() inlined. */
static inline __attribute__((always_inline)) size_t
scan_blocks(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
            size_t *skip_to, uint32_t (*mask_at)(const uint8_t *), size_t step)
{
    for (; i + step + 2 <= ch->len && i < end; i += step)
        for (uint32_t m = mask_at(ch->p + i); m != 0; m &= m - 1) {
            size_t k = i + (size_t)__builtin_ctz(m);

            if (k >= end)
                break;
            if (k >= *skip_to) {
                size_t r = probe(c, ch, k, sink);

                if (r != 0)
                    *skip_to = k + r;
            }
        }
    return i;
}

static size_t
scan_blocks16(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
              size_t *skip_to)
{
    return scan_blocks(c, ch, sink, i, end, skip_to, dashes16, 16);
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static size_t
scan_blocks32(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
              size_t *skip_to)
{
    return scan_blocks(c, ch, sink, i, end, skip_to, dashes32, 32);
}
#endif

static dg_err
pem_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    const uint8_t *p = ch->p;
    size_t i = 0, end = ch->owned, skip_to = 0;

    c->n_armors = 0;
    if (ch->hits != NULL) { /* the engine found the dashes */
        struct dg_hit_iter it = {0};

        for (size_t k; (k = dg_hits_next(ch, &it)) < end;)
            if (k + 2 < ch->len && p[k] == '-' && p[k + 2] == '-' && k >= skip_to) {
                size_t r = probe(c, ch, k, sink);

                if (r != 0)
                    skip_to = k + r;
            }
    } else {
#if DG_HAVE_AVX2
        if (dg_cpu_avx2())
            i = scan_blocks32(c, ch, sink, i, end, &skip_to);
#endif
        i = scan_blocks16(c, ch, sink, i, end, &skip_to);
        for (; i < end; i++) {
            if (p[i] == '-' && i + 2 < ch->len && p[i + 2] == '-' && i >= skip_to) {
                size_t r = probe(c, ch, i, sink);

                if (r != 0)
                    skip_to = i + r;
            }
        }
    }
    if (c->n_armors > PEM_MAX_ARMORS)
        dg_sink_warn(sink, ch->off,
                     "pem: more than %u BEGIN lines in the chunk; the ones after that were "
                     "not read",
                     PEM_MAX_ARMORS);
    return DG_OK;
}

/* dashes16()'s '-', any byte, '-' */
static const struct dg_trigger triggers[] = {{3, {'-', 0, '-'}, 2}, {0, {0}, 0}};

const struct dg_detector dg_detector_pem = {
    .abi = DG_DETECTOR_ABI,
    .name = "pem",
    .summary = "PEM-armored private keys (PKCS#8, PKCS#1, SEC1, DSA, OpenSSH, encrypted, "
               "PGP, SSH2) in ASCII, UTF-16 and JSON-escaped text; proven with OpenSSL",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = PEM_MAX_SPAN,
    .flags = DG_DET_TEXT,
    .default_on = true,
    .create = pem_create,
    .init = pem_init,
    .scan = pem_scan,
    .release = pem_release,
    .destroy = pem_destroy,
    .triggers = triggers,
};
