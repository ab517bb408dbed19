#!/bin/bash
# Layering (issue 10): the libuv shell of libdht is written against the
# public API only (libdht/dht.h), as any third-party shell would be: it
# includes none of the core's private headers.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

private='"(node|wire|rt|store|rng|peers)\.h"'
check "libdht/dht_uv.c includes no private header of the core" \
    bash -c "! grep -E '^#include $private' libdht/dht_uv.c"
check "  and reaches into no core struct" \
    bash -c "! grep -E 'dht->(cfg|st|rt|store)|->dht->(cfg|st)\b|dht__' libdht/dht_uv.c"
finish
