#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (C) the dumpgate authors
#
# deps.sh - installs what dumpgate needs to build and test on Debian 12, and
# only what is missing (apt-get; run as root or with sudo available).
set -eu

PKGS="gcc pkg-config meson ninja-build libelf-dev libssl-dev libjansson-dev libpcre2-dev libyaml-dev make
      elfutils gdb openssl openssh-client gnupg python3 python3-pytest python3-cryptography time
      libzstd-dev liblz4-dev liblzma-dev zlib1g-dev libbz2-dev
      zstd lz4 xz-utils gzip bzip2 python3-jsonschema pre-commit git
      clang libclang-rt-14-dev nodejs default-jdk-headless putty-tools
      nginx gnutls-bin curl golang-go libgnutls28-dev libnss3-dev libgcrypt20-dev libsodium-dev libmbedtls-dev libwolfssl-dev python3-nacl
      libseccomp-dev libdwarf-dev python3-distributed python3-dask
      libmicrohttpd-dev libcurl4-openssl-dev"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# npm installs s3rver for tests/test_s3.py; a nodejs from elsewhere (NodeSource)
# brings its own npm, and Debian's npm package would fight it
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# nginx is a test subject (tests/test_verdict_processes.py starts its own on a
# free port), not a service: where no policy-rc.d says otherwise, one that
# denies every start (exit 101) stands for the length of the install, so the
# package does not start a system nginx on port 80.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap '$SUDO rm -f "$policy"' EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\n# deps.sh (dumpgate): no service starts during this install\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
