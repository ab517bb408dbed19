/*
 * SipHash-2-4 (Aumasson and Bernstein) of a 32-byte id. See siphash.h.
 */
#include "siphash.h"

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void sipround(uint64_t v[4], int rounds)
{
    while (rounds-- > 0) {
        v[0] += v[1];
        v[1] = rotl(v[1], 13) ^ v[0];
        v[0] = rotl(v[0], 32);
        v[2] += v[3];
        v[3] = rotl(v[3], 16) ^ v[2];
        v[0] += v[3];
        v[3] = rotl(v[3], 21) ^ v[0];
        v[2] += v[1];
        v[1] = rotl(v[1], 17) ^ v[2];
        v[2] = rotl(v[2], 32);
    }
}

uint64_t dht__siphash_id(const uint64_t k[2], const dht_id_t *id)
{
    uint64_t v[4] = {k[0] ^ 0x736f6d6570736575ULL, k[1] ^ 0x646f72616e646f6dULL,
                     k[0] ^ 0x6c7967656e657261ULL, k[1] ^ 0x7465646279746573ULL};
    uint64_t last = (uint64_t)DHT_ID_LEN << 56;

    for (size_t i = 0; i < DHT_ID_LEN; i += 8) {
        uint64_t m = le64(id->b + i);
        v[3] ^= m;
        sipround(v, 2);
        v[0] ^= m;
    }
    v[3] ^= last;
    sipround(v, 2);
    v[0] ^= last;
    v[2] ^= 0xff;
    sipround(v, 4);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
