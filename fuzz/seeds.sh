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
done
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id" -C seed </dev/null >/dev/null
add pem "$tmp/id"
tail -c +16 "$tmp/id" >/dev/null
sed '1d;$d' "$tmp/id" | base64 -d > "$tmp/id.bin" 2>/dev/null && tail -c +16 "$tmp/id.bin" > "$tmp/id.body" && add openssh "$tmp/id.body"
ssh-keygen -q -t rsa -b 1024 -N '' -f "$tmp/idr" -C seed </dev/null >/dev/null
sed '1d;$d' "$tmp/idr" | base64 -d | tail -c +16 > "$tmp/idr.body" && add openssh "$tmp/idr.body"
echo "seeds in $out: $(find "$out" -type f | wc -l) files"
