# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_malformed.py - hostile and broken inputs: each gives its expected
# message on stderr (naming the file and, where there is one, the offset) and
# its expected exit code, never a crash or a hang. A dump that is partly
# readable is still scanned (exit 0 or 1) with a warning; exit 2 only when
# nothing could be read.
import os
import struct
import subprocess
import threading

import pytest

import dgtest
import keys

CORE = dgtest.CORPUS / "elfutils" / "test-core.core"


def core_bytes():
    if not CORE.exists():
        pytest.skip("corpus absent")
    return bytearray(CORE.read_bytes())


def first_load(d):
    phoff, phnum = dgtest.phdr_table(d)
    for i in range(phnum):
        t, fl, off, va, pa, fs, ms, al = struct.unpack_from("<IIQQQQQQ", d, phoff + 56 * i)
        if t == 1 and fs > 0:
            return i, phoff + 56 * i
    raise AssertionError("no PT_LOAD")


def truncated_in_ehdr():
    return core_bytes()[:40]


def truncated_in_phdrs():
    return core_bytes()[:300]


def truncated_in_segment():
    return core_bytes()[:100000]


def segment_offset_overflows():
    d = core_bytes()
    i, at = first_load(d)
    struct.pack_into("<Q", d, at + 8, 0xfffffffffff00000)
    return d


def segment_size_overflows():
    d = core_bytes()
    i, at = first_load(d)
    struct.pack_into("<Q", d, at + 32, 0xffffffffffffff00)
    return d


def phnum_xnum_without_section0():
    d = core_bytes()
    struct.pack_into("<H", d, 56, 0xFFFF)
    return d


def note_size_huge():
    d = core_bytes()
    phoff, phnum = dgtest.phdr_table(d)
    note_off = struct.unpack_from("<Q", d, phoff + 8)[0]   # phdr 0 is PT_NOTE in kernel cores
    struct.pack_into("<I", d, note_off + 4, 0xFFFFFFF0)    # n_descsz of the first note
    return d


def overlapping_segments():
    d = core_bytes()
    phoff, phnum = dgtest.phdr_table(d)
    loads = []
    for i in range(phnum):
        t, fl, off, va, pa, fs, ms, al = struct.unpack_from("<IIQQQQQQ", d, phoff + 56 * i)
        if t == 1 and fs > 0:
            loads.append(phoff + 56 * i)
    a, b = loads[0], loads[1]
    struct.pack_into("<Q", d, b + 8, struct.unpack_from("<Q", d, a + 8)[0])  # same p_offset
    return d


def minidump_header_only():
    return b"MDMP" + struct.pack("<IIIIIQ", 0xA793, 5, 32, 0, 0, 0)[:20]


def minidump_dir_past_end():
    return b"MDMP" + struct.pack("<IIIIIQ", 0xA793, 5, 0x10000, 0, 0, 0)


def minidump_huge_count():
    return b"MDMP" + struct.pack("<IIIIIQ", 0xA793, 0xFFFFFFFF, 32, 0, 0, 0) + b"\0" * 64


# name: (builder, exit code, substrings expected on stderr)
CASES = {
    "elf-truncated-in-ehdr": (truncated_in_ehdr, 0, ["not readable as ELF", "scanning the whole file as raw bytes"]),
    "elf-truncated-in-phdrs": (truncated_in_phdrs, 0, ["program header table at offset 0x40 unreadable"]),
    "elf-truncated-in-segment": (truncated_in_segment, 0, ["truncated: 5792 of 143360 bytes present"]),
    "elf-p_offset-overflow": (segment_offset_overflows, 0, ["truncated: 0 of"]),
    "elf-p_filesz-overflow": (segment_size_overflows, 0, ["overflows"]),
    "elf-phnum-xnum-no-section0": (phnum_xnum_without_section0, 0, ["e_phnum is PN_XNUM"]),
    "elf-note-size-huge": (note_size_huge, 0, ["corrupt note at offset"]),
    "elf-overlapping-segments": (overlapping_segments, 0, []),
    "minidump-header-only": (minidump_header_only, 0, ["scanning"]),
    "minidump-directory-past-end": (minidump_dir_past_end, 0, ["scanning"]),
    "minidump-stream-count-2^32": (minidump_huge_count, 0, ["minidump"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed(tmp_path, name):
    build, code, expect = CASES[name]
    f = tmp_path / name
    f.write_bytes(bytes(build()))
    r = subprocess.run([str(dgtest.DUMPGATE), "scan", "--format", "jsonl", str(f)],
                       capture_output=True, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == code, err
    for s in expect:
        assert s in err, (s, err)
    if expect:
        assert str(f) in err
    summ = [x for x in dgtest.records(r.stdout) if x["record"] == "summary"][0]
    # Every byte of the file was scanned, whatever the headers claimed.
    assert summ["coverage"]["scanned_bytes"] == f.stat().st_size
    # Counts a header inflated past 2^63 are written as 2^63 - 1, never negative.
    assert all(0 <= v <= 2**63 - 1 for v in summ["coverage"].values()), summ["coverage"]
    rr = dgtest.run("regions", "--format", "jsonl", f)
    assert rr.returncode == 0


def test_key_in_damaged_core_still_found(tmp_path):
    """A key in the bytes of a core whose program headers are garbage."""
    d = phnum_xnum_without_section0()
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    pem = open(k, "rb").read()
    d[len(d) - 9000:len(d) - 9000 + len(pem)] = pem
    f = tmp_path / "damaged"
    f.write_bytes(bytes(d))
    rc, findings, _, err = dgtest.scan(f)
    assert [x["offset"] for x in findings] == [len(d) - 9000], err
    assert rc == 1


def test_empty_file(tmp_path):
    f = tmp_path / "empty"
    f.write_bytes(b"")
    r = dgtest.run("scan", f)
    assert r.returncode == 2
    assert f"dumpgate: error: {f}: empty file".encode() in r.stderr


def test_directory(tmp_path):
    r = dgtest.run("scan", tmp_path)
    assert r.returncode == 2
    assert f"{tmp_path}: is a directory".encode() in r.stderr


def test_missing_file(tmp_path):
    r = dgtest.run("scan", tmp_path / "nope")
    assert r.returncode == 2 and b"cannot open: No such file or directory" in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    f = tmp_path / "secret"
    f.write_bytes(b"x" * 10)
    f.chmod(0)
    r = dgtest.run("scan", f)
    assert r.returncode == 2 and b"Permission denied" in r.stderr


def test_fifo_is_read_as_a_stream(tmp_path):
    k = keys.genpkey(tmp_path / "k.pem", "ed25519")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    payload = os.urandom(100000) + open(k, "rb").read() + os.urandom(100)

    def writer():
        with open(fifo, "wb") as w:
            w.write(payload)

    t = threading.Thread(target=writer)
    t.start()
    rc, findings, summ, err = dgtest.scan(fifo, timeout=60)
    t.join(timeout=60)
    assert [x["offset"] for x in findings] == [100000], err
    assert summ[0]["coverage"]["file_bytes"] == len(payload)


def test_empty_stdin():
    r = subprocess.run([str(dgtest.DUMPGATE), "scan", "-"], input=b"", capture_output=True, timeout=30)
    assert r.returncode == 2 and b"empty input" in r.stderr


def test_file_shrinking_while_scanned(tmp_path):
    """A dump cut by another process while it is read: the short read ends the
    scan with one warning (or the scan finishes first), and never crashes."""
    f = tmp_path / "shrinking"
    with open(f, "wb") as fh:
        fh.truncate(4 << 30)  # sparse: reads as zeros, costs no disk
    p = subprocess.Popen([str(dgtest.DUMPGATE), "scan", "--format", "jsonl", "--chunk-size",
                          str(1 << 20), str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    import time
    time.sleep(0.3)
    os.truncate(f, 1 << 20)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (p.returncode, err)
    summ = [x for x in dgtest.records(out) if x["record"] == "summary"][0]
    if summ["coverage"]["scanned_bytes"] < 4 << 30:
        assert err.count(b"the file shrank while it was read") == 1, err[-2000:]
