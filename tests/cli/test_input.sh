#!/bin/bash
# put - stores standard input, chunked as it comes: the same key as
# putting the file with that name; empty input works; a file named "-"
# is never read by mistake; an interrupted put - leaves the store as it
# was. Embedded and through a daemon.
. "$(dirname "$0")/lib.sh"

head -c 3000000 /dev/urandom >"$T/in.bin"
echo "not me" >"$T/-"

suite() { # suite MODE DATADIR
    local mode=$1 D=$2
    export EMOFS_HOME=$D
    cd "$T"
    local want got empty before rc
    want=$("$EMOFS" put "$T/in.bin" -q)
    got=$(cat "$T/in.bin" | "$EMOFS" put - --name in.bin -q)
    check "$mode: put - from a pipe gives the key of put FILE" test "$got" = "$want"
    got=$("$EMOFS" put - --name in.bin -q <"$T/in.bin")
    check "$mode: put - from a redirected file gives it too" test "$got" = "$want"
    got=$(cat "$T/in.bin" | "$EMOFS" put - -q)
    "$EMOFS" cat "$got" -q >"$T/back.bin"
    check "$mode: what put - stored comes back byte for byte" cmp -s "$T/in.bin" "$T/back.bin"
    check "  under the name stdin" bash -c "'$EMOFS' manifest show '$got' | grep -q '^name *stdin$'"
    check "$mode: a file named - is not read by put -" \
        bash -c "test \"\$(printf 'abc' | '$EMOFS' put - -q | xargs '$EMOFS' cat -q)\" = abc"
    empty=$(printf '' | "$EMOFS" put - -q)
    check "$mode: empty standard input is an empty file" \
        test "$("$EMOFS" cat "$empty" -q | wc -c)" -eq 0
    set +e
    printf 'x' | "$EMOFS" put - --name a/b -q >/dev/null 2>"$T/err"
    rc=$?
    set -e
    check "$mode: a bad --name is a usage error (exit $rc)" test "$rc" -eq 2 -a "$(wc -l <"$T/err")" -eq 1

    # An endless input, interrupted: the put is rolled back.
    before=$(blob_count "$D")
    head -c $((200 << 20)) /dev/urandom >"$T/long.bin"
    "$EMOFS" put - -q <"$T/long.bin" >"$T/out" 2>"$T/err" &
    local pid=$!
    sleep 0.4
    kill -INT "$pid"
    set +e
    wait "$pid"
    rc=$?
    set -e
    if [ "$rc" -eq 130 ]; then
        check "$mode: put - interrupted: one line, the store as it was" \
            test "$(cat "$T/err")" = "emofs: interrupted" -a "$(blob_count "$D")" -eq "$before"
    else
        check "$mode: put - interrupted late had finished (exit $rc)" test "$rc" -eq 0
    fi
}

suite embedded "$T/e"
net_start d1
suite daemon "$T/d1"
check "the daemon is still running" kill -0 "${NET_PID[d1]}"
finish
