#!/bin/bash
# Encrypted files (issue 13, item 7): `emofs put --encrypt` seals every
# chunk and manifest node with convergent encryption (schema/manifest.md,
# section 9) and prints the capability KEY:SECRET; `emofs get KEY:SECRET`
# reads it, through a daemon and embedded. No node that holds the file
# sees a byte of it or its name (the same file put plain is seen), a
# wrong secret fails cleanly, and the publisher's rm, gc and republish
# still read what it published.
. "$(dirname "$0")/lib.sh"

MARKER=EMOFS-PLAINTEXT-MARKER
NAME=secret-plans-for-the-garden.bin
# A file of bytes that do not compress, marked every 4 KiB: a plain chunk
# holds the marker as it is.
for i in $(seq 1 700); do
    printf '%s-%04d' "$MARKER" "$i"
    head -c 4070 /dev/urandom
done >"$T/$NAME"

# holders_of TEXT DIR...: how many of the data directories hold TEXT in
# the clear, in any file.
holders_of() {
    local text=$1 n=0 d
    shift
    for d in "$@"; do
        if grep -rqaF -- "$text" "$d"; then n=$((n + 1)); fi
    done
    echo "$n"
}

for i in $(seq 1 6); do mkdir -p "$T/d$i"; done
net_start d1
for i in $(seq 2 6); do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.5
OTHERS=("$T/d2" "$T/d3" "$T/d4" "$T/d5" "$T/d6")

CAP=$("$EMOFS" put --encrypt "$T/$NAME" --data "$T/d1" 2>"$T/put.err")
check "put --encrypt through a daemon prints a capability, KEY:SECRET: $CAP" \
    grep -Eqx '[0-9a-f]{64}:[0-9a-f]{64}' <<<"$CAP"
KEY=${CAP%%:*}
check "  its chunks went to the network: $(cat "$T/put.err")" grep -q 'on [0-9]* nodes' "$T/put.err"
check "  no other node holds the marker in the clear" \
    test "$(holders_of "$MARKER" "${OTHERS[@]}")" -eq 0
check "  nor the file's name" test "$(holders_of "$NAME" "${OTHERS[@]}")" -eq 0
check "  and the publisher's store holds only sealed blobs" \
    test "$(holders_of "$MARKER" "$T/d1/blobs")" -eq 0
check "  yet the others do hold its blobs (sealed)" \
    test "$(find "${OTHERS[@]}" -path '*replicas/blobs/*' -type f | wc -l)" -gt 5

"$EMOFS" get "$CAP" -o "$T/got1" -q --data "$T/d4" >/dev/null
check "get KEY:SECRET through another daemon: byte-identical" cmp -s "$T/$NAME" "$T/got1"
"$EMOFS" get "$CAP" -o "$T/got2" -q --data "$T/e1" --bootstrap "${NET_ADDR[d5]}" >/dev/null
check "get KEY:SECRET embedded, from a fresh data directory: byte-identical" \
    cmp -s "$T/$NAME" "$T/got2"
"$EMOFS" cat "$CAP" -q --data "$T/d3" >"$T/got3"
check "cat KEY:SECRET: byte-identical" cmp -s "$T/$NAME" "$T/got3"

WRONG="$KEY:$(printf '%064d' 7)"
expect 8 "a wrong secret" "$EMOFS" get "$WRONG" -o "$T/wrong" --data "$T/d2"
check "  wrote nothing" test ! -e "$T/wrong"
check "  and says it cannot decrypt" grep -q "decrypt" "$T/err.txt"
expect 8 "the key without its secret" "$EMOFS" get "$KEY" -o "$T/nosecret" --data "$T/d2"
check "  says to give the whole capability" grep -q "KEY:SECRET" "$T/err.txt"
check "  and wrote nothing" test ! -e "$T/nosecret"
expect 2 "put --encrypt of a directory" "$EMOFS" put --encrypt "$T/d6" --data "$T/d1"

out=$("$EMOFS" manifest show "$CAP" --data "$T/d2")
check "manifest show KEY:SECRET opens the manifest: its name" grep -q "name     $NAME" <<<"$out"
check "  and says it is encrypted" grep -q "encrypted" <<<"$out"
check "  --json says so too" grep -q '"encrypted":true' <("$EMOFS" manifest show "$CAP" --json --data "$T/d3")
out=$("$EMOFS" health "$CAP" --data "$T/d2")
check "health KEY:SECRET counts its pieces: $out" grep -q "pieces, each on at least [1-9]" <<<"$out"
expect 2 "manifest export of a capability" "$EMOFS" manifest export "$CAP" -o "$T/cap.emofs" --data "$T/d2"
expect 8 "health of the key alone" "$EMOFS" health "$KEY" --data "$T/d2"

# Embedded put --encrypt (no daemon on e2), got back through a daemon;
# the same bytes seal the same way, so the capability is the same.
CAP2=$("$EMOFS" put --encrypt "$T/$NAME" -q --data "$T/e2" --bootstrap "${NET_ADDR[d2]}")
check "an embedded put --encrypt of the same file gives the same capability (convergent)" \
    test "$CAP2" = "$CAP"
head -c 300000 /dev/urandom >"$T/small.bin"
CAP3=$("$EMOFS" put --encrypt "$T/small.bin" -q --json --data "$T/e3" \
    --bootstrap "${NET_ADDR[d3]}" | sed -n 's/.*"capability":"\([0-9a-f:]*\)".*/\1/p')
"$EMOFS" get "$CAP3" -o "$T/small.got" -q --data "$T/d6" >/dev/null
check "an embedded put --encrypt --json gives the capability; got through a daemon" \
    cmp -s "$T/small.bin" "$T/small.got"

CAP4=$("$EMOFS" put --encrypt - --name from-stdin.bin -q --data "$T/d1" <"$T/small.bin")
"$EMOFS" cat "$CAP4" -q --data "$T/d5" >"$T/stdin.got"
check "put --encrypt - (standard input), through a daemon: cat gets it back" \
    cmp -s "$T/small.bin" "$T/stdin.got"

# The publisher reads what it published: ls lists it, gc keeps it, rm
# frees it.
check "ls on the publisher lists it" grep -q "$NAME" <("$EMOFS" ls --data "$T/d1")
before=$(blob_count "$T/d1")
"$EMOFS" gc --data "$T/d1" >/dev/null
check "gc keeps its blobs ($before)" test "$(blob_count "$T/d1")" -eq "$before"
"$EMOFS" rm "$KEY" --data "$T/d1" >/dev/null
check "rm KEY frees its blobs on the publisher ($before, now $(blob_count "$T/d1"))" \
    test "$(blob_count "$T/d1")" -lt "$before"

# The control: the same file put plain is seen by the nodes that hold it.
"$EMOFS" put "$T/$NAME" -q --data "$T/d1" >/dev/null
check "the same file put plain: other nodes hold the marker in the clear" \
    test "$(holders_of "$MARKER" "${OTHERS[@]}")" -ge 2
finish
