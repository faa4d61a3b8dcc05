# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_quarantine.py - `dumpgate quarantine list|show|release|expire` over a
# spool the real core handler filled, fed the way test_pipeline.py feeds it
# (the core on standard input, the core_pattern specifiers as arguments):
# a dirty dump is listed with its fingerprint, shown, released after review
# (moved to released/, never over an existing file, the verdict recording who,
# why and when and where the dump now is), handed to a release command; the
# retention policy deletes by age and by total size (--dry-run first), never
# follows or deletes a planted symbolic link and never touches clean/ or
# incoming/; dumps without a readable verdict are listed, strings from the
# dumped process are escaped; the Prometheus textfile has its gauges.
import calendar
import json
import os
import pwd
import re
import stat
import subprocess
import time

import pytest

import dgtest
import keys
from test_pipeline import feed, handler, verdict_of
from test_rules import mkcore

DAY = 86400


@pytest.fixture(scope="module")
def cores(tmp_path_factory):
    """A dirty synthetic core (a PEM EC key in a segment) and a clean one."""
    d = tmp_path_factory.mktemp("quarantine")
    key = keys.genpkey(d / "key.pem", "p256")
    pem = open(key, "rb").read()
    dirty_dir, clean_dir = d / "dirty", d / "clean"
    dirty_dir.mkdir()
    clean_dir.mkdir()
    dirty, _ = mkcore(dirty_dir, [(pem, 1, 100)], segments=2)
    clean, _ = mkcore(clean_dir, [(b"nothing to see here\n", 1, 100)], segments=2)
    return {"spki": dgtest.spki_sha256(key), "dirty": open(dirty, "rb").read(),
            "clean": open(clean, "rb").read(), "clean_path": clean,
            "key_lines": pem.decode().splitlines()[1:-1]}


def q(spool, *args, env=None, config=None):
    """Runs `dumpgate quarantine ARGS --spool SPOOL`."""
    cfg = ["--config", str(config)] if config else []
    return dgtest.run("quarantine", *args, "--spool", spool, *cfg, timeout=60, env=env)


def quarantine(spool, cores, pid, comm="holdkey", kind="dirty"):
    """Feeds a core to the real handler; returns (verdict, dump path)."""
    p = feed(spool, cores[kind], pid, comm)
    assert p.returncode == (1 if kind == "dirty" else 0), p.stderr
    return verdict_of(spool, "quarantine" if kind == "dirty" else "clean",
                      f"core.{comm}.1000.{pid}.")


def listed(spool):
    p = q(spool, "list", "--format", "jsonl")
    assert p.returncode == 0, p.stderr
    return {r["name"]: r for r in dgtest.records(p.stdout)}


def test_list_show_release(cores, tmp_path):
    spool = tmp_path / "spool"
    v, dump = quarantine(spool, cores, 4242)
    name = os.path.basename(dump)
    # the verdict says where the dump is, absolutely
    assert v["path"] == str(spool.resolve() / "quarantine" / name)

    p = q(spool, "list")
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    line, = out.splitlines()
    assert line.startswith(name + ": ") and "1 finding (fail-on high)" in line
    assert f"spki_sha256={cores['spki']}" in line and " old" in line
    rec = listed(spool)[name]
    assert rec["bytes"] == len(cores["dirty"]) and rec["findings"] == 1
    assert rec["fingerprints"] == [f"spki_sha256={cores['spki']}"]
    assert rec["verdict"] == "quarantine" and rec["verdict_error"] is None
    assert rec["path"] == v["path"] and 0 <= rec["age_seconds"] < 600

    p = q(spool, "show", name)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "reason:    1 finding (fail-on high)" in out
    assert "comm holdkey" in out and "pid 4242" in out
    assert re.search(rf"^    high ec-private-key \(long-term\) spki_sha256={cores['spki']} ",
                     out, re.M), out
    p = q(spool, "show", name, "--format", "jsonl")
    assert p.returncode == 0 and json.loads(p.stdout) == v
    # nothing secret anywhere
    for text in (out, p.stdout.decode()):
        assert not [ln for ln in cores["key_lines"] if ln in text]

    # a reason is required
    p = q(spool, "release", name)
    assert p.returncode == 2 and b"--reason" in p.stderr
    t0 = time.time()
    p = q(spool, "release", name, "--reason", "reviewed: test key", "--by", "tester")
    assert p.returncode == 0, p.stderr
    assert f"released {name}".encode() in p.stdout
    rel = spool / "released"
    assert sorted(os.listdir(rel)) == sorted([name, name[:-5] + ".json"])
    assert os.listdir(spool / "quarantine") == []
    assert stat.S_IMODE(os.stat(rel).st_mode) == 0o700
    assert open(rel / name, "rb").read() == cores["dirty"]
    r = json.load(open(rel / (name[:-5] + ".json")))
    assert r["verdict"] == "released" and r["path"] == str(spool.resolve() / "released" / name)
    assert r["released"]["by"] == "tester" and r["released"]["reason"] == "reviewed: test key"
    assert r["released"]["from"] == "quarantine"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["released"]["time"])
    released_at = calendar.timegm(time.strptime(r["released"]["time"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(released_at - t0) < 60
    assert r["findings"] == v["findings"] and r["reason"] == v["reason"]
    assert listed(spool) == {}
    assert q(spool, "list").stdout == b""
    # show finds it in released/
    p = q(spool, "show", name)
    assert p.returncode == 0 and b"by tester" in p.stdout and b"in:        released/" in p.stdout
    # a second release: nothing to release
    p = q(spool, "release", name, "--reason", "again")
    assert p.returncode == 2 and b"released already" in p.stderr

    # WHO: $SUDO_USER when set, else the user of getuid()
    _, dump2 = quarantine(spool, cores, 4243)
    _, dump3 = quarantine(spool, cores, 4244)
    env = dict(os.environ, SUDO_USER="alice")
    assert q(spool, "release", os.path.basename(dump2), "--reason", "ok",
             env=env).returncode == 0
    env.pop("SUDO_USER")
    # the name without .core is accepted too
    assert q(spool, "release", os.path.basename(dump3)[:-5], "--reason", "ok",
             env=env).returncode == 0
    by = {json.load(open(rel / f))["process"]["pid"]: json.load(open(rel / f))["released"]["by"]
          for f in os.listdir(rel) if f.endswith(".json")}
    assert by == {"4242": "tester", "4243": "alice", "4244": pwd.getpwuid(os.getuid()).pw_name}


def test_release_never_replaces(cores, tmp_path):
    """A name that exists in released/ is refused and nothing is lost."""
    spool = tmp_path / "spool"
    v, dump = quarantine(spool, cores, 5000)
    name = os.path.basename(dump)
    vname = name[:-5] + ".json"
    before = open(spool / "quarantine" / vname).read()
    rel = spool / "released"
    rel.mkdir(mode=0o700)
    (rel / name).write_bytes(b"an earlier dump of the same name")
    p = q(spool, "release", name, "--reason", "reviewed")
    assert p.returncode == 2
    err = p.stderr.decode()
    assert "already exists" in err and f"released/{name}" in err and "nothing moved" in err
    assert (rel / name).read_bytes() == b"an earlier dump of the same name"
    assert open(dump, "rb").read() == cores["dirty"]
    assert open(spool / "quarantine" / vname).read() == before
    # only the verdict's name taken: refused as well, before anything moves
    os.unlink(rel / name)
    (rel / vname).write_text("{}")
    p = q(spool, "release", name, "--reason", "reviewed")
    assert p.returncode == 2 and f"released/{vname} already exists".encode() in p.stderr
    assert (rel / vname).read_text() == "{}" and os.listdir(rel) == [vname]
    assert sorted(os.listdir(spool / "quarantine")) == sorted([name, vname])
    assert listed(spool)[name]["findings"] == 1


def test_release_command(cores, tmp_path):
    spool = tmp_path / "spool"
    _, d1 = quarantine(spool, cores, 6001)
    _, d2 = quarantine(spool, cores, 6002)
    _, d3 = quarantine(spool, cores, 6003)
    p = q(spool, "release", os.path.basename(d1), "--reason", "ok", "--command", "/bin/true")
    assert p.returncode == 0, p.stderr
    assert b"command /bin/true: exit status 0" in p.stdout

    # a script that records its one argument; named by the configuration file
    out = tmp_path / "uploaded"
    script = tmp_path / "upload.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s|%s\\n" "$#" "$1" >> {out}\n')
    script.chmod(0o755)
    cfg = tmp_path / "dumpgate.yaml"
    cfg.write_text("quarantine:\n  release_command: upload.sh\n")  # relative to the file
    p = q(spool, "release", os.path.basename(d2), "--reason", "ok", config=cfg)
    assert p.returncode == 0, p.stderr
    target = spool.resolve() / "released" / os.path.basename(d2)
    assert out.read_text() == f"1|{target}\n"
    assert target.exists()

    # a command that fails: exit 2, and the dump stays released
    p = q(spool, "release", os.path.basename(d3), "--reason", "ok", "--command", "/bin/false")
    assert p.returncode == 2
    assert b"exit status 1" in p.stdout and b"released, but" in p.stderr
    assert (spool / "released" / os.path.basename(d3)).exists()
    p = q(spool, "release", "nope", "--reason", "ok")
    assert p.returncode == 2 and b"not the name of a dump" in p.stderr


def entry_bytes(spool, dump):
    return os.path.getsize(dump) + os.path.getsize(os.path.join(
        spool, "quarantine", os.path.basename(dump)[:-5] + ".json"))


def test_expire_by_age_then_by_size(cores, tmp_path):
    spool = tmp_path / "spool"
    dumps = [quarantine(spool, cores, 7000 + i)[1] for i in range(4)]
    clean_v, clean_dump = quarantine(spool, cores, 7100, comm="sleep", kind="clean")
    assert clean_v["path"] == str(spool.resolve() / "clean" / os.path.basename(clean_dump))
    left_in_incoming = spool / "incoming" / "core.left.1000.1.11.1.1.core"
    left_in_incoming.write_bytes(b"x")
    now = time.time()
    ages = [40, 20, 10, 1]  # days
    for d, age in zip(dumps, ages):
        os.utime(d, (now - age * DAY, now - age * DAY))
    untouched = {p: open(p, "rb").read() for p in (clean_dump, left_in_incoming)}

    p = q(spool, "expire")
    assert p.returncode == 2 and b"no retention policy" in p.stderr

    p = q(spool, "expire", "--max-age-days", "30", "--dry-run")
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert f"would delete {os.path.basename(dumps[0])}" in out and "older than 30 days" in out
    assert len(listed(spool)) == 4
    p = q(spool, "expire", "--max-age-days", "30")
    assert p.returncode == 0, p.stderr
    assert f"deleted {os.path.basename(dumps[0])}".encode() in p.stdout
    assert not os.path.exists(dumps[0])
    assert not os.path.exists(dumps[0][:-5] + ".json")
    assert sorted(listed(spool)) == sorted(os.path.basename(d) for d in dumps[1:])

    # by size, from the configuration file, the command line winning: oldest first
    # until at most the limit is left
    limit = entry_bytes(spool, dumps[3]) + 100
    cfg = tmp_path / "dumpgate.yaml"
    cfg.write_text("quarantine:\n  max_age_days: 3650\n  max_total_bytes: 1G\n")
    p = q(spool, "expire", "--dry-run", config=cfg)
    assert p.returncode == 0 and b"would expire 0 dumps" in p.stdout, p.stdout
    p = q(spool, "expire", "--dry-run", "--max-total", str(limit), config=cfg)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().count("would delete ") == 2
    assert len(listed(spool)) == 3
    cfg.write_text(f"quarantine:\n  max_total_bytes: {limit}\n")
    p = q(spool, "expire", config=cfg)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert out.index(os.path.basename(dumps[1])) < out.index(os.path.basename(dumps[2]))
    assert list(listed(spool)) == [os.path.basename(dumps[3])]
    assert sorted(os.listdir(spool / "quarantine")) == sorted(
        [os.path.basename(dumps[3]), os.path.basename(dumps[3])[:-5] + ".json"])
    # never clean/ or incoming/
    for path, data in untouched.items():
        assert open(path, "rb").read() == data
    assert len(os.listdir(spool / "clean")) == 2


def test_symlinks_are_never_followed_or_deleted(cores, tmp_path):
    spool = tmp_path / "spool"
    _, dump = quarantine(spool, cores, 8000)
    precious = tmp_path / "precious"
    precious.write_bytes(b"not a dump" * 1000)
    qdir = spool / "quarantine"
    link = qdir / "core.evil.1000.1.11.1.1.core"
    os.symlink(precious, link)
    os.symlink(precious, qdir / "core.evil.1000.1.11.1.1.json")
    os.mkdir(qdir / "core.dir.1000.1.11.1.1.core")
    old = time.time() - 400 * DAY
    os.utime(link, (old, old), follow_symlinks=False)
    os.utime(dump, (old, old))

    p = q(spool, "list")
    assert p.returncode == 0
    assert b"core.evil" not in p.stdout and os.path.basename(dump).encode() in p.stdout
    assert b"core.evil.1000.1.11.1.1.core: not a regular file (a symbolic link)" in p.stderr
    p = q(spool, "expire", "--max-age-days", "1", "--max-total", "1")
    assert p.returncode == 0, p.stderr
    assert b"core.evil" not in p.stdout
    assert not os.path.exists(dump)
    assert os.path.islink(link) and os.path.islink(qdir / "core.evil.1000.1.11.1.1.json")
    assert precious.read_bytes() == b"not a dump" * 1000
    assert os.path.isdir(qdir / "core.dir.1000.1.11.1.1.core")
    # release and show refuse it too
    p = q(spool, "release", link.name, "--reason", "x")
    assert p.returncode == 2 and b"not a regular file" in p.stderr
    assert os.path.islink(link) and not (spool / "released" / link.name).exists()
    # a quarantine/ that is itself a symbolic link is not opened
    spool2 = tmp_path / "spool2"
    spool2.mkdir()
    os.symlink(qdir, spool2 / "quarantine")
    p = q(spool2, "expire", "--max-total", "1")
    assert p.returncode == 2 and b"spool2: quarantine/: not a directory" in p.stderr


def test_dumps_without_verdict_are_listed_and_text_is_escaped(cores, tmp_path):
    spool = tmp_path / "spool"
    v, dump = quarantine(spool, cores, 9000)
    qdir = spool / "quarantine"
    (qdir / "core.noverdict.1000.1.11.1.1.core").write_bytes(b"x" * 10)
    (qdir / "core.badverdict.1000.1.11.1.1.core").write_bytes(b"y" * 10)
    (qdir / "core.badverdict.1000.1.11.1.1.json").write_text("{not json")
    # a reason taken from the dumped process, with a terminal escape and a newline
    vpath = dump[:-5] + ".json"
    v["reason"] = "evil \x1b[31mred\nsecond line \\ \u00e9"
    json.dump(v, open(vpath, "w"))
    p = q(spool, "list")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 3
    no = [ln for ln in lines if "noverdict" in ln][0]
    assert "no verdict (core.noverdict.1000.1.11.1.1.json: missing)" in no
    bad = [ln for ln in lines if "badverdict" in ln][0]
    assert "no verdict (core.badverdict.1000.1.11.1.1.json: not JSON" in bad
    mine = [ln for ln in lines if os.path.basename(dump) in ln][0]
    assert 'evil \\x1b[31mred\\x0asecond line \\\\ \\xc3\\xa9"' in mine
    assert b"\x1b" not in p.stdout
    p = q(spool, "show", os.path.basename(dump))
    assert b"\x1b" not in p.stdout and b"\\x1b[31mred\\x0asecond" in p.stdout
    recs = listed(spool)
    assert recs["core.noverdict.1000.1.11.1.1.core"]["verdict_error"] == "missing"
    assert recs["core.noverdict.1000.1.11.1.1.core"]["findings"] is None
    # show of a dump without verdict: said in text, an error in JSONL
    p = q(spool, "show", "core.noverdict.1000.1.11.1.1.core")
    assert p.returncode == 0 and b"verdict:   none" in p.stdout
    p = q(spool, "show", "core.noverdict.1000.1.11.1.1.core", "--format", "jsonl")
    assert p.returncode == 2 and b"no verdict" in p.stderr
    # a dump without verdict can be released (with a new verdict); a bad one cannot
    p = q(spool, "release", "core.noverdict.1000.1.11.1.1.core", "--reason", "empty")
    assert p.returncode == 0, p.stderr
    r = json.load(open(spool / "released" / "core.noverdict.1000.1.11.1.1.json"))
    assert r["verdict"] == "released" and r["released"]["reason"] == "empty"
    p = q(spool, "release", "core.badverdict.1000.1.11.1.1.core", "--reason", "x")
    assert p.returncode == 2 and b"not JSON" in p.stderr
    assert (qdir / "core.badverdict.1000.1.11.1.1.core").exists()


METRIC = re.compile(r"^(?:# HELP [a-z_]+ .+|# TYPE [a-z_]+ (?:gauge|counter)|"
                    r"([a-z_]+) ([0-9]+(?:\.[0-9]+)?))$")


def metrics(path):
    """Parses a Prometheus text file: {name: value}, every line checked."""
    out, types = {}, {}
    text = path.read_text()
    assert text.endswith("\n")
    for line in text.splitlines():
        m = METRIC.match(line)
        assert m, line
        if line.startswith("# TYPE"):
            types[line.split()[2]] = line.split()[3]
        elif m.group(1):
            assert types.get(m.group(1)) == "gauge", line
            out[m.group(1)] = float(m.group(2))
    return out


def test_metrics(cores, tmp_path):
    spool = tmp_path / "spool"
    prom = tmp_path / "textfile" / "dumpgate.prom"
    prom.parent.mkdir()
    # the handler writes them after each dump when asked
    p = subprocess.run(handler(spool, 9100, "holdkey", "--metrics", str(prom)),
                       input=cores["dirty"], capture_output=True, timeout=60)
    assert p.returncode == 1, p.stderr
    m = metrics(prom)
    assert m["dumpgate_quarantine_dumps"] == 1 and m["dumpgate_clean_dumps"] == 0
    _, d2 = quarantine(spool, cores, 9101)
    quarantine(spool, cores, 9102, comm="sleep", kind="clean")
    os.utime(d2, (time.time() - 3600, time.time() - 3600))
    _, d3 = quarantine(spool, cores, 9103)
    assert q(spool, "release", os.path.basename(d3), "--reason", "ok",
             "--metrics", str(prom)).returncode == 0
    m = metrics(prom)
    qdir = spool / "quarantine"
    assert m == {
        "dumpgate_quarantine_dumps": 2,
        "dumpgate_quarantine_bytes": sum(os.path.getsize(qdir / f) for f in os.listdir(qdir)),
        "dumpgate_released_dumps": 1,
        "dumpgate_clean_dumps": 1,
        "dumpgate_quarantine_oldest_seconds": m["dumpgate_quarantine_oldest_seconds"],
    }
    assert 3600 <= m["dumpgate_quarantine_oldest_seconds"] < 3600 + 300
    assert stat.S_IMODE(os.stat(prom).st_mode) == 0o644
    assert os.listdir(prom.parent) == ["dumpgate.prom"]  # no temporary left
    # from the configuration file, on every action (expire --dry-run too)
    cfg = tmp_path / "dumpgate.yaml"
    cfg.write_text(f"quarantine:\n  metrics_file: {prom}\n")
    os.unlink(prom)
    assert q(spool, "expire", "--max-total", "1", "--dry-run", config=cfg).returncode == 0
    assert metrics(prom)["dumpgate_quarantine_dumps"] == 2
    p = q(spool, "list", "--metrics", str(tmp_path / "nodir" / "x.prom"))
    assert p.returncode == 2 and b"nodir/x.prom" in p.stderr


@pytest.mark.parametrize("text, why", [
    ("quarantine:\n  max_age_days: 0\n", ":2: quarantine.max_age_days must be a whole number"),
    ("quarantine:\n  max_total_bytes: lots\n", ":2: quarantine.max_total_bytes must be"),
    ("quarantine:\n  max_age_day: 10\n", ":2: unknown key 'quarantine.max_age_day' (did you "
                                          "mean max_age_days?)"),
    ("quarantine: 5\n", ":1: quarantine must be a mapping"),
])
def test_bad_configuration_and_arguments(tmp_path, text, why):
    spool = tmp_path / "spool"
    (spool / "quarantine").mkdir(parents=True)
    cfg = tmp_path / "dumpgate.yaml"
    cfg.write_text(text)
    p = q(spool, "list", config=cfg)
    assert p.returncode == 2 and (str(cfg) + why).encode() in p.stderr, p.stderr


def test_errors_name_the_spool(tmp_path):
    p = q(tmp_path / "nospool", "list")
    assert p.returncode == 2
    assert p.stderr.decode().strip() == f"dumpgate: error: spool {tmp_path}/nospool: No such file or directory"
    for args, msg in ((["frob"], b"unknown quarantine action"),
                      (["list", "extra"], b"takes no NAME"),
                      (["show"], b"takes one NAME"),
                      (["list", "--dry-run"], b"--dry-run is not an option of quarantine list"),
                      (["expire", "--max-total", "0"], b"--max-total takes"),
                      (["list", "-d", "pem"], b"-d is not an option of quarantine")):
        p = q(tmp_path, *args)
        assert p.returncode == 2 and msg in p.stderr, (args, p.stderr)
    p = dgtest.run("scan", "--dry-run", "x")
    assert p.returncode == 2 and b"--dry-run is an option of quarantine" in p.stderr


def test_sweep_verdict_path_points_at_the_dump(cores, tmp_path):
    """A clean swept dump stays where systemd-coredump put it: its verdict's path says so."""
    store = tmp_path / "coredump"
    store.mkdir()
    name = "core.sleep.1000.0123456789abcdef0123456789abcdef.4243.1763800001000000"
    (store / name).write_bytes(cores["clean"])
    spool = tmp_path / "spool"
    r = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool), "--sweep",
                        str(store)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    v = json.load(open(spool / "clean" / (name + ".json")))
    assert v["path"] == str(store.resolve() / name)
