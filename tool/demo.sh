#!/bin/bash
# make demo: a local network of 8 emofs daemons on 127.0.0.1. Puts a sample
# file through one, gets it through another, checks the bytes, stops them.
set -euo pipefail

EMOFS=$(realpath "${EMOFS:-build/emofs}")
N=8
T=$(mktemp -d /tmp/emofs-demo.XXXXXX)
NET_DIR=$T
. "$(dirname "$0")/local_net.sh"
trap 'net_stop_all; rm -rf "$T"' EXIT

echo "== starting $N daemons on 127.0.0.1"
net_start node1
FIRST=${NET_ADDR[node1]}
echo "   node1 $FIRST (bootstrap node)"
for i in $(seq 2 $N); do
    net_start "node$i" "$FIRST"
    echo "   node$i ${NET_ADDR[node$i]}"
done
sleep 0.5

echo "== making a 48 MiB sample file (16 MiB of text, 32 MiB of random data)"
cp README.md "$T/sample.bin"
while [ "$(stat -c %s "$T/sample.bin")" -lt $((16 << 20)) ]; do
    cat "$T/sample.bin" "$T/sample.bin" >"$T/double.bin"
    mv "$T/double.bin" "$T/sample.bin"
done
truncate -s $((16 << 20)) "$T/sample.bin"
head -c $((32 << 20)) /dev/urandom >>"$T/sample.bin"

echo "== emofs put sample.bin --data node3"
KEY=$("$EMOFS" put "$T/sample.bin" --data "$T/node3" | tail -1)
echo "   key $KEY"

echo "== emofs manifest show KEY --data node5 (first lines)"
"$EMOFS" manifest show "$KEY" --data "$T/node5" | head -8

echo "== emofs get KEY -o copy.bin --data node7"
"$EMOFS" get "$KEY" -o "$T/copy.bin" --data "$T/node7" >/dev/null

if cmp -s "$T/sample.bin" "$T/copy.bin"; then
    echo "== identical: $(sha256sum <"$T/copy.bin" | cut -c1-16)... both ways"
else
    echo "== MISMATCH"; exit 1
fi
echo "== emofs status --data node7"
"$EMOFS" status --data "$T/node7"
echo "== stopping the network"
