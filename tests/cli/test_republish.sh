#!/bin/bash
# Republish (issue 11, item 3): a daemon stores the files it published again
# every republish_interval, so their copies outlive their TTL while it runs;
# once it stops, the copies expire with their TTL (replication passes on
# what is left of it, never more). Here the TTL is 6 s (DIR/config's ttl)
# and the publisher republishes every 2 s.
. "$(dirname "$0")/lib.sh"

held() { "$EMOFS" status --json --data "$1" | sed -n 's/.*"values":\([0-9]*\).*/\1/p'; }

mkdir -p "$T/r1"
printf 'ttl 6\nrepublish_interval 2\n' >"$T/r1/config"
net_start r1
net_start r2 "${NET_ADDR[r1]}"
net_start r3 "${NET_ADDR[r1]}"
sleep 0.3
check "the publisher says how often it republishes" \
    log_has "$T/r1.log" "republishing the files published here every 2 s"
head -c 1000000 /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put -q "$T/f.bin" --data "$T/r1")
n=$(held "$T/r2")
check "r2 holds the file's pieces: $n" test "$n" -gt 0
sleep 10
check "10 s later (TTL 6 s) r2 still holds them: $(held "$T/r2")" test "$(held "$T/r2")" -eq "$n"
check "  the publisher logged its republishes" grep -q "republished [1-9][0-9]* blobs" "$T/r1.log"
check "  and DIR/republished holds when it last did" \
    bash -c "[ \$(cat '$T/r1/republished') -ge \$(( \$(date +%s) - 5 )) ]"
net_stop r1
check "  a stopped publisher logs no error" bash -c "! grep -q 'republish failed' '$T/r1.log'"
"$EMOFS" get "$KEY" -o "$T/got.bin" -q --data "$T/r3" >/dev/null
check "with the publisher gone, the file is still got at once" cmp -s "$T/f.bin" "$T/got.bin"
for _ in $(seq 1 100); do [ "$(held "$T/r2")" -eq 0 ] && break; sleep 0.1; done
check "and once nobody republishes, its copies expire with their TTL ($(held "$T/r2") left)" \
    test "$(held "$T/r2")" -eq 0

# A file put with --copies keeps that many copies when republished: the
# republish stores each chunk on the copies DIR/published recorded for its
# file (here 1 of 3 nodes), not on the node's setting (8: every node).
mkdir -p "$T/c1"
printf 'republish_interval 2\n' >"$T/c1/config"
net_start c1
net_start c2 "${NET_ADDR[c1]}"
net_start c3 "${NET_ADDR[c1]}"
sleep 0.3
head -c 2000000 /dev/urandom >"$T/c.bin"
KEY=$("$EMOFS" put -q --copies 1 "$T/c.bin" --data "$T/c1")
check "DIR/published records the put's copies" grep -q "^$KEY [0-9]*/1 c.bin\$" "$T/c1/published"
republished() { grep -c "republished" "$T/c1.log" || true; }
before=$(republished)
for _ in $(seq 1 100); do [ "$(republished)" -gt "$before" ] && break; sleep 0.1; done
check "the republish stored its chunks on 1 node each: $(grep "republished" "$T/c1.log" | tail -1)" \
    bash -c "grep 'republished' '$T/c1.log' | tail -1 | grep -q 'on 1 nodes (fewest 1)'"

# Bad values are usage errors.
mkdir -p "$T/bad"
echo "ttl 0" >"$T/bad/config"
expect 2 "ttl 0 in DIR/config" "$EMOFS" daemon --data "$T/bad"
expect 2 "--republish-interval later" "$EMOFS" daemon --data "$T/bad2" --republish-interval later
finish
