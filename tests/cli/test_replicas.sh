#!/bin/bash
# Replicas on disk (issue 11, item 2): what a daemon holds for others is in
# DIR/replicas, survives kill -9 and a restart, is served again (to itself
# and to others) with the publisher gone, is checked when read (a damaged
# copy is removed and held no more), and stays within --store-max.
. "$(dirname "$0")/lib.sh"

# replicas DIR: replica blobs on disk in a data directory.
replicas() {
    { find "$1/replicas/blobs" -type f -not -path "$1/replicas/blobs/tmp/*" 2>/dev/null ||
        true; } | wc -l
}
replica_bytes() {
    { find "$1/replicas/blobs" -type f -not -path "$1/replicas/blobs/tmp/*" -printf '%s\n' \
        2>/dev/null || true; } | awk '{s += $1} END {print s + 0}'
}
# held DIR: values the node says it holds for the network (emofs status --json).
held() { "$EMOFS" status --json --data "$1" | sed -n 's/.*"values":\([0-9]*\).*/\1/p'; }
# field NAME JSON: a number of emofs status --json's object (empty if absent).
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"; }
# line NAME TEXT: the line of emofs status's output that starts with NAME.
line() { grep -E "^$1 " <<<"$2" || true; }

net_start d1
for i in 2 3 4; do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.3

head -c 3000000 /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put -q "$T/f.bin" --data "$T/d1")
check "put through d1 prints a key" test "${#KEY}" -eq 64
check "the publisher keeps no second copy of its own file: $(replicas "$T/d1") replica files" \
    test "$(replicas "$T/d1")" -eq 0
for i in 2 3 4; do
    n=$(replicas "$T/d$i")
    check "d$i keeps its copies on disk: $n replica files, status says $(held "$T/d$i")" \
        test "$n" -gt 0 -a "$n" -eq "$(held "$T/d$i")"
done
before=$(replicas "$T/d2")

# kill -9, restart on the same directory: it holds and serves what it held.
kill -9 "${NET_PID[d2]}"
wait "${NET_PID[d2]}" 2>/dev/null || true
net_start d2 "${NET_ADDR[d1]}"
check "restarted d2 says it holds its $before replicas" \
    log_has "$T/d2.log" "holding $before replicas"
check "and status says so" test "$(held "$T/d2")" -eq "$before"

# The publisher and the others go: d2 alone still has every piece.
net_stop d1
net_stop d3
net_stop d4
"$EMOFS" get "$KEY" -o "$T/via-d2.bin" -q --data "$T/d2" >/dev/null
check "a get through d2 alone (its daemon) is byte-identical" cmp -s "$T/f.bin" "$T/via-d2.bin"
"$EMOFS" get "$KEY" -o "$T/from-d2.bin" -q --data "$T/e1" --bootstrap "${NET_ADDR[d2]}" >/dev/null
check "an embedded get served by d2 alone is byte-identical" cmp -s "$T/f.bin" "$T/from-d2.bin"

# A damaged copy: refused when read, removed from disk, held no more.
victim=$(find "$T/d2/replicas/blobs" -type f -size +100k -not -path "$T/d2/replicas/blobs/tmp/*" |
    head -1)
damage_byte "$victim" 1000
expect 4 "a get whose only copy of a chunk is damaged fails" \
    "$EMOFS" get "$KEY" -o "$T/bad.bin" -q --data "$T/e2" --bootstrap "${NET_ADDR[d2]}"
check "  and leaves nothing under the final name" test ! -e "$T/bad.bin"
check "  the damaged copy is gone from disk" test ! -e "$victim"
check "  and d2 holds one value less" test "$(held "$T/d2")" -eq $((before - 1))
net_stop d2

# A quota: a daemon with --store-max 16M keeps at most 16 MiB for others.
net_start q1
net_start q2 "${NET_ADDR[q1]}"
"$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/q3" --bootstrap "${NET_ADDR[q1]}" \
    --store-max 16M >"$T/q3.log" 2>&1 &
q3=$!
NET_PIDS+=($q3)
for _ in $(seq 1 100); do grep -q "listening on" "$T/q3.log" && break; sleep 0.05; done
check "q3 says its quota" log_has "$T/q3.log" "quota 16.0 MiB"
sleep 0.3
head -c 40000000 /dev/urandom >"$T/big.bin"
"$EMOFS" put -q "$T/big.bin" --data "$T/q1" >/dev/null
# A STORE the put stopped waiting for may still be writing (its bytes are
# on disk before the copy they replace goes): the quota holds once q3 is
# quiet, two readings 0.3 s apart the same.
b=$(replica_bytes "$T/q3")
for _ in $(seq 1 30); do
    sleep 0.3
    b2=$(replica_bytes "$T/q3")
    [ "$b2" = "$b" ] && break
    b=$b2
done
check "q3 keeps at most 16 MiB for others: $b bytes" test "$b" -gt 0 -a "$b" -le $((16 << 20))
check "q2 (default quota) took more: $(replica_bytes "$T/q2") bytes" \
    test "$(replica_bytes "$T/q2")" -gt "$b"

# emofs status (issue 11): the replicas a daemon holds for others, their
# bytes and its quota; the publisher's pinned data (its files and blobs).
n=$(replicas "$T/q3")
out=$("$EMOFS" status --data "$T/q3")
js=$("$EMOFS" status --json --data "$T/q3")
check "status of q3 (a holder): its $n replicas, their bytes, of its 16 MiB quota: $(line replicas "$out")" \
    grep -Eqx "replicas +$n \([0-9.]+ (KiB|MiB) of 16\.0 MiB quota\)" <<<"$(line replicas "$out")"
check "  and --json: values $n, value_bytes in (0, 16 MiB], store_max 16 MiB" \
    test "$(field values "$js")" = "$n" -a "$n" -gt 0 -a "$(field value_bytes "$js")" -gt 0 -a \
    "$(field value_bytes "$js")" -le $((16 << 20)) -a "$(field store_max "$js")" = $((16 << 20))
check "status of q2: the default quota: $(line replicas "$("$EMOFS" status --data "$T/q2")")" \
    grep -Eq "^replicas +[1-9][0-9,]* \([0-9.]+ [KMG]iB of 10\.0 GiB quota\)$" \
    <<<"$("$EMOFS" status --data "$T/q2")"
nb=$(blob_count "$T/q1")
out=$("$EMOFS" status --data "$T/q1")
js=$("$EMOFS" status --json --data "$T/q1")
pinned_bytes=$(field blob_bytes "$js")
check "status of q1 (the publisher): 1 file and its $nb blobs pinned: $(line pinned "$out")" \
    grep -Eqx "pinned +1 file, $nb blobs \(3[89]\.[0-9] MiB\)" <<<"$(line pinned "$out")"
check "  and --json: published 1, blobs $nb, blob_bytes $pinned_bytes (at least the file's)" \
    test "$(field published "$js")" = 1 -a "$(field blobs "$js")" = "$nb" -a "$nb" -gt 1 -a \
    "$pinned_bytes" -ge 40000000
check "  it holds no replica of its own file: $(line replicas "$out")" \
    grep -Eqx "replicas +0 \(0 B of 10\.0 GiB quota\)" <<<"$(line replicas "$out")"

# The same directories with no daemon: the command's embedded node holds
# no replicas (whatever DIR/replicas keeps) and says why; pinned is the same.
kill "$q3"
wait "$q3" 2>/dev/null || true
net_stop q1
out=$("$EMOFS" status --data "$T/q3")
js=$("$EMOFS" status --json --data "$T/q3")
check "embedded status of q3: no replicas, no daemon: $(line replicas "$out")" \
    grep -Eqx "replicas +0 \(no daemon: only a running daemon holds copies for others\)" \
    <<<"$(line replicas "$out")"
check "  and --json: values 0, store_max 0 (while $(replicas "$T/q3") replicas wait on disk)" \
    test "$(field values "$js")" = 0 -a "$(field store_max "$js")" = 0 -a "$(replicas "$T/q3")" -gt 0
out=$("$EMOFS" status --data "$T/q1")
js=$("$EMOFS" status --json --data "$T/q1")
check "embedded status of q1: the same pinned data: $(line pinned "$out")" \
    grep -Eqx "pinned +1 file, $nb blobs \(3[89]\.[0-9] MiB\)" <<<"$(line pinned "$out")"
check "  and --json: published 1, blobs $nb, blob_bytes $pinned_bytes" \
    test "$(field published "$js")" = 1 -a "$(field blobs "$js")" = "$nb" -a \
    "$(field blob_bytes "$js")" = "$pinned_bytes"
# Counts group their digits: 1,234 blobs (stand-ins: the count stats them,
# reads none).
mkdir -p "$T/many/blobs/00"
for i in $(seq 1 1234); do printf x >"$T/many/blobs/00/$(printf '%064x' "$i")"; done
check "1234 blobs show as 1,234: $(line pinned "$("$EMOFS" status --data "$T/many")")" \
    grep -Eqx "pinned +0 files, 1,234 blobs \(1\.2 KiB\)" \
    <<<"$(line pinned "$("$EMOFS" status --data "$T/many")")"

# Hand-over (issue 11, item 3): a daemon that joins after a put gets its
# copies from the holders' replication, within one interval (here 4 s,
# through DIR/config's replicate_interval).
for i in 1 2 3 4 5; do
    mkdir -p "$T/h$i"
    echo "replicate_interval 4" >"$T/h$i/config"
done
net_start h1
for i in 2 3 4; do net_start h$i "${NET_ADDR[h1]}"; done
sleep 0.3
head -c 2000000 /dev/urandom >"$T/h.bin"
"$EMOFS" put -q "$T/h.bin" --data "$T/h1" >/dev/null
held_by_h2=$(replicas "$T/h2")
net_start h5 "${NET_ADDR[h1]}"
check "h5 says how often it checks" log_has "$T/h5.log" "checking the copies every 4 s"
for _ in $(seq 1 250); do
    [ "$(replicas "$T/h5")" -ge "$held_by_h2" ] && break
    sleep 0.1
done
check "a daemon that joined after the put holds its $held_by_h2 pieces within a few intervals ($(replicas "$T/h5"))" \
    test "$(replicas "$T/h5")" -ge "$held_by_h2" -a "$held_by_h2" -gt 0
net_stop h1
net_stop h2
net_stop h3
net_stop h4

# Bad quotas and intervals are usage errors.
expect 2 "--store-max abc" "$EMOFS" daemon --data "$T/bad" --store-max abc
expect 2 "--store-max below 16M" "$EMOFS" daemon --data "$T/bad" --store-max 1K
mkdir -p "$T/badcfg"
echo "store_max lots" >"$T/badcfg/config"
expect 2 "store_max in DIR/config that is not a size" "$EMOFS" daemon --data "$T/badcfg"
expect 2 "--replicate-interval soon" "$EMOFS" daemon --data "$T/bad" --replicate-interval soon
echo "replicate_interval -1" >"$T/badcfg/config"
expect 2 "replicate_interval -1 in DIR/config" "$EMOFS" daemon --data "$T/badcfg"
finish
