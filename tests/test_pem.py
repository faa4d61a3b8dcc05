# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_pem.py - the pem detector on keys planted in raw bytes: every label,
# every text form (ASCII, UTF-16LE/BE, CRLF, one line, JSON-escaped), keys
# across chunk edges, and bait that must stay silent. Each planted key is
# preceded by 65 random bytes and the finding's offset must be exactly there.
import json
import os
import re
import subprocess

import pytest

import dgtest
import keys

PREFIX = dgtest.PLANT_PREFIX

plant = dgtest.plant


@pytest.fixture(scope="module")
def rsa(tmp_path_factory):
    d = tmp_path_factory.mktemp("rsa")
    return keys.genpkey(d / "rsa.pem", "rsa2048")


ALGS = ["rsa2048", "p256", "p384", "p521", "secp256k1", "ed25519", "ed448", "x25519", "x448", "dsa"]


@pytest.mark.parametrize("alg", ALGS)
def test_pkcs8_every_algorithm(tmp_path, alg):
    k = keys.genpkey(tmp_path / "k.pem", alg)
    path, offs = plant(tmp_path, [open(k, "rb").read()])
    rc, findings, summ, err = dgtest.scan(path)
    # X25519/X448 only agree keys: medium, below the default --fail-on high
    agree = alg in ("x25519", "x448")
    assert rc == (0 if agree else 1), err
    assert len(findings) == 1, findings
    f = findings[0]
    assert f["offset"] == offs[0] == PREFIX
    assert (f["status"], f["severity"], f["encoding"], f["role"]) == \
        ("confirmed", "medium" if agree else "high", "pem-pkcs8",
         "key-agreement" if agree else "long-term")
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(k)


@pytest.mark.parametrize("alg,encoding", [("rsa2048", "pem-pkcs1"), ("p256", "pem-sec1"),
                                          ("dsa", "pem-dsa")])
def test_traditional_labels(tmp_path, alg, encoding):
    k = keys.genpkey(tmp_path / "k.pem", alg)
    t = keys.convert(k, tmp_path / "t.pem", "-traditional")
    path, offs = plant(tmp_path, [open(t, "rb").read()])
    rc, findings, _, err = dgtest.scan(path)
    assert [(f["offset"], f["status"], f["encoding"]) for f in findings] == [(PREFIX, "confirmed", encoding)], err
    assert findings[0]["key"]["spki_sha256"] == dgtest.spki_sha256(k)


def text_forms(pem):
    return {
        "utf-16le": keys.utf16le(pem),
        "utf-16be": keys.utf16be(pem),
        "crlf": pem.replace("\n", "\r\n").encode(),
        "one-line": keys.one_line(pem),
        "json-escaped": keys.json_escaped(pem),
        "utf-16le json-escaped": keys.json_escaped(pem).decode().encode("utf-16-le"),
    }


@pytest.mark.parametrize("form", list(text_forms("x").keys()))
def test_text_forms(tmp_path, rsa, form):
    pem = open(rsa).read()
    blob = text_forms(pem)[form]
    # A non-zero byte after the blob keeps UTF-16LE and UTF-16BE apart.
    path, offs = plant(tmp_path, [blob + b"\x01"])
    rc, findings, _, err = dgtest.scan(path)
    assert len(findings) == 1, (findings, err)
    f = findings[0]
    assert f["offset"] == PREFIX
    assert f["status"] == "confirmed"
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(rsa)
    for word in form.split():
        assert word in f["text"], f["text"]


def test_cr_after_the_end_line_is_not_the_armors(tmp_path, rsa):
    """A CR right after a LF-terminated key (random bytes follow keys in
    memory) is not the key's line ending: "crlf" describes the armor's own
    lines, never what the decoding ran on into."""
    other = open(keys.genpkey(tmp_path / "ec.pem", "p256"), "rb").read()
    pem = open(rsa, "rb").read()
    path, offs = plant(tmp_path, [pem + b"\rZZ\x00", other.replace(b"\n", b"\r\n") + b"\x00"])
    rc, findings, _, err = dgtest.scan(path)
    assert [(f["offset"], f["status"]) for f in findings] == [(o, "confirmed") for o in offs], err
    assert "crlf" not in findings[0]["text"], findings[0]["text"]
    assert "crlf" in findings[1]["text"], findings[1]["text"]


def test_encrypted_forms_are_candidates(tmp_path, rsa):
    enc8 = tmp_path / "enc8.pem"
    subprocess.run(["openssl", "pkcs8", "-topk8", "-in", rsa, "-passout", "pass:pw", "-out", enc8],
                   check=True, capture_output=True)
    legacy = tmp_path / "legacy.pem"
    subprocess.run(["openssl", "rsa", "-in", rsa, "-traditional", "-aes256", "-passout", "pass:pw",
                    "-out", legacy], check=True, capture_output=True)
    ssh = tmp_path / "id_ed"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pw", "-f", ssh, "-C", "t"], check=True)
    path, offs = plant(tmp_path, [open(p, "rb").read() for p in (enc8, legacy, ssh)])
    rc, findings, _, err = dgtest.scan(path)
    assert [f["offset"] for f in findings] == offs, (findings, err)
    for f in findings:
        assert (f["status"], f["severity"], f["type"], f["role"]) == \
            ("candidate", "high", "encrypted-private-key", "long-term")
    assert "PBES2" in findings[0]["note"] and "aes-256-cbc" in findings[0]["note"]
    assert "AES-256-CBC" in findings[1]["note"]
    assert "bcrypt" in findings[2]["note"] and "aes256-ctr" in findings[2]["note"]
    # The OpenSSH public half is in the clear: its fingerprint is known.
    assert findings[2]["key"]["spki_sha256"] == keys.ssh_pub_spki_sha256(f"{ssh}.pub")
    assert rc == 1
    # an encrypted private key is a long-term key at rest: it blocks at high
    rc, _, _, _ = dgtest.scan(path, "--fail-on", "high")
    assert rc == 1


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_openssh_unencrypted_is_proven(tmp_path, kind):
    k = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", k, "-C", "t"], check=True)
    path, offs = plant(tmp_path, [open(k, "rb").read()])
    rc, findings, _, err = dgtest.scan(path)
    assert [(f["offset"], f["status"], f["encoding"]) for f in findings] == [(PREFIX, "confirmed", "pem-openssh")], err
    assert findings[0]["key"]["spki_sha256"] == keys.ssh_pub_spki_sha256(f"{k}.pub")


def test_bait_is_silent(tmp_path, rsa):
    cert = keys.self_signed(rsa, tmp_path / "c.pem")
    pub = subprocess.run(["openssl", "pkey", "-in", rsa, "-pubout"], check=True, capture_output=True).stdout
    bait = [
        b"-----BEGIN RSA PRIVATE KEY-----\x00",                      # libcrypto's string table
        b"-----BEGIN %s-----\n",                                    # format strings
        b"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",  # placeholder
        b"-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n",
        open(cert, "rb").read(),                                    # certificates are public
        pub,                                                        # public keys are public
        b"-" * 4096,                                                # dashes everywhere
        "-----BEGIN PUBLIC KEY-----".encode("utf-16-le"),
    ]
    path, _ = plant(tmp_path, bait)
    rc, findings, _, err = dgtest.scan(path)
    assert findings == [] and rc == 0, findings


def test_truncated_body_is_low_candidate(tmp_path, rsa):
    pem = open(rsa, "rb").read()
    path, offs = plant(tmp_path, [pem[:800]], gap=0)
    rc, findings, _, _ = dgtest.scan(path)
    assert len(findings) == 1
    assert (findings[0]["status"], findings[0]["severity"]) == ("candidate", "low")
    assert rc == 0  # weak signals are low, below the default --fail-on high
    rc, _, _, _ = dgtest.scan(path, "--fail-on", "low")
    assert rc == 1


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_key_across_chunk_edges_found_once(tmp_path, rsa, jobs):
    """Keys start just before, at and after every chunk edge of a 64 KiB chunking."""
    pem = open(rsa, "rb").read()
    chunk = 65536
    data = bytearray(os.urandom(chunk * 6))
    starts = [chunk - 700, 2 * chunk - 1, 3 * chunk, 4 * chunk + 1, 5 * chunk - len(pem) + 3]
    for s in starts:
        data[s:s + len(pem)] = pem
    p = tmp_path / "edges.bin"
    p.write_bytes(bytes(data))
    rc, findings, _, err = dgtest.scan(p, "--chunk-size", str(chunk), "-j", jobs)
    assert len(findings) == 1 and findings[0]["copies"] == len(starts), (findings, err)
    findings = dgtest.placements(findings)
    assert [f["offset"] for f in findings] == starts, (findings, err)
    assert all(f["status"] == "confirmed" for f in findings)


def test_prefix_shifts_offsets_exactly(tmp_path, rsa):
    pem = open(rsa, "rb").read()
    a = tmp_path / "a.bin"
    b = tmp_path / "b.bin"
    filler = os.urandom(1000)
    a.write_bytes(filler + pem + filler)
    b.write_bytes(os.urandom(65) + filler + pem + filler)
    fa = dgtest.scan(a)[1]
    fb = dgtest.scan(b)[1]
    assert [f["offset"] + 65 for f in fa] == [f["offset"] for f in fb] != []


def test_long_primality_proof_has_a_budget(tmp_path):
    """A crafted RSA key whose primes are the Mersenne primes 2^19937 - 1 and
    2^11213 - 1 (keys.mersenne_rsa_pem()): its relations hold in
    milliseconds, but the primality tests of a 19937-bit prime take longer
    than the 10 s budget, so it is reported as a long-term candidate, high,
    saying so, in about 10 s rather than a minute; on a terminal, stderr says
    the proof is under way once 2 s have passed."""
    import time
    path, _ = plant(tmp_path, [keys.mersenne_rsa_pem()])
    t0 = time.time()
    out = dgtest.on_a_terminal(["scan", "--format", "jsonl", "--detectors", "pem", path])
    took = time.time() - t0
    # said after 2 s, at the end of a Miller-Rabin round: one of this prime
    # takes seconds
    assert re.search(r"proving a 31150-bit RSA key \([2-9] s\)", out), out[-500:]
    findings = [json.loads(line[line.index("{"):]) for line in out.splitlines() if "{" in line]
    findings = [f for f in findings if f.get("record") == "finding"]
    assert len(findings) == 1, out[-2000:]
    f = findings[0]
    assert (f["status"], f["severity"], f["role"]) == ("candidate", "high", "long-term"), f
    assert "passed the 10 s budget" in f["note"], f["note"]
    assert took < 25, took


def test_largest_rsa_key_is_proven_within_the_budget(tmp_path):
    """An RSA-15360 key, the largest size in use: p*q = n, the CRT relations,
    and ten Miller-Rabin rounds of each 7680-bit prime, well within the 10 s
    budget (BN_check_prime's own 128 rounds took longer than it)."""
    import time
    pem = keys.slow_rsa15360_pem()
    (tmp_path / "key.pem").write_bytes(pem)
    path, _ = plant(tmp_path, [pem])
    t0 = time.time()
    rc, findings, _, err = dgtest.scan(path, "--detectors", "pem")
    took = time.time() - t0
    assert rc == 1 and len(findings) == 1, (findings, err)
    f = findings[0]
    assert (f["status"], f["key"]["bits"]) == ("confirmed", 15360), f
    assert f["key"]["spki_sha256"] == dgtest.spki_sha256(tmp_path / "key.pem")
    assert "p and q probable primes (10 rounds)" in f["proof"], f["proof"]
    assert took < 10, took


def test_allowed_key_is_named_before_any_proof(tmp_path):
    """Cheap identity first: a key on the --allow list is named by its public
    half and never proven, so the same crafted key that costs the 10 s
    budget above costs nothing, and the scan passes."""
    import time
    pem = keys.mersenne_rsa_pem()
    (tmp_path / "key.pem").write_bytes(pem)
    spki = dgtest.spki_sha256(tmp_path / "key.pem")
    allow = tmp_path / "allow.txt"
    allow.write_text(spki + "  # the lab's big test key\n")
    path, _ = plant(tmp_path, [pem])
    t0 = time.time()
    rc, findings, _, err = dgtest.scan(path, "--detectors", "pem", "--allow", allow)
    took = time.time() - t0
    assert rc == 0 and len(findings) == 1, (findings, err)
    f = findings[0]
    assert f["allowed"] and f["allow_note"] == "the lab's big test key", f
    assert f["status"] == "candidate" and f["key"]["spki_sha256"] == spki
    assert "not proven" in f["note"] and "the lab's big test key" in f["note"], f["note"]
    assert took < 3, took


def test_cut_body_followed_by_a_colon_is_not_a_header(tmp_path):
    """A PEM cut inside its first line, whose base64 happens to hold no '+'
    or '/', followed by a ':' in the next bytes: the line is not a header
    (RFC 1421 header names are short), so it is still a weak candidate."""
    cut = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAbcdefghijklmnopqrstu"
    path, offs = plant(tmp_path, [cut + b": " + bytes(range(0x80, 0xc0))])
    rc, findings, _, err = dgtest.scan(path, "--detectors", "pem")
    assert [(f["offset"], f["severity"], f["status"]) for f in findings] == \
        [(offs[0], "low", "candidate")], (findings, err)
