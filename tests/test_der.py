# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_der.py - the der detector on keys planted in raw bytes: every DER form
# (PKCS#1, PKCS#8, SEC1 with and without parameters and public key, DSA,
# encrypted PKCS#8, openssh-key-v1) for every algorithm, keys whose first
# 16-32 bytes were overwritten as a freed heap buffer's are, keys across
# chunk edges, bait that must stay silent, and a real Python process holding
# a PKCS#8 DER key. Each planted key is preceded by 65 random bytes.
import base64
import os
import subprocess
import sys

import pytest

import dgtest
import keys
from conftest import gcore

PREFIX = dgtest.PLANT_PREFIX

plant = dgtest.plant


def der_scan(path, *args):
    """Scans with the der detector alone; one record per place a key sits
    (copies of one key are one finding with several locations)."""
    rc, findings, summ, err = dgtest.scan(path, "--detectors", "der", *args)
    return rc, dgtest.placements(findings), summ, err


def openssl(*args):
    return subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True).stdout


def pkcs8_der(keyfile):
    return openssl("pkcs8", "-topk8", "-nocrypt", "-in", keyfile, "-outform", "DER")


def traditional_der(keyfile, alg):
    """PKCS#1 (RSA), SEC1 (EC) or OpenSSL's DSA SEQUENCE, as DER."""
    extra = ["-traditional"] if alg == "rsa" else []  # OpenSSL 3 `rsa` writes PKCS#8 otherwise
    return openssl(alg, "-in", keyfile, "-outform", "DER", *extra)


TYPE = {"rsa2048": "rsa-private-key", "p256": "ec-private-key", "p384": "ec-private-key",
        "p521": "ec-private-key", "secp256k1": "ec-private-key",
        "ed25519": "ed25519-private-key", "ed448": "ed448-private-key",
        "x25519": "x25519-private-key", "x448": "x448-private-key", "dsa": "dsa-private-key"}
ALGS = list(TYPE)


@pytest.fixture(scope="module")
def keyset(tmp_path_factory):
    d = tmp_path_factory.mktemp("derkeys")
    return {alg: keys.genpkey(d / f"{alg}.pem", alg) for alg in ALGS}


@pytest.fixture(scope="module")
def rsa(keyset):
    return keyset["rsa2048"]


def forms_of(alg, k):
    """Every DER form of key file k: name -> (bytes, expected encoding)."""
    out = {"pkcs8": (pkcs8_der(k), "der-pkcs8")}
    if alg.startswith("rsa"):
        out["pkcs1"] = (traditional_der(k, "rsa"), "der-pkcs1")
    elif alg in ("p256", "p384", "p521", "secp256k1"):
        out["sec1"] = (traditional_der(k, "ec"), "der-sec1")
        out["sec1-no-public"] = (openssl("ec", "-in", k, "-outform", "DER", "-no_public"), "der-sec1")
    elif alg == "dsa":
        out["dsa"] = (traditional_der(k, "dsa"), "der-dsa")
    return out


@pytest.mark.parametrize("alg", ALGS)
def test_every_form_every_algorithm(tmp_path, keyset, alg):
    k = keyset[alg]
    forms = forms_of(alg, k)
    path, offs = plant(tmp_path, [b for b, _ in forms.values()])
    rc, findings, _, err = der_scan(path)
    got = [(f["offset"], f["encoding"], f["type"], f["status"], f["severity"]) for f in findings]
    # X25519/X448 can only agree keys: key-agreement, medium; the rest sign: long-term, high
    sev = "medium" if alg in ("x25519", "x448") else "high"
    want = [(o, enc, TYPE[alg], "confirmed", sev) for o, (_, enc) in zip(offs, forms.values())]
    assert all(f["role"] == ("key-agreement" if sev == "medium" else "long-term")
               for f in findings), findings
    assert got == want, (list(forms), findings, err)
    spki = dgtest.spki_sha256(k)
    for f, (name, (blob, _)) in zip(findings, forms.items()):
        assert f["key"]["spki_sha256"] == spki, name
        assert f["length"] == len(blob), name
        assert f["note"] is None, (name, f["note"])
    assert rc == (0 if sev == "medium" else 1)


def test_pkcs8_v2_and_length_forms(tmp_path, keyset):
    """OneAsymmetricKey v2 (public key stored) and non-minimal length forms."""
    from cryptography.hazmat.primitives import serialization
    ed = serialization.load_pem_private_key(open(keyset["ed25519"], "rb").read(), None)
    seed = ed.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    pub = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    body = (bytes.fromhex("020101 300506032b6570") + b"\x04\x22\x04\x20" + seed +
            b"\x81\x21\x00" + pub)
    v2 = b"\x30" + bytes([len(body)]) + body
    # The same v1 key with an "81" outer length and an "82" outer length.
    v1 = pkcs8_der(keyset["ed25519"])
    l81 = b"\x30\x81" + v1[1:2] + v1[2:]
    rsa_p1 = traditional_der(keyset["rsa2048"], "rsa")
    rsa83 = b"\x30\x83\x00" + rsa_p1[2:]
    path, offs = plant(tmp_path, [v2, l81, rsa83])
    rc, findings, _, err = der_scan(path)
    assert [f["offset"] for f in findings] == offs, (findings, err)
    assert all(f["status"] == "confirmed" for f in findings), findings
    assert "stored" in findings[0]["proof"]
    assert findings[0]["key"]["spki_sha256"] == dgtest.spki_sha256(keyset["ed25519"])
    assert findings[2]["key"]["spki_sha256"] == dgtest.spki_sha256(keyset["rsa2048"])


def test_rsa_pss(tmp_path):
    k = tmp_path / "pss.pem"
    openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k)
    path, offs = plant(tmp_path, [pkcs8_der(k)])
    rc, findings, _, err = der_scan(path)
    assert [(f["offset"], f["status"], f["key"]["algorithm"]) for f in findings] == \
        [(PREFIX, "confirmed", "RSA-PSS")], (findings, err)
    assert findings[0]["key"]["spki_sha256"] == dgtest.spki_sha256(k)


def test_ec_without_public_key_says_derived(tmp_path, keyset):
    blob = openssl("ec", "-in", keyset["p256"], "-outform", "DER", "-no_public")
    path, _ = plant(tmp_path, [blob])
    rc, findings, _, err = der_scan(path)
    assert len(findings) == 1, (findings, err)
    assert findings[0]["status"] == "confirmed"
    assert "derived" in findings[0]["proof"]
    assert findings[0]["key"]["curve"] == "P-256"


def test_encrypted_pkcs8_is_a_candidate(tmp_path, rsa, keyset):
    pbes2 = openssl("pkcs8", "-topk8", "-in", rsa, "-passout", "pass:pw", "-outform", "DER")
    p12pbe = openssl("pkcs8", "-topk8", "-in", keyset["p256"], "-passout", "pass:pw", "-v1",
                     "PBE-SHA1-3DES", "-outform", "DER")
    path, offs = plant(tmp_path, [pbes2, p12pbe])
    rc, findings, _, err = der_scan(path)
    assert [f["offset"] for f in findings] == offs, (findings, err)
    for f in findings:
        assert (f["type"], f["status"], f["severity"], f["encoding"]) == \
            ("encrypted-private-key", "candidate", "high", "der-encrypted-pkcs8")
    assert "PBES2" in findings[0]["note"] and "PBKDF2" in findings[0]["note"]
    assert "aes-256-cbc" in findings[0]["note"]
    assert rc == 1
    # an encrypted private key is a long-term key at rest: it blocks at high
    assert dgtest.scan(path, "--detectors", "der", "--fail-on", "high")[0] == 1


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_openssh_binary(tmp_path, kind):
    k = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", k, "-C", "t"], check=True)
    e = tmp_path / "id_enc"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "pw", "-f", e, "-C", "t"], check=True)

    def blob(f):
        lines = open(f).read().strip().splitlines()
        return base64.b64decode("".join(lines[1:-1]))
    path, offs = plant(tmp_path, [blob(k), blob(e)])
    rc, findings, _, err = der_scan(path)
    assert [(f["offset"], f["encoding"], f["status"]) for f in findings] == \
        [(offs[0], "openssh-key-v1", "confirmed"), (offs[1], "openssh-key-v1", "candidate")], err
    assert findings[0]["key"]["spki_sha256"] == keys.ssh_pub_spki_sha256(f"{k}.pub")
    assert findings[1]["type"] == "encrypted-private-key"
    assert "bcrypt" in findings[1]["note"]
    assert findings[1]["key"]["spki_sha256"] == keys.ssh_pub_spki_sha256(f"{e}.pub")


def test_pkcs8_reported_once_not_its_inner_key(tmp_path, keyset):
    """The PKCS#1 / SEC1 key inside a PKCS#8 OCTET STRING is the same key."""
    blobs = [pkcs8_der(keyset[a]) for a in ("rsa2048", "p256", "p384", "dsa")]
    path, offs = plant(tmp_path, blobs)
    rc, findings, _, err = der_scan(path)
    assert [(f["offset"], f["encoding"]) for f in findings] == [(o, "der-pkcs8") for o in offs], err


@pytest.mark.parametrize("clobber", [8, 16, 24, 32])
@pytest.mark.parametrize("alg,form", [("rsa2048", "pkcs1"), ("rsa2048", "pkcs8"),
                                      ("p256", "pkcs8"), ("p384", "pkcs8"),
                                      ("secp256k1", "pkcs8"), ("p521", "pkcs8")])
def test_overwritten_header_is_resynchronised(tmp_path, keyset, alg, form, clobber):
    """A freed heap buffer: the first bytes hold allocator pointers."""
    k = keyset[alg]
    blob = bytearray(pkcs8_der(k) if form == "pkcs8" else traditional_der(k, "rsa"))
    blob[:clobber] = (0x00007f3a5c001230).to_bytes(8, "little") * (clobber // 8)
    path, offs = plant(tmp_path, [bytes(blob)])
    rc, findings, _, err = der_scan(path)
    assert len(findings) == 1, (findings, err)
    f = findings[0]
    assert (f["status"], f["type"]) == ("confirmed", TYPE[alg]), f
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(k)
    if f["offset"] < offs[0] + clobber + 4 and f["encoding"] == "der-pkcs1" and f["note"] is None:
        pass  # the inner PKCS#1 survived whole, with no trace of its PKCS#8 wrapper
    else:
        assert "re-synchronised" in f["note"], f
    assert offs[0] + clobber <= f["offset"] and f["offset"] + f["length"] <= offs[0] + len(blob)


def test_bait_is_silent(tmp_path, rsa, keyset):
    cert = keys.self_signed(rsa, tmp_path / "c.pem")
    ec_cert = keys.self_signed(keyset["p256"], tmp_path / "ec.pem")
    bait = [
        openssl("x509", "-in", cert, "-outform", "DER"),                  # certificates
        openssl("x509", "-in", ec_cert, "-outform", "DER"),
        openssl("pkey", "-in", rsa, "-pubout", "-outform", "DER"),        # SPKI
        openssl("pkey", "-in", keyset["p256"], "-pubout", "-outform", "DER"),
        openssl("pkey", "-in", keyset["ed25519"], "-pubout", "-outform", "DER"),
        openssl("rsa", "-in", rsa, "-RSAPublicKey_out", "-outform", "DER"),
        openssl("dsa", "-in", keyset["dsa"], "-pubout", "-outform", "DER"),
        b"\x30\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00" + os.urandom(1180),
        b"\x30\x82\x04\xa4" + os.urandom(1188),
        b"\x30\x77\x02\x01\x01\x04\x20" + os.urandom(114),
        b"openssh-key-v1\x00",                                             # ssh's string table
        b"\x02\x01\x00" * 500 + b"\x02\x03\x01\x00\x01\x02" * 100,
    ]
    path, _ = plant(tmp_path, bait)
    rc, findings, _, err = der_scan(path)
    assert findings == [] and rc == 0, findings
    # the corrupted DER of a real key: one byte of d flipped, so the math fails
    p1 = bytearray(traditional_der(rsa, "rsa"))
    p1[600] ^= 1
    path, _ = plant(tmp_path, [bytes(p1)], name="flip.bin")
    rc, findings, _, err = der_scan(path)
    assert all(f["status"] != "confirmed" for f in findings), findings


def test_random_and_zero_data_is_silent(tmp_path):
    p = tmp_path / "noise.bin"
    p.write_bytes(os.urandom(8 << 20) + bytes(1 << 20))
    rc, findings, _, err = der_scan(p)
    assert findings == [] and rc == 0, findings


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_key_across_chunk_edges_found_once(tmp_path, keyset, jobs):
    """PKCS#8 keys start just before, at and after every chunk edge of a 64 KiB chunking,
    including the spot where the inner PKCS#1 starts exactly at the edge."""
    der = pkcs8_der(keyset["rsa2048"])
    ec = pkcs8_der(keyset["p384"])
    chunk = 65536
    data = bytearray(os.urandom(chunk * 8))
    starts = [chunk - 700, 2 * chunk - 1, 3 * chunk, 4 * chunk + 1, 5 * chunk - len(der) + 3,
              6 * chunk - 26, 7 * chunk - 30]
    for s in starts[:-1]:
        data[s:s + len(der)] = der
    data[starts[-1]:starts[-1] + len(ec)] = ec
    p = tmp_path / "edges.bin"
    p.write_bytes(bytes(data))
    rc, findings, _, err = der_scan(p, "--chunk-size", str(chunk), "-j", jobs)
    assert sorted(f["offset"] for f in findings) == starts, (findings, err)
    assert all(f["status"] == "confirmed" and f["encoding"] == "der-pkcs8" for f in findings)
    assert all(f["note"] is None for f in findings), findings


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_key_cut_by_a_chunk_edge_before_a_context_tag(tmp_path, keyset, jobs):
    """An EC PKCS#8 cut by a chunk edge 30 bytes in, right before its inner
    SEC1's version: the next chunk re-synchronises from that version, and
    when the bytes after the key happen to read "a1 54 ..." it takes them
    for an optional [1] and ends past the PKCS#8 (about one P-384 key in 400
    of test_key_across_chunk_edges_found_once's random bytes did). Still one
    place: two copies of one key cannot share bytes."""
    ec = pkcs8_der(keyset["p384"])
    chunk = 65536
    data = bytearray(os.urandom(chunk * 2))
    s = chunk - 30
    data[s:s + len(ec)] = ec
    data[s + len(ec):s + len(ec) + 2] = b"\xa1\x54"
    p = tmp_path / "edge.bin"
    p.write_bytes(bytes(data))
    rc, findings, _, err = der_scan(p, "--chunk-size", str(chunk), "-j", jobs)
    assert [(f["offset"], f["encoding"]) for f in findings] == [(s, "der-pkcs8")], (findings, err)


def test_prefix_shifts_offsets_exactly(tmp_path, keyset):
    blob = pkcs8_der(keyset["p256"]) + os.urandom(333) + traditional_der(keyset["rsa2048"], "rsa")
    filler = os.urandom(1000)
    a = tmp_path / "a.bin"
    b = tmp_path / "b.bin"
    a.write_bytes(filler + blob + filler)
    b.write_bytes(os.urandom(65) + filler + blob + filler)
    fa = der_scan(a)[1]
    fb = der_scan(b)[1]
    assert [f["offset"] + 65 for f in fa] == [f["offset"] for f in fb]
    assert len(fa) == 2


HOLDER = r"""
import sys
from cryptography.hazmat.primitives import serialization
der = open(sys.argv[1], "rb").read()
key = serialization.load_der_private_key(der, password=None)
held = [der, key]
print("ready", flush=True)
sys.stdin.read() if not sys.stdin.closed else None
import time
while True:
    time.sleep(1)
"""


def test_python_process_holding_pkcs8_der(tmp_path, procs, keyset):
    k = keyset["p256"]
    der = tmp_path / "key.der"
    der.write_bytes(pkcs8_der(k))
    script = tmp_path / "hold.py"
    script.write_text(HOLDER)
    p = procs.start([sys.executable if os.path.exists("/usr/bin/python3") is False else "/usr/bin/python3",
                     script, der], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, summ, err = der_scan(core)
    assert summ and summ[0]["format"] == "elf-core", err
    spki = dgtest.spki_sha256(k)
    hits = [f for f in findings if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki]
    assert hits, (findings, err)
    assert any(f["encoding"] == "der-pkcs8" and f["vaddr"] is not None for f in hits), hits
    assert rc == 1
