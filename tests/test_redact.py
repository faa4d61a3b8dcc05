# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_redact.py - `dumpgate redact IN -o OUT` (issue 23), on gcore cores of
# real processes (holdkey with PEM text and with --wipe, openssl s_server,
# ssh-agent, a JVM with a PKCS#12 store, node holding a JWK) and on public
# minidumps with keys planted into a memory range. Each redaction is checked
# independently of dumpgate's own verdict: the private numbers (computed here
# with python-cryptography) are searched for in OUT as big-endian,
# little-endian, int[] and base64url bytes; `cmp -l` must change only bytes
# inside the reported spans, exactly as many as the report says; the
# container must read the same (eu-readelf -l -n, gdb bt and registers,
# dumpgate regions). Then the forms (PEM text, numbers across block edges, d
# mod phi), the refusals (OUT == IN, compressed input, an existing OUT), a
# clean dump copied unchanged, a fill no detector takes for a key, a copy
# that never re-scans clean, and SIGTERM during the re-scan.
import base64
import bisect
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import dgtest
import keys
import test_jwk
import test_sshagent
import test_verdict_processes
from conftest import gcore, s_server_core

FILL = b"[REDACTED]"


def redact(inp, out, *args):
    """Runs `dumpgate redact`; returns (CompletedProcess, report records)."""
    p = dgtest.run("redact", *args, inp, "-o", out)
    rep = out.parent / (out.name + ".redact.jsonl")
    recs = dgtest.records(rep.read_bytes()) if rep.exists() else []
    return p, recs


def private_numbers(keyfile):
    """(name, big-endian bytes) of every private number of a PEM key."""
    k = serialization.load_pem_private_key(open(keyfile, "rb").read(), password=None)

    def be(v):
        return v.to_bytes((v.bit_length() + 7) // 8, "big")
    if isinstance(k, rsa.RSAPrivateKey):
        n = k.private_numbers()
        return [("d", be(n.d)), ("p", be(n.p)), ("q", be(n.q)), ("dp", be(n.dmp1)),
                ("dq", be(n.dmq1)), ("qinv", be(n.iqmp))]
    assert isinstance(k, ec.EllipticCurvePrivateKey)
    # fixed width, as a JWK's "d" (RFC 7518 6.2.2.1) and SEC 1 hold it: one
    # key in 256 has a leading zero byte
    return [("d", k.private_numbers().private_value.to_bytes((k.curve.key_size + 7) // 8, "big"))]


def forms(number):
    """The forms a process holds a number in: big-endian, little-endian
    (limbs), base64url (JWK)."""
    return {"be": number, "le": number[::-1],
            "b64url": base64.urlsafe_b64encode(number).rstrip(b"=")}


def key_copies(data, keyfile):
    """Which (number, form) of the key's private numbers occur in data."""
    return [(name, f) for name, num in private_numbers(keyfile)
            for f, b in forms(num).items() if b in data]


def changed_offsets(a, b):
    """The 0-based offsets `cmp -l` lists (exit 1 when the files differ)."""
    p = subprocess.run(["cmp", "-l", str(a), str(b)], capture_output=True)
    assert p.returncode in (0, 1), p.stderr
    return [int(line.split()[0]) - 1 for line in p.stdout.decode().splitlines()
            if line.strip()[:1].isdigit()]


def check_report_and_bytes(inp, out, recs):
    """OUT has IN's size; every changed byte lies in a reported span and
    their count is the report's bytes_changed; every byte in a span is the
    fill. Returns the report's key records."""
    summ = [r for r in recs if r["record"] == "redact-summary"]
    kr = [r for r in recs if r["record"] == "redacted-key"]
    assert len(summ) == 1 and summ[0]["verified"] is True, recs
    assert os.path.getsize(inp) == os.path.getsize(out) == summ[0]["size"]
    spans = []  # the union of every key's spans (keys' spans may overlap)
    for off, ln in sorted((s["offset"], s["length"]) for r in kr for s in r["spans"]):
        if spans and off <= spans[-1][0] + spans[-1][1]:
            end = max(spans[-1][0] + spans[-1][1], off + ln)
            spans[-1] = (spans[-1][0], end - spans[-1][0])
        else:
            spans.append((off, ln))
    changed = changed_offsets(inp, out)
    assert len(changed) == summ[0]["bytes_changed"], (len(changed), summ[0])
    starts = [s for s, _ in spans]
    for off in changed:
        i = bisect.bisect_right(starts, off) - 1
        assert i >= 0 and off < spans[i][0] + spans[i][1], f"byte {off} changed outside every span"
    data = open(out, "rb").read()
    for off, ln in spans:
        assert set(data[off:off + ln]) <= set(FILL), f"span {off}+{ln} is not all fill"
    assert sum(ln for _, ln in spans) >= summ[0]["bytes_changed"] > 0
    return kr


def readelf(path):
    return subprocess.run(["eu-readelf", "-l", "-n", str(path)], capture_output=True,
                          check=True).stdout


def gdb_view(exe, core):
    p = subprocess.run(["gdb", "-nx", "-batch", "-ex", "bt", "-ex", "info registers",
                        str(exe), str(core)], capture_output=True, timeout=120)
    return (p.stdout + p.stderr).decode(errors="replace").replace(str(core), "CORE")


def no_secret_in_report(out, keyfiles):
    text = open(str(out) + ".redact.jsonl", "rb").read()
    for k in keyfiles:
        for name, num in private_numbers(k):
            for f, b in forms(num).items():
                assert b not in text and num.hex().encode() not in text, f"{k} {name} {f} in report"


@pytest.mark.parametrize("wipe", [False, True], ids=["pem", "wiped"])
def test_holdkey_core_redacted(tmp_path, procs, wipe):
    rsa_k = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    ec_k = keys.genpkey(tmp_path / "ec.pem", "p256")
    p = procs.start([dgtest.HOLDKEY, *(["--wipe"] if wipe else []), rsa_k, ec_k], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    before = open(core, "rb").read()
    # the test can fail: the keys are there before
    rc, findings, _, err = dgtest.scan(core)
    assert rc == 1
    fps = {dgtest.spki_sha256(k): k for k in (rsa_k, ec_k)}
    for fp in fps:
        assert any(f["key"].get("spki_sha256") == fp for f in findings), (fp, err)
    for k in (rsa_k, ec_k):
        assert key_copies(before, k), f"{k}: no private number in the core to begin with"
    if not wipe:
        assert b"-----BEGIN PRIVATE KEY-----" in before

    out = tmp_path / "out.core"
    r, recs = redact(core, out)
    assert r.returncode == 0, r.stderr.decode()
    assert open(core, "rb").read() == before, "IN was written"
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    kr = check_report_and_bytes(core, out, recs)
    assert {r["spki_sha256"] for r in kr} >= set(fps)
    for r in kr:
        assert r["role"] == "long-term" and r["severity"] == "high" and r["spans"]
    no_secret_in_report(out, (rsa_k, ec_k))

    # dumpgate finds none of the keys, and neither does a plain byte search
    rc, findings, _, err = dgtest.scan(out)
    assert rc == 0, (findings, err)
    assert not [f for f in findings if f["key"].get("spki_sha256") in fps]
    data = open(out, "rb").read()
    for k in (rsa_k, ec_k):
        assert key_copies(data, k) == [], f"{k}: private numbers left in OUT"
    if not wipe:
        for k in (rsa_k, ec_k):
            body = open(k).read().splitlines()[1].encode()
            assert body in before and body not in data
        # the armour lines stay: only the bodies were PEM's secret
        for line in (b"-----BEGIN PRIVATE KEY-----", b"-----END PRIVATE KEY-----"):
            assert data.count(line) == before.count(line) > 0

    # the container reads the same
    assert readelf(core) == readelf(out)
    assert gdb_view(dgtest.HOLDKEY, core) == gdb_view(dgtest.HOLDKEY, out)
    assert "#0" in gdb_view(dgtest.HOLDKEY, out)
    assert not [n for n in os.listdir(tmp_path) if n.startswith("out.core.") and
                not n.endswith(".redact.jsonl")], "a temporary file was left"


def test_fail_on_low_takes_the_generators_keys_too(tmp_path, procs):
    """--fail-on low: OpenSSL's DRBG AES keys (rng-state, low; named by
    key_sha256, no public half) are overwritten through their findings'
    spans, and the copy re-scans clean at low."""
    k = keys.genpkey(tmp_path / "ec.pem", "p256")
    p = procs.start([dgtest.HOLDKEY, "--wipe", k], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, _, err = dgtest.scan(core, "--fail-on", "low")
    aes = {f["key"]["key_sha256"] for f in findings if f["type"] == "aes-key"}
    assert rc == 1 and aes, (findings, err)
    out = tmp_path / "out.core"
    r, recs = redact(core, out, "--fail-on", "low")
    assert r.returncode == 0, r.stderr.decode()
    kr = check_report_and_bytes(core, out, recs)
    assert aes <= {x.get("key_sha256") for x in kr}
    assert all(x["forms_searched"] == 0 for x in kr if x.get("key_sha256") in aes)
    rc, findings, _, err = dgtest.scan(out, "--fail-on", "low")
    assert rc == 0 and findings == [], (findings, err)
    assert gdb_view(dgtest.HOLDKEY, core) == gdb_view(dgtest.HOLDKEY, out)


@pytest.mark.parametrize("alg", ["rsa2048", "p256"])
def test_s_server_core_redacted(tmp_path, procs, free_port, alg):
    """openssl s_server holds its key as OpenSSL structures only; the
    allowed test keys compiled into `openssl` stay as they are."""
    key, core = s_server_core(tmp_path, procs, free_port, alg)
    fp = dgtest.spki_sha256(key)
    assert key_copies(open(core, "rb").read(), key)
    out = tmp_path / "out.core"
    r, recs = redact(core, out)
    assert r.returncode == 0, r.stderr.decode()
    kr = check_report_and_bytes(core, out, recs)
    assert fp in {r.get("spki_sha256") for r in kr}
    rc, findings, _, err = dgtest.scan(out, "-v")
    assert rc == 0 and not [f for f in findings if f["key"].get("spki_sha256") == fp], findings
    assert key_copies(open(out, "rb").read(), key) == []
    # what was allowed in IN is still there, untouched
    allowed = lambda fs: sorted((f["key"].get("spki_sha256"), f["offset"]) for f in fs  # noqa: E731
                                if f.get("allowed"))
    assert allowed(dgtest.scan(core, "-v")[1]) == allowed(findings)
    assert readelf(core) == readelf(out)
    exe = subprocess.run(["which", "openssl"], capture_output=True, text=True).stdout.strip()
    assert gdb_view(exe, core) == gdb_view(exe, out)


@pytest.mark.skipif(test_sshagent.NO_AGENT, reason="needs openssh-client and gdb")
def test_ssh_agent_core_redacted(tmp_path, procs):
    """ssh-agent holds its keys only shielded (AES-256-CTR under a prekey):
    the shielded blobs go, the agent's core still debugs."""
    core = test_sshagent.ssh_agent_core(tmp_path, procs)
    fps = {keys.ssh_pub_spki_sha256(tmp_path / f"{n}.pub") for n, _, _ in test_sshagent.AGENT_KINDS}
    rc, findings, _, _ = dgtest.scan(core)
    assert rc == 1 and fps <= {f["key"].get("spki_sha256") for f in findings}
    out = tmp_path / "out.core"
    r, recs = redact(core, out)
    assert r.returncode == 0, r.stderr.decode()
    kr = check_report_and_bytes(core, out, recs)
    assert fps <= {r.get("spki_sha256") for r in kr}
    rc, findings, _, err = dgtest.scan(out)
    assert rc == 0, (findings, err)
    # What a re-scan still names is a candidate by its public half only (the
    # struct sshkey and its Ed25519 public key stay; the prekey no longer
    # decrypts the fill), each byte of it overwritten, and listed as residual.
    left = [f for f in findings if f["key"].get("spki_sha256") in fps]
    residual = {(r["spki_sha256"], s["offset"]) for r in recs
                if r["record"] == "residual-candidate" for s in r["spans"]}
    for f in left:
        assert f["status"] == "candidate" and f["severity"] == "low", f
        assert (f["key"]["spki_sha256"], f["offset"]) in residual, (f, residual)
    assert recs[-1]["residual_candidates"] == len({r for r, _ in residual})
    assert readelf(core) == readelf(out)
    exe = shutil.which("ssh-agent")
    assert gdb_view(exe, core) == gdb_view(exe, out)


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK")
def test_jvm_pkcs12_redacted(tmp_path, procs):
    """A JVM that loaded a PKCS#12 store holds the key as PKCS#1 DER and as
    BigInteger int[] arrays (most significant word first): the int[] copies
    of p, q, d, dP, dQ and qInv are found by value and overwritten."""
    key, core = test_verdict_processes.jvm_p12_core(procs, tmp_path)
    try:
        fp = dgtest.spki_sha256(key)
        out = tmp_path / "out.core"
        r, recs = redact(core, out)
        assert r.returncode == 0, r.stderr.decode()
        kr = check_report_and_bytes(core, out, recs)
        rk = [x for x in kr if x.get("spki_sha256") == fp]
        assert rk and {"rsa-p int[]", "rsa-q int[]"} <= {s["source"] for s in rk[0]["spans"]}
        rc, findings, _, err = dgtest.scan(out)
        assert rc == 0 and fp not in {f["key"].get("spki_sha256") for f in findings}, findings
        data = open(out, "rb").read()
        for name, num in private_numbers(key):
            words = num.rjust((len(num) + 3) // 4 * 4, b"\0")
            java = b"".join(words[i:i + 4][::-1] for i in range(0, len(words), 4))
            assert java not in data and num not in data, name
        assert readelf(core) == readelf(out)
    finally:
        for f in (core, tmp_path / "out.core"):
            if os.path.exists(f):
                os.unlink(f)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_node_jwk_redacted(tmp_path, procs):
    """node holding the JWK export of a P-384 key (test_jwk.NODE), with a
    small V8 heap so that the core stays near 130 MB: every copy goes, and
    each JWK text in the core stays JSON with only its "d" filled."""
    k = keys.genpkey(tmp_path / "p384.pem", "p384")
    script = tmp_path / "hold.js"
    script.write_text(test_jwk.NODE)
    p = procs.start(["node", "--single-threaded", "--max-semi-space-size=1",
                     "--max-old-space-size=16", "--jitless", script, k], ready="ready")
    with open(f"/proc/{p.pid}/coredump_filter", "w") as fh:
        fh.write("0x11")  # anonymous private memory and ELF headers only
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    try:
        before = open(core, "rb").read()
        d = dict(private_numbers(k))["d"].rjust(48, b"\0")
        d64 = base64.urlsafe_b64encode(d).rstrip(b"=")
        needle, texts, i = b'"d":"' + d64, [], before.find(b'"d":"' + d64)
        while i >= 0:
            texts.append(i)
            i = before.find(needle, i + 1)
        assert texts, "no JWK text with d in the core"
        out = tmp_path / "out.core"
        r, recs = redact(core, out)
        assert r.returncode == 0, r.stderr.decode()
        kr = check_report_and_bytes(core, out, recs)
        fp = dgtest.spki_sha256(k)
        assert fp in {x.get("spki_sha256") for x in kr}
        rc, findings, _, err = dgtest.scan(out)
        assert rc == 0 and fp not in {f["key"].get("spki_sha256") for f in findings}, findings
        data = open(out, "rb").read()
        assert d64 not in data and key_copies(data, k) == []
        for i in texts:  # each JWK text still parses, with the public members intact
            lo, hi = before.rfind(b"{", 0, i), before.index(b"}", i) + 1
            j, want = json.loads(data[lo:hi]), json.loads(before[lo:hi])
            assert {a: b for a, b in j.items() if a != "d"} == \
                {a: b for a, b in want.items() if a != "d"}
            assert set(j["d"].encode()) <= set(FILL)
        assert readelf(core) == readelf(out)
    finally:
        for f in (core, tmp_path / "out.core"):
            if os.path.exists(f):
                os.unlink(f)


@pytest.mark.parametrize("name", ["breakpad/minidump2.dmp", "symbolic/crash_linux.dmp",
                                  "rust-minidump/simple-crashpad.dmp"])
def test_minidump_with_planted_keys(tmp_path, name):
    """A public minidump (Windows x86 from Breakpad, Linux, Crashpad) with an
    RSA PKCS#8 DER, an EC PEM and an EC JWK written into its largest memory
    range."""
    src = dgtest.CORPUS / name
    if not src.exists():
        pytest.skip("no public corpus")
    rc, spans, summ = dgtest.regions(src)
    assert rc == 0 and summ["format"] == "minidump"
    mem = max((s for s in spans if s["vaddr"] is not None), key=lambda s: s["size"])
    rsa_k = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    ec_k = keys.genpkey(tmp_path / "ec.pem", "p256")
    ec2_k = keys.genpkey(tmp_path / "ec2.pem", "p256")
    k2 = serialization.load_pem_private_key(open(ec2_k, "rb").read(), password=None)
    pn = k2.private_numbers()

    def b64(v):
        return base64.urlsafe_b64encode(v.to_bytes(32, "big")).rstrip(b"=").decode()
    jwk = json.dumps({"kty": "EC", "crv": "P-256", "x": b64(pn.public_numbers.x),
                      "y": b64(pn.public_numbers.y), "d": b64(pn.private_value)}).encode()
    blobs = [keys.pkcs8_der(rsa_k), open(ec_k, "rb").read(), jwk]
    need = sum(len(b) + 64 for b in blobs)
    assert mem["size"] >= need, mem
    data = bytearray(src.read_bytes())
    at, where = mem["offset"] + 16, []
    for b in blobs:
        data[at:at + len(b)] = b
        where.append(at)
        at += len(b) + 48
    dump = tmp_path / "planted.dmp"
    dump.write_bytes(bytes(data))
    fps = {dgtest.spki_sha256(k) for k in (rsa_k, ec_k, ec2_k)}
    rc, findings, _, err = dgtest.scan(dump)
    assert rc == 1 and fps <= {f["key"].get("spki_sha256") for f in findings}, (findings, err)

    out = tmp_path / "out.dmp"
    r, recs = redact(dump, out)
    assert r.returncode == 0, r.stderr.decode()
    kr = check_report_and_bytes(dump, out, recs)
    assert {r["spki_sha256"] for r in kr} == fps
    rc, findings, _, err = dgtest.scan(out)
    assert rc == 0 and not [f for f in findings if f["key"].get("spki_sha256") in fps], findings
    red = open(out, "rb").read()
    for k in (rsa_k, ec2_k):  # DER: big-endian numbers; JWK: base64url
        assert key_copies(bytes(data), k) and key_copies(red, k) == [], k
    body = open(ec_k).read().splitlines()[1].encode()  # PEM: the text
    assert body in data and body not in red and key_copies(red, ec_k) == []
    # the PEM keeps its armour lines, the JWK stays JSON with only "d" filled
    pem = blobs[1].splitlines()
    got = red[where[1]:where[1] + len(blobs[1])].splitlines()
    assert got[0] == pem[0] and got[-1] == pem[-1] and len(got) == 3
    assert set(got[1]) <= set(FILL)
    j = json.loads(red[where[2]:where[2] + len(jwk)])
    want = json.loads(jwk)
    assert {k: v for k, v in j.items() if k != "d"} == {k: v for k, v in want.items() if k != "d"}
    assert set(j["d"].encode()) <= set(FILL) and len(j["d"]) == len(want["d"])
    # every changed byte is in the memory range the keys were planted in
    assert all(mem["offset"] <= o < mem["offset"] + mem["size"]
               for o in changed_offsets(dump, out))
    assert dgtest.regions(dump)[1] == dgtest.regions(out)[1]
    no_secret_in_report(out, (rsa_k, ec_k, ec2_k))


def test_pem_text_forms_keep_their_armour(tmp_path):
    """PEM in ASCII, UTF-16LE, UTF-16BE, JSON-escaped and on one line, in a
    raw file: each body is overwritten, each BEGIN and END line stays."""
    k = keys.genpkey(tmp_path / "ec.pem", "p256")
    text = open(k).read()
    blobs = [text.encode(), keys.utf16le(text), keys.utf16be(text), keys.json_escaped(text),
             keys.one_line(text)]
    dump, offs = dgtest.plant(tmp_path, blobs)
    rc, findings, _, err = dgtest.scan(dump)
    assert rc == 1 and len(dgtest.placements(findings)) == len(blobs), (findings, err)
    out = tmp_path / "out.bin"
    r, recs = redact(dump, out)
    assert r.returncode == 0, r.stderr.decode()
    check_report_and_bytes(dump, out, recs)
    assert dgtest.scan(out)[1] == []
    red = out.read_bytes()
    lines = text.strip().splitlines()
    enc = [str.encode, keys.utf16le, keys.utf16be, str.encode, str.encode]
    for off, b, e in zip(offs, blobs, enc):
        got = red[off:off + len(b)]
        assert got.startswith(e(lines[0])) and e(lines[-1]) in got, got
        assert got != b


def test_numbers_found_across_block_edges(tmp_path):
    """A proven key's numbers as little-endian limbs, big-endian bytes and
    base64url, away from any finding and straddling the 1 MiB blocks the
    search reads: every copy is found and overwritten, nothing else is."""
    k = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    nums = dict(private_numbers(k))
    data = bytearray(os.urandom(3 << 20))
    der = keys.pkcs8_der(k)
    data[4096:4096 + len(der)] = der  # the finding that proves the key
    mib = 1 << 20
    planted = [(mib - 100, forms(nums["d"])["le"]), (2 * mib - 50, forms(nums["p"])["be"]),
               (2 * mib + 400, forms(nums["q"])["le"]),
               (2 * mib + 700, forms(nums["dq"])["b64url"]),
               (len(data) - 128, forms(nums["qinv"])["le"])]
    for off, b in planted:
        data[off:off + len(b)] = b
    dump = tmp_path / "limbs.bin"
    dump.write_bytes(bytes(data))
    out = tmp_path / "out.bin"
    r, recs = redact(dump, out)
    assert r.returncode == 0, r.stderr.decode()
    kr = check_report_and_bytes(dump, out, recs)
    spans = {(s["offset"], s["length"]) for x in kr for s in x["spans"]}
    for off, b in planted:
        assert (off, len(b)) in spans, (off, len(b), sorted(spans))
    assert key_copies(out.read_bytes(), k) == []
    assert all(o < 4096 + len(der) or any(p <= o < p + len(b) for p, b in planted)
               for o in changed_offsets(dump, out))


def test_rsa_d_modulo_phi_is_found_too(tmp_path):
    """The key file's d is e^-1 mod lcm(p-1, q-1); a process may hold
    e^-1 mod (p-1)(q-1) instead (older OpenSSL, Go, Java), and d with n
    factors n. Planted as limbs away from any finding, it goes too."""
    for _ in range(20):  # d mod phi equals d mod lcm when it is below lcm: try another key
        k = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
        n = serialization.load_pem_private_key(open(k, "rb").read(), None).private_numbers()
        d_phi = pow(n.public_numbers.e, -1, (n.p - 1) * (n.q - 1))
        if d_phi != n.d:
            break
    assert d_phi != n.d
    le = d_phi.to_bytes((d_phi.bit_length() + 7) // 8, "little")
    dump, offs = dgtest.plant(tmp_path, [keys.pkcs8_der(k), le])
    out = tmp_path / "out.bin"
    r, recs = redact(dump, out)
    assert r.returncode == 0, r.stderr.decode()
    kr = check_report_and_bytes(dump, out, recs)
    assert (offs[1], len(le), "rsa-d-phi le") in {(s["offset"], s["length"], s["source"])
                                                  for x in kr for s in x["spans"]}
    assert le in dump.read_bytes() and le not in out.read_bytes()


def test_refusals(tmp_path):
    """OUT == IN (the same path or a hard link), an existing OUT without
    --force, standard input and a broken apport report are refused with
    exit 2, and nothing is written."""
    src = dgtest.CORPUS / "breakpad" / "minidump2.dmp"
    if not src.exists():
        pytest.skip("no public corpus")
    dump = tmp_path / "d.dmp"
    dump.write_bytes(src.read_bytes())
    before = dump.read_bytes()
    for out in (dump, tmp_path / "link.dmp"):
        if out != dump:
            os.link(dump, out)
        r, _ = redact(dump, out, "--force")
        assert r.returncode == 2 and b"redact never writes its input" in r.stderr, r.stderr
        assert dump.read_bytes() == before
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep")
    r, _ = redact(dump, existing)
    assert r.returncode == 2 and b"exists (--force replaces it)" in r.stderr
    assert existing.read_bytes() == b"keep"
    r, _ = redact(dump, existing, "--force")
    assert r.returncode == 0 and existing.read_bytes() == before

    crash = tmp_path / "d.crash"  # an apport report whose CoreDump is cut short
    crash.write_bytes(b"ProblemType: Crash\nCoreDump: base64\n H4sICAAAAAAC/0NvcmVEdW1wAA==\n")
    out = tmp_path / "a.out"
    r, _ = redact(crash, out)
    assert r.returncode == 2
    assert b"nothing written" in r.stderr, r.stderr
    assert not out.exists() and not (tmp_path / "a.out.redact.jsonl").exists()
    p = dgtest.run("redact", "-", "-o", tmp_path / "s.out", input=before)
    assert p.returncode == 2 and b"not standard input" in p.stderr
    p = dgtest.run("redact", dump)
    assert p.returncode == 2 and b"-o OUT" in p.stderr


def test_clean_dump_copied_unchanged(tmp_path):
    src = dgtest.CORPUS / "breakpad" / "minidump2.dmp"
    if not src.exists():
        pytest.skip("no public corpus")
    out = tmp_path / "out.dmp"
    r, recs = redact(src, out)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()
    assert [x["record"] for x in recs] == ["redact-summary"]
    assert recs[0]["keys"] == 0 and recs[0]["bytes_changed"] == 0 and recs[0]["spans"] == 0


def test_fill_forms_no_key(tmp_path):
    """The fill where keys were, in the shapes that stay around it (PEM
    armour, a JWK's JSON, limbs in a buffer), is no finding of any detector
    or of the default rules."""
    fill = FILL * 200
    blob = (b"-----BEGIN PRIVATE KEY-----\n" + b"\n".join(fill[i:i + 64] for i in range(0, 1600, 64))
            + b"\n-----END PRIVATE KEY-----\n" +
            b'{"kty":"RSA","n":"' + fill[:342] + b'","e":"AQAB","d":"' + fill[:342] + b'"}' +
            b'{"kty":"EC","crv":"P-256","d":"' + fill[:43] + b'"}' + fill * 50)
    path = tmp_path / "fill.bin"
    path.write_bytes(blob)
    names = [line.split()[0] for line in dgtest.run("detectors").stdout.decode().splitlines()
             if line and not line[0].isspace()]
    rc, findings, _, err = dgtest.scan(path, "-d", ",".join(names), "--rules", "default",
                                       "--fail-on", "low")
    assert rc == 0 and findings == [], (findings, err)


STICKY = r"""
#include <string.h>
#include <dumpgate/plugin.h>
/* reports a high finding at offset 0 of every file, whatever its bytes */
static dg_err scan(void *c, const struct dg_chunk *ch, struct dg_sink *s)
{
    struct dg_finding f;
    (void)c;
    if (ch->off != 0)
        return DG_OK;
    memset(&f, 0, sizeof f);
    dg_strlcpyf(f.type, sizeof f.type, "sticky");
    f.status = DG_STATUS_CANDIDATE;
    f.severity = DG_SEV_HIGH;
    f.off = 0;
    f.len = 4;
    dg_report(s, &f);
    return DG_OK;
}
static const struct dg_detector d = {
    .abi = DG_DETECTOR_ABI, .name = "sticky", .summary = "always there", .max_span = 64,
    .severity = DG_SEV_HIGH, .scan = scan,
};
DG_PLUGIN_EXPORT const struct dg_detector *dg_detector_entry_v1(void) { return &d; }
"""


def plugin(tmp_path, name, source):
    """Builds a one-file detector plug-in against the source tree's headers."""
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    so = tmp_path / f"{name}.so"
    subprocess.run(["cc", "-std=c11", "-shared", "-fPIC", f"-I{dgtest.ROOT / 'include'}",
                    f"-I{dgtest.BUILD}", "-o", str(so), str(src)], check=True)
    return so


def test_copy_that_stays_dirty_is_not_written(tmp_path):
    """A detector that finds something whatever the bytes: every re-scan of
    the copy fails, so after the last round redact exits 2 and leaves no
    OUT, no report and no temporary file."""
    so = plugin(tmp_path, "sticky", STICKY)
    dump = tmp_path / "raw.bin"
    dump.write_bytes(os.urandom(8192))
    out = tmp_path / "out.bin"
    r, _ = redact(dump, out, "--plugin", so, "-d", "sticky")
    assert r.returncode == 2, r.stderr
    assert b"still finds" in r.stderr and b"not written" in r.stderr, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["raw.bin", "sticky.c", "sticky.so"]


SLOW = r"""
#include <unistd.h>
#include <dumpgate/plugin.h>
/* finds nothing; sleeps in the second scan of the process (the copy's) */
static dg_err scan(void *c, const struct dg_chunk *ch, struct dg_sink *s)
{
    static int scans;
    (void)c;
    (void)s;
    if (ch->off == 0 && ++scans == 2)
        sleep(60);
    return DG_OK;
}
static const struct dg_detector d = {
    .abi = DG_DETECTOR_ABI, .name = "slow", .summary = "sleeps", .max_span = 64, .scan = scan,
};
DG_PLUGIN_EXPORT const struct dg_detector *dg_detector_entry_v1(void) { return &d; }
"""


def test_signal_leaves_no_temporary_file(tmp_path, procs):
    """SIGTERM while the copy is being re-scanned: the temporary copy is
    removed, no OUT and no report appear."""
    so = plugin(tmp_path, "slow", SLOW)
    dump = tmp_path / "raw.bin"
    dump.write_bytes(os.urandom(8192))
    out = tmp_path / "out.bin"
    p = procs.start([dgtest.DUMPGATE, "redact", "--plugin", so, "-d", "slow", dump, "-o", out])
    deadline = time.time() + 30
    while time.time() < deadline and not [n for n in os.listdir(tmp_path)
                                          if n.startswith("out.bin.")
                                          and os.path.getsize(tmp_path / n) == 8192]:
        time.sleep(0.05)
    time.sleep(0.3)  # the copy written, its re-scan asleep in the plug-in
    assert p.poll() is None
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == -signal.SIGTERM
    assert sorted(os.listdir(tmp_path)) == ["raw.bin", "slow.c", "slow.so"]


CODECS = {"zstd": (["zstd", "-q", "-c"], ["zstd", "-q", "-d", "-c"]),
          "xz": (["xz", "-c"], ["xz", "-d", "-c"]),
          "gzip": (["gzip", "-c"], ["gzip", "-d", "-c"]),
          "bzip2": (["bzip2", "-c"], ["bzip2", "-d", "-c"]),
          "lz4": (["lz4", "-q", "-c"], ["lz4", "-q", "-d", "-c"])}


@pytest.mark.parametrize("codec", list(CODECS))
def test_compressed_core_redacted_in_its_compression(tmp_path, procs, codec):
    """A compressed core is redacted into the same compression: the tool's
    own decompressor restores exactly the bytes that redacting the plain
    core gives, and the compressed copy scans clean as it is."""
    if shutil.which(CODECS[codec][0][0]) is None:
        pytest.skip(f"no {codec} tool")
    k = keys.genpkey(tmp_path / "k.pem", "rsa2048")
    p = procs.start([dgtest.HOLDKEY, k], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    plain_out = tmp_path / "plain.out"
    r, _ = redact(core, plain_out)
    assert r.returncode == 0, r.stderr
    packed = tmp_path / f"core.{codec}"
    packed.write_bytes(subprocess.run([*CODECS[codec][0], str(core)], check=True,
                                      capture_output=True).stdout)
    out = tmp_path / f"out.{codec}"
    r, recs = redact(packed, out)
    assert r.returncode == 0, r.stderr
    magic = {"zstd": 4, "xz": 6, "gzip": 2, "bzip2": 3, "lz4": 4}[codec]
    assert open(out, "rb").read(magic) == packed.read_bytes()[:magic]  # the same format
    restored = subprocess.run([*CODECS[codec][1], str(out)], check=True,
                              capture_output=True).stdout
    assert restored == plain_out.read_bytes()
    rc, findings, _, _ = dgtest.scan(out)
    assert rc == 0 and dgtest.spki_sha256(k) not in {f["key"].get("spki_sha256")
                                                     for f in findings}
    assert recs and recs[-1]["record"] == "redact-summary" and recs[-1]["verified"]
    assert not [n for n in os.listdir(tmp_path) if "XXXX" in n or ".plain." in n]


def test_apport_report_stays_a_report(tmp_path, procs):
    """An apport .crash report is redacted into a .crash report: every other
    field byte for byte, the CoreDump value as apport writes it (one base64
    piece of a gzip stream per line), decoding to exactly the plain
    redaction of the core; the report scans clean."""
    import base64
    import gzip as gz
    from test_compressed import apport_report
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    p = procs.start([dgtest.HOLDKEY, k], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    plain_out = tmp_path / "plain.out"
    assert redact(core, plain_out)[0].returncode == 0
    crash = apport_report(core, tmp_path / "_usr_bin_holdkey.0.crash")
    with open(crash, "ab") as f:
        f.write(b"Title: holdkey crashed with SIGSEGV\nUname: Linux 6.1.0 x86_64\n")
    out = tmp_path / "out.crash"
    r, recs = redact(crash, out)
    assert r.returncode == 0, r.stderr
    def split(path):
        """(the report's lines without the CoreDump value, the value's lines)"""
        rest, value, inside = [], [], False
        for x in open(path, "rb").read().split(b"\n"):
            if inside and x.startswith(b" "):
                value.append(x)
                continue
            inside = x == b"CoreDump: base64"
            rest.append(x)
        return rest, value
    rest_in, _ = split(crash)
    rest_out, value = split(out)
    assert rest_in == rest_out  # every other field byte for byte, in order
    pieces = [base64.b64decode(x[1:]) for x in value]
    assert gz.decompress(b"".join(pieces)) == plain_out.read_bytes()
    rc, findings, _, _ = dgtest.scan(out)
    assert rc == 0 and dgtest.spki_sha256(k) not in {f["key"].get("spki_sha256")
                                                     for f in findings}
