#!/bin/bash
# The libuv shell's I/O options side by side (issue 14 item 7): bench_dht
# (20-node loopback network, 1 KiB values) with the defaults (sendmmsg
# batches, one socket), with a sendto per datagram (--no-batch), and with 4
# sockets on each port (SO_REUSEPORT), interleaved, BENCH_ROUNDS rounds (3);
# medians of the ops/s at 64 in flight and their ratios to --no-batch.
#
#   BENCH_DHT=build/bench/bench_dht DHT_NODE=build/examples/dht_node bench_dht_io.sh
set -euo pipefail
BENCH_DHT=${BENCH_DHT:-build/bench/bench_dht}
DHT_NODE=${DHT_NODE:-build/examples/dht_node}
ROUNDS=${BENCH_ROUNDS:-3}
OPS=${BENCH_DHT_OPS:-4000}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for r in $(seq 1 "$ROUNDS"); do
    for mode in batch nobatch sockets4; do
        case $mode in
        batch) flag=--sockets=1 ;;
        nobatch) flag=--no-batch ;;
        sockets4) flag=--sockets=4 ;;
        esac
        "$BENCH_DHT" "$DHT_NODE" "$OPS" "$flag" | grep "in flight" | tee -a "$T/$mode" |
            sed "s/^/round $r $mode  /"
    done
done

median() { # median FILE NAME: the median ops/s of NAME's lines
    grep -F "$2 " "$1" | awk '{ for (i = 1; i <= NF; i++) if ($(i + 1) == "ops/s") print $i }' |
        sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
echo "medians of $ROUNDS rounds, 64 in flight (ratios to a sendto per datagram):"
for op in "put, 64 in flight" "get, 64 in flight"; do
    b=$(median "$T/batch" "$op")
    n=$(median "$T/nobatch" "$op")
    s=$(median "$T/sockets4" "$op")
    awk -v op="$op" -v b="$b" -v n="$n" -v s="$s" 'BEGIN {
        printf "  %-18s sendto each %6.0f ops/s; sendmmsg batches %6.0f (%.2fx); and 4 sockets %6.0f (%.2fx)\n",
            op, n, b, b / n, s, s / n }'
done
