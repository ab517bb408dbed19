/*
 * Incoming stream assembly (frame_in.h).
 */
#include "frame_in.h"

#include <string.h>

static size_t least(size_t a, size_t b)
{
    return a < b ? a : b;
}

int frame_in_step(frame_in_t *f, const dht_t *dht, const uint8_t **p, size_t *len)
{
    for (;;) {
        if (f->frame_len > 0) { /* a frame's bytes */
            size_t take;
            if (f->frame_have == f->frame_len)
                return FRAME_IN_DONE;
            if (*len == 0)
                return FRAME_IN_MORE;
            take = least(f->frame_len - f->frame_have, *len);
            if (f->frame_cap < f->frame_have + take) {
                f->need = f->frame_have + take;
                return FRAME_IN_ROOM;
            }
            memcpy(f->frame + f->frame_have, *p, take);
            f->frame_have += take;
            *p += take;
            *len -= take;
            continue;
        }
        /* a header: the preamble first, then a frame's */
        if (*len == 0)
            return FRAME_IN_MORE;
        size_t want = f->have_preamble ? DHT_STREAM_FRAME_HDR : DHT_STREAM_PREAMBLE;
        size_t take = least(want - f->head_have, *len);
        memcpy(f->head + f->head_have, *p, take);
        f->head_have += take;
        *p += take;
        *len -= take;
        if (f->head_have < want)
            return FRAME_IN_MORE;
        f->head_have = 0;
        if (!f->have_preamble) {
            if (dht_stream_preamble_parse(f->head, &f->port) != 0)
                return FRAME_IN_BAD;
            f->have_preamble = 1;
            continue;
        }
        if (dht_stream_frame_len(dht, f->head, &f->frame_len) != 0 || f->frame_len == 0) {
            f->frame_len = 0;
            return FRAME_IN_BAD;
        }
        f->frame_have = 0;
    }
}

uint8_t *frame_in_take(frame_in_t *f, size_t *len)
{
    uint8_t *frame = f->frame;

    *len = f->frame_len;
    f->frame = NULL;
    f->frame_cap = 0;
    f->frame_len = 0;
    f->frame_have = 0;
    return frame;
}
