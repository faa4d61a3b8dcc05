/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * sshkey.c - finds OpenSSH private keys that are "shielded" in memory (ssh-agent,
 * ssh, sshd of OpenSSH 8.2 and later) and unshields them with the prekey that
 * sits in the same process.
 *
 * OpenSSH's sshkey_shield_private() (openssh-portable sshkey.c) serialises the
 * private key as sshkey_private_serialize() does (string keytype, then the
 * type's fields), pads it with bytes 1, 2, 3, ... to the AES block, encrypts
 * it with AES-256-CTR under key = SHA-512(prekey)[0..32) and IV =
 * SHA-512(prekey)[32..48) of a random 16 KiB prekey, and keeps in the last four
 * members of struct sshkey: u_char *shielded_private, size_t shielded_len,
 * u_char *shield_prekey, size_t shield_prekey_len (= 16384). The rest of the
 * struct is a public-only copy of the key.
 *
 * scan() looks, in 64-bit little-endian dumps with an address map, for that
 * 32-byte tail at 8-aligned addresses: two plausible user pointers, a length
 * that is a multiple of 16 below 64 KiB, and 16384. finish() reads the blob and
 * the prekey through the dump's address map (dg_dump_read_va), derives key and
 * IV, decrypts, checks the padding, rebuilds the key with
 * openssh_private_serial() and proves it with keyproof_prove(). When the
 * prekey cannot be read (OpenSSH 9.9 and later map it with MADV_DONTDUMP, a
 * truncated core, a stream past its head) and the struct's head matches a known
 * OpenSSH layout, the key is reported as a low candidate that says why (at
 * the blob; at the struct's tail when the blob itself lies past a stream's
 * kept head); for Ed25519 the struct's clear public key names it. A blob that
 * is unreadable or zeroed (freed) and a tail without a known struct head are
 * not reported. The layouts (offsets of the
 * members before shielded_private) are those of 8.2-9.8, 9.9-10.0, 10.1-10.3
 * and 10.4 and later. Every buffer that held the prekey, the derived key or
 * the plaintext is cleansed. Candidates and reads are capped per dump.
 * Findings never carry key bytes.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <dumpgate/detector.h>

#include "../scanner/formats/openssh.h"
#include "../scanner/proof/keyproof.h"
#include "../scanner/util/chunkva.h"
#include "../scanner/util/simd.h"
#include "../scanner/util/words.h"

#define PREKEY_LEN 16384u        /* SSHKEY_SHIELD_PREKEY_LEN */
#define BLOCK 16u                /* AES block: shielded_len is a multiple */
#define MAX_BLOB 65536u          /* larger shielded blobs are not keys we know */
#define TAIL 32u                 /* shielded_private .. shield_prekey_len */
#define MAX_CANDS 4096u          /* struct candidates per dump */
#define MAX_CHUNK_CANDS 256u     /* per chunk */
#define MAX_UNSHIELD 1024u       /* prekey reads (16 KiB each) and decryptions per dump */
#define MAX_HEAD 136u            /* struct bytes before shielded_private, at most */

/* One struct sshkey layout: offsets from the start of the struct. */
struct layout {
    const char *versions;   /* OpenSSH releases that have it */
    unsigned shield_off;    /* offset of shielded_private */
    unsigned nid_off;       /* int ecdsa_nid */
    unsigned edsk_off;      /* u_char *ed25519_sk */
    unsigned edpk_off;      /* u_char *ed25519_pk */
    int key_rsa, key_dsa, key_ecdsa, key_ed25519; /* enum sshkey_types; -1 if absent */
    int key_last;           /* highest type value other than KEY_UNSPEC */
};

static const struct layout layouts[] = {
    /* int type, flags; RSA *; DSA *; int nid; EC_KEY *; ed25519 sk, pk; 5 xmss; sk_* x4; cert */
    {"8.2-9.8", 136, 24, 40, 48, 0, 1, 2, 3, 13},
    /* int type, flags; DSA *; int nid; EVP_PKEY *; ed25519 sk, pk; 5 xmss; sk_* x4; cert */
    {"9.9-10.0", 128, 16, 32, 40, 0, 1, 2, 3, 13},
    /* int type, flags, nid; EVP_PKEY *; ed25519 sk, pk; sk_* x4; cert */
    {"10.1-10.3", 80, 8, 24, 32, 0, -1, 1, 2, 9},
    /* as 10.1, plus mldsa_ed25519 sk, pk after ed25519 pk */
    {"10.4+", 96, 8, 24, 32, 0, -1, 1, 2, 11},
};
#define N_LAYOUTS (sizeof layouts / sizeof layouts[0])

/* The tail of a struct sshkey candidate. */
struct cand {
    uint64_t va;            /* vaddr of shielded_private */
    uint64_t off;           /* its file offset */
    uint64_t blob_va;       /* shielded_private */
    uint64_t prekey_va;     /* shield_prekey */
    uint32_t blob_len;      /* shielded_len */
};

struct sk_shared {
    pthread_mutex_t lock;
    struct cand *cands;
    size_t n_cands;
    bool capped;
    const struct dg_proof_policy *proof; /* the scan's, for keyproof_prove() */
};

struct sk_ctx {
    struct sk_shared *sh;
    struct cand local[MAX_CHUNK_CANDS];
    size_t n_local;
};

/* ---- scan ---- */

/* True if the 32 bytes at p are a plausible shielded tail. */
static inline bool
shield_tail(const uint8_t *p, struct cand *c)
{
    uint64_t blob = load_le64(p), len = load_le64(p + 8), prekey = load_le64(p + 16);

    if (len < BLOCK || len > MAX_BLOB || len % BLOCK != 0 || !user_pointer(blob) ||
        !user_pointer(prekey) || blob == prekey)
        return false;
    c->blob_va = blob;
    c->blob_len = (uint32_t)len;
    c->prekey_va = prekey;
    return true;
}

#if DG_HAVE_AVX2
/* The first x' >= x, in steps of 64, that may start a group of eight 8-byte
 * positions one of which has PREKEY_LEN 24 bytes on: groups of none are
 * skipped while they lie in the owned part and their words in the chunk. */
DG_TARGET_AVX2 static size_t
skip_avx2(const struct dg_chunk *ch, size_t x)
{
    const __m256i want = _mm256_set1_epi64x((long long)PREKEY_LEN);

    for (; x + 64 <= ch->owned && x + 24 + 64 <= ch->len; x += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(ch->p + x + 24));
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(ch->p + x + 56));
        __m256i m = _mm256_or_si256(_mm256_cmpeq_epi64(a, want), _mm256_cmpeq_epi64(b, want));

        if (!_mm256_testz_si256(m, m))
            break;
    }
    return x;
}
#endif

/* The candidate whose anchor (PREKEY_LEN) is at ch->p + x + 24, kept in
 * c->local when its tail is plausible and it has an address. False when
 * c->local is full. */
static bool
take(struct sk_ctx *c, const struct dg_chunk *ch, size_t x)
{
    struct cand cd;
    const struct dg_region *rx;

    if (load_le64(ch->p + x + 24) != PREKEY_LEN || !shield_tail(ch->p + x, &cd))
        return true;
    cd.off = ch->off + x;
    rx = dg_dump_region_at(ch->dump, cd.off);
    if (rx == NULL || !rx->has_va)
        return true;
    cd.va = rx->va + (cd.off - rx->off);
    if (c->n_local >= MAX_CHUNK_CANDS)
        return false;
    c->local[c->n_local++] = cd;
    return true;
}

static dg_err
sk_scan(void *vctx, const struct dg_chunk *ch, struct dg_sink *sink)
{
    struct sk_ctx *c = vctx;
    struct sk_shared *sh = c->sh;
    bool capped = false;
    size_t x, a = chunk_phase(ch);
#if DG_HAVE_AVX2
    bool avx2 = dg_cpu_avx2();
#endif

    (void)sink;
    /* Pointers can only be followed through an address map, and the layout
     * is that of 64-bit little-endian processes. */
    if (dg_dump_va_count(ch->dump) == 0 || dg_dump_big_endian(ch->dump) ||
        (dg_dump_word_size(ch->dump) != 0 && dg_dump_word_size(ch->dump) != 8))
        return DG_OK;
    c->n_local = 0;
    /* Anchor: shield_prekey_len == 16384, 24 bytes after an 8-aligned start:
     * where the engine found its first three bytes (the trigger), or else
     * found here. */
    if (ch->hits != NULL) {
        struct dg_hit_iter it = {0};

        for (size_t k; !capped && (k = dg_hits_next(ch, &it)) != SIZE_MAX;) {
            if (k < a + 24 || (k - a) % 8 != 0)
                continue;
            x = k - 24;
            if (x >= ch->owned || x + TAIL > ch->len)
                break;
            capped = !take(c, ch, x);
        }
    }
    for (x = a; ch->hits == NULL && !capped && x < ch->owned && x + TAIL <= ch->len; x += 8) {
#if DG_HAVE_AVX2
        /* Eight positions at a time until a group has the anchor. */
        if (avx2 && ((x = skip_avx2(ch, x)) >= ch->owned || x + TAIL > ch->len))
            break;
#endif
#ifdef __SSE2__
        /* Four positions at a time until one has the anchor. */
        if (x + 32 <= ch->owned && x + 24 + 64 <= ch->len) {
            const __m128i want = _mm_set_epi32(0, (int)PREKEY_LEN, 0, (int)PREKEY_LEN);
            __m128i va = _mm_loadu_si128((const __m128i *)(const void *)(ch->p + x + 24));
            __m128i vb = _mm_loadu_si128((const __m128i *)(const void *)(ch->p + x + 40));
            unsigned ma = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi32(va, want));
            unsigned mb = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi32(vb, want));

            if ((ma & 0xff) != 0xff && (ma >> 8) != 0xff && (mb & 0xff) != 0xff &&
                (mb >> 8) != 0xff) {
                x += 24; /* and 8 more by the loop */
                continue;
            }
        }
#endif
        capped = !take(c, ch, x);
    }
    if (c->n_local == 0 && !capped)
        return DG_OK;
    pthread_mutex_lock(&sh->lock);
    for (size_t i = 0; i < c->n_local; i++) {
        if (sh->n_cands >= MAX_CANDS) {
            capped = true;
            break;
        }
        sh->cands[sh->n_cands++] = c->local[i];
    }
    sh->capped |= capped;
    pthread_mutex_unlock(&sh->lock);
    return DG_OK;
}

/* ---- finish ---- */

/* What the struct head says, when it matches a known layout. */
struct head {
    const struct layout *lay; /* NULL when no layout matched */
    int type;                 /* enum sshkey_types value */
    int nid;                  /* ecdsa_nid */
    uint64_t edpk_va;         /* ed25519_pk, 0 if none */
};

static bool
nid_ok(int nid)
{
    return nid == -1 || nid == 415 || nid == 715 || nid == 716; /* P-256, P-384, P-521 */
}

/* Reads the struct before cd's tail and matches it against each layout. */
static void
read_head(const struct dg_dump *dump, const struct cand *cd, struct head *h)
{
    uint8_t b[MAX_HEAD];

    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < N_LAYOUTS; i++) {
        const struct layout *L = &layouts[i];
        int type, flags, nid;
        uint64_t edsk, edpk;
        bool ok = true;

        if (cd->va < L->shield_off ||
            dg_dump_read_va(dump, cd->va - L->shield_off, b, L->shield_off) != DG_OK)
            continue;
        type = (int32_t)load_le32(b);
        flags = (int32_t)load_le32(b + 4);
        nid = (int32_t)load_le32(b + L->nid_off);
        edsk = load_le64(b + L->edsk_off);
        edpk = load_le64(b + L->edpk_off);
        /* Every pointer-sized member between flags and shielded_private is NULL
         * or a user pointer (the nid slot holds an int and padding). */
        for (unsigned o = 8; o < L->shield_off && ok; o += 8) {
            uint64_t v = load_le64(b + o);

            if (o == (L->nid_off & ~7u))
                continue;
            /* sk_flags is a uint8_t followed by padding */
            ok = v == 0 || user_pointer(v) || (o == L->shield_off - 32 && v < 0x100);
        }
        /* A shielded struct is a public-only copy: no ed25519_sk. A plain
         * ECDSA key names its curve, a plain Ed25519 key has its public key. */
        if (!ok || type < 0 || type > L->key_last || flags < 0 || flags > 0xff || !nid_ok(nid) ||
            edsk != 0 || (type == L->key_ecdsa && nid == -1) ||
            (type == L->key_ed25519 && (edpk == 0 || nid != -1)) ||
            (type == L->key_rsa && nid != -1))
            continue;
        h->lay = L;
        h->type = type;
        h->nid = nid;
        h->edpk_va = type == L->key_ed25519 ? edpk : 0;
        return;
    }
}

/* The finding type of an SSH key type name (certificates: their key's). */
static const char *
finding_type(const char *keytype)
{
    if (strncmp(keytype, "ssh-ed25519", 11) == 0)
        return "ed25519-private-key";
    if (strncmp(keytype, "ssh-rsa", 7) == 0)
        return "rsa-private-key";
    if (strncmp(keytype, "ecdsa-sha2-", 11) == 0)
        return "ec-private-key";
    if (strncmp(keytype, "ssh-dss", 7) == 0)
        return "dsa-private-key";
    return "private-key";
}

static const char *
head_type(const struct head *h)
{
    if (h->lay == NULL)
        return "private-key";
    if (h->type == h->lay->key_ed25519)
        return "ed25519-private-key";
    if (h->type == h->lay->key_rsa)
        return "rsa-private-key";
    if (h->type == h->lay->key_ecdsa)
        return "ec-private-key";
    if (h->type == h->lay->key_dsa)
        return "dsa-private-key";
    return "private-key";
}

/* Fills the place of the finding: the shielded blob. */
static bool
place(const struct dg_dump *dump, const struct cand *cd, struct dg_finding *f)
{
    const struct dg_region *r = dg_dump_region_at_va(dump, cd->blob_va);

    if (r == NULL)
        return false;
    f->off = r->off + (cd->blob_va - r->va);
    f->len = cd->blob_len;
    dg_strlcpyf(f->encoding, sizeof f->encoding, "ssh-shielded");
    return true;
}

/* Decrypts blob[0..len) in place with AES-256-CTR under key and IV from
 * SHA-512(prekey). Returns false on an OpenSSL failure. */
static bool
unshield(const uint8_t *prekey, uint8_t *blob, size_t len)
{
    uint8_t keyiv[64];
    unsigned int klen = 0;
    EVP_CIPHER_CTX *cx = NULL;
    int outl = 0, fin = 0;
    bool ok = false;

    if (EVP_Digest(prekey, PREKEY_LEN, keyiv, &klen, EVP_sha512(), NULL) != 1 || klen != 64)
        goto out;
    cx = EVP_CIPHER_CTX_new();
    /* cipher_keylen("aes256-ctr") = 32 bytes of key, then ivlen = 16 bytes of IV */
    if (cx == NULL || EVP_DecryptInit_ex(cx, EVP_aes_256_ctr(), NULL, keyiv, keyiv + 32) != 1 ||
        EVP_DecryptUpdate(cx, blob, &outl, blob, (int)len) != 1 ||
        EVP_DecryptFinal_ex(cx, blob + outl, &fin) != 1 || (size_t)(outl + fin) != len)
        goto out;
    ok = true;
out:
    EVP_CIPHER_CTX_free(cx);
    OPENSSL_cleanse(keyiv, sizeof keyiv);
    return ok;
}

/* True if p[0..n) is OpenSSH's padding 1, 2, 3, ... and shorter than a block. */
static bool
padding_ok(const uint8_t *p, size_t n)
{
    if (n >= BLOCK)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(i + 1))
            return false;
    return true;
}

/* True if the blob looks like ciphertext rather than freed or zeroed memory. */
static bool
looks_encrypted(const uint8_t *p, size_t n)
{
    size_t zeros = 0;

    for (size_t i = 0; i < n; i++)
        zeros += p[i] == 0;
    return zeros <= n / 16 + 2;
}

/* The outcome of unshielding one candidate. */
enum outcome { OUT_NONE, OUT_REPORTED, OUT_NO_PREKEY, OUT_GARBLED };

/* Unshields cd with the prekey read from the dump and reports the key.
 * blob holds the ciphertext and is decrypted in place. */
static enum outcome
try_unshield(const struct dg_proof_policy *pol, const struct dg_dump *dump, const struct cand *cd,
             uint8_t *blob, uint8_t *prekey, struct dg_sink *sink, dg_err *read_rc)
{
    struct dg_finding f;
    char kt[64];
    EVP_PKEY *pk = NULL;
    unsigned flags = 0;
    size_t used = 0;
    enum outcome res = OUT_GARBLED;
    dg_err rc;

    *read_rc = dg_dump_read_va(dump, cd->prekey_va, prekey, PREKEY_LEN);
    if (*read_rc != DG_OK)
        return OUT_NO_PREKEY;
    if (!unshield(prekey, blob, cd->blob_len))
        goto out;
    rc = openssh_private_serial(blob, cd->blob_len, kt, sizeof kt, &pk, &flags, &used);
    if (rc == DG_E_FORMAT && kt[0] == '\0')
        goto out; /* not a key type name: wrong prekey or not a struct sshkey */
    memset(&f, 0, sizeof f);
    if (!place(dump, cd, &f))
        goto out;
    dg_strlcpyf(f.type, sizeof f.type, "%s", finding_type(kt));
    dg_strlcpyf(f.preview, sizeof f.preview, "OpenSSH shielded %s, %u bytes AES-256-CTR (redacted)",
                kt, (unsigned)cd->blob_len);
    if (rc == DG_OK && padding_ok(blob + used, cd->blob_len - used) &&
        keyproof_prove(pol, pk, flags, &f.key, f.proof, sizeof f.proof) == DG_OK) {
        f.status = DG_STATUS_CONFIRMED;
        f.severity = DG_SEV_HIGH;
        dg_strlcpyf(f.note, sizeof f.note,
                    "OpenSSH shielded key, unshielded with the prekey at 0x%llx (struct sshkey "
                    "at 0x%llx)",
                    (unsigned long long)cd->prekey_va, (unsigned long long)cd->va);
    } else {
        f.status = DG_STATUS_CANDIDATE;
        if (rc == DG_OK && pk != NULL) {
            f.severity = DG_SEV_MEDIUM;
            (void)keyproof_identity(pk, &f.key);
            dg_strlcpyf(f.note, sizeof f.note,
                        "OpenSSH shielded key unshielded with the prekey at 0x%llx, but %s",
                        (unsigned long long)cd->prekey_va,
                        padding_ok(blob + used, cd->blob_len - used) ? "its math does not hold"
                                                                     : "its padding is wrong");
        } else if (rc == DG_E_UNSUPPORTED) {
            /* sk-*: a FIDO key handle; the private key stays in the token */
            f.severity = strncmp(kt, "sk-", 3) == 0 ? DG_SEV_LOW : DG_SEV_MEDIUM;
            dg_strlcpyf(f.note, sizeof f.note,
                        "OpenSSH shielded key unshielded with the prekey at 0x%llx; key type %s "
                        "is not rebuilt here",
                        (unsigned long long)cd->prekey_va, kt);
        } else {
            f.severity = DG_SEV_LOW;
            dg_strlcpyf(f.note, sizeof f.note,
                        "OpenSSH shielded %s unshielded with the prekey at 0x%llx, but its fields "
                        "do not parse",
                        kt, (unsigned long long)cd->prekey_va);
        }
    }
    dg_report(sink, &f);
    res = OUT_REPORTED;
out:
    EVP_PKEY_free(pk);
    OPENSSL_cleanse(blob, cd->blob_len);
    OPENSSL_cleanse(prekey, PREKEY_LEN);
    OPENSSL_cleanse(kt, sizeof kt);
    return res;
}

/* Reports cd, whose struct head matched h->lay, as a key that cannot be
 * unshielded; why says what is missing. */
static void
report_unproven(const struct dg_dump *dump, const struct cand *cd, const struct head *h,
                bool blob_read, const char *why, struct dg_sink *sink)
{
    struct dg_finding f;
    uint8_t pub[32];

    memset(&f, 0, sizeof f);
    if (blob_read) {
        if (!place(dump, cd, &f))
            return;
    } else {
        /* no blob to point at: the struct's tail */
        f.off = cd->off;
        f.len = TAIL;
        dg_strlcpyf(f.encoding, sizeof f.encoding, "ssh-shielded");
    }
    dg_strlcpyf(f.type, sizeof f.type, "%s", head_type(h));
    f.status = DG_STATUS_CANDIDATE;
    f.severity = DG_SEV_LOW;
    dg_strlcpyf(f.preview, sizeof f.preview,
                "OpenSSH shielded key, %u bytes AES-256-CTR (redacted)", (unsigned)cd->blob_len);
    dg_strlcpyf(f.note, sizeof f.note,
                "OpenSSH %s shielded key, struct sshkey at 0x%llx; unproven: %s",
                h->lay->versions, (unsigned long long)cd->va, why);
    /* The public-only struct keeps an Ed25519 public key in clear. */
    if (h->edpk_va != 0 && dg_dump_read_va(dump, h->edpk_va, pub, sizeof pub) == DG_OK) {
        EVP_PKEY *pk;

        ERR_set_mark();
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, sizeof pub);
        if (pk != NULL && keyproof_identity(pk, &f.key) != DG_OK)
            memset(&f.key, 0, sizeof f.key);
        EVP_PKEY_free(pk);
        ERR_pop_to_mark();
    }
    dg_report(sink, &f);
}

static int
cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;

    if (x->blob_va != y->blob_va)
        return x->blob_va < y->blob_va ? -1 : 1;
    if (x->prekey_va != y->prekey_va)
        return x->prekey_va < y->prekey_va ? -1 : 1;
    return x->va < y->va ? -1 : x->va > y->va;
}

/* Follows each candidate of the whole dump to its blob and prekey. */
static dg_err
join(struct sk_shared *sh, const struct dg_dump *dump, struct dg_sink *sink)
{
    uint8_t *blob = NULL, *prekey = NULL;
    size_t n_unshield = 0;
    dg_err rc = DG_OK;

    if (sh->capped)
        dg_sink_warn(sink, DG_NO_OFFSET,
                     "sshkey: more than %u shielded-key candidates (or %u in a chunk); the rest "
                     "were skipped",
                     MAX_CANDS, MAX_CHUNK_CANDS);
    if (sh->n_cands == 0)
        return DG_OK;
    blob = OPENSSL_secure_malloc(MAX_BLOB);
    prekey = OPENSSL_secure_malloc(PREKEY_LEN);
    if (blob == NULL || prekey == NULL) {
        rc = DG_E_NOMEM;
        goto out;
    }
    qsort(sh->cands, sh->n_cands, sizeof *sh->cands, cmp_cand);
    ERR_set_mark();
    for (size_t i = 0; i < sh->n_cands; i++) {
        const struct cand *cd = &sh->cands[i];
        struct head h;
        enum outcome res;
        dg_err read_rc = DG_OK;
        char why[112];

        /* the same blob seen twice (a copy of the struct) is one key */
        if (i > 0 && cd->blob_va == sh->cands[i - 1].blob_va &&
            cd->prekey_va == sh->cands[i - 1].prekey_va)
            continue;
        read_rc = dg_dump_read_va(dump, cd->blob_va, blob, cd->blob_len);
        if (read_rc == DG_E_UNAVAILABLE) {
            /* a stream past its kept head: the struct alone, if it is one */
            read_head(dump, cd, &h);
            if (h.lay != NULL) {
                dg_strlcpyf(why, sizeof why,
                            "its blob at 0x%llx is past the kept head of the stream",
                            (unsigned long long)cd->blob_va);
                report_unproven(dump, cd, &h, false, why, sink);
            }
            continue;
        }
        if (read_rc != DG_OK || !looks_encrypted(blob, cd->blob_len)) {
            OPENSSL_cleanse(blob, cd->blob_len);
            continue;
        }
        if (n_unshield >= MAX_UNSHIELD) {
            dg_sink_warn(sink, cd->off,
                         "sshkey: %u shielded-key candidates tried; the remaining were skipped",
                         MAX_UNSHIELD);
            OPENSSL_cleanse(blob, cd->blob_len);
            break;
        }
        n_unshield++;
        res = try_unshield(sh->proof, dump, cd, blob, prekey, sink, &read_rc);
        if (res == OUT_REPORTED)
            continue;
        read_head(dump, cd, &h);
        if (h.lay == NULL)
            continue; /* an unconfirmed pattern is not evidence enough */
        if (res == OUT_NO_PREKEY && read_rc == DG_E_UNAVAILABLE)
            dg_strlcpyf(why, sizeof why, "prekey at 0x%llx past the kept head of the stream",
                        (unsigned long long)cd->prekey_va);
        else if (res == OUT_NO_PREKEY)
            dg_strlcpyf(why, sizeof why,
                        "prekey at 0x%llx not in the dump (OpenSSH 9.9+ keeps it out of cores)",
                        (unsigned long long)cd->prekey_va);
        else
            dg_strlcpyf(why, sizeof why,
                        "prekey at 0x%llx does not decrypt it (stale or overwritten)",
                        (unsigned long long)cd->prekey_va);
        report_unproven(dump, cd, &h, true, why, sink);
    }
    ERR_pop_to_mark();
out:
    if (blob != NULL)
        OPENSSL_secure_clear_free(blob, MAX_BLOB);
    if (prekey != NULL)
        OPENSSL_secure_clear_free(prekey, PREKEY_LEN);
    return rc;
}

static dg_err
sk_finish(void *shared, const struct dg_dump *dump, struct dg_sink *sink)
{
    struct sk_shared *sh = shared;
    dg_err rc = join(sh, dump, sink);

    sh->n_cands = 0; /* the dump's evidence is dropped: sh is as sk_create() made it */
    sh->capped = false;
    return rc;
}

/* ---- setup ---- */

static dg_err
sk_create(const struct dg_config *cfg, void **out)
{
    struct sk_shared *sh = calloc(1, sizeof *sh);

    *out = NULL;
    if (sh == NULL)
        return DG_E_NOMEM;
    sh->proof = cfg->proof;
    sh->cands = malloc(MAX_CANDS * sizeof *sh->cands); /* written before read, below n_cands */
    if (sh->cands == NULL || pthread_mutex_init(&sh->lock, NULL) != 0) {
        free(sh->cands);
        free(sh);
        return DG_E_NOMEM;
    }
    *out = sh;
    return DG_OK;
}

static dg_err
sk_init(void *shared, void **out)
{
    struct sk_ctx *c = calloc(1, sizeof *c);

    *out = NULL;
    if (c == NULL)
        return DG_E_NOMEM;
    c->sh = shared;
    *out = c;
    return DG_OK;
}

static void
sk_release(void *ctx)
{
    free(ctx);
}

static void
sk_destroy(void *shared)
{
    struct sk_shared *sh = shared;

    if (sh == NULL)
        return;
    free(sh->cands);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

static const char *const sk_forms[] = {"ssh-shielded", NULL};

/* the first three bytes of PREKEY_LEN, a little-endian 64-bit word */
_Static_assert(PREKEY_LEN == 0x4000u, "the trigger below is PREKEY_LEN's first bytes");
static const struct dg_trigger triggers[] = {{3, {0x00, 0x40, 0x00}, 0}, {0, {0}, 0}};

const struct dg_detector dg_detector_sshkey = {
    .abi = DG_DETECTOR_ABI,
    .name = "sshkey",
    .summary = "OpenSSH private keys shielded in memory (ssh-agent), unshielded with their "
               "prekey",
    .forms = sk_forms,
    .severity = DG_SEV_HIGH,
    .max_span = TAIL,
    .flags = DG_DET_BINARY,
    .default_on = true,
    .create = sk_create,
    .init = sk_init,
    .scan = sk_scan,
    .release = sk_release,
    .finish = sk_finish,
    .destroy = sk_destroy,
    .triggers = triggers,
};
