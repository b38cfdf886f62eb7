#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (bencode decoder, torrent parser, magnet parser, tracker request parser,
# tracker HTTP request-head parser, BEP 14 local-discovery datagrams) with AddressSanitizer and runs each for a bounded time, seeded from
# ../shared/conformance when it is there.
#
#   scripts/fuzz.sh [seconds-per-target]     (default 60)
#
# Work files (corpus, crash artifacts) go to Fuzz/.build/fuzz-work/, which git ignores. Exits 1 if any target
# found a crash; the artifact path is printed. Add every crash input as a regression case in
# Tests/BencodeTests/FuzzRegressionTests.swift (inline bytes).
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
conformance="${SWTORRENT_CONFORMANCE:-$root/../shared/conformance}"
# The Swift runtime's backtracer would run inside AddressSanitizer and report on itself; libFuzzer's report is enough.
export SWIFT_BACKTRACE=enable=no
flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)

cd "$root/Fuzz"
echo "fuzz: building (release, -sanitize=fuzzer,address)"
if ! swift build "${flags[@]}"; then
    # SwiftPM can keep a stale build plan for the path dependency after the main package gains a target.
    echo "fuzz: build failed; cleaning the Fuzz build and retrying once"
    swift package clean
    swift build "${flags[@]}"
fi
bin="$(swift build "${flags[@]}" --show-bin-path)"
work="$root/Fuzz/.build/fuzz-work"

seed() {
    # seed TARGET DIR: writes seed inputs for TARGET into DIR.
    local target="$1" dir="$2"
    if [[ "$target" == FuzzTrackerQuery ]]; then
        # Request targets in the shapes clients send; needs no conformance data.
        printf '/announce?info_hash=%%00%%01ABCDEFGHIJKLMNOPQR&peer_id=-AB0001-abcdefghijkl&port=6881&left=0&event=started&compact=1&swt_key=ab&swt_ts=1&swt_sig=cd' >"$dir/announce"
        printf '/pk_0123456789abcdefghijkl/announce?info_hash=%%ff%%FE+bcdefghijklmnopq&peer_id=%%2D%%41%%42cdefghijklmnopq&port=1&uploaded=0&downloaded=0&left=5&numwant=999&no_peer_id=1' >"$dir/passkey"
        printf '/k/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=%%62bbbbbbbbbbbbbbbbbbb&peer_id=xxxxxxxxxxxxxxxxxxxx&port=9' >"$dir/scrape"
        return
    fi
    if [[ "$target" == FuzzTrackerHead ]]; then
        # Request heads in the shapes libtorrent, aria2 and Transmission send; needs no conformance data.
        printf 'GET /pk/announce?info_hash=%%01&port=1 HTTP/1.1\r\nHost: 127.0.0.1:6969\r\nUser-Agent: libtorrent/2.0\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n' >"$dir/libtorrent"
        printf 'GET /pk/announce?port=1 HTTP/1.1\r\nUser-Agent: aria2/1.37.0\r\nAccept: */*\r\nHost: t:1\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\nGET /a HTTP/1.0\n\n' >"$dir/aria2"
        printf 'GET http://t.example/announce HTTP/1.0\r\nConnection: keep-alive\r\nX-Forwarded-For: 1.2.3.4, ::1\r\nContent-Length: 0\r\n\r\n' >"$dir/absolute"
        return
    fi
    if [[ "$target" == FuzzLocalDiscovery ]]; then
        # Datagrams in the shapes libtorrent and Transmission send; needs no conformance data.
        printf 'BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: 000102030405060708090a0b0c0d0e0f10111213\r\ncookie: 1a2b\r\n\r\n\r\n' >"$dir/libtorrent"
        printf 'BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 51413\r\nInfohash: 000102030405060708090A0B0C0D0E0F10111213\r\nInfohash: ABABABABABABABABABABABABABABABABABABABAB\r\n\r\n' >"$dir/transmission"
        return
    fi
    [[ -d "$conformance" ]] || { echo "fuzz: no conformance data at $conformance; starting from an empty corpus"; return; }
    case "$target" in
        FuzzBencode)
            python3 - "$conformance/bencode/cases.tsv" "$dir" <<'PY'
import sys, os
rows = open(sys.argv[1]).read().splitlines()[1:]
for i, row in enumerate(rows):
    h = row.split("\t")[0]
    if h.startswith("@"):
        continue
    open(os.path.join(sys.argv[2], "case-%03d" % i), "wb").write(bytes.fromhex(h))
PY
            ;;
        FuzzTorrent)
            find "$conformance/torrents" -name '*.torrent' -size -256k -exec cp {} "$dir/" \;
            ;;
        FuzzMagnet)
            python3 - "$conformance/magnet/cases.tsv" "$dir" <<'PY'
import sys, os, re
rows = open(sys.argv[1]).read().splitlines()[1:]
for i, row in enumerate(rows):
    uri = row.split("\t")[0]
    data = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), uri.encode())
    open(os.path.join(sys.argv[2], "case-%03d" % i), "wb").write(data)
PY
            ;;
    esac
}

failed=0
for target in FuzzBencode FuzzTorrent FuzzMagnet FuzzTrackerQuery FuzzTrackerHead FuzzLocalDiscovery; do
    corpus="$work/$target/corpus"
    artifacts="$work/$target/artifacts"
    mkdir -p "$corpus" "$artifacts"
    seed "$target" "$corpus"
    echo "fuzz: $target for ${seconds}s (corpus $(ls "$corpus" | wc -l) inputs)"
    dict=()
    [[ "$target" == FuzzTorrent ]] && dict=(-dict="$root/Fuzz/torrent.dict")
    if "$bin/$target" "$corpus" "${dict[@]}" -max_total_time="$seconds" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" >"$work/$target/log.txt" 2>&1; then
        grep -E "^stat::number_of_executed_units|^Done" "$work/$target/log.txt" | sed "s/^/fuzz: $target: /" || true
    else
        failed=1
        echo "fuzz: $target FOUND A PROBLEM; log: $work/$target/log.txt" >&2
        grep -E "ERROR|Fatal error|precondition|artifact" "$work/$target/log.txt" | head -20 >&2 || true
    fi
done
exit "$failed"
