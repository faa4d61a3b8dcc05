# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_keyshare.py - the keyshare detector's anchors (00 33 00: a TLS 1.3
# key_share extension's type and the high byte of its length; ?? 41 04: a
# TLS 1.2 ECDHE point's length and form) at every alignment and across chunk
# ends: a P-256 private key stored as SEC1 DER is long-term alone, and
# ephemeral when a ServerHello or ClientHello key_share, or a TLS 1.2
# ServerKeyExchange or ClientKeyExchange, carries its public point. The key
# is made by `openssl genpkey`; the handshake bytes are laid out as RFC 8446
# 4.2.8 and RFC 8422 5.4/5.7 give them. The real process is a Go TLS 1.2
# client (test_verdict_processes.py).
import os
import struct
import subprocess

import pytest

import dgtest
import keys


@pytest.fixture(scope="module")
def p256(tmp_path_factory):
    """(SEC1 DER of a fresh P-256 key, its uncompressed public point, spki)."""
    d = tmp_path_factory.mktemp("keyshare")
    key = keys.genpkey(d / "ec.pem", "p256")
    der = subprocess.run(["openssl", "ec", "-in", key, "-outform", "DER"], check=True,
                         capture_output=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout
    assert spki[-65] == 0x04
    return der, spki[-65:], dgtest.spki_sha256(key)


def server_hello_share(point):
    """key_share of a ServerHello: 00 33 | ext len | group 0x0017 | len | point."""
    return b"\x00\x33" + struct.pack(">HHH", 4 + len(point), 0x0017, len(point)) + point


def client_hello_share(point):
    """key_share of a ClientHello: X25519 first, then P-256."""
    x25519 = struct.pack(">HH", 0x001d, 32) + os.urandom(32)
    p256 = struct.pack(">HH", 0x0017, len(point)) + point
    shares = x25519 + p256
    return b"\x00\x33" + struct.pack(">HH", 2 + len(shares), len(shares)) + shares


def server_key_exchange(point):
    """TLS 1.2 ServerKeyExchange (ECDHE): handshake header 0c | len24, then
    named_curve 03 | group 0x0017 | point length | point | a signature."""
    body = b"\x03" + struct.pack(">HB", 0x0017, len(point)) + point + \
        struct.pack(">BBH", 4, 1, 256) + os.urandom(256)
    return b"\x0c" + len(body).to_bytes(3, "big") + body


def client_key_exchange(point):
    """TLS 1.2 ClientKeyExchange (ECDHE): 10 | len24 | point length | point."""
    body = bytes([len(point)]) + point
    return b"\x10" + len(body).to_bytes(3, "big") + body


SHARES = {"server": server_hello_share, "client": client_hello_share,
          "tls12-server": server_key_exchange, "tls12-client": client_key_exchange}


def role_of(findings, spki):
    hits = [f for f in findings if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki]
    assert hits, findings
    return hits[0]["role"], hits[0]["reason"]


def test_der_key_alone_is_long_term(p256, tmp_path):
    der, point, spki = p256
    path, _ = dgtest.plant(tmp_path, [der])
    rc, findings, _, err = dgtest.scan(path)
    assert role_of(findings, spki)[0] == "long-term" and rc == 1, err


@pytest.mark.parametrize("hello", list(SHARES))
def test_key_share_makes_the_key_ephemeral(p256, hello, tmp_path):
    der, point, spki = p256
    share = SHARES[hello](point)
    # 40 alignments of the share, so that the anchor meets every lane of a
    # 32-byte block and both block ends
    for shift in range(40):
        path, _ = dgtest.plant(tmp_path, [der, os.urandom(shift) + share], gap=4093)
        rc, findings, _, err = dgtest.scan(path)
        role, reason = role_of(findings, spki)
        assert role == "ephemeral" and "key share" in reason, (shift, role, reason)
        assert rc == 0, (shift, err)


@pytest.mark.parametrize("hello", ["server", "tls12-client"])
def test_key_share_across_a_chunk_end(p256, tmp_path, hello):
    der, point, spki = p256
    share = SHARES[hello](point)
    chunk = 65536
    for start in (chunk - 1, chunk - 2, chunk - 3, chunk - 40, chunk + 1):
        data = bytearray(os.urandom(3 * chunk))
        data[start - 1] |= 1  # not a 00 before the share's 00 33
        data[start:start + len(share)] = share
        data[2 * chunk:2 * chunk + len(der)] = der
        path = tmp_path / "dump.bin"
        path.write_bytes(bytes(data))
        rc, findings, _, err = dgtest.scan(path, "--chunk-size", str(chunk), "-j2")
        role, reason = role_of(findings, spki)
        assert role == "ephemeral", (start, role, reason, err)


def test_tls12_point_without_its_message_is_no_share(p256, tmp_path):
    """The point's length and form alone (no ClientKeyExchange header, no
    named_curve before it) do not make the key ephemeral."""
    der, point, spki = p256
    path, _ = dgtest.plant(tmp_path, [der, b"\x11\x00\x00\x42\x41" + point,
                                      b"\x03\x01\x17\x41" + point])
    rc, findings, _, err = dgtest.scan(path)
    assert role_of(findings, spki)[0] == "long-term" and rc == 1, err
