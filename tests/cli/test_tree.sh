#!/bin/bash
# put DIR stores a tree (files, directories, symlinks as links, modes);
# get KEY recreates it, never writing outside the target, resumably; an
# interrupted tree put leaves the store as it was. Embedded and through a
# daemon.
. "$(dirname "$0")/lib.sh"

# A tree with a bit of everything.
S=$T/src/photos
mkdir -p "$S/2025/summer" "$S/empty" "$S/private"
head -c 2500000 /dev/urandom >"$S/2025/summer/beach.raw"
head -c 700000 /dev/urandom >"$S/2025/city.raw"
printf 'notes\n' >"$S/README"
: >"$S/2025/zero"
printf 'secret\n' >"$S/private/key"
chmod 600 "$S/private/key"
chmod 700 "$S/private"
chmod 751 "$S/2025"
ln -s README "$S/readme-link"
ln -s ../../outside "$S/2025/escape"
ln -s /etc/hostname "$S/absolute"
mkfifo "$S/pipe"

# same_tree A B: same names, kinds, modes, link targets and file bytes.
same_tree() {
    local a=$1 b=$2 differences
    diff <(cd "$a" && find . -not -type p -printf '%p %y %m %l\n' | sort) \
         <(cd "$b" && find . -printf '%p %y %m %l\n' | sort) >/dev/null || return 1
    differences=$(diff -r --no-dereference "$a" "$b" 2>&1 || true)
    test -z "$(grep -v "^Only in $a: pipe$" <<<"$differences")"
}

suite() { # suite MODE DATADIR
    local mode=$1 D=$2 W=$T/w-$1 key rc before
    export EMOFS_HOME=$D
    mkdir -p "$W"
    key=$("$EMOFS" put "$S" -q)
    check "$mode: put DIR prints a key" test "${#key}" -eq 64
    (cd "$W" && "$EMOFS" get "$key" -q >/dev/null)
    check "$mode: get KEY recreates the tree under its name" same_tree "$S" "$W/photos"
    check "  links stay links, with their targets" \
        test "$(readlink "$W/photos/2025/escape")" = "../../outside" -a -L "$W/photos/absolute"
    check "  nothing was written outside the target" test ! -e "$T/outside" -a ! -e "$W/outside"
    check "  no temporary directory is left" test -z "$(ls -A "$W" | grep -v '^photos$')"
    "$EMOFS" get "$key" -o "$W/copy" -q >/dev/null
    check "$mode: get -o NEW names the tree's directory" same_tree "$S" "$W/copy"
    (cd "$W" && expect 9 "$mode: get where its directory exists already" "$EMOFS" get "$key")
    check "  the existing directory is untouched" same_tree "$S" "$W/photos"
    expect 6 "$mode: cat of a directory" "$EMOFS" cat "$key"

    # An unfinished get's files (.emofs-*) in a directory put are not the
    # user's: skipped and said so; the tree gets back without them.
    mkdir -p "$T/half-$mode"
    printf 'kept\n' >"$T/half-$mode/kept.txt"
    printf 'part\n' >"$T/half-$mode/.emofs-0123456789abcdef.part"
    printf 'journal\n' >"$T/half-$mode/.emofs-0123456789abcdef.journal"
    printf 'mine\n' >"$T/half-$mode/.emofs-notes.txt" # a name like theirs, but the user's
    local halfkey
    halfkey=$("$EMOFS" put "$T/half-$mode" 2>"$T/half.err" | tail -1)
    check "$mode: put DIR skips an unfinished get's files: $(grep -o 'skipped.*' "$T/half.err" || cat "$T/half.err")" \
        grep -q "skipped 2 temporary files of unfinished gets" "$T/half.err"
    "$EMOFS" get "$halfkey" -o "$W/half" -q >/dev/null
    check "  the tree gets back without them, with the user's .emofs-notes.txt" \
        test "$(ls -A "$W/half" | tr '\n' ' ')" = ".emofs-notes.txt kept.txt "
    check "$mode: ls shows the directory with a /" \
        bash -c "'$EMOFS' ls | grep -q \"^$key\\s.*photos/\$\""

    # A larger tree, got with an interrupt, then again: it resumes.
    mkdir -p "$T/big-$mode/sub"
    for i in 1 2 3 4 5 6; do head -c 3000000 /dev/urandom >"$T/big-$mode/sub/f$i"; done
    local bigkey
    bigkey=$("$EMOFS" put "$T/big-$mode" -q)
    run_bg "$EMOFS" get "$bigkey" -o "$W/again" -q
    sleep 0.05
    kill -INT "$BG" 2>/dev/null || true
    set +e
    wait "$BG"
    rc=$?
    set -e
    if [ "$rc" -eq 130 ]; then
        check "$mode: an interrupted tree get leaves nothing under the final name" \
            test ! -e "$W/again"
        "$EMOFS" get "$bigkey" -o "$W/again" -q >/dev/null
    fi
    check "$mode: the next get completes the tree (first run: exit $rc)" \
        same_tree "$T/big-$mode" "$W/again"
    check "  and leaves no temporary directory" test -z "$(ls -A "$W" | grep '^\.emofs')"

    # An interrupted tree put: the store as it was.
    mkdir -p "$T/big2-$mode"
    for i in 1 2 3 4 5 6; do head -c 3000000 /dev/urandom >"$T/big2-$mode/f$i"; done
    before=$(blob_count "$D")
    run_bg "$EMOFS" put "$T/big2-$mode" -q
    sleep 0.1
    kill -INT "$BG" 2>/dev/null || true
    set +e
    wait "$BG"
    rc=$?
    set -e
    if [ "$rc" -eq 130 ]; then
        check "$mode: an interrupted tree put leaves the store as it was" \
            test "$(blob_count "$D")" -eq "$before"
    else
        check "$mode: a tree put interrupted late had finished (exit $rc)" test "$rc" -eq 0
    fi
}

# run_bg command...: starts it in the background with output to files; BG=pid.
run_bg() { "$@" >"$T/bg.out" 2>"$T/bg.err" & BG=$!; }

suite embedded "$T/e"
net_start d1
suite daemon "$T/d1"

# A directory's manifest file carries the whole tree: shown, exported,
# imported elsewhere, and got from the file by a node that joins.
export EMOFS_HOME=$T/d1
KEY=$("$EMOFS" put "$S" -q)
check "manifest show of a directory lists its entries" \
    bash -c "'$EMOFS' manifest show '$KEY' | grep -q '^dir   0751 .* 2025/'"
check "manifest show --json of a directory says kind dir" \
    bash -c "'$EMOFS' manifest show '$KEY' --json | grep -q '\"kind\":\"dir\"'"
"$EMOFS" manifest export "$KEY" -o "$T/photos.emofs"
check "the exported tree imports into a fresh data directory, same key" \
    test "$(EMOFS_HOME=$T/o1 "$EMOFS" manifest import "$T/photos.emofs")" = "$KEY"
mkdir -p "$T/o1w"
(cd "$T/o1w" && EMOFS_HOME=$T/o2 "$EMOFS" get "$T/photos.emofs" --bootstrap "${NET_ADDR[d1]}" -q \
    >/dev/null)
check "a node that joins gets the tree from the manifest file" same_tree "$S" "$T/o1w/photos"
check "the daemon is still running" kill -0 "${NET_PID[d1]}"
finish
