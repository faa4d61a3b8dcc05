#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# gateway_load.py - the load test of `dumpgate gateway` (issue 24): N uploads,
# C at a time, on loopback, first straight to a recording upstream, then
# through the gateway to the same upstream. Prints uploads/s, MB/s, the
# latency (p50, p99) of both and what the gateway adds, its peak RSS, and
# checks that none is lost: every upload is at the upstream (clean) or in
# the quarantine (the dirty ones), exactly as its answer said.
#
#   bench/gateway_load.py [--uploads 500] [--concurrency 32] [--dirty-every 10]
#                         [--build build] [--out DIR]
#   bench/gateway_load.py --big-gib 4     one 4 GiB upload: time and peak RSS
#
# Uploads are Breakpad multipart forms of the public minidumps in
# ../shared/corpus/public (round robin) and, every --dirty-every-th, a gcore
# core of build/tests/holdkey holding a fresh RSA key. Everything it starts it
# stops by PID.
import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
import test_gateway as tg  # noqa: E402  (the recorder and the form builder)


def wait_ready(p, word):
    deadline = time.time() + 30
    while time.time() < deadline:
        line = p.stdout.readline()
        if word in line.decode(errors="replace"):
            return
    raise SystemExit(f"not ready: {word}")


def run(target_port, bodies, conc):
    lat = [None] * len(bodies)
    answers = [None] * len(bodies)

    def one(i):
        t0 = time.perf_counter()
        st, text = tg.post(target_port, f"/submit?n={i}", bodies[i], timeout=600)
        lat[i] = time.perf_counter() - t0
        answers[i] = (st, text)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(conc) as ex:
        list(ex.map(one, range(len(bodies))))
    return time.perf_counter() - t0, lat, answers


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


SINK = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n, got = int(self.headers.get("Content-Length", "0")), 0
        while got < n:
            b = self.rfile.read(min(1 << 20, n - got))
            if not b:
                break
            got += len(b)
        reply = ("CrashID=bp-sink %d\n" % got).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def big(build, gib, out):
    """One upload of gib GiB (chunked, as Crashpad sends) through the gateway
    to an upstream that counts and drops the bytes; prints seconds, MB/s and
    the gateway's peak RSS."""
    procs = []
    try:
        uport, gport = tg.port(), tg.port()
        (out / "sink.py").write_text(SINK)
        up = subprocess.Popen(["/usr/bin/python3", out / "sink.py", str(uport)])
        procs.append(up)
        gw = subprocess.Popen([build / "dumpgate", "gateway", "--listen", f"127.0.0.1:{gport}",
                               "--upstream", f"http://127.0.0.1:{uport}", "--spool",
                               out / "spool", "--timeout", "3600"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(gw)
        wait_ready(type("P", (), {"stdout": gw.stderr})(), "listening on")
        piece = os.urandom(1 << 20)
        size = gib << 30
        head = (f"--{tg.BOUNDARY}\r\nContent-Disposition: form-data; "
                f"name=\"upload_file_minidump\"; filename=\"big.dmp\"\r\n\r\n").encode()
        tail = f"\r\n--{tg.BOUNDARY}--\r\n".encode()

        def pieces():
            yield head
            for _ in range(size >> 20):
                yield piece
            yield tail
        import http.client
        t0 = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", gport, timeout=3600)
        c.request("POST", "/submit", body=pieces(), encode_chunked=True,
                  headers={"Content-Type": f"multipart/form-data; boundary={tg.BOUNDARY}"})
        r = c.getresponse()
        text = r.read().decode()
        t = time.perf_counter() - t0
        hwm = next(int(l.split()[1]) for l in open(f"/proc/{gw.pid}/status")
                   if l.startswith("VmHWM:"))
        print(json.dumps({"upload_bytes": size + len(head) + len(tail), "status": r.status,
                          "answer": text.strip(), "seconds": round(t, 1),
                          "MB_per_s": round(size / t / 1e6, 1),
                          "gateway_peak_rss_MiB": round(hwm / 1024, 1)}, indent=1))
        return 0 if r.status == 200 and text.startswith("CrashID=bp-sink") else 1
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--dirty-every", type=int, default=10)
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--out")
    ap.add_argument("--big-gib", type=int, default=0,
                    help="instead: one upload of this many GiB, for the peak RSS")
    a = ap.parse_args()
    build = pathlib.Path(a.build).resolve()
    out = pathlib.Path(a.out or tempfile.mkdtemp(prefix="dumpgate-gwload."))
    out.mkdir(parents=True, exist_ok=True)
    if a.big_gib > 0:
        try:
            return big(build, a.big_gib, out)
        finally:
            if not a.out:
                shutil.rmtree(out, ignore_errors=True)
    dumps = sorted(p for p in tg.dgtest.CORPUS.rglob("*.dmp") if p.stat().st_size < (8 << 20))
    procs = []
    try:
        key = out / "key.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", key], check=True,
                       capture_output=True)
        hk = subprocess.Popen([build / "tests" / "holdkey", key], stdout=subprocess.PIPE)
        procs.append(hk)
        hk.stdout.readline()
        subprocess.run(["gcore", "-o", out / "core", str(hk.pid)], check=True,
                       capture_output=True)
        os.kill(hk.pid, signal.SIGKILL)
        hk.wait()
        dirty = (out / f"core.{hk.pid}").read_bytes()
        bodies, is_dirty = [], []
        for i in range(a.uploads):
            d = i % a.dirty_every == a.dirty_every - 1
            data = dirty if d else dumps[i % len(dumps)].read_bytes()
            bodies.append(tg.form([("prod", "Load"), ("n", str(i))],
                                  [("upload_file_minidump", f"{i}.dmp", data)]))
            is_dirty.append(d)
        total = sum(len(b) for b in bodies)

        def upstream(d):
            d.mkdir()
            uport = tg.port()
            script = out / "recorder.py"
            script.write_text(tg.RECORDER)
            p = subprocess.Popen(["/usr/bin/python3", script, str(uport), d],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            procs.append(p)
            wait_ready(p, "ready")
            return p, uport

        up1, uport1 = upstream(out / "direct")
        t_direct, lat_direct, _ = run(uport1, bodies, a.concurrency)
        os.kill(up1.pid, signal.SIGTERM)
        up1.wait()

        up2, uport2 = upstream(out / "via")
        gport = tg.port()
        gw = subprocess.Popen([build / "dumpgate", "gateway", "--listen", f"127.0.0.1:{gport}",
                               "--upstream", f"http://127.0.0.1:{uport2}", "--spool",
                               out / "spool", "--max-uploads", str(a.concurrency + 8)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(gw)
        wait_ready(type("P", (), {"stdout": gw.stderr})(), "listening on")
        # the log goes on on stderr: drained so that the gateway never blocks
        import threading
        threading.Thread(target=lambda: [None for _ in gw.stderr], daemon=True).start()
        t_via, lat_via, answers = run(gport, bodies, a.concurrency)
        hwm = next(int(l.split()[1]) for l in open(f"/proc/{gw.pid}/status")
                   if l.startswith("VmHWM:"))
        os.kill(gw.pid, signal.SIGTERM)
        gw.wait()
        os.kill(up2.pid, signal.SIGTERM)
        up2.wait()

        got = {b for _, b in tg.received(out / "via")}
        quarantined = {p.read_bytes() for p in (out / "spool" / "quarantine").glob("*.body")}
        lost = wrong = 0
        for i, (st, text) in enumerate(answers):
            if is_dirty[i]:
                ok = st == 200 and text.startswith("Discarded=") and bodies[i] in quarantined
                wrong += bodies[i] in got
            else:
                ok = st == 200 and text.startswith("CrashID=") and bodies[i] in got
            lost += not ok
        res = {
            "uploads": a.uploads, "concurrency": a.concurrency,
            "dirty": sum(is_dirty), "bytes": total,
            "direct": {"seconds": round(t_direct, 2), "uploads_per_s": round(a.uploads / t_direct, 1),
                       "MB_per_s": round(total / t_direct / 1e6, 1),
                       "p50_ms": round(pct(lat_direct, .5) * 1e3, 1),
                       "p99_ms": round(pct(lat_direct, .99) * 1e3, 1)},
            "gateway": {"seconds": round(t_via, 2), "uploads_per_s": round(a.uploads / t_via, 1),
                        "MB_per_s": round(total / t_via / 1e6, 1),
                        "p50_ms": round(pct(lat_via, .5) * 1e3, 1),
                        "p99_ms": round(pct(lat_via, .99) * 1e3, 1),
                        "peak_rss_MiB": round(hwm / 1024, 1)},
            "lost": lost, "dirty_forwarded": wrong,
        }
        print(json.dumps(res, indent=1))
        return 0 if lost == 0 and wrong == 0 else 1
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        if not a.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
