# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_s3.py - issue 25: s3://bucket/key entries of `scan --files-from` are
# read as streams (libcurl, AWS SigV4) from an S3-compatible server on
# loopback: s3rver from npm, installed at test time into a cache directory
# when missing (the test skips only when that install fails), started here
# and stopped by PID. The same dumps (synthetic cores, public minidumps, one
# with a planted key, one zstd-compressed) give the same findings from S3 as
# from the local disk; a large object streams in bounded memory; 403, 404,
# connection refused and missing credentials are that file's error (exit 2),
# naming its URL and never the secret, and the other files are still
# scanned; so is a transfer that breaks off mid-object; `dumpgate ls-s3` lists a prefix with sizes and ETags, across
# pages. With Dask (test_archive.py's cluster on loopback), dumpgate-archive
# rescans 200 objects under a prefix with --known-keys: the summary names
# exactly the three that hold the key, a rerun skips all, an object
# rewritten (new ETag) is scanned again. s3rver does not check SigV4, so a
# captured request's signature is recomputed here from the specification.
import hashlib
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess

import pytest

import dgtest
from conftest import Procs
import keys
from test_rules import mkcore

CACHE = pathlib.Path(os.environ.get("DUMPGATE_S3RVER_DIR",
                                    pathlib.Path.home() / ".cache" / "dumpgate-tests" / "s3rver"))
S3RVER = CACHE / "node_modules" / ".bin" / "s3rver"
SECRET = "S3RVER"  # s3rver's built-in account (S3RVER / S3RVER)
BUCKET = "dumps"
SANITIZED = os.environ.get("DUMPGATE_SANITIZED") == "1"


def _install_s3rver():
    """Path of the s3rver program, installed with npm into CACHE if missing;
    None (with the reason) when it cannot be had."""
    if S3RVER.exists():
        return S3RVER, None
    if shutil.which("npm") is None or shutil.which("node") is None:
        return None, "no node/npm to install s3rver"
    CACHE.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE),
                        "s3rver@3"], capture_output=True, timeout=300)
    if r.returncode != 0 or not S3RVER.exists():
        return None, "npm could not install s3rver (no network?): " + \
            r.stderr.decode(errors="replace")[-300:]
    return S3RVER, None


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The endpoint URL of an s3rver on loopback with the bucket `dumps`."""
    prog, why = _install_s3rver()
    if prog is None:
        pytest.skip(why)
    if shutil.which("curl") is None:
        pytest.skip("no curl program to upload with")
    data = tmp_path_factory.mktemp("s3rver")
    port = _free_port()
    procs = Procs()
    try:
        # s3rver's continuation tokens use DES: OpenSSL 3 has it only in its
        # legacy provider (without it, a truncated ListObjectsV2 is a 500)
        procs.start(["node", "--openssl-legacy-provider", prog, "-d", data, "-a", "127.0.0.1", "-p", port, "-s",
                     "--configure-bucket", BUCKET], ready="listening on", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop_all()  # by PID


def _env(endpoint, **over):
    e = dict(os.environ, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=SECRET,
             AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
    for k in ("AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3"):
        e.pop(k, None)
    e.update(over)
    return {k: v for k, v in e.items() if v is not None}


def _quote(key):
    return "".join(c if c.isalnum() or c in "-._~/" else "%%%02X" % b
                   for c in key for b in c.encode())


def upload(endpoint, path, key):
    """PUTs path as s3://dumps/key (signed by curl's own SigV4); its URL."""
    subprocess.run(["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3",
                    "--user", f"S3RVER:{SECRET}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                    "-T", str(path), f"{endpoint}/{BUCKET}/{_quote(key)}"],
                   check=True, capture_output=True, timeout=300)
    return f"s3://{BUCKET}/{key}"


def _scan_list(lines, env, *extra):
    return dgtest.run("scan", "--no-config", "-f", "jsonl", *extra, "--files-from", "-",
                      input="".join(f"{x}\n" for x in lines).encode(), env=env)


def _comparable(stdout):
    """The records of a report, each as JSON text with its file's name
    replaced by FILE, the timings dropped (also those in messages), and the attribution dropped: a
    stream has no random access, so it gets no pointer paths (as `scan -`
    of a pipe)."""
    out = []
    for r in dgtest.records(stdout):
        r = dict(r)
        r.pop("seconds", None)
        r.pop("where", None)
        name = json.dumps(r.get("file", "\0"))[1:-1]
        text = json.dumps(r, sort_keys=True).replace(name, "FILE")
        out.append(re.sub(r"\d+\.\d+ s\b", "T s", text))  # timings in info messages
    return out


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    """[(local path, object key)] and the spki_sha256 of the planted key."""
    d = tmp_path_factory.mktemp("dumps")
    key = keys.genpkey(d / "k.pem", "p256")
    pem = open(key, "rb").read()
    (d / "c1").mkdir()
    (d / "c2").mkdir()
    dirty, _ = mkcore(d / "c1", [(pem, 1, 3000)])
    clean, _ = mkcore(d / "c2", [])
    raw = d / "raw.bin"
    body = bytearray(os.urandom(300 << 10))
    body[100001:100001 + len(pem)] = pem
    raw.write_bytes(bytes(body))
    subprocess.run(["zstd", "-q", "-f", str(raw), "-o", str(d / "raw.bin.zst")], check=True)
    out = [(dirty, "cores/core dirty"), (clean, "cores/core.clean"),
           (d / "raw.bin.zst", "compressed/raw.bin.zst")]
    if dgtest.CORPUS.exists():
        mds = sorted(dgtest.CORPUS.rglob("*.dmp"))[:2]
        out += [(m, f"public/{m.name}") for m in mds]
    return out, dgtest.spki_sha256(key)


def test_same_findings_from_s3_as_from_disk(s3, dumps):
    files, spki = dumps
    urls = [upload(s3, path, k) for path, k in files]
    env = _env(s3)
    local = _scan_list([str(p) for p, _ in files], env)
    remote = _scan_list(urls, env)
    assert remote.returncode == local.returncode == 1, remote.stderr.decode()
    assert _comparable(remote.stdout) == _comparable(local.stdout)
    summ = [r for r in dgtest.records(remote.stdout) if r["record"] == "summary"]
    assert [s["file"] for s in summ] == urls and not any(s["errors"] for s in summ)
    holders = {r["file"] for r in dgtest.records(remote.stdout)
               if r["record"] == "finding" and r["key"]["spki_sha256"] == spki}
    assert holders == {urls[0], urls[2]}
    zst = next(s for s in summ if s["file"] == urls[2])
    assert zst["compression"] == "zstd"


def test_errors_name_the_url_and_other_files_are_scanned(s3, dumps, tmp_path):
    files, _ = dumps
    good = upload(s3, files[1][0], "errors/good")
    missing = f"s3://{BUCKET}/errors/missing"
    nobucket = "s3://no-such-bucket/x"
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    cases = [  # (env, bad URL, words in its error)
        (_env(s3), missing, b"HTTP 404 (NoSuchKey)"),
        (_env(s3), nobucket, b"HTTP 404 (NoSuchBucket)"),
        (_env(s3, AWS_ACCESS_KEY_ID="AKIANOBODY", AWS_SECRET_ACCESS_KEY=secret), missing,
         b"HTTP 403 (InvalidAccessKeyId)"),
        (_env(f"http://127.0.0.1:{_free_port()}", AWS_SECRET_ACCESS_KEY=secret), missing,
         b"cannot read: Failed to connect"),
        (_env(s3, AWS_ACCESS_KEY_ID=None), missing, b"no credentials"),
        (_env(s3), "s3://Bad_Bucket!/x", b"not a valid bucket name"),
        (_env(s3), f"s3://{BUCKET}", b"no object key"),
    ]
    for env, bad, words in cases:
        r = _scan_list([bad, good, bad], env)
        summ = [x for x in dgtest.records(r.stdout) if x["record"] == "summary"]
        assert [s["file"] for s in summ] == [bad, good, bad], r.stderr
        assert r.returncode == 2, r.stderr
        msg = f"{bad}: ".encode()
        assert r.stderr.count(msg) == 2 and words in r.stderr, r.stderr
        assert secret.encode() not in r.stderr + r.stdout
        assert b"Authorization" not in r.stderr
        ok = summ[1]
        if env["AWS_ENDPOINT_URL"] == s3 and "AWS_ACCESS_KEY_ID" in env and \
                env["AWS_ACCESS_KEY_ID"] == "S3RVER":
            assert not ok["errors"]  # the good object between the two bad ones


def test_large_object_streams_in_bounded_memory(s3, tmp_path):
    mib = 96 if SANITIZED else 512
    big = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for i in range(mib):
            f.write(block[i:] + block[:i])
    url = upload(s3, big, "big/large object")
    big.unlink()
    env = _env(s3)
    # GNU time measures the scan alone: a child forked from pytest itself
    # would count the pages of pytest (holding another test's core, say)
    # until its exec
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kib=%M", str(dgtest.DUMPGATE), "scan",
                        "--no-config", "-f", "jsonl", "-j", "2", "--files-from", "-"],
                       input=f"{url}\n".encode(), capture_output=True, env=env, timeout=600)
    out, err = p.stdout, p.stderr
    assert p.returncode == 0, err.decode()
    summ = [x for x in dgtest.records(out) if x["record"] == "summary"][0]
    assert summ["coverage"]["file_bytes"] == mib << 20 and not summ["errors"]
    rss_mib = int(err.decode().rsplit("maxrss_kib=", 1)[1].split()[0]) / 1024
    limit = 400 if SANITIZED else 128
    assert rss_mib < limit, f"peak RSS {rss_mib:.0f} MiB for a {mib} MiB object"
    print(f"{mib} MiB object from s3rver: peak RSS {rss_mib:.1f} MiB")


def test_ls_s3_lists_a_prefix_with_size_and_etag(s3, tmp_path):
    env = _env(s3)
    want = []
    for i in range(3):
        f = tmp_path / f"o{i}"
        f.write_bytes(os.urandom(1000 + i) + b"&<x>")
        url = upload(s3, f, f"ls/a &{i}.dmp")
        want.append(f"{url} {1004 + i} {hashlib.md5(f.read_bytes()).hexdigest()}")
    upload(s3, tmp_path / "o0", "other/x")
    for page in ([], ["--page-size", "2"], ["--page-size", "1"]):  # pages: continuation
        r = dgtest.run("ls-s3", *page, f"s3://{BUCKET}/ls/", env=env)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.decode().splitlines()
        assert [x.rsplit(" ", 1)[0] for x in lines] == want
        assert all(x.rsplit(" ", 1)[1].endswith("Z") for x in lines)  # LastModified
    assert dgtest.run("ls-s3", "--page-size", "0", f"s3://{BUCKET}/", env=env).returncode == 2
    r = dgtest.run("ls-s3", "s3://no-such-bucket/", env=env)
    assert r.returncode == 2 and b"s3://no-such-bucket/: cannot list: HTTP 404" in r.stderr


# --- dumpgate-archive over S3: the 200-dump variant of test_archive.py ---

from test_archive import _archive, cluster  # noqa: E402,F401 (a fixture: the Dask cluster)


@pytest.fixture
def s3_env(s3, monkeypatch):
    """The AWS variables of the s3rver, set before the cluster starts, so
    that its workers (which stream the objects) and the client (which lists
    them) both have them."""
    for k, v in _env(s3).items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    for k in ("AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(k, raising=False)
    return s3


@pytest.mark.skipif(shutil.which("dask-scheduler") is None or shutil.which("dask-worker") is None,
                    reason="no Dask (python3-distributed)")
def test_archive_of_200_objects_names_the_holders_and_resumes_by_etag(s3_env, cluster,
                                                                        tmp_path):
    s3 = s3_env
    addr, _ = cluster
    key = keys.genpkey(tmp_path / "k.pem", "p256")
    pub = tmp_path / "k.pub"
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
    pem = open(key, "rb").read()
    mds = sorted(dgtest.CORPUS.rglob("*.dmp"))[:4] if dgtest.CORPUS.exists() else []
    holders, f = [], tmp_path / "obj"
    (tmp_path / "c").mkdir()
    core, _ = mkcore(tmp_path / "c", [])
    run = os.urandom(4)
    for i in range(200):
        if i < len(mds):
            src, name = mds[i], f"arch/{run.hex()}/md.{i:03d}.dmp"
        elif i in (10, 11):
            src, name = core, f"arch/{run.hex()}/core.{i:03d}"
        else:
            body = bytearray(os.urandom(24 << 10))
            if i in (50, 120, 199):
                body[9001:9001 + len(pem)] = pem
            f.write_bytes(bytes(body))
            src, name = f, f"arch/{run.hex()}/dump {i:03d}"
            if i in (120, 150):  # compressed, one of them with the key
                subprocess.run(["zstd", "-q", "-f", str(f), "-o", str(tmp_path / "z")],
                               check=True)
                src, name = tmp_path / "z", name + ".zst"
        url = upload(s3, src, name)
        if i in (50, 120, 199):
            holders.append(url)
    prefix = f"s3://{BUCKET}/arch/{run.hex()}/"
    rep = tmp_path / "rep.jsonl"
    r = _archive("--scheduler", addr, "--report", rep, "--known-keys", pub, "--max-files", "25",
                 prefix)
    assert r.returncode == 1, r.stderr.decode()
    assert b"200 dumps, 0 already in" in r.stderr and b"in 8 tasks" in r.stderr, r.stderr
    summ = json.loads((tmp_path / "rep.jsonl.summary.json").read_text())
    assert summ["dumps_scanned"] == 200 and not summ["dumps_with_errors"], summ
    assert [sorted(x["file"] for x in e["dumps"]) for e in summ["keys"]] == [sorted(holders)]
    k = summ["keys"][0]
    assert k["first_dump_time"] <= k["last_dump_time"] and k["first_dump_time"] > "2000"
    archived = [json.loads(x) for x in rep.read_text().splitlines() if '"archived"' in x]
    assert len(archived) == 200 and all(len(a["etag"]) == 32 for a in archived)

    # a rerun skips everything; an object rewritten (new ETag) is scanned again
    r = _archive("--scheduler", addr, "--report", rep, "--known-keys", pub, prefix)
    assert b"200 already in" in r.stderr and b"0 to scan" in r.stderr, r.stderr
    f.write_bytes(os.urandom(24 << 10))
    upload(s3, f, f"arch/{run.hex()}/dump 199")  # the key is gone from it
    r = _archive("--scheduler", addr, "--report", rep, "--known-keys", pub, prefix)
    assert b"199 already in" in r.stderr and b"1 to scan" in r.stderr, r.stderr
    summ = json.loads((tmp_path / "rep.jsonl.summary.json").read_text())
    assert [sorted(x["file"] for x in e["dumps"]) for e in summ["keys"]] == [sorted(holders[:2])]


# --- the signature itself: s3rver does not check SigV4 ("unimplemented" in
# its authentication.js), so a request is captured here and its signature
# recomputed from the AWS SigV4 specification (checked against botocore's
# S3SigV4Auth once, by hand, on these very requests) ---

def sigv4_expected(method, path_query, headers, secret):
    """The Signature S3 computes for a captured request."""
    import hmac
    from urllib.parse import quote, unquote
    auth = headers["authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    scope = auth.split("Credential=")[1].split(",")[0].split("/", 1)[1]
    path, _, query = path_query.partition("?")
    pairs = sorted((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
                   for k, _, v in (x.partition("=") for x in query.split("&") if x))
    creq = "\n".join([method, quote(unquote(path), safe="/-_.~"),
                      "&".join(f"{k}={v}" for k, v in pairs),
                      "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed),
                      ";".join(signed), headers["x-amz-content-sha256"]])
    sts = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in scope.split("/")[:4]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def test_requests_carry_a_valid_sigv4_signature(tmp_path):
    import http.server
    import threading
    seen = []

    class Capture(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = b"<Error><Code>NoSuchKey</Code></Error>"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Capture)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    try:
        env = _env(f"http://127.0.0.1:{srv.server_address[1]}", AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                   AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN="tok/en+=",
                   AWS_DEFAULT_REGION="eu-west-1")
        r = dgtest.run("scan", "--no-config", "s3://my-bucket/dir x/a+b&c=d~\u00e9.dmp", env=env)
        assert r.returncode == 2 and b"HTTP 404 (NoSuchKey)" in r.stderr
        r = dgtest.run("ls-s3", "--page-size", "5", "s3://my-bucket/pre fix/\u00e9+", env=env)
        assert r.returncode == 2 and secret.encode() not in r.stderr
    finally:
        srv.shutdown()
        srv.server_close()
    assert [p for p, _ in seen] == ["/my-bucket/dir%20x/a%2Bb%26c%3Dd~%C3%A9.dmp",
                                    "/my-bucket/?list-type=2&max-keys=5&prefix=pre%20fix%2F%C3%A9%2B"]
    for path, h in seen:
        assert h["authorization"].startswith(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/eu-west-1/s3/aws4_request" in \
            h["authorization"]
        assert "x-amz-security-token" in h["authorization"] and h["x-amz-security-token"] == "tok/en+="
        assert h["authorization"].rsplit("Signature=", 1)[1] == \
            sigv4_expected("GET", path, h, secret)


def test_a_transfer_that_breaks_off_is_that_files_error():
    """The server promises 4 MiB and closes after 256 KiB: the bytes that
    came are scanned, and the file fails (exit 2) naming the URL."""
    import http.server
    import threading

    class Cut(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(4 << 20))
            self.end_headers()
            self.wfile.write(os.urandom(256 << 10))
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Cut)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = dgtest.run("scan", "--no-config", "-f", "jsonl", "s3://cut/object",
                       env=_env(f"http://127.0.0.1:{srv.server_address[1]}"))
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.returncode == 2, r.stderr
    assert b"s3://cut/object: the transfer broke off after 262144 bytes" in r.stderr, r.stderr
    summ = [x for x in dgtest.records(r.stdout) if x["record"] == "summary"]
    assert summ and summ[0]["errors"], r.stdout
