#!/bin/bash
# The conventions every command follows: --name=value, host names in
# addresses (flags and DIR/config), errors that say why a bind or a data
# directory failed, DIR/config's unknown keys, and ls for scripts and for
# people. Only 127.0.0.1, ::1 and localhost; names under .invalid fail.
. "$(dirname "$0")/lib.sh"

D=$T/home
export EMOFS_HOME=$D
cd "$T"

# has TEXT: the last command's stderr ($T/err.txt) holds TEXT.
has() { grep -qF -- "$1" "$T/err.txt"; }

# ---- --name=value ---------------------------------------------------------

head -c 200000 /dev/urandom >"$T/a.bin"
KEY=$("$EMOFS" put --data="$T/eq" --quiet "$T/a.bin") || true
check "put --data=DIR stores into DIR" test "$(blob_count "$T/eq")" -gt 0
"$EMOFS" get "$KEY" --data="$T/eq" --output="$T/a.out" -q >/dev/null || true
check "get --output=PATH --data=DIR" cmp -s "$T/a.bin" "$T/a.out"
"$EMOFS" put --data="$T/a=b" -q "$T/a.bin" >/dev/null || true
check "a value may hold '=' (--data=DIR/a=b)" test -d "$T/a=b/blobs"
"$EMOFS" sim --nodes=60 --lookups=20 --values=5 --seed=3 --csv="$T/eq.csv" >/dev/null || true
"$EMOFS" sim --nodes 60 --lookups 20 --values 5 --seed 3 --csv "$T/sp.csv" >/dev/null || true
check "sim --nodes=60 ... is sim --nodes 60 ... (same CSV)" cmp -s "$T/eq.csv" "$T/sp.csv"
# sim writes its files by the rule of every writer: nothing replaced
# without --force, a file only once complete.
cp "$T/sp.csv" "$T/sp.keep"
expect 9 "sim --csv onto an existing file" "$EMOFS" sim --nodes 60 --lookups 20 --csv "$T/sp.csv"
check "  says so, and leaves it as it was" bash -c "grep -q 'already exists (--force replaces it)' '$T/err.txt' && cmp -s '$T/sp.csv' '$T/sp.keep'"
"$EMOFS" sim --nodes 60 --lookups 7 --values 5 --seed 3 --csv "$T/sp.csv" --force >/dev/null
check "  --force replaces it (8 lines now)" test "$(wc -l <"$T/sp.csv")" -eq 8
check "  and leaves no temporary file" bash -c "! ls '$T' | grep -q emofs-tmp"

expect 2 "a flag given a value (--quiet=1)" "$EMOFS" ls --quiet=1
check "  says the flag takes no value" has "option --quiet takes no value"
expect 2 "sim --json=yes" "$EMOFS" sim --json=yes
expect 2 "sim --proximity both --json (text only)" "$EMOFS" sim --proximity both --json
"$EMOFS" sim --nodes 300 --regions 5 --region-delay 40 --delay 2-10 --settle 300 --lookups 20 \
    --values 40 --seed 2 --proximity both >"$T/both.txt"
check "sim --proximity both prints lookups and gets without and with it" bash -c \
    "grep -q '^proximity compared' '$T/both.txt' && grep -q '^  lookups .* without, .* with (' '$T/both.txt' && grep -q '^  gets .* without, .* with (' '$T/both.txt'"
"$EMOFS" sim --nodes 300 --regions 5 --region-delay 40 --delay 2-10 --settle 300 --lookups 20 \
    --values 40 --seed 2 --proximity off >"$T/off.txt"
off_p50=$(sed -n 's/^  get latency  p50 \([0-9]*\) ms.*/\1/p' "$T/off.txt")
both_p50=$(sed -n 's/^  gets  *p50 \([0-9]*\) ms without.*/\1/p' "$T/both.txt")
check "  its 'without' is the run with --proximity off ($off_p50 ms)" test -n "$off_p50" -a "$off_p50" = "$both_p50"
expect 2 "ls --bytes=0" "$EMOFS" ls --bytes=0
expect 2 "an unknown --name=value stays unknown" "$EMOFS" status --frob=1
check "  and is named whole" has "'--frob=1'"

# Every option a --help shows with a value is accepted as --name=VALUE: run
# with a bad value and an unknown flag after it, the command must complain
# about the value or the flag, never about '--name=VALUE' as a whole.
for cmd in put get "manifest show" "manifest export" "manifest import" status ls health rm gc daemon sim; do
    opts=$("$EMOFS" $cmd --help | grep -oE -- '(^|[ [])--[a-z][a-z-]* [A-Za-z]' |
        sed -E 's/^[ [] *//; s/ .*//' | sort -u || true)
    check "emofs $cmd --help shows options with a value" test -n "$opts"
    for o in $opts; do
        set +e
        timeout 10 "$EMOFS" $cmd "$o=ZZ" --zz-no-such-flag >/dev/null 2>"$T/err.txt"
        rc=$?
        set -e
        if [ "$rc" -eq 2 ] && ! grep -q -- "'$o=" "$T/err.txt"; then
            ok "emofs $cmd $o=VALUE is $o VALUE"
        else
            bad "emofs $cmd $o=VALUE: exit $rc, $(cat "$T/err.txt")"
        fi
    done
done

# ---- host names -----------------------------------------------------------

net_start n1 "" localhost:0
check "daemon --listen localhost:0 listens on 127.0.0.1 (${NET_ADDR[n1]})" \
    bash -c "[[ '${NET_ADDR[n1]}' == 127.0.0.1:* ]]"
PORT=${NET_ADDR[n1]##*:}
"$EMOFS" status --data "$T/e1" --bootstrap "localhost:$PORT" >"$T/st.txt" || true
check "--bootstrap localhost:PORT joins the daemon" grep -Eq '^peers +[1-9]' "$T/st.txt"
"$EMOFS" status --data "$T/e2" --bootstrap="127.0.0.1:$PORT" --listen=localhost:0 >"$T/st.txt" || true
check "--bootstrap=127.0.0.1:PORT --listen=localhost:0" grep -Eq '^peers +[1-9]' "$T/st.txt"
check "  the embedded node listens on 127.0.0.1" grep -Eq '^address +127\.0\.0\.1:' "$T/st.txt"

if "$EMOFS" status --data "$T/v6probe" --listen '[::1]:0' >/dev/null 2>&1; then
    net_start n6 "" "[::1]:0"
    "$EMOFS" status --data "$T/e6" --bootstrap "${NET_ADDR[n6]}" >"$T/st.txt" || true
    check "[::1]:PORT keeps working (${NET_ADDR[n6]})" grep -Eq '^peers +[1-9]' "$T/st.txt"
    net_stop n6
else
    echo "skip [::1]: no IPv6 loopback here"
fi

mkdir -p "$T/c1"
printf '# a comment\n\nlisten localhost:0   # after a value too\nbootstrap localhost:%s\n' \
    "$PORT" >"$T/c1/config"
"$EMOFS" status --data "$T/c1" >"$T/st.txt" 2>"$T/err.txt" || true
check "config: listen and bootstrap by name" grep -Eq '^peers +[1-9]' "$T/st.txt"
check "  listens on 127.0.0.1" grep -Eq '^address +127\.0\.0\.1:' "$T/st.txt"
check "  and nothing on stderr" test ! -s "$T/err.txt"

expect 2 "--bootstrap of a name that does not resolve" \
    "$EMOFS" status --bootstrap foo.invalid:4100
check "  says so" has "cannot resolve host 'foo.invalid': "
expect 2 "daemon --listen=NAME that does not resolve" \
    timeout 10 "$EMOFS" daemon --data "$T/d0" --listen=foo.invalid:0
check "  says so" has "cannot resolve host 'foo.invalid': "
expect 2 "--bootstrap without a port" "$EMOFS" status --bootstrap localhost
check "  says what is wanted" has "bad --bootstrap address 'localhost' (want HOST:PORT)"
expect 2 "--listen of a bare IPv6 address" "$EMOFS" status --listen ::1:0

mkdir -p "$T/c2"
printf 'listen 127.0.0.1:0\nbootstrap foo.invalid:4100\n' >"$T/c2/config"
expect 2 "config: a bootstrap name that does not resolve" "$EMOFS" status --data "$T/c2"
check "  with the file and line" has "$T/c2/config line 2: cannot resolve host 'foo.invalid': "
expect 2 "  the daemon too" timeout 10 "$EMOFS" daemon --data "$T/c2"
"$EMOFS" status --data "$T/c2" --bootstrap "127.0.0.1:$PORT" >"$T/st.txt" || true
check "  --bootstrap overrides it (the file's name is not looked up)" \
    grep -Eq '^peers +[1-9]' "$T/st.txt"

# ---- DIR/config: unknown keys, bad lines ----------------------------------

mkdir -p "$T/c3"
printf 'listen 127.0.0.1:0\n\nlisen 127.0.0.1:4100\n' >"$T/c3/config"
"$EMOFS" status --data "$T/c3" >"$T/st.txt" 2>"$T/err.txt" || true
check "config: an unknown key is warned about, with file and line" \
    test "$(cat "$T/err.txt")" = "emofs: $T/c3/config line 3: unknown setting 'lisen' (ignored)"
check "  and the command still works" grep -q '^node ' "$T/st.txt"
printf 'bootstrap\n' >"$T/c3/config"
expect 2 "config: a key without its value" "$EMOFS" status --data "$T/c3"
check "  says which line" has "$T/c3/config line 1: 'bootstrap' needs a value"
printf 'listen 127.0.0.1:0 127.0.0.1:1\n' >"$T/c3/config"
expect 2 "config: two values" "$EMOFS" status --data "$T/c3"
printf '\nlisten 127.0.0.1\n' >"$T/c3/config"
expect 2 "config: an address without a port" "$EMOFS" status --data "$T/c3"
check "  says which line" has "$T/c3/config line 2: bad address '127.0.0.1' (want HOST:PORT)"

# ---- errors that say why --------------------------------------------------

expect 1 "a daemon on an address in use" \
    timeout 10 "$EMOFS" daemon --data "$T/d1" --listen "127.0.0.1:$PORT"
check "  says: address already in use" has "cannot listen on 127.0.0.1:$PORT: address already in use"
expect 1 "an embedded node on an address in use" \
    "$EMOFS" status --data "$T/d2" --listen "localhost:$PORT"
check "  says: address already in use" has "cannot listen on 127.0.0.1:$PORT: address already in use"
if [ "$(id -u)" -ne 0 ] && [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 1 ]; then
    expect 1 "a daemon on a privileged port" \
        timeout 10 "$EMOFS" daemon --data "$T/d3" --listen 127.0.0.1:1
    check "  says: permission denied" has "cannot listen on 127.0.0.1:1: permission denied"
else
    echo "skip privileged port: running as root"
fi
mkdir -p "$T/d4/emofs.sock/in-the-way"
expect 1 "a daemon whose control socket path is taken" \
    timeout 10 "$EMOFS" daemon --data "$T/d4" --listen 127.0.0.1:0
check "  says why" has "cannot serve the control socket $T/d4/emofs.sock: address already in use"
: >"$T/plain"
expect 1 "--data of a regular file" "$EMOFS" ls --data "$T/plain"
check "  says: not a directory" has "cannot use data directory $T/plain: not a directory"
expect 1 "  the daemon too" timeout 10 "$EMOFS" daemon --data "$T/plain"
check "  says: not a directory" has "not a directory"

# ---- ls -------------------------------------------------------------------

"$EMOFS" put -q "$T/a.bin" >/dev/null || true
check "ls, not on a terminal: KEY<TAB>BYTES<TAB>NAME" \
    test "$("$EMOFS" ls)" = "$KEY"$'\t'200000$'\t'a.bin
if command -v script >/dev/null; then
    tty_ls() { script -qec "'$EMOFS' ls $*" /dev/null | tr -d '\r'; }
    line=$(tty_ls)
    check "ls on a terminal: KEY SIZE NAME, the size one field ($line)" \
        test "$(echo "$line" | awk '{print $1 "|" $2 "|" $3 "|" NF}')" = "$KEY|195.3KiB|a.bin|3"
    check "ls --bytes on a terminal: the script form" \
        test "$(tty_ls --bytes)" = "$KEY"$'\t'200000$'\t'a.bin
else
    echo "skip ls on a terminal: no script(1)"
fi
check "ls --help tells of --bytes" bash -c "'$EMOFS' ls --help | grep -q -- '--bytes'"
finish
