#!/bin/bash
# make bench, dead nodes (issue 9): 20 daemons on 127.0.0.1; puts and gets
# of small files (4 KiB) through the daemons, timed one by one; then 5
# daemons are killed with kill -9 (they say goodbye to nobody) and the
# same is timed again at once, twice: in the first round every daemon meets
# the dead for the first time (a get waits one adaptive timeout for them; so
# does a put, whose chunk's lookup waits for late nodes among the closest,
# the ones that keep the file; its manifest's lookup finds them marked slow
# and does not wait again), in the second it knows them slow. Prints the medians, the ratios after /
# healthy and the slowest operation of each round.
set -euo pipefail

EMOFS=$(realpath "${EMOFS:-build/emofs}")
ROUNDS=${BENCH_ROUNDS:-15}
T=$(mktemp -d /var/tmp/emofs-bench.XXXXXX)
NET_DIR=$T
. "$(dirname "$0")/../../tool/local_net.sh"
trap 'net_stop_all; rm -rf "$T"' EXIT

ms() { # ms command...: wall milliseconds of the command, output discarded
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
maxof() { tr ' ' '\n' | grep . | sort -n | tail -1; }

net_start d1
for i in $(seq 2 20); do net_start d$i "${NET_ADDR[d1]}"; done
sleep 1

# phase NAME: ROUNDS puts (through daemon 1..15 in turn) and gets of the
# file put just before (through another of them); sets PUTS and GETS.
phase() {
    PUTS="" GETS=""
    for r in $(seq 1 "$ROUNDS"); do
        head -c 4096 /dev/urandom >"$T/f.bin"
        local via=d$((r % 15 + 1)) from=d$(((r + 7) % 15 + 1))
        PUTS="$PUTS $(ms "$EMOFS" put -q "$T/f.bin" --data "$T/$via")"
        local key
        key=$("$EMOFS" ls --data "$T/$via" | tail -1 | cut -c1-64)
        rm -f "$T/got.bin"
        GETS="$GETS $(ms "$EMOFS" get "$key" -o "$T/got.bin" --data "$T/$from" -q)"
        cmp -s "$T/f.bin" "$T/got.bin" || echo "get $r returned other bytes" >&2
    done
}

phase
hp=$(echo "$PUTS" | median) hg=$(echo "$GETS" | median)
for i in 16 17 18 19 20; do
    kill -9 "${NET_PID[d$i]}"
    wait "${NET_PID[d$i]}" 2>/dev/null || true # without the shell's "Killed" notice
done
sleep 0.2
ratio() { awk -v a="$1" -v h="$2" 'BEGIN { printf "%.2f", a / h }'; }
printf '%-44s %8s %8s %6s %8s\n' "20 daemons, 5 killed (kill -9), 4 KiB files" "healthy" "after" "ratio" "slowest"
for round in "first op on each daemon" "second op on each daemon"; do
    phase
    ap=$(echo "$PUTS" | median) ag=$(echo "$GETS" | median)
    mp=$(echo "$PUTS" | maxof) mg=$(echo "$GETS" | maxof)
    printf '%-44s %5s ms %5s ms %6s %5s ms\n' "put, median of $ROUNDS ($round)" "$hp" "$ap" \
        "$(ratio "$ap" "$hp")" "$mp"
    printf '%-44s %5s ms %5s ms %6s %5s ms\n' "get, median of $ROUNDS ($round)" "$hg" "$ag" \
        "$(ratio "$ag" "$hg")" "$mg"
done
