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
    dht_id_t digest; /* of the ROUTE's sender, key, origin and message: a new
                      * ROUTE that happens to reuse a txid is no resend */
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

/* @return 1 and *next if the table holds a verified node closer to key
 * than this one, other than the one at `from` (NULL: none): a message is
 * never forwarded to the address it came from, so a forged source cannot
 * have it sent back to itself with a reply besides (amplification). */
static int closer_contact(const dht_t *dht, const dht_id_t *key, const dht_addr_t *from,
                          dht_node_info_t *next)
{
    dht__rt_node_t n[2];
    size_t got = dht__rt_closest_verified(dht->rt, key, dht->now, n, 2);

    for (size_t i = 0; i < got; i++) {
        if (dht_id_cmp_distance(key, &n[i].id, &dht->self) >= 0)
            return 0;
        if (from != NULL && dht_addr_equal(&n[i].addr, from))
            continue;
        next->id = n[i].id;
        next->addr = n[i].addr;
        return 1;
    }
    return 0;
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

/* Delivers the routing node's own message here and completes its op. */
static void route_here(dht_t *dht, dht__op_t *op)
{
    op->peer_id = dht->self;
    if (deliver_here(dht, &op->lk.target, op->value, op->value_len, &dht->self) ==
        DHT__ROUTE_DELIVERED) {
        dht->st.routes_delivered++;
        dht__op_complete(dht, op, 0);
    } else {
        dht->st.routes_refused++;
        dht__op_complete(dht, op, DHT_EREJECTED);
    }
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
    if (route_next(dht, op))
        return;
    if (op->count) /* a contact closer than us, silent: the message is ours */
        route_here(dht, op);
    else
        dht__op_complete(dht, op, op->status);
}

void dht__route_lookup_done(dht_t *dht, dht__op_t *op)
{
    size_t len = op->value_len, i;
    const dht__cand_t *first = NULL;
    dht__cand_t closer;

    if (op->completed)
        return;
    for (i = 0; i < op->lk.n && first == NULL; i++)
        if (op->lk.cands[i].state == DHT__CAND_ANSWERED)
            first = &op->lk.cands[i];
    if (first == NULL) {
        dht__op_complete(dht, op, DHT_ENOPEERS);
        return;
    }
    /* Closer than every node that answered: the message is for us, unless
     * the table knows a verified node closer still (one whose request
     * stalled in the lookup), which a receiver would forward it to. */
    if (!dht->cfg.client && dht_id_cmp_distance(&op->lk.target, &dht->self, &first->node.id) < 0) {
        memset(&closer, 0, sizeof(closer));
        if (!closer_contact(dht, &op->lk.target, NULL, &closer.node)) {
            route_here(dht, op);
            return;
        }
        first = &closer;
        op->count = 1; /* it stays silent: delivered here after all */
    }
    if (!app_forward(dht, &op->lk.target, op->value, &len, &first->node.id)) {
        dht->st.routes_refused++;
        dht__op_complete(dht, op, DHT_EREJECTED);
        return;
    }
    if (first == &closer) {
        op->value_len = len;
        op->next_store = op->lk.n; /* no fallback but this node */
        op->status = DHT_ETIMEDOUT;
        if (send_route(dht, op, &closer) != 0)
            route_here(dht, op);
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

/* Sets *out to a digest of what makes ROUTE req the message it is. */
static void route_digest(const dht__msg_t *req, dht_id_t *out)
{
    uint8_t buf[3 * DHT_ID_LEN + 2 + DHT_ROUTE_MAX];
    size_t n = 0;

    memcpy(buf + n, req->sender.b, DHT_ID_LEN);
    n += DHT_ID_LEN;
    memcpy(buf + n, req->target.b, DHT_ID_LEN);
    n += DHT_ID_LEN;
    memcpy(buf + n, req->origin.b, DHT_ID_LEN);
    n += DHT_ID_LEN;
    buf[n++] = (uint8_t)req->value_len;
    buf[n++] = (uint8_t)(req->value_len >> 8);
    if (req->value_len > 0)
        memcpy(buf + n, req->value, req->value_len);
    n += req->value_len;
    dht_id_from_bytes(out, buf, n);
}

static struct dht__route_seen *seen_find(const dht_t *dht, uint32_t txid, const dht_addr_t *from,
                                         const dht_id_t *digest)
{
    if (dht->route_seen == NULL)
        return NULL;
    for (size_t i = 0; i < DHT__ROUTE_SEEN; i++) {
        struct dht__route_seen *s = &dht->route_seen[i];
        if (s->used && s->txid == txid && dht_addr_equal(&s->from, from) &&
            dht_id_cmp(&s->digest, digest) == 0)
            return s;
    }
    return NULL;
}

static void seen_add(dht_t *dht, uint32_t txid, const dht_addr_t *from, const dht_id_t *digest,
                     uint8_t outcome, const dht_id_t *peer)
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
    s->digest = *digest;
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
    const struct dht__route_seen *seen;
    uint8_t msg[DHT_ROUTE_MAX], outcome;
    size_t len = req->value_len;
    dht_node_info_t next;
    dht_id_t digest;

    route_digest(req, &digest);
    seen = seen_find(dht, req->txid, from, &digest);
    if (seen != NULL) { /* a resend: our answer was lost */
        *peer = seen->peer;
        return seen->outcome;
    }
    if (len > 0)
        memcpy(msg, req->value, len);
    *peer = dht->self;
    if (req->hops < DHT__WIRE_MAX_HOPS && closer_contact(dht, &req->target, from, &next)) {
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
    seen_add(dht, req->txid, from, &digest, outcome, peer);
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
