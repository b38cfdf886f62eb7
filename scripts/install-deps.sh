#!/usr/bin/env bash
# Installs every system package swtorrent's build, tests and benchmarks need.
# Idempotent: packages already present are skipped, so a second run is quick.
# Usage: scripts/install-deps.sh            # build + test dependencies
#        scripts/install-deps.sh --bench    # also the benchmark tools
set -euo pipefail

build_pkgs=(pkg-config libssl-dev libsodium-dev openssl)
# iproute2 (ip, tc, ss) and python3: the network lab (scripts/lab/) and the namespace tests.
# util-linux: setpriv (UnprivilegedEngineTests runs seed and leech as nobody) and chrt (bench/verify.sh).
# systemd: systemd-analyze checks scripts/systemd/swtorrent-seed.service (it does not need systemd as PID 1).
# nginx: the third-party HTTPS mirror of MirrorHTTPSTests (and the HTTP server bench/mirror.sh fetches from).
test_pkgs=(mktorrent aria2 transmission-cli python3 python3-libtorrent opentracker minisign iproute2 procps curl util-linux nginx
    systemd)
# transmission-daemon: the reference in bench/footprint.sh.
bench_pkgs=(wrk hyperfine time python3-cryptography transmission-daemon)

want=("${build_pkgs[@]}" "${test_pkgs[@]}")
if [[ "${1:-}" == "--bench" ]]; then want+=("${bench_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Daemons among these (nginx, transmission-daemon) are installed, not started as services: the benchmarks start their
# own on loopback. policy-rc.d tells the packages' scripts not to start them; it is removed again if we added it.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
