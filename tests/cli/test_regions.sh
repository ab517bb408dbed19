#!/bin/bash
# emofs daemon --advertise HOST:PORT --region N (schema/wire.md 5.11): the
# daemon says so when it starts, and a network with
# it works as any other (peers that check its address verify it, puts and
# gets go through it). Which address peers hand out to whom is tested in
# tests/test_regions.c, where addresses of several networks can be faked.
# Bad values are one line and exit 2; the config keys work as the flags.
. "$(dirname "$0")/lib.sh"

code=0
"$EMOFS" daemon --region 70000 --data "$T/bad" 2>"$T/bad.err" || code=$?
check "--region 70000: exit $code, $(cat "$T/bad.err")" \
    bash -c "[ $code -eq 2 ] && grep -q 'bad --region' '$T/bad.err'"
code=0
"$EMOFS" daemon --advertise nowhere --data "$T/bad" 2>"$T/bad.err" || code=$?
check "--advertise nowhere: exit $code, $(cat "$T/bad.err")" \
    bash -c "[ $code -eq 2 ] && grep -q 'bad --advertise' '$T/bad.err'"

# d1 announces a global address and a region; d2 the region from its
# config file. The global address is one of loopback where nothing
# answers (peers probe it before they hand it out: a test sends nothing
# off this machine), so nobody hands it out.
mkdir -p "$NET_DIR/d2"
printf 'region 3\n' >"$NET_DIR/d2/config"
"$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/d1" --advertise 127.0.0.1:9 \
    --region 3 >"$T/d1.log" 2>&1 &
NET_PIDS+=($!)
log_has "$T/d1.log" "announcing"
D1=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$T/d1.log")
check "d1 says what it announces" \
    grep -q "announcing global address 127.0.0.1:9, region 3" "$T/d1.log"
net_start d2 "$D1"
net_start d3 "$D1"
log_has "$NET_DIR/d2.log" "announcing" || true
check "d2 takes region 3 from its config" grep -q "announcing global address none, region 3" \
    "$NET_DIR/d2.log"
sleep 0.5

head -c $((1 << 20)) /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put "$T/f.bin" --data "$T/d1" -q | tail -1)
check "put through d1" test -n "$KEY"
"$EMOFS" get "$KEY" -o "$T/out.bin" --data "$NET_DIR/d3" -q >/dev/null
check "got through d3, byte-identical" cmp -s "$T/f.bin" "$T/out.bin"
"$EMOFS" get "$KEY" -o "$T/emb.bin" --data "$T/emb" --bootstrap "${NET_ADDR[d2]}" -q >/dev/null
check "got by an embedded node through d2, byte-identical" cmp -s "$T/f.bin" "$T/emb.bin"
finish
