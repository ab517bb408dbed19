/*
 * Fuzz target for the wire codec: whatever the bytes, decoding must not
 * crash or read outside them, and a message that decodes must be canonical:
 * dht__wire_size() is its length, and it re-encodes to exactly the same
 * bytes (and not into one byte less).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dht__msg_t m;
    uint8_t *out;

    if (dht__wire_decode(&m, data, size) != 0)
        return 0;
    if (dht__wire_size(&m) != size)
        abort();
    out = malloc(size);
    if (out == NULL)
        abort();
    if (dht__wire_encode(&m, out, size) != size || memcmp(out, data, size) != 0)
        abort();
    if (dht__wire_encode(&m, out, size - 1) != 0)
        abort();
    free(out);
    return 0;
}
