# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_pipeline.py - dumpgate in crash pipelines, without root where it can:
# the core_pattern handler fed the way the kernel feeds it (the core on a pipe
# on standard input, the specifiers %P %u %s %t %e as arguments): dirty, clean
# and unparsable dumps, a scanner that crashes or hangs, 20 dumps at once,
# SIGKILL in the middle of a 1 GiB dump and recovery, a spool that fills up;
# the systemd-coredump sweep; the scan options (--rules, --plugin, ...) the
# handler passes to its scans, and refuses at start-up when they are wrong;
# and the real `pre-commit` tool with this repository's .pre-commit-hooks.yaml.
# Every dump must be accounted for.
import glob
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

import dgtest
import keys
from conftest import gcore
from test_compressed import compress
from test_plugins import MARKER, installed, marker_so, mkcore_with  # noqa: F401 (fixtures)
from test_rules import RULE, TOKEN, mkcore


@pytest.fixture(scope="module")
def cores(tmp_path_factory):
    """A dirty core (holdkey with an RSA key) and a clean one (sleep)."""
    d = tmp_path_factory.mktemp("pipeline")
    key = keys.genpkey(d / "key.pem", "rsa2048")
    out = {"spki": dgtest.spki_sha256(key), "key_lines": open(key).read().splitlines()[1:-1]}
    for name, argv in (("dirty", [dgtest.HOLDKEY, key]),
                       ("clean", ["sleep", "600"])):
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        try:
            if name == "dirty":
                assert b"ready" in p.stdout.readline()
            out[name] = gcore(p.pid, d / name)
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
        out[name + "_bytes"] = open(out[name], "rb").read()
    return out


def handler(spool, pid, comm, *extra, uid=1000, sig=11, t=1763800000):
    """argv of the handler as core_pattern runs it: |dumpgate core-handler ... -- %P %u %s %t %e"""
    return [str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool), "--log-stderr", *extra,
            "--", str(pid), str(uid), str(sig), str(t), comm]


def feed(spool, data, pid, comm, *extra, timeout=300):
    """Runs the handler with data written into its standard input (a pipe)."""
    return subprocess.run(handler(spool, pid, comm, *extra), input=data, capture_output=True,
                          timeout=timeout)


def spool_files(spool):
    return {d: sorted(os.listdir(os.path.join(spool, d)))
            for d in ("incoming", "clean", "quarantine")}


def verdict_of(spool, where, pattern):
    files = glob.glob(os.path.join(spool, where, pattern + "*.json"))
    assert len(files) == 1, (pattern, spool_files(spool))
    v = json.load(open(files[0]))
    dump = os.path.join(spool, where, v["dump"])
    assert os.path.exists(dump)
    return v, dump


def test_dirty_clean_and_unparsable(cores, tmp_path):
    spool = tmp_path / "spool"
    p = feed(spool, cores["dirty_bytes"], 4242, "holdkey")
    assert p.returncode == 1, p.stderr
    v, dump = verdict_of(spool, "quarantine", "core.holdkey.1000.4242.11.1763800000")
    assert v["verdict"] == "quarantine" and v["received"]["complete"]
    assert v["process"] == {"pid": "4242", "uid": "1000", "signal": "11", "time": "1763800000",
                            "comm": "holdkey"}
    assert any(f["key"]["spki_sha256"] == cores["spki"] for f in v["findings"])
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600
    assert open(dump, "rb").read() == cores["dirty_bytes"]
    assert "quarantine" in p.stderr.decode() and "holdkey" in p.stderr.decode()
    # Nothing secret in the verdict: no line of the key's base64 body.
    text = open(glob.glob(str(spool / "quarantine/*.json"))[0]).read()
    assert not [ln for ln in cores["key_lines"] if ln in text]

    p = feed(spool, cores["clean_bytes"], 4243, "sleep")
    assert p.returncode == 0, p.stderr
    v, dump = verdict_of(spool, "clean", "core.sleep.1000.4243")
    assert v["verdict"] == "clean" and v["findings"] == []
    assert os.path.getsize(dump) == len(cores["clean_bytes"])

    p = feed(spool, b"this is not a core\n" * 100, 4244, "bad comm/..")
    assert p.returncode == 1
    v, _ = verdict_of(spool, "quarantine", "core.bad_comm___.1000.4244")
    assert v["reason"].startswith("unparsable dump")
    assert spool_files(spool)["incoming"] == []


def test_scanner_crash_and_timeout_quarantine(cores, tmp_path):
    spool = tmp_path / "spool"
    crash = tmp_path / "crash.sh"
    crash.write_text("#!/bin/sh\nkill -SEGV $$\n")
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nexec sleep 600\n")
    for s in (crash, hang):
        s.chmod(0o755)
    p = feed(spool, cores["clean_bytes"], 1, "crashy", "--scanner", str(crash))
    assert p.returncode == 1
    v, _ = verdict_of(spool, "quarantine", "core.crashy")
    assert v["reason"].startswith("scanner crashed") and v["scan"]["signal"] == signal.SIGSEGV
    t0 = time.time()
    p = feed(spool, cores["clean_bytes"], 2, "hangs", "--scanner", str(hang), "--timeout", "1")
    assert p.returncode == 1 and time.time() - t0 < 30
    v, _ = verdict_of(spool, "quarantine", "core.hangs")
    assert v["reason"].startswith("scan timed out") and v["scan"]["timed_out"]
    p = feed(spool, cores["clean_bytes"], 3, "noscanner", "--scanner", str(tmp_path / "nope"))
    v, _ = verdict_of(spool, "quarantine", "core.noscanner")
    assert v["reason"].startswith("scanner error")


def test_twenty_dumps_at_once(cores, tmp_path):
    spool = tmp_path / "spool"
    procs = []
    for i in range(20):
        kind = "dirty" if i % 2 == 0 else "clean"
        procs.append((kind, subprocess.Popen(handler(spool, 5000 + i, f"{kind}{i}"),
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE)))

    def write(p, data):
        for off in range(0, len(data), 65536):  # the kernel writes a page at a time
            p.stdin.write(data[off:off + 65536])
        p.stdin.close()

    threads = [threading.Thread(target=write, args=(p, cores[k + "_bytes"])) for k, p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for kind, p in procs:
        p.wait(timeout=300)
        err = p.stderr.read().decode()
        p.stdout.close()
        p.stderr.close()
        assert p.returncode == (1 if kind == "dirty" else 0), err
    files = spool_files(spool)
    assert files["incoming"] == []
    for i in range(20):
        kind = "dirty" if i % 2 == 0 else "clean"
        where = "quarantine" if kind == "dirty" else "clean"
        v, dump = verdict_of(spool, where, f"core.{kind}{i}.1000.{5000 + i}.")
        assert open(dump, "rb").read() == cores[kind + "_bytes"]
    assert len(files["quarantine"]) == len(files["clean"]) == 20  # 10 dumps + 10 verdicts


def test_sigkill_in_the_middle_of_a_1gib_dump(cores, tmp_path):
    """The handler is killed while a 1 GiB core streams in; the next start
    finds the partial dump, scans it and quarantines it as incomplete."""
    spool = tmp_path / "spool"
    total = 1 << 30
    p = subprocess.Popen(handler(spool, 7777, "bigone"), stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()

    def write():
        try:
            p.stdin.write(cores["dirty_bytes"])
            zeros = bytes(1 << 20)
            sent = len(cores["dirty_bytes"])
            while sent < total and not stop.is_set():
                p.stdin.write(zeros)
                sent += len(zeros)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=write)
    t.start()
    deadline = time.time() + 120
    part = None
    while time.time() < deadline:
        parts = glob.glob(str(spool / "incoming" / "*.part"))
        if parts and os.path.getsize(parts[0]) > 256 << 20:
            part = parts[0]
            break
        time.sleep(0.05)
    assert part, spool_files(spool)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    stop.set()
    t.join()
    p.stdin.close() if not p.stdin.closed else None
    p.stderr.close()
    assert spool_files(spool)["incoming"] == [os.path.basename(part)]
    size = os.path.getsize(part)
    assert 256 << 20 < size < total

    r = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool), "--recover",
                        "--log-stderr"], capture_output=True, timeout=600)
    assert r.returncode == 1, r.stderr
    assert "recovering" in r.stderr.decode()
    files = spool_files(spool)
    assert files["incoming"] == []
    v, dump = verdict_of(spool, "quarantine", "core.bigone.1000.7777")
    assert os.path.getsize(dump) == size == v["received"]["bytes"]
    assert v["received"]["complete"] is False and v["reason"].startswith("incomplete dump")
    assert any(f["key"]["spki_sha256"] == cores["spki"] for f in v["findings"])
    assert v["summary"]["coverage"]["scanned_bytes"] == size


@pytest.fixture
def small_fs(tmp_path):
    """A 16 MiB tmpfs when the test may mount one, else None (ulimit -f then)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() == 0 and shutil.which("mount"):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs",
                            str(mnt)], capture_output=True)
        if r.returncode == 0:
            yield mnt
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
            return
    yield None


def test_spool_fills_up(cores, tmp_path, small_fs):
    """Dumps keep arriving on a spool that fills up: each handler reports the
    error, keeps what it received, and every dump is accounted for."""
    spool = (small_fs or tmp_path) / "spool"
    pad = bytes(5 << 20)  # each dump: a real core then 5 MiB of zeros
    limit = None
    if small_fs is None:
        import resource
        limit = 4 << 20

        def limit_fsize():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    results = []
    for i in range(6):
        kind = "dirty" if i % 2 == 0 else "clean"
        data = cores[kind + "_bytes"] + pad
        p = subprocess.run(handler(spool, 9000 + i, f"{kind}{i}"), input=data,
                           capture_output=True, timeout=300,
                           preexec_fn=limit_fsize if limit else None)
        results.append((i, kind, len(data), p.returncode, p.stderr.decode()))
    errors = [r for r in results if "spool write failed" in r[4] or "cannot spool" in r[4]]
    assert errors, f"the spool never filled up: {results}"
    lost = 0
    for i, kind, n, rc, err in results:
        stem = f"core.{kind}{i}.1000.{9000 + i}."
        found = [(d, f) for d, fs in spool_files(spool).items() for f in fs if f.startswith(stem)]
        if not found:
            # Not one byte could be stored: the handler must have said so.
            assert rc == 2 and "the core is lost" in err, (i, err)
            lost += 1
            continue
        dumps = [(d, f) for d, f in found if not f.endswith(".json")]
        assert len(dumps) == 1, found
        where, name = dumps[0]
        size = os.path.getsize(os.path.join(spool, where, name))
        if where == "clean":
            assert size == n and kind == "clean"
            continue
        if size < n:
            # Kept what it had, quarantined it (or left it in incoming/ with the
            # error logged when not even the verdict fitted), and said so.
            assert "spool write failed" in err and rc == 2, (i, err)
            assert where in ("quarantine", "incoming")
        if where == "quarantine" and any(f == name[:-5] + ".json" for _, f in found):
            v = json.load(open(os.path.join(spool, where, name[:-5] + ".json")))
            assert v["received"]["bytes"] == size
            assert v["verdict"] == "quarantine"
    assert lost < len(results)


def test_sweep_systemd_coredump(cores, tmp_path):
    """What systemd-coredump stored: dirty dumps move to quarantine with a
    verdict, clean ones stay with a verdict, temporaries are left alone, and a
    second sweep changes nothing."""
    store = tmp_path / "coredump"
    store.mkdir()
    boot = "0123456789abcdef0123456789abcdef"
    dirty = f"core.holdkey.1000.{boot}.4242.1763800000000000.zst"
    clean = f"core.sleep.1000.{boot}.4243.1763800001000000.zst"
    compress(cores["dirty"], "zst", store / dirty)
    compress(cores["clean"], "zst", store / clean)
    (store / f".#core.other.1000.{boot}.1.1.zst").write_bytes(b"being written")
    spool = tmp_path / "spool"
    argv = [str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool), "--sweep", str(store),
            "--log-stderr"]
    r = subprocess.run(argv, capture_output=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert sorted(os.listdir(store)) == sorted([clean, f".#core.other.1000.{boot}.1.1.zst"])
    v, dump = verdict_of(spool, "quarantine", dirty)
    assert v["process"]["comm"] == "holdkey" and v["process"]["pid"] == "4242"
    assert v["summary"]["compression"] == "zstd"
    assert any(f["key"]["spki_sha256"] == cores["spki"] for f in v["findings"])
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600
    assert json.load(open(spool / "clean" / (clean + ".json")))["verdict"] == "clean"
    before = spool_files(spool)
    r = subprocess.run(argv, capture_output=True, timeout=300)
    assert r.returncode == 0 and spool_files(spool) == before


# --- the scan options the handler passes on -----------------------------------------


def test_handler_passes_rules_to_its_scans(tmp_path):
    """A dump whose only secret is a rule's match (no private key): clean
    without --rules, quarantined with them, in every mode that scans
    (receive, --recover, --sweep); the verdict lists the options in force
    and never a --p12-pass password."""
    rules = tmp_path / "acme.yaml"
    rules.write_text(RULE)
    core, _ = mkcore(tmp_path, [(f"token={TOKEN}\n".encode(), 1, 500)], segments=2)
    data = open(core, "rb").read()
    spool = tmp_path / "spool"

    p = feed(spool, data, 100, "norules")
    assert p.returncode == 0, p.stderr
    v, _ = verdict_of(spool, "clean", "core.norules")
    assert v["findings"] == [] and v["scan_options"] == []

    # the rule declares medium (the default pack's credentials are high): --fail-on medium
    p = feed(spool, data, 101, "rules", "--fail-on", "medium", "--rules", str(rules),
             "--p12-pass", "hunter2")
    assert p.returncode == 1, p.stderr
    v, _ = verdict_of(spool, "quarantine", "core.rules")
    assert v["reason"] == "1 finding (fail-on medium)"
    assert [(f["detector"], f["encoding"], f["text"]) for f in v["findings"]] == [
        ("rules", "acme-token", "ascii")]
    assert v["scan_options"] == ["--rules", str(rules), "--p12-pass", "(not shown)"]
    text = open(glob.glob(str(spool / "quarantine/core.rules*.json"))[0]).read()
    assert "hunter2" not in text and TOKEN not in text

    # -d chooses the built-in detectors; --rules still adds its own, as for scan
    p = feed(spool, data, 102, "default", "-d", "pem", "--rules", "default", "--rules",
             str(rules))
    assert p.returncode == 1, p.stderr
    v, _ = verdict_of(spool, "quarantine", "core.default")
    assert v["scan_options"] == ["--detectors", "pem", "--rules", "default", "--rules",
                                 str(rules)]
    assert [f["encoding"] for f in v["findings"]] == ["acme-token"]

    # a dump a dead handler left in incoming/, finished by --recover
    left = spool / "incoming" / "core.left.1000.103.11.1763800000.1.core"
    left.write_bytes(data)
    r = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                        "--recover", "--rules", str(rules)], capture_output=True, timeout=300)
    assert r.returncode == 1, r.stderr
    v, _ = verdict_of(spool, "quarantine", "core.left")
    assert v["scan_options"] == ["--rules", str(rules)] and len(v["findings"]) == 1

    # --sweep: clean without the rules, quarantined with them
    store = tmp_path / "coredump"
    store.mkdir()
    name = "core.swept.1000.0123456789abcdef0123456789abcdef.104.1763800000000000"
    (store / name).write_bytes(data)
    sweep = [str(dgtest.DUMPGATE), "core-handler", "--sweep", str(store), "--log-stderr"]
    r = subprocess.run(sweep + ["--spool", str(tmp_path / "s1")], capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(sweep + ["--spool", str(tmp_path / "s2"), "--rules", str(rules)],
                       capture_output=True, timeout=300)
    assert r.returncode == 1, r.stderr
    v, _ = verdict_of(tmp_path / "s2", "quarantine", name)
    assert v["scan_options"] == ["--rules", str(rules)]


def test_handler_passes_plugins_to_its_scans(tmp_path, marker_so):
    """The example plug-in (built out of tree as in test_plugins.py) finds its
    marker in the handler's scans only when the handler is given --plugin."""
    data = open(mkcore_with(tmp_path, f"xx {MARKER} yy".encode()), "rb").read()
    spool = tmp_path / "spool"
    p = feed(spool, data, 200, "noplugin")
    assert p.returncode == 0, p.stderr
    verdict_of(spool, "clean", "core.noplugin")
    p = feed(spool, data, 201, "plugin", "--fail-on", "medium", "--plugin", str(marker_so))
    assert p.returncode == 1, p.stderr
    v, _ = verdict_of(spool, "quarantine", "core.plugin")
    assert [(f["detector"], f["type"]) for f in v["findings"]] == [("marker", "test-marker")]
    assert v["scan_options"] == ["--plugin", str(marker_so)]
    # with -d naming only a built-in, the plug-in is loaded but does not run (as for scan)
    p = feed(spool, data, 202, "notrun", "--plugin", str(marker_so), "-d", "pem")
    assert p.returncode == 0, p.stderr
    v, _ = verdict_of(spool, "clean", "core.notrun")
    assert v["scan_options"] == ["--plugin", str(marker_so), "--detectors", "pem"]


BAD_RULES = RULE.replace("    pattern:", "   pattern:")  # malformed YAML


@pytest.mark.parametrize("args, names", [
    (["--rules", "{bad}"], "{bad}:5: rule 'acme-token'"),
    (["--rules", "{tmp}/nope.yaml"], "{tmp}/nope.yaml"),
    (["--plugin", "{tmp}/nope.so"], "{tmp}/nope.so"),
    (["-d", "pem,nosuch"], "unknown detector 'nosuch'"),
    (["--allow", "{tmp}/nope.allow"], "{tmp}/nope.allow: cannot open allow file"),
    (["--known-keys", "{tmp}/nope.jwks"], "{tmp}/nope.jwks: cannot open known-keys file"),
    (["--option", "novalue"], "--option takes NAME=VALUE"),
    (["--chunk-size", "12"], "--chunk-size takes"),
    (["--timeout", "0"], "--timeout takes"),  # the behaviour these follow
])
def test_handler_refuses_bad_scan_options_at_start(tmp_path, args, names):
    """A wrong scan option stops the handler before it takes the dump, as any
    other bad argument does (--timeout 0, the last case, is the behaviour
    from before these options were passed on): exit 2 with a message naming
    the culprit, standard input never read (the kernel's write then fails
    and the core is not stored: nothing would scan it as configured), the
    spool not even created, so nothing is left half-done. It never runs
    the scans without the options it was given."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_RULES)
    args = [a.format(bad=bad, tmp=tmp_path) for a in args]
    spool = tmp_path / "spool"
    p = subprocess.Popen(handler(spool, 300, "refused", *args), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # stdin stays open and empty: a handler that read it would wait here
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
        p.wait()
    err = err.decode()
    assert p.returncode == 2, err
    assert names.format(bad=bad, tmp=tmp_path) in err, err
    assert out == b""
    assert not spool.exists()


def test_units_and_handler_script_are_well_formed():
    dist = dgtest.ROOT / "dist"
    svc = (dist / "dumpgate-coredump.service.in").read_text()
    assert "--sweep /var/lib/systemd/coredump" in svc and "@BINDIR@/dumpgate" in svc
    assert "PathChanged=/var/lib/systemd/coredump" in (dist / "dumpgate-coredump.path.in").read_text()
    # the sandbox of systemd-coredump@.service (issue 20)
    for opt in ("ProtectSystem=strict", "ReadWritePaths=/var/lib/dumpgate", "PrivateNetwork=yes",
                "ProtectHome=yes", "RestrictAddressFamilies=AF_UNIX", "SystemCallFilter=",
                "MemoryDenyWriteExecute=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet="):
        assert opt in svc, opt
    if shutil.which("systemd-analyze"):
        # offline checks (no running systemd needed): every option and system
        # call name parses, the binary exists
        d = pathlib.Path(tempfile.mkdtemp())
        for name in ("dumpgate-coredump.service", "dumpgate-coredump.path"):
            (d / name).write_text((dist / (name + ".in")).read_text()
                                  .replace("@BINDIR@", str(dgtest.BUILD)))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            str(d / "dumpgate-coredump.service"),
                            str(d / "dumpgate-coredump.path")], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    script = (dist / "dumpgate-core.in").read_text()
    assert 'core-handler --spool' in script and '-- "$@"' in script


# --- pre-commit --------------------------------------------------------------------


def git(repo, *args, env=None):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=env,
                          check=False)


@pytest.mark.skipif(not shutil.which("pre-commit") or not shutil.which("git"),
                    reason="pre-commit or git missing")
def precommit_repo(tmp_path):
    """A git repository whose pre-commit hook is this repository's
    .pre-commit-hooks.yaml as it is (committed into a hook repository), with
    dumpgate from the build on PATH. Returns (repo, env)."""
    env = dict(os.environ, PATH=f"{dgtest.BUILD}:{os.environ['PATH']}",
               PRE_COMMIT_HOME=str(tmp_path / "cache"), GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org", HOME=str(tmp_path))
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(dgtest.ROOT / ".pre-commit-hooks.yaml", hooks)
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "hooks"]):
        assert git(hooks, *cmd, env=env).returncode == 0
    rev = git(hooks, "rev-parse", "HEAD", env=env).stdout.decode().strip()
    repo = tmp_path / "work"
    repo.mkdir()
    assert git(repo, "init", "-q", env=env).returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n-   repo: file://{hooks}\n    rev: {rev}\n    hooks:\n    -   id: dumpgate\n")
    (repo / "README").write_text("x\n")
    git(repo, "add", ".", env=env)
    r = subprocess.run(["pre-commit", "install"], cwd=repo, env=env, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert git(repo, "commit", "-q", "-m", "start", env=env).returncode == 0
    return repo, env


def test_pre_commit_blocks_a_dirty_dump(cores, tmp_path):
    repo, env = precommit_repo(tmp_path)

    # A clean dump commits.
    shutil.copy(cores["clean"], repo / "core.1234")
    git(repo, "add", "core.1234", env=env)
    t0 = time.time()
    r = git(repo, "commit", "-m", "clean dump", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.time() - t0 < 60
    assert b"dumpgate" in r.stdout + r.stderr  # the hook ran (Passed)

    # A dump that holds a key is blocked, one line per finding, nothing secret.
    compress(cores["dirty"], "zst", repo / "crash.core.zst")
    git(repo, "add", "crash.core.zst", env=env)
    r = git(repo, "commit", "-m", "dirty dump", env=env)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode != 0, out
    lines = [ln for ln in out.splitlines() if ln.startswith("crash.core.zst: high ")]
    assert lines and all(cores["spki"] in ln for ln in lines if "rsa-private-key" in ln), out
    assert not [ln for ln in cores["key_lines"] if ln in out]
    assert git(repo, "log", "--oneline", env=env).stdout.count(b"\n") == 2


def test_pre_commit_finds_dumps_by_content_not_name(cores, tmp_path):
    """Dumps under the names real pipelines give them, and one renamed, are
    each scanned and block the commit; a truncated dump fails (--strict)."""
    repo, env = precommit_repo(tmp_path)
    boot = "0123456789abcdef0123456789abcdef"
    names = [f"core.python3.0.{boot}.4242.1764820000000000.zst",  # systemd-coredump
             "core.python3.4242",                                  # core.%e.%p
             "notes.bin"]                                          # renamed
    compress(cores["dirty"], "zst", repo / names[0])
    shutil.copy(cores["dirty"], repo / names[1])
    shutil.copy(cores["dirty"], repo / names[2])
    git(repo, "add", *names, env=env)
    r = git(repo, "commit", "-m", "dumps", env=env)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode != 0, out
    for n in names:
        assert any(ln.startswith(f"{n}: high rsa-private-key (long-term)") and cores["spki"] in ln
                   for ln in out.splitlines()), (n, out)
    git(repo, "reset", "-q", env=env)
    for n in names:
        os.unlink(repo / n)

    # a dump cut short: nothing in what is left, but it is incomplete
    data = open(cores["clean"], "rb").read()
    (repo / "cut.core").write_bytes(data[:len(data) // 3])
    git(repo, "add", "cut.core", env=env)
    r = git(repo, "commit", "-m", "cut", env=env)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode != 0 and "incomplete scan (--strict)" in out, out


def test_pre_commit_passes_a_source_repository_quickly(tmp_path):
    """2,000 source files: none is a dump by its first bytes, none is scanned."""
    repo, env = precommit_repo(tmp_path)
    for i in range(2000):
        d = repo / f"src{i % 20}"
        d.mkdir(exist_ok=True)
        (d / f"f{i}.c").write_text(f"/* file {i} */\nint f{i}(void) {{ return {i}; }}\n" * 20)
    git(repo, "add", ".", env=env)
    t0 = time.time()
    r = git(repo, "commit", "-q", "-m", "sources", env=env)
    elapsed = time.time() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    # pre-commit itself and git take part of it; under ASan every start is slower
    assert elapsed < (6 if os.environ.get("DUMPGATE_SANITIZED") else 2), elapsed


def test_install_honours_the_prefix():
    """meson install puts the units under the prefix (systemd's own unit
    directory only for --prefix /usr), the handler in libexec, and the
    example configuration beside /etc's, never over it."""
    r = subprocess.run(["meson", "introspect", str(dgtest.BUILD), "--installed"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    installed = list(json.loads(r.stdout).values())
    prefix = json.loads(subprocess.run(
        ["meson", "introspect", str(dgtest.BUILD), "--buildoptions"], capture_output=True,
        text=True, timeout=60).stdout)
    prefix = [o["value"] for o in prefix if o["name"] == "prefix"][0]
    units = [p for p in installed if p.endswith((".service", ".path"))]
    assert len(units) == 3, installed  # coredump .path + .service, gateway .service
    want = "/usr/lib/systemd/system/" if prefix == "/usr" else f"{prefix}/lib/systemd/system/"
    assert all(p.startswith(want) or (prefix == "/usr" and p.startswith("/lib/systemd/system/"))
               for p in units), units
    assert any(p.endswith("/libexec/dumpgate-core") for p in installed), installed
    assert any(p.endswith("/dumpgate/dumpgate.yaml.example") for p in installed), installed
    assert not any(p.endswith("/dumpgate/dumpgate.yaml") for p in installed), installed


@pytest.mark.parametrize("comm", ["-daes", "--help", "--recover", "--config=/nonexistent.yaml",
                                  "-q"])
def test_a_process_name_is_never_an_option(cores, tmp_path, comm):
    """The attack: a process names itself like an option (prctl
    PR_SET_NAME) and crashes; core_pattern without "--" puts its name after
    the options. The handler stops reading options at the first argument
    that is not one, so the name stays a name, and the dump holding a key is
    read, scanned and quarantined."""
    spool = tmp_path / "spool"
    argv = [str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool), "--log-stderr",
            "4242", "1000", "11", "1763800000", comm]  # no "--"
    p = subprocess.run(argv, input=open(cores["dirty"], "rb").read(), capture_output=True,
                       timeout=300)
    assert p.returncode == 1, p.stderr
    v, _ = verdict_of(spool, "quarantine", "core.")
    # the name as the handler files it (bytes outside [A-Za-z0-9._+-] become _)
    assert v["process"]["comm"] == "".join(
        c if c.isalnum() or c in "-+" else "_" for c in comm), v["process"]
    assert any(f["key"]["spki_sha256"] == cores["spki"] for f in v["findings"]), v


def test_sweep_passes_over_a_fifo(cores, tmp_path):
    """The attack: a FIFO named like a stored dump in the swept directory.
    The sweep does not wait for a writer: it passes over it and gates the
    real dump beside it."""
    store = tmp_path / "coredump"
    store.mkdir()
    boot = "0123456789abcdef0123456789abcdef"
    fifo = f"core.evil.1000.{boot}.1.1763800000000000.zst"
    dirty = f"core.holdkey.1000.{boot}.4242.1763800000000001.zst"
    os.mkfifo(store / fifo)
    compress(cores["dirty"], "zst", store / dirty)
    spool = tmp_path / "spool"
    r = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                        "--sweep", str(store), "--log-stderr"], capture_output=True, timeout=60)
    assert r.returncode == 1, r.stderr
    verdict_of(spool, "quarantine", dirty)
    assert stat.S_ISFIFO(os.stat(store / fifo).st_mode)  # left alone


def test_timeout_kills_the_whole_scan(tmp_path):
    """A scan that outlives --timeout is killed with everything it started:
    the scanner runs in a process group of its own, killed whole."""
    pidfile = tmp_path / "grandchild.pid"
    scanner = tmp_path / "slow-scanner"
    scanner.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nsleep 300\n")
    scanner.chmod(0o755)
    spool = tmp_path / "spool"
    p = feed(spool, b"\x7fELF" + bytes(4000), 400, "slow", "--scanner", str(scanner),
             "--timeout", "2", timeout=60)
    assert p.returncode == 1, p.stderr  # timed out: quarantined
    v, _ = verdict_of(spool, "quarantine", "core.slow")
    assert v["scan"]["timed_out"] is True
    pid = int(pidfile.read_text())
    for _ in range(50):  # reaped by init soon after the kill
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        raise AssertionError(f"the scan's child {pid} outlived the timeout")


def test_a_name_that_repeats_replaces_nothing(cores, tmp_path):
    """A reboot with a repeating clock (or an attacker who can guess): a dump
    is to be filed under a name that quarantine/ already holds. It is filed
    under a free name (NAME.1), and the earlier dump and verdict are
    untouched. (The dump waits in incoming/ as a killed handler leaves it;
    --recover files it.)"""
    spool = tmp_path / "spool"
    for d in ("incoming", "clean", "quarantine"):
        (spool / d).mkdir(parents=True, mode=0o700)
    base = "core.holdkey.1000.4242.11.1763800000.99999"
    shutil.copy(cores["dirty"], spool / "incoming" / (base + ".core"))
    (spool / "quarantine" / (base + ".core")).write_bytes(b"the earlier dump")
    (spool / "quarantine" / (base + ".json")).write_text('{"earlier": true}\n')
    r = subprocess.run([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                        "--recover", "--log-stderr"], capture_output=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert (spool / "quarantine" / (base + ".core")).read_bytes() == b"the earlier dump"
    assert json.load(open(spool / "quarantine" / (base + ".json"))) == {"earlier": True}
    v = json.load(open(spool / "quarantine" / (base + ".1.json")))
    assert v["dump"] == base + ".1.core", v["dump"]
    assert v["path"].endswith("/quarantine/" + base + ".1.core"), v["path"]
    assert any(f["key"]["spki_sha256"] == cores["spki"] for f in v["findings"])
    assert (spool / "quarantine" / (base + ".1.core")).stat().st_size > 1000
    assert os.listdir(spool / "incoming") == []


@pytest.mark.parametrize("attack", ["symlinked-quarantine", "symlinked-spool",
                                    "world-writable", "foreign-owner"])
def test_a_spool_it_cannot_trust_is_refused(cores, tmp_path, attack):
    """The attacks: a spool (or a directory in it) that is a symbolic link,
    that others may write in, or that another user owns. The handler refuses
    it, says so, and writes nothing through it."""
    spool = tmp_path / "spool"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if attack == "symlinked-spool":
        spool.symlink_to(elsewhere)
    else:
        spool.mkdir(mode=0o700)
        for d in ("incoming", "clean"):
            (spool / d).mkdir(mode=0o700)
        if attack == "symlinked-quarantine":
            (spool / "quarantine").symlink_to(elsewhere)
        else:
            (spool / "quarantine").mkdir(mode=0o700)
        if attack == "world-writable":
            os.chmod(spool / "quarantine", 0o777)
        if attack == "foreign-owner":
            os.chown(spool / "incoming", 65534, 65534)
    p = feed(spool, open(cores["dirty"], "rb").read(), 500, "trust")
    assert p.returncode == 2, p.stderr
    assert b"refused" in p.stderr, p.stderr
    assert os.listdir(elsewhere) == []


def test_the_scan_reads_the_dump_by_its_descriptor(cores, tmp_path):
    """The scan child is handed the dump the handler holds open and locked
    (/proc/self/fd/3), not its name: renaming or swapping names in the spool
    meanwhile cannot change what is scanned."""
    log = tmp_path / "argv.log"
    wrapper = tmp_path / "scanner"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\n'
                       f'readlink /proc/self/fd/3 >> {log}\nexec {dgtest.DUMPGATE} "$@"\n')
    wrapper.chmod(0o755)
    spool = tmp_path / "spool"
    p = feed(spool, open(cores["dirty"], "rb").read(), 600, "byfd", "--scanner", str(wrapper))
    assert p.returncode == 1, p.stderr
    argv, target = log.read_text().splitlines()[:2]
    assert argv.endswith("-- /proc/self/fd/3"), argv
    # the file in incoming/ (an O_TMPFILE descriptor keeps its anonymous
    # name in /proc even once linked: "#INODE (deleted)")
    assert "/spool/incoming/" in target, target
    v, _ = verdict_of(spool, "quarantine", "core.byfd")
    assert any(f["key"]["spki_sha256"] == cores["spki"] for f in v["findings"])


def test_redact_keeps_the_original_and_a_verified_copy(cores, tmp_path):
    """core-handler --redact (issue 23): the dirty core is quarantined as
    always, and a verified redacted copy of it is in redacted/ with its
    report; the verdict names both. The copy holds no key (re-scanned here
    by a separate scan), has the core's size, and only bytes inside the
    report's spans differ. A clean core gets no copy."""
    spool = tmp_path / "spool"
    p = feed(spool, cores["dirty_bytes"], 4243, "holdkey", "--redact")
    assert p.returncode == 1, p.stderr
    v, dump = verdict_of(spool, "quarantine", "core.holdkey.1000.4243.11.1763800000")
    assert open(dump, "rb").read() == cores["dirty_bytes"]  # the original, whole
    red = v["redacted"]["path"]
    assert red == os.path.join(os.path.realpath(spool), "redacted", v["dump"])
    data = open(red, "rb").read()
    assert len(data) == len(cores["dirty_bytes"]) and data != cores["dirty_bytes"]
    rc, findings, _, _ = dgtest.scan(red)
    assert rc == 0 and not [f for f in findings if f["severity"] == "high"], findings
    report = dgtest.records(open(v["redacted"]["report"], "rb").read())
    spans = [(s["offset"], s["length"]) for r in report if r["record"] == "redacted-key"
             for s in r["spans"]]
    assert spans
    changed = [i for i in range(len(data)) if data[i] != cores["dirty_bytes"][i]]
    assert all(any(o <= i < o + n for o, n in spans) for i in changed)
    assert os.stat(red).st_mode & 0o077 == 0
    p = feed(spool, cores["clean_bytes"], 4244, "sleep", "--redact")
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(spool / "redacted")) == sorted([os.path.basename(red),
                                                             os.path.basename(red) + ".redact.jsonl"])


def test_redact_that_fails_leaves_the_core_only_quarantined(cores, tmp_path):
    """A redaction that does not succeed (here: a scanner whose `redact`
    always fails, the way a copy that stays dirty fails) leaves the core in
    the quarantine as always, no copy in redacted/, and the verdict says
    why."""
    wrapper = tmp_path / "scanner"
    wrapper.write_text(f"#!/bin/sh\n[ \"$1\" = redact ] && exit 2\nexec {dgtest.DUMPGATE} \"$@\"\n")
    wrapper.chmod(0o755)
    spool = tmp_path / "spool"
    p = feed(spool, cores["dirty_bytes"], 4245, "holdkey", "--redact", "--scanner", str(wrapper))
    assert p.returncode == 1, p.stderr
    v, dump = verdict_of(spool, "quarantine", "core.holdkey.1000.4245.11.1763800000")
    assert open(dump, "rb").read() == cores["dirty_bytes"]
    assert "redacted" not in v and "could not remove" in v["redaction_failed"]
    assert os.listdir(spool / "redacted") == []
