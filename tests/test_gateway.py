# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_gateway.py - `dumpgate gateway` (issue 24) between real clients and a
# recording upstream, both started here on loopback and stopped by PID.
#
# The uploads are what crash reporters send: Breakpad's multipart/form-data
# (the dump in the file part upload_file_minidump, annotations as fields),
# built here byte by byte as its uploader lays it out and also sent by curl
# -F; Crashpad's way (the same form, the whole body gzipped, chunked, no
# Content-Length). The dumps are public minidumps (clean) and gcore cores of
# holdkey holding a real key (dirty). A clean upload must reach the upstream
# byte-identical with its path, query and headers, and its answer (the crash
# ID) must come back; a dirty one must never reach it and must sit in the
# spool's quarantine with a verdict naming the key.
import gzip
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

import dgtest
import keys
from conftest import gcore

RECORDER = r'''
import http.server, json, os, sys, uuid
out = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if len(body) != n:  # the sender died mid-request (kill -9): no upload
            self.close_connection = True
            return
        rid = "bp-" + uuid.uuid4().hex
        with open(os.path.join(out, rid + ".body"), "wb") as f:
            f.write(body)
        with open(os.path.join(out, rid + ".json"), "w") as f:
            json.dump({"path": self.path, "headers": dict(self.headers)}, f)
        reply = ("CrashID=" + rid + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.request_queue_size = 256
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
'''

BOUNDARY = "----dumpgateTestBoundary7MA4YWxkTrZu0gW"
CLEAN = dgtest.CORPUS / "breakpad" / "linux_raise_sigabrt.dmp"


def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def form(fields, files):
    """A multipart/form-data body as Breakpad's uploader writes it."""
    out = b""
    for k, v in fields:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                f"{v}\r\n").encode()
    for k, name, data in files:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post(gport, path, body, headers=None, chunked=False, timeout=120, tls=None):
    c = (http.client.HTTPSConnection("127.0.0.1", gport, timeout=timeout, context=tls)
         if tls is not None else http.client.HTTPConnection("127.0.0.1", gport, timeout=timeout))
    h = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
         "User-Agent": "Crashpad/0.8.0"}
    h.update(headers or {})
    if chunked:
        def pieces():
            for i in range(0, len(body), 65536):
                yield body[i:i + 65536]
        c.request("POST", path, body=pieces(), headers=h, encode_chunked=True)
    else:
        c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data.decode(errors="replace")


def received(updir):
    """The requests the upstream recorded: [(meta, body)], oldest first."""
    out = []
    for j in sorted(pathlib.Path(updir).glob("*.json"), key=os.path.getmtime):
        out.append((json.loads(j.read_text()), j.with_suffix(".body").read_bytes()))
    return out


class Setup:
    def __init__(self, procs, tmp_path, upstream_up=True, extra=()):
        self.procs, self.tmp = procs, tmp_path
        self.updir = tmp_path / "upstream"
        self.updir.mkdir()
        self.spool = tmp_path / "spool"
        self.uport, self.gport = port(), port()
        self.up = self.start_upstream() if upstream_up else None
        self.gw = procs.start([dgtest.DUMPGATE, "gateway", "--listen", f"127.0.0.1:{self.gport}",
                               "--upstream", f"http://127.0.0.1:{self.uport}",
                               "--spool", self.spool, "--timeout", "120", *extra],
                              ready="listening on", timeout=20)

    def start_upstream(self):
        script = self.tmp / "recorder.py"
        script.write_text(RECORDER)
        return self.procs.start(["/usr/bin/python3", script, self.uport, self.updir],
                                ready="ready", timeout=20)

    def files(self, sub):
        d = self.spool / sub
        return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.fixture(scope="module")
def dirty_core(tmp_path_factory):
    """A gcore core of holdkey holding a fresh RSA key; (path, spki)."""
    d = tmp_path_factory.mktemp("dirty")
    key = keys.genpkey(d / "key.pem", "rsa2048")
    p = subprocess.Popen([dgtest.HOLDKEY, key], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        assert b"ready" in p.stdout.readline()
        core = gcore(p.pid, d / "core")
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    return pathlib.Path(core), dgtest.spki_sha256(key), key


def test_breakpad_clean_upload_reaches_upstream_byte_identical(procs, tmp_path):
    s = Setup(procs, tmp_path)
    dump = CLEAN.read_bytes()
    body = form([("prod", "Example"), ("ver", "1.2.3"), ("guid", "abc")],
                [("upload_file_minidump", "linux.dmp", dump),
                 ("attachment.log", "app.log", b"started\nnothing to see\n")])
    status, text = post(s.gport, "/submit?product=Example&version=1.2.3", body)
    assert status == 200 and text.startswith("CrashID=bp-"), (status, text)
    got = received(s.updir)
    assert len(got) == 1
    meta, ubody = got[0]
    assert ubody == body  # byte for byte: fields, order, attachments
    assert meta["path"] == "/submit?product=Example&version=1.2.3"
    assert meta["headers"]["Content-Type"] == f"multipart/form-data; boundary={BOUNDARY}"
    assert meta["headers"]["User-Agent"] == "Crashpad/0.8.0"
    assert text.strip() == "CrashID=" + next(s.updir.glob("*.json")).stem
    assert s.files("quarantine") == [] and s.files("outbox") == []
    assert s.files("incoming") == []  # delivered: nothing kept
    # stops cleanly on SIGTERM (under ASan: with nothing leaked)
    os.kill(s.gw.pid, signal.SIGTERM)
    out = s.gw.stdout.read().decode(errors="replace")
    assert s.gw.wait(timeout=20) == 0, out
    assert "stopping on signal 15" in out and "ERROR" not in out, out


def test_curl_form_upload_clean(procs, tmp_path):
    s = Setup(procs, tmp_path)
    r = subprocess.run(["curl", "-sS", "-F", f"upload_file_minidump=@{CLEAN}", "-F", "prod=X",
                        f"http://127.0.0.1:{s.gport}/post"], capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith(b"CrashID=bp-"), r
    (meta, ubody), = received(s.updir)
    assert CLEAN.read_bytes() in ubody and b'name="prod"' in ubody


def test_dirty_upload_is_quarantined_never_forwarded(procs, tmp_path, dirty_core):
    core, spki, key = dirty_core
    s = Setup(procs, tmp_path)
    body = form([("prod", "Example")], [("upload_file_minidump", "core", core.read_bytes())])
    status, text = post(s.gport, "/submit", body)
    # Crashpad counts only 200 as success and never retries a failure
    assert status == 200 and text.startswith("Discarded=dumpgate quarantined"), (status, text)
    assert received(s.updir) == []
    q = s.files("quarantine")
    names = [n for n in q if n.endswith(".json")]
    assert len(names) == 1, q
    stem = names[0][:-5]
    # the form fields are part 0 (they come first), the dump part 1
    assert set(q) == {stem + ".json", stem + ".body", stem + ".0.part", stem + ".1.part"}
    assert (s.spool / "quarantine" / (stem + ".body")).read_bytes() == body
    assert (s.spool / "quarantine" / (stem + ".0.part")).read_bytes() == b"\nprod=Example"
    assert (s.spool / "quarantine" / (stem + ".1.part")).read_bytes() == core.read_bytes()
    assert os.stat(s.spool / "quarantine" / (stem + ".body")).st_mode & 0o077 == 0
    v = json.loads((s.spool / "quarantine" / names[0]).read_text())
    assert v["verdict"] == "quarantine" and "finding" in v["reason"]
    assert spki in {f["key"].get("spki_sha256") for f in v["findings"]}
    body_lines = [ln for ln in pathlib.Path(key).read_text().splitlines() if "-----" not in ln]
    assert not [ln for ln in body_lines if ln in json.dumps(v)]  # names the key, never holds it


def test_crashpad_gzip_chunked(procs, tmp_path, dirty_core):
    core, spki, key = dirty_core
    s = Setup(procs, tmp_path)
    clean = gzip.compress(form([("prod", "E")], [("upload_file_minidump", "a.dmp",
                                                  CLEAN.read_bytes())]))
    status, text = post(s.gport, "/api/1/minidump/?sentry_key=k", clean,
                        headers={"Content-Encoding": "gzip"}, chunked=True)
    assert status == 200 and text.startswith("CrashID="), (status, text)
    (meta, ubody), = received(s.updir)
    assert ubody == clean and meta["headers"]["Content-Encoding"] == "gzip"
    assert meta["path"] == "/api/1/minidump/?sentry_key=k"
    dirty = gzip.compress(form([("prod", "E")], [("upload_file_minidump", "b.dmp",
                                                  core.read_bytes())]))
    status, text = post(s.gport, "/api/1/minidump/", dirty,
                        headers={"Content-Encoding": "gzip"}, chunked=True)
    assert status == 200 and text.startswith("Discarded="), (status, text)
    assert len(received(s.updir)) == 1
    v = json.loads(next((s.spool / "quarantine").glob("*.json")).read_text())
    assert spki in {f["key"].get("spki_sha256") for f in v["findings"]}


def test_upstream_down_then_back_delivers_from_the_outbox(procs, tmp_path):
    s = Setup(procs, tmp_path, upstream_up=False)
    bodies = [form([("n", str(i))], [("upload_file_minidump", "a.dmp", CLEAN.read_bytes())])
              for i in range(8)]
    for i, body in enumerate(bodies):
        status, text = post(s.gport, f"/submit?n={i}", body)
        assert status == 200 and text.startswith("Queued="), (status, text)
    assert len(s.files("outbox")) == 16  # each body and its delivery record
    s.up = s.start_upstream()
    os.kill(s.gw.pid, signal.SIGHUP)  # retry now rather than after the backoff
    deadline = time.time() + 30
    while time.time() < deadline and len(received(s.updir)) < 8:
        time.sleep(0.2)
    got = received(s.updir)
    assert sorted(b for _, b in got) == sorted(bodies)  # all, each once
    assert sorted(m["path"] for m, _ in got) == sorted(f"/submit?n={i}" for i in range(8))
    deadline = time.time() + 10
    while time.time() < deadline and s.files("outbox"):
        time.sleep(0.2)
    assert s.files("outbox") == []


def test_token_size_limit_health_and_metrics(procs, tmp_path):
    tok = tmp_path / "token"
    tok.write_text("s3cr3t-token\n")
    s = Setup(procs, tmp_path, extra=["--token-file", tok, "--max-upload", "64K"])
    small = form([("prod", "E")], [("upload_file_minidump", "a.dmp", b"not a dump, some bytes\n" * 4)])
    status, _ = post(s.gport, "/submit", small)
    assert status == 401
    status, _ = post(s.gport, "/submit", small, headers={"Authorization": "Bearer wrong-token!"})
    assert status == 401
    status, _ = post(s.gport, "/submit", form([], [("f", "big", os.urandom(100000))]),
                     headers={"Authorization": "Bearer s3cr3t-token"})
    assert status == 413
    status, _ = post(s.gport, "/submit", form([], [("f", "big", os.urandom(100000))]),
                     headers={"Authorization": "Bearer s3cr3t-token"}, chunked=True)
    assert status == 413
    status, text = post(s.gport, "/submit", small, headers={"Authorization": "Bearer s3cr3t-token"})
    assert status == 200 and text.startswith("CrashID="), (status, text)
    assert received(s.updir)[0][1] == small
    assert s.files("incoming") == []  # refused uploads leave nothing
    c = http.client.HTTPConnection("127.0.0.1", s.gport, timeout=10)
    c.request("GET", "/healthz")
    assert c.getresponse().read() == b"ok\n"
    c.request("GET", "/metrics")
    m = c.getresponse().read().decode()
    assert "dumpgate_gateway_forwarded_total 1\n" in m
    assert "dumpgate_gateway_rejected_total 4\n" in m
    assert "s3cr3t" not in m


def test_bad_arguments_are_refused(tmp_path):
    r = dgtest.run("gateway", "--listen", "nowhere", "--upstream", "http://127.0.0.1:1",
                   "--spool", tmp_path / "s", timeout=20)
    assert r.returncode == 2 and b"--listen" in r.stderr
    r = dgtest.run("gateway", "--listen", "127.0.0.1:0", "--spool", tmp_path / "s", timeout=20)
    assert r.returncode == 2 and b"--upstream" in r.stderr
    r = dgtest.run("gateway", "--listen", "127.0.0.1:0", "--upstream", "ftp://x",
                   "--spool", tmp_path / "s", timeout=20)
    assert r.returncode == 2 and b"http" in r.stderr


def test_kill_9_during_20_concurrent_uploads_loses_nothing(procs, tmp_path, dirty_core):
    """Every upload that got an answer is delivered or quarantined as the
    answer says; the ones cut off by kill -9 are in the quarantine after the
    restart; incoming/ is empty and no dirty dump reached the upstream."""
    import concurrent.futures
    core, spki, _ = dirty_core
    s = Setup(procs, tmp_path, extra=["--max-uploads", "32"])
    clean = CLEAN.read_bytes()
    dirty = core.read_bytes()
    bodies = [form([("n", str(i))], [("upload_file_minidump", f"{i}.dmp",
                                      dirty if i % 4 == 0 else clean)]) for i in range(20)]

    def one(i):
        try:
            return post(s.gport, f"/submit?n={i}", bodies[i], timeout=60)
        except (OSError, http.client.HTTPException) as e:
            return None, repr(e)

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        futs = [ex.submit(one, i) for i in range(20)]
        deadline = time.time() + 30
        while time.time() < deadline and sum(f.done() for f in futs) < 5:
            time.sleep(0.005)
        os.kill(s.gw.pid, signal.SIGKILL)
        answers = [f.result() for f in futs]
    s.gw.wait()
    # the restart recovers what the dead gateway left
    s.gw = procs.start([dgtest.DUMPGATE, "gateway", "--listen", f"127.0.0.1:{s.gport}",
                        "--upstream", f"http://127.0.0.1:{s.uport}", "--spool", s.spool],
                       ready="listening on", timeout=20)
    assert s.files("incoming") == []
    up = received(s.updir)
    up_bodies = [b for _, b in up]
    qdir = s.spool / "quarantine"
    q_bodies = [p.read_bytes() for p in qdir.glob("*.body")]
    for i, (status, text) in enumerate(answers):
        if status == 200 and text.startswith("CrashID="):
            assert bodies[i] in up_bodies, i
        elif status == 200 and text.startswith("Discarded="):
            assert bodies[i] in q_bodies, i
        else:  # cut off: its client got no answer; kept if it was stored
            assert status is None, (i, status, text)
    for b in up_bodies:
        assert dirty not in b  # nothing dirty went out
    # each upload is delivered (at least once: the redelivery after the
    # restart may repeat one) or quarantined, never both
    deadline = time.time() + 20
    while time.time() < deadline and s.files("outbox"):
        time.sleep(0.1)
    up_bodies = [b for _, b in received(s.updir)]
    assert not set(up_bodies) & set(q_bodies)
    assert s.files("outbox") == []
    n_answered = sum(1 for st, _ in answers if st == 200)
    assert n_answered <= len(set(up_bodies)) + len(q_bodies) <= 20


def test_an_upload_stored_but_not_answered_is_quarantined_at_restart(procs, tmp_path):
    """kill -9 while the scan runs (a scanner that never ends): the stored
    upload is in the quarantine after the restart, with a verdict that says
    why, and nothing reached the upstream."""
    slow = tmp_path / "slow-scanner"
    slow.write_text("#!/bin/sh\nexec sleep 60\n")
    slow.chmod(0o755)
    s = Setup(procs, tmp_path, extra=["--scanner", slow])
    body = form([("prod", "E")], [("upload_file_minidump", "a.dmp", CLEAN.read_bytes())])
    import threading
    t = threading.Thread(target=lambda: post(s.gport, "/submit", body, timeout=30) if False else
                         _swallow(lambda: post(s.gport, "/submit", body, timeout=30)))
    t.start()
    deadline = time.time() + 20
    while time.time() < deadline and not any(n.endswith(".part") for n in s.files("incoming")):
        time.sleep(0.05)
    assert any(n.endswith(".body") for n in s.files("incoming"))
    os.kill(s.gw.pid, signal.SIGKILL)
    s.gw.wait()
    t.join(30)
    s.gw = procs.start([dgtest.DUMPGATE, "gateway", "--listen", f"127.0.0.1:{s.gport}",
                        "--upstream", f"http://127.0.0.1:{s.uport}", "--spool", s.spool],
                       ready="listening on", timeout=20)
    assert s.files("incoming") == []
    (v,) = [json.loads(p.read_text()) for p in (s.spool / "quarantine").glob("*.json")]
    assert v["verdict"] == "quarantine" and "stopped before answering" in v["reason"]
    (qb,) = list((s.spool / "quarantine").glob("*.body"))
    assert qb.read_bytes() == body
    assert received(s.updir) == []
    subprocess.run(["pkill", "-9", "-f", str(slow)], check=False)


def _swallow(fn):
    try:
        fn()
    except (OSError, http.client.HTTPException):
        pass


def envelope(dump, with_length=True):
    """A Sentry envelope as sentry-native sends a minidump crash."""
    event = json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "level": "fatal"}).encode()
    head = {"type": "attachment", "attachment_type": "event.minidump",
            "filename": "crash.dmp"}
    if with_length:
        head["length"] = len(dump)
    return (json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
                        "dsn": "https://key@example.invalid/42"}).encode() + b"\n" +
            json.dumps({"type": "event", "length": len(event)}).encode() + b"\n" + event + b"\n" +
            json.dumps(head).encode() + b"\n" + dump + b"\n")


def test_sentry_envelope_items_are_scanned(procs, tmp_path, dirty_core):
    core, spki, _ = dirty_core
    s = Setup(procs, tmp_path)
    h = {"Content-Type": "application/x-sentry-envelope"}
    body = envelope(CLEAN.read_bytes())
    status, text = post(s.gport, "/api/42/envelope/", body, headers=h)
    assert status == 200 and text.startswith("CrashID="), (status, text)
    (meta, ubody), = received(s.updir)
    assert ubody == body and meta["headers"]["Content-Type"] == h["Content-Type"]
    dirty = envelope(core.read_bytes())
    status, text = post(s.gport, "/api/42/envelope/", gzip.compress(dirty),
                        headers=dict(h, **{"Content-Encoding": "gzip"}))
    assert status == 200 and text.startswith("Discarded="), (status, text)
    assert len(received(s.updir)) == 1
    q = s.spool / "quarantine"
    (stem,) = [p.stem for p in q.glob("*.json")]
    # each item payload is a part of its own: the event, then the dump
    assert (q / f"{stem}.1.part").read_bytes() == core.read_bytes()
    assert b"event_id" in (q / f"{stem}.0.part").read_bytes()
    v = json.loads((q / f"{stem}.json").read_text())
    assert spki in {f["key"].get("spki_sha256") for f in v["findings"]}
    # a truncated envelope is not forwarded either
    status, text = post(s.gport, "/api/42/envelope/", envelope(CLEAN.read_bytes())[:-5000],
                        headers=h)
    assert status == 200 and "envelope ends early" in text, text
    assert len(received(s.updir)) == 1


def test_unit_is_well_formed():
    import shutil
    import tempfile
    svc = (dgtest.ROOT / "dist" / "dumpgate-gateway.service.in").read_text()
    for opt in ("gateway --listen", "--spool /var/lib/dumpgate-gateway", "ProtectSystem=strict",
                "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                "SystemCallFilter=", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert opt in svc, opt
    if shutil.which("systemd-analyze"):
        d = pathlib.Path(tempfile.mkdtemp())
        (d / "dumpgate-gateway.service").write_text(svc.replace("@BINDIR@", str(dgtest.BUILD)))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            str(d / "dumpgate-gateway.service")], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def vm_hwm_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_large_upload_streams_in_bounded_memory(procs, tmp_path):
    """A 256 MiB upload (chunked, as Crashpad sends) through the gateway:
    its peak RSS stays far below the upload's size (the body and the parts
    go to the spool in pieces; the scan is a child process)."""
    size = 256 << 20
    s = Setup(procs, tmp_path)
    piece = os.urandom(1 << 20)
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; "
            f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def pieces():
        yield head
        for _ in range(size // len(piece)):
            yield piece
        yield tail
    c = http.client.HTTPConnection("127.0.0.1", s.gport, timeout=300)
    c.request("POST", "/submit", body=pieces(), encode_chunked=True,
              headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    r = c.getresponse()
    text = r.read().decode()
    assert r.status == 200 and text.startswith("CrashID="), text
    (meta, ubody), = received(s.updir)
    assert len(ubody) == len(head) + size + len(tail)
    hwm = vm_hwm_kib(s.gw.pid)
    assert hwm < 64 * 1024, f"gateway peak RSS {hwm} KiB for a {size >> 20} MiB upload"


def test_slow_client_is_cut_at_its_timeout(procs, tmp_path):
    s = Setup(procs, tmp_path, extra=["--receive-timeout", "2"])
    sock = socket.create_connection(("127.0.0.1", s.gport))
    sock.sendall(b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                 b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 1000)
    t0 = time.time()
    sock.settimeout(20)
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, socket.timeout):
        data = b""
    elapsed = time.time() - t0
    sock.close()
    assert data == b"" and elapsed < 10, (data, elapsed)  # closed, unanswered
    deadline = time.time() + 5
    while time.time() < deadline and s.files("incoming"):
        time.sleep(0.1)
    assert s.files("incoming") == []  # nothing half-received is kept as an upload
    assert received(s.updir) == []


def openssl(*args):
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and two client certificates
    (one signed by the CA, one self-signed), made with the openssl CLI."""
    for name in ("ca", "server", "client", "stranger"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", d / f"{name}.key")
    openssl("req", "-new", "-x509", "-key", d / "ca.key", "-subj", "/CN=test CA", "-days", "2",
            "-out", d / "ca.crt")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", d / "san.ext"]), ("client", [])):
        openssl("req", "-new", "-key", d / f"{name}.key", "-subj", f"/CN={name}",
                "-out", d / f"{name}.csr")
        openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.crt", "-CAkey",
                d / "ca.key", "-CAcreateserial", "-days", "2", "-out", d / f"{name}.crt", *ext)
    openssl("req", "-new", "-x509", "-key", d / "stranger.key", "-subj", "/CN=stranger",
            "-days", "2", "-out", d / "stranger.crt")


def test_https_and_client_certificates(procs, tmp_path):
    import ssl
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    s = Setup(procs, tmp_path, extra=["--tls-cert", pki / "server.crt", "--tls-key",
                                      pki / "server.key", "--tls-client-ca", pki / "ca.crt",
                                      "--dirty-answer", "Discarded=held by the gateway"])
    body = form([("prod", "E")], [("upload_file_minidump", "a.dmp", CLEAN.read_bytes())])

    def ctx(client):
        c = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        if client:
            c.load_cert_chain(str(pki / f"{client}.crt"), str(pki / f"{client}.key"))
        return c
    status, text = post(s.gport, "/submit", body, tls=ctx("client"))
    assert status == 200 and text.startswith("CrashID="), (status, text)
    assert received(s.updir)[0][1] == body
    for who in (None, "stranger"):  # no certificate, or one the CA did not sign
        try:
            status, text = post(s.gport, "/submit", body, tls=ctx(who))
        except (ssl.SSLError, ConnectionError, http.client.HTTPException):
            status = None  # refused in the handshake
        assert status in (None, 403), (who, status)
    assert len(received(s.updir)) == 1
    # plain HTTP to the TLS port is not served
    try:
        status, _ = post(s.gport, "/submit", body)
    except (ConnectionError, http.client.HTTPException):
        status = None
    assert status is None or status >= 400
    assert len(received(s.updir)) == 1
    # the dirty answer is the configured one
    pem = pathlib.Path(keys.genpkey(tmp_path / "leaked.pem", "p256")).read_bytes()
    status, text = post(s.gport, "/submit", form([], [("attachment", "notes.txt", pem)]),
                        tls=ctx("client"))
    assert status == 200 and text.startswith("Discarded=held by the gateway up."), text
    os.kill(s.gw.pid, signal.SIGTERM)  # under ASan: nothing leaked on the TLS paths
    out = s.gw.stdout.read().decode(errors="replace")
    assert s.gw.wait(timeout=20) == 0 and "ERROR" not in out, out


def test_metrics_histogram(procs, tmp_path):
    s = Setup(procs, tmp_path)
    body = form([("prod", "E")], [("upload_file_minidump", "a.dmp", CLEAN.read_bytes())])
    for _ in range(3):
        assert post(s.gport, "/submit", body)[0] == 200
    c = http.client.HTTPConnection("127.0.0.1", s.gport, timeout=10)
    c.request("GET", "/metrics")
    m = c.getresponse().read().decode()
    assert "# TYPE dumpgate_gateway_scan_seconds histogram" in m
    assert 'dumpgate_gateway_scan_seconds_bucket{le="+Inf"} 3\n' in m
    assert "dumpgate_gateway_scan_seconds_count 3\n" in m
    buckets = [int(l.rsplit(" ", 1)[1]) for l in m.splitlines()
               if l.startswith("dumpgate_gateway_scan_seconds_bucket")]
    assert buckets == sorted(buckets) and buckets[-1] == 3


def plant_in_memory(dump, blob):
    """The public minidump dump with blob written over the middle of its
    largest writable memory range (found with `dumpgate regions`): same
    size, same streams. Returns (bytes, file offset)."""
    r = dgtest.run("regions", "--format", "jsonl", dump, timeout=60)
    spans = [s for s in dgtest.records(r.stdout)
             if s.get("vaddr") and s["perms"] and "w" in s["perms"] and s["size"] > len(blob)]
    span = max(spans, key=lambda s: s["size"])
    off = span["offset"] + (span["size"] - len(blob)) // 2
    data = bytearray(dump.read_bytes())
    data[off:off + len(blob)] = blob
    return bytes(data), off


def test_public_minidumps_clean_and_with_planted_keys(procs, tmp_path):
    """Every public minidump under 8 MiB: uploaded as it is, it reaches the
    upstream; with a fresh key planted into its memory (as DER, the form a
    process keeps after parsing PEM), it is quarantined with a finding at the
    planted offset and never forwarded."""
    s = Setup(procs, tmp_path)
    dumps = sorted(p for p in dgtest.CORPUS.rglob("*.dmp") if p.stat().st_size < (8 << 20))
    assert len(dumps) >= 3
    n_dirty = 0
    for i, dump in enumerate(dumps):
        clean = form([("n", str(i))], [("upload_file_minidump", dump.name, dump.read_bytes())])
        status, text = post(s.gport, f"/clean/{i}", clean)
        assert status == 200 and text.startswith("CrashID="), (dump, text)
        key = keys.genpkey(tmp_path / f"k{i}.pem", ("rsa2048", "p256")[i % 2])
        der = subprocess.run(["openssl", "pkey", "-in", key, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        try:
            data, off = plant_in_memory(dump, der)
        except ValueError:
            continue  # no writable range large enough
        n_dirty += 1
        status, text = post(s.gport, f"/dirty/{i}",
                            form([("n", str(i))], [("upload_file_minidump", dump.name, data)]))
        assert status == 200 and text.startswith("Discarded="), (dump, text)
        v = json.loads(sorted((s.spool / "quarantine").glob("*.json"),
                              key=os.path.getmtime)[-1].read_text())
        f = [f for f in v["findings"] if f["key"].get("spki_sha256") == dgtest.spki_sha256(key)]
        assert f and f[0]["status"] == "confirmed" and f[0]["offset"] == off, (dump, v["reason"])
    paths = [m["path"] for m, _ in received(s.updir)]
    assert sorted(paths) == sorted(f"/clean/{i}" for i in range(len(dumps)))
    assert n_dirty >= 3


def test_a_key_in_a_form_field_is_caught(procs, tmp_path):
    """Annotations are scanned too: a PEM key pasted into a field (as an
    environment dump would carry it) keeps the upload from leaving."""
    s = Setup(procs, tmp_path)
    pem = pathlib.Path(keys.genpkey(tmp_path / "k.pem", "ed25519")).read_text()
    body = form([("prod", "E"), ("env", "HOME=/root\nSIGNING_KEY=" + pem)],
                [("upload_file_minidump", "a.dmp", CLEAN.read_bytes())])
    status, text = post(s.gport, "/submit", body)
    assert status == 200 and text.startswith("Discarded="), text
    assert received(s.updir) == []
    # and a path that could not go upstream as it is is refused up front
    c = http.client.HTTPConnection("127.0.0.1", s.gport, timeout=10)
    c.putrequest("POST", "/sub%0d%0amit", skip_accept_encoding=True)
    c.putheader("Content-Length", "2")
    c.endheaders(b"ab")
    assert c.getresponse().status == 400
    assert s.files("incoming") == []


def redact_available():
    r = dgtest.run("--help", timeout=20)
    return b"       dumpgate redact [" in r.stdout  # its usage line


@pytest.mark.skipif(not redact_available(), reason="this build has no `dumpgate redact`")
def test_redact_forwards_a_verified_redacted_copy(procs, tmp_path, dirty_core):
    """--redact: a dirty upload whose keys `redact` can remove goes on as
    that copy (same size, same form; no key left in it), plain and gzipped;
    the original stays in the quarantine with the redaction report."""
    core, spki, key = dirty_core
    s = Setup(procs, tmp_path, extra=["--redact"])
    for gz in (False, True):
        body = form([("prod", "E")], [("upload_file_minidump", "core", core.read_bytes()),
                                      ("attachment", "log.txt", b"a log line\n")])
        send = gzip.compress(body) if gz else body
        n_before = len(received(s.updir))
        status, text = post(s.gport, f"/submit?gz={int(gz)}", send,
                            headers={"Content-Encoding": "gzip"} if gz else None)
        assert status == 200 and text.startswith("CrashID="), (gz, status, text)
        got = received(s.updir)
        assert len(got) == n_before + 1
        meta, ubody = got[-1]
        if gz:
            assert meta["headers"]["Content-Encoding"] == "gzip"
            ubody = gzip.decompress(ubody)
        assert len(ubody) == len(body) and ubody != body  # same form, same size, patched
        # only bytes inside the dump part changed
        start = body.index(core.read_bytes())
        diff = [i for i in range(0, len(body)) if body[i] != ubody[i]] if len(body) < 4e6 else None
        if diff is not None:
            assert diff and start <= diff[0] and diff[-1] < start + len(core.read_bytes())
        # what went out holds no key: scan its dump part
        (tmp_path / f"out{gz}.core").write_bytes(ubody[start:start + len(core.read_bytes())])
        rc, findings, _, _ = dgtest.scan(tmp_path / f"out{gz}.core")
        assert spki not in {f["key"].get("spki_sha256") for f in findings}, findings
        assert rc == 0
    q = s.spool / "quarantine"
    verdicts = [json.loads(p.read_text()) for p in q.glob("up.*[0-9].json")]
    assert len(verdicts) == 2 and all(v["verdict"] == "redacted" for v in verdicts)
    assert all(v["redacted"] and v["redacted"][0]["report"] for v in verdicts)
    assert len(list(q.glob("*.body"))) == 2  # the originals, kept
    assert s.files("incoming") == []
