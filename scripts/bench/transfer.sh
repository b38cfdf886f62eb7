#!/usr/bin/env bash
# Loopback transfer: swtorrent -> swtorrent, libtorrent -> libtorrent (python3-libtorrent) and aria2c -> aria2c,
# interleaved in one run, then one seed -> four leechers (swtorrent and libtorrent).
#
# Case 1: a random file (1 GiB by default, 1 MiB pieces) moves from one seed to one leech over 127.0.0.1, every pair
# through the same tracker (opentracker, announce only: it carries no data): the seed announces, the leech learns
# the seed's address from its announce. Time runs from the leecher's process start to its exit (the libtorrent
# script exits when the torrent is seeding; aria2c --seed-time=0 exits after its piece checks). swtorrent is run
# twice per round, both times the user's whole command:
#   swtorrent+gate    `leech --allow-unsigned` of the mktorrent torrent: download into staging, the release gate
#                     (SHA-256 of each file for the audit log), the rename into --out, exit;
#   swtorrent+trust   `leech --trust ec.pub` of a torrent made with `swtorrent make --sign ec.pem` (a P-256 key
#                     made here with openssl): the same, and the cosign signature is verified before release.
# and once more as the protected case (tool swtorrent-tls, row swtorrent+tls): the same file as a private torrent
# (`mktorrent -p`), seed and leech with --key and --allow, so every byte goes over TLS 1.3 (Docs/peer-tls.md);
# reported to its "complete" line like the "swtorrent" row, and compared with it (target >= 0.8).
# The first run is also reported as "swtorrent" up to its --json "complete" line (every piece verified and fsynced;
# CPU and VmHWM read from /proc at that moment): the engine's own work, as before. Leecher CPU and peak RSS at exit
# come from /usr/bin/time; the seed's CPU is read from /proc/PID/stat before the leecher starts and after it ends
# (so the seed's start-up hash check is not counted) and its peak RSS from VmHWM. The leecher's minor page faults
# (fresh memory it touched: buffers not reused, copies on write) are its whole process's, from /usr/bin/time at exit
# and from /proc/PID/stat at swtorrent's "complete" line, the same for every tool (a process's start-up takes a few
# thousand). The load average is printed with each figure (wall-clock ratios depend on it; CPU-seconds per GiB much
# less).
#
# Case 2: one seed, four leechers of a 512 MiB file, all started at once, each told every other's address; time
# until the last leecher is complete. swtorrent and libtorrent.
#
# Case 3 (BENCH_HANDSHAKES=0 skips it): the handshake cost, connections per second one seed accepts and answers,
# plain (public torrent) and protected (private torrent: TLS 1.3 with an Ed25519 certificate of a listed key, made
# here with openssl). A Python client (2 threads, BENCH_HANDSHAKE_SECONDS each) connects, handshakes (TLS, then
# BitTorrent), reads the seed's 68-byte handshake and closes, over and over; the client shares the 2 cores with the
# seed and does as much TLS work as the seed, so the protected figure is a lower bound of what a seed accepts; the
# seed's CPU per connection (from /proc/PID/stat over the run) depends much less on the load.
#
# Usage: scripts/bench/transfer.sh                        # 1 round, 1 GiB, then the 4-leecher case
#        BENCH_ROUNDS=3 BENCH_SIZE_MIB=1024 BENCH_SWARM_MIB=512 BENCH_DIR=/var/tmp scripts/bench/transfer.sh
#        BENCH_TOOLS="swtorrent swtorrent-trust libtorrent" BENCH_SWARM=0 scripts/bench/transfer.sh  # case 1, no aria2c
#        BENCH_BIN=/tmp/swtorrent-before scripts/bench/transfer.sh   # that binary instead of building this tree
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${BENCH_ROUNDS:-1}
size_mib=${BENCH_SIZE_MIB:-1024}
swarm_mib=${BENCH_SWARM_MIB:-512}
tick=$(getconf CLK_TCK)
case_timeout=${BENCH_CASE_TIMEOUT:-180}
tools=(${BENCH_TOOLS:-swtorrent swtorrent-tls swtorrent-trust libtorrent aria2c})
swarm=${BENCH_SWARM:-1}
handshakes=${BENCH_HANDSHAKES:-1}
handshake_seconds=${BENCH_HANDSHAKE_SECONDS:-10}

scripts/install-deps.sh --bench >&2 || true
if [[ -n ${BENCH_BIN:-} ]]; then
    bin=$BENCH_BIN  # a given build (e.g. a copy of an earlier commit's, for before/after in one sitting)
else
    swift build -c release --product swtorrent >&2
    bin=$(swift build -c release --show-bin-path)/swtorrent
fi

dir=$(mktemp -d "${BENCH_DIR:-/tmp}/swt-bench-transfer.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
waitport() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "transfer.sh: nothing listens on port $1" >&2
    return 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
minor_faults() { awk '{ print $10 }' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

cat >"$dir/lt.py" <<'PY'
import sys, time, libtorrent as lt
mode, torrent, save, port, peers, timeout = sys.argv[1:7]
s = lt.session({'listen_interfaces': '127.0.0.1:' + port, 'enable_dht': False, 'enable_lsd': False,
                'enable_upnp': False, 'enable_natpmp': False, 'allow_multiple_connections_per_ip': True,
                'enable_incoming_utp': False, 'enable_outgoing_utp': False, 'out_enc_policy': 2,
                'in_enc_policy': 1, 'alert_mask': 0})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(torrent)
p.save_path = save
if mode == 'seed':
    p.flags |= lt.torrent_flags.seed_mode
h = s.add_torrent(p)
def dial():
    for peer in filter(None, peers.split(',')):
        host, pp = peer.rsplit(':', 1)
        h.connect_peer((host, int(pp)))
dial()
print('ready', flush=True)
deadline = time.time() + float(timeout)
while time.time() < deadline:
    st = h.status()
    if mode == 'leech' and st.is_seeding:
        sys.exit(0)
    if st.num_peers == 0:
        dial()
    time.sleep(0.05)
sys.exit(0 if mode == 'seed' else 3)
PY

make_content() {  # name size_mib
    mkdir -p "$dir/$1"
    (openssl enc -aes-128-ctr -nosalt -pass "pass:swtorrent-$1" -in /dev/zero 2>/dev/null || true) |
        head -c $(($2 << 20)) >"$dir/$1/payload.bin"
    mktorrent -l 20 -a "http://127.0.0.1:$tracker_port/announce" -o "$dir/$1.torrent" "$dir/$1/payload.bin" >/dev/null
    cat "$dir/$1/payload.bin" >/dev/null
}

tracker_port=$(freeport)
echo "transfer.sh: writing $size_mib MiB and $swarm_mib MiB of random data under $dir" >&2
make_content one "$size_mib"
[[ $swarm == 1 ]] && make_content swarm "$swarm_mib"
bytes=$((size_mib << 20))
# The signed torrent of the same file: `swtorrent make --sign` with a P-256 key (a cosign-format signature embedded
# in the torrent); `leech --trust ec.pub` verifies it before the release.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ec.pem" 2>/dev/null
openssl pkey -in "$dir/ec.pem" -pubout -out "$dir/ec.pub"
"$bin" make "$dir/one/payload.bin" --piece-length 1M --announce "http://127.0.0.1:$tracker_port/announce" --no-date \
    --sign "$dir/ec.pem" --output "$dir/one-signed.torrent" >/dev/null
# The protected case: the same file as a private torrent, node keys for seed and leech on one allowlist.
mktorrent -p -l 20 -a "http://127.0.0.1:$tracker_port/announce" -o "$dir/one-private.torrent" "$dir/one/payload.bin" >/dev/null
"$bin" keygen --out "$dir/seed.key" --name bench-seed >/dev/null 2>&1
"$bin" keygen --out "$dir/leech.key" --name bench-leech >/dev/null 2>&1
cat "$dir/seed.key.pub" "$dir/leech.key.pub" >"$dir/fleet.allow"
infohash() { "$bin" info "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["infoHash"])'; }
{ infohash "$dir/one.torrent"; infohash "$dir/one-signed.torrent"; infohash "$dir/one-private.torrent"; } | sort -u >"$dir/whitelist"
printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist %s\n' "$tracker_port" "$dir/whitelist" >"$dir/ot.conf"
# opentracker started as root drops its privileges before it reads the whitelist: without search permission on
# $dir (mktemp -d makes it 0700) it tracks nothing and refuses every announce, so aria2c never saw a peer.
chmod go+x "$dir"
opentracker -f "$dir/ot.conf" >/dev/null 2>&1 &
pids+=($!)
waitport "$tracker_port"

# run_case TOOL: starts the seed, times the leech, prints "seconds leech_cpu leech_rss_kib seed_cpu seed_rss_kib
# complete_seconds complete_cpu complete_rss_kib seed_faults leech_faults complete_faults" (complete_*: at swtorrent's
# "complete" line, before the release gate; for the others the same as at exit; seed_faults: the seed's minor page
# faults over the transfer, fresh memory it touched: a seed whose read buffers are reused takes few; leech_faults: the
# leecher's over its whole process).
run_case() {
    local tool=$1 port out seed_pid t0 t1 c0 c1 f0 f1 tc="" cc="" crss="" cflt="" torrent="$dir/one.torrent" trust=(--allow-unsigned)
    local seed_node=() leech_node=()
    port=$(freeport)
    out="$dir/out-$tool"
    rm -rf "$out" && mkdir -p "$out"
    if [[ $tool == swtorrent-trust ]]; then
        torrent="$dir/one-signed.torrent" trust=(--trust "$dir/ec.pub")
    fi
    if [[ $tool == swtorrent-tls ]]; then
        torrent="$dir/one-private.torrent"
        seed_node=(--key "$dir/seed.key" --allow "$dir/fleet.allow")
        leech_node=(--key "$dir/leech.key" --allow "$dir/fleet.allow")
    fi
    case $tool in
    swtorrent*) "$bin" seed "$torrent" --data "$dir/one" --port "$port" --no-lsd "${seed_node[@]}" >/dev/null 2>"$dir/seed.err" & ;;
    libtorrent) /usr/bin/python3 "$dir/lt.py" seed "$dir/one.torrent" "$dir/one" "$port" "" 600 >/dev/null 2>&1 & ;;
    aria2c) aria2c --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
        --seed-ratio=0.0 --bt-seed-unverified=true --listen-port="$port" --dir="$dir/one" --summary-interval=0 \
        --console-log-level=error "$dir/one.torrent" >/dev/null 2>&1 & ;;
    esac
    seed_pid=$!
    pids+=("$seed_pid")
    waitport "$port"
    sleep 1
    c0=$(cpu_ticks "$seed_pid")
    f0=$(minor_faults "$seed_pid")
    t0=$(now)
    case $tool in
    swtorrent*)
        # --json: the "complete" line comes when every piece is verified and fsynced; the leech then runs the
        # release gate (SHA-256 of each file for the audit log, the signature check with --trust, the rename into
        # --out) before it exits. The seed's address comes from the tracker.
        rm -f "$dir/leech.fifo" && mkfifo "$dir/leech.fifo"
        timeout "$case_timeout" /usr/bin/time -f '%U %S %M %R' -o "$dir/leech.time" \
            "$bin" leech "$torrent" --out "$out" "${trust[@]}" --json --no-lsd "${leech_node[@]}" >"$dir/leech.fifo" 2>"$dir/leech.err" &
        local wrapper=$! line leech_pid=""
        while IFS= read -r line; do
            # timeout -> time -> swtorrent, found at the first line (looking it up at the "complete" line took longer
            # than the release gate: the leecher had exited and the exit figures were used).
            if [[ -z $leech_pid ]]; then
                leech_pid=$(pgrep -P "$wrapper" || true)
                [[ -n $leech_pid ]] && leech_pid=$(pgrep -P "$leech_pid" || true)
            fi
            if [[ -z $tc && $line == *'"event":"complete"'* ]]; then
                tc=$(now)
                # The leecher may be exiting already: its VmHWM goes first (then the exit figure is used for it).
                cc=$(cpu_ticks "$leech_pid" 2>/dev/null || true)
                crss=$(hwm_kib "$leech_pid" 2>/dev/null || true)
                cflt=$(minor_faults "$leech_pid" 2>/dev/null || true)
            fi
        done <"$dir/leech.fifo"
        wait "$wrapper" ;;
    libtorrent) timeout "$case_timeout" /usr/bin/time -f '%U %S %M %R' -o "$dir/leech.time" \
        /usr/bin/python3 "$dir/lt.py" leech "$dir/one.torrent" "$out" "$(freeport)" "" 600 >/dev/null ;;
    aria2c) timeout "$case_timeout" /usr/bin/time -f '%U %S %M %R' -o "$dir/leech.time" \
        aria2c --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
        --seed-time=0 --listen-port="$(freeport)" --dir="$out" --summary-interval=0 --console-log-level=error \
        --file-allocation=falloc "$dir/one.torrent" >/dev/null ;;
    esac || true
    t1=$(now)
    c1=$(cpu_ticks "$seed_pid")
    f1=$(minor_faults "$seed_pid")
    local seed_rss
    seed_rss=$(hwm_kib "$seed_pid")
    kill "$seed_pid"
    wait "$seed_pid" 2>/dev/null || true
    if ! cmp -s "$out/payload.bin" "$dir/one/payload.bin"; then
        echo "transfer.sh: $tool did not deliver the file within ${case_timeout}s" >&2
        rm -rf "$out" "$dir/.out-$tool.swtorrent-gate"
        echo "nan nan 0 nan 0 nan nan 0 nan nan nan"
        return
    fi
    rm -rf "$out" "$dir/.out-$tool.swtorrent-gate"
    read -r lu ls lrss lflt <"$dir/leech.time"
    awk -v t0="$t0" -v t1="$t1" -v lu="$lu" -v ls="$ls" -v lrss="$lrss" -v c0="$c0" -v c1="$c1" -v tick="$tick" \
        -v srss="$seed_rss" -v tc="$tc" -v cc="$cc" -v crss="$crss" -v sf="$((f1 - f0))" -v lf="$lflt" -v cf="$cflt" 'BEGIN {
            if (tc == "") { tc = t1 }
            # The leech may be gone (or exiting) when /proc is read at its "complete" line (a quick gate): exit figures.
            if (cc == "") { cc = (lu + ls) * tick }
            if (crss == "") { crss = lrss }
            if (cf == "") { cf = lf }
            printf "%.3f %.2f %d %.2f %d %.3f %.2f %d %d %d %d\n", t1 - t0, lu + ls, lrss, (c1 - c0) / tick, srss, tc - t0, cc / tick, crss, sf, lf, cf }'
}

# Rows: each tool; the --allow-unsigned swtorrent run twice: to its "complete" line (every piece verified and
# fsynced: the engine's work, comparable with libtorrent, which exits when it is seeding) and to its exit (the whole
# command, gate included); the --trust run to its exit.
rows=()
for tool in "${tools[@]}"; do
    case $tool in
    swtorrent) rows+=(swtorrent swtorrent+gate) ;;
    swtorrent-trust) rows+=(swtorrent+trust) ;;
    swtorrent-tls) rows+=(swtorrent+tls) ;;
    *) rows+=("$tool") ;;
    esac
done
declare -A secs lcpu lrss scpu srss sflt lflt
echo "transfer.sh: load before case 1: $(uptime)" >&2
for round in $(seq 1 "$rounds"); do
    for tool in "${tools[@]}"; do
        read -r s lc lr sc sr cs clc clr sf lf clf < <(run_case "$tool")
        if [[ $tool == swtorrent ]]; then
            secs[$tool]+="$cs " lcpu[$tool]+="$clc " lrss[$tool]+="$clr " scpu[$tool]+="$sc " srss[$tool]+="$sr " sflt[$tool]+="$sf "
            lflt[$tool]+="$clf "
            tool=swtorrent+gate
        fi
        [[ $tool == swtorrent-trust ]] && tool=swtorrent+trust
        if [[ $tool == swtorrent-tls ]]; then
            # Like the "swtorrent" row: to the "complete" line, the engine's work (here over TLS).
            tool=swtorrent+tls s=$cs lc=$clc lr=$clr lf=$clf
        fi
        secs[$tool]+="$s " lcpu[$tool]+="$lc " lrss[$tool]+="$lr " scpu[$tool]+="$sc " srss[$tool]+="$sr " sflt[$tool]+="$sf "
        lflt[$tool]+="$lf "
        awk -v tool="$tool" -v r="$round" -v s="$s" -v b="$bytes" -v lc="$lc" -v sc="$sc" -v lr="$lr" -v sr="$sr" \
            -v cs="$cs" -v clc="$clc" -v sf="$sf" -v lf="$lf" -v clf="$clf" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" \
            'BEGIN { gib = b / 1073741824; printf "round %d %-14s %7.1f MB/s (to complete %.1f MB/s, %.2f CPU-s/GiB, %dK faults/GiB)  leech %.2f CPU-s/GiB, %d MiB peak, %dK faults/GiB  seed %.2f CPU-s/GiB, %d MiB peak, %dK faults/GiB  load %s\n", r, tool, b / s / 1e6, b / cs / 1e6, clc / gib, clf / gib / 1000, lc / gib, lr / 1024, lf / gib / 1000, sc / gib, sr / 1024, sf / gib / 1000, load }' >&2
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
echo "Case 1: one seed -> one leech, $size_mib MiB, loopback, median of $rounds round(s); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(every leecher timed from process start to exit, peers from the tracker; swtorrent: the --allow-unsigned run"
echo " to its 'complete' line, every piece verified and fsynced; swtorrent+gate: the same run to exit, after the"
echo " release gate and the rename into --out; swtorrent+trust: leech --trust of the signed torrent, to exit)"
printf '%-15s %10s %18s %18s %15s %15s %18s %18s\n' tool "MB/s" "leech CPU-s/GiB" "seed CPU-s/GiB" "leech RSS MiB" "seed RSS MiB" "leech faults/GiB" "seed faults/GiB"
declare -A mbps
for tool in "${rows[@]}"; do
    s=$(echo "${secs[$tool]}" | median)
    mbps[$tool]=$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.1f", b / s / 1e6 }')
    awk -v tool="$tool" -v m="${mbps[$tool]}" -v b="$bytes" -v lc="$(echo "${lcpu[$tool]}" | median)" \
        -v sc="$(echo "${scpu[$tool]}" | median)" -v lr="$(echo "${lrss[$tool]}" | median)" \
        -v sr="$(echo "${srss[$tool]}" | median)" -v sf="$(echo "${sflt[$tool]}" | median)" \
        -v lf="$(echo "${lflt[$tool]}" | median)" \
        'BEGIN { gib = b / 1073741824; printf "%-15s %10s %18.2f %18.2f %15d %15d %18d %18d\n", tool, m, lc / gib, sc / gib, lr / 1024, sr / 1024, lf / gib, sf / gib }'
done
awk -v a="${mbps[swtorrent]:-0}" -v g="${mbps[swtorrent+gate]:-0}" -v t="${mbps[swtorrent+trust]:-0}" \
    -v b="${mbps[libtorrent]:-0}" -v c="${mbps[aria2c]:-0}" 'BEGIN {
        printf "whole leech command / libtorrent (wall time ratio, target >= 3): --allow-unsigned %s, --trust %s\n", (b > 0 && g > 0 ? sprintf("%.2f", g / b) : "n/a"), (b > 0 && t > 0 ? sprintf("%.2f", t / b) : "n/a")
        printf "engine alone (to complete) / libtorrent %s; swtorrent/aria2c %s\n", (b > 0 && a > 0 ? sprintf("%.2f", a / b) : "n/a"), (c > 0 ? sprintf("%.2f", a / c) : "n/a") }'
if [[ -n ${mbps[swtorrent+tls]:-} && -n ${mbps[swtorrent]:-} ]]; then
    # The CPU ratio: plain seed+leech CPU-s/GiB over protected; what the wall-clock ratio tends to when other work
    # saturates the cores and the transfer gets a share of them (the shared 2-core machine, Docs/benchmarks.md).
    awk -v p="${mbps[swtorrent]}" -v t="${mbps[swtorrent+tls]}" -v pc="$(echo "${lcpu[swtorrent]}" | median)" \
        -v tc="$(echo "${lcpu[swtorrent+tls]}" | median)" -v ps="$(echo "${scpu[swtorrent]}" | median)" \
        -v ts="$(echo "${scpu[swtorrent+tls]}" | median)" -v b="$bytes" 'BEGIN { gib = b / 1073741824
        printf "protected (TLS 1.3) / plain, to complete: %.2f (target >= 0.8); leecher CPU-s/GiB plain %.2f, protected %.2f\n", (p > 0 ? t / p : 0), pc / gib, tc / gib
        printf "CPU ratio, plain / protected seed+leech CPU-s/GiB: %.2f (%.2f / %.2f)\n", (ts + tc > 0 ? (ps + pc) / (ts + tc) : 0), (ps + pc) / gib, (ts + tc) / gib }'
fi

# Case 2: one seed, four leechers.
swarm_case() {
    local tool=$1 seed_port ports=() seed_pid lpids=() t0 t1 i j peers
    seed_port=$(freeport)
    for i in 1 2 3 4; do ports+=("$(freeport)"); done
    case $tool in
    swtorrent) "$bin" seed "$dir/swarm.torrent" --data "$dir/swarm" --port "$seed_port" --no-tracker --no-lsd >/dev/null 2>&1 & ;;
    libtorrent) /usr/bin/python3 "$dir/lt.py" seed "$dir/swarm.torrent" "$dir/swarm" "$seed_port" "" 600 >/dev/null 2>&1 & ;;
    esac
    seed_pid=$!
    pids+=("$seed_pid")
    waitport "$seed_port"
    sleep 1
    t0=$(now)
    for i in 0 1 2 3; do
        rm -rf "$dir/sw$i" && mkdir -p "$dir/sw$i"
        case $tool in
        swtorrent)
            peers=(--peer "127.0.0.1:$seed_port")
            for j in 0 1 2 3; do [[ $j != "$i" ]] && peers+=(--peer "127.0.0.1:${ports[$j]}"); done
            "$bin" leech "$dir/swarm.torrent" --out "$dir/sw$i" --port "${ports[$i]}" "${peers[@]}" --no-tracker --no-lsd --allow-unsigned \
                --seed-after 60s --json >"$dir/sw$i.json" 2>/dev/null &
            ;;
        libtorrent)
            peers="127.0.0.1:$seed_port"
            for j in 0 1 2 3; do [[ $j != "$i" ]] && peers+=",127.0.0.1:${ports[$j]}"; done
            /usr/bin/python3 "$dir/lt.py" leech "$dir/swarm.torrent" "$dir/sw$i" "${ports[$i]}" "$peers" "$case_timeout" >/dev/null 2>&1 &
            ;;
        esac
        lpids+=($!)
        pids+=($!)
    done
    if [[ $tool == swtorrent ]]; then
        # Leechers keep seeding for the others (--seed-after); each is done when it prints its first complete line.
        # Bounded by the case timeout, and a leecher that exits without completing ends the wait.
        local deadline
        deadline=$(awk -v t="$t0" -v c="$case_timeout" 'BEGIN { printf "%d", t + c }')
        for i in 0 1 2 3; do
            until grep -q '"complete":true' "$dir/sw$i.json" 2>/dev/null; do
                kill -0 "${lpids[$i]}" 2>/dev/null || break
                (($(date +%s) < deadline)) || break
                sleep 0.05
            done
        done
    else
        for p in "${lpids[@]}"; do wait "$p" || true; done
    fi
    t1=$(now)
    if [[ $tool == swtorrent ]]; then
        # Not timed: let each leech's release gate move its file into --out before it is stopped.
        for i in 0 1 2 3; do
            for _ in $(seq 1 1200); do
                grep -q '"event":"gate"' "$dir/sw$i.json" 2>/dev/null && break
                kill -0 "${lpids[$i]}" 2>/dev/null || break
                sleep 0.05
            done
        done
    fi
    for p in "${lpids[@]}" "$seed_pid"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for i in 0 1 2 3; do
        cmp -s "$dir/sw$i/payload.bin" "$dir/swarm/payload.bin" || { echo "transfer.sh: $tool leecher $i is wrong" >&2; exit 1; }
        rm -rf "$dir/sw$i"
    done
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
if [[ $swarm == 1 ]]; then
    echo
    echo "Case 2: one seed -> four leechers, $swarm_mib MiB, time until all four are complete; load $(cut -d' ' -f1-3 /proc/loadavg)"
    sw=$(swarm_case swtorrent)
    lt4=$(swarm_case libtorrent)
    echo "swtorrent ${sw}s  libtorrent ${lt4}s  ratio swtorrent/libtorrent $(awk -v a="$sw" -v b="$lt4" 'BEGIN { printf "%.2f", a / b }') (target <= 0.5)"
fi

[[ $handshakes == 1 ]] || exit 0
# Case 3: a client certificate for a listed key, made with openssl (an Ed25519 key; its raw 32 bytes are the last
# 32 of the public key's DER), and the handshake client.
openssl genpkey -algorithm ed25519 -out "$dir/hs.pem" 2>/dev/null
openssl req -new -x509 -key "$dir/hs.pem" -subj /CN=bench-client -days 1 -out "$dir/hs.crt" 2>/dev/null
echo "ed25519 $(openssl pkey -in "$dir/hs.pem" -pubout -outform DER | tail -c 32 | base64) bench-client" >>"$dir/fleet.allow"
cat >"$dir/hs.py" <<'PY'
import os, socket, ssl, sys, threading, time
port, infohash, seconds, cert, key = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
context = None
if cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert, key)
counts, failures = [0, 0], [0, 0]
def worker(i):
    end = time.time() + seconds
    while time.time() < end:
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=5)
            # As the seed does: without it Nagle holds the BitTorrent handshake behind the client's TLS flight
            # until the seed's delayed ACK (about 40 ms a connection).
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context:
                s = context.wrap_socket(s, server_hostname=infohash.hex())
            s.sendall(b'\x13BitTorrent protocol' + bytes(8) + infohash + os.urandom(20))
            got = b''
            while len(got) < 68:
                chunk = s.recv(68 - len(got))
                if not chunk:
                    break
                got += chunk
            s.close()
            if len(got) == 68 and got[28:48] == infohash:
                counts[i] += 1
            else:
                failures[i] += 1
        except OSError:
            failures[i] += 1
threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
for t in threads: t.start()
for t in threads: t.join()
print('%.1f %d' % (sum(counts) / seconds, sum(failures)))
PY
handshake_case() {  # plain|protected: prints "connections/s failures seed-CPU-ms-per-connection"
    local port seed_pid torrent=$dir/one.torrent node=() cert="" key="" c0 c1 rate failed
    if [[ $1 == protected ]]; then
        torrent=$dir/one-private.torrent node=(--key "$dir/seed.key" --allow "$dir/fleet.allow")
        cert=$dir/hs.crt key=$dir/hs.pem
    fi
    port=$(freeport)
    "$bin" seed "$torrent" --data "$dir/one" --port "$port" --no-tracker --no-lsd --max-connections 1000 "${node[@]}" \
        >/dev/null 2>&1 &
    seed_pid=$!
    pids+=("$seed_pid")
    waitport "$port"
    sleep 1
    c0=$(cpu_ticks "$seed_pid")
    read -r rate failed < <(/usr/bin/python3 "$dir/hs.py" "$port" "$(infohash "$torrent")" "$handshake_seconds" "$cert" "$key")
    c1=$(cpu_ticks "$seed_pid")
    awk -v r="$rate" -v f="$failed" -v c="$((c1 - c0))" -v tick="$tick" -v s="$handshake_seconds" \
        'BEGIN { printf "%s %s %.2f\n", r, f, (r > 0 ? c / tick * 1000 / (r * s) : 0) }'
    kill "$seed_pid"
    wait "$seed_pid" 2>/dev/null || true
}
echo
echo "Case 3: connections a seed accepts and answers (TCP, [TLS 1.3,] BitTorrent handshake, close), 2 client threads"
echo "for ${handshake_seconds}s each; load $(cut -d' ' -f1-3 /proc/loadavg)"
read -r plain_rate plain_failed plain_ms < <(handshake_case plain)
read -r tls_rate tls_failed tls_ms < <(handshake_case protected)
echo "plain ${plain_rate}/s (${plain_failed} failed, seed ${plain_ms} CPU-ms each)  protected ${tls_rate}/s (${tls_failed} failed, seed ${tls_ms} CPU-ms each)  protected/plain $(awk -v a="$tls_rate" -v b="$plain_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
