#!/usr/bin/env bash
# The seed's HTTP mirror (issue 13 item 3) against nginx: the same random file (1 GiB by default) served on
# 127.0.0.1 by `swtorrent seed --serve-http` and by nginx (sendfile on), fetched in one run, interleaved per round, by
#   curl     curl -o (one connection)
#   aria2c   aria2c -x4 -s4 (4 connections, 4 ranges of the file)
# from each server. Time runs from the client's start to its exit; each result is compared with the source (cmp).
# Prints MB/s per client and server (median of the rounds) and the ratios ours / nginx.
#
# Usage: scripts/bench/serve.sh                                    # 1 round, 1 GiB, a release build of this tree
#        BENCH_ROUNDS=3 BENCH_SIZE_MIB=1024 BENCH_DIR=/var/tmp scripts/bench/serve.sh
#        BENCH_BIN=/path/to/swtorrent scripts/bench/serve.sh      # that binary instead of building
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${BENCH_ROUNDS:-1}
size_mib=${BENCH_SIZE_MIB:-1024}
case_timeout=${BENCH_CASE_TIMEOUT:-300}

source scripts/bench/http-common.sh
bin=$(bench_binary nginx aria2c curl)

dir=$(mktemp -d "${BENCH_DIR:-/tmp}/swt-bench-serve.XXXXXX")
nginx_pid=""
seed_pid=""
cleanup() {
    for pid in $seed_pid $nginx_pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

waitfor() {
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null -I "$1" && return 0
        sleep 0.1
    done
    echo "serve.sh: $1 is not served" >&2
    return 1
}

write_payload "$dir" "$size_mib" swtorrent-serve "$bin"
bytes=$((size_mib << 20))
hash=$("$bin" info --json "$dir/t.torrent" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["infoHash"])')

nginx_port=$(freeport)
start_nginx "$dir" "$dir/www" "$nginx_port"
ours_port=$(freeport)
"$bin" seed "$dir/t.torrent" --data "$dir/www" --no-tracker --no-lsd --port "$(freeport)" \
    --serve-http "127.0.0.1:$ours_port" >/dev/null 2>"$dir/seed.err" &
seed_pid=$!
declare -A url=([nginx]="http://127.0.0.1:$nginx_port/payload.bin" [swtorrent]="http://127.0.0.1:$ours_port/t/$hash/payload.bin")
waitfor "${url[nginx]}"
waitfor "${url[swtorrent]}"

# run_case CLIENT SERVER: prints the seconds, or "nan" when the file is wrong.
run_case() {
    local client=$1 server=$2 out="$dir/out" t0 t1
    rm -rf "$out" && mkdir -p "$out"
    t0=$(now)
    case $client in
    curl) timeout "$case_timeout" curl -sS -o "$out/payload.bin" "${url[$server]}" ;;
    aria2c) timeout "$case_timeout" aria2c -x4 -s4 -k1M --file-allocation=none --summary-interval=0 \
        --console-log-level=error --dir="$out" -o payload.bin "${url[$server]}" >/dev/null ;;
    esac || true
    t1=$(now)
    if cmp -s "$out/payload.bin" "$dir/www/payload.bin"; then
        awk -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.3f\n", t1 - t0 }'
    else
        echo "serve.sh: $client from $server did not deliver the file" >&2
        echo nan
    fi
    rm -rf "$out"
}

declare -A secs
for round in $(seq 1 "$rounds"); do
    for client in curl aria2c; do
        for server in swtorrent nginx; do
            s=$(run_case "$client" "$server")
            secs[$client-$server]+="$s "
            awk -v c="$client" -v sv="$server" -v r="$round" -v s="$s" -v b="$bytes" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" \
                'BEGIN { printf "round %d %-7s from %-10s %8.1f MB/s  load %s\n", r, c, sv, b / s / 1e6, load }' >&2
        done
    done
done

echo
echo "HTTP mirror serving: $size_mib MiB on 127.0.0.1, seed --serve-http vs nginx (sendfile), median of $rounds round(s); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %14s %14s %8s\n' client "swtorrent MB/s" "nginx MB/s" ratio
for client in curl aria2c; do
    ours=$(echo "${secs[$client-swtorrent]}" | median)
    theirs=$(echo "${secs[$client-nginx]}" | median)
    awk -v c="$client" -v o="$ours" -v t="$theirs" -v b="$bytes" \
        'BEGIN { mo = b / o / 1e6; mt = b / t / 1e6; printf "%-8s %14.1f %14.1f %8.2f\n", c, mo, mt, mo / mt }'
done
