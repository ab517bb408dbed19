#!/bin/bash
# make bench, files: put of a 1 GiB random and a 1 GiB compressible file
# into a local node (no peers), against `openssl dgst -sha256` of the same
# file; get of the random file through 8 daemons on 127.0.0.1, against
# `cat` of the same file. Every reference is measured in the same run; the
# local puts and their reference are interleaved, BENCH_ROUNDS times (3),
# and the medians compared. BENCH_MIB sets the file size (default 1024).
# EMOFS_OLD=PATH adds another emofs binary (an older build) to the local
# puts, interleaved with the rest: its row and its ratio to this one.
# The random file is also got back from the local store its put left, no
# network, against `cat` of the file (interleaved likewise).
# BENCH_LOCAL_ONLY=1 stops after the local puts and get.
set -euo pipefail

EMOFS=$(realpath "${EMOFS:-build/emofs}")
MIB=${BENCH_MIB:-1024}
T=$(mktemp -d /var/tmp/emofs-bench.XXXXXX)
NET_DIR=$T
. "$(dirname "$0")/../../tool/local_net.sh"
trap 'net_stop_all; rm -rf "$T"' EXIT

secs() { # secs command...: wall seconds of the command, output discarded
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
rate() { awk -v m="$MIB" -v t="$1" 'BEGIN { printf "%.1f", m / t }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ROUNDS=${BENCH_ROUNDS:-3}
OLD=${EMOFS_OLD:+$(realpath "$EMOFS_OLD")}
ratio() { awk -v r="$1" -v t="$2" 'BEGIN { printf "%.2f", r / t }'; }

echo "== making ${MIB} MiB files (random; compressible: log-like text)"
head -c $((MIB << 20)) /dev/urandom >"$T/random.bin"
i=0
while :; do
    printf '%s host-%d GET /files/%d?user=%d 200 %d bytes in %d ms\n' \
        "2026-11-21T10:$((i % 60)):00Z" $((i % 17)) $((i * 7919 % 100000)) $((i % 313)) \
        $((i * 31 % 65536)) $((i % 97))
    i=$((i + 1))
    [ $i -ge 20000 ] && break
done >"$T/seed.txt"
while [ "$(stat -c %s "$T/seed.txt")" -lt $((MIB << 20)) ]; do
    cat "$T/seed.txt" "$T/seed.txt" | awk -v s=$RANDOM '{ if (NR % 50 == 0) $4 = $4 s; print }' >"$T/seed2.txt"
    mv "$T/seed2.txt" "$T/seed.txt"
done
head -c $((MIB << 20)) "$T/seed.txt" >"$T/text.bin"
rm "$T/seed.txt"

# The random file's get from the local store its last put left ($T/local):
# no network, so what it times is the get's own work (decode, write, the
# whole-file check, the final sync), against `cat` of the file; rounds
# interleaved with EMOFS_OLD's. Sets get_line (and old_get_line).
local_get_rounds() {
    local key refs="" ts="" olds="" ref t o
    key=$("$EMOFS" ls --data "$T/local" | tail -1 | cut -c1-64)
    for _ in $(seq 1 "$ROUNDS"); do
        refs="$refs $(secs cat "$T/random.bin")"
        rm -f "$T/got.bin"
        ts="$ts $(secs "$EMOFS" get -q "$key" -o "$T/got.bin" --data "$T/local")"
        cmp -s "$T/random.bin" "$T/got.bin" || { echo "get returned other bytes"; exit 1; }
        if [ -n "$OLD" ]; then
            rm -f "$T/got.bin"
            olds="$olds $(secs "$OLD" get -q "$key" -o "$T/got.bin" --data "$T/local")"
        fi
    done
    rm -f "$T/got.bin"
    ref=$(median <<<"$refs")
    t=$(median <<<"$ts")
    get_line=$(printf '%-34s %10.2f %10s %12s %8s' "get random, local store" "$t" "$(rate "$t")" \
        "$(rate "$ref") cat" "$(ratio "$ref" "$t")")
    if [ -n "$OLD" ]; then
        o=$(median <<<"$olds")
        old_get_line=$(printf '%-34s %10.2f %10s %12s %8s\n%-34s %10s %10s %12s %8s' \
            "  the same, EMOFS_OLD" "$o" "$(rate "$o")" "$(rate "$ref") cat" "$(ratio "$ref" "$o")" \
            "  speed, this / EMOFS_OLD" "" "" "" "$(ratio "$o" "$t")")
    fi
}

printf '%-34s %10s %10s %12s %8s\n' "operation" "seconds" "MiB/s" "reference" "ratio"
for f in random text; do
    cat "$T/$f.bin" >/dev/null
    refs="" ts="" olds=""
    for _ in $(seq 1 "$ROUNDS"); do
        refs="$refs $(secs openssl dgst -sha256 "$T/$f.bin")"
        rm -rf "$T/local"
        ts="$ts $(secs "$EMOFS" put -q "$T/$f.bin" --data "$T/local")"
        if [ -n "$OLD" ]; then
            rm -rf "$T/local"
            olds="$olds $(secs "$OLD" put -q "$T/$f.bin" --data "$T/local")"
        fi
    done
    [ "$f" = random ] && local_get_rounds
    rm -rf "$T/local"
    ref=$(median <<<"$refs")
    t=$(median <<<"$ts")
    printf '%-34s %10.2f %10s %12s %8s\n' "put $f, local node" "$t" "$(rate "$t")" \
        "$(rate "$ref") sha" "$(ratio "$ref" "$t")"
    if [ -n "$OLD" ]; then
        o=$(median <<<"$olds")
        printf '%-34s %10.2f %10s %12s %8s\n' "  the same, EMOFS_OLD" "$o" "$(rate "$o")" \
            "$(rate "$ref") sha" "$(ratio "$ref" "$o")"
        printf '%-34s %10s %10s %12s %8s\n' "  speed, this / EMOFS_OLD" "" "" "" "$(ratio "$o" "$t")"
    fi
done
echo "$get_line"
[ -n "$OLD" ] && echo "$old_get_line"
echo "(medians of $ROUNDS, interleaved: $ROUNDS x openssl (cat for the get), this emofs${OLD:+, EMOFS_OLD})"
[ -n "${BENCH_LOCAL_ONLY:-}" ] && exit 0 # the local puts only

echo "== 8 daemons on 127.0.0.1"
net_start n1
for i in 2 3 4 5 6 7 8; do net_start n$i "${NET_ADDR[n1]}"; done
sleep 0.5
t=$(secs "$EMOFS" put -q "$T/random.bin" --data "$T/n1")
KEY=$("$EMOFS" ls --data "$T/n1" | tail -1 | cut -c1-64)
[ -n "$KEY" ] || { echo "the put into 8 daemons failed (value stores full: issue 11)"; exit 1; }
printf '%-34s %10.2f %10s\n' "put random, 8 nodes (7 replicas)" "$t" "$(rate "$t")"
cat "$T/random.bin" >/dev/null
ref=$(secs cat "$T/random.bin")
t=$(secs "$EMOFS" get -q "$KEY" -o "$T/got.bin" --data "$T/n5")
cmp -s "$T/random.bin" "$T/got.bin" || { echo "get returned other bytes"; exit 1; }
printf '%-34s %10.2f %10s %12s %8s\n' "get random, 8 nodes" "$t" "$(rate "$t")" \
    "$(rate "$ref") cat" "$(ratio "$ref" "$t")"
