/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * scan.c - one input end to end (see scan.h): open, recognize the container
 * by magic, build the region map, run the engine, then sort, de-duplicate and
 * attribute the findings (virtual address, region) and total the coverage.
 * A container that fails leaves the file to be scanned as raw bytes, with the
 * container's complaint as a warning: no byte escapes scanning because a
 * header lied.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "../container/elfcore.h"
#include "../container/minidump.h"
#include "../container/raw.h"
#include "../input/decompress.h"
#include "../../detectors/registry.h"
#include "../util/deadline.h"
#include "engine_int.h"
#include "identity.h"
#include "../where/ptrfree.h"
#include "../where/where.h"

/* The scan closes a summary only when a chunk holds its whole piece. */
_Static_assert(SCAN_DEFAULT_CHUNK % PTR_SUMS_BLOCK_MAX == 0,
               "a default chunk holds whole summary pieces");

/* Reads the container of in into out->map. Never fails for a readable input:
 * anything unrecognized or broken becomes one raw span. */
static dg_err
read_container(struct dg_input *in, struct scan_result *out)
{
    uint8_t magic[64];
    size_t got = 0, mark = dg_diag_count(out->diag);
    dg_err rc = input_read_at(in, 0, magic, sizeof magic, &got);
    char what[96];
    const char *tried = NULL;
    uint64_t size = in->stream ? UINT64_MAX : in->size;

    if (rc != DG_OK)
        return dg_diag(out->diag, rc, 0, "%s: cannot read: %s", in->name, dg_strerror(rc));
    if (got == 0)
        return dg_diag(out->diag, DG_E_EMPTY, 0, "%s: empty input", in->name);
    rc = DG_E_UNSUPPORTED;
    if (elfcore_probe(magic, got)) {
        tried = "ELF core";
        rc = elfcore_read(in, out->map, out->diag);
    } else if (minidump_probe(magic, got)) {
        tried = "minidump";
        rc = minidump_read(in, out->map, out->diag);
    }
    if (rc == DG_OK)
        return regions_finish(out->map, size);

    dg_diag_demote(out->diag, mark); /* the file is still scanned raw */
    raw_describe(magic, got, what, sizeof what);
    regions_free(out->map);
    out->map = regions_new();
    if (out->map == NULL)
        return dg_diag(out->diag, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", in->name);
    if (tried != NULL && rc != DG_E_UNSUPPORTED)
        dg_diag_at(out->diag, DG_DIAG_WARNING, rc, 0,
                   "%s: damaged %s (see above); scanning the whole file as raw bytes", in->name,
                   tried);
    else
        dg_diag_at(out->diag, DG_DIAG_WARNING, rc, 0,
                   "%s: not an ELF core or minidump (%s); scanning as raw bytes", in->name, what);
    if ((rc = raw_read(out->map, size)) != DG_OK)
        return dg_diag(out->diag, rc, 0, "%s: region map: %s", in->name, dg_strerror(rc));
    snprintf(regions_info(out->map)->detail, sizeof regions_info(out->map)->detail, "%s", what);
    return regions_finish(out->map, size);
}

static int
cmp_finding(const void *a, const void *b)
{
    const struct scan_finding *x = a, *y = b;
    int c;

    if (x->f.off != y->f.off)
        return x->f.off < y->f.off ? -1 : 1;
    if ((c = strcmp(x->detector, y->detector)) != 0)
        return c;
    if ((c = strcmp(x->f.type, y->f.type)) != 0)
        return c;
    return x->f.len < y->f.len ? -1 : x->f.len > y->f.len;
}

/* True when detector name does not search a file's read-only image. */
static bool
skips_images(const char *name)
{
    const struct dg_detector *d = registry_find(name);

    return d != NULL && (d->flags & DG_DET_NO_IMAGES) != 0;
}

/* Sorts findings, drops exact repeats (same offset, detector, type, length)
 * and attaches each one's region and virtual address. A finding of a
 * DG_DET_NO_IMAGES detector in a file's read-only image is dropped too: it
 * was scanned before the dump said what lay there (a stream whose notes came
 * last), and a scan of the same dump as a file would not have searched it. */
static void
attribute(struct scan_result *out, struct dg_sink *sink)
{
    size_t k = 0, images = 0;

    if (sink->n > 1)
        qsort(sink->v, sink->n, sizeof *sink->v, cmp_finding);
    for (size_t i = 0; i < sink->n; i++) {
        struct scan_finding *f = &sink->v[i];
        const struct dg_region *r;

        if (k > 0 && cmp_finding(&sink->v[k - 1], f) == 0)
            continue;
        r = regions_at(out->map, f->f.off);
        if (r != NULL) {
            f->region = *r;
            f->has_va = r->has_va;
            f->va = r->has_va ? r->va + (f->f.off - r->off) : 0;
        } else {
            f->region = (struct dg_region){.kind = DG_SPAN_TRAILING, .thread = -1};
        }
        if (dg_region_is_image(&f->region) && skips_images(f->detector)) {
            images++;
            continue;
        }
        sink->v[k++] = *f;
    }
    if (images > 0)
        dg_diag_at(out->diag, DG_DIAG_INFO, DG_OK, DG_NO_OFFSET,
                   "%s: %zu finding%s in a file's read-only image dropped: the notes that "
                   "name it came after the scan, and a scan of the file would not search it",
                   sink->name, images, images == 1 ? "" : "s");
    out->findings = sink->v;
    out->n_findings = k;
    sink->v = NULL;
    sink->n = sink->cap = 0;
}

static void
coverage(struct scan_result *out, uint64_t size)
{
    struct scan_coverage *c = &out->cov;

    c->file_bytes = size;
    c->unreadable_bytes = regions_unreadable(out->map);
    for (size_t i = 0; i < regions_count(out->map); i++) {
        const struct dg_region *r = regions_get(out->map, i);
        uint64_t len = r->len;

        if (r->off >= size)
            continue;
        if (len > size - r->off)
            len = size - r->off;
        c->n_spans++;
        if (r->has_va) {
            c->region_bytes += len;
            c->n_regions++;
        } else {
            c->outside_bytes += len;
        }
    }
}

static dg_err
result_init(const char *name, struct scan_result *out)
{
    memset(out, 0, sizeof *out);
    out->name = strdup(name);
    out->diag = dg_diag_new();
    out->map = regions_new();
    out->format = "raw";
    if (out->name == NULL || out->diag == NULL || out->map == NULL)
        return DG_E_NOMEM;
    return DG_OK;
}

static void
finish_info(struct scan_result *out)
{
    const struct regions_info *info = regions_info_const(out->map);

    out->format = info->format;
    snprintf(out->format_detail, sizeof out->format_detail, "%s", info->detail);
}

int
scan_spill_open(const char *dir)
{
    return open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
}

/* Starts the spill of stream in into fd (scan_opts.spill_fd): at most half
 * the space free on its file system, so that a scan never fills a disk
 * (when fstatvfs cannot say, a write error is where it stops). */
static void
spill_begin(struct dg_input *in, int fd, struct dg_diag *d)
{
    struct statvfs fs;
    uint64_t max = 0;
    const char *why = NULL;

    if (fd < 0)
        why = "none could be made in $TMPDIR";
    else if (fstatvfs(fd, &fs) == 0 && (max = (uint64_t)fs.f_bavail * fs.f_frsize / 2) == 0)
        why = "no free space";
    else if (input_spill(in, fd, max > 0 ? max : UINT64_MAX) != DG_OK)
        why = "it cannot be written";
    if (why != NULL)
        dg_diag_at(d, DG_DIAG_INFO, DG_OK, DG_NO_OFFSET,
                   "%s: stream: no spill file (%s): what went by cannot be read again after "
                   "the scan",
                   in->name, why);
}

/* Says how far the spill got when it stopped before the end. */
static void
spill_end(struct dg_input *in, uint64_t scanned, struct dg_diag *d)
{
    int why;
    uint64_t kept = input_spilled(in, &why);

    if (why != 0 && kept < scanned)
        dg_diag_at(d, DG_DIAG_INFO, DG_OK, kept,
                   "%s: stream: the spill file stopped at %llu bytes (%s): what lies past "
                   "them cannot be read again after the scan",
                   in->name, (unsigned long long)kept,
                   why == EFBIG ? "half the free space" : strerror(why));
}

/* What scan_input() does at the engine's hooks (engine_hooks). */
struct hooks_state {
    struct dg_input *in;
    struct scan_result *out;
    const struct scan_opts *opts;
    bool done;                     /* stream_ended() ran */
    struct zero_map zeros;         /* the engine's: chunks of zeros, not read again */
    struct ptr_free ptrfree;       /* the engine's: blocks without a pointer, not read again */
    /* Attribution's first read, readied by the first thread of finish()
     * left with nothing to finish (finish_idle()), beside the others' last
     * finish(), for where_attribute(); NULL: none. */
    struct ptrpath_sums *prepared;
    bool want_prepared;            /* chunks_scanned(): something was found, threads help */
    bool tried_prepared;           /* a finish_idle() has readied it, or tried */
    pthread_mutex_t prepare_lock;  /* over the three above */
};

/* The end of a stream: the notes that went by after the head (a gcore
 * core's are last) name its regions, and the map gets its length. */
static void
stream_ended(void *arg, uint64_t length)
{
    struct hooks_state *e = arg;

    if (e->done)
        return;
    e->done = true;
    e->in->size = length;
    (void)elfcore_read_late(e->in, e->out->map, e->out->diag);
    regions_finish(e->out->map, length);
    finish_info(e->out);
}

/* Attribution's options for a scan under opts. */
static struct where_opts
where_opts_of(const struct scan_opts *opts)
{
    struct where_opts wo = opts->where != NULL ? *opts->where : (struct where_opts){0};

    wo.threads = opts->threads;
    return wo;
}

/* Every chunk scanned: when something was found, attribution's first read
 * of memory is to run beside the detectors' finish() (finish_idle()). */
static void
chunks_scanned(void *arg, const struct dg_sink *found)
{
    struct hooks_state *e = arg;

    e->want_prepared = found->n > 0 && e->opts->threads >= 2;
}

/* A thread of the detectors' finish() with nothing left to finish: the
 * first readies attribution's first read (where_prepare(): its buffers and
 * filters) while the others may still finish, then each reads for it. */
static void
finish_idle(void *arg)
{
    struct hooks_state *e = arg;
    struct ptrpath_sums *prepared;

    pthread_mutex_lock(&e->prepare_lock);
    if (e->want_prepared && !e->tried_prepared) {
        struct where_opts wo = where_opts_of(e->opts);

        wo.zeros = &e->zeros;
        wo.ptrfree = &e->ptrfree;
        e->prepared = where_prepare(e->in, e->out, &wo);
        e->tried_prepared = true;
    }
    prepared = e->prepared;
    pthread_mutex_unlock(&e->prepare_lock);
    where_prepare_help(prepared);
}

static dg_err
scan_input(struct dg_input *in, const struct scan_opts *opts, struct scan_result *out)
{
    struct dg_sink sink;
    uint64_t scanned = 0;
    double t0 = deadline_now();
    struct hooks_state end = {.in = in, .out = out, .opts = opts,
                              .prepare_lock = PTHREAD_MUTEX_INITIALIZER};
    const struct engine_hooks hooks = {.stream_end = stream_ended, .scanned = chunks_scanned,
                                       .idle = finish_idle, .arg = &end};
    dg_err rc;

    sink_init(&sink, out->diag);
    sink.name = in->name;
    rc = read_container(in, out);
    finish_info(out);
    if (rc == DG_OK && in->stream && opts->spill)
        spill_begin(in, opts->spill_fd, out->diag);
    /* pointer paths are searched in ELF cores only (where.c) */
    if (rc == DG_OK && strcmp(out->format, "elf-core") == 0)
        ptr_free_init(&end.ptrfree, out->map, in->stream ? 0 : in->size);
    if (rc == DG_OK)
        rc = engine_run(in, out->map, opts, &hooks, out->diag, &sink, &scanned, &end.zeros,
                        end.ptrfree.on ? &end.ptrfree : NULL);
    if (in->stream && opts->spill)
        spill_end(in, scanned, out->diag);
    if (in->decoder != NULL) {
        /* A compressed input: say so, and why it ended early if it did. */
        dg_err drc = input_finish(in, out->diag);

        if (rc == DG_OK && scanned == 0)
            rc = drc;
        out->stream_cut = drc != DG_OK; /* the decompressed dump ended early */
        out->over_budget = drc == DG_E_LIMIT; /* max_decompressed, or the deadline */
        snprintf(out->compression, sizeof out->compression, "%s", in->compression);
        out->compressed_bytes = in->compressed_bytes;
    }
    if (in->stream)
        stream_ended(&end, scanned); /* when the engine did not run */
    if (input_timed_out(in)) {
        out->over_budget = true;
        dg_diag_at(out->diag, DG_DIAG_WARNING, DG_E_LIMIT, scanned,
                   "%s: nothing more arrived before the time budget ran out; scanned the %llu "
                   "bytes received", in->name, (unsigned long long)scanned);
    } else if (deadline_passed(opts->deadline) && !out->over_budget) {
        /* the engine started no chunk past the deadline */
        out->over_budget = true;
        dg_diag_at(out->diag, DG_DIAG_WARNING, DG_E_LIMIT, DG_NO_OFFSET,
                   "%s: the time budget ran out after %llu bytes were scanned%s", in->name,
                   (unsigned long long)scanned,
                   in->stream || scanned >= in->size ? "" : "; the rest was not");
    }
    out->cov.scanned_bytes = scanned;
    coverage(out, in->stream ? scanned : in->size);
    if (in->stream && regions_info_const(out->map)->stream_partial) {
        dg_diag_at(out->diag, DG_DIAG_INFO, DG_OK, DG_NO_OFFSET,
                   "%s: stream: container read from the first %llu bytes", in->name,
                   (unsigned long long)input_known_size(in));
        /* The container could not judge truncation before the end was known. */
        if (regions_clipped(out->map) > 0)
            dg_diag_at(out->diag, DG_DIAG_WARNING, DG_E_TRUNCATED, scanned,
                       "%s: truncated: the stream ended at %llu bytes, %llu bytes short of "
                       "what its headers describe",
                       in->name, (unsigned long long)scanned,
                       (unsigned long long)regions_clipped(out->map));
    }
    attribute(out, &sink);
    out->publics = sink.pub;
    out->n_publics = sink.n_pub;
    sink.pub = NULL;
    sink.n_pub = sink.cap_pub = 0;
    sink_free(&sink);
    identity_group(out);
    identity_name_from_dump(out);
    if (out->n_findings > 0) { /* while the input is open; costs nothing without findings */
        struct where_opts wo = where_opts_of(opts);

        wo.prepared = end.prepared;
        wo.zeros = &end.zeros;
        wo.ptrfree = &end.ptrfree;
        (void)where_attribute(in, out, &wo);
    }
    where_prepared_free(end.prepared);
    pthread_mutex_destroy(&end.prepare_lock);
    zero_map_free(&end.zeros);
    ptr_free_free(&end.ptrfree);
    if (in->stream)
        input_spill_done(in); /* read back for the last time */
    out->seconds = deadline_now() - t0;
    if (rc != DG_OK && scanned > 0)
        rc = DG_OK; /* partial is not failure */
    return rc;
}

/* The input of path, or (path NULL) of the descriptor fd called name,
 * within the budgets of opts, scanned into out and closed. */
static dg_err
scan_opened_input(const char *path, const char *name, int fd, const struct scan_opts *opts,
                  struct scan_result *out)
{
    const struct input_limits lim = {.max_decompressed = opts->max_decompressed,
                                     .deadline = opts->deadline};
    struct dg_input in;
    dg_err rc = path != NULL ? input_open_limited(path, &lim, out->diag, &in)
                             : input_open_fd(name, fd, &lim, out->diag, &in);

    if (rc != DG_OK)
        return rc;
    rc = scan_input(&in, opts, out);
    input_close(&in);
    return rc;
}

dg_err
scan_path(const char *path, const struct scan_opts *opts, struct scan_result *out)
{
    dg_err rc = result_init(path, out);

    return rc != DG_OK ? rc : scan_opened_input(path, path, -1, opts, out);
}

dg_err
scan_opened(const char *name, scan_open_fn opener, void *arg, const struct scan_opts *opts,
            struct scan_result *out)
{
    dg_err rc = result_init(name, out);
    int fd = -1;

    if (rc == DG_OK)
        rc = opener(arg, out->diag, &fd);
    return rc != DG_OK ? rc : scan_opened_input(NULL, name, fd, opts, out);
}

dg_err
scan_memory(const char *name, const uint8_t *p, size_t len, const struct scan_opts *opts,
            struct scan_result *out)
{
    struct dg_input in;
    dg_err rc = result_init(name, out);

    if (rc != DG_OK)
        return rc;
    if (len == 0)
        return dg_diag(out->diag, DG_E_EMPTY, 0, "%s: empty input", name);
    input_open_memory(name, p, len, &in);
    return scan_input(&in, opts, out);
}

dg_err
scan_regions(const char *path, struct scan_result *out)
{
    struct dg_input in;
    dg_err rc = result_init(path, out);

    if (rc != DG_OK)
        return rc;
    rc = input_open(path, out->diag, &in);
    if (rc != DG_OK)
        return rc;
    rc = read_container(&in, out);
    finish_info(out);
    if (rc == DG_OK && in.stream) {
        /* The map of a stream needs its length: read the rest and count it. */
        uint8_t buf[1 << 16];
        uint64_t total = input_known_size(&in);
        size_t got = sizeof buf;

        while (!input_head_eof(&in) && got == sizeof buf &&
               input_pull(&in, buf, sizeof buf, &got) == DG_OK)
            total += got;
        regions_finish(out->map, total);
        in.size = total;
    }
    if (in.decoder != NULL) {
        (void)input_finish(&in, out->diag);
        snprintf(out->compression, sizeof out->compression, "%s", in.compression);
        out->compressed_bytes = in.compressed_bytes;
    }
    coverage(out, in.stream ? in.size : input_known_size(&in));
    input_close(&in);
    return rc;
}

void
scan_result_free(struct scan_result *r)
{
    free(r->name);
    for (size_t i = 0; r->findings != NULL && i < r->n_findings; i++)
        free(r->findings[i].copies);
    free(r->findings);
    free(r->publics);
    dg_diag_free(r->diag);
    regions_free(r->map);
    where_free(r->where);
    memset(r, 0, sizeof *r);
}

bool
scan_head_is_dump(const uint8_t *p, size_t n)
{
    return elfcore_probe(p, n) || minidump_probe(p, n) ||
           decompress_sniff(p, n, false) != DC_NONE;
}

bool
scan_incomplete(const struct scan_result *r, char *why, size_t why_len)
{
    if (r->stream_cut) {
        dg_strlcpyf(why, why_len, "its %s stream does not decompress to its end",
                    r->compression[0] ? r->compression : "compressed");
        return true;
    }
    if (r->cov.unreadable_bytes > 0) {
        dg_strlcpyf(why, why_len, "%llu bytes its headers describe are missing (truncated?)",
                    (unsigned long long)r->cov.unreadable_bytes);
        return true;
    }
    if (r->cov.scanned_bytes < r->cov.file_bytes) {
        dg_strlcpyf(why, why_len, "only %llu of its %llu bytes were scanned",
                    (unsigned long long)r->cov.scanned_bytes,
                    (unsigned long long)r->cov.file_bytes);
        return true;
    }
    for (size_t i = 0; r->diag != NULL && i < dg_diag_count(r->diag); i++) {
        const struct dg_diag_msg *m = dg_diag_get(r->diag, i);

        if (m->level == DG_DIAG_WARNING && (m->code == DG_E_LIMIT || m->code == DG_E_TRUNCATED ||
                                            m->code == DG_E_IO)) {
            dg_strlcpyf(why, why_len, "%s", m->text);
            return true;
        }
    }
    if (r->diag != NULL && dg_diag_dropped(r->diag) > 0) {
        dg_strlcpyf(why, why_len, "%zu warnings were not kept", dg_diag_dropped(r->diag));
        return true;
    }
    return false;
}
