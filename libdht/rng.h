/*
 * A small deterministic PRNG (xoshiro256**, seeded by splitmix64) for
 * transaction ids, lookup targets and simulation. Not for secrets: token
 * secrets come from SHA-256 of a separate master secret (see node.c).
 */
#ifndef DHT_RNG_H
#define DHT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct dht__rng {
    uint64_t s[4];
} dht__rng_t;

/* Seeds rng from a 64-bit seed; any seed, 0 included, gives a good state. */
void dht__rng_seed(dht__rng_t *rng, uint64_t seed);

/* @return the next 64 random bits. */
uint64_t dht__rng_next(dht__rng_t *rng);

/* @return a number uniform in [0, n), n > 0. */
uint64_t dht__rng_below(dht__rng_t *rng, uint64_t n);

/* @return a double uniform in [0, 1). */
double dht__rng_double(dht__rng_t *rng);

/* Fills buf[0..len) with random bytes. */
void dht__rng_bytes(dht__rng_t *rng, uint8_t *buf, size_t len);

#endif /* DHT_RNG_H */
