# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_keyshare.py - the keyshare detector's anchor (00 33 00: a TLS 1.3
# key_share extension's type and the high byte of its length) at every
# alignment and across chunk ends: a P-256 private key stored as SEC1 DER is
# long-term alone, and ephemeral when a ServerHello or ClientHello
# key_share carries its public point. The key is made by `openssl genpkey`;
# the handshake bytes are laid out as RFC 8446 4.2.8 gives them.
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


def role_of(findings, spki):
    hits = [f for f in findings if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki]
    assert hits, findings
    return hits[0]["role"], hits[0]["reason"]


def test_der_key_alone_is_long_term(p256, tmp_path):
    der, point, spki = p256
    path, _ = dgtest.plant(tmp_path, [der])
    rc, findings, _, err = dgtest.scan(path)
    assert role_of(findings, spki)[0] == "long-term" and rc == 1, err


@pytest.mark.parametrize("hello", ["server", "client"])
def test_key_share_makes_the_key_ephemeral(p256, hello, tmp_path):
    der, point, spki = p256
    share = (server_hello_share if hello == "server" else client_hello_share)(point)
    # 40 alignments of the share, so that the anchor meets every lane of a
    # 32-byte block and both block ends
    for shift in range(40):
        path, _ = dgtest.plant(tmp_path, [der, os.urandom(shift) + share], gap=4093)
        rc, findings, _, err = dgtest.scan(path)
        role, reason = role_of(findings, spki)
        assert role == "ephemeral" and "key share" in reason, (shift, role, reason)
        assert rc == 0, (shift, err)


def test_key_share_across_a_chunk_end(p256, tmp_path):
    der, point, spki = p256
    share = server_hello_share(point)
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
