#!/bin/bash
# emofs stop: the daemon of a data directory stops (its peers saved, its
# lock and socket released), the command waits for it and exits 0; with no
# daemon it says so and exits 0; bad arguments are usage errors.
. "$(dirname "$0")/lib.sh"

# gone PID: the process has exited (a zombie not yet reaped by this shell
# counts: it let go of everything), waiting up to 5 s for its last steps.
gone() {
    local state
    for _ in $(seq 1 50); do
        state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
        [ -z "$state" ] || [ "$state" = Z ] && return 0
        sleep 0.1
    done
    return 1
}

net_start a
net_start b "${NET_ADDR[a]}"
sleep 0.3

out=$("$EMOFS" stop --data "$T/b")
check "stop prints what it did ($out)" test "$out" = "stopped the daemon on $T/b"
check "  the daemon process is gone" gone "${NET_PID[b]}"
check "  it saved its peers on the way out" test -s "$T/b/peers"
check "  and left no socket behind" test ! -e "$T/b/emofs.sock"
check "  its log ends with: stopped" bash -c "tail -1 '$T/b.log' | grep -q 'stopped$'"

out=$("$EMOFS" stop --data "$T/b")
check "stop with no daemon says so and exits 0 ($out)" test "$out" = "no daemon runs on $T/b"

expect 2 "stop with an unknown option" "$EMOFS" stop --data "$T/a" --frob
expect 2 "stop with an option it does not take" "$EMOFS" stop --listen 127.0.0.1:0 --data "$T/a"
check "the other daemon still runs" kill -0 "${NET_PID[a]}"

"$EMOFS" stop --data=$T/a >/dev/null
check "stop --data=DIR works too" gone "${NET_PID[a]}"

# A graceful leave (issue 11): a stopping daemon first hands the copies it
# holds to the nodes that lack them. g5 joins after the put, so it lacks
# every piece until g2 leaves: no replication runs here (replicate_interval
# 0), so neither the holders' checks nor their offers to a node that joins
# (hand-over) give it any.
replicas() {
    { find "$1/replicas/blobs" -type f -not -path "$1/replicas/blobs/tmp/*" 2>/dev/null ||
        true; } | wc -l
}
for i in 1 2 3 4 5; do mkdir -p "$T/g$i" && echo "replicate_interval 0" >"$T/g$i/config"; done
net_start g1
for i in 2 3 4; do net_start g$i "${NET_ADDR[g1]}"; done
sleep 0.3
head -c 2000000 /dev/urandom >"$T/g.bin"
"$EMOFS" put -q "$T/g.bin" --data "$T/g1" >/dev/null
net_start g5 "${NET_ADDR[g1]}"
sleep 0.5
held=$(replicas "$T/g3")
check "g5, joined after the put, holds none of its $held pieces yet ($(replicas "$T/g5"))" \
    test "$(replicas "$T/g5")" -eq 0 -a "$held" -gt 0
out=$("$EMOFS" stop --data "$T/g2")
check "stop on a holder: $out" test "$out" = "stopped the daemon on $T/g2"
check "  its log says it handed its copies over" grep -Eq "handed [1-9][0-9]* copies over" "$T/g2.log"
check "  and g5 holds them now ($(replicas "$T/g5") of $held)" test "$(replicas "$T/g5")" -ge "$held"
out=$("$EMOFS" stop --now --data "$T/g3")
check "stop --now: $out" test "$out" = "stopped the daemon on $T/g3"
check "  the daemon is gone" gone "${NET_PID[g3]}"
finish
