# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_jwk.py - the jwk detector: private JWKs of every key type, alone and
# in a JWKS, in ASCII, UTF-16LE/BE and JSON-escaped text, planted in random
# bytes after a 65-byte prefix; kid and RFC 7638 thumbprint; symmetric oct
# keys; keys across chunk edges; public JWKS and placeholders stay silent;
# and a real node process holding the JWK export of a P-384 key.
import base64
import hashlib
import json
import os

import pytest

import dgtest
import keys
from conftest import gcore

PREFIX = dgtest.PLANT_PREFIX

plant = dgtest.plant


def jwk_scan(path, *args):
    """Scans with the jwk detector alone; one record per place a key sits
    (copies of one key are one finding with several locations)."""
    rc, findings, summ, err = dgtest.scan(path, "--detectors", "jwk", *args)
    return rc, dgtest.placements(findings), summ, err


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n, size=None):
    size = size or max(1, (n.bit_length() + 7) // 8)
    return b64u(n.to_bytes(size, "big"))


def jwk_of(keyfile):
    """The private JWK of a PEM key, built with `cryptography`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519
    k = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    if isinstance(k, rsa.RSAPrivateKey):
        pn, pub = k.private_numbers(), k.private_numbers().public_numbers
        return {"kty": "RSA", "n": uint(pub.n), "e": uint(pub.e), "d": uint(pn.d), "p": uint(pn.p),
                "q": uint(pn.q), "dp": uint(pn.dmp1), "dq": uint(pn.dmq1), "qi": uint(pn.iqmp)}
    if isinstance(k, ec.EllipticCurvePrivateKey):
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521",
               "secp256k1": "secp256k1"}[k.curve.name]
        size = (k.curve.key_size + 7) // 8
        pn = k.private_numbers()
        return {"kty": "EC", "crv": crv, "x": uint(pn.public_numbers.x, size),
                "y": uint(pn.public_numbers.y, size), "d": uint(pn.private_value, size)}
    crv = {ed25519.Ed25519PrivateKey: "Ed25519", ed448.Ed448PrivateKey: "Ed448",
           x25519.X25519PrivateKey: "X25519", x448.X448PrivateKey: "X448"}
    for cls, name in crv.items():
        if isinstance(k, cls):
            raw = serialization.Encoding.Raw
            d = k.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
            x = k.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": name, "x": b64u(x), "d": b64u(d)}
    raise ValueError(keyfile)


def thumbprint(jwk):
    req = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"),
           "oct": ("k", "kty")}[jwk["kty"]]
    canon = json.dumps({m: jwk[m] for m in req}, separators=(",", ":"), sort_keys=True)
    return b64u(hashlib.sha256(canon.encode()).digest())


def public_of(jwk):
    return {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi", "k")}


ALGS = ["rsa2048", "p256", "p384", "p521", "secp256k1", "ed25519", "ed448", "x25519", "x448"]
TYPE = {"rsa2048": "rsa-private-key", "p256": "ec-private-key", "p384": "ec-private-key",
        "p521": "ec-private-key", "secp256k1": "ec-private-key", "ed25519": "ed25519-private-key",
        "ed448": "ed448-private-key", "x25519": "x25519-private-key", "x448": "x448-private-key"}


@pytest.fixture(scope="module")
def keyset(tmp_path_factory):
    d = tmp_path_factory.mktemp("jwkkeys")
    return {alg: keys.genpkey(d / f"{alg}.pem", alg) for alg in ALGS}


@pytest.mark.parametrize("alg", ALGS)
def test_every_key_type(tmp_path, keyset, alg):
    jwk = dict(jwk_of(keyset[alg]), kid=f"key-{alg}", use="sig")
    text = json.dumps(jwk).encode()
    path, offs = plant(tmp_path, [text])
    rc, findings, _, err = jwk_scan(path)
    assert len(findings) == 1, (findings, err)
    f = findings[0]
    # X25519/X448 cannot sign, whatever "use" says: key-agreement, medium
    agree = alg in ("x25519", "x448")
    assert (f["offset"], f["length"], f["type"], f["status"], f["severity"], f["encoding"]) == \
        (PREFIX, len(text), TYPE[alg], "confirmed", "medium" if agree else "high", "jwk"), f
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(keyset[alg])
    assert f["key"]["kid"] == f"key-{alg}"
    assert f["key"]["jwk_thumbprint"] == thumbprint(jwk)
    assert f["text"] == "ascii"
    assert rc == (0 if agree else 1)


def encodings(text):
    esc = json.dumps(text)[1:-1]  # the JWK as the inside of a JSON string
    return {
        "ascii": text.encode(),
        "utf-16le": text.encode("utf-16-le"),
        "utf-16be": text.encode("utf-16-be"),
        "json-escaped": ('{"config": "' + esc + '", "n": 1}').encode(),
        "utf-16le json-escaped": ('{"config": "' + esc + '"}').encode("utf-16-le"),
        "double-escaped": json.dumps({"outer": json.dumps({"inner": text})}).encode(),
    }


@pytest.mark.parametrize("form", list(encodings("x")))
def test_text_forms(tmp_path, keyset, form):
    jwk = jwk_of(keyset["p256"])
    text = json.dumps(jwk, indent=2)
    blob = encodings(text)[form]
    path, offs = plant(tmp_path, [blob + b"\x01"])
    rc, findings, _, err = jwk_scan(path)
    assert len(findings) == 1, (findings, err)
    f = findings[0]
    assert f["status"] == "confirmed"
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(keyset["p256"])
    assert f["key"]["jwk_thumbprint"] == thumbprint(jwk)
    for word in form.replace("double-escaped", "json-escaped").split():
        assert word in f["text"], f["text"]
    start = blob.find(b"{" if "utf-16" not in form else "{".encode(
        "utf-16-le" if "le" in form else "utf-16-be"), 1 if "escaped" in form else 0)
    if form == "utf-16be":
        start = 0
    if form in ("ascii", "utf-16le", "utf-16be"):
        assert f["offset"] == PREFIX + start and f["length"] == len(blob), f


def test_jwks_with_several_keys_mid_buffer(tmp_path, keyset):
    """A JWKS of three private keys and one public key, starting mid-buffer and
    followed by garbage, with member order changed (d before kty)."""
    ks = [jwk_of(keyset[a]) for a in ("rsa2048", "p384", "ed25519")]
    ks[0] = dict(sorted(ks[0].items()))  # "d", "dp", ... "kty": kty deep inside
    pub = public_of(jwk_of(keyset["p256"]))
    text = b"garbage\x00\xff{" + json.dumps({"keys": ks + [pub]}).encode()[1:] + b"\xff\xfe]]}}"
    path, offs = plant(tmp_path, [text])
    rc, findings, _, err = jwk_scan(path)
    spkis = [f["key"]["spki_sha256"] for f in findings]
    assert spkis == [dgtest.spki_sha256(keyset[a]) for a in ("rsa2048", "p384", "ed25519")], \
        (findings, err)
    assert all(f["status"] == "confirmed" for f in findings)


def test_oct_key_reports_hash_not_key(tmp_path):
    k = os.urandom(32)
    jwk = {"kty": "oct", "k": b64u(k), "alg": "HS256", "kid": "hmac-1"}
    short = {"kty": "oct", "k": b64u(b"0123456789")}
    plain = {"kty": "oct", "k": b64u(os.urandom(32))}
    path, offs = plant(tmp_path, [json.dumps(jwk).encode(), json.dumps(short).encode(),
                                  json.dumps(plain).encode()])
    rc, findings, _, err = jwk_scan(path)
    assert len(findings) == 2, (findings, err)
    f = findings[0]
    # "alg": "HS256": a JWT signing key, long-term; without a declared use, medium
    assert (f["type"], f["status"], f["severity"], f["role"]) == \
        ("symmetric-key", "confirmed", "high", "long-term"), f
    assert "HS256" in f["reason"]
    assert (findings[1]["severity"], findings[1]["role"]) == ("medium", "symmetric")
    assert f["key"]["key_sha256"] == hashlib.sha256(k).hexdigest()
    assert f["key"]["spki_sha256"] is None
    assert "symmetric" in f["note"]
    assert f["key"]["jwk_thumbprint"] == thumbprint(jwk)
    out = dgtest.run("scan", "--detectors", "jwk", "--format", "jsonl", path).stdout
    assert b64u(k).encode() not in out and k.hex().encode() not in out


def test_bait_is_silent(tmp_path, keyset):
    rsa = jwk_of(keyset["rsa2048"])
    ec = jwk_of(keyset["p256"])
    bait = [
        json.dumps({"keys": [public_of(rsa), public_of(ec)]}).encode(),   # a JWKS endpoint
        json.dumps(public_of(jwk_of(keyset["ed25519"]))).encode(),
        json.dumps(dict(public_of(rsa), d="...")).encode(),               # placeholder
        json.dumps(dict(public_of(ec), d="<your private key here>")).encode(),
        b'{"kty": "RSA", "n": "...", "e": "AQAB", "d": "..."}',
        b'"kty" "kty" {"kty"} {"kty": 1} {"kty": "oct"} {"kty": "oct", "k": ""}',
        b"kty" * 1000,
        "kty".encode("utf-16-le") * 100,
    ]
    path, _ = plant(tmp_path, bait)
    rc, findings, _, err = jwk_scan(path)
    assert findings == [] and rc == 0, findings


def test_wrong_private_member_is_a_candidate(tmp_path, keyset):
    a, b = jwk_of(keyset["p256"]), jwk_of(keyset["secp256k1"])
    mixed = dict(a, d=jwk_of(keys.genpkey(tmp_path / "other.pem", "p256"))["d"])
    path, _ = plant(tmp_path, [json.dumps(mixed).encode()])
    rc, findings, _, err = jwk_scan(path)
    # decoded but its math fails: still private key material, long-term
    assert [(f["status"], f["severity"], f["role"]) for f in findings] == \
        [("candidate", "high", "long-term")], findings
    del b


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_key_across_chunk_edges_found_once(tmp_path, keyset, jobs):
    text = json.dumps(dict(sorted(jwk_of(keyset["rsa2048"]).items()))).encode()
    wide = json.dumps(jwk_of(keyset["p384"])).encode("utf-16-le")
    chunk = 65536
    data = bytearray(os.urandom(chunk * 7))
    starts = [chunk - 700, 2 * chunk - 1, 3 * chunk, 4 * chunk + 1, 5 * chunk - len(text) + 3,
              6 * chunk - 301]
    for s in starts[:-1]:
        data[s:s + len(text)] = text
    data[starts[-1]:starts[-1] + len(wide)] = wide
    p = tmp_path / "edges.bin"
    p.write_bytes(bytes(data))
    rc, findings, _, err = jwk_scan(p, "--chunk-size", str(chunk), "-j", jobs)
    assert sorted(f["offset"] for f in findings) == starts, (findings, err)
    assert all(f["status"] == "confirmed" for f in findings)


NODE = r"""
const crypto = require("crypto");
const fs = require("fs");
const key = crypto.createPrivateKey(fs.readFileSync(process.argv[2]));
const held = JSON.stringify(key.export({format: "jwk"}));
globalThis.held = held;
// V8 keeps JSON.stringify's result as a rope of parts until it is first read
// (written, sent, searched); a read flattens it into one string.
if (held.indexOf('"d"') < 0) process.exit(1);
console.log("ready " + held.length);
setInterval(() => { if (globalThis.held.length < 0) console.log(globalThis.held); }, 1000);
"""


def test_node_process_holding_p384_jwk(tmp_path, procs):
    k = keys.genpkey(tmp_path / "p384.pem", "p384")
    script = tmp_path / "hold.js"
    script.write_text(NODE)
    p = procs.start(["node", script, k], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, summ, err = jwk_scan(core)
    assert summ and summ[0]["format"] == "elf-core", err
    spki = dgtest.spki_sha256(k)
    hits = [f for f in findings if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki]
    assert hits, (findings, err)
    assert all(h["key"]["curve"] == "P-384" and h["encoding"] == "jwk" for h in hits)
    assert hits[0]["key"]["jwk_thumbprint"] == thumbprint(jwk_of(k))
    assert rc == 1
