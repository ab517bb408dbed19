#!/bin/bash
# emofs rm and emofs gc (issue 11): rm unpins a file this node published and
# removes its local blobs that no other published file uses, through a
# daemon and embedded; once unpinned the daemon republishes it no more, so
# its copies expire with their TTL (here 6 s, republished every 2 s). gc
# removes blobs no published file uses, and the files of gets that were
# killed, which it knows of from DIR/partials, and nothing else.
. "$(dirname "$0")/lib.sh"

# has_blob DIR KEY: the local store of DIR holds the blob KEY.
has_blob() { test -f "$1/blobs/${2:0:2}/$2"; }
# pieces DIR KEY: the keys of a file's manifest root and chunks.
pieces() {
    echo "$2"
    "$EMOFS" manifest show "$2" --json --data "$1" | grep -oE '"key":"[0-9a-f]{64}"' |
        sed 's/"key":"//; s/"//' | grep -v "^$2$"
}
# all_blobs DIR KEY: every piece of KEY is in DIR's local store.
all_blobs() {
    local k
    for k in $(pieces "$1" "$2"); do has_blob "$1" "$k" || return 1; done
}

mkdir -p "$T/d1"
printf 'ttl 6\nrepublish_interval 2\n' >"$T/d1/config"
net_start d1
net_start d2 "${NET_ADDR[d1]}"
net_start d3 "${NET_ADDR[d1]}"
sleep 0.3

# Two files that share most of their chunks: g is f with more bytes after.
head -c 3000000 /dev/urandom >"$T/f.bin"
{ cat "$T/f.bin"; head -c 300000 /dev/urandom; } >"$T/g.bin"
KF=$("$EMOFS" put -q "$T/f.bin" --data "$T/d1")
KG=$("$EMOFS" put -q "$T/g.bin" --data "$T/d1")
PF=$(pieces "$T/d1" "$KF")
PG=$(pieces "$T/d1" "$KG")
shared=$(comm -12 <(sort <<<"$PF") <(sort <<<"$PG") | wc -l)
only_f=$(comm -23 <(sort <<<"$PF") <(sort <<<"$PG"))
check "the two files share chunks ($shared)" test "$shared" -gt 0
# The data directory was made by the user (mkdir, mode 755 here): what
# emofs writes in it is still private to its owner.
umask_was=$(umask)
check "  DIR/published is private (mode $(stat -c %a "$T/d1/published"))" \
    test "$(stat -c %a "$T/d1/published")" = 600
check "  and so is DIR/node.id (mode $(stat -c %a "$T/d1/node.id"), umask $umask_was)" \
    test "$(stat -c %a "$T/d1/node.id")" = 600
check "and f has blobs of its own ($(wc -l <<<"$only_f"))" test -n "$only_f"

# ---- rm through the daemon ----------------------------------------------------

before=$(blob_count "$T/d1")
out=$("$EMOFS" rm "$KF" --data "$T/d1")
check "rm through the daemon says what it freed: $out" grep -Eq \
    "^unpinned $KF \(f\.bin\): removed [0-9]+ blobs, [0-9.]+ [KMG]?i?B \($shared kept: other published files use them\); copies in the network expire within 6 s$" \
    <<<"$out"
n=$(sed -E 's/.*removed ([0-9]+) blobs.*/\1/' <<<"$out")
check "  it removed exactly f's own blobs ($n)" test "$n" -eq "$(wc -l <<<"$only_f")"
check "  the store lost as many ($before -> $(blob_count "$T/d1"))" \
    test "$(blob_count "$T/d1")" -eq $((before - n))
gone=1
for k in $only_f; do has_blob "$T/d1" "$k" && gone=0; done
check "  none of f's own blobs is left" test "$gone" -eq 1
check "  every blob of g is kept" all_blobs "$T/d1" "$KG"
check "  ls lists g, not f" \
    bash -c "'$EMOFS' ls --bytes --data '$T/d1' | cut -f1 | grep -qx '$KG' &&
             ! '$EMOFS' ls --bytes --data '$T/d1' | grep -q '$KF'"
check "  DIR/published holds no line of f" bash -c "! grep -q '$KF' '$T/d1/published'"
check "  and no temporary beside it" test ! -e "$T/d1/published.tmp"
check "  the daemon logged it" grep -q "RM $KF (f.bin): unpinned, removed $n blobs" "$T/d1.log"

expect 4 "rm of the same key again (not published any more)" "$EMOFS" rm "$KF" --data "$T/d1"
check "  says so" grep -q "is not a file this node published" "$T/err.txt"
expect 4 "rm of a key never published, through the daemon" \
    "$EMOFS" rm "$(printf 'ab%.0s' $(seq 32))" --data "$T/d1"
expect 2 "rm of a malformed key" "$EMOFS" rm nothex --data "$T/d1"
expect 2 "rm without a key" "$EMOFS" rm --data "$T/d1"
expect 2 "rm of two keys" "$EMOFS" rm "$KF" "$KG" --data "$T/d1"
expect 2 "rm with an unknown flag" "$EMOFS" rm "$KF" --frob --data "$T/d1"
expect 2 "gc with an argument" "$EMOFS" gc extra --data "$T/d1"

# ---- after rm, the daemon republishes g, never f -------------------------------

# TTL 6 s, republished every 2 s: after 10 s f's own pieces have expired on
# every node (nobody stores them again), while g's are all still held.
sleep 10
set +e
"$EMOFS" health "$KG" --data "$T/d2" >"$T/hg.txt" 2>&1
rc_g=$?
"$EMOFS" health "$KF" --data "$T/d2" >"$T/hf.txt" 2>&1
rc_f=$?
set -e
check "10 s later g is still held everywhere: $(cat "$T/hg.txt")" test "$rc_g" -eq 0
check "  and f, unpinned, has expired (exit $rc_f): $(cat "$T/hf.txt")" test "$rc_f" -eq 4
check "  the publisher republished meanwhile" grep -q "republished [1-9][0-9]* blobs" "$T/d1.log"

# ---- gc through the daemon ------------------------------------------------------

# An orphan: a valid blob that no published file uses.
head -c 5000 /dev/urandom >"$T/orphan"
OK=$(sha256sum "$T/orphan" | cut -c1-64)
mkdir -p "$T/d1/blobs/${OK:0:2}"
cp "$T/orphan" "$T/d1/blobs/${OK:0:2}/$OK"
before=$(blob_count "$T/d1")
out=$("$EMOFS" gc --data "$T/d1")
check "gc through the daemon removes the orphan: $out" \
    grep -Eq '^removed 1 unused blobs \(4\.9 KiB\) and 0 files of abandoned gets' <<<"$out"
check "  and only it" test "$(blob_count "$T/d1")" -eq $((before - 1))
check "  the orphan is gone" bash -c "! test -e '$T/d1/blobs/${OK:0:2}/$OK'"
check "  every blob of g is kept" all_blobs "$T/d1" "$KG"
out=$("$EMOFS" gc --json --data "$T/d1")
check "a second gc finds nothing: $out" grep -q '"blobs":0,"bytes":0,"partials":0' <<<"$out"

# g's local blobs alone make it whole: with the daemon stopped and the copies
# it held for others gone, an embedded node with no peers gets it from them.
net_stop d1
rm -rf "$T/d1/replicas"
(cd "$T" && "$EMOFS" get "$KG" -o "$T/g.out" -q --data "$T/d1" >/dev/null)
check "g, sharing chunks with the removed f, still gets byte-identical" cmp -s "$T/g.bin" "$T/g.out"

# ---- rm embedded -----------------------------------------------------------------

head -c 700000 /dev/urandom >"$T/h.bin"
KH=$("$EMOFS" put -q "$T/h.bin" --data "$T/d1")
PH=$(pieces "$T/d1" "$KH")
before=$(blob_count "$T/d1")
out=$("$EMOFS" rm "$KH" --json --data "$T/d1")
check "rm embedded (no daemon), --json: $out" \
    grep -Eq "^\{\"key\":\"$KH\",\"name\":\"h\.bin\",\"blobs\":$(wc -l <<<"$PH"),\"bytes\":[0-9]+,\"shared\":0,\"ttl\":6\}$" <<<"$out"
check "  its blobs are gone" test "$(blob_count "$T/d1")" -eq $((before - $(wc -l <<<"$PH")))
check "  g's are kept" all_blobs "$T/d1" "$KG"
expect 4 "rm embedded of a key not published" "$EMOFS" rm "$KH" --data "$T/d1"

# ---- gc of a get killed with kill -9, embedded ------------------------------------

# Large enough (~60 chunks) that the chunks written before the crash
# point is seen (3, plus those the workers landed meanwhile: up to 32 in
# flight) never cover it all; at 3 MB they once did.
head -c 16000000 /dev/urandom >"$T/big.bin"
KB=$("$EMOFS" put -q "$T/big.bin" --data "$T/d2")
EMOFS_TEST_BIN=$(realpath "${EMOFS_TEST_BIN:-$(dirname "$EMOFS")/emofs-test}")
mkdir -p "$T/out"
echo "mine" >"$T/out/mine.txt"
echo "mine too" >"$T/out/.emofs-0123456789abcdef.part" # looks like one, never recorded
set +e
(cd "$T/out" && EMOFS_TEST_CRASH_AFTER_CHUNKS=3 "$EMOFS_TEST_BIN" get "$KB" --data "$T/e1" \
    --bootstrap "${NET_ADDR[d2]}" -q >/dev/null 2>&1)
rc=$?
set -e
check "the get died as with kill -9 (exit $rc)" test "$rc" -eq 137
part=$T/out/.emofs-${KB:0:16}.part
journal=$T/out/.emofs-${KB:0:16}.journal
check "  it left its temporary file and journal" test -f "$part" -a -f "$journal"
# Space is taken only as verified chunks are written: the temporary file
# has the file's size but holds blocks for the 3 chunks written only
# (reserving it all up front, as a get did, holds at least the size).
held=$(( $(stat -c '%b * %B' "$part") ))
check "  the temporary file holds $held bytes on disk of its $(stat -c %s "$part")" \
    test "$held" -lt 16000000
check "  and DIR/partials records where" grep -qx "$KB $T/out" "$T/e1/partials"
check "  privately (mode $(stat -c %a "$T/e1/partials"))" test "$(stat -c %a "$T/e1/partials")" = 600
out=$("$EMOFS" gc --data "$T/e1")
check "gc embedded removes them: $out" \
    grep -Eq '^removed 0 unused blobs \(0 B\) and 2 files of abandoned gets \([0-9.]+ MiB\)$' <<<"$out"
check "  both are gone" test ! -e "$part" -a ! -e "$journal"
check "  and their line" bash -c "! grep -q '$KB' '$T/e1/partials'"
check "  the user's files stay, even one named like a get's" \
    test -f "$T/out/mine.txt" -a -f "$T/out/.emofs-0123456789abcdef.part"

# A get that completes takes its line out again.
(cd "$T/out" && "$EMOFS" get "$KB" --data "$T/e1" --bootstrap "${NET_ADDR[d2]}" -q >/dev/null)
check "a complete get afterwards is byte-identical" cmp -s "$T/big.bin" "$T/out/big.bin"
check "  and leaves no line in DIR/partials" bash -c "! grep -q '$KB' '$T/e1/partials'"

# A recorded get still running (its journal locked, as a get holds it) is
# left alone, through the daemon too.
mkdir -p "$T/run"
KR=$(printf 'cd%.0s' $(seq 32))
printf "$(journal_header "$KR")" >"$T/run/.emofs-${KR:0:16}.journal"
head -c 1000 /dev/urandom >"$T/run/.emofs-${KR:0:16}.part"
echo "$KR $T/run" >>"$T/d2/partials"
(exec 9<>"$T/run/.emofs-${KR:0:16}.journal" && flock 9 && exec sleep 30) &
LOCKER=$!
sleep 0.3
out=$("$EMOFS" gc --data "$T/d2")
check "gc through a daemon leaves a running get's files: $out" \
    grep -q "and 0 files of abandoned gets (0 B); 1 gets still running kept theirs" <<<"$out"
check "  they are still there" \
    test -f "$T/run/.emofs-${KR:0:16}.part" -a -f "$T/run/.emofs-${KR:0:16}.journal"
kill "$LOCKER"
wait "$LOCKER" 2>/dev/null || true
out=$("$EMOFS" gc --data "$T/d2")
check "once it is gone, gc removes them: $out" grep -q "and 2 files of abandoned gets" <<<"$out"
check "  they are gone" test ! -e "$T/run/.emofs-${KR:0:16}.part"
check "  the daemon logged its gc" grep -q "GC: removed 0 blobs, 0 B, and 2 files of abandoned gets" \
    "$T/d2.log"
# A recorded get whose .part is a hard link to a file of the user's (a
# trap in a shared directory): gc removes the journal, never the link.
mkdir -p "$T/trap"
echo "precious" >"$T/trap/precious.txt"
printf "$(journal_header "$KR")" >"$T/trap/.emofs-${KR:0:16}.journal"
ln "$T/trap/precious.txt" "$T/trap/.emofs-${KR:0:16}.part"
echo "$KR $T/trap" >>"$T/e1/partials"
out=$("$EMOFS" gc --data "$T/e1")
check "gc leaves a .part that is a hard link to another file: $out" \
    test -f "$T/trap/.emofs-${KR:0:16}.part" -a "$(cat "$T/trap/precious.txt")" = "precious"
check "the help of rm and gc say what they do" \
    bash -c "'$EMOFS' rm --help | grep -q 'expire' && '$EMOFS' gc --help | grep -q 'abandoned'"
finish
