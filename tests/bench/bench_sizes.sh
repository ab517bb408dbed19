#!/bin/bash
# Time per GiB of a put into a local node and of the get back from its
# store, from 64 MiB to 4 GiB of random data (issue 12 item 5: it should
# stay flat). Each size: BENCH_ROUNDS rounds (3), each a put into a new,
# empty data directory then a get to a new file; medians, in seconds per
# GiB, and each size's time per GiB as a ratio to the 64 MiB one.
# BENCH_SIZES lists the sizes in MiB (64 256 1024 4096). The data
# directories stay until the end (16 GiB of blobs with the default sizes):
# on ext4, files created within a minute or so of thousands deleted cost
# many times more (the inode allocator skips the recently deleted inodes
# one by one), which is the file system's, not the put's.
set -euo pipefail
EMOFS=$(realpath "${EMOFS:-build/emofs}")
ROUNDS=${BENCH_ROUNDS:-3}
SIZES=${BENCH_SIZES:-64 256 1024 4096}
T=$(mktemp -d /var/tmp/emofs-sizes.XXXXXX)
trap 'rm -rf "$T"' EXIT

secs() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%8s %14s %14s %10s %10s\n' "MiB" "put s/GiB" "get s/GiB" "put/64MiB" "get/64MiB"
base_put="" base_get=""
for mib in $SIZES; do
    head -c $((mib << 20)) /dev/urandom >"$T/in.bin"
    puts="" gets=""
    for r in $(seq 1 "$ROUNDS"); do
        d=$T/data-$mib-$r
        rm -f "$T/out.bin"
        puts="$puts $(secs "$EMOFS" put -q "$T/in.bin" --data "$d")"
        key=$("$EMOFS" ls --data "$d" | tail -1 | cut -c1-64)
        gets="$gets $(secs "$EMOFS" get -q "$key" -o "$T/out.bin" --data "$d")"
        cmp -s "$T/in.bin" "$T/out.bin" || { echo "bench_sizes: the get of $mib MiB gave other bytes"; exit 1; }
    done
    p=$(awk -v t="$(median <<<"$puts")" -v m="$mib" 'BEGIN { printf "%.3f", t * 1024 / m }')
    g=$(awk -v t="$(median <<<"$gets")" -v m="$mib" 'BEGIN { printf "%.3f", t * 1024 / m }')
    base_put=${base_put:-$p}
    base_get=${base_get:-$g}
    awk -v m="$mib" -v p="$p" -v g="$g" -v bp="$base_put" -v bg="$base_get" \
        'BEGIN { printf "%8d %14.2f %14.2f %10.2f %10.2f\n", m, p, g, p / bp, g / bg }'
    rm -f "$T/out.bin" "$T/in.bin"
done
echo "(medians of $ROUNDS rounds, random data, a local node without peers)"
