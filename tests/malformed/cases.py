# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# cases.py - the hostile-input corpus: each case builds its input at test
# time (no dump is committed) and states the exit status and the words that
# must appear on stderr. A case returns bytes, or writes its input itself when
# it needs a special file (a FIFO, a sparse file). Cases are grouped by the
# parser they attack; tests/test_malformed_corpus.py runs them all under a
# low address-space limit and a timeout.
import bz2
import gzip
import lzma
import os
import struct
import subprocess

import dgtest

CORE = dgtest.CORPUS / "elfutils" / "test-core.core"
MDMP = dgtest.CORPUS / "breakpad" / "minidump2.dmp"


def aes_dense(n):
    """Bytes where the AES-128 expansion relation p[y] = p[y-4] ^ p[y-16]
    holds except at every eleventh byte: an aes trigger every few bytes
    (10 s for 4 MiB before each start was tried once, 0.5 s after)."""
    b = bytearray(range(16))
    for y in range(16, n):
        b.append((y * 37) & 0xff if y % 11 == 0 else b[y - 4] ^ b[y - 16])
    return bytes(b)


# --- ELF -------------------------------------------------------------------

def elf64(phdrs, notes=b"", data=b"", e_phnum=None, shoff=0, shnum=0, extra=b""):
    """A small ELF64 LSB core: ehdr, phdr table, notes, data (offsets as given)."""
    eh = bytearray(64)
    eh[0:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", eh, 16, 4, 62, 1, 0, 64, shoff, 0, 64, 56,
                     len(phdrs) if e_phnum is None else e_phnum, 64, shnum, 0)
    out = bytes(eh)
    for ph in phdrs:
        out += struct.pack("<IIQQQQQQ", *ph)
    return out + notes + data + extra


def note(name, ntype, desc):
    n = name + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


PT_LOAD, PT_NOTE = 1, 4


def elf_ok(notes=b"", n_loads=2, size=4096):
    off = 64 + 56 * (n_loads + 1)
    phs = [(PT_NOTE, 0, off, 0, 0, len(notes), 0, 4)]
    data_off = off + len(notes)
    for i in range(n_loads):
        phs.append((PT_LOAD, 6, data_off + i * size, 0x10000 + i * 0x10000, 0, size, size, 1))
    return elf64(phs, notes, os.urandom(n_loads * size))


def core():
    return bytearray(CORE.read_bytes())


def cut(n):
    return lambda: core()[:n]


def patch_phdr(i, field, value):
    """field: byte offset inside the 56-byte phdr; value: u64."""
    def build():
        d = core()
        phoff = struct.unpack_from("<Q", d, 32)[0]
        struct.pack_into("<Q", d, phoff + 56 * i + field, value)
        return d
    return build


def patch(off, fmt, value):
    def build():
        d = core()
        struct.pack_into(fmt, d, off, value)
        return d
    return build


def nt_file(count, entries, names):
    desc = struct.pack("<QQ", count, 4096)
    for s, e, o in entries:
        desc += struct.pack("<QQQ", s, e, o)
    return note(b"CORE", 0x46494C45, desc + names)


# --- minidump --------------------------------------------------------------

def mdmp(streams, n_streams=None, dir_rva=32, tail=b""):
    """streams: list of (type, size, rva) directory entries, then tail bytes."""
    hdr = b"MDMP" + struct.pack("<IIIIIQ", 0xA793, len(streams) if n_streams is None else n_streams,
                                dir_rva, 0, 0, 0)
    d = b"".join(struct.pack("<III", t, s, r) for t, s, r in streams)
    return hdr + d + tail


def mdmp_mem64(count, base_rva, ranges):
    body = struct.pack("<QQ", count, base_rva) + b"".join(struct.pack("<QQ", a, s) for a, s in ranges)
    return mdmp([(9, len(body), 44)], tail=body + os.urandom(256))


def mdmp_memlist(count, descs):
    body = struct.pack("<I", count) + b"".join(struct.pack("<QII", a, s, r) for a, s, r in descs)
    return mdmp([(5, len(body), 44)], tail=body + os.urandom(256))


def mdmp_modules(count, name_rva, name_len):
    mod = bytearray(108)
    struct.pack_into("<QIIII", mod, 0, 0x400000, 0x1000, 0, 0, name_rva)
    body = struct.pack("<I", count) + bytes(mod)
    return mdmp([(4, len(body), 44)], tail=body + struct.pack("<I", name_len) + "x".encode("utf-16-le"))


def real_mdmp_patched(off, fmt, value):
    def build():
        if not MDMP.exists():
            return None
        d = bytearray(MDMP.read_bytes())
        struct.pack_into(fmt, d, off, value)
        return d
    return build


# --- compressed and wrapped --------------------------------------------------

def zst(data, *args):
    return subprocess.run(["zstd", "-q", "-c", *args], input=data, capture_output=True, check=True).stdout


def zstd_bomb():
    # 64 MiB of zeros compress to a few KiB; the scan must stream them.
    return zst(bytes(64 << 20), "-19")


def garbage(n, seed):
    """Fixed bytes that are not random from run to run, so a case cannot flake."""
    import random
    return random.Random(seed).randbytes(n)


def apport(body):
    return b"ProblemType: Crash\nPackage: x 1\nCoreDump: base64\n" + body


# name: (build, exit status, [words on stderr])
CASES = {
    # ELF header and program header table
    "elf-empty-after-magic": (lambda: b"\x7fELF", 0, ["scanning"]),
    "elf-ehdr-cut-16": (cut(16), 0, ["scanning the whole file as raw bytes"]),
    "elf-ehdr-cut-40": (cut(40), 0, ["not readable as ELF"]),
    "elf-ehdr-cut-63": (cut(63), 0, ["scanning the whole file as raw bytes"]),
    "elf-phdrs-cut-first": (cut(64 + 20), 0, ["program header table"]),
    "elf-phdrs-cut-middle": (cut(64 + 56 * 5 + 7), 0, ["program header table"]),
    "elf-notes-cut": (cut(64 + 56 * 22 + 100), 0, ["truncated"]),
    "elf-segment-cut": (cut(100000), 0, ["truncated: 5792 of 143360 bytes present"]),
    "elf-bad-class": (patch(4, "<B", 9), 0, ["scanning"]),
    "elf-bad-data": (patch(5, "<B", 7), 0, ["scanning"]),
    "elf-not-a-core-ET_EXEC": (patch(16, "<H", 2), 0, ["ELF executable, not a core"]),
    "elf-phoff-past-end": (patch(32, "<Q", 1 << 40), 0, ["program header"]),
    "elf-phentsize-wrong": (patch(54, "<H", 7), 0, ["e_phentsize 7"]),
    "elf-phnum-zero": (patch(56, "<H", 0), 0, []),
    "elf-phnum-xnum-no-section0": (patch(56, "<H", 0xFFFF), 0, ["e_phnum is PN_XNUM"]),
    "elf-phnum-xnum-bad-section0": (lambda: elf64([(PT_LOAD, 6, 200, 0, 0, 10, 10, 1)], e_phnum=0xFFFF,
                                                  shoff=400, shnum=1,
                                                  extra=os.urandom(300)), 0, []),
    "elf-p_offset-past-end": (patch_phdr(2, 8, 0xFFFFFFFFFFF00000), 0, ["truncated: 0 of"]),
    "elf-p_filesz-overflow": (patch_phdr(2, 32, 0xFFFFFFFFFFFFFF00), 0, ["overflows"]),
    "elf-p_filesz-huge": (patch_phdr(2, 32, 1 << 50), 0, ["truncated"]),
    "elf-p_memsz-huge": (patch_phdr(2, 40, 1 << 62), 0, []),
    "elf-overlapping-segments": (patch_phdr(3, 8, 0x3000), 0, []),
    "elf-segments-unsorted": (lambda: elf64([(PT_LOAD, 6, 300, 0x20000, 0, 100, 100, 1),
                                            (PT_LOAD, 6, 200, 0x10000, 0, 100, 100, 1)],
                                           data=os.urandom(300)), 0, []),
    "elf-note-size-huge": (patch(64 + 56 * 22 + 4, "<I", 0xFFFFFFF0), 0, ["corrupt note at offset"]),
    "elf-note-namesz-huge": (lambda: elf_ok(struct.pack("<III", 0xFFFFFFF0, 4, 1) + b"CORE" + bytes(8)), 0, ["corrupt note"]),
    "elf-note-count-huge": (lambda: elf_ok(note(b"CORE", 1, b"x" * 8) * 20000), 0, []),
    "elf-notes-zero-padding": (lambda: elf_ok(note(b"CORE", 6, bytes(16)) + bytes(52) + note(b"CORE", 6, bytes(16))), 0, []),
    "elf-nt_file-count-huge": (lambda: elf_ok(nt_file(1 << 60, [], b"")), 0, ["NT_FILE claims"]),
    "elf-nt_file-names-missing": (lambda: elf_ok(nt_file(2, [(0x10000, 0x11000, 0), (0x20000, 0x21000, 0)], b"a")), 0, ["NT_FILE names end early"]),
    "elf-nt_file-start-after-end": (lambda: elf_ok(nt_file(1, [(0x20000, 0x10000, 0)], b"/x\0")), 0, []),
    "elf-nt_file-too-short": (lambda: elf_ok(note(b"CORE", 0x46494C45, b"abc")), 0, ["NT_FILE note too short"]),
    "elf-prstatus-short": (lambda: elf_ok(note(b"CORE", 1, b"abcd")), 0, []),
    "elf-auxv-odd": (lambda: elf_ok(note(b"CORE", 6, os.urandom(13))), 0, []),
    "elf-65535-empty-segments": (lambda: elf64([(PT_LOAD, 6, 0, 0x1000 * i, 0, 0, 4096, 1) for i in range(65534)]), 0, []),
    # minidump
    "mdmp-header-only": (lambda: b"MDMP" + struct.pack("<IIII", 0xA793, 5, 32, 0), 0, ["scanning"]),
    "mdmp-dir-past-end": (lambda: mdmp([], n_streams=5, dir_rva=0x10000), 0, ["scanning"]),
    "mdmp-stream-count-2^32": (lambda: mdmp([], n_streams=0xFFFFFFFF, tail=bytes(64)), 0, ["minidump"]),
    "mdmp-rva-past-end": (lambda: mdmp([(7, 56, 0x7FFFFFFF)], tail=bytes(64)), 0, ["past the end of the file"]),
    "mdmp-rva-wraps-32-bit": (lambda: mdmp([(7, 0xFFFFFFF0, 0x40)], tail=bytes(64)), 0, ["past the end"]),
    "mdmp-stream-points-at-itself": (lambda: mdmp([(3, 12, 32)], tail=bytes(64)), 0, ["overlaps"]),
    "mdmp-stream-at-header": (lambda: mdmp([(3, 32, 0)], tail=bytes(64)), 0, ["overlaps"]),
    "mdmp-mem64-base-past-end": (lambda: mdmp_mem64(1, 1 << 40, [(0x1000, 4096)]), 0, ["Memory64"]),
    "mdmp-mem64-count-huge": (lambda: mdmp_mem64(1 << 62, 300, [(0x1000, 16)]), 0, ["Memory64"]),
    "mdmp-mem64-sum-overflow": (lambda: mdmp_mem64(2, 300, [(0x1000, 1 << 63), (0x2000, 1 << 63)]), 0, ["Memory64"]),
    "mdmp-memlist-count-mismatch": (lambda: mdmp_memlist(1000, [(0x1000, 16, 100)]), 0, ["MemoryList"]),
    "mdmp-memlist-rva-past-end": (lambda: mdmp_memlist(1, [(0x1000, 4096, 0x7FFFFFF0)]), 0, ["past the end"]),
    "mdmp-memlist-size-huge": (lambda: mdmp_memlist(1, [(0x1000, 0xFFFFFFFF, 100)]), 0, ["past the end"]),
    "mdmp-module-name-rva-past-end": (lambda: mdmp_modules(1, 0x7FFFFFFF, 2), 0, []),
    "mdmp-module-name-length-huge": (lambda: mdmp_modules(1, 44 + 4 + 108, 0xFFFFFFFE), 0, []),
    "mdmp-module-count-huge": (lambda: mdmp_modules(0xFFFFFFFF, 0, 0), 0, ["ModuleList"]),
    "mdmp-type-zero-entries": (lambda: mdmp([(0, 0, 0)] * 50, tail=bytes(64)), 0, []),
    "mdmp-duplicate-streams": (lambda: mdmp([(7, 56, 44)] * 8, tail=bytes(64)), 0, []),
    "mdmp-big-endian-PMDM": (lambda: b"PMDM" + os.urandom(200), 0, ["big-endian minidump"]),
    "mdmp-real-dir-rva-garbage": (real_mdmp_patched(12, "<I", 0xFFFFFFF0), 0, ["scanning"]),
    "mdmp-real-stream-count-huge": (real_mdmp_patched(8, "<I", 0x00F5FF00), 0, []),
    # compressed and wrapped
    "zst-bomb-64MiB": (zstd_bomb, 0, []),
    "zst-truncated": (lambda: zst(os.urandom(100000))[:5000], 0, ["zstd"]),
    "zst-magic-then-garbage": (lambda: b"\x28\xb5\x2f\xfd" + b"\xff" * 16 + garbage(1000, 1), 2, ["zstd"]),
    "gz-truncated": (lambda: gzip.compress(os.urandom(100000))[:3000], 0, ["gzip"]),
    # A gzip header, then a deflate block of the reserved type 3: invalid at once.
    "gz-magic-then-garbage": (lambda: b"\x1f\x8b\x08\x00" + bytes(6) + b"\x07" + garbage(500, 2), 2, ["gzip"]),
    "xz-truncated": (lambda: lzma.compress(os.urandom(100000))[:3000], 0, ["xz"]),
    "bz2-magic-then-garbage": (lambda: b"BZh9" + garbage(500, 3), 0, ["bzip2-compressed data"]),
    "bz2-truncated": (lambda: bz2.compress(os.urandom(100000))[:4000], 2, ["bzip2"]),
    "lz4-magic-then-garbage": (lambda: b"\x04\x22\x4d\x18" + b"\xff" * 8 + garbage(500, 4), 2, ["lz4"]),
    "apport-no-coredump": (lambda: b"ProblemType: Crash\nPackage: x 1\n", 2, ['without a "CoreDump']),
    "apport-bad-base64": (lambda: apport(b" !!!!not base64!!!!\n"), 2, ["apport"]),
    "apport-empty-coredump": (lambda: apport(b""), 2, ["apport"]),
    # text forms: bodies that are huge, nested or endless
    "pem-endless-body": (lambda: b"-----BEGIN PRIVATE KEY-----\n" + b"A" * (4 << 20), 0, []),
    "pem-many-begins": (lambda: b"-----BEGIN PRIVATE KEY-----\n" * 100000, 0,
                        ["pem: more than 4096 BEGIN lines"]),
    "jwk-deep-nesting": (lambda: b'{"kty":"RSA","d":' + b"[" * 200000 + b"]" * 200000 + b"}", 0, []),
    "jwk-many-kty": (lambda: b'{"kty":"EC",' * 200000, 0, ['jwk: more than 2048 "kty" candidates']),
    "der-many-pkcs8-headers": (
        lambda: bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8") * 100000,
        0, ["der: more than 4096 key-shaped structures"]),
    "der-deep-nesting": (lambda: b"\x30\x83\x10\x00\x00" * 200000, 0, []),
    "der-length-past-end": (lambda: b"\x30\x84\xff\xff\xff\xff\x02\x01\x00\x02" + os.urandom(1000), 0, []),
    "openssh-magic-lengths-huge": (lambda: b"openssh-key-v1\0" + b"\xff" * 4000, 0, []),
    "aes-dense-triggers": (lambda: aes_dense(4 << 20), 0, []),
    "all-dashes": (lambda: b"-" * (8 << 20), 0, []),
    "utf16-dashes": (lambda: "-".encode("utf-16-le") * (4 << 20), 0, []),
}
