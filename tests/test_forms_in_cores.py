# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_forms_in_cores.py - the table of issue #4 inside real ELF cores: every
# serialized form (PEM PKCS#8, traditional PEM, DER PKCS#8, DER
# traditional, private JWK, PKCS#12, OpenSSH, PuTTY PPK) of every algorithm
# we generate, planted at an odd offset inside a segment of a synthetic core
# made by fixtures/mkcore, all in one core. Each must be found at its offset
# and vaddr with the status, and the spki_sha256, that the ground truth gives.
import base64
import json
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import dgtest
import keys

MKCORE = dgtest.BUILD / "fixtures" / "mkcore"


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(keyfile):
    k = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    f = lambda v, n=None: b64u(v.to_bytes(n or (v.bit_length() + 7) // 8, "big"))
    if isinstance(k, rsa.RSAPrivateKey):
        n = k.private_numbers()
        o = {"kty": "RSA", "n": f(n.public_numbers.n), "e": f(n.public_numbers.e), "d": f(n.d),
             "p": f(n.p), "q": f(n.q), "dp": f(n.dmp1), "dq": f(n.dmq1), "qi": f(n.iqmp)}
    elif isinstance(k, ec.EllipticCurvePrivateKey):
        n = k.private_numbers()
        size = (k.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[k.curve.name]
        o = {"kty": "EC", "crv": crv, "x": f(n.public_numbers.x, size), "y": f(n.public_numbers.y, size),
             "d": f(n.private_value, size)}
    else:
        raw = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                              serialization.NoEncryption())
        pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        o = {"kty": "OKP", "crv": "Ed25519", "x": b64u(pub), "d": b64u(raw)}
    return json.dumps(o).encode()


def p12(keyfile, tmp_path):
    cert = keys.self_signed(keyfile, tmp_path / "c.pem")
    out = tmp_path / "k.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", keyfile, "-in", cert, "-passout", "pass:",
                    "-out", out], check=True, capture_output=True)
    return out.read_bytes()


ALGS = ["rsa2048", "p256", "p384", "ed25519"]


@pytest.mark.parametrize("alg", ALGS)
def test_every_form_in_a_core(tmp_path, alg):
    k = keys.genpkey(tmp_path / "k.pem", alg)
    forms = {
        "pem-pkcs8": open(k, "rb").read(),
        "der-pkcs8": keys.pkcs8_der(k),
        "jwk": jwk(k),
        "pkcs12": p12(k, tmp_path),
    }
    if alg != "ed25519":
        forms["pem-traditional"] = open(keys.convert(k, tmp_path / "t.pem", "-traditional"), "rb").read()
        forms["der-traditional"] = keys.der_of(k)
    spki = dgtest.spki_sha256(k)
    plants, files = [], {}
    for i, (name, blob) in enumerate(forms.items()):
        f = tmp_path / f"{name}.bin"
        f.write_bytes(blob)
        files[name] = f
        plants += ["--plant", f"{f}@{i}:{101 + 2 * i}"]
    core = tmp_path / "c.core"
    r = subprocess.run([str(MKCORE), "--segments", str(len(forms) + 1), "--segment-size", "65536",
                        "--fill", "mixed", "--nt-file", *plants, str(core)], check=True, capture_output=True)
    planted = {p["file"]: p for p in json.loads(r.stdout)["planted"]}
    rc, findings, _, err = dgtest.scan(core)
    assert len(findings) == 1, (findings, err)   # one key, every form a copy of it
    f = findings[0]
    assert f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki
    where = {(l["offset"], l["vaddr"]) for l in f["locations"]}
    for name, path in files.items():
        p = planted[str(path)]
        assert (p["offset"], p["vaddr"]) in where, (name, sorted(where))
    assert f["copies"] >= len(forms)  # and the numbers inside the DER (rsa-raw), folded in


@pytest.mark.skipif(shutil.which("puttygen") is None, reason="puttygen not installed")
@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_forms_in_a_core(tmp_path, kind):
    k = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", k, "-C", "t"], check=True)
    ppk = tmp_path / "id.ppk"
    subprocess.run(["puttygen", str(k), "-O", "private", "-o", str(ppk), "--new-passphrase", "/dev/null"],
                   check=True, capture_output=True)
    core = tmp_path / "c.core"
    r = subprocess.run([str(MKCORE), "--segments", "3", "--fill", "mixed", "--plant", f"{k}@0:333",
                        "--plant", f"{ppk}@1:777", str(core)], check=True, capture_output=True)
    offs = sorted(p["offset"] for p in json.loads(r.stdout)["planted"])
    rc, findings, _, err = dgtest.scan(core)
    assert len(findings) == 1 and findings[0]["status"] == "confirmed", (findings, err)
    assert findings[0]["key"]["spki_sha256"] == keys.ssh_pub_spki_sha256(f"{k}.pub")
    assert sorted(l["offset"] for l in findings[0]["locations"]) == offs
