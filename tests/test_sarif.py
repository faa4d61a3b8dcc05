# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_sarif.py - `scan --format sarif`: the SARIF 2.1.0 of a dirty and of a
# clean scan validated against the OASIS schema by a real validator (Debian's
# python3-jsonschema), one rule per detector, results located by byte offset
# and length, fingerprints in partialFingerprints, nothing secret.
import json
import pathlib
import subprocess

import jsonschema
import pytest

import dgtest
import keys
from conftest import gcore
from test_compressed import compress

SCHEMA = dgtest.ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"


def validate(doc):
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} missing")
    schema = json.loads(SCHEMA.read_text())
    checker = getattr(jsonschema.Draft4Validator, "FORMAT_CHECKER", None) \
        or jsonschema.draft4_format_checker
    jsonschema.Draft4Validator(schema, format_checker=checker).validate(doc)


def sarif(*args):
    p = dgtest.run("scan", "--format", "sarif", *args)
    return p.returncode, json.loads(p.stdout), p.stderr.decode()


@pytest.fixture(scope="module")
def cores(tmp_path_factory):
    """A dirty core (holdkey with an RSA key) and a clean one (sleep)."""
    d = tmp_path_factory.mktemp("sarif")
    key = keys.genpkey(d / "key.pem", "rsa2048")
    out = {}
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
    out["key"] = key
    out["spki"] = dgtest.spki_sha256(key)
    return out


def test_dirty_scan_validates(cores, tmp_path):
    zst = compress(cores["dirty"], "zst", tmp_path / "dirty.zst")
    rc, doc, err = sarif(cores["dirty"], zst)
    assert rc == 1, err
    validate(doc)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    listed = [line.split()[0] for line in dgtest.run("detectors").stdout.decode().splitlines()
              if line and not line.startswith(" ")]
    assert rules == listed, "one rule per detector of the registry"
    # Results carry the same offsets as JSONL, and the key's fingerprint.
    _, findings, _, _ = dgtest.scan(cores["dirty"])
    want = sorted((f["offset"], f["length"], f["detector"]) for f in findings)
    for art in (0, 1):
        got = sorted((r["locations"][0]["physicalLocation"]["region"]["byteOffset"],
                      r["locations"][0]["physicalLocation"]["region"]["byteLength"], r["ruleId"])
                     for r in run["results"]
                     if r["locations"][0]["physicalLocation"]["artifactLocation"]["index"] == art)
        assert got == want
    res = run["results"]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in res)
    assert any(r["partialFingerprints"].get("spki_sha256/v1") == cores["spki"] for r in res)
    assert all(r["level"] in ("error", "warning", "note") for r in res)
    arts = run["artifacts"]
    assert arts[0]["location"]["uri"].endswith(pathlib.Path(cores["dirty"]).name)
    assert arts[1]["properties"]["compression"] == "zstd"
    assert "decompressed" in arts[1]["description"]["text"]
    assert run["invocations"][0]["executionSuccessful"] is True
    # Nothing secret: no line of the key's base64 body, no DER of it.
    text = json.dumps(doc)
    for line in open(cores["key"]).read().splitlines()[1:-1]:
        assert line not in text
    assert keys.der_of(cores["key"])[:48].hex() not in text


def test_clean_scan_validates(cores):
    rc, doc, err = sarif(cores["clean"])
    assert rc == 0, err
    validate(doc)
    assert doc["runs"][0]["results"] == []
    assert doc["runs"][0]["artifacts"][0]["properties"]["format"] == "elf-core"


def test_failed_input_and_stdin_validate(cores, tmp_path):
    with open(cores["dirty"], "rb") as f:
        p = subprocess.run([str(dgtest.DUMPGATE), "scan", "--format", "sarif", "-",
                            str(tmp_path / "missing.core")], stdin=f, capture_output=True)
    doc = json.loads(p.stdout)
    validate(doc)
    assert p.returncode == 2
    run = doc["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert any("missing.core" in n["message"]["text"]
               for n in run["invocations"][0]["toolExecutionNotifications"])
    assert run["artifacts"][0]["location"]["uri"] == "-"
    assert any(r["partialFingerprints"].get("spki_sha256/v1") == cores["spki"]
               for r in run["results"])


def test_sarif_is_only_for_scan():
    assert dgtest.run("regions", "--format", "sarif", "x").returncode == 2
