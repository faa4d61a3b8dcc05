# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_where.py - attribution (issue 22): which process, thread, module,
# section, symbol and DWARF variable hold each key. fixtures/holdwhere.c is
# built with -g here (and stripped, with its debug file in a .build-id
# tree), run, its core taken with gcore and the program stopped by its PID.
import os
import pathlib
import re
import shutil
import struct
import subprocess

import jsonschema
import pytest

import dgtest
import keys
from conftest import gcore

FIXTURE = dgtest.ROOT / "fixtures" / "holdwhere.c"

pytestmark = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("gcore") is None,
                                reason="needs cc and gdb's gcore")


def build(out, *extra):
    subprocess.run(["cc", "-g", "-O0", "-o", str(out), str(FIXTURE), "-lcrypto", "-lpthread",
                    *extra], check=True, capture_output=True)
    return out


def build_id(path):
    out = subprocess.run(["readelf", "-n", str(path)], check=True, capture_output=True).stdout
    return re.search(rb"Build ID: ([0-9a-f]+)", out).group(1).decode()


def three_keys(tmp_path):
    return [keys.genpkey(tmp_path / f"{n}.pem", "rsa2048") for n in "abc"]


def core_of(tmp_path, procs, exe, ks):
    p = procs.start([exe, *ks], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    return core, p.pid


def by_key(findings, key):
    spki = dgtest.spki_sha256(key)
    hits = [f for f in findings if f["key"]["spki_sha256"] == spki and f["status"] == "confirmed"]
    assert hits, f"{key}: {findings}"
    return hits[0]


def test_variable_global_and_thread(tmp_path, procs):
    exe = build(tmp_path / "holdwhere")
    ks = three_keys(tmp_path)
    core, pid = core_of(tmp_path, procs, exe, ks)
    rc, findings, summ, err = dgtest.scan(core)
    assert rc == 1, err
    # the summary names the process
    assert summ[0]["process"]["name"] == "holdwhere"
    assert summ[0]["process"]["pid"] == pid
    # (a) PEM in a static buffer inside a struct: the variable and member path
    a = by_key(findings, ks[0])["where"]
    assert a["module"] == str(exe) and a["build_id"] == build_id(exe)
    assert a["section"] == ".data"
    assert a["symbol"].startswith("g_conf")
    assert re.fullmatch(r"g_conf\.tls\.key_pem\[\d+\]", a["variable"]), a
    assert a["type"] == "char [4096]"
    assert a["process"] == {"name": "holdwhere", "pid": pid}
    # (b) limbs on the heap behind the global EVP_PKEY *: the path from
    # g_signing_key (EVP_PKEY -> keydata RSA -> BIGNUM p -> its limbs)
    b = by_key(findings, ks[1])["where"]
    assert b["process"]["pid"] == pid and b["module"] is None
    assert re.fullmatch(r"g_signing_key \(EVP_PKEY \*\)( -> \+0x[0-9a-f]+)+ -> key at \+0x[0-9a-f]+"
                        r"( \(the copy at vaddr 0x[0-9a-f]+\))?", b["path"]), b
    # (c) a local array on a second thread: that thread, not the main one
    c = by_key(findings, ks[2])
    assert c["region"]["kind"] == "stack", c
    assert c["where"]["thread"]["id"] not in (None, pid), c["where"]
    assert c["where"]["module"] is None
    # the text line says the same
    out = dgtest.run("scan", core).stdout.decode()
    assert "in g_conf.tls.key_pem[" in out and "(char [4096]) .data of " in out
    assert "reachable from g_signing_key (EVP_PKEY *) -> " in out
    assert f"process holdwhere pid {pid}" in out
    # every record is valid against the contract
    schema = jsonschema.Draft7Validator(
        __import__("json").loads((dgtest.ROOT / "docs" / "findings.schema.json").read_text()))
    p = dgtest.run("scan", "--format", "jsonl", core)
    for rec in dgtest.records(p.stdout):
        assert not list(schema.iter_errors(rec)), rec
    # SARIF: the variable and the module as logical locations
    sarif = dgtest.run("scan", "--format", "sarif", core).stdout.decode()
    assert '"logicalLocations"' in sarif and '"kind":"member"' in sarif.replace(" ", "")
    # With two threads the pointer-path search's first read of memory starts
    # while the detectors finish (where_prepare()): the same attribution.
    for jobs in ("2", "3"):
        rc2, findings2, _, err2 = dgtest.scan(core, "-j", jobs)
        assert rc2 == 1, err2
        assert [(f["offset"], f["where"]) for f in findings2] == \
            [(f["offset"], f["where"]) for f in findings], jobs


def with_hole(core, out, size, vaddr=0x200000000000):
    """A copy of the ELF core `core` with one more writable PT_LOAD of size
    bytes at vaddr that is a hole of the file (read as zeros, taking no
    disk), as the shadow memory of an AddressSanitizer process is: the
    program headers copied past the end with the new one last."""
    d = bytearray(pathlib.Path(core).read_bytes())
    phoff, phnum = dgtest.phdr_table(d)
    assert phnum < 0xffff
    table = d[phoff:phoff + 56 * phnum]
    new_phoff = (len(d) + 4095) // 4096 * 4096
    seg_off = (new_phoff + 56 * (phnum + 1) + 4095) // 4096 * 4096
    table += struct.pack("<IIQQQQQQ", 1, 6, seg_off, vaddr, 0, size, size, 1)
    d += bytes(new_phoff - len(d)) + table
    struct.pack_into("<Q", d, 32, new_phoff)
    struct.pack_into("<H", d, 56, phnum + 1)
    with open(out, "wb") as f:
        f.write(d)
        f.truncate(seg_off + size)
    return out


def test_pointer_path_past_a_sparse_hole(tmp_path, procs):
    # A core with a 1 TiB writable hole (a sanitizer's shadow): the scan
    # passes over the hole without reading it, and so does the pointer
    # search after it, which reads again only what the scan did not find
    # to be zeros. Read whole, the hole outlasts the search's 10 s.
    exe = build(tmp_path / "holdwhere")
    ks = three_keys(tmp_path)
    core, _ = core_of(tmp_path, procs, exe, ks)
    holed = with_hole(core, tmp_path / "holed.core", 1 << 40)
    assert os.stat(holed).st_blocks * 512 < os.stat(core).st_size + (1 << 20)
    rc, findings, summ, err = dgtest.scan(core)
    assert rc == 1, err
    want = by_key(findings, ks[1])["where"]["path"]
    assert want.startswith("g_signing_key (EVP_PKEY *) -> "), want
    for jobs in ("1", "2"):
        rc, findings, summ, err = dgtest.scan(holed, "-j", jobs, timeout=300)
        assert rc == 1, err
        assert summ[0]["coverage"]["file_bytes"] == os.stat(holed).st_size
        b = by_key(findings, ks[1])["where"]
        assert b["path"] == want, (jobs, b)


def test_process_args_secrets_redacted(tmp_path, procs):
    exe = build(tmp_path / "holdwhere")
    core, pid = core_of(tmp_path, procs, exe, three_keys(tmp_path))
    data = bytearray(pathlib.Path(core).read_bytes())
    # NT_PRPSINFO: pr_fname[16] then pr_psargs[80]; gcore wrote argv[0] only
    at = data.find(b"holdwhere".ljust(16, b"\0") + str(exe).encode()[:64])
    assert at > 0
    args = b"holdwhere --password=hunter2 -passin pass:s3cret token=abc --port 443"
    data[at + 16:at + 96] = args.ljust(80, b"\0")
    pathlib.Path(core).write_bytes(bytes(data))
    p = dgtest.run("scan", "--format", "jsonl", core)
    summ = [r for r in dgtest.records(p.stdout) if r["record"] == "summary"][0]
    assert summ["process"]["args"] == ("holdwhere --password=[redacted] -passin [redacted] "
                                       "token=[redacted] --port 443")
    for out in (p.stdout, dgtest.run("scan", core).stdout,
                dgtest.run("scan", "--format", "sarif", core).stdout):
        assert b"hunter2" not in out and b"s3cret" not in out


def test_stripped_with_debug_dir(tmp_path, procs):
    full = build(tmp_path / "holdwhere.full")
    bid = build_id(full)
    dbg = tmp_path / "dbg" / ".build-id" / bid[:2]
    dbg.mkdir(parents=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(full), str(dbg / (bid[2:] + ".debug"))],
                   check=True)
    exe = tmp_path / "holdwhere"
    subprocess.run(["strip", "--strip-all", "-o", str(exe), str(full)], check=True)
    assert build_id(exe) == bid
    ks = three_keys(tmp_path)
    core, pid = core_of(tmp_path, procs, exe, ks)
    rc, findings, summ, err = dgtest.scan(core, "--debug-dir", tmp_path / "dbg")
    a = by_key(findings, ks[0])["where"]
    assert re.fullmatch(r"g_conf\.tls\.key_pem\[\d+\]", a["variable"]), a
    assert a["symbol"].startswith("g_conf") and a["section"] == ".data"
    assert by_key(findings, ks[1])["where"]["path"].startswith("g_signing_key (EVP_PKEY *)")
    assert by_key(findings, ks[2])["where"]["thread"]["id"] != pid
    # without the debug file: module and section, no variable, and why
    rc, findings, summ, err = dgtest.scan(core)
    a = by_key(findings, ks[0])["where"]
    assert a["module"] == str(exe) and a["section"] == ".data"
    assert a["variable"] is None and "no debug information" in a["note"], a


def test_build_id_mismatch(tmp_path, procs):
    exe = build(tmp_path / "holdwhere")
    ks = three_keys(tmp_path)
    core, pid = core_of(tmp_path, procs, exe, ks)
    old = build_id(exe)
    build(exe, "-Wl,--build-id=0x" + "ab" * 20)  # the same path, another build
    assert build_id(exe) != old
    rc, findings, summ, err = dgtest.scan(core)
    a = by_key(findings, ks[0])["where"]
    assert a["module"] == str(exe) and a["build_id"] == old
    assert "build-id mismatch" in a["note"], a
    assert a["variable"] is None and a["symbol"] is None and a["section"] is None


def test_s_server_names_process_module_thread(tmp_path, procs, free_port):
    key = keys.genpkey(tmp_path / "key.pem", "rsa2048")
    cert = keys.self_signed(key, tmp_path / "key.crt")
    p = procs.start(["openssl", "s_server", "-accept", f"127.0.0.1:{free_port}", "-key", key,
                     "-cert", cert], ready="ACCEPT")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, summ, err = dgtest.scan(core)
    assert summ[0]["process"]["name"] == "openssl" and summ[0]["process"]["pid"] == p.pid
    # gdb's gcore writes only argv[0] into pr_psargs (a kernel core has all of it)
    assert summ[0]["process"]["args"].startswith("openssl")
    for f in findings:
        assert f["where"]["process"]["pid"] == p.pid
    # OpenSSL's own test keys compiled into libcrypto/openssl sit in a module:
    # it is named with its build id; Debian ships no symbols for it
    in_module = [f for f in findings if f["where"]["module"]]
    for f in in_module:
        w = f["where"]
        assert w["build_id"], w
        assert w["variable"] is None and w["note"], w


def test_nginx_worker(tmp_path, procs, free_port):
    from test_verdict_processes import NGINX_CONF
    if shutil.which("nginx") is None or shutil.which("curl") is None:
        pytest.fail("nginx and curl are missing: tests/deps.sh installs them")
    key = keys.genpkey(tmp_path / "nginx.pem", "rsa2048")
    cert = keys.self_signed(key, tmp_path / "nginx.crt")
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user="user root;" if os.geteuid() == 0 else "", d=tmp_path,
                                      port=free_port, cert=cert, key=key))
    master = procs.start(["nginx", "-p", tmp_path, "-e", tmp_path / "error.log", "-c", conf,
                          "-g", "daemon off; master_process on;"])
    worker, page = None, b""
    for _ in range(150):
        kids = pathlib.Path(f"/proc/{master.pid}/task/{master.pid}/children")
        kids = kids.read_text().split() if kids.exists() else []
        if kids:
            worker = int(kids[0])
            page = subprocess.run(["curl", "-k", "-s", "--max-time", "5",
                                   f"https://127.0.0.1:{free_port}/"], capture_output=True,
                                  timeout=10).stdout
            if page == b"dumpgate\n":
                break
        __import__("time").sleep(0.1)
    assert worker is not None and page == b"dumpgate\n"
    core = gcore(worker, tmp_path / "worker")
    procs.stop(master)  # the worker goes with its master
    rc, findings, summ, err = dgtest.scan(core)
    assert summ[0]["process"]["name"].startswith("nginx") and summ[0]["process"]["pid"] == worker
    hit = by_key(findings, key)
    w = hit["where"]
    assert w["process"]["pid"] == worker
    # on the heap: a pointer path from a stack or a global, or why there is none
    assert w["path"] or w["note"], w
    if w["path"]:
        # the root: a thread's stack, or a global (Debian's nginx and libcrypto
        # carry no symbols: "libcrypto.so.3 .bss+0x484910")
        assert re.match(r"(stack of thread \d+|\S+ \.\w+\+0x[0-9a-f]+|\S+)"
                        r"( -> \+0x[0-9a-f]+)* -> key at \+0x[0-9a-f]+", w["path"]), w


MKMINIDUMP = dgtest.BUILD / "fixtures" / "mkminidump"


def test_minidump_module_thread_process(tmp_path):
    key = keys.genpkey(tmp_path / "k.pem", "rsa2048")
    key2 = keys.genpkey(tmp_path / "k2.pem", "p256")
    dump = tmp_path / "id.dmp"
    subprocess.run([MKMINIDUMP, "--identity", "--plant", f"{key}@0x7f1000001000",
                    "--plant", f"{key2}@0x7ffd10000100", dump], check=True, capture_output=True)
    rc, findings, summ, err = dgtest.scan(dump)
    assert summ[0]["process"]["pid"] == 4242 and summ[0]["process"]["modules"] == 2
    # in a module image: the module from ModuleList, its build id from CodeView
    w = by_key(findings, key)["where"]
    assert w["module"] == "/usr/lib/x86_64-linux-gnu/libmk0.so.1"
    assert w["build_id"] == "b0" + "".join(f"{k:02x}" for k in range(1, 20))
    # on a thread's stack: the thread and its name from ThreadNames
    w = by_key(findings, key2)["where"]
    assert w["thread"] == {"id": 1001, "name": "worker-1"}, w
    out = dgtest.run("scan", dump).stdout.decode()
    assert "in module /usr/lib/x86_64-linux-gnu/libmk0.so.1 (build-id b00102030405" in out
    assert "thread 1001 (worker-1)" in out and "process libmk0.so.1 pid 4242" in out


def test_no_findings_no_attribution(tmp_path):
    # a dump without findings: a summary with no process (raw bytes), no cost
    path = tmp_path / "zeros.bin"
    path.write_bytes(b"\0" * 65536)
    rc, findings, summ, err = dgtest.scan(path)
    assert rc == 0 and findings == [] and summ[0]["process"] is None
