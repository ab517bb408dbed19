#!/bin/bash
# The daemon's log: one line per event with a timestamp and a level;
# --log-level filters; under the journal, "<N>" priorities instead of time.
. "$(dirname "$0")/lib.sh"

stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z (error|warn |info |debug) '

net_start n1
"$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/n2" --bootstrap "${NET_ADDR[n1]}" \
    --log-level debug >"$T/n2.log" 2>&1 &
n2=$!
NET_PIDS+=($n2)
for _ in $(seq 1 100); do grep -q "joined" "$T/n2.log" && break; sleep 0.05; done

head -c 200000 /dev/urandom >"$T/a.bin"
KEY=$("$EMOFS" put "$T/a.bin" --data "$T/n2" -q)
"$EMOFS" get "$KEY" -o "$T/b.bin" --data "$T/n2" -q >/dev/null
kill "$n2"
wait "$n2" || true

check "every line has a timestamp and a level" \
    bash -c "! grep -Ev '$stamp' '$T/n2.log'"
check "start is logged with the address" grep -Eq "info  started: node .* listening on 127.0.0.1:" "$T/n2.log"
check "joining is logged" grep -q "info  joined the network" "$T/n2.log"
check "the put is logged with its key, size and time" \
    grep -Eq "info  PUT $T/a.bin: stored as $KEY, 195.3 KiB in [0-9.]+ s" "$T/n2.log"
check "the get is logged with its key and result" \
    grep -Eq "info  GET $KEY: wrote $T/b.bin, 195.3 KiB in [0-9.]+ s" "$T/n2.log"
check "debug: the peer gained is logged" grep -q "debug peer gained" "$T/n2.log"
check "stop is logged" grep -q "info  stopped" "$T/n2.log"

"$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/n3" --log-level warn >"$T/n3.log" 2>&1 &
n3=$!
NET_PIDS+=($n3)
sleep 0.3
"$EMOFS" status --data "$T/n3" >/dev/null
kill "$n3"
wait "$n3" || true
check "--log-level warn: no info lines" test ! -s "$T/n3.log"

JOURNAL_STREAM=8:1234 "$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/n4" >"$T/n4.log" 2>&1 &
n4=$!
NET_PIDS+=($n4)
for _ in $(seq 1 100); do grep -q "started" "$T/n4.log" && break; sleep 0.05; done
kill "$n4"
wait "$n4" || true
check "under the journal: <6> priorities, no timestamps" grep -q "^<6>started: node" "$T/n4.log"

mkdir -p "$T/n6"
printf 'log_level warn\n' >"$T/n6/config"
"$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/n6" >"$T/n6.log" 2>&1 &
n6=$!
NET_PIDS+=($n6)
sleep 0.3
kill "$n6"
wait "$n6" || true
# (n6 was made by mkdir, mode 755: the daemon warns of that, at warn.)
check "config log_level warn: no info lines" bash -c "! grep -q ' info ' '$T/n6.log'"
check "  and the warning of a data directory open to others shows" \
    grep -q "warn  .*can be entered by other users" "$T/n6.log"
"$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/n6" --log-level info >"$T/n6.log" 2>&1 &
n6=$!
NET_PIDS+=($n6)
for _ in $(seq 1 100); do grep -q "started" "$T/n6.log" && break; sleep 0.05; done
kill "$n6"
wait "$n6" || true
check "--log-level wins over the config file" grep -q "info  started" "$T/n6.log"

set +e
"$EMOFS" daemon --log-level loud --data "$T/n5" 2>"$T/err"
rc=$?
set -e
check "a bad --log-level: exit 2, one line" test "$rc" -eq 2 -a "$(wc -l <"$T/err")" -eq 1
finish
