# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_fuzz_replay.py - every fuzz harness runs, without libFuzzer, over a
# seed corpus made on the spot (fuzz/seeds.sh) and over its committed crash
# reproducers (fuzz/corpus/<harness>/, if any): the regression run of the
# fuzzers that needs no clang.
import subprocess

import pytest

import dgtest

REPLAYS = sorted(p for p in (dgtest.BUILD / "fuzz").glob("replay_*") if p.is_file())


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds")
    subprocess.run([str(dgtest.ROOT / "fuzz" / "seeds.sh"), str(out), str(dgtest.BUILD)],
                   check=True, capture_output=True, timeout=300)
    return out


@pytest.mark.parametrize("replay", REPLAYS, ids=[p.name for p in REPLAYS])
def test_replay(replay, seeds):
    name = replay.name[len("replay_"):]
    dirs = [str(seeds / name), str(seeds / "scan"), str(dgtest.ROOT / "fuzz" / "corpus" / name)]
    r = subprocess.run([str(replay), *dirs], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "ok 1 " in r.stdout or "1..0" in r.stdout
