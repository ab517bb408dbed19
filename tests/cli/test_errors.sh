#!/bin/bash
# Every error path of the commands: one clear line on stderr, the
# documented exit code, no partial output file, the store unchanged.
. "$(dirname "$0")/lib.sh"

D=$T/home
export EMOFS_HOME=$D

head -c 300000 /dev/urandom >"$T/a.bin"
KEY=$("$EMOFS" put "$T/a.bin" -q)
before=$(blob_count "$D")
check "put of a file works with no setup at all (local node)" test "$before" -gt 0
mkdir -p "$T/w" && cd "$T/w"

expect 3 "put of a missing file" "$EMOFS" put "$T/nope.bin"
mkfifo "$T/fifo"
expect 3 "put of a FIFO (put - reads a stream)" "$EMOFS" put "$T/fifo"
expect 3 "put of a device" "$EMOFS" put /dev/null
expect 2 "put with no FILE... usage" "$EMOFS" put --bogus
expect 5 "put with no peer reachable" "$EMOFS" put "$T/a.bin" --bootstrap 127.0.0.1:9
check "  the store is unchanged" test "$(blob_count "$D")" -eq "$before"

# Disk full, as a file size limit: chunks cannot be written; the store
# must be as it was (bash's ulimit -f counts 1024-byte blocks).
head -c 3000000 /dev/urandom >"$T/b.bin"
expect 6 "put with the disk full" bash -c "ulimit -f 40; exec '$EMOFS' put '$T/b.bin'"
check "  the store is unchanged" test "$(blob_count "$D")" -eq "$before"
check "  no temporary left in the store" test -z "$(ls -A "$D/blobs/tmp" 2>/dev/null)"

expect 2 "get of a malformed key" "$EMOFS" get 1234abcd
expect 2 "get with an unknown option" "$EMOFS" get "$KEY" --frobnicate
expect 4 "get of a key nobody has" "$EMOFS" get "$(printf 'ab%.0s' $(seq 32))"
expect 5 "get with no peer reachable" "$EMOFS" get "$KEY" --bootstrap 127.0.0.1:9
expect 6 "get into a missing directory" "$EMOFS" get "$KEY" -o "$T/no/such/dir/x"
expect 6 "get with the disk full" bash -c "ulimit -f 100; exec '$EMOFS' get '$KEY'"
check "  no output file, no temporary" test -z "$(ls -A "$T/w")"
expect 8 "get of a file that is not a manifest" "$EMOFS" get "$T/a.bin"

expect 2 "manifest with no subcommand" "$EMOFS" manifest frob
expect 2 "manifest export without -o" "$EMOFS" manifest export "$KEY"
expect 4 "manifest show of an unknown key" "$EMOFS" manifest show "$(printf 'cd%.0s' $(seq 32))"
expect 3 "manifest import of a missing file" "$EMOFS" manifest import "$T/nope.emofs"
printf 'EMOF\001garbage' >"$T/bad.emofs"
expect 8 "manifest import of a damaged manifest file" "$EMOFS" manifest import "$T/bad.emofs"
check "  the store is unchanged" test "$(blob_count "$D")" -eq "$before"

expect 2 "daemon with a bad address" "$EMOFS" daemon --listen nowhere
expect 2 "unknown command" "$EMOFS" frobnicate

"$EMOFS" get "$KEY" -q >/dev/null
check "after all that, get still works and is byte-identical" cmp -s "$T/a.bin" "$T/w/a.bin"
for c in put get manifest status ls daemon sim; do
    check "emofs $c --help exits 0" bash -c "'$EMOFS' $c --help >/dev/null"
done
finish
