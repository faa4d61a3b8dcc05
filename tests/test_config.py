# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_config.py - the configuration file (--config FILE, $DUMPGATE_CONFIG,
# /etc/dumpgate/dumpgate.yaml) and what comes with it: fail_on, per-role and
# per-detector severities, detectors on and off, lists of files beside the
# command line's, errors with file, line and key (exit 2), bounded size and
# nesting; --allow reading a previous JSONL report, and 100,000 allowed
# fingerprints loading fast; core-handler passing the file to its scans;
# the closing line on a terminal; the example file dist/dumpgate.yaml.
#
# Every run names its configuration (DUMPGATE_CONFIG=none when it wants
# none), so that a file in /etc on the test machine changes nothing here.
import json
import os
import pty
import re
import subprocess
import time

import pytest

import dgtest
import keys
from test_rules import mkcore


def env_with(config):
    """The environment with DUMPGATE_CONFIG set to config (None: none)."""
    return dict(os.environ, DUMPGATE_CONFIG=str(config) if config is not None else "none")


def run(*args, config=None, input=None, timeout=120):
    return dgtest.run(*args, input=input, timeout=timeout, env=env_with(config))


def findings(p):
    return [r for r in dgtest.records(p.stdout) if r.get("record") == "finding"]


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def x25519(tmp_path_factory):
    """A raw dump whose only secret is an X25519 key in PEM (a key-agreement
    key: medium by default), and that key's spki_sha256."""
    d = tmp_path_factory.mktemp("config")
    key = keys.genpkey(d / "x25519.pem", "x25519")
    dump = d / "x25519.dump"
    dump.write_bytes(os.urandom(4099) + open(key, "rb").read() + os.urandom(4099))
    return {"dump": dump, "spki": dgtest.spki_sha256(key), "pem": open(key, "rb").read()}


def test_the_dump_has_one_medium_key_agreement_finding(x25519):
    p = run("scan", "--format", "jsonl", x25519["dump"])
    f = findings(p)
    assert p.returncode == 0, p.stderr
    assert [(x["detector"], x["role"], x["severity"], x["key"]["spki_sha256"]) for x in f] == [
        ("pem", "key-agreement", "medium", x25519["spki"])]


def test_fail_on_from_the_file_and_the_command_line_over_it(x25519, tmp_path):
    cfg = write(tmp_path / "dumpgate.yaml", "fail_on: medium\n")
    assert run("scan", x25519["dump"]).returncode == 0              # default: high
    assert run("scan", x25519["dump"], config=cfg).returncode == 1  # $DUMPGATE_CONFIG
    assert run("scan", "--config", cfg, x25519["dump"]).returncode == 1
    assert run("scan", "--config", cfg, "--fail-on", "high", x25519["dump"]).returncode == 0
    assert run("scan", "--fail-on", "high", x25519["dump"], config=cfg).returncode == 0
    # --no-config and --config none read no file, not even $DUMPGATE_CONFIG's
    assert run("scan", "--no-config", x25519["dump"], config=cfg).returncode == 0
    assert run("scan", "--config", "none", x25519["dump"], config=cfg).returncode == 0
    # the last of --config and --no-config wins
    assert run("scan", "--no-config", "--config", cfg, x25519["dump"]).returncode == 1
    # a file named on purpose must exist; DUMPGATE_CONFIG too
    nope = tmp_path / "nope.yaml"
    for args, config in ((["--config", nope], None), ([], nope)):
        p = run("scan", *args, x25519["dump"], config=config)
        assert p.returncode == 2 and b"nope.yaml: cannot read the configuration" in p.stderr


def test_severity_of_a_role(x25519, tmp_path):
    cfg = write(tmp_path / "c.yaml", "severity:\n  key-agreement: high\n")
    p = run("scan", "--format", "jsonl", x25519["dump"], config=cfg)
    assert p.returncode == 1, p.stderr
    assert [(x["role"], x["severity"]) for x in findings(p)] == [("key-agreement", "high")]
    # another role's level changes nothing here
    cfg = write(tmp_path / "c.yaml", "severity: {long-term: low, symmetric: high}\n")
    assert run("scan", x25519["dump"], config=cfg).returncode == 0


def test_severity_of_a_detector(x25519, tmp_path):
    cfg = write(tmp_path / "c.yaml", "detector_severity:\n  pem: high\n")
    p = run("scan", "--format", "jsonl", x25519["dump"], config=cfg)
    assert p.returncode == 1 and [x["severity"] for x in findings(p)] == ["high"]
    # it wins over the role's
    cfg = write(tmp_path / "c.yaml", "fail_on: medium\nseverity: {key-agreement: high}\n"
                                     "detector_severity: {pem: low}\n")
    p = run("scan", "--format", "jsonl", x25519["dump"], config=cfg)
    assert p.returncode == 0 and [x["severity"] for x in findings(p)] == ["low"]


def test_detectors_on_and_off(x25519, tmp_path):
    def found(*args, config):
        p = run("scan", "--format", "jsonl", *args, x25519["dump"], config=config)
        assert p.returncode in (0, 1), p.stderr
        return sorted({x["detector"] for x in findings(p)})

    assert found(config=write(tmp_path / "a.yaml", "detectors: {pem: false}\n")) == []
    b = write(tmp_path / "b.yaml", "detectors: {pem: true, aes: false}\n")
    assert found(config=b) == ["pem"]
    assert found(config=write(tmp_path / "c.yaml", "detectors: [der, jwk]\n")) == []
    assert found(config=write(tmp_path / "d.yaml", "detectors:\n  - pem\n")) == ["pem"]
    # -d wins over the file's choice
    assert found("-d", "pem", config=tmp_path / "a.yaml") == ["pem"]
    assert found("-d", "der", config=tmp_path / "d.yaml") == []
    # the names are checked against the registry, with the file's line
    cfg = write(tmp_path / "e.yaml", "fail_on: high\ndetectors:\n  pem: true\n  pme: false\n")
    p = run("scan", x25519["dump"], config=cfg)
    assert p.returncode == 2
    assert f"{cfg}:4: unknown detector 'pme'".encode() in p.stderr, p.stderr
    cfg = write(tmp_path / "f.yaml", "detector_severity:\n  nosuch: low\n")
    p = run("detectors", config=cfg)
    assert p.returncode == 2 and f"{cfg}:2: unknown detector 'nosuch'".encode() in p.stderr


@pytest.mark.parametrize("text, line, words", [
    ("fail_on: high\nfail-on: medium\n", 2, "unknown key 'fail-on' (did you mean fail_on?)"),
    ("jobs: 2\n\nbogus: 1\n", 3, "unknown key 'bogus'"),
    ("fail_on: severe\n", 1, "fail_on must be low, medium or high, not 'severe'"),
    ("fail_on: [high]\n", 1, "fail_on must be low, medium or high, not a list"),
    ("severity:\n  long-term: high\n  key-agreemnt: high\n", 3,
     "severity: unknown role 'key-agreemnt' (did you mean key-agreement?)"),
    ("severity:\n  session: critical\n", 2, "severity.session must be low, medium or high"),
    ("severity: high\n", 1, "severity must be a mapping"),
    ("detector_severity: [pem]\n", 1, "detector_severity must be a mapping"),
    ("detectors: pem\n", 1, "detectors must be a list of detectors to run, or a mapping"),
    ("detectors: []\n", 1, "detectors is an empty list"),
    ("detectors:\n  pem: maybe\n", 2, "detectors.pem must be true or false, not 'maybe'"),
    ("allow: keys.txt\n", 1, "allow must be a list of files, not a single value"),
    ("known_keys:\n  - {a: b}\n", 2, "an entry of known_keys must be a file, not a mapping"),
    ("no_builtin_allow: yes\n", 1, "no_builtin_allow must be true or false, not 'yes'"),
    ("jobs: 0\n", 1, "jobs must be a whole number from 1 to 64, not '0'"),
    ("jobs: '4'\n", 1, "jobs must be a whole number from 1 to 64 (without quotes)"),
    ("handler:\n  timeout: 0\n", 2, "handler.timeout must be a whole number of seconds from 1"),
    ("handler:\n  timeout: 5\n  spol: /x\n", 3, "unknown key 'handler.spol' (did you mean spool?)"),
    ("handler: 5\n", 1, "handler must be a mapping"),
    ("fail_on: low\nfail_on: high\n", 2, "key 'fail_on' given twice (first on line 1)"),
    ("- fail_on\n", 1, "the configuration must be a mapping of keys"),
    ("fail_on: [high\n", 2, "malformed YAML"),
    ("a: &x 1\nb: *x\n", 2, "aliases (*x) are not supported"),
    ("fail_on: low\n---\nfail_on: high\n", 2, "more than one YAML document"),
])
def test_bad_files_are_exit_2_with_file_line_and_key(x25519, tmp_path, text, line, words):
    cfg = write(tmp_path / "dumpgate.yaml", text)
    for cmd in (["scan", x25519["dump"]], ["detectors"],
                ["core-handler", "--spool", tmp_path / "spool", "--recover"]):
        p = run(*cmd, config=cfg)
        err = p.stderr.decode()
        assert p.returncode == 2, (cmd, err)
        assert err.startswith(f"dumpgate: {cfg}:{line}: {words}"), (cmd, err)
        assert p.stdout == b""
    assert not (tmp_path / "spool").exists()


def test_empty_and_comment_only_files_change_nothing(x25519, tmp_path):
    for text in ("", "# nothing yet\n", "---\n", "allow:\nrules:\ndetectors:\n"):
        cfg = write(tmp_path / "c.yaml", text)
        p = run("scan", x25519["dump"], config=cfg)
        assert p.returncode == 0, (text, p.stderr)


@pytest.mark.parametrize("shape", ["flow-list", "flow-map", "block"])
def test_deep_nesting_is_refused_at_once(x25519, tmp_path, shape):
    depth = 10000
    if shape == "flow-list":
        text = "fail_on: " + "[" * depth + "]" * depth + "\n"
    elif shape == "flow-map":
        text = "fail_on: " + "{a: " * depth + "1" + "}" * depth + "\n"
    else:  # one level per line, as deep as 1 MiB allows
        depth = 1000
        text = "".join(" " * i + "a:\n" for i in range(depth)) + " " * depth + "b\n"
    cfg = write(tmp_path / "deep.yaml", text)
    t0 = time.monotonic()
    p = run("scan", x25519["dump"], config=cfg)
    assert time.monotonic() - t0 < 2
    assert p.returncode == 2 and b"nested deeper than 16 levels" in p.stderr, p.stderr


def test_a_file_over_1_mib_is_refused(x25519, tmp_path):
    cfg = write(tmp_path / "big.yaml", "# padding\n" * (110 * 1024) + "fail_on: low\n")
    p = run("scan", x25519["dump"], config=cfg)
    assert p.returncode == 2 and b"larger than 1024 KiB" in p.stderr


def test_lists_of_the_file_then_the_command_line(x25519, tmp_path):
    """allow, rules, ... of the file come first, the command line's after;
    relative paths in the file are relative to the file's directory."""
    etc = tmp_path / "etc"
    etc.mkdir()
    write(etc / "test-keys.txt", f"{x25519['spki']}  # the demo key\n")
    cfg = write(etc / "dumpgate.yaml", "fail_on: medium\nallow:\n  - test-keys.txt\n"
                                       "rules:\n  - default\n")
    other = write(tmp_path / "other.txt", "0" * 64 + "\n")
    p = subprocess.run([str(dgtest.DUMPGATE), "scan", "--format", "jsonl", "--allow", other,
                        x25519["dump"]], capture_output=True, env=env_with(cfg), cwd="/")
    assert p.returncode == 0, p.stderr
    assert [(x["allowed"], x["allow_note"]) for x in findings(p)] == [(True, "the demo key")]
    # a file of the list that cannot be read is an error, as on the command line
    cfg = write(etc / "dumpgate.yaml", "allow: [missing.txt]\n")
    p = run("scan", x25519["dump"], config=cfg)
    assert p.returncode == 2 and f"{etc}/missing.txt: cannot open".encode() in p.stderr
    # `dumpgate detectors` lists the rules of the file's rule files
    cfg = write(etc / "dumpgate.yaml", "rules: [default]\n")
    p = run("detectors", config=cfg)
    assert p.returncode == 0 and b"  rule " in p.stdout


def test_options_before_and_after_files_and_the_double_dash(x25519, tmp_path):
    """The configuration is found in a first pass over the options; the
    second pass must see the command line as before."""
    cfg = write(tmp_path / "c.yaml", "fail_on: medium\n")
    odd = tmp_path / "-odd"
    odd.write_bytes(os.urandom(1000))
    p = run("scan", "--format", "jsonl", x25519["dump"], "--config", cfg, "-j", "2", "--", odd)
    assert p.returncode == 1, p.stderr
    assert [r["file"] for r in dgtest.records(p.stdout) if r["record"] == "summary"] == [
        str(x25519["dump"]), str(odd)]
    p = run("regions", "--config", cfg, x25519["dump"])
    assert p.returncode == 2
    assert b"--config is an option of scan, detectors and core-handler" in p.stderr
    # --help reads no file, even a broken one
    bad = write(tmp_path / "bad.yaml", "bogus: 1\n")
    p = run("scan", "--help", config=bad)
    assert p.returncode == 0 and b"--config FILE" in p.stdout


# --- --allow with a previous JSONL report ----------------------------------------


def test_allow_a_previous_jsonl_report(x25519, tmp_path):
    cfg = write(tmp_path / "c.yaml", "fail_on: medium\n")
    p = run("scan", "--format", "jsonl", x25519["dump"], config=cfg)
    assert p.returncode == 1 and not findings(p)[0]["allowed"]
    report = tmp_path / "reviewed.jsonl"
    report.write_bytes(b"\n  \n" + p.stdout)  # blank lines first: still a report
    p = run("scan", "--format", "jsonl", "--allow", report, x25519["dump"], config=cfg)
    assert p.returncode == 0, p.stderr
    f = findings(p)
    assert [(x["allowed"], x["allow_note"]) for x in f] == [(True, "from report reviewed.jsonl")]
    # a line that is not a record: exit 2 with the file and line
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(report.read_bytes() + b'{"record": "finding", "key": {"spki_sha256": "xyz"}}\n')
    n = len(bad.read_bytes().splitlines())
    p = run("scan", "--allow", bad, x25519["dump"], config=cfg)
    assert p.returncode == 2
    assert f"{bad}:{n}: key.spki_sha256 of a finding must be a SHA-256".encode() in p.stderr
    bad.write_bytes(b'{"record": "summary"}\nnot json\n')
    p = run("scan", "--allow", bad, x25519["dump"], config=cfg)
    assert p.returncode == 2 and f"{bad}:2: not a record of a JSONL report".encode() in p.stderr


def test_allow_rule_matches_by_match_sha256(tmp_path):
    """A rule's finding has only match_sha256: a report allows it as well."""
    from test_rules import RULE, TOKEN
    rules = write(tmp_path / "acme.yaml", RULE)
    dump = tmp_path / "d.bin"
    dump.write_bytes(os.urandom(500) + f"token={TOKEN}\n".encode() + os.urandom(500))
    p = run("scan", "--format", "jsonl", "--rules", rules, "--fail-on", "low", dump)
    assert p.returncode == 1 and findings(p)[0]["match_sha256"]
    report = write(tmp_path / "r.jsonl", p.stdout.decode())
    p = run("scan", "--format", "jsonl", "--rules", rules, "--fail-on", "low", "--allow", report,
            dump)
    assert p.returncode == 0 and [x["allowed"] for x in findings(p)] == [True]


@pytest.mark.parametrize("form", ["list", "report"])
def test_100000_allowed_fingerprints_load_fast(x25519, tmp_path, form):
    n = 100_000
    hashes = [os.urandom(32).hex() for _ in range(n - 1)] + [x25519["spki"]]
    allow = tmp_path / "big.allow"
    with open(allow, "w") as f:
        for i, h in enumerate(hashes):
            if form == "list":
                f.write(f"{h}  # test key {i}\n")
            else:
                f.write(json.dumps({"record": "finding", "key": {"spki_sha256": h,
                                    "key_sha256": None}, "match_sha256": None}) + "\n")
    cfg = write(tmp_path / "c.yaml", "fail_on: medium\n")
    t0 = time.monotonic()
    p = run("scan", "--format", "jsonl", "--allow", allow, x25519["dump"], config=cfg)
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert [x["allowed"] for x in findings(p)] == [True]
    # a load that grew with the square of the list (5e9 comparisons) would
    # take far longer; under the sanitizers a linear one takes 2-3 s on a
    # loaded 2-core machine
    assert elapsed < (8 if os.environ.get("DUMPGATE_SANITIZED") else 2), elapsed


# --- core-handler -----------------------------------------------------------------


def handler(spool, pid, comm, *extra, config=None, data=b"", timeout=300):
    """Runs the handler as core_pattern would, the core on standard input."""
    argv = [str(dgtest.DUMPGATE), "core-handler", *(["--spool", str(spool)] if spool else []),
            "--log-stderr", *map(str, extra), "--", str(pid), "1000", "11", "1763800000", comm]
    return subprocess.run(argv, input=data, capture_output=True, timeout=timeout,
                          env=env_with(config))


def verdict(spool, where, comm):
    files = list((spool / where).glob(f"core.{comm}.*.json"))
    assert len(files) == 1, (where, comm, sorted(os.listdir(spool / where)))
    return json.loads(files[0].read_text())


@pytest.fixture(scope="module")
def x25519_core(x25519, tmp_path_factory):
    """An ELF core (the handler wants one) holding only the X25519 key."""
    d = tmp_path_factory.mktemp("core")
    core, _ = mkcore(d, [(x25519["pem"], 1, 300)], segments=2)
    return open(core, "rb").read()


def test_handler_passes_the_configuration_to_its_scans(x25519_core, tmp_path):
    spool = tmp_path / "spool"
    cfg = write(tmp_path / "dumpgate.yaml", "fail_on: medium\n")

    p = handler(spool, 10, "noconfig", data=x25519_core)
    assert p.returncode == 0, p.stderr
    v = verdict(spool, "clean", "noconfig")
    assert v["scan_options"] == [] and v["reason"] == "no finding at or above high"

    # from $DUMPGATE_CONFIG (the default path's stand-in): named to the scans
    p = handler(spool, 11, "envconfig", config=cfg, data=x25519_core)
    assert p.returncode == 1, p.stderr
    v = verdict(spool, "quarantine", "envconfig")
    assert v["scan_options"] == ["--config", str(cfg)]
    assert v["reason"] == "1 finding (fail-on medium)"
    assert [(f["role"], f["severity"]) for f in v["findings"]] == [("key-agreement", "medium")]

    # --config FILE, before the other scan options in the verdict
    p = handler(spool, 12, "cliconfig", "--rules", "default", "--config", cfg, data=x25519_core)
    assert p.returncode == 1, p.stderr
    v = verdict(spool, "quarantine", "cliconfig")
    assert v["scan_options"] == ["--config", str(cfg), "--rules", "default"]

    # a role's severity in the file reaches the scans (their --fail-on is the handler's)
    cfg2 = write(tmp_path / "roles.yaml", "severity: {key-agreement: high}\n")
    p = handler(spool, 13, "roles", "--config", cfg2, data=x25519_core)
    assert p.returncode == 1, p.stderr
    assert verdict(spool, "quarantine", "roles")["reason"] == "1 finding (fail-on high)"

    # --no-config reaches the scans too
    p = handler(spool, 14, "noconf", "--no-config", config=cfg, data=x25519_core)
    assert p.returncode == 0, p.stderr
    assert verdict(spool, "clean", "noconf")["scan_options"] == ["--no-config"]

    # --recover and --sweep scan with it as well
    left = spool / "incoming" / "core.left.1000.15.11.1763800000.1.core"
    left.write_bytes(x25519_core)
    p = handler(spool, 0, "x", "--recover", config=cfg)
    assert p.returncode == 1, p.stderr
    assert verdict(spool, "quarantine", "left")["scan_options"] == ["--config", str(cfg)]


def test_handler_spool_and_timeout_from_the_file(x25519_core, tmp_path):
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nexec sleep 600\n")
    hang.chmod(0o755)
    spool = tmp_path / "spool"
    cfg = write(tmp_path / "dumpgate.yaml", f"handler:\n  timeout: 1\n  spool: {spool.name}\n")
    t0 = time.monotonic()
    p = handler(None, 20, "hangs", "--scanner", hang, config=cfg, data=x25519_core)
    assert p.returncode == 1 and time.monotonic() - t0 < 30, p.stderr
    assert verdict(spool, "quarantine", "hangs")["reason"] == "scan timed out after 1 s"
    # --timeout and --spool win over the file
    other = tmp_path / "other"
    p = handler(other, 21, "hangs2", "--scanner", hang, "--timeout", "2", config=cfg,
                data=x25519_core)
    assert p.returncode == 1, p.stderr
    assert verdict(other, "quarantine", "hangs2")["reason"] == "scan timed out after 2 s"
    # neither: a usage error, nothing read
    p = handler(None, 22, "nospool", data=x25519_core)
    assert p.returncode == 2 and b"core-handler needs --spool DIR" in p.stderr


def test_handler_refuses_a_bad_configuration_at_start(tmp_path):
    cfg = write(tmp_path / "dumpgate.yaml", "fail_on: high\ndetectors: {pme: false}\n")
    spool = tmp_path / "spool"
    p = subprocess.Popen([str(dgtest.DUMPGATE), "core-handler", "--spool", str(spool),
                          "--", "30", "1000", "11", "1763800000", "refused"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env_with(cfg))
    try:
        out, err = p.communicate(timeout=60)  # stdin open and empty: never read
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 2 and f"{cfg}:2: unknown detector 'pme'".encode() in err, err
    assert out == b"" and not spool.exists()


# --- the closing line ----------------------------------------------------------------


def on_tty(*args, config=None):
    """Runs dumpgate with standard output on a pseudo-terminal; returns
    (exit status, the last line it wrote)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.run([str(dgtest.DUMPGATE), *map(str, args)], stdout=slave,
                           stderr=subprocess.DEVNULL, env=env_with(config), timeout=120)
    finally:
        os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed and drained
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.returncode, out.decode().splitlines()[-1]


def test_closing_line_on_a_terminal(x25519, tmp_path):
    clean = tmp_path / "clean.bin"
    clean.write_bytes(os.urandom(3000))
    rc, last = on_tty("scan", x25519["dump"], clean)
    assert rc == 0
    assert last == "dumpgate: 2 files, clean at --fail-on high (1 finding below it); exit 0"
    rc, last = on_tty("scan", "--fail-on", "medium", x25519["dump"], clean)
    assert rc == 1
    assert last == "dumpgate: 2 files, 1 finding (1 medium); exit 1: 1 at or above --fail-on medium"
    allow = write(tmp_path / "a.txt", x25519["spki"] + "\n")
    rc, last = on_tty("scan", "--fail-on", "medium", "--allow", allow, x25519["dump"])
    assert (rc, last) == (0, "dumpgate: 1 file, clean at --fail-on medium (1 allowed); exit 0")
    rc, last = on_tty("scan", clean, tmp_path / "missing")
    assert rc == 2
    assert last.endswith("1 failed, 0 findings; exit 2: a file failed (see above)")
    # not on a pipe, nor in JSONL
    p = run("scan", x25519["dump"])
    assert b"; exit 0" not in p.stdout
    rc, last = on_tty("scan", "--format", "jsonl", clean)
    assert json.loads(last)["record"] == "summary"


# --- the example --------------------------------------------------------------------


def test_the_example_file_is_valid_and_names_every_key(x25519, tmp_path):
    example = (dgtest.ROOT / "dist" / "dumpgate.yaml").read_text()
    cfg = write(tmp_path / "dumpgate.yaml", example)
    assert run("scan", x25519["dump"], config=cfg).returncode == 0
    # every key, uncommented: "#key:" and "#  sub:" lines, not "# prose"
    live = "\n".join(re.sub(r"^#(?=\S|  \S)", "", ln) for ln in example.splitlines())
    for key in ("fail_on", "severity", "detector_severity", "detectors", "allow",
                "no_builtin_allow", "known_keys", "rules", "plugins", "jobs", "handler"):
        assert re.search(rf"^{key}:", live, re.M), key
    # the files it names do not exist here: without the plug-in (loaded
    # first), the detector names are checked, then the rule file is missed
    live = re.sub(r"^plugins:\n(  - .*\n)+", "", live + "\n", flags=re.M)
    cfg = write(tmp_path / "live.yaml", live)
    p = run("scan", x25519["dump"], config=cfg)
    assert p.returncode == 2
    assert b"internal-tokens.yaml: No such file" in p.stderr, p.stderr
    assert f"{cfg}:".encode() not in p.stderr, p.stderr
