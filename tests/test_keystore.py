# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_keystore.py - the keystore detector on key stores planted in raw bytes
# at odd offsets (65 random bytes first, random filler between): PKCS#12 made
# by `openssl pkcs12 -export` (empty password, unknown password with the
# certificate in clear or encrypted, key bag in clear, legacy PBE) and by
# keytool, JKS and JCEKS made by keytool, PuTTY PPK v2 and v3 made by
# puttygen (RSA, Ed25519, ECDSA; unencrypted and encrypted), passwords given
# with --p12-pass / --option, stores across chunk edges, bait that must stay
# silent, and a real JVM that loads a PKCS#12 key store, under gcore.
import os
import subprocess

import pytest

import dgtest
import keys
from conftest import gcore

PREFIX = dgtest.PLANT_PREFIX
JAVA_DIR = dgtest.ROOT / "tests" / "java"


def plant(tmp_path, blobs, name="dump.bin", gap=3001):
    return dgtest.plant(tmp_path, blobs, name, gap)


def ks_scan(path, *args):
    return dgtest.scan(path, "--detectors", "keystore", *args)


def run(*argv, **kw):
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, **kw).stdout


def has_option(name):
    p = dgtest.run("scan", "--help")
    return name in (p.stdout + p.stderr).decode(errors="replace")


needs_option = pytest.mark.skipif(not has_option("--option"),
                                  reason="dumpgate scan has no --option NAME=VALUE yet")

# --- PKCS#12 made by openssl ---------------------------------------------------

P12_ALGS = ["rsa2048", "p256", "ed25519"]
TYPE = {"rsa2048": "rsa-private-key", "p256": "ec-private-key", "ed25519": "ed25519-private-key"}


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    """alg -> (key file, certificate file, spki_sha256)."""
    d = tmp_path_factory.mktemp("ksmat")
    out = {}
    for alg in P12_ALGS:
        k = keys.genpkey(d / f"{alg}.pem", alg)
        c = keys.self_signed(k, d / f"{alg}.crt")
        out[alg] = (k, c, dgtest.spki_sha256(k))
    return out


def pkcs12(tmp_path, key, cert, password, *extra, name="dumpgate test"):
    out = tmp_path / f"s{len(list(tmp_path.iterdir()))}.p12"
    args = ["openssl", "pkcs12", "-export", "-passout", "pass:" + password, "-out", out]
    if key is not None:
        args += ["-inkey", key]
    else:
        args += ["-nokeys"]
    if name is not None:
        args += ["-name", name]
    run(*args, "-in", cert, *extra)
    return out.read_bytes()


# (case, password, extra openssl args) -> expected (status, severity, spki known, note words)
P12_CASES = {
    "empty-password": ("", [], ("confirmed", "high", True, ["empty password", '"dumpgate test"'])),
    "password-cert-in-clear": ("pw", ["-certpbe", "NONE"],
                               ("candidate", "high", True,
                                ["MAC hmacWithSHA256", "PBES2 AES-256-CBC", "password unknown"])),
    "password-cert-encrypted": ("pw", [], ("candidate", "high", False,
                                           ["MAC hmacWithSHA256", "PBES2 AES-256-CBC"])),
    "keybag-in-clear": ("pw", ["-keypbe", "NONE", "-certpbe", "NONE"],
                        ("confirmed", "high", True, ["keyBag in clear"])),
    "legacy-3des": ("pw", ["-legacy"], ("candidate", "high", False,
                                        ["MAC hmacWithSHA1", "pbeWithSHA1And3-KeyTripleDES-CBC"])),
}


@pytest.mark.parametrize("case", list(P12_CASES))
@pytest.mark.parametrize("alg", P12_ALGS)
def test_pkcs12_table(tmp_path, material, alg, case):
    """One store per scan: copies of one key would be grouped into one finding."""
    key, cert, spki = material[alg]
    pw, extra, (status, sev, named, words) = P12_CASES[case]
    blob = pkcs12(tmp_path, key, cert, pw, *extra)
    path, offs = plant(tmp_path, [blob])
    rc, findings, _, err = ks_scan(path)
    assert [f["offset"] for f in findings] == offs, (findings, err)
    f = findings[0]
    assert f["detector"] == "keystore" and f["encoding"] == "pkcs12"
    assert f["length"] == len(blob)
    assert (f["status"], f["severity"]) == (status, sev), f
    assert f["type"] == (TYPE[alg] if status == "confirmed" else "encrypted-private-key")
    assert f["key"]["spki_sha256"] == (spki if named else None), f
    for w in words:
        assert w in f["note"], f["note"]
    assert "pw" not in f["note"], f["note"]  # the password is never shown
    assert rc == 1


def test_pkcs12_friendly_name_printable_only(tmp_path, material):
    key, cert, spki = material["rsa2048"]
    blob = pkcs12(tmp_path, key, cert, "", name="cl\u00e9 \u2603\u0007x")
    path, offs = plant(tmp_path, [blob])
    rc, findings, _, err = ks_scan(path)
    assert len(findings) == 1, (findings, err)
    note = findings[0]["note"]
    assert 'friendly name "cl' in note and all(0x20 <= ord(ch) < 0x7f for ch in note), note


def test_pkcs12_given_password_opens_it(tmp_path, material):
    blobs, spkis = [], []
    for alg in P12_ALGS:
        key, cert, spki = material[alg]
        blobs.append(pkcs12(tmp_path, key, cert, "pw", name=alg))
        spkis.append(spki)
    path, offs = plant(tmp_path, blobs)
    passfile = tmp_path / "p12.pass"
    passfile.write_text("pw\n")
    for args in (["--p12-pass", "pw"], ["--option", "p12-pass=pw"],
                 ["--p12-pass-file", str(passfile)]):
        if not has_option(args[0]):
            continue
        rc, findings, _, err = ks_scan(path, *args)
        got = [(f["offset"], f["status"], f["severity"], f["key"]["spki_sha256"]) for f in findings]
        assert got == [(o, "confirmed", "high", s) for o, s in zip(offs, spkis)], (args, findings, err)
        assert all("p12-pass" in f["note"] for f in findings)
    # A wrong password leaves them candidates, and says it was tried.
    if has_option("--p12-pass"):
        rc, findings, _, err = ks_scan(path, "--p12-pass", "nope")
        assert [f["status"] for f in findings] == ["candidate"] * 3, findings
        assert all("not p12-pass" in f["note"] for f in findings)


def test_pkcs12_back_to_back(tmp_path, material):
    """Two PFX with no byte between them (one made by the cryptography package,
    without a friendly name) are two findings, each named by its own key."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import (NoEncryption, load_pem_private_key,
                                                              pkcs12 as p12)
    key, cert, _ = material["rsa2048"]
    k = load_pem_private_key(open(key, "rb").read(), None)
    c = x509.load_pem_x509_certificate(open(cert, "rb").read())
    first = p12.serialize_key_and_certificates(None, k, c, None, NoEncryption())
    key2, cert2, _ = material["p256"]
    second = pkcs12(tmp_path, key2, cert2, "")
    path, offs = plant(tmp_path, [first + second], gap=0)
    rc, findings, _, err = ks_scan(path)
    assert [(f["offset"], f["status"], f["key"]["spki_sha256"]) for f in findings] == \
        [(offs[0], "confirmed", material["rsa2048"][2]),
         (offs[0] + len(first), "confirmed", material["p256"][2])], (findings, err)
    assert "friendly name" not in findings[0]["note"]


# --- keytool: JKS, JCEKS, PKCS12 ---------------------------------------------------

KT_ALGS = {"RSA": ["-keysize", "2048"], "EC": ["-groupname", "secp256r1"], "Ed25519": []}


def keytool(*args):
    # A quick-starting JVM: keytool runs a dozen times per module.
    return run("keytool", "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", *args,
               "-storepass", "changeit")


def cert_spki(store, alias, storetype):
    pem = keytool("-exportcert", "-rfc", "-alias", alias, "-keystore", store, "-storetype", storetype)
    pub = run("openssl", "x509", "-pubkey", "-noout", input=pem)
    der = run("openssl", "pkey", "-pubin", "-outform", "DER", input=pub)
    import hashlib
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def javastores(tmp_path_factory):
    """(storetype, alg) -> (store bytes, alias, spki_sha256); plus trust-only JKS."""
    d = tmp_path_factory.mktemp("javastores")
    out = {}
    for st in ("JKS", "JCEKS"):
        for alg, extra in KT_ALGS.items():
            if st == "JCEKS" and alg == "Ed25519":
                continue
            store = d / f"{alg}.{st.lower()}"
            alias = f"srv-{alg.lower()}"
            keytool("-genkeypair", "-keyalg", alg, *extra, "-alias", alias, "-dname", "CN=dumpgate",
                    "-validity", "2", "-keypass", "changeit", "-storetype", st, "-keystore", store)
            out[(st, alg)] = (store.read_bytes(), alias, cert_spki(store, alias, st))
    for certprot in ("default", "NONE"):
        store = d / f"rsa-{certprot}.p12"
        opts = [] if certprot == "default" else ["-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE"]
        keytool("-genkeypair", "-keyalg", "RSA", "-keysize", "2048", "-alias", "p12", "-dname",
                "CN=dumpgate", "-validity", "2", "-storetype", "PKCS12", "-keystore", store, *opts)
        out[("PKCS12", certprot)] = (store.read_bytes(), "p12", cert_spki(store, "p12", "PKCS12"))
    # JCEKS with secret-key entries (Java-serialized, no length) around a key pair.
    mixed = d / "mixed.jceks"
    for alias in ("aes-1", "aes-2"):
        keytool("-genseckey", "-keyalg", "AES", "-keysize", "128", "-alias", alias, "-keypass",
                "changeit", "-storetype", "JCEKS", "-keystore", mixed)
    keytool("-genkeypair", "-keyalg", "EC", "-groupname", "secp256r1", "-alias", "pair", "-dname",
            "CN=dumpgate", "-validity", "2", "-keypass", "changeit", "-storetype", "JCEKS",
            "-keystore", mixed)
    out["mixed"] = (mixed.read_bytes(), "pair", cert_spki(mixed, "pair", "JCEKS"))
    # Trusted certificates only.
    crt = d / "ca.crt"
    crt.write_bytes(keytool("-exportcert", "-rfc", "-alias", "srv-rsa", "-keystore",
                            d / "RSA.jks", "-storetype", "JKS"))
    trust = d / "trust.jks"
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", crt, "-storetype", "JKS",
            "-keystore", trust)
    out["trust"] = (trust.read_bytes(), "ca", None)
    return out


def test_jks_and_jceks_entries_are_named(tmp_path, javastores):
    cases = [k for k in javastores if isinstance(k, tuple) and k[0] in ("JKS", "JCEKS")]
    blobs = [javastores[k][0] for k in cases]
    path, offs = plant(tmp_path, blobs)
    rc, findings, _, err = ks_scan(path)
    assert len(findings) == len(cases), (findings, err)
    for f, off, k in zip(findings, offs, cases):
        blob, alias, spki = javastores[k]
        # The entry starts after magic, version and count.
        assert f["offset"] == off + 12, (k, f)
        assert off + 12 + f["length"] <= off + len(blob)
        assert (f["type"], f["status"], f["severity"]) == \
            ("encrypted-private-key", "candidate", "high"), (k, f)
        assert f["encoding"] == k[0].lower()
        assert f["key"]["spki_sha256"] == spki, k
        assert f'"{alias}"' in f["note"], f["note"]
        protector = "Sun KeyProtector" if k[0] == "JKS" else "PBEWithMD5AndTripleDES"
        assert protector in f["note"] and "password unknown" in f["note"], f["note"]
    assert rc == 1


def test_jceks_secret_key_entries_are_stepped_over(tmp_path, javastores):
    """Secret-key entries have no recorded length; the private-key entry after
    them is still found (keytool writes the entries in hash order, so the key
    pair may come first or after them)."""
    blob, alias, spki = javastores["mixed"]
    path, offs = plant(tmp_path, [blob])
    rc, findings, _, err = ks_scan(path)
    assert [(f["encoding"], f["status"], f["key"]["spki_sha256"]) for f in findings] == \
        [("jceks", "candidate", spki)], (findings, err)
    assert f'"{alias}"' in findings[0]["note"]
    if has_option("--option"):
        rc, findings, _, err = ks_scan(path, "--option", "jks-pass=changeit")
        assert [(f["status"], f["key"]["spki_sha256"]) for f in findings] == [("confirmed", spki)]


@needs_option
def test_jks_password_recovers_the_key(tmp_path, javastores):
    """JKS (Sun KeyProtector, SHA-1) and JCEKS (PBEWithMD5AndTripleDES) keys
    are recovered with the key password given as jks-pass, and proven."""
    cases = [k for k in javastores if isinstance(k, tuple) and k[0] in ("JKS", "JCEKS")]
    path, offs = plant(tmp_path, [javastores[k][0] for k in cases])
    rc, findings, _, err = ks_scan(path, "--option", "jks-pass=changeit")
    got = [(f["offset"], f["status"], f["severity"], f["key"]["spki_sha256"]) for f in findings]
    assert got == [(o + 12, "confirmed", "high", javastores[k][2]) for o, k in zip(offs, cases)], \
        (findings, err)
    types = {"RSA": "rsa-private-key", "EC": "ec-private-key", "Ed25519": "ed25519-private-key"}
    assert [f["type"] for f in findings] == [types[k[1]] for k in cases]
    assert all("opened with the jks-pass password" in f["note"] for f in findings)
    rc, findings, _, err = ks_scan(path, "--option", "jks-pass=wrong")
    assert [f["status"] for f in findings] == ["candidate"] * len(cases)
    assert all("not jks-pass" in f["note"] for f in findings)


def test_keytool_pkcs12(tmp_path, javastores):
    """keytool's PKCS#12 (JDK 17: PBES2 AES-256 keys and certificates, MAC
    HmacPBESHA256): a candidate, named when the certificates are in clear."""
    enc, _, spki = javastores[("PKCS12", "default")]
    clear, _, spki2 = javastores[("PKCS12", "NONE")]
    path, offs = plant(tmp_path, [enc, clear])
    rc, findings, _, err = ks_scan(path)
    got = [(f["offset"], f["status"], f["key"]["spki_sha256"]) for f in findings]
    assert got == [(offs[0], "candidate", None), (offs[1], "candidate", spki2)], (findings, err)
    assert all('friendly name "p12"' in f["note"] for f in findings)
    if has_option("--p12-pass"):
        rc, findings, _, err = ks_scan(path, "--p12-pass", "changeit")
        got = [(f["offset"], f["status"], f["key"]["spki_sha256"]) for f in findings]
        assert got == [(offs[0], "confirmed", spki), (offs[1], "confirmed", spki2)], (findings, err)


# --- PuTTY PPK -------------------------------------------------------------------

PPK_TYPES = {"ed25519": (["-t", "ed25519"], "ed25519-private-key"),
             "rsa": (["-t", "rsa", "-b", "2048"], "rsa-private-key"),
             "ecdsa256": (["-t", "ecdsa", "-b", "256"], "ec-private-key"),
             "ecdsa384": (["-t", "ecdsa", "-b", "384"], "ec-private-key")}


def puttygen(tmp_path, name, kind, version, passphrase):
    pf = tmp_path / f"{name}.pass"
    pf.write_text(passphrase + "\n" if passphrase else "")
    out = tmp_path / f"{name}.ppk"
    run("puttygen", *PPK_TYPES[kind][0], "-o", out, "--new-passphrase", pf if passphrase else "/dev/null",
        "--ppk-param", f"version={version}", stdin=subprocess.DEVNULL)
    pub = tmp_path / f"{name}.pub"
    run("puttygen", out, "-O", "public-openssh", "-o", pub, stdin=subprocess.DEVNULL)
    return out.read_bytes(), keys.ssh_pub_spki_sha256(pub)


@pytest.mark.parametrize("version", [2, 3])
def test_ppk_table(tmp_path, version):
    cases, blobs = [], []
    for kind in PPK_TYPES:
        for enc in (False, True):
            blob, spki = puttygen(tmp_path, f"{kind}-{enc}", kind, version, "pw" if enc else "")
            cases.append((kind, enc, spki, blob))
            blobs.append(blob)
    path, offs = plant(tmp_path, blobs)
    rc, findings, _, err = ks_scan(path)
    assert [f["offset"] for f in findings] == offs, (findings, err)
    for f, (kind, enc, spki, blob) in zip(findings, cases):
        assert f["encoding"] == f"ppk-v{version}" and f["text"] == "ascii"
        assert f["length"] == len(blob), (kind, enc)
        assert f["key"]["spki_sha256"] == spki, (kind, enc, f)
        if enc:
            assert (f["type"], f["status"], f["severity"]) == \
                ("encrypted-private-key", "candidate", "high"), f
            assert "aes256-cbc" in f["note"]
            assert ("Argon2id (memory" in f["note"]) if version == 3 else ("SHA-1" in f["note"]), \
                f["note"]
        else:
            assert (f["type"], f["status"], f["severity"]) == \
                (PPK_TYPES[kind][1], "confirmed", "high"), f
            assert f["proof"]
    assert rc == 1


def test_ppk_with_crlf_line_ends(tmp_path):
    blob, spki = puttygen(tmp_path, "crlf", "ed25519", 3, "")
    blob = blob.replace(b"\n", b"\r\n")
    path, offs = plant(tmp_path, [blob])
    rc, findings, _, err = ks_scan(path)
    assert [(f["offset"], f["length"], f["status"], f["key"]["spki_sha256"]) for f in findings] == \
        [(offs[0], len(blob), "confirmed", spki)], (findings, err)


# --- chunk edges, bait -----------------------------------------------------------

@pytest.mark.parametrize("jobs", ["1", "2"])
def test_stores_across_chunk_edges_found_once(tmp_path, material, javastores, jobs):
    key, cert, spki = material["p256"]
    p12 = pkcs12(tmp_path, key, cert, "")
    jks, _, jspki = javastores[("JKS", "EC")]
    ppk, pspki = puttygen(tmp_path, "edge", "ed25519", 3, "")
    chunk = 65536
    data = bytearray(os.urandom(chunk * 8))
    plan = [(chunk - 3, p12), (2 * chunk - 1, p12), (3 * chunk, p12), (4 * chunk - 700, jks),
            (5 * chunk - 2, jks), (6 * chunk - 10, ppk), (7 * chunk + 1, ppk)]
    for s, b in plan:
        data[s:s + len(b)] = b
    p = tmp_path / "edges.bin"
    p.write_bytes(bytes(data))
    rc, findings, _, err = ks_scan(p, "--chunk-size", str(chunk), "-j", jobs)
    want = [s + (12 if b is jks else 0) for s, b in plan]
    # Copies of one key are grouped: every planted store is one location, once.
    assert sorted(loc["offset"] for f in findings for loc in f["locations"]) == want, (findings, err)
    assert sorted(f["key"]["spki_sha256"] for f in findings) == sorted([spki, jspki, pspki])
    assert all(f["status"] == "confirmed" or f["encoding"] == "jks" for f in findings), findings


def test_bait_is_silent(tmp_path, material, javastores):
    key, cert, spki = material["rsa2048"]
    certs_only = pkcs12(tmp_path, None, cert, "")
    trust = javastores["trust"][0]
    ppk, _ = puttygen(tmp_path, "bait", "ed25519", 3, "")
    p12 = pkcs12(tmp_path, key, cert, "")
    bait = [
        trust,                                                      # trusted certificates only
        certs_only,                                                 # PFX without a key
        b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + os.urandom(4000),     # JKS magic, then noise
        b"\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x01" + os.urandom(4000),
        b"\xce\xce\xce\xce\x00\x00\x00\x02" + os.urandom(4000),
        b"\xce" * 4096,
        b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",  # header alone (a string in putty)
        ppk[:ppk.index(b"Private-Lines")],                         # truncated before the private part
        p12[:7] + os.urandom(len(p12) - 7),                         # a PFX header over noise
        b"\x02\x01\x03" * 2000,
        b"PuTTY-User-Key-File-" * 200,
    ]
    path, _ = plant(tmp_path, bait)
    rc, findings, _, err = ks_scan(path)
    assert findings == [], findings
    assert rc == 0


def test_damaged_stores_do_not_crash(tmp_path, material, javastores):
    """Truncated stores and stores with flipped bytes are scanned without a
    crash (sanitizer builds say so on stderr) and never confirm a wrong key."""
    import random
    rnd = random.Random(4)
    key, cert, spki = material["p256"]
    ppk, pspki = puttygen(tmp_path, "dmg", "rsa", 3, "")
    sources = [pkcs12(tmp_path, key, cert, ""), pkcs12(tmp_path, key, cert, "pw", "-certpbe", "NONE"),
               javastores[("JKS", "RSA")][0], javastores[("JCEKS", "EC")][0], ppk]
    blobs = []
    for src in sources:
        for i in range(40):
            b = bytearray(src)
            if i % 2:
                b = b[:rnd.randrange(8, len(b))]
            for _ in range(rnd.randrange(1, 6)):
                b[rnd.randrange(8, len(b))] = rnd.randrange(256)
            blobs.append(bytes(b))
    path, _ = plant(tmp_path, blobs, gap=97)
    rc, findings, _, err = ks_scan(path)
    assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
    assert rc in (0, 1), err[-2000:]
    known = {spki, pspki} | {v[2] for v in javastores.values() if v[2]}
    for f in findings:
        assert f["status"] == "candidate" or f["key"]["spki_sha256"] in known, f


def test_random_and_zero_data_is_silent(tmp_path):
    p = tmp_path / "noise.bin"
    p.write_bytes(os.urandom(4 << 20) + bytes(1 << 20))
    rc, findings, _, err = ks_scan(p)
    assert findings == [] and rc == 0, findings


# --- a real JVM ------------------------------------------------------------------

def test_jvm_holding_a_pkcs12_key(tmp_path, procs):
    """A JVM loads a PKCS#12 key store with KeyStore.getInstance("PKCS12"),
    reads the private key and signs once; its core holds the key, proven by
    some detector and named by the key's fingerprint."""
    key = keys.genpkey(tmp_path / "jvm.pem", "rsa2048")
    cert = keys.self_signed(key, tmp_path / "jvm.crt")
    store = tmp_path / "jvm.p12"
    run("openssl", "pkcs12", "-export", "-inkey", key, "-in", cert, "-name", "jvm",
        "-passout", "pass:changeit", "-out", store)
    classes = tmp_path / "classes"
    classes.mkdir()
    run("javac", "-d", classes, JAVA_DIR / "HoldP12.java")
    # Small heap, no class-space reservation, few malloc arenas: a core of ~200 MB.
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    p = procs.start(["java", "-Xmx32m", "-Xms8m", "-XX:+UseSerialGC", "-XX:ReservedCodeCacheSize=8m",
                     "-XX:TieredStopAtLevel=1", "-XX:-UseCompressedClassPointers", "-Xshare:off",
                     "-Xss512k", "-cp", classes, "HoldP12", store, "changeit", "jvm"],
                    ready="ready", timeout=60, env=env)
    # Anonymous private memory and ELF headers only: no mapped files (lib/modules is 128 MB).
    with open(f"/proc/{p.pid}/coredump_filter", "w") as fh:
        fh.write("0x11")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    try:
        rc, findings, summaries, err = dgtest.scan(core)
        spki = dgtest.spki_sha256(key)
        confirmed = [f for f in findings if f["status"] == "confirmed"
                     and f["key"]["spki_sha256"] == spki]
        assert confirmed, (findings, err)
        assert summaries[0]["format"] == "elf-core"
        # The key store's own bytes, if still in the heap, are named without the password.
        p12s = [f for f in findings if f["detector"] == "keystore"]
        assert all(f["status"] == "candidate" for f in p12s), p12s
        assert rc == 1
    finally:
        os.unlink(core)


def test_p12_pass_file_keeps_the_password_out_of_argv(tmp_path, material):
    """--p12-pass-file: the password is in no process's command line, not
    the handler's nor its scans' (they get the file's name); a missing file
    is an error naming it."""
    import glob
    import json
    import subprocess
    key, cert, spki = material["p256"]
    path, _ = plant(tmp_path, [pkcs12(tmp_path, key, cert, "s3cret-pw")])
    passfile = tmp_path / "pass"
    passfile.write_text("s3cret-pw\n")
    spool = tmp_path / "spool"
    # a scanner that records its own argv, then scans
    log = tmp_path / "argv.log"
    wrapper = tmp_path / "scanner"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {dgtest.DUMPGATE} "$@"\n')
    wrapper.chmod(0o755)
    p = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                        "--scanner", str(wrapper), "--p12-pass-file", str(passfile), "--",
                        "77", "0", "11", "1763800000", "p12"],
                       input=path.read_bytes(), capture_output=True, timeout=300)
    assert p.returncode == 1, p.stderr
    assert "s3cret-pw" not in log.read_text() and str(passfile) in log.read_text()
    v = json.load(open(glob.glob(str(spool / "quarantine" / "*.json"))[0]))
    assert any(f["key"]["spki_sha256"] == spki and f["status"] == "confirmed"
               for f in v["findings"]), v["findings"]
    assert v["scan_options"] == ["--p12-pass-file", str(passfile)]
    r = dgtest.run("scan", "--p12-pass-file", tmp_path / "missing", path)
    assert r.returncode == 2 and b"--p12-pass-file" in r.stderr and b"missing" in r.stderr
