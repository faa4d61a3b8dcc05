# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_compressed.py - compressed dumps and standard input: the same key, with
# the same spki_sha256 at the same (decompressed) offset, in a real core and in
# its .zst, .lz4, .xz, .gz, .bz2 and apport .crash forms (made at test time by
# the real command-line tools, and by apport's own recipe for .crash), and in
# the core fed on standard input; broken and hostile compressed inputs.
import base64
import os
import shutil
import struct
import subprocess
import time
import zlib

import pytest

import dgtest
import keys
from conftest import gcore

COMPRESSORS = {
    "zst": ["zstd", "-q", "-c"],
    "lz4": ["lz4", "-q", "-c"],
    "xz": ["xz", "-c"],
    "gz": ["gzip", "-c"],
    "bz2": ["bzip2", "-c"],
}
NAMES = {"zst": "zstd", "lz4": "lz4", "xz": "xz", "gz": "gzip", "bz2": "bzip2"}


def compress(src, ext, dst=None, extra=()):
    """Compresses src with the real tool for ext; returns the new path."""
    dst = dst or f"{src}.{ext}"
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        subprocess.run(COMPRESSORS[ext] + list(extra), stdin=fin, stdout=fout, check=True)
    return dst


def apport_report(core, out, payload="gzip", chunk=1 << 20):
    """Writes an apport .crash report holding core the way apport's
    problem_report.py does: "CoreDump: base64", then one independently
    base64-encoded piece per line (a hand-made gzip header, raw deflate blocks
    of <= 1 MiB of input, the CRC32/size trailer), or a zstd stream."""
    with open(out, "wb") as f:
        f.write(b"ProblemType: Crash\nArchitecture: amd64\nDate: Sat Nov 22 10:00:00 2026\n"
                b"ExecutablePath: /usr/bin/holdkey\nProcCmdline: holdkey key.pem\n")
        f.write(b"CoreDump: base64\n")
        if payload == "gzip":
            f.write(b" " + base64.b64encode(b"\037\213\010\010\000\000\000\000\002\377"
                                            + b"CoreDump\000") + b"\n")
            comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
            crc = size = 0
            with open(core, "rb") as src:
                while block := src.read(chunk):
                    crc = zlib.crc32(block, crc)
                    size += len(block)
                    z = comp.compress(block)
                    if z:
                        f.write(b" " + base64.b64encode(z) + b"\n")
            tail = comp.flush() + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)
            f.write(b" " + base64.b64encode(tail) + b"\n")
        else:
            z = subprocess.run(["zstd", "-q", "-c", str(core)], check=True,
                               capture_output=True).stdout
            for i in range(0, len(z), 57 * 1000):
                f.write(b" " + base64.b64encode(z[i:i + 57 * 1000]) + b"\n")
        f.write(b"ProcEnviron:\n LANG=C.UTF-8\n SHELL=/bin/sh\nSignal: 11\n")
    return out


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    """A real core of holdkey holding an RSA key as PEM: (core, spki, size)."""
    d = tmp_path_factory.mktemp("compressed")
    key = keys.genpkey(d / "key.pem", "rsa2048")
    p = subprocess.Popen([dgtest.HOLDKEY, key], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    try:
        assert b"ready" in p.stdout.readline()
        core = gcore(p.pid, d / "core")
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    return core, dgtest.spki_sha256(key), os.path.getsize(core)


def hits(findings, spki):
    return sorted((f["offset"], f["detector"]) for f in findings
                  if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki)


@pytest.fixture(scope="module")
def baseline(dirty):
    core, spki, size = dirty
    rc, findings, summ, err = dgtest.scan(core)
    assert rc == 1 and hits(findings, spki), err
    return hits(findings, spki), summ[0]


@pytest.mark.parametrize("form", ["zst", "lz4", "xz", "gz", "bz2", "crash", "crash-zstd"])
def test_same_key_in_every_compressed_form(dirty, baseline, form, tmp_path):
    core, spki, size = dirty
    if form.startswith("crash"):
        path = apport_report(core, tmp_path / "_usr_bin_holdkey.0.crash",
                             "zstd" if form.endswith("zstd") else "gzip")
        name = "apport+zstd" if form.endswith("zstd") else "apport+gzip"
    else:
        path = compress(core, form, tmp_path / f"core.{form}")
        name = NAMES[form]
    rc, findings, summ, err = dgtest.scan(path, "-v")
    assert rc == 1, err
    assert hits(findings, spki) == baseline[0], (findings, err)
    s = summ[0]
    assert s["format"] == "elf-core" and s["compression"] == name
    assert s["compressed_bytes"] == os.path.getsize(path)
    # Offsets and coverage are those of the decompressed dump, and it says so.
    assert s["coverage"]["file_bytes"] == size == s["coverage"]["scanned_bytes"]
    assert s["coverage"]["region_bytes"] == baseline[1]["coverage"]["region_bytes"]
    assert any("offsets refer to the decompressed dump" in m["message"] for m in s["info"])
    assert not s["warnings"] and not s["errors"], s
    text = dgtest.run("scan", path).stdout.decode()
    assert f"{name}-compressed, offsets in the decompressed dump" in text


@pytest.mark.parametrize("form", ["raw", "zst", "xz"])
def test_same_key_on_stdin(dirty, baseline, form, tmp_path):
    core, spki, size = dirty
    path = core if form == "raw" else compress(core, form, tmp_path / f"core.{form}")
    with open(path, "rb") as f:
        rc, findings, summ, err = dgtest.scan("-", input=f.read())
    assert rc == 1, err
    assert hits(findings, spki) == baseline[0]
    assert summ[0]["file"] == "-" and summ[0]["format"] == "elf-core"
    assert summ[0]["compression"] == (None if form == "raw" else NAMES[form])
    assert summ[0]["coverage"]["scanned_bytes"] == size


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_reader_that_helps_scan_finds_the_same(dirty, baseline, jobs, tmp_path):
    # 64 KiB chunks: the ring (threads + 3 buffers) fills at once, so the
    # reading thread scans chunks itself between decompressing; every chunk
    # must still be scanned exactly once.
    core, spki, size = dirty
    path = compress(core, "zst", tmp_path / "core.zst")
    rc, findings, summ, err = dgtest.scan(path, "--chunk-size", "65536", "-j", jobs)
    assert rc == 1, err
    assert hits(findings, spki) == baseline[0]
    assert summ[0]["coverage"]["scanned_bytes"] == size
    rc, plain, _, _ = dgtest.scan(core, "--chunk-size", "65536", "-j", jobs)
    key = lambda f: (f["offset"], f["detector"], f["type"], len(f.get("locations", [])))
    assert sorted(map(key, findings)) == sorted(map(key, plain))


def test_concatenated_frames_and_members(dirty, baseline, tmp_path):
    """zstd frames, gzip members and bzip2 streams joined with cat are one dump,
    as zstd -d, gzip -d and bzip2 -d read them."""
    core, spki, size = dirty
    data = open(core, "rb").read()
    half = len(data) // 3
    (tmp_path / "a").write_bytes(data[:half])
    (tmp_path / "b").write_bytes(data[half:])
    for ext in ("zst", "gz", "bz2", "lz4", "xz"):
        joined = tmp_path / f"joined.{ext}"
        joined.write_bytes(open(compress(tmp_path / "a", ext), "rb").read()
                           + open(compress(tmp_path / "b", ext), "rb").read())
        rc, findings, summ, err = dgtest.scan(joined)
        assert summ[0]["coverage"]["scanned_bytes"] == size, (ext, err)
        assert hits(findings, spki) == baseline[0], ext


@pytest.mark.parametrize("ext", ["zst", "lz4", "xz", "gz", "bz2"])
def test_truncated_compressed_dump_is_scanned_as_far_as_it_goes(dirty, baseline, ext, tmp_path):
    core, spki, size = dirty
    # lz4's 4 MiB and bzip2's 900 KiB blocks would hold most of this small core:
    # little or nothing decodes before the cut. Smaller blocks, as for a big core.
    extra = {"lz4": ["-B4"], "bz2": ["-1"]}.get(ext, [])
    full = open(compress(core, ext, tmp_path / f"core.{ext}", extra), "rb").read()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full[:len(full) * 2 // 3])
    rc, findings, summ, err = dgtest.scan(cut)
    s = summ[0]
    assert 0 < s["coverage"]["scanned_bytes"] < size
    assert any(NAMES[ext] in w["message"] for w in s["warnings"]), s
    assert "scanned the bytes before it" in err
    # Named once, at the offset where the decoded bytes stopped.
    assert f"{NAMES[ext]}: {NAMES[ext]}:" not in err.replace(str(cut), "FILE"), err
    assert f"after {s['coverage']['scanned_bytes']} decompressed bytes" in err, err
    # The PEM key sits near the start of the core: still found.
    assert hits(findings, spki)[:1] == baseline[0][:1]


def zstd_raw_frame(data, declared):
    """One zstd frame made by hand (RFC 8878): a single-segment header that
    declares `declared` content bytes, data in raw blocks of up to 128 KiB,
    then an empty last block."""
    out = bytearray(b"\x28\xb5\x2f\xfd\xe0") + struct.pack("<Q", declared)
    for i in range(0, len(data), 1 << 17):
        block = data[i:i + (1 << 17)]
        out += struct.pack("<I", len(block) << 3)[:3] + block
    return bytes(out + b"\x01\x00\x00")


def test_zstd_frame_shorter_than_its_declared_size(dirty, baseline, tmp_path):
    """A frame that declares more bytes than it holds, ending in an empty last
    block, is corrupt as a file and as a stream alike (libzstd checks the size
    only when it holds the whole frame at once; the fuzzer found the stream
    passing), and its bytes are still scanned."""
    core, spki, size = dirty
    data = open(core, "rb").read()
    good = tmp_path / "good.zst"
    good.write_bytes(zstd_raw_frame(data, size))
    assert subprocess.run(["zstd", "-q", "-t", str(good)]).returncode == 0
    rc, findings, summ, err = dgtest.scan(good)
    assert rc == 1 and not summ[0]["warnings"] and hits(findings, spki) == baseline[0], err
    bad = tmp_path / "bad.zst"
    bad.write_bytes(zstd_raw_frame(data, size + 4096))
    with open(bad, "rb") as f:
        piped = f.read()
    for how in ("file", "stdin"):
        rc, findings, summ, err = (dgtest.scan(bad) if how == "file" else
                                   dgtest.scan("-", input=piped))
        s = summ[0]
        assert s["compression"] == "zstd" and s["coverage"]["scanned_bytes"] == size, (how, err)
        assert any(f"a frame declares {size + 4096} bytes and holds {size} after {size} "
                   "decompressed bytes" in w["message"] for w in s["warnings"]), (how, s)
        assert hits(findings, spki) == baseline[0], how


def test_zstd_header_cut_by_the_sniffed_bytes_reads_as_the_file(tmp_path):
    """A 12-byte skippable frame puts the next frame's header across the 16
    bytes sniffed from a stream. Given a header in pieces, libzstd's
    single-pass shortcut decodes from the cut instead of the frame (here the
    stream stopped at once with "Unknown frame descriptor" while the file read
    on); the decoder now hands libzstd whole headers. The decompress fuzzer's
    input, kept in fuzz/corpus/decompress/."""
    data = bytes.fromhex("502a4d1804000000736b697027b52ffd045800736b698628"
                         "b5d9fd21010053356b625168734867")
    f = tmp_path / "cut.zst"
    f.write_bytes(data)
    seen = []
    for args, inp in (([f], None), (["-"], data)):
        rc, findings, summ, err = dgtest.scan(*args, input=inp)
        s = summ[0]
        seen.append((rc, s["compression"], s["compressed_bytes"], s["coverage"]["scanned_bytes"],
                     [m["message"].split(": ", 1)[1] for m in s["warnings"] + s["errors"]]))
    assert seen[0] == seen[1], seen
    assert seen[0][2] == len(data), seen


@pytest.mark.parametrize("form", ["stdin", "zst", "gz"])
def test_raw_stream_lacks_no_bytes(form, tmp_path):
    """A file in no dump format, read as a stream (standard input, or
    decompressed), is one raw span to its end: nothing is counted as bytes
    the dump lacks (the span once reached 2^64, and 2^64 - size was reported
    unreadable, negative in JSON)."""
    data = b"a text that is no core\n" * 4000
    raw = tmp_path / "notes.txt"
    raw.write_bytes(data)
    if form == "stdin":
        rc, findings, summ, err = dgtest.scan("-", input=data)
        text = dgtest.run("scan", "-", input=data).stdout.decode()
    else:
        path = compress(raw, form)
        rc, findings, summ, err = dgtest.scan(path)
        text = dgtest.run("scan", path).stdout.decode()
    cov = summ[0]["coverage"]
    assert summ[0]["format"] == "raw" and cov["scanned_bytes"] == len(data), err
    assert cov["unreadable_bytes"] == 0 and cov["outside_bytes"] == len(data), cov
    assert "0 B unreadable" in text, text


@pytest.mark.parametrize("magic", [b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18",
                                   b"\xfd7zXZ\x00", b"\x1f\x8b\x08",
                                   b"BZh91AY&SY"])
def test_garbage_behind_a_magic_is_an_error(magic, tmp_path):
    """Random bytes behind a codec's magic never pass silently: an error
    (exit 2), or, when the random bytes happen to decode to a few bytes
    first (a deflate stream can), a warning that --strict turns into exit 2."""
    bad = tmp_path / "bad"
    bad.write_bytes(magic + os.urandom(4096))
    rc, findings, summ, err = dgtest.scan(bad)
    if rc == 2:
        assert summ and summ[0]["errors"], err
    else:
        assert rc == 0 and summ and summ[0]["warnings"], (rc, err)
        assert "decompressed bytes" in err, err
        assert dgtest.scan(bad, "--strict")[0] == 2


def test_apport_report_without_coredump(tmp_path):
    r = tmp_path / "x.crash"
    r.write_bytes(b"ProblemType: Crash\nExecutablePath: /bin/true\nSignal: 6\n")
    rc, findings, summ, err = dgtest.scan(r)
    assert rc == 2 and 'without a "CoreDump: base64" field' in err


def test_apport_bad_base64_line(dirty, tmp_path):
    core, spki, size = dirty
    r = apport_report(core, tmp_path / "x.crash")
    data = bytearray(open(r, "rb").read())
    i = data.index(b"\n ", data.index(b"CoreDump: base64") + 20) + 2
    data[i + 10:i + 12] = b"!!"
    (tmp_path / "bad.crash").write_bytes(bytes(data))
    rc, findings, summ, err = dgtest.scan(tmp_path / "bad.crash")
    assert "is not base64" in err


def test_decompression_bomb_is_bounded_in_memory(tmp_path):
    """1 GiB of zeros in 32 KiB of zstd, on standard input: the memory stays
    that of the ring, whatever the output size."""
    if not shutil.which("zstd") or not os.path.exists("/usr/bin/time"):
        pytest.skip("zstd or /usr/bin/time missing")
    bomb = tmp_path / "bomb.zst"
    with open(bomb, "wb") as f:
        head = subprocess.Popen(["head", "-c", str(1 << 30), "/dev/zero"], stdout=subprocess.PIPE)
        subprocess.run(["zstd", "-q", "-1", "-c"], stdin=head.stdout, stdout=f, check=True)
        head.stdout.close()
        head.wait()
    assert os.path.getsize(bomb) < (1 << 20)
    with open(bomb, "rb") as f:
        p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", str(dgtest.DUMPGATE), "scan",
                            "--format", "jsonl", "-"], stdin=f, capture_output=True, timeout=600)
    summ = [r for r in dgtest.records(p.stdout) if r["record"] == "summary"][0]
    assert summ["coverage"]["scanned_bytes"] == 1 << 30 and summ["compression"] == "zstd"
    rss = int(p.stderr.decode().split("maxrss_kb=")[1].split()[0])
    if not os.environ.get("DUMPGATE_SANITIZED"):  # shadow memory is not the ring
        assert rss < 256 * 1024, f"peak RSS {rss} KiB for a 1 GiB stream"


def test_strict_fails_a_cut_stream(tmp_path):
    """A compressed dump cut short: scanned up to the cut with a warning,
    and --strict fails it (exit 2), naming the codec."""
    raw = tmp_path / "raw"
    raw.write_bytes(os.urandom(300000))
    z = tmp_path / "raw.zst"
    subprocess.run(["zstd", "-q", "-c", str(raw)], stdout=open(z, "wb"), check=True)
    cut = tmp_path / "cut.zst"
    cut.write_bytes(z.read_bytes()[:150000])
    assert dgtest.scan(cut)[0] == 0
    r = dgtest.run("scan", "--strict", cut)
    assert r.returncode == 2 and b"its zstd stream does not decompress to its end" in r.stderr, \
        r.stderr
    assert dgtest.scan(z, "--strict")[0] == 0  # the whole stream passes


def ext4_writes(path):
    """The kilobytes written so far to the ext4 file system holding path
    (/sys/fs/ext4/DEV/lifetime_write_kbytes), or None when it is not ext4."""
    p = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "--target", str(path)],
                       capture_output=True, text=True)
    fields = p.stdout.split()
    if p.returncode != 0 or len(fields) < 2 or fields[1] != "ext4":
        return None
    counter = f"/sys/fs/ext4/{os.path.basename(os.path.realpath(fields[0]))}/lifetime_write_kbytes"
    try:
        with open(counter) as f:
            return int(f.read())
    except OSError:
        return None


def test_spill_is_not_written_to_disk(tmp_path):
    """A stream's spill file is an unlinked file that lives only for the
    scan. On ext4, truncating a file to size 0 marks it for a flush of its
    delayed blocks at close (auto_da_alloc): a spill emptied on its way in
    was written to disk whole when the scan ended (1.4 GB and 0.4 s for the
    benchmark core). 96 MiB spilled from a .zst must leave the disk alone."""
    if ext4_writes(tmp_path) is None:
        pytest.skip("the spill directory is not on ext4 (no auto_da_alloc flush to avoid)")
    raw = tmp_path / "stream.raw"
    with open(raw, "wb") as f:
        for _ in range(96):
            f.write(b"A" * (1 << 20))
    zst = compress(raw, "zst")
    raw.unlink()
    env = dict(os.environ, TMPDIR=str(tmp_path))
    os.sync()
    before = ext4_writes(tmp_path)
    p = dgtest.run("scan", "--detectors", "pem", zst, env=env)
    time.sleep(0.5)  # the flush submits its writes as the file closes
    written = ext4_writes(tmp_path) - before
    assert p.returncode == 0, p.stderr
    assert written < 32 << 10, f"{written} KiB written to disk while 96 MiB were spilled"
