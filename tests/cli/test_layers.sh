#!/bin/bash
# Layering (issue 10): no file includes another layer's private header.
#
#   libdht/          the core; its headers other than dht.h are private
#   libdht/uv/       the libuv shell: dht.h only, as a third-party shell
#   libdht/sim/      the simulator shell: dht.h, and the core's PRNG (rng.h)
#   manifests/       manifest codec; manifest_int.h is private
#   filestore/       file engines; ctx.h, get_int.h, codec_pool.h, fetch.h
#                    are private
#   tool/            the emofs command: the public headers of the others
#   tests/           may reach anything
#
# Each rule lists what a layer must not include; the check reads every
# #include "..." line of the layer's .c and .h files. The compiler enforces
# the libdht part too: the upper layers are built with dht.h alone on their
# include path (Makefile, PUBLIC_INC).
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

core_list=$(cd libdht && ls ./*.h | sed 's#^\./##' | grep -vx 'dht.h' | paste -sd'|')
core_private="(libdht/)?($core_list)"
fs_private='filestore/(ctx|get_int|codec_pool|fetch)\.h'
mf_private='manifests/manifest_int\.h'

# offenders FILES... -- PATTERN: the #include lines of FILES matching PATTERN
offenders() {
    local pattern=${*: -1} files=("${@:1:$#-2}")
    grep -HnE "^#include \"($pattern)\"" "${files[@]}" 2>/dev/null || true
}

# rule NAME PATTERN FILES...: no file of FILES includes a header matching
# PATTERN; the offending lines are shown when there are some.
rule() {
    local name=$1 pattern=$2 found
    shift 2
    found=$(offenders "$@" -- "$pattern")
    if [ -z "$found" ]; then
        check "$name" true
    else
        printf '%s\n' "$found" >&2
        check "$name" false
    fi
}

shopt -s nullglob
core=(libdht/*.c libdht/*.h)
uv=(libdht/uv/*.c libdht/uv/*.h)
sim=(libdht/sim/*.c libdht/sim/*.h)
mf=(manifests/*.c manifests/*.h)
fs=(filestore/*.c filestore/*.h)
tool=(tool/*.c tool/*.h tool/*/*.c tool/*/*.h)

check "the layers have files" test ${#core[@]} -gt 0 -a ${#uv[@]} -gt 0 -a ${#sim[@]} -gt 0 \
    -a ${#mf[@]} -gt 0 -a ${#fs[@]} -gt 0 -a ${#tool[@]} -gt 0
rule "libdht's core includes nothing of the layers above it" \
    'filestore/.*|manifests/.*|tool/.*' "${core[@]}"
rule "libdht/uv includes only dht.h of libdht" "$core_private|filestore/.*|manifests/.*|tool/.*" \
    "${uv[@]}"
rule "libdht/sim includes only dht.h and rng.h of libdht" \
    "(libdht/)?($(echo "$core_list" | sed 's/rng\.h|//; s/|rng\.h//'))|filestore/.*|manifests/.*|tool/.*" \
    "${sim[@]}"
rule "manifests includes no private header of libdht, and nothing above it" \
    "$core_private|filestore/.*|tool/.*" "${mf[@]}"
rule "filestore includes no private header of libdht or manifests, and nothing of tool" \
    "$core_private|$mf_private|tool/.*" "${fs[@]}"
rule "tool includes only the public headers of libdht, manifests and filestore" \
    "$core_private|$mf_private|$fs_private" "${tool[@]}"

# The rules can fail: a private include planted in a copy is caught.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "node.h"\n#include "libdht/rt.h"\n#include "dht.h"\n' >"$tmp/planted.c"
check "planted private includes are caught, the public one is not" \
    test "$(offenders "$tmp/planted.c" -- "$core_private" | wc -l)" -eq 2

# The libuv shell also reaches into no core struct, as dht.h offers none.
check "libdht/uv reaches into no core struct" \
    bash -c "! grep -E 'dht->(cfg|st|rt|store)|->dht->(cfg|st)\b|dht__' libdht/uv/*.c"
finish
