# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_plugins.py - detector plug-ins (--plugin, docs/PLUGINS.md): dumpgate is
# installed into a temporary prefix (meson install --destdir), the example in
# examples/plugin is built out of tree against the INSTALLED header and
# dumpgate.pc, loaded with --plugin and finds its planted marker in synthetic
# and real (gcore) cores; plug-ins with a wrong ABI, no entry symbol or a
# failing create() are refused with exit 2 and nothing scanned.
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

import dgtest
from conftest import gcore

MKCORE = dgtest.BUILD / "fixtures" / "mkcore"
EXAMPLE = dgtest.ROOT / "examples" / "plugin"
MARKER = "DUMPGATE-TEST-MARKER-0123456789abcdef"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(destdir, environment for pkg-config) of a `meson install --destdir`."""
    dest = tmp_path_factory.mktemp("inst")
    r = subprocess.run(["meson", "install", "-C", str(dgtest.BUILD), "--no-rebuild",
                        "--destdir", str(dest)], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    pcs = list(dest.rglob("dumpgate.pc"))
    assert len(pcs) == 1
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent), PKG_CONFIG_SYSROOT_DIR=str(dest))
    return dest, env


def build_plugin(src_dir, env, out_dir, cflags=""):
    work = out_dir / "src"
    shutil.copytree(src_dir, work)
    r = subprocess.run(["make", "-C", str(work), f"CFLAGS=-O2 -Wall -Wextra -Werror {cflags}"],
                       capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    return work / "marker.so"


@pytest.fixture(scope="module")
def marker_so(installed, tmp_path_factory):
    dest, env = installed
    # the installed header is the one used: no -I into the source tree
    assert list(dest.rglob("include/dumpgate/plugin.h"))
    return build_plugin(EXAMPLE, env, tmp_path_factory.mktemp("marker"))


def test_install_layout(installed):
    dest, env = installed
    names = {p.name for p in dest.rglob("*")}
    assert {"dumpgate.h", "detector.h", "finding.h", "error.h", "plugin.h", "dumpgate.pc",
            "libdumpgate.so.0", "default.yaml"} <= names
    cflags = subprocess.run(["pkg-config", "--cflags", "dumpgate"], env=env,
                            capture_output=True, check=True).stdout.decode()
    assert str(dest) in cflags


def mkcore_with(tmp_path, data):
    plant = tmp_path / "plant"
    plant.write_bytes(data)
    core = tmp_path / "core"
    subprocess.run([str(MKCORE), "--segments", "2", "--segment-size", "65536", "--fill", "random",
                    "--plant", f"{plant}@1:777", str(core)], check=True, capture_output=True)
    return core


def test_example_plugin_finds_marker(tmp_path, marker_so):
    core = mkcore_with(tmp_path, f"xx {MARKER} yy".encode())
    rc, found, _, err = dgtest.scan(core, "--plugin", marker_so)
    assert rc == 0, err  # the marker is medium, below the default --fail-on high
    assert dgtest.scan(core, "--plugin", marker_so, "--fail-on", "medium")[0] == 1
    assert [(f["detector"], f["type"], f["match_sha256"]) for f in found] == [
        ("marker", "test-marker", hashlib.sha256(MARKER.encode()).hexdigest())]
    p = dgtest.run("scan", "--plugin", marker_so, "-f", "sarif", core)
    assert p.returncode == 0 and MARKER.encode() not in p.stdout
    assert b'"marker"' in p.stdout
    # --detectors chooses: a plug-in not named does not run
    rc, found, _, err = dgtest.scan(core, "--plugin", marker_so, "-d", "pem")
    assert rc == 0 and not found, err
    p = dgtest.run("detectors", "--plugin", marker_so)
    assert p.returncode == 0 and b"marker" in p.stdout and b"(plug-in)" in p.stdout


HOLDER = r"""
import sys, time
held = ("marker: " + sys.argv[1] + "\n").encode()
print("ready", flush=True)
time.sleep(120)
"""


def test_example_plugin_in_real_core(tmp_path, procs, marker_so):
    p = procs.start([sys.executable, "-c", HOLDER, MARKER], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, found, _, err = dgtest.scan(core, "--plugin", marker_so, "-d", "marker",
                                    "--fail-on", "medium")
    assert rc == 1, err
    assert found and all(f["detector"] == "marker" for f in found)


def compile_plugin(installed, tmp_path, name, source, defs=()):
    """Builds the one-file plug-in source against the installed header
    (pkg-config dumpgate); returns the .so."""
    _, env = installed
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    so = tmp_path / f"{name}.so"
    cflags = subprocess.run(["pkg-config", "--cflags", "dumpgate"], env=env, capture_output=True,
                            check=True).stdout.decode().split()
    subprocess.run(["cc", "-std=c11", "-shared", "-fPIC", *cflags, *defs, "-o", str(so), str(src)],
                   check=True, capture_output=True)
    return so


BAD = r"""
#include <dumpgate/plugin.h>
static dg_err fail_create(const struct dg_config *cfg, void **shared)
{ (void)cfg; (void)shared; return DG_E_UNSUPPORTED; }
static dg_err scan(void *c, const struct dg_chunk *ch, struct dg_sink *s)
{ (void)c; (void)ch; (void)s; return DG_OK; }
#ifdef LONG_TRIGGER
static const struct dg_trigger triggers[] = {{2, {'a', 'b'}, 0}, {4, {'a', 'b', 'c'}, 0}, {0, {0}, 0}};
#endif
static const struct dg_detector d = {
    .abi = ABI, .name = "bad", .summary = "refused", .max_span = 16, .scan = scan,
#ifdef FAIL_CREATE
    .create = fail_create,
#endif
#ifdef LONG_TRIGGER
    .triggers = triggers,
#endif
};
#ifndef NO_ENTRY
DG_PLUGIN_EXPORT const struct dg_detector *dg_detector_entry_v1(void) { return &d; }
#else
DG_PLUGIN_EXPORT const struct dg_detector *something_else(void) { return &d; }
#endif
"""


@pytest.mark.parametrize("defs,words", [
    (["-DABI=DG_DETECTOR_ABI+1"], "detector ABI 4, this dumpgate speaks ABI 3"),
    (["-DABI=2"], "detector ABI 2, this dumpgate speaks ABI 3"),
    (["-DABI=DG_DETECTOR_ABI", "-DNO_ENTRY"], "no symbol dg_detector_entry_v1"),
    (["-DABI=DG_DETECTOR_ABI", "-DFAIL_CREATE"], "create failed: unsupported"),
    (["-DABI=DG_DETECTOR_ABI", "-DLONG_TRIGGER"], "detector bad: trigger 1 is 4 bytes long"),
])
def test_bad_plugin_refused(tmp_path, installed, defs, words):
    so = compile_plugin(installed, tmp_path, "bad", BAD, defs)
    core = mkcore_with(tmp_path, b"nothing")
    for args in (("scan", "--plugin", so, core), ("detectors", "--plugin", so)):
        p = dgtest.run(*args)
        assert p.returncode == 2
        assert words in p.stderr.decode(), p.stderr.decode()
        assert p.stdout == b""


def test_plugin_not_a_file(tmp_path):
    p = dgtest.run("scan", "--plugin", tmp_path / "missing.so", tmp_path)
    assert p.returncode == 2 and b"cannot load" in p.stderr


def test_plugin_name_clash(tmp_path, marker_so):
    p = dgtest.run("detectors", "--plugin", marker_so, "--plugin", marker_so)
    assert p.returncode == 2 and b"already loaded" in p.stderr


SEEN = r"""
#include <string.h>
#include <dumpgate/plugin.h>
/* reports one low finding at the start of every chunk it is handed */
static dg_err scan(void *c, const struct dg_chunk *ch, struct dg_sink *s)
{
    struct dg_finding f;
    (void)c;
    memset(&f, 0, sizeof f);
    dg_strlcpyf(f.type, sizeof f.type, "chunk-seen");
    f.status = DG_STATUS_CANDIDATE;
    f.severity = DG_SEV_LOW;
    f.off = ch->off;
    f.len = 1;
    dg_report(s, &f);
    return DG_OK;
}
static const struct dg_detector d = {
    .abi = DG_DETECTOR_ABI, .name = "seen", .summary = "every chunk", .max_span = 64,
    .scan = scan,
};
DG_PLUGIN_EXPORT const struct dg_detector *dg_detector_entry_v1(void) { return &d; }
"""


def from_file_and_pipe(args, raw):
    """("file", records) and ("pipe", records) of a JSONL scan of raw with
    args, read as a file and from standard input; the scan passes."""
    out = []
    for how in ("file", "pipe"):
        args_ = ["scan", *args, "--format", "jsonl", "--fail-on", "medium"]
        if how == "file":
            p = dgtest.run(*args_, raw)
        else:
            p = subprocess.run([str(dgtest.DUMPGATE), *args_, "-"], input=raw.read_bytes(),
                               capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        out.append((how, [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]))
    return out


def test_zero_chunks_reach_no_detector(tmp_path, installed):
    """A chunk whose bytes, margin included, are all zero is handed to no
    detector (nothing can be found in it); a chunk of zeros whose margin
    holds data, and the chunks of data, are. Read from a file and from a
    pipe (the stream ring)."""
    so = compile_plugin(installed, tmp_path, "seen", SEEN)
    mib = 1 << 20
    data = bytearray(5 * mib)
    data[0:mib] = os.urandom(mib)                  # chunk 0: data
    # chunk 1: zeros, and so is its margin (the first 64 bytes of chunk 2)
    data[2 * mib + 4096:3 * mib] = os.urandom(mib - 4096)  # chunk 2: data after zeros
    # chunk 3: zeros whose margin (chunk 4's first bytes) holds data
    data[4 * mib:4 * mib + 100] = b"\x01" * 100    # chunk 4: data
    raw = tmp_path / "mixed.bin"
    raw.write_bytes(bytes(data))
    for how, recs in from_file_and_pipe(["--plugin", str(so), "-d", "seen", "--chunk-size",
                                         str(mib)], raw):
        seen = sorted(r["offset"] for r in recs if r.get("record") == "finding")
        assert seen == [0, 2 * mib, 3 * mib, 4 * mib], (how, seen)
        summ = [r for r in recs if r.get("record") == "summary"][0]
        assert summ["coverage"]["file_bytes"] == len(data), summ


TRIGGERED = r"""
#include <string.h>
#include <dumpgate/plugin.h>
/* "ZQ" then any byte then nothing more: reports each "ZQX" it is told of
 * (type "via-hits") or finds itself when the engine gave no hits ("searched") */
static void found(struct dg_sink *s, const struct dg_chunk *ch, size_t k, const char *how)
{
    struct dg_finding f;
    memset(&f, 0, sizeof f);
    dg_strlcpyf(f.type, sizeof f.type, "%s", how);
    f.status = DG_STATUS_CANDIDATE;
    f.severity = DG_SEV_LOW;
    f.off = ch->off + k;
    f.len = 3;
    dg_report(s, &f);
}
static dg_err scan(void *c, const struct dg_chunk *ch, struct dg_sink *s)
{
    (void)c;
    if (ch->hits != NULL) {
        struct dg_hit_iter it = {0};
        for (size_t k; (k = dg_hits_next(ch, &it)) < ch->owned;)
            if (k + 3 <= ch->len && memcmp(ch->p + k, "ZQX", 3) == 0)
                found(s, ch, k, "via-hits");
        return DG_OK;
    }
    for (size_t k = 0; k < ch->owned && k + 3 <= ch->len; k++)
        if (memcmp(ch->p + k, "ZQX", 3) == 0)
            found(s, ch, k, "searched");
    return DG_OK;
}
static const struct dg_trigger triggers[] = {{3, {'Z', 'Q', 0}, 4}, {0, {0}, 0}};
static const struct dg_detector d = {
    .abi = DG_DETECTOR_ABI, .name = "zqx", .summary = "ZQX", .max_span = 16,
    .scan = scan, .triggers = triggers,
};
DG_PLUGIN_EXPORT const struct dg_detector *dg_detector_entry_v1(void) { return &d; }
"""


def test_plugin_triggers_reach_it_through_the_shared_pass(tmp_path, installed):
    """A plug-in that declares triggers (ABI 3) is told where they start
    (dg_chunk.hits, dg_hits_next) by the engine's one pass over each chunk,
    beside every built-in detector's: it finds each planted "ZQX", at the
    start, across a chunk boundary, in the margin and in the last bytes, and
    nothing else, from a file and from a pipe."""
    so = compile_plugin(installed, tmp_path, "zqx", TRIGGERED)
    mib = 1 << 20
    data = bytearray(os.urandom(3 * mib))
    data = data.replace(b"ZQX", b"zqx")
    at = [0, 4093, mib - 1, mib + 31, 2 * mib - 2, 3 * mib - 3]
    for a in at:
        data[a:a + 3] = b"ZQX"
    raw = tmp_path / "zqx.bin"
    raw.write_bytes(bytes(data))
    avx2 = "avx2" in open("/proc/cpuinfo").read()
    for how, recs in from_file_and_pipe(["--plugin", str(so), "--chunk-size", str(mib)], raw):
        mine = sorted((r["offset"], r["type"]) for r in recs
                      if r.get("record") == "finding" and r["detector"] == "zqx")
        assert [o for o, _ in mine] == at, (how, mine)
        assert {t for _, t in mine} == {"via-hits" if avx2 else "searched"}, mine
