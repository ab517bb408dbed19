#!/bin/bash
# What encryption costs (issue 13 item 7): a put into a local node, and
# the get back from its store, of the same random file, plain and with
# --encrypt, interleaved round by round; medians of BENCH_ROUNDS rounds
# (3), and the encrypted time as a ratio to the plain one. BENCH_MIB sets
# the file's size (256). Each put goes into a new, empty data directory;
# all stay until the end (see bench_sizes.sh: ext4 and mass deletions).
set -euo pipefail
EMOFS=$(realpath "${EMOFS:-build/emofs}")
ROUNDS=${BENCH_ROUNDS:-3}
MIB=${BENCH_MIB:-256}
T=$(mktemp -d /var/tmp/emofs-encrypt.XXXXXX)
trap 'rm -rf "$T"' EXIT

secs() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$T/secs.out" 2>/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

head -c $((MIB << 20)) /dev/urandom >"$T/in.bin"
pp="" pe="" gp="" ge=""
for r in $(seq 1 "$ROUNDS"); do
    for mode in plain encrypt; do
        d=$T/$mode-$r
        flag=""
        [ "$mode" = encrypt ] && flag=--encrypt
        t=$(secs "$EMOFS" put -q $flag "$T/in.bin" --data "$d")
        key=$(tail -1 "$T/secs.out")
        rm -f "$T/out.bin"
        g=$(secs "$EMOFS" get -q "$key" -o "$T/out.bin" --data "$d")
        cmp -s "$T/in.bin" "$T/out.bin" || { echo "bench_encrypt: the $mode get gave other bytes"; exit 1; }
        if [ "$mode" = plain ]; then pp="$pp $t" gp="$gp $g"; else pe="$pe $t" ge="$ge $g"; fi
    done
done
awk -v pp="$(median <<<"$pp")" -v pe="$(median <<<"$pe")" -v gp="$(median <<<"$gp")" \
    -v ge="$(median <<<"$ge")" -v m="$MIB" 'BEGIN {
    printf "%-8s %10s %12s %8s\n", "", "plain s", "encrypted s", "ratio"
    printf "%-8s %10.2f %12.2f %8.2f\n", "put", pp, pe, pe / pp
    printf "%-8s %10.2f %12.2f %8.2f\n", "get", gp, ge, ge / gp
    printf "(%d MiB of random data, a local node without peers; medians of '"$ROUNDS"' rounds, interleaved;\n ratio: encrypted time / plain time)\n", m
}'
