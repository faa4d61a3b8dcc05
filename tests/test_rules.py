# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_rules.py - rule files (--rules FILE|default, docs/RULES.md): a rule
# finds its pattern in ASCII and UTF-16 inside synthetic and real (gcore)
# cores at the exact offset, checks (min_entropy, keyword) filter, bad rule
# files fail with exit 2 naming the file, the line and the rule, the default
# pack finds fake AWS, GitHub and JWT credentials, and no output ever holds the
# matched bytes.
import hashlib
import subprocess
import sys

import pytest

import dgtest
from conftest import gcore

MKCORE = dgtest.BUILD / "fixtures" / "mkcore"

TOKEN = "acme_live_Q7f3K9xZ2mP8vR4tY6wB1nC5"  # matched by RULE below
RULE = """\
version: 1
rules:
  - id: acme-token
    description: ACME API token
    pattern: '(?<![A-Za-z0-9_])acme_live_[A-Za-z0-9]{24}(?![A-Za-z0-9])'
    severity: high
    encodings: [ascii, utf-16le]
"""

# Fake credentials for the default pack (shapes of the real ones, never valid).
AWS_ID = "AKIAQYLPMN5HFAKEKEY7"
AWS_SECRET = "wJ9lrXUtnFEMI/K7MDENG/bPxRfiCyFAKE0KEY3q"
GITHUB = "ghp_R2d2C3poL0r3mIpsumD0l0rS1tAm3tFake01"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
       "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkRldiJ9."
       "Xq3v9QhYwWc2s8kZp1LmN4oRt7UuVy0Ab5CdEfGhIj8")
DEFAULT_TEXT = (f"config: aws_access_key_id = {AWS_ID}\n"
                f"aws_secret_access_key = {AWS_SECRET}\n"
                f"GITHUB_TOKEN={GITHUB}\n"
                f"Authorization: JWT {JWT}\n")


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def mkcore(tmp_path, plants, segments=3, size=65536, extra=()):
    """A synthetic core with each (bytes, segment, offset) planted; returns
    (path, list of planted file offsets)."""
    args = [str(MKCORE), "--segments", str(segments), "--segment-size", str(size),
            "--fill", "mixed", *extra]
    for i, (data, seg, off) in enumerate(plants):
        f = tmp_path / f"plant{i}"
        f.write_bytes(data)
        args += ["--plant", f"{f}@{seg}:{off}"]
    core = tmp_path / "core"
    r = subprocess.run(args + [str(core)], capture_output=True, check=True)
    import json
    planted = [p["offset"] for p in json.loads(r.stdout)["planted"]]
    return core, planted


@pytest.fixture
def rulefile(tmp_path):
    p = tmp_path / "acme.yaml"
    p.write_text(RULE)
    return p


def test_rule_ascii_and_utf16le_synthetic(tmp_path, rulefile):
    pre = "token="
    core, (a, b) = mkcore(tmp_path, [((pre + TOKEN + "\n").encode(), 0, 100),
                                     ((pre + TOKEN + "\n").encode("utf-16-le"), 2, 3001)])
    rc, found, _, err = dgtest.scan(core, "--rules", rulefile)
    assert rc == 1, err
    mine = sorted((f["offset"], f["length"], f["text"]) for f in found if f["detector"] == "rules")
    assert mine == [(a + len(pre), len(TOKEN), "ascii"),
                    (b + 2 * len(pre), 2 * len(TOKEN), "utf-16le")]
    for f in found:
        assert f["type"] == "secret" and f["encoding"] == "acme-token"
        assert f["severity"] == "high" and f["match_sha256"] == sha(TOKEN)
        assert "acme-token" in f["note"] and "redacted" in f["preview"]


def test_rule_utf16be_in_big_endian_core(tmp_path):
    rule = tmp_path / "be.yaml"
    rule.write_text(RULE.replace("[ascii, utf-16le]", "[utf-16le, utf-16be]"))
    core, (b,) = mkcore(tmp_path, [(("x=" + TOKEN + "\0").encode("utf-16-be"), 1, 500)],
                        extra=["--machine", "ppc64"])
    rc, found, _, err = dgtest.scan(core, "--rules", rule)
    assert rc == 1, err
    assert [(f["offset"], f["text"]) for f in found] == [(b + 4, "utf-16be")]
    assert found[0]["match_sha256"] == sha(TOKEN)


def test_rule_across_chunk_edge_reported_once(tmp_path, rulefile):
    core, (a,) = mkcore(tmp_path, [((" " + TOKEN + " ").encode(), 0, 4096 - 10)])
    rc, found, _, err = dgtest.scan(core, "--rules", rulefile, "--chunk-size", "4096", "-j", "2")
    assert rc == 1, err
    assert [f["offset"] for f in found] == [a + 1]


HOLDER = r"""
import sys, time
tok = sys.argv[1]
ascii_copy = ("token=" + tok + "\n").encode()
utf16_copy = ("token=" + tok + "\n").encode("utf-16-le")
print("ready", flush=True)
time.sleep(120)
"""


def test_rule_in_real_core(tmp_path, procs, rulefile):
    """gcore of a live process holding the token in ASCII and in UTF-16LE."""
    p = procs.start([sys.executable, "-c", HOLDER, TOKEN], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, found, _, err = dgtest.scan(core, "--rules", rulefile, "-d", "pem")
    assert rc == 1, err
    texts = {f["text"] for f in found if f["detector"] == "rules"}
    assert {"ascii", "utf-16le"} <= texts
    assert all(f["match_sha256"] == sha(TOKEN) for f in found if f["detector"] == "rules")


def test_checks_entropy_and_keyword(tmp_path):
    rule = tmp_path / "checks.yaml"
    rule.write_text("""\
rules:
  - id: hexkey
    pattern: '\\b([0-9a-f]{32})\\b'
    min_entropy: 3.0
    keyword: [apikey]
    keyword_window: 16
""")
    good = "0f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e"
    text = (f"APIKEY: {good}\n" + "x" * 64 + f"\nother {good[::-1]}\n" + "y" * 64 +
            "\napikey 00000000000000000000000000000000\n")
    core, (a,) = mkcore(tmp_path, [(text.encode(), 0, 0)])
    rc, found, _, err = dgtest.scan(core, "--rules", rule, "--fail-on", "medium")
    assert rc == 1, err
    assert [(f["offset"], f["severity"], f["role"]) for f in found] == [(a + 8, "medium", "symmetric")]


@pytest.mark.parametrize("body,line,rule,words", [
    (RULE.replace("acme_live_", "acme_live_("), 5, "acme-token", "pattern"),
    (RULE.replace("severity: high", "severity: urgent"), 6, "acme-token", "severity"),
    (RULE.replace("encodings: [ascii, utf-16le]", "encodings: [ebcdic]"), 7, "acme-token",
     "unknown encoding"),
    (RULE.replace("    severity: high", "    severty: high"), 6, "acme-token", "unknown key"),
    (RULE + "  - id: acme-token\n    pattern: x\n", 8, "acme-token", "duplicate id"),
    (RULE.replace("    description: ACME API token\n",
                  "    description: [ACME API token\n"), 5, "acme-token", "malformed YAML"),
    (RULE.replace("    pattern:", "   pattern:"), 5, "acme-token", "malformed YAML"),
    (RULE + "  - id: Bad Id\n    pattern: x\n", 8, "#2", "id must be"),
])
def test_bad_rule_file_names_file_line_rule(tmp_path, body, line, rule, words):
    f = tmp_path / "bad.yaml"
    f.write_text(body)
    core, _ = mkcore(tmp_path, [])
    for args in (("scan", "--rules", f, core), ("detectors", "--rules", f)):
        p = dgtest.run(*args)
        err = p.stderr.decode()
        assert p.returncode == 2, err
        assert f"{f}:{line}: rule '{rule}':" in err, err
        assert words in err, err
        assert p.stdout == b""


def test_pattern_error_gives_offset(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(RULE.replace("acme_live_", "acme_live_("))
    err = dgtest.run("detectors", "--rules", f).stderr.decode()
    assert "missing closing parenthesis at offset 58" in err, err


def test_missing_rule_file(tmp_path):
    p = dgtest.run("scan", "--rules", tmp_path / "nope.yaml", tmp_path)
    assert p.returncode == 2 and "nope.yaml" in p.stderr.decode()


def test_default_pack_finds_fake_credentials(tmp_path):
    core, (a, b) = mkcore(tmp_path, [(DEFAULT_TEXT.encode(), 0, 200),
                                     (DEFAULT_TEXT.encode("utf-16-le"), 2, 999)])
    rc, found, _, err = dgtest.scan(core, "--rules", "default")
    assert rc == 1, err
    got = {(f["encoding"], f["text"], f["match_sha256"]) for f in found}
    for enc in ("ascii", "utf-16le"):
        assert ("aws-access-key-id", enc, sha(AWS_ID)) in got
        assert ("aws-secret-access-key", enc, sha(AWS_SECRET)) in got
        assert ("github-token", enc, sha(GITHUB)) in got
        assert ("jwt", enc, sha(JWT)) in got
    # off by default: no rule findings without --rules
    rc, found, _, err = dgtest.scan(core)
    assert rc == 0 and not found, err


@pytest.mark.parametrize("fmt", ["text", "jsonl", "sarif"])
def test_no_match_bytes_in_any_output(tmp_path, fmt):
    core, _ = mkcore(tmp_path, [(DEFAULT_TEXT.encode(), 1, 10)])
    p = dgtest.run("scan", "-f", fmt, "-v", "--rules", "default", core)
    assert p.returncode == 1
    out = p.stdout + p.stderr
    for secret in (AWS_ID, AWS_SECRET, GITHUB, JWT, JWT.split(".")[2]):
        assert secret.encode() not in out
    assert sha(GITHUB).encode() in out


def test_detectors_lists_rules(rulefile):
    p = dgtest.run("detectors", "--rules", "default", "--rules", rulefile)
    out = p.stdout.decode()
    assert p.returncode == 0
    for rid in ("aws-access-key-id", "github-token", "jwt", "slack-token", "stripe-secret-key",
                "azure-storage-connection-string", "bearer-token", "gcp-service-account-key",
                "acme-token"):
        assert f"rule {rid}" in out
    assert f"{rulefile}:3" in out
    assert "rules" in dgtest.run("detectors").stdout.decode()


def test_rules_with_detector_selection(tmp_path, rulefile):
    core, _ = mkcore(tmp_path, [((" " + TOKEN + " ").encode(), 0, 64)])
    rc, found, _, err = dgtest.scan(core, "-d", "pem", "--rules", rulefile)
    assert rc == 1 and [f["detector"] for f in found] == ["rules"], err
    p = dgtest.run("scan", "-d", "rules", core)  # the detector with no rule file
    assert p.returncode == 2


def test_a_match_limit_is_said_and_the_gate_quarantines(tmp_path):
    """The attack: bytes that drive a rule into PCRE2's match limit. That is
    a warning (never taken for "no match"), --strict fails the file, and the
    core handler quarantines the dump as a partial scan instead of filing it
    as clean."""
    from test_pipeline import feed, verdict_of
    rule = tmp_path / "redos.yaml"
    rule.write_text('rules:\n  - id: backtrack\n    pattern: "(\\\\w+\\\\s?)*$"\n')
    dump, _ = mkcore(tmp_path, [(b" " + b"a" * 60 + b"! ", 1, 700)])
    r = dgtest.run("scan", "--rules", rule, "-d", "rules", dump)
    assert r.returncode == 0 and b"rule backtrack: PCRE2 stopped (match limit exceeded)" in r.stderr
    r = dgtest.run("scan", "--strict", "--rules", rule, "-d", "rules", dump)
    assert r.returncode == 2 and b"incomplete scan (--strict)" in r.stderr, r.stderr
    spool = tmp_path / "spool"
    p = feed(spool, dump.read_bytes(), 300, "redos", "--rules", str(rule))
    assert p.returncode == 1, p.stderr
    v, _ = verdict_of(spool, "quarantine", "core.redos")
    assert "PCRE2 stopped" in v["reason"], v["reason"]
