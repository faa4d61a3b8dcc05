# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_jsonl_schema.py - the JSONL contract is versioned and described by
# docs/findings.schema.json (JSON Schema draft-07): every record dumpgate
# writes - findings and summaries of a synthetic dump with many kinds of key
# (one allowed, one copied), of a real core taken with gcore, span records of
# `dumpgate regions`, the summary of a file that could not be read - is valid
# against it with Debian's python3-jsonschema, and has "schema": 1 right after
# "record". Records that break the contract (a missing field, a wrong enum
# value, a wrong type) are rejected: the schema is not vacuous.
import copy
import json
import os
import re
import subprocess

import jsonschema
import pytest

import dgtest
import keys
from conftest import gcore
from test_aes import schedule_bytes
from test_rules import GITHUB

SCHEMA_FILE = dgtest.ROOT / "docs" / "findings.schema.json"
VERSION = 1


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema,
                                      format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def check(validator, stdout):
    """Every line of stdout is a valid record of this version; returns them."""
    lines = [line for line in stdout.decode().splitlines() if line.strip()]
    assert lines, "no output"
    recs = []
    for line in lines:
        rec = json.loads(line)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(rec)]
        assert not errors, f"{errors}\n{line}"
        assert list(rec)[:2] == ["record", "schema"], line
        assert rec["schema"] == VERSION and type(rec["schema"]) is int
        recs.append(rec)
    for f in recs:
        if f["record"] == "finding":
            assert f["copies"] == len(f["locations"]), f
            assert (f["locations"][0]["offset"], f["locations"][0]["length"]) == \
                (f["offset"], f["length"])
            assert f["allowed"] or f["allow_note"] is None
    return recs


def jsonl(*args, input=None):
    return dgtest.run(*args, input=input)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Raw bytes holding an allowed RSA key, an EC key three times (PEM, DER,
    UTF-16 PEM), Ed25519 and X25519 keys, an encrypted PKCS#8 key, a cut PEM
    (a weak candidate), an AES-128 key schedule and a GitHub token (default
    rules)."""
    d = tmp_path_factory.mktemp("jsonl")
    rsa = keys.genpkey(d / "rsa.pem", "rsa2048")
    ec = keys.genpkey(d / "ec.pem", "p256")
    ed = keys.genpkey(d / "ed.pem", "ed25519")
    x = keys.genpkey(d / "x.pem", "x25519")
    enc = d / "enc.pem"
    subprocess.run(["openssl", "pkcs8", "-topk8", "-in", rsa, "-passout", "pass:pw", "-out", enc],
                   check=True, capture_output=True)
    ec_pem = open(ec, "rb").read()
    blobs = [open(rsa, "rb").read(), ec_pem, keys.der_of(ec), keys.utf16le(ec_pem.decode()),
             open(ed, "rb").read(), open(x, "rb").read(), open(enc, "rb").read(),
             open(ed, "rb").read()[:70], schedule_bytes(os.urandom(16)),
             f" GITHUB_TOKEN={GITHUB} ".encode()]
    path, _ = dgtest.plant(d, blobs)
    allow = d / "allow.txt"
    allow.write_text(f"{dgtest.spki_sha256(rsa)}  # fixture key\n")
    return {"path": path, "allow": allow, "rsa": dgtest.spki_sha256(rsa),
            "ec": dgtest.spki_sha256(ec), "x": dgtest.spki_sha256(x)}


def test_schema_file_is_a_draft7_schema():
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    for name in ("finding", "summary", "span"):
        assert schema["definitions"][name]["additionalProperties"] is True


def test_documented_examples_validate(validator):
    """The example records of docs/FINDINGS.md are valid records too."""
    text = (dgtest.ROOT / "docs" / "FINDINGS.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    recs = [json.loads(b) for b in blocks if '"record"' in b]
    assert sorted(r["record"] for r in recs) == ["finding", "span", "summary"]
    for r in recs:
        assert not list(validator.iter_errors(r)), r


def test_synthetic_dump(validator, synthetic):
    p = jsonl("scan", "--format", "jsonl", "--rules", "default", "--allow", synthetic["allow"],
              synthetic["path"])
    assert p.returncode == 1, p.stderr
    recs = check(validator, p.stdout)
    findings = [r for r in recs if r["record"] == "finding"]
    assert [r["record"] for r in recs] == ["finding"] * len(findings) + ["summary"]
    by_spki = {f["key"]["spki_sha256"]: f for f in findings if f["key"]["spki_sha256"]}
    # the allowed key, the copied key, a key-agreement key
    assert by_spki[synthetic["rsa"]]["allowed"] is True
    assert by_spki[synthetic["rsa"]]["allow_note"] == "fixture key"
    assert by_spki[synthetic["ec"]]["copies"] == 3
    assert {l["detector"] for l in by_spki[synthetic["ec"]]["locations"]} == {"pem", "der"}
    assert by_spki[synthetic["x"]]["role"] == "key-agreement"
    # every kind of record the synthetic dump was made to hold
    assert {f["status"] for f in findings} == {"confirmed", "candidate"}
    assert {"high", "medium", "low"} <= {f["severity"] for f in findings}
    assert any(f["type"] == "encrypted-private-key" and f["note"] for f in findings)
    assert any(f["detector"] == "aes" and f["key"]["key_sha256"] for f in findings)
    assert any(f["detector"] == "rules" and f["match_sha256"] for f in findings)
    summ = recs[-1]
    assert summ["findings"]["total"] == len(findings) and summ["findings"]["allowed"] == 1
    assert summ["warnings"], "a raw file gets a warning: its entries are checked too"


def test_real_core(validator, tmp_path, procs):
    key = keys.genpkey(tmp_path / "key.pem", "p256")
    p = procs.start([dgtest.HOLDKEY, key], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    r = jsonl("scan", "--format", "jsonl", core)
    assert r.returncode == 1, r.stderr
    recs = check(validator, r.stdout)
    findings = [x for x in recs if x["record"] == "finding"]
    spki = dgtest.spki_sha256(key)
    assert any(f["key"]["spki_sha256"] == spki for f in findings)
    assert any(f["vaddr"] is not None for f in findings)
    assert recs[-1]["format"] == "elf-core"
    # the region map of the same core: spans, then the summary
    r = jsonl("regions", "--format", "jsonl", core)
    assert r.returncode == 0, r.stderr
    recs = check(validator, r.stdout)
    spans = [x for x in recs if x["record"] == "span"]
    assert [x["record"] for x in recs] == ["span"] * len(spans) + ["summary"]
    assert {"header", "notes"} <= {s["kind"] for s in spans}
    assert any(s["perms"] is not None and s["vaddr"] is not None for s in spans)
    assert sum(s["size"] for s in spans) == recs[-1]["coverage"]["file_bytes"]


def test_regions_of_raw_bytes(validator, synthetic):
    r = jsonl("regions", "--format", "jsonl", synthetic["path"])
    recs = check(validator, r.stdout)
    assert [x["record"] for x in recs] == ["span", "summary"]
    assert recs[0]["kind"] == "raw" and recs[0]["vaddr"] is None and recs[0]["perms"] is None


def test_failed_scan(validator, tmp_path, synthetic):
    missing = tmp_path / "missing.core"
    for cmd in (("scan", "--format", "jsonl"), ("regions", "--format", "jsonl")):
        r = jsonl(*cmd, missing)
        assert r.returncode == 2
        recs = check(validator, r.stdout)
        assert [x["record"] for x in recs] == ["summary"]
        assert recs[0]["errors"] and "missing.core" in recs[0]["errors"][0]["message"]
        assert recs[0]["errors"][0]["offset"] is None
    # a failed file among good ones: every record still valid
    r = jsonl("scan", "--format", "jsonl", synthetic["path"], missing)
    recs = check(validator, r.stdout)
    assert [x["file"] for x in recs if x["record"] == "summary"] == \
        [str(synthetic["path"]), str(missing)]


def test_stdin(validator, synthetic):
    with open(synthetic["path"], "rb") as f:
        r = jsonl("scan", "--format", "jsonl", "-", input=f.read())
    recs = check(validator, r.stdout)
    assert all(x["file"] == "-" for x in recs)


def doctored(validator, rec, change):
    bad = copy.deepcopy(rec)
    change(bad)
    return list(validator.iter_errors(bad))


def test_schema_rejects_broken_records(validator, synthetic):
    """Each change below breaks the contract and must be refused."""
    p = jsonl("scan", "--format", "jsonl", "--allow", synthetic["allow"], synthetic["path"])
    recs = check(validator, p.stdout)
    finding = next(r for r in recs if r["record"] == "finding" and r["copies"] > 1)
    summary = recs[-1]
    span = check(validator, jsonl("regions", "--format", "jsonl", synthetic["path"]).stdout)[0]
    # a new field is fine: the contract may grow
    assert not doctored(validator, finding, lambda r: r.update(new_field=[1, 2]))
    assert not doctored(validator, summary, lambda r: r["coverage"].update(new_count=3))

    def drop(*path):
        def f(r):
            for k in path[:-1]:
                r = r[k]
            del r[path[-1]]
        return f

    def put(value, *path):
        def f(r):
            for k in path[:-1]:
                r = r[k]
            r[path[-1]] = value
        return f

    broken_findings = {
        "no role": drop("role"),
        "no reason": drop("reason"),
        "no schema": drop("schema"),
        "no key.spki_sha256": drop("key", "spki_sha256"),
        "no locations": drop("locations"),
        "no region kind in a copy": drop("locations", 1, "region", "kind"),
        "role unset": put("unset", "role"),
        "severity none": put("none", "severity"),
        "status unknown": put("proven", "status"),
        "schema 2": put(2, "schema"),
        "schema as a string": put("1", "schema"),
        "record unknown": put("key", "record"),
        "offset negative": put(-1, "offset"),
        "offset as hex": put("0x41", "offset"),
        "vaddr as a number": put(4096, "vaddr"),
        "region kind unknown": put("unknown", "region", "kind"),
        "empty locations": put([], "locations"),
        "copies zero": put(0, "copies"),
        "allowed as a string": put("yes", "allowed"),
        "spki uppercase": put("A" * 64, "key", "spki_sha256"),
        "reason empty": put("", "reason"),
    }
    for what, change in broken_findings.items():
        assert doctored(validator, finding, change), f"accepted a finding with {what}"
    broken_summaries = {
        "no coverage": drop("coverage"),
        "no scanned_bytes": drop("coverage", "scanned_bytes"),
        "no allowed count": drop("findings", "allowed"),
        "format unknown": put("pe", "format"),
        "warnings not a list": put("oops", "warnings"),
        "a warning without message": drop("warnings", 0, "message"),
        "seconds negative": put(-1.0, "seconds"),
    }
    for what, change in broken_summaries.items():
        assert doctored(validator, summary, change), f"accepted a summary with {what}"
    broken_spans = {
        "no size": drop("size"),
        "perms wrong": put("rwz", "perms"),
        "kind unknown": put("mmap", "kind"),
        "thread negative": put(-1, "thread"),
    }
    for what, change in broken_spans.items():
        assert doctored(validator, span, change), f"accepted a span with {what}"
