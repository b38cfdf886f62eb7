#!/usr/bin/env bash
# `swtorrent make` against mktorrent and the OpenSSL SHA-1 limit, side by side in one interleaved run.
#
# Builds the release binary, writes a random file (2 GiB by default) under $BENCH_DIR (default /tmp), reads it once
# to warm the page cache, then for each round times, in turn: `swtorrent make`, `mktorrent -t <cores>` (same piece
# length, 1 MiB) and `openssl speed -evp sha1 -multi <cores> -bytes 16384` (its largest block size, data in cache:
# the hashing limit on this machine). Prints GB/s (median and best of the rounds), the ratios ours/mktorrent and
# ours/openssl, and our peak RSS (/usr/bin/time %M). Checks both tools produced the same info-hash.
#
# Wall-clock rates suffer when other jobs share the machine, so it also prints a load-insensitive figure: bytes per
# CPU-second (user + sys from /usr/bin/time) of each tool, against OpenSSL's single-core rate in CPU time.
#
# Usage: scripts/bench/make.sh                 # 3 rounds, 2 GiB
#        BENCH_ROUNDS=5 BENCH_SIZE_MIB=4096 BENCH_DIR=/var/tmp scripts/bench/make.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${BENCH_ROUNDS:-3}
size_mib=${BENCH_SIZE_MIB:-2048}
cores=$(nproc)
piece_log=20   # 1 MiB pieces for both tools (mktorrent -l takes log2)

scripts/install-deps.sh --bench
swift build -c release --product swtorrent >&2
bin=$(swift build -c release --show-bin-path)/swtorrent

dir=$(mktemp -d "${BENCH_DIR:-/tmp}/swt-bench-make.XXXXXX")
trap 'rm -rf "$dir"' EXIT
file="$dir/artifact.bin"
bytes=$((size_mib << 20))
echo "make.sh: writing $size_mib MiB of random data to $file" >&2
# AES-CTR of zeros: incompressible, and much faster to produce than /dev/urandom. (openssl ends on SIGPIPE.)
(openssl enc -aes-128-ctr -nosalt -pass pass:swtorrent-bench -in /dev/zero 2>/dev/null || true) | head -c "$bytes" >"$file"
cat "$file" >/dev/null   # warm the page cache

now() { date +%s.%N; }
gbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.3f", b / s / 1e9 }'; }

ours=() mk=() ssl=() rss=() ours_cpu=() mk_cpu=() ssl_cpu=()
cpu_rate() { awk -v b="$bytes" '{ printf "%.3f", b / ($1 + $2) / 1e9 }' "$1"; }
for round in $(seq 1 "$rounds"); do
    rm -f "$dir/ours.torrent" "$dir/mk.torrent"
    start=$(now)
    /usr/bin/time -f "%U %S %M" -o "$dir/ours.time" "$bin" make "$file" --piece-length 1M --threads "$cores" --no-date \
        --announce http://127.0.0.1:6969/announce --output "$dir/ours.torrent" >"$dir/ours.out"
    end=$(now)
    ours+=("$(gbps "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")")
    rss+=("$(awk '{ print $3 }' "$dir/ours.time")")
    ours_cpu+=("$(cpu_rate "$dir/ours.time")")

    start=$(now)
    /usr/bin/time -f "%U %S %M" -o "$dir/mk.time" mktorrent -l "$piece_log" -t "$cores" -d -a http://127.0.0.1:6969/announce -o "$dir/mk.torrent" "$file" >/dev/null
    end=$(now)
    mk+=("$(gbps "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")")
    mk_cpu+=("$(cpu_rate "$dir/mk.time")")

    # The last field of the result line is the 16384-byte column, in thousands of bytes per second.
    limit=$(openssl speed -evp sha1 -multi "$cores" -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha1/ { v = $NF } END { sub(/k$/, "", v); printf "%.3f", v * 1000 / 1e9 }')
    ssl+=("$limit")
    # One process, no -multi: openssl speed divides by its CPU (user) time by default.
    ssl_cpu+=("$(openssl speed -evp sha1 -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha1/ { v = $NF } END { sub(/k$/, "", v); printf "%.3f", v * 1000 / 1e9 }')")
    echo "round $round: swtorrent ${ours[-1]} GB/s (peak RSS $((rss[-1] / 1024)) MiB), mktorrent ${mk[-1]} GB/s, openssl ${ssl[-1]} GB/s" >&2
done

ours_hash=$(awk '/^info-hash:/ { print $2 }' "$dir/ours.out")
mk_hash=$(/usr/bin/python3 -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hash())' "$dir/mk.torrent")
if [[ "$ours_hash" != "$mk_hash" ]]; then
    echo "make.sh: info-hashes differ: swtorrent $ours_hash, mktorrent $mk_hash" >&2
    exit 1
fi

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
max_rss=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)

o=$(median "${ours[@]}") m=$(median "${mk[@]}") s=$(median "${ssl[@]}")
echo
echo "make: $size_mib MiB, 1 MiB pieces, $cores cores, $rounds interleaved rounds (page cache warm); info-hashes match"
printf '%-34s %10s %10s\n' "" "median" "best"
printf '%-34s %10s %10s\n' "swtorrent make (GB/s)" "$o" "$(best "${ours[@]}")"
printf '%-34s %10s %10s\n' "mktorrent -t $cores (GB/s)" "$m" "$(best "${mk[@]}")"
printf '%-34s %10s %10s\n' "openssl sha1 -multi $cores (GB/s)" "$s" "$(best "${ssl[@]}")"
echo "ratio swtorrent / mktorrent:       $(ratio "$o" "$m")   (target >= 1.15)"
echo "ratio swtorrent / openssl limit:   $(ratio "$o" "$s")   (target >= 0.90)"
echo "peak RSS of swtorrent make:        $((max_rss / 1024)) MiB   (target <= 64)"
oc=$(median "${ours_cpu[@]}") mc=$(median "${mk_cpu[@]}") sc=$(median "${ssl_cpu[@]}")
echo
echo "CPU efficiency (GB hashed per CPU-second, user + sys; insensitive to other load), median:"
printf '%-34s %10s\n' "swtorrent make" "$oc" "mktorrent -t $cores" "$mc" "openssl sha1, 1 process" "$sc"
echo "ratio swtorrent / mktorrent:       $(ratio "$oc" "$mc")"
echo "ratio swtorrent / openssl:         $(ratio "$oc" "$sc")"
