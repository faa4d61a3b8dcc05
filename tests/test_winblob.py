# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_winblob.py - the winblob detector on Windows key blobs built here from
# real keys: keys are made at test time with `openssl genpkey`, their numbers
# read with Python `cryptography`, and the CNG (BCRYPT_RSAKEY_BLOB RSA2/RSA3,
# BCRYPT_ECCKEY_BLOB) and CAPI (PRIVATEKEYBLOB) bytes are laid out here as
# bcrypt.h and wincrypt.h document them. Blobs are planted at odd offsets
# after a 65-byte random prefix. Public blobs and damaged blobs must not be
# confirmed.
import os
import struct

import pytest
from cryptography.hazmat.primitives import serialization

import dgtest
import keys

PREFIX = dgtest.PLANT_PREFIX
GAP = 4093  # odd: every blob after the first starts at an odd offset too


# --- blob builders (bcrypt.h, wincrypt.h) -------------------------------------------

def be(x, n):
    return x.to_bytes(n, "big")


def le(x, n):
    return x.to_bytes(n, "little")


def numbers(keyfile):
    with open(keyfile, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None).private_numbers()


def cng_rsa(keyfile, full=False, public=False):
    """BCRYPT_RSAKEY_BLOB: RSA1 (public), RSA2 (private) or RSA3 (full private)."""
    k = numbers(keyfile)
    pub = k.public_numbers
    bits = pub.n.bit_length()
    cb_n, cb_h = (bits + 7) // 8, (bits + 15) // 16
    e = pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")
    if public:
        return struct.pack("<6I", 0x31415352, bits, len(e), cb_n, 0, 0) + e + be(pub.n, cb_n)
    magic = 0x33415352 if full else 0x32415352
    out = struct.pack("<6I", magic, bits, len(e), cb_n, cb_h, cb_h) + e + be(pub.n, cb_n) + \
        be(k.p, cb_h) + be(k.q, cb_h)
    if full:
        out += be(k.dmp1, cb_h) + be(k.dmq1, cb_h) + be(k.iqmp, cb_h) + be(k.d, cb_n)
    return out


def capi_rsa(keyfile, public=False, alg=0xa400, header=True):
    """CAPI PRIVATEKEYBLOB (or PUBLICKEYBLOB): BLOBHEADER + RSAPUBKEY + LE numbers."""
    k = numbers(keyfile)
    pub = k.public_numbers
    bits = pub.n.bit_length()
    cb_n, cb_h = bits // 8, bits // 16
    blob_type, magic = (0x06, b"RSA1") if public else (0x07, b"RSA2")
    out = bytes([blob_type, 0x02, 0, 0]) + struct.pack("<I", alg) if header else b""
    out += magic + struct.pack("<II", bits, pub.e) + le(pub.n, cb_n)
    if not public:
        out += le(k.p, cb_h) + le(k.q, cb_h) + le(k.dmp1, cb_h) + le(k.dmq1, cb_h) + \
            le(k.iqmp, cb_h) + le(k.d, cb_n)
    return out


EC_MAGIC = {  # curve: (cbKey, ECDSA public, ECDSA private, ECDH public, ECDH private)
    "p256": (32, b"ECS1", b"ECS2", b"ECK1", b"ECK2"),
    "p384": (48, b"ECS3", b"ECS4", b"ECK3", b"ECK4"),
    "p521": (66, b"ECS5", b"ECS6", b"ECK5", b"ECK6"),
}


def cng_ecc(keyfile, alg, magic=None, public=False):
    """BCRYPT_ECCKEY_BLOB: {dwMagic, cbKey} X Y [d], big-endian."""
    k = numbers(keyfile)
    cb, spub, spriv = EC_MAGIC[alg][:3]
    magic = magic or (spub if public else spriv)
    out = magic + struct.pack("<I", cb) + be(k.public_numbers.x, cb) + be(k.public_numbers.y, cb)
    return out if public else out + be(k.private_value, cb)


# --- helpers -------------------------------------------------------------------------

def plant(tmp_path, blobs, name="dump.bin"):
    return dgtest.plant(tmp_path, blobs, name, gap=GAP)


def wb_scan(path, *args):
    return dgtest.scan(path, "--detectors", "winblob", *args)


@pytest.fixture(scope="module")
def keyset(tmp_path_factory):
    d = tmp_path_factory.mktemp("winkeys")
    return {alg: keys.genpkey(d / f"{alg}.pem", alg)
            for alg in ("rsa1024", "rsa2048", "rsa3072", "p256", "p384", "p521")}


# --- private blobs are found and proven --------------------------------------------

RSA_FORMS = {
    "cng-rsa2": lambda k: cng_rsa(k),
    "cng-rsa3": lambda k: cng_rsa(k, full=True),
    "capi-keyx": lambda k: capi_rsa(k, alg=0xa400),
    "capi-sign": lambda k: capi_rsa(k, alg=0x2400),
}
RSA_CASES = [(form, alg) for form in RSA_FORMS for alg in ("rsa1024", "rsa2048", "rsa3072")]


@pytest.mark.parametrize("form,alg", RSA_CASES, ids=[f"{f}-{a}" for f, a in RSA_CASES])
def test_rsa_blob_found_and_confirmed(tmp_path, keyset, form, alg):
    blob = RSA_FORMS[form](keyset[alg])
    path, offs = plant(tmp_path, [blob])
    rc, findings, summ, err = wb_scan(path)
    assert len(findings) == 1, (findings, err)
    f = findings[0]
    encoding = "capi-privatekeyblob" if form.startswith("capi") else form
    assert (f["offset"], f["length"]) == (offs[0], len(blob)) and f["offset"] % 2 == 1
    assert (f["detector"], f["type"], f["status"], f["severity"], f["encoding"]) == \
        ("winblob", "rsa-private-key", "confirmed", "high", encoding)
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(keyset[alg])
    assert f["key"]["bits"] == int(alg[3:])
    assert "p*q=n" in f["proof"]
    if form != "cng-rsa2":
        assert "dP dQ qInv" in f["proof"]  # the stored CRT values were checked
    assert rc == 1


EC_CASES = [(alg, kind) for alg in EC_MAGIC for kind in ("ecdsa", "ecdh", "generic")]


@pytest.mark.parametrize("alg,kind", EC_CASES, ids=[f"{a}-{k}" for a, k in EC_CASES])
def test_ecc_blob_found_and_confirmed(tmp_path, keyset, alg, kind):
    magic = {"ecdsa": EC_MAGIC[alg][2], "ecdh": EC_MAGIC[alg][4],
             "generic": b"ECDV" if alg != "p384" else b"ECKV"}[kind]
    blob = cng_ecc(keyset[alg], alg, magic=magic)
    path, offs = plant(tmp_path, [blob])
    rc, findings, summ, err = wb_scan(path)
    assert len(findings) == 1, (findings, err)
    f = findings[0]
    assert (f["offset"], f["length"]) == (offs[0], len(blob))
    assert (f["type"], f["status"], f["severity"], f["encoding"]) == \
        ("ec-private-key", "confirmed", "high", "cng-ecc")
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(keyset[alg])
    assert f["key"]["curve"] == {"p256": "P-256", "p384": "P-384", "p521": "P-521"}[alg]
    assert "d*G=Q" in f["proof"]


def test_many_blobs_in_one_dump_with_and_without_prefix(tmp_path, keyset):
    """All forms of different keys in one file; offsets shift by exactly 65."""
    blobs = [cng_rsa(keyset["rsa2048"]), cng_rsa(keyset["rsa3072"], full=True),
             capi_rsa(keyset["rsa1024"]), cng_ecc(keyset["p256"], "p256"),
             cng_ecc(keyset["p521"], "p521")]
    body = b"".join(b + os.urandom(GAP) for b in blobs)
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(body)
    b.write_bytes(os.urandom(PREFIX) + body)
    fa, fb = wb_scan(a)[1], wb_scan(b)[1]
    assert len(fa) == len(blobs) and all(f["status"] == "confirmed" for f in fa), fa
    assert sorted(f["offset"] + PREFIX for f in fa) == sorted(f["offset"] for f in fb)
    assert {f["key"]["spki_sha256"] for f in fa} == {f["key"]["spki_sha256"] for f in fb}


def test_capi_body_without_blobheader(tmp_path, keyset):
    """The RSAPUBKEY "RSA2" body alone, as in PVK files and CAPI key containers."""
    blob = capi_rsa(keyset["rsa2048"], header=False)
    path, offs = plant(tmp_path, [blob])
    f = wb_scan(path)[1]
    assert [(x["offset"], x["status"], x["encoding"]) for x in f] == \
        [(offs[0], "confirmed", "capi-privatekeyblob")]
    assert f[0]["key"]["spki_sha256"] == dgtest.spki_sha256(keyset["rsa2048"])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_blobs_across_chunk_edges_found_once(tmp_path, keyset, jobs):
    chunk = 65536
    data = bytearray(os.urandom(chunk * 5))
    blobs = [cng_rsa(keyset["rsa2048"], full=True), capi_rsa(keyset["rsa3072"]),
             cng_ecc(keyset["p384"], "p384"), cng_rsa(keyset["rsa1024"])]
    want = {}
    for i, (blob, delta) in enumerate(zip(blobs, [-600, -5, -20, 0])):
        off = chunk * (i + 1) + delta
        data[off:off + len(blob)] = blob
        want[off] = len(blob)
    p = tmp_path / "edges.bin"
    p.write_bytes(bytes(data))
    rc, findings, summ, err = wb_scan(p, "--chunk-size", str(chunk), "-j", jobs)
    assert {f["offset"]: f["length"] for f in findings} == want, findings
    assert all(f["status"] == "confirmed" for f in findings)


def test_default_detectors_report_the_blob_key(tmp_path, keyset):
    """With every default detector on, the key of a CNG blob is reported once and
    the blob is one of its locations."""
    blob = cng_rsa(keyset["rsa2048"], full=True)
    path, offs = plant(tmp_path, [blob])
    rc, findings, summ, err = dgtest.scan(path)
    spki = dgtest.spki_sha256(keyset["rsa2048"])
    mine = [f for f in findings if f["key"]["spki_sha256"] == spki]
    assert len(mine) == 1 and mine[0]["status"] == "confirmed", findings
    locs = mine[0].get("locations") or [mine[0]]
    assert any(loc["detector"] == "winblob" and loc["offset"] == offs[0] for loc in locs), mine


# --- public, damaged and bait blobs ----------------------------------------------------

def test_public_blobs_are_silent(tmp_path, keyset):
    blobs = [cng_rsa(keyset["rsa2048"], public=True),
             capi_rsa(keyset["rsa2048"], public=True),
             capi_rsa(keyset["rsa1024"], public=True, alg=0x2400)]
    for alg, (cb, spub, spriv, kpub, kpriv) in EC_MAGIC.items():
        blobs.append(cng_ecc(keyset[alg], alg, public=True))
        blobs.append(cng_ecc(keyset[alg], alg, magic=kpub, public=True))
        blobs.append(cng_ecc(keyset[alg], alg, magic=b"ECDP", public=True))
    path, _ = plant(tmp_path, blobs)
    rc, findings, summ, err = dgtest.scan(path)  # every default detector
    assert findings == [] and rc == 0, findings


def damage(blob, at):
    b = bytearray(blob)
    b[at] ^= 0x5a
    return bytes(b)


def test_damaged_blobs_are_not_confirmed(tmp_path, keyset):
    """One byte of a prime (or of d) changed: never confirmed; a blob whose header
    is valid is a candidate named by its intact public key: still private key
    material, so long-term and high."""
    k = keyset["rsa2048"]
    rsa2 = cng_rsa(k)
    rsa3 = cng_rsa(k, full=True)
    capi = capi_rsa(k)
    ecc = cng_ecc(keyset["p256"], "p256")
    hdr = 24 + 3 + 256  # CNG: header, e, n: then p
    blobs = [damage(rsa2, hdr + 40), damage(rsa3, hdr + 128 + 7), damage(capi, 20 + 256 + 9),
             damage(ecc, 8 + 64 + 5)]
    path, offs = plant(tmp_path, blobs)
    rc, findings, summ, err = wb_scan(path)
    assert not any(f["status"] == "confirmed" for f in findings), findings
    for f in findings:
        assert (f["status"], f["severity"], f["role"]) == ("candidate", "high", "long-term")
        assert "does not prove" in f["note"]
        assert f["offset"] in offs
    spkis = {f["key"]["spki_sha256"] for f in findings}
    assert spkis <= {dgtest.spki_sha256(k), dgtest.spki_sha256(keyset["p256"])}


def test_bad_headers_are_silent(tmp_path, keyset):
    """Magics with inconsistent sizes, and the magics alone in text."""
    good = cng_rsa(keyset["rsa2048"], full=True)
    bad_bits = good[:4] + struct.pack("<I", 4096) + good[8:]      # cbModulus != BitLength/8
    bad_prime = good[:16] + struct.pack("<I", 200) + good[20:]     # cbPrime1 far from half
    bad_small = good[:4] + struct.pack("<I", 256) + good[8:]       # below 512 bits
    ecc = cng_ecc(keyset["p256"], "p256")
    bad_cb = ecc[:4] + struct.pack("<I", 48) + ecc[8:]             # ECS2 with cbKey 48
    bad_point = damage(ecc, 8 + 5)                                 # X off the curve
    generic = damage(b"ECDV" + ecc[4:], 8 + 32 + 7)                # ECDV, Y off every curve
    text = b"RSA2 RSA3 ECS2 ECK4 ECDV ECKV BCRYPT_RSAPRIVATE_MAGIC 'RSA2'" * 20
    path, _ = plant(tmp_path, [bad_bits, bad_prime, bad_small, bad_cb, bad_point, generic, text])
    rc, findings, summ, err = wb_scan(path)
    assert findings == [], findings


def test_random_64mib_silent(tmp_path):
    p = tmp_path / "random.bin"
    with open(p, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    rc, findings, summ, err = wb_scan(p, "-j2")
    assert findings == [] and rc == 0, findings
