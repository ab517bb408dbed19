#!/bin/bash
# A full daemon shares its quota fairly (issue 13 item 4): one source
# (here a daemon on 127.0.0.66 putting far more than the network's quotas)
# fills at most its share of each daemon and never pushes out the copies
# of others (the daemons on 127.0.0.1). Before: the flood filled every
# quota and the daemons refused honest copies of keys farther than the
# flood's. The sources survive kill -9 and a restart (DIR/replicas/
# records), and a log of an older emofs (DIR/replicas/expiry, without
# them) is read and replaced.
. "$(dirname "$0")/lib.sh"

for n in d1 d2 d3 a; do
    mkdir -p "$T/$n"
    echo "store_max 16M" >"$T/$n/config"
done
net_start d1
for n in d2 d3; do net_start $n "${NET_ADDR[d1]}"; done
net_start a "${NET_ADDR[d1]}" 127.0.0.66:0
sleep 0.3

# fewest LOG: the fewest nodes that took a piece of the put ("fewest F").
fewest() { sed -n 's/.*(fewest \([0-9]*\)).*/\1/p' "$1"; }
# sources DIR HEX: records of DIR's replica log whose source ends with HEX.
sources() {
    od -An -v -tx1 -w64 "$1/replicas/records" | tr -d ' ' | grep -c "$2\$" || true
}

head -c 18000000 /dev/urandom >"$T/flood1.bin"
"$EMOFS" put "$T/flood1.bin" --data "$T/a" >/dev/null 2>"$T/flood1.log" || true
for n in d2 d3; do
    used=$(du -sm "$T/$n/replicas/blobs" | cut -f1)
    check "the flood filled $n's quota: $used MiB of replicas" test "$used" -ge 15
done

head -c 3000000 /dev/urandom >"$T/honest.bin"
KEY=$("$EMOFS" put "$T/honest.bin" --data "$T/d1" 2>"$T/honest.log")
check "an honest put into full daemons: each piece on 3 nodes or more (fewest $(fewest "$T/honest.log"))" \
    test "$(fewest "$T/honest.log")" -ge 3

# kill -9 and restart d2: it knows who stored what.
kill -9 "${NET_PID[d2]}"
wait "${NET_PID[d2]}" 2>/dev/null || true
net_start d2 "${NET_ADDR[d1]}"
check "d2's log names the flood's source, ::ffff:127.0.0.66 ($(sources "$T/d2" ffff7f000042) records)" \
    test "$(sources "$T/d2" ffff7f000042)" -gt 0
check "and 127.0.0.1's ($(sources "$T/d2" ffff7f000001) records)" \
    test "$(sources "$T/d2" ffff7f000001)" -gt 0

# More flood after the restart: the honest copies stay where they are.
head -c 6000000 /dev/urandom >"$T/flood2.bin"
"$EMOFS" put "$T/flood2.bin" --data "$T/a" >/dev/null 2>"$T/flood2.log" || true
# The others go at once (kill -9): a graceful stop hands their copies,
# flood copies among them, to d2 from 127.0.0.1's address, which then
# count in the honest source's share and may push its own copies out (a
# known weakness of source accounting under hand-over; this test is of the
# flood alone).
for n in d1 d3 a; do
    kill -9 "${NET_PID[$n]}" 2>/dev/null || true
    wait "${NET_PID[$n]}" 2>/dev/null || true
done
"$EMOFS" get "$KEY" -o "$T/back.bin" -q --data "$T/d2" >/dev/null 2>"$T/get.log" || true
check "d2 alone, after the second flood, still serves the whole honest file" \
    cmp -s "$T/honest.bin" "$T/back.bin"

# A log from an older emofs (48-byte records, no source) is read and replaced.
held_before=$("$EMOFS" status --json --data "$T/d2" | sed -n 's/.*"values":\([0-9]*\).*/\1/p')
net_stop d2
perl -e 'local $/ = \64; while (<>) { print substr($_, 0, 48) }' "$T/d2/replicas/records" \
    >"$T/d2/replicas/expiry"
rm "$T/d2/replicas/records"
: >"$T/d2.log"
net_start d2
held_after=$(sed -n 's/.*holding \([0-9]*\) replicas.*/\1/p' "$T/d2.log" | tail -1)
check "an older log is read: d2 holds $held_after replicas (before: $held_before)" \
    test -n "$held_after" -a "$held_after" = "$held_before"
check "and replaced by DIR/replicas/records" \
    test -s "$T/d2/replicas/records" -a ! -e "$T/d2/replicas/expiry"
finish
