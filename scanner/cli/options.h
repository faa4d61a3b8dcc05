/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * options.h - the command line of dumpgate, parsed into struct cli_opts.
 */
#ifndef DUMPGATE_OPTIONS_H
#define DUMPGATE_OPTIONS_H

#include <stdbool.h>

#include "../engine/scan.h"
#include "../report/report.h"

enum cli_command {
    CMD_SCAN,
    CMD_REGIONS,
    CMD_DETECTORS,
    CMD_HELP,
    CMD_VERSION,
};

struct cli_opts {
    enum cli_command cmd;
    enum report_format format;
    enum dg_severity fail_on;
    unsigned threads;
    unsigned verbose;
    bool quiet;
    size_t chunk_size;
    char *detector_list;        /* owned copy of --detectors, split in place */
    const char *detectors[33];  /* NULL-terminated names, or detectors[0] == NULL */
    bool detectors_set;
    char **files;               /* argv slice */
    int n_files;
};

/* Parses argv into o. Returns 0 on success, or 2 after printing a usage error. */
int options_parse(int argc, char **argv, struct cli_opts *o);
void options_free(struct cli_opts *o);
void options_usage(FILE *out);

#endif
