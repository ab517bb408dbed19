#!/bin/bash
# emofs get --seed: a daemon that gets a file keeps its blobs, lists it as
# published, and announces itself as its provider; the file then outlives
# its publisher and the other holders of its chunks. An embedded get
# refuses --seed (exit 2); emofs rm ends the seeding.
. "$(dirname "$0")/lib.sh"

net_start d1
for d in d2 d3 d4 d5 d6; do net_start "$d" "${NET_ADDR[d1]}"; done
sleep 0.5

head -c $((3 << 20)) /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put "$T/f.bin" --copies 1 --data "$T/d1" -q | tail -1)
check "put through d1, each chunk on one node" test -n "$KEY"
head -c $((3 << 20)) /dev/urandom >"$T/g.bin" # the same, seeded by nobody
GKEY=$("$EMOFS" put "$T/g.bin" --copies 1 --data "$T/d1" -q | tail -1)

code=0
"$EMOFS" get "$KEY" --seed -o "$T/emb.bin" --data "$T/emb" \
    --bootstrap "${NET_ADDR[d1]}" -q 2>"$T/emb.err" || code=$?
check "an embedded get refuses --seed: exit $code, $(cat "$T/emb.err")" \
    bash -c "[ $code -eq 2 ] && grep -q 'needs a running daemon' '$T/emb.err' && [ ! -e '$T/emb.bin' ]"

blobs() { "$EMOFS" status --json --data "$T/$1" | sed -n 's/.*"blobs": *\([0-9]*\).*/\1/p'; }
check "d2 keeps no blob of its own before" test "$(blobs d2)" -eq 0
"$EMOFS" get "$KEY" --seed -o "$T/seeded.bin" --data "$T/d2" -q >/dev/null
check "d2 gets it with --seed, byte-identical" cmp -s "$T/f.bin" "$T/seeded.bin"
check "d2 keeps its blobs now: $(blobs d2)" test "$(blobs d2)" -ge 2
check "d2 lists it as published" bash -c "'$EMOFS' ls --data '$T/d2' | grep -q '^$KEY'"
check "the same seeding get run again is done (the file and its blobs are there)" \
    "$EMOFS" get "$KEY" --seed -o "$T/seeded.bin" --data "$T/d2" -q
check "  and lists it once" test "$("$EMOFS" ls --data "$T/d2" | grep -c "^$KEY")" -eq 1
"$EMOFS" get "$KEY" -o "$T/plain.bin" --data "$T/d3" -q >/dev/null
check "a get without --seed keeps nothing (d3: $(blobs d3) blobs)" test "$(blobs d3)" -eq 0
code=0
"$EMOFS" get "$KEY" --seed -o "$T/plain.bin" --data "$T/d3" -q 2>"$T/again.err" >/dev/null || code=$?
check "seeding onto the same file already there is refused (exit $code): $(cat "$T/again.err")" \
    bash -c "[ $code -eq 9 ] && cmp -s '$T/f.bin' '$T/plain.bin' && [ $(blobs d3) -eq 0 ]"

# d2 restarts: it announces what it serves.
net_stop d2
"$EMOFS" daemon --listen "${NET_ADDR[d2]}" --data "$T/d2" --bootstrap "${NET_ADDR[d1]}" \
    >"$T/d2r.log" 2>&1 &
NET_PIDS+=($!)
log_has "$T/d2r.log" "serving 1 files published or seeded here"
check "d2, restarted, announces the file it seeds" grep -q "serving 1 files" "$T/d2r.log"

# The publisher and the other holders die (kill -9: no hand-over): the
# seeder still serves the file; the file nobody seeded is lost with them.
for d in d1 d3 d4 d5; do kill -9 "${NET_PID[$d]}"; wait "${NET_PID[$d]}" 2>/dev/null || true; done
"$EMOFS" get "$KEY" -o "$T/late.bin" --data "$T/late" --bootstrap "${NET_ADDR[d6]}" -q >/dev/null
check "with d1, d3, d4 and d5 dead, a get through d6 is byte-identical" \
    cmp -s "$T/f.bin" "$T/late.bin"
code=0
"$EMOFS" get "$GKEY" -o "$T/lost.bin" --data "$T/late" --bootstrap "${NET_ADDR[d6]}" -q >/dev/null 2>"$T/lost.err" || code=$?
check "the file nobody seeded is not got (exit $code: $(tail -1 "$T/lost.err"))" \
    bash -c "[ $code -ne 0 ] && [ ! -e '$T/lost.bin' ]"

"$EMOFS" rm "$KEY" --data "$T/d2" >/dev/null
left=$(blobs d2)
listed=$("$EMOFS" ls --data "$T/d2")
check "emofs rm ends the seeding: nothing listed, $left blobs left" \
    bash -c "[ -z '$listed' ] && [ '$left' -eq 0 ]"
finish
