/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * main.c - the dumpgate command: runs a subcommand, prints diagnostics on
 * stderr and maps the results to the exit status (0 clean, 1 findings at or
 * above --fail-on, 2 error). The only code besides options.c that prints to
 * the terminal or decides the exit status.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include <dumpgate/dumpgate.h>

#include "../../detectors/registry.h"
#include "handler.h"
#include "../engine/identity.h"
#include "options.h"

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

static int
cmd_scan(const struct cli_opts *o)
{
    struct scan_opts so = {
        .threads = o->threads,
        .chunk_size = o->chunk_size,
        .detectors = o->detectors_set ? o->detectors : NULL,
        .cfg = {.verbose = o->verbose, .keyvals = o->n_keyvals ? o->keyvals : NULL},
    };
    struct report rp = {.out = stdout, .format = o->format, .verbose = o->verbose};
    struct identity_db *db = identity_new(!o->no_builtin_allow);
    struct dg_diag *d = dg_diag_new();
    int status = EXIT_CLEAN;
    bool error = false;

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

    if (o->format == REPORT_SARIF && (rp.sarif = sarif_new()) == NULL) {
        fprintf(stderr, "dumpgate: out of memory\n");
        return EXIT_ERROR;
    }
    for (int i = 0; i < o->n_files; i++) {
        struct scan_result r;
        dg_err rc = scan_path(o->files[i], &so, &r);

        print_diag(o, &r);
        identity_apply(db, &r);
        if (rc != DG_OK) {
            error = true;
            report_failed(&rp, &r);
        } else {
            report_scan(&rp, &r);
            for (size_t k = 0; k < r.n_findings; k++)
                if (r.findings[k].f.severity >= o->fail_on && !r.findings[k].allowed)
                    status = EXIT_FINDINGS;
        }
        scan_result_free(&r);
    }
    report_finish(&rp);
    identity_free(db);
    return error ? EXIT_ERROR : status;
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
cmd_detectors(void)
{
    for (size_t i = 0; i < registry_count(); i++) {
        const struct dg_detector *d = registry_get(i);

        printf("%-10s %-6s %s%s\n", d->name, dg_severity_name(d->severity), d->summary,
               d->default_on ? "" : " (off by default)");
        if (d->forms != NULL) {
            printf("%-17s forms:", "");
            for (const char *const *f = d->forms; *f != NULL; f++)
                printf(" %s", *f);
            printf("\n");
        }
    }
    return EXIT_CLEAN;
}

int
main(int argc, char **argv)
{
    struct cli_opts o;
    int status = options_parse(argc, argv, &o);

    if (status != 0) {
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
        status = cmd_scan(&o);
        break;
    case CMD_REGIONS:
        status = cmd_regions(&o);
        break;
    case CMD_DETECTORS:
        status = cmd_detectors();
        break;
    case CMD_CORE_HANDLER:
        status = handler_run(&o);
        break;
    }
    options_free(&o);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("dumpgate: writing output");
        return EXIT_ERROR;
    }
    return status;
}
