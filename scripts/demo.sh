#!/usr/bin/env bash
# The main job, from a fresh clone on a Debian machine with the Swift toolchain: installs what it needs, builds the
# release binary, makes a private torrent of a sample artifact (a few MiB of random data in a temporary directory)
# for a tracker on 127.0.0.1, and shows it. Bounded: a few seconds after the build; cleans up after itself.
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build -c release --product swtorrent
bin=$(swift build -c release --show-bin-path)/swtorrent

work=$(mktemp -d "${TMPDIR:-/tmp}/swtorrent-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifact="$work/release-1.0.0.tar"
head -c $((8 << 20)) /dev/urandom >"$artifact"
torrent="$work/release-1.0.0.tar.torrent"

echo
echo "\$ swtorrent make release-1.0.0.tar --private --announce http://127.0.0.1:6969/announce"
"$bin" make "$artifact" --private --announce http://127.0.0.1:6969/announce --output "$torrent"

echo
echo "\$ swtorrent info release-1.0.0.tar.torrent"
"$bin" info "$torrent"
