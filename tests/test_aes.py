# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_aes.py - the aes detector: a real OpenSSL process that keeps AES-128,
# -192 and -256 keys expanded in live EVP_CIPHER_CTXs (fixtures/holdaes.c,
# cores by gcore, stopped by PID); synthetic encryption and decryption
# schedules in both word orders with 0-4 flipped bits, planted at odd offsets
# after a 65-byte random prefix and across chunk edges; random bytes and
# near-misses that must stay silent. Key schedules are computed here in
# Python from FIPS-197 (checked against its Appendix A vectors), independently
# of the detector's C code.
import hashlib
import os
import pathlib
import random
import struct
import subprocess

import pytest

import dgtest
import keys
from conftest import gcore

PREFIX = 65
HOLDAES = pathlib.Path(os.environ.get("DUMPGATE_HOLDAES", dgtest.HOLDKEY.parent / "holdaes"))


# --- FIPS-197 in Python (the test's own ground truth) ---------------------------

def _xtime(a):
    a <<= 1
    return (a ^ 0x11b) if a & 0x100 else a


def _gmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = _xtime(a)
        b >>= 1
    return r


def _sbox():
    inv = [0] * 256
    for a in range(1, 256):
        inv[a] = next(b for b in range(1, 256) if _gmul(a, b) == 1)
    out = []
    for a in range(256):
        b, s = inv[a], inv[a]
        for _ in range(4):
            b = ((b << 1) | (b >> 7)) & 0xff
            s ^= b
        out.append(s ^ 0x63)
    return out


SBOX = _sbox()


def expand(key):
    """FIPS-197 §5.2: the encryption schedule of key as a list of 4-byte words."""
    nk = len(key) // 4
    nr = nk + 6
    w = [list(key[4 * i:4 * i + 4]) for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        t = list(w[i - 1])
        if i % nk == 0:
            t = [SBOX[t[1]] ^ rcon, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]]
            rcon = _xtime(rcon)
        elif nk == 8 and i % nk == 4:
            t = [SBOX[b] for b in t]
        w.append([a ^ b for a, b in zip(w[i - nk], t)])
    return w


def inv_mix_column(c):
    return [_gmul(c[0], 14) ^ _gmul(c[1], 11) ^ _gmul(c[2], 13) ^ _gmul(c[3], 9),
            _gmul(c[0], 9) ^ _gmul(c[1], 14) ^ _gmul(c[2], 11) ^ _gmul(c[3], 13),
            _gmul(c[0], 13) ^ _gmul(c[1], 9) ^ _gmul(c[2], 14) ^ _gmul(c[3], 11),
            _gmul(c[0], 11) ^ _gmul(c[1], 13) ^ _gmul(c[2], 9) ^ _gmul(c[3], 14)]


def schedule_bytes(key, dec=False, swapped=False):
    """The schedule as a library keeps it: encryption (FIPS order) or
    decryption (round keys reversed, InvMixColumns on the inner ones), words in
    byte order or as byte-swapped host-order integers."""
    w = expand(key)
    nr = len(w) // 4 - 1
    if dec:
        rounds = [w[4 * r:4 * r + 4] for r in range(nr + 1)][::-1]
        w = []
        for i, rk in enumerate(rounds):
            w += [inv_mix_column(c) if 0 < i < nr else c for c in rk]
    if swapped:
        w = [c[::-1] for c in w]
    return bytes(b for c in w for b in c)


def test_python_expansion_matches_fips197():
    k128 = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert bytes(expand(k128)[43]).hex() == "b6630ca6"
    k192 = bytes.fromhex("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b")
    assert bytes(expand(k192)[51]).hex() == "01002202"
    k256 = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    assert bytes(expand(k256)[59]).hex() == "706c631e"


# --- helpers -----------------------------------------------------------------------

def sha(key):
    return hashlib.sha256(key).hexdigest()


def aes_scan(path, *args):
    return dgtest.scan(path, "--detectors", "aes", *args)


def flip_bits(blob, n, rng):
    """blob with n distinct bits flipped at random places."""
    b = bytearray(blob)
    for pos in rng.sample(range(len(b) * 8), n):
        b[pos // 8] ^= 1 << (pos % 8)
    return bytes(b)


def places(findings):
    """Every (offset, encoding, key_sha256) of the findings and their copies."""
    out = set()
    for f in findings:
        for loc in f.get("locations") or [f]:
            out.add((loc["offset"], loc["encoding"], f["key"]["key_sha256"]))
    return out


# --- a real process ------------------------------------------------------------------

def test_real_openssl_process_keeps_expanded_keys(tmp_path, procs):
    if not HOLDAES.exists():
        pytest.skip(f"{HOLDAES} is not built")
    keys = [os.urandom(16), os.urandom(24), os.urandom(32)]
    p = procs.start([HOLDAES, *[k.hex() for k in keys]], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    data = pathlib.Path(core).read_bytes()
    for k in keys:
        # holdaes cleansed its hex argument; the key bytes themselves are round
        # key 0 of every schedule, so they stay.
        assert k.hex().encode() not in data, "the hex key is still in the core"
    rc, findings, summ, err = aes_scan(core)
    assert summ and summ[0]["format"] == "elf-core", err
    by_key = {f["key"]["key_sha256"]: f for f in findings}
    for k in keys:
        f = by_key.get(sha(k))
        assert f is not None, f"AES-{8 * len(k)} key not found: {findings}"
        assert (f["type"], f["status"], f["severity"]) == ("aes-key", "confirmed", "medium")
        # a CBC key of a program of ours: no evidence of its use
        assert f["role"] == "symmetric", f
        assert f["key"]["algorithm"] == "AES" and f["key"]["bits"] == 8 * len(k)
        assert f["key"]["spki_sha256"] is None or f["key"]["spki_sha256"] == ""
        assert f["region"]["kind"] in ("heap", "anon")
        encodings = {loc["encoding"] for loc in f.get("locations") or [f]}
        # holdaes keeps one context to encrypt and one to decrypt (CBC).
        assert encodings == {"aes-enc-schedule", "aes-dec-schedule"}, f
        assert "0 bit errors" in f["proof"]
    assert rc == 0  # symmetric keys are medium: below the default --fail-on high
    assert aes_scan(core, "--fail-on", "medium")[0] == 1


def test_openssl_drbg_keys(tmp_path, procs, free_port):
    """Every OpenSSL 3 process keeps its CTR_DRBGs' AES-256 keys expanded (one
    schedule in the ECB and one in the CTR context of each DRBG) next to the
    derivation-function key 00 01 .. 1f, which is public and not reported."""
    key = keys.genpkey(tmp_path / "key.pem", "p256")
    cert = keys.self_signed(key, tmp_path / "key.crt")
    p = procs.start(["openssl", "s_server", "-accept", f"127.0.0.1:{free_port}", "-key", key,
                     "-cert", cert], ready="ACCEPT")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, summ, err = aes_scan(core)
    assert sha(bytes(range(32))) not in {f["key"]["key_sha256"] for f in findings}
    assert findings, "no DRBG key found"
    for f in findings:
        assert (f["status"], f["key"]["bits"], f["encoding"]) == \
            ("confirmed", 256, "aes-enc-schedule"), f


# mkcore's first segment: where the state's pointers go, as a real state's
# point at the cipher contexts in the heap (the scan only looks for library
# structs near a word that may point into the dump).
MKCORE_VA = 0x555555554000


def drbg_state(key):
    """OpenSSL 3's PROV_DRBG_CTR on LP64 (drbg.c): five pointers, keylen,
    use_df 1, K, then V, bltmp and bltmp_pos 0."""
    st = bytearray(176)
    for i in range(5):
        st[8 * i:8 * i + 8] = (MKCORE_VA + 0x2000 + 0x140 * i).to_bytes(8, "little")
    st[40:48] = len(key).to_bytes(8, "little")
    st[48:52] = (1).to_bytes(4, "little")
    st[52:52 + len(key)] = key
    return bytes(st)


def set_segment_flags(core, seg, flags):
    """Sets p_flags of PT_LOAD number seg of a 64-bit little-endian core."""
    data = bytearray(core.read_bytes())
    phoff, phnum = dgtest.phdr_table(data)
    loads = [phoff + 56 * i for i in range(phnum)
             if struct.unpack_from("<I", data, phoff + 56 * i)[0] == 1]  # PT_LOAD
    struct.pack_into("<I", data, loads[seg] + 4, flags)
    core.write_bytes(bytes(data))


@pytest.mark.parametrize("writable", [True, False], ids=["writable", "read-only-image"])
def test_drbg_state_in_a_file_image_is_not_searched(tmp_path, writable):
    """A DRBG's state is made at run time: the one in a writable mapping
    makes its key rng-state; the same bytes in a file's read-only image
    are not searched, and the key stays a plain symmetric key."""
    key = os.urandom(32)
    (tmp_path / "state.bin").write_bytes(drbg_state(key))
    (tmp_path / "sched.bin").write_bytes(schedule_bytes(key))
    core = tmp_path / "c.core"
    subprocess.run([str(dgtest.BUILD / "fixtures" / "mkcore"), "--segments", "2",
                    "--segment-size", "65536", "--fill", "random", "--nt-file",
                    "--plant", f"{tmp_path / 'sched.bin'}@0:4096",
                    "--plant", f"{tmp_path / 'state.bin'}@1:8192", str(core)],
                   check=True, capture_output=True)
    if not writable:
        set_segment_flags(core, 1, 4)  # PF_R
        spans = dgtest.regions(core)[1]
        assert any(r["perms"] == "r--" and r["kind"] == "file" for r in spans), spans
    rc, findings, summ, err = dgtest.scan(core, "--detectors", "aes,drbg")
    assert summ and summ[0]["format"] == "elf-core", err
    f = {f["key"]["key_sha256"]: f for f in findings}.get(sha(key))
    assert f is not None, findings
    assert f["role"] == ("rng-state" if writable else "symmetric"), f


# --- synthetic schedules ---------------------------------------------------------------

CASES = [(bits, dec, swapped) for bits in (128, 192, 256) for dec in (False, True)
         for swapped in (False, True)]


@pytest.mark.parametrize("bits,dec,swapped", CASES,
                         ids=[f"aes{b}-{'dec' if d else 'enc'}-{'swapped' if s else 'bytes'}"
                              for b, d, s in CASES])
def test_synthetic_schedules_with_flipped_bits(tmp_path, bits, dec, swapped):
    """Each form with 0, 1, 2, 3 and 4 flipped bits at odd offsets."""
    rng = random.Random(bits * 4 + dec * 2 + swapped)
    data, want = bytearray(os.urandom(PREFIX)), {}
    for nflip in range(5):
        key = os.urandom(bits // 8)
        blob = flip_bits(schedule_bytes(key, dec, swapped), nflip, rng)
        want[sha(key)] = (len(data), nflip)
        data += blob + os.urandom(2 * 1024 + 2 * nflip)  # even: every start stays odd
    p = tmp_path / "sched.bin"
    p.write_bytes(bytes(data))
    rc, findings, summ, err = aes_scan(p)
    got = {f["key"]["key_sha256"]: f for f in findings}
    assert set(got) == set(want), findings
    enc = "aes-dec-schedule" if dec else "aes-enc-schedule"
    for k, (off, nflip) in want.items():
        f = got[k]
        assert f["offset"] == off and off % 2 == 1
        assert f["length"] == 16 * (bits // 32 + 7)
        assert (f["type"], f["status"], f["severity"], f["encoding"]) == \
            ("aes-key", "confirmed", "medium", enc)
        assert f["key"]["bits"] == bits
        assert f"with {nflip} bit error" in f["proof"], f["proof"]
        assert ("byte-swapped" in f["preview"]) == swapped
        if nflip:
            assert f"{nflip} bit" in f["note"]


def test_offsets_shift_with_prefix(tmp_path):
    """The same schedules with and without the 65-byte prefix: offsets move by 65."""
    keys = [os.urandom(16), os.urandom(32)]
    body = b"".join(schedule_bytes(k, dec=i % 2 == 1) + os.urandom(999) for i, k in enumerate(keys))
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(body)
    b.write_bytes(os.urandom(PREFIX) + body)
    pa = places(aes_scan(a)[1])
    pb = places(aes_scan(b)[1])
    assert len(pa) == 2 and {(o + PREFIX, e, k) for o, e, k in pa} == pb


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_schedules_across_chunk_edges_found_once(tmp_path, jobs):
    """Schedules that start just before, at and just after each 64 KiB chunk edge."""
    chunk = 65536
    data = bytearray(os.urandom(chunk * 6))
    want = {}
    for i, delta in enumerate([-239, -100, -1, 0, 1]):
        key = os.urandom(32 if i % 2 else 16)
        blob = schedule_bytes(key, dec=i % 3 == 1, swapped=i == 4)
        off = chunk * (i + 1) + delta
        data[off:off + len(blob)] = blob
        want[sha(key)] = off
    p = tmp_path / "edges.bin"
    p.write_bytes(bytes(data))
    rc, findings, summ, err = aes_scan(p, "--chunk-size", str(chunk), "-j", jobs)
    assert {f["key"]["key_sha256"]: f["offset"] for f in findings} == want, findings
    assert all(f.get("copies", 1) == 1 for f in findings)


def dense_triggers(n, rng):
    """n bytes where almost every byte is a prefilter hit: the AES-128
    relation p[y] = p[y-4] ^ p[y-16] holds except at every eleventh byte, so
    a run of hits starts every few bytes (a trigger each)."""
    b = bytearray(rng.randbytes(16))
    while len(b) < n:
        y = len(b)
        b.append(rng.randrange(256) if y % 11 == 0 else b[y - 4] ^ b[y - 16])
    return b


def plant_every_form(data, rng, key_bytes, off, gap):
    """Plants in data, from offset off on with gap bytes between, every form
    (AES-128/192/256, encryption and decryption), once clean in byte order
    and once byte-swapped with 3 flipped bits; key_bytes(n) makes a key.
    Returns {key_sha256: offset}."""
    want = {}
    for bits in (128, 192, 256):
        for dec in (False, True):
            for nflip, swapped in ((0, False), (3, True)):
                key = key_bytes(bits // 8)
                blob = flip_bits(schedule_bytes(key, dec, swapped), nflip, rng)
                data[off:off + len(blob)] = blob
                want[sha(key)] = off
                off += gap + 2 * len(blob) + 3
    return want


def test_schedules_among_dense_triggers(tmp_path):
    """Every form, clean and with 3 flipped bits, planted in data that
    triggers the search every few bytes (a start already tried for an earlier
    trigger is not tried again): each is found, at its offset."""
    rng = random.Random(5)
    data = dense_triggers(1 << 20, rng)
    want = plant_every_form(data, rng, rng.randbytes, 4099, 40000)
    p = tmp_path / "dense.bin"
    p.write_bytes(bytes(data))
    rc, findings, summ, err = aes_scan(p)
    assert {f["key"]["key_sha256"]: f["offset"] for f in findings} == want, findings


def test_schedules_among_small_numbers(tmp_path):
    """Arrays of small numbers (a JVM's card tables and bitmaps: bytes 0 to
    5) make runs of prefilter hits everywhere; the search skips a run with
    no byte of 0x40 or more near it. Every form, clean and with 3 flipped
    bits, of keys whose own bytes are all below 0x40, planted there, is
    still found at its offset: the expanded words beside any run look
    random."""
    rng = random.Random(7)
    data = bytearray(rng.choice(b"\0\0\0\1\1\2\3\4\5") for _ in range(1 << 20))
    want = plant_every_form(data, rng, lambda n: bytes(rng.randrange(0x40) for _ in range(n)),
                            5001, 30000)
    p = tmp_path / "small.bin"
    p.write_bytes(bytes(data))
    rc, findings, summ, err = aes_scan(p)
    assert {f["key"]["key_sha256"]: f["offset"] for f in findings} == want, findings


def test_schedules_at_the_file_edges(tmp_path):
    """A schedule at offset 0 and one that ends the file (the prefilter's
    bounds-checked path)."""
    first, last = os.urandom(16), os.urandom(32)
    p = tmp_path / "edges.bin"
    p.write_bytes(schedule_bytes(first, swapped=True) + os.urandom(1000) +
                  schedule_bytes(last, dec=True))
    got = {f["key"]["key_sha256"]: f["offset"] for f in aes_scan(p)[1]}
    assert got == {sha(first): 0, sha(last): 176 + 1000}


def test_too_many_errors_and_near_misses_are_silent(tmp_path):
    """Thirty flipped bits (over the default limit of 8), schedules of an
    all-zero key and of public keys (the CTR_DRBG derivation-function key
    every OpenSSL 3 process holds, FIPS-197 examples), truncated schedules and
    one without its first round key: nothing."""
    rng = random.Random(7)
    key = os.urandom(16)
    parts = [flip_bits(schedule_bytes(key), 30, rng),   # far over the limit
             schedule_bytes(bytes(16)),                    # constant key
             schedule_bytes(bytes(range(32))),             # CTR_DRBG df key (public)
             schedule_bytes(bytes(range(16)), dec=True),   # FIPS-197 C.1 key
             schedule_bytes(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")),
             schedule_bytes(os.urandom(16))[:160],         # truncated AES-128
             schedule_bytes(os.urandom(32))[16:]]          # first round key missing
    data = bytearray(os.urandom(PREFIX))
    for b in parts:
        data += b + bytes(64) + os.urandom(1001)
    p = tmp_path / "miss.bin"
    p.write_bytes(bytes(data))
    rc, findings, summ, err = aes_scan(p)
    assert findings == [] and rc == 0, findings


def test_bit_error_limit_is_an_option(tmp_path):
    rng = random.Random(11)
    key = os.urandom(16)
    p = tmp_path / "decayed.bin"
    p.write_bytes(os.urandom(PREFIX) + flip_bits(schedule_bytes(key), 6, rng) + os.urandom(300))
    assert [f["key"]["key_sha256"] for f in aes_scan(p)[1]] == [sha(key)]
    assert aes_scan(p, "--option", "aes.max-bit-errors=2")[1] == []


def test_random_64mib_silent(tmp_path):
    p = tmp_path / "random.bin"
    with open(p, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    rc, findings, summ, err = aes_scan(p, "-j2")
    assert findings == [] and rc == 0, findings
    assert summ[0]["coverage"]["scanned_bytes"] == 64 << 20
