#!/bin/bash
# 8 daemons on 127.0.0.1: a 64 MiB random file put through one and got
# through another; again after two daemons (not the publisher) are killed;
# a get that stops halfway resumes; a manifest exported on one node and
# imported on another node's data directory.
. "$(dirname "$0")/lib.sh"

net_start n1
for i in 2 3 4 5 6 7 8; do net_start n$i "${NET_ADDR[n1]}"; done
sleep 0.5

head -c $((64 << 20)) /dev/urandom >"$T/big.bin"
KEY=$("$EMOFS" put "$T/big.bin" --data "$T/n3" -q | tail -1)
check "put prints a 64-hex-digit key" test "${#KEY}" -eq 64

"$EMOFS" get "$KEY" -o "$T/got1.bin" --data "$T/n6" -q >/dev/null
check "got through another daemon, byte-identical" cmp -s "$T/big.bin" "$T/got1.bin"

check "ls on the publisher lists the file: KEY<TAB>BYTES<TAB>NAME" \
    test "$("$EMOFS" ls --data "$T/n3")" = "$KEY"$'\t'$((64 << 20))$'\t'big.bin
check "status shows peers" \
    bash -c "'$EMOFS' status --data '$T/n6' | grep -Eq '^peers +[1-9]'"

net_stop n4
net_stop n5
"$EMOFS" get "$KEY" -o "$T/got2.bin" --data "$T/n7" -q >/dev/null
check "got again through a third daemon with two daemons killed" \
    cmp -s "$T/big.bin" "$T/got2.bin"

# Resume: a get in an embedded node (its own data directory, joined to the
# network) dies after 100 chunks, as if killed; run again, it fetches only
# the rest. The crash is a test hook, in the test build of emofs only: the
# emofs users run ignores the variable.
mkdir -p "$T/plain"
(cd "$T/plain" && EMOFS_TEST_CRASH_AFTER_CHUNKS=1 "$EMOFS" get "$KEY" --data "$T/e0" \
    --bootstrap "${NET_ADDR[n1]}" -q >/dev/null 2>&1)
check "the emofs users run has no crash hook" cmp -s "$T/big.bin" "$T/plain/big.bin"
EMOFS_TEST_BIN=$(realpath "${EMOFS_TEST_BIN:-$(dirname "$EMOFS")/emofs-test}")
mkdir -p "$T/out"
set +e
(cd "$T/out" && EMOFS_TEST_CRASH_AFTER_CHUNKS=100 "$EMOFS_TEST_BIN" get "$KEY" --data "$T/e1" \
    --bootstrap "${NET_ADDR[n1]}" -q >/dev/null 2>&1)
rc=$?
set -e
check "the interrupted get died (exit $rc)" test "$rc" -eq 137
check "no partial file under the final name" test ! -e "$T/out/big.bin"
check "the temporary file and journal stay" \
    bash -c "ls -a '$T/out' | grep -q '\.part$' && ls -a '$T/out' | grep -q '\.journal$'"
msg=$(cd "$T/out" && "$EMOFS" get "$KEY" --data "$T/e1" --bootstrap "${NET_ADDR[n1]}" 2>&1 >/dev/null)
check "the second get resumed from chunk 100 ($msg)" \
    bash -c "echo '$msg' | grep -q 'resumed: 100 of'"
check "the resumed file is byte-identical" cmp -s "$T/big.bin" "$T/out/big.bin"
check "nothing left behind" test "$(ls -A "$T/out")" = "big.bin"

# Manifests as files: export on the publisher, import on an offline data
# directory, then get by the manifest file.
"$EMOFS" manifest export "$KEY" -o "$T/big.emofs" --data "$T/n3"
check "manifest exported" test -s "$T/big.emofs"
IMPORTED=$("$EMOFS" manifest import "$T/big.emofs" --data "$T/imp")
check "manifest import prints the same key" test "$IMPORTED" = "$KEY"
check "manifest show works offline on the importing directory" \
    bash -c "'$EMOFS' manifest show '$KEY' --data '$T/imp' | grep -q '^name *big.bin'"
"$EMOFS" get "$T/big.emofs" -o "$T/got3.bin" --data "$T/imp" --bootstrap "${NET_ADDR[n2]}" -q >/dev/null
check "got by manifest file through the network" cmp -s "$T/big.bin" "$T/got3.bin"

# A second daemon on a directory a daemon holds fails at once.
set +e
"$EMOFS" daemon --listen 127.0.0.1:0 --data "$T/n1" >"$T/second.log" 2>&1
rc=$?
set -e
check "a second daemon on the same directory fails with exit 7 ($rc)" test "$rc" -eq 7
check "  and says why" grep -q "in use by another emofs process" "$T/second.log"

"$EMOFS" get "$KEY" -o "$T/got4.bin" --data "$T/n1" -q >/dev/null
check "the first daemon still serves" cmp -s "$T/big.bin" "$T/got4.bin"
finish
