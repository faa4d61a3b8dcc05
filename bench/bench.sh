#!/bin/bash
# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# bench.sh - end-to-end throughput of dumpgate on a core, beside cat, rg and yara.
#
# Usage: bench/bench.sh [--size BYTES] [--out DIR]
#        bench/bench.sh --real [--lib-mib N] [--heap-mib N] [--out DIR]
#
# Builds nothing: it expects build/dumpgate and build/fixtures/mkcore (or
# $DUMPGATE_BUILD/...). It makes three keys with `openssl genpkey` at run time
# (RSA-2048 PKCS#8 PEM, EC P-256 SEC1 PEM, RSA-3072 PKCS#1 PEM converted to
# UTF-16LE with iconv), writes a core of --size bytes (default 1 GiB) with
# `mkcore --size BYTES --mixed-bench` and the keys planted, prints the machine,
# warms the page cache once, then times each command three times with GNU time
# and prints a Markdown table of the best wall time, MB/s (bytes / 1e6 / s)
# and the largest peak RSS of the three runs. Then nine alternated rounds
# of -j1 (free, and held on each of two CPUs), -j2 and two -j1 scans at once
# give the -j2 speed-up and the machine's own two-CPU ceiling beside it (the
# "Two CPUs" section). Last it checks that dumpgate
# finds the planted keys. It runs a private copy of dumpgate, so a rebuild in
# the middle of the run changes nothing. Everything goes to --out (default: a new directory
# under /tmp; never inside the repository). Results: docs/PERFORMANCE.md.
#
# With --real the core is one of real process bytes instead: it starts
# bench/RealHeap.java in a JVM (javac at run time) that maps --lib-mib MiB
# (default 400) of the shared libraries in /usr/lib read-only, builds a
# managed heap of --heap-mib MiB (default 300) of ordinary objects, keeps
# 32 MiB of log text and 32 MiB of random bytes, and holds four keys made now
# (RSA-2048 and EC P-256 from PKCS#8 DER through KeyFactory, RSA-3072 from a
# PKCS#12 key store, the PKCS#8 PEM text of another RSA-2048 key); then it
# sets the JVM's coredump_filter to 0x7f (file mappings included), takes its
# core with gdb's gcore and stops the JVM by its PID. The check at the end
# is then that each of the four keys is confirmed, by its spki_sha256.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${DUMPGATE_BUILD:-$root/build}
dumpgate=$build/dumpgate
mkcore=$build/fixtures/mkcore
size=1073741824
out=
runs=3
real=0
lib_mib=400
heap_mib=300

usage() {
    echo "usage: bench/bench.sh [--size BYTES] [--out DIR]" >&2
    echo "       bench/bench.sh --real [--lib-mib N] [--heap-mib N] [--out DIR]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --size) [ $# -ge 2 ] || usage; size=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --real) real=1; shift ;;
    --lib-mib) [ $# -ge 2 ] || usage; lib_mib=$2; shift 2 ;;
    --heap-mib) [ $# -ge 2 ] || usage; heap_mib=$2; shift 2 ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
case $size$lib_mib$heap_mib in
'' | *[!0-9]*) echo "bench.sh: --size, --lib-mib and --heap-mib want numbers" >&2; exit 2 ;;
esac
if [ "$real" = 1 ]; then
    for tool in java javac gcore; do
        command -v "$tool" >/dev/null || { echo "bench.sh: --real needs $tool" >&2; exit 2; }
    done
fi
if [ "$size" -lt 67108864 ]; then
    echo "bench.sh: --size must be at least 64 MiB (67108864)" >&2
    exit 2
fi
for tool in "$dumpgate" "$mkcore"; do
    if [ ! -x "$tool" ]; then
        echo "bench.sh: $tool is missing; build first (ninja -C build)" >&2
        exit 2
    fi
done
for tool in openssl iconv rg yara taskset /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool is not installed" >&2; exit 2; }
done

if [ -z "$out" ]; then
    out=$(mktemp -d /tmp/dumpgate-bench.XXXXXX)
else
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
fi
case $out/ in
"$root"/*) echo "bench.sh: --out must not be inside the repository ($root)" >&2; exit 2 ;;
esac

core=$out/bench.core
rules=$out/rules.yar

# a private copy, so that a rebuild during the run cannot change what is measured
cp "$dumpgate" "$out/dumpgate"
dumpgate=$out/dumpgate

if [ "$real" = 1 ]; then
# --- keys, made now, and the JVM that holds them -------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -outform DER -out "$out/rsa2048.p8.der"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -outform DER -out "$out/ec256.p8.der"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$out/rsa3072.pem" 2>/dev/null
openssl req -new -x509 -key "$out/rsa3072.pem" -subj /CN=bench -days 3 -out "$out/rsa3072.crt" 2>/dev/null
openssl pkcs12 -export -inkey "$out/rsa3072.pem" -in "$out/rsa3072.crt" -name bench \
    -passout pass:bench -out "$out/rsa3072.p12"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/rsa2048b.p8.pem" 2>/dev/null
: >"$out/spki.txt"
for k in "rsa2048.p8.der DER" "ec256.p8.der DER" "rsa3072.pem PEM" "rsa2048b.p8.pem PEM"; do
    set -- $k
    openssl pkey -inform "$2" -in "$out/$1" -pubout -outform DER | sha256sum | cut -d' ' -f1 >>"$out/spki.txt"
done
rm -f "$out/rsa3072.pem" # the key store holds it
javac -d "$out" "$here/RealHeap.java"
gen_start=$(date +%s.%N)
# The Java heap is sized for the objects; MALLOC_ARENA_MAX=2 keeps glibc from
# reserving a 64 MiB arena per JVM thread (gcore writes every reserve out).
MALLOC_ARENA_MAX=2 java -Xms$((heap_mib * 2))m -Xmx$((heap_mib * 2))m -XX:+UseSerialGC \
    -XX:-UsePerfData -XX:CompressedClassSpaceSize=64m -XX:ReservedCodeCacheSize=32m \
    -cp "$out" RealHeap "$lib_mib" "$heap_mib" "$out" >"$out/java.out" 2>"$out/java.err" &
jpid=$!
trap 'kill "$jpid" 2>/dev/null || :' EXIT
i=0
until grep -q '^ready' "$out/java.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$jpid" 2>/dev/null; then
        echo "bench.sh: the JVM did not get ready:" >&2
        cat "$out/java.err" >&2
        exit 1
    fi
    sleep 0.5
done
echo 0x7f >"/proc/$jpid/coredump_filter"
gcore -o "$out/real" "$jpid" >"$out/gcore.log" 2>&1
kill "$jpid"
wait "$jpid" 2>/dev/null || :
trap - EXIT
mv "$out/real.$jpid" "$core"
gen_end=$(date +%s.%N)
bytes=$(stat -c %s "$core")
echo "{\"real\": true, \"java\": \"$(head -n1 "$out/java.out")\", \"lib_mib\": $lib_mib, \"heap_mib\": $heap_mib}" >"$out/mkcore.json"
else
# --- keys, made now --------------------------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/rsa2048.p8.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkey -traditional -out "$out/ec256.sec1.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 2>/dev/null |
    openssl pkey -traditional -out "$out/rsa3072.p1.pem"
iconv -f ASCII -t UTF-16LE "$out/rsa3072.p1.pem" >"$out/rsa3072.p1.utf16le"

# --- the core ---------------------------------------------------------------
# Segments 1..3 exist for any --size >= 64 MiB (segments are 1..64 MiB); the
# EC key crosses a MiB boundary of mkcore's generator, nothing more.
gen_start=$(date +%s.%N)
"$mkcore" --size "$size" --mixed-bench --seed 42 \
    --plant "$out/rsa2048.p8.pem@1:12345" \
    --plant "$out/ec256.sec1.pem@2:1048000" \
    --plant "$out/rsa3072.p1.utf16le@3:777" \
    "$core" >"$out/mkcore.json"
gen_end=$(date +%s.%N)
bytes=$(stat -c %s "$core")
fi

cat >"$rules" <<'EOF'
rule pem_private_key
{
    strings:
        $pkcs8 = "-----BEGIN PRIVATE KEY-----" ascii wide
        $rsa = "-----BEGIN RSA PRIVATE KEY-----" ascii wide
        $ec = "-----BEGIN EC PRIVATE KEY-----" ascii wide
        $openssh = "-----BEGIN OPENSSH PRIVATE KEY-----" ascii wide
    condition:
        any of them
}
EOF

# --- the machine -------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes)"
fi
echo "## Machine"
echo
echo '```'
echo "nproc:    $(nproc)"
echo "cpu:      $(lscpu | grep 'Model name' | sed 's/^Model name:[[:space:]]*//')"
echo "kernel:   $(uname -sr)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, before the runs)"
echo "dumpgate: $("$dumpgate" --version)"
echo "commit:   $commit"
echo "detectors: $("$dumpgate" detectors | awk '/^[a-z]/ { printf "%s ", $1 }')(the default set)"
echo "core:     $core, $bytes bytes, made in $(awk "BEGIN { printf \"%.1f\", $gen_end - $gen_start }") s"
echo "mkcore:   $(cat "$out/mkcore.json")"
free -g
echo '```'
echo

# --- timing ------------------------------------------------------------------
cat "$core" >/dev/null    # warm the page cache

# measure LABEL CMD...: best wall time of $runs runs, largest peak RSS
rows=
measure() {
    label=$1
    shift
    best=
    rss=0
    i=0
    while [ $i -lt $runs ]; do
        st=0
        /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" >"$out/cmd.out" 2>"$out/cmd.err" || st=$?
        if [ $st -gt 1 ]; then    # 1 = "found something" for rg and dumpgate
            echo "bench.sh: exit status $st from: $*" >&2
            cat "$out/cmd.err" >&2
            exit 1
        fi
        # GNU time puts "Command exited with non-zero status N" first
        if ! read -r wall kib <<EOF2 || [ -z "${kib:-}" ]
$(tail -n 1 "$out/time.txt")
EOF2
        then
            echo "bench.sh: no timing for: $*" >&2
            cat "$out/time.txt" "$out/cmd.err" >&2
            exit 1
        fi
        if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then
            best=$wall
        fi
        [ "$kib" -gt "$rss" ] && rss=$kib
        i=$((i + 1))
    done
    if [ "$(echo "$best > 0" | bc)" = 1 ]; then
        mbs=$(echo "scale=0; $bytes / 1000000 / $best" | bc)
    else
        mbs="> $(echo "scale=0; $bytes / 1000000 / 0.01" | bc)"
    fi
    mib=$(echo "scale=1; $rss / 1024" | bc)
    rows="$rows| \`$label\` | $best | $mbs | $mib |
"
}

measure "cat FILE > /dev/null" cat "$core"
measure "rg -a -c 'PRIVATE KEY' FILE" rg -a -c 'PRIVATE KEY' "$core"
measure "yara -c rules.yar FILE" yara -c "$rules" "$core"
measure "dumpgate scan --detectors pem -j1 FILE" "$dumpgate" scan --detectors pem -j1 "$core"
measure "dumpgate scan --detectors pem -j2 FILE" "$dumpgate" scan --detectors pem -j2 "$core"
measure "dumpgate scan --detectors pem,der,jwk,keystore,sshkey -j1 FILE" "$dumpgate" scan --detectors pem,der,jwk,keystore,sshkey -j1 "$core"
measure "dumpgate scan -j1 FILE" "$dumpgate" scan -j1 "$core"
measure "dumpgate scan -j2 FILE" "$dumpgate" scan -j2 "$core"
measure "dumpgate scan --rules default -j1 FILE" "$dumpgate" scan --rules default -j1 "$core"
measure "dumpgate scan --rules default -j2 FILE" "$dumpgate" scan --rules default -j2 "$core"
measure "dumpgate scan -j1 - < FILE (stdin)" sh -c '"$0" scan -j1 - < "$1"' "$dumpgate" "$core"
zstd -q -f -T0 -3 "$core" -o "$core.zst"
measure "zstd -dc FILE.zst > /dev/null" sh -c 'zstd -dc "$0" > /dev/null' "$core.zst"
measure "dumpgate scan --detectors pem -j1 FILE.zst" "$dumpgate" scan --detectors pem -j1 "$core.zst"
measure "dumpgate scan -j1 FILE.zst" "$dumpgate" scan -j1 "$core.zst"
measure "dumpgate scan -j2 FILE.zst" "$dumpgate" scan -j2 "$core.zst"

echo "## Results ($bytes bytes, best of $runs, page cache warm)"
echo
echo "| command | wall s | MB/s | peak RSS MiB |"
echo "|---|---:|---:|---:|"
printf '%s' "$rows"
echo

# --- two CPUs: -j2 against -j1, and what the machine itself allows ------------
# The table's best-of-three times come from runs minutes apart, and GNU time
# rounds to 10 ms. Here each round runs, back to back (the order reversed
# every other round): -j1, -j1 held on each of the first two CPUs (taskset),
# -j2, and two -j1 scans of the same core at once (two processes, nothing
# shared: the most two CPUs of this machine give this work). With p1 and p2
# the two concurrent scans' times, two CPUs kept busy would do
# t1 * (1/p1 + 1/p2) scans in the time -j1 does one: the ceiling -j2 is
# measured against. A virtual machine's CPUs need not be equally fast.
echo "## Two CPUs ($((runs * 3)) alternated rounds, wall ms by the monotonic clock)"
echo
python3 - "$dumpgate" "$core" "$((runs * 3))" <<'EOF2'
import os, statistics as st, subprocess, sys, time
exe, core, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
cpus = sorted(os.sched_getaffinity(0))[:2]

def start(j, cpu=None):
    pre = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return subprocess.Popen(pre + [exe, "scan", "--no-config", "-j%d" % j, core],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def timed(*procs):
    t0, ends = time.monotonic(), {}
    while len(ends) < len(procs):
        for i, p in enumerate(procs):
            if i not in ends and p.poll() is not None:
                ends[i] = time.monotonic() - t0
        time.sleep(0.0005)
    for p in procs:
        if p.returncode not in (0, 1):
            sys.exit("bench.sh: dumpgate exit status %d" % p.returncode)
    return [1000 * ends[i] for i in range(len(procs))]

if len(cpus) < 2:
    print("one CPU: nothing to measure")
    sys.exit(0)
steps = {
    "j1": lambda: timed(start(1))[0],
    "c0": lambda: timed(start(1, cpus[0]))[0],
    "c1": lambda: timed(start(1, cpus[1]))[0],
    "j2": lambda: timed(start(2))[0],
    "pair": lambda: timed(start(1), start(1)),
}
rows = []
for r in range(rounds):
    order = list(steps) if r % 2 == 0 else list(reversed(steps))
    got = {what: steps[what]() for what in order}
    p1, p2 = got["pair"]
    rows.append((got["j1"], got["c0"], got["c1"], got["j2"], p1, p2,
                 got["j1"] / got["j2"], got["j1"] * (1 / p1 + 1 / p2)))
print("| round | -j1 | -j1 on CPU %d | -j1 on CPU %d | -j2 | two -j1 at once | -j1 / -j2 | ceiling |"
      % (cpus[0], cpus[1]))
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for i, (t1, c0, c1, t2, p1, p2, ratio, ceil) in enumerate(rows, 1):
    print("| %d | %.0f | %.0f | %.0f | %.0f | %.0f, %.0f | %.3f | %.3f |"
          % (i, t1, c0, c1, t2, p1, p2, ratio, ceil))
med = lambda k: st.median(row[k] for row in rows)
print()
print("medians: -j1 %.0f ms (CPU %d %.0f, CPU %d %.0f), -j2 %.0f ms; -j1 / -j2 %.3f; "
      "ceiling %.3f; -j1 / -j2 over the ceiling %.3f"
      % (med(0), cpus[0], med(1), cpus[1], med(2), med(3), med(6), med(7),
         st.median(row[6] / row[7] for row in rows)))
EOF2
echo

# --- did dumpgate find the keys? ---------------------------------------------
"$dumpgate" scan --format jsonl -j2 "$core" >"$out/findings.jsonl" 2>"$out/findings.err" || :
confirmed=$(grep '"record":"finding"' "$out/findings.jsonl" | grep -c '"status":"confirmed"' || :)
found=0
echo "## Planted keys"
echo
if [ "$real" = 1 ]; then
    for spki in $(cat "$out/spki.txt"); do
        if grep '"record":"finding"' "$out/findings.jsonl" | grep '"status":"confirmed"' |
            grep -q "\"spki_sha256\":\"$spki\""; then
            found=$((found + 1))
        fi
    done
    echo "confirmed findings: $confirmed; the JVM's keys confirmed (by spki_sha256): $found of 4"
else
    # shellcheck disable=SC2013 # the offsets are plain numbers
    for off in $(grep -o '"offset":[0-9]*' "$out/mkcore.json" | cut -d: -f2); do
        if grep '"record":"finding"' "$out/findings.jsonl" | grep '"status":"confirmed"' |
            grep -q "\"offset\":$off,"; then
            found=$((found + 1))
        fi
    done
    echo "confirmed findings: $confirmed; planted keys found at their offsets: $found of 3"
fi
echo "(rg counts lines, yara counts matching rules: both only see the PEM labels)"
echo "output: $out"

# --- time to the first confirmed finding ----------------------------------------
# Findings are grouped by key identity across the whole dump, so they are
# printed when the scan ends: this is the time a pipeline waits for a verdict.
echo
echo "## Time from start to the first confirmed finding (jsonl on a pipe, best of $runs)"
echo
for args in "-j1" "-j2"; do
    best=
    for _ in $(seq "$runs"); do
        t=$(python3 - "$dumpgate" "$args" "$core" <<'EOF2'
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen([sys.argv[1], "scan", "--format", "jsonl", sys.argv[2], sys.argv[3]],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
for line in p.stdout:
    if b'"record":"finding"' in line and b'"status":"confirmed"' in line:
        print("%.2f" % (time.monotonic() - t0))
        break
p.kill()
p.wait()
EOF2
)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    echo "dumpgate scan $args: first confirmed finding after $best s"
done

# --- each detector alone on this core, one thread ------------------------------
echo
echo "## Each detector alone on this core (-j1, best of $runs: wall s, user s)"
echo
for d in $("$dumpgate" detectors | awk '/^[a-z]/ && $1 != "rules" {print $1}'); do
    best=
    for _ in $(seq "$runs"); do
        /usr/bin/time -f '%e %U' -o "$out/time.txt" "$dumpgate" scan -j1 -d "$d" "$core" \
            >/dev/null 2>&1 || :
        t=$(tail -n 1 "$out/time.txt")
        if [ -z "$best" ] || [ "$(echo "${t% *} < ${best% *}" | bc)" = 1 ]; then best=$t; fi
    done
    echo "$d: $best"
done

# --- each detector alone, one thread, random and mixed data ------------------
if [ -x "$build/tests/bench_detector" ]; then
    echo
    echo "## Each detector alone (bench_detector, 256 MiB, one thread, best of 3)"
    echo
    for d in $("$dumpgate" detectors | awk '/^[a-z]/ && $1 != "rules" {print $1}'); do
        printf '%s: ' "$d"
        "$build/tests/bench_detector" 256 "$d" 2>&1 | tr '\n' ' '
        echo
    done
fi
