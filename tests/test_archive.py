# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_archive.py - dist/archive's dumpgate-archive on a real Dask cluster on
# loopback: a dask-scheduler and two dask-worker processes (Debian's
# python3-distributed), started here and stopped by PID. 40 dumps (random
# filler, three with a planted EC key, one of them zstd-compressed, two public
# minidumps); --known-keys names the key: the summary names exactly the three
# dumps that hold it; a second run with the same report scans nothing; a
# worker killed with SIGKILL in the middle of a run of one-dump tasks loses no
# task (Dask gives its tasks to the other worker).
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import dgtest
import keys

ARCHIVE = dgtest.ROOT / "dist" / "archive" / "dumpgate-archive"
CORPUS = dgtest.CORPUS

pytestmark = pytest.mark.skipif(shutil.which("dask-scheduler") is None or
                                shutil.which("dask-worker") is None,
                                reason="no Dask (python3-distributed)")


def _start(procs, argv, log, ready, timeout=60):
    """Starts argv with its output in log (stopped by procs at teardown);
    waits until log holds `ready`."""
    with open(log, "wb") as f:
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    procs.procs.append(p)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready in log.read_text(errors="replace"):
            return p
        if p.poll() is not None:
            break
        time.sleep(0.2)
    procs.stop(p)
    raise RuntimeError(f"{argv[0]} did not become ready: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture
def cluster(tmp_path, free_port, procs):
    """(address, [worker processes]) of a scheduler and two workers."""
    addr = f"tcp://127.0.0.1:{free_port}"
    _start(procs, ["dask-scheduler", "--host", "127.0.0.1", "--port", str(free_port),
                   "--no-dashboard"], tmp_path / "scheduler.log", "Scheduler at")
    workers = [_start(procs, ["dask-worker", addr, "--nthreads", "1", "--nworkers", "1",
                              "--no-dashboard", "--name", f"w{i}", "--local-directory",
                              str(tmp_path / f"w{i}")], tmp_path / f"w{i}.log", "Registered to")
               for i in range(2)]
    return addr, workers


@pytest.fixture
def dumps(tmp_path):
    """(directory of 40 dumps, public key file, names of the dumps with the key)."""
    d = tmp_path / "dumps"
    d.mkdir()
    key = keys.genpkey(tmp_path / "k.pem", "p256")
    pub = tmp_path / "k.pub"
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
    pem = open(key, "rb").read()
    holders = []
    for i in range(38):
        body = bytearray(os.urandom(96 << 10))
        if i in (5, 17, 29):
            body[40000:40000 + len(pem)] = pem
        f = d / f"core.{i:02d}"
        f.write_bytes(bytes(body))
        if i == 29:
            subprocess.run(["zstd", "-q", "--rm", str(f)], check=True)
            f = d / f"core.{i:02d}.zst"
        if i in (5, 17, 29):
            holders.append(str(f))
    mds = sorted(p for p in CORPUS.rglob("*.dmp"))[:2] if CORPUS.exists() else []
    for m in mds:
        shutil.copy(m, d / m.name)
    return d, pub, sorted(holders)


def _archived_count(rep):
    return sum(1 for x in rep.read_text().splitlines() if '"archived"' in x)


def _archive(*args, timeout=240):
    return subprocess.run([sys.executable, str(ARCHIVE), "--dumpgate", str(dgtest.DUMPGATE),
                           *map(str, args)], capture_output=True, timeout=timeout)


def test_known_key_found_in_exactly_its_dumps_and_rerun_skips(tmp_path, cluster, dumps):
    addr, _ = cluster
    d, pub, holders = dumps
    rep = tmp_path / "rep.jsonl"
    r = _archive("--scheduler", addr, "--report", rep, "--known-keys", pub, d)
    assert r.returncode == 1, r.stderr.decode()  # a long-term key: at or above --fail-on
    summ = json.loads((tmp_path / "rep.jsonl.summary.json").read_text())
    n = len(list(d.iterdir()))
    assert summ["dumps_scanned"] == n and not summ["dumps_with_errors"], summ
    assert len(summ["keys"]) == 1, summ["keys"]
    k = summ["keys"][0]
    assert k["spki_sha256"] == dgtest.spki_sha256(tmp_path / "k.pem")
    assert sorted(x["file"] for x in k["dumps"]) == holders
    assert k["first_dump_time"] <= k["last_dump_time"]
    archived = [json.loads(x) for x in rep.read_text().splitlines()]
    assert sorted(x["file"] for x in archived if x.get("record") == "archived") == \
        sorted(str(p) for p in d.iterdir())
    size = rep.stat().st_size

    r2 = _archive("--scheduler", addr, "--report", rep, "--known-keys", pub, d)
    assert f"{n} already in".encode() in r2.stderr and b"0 to scan" in r2.stderr, r2.stderr
    assert rep.stat().st_size == size  # nothing scanned again
    summ2 = json.loads((tmp_path / "rep.jsonl.summary.json").read_text())
    assert [sorted(x["file"] for x in e["dumps"]) for e in summ2["keys"]] == [holders]


def test_killed_worker_loses_no_task(tmp_path, cluster, dumps):
    addr, workers = cluster
    d, pub, holders = dumps
    rep = tmp_path / "rep.jsonl"
    # one dump per task: 40 tasks, so the kill lands in the middle of the run
    p = subprocess.Popen([sys.executable, str(ARCHIVE), "--dumpgate", str(dgtest.DUMPGATE),
                          "--scheduler", addr, "--report", str(rep), "--known-keys", str(pub),
                          "--max-files", "1", str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for a few tasks to land in the report
        if rep.exists() and _archived_count(rep) >= 3:
            break
        time.sleep(0.1)
    n = len(list(d.iterdir()))
    assert p.poll() is None and _archived_count(rep) < n, "the run ended before the kill"
    os.kill(workers[0].pid, signal.SIGKILL)
    workers[0].wait(timeout=10)
    out, err = p.communicate(timeout=240)
    assert p.returncode == 1, err.decode()
    archived = [x for x in map(json.loads, rep.read_text().splitlines())
                if x.get("record") == "archived"]
    assert len(archived) >= n and {a["file"] for a in archived} == {str(x) for x in d.iterdir()}
    summ = json.loads((tmp_path / "rep.jsonl.summary.json").read_text())
    assert [sorted(x["file"] for x in e["dumps"]) for e in summ["keys"]] == [holders]
