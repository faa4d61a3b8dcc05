/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * where.c - attribution of findings (see where.h): thread, module, build
 * id, section, ELF symbol and DWARF variable of each finding's address.
 *
 * Threads come from the region map (a stack named by NT_PRSTATUS or the
 * minidump ThreadList; names from ThreadNames). Modules of a minidump come
 * from its ModuleList and CodeView records (regions_module_at()). Modules of
 * an ELF core come from NT_FILE (regions_module_at()): for the module around
 * a finding, the build id is read from the ELF header page the dump holds at
 * the module's base; the file at the NT_FILE path is opened only when it is
 * a regular file (a dump may name a FIFO) and used only when its build id
 * matches; its separate debug file is looked for by build id under each
 * --debug-dir and /usr/lib/debug (.build-id/xx/rest.debug) and by
 * .gnu_debuglink, and used only when its build id matches too. Section and
 * symbol come from those files through libelf, the DWARF variable through
 * dwarfvars.c (libdwarf). No libdw/libdwfl: libdw exports 34 dwarf_*
 * functions under the same names as libdwarf (dwarf_tag, dwarf_child,
 * dwarf_attr, ...), so a program linked with both calls one library's
 * function with the other's arguments. A finding on the heap or in an
 * anonymous mapping gets the pointer path from a root (ptrpath.c): a global
 * of a module, named as above, or a thread's stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/engine_int.h"
#include "dwarfvars.h"
#include "ptrpath.h"
#include "where.h"
#include "../util/deadline.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

#define MAX_MODULES 256u      /* modules looked at per dump */
#define NO_MODULE UINT16_MAX  /* struct ctx's mod_of_entry: an entry of no module */
#define HEADER_READ 8192u     /* bytes of a module's first page read for its build id */
#define BUILD_ID_MAX 64u      /* bytes of a build id kept */
#define MAX_SYMBOLS (8u << 20) /* symbols looked at per lookup */
#define MAX_PATHS 8u          /* heap findings given a pointer path per dump */
#define MAX_COPY_PATHS 3u     /* of their other copies searched too */
#define MAX_QUERIES (MAX_PATHS * (1 + MAX_COPY_PATHS))

/* Bounds of the pointer-path search of a dump (ptrpath.h): all its heap
 * keys at once, 10 s in all. */
static const struct ptrpath_limits path_limits = {
    .max_depth = 8, .max_level_nodes = 256, .max_nodes = 4096, .max_seconds = 10.0,
    .max_offset = 512, .good_rank = 3, .extra_depth = 3,
};

/* An ELF file opened for reading. */
struct elf_file {
    int fd;
    Elf *elf;
    char path[512];
};

/* One module (a path of NT_FILE) looked at for some finding. */
struct module {
    const char *name;             /* path as the dump gives it (the map's string) */
    uint64_t base;                /* va of its file offset 0 */
    char build_id[2 * BUILD_ID_MAX + 1]; /* from the dump, hex; "" unknown */
    bool usable;                  /* main opened and its build id matches */
    struct elf_file main, debug;  /* the module's file, its separate debug file */
    uint64_t bias;                /* run-time address minus link-time address */
    uint64_t lo, hi;              /* link-time image range (PT_LOADs) */
    char note[240];               /* why it is not usable, or what is missing */
    struct dwarfvars *dv;         /* opened on first use */
    bool dv_tried;
};

struct ctx {
    struct dg_dump dump;
    const struct scan_result *r;
    const struct where_opts *o;
    /* Room for MAX_MODULES, of which the first n_mods are set: malloc'ed,
     * not zeroed, so that only the entries used cost a page (a dump's
     * findings lie in a few modules; zeroing all is 100 page faults). */
    struct module *mods;
    size_t n_mods;
    bool mods_full;
    struct ptrpath_query queries[MAX_QUERIES]; /* heap keys to find paths to */
    size_t query_of[MAX_QUERIES]; /* the finding of each query */
    size_t n_queries;
    unsigned n_path_findings;     /* findings with queries */
    double path_seconds;          /* time the search took */
    signed char *no_module;       /* per span: 1 when no module image covers it (is_root) */
    /* Per NT_FILE entry (regions_module_get()): 1 + the index in mods of
     * the module it belongs to, NO_MODULE when it has none, 0 when not yet
     * known (module_of_entry()). */
    uint16_t *mod_of_entry;
    /* The NT_FILE entries by address (module_at()): their numbers sorted by
     * va (among equal ones the first entry last, where the search for the
     * closest below lands), and the highest end of an image among each one
     * and those before it. */
    struct by_va {
        uint64_t va, max_end;
        size_t entry;
    } *by_va;
    size_t n_by_va;
};

static void
to_hex(const unsigned char *p, size_t n, char *out, size_t len)
{
    size_t k = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && k + 2 < len; i++, k += 2)
        snprintf(out + k, len - k, "%02x", p[i]);
}

/* The NT_GNU_BUILD_ID of elf (an ELF file, or the header page of a mapped
 * one) as hex in out, found through its PT_NOTE segments with libelf;
 * false when it has none. */
static bool
elf_build_id(Elf *elf, char *out, size_t len)
{
    size_t phnum;

    out[0] = '\0';
    if (elf == NULL || elf_getphdrnum(elf, &phnum) != 0)
        return false;
    for (size_t i = 0; i < phnum && i < 4096; i++) {
        GElf_Phdr ph;
        Elf_Data *d;
        size_t pos = 0, next, name_off, desc_off;
        GElf_Nhdr nh;

        if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_NOTE || ph.p_filesz == 0 ||
            ph.p_filesz > (1u << 20))
            continue;
        d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, (size_t)ph.p_filesz, ELF_T_NHDR);
        while (d != NULL && pos < d->d_size &&
               (next = gelf_getnote(d, pos, &nh, &name_off, &desc_off)) != 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                memcmp((const char *)d->d_buf + name_off, "GNU", 4) == 0 && nh.n_descsz > 0) {
                to_hex((const unsigned char *)d->d_buf + desc_off,
                       nh.n_descsz > BUILD_ID_MAX ? BUILD_ID_MAX : nh.n_descsz, out, len);
                return true;
            }
            pos = next;
        }
    }
    return false;
}

/* The build id the dump holds for the module mapped at base: the ELF
 * header page there, read through the region map. */
static void
dump_build_id(struct ctx *c, uint64_t base, char *out, size_t len)
{
    unsigned char buf[HEADER_READ];
    size_t n = sizeof buf;
    Elf *elf;

    out[0] = '\0';
    while (n >= 64 && dg_dump_read_va(&c->dump, base, buf, n) != DG_OK)
        n /= 2; /* the mapping may hold only its first page */
    if (n < 64 || memcmp(buf, ELFMAG, SELFMAG) != 0)
        return;
    if ((elf = elf_memory((char *)buf, n)) != NULL) {
        elf_build_id(elf, out, len);
        elf_end(elf);
    }
}

static void
file_close(struct elf_file *f)
{
    if (f->elf != NULL)
        elf_end(f->elf);
    if (f->fd >= 0)
        close(f->fd);
    f->elf = NULL;
    f->fd = -1;
}

/* Opens path as ELF only if it is a regular file (a dump may name a FIFO
 * or a device). want_id, when not NULL, must be its build id. Returns
 * DG_OK, or an error with why in note (len bytes). */
static dg_err
file_open(struct elf_file *f, const char *path, const char *want_id, char *note, size_t len)
{
    struct stat st;
    char id[2 * BUILD_ID_MAX + 1];

    f->elf = NULL;
    dg_strlcpyf(f->path, sizeof f->path, "%s", path);
    if ((f->fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
        dg_strlcpyf(note, len, "%s: %s", path, strerror(errno));
        return DG_E_NOT_FOUND;
    }
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        dg_strlcpyf(note, len, "%s is not a regular file; not read", path);
        file_close(f);
        return DG_E_NOT_FILE;
    }
    f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
    if (f->elf == NULL || elf_kind(f->elf) != ELF_K_ELF) {
        dg_strlcpyf(note, len, "%s is not ELF", path);
        file_close(f);
        return DG_E_FORMAT;
    }
    if (want_id != NULL) {
        elf_build_id(f->elf, id, sizeof id);
        if (strcmp(id, want_id) != 0) {
            dg_strlcpyf(note, len, "build-id mismatch: %s has %s, the dump's module %s; not used",
                        path, id[0] ? id : "none", want_id);
            file_close(f);
            return DG_E_NOT_FOUND;
        }
    }
    return DG_OK;
}

/* The section of elf named name, or NULL. */
static Elf_Scn *
section_named(Elf *elf, const char *name)
{
    size_t shstrndx;
    Elf_Scn *scn = NULL;

    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        const char *nm;

        if (gelf_getshdr(scn, &sh) != NULL && (nm = elf_strptr(elf, shstrndx, sh.sh_name)) &&
            strcmp(nm, name) == 0)
            return scn;
    }
    return NULL;
}

/* Finds m's separate debug file, its build id matching: DIR/.build-id/xx/
 * rest.debug in each --debug-dir and /usr/lib/debug, then the
 * .gnu_debuglink name beside the module, in its .debug/ and under
 * /usr/lib/debug. */
static void
find_debug(struct ctx *c, struct module *m)
{
    const char *fixed[] = {"/usr/lib/debug"};
    char path[1024], scratch[240], dir[512];
    Elf_Scn *scn;
    Elf_Data *d;
    const char *slash;

    const char *dirs[WHERE_MAX_DEBUG_DIRS + 1];
    size_t n_dirs = 0;

    for (size_t i = 0; c->o != NULL && c->o->debug_dirs != NULL && c->o->debug_dirs[i] != NULL &&
                       n_dirs < WHERE_MAX_DEBUG_DIRS;
         i++)
        dirs[n_dirs++] = c->o->debug_dirs[i];
    dirs[n_dirs++] = fixed[0];
    for (size_t i = 0; i < n_dirs && strlen(m->build_id) > 2; i++) {
        snprintf(path, sizeof path, "%s/.build-id/%.2s/%s.debug", dirs[i], m->build_id,
                 m->build_id + 2);
        if (file_open(&m->debug, path, m->build_id, scratch, sizeof scratch) == DG_OK)
            return;
    }
    if ((scn = section_named(m->main.elf, ".gnu_debuglink")) == NULL ||
        (d = elf_getdata(scn, NULL)) == NULL || d->d_size < 2 ||
        memchr(d->d_buf, '\0', d->d_size) == NULL || strchr(d->d_buf, '/') != NULL)
        return;
    slash = strrchr(m->main.path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash != NULL ? (int)(slash - m->main.path) : 1,
             slash != NULL ? m->main.path : ".");
    {
        const char *fmt[] = {"%s/%s", "%s/.debug/%s", "/usr/lib/debug%s/%s"};

        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, fmt[k], dir, (const char *)d->d_buf);
            if (strcmp(path, m->main.path) != 0 &&
                file_open(&m->debug, path, m->build_id, scratch, sizeof scratch) == DG_OK)
                return;
        }
    }
}

/* Link-time image range of elf (its PT_LOADs) and the bias that places it
 * at base (ET_DYN) or where it is linked (ET_EXEC). */
static bool
image_range(struct module *m)
{
    GElf_Ehdr eh;
    size_t phnum;
    uint64_t lo = UINT64_MAX, hi = 0;

    if (gelf_getehdr(m->main.elf, &eh) == NULL || elf_getphdrnum(m->main.elf, &phnum) != 0)
        return false;
    for (size_t i = 0; i < phnum && i < 4096; i++) {
        GElf_Phdr ph;

        if (gelf_getphdr(m->main.elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
            continue;
        if (ph.p_vaddr < lo)
            lo = ph.p_vaddr;
        if (ph.p_vaddr + ph.p_memsz > hi && ph.p_vaddr + ph.p_memsz >= ph.p_vaddr)
            hi = ph.p_vaddr + ph.p_memsz;
    }
    if (lo >= hi)
        return false;
    lo &= ~(uint64_t)0xfff;
    m->lo = lo;
    m->hi = hi;
    m->bias = eh.e_type == ET_DYN ? m->base - lo : 0;
    return true;
}

/* Looks at module m: its build id from the dump, and its file when the
 * build ids match, then its separate debug file. */
static void
load_module(struct ctx *c, struct module *m)
{
    m->main.fd = m->debug.fd = -1;
    dump_build_id(c, m->base, m->build_id, sizeof m->build_id);
    if (strstr(m->name, " (deleted)") != NULL) {
        dg_strlcpyf(m->note, sizeof m->note, "the module file was deleted after it was mapped");
        return;
    }
    if (m->build_id[0] == '\0') {
        dg_strlcpyf(m->note, sizeof m->note,
                    "the dump holds no build id for this module; its file is not used");
        return;
    }
    if (file_open(&m->main, m->name, m->build_id, m->note, sizeof m->note) != DG_OK)
        return;
    if (!image_range(m)) {
        dg_strlcpyf(m->note, sizeof m->note, "%s has no loadable segments", m->name);
        file_close(&m->main);
        return;
    }
    m->usable = true;
    if (section_named(m->main.elf, ".debug_info") == NULL)
        find_debug(c, m);
}

/* The module that NT_FILE entry e (number i) belongs to: the file mapped
 * at the lowest address from its offset 0, loaded on first use. NULL when
 * it has none, or MAX_MODULES are loaded. Remembered per entry: the roots
 * of a pointer search ask thousands of times. */
static struct module *
module_of_entry(struct ctx *c, const struct regions_module *e, size_t i)
{
    const struct dg_regions *map = c->r->map;
    uint64_t base = UINT64_MAX;
    struct module *m = NULL;

    if (c->mod_of_entry[i] == NO_MODULE)
        return NULL;
    if (c->mod_of_entry[i] != 0)
        return &c->mods[c->mod_of_entry[i] - 1];
    if (e->name == NULL)
        return NULL;
    for (size_t k = 0; k < regions_module_count(map); k++) {
        const struct regions_module *o = regions_module_get(map, k);

        if (o->name != NULL && o->file_off == 0 && o->va < base && strcmp(o->name, e->name) == 0)
            base = o->va;
    }
    if (base == UINT64_MAX) {
        c->mod_of_entry[i] = NO_MODULE;
        return NULL;
    }
    for (size_t k = 0; k < c->n_mods && m == NULL; k++)
        if (c->mods[k].base == base && strcmp(c->mods[k].name, e->name) == 0)
            m = &c->mods[k];
    if (m == NULL) {
        if (c->n_mods == MAX_MODULES) {
            c->mods_full = true;
            return NULL;
        }
        m = &c->mods[c->n_mods++];
        *m = (struct module){.name = e->name, .base = base};
        load_module(c, m);
    }
    c->mod_of_entry[i] = (uint16_t)(m - c->mods + 1);
    return m;
}

static int
cmp_by_va(const void *a, const void *b)
{
    const struct by_va *x = a, *y = b;

    if (x->va != y->va)
        return x->va < y->va ? -1 : 1;
    return x->entry < y->entry ? 1 : x->entry > y->entry ? -1 : 0; /* the first last */
}

/* struct ctx's by_va, from the dump's NT_FILE entries. */
static dg_err
by_va_build(struct ctx *c)
{
    const struct dg_regions *map = c->r->map;
    size_t n = regions_module_count(map);
    uint64_t max_end = 0;

    if ((c->by_va = calloc(n + 1, sizeof *c->by_va)) == NULL)
        return DG_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        c->by_va[i] = (struct by_va){.va = regions_module_get(map, i)->va, .entry = i};
    qsort(c->by_va, n, sizeof *c->by_va, cmp_by_va);
    for (size_t k = 0; k < n; k++) {
        const struct regions_module *e = regions_module_get(map, c->by_va[k].entry);
        uint64_t end = e->va + e->size >= e->va ? e->va + e->size : UINT64_MAX;

        max_end = end > max_end ? end : max_end;
        c->by_va[k].max_end = max_end;
    }
    c->n_by_va = n;
    return DG_OK;
}

/* The module whose image holds va: the NT_FILE path mapped around va, or
 * (for .bss past the file's last page) the nearest module below va whose
 * ELF image covers it. NULL when there is none. The roots of a pointer
 * search ask thousands of times: the entries are searched by address
 * (by_va), and only where images overlap in turn. */
static struct module *
module_at(struct ctx *c, uint64_t va)
{
    const struct dg_regions *map = c->r->map;
    const struct regions_module *hit = NULL, *best = NULL;
    size_t lo = 0, hi = c->n_by_va;
    struct module *m;

    while (lo < hi) { /* the first entry above va */
        size_t mid = lo + (hi - lo) / 2;

        if (c->by_va[mid].va <= va)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0) {
        /* the closest mapping below va: the first entry of the highest
         * address (sorted last among its equals) */
        best = regions_module_get(map, c->by_va[lo - 1].entry);
        if (lo > 1 && c->by_va[lo - 2].max_end > va) /* images overlap: the first in order */
            hit = regions_module_at(map, va);
        else if (va - best->va < best->size)
            hit = best;
        best = hit != NULL ? hit : best;
    }
    if (best == NULL ||
        (m = module_of_entry(c, best, (size_t)(best - regions_module_get(map, 0)))) == NULL)
        return NULL;
    if (hit != NULL)
        return m;
    return m->usable && va - m->bias >= m->lo && va - m->bias < m->hi ? m : NULL;
}

/* The SHF_ALLOC section of elf holding link-time address a, into out. */
static bool
section_of(Elf *elf, uint64_t a, char *out, size_t len)
{
    size_t shstrndx;
    Elf_Scn *scn = NULL;

    if (elf == NULL || elf_getshdrstrndx(elf, &shstrndx) != 0)
        return false;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        const char *nm;

        if (gelf_getshdr(scn, &sh) != NULL && (sh.sh_flags & SHF_ALLOC) && sh.sh_addr <= a &&
            a - sh.sh_addr < sh.sh_size && !(sh.sh_flags & SHF_TLS) &&
            (nm = elf_strptr(elf, shstrndx, sh.sh_name)) != NULL) {
            dg_strlcpyf(out, len, "%s", nm);
            return true;
        }
    }
    return false;
}

/* The data or function symbol of elf's table of type `type` (SHT_SYMTAB or
 * SHT_DYNSYM) covering link-time address a: "name" or "name+0xoff". */
static bool
symbol_of(Elf *elf, unsigned type, uint64_t a, char *out, size_t len)
{
    Elf_Scn *scn = NULL;

    while (elf != NULL && (scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        Elf_Data *d;
        size_t n;

        if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != type || sh.sh_entsize == 0 ||
            (d = elf_getdata(scn, NULL)) == NULL)
            continue;
        n = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; i < n && i < MAX_SYMBOLS; i++) {
            GElf_Sym sym;
            unsigned st;
            const char *nm;

            if (gelf_getsym(d, (int)i, &sym) == NULL || sym.st_shndx == SHN_UNDEF)
                continue;
            st = GELF_ST_TYPE(sym.st_info);
            if ((st != STT_OBJECT && st != STT_FUNC && st != STT_COMMON) || sym.st_value > a ||
                a - sym.st_value >= (sym.st_size ? sym.st_size : 1) ||
                (nm = elf_strptr(elf, sh.sh_link, sym.st_name)) == NULL || nm[0] == '\0')
                continue;
            if (a == sym.st_value)
                dg_strlcpyf(out, len, "%s", nm);
            else
                dg_strlcpyf(out, len, "%s+0x%llx", nm, (unsigned long long)(a - sym.st_value));
            return true;
        }
    }
    return false;
}

/* Section, symbol and DWARF variable of va in the usable module m. */
static void
describe(struct module *m, uint64_t va, struct where_loc *w)
{
    uint64_t a = va - m->bias;
    Elf *dbg = m->debug.elf;
    char err[200] = "";

    if (!section_of(m->main.elf, a, w->section, sizeof w->section))
        section_of(dbg, a, w->section, sizeof w->section);
    if (!symbol_of(dbg, SHT_SYMTAB, a, w->symbol, sizeof w->symbol) &&
        !symbol_of(m->main.elf, SHT_SYMTAB, a, w->symbol, sizeof w->symbol))
        symbol_of(m->main.elf, SHT_DYNSYM, a, w->symbol, sizeof w->symbol);
    if (!m->dv_tried) {
        const char *path = dbg != NULL ? m->debug.path : m->main.path;
        Elf *src = dbg != NULL ? dbg : m->main.elf;

        m->dv_tried = true;
        /* a file without DWARF is not handed to libdwarf, which reads its
         * whole symbol table before it says so */
        if ((section_named(src, ".debug_info") == NULL &&
             section_named(src, ".zdebug_info") == NULL) ||
            dwarfvars_open(path, &m->dv, err, sizeof err) != DG_OK)
            dg_strlcpyf(m->note, sizeof m->note,
                        "no debug information for %s (looked for its build id under "
                        "/usr/lib/debug and --debug-dir, and for its .gnu_debuglink)",
                        m->name);
    }
    if (m->dv != NULL) {
        char var[sizeof w->variable];

        if (dwarfvars_find(m->dv, a, var, sizeof var, w->type, sizeof w->type, err,
                           sizeof err) == DG_OK)
            dg_strlcpyf(w->variable, sizeof w->variable, "%s", var);
        else if (err[0] != '\0')
            dg_strlcpyf(w->note, sizeof w->note, "%s", err);
    } else {
        dg_strlcpyf(w->note, sizeof w->note, "%s", m->note);
    }
}

static void
close_ctx(struct ctx *c)
{
    for (size_t i = 0; i < c->n_mods; i++) {
        dwarfvars_close(c->mods[i].dv);
        file_close(&c->mods[i].main);
        file_close(&c->mods[i].debug);
    }
    free(c->mods);
    free(c->no_module);
    free(c->mod_of_entry);
    free(c->by_va);
}

/* Is name (a variable or symbol) the C library's own bookkeeping: malloc's
 * arenas and free lists, the dynamic linker's and stdio's state? Their
 * pointers lead to freed chunks and heap starts, not to owners. */
static bool
allocator_state(const char *name)
{
    static const char *const prefixes[] = {"main_arena", "mp_", "tcache", "_dl_", "__libc_",
                                           "_IO_", "__malloc"};

    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* ptrpath_region_rank_fn, as is_root() ranks: a stack's slots rank 1, a
 * module image's globals up to 4; the heap holds no root, nor does
 * anonymous memory that no file mapping ends right below (a module's bss
 * follows its data's mapping), which opens no module file to say so. */
static int
region_rank(void *arg, const struct dg_region *reg)
{
    const struct ctx *c = arg;

    if (reg->kind == DG_SPAN_STACK)
        return 1;
    if (reg->kind == DG_SPAN_HEAP ||
        (reg->kind == DG_SPAN_ANON &&
         (reg->va == 0 || regions_module_at(c->r->map, reg->va - 1) == NULL)))
        return -1;
    return 4;
}

/* ptrpath_root_fn: a pointer word in a thread's stack, or in a module's
 * image (a global: named by its DWARF variable, else its symbol, else its
 * module and section) is a root; globals rank above stacks. */
static bool
is_root(void *arg, uint64_t at, char *name, size_t len, int *rank)
{
    struct ctx *c = arg;
    const struct dg_region *reg = regions_at_va(c->r->map, at);
    struct module *m;
    struct where_loc *w;
    const char *base;
    size_t span;

    if (reg == NULL)
        return false;
    if (reg->kind == DG_SPAN_STACK) {
        snprintf(name, len, "stack of thread %lld", (long long)reg->thread);
        *rank = 1;
        return true;
    }
    span = (size_t)(reg - regions_get(c->r->map, 0));
    if (reg->kind == DG_SPAN_HEAP || (span < regions_count(c->r->map) && c->no_module[span]))
        return false;
    if ((m = module_at(c, at)) == NULL) {
        /* the same answer for all of an anonymous span no module image reaches */
        if (span < regions_count(c->r->map) && reg->kind == DG_SPAN_ANON &&
            module_at(c, reg->va) == NULL && module_at(c, reg->va + reg->len - 1) == NULL)
            c->no_module[span] = 1;
        return false;
    }
    base = strrchr(m->name, '/') != NULL ? strrchr(m->name, '/') + 1 : m->name;
    if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "ld-linux", 8) == 0) {
        *rank = -1; /* the C library's globals (malloc, brk, stdio) own no key */
        return false;
    }
    if ((w = calloc(1, sizeof *w)) == NULL)
        return false;
    if (m->usable)
        describe(m, at, w);
    if (allocator_state(w->variable) || allocator_state(w->symbol)) {
        free(w); /* glibc's own bookkeeping keeps no object alive */
        *rank = -1;
        return false;
    }
    if (w->variable[0]) {
        snprintf(name, len, "%s (%s)", w->variable, w->type[0] ? w->type : "?");
        *rank = 4;
    } else if (w->symbol[0]) {
        snprintf(name, len, "%s", w->symbol);
        *rank = 3;
    } else {
        snprintf(name, len, "%s %s+0x%llx", base, w->section[0] ? w->section : "image",
                 (unsigned long long)(at - m->base));
        *rank = 2;
    }
    free(w);
    return true;
}

/* Queues the pointer-path searches for finding i (f): its own place, then
 * up to MAX_COPY_PATHS of its other copies on the heap (the first may be a
 * freed one). Past MAX_PATHS findings, says so in w. */
static void
queue_paths(struct ctx *c, size_t i, const struct scan_finding *f, struct where_loc *w)
{
    size_t n_copies = 0;

    if (c->n_path_findings >= MAX_PATHS) {
        dg_strlcpyf(w->note, sizeof w->note,
                    "no pointer path: searched for the first %u heap findings only", MAX_PATHS);
        return;
    }
    c->n_path_findings++;
    c->queries[c->n_queries] = (struct ptrpath_query){.va = f->va};
    c->query_of[c->n_queries++] = i;
    for (size_t k = 0; k < f->n_copies && n_copies < MAX_COPY_PATHS; k++) {
        const struct scan_location *l = &f->copies[k];

        if (!l->has_va || l->region.thread >= 0 ||
            (l->region.kind != DG_SPAN_HEAP && l->region.kind != DG_SPAN_ANON))
            continue;
        c->queries[c->n_queries] = (struct ptrpath_query){.va = l->va};
        c->query_of[c->n_queries++] = i;
        n_copies++;
    }
}

/* The pointer-path search's limits under o (NULL: one thread): the same for
 * where_prepare()'s summaries and the search that takes them. */
static struct ptrpath_limits
limits_for(const struct where_opts *o)
{
    struct ptrpath_limits lim = path_limits;

    lim.threads = o != NULL ? o->threads : 1;
    return lim;
}

/* Runs the queued searches together (one pass over memory per level) and
 * gives each finding the path to its own place, else to the first copy
 * that has one, else why there is none. */
static void
run_paths(struct ctx *c, struct where_loc *locs)
{
    struct ptrpath_limits lim = limits_for(c->o);
    double t0 = deadline_now();
    dg_err rc;

    if (c->n_queries == 0)
        return;
    rc = ptrpath_find(&c->dump, c->queries, c->n_queries, &lim, is_root, region_rank, c,
                      c->o != NULL ? c->o->prepared : NULL);
    for (size_t k = 0; k < c->n_queries; k++) {
        struct where_loc *w = &locs[c->query_of[k]];
        const struct ptrpath_query *q = &c->queries[k];
        bool own = k == 0 || c->query_of[k - 1] != c->query_of[k];

        if (w->path[0] != '\0')
            continue;
        if (rc == DG_OK && q->rc == DG_OK) {
            if (own)
                dg_strlcpyf(w->path, sizeof w->path, "%s", q->path);
            else
                dg_strlcpyf(w->path, sizeof w->path, "%s (the copy at vaddr 0x%llx)", q->path,
                            (unsigned long long)q->va);
            w->note[0] = '\0';
        } else if (own) {
            dg_strlcpyf(w->note, sizeof w->note, "%s",
                        q->why[0] ? q->why : "no pointer path: out of memory");
        }
    }
    c->path_seconds = deadline_now() - t0;
}

/* Thread, then module, section, symbol and variable of finding f. */
static void
attribute_one(struct ctx *c, const struct scan_finding *f, struct where_loc *w)
{
    const struct regions_process *proc = &regions_info_const(c->r->map)->process;
    const char *tname;
    struct module *m;

    w->thread = -1;
    if (f->region.kind == DG_SPAN_STACK || f->region.kind == DG_SPAN_CONTEXT)
        w->thread = f->region.thread;
    if (w->thread >= 0) {
        if ((tname = regions_thread_name(c->r->map, w->thread)) != NULL)
            snprintf(w->thread_name, sizeof w->thread_name, "%s", tname);
        else if (proc->pid >= 0 && w->thread == proc->pid)
            snprintf(w->thread_name, sizeof w->thread_name, "main thread");
    }
    if (!f->has_va)
        return;
    if (strcmp(c->r->format, "minidump") == 0) {
        const struct regions_module *e = regions_module_at(c->r->map, f->va);

        if (e != NULL) {
            dg_strlcpyf(w->module, sizeof w->module, "%s", e->name != NULL ? e->name : "");
            dg_strlcpyf(w->build_id, sizeof w->build_id, "%s", e->build_id ? e->build_id : "");
        }
        return;
    }
    if (strcmp(c->r->format, "elf-core") != 0)
        return;
    if ((m = module_at(c, f->va)) == NULL) {
        if (w->thread < 0 && (f->region.kind == DG_SPAN_HEAP || f->region.kind == DG_SPAN_ANON))
            queue_paths(c, (size_t)(f - c->r->findings), f, w);
        return;
    }
    dg_strlcpyf(w->module, sizeof w->module, "%s", m->name);
    dg_strlcpyf(w->build_id, sizeof w->build_id, "%s", m->build_id);
    if (!m->usable) {
        dg_strlcpyf(w->note, sizeof w->note, "%s", m->note);
        return;
    }
    describe(m, f->va, w);
}

dg_err
where_attribute(const struct dg_input *in, struct scan_result *r, const struct where_opts *o)
{
    struct ctx *c;
    struct where_result *w;
    double t0 = deadline_now();
    size_t n = r->n_findings < WHERE_MAX_FINDINGS ? r->n_findings : WHERE_MAX_FINDINGS;
    dg_err rc = DG_OK;

    r->where = NULL;
    if (n == 0 || r->map == NULL)
        return DG_OK; /* nothing to attribute: no cost */
    c = calloc(1, sizeof *c);
    w = calloc(1, sizeof *w);
    if (c == NULL || w == NULL || (w->locs = calloc(n, sizeof *w->locs)) == NULL) {
        free(c);
        free(w);
        return dg_diag(r->diag, DG_E_NOMEM, DG_NO_OFFSET, "%s: attribution: out of memory",
                       r->name);
    }
    w->n_locs = n;
    c->dump = (struct dg_dump){.in = in, .map = r->map, .zeros = o != NULL ? o->zeros : NULL,
                               .ptrfree = o != NULL ? o->ptrfree : NULL};
    c->r = r;
    c->o = o;
    if (elf_version(EV_CURRENT) == EV_NONE)
        rc = dg_diag(r->diag, DG_E_UNSUPPORTED, DG_NO_OFFSET, "%s: attribution: libelf: %s",
                     r->name, elf_errmsg(-1));
    if (rc == DG_OK &&
        ((c->mods = malloc(MAX_MODULES * sizeof *c->mods)) == NULL ||
         (c->no_module = calloc(regions_count(r->map) + 1, 1)) == NULL ||
         (c->mod_of_entry = calloc(regions_module_count(r->map) + 1, sizeof *c->mod_of_entry)) ==
             NULL ||
         by_va_build(c) != DG_OK))
        rc = dg_diag(r->diag, DG_E_NOMEM, DG_NO_OFFSET, "%s: attribution: out of memory",
                     r->name);
    for (size_t i = 0; i < n && rc == DG_OK; i++)
        attribute_one(c, &r->findings[i], &w->locs[i]);
    if (rc == DG_OK)
        run_paths(c, w->locs);
    if (r->n_findings > n)
        dg_diag_at(r->diag, DG_DIAG_INFO, DG_E_LIMIT, DG_NO_OFFSET,
                   "%s: attribution: only the first %u of %zu findings are attributed", r->name,
                   WHERE_MAX_FINDINGS, r->n_findings);
    if (c->mods_full)
        dg_diag_at(r->diag, DG_DIAG_INFO, DG_E_LIMIT, DG_NO_OFFSET,
                   "%s: attribution: only %u modules are looked at", r->name, MAX_MODULES);
    for (size_t i = 0; i < c->n_mods; i++)
        w->n_modules += c->mods[i].usable;
    close_ctx(c);
    w->seconds = deadline_now() - t0;
    dg_diag_at(r->diag, DG_DIAG_INFO, DG_OK, DG_NO_OFFSET,
               "%s: attribution of %zu findings: %.3f s (%zu module files used, %u pointer "
               "paths searched in %.3f s)",
               r->name, n, w->seconds, w->n_modules, c->n_path_findings, c->path_seconds);
    free(c);
    r->where = w;
    return DG_OK;
}

struct ptrpath_sums *
where_prepare(const struct dg_input *in, const struct scan_result *r, const struct where_opts *o)
{
    struct ptrpath_limits lim = limits_for(o);
    struct dg_dump dump = {.in = in, .map = r->map, .zeros = o != NULL ? o->zeros : NULL,
                           .ptrfree = o != NULL ? o->ptrfree : NULL};
    struct ptrpath_sums *sums = NULL;

    /* pointer paths are searched in ELF cores only (attribute_one()) */
    if (r->map == NULL || r->format == NULL || strcmp(r->format, "elf-core") != 0)
        return NULL;
    (void)ptrpath_sums_start(&dump, &lim, &sums);
    return sums;
}

void
where_prepare_help(struct ptrpath_sums *prepared)
{
    if (prepared != NULL)
        ptrpath_sums_help(prepared);
}

void
where_prepared_free(struct ptrpath_sums *prepared)
{
    ptrpath_sums_free(prepared);
}

const struct where_loc *
where_of(const struct scan_result *r, size_t i)
{
    if (r->where == NULL || i >= r->where->n_locs)
        return NULL;
    return &r->where->locs[i];
}

const struct where_loc *
where_of_finding(const struct scan_result *r, const struct scan_finding *sf)
{
    if (r->findings == NULL || sf < r->findings || sf >= r->findings + r->n_findings)
        return NULL;
    return where_of(r, (size_t)(sf - r->findings));
}

void
where_free(struct where_result *w)
{
    if (w == NULL)
        return;
    free(w->locs);
    free(w);
}
