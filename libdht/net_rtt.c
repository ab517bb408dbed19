/*
 * Round-trip times by network (node.h): what a lookup guesses for a
 * candidate it never measured, from the contacts it did measure in the
 * same network. Nodes of one site, city or provider share an address
 * prefix and, mostly, a round trip; a get that must choose among a
 * handful of equally good strangers asks one in a network it knows to
 * be near first (proximity, lookup.c).
 *
 * Two levels per family: IPv4 /24 and /16, IPv6 /48 and /32; a guess
 * takes the narrower level it has. A small direct-mapped table (a
 * network hashes to one slot of its level's half, a newcomer takes the
 * slot over), allocated with the node's first sample: a simulated node
 * that never asks anything costs nothing. Samples come only from replies
 * to our own requests, timed by us.
 */
#include <stdlib.h>
#include <string.h>

#include "node.h"

#define NET_RTT_SLOTS 64u

struct dht__net_rtt {
    uint8_t key[9]; /* level (family, width), then the prefix bytes */
    uint16_t rtt;   /* smoothed, DHT__RT_RTT_UNIT_US; 0: empty slot */
};

/* Writes the key of addr's network at level (0 narrow, 1 wide).
 * @return 0, or -1 for an address of no known family. */
static int net_key(const dht_addr_t *addr, unsigned level, uint8_t key[9])
{
    static const uint8_t width[2][2] = {{3, 2}, {6, 4}}; /* bytes: v4, v6 */
    unsigned v6;

    if (addr->family == DHT_AF_INET)
        v6 = 0;
    else if (addr->family == DHT_AF_INET6)
        v6 = 1;
    else
        return -1;
    memset(key, 0, 9);
    key[0] = (uint8_t)(1 + v6 * 2 + level);
    memcpy(key + 1, addr->ip, width[v6][level]);
    return 0;
}

/* @return key's slot: in the half of the table of its level, so that a
 * network's two levels never take each other's place. */
static unsigned net_slot(const uint8_t key[9], unsigned level)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (int i = 0; i < 9; i++)
        h = (h ^ key[i]) * 16777619u;
    return level * (NET_RTT_SLOTS / 2) + h % (NET_RTT_SLOTS / 2);
}

void dht__net_rtt_sample(dht_t *dht, const dht_addr_t *addr, uint64_t sample_us)
{
    uint8_t key[9];

    if (dht->net_rtt == NULL &&
        (dht->net_rtt = calloc(NET_RTT_SLOTS, sizeof(*dht->net_rtt))) == NULL)
        return;
    for (unsigned level = 0; level < 2; level++) {
        if (net_key(addr, level, key) != 0)
            return;
        dht__net_rtt_t *e = &dht->net_rtt[net_slot(key, level)];
        if (e->rtt == 0 || memcmp(e->key, key, sizeof(key)) != 0) {
            memcpy(e->key, key, sizeof(key));
            e->rtt = 0;
        }
        e->rtt = dht__rtt_smooth(e->rtt, sample_us);
    }
}

uint32_t dht__net_rtt(const dht_t *dht, const dht_addr_t *addr)
{
    uint8_t key[9];

    if (dht->net_rtt == NULL)
        return 0;
    for (unsigned level = 0; level < 2; level++) {
        if (net_key(addr, level, key) != 0)
            return 0;
        const dht__net_rtt_t *e = &dht->net_rtt[net_slot(key, level)];
        if (e->rtt != 0 && memcmp(e->key, key, sizeof(key)) == 0)
            return (uint32_t)e->rtt * DHT__RT_RTT_UNIT_US;
    }
    return 0;
}
