/*
 * emofs sim: the run's randomness, splitmix64 from the seed.
 */
#include "tool/sim/sim_internal.h"

uint64_t sim_rng_next(sim_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t sim_rng_below(sim_rng_t *r, uint64_t n)
{
    /* Rejection keeps it uniform; the loop almost never turns twice. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

    do
        x = sim_rng_next(r);
    while (x >= limit);
    return x % n;
}
