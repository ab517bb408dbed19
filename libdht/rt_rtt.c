/*
 * Round-trip times per contact (rt.h): kept in a bucket node's extra slot
 * (allocated with the bucket's first token, which nearly every answering
 * node hands us anyway), so a table of contacts that never answered, the
 * simulator's million, costs nothing more. Replacement-cache entries have
 * none: they are measured once they enter the bucket and answer.
 */
#include "rt_int.h"

#include <stdlib.h>

uint16_t dht__rtt_smooth(uint16_t srtt, uint64_t sample_us)
{
    uint64_t units = (sample_us + DHT__RT_RTT_UNIT_US / 2) / DHT__RT_RTT_UNIT_US;

    if (units < 1)
        units = 1;
    if (units > UINT16_MAX)
        units = UINT16_MAX;
    if (srtt == 0)
        return (uint16_t)units;
    /* srtt += (sample - srtt) / 8, rounded (truncated, a sample within
     * 7 units would never move it), never below 1. */
    int64_t diff = (int64_t)units - (int64_t)srtt;
    int64_t next = (int64_t)srtt + (diff + (diff >= 0 ? 4 : -4)) / 8;
    return (uint16_t)(next < 1 ? 1 : next > UINT16_MAX ? UINT16_MAX : next);
}

void dht__rt_rtt_sample(dht__rt_t *rt, const dht_id_t *id, uint64_t sample_us)
{
    bucket_t *b = &rt->buckets[bucket_index(rt, id)];
    int i = slots_find(rt, &b->nodes, id);

    if (i < 0)
        return;
    if (b->extra == NULL && (b->extra = calloc(rt->k, sizeof(extra_t))) == NULL)
        return;
    b->extra[i].rtt = dht__rtt_smooth(b->extra[i].rtt, sample_us);
}

uint32_t dht__rt_rtt(const dht__rt_t *rt, const dht_id_t *id)
{
    extra_t *x;

    if (bucket_node(rt, id, &x) == NULL || x == NULL)
        return 0;
    return (uint32_t)x->rtt * DHT__RT_RTT_UNIT_US;
}
