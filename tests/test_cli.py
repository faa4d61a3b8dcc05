# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_cli.py - the command line contract: help, version, usage errors (exit
# 2), --fail-on and exit codes, text and jsonl output, several files, the
# detectors list, and standard input as a bounded-memory stream.
import os
import subprocess

import dgtest
import keys


def test_help_and_version():
    r = dgtest.run("--help")
    assert r.returncode == 0 and b"usage: dumpgate scan" in r.stdout
    r = dgtest.run("--version")
    assert r.returncode == 0 and r.stdout.startswith(b"dumpgate ")


NET_LIBS = ("libcurl.so", "libmicrohttpd.so", "libgnutls.so")


def loaded_libraries(*args, env_extra=None):
    """The shared objects the dynamic loader loaded for `dumpgate ARGS`
    (LD_DEBUG=libs), and the run's exit status."""
    env = dict(os.environ, LD_DEBUG="libs", **(env_extra or {}))
    p = dgtest.run(*args, env=env, timeout=120)
    err = p.stderr.decode(errors="replace")
    return {line.split("calling init:")[1].strip().rsplit("/", 1)[-1]
            for line in err.splitlines() if "calling init:" in line}, p.returncode


def test_only_network_commands_load_the_network_libraries(tmp_path):
    """A scan (the core handler's work, run as root on every crash) never
    maps libcurl, libmicrohttpd or GnuTLS; ls-s3 loads the first two (and
    GnuTLS with them) when it runs."""
    f = tmp_path / "clean.bin"
    f.write_bytes(os.urandom(100_000))
    for args in (("scan", "--no-config", f), ("--version",), ("regions", f)):
        libs, rc = loaded_libraries(*args)
        assert rc in (0, 2), (args, rc)
        assert "libcrypto.so.3" in libs, (args, libs)  # LD_DEBUG shows what was loaded
        assert not [n for n in libs if n.startswith(NET_LIBS)], (args, libs)
    libs, rc = loaded_libraries("ls-s3", "s3://no-such-bucket/x", env_extra={
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"})
    assert rc == 2
    assert {n.split(".so")[0] for n in libs} >= {"libcurl", "libmicrohttpd", "libgnutls"}, libs


def test_usage_errors_exit_2(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x" * 100)
    for args in (["bogus"], ["scan"], ["scan", "--format", "xml", f], ["scan", "-j", "0", f],
                 ["scan", "--fail-on", "severe", f], ["scan", "--detectors", "nope", f],
                 ["regions", f, f], []):
        r = dgtest.run(*args)
        assert r.returncode == 2, args
        assert r.stderr.startswith(b"dumpgate: "), (args, r.stderr)


def test_chunk_size_takes_units():
    """--chunk-size reads K, M and G as the other sizes do: 1G is the
    largest chunk, 1025M is past it, 4K the smallest."""
    f = dgtest.BUILD / "dumpgate"  # any file: it scans as raw bytes
    for size, rc in (("1G", 0), ("4K", 0), ("64KiB", 0), ("1025M", 2), ("3K", 2), ("8X", 2)):
        r = dgtest.run("scan", "-q", "-d", "pem", "--chunk-size", size, f)
        assert r.returncode == rc, (size, r.stderr)
        if rc == 2:
            assert b"--chunk-size takes 4096 bytes to 1G" in r.stderr, r.stderr


def test_detectors_lists_pem():
    r = dgtest.run("detectors")
    assert r.returncode == 0
    assert r.stdout.split(b"\n")[0].split()[0] in (b"pem", b"rsa-raw", b"ec-raw")
    assert b"pem " in r.stdout and b"forms:" in r.stdout


def test_exit_codes_and_text_output(tmp_path):
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    dirty = tmp_path / "dirty.bin"
    dirty.write_bytes(os.urandom(1000) + open(k, "rb").read() + os.urandom(1000))
    clean = tmp_path / "clean.bin"
    clean.write_bytes(os.urandom(5000))
    r = dgtest.run("scan", clean)
    assert r.returncode == 0
    r = dgtest.run("scan", dirty)
    assert r.returncode == 1
    line = [l for l in r.stdout.decode().splitlines() if " - at 0x" in l][0]
    # severity, type (role), fingerprint - where - how sure - why
    assert line.startswith(f"{dirty}: high ec-private-key (long-term) EC P-256 "
                           f"spki_sha256={dgtest.spki_sha256(k)} - at 0x3e8 [raw] - "
                           "confirmed (pem-pkcs8, ascii) - "), line
    assert "can sign" in line
    # Several files: findings of each, exit 1.
    r = dgtest.run("scan", "--format", "jsonl", clean, dirty)
    recs = dgtest.records(r.stdout)
    assert [x["record"] for x in recs] == ["summary", "finding", "summary"]
    assert r.returncode == 1
    # A missing file among them: still reported, and the finding is not hidden
    # by the error (exit 1; test_strict_and_exit_precedence has the rest).
    r = dgtest.run("scan", "--format", "jsonl", dirty, tmp_path / "missing")
    assert r.returncode == 1
    assert any(x["record"] == "finding" for x in dgtest.records(r.stdout))
    assert b"missing: cannot open" in r.stderr


def test_jsonl_contract(tmp_path):
    k = keys.genpkey(tmp_path / "k.pem", "rsa2048")
    d = tmp_path / "d.bin"
    d.write_bytes(os.urandom(77) + open(k, "rb").read())
    rc, findings, summ, err = dgtest.scan(d)
    f = findings[0]
    for field in ("file", "detector", "type", "status", "severity", "offset", "length", "vaddr",
                  "region", "encoding", "key", "preview", "proof"):
        assert field in f, field
    assert f["key"]["algorithm"] == "RSA" and f["key"]["bits"] == 2048
    assert f["region"]["kind"] == "raw" and f["vaddr"] is None
    assert "p*q=n" in f["proof"]
    s = summ[0]
    assert s["findings"] == {"total": 1, "high": 1, "medium": 0, "low": 0, "allowed": 0}
    assert s["coverage"]["file_bytes"] == d.stat().st_size
    assert s["warnings"] and "scanning as raw bytes" in s["warnings"][0]["message"]


def test_stdin_stream_finds_key_with_bounded_memory(tmp_path):
    """300 MiB on a pipe with a key near the end: found once, at the right
    offset, while the resident set stays far below the input size."""
    k = keys.genpkey(tmp_path / "k.pem", "rsa2048")
    pem = open(k, "rb").read()
    size = 300 << 20
    where = size - 5000
    gen = ("import os,sys\n"
           f"n={where}\nb=os.urandom(1<<20)\n"
           "while n>0:\n  c=b[:min(n,len(b))]; sys.stdout.buffer.write(c); n-=len(c)\n"
           f"sys.stdout.buffer.write(open({str(k)!r},'rb').read()+b'\\0'*4000)\n")
    producer = subprocess.Popen(["/usr/bin/python3", "-c", gen], stdout=subprocess.PIPE)
    # GNU time measures this scan alone (RUSAGE_CHILDREN would be the largest
    # child the whole session has waited for, a JVM of another test included)
    r = subprocess.run(["/usr/bin/time", "-f", "maxrss_kib=%M", str(dgtest.DUMPGATE), "scan",
                        "--format", "jsonl", "-j2", "-"],
                       stdin=producer.stdout, capture_output=True, timeout=600)
    producer.stdout.close()
    producer.wait()
    rss_kib = int(r.stderr.decode().rsplit("maxrss_kib=", 1)[1].split()[0])
    recs = dgtest.records(r.stdout)
    found = [x for x in recs if x["record"] == "finding"]
    assert [x["offset"] for x in found] == [where], (found, r.stderr)
    assert found[0]["key"]["spki_sha256"] == dgtest.spki_sha256(k)
    summ = [x for x in recs if x["record"] == "summary"][0]
    assert summ["file"] == "-" and summ["coverage"]["file_bytes"] == where + len(pem) + 4000
    assert r.returncode == 1
    # (A sanitizer build's shadow memory and quarantine make RSS meaningless.)
    if not os.environ.get("DUMPGATE_SANITIZED"):
        assert rss_kib < 200 * 1024, rss_kib


def test_stdin_core_matches_file(tmp_path):
    core = dgtest.CORPUS / "elfutils" / "test-core.core"
    if not core.exists():
        import pytest
        pytest.skip("corpus absent")
    a = subprocess.run([str(dgtest.DUMPGATE), "scan", "--format", "jsonl", str(core)], capture_output=True)
    b = subprocess.run([str(dgtest.DUMPGATE), "scan", "--format", "jsonl", "-"], stdin=open(core, "rb"),
                       capture_output=True)
    sa = [x for x in dgtest.records(a.stdout) if x["record"] == "summary"][0]
    sb = [x for x in dgtest.records(b.stdout) if x["record"] == "summary"][0]
    assert sb["format"] == sa["format"] == "elf-core"
    assert sb["coverage"]["region_bytes"] == sa["coverage"]["region_bytes"]
    assert sb["coverage"]["file_bytes"] == sa["coverage"]["file_bytes"]
    assert a.returncode == b.returncode == 0


def test_strict_and_exit_precedence(tmp_path, procs):
    """A truncated real core passes without --strict (with a warning) and
    fails with it; with one unreadable and one dirty file the finding wins
    (exit 1); an unreadable file beside a clean one is exit 2."""
    from conftest import gcore
    p = procs.start(["sleep", "60"])
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    data = open(core, "rb").read()
    cut = tmp_path / "cut.core"
    cut.write_bytes(data[:300000])
    r = dgtest.run("scan", "-q", cut)
    assert r.returncode == 0, r.stderr
    r = dgtest.run("scan", "--strict", cut)
    assert r.returncode == 2 and b"incomplete scan (--strict)" in r.stderr, r.stderr
    assert b"bytes its headers describe are missing" in r.stderr
    conf = tmp_path / "strict.yaml"
    conf.write_text("strict: true\n")
    assert dgtest.run("scan", "--config", conf, cut).returncode == 2
    assert dgtest.run("scan", core).returncode == 0  # the whole core is clean

    k = keys.genpkey(tmp_path / "k.pem", "p256")
    dirty = tmp_path / "dirty.bin"
    dirty.write_bytes(os.urandom(1000) + open(k, "rb").read() + os.urandom(1000))
    missing = tmp_path / "missing.core"
    for files in ([missing, dirty], [dirty, missing], [cut, dirty]):
        args = ["--strict"] if cut in files else []
        r = dgtest.run("scan", *args, *files)
        assert r.returncode == 1, (files, r.stderr)  # never hidden by the error
    assert dgtest.run("scan", missing, core).returncode == 2
    assert dgtest.run("scan", "--strict", core, cut).returncode == 2


def test_dumps_only_reads_first_bytes(tmp_path):
    """--dumps-only scans a file only when its first bytes are a dump."""
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    text = tmp_path / "key.txt"  # a key in a text file is not a dump
    text.write_bytes(open(k, "rb").read())
    r = dgtest.run("scan", "--dumps-only", "--format", "jsonl", text, timeout=20)
    assert r.returncode == 0 and dgtest.records(r.stdout) == [], r.stdout
    assert dgtest.run("scan", "--format", "jsonl", text).returncode == 1


def test_detector_exclusion_and_unknown_options(tmp_path):
    """-d -A,-B leaves detectors out of the default set; an --option that no
    detector reads is refused (exit 2) with the known names."""
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    dump = tmp_path / "d.bin"
    dump.write_bytes(os.urandom(500) + open(k, "rb").read() + os.urandom(500))
    rc, f, _, _ = dgtest.scan(dump)
    assert rc == 1 and {x["detector"] for x in f} == {"pem"}
    rc, f, _, err = dgtest.scan(dump, "-d", "-pem,-aes")
    assert rc == 0 and f == [], err
    r = dgtest.run("scan", "-d", "-pem,der", dump)
    assert r.returncode == 2 and b"not both" in r.stderr
    r = dgtest.run("scan", "-d", "-nosuch", dump)
    assert r.returncode == 2 and b"unknown detector 'nosuch'" in r.stderr
    r = dgtest.run("scan", "--option", "aes.max-bit-error=2", dump)
    assert r.returncode == 2 and b"no detector reads 'aes.max-bit-error'" in r.stderr
    assert b"aes.max-bit-errors" in r.stderr
    assert dgtest.run("scan", "--option", "aes.max-bit-errors=2", dump).returncode == 1


_on_a_terminal = dgtest.on_a_terminal


def test_output_file_and_colour(tmp_path):
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    dump = tmp_path / "d.bin"
    dump.write_bytes(os.urandom(500) + open(k, "rb").read() + os.urandom(500))
    rep = tmp_path / "report.jsonl"
    r = dgtest.run("scan", "-f", "jsonl", "-o", rep, dump)
    assert r.returncode == 1 and r.stdout == b""
    assert [x["record"] for x in dgtest.records(rep.read_bytes())] == ["finding", "summary"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("report")] == ["report.jsonl"]
    r = dgtest.run("scan", "-o", tmp_path / "no" / "such" / "dir.txt", dump)
    assert r.returncode == 2 and b"cannot write the report" in r.stderr
    # colour on a terminal, for the severity word only; none with NO_COLOR or -o
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    text = _on_a_terminal(["scan", dump], env)
    assert "\x1b[1;31mhigh\x1b[0m ec-private-key (long-term)" in text, text
    assert "exit 1" in text.splitlines()[-1]  # the closing line
    env["NO_COLOR"] = "1"
    assert "\x1b[" not in _on_a_terminal(["scan", dump], env)
    assert "\x1b[" not in dgtest.run("scan", dump).stdout.decode()


def test_progress_on_a_terminal(tmp_path):
    """A dump over 256 MiB shows how far the scan is on a terminal's stderr,
    and the line is cleared at the end; none with -q or off a terminal."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(300 << 20)  # sparse: no disk, all zeros
    text = _on_a_terminal(["scan", big])
    assert "GiB scanned (" in text and "\x1b[K" in text, text[-500:]
    assert "GiB scanned" not in _on_a_terminal(["scan", "-q", big])
    r = dgtest.run("scan", big)
    assert r.returncode == 0 and b"GiB scanned" not in r.stderr


def test_names_from_a_dump_are_escaped(tmp_path, procs):
    """A process whose program path holds a terminal escape and a newline
    (both in the core's NT_FILE note): text output shows them as \\xNN."""
    import shutil
    from conftest import gcore
    k = keys.genpkey(tmp_path / "k.pem", "p256")
    evil = tmp_path / "hold\x1b[2J\nkey"
    shutil.copy(dgtest.HOLDKEY, evil)
    p = procs.start([evil, k], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    out = dgtest.run("regions", core).stdout.decode(errors="replace")
    # the ESC arrives raw; the newline as gdb wrote it into NT_FILE: the text
    # \012 (its backslash escaped), or the raw byte (\x0a)
    assert "hold\\x1b[2J\\x0akey" in out or "hold\\x1b[2J\\\\012key" in out, out[-2000:]
    for out in (out, dgtest.run("scan", "-v", core).stdout.decode(errors="replace")):
        assert "\x1b" not in out
        assert not any(l.startswith("key") for l in out.splitlines())  # no broken line
