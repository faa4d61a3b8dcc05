# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_malformed_corpus.py - runs every case of tests/malformed/cases.py: the
# expected exit status and message (naming the file), no crash, no hang (60 s),
# memory bounded (a 1 GiB address-space limit; sanitizer builds, which reserve
# terabytes of shadow, set DUMPGATE_SANITIZED=1 to lift it), and every byte of
# the input accounted for in the summary.
import os
import resource
import subprocess
import sys

import pytest

import dgtest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "malformed"))
import cases  # noqa: E402

AS_LIMIT = 1 << 30


def limit():
    if not os.environ.get("DUMPGATE_SANITIZED"):
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def test_corpus_has_at_least_60_cases():
    assert len(cases.CASES) >= 60


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_case(tmp_path, name):
    build, code, words = cases.CASES[name]
    try:
        data = build()
    except FileNotFoundError:
        pytest.skip("needs the public corpus")
    if data is None:
        pytest.skip("needs the public corpus")
    f = tmp_path / name
    f.write_bytes(bytes(data))
    r = subprocess.run([str(dgtest.DUMPGATE), "scan", "--format", "jsonl", str(f)],
                       capture_output=True, timeout=60, preexec_fn=limit)
    err = r.stderr.decode(errors="replace")
    assert r.returncode >= 0, f"killed by signal {-r.returncode}: {err[-2000:]}"
    assert r.returncode == code, err[-2000:]
    for w in words:
        assert w in err, (w, err[-2000:])
    if words:
        assert str(f) in err
    summ = [x for x in dgtest.records(r.stdout) if x["record"] == "summary"]
    assert len(summ) == 1
    if code == 0:
        cov = summ[0]["coverage"]
        assert cov["scanned_bytes"] == cov["file_bytes"]
        if not summ[0].get("compression"):
            assert cov["file_bytes"] == len(data)
    # The region map of the same input is readable too.
    rr = subprocess.run([str(dgtest.DUMPGATE), "regions", "--format", "jsonl", str(f)],
                        capture_output=True, timeout=60, preexec_fn=limit)
    assert rr.returncode in (0, 2) and rr.returncode >= 0


def test_sparse_64_gib_file(tmp_path):
    f = tmp_path / "sparse"
    with open(f, "wb") as fh:
        fh.truncate(64 << 30)
    r = subprocess.run([str(dgtest.DUMPGATE), "scan", "--format", "jsonl", str(f)],
                       capture_output=True, timeout=120, preexec_fn=limit)
    assert r.returncode == 0, r.stderr
    summ = [x for x in dgtest.records(r.stdout) if x["record"] == "summary"][0]
    assert summ["coverage"]["scanned_bytes"] == 64 << 30
