# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_real_processes.py - real programs holding real keys: each is started,
# its core taken with gdb's gcore, the program stopped by its PID, and the
# core scanned; every finding must carry the SPKI SHA-256 that `openssl pkey
# -pubout -outform DER | sha256sum` gives for the key file.
import pytest

import dgtest
import keys
from conftest import gcore, s_server_core


def confirmed_with(findings, spki):
    return [f for f in findings if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki]


@pytest.mark.parametrize("alg,curve", [("rsa2048", None), ("p256", "P-256")])
def test_s_server(tmp_path, procs, free_port, alg, curve):
    """openssl s_server keeps its key only as OpenSSL structures (no PEM, no DER)."""
    key, core = s_server_core(tmp_path, procs, free_port, alg)
    rc, findings, summ, err = dgtest.scan(core)
    assert summ and summ[0]["format"] == "elf-core", err
    hits = confirmed_with(findings, dgtest.spki_sha256(key))
    assert hits, f"no confirmed {alg} key in the s_server core: {findings} {err}"
    assert all(h["severity"] == "high" for h in hits)
    if curve:
        assert hits[0]["key"]["curve"] == curve
    assert rc == 1


@pytest.mark.parametrize("alg", ["rsa2048", "ed25519", "ed448"])
def test_gnutls_serv(tmp_path, procs, free_port, alg):
    """gnutls-serv after one TLS handshake: GnuTLS keeps RSA as GMP limbs and
    EdDSA as a seed and a public key behind two datums (Ed448's were found by
    nothing before the sixteenth session)."""
    import socket
    import ssl
    key = keys.genpkey(tmp_path / "key.pem", alg)
    cert = keys.self_signed(key, tmp_path / "key.crt")
    p = procs.start(["gnutls-serv", "--port", str(free_port), "--x509keyfile", key,
                     "--x509certfile", cert, "--http"], ready="listening")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", free_port), 10) as s:
        with ctx.wrap_socket(s) as t:
            t.sendall(b"GET / HTTP/1.0\r\n\r\n")
            t.recv(100)
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, _, err = dgtest.scan(core, "-j2")
    hits = confirmed_with(findings, dgtest.spki_sha256(key))
    assert hits, f"no confirmed {alg} key in the gnutls-serv core: {findings} {err}"
    assert all(h["severity"] == "high" for h in hits)
    assert rc == 1


def test_holdkey_keeps_pem(tmp_path, procs):
    rsa = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    ec = keys.genpkey(tmp_path / "ec.pem", "p256")
    p = procs.start([dgtest.HOLDKEY, rsa, ec], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, summ, err = dgtest.scan(core)
    for k in (rsa, ec):
        hits = [f for f in dgtest.placements(confirmed_with(findings, dgtest.spki_sha256(k)))
                if f["detector"] == "pem"]
        assert hits, f"{k}: {findings}"
        h = hits[0]
        assert h["encoding"] == "pem-pkcs8"
        assert h["vaddr"] is not None and h["region"]["kind"] != "notes"
        # The offset is where the armor starts in the file.
        with open(core, "rb") as fh:
            fh.seek(h["offset"])
            assert fh.read(27) == b"-----BEGIN PRIVATE KEY-----"
    assert rc == 1


def wiped_core(tmp_path, procs, algs):
    """A fresh key of each algorithm loaded by holdkey --wipe, the core taken
    and the process stopped; no DER copy of any key is left in the core.
    Returns (key files, core)."""
    ks = [keys.genpkey(tmp_path / f"{a}.pem", a) for a in algs]
    p = procs.start([dgtest.HOLDKEY, "--wipe", *ks], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    data = open(core, "rb").read()
    for k in ks:
        assert keys.der_of(k)[:64] not in data, "a DER copy survived the wipe"
    return ks, core


def test_holdkey_wiped_ecx_keys(tmp_path, procs):
    """Ed25519, X25519, Ed448 and X448 keys loaded by OpenSSL 3, used once,
    their PEM and DER wiped: ec-raw finds each through its ECX_KEY struct and
    proves it (the stored public key is the one the private key gives)."""
    algs = ("ed25519", "x25519", "ed448", "x448")
    ks, core = wiped_core(tmp_path, procs, algs)
    rc, findings, summ, err = dgtest.scan(core)
    for a, k in zip(algs, ks):
        hits = confirmed_with(findings, dgtest.spki_sha256(k))
        assert hits, f"{a}: {findings} {err}"
        assert hits[0]["type"] == f"{a}-private-key" and hits[0]["detector"] == "ec-raw"
    assert rc == 1


def test_holdkey_wiped_dsa_keys(tmp_path, procs):
    """DSA keys (1024/160, 2048/224, 3072/256) loaded by OpenSSL 3, used
    once, their PEM and DER wiped: dsa-raw finds each through its dsa_st and
    proves y = g^x mod p; with one bit of x flipped in the core, nothing."""
    algs = ("dsa1024", "dsa", "dsa3072")
    ks, core = wiped_core(tmp_path, procs, algs)
    rc, findings, summ, err = dgtest.scan(core)
    hits = []
    for a, k in zip(algs, ks):
        h = confirmed_with(findings, dgtest.spki_sha256(k))
        assert h, f"{a}: {findings} {err}"
        assert h[0]["type"] == "dsa-private-key" and h[0]["detector"] == "dsa-raw", h[0]
        assert h[0]["severity"] == "high" and h[0]["role"] == "long-term", h[0]
        hits.append(h[0])
    assert rc == 1
    data = bytearray(open(core, "rb").read())
    data[hits[1]["offset"]] ^= 0x01  # x's lowest limb
    bad = tmp_path / "flipped.core"
    bad.write_bytes(bytes(data))
    rc, findings, summ, err = dgtest.scan(bad, "-d", "dsa-raw")
    assert {dgtest.spki_sha256(k) for k in (ks[0], ks[2])} == \
        {f["key"]["spki_sha256"] for f in findings}, findings
    assert all(f["status"] == "confirmed" for f in findings), findings


def test_holdkey_wiped_ec_keys_without_a_certificate(tmp_path, procs):
    """EC keys on four curves loaded by OpenSSL 3, used once, every PEM and
    DER copy wiped, no certificate or public key file: ec-raw proves each
    scalar through d*G against the public point OpenSSL keeps in its own
    BIGNUMs (the P-256 point in nistz256's Montgomery form)."""
    algs = ("p256", "p384", "p521", "secp256k1")
    ks, core = wiped_core(tmp_path, procs, algs)
    rc, findings, summ, err = dgtest.scan(core, "-d", "ec-raw")
    for a, k in zip(algs, ks):
        hits = confirmed_with(findings, dgtest.spki_sha256(k))
        assert hits, f"{a}: {findings} {err}"
        assert hits[0]["type"] == "ec-private-key" and hits[0]["role"] == "long-term"
    p256 = confirmed_with(findings, dgtest.spki_sha256(ks[0]))[0]
    assert "Montgomery-form OpenSSL BIGNUM" in p256["note"], p256["note"]
    assert rc == 1


def test_holdkey_wiped_leaves_only_limbs(tmp_path, procs):
    rsa = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    ec = keys.genpkey(tmp_path / "ec.pem", "p256")
    p = procs.start([dgtest.HOLDKEY, "--wipe", rsa, ec], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    data = open(core, "rb").read()
    for k in (rsa, ec):
        body = open(k).read().splitlines()[1].encode()
        assert body not in data, "a PEM line survived the wipe"
        assert keys.der_of(k)[:64] not in data, "a DER copy survived the wipe"
    rc, findings, summ, err = dgtest.scan(core)
    for k in (rsa, ec):
        assert confirmed_with(findings, dgtest.spki_sha256(k)), f"{k}: {findings} {err}"
    assert not [f for f in findings if f["detector"] == "pem"]
