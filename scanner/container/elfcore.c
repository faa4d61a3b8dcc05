/* SPDX-License-Identifier: MIT
 * Copyright (C) the dumpgate authors
 *
 * elfcore.c - ELF core container reader.
 *
 * Turns an ET_CORE file into claims on the region map: one memory region per
 * PT_LOAD (vaddr, flags, file offset, p_filesz only: [p_filesz, p_memsz) was
 * not dumped), the ELF header, program and section header tables and every
 * PT_NOTE as metadata. From the notes it names regions: file paths from
 * NT_FILE, thread stacks from the stack pointer in NT_PRSTATUS, the vDSO from
 * NT_AUXV; the process (name, arguments with secrets redacted, pid, uid)
 * from NT_PRPSINFO goes to regions_info(); every file mapping of NT_FILE to
 * regions_add_module() for attribution (scanner/where). Handles PN_XNUM
 * (through elf_getphdrnum), ELF32 and ELF64, both byte orders (note
 * descriptors are decoded in the file's byte order), truncated cores
 * (claims past the end are counted unreadable by regions_finish), zero
 * padding between notes (seen in real kernel cores), and streams (parsed from
 * the input's head through elf_memory; notes past the head, where gcore puts
 * them, are kept by the input as the engine reads them and decoded after the
 * scan by elfcore_read_late()). All ELF structure parsing is libelf's;
 * this file only decodes note descriptors, which libelf leaves as raw bytes.
 * Layout notes: ../shared/reference/dumps.md section 1.
 */
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../input/input.h"
#include "../util/words.h"
#include "elfcore.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#ifndef AT_SYSINFO_EHDR
#define AT_SYSINFO_EHDR 33
#endif

#define STREAM_HEAD_FIRST (1u << 20)
#define TRUNCATED_NAMED 8 /* truncated segments warned about one by one */
#define NOTES_MAX (64u << 20) /* bytes of one PT_NOTE decoded */

bool
elfcore_probe(const uint8_t *p, size_t n)
{
    return n >= 4 && memcmp(p, ELFMAG, SELFMAG) == 0;
}

struct core {
    Elf *elf;
    const struct dg_input *in;
    struct dg_regions *map;
    struct dg_diag *d;
    uint64_t size;       /* bytes of the file known to exist */
    bool size_is_end;    /* size is the file's end (a stream's may lie beyond) */
    bool big;            /* descriptors are big-endian */
    unsigned word;       /* 4 or 8 */
    GElf_Half machine;
    size_t phnum;
    unsigned threads;
};

static uint64_t
get_word(const struct core *c, const unsigned char *p, unsigned width)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)p[c->big ? width - 1 - i : i] << (8 * i);
    return v;
}

const char *
elfcore_machine_name(unsigned machine)
{
    switch (machine) {
    case EM_X86_64:
        return "x86-64";
    case EM_386:
        return "i386";
    case EM_AARCH64:
        return "AArch64";
    case EM_ARM:
        return "ARM";
    case EM_PPC:
        return "PowerPC";
    case EM_PPC64:
        return "PowerPC64";
    case EM_S390:
        return "s390";
    case EM_MIPS:
        return "MIPS";
    case EM_RISCV:
        return "RISC-V";
    case EM_68K:
        return "m68k";
    case EM_SPARC:
    case EM_SPARCV9:
        return "SPARC";
#ifdef EM_LOONGARCH
    case EM_LOONGARCH:
        return "LoongArch";
#endif
    default:
        return "unknown machine";
    }
}

static dg_err
claim(struct core *c, uint64_t off, uint64_t len, enum dg_span_kind kind, const char *name,
      uint32_t index)
{
    struct dg_region r = {.off = off, .len = len, .kind = kind, .name = name, .thread = -1,
                          .index = index};
    dg_err rc = regions_claim(c->map, &r, REGIONS_PRIO_META);

    if (rc != DG_OK)
        return dg_diag(c->d, rc, off, "%s: region map: %s", c->in->name, dg_strerror(rc));
    return DG_OK;
}

/* NT_FILE: count, page size, {start, end, file_ofs}[count], then count names. */
static void
note_file(struct core *c, const unsigned char *desc, size_t n, uint64_t desc_off)
{
    unsigned w = c->word;
    uint64_t count, names_off;
    const char *name, *end = (const char *)desc + n;

    if (n < 2 * (size_t)w) {
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_FORMAT, desc_off,
                   "%s: NT_FILE note too short (%zu bytes)", c->in->name, n);
        return;
    }
    count = get_word(c, desc, w);
    if (count > (n - 2 * w) / (3 * (uint64_t)w)) {
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_FORMAT, desc_off,
                   "%s: NT_FILE claims %llu mappings but holds room for %llu", c->in->name,
                   (unsigned long long)count,
                   (unsigned long long)((n - 2 * w) / (3 * (uint64_t)w)));
        return;
    }
    names_off = 2 * (uint64_t)w + count * 3 * w;
    name = (const char *)desc + names_off;
    for (uint64_t i = 0; i < count; i++) {
        const unsigned char *e = desc + 2 * w + i * 3 * w;
        uint64_t start = get_word(c, e, w), stop = get_word(c, e + w, w);
        uint64_t page = get_word(c, desc + w, w), pgoff = get_word(c, e + 2 * w, w);
        const char *nul = memchr(name, '\0', (size_t)(end - name));

        if (nul == NULL) {
            dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_FORMAT, desc_off,
                       "%s: NT_FILE names end early (%llu of %llu)", c->in->name,
                       (unsigned long long)i, (unsigned long long)count);
            return;
        }
        if (start < stop) {
            bool shared = regions_shared_memory(name); /* named, but no file's bytes */

            regions_name_va(c->map, start, stop - start, shared ? DG_SPAN_ANON : DG_SPAN_FILE,
                            name, -1);
            /* for attribution (scanner/where); past the cap only names */
            if (!shared)
                (void)regions_add_module(c->map, start, stop - start,
                                         page != 0 && pgoff <= UINT64_MAX / page ? pgoff * page
                                                                                 : UINT64_MAX,
                                         name, NULL, NULL);
        }
        name = nul + 1;
    }
}

/* Offsets of pr_pid and of the stack pointer inside struct elf_prstatus. */
static bool
prstatus_layout(const struct core *c, size_t *pid_off, size_t *sp_off)
{
    *pid_off = c->word == 8 ? 32 : 24;
    switch (c->machine) {
    case EM_X86_64:
        /* x32 (ELFCLASS32): 32-bit prstatus header, 64-bit registers. */
        *sp_off = c->word == 8 ? 112 + 19 * 8 : 72 + 19 * 8;
        return true;
    case EM_386:
        *sp_off = 72 + 15 * 4;
        return true;
    case EM_AARCH64:
        *sp_off = 112 + 31 * 8;
        return true;
    default:
        return false;
    }
}

static void
note_prstatus(struct core *c, const unsigned char *desc, size_t n)
{
    size_t pid_off, sp_off;
    uint64_t pid, sp;
    unsigned reg = c->machine == EM_X86_64 ? 8 : c->word; /* x32 has 64-bit registers */

    c->threads++;
    if (!prstatus_layout(c, &pid_off, &sp_off) || sp_off + reg > n || pid_off + 4 > n)
        return;
    pid = get_word(c, desc + pid_off, 4);
    sp = get_word(c, desc + sp_off, reg);
    if (sp != 0)
        regions_name_va(c->map, sp, 1, DG_SPAN_STACK, "[stack]", (int64_t)pid);
}

/* Copies the NUL-padded field f[0..n) to out (size out_len) with every
 * byte outside printable ASCII as '?' and trailing blanks dropped. */
static void
copy_field(char *out, size_t out_len, const unsigned char *f, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n && f[i] != '\0' && k + 1 < out_len; i++)
        out[k++] = f[i] >= 0x20 && f[i] < 0x7f ? (char)f[i] : '?';
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = '\0';
}

/* Does word w[0..n) name a secret ("--password", "-passin", "token=")? */
static bool
secret_word(const char *w, size_t n)
{
    static const char *const hints[] = {"pass", "secret", "token", "pwd", "auth", "cred"};

    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
        size_t h = strlen(hints[i]);

        for (size_t k = 0; k + h <= n; k++)
            if (strncasecmp(w + k, hints[i], h) == 0)
                return true;
    }
    return false;
}

/* Replaces in args the value of every argument that names a secret
 * ("--password=x", "-passin pass:x", "token=x") by "[redacted]": a report
 * never repeats a password given on the command line. */
static void
redact_args(char *args, size_t len)
{
    char out[sizeof ((struct regions_process *)0)->args];
    size_t k = 0;
    bool next_secret = false;

    for (const char *p = args; *p != '\0' && k + 1 < sizeof out;) {
        const char *w = p, *eq;
        size_t n;

        while (*p != '\0' && *p != ' ')
            p++;
        n = (size_t)(p - w);
        eq = memchr(w, '=', n);
        if (next_secret) {
            k += (size_t)snprintf(out + k, sizeof out - k, "[redacted]");
            next_secret = false;
        } else if (eq != NULL && secret_word(w, (size_t)(eq - w))) {
            k += (size_t)snprintf(out + k, sizeof out - k, "%.*s=[redacted]", (int)(eq - w), w);
        } else {
            next_secret = w[0] == '-' && secret_word(w, n);
            k += (size_t)snprintf(out + k, sizeof out - k, "%.*s", (int)n, w);
        }
        if (k >= sizeof out)
            k = sizeof out - 1;
        while (*p == ' ' && k + 1 < sizeof out) {
            out[k++] = ' ';
            p++;
        }
    }
    out[k] = '\0';
    snprintf(args, len, "%s", out);
}

/* NT_PRPSINFO: command name, arguments, pid, ppid and uid of the process.
 * Layouts by descriptor size: 136 bytes (64-bit), 124 (32-bit, 16-bit
 * uid: i386, ARM), 128 (32-bit, 32-bit uid: x32). */
static void
note_prpsinfo(struct core *c, const unsigned char *desc, size_t n)
{
    struct regions_process *p = &regions_info(c->map)->process;
    size_t uid_off, uid_len, pid_off, fname_off;

    if (n == 136 && c->word == 8) {
        uid_off = 16, uid_len = 4, pid_off = 24, fname_off = 40;
    } else if (n == 124 && c->word == 4) {
        uid_off = 8, uid_len = 2, pid_off = 12, fname_off = 28;
    } else if (n == 128 && c->word == 4) {
        uid_off = 8, uid_len = 4, pid_off = 16, fname_off = 32;
    } else {
        return;
    }
    p->known = true;
    p->uid = (int64_t)get_word(c, desc + uid_off, (unsigned)uid_len);
    p->pid = (int64_t)get_word(c, desc + pid_off, 4);
    p->ppid = (int64_t)get_word(c, desc + pid_off + 4, 4);
    copy_field(p->name, sizeof p->name, desc + fname_off, 16);
    copy_field(p->args, sizeof p->args, desc + fname_off + 16, 80);
    redact_args(p->args, sizeof p->args);
}

static void
note_auxv(struct core *c, const unsigned char *desc, size_t n)
{
    for (size_t i = 0; i + 2 * (size_t)c->word <= n; i += 2 * (size_t)c->word) {
        uint64_t type = get_word(c, desc + i, c->word);

        if (type == 0)
            break;
        if (type == AT_SYSINFO_EHDR)
            regions_name_va(c->map, get_word(c, desc + i + c->word, c->word), 1, DG_SPAN_VDSO,
                            "[vdso]", -1);
    }
}

/* The bytes of a PT_NOTE of len bytes at off that are decoded: at most
 * NOTES_MAX, with a warning past it. */
static uint64_t
notes_len(struct core *c, uint64_t off, uint64_t len)
{
    if (len <= NOTES_MAX)
        return len;
    dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_LIMIT, off,
               "%s: PT_NOTE of %llu bytes; reading its first 64 MiB", c->in->name,
               (unsigned long long)len);
    return NOTES_MAX;
}

/* Walks the notes of one PT_NOTE segment of len bytes at offset at of c->elf,
 * which are the bytes at offset off of the dump (the same, but for the notes
 * of a stream read after its end: elfcore_read_late()). */
static void
read_notes(struct core *c, uint64_t at, uint64_t len, uint64_t off)
{
    Elf_Data *data;
    size_t pos = 0;

    if (at >= c->size)
        return;
    if (len > c->size - at)
        len = c->size - at;
    len = notes_len(c, off, len);
    data = elf_getdata_rawchunk(c->elf, (int64_t)at, (size_t)len, ELF_T_NHDR);
    if (data == NULL || data->d_buf == NULL) {
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_ELF, off, "%s: cannot read notes: %s",
                   c->in->name, elf_errmsg(-1));
        return;
    }
    while (pos < data->d_size) {
        GElf_Nhdr nh;
        size_t name_off, desc_off;
        size_t next = gelf_getnote(data, pos, &nh, &name_off, &desc_off);
        const unsigned char *base = data->d_buf;

        if (next == 0) {
            /* Zero padding between notes (real kernel cores have it): skip zero
             * words and resynchronise; anything else is corrupt. */
            if (data->d_size - pos >= 4 && all_zero(base + pos, 4)) {
                pos += 4;
                continue;
            }
            if (!all_zero(base + pos, data->d_size - pos))
                dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_ELF, off + pos,
                           "%s: corrupt note at offset 0x%llx; later notes not decoded",
                           c->in->name, (unsigned long long)(off + pos));
            break;
        }
        if (nh.n_namesz == 0 && nh.n_descsz == 0 && nh.n_type == 0) {
            pos = next;
            continue;
        }
        if (nh.n_namesz >= 4 && memcmp(base + name_off, "CORE", 4) == 0) {
            const unsigned char *desc = base + desc_off;

            switch (nh.n_type) {
            case NT_PRSTATUS:
                note_prstatus(c, desc, nh.n_descsz);
                break;
            case NT_AUXV:
                note_auxv(c, desc, nh.n_descsz);
                break;
            case NT_PRPSINFO:
                note_prpsinfo(c, desc, nh.n_descsz);
                break;
            case NT_FILE:
                note_file(c, desc, nh.n_descsz, off + desc_off);
                break;
            default:
                break;
            }
        }
        pos = next;
    }
}

static const char *
type_name(GElf_Half type)
{
    switch (type) {
    case ET_EXEC:
        return "executable";
    case ET_DYN:
        return "shared object or PIE";
    case ET_REL:
        return "relocatable object";
    default:
        return "non-core";
    }
}

/* The notes at off of a stream, past its head (gcore writes them last):
 * the input keeps them as the engine pulls them by, and elfcore_read_late()
 * reads them after the scan. */
static void
defer_notes(struct core *c, uint64_t off, uint64_t len)
{
    dg_err rc = input_keep_range(c->in, off, (size_t)notes_len(c, off, len));

    if (rc == DG_OK)
        regions_info(c->map)->names_late = true;
    else
        dg_diag_at(c->d, DG_DIAG_WARNING, rc, off,
                   "%s: the notes at offset 0x%llx lie past the stream's first %llu bytes "
                   "and cannot be kept (%s): regions are not named from them",
                   c->in->name, (unsigned long long)off, (unsigned long long)c->size,
                   dg_strerror(rc));
}

/* The word size, byte order and machine of the core whose header is eh. */
static void
identify(struct core *c, Elf *elf, const GElf_Ehdr *eh)
{
    c->word = gelf_getclass(elf) == ELFCLASS32 ? 4 : 8;
    c->big = eh->e_ident[EI_DATA] == ELFDATA2MSB;
    c->machine = eh->e_machine;
}

/* regions_info()'s detail and thread count from what c has read. */
static void
describe(struct core *c)
{
    struct regions_info *info = regions_info(c->map);

    info->n_threads = c->threads;
    snprintf(info->detail, sizeof info->detail, "ELF%u %s %s, %zu segments, %u threads",
             c->word * 8, c->big ? "MSB" : "LSB", elfcore_machine_name(c->machine), c->phnum,
             c->threads);
}

static dg_err
read_core(struct core *c)
{
    GElf_Ehdr eh;
    size_t phnum, shnum = 0, bad_phdrs = 0, first_bad = 0, truncated = 0;
    dg_err rc;
    struct regions_info *info = regions_info(c->map);

    if (gelf_getehdr(c->elf, &eh) == NULL)
        return dg_diag(c->d, DG_E_BAD_ELF, 0, "%s: bad ELF header: %s", c->in->name,
                       elf_errmsg(-1));
    if (eh.e_type != ET_CORE)
        return dg_diag(c->d, DG_E_UNSUPPORTED, 16, "%s: ELF %s, not a core", c->in->name,
                       type_name(eh.e_type));
    identify(c, c->elf, &eh);
    info->format = "elf-core";
    info->word_size = c->word;
    info->big_endian = c->big;

    if ((rc = claim(c, 0, eh.e_ehsize ? eh.e_ehsize : (c->word == 8 ? 64 : 52),
                    DG_SPAN_HEADER, "ELF header", 0)) != DG_OK)
        return rc;
    if (elf_getphdrnum(c->elf, &phnum) != 0)
        return dg_diag(c->d, DG_E_NO_PHDR, 0, "%s: program headers: %s", c->in->name,
                       elf_errmsg(-1));
    if (eh.e_phentsize != (c->word == 8 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_ELF, 54,
                   "%s: e_phentsize %u is not the size of a program header (%zu)", c->in->name,
                   eh.e_phentsize, c->word == 8 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr));
    if (eh.e_phnum != PN_XNUM && phnum < eh.e_phnum)
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_TRUNCATED, eh.e_phoff,
                   "%s: program header table at offset 0x%llx is cut by the end of the file "
                   "(%zu of %u entries present)",
                   c->in->name, (unsigned long long)eh.e_phoff, phnum, eh.e_phnum);
    if (eh.e_phnum == PN_XNUM && phnum == PN_XNUM)
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_ELF, 0,
                   "%s: e_phnum is PN_XNUM but section 0 gives no count", c->in->name);
    if (phnum > 0 && (rc = claim(c, eh.e_phoff, (uint64_t)phnum * eh.e_phentsize,
                                 DG_SPAN_HEADER, "program headers", 0)) != DG_OK)
        return rc;
    if (elf_getshdrnum(c->elf, &shnum) == 0 && shnum > 0 && eh.e_shoff != 0 &&
        (rc = claim(c, eh.e_shoff, (uint64_t)shnum * eh.e_shentsize, DG_SPAN_HEADER,
                    "section headers", 0)) != DG_OK)
        return rc;

    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        struct dg_region r = {.thread = -1, .index = (uint32_t)i};

        if (gelf_getphdr(c->elf, (int)i, &ph) == NULL) {
            if (bad_phdrs++ == 0)
                first_bad = i;
            continue;
        }
        if (ph.p_filesz == 0)
            continue;
        r.off = ph.p_offset;
        r.len = ph.p_filesz;
        if (r.off + r.len < r.off) {
            dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_ELF, eh.e_phoff + i * eh.e_phentsize,
                       "%s: segment %zu: p_offset 0x%llx + p_filesz 0x%llx overflows",
                       c->in->name, i, (unsigned long long)ph.p_offset,
                       (unsigned long long)ph.p_filesz);
            r.len = UINT64_MAX - r.off;
        }
        /* A stream read past its head is judged after the scan (scan.c). */
        if (c->size_is_end && (r.off >= c->size || r.len > c->size - r.off) &&
            truncated++ < TRUNCATED_NAMED)
            dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_TRUNCATED, eh.e_phoff + i * eh.e_phentsize,
                       "%s: segment %zu (vaddr 0x%llx) truncated: %llu of %llu bytes present",
                       c->in->name, i, (unsigned long long)ph.p_vaddr,
                       (unsigned long long)(r.off >= c->size ? 0 : c->size - r.off),
                       (unsigned long long)r.len);
        if (ph.p_type == PT_LOAD) {
            r.has_va = true;
            r.va = ph.p_vaddr;
            r.perms = ((ph.p_flags & PF_R) ? DG_PERM_R : 0) | ((ph.p_flags & PF_W) ? DG_PERM_W : 0) |
                      ((ph.p_flags & PF_X) ? DG_PERM_X : 0);
            r.kind = DG_SPAN_ANON;
            rc = regions_claim(c->map, &r, REGIONS_PRIO_MEMORY);
            if (rc != DG_OK)
                return dg_diag(c->d, rc, r.off, "%s: region map: %s", c->in->name,
                               dg_strerror(rc));
        } else if (ph.p_type == PT_NOTE) {
            if ((rc = claim(c, r.off, r.len, DG_SPAN_NOTES, "notes", (uint32_t)i)) != DG_OK)
                return rc;
        } else {
            char nm[32];

            snprintf(nm, sizeof nm, "segment type 0x%llx", (unsigned long long)ph.p_type);
            if ((rc = claim(c, r.off, r.len, DG_SPAN_HEADER, nm, (uint32_t)i)) != DG_OK)
                return rc;
        }
    }
    if (truncated > TRUNCATED_NAMED)
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_TRUNCATED, DG_NO_OFFSET,
                   "%s: %zu segments truncated in all (the core is cut at %llu bytes)",
                   c->in->name, truncated, (unsigned long long)c->size);
    if (bad_phdrs == phnum && phnum > 0)
        return dg_diag(c->d, DG_E_NO_PHDR, eh.e_phoff,
                       "%s: program header table at offset 0x%llx unreadable (%zu entries%s)",
                       c->in->name, (unsigned long long)eh.e_phoff, phnum,
                       eh.e_phnum == PN_XNUM ? ", e_phnum is PN_XNUM" : "");
    if (bad_phdrs > 0)
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_ELF, eh.e_phoff + first_bad * eh.e_phentsize,
                   "%s: %zu of %zu program headers unreadable, from number %zu on",
                   c->in->name, bad_phdrs, phnum, first_bad);
    /* Names come after every memory region is claimed. */
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;

        if (gelf_getphdr(c->elf, (int)i, &ph) == NULL || ph.p_type != PT_NOTE || !ph.p_filesz)
            continue;
        if (!c->size_is_end && (ph.p_offset >= c->size || ph.p_filesz > c->size - ph.p_offset))
            defer_notes(c, ph.p_offset, ph.p_filesz);
        else
            read_notes(c, ph.p_offset, ph.p_filesz, ph.p_offset);
    }
    c->phnum = phnum;
    describe(c);
    return DG_OK;
}

dg_err
elfcore_read(const struct dg_input *in, struct dg_regions *map, struct dg_diag *d)
{
    struct core c = {.in = in, .map = map, .d = d};
    dg_err rc;

    if (elf_version(EV_CURRENT) == EV_NONE)
        return dg_diag(d, DG_E_BAD_ELF, DG_NO_OFFSET, "libelf: %s", elf_errmsg(-1));
    if (in->mem != NULL) {
        c.size = in->size;
        c.size_is_end = true;
        /* libelf takes a non-const image but does not write it with ELF_C_READ. */
        c.elf = elf_memory((char *)(uintptr_t)in->mem, in->size);
    } else if (in->stream) {
        const uint8_t *p;
        size_t len;
        size_t want = STREAM_HEAD_FIRST;

        /* Grow the head until the headers and notes it describes are inside it. */
        for (;;) {
            GElf_Ehdr eh;
            size_t phnum;
            uint64_t need = 0;

            if ((rc = input_head(in, want, &p, &len)) != DG_OK)
                return dg_diag(d, rc, 0, "%s: reading the stream: %s", in->name,
                               dg_strerror(rc));
            c.size = len;
            if (c.elf != NULL)
                elf_end(c.elf);
            c.elf = elf_memory((char *)(uintptr_t)p, len);
            if (c.elf == NULL || gelf_getehdr(c.elf, &eh) == NULL ||
                elf_getphdrnum(c.elf, &phnum) != 0)
                break;
            need = eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize;
            for (size_t i = 0; i < phnum; i++) {
                GElf_Phdr ph;

                if (gelf_getphdr(c.elf, (int)i, &ph) != NULL && ph.p_type == PT_NOTE &&
                    ph.p_offset + ph.p_filesz > need && ph.p_offset < INPUT_HEAD_MAX)
                    need = ph.p_offset + ph.p_filesz;
            }
            if (need <= len || input_head_eof(in) || len >= INPUT_HEAD_MAX)
                break;
            want = need > INPUT_HEAD_MAX ? INPUT_HEAD_MAX : (size_t)need;
        }
        c.size_is_end = input_head_eof(in);
        if (!c.size_is_end)
            regions_info(map)->stream_partial = true;
    } else {
        c.size = in->size;
        c.size_is_end = true;
        c.elf = elf_begin(in->fd, ELF_C_READ, NULL);
    }
    if (c.elf == NULL)
        return dg_diag(d, DG_E_BAD_ELF, 0, "%s: not readable as ELF: %s", in->name,
                       elf_errmsg(-1));
    if (elf_kind(c.elf) != ELF_K_ELF) {
        elf_end(c.elf);
        return dg_diag(d, DG_E_BAD_ELF, 0, "%s: not readable as ELF (truncated header?)",
                       in->name);
    }
    rc = read_core(&c);
    elf_end(c.elf);
    return rc;
}

/* The notes of kept range i, at off, of which got bytes went by: read from
 * a small ELF image of the core's own ELF header (its tables dropped)
 * followed by the notes, so that libelf decodes them in the core's class
 * and byte order. */
static void
read_kept_notes(struct core *c, const uint8_t *head, uint64_t off,
                const uint8_t *notes, size_t got)
{
    size_t ehsize = c->word == 8 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    uint8_t *img = malloc(ehsize + got);

    if (img == NULL) {
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_NOMEM, off,
                   "%s: no memory for the notes at offset 0x%llx", c->in->name,
                   (unsigned long long)off);
        return;
    }
    memcpy(img, head, ehsize);
    /* no program or section headers: zero is zero in either byte order */
    if (c->word == 8) {
        memset(img + offsetof(Elf64_Ehdr, e_phoff), 0, 16); /* e_phoff, e_shoff */
        memset(img + offsetof(Elf64_Ehdr, e_phnum), 0, 2);
        memset(img + offsetof(Elf64_Ehdr, e_shnum), 0, 4); /* e_shnum, e_shstrndx */
    } else {
        memset(img + offsetof(Elf32_Ehdr, e_phoff), 0, 8);
        memset(img + offsetof(Elf32_Ehdr, e_phnum), 0, 2);
        memset(img + offsetof(Elf32_Ehdr, e_shnum), 0, 4);
    }
    memcpy(img + ehsize, notes, got);
    c->elf = elf_memory((char *)img, ehsize + got);
    c->size = ehsize + got;
    if (c->elf == NULL || elf_kind(c->elf) != ELF_K_ELF)
        dg_diag_at(c->d, DG_DIAG_WARNING, DG_E_BAD_ELF, off,
                   "%s: cannot read the notes at offset 0x%llx: %s", c->in->name,
                   (unsigned long long)off, elf_errmsg(-1));
    else
        read_notes(c, ehsize, got, off);
    if (c->elf != NULL)
        elf_end(c->elf);
    c->elf = NULL;
    free(img);
}

dg_err
elfcore_read_late(const struct dg_input *in, struct dg_regions *map, struct dg_diag *d)
{
    struct core c = {.in = in, .map = map, .d = d, .size_is_end = true};
    const uint8_t *head, *notes;
    size_t head_len, got;
    uint64_t off;
    Elf *elf;
    GElf_Ehdr eh;

    if (!input_kept(in, 0, &off, &notes, &got))
        return DG_OK;
    if (input_head(in, 0, &head, &head_len) != DG_OK ||
        (elf = elf_memory((char *)(uintptr_t)head, head_len)) == NULL)
        return dg_diag(d, DG_E_BAD_ELF, 0, "%s: the ELF header is gone", in->name);
    if (gelf_getehdr(elf, &eh) == NULL || elf_getphdrnum(elf, &c.phnum) != 0) {
        elf_end(elf);
        return dg_diag(d, DG_E_BAD_ELF, 0, "%s: bad ELF header: %s", in->name, elf_errmsg(-1));
    }
    identify(&c, elf, &eh);
    elf_end(elf);
    c.threads = regions_info(map)->n_threads;
    for (size_t i = 0; input_kept(in, i, &off, &notes, &got); i++) {
        if (got == 0) {
            dg_diag_at(d, DG_DIAG_WARNING, DG_E_TRUNCATED, off,
                       "%s: the stream ended before its notes at offset 0x%llx: regions are "
                       "not named from them",
                       in->name, (unsigned long long)off);
            continue;
        }
        read_kept_notes(&c, head, off, notes, got);
        dg_diag_at(d, DG_DIAG_INFO, DG_OK, off,
                   "%s: stream: the notes at offset 0x%llx (%zu bytes) were read after the scan",
                   in->name, (unsigned long long)off, got);
    }
    describe(&c);
    return DG_OK;
}
