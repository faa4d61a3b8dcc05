# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_verdict_processes.py - the verdict (role and severity) of every
# finding in cores of real processes, scanned with the DEFAULT options (no
# --fail-on: the default is high).
#
# A. Processes that hold no long-term key of their own (TLS clients of a local
#    `openssl s_server`, and a program that only draws random bytes): the
#    scan exits 0, no finding that is not allowed is high or long-term, the
#    OpenSSL-based ones show their CTR-DRBG keys as rng-state, and an X25519
#    key share of a TLS client is ephemeral or key-agreement, never high.
# B. Processes that hold a server's or a user's key (nginx master and worker,
#    s_server, holdkey, ssh-agent, gpg-agent, a JVM, Python, node): exit 1, every key
#    confirmed high, long-term, named by the spki_sha256 openssl gives.
# C. A synthetic dump with PEM keys (and an encrypted one): a long-term key
#    is never below high, and the SARIF output carries the role.
#
# Every process is started by the `procs` fixture and stopped by its PID; its
# core is taken with gdb's gcore at test time. A missing tool fails the test
# (tests/deps.sh installs every one of them).
import json
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import time

import pytest

import dgtest
import keys
from conftest import gcore, go_build
from test_sshagent import short_dir

ROLES = {"long-term", "key-agreement", "ephemeral", "session", "rng-state", "symmetric"}
JAVA_DIR = dgtest.ROOT / "tests" / "java"
PYTHON = "/usr/bin/python3"  # Debian's, with python3-cryptography (tests/deps.sh)
SCAN_TIMEOUT = 120  # seconds for one scan of one core


def _plain_subject(name):
    """A fixture program of a plain (not sanitizer) build: DUMPGATE_<NAME> if
    set; else beside the plain holdkey that a sanitizer run names in
    DUMPGATE_HOLDKEY (BUILD/tests/holdkey -> BUILD/fixtures/NAME); else in
    this build (ASan's shadow would make a terabyte core)."""
    env = os.environ.get("DUMPGATE_" + name.upper())
    if env:
        return pathlib.Path(env)
    if os.environ.get("DUMPGATE_HOLDKEY"):
        return pathlib.Path(os.environ["DUMPGATE_HOLDKEY"]).resolve().parent.parent / "fixtures" / name
    return dgtest.BUILD / "fixtures" / name


RANDBYTES = _plain_subject("randbytes")

# tool -> the Debian package tests/deps.sh installs it from
PACKAGES = {"gcore": "gdb", "openssl": "openssl", "curl": "curl", "gnutls-cli": "gnutls-bin",
            "nginx": "nginx", "node": "nodejs", "java": "default-jdk-headless",
            "javac": "default-jdk-headless", "ssh-agent": "openssh-client",
            "ssh-add": "openssh-client", "ssh-keygen": "openssh-client", "gpg": "gnupg",
            "gpg-agent": "gnupg"}


def need(*tools):
    """Fails (never skips) when a tool is missing."""
    for t in tools:
        if shutil.which(t) is None and not os.path.exists(t):
            pytest.fail(f"{t} is missing: tests/deps.sh installs it (Debian package "
                        f"{PACKAGES.get(t, '?')})")


# ---- processes --------------------------------------------------------------

def wait_output(p, ready, timeout):
    """Reads p's stdout (never blocking past the deadline) into p.seen until
    it holds `ready`; returns p.seen. Fails the test on timeout or when the
    process ends first."""
    fd = p.stdout.fileno()
    deadline = time.time() + timeout
    while ready.encode() not in p.seen:
        left = deadline - time.time()
        if left <= 0:
            pytest.fail(f"{p.args[0]}: no {ready!r} within {timeout} s: "
                        f"{bytes(p.seen)[-2000:].decode(errors='replace')}")
        r, _, _ = select.select([fd], [], [], min(left, 0.5))
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"{p.args[0]} ended (status {p.wait(timeout=5)}) before {ready!r}: "
                            f"{bytes(p.seen)[-2000:].decode(errors='replace')}")
            p.seen += chunk
    return bytes(p.seen)


def start(procs, argv, ready=None, timeout=20, stdin=subprocess.DEVNULL, **kw):
    """Like procs.start (the process is stopped by its PID at teardown), with
    a bounded wait for `ready` and an optional stdin pipe kept open."""
    p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=stdin, **kw)
    procs.procs.append(p)
    p.seen = bytearray()
    if ready is not None:
        wait_output(p, ready, timeout)
    return p


def tls_server(procs, tmp_path, port, *mode, cwd=None):
    """openssl s_server on 127.0.0.1:port with a fresh self-signed RSA-2048
    certificate; mode is -www (a status page per GET) or -WWW (files from cwd)."""
    key = keys.genpkey(tmp_path / "server.pem", "rsa2048")
    cert = keys.self_signed(key, tmp_path / "server.crt")
    p = start(procs, ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-key", key,
                      "-cert", cert, *mode], ready="ACCEPT", cwd=cwd)
    return p, key


def take_core(procs, p, tmp_path, name="core"):
    """gcore of a live process, then the process is stopped by its PID."""
    assert p.poll() is None, f"{p.args[0]} ended before its core was taken"
    core = gcore(p.pid, tmp_path / name)
    procs.stop(p)
    if p.stdin:
        p.stdin.close()
    return core


def anon_only(pid):
    """Anonymous private memory and ELF headers only in a core: the
    runtime's mapped files (JDK modules, node's binary) are no one's secret."""
    with open(f"/proc/{pid}/coredump_filter", "w") as fh:
        fh.write("0x11")


# ---- verdicts ---------------------------------------------------------------

def verdicts(findings):
    """(type, role, severity, reason) of every finding, allowed ones marked."""
    return [(f["type"], f["role"], f["severity"], f["reason"]) + (("allowed",) if f["allowed"] else ())
            for f in findings]


def scan_default(core):
    """Scan with the default options only; the core is deleted afterwards."""
    try:
        rc, findings, summ, err = dgtest.scan(core, timeout=SCAN_TIMEOUT)
    finally:
        os.unlink(core)
    assert summ and summ[0]["format"] == "elf-core", err[-2000:]
    return rc, findings, err


def check_clean(what, core, drbg, x25519=False):
    """A clean process: exit 0, nothing high or long-term unless allowed; the
    OpenSSL-based ones (drbg) show a CTR-DRBG key as rng-state. Every problem
    is collected, so one run says all that is wrong."""
    rc, findings, err = scan_default(core)
    v = verdicts(findings)
    print(f"{what}: {v}")
    problems = []
    high = [f for f in findings if f["severity"] == "high" and not f["allowed"]]
    if high:
        problems.append(f"high findings not allowed: {verdicts(high)}")
    # a weak signal (armor OpenSSL cannot decode: gnutls-cli's GOST benchmark
    # key) is reported low whatever its role, and says so in its reason
    lt = [f for f in findings if f["role"] == "long-term" and not f["allowed"] and
          not (f["severity"] == "low" and "weak evidence" in (f["reason"] or ""))]
    if lt:
        problems.append(f"long-term findings not allowed: {verdicts(lt)}")
    bad = [f for f in findings if f["role"] not in ROLES]
    if bad:
        problems.append(f"findings without a known role: {verdicts(bad)}")
    if drbg and not any(f["role"] == "rng-state" and "DRBG" in (f["reason"] or "")
                        for f in findings):
        problems.append("no rng-state finding whose reason names the DRBG")
    if x25519:
        xs = [f for f in findings if f["type"] == "x25519-private-key"
              and f["role"] not in ("ephemeral", "key-agreement")]
        if xs:
            problems.append(f"x25519 keys neither ephemeral nor key-agreement: {verdicts(xs)}")
    if rc != 0:
        problems.append(f"exit status {rc}, not 0")
    assert not problems, f"{what}: {'; '.join(problems)}\n  findings (type, role, severity, " \
                         f"reason): {v}\n  stderr: {err[-1000:]}"
    return findings


def check_blocking(what, core, spkis):
    """Exit 1 and every key confirmed high, long-term, with its spki_sha256."""
    rc, findings, err = scan_default(core)
    v = verdicts(findings)
    print(f"{what}: {v}")
    problems = []
    for spki in spkis:
        hits = [f for f in findings if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki]
        if not hits:
            problems.append(f"key {spki[:16]}... not confirmed")
        for h in hits:
            if (h["severity"], h["role"]) != ("high", "long-term"):
                problems.append(f"key {spki[:16]}... is {h['role']} {h['severity']} "
                                f"({h['reason']}), not long-term high")
            if h["allowed"]:
                problems.append(f"key {spki[:16]}... is allowed")
    if rc != 1:
        problems.append(f"exit status {rc}, not 1")
    assert not problems, f"{what}: {'; '.join(problems)}\n  findings (type, role, severity, " \
                         f"reason): {v}\n  stderr: {err[-1000:]}"
    return findings


# ---- A. clean processes ------------------------------------------------------

def test_curl_mid_download(tmp_path, procs, free_port):
    """curl -k downloading a large file from s_server -WWW at 1 MB/s: its core
    is taken while the transfer runs."""
    need("gcore", "openssl", "curl")
    www = tmp_path / "www"
    www.mkdir()
    with open(www / "big.bin", "wb") as fh:
        for _ in range(64):
            fh.write(os.urandom(1 << 20))
    tls_server(procs, tmp_path, free_port, "-WWW", cwd=www)
    out = tmp_path / "download.bin"
    c = start(procs, ["curl", "-k", "-s", "-S", "-o", out, "--limit-rate", "1M",
                      f"https://127.0.0.1:{free_port}/big.bin"])
    deadline = time.time() + 15
    got = 0
    while time.time() < deadline and c.poll() is None:
        got = out.stat().st_size if out.exists() else 0
        if got > (1 << 20):
            break
        time.sleep(0.1)
    assert c.poll() is None and (1 << 20) < got < (64 << 20), \
        f"curl is not mid-download (got {got} bytes, status {c.poll()}): {bytes(c.seen)!r}"
    core = take_core(procs, c, tmp_path)
    for f in (www / "big.bin", out):  # pytest keeps the last runs' tmp_path
        f.unlink()
    check_clean("curl -k (mid-download)", core, drbg=True)


@pytest.mark.parametrize("group", ["X25519", "P-256"])
def test_s_client(tmp_path, procs, free_port, group):
    """openssl s_client kept connected (stdin held open) after the handshake."""
    need("gcore", "openssl")
    tls_server(procs, tmp_path, free_port, "-www")
    c = start(procs, ["openssl", "s_client", "-connect", f"127.0.0.1:{free_port}", "-groups", group],
              ready="Verify return code", stdin=subprocess.PIPE)
    time.sleep(0.5)  # the TLS 1.3 session tickets that follow the handshake
    core = take_core(procs, c, tmp_path)
    check_clean(f"openssl s_client -groups {group}", core, drbg=True, x25519=group == "X25519")


PY_CLIENT = r"""
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="127.0.0.1")
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
page = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    page += b
print("ready", s.version(), len(page), flush=True)
time.sleep(600)
"""


def test_python_ssl_client(tmp_path, procs, free_port):
    need("gcore", "openssl", PYTHON)
    tls_server(procs, tmp_path, free_port, "-www")
    c = start(procs, [PYTHON, "-c", PY_CLIENT, free_port], ready="ready")
    core = take_core(procs, c, tmp_path)
    check_clean("python3 ssl client", core, drbg=True)


NODE_CLIENT = r"""
const https = require('https');
https.get({host: '127.0.0.1', port: +process.argv[1], path: '/', rejectUnauthorized: false},
  (res) => {
    let n = 0;
    res.on('data', (d) => { n += d.length; });
    res.on('end', () => { console.log('ready ' + res.statusCode + ' ' + n); });
  }).on('error', (e) => { console.log('error ' + e); process.exit(2); });
setInterval(() => {}, 1000);
"""


def test_node_https_client(tmp_path, procs, free_port):
    need("gcore", "openssl", "node")
    tls_server(procs, tmp_path, free_port, "-www")
    c = start(procs, ["node", "-e", NODE_CLIENT, free_port], ready="ready")
    core = take_core(procs, c, tmp_path)
    check_clean("node https client", core, drbg=True)


def test_gnutls_cli(tmp_path, procs, free_port):
    need("gcore", "openssl", "gnutls-cli")
    tls_server(procs, tmp_path, free_port, "-www")
    c = start(procs, ["gnutls-cli", "--insecure", "-p", free_port, "127.0.0.1"],
              ready="Handshake was completed", stdin=subprocess.PIPE)
    time.sleep(0.5)
    core = take_core(procs, c, tmp_path)
    check_clean("gnutls-cli", core, drbg=False)


@pytest.fixture(scope="module")
def go_tls_client(tmp_path_factory):
    return go_build(tmp_path_factory, "tls_client")


@pytest.mark.parametrize("group,version", [("p256", "tls12"), ("p384", "tls12"),
                                           ("p256", "tls13")])
def test_go_tls_client(tmp_path, procs, free_port, go_tls_client, group, version):
    """A Go crypto/tls client kept connected: its ECDHE scalar is a live
    big.Int that ec-raw proves against its public point; the point in the
    ClientKeyExchange (TLS 1.2) or the ClientHello key_share (TLS 1.3) makes
    it ephemeral. Before TLS 1.2 was read, every such core was blocked."""
    need("gcore", "openssl")
    tls_server(procs, tmp_path, free_port, "-www")
    c = start(procs, [go_tls_client, f"127.0.0.1:{free_port}", group, version], ready="ready")
    core = take_core(procs, c, tmp_path)
    findings = check_clean(f"Go TLS client ({group}, {version})", core, drbg=False)
    shares = [f for f in findings if f["detector"] == "ec-raw" and f["status"] == "confirmed"]
    assert len(shares) == 1 and shares[0]["role"] == "ephemeral", verdicts(findings)


def jvm(procs, tmp_path, main, *args):
    """Compiles tests/java/MAIN.java into tmp_path and runs it with a small
    heap (a core of ~200 MB, see test_keystore.py) until it prints ready."""
    need("gcore", "java", "javac")
    classes = tmp_path / "classes"
    classes.mkdir(exist_ok=True)
    subprocess.run(["javac", "-d", str(classes), str(JAVA_DIR / f"{main}.java")], check=True,
                   capture_output=True, timeout=120)
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    p = start(procs, ["java", "-Xmx32m", "-Xms8m", "-XX:+UseSerialGC", "-XX:ReservedCodeCacheSize=8m",
                      "-XX:TieredStopAtLevel=1", "-XX:-UseCompressedClassPointers", "-Xshare:off",
                      "-Xss512k", "-cp", classes, main, *args], ready="ready", timeout=60, env=env)
    anon_only(p.pid)
    return p


def test_jvm_tls_client(tmp_path, procs, free_port):
    need("openssl")
    tls_server(procs, tmp_path, free_port, "-www")
    c = jvm(procs, tmp_path, "TlsClient", "127.0.0.1", free_port)
    core = take_core(procs, c, tmp_path)
    check_clean("JVM TLS client", core, drbg=False)


def test_randbytes(tmp_path, procs):
    """An OpenSSL 3 program that only called RAND_bytes and RAND_priv_bytes:
    its primary, public and private CTR-DRBGs are rng-state."""
    need("gcore")
    assert RANDBYTES.exists(), f"{RANDBYTES} is missing: build first (ninja -C build)"
    c = start(procs, [RANDBYTES], ready="ready")
    core = take_core(procs, c, tmp_path)
    check_clean("randbytes", core, drbg=True)


# ---- B. processes that hold a key --------------------------------------------

NGINX_CONF = """\
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ return 200 "dumpgate\\n"; }}
    }}
}}
"""


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("alg", ["rsa2048", "p256"])
def test_nginx_master_and_worker(tmp_path, procs, free_port, alg):
    """nginx with TLS: the master loads the key, the worker inherits it;
    both cores block. The master is stopped by its PID and takes the worker
    with it."""
    need("gcore", "nginx", "curl")
    key = keys.genpkey(tmp_path / "nginx.pem", alg)
    cert = keys.self_signed(key, tmp_path / "nginx.crt")
    spki = dgtest.spki_sha256(key)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user="user root;" if os.geteuid() == 0 else "", d=tmp_path,
                                      port=free_port, cert=cert, key=key))
    master = start(procs, ["nginx", "-p", tmp_path, "-e", tmp_path / "error.log", "-c", conf,
                           "-g", "daemon off; master_process on;"])
    worker = None
    try:
        deadline = time.time() + 15
        page = b""
        while time.time() < deadline and master.poll() is None:
            try:
                kids = open(f"/proc/{master.pid}/task/{master.pid}/children").read().split()
            except FileNotFoundError:
                kids = []
            if kids:
                worker = int(kids[0])
                r = subprocess.run(["curl", "-k", "-s", "--max-time", "5",
                                    f"https://127.0.0.1:{free_port}/"], capture_output=True,
                                   timeout=10)
                page = r.stdout
                if page == b"dumpgate\n":
                    break
            time.sleep(0.1)
        log = (tmp_path / "error.log").read_text(errors="replace") \
            if (tmp_path / "error.log").exists() else ""
        assert worker is not None and page == b"dumpgate\n", \
            f"nginx did not serve (status {master.poll()}): {log[-2000:]}"
        wcore = gcore(worker, tmp_path / "worker")
        mcore = gcore(master.pid, tmp_path / "master")
        procs.stop(master)
        deadline = time.time() + 10
        while alive(worker) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(worker), f"nginx worker {worker} outlived its master"
        check_blocking(f"nginx worker ({alg})", wcore, [spki])
        check_blocking(f"nginx master ({alg})", mcore, [spki])
    finally:
        if master.poll() is None:
            procs.stop(master)
        if worker is not None and alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_s_server_default_options(tmp_path, procs, free_port):
    need("gcore", "openssl")
    p, key = tls_server(procs, tmp_path, free_port)
    core = take_core(procs, p, tmp_path)
    check_blocking("openssl s_server (RSA-2048)", core, [dgtest.spki_sha256(key)])


@pytest.mark.parametrize("wipe", [False, True], ids=["pem-kept", "wiped"])
def test_holdkey_default_options(tmp_path, procs, wipe):
    need("gcore")
    assert dgtest.HOLDKEY.exists(), f"{dgtest.HOLDKEY} is missing: build first (ninja -C build)"
    ks = [keys.genpkey(tmp_path / f"{a}.pem", a) for a in ("rsa2048", "p256", "ed25519")]
    p = start(procs, [dgtest.HOLDKEY, *(["--wipe"] if wipe else []), *ks], ready="ready")
    core = take_core(procs, p, tmp_path)
    check_blocking(f"holdkey{' --wipe' if wipe else ''}", core, [dgtest.spki_sha256(k) for k in ks])


def test_ssh_agent_default_options(tmp_path, procs):
    need("gcore", "ssh-agent", "ssh-add", "ssh-keygen")
    names = {"ed25519": ["-t", "ed25519"], "rsa": ["-t", "rsa", "-b", "2048"]}
    for name, args in names.items():
        subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", name, "-f", tmp_path / name],
                       check=True, capture_output=True, timeout=30)
    sdir = short_dir(tmp_path)
    try:
        sock = sdir / "agent.sock"
        agent = start(procs, ["ssh-agent", "-D", "-a", sock], ready="SSH_AUTH_SOCK=")
        r = subprocess.run(["ssh-add", *[tmp_path / n for n in names]], capture_output=True,
                           env=dict(os.environ, SSH_AUTH_SOCK=str(sock)), timeout=30)
        assert r.returncode == 0, r.stderr
        core = take_core(procs, agent, tmp_path)
    finally:
        if sdir != tmp_path:
            shutil.rmtree(sdir, ignore_errors=True)
    check_blocking("ssh-agent", core, [keys.ssh_pub_spki_sha256(tmp_path / f"{n}.pub")
                                       for n in names])


@pytest.mark.parametrize("algo", ["rsa4096", "ed25519", "nistp384"])
def test_gpg_agent_default_options(tmp_path, procs, algo):
    """GnuPG's agent after one signature with a fresh key that has no
    passphrase: it read the key from private-keys-v1.d, signed and dropped
    it, and freed copies of the key's S-expression stay in its heap, one of
    them (RSA-4096) with its n overwritten: one key, one finding. The
    agent runs in supervised mode (no fork: the PID started is the agent's),
    on a socket made here and handed over as fd 3, as systemd would."""
    need("gcore", "gpg", "gpg-agent")
    sdir = short_dir(tmp_path)
    home = sdir / "gnupg"
    home.mkdir(mode=0o700)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(home / "S.gpg-agent"))
        sock.listen(8)

        def as_systemd():  # in the child, before exec
            os.dup2(sock.fileno(), 3)
            os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1", LISTEN_FDNAMES="std")

        agent = start(procs, ["gpg-agent", "--homedir", home, "--supervised", "-v"],
                      ready="listening on", preexec_fn=as_systemd, pass_fds=(3,))  # kept past exec
        gpg = ["gpg", "--homedir", home, "--batch", "--no-autostart", "--pinentry-mode",
               "loopback", "--passphrase", ""]
        for argv in (["--quick-gen-key", f"dumpgate-{algo} <t@example.org>", algo, "sign",
                      "never"],
                     ["-u", "t@example.org", "--detach-sign", home / "pubring.kbx"]):
            r = subprocess.run(gpg + argv, capture_output=True, timeout=120)
            assert r.returncode == 0, r.stderr
        key_files = list((home / "private-keys-v1.d").glob("*.key"))
        assert len(key_files) == 1, key_files
        spki = keys.gpg_key_spki_sha256(key_files[0])
        core = take_core(procs, agent, tmp_path)
    finally:
        sock.close()
        if sdir != tmp_path:
            shutil.rmtree(sdir, ignore_errors=True)
    findings = check_blocking(f"gpg-agent {algo}", core, [spki])
    assert [(f["detector"], f["key"]["spki_sha256"]) for f in findings] == [("sexp", spki)], \
        findings


def jvm_p12_core(procs, tmp_path):
    """A fresh RSA key in a PKCS#12 store (password changeit) that a JVM
    loads and signs with once (HoldP12); its core taken, the JVM stopped.
    Returns (key file, core)."""
    need("openssl")
    key = keys.genpkey(tmp_path / "jvm.pem", "rsa2048")
    cert = keys.self_signed(key, tmp_path / "jvm.crt")
    store = tmp_path / "jvm.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", key, "-in", cert, "-name", "jvm",
                    "-passout", "pass:changeit", "-out", store], check=True, capture_output=True,
                   timeout=60)
    p = jvm(procs, tmp_path, "HoldP12", store, "changeit", "jvm")
    return key, take_core(procs, p, tmp_path)


def test_jvm_keystore_default_options(tmp_path, procs):
    key, core = jvm_p12_core(procs, tmp_path)
    check_blocking("JVM HoldP12", core, [dgtest.spki_sha256(key)])


PY_HOLDER = r"""
import gc, sys, time
from cryptography.hazmat.primitives.serialization import load_pem_private_key
pem = open(sys.argv[1], "rb").read()
key = load_pem_private_key(pem, None)
del pem
gc.collect()
print("ready", key.key_size, flush=True)
time.sleep(600)
"""


def test_python_key_holder_default_options(tmp_path, procs):
    need("gcore", PYTHON)
    key = keys.genpkey(tmp_path / "py.pem", "rsa2048")
    p = start(procs, [PYTHON, "-c", PY_HOLDER, key], ready="ready")
    core = take_core(procs, p, tmp_path)
    check_blocking("python3 cryptography key holder", core, [dgtest.spki_sha256(key)])


NODE_JWK = r"""
const crypto = require('crypto');
globalThis.kept = [];
const spkis = [];
for (const [type, opts] of [['rsa', {modulusLength: 2048}], ['ec', {namedCurve: 'P-256'}]]) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync(type, opts);
  globalThis.kept.push(JSON.stringify(privateKey.export({format: 'jwk'})));
  spkis.push(crypto.createHash('sha256')
    .update(publicKey.export({type: 'spki', format: 'der'})).digest('hex'));
}
console.log('ready ' + spkis.join(' '));
setInterval(() => {}, 1000);
"""


def test_node_jwk_holder_default_options(tmp_path, procs):
    """node generates an RSA and an EC key and keeps each as a JWK string."""
    need("gcore", "node")
    p = start(procs, ["node", "-e", NODE_JWK], ready="\n")  # one line: "ready SPKI SPKI"
    out = bytes(p.seen)
    spkis = out.decode().split("ready", 1)[-1].split()
    assert len(spkis) == 2, out
    anon_only(p.pid)
    core = take_core(procs, p, tmp_path)
    check_blocking("node JWK holder", core, spkis)


# ---- C. a long-term key is never below high ---------------------------------

def test_long_term_is_always_high(tmp_path):
    ks = {a: keys.genpkey(tmp_path / f"{a}.pem", a) for a in ("rsa2048", "p256", "ed25519")}
    enc = tmp_path / "enc.pem"
    subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes256", "-passout", "pass:x", "-in",
                    keys.genpkey(tmp_path / "enc-src.pem", "p256"), "-out", enc], check=True,
                   capture_output=True, timeout=60)
    blobs = [pathlib.Path(k).read_bytes() for k in ks.values()] + [enc.read_bytes()]
    assert all(b.startswith(b"-----BEGIN PRIVATE KEY-----") for b in blobs[:3])
    assert blobs[3].startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    dump, offs = dgtest.plant(tmp_path, blobs)
    rc, findings, summ, err = dgtest.scan(dump, timeout=SCAN_TIMEOUT)
    v = verdicts(findings)
    lt = [f for f in findings if f["role"] == "long-term"]
    assert lt, f"no long-term finding: {v} {err}"
    assert all(f["severity"] == "high" for f in lt), f"a long-term key below high: {v}"
    for a, k in ks.items():
        spki = dgtest.spki_sha256(k)
        hits = [f for f in findings if f["key"]["spki_sha256"] == spki]
        assert [(f["status"], f["role"], f["severity"]) for f in hits] == \
            [("confirmed", "long-term", "high")], f"{a}: {v}"
    encs = [f for f in findings if f["type"] == "encrypted-private-key"]
    assert [(f["role"], f["severity"]) for f in encs] == [("long-term", "high")], \
        f"the encrypted key: {v}"
    assert rc == 1, f"default options: exit {rc}: {v}"
    p = dgtest.run("scan", "--format", "jsonl", "--fail-on", "high", dump, timeout=SCAN_TIMEOUT)
    assert p.returncode == 1, p.stderr
    # SARIF: every result names its role in its properties.
    p = dgtest.run("scan", "--format", "sarif", dump, timeout=SCAN_TIMEOUT)
    assert p.returncode == 1, p.stderr
    results = [r for run in json.loads(p.stdout)["runs"] for r in run.get("results", [])]
    assert len(results) == len(findings), results
    roles = [r["properties"]["role"] for r in results]
    assert set(roles) <= ROLES and roles.count("long-term") == len(lt), roles
    assert sorted((r["properties"]["role"], r["properties"]["severity"]) for r in results) == \
        sorted((f["role"], f["severity"]) for f in findings)
