#!/bin/bash
# make bench, amplification (issue 13 item 2): 3 daemons on 127.0.0.1; one
# UDP port that never proves its address sends 1,000 requests of each kind,
# as small as the wire allows, to the daemon holding a large replica; prints
# the bytes that came back (by datagram and by stream) per byte sent. The
# rule (schema/wire.md 2.3) holds each ratio at 1 or below; before it, a
# GET_VALUE of a large value drew 2,782 bytes per byte.
set -euo pipefail

EMOFS=$(realpath "${EMOFS:-build/emofs}")
PROBE=$(realpath "${EMOFS_TOOLS:-build/tools}/dht_probe")
T=$(mktemp -d /var/tmp/emofs-bench.XXXXXX)
NET_DIR=$T
. "$(dirname "$0")/../../tool/local_net.sh"
trap 'net_stop_all; rm -rf "$T"' EXIT

net_start d1
for i in 2 3; do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.3
head -c 3000000 /dev/urandom >"$T/f.bin"
"$EMOFS" put -q "$T/f.bin" --data "$T/d1" >/dev/null
key=$(net_large_replica d2)
printf '%-44s %10s %10s %8s\n' "1,000 requests from an unproven port, d2" "bytes in" "bytes out" "out/in"
for kind in get_value find_value find_node ping store; do
    "$PROBE" "${NET_ADDR[d2]}" "$kind" 1000 1000 "$key" |
        sed -n 's/^sent [0-9]* requests, \([0-9]*\) bytes; got [0-9]* datagrams, \([0-9]*\) bytes; [0-9]* streams, \([0-9]*\) bytes$/\1 \2 \3/p' |
        awk -v k="$kind" '{ printf "%-44s %10d %10d %8.3f\n", k, $1, $2 + $3, ($2 + $3) / $1 }'
done
