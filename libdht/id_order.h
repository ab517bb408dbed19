/*
 * Distance order between ids, inline: the routing table and lookups
 * compare distances more than anything else (a find-node answer scans
 * most of the table). dht_id_cmp_distance (dht.h) is the same order.
 */
#ifndef DHT_ID_ORDER_H
#define DHT_ID_ORDER_H

#include "dht.h"

#include <endian.h> /* be64toh */
#include <stdint.h>
#include <string.h>

/* The 8 bytes at p as a big-endian number. */
static inline uint64_t dht__load_be64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return be64toh(v);
}

/* As dht_id_cmp_distance: <0, 0, >0 as a is nearer to target than b,
 * as near, or farther; a word at a time. */
static inline int dht__id_cmp_distance(const dht_id_t *target, const dht_id_t *a, const dht_id_t *b)
{
    for (size_t i = 0; i < DHT_ID_LEN; i += 8) {
        uint64_t t = dht__load_be64(target->b + i);
        uint64_t da = dht__load_be64(a->b + i) ^ t;
        uint64_t db = dht__load_be64(b->b + i) ^ t;
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

#endif /* DHT_ID_ORDER_H */
