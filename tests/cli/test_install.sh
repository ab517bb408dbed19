#!/bin/bash
# make install into a scratch DESTDIR, then use what it put there as a user
# would: the README's libdht program, built with pkg-config alone, puts and
# gets a value through the installed emofs daemon (on 127.0.0.1); the man
# page renders without warnings and names every command, option and exit
# code that `emofs --help` and `emofs CMD --help` print; the bash completion
# offers every option; only dht.h's functions are exported; one version
# everywhere. Then make uninstall leaves nothing behind.
#
# Run it through `make test` or `make check`: the make it calls inherits
# their variables (BUILD, OPT, SAN), so it installs what they built.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(realpath --relative-to="$ROOT" "$(dirname "$EMOFS")")
PREFIX=/opt/emofs-test # not make's default: libdht.pc must follow it
DEST=$T/root
P=$DEST$PREFIX

# make in the source tree, with make test's variables but not its job
# server (whose file descriptors this script does not have).
mk() {
    local flags
    flags=$(printf '%s' "${MAKEFLAGS:-}" | sed -E 's/ ?--jobserver-(auth|fds)=[^ ]*//g; s/(^| )-j[0-9]*//g')
    MAKEFLAGS=$flags make --no-print-directory -C "$ROOT" BUILD="$BUILD" PREFIX="$PREFIX" \
        DESTDIR="$DEST" "$@"
}

if ! mk install >"$T/install.log" 2>&1; then
    cat "$T/install.log"
    bad "make install"
    finish
fi
ok "make install DESTDIR=... PREFIX=$PREFIX"

# ---- one version: dht.h's, in the library's names, the .pc, emofs ----
part() { sed -n "s/^#define DHT_VERSION_$1 *\([0-9][0-9]*\).*/\1/p" "$ROOT/libdht/dht.h"; }
MAJOR=$(part MAJOR)
V=$MAJOR.$(part MINOR).$(part PATCH)
# The soname's version: the major, and while it is 0 the minor too.
SOVER=$MAJOR
[ "$MAJOR" = 0 ] && SOVER=$MAJOR.$(part MINOR)
check "dht.h has a version ($V)" bash -c "[[ '$V' =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]"

export PKG_CONFIG_PATH=$P/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
check "libdht.pc has the version" test "$(pkg-config --modversion libdht)" = "$V"
check "libdht.pc has the prefix make install was given" grep -qx "prefix=$PREFIX" "$P/lib/pkgconfig/libdht.pc"
check "libdht.pc requires libuv (the API takes a uv_loop_t)" \
    bash -c "pkg-config --print-requires libdht | grep -qx libuv"
check "emofs --version says emofs $V (libdht $V)" \
    test "$("$P/bin/emofs" --version)" = "emofs $V (libdht $V)"
check "emofs version says the same" test "$("$P/bin/emofs" version)" = "emofs $V (libdht $V)"
check "emofs --help mentions --version" bash -c "'$P/bin/emofs' --help | grep -q -- --version"

# ---- the libraries and the header ----
check "static library" test -f "$P/lib/libdht.a"
check "shared library libdht.so.$V" test -f "$P/lib/libdht.so.$V" -a ! -L "$P/lib/libdht.so.$V"
check "libdht.so.$SOVER -> libdht.so.$V" test "$(readlink "$P/lib/libdht.so.$SOVER")" = "libdht.so.$V"
check "libdht.so -> libdht.so.$SOVER" test "$(readlink "$P/lib/libdht.so")" = "libdht.so.$SOVER"
check "soname libdht.so.$SOVER" \
    bash -c "readelf -d '$P/lib/libdht.so.$V' | grep -q 'SONAME.*\[libdht.so.$SOVER\]'"
check "header at include/libdht/dht.h" cmp -s "$ROOT/libdht/dht.h" "$P/include/libdht/dht.h"
check "no dht.h straight under include/" test ! -e "$P/include/dht.h"

# Exported: exactly the functions dht.h declares with DHT_API.
nm -D --defined-only "$P/lib/libdht.so.$V" | awk '{print $3}' | sort >"$T/exported"
sed -n 's/^DHT_API [^(]*[ *]\(dht_[a-z0-9_]*\)(.*/\1/p' "$ROOT/libdht/dht.h" | sort >"$T/declared"
check "the shared library exports $(wc -l <"$T/declared") functions, dht.h's own" \
    bash -c "test -s '$T/declared' && diff '$T/declared' '$T/exported'"
check "no internal dht__ symbol exported" bash -c "! grep -q '^dht__' '$T/exported'"

# ---- the README's program, built with pkg-config alone ----
awk 'm && /^```$/ {exit} m && c {print} m && /^```c$/ {c = 1} /^<!-- hello_dht\.c:/ {m = 1}' \
    "$ROOT/README.md" >"$T/hello_dht.c"
check "README has the hello_dht.c block" grep -q '#include <libdht/dht.h>' "$T/hello_dht.c"
# A library built by make check needs its sanitizers in the program too.
san=()
readelf -d "$P/lib/libdht.so.$V" | grep -q 'NEEDED.*libasan' && san+=(-fsanitize=address)
readelf -d "$P/lib/libdht.so.$V" | grep -q 'NEEDED.*libubsan' && san+=(-fsanitize=undefined)
# shellcheck disable=SC2046
if cc "${san[@]}" -Wall -Wextra -Werror -o "$T/hello_dht" "$T/hello_dht.c" \
    $(pkg-config --cflags --libs libdht) 2>"$T/cc.log"; then
    ok "hello_dht.c compiles and links with pkg-config --cflags --libs libdht alone"
else
    cat "$T/cc.log"
    bad "hello_dht.c compiles and links with pkg-config --cflags --libs libdht alone"
fi
check "it runs with the installed libdht.so" \
    bash -c "LD_LIBRARY_PATH='$P/lib' ldd '$T/hello_dht' | grep -q 'libdht.so.$SOVER => $P/lib/'"

EMOFS=$P/bin/emofs # the installed emofs from here on
net_start d1
set +e
LD_LIBRARY_PATH=$P/lib timeout 60 "$T/hello_dht" 127.0.0.1:0 "${NET_ADDR[d1]}" \
    >"$T/hello.out" 2>"$T/hello.err"
rc=$?
set -e
check "hello_dht exits 0 ($rc) against the installed emofs daemon" test "$rc" -eq 0
check "it put the value" grep -Eq '^stored on [1-9][0-9]* nodes$' "$T/hello.out"
check "it got the value back" grep -qx 'got "hello"' "$T/hello.out"
check "nothing on stderr" test ! -s "$T/hello.err"
check "the daemon holds the value" \
    bash -c "'$EMOFS' status --data '$T/d1' | grep -Eq '^replicas +1 \\('"
net_stop d1
cat "$T/hello.err"

# ---- the man page: renders cleanly, and cannot drift from --help ----
MAN=$P/share/man/man1/emofs.1
LC_ALL=C MANWIDTH=100 man --nh --nj --warnings=w -l "$MAN" >"$T/man.txt" 2>"$T/man.err" || true
check "man -l renders emofs(1)" grep -q '^NAME' "$T/man.txt"
check "without warnings" test ! -s "$T/man.err"
cat "$T/man.err"

"$EMOFS" --help >"$T/help.txt"
commands=$(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' "$T/help.txt" | sort -u)
codes=$(sed -n '/^exit codes:/,/^$/p' "$T/help.txt" | grep -oE '(^|[:,] )[0-9]+ ' | grep -oE '[0-9]+')
for c in $commands; do
    [ "$c" = version ] && continue # takes no option, not even --help
    "$EMOFS" "$c" --help >>"$T/help.txt"
done
options=$(grep -oE -- '--[a-z][a-z0-9-]*' "$T/help.txt" | sort -u)
check "--help lists commands ($(tr '\n' ' ' <<<"$commands"))" test "$(wc -w <<<"$commands")" -ge 8
check "the helps list options ($(wc -w <<<"$options"))" test "$(wc -w <<<"$options")" -ge 25
check "--help lists exit codes ($(tr '\n' ' ' <<<"$codes"))" test "$(wc -w <<<"$codes")" -ge 10
missing=""
for c in $commands; do grep -Eq "^ {7}$c\b" "$T/man.txt" || missing="$missing $c"; done
check "every command has its entry in the man page${missing:+ (missing:$missing)}" test -z "$missing"
missing=""
for o in $options; do grep -Fqw -- "$o" "$T/man.txt" || missing="$missing $o"; done
check "every option is in the man page${missing:+ (missing:$missing)}" test -z "$missing"
sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$T/man.txt" >"$T/man.exit"
missing=""
for x in $codes; do grep -Eq "^ {7}$x +[A-Z]" "$T/man.exit" || missing="$missing $x"; done
check "every exit code is under EXIT STATUS${missing:+ (missing:$missing)}" test -z "$missing"

# ---- bash completion: commands, each command's options, files ----
COMP=$P/share/bash-completion/completions/emofs
# completions WORD...: what the completion offers for the last word.
completions() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _emofs
             printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$@"
}
missing=""
offered=$(completions emofs "")
for c in $commands; do grep -qx "$c" <<<"$offered" || missing="$missing $c"; done
check "completion offers every command${missing:+ (missing:$missing)}" test -z "$missing"
missing=""
for c in $commands; do
    [ "$c" = version ] && continue
    offered=$(completions emofs "$c" --)
    # Options the help names inside `...` are another command's.
    for o in $("$EMOFS" "$c" --help | tr '\n' ' ' | sed 's/`[^`]*`//g' |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        grep -qx -- "$o" <<<"$offered" || missing="$missing $c:$o"
    done
done
check "completion offers every option of each command${missing:+ (missing:$missing)}" test -z "$missing"
touch "$T/photo.jpg"
check "completion offers files to put" test "$(cd "$T" && completions emofs put "$T/pho")" = "$T/photo.jpg"

# ---- systemd user unit ----
UNIT=$P/lib/systemd/user/emofs.service
check "the unit runs the installed emofs daemon" grep -qx "ExecStart=$PREFIX/bin/emofs daemon" "$UNIT"
check "the unit starts with the user's session" grep -qx "WantedBy=default.target" "$UNIT"
if command -v systemd-analyze >/dev/null; then
    # Verified with ExecStart pointing into DESTDIR, where emofs is.
    sed "s|^ExecStart=$PREFIX|ExecStart=$P|" "$UNIT" >"$T/emofs.service"
    check "systemd-analyze verify finds nothing to say" \
        bash -c "[ -z \"\$(systemd-analyze verify --man=no '$T/emofs.service' 2>&1)\" ]"
fi

# ---- make uninstall ----
if mk uninstall >"$T/uninstall.log" 2>&1; then ok "make uninstall"; else cat "$T/uninstall.log"; bad "make uninstall"; fi
find "$DEST" \( -type f -o -type l \) >"$T/left"
check "make uninstall leaves no file behind" test ! -s "$T/left"
cat "$T/left"
check "nor include/libdht/" test ! -e "$P/include/libdht"

finish
