#!/usr/bin/env bash
# The main job on an embedded default, from a fresh clone on a Debian machine with the Swift toolchain:
# installs what it needs, builds the release binary, then on loopback only:
#   1. a release engineer signs a sample artifact and makes a private torrent of it (swtorrent make --sign);
#   2. the private tracker starts with an allowlist holding one passkey (swtorrent keygen --passkey, tracker);
#   3. a seed serves the artifact and a leech fetches it through the tracker into a 0700 staging area, verifies the
#      signature embedded in the torrent, and only then releases the file into node/ (swtorrent seed, leech --trust);
#   4. the released copy is checked once more on its own (swtorrent verify) and against the original (sha256sum).
# Bounded: every wait has a limit; every process started here is stopped by its pid; the temp dir is removed.
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build -c release --product swtorrent
bin=$(swift build -c release --show-bin-path)/swtorrent

work=$(mktemp -d "${TMPDIR:-/tmp}/swtorrent-demo.XXXXXX")
pids=()
cleanup() {
    # Newest first: the seed sends its `stopped` announce while the tracker is still up.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$work/build-host" "$work/node" "$work/tracker"
artifact="$work/build-host/release-1.0.0.tar"
head -c $((24 << 20)) /dev/urandom >"$artifact"

# Release signing key (minisign format; cosign keys work the same way).
minisign -G -W -p "$work/build-host/release.pub" -s "$work/build-host/release.key" >/dev/null

step "swtorrent keygen --passkey fleet"
"$bin" keygen --passkey fleet | tee "$work/tracker/allowlist"
passkey=$(awk '/^passkey/ {print $2}' "$work/tracker/allowlist")
port=$(free_port)
announce="http://127.0.0.1:$port/$passkey/announce"

step "swtorrent make release-1.0.0.tar --private --announce $announce --sign release.key"
"$bin" make "$artifact" --private --announce "$announce" --sign "$work/build-host/release.key" \
    --output "$work/tracker/release-1.0.0.tar.torrent"
torrent="$work/tracker/release-1.0.0.tar.torrent"

step "swtorrent info release-1.0.0.tar.torrent"
"$bin" info "$torrent"

step "swtorrent tracker --listen 127.0.0.1:$port --allow allowlist --torrents ./ &"
"$bin" tracker --listen "127.0.0.1:$port" --allow "$work/tracker/allowlist" --torrents "$work/tracker" \
    --log-level warning &
pids+=($!)
for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then break; fi
    sleep 0.1
done

# --no-lsd: local discovery (BEP 14) is on by default and would multicast on this machine's interfaces; the demo
# stays on loopback and finds its peer through the tracker.
step "swtorrent seed release-1.0.0.tar.torrent --data build-host/ --no-lsd &"
"$bin" seed "$torrent" --data "$work/build-host" --no-lsd &
pids+=($!)

# Wait (bounded) until the tracker's scrape counts the seed, so the leech's first announce already finds it.
info_hash=$("$bin" info --json "$torrent" | python3 -c 'import json,sys; print(json.load(sys.stdin)["infoHash"])')
scrape="http://127.0.0.1:$port/$passkey/scrape?info_hash=$(python3 -c "import sys,urllib.parse; print(urllib.parse.quote(bytes.fromhex(sys.argv[1]), safe=''))" "$info_hash")"
for _ in $(seq 1 100); do
    if curl -fsS "$scrape" | grep -q '8:completei1e'; then break; fi
    sleep 0.2
done

step "swtorrent leech release-1.0.0.tar.torrent --out node/ --trust release.pub --no-lsd"
timeout 120 "$bin" leech "$torrent" --out "$work/node" --trust "$work/build-host/release.pub" --stall-timeout 60 --no-lsd

step "tail -n 1 .node.swtorrent-gate/audit.jsonl"
tail -n 1 "$work/.node.swtorrent-gate/audit.jsonl"

step "swtorrent verify --torrent release-1.0.0.tar.torrent --data node/ --key release.pub"
"$bin" verify --torrent "$torrent" --data "$work/node" --key "$work/build-host/release.pub"

step "sha256sum (build host and node)"
(cd "$work" && sha256sum build-host/release-1.0.0.tar node/release-1.0.0.tar)
if ! cmp -s "$artifact" "$work/node/release-1.0.0.tar"; then
    echo "demo: the leeched copy differs from the original" >&2
    exit 1
fi
echo
echo "demo: the artifact went make --sign -> tracker -> seed -> leech (signature gate) on loopback; all checks passed."
