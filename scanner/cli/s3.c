/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * s3.c - s3:// objects as streams, and the listing of a prefix (issue 25).
 *
 * A GET runs in a thread of its own: libcurl signs it (CURLOPT_AWS_SIGV4)
 * and its write callback sends the object's bytes into one end of a socket
 * pair; the scan reads the other end exactly as it reads standard input
 * (scan_opened(), the engine's stream ring), so memory stays bounded by the
 * socket buffer and the ring, and nothing touches the disk. s3_open()
 * returns only once the status of the answer is known, so a 403 or 404 is
 * the file's error, not an empty dump. A socket pair (not a pipe) because
 * send(MSG_NOSIGNAL) lets the writer see a reader that left without a
 * SIGPIPE.
 *
 * ListObjectsV2 answers are XML; no XML library is used: only <Key>,
 * <Size>, <ETag>, <LastModified> inside <Contents>, <IsTruncated> and
 * <NextContinuationToken> are extracted, defensively (bounded body, the
 * five predefined entities and numeric references decoded, anything else
 * ignored). Credentials: s3.h.
 */
#include "s3.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


#include <dumpgate/error.h>

#include "netlib.h"

#define ERROR_BODY_MAX 2048         /* bytes of an error answer kept for its <Code> */
#define LIST_BODY_MAX (16u << 20)   /* bytes of one ListObjectsV2 page */

/* Where and as whom requests go; every string owned. */
struct s3_target {
    char *bucket, *key;  /* from s3://bucket/key; key may be "" */
    char *base;          /* "https://bucket.s3.REGION.amazonaws.com/" or "ENDPOINT/bucket/" */
    char *sigv4;         /* "aws:amz:REGION:s3" */
    char *userpwd;       /* "ID:SECRET": cleansed before it is freed */
    char *token_header;  /* "x-amz-security-token: ..." or NULL */
};

struct s3_stream {
    CURL *curl;
    struct curl_slist *headers;
    struct s3_target t;
    pthread_t thread;
    int sv[2];                 /* sv[0] read by the scan, sv[1] written by the thread */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool answered;             /* a 2xx status arrived (or the transfer ended) */
    bool done;                 /* curl_easy_perform() returned */
    bool reader_gone;          /* send() failed: the scan closed its end */
    long status;               /* HTTP status */
    CURLcode res;
    uint64_t bytes;            /* bytes of the object passed on */
    char body[ERROR_BODY_MAX]; /* the start of an error answer */
    size_t body_len;
    char errbuf[CURL_ERROR_SIZE];
};

bool
s3_is_url(const char *name)
{
    return strncmp(name, "s3://", 5) == 0;
}

/* Zeroes and frees a secret string. */
static void
free_secret(char *s)
{
    if (s == NULL)
        return;
    for (volatile char *p = s; *p != '\0'; p++)
        *p = '\0';
    free(s);
}

static void
target_free(struct s3_target *t)
{
    free(t->bucket);
    free(t->key);
    free(t->base);
    free(t->sigv4);
    free_secret(t->userpwd);
    free_secret(t->token_header);
    memset(t, 0, sizeof *t);
}

static const char *
env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Appends s percent-encoded (RFC 3986 unreserved kept; '/' kept when
 * keep_slash) to buf[0..cap), at *at. False when it does not fit. */
static bool
encode(char *buf, size_t cap, size_t *at, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                     *p == '~' || (keep_slash && *p == '/');

        if (*at + 4 > cap)
            return false;
        if (plain) {
            buf[(*at)++] = (char)*p;
        } else {
            buf[(*at)++] = '%';
            buf[(*at)++] = hex[*p >> 4];
            buf[(*at)++] = hex[*p & 15];
        }
    }
    buf[*at] = '\0';
    return true;
}

/* Encoded s in a new string (free it), or NULL when out of memory. */
static char *
encoded(const char *s, bool keep_slash)
{
    size_t cap = strlen(s) * 3 + 1, at = 0;
    char *buf = malloc(cap);

    if (buf != NULL)
        (void)encode(buf, cap, &at, s, keep_slash);
    return buf;
}

/* Fills t from url (s3://bucket[/key]) and the environment. Returns DG_OK
 * or an error described in d; t is left empty on error. */
static dg_err
target_init(const char *url, struct dg_diag *d, struct s3_target *t)
{
    const char *b = url + 5, *slash = strchr(b, '/');
    const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    const char *token = env("AWS_SESSION_TOKEN");
    const char *region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
    const char *endpoint = env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3")
                                                      : env("AWS_ENDPOINT_URL");
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    int n;

    memset(t, 0, sizeof *t);
    if (!s3_is_url(url) || blen == 0 || blen > 63)
        return dg_diag(d, DG_E_ARG, DG_NO_OFFSET, "%s: not an s3://bucket/key URL", url);
    for (size_t i = 0; i < blen; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
              b[i] == '.' || b[i] == '_'))
            return dg_diag(d, DG_E_ARG, DG_NO_OFFSET, "%s: not a valid bucket name", url);
    if (id == NULL || secret == NULL)
        return dg_diag(d, DG_E_ARG, DG_NO_OFFSET,
                       "%s: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                       url);
    if (region == NULL)
        region = "us-east-1";
    for (const char *p = region; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return dg_diag(d, DG_E_ARG, DG_NO_OFFSET, "%s: AWS region \"%s\" is not valid",
                           url, region);
    t->bucket = strndup(b, blen);
    t->key = strdup(slash ? slash + 1 : "");
    if (endpoint != NULL) /* an S3-compatible server: path-style */
        n = asprintf(&t->base, "%s%s%s/", endpoint,
                     endpoint[strlen(endpoint) - 1] == '/' ? "" : "/", t->bucket ? t->bucket : "");
    else if (memchr(b, '.', blen) == NULL)
        n = asprintf(&t->base, "https://%s.s3.%s.amazonaws.com/", t->bucket ? t->bucket : "",
                     region);
    else
        n = asprintf(&t->base, "https://s3.%s.amazonaws.com/%s/", region,
                     t->bucket ? t->bucket : "");
    if (n < 0)
        t->base = NULL;
    if (asprintf(&t->sigv4, "aws:amz:%s:s3", region) < 0)
        t->sigv4 = NULL;
    if (asprintf(&t->userpwd, "%s:%s", id, secret) < 0)
        t->userpwd = NULL;
    if (token != NULL && asprintf(&t->token_header, "x-amz-security-token: %s", token) < 0)
        t->token_header = NULL;
    if (t->bucket == NULL || t->key == NULL || t->base == NULL || t->sigv4 == NULL ||
        t->userpwd == NULL || (token != NULL && t->token_header == NULL)) {
        target_free(t);
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", url);
    }
    return DG_OK;
}

/* A handle for GET base+path_query, signed for t. OUT: *headers (free
 * after the handle). NULL when out of memory. */
static CURL *
signed_handle(const struct s3_target *t, const char *path_query, char *errbuf,
              struct curl_slist **headers)
{
    /* the SHA-256 of the empty payload of a GET: real S3 wants it signed */
    static const char empty_payload[] =
        "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    CURL *c = netlib()->easy_init();
    char *full = NULL;
    struct curl_slist *h = NULL, *h2;

    *headers = NULL;
    if (c == NULL || asprintf(&full, "%s%s", t->base, path_query) < 0) {
        netlib()->easy_cleanup(c);
        return NULL;
    }
    h = netlib()->slist_append(NULL, empty_payload);
    if (h != NULL && t->token_header != NULL &&
        (h2 = netlib()->slist_append(h, t->token_header)) != NULL)
        h = h2;
    else if (t->token_header != NULL) {
        netlib()->slist_free_all(h);
        h = NULL;
    }
    if (h == NULL || netlib()->easy_setopt(c, CURLOPT_URL, full) != CURLE_OK) {
        netlib()->slist_free_all(h);
        free(full);
        netlib()->easy_cleanup(c);
        return NULL;
    }
    free(full);
    *headers = h;
    netlib()->easy_setopt(c, CURLOPT_HTTPHEADER, h);
    netlib()->easy_setopt(c, CURLOPT_AWS_SIGV4, t->sigv4);
    netlib()->easy_setopt(c, CURLOPT_USERPWD, t->userpwd);
    netlib()->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    netlib()->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    netlib()->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    netlib()->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    netlib()->easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* a stalled server ends the */
    netlib()->easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);  /* transfer after two minutes */
    errbuf[0] = '\0';
    return c;
}

/* The text of <tag>...</tag> in [*from, end), XML-decoded
 * into out[0..cap) (NUL-terminated, cut at cap); *from moves past it. NULL
 * when there is none before end. */
static const char *
xml_text(const char *end, const char **from, const char *tag, char *out,
         size_t cap)
{
    char open[64], close[64];
    const char *a, *z;
    size_t n = 0;

    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    a = memmem(*from, (size_t)(end - *from), open, strlen(open));
    if (a == NULL)
        return NULL;
    a += strlen(open);
    z = memmem(a, (size_t)(end - a), close, strlen(close));
    if (z == NULL)
        return NULL;
    *from = z + strlen(close);
    for (const char *q = a; q < z && n + 1 < cap;) {
        static const struct { const char *ent; char c; } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;

        for (size_t i = 0; *q == '&' && i < sizeof ents / sizeof ents[0]; i++) {
            size_t k = strlen(ents[i].ent);

            if ((size_t)(z - q) >= k && memcmp(q, ents[i].ent, k) == 0) {
                out[n++] = ents[i].c;
                q += k;
                done = true;
                break;
            }
        }
        if (!done && *q == '&' && q + 2 < z && q[1] == '#') {
            char *e;
            unsigned long v = q[2] == 'x' ? strtoul(q + 3, &e, 16) : strtoul(q + 2, &e, 10);

            if (e < z && *e == ';' && v > 0 && v < 0x80) { /* ASCII only; others kept raw */
                out[n++] = (char)v;
                q = e + 1;
                done = true;
            }
        }
        if (!done)
            out[n++] = *q++;
    }
    out[n] = '\0';
    return out;
}

/* ---------- GET as a stream ---------- */

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct s3_stream *s = arg;
    size_t len = size * nmemb, sent = 0;

    if (!s->answered) {
        long code = 0;

        netlib()->easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code > 299) { /* keep the start of the error answer */
            size_t room = sizeof s->body - 1 - s->body_len;
            size_t k = len < room ? len : room;

            memcpy(s->body + s->body_len, ptr, k);
            s->body_len += k;
            s->status = code;
            return len;
        }
        pthread_mutex_lock(&s->lock);
        s->status = code;
        s->answered = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
    }
    while (sent < len) {
        ssize_t n = send(s->sv[1], ptr + sent, len - sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) { /* the scan closed its end: stop the transfer */
            s->reader_gone = true;
            return 0;
        }
        sent += (size_t)n;
    }
    s->bytes += len;
    return len;
}

static void *
run_get(void *arg)
{
    struct s3_stream *s = arg;
    CURLcode res = netlib()->easy_perform(s->curl);

    pthread_mutex_lock(&s->lock);
    s->res = res;
    if (s->status == 0)
        netlib()->easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    s->done = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    shutdown(s->sv[1], SHUT_WR); /* the end of the object: the scan sees EOF */
    return NULL;
}

static void
stream_free(struct s3_stream *s)
{
    if (s->sv[0] >= 0)
        close(s->sv[0]);
    if (s->sv[1] >= 0)
        close(s->sv[1]);
    netlib()->easy_cleanup(s->curl);
    netlib()->slist_free_all(s->headers);
    target_free(&s->t);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

/* The reason of a failed GET, into d, naming url; never the credentials. */
static dg_err
get_failed(const struct s3_stream *s, const char *url, struct dg_diag *d)
{
    char code[128];
    const char *from = s->body;

    /* no answer, or a 2xx whose transfer failed before its first byte */
    if (s->res != CURLE_OK && (s->status == 0 || (s->status >= 200 && s->status <= 299)))
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: cannot read: %s", url,
                       s->errbuf[0] ? s->errbuf : netlib()->easy_strerror(s->res));
    if (xml_text(s->body + s->body_len, &from, "Code", code, sizeof code) == NULL)
        snprintf(code, sizeof code, "%s", "no S3 error code");
    return dg_diag(d, s->status == 404 ? DG_E_NOT_FILE : DG_E_IO, DG_NO_OFFSET,
                   "%s: cannot read: HTTP %ld (%s)", url, s->status, code);
}

dg_err
s3_open(const char *url, struct dg_diag *d, struct s3_stream **out, int *fd)
{
    struct s3_stream *s = calloc(1, sizeof *s);
    char *path;
    dg_err rc;
    bool ok;

    *out = NULL;
    *fd = -1;
    if (s == NULL)
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", url);
    s->sv[0] = s->sv[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if ((rc = target_init(url, d, &s->t)) != DG_OK) {
        stream_free(s);
        return rc;
    }
    if (s->t.key[0] == '\0') {
        stream_free(s);
        return dg_diag(d, DG_E_ARG, DG_NO_OFFSET, "%s: no object key after the bucket", url);
    }
    if ((path = encoded(s->t.key, true)) == NULL ||
        (s->curl = signed_handle(&s->t, path, s->errbuf, &s->headers)) == NULL) {
        free(path);
        stream_free(s);
        return dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", url);
    }
    free(path);
    netlib()->easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_data);
    netlib()->easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->sv) != 0) {
        int e = errno;

        s->sv[0] = s->sv[1] = -1;
        stream_free(s);
        return dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: socketpair: %s", url, strerror(e));
    }
    { /* fewer, larger hand-overs between the transfer and the scan */
        int buf = 1 << 20;

        (void)setsockopt(s->sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        (void)setsockopt(s->sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        netlib()->easy_setopt(s->curl, CURLOPT_BUFFERSIZE, 256L << 10);
    }
    if ((errno = pthread_create(&s->thread, NULL, run_get, s)) != 0) {
        int e = errno;

        stream_free(s);
        return dg_diag(d, DG_E_THREAD, DG_NO_OFFSET, "%s: cannot start a thread: %s", url,
                       strerror(e));
    }
    pthread_mutex_lock(&s->lock);
    while (!s->answered && !s->done)
        pthread_cond_wait(&s->cond, &s->lock);
    ok = s->answered || (s->res == CURLE_OK && s->status >= 200 && s->status <= 299);
    pthread_mutex_unlock(&s->lock);
    if (!ok) {
        pthread_join(s->thread, NULL);
        rc = get_failed(s, url, d);
        stream_free(s);
        return rc;
    }
    *out = s;
    *fd = s->sv[0];
    return DG_OK;
}

dg_err
s3_close(struct s3_stream *s, struct dg_diag *d)
{
    dg_err rc = DG_OK;

    if (s == NULL)
        return DG_OK;
    shutdown(s->sv[0], SHUT_RDWR); /* a transfer still running stops at its next send */
    pthread_join(s->thread, NULL);
    if (s->res != CURLE_OK && !s->reader_gone)
        rc = dg_diag(d, DG_E_IO, DG_NO_OFFSET,
                     "s3://%s/%s: the transfer broke off after %llu bytes: %s", s->t.bucket,
                     s->t.key, (unsigned long long)s->bytes,
                     s->errbuf[0] ? s->errbuf : netlib()->easy_strerror(s->res));
    stream_free(s);
    return rc;
}

/* ---------- ListObjectsV2 ---------- */

struct body {
    char *p;
    size_t len, cap;
    bool too_big;
};

static size_t
on_list_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t len = size * nmemb;

    if (b->len + len + 1 > LIST_BODY_MAX) {
        b->too_big = true;
        return 0;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *p = realloc(b->p, cap);

        if (p == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, ptr, len);
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

/* Prints the <Contents> of one page; OUT: token (the next page's, "" at the
 * end). False when the page is malformed. */
static bool
print_page(const struct body *b, const char *bucket, FILE *out, char *token, size_t cap)
{
    const char *end = b->p + b->len, *at = b->p;
    char trunc[16];
    const char *c;

    token[0] = '\0';
    while ((c = memmem(at, (size_t)(end - at), "<Contents>", 10)) != NULL) {
        const char *stop = memmem(c, (size_t)(end - c), "</Contents>", 11), *from = c;
        char key[1100], size[32], etag[160], when[48];

        if (stop == NULL)
            return false;
        if (xml_text(stop, &from, "Key", key, sizeof key) == NULL ||
            (from = c, xml_text(stop, &from, "Size", size, sizeof size)) == NULL)
            return false;
        from = c;
        if (xml_text(stop, &from, "ETag", etag, sizeof etag) == NULL)
            snprintf(etag, sizeof etag, "%s", "-");
        from = c;
        if (xml_text(stop, &from, "LastModified", when, sizeof when) == NULL ||
            when[0] == '\0' || strpbrk(when, " \t") != NULL)
            snprintf(when, sizeof when, "%s", "-");
        /* a key with a line break cannot be a line of --files-from */
        if (strpbrk(key, "\n\r") == NULL && strspn(size, "0123456789") == strlen(size)) {
            char *q = etag; /* the ETag without its quotes */

            if (*q == '"')
                q++;
            q[strcspn(q, "\" \t")] = '\0';
            fprintf(out, "s3://%s/%s %s %s %s\n", bucket, key, size, q[0] ? q : "-", when);
        }
        at = stop + 11;
    }
    at = b->p;
    if (xml_text(end, &at, "IsTruncated", trunc, sizeof trunc) != NULL &&
        strcmp(trunc, "true") == 0) {
        at = b->p;
        if (xml_text(end, &at, "NextContinuationToken", token, cap) == NULL ||
            token[0] == '\0')
            return false;
    }
    return true;
}

dg_err
s3_list(const char *url, unsigned page_size, FILE *out, struct dg_diag *d)
{
    struct s3_target t;
    char token[1100] = "", errbuf[CURL_ERROR_SIZE];
    dg_err rc = target_init(url, d, &t);

    if (rc != DG_OK)
        return rc;
    do {
        struct body b = {0};
        struct curl_slist *h = NULL;
        char *tok = encoded(token, false), *pre = encoded(t.key, false), *q = NULL;
        char max[32] = "";
        CURL *c = NULL;
        CURLcode res;
        long status = 0;

        if (page_size > 0)
            snprintf(max, sizeof max, "max-keys=%u&", page_size);
        /* the query in SigV4's canonical order: names sorted, values encoded */
        if (tok != NULL && pre != NULL &&
            asprintf(&q, "?%s%s%slist-type=2&%sprefix=%s", token[0] ? "continuation-token=" : "",
                     tok, token[0] ? "&" : "", max, pre) < 0)
            q = NULL;
        free(tok);
        free(pre);
        if (q == NULL || (c = signed_handle(&t, q, errbuf, &h)) == NULL) {
            free(q);
            rc = dg_diag(d, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", url);
            break;
        }
        free(q);
        netlib()->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_list_data);
        netlib()->easy_setopt(c, CURLOPT_WRITEDATA, &b);
        res = netlib()->easy_perform(c);
        netlib()->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        netlib()->easy_cleanup(c);
        netlib()->slist_free_all(h);
        if (res != CURLE_OK) {
            rc = dg_diag(d, DG_E_IO, DG_NO_OFFSET, "%s: cannot list: %s", url,
                         b.too_big ? "a page of the listing is over 16 MiB"
                                   : errbuf[0] ? errbuf : netlib()->easy_strerror(res));
        } else if (status < 200 || status > 299) {
            char code[128];
            const char *from = b.p;

            if (b.p == NULL ||
                xml_text(b.p + b.len, &from, "Code", code, sizeof code) == NULL)
                snprintf(code, sizeof code, "%s", "no S3 error code");
            rc = dg_diag(d, status == 404 ? DG_E_NOT_FILE : DG_E_IO, DG_NO_OFFSET,
                         "%s: cannot list: HTTP %ld (%s)", url, status, code);
        } else if (b.p == NULL || !print_page(&b, t.bucket, out, token, sizeof token)) {
            rc = dg_diag(d, DG_E_FORMAT, DG_NO_OFFSET,
                         "%s: cannot list: the ListObjectsV2 answer is malformed", url);
        }
        free(b.p);
    } while (rc == DG_OK && token[0] != '\0');
    target_free(&t);
    return rc;
}
