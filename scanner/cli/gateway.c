/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * gateway.c - `dumpgate gateway`: a crash-upload reverse proxy that scans
 * every uploaded dump before it leaves the network and loses none.
 *
 * An HTTP/1.1 server (libmicrohttpd, a thread per connection) takes the
 * POSTs that crash reporters send (Breakpad and Crashpad multipart/form-data
 * with the dump in a file part, the whole body gzipped or not, chunked or
 * not: each file part is a part, the form fields together one more; Sentry
 * envelopes, split into their items; any other body is one part) and keeps
 * each one in a spool:
 *
 *   SPOOL/incoming/up.TIME.PID.SEQ.body      the request body as received
 *   SPOOL/incoming/up.TIME.PID.SEQ.N.part    its N-th file part, decoded
 *   SPOOL/quarantine/up....body, .N.part, .json (0600)   anything dirty
 *   SPOOL/outbox/up....body + .json          clean, not yet delivered
 *
 * The body is written and fsynced before anything is answered. Its file parts
 * are taken out with libmicrohttpd's post processor (zlib first when the
 * request says Content-Encoding: gzip) and each is scanned like a core by
 * core-handler: in a sandboxed child with a timeout (scanchild.h), compressed
 * parts decoded by the scan itself. A part with a finding at or above
 * --fail-on, a scan error, a timeout or a partial scan (bytes not scanned:
 * unreadable, or beyond what the summary's coverage says was scanned; a
 * damaged dump or an attachment that is no dump is scanned whole as bytes,
 * and its warnings only go into the verdict) sends the whole upload
 * to quarantine with a JSON verdict, and the client gets 200 with a body that
 * names the verdict ("Discarded=dumpgate ..."): Crashpad treats any other
 * status as a final failure and Socorro answers "Discarded=" the same way.
 * A clean upload is forwarded to --upstream + the request's path and query
 * (libcurl), byte for byte with its Content-Type, Content-Encoding and
 * User-Agent, and the upstream's status and body (the crash ID the client
 * records) go back to the client. When the upstream cannot be reached or
 * answers 5xx, the upload waits in outbox/ and the client gets 200
 * "Queued=NAME"; a delivery thread retries the outbox with backoff, also
 * after a restart (at-least-once). Delivered uploads are deleted. An upload
 * stored but not answered when its gateway died (kill -9) is quarantined
 * at the next start (recover(); each upload is flock()ed while a gateway
 * works on it, so gateways may share a spool): its client was told nothing,
 * and it is neither dropped nor forwarded unscanned.
 *
 * Limits: --max-upload BYTES per body (413 before anything is stored when
 * Content-Length says so, else when it is reached; nothing is kept),
 * --max-uploads concurrent connections, --receive-timeout seconds of
 * silence on a connection, --token-file: a bearer token every upload must
 * carry (401 otherwise). --tls-cert/--tls-key serve HTTPS (libmicrohttpd
 * with GnuTLS); --tls-client-ca also asks each client for a certificate,
 * which GnuTLS verifies against that CA (403 without one). GET /healthz
 * answers "ok", GET /metrics the counts in Prometheus text (counters, and a
 * histogram of the scan seconds per upload). Log lines (stderr) carry names
 * and sizes, never request data.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/crypto.h>

#include <dumpgate/dumpgate.h>

#include "../input/envelope.h"
#include "../util/deadline.h"
#include "../util/fdio.h"
#include "durable.h"
#include "gateway.h"
#include "netlib.h"
#include "recompress.h"
#include "scanchild.h"

#define MAX_PARTS 32u            /* file parts scanned per upload */
#define REPLY_MAX (64u << 10)    /* upstream answer relayed */
#define TOKEN_MAX 512u
#define RETRY_FIRST 2.0          /* seconds before the first redelivery */
#define RETRY_MAX 300.0

/* upper bounds of the scan-seconds histogram's buckets (+Inf after them) */
static const double scan_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
#define N_BUCKETS (sizeof scan_buckets / sizeof scan_buckets[0])

struct counts {
    uint64_t uploads, clean, quarantined, redacted, forwarded, queued, retried, rejected, bytes;
    double scan_seconds;
    uint64_t scans, scan_le[N_BUCKETS]; /* per upload: all its parts */
};

struct gateway {
    const struct cli_opts *o;
    int dir, incoming, quarantine, outbox;
    char token[TOKEN_MAX];
    size_t token_len;
    pthread_mutex_t lock;        /* seq, counts */
    pthread_cond_t wake;         /* the delivery thread */
    bool stopping;
    uint64_t seq;
    struct counts n;
};

/* One request, from its first byte to its answer. */
struct upload {
    struct gateway *gw;
    char name[96];               /* up.TIME.PID.SEQ */
    int fd;                      /* the body, in incoming/ */
    uint64_t bytes;
    bool too_big;
    bool failed;                 /* the body could not be stored */
    bool complete;               /* the whole body arrived (the last call came) */
    /* parts, while the post processor runs */
    int part_fd[MAX_PARTS];
    uint64_t part_at[MAX_PARTS]; /* where the part starts in the decoded body, or UINT64_MAX */
    int dec_fd;                  /* --redact with a gzip body: the decoded body, else -1 */
    bool gz;                     /* the body is gzip (Content-Encoding) */
    unsigned n_parts;
    unsigned cur;                /* the part being written */
    int fields;                  /* the part holding the form fields, or -1 */
    bool parts_capped;
    struct envelope env;         /* a Sentry envelope while it is split */
};

static void glog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
glog(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("dumpgate gateway: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* --- the spool ------------------------------------------------------------- */

static int
subdir(int dir, const char *name)
{
    if (mkdirat(dir, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static bool
spool_open(struct gateway *gw)
{
    const char *path = gw->o->spool;
    struct stat st;

    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        glog("spool %s: %s", path, strerror(errno));
        return false;
    }
    gw->dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (gw->dir < 0 || fstat(gw->dir, &st) != 0) {
        glog("spool %s: %s", path, strerror(errno));
        return false;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        glog("spool %s: refused: not owned by this user, or others may write in it", path);
        return false;
    }
    gw->incoming = subdir(gw->dir, "incoming");
    gw->quarantine = subdir(gw->dir, "quarantine");
    gw->outbox = subdir(gw->dir, "outbox");
    if (gw->incoming < 0 || gw->quarantine < 0 || gw->outbox < 0) {
        glog("spool %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* Moves incoming/name to dir/name (never over an existing file). */
static int
move(struct gateway *gw, int dir, const char *name)
{
    if (renameat2(gw->incoming, name, dir, name, RENAME_NOREPLACE) != 0)
        return errno;
    return fsync(dir) == 0 ? 0 : errno;
}

/* A directory stream over dir (its own descriptor), or NULL. */
static DIR *
dir_stream(int dir)
{
    int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

    if (d == NULL && fd >= 0)
        close(fd);
    return d;
}

/* The JSON document in dir/name, or NULL. */
static json_t *
read_json(int dir, const char *name)
{
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    json_t *v;

    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    v = json_loadf(f, 0, NULL);
    fclose(f);
    return v;
}

/* --- taking the parts out of a body ------------------------------------------ */

/* Opens the upload's next part file; its index, or -1 (up->failed or
 * parts_capped set). */
static int
part_open(struct upload *up)
{
    char pname[128];
    int fd;

    if (up->n_parts >= MAX_PARTS) {
        up->parts_capped = true;
        return -1;
    }
    snprintf(pname, sizeof pname, "%s.%u.part", up->name, up->n_parts);
    fd = openat(up->gw->incoming, pname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        up->failed = true;
        return -1;
    }
    up->part_fd[up->n_parts] = fd;
    up->part_at[up->n_parts] = UINT64_MAX;
    return (int)up->n_parts++;
}

/* Appends data to part i; false (up->failed set) when it cannot. */
static bool
part_append(struct upload *up, unsigned i, const char *data, size_t size)
{
    if (fd_write_all(up->part_fd[i], data, size) != DG_OK)
        up->failed = true;
    return !up->failed;
}

/* Appends data to the upload's current part, opening a new one first when
 * fresh; false (up->failed or parts_capped set) when it cannot. */
static bool
part_write(struct upload *up, bool fresh, const char *data, size_t size)
{
    if (fresh) {
        int i = part_open(up);

        if (i < 0)
            return false;
        up->cur = (unsigned)i;
    }
    return part_append(up, up->cur, data, size);
}

/* Appends a form field's bytes (as "\nNAME=VALUE" lines) to the upload's
 * fields part, opened at the first field: annotations can hold keys too. */
static bool
field_write(struct upload *up, const char *key, const char *data, uint64_t off, size_t size)
{
    if (up->fields < 0 && (up->fields = part_open(up)) < 0)
        return false;
    if (off == 0 && (!part_append(up, (unsigned)up->fields, "\n", 1) ||
                     !part_append(up, (unsigned)up->fields, key ? key : "", key ? strlen(key) : 0) ||
                     !part_append(up, (unsigned)up->fields, "=", 1)))
        return false;
    return part_append(up, (unsigned)up->fields, data, size);
}

/* The post processor's callback: every file part goes to a part file of its
 * own (a value's first call has off 0), the form fields to one part. */
static enum MHD_Result
on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
        const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
        size_t size)
{
    struct upload *up = cls;

    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (filename == NULL)
        return field_write(up, key, data, off, size) ? MHD_YES : MHD_NO;
    return part_write(up, off == 0 || up->n_parts == 0, data, size) ? MHD_YES : MHD_NO;
}

/* Feeds the decoded body to pp, or (pp NULL: not a form) copies it whole
 * into one part. */
static bool
feed(struct upload *up, struct MHD_PostProcessor *pp, const char *data, size_t len)
{
    if (pp != NULL)
        return netlib()->post_process(pp, data, len) == MHD_YES && !up->failed;
    if (up->n_parts == 0 && !part_write(up, true, "", 0))
        return false;
    up->part_at[0] = 0; /* the whole body */
    return part_append(up, 0, data, len);
}

/* envelope.h's callback: each item payload is a part of its own. */
static bool
envelope_part(void *arg, bool fresh, const char *data, size_t len)
{
    struct upload *up = arg;

    if (!part_write(up, fresh, data, len))
        return false;
    if (fresh)
        up->part_at[up->cur] = up->env.at;
    return true;
}

/* With --redact and a gzip body, keeps the decoded bytes too (where the
 * redacted copy is patched). */
static bool
keep_decoded(struct upload *up, const char *data, size_t len)
{
    return up->dec_fd < 0 || fd_write_all(up->dec_fd, data, len) == DG_OK;
}

/* Feeds bytes of an envelope; on failure why says why. */
static bool
envelope_bytes(struct upload *up, const char *data, size_t len, char *why, size_t cap)
{
    if (envelope_feed(&up->env, data, len, envelope_part, up, why, cap))
        return true;
    if (strcmp(why, "stopped") == 0)
        snprintf(why, cap, "%s", up->parts_capped ? "more than 32 envelope items"
                                                  : "spool write error");
    return false;
}

/* True when the request is a Sentry envelope. */
static bool
is_envelope(struct MHD_Connection *c, const char *url)
{
    const char *ct = netlib()->lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    size_t ul = strlen(url);

    if (ct != NULL)
        return strncasecmp(ct, "application/x-sentry-envelope", 29) == 0;
    return ul >= 10 && strcmp(url + ul - 10, "/envelope/") == 0;
}

/* Splits the stored body into part files; false with why on failure. */
static bool
split_parts(struct upload *up, struct MHD_Connection *c, const char *url, char *why, size_t cap)
{
    const char *enc = netlib()->lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    bool gz = enc != NULL && (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0);
    bool env = is_envelope(c, url);
    struct MHD_PostProcessor *pp =
        env ? NULL : netlib()->create_post_processor(c, 64 * 1024, on_part, up);
    static const size_t BUF = 1u << 16;
    char *in = malloc(BUF), *out = malloc(BUF);
    z_stream z;
    bool ok = in != NULL && out != NULL, zinit = false;

    memset(&z, 0, sizeof z);
    envelope_init(&up->env);
    up->gz = gz;
    if (ok && gz && up->gw->o->redact_copy) {
        char dname[128];

        snprintf(dname, sizeof dname, "%s.dec", up->name);
        up->dec_fd = openat(up->gw->incoming, dname,
                            O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (up->dec_fd < 0) {
            ok = false;
            snprintf(why, cap, "decoded copy: %s", strerror(errno));
        }
    }
    if (ok && gz) {
        ok = zinit = inflateInit2(&z, 15 + 32) == Z_OK;
        if (!ok)
            snprintf(why, cap, "zlib: cannot start");
    }
    if (ok && lseek(up->fd, 0, SEEK_SET) != 0) {
        ok = false;
        snprintf(why, cap, "body: %s", strerror(errno));
    }
    for (bool end = false; ok && !end;) {
        ssize_t r = read(up->fd, in, BUF);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ok = false;
            snprintf(why, cap, "body: %s", strerror(errno));
            break;
        }
        if (!gz && env) {
            end = r == 0;
            ok = envelope_bytes(up, in, (size_t)r, why, cap);
            continue;
        }
        if (!gz) {
            end = r == 0;
            if (!feed(up, pp, in, (size_t)r)) {
                ok = false;
                snprintf(why, cap, "%s", up->parts_capped ? "more than 32 file parts"
                                                          : "malformed body or spool write error");
            }
            continue;
        }
        if (r == 0) {
            ok = false;
            snprintf(why, cap, "gzip body ends early");
            break;
        }
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)r;
        while (ok && z.avail_in > 0 && !end) {
            int zr;

            z.next_out = (Bytef *)out;
            z.avail_out = (uInt)BUF;
            zr = inflate(&z, Z_NO_FLUSH);
            if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
                ok = false;
                snprintf(why, cap, "gzip body: %s", z.msg != NULL ? z.msg : "corrupt");
                break;
            }
            if (!keep_decoded(up, out, BUF - z.avail_out)) {
                ok = false;
                snprintf(why, cap, "decoded copy: %s", strerror(errno));
            } else if (env) {
                ok = envelope_bytes(up, out, BUF - z.avail_out, why, cap);
            } else if (!feed(up, pp, out, BUF - z.avail_out)) {
                ok = false;
                snprintf(why, cap, "malformed body or spool write error");
            }
            end = zr == Z_STREAM_END;
        }
    }
    if (zinit)
        inflateEnd(&z);
    if (ok && env)
        ok = envelope_end(&up->env, why, cap);
    if (pp != NULL && netlib()->destroy_post_processor(pp) != MHD_YES && ok) {
        ok = false;
        snprintf(why, cap, "multipart body ends early");
    }
    for (unsigned i = 0; ok && i < up->n_parts; i++)
        if (fsync(up->part_fd[i]) != 0) {
            ok = false;
            snprintf(why, cap, "part: %s", strerror(errno));
        }
    free(in);
    free(out);
    return ok;
}

/* --- judging the scans -------------------------------------------------------- */

/* What the scan of a part said. */
enum part_state {
    PART_CLEAN,  /* every byte scanned, nothing at or above --fail-on */
    PART_KEYS,   /* every byte scanned, keys found: `redact` may make it clean */
    PART_BAD,    /* anything else: it cannot leave, not even redacted */
};

/* Judges one part's scan; appends its summary and findings to the verdict's
 * arrays. Unless the part is clean, why says why. */
static enum part_state
judge(const struct cli_opts *o, struct scan_run *sr, json_t *summaries, json_t *findings,
      char *why, size_t cap)
{
    json_t *summary = NULL;
    size_t n_found = 0, n_err = 0, n_warn = 0;
    const char *first = NULL;
    bool whole = false;

    n_found = json_array_size(findings);
    summary = scanchild_records(sr, findings);
    n_found = json_array_size(findings) - n_found;
    if (summary != NULL) {
        json_t *e = json_object_get(summary, "errors"), *w = json_object_get(summary, "warnings");

        n_err = json_array_size(e);
        n_warn = json_array_size(w);
        first = json_string_value(json_object_get(json_array_get(n_err ? e : w, 0), "message"));
        {
            const json_t *cov = json_object_get(summary, "coverage");
            json_int_t file = json_integer_value(json_object_get(cov, "file_bytes"));

            whole = json_integer_value(json_object_get(cov, "scanned_bytes")) == file &&
                    json_integer_value(json_object_get(cov, "unreadable_bytes")) == 0 &&
                    json_is_integer(json_object_get(cov, "file_bytes"));
        }
        json_array_append(summaries, summary);
        json_decref(summary);
    }
    if (sr->timed_out)
        snprintf(why, cap, "scan timed out after %u s", o->timeout);
    else if (sr->sig != 0)
        snprintf(why, cap, "scanner crashed: %s", strsignal(sr->sig));
    else if (sr->error[0] != '\0')
        snprintf(why, cap, "scanner error: %s", sr->error);
    else if (summary == NULL || sr->truncated)
        snprintf(why, cap, "scanner error: %s (exit %d)",
                 summary == NULL ? "no summary" : "output too long", sr->exit_code);
    else if (sr->exit_code == 1) {
        snprintf(why, cap, "%zu finding%s (fail-on %s)", n_found, n_found == 1 ? "" : "s",
                 dg_severity_name(o->fail_on));
        return n_err == 0 && whole ? PART_KEYS : PART_BAD;
    } else if (sr->exit_code != 0 || n_err > 0)
        snprintf(why, cap, "scanner error: %s", first != NULL ? first : "exit status 2");
    else if (n_warn > 0 && !whole)
        snprintf(why, cap, "partial scan: %s", first != NULL ? first : "warning");
    else
        return PART_CLEAN;
    return PART_BAD;
}

/* --- HTTP answers ------------------------------------------------------------------ */

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t len)
{
    struct MHD_Response *r =
        netlib()->create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    netlib()->add_response_header(r, "Content-Type", type);
    ret = netlib()->queue_response(c, status, r);
    netlib()->destroy_response(r);
    return ret;
}

static enum MHD_Result
answer_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return answer(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

static enum MHD_Result
metrics(struct gateway *gw, struct MHD_Connection *c)
{
    struct counts n;
    char buf[4096];
    int len;

    pthread_mutex_lock(&gw->lock);
    n = gw->n;
    pthread_mutex_unlock(&gw->lock);
    len = snprintf(buf, sizeof buf,
                   "# TYPE dumpgate_gateway_uploads_total counter\n"
                   "dumpgate_gateway_uploads_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_clean_total counter\n"
                   "dumpgate_gateway_clean_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_quarantined_total counter\n"
                   "dumpgate_gateway_quarantined_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_redacted_total counter\n"
                   "dumpgate_gateway_redacted_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_forwarded_total counter\n"
                   "dumpgate_gateway_forwarded_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_queued_total counter\n"
                   "dumpgate_gateway_queued_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_retried_total counter\n"
                   "dumpgate_gateway_retried_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_rejected_total counter\n"
                   "dumpgate_gateway_rejected_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_bytes_total counter\n"
                   "dumpgate_gateway_bytes_total %" PRIu64 "\n"
                   "# TYPE dumpgate_gateway_scan_seconds histogram\n",
                   n.uploads, n.clean, n.quarantined, n.redacted, n.forwarded, n.queued, n.retried,
                   n.rejected, n.bytes);
    for (size_t b = 0; b < N_BUCKETS && len > 0 && (size_t)len < sizeof buf; b++)
        len += snprintf(buf + len, sizeof buf - (size_t)len,
                        "dumpgate_gateway_scan_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                        scan_buckets[b], n.scan_le[b]);
    if (len > 0 && (size_t)len < sizeof buf)
        len += snprintf(buf + len, sizeof buf - (size_t)len,
                        "dumpgate_gateway_scan_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                        "dumpgate_gateway_scan_seconds_sum %.3f\n"
                        "dumpgate_gateway_scan_seconds_count %" PRIu64 "\n",
                        n.scans, n.scan_seconds, n.scans);
    if (len < 0 || (size_t)len >= sizeof buf)
        return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics too long\n");
    return answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf, (size_t)len);
}

static void
count(struct gateway *gw, uint64_t *field, uint64_t by)
{
    pthread_mutex_lock(&gw->lock);
    *field += by;
    pthread_mutex_unlock(&gw->lock);
}

/* --- forwarding ---------------------------------------------------------------------- */

/* What the upstream needs to receive an upload again: kept beside it in the
 * outbox (NAME.json) until it is delivered. */
struct delivery {
    char *url;                   /* upstream + path + query */
    char *headers[4];            /* "Name: value" lines */
    unsigned n_headers;
};

struct reply {
    long status;
    char *body;
    size_t len;
};

static size_t
on_reply(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n, keep = len;

    if (r->len + keep > REPLY_MAX)
        keep = REPLY_MAX - r->len;
    if (keep > 0) {
        char *nb = realloc(r->body, r->len + keep + 1);

        if (nb == NULL)
            return 0;
        r->body = nb;
        memcpy(r->body + r->len, data, keep);
        r->len += keep;
        r->body[r->len] = '\0';
    }
    return len;
}

static size_t
on_body(char *buf, size_t size, size_t n, void *arg)
{
    int fd = *(const int *)arg;

    for (;;) {
        ssize_t r = read(fd, buf, size * n);

        if (r >= 0)
            return (size_t)r;
        if (errno != EINTR)
            return CURL_READFUNC_ABORT;
    }
}

/* POSTs the body at fd as d says; true when the upstream answered below 500
 * (its status and body in *r), false when it must be tried again. */
static bool
forward(const struct cli_opts *o, int fd, const struct delivery *d, struct reply *r, char *why,
        size_t cap)
{
    CURL *h = netlib()->easy_init();
    struct curl_slist *hl = NULL;
    struct stat st;
    CURLcode rc;

    memset(r, 0, sizeof *r);
    if (h == NULL || fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        snprintf(why, cap, "cannot start the upload");
        netlib()->easy_cleanup(h);
        return false;
    }
    for (unsigned i = 0; i < d->n_headers; i++)
        hl = netlib()->slist_append(hl, d->headers[i]);
    hl = netlib()->slist_append(hl, "Expect:");
    netlib()->easy_setopt(h, CURLOPT_URL, d->url);
    netlib()->easy_setopt(h, CURLOPT_POST, 1L);
    netlib()->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    netlib()->easy_setopt(h, CURLOPT_READFUNCTION, on_body);
    netlib()->easy_setopt(h, CURLOPT_READDATA, &fd);
    netlib()->easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    netlib()->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
    netlib()->easy_setopt(h, CURLOPT_WRITEDATA, r);
    netlib()->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    netlib()->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    netlib()->easy_setopt(h, CURLOPT_TIMEOUT, (long)o->timeout);
    netlib()->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    rc = netlib()->easy_perform(h);
    if (rc == CURLE_OK)
        netlib()->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    else
        snprintf(why, cap, "upstream: %s", netlib()->easy_strerror(rc));
    netlib()->slist_free_all(hl);
    netlib()->easy_cleanup(h);
    if (rc == CURLE_OK && r->status >= 500)
        snprintf(why, cap, "upstream answered %ld", r->status);
    return rc == CURLE_OK && r->status > 0 && r->status < 500;
}

static void
delivery_free(struct delivery *d)
{
    free(d->url);
    for (unsigned i = 0; i < d->n_headers; i++)
        free(d->headers[i]);
    memset(d, 0, sizeof *d);
}

static enum MHD_Result
add_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    char **q = cls;
    char *k = netlib()->easy_escape(NULL, key, 0);
    char *v = value ? netlib()->easy_escape(NULL, value, 0) : NULL;
    char *nq = NULL;

    (void)kind;
    if (k != NULL && asprintf(&nq, "%s%s%s%s%s", *q ? *q : "", *q ? "&" : "?", k, v ? "=" : "",
                              v ? v : "") < 0)
        nq = NULL;
    netlib()->free(k);
    netlib()->free(v);
    if (nq == NULL)
        return MHD_NO;
    free(*q);
    *q = nq;
    return MHD_YES;
}

/* The delivery of the request on c to the upstream. */
static bool
delivery_of(const struct cli_opts *o, struct MHD_Connection *c, const char *url,
            struct delivery *d)
{
    static const char *const keep[] = {"Content-Type", "Content-Encoding", "User-Agent"};
    const char *base = o->upstream;
    size_t bl = strlen(base);
    char *q = NULL;

    memset(d, 0, sizeof *d);
    netlib()->get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_query, &q);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    if (asprintf(&d->url, "%.*s%s%s", (int)bl, base, url, q ? q : "") < 0)
        d->url = NULL;
    free(q);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const char *v = netlib()->lookup_connection_value(c, MHD_HEADER_KIND, keep[i]);

        if (v != NULL && strpbrk(v, "\r\n") == NULL &&
            asprintf(&d->headers[d->n_headers], "%s: %s", keep[i], v) >= 0)
            d->n_headers++;
    }
    return d->url != NULL;
}

static json_t *
delivery_json(const struct delivery *d)
{
    json_t *h = json_array();

    for (unsigned i = 0; i < d->n_headers; i++)
        json_array_append_new(h, json_string(d->headers[i]));
    return json_pack("{s:s, s:o}", "url", d->url, "headers", h);
}

static bool
delivery_from_json(const json_t *v, struct delivery *d)
{
    const json_t *h = json_object_get(v, "headers");

    memset(d, 0, sizeof *d);
    if (json_string_value(json_object_get(v, "url")) == NULL)
        return false;
    d->url = strdup(json_string_value(json_object_get(v, "url")));
    for (size_t i = 0; i < json_array_size(h) && d->n_headers < 4; i++) {
        const char *s = json_string_value(json_array_get(h, i));

        if (s != NULL && strpbrk(s, "\r\n") == NULL)
            d->headers[d->n_headers++] = strdup(s);
    }
    return d->url != NULL;
}

/* --- the outbox ----------------------------------------------------------------------- */

/* Tries every upload in the outbox once; returns how many are left. */
static unsigned
deliver_outbox(struct gateway *gw)
{
    DIR *d = dir_stream(gw->outbox);
    unsigned left = 0;
    struct dirent *e;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        char jname[NAME_MAX + 8];
        json_t *v;
        struct delivery dv;
        struct reply r;
        char why[200] = "";
        int bfd;

        if (nl < 6 || strcmp(e->d_name + nl - 5, ".body") != 0 || e->d_name[0] == '.')
            continue;
        snprintf(jname, sizeof jname, "%.*s.json", (int)(nl - 5), e->d_name);
        v = read_json(gw->outbox, jname);
        if (v == NULL || !delivery_from_json(json_object_get(v, "delivery"), &dv)) {
            json_decref(v);
            left++;
            continue;
        }
        bfd = openat(gw->outbox, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        count(gw, &gw->n.retried, 1);
        if (bfd >= 0 && forward(gw->o, bfd, &dv, &r, why, sizeof why)) {
            glog("%.*s: delivered from the outbox (upstream %ld)", (int)(nl - 5), e->d_name,
                 r.status);
            unlinkat(gw->outbox, e->d_name, 0);
            unlinkat(gw->outbox, jname, 0);
            fsync(gw->outbox);
            count(gw, &gw->n.forwarded, 1);
        } else {
            left++;
        }
        if (bfd >= 0)
            close(bfd);
        free(r.body);
        delivery_free(&dv);
        json_decref(v);
    }
    closedir(d);
    return left;
}

static void *
delivery_thread(void *arg)
{
    struct gateway *gw = arg;
    double wait = RETRY_FIRST;

    pthread_mutex_lock(&gw->lock);
    while (!gw->stopping) {
        struct timespec until;
        double t;
        unsigned left;

        pthread_mutex_unlock(&gw->lock);
        left = deliver_outbox(gw);
        pthread_mutex_lock(&gw->lock);
        wait = left == 0 ? RETRY_FIRST : (wait * 2 > RETRY_MAX ? RETRY_MAX : wait * 2);
        clock_gettime(CLOCK_REALTIME, &until);
        t = (double)until.tv_nsec / 1e9 + wait;
        until.tv_sec += (time_t)t;
        until.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
        pthread_cond_timedwait(&gw->wake, &gw->lock, &until);
    }
    pthread_mutex_unlock(&gw->lock);
    return NULL;
}

/* --- one upload ---------------------------------------------------------------------- */

static void
upload_close_parts(struct upload *up)
{
    for (unsigned i = 0; i < up->n_parts; i++)
        if (up->part_fd[i] >= 0)
            close(up->part_fd[i]);
    up->n_parts = 0;
    if (up->dec_fd >= 0) {
        char dname[128];

        close(up->dec_fd);
        up->dec_fd = -1;
        snprintf(dname, sizeof dname, "%s.dec", up->name);
        unlinkat(up->gw->incoming, dname, 0);
    }
}

/* Removes incoming/NAME.json and NAME.N.part (what goes with a body). */
static void
remove_companions(int dir, const char *name)
{
    char pname[128];

    /* every index: a gateway killed while removing them leaves a gap */
    for (unsigned i = 0; i < MAX_PARTS; i++) {
        snprintf(pname, sizeof pname, "%s.%u.part", name, i);
        unlinkat(dir, pname, 0);
        snprintf(pname, sizeof pname, "%s.%u.red", name, i); /* --redact's copies */
        unlinkat(dir, pname, 0);
        snprintf(pname, sizeof pname, "%s.%u.red.redact.jsonl", name, i);
        unlinkat(dir, pname, 0);
    }
    snprintf(pname, sizeof pname, "%s.dec", name);
    unlinkat(dir, pname, 0);
    snprintf(pname, sizeof pname, "%s.red.dec", name);
    unlinkat(dir, pname, 0);
    snprintf(pname, sizeof pname, "%s.red.body", name);
    unlinkat(dir, pname, 0);
    snprintf(pname, sizeof pname, "%s.json", name);
    unlinkat(dir, pname, 0);
}

/* Removes what an upload left in incoming/ (delivered, refused or failed):
 * the body first, so that a gateway that dies meanwhile leaves no body
 * without its verdict (recover() removes the companions left). */
static void
upload_discard(struct upload *up)
{
    char pname[128];

    upload_close_parts(up);
    snprintf(pname, sizeof pname, "%s.body", up->name);
    unlinkat(up->gw->incoming, pname, 0);
    remove_companions(up->gw->incoming, up->name);
}

/* Quarantines the upload (body, parts, verdict); true when done. */
static bool
quarantine_upload(struct upload *up, json_t *verdict)
{
    struct gateway *gw = up->gw;
    char pname[128], vname[128];
    unsigned n = up->n_parts;
    int err = 0;

    upload_close_parts(up);
    for (unsigned i = 0; i < n && err == 0; i++) {
        snprintf(pname, sizeof pname, "%s.%u.part", up->name, i);
        err = move(gw, gw->quarantine, pname);
    }
    snprintf(pname, sizeof pname, "%s.body", up->name);
    if (err == 0)
        err = move(gw, gw->quarantine, pname);
    snprintf(vname, sizeof vname, "%s.json", up->name);
    if (err == 0)
        err = durable_write_json(gw->quarantine, vname, verdict, false);
    if (err != 0)
        glog("%s: cannot quarantine: %s (left in incoming/)", up->name, strerror(err));
    return err == 0;
}

/* --- --redact: the verified redacted copy goes instead --------------------------- */

/* True when the len bytes of a at a_off equal those of b at b_off. */
static bool
same_bytes(int a, uint64_t a_off, int b, uint64_t b_off, uint64_t len, char *x, char *y,
           size_t buf)
{
    while (len > 0) {
        size_t n = len < buf ? (size_t)len : buf;

        if (fd_pread_all(a, x, n, a_off) != DG_OK || fd_pread_all(b, y, n, b_off) != DG_OK ||
            memcmp(x, y, n) != 0)
            return false;
        a_off += n;
        b_off += n;
        len -= n;
    }
    return true;
}

/* Where part (len bytes) lies in the decoded body src, at or after from: a
 * multipart file part is a run of the body's bytes (libmicrohttpd hands out
 * no offsets), found by its first bytes and checked whole. UINT64_MAX if
 * nowhere. */
static uint64_t
locate(int src, uint64_t src_len, uint64_t from, int part, uint64_t len)
{
    enum { BLOCK = 1 << 20, HEAD = 4096 };
    size_t head = len < HEAD ? (size_t)len : HEAD;
    char *h = malloc(HEAD), *blk = malloc(BLOCK + HEAD), *x = malloc(65536), *y = malloc(65536);
    uint64_t found = UINT64_MAX;

    if (h != NULL && blk != NULL && x != NULL && y != NULL && head > 0 &&
        fd_pread_all(part, h, head, 0) == DG_OK) {
        for (uint64_t at = from; found == UINT64_MAX && at + len <= src_len; at += BLOCK) {
            size_t n = (size_t)(src_len - at < BLOCK + head - 1 ? src_len - at : BLOCK + head - 1);

            if (fd_pread_all(src, blk, n, at) != DG_OK)
                break;
            for (const char *p = blk; found == UINT64_MAX && (size_t)(p - blk) + head <= n;) {
                const char *m = memmem(p, n - (size_t)(p - blk), h, head);
                uint64_t cand;

                if (m == NULL || (size_t)(m - blk) >= BLOCK)
                    break;
                cand = at + (uint64_t)(m - blk);
                if (cand + len <= src_len && same_bytes(src, cand, part, 0, len, x, y, 65536))
                    found = cand;
                p = m + 1;
            }
        }
    }
    free(h);
    free(blk);
    free(x);
    free(y);
    return found;
}

/* Copies len bytes of src at src_off to dst at dst_off. */
static bool
copy_range(int src, uint64_t src_off, int dst, uint64_t dst_off, uint64_t len)
{
    char *buf = malloc(1u << 20);
    uint64_t at = 0;

    while (buf != NULL && at < len) {
        size_t n = len - at < (1u << 20) ? (size_t)(len - at) : (1u << 20);

        if (fd_pread_all(src, buf, n, src_off + at) != DG_OK ||
            fd_pwrite_all(dst, buf, n, dst_off + at) != DG_OK)
            break;
        at += n;
    }
    free(buf);
    return buf != NULL && at == len;
}

/* Copies src (len bytes) to a new file dir/name; its descriptor or -1. */
static int
copy_to(int dir, const char *name, int src, uint64_t len)
{
    int fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd >= 0 && !copy_range(src, 0, fd, 0, len)) {
        close(fd);
        unlinkat(dir, name, 0);
        fd = -1;
    }
    return fd;
}

/* gzips src (len bytes) into a new file dir/name (recompress.h, as redact
 * writes a gzip dump back); its descriptor or -1. */
static int
gzip_to(int dir, const char *name, int src, uint64_t len)
{
    int fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    char why[200];

    if (fd >= 0 && recompress(DC_GZIP, src, len, fd, why, sizeof why) != DG_OK) {
        close(fd);
        unlinkat(dir, name, 0);
        fd = -1;
    }
    return fd;
}

/* Redacts every part that holds keys (`dumpgate redact`, which proves its
 * copy clean by a re-scan), patches the copies into a copy of the decoded
 * body at their places (same sizes: the structure of the form or envelope is
 * untouched), gzips it again when the body came gzipped, and forwards that
 * instead; the original upload goes to the quarantine with the verdict and
 * the redaction reports. True when done (*ret is the answer); false with why
 * when the upload can only be quarantined. */
static bool
redact_and_forward(struct upload *up, struct MHD_Connection *c, const enum part_state *state,
                   const struct delivery *dv, json_t *verdict, char *why, size_t cap,
                   enum MHD_Result *ret)
{
    struct gateway *gw = up->gw;
    const struct cli_opts *o = gw->o;
    int src = up->dec_fd >= 0 ? up->dec_fd : up->fd, red = -1, out = -1;
    char spool[PATH_MAX], name[128], rname[128], msg[512];
    json_t *reports = json_array();
    struct stat st;
    uint64_t from = 0;
    struct reply r;
    bool ok = realpath(o->spool, spool) != NULL && fstat(src, &st) == 0;

    memset(&r, 0, sizeof r);
    if (!ok)
        snprintf(why, cap, "spool: %s", strerror(errno));
    snprintf(rname, sizeof rname, "%s.red.dec", up->name);
    if (ok && (red = copy_to(gw->incoming, rname, src, (uint64_t)st.st_size)) < 0) {
        ok = false;
        snprintf(why, cap, "redacted copy: %s", strerror(errno));
    }
    for (unsigned i = 0; ok && i < up->n_parts; i++) {
        struct stat ps;
        struct scan_run sr;
        char out_path[PATH_MAX + 256], pname[128];
        int pfd;

        if (fstat(up->part_fd[i], &ps) != 0) {
            ok = false;
            snprintf(why, cap, "part %u: %s", i, strerror(errno));
            break;
        }
        if (up->part_at[i] == UINT64_MAX && (int)i != up->fields)
            up->part_at[i] = locate(src, (uint64_t)st.st_size, from, up->part_fd[i],
                                    (uint64_t)ps.st_size);
        if ((int)i != up->fields && up->part_at[i] != UINT64_MAX)
            from = up->part_at[i] + (uint64_t)ps.st_size;
        if (state[i] != PART_KEYS)
            continue;
        if (up->part_at[i] == UINT64_MAX) {
            ok = false;
            snprintf(why, cap, "part %u: not found in the body", i);
            break;
        }
        snprintf(pname, sizeof pname, "%s.%u.red", up->name, i);
        snprintf(out_path, sizeof out_path, "%s/incoming/%s", spool, pname);
        scanchild_redact(o, up->part_fd[i], out_path, &sr);
        free(sr.out);
        if (sr.exit_code != 0) {
            ok = false;
            snprintf(why, cap, "part %u: redact %s", i,
                     sr.timed_out ? "timed out" : sr.error[0] ? sr.error : "found keys it could not remove, or failed");
            break;
        }
        {
            char rep[160];
            json_t *lines = json_array();
            int rfd;
            FILE *rf;
            char *line = NULL;
            size_t lcap = 0;

            snprintf(rep, sizeof rep, "%s.redact.jsonl", pname);
            rfd = openat(gw->incoming, rep, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            rf = rfd >= 0 ? fdopen(rfd, "r") : NULL;
            if (rf == NULL && rfd >= 0)
                close(rfd);
            while (rf != NULL && getline(&line, &lcap, rf) > 0)
                json_array_append_new(lines, json_loads(line, 0, NULL) ?: json_null());
            free(line);
            if (rf != NULL)
                fclose(rf);
            json_array_append_new(reports, json_pack("{s:I, s:I, s:o}", "part", (json_int_t)i,
                                                     "at", (json_int_t)up->part_at[i], "report",
                                                     lines));
        }
        pfd = openat(gw->incoming, pname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0 || fstat(pfd, &ps) != 0 || up->part_at[i] + (uint64_t)ps.st_size > (uint64_t)st.st_size) {
            ok = false;
            snprintf(why, cap, "part %u: redacted copy unusable", i);
        } else {
            if (!copy_range(pfd, 0, red, up->part_at[i], (uint64_t)ps.st_size)) {
                ok = false;
                snprintf(why, cap, "part %u: patching the copy failed", i);
            }
        }
        if (pfd >= 0)
            close(pfd);
    }
    snprintf(name, sizeof name, "%s.red.body", up->name);
    if (ok && up->gz) {
        out = gzip_to(gw->incoming, name, red, (uint64_t)st.st_size);
        ok = out >= 0;
        if (!ok)
            snprintf(why, cap, "gzip of the redacted copy failed");
    } else if (ok) {
        ok = renameat2(gw->incoming, rname, gw->incoming, name, RENAME_NOREPLACE) == 0;
        out = ok ? red : -1;
        red = ok ? -1 : red;
        if (!ok)
            snprintf(why, cap, "redacted copy: %s", strerror(errno));
    }
    if (red >= 0)
        close(red);
    unlinkat(gw->incoming, rname, 0);
    if (!ok || fsync(out) != 0) {
        if (ok)
            snprintf(why, cap, "redacted copy: %s", strerror(errno));
        if (out >= 0)
            close(out);
        unlinkat(gw->incoming, name, 0);
        json_decref(reports);
        return false;
    }
    /* the original, its parts, the redacted parts and the verdict: quarantine */
    json_object_set_new(verdict, "verdict", json_string("redacted"));
    json_object_set_new(verdict, "redacted", reports);
    for (unsigned i = 0; i < MAX_PARTS; i++) {
        char pn[160];

        snprintf(pn, sizeof pn, "%s.%u.red", up->name, i);
        if (move(gw, gw->quarantine, pn) == 0) {
            snprintf(pn, sizeof pn, "%s.%u.red.redact.jsonl", up->name, i);
            move(gw, gw->quarantine, pn);
        }
    }
    count(gw, &gw->n.quarantined, 1);
    count(gw, &gw->n.redacted, 1);
    quarantine_upload(up, verdict);
    if (forward(o, out, dv, &r, why, cap)) {
        count(gw, &gw->n.forwarded, 1);
        glog("%s: dirty, its verified redacted copy forwarded (upstream %ld)", up->name,
             r.status);
        unlinkat(gw->incoming, name, 0);
        *ret = answer(c, (unsigned)r.status, "text/plain; charset=utf-8",
                      r.body != NULL ? r.body : "", r.len);
    } else {
        /* queued like a clean upload: the outbox holds NAME.body + NAME.json */
        char oname[128], ojson[128];
        json_t *d = json_pack("{s:s, s:s, s:o}", "verdict", "redacted", "upload", up->name,
                              "delivery", delivery_json(dv));

        snprintf(oname, sizeof oname, "%s.r.body", up->name);
        snprintf(ojson, sizeof ojson, "%s.r.json", up->name);
        count(gw, &gw->n.queued, 1);
        if (durable_write_json(gw->outbox, ojson, d, false) != 0 ||
            renameat2(gw->incoming, name, gw->outbox, oname, RENAME_NOREPLACE) != 0 ||
            fsync(gw->outbox) != 0)
            glog("%s: the redacted copy could not be queued: %s", up->name, strerror(errno));
        json_decref(d);
        pthread_cond_signal(&gw->wake);
        snprintf(msg, sizeof msg, "Queued=%s\n", up->name);
        *ret = answer_text(c, MHD_HTTP_OK, msg);
    }
    close(out);
    free(r.body);
    return true;
}

static enum MHD_Result
finish_upload(struct upload *up, struct MHD_Connection *c, const char *url)
{
    struct gateway *gw = up->gw;
    const struct cli_opts *o = gw->o;
    json_t *summaries = json_array(), *findings = json_array(), *verdict;
    struct delivery dv;
    char why[320] = "", msg[512];
    bool clean = true, redactable = true;
    enum part_state state[MAX_PARTS];
    double t0 = deadline_now();

    if (fsync(up->fd) != 0 || fsync(gw->incoming) != 0) {
        glog("%s: cannot store: %s", up->name, strerror(errno));
        upload_discard(up);
        json_decref(summaries);
        json_decref(findings);
        return answer_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "dumpgate: cannot store the upload\n");
    }
    count(gw, &gw->n.bytes, up->bytes);
    /* from here on the upload is the spool's: never an error answer */
    if (!split_parts(up, c, url, why, sizeof why)) {
        clean = false;
        redactable = false;
    }
    /* every part, with --redact: which ones hold keys decides whether a
     * redacted copy can go */
    for (unsigned i = 0; i < up->n_parts && (clean || (o->redact_copy && redactable)); i++) {
        struct scan_run sr;
        char pwhy[320];

        scanchild_run(o, up->part_fd[i], &sr);
        state[i] = judge(o, &sr, summaries, findings, pwhy, sizeof pwhy);
        free(sr.out);
        if (state[i] != PART_CLEAN) {
            if (clean)
                snprintf(why, sizeof why, "%s", pwhy);
            clean = false;
        }
        if (state[i] == PART_BAD || (state[i] == PART_KEYS && (int)i == up->fields))
            redactable = false; /* fields are no one span of the body */
    }
    {
        double t = deadline_now() - t0;

        pthread_mutex_lock(&gw->lock);
        gw->n.scan_seconds += t;
        gw->n.scans++;
        for (size_t b = 0; b < N_BUCKETS; b++)
            gw->n.scan_le[b] += t <= scan_buckets[b];
        pthread_mutex_unlock(&gw->lock);
    }
    if (!delivery_of(o, c, url, &dv))
        clean = clean ? (snprintf(why, sizeof why, "out of memory"), false) : false;
    verdict = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o}", "dumpgate", DG_VERSION,
                        "upload", up->name, "verdict", clean ? "clean" : "quarantine", "reason",
                        clean ? "no finding" : why, "bytes", (json_int_t)up->bytes, "parts",
                        (json_int_t)up->n_parts, "summaries", summaries, "findings", findings,
                        "delivery", dv.url != NULL ? delivery_json(&dv) : json_null());
    if (!clean && o->redact_copy && redactable && dv.url != NULL) {
        enum MHD_Result ret;

        char rwhy[320] = "";

        if (redact_and_forward(up, c, state, &dv, verdict, rwhy, sizeof rwhy, &ret)) {
            json_decref(verdict);
            delivery_free(&dv);
            return ret;
        }
        glog("%s: not redacted: %s", up->name, rwhy);
        json_object_set_new(verdict, "redaction_failed", json_string(rwhy));
    }
    if (!clean) {
        count(gw, &gw->n.quarantined, 1);
        glog("%s: quarantined (%" PRIu64 " bytes): %s", up->name, up->bytes, why);
        quarantine_upload(up, verdict);
        json_decref(verdict);
        delivery_free(&dv);
        snprintf(msg, sizeof msg, "%s %s: %s\n",
                 o->dirty_answer != NULL ? o->dirty_answer : "Discarded=dumpgate quarantined",
                 up->name, why);
        return answer_text(c, MHD_HTTP_OK, msg);
    }
    count(gw, &gw->n.clean, 1);
    upload_close_parts(up);
    {
        struct reply r;
        char body[128], vname[128];
        enum MHD_Result ret;
        int err;

        snprintf(body, sizeof body, "%s.body", up->name);
        snprintf(vname, sizeof vname, "%s.json", up->name);
        /* the clean verdict first: a gateway that dies from here on leaves
         * an upload that recover() sends again rather than quarantines */
        err = durable_write_json(gw->incoming, vname, verdict, false);
        if (err == 0 && forward(o, up->fd, &dv, &r, why, sizeof why)) {
            count(gw, &gw->n.forwarded, 1);
            glog("%s: clean, forwarded (%" PRIu64 " bytes, upstream %ld)", up->name, up->bytes,
                 r.status);
            upload_discard(up);
            ret = answer(c, (unsigned)r.status, "text/plain; charset=utf-8",
                         r.body != NULL ? r.body : "", r.len);
        } else {
            count(gw, &gw->n.queued, 1);
            if (err != 0)
                snprintf(why, sizeof why, "verdict: %s", strerror(err));
            else
                memset(&r, 0, sizeof r);
            err = err != 0 ? durable_write_json(gw->outbox, vname, verdict, false)
                           : move(gw, gw->outbox, vname);
            if (err == 0)
                err = move(gw, gw->outbox, body);
            glog("%s: clean, queued for delivery: %s%s%s", up->name, why, err ? ": " : "",
                 err ? strerror(err) : "");
            remove_companions(gw->incoming, up->name); /* the parts: the body holds them */
            pthread_cond_signal(&gw->wake);
            snprintf(msg, sizeof msg, "Queued=%s\n", up->name);
            ret = answer_text(c, MHD_HTTP_OK, msg);
        }
        free(r.body);
        json_decref(verdict);
        delivery_free(&dv);
        return ret;
    }
}

/* True when the (decoded) path can go into the upstream's URL as it is:
 * it starts with '/' and is printable ASCII without spaces (nothing a
 * client sends could then split or bend the forwarded request, and a
 * request that would fail upstream for ever is refused before it is
 * accepted). */
static bool
plain_path(const char *url)
{
    if (url[0] != '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return false;
    return strlen(url) < 2048;
}

/* True when no client certificate is required, or the client presented one
 * that GnuTLS verified against --tls-client-ca. */
static bool
client_certified(const struct gateway *gw, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t tls;
    unsigned list = 0, status = 1;

    if (gw->o->tls_client_ca == NULL)
        return true;
    ci = netlib()->get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || (tls = (gnutls_session_t)ci->tls_session) == NULL)
        return false;
    return netlib()->certificate_get_peers(tls, &list) != NULL && list > 0 &&
           netlib()->certificate_verify_peers2(tls, &status) == GNUTLS_E_SUCCESS && status == 0;
}

/* True when the request carries the bearer token (or none is required). */
static bool
authorized(const struct gateway *gw, struct MHD_Connection *c)
{
    const char *a = netlib()->lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    unsigned char diff = 0;

    if (gw->token_len == 0)
        return true;
    if (a == NULL || strncmp(a, "Bearer ", 7) != 0 || strlen(a + 7) != gw->token_len)
        return false;
    for (size_t i = 0; i < gw->token_len; i++)
        diff |= (unsigned char)(a[7 + i] ^ gw->token[i]);
    return diff == 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *data, size_t *size, void **state)
{
    struct gateway *gw = cls;
    struct upload *up = *state;

    (void)version;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        if (strcmp(url, "/healthz") == 0)
            return answer_text(c, MHD_HTTP_OK, "ok\n");
        if (strcmp(url, "/metrics") == 0)
            return metrics(gw, c);
        return answer_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)
        return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST an upload\n");
    if (up == NULL && !plain_path(url)) {
        count(gw, &gw->n.rejected, 1);
        return answer_text(c, MHD_HTTP_BAD_REQUEST, "dumpgate: a path of printable ASCII, please\n");
    }
    if (up == NULL) {
        const char *cl = netlib()->lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        char bname[128];
        uint64_t seq;

        if (!client_certified(gw, c)) {
            count(gw, &gw->n.rejected, 1);
            return answer_text(c, MHD_HTTP_FORBIDDEN,
                               "dumpgate: a client certificate from the trusted CA is needed\n");
        }
        if (!authorized(gw, c)) {
            count(gw, &gw->n.rejected, 1);
            return answer_text(c, MHD_HTTP_UNAUTHORIZED, "dumpgate: a bearer token is needed\n");
        }
        if (gw->o->max_upload > 0 && cl != NULL &&
            strtoull(cl, NULL, 10) > gw->o->max_upload) {
            count(gw, &gw->n.rejected, 1);
            return answer_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "dumpgate: upload too large\n");
        }
        if ((up = calloc(1, sizeof *up)) == NULL)
            return MHD_NO;
        up->gw = gw;
        up->fields = -1;
        up->dec_fd = -1;
        pthread_mutex_lock(&gw->lock);
        seq = ++gw->seq;
        gw->n.uploads++;
        pthread_mutex_unlock(&gw->lock);
        snprintf(up->name, sizeof up->name, "up.%lld.%ld.%" PRIu64, (long long)time(NULL),
                 (long)getpid(), seq);
        snprintf(bname, sizeof bname, "%s.body", up->name);
        up->fd = openat(gw->incoming, bname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0600);
        /* locked while this gateway works on it: recover() takes only
         * uploads whose gateway died (several may share a spool) */
        if (up->fd < 0 || flock(up->fd, LOCK_EX | LOCK_NB) != 0)
            up->failed = true;
        *state = up;
        return MHD_YES;
    }
    if (*size > 0) {
        if (!up->failed && !up->too_big) {
            if (gw->o->max_upload > 0 && up->bytes + *size > gw->o->max_upload) {
                up->too_big = true;
            } else {
                if (fd_write_all(up->fd, data, *size) != DG_OK)
                    up->failed = true;
                up->bytes += *size;
            }
        }
        *size = 0;
        return MHD_YES;
    }
    up->complete = true;
    if (up->too_big || up->failed) {
        count(gw, &gw->n.rejected, 1);
        glog("%s: refused: %s", up->name, up->too_big ? "too large" : "cannot store");
        upload_discard(up);
        return up->too_big
                   ? answer_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "dumpgate: upload too large\n")
                   : answer_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "dumpgate: cannot store the upload\n");
    }
    return finish_upload(up, c, url);
}

static void
on_done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode code)
{
    struct upload *up = *state;

    (void)cls;
    (void)c;
    if (up == NULL)
        return;
    if (!up->complete) {
        /* cut off (timeout, client gone) before the whole body came: nothing
         * was accepted and nothing was answered; the client still has it */
        glog("%s: connection ended after %" PRIu64 " bytes of the body (code %d); not kept",
             up->name, up->bytes, (int)code);
        upload_discard(up);
    }
    upload_close_parts(up);
    if (up->fd >= 0)
        close(up->fd);
    free(up);
    *state = NULL;
}

/* --- after a crash ------------------------------------------------------------------ */

/* Removes the temporary files (".NAME.PID.tmp", durable.h) that writers
 * which are no longer alive left in dir. */
static void
remove_stale_tmp(int dir)
{
    DIR *d = dir_stream(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        const char *p;
        long pid;

        if (strncmp(e->d_name, ".up.", 4) != 0 || nl < 9 || strcmp(e->d_name + nl - 4, ".tmp") != 0)
            continue;
        for (p = e->d_name + nl - 5; p > e->d_name && *p >= '0' && *p <= '9'; p--)
            ;
        pid = strtol(p + 1, NULL, 10);
        if (*p == '.' && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            unlinkat(dir, e->d_name, 0);
    }
    closedir(d);
}

/* Quarantines every upload in incoming/ that no live gateway holds: one whose
 * gateway died (kill -9, power cut) after storing it and before answering.
 * Its client got no answer (Crashpad does not send it again), so it is kept,
 * never forwarded unscanned and never dropped. Returns how many. */
static unsigned
recover(struct gateway *gw)
{
    DIR *d = dir_stream(gw->incoming);
    unsigned n = 0;
    struct dirent *e;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        struct upload up;
        json_t *v;

        if (nl < 9 || nl - 5 >= sizeof up.name || strncmp(e->d_name, "up.", 3) != 0 ||
            strcmp(e->d_name + nl - 5, ".body") != 0)
            continue;
        memset(&up, 0, sizeof up);
        up.gw = gw;
        up.fields = -1;
        up.dec_fd = -1;
        snprintf(up.name, sizeof up.name, "%.*s", (int)(nl - 5), e->d_name);
        up.fd = openat(gw->incoming, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (up.fd < 0 || flock(up.fd, LOCK_EX | LOCK_NB) != 0) {
            if (up.fd >= 0)
                close(up.fd);
            continue; /* a live gateway's */
        }
        for (unsigned i = 0; i < MAX_PARTS; i++) { /* its parts, to move along */
            char pname[128];
            int pfd;

            snprintf(pname, sizeof pname, "%s.%u.part", up.name, i);
            if ((pfd = openat(gw->incoming, pname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                break;
            up.part_fd[up.n_parts++] = pfd;
        }
        {
            char vname[128];

            snprintf(vname, sizeof vname, "%s.json", up.name);
            v = read_json(gw->incoming, vname);
            if (v != NULL &&
                strcmp(json_string_value(json_object_get(v, "verdict")) ?: "", "clean") == 0 &&
                json_is_object(json_object_get(v, "delivery")) &&
                move(gw, gw->outbox, vname) == 0 && move(gw, gw->outbox, e->d_name) == 0) {
                /* scanned clean, maybe forwarded: sent again (at least once) */
                upload_close_parts(&up);
                remove_companions(gw->incoming, up.name);
                glog("%s: recovered into the outbox (scanned clean before its gateway stopped)",
                     up.name);
                json_decref(v);
                close(up.fd);
                continue;
            }
            json_decref(v);
            unlinkat(gw->incoming, vname, 0); /* not a clean verdict: nothing to keep */
        }
        v = json_pack("{s:s, s:s, s:s, s:s}", "dumpgate", DG_VERSION, "upload", up.name, "verdict",
                      "quarantine", "reason",
                      "the gateway stopped before answering this upload; not scanned");
        if (quarantine_upload(&up, v)) {
            n++;
            count(gw, &gw->n.quarantined, 1);
            glog("%s: recovered into quarantine (its gateway stopped before answering)", up.name);
        }
        json_decref(v);
        close(up.fd);
    }
    /* companions whose body is gone (their gateway died deleting them) */
    rewinddir(d);
    while ((e = readdir(d)) != NULL) {
        char name[96], bname[128];
        const char *dot;
        struct stat st;

        if (strncmp(e->d_name, "up.", 3) != 0 || (dot = strchr(e->d_name + 3, '.')) == NULL ||
            (dot = strchr(dot + 1, '.')) == NULL || (dot = strchr(dot + 1, '.')) == NULL ||
            (size_t)(dot - e->d_name) >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(dot - e->d_name), e->d_name);
        snprintf(bname, sizeof bname, "%s.body", name);
        if (fstatat(gw->incoming, bname, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
            remove_companions(gw->incoming, name);
    }
    closedir(d);
    return n;
}

/* --- the server ------------------------------------------------------------------------ */

static bool
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    char *end;
    unsigned long port;

    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return false;
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port > 65535)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

        host[strlen(host) - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
    }
    {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *len = sizeof *a;
        return inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &a->sin_addr) == 1;
    }
}

static bool
read_token(struct gateway *gw, const char *path)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (f == NULL) {
        glog("--token-file %s: %s", path, strerror(errno));
        return false;
    }
    n = fread(gw->token, 1, sizeof gw->token - 1, f);
    fclose(f);
    while (n > 0 && (gw->token[n - 1] == '\n' || gw->token[n - 1] == '\r'))
        n--;
    gw->token[n] = '\0';
    gw->token_len = n;
    if (n == 0 || strpbrk(gw->token, "\r\n") != NULL) {
        glog("--token-file %s: want one line with the token", path);
        return false;
    }
    return true;
}

/* Reads a PEM file of at most 1 MiB into a new NUL-terminated buffer. */
static char *
read_pem(const char *what, const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = f != NULL ? malloc((1u << 20) + 1) : NULL;
    size_t n = 0;

    if (buf != NULL) {
        n = fread(buf, 1, 1u << 20, f);
        buf[n] = '\0';
    }
    if (f == NULL || buf == NULL || ferror(f) || n == 0 || n == (1u << 20) ||
        strstr(buf, "-----BEGIN ") == NULL) {
        glog("%s %s: %s", what, path,
             f == NULL ? strerror(errno) : "not a PEM file of at most 1 MiB");
        if (buf != NULL)
            OPENSSL_cleanse(buf, (1u << 20) + 1);
        free(buf);
        buf = NULL;
    }
    if (f != NULL)
        fclose(f);
    return buf;
}

static void
free_pem(char *p)
{
    if (p != NULL)
        OPENSSL_cleanse(p, strlen(p));
    free(p);
}

int
gateway_run(const struct cli_opts *o)
{
    char *cert = NULL, *key = NULL, *ca = NULL, why[300];
    struct gateway gw;
    struct sockaddr_storage ss;
    socklen_t sl;
    struct MHD_Daemon *d = NULL;
    sigset_t sigs;
    pthread_t deliverer;
    bool have_deliverer = false;
    int sig = 0, status = 2;

    memset(&gw, 0, sizeof gw);
    gw.o = o;
    gw.dir = gw.incoming = gw.quarantine = gw.outbox = -1;
    pthread_mutex_init(&gw.lock, NULL);
    pthread_cond_init(&gw.wake, NULL);
    if (!parse_listen(o->listen, &ss, &sl)) {
        glog("--listen wants ADDRESS:PORT (127.0.0.1:8080, [::1]:8080), not '%s'", o->listen);
        goto out;
    }
    if (strncmp(o->upstream, "http://", 7) != 0 && strncmp(o->upstream, "https://", 8) != 0) {
        glog("--upstream wants an http:// or https:// URL, not '%s'", o->upstream);
        goto out;
    }
    if ((o->token_file != NULL && !read_token(&gw, o->token_file)) || !spool_open(&gw))
        goto out;
    if (o->tls_cert != NULL &&
        ((cert = read_pem("--tls-cert", o->tls_cert)) == NULL ||
         (key = read_pem("--tls-key", o->tls_key)) == NULL ||
         (o->tls_client_ca != NULL && (ca = read_pem("--tls-client-ca", o->tls_client_ca)) == NULL)))
        goto out;
    remove_stale_tmp(gw.incoming);
    remove_stale_tmp(gw.quarantine);
    remove_stale_tmp(gw.outbox);
    recover(&gw);
    if (netlib_load(why, sizeof why) == NULL) {
        glog("%s", why);
        goto out;
    }
    if (netlib()->global_init(CURL_GLOBAL_DEFAULT) != 0) {
        glog("libcurl: cannot start");
        goto out;
    }
    /* the signals are taken by sigwait below, in no other thread */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    {
        /* TLS options go first in the array; unused slots end it early */
        struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL}};
        size_t nt = 0;

        if (cert != NULL) {
            tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
            tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
        }
        if (ca != NULL)
            tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, ca};
        tls[nt] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        d = netlib()->start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
                (cert != NULL ? MHD_USE_TLS : 0) | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
            0, NULL, NULL, on_request, &gw, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)(o->max_uploads ? o->max_uploads : 64), MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)(o->receive_timeout ? o->receive_timeout : 60), MHD_OPTION_NOTIFY_COMPLETED,
            on_done, NULL, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    }
    if (d == NULL) {
        glog("cannot listen on %s: %s", o->listen, strerror(errno));
        netlib()->global_cleanup();
        goto out;
    }
    have_deliverer = pthread_create(&deliverer, NULL, delivery_thread, &gw) == 0;
    glog("listening on %s, upstream %s, spool %s", o->listen, o->upstream, o->spool);
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        pthread_cond_signal(&gw.wake);
    glog("stopping on signal %d", sig);
    netlib()->stop_daemon(d);
    pthread_mutex_lock(&gw.lock);
    gw.stopping = true;
    pthread_cond_signal(&gw.wake);
    pthread_mutex_unlock(&gw.lock);
    if (have_deliverer)
        pthread_join(deliverer, NULL);
    netlib()->global_cleanup();
    status = 0;
out:
    free_pem(cert);
    free_pem(key);
    free_pem(ca);
    OPENSSL_cleanse(gw.token, sizeof gw.token);
    {
        int fds[] = {gw.dir, gw.incoming, gw.quarantine, gw.outbox};

        for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    }
    pthread_cond_destroy(&gw.wake);
    pthread_mutex_destroy(&gw.lock);
    return status;
}
