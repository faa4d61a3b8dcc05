# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_rsa_factor.py - RSA keys held as a modulus and its two primes, with no
# CRT exponents and no private exponent, at offsets that are not 8-byte
# aligned (the rsa-factor detector; proof n mod p = 0).
#
# Real processes first: fixtures/holdfactors.c loads a fresh key with
# OpenSSL, uses it once, keeps n, p and q in its own record (packed
# big-endian bytes at +3, 32-bit little-endian limbs at +4, SSH mpints at +1)
# and frees OpenSSL's copy; its core is taken with gcore and the process
# stopped by PID. The key must be confirmed with the spki_sha256 that
# `openssl pkey -pubout` gives, by rsa-factor, and the default set without
# rsa-factor must not find it (nothing else in the dump proves it).
#
# Then synthetic layouts in heap-like filler (every gap the detector knows,
# both orders of the primes, the modulus before, after or far from them), and
# the counter-tests: a changed byte in a prime, a modulus with only one prime
# beside it and no lengths, and primes beside another key's modulus give
# nothing. A modulus and one prime are found when lengths announce both.
import os
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import dgtest
import keys
from conftest import gcore

HOLDFACTORS = dgtest.HOLDKEY.parent / "holdfactors"


def from_factor(findings, spki):
    """The placements of a confirmed key with spki found by rsa-factor."""
    return [f for f in dgtest.placements(findings)
            if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki
            and f.get("detector") == "rsa-factor"]


@pytest.mark.parametrize("layout,alg", [("be", "rsa2048"), ("le32", "rsa2048"),
                                        ("mpint", "rsa2048"), ("be", "rsa4096"),
                                        ("le32", "rsa3072"), ("mpint", "rsa1024")])
def test_holder(tmp_path, procs, layout, alg):
    key = keys.genpkey(tmp_path / "k.pem", alg)
    spki = dgtest.spki_sha256(key)
    p = procs.start([str(HOLDFACTORS), layout, str(key)], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, _, err = dgtest.scan(core, "-j2")
    hits = from_factor(findings, spki)
    assert hits and rc == 1, (findings, err)
    enc = {"be": "bn-be", "le32": "bn-le", "mpint": "bn-be"}[layout]
    assert {h["encoding"] for h in hits} == {enc}, hits
    assert hits[0]["key"]["bits"] == int(alg[3:])
    if alg == "rsa1024":
        return  # OpenSSL's decoder leaves a freed PKCS#1 DER of a 1024-bit key: der proves it
    f = [f for f in findings if f["key"]["spki_sha256"] == spki][0]
    assert f["detector"] == "rsa-factor" and "n mod p = 0" in f["note"], f
    assert ("e 65537 seen beside" in f["note"]) == (layout == "mpint"), f["note"]
    # no other detector proves this key: the finding is rsa-factor's own
    rc2, others, _, _ = dgtest.scan(core, "-j2", "-d", "-rsa-factor")
    assert not [f for f in others if f["key"].get("spki_sha256") == spki], others


def numbers(bits):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pn = k.private_numbers()
    spki = k.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib
    return pn.public_numbers.n, pn.p, pn.q, hashlib.sha256(spki).hexdigest()


def heap(n):
    """Bytes like a heap's: pointers and small integers (low entropy)."""
    out = bytearray()
    while len(out) < n:
        out += struct.pack("<QQ", 0x7f3a00000000 + (os.urandom(2)[0] << 12), os.urandom(1)[0])
    return bytes(out[:n])


def be(x, n):
    return x.to_bytes(n, "big")


def le(x, n):
    return x.to_bytes(n, "little")


def layouts(bits):
    """(name, blob, spki) of each layout of n, p, q the detector must find."""
    L = bits // 8
    out = []
    n, p, q, s = numbers(bits)
    out.append(("be-packed", b"\0\0\1\0" + be(n, L) + be(p, L // 2) + be(q, L // 2), s))
    n, p, q, s = numbers(bits)
    out.append(("le-len32", b"\0" * 4 + le(n, L) + struct.pack("<I", L // 8) + le(p, L // 2)
                + struct.pack("<I", L // 8) + le(q, L // 2), s))
    n, p, q, s = numbers(bits)
    out.append(("be-pgp-counts", b"\x01\0" + be(n, L) + b"\0\x11\1\0\1\0"
                + struct.pack(">H", bits // 2) + be(q, L // 2)
                + struct.pack(">H", bits // 2) + be(p, L // 2), s))
    n, p, q, s = numbers(bits)
    out.append(("le-primes-then-far-modulus", b"\0" * 8 + le(q, L // 2) + struct.pack("<Q", L // 2)
                + le(p, L // 2) + heap(3001) + b"\0" * 5 + le(n, L), s))
    n, p, q, s = numbers(bits)
    out.append(("be-modulus-after-primes", b"\0\0" + be(p, L // 2) + be(q, L // 2) + b"\0" * 4
                + be(n, L), s))
    n, p, q, s = numbers(bits)
    out.append(("be-mpints-one-prime", mpint(65537) + mpint(n) + b"\x11" * 40 + mpint(p), s))
    n, p, q, s = numbers(bits)
    out.append(("le-limb-counts-one-prime", struct.pack("<I", L // 4) + le(n, L) + heap(200)
                + struct.pack("<I", L // 16) + le(q, L // 2), s))
    return out


def mpint(x):
    b = x.to_bytes((x.bit_length() + 8) // 8, "big")  # a leading zero when the top bit is set
    return struct.pack(">I", len(b)) + b


def plant(tmp_path, blobs):
    data, offs = bytearray(os.urandom(4096) + heap(8192)), []
    for i, b in enumerate(blobs):
        data += heap(1003 + 2 * i) + b"\x01" * (1 + i % 7)
        offs.append(len(data))
        data += b + heap(1111)
    path = tmp_path / "dump.bin"
    path.write_bytes(bytes(data + os.urandom(4096)))
    return path, offs


@pytest.mark.parametrize("bits", [1024, 2048, 4096])
def test_synthetic_layouts(tmp_path, bits):
    lay = layouts(bits)
    path, offs = plant(tmp_path, [b for _, b, _ in lay])
    rc, findings, _, err = dgtest.scan(path)
    for (name, blob, spki), off in zip(lay, offs):
        hits = from_factor(findings, spki)
        assert hits, (name, findings, err)
        assert off <= hits[0]["offset"] < off + len(blob), (name, hits, off)
    assert rc == 1


def test_counter_layouts(tmp_path):
    """No key where the math does not hold or the second prime is missing."""
    L = 256
    blobs, spkis = [], []
    n, p, q, s = numbers(2048)
    bad = bytearray(be(p, L // 2))
    bad[40] ^= 0x10
    blobs.append(b"\0\0\1\0" + be(n, L) + bytes(bad) + be(q, L // 2))  # a prime changed
    spkis.append(s)
    n, p, q, s = numbers(2048)
    blobs.append(b"\0\0\1\0" + be(n, L) + be(p, L // 2) + heap(64))  # only one prime
    spkis.append(s)
    n, _, _, s = numbers(2048)
    _, p2, q2, _ = numbers(2048)
    blobs.append(b"\0\0\1\0" + be(n, L) + be(p2, L // 2) + be(q2, L // 2))  # another key's primes
    spkis.append(s)
    n, p, q, s = numbers(2048)
    _, p2, _, _ = numbers(2048)
    blobs.append(mpint(n) + mpint(p2))  # announced, but another key's prime
    spkis.append(s)
    path, _ = plant(tmp_path, blobs)
    rc, findings, _, err = dgtest.scan(path)
    assert not [f for f in findings if f.get("detector") == "rsa-factor"], findings
    assert rc == 0, (findings, err)
