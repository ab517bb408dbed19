/*
 * Maintenance: what keeps a routing table full and true without the
 * application doing anything. Liveness pings find dead contacts, pings of
 * learned nodes verify them, bucket refreshes find nodes for buckets that
 * went quiet, and right after a join one request per far bucket fills the
 * buckets the own-id lookup cannot reach.
 */
#include "node.h"

static void on_pong(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    (void)dht;
    (void)rpc;
    (void)status;
    (void)reply; /* the rpc layer already told the routing table */
}

static void ping(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr)
{
    dht__msg_t m;

    dht__msg_request(&m, DHT__PING, NULL);
    dht__rpc_send(dht, &m, addr, id, 0, 0, on_pong, NULL, 0);
}

void dht__verify_node(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr)
{
    ping(dht, id, addr);
}

/* A proof ping: padded to its PONG only, the size its sender's request
 * left room for (DHT__PONG_MAX), and sent once: an address that may be
 * forged gets no more than that (a node lost on the way asks again). */
static void proof_ping(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr, dht__rpc_cb cb)
{
    dht__msg_t m;

    dht__msg_request(&m, DHT__PING, NULL);
    m.pad = DHT__PONG_MAX - DHT__WIRE_HEADER;
    dht__rpc_send(dht, &m, addr, id, 0, 1, cb, NULL, 0);
}

void dht__verify_sender(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr)
{
    proof_ping(dht, id, addr, on_pong);
}

static void on_newcomer_pong(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht_node_info_t newcomer = {.id = rpc->id, .addr = rpc->to};

    (void)reply;
    if (status == 0 && !dht->closing)
        dht__replicate_newcomer(dht, &newcomer);
}

void dht__verify_newcomer(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr)
{
    proof_ping(dht, id, addr, on_newcomer_pong);
}
static void ping_questionable(dht_t *dht, uint64_t now)
{
    dht__rt_node_t n;

    if (dht__rt_ping_candidate(dht->rt, now, DHT__TICK_MS, &n))
        ping(dht, &n.id, &n.addr);
}

/* A random id inside bucket i's range. */
static void random_target(dht_t *dht, size_t i, dht_id_t *target)
{
    uint8_t rnd[DHT_ID_LEN];

    dht__rng_bytes(&dht->rng, rnd, sizeof(rnd));
    dht__rt_random_id_in_bucket(dht->rt, i, rnd, target);
}

/* Starts a lookup into the first stale bucket, empty ones included, as
 * Kademlia's bucket refresh does: a random id in its range, so the lookup
 * meets nodes that belong there. One per tick keeps the cost flat. */
static void refresh_stale_bucket(dht_t *dht, uint64_t now)
{
    size_t nb = dht__rt_bucket_count(dht->rt);

    for (size_t i = 0; i < nb; i++) {
        dht__rt_bucket_view_t v;
        dht_id_t target;
        dht__op_t *op;
        int err;

        dht__rt_bucket(dht->rt, i, &v, 0);
        if (now - v.last_changed < DHT__REFRESH_MS)
            continue;
        if (dht__rt_count(dht->rt, now, NULL, NULL, NULL) == 0)
            return; /* alone: nobody to ask */
        random_target(dht, i, &target);
        dht__rt_touch_bucket(dht->rt, i, now);
        op = dht__op_new(dht, DHT__OP_REFRESH, NULL, &err);
        if (op == NULL)
            return;
        if (dht__lookup_start(dht, op, &target, 0) != 0)
            dht__op_complete(dht, op, DHT_ENOMEM);
        return;
    }
}

void dht__maintenance_tick(dht_t *dht, uint64_t now)
{
    ping_questionable(dht, now);
    refresh_stale_bucket(dht, now);
}

/* ---- filling far buckets after a join ---- */

static void on_fill(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    (void)rpc;
    if (status != 0 || reply == NULL || reply->type != DHT__NODES)
        return;
    for (unsigned i = 0; i < reply->n_nodes; i++) {
        const dht_node_info_t *n = &reply->nodes[i];
        if (n->addr.port != 0)
            dht__rt_update(dht->rt, &n->id, &n->addr, dht->now, DHT__RT_LEARNED);
    }
}

/* Asks the known node closest to a random id of bucket i for the nodes
 * closest to it. @return 1 if a request went out. */
static int fill_bucket(dht_t *dht, size_t i)
{
    dht__rt_bucket_view_t v;
    dht__rt_node_t ask;
    dht__msg_t m;

    if (dht__rt_bucket(dht->rt, i, &v, 0) != 0 || v.n_nodes >= dht->cfg.k)
        return 0;
    dht__msg_request(&m, DHT__FIND_NODE, NULL);
    random_target(dht, i, &m.target);
    if (dht__rt_closest(dht->rt, &m.target, dht->now, &ask, 1) == 0)
        return 0;
    dht__rt_touch_bucket(dht->rt, i, dht->now);
    return dht__rpc_send(dht, &m, &ask.addr, &ask.id, 0, 0, on_fill, NULL, 0) == 0;
}

void dht__join_fill_start(dht_t *dht)
{
    dht__rt_node_t nearest;

    if (dht__rt_closest(dht->rt, &dht->self, dht->now, &nearest, 1) == 0)
        return;
    /* Buckets 0..d-1 lie farther than the nearest neighbour, which shares
     * d bits with us: the own-id lookup went past them. */
    dht->fill_next = 0;
    dht->fill_end = dht_id_common_prefix(&dht->self, &nearest.id);
    dht->fill_at = dht->now;
}

void dht__join_fill_step(dht_t *dht, uint64_t now)
{
    dht->fill_at = UINT64_MAX;
    while (dht->fill_next < dht->fill_end) {
        if (fill_bucket(dht, dht->fill_next++)) {
            dht->fill_at = now + DHT__FILL_SPACING_MS;
            return;
        }
    }
}

/* ---- looking again while the table is thin ---- */

void dht__sparse_start(dht_t *dht)
{
    dht->sparse_gap = DHT__SPARSE_FIRST_MS;
    dht->sparse_at = dht->now + dht->sparse_gap;
}

void dht__sparse_step(dht_t *dht, uint64_t now)
{
    size_t good = 0;
    dht__op_t *op;
    int err;

    dht->sparse_at = UINT64_MAX;
    dht__rt_count(dht->rt, now, &good, NULL, NULL);
    if (good >= dht->cfg.k || dht->cfg.client || dht->leave.active)
        return; /* a table with room to spare ends the chain */
    /* The gaps double up to DHT__REFRESH_MS; past that the refresh of
     * stale buckets, every DHT__REFRESH_MS, does this work (a network of
     * k nodes or fewer never has k good ones). */
    if (dht->sparse_gap < DHT__REFRESH_MS / 2) {
        dht->sparse_gap *= 2;
        dht->sparse_at = now + dht->sparse_gap;
    }
    op = dht__op_new(dht, DHT__OP_REJOIN, NULL, &err);
    if (op == NULL)
        return;
    if (dht__lookup_start(dht, op, &dht->self, 0) != 0)
        dht__op_complete(dht, op, DHT_ENOMEM);
}
