#!/bin/bash
# The network keeps files (issue 11, item 6): 20 daemons replicating every
# 10 s, 5 files of 8-20 MiB put through one. kill -9 five other daemons,
# then the publisher: every file is got byte-identical through three
# survivors, and replication puts every piece back on min(copies, live)
# nodes (8 of the 14 left); the killed daemons, restarted on their data
# directories, hold and serve what they held.
. "$(dirname "$0")/lib.sh"

INTERVAL=10
COPIES=8
fewest_of() { sed -En 's/.*, on ([0-9]+) nodes? \(fewest ([0-9]+)\)$/\2/p' "$1"; }

for i in $(seq 1 20); do
    mkdir -p "$T/d$i"
    echo "replicate_interval $INTERVAL" >"$T/d$i/config"
done
net_start d1
for i in $(seq 2 20); do net_start d$i "${NET_ADDR[d$(((i - 2) / 5 + 1))]}"; done
sleep 1

# Under the sanitizers (make check: every daemon several times slower, 20
# of them on two cores) the same test moves a quarter of the bytes: at
# full size the daemons, swamped, left requests unanswered for seconds.
SIZES="8 11 14 17 20"
[ -n "${EMOFS_SANITIZED:-}" ] && SIZES="2 3 4 5 6"
# There too, a STORE to a swamped daemon may outlast its timeout and the
# put says so ("fewest 7"): 1 put in 3 runs did at 5bdcad8 as well. The
# put must then have reached all but one; the repair checked below puts
# every piece back on 8 anyway.
FEWEST=$COPIES
[ -n "${EMOFS_SANITIZED:-}" ] && FEWEST=$((COPIES - 1))
KEYS=()
n=0
for mib in $SIZES; do
    n=$((n + 1))
    head -c $((mib << 20)) /dev/urandom >"$T/f$n.bin"
    KEYS[n]=$("$EMOFS" put "$T/f$n.bin" --data "$T/d1" 2>"$T/put$n.err")
    check "put of $mib MiB through d1: every chunk on $FEWEST to $COPIES nodes ($(cat "$T/put$n.err"))" \
        test "$(fewest_of "$T/put$n.err")" -ge "$FEWEST"
done

# What each victim has on disk when it dies: it is frozen first, so that no
# replication STORE lands between the count and the kill.
declare -A BEFORE
stopped() { # every thread of process $1 is stopped
    ! awk '{ print $3 }' /proc/"$1"/task/*/stat 2>/dev/null | grep -qv '^[Tt]$'
}
for i in 2 3 4 5 6; do
    kill -STOP "${NET_PID[d$i]}"
    # kill returns before the signal lands: wait until it is stopped.
    for _ in $(seq 1 100); do stopped "${NET_PID[d$i]}" && break; sleep 0.01; done
    BEFORE[d$i]=$(blob_count "$T/d$i/replicas")
    kill -9 "${NET_PID[d$i]}"
done
for i in 2 3 4 5 6; do wait "${NET_PID[d$i]}" 2>/dev/null || true; done
kill -9 "${NET_PID[d1]}"
wait "${NET_PID[d1]}" 2>/dev/null || true
killed_at=$(date +%s.%N)
echo "     killed d2..d6 (holding ${BEFORE[*]} replicas on disk), then the publisher d1"

for s in d7 d13 d20; do
    for n in 1 2 3 4 5; do
        rm -f "$T/got.bin"
        "$EMOFS" get "${KEYS[n]}" -o "$T/got.bin" -q --data "$T/$s" >/dev/null 2>"$T/get.err" || true
        check "file $n through survivor $s is byte-identical $(cat "$T/get.err")" \
            cmp -s "$T/f$n.bin" "$T/got.bin"
    done
done

# Repair: poll until every piece of every file is on COPIES live nodes.
repaired() {
    local k out
    for k in "${KEYS[@]}"; do
        out=$("$EMOFS" health "$k" --json --data "$T/d9" 2>/dev/null) || return 1
        [ "$(sed -n 's/.*"copies_fewest":\([0-9]*\).*/\1/p' <<<"$out")" -ge "$COPIES" ] || return 1
    done
}
ok_at=""
for _ in $(seq 1 $((INTERVAL * 4))); do
    if repaired; then
        ok_at=$(date +%s.%N)
        break
    fi
    sleep 1
done
took=$([ -n "$ok_at" ] && awk "BEGIN{printf \"%.1f\", $ok_at - $killed_at}" || echo never)
check "every piece back on $COPIES live nodes, $took s after the kills (interval $INTERVAL s)" \
    test -n "$ok_at"
for k in "${KEYS[@]}"; do
    echo "     $("$EMOFS" health "$k" --data "$T/d9")"
done

for i in 2 3 4 5 6; do
    net_start d$i "${NET_ADDR[d7]}"
    check "restarted d$i holds the ${BEFORE[d$i]} replicas it had on disk" \
        log_has "$T/d$i.log" "holding ${BEFORE[d$i]} replicas"
done
rm -f "$T/got.bin"
"$EMOFS" get "${KEYS[1]}" -o "$T/got.bin" -q --data "$T/d2" >/dev/null
check "a get through restarted d2 is byte-identical" cmp -s "$T/f1.bin" "$T/got.bin"

# The restarted holders remember each value's copies (8, in their expiry
# logs): their next checks add no copies beyond the 8 closest. Had they
# forgotten it (k = 20), most pieces would spread to all 19 live nodes.
sleep $((INTERVAL + 3))
median=$("$EMOFS" health "${KEYS[5]}" --json --data "$T/d9" |
    sed -n 's/.*"copies_median":\([0-9]*\).*/\1/p')
check "one interval after the restarts, a median of $median holders (8, plus old copies; 19 had they forgotten)" \
    test "${median:-99}" -le 15
finish
