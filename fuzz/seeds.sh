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
    /usr/bin/python3 - "$tmp/k.pem" "$tmp" <<'PY' && for f in "$tmp"/limbs "$tmp"/jwk "$tmp"/ecpub; do
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
mkdir -p "$out/sshkey"
head -c 4096 /dev/urandom > "$tmp/r" && add sshkey "$tmp/r"
echo "seeds in $out: $(find "$out" -type f | wc -l) files"
