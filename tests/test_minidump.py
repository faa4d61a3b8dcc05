# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_minidump.py - the minidump reader, checked against an independent
# reader written here with `struct` (MiniDump below), against Breakpad's
# minidump_dump output for minidump2.dmp, and on synthetic dumps from
# fixtures/mkminidump: a Memory64List (full-memory) dump with a planted PEM
# key must give the finding at the planted offset and vaddr, in the right
# region, with the key's SPKI fingerprint; every hostile variant must give the
# exit code, warning and offset decided below and still be scanned.
import json
import re
import struct
import subprocess

import pytest

import dgtest

MKMINIDUMP = dgtest.BUILD / "fixtures" / "mkminidump"
MEMORY_KINDS = {"memory", "stack", "module", "heap", "file", "anon", "vdso"}

ARCH = {0: "x86", 5: "ARM", 9: "AMD64", 12: "ARM64", 0x8003: "ARM64"}
PLATFORM = {2: "Windows", 0x8101: "macOS", 0x8201: "Linux", 0x8203: "Android"}


class MiniDump:
    """An independent little-endian minidump reader: directory, memory lists,
    threads, modules, SystemInfo. Lists whose count does not match DataSize
    (4 + n*size or 8 + n*size) are left empty, as the C reader does."""

    def __init__(self, data):
        self.data = data
        sig, _ver, n, rva = struct.unpack_from("<4sIII", data, 0)
        assert sig == b"MDMP"
        n = min(n, (len(data) - rva) // 12)
        self.streams = [struct.unpack_from("<III", data, rva + 12 * i) for i in range(n)]
        self.memory = []    # (vaddr, size, file offset, index)
        self.threads = []   # (tid, stack vaddr, stack size, stack rva, ctx size, ctx rva)
        self.modules = []   # (base, size, name)
        self.arch = self.platform = None
        for stype, size, rva in self.streams:
            if stype == 0 or size == 0 or rva + size > len(data):
                continue
            if stype == 5:
                for i, e in enumerate(self._list(rva, size, 16)):
                    start, dsize, drva = struct.unpack_from("<QII", data, e)
                    self.memory.append((start, dsize, drva, i))
            elif stype == 9:
                count, base = struct.unpack_from("<QQ", data, rva)
                if size == 16 + 16 * count:
                    off = base
                    for i in range(count):
                        start, dsize = struct.unpack_from("<QQ", data, rva + 16 + 16 * i)
                        self.memory.append((start, dsize, off, i))
                        off += dsize
            elif stype == 3:
                for e in self._list(rva, size, 48):
                    tid = struct.unpack_from("<I", data, e)[0]
                    start, ssize, srva, csize, crva = struct.unpack_from("<QIIII", data, e + 24)
                    self.threads.append((tid, start, ssize, srva, csize, crva))
            elif stype == 4:
                for e in self._list(rva, size, 108):
                    base, msize = struct.unpack_from("<QI", data, e)
                    name_rva = struct.unpack_from("<I", data, e + 20)[0]
                    nlen = struct.unpack_from("<I", data, name_rva)[0]
                    name = data[name_rva + 4:name_rva + 4 + nlen].decode("utf-16-le")
                    self.modules.append((base, msize, name))
            elif stype == 7:
                arch = struct.unpack_from("<H", data, rva)[0]
                plat = struct.unpack_from("<I", data, rva + 20)[0]
                self.arch, self.platform = ARCH.get(arch), PLATFORM.get(plat)

    def _list(self, rva, size, esize):
        count = struct.unpack_from("<I", self.data, rva)[0]
        for pad in (4, 8):
            if size == pad + count * esize:
                return [rva + pad + i * esize for i in range(count)]
        return []


def minidumps():
    out = []
    for p in dgtest.corpus_files():
        with open(p, "rb") as f:
            if f.read(4) == b"MDMP":
                out.append(p)
    return out


MINIDUMPS = minidumps()
IDS = [str(p.relative_to(dgtest.CORPUS)) for p in MINIDUMPS]


def check_cover(spans, size):
    pos = 0
    for s in spans:
        assert s["offset"] == pos, s
        assert s["size"] > 0, s
        pos += s["size"]
    assert pos == size


def memory_spans(spans):
    return [s for s in spans if s["vaddr"] is not None]


def span_at(spans, off):
    for s in spans:
        if s["offset"] <= off < s["offset"] + s["size"]:
            return s
    return None


# --- the public corpus ------------------------------------------------------

@pytest.mark.parametrize("path", MINIDUMPS, ids=IDS)
def test_corpus_minidump_regions(path):
    rc, spans, summ = dgtest.regions(path)
    size = path.stat().st_size
    assert rc == 0
    assert summ["format"] == "minidump" and summ["errors"] == []
    check_cover(spans, size)
    assert summ["coverage"]["file_bytes"] == size

    md = MiniDump(path.read_bytes())
    if path.name != "invalid-record-count.dmp":
        assert summ["warnings"] == [], summ["warnings"]
        assert md.arch and md.arch in summ["detail"] and md.platform in summ["detail"]

    # Every byte of every memory range is in a memory span whose vaddr is
    # consistent with the range (overlapping ranges: the first one wins).
    claimed = set()
    for va, dsize, rva, index in md.memory:
        for s in memory_spans(spans):
            lo, hi = max(s["offset"], rva), min(s["offset"] + s["size"], rva + dsize)
            if lo < hi and (lo, hi) not in claimed:
                assert int(s["vaddr"], 16) - s["offset"] == va - rva, (s, va, rva)
                claimed.add((lo, hi))
        s = span_at(spans, rva)
        assert s is not None and s["kind"] in MEMORY_KINDS, (s, rva)
    union = set()
    for _va, dsize, rva, _i in md.memory:
        union.update(range(rva, rva + dsize))
    assert sum(s["size"] for s in memory_spans(spans)) == len(union)
    assert summ["coverage"]["region_bytes"] == len(union)

    for tid, _va, ssize, srva, csize, crva in md.threads:
        if ssize:
            s = span_at(spans, srva)
            assert s["kind"] == "stack" and s["thread"] == tid, s
        if csize:
            s = span_at(spans, crva)
            assert s["kind"] == "context" and s["thread"] == tid, s
    stacks = {t[3] for t in md.threads}
    for va, dsize, rva, _i in md.memory:
        if rva in stacks:
            continue
        mods = [m for m in md.modules if m[0] <= va and va + dsize <= m[0] + m[1]]
        if mods:
            s = span_at(spans, rva)
            assert s["kind"] == "module" and s["name"] == mods[0][2], (s, mods[0])


def test_corpus_malformed_record_count():
    """rust-minidump's invalid-record-count.dmp: streams out of bounds, one at
    offset 0; every one of them is a warning naming the file and its directory
    entry, the file is still a minidump and fully covered."""
    path = dgtest.CORPUS / "rust-minidump" / "invalid-record-count.dmp"
    if not path.exists():
        pytest.skip("corpus absent")
    rc, spans, summ = dgtest.regions(path)
    assert rc == 0 and summ["format"] == "minidump" and summ["errors"] == []
    check_cover(spans, path.stat().st_size)
    offsets = {w["offset"] for w in summ["warnings"]}
    assert {12, 30, 42, 54, 126, 150, 210} <= offsets, summ["warnings"]
    assert all("invalid-record-count.dmp" in w["message"] for w in summ["warnings"])


def parse_oracle(text):
    """Module names, memory regions and threads from minidump_dump output."""
    modules = re.findall(r'^  \(code_file\)\s+= "(.*)"$', text, re.M)
    regions = [(int(a, 16), int(b, 16), int(c, 16)) for a, b, c in re.findall(
        r"^  start_of_memory_range = (0x[0-9a-f]+)\n  memory.data_size\s+= (0x[0-9a-f]+)\n"
        r"  memory.rva\s+= (0x[0-9a-f]+)$", text, re.M)]
    threads = [(int(t, 16), int(s, 16), int(r, 16)) for t, s, r in re.findall(
        r"^  thread_id\s+= (0x[0-9a-f]+)\n(?:  .*\n)*?  stack.start_of_memory_range = (0x[0-9a-f]+)\n"
        r"  stack.memory.data_size\s+= 0x[0-9a-f]+\n  stack.memory.rva\s+= (0x[0-9a-f]+)$",
        text, re.M)]
    return modules, regions, threads


def test_minidump2_matches_breakpad_oracle():
    dmp = dgtest.CORPUS / "breakpad" / "minidump2.dmp"
    oracle = dgtest.CORPUS / "breakpad" / "minidump2.dump.out"
    if not oracle.exists():
        pytest.skip("corpus absent")
    modules, regions, threads = parse_oracle(oracle.read_text())
    assert len(modules) == 13 and len(regions) == 3 and len(threads) == 2

    # The independent reader agrees with Breakpad ...
    md = MiniDump(dmp.read_bytes())
    assert [m[2] for m in md.modules] == modules
    assert [(va, size, rva) for va, size, rva, _ in md.memory] == regions

    # ... and so does dumpgate.
    rc, spans, summ = dgtest.regions(dmp)
    assert rc == 0 and summ["detail"] == "minidump, 7 streams, x86, Windows"
    mem = memory_spans(spans)
    assert [(int(s["vaddr"], 16), s["size"], s["offset"]) for s in mem] == regions
    assert [s["index"] for s in mem] == [0, 1, 2]
    # Region 0 (the code around the crash) lies in ntdll; regions 1-2 are stacks.
    assert mem[0]["kind"] == "module" and mem[0]["name"] == "C:\\WINDOWS\\system32\\ntdll.dll"
    assert mem[0]["name"] in modules
    for tid, va, rva in threads:
        s = span_at(spans, rva)
        assert s["kind"] == "stack" and s["thread"] == tid and int(s["vaddr"], 16) == va


# --- synthetic dumps --------------------------------------------------------

def mkminidump(out, *args):
    if not MKMINIDUMP.exists():
        pytest.skip(f"{MKMINIDUMP} not built")
    p = subprocess.run([str(MKMINIDUMP), *map(str, args), str(out)], capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def ec_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("key")
    key = d / "p256.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(key)], check=True, capture_output=True)
    return key


def test_generator_is_deterministic(tmp_path, ec_key):
    a = mkminidump(tmp_path / "a.dmp", "--memory64", "--plant", f"{ec_key}@0x555500001000")
    b = mkminidump(tmp_path / "b.dmp", "--memory64", "--plant", f"{ec_key}@0x555500001000")
    assert (tmp_path / "a.dmp").read_bytes() == (tmp_path / "b.dmp").read_bytes()
    assert a["ranges"] == b["ranges"] and a["planted"][0]["offset"] == b["planted"][0]["offset"]


@pytest.mark.parametrize("memory64", [True, False], ids=["memory64", "memorylist"])
def test_synthetic_regions(tmp_path, memory64):
    dump = tmp_path / "syn.dmp"
    gen = mkminidump(dump, *(["--memory64"] if memory64 else []), "--threads", 3, "--modules", 2,
                     "--ranges", 4, "--range-size", 12288, "--linux-maps")
    data = dump.read_bytes()
    md = MiniDump(data)
    rc, spans, summ = dgtest.regions(dump)
    assert rc == 0 and summ["warnings"] == [] and summ["errors"] == []
    check_cover(spans, len(data))
    assert summ["detail"].startswith("minidump, ") and "AMD64, Linux" in summ["detail"]
    assert ("full memory" in summ["detail"]) == memory64

    mem = memory_spans(spans)
    want = [(int(r["vaddr"], 16), r["size"], r["offset"], r["index"]) for r in gen["ranges"]]
    assert sorted(md.memory) == sorted(want)
    assert [(int(s["vaddr"], 16), s["size"], s["offset"], s["index"]) for s in mem] == want
    for s, r in zip(mem, gen["ranges"]):
        if r["kind"] == "stack":      # stacks come first, one per thread
            assert s["kind"] == "stack" and s["thread"] == 1000 + r["index"], s
            assert s["perms"] == "rw-"
        elif r["kind"] == "module":   # named by ModuleList, perms from maps / MemoryInfoList
            assert s["kind"] == "module" and s["perms"] == "r-x", s
            assert s["name"] == md.modules[r["index"] - 3][2]
        elif r["vaddr"] == "0x555500000000":
            assert s["kind"] == "heap" and s["name"] == "[heap]" and s["perms"] == "rw-", s
        else:                         # anonymous mapping: no name
            assert s["kind"] == "memory" and s["name"] is None and s["perms"] == "rw-", s


@pytest.mark.parametrize("where", ["heap", "own-range"])
def test_planted_key_in_memory64_dump(tmp_path, ec_key, where):
    dump = tmp_path / "full.dmp"
    vaddr = 0x555500001234 if where == "heap" else 0x600000000123
    gen = mkminidump(dump, "--memory64", "--linux-maps", "--ranges", 3,
                     "--plant", f"{ec_key}@{vaddr:#x}")
    planted = gen["planted"][0]
    assert int(planted["vaddr"], 16) == vaddr
    assert dump.read_bytes()[planted["offset"]:].startswith(b"-----BEGIN PRIVATE KEY-----")

    rc, findings, summ, err = dgtest.scan(dump)
    assert rc == 1, err
    assert summ[0]["format"] == "minidump" and summ[0]["errors"] == [] and summ[0]["warnings"] == []
    assert len(findings) == 1, findings
    f = findings[0]
    assert f["offset"] == planted["offset"]
    assert f["vaddr"] == f"{vaddr:#x}"
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(ec_key)
    if where == "heap":
        assert f["region"]["kind"] == "heap" and f["region"]["name"] == "[heap]"
    else:
        assert f["region"]["kind"] == "memory"


def test_planted_key_on_stdin(tmp_path, ec_key):
    """The same dump read as a stream: same spans, same finding."""
    dump = tmp_path / "full.dmp"
    gen = mkminidump(dump, "--memory64", "--plant", f"{ec_key}@0x555500001000")
    rc, spans, summ = dgtest.regions(dump)
    p = dgtest.run("regions", "--format", "jsonl", "-", input=dump.read_bytes())
    recs = dgtest.records(p.stdout)
    assert p.returncode == 0, p.stderr
    size = dump.stat().st_size
    assert [r for r in recs if r["record"] == "span" and r["offset"] < size] == spans
    rc, findings, summ, err = dgtest.scan("-", input=dump.read_bytes())
    assert rc == 1 and len(findings) == 1, err
    assert findings[0]["offset"] == gen["planted"][0]["offset"]
    assert findings[0]["vaddr"] == "0x555500001000"


# --- hostile variants -------------------------------------------------------
#
# Decisions: a damaged minidump whose header and directory can be used is read
# as a minidump with a warning for each problem (exit 0 for `regions`; `scan`
# still reads every byte and exits 1 because the planted key is found). Only
# a header that cannot be used (truncated-header) makes the reader give up:
# its complaint is demoted to a warning and the file is scanned raw (exit 0:
# something could be read). In every case the message names the file and the
# warning carries the offset of the damaged field (the generator reports it).
# key: where the planted key is found, as (vaddr known?, region kind or None).

HOSTILE = {
    "dir-count-huge": ("NumberOfStreams", True, "heap"),
    "rva-out-of-range": ("past the end of the file", True, "heap"),
    "stream-self": ("overlaps the minidump header or the stream directory", True, "heap"),
    "mem64-base-past-end": ("BaseRva", False, None),
    "list-count-mismatch": ("does not match DataSize", False, None),
    "truncated-header": ("minidump header truncated", None, None),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_malformed(tmp_path, ec_key, kind):
    words, has_va, region = HOSTILE[kind]
    dump = tmp_path / f"{kind}.dmp"
    gen = mkminidump(dump, "--malformed", kind, "--linux-maps", "--ranges", 2,
                     "--plant", f"{ec_key}@0x555500001000")
    bad = gen["malformed"]["offset"]
    size = dump.stat().st_size

    rc, spans, summ = dgtest.regions(dump)
    assert rc == 0
    check_cover(spans, size)
    assert summ["errors"] == []
    hits = [w for w in summ["warnings"] if words in w["message"]]
    assert hits, summ["warnings"]
    assert hits[0]["offset"] == bad and dump.name in hits[0]["message"], hits
    assert summ["format"] == ("raw" if kind == "truncated-header" else "minidump")

    rc, findings, ssumm, err = dgtest.scan(dump)
    assert ssumm[0]["coverage"]["scanned_bytes"] == size
    assert dump.name in err and f"(offset {bad})" in err, err
    if kind == "truncated-header":
        assert rc == 0 and findings == []
        return
    assert rc == 1 and len(findings) == 1, (findings, err)
    f = findings[0]
    assert f["offset"] == gen["planted"][0]["offset"]
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(ec_key)
    if has_va:
        assert f["vaddr"] == "0x555500001000" and f["region"]["kind"] == region
    else:
        assert f["vaddr"] is None and f["region"]["kind"] in ("gap", "trailing", "stream")
    if kind == "mem64-base-past-end":
        assert summ["coverage"]["unreadable_bytes"] == sum(r["size"] for r in gen["ranges"])
        # Only the stacks remain: the ThreadList gives their RVAs directly.
        assert {s["kind"] for s in memory_spans(spans)} == {"stack"}
    if kind == "list-count-mismatch":
        # The stacks still come from the ThreadList.
        assert {s["kind"] for s in memory_spans(spans)} == {"stack"}


def test_key_past_the_stream_head(tmp_path, ec_key):
    """An 80 MiB full-memory dump on stdin: the key lies past the 64 MiB head
    kept for the container, and is still found with its vaddr and range."""
    dump = tmp_path / "big.dmp"
    gen = mkminidump(dump, "--memory64", "--ranges", 6, "--range-size", 8 << 20,
                     "--plant", f"{ec_key}@0x555550001000")
    assert gen["planted"][0]["offset"] > 64 << 20
    rc, findings, summ, err = dgtest.scan("-", input=dump.read_bytes())
    assert rc == 1 and len(findings) == 1, err
    f = findings[0]
    assert f["offset"] == gen["planted"][0]["offset"] and f["vaddr"] == "0x555550001000"
    assert f["region"]["index"] == gen["planted"][0]["range"]
    assert summ[0]["warnings"] == [] and summ[0]["coverage"]["scanned_bytes"] == dump.stat().st_size


@pytest.mark.parametrize("memory64", [True, False], ids=["memory64", "memorylist"])
def test_truncated_upload(tmp_path, ec_key, memory64):
    """A dump cut inside its memory: one warning naming the first range that
    runs past the end, the missing bytes counted as unreadable, the rest of
    the memory (and the key before the cut) still attributed."""
    dump = tmp_path / "cut.dmp"
    gen = mkminidump(dump, *(["--memory64"] if memory64 else []), "--ranges", 3,
                     "--plant", f"{ec_key}@0x555500001000")
    data = dump.read_bytes()
    r1 = gen["ranges"][-2]                      # cut in the middle of this range
    cut = r1["offset"] + r1["size"] // 2
    dump.write_bytes(data[:cut])
    lost = len(data) - cut

    rc, spans, summ = dgtest.regions(dump)
    assert rc == 0 and summ["errors"] == []
    check_cover(spans, cut)
    assert summ["coverage"]["unreadable_bytes"] == lost
    msgs = [w for w in summ["warnings"] if "past the end of the file" in w["message"]]
    assert len(msgs) == 1 and "2 ranges" in msgs[0]["message"], summ["warnings"]
    desc = [s for s in spans if s["kind"] == "stream" and s["name"] in ("MemoryList", "Memory64List")][0]
    first_desc = desc["offset"] + (16 if memory64 else 4) + 16 * r1["index"]
    assert msgs[0]["offset"] == first_desc
    s = span_at(spans, cut - 1)
    assert s["vaddr"] is not None and s["index"] == r1["index"]
    assert s["offset"] + s["size"] == cut

    rc, findings, ssumm, err = dgtest.scan(dump)
    assert rc == 1 and findings[0]["vaddr"] == "0x555500001000", err


def test_stream_metadata_past_the_head(tmp_path):
    """On stdin only the first 64 MiB are kept for the container: a stream
    body placed after 80 MiB of memory cannot be read there. That is one
    warning (not an error), the rest of the map is unchanged, and the same
    file read from disk has no warning at all."""
    dump = tmp_path / "late.dmp"
    mkminidump(dump, "--ranges", 6, "--range-size", 8 << 20)
    data = bytearray(dump.read_bytes())
    dir_rva = struct.unpack_from("<I", data, 12)[0]
    stype, size, rva = struct.unpack_from("<III", data, dir_rva)
    assert stype == 7                            # SystemInfo: move its body to the end
    body = bytes(data[rva:rva + size])
    struct.pack_into("<I", data, dir_rva + 8, len(data))
    data += body
    dump.write_bytes(bytes(data))

    rc, spans, summ = dgtest.regions(dump)
    assert rc == 0 and summ["warnings"] == [] and "AMD64, Linux" in summ["detail"]
    p = dgtest.run("regions", "--format", "jsonl", "-", input=bytes(data))
    recs = dgtest.records(p.stdout)
    ssumm = [r for r in recs if r["record"] == "summary"][0]
    assert p.returncode == 0 and ssumm["errors"] == []
    assert len(ssumm["warnings"]) == 1 and "not read" in ssumm["warnings"][0]["message"]
    assert ssumm["warnings"][0]["offset"] == len(data) - len(body)   # the moved SystemInfo
    assert "AMD64" not in ssumm["detail"]
    sspans = [r for r in recs if r["record"] == "span" and r["offset"] < len(data)]
    assert memory_spans(sspans) == memory_spans(spans)
