/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * certs.c - the `certs` detector: X.509 certificates in DER, which are public
 * and never findings, collected so that a private key found in the same dump
 * is named after its certificate ("private half of the certificate
 * /CN=signer at offset N of this dump").
 *
 * Anchors on the explicit version of a v3 TBSCertificate (a0 03 02 01 02,
 * found 32 positions at a time by pattern.h),
 * right after the TBSCertificate's SEQUENCE header, itself after the
 * Certificate's or bare (what OpenSSL keeps of a loaded certificate); the
 * TBSCertificate is walked to its subject and SubjectPublicKeyInfo, whose
 * spki_sha256 keyproof_spki_sha256() gives (most without decoding the key);
 * an RSA-PSS key's certificate is reported under the key's rsaEncryption
 * name too (keyproof_rsa_alias()), which its private half found as raw
 * numbers carries. Reports through dg_report_public() only.
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <dumpgate/detector.h>

#include "../scanner/proof/keyproof.h"
#include "../scanner/util/pattern.h"

#define CERT_MAX_SPAN (16u << 10) /* the largest certificate decoded */

/* The DER of id-RSASSA-PSS (1.2.840.113549.1.1.10), an SPKI's algorithm. */
static const uint8_t pss_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};

/* The rsaEncryption name of the RSA-PSS key in the SubjectPublicKeyInfo
 * spki[0..len), into alias; false for any other key. */
static bool
pss_alias(const unsigned char *spki, long len, char alias[65])
{
    const unsigned char *p = spki;
    EVP_PKEY *pkey;
    bool ok;

    if (memmem(spki, (size_t)len < 32 ? (size_t)len : 32, pss_oid, sizeof pss_oid) == NULL)
        return false; /* the algorithm comes first: within the first 32 bytes */
    if ((pkey = d2i_PUBKEY(NULL, &p, len)) == NULL)
        return false;
    ok = keyproof_rsa_alias(pkey, alias) == DG_OK;
    EVP_PKEY_free(pkey);
    return ok;
}

static const char *const forms[] = {"x509-der", NULL};

/* Length of a DER SEQUENCE header at p (2, 3 or 4 bytes) and its content
 * length; 0 if p is not a definite-length SEQUENCE header. */
static size_t
seq_header(const uint8_t *p, size_t avail, size_t *content)
{
    if (avail < 2 || p[0] != 0x30)
        return 0;
    if (p[1] < 0x80) {
        *content = p[1];
        return 2;
    }
    if (p[1] == 0x81 && avail >= 3) {
        *content = p[2];
        return 3;
    }
    if (p[1] == 0x82 && avail >= 4) {
        *content = (size_t)p[2] << 8 | p[3];
        return 4;
    }
    return 0;
}

/* Tries a TBSCertificate at chunk index s, a whole certificate's or a bare
 * one (OpenSSL caches the certificate's to-be-signed part, not the whole
 * certificate): walks version, serial, signature algorithm, issuer,
 * validity, subject and the SubjectPublicKeyInfo with ASN1_get_object and
 * names the public key, at chunk index at (the certificate's start). */
static void
try_tbs(const struct dg_chunk *ch, size_t s, size_t at, struct dg_sink *sink)
{
    const unsigned char *p = ch->p + s, *end, *subj = NULL, *spki = NULL;
    long len, subj_len = 0, spki_len = 0;
    int tag, cls;
    size_t avail = ch->len - s < CERT_MAX_SPAN ? ch->len - s : CERT_MAX_SPAN;
    char subject[96] = "", what[120], hash[65];
    X509_NAME *nm;

    ERR_set_mark();
    if ((ASN1_get_object(&p, &len, &tag, &cls, (long)avail) & 0x80) || tag != V_ASN1_SEQUENCE ||
        (size_t)(p - (ch->p + s)) + (size_t)len > avail)
        goto out;
    end = p + len;
    for (int k = 0; k < 7 && p < end; k++) {
        const unsigned char *elem = p;
        long l;

        if (ASN1_get_object(&p, &l, &tag, &cls, end - p) & 0x80)
            goto out;
        if (k == 5) {
            subj = elem;
            subj_len = (long)(p - elem) + l;
        } else if (k == 6) {
            spki = elem;
            spki_len = (long)(p - elem) + l;
        }
        p += l;
    }
    if (spki == NULL || keyproof_spki_sha256(spki, (size_t)spki_len, hash) != DG_OK)
        goto out;
    if ((nm = d2i_X509_NAME(NULL, &subj, subj_len)) != NULL) {
        X509_NAME_oneline(nm, subject, sizeof subject);
        X509_NAME_free(nm);
    }
    for (char *c = subject; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            *c = '?';
    dg_strlcpyf(what, sizeof what, "certificate %s", subject);
    dg_report_public(sink, hash, what, ch->off + at);
    if (pss_alias(spki, spki_len, hash))
        dg_report_public(sink, hash, what, ch->off + at);
out:
    ERR_pop_to_mark();
}

/* The explicit version of a v3 TBSCertificate. */
static const uint8_t v3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};

/* The certificate whose TBSCertificate's version is at i: a Certificate
 * header (2-4 bytes) + TBSCertificate header (2-4 bytes), or a bare
 * TBSCertificate (2-4 bytes). A whole certificate is named by its
 * TBSCertificate as a bare one is (its key decoded once, not again as d2i_X509
 * and as the TBSCertificate inside), at the certificate's offset. */
static void
at_version(const struct dg_chunk *ch, size_t i, struct dg_sink *sink)
{
    const uint8_t *p = ch->p;
    size_t hl, hl2, outer, inner;

    if (ch->len - i < sizeof v3 || memcmp(p + i, v3, sizeof v3) != 0)
        return;
    for (size_t back = 8; back >= 4; back--) { /* the whole certificate first */
        size_t s = i - back;

        if (i < back || s >= ch->owned || p[s] != 0x30)
            continue;
        hl = seq_header(p + s, ch->len - s, &outer);
        if (hl == 0 || hl >= back || hl + outer > ch->len - s || hl + outer > CERT_MAX_SPAN)
            continue;
        hl2 = seq_header(p + s + hl, ch->len - s - hl, &inner);
        if (hl2 == 0 || hl + hl2 != back || hl2 + inner > outer)
            continue;
        try_tbs(ch, s + hl, s, sink);
        return;
    }
    for (size_t back = 4; back >= 2; back--) { /* a bare TBSCertificate */
        size_t s = i - back;

        if (i < back || s >= ch->owned || seq_header(p + s, ch->len - s, &inner) != back)
            continue;
        try_tbs(ch, s, s, sink);
        return;
    }
}

#if DG_HAVE_AVX2
/* The versions from i on, 32 positions at a time while their bytes are in
 * the chunk; returns where it stopped. */
DG_TARGET_AVX2 static size_t
scan_avx2(const struct dg_chunk *ch, size_t i, struct dg_sink *sink)
{
    for (; i + 32 + sizeof v3 <= ch->len; i += 32)
        for (uint32_t m = pattern_mask32(ch->p + i, v3, sizeof v3); m != 0; m &= m - 1)
            at_version(ch, i + (size_t)__builtin_ctz(m), sink);
    return i;
}
#endif

static dg_err
certs_scan(void *ctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    const uint8_t *p = ch->p, *end = ch->p + ch->len, *q;
    size_t i = 0;

    (void)ctx;
    if (ch->hits != NULL) { /* the engine found the versions' first bytes */
        struct dg_hit_iter it = {0};

        for (size_t k; (k = dg_hits_next(ch, &it)) != SIZE_MAX;)
            at_version(ch, k, sink);
        return DG_OK;
    }
#if DG_HAVE_AVX2
    if (dg_cpu_avx2())
        i = scan_avx2(ch, i, sink);
#endif
    for (q = p + i; (q = memchr(q, 0xa0, (size_t)(end - q))) != NULL; q++)
        at_version(ch, (size_t)(q - p), sink);
    return DG_OK;
}

/* v3's first bytes (at_version() compares the rest) */
static const struct dg_trigger triggers[] = {{3, {0xa0, 0x03, 0x02}, 0}, {0, {0}, 0}};

const struct dg_detector dg_detector_certs = {
    .abi = DG_DETECTOR_ABI,
    .name = "certs",
    .summary = "X.509 certificates (public, never findings): collected to name the private "
               "keys found in the same dump",
    .forms = forms,
    .severity = DG_SEV_NONE,
    .max_span = CERT_MAX_SPAN,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .scan = certs_scan,
    .triggers = triggers,
};
