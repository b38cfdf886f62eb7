#!/usr/bin/env bash
# Signature-gate benchmark (issue #5, item 7), release build, rounds interleaved, best time of each kept (the machine
# is shared and noisy; `uptime` is printed next to every wall-clock figure).
#
#  1. Verification: `swtorrent verify` of a cosign signature over a large file vs one SHA-256 pass
#     (`openssl dgst -sha256`); minisign prehashed verify vs `minisign -V`.           target: <= 1.10 x SHA-256 pass
#  2. `swtorrent make --sign cosign-key` vs `swtorrent make` vs the SHA-256 floor, page cache warm, for one large
#     file and for a directory of several files.                                       target: <= 1.15 x make
#     The floor is what the signature alone costs: a file's SHA-256 is sequential, so `make --sign` can never beat
#     one SHA-256 pass over its largest file, nor (all files' SHA-256 + all pieces' SHA-1) / cores. The script prints
#     one SHA-256 pass (openssl dgst over every file, one process) and, for the directory, the same with one openssl
#     per file on every core (xargs -P), plus CPU seconds per GiB for make and make --sign (load-insensitive).
#  3. The same with a cold page cache (`echo 3 > /proc/sys/vm/drop_caches` before each run), when this machine lets
#     us drop caches (root, not a read-only /proc); otherwise it says so and skips the cold case.
#  4. Slow storage: the cold runs again with reads of the work directory's disk throttled to THROTTLE_MBPS (default
#     400 MB/s) by a block-I/O cgroup the script makes and removes (root; cgroup v1 blkio or v2 io); else skipped.
#     Where reading is slower than one core's SHA-256, make --sign should cost what make costs.
#
#   scripts/bench/verify.sh                          # 1 GiB file, 8 x 128 MiB directory, 3 warm rounds, 3 cold
#   SIZE_MIB=256 DIR_FILES=4 DIR_FILE_MIB=64 ROUNDS=5 COLD_ROUNDS=0 scripts/bench/verify.sh
#   BENCH_RT=1 scripts/bench/verify.sh               # as root on a busy shared machine: every timed command (ours and
#                                                    # openssl/minisign alike) runs SCHED_FIFO (chrt -f 10), so other
#                                                    # processes' load does not skew the comparison
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
DIR_FILES=${DIR_FILES:-8}
DIR_FILE_MIB=${DIR_FILE_MIB:-128}
ROUNDS=${ROUNDS:-3}
COLD_ROUNDS=${COLD_ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

for tool in openssl minisign python3 xargs; do
    command -v "$tool" >/dev/null || { echo "verify.sh: $tool is missing; run scripts/install-deps.sh" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "verify.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
CORES=$(nproc)
RT=()
if [[ ${BENCH_RT:-0} == 1 ]]; then
    command -v chrt >/dev/null && chrt -f 10 true 2>/dev/null || { echo "verify.sh: BENCH_RT=1 needs root and chrt" >&2; exit 1; }
    RT=(chrt -f 10)
fi

echo "== building release swtorrent"
swift build -c release --product swtorrent >/dev/null
BIN="$ROOT/.build/release/swtorrent"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/swt-bench-verify.XXXXXX")
trap 'rm -rf "$WORK"; [[ -n "${CGROUP:-}" ]] && rmdir "$CGROUP" 2>/dev/null; true' EXIT
FILE="$WORK/artifact.bin"
DIR="$WORK/release"
echo "== writing a ${SIZE_MIB} MiB random file and ${DIR_FILES} x ${DIR_FILE_MIB} MiB in a directory"
openssl rand -out "$FILE" $((SIZE_MIB * 1024 * 1024))
mkdir -p "$DIR"
for i in $(seq 1 "$DIR_FILES"); do openssl rand -out "$DIR/part-$i.bin" $((DIR_FILE_MIB * 1024 * 1024)); done
DIR_MIB=$((DIR_FILES * DIR_FILE_MIB))

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ec.pem" 2>/dev/null
openssl pkey -in "$WORK/ec.pem" -pubout -out "$WORK/ec.pub"
minisign -G -W -f -p "$WORK/m.pub" -s "$WORK/m.key" >/dev/null
"$BIN" sign --key "$WORK/ec.pem" "$FILE" >/dev/null
minisign -S -s "$WORK/m.key" -m "$FILE" -x "$WORK/artifact.bin.minisig" >/dev/null
warm() { cat "$FILE" "$DIR"/* >/dev/null; }
warm

# run NAME command…: one run, output discarded; appends "wall user sys" (seconds) to $WORK/NAME.
run() {
    local name=$1 start end
    shift
    start=$(date +%s.%N)
    "${RT[@]}" /usr/bin/time -f '%U %S' -o "$WORK/cpu" "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$(python3 -c "print(f'{$end - $start:.3f}')") $(cat "$WORK/cpu")" >>"$WORK/$name"
}
# best NAME: the smallest wall time of NAME's runs; cpu NAME: user+sys of that run.
best() { sort -g "$WORK/$1" | head -1 | cut -d' ' -f1; }
cpu() { sort -g "$WORK/$1" | head -1 | awk '{ printf "%.3f", $2 + $3 }'; }
last() { tail -1 "$WORK/$1" | cut -d' ' -f1; }
load() { uptime | sed 's/.*load average: /load /'; }

# One openssl per file, as many at once as there are cores (a command, so that /usr/bin/time can run it).
SHA_DIR_PARALLEL=(bash -c 'printf "%s\0" "$0"/* | xargs -0 -n 1 -P "$1" openssl dgst -sha256' "$DIR" "$CORES")

make_cases() {  # make_cases PREFIX: one round of sha256 / make / make --sign over the file and the directory
    local p=$1
    run "${p}file_sha" openssl dgst -sha256 "$FILE"
    run "${p}file_make" "$BIN" make "$FILE" --no-date --force -o "$WORK/plain.torrent"
    run "${p}file_sign" "$BIN" make "$FILE" --no-date --force -o "$WORK/signed.torrent" --sign "$WORK/ec.pem"
    run "${p}dir_sha" openssl dgst -sha256 "$DIR"/*
    run "${p}dir_shapar" "${SHA_DIR_PARALLEL[@]}"
    run "${p}dir_make" "$BIN" make "$DIR" --no-date --force -o "$WORK/dir-plain.torrent"
    run "${p}dir_sign" "$BIN" make "$DIR" --no-date --force -o "$WORK/dir-signed.torrent" --sign "$WORK/ec.pem"
}

echo "== $ROUNDS warm rounds ($CORES cores; $(load); ${RT[*]:-normal scheduling})"
for round in $(seq 1 "$ROUNDS"); do
    run sha openssl dgst -sha256 "$FILE"
    run verify_cosign "$BIN" verify --key "$WORK/ec.pub" --signature "$FILE.sig" "$FILE"
    run minisign minisign -V -p "$WORK/m.pub" -m "$FILE" -x "$WORK/artifact.bin.minisig"
    run verify_minisign "$BIN" verify --key "$WORK/m.pub" --signature "$WORK/artifact.bin.minisig" "$FILE"
    make_cases w_
    echo "round $round: sha256 $(last sha)s verify(cosign) $(last verify_cosign)s minisign -V $(last minisign)s" \
        "verify(minisign) $(last verify_minisign)s | file: make $(last w_file_make)s make --sign $(last w_file_sign)s" \
        "| dir: make $(last w_dir_make)s make --sign $(last w_dir_sign)s | $(load)"
done

# The verdicts must be real: a verify that failed would be fast and meaningless; a signed torrent must verify.
"$BIN" verify --key "$WORK/ec.pub" --signature "$FILE.sig" "$FILE" >/dev/null
"$BIN" verify --key "$WORK/m.pub" --signature "$WORK/artifact.bin.minisig" "$FILE" >/dev/null
"$BIN" verify --torrent "$WORK/signed.torrent" --data "$WORK" --key "$WORK/ec.pub" >/dev/null
"$BIN" verify --torrent "$WORK/dir-signed.torrent" --data "$WORK" --key "$WORK/ec.pub" >/dev/null
# Signing must not change the info-hash.
ih() { "$BIN" info "$1" | awk '/^Info-hash v1:/ { print $NF; exit }'; }
plain_ih=$(ih "$WORK/plain.torrent")
[[ -n "$plain_ih" && "$plain_ih" == "$(ih "$WORK/signed.torrent")" ]] || { echo "verify.sh: info-hash changed" >&2; exit 1; }

# Cold page cache: only if dropping caches really empties it (checked on one file with fincore when available).
COLD=no
if (( COLD_ROUNDS > 0 )); then
    if sync && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
        if command -v fincore >/dev/null; then
            resident=$(fincore -n -b -o RES "$FILE" | tr -d ' ')
            [[ "$resident" == 0 ]] && COLD=yes || COLD="no (drop_caches accepted but $resident bytes stayed cached)"
        else
            COLD=yes
        fi
    else
        COLD="no (cannot write /proc/sys/vm/drop_caches here: not root or /proc read-only)"
    fi
fi
# Drops the page cache, then reloads the programs (swtorrent and its Swift libraries are tens of MiB): only the data
# is cold.
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; "$BIN" --version >/dev/null; openssl version >/dev/null; }
# cold_rounds PREFIX LABEL [WRAPPER…]: COLD_ROUNDS rounds of the make cases, page cache dropped before every run, each
# command run through WRAPPER (e.g. entering a read-throttled cgroup).
cold_rounds() {
    local p=$1 label=$2
    shift 2
    local -a w=("$@")
    echo "== $COLD_ROUNDS $label rounds (page cache dropped before every run; $(load))"
    for round in $(seq 1 "$COLD_ROUNDS"); do
        drop; run "${p}file_sha" "${w[@]}" openssl dgst -sha256 "$FILE"
        drop; run "${p}file_make" "${w[@]}" "$BIN" make "$FILE" --no-date --force -o "$WORK/plain.torrent"
        drop; run "${p}file_sign" "${w[@]}" "$BIN" make "$FILE" --no-date --force -o "$WORK/signed.torrent" \
            --sign "$WORK/ec.pem"
        drop; run "${p}dir_sha" "${w[@]}" openssl dgst -sha256 "$DIR"/*
        drop; run "${p}dir_shapar" "${w[@]}" "${SHA_DIR_PARALLEL[@]}"
        drop; run "${p}dir_make" "${w[@]}" "$BIN" make "$DIR" --no-date --force -o "$WORK/dir-plain.torrent"
        drop; run "${p}dir_sign" "${w[@]}" "$BIN" make "$DIR" --no-date --force -o "$WORK/dir-signed.torrent" \
            --sign "$WORK/ec.pem"
        echo "$label round $round: file: sha256 $(last "${p}file_sha")s make $(last "${p}file_make")s" \
            "make --sign $(last "${p}file_sign")s | dir: sha256 $(last "${p}dir_sha")s make $(last "${p}dir_make")s" \
            "make --sign $(last "${p}dir_sign")s | $(load)"
    done
}

# Slow storage: the same cold runs with reads from the work directory's disk throttled (THROTTLE_MBPS, default 400
# MB/s, about a SATA SSD) by a block-I/O cgroup made for this run (cgroup v1 blkio or v2 io.max; root only).
THROTTLE_MBPS=${THROTTLE_MBPS:-400}
SLOW="no (needs the cold case)"
CGROUP=""
setup_throttle() {
    local source disk majmin bps=$((THROTTLE_MBPS * 1000000))
    source=$(df --output=source "$WORK" | tail -1)
    disk=$(lsblk -no PKNAME "$source" 2>/dev/null | head -1)
    [[ -n "$disk" ]] && source="/dev/$disk"
    majmin=$(lsblk -dno MAJ:MIN "$source" 2>/dev/null | tr -d ' ')
    [[ -n "$majmin" ]] || { SLOW="no (cannot tell which block device holds $WORK: $source)"; return; }
    if [[ -w /sys/fs/cgroup/blkio ]]; then
        CGROUP=/sys/fs/cgroup/blkio/swt-bench-verify-$$
        mkdir "$CGROUP" && echo "$majmin $bps" >"$CGROUP/blkio.throttle.read_bps_device" 2>/dev/null \
            || { SLOW="no (cgroup v1 blkio throttling refused)"; return; }
    elif grep -qw io /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
        CGROUP=/sys/fs/cgroup/swt-bench-verify-$$
        mkdir "$CGROUP" && echo "$majmin rbps=$bps" >"$CGROUP/io.max" 2>/dev/null \
            || { SLOW="no (cgroup v2 io.max refused)"; return; }
    else
        SLOW="no (no writable blkio/io cgroup controller here)"
        return
    fi
    SLOW=yes
}

if [[ $COLD == yes ]]; then
    cold_rounds c_ cold
    setup_throttle
    if [[ $SLOW == yes ]]; then
        ENTER=(bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP")
        cold_rounds t_ "slow-storage (${THROTTLE_MBPS} MB/s)" "${ENTER[@]}"
    else
        echo "== slow storage: skipped: $SLOW"
    fi
    warm
else
    echo "== cold page cache: skipped: $COLD"
fi

echo
echo "== openssl speed -evp sha256 / sha1 (one core, 16 KiB blocks; $(load))"
SPEED256=$("${RT[@]}" openssl speed -seconds 2 -bytes 16384 -evp sha256 2>/dev/null | tail -1)
echo "$SPEED256"
"${RT[@]}" openssl speed -seconds 2 -bytes 16384 -evp sha1 2>/dev/null | tail -1
SPEED256=$(awk '{ v = $NF; sub(/k$/, "", v); print v * 1000 }' <<<"$SPEED256")
echo
echo "== results: best of each ($(load) now)"
args=("$SIZE_MIB" "$DIR_MIB" "$DIR_FILES" "$DIR_FILE_MIB" "$CORES" "$COLD" "$SPEED256" "$SLOW" "$THROTTLE_MBPS"
    "$(best sha)" "$(best verify_cosign)" "$(best minisign)" "$(best verify_minisign)")
for p in w_ c_ t_; do
    for c in file_sha file_make file_sign dir_sha dir_shapar dir_make dir_sign; do
        if [[ -s "$WORK/$p$c" ]]; then args+=("$(best "$p$c")" "$(cpu "$p$c")"); else args+=(0 0); fi
    done
done
python3 - "${args[@]}" <<'PY'
import sys
a = sys.argv[1:]
size, dir_mib, nfiles, file_mib, cores = map(int, a[:5])
cold = a[5]
speed = float(a[6])  # bytes/s of one core's SHA-256 (openssl speed)
slow, throttle = a[7], a[8]
sha, cos, mini, omini = map(float, a[9:13])
vals = list(map(float, a[13:]))
names = ["file_sha", "file_make", "file_sign", "dir_sha", "dir_shapar", "dir_make", "dir_sign"]
warm = {n: (vals[2 * i], vals[2 * i + 1]) for i, n in enumerate(names)}
coldv = {n: (vals[14 + 2 * i], vals[14 + 2 * i + 1]) for i, n in enumerate(names)}
slowv = {n: (vals[28 + 2 * i], vals[28 + 2 * i + 1]) for i, n in enumerate(names)}
mb = size * 1048576 / 1e6
print(f"verify, {size} MiB file, page cache warm:")
print(f"  openssl dgst -sha256          {sha:7.3f} s  {mb / sha:6.0f} MB/s")
print(f"  swtorrent verify (cosign)     {cos:7.3f} s  {mb / cos:6.0f} MB/s  ratio vs one SHA-256 pass {cos / sha:.3f} (target <= 1.10)")
print(f"  minisign -V (prehashed)       {mini:7.3f} s  {mb / mini:6.0f} MB/s")
print(f"  swtorrent verify (minisign)   {omini:7.3f} s  {mb / omini:6.0f} MB/s  ratio vs minisign -V {omini / mini:.3f}")

def table(title, v, io_rate=None):
    print(title)
    for kind, mib, label in (("file", size, f"one {size} MiB file"), ("dir", dir_mib, f"{nfiles} x {file_mib} MiB directory")):
        gib = mib / 1024
        s, _ = v[f"{kind}_sha"]
        mk, mkc = v[f"{kind}_make"]
        ms, msc = v[f"{kind}_sign"]
        print(f"  {label}:")
        print(f"    openssl dgst -sha256 (one pass, one process) {s:7.3f} s")
        floor = s
        if kind == "dir":
            sp, _ = v["dir_shapar"]
            print(f"    {f'openssl dgst -sha256, one per file, -P {cores}':<45}{sp:7.3f} s")
            floor = sp
        print(f"    swtorrent make                               {mk:7.3f} s  {mkc / gib:5.2f} CPU-s/GiB")
        print(f"    swtorrent make --sign                        {ms:7.3f} s  {msc / gib:5.2f} CPU-s/GiB")
        # What the hardware allows: one core's SHA-256 over the largest file, and all SHA-256 plus make's own CPU
        # (reads, SHA-1) spread over every core.
        largest = (size if kind == "file" else file_mib) * 1048576 / speed
        compute = max(largest, (mib * 1048576 / speed + mkc) / cores)
        print(f"    compute floor: max(SHA-256 of the largest file {largest:.3f} s,")
        print(f"      (SHA-256 of all {mib * 1048576 / speed:.3f} s + make's CPU {mkc:.3f} s) / {cores} cores) = {compute:7.3f} s")
        if io_rate:
            reading = mib * 1048576 / io_rate
            print(f"    {f'read floor: {mib} MiB at {io_rate / 1e6:.0f} MB/s':<45}{reading:7.3f} s")
            compute = max(compute, reading)
        print(f"    ratio make --sign / make                     {ms / mk:7.3f}   (target <= 1.15)")
        print(f"    ratio make --sign / SHA-256 pass             {ms / floor:7.3f}   ({'openssl dgst' if kind == 'file' else 'openssl per file on all cores'})")
        label = "ratio make --sign / " + ("max(compute, read floor)" if io_rate else "compute floor")
        print(f"    {label:<45}{ms / compute:7.3f}")

table("make --sign (cosign key), page cache warm:", warm)
if cold == "yes":
    table("make --sign (cosign key), page cache cold (dropped before each run):", coldv)
else:
    print(f"make --sign, page cache cold: not measured: {cold}")
if slow == "yes":
    table(f"make --sign (cosign key), slow storage: cold, reads throttled to {throttle} MB/s:", slowv,
          io_rate=int(throttle) * 1e6)
else:
    print(f"make --sign, slow storage: not measured: {slow}")
PY
