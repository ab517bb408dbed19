/*
 * What each request source may be sent (schema/wire.md 2.3): a token
 * bucket of requests per second (cfg.rate_limit) and one of value bytes
 * per second (cfg.send_rate_limit), and, while the source has not proven
 * its address, the bytes it sent that no reply has used yet. One slot per
 * source in a small direct-mapped table: a flood from many sources only
 * evicts slots, never grows it, and a new slot starts with no credit.
 */
#include "node.h"

#include <stdlib.h>

static uint32_t addr_hash(const dht_addr_t *a)
{
    size_t n = a->family == DHT_AF_INET6 ? 16 : 4;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ a->ip[i]) * 16777619u;
    h = (h ^ a->port) * 16777619u;
    return h;
}

/* @return addr's slot, refilled to now (a new one starts with a burst of
 * one second's worth and no credit), or NULL without memory for them. */
static dht__rate_slot_t *slot_of(dht_t *dht, const dht_addr_t *addr)
{
    double rate = dht->cfg.rate_limit, send = (double)dht->cfg.send_rate_limit;
    double secs;
    dht__rate_slot_t *s;

    if (dht->rate == NULL) {
        dht->rate = calloc(DHT__RATE_SLOTS, sizeof(*dht->rate));
        if (dht->rate == NULL)
            return NULL;
    }
    s = &dht->rate[addr_hash(addr) % DHT__RATE_SLOTS];
    if (!dht_addr_equal(&s->addr, addr)) {
        s->addr = *addr;
        s->tokens = rate;
        s->send_bytes = send;
        s->credit = 0;
        s->ping_until = 0;
        s->refilled_at = dht->now;
    }
    secs = (double)(dht->now - s->refilled_at) / 1000.0;
    s->tokens = s->tokens + secs * rate < rate ? s->tokens + secs * rate : rate;
    s->send_bytes = s->send_bytes + secs * send < send ? s->send_bytes + secs * send : send;
    s->refilled_at = dht->now;
    return s;
}

int dht__serving_start(dht_t *dht, dht__serving_t *sv, const dht_addr_t *from)
{
    dht__rate_slot_t *s = slot_of(dht, from);

    *sv = (dht__serving_t){.from = from, .slot = s};
    if (dht->cfg.rate_limit == 0 || s == NULL)
        return 0; /* without memory for the limiter, serve */
    if (s->tokens < 1.0) {
        dht->st.dropped_rate_limited++;
        return DHT_EBUSY;
    }
    s->tokens -= 1.0;
    return 0;
}

void dht__serving_credit(dht__serving_t *sv, int proven, size_t len)
{
    size_t credit;

    sv->proven = proven;
    if (proven)
        return;
    credit = (sv->slot != NULL ? sv->slot->credit : 0) + len;
    sv->room = credit < DHT__CREDIT_MAX ? credit : DHT__CREDIT_MAX;
    if (sv->slot != NULL)
        sv->slot->credit = (uint32_t)sv->room;
}

int dht__serving_spend(dht__serving_t *sv, size_t bytes)
{
    if (sv->proven)
        return 1;
    if (bytes > sv->room)
        return 0;
    sv->room -= bytes;
    if (sv->slot != NULL)
        sv->slot->credit = (uint32_t)sv->room;
    return 1;
}

int dht__serving_may_send(dht_t *dht, dht__serving_t *sv, size_t bytes)
{
    if (dht__serving_spend(sv, bytes))
        return 1;
    dht->st.refused_unproven++;
    return 0;
}

int dht__serving_send_rate_ok(dht_t *dht, dht__serving_t *sv, size_t bytes)
{
    if (dht->cfg.send_rate_limit == 0 || sv->slot == NULL)
        return 1;
    if (sv->slot->send_bytes < (double)bytes) {
        dht->st.refused_send_rate++;
        return 0;
    }
    sv->slot->send_bytes -= (double)bytes;
    return 1;
}
