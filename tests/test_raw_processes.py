# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# test_raw_processes.py - keys as crypto libraries hold them after the
# encoded forms are gone: a Python process with the `cryptography` package
# holding an RSA-4096 key, and a JVM holding an RSA key as BigIntegers after
# the DER was zeroed and dropped. Each core is taken with gcore and the
# process stopped by its PID; the finding must carry the key's spki_sha256.
# And the other side: a core of random bytes and one of compressed data give
# no finding at all.
import os
import shutil
import subprocess

import pytest

import dgtest
import keys
from conftest import gcore

HOLD_PY = r"""
import os, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
data = open(sys.argv[1], "rb").read()
key = serialization.load_pem_private_key(data, None)
key.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
del data
print("ready", os.getpid(), flush=True)
time.sleep(600)
"""


def confirmed_with(findings, spki):
    return [f for f in findings if f["status"] == "confirmed" and f["key"]["spki_sha256"] == spki]


def test_python_cryptography_rsa4096(tmp_path, procs):
    key = keys.genpkey(tmp_path / "rsa.pem", "rsa4096")
    script = tmp_path / "hold.py"
    script.write_text(HOLD_PY)
    p = procs.start(["/usr/bin/python3", script, key], ready="ready")
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    rc, findings, _, err = dgtest.scan(core, "-j2")
    hits = confirmed_with(findings, dgtest.spki_sha256(key))
    assert hits, (findings, err)
    assert hits[0]["key"]["bits"] == 4096 and rc == 1


@pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK")
def test_jvm_biginteger_rsa(tmp_path, procs):
    key = keys.genpkey(tmp_path / "rsa.pem", "rsa2048")
    der = tmp_path / "rsa.der"
    der.write_bytes(keys.pkcs8_der(key))
    src = os.path.join(os.path.dirname(__file__), "java", "HoldRsa.java")
    subprocess.run(["javac", "-d", str(tmp_path), src], check=True, capture_output=True)
    p = procs.start(["java", "-Xmx48m", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-cp", tmp_path,
                     "HoldRsa", der], ready="ready", timeout=60)
    core = gcore(p.pid, tmp_path / "core")
    procs.stop(p)
    data_has_der = keys.pkcs8_der(key)[-64:] in open(core, "rb").read()
    rc, findings, _, err = dgtest.scan(core, "-j2")
    hits = confirmed_with(findings, dgtest.spki_sha256(key))
    assert hits, (findings, err)
    encodings = {l["encoding"] for h in hits for l in h["locations"]}
    assert "java-int" in encodings or data_has_der, encodings


MKCORE = dgtest.BUILD / "fixtures" / "mkcore"


def test_random_core_256mib_is_silent(tmp_path):
    core = tmp_path / "random.core"
    subprocess.run([str(MKCORE), "--segments", "64", "--segment-size", str(4 << 20), "--fill", "random",
                    "--seed", str(int.from_bytes(os.urandom(4), "little")), str(core)],
                   check=True, capture_output=True)
    rc, findings, summ, err = dgtest.scan(core, "-j2")
    assert findings == [] and rc == 0, findings
    assert summ[0]["coverage"]["scanned_bytes"] >= 256 << 20


def test_compressed_data_core_is_silent(tmp_path):
    """Compressed buffers pass every cheap entropy test: still no finding."""
    blob = tmp_path / "blob.zst"
    libs = [os.path.join("/usr/lib/x86_64-linux-gnu", f) for f in sorted(os.listdir("/usr/lib/x86_64-linux-gnu"))
            if ".so" in f][:400]
    with open(blob, "wb") as out:
        for lib in libs:
            if os.path.isfile(lib):
                out.write(subprocess.run(["zstd", "-q", "-c", "-3", lib], capture_output=True).stdout)
                out.write(subprocess.run(["gzip", "-c", lib], capture_output=True).stdout)
            if out.tell() > (15 << 20):
                break
        out.truncate(min(out.tell(), 15 << 20))  # mkcore plants at most 16 MiB
    size = (os.path.getsize(blob) + 4095) // 4096 * 4096
    core = tmp_path / "compressed.core"
    subprocess.run([str(MKCORE), "--segments", "4", "--segment-size", str(size), "--fill", "zeros",
                    "--plant", f"{blob}@0:0", "--plant", f"{blob}@1:0", "--plant", f"{blob}@2:0",
                    "--plant", f"{blob}@3:0", str(core)], check=True, capture_output=True)
    rc, findings, _, err = dgtest.scan(core, "-j2")
    assert findings == [] and rc == 0, findings
