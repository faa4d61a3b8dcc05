/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * error.h - error codes of dumpgate and the diagnostics sink.
 *
 * Contract: every fallible function returns a dg_err; DG_OK is 0. The code is
 * for machines. The words go to a struct dg_diag through dg_diag(), which
 * records the file offset the problem was found at and returns the code it was
 * given, so that `return dg_diag(d, DG_E_TRUNCATED, off, "...")` reports and
 * fails in one statement. Nothing below the CLI prints. Numbers are written
 * beside each code and are never reused.
 */
#ifndef DUMPGATE_ERROR_H
#define DUMPGATE_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DG_ERRORS(X)                                                        \
    X(DG_OK, 0, "success")                                                  \
    X(DG_E_NOMEM, 1, "out of memory")                                       \
    X(DG_E_IO, 2, "input/output error")                                     \
    X(DG_E_ARG, 3, "invalid argument")                                      \
    X(DG_E_EMPTY, 4, "empty input")                                         \
    X(DG_E_NOT_FILE, 5, "not a regular file or stream")                     \
    X(DG_E_TRUNCATED, 6, "truncated input")                                 \
    X(DG_E_BAD_ELF, 7, "malformed ELF core")                                \
    X(DG_E_NO_PHDR, 8, "no program headers")                                \
    X(DG_E_BAD_MINIDUMP, 9, "malformed minidump")                           \
    X(DG_E_CRYPTO, 10, "OpenSSL error")                                     \
    X(DG_E_UNSUPPORTED, 11, "unsupported")                                  \
    X(DG_E_LIMIT, 12, "resource limit reached")                             \
    X(DG_E_UNAVAILABLE, 13, "data not available")                           \
    X(DG_E_THREAD, 14, "thread error")                                      \
    X(DG_E_FORMAT, 15, "malformed data")                                    \
    X(DG_E_NOT_FOUND, 16, "not found")                                      \
    X(DG_E_LAST, 17, "unknown error")

typedef enum dg_err {
#define DG_ERR_ENUM(name, num, msg) name = num,
    DG_ERRORS(DG_ERR_ENUM)
#undef DG_ERR_ENUM
} dg_err;

/* Returns a static English sentence for code; never NULL. */
const char *dg_strerror(dg_err code);

enum dg_diag_level {
    DG_DIAG_ERROR = 0,   /* something could not be read */
    DG_DIAG_WARNING = 1, /* partial: scanned as far as it goes */
    DG_DIAG_INFO = 2,    /* for -v only */
};

#define DG_NO_OFFSET UINT64_MAX

/* One message. `off` is the file offset it concerns, or DG_NO_OFFSET. */
struct dg_diag_msg {
    enum dg_diag_level level;
    dg_err code;
    uint64_t off;
    char text[240];
};

/* A bounded, thread-safe list of messages about one input. Holds at most
 * DG_DIAG_MAX messages; the rest are counted in n_dropped. */
#define DG_DIAG_MAX 256
struct dg_diag;

struct dg_diag *dg_diag_new(void);
void dg_diag_free(struct dg_diag *d);

/* Records an error (level ERROR) about offset off and returns code. A NULL d is
 * allowed and records nothing. */
dg_err dg_diag(struct dg_diag *d, dg_err code, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records a message of any level; returns code. */
dg_err dg_diag_at(struct dg_diag *d, enum dg_diag_level level, dg_err code, uint64_t off,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
dg_err dg_diag_v(struct dg_diag *d, enum dg_diag_level level, dg_err code, uint64_t off,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* Turns every ERROR kept at index >= from into a WARNING (the caller
 * recovered: e.g. a broken container whose file is still scanned raw). */
void dg_diag_demote(struct dg_diag *d, size_t from);

/* Read access: count of messages kept, message i (0 <= i < count), dropped count,
 * and how many of the kept ones have the given level. */
size_t dg_diag_count(const struct dg_diag *d);
const struct dg_diag_msg *dg_diag_get(const struct dg_diag *d, size_t i);
size_t dg_diag_dropped(const struct dg_diag *d);
size_t dg_diag_count_level(const struct dg_diag *d, enum dg_diag_level level);

#ifdef __cplusplus
}
#endif
#endif
