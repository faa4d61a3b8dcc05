# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_corpus.py - every real public dump in ../shared/corpus/public (read in
# place; skipped when the corpus is absent) is read with no error and gives no
# finding, its spans cover the file exactly, and for ELF cores the region map
# agrees with eu-readelf (segments, vaddrs, NT_FILE names).
import bz2
import gzip
import re
import shutil
import subprocess

import pytest

import dgtest

FILES = dgtest.corpus_files()


def plain(path, tmp_path):
    """The dump itself: .bz2/.gz corpus files are decompressed into tmp_path."""
    if path.suffix in (".bz2", ".gz"):
        out = tmp_path / path.stem
        opener = bz2.open if path.suffix == ".bz2" else gzip.open
        with opener(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return out
    return path


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(dgtest.CORPUS)) for p in FILES])
def test_corpus_scans_clean(path, tmp_path):
    dump = plain(path, tmp_path)
    rc, findings, summ, err = dgtest.scan(dump, "-j2")
    assert rc == 0, err
    assert findings == [], findings
    assert len(summ) == 1 and summ[0]["errors"] == []
    cov = summ[0]["coverage"]
    size = dump.stat().st_size
    assert cov["file_bytes"] == size
    assert cov["region_bytes"] + cov["outside_bytes"] == size
    assert cov["scanned_bytes"] == size


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(dgtest.CORPUS)) for p in FILES])
def test_corpus_spans_cover_file(path, tmp_path):
    dump = plain(path, tmp_path)
    rc, spans, summ = dgtest.regions(dump)
    assert rc == 0
    pos = 0
    for s in spans:
        assert s["offset"] == pos, s
        assert s["size"] > 0
        pos += s["size"]
    assert pos == dump.stat().st_size


LOAD = re.compile(r"^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)")
FILELINE = re.compile(r"^\s+([0-9a-f]+)-([0-9a-f]+)\s+[0-9a-f]+\s+\d+\s+(.+)$")


def readelf_loads(dump):
    out = subprocess.run(["eu-readelf", "-l", str(dump)], capture_output=True, text=True).stdout
    return [tuple(int(x, 16) for x in m.groups()) for m in map(LOAD.match, out.splitlines()) if m]


def readelf_files(dump):
    r = subprocess.run(["eu-readelf", "-n", str(dump)], capture_output=True, text=True)
    files, in_file = [], False
    for line in r.stdout.splitlines():
        if re.search(r"\bFILE\b", line) and "CORE" in line:
            in_file = True
            continue
        if in_file:
            m = FILELINE.match(line)
            if m:
                files.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()))
            elif not re.match(r"^\s+\d+ files?:", line):
                in_file = False
    return files


ELF_FILES = [p for p in FILES if p.suffix in (".bz2", ".gz") or (p.is_file() and is_elf(p))]


@pytest.mark.skipif(shutil.which("eu-readelf") is None, reason="eu-readelf not installed")
@pytest.mark.parametrize("path", ELF_FILES, ids=[str(p.relative_to(dgtest.CORPUS)) for p in ELF_FILES])
def test_regions_agree_with_eu_readelf(path, tmp_path):
    dump = plain(path, tmp_path)
    if not is_elf(dump):
        pytest.skip("not an ELF file")
    size = dump.stat().st_size
    rc, spans, summ = dgtest.regions(dump)
    assert rc == 0
    mem = [s for s in spans if s["vaddr"] is not None]
    loads = [l for l in readelf_loads(dump) if l[2] > 0 and l[0] < size]
    # Every dumped PT_LOAD is a memory span starting at its offset and vaddr.
    starts = {(s["offset"], int(s["vaddr"], 16)) for s in mem}
    for off, va, filesz, memsz in loads:
        assert (off, va) in starts, f"segment at 0x{off:x}/0x{va:x} missing"
    assert sum(s["size"] for s in mem) == sum(min(l[2], size - l[0]) for l in loads)
    # NT_FILE names: every memory span inside a mapped file carries its path.
    for start, end, name in readelf_files(dump):
        for s in mem:
            va = int(s["vaddr"], 16)
            if start <= va < end:
                assert s["name"] == name, (hex(va), s["name"], name)
