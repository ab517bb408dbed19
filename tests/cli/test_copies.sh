#!/bin/bash
# Copies (issue 11, item 3): how many nodes keep each chunk is a per-put
# setting, `emofs put --copies N` (default 8, config `copies`); manifest
# nodes stay on every one of the k closest. A node whose quota is full
# refuses, and the put goes on to the next closest, so a file larger than
# one node's quota still lands on N nodes.
. "$(dirname "$0")/lib.sh"

# held DIR: values the node says it holds for the network.
held() { "$EMOFS" status --json --data "$1" | sed -n 's/.*"values":\([0-9]*\).*/\1/p'; }
# copies_of FILE: the fewest copies in a put's summary line (stderr).
copies_of() { sed -En 's/.*, on ([0-9]+) nodes? \(fewest ([0-9]+)\)$/\2/p' "$1"; }

for i in $(seq 1 10); do
    mkdir -p "$T/d$i"
    echo "store_max 16M" >"$T/d$i/config"
done
net_start d1
for i in $(seq 2 10); do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.5

expect 2 "--copies 0" "$EMOFS" put "$T/d1/config" --copies 0 --data "$T/d1"
expect 2 "--copies 21 (above k)" "$EMOFS" put "$T/d1/config" --copies 21 --data "$T/d1"
expect 2 "--copies x" "$EMOFS" put "$T/d1/config" --copies x --data "$T/d1"
expect 2 "--copies with no value" "$EMOFS" put "$T/d1/config" --copies
echo "copies 0" >"$T/bad.config"
mkdir -p "$T/badcfg" && cp "$T/bad.config" "$T/badcfg/config"
expect 2 "config copies 0" "$EMOFS" daemon --data "$T/badcfg"

# --copies 3: each chunk on exactly 3 nodes, through a daemon and embedded.
head -c 3000000 /dev/urandom >"$T/three.bin"
KEY=$("$EMOFS" put "$T/three.bin" --copies 3 --data "$T/d1" 2>"$T/put3.err")
check "a put through a daemon with --copies 3: fewest 3 ($(cat "$T/put3.err"))" \
    test "$(copies_of "$T/put3.err")" = 3
total=0
for i in $(seq 2 10); do total=$((total + $(held "$T/d$i"))); done
pieces=$("$EMOFS" health "$KEY" --json --data "$T/d2" | sed -n 's/.*"pieces":\([0-9]*\).*/\1/p')
# The chunks on 3 nodes each (the publisher's own 3 among them, or not),
# the manifest node on all: at most 3 per chunk among the 9 others.
check "its chunks are held by 3 nodes each, not by all 10 ($total values held by the others, $pieces pieces)" \
    test "$total" -le $((3 * (pieces - 1) + 9)) -a "$total" -ge $((2 * (pieces - 1)))
head -c 2000000 /dev/urandom >"$T/two.bin"
"$EMOFS" put "$T/two.bin" --copies 2 --json --data "$T/e1" --bootstrap "${NET_ADDR[d3]}" \
    >"$T/put2.json"
check "an embedded put with --copies 2: $(cat "$T/put2.json")" \
    grep -q '"copies_fewest":2,' "$T/put2.json"

# A file larger than a node's quota (16M), with room in the network
# (10 x 16M for 6 x 23 MiB): most nodes fill up and refuse the rest, the
# put goes on to the next closest, and every chunk is on at least 3 nodes.
head -c 24000000 /dev/urandom >"$T/big.bin"
BIG=$("$EMOFS" put "$T/big.bin" --copies 6 --data "$T/d1" 2>"$T/putbig.err")
check "a put of 24 MB, more than one node's quota of 16M, succeeds: $(cat "$T/putbig.err")" \
    test "${#BIG}" -eq 64
out=$("$EMOFS" health "$BIG" --data "$T/d5")
check "  and every chunk is on at least 3 nodes: $out" grep -Eq "each on at least ([3-9]|10) nodes" <<<"$out"
for i in $(seq 2 10); do
    b=$(find "$T/d$i/replicas/blobs" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    check "  d$i keeps within its quota: $b bytes" test "$b" -le $((16 << 20))
done
net_stop d1
"$EMOFS" get "$BIG" -o "$T/big.got" -q --data "$T/e2" --bootstrap "${NET_ADDR[d7]}" >/dev/null
check "  and is got back byte-identical with its publisher gone" cmp -s "$T/big.bin" "$T/big.got"
finish
