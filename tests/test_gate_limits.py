# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_gate_limits.py - the budgets of issue 20, each written as the attack:
# a core larger than the spool should hold (max_dump_size), a spool whose
# filesystem is nearly full (keep_free, the lost counter), a sender that
# stops writing (the handler's receive timeout; `scan -`'s --scan-timeout),
# and a compression bomb (max_decompressed, --scan-timeout) for the
# pre-commit hook and for the gate. Every one hung, filled the disk or ran
# for minutes before.
import os
import subprocess
import threading
import time

import pytest

import dgtest
from test_pipeline import cores, handler, spool_files, verdict_of  # noqa: F401 (fixture)


def writer(proc, data, chunk=1 << 16):
    """Writes data into proc's standard input from a thread, as the kernel
    does; returns (thread, result) where result["written"] counts the bytes
    the reader took before closing (a broken pipe stops it)."""
    result = {"written": 0, "error": None}
    pipe, proc.stdin = proc.stdin, None  # communicate() must not close it meanwhile

    def run():
        try:
            for i in range(0, len(data), chunk):
                pipe.write(data[i:i + chunk])
                pipe.flush()
                result["written"] += len(data[i:i + chunk])
            pipe.close()
        except (BrokenPipeError, ValueError, OSError) as e:
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, result


def start(spool, pid, comm, *extra):
    return subprocess.Popen(handler(spool, pid, comm, *extra), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_core_over_max_dump_size_is_kept_cut_and_quarantined(cores, tmp_path):
    """A 2 MiB core and 8 MiB of padding against --max-dump-size 1M: the
    first MiB is kept and quarantined as incomplete, the verdict says why,
    and the rest is read (the kernel is not left blocked on the pipe)."""
    spool = tmp_path / "spool"
    data = cores["clean_bytes"] + bytes(8 << 20)
    h = start(spool, 800, "big", "--max-dump-size", "1M")
    t, res = writer(h, data)
    _, err = h.communicate(timeout=120)
    t.join()
    assert h.returncode == 2, err
    assert res["error"] is None and res["written"] == len(data)  # drained to the end
    v, dump = verdict_of(spool, "quarantine", "core.big")
    assert os.path.getsize(dump) == 1 << 20 and v["received"]["bytes"] == 1 << 20
    assert v["received"]["complete"] is False
    assert "max_dump_size" in v["reason"] and f"the core had {len(data)}" in v["reason"]
    assert v["verdict"] == "quarantine"


def test_keep_free_stores_nothing_counts_and_logs(cores, tmp_path):
    """When the spool's filesystem has less free space than --keep-free, the
    core is read and dropped (never stored), a CRIT line says so, and
    SPOOL/lost counts it; a script reads the count with cat."""
    spool = tmp_path / "spool"
    for i in range(2):
        h = start(spool, 810 + i, "full", "--keep-free", "1000T")
        t, res = writer(h, cores["dirty_bytes"])
        _, err = h.communicate(timeout=60)
        t.join()
        err = err.decode()
        assert h.returncode == 2, err
        assert res["written"] == len(cores["dirty_bytes"])  # drained
        assert "not stored" in err and "keep_free" in err and "is lost" in err, err
        assert int((spool / "lost").read_text()) == i + 1
        assert all(f == [] for f in spool_files(spool).values()), spool_files(spool)
    out = subprocess.run(["sh", "-c", f"echo $(( $(cat {spool}/lost) + 0 ))"],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "2"


def test_keep_free_from_the_configuration(cores, tmp_path):
    conf = tmp_path / "dg.yaml"
    conf.write_text("handler:\n  keep_free: 1000T\n  max_dump_size: 1M\n"
                    "  receive_timeout: 30\n  scan_user: nobody\n")
    spool = tmp_path / "spool"
    p = subprocess.run(handler(spool, 820, "conf", "--config", str(conf)),
                       input=cores["clean_bytes"], capture_output=True, timeout=60)
    assert p.returncode == 2 and b"keep_free" in p.stderr
    assert int((spool / "lost").read_text()) == 1
    conf.write_text("handler:\n  keep_free: 1X\n")
    p = subprocess.run(handler(spool, 821, "conf", "--config", str(conf)),
                       input=b"", capture_output=True, timeout=60)
    assert p.returncode == 2 and b"handler.keep_free" in p.stderr


def test_a_sender_that_stops_writing_does_not_hold_the_handler(cores, tmp_path):
    """Half a core, then silence with the pipe held open: after
    --receive-timeout the handler keeps what came, quarantines it as
    incomplete and exits (before: it waited for ever)."""
    spool = tmp_path / "spool"
    h = start(spool, 830, "stalls", "--receive-timeout", "2")
    half = cores["dirty_bytes"][:len(cores["dirty_bytes"]) // 2]
    h.stdin.write(half)
    h.stdin.flush()
    pipe, h.stdin = h.stdin, None  # held open, silent
    t0 = time.time()
    try:
        _, err = h.communicate(timeout=60)
    finally:
        if h.poll() is None:
            h.kill()
        pipe.close()
    assert time.time() - t0 < 30
    assert h.returncode == 2, err
    v, dump = verdict_of(spool, "quarantine", "core.stalls")
    assert v["received"]["complete"] is False and v["received"]["bytes"] == len(half)
    assert "did not arrive within 2 s" in v["reason"]
    assert open(dump, "rb").read() == half


def test_scan_of_a_stdin_that_stops_writing_ends(cores, tmp_path):
    """`scan -` with --scan-timeout: a client that sends part of a core and
    then nothing, pipe open, gets exit 2 and a warning naming the input."""
    for data in (b"", cores["dirty_bytes"][:100000]):
        p = subprocess.Popen([str(dgtest.DUMPGATE), "scan", "--scan-timeout", "2", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(data)
        p.stdin.flush()
        pipe, p.stdin = p.stdin, None  # held open, silent
        t0 = time.time()
        try:
            _, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
            pipe.close()
        assert time.time() - t0 < 30
        assert p.returncode == 2, err
        err = err.decode()
        assert "-: nothing" in err and "time budget" in err, err


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A 126 KB bzip2 file of 100 GiB of zeros (1,600 streams of 64 MiB)."""
    d = tmp_path_factory.mktemp("bomb")
    z = subprocess.run(["sh", "-c", "head -c 64M /dev/zero | bzip2 -9"], capture_output=True,
                       check=True).stdout
    path = d / "notes.bz2"
    path.write_bytes(z * 1600)
    return path, z


def test_a_compression_bomb_is_cut_by_max_decompressed(bomb):
    path, _ = bomb
    t0 = time.time()
    p = dgtest.run("scan", "--max-decompressed", "256M", path, timeout=120)
    assert time.time() - t0 < 60
    assert p.returncode == 2
    err = p.stderr.decode()
    assert f"{path}: bzip2: stopped after 268435456 decompressed bytes" in err, err
    assert "max_decompressed" in err


def test_a_compression_bomb_is_cut_by_the_time_budget(bomb, tmp_path):
    path, _ = bomb
    conf = tmp_path / "dg.yaml"
    conf.write_text("scan_timeout: 2\n")
    t0 = time.time()
    p = dgtest.run("scan", "--config", conf, "--quiet", path, timeout=120)
    assert time.time() - t0 < 30
    assert p.returncode == 2
    assert f"{path}: scan stopped by a budget" in p.stderr.decode()


def test_the_gate_quarantines_a_bomb_as_a_partial_scan(cores, bomb, tmp_path):
    """A real core followed by a bomb, compressed, as the core: the handler
    passes --max-decompressed on to its scan, which stops; the dump is
    quarantined as a partial scan."""
    _, zeros = bomb
    core = subprocess.run(["bzip2", "-1"], input=cores["clean_bytes"], capture_output=True,
                          check=True).stdout
    spool = tmp_path / "spool"
    p = subprocess.run(handler(spool, 840, "bomb", "--max-decompressed", "64M"),
                       input=core + zeros * 1600, capture_output=True, timeout=120)
    assert p.returncode == 1, p.stderr
    v, _ = verdict_of(spool, "quarantine", "core.bomb")
    assert v["reason"].startswith("partial scan:") and "max_decompressed" in v["reason"], v
    assert "--max-decompressed" in v["scan_options"]
