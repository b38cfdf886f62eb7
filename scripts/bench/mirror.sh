#!/usr/bin/env bash
# HTTP mirror fetch (issue 13 item 6): the same random file (1 GiB by default) served by nginx on 127.0.0.1, fetched
# in one run, interleaved per round, by:
#   swtorrent-1   swtorrent leech --mirror URL (one mirror; no tracker, no peers, no local discovery) with
#                 --allow-unsigned: download into staging, SHA-1 of every piece, SHA-256 of the file, the rename
#                 into --out; the whole command, to exit
#   swtorrent-2   the same with two mirrors (two nginx servers on two ports, same files)
#   aria2c        aria2c -x4 -s4 (4 connections, 4 ranges of the file; checks nothing)
#   curl          curl -o (one connection; checks nothing)
# Every client writes the file to disk in the same directory tree (page cache; no fsync asked of the others, while
# swtorrent fsyncs before its release). Time runs from the process start to its exit; each result is compared with
# the source file (cmp). Prints MB/s per tool (median of the rounds), swtorrent's CPU-seconds per GiB, and the
# ratios against the targets (>= 1.0 x aria2c, >= 0.9 x curl).
#
# Usage: scripts/bench/mirror.sh                                    # 1 round, 1 GiB, a release build of this tree
#        BENCH_ROUNDS=3 BENCH_SIZE_MIB=1024 BENCH_DIR=/var/tmp scripts/bench/mirror.sh
#        BENCH_BIN=/path/to/swtorrent scripts/bench/mirror.sh      # that binary instead of building
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${BENCH_ROUNDS:-1}
size_mib=${BENCH_SIZE_MIB:-1024}
case_timeout=${BENCH_CASE_TIMEOUT:-300}
tools=(${BENCH_TOOLS:-swtorrent-1 swtorrent-2 aria2c curl})
tick=$(getconf CLK_TCK)

source scripts/bench/http-common.sh
bin=$(bench_binary nginx aria2c curl mktorrent)

dir=$(mktemp -d "${BENCH_DIR:-/tmp}/swt-bench-mirror.XXXXXX")
nginx_pid=""
cleanup() {
    if [[ -n $nginx_pid ]]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

waitport() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "mirror.sh: nothing listens on port $1" >&2
    return 1
}

write_payload "$dir" "$size_mib" swtorrent-mirror "$bin"
bytes=$((size_mib << 20))

# nginx in the foreground (its master's pid is ours to stop), two servers on loopback over the same directory.
port1=$(freeport)
port2=$(freeport)
start_nginx "$dir" "$dir/www" "$port1" "$port2"
waitport "$port1"
waitport "$port2"
url1="http://127.0.0.1:$port1/payload.bin"
url2="http://127.0.0.1:$port2/payload.bin"

# run_case TOOL: prints "seconds cpu_seconds" (the client's user + system CPU), or "nan nan" when the file is wrong.
run_case() {
    local tool=$1 out="$dir/out-$1" t0 t1 file
    rm -rf "$out" "$dir/.out-$tool.swtorrent-gate" && mkdir -p "$out"
    file="$out/payload.bin"
    t0=$(now)
    case $tool in
    swtorrent-1) timeout "$case_timeout" /usr/bin/time -f '%U %S' -o "$dir/time" "$bin" leech "$dir/t.torrent" \
        --out "$out" --mirror "$url1" --no-tracker --no-lsd --allow-unsigned >/dev/null 2>"$dir/leech.err" ;;
    swtorrent-2) timeout "$case_timeout" /usr/bin/time -f '%U %S' -o "$dir/time" "$bin" leech "$dir/t.torrent" \
        --out "$out" --mirror "$url1" --mirror "$url2" --no-tracker --no-lsd --allow-unsigned >/dev/null \
        2>"$dir/leech.err" ;;
    aria2c) timeout "$case_timeout" /usr/bin/time -f '%U %S' -o "$dir/time" aria2c -x4 -s4 -k1M \
        --file-allocation=none --summary-interval=0 --console-log-level=error --dir="$out" -o payload.bin "$url1" \
        >/dev/null ;;
    curl) timeout "$case_timeout" /usr/bin/time -f '%U %S' -o "$dir/time" curl -sS -o "$file" "$url1" ;;
    esac || true
    t1=$(now)
    if ! cmp -s "$file" "$dir/www/payload.bin"; then
        echo "mirror.sh: $tool did not deliver the file within ${case_timeout}s: $(tail -3 "$dir/leech.err" 2>/dev/null)" >&2
        echo "nan nan"
    else
        read -r u s <"$dir/time"
        awk -v t0="$t0" -v t1="$t1" -v u="$u" -v s="$s" 'BEGIN { printf "%.3f %.2f\n", t1 - t0, u + s }'
    fi
    rm -rf "$out" "$dir/.out-$tool.swtorrent-gate"
}

declare -A secs cpu
echo "mirror.sh: load before: $(uptime)" >&2
for round in $(seq 1 "$rounds"); do
    for tool in "${tools[@]}"; do
        read -r s c < <(run_case "$tool")
        secs[$tool]+="$s " cpu[$tool]+="$c "
        awk -v tool="$tool" -v r="$round" -v s="$s" -v c="$c" -v b="$bytes" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" \
            'BEGIN { printf "round %d %-12s %8.1f MB/s  %.2f CPU-s/GiB  load %s\n", r, tool, b / s / 1e6, c / (b / 1073741824), load }' >&2
    done
done

echo
echo "HTTP mirror fetch: $size_mib MiB from nginx on 127.0.0.1, median of $rounds round(s); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(process start to exit; swtorrent: leech --mirror --allow-unsigned, every piece SHA-1 checked, SHA-256 of the"
echo " file, fsync and the rename into --out; aria2c -x4 -s4 and curl check nothing)"
printf '%-12s %10s %14s\n' tool "MB/s" "CPU-s/GiB"
declare -A mbps
for tool in "${tools[@]}"; do
    s=$(echo "${secs[$tool]}" | median)
    c=$(echo "${cpu[$tool]}" | median)
    mbps[$tool]=$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.1f", b / s / 1e6 }')
    awk -v tool="$tool" -v m="${mbps[$tool]}" -v c="$c" -v b="$bytes" \
        'BEGIN { printf "%-12s %10s %14.2f\n", tool, m, c / (b / 1073741824) }'
done
awk -v one="${mbps[swtorrent-1]:-0}" -v two="${mbps[swtorrent-2]:-0}" -v a="${mbps[aria2c]:-0}" -v c="${mbps[curl]:-0}" '
    function r(x, y) { return (x > 0 && y > 0) ? sprintf("%.2f", x / y) : "n/a" }
    BEGIN {
        printf "one mirror / aria2c -x4 -s4: %s (target >= 1.0); / curl: %s (target >= 0.9)\n", r(one, a), r(one, c)
        printf "two mirrors / aria2c -x4 -s4: %s; / curl: %s\n", r(two, a), r(two, c) }'
