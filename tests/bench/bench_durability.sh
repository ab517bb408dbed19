#!/bin/bash
# Durability figures (issue 11), printed, never asserted:
#  1. maintenance traffic: 10,000 simulated nodes holding 100,000 values
#     (200 copies per node, k 20), one idle virtual hour with replication
#     every hour and without: the difference, in datagrams and bytes per
#     node per hour;
#  2. a daemon's start with N GiB of replicas on disk (sparse files: the
#     start reads names and sizes only, never the bytes), against a start
#     with none, median of 3, interleaved;
#  3. churn with libdht's maintenance only: 2,000 nodes, 10% replaced per
#     minute for 2 virtual hours, replication every 10 minutes or never,
#     values; files (--files) with replication every 10 or 2 minutes;
#  4. repair with daemons: 20 daemons on 127.0.0.1 replicating every
#     REPAIR_INTERVAL s, 3 files put through one, 5 others killed with
#     kill -9: seconds until every piece is on 8 live nodes again.
set -euo pipefail
: "${EMOFS:?set EMOFS to the emofs binary}"
GIB=${BENCH_REPLICA_GIB:-10}
T=$(mktemp -d "${TMPDIR:-/tmp}/emofs-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

# "datagrams bytes" of a run's network line (bytes: in datagrams and streams).
traffic() { sed -n 's/.*network *\([0-9]*\) datagrams sent.*; \([0-9]*\) bytes in datagrams, \([0-9]*\) in streams.*/\1 \2 \3/p' | awk '{ print $1, $2 + $3 }'; }
echo "-- maintenance traffic: 10,000 nodes, 100,000 values (20 copies each), one idle hour"
with=$("$EMOFS" sim --nodes 10000 --values 100000 --lookups 10 --churn 0 --duration 3600 \
    --sample 3600 --probe-lookups 10 --replicate 3600 | traffic)
without=$("$EMOFS" sim --nodes 10000 --values 100000 --lookups 10 --churn 0 --duration 3600 \
    --sample 3600 --probe-lookups 10 --replicate 0 | traffic)
awk -v w="$with" -v o="$without" 'BEGIN { split(w, a, " "); split(o, b, " ");
    printf "  replication  %.0f datagrams and %.0f KiB per node per hour (%.1f datagrams per copy held)\n",
        (a[1] - b[1]) / 10000, (a[2] - b[2]) / 10000 / 1024, (a[1] - b[1]) / 10000 / 200 }'

echo "-- a daemon's start with $GIB GiB of replicas ($((GIB * 4096)) files of 256 KiB, sparse)"
mkdir -p "$T/full/replicas/blobs" "$T/empty"
n=$((GIB * 4096))
{ head -c $((n * 32)) /dev/urandom | od -An -tx1 -v | tr -d ' \n' | fold -w 64; echo; } | head -n "$n" |
    while read -r hex; do
        d="$T/full/replicas/blobs/${hex:0:2}"
        [ -d "$d" ] || mkdir -p "$d"
        truncate -s 262144 "$d/$hex"
    done
# start_s DIR: seconds from launch until the daemon says what it holds.
start_s() {
    local log=$T/start.log t0 t1
    t0=$(date +%s.%N)
    "$EMOFS" daemon --listen 127.0.0.1:0 --data "$1" >"$log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 6000); do grep -q "holding" "$log" 2>/dev/null && break; sleep 0.01; done
    t1=$(date +%s.%N)
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    grep -o "holding [0-9]* replicas" "$log" >"$T/held-$(basename "$1").txt" || true
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
full=() empty=()
for _ in 1 2 3; do
    full+=("$(start_s "$T/full")")
    empty+=("$(start_s "$T/empty")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
mf=$(median "${full[@]}") me=$(median "${empty[@]}")
echo "  $(cat "$T/held-full.txt" 2>/dev/null || echo '?') loaded; start $mf s with them, $me s with none (median of 3; ratio $(awk -v a="$mf" -v b="$me" 'BEGIN { printf "%.1f", a / b }'))"

echo "-- churn with libdht's maintenance only: 2,000 nodes, 10% replaced per minute, 2 hours"
for r in 600 0; do
    "$EMOFS" sim --nodes 2000 --values 1000 --lookups 100 --churn 0.1 --duration 7200 \
        --sample 600 --probe-lookups 20 --replicate "$r" | sed -n '/churn  /,/total/p'
done
# Files keep each chunk on 8 nodes (manifests on 20): with 65% of the nodes
# replaced per 10 minutes, a 10-minute interval loses some, a 2-minute one
# none.
for r in 600 120; do
    "$EMOFS" sim --nodes 2000 --files 20 --file-size 4194304 --lookups 100 --churn 0.1 \
        --duration 7200 --sample 600 --probe-lookups 20 --replicate "$r" | sed -n '/churn  /,/total/p'
done

INTERVAL=${REPAIR_INTERVAL:-30}
echo "-- repair: 20 daemons, replication every $INTERVAL s, 3 files, 5 daemons killed (kill -9)"
NET_DIR=$T/net
mkdir -p "$NET_DIR"
. "$(dirname "$0")/../../tool/local_net.sh"
trap 'net_stop_all; rm -rf "$T"' EXIT
for i in $(seq 1 20); do
    mkdir -p "$NET_DIR/d$i"
    echo "replicate_interval $INTERVAL" >"$NET_DIR/d$i/config"
done
net_start d1 >/dev/null
for i in $(seq 2 20); do net_start d$i "${NET_ADDR[d$(((i - 2) / 5 + 1))]}" >/dev/null; done
sleep 1
keys=()
for mib in 4 8 16; do
    head -c $((mib << 20)) /dev/urandom >"$T/f$mib.bin"
    keys+=("$("$EMOFS" put -q "$T/f$mib.bin" --data "$NET_DIR/d1")")
done
for i in 2 3 4 5 6; do kill -9 "${NET_PID[d$i]}"; done
for i in 2 3 4 5 6; do wait "${NET_PID[d$i]}" 2>/dev/null || true; done
t0=$(date +%s.%N)
repaired() {
    local k
    for k in "${keys[@]}"; do
        "$EMOFS" health "$k" --json --data "$NET_DIR/d9" 2>/dev/null |
            grep -Eq '"copies_fewest":([89]|[1-9][0-9])' || return 1
    done
}
took=never
for _ in $(seq 1 $((INTERVAL * 8))); do
    if repaired; then
        took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        break
    fi
    sleep 0.5
done
echo "  every piece back on 8 live nodes after $took s (interval $INTERVAL s; $(awk -v t="$took" -v i="$INTERVAL" 'BEGIN { if (t == "never") print "never"; else printf "%.2f intervals", t / i }'))"
