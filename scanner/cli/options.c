/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * options.c - parses the command line (getopt_long) and prints usage. With
 * main.c, the only code that prints usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../../detectors/registry.h"
#include "options.h"

void
options_usage(FILE *out)
{
    fprintf(out,
            "usage: dumpgate scan [options] FILE... | -\n"
            "       dumpgate regions [--format text|jsonl] FILE\n"
            "       dumpgate redact [scan options] [--force] IN -o OUT\n"
            "       dumpgate detectors [--config FILE] [--rules FILE] [--plugin FILE.so]\n"
            "       dumpgate core-handler --spool DIR [options] -- [PID UID SIGNAL TIME COMM]\n"
            "       dumpgate quarantine list|show|release|expire --spool DIR [options] [NAME]\n"
            "       dumpgate gateway --listen ADDR:PORT --upstream URL --spool DIR [options]\n"
            "       dumpgate ls-s3 [--page-size N] s3://BUCKET/PREFIX\n"
            "       dumpgate --help | --version\n"
            "\n"
            "Finds private keys in crash dumps (ELF cores, minidumps, anything else as raw\n"
            "bytes), proves them with OpenSSL and names them by public fingerprint.\n"
            "\n"
            "scan options:\n"
            "      --config FILE         the configuration file (YAML; keys in dumpgate(1));\n"
            "                            default: $DUMPGATE_CONFIG, else\n"
            "                            /etc/dumpgate/dumpgate.yaml if it exists. Also for\n"
            "                            `detectors` and `core-handler`. The options below\n"
            "                            win over it; their files come after its lists\n"
            "      --no-config           read none (also --config none)\n"
            "  -f, --format text|jsonl|sarif\n"
            "                            output format (default text); sarif: one SARIF\n"
            "                            2.1.0 document for all files\n"
            "      --fail-on low|medium|high\n"
            "                            exit 1 when a finding is at least this severe\n"
            "                            (default high)\n"
            "  -j, --jobs N              worker threads per file (default 1)\n"
            "  -d, --detectors A,B,...   run only these detectors (see `dumpgate detectors`);\n"
            "                            -d -A,-B: the default set without A and B\n"
            "      --strict              a dump with missing bytes or a partial scan fails\n"
            "                            (exit 2) instead of passing with a warning\n"
            "  -o, --output FILE         write the report to FILE (complete or not at all)\n"
            "      --dumps-only          scan only files whose first bytes are a dump (ELF,\n"
            "                            minidump, compressed stream, apport report)\n"
            "      --files-from LIST     also scan the files LIST names, one per line (-:\n"
            "                            standard input; blank lines ignored); a line\n"
            "                            s3://BUCKET/KEY streams that object (AWS_* variables)\n"
            "  -r, --recursive DIR       also scan every regular file under DIR (symlinks\n"
            "                            not followed; in byte order of the names)\n"
            "  -v, --verbose             also print informational messages\n"
            "  -q, --quiet               print no warnings on stderr\n"
            "      --chunk-size BYTES    bytes per chunk (K, M, G; default 4M)\n"
            "      --known-keys FILE     name findings after your public keys: a JWK/JWKS,\n"
            "                            PEM certificates or public keys, or OpenSSH .pub\n"
            "                            lines (\"private half of kid=... from FILE\")\n"
            "      --allow FILE          known test keys, one SHA-256 (spki_sha256,\n"
            "                            key_sha256 or match_sha256) per line with a #\n"
            "                            comment, or a previous `scan --format jsonl`\n"
            "                            report (all its findings): reported as allowed,\n"
            "                            they do not change the exit status\n"
            "      --no-builtin-allow    do not allow OpenSSL's public test keys\n"
            "      --debug-dir DIR       separate debug files in DIR/.build-id/xx/yyyy.debug,\n"
            "                            to name the variable holding each key\n"
            "      --p12-pass PASS       password to try on PKCS#12 key stores (visible in\n"
            "                            the process list: prefer --p12-pass-file)\n"
            "      --p12-pass-file FILE  the same, the first line of FILE\n"
            "      --option NAME=VALUE   set a detector option (each is in dumpgate(1))\n"
            "      --rules FILE|default  also match the rules of FILE (YAML, docs/RULES.md);\n"
            "                            `default`: the built-in pack (cloud keys, tokens,\n"
            "                            JWTs); may be repeated; also for `detectors`\n"
            "      --plugin FILE.so      load a detector plug-in (docs/PLUGINS.md); may be\n"
            "                            repeated; also for `detectors`\n"
            "      --max-decompressed BYTES\n"
            "                            decode at most BYTES (K, M, G, T) of a compressed\n"
            "                            dump: beyond, a warning and exit 2 (max_decompressed)\n"
            "      --no-spill            do not write a stream (standard input, a compressed\n"
            "                            dump) to an unlinked file in $TMPDIR as it is read:\n"
            "                            faster, but what is read again after the scan (keys\n"
            "                            behind Go and OpenSSL headers, pointer paths) is lost\n"
            "      --scan-timeout SECONDS\n"
            "                            longest scan of one file, reading standard input\n"
            "                            included: beyond, a warning and exit 2 (scan_timeout)\n"
            "      --sandbox USER        before reading a dump, become USER (when run as\n"
            "                            root), with no new privileges and a seccomp filter\n"
            "                            (what core-handler does for its scans)\n"
            "\n"
            "redact (docs/REDACT.md): writes OUT, a copy of IN (ELF core, minidump or raw;\n"
            "a zstd, lz4, xz, gzip or bzip2 one comes back in its compression, an apport\n"
            "report as a report) of the same\n"
            "plain size with every copy of every key at or above --fail-on overwritten,\n"
            "re-scans it, and writes OUT.redact.jsonl beside it; exit 2 (no OUT) if a key\n"
            "is left. --force replaces an existing OUT.\n"
            "\n"
            "Compressed dumps (zstd, lz4, xz, gzip, bzip2) and apport .crash reports are\n"
            "decompressed as a stream; offsets then refer to the decompressed dump.\n"
            "\n"
            "core-handler (kernel.core_pattern = |/path/dumpgate core-handler --spool DIR --\n"
            "%%P %%u %%s %%t %%e; the -- keeps a process name from being read as an option):\n"
            "spools the core from standard input (fsync, rename), scans\n"
            "it and moves it to DIR/clean or DIR/quarantine with a JSON verdict beside it.\n"
            "      --spool DIR           the spool (created if missing; default: handler.spool\n"
            "                            of the configuration)\n"
            "      --timeout SECONDS     longest scan before quarantine (default:\n"
            "                            handler.timeout of the configuration, or 600)\n"
            "      --recover             only finish the half-done work in the spool\n"
            "      --sweep DIR           scan every new dump stored in DIR (systemd-coredump)\n"
            "                            and move dirty ones to the quarantine\n"
            "      --log-stderr          log lines also go to stderr (besides syslog)\n"
            "      --scanner PROG        run PROG scan ... instead of this binary\n"
            "      --metrics FILE        after the dump, write the spool's counts to FILE\n"
            "                            (Prometheus textfile; quarantine.metrics_file)\n"
            "      --receive-timeout SECONDS\n"
            "                            longest time to receive a core; then what came is\n"
            "                            kept and quarantined as incomplete (default:\n"
            "                            handler.receive_timeout, else --timeout)\n"
            "      --max-dump-size BYTES keep at most BYTES of a core (K, M, G, T); the rest\n"
            "                            is read and dropped, the dump quarantined as\n"
            "                            incomplete (handler.max_dump_size)\n"
            "      --keep-free BYTES     store nothing while the spool's filesystem has less\n"
            "                            free space: the core is read, dropped and counted\n"
            "                            in DIR/lost (handler.keep_free)\n"
            "      --redact              a dump quarantined for its keys also gets a verified\n"
            "                            redacted copy in DIR/redacted (dumpgate redact); the\n"
            "                            verdict says where (or why not)\n"
            "      --scan-user USER      the user its scans run as, confined by a seccomp\n"
            "                            filter (default: handler.scan_user, else nobody;\n"
            "                            `none`: as the handler, unconfined)\n"
            "  The scan options -d, --allow, --known-keys, --no-builtin-allow, --p12-pass,\n"
            "  --option, --rules, --plugin and --chunk-size go to every scan as given, in\n"
            "  order (-j and --fail-on too), after --config FILE (the file the handler\n"
            "  read) or --no-config; the verdict lists them as scan_options. They are\n"
            "  checked as scan checks them before anything is received: a wrong one (or\n"
            "  a wrong configuration file) is exit 2 and the core is not taken.\n"
            "\n"
            "gateway (a crash-upload reverse proxy: Breakpad/Crashpad POSTs, gzip or not):\n"
            "stores each upload in DIR/incoming (fsync) before answering, scans its file\n"
            "parts; clean: forwarded to the upstream byte for byte, its answer relayed\n"
            "(upstream down: kept in DIR/outbox, answered Queued=NAME, sent later);\n"
            "dirty: never forwarded, DIR/quarantine with a verdict, answered 200\n"
            "Discarded=... (crash reporters give up on any other status).\n"
            "      --listen ADDR:PORT    where to listen (127.0.0.1:8080, [::1]:8080)\n"
            "      --upstream URL        the collector: URL + the request's path and query\n"
            "      --spool DIR           incoming/, quarantine/, outbox/\n"
            "      --max-upload BYTES    largest request body (K, M, G, T); larger: 413\n"
            "      --max-uploads N       connections at once (default 64)\n"
            "      --receive-timeout SECONDS\n"
            "                            a connection silent this long is closed (default 60)\n"
            "      --token-file FILE     uploads must carry Authorization: Bearer <its line>\n"
            "      --tls-cert FILE, --tls-key FILE\n"
            "                            serve HTTPS with this PEM certificate and key\n"
            "      --tls-client-ca FILE  clients must present a certificate this CA signed\n"
            "      --dirty-answer TEXT   the answer's start for a quarantined upload\n"
            "                            (default: Discarded=dumpgate quarantined)\n"
            "      --redact              a dirty upload whose keys `dumpgate redact` can\n"
            "                            remove is forwarded as that verified copy (the\n"
            "                            original stays in the quarantine)\n"
            "      --timeout, --scan-user, --scanner, --log-stderr and the scan options as\n"
            "                            for core-handler. GET /healthz, GET /metrics.\n"
            "\n"
            "quarantine (over a core-handler spool; --spool DIR or handler.spool):\n"
            "  list [--format text|jsonl]  one line per quarantined dump: name, size, age,\n"
            "                            the verdict's reason, findings, fingerprints\n"
            "  show NAME [--format text|jsonl]\n"
            "                            the verdict of NAME (in quarantine/ or released/)\n"
            "  release NAME --reason TEXT [--by WHO] [--command PROGRAM]\n"
            "                            move NAME and its verdict to DIR/released (never over\n"
            "                            an existing file), record who, why and when; then run\n"
            "                            PROGRAM DUMP (default: quarantine.release_command)\n"
            "  expire [--dry-run] [--max-age-days N] [--max-total BYTES]\n"
            "                            delete the quarantined dumps older than N days, then\n"
            "                            the oldest until at most BYTES (K, M, G, T) are left\n"
            "                            (default: quarantine.max_age_days, max_total_bytes)\n"
            "      --metrics FILE        write the spool's counts to FILE (Prometheus\n"
            "                            textfile; default: quarantine.metrics_file)\n"
            "\n"
            "Exit status: 0 clean, 1 a finding at or above --fail-on, 2 error (bad\n"
            "arguments or configuration, or a file of which nothing could be read);\n"
            "quarantine: 0 done, 2 error.\n");
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

/* The options of scan that core-handler passes on to each of its scans, by
 * their getopt code; NULL for the others. */
static const char *
scan_option_name(int c)
{
    switch (c) {
    case 'd':
        return "--detectors";
    case 'C':
        return "--chunk-size";
    case 'a':
        return "--allow";
    case 'k':
        return "--known-keys";
    case 'n':
        return "--no-builtin-allow";
    case 'K':
        return "--option";
    case 'P':
        return "--p12-pass";
    case 'Q':
        return "--p12-pass-file";
    case 'U': /* --rules; r is -r, --recursive (issue 25) */
        return "--rules";
    case 'p':
        return "--plugin";
    default:
        return NULL;
    }
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
        /* names are checked in main.c, once the plug-ins are loaded */
        if (n + 1 >= sizeof o->detectors / sizeof o->detectors[0])
            return usage_error("%s", "too many detectors");
        o->detectors[n++] = t;
    }
    o->detectors[n] = NULL;
    o->detectors_set = true;
    return 0;
}

/* getopt codes of the long options without a short form or a letter. */
enum {
    OPT_METRICS = 256,
    OPT_REASON,
    OPT_BY,
    OPT_COMMAND,
    OPT_DRY_RUN,
    OPT_MAX_AGE,
    OPT_MAX_TOTAL,
    OPT_MAX_DECOMPRESSED,
    OPT_SCAN_TIMEOUT,
    OPT_SANDBOX,
    OPT_RECEIVE_TIMEOUT,
    OPT_MAX_DUMP_SIZE,
    OPT_KEEP_FREE,
    OPT_SCAN_USER,
    OPT_DEBUG_DIR, /* issue 22 */
    OPT_FILES_FROM, /* issue 25 */
    OPT_LISTEN,     /* issue 24: gateway */
    OPT_UPSTREAM,
    OPT_MAX_UPLOAD,
    OPT_MAX_UPLOADS,
    OPT_TOKEN_FILE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CLIENT_CA,
    OPT_DIRTY_ANSWER,
    OPT_REDACT,
    OPT_FORCE, /* issue 23: redact */
    OPT_NO_SPILL,
};

/* The long options of every command; the getopt codes are the cases of
 * options_parse(). */
static const struct option longopts[] = {
    {"format", required_argument, NULL, 'f'},  {"fail-on", required_argument, NULL, 'F'},
    {"jobs", required_argument, NULL, 'j'},    {"detectors", required_argument, NULL, 'd'},
    {"verbose", no_argument, NULL, 'v'},       {"quiet", no_argument, NULL, 'q'},
    {"chunk-size", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},       {"spool", required_argument, NULL, 'S'},
    {"allow", required_argument, NULL, 'a'},   {"known-keys", required_argument, NULL, 'k'},
    {"no-builtin-allow", no_argument, NULL, 'n'}, {"option", required_argument, NULL, 'K'},
    {"p12-pass", required_argument, NULL, 'P'},
    {"p12-pass-file", required_argument, NULL, 'Q'},
    {"sweep", required_argument, NULL, 'W'},   {"scanner", required_argument, NULL, 'X'},
    {"timeout", required_argument, NULL, 'T'}, {"recover", no_argument, NULL, 'R'},
    {"log-stderr", no_argument, NULL, 'L'},    {"rules", required_argument, NULL, 'U'},
    {"plugin", required_argument, NULL, 'p'},  {"config", required_argument, NULL, 'c'},
    {"no-config", no_argument, NULL, 'N'},     {"strict", no_argument, NULL, 'Y'},
    {"dumps-only", no_argument, NULL, 'D'},    {"output", required_argument, NULL, 'o'},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"reason", required_argument, NULL, OPT_REASON},
    {"by", required_argument, NULL, OPT_BY},
    {"command", required_argument, NULL, OPT_COMMAND},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"max-age-days", required_argument, NULL, OPT_MAX_AGE},
    {"max-total", required_argument, NULL, OPT_MAX_TOTAL},
    {"max-decompressed", required_argument, NULL, OPT_MAX_DECOMPRESSED},
    {"scan-timeout", required_argument, NULL, OPT_SCAN_TIMEOUT},
    {"no-spill", no_argument, NULL, OPT_NO_SPILL},
    {"sandbox", required_argument, NULL, OPT_SANDBOX},
    {"receive-timeout", required_argument, NULL, OPT_RECEIVE_TIMEOUT},
    {"max-dump-size", required_argument, NULL, OPT_MAX_DUMP_SIZE},
    {"keep-free", required_argument, NULL, OPT_KEEP_FREE},
    {"scan-user", required_argument, NULL, OPT_SCAN_USER},
    {"debug-dir", required_argument, NULL, OPT_DEBUG_DIR},
    {"files-from", required_argument, NULL, OPT_FILES_FROM},
    {"recursive", required_argument, NULL, 'r'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"max-upload", required_argument, NULL, OPT_MAX_UPLOAD},
    {"max-uploads", required_argument, NULL, OPT_MAX_UPLOADS},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
    {"dirty-answer", required_argument, NULL, OPT_DIRTY_ANSWER},
    {"redact", no_argument, NULL, OPT_REDACT},
    {"force", no_argument, NULL, OPT_FORCE},
    {NULL, 0, NULL, 0},
};
static const char shortopts[] = "f:j:d:o:r:vqhV";
/* core-handler: options end at the first argument that is not one, as
 * POSIX says, so that a crashing process cannot name itself "-daes" or
 * "--config=/tmp/x" and have its name read as an option (core_pattern puts
 * %e, the process's own name, after the options). */
static const char shortopts_handler[] = "+f:j:d:o:vqhV";

/* May option c (a getopt code) be given to `dumpgate quarantine`? The
 * action decides which of these it takes (quarantine_args). */
static bool
quarantine_option(int c)
{
    switch (c) {
    case 'f':
    case 'S':
    case 'c':
    case 'N':
    case 'h':
    case 'V':
    case '?':
    case OPT_METRICS:
    case OPT_REASON:
    case OPT_BY:
    case OPT_COMMAND:
    case OPT_DRY_RUN:
    case OPT_MAX_AGE:
    case OPT_MAX_TOTAL:
        return true;
    default:
        return false;
    }
}

/* The options of quarantine that only some actions take, as bits of a mask. */
enum { QO_FORMAT, QO_REASON, QO_BY, QO_COMMAND, QO_DRY_RUN, QO_MAX_AGE, QO_MAX_TOTAL };

/* Reads the action and the name of `dumpgate quarantine ACTION [NAME]` from
 * o->files and checks the options given (the QO_ bits of given) against the
 * action. Returns 0, or 2 after printing why. */
static int
quarantine_args(struct cli_opts *o, unsigned given)
{
    static const struct {
        const char *word;
        enum quarantine_action action;
        int n_names;            /* positional NAMEs after the word */
        unsigned takes;         /* QO_ bits */
    } actions[] = {
        {"list", QA_LIST, 0, 1u << QO_FORMAT},
        {"show", QA_SHOW, 1, 1u << QO_FORMAT},
        {"release", QA_RELEASE, 1, 1u << QO_REASON | 1u << QO_BY | 1u << QO_COMMAND},
        {"expire", QA_EXPIRE, 0, 1u << QO_DRY_RUN | 1u << QO_MAX_AGE | 1u << QO_MAX_TOTAL},
    };
    static const char *const qo_names[] = {"--format", "--reason", "--by", "--command",
                                           "--dry-run", "--max-age-days", "--max-total"};
    size_t i;

    if (o->n_files == 0)
        return usage_error("%s", "quarantine needs an action: list, show, release or expire");
    for (i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(o->files[0], actions[i].word) == 0)
            break;
    if (i == sizeof actions / sizeof actions[0])
        return usage_error("unknown quarantine action '%s' (list, show, release, expire)",
                           o->files[0]);
    o->qaction = actions[i].action;
    for (unsigned b = 0; b < sizeof qo_names / sizeof qo_names[0]; b++)
        if ((given & (1u << b)) && !(actions[i].takes & (1u << b))) {
            fprintf(stderr, "dumpgate: %s is not an option of quarantine %s\n"
                    "Try 'dumpgate --help'.\n", qo_names[b], actions[i].word);
            return 2;
        }
    if (o->n_files - 1 != actions[i].n_names) {
        if (actions[i].n_names == 0)
            return usage_error("quarantine %s takes no NAME", actions[i].word);
        return usage_error("quarantine %s takes one NAME (see quarantine list)",
                           actions[i].word);
    }
    if (actions[i].n_names == 1)
        o->qname = o->files[1];
    if (o->qaction == QA_RELEASE && (o->reason == NULL || o->reason[0] == '\0'))
        return usage_error("%s", "quarantine release needs --reason TEXT (why the dump may "
                                 "leave the quarantine)");
    if (o->spool == NULL)
        return usage_error("%s", "quarantine needs --spool DIR (or handler.spool in the "
                                 "configuration file)");
    return 0;
}

/* What the command line says about the configuration file. */
struct config_choice {
    const char *path;           /* --config FILE, or NULL */
    bool off;                   /* --no-config or --config none (the last one wins) */
    bool help;                  /* --help or --version: read no file */
};

/* A first pass over the options (args[0..n) as for getopt, errors left to
 * the second pass) for --config, --no-config, --help and --version. */
static void
find_config(int n, char **args, const char *optstring, struct config_choice *ch)
{
    int c;

    memset(ch, 0, sizeof *ch);
    opterr = 0;
    optind = 0; /* 0: glibc starts afresh */
    while ((c = getopt_long(n, args, optstring, longopts, NULL)) != -1) {
        if (c == 'c') {
            ch->off = strcmp(optarg, "none") == 0;
            ch->path = ch->off ? NULL : optarg;
        } else if (c == 'N') {
            ch->off = true;
            ch->path = NULL;
        } else if (c == 'h' || c == 'V') {
            ch->help = true;
        }
    }
    opterr = 1;
}

/* Copies the file's lists into o's (o's are still empty). */
static int
apply_files(const struct config_files *f, const char **dst, int *n, int cap)
{
    for (size_t i = 0; i < f->n; i++) {
        if (*n == cap)
            return -1;
        dst[(*n)++] = f->v[i].s;
    }
    return 0;
}

/* Sets o from the configuration file: every value the file gives, before
 * the command line is read. The detectors wait for main.c. */
static int
apply_config(struct cli_opts *o)
{
    const struct config *c = o->config;
    enum { CAP = CONFIG_MAX_FILES };

    if (c->has_fail_on)
        o->fail_on = c->fail_on;
    for (int r = 0; r < DG_ROLE_COUNT; r++)
        if (c->has_role[r])
            o->policy.role_severity[r] = c->role_severity[r];
    for (size_t i = 0; i < c->n_det; i++)
        if (!verdict_policy_set_detector(&o->policy, c->det[i].detector.s, c->det[i].severity)) {
            fprintf(stderr, "dumpgate: %s:%lu: too many detector_severity entries\n", c->path,
                    c->det[i].detector.line);
            return 2;
        }
    if (c->has_jobs)
        o->threads = c->jobs;
    if (c->has_timeout)
        o->timeout = c->timeout;
    if (c->spool.s != NULL)
        o->spool = c->spool.s;
    if (c->has_max_decompressed)
        o->max_decompressed = c->max_decompressed;
    if (c->has_scan_timeout)
        o->scan_timeout = c->scan_timeout;
    if (c->has_receive_timeout)
        o->receive_timeout = c->receive_timeout;
    if (c->has_max_dump_size)
        o->max_dump_size = c->max_dump_size;
    if (c->has_keep_free)
        o->keep_free = c->keep_free;
    if (c->scan_user.s != NULL)
        o->scan_user = c->scan_user.s;
    if (c->has_no_builtin_allow)
        o->no_builtin_allow = c->no_builtin_allow;
    if (c->has_strict)
        o->strict = c->strict;
    if (c->has_max_age_days) {
        o->has_max_age = true;
        o->max_age_days = c->max_age_days;
    }
    if (c->has_max_total_bytes) {
        o->has_max_total = true;
        o->max_total = c->max_total_bytes;
    }
    if (c->release_command.s != NULL)
        o->release_command = c->release_command.s;
    if (c->metrics_file.s != NULL)
        o->metrics = c->metrics_file.s;
    /* the arrays of o hold CONFIG_MAX_FILES entries: the file's always fit */
    _Static_assert(sizeof o->allow / sizeof o->allow[0] == CAP &&
                   sizeof o->known / sizeof o->known[0] == CAP &&
                   sizeof o->rules / sizeof o->rules[0] == CAP &&
                   sizeof o->plugins / sizeof o->plugins[0] == CAP,
                   "cli_opts lists and CONFIG_MAX_FILES");
    if (apply_files(&c->allow, o->allow, &o->n_allow, CAP) != 0 ||
        apply_files(&c->known, o->known, &o->n_known, CAP) != 0 ||
        apply_files(&c->rules, o->rules, &o->n_rules, CAP) != 0 ||
        apply_files(&c->plugins, o->plugins, &o->n_plugins, CAP) != 0)
        return usage_error("%s", "too many files in the configuration");
    return 0;
}

/* Reads the configuration file the command line, the environment or the
 * default chooses (none for --help and --version), and applies it to o.
 * Returns 0, or 2 after printing why. */
static int
load_config(struct cli_opts *o, const struct config_choice *ch)
{
    const char *path = ch->path, *env = getenv(CONFIG_ENV);
    char err[600];

    if (ch->off || ch->help)
        return 0;
    if (path == NULL && env != NULL && env[0] != '\0') {
        if (strcmp(env, "none") == 0)
            return 0;
        path = env; /* named on purpose: it must exist, as --config FILE must */
    }
    if (path == NULL) {
        path = CONFIG_DEFAULT_PATH;
        if (access(path, F_OK) != 0 && (errno == ENOENT || errno == ENOTDIR))
            return 0;
    }
    if (config_load(path, &o->config, err, sizeof err) != DG_OK) {
        fprintf(stderr, "dumpgate: %s\n", err);
        return 2;
    }
    return apply_config(o);
}

#define PASS_FILE_MAX 1024 /* bytes of a password file read */

/* --p12-pass-file: the first line of path into pass (PASS_FILE_MAX + 1
 * bytes), without its line end. False after printing why. */
static bool
read_pass_file(const char *path, char pass[PASS_FILE_MAX + 1])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    ssize_t n = fd >= 0 ? read(fd, pass, PASS_FILE_MAX) : -1;
    int e = errno;

    if (fd >= 0)
        close(fd);
    if (n < 0) {
        fprintf(stderr, "dumpgate: --p12-pass-file %s: %s\n", path, strerror(e));
        return false;
    }
    pass[n] = '\0';
    pass[strcspn(pass, "\r\n")] = '\0';
    return true;
}

/* Appends an owned copy of path to o->list (issue 25). Returns false when
 * out of memory or past INT_MAX files. */
static bool
list_add(struct cli_opts *o, const char *path, int *cap)
{
    if (o->n_files == *cap) {
        char **grown;

        if (*cap > INT_MAX / 2)
            return false;
        if ((grown = realloc(o->list, (size_t)*cap * 2 * sizeof *grown)) == NULL)
            return false;
        o->list = grown;
        *cap *= 2;
    }
    if ((o->list[o->n_files] = strdup(path)) == NULL)
        return false;
    o->n_files++;
    return true;
}

static int
by_bytes(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Adds the regular files under dir, depth first, each directory's entries
 * in byte order of their names; symlinks are not followed. Returns 0 or 2
 * after a message. */
static int
list_tree(struct cli_opts *o, const char *dir, int *cap)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_bytes);
    int rc = 0;

    if (n < 0) {
        fprintf(stderr, "dumpgate: error: --recursive: %s: %s\n", dir, strerror(errno));
        return 2;
    }
    for (int i = 0; i < n; i++) {
        const char *e = names[i]->d_name;
        size_t len = strlen(dir) + strlen(e) + 2;
        char *path;
        struct stat st;

        if (rc != 0 || strcmp(e, ".") == 0 || strcmp(e, "..") == 0)
            continue;
        if ((path = malloc(len)) == NULL) {
            rc = usage_error("%s", "out of memory");
            continue;
        }
        snprintf(path, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e);
        if (lstat(path, &st) != 0)
            fprintf(stderr, "dumpgate: warning: --recursive: %s: %s; not scanned\n", path,
                    strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = list_tree(o, path, cap);
        else if (S_ISREG(st.st_mode) && !list_add(o, path, cap))
            rc = usage_error("%s", "out of memory");
        free(path);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* scan --files-from LIST, --recursive DIR (issue 25): o->files becomes
 * the argv files, then LIST's lines (blank ones skipped), then the files
 * under DIR. A path that cannot be opened is the scan's error for that
 * file. Returns 0 or 2 after a message. */
static int
list_files(struct cli_opts *o)
{
    int cap = o->n_files + 64;
    int rc = 0;

    if ((o->list = calloc((size_t)cap, sizeof *o->list)) == NULL)
        return usage_error("%s", "out of memory");
    memcpy(o->list, o->files, (size_t)o->n_files * sizeof *o->list);
    o->list_own = o->n_files;
    o->files = o->list;
    if (o->files_from != NULL) {
        bool in = strcmp(o->files_from, "-") == 0;
        FILE *f = in ? stdin : fopen(o->files_from, "r");
        char *line = NULL;
        size_t size = 0;
        ssize_t len;

        for (int i = 0; in && i < o->list_own; i++)
            if (strcmp(o->list[i], "-") == 0)
                return usage_error("%s", "--files-from - reads standard input; no - file");
        if (f == NULL) {
            fprintf(stderr, "dumpgate: error: --files-from: %s: %s\n", o->files_from,
                    strerror(errno));
            return 2;
        }
        while (rc == 0 && (len = getline(&line, &size, f)) >= 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            if (len > 0 && !list_add(o, line, &cap))
                rc = usage_error("%s", "out of memory");
        }
        if (rc == 0 && ferror(f)) {
            fprintf(stderr, "dumpgate: error: --files-from: %s: %s\n", o->files_from,
                    strerror(errno));
            rc = 2;
        }
        free(line);
        if (!in)
            fclose(f);
    }
    if (rc == 0 && o->recursive != NULL)
        rc = list_tree(o, o->recursive, &cap);
    if (rc == 0 && o->n_files == 0)
        fprintf(stderr, "dumpgate: warning: no file in %s%s%s\n",
                o->files_from ? "--files-from " : "--recursive ",
                o->files_from ? o->files_from : o->recursive, "; nothing scanned");
    return rc;
}

int
options_parse(int argc, char **argv, struct cli_opts *o)
{
    struct config_choice ch;
    const char *optstring;
    const char *sub;
    unsigned qgiven = 0; /* the QO_ options of quarantine given */
    int c, n_args, rc;

    memset(o, 0, sizeof *o);
    o->fail_on = DG_SEV_HIGH;
    verdict_policy_init(&o->policy);
    o->threads = 1;
    o->timeout = 600;
    o->scan_user = "nobody";
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
    else if (strcmp(sub, "core-handler") == 0)
        o->cmd = CMD_CORE_HANDLER;
    else if (strcmp(sub, "quarantine") == 0)
        o->cmd = CMD_QUARANTINE;
    else if (strcmp(sub, "gateway") == 0)
        o->cmd = CMD_GATEWAY;
    else if (strcmp(sub, "redact") == 0)
        o->cmd = CMD_REDACT;
    else
        return usage_error("unknown command '%s'", sub);

    /* The options without the command, for two passes of getopt: the
     * configuration file first, then everything over it. */
    n_args = argc - 1;
    if ((o->args = calloc((size_t)argc, sizeof *o->args)) == NULL)
        return usage_error("%s", "out of memory");
    o->args[0] = argv[0];
    memcpy(o->args + 1, argv + 2, (size_t)(argc - 2) * sizeof *argv);
    optstring = o->cmd == CMD_CORE_HANDLER ? shortopts_handler : shortopts;
    find_config(n_args, o->args, optstring, &ch);
    if (o->cmd != CMD_REGIONS && (rc = load_config(o, &ch)) != 0)
        return rc;
    if (o->cmd == CMD_CORE_HANDLER || o->cmd == CMD_GATEWAY) {
        /* each scan reads the very file the handler read, or none */
        if (o->config != NULL) {
            o->scan_args[o->n_scan_args++] = "--config";
            o->scan_args[o->n_scan_args++] = o->config->path;
        } else if (ch.off) {
            o->scan_args[o->n_scan_args++] = "--no-config";
        }
    }

    optind = 0;
    for (int li = -1; (c = getopt_long(n_args, o->args, optstring, longopts, &li)) != -1;
         li = -1) {
        const char *pass_on = o->cmd != CMD_CORE_HANDLER && o->cmd != CMD_GATEWAY ? NULL
                              : c == OPT_MAX_DECOMPRESSED ? "--max-decompressed"
                                                          : scan_option_name(c);
        /* the long option just read (all those below have no short form) */
        const char *name = li >= 0 ? longopts[li].name : "?";
        unsigned long long v;

        if (o->cmd == CMD_QUARANTINE && !quarantine_option(c)) {
            char opt[64];

            if (li >= 0)
                snprintf(opt, sizeof opt, "--%s", name);
            else
                snprintf(opt, sizeof opt, "-%c", c);
            return usage_error("%s is not an option of quarantine", opt);
        }
        if (o->cmd != CMD_QUARANTINE && c >= OPT_REASON && c <= OPT_MAX_TOTAL)
            return usage_error("--%s is an option of quarantine", name);
        switch (c) {
        case 'f':
            qgiven |= 1u << QO_FORMAT;
            if (strcmp(optarg, "text") == 0)
                o->format = REPORT_TEXT;
            else if (strcmp(optarg, "jsonl") == 0 || strcmp(optarg, "json") == 0)
                o->format = REPORT_JSONL;
            else if (strcmp(optarg, "sarif") == 0 && o->cmd == CMD_SCAN)
                o->format = REPORT_SARIF;
            else
                return usage_error("unknown format '%s' (text, jsonl, or sarif for scan)",
                                   optarg);
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
        case 'Y':
            o->strict = true;
            break;
        case 'D':
            if (o->cmd != CMD_SCAN)
                return usage_error("%s is an option of scan", "--dumps-only");
            o->dumps_only = true;
            break;
        case 'C':
            if (!config_parse_bytes(optarg, &v) || v < 4096 || v > 1ull << 30)
                return usage_error("--chunk-size takes 4096 bytes to 1G (K, M, G), not '%s'",
                                   optarg);
            o->chunk_size = (size_t)v;
            break;
        case 'a':
            if (o->n_allow == (int)(sizeof o->allow / sizeof o->allow[0]))
                return usage_error("%s", "too many --allow files");
            o->allow[o->n_allow++] = optarg;
            break;
        case 'k':
            if (o->n_known == (int)(sizeof o->known / sizeof o->known[0]))
                return usage_error("%s", "too many --known-keys files");
            o->known[o->n_known++] = optarg;
            break;
        case 'n':
            o->no_builtin_allow = true;
            break;
        case OPT_DEBUG_DIR:
            if (o->cmd != CMD_SCAN)
                return usage_error("%s is an option of scan", "--debug-dir");
            if (o->n_debug_dirs == (int)(sizeof o->debug_dirs / sizeof o->debug_dirs[0]) - 1)
                return usage_error("%s", "too many --debug-dir directories");
            o->debug_dirs[o->n_debug_dirs++] = optarg;
            break;
        case 'o':
            if (o->cmd != CMD_SCAN && o->cmd != CMD_REDACT)
                return usage_error("%s is an option of scan and redact", "-o");
            o->output = optarg;
            break;
        case OPT_FORCE:
            if (o->cmd != CMD_REDACT)
                return usage_error("%s is an option of redact", "--force");
            o->force = true;
            break;
        case 'K':
        case 'P':
        case 'Q':
            if (o->n_keyvals + 1 >= (int)(sizeof o->keyvals / sizeof o->keyvals[0]))
                return usage_error("%s", "too many detector options");
            if (c == 'K' && (strchr(optarg, '=') == NULL || optarg[0] == '='))
                return usage_error("--option takes NAME=VALUE, not '%s'", optarg);
            if (c == 'P' || c == 'Q') {
                char pass[PASS_FILE_MAX + 1];

                if (c == 'Q' && !read_pass_file(optarg, pass))
                    return 2;
                if (o->p12_pass != NULL)
                    OPENSSL_cleanse(o->p12_pass, strlen(o->p12_pass));
                free(o->p12_pass);
                if (asprintf(&o->p12_pass, "p12-pass=%s", c == 'Q' ? pass : optarg) < 0)
                    o->p12_pass = NULL;
                OPENSSL_cleanse(pass, sizeof pass);
                if (o->p12_pass == NULL)
                    return usage_error("%s", "out of memory");
            }
            o->keyvals[o->n_keyvals++] = c == 'K' ? optarg : o->p12_pass;
            o->keyvals[o->n_keyvals] = NULL;
            break;
        case 'U':
            if (o->n_rules == (int)(sizeof o->rules / sizeof o->rules[0]))
                return usage_error("%s", "too many --rules files");
            if (strchr(optarg, '\n') != NULL || optarg[0] == '\0')
                return usage_error("bad --rules file name '%s'", optarg);
            o->rules[o->n_rules++] = optarg;
            break;
        case 'p':
            if (o->n_plugins == (int)(sizeof o->plugins / sizeof o->plugins[0]))
                return usage_error("%s", "too many --plugin files");
            o->plugins[o->n_plugins++] = optarg;
            break;
        case 'S':
            if (o->cmd != CMD_CORE_HANDLER && o->cmd != CMD_QUARANTINE && o->cmd != CMD_GATEWAY)
                return usage_error("--%s is an option of core-handler, gateway and quarantine",
                                   name);
            o->spool = optarg;
            break;
        case OPT_METRICS:
            if (o->cmd != CMD_CORE_HANDLER && o->cmd != CMD_QUARANTINE)
                return usage_error("--%s is an option of core-handler and quarantine", name);
            o->metrics = optarg;
            break;
        case OPT_REASON:
            o->reason = optarg;
            qgiven |= 1u << QO_REASON;
            break;
        case OPT_BY:
            o->by = optarg;
            qgiven |= 1u << QO_BY;
            break;
        case OPT_COMMAND:
            o->release_command = optarg;
            qgiven |= 1u << QO_COMMAND;
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
            qgiven |= 1u << QO_DRY_RUN;
            break;
        case OPT_MAX_AGE:
            if (!parse_unsigned(optarg, 36500, &v) || v == 0)
                return usage_error("--max-age-days takes 1 to 36500 days, not '%s'", optarg);
            o->has_max_age = true;
            o->max_age_days = (unsigned)v;
            qgiven |= 1u << QO_MAX_AGE;
            break;
        case OPT_MAX_TOTAL:
            if (!config_parse_bytes(optarg, &v))
                return usage_error("--max-total takes a number of bytes, at least 1, with K, M, "
                                   "G or T for powers of 1024, not '%s'", optarg);
            o->has_max_total = true;
            o->max_total = v;
            qgiven |= 1u << QO_MAX_TOTAL;
            break;
        case 'W':
        case 'X':
        case 'R':
        case 'L':
            if (o->cmd != CMD_CORE_HANDLER &&
                !(o->cmd == CMD_GATEWAY && (c == 'X' || c == 'L')))
                return usage_error("--%s is an option of core-handler", name);
            if (c == 'W')
                o->sweep = optarg;
            else if (c == 'X')
                o->scanner = optarg;
            else if (c == 'R')
                o->recover_only = true;
            else
                o->log_stderr = true;
            break;
        case 'T':
            if (!parse_unsigned(optarg, 86400, &v) || v == 0)
                return usage_error("--timeout takes 1 to 86400 seconds, not '%s'", optarg);
            o->timeout = (unsigned)v;
            break;
        case OPT_MAX_DECOMPRESSED:
        case OPT_MAX_DUMP_SIZE:
        case OPT_KEEP_FREE:
            if (c != OPT_MAX_DECOMPRESSED && o->cmd != CMD_CORE_HANDLER)
                return usage_error("--%s is an option of core-handler", name);
            if (c == OPT_MAX_DECOMPRESSED && o->cmd != CMD_SCAN && o->cmd != CMD_CORE_HANDLER &&
                o->cmd != CMD_GATEWAY)
                return usage_error("--%s is an option of scan, core-handler and gateway", name);
            if (!config_parse_bytes(optarg, &v)) {
                fprintf(stderr, "dumpgate: --%s takes a number of bytes, at least 1, with K, "
                        "M, G or T for powers of 1024, not '%s'\nTry 'dumpgate --help'.\n",
                        name, optarg);
                return 2;
            }
            if (c == OPT_MAX_DECOMPRESSED)
                o->max_decompressed = v;
            else if (c == OPT_MAX_DUMP_SIZE)
                o->max_dump_size = v;
            else
                o->keep_free = v;
            break;
        case OPT_FILES_FROM:
        case 'r':
            if (o->cmd != CMD_SCAN)
                return usage_error("--%s is an option of scan", name);
            if (c == OPT_FILES_FROM)
                o->files_from = optarg;
            else
                o->recursive = optarg;
            break;
        case OPT_NO_SPILL:
            if (o->cmd != CMD_SCAN)
                return usage_error("%s is an option of scan", "--no-spill");
            o->no_spill = true;
            break;
        case OPT_SCAN_TIMEOUT:
        case OPT_RECEIVE_TIMEOUT:
            if (c == OPT_SCAN_TIMEOUT && o->cmd != CMD_SCAN)
                return usage_error("--%s is an option of scan", name);
            if (c == OPT_RECEIVE_TIMEOUT && o->cmd != CMD_CORE_HANDLER && o->cmd != CMD_GATEWAY)
                return usage_error("--%s is an option of core-handler and gateway", name);
            if (!parse_unsigned(optarg, 86400, &v) || v == 0) {
                fprintf(stderr, "dumpgate: --%s takes 1 to 86400 seconds, not '%s'\n"
                        "Try 'dumpgate --help'.\n", name, optarg);
                return 2;
            }
            if (c == OPT_SCAN_TIMEOUT)
                o->scan_timeout = (unsigned)v;
            else
                o->receive_timeout = (unsigned)v;
            break;
        case OPT_SANDBOX:
        case OPT_SCAN_USER:
            if (c == OPT_SANDBOX && o->cmd != CMD_SCAN)
                return usage_error("--%s is an option of scan", name);
            if (c == OPT_SCAN_USER && o->cmd != CMD_CORE_HANDLER && o->cmd != CMD_GATEWAY)
                return usage_error("--%s is an option of core-handler and gateway", name);
            if (optarg[0] == '\0' || optarg[0] == '-')
                return usage_error("bad user name '%s'", optarg);
            if (c == OPT_SANDBOX)
                o->sandbox = optarg;
            else
                o->scan_user = optarg;
            break;
        case OPT_REDACT:
            if (o->cmd != CMD_GATEWAY && o->cmd != CMD_CORE_HANDLER)
                return usage_error("--%s is an option of gateway and core-handler", name);
            o->redact_copy = true;
            break;
        case OPT_TLS_CERT:
        case OPT_TLS_KEY:
        case OPT_TLS_CLIENT_CA:
        case OPT_DIRTY_ANSWER:
            if (o->cmd != CMD_GATEWAY)
                return usage_error("--%s is an option of gateway", name);
            if (c == OPT_TLS_CERT)
                o->tls_cert = optarg;
            else if (c == OPT_TLS_KEY)
                o->tls_key = optarg;
            else if (c == OPT_TLS_CLIENT_CA)
                o->tls_client_ca = optarg;
            else if (strpbrk(optarg, "\r\n") != NULL || strlen(optarg) > 200)
                return usage_error("%s", "--dirty-answer takes one line of at most 200 bytes");
            else
                o->dirty_answer = optarg;
            break;
        case OPT_LISTEN:
        case OPT_UPSTREAM:
        case OPT_TOKEN_FILE:
        case OPT_MAX_UPLOAD:
        case OPT_MAX_UPLOADS:
            if (o->cmd != CMD_GATEWAY)
                return usage_error("--%s is an option of gateway", name);
            if (c == OPT_LISTEN)
                o->listen = optarg;
            else if (c == OPT_UPSTREAM)
                o->upstream = optarg;
            else if (c == OPT_TOKEN_FILE)
                o->token_file = optarg;
            else if (c == OPT_MAX_UPLOADS && (!parse_unsigned(optarg, 4096, &v) || v == 0))
                return usage_error("--max-uploads takes 1 to 4096, not '%s'", optarg);
            else if (c == OPT_MAX_UPLOADS)
                o->max_uploads = (unsigned)v;
            else if (!config_parse_bytes(optarg, &v))
                return usage_error("--max-upload takes a number of bytes, at least 1, with K, "
                                   "M, G or T for powers of 1024, not '%s'", optarg);
            else
                o->max_upload = v;
            break;
        case 'c':
        case 'N':
            /* read before the other options (find_config) */
            if (o->cmd == CMD_REGIONS)
                return usage_error("--%s is an option of scan, detectors and core-handler",
                                   name);
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
        if (pass_on != NULL) {
            /* checked above as for scan; the scans get it as it was given */
            if (o->n_scan_args + 2 > (int)(sizeof o->scan_args / sizeof o->scan_args[0]))
                return usage_error("%s", "too many scan options");
            o->scan_args[o->n_scan_args++] = pass_on;
            if (c != 'n')
                o->scan_args[o->n_scan_args++] = optarg;
        }
    }
    o->files = o->args + optind;
    o->n_files = n_args - optind;
    if ((o->files_from != NULL || o->recursive != NULL) && (rc = list_files(o)) != 0)
        return rc;
    if ((o->cmd == CMD_SCAN || o->cmd == CMD_REGIONS) && o->n_files == 0 &&
        o->files_from == NULL && o->recursive == NULL)
        return usage_error("%s", "no input file (use - for standard input)");
    if (o->cmd == CMD_REGIONS && o->n_files != 1)
        return usage_error("%s", "regions takes exactly one file");
    if (o->cmd == CMD_REDACT && (o->n_files != 1 || o->output == NULL))
        return usage_error("%s", "redact takes exactly one file IN and -o OUT");
    if (o->sandbox != NULL && o->output != NULL)
        return usage_error("%s", "--sandbox writes the report to standard output only (no -o)");
    if (o->cmd == CMD_CORE_HANDLER && o->spool == NULL)
        return usage_error("%s", "core-handler needs --spool DIR (or handler.spool in the "
                                 "configuration file)");
    if (o->cmd == CMD_GATEWAY && (o->spool == NULL || o->listen == NULL || o->upstream == NULL))
        return usage_error("%s", "gateway needs --listen ADDRESS:PORT, --upstream URL and "
                                 "--spool DIR");
    if (o->cmd == CMD_GATEWAY && (o->tls_cert == NULL) != (o->tls_key == NULL))
        return usage_error("%s", "gateway: --tls-cert and --tls-key go together");
    if (o->cmd == CMD_GATEWAY && o->tls_client_ca != NULL && o->tls_cert == NULL)
        return usage_error("%s", "gateway: --tls-client-ca needs --tls-cert and --tls-key");
    if (o->cmd == CMD_GATEWAY && o->n_files > 0)
        return usage_error("gateway takes no file ('%s')", o->files[0]);
    if (o->cmd == CMD_QUARANTINE)
        return quarantine_args(o, qgiven);
    return 0;
}

void
options_free(struct cli_opts *o)
{
    free(o->detector_list);
    o->detector_list = NULL;
    if (o->p12_pass != NULL)
        OPENSSL_cleanse(o->p12_pass, strlen(o->p12_pass));
    free(o->p12_pass);
    o->p12_pass = NULL;
    free(o->rules_kv);
    o->rules_kv = NULL;
    config_free(o->config);
    o->config = NULL;
    for (int i = o->list_own; o->list != NULL && i < o->n_files; i++)
        free(o->list[i]);
    free(o->list);
    o->list = NULL;
    free(o->args);
    o->args = NULL;
    o->files = NULL;
    o->n_files = 0;
}
