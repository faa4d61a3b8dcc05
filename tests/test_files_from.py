# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_files_from.py - issue 25: `scan --files-from LIST` and `scan
# --recursive DIR`: one process, one configuration, many dumps; a path that
# cannot be opened is that file's error and the scan goes on; the tree walk
# takes regular files only, follows no symlink, in a fixed order.
import os

import dgtest
import keys


def summaries(stdout):
    return [r for r in dgtest.records(stdout) if r["record"] == "summary"]


def test_files_from_list_and_stdin(tmp_path):
    pem = open(keys.genpkey(tmp_path / "k.pem", "p256"), "rb").read()
    key, _ = dgtest.plant(tmp_path, [pem], name="key.bin")
    clean = tmp_path / "clean.bin"
    clean.write_bytes(os.urandom(5000))
    lst = tmp_path / "list"
    lst.write_text(f"{clean}\n\n{tmp_path / 'missing'}\r\n{key}\n")
    for args, inp in ((["--files-from", lst], None), (["--files-from", "-"], lst.read_bytes())):
        r = dgtest.run("scan", "--no-config", "-f", "jsonl", *args, input=inp)
        summ = summaries(r.stdout)
        assert [s["file"] for s in summ] == [str(clean), str(tmp_path / "missing"), str(key)]
        assert [bool(s["errors"]) for s in summ] == [False, True, False]
        assert [x["record"] for x in dgtest.records(r.stdout)].count("finding") == 1
        assert b"missing: cannot open" in r.stderr
        assert r.returncode == 1  # the finding is not hidden by the missing file
    # without the key: the missing file makes it exit 2, the clean one 0
    lst.write_text(f"{clean}\n{tmp_path / 'missing'}\n")
    assert dgtest.run("scan", "--no-config", "--files-from", lst).returncode == 2
    lst.write_text(f"{clean}\n")
    r = dgtest.run("scan", "--no-config", "-f", "jsonl", "--files-from", lst, key)
    assert [s["file"] for s in summaries(r.stdout)] == [str(key), str(clean)]  # argv first
    assert r.returncode == 1


def test_files_from_errors(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x" * 100)
    r = dgtest.run("scan", "--no-config", "--files-from", tmp_path / "nope")
    assert r.returncode == 2 and b"--files-from" in r.stderr
    r = dgtest.run("scan", "--no-config", "--files-from", "-", "-", input=b"")
    assert r.returncode == 2
    r = dgtest.run("regions", "--files-from", f, f)
    assert r.returncode == 2 and b"option of scan" in r.stderr
    r = dgtest.run("scan", "--no-config", "--recursive", tmp_path / "nodir")
    assert r.returncode == 2 and b"--recursive" in r.stderr
    r = dgtest.run("scan", "--no-config", "--files-from", "-", input=b"\n\n")
    assert r.returncode == 0 and r.stdout == b""


def test_recursive_regular_files_in_order(tmp_path):
    d = tmp_path / "d"
    (d / "b" / "c").mkdir(parents=True)
    (d / "a").mkdir()
    for name in ("z.bin", "B.bin", "a/y.bin", "b/c/x.bin", "b/w.bin"):
        (d / name).write_bytes(os.urandom(3000))
    os.symlink(d / "z.bin", d / "link.bin")  # not followed, not scanned
    os.symlink(d / "a", d / "linkdir")
    os.mkfifo(d / "fifo")  # not a regular file: never opened
    r = dgtest.run("scan", "--no-config", "-f", "jsonl", "--recursive", d, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [s["file"] for s in summaries(r.stdout)] == [
        f"{d}/{n}" for n in ("B.bin", "a/y.bin", "b/c/x.bin", "b/w.bin", "z.bin")]
    r2 = dgtest.run("scan", "--no-config", "-f", "jsonl", "-r", f"{d}/", timeout=60)
    assert len(summaries(r2.stdout)) == 5


def test_help_and_man_page_name_them():
    r = dgtest.run("--help")
    assert b"--files-from LIST" in r.stdout and b"-r, --recursive DIR" in r.stdout
    man = (dgtest.ROOT / "docs" / "dumpgate.1").read_text()
    assert "files\\-from" in man and "recursive" in man
