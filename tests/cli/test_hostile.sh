#!/bin/bash
# A hostile peer against real daemons on 127.0.0.1 (issue 13). Amplification
# (item 2): floods of requests from one UDP port that never proved its
# address, as small as the wire allows, GET_VALUEs of a large replica
# among them, draw no more bytes back to that port (by datagram or by
# stream) than the port sent; honest puts and gets still work after.
# Floods (item 5): 10,000 datagrams a second of garbage, PINGs, FIND_NODEs
# and bad-token STOREs from one port for 20 s: honest gets and puts through
# the attacked daemon all succeed meanwhile (their latency is printed, not
# asserted: this machine is shared), and its memory stays bounded.
. "$(dirname "$0")/lib.sh"

PROBE=$(realpath "${EMOFS_TOOLS:-build/tools}/dht_probe")

net_start d1
for i in 2 3; do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.3

head -c 3000000 /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put -q "$T/f.bin" --data "$T/d1")
check "put through d1 prints a key" test "${#KEY}" -eq 64
VALUE_KEY=$(net_large_replica d2)
check "d2 holds a replica larger than 100 KB" test -n "$VALUE_KEY"
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

# honest_ops SECONDS TAG: embedded gets through d2 and puts through d2's
# daemon, in turn, for SECONDS; appends "ok ms" or "fail ms" lines to
# $T/TAG.txt.
honest_ops() {
    local until=$(($(date +%s) + $1)) i=0 t0 t1
    while [ "$(date +%s)" -lt "$until" ]; do
        i=$((i + 1))
        t0=$(date +%s%N)
        if [ $((i % 2)) -eq 0 ]; then
            head -c 3000 /dev/urandom >"$T/h$i.bin"
            "$EMOFS" put -q "$T/h$i.bin" --data "$T/d2" >/dev/null 2>&1
        else
            "$EMOFS" get "$SMALL" -o "$T/h$i.out" -q --data "$T/e$i" \
                --bootstrap "${NET_ADDR[d2]}" >/dev/null 2>&1 && cmp -s "$T/small.bin" "$T/h$i.out"
        fi && r=ok || r=fail
        t1=$(date +%s%N)
        echo "$r $(((t1 - t0) / 1000000))" >>"$T/$2.txt"
    done
}
# summary TAG: "N ops, F failed, p50 X ms, p99 Y ms"
summary() {
    awk '{ n++; if ($1 != "ok") f++; print $2 }' "$T/$1.txt" | sort -n |
        awk -v f="$(grep -vc '^ok' "$T/$1.txt" || true)" '{ v[NR] = $1 } END {
            printf "%d ops, %d failed, p50 %d ms, p99 %d ms", NR, f, v[int((NR + 1) / 2)],
                v[int(NR * 0.99 + 0.999)] }'
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/${NET_PID[d2]}/status"; }

head -c 3000 /dev/urandom >"$T/small.bin"
SMALL=$("$EMOFS" put -q "$T/small.bin" --data "$T/d1")
honest_ops 5 quiet
rss0=$(rss_kib)
"$PROBE" "${NET_ADDR[d2]}" mixed 200000 10000 >"$T/flood.txt" &
flood=$!
honest_ops 18 flooded
wait $flood
rss1=$(rss_kib)
echo "     without a flood: $(summary quiet)"
echo "     during 10,000/s of garbage, PINGs, FIND_NODEs and bad-token STOREs: $(summary flooded)"
echo "     the flood: $(cat "$T/flood.txt")"
check "every honest get and put during the flood succeeded" \
    test "$(grep -vc '^ok' "$T/flooded.txt" || true)" -eq 0 -a "$(wc -l <"$T/flooded.txt")" -ge 5
check "the flood sent what it should: $(cut -d';' -f1 "$T/flood.txt")" \
    grep -q '^sent 200000 requests' "$T/flood.txt"
check "d2's memory: $rss0 KiB before the flood, $rss1 KiB after (bound: 64 MiB more)" \
    test "$rss1" -le $((rss0 + 65536))

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
