/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * handler.c - `dumpgate core-handler`: a gate for crash pipelines that never
 * loses a dump and fails closed.
 *
 * As a kernel.core_pattern pipe handler it receives the core on standard
 * input (the specifiers %P %u %s %t %e as arguments) into a spool:
 *
 *   SPOOL/incoming/core.COMM.UID.PID.SIG.TIME.HPID.part   receiving (locked)
 *                                          ... .core     received, fsynced
 *                                          ... .trunc    received in part
 *   SPOOL/clean/NAME.core + NAME.json                     no finding
 *   SPOOL/quarantine/NAME.core + NAME.json (0600)         anything else
 *
 * What it takes is bounded (the spool's resource policy): a core that
 * takes longer than --receive-timeout to arrive, or is larger than
 * --max-dump-size, or meets a filesystem whose free space falls under
 * --keep-free while it arrives, is kept as far as it was stored and
 * quarantined as incomplete; when the free space is already under
 * --keep-free, nothing is stored. When the policy stops storing, the rest
 * of standard input is read and dropped (within the receive timeout), and
 * on a timeout or a read error it is closed, so the kernel is never left
 * waiting; a core not stored at all is counted in SPOOL/lost (counter.h)
 * with a CRIT log line.
 *
 * Every step is write, fsync, atomic rename, fsync of the directory. The
 * scan runs in a child process (this binary's `scan --format jsonl`) under a
 * timeout, as another user under a seccomp filter (`scan --sandbox USER`,
 * sandbox.h; --scan-user, default nobody); a finding, an unparsable dump, an
 * incomplete dump, a partial scan, a scanner error,
 * a timeout or a crash all send the dump to quarantine. Nothing is ever
 * deleted. Each file in incoming/ is flock()ed by the handler working on it,
 * so the next handler to start (or `--recover`) finishes exactly the work of
 * handlers that died (kill -9, power cut) and leaves live ones alone.
 * `--sweep DIR` does the same for the dumps systemd-coredump stored in DIR:
 * verdicts go to the spool, dirty dumps move to its quarantine, clean ones
 * stay where they are. Log lines go to syslog (and stderr with --log-stderr).
 * Each verdict names the dump ("dump") and says where it is ("path", its
 * absolute path in clean/ or quarantine/, or where a swept clean dump
 * stayed); `dumpgate quarantine` (quarantine.c) lists, releases and
 * expires the quarantine afterwards.
 *
 * The scan options the user gave (--rules, --plugin, --detectors, --allow,
 * --known-keys, ...; options.c keeps them in o->scan_args) go to every scan
 * as given, and the verdict lists them. They are checked before anything is
 * received: the rules, plug-ins and detector names by main.c, the --allow and
 * --known-keys files here; a bad one stops the handler with exit 2 rather
 * than letting dumps be scanned without it.
 * Hook points: ../shared/reference/dumps.md 3.1, 3.2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <dumpgate/dumpgate.h>

#include "../engine/identity.h"
#include "../util/deadline.h"
#include "../util/iobuf.h"
#include "counter.h"
#include "durable.h"
#include "handler.h"
#include "scanchild.h"

#define COPY_BUF (1u << 20)
#define LOST_FILE "lost"    /* SPOOL/lost: cores not stored (counter.h) */

struct spool {
    const struct cli_opts *o;
    int dir, incoming, clean, quarantine; /* directory descriptors */
    int redacted;                         /* --redact: redacted/, else -1 */
    char abs[PATH_MAX];                   /* the spool's absolute path, for verdicts */
};

/* What the kernel told about the crash (sanitized, for names and verdicts). */
struct meta {
    char comm[40], uid[24], pid[24], sig[24], time[24];
};

struct received {
    uint64_t bytes;
    bool complete;     /* the whole core reached the spool */
    char error[200];   /* why not */
};


static void hlog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
hlog(int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsyslog(prio, fmt, ap);
    va_end(ap);
}

/* snprintf for names and paths: false if the result did not fit. */
static bool fmt(char *dst, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));

static bool
fmt(char *dst, size_t cap, const char *f, ...)
{
    va_list ap;
    int n;

    va_start(ap, f);
    n = vsnprintf(dst, cap, f, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

/* Copies s into out keeping [A-Za-z0-9_+-@] only: file names stay one word. */
static void
sanitize(const char *s, char *out, size_t cap)
{
    size_t k = 0;

    for (; s != NULL && *s != '\0' && k + 1 < cap; s++) {
        char c = *s;

        out[k++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '+' || c == '@')
                       ? c
                       : '_';
    }
    if (k == 0)
        snprintf(out, cap, "unknown");
    else
        out[k] = '\0';
}

/* The specifiers: PID UID SIGNAL TIME COMM... (older kernels split %e on spaces). */
static void
meta_from_args(const struct cli_opts *o, struct meta *m)
{
    char comm[64] = "";

    sanitize(o->n_files > 0 ? o->files[0] : NULL, m->pid, sizeof m->pid);
    sanitize(o->n_files > 1 ? o->files[1] : NULL, m->uid, sizeof m->uid);
    sanitize(o->n_files > 2 ? o->files[2] : NULL, m->sig, sizeof m->sig);
    sanitize(o->n_files > 3 ? o->files[3] : NULL, m->time, sizeof m->time);
    for (int i = 4; i < o->n_files; i++) {
        size_t n = strlen(comm);

        snprintf(comm + n, sizeof comm - n, "%s%s", i > 4 ? "_" : "", o->files[i]);
    }
    sanitize(comm, m->comm, sizeof m->comm);
}

/* Back from a spool name core.COMM.UID.PID.SIG.TIME.HPID[.ext]. */
static void
meta_from_spool_name(const char *name, struct meta *m)
{
    char buf[256], *f[8] = {0}, *save = NULL;
    int n = 0;

    fmt(buf, sizeof buf, "%s", name);
    for (char *t = strtok_r(buf, ".", &save); t != NULL && n < 8; t = strtok_r(NULL, ".", &save))
        f[n++] = t;
    sanitize(f[1], m->comm, sizeof m->comm);
    sanitize(f[2], m->uid, sizeof m->uid);
    sanitize(f[3], m->pid, sizeof m->pid);
    sanitize(f[4], m->sig, sizeof m->sig);
    sanitize(f[5], m->time, sizeof m->time);
}

/* Back from a systemd-coredump name core.COMM.UID.BOOTID.PID.USEC[.zst]. */
static void
meta_from_coredump_name(const char *name, struct meta *m)
{
    char buf[256], *f[16] = {0}, *save = NULL;
    int n = 0;

    fmt(buf, sizeof buf, "%s", name);
    for (char *t = strtok_r(buf, ".", &save); t != NULL && n < 16; t = strtok_r(NULL, ".", &save))
        f[n++] = t;
    if (n > 0 && (strcmp(f[n - 1], "zst") == 0 || strcmp(f[n - 1], "lz4") == 0 ||
                  strcmp(f[n - 1], "xz") == 0))
        n--;
    memset(m, 0, sizeof *m);
    sanitize(n >= 6 ? f[1] : NULL, m->comm, sizeof m->comm);
    sanitize(n >= 6 ? f[n - 4] : NULL, m->uid, sizeof m->uid);
    sanitize(n >= 6 ? f[n - 2] : NULL, m->pid, sizeof m->pid);
    sanitize(NULL, m->sig, sizeof m->sig);
    sanitize(n >= 6 ? f[n - 1] : NULL, m->time, sizeof m->time);
}

/* Keeps fd (a spool directory) only if this user owns it and nobody else
 * may write in it: a directory another user controls could swap a dump or
 * plant a name between two steps. Returns fd, or -1 (closed; errno EPERM). */
static int
trusted(int fd)
{
    struct stat st;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/* dir/name, made 0700 if missing, never through a symbolic link. */
static int
open_subdir(int dir, const char *name)
{
    if (mkdirat(dir, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return trusted(openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

static bool
spool_open(const struct cli_opts *o, struct spool *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->o = o;
    sp->incoming = sp->clean = sp->quarantine = sp->redacted = -1;
    if (mkdir(o->spool, 0700) != 0 && errno != EEXIST) {
        hlog(LOG_ERR, "spool %s: %s", o->spool, strerror(errno));
        return false;
    }
    sp->dir = trusted(open(o->spool, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sp->dir < 0 || (sp->incoming = open_subdir(sp->dir, "incoming")) < 0 ||
        (sp->clean = open_subdir(sp->dir, "clean")) < 0 ||
        (sp->quarantine = open_subdir(sp->dir, "quarantine")) < 0 ||
        (o->redact_copy && (sp->redacted = open_subdir(sp->dir, "redacted")) < 0)) {
        hlog(LOG_ERR, "spool %s: %s", o->spool,
             errno == EPERM  ? "refused: a level is not owned by this user, or others may "
                               "write in it"
             : errno == ELOOP || errno == ENOTDIR
                 ? "refused: a level is a symbolic link or no directory"
                 : strerror(errno));
        return false;
    }
    if (realpath(o->spool, sp->abs) == NULL)
        fmt(sp->abs, sizeof sp->abs, "%s", o->spool);
    /* made while there is room, so that a full disk can still be counted */
    if ((errno = counter_ensure(sp->dir, LOST_FILE)) != 0)
        hlog(LOG_ERR, "spool %s: %s: %s", o->spool, LOST_FILE, strerror(errno));
    return true;
}

static void
spool_close(struct spool *sp)
{
    int *fds[] = {&sp->dir, &sp->incoming, &sp->clean, &sp->quarantine, &sp->redacted};

    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0)
            close(*fds[i]);
}

/* --- the scan, in a child process ------------------------------------------- */

/* --- verdicts ------------------------------------------------------------------ */

/* The scan options in force, as passed to the scan: ["--rules", "FILE", ...];
 * a --p12-pass password is not written. */
static json_t *
scan_options(const struct cli_opts *o)
{
    json_t *a = json_array();

    for (int i = 0; i < o->n_scan_args; i++) {
        bool secret = i > 0 && strcmp(o->scan_args[i - 1], "--p12-pass") == 0;

        json_array_append_new(a, json_string(secret ? "(not shown)" : o->scan_args[i]));
    }
    return a;
}

/* Builds the verdict of one dump; *clean says where it goes. */
static json_t *
verdict(const struct spool *sp, const char *dump, const struct received *rv,
        const struct meta *m, const struct scan_run *sr, bool *clean)
{
    json_t *findings = json_array(), *summary = NULL, *v;
    char reason[320] = "";
    size_t n_err = 0, n_warn = 0;
    const char *first_err = NULL, *first_warn = NULL, *last_warn = NULL, *format = NULL;

    summary = scanchild_records((struct scan_run *)sr, findings);
    if (summary != NULL) {
        json_t *e = json_object_get(summary, "errors"), *w = json_object_get(summary, "warnings");

        n_err = json_array_size(e);
        n_warn = json_array_size(w);
        first_err = json_string_value(json_object_get(json_array_get(e, 0), "message"));
        first_warn = json_string_value(json_object_get(json_array_get(w, 0), "message"));
        last_warn = json_string_value(json_object_get(json_array_get(w, n_warn - 1), "message"));
        format = json_string_value(json_object_get(summary, "format"));
    }
    *clean = false;
    if (!rv->complete)
        snprintf(reason, sizeof reason, "incomplete dump (%" PRIu64 " bytes): %s", rv->bytes,
                 rv->error);
    else if (sr->timed_out)
        snprintf(reason, sizeof reason, "scan timed out after %u s", sp->o->timeout);
    else if (sr->sig != 0)
        snprintf(reason, sizeof reason, "scanner crashed: %s", strsignal(sr->sig));
    else if (sr->error[0] != '\0')
        snprintf(reason, sizeof reason, "scanner error: %s", sr->error);
    else if (summary == NULL || sr->truncated)
        snprintf(reason, sizeof reason, "scanner error: %s (exit %d)",
                 summary == NULL ? "no summary" : "output too long", sr->exit_code);
    else if (sr->exit_code == 2 && n_err == 0 && last_warn != NULL)
        /* a budget (max_decompressed) stopped it: said last, after the scan */
        snprintf(reason, sizeof reason, "partial scan: %s", last_warn);
    else if (sr->exit_code == 2 || n_err > 0)
        snprintf(reason, sizeof reason, "scanner error: %s",
                 first_err != NULL ? first_err : "exit status 2");
    else if (format == NULL || (strcmp(format, "elf-core") != 0 && strcmp(format, "minidump") != 0))
        snprintf(reason, sizeof reason, "unparsable dump: %s",
                 first_warn != NULL ? first_warn : "not an ELF core or minidump");
    else if (sr->exit_code == 1)
        snprintf(reason, sizeof reason, "%zu finding%s (fail-on %s)", json_array_size(findings),
                 json_array_size(findings) == 1 ? "" : "s", dg_severity_name(sp->o->fail_on));
    else if (n_warn > 0)
        snprintf(reason, sizeof reason, "partial scan: %s", first_warn);
    else if (sr->exit_code == 0)
        *clean = true;
    else
        snprintf(reason, sizeof reason, "scanner error: exit status %d", sr->exit_code);
    if (*clean)
        snprintf(reason, sizeof reason, "no finding at or above %s",
                 dg_severity_name(sp->o->fail_on));
    /* "path" (where the dump is) is set by classify() */
    v = json_pack("{s:s, s:s, s:n, s:s, s:s, s:{s:I, s:b, s:o}, s:{s:s, s:s, s:s, s:s, s:s}, "
                  "s:{s:o, s:o, s:b, s:f}, s:o, s:o, s:o}",
                  "dumpgate", DG_VERSION, "dump", dump, "path", "verdict",
                  *clean ? "clean" : "quarantine",
                  "reason", reason, "received", "bytes", (json_int_t)rv->bytes, "complete",
                  rv->complete, "error", rv->error[0] ? json_string(rv->error) : json_null(),
                  "process", "pid", m->pid, "uid", m->uid, "signal", m->sig, "time", m->time,
                  "comm", m->comm, "scan", "exit",
                  sr->exit_code >= 0 ? json_integer(sr->exit_code) : json_null(), "signal",
                  sr->sig ? json_integer(sr->sig) : json_null(), "timed_out", sr->timed_out,
                  "seconds", sr->seconds, "scan_options", scan_options(sp->o), "summary",
                  summary != NULL ? summary : json_null(), "findings", findings);
    return v;
}

/* Sets the verdict's "path": the absolute path of the dump where it is,
 * SPOOL/sub/name, or dir/name when sub is NULL (a dump that stays in the
 * directory dir). null when it is not UTF-8 text. */
static void
set_path(const struct spool *sp, json_t *v, const char *sub, const char *dir, const char *name)
{
    char real[PATH_MAX], path[PATH_MAX + 320];
    json_t *s;

    if (sub != NULL)
        fmt(path, sizeof path, "%s/%s/%s", sp->abs, sub, name);
    else
        fmt(path, sizeof path, "%s/%s", realpath(dir, real) != NULL ? real : dir, name);
    s = json_string(path);
    json_object_set_new(v, "path", s != NULL ? s : json_null());
}

/* Names in dir for a dump and its verdict that are both free: base + ext
 * and base.json, else base.1 + ext and base.1.json, and so on (a name can
 * repeat after a reboot: same PID, time and handler PID). Sets the
 * verdict's "dump" to the name. The renames that follow never replace a
 * file (RENAME_NOREPLACE), so a race between two handlers can only leave a
 * dump where it was, never delete one. */
static void
free_name(int dir, const char *base, const char *ext, char *dump, size_t dump_len,
          char *vname, size_t vname_len, json_t *v)
{
    struct stat st;

    for (unsigned n = 0; n < 10000; n++) {
        if (n == 0) {
            fmt(dump, dump_len, "%s%s", base, ext);
            fmt(vname, vname_len, "%s.json", base);
        } else {
            fmt(dump, dump_len, "%s.%u%s", base, n, ext);
            fmt(vname, vname_len, "%s.%u.json", base, n);
        }
        if (fstatat(dir, dump, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
            fstatat(dir, vname, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
            break;
    }
    json_object_set_new(v, "dump", json_string(dump));
}

/* Scans the dump src_dir/src_name (locked through fd), writes its verdict
 * and moves it. base names the verdict and the moved dump (base.json,
 * base + ext); keep_clean leaves a clean dump where it is (--sweep). Returns
 * 0 clean, 1 quarantined, 2 when a step failed (logged; the dump is then
 * still in src_dir, or in quarantine). */
/* --redact: writes redacted/DUMP, the verified redacted copy of the
 * quarantined dump open at fd (`dumpgate redact`, which re-scans its copy
 * and writes DUMP.redact.jsonl beside it), and records in the verdict
 * (rewritten in dest) where it is, or why there is none. The original stays
 * in the quarantine whatever happens. */
static void
redact_copy(const struct spool *sp, int fd, const char *dump, int dest, const char *vname,
            json_t *v)
{
    char out[PATH_MAX + 320], why[240];
    struct scan_run rr;

    fmt(out, sizeof out, "%s/redacted/%s", sp->abs, dump);
    if (lseek(fd, 0, SEEK_SET) != 0) {
        fmt(why, sizeof why, "%s", strerror(errno));
        rr.exit_code = -1;
    } else {
        scanchild_redact(sp->o, fd, out, &rr);
        free(rr.out);
        fmt(why, sizeof why, "%s", rr.timed_out ? "redact timed out"
                                   : rr.error[0] ? rr.error
                                                 : "redact found keys it could not remove, or "
                                                   "failed (the original stays quarantined)");
    }
    if (rr.exit_code == 0) {
        char rep[PATH_MAX + 340];

        fmt(rep, sizeof rep, "%s.redact.jsonl", out);
        json_object_set_new(v, "redacted", json_pack("{s:s, s:s}", "path", out, "report", rep));
        fsync(sp->redacted);
        hlog(LOG_NOTICE, "%s: verified redacted copy in redacted/", dump);
    } else {
        json_object_set_new(v, "redaction_failed", json_string(why));
        hlog(LOG_WARNING, "%s: no redacted copy: %s", dump, why);
    }
    if (durable_write_json(dest, vname, v, true) != 0)
        hlog(LOG_ERR, "%s: cannot add the redaction to the verdict", dump);
}

static int
classify(struct spool *sp, int src_dir, const char *src_path, const char *src_name,
         const char *base, const char *ext, int fd, const struct received *rv,
         const struct meta *m, bool keep_clean)
{
    struct scan_run sr;
    bool clean, redactable;
    char dump[300], vname[300];
    json_t *v;
    int dest, e, status;

    fmt(dump, sizeof dump, "%s%s", base, ext);
    fmt(vname, sizeof vname, "%s.json", base);
    scanchild_run(sp->o, fd, &sr);
    v = verdict(sp, dump, rv, m, &sr, &clean);
    /* --redact: only a whole dump whose scan ended with findings */
    redactable = sp->redacted >= 0 && !clean && rv->complete && sr.exit_code == 1 &&
                 !sr.timed_out && sr.sig == 0 && !sr.truncated;
    free(sr.out);
    dest = clean ? sp->clean : sp->quarantine;
    free_name(dest, base, ext, dump, sizeof dump, vname, sizeof vname, v);
    if (clean && keep_clean) /* the dump stays as it is named; only the verdict may not */
        json_object_set_new(v, "dump", json_string(src_name));
    if (clean && keep_clean)
        set_path(sp, v, NULL, sp->o->sweep, src_name);
    else
        set_path(sp, v, clean ? "clean" : "quarantine", NULL, dump);
    e = durable_write_json(dest, vname, v, false);
    if (e != 0 && clean) {
        /* No verdict, no clean: fail closed. */
        hlog(LOG_ERR, "%s: cannot write the verdict: %s; quarantined instead", dump, strerror(e));
        clean = false;
        dest = sp->quarantine;
        json_object_set_new(v, "verdict", json_string("quarantine"));
        free_name(dest, base, ext, dump, sizeof dump, vname, sizeof vname, v);
        set_path(sp, v, "quarantine", NULL, dump);
        e = durable_write_json(dest, vname, v, false);
    }
    status = clean ? 0 : 1;
    if (e != 0) {
        hlog(LOG_ERR, "%s: cannot write the verdict %s: %s", dump, vname, strerror(e));
        status = 2;
    }
    if (!clean)
        (void)fchmod(fd, 0600);
    if (!(clean && keep_clean)) {
        if (renameat2(src_dir, src_name, dest, dump, RENAME_NOREPLACE) != 0) {
            hlog(LOG_ERR, "%s: cannot move it to %s: %s; it stays in %s", dump,
                 clean ? "clean/" : "quarantine/", strerror(errno), src_path);
            status = 2;
            /* the verdict says where it stayed */
            if (keep_clean || src_dir != sp->incoming)
                set_path(sp, v, NULL, sp->o->sweep, src_name);
            else
                set_path(sp, v, "incoming", NULL, src_name);
            if (e == 0)
                durable_write_json(dest, vname, v, true); /* our own verdict, corrected */
        } else {
            fsync(dest);
            fsync(src_dir);
            if (redactable && e == 0)
                redact_copy(sp, fd, dump, dest, vname, v);
        }
    }
    hlog(clean ? LOG_INFO : LOG_WARNING, "core %s pid=%s uid=%s signal=%s comm=%s: %s: %s", dump,
         m->pid, m->uid, m->sig, m->comm, clean ? "clean" : "quarantine",
         json_string_value(json_object_get(v, "reason")));
    json_decref(v);
    return status;
}

/* --- receiving from the kernel ---------------------------------------------- */

/* Creates incoming/base.part already locked (O_TMPFILE + linkat, so no other
 * handler can see it unlocked). Returns the descriptor or -1 (errno). */
static int
create_locked(int dir, char *base, size_t base_cap, const char *stem)
{
    char part[320], proc[64];
    int fd = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    for (int i = 0; i < 100; i++) {
        if (i == 0)
            snprintf(base, base_cap, "%s", stem);
        else
            snprintf(base, base_cap, "%s-%d", stem, i);
        fmt(part, sizeof part, "%s.part", base);
        if (fd >= 0) {
            flock(fd, LOCK_EX);
            fmt(proc, sizeof proc, "/proc/self/fd/%d", fd);
            if (linkat(AT_FDCWD, proc, dir, part, AT_SYMLINK_FOLLOW) == 0)
                return fd;
            if (errno == EEXIST)
                continue;
            close(fd); /* no O_TMPFILE link here: fall back */
            fd = -1;
        }
        {
            int f = openat(dir, part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

            if (f >= 0) {
                flock(f, LOCK_EX);
                return f;
            }
            if (errno != EEXIST)
                return -1;
        }
    }
    if (fd >= 0)
        close(fd);
    errno = EEXIST;
    return -1;
}

/* Free bytes of the spool's filesystem for an unprivileged writer (root's
 * reserve not counted), or UINT64_MAX when unknown. */
static uint64_t
free_bytes(int dir)
{
    struct statvfs v;

    if (fstatvfs(dir, &v) != 0)
        return UINT64_MAX;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

/* Reads standard input to its end and drops it, so that the kernel is not
 * left waiting on the pipe, until deadline; then closes it (the kernel's
 * next write fails at once). Returns the bytes read; *ended says whether
 * the end came. */
static uint64_t
drain(uint8_t *buf, size_t cap, double deadline, bool *ended)
{
    uint64_t n = 0;

    *ended = false;
    while (deadline_wait_readable(STDIN_FILENO, deadline)) {
        ssize_t r = read(STDIN_FILENO, buf, cap);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *ended = r == 0;
            break;
        }
        n += (uint64_t)r;
    }
    close(STDIN_FILENO);
    return n;
}

/* A core that is not stored at all: drained, logged CRIT and counted in
 * SPOOL/lost. Returns 2. */
static int
lose(struct spool *sp, const struct meta *m, double deadline, const char *why)
{
    uint8_t buf[65536];
    uint64_t total, count = 0;
    bool ended;
    int e;

    total = drain(buf, sizeof buf, deadline, &ended);
    e = counter_add(sp->dir, LOST_FILE, 1, &count);
    if (e == 0)
        hlog(LOG_CRIT,
             "core pid=%s uid=%s signal=%s comm=%s: not stored: %s; the core (%" PRIu64
             " bytes%s) is lost (%s/%s: %" PRIu64 ")",
             m->pid, m->uid, m->sig, m->comm, why, total, ended ? "" : " read before giving up",
             sp->o->spool, LOST_FILE, count);
    else
        hlog(LOG_CRIT,
             "core pid=%s uid=%s signal=%s comm=%s: not stored: %s; the core (%" PRIu64
             " bytes) is lost, and could not be counted in %s/%s: %s",
             m->pid, m->uid, m->sig, m->comm, why, total, sp->o->spool, LOST_FILE, strerror(e));
    return 2;
}

static int
receive_one(struct spool *sp)
{
    const struct cli_opts *o = sp->o;
    struct meta m;
    struct received rv = {0};
    char stem[256], base[280], part[300], done[300], path[PATH_MAX], why[200];
    uint8_t *buf = iobuf_alloc(COPY_BUF);
    unsigned limit_s = o->receive_timeout > 0 ? o->receive_timeout : o->timeout;
    double deadline = deadline_now() + limit_s;
    bool rd_eof = false, stop = false;
    uint64_t avail, seen = 0; /* seen: bytes read from standard input */
    int fd;

    meta_from_args(o, &m);
    if (o->keep_free > 0 && (avail = free_bytes(sp->dir)) < o->keep_free) {
        free(buf);
        fmt(why, sizeof why, "the spool's filesystem has %" PRIu64 " bytes free, under "
            "keep_free (%llu)", avail, o->keep_free);
        return lose(sp, &m, deadline, why);
    }
    fmt(stem, sizeof stem, "core.%s.%s.%s.%s.%s.%d", m.comm, m.uid, m.pid, m.sig, m.time,
             (int)getpid());
    fd = create_locked(sp->incoming, base, sizeof base, stem);
    if (fd < 0 || buf == NULL) {
        fmt(why, sizeof why, "cannot spool it in %s/incoming: %s", o->spool,
            strerror(buf == NULL ? ENOMEM : errno));
        free(buf);
        return lose(sp, &m, deadline, why);
    }
    fmt(part, sizeof part, "%s.part", base);
    while (!rd_eof && !stop) {
        ssize_t r, off = 0, keep;

        if (!deadline_wait_readable(STDIN_FILENO, deadline)) {
            snprintf(rv.error, sizeof rv.error,
                     "the core did not arrive within %u s (receive timeout)", limit_s);
            break;
        }
        r = read(STDIN_FILENO, buf, COPY_BUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(rv.error, sizeof rv.error, "read error on standard input: %s",
                     strerror(errno));
            break;
        }
        if (r == 0)
            rd_eof = true;
        seen += (uint64_t)r;
        keep = r;
        if (o->max_dump_size > 0 && rv.bytes + (uint64_t)r > o->max_dump_size) {
            keep = (ssize_t)(o->max_dump_size - rv.bytes);
            stop = true;
        }
        while (off < keep) {
            ssize_t w = write(fd, buf + off, (size_t)(keep - off));

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += w;
            rv.bytes += (uint64_t)w;
        }
        if (off < keep) {
            snprintf(rv.error, sizeof rv.error, "spool write failed after %" PRIu64 " bytes: %s",
                     rv.bytes, strerror(errno ? errno : ENOSPC));
            stop = true;
        } else if (stop) {
            snprintf(rv.error, sizeof rv.error,
                     "the core is larger than max_dump_size: its first %" PRIu64
                     " bytes were kept", rv.bytes);
        } else if (o->keep_free > 0 && !rd_eof && (avail = free_bytes(sp->dir)) < o->keep_free) {
            snprintf(rv.error, sizeof rv.error,
                     "the spool's free space fell under keep_free (%" PRIu64 " bytes left): "
                     "its first %" PRIu64 " bytes were kept", avail, rv.bytes);
            stop = true;
        }
    }
    if (!rd_eof) {
        uint64_t rest = 0;
        bool ended = false;

        if (stop) {
            /* the policy stopped storing, not the sender: read the rest and
             * drop it */
            rest = drain(buf, COPY_BUF, deadline, &ended);
            if (ended) {
                size_t k = strlen(rv.error);

                snprintf(rv.error + k, sizeof rv.error - k, " (the core had %" PRIu64 ")",
                         seen + rest);
            }
        } else {
            close(STDIN_FILENO); /* the kernel's write fails now: it need not wait for us */
        }
    }
    free(buf);
    if (fsync(fd) != 0 && rv.error[0] == '\0')
        snprintf(rv.error, sizeof rv.error, "fsync: %s", strerror(errno));
    rv.complete = rd_eof && rv.error[0] == '\0';
    if (!rv.complete)
        hlog(LOG_ERR, "core %s: %s; keeping the %" PRIu64 " bytes received", base, rv.error,
             rv.bytes);
    fmt(done, sizeof done, "%s%s", base, rv.complete ? ".core" : ".trunc");
    if (renameat(sp->incoming, part, sp->incoming, done) != 0) {
        hlog(LOG_ERR, "core %s: rename in incoming/: %s; left as %s", base, strerror(errno), part);
        fmt(done, sizeof done, "%s", part);
    }
    fsync(sp->incoming);
    fmt(path, sizeof path, "%s/incoming/%s", o->spool, done);
    {
        int st = classify(sp, sp->incoming, path, done, base, ".core", fd, &rv, &m, false);

        close(fd);
        return rv.complete ? st : 2;
    }
}

/* --- recovery and sweeping -------------------------------------------------- */

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Opens dir/name and locks it without waiting; -1 if another handler holds
 * it, it moved meanwhile, or it is no regular file. O_NONBLOCK: opening a
 * FIFO someone named core.* must not wait for a writer that never comes. */
static int
open_unlocked(int dir, const char *name, int flags)
{
    struct stat a, b;
    int fd = openat(dir, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &a) != 0 ||
        fstatat(dir, name, &b, AT_SYMLINK_NOFOLLOW) != 0 || a.st_ino != b.st_ino ||
        a.st_dev != b.st_dev || !S_ISREG(a.st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Finishes what dead handlers left in incoming/. Returns 0 (nothing, or all
 * clean), 1 (something quarantined) or 2 (a step failed). */
static int
recover(struct spool *sp)
{
    int dfd = dup(sp->incoming), status = 0;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *e;

    if (d == NULL) {
        if (dfd >= 0)
            close(dfd);
        hlog(LOG_ERR, "spool %s/incoming: %s", sp->o->spool, strerror(errno));
        return 2;
    }
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        char base[300], done[320], path[PATH_MAX];
        struct received rv = {0};
        struct meta m;
        struct stat st;
        int fd, s;

        if (name[0] == '.' || strncmp(name, "core.", 5) != 0 ||
            !(ends_with(name, ".part") || ends_with(name, ".core") || ends_with(name, ".trunc")))
            continue;
        if ((fd = open_unlocked(sp->incoming, name, O_RDWR)) < 0)
            continue;
        fmt(base, sizeof base, "%.*s", (int)(strrchr(name, '.') - name), name);
        meta_from_spool_name(base, &m);
        rv.bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        rv.complete = ends_with(name, ".core");
        fmt(done, sizeof done, "%s", name);
        if (ends_with(name, ".part")) {
            snprintf(rv.error, sizeof rv.error,
                     "the handler stopped while receiving it; recovered from the spool");
            fsync(fd);
            fmt(done, sizeof done, "%s.trunc", base);
            if (renameat(sp->incoming, name, sp->incoming, done) != 0)
                fmt(done, sizeof done, "%s", name);
            fsync(sp->incoming);
        } else if (!rv.complete) {
            snprintf(rv.error, sizeof rv.error, "received in part; recovered from the spool");
        }
        hlog(LOG_NOTICE, "recovering %s (%" PRIu64 " bytes) from the spool", name, rv.bytes);
        fmt(path, sizeof path, "%s/incoming/%s", sp->o->spool, done);
        s = classify(sp, sp->incoming, path, done, base, ".core", fd, &rv, &m, false);
        if (s > status)
            status = s;
        close(fd);
    }
    closedir(d);
    return status;
}

/* Scans each dump systemd-coredump stored in o->sweep that has no verdict yet. */
static int
sweep(struct spool *sp)
{
    int dir = open(sp->o->sweep, O_RDONLY | O_DIRECTORY | O_CLOEXEC), status = 0, dfd;
    DIR *d;
    struct dirent *e;

    if (dir < 0 || (dfd = dup(dir)) < 0 || (d = fdopendir(dfd)) == NULL) {
        hlog(LOG_ERR, "sweep %s: %s", sp->o->sweep, strerror(errno));
        if (dir >= 0)
            close(dir);
        return 2;
    }
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        char vname[320], path[PATH_MAX];
        struct received rv = {0};
        struct meta m;
        struct stat st;
        int fd, s;

        if (strncmp(name, "core.", 5) != 0) /* skips systemd's .#core temporaries too */
            continue;
        fmt(vname, sizeof vname, "%s.json", name);
        if (faccessat(sp->clean, vname, F_OK, 0) == 0 ||
            faccessat(sp->quarantine, vname, F_OK, 0) == 0)
            continue; /* done before */
        if ((fd = open_unlocked(dir, name, O_RDONLY)) < 0)
            continue;
        meta_from_coredump_name(name, &m);
        rv.complete = true;
        rv.bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        fmt(path, sizeof path, "%s/%s", sp->o->sweep, name);
        s = classify(sp, dir, path, name, name, "", fd, &rv, &m, true);
        if (s > status)
            status = s;
        close(fd);
    }
    closedir(d);
    close(dir);
    return status;
}

/* Reads the --allow and --known-keys files as every scan will, so that a bad
 * one stops the handler before it takes a dump. Returns false after logging
 * why (on stderr too: this is a start-up error, like a bad option). */
static bool
check_identity_files(const struct cli_opts *o)
{
    struct identity_db *db;
    struct dg_diag *d;
    bool ok = true;

    if (o->n_allow == 0 && o->n_known == 0)
        return true;
    db = identity_new(false);
    d = dg_diag_new();
    if (db == NULL || d == NULL) {
        hlog(LOG_CRIT, "core-handler: out of memory; not started");
        ok = false;
    }
    for (int i = 0; i < o->n_allow && ok; i++)
        ok = identity_load_allow(db, o->allow[i], d) == DG_OK;
    for (int i = 0; i < o->n_known && ok; i++)
        ok = identity_load_known(db, o->known[i], d) == DG_OK;
    for (size_t i = 0; d != NULL && i < dg_diag_count(d); i++) {
        const char *text = dg_diag_get(d, i)->text;

        hlog(LOG_CRIT, "core-handler: %s; not started", text);
        if (!o->log_stderr)
            fprintf(stderr, "dumpgate: error: %s\n", text);
    }
    dg_diag_free(d);
    identity_free(db);
    return ok;
}

int
handler_run(const struct cli_opts *o)
{
    struct spool sp;
    int status = 0, rec;

    openlog("dumpgate", LOG_PID | (o->log_stderr ? LOG_PERROR : 0), LOG_DAEMON);
    if (!check_identity_files(o)) {
        closelog();
        return 2;
    }
    signal(SIGXFSZ, SIG_IGN); /* a file size limit is EFBIG, not death */
    signal(SIGPIPE, SIG_IGN);
    umask(077);
    if (!spool_open(o, &sp)) {
        spool_close(&sp);
        closelog();
        return 2;
    }
    if (o->sweep != NULL)
        status = sweep(&sp);
    else if (!o->recover_only)
        status = receive_one(&sp);
    rec = recover(&sp);
    if (o->recover_only)
        status = rec;
    spool_close(&sp);
    closelog();
    return status;
}
