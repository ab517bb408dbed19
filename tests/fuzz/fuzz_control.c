/*
 * Fuzz target for the control socket codec (tool/node/control_wire.c): whatever
 * the bytes, ctl_frame_check() and ctl_decode() must not crash or read
 * outside them, and a body that decodes must be canonical: it re-encodes to
 * exactly its frame (the length prefix then the same bytes).
 *
 * The input is a whole frame (as the corpus files are): the length prefix is
 * checked with ctl_frame_check(), and the body decoded whatever the prefix
 * says, so inputs with a wrong prefix still exercise the decoder.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tool/node/control_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctl_msg_t m;
    uint8_t *frame = NULL;
    size_t flen = 0, body;
    int rc;

    rc = ctl_frame_check(data, size, &flen);
    if (rc == 1 && (flen < CTL_FRAME_HDR + 1 || flen > size))
        abort();
    if (size < CTL_FRAME_HDR)
        return 0;
    body = size - CTL_FRAME_HDR;
    if (ctl_decode(data + CTL_FRAME_HDR, body, &m) != 0)
        return 0;
    if (ctl_encode(&m, &frame, &flen) != 0)
        abort(); /* a decoded message must be encodable */
    if (flen != size || memcmp(frame + CTL_FRAME_HDR, data + CTL_FRAME_HDR, body) != 0)
        abort();
    /* The encoder's prefix is the body length; the frame checks as complete. */
    if (ctl_frame_check(frame, flen, &body) != 1 || body != flen)
        abort();
    free(frame);
    ctl_msg_clear(&m);
    return 0;
}
