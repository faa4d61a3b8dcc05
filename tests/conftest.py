# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# conftest.py - pytest fixtures: a scratch directory per test, real processes
# that are always stopped by their PID, gcore, and Go test subjects built
# offline.
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import dgtest


def pytest_configure(config):
    # The suite never reads the test machine's /etc/dumpgate/dumpgate.yaml:
    # a test that wants a configuration file names it (test_config.py).
    os.environ["DUMPGATE_CONFIG"] = "none"
    if not dgtest.DUMPGATE.exists():
        raise pytest.UsageError(f"{dgtest.DUMPGATE} is missing: build first (meson setup build && ninja -C build)")


class Procs:
    """Starts processes and stops every one of them by PID at teardown."""

    def __init__(self):
        self.procs = []

    def start(self, argv, ready=None, timeout=20, **kw):
        """Starts argv; waits until a line of stdout contains `ready` (if given)."""
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        if ready is not None:
            deadline = time.time() + timeout
            seen = []
            while time.time() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                seen.append(line.decode(errors="replace"))
                if ready in seen[-1]:
                    return p
            self.stop(p)
            raise RuntimeError(f"{argv[0]} did not become ready: {''.join(seen)[-2000:]}")
        return p

    def stop(self, p):
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        if p.stdout:
            p.stdout.close()

    def stop_all(self):
        for p in self.procs:
            self.stop(p)


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.stop_all()


def gcore(pid, prefix):
    """Takes a core of a live process with gdb's gcore; returns its path."""
    r = subprocess.run(["gcore", "-o", str(prefix), str(pid)], capture_output=True, timeout=120)
    path = f"{prefix}.{pid}"
    if r.returncode != 0 or not os.path.exists(path):
        raise RuntimeError(f"gcore failed: {r.stdout.decode()} {r.stderr.decode()}")
    return path


def s_server_core(tmp_path, procs, port, alg):
    """A fresh key of alg (keys.genpkey) and a self-signed certificate loaded
    by `openssl s_server`, its core taken and the server stopped. Returns
    (key file, core)."""
    import keys
    key = keys.genpkey(tmp_path / "key.pem", alg)
    cert = keys.self_signed(key, tmp_path / "key.crt")
    p = procs.start(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-key", key,
                     "-cert", cert], ready="ACCEPT")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    return key, core


@pytest.fixture
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def go_build(tmp_path_factory, name):
    """tests/holders/NAME.go built offline (no modules, no network, no cgo)
    with caches in a scratch directory; skips without a Go toolchain
    (golang-go). Returns the program's path."""
    if shutil.which("go") is None:
        pytest.skip("no Go toolchain (golang-go)")
    d = tmp_path_factory.mktemp("go")
    env = dict(os.environ, GOCACHE=str(d / "cache"), GOPATH=str(d / "gopath"), GOFLAGS="",
               GO111MODULE="off", GOPROXY="off", CGO_ENABLED="0", HOME=str(d))
    exe = d / name
    subprocess.run(["go", "build", "-o", str(exe), str(dgtest.ROOT / "tests" / "holders" / f"{name}.go")],
                   check=True, capture_output=True, env=env, cwd=d, timeout=600)
    return exe
