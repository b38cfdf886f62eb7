#!/usr/bin/env bash
# Footprint of a seed appliance with many torrents (issue 12, item 3): `swtorrent seed --config` against
# transmission-daemon, seeding the same torrents (200 by default) from the same data, one after the other in one run,
# each announcing to the same tracker on loopback (ours, `swtorrent tracker`, passkey allowlist: its /metrics
# `tracker_peers` counts the torrents announced, one seed each). For each daemon:
#   start    from nothing: seconds until the tracker counts every torrent (both check the data first);
#   (a) idle every torrent announced, no peers: RSS (MiB) and CPU-seconds over BENCH_SECONDS (60 s);
#   (b) restart SIGTERM, a fresh tracker, the daemon started again on its state (our resume data, transmission's
#       resume files): seconds until the tracker counts every torrent;
#   (c) peers  footprint_peers.py opens one plain BitTorrent connection per torrent (handshake, `interested`, then
#       idle with keep-alives): RSS and CPU-seconds over BENCH_SECONDS with them connected, and how many the daemon
#       still held at the end.
# RSS is VmRSS from /proc/PID/status at the end of the window (VmHWM, the peak, beside it); CPU-seconds are utime +
# stime from /proc/PID/stat over the window. The load average is printed with each figure: the machine is shared.
# Ours runs with --no-lsd and lsd.enabled: false; transmission with DHT, LPD, PEX, uTP and port mapping off (the
# torrents are private, which switches DHT, PEX and LPD off in both anyway). Every process is stopped by its pid;
# every wait is bounded.
#
# Usage: scripts/bench/footprint.sh
#        BENCH_TORRENTS=200 BENCH_SECONDS=60 BENCH_TORRENT_KIB=256 scripts/bench/footprint.sh
#        BENCH_BIN=/tmp/swtorrent-before scripts/bench/footprint.sh   # that binary instead of building this tree
#        BENCH_KEEP=1 scripts/bench/footprint.sh                       # keep the directory (logs) and say where
set -euo pipefail
cd "$(dirname "$0")/../.."

count=${BENCH_TORRENTS:-200}
seconds=${BENCH_SECONDS:-60}
kib=${BENCH_TORRENT_KIB:-256}
announce_timeout=${BENCH_ANNOUNCE_TIMEOUT:-300}
tick=$(getconf CLK_TCK)

scripts/install-deps.sh --bench >&2 || true
command -v transmission-daemon >/dev/null || { echo "footprint.sh: transmission-daemon is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
if [[ -n ${BENCH_BIN:-} ]]; then
    bin=$BENCH_BIN
else
    swift build -c release --product swtorrent >&2
    bin=$(swift build -c release --show-bin-path)/swtorrent
fi

dir=$(mktemp -d "${BENCH_DIR:-/tmp}/swt-bench-footprint.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n ${BENCH_KEEP:-} ]]; then echo "footprint.sh: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_mib() { awk -v k="$2" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# Stops a pid (SIGTERM, then SIGKILL after 30 s) and drops it from the cleanup list.
stop() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local kept=()
    for p in "${pids[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    pids=("${kept[@]}")
}

# --- the torrents: COUNT random files and their private torrents, announced to our tracker with a passkey ---
tracker_port=$(freeport)
metrics_port=$(freeport)
passkey=$("$bin" keygen --passkey footprint | tee "$dir/allowlist" | awk '{ print $2 }')
mkdir -p "$dir/data" "$dir/torrents"
echo "footprint.sh: making $count torrents of $kib KiB each" >&2
for i in $(seq 1 "$count"); do
    head -c $((kib * 1024)) /dev/urandom >"$dir/data/file-$i.bin"
    "$bin" make "$dir/data/file-$i.bin" --private --piece-length 64K --no-date \
        --announce "http://127.0.0.1:$tracker_port/$passkey/announce" --output "$dir/torrents/file-$i.bin.torrent" \
        >/dev/null
done

tracker_pid=
start_tracker() {
    "$bin" tracker --listen "127.0.0.1:$tracker_port" --allow "$dir/allowlist" --metrics "127.0.0.1:$metrics_port" \
        --interval 1800 --log-level warning 2>>"$dir/tracker.log" &
    tracker_pid=$!
    pids+=("$tracker_pid")
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$metrics_port/metrics" >/dev/null && return 0; sleep 0.1; done
    echo "footprint.sh: the tracker did not start: $(tail -5 "$dir/tracker.log")" >&2
    exit 1
}
tracker_peers() {
    curl -fs "http://127.0.0.1:$metrics_port/metrics" | awk '$1 == "tracker_peers" { print $2 + 0 }'
}
# Seconds from START until the tracker counts every torrent (bounded); "timeout (N)" when it did not.
wait_announced() {
    local start=$1 seen=0
    local deadline=$(($(date +%s) + announce_timeout))
    while (($(date +%s) < deadline)); do
        seen=$(tracker_peers || echo 0)
        if [[ $seen -ge $count ]]; then
            python3 -c "print(f'{$(now) - $start:.1f}')"
            return 0
        fi
        sleep 0.2
    done
    echo "timeout ($seen of $count)"
}
# CPU-seconds of PID over the window, then its RSS and peak (MiB).
measure() {
    local pid=$1 before after
    before=$(cpu_ticks "$pid")
    sleep "$seconds"
    after=$(cpu_ticks "$pid")
    python3 -c "print(f'{($after - $before) / $tick:.2f}')"
    echo "$(rss_mib "$pid" VmRSS) $(rss_mib "$pid" VmHWM)"
}

# --- one daemon, every case: prints one result line per case into $dir/results ---
peer_port_ours=$(freeport)
peer_port_tr=$(freeport)
rpc_port=$(freeport)
mkdir -p "$dir/ours/watch" "$dir/ours/state" "$dir/tr/config" "$dir/tr/watch"
cp "$dir"/torrents/*.torrent "$dir/ours/watch/"
cat >"$dir/ours/seed.yaml" <<YAML
listen: 127.0.0.1:$peer_port_ours
lsd:
  enabled: false
limits:
  connections: $((count * 2))
data: [$dir/data]
watch:
  directory: $dir/ours/watch
state: $dir/ours/state
log:
  format: text
  level: warning
YAML
cat >"$dir/tr/config/settings.json" <<JSON
{
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "peer-port": $peer_port_tr,
  "rpc-bind-address": "127.0.0.1", "rpc-port": $rpc_port, "rpc-authentication-required": false,
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "port-forwarding-enabled": false, "peer-limit-global": $((count * 2)), "peer-limit-per-torrent": 50,
  "download-dir": "$dir/data", "incomplete-dir-enabled": false, "watch-dir": "$dir/tr/watch",
  "watch-dir-enabled": true, "start-added-torrents": true, "message-level": 1, "encryption": 1,
  "download-queue-enabled": false, "seed-queue-enabled": false, "ratio-limit-enabled": false,
  "idle-seeding-limit-enabled": false, "cache-size-mb": 4
}
JSON
cp "$dir"/torrents/*.torrent "$dir/tr/watch/"

daemon_pid=
start_daemon() {
    case $1 in
    swtorrent) "$bin" seed --config "$dir/ours/seed.yaml" --no-lsd 2>>"$dir/ours.log" & ;;
    transmission) transmission-daemon -f -g "$dir/tr/config" 2>>"$dir/tr.log" & ;;
    esac
    daemon_pid=$!
    pids+=("$daemon_pid")
}

run_daemon() {
    local name=$1 port=$2 t0 announced idle_cpu idle_rss restart peers_cpu peers_rss connected open
    start_tracker
    t0=$(now)
    start_daemon "$name"
    announced=$(wait_announced "$t0")
    echo "footprint.sh: $name: all announced after $announced s; idle for $seconds s" >&2
    sleep 2
    { read -r idle_cpu; read -r idle_rss; } < <(measure "$daemon_pid")
    local idle_load
    idle_load=$(load)

    stop "$daemon_pid"
    stop "$tracker_pid"
    start_tracker
    t0=$(now)
    start_daemon "$name"
    restart=$(wait_announced "$t0")
    echo "footprint.sh: $name: restart announced all after $restart s; $count peers next" >&2
    sleep 2

    python3 scripts/bench/footprint_peers.py 127.0.0.1 "$port" "$dir"/torrents/*.torrent >"$dir/peers-$name.out" &
    local peers_pid=$!
    pids+=("$peers_pid")
    for _ in $(seq 1 900); do grep -q '^connected' "$dir/peers-$name.out" && break; sleep 0.1; done
    connected=$(awk '/^connected/ { print $2 }' "$dir/peers-$name.out")
    sleep 2
    { read -r peers_cpu; read -r peers_rss; } < <(measure "$daemon_pid")
    local peers_load
    peers_load=$(load)
    stop "$peers_pid"
    open=$(awk '/^open/ { print $2 }' "$dir/peers-$name.out")
    stop "$daemon_pid"
    stop "$tracker_pid"
    # name, start, idle CPU, idle RSS and peak, load, restart, connected, open, peers CPU, peers RSS and peak, load
    printf '%s %s %s %s %s %s %s %s %s %s %s %s %s\n' "$name" "$announced" "$idle_cpu" $idle_rss "$idle_load" "$restart" \
        "${connected:-0}" "${open:-0}" "$peers_cpu" $peers_rss "$peers_load" >>"$dir/results"
}

run_daemon swtorrent "$peer_port_ours"
run_daemon transmission "$peer_port_tr"

echo
echo "footprint: $count torrents of $kib KiB, $(nproc) cores, windows of $seconds s ($(date -u +%FT%TZ))"
python3 - "$dir/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows[f[0]] = dict(start=f[1], idle_cpu=float(f[2]), idle_rss=float(f[3]), idle_hwm=float(f[4]), idle_load=f[5],
                      restart=f[6], connected=f[7], open=f[8], peers_cpu=float(f[9]), peers_rss=float(f[10]),
                      peers_hwm=float(f[11]), peers_load=f[12])
ours, tr = rows["swtorrent"], rows["transmission"]
def ratio(a, b):
    try:
        return f"{float(a) / float(b):.2f}" if float(b) > 0 else "-"
    except ValueError:
        return "-"
print(f"{'':34} {'swtorrent':>12} {'transmission':>13} {'ratio':>7}")
print(f"{'start: all announced (s)':34} {ours['start']:>12} {tr['start']:>13} {ratio(ours['start'], tr['start']):>7}")
print(f"{'(a) idle RSS (MiB)':34} {ours['idle_rss']:>12.1f} {tr['idle_rss']:>13.1f} {ratio(ours['idle_rss'], tr['idle_rss']):>7}")
print(f"{'(a) idle peak RSS (MiB)':34} {ours['idle_hwm']:>12.1f} {tr['idle_hwm']:>13.1f} {ratio(ours['idle_hwm'], tr['idle_hwm']):>7}")
print(f"{'(a) idle CPU-seconds':34} {ours['idle_cpu']:>12.2f} {tr['idle_cpu']:>13.2f} {ratio(ours['idle_cpu'], tr['idle_cpu']):>7}")
print(f"{'(b) restart: all announced (s)':34} {ours['restart']:>12} {tr['restart']:>13} {ratio(ours['restart'], tr['restart']):>7}")
print(f"{'(c) peers connected / still open':34} {ours['connected'] + ' / ' + ours['open']:>12} {tr['connected'] + ' / ' + tr['open']:>13}")
print(f"{'(c) RSS with peers (MiB)':34} {ours['peers_rss']:>12.1f} {tr['peers_rss']:>13.1f} {ratio(ours['peers_rss'], tr['peers_rss']):>7}")
print(f"{'(c) CPU-seconds with peers':34} {ours['peers_cpu']:>12.2f} {tr['peers_cpu']:>13.2f} {ratio(ours['peers_cpu'], tr['peers_cpu']):>7}")
print(f"load average at the end of each window: ours idle {ours['idle_load']}, peers {ours['peers_load']}; "
      f"transmission idle {tr['idle_load']}, peers {tr['peers_load']}")
print(f"target (issue 12): ours idle RSS <= 50 MiB: {'met' if ours['idle_rss'] <= 50 else 'MISSED'}")
PY
