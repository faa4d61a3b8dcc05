# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_sarif.py - `scan --format sarif`: the SARIF 2.1.0 of a dirty and of a
# clean scan validated against the OASIS schema by a real validator (Debian's
# python3-jsonschema), one rule per detector with what GitHub code scanning
# reads (descriptions, help, tags, precision, security-severity), one result
# per key (its copies are related locations), regions located by byte offset
# and length with startLine 1, fingerprints in partialFingerprints, nothing
# secret.
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


SCORE = {"high": "9.0", "medium": "5.0", "low": "2.0"}
LEVEL = {"high": "error", "medium": "warning", "low": "note"}
ROLES = {"long-term", "key-agreement", "ephemeral", "session", "rng-state", "symmetric"}
PROVEN = {"pem", "der", "jwk", "rsa-raw", "rsa-factor", "ec-raw", "eddsa-raw", "dsa-raw", "sexp", "sshkey", "keystore", "winblob", "aes"}
EVIDENCE = {"drbg", "keyshare", "certs"}


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
    # Each result: GitHub's severity from the finding's, its role and reason,
    # and as many places as the JSONL finding has.
    by_place = {(f["offset"], f["detector"]): f for f in findings}
    for r in res:
        p = r["properties"]
        assert p["security-severity"] == SCORE[p["severity"]], r
        assert r["level"] == LEVEL[p["severity"]], r
        assert p["role"] in ROLES and p["reason"], r
        f = by_place[(r["locations"][0]["physicalLocation"]["region"]["byteOffset"],
                      r["ruleId"])]
        assert (p["role"], p["severity"], p["copies"]) == \
            (f["role"], f["severity"], f["copies"])
        assert len(r["locations"]) == 1
        assert len(r.get("relatedLocations", [])) == f["copies"] - 1
        for loc in r["locations"] + r.get("relatedLocations", []):
            assert loc["physicalLocation"]["region"]["startLine"] == 1
    mine = [r for r in res if r["partialFingerprints"].get("spki_sha256/v1") == cores["spki"]]
    assert {r["properties"]["role"] for r in mine} == {"long-term"}
    assert {r["properties"]["security-severity"] for r in mine} == {"9.0"}
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
    assert p.returncode == 1  # the worst of 1, 2, 0: an error never hides a finding
    run = doc["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert any("missing.core" in n["message"]["text"]
               for n in run["invocations"][0]["toolExecutionNotifications"])
    assert run["artifacts"][0]["location"]["uri"] == "-"
    assert any(r["partialFingerprints"].get("spki_sha256/v1") == cores["spki"]
               for r in run["results"])
    # Nothing readable at all: exit 2, and the notification points at the file.
    rc, doc, err = sarif(tmp_path / "missing.core")
    validate(doc)
    assert rc == 2 and doc["runs"][0]["results"] == []
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_sarif_is_only_for_scan():
    assert dgtest.run("regions", "--format", "sarif", "x").returncode == 2


def detector_severities():
    """{detector: default severity} from `dumpgate detectors`."""
    out = {}
    for line in dgtest.run("detectors").stdout.decode().splitlines():
        if line and not line.startswith(" "):
            name, sev = line.split()[:2]
            out[name] = sev
    return out


def test_rules_carry_what_github_reads():
    rc, doc, err = sarif("/dev/null")
    validate(doc)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    sev = detector_severities()
    assert [r["id"] for r in rules] == list(sev)
    for r in rules:
        d = r["id"]
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"], r
        assert len(r["fullDescription"]["text"]) <= 1024, d
        help_ = r["help"]
        assert "What to do" in help_["text"] and "**What to do:**" in help_["markdown"], d
        assert "`" not in help_["text"], d  # backticks only in the Markdown
        props = r["properties"]
        assert props["tags"][:3] == ["security", "secret", "crash-dump"], d
        want = "very-high" if d in PROVEN else "high" if d in EVIDENCE else "medium"
        assert props["precision"] == want, d
        # a string number in GitHub's ranges, from the detector's default severity
        assert props["security-severity"] == {"high": "9.0", "medium": "5.0", "low": "2.0",
                                              "none": "0.0"}[sev[d]], d
        assert 0.0 <= float(props["security-severity"]) <= 10.0
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    by_id = {r["id"]: r for r in rules}
    # What to do about a private key: rotate it.
    for d in ("pem", "der", "rsa-raw", "ec-raw", "keystore"):
        text = by_id[d]["help"]["text"]
        assert "Rotate the key" in text and "revoke the certificate" in text, d
        assert "remove the public key from where it is trusted" in text, d
        assert "issue a new one" in text and "how it reached the dump" in text, d
        assert "private-key" in by_id[d]["properties"]["tags"]
    # Generator and session keys are reported for completeness.
    assert "rng-state" in by_id["aes"]["help"]["text"]
    assert "reported for completeness" in by_id["aes"]["help"]["text"]
    for d in EVIDENCE:
        assert "no results" in by_id[d]["help"]["text"], d
    assert by_id["rules"]["properties"]["security-severity"] == "5.0"


def test_copies_of_a_key_are_one_result(tmp_path):
    """A key planted four times (PEM, DER, UTF-16 PEM, PEM) is one result:
    its first place in locations, the three others as related locations,
    each with an id and a message, and the same places as JSONL."""
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    pem = open(k, "rb").read()
    path, offs = dgtest.plant(tmp_path, [pem, keys.der_of(k), keys.utf16le(pem.decode()), pem])
    rc, doc, err = sarif(path)
    assert rc == 1, err
    validate(doc)
    res = doc["runs"][0]["results"]
    assert len(res) == 1, res
    r = res[0]
    assert r["partialFingerprints"]["spki_sha256/v1"] == dgtest.spki_sha256(k)
    assert r["properties"]["copies"] == 4 and "4 copies" in r["message"]["text"]
    assert r["properties"]["role"] == "long-term"
    assert r["properties"]["security-severity"] == "9.0" and r["level"] == "error"
    assert len(r["locations"]) == 1
    rel = r["relatedLocations"]
    assert len(rel) == 3
    assert len({x["id"] for x in rel}) == 3
    _, findings, _, _ = dgtest.scan(path)
    assert len(findings) == 1
    want = [(l["offset"], l["length"]) for l in findings[0]["locations"]]

    def place(loc):
        reg = loc["physicalLocation"]["region"]
        assert reg["startLine"] == 1
        return reg["byteOffset"], reg["byteLength"]
    assert [place(r["locations"][0])] + [place(x) for x in rel] == want
    assert sorted(o for o, _ in want) == offs
    for i, (x, l) in enumerate(zip(rel, findings[0]["locations"][1:])):
        assert x["message"]["text"] == f"copy {i + 2} of 4 ({l['encoding']})"
        assert x["properties"]["detector"] == l["detector"]
    assert {x["properties"]["detector"] for x in rel} | {r["ruleId"]} == {"pem", "der"}


def test_allowed_and_low_results(tmp_path):
    """An allowed key keeps its result with a suppression; an X25519 key is
    key-agreement (medium, 5.0); a weak candidate is low (note, 2.0)."""
    rsa = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    x = keys.genpkey(tmp_path / "x.pem", "x25519")
    allow = tmp_path / "allow.txt"
    allow.write_text(f"{dgtest.spki_sha256(rsa)}  # test fixture\n")
    path, _ = dgtest.plant(tmp_path, [open(rsa, "rb").read(), open(x, "rb").read(),
                                      open(rsa, "rb").read()[:600]])
    rc, doc, err = sarif("--allow", allow, path)
    validate(doc)
    res = doc["runs"][0]["results"]
    by = {r["properties"]["key"]["spki_sha256"] or r["properties"]["status"]: r for r in res}
    allowed = by[dgtest.spki_sha256(rsa)]
    assert allowed["suppressions"] == [{"kind": "external", "justification": "test fixture"}]
    xr = by[dgtest.spki_sha256(x)]
    assert (xr["properties"]["role"], xr["level"], xr["properties"]["security-severity"]) == \
        ("key-agreement", "warning", "5.0")
    assert "suppressions" not in xr
    weak = [r for r in res if r["properties"]["status"] == "candidate" and r is not allowed]
    # named by its public half before any proof: a candidate, still high
    assert allowed["properties"]["status"] == "candidate" and allowed["level"] == "error"
    assert weak and all((r["level"], r["properties"]["security-severity"]) == ("note", "2.0")
                        for r in weak), weak



def test_related_locations_stay_within_githubs_limit(tmp_path):
    """GitHub rejects a result with more than 1,000 locations: a key planted
    1,200 times is one result with 999 related locations, and its copies
    property counts all 1,200."""
    k = keys.genpkey(tmp_path / "k.pem", "ed25519")
    path, _ = dgtest.plant(tmp_path, [open(k, "rb").read()] * 1200, gap=17)
    rc, doc, err = sarif(path)
    assert rc == 1, err
    validate(doc)
    res = doc["runs"][0]["results"]
    assert len(res) == 1
    assert res[0]["properties"]["copies"] == 1200
    assert len(res[0]["locations"]) + len(res[0]["relatedLocations"]) == 1000
    assert res[0]["relatedLocations"][-1]["message"]["text"].startswith("copy 1000 of 1200 ")
