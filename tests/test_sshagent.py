# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_sshagent.py - the sshkey detector: OpenSSH private keys shielded in
# memory. A real ssh-agent (Debian 12: OpenSSH 9.2) holds keys added with
# ssh-add; its core, taken with gcore, keeps each key only AES-256-CTR
# encrypted under SHA-512 of a 16 KiB prekey (openssh-portable sshkey.c,
# sshkey_shield_private). dumpgate must unshield and prove every key, each
# finding's spki_sha256 equal to the one of the .pub file. Synthetic cores
# made with fixtures/mkcore then hold struct sshkey images of the OpenSSH
# layouts (8.2-9.8 and 10.4+) with their blobs shielded here in Python: with
# the prekey in the dump (confirmed), without it (low candidate naming why),
# with a wrong prekey, across a chunk edge, and through standard input.
import hashlib
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import dgtest
import keys
from conftest import gcore

MKCORE = dgtest.BUILD / "fixtures" / "mkcore"
SEG_VA = 0x555555554000      # mkcore's first 64-bit segment
SEG_SIZE = 0x10000
PREKEY_LEN = 16384
UNMAPPED = 0x7F1234560000    # a prekey address no segment holds


def shielded(findings, spki=None):
    return [f for f in findings if f["detector"] == "sshkey"
            and (spki is None or f["key"]["spki_sha256"] == spki)]


# ---- a real ssh-agent ----

def short_dir(tmp_path):
    """A directory whose socket path fits sun_path (108 bytes)."""
    if len(str(tmp_path)) < 80:
        return tmp_path
    return pathlib.Path(tempfile.mkdtemp(prefix="dg-agent-"))


AGENT_KINDS = [("ed25519", ["-t", "ed25519"], "Ed25519"),
               ("rsa", ["-t", "rsa", "-b", "2048"], "RSA"),
               ("ecdsa", ["-t", "ecdsa", "-b", "256"], "EC")]
NO_AGENT = shutil.which("ssh-agent") is None or shutil.which("gcore") is None


def ssh_agent_core(tmp_path, procs, kinds=AGENT_KINDS):
    """A fresh key of each kind (name, ssh-keygen arguments, algorithm) in
    tmp_path/NAME, added to a real ssh-agent; the agent's core taken and the
    agent stopped. Returns the core's path."""
    for name, args, _ in kinds:
        subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", name, "-f", tmp_path / name],
                       check=True, capture_output=True)
    sdir = short_dir(tmp_path)
    sock = sdir / "agent.sock"
    # -D: foreground, so the agent is our child; it prints SSH_AUTH_SOCK=... first.
    agent = procs.start(["ssh-agent", "-D", "-a", sock], ready="SSH_AUTH_SOCK=")
    env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
    r = subprocess.run(["ssh-add", *[tmp_path / n for n, _, _ in kinds]], env=env,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    core = gcore(agent.pid, tmp_path / "core")
    procs.stop(agent)
    if sdir != tmp_path:
        shutil.rmtree(sdir, ignore_errors=True)
    return core


@pytest.mark.skipif(NO_AGENT, reason="needs openssh-client and gdb")
def test_ssh_agent_keys_unshielded(tmp_path, procs):
    kinds = AGENT_KINDS
    core = ssh_agent_core(tmp_path, procs)
    rc, findings, summ, err = dgtest.scan(core)
    assert summ and summ[0]["format"] == "elf-core", err
    data = open(core, "rb").read()
    for name, _, alg in kinds:
        spki = keys.ssh_pub_spki_sha256(tmp_path / f"{name}.pub")
        hits = [f for f in shielded(findings, spki) if f["status"] == "confirmed"]
        assert hits, f"{name}: no confirmed shielded key: {findings} {err}"
        f = hits[0]
        assert f["severity"] == "high" and f["encoding"] == "ssh-shielded"
        assert f["key"]["algorithm"] == alg
        assert f["type"] == {"ed25519": "ed25519-private-key", "rsa": "rsa-private-key",
                             "ecdsa": "ec-private-key"}[name]
        assert "unshielded with the prekey at 0x" in f["note"]
        assert f["vaddr"] is not None and f["length"] % 16 == 0
        # The finding points at the ciphertext: a multiple of the AES block, in memory.
        assert f["region"]["kind"] in ("heap", "anon")
        # Shielded: neither the key file's text nor its raw secret is in the core.
        text = open(tmp_path / name).read().splitlines()
        for line in text:
            if not line.startswith("-----"):
                assert line.encode() not in data, f"{name}: a line of the key file is in the core"
        priv = serialization.load_ssh_private_key(open(tmp_path / name, "rb").read(), None)
        assert secret_bytes(priv) not in data, f"{name}: the raw secret is in the core"
    assert rc == 1


def secret_bytes(priv):
    if isinstance(priv, ed25519.Ed25519PrivateKey):
        return priv.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())
    if isinstance(priv, rsa.RSAPrivateKey):
        p = priv.private_numbers().p
        return p.to_bytes((p.bit_length() + 7) // 8, "big")
    return priv.private_numbers().private_value.to_bytes(32, "big")


# ---- synthetic struct sshkey images ----

def sstr(b):
    return struct.pack(">I", len(b)) + b


def mpint(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big") if v else b""
    return sstr(b)


def serialize(priv):
    """sshkey_private_serialize(): string keytype, then the type's private fields."""
    if isinstance(priv, ed25519.Ed25519PrivateKey):
        seed = priv.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())
        pk = priv.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        return sstr(b"ssh-ed25519") + sstr(pk) + sstr(seed + pk), 3, pk
    if isinstance(priv, rsa.RSAPrivateKey):
        n = priv.private_numbers()
        return (sstr(b"ssh-rsa") + mpint(n.public_numbers.n) + mpint(n.public_numbers.e) +
                mpint(n.d) + mpint(n.iqmp) + mpint(n.p) + mpint(n.q)), 0, None
    q = priv.public_key().public_bytes(serialization.Encoding.X962,
                                       serialization.PublicFormat.UncompressedPoint)
    return (sstr(b"ecdsa-sha2-nistp256") + sstr(b"nistp256") + sstr(q) +
            mpint(priv.private_numbers().private_value)), 2, None


def shield(plain, prekey):
    """sshkey_shield_private(): pad 1, 2, 3, ... to 16, AES-256-CTR under SHA-512(prekey)."""
    i = 0
    while len(plain) % 16:
        i += 1
        plain += bytes([i])
    h = hashlib.sha512(prekey).digest()
    enc = Cipher(algorithms.AES(h[:32]), modes.CTR(h[32:48])).encryptor()
    return enc.update(plain) + enc.finalize()


def spki_of(priv):
    der = priv.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def struct_image(layout, type_, nid, edpk_va, blob_va, blob_len, prekey_va):
    """A struct sshkey of OpenSSH 9.2 ("8.2-9.8") or 10.4+ after shielding."""
    tail = struct.pack("<QQQQ", blob_va, blob_len, prekey_va, PREKEY_LEN)
    if layout == "9.2":
        head = bytearray(136)
        struct.pack_into("<ii", head, 0, type_, 0)
        if type_ == 0:
            struct.pack_into("<Q", head, 8, SEG_VA + 0x8000)   # RSA * (public-only)
        struct.pack_into("<i", head, 24, nid)
        if type_ == 2:
            struct.pack_into("<Q", head, 32, SEG_VA + 0x8000)  # EC_KEY *
        struct.pack_into("<Q", head, 48, edpk_va)
    else:
        head = bytearray(96)
        # 10.4+: enum without DSA: RSA 0, ECDSA 1, ED25519 2
        struct.pack_into("<iii", head, 0, {3: 2, 2: 1, 0: 0}[type_], 0, nid)
        if type_ != 3:
            struct.pack_into("<Q", head, 16, SEG_VA + 0x8000)  # EVP_PKEY *
        struct.pack_into("<Q", head, 32, edpk_va)
    return bytes(head) + tail, len(head)


def make_core(tmp_path, priv, layout="9.2", prekey_in_dump=True, wrong_prekey=False,
              struct_at=0x100, name="c.core", extra=(), seg_size=SEG_SIZE, prekey_off=0x4000,
              blob_off=0x3000, plain=None):
    """Plants struct, public key (at 0x2000), blob and prekey in the one segment
    of a zero-filled core. Returns (core path, file offset of the blob, blob
    length, file offset of the struct's tail)."""
    ser, type_, pk = serialize(priv)
    plain = ser if plain is None else plain
    prekey = os.urandom(PREKEY_LEN)
    blob = shield(plain, prekey)
    if wrong_prekey:
        prekey = os.urandom(PREKEY_LEN)
    nid = 415 if type_ == 2 else -1
    pk_off = 0x2000
    img = bytearray(SEG_SIZE)
    st, shield_off = struct_image(layout, type_, nid, SEG_VA + pk_off if pk else 0,
                                  SEG_VA + blob_off, len(blob),
                                  SEG_VA + prekey_off if prekey_in_dump else UNMAPPED)
    img[struct_at:struct_at + len(st)] = st
    if pk:
        img[pk_off:pk_off + 32] = pk
    for off, b in extra:
        img[off:off + len(b)] = b
    parts = [(0, bytes(img)), (blob_off, blob)]
    if prekey_in_dump:
        # glibc's chunk header (16400 | PREV_INUSE), then the block
        parts.append((prekey_off - 8, struct.pack("<Q", 0x4011) + prekey))
    args = []
    for i, (off, data) in enumerate(parts):
        f = tmp_path / f"{name}.part{i}"
        f.write_bytes(data)
        args += ["--plant", f"{f}@0:{off}"]
    core = tmp_path / name
    r = subprocess.run([str(MKCORE), "--segments", "1", "--segment-size", str(seg_size), "--fill",
                        "zeros", *args, str(core)], capture_output=True, check=True)
    seg_off = json.loads(r.stdout)["planted"][0]["offset"]
    return core, seg_off + blob_off, len(blob), seg_off + struct_at + shield_off


@pytest.fixture(scope="module")
def privs():
    return {"ed25519": ed25519.Ed25519PrivateKey.generate(),
            "rsa": rsa.generate_private_key(65537, 2048),
            "ecdsa": ec.generate_private_key(ec.SECP256R1())}


@pytest.mark.parametrize("layout", ["9.2", "10.4"])
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_synthetic_unshield(tmp_path, privs, kind, layout):
    priv = privs[kind]
    core, blob_off, blob_len, _ = make_core(tmp_path, priv, layout)
    rc, findings, summ, err = dgtest.scan(core)
    hits = shielded(findings)
    assert len(hits) == 1, (findings, err)
    f = hits[0]
    assert (f["status"], f["severity"]) == ("confirmed", "high")
    assert f["key"]["spki_sha256"] == spki_of(priv)
    assert (f["offset"], f["length"]) == (blob_off, blob_len)
    assert f["vaddr"] == hex(SEG_VA + 0x3000)
    assert f["note"].startswith("OpenSSH shielded key, unshielded with the prekey at "
                                f"{SEG_VA + 0x4000:#x}")
    assert rc == 1


@pytest.mark.parametrize("layout", ["9.2", "10.4"])
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_synthetic_prekey_missing_is_low_candidate(tmp_path, privs, kind, layout):
    priv = privs[kind]
    core, blob_off, blob_len, _ = make_core(tmp_path, priv, layout, prekey_in_dump=False)
    rc, findings, summ, err = dgtest.scan(core, "--fail-on", "high")
    hits = shielded(findings)
    assert len(hits) == 1, (findings, err)
    f = hits[0]
    assert (f["status"], f["severity"]) == ("candidate", "low")
    assert (f["offset"], f["length"]) == (blob_off, blob_len)
    assert f["type"] == {"ed25519": "ed25519-private-key", "rsa": "rsa-private-key",
                         "ecdsa": "ec-private-key"}[kind]
    assert f"prekey at {UNMAPPED:#x} not in the dump" in f["note"]
    assert ("8.2-9.8" if layout == "9.2" else "10.4+") in f["note"]
    # Ed25519: the public-only struct keeps the public key in clear.
    assert f["key"]["spki_sha256"] == (spki_of(priv) if kind == "ed25519" else None)
    assert rc == 0


def test_synthetic_wrong_prekey(tmp_path, privs):
    core, blob_off, _, _ = make_core(tmp_path, privs["ed25519"], wrong_prekey=True)
    rc, findings, summ, err = dgtest.scan(core, "--fail-on", "high")
    hits = shielded(findings)
    assert [(f["status"], f["severity"], f["offset"]) for f in hits] == \
        [("candidate", "low", blob_off)]
    assert "does not decrypt" in hits[0]["note"]
    assert hits[0]["key"]["spki_sha256"] == spki_of(privs["ed25519"])


def test_synthetic_certificate_is_long_term_candidate(tmp_path, privs):
    """A decrypted key of a type not rebuilt here (a certificate key) is a
    long-term candidate (high) that names the type."""
    kt = b"ssh-ed25519-cert-v01@openssh.com"
    plain = sstr(kt) + sstr(b"certificate blob") + sstr(b"\x01" * 32) + sstr(b"\x02" * 64)
    core, blob_off, _, _ = make_core(tmp_path, privs["ed25519"], plain=plain)
    rc, findings, summ, err = dgtest.scan(core)
    hits = shielded(findings)
    assert [(f["status"], f["severity"], f["type"]) for f in hits] == \
        [("candidate", "high", "ed25519-private-key")], findings
    assert kt.decode() in hits[0]["note"] and "not rebuilt here" in hits[0]["note"]


def test_synthetic_bait_stays_silent(tmp_path, privs):
    """The tail pattern without a struct sshkey head, or over zeroed blobs, is no finding."""
    prekey_va = SEG_VA + 0x4000
    bait = [
        # a tail whose head is zeros (no layout), blob random, prekey missing
        (0x800, struct.pack("<QQQQ", SEG_VA + 0x9000, 128, UNMAPPED, PREKEY_LEN)),
        (0x9000, os.urandom(128)),
        # a tail over a zeroed (freed) blob with the real prekey
        (0xA00, struct.pack("<QQQQ", SEG_VA + 0xA000, 256, prekey_va, PREKEY_LEN)),
        # a tail whose pointers are unaligned or outside user space
        (0xB00, struct.pack("<QQQQ", SEG_VA + 0x9001, 128, prekey_va, PREKEY_LEN)),
        (0xC00, struct.pack("<QQQQ", 0xFFFF800000001000, 128, prekey_va, PREKEY_LEN)),
        # a tail with a length that is not a multiple of the AES block
        (0xD00, struct.pack("<QQQQ", SEG_VA + 0x9000, 120, prekey_va, PREKEY_LEN)),
    ]
    core, blob_off, _, _ = make_core(tmp_path, privs["ed25519"], extra=bait)
    rc, findings, summ, err = dgtest.scan(core)
    hits = shielded(findings)
    assert [(f["status"], f["offset"]) for f in hits] == [("confirmed", blob_off)], findings


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_synthetic_tail_across_chunk_edge(tmp_path, privs, jobs):
    """The 32-byte tail starts 16 bytes before a 4 KiB chunk edge: found once."""
    core, blob_off, _, tail_off = make_core(tmp_path, privs["rsa"], struct_at=0xFF0 - 136)
    assert tail_off % 4096 == 4096 - 16
    rc, findings, summ, err = dgtest.scan(core, "--chunk-size", "4096", "-j", jobs)
    hits = shielded(findings)
    assert [(f["status"], f["offset"]) for f in hits] == [("confirmed", blob_off)], findings


def test_synthetic_from_stdin(tmp_path, privs):
    """Standard input: a small core fits in the kept head, so pointers are followed."""
    core, blob_off, _, _ = make_core(tmp_path, privs["ecdsa"])
    rc, findings, summ, err = dgtest.scan("-", input=open(core, "rb").read())
    hits = shielded(findings)
    assert [(f["status"], f["offset"]) for f in hits] == [("confirmed", blob_off)], (findings, err)


def test_raw_file_is_not_followed(tmp_path, privs):
    """A raw buffer has no address map: nothing to follow, no finding, no error."""
    core, blob_off, _, _ = make_core(tmp_path, privs["ed25519"])
    raw = tmp_path / "heap.bin"
    raw.write_bytes(open(core, "rb").read()[blob_off - 0x3000:])
    rc, findings, summ, err = dgtest.scan(raw)
    assert shielded(findings) == [] and summ[0]["errors"] == [], err


def stdin_hits(core, *args):
    with open(core, "rb") as fh:
        p = dgtest.run("scan", "--format", "jsonl", *args, "-", input=fh.read())
    return shielded([r for r in dgtest.records(p.stdout) if r["record"] == "finding"])


def test_stream_prekey_past_kept_head(tmp_path, privs):
    """A prekey 70 MiB into the core, past the stream's kept head: standard
    input reads it back from the spill file and confirms the key as the file
    does; with --no-spill it cannot be read back, and the key is a low
    candidate that says so."""
    far = 70 << 20
    core, blob_off, _, _ = make_core(tmp_path, privs["ed25519"], seg_size=72 << 20,
                                     prekey_off=far)
    rc, findings, summ, err = dgtest.scan(core)
    assert [(f["status"], f["offset"]) for f in shielded(findings)] == [("confirmed", blob_off)]
    assert [(f["status"], f["offset"]) for f in stdin_hits(core)] == [("confirmed", blob_off)]
    hits = stdin_hits(core, "--no-spill")
    assert [(f["status"], f["severity"], f["offset"]) for f in hits] == \
        [("candidate", "low", blob_off)]
    assert f"prekey at {SEG_VA + far:#x} past the kept head of the stream" in hits[0]["note"]
    assert hits[0]["key"]["spki_sha256"] == spki_of(privs["ed25519"])


def test_stream_blob_past_kept_head(tmp_path, privs):
    """The struct in the kept head, its blob 70 MiB in: confirmed from the
    spill file; with --no-spill a low candidate at the struct's tail, the
    Ed25519 public key still read from the struct."""
    far = 70 << 20
    core, blob_off, _, tail_off = make_core(tmp_path, privs["ed25519"], seg_size=72 << 20,
                                            blob_off=far)
    rc, findings, summ, err = dgtest.scan(core)
    assert [(f["status"], f["offset"]) for f in shielded(findings)] == [("confirmed", blob_off)]
    assert [(f["status"], f["offset"]) for f in stdin_hits(core)] == [("confirmed", blob_off)]
    hits = stdin_hits(core, "--no-spill")
    assert [(f["status"], f["severity"], f["offset"], f["length"]) for f in hits] == \
        [("candidate", "low", tail_off, 32)]
    assert f"blob at {SEG_VA + far:#x} is past the kept head of the stream" in hits[0]["note"]
    assert hits[0]["key"]["spki_sha256"] == spki_of(privs["ed25519"])
