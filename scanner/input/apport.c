/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * apport.c - decodes the CoreDump field of an apport .crash report (see
 * apport.h): a small state machine over fixed buffers that finds the
 * "CoreDump: base64" key line and base64-decodes each continuation line on
 * its own (EVP_DecodeInit/Update/Final per line), so that a line may be of
 * any length and memory stays constant.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "apport.h"

#define IBUF 65536u
#define FEED_MAX 32768u /* base64 bytes per EVP_DecodeUpdate: output <= 24 KiB + 80 */
#define OBUF 65536u
#define KEY_LINE "CoreDump: base64"

enum apport_state {
    A_HEADER,     /* in the report's text, looking for the key line */
    A_LINE_START, /* at the start of a line inside the CoreDump value */
    A_BASE64,     /* inside one base64 continuation line */
    A_DONE,       /* the value ended */
};

struct apport_dec {
    struct dc_source raw;
    enum apport_state st;
    bool found;          /* the key line was seen */
    bool ieof;
    uint64_t line_no;    /* 1-based line number in the report */
    char line[40];       /* first bytes of the current header line */
    size_t line_len;
    EVP_ENCODE_CTX *ectx;
    uint8_t ib[IBUF];
    size_t ilen, ipos;
    uint8_t ob[OBUF];
    size_t olen, opos;
};

dg_err
apport_new(const struct dc_source *raw, struct apport_dec **out)
{
    struct apport_dec *a = calloc(1, sizeof *a);

    *out = NULL;
    if (a == NULL)
        return DG_E_NOMEM;
    a->ectx = EVP_ENCODE_CTX_new();
    if (a->ectx == NULL) {
        free(a);
        return DG_E_NOMEM;
    }
    a->raw = *raw;
    a->line_no = 1;
    *out = a;
    return DG_OK;
}

void
apport_free(struct apport_dec *a)
{
    if (a == NULL)
        return;
    EVP_ENCODE_CTX_free(a->ectx);
    free(a);
}

/* Makes sure unread input exists unless the report ended. */
static dg_err
fill(struct apport_dec *a, char *why, size_t why_len)
{
    size_t got;
    dg_err rc;

    if (a->ipos < a->ilen || a->ieof)
        return DG_OK;
    rc = a->raw.read(a->raw.ctx, a->ib, sizeof a->ib, &got, why, why_len);
    if (rc != DG_OK)
        return rc;
    a->ipos = 0;
    a->ilen = got;
    a->ieof = got == 0;
    return DG_OK;
}

static bool
is_key_line(const struct apport_dec *a)
{
    size_t n = a->line_len;

    while (n > 0 && (a->line[n - 1] == '\r' || a->line[n - 1] == ' '))
        n--;
    return n == strlen(KEY_LINE) && memcmp(a->line, KEY_LINE, n) == 0;
}

/* Advances the state machine until decoded bytes are waiting in ob or the
 * value ended. */
static dg_err
step(struct apport_dec *a, char *why, size_t why_len)
{
    while (a->opos == a->olen && a->st != A_DONE) {
        dg_err rc = fill(a, why, why_len);
        const uint8_t *p = a->ib + a->ipos;
        size_t n = a->ilen - a->ipos;

        if (rc != DG_OK)
            return rc;
        if (a->st == A_HEADER) {
            const uint8_t *nl;
            size_t take;

            if (a->ieof) {
                snprintf(why, why_len, "apport report without a \"%s\" field", KEY_LINE);
                return DG_E_FORMAT;
            }
            nl = memchr(p, '\n', n);
            take = nl != NULL ? (size_t)(nl - p) : n;
            for (size_t i = 0; i < take && a->line_len < sizeof a->line; i++)
                a->line[a->line_len++] = (char)p[i];
            a->ipos += take;
            if (nl != NULL) {
                a->ipos++;
                a->line_no++;
                if (a->line_len < sizeof a->line && is_key_line(a)) {
                    a->found = true;
                    a->st = A_LINE_START;
                }
                a->line_len = 0;
            }
        } else if (a->st == A_LINE_START) {
            if (a->ieof || p[0] != ' ') {
                a->st = A_DONE; /* the next key, a blank line, or the end */
                break;
            }
            a->ipos++;
            EVP_DecodeInit(a->ectx);
            a->st = A_BASE64;
        } else { /* A_BASE64 */
            const uint8_t *nl = a->ieof ? NULL : memchr(p, '\n', n);
            size_t take = nl != NULL ? (size_t)(nl - p) : n;
            int outl = 0;

            if (take > FEED_MAX)
                take = FEED_MAX;
            a->olen = a->opos = 0;
            if (take > 0 && EVP_DecodeUpdate(a->ectx, a->ob, &outl, p, (int)take) < 0) {
                snprintf(why, why_len, "apport CoreDump: line %llu is not base64",
                         (unsigned long long)a->line_no);
                return DG_E_FORMAT;
            }
            a->olen = (size_t)outl;
            a->ipos += take;
            if ((nl != NULL && p + take == nl) || a->ieof) {
                int fin = 0;

                if (EVP_DecodeFinal(a->ectx, a->ob + a->olen, &fin) < 0) {
                    snprintf(why, why_len, "apport CoreDump: line %llu is not base64",
                             (unsigned long long)a->line_no);
                    return DG_E_FORMAT;
                }
                a->olen += (size_t)fin;
                if (nl != NULL) {
                    a->ipos++;
                    a->line_no++;
                }
                a->st = a->ieof ? A_DONE : A_LINE_START;
            }
        }
    }
    return DG_OK;
}

dg_err
apport_read(struct apport_dec *a, uint8_t *buf, size_t cap, size_t *got, char *why,
            size_t why_len)
{
    *got = 0;
    while (*got < cap) {
        size_t n;
        dg_err rc = step(a, why, why_len);

        if (rc != DG_OK)
            return *got > 0 ? DG_OK : rc;
        if (a->opos == a->olen)
            break; /* A_DONE */
        n = a->olen - a->opos;
        if (n > cap - *got)
            n = cap - *got;
        memcpy(buf + *got, a->ob + a->opos, n);
        a->opos += n;
        *got += n;
    }
    return DG_OK;
}
