/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * keystore.c - the `keystore` detector: private keys inside key stores
 * (PKCS#12 / PFX, Java JKS and JCEKS, PuTTY PPK v2 and v3), opened when the
 * password is known and proven, named by their certificate or public key
 * when it is not. Layouts: ../shared/reference/keyforms.md §1.3, §2.6, §2.7.
 *
 * 1. Prefilter: an SSE2 pass (a portable loop elsewhere) marks three-byte
 *    anchors: "02 01 03" (the PFX version INTEGER), "fe ed fe" (JKS magic),
 *    "ce ce ce" (JCEKS magic) and "PuT" (the PPK header). Zero pages and
 *    most text have none.
 * 2. At a mark, a bounded structural check comes before any library call:
 *    - PKCS#12: the SEQUENCE header before the version, the authSafe
 *      ContentInfo of type data right after it, children (version, authSafe,
 *      optional MacData) that fill the SEQUENCE exactly; then d2i_PKCS12. The
 *      password is found among NULL, "" and the option `p12-pass` with the
 *      MAC (or, without a MAC, by what decrypts); the safes and bags are then
 *      walked with OpenSSL (keyBag, pkcs8ShroudedKeyBag, certBag, nested
 *      safeContents).
 *    - JKS / JCEKS: magic, version 1 or 2, the big-endian entries of
 *      sun.security.provider.JavaKeyStore / com.sun.crypto.provider.JceKeyStore
 *      (tag 1 private key: protected key blob and certificate chain; tag 2
 *      trusted certificate; tag 3 JCEKS secret key, a Java-serialized object
 *      whose end is not recorded, so the walk re-synchronises on the next
 *      plausible entry header). With the option `jks-pass`, a JKS key
 *      protected by Sun's KeyProtector (SHA-1 keystream XOR,
 *      sun.security.provider.KeyProtector) is recovered with OpenSSL's SHA-1
 *      and its integrity digest checked, and a JCEKS key (Sun's
 *      PBEWithMD5AndTripleDES, com.sun.crypto.provider.PBES1Core) with
 *      OpenSSL's MD5 and DES-EDE3-CBC.
 *    - PPK: the header lines, the base64 Public-Lines and Private-Lines
 *      (decoded by OpenSSL); unencrypted keys are rebuilt by
 *      openssh_ppk_private().
 * 3. Keys are proven by keyproof_prove().
 *
 * Cost: password attempts of more than KDF_MAX_ITER iterations are not made;
 * those above KDF_FREE_ITER (OpenSSL uses 2048, Java 10000 for PKCS#12, but
 * 200000 for JCEKS) draw on a per-file budget of KDF_BUDGET iterations, so a
 * dump full of copies of one store stays cheap; a warning says when it ran
 * out.
 *
 * Verdicts: an opened key that proves is confirmed/high (encoding "pkcs12",
 * "jks", "jceks", "ppk-v2", "ppk-v3"); a key whose protection is not opened is an
 * "encrypted-private-key" medium candidate that names the protection, and
 * carries the spki_sha256 of its certificate (PKCS#12 cert bag in clear, JKS
 * chain leaf) or public blob (PPK), so the key is named without its password.
 * A PKCS#12 whose safes are all encrypted and whose password is unknown is a
 * low candidate (it may be a trust store). Stores without private keys (trust
 * stores, certificate-only PFX) are silent. Aliases and friendly names are
 * quoted in the note with printable ASCII only; passwords never appear.
 * A JKS/JCEKS store is read up to KS_MAX_SPAN bytes from its magic (entries
 * past that are not seen); a PFX longer than P12_MAX is skipped; BER
 * indefinite lengths are not read; UTF-16 PPK text is not searched. JCEKS
 * secret-key entries (sealed AES/HMAC keys) are stepped over, not reported.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>


#include <dumpgate/detector.h>

#include "../scanner/formats/openssh.h"
#include "../scanner/proof/keyproof.h"
#include "../scanner/util/simd.h"

#define KS_MAX_SPAN (64u << 10)   /* longest store read whole = chunk overlap */
#define P12_MAX (KS_MAX_SPAN - 64) /* largest PFX decoded */
#define P12_MAX_KEYS 16           /* key bags reported per PFX */
#define P12_MAX_CERTS 32          /* cert bags remembered per PFX */
#define KDF_MAX_ITER 1000000      /* PBKDF/MAC iterations of one attempt at most */
#define KDF_FREE_ITER 10000       /* attempts this cheap (the usual counts) are always made */
#define KDF_BUDGET 20000000ull    /* hash iterations of costlier attempts per file (~3 s) */
#define JKS_MAX_ENTRIES 4096
#define JKS_MAX_CERTS 16          /* certificates per chain examined */
#define JCEKS_MAX_SEALED 8192     /* bytes searched for the end of a serialized secret key */
#define PPK_MAX_TEXT (32u << 10)  /* characters of a PPK file examined */
#define PPK_MAX_LINES 512         /* Public-Lines / Private-Lines accepted */
#define PASS_MAX 1024             /* bytes of a password option kept */

static const char *const forms[] = {"pkcs12", "jks", "jceks", "ppk-v2", "ppk-v3", NULL};

/* Passwords from the options, copied (cleansed on destroy), NULL if not
 * given; and the KDF work spent on password attempts, shared by the workers. */
struct shared {
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
    char *p12_pass;
    char *jks_pass;
    atomic_ullong work;    /* hash iterations spent, against KDF_BUDGET */
    atomic_bool spent;     /* the budget ran out: say so once */
};

struct ctx {
    struct shared *sh;
};

/* --- setup ----------------------------------------------------------------- */

static char *
copy_option(const struct dg_config *cfg, const char *name)
{
    const char *v = dg_config_get(cfg, name);
    size_t n;
    char *s;

    if (v == NULL)
        return NULL;
    n = strnlen(v, PASS_MAX);
    s = OPENSSL_secure_malloc(n + 1);
    if (s == NULL)
        s = OPENSSL_malloc(n + 1);
    if (s != NULL) {
        memcpy(s, v, n);
        s[n] = '\0';
    }
    return s;
}

static void
free_option(char *s)
{
    if (s == NULL)
        return;
    if (CRYPTO_secure_allocated(s))
        OPENSSL_secure_clear_free(s, strlen(s) + 1);
    else
        OPENSSL_clear_free(s, strlen(s) + 1);
}

static dg_err
ks_create(const struct dg_config *cfg, void **out)
{
    struct shared *sh = calloc(1, sizeof *sh);

    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    atomic_init(&sh->work, 0);
    atomic_init(&sh->spent, false);
    sh->p12_pass = copy_option(cfg, "p12-pass");
    sh->jks_pass = copy_option(cfg, "jks-pass");
    *out = sh;
    return DG_OK;
}

static void
ks_destroy(void *p)
{
    struct shared *sh = p;

    if (sh == NULL)
        return;
    free_option(sh->p12_pass);
    free_option(sh->jks_pass);
    free(sh);
}

static dg_err
ks_init(void *shared, void **out)
{
    struct ctx *c = calloc(1, sizeof *c);

    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    *out = c;
    return DG_OK;
}

static void
ks_release(void *p)
{
    free(p);
}

/* Says once per file that password attempts were cut short. */
static dg_err
ks_finish(void *p, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct shared *sh = p;

    (void)dump;
    if (atomic_load(&sh->spent))
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "keystore: password attempts stopped after %llu KDF iterations; "
                     "later stores are reported without trying them",
                     (unsigned long long)KDF_BUDGET);
    atomic_store(&sh->work, 0); /* the budget is per dump */
    atomic_store(&sh->spent, false);
    return DG_OK;
}

/* --- shared helpers ------------------------------------------------------- */

/* Copies at most n-1 bytes of s[0..len) into out, printable ASCII only
 * (others become '?'). */
static void
printable(char *out, size_t n, const void *s, size_t len)
{
    const unsigned char *u = s;
    size_t i;

    for (i = 0; i < len && i + 1 < n; i++)
        out[i] = u[i] >= 0x20 && u[i] < 0x7f && u[i] != '"' && u[i] != '\\' ? (char)u[i] : '?';
    out[i] = '\0';
}

/* Proves pkey into f (keyproof_prove_finding), the note prefixed by what. */
static void
prove_into(const struct shared *sh, const EVP_PKEY *pkey, unsigned flags, struct dg_finding *f,
           const char *what)
{
    char why[sizeof f->note];

    if (keyproof_prove_finding(sh->proof, pkey, flags, f) == DG_OK) {
        dg_strlcpyf(f->note, sizeof f->note, "%s", what);
        return;
    }
    dg_strlcpyf(why, sizeof why, "%s", f->note);
    dg_strlcpyf(f->note, sizeof f->note, "%s; %s", what, why);
}

static void
encrypted(struct dg_finding *f, enum dg_severity sev)
{
    f->status = DG_STATUS_CANDIDATE;
    f->severity = sev;
    dg_strlcpyf(f->type, sizeof f->type, "encrypted-private-key");
}

/* Identity of a certificate's public key from its DER; false if it does not parse. */
static bool
cert_identity(const unsigned char *der, size_t len, struct dg_key *key)
{
    const unsigned char *q = der;
    X509 *x;
    bool ok = false;

    ERR_set_mark();
    x = d2i_X509(NULL, &q, (long)len);
    if (x != NULL && X509_get0_pubkey(x) != NULL)
        ok = keyproof_identity(X509_get0_pubkey(x), key) == DG_OK;
    X509_free(x);
    ERR_pop_to_mark();
    return ok;
}

static EVP_PKEY *
pkey_from_p8(const PKCS8_PRIV_KEY_INFO *p8)
{
    EVP_PKEY *pkey;

    ERR_set_mark();
    pkey = p8 != NULL ? EVP_PKCS82PKEY(p8) : NULL;
    ERR_pop_to_mark();
    return pkey;
}

/* --- PBE names and costs ---------------------------------------------------- */

/* Iterations of a PBES1/PKCS#12 PBE or PBES2-PBKDF2 AlgorithmIdentifier; 0
 * when unknown (then nothing is tried), -1 for a KDF other than PBKDF2. */
static long
pbe_iter(const X509_ALGOR *alg)
{
    const ASN1_OBJECT *oid;
    int ptype;
    const void *pval;
    long iter = 0;

    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    if (ptype != V_ASN1_SEQUENCE)
        return 0;
    if (OBJ_obj2nid(oid) == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
        PBKDF2PARAM *kdf = NULL;

        if (pbe2 == NULL)
            return 0;
        if (OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2)
            iter = -1;
        else if (pbe2->keyfunc->parameter != NULL &&
                 pbe2->keyfunc->parameter->type == V_ASN1_SEQUENCE)
            kdf = ASN1_item_unpack(pbe2->keyfunc->parameter->value.sequence,
                                   ASN1_ITEM_rptr(PBKDF2PARAM));
        if (kdf != NULL)
            iter = ASN1_INTEGER_get(kdf->iter);
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(pbe2);
    } else {
        PBEPARAM *pbe = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBEPARAM));

        if (pbe != NULL)
            iter = ASN1_INTEGER_get(pbe->iter);
        PBEPARAM_free(pbe);
    }
    return iter;
}

/* Takes iter hash iterations from the file's budget; false when the
 * attempt is too costly or the budget is spent. Attempts of at most
 * KDF_FREE_ITER iterations (OpenSSL's 2048, Java's 10000) are always made. */
static bool
spend(struct shared *sh, long iter)
{
    if (iter <= 0 || iter > KDF_MAX_ITER)
        return false;
    if (iter <= KDF_FREE_ITER)
        return true;
    if (atomic_fetch_add(&sh->work, (unsigned long long)iter) + (unsigned long long)iter >
        KDF_BUDGET) {
        atomic_store(&sh->spent, true);
        return false;
    }
    return true;
}

static bool
affordable(struct shared *sh, const X509_ALGOR *alg)
{
    return spend(sh, pbe_iter(alg));
}

/* Names a PBE AlgorithmIdentifier: "PBES2 AES-256-CBC", "pbeWithSHA1And3-KeyTripleDES-CBC". */
static void
describe_pbe(const X509_ALGOR *alg, char *out, size_t n)
{
    const ASN1_OBJECT *oid;
    int ptype, nid;
    const void *pval;
    char txt[80];

    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    nid = OBJ_obj2nid(oid);
    if (nid == NID_pbes2 && ptype == V_ASN1_SEQUENCE) {
        PBE2PARAM *pbe2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
        int cn = pbe2 != NULL ? OBJ_obj2nid(pbe2->encryption->algorithm) : NID_undef;
        int kn = pbe2 != NULL ? OBJ_obj2nid(pbe2->keyfunc->algorithm) : NID_undef;

        if (cn != NID_undef && kn == NID_id_pbkdf2)
            dg_strlcpyf(out, n, "PBES2 %s", OBJ_nid2sn(cn));
        else if (cn != NID_undef && kn != NID_undef)
            dg_strlcpyf(out, n, "PBES2 %s %s", OBJ_nid2sn(kn), OBJ_nid2sn(cn));
        else
            dg_strlcpyf(out, n, "PBES2");
        PBE2PARAM_free(pbe2);
        return;
    }
    if (nid != NID_undef) {
        dg_strlcpyf(out, n, "%s", OBJ_nid2ln(nid));
        return;
    }
    OBJ_obj2txt(txt, sizeof txt, oid, 1);
    dg_strlcpyf(out, n, "%s", txt);
}

/* --- PKCS#12 ----------------------------------------------------------------- */

struct p12_key {
    EVP_PKEY *pkey;            /* the key when in clear or decrypted, else NULL */
    bool shrouded;             /* pkcs8ShroudedKeyBag */
    char prot[64];             /* its protection, for a shrouded key */
    char name[48];             /* friendly name, printable */
    unsigned char id[32];      /* localKeyID */
    size_t id_len;
};

struct p12_cert {
    struct dg_key key;         /* identity of the certificate's public key */
    unsigned char id[32];      /* localKeyID */
    size_t id_len;
};

struct p12_walk {
    struct shared *sh;         /* the work budget */
    const char *pass;          /* password in use (NULL or a string) */
    bool have_pass;            /* pass is known to be right: decrypt with it */
    struct p12_key keys[P12_MAX_KEYS];
    size_t n_keys;
    struct p12_cert certs[P12_MAX_CERTS];
    size_t n_certs;
    size_t opened;             /* encrypted safes and shrouded keys decrypted */
    size_t sealed;             /* encrypted safes left closed */
    char safe_prot[64];        /* protection of the first encrypted safe */
};

static void
walk_free(struct p12_walk *w)
{
    for (size_t i = 0; i < w->n_keys; i++)
        EVP_PKEY_free(w->keys[i].pkey);
    w->n_keys = 0;
    w->n_certs = 0;
}

/* Copies the localKeyID attribute of bag into id (at most 32 bytes). */
static size_t
local_key_id(const PKCS12_SAFEBAG *bag, unsigned char *id)
{
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
    size_t n;

    if (t == NULL || t->type != V_ASN1_OCTET_STRING)
        return 0;
    n = (size_t)ASN1_STRING_length(t->value.octet_string);
    if (n > 32)
        n = 32;
    memcpy(id, ASN1_STRING_get0_data(t->value.octet_string), n);
    return n;
}

static void
walk_bags(const STACK_OF(PKCS12_SAFEBAG) *bags, struct p12_walk *w, int depth)
{
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        int nid = PKCS12_SAFEBAG_get_nid(bag);

        if (nid == NID_keyBag || nid == NID_pkcs8ShroudedKeyBag) {
            struct p12_key *k;
            char *name;

            if (w->n_keys == P12_MAX_KEYS)
                continue;
            k = &w->keys[w->n_keys++];
            memset(k, 0, sizeof *k);
            if (nid == NID_keyBag) {
                k->pkey = pkey_from_p8(PKCS12_SAFEBAG_get0_p8inf(bag));
            } else {
                const X509_SIG *sig = PKCS12_SAFEBAG_get0_pkcs8(bag);
                const X509_ALGOR *alg = NULL;

                k->shrouded = true;
                X509_SIG_get0(sig, &alg, NULL);
                describe_pbe(alg, k->prot, sizeof k->prot);
                if (w->have_pass && affordable(w->sh, alg)) {
                    PKCS8_PRIV_KEY_INFO *p8 = PKCS12_decrypt_skey(bag, w->pass, -1);

                    k->pkey = pkey_from_p8(p8);
                    PKCS8_PRIV_KEY_INFO_free(p8);
                    w->opened += k->pkey != NULL;
                }
            }
            name = PKCS12_get_friendlyname(bag);
            if (name != NULL)
                printable(k->name, sizeof k->name, name, strlen(name));
            OPENSSL_free(name);
            k->id_len = local_key_id(bag, k->id);
        } else if (nid == NID_certBag && w->n_certs < P12_MAX_CERTS &&
                   PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate) {
            X509 *x = PKCS12_SAFEBAG_get1_cert(bag);
            struct p12_cert *c = &w->certs[w->n_certs];

            memset(c, 0, sizeof *c);
            if (x != NULL && X509_get0_pubkey(x) != NULL &&
                keyproof_identity(X509_get0_pubkey(x), &c->key) == DG_OK) {
                c->id_len = local_key_id(bag, c->id);
                w->n_certs++;
            }
            X509_free(x);
        } else if (nid == NID_safeContentsBag && depth < 3) {
            walk_bags(PKCS12_SAFEBAG_get0_safes(bag), w, depth + 1);
        }
    }
}

/* Walks every safe of p12 with the password in w. */
static void
walk_p12(const PKCS12 *p12, struct p12_walk *w)
{
    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);

    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;

        if (PKCS7_type_is_data(p7)) {
            bags = PKCS12_unpack_p7data(p7);
        } else if (PKCS7_type_is_encrypted(p7) && p7->d.encrypted != NULL &&
                   p7->d.encrypted->enc_data != NULL) {
            const X509_ALGOR *alg = p7->d.encrypted->enc_data->algorithm;

            if (w->safe_prot[0] == '\0')
                describe_pbe(alg, w->safe_prot, sizeof w->safe_prot);
            if (w->have_pass && affordable(w->sh, alg))
                bags = PKCS12_unpack_p7encdata(p7, w->pass, -1);
            if (bags != NULL)
                w->opened++;
            else
                w->sealed++;
        }
        if (bags != NULL)
            walk_bags(bags, w, 0);
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
}

/* "hmacWithSHA256" for the MAC of p12, or "" when it has none. Returns the
 * MAC's iteration count (1 when absent from MacData), 0 without a MAC. */
static long
mac_of(const PKCS12 *p12, char *out, size_t n)
{
    const X509_ALGOR *macalg = NULL;
    const ASN1_INTEGER *iter = NULL;
    const ASN1_OBJECT *oid;
    int nid;

    out[0] = '\0';
    if (!PKCS12_mac_present(p12))
        return 0;
    PKCS12_get0_mac(NULL, &macalg, NULL, &iter, p12);
    if (macalg == NULL)
        return 0;
    X509_ALGOR_get0(&oid, NULL, NULL, macalg);
    nid = OBJ_obj2nid(oid);
    if (nid != NID_undef && EVP_get_digestbynid(nid) != NULL)
        dg_strlcpyf(out, n, "hmacWith%s", OBJ_nid2sn(nid));
    else if (nid != NID_undef)
        dg_strlcpyf(out, n, "%s", OBJ_nid2sn(nid));
    else
        OBJ_obj2txt(out, (int)n, oid, 1);
    return iter != NULL ? ASN1_INTEGER_get(iter) : 1;
}

/* The certificate of key k: same localKeyID, else the only certificate
 * when the PFX holds one key. */
static const struct p12_cert *
cert_of(const struct p12_walk *w, const struct p12_key *k)
{
    for (size_t i = 0; i < w->n_certs; i++)
        if (k->id_len > 0 && w->certs[i].id_len == k->id_len &&
            memcmp(w->certs[i].id, k->id, k->id_len) == 0)
            return &w->certs[i];
    if (w->n_keys == 1 && w->n_certs == 1)
        return &w->certs[0];
    return NULL;
}

/* Which password opened the PFX, for the note (never the password itself). */
static const char *
pass_name(const struct shared *sh, const char *pass)
{
    if (pass == NULL)
        return "no password";
    if (pass[0] == '\0')
        return "the empty password";
    return sh->p12_pass != NULL && pass == sh->p12_pass ? "the p12-pass password" : "a password";
}

/* Reports the findings of a decoded PFX at file offset off, length len. */
static void
report_p12(struct ctx *c, PKCS12 *p12, uint64_t off, size_t len, struct dg_sink *sink)
{
    const char *cands[3];
    size_t n_cands = 0;
    char mac[48];
    long mac_iter;
    struct p12_walk w;
    const char *pass = NULL;
    bool found = false;

    memset(&w, 0, sizeof w);
    w.sh = c->sh;
    cands[n_cands++] = NULL;
    cands[n_cands++] = "";
    if (c->sh->p12_pass != NULL && c->sh->p12_pass[0] != '\0')
        cands[n_cands++] = c->sh->p12_pass;
    mac_iter = mac_of(p12, mac, sizeof mac);
    if (mac_iter > 0) {
        for (size_t i = 0; i < n_cands && !found && spend(c->sh, mac_iter); i++)
            if (PKCS12_verify_mac(p12, cands[i], cands[i] ? (int)strlen(cands[i]) : 0) == 1) {
                pass = cands[i];
                found = true;
            }
    } else if (mac_iter == 0) {
        /* No MAC: the password is the one that decrypts something. */
        for (size_t i = 0; i < n_cands && !found; i++) {
            w.pass = cands[i];
            w.have_pass = true;
            walk_p12(p12, &w);
            found = w.opened > 0;
            pass = cands[i];
            walk_free(&w);
            memset(&w, 0, sizeof w);
            w.sh = c->sh;
        }
    }
    w.pass = found ? pass : NULL;
    w.have_pass = found;
    walk_p12(p12, &w);

    for (size_t i = 0; i < w.n_keys; i++) {
        const struct p12_key *k = &w.keys[i];
        struct dg_finding f;
        char what[160];

        memset(&f, 0, sizeof f);
        dg_strlcpyf(f.encoding, sizeof f.encoding, "pkcs12");
        f.off = off;
        f.len = len;
        if (k->pkey != NULL) {
            if (k->shrouded)
                dg_strlcpyf(what, sizeof what, "PKCS#12 opened with %s", pass_name(c->sh, pass));
            else
                dg_strlcpyf(what, sizeof what, "PKCS#12 keyBag in clear");
            if (k->name[0] != '\0')
                dg_strlcpyf(what + strlen(what), sizeof what - strlen(what),
                            "; friendly name \"%s\"", k->name);
            prove_into(c->sh, k->pkey, 0, &f, what);
        } else {
            const struct p12_cert *ct = cert_of(&w, k);

            encrypted(&f, DG_SEV_MEDIUM);
            if (ct != NULL)
                f.key = ct->key;
            dg_strlcpyf(f.note, sizeof f.note, "PKCS#12, MAC %s, %s; %s%s%s%s",
                        mac[0] ? mac : "none", k->prot,
                        found                    ? "password known, key not decrypted"
                        : c->sh->p12_pass != NULL ? "password unknown (not p12-pass)"
                                                  : "password unknown",
                        k->name[0] ? "; friendly name \"" : "", k->name,
                        k->name[0] ? "\"" : "");
        }
        dg_strlcpyf(f.preview, sizeof f.preview, "PKCS#12 PFX, %zu bytes, key bag %zu of %zu",
                    len, i + 1, w.n_keys);
        dg_report(sink, &f);
    }
    if (w.n_keys == 0 && w.sealed > 0 && !found) {
        struct dg_finding f;

        memset(&f, 0, sizeof f);
        encrypted(&f, DG_SEV_LOW);
        dg_strlcpyf(f.encoding, sizeof f.encoding, "pkcs12");
        f.off = off;
        f.len = len;
        dg_strlcpyf(f.note, sizeof f.note,
                    "PKCS#12, MAC %s, safes %s; password unknown%s; no key bag readable "
                    "(may be a trust store)",
                    mac[0] ? mac : "none", w.safe_prot, c->sh->p12_pass ? " (not p12-pass)" : "");
        dg_strlcpyf(f.preview, sizeof f.preview, "PKCS#12 PFX, %zu bytes, encrypted safes", len);
        dg_report(sink, &f);
    }
    walk_free(&w);
}

/* Reads a DER TLV header at p[i..n): tag, header length and content length
 * (short, 81, 82, 83 forms). Returns false if it does not fit. */
static bool
tlv(const uint8_t *p, size_t n, size_t i, unsigned tag, size_t *hlen, size_t *len)
{
    size_t l, h = 2;

    if (i + 2 > n || p[i] != tag)
        return false;
    l = p[i + 1];
    if (l & 0x80) {
        size_t k = l & 0x7f;

        if (k == 0 || k > 3 || i + 2 + k > n)
            return false;
        l = 0;
        for (size_t j = 0; j < k; j++)
            l = l << 8 | p[i + 2 + j];
        h += k;
    }
    if (i + h + l > n)
        return false;
    *hlen = h;
    *len = l;
    return true;
}

/* Anchor "02 01 03" at k: the version of a PFX. Returns the chunk index of
 * its end when it decoded, else 0. */
static size_t
at_pfx(struct ctx *c, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    static const uint8_t data_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                       0xf7, 0x0d, 0x01, 0x07, 0x01};
    const uint8_t *p = ch->p;
    size_t n = ch->len, s = 0, hl, l, ah, al, total = 0, pos;
    const unsigned char *q;
    PKCS12 *p12;
    bool found = false;

    /* AuthSafe ContentInfo SEQUENCE right after the version, type data. */
    if (!tlv(p, n, k + 3, 0x30, &ah, &al) || al < sizeof data_oid + 4 ||
        memcmp(p + k + 3 + ah, data_oid, sizeof data_oid) != 0)
        return 0;
    for (size_t h = 2; h <= 5 && h <= k && !found; h++) {
        s = k - h;
        if (tlv(p, n, s, 0x30, &hl, &l) && hl == h && l <= P12_MAX)
            found = true;
    }
    if (!found || s >= ch->owned)
        return 0;
    /* Children: version, authSafe, optional MacData; they fill it exactly. */
    pos = k + 3 + ah + al;
    total = hl + l;
    if (pos < s + total) {
        size_t mh, ml;

        if (!tlv(p, n, pos, 0x30, &mh, &ml) || pos + mh + ml != s + total)
            return 0;
    } else if (pos != s + total) {
        return 0;
    }
    ERR_set_mark();
    q = p + s;
    p12 = d2i_PKCS12(NULL, &q, (long)total);
    if (p12 != NULL && (size_t)(q - (p + s)) == total)
        report_p12(c, p12, ch->off + s, total, sink);
    else
        total = 0;
    PKCS12_free(p12);
    ERR_pop_to_mark();
    return total ? s + total : 0;
}

/* --- JKS / JCEKS -------------------------------------------------------------- */

#define OID_JKS_PROTECTOR "1.3.6.1.4.1.42.2.17.1.1"
#define OID_JCEKS_PROTECTOR "1.3.6.1.4.1.42.2.19.1"

struct rd {
    const uint8_t *p;
    size_t n, pos;
};

static bool
rd_u32(struct rd *r, uint32_t *v)
{
    if (r->n - r->pos < 4)
        return false;
    *v = (uint32_t)r->p[r->pos] << 24 | (uint32_t)r->p[r->pos + 1] << 16 |
         (uint32_t)r->p[r->pos + 2] << 8 | r->p[r->pos + 3];
    r->pos += 4;
    return true;
}

static bool
rd_skip(struct rd *r, size_t len)
{
    if (r->n - r->pos < len)
        return false;
    r->pos += len;
    return true;
}

/* DataInput.readUTF: u2 length, modified UTF-8 (no NUL byte). */
static bool
rd_utf(struct rd *r, const uint8_t **s, size_t *len)
{
    size_t l;

    if (r->n - r->pos < 2)
        return false;
    l = (size_t)r->p[r->pos] << 8 | r->p[r->pos + 1];
    if (r->n - r->pos - 2 < l)
        return false;
    for (size_t i = 0; i < l; i++)
        if (r->p[r->pos + 2 + i] == 0)
            return false;
    *s = r->p + r->pos + 2;
    *len = l;
    r->pos += 2 + l;
    return true;
}

/* u4 length and that many bytes. */
static bool
rd_blob(struct rd *r, const uint8_t **s, size_t *len)
{
    uint32_t l;

    if (!rd_u32(r, &l) || l > r->n - r->pos)
        return false;
    *s = r->p + r->pos;
    *len = l;
    r->pos += l;
    return true;
}

/* Java's password bytes for KeyProtector: each UTF-16 code unit big-endian.
 * Converts UTF-8 s; returns the byte count written to out (size cap), or 0. */
static size_t
utf16be(const char *s, unsigned char *out, size_t cap)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;

    while (*u != '\0') {
        uint32_t cp;
        int extra;

        if (*u < 0x80) {
            cp = *u;
            extra = 0;
        } else if ((*u & 0xe0) == 0xc0) {
            cp = *u & 0x1f;
            extra = 1;
        } else if ((*u & 0xf0) == 0xe0) {
            cp = *u & 0x0f;
            extra = 2;
        } else if ((*u & 0xf8) == 0xf0) {
            cp = *u & 0x07;
            extra = 3;
        } else {
            return 0;
        }
        u++;
        for (int i = 0; i < extra; i++, u++) {
            if ((*u & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (*u & 0x3f);
        }
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            uint32_t hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);

            if (o + 4 > cap)
                return 0;
            out[o++] = (unsigned char)(hi >> 8);
            out[o++] = (unsigned char)hi;
            out[o++] = (unsigned char)(lo >> 8);
            out[o++] = (unsigned char)lo;
        } else {
            if (o + 2 > cap)
                return 0;
            out[o++] = (unsigned char)(cp >> 8);
            out[o++] = (unsigned char)cp;
        }
    }
    return o;
}

/* SHA-1(a || b) into md (20 bytes) with OpenSSL's EVP. */
static bool
sha1_2(EVP_MD_CTX *mc, const EVP_MD *md, const void *a, size_t alen, const void *b,
       size_t blen, unsigned char out[20])
{
    unsigned int ol = 0;

    return EVP_DigestInit_ex(mc, md, NULL) == 1 && EVP_DigestUpdate(mc, a, alen) == 1 &&
           EVP_DigestUpdate(mc, b, blen) == 1 && EVP_DigestFinal_ex(mc, out, &ol) == 1 &&
           ol == 20;
}

/* Recovers a key protected by Sun's KeyProtector (salt(20) || PKCS#8 XOR
 * keystream || SHA-1(pw || PKCS#8)), keystream blocks SHA-1(pw || salt),
 * SHA-1(pw || previous block), ...; checks the integrity digest. Returns the
 * key or NULL (wrong password, damaged blob). */
static EVP_PKEY *
jks_recover(const char *password, const unsigned char *prot, size_t len)
{
    unsigned char pw[2 * PASS_MAX], digest[20], check[20];
    unsigned char *plain = NULL;
    size_t pwlen, klen;
    EVP_MD_CTX *mc = NULL;
    EVP_MD *md = NULL;
    EVP_PKEY *pkey = NULL;
    const unsigned char *q;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    bool ok = true;

    if (len <= 40 || len > KS_MAX_SPAN)
        return NULL;
    pwlen = utf16be(password, pw, sizeof pw);
    if (pwlen == 0 && password[0] != '\0')
        return NULL;
    klen = len - 40;
    ERR_set_mark();
    mc = EVP_MD_CTX_new();
    md = EVP_MD_fetch(NULL, "SHA1", NULL);
    plain = OPENSSL_secure_malloc(klen);
    if (mc == NULL || md == NULL || plain == NULL)
        goto out;
    memcpy(digest, prot, 20);
    for (size_t o = 0; o < klen && ok; o += 20) {
        ok = sha1_2(mc, md, pw, pwlen, digest, 20, digest);
        for (size_t i = 0; i < 20 && o + i < klen; i++)
            plain[o + i] = prot[20 + o + i] ^ digest[i];
    }
    if (!ok || !sha1_2(mc, md, pw, pwlen, plain, klen, check) ||
        CRYPTO_memcmp(check, prot + 20 + klen, 20) != 0)
        goto out;
    q = plain;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)klen);
    if (p8 != NULL)
        pkey = pkey_from_p8(p8);
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (plain != NULL)
        OPENSSL_secure_clear_free(plain, klen);
    OPENSSL_cleanse(pw, sizeof pw);
    OPENSSL_cleanse(digest, sizeof digest);
    EVP_MD_free(md);
    EVP_MD_CTX_free(mc);
    ERR_pop_to_mark();
    return pkey;
}

/* Recovers a JCEKS key protected by Sun's PBEWithMD5AndTripleDES
 * (com.sun.crypto.provider.KeyProtector and PBES1Core): PBEParameter salt(8)
 * and iterations; each salt half (the first reversed when both are equal)
 * is hashed with the password (chars as 7-bit bytes) by MD5, iterated on
 * digest || password; key = 24 bytes, IV = the last 8; DES-EDE3-CBC with
 * PKCS#5 padding over a PKCS#8 PrivateKeyInfo. Returns the key or NULL. */
static EVP_PKEY *
jceks_recover(struct shared *sh, const char *password, const X509_ALGOR *alg,
              const unsigned char *ct, size_t len)
{
    const ASN1_OBJECT *oid;
    int ptype, outl = 0, finl = 0;
    const void *pval;
    PBEPARAM *pbe = NULL;
    unsigned char salt[8], pw[PASS_MAX], dk[32], *plain = NULL;
    size_t pwlen = 0;
    long iter;
    EVP_MD_CTX *mc = NULL;
    EVP_MD *md = NULL;
    EVP_CIPHER *ciph = NULL;
    EVP_CIPHER_CTX *cc = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pkey = NULL;
    const unsigned char *q;
    bool ok = true;

    if (len == 0 || len % 8 != 0 || len > KS_MAX_SPAN)
        return NULL;
    ERR_set_mark();
    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    if (ptype == V_ASN1_SEQUENCE)
        pbe = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBEPARAM));
    if (pbe == NULL || ASN1_STRING_length(pbe->salt) != 8)
        goto out;
    iter = ASN1_INTEGER_get(pbe->iter);
    if (iter <= 0 || iter > KDF_MAX_ITER / 2 || !spend(sh, 2 * iter))
        goto out;
    memcpy(salt, ASN1_STRING_get0_data(pbe->salt), 8);
    if (memcmp(salt, salt + 4, 4) == 0)
        for (int i = 0; i < 2; i++) {
            unsigned char t = salt[i];

            salt[i] = salt[3 - i];
            salt[3 - i] = t;
        }
    for (const char *c = password; *c != '\0' && pwlen < sizeof pw; c++)
        pw[pwlen++] = (unsigned char)(*c & 0x7f);
    mc = EVP_MD_CTX_new();
    md = EVP_MD_fetch(NULL, "MD5", NULL);
    ciph = EVP_CIPHER_fetch(NULL, "DES-EDE3-CBC", NULL);
    cc = EVP_CIPHER_CTX_new();
    plain = OPENSSL_secure_malloc(len + 8);
    if (mc == NULL || md == NULL || ciph == NULL || cc == NULL || plain == NULL)
        goto out;
    for (int half = 0; half < 2 && ok; half++) {
        unsigned char h[16];
        unsigned int hl = 0;

        ok = EVP_DigestInit_ex(mc, md, NULL) == 1 &&
             EVP_DigestUpdate(mc, salt + 4 * half, 4) == 1 &&
             EVP_DigestUpdate(mc, pw, pwlen) == 1 && EVP_DigestFinal_ex(mc, h, &hl) == 1;
        for (long j = 1; j < iter && ok; j++)
            ok = EVP_DigestInit_ex(mc, md, NULL) == 1 && EVP_DigestUpdate(mc, h, 16) == 1 &&
                 EVP_DigestUpdate(mc, pw, pwlen) == 1 && EVP_DigestFinal_ex(mc, h, &hl) == 1;
        memcpy(dk + 16 * half, h, 16);
        OPENSSL_cleanse(h, sizeof h);
    }
    if (!ok || EVP_DecryptInit_ex2(cc, ciph, dk, dk + 24, NULL) != 1 ||
        EVP_DecryptUpdate(cc, plain, &outl, ct, (int)len) != 1 ||
        EVP_DecryptFinal_ex(cc, plain + outl, &finl) != 1)
        goto out;
    q = plain;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)(outl + finl));
    if (p8 != NULL && q == plain + outl + finl)
        pkey = pkey_from_p8(p8);
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (plain != NULL)
        OPENSSL_secure_clear_free(plain, len + 8);
    OPENSSL_cleanse(pw, sizeof pw);
    OPENSSL_cleanse(dk, sizeof dk);
    EVP_CIPHER_CTX_free(cc);
    EVP_CIPHER_free(ciph);
    EVP_MD_free(md);
    EVP_MD_CTX_free(mc);
    PBEPARAM_free(pbe);
    ERR_pop_to_mark();
    return pkey;
}

/* Reports one private-key entry of a JKS/JCEKS store. */
static void
report_jks_entry(struct ctx *c, bool jceks, const uint8_t *alias, size_t alias_len,
                 const uint8_t *prot, size_t prot_len, const struct dg_key *leaf, uint64_t off,
                 size_t len, struct dg_sink *sink)
{
    const char *store = jceks ? "JCEKS" : "JKS";
    const unsigned char *q = prot, *data = NULL;
    X509_SIG *sig;
    const X509_ALGOR *alg = NULL;
    const ASN1_OCTET_STRING *os = NULL;
    const ASN1_OBJECT *oid = NULL;
    char oidtxt[64] = "", how[80], name[48];
    struct dg_finding f;
    EVP_PKEY *pkey = NULL;
    size_t dlen = 0;

    ERR_set_mark();
    sig = d2i_X509_SIG(NULL, &q, (long)prot_len);
    if (sig == NULL || (size_t)(q - prot) != prot_len) {
        X509_SIG_free(sig);
        ERR_pop_to_mark();
        return; /* not a protected key: the structure was a coincidence */
    }
    X509_SIG_get0(sig, &alg, &os);
    X509_ALGOR_get0(&oid, NULL, NULL, alg);
    OBJ_obj2txt(oidtxt, sizeof oidtxt, oid, 1);
    data = ASN1_STRING_get0_data(os);
    dlen = (size_t)ASN1_STRING_length(os);
    if (strcmp(oidtxt, OID_JKS_PROTECTOR) == 0)
        dg_strlcpyf(how, sizeof how, "Sun KeyProtector (SHA-1 keystream XOR)");
    else if (strcmp(oidtxt, OID_JCEKS_PROTECTOR) == 0)
        dg_strlcpyf(how, sizeof how, "Sun PBEWithMD5AndTripleDES");
    else
        describe_pbe(alg, how, sizeof how);

    memset(&f, 0, sizeof f);
    printable(name, sizeof name, alias, alias_len);
    dg_strlcpyf(f.encoding, sizeof f.encoding, "%s", jceks ? "jceks" : "jks");
    f.off = off;
    f.len = len;
    if (c->sh->jks_pass != NULL && strcmp(oidtxt, OID_JKS_PROTECTOR) == 0)
        pkey = jks_recover(c->sh->jks_pass, data, dlen);
    else if (c->sh->jks_pass != NULL && strcmp(oidtxt, OID_JCEKS_PROTECTOR) == 0)
        pkey = jceks_recover(c->sh, c->sh->jks_pass, alg, data, dlen);
    if (pkey != NULL) {
        char what[120];

        dg_strlcpyf(what, sizeof what, "%s entry \"%s\" opened with the jks-pass password",
                    store, name);
        prove_into(c->sh, pkey, 0, &f, what);
        EVP_PKEY_free(pkey);
    } else {
        encrypted(&f, DG_SEV_MEDIUM);
        if (leaf != NULL)
            f.key = *leaf;
        dg_strlcpyf(f.note, sizeof f.note, "%s private-key entry \"%s\", %s; password unknown%s",
                    store, name, how,
                    c->sh->jks_pass != NULL && (strcmp(oidtxt, OID_JKS_PROTECTOR) == 0 ||
                                                strcmp(oidtxt, OID_JCEKS_PROTECTOR) == 0)
                        ? " (not jks-pass)"
                        : "");
    }
    dg_strlcpyf(f.preview, sizeof f.preview, "%s private-key entry, %zu-byte protected key",
                store, prot_len);
    dg_report(sink, &f);
    X509_SIG_free(sig);
    ERR_pop_to_mark();
}

/* Finds the entry after a JCEKS secret-key entry, whose serialized object
 * (ObjectOutputStream, magic ac ed 00 05) has no length: the next offset
 * holding a plausible entry header (tag 1-3, a UTF alias of printable
 * characters, a timestamp between the years 2000 and 2100, and for a private
 * key a protected-key length followed by a DER SEQUENCE). Moves r there and
 * returns true, or returns false. */
static bool
resync_entry(struct rd *r)
{
    const uint8_t *p = r->p;

    size_t end = r->n - r->pos > JCEKS_MAX_SEALED ? r->pos + JCEKS_MAX_SEALED : r->n;

    if (r->n - r->pos < 4 || memcmp(p + r->pos, "\xac\xed\x00\x05", 4) != 0)
        return false;
    for (size_t j = r->pos + 4; j + 16 <= end; j++) {
        size_t al, t;
        uint64_t ms = 0;

        if (p[j] != 0 || p[j + 1] != 0 || p[j + 2] != 0 || p[j + 3] < 1 || p[j + 3] > 3)
            continue;
        al = (size_t)p[j + 4] << 8 | p[j + 5];
        if (al == 0 || al > 255 || j + 6 + al + 8 + 5 > r->n)
            continue;
        t = j + 6;
        while (t < j + 6 + al && p[t] >= 0x20 && p[t] < 0x7f)
            t++;
        if (t != j + 6 + al)
            continue;
        for (int b = 0; b < 8; b++)
            ms = ms << 8 | p[t + (size_t)b];
        if (ms < 946684800000ull || ms > 4102444800000ull)
            continue;
        if (p[j + 3] == 1 && p[t + 8 + 4] != 0x30)
            continue;
        r->pos = j;
        return true;
    }
    return false;
}

/* Anchor "fe ed fe" / "ce ce ce" at k. Returns the end of the walked store, or 0. */
static size_t
at_jks(struct ctx *c, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    struct rd r;
    uint32_t magic, version, count;
    bool jceks;
    size_t reported = 0;

    if (k >= ch->owned || ch->len - k < 16)
        return 0;
    /* The store is read as far as KS_MAX_SPAN, whatever the chunking. */
    r = (struct rd){p + k, ch->len - k < KS_MAX_SPAN ? ch->len - k : KS_MAX_SPAN, 0};
    if (!rd_u32(&r, &magic) || !rd_u32(&r, &version) || !rd_u32(&r, &count))
        return 0;
    if ((magic != 0xfeedfeedu && magic != 0xcecececeu) || (version != 1 && version != 2) ||
        count == 0 || count > JKS_MAX_ENTRIES)
        return 0;
    jceks = magic == 0xcecececeu;
    for (uint32_t e = 0; e < count; e++) {
        size_t start = r.pos, alias_len, prot_len, type_len, cert_len;
        const uint8_t *alias, *prot, *type, *cert;
        uint32_t tag, n_certs;
        struct dg_key leaf;
        bool have_leaf = false;

        if (!rd_u32(&r, &tag) || (tag != 1 && tag != 2 && !(jceks && tag == 3)) ||
            !rd_utf(&r, &alias, &alias_len) || !rd_skip(&r, 8))
            break;
        if (tag == 3) {
            /* A Java-serialized SealedObject: its length is not recorded. */
            if (e + 1 == count || !resync_entry(&r))
                break;
            continue;
        }
        if (tag == 2) {
            if ((version == 2 && !rd_utf(&r, &type, &type_len)) ||
                !rd_blob(&r, &cert, &cert_len))
                break;
            continue;
        }
        if (!rd_blob(&r, &prot, &prot_len) || prot_len < 24 || prot[0] != 0x30 ||
            !rd_u32(&r, &n_certs) || n_certs > JKS_MAX_CERTS)
            break;
        for (uint32_t i = 0; i < n_certs; i++) {
            bool x509 = true;

            if (version == 2) {
                if (!rd_utf(&r, &type, &type_len))
                    break;
                x509 = type_len == 5 && memcmp(type, "X.509", 5) == 0;
            }
            if (!rd_blob(&r, &cert, &cert_len))
                break;
            if (i == 0 && x509)
                have_leaf = cert_identity(cert, cert_len, &leaf);
        }
        report_jks_entry(c, jceks, alias, alias_len, prot, prot_len, have_leaf ? &leaf : NULL,
                         ch->off + k + start, r.pos - start, sink);
        reported++;
    }
    return reported ? k + r.pos : 0;
}

/* --- PuTTY PPK ------------------------------------------------------------------ */

#define PPK_MAGIC "PuTTY-User-Key-File-"
#define PPK_MAGIC_LEN 20

/* A line reader over p[0..n): lines end in LF, a CR before it is dropped. */
struct lines {
    const uint8_t *p;
    size_t n, pos;
};

static bool
next_line(struct lines *ls, const char **s, size_t *len)
{
    size_t i = ls->pos;

    if (i >= ls->n)
        return false;
    while (i < ls->n && ls->p[i] != '\n' && ls->p[i] != '\0')
        i++;
    if (i == ls->n || ls->p[i] != '\n')
        return false; /* a line must end: the text may go on in the next window */
    *s = (const char *)ls->p + ls->pos;
    *len = i - ls->pos;
    if (*len > 0 && (*s)[*len - 1] == '\r')
        (*len)--;
    ls->pos = i + 1;
    return true;
}

/* Matches "Name: value" and returns the value. */
static bool
header(const char *s, size_t len, const char *name, const char **v, size_t *vlen)
{
    size_t nl = strlen(name);

    if (len < nl + 2 || memcmp(s, name, nl) != 0 || s[nl] != ':' || s[nl + 1] != ' ')
        return false;
    *v = s + nl + 2;
    *vlen = len - nl - 2;
    return true;
}

static bool
small_number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (len == 0 || len > 10)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Reads nlines base64 lines and decodes them into a new buffer (*out, *out_len;
 * free with OPENSSL_clear_free). */
static bool
base64_lines(struct lines *ls, unsigned long nlines, unsigned char **out, size_t *out_len)
{
    size_t start = ls->pos, chars = 0, pad = 0;
    unsigned char *txt, *bin;
    const char *s;
    size_t len;
    int dl;

    for (unsigned long i = 0; i < nlines; i++) {
        if (!next_line(ls, &s, &len) || len == 0)
            return false;
        for (size_t j = 0; j < len; j++)
            if (!((s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= 'a' && s[j] <= 'z') ||
                  (s[j] >= '0' && s[j] <= '9') || s[j] == '+' || s[j] == '/' || s[j] == '='))
                return false;
        chars += len;
    }
    if (chars == 0 || chars % 4 != 0)
        return false;
    txt = OPENSSL_malloc(chars + 1);
    bin = OPENSSL_malloc(chars / 4 * 3 + 1);
    if (txt == NULL || bin == NULL) {
        OPENSSL_free(txt);
        OPENSSL_free(bin);
        return false;
    }
    ls->pos = start;
    chars = 0;
    for (unsigned long i = 0; i < nlines; i++) {
        (void)next_line(ls, &s, &len);
        memcpy(txt + chars, s, len);
        chars += len;
    }
    while (pad < 2 && chars > pad && txt[chars - 1 - pad] == '=')
        pad++;
    dl = EVP_DecodeBlock(bin, txt, (int)chars);
    OPENSSL_clear_free(txt, chars + 1);
    if (dl < 0 || (size_t)dl < pad) {
        OPENSSL_clear_free(bin, chars / 4 * 3 + 1);
        return false;
    }
    *out = bin;
    *out_len = (size_t)dl - pad;
    return true;
}

/* Anchor "PuT" at k. Returns the end of the PPK text, or 0. */
static size_t
at_ppk(struct ctx *c, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    struct lines ls;
    const char *s, *v;
    size_t len, vlen, pub_len = 0, priv_len = 0, end;
    unsigned long npub, npriv, mem = 0, passes = 0, par = 0;
    char keytype[48], enc[32] = "", kdf[24] = "", kt2[48];
    unsigned char *pub = NULL, *priv = NULL;
    unsigned version;
    bool have_mac = false;
    struct dg_finding f;
    EVP_PKEY *pk = NULL;
    (void)c;

    if (k >= ch->owned || ch->len - k < PPK_MAGIC_LEN + 4 ||
        memcmp(ch->p + k, PPK_MAGIC, PPK_MAGIC_LEN) != 0)
        return 0;
    end = ch->len - k < PPK_MAX_TEXT ? ch->len : k + PPK_MAX_TEXT;
    ls = (struct lines){ch->p, end, k};
    if (!next_line(&ls, &s, &len) || len < PPK_MAGIC_LEN + 4 ||
        (s[PPK_MAGIC_LEN] != '2' && s[PPK_MAGIC_LEN] != '3') || s[PPK_MAGIC_LEN + 1] != ':' ||
        s[PPK_MAGIC_LEN + 2] != ' ' || len - PPK_MAGIC_LEN - 3 >= sizeof keytype)
        return 0;
    version = (unsigned)(s[PPK_MAGIC_LEN] - '0');
    printable(keytype, sizeof keytype, s + PPK_MAGIC_LEN + 3, len - PPK_MAGIC_LEN - 3);
    if (!next_line(&ls, &s, &len) || !header(s, len, "Encryption", &v, &vlen) ||
        vlen == 0 || vlen >= sizeof enc)
        return 0;
    printable(enc, sizeof enc, v, vlen);
    if (!next_line(&ls, &s, &len) || !header(s, len, "Comment", &v, &vlen))
        return 0;
    if (!next_line(&ls, &s, &len) || !header(s, len, "Public-Lines", &v, &vlen) ||
        !small_number(v, vlen, PPK_MAX_LINES, &npub) || !base64_lines(&ls, npub, &pub, &pub_len))
        return 0;
    for (;;) {
        if (!next_line(&ls, &s, &len))
            goto out;
        if (header(s, len, "Key-Derivation", &v, &vlen))
            printable(kdf, sizeof kdf, v, vlen);
        else if (header(s, len, "Argon2-Memory", &v, &vlen))
            (void)small_number(v, vlen, 0xffffffffu, &mem);
        else if (header(s, len, "Argon2-Passes", &v, &vlen))
            (void)small_number(v, vlen, 0xffffffffu, &passes);
        else if (header(s, len, "Argon2-Parallelism", &v, &vlen))
            (void)small_number(v, vlen, 0xffffffffu, &par);
        else if (header(s, len, "Argon2-Salt", &v, &vlen))
            continue;
        else
            break;
    }
    if (!header(s, len, "Private-Lines", &v, &vlen) ||
        !small_number(v, vlen, PPK_MAX_LINES, &npriv) ||
        !base64_lines(&ls, npriv, &priv, &priv_len))
        goto out;
    {
        size_t before = ls.pos;

        if (next_line(&ls, &s, &len) && header(s, len, "Private-MAC", &v, &vlen))
            have_mac = true;
        else
            ls.pos = before;
    }

    memset(&f, 0, sizeof f);
    dg_strlcpyf(f.encoding, sizeof f.encoding, "ppk-v%u", version);
    dg_strlcpyf(f.text, sizeof f.text, "ascii");
    f.off = ch->off + k;
    f.len = ls.pos - k;
    if (strcmp(enc, "none") == 0) {
        unsigned flags = 0;
        dg_err rc = openssh_ppk_private(pub, pub_len, priv, priv_len, kt2, sizeof kt2, &pk,
                                        &flags);
        char what[96];

        dg_strlcpyf(what, sizeof what, "PuTTY PPK v%u %s, unencrypted%s", version, keytype,
                    have_mac ? "" : ", Private-MAC line missing");
        if (rc == DG_OK) {
            prove_into(c->sh, pk, flags, &f, what);
            if (f.status == DG_STATUS_CONFIRMED)
                f.note[0] = '\0';
        } else {
            EVP_PKEY *pubkey = NULL;

            f.status = DG_STATUS_CANDIDATE;
            f.severity = DG_SEV_MEDIUM;
            dg_strlcpyf(f.type, sizeof f.type, "private-key");
            dg_strlcpyf(f.note, sizeof f.note, "%s; %s", what,
                        rc == DG_E_UNSUPPORTED ? "key type not rebuilt here"
                                               : "private fields do not parse");
            if (openssh_public_blob(pub, pub_len, kt2, sizeof kt2, &pubkey) == DG_OK)
                keyproof_identity(pubkey, &f.key);
            EVP_PKEY_free(pubkey);
        }
    } else {
        EVP_PKEY *pubkey = NULL;

        encrypted(&f, DG_SEV_MEDIUM);
        if (version == 3 && kdf[0] != '\0')
            dg_strlcpyf(f.note, sizeof f.note,
                        "PuTTY PPK v3 %s, %s, KDF %s (memory %lu KiB, %lu passes, "
                        "parallelism %lu)",
                        keytype, enc, kdf, mem, passes, par);
        else
            dg_strlcpyf(f.note, sizeof f.note, "PuTTY PPK v%u %s, %s, KDF %s", version, keytype,
                        enc, version == 2 ? "SHA-1 of the passphrase" : "unknown");
        if (openssh_public_blob(pub, pub_len, kt2, sizeof kt2, &pubkey) == DG_OK)
            keyproof_identity(pubkey, &f.key);
        EVP_PKEY_free(pubkey);
    }
    dg_strlcpyf(f.preview, sizeof f.preview, "PuTTY-User-Key-File-%u: %s [%zu lines, redacted]",
                version, keytype, (size_t)(npub + npriv));
    dg_report(sink, &f);
    EVP_PKEY_free(pk);
    OPENSSL_clear_free(pub, pub_len);
    OPENSSL_clear_free(priv, priv_len);
    return ls.pos;
out:
    OPENSSL_clear_free(pub, pub_len);
    OPENSSL_clear_free(priv, priv_len);
    return 0;
}

/* --- scan ------------------------------------------------------------------------- */

static size_t
probe(struct ctx *c, const struct dg_chunk *ch, size_t k, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;

    if (k + 3 > ch->len)
        return 0;
    switch (p[k]) {
    case 0x02:
        return p[k + 1] == 0x01 && p[k + 2] == 0x03 ? at_pfx(c, ch, k, sink) : 0;
    case 0xfe:
    case 0xce:
        return at_jks(c, ch, k, sink);
    case 'P':
        return at_ppk(c, ch, k, sink);
    default:
        return 0;
    }
}

/* True if one of the anchors below starts at p (reads p[0..3)). */
static inline bool
is_anchor(const uint8_t *p)
{
    uint8_t a = p[0], b = p[1], d = p[2];

    return (a == 0x02 && b == 0x01 && d == 0x03) || (a == 0xfe && b == 0xed && d == 0xfe) ||
           (a == 0xce && b == 0xce && d == 0xce) || (a == 'P' && b == 'u' && d == 'T');
}

/* The anchors starting at p[0..16): 02 01 03 (a PFX's version), fe ed fe
 * (JKS), ce ce ce (JCEKS), "PuT" (PuTTY). Reads p[0..18). */
static inline uint32_t
anchors16(const uint8_t *p)
{
#ifdef __SSE2__
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
    __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(p + 2));
    __m128i m = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8(0x02)),
                                            _mm_cmpeq_epi8(b, _mm_set1_epi8(0x01))),
                              _mm_cmpeq_epi8(d, _mm_set1_epi8(0x03)));

    m = _mm_or_si128(m, _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8((char)0xfe)),
                                                    _mm_cmpeq_epi8(b, _mm_set1_epi8((char)0xed))),
                                      _mm_cmpeq_epi8(d, _mm_set1_epi8((char)0xfe))));
    m = _mm_or_si128(m, _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8((char)0xce)),
                                                    _mm_cmpeq_epi8(b, _mm_set1_epi8((char)0xce))),
                                      _mm_cmpeq_epi8(d, _mm_set1_epi8((char)0xce))));
    m = _mm_or_si128(m, _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('P')),
                                                    _mm_cmpeq_epi8(b, _mm_set1_epi8('u'))),
                                      _mm_cmpeq_epi8(d, _mm_set1_epi8('T'))));
    return (uint32_t)_mm_movemask_epi8(m);
#else
    uint32_t m = 0;

    for (unsigned i = 0; i < 16; i++)
        m |= (unsigned)is_anchor(p + i) << i;
    return m;
#endif
}

#if DG_HAVE_AVX2
/* anchors16() for p[0..32). Reads p[0..34). */
DG_TARGET_AVX2 static inline uint32_t
anchors32(const uint8_t *p)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
    __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(p + 2));
    __m256i m = _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8(0x02)),
                                                  _mm256_cmpeq_epi8(b, _mm256_set1_epi8(0x01))),
                                 _mm256_cmpeq_epi8(d, _mm256_set1_epi8(0x03)));

    m = _mm256_or_si256(m, _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8((char)0xfe)),
                                                             _mm256_cmpeq_epi8(b, _mm256_set1_epi8((char)0xed))),
                                            _mm256_cmpeq_epi8(d, _mm256_set1_epi8((char)0xfe))));
    m = _mm256_or_si256(m, _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8((char)0xce)),
                                                             _mm256_cmpeq_epi8(b, _mm256_set1_epi8((char)0xce))),
                                            _mm256_cmpeq_epi8(d, _mm256_set1_epi8((char)0xce))));
    m = _mm256_or_si256(m, _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8('P')),
                                                             _mm256_cmpeq_epi8(b, _mm256_set1_epi8('u'))),
                                            _mm256_cmpeq_epi8(d, _mm256_set1_epi8('T'))));
    return (uint32_t)_mm256_movemask_epi8(m);
}
#endif

/* Probes every anchor that mask_at() finds in blocks of step positions from
 * i while the block's bytes are in the chunk; returns where it stopped. Kept
 * inline so that each caller has its own copy with mask_at() inlined. */
static inline __attribute__((always_inline)) size_t
scan_blocks(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
            size_t *covered, uint32_t (*mask_at)(const uint8_t *), size_t step)
{
    for (; i < end && i + step + 2 <= ch->len; i += step)
        for (uint32_t mask = mask_at(ch->p + i); mask != 0; mask &= mask - 1) {
            size_t k = i + (size_t)__builtin_ctz(mask);

            if (k >= end)
                break;
            if (k >= *covered) {
                size_t e = probe(c, ch, k, sink);

                if (e > *covered)
                    *covered = e;
            }
        }
    return i;
}

static size_t
scan_blocks16(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
              size_t *covered)
{
    return scan_blocks(c, ch, sink, i, end, covered, anchors16, 16);
}

#if DG_HAVE_AVX2
DG_TARGET_AVX2 static size_t
scan_blocks32(struct ctx *c, const struct dg_chunk *ch, struct dg_sink *sink, size_t i, size_t end,
              size_t *covered)
{
    return scan_blocks(c, ch, sink, i, end, covered, anchors32, 32);
}
#endif

static dg_err
ks_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct ctx *c = ctx;
    size_t i = 0, covered = 0;
    /* A PFX anchor (its version) lies up to 5 bytes after the start. */
    size_t end = ch->owned + 5 < ch->len ? ch->owned + 5 : ch->len;

    if (ch->hits != NULL) { /* the engine found the anchors */
        struct dg_hit_iter it = {0};

        for (size_t k; (k = dg_hits_next(ch, &it)) < end;)
            if (k + 2 < ch->len && is_anchor(ch->p + k) && k >= covered) {
                size_t e = probe(c, ch, k, sink);

                if (e > covered)
                    covered = e;
            }
        return DG_OK;
    }
#if DG_HAVE_AVX2
    if (dg_cpu_avx2())
        i = scan_blocks32(c, ch, sink, i, end, &covered);
#endif
    i = scan_blocks16(c, ch, sink, i, end, &covered);
    for (; i < end && i + 2 < ch->len; i++)
        if (is_anchor(ch->p + i) && i >= covered) {
            size_t e = probe(c, ch, i, sink);

            if (e > covered)
                covered = e;
        }
    return DG_OK;
}

static const char *const keystore_options[] = {"p12-pass", "jks-pass", NULL};

/* is_anchor()'s strings */
static const struct dg_trigger triggers[] = {
    {3, {0x02, 0x01, 0x03}, 0}, {3, {0xfe, 0xed, 0xfe}, 0}, {3, {0xce, 0xce, 0xce}, 0},
    {3, {'P', 'u', 'T'}, 0},    {0, {0}, 0},
};

const struct dg_detector dg_detector_keystore = {
    .abi = DG_DETECTOR_ABI,
    .name = "keystore",
    .summary = "key stores: PKCS#12/PFX (opened with an empty or given password), Java JKS and "
               "JCEKS private-key entries, PuTTY PPK v2/v3; proven with OpenSSL, named by "
               "certificate or public key when encrypted",
    .forms = forms,
    .severity = DG_SEV_HIGH,
    .max_span = KS_MAX_SPAN,
    .flags = DG_DET_BINARY | DG_DET_TEXT,
    .default_on = true,
    .create = ks_create,
    .init = ks_init,
    .scan = ks_scan,
    .release = ks_release,
    .finish = ks_finish,
    .destroy = ks_destroy,
    .options = keystore_options,
    .triggers = triggers,
};
