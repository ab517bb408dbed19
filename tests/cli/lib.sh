# Shared by the CLI tests: a scratch directory, daemons on 127.0.0.1,
# assertions. Source it; set EMOFS to the emofs binary first (make test does).
set -euo pipefail

EMOFS=$(realpath "${EMOFS:-build/emofs}")
T=$(mktemp -d /tmp/emofs-test.XXXXXX)
FAILS=0

cleanup() {
    net_stop_all
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

# expect CODE "what" command...: runs it, checks the exit code, that stderr
# is exactly one line starting "emofs: ", and that stdout is empty. The
# line stays in $T/err.txt.
expect() {
    local code=$1 what=$2; shift 2
    set +e
    "$@" >"$T/out.txt" 2>"$T/err.txt"
    local rc=$?
    set -e
    local lines
    lines=$(wc -l <"$T/err.txt")
    if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q '^emofs: ' "$T/err.txt" &&
        [ ! -s "$T/out.txt" ]; then
        ok "$what: exit $rc, $(cat "$T/err.txt")"
    else
        bad "$what: exit $rc (want $code), stderr:"; cat "$T/err.txt"; cat "$T/out.txt"
    fi
}

# damage_byte FILE OFFSET: flips every bit of FILE's byte at OFFSET, so the file
# surely changes (writing a fixed byte left it as it was once in 256 runs).
damage_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# journal_header KEY: the header of a get's journal of KEY (EMOJ 1 0 0 0,
# then the key's 32 bytes), as printf escapes.
journal_header() {
    local out='EMOJ\x01\x00\x00\x00' i
    for ((i = 0; i < 64; i += 2)); do out+="\\x${1:i:2}"; done
    printf '%s' "$out"
}

# Daemons: net_start NAME [BOOTSTRAP [LISTEN]] sets NET_ADDR[NAME]; net_stop NAME.
NET_DIR=$T
. "$(dirname "${BASH_SOURCE[0]}")/../../tool/local_net.sh"

# log_has FILE PATTERN: waits up to 5 s for a line matching PATTERN in a
# daemon's log (net_start returns at its "listening on" line; the lines
# after it may take a moment, more so under the sanitizers).
log_has() {
    for _ in $(seq 1 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# blob_count DIR: blobs in a data directory's local store.
blob_count() { { find "$1/blobs" -type f -not -path "$1/blobs/tmp/*" 2>/dev/null || true; } | wc -l; }
