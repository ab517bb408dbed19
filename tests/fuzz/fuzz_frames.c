/*
 * Fuzz target for incoming streams (libdht/uv/frame_in.h): the preamble
 * and frames of a TCP connection, assembled from reads of any size.
 * Input: one byte choosing how the rest is split into reads (a seed for
 * their sizes, 1 to 64 bytes, and for the room given a frame: what it
 * asks or more, up to its length, as the shell's doubling gives; or, when
 * 0, one read of everything and exactly the room asked), then the bytes a
 * peer sent. Whatever the bytes and the split, nothing may crash or touch
 * memory outside the frame's room; a frame never asks room beyond its
 * length; and what comes out must be what a reading of the whole input at
 * once by the spec (wire.md 6) says: the same port, the same frames, byte
 * for byte, in order, and the format broken at the same frame or not at
 * all. The shell's budget across streams (dht_uv.c) is not exercised.
 */
#include <stdlib.h>
#include <string.h>

#include "dht.h"
#include "fuzz.h"
#include "uv/frame_in.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static int send_nothing(void *arg, const dht_addr_t *to, dht_transport_t transport,
                        const uint8_t *buf, size_t len)
{
    (void)arg, (void)to, (void)transport, (void)buf, (void)len;
    return 0;
}

#define MAX_VALUE (64 * 1024)
#define MAX_FRAME (MAX_VALUE + 128) /* wire.md 6: max_value_size + 128, no network key */

/* A node to judge frame lengths (max_value_size MAX_VALUE), made once. */
static const dht_t *judge(void)
{
    static dht_t *dht;

    if (dht == NULL) {
        dht_config_t cfg;
        dht_io_t io = {.send = send_nothing};
        dht_config_init(&cfg);
        cfg.seed = 1;
        cfg.max_value_size = MAX_VALUE;
        check(dht_new(&dht, &cfg, &io, 1000) == 0);
    }
    return dht;
}

/* The reading of the whole input at once, by the spec (wire.md 6): a
 * preamble "EMS", version 1, port (u16 little-endian), two zero bytes;
 * then frames, a u32 little-endian length, 1 to MAX_FRAME, and as many
 * bytes.
 * Sets where frame i starts and how long it is, *n of them. @return 1 if
 * the format breaks after them, 0 if the input ends inside or after
 * them. */
static int reference(const uint8_t *in, size_t len, uint16_t *port, size_t *starts, size_t *lens,
                     size_t *n)
{
    size_t at = DHT_STREAM_PREAMBLE;

    *n = 0;
    if (len < DHT_STREAM_PREAMBLE)
        return 0;
    if (memcmp(in, "EMS\x01", 4) != 0 || in[6] != 0 || in[7] != 0)
        return 1;
    *port = (uint16_t)(in[4] | in[5] << 8);
    while (len - at >= DHT_STREAM_FRAME_HDR) {
        size_t flen = (size_t)in[at] | (size_t)in[at + 1] << 8 | (size_t)in[at + 2] << 16 |
                      (size_t)in[at + 3] << 24;
        if (flen == 0 || flen > MAX_FRAME)
            return 1;
        at += DHT_STREAM_FRAME_HDR;
        if (len - at < flen)
            return 0;
        starts[*n] = at;
        lens[*n] = flen;
        (*n)++;
        at += flen;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t starts[4096], lens[4096];
    frame_in_t f;
    const uint8_t *in, *p;
    size_t len, n, got = 0;
    uint32_t seed;
    int split;
    uint16_t port = 0;
    int broken, bad = 0;

    if (size < 1 || size > 1 + 4096 * 5)
        return 0;
    seed = data[0];
    split = seed != 0;
    in = data + 1;
    len = size - 1;
    broken = reference(in, len, &port, starts, lens, &n);
    memset(&f, 0, sizeof(f));
    p = in;
    while (!bad && p < in + len) {
        size_t read = len - (size_t)(p - in);
        if (split) {
            seed = seed * 1103515245u + 12345u;
            size_t cut = 1 + (seed >> 16) % 64;
            if (cut < read)
                read = cut;
        }
        /* The read as the shell gets it: a buffer of its own. */
        uint8_t *chunk = malloc(read);
        const uint8_t *q = chunk;
        size_t left = read;
        check(chunk != NULL);
        memcpy(chunk, p, read);
        for (int done = 0; !done;) {
            switch (frame_in_step(&f, judge(), &q, &left)) {
            case FRAME_IN_MORE:
                check(left == 0);
                done = 1;
                break;
            case FRAME_IN_ROOM: {
                check(f.need > f.frame_cap && f.need <= f.frame_len);
                size_t room = f.need; /* exactly, or up to the frame's length */
                if (split) {
                    seed = seed * 1103515245u + 12345u;
                    room += (seed >> 16) % (f.frame_len - f.need + 1);
                }
                uint8_t *grown = realloc(f.frame, room); /* ASan sees overruns */
                check(grown != NULL);
                f.frame = grown;
                f.frame_cap = room;
                break;
            }
            case FRAME_IN_DONE: {
                size_t flen;
                uint8_t *frame = frame_in_take(&f, &flen);
                check(got < n && flen == lens[got] && f.port == port);
                check(memcmp(frame, in + starts[got], flen) == 0);
                got++;
                free(frame);
                break;
            }
            case FRAME_IN_BAD:
                bad = 1;
                done = 1;
                break;
            default:
                check(0);
            }
        }
        free(chunk);
        p += read;
    }
    free(f.frame);
    check(got == n && bad == broken);
    return 0;
}
