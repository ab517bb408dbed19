#!/bin/bash
# Peers survive a restart: daemons on 127.0.0.1 save their peers in
# DIR/peers (on a clean stop, and every EMOFS_TEST_PEERS_SAVE_MS here
# instead of 5 minutes), and one restarted with no --bootstrap and no
# config rejoins through them and gets a file put before. Without the file
# it starts alone; a damaged file is said once in the log and ignored.
. "$(dirname "$0")/lib.sh"

# live NAME: the live peers `emofs status` shows for daemon NAME (0 if none).
live() {
    "$EMOFS" status --data "$T/$1" | sed -n 's/^peers .*(\([0-9]*\) live.*/\1/p' | grep . || echo 0
}

# wait_live NAME: waits up to 5 s for daemon NAME to have a live peer.
wait_live() {
    for _ in $(seq 1 50); do
        [ "$(live "$1")" -gt 0 ] && return 0
        sleep 0.1
    done
    return 1
}

net_start p1
net_start p2 "${NET_ADDR[p1]}"
net_start p3 "${NET_ADDR[p1]}"
head -c 300000 /dev/urandom >"$T/a.bin"
head -c 1000 /dev/urandom >"$T/b.bin"
KEY=$("$EMOFS" put "$T/a.bin" --data "$T/p1" -q | tail -1)
check "put through p1" test "${#KEY}" -eq 64
# p2's own put has it hear answers from p1 and p3: both worth saving.
"$EMOFS" put "$T/b.bin" --data "$T/p2" -q >/dev/null
check "status: peers known and how many are live" \
    grep -Eq '^peers +2 \(2 live, 0 not heard from lately\)$' <("$EMOFS" status --data "$T/p2")

# A clean stop saves the peers.
P2=${NET_ADDR[p2]}
net_stop p2
check "a stopped daemon leaves DIR/peers" test -s "$T/p2/peers"
check "  a peer list of 2 IPv4 peers (7 + 2 x 39 bytes, magic EMPL)" \
    bash -c "[ \$(stat -c %s '$T/p2/peers') -eq 85 ] && head -c 4 '$T/p2/peers' | grep -q EMPL"
check "  no temporary file left" test ! -e "$T/p2/peers.tmp"
check "  the log says so" grep -q "saved 2 peers to $T/p2/peers" "$T/p2.log"

# Without the file, a restart with no bootstrap starts alone, and writes
# no empty list when it stops. It listens on a new port here: at its old
# address p1 and p3 may contact it (a retry, a refresh), and a daemon that
# hears from a peer rightly knows it.
mv "$T/p2/peers" "$T/p2.saved"
head -c 200000 /dev/urandom >"$T/c.bin"
KEY_C=$("$EMOFS" put "$T/c.bin" --data "$T/p1" -q | tail -1)
net_start p2
check "without DIR/peers: no peer" test "$(live p2)" -eq 0
# A file put while p2 was away is not found: it has no peer to ask. (The
# file put before is: p2 keeps the copies it held, DIR/replicas.)
set +e
"$EMOFS" get "$KEY_C" -o "$T/alone.bin" --data "$T/p2" -q >/dev/null 2>&1
rc=$?
set -e
check "  and a file put meanwhile is not found (exit $rc)" test "$rc" -eq 4
"$EMOFS" get "$KEY" -o "$T/kept.bin" --data "$T/p2" -q >/dev/null
check "  one put before is, from the copies it kept" cmp -s "$T/a.bin" "$T/kept.bin"
net_stop p2
check "  a daemon with no peer writes no list" test ! -e "$T/p2/peers"

# With the file: rejoined, and the file put through p1 is found.
mv "$T/p2.saved" "$T/p2/peers"
net_start p2 "" "$P2"
check "restarted with no --bootstrap: live peers again" wait_live p2
check "  the log says it pinged the saved peers" log_has "$T/p2.log" "pinging the peers saved in"
"$EMOFS" get "$KEY_C" -o "$T/got.bin" --data "$T/p2" -q >/dev/null
check "  a get through it finds the file put while it was away" cmp -s "$T/c.bin" "$T/got.bin"
for _ in $(seq 1 50); do grep -q "rejoined through the saved peers" "$T/p2.log" && break; sleep 0.1; done
check "  the log says it rejoined" grep -q "rejoined through the saved peers" "$T/p2.log"

# Saved while running: a daemon killed with -9 rejoins too.
export EMOFS_TEST_PEERS_SAVE_MS=200
net_start p4 "${NET_ADDR[p1]}"
unset EMOFS_TEST_PEERS_SAVE_MS
for _ in $(seq 1 50); do [ -s "$T/p4/peers" ] && break; sleep 0.1; done
check "a running daemon saves its peers on its timer" test -s "$T/p4/peers"
P4=${NET_ADDR[p4]}
kill -9 "${NET_PID[p4]}"
wait "${NET_PID[p4]}" 2>/dev/null || true
net_start p4 "" "$P4"
check "killed with -9 and restarted with no --bootstrap: live peers again" wait_live p4

# A damaged file: the daemon starts anyway, says so in one line, ignores it.
P3=${NET_ADDR[p3]}
net_stop p3
check "p3 saved its peers too" test -s "$T/p3/peers"
echo "not a peer list" >"$T/p3/peers"
net_start p3 "" "$P3"
check "a damaged DIR/peers: the daemon starts" bash -c "'$EMOFS' status --data '$T/p3' >/dev/null"
check "  one log line says it is ignored" \
    test "$(grep -c "/peers" "$T/p3.log")" -eq 1 -a \
    "$(grep -c "warn  ignoring $T/p3/peers: not a peer list" "$T/p3.log")" -eq 1
net_stop p3
head -c 20000 /dev/zero >"$T/p3/peers"
net_start p3 "" "$P3"
check "a DIR/peers too large for a list: one line too" \
    test "$(grep -c "ignoring $T/p3/peers: too large" "$T/p3.log")" -eq 1

# A peer killed with -9 is counted apart once it has left requests
# unanswered: p2's puts ask it (every node is among the closest here).
stale() {
    "$EMOFS" status --data "$T/p2" | sed -n 's/^peers .*, \([0-9]*\) not heard from lately.*/\1/p' | grep . || echo 0
}
check "p2 has live peers ($(live p2))" test "$(live p2)" -ge 2
before=$(stale)
kill -9 "${NET_PID[p4]}"
wait "${NET_PID[p4]}" 2>/dev/null || true
for i in 1 2 3 4; do
    head -c 3000 /dev/urandom >"$T/s$i.bin"
    "$EMOFS" put "$T/s$i.bin" --data "$T/p2" -q >/dev/null
    [ "$(stale)" -gt "$before" ] && break
done
check "status: the killed peer is not heard from lately ($before before, $(stale) after)" \
    test "$(stale)" -gt "$before"
finish
