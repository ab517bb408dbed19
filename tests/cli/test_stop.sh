#!/bin/bash
# emofs stop: the daemon of a data directory stops (its peers saved, its
# lock and socket released), the command waits for it and exits 0; with no
# daemon it says so and exits 0; bad arguments are usage errors.
. "$(dirname "$0")/lib.sh"

net_start a
net_start b "${NET_ADDR[a]}"
sleep 0.3

out=$("$EMOFS" stop --data "$T/b")
check "stop prints what it did ($out)" test "$out" = "stopped the daemon on $T/b"
check "  the daemon process is gone" bash -c "! kill -0 ${NET_PID[b]} 2>/dev/null"
check "  it saved its peers on the way out" test -s "$T/b/peers"
check "  and left no socket behind" test ! -e "$T/b/emofs.sock"
check "  its log ends with: stopped" bash -c "tail -1 '$T/b.log' | grep -q 'stopped$'"

out=$("$EMOFS" stop --data "$T/b")
check "stop with no daemon says so and exits 0 ($out)" test "$out" = "no daemon runs on $T/b"

expect 2 "stop with an unknown option" "$EMOFS" stop --data "$T/a" --now
expect 2 "stop with an option it does not take" "$EMOFS" stop --listen 127.0.0.1:0 --data "$T/a"
check "the other daemon still runs" kill -0 "${NET_PID[a]}"

"$EMOFS" stop --data=$T/a >/dev/null
check "stop --data=DIR works too" bash -c "! kill -0 ${NET_PID[a]} 2>/dev/null"
finish
