#!/bin/bash
# A damaged pinned blob (issue 11, bad input): the publisher that finds one
# of its own blobs damaged on disk removes it and fetches it again from the
# network, so that the file stays pinned: found by a get through its
# daemon, by its republish, and by gc.
. "$(dirname "$0")/lib.sh"

# intact FILE: the blob's bytes hash to its name.
intact() { [ -f "$1" ] && [ "$(sha256sum <"$1" | cut -c1-64)" = "$(basename "$1")" ]; }
not_intact() { ! intact "$1"; }
all_intact() {
    local b
    for b in "$@"; do intact "$b" || return 1; done
}
# damage FILE: flips a byte in the middle.
damage() { damage_byte "$1" $(($(stat -c %s "$1") / 2)); }
# chunk_blobs DIR KEY: the pinned blobs of DIR but the manifest's.
chunk_blobs() {
    find "$1/blobs" -type f -size +20k -not -path "$1/blobs/tmp/*" -not -name "$2" | sort
}

mkdir -p "$T/d1"
echo "republish_interval 3" >"$T/d1/config"
net_start d1
for i in 2 3 4; do net_start d$i "${NET_ADDR[d1]}"; done
sleep 0.3
head -c 2000000 /dev/urandom >"$T/f.bin"
KEY=$("$EMOFS" put -q "$T/f.bin" --data "$T/d1")
mapfile -t blobs < <(chunk_blobs "$T/d1" "$KEY")
check "the publisher pins the file's chunks (${#blobs[@]})" test "${#blobs[@]}" -ge 2

# Found by a get through the publisher's daemon.
damage "${blobs[0]}"
check "a pinned chunk is damaged on disk" not_intact "${blobs[0]}"
"$EMOFS" get "$KEY" -o "$T/got.bin" -q --data "$T/d1" >/dev/null
check "a get through the publisher is byte-identical" cmp -s "$T/f.bin" "$T/got.bin"
check "  and the damaged chunk is pinned again, intact" intact "${blobs[0]}"

# Found by the republish (every 3 s here).
damage "${blobs[1]}"
for _ in $(seq 1 100); do intact "${blobs[1]}" && break; sleep 0.1; done
check "a chunk damaged between republishes is pinned again, intact" intact "${blobs[1]}"
check "every chunk is pinned and intact" all_intact "${blobs[@]}"

# Found by gc (it reads the manifests of what is published): on a daemon
# that republishes only twice a day, so that gc alone can have found it.
net_start p2 "${NET_ADDR[d2]}"
head -c 500000 /dev/urandom >"$T/g.bin"
KG=$("$EMOFS" put -q "$T/g.bin" --data "$T/p2")
root=$(find "$T/p2/blobs" -type f -name "$KG")
damage "$root"
check "the manifest of a published file is damaged on disk" not_intact "$root"
out=$("$EMOFS" gc --data "$T/p2" 2>&1 || true)
check "gc removes nothing and says why: $out" grep -q "being fetched again" <<<"$out"
for _ in $(seq 1 50); do intact "$root" && break; sleep 0.1; done
check "  and the manifest is pinned again, intact" intact "$root"
out=$("$EMOFS" gc --data "$T/p2" 2>&1)
check "  a second gc finds the file whole: $out" grep -q "^removed 0 unused blobs" <<<"$out"
finish
