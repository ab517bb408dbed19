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

    # Interrupted while it waits for its first byte.
    sleep 30 | "$EMOFS" put - -q >/dev/null 2>"$T/err" &
    local idle=$!
    sleep 0.5
    pkill -INT -f "^$EMOFS put - -q$" || true
    sleep 1 # its SIGINT handled (a put given EOF instead would finish, and fail the check)
    pkill -f "^sleep 30$" || true # or wait would wait for the whole pipeline
    set +e
    wait "$idle"
    set -e
    check "$mode: put - interrupted before any input: one line" \
        test "$(cat "$T/err")" = "emofs: interrupted"

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

# Two puts of the same bytes through one daemon: one stalls before the end
# of its input, the other completes; canceling the first must not take
# back blobs the completed one relies on.
export EMOFS_HOME=$T/d1
head -c 20000000 /dev/urandom >"$T/same.bin"
{ cat "$T/same.bin"; sleep 30; } | "$EMOFS" put - --name same.bin -q >/dev/null 2>&1 &
stalled=$!
for _ in $(seq 1 100); do
    [ "$(blob_count "$T/d1")" -gt 10 ] && break
    sleep 0.05
done
KEY=$("$EMOFS" put "$T/same.bin" -q)
pkill -INT -f "put - --name same.bin" || true
sleep 1
pkill -f "^sleep 30$" || true # or wait would wait for the whole pipeline
set +e
wait "$stalled" 2>/dev/null
set -e
sleep 0.5
"$EMOFS" cat "$KEY" -q >"$T/same.back" || true
check "a canceled put keeps the blobs a completed put of the same bytes relies on" \
    cmp -s "$T/same.bin" "$T/same.back"
check "the daemon is still running" kill -0 "${NET_PID[d1]}"
finish
