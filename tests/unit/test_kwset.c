/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_kwset.c - kwset against a naive search: random buffers with the words
 * planted in every case mix, at every alignment and at the very end, words of
 * one, two and many bytes that share prefixes, and a word list that
 * overflows the buckets. Every occurrence must be reported once, in order.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../scanner/util/kwset.h"
#include "tap.h"

#define MAX_HITS 200000

struct hits {
    size_t word[MAX_HITS], pos[MAX_HITS];
    size_t n;
    bool ordered;
};

static bool
on_hit(void *arg, size_t word, size_t pos)
{
    struct hits *h = arg;

    if (h->n > 0 && pos < h->pos[h->n - 1])
        h->ordered = false;
    if (h->n < MAX_HITS) {
        h->word[h->n] = word;
        h->pos[h->n] = pos;
        h->n++;
    }
    return true;
}

static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Naive count of occurrences of every word, and whether h has exactly them. */
static bool
agrees(const char *const *w, const size_t *l, size_t n, const uint8_t *t, size_t len,
       const struct hits *h)
{
    size_t k = 0;

    for (size_t pos = 0; pos < len; pos++)
        for (size_t i = 0; i < n; i++)
            if (l[i] <= len - pos && strncasecmp((const char *)t + pos, w[i], l[i]) == 0) {
                if (k >= h->n || h->pos[k] != pos || h->word[k] != i)
                    return false;
                k++;
            }
    return k == h->n && h->ordered;
}

static void
plant(uint8_t *t, size_t at, const char *w, size_t l, uint64_t *s)
{
    for (size_t i = 0; i < l; i++) {
        uint8_t c = (uint8_t)w[i];

        if (c >= 'a' && c <= 'z' && (rnd(s) & 1))
            c = (uint8_t)(c - 32);
        else if (c >= 'A' && c <= 'Z' && (rnd(s) & 1))
            c = (uint8_t)(c + 32);
        t[at + i] = c;
    }
}

static void
check_set(struct tap *tap, const char *name, const char *const *w, size_t n, bool text)
{
    size_t l[64];
    struct kwset *ks = NULL;
    static struct hits h;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    const size_t len = 1u << 16;
    uint8_t *t = malloc(len);
    bool ok = true;

    for (size_t i = 0; i < n; i++)
        l[i] = strlen(w[i]);
    if (t == NULL || kwset_new(w, l, n, &ks) != DG_OK) {
        tap_check(tap, 0, "%s: set built", name);
        free(t);
        return;
    }
    for (int round = 0; round < 8 && ok; round++) {
        for (size_t i = 0; i < len; i++)
            t[i] = text ? (uint8_t)("etaoinshrdlu _-AKIS"[rnd(&s) % 19]) : (uint8_t)rnd(&s);
        for (size_t p = 0; p < 300; p++) {
            size_t i = rnd(&s) % n, at = rnd(&s) % (len - l[i]);

            plant(t, at, w[i], l[i], &s);
        }
        for (size_t i = 0; i < n; i++) /* each word flush with the end once */
            if (round == (int)(i % 8))
                plant(t, len - l[i], w[i], l[i], &s);
        memset(&h, 0, sizeof h);
        h.ordered = true;
        ok = kwset_scan(ks, t, len, on_hit, &h) && agrees(w, l, n, t, len, &h);
    }
    tap_check(tap, ok, "%s: every occurrence, once, in order", name);
    kwset_free(ks);
    free(t);
}

int
main(void)
{
    struct tap tap = {0, 0};
    static const char *const rules[] = {"AKIA", "ASIA", "aws_secret_access_key", "SecretAccessKey",
                                        "secret_key", "\"service_account\"", "eyJ", "ghp_",
                                        "github_pat_", "xox", "_live_", "AccountKey=", "bearer"};
    static const char *const shortw[] = {"a", "ab", "abc", "b", "Z", "zz", "-", "_x"};
    static const char *const many[] = {"a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8", "i9",
                                       "j0", "k1", "l2", "m3", "n4", "o5", "p6", "q7", "r8",
                                       "aa", "ab", "ac", "ad"};
    struct kwset *ks = NULL;
    size_t one = 1, zero = 0;
    const char *w = "x";

    check_set(&tap, "the default pack's keywords in random bytes", rules, 13, false);
    check_set(&tap, "the default pack's keywords in text", rules, 13, true);
    check_set(&tap, "one- and two-byte words sharing prefixes", shortw, 8, true);
    check_set(&tap, "22 words over 8 buckets", many, 22, true);
    tap_check(&tap, kwset_new(&w, &zero, 1, &ks) == DG_E_ARG && ks == NULL,
              "an empty word is refused");
    tap_check(&tap, kwset_new(&w, &one, 1, &ks) == DG_OK && kwset_scan(ks, NULL, 0, on_hit, NULL),
              "an empty buffer has nothing");
    kwset_free(ks);
    return tap_done(&tap);
}
