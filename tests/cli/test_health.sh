#!/bin/bash
# emofs health KEY (issue 11, item 4): how many nodes hold each piece of a
# file, through a daemon and embedded; fewer once holders stop; exit 4
# when a piece has no holder left, or the key is unknown.
. "$(dirname "$0")/lib.sh"

net_start d1
for i in 2 3 4 5; do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.3
head -c 3000000 /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put -q "$T/f.bin" --data "$T/d1")

out=$("$EMOFS" health "$KEY" --data "$T/d2")
check "through a daemon: every piece on all 5 nodes ($out)" \
    grep -Eq "^$KEY: [0-9]+ pieces, each on at least 5 nodes \(median 5\)$" <<<"$out"
json=$("$EMOFS" health "$KEY" --json --data "$T/e1" --bootstrap "${NET_ADDR[d3]}")
check "embedded, --json: $json" \
    grep -Eq '"missing":0,"copies_fewest":5,"copies_median":5' <<<"$json"

net_stop d3
net_stop d4
out=$("$EMOFS" health "$KEY" --data "$T/d2")
check "two holders stopped: at least 3 ($out)" grep -q "each on at least 3 nodes" <<<"$out"

# Only the publisher left, and one of its chunks gone: that piece has no holder.
net_stop d2
net_stop d5
victim=$(find "$T/d1/blobs" -type f -not -path "$T/d1/blobs/tmp/*" -not -name "$KEY" | head -1)
rm -f "$victim"
set +e
out=$("$EMOFS" health "$KEY" --data "$T/d1" 2>"$T/err.txt")
rc=$?
set -e
check "a piece with no holder: exit 4 ($rc)" test "$rc" -eq 4
check "  and says so ($out)" grep -Eq "^$KEY: 1 of [0-9]+ pieces on no node" <<<"$out"

expect 4 "an unknown key" "$EMOFS" health \
    0000000000000000000000000000000000000000000000000000000000000001 --data "$T/d1"
expect 2 "no KEY" "$EMOFS" health --data "$T/d1"
expect 2 "a malformed KEY" "$EMOFS" health xyz --data "$T/d1"
finish
