#!/usr/bin/env bash
# The main job, the whole story on loopback, as a new user runs it after the README's set-up (a fresh Debian machine
# with the Swift toolchain): installs what it needs, builds the release binary, then
#   1. the release engineer makes a signing key (keygen --signing minisign) and a signed private torrent of an
#      artifact (make --private --sign);
#   2. two nodes get their identities (keygen): the seed appliance and a fleet node; the private tracker starts with
#      an allowlist of exactly those two keys, so only signed announces by them are admitted, and the nodes use the
#      same allowlist for their peers: the private torrent's connections are TLS 1.3 between listed keys only;
#   3. the seed daemon starts from a config file (seed --config: its node key and allowlist, its data directory and
#      a watch directory holding the torrent, a status address) and announces the torrent, signed with its key;
#   4. a third key that is not on the allowlist is refused by the tracker, and by the seed when it dials it
#      directly; it gets nothing;
#   5. the fleet node leeches with its own key, trusting only the release key (leech --key --allow --trust): the
#      gate verifies the signature and releases the file, and its audit log names the node that supplied the bytes;
#   6. the released copy is compared with the original, and the seed's status endpoint is read.
# It prints one line per step; the tools' own output goes to logs in the temporary directory, shown only when a step
# fails. Bounded: every wait has a limit; every process started here is stopped by its pid; the directory is removed.
# Local discovery is off (--no-lsd, lsd.enabled: false): the demo stays on loopback and finds peers through the tracker.
# Usage: scripts/demo.sh            (SWTORRENT_DEMO_KEEP=1 keeps the temporary directory and says where;
#                                   SWTORRENT_BIN=PATH runs that binary instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [[ -n ${SWTORRENT_BIN:-} ]]; then
    bin=$SWTORRENT_BIN  # a binary already built (e.g. .build/debug/swtorrent)
else
    echo "demo: building the release binary (the first build takes minutes)" >&2
    swift build -c release --product swtorrent >/dev/null
    bin=$(swift build -c release --show-bin-path)/swtorrent
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/swtorrent-demo.XXXXXX")
pids=()
cleanup() {
    # Newest first: the seed sends its `stopped` announce while the tracker is still up.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    if [[ -n ${SWTORRENT_DEMO_KEEP:-} ]]; then echo "demo: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
fail() {
    printf 'demo: FAILED: %s\n' "$1" >&2
    [[ -n ${2:-} && -f $2 ]] && tail -n 15 "$2" | sed 's/^/    /' >&2
    exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (bounded: 20 s) until CONDITION (a command) succeeds.
wait_for() {
    for _ in $(seq 1 100); do
        if "$@" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    return 1
}
metric() { curl -fs "http://127.0.0.1:$metrics_port/metrics" | awk -v m="$1" '$1 == m { print $2 + 0 }'; }
tracker_counts_seed() { [[ $(metric tracker_peers) == 1 ]]; }
listening() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)"; }

mkdir -p "$work"/{build-host,keys,tracker,seed/watch,seed/state,fleet-07,intruder}
log=$work/demo.log
tracker_port=$(free_port)
metrics_port=$(free_port)
peer_port=$(free_port)
status_port=$(free_port)
say "swtorrent demo on loopback, in $work"

# 1. Release engineer: a signing key and a signed private torrent of the artifact.
"$bin" keygen --signing minisign --unencrypted --out "$work/build-host/release.key" >"$log" 2>&1 \
    || fail "keygen --signing" "$log"
key_id=$(awk '/^key id:/ { print $3 }' "$log")
artifact=$work/build-host/release-1.0.0.tar
head -c $((24 << 20)) /dev/urandom >"$artifact"
"$bin" make "$artifact" --private --announce "http://127.0.0.1:$tracker_port/announce" \
    --sign "$work/build-host/release.key" --output "$work/build-host/release-1.0.0.tar.torrent" >>"$log" 2>&1 \
    || fail "make --sign" "$log"
torrent=$work/build-host/release-1.0.0.tar.torrent
info_hash=$("$bin" info --json "$torrent" | python3 -c 'import json,sys; print(json.load(sys.stdin)["infoHash"])')
say "1. build host: release-1.0.0.tar (24 MiB) signed with minisign key $key_id; private torrent ${info_hash:0:16}…"

# 2. Node identities and the tracker's allowlist of exactly two keys.
for node in seed-01 fleet-07 intruder; do
    "$bin" keygen --out "$work/keys/$node.key" --name "$node" >>"$log" 2>&1 || fail "keygen $node" "$log"
done
cat "$work/keys/seed-01.key.pub" "$work/keys/fleet-07.key.pub" >"$work/tracker/allowlist"
"$bin" tracker --listen "127.0.0.1:$tracker_port" --allow "$work/tracker/allowlist" \
    --metrics "127.0.0.1:$metrics_port" --log-level warning 2>"$work/tracker/tracker.log" &
pids+=($!)
wait_for listening "$metrics_port" || fail "the tracker did not start" "$work/tracker/tracker.log"
say "2. tracker on 127.0.0.1:$tracker_port admits two node keys: seed-01, fleet-07 (allowlist of $(wc -l <"$work/tracker/allowlist") lines)"

# 3. The seed daemon, from its config file; the torrent is published into its watch directory.
cat >"$work/seed/seed.yaml" <<YAML
listen: 127.0.0.1:$peer_port
node:
  key: ../keys/seed-01.key
  allow: ../tracker/allowlist
lsd:
  enabled: false
data: [../build-host]
watch:
  directory: watch
state: state
status:
  listen: 127.0.0.1:$status_port
log:
  format: json
YAML
"$bin" seed --config "$work/seed/seed.yaml" --no-lsd 2>"$work/seed/seed.log" &
pids+=($!)
cp "$torrent" "$work/seed/watch/.release-1.0.0.tar.torrent.tmp"
mv "$work/seed/watch/.release-1.0.0.tar.torrent.tmp" "$work/seed/watch/release-1.0.0.tar.torrent"
wait_for tracker_counts_seed || fail "the seed daemon did not announce the torrent" "$work/seed/seed.log"
say "3. seed daemon (seed --config seed.yaml: key seed-01, peers from the allowlist over TLS) checked the watch directory's torrent and announced it; status on 127.0.0.1:$status_port"

# 4. A node key that is not on the allowlist: the tracker refuses its announces, and the seed its connection when it
#    dials the seed's port directly; it gets nothing.
set +e
"$bin" leech "$torrent" --out "$work/intruder" --key "$work/keys/intruder.key" --allow "$work/tracker/allowlist" \
    --peer "127.0.0.1:$peer_port" --trust "$work/build-host/release.pub" --no-lsd --deadline 4s \
    >"$work/intruder/leech.log" 2>&1
intruder_exit=$?
set -e
refused=$(metric 'tracker_refusals_total{cause="unknown_key"}')
[[ ${refused:-0} -ge 1 && ! -e $work/intruder/release-1.0.0.tar ]] || fail "the unlisted key was not refused" "$work/intruder/leech.log"
reason=$(grep -o -m1 'unknown node key: [^:]*' "$work/intruder/leech.log" || echo "unknown node key")
seed_refusals=$("$bin" status --json "127.0.0.1:$status_port" \
    | python3 -c 'import json, sys; print(sum(json.load(sys.stdin)["refusals"].values()))')
[[ $seed_refusals -ge 1 ]] || fail "the seed did not refuse the unlisted key's connection" "$work/seed/seed.log"
say "4. node 'intruder' (not on the allowlist): the tracker refused its $refused announce(s) (\"$reason\"), the seed its $seed_refusals direct connection(s); its leech gave up at --deadline 4s (exit $intruder_exit), nothing released"

# 5. The fleet node: its own key, trusting only the release key.
start=$(date +%s.%N)
timeout 120 "$bin" leech "$torrent" --out "$work/fleet-07/releases" --key "$work/keys/fleet-07.key" \
    --allow "$work/tracker/allowlist" --trust "$work/build-host/release.pub" --no-lsd --stall-timeout 60 \
    >"$work/fleet-07/leech.log" 2>&1 \
    || fail "the fleet node's leech failed" "$work/fleet-07/leech.log"
took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)")
say "5. fleet-07: leech --key fleet-07.key --allow allowlist --trust release.pub downloaded over TLS, verified and released in $took s:"
say "   $(grep -m1 'released release-1.0.0.tar' "$work/fleet-07/leech.log" | sed 's/^swtorrent leech: //')"
python3 - "$work/fleet-07/.releases.swtorrent-gate/audit.jsonl" "$peer_port" <<'PY'
import json, sys
record = [json.loads(line) for line in open(sys.argv[1])][-1]
def who(p):
    if p.get("name"):
        return f"{p['name']} ({p.get('key', '')[:19]}…, {p['peer']})"
    return p["peer"] + (" (the seed daemon's port)" if p["peer"].endswith(":" + sys.argv[2]) else "")
peers = ", ".join(f"{who(p)}: {p['bytes']} bytes" for p in record.get("peers") or [])
print(f"   audit log: {record['result']} {record['file']} sha256 {record['sha256'][:16]}… signer "
      f"{', '.join(record['signers'])}; bytes from {peers or 'no peer recorded'}")
PY

# 6. The released copy against the original, and what the seed daemon reports.
cmp -s "$artifact" "$work/fleet-07/releases/release-1.0.0.tar" || fail "the released copy differs from the original"
# The daemon's status follows its sessions' progress reports (every second): wait until it counts the upload.
seed_uploaded() {
    "$bin" status --json "127.0.0.1:$status_port" \
        | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["uploaded"] >= 24 << 20 else 1)'
}
wait_for seed_uploaded || fail "the seed's status never counted the upload" "$work/seed/seed.log"
say "6. released copy is byte-identical to the build host's (sha256 $(sha256sum "$artifact" | cut -c1-16)…); seed status:"
"$bin" status "127.0.0.1:$status_port" | sed 's/^/   /'
say "demo: every step passed; stopping the seed daemon and the tracker."
