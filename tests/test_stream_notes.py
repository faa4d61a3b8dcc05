# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_stream_notes.py - a gcore core read as a stream (compressed, or on
# standard input) when its notes lie past the 64 MiB head that the container
# reader sees: gcore writes PT_NOTE last. The input keeps the notes as the
# engine reads them by, and they are decoded after the scan, so the stream
# gives what the file gives: the process, its threads, the file mappings
# that name regions, and the same findings. The detectors that do not
# search a file's read-only image (rsa-raw here) search a chunk holding
# read-only memory only after the notes said what lay there, reading it
# again from the spill file; without one they search it as it goes by, and
# what they find in an image is dropped, as the file scan never makes it.
#
# What the detectors' finish() and attribution read again after the scan (a
# prime's modulus outside its chunk, the numbers Go's headers point at) comes
# from a spill file: the stream written as it goes by to an unlinked file in
# $TMPDIR. Without one (TMPDIR unwritable) those reads see only the head.
#
# The cores are real: a Python process whose `cryptography` package holds an
# RSA key in OpenSSL's limbs (key B), 80 MiB of random bytes, and a read-only
# mapping of another Python process's core holding key A (coredump_filter
# 0x7f, so file mappings are dumped); and one that holds core A's bytes in
# anonymous memory made read-only with mprotect. Every process is stopped by
# PID.
import os
import re
import subprocess

import pytest

import dgtest
import keys
from conftest import gcore

HOLD_PY = r"""
import mmap, os, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
data = open(sys.argv[1], "rb").read()
key = serialization.load_pem_private_key(data, None)
key.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
del data
ballast = os.urandom(80 << 20) if len(sys.argv) > 2 else b""
if len(sys.argv) > 3:
    # the other core's bytes in anonymous memory the process made read-only
    import ctypes
    blob = open(sys.argv[2], "rb").read()
    size = (len(blob) + 4095) & ~4095
    share = mmap.MAP_SHARED if sys.argv[3] == "shared" else mmap.MAP_PRIVATE
    image = mmap.mmap(-1, size, flags=share | mmap.MAP_ANONYMOUS)
    image[0:len(blob)] = blob
    del blob
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    addr = ctypes.addressof(ctypes.c_char.from_buffer(image))
    assert libc.mprotect(ctypes.c_void_p(addr), size, mmap.PROT_READ) == 0
elif len(sys.argv) > 2:
    f = open(sys.argv[2], "rb")
    image = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    image[0:4096]  # touch it
print("ready", os.getpid(), flush=True)
time.sleep(600)
"""

HEAD = 64 << 20  # INPUT_HEAD_MAX


def take_core(script, args, prefix, filter_all=False):
    """Runs the holder with args, takes its core with gcore (file mappings too
    when filter_all) and stops it by PID; returns the core's path."""
    p = subprocess.Popen(["/usr/bin/python3", str(script)] + [str(a) for a in args],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert b"ready" in p.stdout.readline()
        if filter_all:
            with open(f"/proc/{p.pid}/coredump_filter", "w") as fh:
                fh.write("0x7f")
        return gcore(p.pid, prefix)
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


@pytest.fixture(scope="module")
def cores(tmp_path_factory):
    """(core B, spki A, spki B): core B is > 64 MiB with its notes at the end,
    and maps core A read-only."""
    return two_cores(tmp_path_factory.mktemp("streamnotes"), [], filter_all=True)


def two_cores(d, how, filter_all=False):
    """Takes core A of a process holding key A, then the core of a process
    holding key B, 80 MiB of random bytes and core A's bytes (how: HOLD_PY's
    third argument, none to map core A's file); returns (core B, spki A,
    spki B)."""
    script = d / "hold.py"
    script.write_text(HOLD_PY)
    key_a = keys.genpkey(d / "a.pem", "rsa2048")
    key_b = keys.genpkey(d / "b.pem", "rsa2048")
    core_a = take_core(script, [key_a], d / "corea")
    core_b = take_core(script, [key_b, core_a] + how, d / "coreb", filter_all=filter_all)
    return core_b, dgtest.spki_sha256(key_a), dgtest.spki_sha256(key_b)


def notes_offset(core):
    """File offset of the core's PT_NOTE, as eu-readelf reads it."""
    out = subprocess.run(["eu-readelf", "-l", core], capture_output=True, check=True).stdout
    for line in out.decode().splitlines():
        if line.split()[:1] == ["NOTE"]:
            return int(line.split()[1], 16)
    raise AssertionError(out)


def core_a_name(spans):
    """The path of core A as core B's file mappings name it."""
    return next(r["name"] for r in spans if r["kind"] == "file"
                and os.path.basename(r["name"] or "").startswith("corea."))


def view(findings, detectors=None):
    return sorted((f["offset"], f["detector"], f["type"], f["region"]["kind"],
                   f["region"]["name"], f["region"]["thread"], f["key"]["spki_sha256"])
                  for f in findings if detectors is None or f["detector"] in detectors)


def placed(findings, detector, status="confirmed"):
    """The places detector found a key (any copy, not only the one a finding
    leads with: the same key's PEM text may lie lower in the heap than its
    limbs, and then the finding leads with pem)."""
    return [p for p in dgtest.placements(findings)
            if p["detector"] == detector and status in (None, p["status"])]


def confirmed(findings, spki, detector):
    return [p for p in placed(findings, detector) if p["key"]["spki_sha256"] == spki]


@pytest.fixture(scope="module")
def as_file(cores):
    core, spki_a, spki_b = cores
    rc, findings, summ, err = dgtest.scan(core, "-v")
    assert rc == 1, err
    return findings, summ[0]


def test_the_core_has_its_notes_past_the_head(cores, as_file):
    core, spki_a, spki_b = cores
    assert notes_offset(core) > HEAD
    findings, s = as_file
    # The file scan: the process, its threads, key B in the heap; key A lies
    # in a read-only file mapping, where rsa-raw does not search.
    assert s["process"]["name"].startswith("python3") and s["process"]["pid"] > 0
    assert not s["detail"].endswith(" 0 threads"), s["detail"]
    assert confirmed(findings, spki_b, "rsa-raw")
    assert not confirmed(findings, spki_a, "rsa-raw")
    spans = dgtest.regions(core)[1]
    assert any(r["kind"] == "file" and r["name"] == core_a_name(spans) for r in spans)


def scan_stream(core, how, tmp_path, jobs="1"):
    """Scans core as a stream: its .zst ("zst") or on standard input."""
    if how == "zst":
        path = tmp_path / "core.zst"
        subprocess.run(["zstd", "-q", "-1", "-o", str(path), core], check=True)
        return dgtest.scan(path, "-v", "-j", jobs)
    with open(core, "rb") as f:
        return dgtest.scan("-", "-v", "-j", jobs, input=f.read())


# A stream has a scanning thread beside the reader at -j1 and -j2 alike (the
# reader is one of -j's threads, and there is at least one more), and its
# spill is written behind the reader by a thread of its own: a chunk set
# aside waits until it is written. -j2 also reads attribution's windows on
# two threads.
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("how", ["zst", "stdin"])
def test_stream_gives_what_the_file_gives(cores, as_file, how, jobs, tmp_path):
    core, spki_a, spki_b = cores
    rc, findings, summ, err = scan_stream(core, how, tmp_path, jobs)
    assert rc == 1, err
    s = summ[0]
    file_findings, fs = as_file
    assert s["process"] == fs["process"]
    assert s["detail"] == fs["detail"]
    infos = [m["message"] for m in s["info"]]
    assert any("were read after the scan" in m for m in infos), infos
    # Every finding's region is the one the file's map gives its offset.
    spans = dgtest.regions(core)[1]
    for f in findings:
        r = next(r for r in spans if r["offset"] <= f["offset"] < r["offset"] + r["size"])
        assert (f["region"]["kind"], f["region"]["name"]) == (r["kind"], r.get("name")), (f, r)
    # The same findings: what rsa-raw's finish() reads again (the modulus of
    # a prime, outside its chunk) comes from the spill file; so does what
    # attribution reads (pointer paths, module files).
    assert view(findings) == view(file_findings)
    where = lambda fs: [(f["offset"], f["where"]) for f in sorted(fs, key=lambda f: f["offset"])]
    assert where(findings) == where(file_findings)
    # No rsa-raw finding in core A's read-only mapping: dropped after the
    # notes named it, as the file scan never searches there.
    assert not [p for p in placed(findings, "rsa-raw", None)
                if p["region"]["kind"] == "file"], view(findings)
    assert placed(findings, "rsa-raw")
    # The chunks holding read-only memory were searched by rsa-raw (and the
    # other detectors of computed keys) only after the notes named core A's
    # mapping, read again from the spill file: nothing was found there to
    # drop.
    assert any("searched for computed keys after the stream's end" in m for m in infos), infos
    assert not any("read-only image dropped" in m for m in infos), infos
    # Those wholly inside core A's mapping and the libraries' (files'
    # read-only images, once the notes named them) were not read again:
    # the same findings as the file without them.
    more = [int(m.group(1)) for m in map(re.compile(r"stream: (\d+) more \(\d+ bytes\) lay "
                                                    r"wholly in files' read-only images").search,
                                         infos) if m]
    assert more and more[0] > 0, "\n".join(infos)


def test_stream_that_ends_before_its_notes(cores, tmp_path):
    core, spki_a, spki_b = cores
    with open(core, "rb") as f:
        cut = f.read(notes_offset(core) - 4096)
    rc, findings, summ, err = dgtest.scan("-", input=cut)
    s = summ[0]
    assert any("ended before its notes" in w["message"] for w in s["warnings"]), s
    assert s["detail"].endswith(" 0 threads") and s["process"] is None
    assert placed(findings, "rsa-raw")
    assert rc == 1, err


def scan_env(path, env_tmp, *args, input=None):
    env = dict(os.environ, TMPDIR=str(env_tmp))
    p = dgtest.run("scan", "--format", "jsonl", "-v", *args, path, input=input, env=env)
    recs = dgtest.records(p.stdout)
    return (p.returncode, [r for r in recs if r.get("record") == "finding"],
            [r for r in recs if r.get("record") == "summary"][0], p.stderr.decode())


def test_spill_file_leaves_nothing_behind(cores, as_file, tmp_path):
    core, spki_a, spki_b = cores
    spill = tmp_path / "spill"
    spill.mkdir()
    with open(core, "rb") as f:
        rc, findings, s, err = scan_env("-", spill, input=f.read())
    assert rc == 1, err
    assert view(findings) == view(as_file[0])
    assert not [m for m in s["info"] if "spill" in m["message"]], s["info"]
    assert os.listdir(spill) == []


@pytest.mark.parametrize("how", ["--no-spill", "TMPDIR missing"])
def test_without_a_spill_file_reads_after_the_scan_see_the_head(cores, as_file, how, tmp_path):
    core, spki_a, spki_b = cores
    args = ["--no-spill"] if how == "--no-spill" else []
    with open(core, "rb") as f:
        rc, findings, s, err = scan_env("-", tmp_path / "missing", *args, input=f.read())
    assert rc == 1, err
    said = any("no spill file" in m["message"] for m in s["info"])
    assert said == (how != "--no-spill"), s["info"]
    # rsa-raw still confirms the primes. The modulus it finds in the file
    # through a read after the scan is read from the head only: when that
    # modulus lies past the head, the key goes without it (and so without
    # its name); when the process put it in the head, the read finds it.
    assert confirmed(as_file[0], spki_b, "rsa-raw")
    key_b = confirmed(findings, spki_b, "rsa-raw")
    if key_b:
        m = re.search(r"modulus \(\S+\) at file offset 0x([0-9a-f]+)", key_b[0]["note"] or "")
        assert m and int(m.group(1), 16) < HEAD, key_b[0]["note"]
    else:
        assert [p for p in placed(findings, "rsa-raw") if p["type"] == "rsa-prime"]
    # Nothing can be read again, so the read-only memory was searched as it
    # went by, and what rsa-raw found in core A's mapping was dropped once
    # the notes named it a file's image.
    infos = [m["message"] for m in s["info"]]
    assert any("read-only image dropped" in m for m in infos), infos
    assert not any("after the stream's end" in m for m in infos), infos
    assert not [p for p in placed(findings, "rsa-raw", None)
                if p["region"]["kind"] == "file"], view(findings)


@pytest.fixture(scope="module", params=["private", "shared"])
def anon_core(tmp_path_factory, request):
    """(core C, spki A): core C, > 64 MiB with its notes at the end, holds
    core A's bytes in anonymous memory the process made read-only: private,
    or shared (NT_FILE names it "/dev/zero (deleted)", no file's image)."""
    return two_cores(tmp_path_factory.mktemp("streamanon"), [request.param])[:2]


@pytest.mark.parametrize("how", ["zst", "stdin"])
def test_stream_searches_read_only_memory_that_is_no_image(anon_core, how, tmp_path):
    """Read-only memory that no file mapping names (a process's mprotect)
    may hold a key's limbs: the stream sets it aside while it cannot tell,
    and searches it once the notes have said it is no file's image."""
    core, spki_a = anon_core
    assert notes_offset(core) > HEAD
    rc, file_findings, fs, err = dgtest.scan(core)
    assert rc == 1, err
    in_anon = [p for p in confirmed(file_findings, spki_a, "rsa-raw")
               if p["region"]["kind"] == "anon"]
    assert in_anon, view(file_findings)
    rc, findings, summ, err = scan_stream(core, how, tmp_path)
    assert rc == 1, err
    infos = [m["message"] for m in summ[0]["info"]]
    assert any("searched for computed keys after the stream's end" in m for m in infos), infos
    assert view(findings) == view(file_findings)
    assert [p for p in confirmed(findings, spki_a, "rsa-raw") if p["region"]["kind"] == "anon"]
