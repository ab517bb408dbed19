#!/bin/bash
# Output never clobbers: get and manifest export replace nothing that is
# there (a regular file only with --force), never a symlink, directory or
# device; "-" and FIFOs are streamed into. Run embedded and through a daemon.
. "$(dirname "$0")/lib.sh"

head -c 700000 /dev/urandom >"$T/a.bin"
printf 'alias ll="ls -l"\n' >"$T/.bashrc"

suite() { # suite MODE DATADIR
    local mode=$1 D=$2 W=$T/w-$1
    export EMOFS_HOME=$D
    mkdir -p "$W" && cd "$W"
    local KEY RCKEY
    KEY=$("$EMOFS" put "$T/a.bin" -q)
    RCKEY=$("$EMOFS" put "$T/.bashrc" -q)

    echo "precious" >"$W/x.bin"
    expect 9 "$mode: get onto an existing file" "$EMOFS" get "$KEY" -o "$W/x.bin"
    check "  it is untouched" test "$(cat "$W/x.bin")" = "precious"
    check "  no temporary left" test -z "$(ls -A "$W" | grep -v '^x.bin$')"
    "$EMOFS" get "$KEY" -o "$W/x.bin" --force -q >/dev/null
    check "$mode: --force replaces a regular file" cmp -s "$T/a.bin" "$W/x.bin"
    "$EMOFS" get "$KEY" -o "$W/x.bin" -q >/dev/null
    check "$mode: a file with the same bytes counts as done (exit 0)" cmp -s "$T/a.bin" "$W/x.bin"

    echo "target" >"$W/target"
    ln -s "$W/target" "$W/link"
    expect 9 "$mode: get onto a symlink" "$EMOFS" get "$KEY" -o "$W/link"
    expect 9 "$mode: get onto a symlink, even with --force" "$EMOFS" get "$KEY" -o "$W/link" --force
    check "  the link and its target are untouched" \
        test -L "$W/link" -a "$(cat "$W/target")" = "target"

    mkdir -p "$W/home"
    printf 'mine\n' >"$W/home/.bashrc"
    (cd "$W/home" && expect 9 "$mode: get under a manifest's name that exists (.bashrc)" \
        "$EMOFS" get "$RCKEY")
    check "  the user's .bashrc is untouched" test "$(cat "$W/home/.bashrc")" = "mine"
    (cd "$W/home" && expect 9 "$mode: and with --force: a manifest's name never replaces" \
        "$EMOFS" get "$RCKEY" --force)
    check "  the user's .bashrc is untouched" test "$(cat "$W/home/.bashrc")" = "mine"
    expect 9 "$mode: nor with -o DIR --force" "$EMOFS" get "$RCKEY" -o "$W/home" --force
    check "  the user's .bashrc is untouched" test "$(cat "$W/home/.bashrc")" = "mine"
    "$EMOFS" get "$RCKEY" -o "$W/home/.bashrc" --force -q >/dev/null
    check "$mode: -o FILE --force, a name the user gave, replaces it" cmp -s "$T/.bashrc" "$W/home/.bashrc"

    # The temporary file and journal of a get (.emofs-HEX16.part,
    # .journal) are created afresh or reopened only if they are emofs's
    # own: what else is there under those names stays, and the get stops.
    local part journal
    mkdir -p "$W/la"
    part=$W/la/.emofs-${KEY:0:16}.part
    journal=$W/la/.emofs-${KEY:0:16}.journal
    echo "mine" >"$part"
    expect 9 "$mode: a file of the user's named like the get's .part" "$EMOFS" get "$KEY" -o "$W/la/x.bin"
    check "  is untouched" test "$(cat "$part")" = "mine"
    check "  and nothing else is left" test -z "$(ls -A "$W/la" | grep -v "^.emofs-${KEY:0:16}.part$")"
    rm "$part"
    echo "not a journal" >"$journal"
    expect 9 "$mode: a file of the user's named like the get's journal" "$EMOFS" get "$KEY" -o "$W/la/x.bin"
    check "  is untouched" test "$(cat "$journal")" = "not a journal"
    check "  and no .part is left" test ! -e "$part"
    rm "$journal"
    echo "target" >"$W/la/target"
    ln -s "$W/la/target" "$journal"
    expect 9 "$mode: a symlink where the journal goes" "$EMOFS" get "$KEY" -o "$W/la/x.bin"
    check "  is not followed" test -L "$journal" -a "$(cat "$W/la/target")" = "target"
    rm "$journal"
    ln -s "$W/la/target" "$part"
    expect 9 "$mode: a symlink where the .part goes" "$EMOFS" get "$KEY" -o "$W/la/x.bin"
    check "  is not followed" test -L "$part" -a "$(cat "$W/la/target")" = "target"
    rm "$part"
    "$EMOFS" get "$KEY" -o "$W/la/x.bin" -q >/dev/null
    check "$mode: with them gone the get works" cmp -s "$T/a.bin" "$W/la/x.bin"

    # What a get that died leaves is its own, and the next one takes it:
    # an empty journal, or a header cut short, beside a .part; a whole
    # header with no .part.
    local header state
    header=$(journal_header "$KEY")
    for state in empty cut whole-no-part; do
        rm -f "$W/la/x.bin"
        head -c 5000 /dev/urandom >"$part"
        case $state in
        empty) : >"$journal" ;;
        cut) head -c 13 <(printf "$header") >"$journal" ;;
        whole-no-part) printf "$header" >"$journal" && rm "$part" ;;
        esac
        "$EMOFS" get "$KEY" -o "$W/la/x.bin" -q >/dev/null
        check "$mode: a get restarts over what a dead one left ($state)" cmp -s "$T/a.bin" "$W/la/x.bin"
        check "  and leaves no temporary file" test ! -e "$part" -a ! -e "$journal"
    done
    expect 6 "$mode: -o naming a temporary file's name" "$EMOFS" get "$KEY" -o "$part"
    check "  writes nothing there" test ! -e "$part" -a ! -e "$journal"

    # Names starting .emofs- are emofs's own: a manifest naming one is got
    # only under a name the user gives.
    local TMPKEY
    TMPKEY=$("$EMOFS" put - --name .emofs-0123456789abcdef.part -q <"$T/a.bin")
    mkdir -p "$W/res"
    (cd "$W/res" && expect 6 "$mode: a manifest named .emofs-... is not written under that name" \
        "$EMOFS" get "$TMPKEY")
    check "  and nothing is left" test -z "$(ls -A "$W/res")"
    "$EMOFS" get "$TMPKEY" -o "$W/res/named.bin" -q >/dev/null
    check "  -o PATH gets it" cmp -s "$T/a.bin" "$W/res/named.bin"
    mkdir -p "$W/home2/.bashrc"
    (cd "$W/home2" && expect 9 "$mode: get under a name that is a directory" "$EMOFS" get "$RCKEY")

    "$EMOFS" get "$KEY" -o - -q >"$W/stdout.bin"
    check "$mode: -o - writes the file to stdout" cmp -s "$T/a.bin" "$W/stdout.bin"
    check "  and creates no file named -" test ! -e "$W/-"
    "$EMOFS" cat "$KEY" -q >"$W/cat.bin"
    check "$mode: cat writes the file to stdout" cmp -s "$T/a.bin" "$W/cat.bin"
    mkfifo "$W/fifo"
    cat "$W/fifo" >"$W/fromfifo.bin" &
    local reader=$!
    "$EMOFS" get "$KEY" -o "$W/fifo" -q >/dev/null
    wait "$reader"
    check "$mode: a FIFO is streamed into" cmp -s "$T/a.bin" "$W/fromfifo.bin"
    check "  and stays a FIFO" test -p "$W/fifo"
    "$EMOFS" get "$KEY" -o /dev/null -q >/dev/null
    check "$mode: /dev/null is written into, not replaced" test -c /dev/null

    # Three gets of one key into one place at once: each finishes or
    # says another one runs (exit 7); the file comes out whole.
    mkdir -p "$W/race"
    local pids=() rcs=""
    for i in 1 2 3; do
        (cd "$W/race" && "$EMOFS" get "$KEY" -o x.bin -q >/dev/null 2>"$T/race$i.err") &
        pids+=($!)
    done
    for p in "${pids[@]}"; do
        set +e
        wait "$p"
        rcs="$rcs $?"
        set -e
    done
    check "$mode: concurrent gets of one key into one place: each 0 or 7 (got$rcs)" \
        bash -c "! grep -qvE '^ *(0|7)( (0|7))* *$' <<<'$rcs'"
    check "  the file is whole" cmp -s "$T/a.bin" "$W/race/x.bin"

    "$EMOFS" manifest export "$KEY" -o "$W/m.emofs"
    echo "other" >"$W/m2.emofs"
    expect 9 "$mode: manifest export onto an existing file" \
        "$EMOFS" manifest export "$KEY" -o "$W/m2.emofs"
    check "  it is untouched" test "$(cat "$W/m2.emofs")" = "other"
    "$EMOFS" manifest export "$KEY" -o "$W/m2.emofs" --force
    check "$mode: manifest export --force replaces it" cmp -s "$W/m.emofs" "$W/m2.emofs"
    "$EMOFS" manifest export "$KEY" -o - >"$W/m3.emofs"
    check "$mode: manifest export -o - writes stdout" cmp -s "$W/m.emofs" "$W/m3.emofs"
    cd "$T"
}

suite embedded "$T/e"
net_start d1
suite daemon "$T/d1"
check "the daemon is still running" kill -0 "${NET_PID[d1]}"
finish
