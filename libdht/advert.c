/*
 * Regions and global addresses (schema/wire.md 5.11, Pastry's regions):
 * a node may announce, in its PONGs, the region it is in and the global
 * address it can be reached at from outside its local network (a NAT's
 * forwarded port, say). A node keeps what its contacts announced, and
 * when it hands a contact out in NODES or VALUES, it gives the one that
 * asks the contact's local address (the one it knows it by) if the asker
 * is in the contact's region (the same region id, or the same local
 * network), its global address otherwise: a contact behind a NAT is
 * reachable by those outside only at the address its NAT forwards.
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
    uint64_t heard_at;
} dht__advert_t;

static dht__advert_t *find(const dht_t *dht, const dht_id_t *id)
{
    for (size_t i = 0; i < dht->n_adverts; i++)
        if (dht_id_cmp(&dht->adverts[i].id, id) == 0)
            return &dht->adverts[i];
    return NULL;
}

void dht__advert_heard(dht_t *dht, const dht_id_t *id, const dht_addr_t *from,
                       const dht__msg_t *pong)
{
    dht__advert_t *a = find(dht, id);

    if (!pong->has_region && !pong->has_advert) {
        if (a != NULL) /* it announces nothing any more */
            *a = dht->adverts[--dht->n_adverts];
        return;
    }
    if (a == NULL && dht->n_adverts == DHT__ADVERTS_MAX) {
        a = &dht->adverts[0]; /* the one heard from longest ago goes */
        for (size_t i = 1; i < dht->n_adverts; i++)
            if (dht->adverts[i].heard_at < a->heard_at)
                a = &dht->adverts[i];
    } else if (a == NULL) {
        if (dht->n_adverts == dht->cap_adverts) {
            size_t cap = dht->cap_adverts ? 2 * dht->cap_adverts : 8;
            void *p = realloc(dht->adverts, cap * sizeof(*dht->adverts));
            if (p == NULL)
                return;
            dht->adverts = p;
            dht->cap_adverts = cap;
        }
        a = &dht->adverts[dht->n_adverts++];
    }
    memset(a, 0, sizeof(*a));
    a->id = *id;
    a->local = *from;
    a->region = pong->region;
    if (pong->has_advert)
        a->global = pong->advert;
    a->heard_at = dht->now;
}

/* @return 1 if the asker at `addr` (id `who`) is in the region of a. */
static int same_region(const dht_t *dht, const dht__advert_t *a, const dht_id_t *who,
                       const dht_addr_t *addr)
{
    const dht__advert_t *w = who != NULL ? find(dht, who) : NULL;

    if (a->region != 0 && w != NULL && w->region == a->region)
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
        /* Only the address we know it by, and one of the same family
         * (the record's size, counted in the reply, stays the same). */
        if (a == NULL || a->global.family != n->addr.family || !dht_addr_equal(&a->local, &n->addr))
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
