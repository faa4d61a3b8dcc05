# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_eddsa_raw.py - Ed25519 keys held as the raw 64 bytes seed || public
# key (the eddsa-raw detector): planted in each context the detector keys on
# (a glibc malloc chunk, a CPython bytes object, a public key copy before or
# after), then in a real PyNaCl process under gcore. (Go slices and GnuTLS
# datums need an address map: tests/test_library_keys.py.) The
# counter-tests: the same blocks with one byte of the public key changed,
# a seed || pk block with no context at all, and random data, give nothing.
#
# Ed448 keys held as the raw 114 bytes seed || public key the same way: in a
# 128-byte malloc chunk, after a copy of the public key (wolfSSL's ed448_key
# {p[57], k[114]}, whose seed starts at struct offset 57), before one, at
# every byte alignment of the copies; the same counter-tests, and fills with
# the periods the Ed448 repeat test keys on (57, 114, 3). A real wolfSSL
# ed448_key is in tests/test_library_keys.py.
import os
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

import dgtest
from conftest import gcore


def ed_key(cls=ed25519.Ed25519PrivateKey):
    """A fresh Ed25519 key (or of cls, e.g. Ed448): (seed, public key, spki_sha256)."""
    import hashlib
    k = cls.generate()
    seed = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                           serialization.NoEncryption())
    pub = k.public_key()
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    spki = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return seed, raw, hashlib.sha256(spki).hexdigest()


def contexts(seed, pk):
    """The blob of each context; the seed || pk block sits 8-byte aligned
    when the blob does."""
    key = seed + pk
    q = lambda v: struct.pack("<Q", v)
    return {
        "malloc": q(0) + q(0x51) + key + q(0x21),
        "pybytes": q(1) + q(0x7f0012345678) + q(64) + q(0xfedcba9876543210) + key + b"\0" * 8,
        "pk-before": pk + key,
        "pk-after": key + pk,
    }


def layout(tmp_path, blobs, name="dump.bin", filler=os.urandom):
    """Random filler (or filler's) with each blob at an 8-byte aligned offset."""
    data = bytearray(filler(4096))
    offs = []
    for b in blobs:
        offs.append(len(data))
        data += b + filler((-len(b)) % 8 + 4096)
    p = tmp_path / name
    p.write_bytes(bytes(data))
    return p, offs


NOTES = {"malloc": "glibc malloc", "pybytes": "CPython bytes",
         "pk-before": "right after a copy of its public key",
         "pk-after": "right before a copy of its public key"}


@pytest.mark.parametrize("filler", [os.urandom, dgtest.jvm_heap], ids=["random", "jvm-heap"])
def test_each_context_is_found_and_proven(tmp_path, filler):
    """Each context, between random bytes and between a JVM's objects (whose
    mark words repeat every 32 bytes, as a public key's copy does)."""
    want = {}
    blobs = []
    for site in NOTES:
        seed, pk, spki = ed_key()
        want[spki] = site
        blobs.append(contexts(seed, pk)[site])
    path, offs = layout(tmp_path, blobs, filler=filler)
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    got = {f["key"]["spki_sha256"]: f for f in findings}
    assert set(got) == set(want), (findings, err)
    for spki, site in want.items():
        f = got[spki]
        assert (f["status"], f["type"], f["detector"]) == \
            ("confirmed", "ed25519-private-key", "eddsa-raw"), f
        assert NOTES[site] in f["note"], (site, f["note"])
        assert f["encoding"] == "ed25519-seed-pk" and "redacted" in f["preview"]
    assert rc == 1


def test_wrong_public_key_and_no_context_are_silent(tmp_path):
    blobs = []
    for site in NOTES:
        seed, pk, _ = ed_key()
        bad = bytearray(pk)
        bad[5] ^= 1
        blob = contexts(seed, bytes(bad))[site]
        blobs.append(blob)
    seed, pk, _ = ed_key()
    blobs.append(seed + pk)  # a key with nothing around it: not looked at
    path, _ = layout(tmp_path, blobs)
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    assert rc == 0 and findings == [], findings


def test_random_and_fill_patterns_are_silent_and_fast(tmp_path):
    """Random bytes, 0x51 words before random blocks, and a 32-byte period
    (a repeat at distance 32 everywhere): nothing, within the budgets."""
    import time
    q = lambda v: struct.pack("<Q", v)
    rnd = os.urandom(8 << 20)
    hdrs = b"".join(q(0x51) + os.urandom(72) for _ in range(20000))
    period = os.urandom(32) * (1 << 16)
    path = tmp_path / "noise.bin"
    path.write_bytes(rnd + hdrs + period)
    t0 = time.time()
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    assert rc == 0 and findings == [], findings
    assert time.time() - t0 < 20


HOLD_NACL = r"""
import os, sys, time
import nacl.signing
seed = bytearray(open(sys.argv[1], "rb").read())
key = nacl.signing.SigningKey(bytes(seed))
key.sign(b"hello")
for i in range(len(seed)):
    seed[i] = 0
print("ready", os.getpid(), flush=True)
time.sleep(600)
"""


def test_pynacl_signing_key(tmp_path, procs):
    """PyNaCl keeps SigningKey._signing_key, libsodium's seed || pk, in a
    CPython bytes object."""
    import pytest
    pytest.importorskip("nacl.signing")
    seed, _, spki = ed_key()
    (tmp_path / "seed").write_bytes(seed)
    script = tmp_path / "hold.py"
    script.write_text(HOLD_NACL)
    p = procs.start(["/usr/bin/python3", script, tmp_path / "seed"], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, _, err = dgtest.scan(core, "-j2")
    hits = [f for f in findings if f["key"]["spki_sha256"] == spki]
    assert hits and hits[0]["status"] == "confirmed", (findings, err)
    assert hits[0]["role"] == "long-term" and rc == 1


# --- Ed448 -------------------------------------------------------------------

def ed448_key():
    """A fresh Ed448 key: (seed, public key, spki_sha256)."""
    seed, raw, spki = ed_key(ed448.Ed448PrivateKey)
    assert len(seed) == len(raw) == 57
    return seed, raw, spki


def contexts448(seed, pk):
    """The blob of each Ed448 context, meant to start 8-byte aligned; "wolfssl"
    is a whole ed448_key as wolfSSL 5.5 lays it out (p, k, a pad byte, the
    privKeySet/pubKeySet bit-field, devId, heap)."""
    key = seed + pk
    q = lambda v: struct.pack("<Q", v)
    return {
        "malloc": q(0) + q(0x81) + key + os.urandom(6) + q(0x41),
        "wolfssl": pk + key + b"\0" + struct.pack("<HiQ", 3, -2, 0x55d0c0ffee10),
        "pk-before": pk + key,
        "pk-after": key + pk,
    }


NOTES448 = {"malloc": "glibc malloc chunk header (128-byte chunk)",
            "wolfssl": "right after a copy of its public key (wolfSSL ed448_key",
            "pk-before": "right after a copy of its public key",
            "pk-after": "right before a copy of its public key"}


def _shifted(blob, shift):
    """blob behind shift random bytes: the copies at another byte alignment."""
    return os.urandom(shift) + blob


def test_ed448_each_context_is_found_and_proven(tmp_path):
    """Every context, the repeat ones at all 8 byte alignments: each key is
    confirmed, named by the SHA-256 of its DER SubjectPublicKeyInfo, and
    found at the offset of its seed."""
    want = {}
    blobs = []
    for site in NOTES448:
        for shift in (range(8) if site in ("pk-before", "pk-after") else (0,)):
            seed, pk, spki = ed448_key()
            blob = contexts448(seed, pk)[site]
            want[spki] = (site, blob.index(seed) + shift)
            blobs.append(_shifted(blob, shift))
    path, offs = layout(tmp_path, blobs)
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    got = {f["key"]["spki_sha256"]: f for f in findings}
    assert set(got) == set(want), (len(got), len(want), findings, err)
    for (spki, (site, at)), off in zip(want.items(), offs):
        f = got[spki]
        assert (f["status"], f["type"], f["detector"], f["severity"]) == \
            ("confirmed", "ed448-private-key", "eddsa-raw", "high"), f
        assert NOTES448[site] in f["note"], (site, f["note"])
        assert f["encoding"] == "ed448-seed-pk" and "redacted" in f["preview"], f
        assert f["offset"] == off + at and f["length"] == 114, (site, f, off + at)
    assert rc == 1


def test_ed448_copies_whose_run_reaches_back(tmp_path):
    """The two copies of a public key are found by the bytes that match d
    bytes on (57 or 114). When the byte before the copies matches too (an
    Ed448 seed ending in its public key's last byte, 0x00 or 0x80: 1 key in
    256; or what precedes `pk | seed, pk` ending in the seed's last byte),
    the run starts a byte early, and at one alignment in 8 its first word
    lies before the copy: the key must still be tried at the copy's start."""
    want = {}
    blobs = []
    for site in ("pk-after", "pk-before"):
        for shift in range(8):
            while True:
                seed, pk, spki = ed448_key()
                if site == "pk-before" or seed[-1] == pk[-1]:
                    break
            blob = contexts448(seed, pk)[site]
            lead = bytearray(os.urandom(8 + shift))
            if site == "pk-before":
                lead[-1] = seed[-1]
            else:
                lead[-1] = seed[-1] ^ 0xff  # the run reaches back one byte only
            want[spki] = (site, blob.index(seed) + len(lead))
            blobs.append(bytes(lead) + blob)
    path, offs = layout(tmp_path, blobs)
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    got = {f["key"]["spki_sha256"]: f for f in findings}
    assert set(got) == set(want), ([want[k] for k in set(want) - set(got)], err)
    for (spki, (site, at)), off in zip(want.items(), offs):
        f = got[spki]
        assert f["status"] == "confirmed" and NOTES448[site] in f["note"], (site, f)
        assert f["offset"] == off + at and f["length"] == 114, (site, f, off + at)
    assert rc == 1


def test_ed448_seed_is_not_printed(tmp_path):
    seed, pk, _ = ed448_key()
    path, _ = layout(tmp_path, [contexts448(seed, pk)["wolfssl"]])
    for fmt in ("jsonl", "text", "sarif"):
        p = dgtest.run("scan", "--format", fmt, "--detectors", "eddsa-raw", path)
        assert p.returncode == 1, p.stderr
        assert seed.hex() not in p.stdout.decode().lower() and seed not in p.stdout


def test_ed448_wrong_public_key_and_no_context_are_silent(tmp_path):
    """A public key off by one bit in every copy (the repeat holds, the
    derivation refuses it), one copy off (no repeat), a seed || pk block with
    nothing around it: nothing."""
    blobs = []
    for site in NOTES448:
        seed, pk, _ = ed448_key()
        bad = bytearray(pk)
        bad[5] ^= 1
        blobs.append(contexts448(seed, bytes(bad))[site])
        if site != "malloc":
            blob = bytearray(contexts448(seed, pk)[site])
            blob[blob.index(pk) + 9] ^= 0x40  # the first copy only
            blobs.append(bytes(blob))
    seed, pk, _ = ed448_key()
    blobs.append(seed + pk)
    path, _ = layout(tmp_path, blobs)
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    assert rc == 0 and findings == [], findings


def test_ed448_fills_are_silent_and_fast(tmp_path):
    """Random bytes, 0x81 words before random blocks, fills with a period of
    57, 114 and 3 (a repeat at distance 57 and 114 everywhere): nothing, and
    no budget warning: the gates keep the derivations away."""
    import time
    q = lambda v: struct.pack("<Q", v)
    rnd = os.urandom(8 << 20)
    hdrs = b"".join(q(0x81) + os.urandom(120) for _ in range(20000))
    fills = os.urandom(57) * (1 << 15) + os.urandom(114) * (1 << 14) + b"abc" * (1 << 18)
    path = tmp_path / "noise.bin"
    path.write_bytes(rnd + hdrs + fills)
    t0 = time.time()
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    assert rc == 0 and findings == [], findings
    assert "budget" not in err, err
    assert time.time() - t0 < 20


def test_ed448_budget_runs_out_with_a_warning(tmp_path):
    """128-byte malloc chunks of random bytes whose 114th byte is 0x00, as an
    Ed448 public key's last byte is: each passes every gate and costs a
    derivation, until the budget runs out, which a warning says; the scan
    stays fast."""
    import time
    q = lambda v: struct.pack("<Q", v)
    hdrs = b"".join(q(0x81) + os.urandom(113) + b"\0" + os.urandom(6) for _ in range(20000))
    path = tmp_path / "worst.bin"
    path.write_bytes(hdrs)
    t0 = time.time()
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw")
    assert rc == 0 and findings == [], findings
    assert "eddsa-raw: the budget of public key derivations" in err, err
    assert time.time() - t0 < 20


def test_ed448_across_chunk_boundaries(tmp_path):
    """A pattern across the end of a chunk's owned part, at each of 39 byte
    positions from 190 bytes before it to 5 after, in each repeat context:
    every key is reported once, at its seed."""
    chunk = 1 << 14
    data = bytearray(os.urandom(40 * chunk))
    want = {}
    for k in range(1, 40):
        site = ("pk-before", "pk-after", "wolfssl")[k % 3]
        pos = k * chunk - 190 + 5 * k
        seed, pk, spki = ed448_key()
        blob = contexts448(seed, pk)[site]
        data[pos:pos + len(blob)] = blob
        want[spki] = pos + blob.index(seed)
    path = tmp_path / "edges.bin"
    path.write_bytes(bytes(data))
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw", "-j2",
                                       "--chunk-size", str(chunk))
    got = {f["key"]["spki_sha256"]: f for f in findings}
    assert set(got) == set(want) and len(findings) == len(want), (len(got), len(want), err)
    for spki, f in got.items():
        assert f["offset"] == want[spki] and f["copies"] == 1, f


def test_ed25519_across_chunk_boundaries(tmp_path):
    """The same for Ed25519, at 40 aligned positions from 104 bytes before the
    end of a chunk's owned part to 56 after, in each context: every key is
    reported once, at its seed (a key whose announcing word, a malloc
    header, a CPython size or a public key copy before it, lay at the end of
    the previous chunk was missed)."""
    chunk = 1 << 14
    data = bytearray(os.urandom(41 * chunk))
    want = {}
    for k in range(1, 41):
        site = ("pk-before", "pk-after", "malloc", "pybytes")[k % 4]
        pos = k * chunk - 104 + 8 * (k // 2)  # 8-byte aligned, as the contexts are
        seed, pk, spki = ed_key()
        blob = contexts(seed, pk)[site]
        data[pos:pos + len(blob)] = blob
        want[spki] = pos + blob.index(seed + pk)
    path = tmp_path / "edges.bin"
    path.write_bytes(bytes(data))
    rc, findings, _, err = dgtest.scan(path, "--detectors", "eddsa-raw", "-j2",
                                       "--chunk-size", str(chunk))
    got = {f["key"]["spki_sha256"]: f for f in findings}
    assert set(got) == set(want) and len(findings) == len(want), (set(want) - set(got), err)
    for spki, f in got.items():
        assert f["offset"] == want[spki] and f["copies"] == 1, f
