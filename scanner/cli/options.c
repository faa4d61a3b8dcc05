/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * options.c - parses the command line (getopt_long) and prints usage. With
 * main.c, the only code that prints usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../detectors/registry.h"
#include "options.h"

void
options_usage(FILE *out)
{
    fprintf(out,
            "usage: dumpgate scan [options] FILE... | -\n"
            "       dumpgate regions [--format text|jsonl] FILE\n"
            "       dumpgate detectors\n"
            "       dumpgate --help | --version\n"
            "\n"
            "Finds private keys in crash dumps (ELF cores, minidumps, anything else as raw\n"
            "bytes), proves them with OpenSSL and names them by public fingerprint.\n"
            "\n"
            "scan options:\n"
            "  -f, --format text|jsonl   output format (default text)\n"
            "      --fail-on low|medium|high\n"
            "                            exit 1 when a finding is at least this severe\n"
            "                            (default medium)\n"
            "  -j, --jobs N              worker threads per file (default 1)\n"
            "  -d, --detectors A,B,...   run only these detectors (see `dumpgate detectors`)\n"
            "  -v, --verbose             also print informational messages\n"
            "  -q, --quiet               print no warnings on stderr\n"
            "      --chunk-size BYTES    bytes per chunk (default 8 MiB)\n"
            "\n"
            "Exit status: 0 clean, 1 a finding at or above --fail-on, 2 error (bad\n"
            "arguments, or a file of which nothing could be read).\n");
}

static bool
parse_unsigned(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static int
usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "dumpgate: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'dumpgate --help'.\n");
    return 2;
}

static int
split_detectors(struct cli_opts *o, const char *arg)
{
    size_t n = 0;

    free(o->detector_list);
    o->detector_list = strdup(arg);
    if (o->detector_list == NULL)
        return usage_error("%s", "out of memory");
    for (char *save = NULL, *t = strtok_r(o->detector_list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (registry_find(t) == NULL)
            return usage_error("unknown detector '%s' (see `dumpgate detectors`)", t);
        if (n + 1 >= sizeof o->detectors / sizeof o->detectors[0])
            return usage_error("%s", "too many detectors");
        o->detectors[n++] = t;
    }
    o->detectors[n] = NULL;
    o->detectors_set = true;
    return 0;
}

int
options_parse(int argc, char **argv, struct cli_opts *o)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},  {"fail-on", required_argument, NULL, 'F'},
        {"jobs", required_argument, NULL, 'j'},    {"detectors", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},       {"quiet", no_argument, NULL, 'q'},
        {"chunk-size", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    const char *sub;
    int c;

    memset(o, 0, sizeof *o);
    o->fail_on = DG_SEV_MEDIUM;
    o->threads = 1;
    if (argc < 2)
        return usage_error("%s", "missing command");
    sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        o->cmd = CMD_HELP;
        return 0;
    }
    if (strcmp(sub, "--version") == 0 || strcmp(sub, "version") == 0) {
        o->cmd = CMD_VERSION;
        return 0;
    }
    if (strcmp(sub, "scan") == 0)
        o->cmd = CMD_SCAN;
    else if (strcmp(sub, "regions") == 0)
        o->cmd = CMD_REGIONS;
    else if (strcmp(sub, "detectors") == 0)
        o->cmd = CMD_DETECTORS;
    else
        return usage_error("unknown command '%s'", sub);

    optind = 2;
    while ((c = getopt_long(argc, argv, "f:j:d:vqhV", longopts, NULL)) != -1) {
        unsigned long long v;

        switch (c) {
        case 'f':
            if (strcmp(optarg, "text") == 0)
                o->format = REPORT_TEXT;
            else if (strcmp(optarg, "jsonl") == 0 || strcmp(optarg, "json") == 0)
                o->format = REPORT_JSONL;
            else
                return usage_error("unknown format '%s' (text or jsonl)", optarg);
            break;
        case 'F':
            if (!dg_severity_parse(optarg, &o->fail_on))
                return usage_error("--fail-on takes low, medium or high, not '%s'", optarg);
            break;
        case 'j':
            if (!parse_unsigned(optarg, 64, &v) || v == 0)
                return usage_error("-j takes a number from 1 to 64, not '%s'", optarg);
            o->threads = (unsigned)v;
            break;
        case 'd':
            if (split_detectors(o, optarg) != 0)
                return 2;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'C':
            if (!parse_unsigned(optarg, 1ull << 30, &v) || v < 4096)
                return usage_error("--chunk-size takes 4096 to 1 GiB bytes, not '%s'", optarg);
            o->chunk_size = (size_t)v;
            break;
        case 'h':
            o->cmd = CMD_HELP;
            return 0;
        case 'V':
            o->cmd = CMD_VERSION;
            return 0;
        default:
            fprintf(stderr, "Try 'dumpgate --help'.\n");
            return 2;
        }
    }
    o->files = argv + optind;
    o->n_files = argc - optind;
    if ((o->cmd == CMD_SCAN || o->cmd == CMD_REGIONS) && o->n_files == 0)
        return usage_error("%s", "no input file (use - for standard input)");
    if (o->cmd == CMD_REGIONS && o->n_files != 1)
        return usage_error("%s", "regions takes exactly one file");
    return 0;
}

void
options_free(struct cli_opts *o)
{
    free(o->detector_list);
    o->detector_list = NULL;
}
