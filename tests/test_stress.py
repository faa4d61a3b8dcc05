# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_stress.py - the gate under load (issue 20): 200 crashes of real
# processes, 20 at a time, each core written by the kernel (the process is
# killed with SIGSEGV, RLIMIT_CORE unlimited, core_pattern as the machine
# has it) and fed to `dumpgate core-handler --spool DIR -- %P %u %s %t %e`
# through a pipe, as the kernel feeds its handler; handlers are killed with
# SIGKILL at random while they receive; the spool sits on a small tmpfs
# (root; else the same spool on the test's filesystem, with keep_free raised
# half way to stand in for the full disk) that fills up. At the end every
# dump is in clean/ with a verdict, in quarantine/, or was counted in
# SPOOL/lost with a CRIT line from its handler; none is gone silently, and
# none replaced another. Bounded to about a minute on two cores.
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

import dgtest
import keys

N_CRASHES = 200
AT_ONCE = 20
KEEP_FREE = 16 << 20


@pytest.fixture
def small_spool(tmp_path):
    """(spool, on_tmpfs): a spool on an 80 MiB tmpfs when the test may mount
    one, else on tmp_path."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() == 0 and shutil.which("mount"):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=80m,mode=0700", "tmpfs",
                            str(mnt)], capture_output=True)
        if r.returncode == 0:
            yield mnt / "spool", True
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
            return
    yield mnt / "spool", False


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def crash(i, workdir, key):
    """Starts a small real program (every 8th holds a private key), kills it
    with SIGSEGV and returns (pid, the kernel's core bytes), or None when
    the kernel wrote no core."""
    d = tempfile.mkdtemp(dir=workdir)
    argv = [str(dgtest.HOLDKEY), str(key)] if i % 8 == 0 else ["sleep", "600"]
    p = subprocess.Popen(argv, cwd=d, preexec_fn=unlimited_core, stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    if i % 8 == 0:
        p.stdout.readline()  # "ready": the key is loaded
    else:
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGSEGV)
    p.wait()
    p.stdout.close()
    cores = [f for f in os.listdir(d) if f.startswith("core")]
    if not cores:
        return None
    with open(os.path.join(d, cores[0]), "rb") as f:
        data = f.read()
    shutil.rmtree(d)
    return p.pid, data


def test_200_crashes_20_at_a_time_on_a_filling_spool(tmp_path, small_spool):
    spool, on_tmpfs = small_spool
    key = keys.genpkey(tmp_path / "key.pem", "rsa2048")
    workdir = tmp_path / "crashes"
    workdir.mkdir()
    rng = random.Random(20)
    sem = threading.Semaphore(AT_ONCE)
    lock = threading.Lock()
    runs = {}  # comm -> {"pid", "bytes", "rc", "err", "killed"}
    keep_free = {"value": KEEP_FREE if on_tmpfs else None}
    t_start = time.time()

    def one(i):
        try:
            c = crash(i, workdir, key)
            if c is None:
                return
            pid, data = c
            comm = f"st{i:03d}"
            argv = [str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool), "--log-stderr",
                    "--timeout", "60", "--receive-timeout", "30"]
            with lock:
                if keep_free["value"] is not None:
                    argv += ["--keep-free", str(keep_free["value"])]
            argv += ["--", str(pid), "0", "11", str(int(time.time())), comm]
            h = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            killed = False
            kill_it = rng.random() < 0.12
            try:
                half = len(data) // 2
                h.stdin.write(data[:half])
                h.stdin.flush()
                if kill_it:
                    # in the middle of receiving, once its part file is there
                    # (a handler that stores nothing is not killed: its
                    # count would go with it)
                    for _ in range(100):
                        if any(f.endswith(f".{h.pid}.part")
                               for f in os.listdir(spool / "incoming")):
                            h.kill()
                            killed = True
                            break
                        time.sleep(0.01)
                if not killed:
                    h.stdin.write(data[half:])
                h.stdin.close()
            except (BrokenPipeError, FileNotFoundError):
                pass
            err = h.stderr.read().decode(errors="replace")
            h.wait(timeout=120)
            with lock:
                runs[comm] = {"pid": pid, "bytes": len(data), "rc": h.returncode, "err": err,
                              "killed": killed, "hpid": h.pid}
        finally:
            sem.release()

    threads = []
    spool.mkdir(mode=0o700)
    for i in range(N_CRASHES):
        sem.acquire()
        if not on_tmpfs and i == N_CRASHES // 2:
            with lock:  # no small filesystem: the disk "fills up" here
                keep_free["value"] = 1 << 50
        t = threading.Thread(target=one, args=(i,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=300)
    # the orphaned scans of killed handlers end; then the work they left
    for _ in range(40):
        r = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                            "--log-stderr", "--recover"], capture_output=True, timeout=300)
        if not os.listdir(spool / "incoming"):
            break
        time.sleep(0.5)
    elapsed = time.time() - t_start

    files = {d: os.listdir(spool / d) for d in ("incoming", "clean", "quarantine")}
    assert files["incoming"] == [], files["incoming"]
    lost = int((spool / "lost").read_text())
    n_clean = n_quarantine = n_lost = n_killed = 0
    for comm, run in sorted(runs.items()):
        stem = f"core.{comm}.0.{run['pid']}."
        found = {d: [f for f in fs if f.startswith(stem)] for d, fs in files.items()}
        dumps = {d: [f for f in fs if not f.endswith(".json")] for d, fs in found.items()}
        n_dumps = sum(len(v) for v in dumps.values())
        n_killed += run["killed"]
        if n_dumps == 0:
            # not stored: its handler said so and counted it (a killed
            # handler is only killed once it has stored a part)
            assert not run["killed"], (comm, run)
            assert "CRIT" in run["err"] or "not stored" in run["err"], (comm, run)
            assert "is lost" in run["err"], (comm, run)
            n_lost += 1
            continue
        assert n_dumps == 1, (comm, found)  # one dump, never two, never replaced
        if dumps["clean"]:
            verdict = os.path.join(spool, "clean", dumps["clean"][0][:-5] + ".json")
            v = json.load(open(verdict))
            assert v["verdict"] == "clean" and v["received"]["complete"]
            assert v["received"]["bytes"] == run["bytes"]
            assert os.path.getsize(os.path.join(spool, "clean", dumps["clean"][0])) == run["bytes"]
            assert run["pid"] % 1 == 0 and not comm.endswith(("000", "008")), comm
            n_clean += 1
        else:
            n_quarantine += 1
    # the counter counts exactly the dumps not stored
    assert lost == n_lost, (lost, n_lost)
    # each dirty process (every 8th: it held a key) was quarantined, never clean
    for comm, run in runs.items():
        if int(comm[2:]) % 8 == 0:
            assert not any(f.startswith(f"core.{comm}.") for f in files["clean"]), comm
    print(f"\n{len(runs)} crashes in {elapsed:.1f} s ({'tmpfs' if on_tmpfs else 'keep_free'}): "
          f"{n_clean} clean, {n_quarantine} quarantined, {n_lost} lost (counted), "
          f"{n_killed} handlers killed")
    assert len(runs) >= N_CRASHES * 0.95
    assert n_lost > 0, "the spool never filled up"
    assert n_killed > 0 and n_clean > 0
