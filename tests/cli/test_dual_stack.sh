#!/bin/bash
# A daemon on [::] serves IPv4 and IPv6 peers at once (dual stack): a daemon
# on 127.0.0.1 and one on [::1] join through it; a file put through the
# IPv4 one is got through the IPv6 one, and back the other way, each
# byte-identical; the dual-stack daemon counts both as peers. Skipped on
# a machine without IPv6 loopback.
. "$(dirname "$0")/lib.sh"

"$EMOFS" daemon --listen '[::1]:0' --data "$T/probe" >"$T/probe.log" 2>&1 &
PROBE=$!
log_has "$T/probe.log" "listening on\|emofs:" || true
kill "$PROBE" 2>/dev/null || true
wait "$PROBE" 2>/dev/null || true
if ! grep -q "listening on" "$T/probe.log"; then
    ok "skipped: no IPv6 loopback here ($(head -1 "$T/probe.log"))"
    finish
    exit 0
fi

net_start dual "" '[::]:0'
PORT=${NET_ADDR[dual]##*:}
check "the dual-stack daemon listens on [::] ($PORT)" test "${NET_ADDR[dual]}" = "[::]:$PORT"
net_start four "127.0.0.1:$PORT"
net_start six "[::1]:$PORT" '[::1]:0'
sleep 0.5

head -c $((3 << 20)) /dev/urandom >"$T/a.bin"
KEY=$("$EMOFS" put "$T/a.bin" --data "$T/four" -q | tail -1)
"$EMOFS" get "$KEY" -o "$T/a.got" --data "$T/six" -q >/dev/null
check "put through the IPv4 daemon, got through the IPv6 one" cmp -s "$T/a.bin" "$T/a.got"

head -c $((3 << 20)) /dev/urandom >"$T/b.bin"
KEY=$("$EMOFS" put "$T/b.bin" --data "$T/six" -q | tail -1)
"$EMOFS" get "$KEY" -o "$T/b.got" --data "$T/four" -q >/dev/null
check "put through the IPv6 daemon, got through the IPv4 one" cmp -s "$T/b.bin" "$T/b.got"

check "the dual-stack daemon has both as peers" \
    bash -c "'$EMOFS' status --data '$T/dual' | grep -Eq '^peers +2 '"
finish
