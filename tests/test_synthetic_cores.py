# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_synthetic_cores.py - ELF cores the public corpus lacks, made at test
# time by fixtures/mkcore (headers written with libelf): big-endian and 32-bit
# cores, a PN_XNUM core with 70000 segments, keys in every text form planted
# at known offsets and across chunk edges, truncated cores. Each finding must
# sit at the planted file offset and virtual address; region maps must agree
# with eu-readelf.
import json
import re
import subprocess

import pytest

import dgtest
import keys

MKCORE = dgtest.BUILD / "fixtures" / "mkcore"


def mkcore(out, *args):
    r = subprocess.run([str(MKCORE), *map(str, args), str(out)], capture_output=True, check=True)
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def ec(tmp_path_factory):
    return keys.genpkey(tmp_path_factory.mktemp("k") / "ec.pem", "p256")


@pytest.mark.parametrize("machine", ["ppc", "i386", "s390x", "aarch64", "ppc64", "x86_64"])
def test_key_in_core_of_each_layout(tmp_path, ec, machine):
    meta = mkcore(tmp_path / "c.core", "--machine", machine, "--segments", "6", "--nt-file",
                  "--threads", "2", "--plant", f"{ec}@3:101")
    p = meta["planted"][0]
    rc, findings, summ, err = dgtest.scan(tmp_path / "c.core")
    assert summ[0]["format"] == "elf-core" and summ[0]["errors"] == [], err
    assert [(f["offset"], f["vaddr"]) for f in findings] == [(p["offset"], p["vaddr"])], findings
    f = findings[0]
    assert f["status"] == "confirmed" and f["key"]["spki_sha256"] == dgtest.spki_sha256(ec)
    assert f["region"]["name"] == "/usr/lib/fake/libseg3.so" and f["region"]["index"] == 4
    assert rc == 1


def test_pn_xnum_core(tmp_path, ec):
    core = tmp_path / "xnum.core"
    meta = mkcore(core, "--segments", "70000", "--segment-size", "4096", "--nt-file",
                  "--plant", f"{ec}@69000:3")
    with open(core, "rb") as fh:
        hdr = fh.read(64)
    assert int.from_bytes(hdr[56:58], "little") == 0xFFFF  # e_phnum = PN_XNUM
    rc, spans, summ = dgtest.regions(core)
    mem = [s for s in spans if s["vaddr"] is not None]
    assert len(mem) == 70000
    loads = re.findall(r"^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)",
                       subprocess.run(["eu-readelf", "-l", str(core)], capture_output=True,
                                      text=True).stdout, re.M)
    assert [(int(o, 16), int(v, 16)) for o, v in loads] == [(s["offset"], int(s["vaddr"], 16)) for s in mem]
    assert mem[69000]["name"] == "/usr/lib/fake/libseg69000.so"
    rc, findings, _, err = dgtest.scan(core, "-j2")
    p = meta["planted"][0]
    assert [(f["offset"], f["vaddr"], f["region"]["index"]) for f in findings] == [(p["offset"], p["vaddr"], 69001)], err


TEXT_FORMS = {
    "utf-16le": lambda pem: keys.utf16le(pem),
    "json-escaped": lambda pem: keys.json_escaped(pem),
    "one-line": lambda pem: keys.one_line(pem),
    "crlf": lambda pem: pem.replace("\n", "\r\n").encode(),
}


@pytest.mark.parametrize("form", sorted(TEXT_FORMS))
def test_text_forms_in_core(tmp_path, ec, form):
    blob = tmp_path / "blob"
    blob.write_bytes(TEXT_FORMS[form](open(ec).read()) + b"\x01")
    meta = mkcore(tmp_path / "c.core", "--segments", "4", "--fill", "mixed", "--plant", f"{blob}@1:777")
    rc, findings, _, err = dgtest.scan(tmp_path / "c.core")
    assert [f["offset"] for f in findings] == [meta["planted"][0]["offset"]], (findings, err)
    assert findings[0]["key"]["spki_sha256"] == dgtest.spki_sha256(ec)
    assert form.split("-")[0] in findings[0]["text"] or form in findings[0]["text"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_key_straddling_chunk_edge_in_core(tmp_path, ec, jobs):
    """One segment of 256 KiB; the key crosses the 64 KiB chunk edge at 128 KiB."""
    core = tmp_path / "c.core"
    mkcore(core, "--segments", "1", "--segment-size", str(256 << 10))
    spans = dgtest.regions(core)[1]
    seg = [s for s in spans if s["vaddr"] is not None][0]
    chunk = 65536
    edge = (seg["offset"] // chunk + 2) * chunk
    at = edge - seg["offset"] - 100
    meta = mkcore(core, "--segments", "1", "--segment-size", str(256 << 10), "--plant", f"{ec}@0:{at}")
    rc, findings, _, err = dgtest.scan(core, "--chunk-size", str(chunk), "-j", jobs)
    assert [f["offset"] for f in findings] == [meta["planted"][0]["offset"]], (findings, err)
    assert findings[0]["offset"] < edge < findings[0]["offset"] + findings[0]["length"]


def test_truncated_core_counts_unreadable(tmp_path, ec):
    core = tmp_path / "t.core"
    meta = mkcore(core, "--segments", "8", "--plant", f"{ec}@2:10", "--truncate", "20000")
    rc, findings, summ, err = dgtest.scan(core)
    cov = summ[0]["coverage"]
    assert cov["file_bytes"] == 20000 and cov["unreadable_bytes"] > 0
    assert "truncated" in err
    assert [f["offset"] for f in findings] == [meta["planted"][0]["offset"]]


def test_label_only_bait_in_core(tmp_path):
    bait = tmp_path / "bait"
    bait.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\0-----BEGIN EC PRIVATE KEY-----\0"
                     b"-----BEGIN OPENSSH PRIVATE KEY-----\0%s\0-----END PRIVATE KEY-----\0")
    mkcore(tmp_path / "c.core", "--segments", "3", "--fill", "text", "--plant", f"{bait}@1:0")
    rc, findings, _, _ = dgtest.scan(tmp_path / "c.core")
    assert findings == [] and rc == 0


@pytest.mark.parametrize("form", ["stdin", "zst"])
def test_stream_longer_than_its_head_is_not_called_truncated(tmp_path, ec, form):
    # 8 segments of 1 MiB: the container is read from the first MiB of the
    # stream, the rest of the segments lie beyond it. Whole, the stream is not
    # truncated; cut, it is, and the warning names where it ended.
    core = tmp_path / "big.core"
    meta = mkcore(core, "--segments", "8", "--segment-size", str(1 << 20),
                  "--plant", f"{ec}@6:100")
    data = core.read_bytes()
    cut = data[:len(data) // 2]
    if form == "zst":
        data = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                              check=True).stdout
        cut = subprocess.run(["zstd", "-q", "-c"], input=cut, capture_output=True,
                             check=True).stdout
    rc, findings, summ, err = dgtest.scan("-", input=data)
    assert summ[0]["coverage"]["scanned_bytes"] == core.stat().st_size, err
    assert not summ[0]["warnings"] and "truncated" not in err, err
    assert [f["offset"] for f in findings] == [meta["planted"][0]["offset"]]
    size = core.stat().st_size
    rc, findings, summ, err = dgtest.scan("-", input=cut)
    m = re.search(rf"the stream ended at {size // 2} bytes, (\d+) bytes short", err)
    assert m and 0 < int(m.group(1)) <= size - size // 2, err
    assert summ[0]["coverage"]["unreadable_bytes"] >= int(m.group(1))
