/*
 * emofs sim: the global view. The ids of the nodes on the network, sorted,
 * answer "which k nodes are truly closest to this target" in O(log N):
 * the nodes that share a prefix with the target form a contiguous range
 * of the sorted ids, and every node sharing L bits is closer than every
 * node sharing fewer. So narrow the range bit by bit while it still holds
 * k nodes, then sort what is left by distance.
 */
#include "tool/sim/sim_internal.h"

#include <stdlib.h>
#include <string.h>

static int cmp_ref(const void *a, const void *b)
{
    return dht_id_cmp(&((const sim_ref_t *)a)->id, &((const sim_ref_t *)b)->id);
}

int sim_truth_build(sim_truth_t *t, dht_sim_t *sim, const uint8_t *online)
{
    size_t count = dht_sim_node_count(sim);

    t->n = 0;
    free(t->refs);
    t->refs = malloc((count ? count : 1) * sizeof(*t->refs));
    if (t->refs == NULL)
        return DHT_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        dht_t *d = dht_sim_node(sim, i);
        if (d == NULL || (online != NULL && !online[i]))
            continue;
        t->refs[t->n].id = *dht_self(d);
        t->refs[t->n].idx = (uint32_t)i;
        t->n++;
    }
    qsort(t->refs, t->n, sizeof(*t->refs), cmp_ref);
    return 0;
}

void sim_truth_free(sim_truth_t *t)
{
    free(t->refs);
    t->refs = NULL;
    t->n = 0;
}

static int bit(const dht_id_t *id, unsigned b)
{
    return (id->b[b / 8] >> (7 - b % 8)) & 1;
}

/* First index in [lo, hi) whose bit b is 1 (all share the bits before b). */
static size_t split(const sim_ref_t *refs, size_t lo, size_t hi, unsigned b)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bit(&refs[mid].id, b))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A candidate with its XOR distance to the target: sorting by the
 * distance's bytes is sorting by distance, with no target to share
 * (qsort has no context argument, and a static one would make the
 * simulator non-reentrant). */
typedef struct by_dist {
    dht_id_t dist;
    sim_ref_t ref;
} by_dist_t;

static int cmp_dist(const void *a, const void *b)
{
    return dht_id_cmp(&((const by_dist_t *)a)->dist, &((const by_dist_t *)b)->dist);
}

size_t sim_truth_closest(const sim_truth_t *t, const dht_id_t *target, const dht_id_t *exclude,
                         size_t k, sim_ref_t *out)
{
    size_t lo = 0, hi = t->n, n = 0, ex = SIZE_MAX;
    by_dist_t *tmp;

    if (exclude != NULL) {
        sim_ref_t key;
        const sim_ref_t *hit;
        key.id = *exclude;
        hit = bsearch(&key, t->refs, t->n, sizeof(key), cmp_ref);
        if (hit != NULL)
            ex = (size_t)(hit - t->refs);
    }
    for (unsigned b = 0; b < DHT_ID_LEN * 8; b++) {
        size_t m = split(t->refs, lo, hi, b), nlo, nhi, have;
        if (bit(target, b)) {
            nlo = m;
            nhi = hi;
        } else {
            nlo = lo;
            nhi = m;
        }
        have = nhi - nlo - (ex >= nlo && ex < nhi);
        if (have < k)
            break;
        lo = nlo;
        hi = nhi;
    }
    tmp = malloc((hi - lo ? hi - lo : 1) * sizeof(*tmp));
    if (tmp == NULL)
        return 0;
    for (size_t i = lo; i < hi; i++) {
        if (i == ex)
            continue;
        tmp[n].ref = t->refs[i];
        for (size_t b = 0; b < DHT_ID_LEN; b++)
            tmp[n].dist.b[b] = (uint8_t)(t->refs[i].id.b[b] ^ target->b[b]);
        n++;
    }
    qsort(tmp, n, sizeof(*tmp), cmp_dist);
    if (n > k)
        n = k;
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[i].ref;
    free(tmp);
    return n;
}
