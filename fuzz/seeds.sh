#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# seeds.sh OUTDIR [BUILD] - makes seed corpora for every harness in OUTDIR/<name>/:
# the real public dumps (read from ../shared/corpus/public, decompressed when
# stored compressed), synthetic dumps from the fixture generators, and private
# keys in every PEM form made on the spot with openssl and ssh-keygen. Files
# are named by their SHA-256. Nothing here is committed; seeds are made anew.
set -eu
out=$1
build=${2:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
corpus="$here/../shared/corpus/public"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

add() { # add TARGET FILE
    mkdir -p "$out/$1"
    h=$(sha256sum "$2" | cut -d' ' -f1)
    cp "$2" "$out/$1/$h"
}

if [ -d "$corpus" ]; then
    for f in $(find "$corpus" -type f ! -name '*.md' ! -name '*.out'); do
        case "$f" in
            *.bz2) bunzip2 -c "$f" > "$tmp/d" ;;
            *.gz) gunzip -c "$f" > "$tmp/d" ;;
            *) cp "$f" "$tmp/d" ;;
        esac
        if [ "$(head -c 4 "$tmp/d" | od -An -c | tr -d ' ')" = "177ELF" ]; then
            add elfcore "$tmp/d"
        else
            add minidump "$tmp/d"
        fi
        add where "$tmp/d"  # attribution (fuzz_where.c) reads both
        # Whole dumps are slow seeds for the full scan: keep the small ones.
        [ "$(stat -c %s "$tmp/d")" -lt 300000 ] && add scan "$tmp/d"
    done
fi
if [ -x "$build/fixtures/mkminidump" ]; then
    for v in "" --memory64; do
        "$build/fixtures/mkminidump" $v --ranges 3 --range-size 2048 "$tmp/m.dmp" >/dev/null && add minidump "$tmp/m.dmp"
    done
fi
if [ -x "$build/fixtures/mkcore" ]; then
    for a in "--class 32 --endian big --machine ppc" "--class 64 --nt-file --threads 2" "--segments 3 --partial"; do
        # shellcheck disable=SC2086
        "$build/fixtures/mkcore" $a --segment-size 1024 "$tmp/c.core" >/dev/null 2>&1 && add elfcore "$tmp/c.core"
    done
fi
for alg in RSA EC ED25519; do
    case $alg in
        RSA) o="-pkeyopt rsa_keygen_bits:1024" ;;
        EC) o="-pkeyopt ec_paramgen_curve:P-256" ;;
        *) o="" ;;
    esac
    # shellcheck disable=SC2086
    openssl genpkey -algorithm $alg $o -out "$tmp/k.pem" 2>/dev/null
    add pem "$tmp/k.pem"
    add scan "$tmp/k.pem"
    openssl pkey -in "$tmp/k.pem" -traditional -out "$tmp/t.pem" 2>/dev/null && add pem "$tmp/t.pem"
    iconv -f ascii -t utf-16le "$tmp/k.pem" > "$tmp/u.pem" && add pem "$tmp/u.pem"
    openssl pkey -in "$tmp/k.pem" -outform DER -out "$tmp/k.der" && add scan "$tmp/k.der"
    add der "$tmp/k.der"
    openssl pkey -in "$tmp/k.pem" -traditional -outform DER -out "$tmp/t.der" 2>/dev/null && add der "$tmp/t.der"
    # The numbers as libraries hold them, and the key as a JWK.
    /usr/bin/python3 - "$tmp/k.pem" "$tmp" <<'PY' && for f in "$tmp"/limbs "$tmp"/factors "$tmp"/jwk "$tmp"/ecpub; do
import base64, json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
out = sys.argv[2]
u = lambda v, n=None: base64.urlsafe_b64encode(v.to_bytes(n or (v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
le = lambda v, n: v.to_bytes(n, "little")
if isinstance(k, rsa.RSAPrivateKey):
    n = k.private_numbers()
    size = (n.p.bit_length() + 63) // 64 * 8
    open(out + "/limbs", "wb").write(le(n.p, size) + bytes(40) + le(n.dmp1, size) + le(n.public_numbers.n, 2 * size))
    L = (n.public_numbers.n.bit_length() + 7) // 8
    be = lambda v, m: v.to_bytes(m, "big")
    open(out + "/factors", "wb").write(bytes(16) + b"\0\0\1\0" + be(n.public_numbers.n, L) + be(n.p, L // 2)
                                       + be(n.q, L // 2) + bytes(13) + le(n.q, L // 2) + b"\x80\0\0\0"
                                       + le(n.p, L // 2) + bytes(5) + le(n.public_numbers.n, L))
    j = {"kty": "RSA", "n": u(n.public_numbers.n), "e": u(n.public_numbers.e), "d": u(n.d), "p": u(n.p),
         "q": u(n.q), "dp": u(n.dmp1), "dq": u(n.dmq1), "qi": u(n.iqmp)}
elif isinstance(k, ec.EllipticCurvePrivateKey):
    n = k.private_numbers()
    spki = k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    open(out + "/ecpub", "wb").write(spki + bytes(64) + le(n.private_value, 32))
    j = {"kty": "EC", "crv": "P-256", "x": u(n.public_numbers.x, 32), "y": u(n.public_numbers.y, 32),
         "d": u(n.private_value, 32)}
else:
    raw = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    j = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(pub).rstrip(b"=").decode(),
         "d": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
open(out + "/jwk", "w").write("garbage{" + json.dumps({"keys": [j]}) + "}tail")
PY
        [ -f "$f" ] || continue
        case "$f" in
            */limbs) add rsa_raw "$f" ;;
            */factors) add rsa_factor "$f" ;;
            */jwk) add jwk "$f" ;;
            */ecpub) add ec_raw "$f" ;;
        esac
        rm -f "$f"
    done
done
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id" -C seed </dev/null >/dev/null
add pem "$tmp/id"
tail -c +16 "$tmp/id" >/dev/null
sed '1d;$d' "$tmp/id" | base64 -d > "$tmp/id.bin" 2>/dev/null && tail -c +16 "$tmp/id.bin" > "$tmp/id.body" && add openssh "$tmp/id.body"
ssh-keygen -q -t rsa -b 1024 -N '' -f "$tmp/idr" -C seed </dev/null >/dev/null
sed '1d;$d' "$tmp/idr" | base64 -d | tail -c +16 > "$tmp/idr.body" && add openssh "$tmp/idr.body"
# The decompression front end: small real files from the command-line tools
# (frame and member variants, concatenations, empty and cut files), and apport
# reports holding gzip, zstd, zlib or plain values, made as apport makes them.
printf 'ProblemType: Crash\nCoreDump: base64\n' > "$tmp/p1"
if [ -f "$tmp/c.core" ]; then head -c 6000 "$tmp/c.core" > "$tmp/p2"; else cp "$tmp/k.pem" "$tmp/p2"; fi
yes 'a line of a dump that compresses well, 0123456789' | head -c 700000 > "$tmp/p3" # > one output buffer
: > "$tmp/p0"
zc() { # zc NAME TOOL ARGS...: compresses each payload with TOOL ARGS; keeps the small results
    n=$1
    shift
    command -v "$1" >/dev/null 2>&1 || return 0
    for p in p0 p1 p2 p3; do
        "$@" < "$tmp/$p" > "$tmp/$n.$p" 2>/dev/null || continue
        [ "$(stat -c %s "$tmp/$n.$p")" -le 65536 ] && add decompress "$tmp/$n.$p"
    done
    return 0
}
zc zst zstd -q -c
zc zst19 zstd -q -19 --no-check -c
zc lz4 lz4 -q -c
zc lz4b lz4 -q -BD -B4 --content-size --no-frame-crc -c
zc xz xz -q -c
zc xz0 xz -q -0 --check=none -c
zc xz256 xz -q --check=sha256 -c
zc gz gzip -q -c
zc gzn gzip -q -n -1 -c
zc bz bzip2 -q -c
zc bz1 bzip2 -q -1 -c
for n in zst lz4 xz gz bz; do
    [ -f "$tmp/$n.p1" ] && [ -f "$tmp/$n.p2" ] || continue
    cat "$tmp/$n.p1" "$tmp/$n.p2" > "$tmp/cat" && add decompress "$tmp/cat" # two frames, members, streams
    s=$(stat -c %s "$tmp/$n.p2")
    head -c $((s / 2)) "$tmp/$n.p2" > "$tmp/cut" && add decompress "$tmp/cut"
    { cat "$tmp/$n.p1"; printf 'not compressed'; } > "$tmp/trail" && add decompress "$tmp/trail"
done
if [ -f "$tmp/xz.p1" ]; then
    { cat "$tmp/xz.p1"; printf '\0\0\0\0'; cat "$tmp/xz.p1"; } > "$tmp/pad" && add decompress "$tmp/pad" # stream padding
fi
if [ -f "$tmp/zst.p1" ]; then
    { printf '\120\052\115\030\004\0\0\0skip'; cat "$tmp/zst.p1"; } > "$tmp/skip" && add decompress "$tmp/skip"
fi
/usr/bin/python3 - "$tmp" <<'PY'
import base64, subprocess, sys, zlib
tmp = sys.argv[1]
core = open(tmp + "/p2", "rb").read()
head = b"ProblemType: Crash\nArchitecture: amd64\nExecutablePath: /usr/bin/holdkey\nCoreDump: base64\n"
tail = b"ProcEnviron:\n LANG=C.UTF-8\nSignal: 11\n"
def lines(blob, size):
    return b"".join(b" " + base64.b64encode(blob[i:i + size]) + b"\n" for i in range(0, len(blob), size))
c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
raw = c.compress(core) + c.flush()
gz = [b"\037\213\010\010\000\000\000\000\002\377CoreDump\000", raw[:len(raw) // 2], raw[len(raw) // 2:]
      + (zlib.crc32(core) & 0xFFFFFFFF).to_bytes(4, "little") + len(core).to_bytes(4, "little")]
reports = {
    "gzip": b"".join(b" " + base64.b64encode(p) + b"\n" for p in gz),
    "zlib": lines(zlib.compress(core), 1000),
    "plain": lines(core, 57),
}
try:
    reports["zstd"] = lines(subprocess.run(["zstd", "-q", "-c"], input=core, capture_output=True,
                                           check=True).stdout, 57 * 20)
except (OSError, subprocess.CalledProcessError):
    pass
for name, value in reports.items():
    open("%s/apport.%s" % (tmp, name), "wb").write(head + value + tail)
PY
for f in "$tmp"/apport.*; do
    [ -f "$f" ] && add decompress "$f"
done
mkdir -p "$out/sshkey"
head -c 4096 /dev/urandom > "$tmp/r" && add sshkey "$tmp/r"
# drbg: an OpenSSL 3 CTR-DRBG state (PROV_DRBG_CTR) and the PROV_DRBG that
# points at it; keyshare: TLS 1.3 key_share extensions (ClientHello with
# X25519 and P-256 shares, ServerHello with one) and TLS 1.2 P-256
# ClientKeyExchange and ServerKeyExchange messages; eddsa_raw: an Ed25519
# seed || public key in each context eddsa-raw keys on, and a Go slice header
# pointing into the input (mapped at 0x10000); sexp: libgcrypt S-expressions
# of an RSA, an EC, an Ed25519, an Ed448 and a DSA key (made by
# tests/test_sexp.py's helpers);
# dsa_raw: an OpenSSL dsa_st of a DSA-1024 key, its five BIGNUM headers and
# their limbs, every pointer into the input.
/usr/bin/python3 - "$tmp" "$here/tests" <<'PY'
import os, struct, sys
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives import serialization
tmp = sys.argv[1]
base = 0x5555_5555_0000
ctr = struct.pack("<5Q", base + 0x100, base + 0x200, base + 0x300, 0x7f00_0000_1000, 0x7f00_0000_2000)
ctr += struct.pack("<QI", 32, 1) + os.urandom(32 + 16) + bytes(16 + 4) + struct.pack("<Q", 0) + bytes(48)
drbg = struct.pack("<2Q4Q", base + 0x400, base + 0x500, *[0x7f00_0000_3000 + 16 * i for i in range(4)])
drbg = drbg.ljust(200, b"\0") + struct.pack("<QQ", 0, 420) + bytes(16) + struct.pack("<QIIQ", 48, 1, 0, 0)
open(tmp + "/drbg", "wb").write(drbg + ctr)
xpub = x25519.X25519PrivateKey.generate().public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)
ppub = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
shares = struct.pack(">HH", 0x1d, 32) + xpub + struct.pack(">HH", 0x17, 65) + ppub
ch = struct.pack(">HHH", 0x33, len(shares) + 2, len(shares)) + shares
sh = struct.pack(">HHHH", 0x33, 36, 0x1d, 32) + xpub
cke = b"\x10" + (1 + len(ppub)).to_bytes(3, "big") + bytes([len(ppub)]) + ppub
ske_body = b"\x03" + struct.pack(">HB", 0x17, len(ppub)) + ppub + os.urandom(72)
ske = b"\x0c" + len(ske_body).to_bytes(3, "big") + ske_body
open(tmp + "/keyshare", "wb").write(os.urandom(40) + ch + os.urandom(40) + sh + os.urandom(17) + cke +
                                    os.urandom(9) + ske)
from cryptography.hazmat.primitives.asymmetric import ed25519
k = ed25519.Ed25519PrivateKey.generate()
seed = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                       serialization.NoEncryption())
key = seed + k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
q = lambda v: struct.pack("<Q", v)
ed = q(0x51) + key + q(0) + q(1) + q(base) + q(64) + q(0) + key + bytes(8)
ed += key[32:] + key + key[32:]
ed += q(0x10000 + 8) + q(64) + q(64)
open(tmp + "/eddsa_raw", "wb").write(ed)
sys.path.insert(0, sys.argv[2])
from test_sexp import dsa_sexp, ec_sexp, ed_sexp, rsa_sexp
from cryptography.hazmat.primitives.asymmetric import ed448, rsa
from cryptography.hazmat.primitives.asymmetric import dsa
dk = dsa.generate_private_key(1024).private_numbers()
nums = [dk.public_numbers.parameter_numbers.p, dk.public_numbers.parameter_numbers.q,
        dk.public_numbers.parameter_numbers.g, dk.public_numbers.y, dk.x]
limbs, hdrs, at = b"", b"", 128 + 24 * 5
for v in nums:
    n = (v.bit_length() + 63) // 64
    hdrs += q(0x10000 + at + len(limbs)) + struct.pack("<4i", n, n, 0, 1)
    limbs += v.to_bytes(8 * n, "little")
st = bytes(8) + b"".join(q(0x10000 + 128 + 24 * i) for i in range(3)) + bytes(104 - 32)
st += q(0x10000 + 128 + 24 * 3) + q(0x10000 + 128 + 24 * 4) + bytes(8)
open(tmp + "/dsa_raw", "wb").write(st + hdrs + limbs)
open(tmp + "/sexp", "wb").write(
    rsa_sexp(rsa.generate_private_key(65537, 1024)) + os.urandom(40) +
    ec_sexp(ec.generate_private_key(ec.SECP256R1()), "NIST P-256") + os.urandom(40) +
    ed_sexp(ed25519.Ed25519PrivateKey.generate()) + os.urandom(40) +
    ed_sexp(ed448.Ed448PrivateKey.generate(), b"") + os.urandom(40) +
    dsa_sexp(dsa.generate_private_key(1024)))
PY
add drbg "$tmp/drbg"
add keyshare "$tmp/keyshare"
add eddsa_raw "$tmp/eddsa_raw"
add dsa_raw "$tmp/dsa_raw"
add sexp "$tmp/sexp"
# Sentry envelopes (fuzz_envelope.c: the first byte picks the piece size):
# one with lengths, one with a payload up to a newline, one with blank lines.
printf '\005{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event","length":13}\n{"level":"x"}\n{"type":"attachment","length":4,"attachment_type":"event.minidump"}\nMDMP\n' >"$tmp/env1"
printf '\001{}\n{"type":"session"}\n{"started":"2026-12-04"}\n\n{"type":"attachment","length":0}\n' >"$tmp/env2"
printf '\020{"dsn":"https://k@example.invalid/1"}\n\n\n{"type":"event"}\n{}' >"$tmp/env3"
for e in env1 env2 env3; do add envelope "$tmp/$e"; done
echo "seeds in $out: $(find "$out" -type f | wc -l) files"
