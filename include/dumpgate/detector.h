/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * detector.h - the whole contract between the engine and a detector.
 *
 * A detector declares itself in a struct dg_detector: name, summary, the forms
 * it finds, default severity, the longest match it can make (max_span, which
 * becomes the overlap between chunks) and callbacks. Per scanned file the
 * engine calls, in this order:
 *
 *   create(cfg, &shared)            once, single-threaded (optional)
 *   init(shared, &ctx)              once per worker thread (optional)
 *   scan(ctx, chunk, sink)          for every chunk, on that worker's thread
 *   release(ctx)                    once per worker, after its last scan() (optional)
 *   finish(shared, dump, sink)      once, single-threaded, after every chunk (optional)
 *   destroy(shared)                 once (optional)
 *
 * except that release() may come before or after finish(), on the worker's
 * own thread or another: a worker of a file that runs out of chunks frees
 * its context at once, beside the others' last chunks.
 *
 * A chunk is bytes p[0..len) at file offset off. Only matches that START in
 * p[0..owned) may be reported; p[owned..len) is the margin (at most max_span
 * bytes) that belongs to the next chunk, so a key across a chunk edge is
 * reported exactly once. scan() may keep nothing that points into p after it
 * returns. State that joins evidence across chunks (raw RSA primes found in
 * different chunks) lives in `shared`, which the detector itself protects
 * against concurrent scan() calls; finish() joins it.
 *
 * The dump service (dg_dump_*) gives the region of a file offset and reads
 * bytes by virtual address, bounded and safe on lying pointers, for detectors
 * that follow pointers through library structures.
 *
 * Findings go to the sink with dg_report(), which copies them. Findings never
 * contain secret bytes (see finding.h).
 */
#ifndef DUMPGATE_DETECTOR_H
#define DUMPGATE_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dumpgate/error.h>
#include <dumpgate/finding.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DG_DETECTOR_ABI 3 /* bump on any incompatible change (2: dg_finding.role, reason;
                             3: dg_detector.triggers, dg_chunk.hits) */

/* What a span of the file is. Memory kinds first; DG_SPAN_FIRST_META and after
 * are "uncovered" spans: bytes of the file that are not process memory. */
enum dg_span_kind {
    DG_SPAN_ANON = 0,   /* anonymous memory of unknown use */
    DG_SPAN_HEAP,       /* [heap] */
    DG_SPAN_STACK,      /* a thread's stack */
    DG_SPAN_FILE,       /* file-backed mapping (name = path) */
    DG_SPAN_MODULE,     /* a module's image (minidump ModuleList) */
    DG_SPAN_VDSO,       /* [vdso] / [vvar] / [vsyscall] */
    DG_SPAN_MEMORY,     /* memory of unknown kind (minidump ranges) */
    DG_SPAN_FIRST_META, /* -- below: not process memory -- */
    DG_SPAN_HEADER = DG_SPAN_FIRST_META, /* file header, program headers, directory */
    DG_SPAN_NOTES,      /* ELF PT_NOTE: registers, auxv, file names */
    DG_SPAN_STREAM,     /* minidump stream body (name = stream type) */
    DG_SPAN_CONTEXT,    /* a thread's CPU context */
    DG_SPAN_GAP,        /* bytes no header accounts for */
    DG_SPAN_TRAILING,   /* bytes after everything the headers describe */
    DG_SPAN_RAW,        /* a file in no known format, scanned as bytes */
    DG_SPAN_KIND_COUNT
};

#define DG_PERM_R 4u
#define DG_PERM_W 2u
#define DG_PERM_X 1u

/* One span of the file: every byte of a file belongs to exactly one span. */
struct dg_region {
    uint64_t off;            /* file offset of the first byte */
    uint64_t len;            /* bytes of the span present in the file */
    uint64_t va;             /* virtual address of the first byte, if has_va */
    bool has_va;             /* false for headers, notes, gaps, raw files */
    unsigned perms;          /* DG_PERM_* bits, 0 if unknown */
    enum dg_span_kind kind;
    const char *name;        /* path, module, stream name, or NULL */
    int64_t thread;          /* thread id owning a stack or context, or -1 */
    uint32_t index;          /* source index: segment number, stream number, ... */
};

const char *dg_span_kind_name(enum dg_span_kind k); /* "heap", "notes", ... */

/* True when r is a mapping of a file that the process could not write (a
 * file or module span whose known permissions lack DG_PERM_W: code,
 * read-only data, a file mapped for reading): its bytes are the file's own,
 * and nothing the process computed at run time lies there. */
static inline bool
dg_region_is_image(const struct dg_region *r)
{
    return r->has_va && (r->kind == DG_SPAN_FILE || r->kind == DG_SPAN_MODULE) &&
           r->perms != 0 && (r->perms & DG_PERM_W) == 0;
}

/* The map of one dump, as seen by detectors. */
struct dg_dump;

/* The span holding file offset off, or NULL if off is past the end. */
const struct dg_region *dg_dump_region_at(const struct dg_dump *dump, uint64_t off);
/* Memory regions (has_va) sorted by va: count and the i-th. */
size_t dg_dump_va_count(const struct dg_dump *dump);
const struct dg_region *dg_dump_va_region(const struct dg_dump *dump, size_t i);
/* The memory region holding virtual address va, or NULL. */
const struct dg_region *dg_dump_region_at_va(const struct dg_dump *dump, uint64_t va);
/* Reads len bytes at virtual address va into buf. Returns DG_OK, DG_E_NOT_FOUND
 * if any byte of [va, va+len) is not in the dump, DG_E_UNAVAILABLE if the input
 * is a stream that no longer holds those bytes, or DG_E_ARG if len exceeds
 * DG_DUMP_READ_MAX. Never reads outside the file. */
#define DG_DUMP_READ_MAX (1u << 20)
dg_err dg_dump_read_va(const struct dg_dump *dump, uint64_t va, void *buf, size_t len);
/* Word size (4 or 8) and byte order of the dumped process; 0 if unknown. */
unsigned dg_dump_word_size(const struct dg_dump *dump);
bool dg_dump_big_endian(const struct dg_dump *dump);

struct dg_hits; /* opaque: dg_hits_next() reads it */

struct dg_chunk {
    const uint8_t *p;          /* bytes p[0..len) */
    size_t len;                /* owned part plus margin */
    size_t owned;              /* report only matches starting before this */
    uint64_t off;              /* file offset of p[0] */
    bool last;                 /* no bytes follow p[len) in the file */
    const struct dg_dump *dump;
    /* ABI 3: where the detector's triggers start in p[0..len) (read them
     * with dg_hits_next()), or NULL when the engine did not look: the
     * detector declares no triggers, the CPU has no AVX2, the chunk holds
     * too many hits to keep, or a harness calls scan() directly. The
     * detector then searches the chunk itself. */
    const struct dg_hits *hits;
    /* What the built-in detectors compute from the chunk once and share
     * (the engine's scanner/engine/chunkmemo.h), or NULL. Not for plug-ins:
     * its layout is the engine's own and may change in any release. */
    struct dg_chunk_memo *memo;
};

/* ABI 3: a byte string at which a detector's matches are anchored, 1 to 3
 * bytes ("kt", "\x30\x82"), some of them perhaps any byte; a list of them
 * ends with len 0. The engine searches for every detector's triggers in one
 * pass over each chunk and tells each detector where its own start
 * (dg_chunk.hits), instead of each detector reading the whole chunk. */
struct dg_trigger {
    uint8_t len;               /* 1 to 3; 0 ends the list */
    uint8_t b[3];
    uint8_t any;               /* bit j set: byte j may be any value ("-?-") */
};

/* Where a detector is in its chunk's hits; zero it before the first call. */
struct dg_hit_iter {
    size_t next;               /* private to dg_hits_next() */
    size_t base;
    uint32_t bits;
};

/* The next position k in ch->p at which one of the detector's triggers may
 * start, ascending, or SIZE_MAX after the last. Every k at which a trigger
 * starts (k + its len <= ch->len) is returned; so may a few others (the
 * search is a filter), so the caller checks its anchor at k as it would
 * without hits. ch->hits must not be NULL. */
size_t dg_hits_next(const struct dg_chunk *ch, struct dg_hit_iter *it);

struct dg_sink;
/* Copies f into the scan's findings. `f->off` is an absolute file offset. */
void dg_report(struct dg_sink *sink, const struct dg_finding *f);
/* Records public key material seen at file offset off (a certificate, a
 * public key): never a finding, but it names the private half when that is
 * found in the same dump. spki_sha256 is lowercase hex; what says what it is
 * ("certificate /CN=signer"), copied and truncated to 120 bytes. */
void dg_report_public(struct dg_sink *sink, const char *spki_sha256, const char *what,
                      uint64_t off);
/* What a piece of evidence says about the key it names (dg_report_evidence). */
enum dg_evidence {
    DG_EVIDENCE_PUBLIC = 0,    /* public material (a certificate): names its private half */
    DG_EVIDENCE_KEY_SHARE,     /* the key's public half was sent in a handshake: ephemeral */
    DG_EVIDENCE_RNG_STATE,     /* the key is a random generator's internal key */
    DG_EVIDENCE_SESSION,       /* the key protects one connection's traffic */
};
/* Records evidence about a key seen at file offset off: hash is the key's
 * spki_sha256 (public keys) or key_sha256 (secret keys), lowercase hex; what
 * says what was seen ("TLS 1.3 key share (X25519) in a ClientHello"), copied
 * and truncated to 120 bytes. Never a finding; the engine gives a finding
 * with the same fingerprint the role the evidence implies. Of the same
 * evidence (kind and hash) seen several times, the sighting at the lowest
 * offset is kept, whatever the order of the scan's threads.
 * dg_report_public(s, h, w, off) is dg_report_evidence(s, DG_EVIDENCE_PUBLIC, h, w, off). */
void dg_report_evidence(struct dg_sink *sink, enum dg_evidence kind, const char *hash,
                        const char *what, uint64_t off);
/* Adds a warning about offset off to the scan's diagnostics. */
void dg_sink_warn(struct dg_sink *sink, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* How the scan wants keys proven (the built-in detectors hand it to their
 * proofs: keys to name without proving them, progress of a long proof).
 * Opaque here; a plug-in neither needs nor reads it. */
struct dg_proof_policy;

/* Options every detector may read; detector-specific ones are strings. */
struct dg_config {
    unsigned verbose;          /* 0 quiet, 1 -v, 2 -vv */
    const char *const *keyvals; /* NULL-terminated "name=value" strings, or NULL */
    const struct dg_proof_policy *proof; /* NULL: every key is proven, silently */
};
/* The value of option `name` in cfg->keyvals, or NULL. */
const char *dg_config_get(const struct dg_config *cfg, const char *name);

#define DG_DET_TEXT 1u   /* finds text forms */
#define DG_DET_BINARY 2u /* finds binary forms */
/* Finds only what the process computed (a key's limbs, a key schedule, a
 * library's key struct), so it does not search a file's read-only image
 * (dg_region_is_image()) for keys. The engine still gives it every chunk,
 * images included: it may take from an image what helps it beside (ec-raw
 * takes public points from anywhere). A finding such a detector reports in
 * an image anyway (it was scanned before the dump said what lay there: a
 * stream whose notes come last) is dropped, so that a stream and a file give
 * the same findings. */
#define DG_DET_NO_IMAGES 4u

struct dg_detector {
    unsigned abi;                 /* DG_DETECTOR_ABI; always first */
    const char *name;             /* "pem": CLI, reports, --detectors */
    const char *summary;          /* one line for `dumpgate detectors` */
    const char *const *forms;     /* NULL-terminated: "pkcs1", "pkcs8", ... */
    enum dg_severity severity;    /* default for a confirmed finding */
    size_t max_span;              /* longest match in bytes = chunk overlap */
    unsigned flags;               /* DG_DET_TEXT | DG_DET_BINARY | DG_DET_NO_IMAGES */
    bool default_on;              /* runs unless deselected */

    dg_err (*create)(const struct dg_config *cfg, void **shared);
    dg_err (*init)(void *shared, void **ctx);
    dg_err (*scan)(void *ctx, const struct dg_chunk *chunk, struct dg_sink *sink);
    void (*release)(void *ctx);
    dg_err (*finish)(void *shared, const struct dg_dump *dump, struct dg_sink *sink);
    void (*destroy)(void *shared);
    /* ABI 2: NULL-terminated names of the options it reads with
     * dg_config_get() ("aes.max-bit-errors"), or NULL for none. An --option
     * that no loaded detector names is refused before any byte is read. */
    const char *const *options;
    /* ABI 3: what each of its matches starts with, or NULL: the detector
     * reads every byte of the chunk itself (a structural search, such as
     * big numbers). With triggers, dg_chunk.hits says where they start. */
    const struct dg_trigger *triggers;
};

#ifdef __cplusplus
}
#endif
#endif
