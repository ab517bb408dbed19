#!/bin/bash
# Client nodes (issue 9): 50 one-shot `emofs get --bootstrap` runs, each an
# embedded node that joins, fetches and exits, pass through a 10-daemon
# network on 127.0.0.1 and leave every daemon's routing table holding only
# daemons; a put afterwards still works at once. (Timings are printed, not
# asserted: make bench measures speed.)
. "$(dirname "$0")/lib.sh"

net_start d1
for i in $(seq 2 10); do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.5

peers() { "$EMOFS" status --json --data "$T/$1" | sed -n 's/.*"peers":\([0-9]*\).*/\1/p'; }

head -c 5000 /dev/urandom >"$T/small.bin"
t0=$(date +%s.%N)
KEY=$("$EMOFS" put "$T/small.bin" --data "$T/d2" -q | tail -1)
t1=$(date +%s.%N)
check "put through a daemon prints a key" test "${#KEY}" -eq 64
echo "     put before the clients: $(awk "BEGIN{print $t1 - $t0}") s"

fails=0
for i in $(seq 1 50); do
    boot=${NET_ADDR[d$((i % 10 + 1))]}
    "$EMOFS" get "$KEY" -o "$T/got$i.bin" --data "$T/c$i" --bootstrap "$boot" -q >/dev/null 2>&1 ||
        fails=$((fails + 1))
    cmp -s "$T/small.bin" "$T/got$i.bin" || fails=$((fails + 1))
done
check "50 embedded gets through the network, all byte-identical ($fails failed)" test "$fails" -eq 0

for i in $(seq 1 10); do
    n=$(peers d$i)
    check "daemon d$i knows only daemons: $n peers (at most 9)" test "$n" -le 9
done

head -c 5000 /dev/urandom >"$T/small2.bin"
t0=$(date +%s.%N)
KEY2=$("$EMOFS" put "$T/small2.bin" --data "$T/d3" -q | tail -1)
t1=$(date +%s.%N)
check "a put after the clients prints a key" test "${#KEY2}" -eq 64
echo "     put after the clients: $(awk "BEGIN{print $t1 - $t0}") s"
"$EMOFS" get "$KEY2" -o "$T/got-after.bin" --data "$T/d7" -q >/dev/null
check "and is got through another daemon" cmp -s "$T/small2.bin" "$T/got-after.bin"

# How many nodes took a put (issue 11), through a daemon (which keeps one
# of the copies) and embedded (a client keeps none): with 10 daemons,
# every chunk on exactly 8 (the default copies; manifest nodes go on all
# 10), in the summary and in --json; a node
# without peers says the file stayed with it. (Before a put's lookups
# waited for nodes slower than the adaptive timeout, most such puts left
# some piece on one node: libdht/lookup.c, "patient".)
copies_ok() { # fewest median
    [ "$1" -eq 8 ] && [ "$2" -eq 8 ]
}
head -c 3000000 /dev/urandom >"$T/mid.bin" # about a dozen chunks
"$EMOFS" put "$T/mid.bin" --data "$T/d4" 2>"$T/put-d.err" >/dev/null
line=$(cat "$T/put-d.err")
median=$(sed -En 's/.*, on ([0-9]+) nodes? \(fewest ([0-9]+)\)$/\1/p' <<<"$line")
fewest=$(sed -En 's/.*, on ([0-9]+) nodes? \(fewest ([0-9]+)\)$/\2/p' <<<"$line")
check "a put through a daemon says on how many nodes: $line" copies_ok "${fewest:-0}" "${median:-0}"
"$EMOFS" put "$T/mid.bin" --json --data "$T/e-put" --bootstrap "${NET_ADDR[d5]}" >"$T/put-e.json"
json=$(cat "$T/put-e.json")
fewest=$(sed -En 's/.*"copies_fewest":([0-9]+),.*/\1/p' <<<"$json")
median=$(sed -En 's/.*"copies_median":([0-9]+),.*/\1/p' <<<"$json")
check "an embedded put says so in --json: $json" copies_ok "${fewest:-0}" "${median:-0}"
"$EMOFS" put "$T/mid.bin" --data "$T/alone" 2>"$T/put-a.err" >/dev/null
check "a node without peers says the file stayed on it" \
    grep -q 'on this node only (no peers known)$' "$T/put-a.err"
finish
