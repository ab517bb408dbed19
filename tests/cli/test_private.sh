#!/bin/bash
# Private networks (issue 14 item 6; schema/wire.md 2.4): daemons whose
# DIR/config names a network key file hear only nodes with the same key.
# Network A (3 daemons) and network B (2 daemons) run side by side on
# 127.0.0.1, B and an open daemon bootstrapping through A's first daemon:
# neither ever enters A, a file put in A is got in A and never through B;
# an embedded get joins A with --network-key and fails with another key or
# none; a bad key file is one line and exit 2.
. "$(dirname "$0")/lib.sh"

peers() { "$EMOFS" status --json --data "$T/$1" | sed -n 's/.*"peers":\([0-9]*\).*/\1/p'; }
fingerprint() { sed -n 's/.*key fingerprint \([0-9a-f]*\);.*/\1/p' "$T/$1.log"; }

head -c 32 /dev/urandom >"$T/a.key"
head -c 32 /dev/urandom >"$T/b.key"
chmod 600 "$T/a.key" "$T/b.key"
for n in a1 a2 a3; do mkdir -p "$T/$n" && echo "network_key ../a.key" >"$T/$n/config"; done
for n in b1 b2; do mkdir -p "$T/$n" && echo "network_key $T/b.key" >"$T/$n/config"; done

net_start a1
net_start a2 "${NET_ADDR[a1]}"
net_start a3 "${NET_ADDR[a1]}"
net_start b1 "${NET_ADDR[a1]}" # another network's node knocks at A
net_start b2 "${NET_ADDR[b1]}"
net_start o1 "${NET_ADDR[a1]}" # and an open one
log_has "$T/a1.log" "key fingerprint" || true
log_has "$T/b1.log" "key fingerprint" || true
log_has "$T/o1.log" "no bootstrap peer answered" || true
log_has "$T/b1.log" "no bootstrap peer answered" || true
sleep 0.5

check "A's daemons log the same key fingerprint ($(fingerprint a1))" \
    test -n "$(fingerprint a1)" -a "$(fingerprint a1)" = "$(fingerprint a3)"
check "B's differs ($(fingerprint b1))" test -n "$(fingerprint b1)" -a "$(fingerprint b1)" != "$(fingerprint a1)"
check "the open daemon logs none" test -z "$(fingerprint o1)"
check "B's first daemon found nobody through A" grep -q "no bootstrap peer answered" "$T/b1.log"
check "nor did the open one" grep -q "no bootstrap peer answered" "$T/o1.log"
for n in a1 a2 a3; do
    p=$(peers $n)
    check "$n knows only A's other 2 daemons ($p peers)" test "$p" -eq 2
done
for n in b1 b2; do
    p=$(peers $n)
    check "$n knows only B's other daemon ($p peers)" test "$p" -eq 1
done
p=$(peers o1)
check "the open daemon knows nobody ($p peers)" test "$p" -eq 0

head -c 300000 /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put "$T/f.bin" --data "$T/a2" -q | tail -1)
check "a put in A prints a key" test "${#KEY}" -eq 64
"$EMOFS" get "$KEY" -o "$T/got-a3.bin" --data "$T/a3" -q
check "and is got through another of A's daemons" cmp -s "$T/f.bin" "$T/got-a3.bin"
set +e
"$EMOFS" get "$KEY" -o "$T/got-b2.bin" --data "$T/b2" -q 2>"$T/err-b2.txt"
rc=$?
set -e
check "but not through B (exit $rc: $(cat "$T/err-b2.txt"))" test "$rc" -eq 4 -a ! -e "$T/got-b2.bin"

# Embedded nodes: the key file given on the command line.
"$EMOFS" get "$KEY" -o "$T/got-e.bin" --data "$T/e1" --bootstrap "${NET_ADDR[a1]}" \
    --network-key "$T/a.key" -q
check "an embedded get with A's key gets the file" cmp -s "$T/f.bin" "$T/got-e.bin"
expect 5 "an embedded get with B's key reaches nobody" \
    "$EMOFS" get "$KEY" -o "$T/got-eb.bin" --data "$T/e2" --bootstrap "${NET_ADDR[a1]}" \
    --network-key "$T/b.key" -q
expect 5 "an embedded get with no key reaches nobody" \
    "$EMOFS" get "$KEY" -o "$T/got-eo.bin" --data "$T/e3" --bootstrap "${NET_ADDR[a1]}" -q
check "and leave no file" test ! -e "$T/got-eb.bin" -a ! -e "$T/got-eo.bin"

# A key given to a command that a daemon serves is not used: it says so.
"$EMOFS" status --data "$T/a1" --network-key "$T/b.key" >/dev/null 2>"$T/ignored.txt"
check "a daemon's command says --network-key was not used: $(cat "$T/ignored.txt")" \
    grep -q "^emofs: --network-key ignored: the daemon serving" "$T/ignored.txt"

# Bad key files.
printf 'short' >"$T/short.key"
expect 2 "a key file under 16 bytes" \
    "$EMOFS" get "$KEY" --data "$T/e4" --bootstrap "${NET_ADDR[a1]}" --network-key "$T/short.key"
expect 2 "a key file that does not exist" \
    "$EMOFS" daemon --data "$T/e5" --listen 127.0.0.1:0 --network-key "$T/nope.key"
mkdir -p "$T/e6" && echo "network_key missing.key" >"$T/e6/config"
expect 2 "a config naming a missing key file" "$EMOFS" put "$T/f.bin" --data "$T/e6" -q
cp "$T/a.key" "$T/open.key" && chmod 644 "$T/open.key"
"$EMOFS" get "$KEY" -o "$T/got-w.bin" --data "$T/e7" --bootstrap "${NET_ADDR[a1]}" \
    --network-key "$T/open.key" -q 2>"$T/warn.txt"
check "a key file others may read works, with a warning: $(cat "$T/warn.txt")" \
    grep -q "readable by other users" "$T/warn.txt"
finish
