/*
 * Reading an incoming stream (schema/wire.md section 6): its preamble,
 * then frames, each a 4-byte length and one message, assembled from reads
 * of any size. Sans-I/O: the libuv shell (dht_uv.c) feeds what it reads
 * and gives a frame its room within its budget; the fuzz target
 * tests/fuzz/fuzz_frames.c feeds random splits of random bytes.
 */
#ifndef DHT_UV_FRAME_IN_H
#define DHT_UV_FRAME_IN_H

#include <stddef.h>
#include <stdint.h>

#include "dht.h"

typedef struct frame_in {
    uint8_t head[DHT_STREAM_PREAMBLE]; /* the preamble or frame header being read */
    size_t head_have;
    int have_preamble;
    uint16_t port;     /* the preamble's: the peer's listening port */
    size_t frame_len;  /* the frame being read; 0: a header is */
    size_t frame_have; /* its bytes read so far, in frame */
    uint8_t *frame;    /* frame_cap bytes, the caller's (realloc'd) */
    size_t frame_cap;
    size_t need; /* after FRAME_IN_ROOM: the bytes frame must hold */
} frame_in_t;

enum {
    FRAME_IN_MORE, /* every byte given is consumed: read more */
    FRAME_IN_ROOM, /* frame must hold `need` bytes (<= frame_len) first */
    FRAME_IN_DONE, /* a frame is whole: take it (frame_in_take) */
    FRAME_IN_BAD,  /* the bytes broke the format: close the stream */
};

/* Consumes bytes from *p (*len of them), advancing both, until one of the
 * events above; after ROOM (once frame holds need bytes) or DONE (once the
 * frame is taken) call again with what is left. A zeroed f starts a
 * stream. dht judges frame lengths (dht_stream_frame_len).
 * @return a FRAME_IN_* event. */
int frame_in_step(frame_in_t *f, const dht_t *dht, const uint8_t **p, size_t *len);

/* Takes the whole frame after FRAME_IN_DONE: @return its buffer (the
 * caller frees it) and *len its length; f then reads the next header. */
uint8_t *frame_in_take(frame_in_t *f, size_t *len);

#endif /* DHT_UV_FRAME_IN_H */
