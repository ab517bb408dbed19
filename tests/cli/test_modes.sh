#!/bin/bash
# A data directory and everything in it are private to its owner, whatever
# the umask: the directory and its sub-directories 0700, every file 0600,
# the control socket 0600 (from before it listens). A daemon started on a
# directory the user made open to others says so. Through daemons (with
# replicas, peers, the expiry log) and embedded.
. "$(dirname "$0")/lib.sh"

# not_private DIR: what under DIR is open to other users (empty if none).
not_private() {
    find "$1" \( \( -type d -not -perm 700 \) -o \( -not -type d -not -perm 600 \) \) \
        -printf '%m %y %p\n'
}

umask 000
head -c 900000 /dev/urandom >"$T/f.bin"
net_start d1
net_start d2 "${NET_ADDR[d1]}"
net_start d3 "${NET_ADDR[d1]}"
KEY=$("$EMOFS" put -q "$T/f.bin" --data "$T/d1")
check "with umask 000, a put through d1 stores the file" test "${#KEY}" -eq 64
check "  d2 holds copies (replicas/records is there)" test -s "$T/d2/replicas/records"
check "  d1's control socket is a socket of mode 600 ($(stat -c %a "$T/d1/emofs.sock"))" \
    test -S "$T/d1/emofs.sock" -a "$(stat -c %a "$T/d1/emofs.sock")" = 600
for d in d1 d2 d3; do
    open=$(not_private "$T/$d")
    check "  $d: nothing open to others while it runs${open:+: $open}" test -z "$open"
done
net_stop d1
net_stop d2
net_stop d3
check "  the daemons saved their peers (d2/peers)" test -s "$T/d2/peers"
for d in d1 d2 d3; do
    open=$(not_private "$T/$d")
    check "  $d: nothing open to others once stopped${open:+: $open}" test -z "$open"
done

"$EMOFS" put -q "$T/f.bin" --data "$T/e1" >/dev/null
(cd "$T" && "$EMOFS" get "$KEY" -q --data "$T/e1" -o "$T/got.bin" >/dev/null)
open=$(not_private "$T/e1")
check "embedded put and get: nothing open to others in the data directory${open:+: $open}" \
    test -z "$open"

# A directory the user made, open to others: the daemon warns, and what it
# writes there is private all the same.
mkdir -m 755 "$T/shared"
net_start shared
check "a daemon on a directory of mode 755 warns" log_has "$T/shared.log" "can be entered by other users (mode 755)"
net_stop shared
open=$(not_private "$T/shared" | grep -v " $T/shared\$" || true)
check "  what it wrote there is private${open:+: $open}" test -z "$open"
finish
