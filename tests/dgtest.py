# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# dgtest.py - helpers shared by the test suite: where the built binary is, how
# to run it, how to read its JSONL, where the public corpus is, and how to
# compute a key's SPKI fingerprint with the openssl command line (the ground
# truth every finding is compared with), where a core's program headers are.
import json
import os
import pathlib
import struct
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("DUMPGATE_BUILD", ROOT / "build"))
DUMPGATE = BUILD / "dumpgate"
# Test subjects whose cores are taken must not be sanitizer builds (ASan's
# shadow makes terabyte cores): a sanitizer run points this at a plain build.
HOLDKEY = pathlib.Path(os.environ.get("DUMPGATE_HOLDKEY", BUILD / "tests" / "holdkey"))
CORPUS = (ROOT / ".." / "shared" / "corpus" / "public").resolve()
# `meson test` sets MALLOC_PERTURB_, which fills memory glibc frees: good for
# dumpgate, wrong for the real processes whose cores the tests take (what a
# freed key leaves behind is what they measure). The subjects run without it;
# dumpgate, run through run(), keeps it.
PERTURB = os.environ.pop("MALLOC_PERTURB_", None)


def run(*args, input=None, timeout=600, env=None):
    """Runs dumpgate with args; returns the CompletedProcess (bytes output)."""
    if PERTURB is not None:
        env = dict(os.environ if env is None else env, MALLOC_PERTURB_=PERTURB)
    return subprocess.run([str(DUMPGATE), *map(str, args)], input=input,
                          capture_output=True, timeout=timeout, env=env)


def records(stdout):
    """Parses JSONL output into a list of dicts."""
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def scan(path, *args, input=None, timeout=600):
    """Scans path with --format jsonl; returns (returncode, findings, summaries, stderr)."""
    p = run("scan", "--format", "jsonl", *args, path, input=input, timeout=timeout)
    recs = records(p.stdout)
    findings = [r for r in recs if r.get("record") == "finding"]
    summaries = [r for r in recs if r.get("record") == "summary"]
    return p.returncode, findings, summaries, p.stderr.decode(errors="replace")


def regions(path):
    """Runs `dumpgate regions --format jsonl`; returns (returncode, spans, summary)."""
    p = run("regions", "--format", "jsonl", path)
    recs = records(p.stdout)
    spans = [r for r in recs if r.get("record") == "span"]
    summ = [r for r in recs if r.get("record") == "summary"]
    return p.returncode, spans, (summ[0] if summ else None)


def spki_sha256(keyfile, passin=None):
    """SHA-256 of the DER SubjectPublicKeyInfo, as `openssl pkey -pubout -outform DER | sha256sum`."""
    cmd = ["openssl", "pkey", "-in", str(keyfile), "-pubout", "-outform", "DER"]
    if passin is not None:
        cmd += ["-passin", "pass:" + passin]
    der = subprocess.run(cmd, check=True, capture_output=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


def corpus_files():
    """Every dump in the public corpus (not the oracle text files); [] if absent."""
    if not CORPUS.is_dir():
        return []
    out = []
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file() and p.suffix not in (".md", ".out"):
            out.append(p)
    return out


def placements(findings):
    """One record per place a key sits: each finding's locations (every copy
    of the same key, see docs/FINDINGS.md) expanded into finding-like dicts,
    sorted by offset. For tests about where copies are, not how many keys."""
    out = []
    for f in findings:
        for loc in f.get("locations") or [{}]:
            g = dict(f)
            g.update(loc)
            out.append(g)
    return sorted(out, key=lambda x: x["offset"])


def jvm_heap(n):
    """n bytes like a JVM's heap: 32-byte objects of a mark word (1), a
    compressed class pointer beside a field, a random long and two compressed
    references. The mark words, one every 32 bytes, are the only structured
    words; the raw-number and raw-key searches must not take them for part
    of a key nor lose a key among them."""
    out = bytearray()
    while len(out) < n:
        ref = 0xe0000000 + (int.from_bytes(os.urandom(3), "little") << 3)
        out += struct.pack("<QII8sII", 1, 0x01000a08, ref, os.urandom(8), ref + 32, ref + 64)
    return bytes(out[:n])


PLANT_PREFIX = 65  # odd: the first blob starts at an odd offset


def plant(tmp_path, blobs, name="dump.bin", gap=4093):
    """Writes random filler with each blob at a known offset (the first at
    PLANT_PREFIX, each next one `gap` random bytes after the last); returns
    (path, offsets). The byte before each blob is non-zero: after a zero
    byte, a UTF-16LE blob reads as UTF-16BE one byte earlier just as well
    (1 run in 256 failed so)."""
    data, offs = bytearray(os.urandom(PLANT_PREFIX)), []
    for b in blobs:
        if not offs or gap:
            data[-1] |= 1  # filler, not the previous blob
        offs.append(len(data))
        data += b + os.urandom(gap)
    p = tmp_path / name
    p.write_bytes(bytes(data))
    return p, offs


def on_a_terminal(args, env=None):
    """Runs dumpgate with its standard output on a pseudo-terminal; returns
    what it printed there."""
    import pty
    out = []
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.execve(str(DUMPGATE), [str(DUMPGATE), *map(str, args)],
                  env if env is not None else os.environ)
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out.append(chunk)
    finally:
        os.waitpid(pid, 0)
        os.close(fd)
    return b"".join(out).decode(errors="replace")


def phdr_table(d):
    """(e_phoff, e_phnum) of the 64-bit little-endian ELF file d (bytes);
    its program headers are 56 bytes each."""
    return struct.unpack_from("<Q", d, 32)[0], struct.unpack_from("<H", d, 56)[0]
