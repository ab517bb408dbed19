/*
 * Fuzz target for the control socket codec (tool/node/control_wire.c): whatever
 * the bytes, ctl_frame_check() and ctl_decode() must not crash or read
 * outside them, and a body that decodes must be canonical: it re-encodes to
 * exactly its frame (the length prefix then the same bytes).
 *
 * The input is a whole frame (as the corpus files are): the length prefix is
 * checked with ctl_frame_check(), and the body decoded whatever the prefix
 * says, so inputs with a wrong prefix still exercise the decoder.
 *
 * One exception to canonical: a RESULT whose status this build does not
 * know decodes as FS_EIO (schema/control.md 5.1: a client accepts any
 * negative status), so it re-encodes with -3 (CTL_S_EIO) in its place.
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
    if (flen != size)
        abort();
    {
        uint8_t *want = malloc(body ? body : 1);
        if (want == NULL)
            abort();
        memcpy(want, data + CTL_FRAME_HDR, body);
        if (m.type == CTL_RESULT && body >= 7) {
            int32_t st = (int32_t)((uint32_t)want[3] | (uint32_t)want[4] << 8 |
                                   (uint32_t)want[5] << 16 | (uint32_t)want[6] << 24);
            if (st != CTL_S_EIO && fs_from_ctl_status(st) == FS_EIO) {
                uint32_t eio = (uint32_t)CTL_S_EIO;
                for (int i = 0; i < 4; i++)
                    want[3 + i] = (uint8_t)(eio >> (8 * i));
            }
        }
        if (memcmp(frame + CTL_FRAME_HDR, want, body) != 0)
            abort();
        free(want);
    }
    /* The encoder's prefix is the body length; the frame checks as complete. */
    if (ctl_frame_check(frame, flen, &body) != 1 || body != flen)
        abort();
    free(frame);
    ctl_msg_clear(&m);
    return 0;
}
