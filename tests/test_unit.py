# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_unit.py - runs each C unit test program (built by meson from
# tests/unit/*.c) and fails on any "not ok" line or a non-zero exit.
import subprocess

import pytest

import dgtest

UNITS = sorted(p for p in (dgtest.BUILD / "tests").glob("test_*") if p.is_file() and p.stat().st_mode & 0o111)


@pytest.mark.parametrize("exe", UNITS, ids=[p.name for p in UNITS])
def test_unit(exe):
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=900)
    failed = [l for l in r.stdout.splitlines() if l.startswith("not ok")]
    assert r.returncode == 0 and not failed, r.stdout[-4000:] + r.stderr[-2000:]
    assert any(l.startswith("ok") for l in r.stdout.splitlines()), "no test ran"
