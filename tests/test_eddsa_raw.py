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
import os
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import dgtest
from conftest import gcore


def ed_key():
    """A fresh Ed25519 key: (seed, public key, spki_sha256)."""
    import hashlib
    k = ed25519.Ed25519PrivateKey.generate()
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


def layout(tmp_path, blobs, name="dump.bin"):
    """Random filler with each blob at an 8-byte aligned offset."""
    data = bytearray(os.urandom(4096))
    offs = []
    for b in blobs:
        offs.append(len(data))
        data += b + os.urandom((-len(b)) % 8 + 4096)
    p = tmp_path / name
    p.write_bytes(bytes(data))
    return p, offs


NOTES = {"malloc": "glibc malloc", "pybytes": "CPython bytes",
         "pk-before": "right after a copy of its public key",
         "pk-after": "right before a copy of its public key"}


def test_each_context_is_found_and_proven(tmp_path):
    want = {}
    blobs = []
    for site in NOTES:
        seed, pk, spki = ed_key()
        want[spki] = site
        blobs.append(contexts(seed, pk)[site])
    path, offs = layout(tmp_path, blobs)
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
