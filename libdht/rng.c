/* xoshiro256** by Blackman and Vigna, seeded with splitmix64. */
#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void dht__rng_seed(dht__rng_t *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t dht__rng_next(dht__rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t dht__rng_below(dht__rng_t *rng, uint64_t n)
{
    /* Rejection keeps it uniform; the loop runs once almost always. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do {
        x = dht__rng_next(rng);
    } while (x >= limit);
    return x % n;
}

double dht__rng_double(dht__rng_t *rng)
{
    return (double)(dht__rng_next(rng) >> 11) * 0x1.0p-53;
}

void dht__rng_bytes(dht__rng_t *rng, uint8_t *buf, size_t len)
{
    while (len > 0) {
        uint64_t x = dht__rng_next(rng);
        for (int i = 0; i < 8 && len > 0; i++, len--) {
            *buf++ = (uint8_t)x;
            x >>= 8;
        }
    }
}
