#!/bin/bash
# A manifest as one line of text: `emofs manifest export KEY --text` prints
# "emofs:" and the manifest file in base64url; get, manifest import and
# show take the line; a damaged or truncated line is refused with exit 8; a
# manifest too large for a line is refused with a hint to use -o FILE.
. "$(dirname "$0")/lib.sh"

D=$T/home
export EMOFS_HOME=$D
mkdir -p "$T/w" && cd "$T/w"

head -c 3000000 /dev/urandom >"$T/a.bin"
KEY=$("$EMOFS" put -q "$T/a.bin")
"$EMOFS" manifest export "$KEY" -o "$T/a.emofs"
LINE=$("$EMOFS" manifest export "$KEY" --text)
check "export --text prints one line: emofs: and base64url only" \
    bash -c "[[ '$LINE' =~ ^emofs:[A-Za-z0-9_-]+$ ]]"
check "  as many lines as one" test "$("$EMOFS" manifest export "$KEY" --text | wc -l)" -eq 1
# The same bytes as the manifest file, through coreutils' own decoder.
b64=${LINE#emofs:}
while [ $((${#b64} % 4)) -ne 0 ]; do b64+="="; done
check "  it is the manifest file in base64url (basenc decodes it)" \
    bash -c "printf '%s' '$b64' | basenc -d --base64url | cmp -s - '$T/a.emofs'"
check "  the same line from the manifest file" \
    test "$("$EMOFS" manifest export "$T/a.emofs" --text)" = "$LINE"
"$EMOFS" manifest export "$KEY" --text -o "$T/a.txt"
check "  --text -o FILE writes the line to FILE" test "$(cat "$T/a.txt")" = "$LINE"

check "manifest import LINE on another data directory prints the key" \
    test "$("$EMOFS" manifest import "$LINE" --data "$T/other")" = "$KEY"
check "  manifest show then works there, offline" \
    bash -c "'$EMOFS' manifest show '$KEY' --data '$T/other' | grep -q '^name *a.bin'"
check "manifest show LINE" bash -c "'$EMOFS' manifest show '$LINE' --data '$T/other2' | grep -q '^key *$KEY'"
"$EMOFS" get "$LINE" -o "$T/got.bin" -q >/dev/null
check "get LINE writes the file" cmp -s "$T/a.bin" "$T/got.bin"
"$EMOFS" get " $LINE"$'\n' -o "$T/got2.bin" -q >/dev/null
check "get takes the line pasted with blanks around it" cmp -s "$T/a.bin" "$T/got2.bin"

expect 8 "get of a truncated line" "$EMOFS" get "${LINE:0:$((${#LINE} - 10))}"
check "  says the text is damaged" grep -q "manifest text is damaged or incomplete" "$T/err.txt"
expect 8 "manifest import of a truncated line" "$EMOFS" manifest import "${LINE:0:200}"
# One character changed in the middle.
mid=$((${#LINE} / 2))
c=${LINE:$mid:1}; [ "$c" = A ] && r=B || r=A
expect 8 "get of a line with one character changed" \
    "$EMOFS" get "${LINE:0:$mid}$r${LINE:$((mid + 1))}"
expect 8 "manifest import of a line that is not base64url" "$EMOFS" manifest import "emofs:abc+/def"
expect 8 "manifest import of 'emofs:' alone" "$EMOFS" manifest import "emofs:"
check "  none of them left a file" test -z "$(ls -A "$T/w")"

expect 2 "manifest export with neither -o nor --text" "$EMOFS" manifest export "$KEY"
expect 2 "--text for import" "$EMOFS" manifest import "$LINE" --text
check "manifest --help tells of --text" bash -c "'$EMOFS' manifest --help | grep -q -- '--text'"

# A manifest too large for one line: a hand-made manifest file (schema/
# manifest.md, sections 2 and 5) of one root node listing 1500 chunks of
# 64 KiB each (the chunks need not exist to import and export it).
le() { # le VALUE BYTES: VALUE little-endian
    local v=$1 n=$2 i
    for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(((v >> (8 * i)) & 255)))"; done
}
N=1500
{
    printf 'EMOM\x01\x01\x00'
    le $((N * 65536)) 8
    head -c 32 /dev/urandom
    printf '\x07big.bin'
    le $N 4
    head -c $((N * 32)) /dev/urandom | xxd -p -c 32 | sed 's/$/00000100/' | xxd -r -p
} >"$T/root.node"
{
    printf 'EMOF\x01'
    le 1 4
    sha256sum "$T/root.node" | cut -c1-64 | xxd -r -p
    le "$(stat -c %s "$T/root.node")" 4
    cat "$T/root.node"
} >"$T/big.emofs"
BIG=$("$EMOFS" manifest import "$T/big.emofs")
check "a hand-made manifest file of $N chunks imports" test "${#BIG}" -eq 64
expect 2 "export --text of a manifest too large for one line" \
    "$EMOFS" manifest export "$BIG" --text
check "  says how long and what to do instead" \
    grep -Eq "too large for one line \(([0-9]+) characters, at most 65536\).*-o FILE" "$T/err.txt"
expect 2 "  from the manifest file too" "$EMOFS" manifest export "$T/big.emofs" --text
"$EMOFS" manifest export "$BIG" -o "$T/big2.emofs"
check "  while export -o FILE works" cmp -s "$T/big.emofs" "$T/big2.emofs"
finish
