/*
 * Key-based routing (dht_route, Pastry's common API): a message goes to
 * the node closest to a key, and the application is told at each node it
 * passes (route_forward), where it arrives (route_deliver), and when a
 * node's neighbourhood changes (route_neighbours).
 *
 * Lookup then send, checked at the destination (schema/wire.md 4, ROUTE):
 * the routing node runs an iterative FIND_NODE lookup of the key, which
 * is reliable (alpha in flight, past dead and slow nodes), then sends one
 * ROUTE to the closest node that answered. That node delivers it, unless
 * it knows a verified node closer still (the lookup saw the network as it
 * was a moment ago): then it forwards it there, and so on, each hop
 * strictly closer, 8 hops at most. Hop by hop from the start (Pastry's
 * way) would put every forwarding node's timeouts on the message's path,
 * with no one to retry past a dead hop but that hop; the lookup does the
 * searching where the retries and the parallelism are, and the check at
 * the destination keeps what hop by hop does well: the message ends at
 * the node that is closest in the view of the nodes near the key.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* What a queued upcall (DHT__OP_UPCALL) tells the application. */
enum { UPCALL_DELIVER, UPCALL_NEIGHBOURS };

/* A ROUTE answered lately: a resend of it (same source, same txid) gets
 * the same answer, and the message is not forwarded or delivered twice. */
struct dht__route_seen {
    uint32_t txid;
    uint8_t used;
    uint8_t outcome;
    dht_addr_t from;
    dht_id_t peer;
};

/* ---- the application ---- */

/* Shows msg to route_forward on its way to next (the own id: delivered
 * here). @return 1 if it goes on (maybe changed: *len), 0 if dropped. */
static int app_forward(dht_t *dht, const dht_id_t *key, uint8_t *msg, size_t *len,
                       const dht_id_t *next)
{
    if (dht->cfg.route_forward == NULL)
        return 1;
    if (dht->cfg.route_forward(dht->cfg.route_arg, key, msg, len, next) != 0)
        return 0;
    return *len <= DHT_ROUTE_MAX;
}

/* Queues an upcall op carrying a copy of bytes[0..len): it runs from the
 * completion queue (dht__route_report). @return the op, or NULL. */
static dht__op_t *queue_upcall(dht_t *dht, uint8_t kind, const void *bytes, size_t len)
{
    dht__op_t *op;
    int err;

    op = dht__op_new(dht, DHT__OP_UPCALL, dht->cfg.route_arg, &err);
    if (op == NULL)
        return NULL;
    op->upcall = kind;
    op->value = malloc(len > 0 ? len : 1);
    if (op->value == NULL) {
        op->completed = 1;
        dht__op_unref(dht, op);
        return NULL;
    }
    if (len > 0)
        memcpy(op->value, bytes, len);
    op->value_len = len;
    dht__op_complete(dht, op, 0);
    return op;
}

/* Delivers msg here: route_forward (next: this node) may drop it, then
 * route_deliver gets it from the completion queue. @return
 * DHT__ROUTE_DELIVERED or DHT__ROUTE_REFUSED. */
static uint8_t deliver_here(dht_t *dht, const dht_id_t *key, uint8_t *msg, size_t len,
                            const dht_id_t *origin)
{
    dht__op_t *op;

    if (dht->cfg.client || dht->cfg.route_deliver == NULL ||
        !app_forward(dht, key, msg, &len, &dht->self))
        return DHT__ROUTE_REFUSED;
    op = queue_upcall(dht, UPCALL_DELIVER, msg, len);
    if (op == NULL)
        return DHT__ROUTE_REFUSED;
    op->value_hash = *key;
    op->peer_id = *origin;
    return DHT__ROUTE_DELIVERED;
}

/* ---- the routing node ---- */

static void on_routed(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply);

static int send_route(dht_t *dht, dht__op_t *op, const dht__cand_t *c)
{
    dht__msg_t m;

    /* The token of its NODES reply proves our address: no padding. */
    dht__msg_request(&m, DHT__ROUTE, c->has_token ? c->token : NULL);
    m.target = op->lk.target;
    m.origin = dht->self;
    m.hops = 0;
    m.value = op->value;
    m.value_len = (uint32_t)op->value_len;
    return dht__rpc_send(dht, &m, &c->node.addr, &c->node.id, 0, 0, on_routed, op, 0);
}

/* Sends the message to the closest candidate from op->next_store on that
 * answered the lookup. @return 1 if one went. */
static int route_next(dht_t *dht, dht__op_t *op)
{
    while (op->next_store < op->lk.n) {
        const dht__cand_t *c = &op->lk.cands[op->next_store++];
        if (c->state == DHT__CAND_ANSWERED && send_route(dht, op, c) == 0)
            return 1;
    }
    return 0;
}

static void on_routed(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;

    if (status == DHT__RPC_STALLED || op->completed)
        return;
    if (status == 0 && reply->type == DHT__ROUTED) {
        op->peer_id = reply->peer;
        if (reply->outcome == DHT__ROUTE_DELIVERED)
            status = 0;
        else if (reply->outcome == DHT__ROUTE_FORWARDED)
            status = DHT_ROUTE_FORWARDED;
        else
            status = DHT_EREJECTED;
        dht__op_complete(dht, op, status);
        return;
    }
    /* Gone since it answered the lookup, or busy (an ERROR): the next
     * closest is now the closest that takes it. */
    op->status = status == 0 ? DHT_EREJECTED : DHT_ETIMEDOUT;
    if (!route_next(dht, op))
        dht__op_complete(dht, op, op->status);
}

void dht__route_lookup_done(dht_t *dht, dht__op_t *op)
{
    size_t len = op->value_len, i;
    const dht__cand_t *first = NULL;

    for (i = 0; i < op->lk.n && first == NULL; i++)
        if (op->lk.cands[i].state == DHT__CAND_ANSWERED)
            first = &op->lk.cands[i];
    if (first == NULL) {
        dht__op_complete(dht, op, DHT_ENOPEERS);
        return;
    }
    /* Closer than every node that answered: the message is for us. */
    if (!dht->cfg.client && dht_id_cmp_distance(&op->lk.target, &dht->self, &first->node.id) < 0) {
        op->peer_id = dht->self;
        if (deliver_here(dht, &op->lk.target, op->value, len, &dht->self) == DHT__ROUTE_DELIVERED) {
            dht->st.routes_delivered++;
            dht__op_complete(dht, op, 0);
        } else {
            dht->st.routes_refused++;
            dht__op_complete(dht, op, DHT_EREJECTED);
        }
        return;
    }
    if (!app_forward(dht, &op->lk.target, op->value, &len, &first->node.id)) {
        dht__op_complete(dht, op, DHT_EREJECTED);
        return;
    }
    op->value_len = len;
    op->next_store = (size_t)(first - op->lk.cands);
    op->status = DHT_ETIMEDOUT;
    if (!route_next(dht, op))
        dht__op_complete(dht, op, op->status);
}

int dht_route(dht_t *dht, const dht_id_t *key, const void *msg, size_t len, dht_route_cb cb,
              void *arg)
{
    dht__op_t *op;
    int err;

    if (dht == NULL || key == NULL || (msg == NULL && len > 0) || cb == NULL)
        return DHT_EINVAL;
    if (len > DHT_ROUTE_MAX)
        return DHT_ETOOBIG;
    dht__now(dht);
    op = dht__op_new(dht, DHT__OP_ROUTE, arg, &err);
    if (op == NULL)
        return err;
    op->cb.route = cb;
    op->value = malloc(DHT_ROUTE_MAX); /* route_forward may make it longer */
    if (op->value == NULL) {
        err = DHT_ENOMEM;
        goto fail;
    }
    if (len > 0)
        memcpy(op->value, msg, len);
    op->value_len = len;
    err = dht__lookup_start(dht, op, key, 0);
    if (err)
        goto fail;
    dht__rearm(dht);
    return 0;
fail:
    op->completed = 1;
    dht__op_unref(dht, op);
    return err;
}

/* ---- a node the message reaches ---- */

static struct dht__route_seen *seen_find(const dht_t *dht, uint32_t txid, const dht_addr_t *from)
{
    if (dht->route_seen == NULL)
        return NULL;
    for (size_t i = 0; i < DHT__ROUTE_SEEN; i++) {
        struct dht__route_seen *s = &dht->route_seen[i];
        if (s->used && s->txid == txid && dht_addr_equal(&s->from, from))
            return s;
    }
    return NULL;
}

static void seen_add(dht_t *dht, uint32_t txid, const dht_addr_t *from, uint8_t outcome,
                     const dht_id_t *peer)
{
    struct dht__route_seen *s;

    if (dht->route_seen == NULL) {
        dht->route_seen = calloc(DHT__ROUTE_SEEN, sizeof(*dht->route_seen));
        if (dht->route_seen == NULL)
            return; /* a resend is then taken again */
    }
    s = &dht->route_seen[dht->route_seen_next];
    dht->route_seen_next = (dht->route_seen_next + 1) % DHT__ROUTE_SEEN;
    s->used = 1;
    s->txid = txid;
    s->from = *from;
    s->outcome = outcome;
    s->peer = *peer;
}

static void on_forwarded(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    /* The hop answered or not: nobody waits for it (the routing node was
     * answered "forwarded"); the rpc layer has marked it alive or failed. */
    (void)dht;
    (void)rpc;
    (void)status;
    (void)reply;
}

/* @return 1 and *next if the table holds a verified node closer to key
 * than this one. */
static int closer_contact(const dht_t *dht, const dht_id_t *key, dht_node_info_t *next)
{
    dht__rt_node_t n;

    if (dht__rt_closest_verified(dht->rt, key, dht->now, &n, 1) == 0 ||
        dht_id_cmp_distance(key, &n.id, &dht->self) >= 0)
        return 0;
    next->id = n.id;
    next->addr = n.addr;
    return 1;
}

static int forward(dht_t *dht, const dht__msg_t *req, const dht_node_info_t *next,
                   const uint8_t *msg, size_t len)
{
    dht__msg_t m;

    dht__msg_request(&m, DHT__ROUTE, NULL);
    m.target = req->target;
    m.origin = req->origin;
    m.hops = (uint8_t)(req->hops + 1);
    m.value = msg;
    m.value_len = (uint32_t)len;
    return dht__rpc_send(dht, &m, &next->addr, &next->id, 0, 0, on_forwarded, NULL, 0);
}

uint8_t dht__route_take(dht_t *dht, const dht__msg_t *req, const dht_addr_t *from, dht_id_t *peer)
{
    const struct dht__route_seen *seen = seen_find(dht, req->txid, from);
    uint8_t msg[DHT_ROUTE_MAX], outcome;
    size_t len = req->value_len;
    dht_node_info_t next;

    if (seen != NULL) { /* a resend: our answer was lost */
        *peer = seen->peer;
        return seen->outcome;
    }
    if (len > 0)
        memcpy(msg, req->value, len);
    *peer = dht->self;
    if (req->hops < DHT__WIRE_MAX_HOPS && closer_contact(dht, &req->target, &next)) {
        outcome = DHT__ROUTE_REFUSED;
        if (app_forward(dht, &req->target, msg, &len, &next.id) &&
            forward(dht, req, &next, msg, len) == 0) {
            outcome = DHT__ROUTE_FORWARDED;
            *peer = next.id;
        }
    } else {
        outcome = deliver_here(dht, &req->target, msg, len, &req->origin);
    }
    if (outcome == DHT__ROUTE_DELIVERED)
        dht->st.routes_delivered++;
    else if (outcome == DHT__ROUTE_FORWARDED)
        dht->st.routes_forwarded++;
    else
        dht->st.routes_refused++;
    seen_add(dht, req->txid, from, outcome, peer);
    return outcome;
}

/* ---- neighbours ---- */

void dht__route_tick(dht_t *dht)
{
    dht__rt_node_t nodes[DHT_MAX_K];
    dht_node_info_t info[DHT_MAX_K];
    dht_id_t ids[DHT_MAX_K], digest;
    static const dht_id_t none;
    size_t n;

    if (dht->cfg.route_neighbours == NULL)
        return;
    n = dht__rt_closest_verified(dht->rt, &dht->self, dht->now, nodes, dht->cfg.k);
    if (n == 0 && dht_id_cmp(&dht->neighbours_told, &none) == 0)
        return; /* none yet, and none told */
    for (size_t i = 0; i < n; i++) {
        info[i].id = nodes[i].id;
        info[i].addr = nodes[i].addr;
        ids[i] = nodes[i].id;
    }
    dht_id_from_bytes(&digest, ids, n * sizeof(ids[0]));
    if (dht_id_cmp(&digest, &dht->neighbours_told) == 0)
        return;
    if (queue_upcall(dht, UPCALL_NEIGHBOURS, info, n * sizeof(info[0])) != NULL)
        dht->neighbours_told = digest;
}

/* ---- reports ---- */

void dht__route_report(dht_t *dht, dht__op_t *op)
{
    if (op->kind == DHT__OP_ROUTE) {
        int ok = op->status == 0 || op->status == DHT_ROUTE_FORWARDED;
        op->cb.route(op->status, ok ? &op->peer_id : NULL, op->arg);
        return;
    }
    if (op->status != 0 || dht->closing)
        return; /* a node being freed tells nothing more */
    if (op->upcall == UPCALL_DELIVER)
        dht->cfg.route_deliver(op->arg, &op->value_hash, op->value, op->value_len, &op->peer_id);
    else
        dht->cfg.route_neighbours(op->arg, (const dht_node_info_t *)(const void *)op->value,
                                  op->value_len / sizeof(dht_node_info_t));
}

void dht__route_free(dht_t *dht)
{
    free(dht->route_seen);
    dht->route_seen = NULL;
}
