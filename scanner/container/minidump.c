/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * minidump.c - minidump container reader (Windows, Breakpad, Crashpad).
 *
 * Turns a little-endian minidump into claims on the region map: the header
 * and the stream directory (header spans), every stream body (stream spans
 * named by type), the memory of MemoryListStream and Memory64ListStream
 * (memory spans with virtual addresses and, from MemoryInfoList or LinuxMaps,
 * permissions), thread contexts (context spans with the thread id) and thread
 * stacks. Attribution follows with regions_name_va(): stacks from ThreadList,
 * module images from ModuleList, [heap]/[stack]/paths from LinuxMaps; and
 * with regions_add_module() the modules with their CodeView identity (ELF
 * build id, PDB GUID and path), the process id from MiscInfo and thread
 * names from ThreadNames. Strings,
 * CodeView records and anything else no stream body covers are left to
 * regions_finish() as gaps, so every byte is still scanned.
 *
 * All access to the file goes through input_read_at(); nothing is allocated
 * by an untrusted count: the directory is capped by what fits in the file and
 * by MINIDUMP_MAX_STREAMS, lists are walked in fixed-size batches. Every
 * inconsistency is a warning naming the file offset of the offending field,
 * and reading goes on. Big-endian minidumps ('PMDM') are recognised and
 * refused. Layouts: ../shared/reference/dumps.md section 2.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minidump.h"

/* Stream types this reader interprets (minidumpapiset.h, Breakpad, Crashpad). */
#define MD_THREAD_LIST 3u
#define MD_MODULE_LIST 4u
#define MD_MEMORY_LIST 5u
#define MD_EXCEPTION 6u
#define MD_SYSTEM_INFO 7u
#define MD_THREAD_EX_LIST 8u
#define MD_MEMORY64_LIST 9u
#define MD_MEMORY_INFO_LIST 16u
#define MD_MISC_INFO 15u
#define MD_THREAD_NAMES 24u
#define MD_LINUX_MAPS 0x47670009u

#define MD_SIGNATURE 0x504d444du /* 'MDMP' read little-endian */
#define MD_VERSION 0xa793u
#define MD_DIR_ENTRY 12u       /* MINIDUMP_DIRECTORY */
#define MD_THREAD_SIZE 48u     /* MINIDUMP_THREAD */
#define MD_THREAD_EX_SIZE 64u  /* MINIDUMP_THREAD_EX */
#define MD_MODULE_SIZE 108u    /* MINIDUMP_MODULE, packed */
#define MD_MEMDESC_SIZE 16u    /* MINIDUMP_MEMORY_DESCRIPTOR(64) */
#define MD_EXCEPTION_SIZE 168u /* MINIDUMP_EXCEPTION_STREAM */
#define MD_SYSINFO_SIZE 56u    /* MINIDUMP_SYSTEM_INFO */
#define MD_MEMINFO_SIZE 48u    /* MINIDUMP_MEMORY_INFO */

#define MD_MAX_WARNINGS 64u       /* warnings per file before they are only counted */
#define MD_NAME_UNITS 512u        /* UTF-16 units of a MINIDUMP_STRING converted */
#define MD_NAME_MAX 1024u         /* bytes of a converted name, NUL included */
#define MD_MAPS_MAX (16u << 20)   /* bytes of LinuxMaps text read */
#define MD_PERMS_MAX (1u << 18)   /* permission ranges kept */
#define MD_BATCH 256u             /* list entries read per input_read_at() */
#define MD_CV_MAX 1024u           /* bytes of a CodeView record read */
#define MD_THREAD_NAME_SIZE 12u   /* MINIDUMP_THREAD_NAME, packed */

/* One directory entry as read from the file. */
struct md_stream {
    uint32_t type;
    uint32_t size;        /* DataSize, bytes */
    uint32_t rva;         /* file offset of the body */
    uint64_t avail;       /* bytes of the body inside the file */
    bool usable;          /* body may be parsed: in the file, not inside header/directory */
    bool dup;             /* an earlier entry has the same (known) type */
};

/* Permissions of [va, end) from MemoryInfoList or LinuxMaps. */
struct md_perm {
    uint64_t va;
    uint64_t end;
    unsigned perms; /* DG_PERM_* */
};

/* One parsed line of LinuxMaps; name points into md.maps_text. */
struct md_map {
    uint64_t va;
    uint64_t end;
    enum dg_span_kind kind;
    const char *name;
};

/* State of one minidump_read() call. */
struct md {
    const struct dg_input *in;
    struct dg_regions *map;
    struct dg_diag *d;
    uint64_t end;         /* file size, or UINT64_MAX for a stream of unknown length */
    uint64_t known;       /* bytes that can be read */
    bool unavailable;     /* some read went past a stream's retained head */
    bool miss;            /* the last read did */
    uint64_t unavail_off; /* first offset that could not be read, if unavailable */
    unsigned n_warn;      /* warnings issued */
    unsigned n_quiet;     /* warnings counted but not issued */
    dg_err fatal;         /* DG_E_NOMEM / DG_E_LIMIT from the map */

    uint64_t dir_off;     /* directory: file offset and bytes */
    uint64_t dir_len;
    struct md_stream *dir;
    size_t n_dir;

    struct md_perm *perms;
    size_t n_perms;
    size_t cap_perms;
    bool perms_full;

    char *maps_text;      /* LinuxMaps body, lines NUL-terminated */
    struct md_map *maps;
    size_t n_maps;

    unsigned n_threads;
};

static void warn(struct md *c, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a DG_E_BAD_MINIDUMP warning about offset off, prefixed with the
 * input's name, up to MD_MAX_WARNINGS per file; the rest are counted and
 * summed up at the end. */
static void
warn(struct md *c, uint64_t off, const char *fmt, ...)
{
    char text[sizeof ((struct dg_diag_msg *)0)->text];
    va_list ap;

    if (c->n_warn >= MD_MAX_WARNINGS) {
        c->n_quiet++;
        return;
    }
    c->n_warn++;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_MINIDUMP, off, "%s: %s", c->in->name, text);
}

static uint16_t
le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Updates what is known of the input's size: a stream's head grows as it is
 * read, and its end is known only once EOF fell inside the head. */
static void
refresh(struct md *c)
{
    c->known = input_known_size(c->in);
    c->end = c->in->stream && !input_head_eof(c->in) ? UINT64_MAX : c->known;
}

/* Reads up to len bytes at off into buf; *got receives the count. Returns
 * DG_E_UNAVAILABLE when bytes lie past a stream's retained head (also noted
 * in c->miss for this read and c->unavailable for the file), DG_E_IO, or
 * DG_OK (fewer bytes at the end of the file). */
static dg_err
rd_some(struct md *c, uint64_t off, void *buf, size_t len, size_t *got)
{
    dg_err rc = input_read_at(c->in, off, buf, len, got);

    refresh(c);
    c->miss = rc == DG_E_UNAVAILABLE || (rc == DG_OK && *got < len && c->end == UINT64_MAX);
    if (c->miss) {
        if (!c->unavailable || off + *got < c->unavail_off)
            c->unavail_off = off + *got;
        c->unavailable = true;
        rc = DG_E_UNAVAILABLE;
    }
    return rc;
}

/* Reads exactly len bytes at off into buf. Returns false on a short read
 * (c->miss tells whether it was past a stream's head rather than past EOF). */
static bool
rd(struct md *c, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    dg_err rc = rd_some(c, off, buf, len, &got);

    if (rc == DG_E_UNAVAILABLE)
        return false;
    if (rc != DG_OK) {
        warn(c, off, "reading %zu bytes at offset %llu failed: %s", len,
             (unsigned long long)off, dg_strerror(rc));
        return false;
    }
    return got == len;
}

/* Claims r clipped to the end of the file; map failures become c->fatal. */
static void
claim(struct md *c, const struct dg_region *r, enum regions_priority prio)
{
    struct dg_region cl = *r;
    dg_err rc;

    if (c->fatal != DG_OK || cl.off >= c->end)
        return;
    if (cl.len > c->end - cl.off)
        cl.len = c->end - cl.off;
    if (cl.len == 0)
        return;
    rc = regions_claim(c->map, &cl, prio);
    if (rc != DG_OK)
        c->fatal = dg_diag(c->d, rc, cl.off,
                           "%s: minidump: cannot record the span at offset %llu: %s", c->in->name,
                           (unsigned long long)cl.off, dg_strerror(rc));
}

/* Name of a stream type for span names and messages; buf receives
 * "stream 0x..." for types without a name. */
static const char *
stream_name(uint32_t type, char *buf, size_t n)
{
    static const char *const std_names[] = {
        "Unused", "Reserved0", "Reserved1", "ThreadList", "ModuleList", "MemoryList",
        "Exception", "SystemInfo", "ThreadExList", "Memory64List", "CommentA",
        "CommentW", "HandleData", "FunctionTable", "UnloadedModuleList", "MiscInfo",
        "MemoryInfoList", "ThreadInfoList", "HandleOperationList", "Token",
        "JavaScriptData", "SystemMemoryInfo", "ProcessVmCounters", "IptTrace",
        "ThreadNames",
    };
    static const char *const breakpad_names[] = {
        NULL, "BreakpadInfo", "AssertionInfo", "LinuxCpuInfo", "LinuxProcStatus",
        "LinuxLsbRelease", "LinuxCmdLine", "LinuxEnviron", "LinuxAuxv", "LinuxMaps",
        "LinuxDsoDebug",
    };
    static const char *const moz_names[] = {
        NULL, "MozMacosCrashInfo", "MozMacosBootargs", "MozLinuxLimits", "MozSoftErrors",
    };

    if (type < sizeof std_names / sizeof std_names[0])
        return std_names[type];
    if (type > 0x47670000u && type - 0x47670000u < sizeof breakpad_names / sizeof breakpad_names[0])
        return breakpad_names[type - 0x47670000u];
    if (type > 0x4d7a0000u && type - 0x4d7a0000u < sizeof moz_names / sizeof moz_names[0])
        return moz_names[type - 0x4d7a0000u];
    if (type == 0x43500001u)
        return "CrashpadInfo";
    if (type == 0x4b6b0002u)
        return "StabilityReport";
    snprintf(buf, n, "stream 0x%08x", (unsigned)type);
    return buf;
}

/* True when [off, off+len) touches the header or the stream directory. */
static bool
in_metadata(const struct md *c, uint64_t off, uint64_t len)
{
    uint64_t e = len > UINT64_MAX - off ? UINT64_MAX : off + len;

    if (len == 0)
        return off < MINIDUMP_HEADER_SIZE ||
               (off >= c->dir_off && off - c->dir_off < c->dir_len);
    return off < MINIDUMP_HEADER_SIZE || (off < c->dir_off + c->dir_len && e > c->dir_off);
}

/* Converts the MINIDUMP_STRING at rva (u32 byte length, UTF-16LE units) to
 * UTF-8 in out[0..n), at most MD_NAME_UNITS units, unpaired surrogates as
 * U+FFFD, control characters as '?'. Returns false when it cannot be read. */
static bool
read_string(struct md *c, uint32_t rva, char *out, size_t n)
{
    uint8_t raw[2 * MD_NAME_UNITS];
    uint8_t hdr[4];
    uint64_t len;
    size_t units, o = 0;

    out[0] = '\0';
    if (rva == 0 || (uint64_t)rva + 4 > c->end || !rd(c, rva, hdr, 4))
        return false;
    len = le32(hdr);
    if (len > sizeof raw)
        len = sizeof raw;
    if (len > c->end - rva - 4)
        len = c->end - rva - 4;
    len &= ~(uint64_t)1;
    if (len > 0 && !rd(c, (uint64_t)rva + 4, raw, (size_t)len))
        return false;
    units = (size_t)len / 2;
    for (size_t i = 0; i < units; i++) {
        uint32_t cp = le16(raw + 2 * i);
        uint8_t enc[4];
        size_t k;

        if (cp == 0)
            break;
        if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < units && le16(raw + 2 * i + 2) >= 0xdc00 &&
            le16(raw + 2 * i + 2) < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (le16(raw + 2 * i + 2) - 0xdc00u);
            i++;
        } else if (cp >= 0xd800 && cp < 0xe000) {
            cp = 0xfffd;
        }
        if (cp < 0x20 || cp == 0x7f) {
            enc[0] = '?';
            k = 1;
        } else if (cp < 0x80) {
            enc[0] = (uint8_t)cp;
            k = 1;
        } else if (cp < 0x800) {
            enc[0] = (uint8_t)(0xc0 | cp >> 6);
            enc[1] = (uint8_t)(0x80 | (cp & 0x3f));
            k = 2;
        } else if (cp < 0x10000) {
            enc[0] = (uint8_t)(0xe0 | cp >> 12);
            enc[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            enc[2] = (uint8_t)(0x80 | (cp & 0x3f));
            k = 3;
        } else {
            enc[0] = (uint8_t)(0xf0 | cp >> 18);
            enc[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
            enc[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            enc[3] = (uint8_t)(0x80 | (cp & 0x3f));
            k = 4;
        }
        if (o + k >= n)
            break;
        memcpy(out + o, enc, k);
        o += k;
    }
    out[o] = '\0';
    return true;
}

/* Checks a list stream of the form {u32 count, [u32 pad], entry[count]}.
 * Returns true and the count and first entry's offset when DataSize is
 * 4 + n*sz or 8 + n*sz; otherwise warns and returns false. */
static bool
list_header(struct md *c, const struct md_stream *s, uint32_t sz, uint32_t *n, uint64_t *first)
{
    uint8_t b[4];
    char nb[32];
    const char *name = stream_name(s->type, nb, sizeof nb);
    uint64_t want;

    if (s->size < 4 || !rd(c, s->rva, b, 4)) {
        if (s->size < 4 || !c->miss)
            warn(c, s->rva, "%s stream at offset %u: too short (%u bytes) for its count", name,
                 (unsigned)s->rva, (unsigned)s->size);
        return false;
    }
    *n = le32(b);
    want = 4 + (uint64_t)*n * sz;
    if (want == s->size) {
        *first = (uint64_t)s->rva + 4;
        return true;
    }
    if (want + 4 == s->size) {
        *first = (uint64_t)s->rva + 8;
        return true;
    }
    warn(c, s->rva,
         "%s stream at offset %u: count %u does not match DataSize %u (entries of %u bytes); "
         "list skipped, stream body scanned as bytes",
         name, (unsigned)s->rva, (unsigned)*n, (unsigned)s->size, (unsigned)sz);
    return false;
}

/* Reads entries [i, i+k) of sz bytes each starting at first into buf.
 * Returns the number of whole entries read. */
static size_t
read_batch(struct md *c, uint64_t first, size_t i, size_t k, uint32_t sz, uint8_t *buf)
{
    uint64_t off = first + (uint64_t)i * sz;
    size_t got = 0;

    if (rd_some(c, off, buf, k * sz, &got) != DG_OK)
        return 0;
    return got / sz;
}

/* Permissions of a Windows PAGE_* protection value. */
static unsigned
page_perms(uint32_t protect)
{
    switch (protect & 0xffu) {
    case 0x02: /* PAGE_READONLY */
        return DG_PERM_R;
    case 0x04: /* PAGE_READWRITE */
    case 0x08: /* PAGE_WRITECOPY */
        return DG_PERM_R | DG_PERM_W;
    case 0x10: /* PAGE_EXECUTE */
        return DG_PERM_X;
    case 0x20: /* PAGE_EXECUTE_READ */
        return DG_PERM_R | DG_PERM_X;
    case 0x40: /* PAGE_EXECUTE_READWRITE */
    case 0x80: /* PAGE_EXECUTE_WRITECOPY */
        return DG_PERM_R | DG_PERM_W | DG_PERM_X;
    default:   /* PAGE_NOACCESS, 0, combinations */
        return 0;
    }
}

static void
add_perm(struct md *c, uint64_t va, uint64_t end, unsigned perms, uint64_t off)
{
    if (perms == 0 || end <= va)
        return;
    if (c->n_perms == c->cap_perms) {
        size_t cap = c->cap_perms ? 2 * c->cap_perms : 64;
        struct md_perm *p;

        if (c->n_perms >= MD_PERMS_MAX) {
            if (!c->perms_full)
                warn(c, off, "more than %u memory protection ranges; the rest are ignored",
                     MD_PERMS_MAX);
            c->perms_full = true;
            return;
        }
        p = realloc(c->perms, cap * sizeof *p);
        if (p == NULL) {
            c->perms_full = true;
            return;
        }
        c->perms = p;
        c->cap_perms = cap;
    }
    c->perms[c->n_perms++] = (struct md_perm){va, end, perms};
}

static int
cmp_perm(const void *a, const void *b)
{
    const struct md_perm *x = a, *y = b;

    return x->va < y->va ? -1 : x->va > y->va;
}

/* Permissions of the range holding va, or 0. */
static unsigned
perms_at(const struct md *c, uint64_t va)
{
    size_t lo = 0, hi = c->n_perms;

    while (lo < hi) { /* first entry with va > the address */
        size_t mid = lo + (hi - lo) / 2;

        if (c->perms[mid].va <= va)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && va < c->perms[lo - 1].end ? c->perms[lo - 1].perms : 0;
}

/* MemoryInfoListStream: header {u32 SizeOfHeader, u32 SizeOfEntry, u64 n},
 * entries of SizeOfEntry >= 48 bytes; committed ranges give permissions. */
static void
read_memory_info(struct md *c, const struct md_stream *s)
{
    uint8_t h[16], e[MD_MEMINFO_SIZE];
    uint32_t hsz, esz;
    uint64_t n;

    if (s->size < 16 || !rd(c, s->rva, h, 16)) {
        if (s->size < 16 || !c->miss)
            warn(c, s->rva, "MemoryInfoList stream at offset %u: too short for its header",
                 (unsigned)s->rva);
        return;
    }
    hsz = le32(h);
    esz = le32(h + 4);
    n = le64(h + 8);
    if (hsz < 16 || esz < MD_MEMINFO_SIZE || hsz > s->size ||
        n != (s->size - hsz) / esz || (s->size - hsz) % esz != 0) {
        warn(c, s->rva,
             "MemoryInfoList stream at offset %u: header size %u, entry size %u and count %llu "
             "do not match DataSize %u; permissions not read",
             (unsigned)s->rva, (unsigned)hsz, (unsigned)esz, (unsigned long long)n,
             (unsigned)s->size);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = (uint64_t)s->rva + hsz + i * esz;
        uint64_t base, size;

        if (!rd(c, off, e, sizeof e)) {
            if (!c->miss)
                warn(c, off, "MemoryInfoList entry %llu at offset %llu is past the end of the file",
                     (unsigned long long)i, (unsigned long long)off);
            return;
        }
        base = le64(e);
        size = le64(e + 24);
        if (le32(e + 32) == 0x1000u) /* MEM_COMMIT */
            add_perm(c, base, size > UINT64_MAX - base ? UINT64_MAX : base + size,
                     page_perms(le32(e + 36)), off);
        if (c->perms_full)
            return;
    }
}

static unsigned
maps_perms(const char *p)
{
    return (p[0] == 'r' ? DG_PERM_R : 0) | (p[1] == 'w' ? DG_PERM_W : 0) |
           (p[2] == 'x' ? DG_PERM_X : 0);
}

static uint64_t
hex64(const char **pp, bool *ok)
{
    const char *p = *pp;
    uint64_t v = 0;
    int nd = 0;

    for (;; p++, nd++) {
        unsigned dgt;

        if (*p >= '0' && *p <= '9')
            dgt = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            dgt = (unsigned)(*p - 'a' + 10);
        else if (*p >= 'A' && *p <= 'F')
            dgt = (unsigned)(*p - 'A' + 10);
        else
            break;
        if (nd >= 16)
            *ok = false;
        v = v << 4 | dgt;
    }
    if (nd == 0)
        *ok = false;
    *pp = p;
    return v;
}

/* Parses one /proc/PID/maps line "start-end perms offset dev inode [path]"
 * (NUL-terminated, modified in place); returns false if it is not one. */
static bool
parse_maps_line(char *line, struct md_map *m, unsigned *perms)
{
    const char *p = line;
    bool ok = true;
    char *name;

    m->va = hex64(&p, &ok);
    if (!ok || *p++ != '-')
        return false;
    m->end = hex64(&p, &ok);
    if (!ok || *p++ != ' ' || strlen(p) < 4 || m->end <= m->va)
        return false;
    *perms = maps_perms(p);
    for (int field = 0; field < 4; field++) { /* perms, offset, dev, inode */
        while (*p != '\0' && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    name = line + (p - line);
    for (size_t k = strlen(name); k > 0 && (name[k - 1] == ' ' || name[k - 1] == '\r'); k--)
        name[k - 1] = '\0';
    m->name = name;
    if (name[0] == '\0')
        m->kind = DG_SPAN_ANON;
    else if (strcmp(name, "[heap]") == 0)
        m->kind = DG_SPAN_HEAP;
    else if (strncmp(name, "[stack", 6) == 0)
        m->kind = DG_SPAN_STACK;
    else if (strcmp(name, "[vdso]") == 0 || strcmp(name, "[vvar]") == 0 ||
             strcmp(name, "[vsyscall]") == 0)
        m->kind = DG_SPAN_VDSO;
    else if (name[0] == '/' && !regions_shared_memory(name))
        m->kind = DG_SPAN_FILE;
    else
        m->kind = DG_SPAN_ANON;
    return true;
}

/* LinuxMaps (Breakpad): the text of /proc/PID/maps. Keeps the parsed lines
 * in c->maps for naming and adds their permissions. */
static void
read_linux_maps(struct md *c, const struct md_stream *s)
{
    size_t len = s->avail > MD_MAPS_MAX ? MD_MAPS_MAX : (size_t)s->avail;
    size_t n_lines = 0, bad = 0, first_bad = 0;
    char *t;

    if (len == 0)
        return;
    if (len < s->avail)
        warn(c, s->rva, "LinuxMaps stream at offset %u: only the first %zu of %llu bytes are read",
             (unsigned)s->rva, len, (unsigned long long)s->avail);
    t = malloc(len + 1);
    if (t == NULL)
        return;
    if (rd_some(c, s->rva, t, len, &len) != DG_OK || len == 0) {
        free(t);
        return;
    }
    t[len] = '\0';
    for (size_t i = 0; i < len; i++)
        n_lines += t[i] == '\n';
    n_lines++;
    c->maps = calloc(n_lines, sizeof *c->maps);
    if (c->maps == NULL) {
        free(t);
        return;
    }
    c->maps_text = t;
    for (char *line = t; line != NULL && line < t + len;) {
        char *nl = memchr(line, '\n', (size_t)(t + len - line));
        struct md_map m;
        unsigned perms;

        if (nl != NULL)
            *nl = '\0';
        if (line[0] != '\0') {
            if (parse_maps_line(line, &m, &perms)) {
                c->maps[c->n_maps++] = m;
                add_perm(c, m.va, m.end, perms, s->rva + (uint64_t)(line - t));
            } else if (bad++ == 0) {
                first_bad = (size_t)(line - t);
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (bad > 0)
        warn(c, s->rva + (uint64_t)first_bad,
             "LinuxMaps stream at offset %u: %zu lines are not /proc/PID/maps lines "
             "(first at offset %llu)",
             (unsigned)s->rva, bad, (unsigned long long)(s->rva + (uint64_t)first_bad));
}

/* Claims one memory range [rva, rva+size) <-> [va, va+size) for entry i of a
 * memory list whose descriptor is at desc. Returns the bytes past the end of
 * the file (also added as unreadable). */
static uint64_t
claim_memory(struct md *c, uint64_t off, uint64_t size, uint64_t va, uint32_t index,
             uint64_t desc, const char *list)
{
    struct dg_region r = {
        .off = off, .len = size, .va = va, .has_va = true, .kind = DG_SPAN_MEMORY,
        .name = NULL, .thread = -1, .index = index,
    };
    uint64_t missing = 0;

    if (size == 0)
        return 0;
    if (in_metadata(c, off, size)) {
        warn(c, desc, "%s range %u (descriptor at offset %llu): file offset %llu lies in the "
             "minidump header or stream directory; range ignored",
             list, (unsigned)index, (unsigned long long)desc, (unsigned long long)off);
        return 0;
    }
    if (off >= c->end)
        missing = size;
    else if (size > c->end - off)
        missing = size - (c->end - off);
    if (missing > 0)
        regions_add_unreadable(c->map, missing);
    r.perms = perms_at(c, va);
    claim(c, &r, REGIONS_PRIO_MEMORY);
    return missing;
}

/* MemoryListStream: {u32 n, [pad], MINIDUMP_MEMORY_DESCRIPTOR[n]}. */
static void
read_memory_list(struct md *c, const struct md_stream *s)
{
    uint8_t buf[MD_BATCH * MD_MEMDESC_SIZE];
    uint64_t first, missing = 0, first_missing = 0;
    uint32_t n, n_missing = 0;

    if (!list_header(c, s, MD_MEMDESC_SIZE, &n, &first))
        return;
    for (uint32_t i = 0; i < n;) {
        size_t k = n - i < MD_BATCH ? n - i : MD_BATCH;
        size_t got = read_batch(c, first, i, k, MD_MEMDESC_SIZE, buf);

        for (size_t j = 0; j < got; j++, i++) {
            const uint8_t *e = buf + j * MD_MEMDESC_SIZE;
            uint64_t desc = first + (uint64_t)i * MD_MEMDESC_SIZE;
            uint64_t m = claim_memory(c, le32(e + 12), le32(e + 8), le64(e), i, desc, "MemoryList");

            if (m > 0 && n_missing++ == 0)
                first_missing = desc;
            missing += m;
        }
        if (got < k) {
            if (!c->miss)
                warn(c, first + (uint64_t)i * MD_MEMDESC_SIZE,
                     "MemoryList stream at offset %u: descriptors %u..%u are past the end of "
                     "the file",
                     (unsigned)s->rva, (unsigned)i, (unsigned)(n - 1));
            break;
        }
    }
    if (n_missing > 0)
        warn(c, first_missing,
             "MemoryList: %u ranges run past the end of the file (%llu bytes missing; first "
             "descriptor at offset %llu)",
             (unsigned)n_missing, (unsigned long long)missing, (unsigned long long)first_missing);
}

/* Memory64ListStream: {u64 n, u64 BaseRva, {u64 Start, u64 DataSize}[n]};
 * range i lies at BaseRva + the sizes of ranges 0..i-1. */
static void
read_memory64_list(struct md *c, const struct md_stream *s)
{
    uint8_t h[16], buf[MD_BATCH * MD_MEMDESC_SIZE];
    uint64_t n, base, off, missing = 0, first = (uint64_t)s->rva + 16;
    uint64_t n_missing = 0, first_missing = 0;

    if (s->size < 16 || !rd(c, s->rva, h, 16)) {
        if (s->size < 16 || !c->miss)
            warn(c, s->rva, "Memory64List stream at offset %u: too short (%u bytes) for its header",
                 (unsigned)s->rva, (unsigned)s->size);
        return;
    }
    n = le64(h);
    base = le64(h + 8);
    if (n != (s->size - 16) / MD_MEMDESC_SIZE || (s->size - 16) % MD_MEMDESC_SIZE != 0) {
        warn(c, s->rva,
             "Memory64List stream at offset %u: count %llu does not match DataSize %u "
             "(entries of 16 bytes); list skipped, stream body scanned as bytes",
             (unsigned)s->rva, (unsigned long long)n, (unsigned)s->size);
        return;
    }
    if (base >= c->end)
        warn(c, s->rva + 8,
             "Memory64List stream at offset %u: BaseRva %llu is past the end of the file "
             "(%llu bytes); its memory is missing",
             (unsigned)s->rva, (unsigned long long)base, (unsigned long long)c->end);
    off = base;
    for (uint64_t i = 0; i < n;) {
        size_t k = n - i < MD_BATCH ? (size_t)(n - i) : MD_BATCH;
        size_t got = read_batch(c, first, (size_t)i, k, MD_MEMDESC_SIZE, buf);

        for (size_t j = 0; j < got; j++, i++) {
            const uint8_t *e = buf + j * MD_MEMDESC_SIZE;
            uint64_t va = le64(e), size = le64(e + 8), m;
            uint64_t desc = first + i * MD_MEMDESC_SIZE;

            if (size > UINT64_MAX - off) {
                warn(c, desc,
                     "Memory64List range %llu (descriptor at offset %llu): DataSize %llu "
                     "overflows the file offset; the rest of the list is ignored",
                     (unsigned long long)i, (unsigned long long)desc, (unsigned long long)size);
                goto done;
            }
            if (i > UINT32_MAX) {
                warn(c, desc, "Memory64List: more than 2^32 ranges; the rest are ignored");
                goto done;
            }
            m = claim_memory(c, off, size, va, (uint32_t)i, desc, "Memory64List");
            if (m > 0 && n_missing++ == 0)
                first_missing = desc;
            missing += m;
            off += size;
            if (c->fatal != DG_OK)
                goto done;
        }
        if (got < k) {
            if (!c->miss)
                warn(c, first + i * MD_MEMDESC_SIZE,
                     "Memory64List stream at offset %u: descriptors %llu..%llu are past the end "
                     "of the file",
                     (unsigned)s->rva, (unsigned long long)i, (unsigned long long)(n - 1));
            break;
        }
    }
done:
    if (n_missing > 0 && base < c->end)
        warn(c, first_missing,
             "Memory64List: %llu ranges run past the end of the file (%llu bytes missing; first "
             "descriptor at offset %llu): truncated dump?",
             (unsigned long long)n_missing, (unsigned long long)missing,
             (unsigned long long)first_missing);
}

/* Claims a CPU context {u32 DataSize, u32 Rva} described at desc. */
static void
claim_context(struct md *c, const uint8_t *loc, uint64_t desc, int64_t tid, uint32_t index,
              const char *name)
{
    uint32_t size = le32(loc), rva = le32(loc + 4);
    struct dg_region r = {
        .off = rva, .len = size, .kind = DG_SPAN_CONTEXT, .name = name, .thread = tid,
        .index = index,
    };

    if (size == 0)
        return;
    if (in_metadata(c, rva, size)) {
        warn(c, desc, "context of thread %lld (descriptor at offset %llu): RVA %u lies in the "
             "minidump header or stream directory; ignored",
             (long long)tid, (unsigned long long)desc, (unsigned)rva);
        return;
    }
    if ((uint64_t)rva + size > c->end)
        warn(c, desc, "context of thread %lld (descriptor at offset %llu): RVA %u + DataSize %u "
             "runs past the end of the file",
             (long long)tid, (unsigned long long)desc, (unsigned)rva, (unsigned)size);
    claim(c, &r, REGIONS_PRIO_META);
}

/* ThreadList / ThreadExList: contexts, stacks claimed as memory and named. */
static void
read_threads(struct md *c, const struct md_stream *s, uint32_t sz)
{
    uint8_t buf[MD_BATCH * MD_THREAD_EX_SIZE];
    uint64_t first;
    uint32_t n;

    if (!list_header(c, s, sz, &n, &first))
        return;
    c->n_threads = n;
    for (uint32_t i = 0; i < n;) {
        size_t k = n - i < MD_BATCH ? n - i : MD_BATCH;
        size_t got = read_batch(c, first, i, k, sz, buf);

        for (size_t j = 0; j < got; j++, i++) {
            const uint8_t *e = buf + j * sz;
            uint64_t desc = first + (uint64_t)i * sz;
            int64_t tid = le32(e);
            uint64_t va = le64(e + 24), size = le32(e + 32), rva = le32(e + 36);
            char name[32];
            struct dg_region r = {
                .off = rva, .len = size, .va = va, .has_va = true, .kind = DG_SPAN_STACK,
                .thread = tid, .index = i,
            };

            snprintf(name, sizeof name, "[stack:%lld]", (long long)tid);
            r.name = name;
            claim_context(c, e + 40, desc + 40, tid, i, "thread context");
            if (size == 0)
                continue;
            if (in_metadata(c, rva, size)) {
                warn(c, desc + 24, "stack of thread %lld (descriptor at offset %llu): RVA %llu "
                     "lies in the minidump header or stream directory; ignored",
                     (long long)tid, (unsigned long long)desc + 24, (unsigned long long)rva);
                continue;
            }
            if (rva + size > c->end)
                warn(c, desc + 24, "stack of thread %lld (descriptor at offset %llu): RVA %llu + "
                     "DataSize %llu runs past the end of the file",
                     (long long)tid, (unsigned long long)desc + 24, (unsigned long long)rva,
                     (unsigned long long)size);
            r.perms = perms_at(c, va);
            /* Usually a duplicate of a MemoryList range, which was claimed
             * first and wins; then only the name below applies. */
            claim(c, &r, REGIONS_PRIO_MEMORY);
            regions_name_va(c->map, va, size, DG_SPAN_STACK, name, tid);
        }
        if (got < k) {
            if (!c->miss)
                warn(c, first + (uint64_t)i * sz,
                     "ThreadList stream at offset %u: threads %u..%u are past the end of the file",
                     (unsigned)s->rva, (unsigned)i, (unsigned)(n - 1));
            break;
        }
    }
}

/* ExceptionStream: the crashing thread's context. */
static void
read_exception(struct md *c, const struct md_stream *s)
{
    uint8_t e[MD_EXCEPTION_SIZE];

    if (s->size < MD_EXCEPTION_SIZE || !rd(c, s->rva, e, sizeof e)) {
        if (s->size < MD_EXCEPTION_SIZE || !c->miss)
            warn(c, s->rva, "Exception stream at offset %u: too short (%u bytes, need %u)",
                 (unsigned)s->rva, (unsigned)s->size, MD_EXCEPTION_SIZE);
        return;
    }
    claim_context(c, e + 160, (uint64_t)s->rva + 160, le32(e), 0, "exception context");
}

/* Appends the hex of p[0..n) to out (size len). */
static void
hex_append(char *out, size_t len, const uint8_t *p, size_t n)
{
    size_t k = strlen(out);

    for (size_t i = 0; i < n && k + 2 < len; i++, k += 2)
        snprintf(out + k, len - k, "%02x", p[i]);
}

/* The identity in a module's CodeView record {u32 DataSize, u32 Rva} at loc:
 * a Breakpad 'BpEL' record gives the ELF build id (id, hex); 'RSDS' its GUID
 * and age (id, as symbol servers write them) and the PDB path (pdb); 'NB10'
 * the PDB path. Both left "" when there is none or it cannot be read. */
static void
read_codeview(struct md *c, const uint8_t *loc, char *id, size_t id_len, char *pdb,
              size_t pdb_len)
{
    uint8_t cv[MD_CV_MAX];
    uint32_t size = le32(loc), rva = le32(loc + 4);
    size_t name_at = 0;

    id[0] = pdb[0] = '\0';
    if (size < 4 || in_metadata(c, rva, size))
        return;
    if (size > sizeof cv)
        size = sizeof cv;
    if ((uint64_t)rva + size > c->end || !rd(c, rva, cv, size))
        return;
    if (memcmp(cv, "BpEL", 4) == 0) {
        hex_append(id, id_len, cv + 4, size - 4);
    } else if (memcmp(cv, "RSDS", 4) == 0 && size >= 24) {
        /* GUID as Data1-Data3 big-endian, then Data4, then the age (hex). */
        uint8_t g[16] = {cv[7], cv[6], cv[5], cv[4], cv[9], cv[8], cv[11], cv[10]};

        memcpy(g + 8, cv + 12, 8);
        hex_append(id, id_len, g, sizeof g);
        snprintf(id + strlen(id), id_len - strlen(id), "%x", (unsigned)le32(cv + 20));
        name_at = 24;
    } else if (memcmp(cv, "NB10", 4) == 0 && size >= 16) {
        name_at = 16;
    }
    if (name_at > 0 && name_at < size) {
        size_t k = 0;

        for (size_t i = name_at; i < size && cv[i] != '\0' && k + 1 < pdb_len; i++)
            pdb[k++] = cv[i] >= 0x20 && cv[i] != 0x7f ? (char)cv[i] : '?';
        pdb[k] = '\0';
    }
}

/* ModuleList: names module images, records each module with its CodeView
 * identity, and takes the process's name from the first (the executable). */
static void
read_modules(struct md *c, const struct md_stream *s)
{
    uint8_t buf[32 * MD_MODULE_SIZE];
    char name[MD_NAME_MAX];
    uint64_t first;
    uint32_t n;

    if (!list_header(c, s, MD_MODULE_SIZE, &n, &first))
        return;
    for (uint32_t i = 0; i < n;) {
        size_t k = n - i < 32 ? n - i : 32;
        size_t got = read_batch(c, first, i, k, MD_MODULE_SIZE, buf);

        for (size_t j = 0; j < got; j++, i++) {
            const uint8_t *e = buf + j * MD_MODULE_SIZE;
            uint64_t base = le64(e), size = le32(e + 8);
            uint32_t name_rva = le32(e + 20);
            char id[2 * MD_CV_MAX + 1], pdb[MD_NAME_MAX];
            struct regions_process *proc = &regions_info(c->map)->process;

            if (size == 0)
                continue;
            if (!read_string(c, name_rva, name, sizeof name) || name[0] == '\0') {
                if (!c->miss)
                    warn(c, first + (uint64_t)i * MD_MODULE_SIZE + 20,
                         "module %u: name at RVA %u cannot be read", (unsigned)i,
                         (unsigned)name_rva);
                snprintf(name, sizeof name, "module@0x%llx", (unsigned long long)base);
            }
            if (size > UINT64_MAX - base)
                size = UINT64_MAX - base;
            regions_name_va(c->map, base, size, DG_SPAN_MODULE, name, -1);
            read_codeview(c, e + 76, id, sizeof id, pdb, sizeof pdb);
            if (regions_add_module(c->map, base, size, 0, name, id[0] ? id : NULL,
                                   pdb[0] ? pdb : NULL) == DG_OK && proc->n_modules++ == 0) {
                const char *slash = strrchr(name, '/'), *bslash = strrchr(name, '\\');
                const char *base_name = slash > bslash ? slash : bslash;

                proc->known = true;
                dg_strlcpyf(proc->name, sizeof proc->name, "%s",
                            base_name != NULL ? base_name + 1 : name);
            }
        }
        if (got < k) {
            if (!c->miss)
                warn(c, first + (uint64_t)i * MD_MODULE_SIZE,
                     "ModuleList stream at offset %u: modules %u..%u are past the end of the file",
                     (unsigned)s->rva, (unsigned)i, (unsigned)(n - 1));
            break;
        }
    }
}

/* MiscInfoStream: the process id (when Flags1 has MINIDUMP_MISC1_PROCESS_ID). */
static void
read_misc_info(struct md *c, const struct md_stream *s)
{
    uint8_t b[12];

    if (s->size < sizeof b || !rd(c, s->rva, b, sizeof b))
        return;
    if (le32(b + 4) & 1u) {
        regions_info(c->map)->process.known = true;
        regions_info(c->map)->process.pid = le32(b + 8);
    }
}

/* ThreadNamesStream: {u32 count, {u32 ThreadId, u64 RvaOfThreadName}[count]},
 * each name a MINIDUMP_STRING. */
static void
read_thread_names(struct md *c, const struct md_stream *s)
{
    uint8_t buf[MD_BATCH * MD_THREAD_NAME_SIZE];
    char name[MD_NAME_MAX];
    uint64_t first;
    uint32_t n;

    if (!list_header(c, s, MD_THREAD_NAME_SIZE, &n, &first))
        return;
    for (uint32_t i = 0; i < n;) {
        size_t k = n - i < MD_BATCH ? n - i : MD_BATCH;
        size_t got = read_batch(c, first, i, k, MD_THREAD_NAME_SIZE, buf);

        for (size_t j = 0; j < got; j++, i++) {
            const uint8_t *e = buf + j * MD_THREAD_NAME_SIZE;
            uint64_t rva = le64(e + 4);

            if (rva <= UINT32_MAX && read_string(c, (uint32_t)rva, name, sizeof name) &&
                name[0] != '\0' && regions_set_thread_name(c->map, le32(e), name) != DG_OK)
                return;
        }
        if (got < k)
            return;
    }
}

static const char *
arch_name(unsigned arch, unsigned *word)
{
    switch (arch) {
    case 0: *word = 4; return "x86";
    case 1: *word = 4; return "MIPS";
    case 3: *word = 4; return "PPC";
    case 5: *word = 4; return "ARM";
    case 6: *word = 8; return "IA64";
    case 9: *word = 8; return "AMD64";
    case 10: *word = 4; return "x86-on-Win64";
    case 12: case 0x8003: *word = 8; return "ARM64";
    case 0x8001: *word = 4; return "SPARC";
    case 0x8002: *word = 8; return "PPC64";
    case 0x8004: *word = 8; return "MIPS64";
    case 0x8005: *word = 4; return "RISC-V";
    case 0x8006: *word = 8; return "RISC-V64";
    default: *word = 0; return NULL;
    }
}

static const char *
platform_name(unsigned id)
{
    switch (id) {
    case 0: case 1: case 2: return "Windows";
    case 3: return "Windows CE";
    case 0x8000: return "Unix";
    case 0x8101: return "macOS";
    case 0x8102: return "iOS";
    case 0x8201: return "Linux";
    case 0x8202: return "Solaris";
    case 0x8203: return "Android";
    case 0x8204: return "PS3";
    case 0x8205: return "NaCl";
    case 0x8206: return "Fuchsia";
    default: return NULL;
    }
}

/* Fills regions_info() from the directory and SystemInfo. */
static void
fill_info(struct md *c, const struct md_stream *sys, bool full_memory)
{
    struct regions_info *info = regions_info(c->map);
    unsigned n_streams = 0, word = 0;
    const char *arch = NULL, *os = NULL;
    char archbuf[24] = "", osbuf[24] = "";

    for (size_t i = 0; i < c->n_dir; i++)
        n_streams += c->dir[i].type != 0;
    if (sys != NULL) {
        uint8_t b[MD_SYSINFO_SIZE];

        if (sys->size < 24 || !rd(c, sys->rva, b, 24)) {
            if (sys->size < 24 || !c->miss)
                warn(c, sys->rva, "SystemInfo stream at offset %u: too short (%u bytes)",
                     (unsigned)sys->rva, (unsigned)sys->size);
        } else {
            arch = arch_name(le16(b), &word);
            os = platform_name(le32(b + 20));
            if (arch == NULL) {
                snprintf(archbuf, sizeof archbuf, "arch 0x%x", (unsigned)le16(b));
                arch = archbuf;
            }
            if (os == NULL) {
                snprintf(osbuf, sizeof osbuf, "platform 0x%x", (unsigned)le32(b + 20));
                os = osbuf;
            }
        }
    }
    if (info == NULL)
        return;
    info->format = "minidump";
    info->word_size = word;
    info->big_endian = false;
    info->n_threads = c->n_threads;
    snprintf(info->detail, sizeof info->detail, "minidump, %u streams%s%s%s%s%s", n_streams,
             arch ? ", " : "", arch ? arch : "", os ? ", " : "", os ? os : "",
             full_memory ? ", full memory" : "");
}

/* A small slot number for stream types with a name (duplicates of those are
 * suspicious; unknown types may legitimately repeat), or -1. */
#define MD_N_SLOTS 43
static int
type_slot(uint32_t t)
{
    if (t < 25)
        return (int)t;
    if (t > 0x47670000u && t <= 0x4767000au)
        return 25 + (int)(t - 0x47670000u);
    if (t > 0x4d7a0000u && t <= 0x4d7a0004u)
        return 36 + (int)(t - 0x4d7a0000u);
    if (t == 0x43500001u)
        return 41;
    if (t == 0x4b6b0002u)
        return 42;
    return -1;
}

/* Reads the header and the directory and claims both. Returns DG_OK, or an
 * error (already in c->d) when the header cannot be used. */
static dg_err
read_directory(struct md *c)
{
    uint8_t h[MINIDUMP_HEADER_SIZE];
    uint8_t buf[MD_BATCH * MD_DIR_ENTRY];
    uint64_t n, dir_rva, fit, body_min;
    struct dg_region r = {.kind = DG_SPAN_HEADER, .thread = -1};

    if (!rd(c, 0, h, sizeof h))
        return dg_diag(c->d, DG_E_BAD_MINIDUMP, 0,
                       "%s: minidump header truncated: the file has %llu bytes, the header "
                       "needs %u",
                       c->in->name, (unsigned long long)c->known, MINIDUMP_HEADER_SIZE);
    if ((le32(h + 4) & 0xffffu) != MD_VERSION)
        warn(c, 4, "minidump header: version 0x%08x, expected low half 0x%04x",
             (unsigned)le32(h + 4), MD_VERSION);
    n = le32(h + 8);
    dir_rva = le32(h + 12);
    r.off = 0;
    r.len = MINIDUMP_HEADER_SIZE;
    r.name = "minidump header";
    if (n == 0) {
        warn(c, 8, "minidump header: NumberOfStreams is 0");
        claim(c, &r, REGIONS_PRIO_META);
        return c->fatal;
    }
    if (!rd(c, dir_rva, buf, MD_DIR_ENTRY)) {
        if (c->miss)
            return dg_diag(c->d, DG_E_BAD_MINIDUMP, 12,
                           "%s: minidump stream directory at offset %llu lies beyond the %u "
                           "bytes kept of the stream",
                           c->in->name, (unsigned long long)dir_rva, INPUT_HEAD_MAX);
        return dg_diag(c->d, DG_E_BAD_MINIDUMP, 12,
                       "%s: minidump stream directory at offset %llu (%llu entries) lies outside "
                       "the file (%llu bytes)",
                       c->in->name, (unsigned long long)dir_rva, (unsigned long long)n,
                       (unsigned long long)c->known);
    }
    if (dir_rva < MINIDUMP_HEADER_SIZE)
        warn(c, 12, "minidump header: stream directory at offset %llu overlaps the header",
             (unsigned long long)dir_rva);
    if (c->end != UINT64_MAX && n > (fit = (c->end - dir_rva) / MD_DIR_ENTRY)) {
        warn(c, 8,
             "minidump header: NumberOfStreams %llu, but only %llu directory entries at "
             "offset %llu fit in the file; reading %llu",
             (unsigned long long)n, (unsigned long long)fit, (unsigned long long)dir_rva,
             (unsigned long long)(fit < MINIDUMP_MAX_STREAMS ? fit : MINIDUMP_MAX_STREAMS));
        n = fit;
    }
    if (n > MINIDUMP_MAX_STREAMS) {
        warn(c, 8, "minidump header: %llu directory entries; only the first %u are read",
             (unsigned long long)n, MINIDUMP_MAX_STREAMS);
        n = MINIDUMP_MAX_STREAMS;
    }
    c->dir = calloc((size_t)n, sizeof *c->dir);
    if (c->dir == NULL)
        return dg_diag(c->d, DG_E_NOMEM, 8,
                       "%s: minidump: no memory for %llu directory entries", c->in->name,
                       (unsigned long long)n);
    /* An entry can't lie inside the body of a stream an earlier entry
     * placed after itself: there an oversized count ran into the data. */
    body_min = UINT64_MAX;
    for (size_t i = 0; i < n;) {
        size_t k = n - i < MD_BATCH ? (size_t)n - i : MD_BATCH;
        size_t got = read_batch(c, dir_rva, i, k, MD_DIR_ENTRY, buf);

        for (size_t j = 0; j < got; j++, i++) {
            struct md_stream *s = &c->dir[c->n_dir];
            uint64_t at = dir_rva + (uint64_t)i * MD_DIR_ENTRY;

            if (at + MD_DIR_ENTRY > body_min) {
                warn(c, at,
                     "minidump directory entry %zu at offset %llu lies in the body of a stream "
                     "(NumberOfStreams %u is too large); reading %zu entries",
                     i, (unsigned long long)at, (unsigned)le32(h + 8), i);
                goto read;
            }
            s->type = le32(buf + j * MD_DIR_ENTRY);
            s->size = le32(buf + j * MD_DIR_ENTRY + 4);
            s->rva = le32(buf + j * MD_DIR_ENTRY + 8);
            if (s->type != 0 && s->size != 0 && s->rva >= at + MD_DIR_ENTRY && s->rva < body_min)
                body_min = s->rva;
            c->n_dir++;
        }
        if (got < k)
            break; /* only a stream can end here; c->unavailable tells */
    }
read:
    c->dir_off = dir_rva;
    c->dir_len = c->n_dir * MD_DIR_ENTRY;
    claim(c, &r, REGIONS_PRIO_META);
    r.off = dir_rva;
    r.len = c->dir_len;
    r.name = "stream directory";
    claim(c, &r, REGIONS_PRIO_META);
    return c->fatal;
}

/* Validates every directory entry and claims the stream bodies. */
static void
check_streams(struct md *c)
{
    size_t first[MD_N_SLOTS];

    for (size_t k = 0; k < MD_N_SLOTS; k++)
        first[k] = SIZE_MAX;
    for (size_t i = 0; i < c->n_dir; i++) {
        struct md_stream *s = &c->dir[i];
        uint64_t entry = c->dir_off + i * MD_DIR_ENTRY;
        uint64_t body_end = (uint64_t)s->rva + s->size;
        char nb[32];
        const char *name = stream_name(s->type, nb, sizeof nb);
        int slot;
        struct dg_region r = {
            .off = s->rva, .len = s->size, .kind = DG_SPAN_STREAM, .name = name, .thread = -1,
            .index = (uint32_t)i,
        };

        if (s->type == 0 || s->size == 0)
            continue; /* unused slots; nothing to claim */
        if (s->rva >= c->end) {
            warn(c, entry,
                 "directory entry %zu (%s) at offset %llu: RVA %u is past the end of the file "
                 "(%llu bytes)",
                 i, name, (unsigned long long)entry, (unsigned)s->rva,
                 (unsigned long long)c->end);
            continue;
        }
        s->avail = body_end > c->end ? c->end - s->rva : s->size;
        if (body_end > c->end)
            warn(c, entry,
                 "directory entry %zu (%s) at offset %llu: RVA %u + DataSize %u runs %llu bytes "
                 "past the end of the file (%llu bytes)",
                 i, name, (unsigned long long)entry, (unsigned)s->rva, (unsigned)s->size,
                 (unsigned long long)(body_end - c->end), (unsigned long long)c->end);
        if (in_metadata(c, s->rva, s->size)) {
            warn(c, entry,
                 "directory entry %zu (%s) at offset %llu: stream body at offset %u overlaps the "
                 "minidump header or the stream directory; not parsed",
                 i, name, (unsigned long long)entry, (unsigned)s->rva);
            claim(c, &r, REGIONS_PRIO_META); /* header/directory claims came first and win */
            continue;
        }
        s->usable = true;
        slot = type_slot(s->type);
        if (slot >= 0 && first[slot] != SIZE_MAX) {
            s->dup = true;
            warn(c, entry,
                 "directory entry %zu at offset %llu: duplicate %s stream (first at entry %zu)",
                 i, (unsigned long long)entry, name, first[slot]);
        } else if (slot >= 0) {
            first[slot] = i;
        }
        claim(c, &r, REGIONS_PRIO_META);
    }
}

/* The first usable, non-duplicate stream of type t, or NULL. */
static const struct md_stream *
find_stream(const struct md *c, uint32_t t)
{
    for (size_t i = 0; i < c->n_dir; i++)
        if (c->dir[i].type == t && c->dir[i].usable && !c->dir[i].dup)
            return &c->dir[i];
    return NULL;
}

bool
minidump_probe(const uint8_t *p, size_t n)
{
    return n >= 4 && (memcmp(p, "MDMP", 4) == 0 || memcmp(p, "PMDM", 4) == 0);
}

dg_err
minidump_read(const struct dg_input *in, struct dg_regions *map, struct dg_diag *d)
{
    struct md c = {.in = in, .map = map, .d = d};
    const struct md_stream *s;
    uint8_t sig[4];
    bool full_memory = false;
    dg_err rc;

    refresh(&c);
    if (!rd(&c, 0, sig, 4) || !minidump_probe(sig, 4))
        return dg_diag(d, DG_E_BAD_MINIDUMP, 0, "%s: not a minidump: no MDMP signature",
                       in->name);
    if (memcmp(sig, "PMDM", 4) == 0)
        return dg_diag(d, DG_E_UNSUPPORTED, 0,
                       "%s: big-endian minidump ('PMDM') recognised but not supported", in->name);
    rc = read_directory(&c);
    if (rc != DG_OK)
        goto out;
    check_streams(&c);

    if ((s = find_stream(&c, MD_MEMORY_INFO_LIST)) != NULL)
        read_memory_info(&c, s);
    if ((s = find_stream(&c, MD_LINUX_MAPS)) != NULL)
        read_linux_maps(&c, s);
    if (c.n_perms > 1)
        qsort(c.perms, c.n_perms, sizeof *c.perms, cmp_perm);

    /* Memory first, every list (duplicates too), so that naming finds it. */
    for (size_t i = 0; i < c.n_dir && c.fatal == DG_OK; i++) {
        if (!c.dir[i].usable)
            continue;
        if (c.dir[i].type == MD_MEMORY_LIST)
            read_memory_list(&c, &c.dir[i]);
        else if (c.dir[i].type == MD_MEMORY64_LIST) {
            read_memory64_list(&c, &c.dir[i]);
            full_memory = true;
        }
    }
    /* Attribution, most specific first: stacks, modules, then maps. */
    if ((s = find_stream(&c, MD_THREAD_LIST)) != NULL)
        read_threads(&c, s, MD_THREAD_SIZE);
    else if ((s = find_stream(&c, MD_THREAD_EX_LIST)) != NULL)
        read_threads(&c, s, MD_THREAD_EX_SIZE);
    if ((s = find_stream(&c, MD_EXCEPTION)) != NULL)
        read_exception(&c, s);
    if ((s = find_stream(&c, MD_MODULE_LIST)) != NULL)
        read_modules(&c, s);
    if ((s = find_stream(&c, MD_MISC_INFO)) != NULL)
        read_misc_info(&c, s);
    if ((s = find_stream(&c, MD_THREAD_NAMES)) != NULL)
        read_thread_names(&c, s);
    for (size_t i = 0; i < c.n_maps; i++)
        if (c.maps[i].name[0] != '\0')
            regions_name_va(map, c.maps[i].va, c.maps[i].end - c.maps[i].va, c.maps[i].kind,
                            c.maps[i].name, -1);
    fill_info(&c, find_stream(&c, MD_SYSTEM_INFO), full_memory);

    if (c.unavailable) {
        struct regions_info *info = regions_info(map);

        if (info != NULL)
            info->stream_partial = true;
        dg_diag_at(d, DG_DIAG_WARNING, DG_E_BAD_MINIDUMP, c.unavail_off,
                   "%s: minidump metadata from offset %llu on lies past the first %u bytes "
                   "kept of the stream and was not read; the bytes are still scanned",
                   in->name, (unsigned long long)c.unavail_off, INPUT_HEAD_MAX);
    }
    if (c.n_quiet > 0)
        dg_diag_at(d, DG_DIAG_WARNING, DG_E_BAD_MINIDUMP, DG_NO_OFFSET,
                   "%s: %u further minidump problems not reported", in->name, c.n_quiet);
    rc = c.fatal;
out:
    free(c.dir);
    free(c.perms);
    free(c.maps);
    free(c.maps_text);
    return rc;
}
