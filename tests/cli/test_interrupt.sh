#!/bin/bash
# Ctrl-C never hurts: puts and gets through a daemon are interrupted at 20
# different moments (and a few embedded ones); after each the daemon is
# alive, an interrupted put left the store as it was, an interrupted get
# left nothing under the final name, and a later get resumes. A daemon
# killed with -9 leaves a stale socket that the next command names.
. "$(dirname "$0")/lib.sh"

net_start n1
net_start n2 "${NET_ADDR[n1]}"
sleep 0.3

# run_interrupted DELAY OUT ERR command...: starts the command, sends it
# SIGINT after DELAY seconds, sets RC to its exit code.
run_interrupted() {
    local delay=$1 out=$2 err=$3; shift 3
    "$@" >"$out" 2>"$err" &
    local pid=$!
    sleep "$delay"
    kill -INT "$pid" 2>/dev/null || true
    set +e
    wait "$pid"
    RC=$?
    set -e
}

daemon_alive() {
    kill -0 "${NET_PID[n1]}" 2>/dev/null &&
        "$EMOFS" status --data "$T/n1" 2>&1 | grep -q "^address  *${NET_ADDR[n1]}"
}

# How long an uninterrupted put and get take here (sanitizers are slower).
for i in $(seq 0 10); do head -c $((12 << 20)) /dev/urandom >"$T/f$i.bin"; done
t0=$(date +%s%N)
"$EMOFS" put "$T/f10.bin" --data "$T/n1" -q >/dev/null
put_ms=$((($(date +%s%N) - t0) / 1000000))
head -c $((40 << 20)) /dev/urandom >"$T/f0.bin"
KEY=$("$EMOFS" put "$T/f0.bin" --data "$T/n2" -q | tail -1)
mkdir -p "$T/o"
t0=$(date +%s%N)
"$EMOFS" get "$KEY" -o "$T/o/probe.bin" --data "$T/n1" -q >/dev/null
get_ms=$((($(date +%s%N) - t0) / 1000000))
rm -f "$T/o/probe.bin"
echo "uninterrupted: put ${put_ms} ms, get ${get_ms} ms"

# 10 puts, interrupted from the start to near the end of a put's time.
completed_puts=()
for i in $(seq 1 10); do
    delay=$(awk -v ms="$put_ms" -v i="$i" 'BEGIN { printf "%.3f", (ms * (i - 1) / 12) / 1000 + 0.005 }')
    before=$(blob_count "$T/n1")
    run_interrupted "$delay" "$T/put.out" "$T/put.err" \
        "$EMOFS" put "$T/f$i.bin" --data "$T/n1" -q
    if [ "$RC" -eq 130 ]; then
        check "put interrupted after ${delay}s: exit 130, one line, store as it was" \
            test "$(cat "$T/put.err")" = "emofs: interrupted" -a \
            "$(blob_count "$T/n1")" -eq "$before" -a ! -s "$T/put.out"
    elif [ "$RC" -eq 0 ]; then
        completed_puts+=("$i:$(tail -1 "$T/put.out")")
        ok "put interrupted after ${delay}s had already finished (exit 0)"
    else
        bad "put interrupted after ${delay}s: exit $RC: $(cat "$T/put.err")"
    fi
    check "  the daemon is alive and answers" daemon_alive
done
for entry in "${completed_puts[@]}"; do
    check "a put that finished despite the interrupt is whole" \
        bash -c "'$EMOFS' cat '${entry#*:}' --data '$T/n1' -q | cmp -s - '$T/f${entry%%:*}.bin'"
done

# 10 gets of a file n1 does not hold, interrupted from start to near the end.
for i in $(seq 1 10); do
    delay=$(awk -v ms="$get_ms" -v i="$i" 'BEGIN { printf "%.3f", (ms * (i - 1) / 12) / 1000 + 0.005 }')
    run_interrupted "$delay" "$T/get.out" "$T/get.err" \
        "$EMOFS" get "$KEY" -o "$T/o/f0.bin" --data "$T/n1" -q
    if [ "$RC" -eq 130 ]; then
        check "get interrupted after ${delay}s: exit 130, one line, nothing under the final name" \
            test "$(cat "$T/get.err")" = "emofs: interrupted" -a ! -e "$T/o/f0.bin"
    elif [ "$RC" -eq 0 ]; then
        check "get interrupted after ${delay}s had already finished, byte-identical" \
            cmp -s "$T/f0.bin" "$T/o/f0.bin"
        rm -f "$T/o/f0.bin"
    else
        bad "get interrupted after ${delay}s: exit $RC: $(cat "$T/get.err")"
    fi
    check "  the daemon is alive and answers" daemon_alive
done
sleep 0.3
check "nothing appeared under the final name after the interrupts" test ! -e "$T/o/f0.bin"

# The temporary file stays after an interrupted get, and the next get uses it.
run_interrupted "$(awk -v ms="$get_ms" 'BEGIN { printf "%.3f", ms / 2000 }')" \
    "$T/get.out" "$T/get.err" "$EMOFS" get "$KEY" -o "$T/o/f0.bin" --data "$T/n1" -q
if [ "$RC" -eq 130 ]; then
    check "an interrupted get keeps its temporary file for a resume" \
        bash -c "ls -A '$T/o' | grep -q '\.part$'"
fi
"$EMOFS" get "$KEY" -o "$T/o/f0.bin" --data "$T/n1" >/dev/null 2>"$T/get.err"
check "the next get completes, byte-identical" cmp -s "$T/f0.bin" "$T/o/f0.bin"
check "  and leaves no temporary file" test -z "$(ls -A "$T/o" | grep -v '^f0.bin$')"

# A streamed get (cat) interrupted: exit 130, the daemon lives on.
run_interrupted 0.05 /dev/null "$T/cat.err" "$EMOFS" cat "$KEY" --data "$T/n1"
check "cat interrupted: exit 130 or done" test "$RC" -eq 130 -o "$RC" -eq 0
check "  the daemon is alive and answers" daemon_alive

# A reader that goes away cancels a streamed get.
set +e
"$EMOFS" cat "$KEY" --data "$T/n1" 2>"$T/cat.err" | head -c 1000 >/dev/null
rc=${PIPESTATUS[0]}
set -e
check "cat into a closed pipe: exit 6, one line" \
    test "$rc" -eq 6 -a "$(wc -l <"$T/cat.err")" -eq 1
check "  the daemon is alive and answers" daemon_alive

# Embedded nodes (no daemon on the data directory), interrupted too.
before=$(blob_count "$T/e")
run_interrupted 0.03 "$T/put.out" "$T/put.err" \
    "$EMOFS" put "$T/f1.bin" --data "$T/e" --bootstrap "${NET_ADDR[n2]}" -q
if [ "$RC" -eq 130 ]; then
    check "embedded put interrupted: one line, store as it was" \
        test "$(cat "$T/put.err")" = "emofs: interrupted" -a "$(blob_count "$T/e")" -eq "$before"
else
    check "embedded put interrupted late had finished" test "$RC" -eq 0
fi
mkdir -p "$T/o2"
run_interrupted 0.03 "$T/get.out" "$T/get.err" \
    "$EMOFS" get "$KEY" -o "$T/o2/f0.bin" --data "$T/e" --bootstrap "${NET_ADDR[n2]}" -q
if [ "$RC" -eq 130 ]; then
    check "embedded get interrupted: one line, nothing under the final name" \
        test "$(cat "$T/get.err")" = "emofs: interrupted" -a ! -e "$T/o2/f0.bin"
else
    check "embedded get interrupted late had finished" cmp -s "$T/f0.bin" "$T/o2/f0.bin"
fi

# An interrupt that comes after the put is done, while the command prints
# its key: too late to undo anything, so the command must finish (exit 0,
# the key) rather than die of the signal (exit 130 with the blobs kept).
# The window is made wide on purpose: stdout is a FIFO already full, so
# printing the key blocks until the test drains it. late_interrupt MODE
# DATADIR
DEFAULT_INT=
if env --default-signal=INT true 2>/dev/null; then DEFAULT_INT="env --default-signal=INT"; fi
late_interrupt() {
    local mode=$1 d=$2 pid catpid rc before key
    mkdir -p "$T/late-$mode"
    head -c 3000000 /dev/urandom >"$T/late-$mode/a.bin"
    head -c 3000000 /dev/urandom >"$T/late-$mode/b.bin"
    before=$(blob_count "$d")
    rm -f "$T/full" && mkfifo "$T/full"
    exec 7<>"$T/full" # holds both ends: opening it never blocks, and it stays unread
    dd if=/dev/zero of="$T/full" bs=4096 count=4096 oflag=nonblock 7>&- 2>/dev/null || true
    # As from a terminal: SIGINT not ignored, as it is for a background job of a script.
    $DEFAULT_INT "$EMOFS" put "$T/late-$mode" --data "$d" -q >"$T/full" 2>"$T/late.err" 7>&- &
    pid=$!
    for _ in $(seq 1 200); do # the put is done when it is listed
        grep -qs " late-$mode/\$" "$d/published" && break
        sleep 0.05
    done
    sleep 0.5 # now blocked writing the key
    kill -INT "$pid" 2>/dev/null || true
    sleep 0.2
    exec 8<"$T/full" # a reader, opened while fd 7 is a writer so that it does not block
    cat <&8 >"$T/drained" 7>&- 8<&- &
    catpid=$!
    exec 7>&- 8<&- # cat sees the end once the put has exited
    set +e
    wait "$pid"
    rc=$?
    set -e
    wait "$catpid" || true
    key=$(tail -c 65 "$T/drained" | head -c 64 | tr -d '\0')
    if [ "$rc" -eq 130 ]; then
        check "$mode: put interrupted while printing its key: exit 130, store as it was" \
            test "$(blob_count "$d")" -eq "$before"
    else
        check "$mode: put interrupted while printing its key finishes: exit 0 (exit $rc)" \
            test "$rc" -eq 0
        check "  and prints its key, and nothing on stderr" \
            test "${#key}" -eq 64 -a ! -s "$T/late.err"
        check "  the tree is whole" bash -c "'$EMOFS' manifest show '$key' --data '$d' |
            grep -q 'b.bin'"
    fi
}
late_interrupt embedded "$T/late-data"
late_interrupt daemon "$T/n1"

# A client killed with -9 mid-put or mid-get: the daemon cancels and undoes
# the request all the same, and serves on.
head -c $((12 << 20)) /dev/urandom >"$T/f11.bin"
before=$(blob_count "$T/n1")
"$EMOFS" put "$T/f11.bin" --data "$T/n1" -q >/dev/null 2>&1 &
pid=$!
sleep "$(awk -v ms="$put_ms" 'BEGIN { printf "%.3f", ms / 3000 }')"
kill -9 "$pid" 2>/dev/null || true
{ wait "$pid"; } 2>/dev/null || true
for _ in $(seq 1 100); do
    [ "$(blob_count "$T/n1")" -eq "$before" ] && break
    sleep 0.05
done
if "$EMOFS" ls --data "$T/n1" | grep -q "f11.bin"; then
    ok "a put whose client was killed -9 had already finished"
else
    check "a put whose client was killed -9 is rolled back by the daemon" \
        test "$(blob_count "$T/n1")" -eq "$before"
fi
check "  the daemon is alive and answers" daemon_alive
rm -rf "$T/o9" && mkdir -p "$T/o9"
"$EMOFS" get "$KEY" -o "$T/o9/f0.bin" --data "$T/n1" -q >/dev/null 2>&1 &
pid=$!
sleep 0.02
kill -9 "$pid" 2>/dev/null || true
{ wait "$pid"; } 2>/dev/null || true
sleep 0.5
if [ -e "$T/o9/f0.bin" ]; then
    check "a get whose client was killed -9 had finished, byte-identical" \
        cmp -s "$T/f0.bin" "$T/o9/f0.bin"
else
    ok "a get whose client was killed -9 left nothing under the final name"
fi
check "  the daemon is alive and answers" daemon_alive

# Run again at once after a client killed -9: the daemon lets go of the
# half-fetched file as soon as it cancels, so the new get resumes it.
rm -rf "$T/o10" && mkdir -p "$T/o10"
"$EMOFS" get "$KEY" -o "$T/o10/f0.bin" --data "$T/n1" -q >/dev/null 2>&1 &
pid=$!
sleep "$(awk -v ms="$get_ms" 'BEGIN { printf "%.3f", ms / 3000 }')"
kill -9 "$pid" 2>/dev/null || true
{ wait "$pid"; } 2>/dev/null || true
set +e
"$EMOFS" get "$KEY" -o "$T/o10/f0.bin" --data "$T/n1" -q >/dev/null 2>"$T/again.err"
rc=$?
set -e
check "a get run again right after its client was killed -9 finishes (exit $rc)" \
    test "$rc" -eq 0
check "  byte-identical" cmp -s "$T/f0.bin" "$T/o10/f0.bin"

# kill -9 leaves a stale socket: the next command says so and goes on.
kill -9 "${NET_PID[n2]}"
wait "${NET_PID[n2]}" 2>/dev/null || true
set +e
"$EMOFS" status --data "$T/n2" >"$T/st.out" 2>"$T/st.err"
rc=$?
set -e
check "after kill -9, status says no daemon answers and runs embedded" \
    grep -q "no daemon answers on $T/n2/emofs.sock" "$T/st.err"
check "  and still works (exit $rc)" test "$rc" -eq 0
"$EMOFS" status --data "$T/n2" >/dev/null 2>"$T/st.err"
check "  the stale socket is gone: the next command says nothing" test ! -s "$T/st.err"

check "the first daemon survived every interrupt" daemon_alive

# A daemon asked to stop while a reader has stopped reading a streamed get
# stops all the same.
"$EMOFS" cat "$KEY" --data "$T/n1" 2>/dev/null | sleep 20 &
reader=$!
sleep 1
kill -TERM "${NET_PID[n1]}"
stopped=no
for _ in $(seq 1 100); do
    if ! kill -0 "${NET_PID[n1]}" 2>/dev/null; then stopped=yes; break; fi
    sleep 0.05
done
check "a daemon stops within 5 s while a streamed get's reader sleeps" test "$stopped" = yes
pkill -f "^sleep 20$" || true
wait "$reader" 2>/dev/null || true
finish
