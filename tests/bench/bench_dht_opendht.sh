#!/bin/bash
# libdht against OpenDHT, side by side in one run (issue 12 item 6): the
# same operations on a 20-node loopback network of each (bench_dht: 19
# dht_node processes; bench_opendht.py: 19 of Debian's dhtnode), 1 KiB
# values, puts and gets one at a time and 64 in flight. BENCH_ROUNDS rounds
# (3), each running libdht's then OpenDHT's; medians of the rounds, and the
# ratios libdht / OpenDHT (ops/s; p99 at one in flight, lower is better).
# Installs dhtnode and python3-opendht with apt-get when they are missing
# and it runs as root; otherwise says OpenDHT was not measured.
#
#   BENCH_DHT=build/bench/bench_dht DHT_NODE=build/examples/dht_node bench_dht_opendht.sh
set -euo pipefail
BENCH_DHT=${BENCH_DHT:-build/bench/bench_dht}
DHT_NODE=${DHT_NODE:-build/examples/dht_node}
ROUNDS=${BENCH_ROUNDS:-3}
OPS=${BENCH_DHT_OPS:-4000}
HERE=$(dirname "$0")

have_opendht() { command -v dhtnode >/dev/null && /usr/bin/python3 -c 'import opendht' 2>/dev/null; }
if ! have_opendht && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's dhtnode and python3-opendht (OpenDHT) for the comparison"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dhtnode python3-opendht >/dev/null 2>&1 || true
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for r in $(seq 1 "$ROUNDS"); do
    "$BENCH_DHT" "$DHT_NODE" "$OPS" | tee -a "$T/ours" | sed "s/^/round $r libdht  /"
    if have_opendht; then
        /usr/bin/python3 "$HERE/bench_opendht.py" "$OPS" $((24300 + r * 40)) | tee -a "$T/theirs" |
            sed "s/^opendht /round $r opendht /"
    fi
done

# median FILE NAME FIELD: the median of the ops/s (FIELD ops) or p99 (FIELD p99) of NAME's lines.
median() {
    grep -F "$2 " "$1" | awk -v f="$3" '{
        for (i = 1; i <= NF; i++) {
            if (f == "ops" && $(i + 1) == "ops/s") print $i
            if (f == "p99" && $i == "p99") print $(i + 1)
        } }' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
echo "medians of $ROUNDS rounds:"
for op in "put, one at a time" "get, one at a time" "put, 64 in flight" "get, 64 in flight"; do
    o=$(median "$T/ours" "$op" ops)
    op99=$(median "$T/ours" "$op" p99)
    if [ -s "$T/theirs" ]; then
        t=$(median "$T/theirs" "$op" ops)
        tp99=$(median "$T/theirs" "$op" p99)
        awk -v n="$op" -v o="$o" -v t="$t" -v a="$op99" -v b="$tp99" 'BEGIN {
            printf "  %-20s libdht %6.0f ops/s, OpenDHT %6.0f ops/s: %.2fx   p99 %.2f ms against %.2f ms\n",
                n, o, t, o / t, a, b }'
    else
        awk -v n="$op" -v o="$o" -v a="$op99" 'BEGIN { printf "  %-20s libdht %6.0f ops/s, p99 %.2f ms\n", n, o, a }'
    fi
done
[ -s "$T/theirs" ] || echo "OpenDHT: not measured (dhtnode and python3-opendht missing, and not root to install them)"
