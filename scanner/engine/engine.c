/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * engine.c - runs the detectors over every byte of a dump.
 *
 * The file is cut into chunks of `chunk` owned bytes followed by a margin of
 * the longest span any selected detector declares, so a match that starts in
 * a chunk's owned part is wholly inside that chunk, and is reported by that
 * chunk alone. Regular files are read one chunk at a time with pread into a
 * buffer of each worker's own, so resident memory stays at about threads x
 * (chunk + margin) whatever the dump size; workers pull chunk numbers from an
 * atomic counter. (Reading into a buffer that stays in the cache costs less
 * than mapping: a mapped window pays a page fault or a page-table entry per
 * 4 KiB and reaches the detectors cold; measured in docs/PERFORMANCE.md.)
 * Streams are read sequentially by the calling thread into a fixed ring of
 * threads + 3 buffers that the workers drain (the spare ones let a reader
 * that decompresses run ahead of the scan); when the ring is full the reader
 * scans a ready chunk itself rather than wait. With workers, the stream's
 * spill (what finish() and attribution read again) is written by a thread of
 * its own, in the order the bytes were read, before a buffer is reused. A
 * chunk that is all zeros (margin included) and a hole of a sparse file
 * reach no detector; the caller's zero map (zeromap.h) marks them, so that
 * attribution does not read them again.
 *
 * A stream whose container names its file mappings only after the bytes (a
 * gcore core: its notes come last) cannot tell yet whether read-only memory
 * is a file's image, which the DG_DET_NO_IMAGES detectors do not search. A
 * chunk holding such memory is scanned at once by the other detectors and
 * set aside for those: when the stream has ended, the container has named
 * the mappings (engine_hooks.stream_end) and the chunk is read again from the
 * stream's spill file, they search it with the final map, as they would a
 * file; a chunk that turns out to lie wholly in files' images is not read
 * again (they would search none of it). Without a spill, they search it at
 * once, and what they find in an image is dropped afterwards (scan.c).
 *
 * The engine does not know what a detector looks for; it only hands out
 * bytes, collects findings and runs the create/init/scan/release/finish/
 * destroy lifecycle of detector.h.
 *
 * A file that shrinks while it is read (a dump still being written, or cut by
 * another process) gives a short read: the scan stops there with one warning
 * naming the offset.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../detectors/registry.h"
#include "../util/deadline.h"
#include "../util/iobuf.h"
#include "../util/simd.h"
#include "../util/spread.h"
#include "../util/words.h"
#include "../where/ptrfree.h"
#include "chunkmemo.h"
#include "engine_int.h"
#include "triggers.h"

#define MAX_THREADS 64

struct stream_buf {
    uint8_t *p;
    struct dg_chunk chunk;
    unsigned refs;        /* under job.lock: its scan, and its spill when it has bytes to spill */
    /* the bytes pulled into it, p[spill_from, spill_from + spill_len), at
     * stream offset spill_at: what spill_main() writes */
    uint64_t spill_at;
    size_t spill_from, spill_len;
};

/* A stream's chunk set aside for the DG_DET_NO_IMAGES detectors. */
struct later {
    uint64_t off;
    size_t len, owned;
    bool last;
};

#define LATER_MAX (1u << 20) /* chunks set aside: 4 TiB of a stream, 24 MiB */

struct job {
    const struct dg_input *in;
    struct dg_dump dump;
    const struct dg_detector *det[REGISTRY_MAX];
    void *shared[REGISTRY_MAX];
    size_t n_det;
    struct zero_map *zeros;        /* chunks found to hold only zeros, or NULL */
    struct ptr_free *ptrfree;      /* blocks found without a pointer into the dump, or NULL */
    struct trig_table trig;        /* the detectors' triggers, searched in one pass */
    uint8_t view[REGISTRY_MAX];    /* 1 + detector i's view of the hits, 0: no triggers */
    bool use_trig;                 /* some detector has triggers and the CPU has AVX2 */
    size_t chunk, margin;
    struct dg_diag *diag;
    atomic_uint_fast64_t next;     /* next chunk number (file, memory) */
    atomic_uint_fast64_t scanned;  /* owned bytes handed to detectors */
    atomic_bool shrunk;            /* the file shrank under us: stop */
    atomic_bool found;             /* a detector reported a finding while scanning */
    struct spread_set spread;      /* the scanning threads of a file, kept on CPUs apart */
    const struct scan_opts *opts;  /* for its progress callback */
    uint64_t total;                /* the input's size, 0 if unknown */
    pthread_mutex_t progress_lock; /* one progress call at a time */

    /* stream ring (threads + 3 buffers of a chunk and its margin) */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    struct stream_buf *ring;
    size_t n_ring;
    struct stream_buf **ready, **free_bufs;
    size_t n_ready, n_free;
    size_t ready_head;
    bool done;
    /* With scanning threads, a thread of its own writes the stream's spill
     * (spill_main()) while the reader decodes on: the buffers it has yet to
     * write, in the order they were read. */
    bool async_spill;
    struct stream_buf **to_spill;
    size_t spill_head, n_to_spill;
    size_t spill_pending;          /* queued or being written */
    bool spill_end;                /* no buffer comes any more */
    bool spill_stalled;            /* spilling stopped: input_spilled() grows no more */

    /* read-only memory of a stream whose mappings are named late */
    bool defer;                    /* set chunks holding it aside */
    struct later *later;           /* them (under lock while the stream is read) */
    size_t n_later, cap_later;
    bool later_phase;              /* the workers search j->later */
};

struct worker {
    struct job *job;
    unsigned no;       /* its number among the job's scanning threads (spread_check()) */
    void *ctx[REGISTRY_MAX];
    struct dg_sink sink;
    pthread_t tid;
    uint8_t *buf;      /* the chunk read from a file: worker_buf() */
    size_t buf_len;    /* bytes of buf */
    struct trig_hits hits;              /* the chunk's triggers */
    struct dg_hits view[REGISTRY_MAX];  /* detector i's part of them */
    bool have_hits;    /* hits is reserved for a whole chunk */
    struct dg_chunk_memo memo; /* what the chunk's detectors share (chunkmemo.h) */
    dg_err rc;
};

/* Calls the progress callback when the bytes scanned pass a step. */
static void
report_progress(struct job *j, uint64_t before, uint64_t added)
{
    if (j->opts->progress == NULL ||
        before / SCAN_PROGRESS_STEP == (before + added) / SCAN_PROGRESS_STEP)
        return;
    pthread_mutex_lock(&j->progress_lock);
    j->opts->progress(j->opts->progress_arg, atomic_load(&j->scanned), j->total);
    pthread_mutex_unlock(&j->progress_lock);
}

/* Which detectors scan_chunk() calls. */
enum pick {
    PICK_ALL,
    PICK_NOT_NO_IMAGES, /* all but the DG_DET_NO_IMAGES ones */
    PICK_NO_IMAGES,     /* only those */
};

static bool
picked(const struct dg_detector *d, enum pick pick)
{
    bool no_images = (d->flags & DG_DET_NO_IMAGES) != 0;

    return pick == PICK_ALL || (pick == PICK_NO_IMAGES) == no_images;
}

/* True when the chunk holds memory that the map cannot yet call a file's
 * image or not: read-only, not named by a file mapping (yet). */
static bool
holds_undecided(const struct job *j, const struct dg_chunk *ch)
{
    uint64_t at = ch->off, end = ch->off + ch->owned;

    while (at < end) {
        const struct dg_region *r = dg_dump_region_at(&j->dump, at);

        if (r == NULL || r->off + r->len <= at)
            return false;
        if (r->has_va && r->perms != 0 && (r->perms & DG_PERM_W) == 0 &&
            !dg_region_is_image(r))
            return true;
        at = r->off + r->len;
    }
    return false;
}

/* How much of the stream the spill holds, once it holds [0, end) or
 * spilling stopped: with a spill thread (spill_main()), the chunk being
 * scanned may not be written yet. It is in the thread's queue (the reader
 * queued it before handing it out), so the wait ends. */
static uint64_t
spilled_up_to(struct job *j, uint64_t end)
{
    uint64_t have = input_spilled(j->in, NULL);

    if (!j->async_spill || have >= end)
        return have;
    pthread_mutex_lock(&j->lock);
    while ((have = input_spilled(j->in, NULL)) < end && !j->spill_stalled && j->spill_pending > 0)
        pthread_cond_wait(&j->cv, &j->lock);
    pthread_mutex_unlock(&j->lock);
    return have;
}

/* Sets stream chunk ch aside for the DG_DET_NO_IMAGES detectors when it
 * holds undecided memory and its bytes can be read again from the spill.
 * False when it must be scanned by all of them now. */
static bool
set_aside(struct job *j, const struct dg_chunk *ch)
{
    bool ok = false;

    if (!j->defer || !holds_undecided(j, ch) ||
        spilled_up_to(j, ch->off + ch->len) < ch->off + ch->len)
        return false;
    pthread_mutex_lock(&j->lock);
    if (j->n_later == j->cap_later && j->cap_later < LATER_MAX) {
        size_t cap = j->cap_later ? 2 * j->cap_later : 64;
        struct later *v = realloc(j->later, cap * sizeof *v);

        if (v != NULL) {
            j->later = v;
            j->cap_later = cap;
        }
    }
    if (j->n_later < j->cap_later) {
        j->later[j->n_later++] = (struct later){.off = ch->off, .len = ch->len,
                                                .owned = ch->owned, .last = ch->last};
        ok = true;
    }
    pthread_mutex_unlock(&j->lock);
    return ok;
}

/* Runs the picked detectors over chunk ch; true when the worker's memo
 * was tied to it (and holds what they computed). */
static bool
scan_chunk_picked(struct worker *w, const struct dg_chunk *ch, enum pick pick)
{
    struct job *j = w->job;
    bool memo;

    /* an ELF core's memory map is whole from its program headers on, so the
     * scan's cover of it says which words may point into the dump */
    w->memo.cover = j->ptrfree != NULL ? &j->ptrfree->cover : NULL;
    memo = chunk_memo_reset(&w->memo, ch) == DG_OK;

    /* One pass for every detector's triggers; without it (no AVX2, no
     * memory for the hits) each detector searches the chunk itself, as do
     * the detectors of a view with more hits than it keeps (hits.full). */
    if (w->have_hits)
        (void)trig_find(&j->trig, ch->p, ch->len, &w->hits);

    for (size_t i = 0; i < j->n_det; i++) {
        struct dg_chunk c = *ch;
        dg_err rc;

        if (!picked(j->det[i], pick))
            continue;
        if (w->have_hits && j->view[i] != 0 && !(w->hits.full >> (j->view[i] - 1) & 1u))
            c.hits = &w->view[i];
        c.memo = memo ? &w->memo : NULL;
        w->sink.detector = j->det[i]->name;
        rc = j->det[i]->scan(w->ctx[i], &c, &w->sink);
        if (rc != DG_OK)
            dg_diag_at(j->diag, DG_DIAG_WARNING, rc, ch->off,
                       "%s: detector %s failed on the chunk at offset 0x%llx: %s", j->in->name,
                       j->det[i]->name, (unsigned long long)ch->off, dg_strerror(rc));
    }
    return memo;
}

static void
scan_chunk(struct worker *w, const struct dg_chunk *ch)
{
    struct job *j = w->job;

    /* A chunk of zeros, margin included (untouched heap, allocator reserves,
     * a sparse file's hole that reads as data): no detector can find
     * anything in it, so none is called. */
    if (!all_zero(ch->p, ch->len)) {
        bool memo = scan_chunk_picked(w, ch, set_aside(j, ch) ? PICK_NOT_NO_IMAGES : PICK_ALL);

        if (j->ptrfree != NULL) { /* while the chunk is at hand, for attribution */
            struct dg_chunk c = *ch;

            c.memo = memo ? &w->memo : NULL; /* what the detectors' blocks found */
            /* the pointer search's summaries only once it is sure to run
             * (a worker's sink says so at its first report: the chunks the
             * other workers scan meanwhile are noted too, not read again):
             * noting every pointer costs a clean dump 2 to 4 % for nothing */
            ptr_free_chunk(j->ptrfree, j->dump.map, &c, dg_cpu_avx2(),
                           atomic_load_explicit(&j->found, memory_order_relaxed));
        }
    } else {
        if (j->zeros != NULL && ch->off % j->chunk == 0)
            zero_map_set(j->zeros, ch->off / j->chunk);
        if (j->ptrfree != NULL) /* no word points anywhere */
            ptr_free_empty(j->ptrfree, ch->off, ch->owned, ch->last && ch->owned == ch->len);
    }
    report_progress(j, atomic_fetch_add(&j->scanned, ch->owned), ch->owned);
}

/* True when [off, off+len) of fd lies entirely in a hole (SEEK_DATA finds no
 * data before its end): sparse cores of processes with huge mappings (ASan's
 * shadow) are terabytes of holes that need no reading. */
static bool
is_hole(int fd, uint64_t off, size_t len)
{
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);

    if (d < 0)
        return errno == ENXIO; /* no data at or after off */
    return (uint64_t)d >= off + len;
}

/* w's read buffer, of n bytes or more (kept for its next chunks), or NULL. */
static uint8_t *
worker_buf(struct worker *w, size_t n)
{
    if (w->buf != NULL && w->buf_len >= n)
        return w->buf;
    free(w->buf);
    w->buf = iobuf_alloc(n);
    w->buf_len = w->buf != NULL ? n : 0;
    return w->buf;
}

/* Reads chunk k of a file (or points into a memory input) and scans it.
 * Returns false when k is past the end or the file shrank. */
static bool
do_indexed_chunk(struct worker *w, uint64_t k)
{
    struct job *j = w->job;
    uint64_t size = j->in->size, off;
    struct dg_chunk ch = {.dump = &j->dump};

    if (k > size / j->chunk || atomic_load(&j->shrunk) || deadline_passed(j->opts->deadline))
        return false; /* past the end, or the time budget (scan.c says so) */
    off = k * j->chunk;
    if (off >= size)
        return false;
    ch.off = off;
    ch.len = (size_t)((size - off) < j->chunk + j->margin ? size - off : j->chunk + j->margin);
    ch.owned = ch.len < j->chunk ? ch.len : j->chunk;
    ch.last = off + ch.len >= size;
    if (j->in->mem != NULL) {
        ch.p = j->in->mem + off;
    } else if (is_hole(j->in->fd, off, ch.len)) {
        /* A hole of a sparse file reads as zeros: nothing to find there. */
        if (j->zeros != NULL)
            zero_map_set(j->zeros, k);
        if (j->ptrfree != NULL)
            ptr_free_empty(j->ptrfree, ch.off, ch.owned, ch.last && ch.owned == ch.len);
        report_progress(j, atomic_fetch_add(&j->scanned, ch.owned), ch.owned);
        return true;
    } else {
        size_t got = 0;
        dg_err rc;

        /* a file smaller than a chunk is its one chunk: no 4 MiB buffer
         * (and its huge page zeroed) for a minidump of 20 KiB */
        if (worker_buf(w, size < j->chunk + j->margin ? (size_t)size : j->chunk + j->margin) ==
            NULL) {
            dg_diag_at(j->diag, DG_DIAG_WARNING, DG_E_NOMEM, off,
                       "%s: no memory for the chunk at offset 0x%llx", j->in->name,
                       (unsigned long long)off);
            return true;
        }
        rc = input_read_at(j->in, off, w->buf, ch.len, &got);
        if (rc != DG_OK) {
            dg_diag_at(j->diag, DG_DIAG_WARNING, rc, off,
                       "%s: cannot read %zu bytes at offset 0x%llx: %s", j->in->name, ch.len,
                       (unsigned long long)off, dg_strerror(rc));
            return true;
        }
        if (got != ch.len) {
            if (!atomic_exchange(&j->shrunk, true))
                dg_diag_at(j->diag, DG_DIAG_WARNING, DG_E_TRUNCATED, off,
                           "%s: the file shrank while it was read; the chunk at offset 0x%llx "
                           "and those after it were not scanned",
                           j->in->name, (unsigned long long)off);
            return false;
        }
        ch.p = w->buf;
    }
    scan_chunk(w, &ch);
    return true;
}

static void
indexed_loop(struct worker *w)
{
    do {
        (void)spread_check(&w->job->spread, w->no); /* not on another worker's CPU */
    } while (do_indexed_chunk(w, atomic_fetch_add(&w->job->next, 1)));
}

/* --- streams --------------------------------------------------------------- */

static struct stream_buf *
stream_take_ready(struct job *j)
{
    struct stream_buf *b = NULL;

    pthread_mutex_lock(&j->lock);
    while (j->n_ready == 0 && !j->done)
        pthread_cond_wait(&j->cv, &j->lock);
    if (j->n_ready > 0) {
        b = j->ready[j->ready_head];
        j->ready_head = (j->ready_head + 1) % j->n_ring;
        j->n_ready--;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->lock);
    return b;
}

/* Under j->lock: the scan or the spill of b is done; b is free once both are. */
static void
stream_release(struct job *j, struct stream_buf *b)
{
    if (--b->refs == 0)
        j->free_bufs[j->n_free++] = b;
    pthread_cond_broadcast(&j->cv);
}

static void
stream_give_back(struct job *j, struct stream_buf *b)
{
    pthread_mutex_lock(&j->lock);
    stream_release(j, b);
    pthread_mutex_unlock(&j->lock);
}

/* The spill thread: writes the bytes each buffer was read with, in the
 * order the reader read them, so that the reader's thread only decodes. */
static void *
spill_main(void *arg)
{
    struct job *j = arg;

    pthread_mutex_lock(&j->lock);
    for (;;) {
        struct stream_buf *b;
        bool stalled;

        while (j->n_to_spill == 0 && !j->spill_end)
            pthread_cond_wait(&j->cv, &j->lock);
        if (j->n_to_spill == 0)
            break;
        b = j->to_spill[j->spill_head];
        j->spill_head = (j->spill_head + 1) % j->n_ring;
        j->n_to_spill--;
        pthread_mutex_unlock(&j->lock);
        input_spill_add(j->in, b->spill_at, b->p + b->spill_from, b->spill_len);
        stalled = input_spilled(j->in, NULL) < b->spill_at + b->spill_len;
        pthread_mutex_lock(&j->lock);
        j->spill_stalled = j->spill_stalled || stalled;
        j->spill_pending--;
        stream_release(j, b);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static void
stream_loop(struct worker *w)
{
    struct stream_buf *b;

    while ((b = stream_take_ready(w->job)) != NULL) {
        scan_chunk(w, &b->chunk);
        stream_give_back(w->job, b);
    }
}

/* The set-aside chunks (set_aside()), from j->next on, read again from the
 * spill file and searched by the DG_DET_NO_IMAGES detectors, with the map the
 * stream's end completed. */
static void
later_loop(struct worker *w)
{
    struct job *j = w->job;
    uint64_t k;

    for (;;) {
        (void)spread_check(&j->spread, w->no); /* not on another worker's CPU */
        /* past the deadline no chunk starts (scan.c says the budget ran out) */
        if ((k = atomic_fetch_add(&j->next, 1)) >= j->n_later ||
            deadline_passed(j->opts->deadline))
            break;
        const struct later *l = &j->later[k];
        struct dg_chunk ch = {.off = l->off, .len = l->len, .owned = l->owned, .last = l->last,
                              .dump = &j->dump};
        size_t got = 0;
        dg_err rc = DG_E_NOMEM;

        if (worker_buf(w, j->chunk + j->margin) != NULL)
            rc = input_read_at(j->in, l->off, w->buf, l->len, &got);
        if (rc != DG_OK || got != l->len) {
            dg_diag_at(j->diag, DG_DIAG_WARNING, rc != DG_OK ? rc : DG_E_IO, l->off,
                       "%s: cannot read the %zu bytes at offset 0x%llx again from the spill "
                       "file: %s; the detectors of computed keys did not search them",
                       j->in->name, l->len, (unsigned long long)l->off,
                       rc != DG_OK ? dg_strerror(rc) : "short read");
            continue;
        }
        ch.p = w->buf;
        scan_chunk_picked(w, &ch, PICK_NO_IMAGES);
    }
}

static void worker_release(struct job *j, struct worker *w);

/* A scanning thread. Once it has no chunk left of a file (or of the
 * set-aside chunks: nothing is scanned after them), it frees its detectors'
 * contexts and its buffers itself, beside the other workers' last chunks,
 * instead of leaving them to engine_run() after finish() (detector.h lets
 * release() come before finish() or after it). A stream's workers keep
 * theirs: the set-aside chunks may follow. */
static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    if (w->job->later_phase) {
        later_loop(w);
        worker_release(w->job, w);
    } else if (w->job->ring != NULL) {
        stream_loop(w);
    } else {
        indexed_loop(w);
        worker_release(w->job, w);
    }
    return NULL;
}

/* Reads up to len bytes of the stream at position *pos: first from the head
 * the container reader kept (*from_head of them), then pulled from the input
 * (a decompressing input decodes straight into buf), spilled there unless
 * unspilled (the spill thread writes them then). */
static dg_err
stream_read(const struct dg_input *in, bool unspilled, uint64_t *pos, uint8_t *buf, size_t len,
            size_t *got, size_t *from_head)
{
    const uint8_t *head;
    size_t head_len;
    dg_err rc = DG_OK;

    *got = 0;
    *from_head = 0;
    if (input_head(in, 0, &head, &head_len) != DG_OK)
        head_len = 0;
    if (*pos < head_len) {
        size_t n = head_len - (size_t)*pos < len ? head_len - (size_t)*pos : len;

        memcpy(buf, head + *pos, n);
        *got = *from_head = n;
    }
    if (*got < len && *pos + *got >= head_len && !input_head_eof(in)) {
        size_t n;

        rc = unspilled ? input_pull_unspilled(in, buf + *got, len - *got, &n)
                       : input_pull(in, buf + *got, len - *got, &n);
        *got += n;
    }
    *pos += *got;
    return rc;
}

static void
stream_publish(struct job *j, struct stream_buf *b)
{
    pthread_mutex_lock(&j->lock);
    if (j->async_spill && b->spill_len > 0) {
        j->to_spill[(j->spill_head + j->n_to_spill) % j->n_ring] = b;
        j->n_to_spill++;
        j->spill_pending++;
        b->refs++;
    }
    j->ready[(j->ready_head + j->n_ready) % j->n_ring] = b;
    j->n_ready++;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->lock);
}

/* A free buffer for the reader. While there is none (the scan is behind),
 * the reader scans a ready chunk itself with its own worker `helper`, when it
 * has one, instead of sleeping: a reader that decompresses faster than the
 * scanning threads scan lends them its time. */
static struct stream_buf *
stream_get_free(struct job *j, struct worker *helper)
{
    struct stream_buf *b;

    pthread_mutex_lock(&j->lock);
    while (j->n_free == 0) {
        if (helper != NULL && j->n_ready > 0) {
            b = j->ready[j->ready_head];
            j->ready_head = (j->ready_head + 1) % j->n_ring;
            j->n_ready--;
            pthread_mutex_unlock(&j->lock);
            scan_chunk(helper, &b->chunk);
            pthread_mutex_lock(&j->lock);
            stream_release(j, b);
            continue;
        }
        pthread_cond_wait(&j->cv, &j->lock);
    }
    b = j->free_bufs[--j->n_free];
    b->refs = 1;
    b->spill_len = 0;
    pthread_mutex_unlock(&j->lock);
    return b;
}

/* Producer: fills ring buffers with chunk + margin bytes, the margin copied
 * into the start of the next buffer, and hands them to the workers (or scans
 * inline when inline_w != NULL; helper: see stream_get_free()). Returns the
 * stream's total length in *total. */
static dg_err
stream_produce(struct job *j, struct worker *inline_w, struct worker *helper, uint64_t *total)
{
    uint64_t pos = 0, off = 0;
    size_t carried = 0;
    struct stream_buf *cur = stream_get_free(j, helper);
    dg_err rc = DG_OK;

    for (;;) {
        size_t got = 0, from_head = 0, want = j->chunk + j->margin - carried;
        struct stream_buf *next;

        if (!deadline_passed(j->opts->deadline)) /* else: ends here (scan.c says so) */
            rc = stream_read(j->in, j->async_spill, &pos, cur->p + carried, want, &got,
                             &from_head);
        cur->spill_at = pos - got + from_head;
        cur->spill_from = carried + from_head;
        cur->spill_len = got - from_head;
        if (rc != DG_OK) {
            dg_diag(j->diag, rc, pos, "%s: read error at offset 0x%llx: %s", j->in->name,
                    (unsigned long long)pos, strerror(errno));
            got = 0;
        }
        cur->chunk = (struct dg_chunk){.p = cur->p, .len = carried + got, .off = off,
                                       .dump = &j->dump};
        if (got < want || rc != DG_OK) {
            cur->chunk.owned = cur->chunk.len;
            cur->chunk.last = true;
            if (cur->chunk.len == 0) {
                stream_give_back(j, cur);
            } else if (inline_w != NULL) {
                scan_chunk(inline_w, &cur->chunk);
                stream_give_back(j, cur);
            } else {
                stream_publish(j, cur);
            }
            break;
        }
        cur->chunk.owned = j->chunk;
        next = stream_get_free(j, helper);
        memcpy(next->p, cur->p + j->chunk, j->margin);
        carried = j->margin;
        if (inline_w != NULL) {
            scan_chunk(inline_w, &cur->chunk);
            stream_give_back(j, cur);
        } else {
            stream_publish(j, cur);
        }
        off += j->chunk;
        cur = next;
    }
    *total = pos;
    pthread_mutex_lock(&j->lock);
    j->done = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

static dg_err
stream_ring_init(struct job *j, size_t n)
{
    j->n_ring = n;
    j->ring = calloc(n, sizeof *j->ring);
    j->ready = calloc(n, sizeof *j->ready);
    j->free_bufs = calloc(n, sizeof *j->free_bufs);
    if (j->ring == NULL || j->ready == NULL || j->free_bufs == NULL)
        return DG_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        j->ring[i].p = iobuf_alloc(j->chunk + j->margin);
        if (j->ring[i].p == NULL)
            return DG_E_NOMEM;
        j->free_bufs[j->n_free++] = &j->ring[i];
    }
    return DG_OK;
}

static void
stream_ring_free(struct job *j)
{
    for (size_t i = 0; j->ring != NULL && i < j->n_ring; i++)
        free(j->ring[i].p);
    free(j->ring);
    free(j->ready);
    free(j->free_bufs);
    j->ring = NULL;
    j->ready = j->free_bufs = NULL;
    j->n_ring = j->n_ready = j->n_free = 0;
}

/* True when the owned part of set-aside chunk l lies wholly in files'
 * read-only images, as the map named them at the stream's end: the
 * DG_DET_NO_IMAGES detectors search no byte of it (chunkva.h). */
static bool
wholly_image(const struct job *j, const struct later *l)
{
    uint64_t at = l->off, end = l->off + l->owned;

    while (at < end) {
        const struct dg_region *r = dg_dump_region_at(&j->dump, at);

        if (r == NULL || r->off + r->len <= at || !dg_region_is_image(r))
            return false;
        at = r->off + r->len;
    }
    return true;
}

/* Searches the chunks set aside with the DG_DET_NO_IMAGES detectors, on
 * the n workers of w (the calling thread is the last), but for those that
 * turned out to lie wholly in images: they are not read again. The
 * stream's ring is given back first: the chunks are read into the workers'
 * own buffers. */
static void
scan_later(struct job *j, struct worker *w, size_t n)
{
    size_t started = 0, kept = 0, n_image;
    uint64_t bytes = 0, image_bytes = 0;

    for (size_t i = 0; i < j->n_later; i++) {
        if (wholly_image(j, &j->later[i]))
            image_bytes += j->later[i].owned;
        else
            j->later[kept++] = j->later[i];
    }
    n_image = j->n_later - kept;
    j->n_later = kept; /* later_loop()'s */
    stream_ring_free(j);
    atomic_store(&j->next, 0);
    j->later_phase = true; /* before the threads start */
    spread_set_init(&j->spread, (unsigned)n);
    for (; started + 1 < n; started++)
        if (spread_start(&w[started].tid, worker_main, &w[started], (unsigned)started + 1) != 0)
            break;
    later_loop(&w[n - 1]);
    for (size_t i = 0; i < started; i++)
        pthread_join(w[i].tid, NULL);
    for (size_t i = 0; i < kept; i++)
        bytes += j->later[i].owned;
    dg_diag_at(j->diag, DG_DIAG_INFO, DG_OK, DG_NO_OFFSET,
               "%s: stream: %zu chunk%s (%llu bytes) holding read-only memory were searched "
               "for computed keys after the stream's end named its file mappings",
               j->in->name, kept, kept == 1 ? "" : "s", (unsigned long long)bytes);
    if (n_image > 0)
        dg_diag_at(j->diag, DG_DIAG_INFO, DG_OK, DG_NO_OFFSET,
                   "%s: stream: %zu more (%llu bytes) lay wholly in files' read-only images: "
                   "not read again", j->in->name, n_image, (unsigned long long)image_bytes);
}

/* --- lifecycle ------------------------------------------------------------- */

static dg_err
select_detectors(struct job *j, const struct scan_opts *opts)
{
    if (opts->detectors == NULL) {
        for (size_t i = 0; i < registry_count(); i++)
            if (registry_get(i)->default_on)
                j->det[j->n_det++] = registry_get(i);
        return DG_OK;
    }
    for (const char *const *nm = opts->detectors; *nm != NULL; nm++) {
        const struct dg_detector *d = registry_find(*nm);

        if (d == NULL)
            return dg_diag(j->diag, DG_E_ARG, DG_NO_OFFSET, "unknown detector '%s'", *nm);
        if (j->n_det < REGISTRY_MAX)
            j->det[j->n_det++] = d;
    }
    return DG_OK;
}

static dg_err
worker_init(struct job *j, struct worker *w)
{
    w->job = j;
    sink_init(&w->sink, j->diag);
    w->sink.name = j->in->name;
    w->sink.found = &j->found;
    w->have_hits =
        j->use_trig && trig_hits_reserve(&w->hits, &j->trig, j->chunk + j->margin) == DG_OK;
    for (size_t i = 0; i < j->n_det; i++)
        w->view[i] = (struct dg_hits){.h = &w->hits, .view = j->view[i] > 0 ? j->view[i] - 1u : 0};
    for (size_t i = 0; i < j->n_det; i++) {
        dg_err rc = j->det[i]->init ? j->det[i]->init(j->shared[i], &w->ctx[i]) : DG_OK;

        if (rc != DG_OK)
            return dg_diag(j->diag, rc, DG_NO_OFFSET, "detector %s: init: %s", j->det[i]->name,
                           dg_strerror(rc));
    }
    return DG_OK;
}

/* Frees what worker_init() and the scan gave w; again, nothing. */
static void
worker_release(struct job *j, struct worker *w)
{
    for (size_t i = 0; i < j->n_det; i++) {
        if (j->det[i]->release != NULL && w->ctx[i] != NULL)
            j->det[i]->release(w->ctx[i]);
        w->ctx[i] = NULL;
    }
    free(w->buf);
    w->buf = NULL;
    w->buf_len = 0;
    w->have_hits = false;
    trig_hits_free(&w->hits);
    chunk_memo_free(&w->memo);
}

/* The detectors' finish() calls, shared by the threads of finish_all(). */
struct finishing {
    struct job *j;
    const struct engine_hooks *hooks;
    struct dg_sink *sinks;       /* one per detector, or NULL: straight into out */
    struct dg_sink *out;
    atomic_size_t next;          /* the next detector no thread has taken */
};

/* Calls the finish() of the detectors it takes in turn with the other
 * threads, each into its own sink, then the idle hook. */
static void *
finish_some(void *arg)
{
    struct finishing *f = arg;
    struct job *j = f->j;

    for (size_t i; (i = atomic_fetch_add(&f->next, 1)) < j->n_det;) {
        struct dg_sink *s = f->sinks != NULL ? &f->sinks[i] : f->out;
        dg_err rc;

        if (j->det[i]->finish == NULL)
            continue;
        s->detector = j->det[i]->name;
        rc = j->det[i]->finish(j->shared[i], &j->dump, s);
        if (rc != DG_OK)
            dg_diag_at(j->diag, DG_DIAG_WARNING, rc, DG_NO_OFFSET, "%s: detector %s: %s",
                       j->in->name, j->det[i]->name, dg_strerror(rc));
    }
    if (f->hooks != NULL && f->hooks->idle != NULL)
        f->hooks->idle(f->hooks->arg);
    return NULL;
}

/* Every detector's finish(), on up to nthreads threads: their proofs (ec-raw
 * matches its scalars to points, rsa-raw and rsa-factor rebuild keys) are
 * most of what is left once the chunks are scanned. Each detector reports
 * into a sink of its own, taken into out in the detectors' order, so the
 * findings come out as from one thread. A thread that finds no detector
 * left to take calls hooks->idle: attribution's first read of memory runs
 * there, beside the last proofs, on no more threads than -j gives. */
static void
finish_all(struct job *j, size_t nthreads, const struct engine_hooks *hooks, struct dg_sink *out)
{
    struct finishing f = {.j = j, .hooks = hooks, .out = out};
    pthread_t tid[MAX_THREADS];
    size_t n_started = 0, want = nthreads;

    if ((hooks == NULL || hooks->idle == NULL) && want > j->n_det)
        want = j->n_det; /* a thread past the detectors would have nothing to do */
    if (want > 1 && j->n_det > 1 && (f.sinks = calloc(j->n_det, sizeof *f.sinks)) != NULL) {
        for (size_t i = 0; i < j->n_det; i++) {
            sink_init(&f.sinks[i], j->diag);
            f.sinks[i].name = out->name;
        }
    }
    /* threads report into out itself only when one detector at most finishes */
    for (; n_started + 1 < want && (f.sinks != NULL || j->n_det <= 1); n_started++)
        if (spread_start(&tid[n_started], finish_some, &f, (unsigned)n_started + 1) != 0)
            break;
    finish_some(&f);
    for (size_t i = 0; i < n_started; i++)
        pthread_join(tid[i], NULL);
    for (size_t i = 0; f.sinks != NULL && i < j->n_det; i++) {
        if (!sink_take(out, &f.sinks[i]))
            dg_diag_at(j->diag, DG_DIAG_WARNING, DG_E_NOMEM, DG_NO_OFFSET,
                       "%s: out of memory: findings of detector %s dropped", j->in->name,
                       j->det[i]->name);
        sink_free(&f.sinks[i]);
    }
    free(f.sinks);
}

dg_err
engine_run(const struct dg_input *in, struct dg_regions *map, const struct scan_opts *opts,
           const struct engine_hooks *hooks, struct dg_diag *diag, struct dg_sink *out,
           uint64_t *scanned, struct zero_map *zeros, struct ptr_free *ptrfree)
{
    struct job *j = calloc(1, sizeof *j);
    struct worker *w = NULL;
    size_t nthreads = opts->threads > 1 ? opts->threads : 1;
    size_t n_created = 0, n_started = 0, n_workers = 0, n_want, n_scan;
    dg_err rc;

    if (j == NULL)
        return dg_diag(diag, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", in->name);
    if (nthreads > MAX_THREADS)
        nthreads = MAX_THREADS;
    j->in = in;
    j->dump = (struct dg_dump){.in = in, .map = map};
    j->diag = diag;
    j->chunk = opts->chunk_size ? opts->chunk_size : SCAN_DEFAULT_CHUNK;
    j->opts = opts;
    j->total = input_known_size(in);
    if (zeros != NULL && zero_map_init(zeros, j->chunk, in->stream ? 0 : in->size) == DG_OK)
        j->zeros = zeros; /* else none is kept: attribution reads every chunk */
    j->ptrfree = ptrfree;
    pthread_mutex_init(&j->lock, NULL);
    pthread_mutex_init(&j->progress_lock, NULL);
    pthread_cond_init(&j->cv, NULL);
    if ((rc = select_detectors(j, opts)) != DG_OK)
        goto out;
    for (size_t i = 0; i < j->n_det; i++)
        if (j->det[i]->max_span > j->margin)
            j->margin = j->det[i]->max_span;
    {
        char why[160];

        if (trig_table_build(&j->trig, j->det, j->n_det, j->view, why, sizeof why) != DG_OK) {
            rc = dg_diag(diag, DG_E_ARG, DG_NO_OFFSET, "%s", why);
            goto out;
        }
        j->use_trig = j->trig.n_views > 0 && dg_cpu_avx2();
    }
    for (; n_created < j->n_det; n_created++) {
        const struct dg_detector *d = j->det[n_created];

        rc = d->create ? d->create(&opts->cfg, &j->shared[n_created]) : DG_OK;
        if (rc != DG_OK) {
            dg_diag(diag, rc, DG_NO_OFFSET, "detector %s: %s", d->name, dg_strerror(rc));
            goto out;
        }
    }
    /* A stream's reader scans too (with a worker of its own, w[nthreads]), so
     * it counts as one of the -j threads: -jN starts N - 1 scanning threads
     * beside it, and at least one so that reading and scanning overlap. */
    if (in->stream && nthreads > 1)
        nthreads--;
    /* A file gets no more scanning workers than it has chunks: a minidump of
     * a few hundred KiB is one, and a second worker's thread and detector
     * contexts would cost more than its scan. finish() keeps nthreads. */
    n_scan = nthreads;
    if (!in->stream) {
        uint64_t n_chunks = in->size / j->chunk + (in->size % j->chunk != 0);

        if (n_chunks < n_scan)
            n_scan = n_chunks > 0 ? (size_t)n_chunks : 1;
    }
    n_want = in->stream ? nthreads + 1 : n_scan;
    w = calloc(n_want, sizeof *w);
    if (w == NULL) {
        rc = dg_diag(diag, DG_E_NOMEM, DG_NO_OFFSET, "%s: out of memory", in->name);
        goto out;
    }
    for (; n_workers < n_want; n_workers++) {
        w[n_workers].no = (unsigned)n_workers;
        if ((rc = worker_init(j, &w[n_workers])) != DG_OK) {
            n_workers++;
            goto out;
        }
    }

    if (in->stream) {
        uint64_t total = 0;
        pthread_t spill_tid;

        /* A gcore core's mappings are named by notes that come last. */
        j->defer = regions_info_const(map)->names_late && input_reads_back(in);
        if ((rc = stream_ring_init(j, nthreads + 3)) != DG_OK) {
            dg_diag(diag, rc, DG_NO_OFFSET, "%s: out of memory", in->name);
            goto out;
        }
        /* Even with one scanning thread, the calling thread reads (and
         * decompresses) beside it, and scans a chunk itself whenever the ring
         * is full. */
        for (; n_started < nthreads; n_started++)
            if (spread_start(&w[n_started].tid, worker_main, &w[n_started],
                             (unsigned)n_started + 1) != 0)
                break;
        /* With scanning threads, the spill is written by a thread of its
         * own: the reader's thread is the one a compressed stream waits on
         * (decoding), and the scanning threads wait on it. Set before the
         * first chunk is handed out. */
        if (n_started > 0 && input_reads_back(in) &&
            (j->to_spill = calloc(j->n_ring, sizeof *j->to_spill)) != NULL)
            j->async_spill = pthread_create(&spill_tid, NULL, spill_main, j) == 0;
        rc = stream_produce(j, n_started > 0 ? NULL : &w[0], n_started > 0 ? &w[nthreads] : NULL,
                            &total);
        for (size_t i = 0; i < n_started; i++)
            pthread_join(w[i].tid, NULL);
        n_started = 0;
        if (j->async_spill) { /* the spill is whole before anything reads it again */
            pthread_mutex_lock(&j->lock);
            j->spill_end = true;
            pthread_cond_broadcast(&j->cv);
            pthread_mutex_unlock(&j->lock);
            pthread_join(spill_tid, NULL);
        }
        if (rc == DG_OK && total == 0)
            rc = dg_diag(diag, DG_E_EMPTY, 0, "%s: empty input", in->name);
        if (hooks != NULL && hooks->stream_end != NULL)
            hooks->stream_end(hooks->arg, total);
        if (j->n_later > 0)
            scan_later(j, w, n_workers);
    } else {
        if (n_scan > 1) {
            spread_set_init(&j->spread, (unsigned)n_scan);
            for (; n_started < n_scan; n_started++)
                if (spread_start(&w[n_started].tid, worker_main, &w[n_started],
                                 (unsigned)n_started + 1) != 0)
                    break;
        }
        if (n_started == 0)
            indexed_loop(&w[0]);
        for (size_t i = 0; i < n_started; i++)
            pthread_join(w[i].tid, NULL);
        n_started = 0;
    }

    for (size_t i = 0; i < n_workers; i++)
        sink_take(out, &w[i].sink);
    if (hooks != NULL && hooks->scanned != NULL)
        hooks->scanned(hooks->arg, out);
    finish_all(j, nthreads, hooks, out);
out:
    for (size_t i = 0; i < n_workers; i++) {
        worker_release(j, &w[i]);
        sink_free(&w[i].sink);
    }
    free(w);
    for (size_t i = 0; i < n_created; i++)
        if (j->det[i]->destroy != NULL)
            j->det[i]->destroy(j->shared[i]);
    stream_ring_free(j);
    free(j->to_spill);
    free(j->later);
    *scanned = atomic_load(&j->scanned);
    pthread_mutex_destroy(&j->lock);
    pthread_mutex_destroy(&j->progress_lock);
    pthread_cond_destroy(&j->cv);
    free(j);
    return rc;
}
