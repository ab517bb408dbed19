# Daemons on 127.0.0.1, for `make demo`, the CLI tests and the benchmarks.
# Source it with EMOFS (the emofs binary) and NET_DIR (a scratch directory)
# set; call net_stop_all on exit.

NET_PIDS=()
declare -A NET_ADDR NET_PID

# net_start NAME [BOOTSTRAP [LISTEN]]: starts a daemon on a free port of
# 127.0.0.1 (or on LISTEN) with data directory $NET_DIR/NAME and log
# $NET_DIR/NAME.log; waits until it listens and sets NET_ADDR[NAME] and
# NET_PID[NAME].
net_start() {
    local name=$1 boot=${2:-} listen=${3:-127.0.0.1:0} log=$NET_DIR/$1.log
    local args=(daemon --listen "$listen" --data "$NET_DIR/$name")
    [ -n "$boot" ] && args+=(--bootstrap "$boot")
    "$EMOFS" "${args[@]}" >"$log" 2>&1 &
    NET_PID[$name]=$!
    NET_PIDS+=($!)
    for _ in $(seq 1 100); do
        if grep -q "listening on" "$log" 2>/dev/null; then
            NET_ADDR[$name]=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$log")
            return 0
        fi
        sleep 0.05
    done
    echo "daemon $name did not start:"
    cat "$log"
    return 1
}

# net_stop NAME: stops one daemon and waits for it.
net_stop() {
    kill "${NET_PID[$1]}" 2>/dev/null || true
    wait "${NET_PID[$1]}" 2>/dev/null || true
}

# net_stop_all: stops every daemon started here.
net_stop_all() {
    for p in "${NET_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${NET_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# net_large_replica NAME: prints the key of a replica larger than 100 KB
# that daemon NAME holds for others (its blob's name), or nothing.
net_large_replica() {
    local blobs=$NET_DIR/$1/replicas/blobs blob
    blob=$(find "$blobs" -type f -size +100k -not -path "$blobs/tmp/*" | head -1)
    [ -n "$blob" ] && basename "$blob"
    return 0
}
