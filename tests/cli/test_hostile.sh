#!/bin/bash
# A hostile peer against real daemons on 127.0.0.1 (issue 13). Amplification
# (item 2): floods of requests from one UDP port that never proved its
# address, as small as the wire allows, GET_VALUEs of a large replica
# among them, draw no more bytes back to that port (by datagram or by
# stream) than the port sent; honest puts and gets still work after.
. "$(dirname "$0")/lib.sh"

PROBE=$(realpath "${EMOFS_TOOLS:-build/tools}/dht_probe")

net_start d1
for i in 2 3; do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.3

head -c 3000000 /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put -q "$T/f.bin" --data "$T/d1")
check "put through d1 prints a key" test "${#KEY}" -eq 64
blob=$(find "$T/d2/replicas/blobs" -type f -size +100k -not -path "$T/d2/replicas/blobs/tmp/*" | head -1)
check "d2 holds a replica larger than 100 KB" test -n "$blob"
VALUE_KEY=$(basename "$blob")
check "its name is its key" test "${#VALUE_KEY}" -eq 64

# probe KIND: floods d2 with 1,000 requests at 1,000/s; "in out" bytes.
probe() {
    "$PROBE" "${NET_ADDR[d2]}" "$1" 1000 1000 "$VALUE_KEY" |
        sed -n 's/^sent [0-9]* requests, \([0-9]*\) bytes; got [0-9]* datagrams, \([0-9]*\) bytes; [0-9]* streams, \([0-9]*\) bytes$/\1 \2 \3/p' |
        awk '{ print $1, $2 + $3 }'
}
for kind in get_value find_value find_node ping store; do
    read -r in out <<<"$(probe $kind)"
    check "a $kind flood from an unproven port: $out bytes back for $in sent ($(awk -v i="$in" -v o="$out" 'BEGIN { printf "%.3f", o / i }'))" \
        test -n "$in" -a "$in" -gt 0 -a "$out" -le "$in"
done
read -r in out <<<"$(probe garbage)"
check "garbage draws nothing back: $out bytes for $in" test "$out" -eq 0

# Honest work goes on, through a daemon and embedded.
"$EMOFS" get "$KEY" -o "$T/via-d3.bin" -q --data "$T/d3" >/dev/null
check "a get through d3 after the floods is byte-identical" cmp -s "$T/f.bin" "$T/via-d3.bin"
"$EMOFS" get "$KEY" -o "$T/embedded.bin" -q --data "$T/e1" --bootstrap "${NET_ADDR[d2]}" >/dev/null
check "an embedded get through d2 after the floods is byte-identical" \
    cmp -s "$T/f.bin" "$T/embedded.bin"
head -c 200000 /dev/urandom >"$T/g.bin"
KEY2=$("$EMOFS" put -q "$T/g.bin" --data "$T/d2")
"$EMOFS" get "$KEY2" -o "$T/g2.bin" -q --data "$T/d3" >/dev/null
check "a put through d2 and a get through d3 after the floods" cmp -s "$T/g.bin" "$T/g2.bin"
finish
