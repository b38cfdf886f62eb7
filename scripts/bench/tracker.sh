#!/usr/bin/env bash
# Tracker benchmark: Debian's opentracker and our `swtorrent tracker` (release build) on 127.0.0.1, in one run.
#
# Usage: scripts/bench/tracker.sh [--speed] [--rss | --rss-opentracker] [--duration SECONDS] [--rounds N]
#        (default: --speed, 10 s, 1 round)
#
# --speed  wrk -t2 -c50 -d<duration>s against each tracker, replaying compact announces over 100,000 info-hashes
#          with random peer ids (scripts/bench/tracker_requests.py makes them; tracker_announce.lua replays them):
#            opentracker   plain announces, `Connection: close` (it closes after every reply anyway)
#            swtorrent     passkey announces (/<passkey>/announce) and signed announces (swt_key/swt_ts/swt_sig,
#                          signed by Python's `cryptography` from Docs/identity.md), each with `Connection: close`
#                          and with keep-alive
#          Prints requests/s, p99 latency, the tracker process's CPU-seconds during the run (utime+stime from
#          /proc/PID/stat), CPU-microseconds per announce, the wrk client's own CPU-microseconds per announce
#          (it shares the cores, so it bounds the rate any tracker can reach), and the ratios against opentracker. With --rounds N the
#          five runs repeat N times, interleaved; ratios use the mean req/s and total CPU over total announces.
# --rss    fills our tracker with 1,000,000 peers over 100,000 swarms (scripts/bench/tracker_fill.py, pipelined
#          passkey announces) and prints its resident set size (VmRSS, VmHWM) against the 300 MiB bar.
# --rss-opentracker  also fills opentracker the same way (a connection per announce, several minutes) and prints
#          the RSS ratio.
#
# Every process started here is stopped by its pid on exit. Results go in Docs/benchmarks.md, section "tracker".
set -euo pipefail
cd "$(dirname "$0")/../.."

speed=0 rss=0 rss_reference=0 duration=10 rounds=1
while (($#)); do
    case "$1" in
        --speed) speed=1 ;;
        --rss) rss=1 ;;
        --rss-opentracker) rss=1 rss_reference=1 ;;
        --duration) duration="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "tracker.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if ((speed == 0 && rss == 0)); then speed=1; fi

scripts/install-deps.sh --bench
python=python3
if /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then python=/usr/bin/python3; fi
"$python" -c 'import cryptography' || { echo "tracker.sh: python3 lacks the cryptography package" >&2; exit 1; }

echo "tracker.sh: building the release binary" >&2
swift build -c release --product swtorrent >&2
bin="$(swift build -c release --show-bin-path)/swtorrent"

work=$(mktemp -d /tmp/swt-bench-tracker.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Polls URL (bounded: 30 s) until the reply is a bencoded dictionary without a failure reason.
wait_for_announce() {
    local url="$1" name="$2" reply=""
    for _ in $(seq 300); do
        reply=$(curl -s --max-time 2 "$url" | tr -d '\000' || true)
        if [[ "$reply" == d* && "$reply" != *"failure reason"* ]]; then return 0; fi
        sleep 0.1
    done
    echo "tracker.sh: $name does not answer announces (last reply: ${reply:0:200})" >&2
    exit 1
}

ot_port=$(free_port)
our_port=$(free_port)
metrics_port=$(free_port)
echo "tracker.sh: generating requests in $work" >&2
"$python" scripts/bench/tracker_requests.py --dir "$work" --swarms 100000 --plain 200000

start_ours() {
    "$bin" tracker --listen "127.0.0.1:$our_port" --allow "$work/allowlist" --metrics "127.0.0.1:$metrics_port" \
        --log-level error 2>"$work/swtorrent.log" &
    our_pid=$!
    pids+=("$our_pid")
    wait_for_announce "http://127.0.0.1:$our_port/$(cat "$work/passkey")/announce$(head -1 "$work/plain.txt")" \
        "swtorrent tracker"
}

metric() { curl -s --max-time 5 "http://127.0.0.1:$metrics_port/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $NF}'; }

start_opentracker() {
    mkdir -p "$work/ot"
    cp "$work/whitelist.txt" "$work/ot/whitelist.txt"
    chmod 755 "$work/ot"
    chmod 644 "$work/ot/whitelist.txt"
    # opentracker chroots into tracker.rootdir and drops root to tracker.user; the whitelist path is inside it.
    cat >"$work/ot/opentracker.conf" <<CONF
listen.tcp 127.0.0.1:$ot_port
access.whitelist /whitelist.txt
tracker.rootdir $work/ot
tracker.user nobody
CONF
    opentracker -f "$work/ot/opentracker.conf" >"$work/opentracker.log" 2>&1 &
    ot_pid=$!
    pids+=("$ot_pid")
    wait_for_announce "http://127.0.0.1:$ot_port/announce$(head -1 "$work/plain.txt")" opentracker
}

if ((speed)); then
    start_opentracker
    start_ours

    # Signed announces carry a timestamp the tracker accepts for 300 s: sign them just before they are used.
    echo "tracker.sh: signing announces" >&2
    "$python" scripts/bench/tracker_requests.py --dir "$work" --swarms 100000 --plain 0 --signed 100000 \
        --host "127.0.0.1:$our_port"
    wait_for_announce "http://127.0.0.1:$our_port$(head -1 "$work/signed.txt")" "swtorrent tracker (signed)"

    echo "load before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-12s %-8s %-10s %10s %9s %8s %10s %10s %8s\n' tracker announce connection "req/s" "p99 ms" "CPU s" \
        "CPU us/req" "wrk us/req" "errors"
    declare -A rate_sum requests_sum ticks_sum
    run() { # name pid port file prefix close|keepalive label
        local name=$1 pid=$2 port=$3 file=$4 prefix=$5 conn=$6 label=$7
        local before after out
        before=$(cpu_ticks "$pid")
        out=$(/usr/bin/time -f 'CLIENT %U %S' -o "$work/wrk-time" wrk -t2 -c50 -d"${duration}s" --timeout 5s \
            -s scripts/bench/tracker_announce.lua "http://127.0.0.1:$port" -- "$file" "$prefix" "$conn" \
            | grep '^WRK ')
        after=$(cpu_ticks "$pid")
        local requests rate p99 errors status
        requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
        rate=$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$out")
        p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$out")
        errors=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$out")
        status=$(sed -E 's/.*status_errors=([0-9]+).*/\1/' <<<"$out")
        local cpu_s cpu_us client_us
        cpu_s=$(awk -v a="$before" -v b="$after" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
        cpu_us=$(awk -v c="$cpu_s" -v r="$requests" 'BEGIN {printf "%.1f", (r > 0 ? c * 1e6 / r : 0)}')
        client_us=$(awk -v r="$requests" '/^CLIENT/ {printf "%.1f", (r > 0 ? ($2 + $3) * 1e6 / r : 0)}' \
            "$work/wrk-time")
        rate_sum[$label]=$(( ${rate_sum[$label]:-0} + rate ))
        requests_sum[$label]=$(( ${requests_sum[$label]:-0} + requests ))
        ticks_sum[$label]=$(( ${ticks_sum[$label]:-0} + after - before ))
        printf '%-12s %-8s %-10s %10s %9s %8s %10s %10s %8s\n' "$name" "${label%%-*}" "$conn" "$rate" \
            "$(awk -v p="$p99" 'BEGIN {printf "%.2f", p / 1000}')" "$cpu_s" "$cpu_us" "$client_us" \
            "$((errors + status))"
    }
    passkey_prefix="/$(cat "$work/passkey")/announce"
    for _ in $(seq "$rounds"); do
        run opentracker "$ot_pid" "$ot_port" "$work/plain.txt" /announce close plain-close
        run swtorrent "$our_pid" "$our_port" "$work/plain.txt" "$passkey_prefix" close passkey-close
        run swtorrent "$our_pid" "$our_port" "$work/signed.txt" "" close signed-close
        run swtorrent "$our_pid" "$our_port" "$work/plain.txt" "$passkey_prefix" keepalive passkey-keepalive
        run swtorrent "$our_pid" "$our_port" "$work/signed.txt" "" keepalive signed-keepalive
    done

    echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
    refused=$(metric tracker_refusals_total | awk '{s += $1} END {print s + 0}')
    echo "swtorrent refusals during the run: $refused (must be 0: every announce was admitted)"
    echo "(wrk counts opentracker's close after each reply as a socket read error; its replies are complete.)"
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
    # Mean req/s over the rounds, and CPU-microseconds per announce over all of them.
    declare -A rps cpu_per
    for label in "${!rate_sum[@]}"; do
        rps[$label]=$(( rate_sum[$label] / rounds ))
        cpu_per[$label]=$(awk -v t="${ticks_sum[$label]}" -v r="${requests_sum[$label]}" -v hz="$hz" \
            'BEGIN {printf "%.2f", (r > 0 ? t * 1e6 / hz / r : 0)}')
    done
    echo "ratios against opentracker (plain, Connection: close):"
    echo "  passkey, close:      req/s $(ratio "${rps[passkey-close]}" "${rps[plain-close]}")x (target >= 1.2)," \
        "CPU per announce $(ratio "${cpu_per[passkey-close]}" "${cpu_per[plain-close]}")x (target <= 1.0)"
    echo "  signed, close:       req/s $(ratio "${rps[signed-close]}" "${rps[plain-close]}")x (target >= 0.8)," \
        "CPU per announce $(ratio "${cpu_per[signed-close]}" "${cpu_per[plain-close]}")x"
    echo "  passkey, keep-alive: req/s $(ratio "${rps[passkey-keepalive]}" "${rps[plain-close]}")x," \
        "CPU per announce $(ratio "${cpu_per[passkey-keepalive]}" "${cpu_per[plain-close]}")x"
    echo "  signed, keep-alive:  req/s $(ratio "${rps[signed-keepalive]}" "${rps[plain-close]}")x," \
        "CPU per announce $(ratio "${cpu_per[signed-keepalive]}" "${cpu_per[plain-close]}")x"
    kill "$our_pid" "$ot_pid" 2>/dev/null || true
    wait "$our_pid" "$ot_pid" 2>/dev/null || true
fi

if ((rss)); then
    start_ours
    echo "tracker.sh: filling with 1,000,000 peers over 100,000 swarms" >&2
    "$python" scripts/bench/tracker_fill.py --port "$our_port" --prefix "/$(cat "$work/passkey")/announce" \
        --hashes "$work/hashes.txt" --peers 1000000 --connections 8 --batch 16 --deadline 900
    peers=$(metric tracker_peers)
    swarms=$(metric tracker_swarms)
    rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$our_pid/status")
    hwm_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$our_pid/status")
    echo "swtorrent tracker: peers=${peers:-?} swarms=${swarms:-?}" \
        "RSS $((rss_kib / 1024)) MiB (peak $((hwm_kib / 1024)) MiB); target <= 300 MiB:" \
        "$( ((rss_kib <= 300 * 1024)) && echo met || echo MISSED)"
    if ((rss_reference)); then
        start_opentracker
        ot_base=$(awk '/^VmRSS/ {print $2}' "/proc/$ot_pid/status")
        echo "tracker.sh: filling opentracker the same way (a connection per announce: several minutes)" >&2
        "$python" scripts/bench/tracker_fill.py --port "$ot_port" --prefix /announce --close \
            --hashes "$work/hashes.txt" --peers 1000000 --connections 8 --deadline 1500
        ot_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$ot_pid/status")
        echo "opentracker: RSS $((ot_rss / 1024)) MiB (at start $((ot_base / 1024)) MiB);" \
            "swtorrent / opentracker RSS: $(awk -v a="$rss_kib" -v b="$ot_rss" 'BEGIN {printf "%.2f", a / b}')x"
    fi
fi
