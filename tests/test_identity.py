# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_identity.py - which key leaked: every copy of one key in a dump is one
# finding with several locations; --known-keys names a key after the user's
# own public keys (JWKS kid, certificate subject, SSH comment); --allow marks
# known test keys as allowed without changing the exit code; OpenSSL's
# compiled-in test keys are allowed out of the box.
import base64
import hashlib
import os
import subprocess

from cryptography.hazmat.primitives import serialization

import dgtest
import keys
from conftest import gcore


def b64u(n, size=None):
    raw = n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(keyfile, kid):
    k = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    pub = k.public_key().public_numbers()
    if hasattr(pub, "n"):
        return {"kty": "RSA", "kid": kid, "n": b64u(pub.n), "e": b64u(pub.e)}
    return {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64u(pub.x, 32), "y": b64u(pub.y, 32)}


def dump_with(tmp_path, *blobs):
    data = bytearray(os.urandom(65))
    offs = []
    for b in blobs:
        offs.append(len(data))
        data += b + os.urandom(3000)
    p = tmp_path / "dump.bin"
    p.write_bytes(bytes(data))
    return p, offs


def test_copies_of_one_key_are_one_finding(tmp_path):
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    pem = open(k, "rb").read()
    der = keys.der_of(k)
    p, offs = dump_with(tmp_path, pem, der, keys.utf16le(pem.decode()), pem)
    rc, findings, summ, err = dgtest.scan(p)
    assert len(findings) == 1, findings
    f = findings[0]
    assert f["copies"] == 4
    assert sorted(l["offset"] for l in f["locations"]) == offs
    assert {l["detector"] for l in f["locations"]} == {"pem", "der"}
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(k)
    text = dgtest.run("scan", p).stdout.decode()
    assert ", 4 copies - confirmed" in text


def test_known_keys_name_the_leak(tmp_path):
    import json
    rsa = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    ec = keys.genpkey(tmp_path / "ec.pem", "p256")
    ed = tmp_path / "id_ed"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ed, "-C", "deploy@ci"], check=True)
    jwks = tmp_path / "keys.jwks"
    jwks.write_text(json.dumps({"keys": [public_jwk(rsa, "msa-signing-2016"), public_jwk(ec, "other")]}))
    cert = keys.self_signed(ec, tmp_path / "ec.crt")
    p, offs = dump_with(tmp_path, open(rsa, "rb").read(), open(ec, "rb").read(), open(ed, "rb").read())
    rc, findings, _, err = dgtest.scan(p, "--known-keys", jwks)
    by_off = {f["offset"]: f for f in findings}
    assert by_off[offs[0]]["key"]["label"] == "private half of kid=msa-signing-2016 from keys.jwks", err
    assert by_off[offs[1]]["key"]["label"] == "private half of kid=other from keys.jwks"
    assert by_off[offs[2]]["key"]["label"] is None
    rc, findings, _, err = dgtest.scan(p, "--known-keys", cert, "--known-keys", f"{ed}.pub")
    by_off = {f["offset"]: f for f in findings}
    assert "CN=dumpgate-test" in by_off[offs[1]]["key"]["label"] and "ec.crt" in by_off[offs[1]]["key"]["label"]
    assert by_off[offs[2]]["key"]["label"] == "private half of the SSH key deploy@ci from id_ed.pub"
    text = dgtest.run("scan", "--known-keys", jwks, p).stdout.decode()
    assert "private half of kid=msa-signing-2016" in text


def test_allow_list(tmp_path):
    test_key = keys.genpkey(tmp_path / "test.pem", "p256")
    real_key = keys.genpkey(tmp_path / "real.pem", "p256")
    allow = tmp_path / "allow.txt"
    allow.write_text(f"# our test fixtures\n{dgtest.spki_sha256(test_key)}  # fixture key of the unit tests\n")
    p, offs = dump_with(tmp_path, open(test_key, "rb").read())
    rc, findings, _, err = dgtest.scan(p, "--allow", allow)
    assert rc == 0, err
    assert findings[0]["allowed"] is True and findings[0]["allow_note"] == "fixture key of the unit tests"
    # allowed keys are a count in the text summary, and listed with -v
    text = dgtest.run("scan", "--allow", allow, p).stdout.decode()
    assert "allowed: fixture key" not in text and "1 allowed (listed with -v)" in text, text
    text = dgtest.run("scan", "-v", "--allow", allow, p).stdout.decode()
    assert "[allowed: fixture key of the unit tests]" in text
    p2, _ = dump_with(tmp_path, open(test_key, "rb").read(), open(real_key, "rb").read())
    rc, findings, _, _ = dgtest.scan(p2, "--allow", allow)
    assert rc == 1 and [f["allowed"] for f in findings] == [True, False]


def test_bad_allow_and_known_files(tmp_path):
    bad = tmp_path / "allow.txt"
    bad.write_text("deadbeef not a hash\n")
    f = tmp_path / "x.bin"
    f.write_bytes(os.urandom(100))
    r = dgtest.run("scan", "--allow", bad, f)
    assert r.returncode == 2 and f"{bad}:1:".encode() in r.stderr
    empty = tmp_path / "none.pem"
    empty.write_text("nothing here\n")
    r = dgtest.run("scan", "--known-keys", empty, f)
    assert r.returncode == 2 and b"no public key found" in r.stderr
    r = dgtest.run("scan", "--allow", tmp_path / "missing", f)
    assert r.returncode == 2 and b"cannot open" in r.stderr


def test_openssl_test_keys_are_allowed_out_of_the_box(tmp_path, procs, free_port):
    key = keys.genpkey(tmp_path / "key.pem", "p256")
    cert = keys.self_signed(key, tmp_path / "key.crt")
    p = procs.start(["openssl", "s_server", "-accept", f"127.0.0.1:{free_port}", "-key", key,
                     "-cert", cert], ready="ACCEPT")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, _, err = dgtest.scan(core)
    real = [f for f in findings if f["key"]["spki_sha256"] == dgtest.spki_sha256(key)]
    # AES schedules of OpenSSL's own DRBGs are real session secrets (aes detector).
    others = [f for f in findings if f not in real and f["type"] != "aes-key"]
    assert real and not real[0]["allowed"]
    # s_server keeps its certificate's to-be-signed part: it names the key.
    assert "private half of the certificate /CN=dumpgate-test at offset" in real[0]["key"]["label"]
    assert all(f["allowed"] and "OpenSSL's public" in f["allow_note"] for f in others), others
    assert rc == 1
    rc, findings, _, _ = dgtest.scan(core, "--no-builtin-allow")
    assert not any(f["allowed"] for f in findings)


def test_certificate_in_the_dump_names_the_key(tmp_path):
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    other = keys.genpkey(tmp_path / "o.pem", "p256")
    cert = keys.self_signed(k, tmp_path / "k.crt")
    cert_der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                              capture_output=True).stdout
    p, offs = dump_with(tmp_path, cert_der, open(k, "rb").read(), open(other, "rb").read())
    rc, findings, _, err = dgtest.scan(p)
    by_off = {f["offset"]: f for f in findings}
    assert set(by_off) == {offs[1], offs[2]}, findings  # the certificate is not a finding
    assert by_off[offs[1]]["key"]["label"] == f"private half of the certificate /CN=dumpgate-test at offset {offs[0]:#x} of this dump"
    assert by_off[offs[2]]["key"]["label"] is None
    # --known-keys wins over the dump's own certificate.
    import json
    jwks = tmp_path / "k.jwks"
    jwks.write_text(json.dumps({"keys": [public_jwk(k, "ours")]}))
    rc, findings, _, err = dgtest.scan(p, "--known-keys", jwks)
    assert {f["offset"]: f for f in findings}[offs[1]]["key"]["label"] == "private half of kid=ours from k.jwks"


def _pss_key(tmp_path):
    """An RSA-PSS key (id-RSASSA-PSS): its PEM, its own spki_sha256 and the
    spki_sha256 of its numbers as an rsaEncryption key."""
    k = tmp_path / "pss.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", k], check=True, capture_output=True)
    numbers = serialization.load_pem_private_key(open(k, "rb").read(), None)
    plain = numbers.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    own = dgtest.spki_sha256(k)
    assert own != hashlib.sha256(plain).hexdigest()
    return k, numbers, own, hashlib.sha256(plain).hexdigest()


def test_rsa_pss_key_found_as_numbers_is_named(tmp_path, procs):
    # A process that loaded an RSA-PSS key keeps only its numbers: the
    # finding is an RSA key, named by its rsaEncryption fingerprint, and the
    # user's PSS public key (its own fingerprint) still names it.
    k, _, own, plain = _pss_key(tmp_path)
    pub = tmp_path / "pss.pub.pem"
    subprocess.run(["openssl", "pkey", "-in", k, "-pubout", "-out", pub], check=True, capture_output=True)
    p = procs.start([dgtest.HOLDKEY, "--wipe", k], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, _, err = dgtest.scan(core, "--known-keys", pub)
    found = [f for f in findings if f["key"]["spki_sha256"] in (own, plain)]
    assert found and all(f["status"] == "confirmed" for f in found), f"{findings} {err}"
    assert {f["key"]["spki_sha256"] for f in found} == {plain}, found
    assert all(f["key"]["label"] == "private half of public key #1 from pss.pub.pem" for f in found), found


def test_rsa_pss_certificate_in_the_dump_names_the_key(tmp_path):
    # The dump's certificate carries the PSS key; the key beside it is in
    # PKCS#1, which knows no PSS: the certificate still names it.
    k, numbers, own, plain = _pss_key(tmp_path)
    cert = keys.self_signed(k, tmp_path / "pss.crt")
    cert_der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                              capture_output=True).stdout
    pkcs1 = numbers.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption())
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    p, offs = dump_with(tmp_path, cert_der, pkcs1)
    rc, findings, _, err = dgtest.scan(p)
    assert [f["offset"] for f in findings] == [offs[1]], findings
    f = findings[0]
    assert f["status"] == "confirmed" and f["key"]["spki_sha256"] == plain, f
    assert f["key"]["label"] == f"private half of the certificate /CN=dumpgate-test at offset {offs[0]:#x} of this dump", f
