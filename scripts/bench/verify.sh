#!/usr/bin/env bash
# Signature-gate benchmark: `swtorrent verify` of a cosign signature over a large file vs one SHA-256 pass
# (`openssl dgst -sha256`), minisign prehashed verify vs `minisign -V`, and `swtorrent make --sign` vs `make`.
# Rounds are interleaved; the best time of each tool is compared (the machine is shared and noisy).
#
#   scripts/bench/verify.sh                 # 1 GiB file, 3 rounds
#   SIZE_MIB=256 ROUNDS=5 scripts/bench/verify.sh
#
# Targets: verify <= 1.1 x one SHA-256 pass; make --sign <= 1.15 x make.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

for tool in openssl minisign python3; do
    command -v "$tool" >/dev/null || { echo "verify.sh: $tool is missing; run scripts/install-deps.sh" >&2; exit 1; }
done

echo "== building release swtorrent"
swift build -c release --product swtorrent >/dev/null
BIN="$ROOT/.build/release/swtorrent"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/swt-bench-verify.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FILE="$WORK/artifact.bin"
echo "== writing a ${SIZE_MIB} MiB random file"
openssl rand -out "$FILE" $((SIZE_MIB * 1024 * 1024))
cat "$FILE" >/dev/null   # warm the page cache: both tools then read from memory

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ec.pem" 2>/dev/null
openssl pkey -in "$WORK/ec.pem" -pubout -out "$WORK/ec.pub"
minisign -G -W -f -p "$WORK/m.pub" -s "$WORK/m.key" >/dev/null
"$BIN" sign --key "$WORK/ec.pem" "$FILE" >/dev/null
minisign -S -s "$WORK/m.key" -m "$FILE" -x "$WORK/artifact.bin.minisig" >/dev/null

# seconds <command…>: wall time of one run, output discarded.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}
min() { printf '%s\n' "$@" | sort -g | head -1; }

declare -a SHA OURS_COSIGN MINI OURS_MINI MAKE MAKE_SIGN
for round in $(seq 1 "$ROUNDS"); do
    SHA+=("$(seconds openssl dgst -sha256 "$FILE")")
    OURS_COSIGN+=("$(seconds "$BIN" verify --key "$WORK/ec.pub" --signature "$FILE.sig" "$FILE")")
    MINI+=("$(seconds minisign -V -p "$WORK/m.pub" -m "$FILE" -x "$WORK/artifact.bin.minisig")")
    OURS_MINI+=("$(seconds "$BIN" verify --key "$WORK/m.pub" --signature "$WORK/artifact.bin.minisig" "$FILE")")
    MAKE+=("$(seconds "$BIN" make "$FILE" --no-date --force -o "$WORK/plain.torrent")")
    MAKE_SIGN+=("$(seconds "$BIN" make "$FILE" --no-date --force -o "$WORK/signed.torrent" --sign "$WORK/ec.pem")")
    echo "round $round: sha256 ${SHA[-1]}s  verify(cosign) ${OURS_COSIGN[-1]}s  minisign -V ${MINI[-1]}s" \
        " verify(minisign) ${OURS_MINI[-1]}s  make ${MAKE[-1]}s  make --sign ${MAKE_SIGN[-1]}s"
done

# The verdicts must be real: a verify that failed would be fast and meaningless.
"$BIN" verify --key "$WORK/ec.pub" --signature "$FILE.sig" "$FILE" >/dev/null
"$BIN" verify --key "$WORK/m.pub" --signature "$WORK/artifact.bin.minisig" "$FILE" >/dev/null
"$BIN" verify --torrent "$WORK/signed.torrent" --data "$WORK" --key "$WORK/ec.pub" >/dev/null

sha=$(min "${SHA[@]}"); cos=$(min "${OURS_COSIGN[@]}"); mini=$(min "${MINI[@]}"); omini=$(min "${OURS_MINI[@]}")
mk=$(min "${MAKE[@]}"); mks=$(min "${MAKE_SIGN[@]}")
echo
echo "== openssl speed -evp sha256 (one core, 16 KiB blocks)"
openssl speed -seconds 2 -bytes 16384 -evp sha256 2>/dev/null | tail -1
echo
echo "== best of $ROUNDS, ${SIZE_MIB} MiB file (page cache warm)"
python3 - "$SIZE_MIB" "$sha" "$cos" "$mini" "$omini" "$mk" "$mks" <<'PY'
import sys
size, sha, cos, mini, omini, mk, mks = int(sys.argv[1]), *map(float, sys.argv[2:])
mb = size * 1048576 / 1e6
print(f"openssl dgst -sha256          {sha:7.3f} s  {mb / sha:7.0f} MB/s")
print(f"swtorrent verify (cosign)     {cos:7.3f} s  {mb / cos:7.0f} MB/s   ratio vs one SHA-256 pass {cos / sha:.3f} (target <= 1.10)")
print(f"minisign -V (prehashed)       {mini:7.3f} s  {mb / mini:7.0f} MB/s")
print(f"swtorrent verify (minisign)   {omini:7.3f} s  {mb / omini:7.0f} MB/s   ratio vs minisign -V {omini / mini:.3f}")
print(f"swtorrent make                {mk:7.3f} s")
print(f"swtorrent make --sign         {mks:7.3f} s  ratio vs make {mks / mk:.3f} (target <= 1.15)")
PY
