/*
 * Regions and global addresses (schema/wire.md 5.11, Pastry's regions):
 * a node may announce, in its PONGs, the region it is in and the global
 * address it can be reached at from outside its local network (a NAT's
 * forwarded port, say). A node keeps what its contacts announced, and
 * when it hands a contact out in NODES, VALUES or PROVIDERS, it gives the
 * one that asks the contact's local address (the one it knows it by) if
 * the asker is in the contact's region (the same region id, or the same
 * local network), its global address otherwise: a contact behind a NAT
 * is reachable by those outside only at the address its NAT forwards.
 *
 * A global address is handed out only once the contact answered a ping
 * there (a probe, whose answer enters no table): anyone could announce
 * someone else's address, and have the network's lookups sent to it.
 * An announcement is kept DHT__ADVERT_KEEP_MS after it was last heard:
 * a PONG that says nothing (cut to what an unproven asker may be sent)
 * does not erase it.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* What a contact announced. */
typedef struct dht__advert {
    dht_id_t id;
    dht_addr_t local;  /* where its PONG came from: how we know it */
    dht_addr_t global; /* family 0: none announced */
    uint16_t region;   /* 0: none */
    uint8_t global_ok; /* it answered a probe at its global address */
    uint8_t probing;   /* a probe of it is on its way */
    uint64_t heard_at;
} dht__advert_t;

#define DHT__ADVERT_KEEP_MS (30u * 60u * 1000u)

static int live(const dht_t *dht, const dht__advert_t *a)
{
    return dht->now < a->heard_at + DHT__ADVERT_KEEP_MS;
}

static dht__advert_t *find(const dht_t *dht, const dht_id_t *id)
{
    for (size_t i = 0; i < dht->n_adverts; i++)
        if (dht_id_cmp(&dht->adverts[i].id, id) == 0)
            return &dht->adverts[i];
    return NULL;
}

/* A place for a new announcement: a free one, else the one heard from
 * longest ago. NULL if out of memory. */
static dht__advert_t *slot(dht_t *dht)
{
    dht__advert_t *a;

    if (dht->n_adverts == DHT__ADVERTS_MAX) {
        a = &dht->adverts[0];
        for (size_t i = 1; i < dht->n_adverts; i++)
            if (dht->adverts[i].heard_at < a->heard_at)
                a = &dht->adverts[i];
        return a;
    }
    a = dht__room_for_one(dht->adverts, dht->n_adverts, &dht->cap_adverts, sizeof(*a), 8);
    if (a == NULL)
        return NULL;
    dht->adverts = a;
    return &dht->adverts[dht->n_adverts++];
}

static void on_probe(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    (void)reply; /* an answer was taken by dht__advert_heard already */
    if (status == DHT__RPC_STALLED)
        return;
    for (size_t i = 0; i < dht->n_adverts; i++)
        if (dht_addr_equal(&dht->adverts[i].global, &rpc->to))
            dht->adverts[i].probing = 0;
}

int dht__advert_is_probe(const dht__rpc_t *rpc)
{
    return rpc->cb == on_probe;
}

/* Pings a's global address, no id expected: its answer enters no table. */
static void probe(dht_t *dht, dht__advert_t *a)
{
    dht__msg_t m;

    dht__msg_request(&m, DHT__PING, NULL);
    if (dht__rpc_send(dht, &m, &a->global, NULL, 0, 0, on_probe, NULL, 0) == 0)
        a->probing = 1;
}

void dht__advert_heard(dht_t *dht, const dht_id_t *id, const dht_addr_t *from,
                       const dht__msg_t *pong)
{
    dht__advert_t *a = find(dht, id);
    dht_addr_t global = {0};

    if (a != NULL && a->global.family != 0 && dht_addr_equal(from, &a->global)) {
        a->global_ok = 1; /* it answers at its global address */
        a->probing = 0;
        return;
    }
    if (!pong->has_region && !pong->has_advert)
        return; /* nothing said (maybe cut short): what was said stays, for a while */
    if (pong->has_advert && pong->advert.port != 0)
        global = pong->advert;
    if (a == NULL && (a = slot(dht)) == NULL)
        return;
    if (dht_id_cmp(&a->id, id) != 0 || !dht_addr_equal(&a->global, &global)) {
        memset(a, 0, sizeof(*a)); /* new, or another global address: not checked yet */
        a->id = *id;
        a->global = global;
    }
    a->local = *from;
    a->region = pong->has_region ? pong->region : 0;
    a->heard_at = dht->now;
    if (a->global.family != 0 && dht_addr_equal(&a->global, from))
        a->global_ok = 1; /* it answered there just now */
    if (a->global.family != 0 && !a->global_ok && !a->probing)
        probe(dht, a);
}

/* @return 1 if the asker at `addr` (id `who`) is in the region of a. */
static int same_region(const dht_t *dht, const dht__advert_t *a, const dht_id_t *who,
                       const dht_addr_t *addr)
{
    const dht__advert_t *w = who != NULL ? find(dht, who) : NULL;

    if (a->region != 0 && w != NULL && live(dht, w) && w->region == a->region)
        return 1;
    return dht__addr_local(addr) && dht__addr_local(&a->local) &&
           dht__addr_same_subnet(addr, &a->local);
}

void dht__advert_localize(const dht_t *dht, dht__msg_t *m, const dht_id_t *who,
                          const dht_addr_t *addr)
{
    if (dht->n_adverts == 0)
        return;
    for (unsigned i = 0; i < m->n_nodes; i++) {
        dht_node_info_t *n = &m->nodes[i];
        const dht__advert_t *a = find(dht, &n->id);
        /* Only a checked global address, for the address we know it by,
         * of the same family (the record's size, counted in the reply,
         * stays the same). */
        if (a == NULL || !live(dht, a) || !a->global_ok || a->global.family != n->addr.family ||
            !dht_addr_equal(&a->local, &n->addr))
            continue;
        if (!same_region(dht, a, who, addr))
            n->addr = a->global;
    }
}

void dht__adverts_free(dht_t *dht)
{
    free(dht->adverts);
    dht->adverts = NULL;
    dht->n_adverts = dht->cap_adverts = 0;
}
