# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_sexp.py - the sexp detector on libgcrypt S-expression token streams
# (gcry_sexp_t) planted in raw bytes at odd offsets: RSA, EC on three curves,
# Ed25519, Ed448 (its point without libgcrypt's 0x40, or with it) and DSA
# (x, not d) are proven; a copy whose list head and `(n` element an
# allocator overwrote still proves (n from p*q), and so does one whose n
# value was overwritten inside (gpg-agent's freed copies; folded into the
# intact copy's finding); a damaged d is a candidate,
# a public key alone, an Ed448 seed beside another key's point and random
# bytes are not confirmed. The real process test is
# tests/test_library_keys.py (fixtures/hold_gcrypt).
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

import dgtest


def datum(b):
    return b"\x01" + struct.pack("<H", len(b)) + b


def elem(name, value):
    return b"\x03" + datum(name.encode()) + datum(value) + b"\x04"


def mpi(v):
    return v.to_bytes(v.bit_length() // 8 + 1, "big")  # a leading 00 when the top bit is set


def spki(k):
    import hashlib
    return hashlib.sha256(k.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def probable_prime(v):
    return all(pow(a, v - 1, v) == 1 for a in (2, 3, 5, 7, 11))


def rsa_sexp(k, keep_n=True, bad_d=False, bad_n=False, bad_p=False):
    """bad_p: the first prime's middle zeroed ("prime": and its last bytes
    changed until it is a probable prime again, as one damaged prime in a
    few hundred is by chance)."""
    n = k.private_numbers()
    nb, pb = bytearray(mpi(n.public_numbers.n)), bytearray(mpi(n.q))
    if bad_n:  # the middle reused by the allocator, the element's framing intact
        nb[26:250] = bytes(224)
    if bad_p:
        pb[20:100] = bytes(80)
        while bad_p == "prime" and not probable_prime(int.from_bytes(pb, "big")):
            pb[-2:] = ((int.from_bytes(pb[-2:], "big") + 2) % 65536).to_bytes(2, "big")
    els = [elem("n", bytes(nb))] if keep_n else []
    d = n.d ^ (1 << 5) if bad_d else n.d
    els += [elem("e", mpi(n.public_numbers.e)), elem("d", mpi(d)), elem("p", bytes(pb)),
            elem("q", mpi(n.p)), elem("u", mpi(pow(n.q, -1, n.p)))]
    head = b"\x03" + datum(b"private-key") + b"\x03" + datum(b"rsa") if keep_n else b"\xaa" * 16
    return head + b"".join(els) + b"\x04\x04\x00"


def ec_sexp(k, curve, with_d=True):
    q = k.public_key().public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
    d = k.private_numbers().private_value
    els = elem("curve", curve.encode()) + elem("q", q) + (elem("d", mpi(d)) if with_d else b"")
    return b"\x03" + datum(b"private-key") + b"\x03" + datum(b"ecc") + els + b"\x04\x04\x00"


def ed_sexp(k, prefix=b"\x40", pub_of=None):
    """An EdDSA key list: Ed25519's point always with libgcrypt's 0x40, an
    Ed448 one as libgcrypt writes it (prefix b"") or with it; pub_of: the
    point of another key."""
    seed = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                           serialization.NoEncryption())
    pub = (pub_of or k).public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)
    curve = b"Ed448" if isinstance(k, ed448.Ed448PrivateKey) else b"Ed25519"
    els = elem("curve", curve) + elem("flags", b"eddsa") + elem("q", prefix + pub) + \
        elem("d", seed)
    return b"\x03" + datum(b"private-key") + b"\x03" + datum(b"ecc") + els + b"\x04\x04\x00"


def dsa_sexp(k):
    n = k.private_numbers()
    pn = n.public_numbers.parameter_numbers
    els = [elem(name, mpi(v)) for name, v in
           (("p", pn.p), ("q", pn.q), ("g", pn.g), ("y", n.public_numbers.y), ("x", n.x))]
    return b"\x03" + datum(b"private-key") + b"\x03" + datum(b"dsa") + b"".join(els) + \
        b"\x04\x04\x00"


def test_keys_are_proven(tmp_path):
    r = rsa.generate_private_key(65537, 2048)
    r2 = rsa.generate_private_key(65537, 3072)
    eks = [(ec.generate_private_key(c), name) for c, name in
           ((ec.SECP256R1(), "NIST P-256"), (ec.SECP384R1(), "NIST P-384"),
            (ec.SECP256K1(), "secp256k1"))]
    ed = ed25519.Ed25519PrivateKey.generate()
    e448, e448b = ed448.Ed448PrivateKey.generate(), ed448.Ed448PrivateKey.generate()
    dk = dsa.generate_private_key(2048)
    blobs = [rsa_sexp(r), rsa_sexp(r2, keep_n=False)] + [ec_sexp(k, c) for k, c in eks] + \
        [ed_sexp(ed), ed_sexp(e448, b""), ed_sexp(e448b), dsa_sexp(dk)]
    path, offs = dgtest.plant(tmp_path, blobs)
    rc, findings, _, err = dgtest.scan(path, "--detectors", "sexp")
    got = {f["key"]["spki_sha256"]: f for f in findings}
    want = [spki(r), spki(r2)] + [spki(k) for k, _ in eks] + \
        [spki(ed), spki(e448), spki(e448b), spki(dk)]
    assert set(got) == set(want), (findings, err)
    for s in want:
        f = got[s]
        assert f["status"] == "confirmed" and f["encoding"] == "gcrypt-sexp", f
        assert "redacted" in f["preview"]
    assert got[spki(r)]["offset"] == offs[0]
    assert got[spki(r2)]["offset"] == offs[1] + 16  # the clobbered head is not part of it
    assert rc == 1


def test_overwritten_n_is_rebuilt_from_the_primes(tmp_path):
    """A freed copy of gpg-agent's list whose n the allocator reused (seen in
    a core of gpg-agent 2.2 after an RSA-4096 signature): p and q still
    prove the key, so it is the intact copy's key, not a second one."""
    r = rsa.generate_private_key(65537, 2048)
    path, offs = dgtest.plant(tmp_path, [rsa_sexp(r), rsa_sexp(r, bad_n=True)])
    rc, findings, _, err = dgtest.scan(path, "--detectors", "sexp")
    assert len(findings) == 1, (findings, err)
    f = findings[0]
    assert f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki(r), f
    assert sorted(loc["offset"] for loc in f["locations"]) == offs, f
    path, offs = dgtest.plant(tmp_path, [rsa_sexp(r, bad_n=True)], name="alone.bin")
    rc, findings, _, err = dgtest.scan(path, "--detectors", "sexp")
    assert [f["status"] for f in findings] == ["confirmed"], (findings, err)
    assert "rebuilt from p, q and e" in findings[0]["note"], findings[0]
    assert findings[0]["key"]["spki_sha256"] == spki(r)
    # a damaged prime: the stored n still names the key, so the copy is one
    # more place of it, not a second key; so too when the damaged prime is
    # by chance a probable prime (the other one still divides n)
    for bad_p in (True, "prime"):
        path, offs = dgtest.plant(tmp_path, [rsa_sexp(r), rsa_sexp(r, bad_p=bad_p)],
                                  name="p.bin")
        rc, findings, _, err = dgtest.scan(path, "--detectors", "sexp")
        assert len(findings) == 1 and findings[0]["status"] == "confirmed", (bad_p, findings, err)
        assert sorted(loc["offset"] for loc in findings[0]["locations"]) == offs, findings[0]
    # a copy without n whose damaged prime is a probable prime: p, q and e
    # would make a key the process never had; its stored d says so
    path, offs = dgtest.plant(tmp_path, [rsa_sexp(r, keep_n=False, bad_p="prime")],
                              name="nop.bin")
    rc, findings, _, err = dgtest.scan(path, "--detectors", "sexp")
    assert not [f for f in findings if f["status"] == "confirmed"], (findings, err)


def test_damaged_public_and_random_are_not_confirmed(tmp_path):
    r = rsa.generate_private_key(65537, 2048)
    pub_only = ec_sexp(ec.generate_private_key(ec.SECP256R1()), "NIST P-256", with_d=False)
    e448 = ed448.Ed448PrivateKey.generate()  # named by the point stored, not by the seed
    wrong448 = ed_sexp(ed448.Ed448PrivateKey.generate(), b"", pub_of=e448)
    path, _ = dgtest.plant(tmp_path, [rsa_sexp(r, bad_d=True), pub_only, wrong448,
                                      bytes(range(256)) * 64])
    rc, findings, _, err = dgtest.scan(path, "--detectors", "sexp")
    assert len(findings) == 2, findings
    for f, k in zip(findings, (r, e448)):
        assert f["status"] == "candidate" and f["key"]["spki_sha256"] == spki(k), f
        assert "not proven" in f["note"], f
    assert "public key differs" in findings[1]["note"], findings[1]
