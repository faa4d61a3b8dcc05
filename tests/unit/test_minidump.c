/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * test_minidump.c - unit test of the minidump reader (scanner/container/minidump.c).
 *
 * Builds small minidumps in memory, runs minidump_read() and regions_finish()
 * on them and checks the map against a table of expectations: memory spans
 * with their file offsets and virtual addresses, stack/module/heap names,
 * contexts, the summary, and for each hostile variant the result code and the
 * offset of the warning. Then every truncation and a few thousand
 * deterministic byte mutations of a valid dump must still give a cover of the
 * file (sorted, contiguous, complete) without crashing (run it under ASan).
 * Prints TAP; failed checks are explained on stderr. With file arguments it
 * prints the span map of each file instead (a debugging aid; exit 1 on a
 * broken cover).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/container/minidump.h"

static int failures;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

/* --- a tiny minidump writer ----------------------------------------------- */

struct buf {
    uint8_t p[1 << 16];
    size_t n;
};

static void
put(struct buf *b, size_t off, const void *p, size_t n)
{
    memcpy(b->p + off, p, n);
    if (off + n > b->n)
        b->n = off + n;
}

static void
put32(struct buf *b, size_t off, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

    put(b, off, x, 4);
}

static void
put16(struct buf *b, size_t off, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

    put(b, off, x, 2);
}

static void
put64(struct buf *b, size_t off, uint64_t v)
{
    put32(b, off, (uint32_t)v);
    put32(b, off + 4, (uint32_t)(v >> 32));
}

static void
dirent(struct buf *b, unsigned i, uint32_t type, uint32_t size, uint32_t rva)
{
    put32(b, 32 + 12 * i, type);
    put32(b, 32 + 12 * i + 4, size);
    put32(b, 32 + 12 * i + 8, rva);
}

static size_t
put_string(struct buf *b, size_t off, const char *s)
{
    size_t n = strlen(s);

    put32(b, off, (uint32_t)(2 * n));
    for (size_t i = 0; i <= n; i++)
        put16(b, off + 4 + 2 * i, (uint16_t)(unsigned char)s[i]);
    return off + 4 + 2 * n + 2;
}

/* Layout of the reference dump (offsets in the file). */
enum {
    N_STREAMS = 6,
    DIR_OFF = 32,
    SYS_OFF = 0x100,     /* SystemInfo, 56 */
    THR_OFF = 0x140,     /* ThreadList: count + 1 thread (52) */
    MOD_OFF = 0x180,     /* ModuleList: count + 1 module (112) */
    MEM_OFF = 0x200,     /* MemoryList: count + 2 descriptors (36) */
    MAPS_OFF = 0x240,    /* LinuxMaps text */
    ENV_OFF = 0x340,     /* LinuxEnviron, 32 bytes */
    STR_OFF = 0x380,     /* module name string */
    CTX_OFF = 0x400,     /* thread context, 0x100 bytes */
    STACK_OFF = 0x600,   /* range 0: the stack, 0x800 bytes */
    HEAP_OFF = 0xe00,    /* range 1: heap, 0x400 bytes */
    FILE_END = 0x1200,
};

#define STACK_VA UINT64_C(0x7ffd12340000)
#define HEAP_VA UINT64_C(0x5555abcd0000)
#define MOD_VA UINT64_C(0x7f0000000000)
#define TID 4242

static const char maps_text[] =
    "5555abcd0000-5555abcf0000 rw-p 00000000 00:00 0          [heap]\n"
    "7f0000000000-7f0000100000 r-xp 00000000 08:01 1234       /usr/lib/libfake.so\n"
    "7ffd12300000-7ffd12400000 rw-p 00000000 00:00 0          [stack]\n"
    "this line is junk\n";

static void
build_reference(struct buf *b)
{
    memset(b, 0, sizeof *b);
    put(b, 0, "MDMP", 4);
    put32(b, 4, 0xa793);
    put32(b, 8, N_STREAMS);
    put32(b, 12, DIR_OFF);
    dirent(b, 0, 7, 56, SYS_OFF);
    dirent(b, 1, 3, 4 + 48, THR_OFF);
    dirent(b, 2, 4, 8 + 108, MOD_OFF); /* with 4 bytes of padding */
    dirent(b, 3, 5, 4 + 2 * 16, MEM_OFF);
    dirent(b, 4, 0x47670009, (uint32_t)strlen(maps_text), MAPS_OFF);
    dirent(b, 5, 0x47670007, 32, ENV_OFF);

    put16(b, SYS_OFF, 9);              /* AMD64 */
    put32(b, SYS_OFF + 20, 0x8201);    /* Linux */

    put32(b, THR_OFF, 1);
    put32(b, THR_OFF + 4, TID);
    put64(b, THR_OFF + 4 + 24, STACK_VA);
    put32(b, THR_OFF + 4 + 32, 0x800);
    put32(b, THR_OFF + 4 + 36, STACK_OFF);
    put32(b, THR_OFF + 4 + 40, 0x100);
    put32(b, THR_OFF + 4 + 44, CTX_OFF);

    put32(b, MOD_OFF, 1);
    put64(b, MOD_OFF + 8, MOD_VA);
    put32(b, MOD_OFF + 8 + 8, 0x100000);
    put32(b, MOD_OFF + 8 + 20, STR_OFF);
    put_string(b, STR_OFF, "/usr/lib/libfake.so");

    put32(b, MEM_OFF, 2);
    put64(b, MEM_OFF + 4, STACK_VA);
    put32(b, MEM_OFF + 4 + 8, 0x800);
    put32(b, MEM_OFF + 4 + 12, STACK_OFF);
    put64(b, MEM_OFF + 20, HEAP_VA + 0x100);
    put32(b, MEM_OFF + 20 + 8, 0x400);
    put32(b, MEM_OFF + 20 + 12, HEAP_OFF);

    put(b, MAPS_OFF, maps_text, strlen(maps_text));
    put(b, ENV_OFF, "HOME=/root\0USER=root\0PATH=/bin\0", 32);
    for (size_t i = STACK_OFF; i < FILE_END; i++)
        b->p[i] = (uint8_t)(i * 7 + 1);
    b->n = FILE_END;
}

/* --- running the reader -------------------------------------------------- */

struct result {
    dg_err rc;
    struct dg_regions *map;
    struct dg_diag *d;
};

static struct result
run(const uint8_t *p, size_t n)
{
    struct dg_input in;
    struct result r;

    input_open_memory("test.dmp", p, n, &in);
    r.map = regions_new();
    r.d = dg_diag_new();
    if (r.map == NULL || r.d == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    r.rc = minidump_read(&in, r.map, r.d);
    if (r.rc == DG_OK && regions_finish(r.map, n) != DG_OK)
        r.rc = DG_E_NOMEM;
    input_close(&in);
    return r;
}

static void
release(struct result *r)
{
    regions_free(r->map);
    dg_diag_free(r->d);
}

/* True when the spans of map cover [0, n) exactly, sorted and contiguous. */
static bool
covers(const struct dg_regions *map, uint64_t n)
{
    uint64_t pos = 0;

    for (size_t i = 0; i < regions_count(map); i++) {
        const struct dg_region *s = regions_get(map, i);

        if (s->off != pos || s->len == 0)
            return false;
        pos += s->len;
    }
    return pos == n;
}

static const struct dg_region *
span_at(const struct result *r, uint64_t off)
{
    return regions_at(r->map, off);
}

/* True if some kept message has the level and offset (any offset if off is
 * DG_NO_OFFSET - 1) and its text contains word. */
static bool
has_msg(const struct result *r, enum dg_diag_level level, uint64_t off, const char *word)
{
    for (size_t i = 0; i < dg_diag_count(r->d); i++) {
        const struct dg_diag_msg *m = dg_diag_get(r->d, i);

        if (m->level == level && (off == DG_NO_OFFSET - 1 || m->off == off) &&
            strstr(m->text, word) != NULL)
            return true;
    }
    return false;
}

static void
dump_messages(const struct result *r)
{
    for (size_t i = 0; i < dg_diag_count(r->d); i++) {
        const struct dg_diag_msg *m = dg_diag_get(r->d, i);

        fprintf(stderr, "  [%d] off=%" PRIu64 " %s\n", (int)m->level, m->off, m->text);
    }
}

/* --- the reference dump -------------------------------------------------- */

static void
test_reference(void)
{
    struct buf b;
    struct result r;
    const struct dg_region *s;
    const struct regions_info *info;

    build_reference(&b);
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK, "rc %d", (int)r.rc);
    CHECK(covers(r.map, b.n), "cover");
    /* Only the junk maps line is worth a warning. */
    CHECK(dg_diag_count(r.d) == 1 && has_msg(&r, DG_DIAG_WARNING, MAPS_OFF + 206, "LinuxMaps"),
          "messages");
    if (dg_diag_count(r.d) != 1)
        dump_messages(&r);

    s = span_at(&r, 0);
    CHECK(s && s->kind == DG_SPAN_HEADER && s->len == 32 && strcmp(s->name, "minidump header") == 0,
          "header span");
    s = span_at(&r, DIR_OFF);
    CHECK(s && s->kind == DG_SPAN_HEADER && s->off == DIR_OFF && s->len == 12 * N_STREAMS &&
              strcmp(s->name, "stream directory") == 0,
          "directory span");
    s = span_at(&r, THR_OFF);
    CHECK(s && s->kind == DG_SPAN_STREAM && s->len == 52 && strcmp(s->name, "ThreadList") == 0 &&
              s->index == 1,
          "ThreadList span");
    s = span_at(&r, ENV_OFF);
    CHECK(s && s->kind == DG_SPAN_STREAM && strcmp(s->name, "LinuxEnviron") == 0, "environ");
    s = span_at(&r, STR_OFF);
    CHECK(s && s->kind == DG_SPAN_GAP, "string left as a gap");
    s = span_at(&r, CTX_OFF);
    CHECK(s && s->kind == DG_SPAN_CONTEXT && s->thread == TID && s->len == 0x100, "context");

    s = span_at(&r, STACK_OFF + 5);
    CHECK(s && s->kind == DG_SPAN_STACK && s->has_va && s->off == STACK_OFF && s->len == 0x800 &&
              s->va == STACK_VA && s->thread == TID && s->index == 0 &&
              s->perms == (DG_PERM_R | DG_PERM_W) && s->name &&
              strcmp(s->name, "[stack:4242]") == 0,
          "stack span: kind %d name %s", s ? (int)s->kind : -1, s && s->name ? s->name : "-");
    s = span_at(&r, HEAP_OFF);
    CHECK(s && s->kind == DG_SPAN_HEAP && s->va == HEAP_VA + 0x100 && s->len == 0x400 &&
              s->index == 1 && s->name && strcmp(s->name, "[heap]") == 0 &&
              s->perms == (DG_PERM_R | DG_PERM_W),
          "heap span");
    CHECK(regions_at_va(r.map, HEAP_VA + 0x104) == s, "va lookup");
    CHECK(regions_unreadable(r.map) == 0, "unreadable %" PRIu64, regions_unreadable(r.map));

    info = regions_info_const(r.map);
    CHECK(strcmp(info->format, "minidump") == 0, "format");
    CHECK(strcmp(info->detail, "minidump, 6 streams, AMD64, Linux") == 0, "detail '%s'",
          info->detail);
    CHECK(info->word_size == 8 && info->n_threads == 1 && !info->stream_partial, "info");
    release(&r);
}

/* The heap range mapped as shared memory: named after its maps line, but
 * anonymous, no file's image (regions_shared_memory()). */
static void
test_shared_memory(void)
{
    static const char *const names[] = {"/dev/zero (deleted)", "/memfd:keys (deleted)",
                                        "/SYSV0000002a (deleted)", "/dev/shm/keys"};

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct buf b;
        struct result r;
        const struct dg_region *s;
        char text[ENV_OFF - MAPS_OFF];
        int n = snprintf(text, sizeof text, "5555abcd0000-5555abcf0000 r--s 00000000 00:01 7 %s\n",
                         names[i]);

        build_reference(&b); /* its maps text replaced by the heap's line */
        put(&b, MAPS_OFF, text, (size_t)n);
        dirent(&b, 4, 0x47670009, (uint32_t)n, MAPS_OFF);
        r = run(b.p, b.n);
        s = span_at(&r, HEAP_OFF);
        CHECK(r.rc == DG_OK && s && s->kind == DG_SPAN_ANON && s->name &&
                  strcmp(s->name, names[i]) == 0 && s->perms == DG_PERM_R &&
                  !dg_region_is_image(s),
              "%s: kind %d name '%s'", names[i], s ? (int)s->kind : -1,
              s && s->name ? s->name : "-");
        release(&r);
    }
}

/* A module range holding a memory range: named after the module. */
static void
test_module_name(void)
{
    struct buf b;
    struct result r;
    const struct dg_region *s;

    build_reference(&b);
    put64(&b, MEM_OFF + 20, MOD_VA + 0x1000); /* range 1 now inside the module */
    put_string(&b, STR_OFF, "C:\\Windows\\\xe9.dll");
    r = run(b.p, b.n);
    s = span_at(&r, HEAP_OFF);
    CHECK(r.rc == DG_OK && s && s->kind == DG_SPAN_MODULE && s->name &&
              strcmp(s->name, "C:\\Windows\\\xc3\xa9.dll") == 0,
          "module span: %s", s && s->name ? s->name : "-");
    release(&r);
}

/* Memory64List with BaseRva at the end, and a MemoryInfoList for perms. */
static void
test_memory64(bool base_past_end)
{
    struct buf b;
    struct result r;
    const struct dg_region *s;
    const uint32_t m64 = 0x200, mi = 0x240, base = 0x400;

    memset(&b, 0, sizeof b);
    put(&b, 0, "MDMP", 4);
    put32(&b, 4, 0xa793);
    put32(&b, 8, 2);
    put32(&b, 12, 32);
    dirent(&b, 0, 9, 16 + 3 * 16, m64);
    dirent(&b, 1, 16, 16 + 2 * 48, mi);
    put64(&b, m64, 3);
    put64(&b, m64 + 8, base_past_end ? 0x10000 : base);
    for (unsigned i = 0; i < 3; i++) {
        put64(&b, m64 + 16 + 16 * i, 0x10000000u + 0x10000u * i);
        put64(&b, m64 + 24 + 16 * i, 0x100u * (i + 1));
    }
    put32(&b, mi, 16);
    put32(&b, mi + 4, 48);
    put64(&b, mi + 8, 2);
    put64(&b, mi + 16, 0x10000000);         /* BaseAddress */
    put64(&b, mi + 16 + 24, 0x1000);        /* RegionSize */
    put32(&b, mi + 16 + 32, 0x1000);        /* MEM_COMMIT */
    put32(&b, mi + 16 + 36, 0x20);          /* PAGE_EXECUTE_READ */
    put64(&b, mi + 64, 0x10010000);
    put64(&b, mi + 64 + 24, 0x1000);
    put32(&b, mi + 64 + 32, 0x1000);
    put32(&b, mi + 64 + 36, 0x104);         /* PAGE_READWRITE | PAGE_GUARD */
    b.n = base + 0x100 + 0x200 + 0x300;
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK, "rc");
    CHECK(covers(r.map, b.n), "cover");
    if (!base_past_end) {
        CHECK(dg_diag_count(r.d) == 0, "no messages");
        s = span_at(&r, base + 0x100);
        CHECK(s && s->kind == DG_SPAN_MEMORY && s->off == base + 0x100 && s->len == 0x200 &&
                  s->va == 0x10010000 && s->index == 1 && s->perms == (DG_PERM_R | DG_PERM_W),
              "range 1");
        s = span_at(&r, base);
        CHECK(s && s->va == 0x10000000 && s->perms == (DG_PERM_R | DG_PERM_X), "range 0");
        s = span_at(&r, base + 0x300);
        CHECK(s && s->va == 0x10020000 && s->len == 0x300 && s->perms == 0, "range 2");
        CHECK(strstr(regions_info_const(r.map)->detail, "full memory") != NULL, "detail");
    } else {
        CHECK(has_msg(&r, DG_DIAG_WARNING, m64 + 8, "BaseRva"), "BaseRva warning");
        CHECK(regions_unreadable(r.map) == 0x600, "unreadable %" PRIu64,
              regions_unreadable(r.map));
        CHECK(regions_va_count(r.map) == 0, "no memory");
    }
    release(&r);
}

static void
test_memory64_ok(void)
{
    test_memory64(false);
}

static void
test_memory64_base_past_end(void)
{
    test_memory64(true);
}

/* --- hostile variants ---------------------------------------------------- */

static void
test_hostile(void)
{
    struct buf b;
    struct result r;
    const struct dg_region *s;

    /* Truncated header: error. */
    build_reference(&b);
    r = run(b.p, 20);
    CHECK(r.rc == DG_E_BAD_MINIDUMP && dg_diag_count_level(r.d, DG_DIAG_ERROR) == 1 &&
              has_msg(&r, DG_DIAG_ERROR, 0, "header"),
          "truncated header");
    release(&r);

    /* Big-endian: recognised, refused. */
    build_reference(&b);
    memcpy(b.p, "PMDM", 4);
    CHECK(minidump_probe(b.p, 4), "probe PMDM");
    r = run(b.p, b.n);
    CHECK(r.rc == DG_E_UNSUPPORTED, "PMDM");
    release(&r);
    CHECK(!minidump_probe((const uint8_t *)"\x7f" "ELF", 4) && !minidump_probe(b.p, 3), "probe");

    /* Directory entirely outside the file: error. */
    build_reference(&b);
    put32(&b, 12, 0xfffffff0u);
    r = run(b.p, b.n);
    CHECK(r.rc == DG_E_BAD_MINIDUMP && has_msg(&r, DG_DIAG_ERROR, 12, "directory"), "dir out");
    release(&r);

    /* NumberOfStreams huge: capped, warned, the real streams still read. */
    build_reference(&b);
    put32(&b, 8, 0xffffffffu);
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, 8, "NumberOfStreams"), "count huge");
    s = span_at(&r, STACK_OFF);
    CHECK(s && s->kind == DG_SPAN_STACK, "stack still found");
    CHECK(covers(r.map, b.n), "cover");
    release(&r);

    /* RVA + DataSize wrapping 32 bits. */
    build_reference(&b);
    dirent(&b, 5, 0x47670007, 0x200, 0xffffff00u);
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, DIR_OFF + 5 * 12, "past the end"),
          "rva wrap");
    CHECK(regions_va_count(r.map) == 2, "memory still there");
    release(&r);

    /* Body partly past the end: clipped. */
    build_reference(&b);
    dirent(&b, 5, 0x47670007, 0x1000, FILE_END);
    b.n = FILE_END + 0x20;
    r = run(b.p, b.n);
    s = span_at(&r, FILE_END + 0x1f);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, DIR_OFF + 5 * 12, "runs") && s &&
              s->kind == DG_SPAN_STREAM && covers(r.map, b.n),
          "clipped body");
    release(&r);

    /* A stream pointing at the directory itself. */
    build_reference(&b);
    dirent(&b, 1, 3, 12 * N_STREAMS, DIR_OFF);
    r = run(b.p, b.n);
    s = span_at(&r, DIR_OFF);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, DIR_OFF + 12, "overlaps") && s &&
              s->kind == DG_SPAN_HEADER && s->len == 12 * N_STREAMS,
          "stream-self");
    CHECK(span_at(&r, CTX_OFF)->kind == DG_SPAN_GAP, "thread list not parsed");
    release(&r);

    /* List count mismatch: list skipped, stream body kept, stack from ThreadList. */
    build_reference(&b);
    put32(&b, MEM_OFF, 3);
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, MEM_OFF, "does not match"), "mismatch");
    s = span_at(&r, MEM_OFF);
    CHECK(s && s->kind == DG_SPAN_STREAM && strcmp(s->name, "MemoryList") == 0, "body kept");
    CHECK(span_at(&r, STACK_OFF)->kind == DG_SPAN_STACK, "stack from ThreadList");
    s = span_at(&r, HEAP_OFF);
    CHECK(s && !s->has_va && (s->kind == DG_SPAN_GAP || s->kind == DG_SPAN_TRAILING),
          "heap range skipped");
    release(&r);

    /* Count 2^32-1 in a list. */
    build_reference(&b);
    put32(&b, THR_OFF, 0xffffffffu);
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, THR_OFF, "4294967295"), "huge count");
    release(&r);

    /* Duplicate stream and a type-0 entry. */
    build_reference(&b);
    dirent(&b, 5, 4, 8 + 108, MOD_OFF);
    dirent(&b, 4, 0, 0, 0);
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, DIR_OFF + 60, "duplicate ModuleList") &&
              dg_diag_count(r.d) == 1,
          "duplicate");
    release(&r);

    /* Memory range past the end: clipped, unreadable bytes counted. */
    build_reference(&b);
    put32(&b, MEM_OFF + 20 + 8, 0x1000); /* heap range now 0x1000 from 0xe00 */
    r = run(b.p, b.n);
    CHECK(r.rc == DG_OK && has_msg(&r, DG_DIAG_WARNING, MEM_OFF + 20, "past the end") &&
              regions_unreadable(r.map) == 0xc00 && covers(r.map, b.n),
          "memory past end: %" PRIu64, regions_unreadable(r.map));
    release(&r);
}

/* Every truncation and many mutations of the reference: no crash, a cover. */
static void
test_robust(void)
{
    struct buf b, m;
    uint64_t x = 0x9e3779b97f4a7c15u;

    build_reference(&b);
    for (size_t n = 0; n <= b.n; n++) {
        struct result r = run(b.p, n);

        CHECK(r.rc != DG_OK || covers(r.map, n), "truncated at %zu", n);
        release(&r);
    }
    for (int it = 0; it < 3000; it++) {
        int flips = 1 + it % 8;

        m = b;
        for (int k = 0; k < flips; k++) {
            size_t off;

            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            off = (size_t)(x % (it % 2 ? 0x400u : m.n));
            m.p[off] = (uint8_t)(x >> 32);
        }
        {
            struct result r = run(m.p, m.n);

            CHECK(r.rc != DG_OK || covers(r.map, m.n), "mutation %d", it);
            release(&r);
        }
    }
}

/* --- file mode ----------------------------------------------------------- */

static int
show(const char *path)
{
    struct dg_input in;
    struct dg_regions *map = regions_new();
    struct dg_diag *d = dg_diag_new();
    dg_err rc = input_open(path, d, &in);
    int bad = 0;

    if (rc == DG_OK) {
        rc = minidump_read(&in, map, d);
        if (regions_finish(map, input_known_size(&in)) != DG_OK)
            rc = DG_E_NOMEM;
        printf("%s: %s (%s)\n", path, dg_strerror(rc), regions_info_const(map)->detail);
        for (size_t i = 0; i < regions_count(map); i++) {
            const struct dg_region *s = regions_get(map, i);

            printf("  %8" PRIu64 " %8" PRIu64 " %-8s", s->off, s->len, dg_span_kind_name(s->kind));
            if (s->has_va)
                printf(" va=0x%" PRIx64, s->va);
            if (s->thread >= 0)
                printf(" thread=%" PRId64, s->thread);
            printf(" idx=%u %s\n", (unsigned)s->index, s->name ? s->name : "");
        }
        bad = !covers(map, input_known_size(&in));
        input_close(&in);
    }
    for (size_t i = 0; i < dg_diag_count(d); i++)
        printf("  diag %d @%" PRIu64 ": %s\n", (int)dg_diag_get(d, i)->level,
               dg_diag_get(d, i)->off, dg_diag_get(d, i)->text);
    regions_free(map);
    dg_diag_free(d);
    return bad;
}

int
main(int argc, char **argv)
{
    if (argc > 1) {
        int bad = 0;

        for (int i = 1; i < argc; i++)
            bad |= show(argv[i]);
        return bad;
    }
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"reference dump: spans, names, perms, info", test_reference},
        {"shared memory in LinuxMaps is anonymous, no image", test_shared_memory},
        {"module name from ModuleList (UTF-16 to UTF-8)", test_module_name},
        {"Memory64List with MemoryInfoList", test_memory64_ok},
        {"Memory64List BaseRva past the end", test_memory64_base_past_end},
        {"hostile variants", test_hostile},
        {"every truncation and 3000 mutations keep a cover", test_robust},
    };
    const size_t n = sizeof tests / sizeof tests[0];
    int failed = 0;

    printf("1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        int before = failures;

        tests[i].fn();
        printf("%s %zu - %s\n", failures == before ? "ok" : "not ok", i + 1, tests[i].name);
        failed += failures != before;
    }
    return failed ? 1 : 0;
}
