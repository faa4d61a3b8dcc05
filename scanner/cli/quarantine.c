/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * quarantine.c - `dumpgate quarantine list|show|release|expire`: what
 * happens to a dump after the core handler (handler.c) has judged it.
 *
 * The spool is the handler's (SPOOL/incoming, clean, quarantine) plus
 * SPOOL/released, made here (0700) for dumps a person reviewed and let go:
 *
 *   list     one line per dump in quarantine/: name, size, age, the reason
 *            of its verdict, the number of findings and their fingerprints
 *            (a dump without a readable verdict is listed as "no verdict")
 *   show     the verdict of one dump, for people or as raw JSON
 *   release  moves NAME and NAME.json to released/ (renameat2 with
 *            RENAME_NOREPLACE: never over an existing file), records who,
 *            why and when in the verdict (written durably), then may run a
 *            program with the dump's path as its one argument (execv)
 *   expire   the retention policy: deletes the dumps older than N days, then
 *            the oldest until the quarantine holds at most N bytes. This is
 *            the one place dumpgate deletes a dump, so it acts only on
 *            regular files of quarantine/ whose names are dump names, through
 *            the directory's descriptor (openat, unlinkat; O_NOFOLLOW), and
 *            never opens clean/ or incoming/.
 *
 * Every action may then write the spool's counts as a Prometheus textfile
 * (tmp file, fsync, rename). Text output escapes every byte it took from a
 * verdict or a file name that is not printable ASCII (\xNN): those come from
 * the crashed process. The verdict format is handler.c's (dumpgate(1),
 * QUARANTINE); errors are one line naming the spool or file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <dumpgate/dumpgate.h>

#include "../report/report.h"
#include "durable.h"
#include "quarantine.h"

#define VERDICT_MAX (64u << 20) /* bytes of a verdict we read, at most */
#define NAME_MAX_LEN 240        /* bytes of a dump's name, at most */
#define REASON_MAX 2000         /* bytes of --reason and --by, at most */
#define PATH_CAP (PATH_MAX + 512) /* bytes of SPOOL/DIR/NAME, with room */

#define EXIT_OK 0
#define EXIT_ERROR 2

/* The spool, opened. */
struct qspool {
    const char *path;           /* as given */
    char abs[PATH_MAX];         /* absolute, for the paths in verdicts */
    int dir;                    /* the spool */
    int quarantine;             /* SPOOL/quarantine (O_NOFOLLOW) */
    char qpath[PATH_MAX + 16];  /* "SPOOL/quarantine", as given, for messages */
};

/* One dump in a spool directory. */
struct entry {
    char name[NAME_MAX_LEN + 1];  /* the dump's file name */
    char vname[NAME_MAX_LEN + 8]; /* its verdict's file name */
    uint64_t bytes;             /* the dump's size */
    uint64_t vbytes;            /* the verdict's size; 0 when it is not a regular file */
    time_t mtime;               /* the dump's modification time (when it was received) */
    dev_t dev;
    ino_t ino;
};

struct entries {
    struct entry *v;
    size_t n, cap;
};

/* What the spool holds, for the metrics. */
struct counts {
    uint64_t quarantine_dumps;
    uint64_t quarantine_bytes;  /* dumps and their verdicts */
    uint64_t released_dumps;
    uint64_t clean_dumps;       /* verdicts in clean/ (a swept clean dump stays put) */
    int64_t oldest_seconds;     /* age of the oldest quarantined dump; 0 when none */
};

static void qerror(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr: "dumpgate: error: ...". */
static void
qerror(const char *fmt, ...)
{
    va_list ap;

    fputs("dumpgate: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* --- text for people --------------------------------------------------------- */

/* report_escaped() of a NUL-terminated string into buf (for messages); buf
 * is always terminated, the tail cut if it does not fit. Returns buf. */
static const char *
esc(const char *s, char *buf, size_t cap)
{
    FILE *f = fmemopen(buf, cap, "w");

    buf[0] = '\0';
    if (f != NULL) {
        setbuf(f, NULL);
        report_escaped(f, s, strlen(s));
        fclose(f);
    }
    buf[cap - 1] = '\0';
    return buf;
}

/* A JSON string value, escaped; "-" when v is not a string. */
static void
put_jstr(FILE *out, const json_t *v)
{
    if (json_is_string(v))
        report_escaped(out, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        fputc('-', out);
}

/* Text before, then member key of object o, on standard output. */
static void
put_member(const char *before, const json_t *o, const char *key)
{
    fputs(before, stdout);
    put_jstr(stdout, json_object_get(o, key));
}

static void
put_str(FILE *out, const char *s)
{
    report_escaped(out, s, strlen(s));
}

static const char *
human_age(int64_t s, char *buf, size_t cap)
{
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(buf, cap, "%" PRId64 "s", s);
    else if (s < 2 * 3600)
        snprintf(buf, cap, "%" PRId64 "m", s / 60);
    else if (s < 2 * 86400)
        snprintf(buf, cap, "%" PRId64 "h", s / 3600);
    else
        snprintf(buf, cap, "%" PRId64 "d", s / 86400);
    return buf;
}

/* ISO 8601 in UTC: 2026-11-22T10:00:00Z. */
static const char *
iso_time(time_t t, char *buf, size_t cap)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%lld", (long long)t);
    return buf;
}

/* --- names and directories ------------------------------------------------- */

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Is name one the handler gives a dump? core.COMM.UID.PID.SIG.TIME.HPID.core
 * in the spool, or systemd-coredump's core.COMM.UID.BOOTID.PID.USEC[.zst]
 * kept by --sweep: "core.", at least five dots, the characters the handler
 * and systemd-coredump write ([A-Za-z0-9_+@.-] and systemd's \x escapes),
 * no "..", and none of the handler's other suffixes. */
static bool
dump_name_ok(const char *name)
{
    size_t len = strlen(name), dots = 0;

    if (len > NAME_MAX_LEN || strncmp(name, "core.", 5) != 0 || strstr(name, "..") != NULL ||
        ends_with(name, ".json") || ends_with(name, ".tmp") || ends_with(name, ".part") ||
        ends_with(name, ".trunc"))
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '@' || c == '.' || c == '\\'))
            return false;
        dots += c == '.';
    }
    return dots >= 5;
}

/* The verdict's name for a dump: NAME.json beside NAME.core; a swept dump's
 * verdict is its whole name + ".json". */
static void
verdict_name(const char *name, char *out, size_t cap)
{
    size_t len = strlen(name);

    if (ends_with(name, ".core"))
        snprintf(out, cap, "%.*s.json", (int)(len - 5), name);
    else
        snprintf(out, cap, "%s.json", name);
}

/* Opens the subdirectory name of dir without following a symbolic link;
 * with create, makes it (0700) first when it is missing. -1 (errno). */
static int
open_sub(int dir, const char *name, bool create)
{
    if (create && mkdirat(dir, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Opens the spool and its quarantine/ (both must exist). false after an
 * error naming the spool. */
static bool
spool_open(const char *path, struct qspool *sp)
{
    char e[PATH_MAX];

    memset(sp, 0, sizeof *sp);
    sp->path = path;
    sp->quarantine = -1;
    sp->dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir < 0) {
        qerror("spool %s: %s", esc(path, e, sizeof e), strerror(errno));
        return false;
    }
    if ((sp->quarantine = open_sub(sp->dir, "quarantine", false)) < 0) {
        qerror("spool %s: quarantine/: %s", esc(path, e, sizeof e),
               errno == ELOOP || errno == ENOTDIR ? "not a directory" : strerror(errno));
        close(sp->dir);
        sp->dir = -1;
        return false;
    }
    if (realpath(path, sp->abs) == NULL)
        snprintf(sp->abs, sizeof sp->abs, "%s", path);
    snprintf(sp->qpath, sizeof sp->qpath, "%s/quarantine", path);
    return true;
}

static void
spool_close(struct qspool *sp)
{
    if (sp->quarantine >= 0)
        close(sp->quarantine);
    if (sp->dir >= 0)
        close(sp->dir);
    sp->quarantine = sp->dir = -1;
}

static int
by_age(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Reads the dumps of the directory dir (named where, for messages) into
 * out, oldest first: regular files with dump names, each with its
 * verdict's size. Other entries with a dump name (a symbolic link, a
 * directory) are left alone, with a warning when warn is set. Returns
 * false after an error. */
static bool
read_entries(int dir, const char *where, bool warn, struct entries *out)
{
    int dfd = dup(dir);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *de;
    char e[PATH_MAX], n[PATH_MAX];

    memset(out, 0, sizeof *out);
    if (d == NULL) {
        qerror("%s: %s", esc(where, e, sizeof e), strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return false;
    }
    rewinddir(d);
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct entry *en;
        struct stat st, vst;

        if (!dump_name_ok(de->d_name))
            continue;
        if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone meanwhile */
        if (!S_ISREG(st.st_mode)) {
            if (warn)
                fprintf(stderr, "dumpgate: warning: %s/%s: not a regular file (%s); left "
                        "alone\n", esc(where, e, sizeof e), esc(de->d_name, n, sizeof n),
                        S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode)
                                                                     ? "a directory"
                                                                     : "a special file");
            continue;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 64;
            struct entry *v = realloc(out->v, cap * sizeof *v);

            if (v == NULL) {
                qerror("%s: out of memory", esc(where, e, sizeof e));
                closedir(d);
                return false;
            }
            out->v = v;
            out->cap = cap;
        }
        en = &out->v[out->n++];
        memset(en, 0, sizeof *en);
        memcpy(en->name, de->d_name, strlen(de->d_name) + 1); /* dump_name_ok: it fits */
        verdict_name(en->name, en->vname, sizeof en->vname);
        en->bytes = (uint64_t)st.st_size;
        en->mtime = st.st_mtime;
        en->dev = st.st_dev;
        en->ino = st.st_ino;
        if (fstatat(dir, en->vname, &vst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(vst.st_mode))
            en->vbytes = (uint64_t)vst.st_size;
    }
    if (errno != 0) {
        qerror("%s: %s", esc(where, e, sizeof e), strerror(errno));
        closedir(d);
        return false;
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_age);
    return true;
}

/* --- verdicts ---------------------------------------------------------------- */

/* Reads the verdict vname of directory dir. Returns the JSON object (the
 * caller owns it), or NULL with why (of size n) saying "missing" or what
 * is wrong with it. */
static json_t *
load_verdict(int dir, const char *vname, char *why, size_t n)
{
    struct stat st;
    json_error_t jerr;
    json_t *v;
    char *buf;
    size_t off = 0;
    int fd = openat(dir, vname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            snprintf(why, n, "missing");
        else if (errno == ELOOP)
            snprintf(why, n, "a symbolic link, not read");
        else
            snprintf(why, n, "unreadable: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, n, "unreadable: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > VERDICT_MAX) {
        snprintf(why, n, "%s", !S_ISREG(st.st_mode) ? "not a regular file" : "too large");
        close(fd);
        return NULL;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(why, n, "out of memory");
        close(fd);
        return NULL;
    }
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    close(fd);
    v = json_loadb(buf, off, 0, &jerr);
    free(buf);
    if (v == NULL) {
        snprintf(why, n, "not JSON: %s (line %d)", jerr.text, jerr.line);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        snprintf(why, n, "not a verdict (not a JSON object)");
        return NULL;
    }
    return v;
}

/* The fingerprint of a finding as "spki_sha256=HEX" (or key_sha256,
 * match_sha256) into buf; false when it has none. Never a secret: these
 * are hashes of public keys and of secrets. */
static bool
fingerprint(const json_t *f, char *buf, size_t cap)
{
    static const char *const keys[] = {"spki_sha256", "key_sha256"};
    const json_t *key = json_object_get(f, "key"), *s;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_is_string(s = json_object_get(key, keys[i]))) {
            snprintf(buf, cap, "%s=%s", keys[i], json_string_value(s));
            return true;
        }
    if (json_is_string(s = json_object_get(f, "match_sha256"))) {
        snprintf(buf, cap, "match_sha256=%s", json_string_value(s));
        return true;
    }
    return false;
}

/* The distinct fingerprints of the verdict's findings, in order. */
static json_t *
fingerprints(const json_t *v)
{
    json_t *out = json_array(), *f;
    size_t i;

    json_array_foreach(json_object_get(v, "findings"), i, f) {
        char fp[200];
        bool seen = false;
        size_t k;
        json_t *s;

        if (!fingerprint(f, fp, sizeof fp))
            continue;
        json_array_foreach(out, k, s) seen = seen || strcmp(json_string_value(s), fp) == 0;
        if (!seen)
            json_array_append_new(out, json_string(fp));
    }
    return out;
}

/* Moves from/name to to/name, never over an existing file: renameat2 with
 * RENAME_NOREPLACE, or link + unlink where the file system has no such
 * rename. 0 or an errno (EEXIST: the target exists, nothing moved). */
static int
move_noreplace(int from, int to, const char *name)
{
    if (renameat2(from, name, to, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    if (linkat(from, name, to, name, 0) != 0)
        return errno;
    if (unlinkat(from, name, 0) != 0) {
        int e = errno;

        unlinkat(to, name, 0); /* the link, not the data: the source still holds it */
        return e;
    }
    return 0;
}

/* --- metrics ----------------------------------------------------------------- */

/* Counts the regular files of dir (opened without following links) whose
 * names are dump names (verdicts: verdict names of dumps). */
static uint64_t
count_dir(int dir, bool verdicts)
{
    int dfd = dir >= 0 ? dup(dir) : -1;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *de;
    uint64_t n = 0;

    if (d == NULL) {
        if (dfd >= 0)
            close(dfd);
        return 0;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        char base[NAME_MAX_LEN + 8];
        struct stat st;
        size_t len = strlen(de->d_name);

        if (verdicts) {
            /* NAME.json of NAME.core, or of a swept dump NAME */
            char spool_name[NAME_MAX_LEN + 16];

            if (!ends_with(de->d_name, ".json") || len - 5 > NAME_MAX_LEN)
                continue;
            snprintf(base, sizeof base, "%.*s", (int)(len - 5), de->d_name);
            snprintf(spool_name, sizeof spool_name, "%s.core", base);
            if (!dump_name_ok(base) && !dump_name_ok(spool_name))
                continue;
        } else if (!dump_name_ok(de->d_name)) {
            continue;
        }
        if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            n++;
    }
    closedir(d);
    return n;
}

/* Counts what the spool holds. false after an error. */
static bool
spool_counts(const struct qspool *sp, struct counts *c)
{
    struct entries q;
    time_t now = time(NULL);
    int rel, clean;

    memset(c, 0, sizeof *c);
    if (!read_entries(sp->quarantine, sp->qpath, false, &q))
        return false;
    for (size_t i = 0; i < q.n; i++) {
        c->quarantine_dumps++;
        c->quarantine_bytes += q.v[i].bytes + q.v[i].vbytes;
        if (i == 0)
            c->oldest_seconds = now > q.v[i].mtime ? (int64_t)(now - q.v[i].mtime) : 0;
    }
    free(q.v);
    rel = open_sub(sp->dir, "released", false);
    clean = open_sub(sp->dir, "clean", false);
    c->released_dumps = count_dir(rel, false);
    c->clean_dumps = count_dir(clean, true);
    if (rel >= 0)
        close(rel);
    if (clean >= 0)
        close(clean);
    return true;
}

/* Writes the counts to file as node_exporter's textfile collector reads it:
 * a new file beside it (not *.prom, so never read half-written), fsync,
 * rename. 0 or an errno. */
static int
write_metrics(const char *file, const struct counts *c)
{
    static const struct {
        const char *name, *help;
    } m[] = {
        {"dumpgate_quarantine_dumps", "Dumps in the quarantine of the dumpgate spool."},
        {"dumpgate_quarantine_bytes", "Bytes of the quarantined dumps and their verdicts."},
        {"dumpgate_released_dumps", "Dumps released from the quarantine after review."},
        {"dumpgate_clean_dumps", "Dumps judged clean (verdicts in clean/)."},
        {"dumpgate_quarantine_oldest_seconds",
         "Age of the oldest quarantined dump in seconds (0 when there is none)."},
    };
    uint64_t val[] = {c->quarantine_dumps, c->quarantine_bytes, c->released_dumps,
                      c->clean_dumps, (uint64_t)c->oldest_seconds};
    char *tmp = NULL, *dir = NULL, *slash;
    FILE *f = NULL;
    int fd = -1, e = 0;

    if (asprintf(&tmp, "%s.%ld.tmp", file, (long)getpid()) < 0)
        return ENOMEM;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* left by a dead run with our pid */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || fchmod(fd, 0644) != 0 || (f = fdopen(fd, "w")) == NULL) {
        e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return e;
    }
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRIu64 "\n", m[i].name, m[i].help,
                m[i].name, m[i].name, val[i]);
    if (fflush(f) != 0 || ferror(f) || fsync(fd) != 0)
        e = errno ? errno : EIO;
    if (fclose(f) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, file) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
    } else if ((dir = strdup(file)) != NULL) {
        int d;

        slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else if (slash != NULL)
            *slash = '\0';
        d = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d >= 0) {
            fsync(d);
            close(d);
        }
    }
    free(dir);
    free(tmp);
    return e;
}

/* Counts the spool and writes the metrics file. false after an error
 * (on stderr). */
static bool
update_metrics(const struct qspool *sp, const char *file)
{
    struct counts c;
    char e1[PATH_MAX];
    int e;

    if (!spool_counts(sp, &c))
        return false;
    if ((e = write_metrics(file, &c)) != 0) {
        qerror("metrics %s: %s", esc(file, e1, sizeof e1), strerror(e));
        return false;
    }
    return true;
}

void
quarantine_handler_metrics(const struct cli_opts *o)
{
    struct qspool sp;
    struct counts c;
    int e = 0;

    if (o->metrics == NULL)
        return;
    /* spool_open and spool_counts say why on stderr; the log says it too */
    openlog("dumpgate", LOG_PID | (o->log_stderr ? LOG_PERROR : 0), LOG_DAEMON);
    if (!spool_open(o->spool, &sp)) {
        syslog(LOG_ERR, "metrics %s: cannot read the spool %s", o->metrics, o->spool);
        closelog();
        return;
    }
    if (!spool_counts(&sp, &c))
        syslog(LOG_ERR, "metrics %s: cannot count the spool %s", o->metrics, o->spool);
    else if ((e = write_metrics(o->metrics, &c)) != 0)
        syslog(LOG_ERR, "metrics %s: %s", o->metrics, strerror(e));
    closelog();
    spool_close(&sp);
}

/* --- list and show ------------------------------------------------------------- */

/* A new JSON string, or null when s is not UTF-8 (a path of odd bytes). */
static json_t *
json_string_or_null(const char *s)
{
    json_t *j = json_string(s);

    return j != NULL ? j : json_null();
}

static int
cmd_list(const struct cli_opts *o, const struct qspool *sp)
{
    struct entries q;
    time_t now = time(NULL);

    if (!read_entries(sp->quarantine, sp->qpath, true, &q))
        return EXIT_ERROR;
    for (size_t i = 0; i < q.n; i++) {
        const struct entry *en = &q.v[i];
        char why[300], size[32], age[32], when[40], path[PATH_CAP];
        json_t *v = load_verdict(sp->quarantine, en->vname, why, sizeof why);
        json_t *fps = v != NULL ? fingerprints(v) : json_array();
        const json_t *findings = json_object_get(v, "findings");
        size_t n_findings = json_array_size(findings), k;
        int64_t age_s = now > en->mtime ? (int64_t)(now - en->mtime) : 0;
        json_t *fp;

        if (o->format == REPORT_JSONL) {
            json_t *rec;
            char *line;

            snprintf(path, sizeof path, "%s/quarantine/%s", sp->abs, en->name);
            rec = json_pack("{s:s, s:s, s:o, s:I, s:s, s:I, s:O?, s:O?, s:o, s:o, s:o}",
                            "record", "quarantined", "name", en->name, "path",
                            json_string_or_null(path), "bytes",
                            (json_int_t)en->bytes, "mtime", iso_time(en->mtime, when, sizeof when),
                            "age_seconds", (json_int_t)age_s, "verdict",
                            json_object_get(v, "verdict"), "reason", json_object_get(v, "reason"),
                            "findings",
                            json_is_array(findings) ? json_integer((json_int_t)n_findings)
                                                    : json_null(),
                            "fingerprints", json_incref(fps), "verdict_error",
                            v == NULL ? json_string(why) : json_null());
            line = rec != NULL ? json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
            if (line != NULL)
                printf("%s\n", line);
            free(line);
            json_decref(rec);
        } else {
            put_str(stdout, en->name);
            printf(": %s, %s old, ", report_bytes(en->bytes, size, sizeof size),
                   human_age(age_s, age, sizeof age));
            if (v == NULL) {
                printf("no verdict (");
                put_str(stdout, en->vname);
                printf(": %s)\n", why);
            } else {
                putchar('"');
                put_jstr(stdout, json_object_get(v, "reason"));
                printf("\", %zu finding%s", n_findings, n_findings == 1 ? "" : "s");
                json_array_foreach(fps, k, fp) {
                    fputs(k == 0 ? ": " : " ", stdout);
                    put_jstr(stdout, fp);
                }
                putchar('\n');
            }
        }
        json_decref(fps);
        json_decref(v);
    }
    free(q.v);
    return EXIT_OK;
}

/* One finding for people: severity type (role) fingerprint - status, form at offset. */
static void
show_finding(const json_t *f)
{
    char fp[200];
    const json_t *off = json_object_get(f, "offset");

    put_member("    ", f, "severity");
    putchar(' ');
    put_jstr(stdout, json_object_get(f, "type"));
    put_member(" (", f, "role");
    fputs(") ", stdout);
    if (fingerprint(f, fp, sizeof fp))
        put_str(stdout, fp);
    else
        fputs("(no fingerprint)", stdout);
    put_member(" - ", f, "status");
    put_member(", ", f, "encoding");
    if (json_is_integer(off))
        printf(" at 0x%" PRIx64, (uint64_t)json_integer_value(off));
    if (json_is_true(json_object_get(f, "allowed")))
        fputs(" (allowed)", stdout);
    putchar('\n');
}

/* Looks NAME up in quarantine/, then released/: fills *where ("quarantine"
 * or "released"), *dir (a descriptor the caller closes) and *st. A NAME
 * without .core finds NAME.core too. OUT: name (the dump's name). false
 * after an error. */
static bool
find_dump(const struct qspool *sp, const char *given, bool released_too, char *name,
          size_t cap, const char **where, int *dir, struct stat *st)
{
    const char *dirs[] = {"quarantine", "released"};
    char e[PATH_MAX];

    for (size_t i = 0; i < (released_too ? 2u : 1u); i++) {
        int d = i == 0 ? dup(sp->quarantine) : open_sub(sp->dir, dirs[i], false);

        if (d < 0)
            continue;
        for (int pass = 0; pass < 2; pass++) {
            snprintf(name, cap, pass == 0 ? "%s" : "%s.core", given);
            if (!dump_name_ok(name) || fstatat(d, name, st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (!S_ISREG(st->st_mode)) {
                qerror("%s/%s/%s: not a regular file; left alone", esc(sp->path, e, sizeof e),
                       dirs[i], name);
                close(d);
                return false;
            }
            *where = dirs[i];
            *dir = d;
            return true;
        }
        close(d);
    }
    {
        char g[PATH_MAX];

        snprintf(name, cap, "%s.core", given);
        if (!dump_name_ok(given) && !dump_name_ok(name))
            qerror("%s: not the name of a dump (see dumpgate quarantine list)",
                   esc(given, g, sizeof g));
        else
            qerror("%s/quarantine: no dump %s%s", esc(sp->path, e, sizeof e),
                   esc(given, g, sizeof g), released_too ? " (nor in released/)" : "");
    }
    return false;
}

static int
cmd_show(const struct cli_opts *o, const struct qspool *sp)
{
    char name[NAME_MAX_LEN + 8], vname[NAME_MAX_LEN + 16], why[300], size[32], age[32];
    char when[40], e[PATH_MAX];
    const char *where;
    struct stat st;
    int dir;
    json_t *v, *f, *released;
    size_t i;
    time_t now = time(NULL);

    if (!find_dump(sp, o->qname, true, name, sizeof name, &where, &dir, &st))
        return EXIT_ERROR;
    verdict_name(name, vname, sizeof vname);
    v = load_verdict(dir, vname, why, sizeof why);
    close(dir);
    if (o->format == REPORT_JSONL) {
        char *line;

        if (v == NULL) {
            qerror("%s/%s/%s: no verdict: %s", esc(sp->path, e, sizeof e), where, vname, why);
            return EXIT_ERROR;
        }
        line = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (line != NULL)
            printf("%s\n", line);
        free(line);
        json_decref(v);
        return line != NULL ? EXIT_OK : EXIT_ERROR;
    }
    put_str(stdout, name);
    printf("\n  in:        %s/\n  path:      ", where);
    put_str(stdout, sp->abs);
    printf("/%s/", where);
    put_str(stdout, name);
    printf("\n  size:      %s (%" PRIu64 " bytes), modified %s (%s ago)\n",
           report_bytes((uint64_t)st.st_size, size, sizeof size), (uint64_t)st.st_size,
           iso_time(st.st_mtime, when, sizeof when),
           human_age(now > st.st_mtime ? (int64_t)(now - st.st_mtime) : 0, age, sizeof age));
    if (v == NULL) {
        printf("  verdict:   none (");
        put_str(stdout, vname);
        printf(": %s)\n", why);
        return EXIT_OK;
    }
    put_member("  verdict:   ", v, "verdict");
    put_member("\n  reason:    ", v, "reason");
    {
        const json_t *p = json_object_get(v, "process");

        put_member("\n  process:   pid ", p, "pid");
        put_member(", uid ", p, "uid");
        put_member(", signal ", p, "signal");
        put_member(", time ", p, "time");
        put_member(", comm ", p, "comm");
    }
    {
        const json_t *r = json_object_get(v, "received");

        put_member("\n  received:  ", r, "bytes");
        printf(" bytes, %s", json_is_true(json_object_get(r, "complete")) ? "complete"
                                                                          : "incomplete");
        if (json_is_string(json_object_get(r, "error"))) {
            put_member(": ", r, "error");
        }
    }
    {
        const json_t *s = json_object_get(v, "scan"), *opts = json_object_get(v, "scan_options");
        const json_t *sum = json_object_get(v, "summary"), *x;

        put_member("\n  scan:      exit ", s, "exit");
        if (json_is_integer(json_object_get(s, "signal"))) {
            put_member(", signal ", s, "signal");
        }
        if (json_is_true(json_object_get(s, "timed_out")))
            fputs(", timed out", stdout);
        if (json_is_number(json_object_get(s, "seconds")))
            printf(", %.2f s", json_number_value(json_object_get(s, "seconds")));
        if (json_is_string(json_object_get(sum, "format"))) {
            put_member(", ", sum, "format");
        }
        if (json_array_size(opts) > 0) {
            fputs(", options:", stdout);
            json_array_foreach(opts, i, x) {
                putchar(' ');
                put_jstr(stdout, x);
            }
        }
    }
    if ((released = json_object_get(v, "released")) != NULL && json_is_object(released)) {
        put_member("\n  released:  by ", released, "by");
        put_member(" at ", released, "time");
        put_member(": ", released, "reason");
    }
    printf("\n  findings:  %zu\n", json_array_size(json_object_get(v, "findings")));
    json_array_foreach(json_object_get(v, "findings"), i, f) show_finding(f);
    json_decref(v);
    return EXIT_OK;
}

/* --- release ------------------------------------------------------------------- */

/* Who releases: --by, else $SUDO_USER, else the user of getuid(). */
static const char *
invoking_user(const struct cli_opts *o, char *buf, size_t cap)
{
    const char *sudo = getenv("SUDO_USER");
    struct passwd *pw;

    if (o->by != NULL)
        return o->by;
    if (sudo != NULL && sudo[0] != '\0')
        return sudo;
    if ((pw = getpwuid(getuid())) != NULL && pw->pw_name != NULL)
        return pw->pw_name;
    snprintf(buf, cap, "uid %ld", (long)getuid());
    return buf;
}

/* Runs prog with arg as its one argument (execv, no shell), standard input
 * from /dev/null, and waits. Returns its exit status, 128 + the signal that
 * ended it, or -1 with why (of size n) when it could not be run. */
static int
run_command(const char *prog, const char *arg, char *why, size_t n)
{
    int pfd[2], st = 0, err = 0;
    pid_t pid;
    ssize_t r;

    fflush(stdout);
    fflush(stderr);
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(why, n, "pipe: %s", strerror(errno));
        return -1;
    }
    if ((pid = fork()) < 0) {
        snprintf(why, n, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        char *const argv[] = {(char *)prog, (char *)arg, NULL};
        int null = open("/dev/null", O_RDONLY);

        if (null >= 0)
            dup2(null, STDIN_FILENO);
        execv(prog, argv);
        err = errno;
        if (write(pfd[1], &err, sizeof err) < 0)
            _exit(127);
        _exit(127);
    }
    close(pfd[1]);
    do
        r = read(pfd[0], &err, sizeof err);
    while (r < 0 && errno == EINTR);
    close(pfd[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (r == (ssize_t)sizeof err) {
        snprintf(why, n, "%s", strerror(err));
        return -1;
    }
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
cmd_release(const struct cli_opts *o, const struct qspool *sp)
{
    char name[NAME_MAX_LEN + 8], vname[NAME_MAX_LEN + 16], why[300], when[40], ubuf[40];
    char e[PATH_MAX], path[PATH_CAP];
    const char *where, *by = invoking_user(o, ubuf, sizeof ubuf);
    struct stat st, x;
    int qdir, rdir, err;
    bool had_verdict;
    json_t *v, *rel, *sby, *sreason, *spath;

    if (!find_dump(sp, o->qname, false, name, sizeof name, &where, &qdir, &st)) {
        int rdir = open_sub(sp->dir, "released", false);

        for (int pass = 0; rdir >= 0 && pass < 2; pass++) {
            snprintf(name, sizeof name, pass == 0 ? "%s" : "%s.core", o->qname);
            if (dump_name_ok(name) && fstatat(rdir, name, &x, AT_SYMLINK_NOFOLLOW) == 0) {
                fprintf(stderr, "dumpgate: %s/released/%s: released already\n",
                        esc(sp->path, e, sizeof e), name);
                break;
            }
        }
        if (rdir >= 0)
            close(rdir);
        return EXIT_ERROR;
    }
    close(qdir);
    verdict_name(name, vname, sizeof vname);
    if (strlen(o->reason) > REASON_MAX || strlen(by) > REASON_MAX) {
        qerror("%s: --reason and --by take at most %d bytes", name, REASON_MAX);
        return EXIT_ERROR;
    }
    sby = json_string(by);
    sreason = json_string(o->reason);
    snprintf(path, sizeof path, "%s/released/%s", sp->abs, name);
    spath = json_string(path);
    if (sby == NULL || sreason == NULL) {
        qerror("%s: %s must be UTF-8 text", name, sby == NULL ? "--by" : "--reason");
        json_decref(sby);
        json_decref(sreason);
        json_decref(spath);
        return EXIT_ERROR;
    }
    v = load_verdict(sp->quarantine, vname, why, sizeof why);
    had_verdict = v != NULL;
    if (v == NULL && strcmp(why, "missing") != 0) {
        qerror("%s/quarantine/%s: %s; not released (nothing moved)", esc(sp->path, e, sizeof e),
               vname, why);
        json_decref(sby);
        json_decref(sreason);
        json_decref(spath);
        return EXIT_ERROR;
    }
    if (v == NULL) /* a dump whose verdict was never written: release it with a new one */
        v = json_pack("{s:s, s:s, s:s, s:s}", "dumpgate", DG_VERSION, "dump", name, "verdict",
                      "quarantine", "reason", "no verdict");
    if ((rdir = open_sub(sp->dir, "released", true)) < 0) {
        qerror("spool %s: released/: %s", esc(sp->path, e, sizeof e),
               errno == ELOOP || errno == ENOTDIR ? "not a directory" : strerror(errno));
        json_decref(v);
        json_decref(sby);
        json_decref(sreason);
        json_decref(spath);
        return EXIT_ERROR;
    }
    err = 0;
    if (fstatat(rdir, name, &x, AT_SYMLINK_NOFOLLOW) == 0 ||
        fstatat(rdir, vname, &x, AT_SYMLINK_NOFOLLOW) == 0)
        err = EEXIST;
    if (err == 0)
        err = move_noreplace(sp->quarantine, rdir, name);
    if (err == 0 && had_verdict && (err = move_noreplace(sp->quarantine, rdir, vname)) != 0) {
        /* put the dump back: it stays with its verdict */
        if (move_noreplace(rdir, sp->quarantine, name) != 0)
            qerror("%s/released/%s: cannot move it back to quarantine/: %s",
                   esc(sp->path, e, sizeof e), name, strerror(errno));
    }
    if (err != 0) {
        if (err == EEXIST)
            qerror("%s/released/%s already exists; %s not released (nothing moved)",
                   esc(sp->path, e, sizeof e),
                   fstatat(rdir, name, &x, AT_SYMLINK_NOFOLLOW) == 0 ? name : vname, name);
        else
            qerror("%s/quarantine/%s: cannot move it to released/: %s; not released",
                   esc(sp->path, e, sizeof e), name, strerror(err));
        close(rdir);
        json_decref(v);
        json_decref(sby);
        json_decref(sreason);
        json_decref(spath);
        return EXIT_ERROR;
    }
    fsync(rdir);
    fsync(sp->quarantine);
    rel = json_pack("{s:o, s:o, s:s, s:s, s:I}", "by", sby, "reason", sreason, "time",
                    iso_time(time(NULL), when, sizeof when), "from", "quarantine", "uid",
                    (json_int_t)getuid());
    json_object_set_new(v, "verdict", json_string("released"));
    json_object_set_new(v, "path", spath != NULL ? spath : json_null());
    json_object_set_new(v, "released", rel);
    err = rel != NULL ? durable_write_json(rdir, vname, v, had_verdict) : ENOMEM;
    json_decref(v);
    close(rdir);
    openlog("dumpgate", LOG_PID, LOG_DAEMON);
    syslog(LOG_NOTICE, "released %s from the quarantine of %s by %s: %s", name, sp->abs, by,
           o->reason);
    closelog();
    fputs("released ", stdout);
    put_str(stdout, name);
    fputs(" to ", stdout);
    put_str(stdout, path);
    fputs(" (by ", stdout);
    put_str(stdout, by);
    fputs(")\n", stdout);
    if (err != 0) {
        qerror("%s/released/%s: the dump is released but its verdict could not be updated: %s",
               esc(sp->path, e, sizeof e), vname, strerror(err));
        return EXIT_ERROR;
    }
    if (o->release_command != NULL && o->release_command[0] != '\0') {
        int rc = run_command(o->release_command, path, why, sizeof why);

        fputs("command ", stdout);
        put_str(stdout, o->release_command);
        if (rc < 0)
            printf(": cannot run it: %s\n", why);
        else if (rc > 128)
            printf(": killed by signal %d\n", rc - 128);
        else
            printf(": exit status %d\n", rc);
        if (rc != 0) {
            qerror("%s: released, but the release command %s %s", name,
                   esc(o->release_command, e, sizeof e),
                   rc < 0 ? "could not be run" : "failed");
            return EXIT_ERROR;
        }
    }
    return EXIT_OK;
}

/* --- expire -------------------------------------------------------------------- */

static int
cmd_expire(const struct cli_opts *o, const struct qspool *sp)
{
    struct entries q;
    time_t now = time(NULL);
    uint64_t total = 0, freed = 0, left;
    size_t n_gone = 0, n_failed = 0;
    const char *verb = o->dry_run ? "would delete" : "deleted";
    char e[PATH_MAX];

    if (!o->has_max_age && !o->has_max_total) {
        qerror("spool %s: quarantine expire: no retention policy: give --max-age-days N or "
               "--max-total BYTES, or quarantine.max_age_days or quarantine.max_total_bytes "
               "in the configuration file", esc(sp->path, e, sizeof e));
        return EXIT_ERROR;
    }
    if (!read_entries(sp->quarantine, sp->qpath, true, &q))
        return EXIT_ERROR;
    for (size_t i = 0; i < q.n; i++)
        total += q.v[i].bytes + q.v[i].vbytes;
    left = total;
    for (size_t i = 0; i < q.n; i++) {
        const struct entry *en = &q.v[i];
        int64_t age = now > en->mtime ? (int64_t)(now - en->mtime) : 0;
        char why[120], size[32], agebuf[32], lim[32];
        struct stat st;

        if (o->has_max_age && age > (int64_t)o->max_age_days * 86400)
            snprintf(why, sizeof why, "older than %u day%s", o->max_age_days,
                     o->max_age_days == 1 ? "" : "s");
        else if (o->has_max_total && left > o->max_total)
            snprintf(why, sizeof why, "the quarantine holds more than %s",
                     report_bytes(o->max_total, lim, sizeof lim));
        else
            continue;
        if (!o->dry_run) {
            /* still the regular file we counted (not a link put in its place) */
            int r = fstatat(sp->quarantine, en->name, &st, AT_SYMLINK_NOFOLLOW);

            if (r != 0 || !S_ISREG(st.st_mode) || st.st_ino != en->ino || st.st_dev != en->dev) {
                bool gone = r != 0 && errno == ENOENT;

                fprintf(stderr, "dumpgate: warning: %s/quarantine/%s: %s meanwhile; left "
                        "alone\n", esc(sp->path, e, sizeof e), en->name,
                        gone ? "gone" : "changed");
                if (gone)
                    left -= en->bytes + en->vbytes; /* released or expired by another run */
                continue;
            }
            if (unlinkat(sp->quarantine, en->name, 0) != 0) {
                qerror("%s/quarantine/%s: cannot delete it: %s", esc(sp->path, e, sizeof e),
                       en->name, strerror(errno));
                n_failed++;
                continue;
            }
            /* its verdict, when that is a regular file (a link stays) */
            if (fstatat(sp->quarantine, en->vname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode)) {
                if (unlinkat(sp->quarantine, en->vname, 0) != 0 && errno != ENOENT) {
                    qerror("%s/quarantine/%s: cannot delete it: %s", esc(sp->path, e, sizeof e),
                           en->vname, strerror(errno));
                    n_failed++;
                }
            }
            openlog("dumpgate", LOG_PID, LOG_DAEMON);
            syslog(LOG_NOTICE, "expired %s (%" PRIu64 " bytes) from the quarantine of %s: %s",
                   en->name, en->bytes, sp->abs, why);
            closelog();
        }
        left -= en->bytes + en->vbytes;
        freed += en->bytes + en->vbytes;
        n_gone++;
        printf("%s ", verb);
        put_str(stdout, en->name);
        printf(" (%s, %s old): %s\n", report_bytes(en->bytes, size, sizeof size),
               human_age(age, agebuf, sizeof agebuf), why);
    }
    if (!o->dry_run && n_gone > 0)
        fsync(sp->quarantine);
    {
        char a[32], b[32];

        printf("%s %zu dump%s (%s); %zu left in the quarantine (%s)\n",
               o->dry_run ? "would expire" : "expired", n_gone, n_gone == 1 ? "" : "s",
               report_bytes(freed, a, sizeof a), q.n - n_gone, report_bytes(left, b, sizeof b));
    }
    free(q.v);
    return n_failed > 0 ? EXIT_ERROR : EXIT_OK;
}

int
quarantine_run(const struct cli_opts *o)
{
    struct qspool sp;
    int status = EXIT_ERROR;

    umask(077);
    if (!spool_open(o->spool, &sp))
        return EXIT_ERROR;
    switch (o->qaction) {
    case QA_LIST:
        status = cmd_list(o, &sp);
        break;
    case QA_SHOW:
        status = cmd_show(o, &sp);
        break;
    case QA_RELEASE:
        status = cmd_release(o, &sp);
        break;
    case QA_EXPIRE:
        status = cmd_expire(o, &sp);
        break;
    }
    if (o->metrics != NULL && !update_metrics(&sp, o->metrics))
        status = EXIT_ERROR;
    spool_close(&sp);
    return status;
}
