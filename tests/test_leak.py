# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_leak.py - the secret never leaves: for every key fixture (each
# algorithm in PEM, traditional PEM, DER, UTF-16 PEM, JWK, OpenSSH, and a
# core that holds the key only as big-number limbs) and every output format
# (text, jsonl, sarif, with -v -v), nothing that dumpgate prints or writes
# holds the secret: not the DER, not a base64 line of the PEM body, not the
# hex or decimal of p, q, d, the CRT values or the EC/Ed scalar, not the JWK
# members. The verdict files the core handler writes are checked too.
import base64
import json
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import dgtest
import keys
from conftest import gcore


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def ints_of(k):
    """The secret numbers of a private key, as Python ints."""
    if isinstance(k, rsa.RSAPrivateKey):
        n = k.private_numbers()
        return [n.p, n.q, n.d, n.dmp1, n.dmq1, n.iqmp]
    if isinstance(k, ec.EllipticCurvePrivateKey):
        return [k.private_numbers().private_value]
    raw = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                          serialization.NoEncryption())
    return [int.from_bytes(raw, "big")]


def needles(keyfile):
    """Every representation of the secret we must never print."""
    pem = open(keyfile, "rb").read()
    k = serialization.load_pem_private_key(pem, None)
    der = k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    out = [der[-48:], der.hex()[-64:].encode(), base64.b64encode(der[-48:])]
    out += [line for line in pem.splitlines()[1:-1] if len(line) >= 16]
    for v in ints_of(k):
        raw = v.to_bytes((v.bit_length() + 7) // 8, "big")
        h = raw.hex()
        out += [h[:32].encode(), h[-32:].encode(), h[:32].upper().encode(), str(v)[:30].encode(),
                b64u(raw)[:24].encode(), raw[:16]]
    return [n for n in out if len(n) >= 16]


def jwk_of(keyfile):
    k = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    if isinstance(k, rsa.RSAPrivateKey):
        n = k.private_numbers()
        f = lambda v: b64u(v.to_bytes((v.bit_length() + 7) // 8, "big"))
        return {"kty": "RSA", "kid": "leak-test", "n": f(n.public_numbers.n), "e": f(n.public_numbers.e),
                "d": f(n.d), "p": f(n.p), "q": f(n.q), "dp": f(n.dmp1), "dq": f(n.dmq1), "qi": f(n.iqmp)}
    if isinstance(k, ec.EllipticCurvePrivateKey):
        n = k.private_numbers()
        return {"kty": "EC", "crv": "P-256", "x": b64u(n.public_numbers.x.to_bytes(32, "big")),
                "y": b64u(n.public_numbers.y.to_bytes(32, "big")), "d": b64u(n.private_value.to_bytes(32, "big"))}
    raw = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                          serialization.NoEncryption())
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(pub), "d": b64u(raw)}


FORMATS = [["--format", "text"], ["--format", "jsonl"], ["--format", "sarif"],
           ["--format", "jsonl", "-v", "-v"], ["--format", "text", "-v", "-v"]]


def assert_clean(blob, secrets, what):
    for s in secrets:
        assert s not in blob, f"{what} holds a secret ({len(s)} bytes)"


@pytest.fixture(scope="module", params=["rsa2048", "p256", "ed25519"])
def keyfile(request, tmp_path_factory):
    return keys.genpkey(tmp_path_factory.mktemp("leak") / "k.pem", request.param)


def forms(keyfile, tmp_path):
    pem = open(keyfile, "rb").read()
    blobs = [pem, keys.der_of(keyfile), keys.utf16le(pem.decode()), json.dumps(jwk_of(keyfile)).encode(),
             keys.json_escaped(pem.decode())]
    if "ed25519" not in open(keyfile).read() and b"BEGIN PRIVATE KEY" in pem:
        try:
            blobs.append(open(keys.convert(keyfile, tmp_path / "t.pem", "-traditional"), "rb").read())
        except subprocess.CalledProcessError:
            pass
    return blobs


def test_no_secret_in_any_output(tmp_path, keyfile):
    secrets = needles(keyfile)
    data = bytearray(os.urandom(100))
    for b in forms(keyfile, tmp_path):
        data += b + os.urandom(777)
    dump = tmp_path / "dump.bin"
    dump.write_bytes(bytes(data))
    found_any = False
    for fmt in FORMATS:
        r = dgtest.run("scan", *fmt, dump)
        assert r.returncode == 1, r.stderr
        found_any = True
        assert_clean(r.stdout, secrets, f"stdout of {fmt}")
        assert_clean(r.stderr, secrets, f"stderr of {fmt}")
    assert found_any


def test_no_secret_from_raw_numbers(tmp_path, procs):
    """A core holding keys only as OpenSSL limbs: rsa-raw and ec-raw output."""
    rsa_key = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    ec_key = keys.genpkey(tmp_path / "ec.pem", "p256")
    p = procs.start([dgtest.HOLDKEY, "--wipe", rsa_key, ec_key], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    secrets = needles(rsa_key) + needles(ec_key)
    for fmt in FORMATS:
        r = dgtest.run("scan", *fmt, core)
        assert r.returncode == 1
        assert_clean(r.stdout + r.stderr, secrets, f"output of {fmt}")


def test_no_secret_in_handler_verdicts(tmp_path, keyfile):
    secrets = needles(keyfile)
    dump = bytes(os.urandom(5000)) + open(keyfile, "rb").read() + os.urandom(5000)
    spool = tmp_path / "spool"
    r = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool), "--", "4242", "0",
                        "11", "1700000000", "leaky"], input=dump, capture_output=True, timeout=120)
    assert_clean(r.stdout + r.stderr, secrets, "handler output")
    verdicts = [p for p in spool.rglob("*") if p.is_file() and p.suffix == ".json"]
    assert verdicts, list(spool.rglob("*"))
    for v in verdicts:
        assert_clean(v.read_bytes(), secrets, f"verdict {v.name}")
