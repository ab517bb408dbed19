# Shared by the CLI tests: a scratch directory, daemons on 127.0.0.1,
# assertions. Source it; set EMOFS to the emofs binary first (make test does).
set -euo pipefail

EMOFS=$(realpath "${EMOFS:-build/emofs}")
T=$(mktemp -d /tmp/emofs-test.XXXXXX)
DAEMON_PIDS=()
FAILS=0

cleanup() {
    for p in "${DAEMON_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${DAEMON_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { # check "what" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
    if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
    echo "all checks passed"
}

# start_daemon NAME [BOOTSTRAP_ADDR]: starts a daemon on 127.0.0.1 (free
# port) with data directory $T/NAME; sets ADDR[NAME] and PID[NAME].
declare -A ADDR PID
start_daemon() {
    local name=$1 boot=${2:-} log=$T/$1.log
    local args=(daemon --listen 127.0.0.1:0 --data "$T/$name")
    [ -n "$boot" ] && args+=(--bootstrap "$boot")
    "$EMOFS" "${args[@]}" >"$log" 2>&1 &
    PID[$name]=$!
    DAEMON_PIDS+=($!)
    for _ in $(seq 1 100); do
        if grep -q "listening on" "$log" 2>/dev/null; then
            ADDR[$name]=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$log")
            return 0
        fi
        sleep 0.05
    done
    echo "daemon $name did not start:"; cat "$log"; exit 1
}

stop_daemon() {
    kill "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
}

# blob_count DIR: blobs in a data directory's local store.
blob_count() { find "$1/blobs" -type f -not -path "$1/blobs/tmp/*" 2>/dev/null | wc -l; }
