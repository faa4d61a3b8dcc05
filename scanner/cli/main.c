/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * main.c - the dumpgate command: runs a subcommand, prints diagnostics on
 * stderr and maps the results to the exit status (0 clean, 1 findings at or
 * above --fail-on, 2 error). The only code besides options.c that prints to
 * the terminal or decides the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <dumpgate/dumpgate.h>

#include "../../detectors/plugin.h"
#include "../../detectors/registry.h"
#include "../../detectors/rules.h"
#include "gateway.h"
#include "handler.h"
#include "netlib.h"
#include "../engine/identity.h"
#include "../proof/keyproof.h"
#include "../where/where.h"
#include "options.h"
#include "quarantine.h"
#include "redact.h"
#include "s3.h"
#include "sandbox.h"
#include "../util/deadline.h"

#define EXIT_CLEAN 0
#define EXIT_FINDINGS 1
#define EXIT_ERROR 2

static void
print_diag(const struct cli_opts *o, const struct scan_result *r)
{
    for (size_t i = 0; i < dg_diag_count(r->diag); i++) {
        const struct dg_diag_msg *m = dg_diag_get(r->diag, i);
        const char *lvl = m->level == DG_DIAG_ERROR     ? "error"
                          : m->level == DG_DIAG_WARNING ? "warning"
                                                        : "info";

        if (m->level == DG_DIAG_INFO && o->verbose == 0)
            continue;
        if (m->level == DG_DIAG_WARNING && o->quiet)
            continue;
        if (m->off != DG_NO_OFFSET)
            fprintf(stderr, "dumpgate: %s: %s (offset %" PRIu64 ")\n", lvl, m->text, m->off);
        else
            fprintf(stderr, "dumpgate: %s: %s\n", lvl, m->text);
    }
    if (dg_diag_dropped(r->diag) > 0 && !o->quiet)
        fprintf(stderr, "dumpgate: warning: %s: %zu more messages not shown\n", r->name,
                dg_diag_dropped(r->diag));
}

/* What the files of one `scan` held, for the closing line. */
struct tally {
    int n_files;
    int n_failed;               /* files that failed: unreadable, or incomplete under --strict */
    size_t by_sev[4];           /* findings not allowed, by enum dg_severity */
    size_t n_allowed;           /* findings on the allow list */
    size_t n_failing;           /* findings not allowed, at or above --fail-on */
};

static void
tally_add(struct tally *t, const struct cli_opts *o, const struct scan_result *r, bool failed)
{
    t->n_files++;
    t->n_failed += failed;
    for (size_t k = 0; k < r->n_findings; k++) {
        const struct scan_finding *sf = &r->findings[k];

        if (sf->allowed) {
            t->n_allowed++;
            continue;
        }
        if ((unsigned)sf->f.severity < sizeof t->by_sev / sizeof t->by_sev[0])
            t->by_sev[sf->f.severity]++;
        t->n_failing += sf->f.severity >= o->fail_on;
    }
}

static const char *
plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* The closing line for a person at a terminal: how many files and
 * findings, and why the exit status is what it is. */
static void
print_closing(FILE *out, const struct cli_opts *o, const struct tally *t, int status)
{
    static const enum dg_severity order[] = {DG_SEV_HIGH, DG_SEV_MEDIUM, DG_SEV_LOW};
    const char *fail_on = dg_severity_name(o->fail_on);
    size_t total = 0;
    int n_parts = 0;

    for (size_t i = 0; i < sizeof t->by_sev / sizeof t->by_sev[0]; i++)
        total += t->by_sev[i];
    fprintf(out, "dumpgate: %d file%s", t->n_files, plural((size_t)t->n_files));
    if (t->n_failed > 0)
        fprintf(out, ", %d failed", t->n_failed);
    if (status == EXIT_CLEAN) {
        fprintf(out, ", clean at --fail-on %s", fail_on);
        if (total == 0 && t->n_allowed == 0)
            fputs(" (no findings)", out);
        else if (total == 0)
            fprintf(out, " (%zu allowed)", t->n_allowed);
        else if (t->n_allowed == 0)
            fprintf(out, " (%zu finding%s below it)", total, plural(total));
        else
            fprintf(out, " (%zu finding%s below it, %zu allowed)", total, plural(total),
                    t->n_allowed);
        fputs("; exit 0\n", out);
        return;
    }
    fprintf(out, ", %zu finding%s", total, plural(total));
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        size_t n = t->by_sev[order[i]];

        if (n > 0)
            fprintf(out, "%s%zu %s", n_parts++ == 0 ? " (" : ", ", n, dg_severity_name(order[i]));
    }
    if (n_parts > 0)
        fputc(')', out);
    if (t->n_allowed > 0)
        fprintf(out, ", %zu allowed", t->n_allowed);
    if (status == EXIT_FINDINGS)
        fprintf(out, "; exit 1: %zu at or above --fail-on %s\n", t->n_failing, fail_on);
    else
        fprintf(out, "; exit 2: %s\n",
                t->n_failed > 0 ? "a file failed (see above)" : "an error (see above)");
}

/* --dumps-only: do the first bytes of path start a dump? Only a regular
 * file is judged (opened without blocking, so a FIFO cannot hang the
 * hook); anything else, and a file that cannot be read, is scanned all the
 * same, so that its error is reported. */
static bool
looks_like_dump(const char *path)
{
    uint8_t head[64];
    struct stat st;
    ssize_t n;
    int fd;

    if (strcmp(path, "-") == 0 ||
        (fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0)
        return true;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return true;
    }
    n = read(fd, head, sizeof head);
    close(fd);
    return n <= 0 || scan_head_is_dump(head, (size_t)n);
}

/* NO_COLOR (no-color.org): present and not empty means no colour. */
static bool
no_color(void)
{
    const char *v = getenv("NO_COLOR");

    return v != NULL && v[0] != '\0';
}

/* -o FILE: the report is written to a new file beside FILE and renamed over
 * it at the end, so FILE holds a whole report or stays as it was. *tmp gets
 * the new file's name. NULL after printing why. */
static FILE *
open_output(const char *path, char **tmp)
{
    mode_t mask = umask(0);
    FILE *f;
    int fd;

    umask(mask);
    if (asprintf(tmp, "%s.XXXXXX", path) < 0) {
        *tmp = NULL;
        fprintf(stderr, "dumpgate: out of memory\n");
        return NULL;
    }
    if ((fd = mkstemp(*tmp)) < 0 || fchmod(fd, 0666 & ~mask) != 0 ||
        (f = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "dumpgate: error: %s: cannot write the report: %s\n", path,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(*tmp);
        }
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    return f;
}

/* Closes the report written to tmp and renames it to path; false (tmp
 * removed) after printing why. */
static bool
close_output(FILE *f, const char *tmp, const char *path)
{
    bool ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;

    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return true;
    fprintf(stderr, "dumpgate: error: %s: cannot write the report: %s\n", path, strerror(errno));
    unlink(tmp);
    return false;
}

/* The progress line on a terminal, for a dump over PROGRESS_MIN bytes. */
#define PROGRESS_MIN (256ull << 20)

struct progress {
    pthread_mutex_t lock; /* the scan's threads share the line */
    const char *name;     /* the file being scanned */
    bool shown;
};

/* dg_proof_policy.progress: a proof has run for a while. */
static void
show_proof_progress(void *arg, const char *algorithm, int bits, unsigned seconds)
{
    struct progress *p = arg;

    pthread_mutex_lock(&p->lock);
    fprintf(stderr, "\rdumpgate: %s: proving a %d-bit %s key (%u s)\033[K", p->name, bits,
            algorithm, seconds);
    fflush(stderr);
    p->shown = true;
    pthread_mutex_unlock(&p->lock);
}

static void
show_progress(void *arg, uint64_t scanned, uint64_t total)
{
    struct progress *p = arg;

    if (total > 0 && total < PROGRESS_MIN)
        return;
    if (total == 0 && scanned < PROGRESS_MIN)
        return;
    pthread_mutex_lock(&p->lock);
    if (total > 0)
        fprintf(stderr, "\rdumpgate: %s: %.1f of %.1f GiB scanned (%u%%)\033[K", p->name,
                (double)scanned / (1u << 30), (double)total / (1u << 30),
                (unsigned)(scanned * 100 / total));
    else
        fprintf(stderr, "\rdumpgate: %s: %.1f GiB scanned\033[K", p->name,
                (double)scanned / (1u << 30));
    fflush(stderr);
    p->shown = true;
    pthread_mutex_unlock(&p->lock);
}

/* --sandbox: the confined scan may open no file, so each rule file of the
 * "rules=..." option is opened now and named by its descriptor
 * (/proc/self/fd/N, which the rules detector reads through). OUT: keyvals
 * (o->keyvals with that option replaced; room for 33), *kv (the new option,
 * to free), fds[0..*n_fds) (to close after the scans). False after printing
 * why. */
static bool
pin_rule_files(const struct cli_opts *o, const char **keyvals, char **kv, int *fds, int *n_fds)
{
    size_t len = 7;

    *kv = NULL;
    *n_fds = 0;
    for (int i = 0; i <= o->n_keyvals; i++)
        keyvals[i] = o->keyvals[i];
    if (o->rules_kv == NULL)
        return true;
    for (int i = 0; i < o->n_rules; i++)
        len += strlen(o->rules[i]) + 32;
    if ((*kv = malloc(len)) == NULL) {
        fprintf(stderr, "dumpgate: out of memory\n");
        return false;
    }
    strcpy(*kv, "rules=");
    for (int i = 0; i < o->n_rules; i++) {
        size_t at = strlen(*kv);
        int fd = -1;

        if (strcmp(o->rules[i], "default") != 0 &&
            (fd = open(o->rules[i], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
            fprintf(stderr, "dumpgate: error: %s: %s\n", o->rules[i], strerror(errno));
            return false;
        }
        if (fd >= 0)
            fds[(*n_fds)++] = fd;
        if (fd >= 0)
            snprintf(*kv + at, len - at, "%s/proc/self/fd/%d", i > 0 ? "\n" : "", fd);
        else
            snprintf(*kv + at, len - at, "%sdefault", i > 0 ? "\n" : "");
    }
    for (int i = 0; i < o->n_keyvals; i++)
        if (keyvals[i] == o->rules_kv)
            keyvals[i] = *kv;
    return true;
}

/* Gives up cmd_scan() before its first file: frees what it made and removes
 * the temporary file of -o. */
static int
scan_abandoned(struct identity_db *db, struct keyproof_memo *memo, FILE *out, char *tmp)
{
    identity_free(db);
    keyproof_memo_free(memo);
    if (tmp != NULL) {
        fclose(out);
        unlink(tmp);
        free(tmp);
    }
    return EXIT_ERROR;
}

/* scan_open_fn of an s3:// file: arg is the struct s3_stream ** that
 * s3_close() ends after the scan. */
struct s3_open_arg {
    const char *url;
    struct s3_stream **s;
};

static dg_err
open_s3(void *arg, struct dg_diag *d, int *fd)
{
    const struct s3_open_arg *a = arg;

    return s3_open(a->url, d, a->s, fd);
}

/* Are any of the files s3:// URLs? */
static bool
any_s3(const struct cli_opts *o)
{
    for (int i = 0; i < o->n_files; i++)
        if (s3_is_url(o->files[i]))
            return true;
    return false;
}

/* dumpgate ls-s3 s3://bucket/prefix: one line "URL SIZE ETAG LAST_MODIFIED"
 * per object. */
static int
cmd_ls_s3(int argc, char **argv)
{
    const char *url = NULL;
    unsigned long page = 0;
    bool bad = false;
    struct dg_diag *d;
    char why[300];
    dg_err rc;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--page-size") == 0 && i + 1 < argc) {
            char *end;

            errno = 0;
            page = strtoul(argv[++i], &end, 10);
            bad |= errno != 0 || *end != '\0' || page == 0 || page > 1000;
        } else if (url == NULL && s3_is_url(argv[i])) {
            url = argv[i];
        } else {
            bad = true;
        }
    }
    if (bad || url == NULL) {
        fprintf(stderr, "usage: dumpgate ls-s3 [--page-size 1..1000] s3://BUCKET/PREFIX\n");
        return EXIT_ERROR;
    }
    if (netlib_load(why, sizeof why) == NULL) {
        fprintf(stderr, "dumpgate: error: ls-s3: %s\n", why);
        return EXIT_ERROR;
    }
    if ((d = dg_diag_new()) == NULL || netlib()->global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "dumpgate: error: cannot start: out of memory or libcurl failed\n");
        dg_diag_free(d);
        return EXIT_ERROR;
    }
    rc = s3_list(url, (unsigned)page, stdout, d);
    for (size_t i = 0; i < dg_diag_count(d); i++)
        fprintf(stderr, "dumpgate: error: %s\n", dg_diag_get(d, i)->text);
    dg_diag_free(d);
    netlib()->global_cleanup();
    return rc == DG_OK ? EXIT_CLEAN : EXIT_ERROR;
}

/* The spill file of streams (scan_opts.spill_fd), in $TMPDIR, else /tmp;
 * -1 when none can be made there (the scan then says so for each stream). */
static int
spill_open(void)
{
    const char *t = getenv("TMPDIR");

    return scan_spill_open(t != NULL && t[0] == '/' ? t : "/tmp");
}

static int
cmd_scan(const struct cli_opts *o)
{
    struct scan_opts so = {
        .threads = o->threads,
        .chunk_size = o->chunk_size,
        .detectors = o->detectors_set ? o->detectors : NULL,
        .cfg = {.verbose = o->verbose, .keyvals = o->n_keyvals ? o->keyvals : NULL},
        .max_decompressed = o->max_decompressed,
        .spill = !o->no_spill,
        .spill_fd = -1,
    };
    struct report rp = {.out = stdout, .format = o->format, .verbose = o->verbose};
    struct identity_db *db = identity_new(!o->no_builtin_allow);
    struct dg_diag *d = dg_diag_new();
    struct tally t = {0};
    struct progress prog = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct dg_proof_policy proof = {0};
    struct where_opts where = {.debug_dirs = o->n_debug_dirs ? o->debug_dirs : NULL};
    char *tmp = NULL;
    int status = EXIT_CLEAN;
    bool error = false;
    /* --sandbox: the rule files, opened before (pin_rule_files) */
    const char *sandbox_keyvals[sizeof o->keyvals / sizeof o->keyvals[0]];
    char *sandbox_kv = NULL;
    int sandbox_fds[sizeof o->rules / sizeof o->rules[0]], n_sandbox_fds = 0;

    if (db == NULL || d == NULL) {
        fprintf(stderr, "dumpgate: out of memory\n");
        identity_free(db);
        dg_diag_free(d);
        return EXIT_ERROR;
    }
    for (int i = 0; i < o->n_allow && !error; i++)
        error = identity_load_allow(db, o->allow[i], d) != DG_OK;
    for (int i = 0; i < o->n_known && !error; i++)
        error = identity_load_known(db, o->known[i], d) != DG_OK;
    for (size_t i = 0; i < dg_diag_count(d); i++)
        fprintf(stderr, "dumpgate: error: %s\n", dg_diag_get(d, i)->text);
    dg_diag_free(d);
    if (error) {
        identity_free(db);
        return EXIT_ERROR;
    }

    if (o->output != NULL && (rp.out = open_output(o->output, &tmp)) == NULL) {
        identity_free(db);
        return EXIT_ERROR;
    }
    rp.color = o->format == REPORT_TEXT && isatty(fileno(rp.out)) && !no_color();
    identity_proof_policy(db, &proof); /* an allowed key is named, never proven */
    proof.memo = keyproof_memo_new();   /* each key proven once; NULL: every copy */
    if (!o->quiet && isatty(STDERR_FILENO)) {
        so.progress = show_progress;
        so.progress_arg = &prog;
        proof.progress = show_proof_progress;
        proof.progress_arg = &prog;
    }
    so.cfg.proof = &proof;
    so.where = &where; /* issue 22: attribution, --debug-dir */
    if (o->format == REPORT_SARIF && (rp.sarif = sarif_new()) == NULL) {
        fprintf(stderr, "dumpgate: out of memory\n");
        return scan_abandoned(db, proof.memo, rp.out, tmp);
    }
    if (so.spill)
        so.spill_fd = spill_open(); /* before --sandbox, which opens no file */
    if (o->sandbox != NULL) {
        char err[240];

        /* OpenSSL reads its configuration now, while it still may */
        OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
        if (!pin_rule_files(o, sandbox_keyvals, &sandbox_kv, sandbox_fds, &n_sandbox_fds))
            error = true;
        else
            so.cfg.keyvals = o->n_keyvals ? sandbox_keyvals : NULL;
        if (error || !sandbox_enter(o->sandbox, err, sizeof err)) {
            if (!error)
                fprintf(stderr, "dumpgate: error: --sandbox: %s; nothing scanned\n", err);
            for (int i = 0; i < n_sandbox_fds; i++)
                close(sandbox_fds[i]);
            free(sandbox_kv);
            if (so.spill_fd >= 0)
                close(so.spill_fd);
            return scan_abandoned(db, proof.memo, rp.out, tmp);
        }
    }
    for (int i = 0; i < o->n_files; i++) {
        struct scan_result r;
        dg_err rc;
        bool failed;
        char why[240];

        if (o->dumps_only && !looks_like_dump(o->files[i])) {
            if (o->verbose > 0)
                fprintf(stderr, "dumpgate: %s: not a dump by its first bytes; not scanned\n",
                        o->files[i]);
            continue;
        }
        prog.name = o->files[i];
        prog.shown = false;
        so.deadline = o->scan_timeout > 0 ? deadline_now() + o->scan_timeout : 0;
        if (s3_is_url(o->files[i])) {
            /* an object streamed from S3 (issue 25); its transfer's failure
             * is this file's error */
            struct s3_stream *s3 = NULL;

            rc = scan_opened(o->files[i], open_s3,
                             &(struct s3_open_arg){.url = o->files[i], .s = &s3}, &so, &r);
            if (s3_close(s3, r.diag) != DG_OK && rc == DG_OK)
                rc = DG_E_IO;
        } else {
            rc = scan_path(o->files[i], &so, &r);
        }
        if (prog.shown)
            fputs("\r\033[K", stderr); /* the progress line goes */
        print_diag(o, &r);
        identity_apply(db, &r);
        verdict_apply(&o->policy, &r);
        failed = rc != DG_OK;
        if (failed) {
            report_failed(&rp, &r);
        } else {
            report_scan(&rp, &r);
            for (size_t k = 0; k < r.n_findings; k++)
                if (r.findings[k].f.severity >= o->fail_on && !r.findings[k].allowed)
                    status = EXIT_FINDINGS;
            if (r.over_budget) {
                /* a budget stopped it: the file is not judged, whatever
                 * --strict says (the warning before said which) */
                fprintf(stderr, "dumpgate: error: %s: scan stopped by a budget "
                        "(--max-decompressed, --scan-timeout); not judged\n", r.name);
                failed = true;
            } else if (o->strict && scan_incomplete(&r, why, sizeof why)) {
                fprintf(stderr, "dumpgate: error: %s: incomplete scan (--strict): %s\n",
                        r.name, why);
                failed = true;
            }
        }
        error |= failed;
        tally_add(&t, o, &r, failed);
        scan_result_free(&r);
    }
    report_finish(&rp);
    identity_free(db);
    keyproof_memo_free(proof.memo);
    if (so.spill_fd >= 0)
        close(so.spill_fd);
    for (int i = 0; i < n_sandbox_fds; i++)
        close(sandbox_fds[i]);
    free(sandbox_kv);
    if (tmp != NULL && !close_output(rp.out, tmp, o->output))
        error = true;
    free(tmp);
    /* Precedence: a finding (1) is never hidden by an error (2) in another
     * file; an error is never hidden by a clean file (0). */
    if (error && status != EXIT_FINDINGS)
        status = EXIT_ERROR;
    if (o->format == REPORT_TEXT && isatty(STDOUT_FILENO))
        print_closing(stdout, o, &t, status); /* for the person, even with -o */
    return status;
}

static int
cmd_regions(const struct cli_opts *o)
{
    struct report rp = {.out = stdout, .format = o->format, .verbose = o->verbose};
    struct scan_result r;
    dg_err rc = scan_regions(o->files[0], &r);
    int status = rc == DG_OK ? EXIT_CLEAN : EXIT_ERROR;

    print_diag(o, &r);
    if (rc == DG_OK || o->format == REPORT_JSONL)
        report_regions(&rp, &r);
    scan_result_free(&r);
    return status;
}

static int
cmd_detectors(const struct cli_opts *o, const struct rule_set *rules)
{
    for (size_t i = 0; i < registry_count(); i++) {
        const struct dg_detector *d = registry_get(i);
        bool builtin = registry_is_builtin(d);
        bool on = d->default_on || (rules != NULL && strcmp(d->name, "rules") == 0) ||
                  (!builtin && !o->detectors_set);

        printf("%-10s %-6s %s%s%s\n", d->name, dg_severity_name(d->severity), d->summary,
               builtin ? "" : " (plug-in)", on ? "" : " (off by default)");
        if (d->forms != NULL) {
            printf("%-17s forms:", "");
            for (const char *const *f = d->forms; *f != NULL; f++)
                printf(" %s", *f);
            printf("\n");
        }
        if (rules != NULL && strcmp(d->name, "rules") == 0) {
            for (size_t k = 0; k < rules->n; k++) {
                const struct rule *r = &rules->rules[k];
                char enc[40];

                printf("  rule %-30s %-6s %s\n", r->id, dg_severity_name(r->severity),
                       r->description);
                printf("%-7s %s; from %s:%lu\n", "",
                       rules_encodings_name(r->encodings, enc, sizeof enc), r->file, r->line);
            }
        }
    }
    return EXIT_CLEAN;
}

/* The detectors that run when nothing chooses them: the built-in ones that
 * are on by default, and every plug-in. OUT: names (room for REGISTRY_MAX
 * and a NULL). Returns how many. */
static size_t
default_detectors(const char **names)
{
    size_t n = 0;

    for (size_t i = 0; i < registry_count(); i++) {
        const struct dg_detector *d = registry_get(i);

        if (d->default_on || !registry_is_builtin(d))
            names[n++] = d->name;
    }
    names[n] = NULL;
    return n;
}

/* Refuses an --option NAME=VALUE that no loaded detector reads (a
 * misspelled name would otherwise change nothing, silently). */
static int
check_options(const struct cli_opts *o)
{
    for (int i = 0; i < o->n_keyvals; i++) {
        const char *kv = o->keyvals[i], *eq = strchr(kv, '=');
        size_t len = eq != NULL ? (size_t)(eq - kv) : strlen(kv);
        bool known = false;

        for (size_t k = 0; k < registry_count() && !known; k++) {
            const struct dg_detector *d = registry_get(k);

            for (const char *const *n = d->options; n != NULL && *n != NULL && !known; n++)
                known = strlen(*n) == len && strncmp(*n, kv, len) == 0;
        }
        if (!known) {
            fprintf(stderr, "dumpgate: --option: no detector reads '%.*s' (options: ", (int)len,
                    kv);
            for (size_t k = 0, m = 0; k < registry_count(); k++) {
                const struct dg_detector *d = registry_get(k);

                for (const char *const *n = d->options; n != NULL && *n != NULL; n++)
                    if (strcmp(*n, "rules") != 0) /* set with --rules */
                        fprintf(stderr, "%s%s", m++ ? ", " : "", *n);
            }
            fprintf(stderr, ")\nTry 'dumpgate --help'.\n");
            return EXIT_ERROR;
        }
    }
    return 0;
}

/* -d -A,-B: the default set without A and B, in names (which holds the n
 * names as given, each with its '-'). Returns the new count, 0 when the
 * names mix both forms or leave nothing. */
static size_t
exclude_detectors(const char **names, size_t n)
{
    const char *out[REGISTRY_MAX + 1], *drop[REGISTRY_MAX + 1];
    size_t m = default_detectors(out), k = 0;

    if (n > REGISTRY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (names[i][0] != '-')
            return 0;
        drop[i] = names[i] + 1;
    }
    for (size_t i = 0; i < m; i++) {
        bool gone = false;

        for (size_t j = 0; j < n && !gone; j++)
            gone = strcmp(out[i], drop[j]) == 0;
        if (!gone)
            names[k++] = out[i];
    }
    names[k] = NULL;
    return k;
}

/* Loads --plugin files, checks --rules files and the detector names of
 * --detectors and of the configuration file, and chooses the detectors:
 * -d, else the file's `detectors` (a list, or switches over the default
 * set); --rules turns the rules detector on; a plug-in runs with the
 * default set unless something names the ones to run. Returns 0 or
 * EXIT_ERROR after printing why. *rules: the loaded rule set, for
 * `dumpgate detectors`. */
static int
prepare(struct cli_opts *o, struct rule_set **rules)
{
    struct dg_config cfg = {.verbose = o->verbose, .keyvals = o->n_keyvals ? o->keyvals : NULL};
    enum { CAP = sizeof o->detectors / sizeof o->detectors[0] - 1 };
    char err[600];
    size_t nd = 0;

    _Static_assert(CAP >= REGISTRY_MAX, "room for every detector in cli_opts.detectors");
    *rules = NULL;
    for (int i = 0; i < o->n_plugins; i++)
        if (plugin_load(o->plugins[i], &cfg, err, sizeof err) != DG_OK) {
            fprintf(stderr, "dumpgate: error: %s\n", err);
            return EXIT_ERROR;
        }
    if (o->config != NULL && config_check_detectors(o->config, err, sizeof err) != DG_OK) {
        fprintf(stderr, "dumpgate: %s\n", err);
        return EXIT_ERROR;
    }
    if (check_options(o) != 0)
        return EXIT_ERROR;
    for (size_t i = 0; o->detectors_set && o->detectors[i] != NULL; i++, nd++) {
        const char *name = o->detectors[i] + (o->detectors[i][0] == '-');

        if (registry_find(name) == NULL) {
            fprintf(stderr, "dumpgate: unknown detector '%s' (see `dumpgate detectors`)\n"
                    "Try 'dumpgate --help'.\n", name);
            return EXIT_ERROR;
        }
    }
    if (o->detectors_set && o->detectors[0] != NULL && o->detectors[0][0] == '-' &&
        (nd = exclude_detectors(o->detectors, nd)) == 0) {
        fprintf(stderr, "dumpgate: -d: give detectors to run or, each with a '-', detectors "
                        "to leave out of the default set; not both, and not all\n");
        return EXIT_ERROR;
    }
    if (!o->detectors_set && o->config != NULL &&
        o->config->detectors_mode != CONFIG_DETECTORS_UNSET) {
        nd = default_detectors(o->detectors);
        if (!config_select_detectors(o->config, o->detectors, &nd, CAP)) {
            fprintf(stderr, "dumpgate: %s: too many detectors\n", o->config->path);
            return EXIT_ERROR;
        }
        o->detectors_set = true;
    }
    if (o->n_rules > 0) {
        size_t len = 7;

        for (int i = 0; i < o->n_rules; i++)
            len += strlen(o->rules[i]) + 1;
        if ((o->rules_kv = malloc(len)) == NULL ||
            o->n_keyvals + 1 >= (int)(sizeof o->keyvals / sizeof o->keyvals[0])) {
            fprintf(stderr, "dumpgate: error: too many options\n");
            return EXIT_ERROR;
        }
        strcpy(o->rules_kv, "rules=");
        for (int i = 0; i < o->n_rules; i++) {
            if (i > 0)
                strcat(o->rules_kv, "\n");
            strcat(o->rules_kv, o->rules[i]);
        }
        if (rules_load(o->rules_kv + 6, rules, err, sizeof err) != DG_OK) {
            fprintf(stderr, "dumpgate: error: %s\n", err);
            return EXIT_ERROR;
        }
        /* first, so that it wins over an --option rules=... */
        memmove(o->keyvals + 1, o->keyvals, (size_t)(o->n_keyvals + 1) * sizeof o->keyvals[0]);
        o->keyvals[0] = o->rules_kv;
        o->n_keyvals++;
    }
    if (o->n_rules == 0 && o->n_plugins == 0)
        return 0;
    if (!o->detectors_set) {
        nd = default_detectors(o->detectors);
        o->detectors_set = true;
    }
    if (o->n_rules > 0 && registry_find("rules") != NULL) {
        bool have = false;

        for (size_t i = 0; i < nd; i++)
            have = have || strcmp(o->detectors[i], "rules") == 0;
        if (!have && nd + 1 < sizeof o->detectors / sizeof o->detectors[0])
            o->detectors[nd++] = "rules";
    }
    o->detectors[nd] = NULL;
    return 0;
}

int
main(int argc, char **argv)
{
    struct cli_opts o;
    struct rule_set *rules = NULL;
    char why[300];
    int status;

    if (argc >= 2 && strcmp(argv[1], "ls-s3") == 0) /* issue 25: no scan options */
        return cmd_ls_s3(argc, argv);
    status = options_parse(argc, argv, &o);

    /* quarantine reads verdicts, not dumps: no detectors, rules or plug-ins */
    if (status == 0 && o.cmd != CMD_HELP && o.cmd != CMD_VERSION && o.cmd != CMD_QUARANTINE)
        status = prepare(&o, &rules);
    if (status != 0) {
        rules_free(rules);
        options_free(&o);
        return EXIT_ERROR;
    }
    switch (o.cmd) {
    case CMD_HELP:
        options_usage(stdout);
        break;
    case CMD_VERSION:
        printf("dumpgate %s (%s)\n", DG_VERSION, OpenSSL_version(OPENSSL_VERSION));
        break;
    case CMD_SCAN:
        if (any_s3(&o) && o.sandbox != NULL) {
            /* the confined scan may not open a socket */
            fprintf(stderr, "dumpgate: error: --sandbox cannot read s3:// objects; "
                            "nothing scanned\n");
            status = EXIT_ERROR;
        } else if (any_s3(&o) && netlib_load(why, sizeof why) == NULL) {
            fprintf(stderr, "dumpgate: error: s3:// objects: %s; nothing scanned\n", why);
            status = EXIT_ERROR;
        } else if (any_s3(&o) && netlib()->global_init(CURL_GLOBAL_DEFAULT) != 0) {
            fprintf(stderr, "dumpgate: error: libcurl cannot start; nothing scanned\n");
            status = EXIT_ERROR;
        } else if (any_s3(&o)) {
            status = cmd_scan(&o);
            netlib()->global_cleanup();
        } else {
            status = cmd_scan(&o);
        }
        break;
    case CMD_REGIONS:
        status = cmd_regions(&o);
        break;
    case CMD_DETECTORS:
        status = cmd_detectors(&o, rules);
        break;
    case CMD_CORE_HANDLER:
        status = handler_run(&o);
        quarantine_handler_metrics(&o); /* --metrics FILE: the spool's counts after it */
        break;
    case CMD_QUARANTINE:
        status = quarantine_run(&o);
        break;
    case CMD_REDACT:
        status = redact_run(&o);
        break;
    case CMD_GATEWAY:
        status = gateway_run(&o);
        break;
    }
    rules_free(rules);
    options_free(&o);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("dumpgate: writing output");
        return EXIT_ERROR;
    }
    return status;
}
