/*
 * The batched replication check (replicate.c decides which values are due).
 * For a value whose r closest nodes this node's routing table knows, this
 * node among them, no lookup is needed to learn who should keep it: each of
 * those keepers is asked, in one HAVE per keeper for up to
 * DHT__WIRE_MAX_HAVE values at once, which of them it holds (schema/wire.md
 * 4, HAVE and HELD), and only the values a keeper lacks are stored on it.
 * A value for which this node is not among the r closest its table knows
 * (its table is thin there), or one of whose keepers did not answer (dead,
 * or gone), is checked by a lookup instead (replicate.c), which finds the
 * live nodes that replace it.
 */
#include "id_order.h"
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* One value of the batch. */
typedef struct item {
    dht_id_t key, hash;
    uint8_t by_lookup;           /* a keeper did not answer: check it by lookup */
    uint8_t n_lacking;           /* keepers that answered without it */
    uint16_t lacking[DHT_MAX_K]; /* their requests (check->reqs[]) */
} item_t;

/* One HAVE: a keeper and the values asked of it. */
typedef struct have_req {
    dht_node_info_t node;
    uint8_t token[DHT__WIRE_TOKEN_LEN]; /* from its HELD: for the STOREs */
    uint8_t n;
    uint16_t items[DHT__WIRE_MAX_HAVE]; /* indexes into check->items[] */
} have_req_t;

struct dht__check {
    uint8_t offer; /* an offer to one node: no lookup when it does not answer */
    item_t items[DHT__CHECK_BATCH];
    size_t n_items;
    have_req_t *reqs;
    size_t n_reqs, cap_reqs;
};

void dht__check_free(dht__check_t *c)
{
    if (c == NULL)
        return;
    free(c->reqs);
    free(c);
}

/* @return the request to `node` with room for one more value (a new one if
 * none), or NULL when out of memory. */
static have_req_t *req_for(dht__check_t *c, const dht_node_info_t *node)
{
    for (size_t i = c->n_reqs; i-- > 0;)
        if (c->reqs[i].n < DHT__WIRE_MAX_HAVE && dht_id_cmp(&c->reqs[i].node.id, &node->id) == 0)
            return &c->reqs[i];
    if (c->n_reqs == c->cap_reqs) {
        size_t cap = c->cap_reqs ? 2 * c->cap_reqs : 16;
        have_req_t *p = realloc(c->reqs, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        c->reqs = p;
        c->cap_reqs = cap;
    }
    memset(&c->reqs[c->n_reqs], 0, sizeof(c->reqs[0]));
    c->reqs[c->n_reqs].node = *node;
    return &c->reqs[c->n_reqs++];
}

/* Adds the value (key, hash) with its keepers, or says it needs a lookup.
 * @return 0 when added (or nothing to ask: no keeper but this node),
 *         1 when only a lookup can check it, or DHT_ENOMEM. */
static int add_value(dht_t *dht, dht__check_t *c, const dht_id_t *key, const dht_id_t *hash)
{
    const dht__value_t *v = dht__store_find(dht->store, key, hash, dht->now);
    dht__rt_node_t nodes[DHT_MAX_K];
    size_t n, nearer = 0, idx = c->n_items;
    unsigned copies;

    if (v == NULL || dht__value_is_record(v))
        return 0; /* gone meanwhile; or a provider record, never replicated */
    copies = dht__value_copies(v->flags, dht->cfg.k);
    n = dht__rt_closest_verified(dht->rt, key, dht->now, nodes, copies);
    while (nearer < n && dht__id_cmp_distance(key, &nodes[nearer].id, &dht->self) < 0)
        nearer++;
    if (nearer >= copies)
        return 1; /* not among the r closest it knows: its table may be thin there */
    if (n > copies - 1)
        n = copies - 1; /* this node takes a place of its own */
    if (n == 0)
        return 0;
    memset(&c->items[idx], 0, sizeof(c->items[idx]));
    c->items[idx].key = *key;
    c->items[idx].hash = *hash;
    c->n_items++;
    for (size_t i = 0; i < n; i++) {
        dht_node_info_t node = {.id = nodes[i].id, .addr = nodes[i].addr};
        have_req_t *r = req_for(c, &node);
        if (r == NULL)
            return DHT_ENOMEM;
        r->items[r->n++] = (uint16_t)idx;
    }
    return 0;
}

/* Stores each value on the keepers that lack it, and checks by lookup
 * those whose keepers did not all answer. Then the batch is over. */
static void finish(dht_t *dht, dht__op_t *op)
{
    dht__check_t *c = op->check;

    /* The values a keeper lacks go to it together (store_out.c). */
    dht__stores_hold(dht);
    for (size_t i = 0; i < c->n_items && !dht->closing; i++) {
        const item_t *it = &c->items[i];
        dht__cand_t to[DHT_MAX_K];
        if (it->by_lookup) {
            if (!c->offer)
                (void)dht__replicate_start(dht, &it->key, &it->hash); /* busy: next interval */
            continue;
        }
        for (unsigned j = 0; j < it->n_lacking; j++) {
            const have_req_t *r = &c->reqs[it->lacking[j]];
            memset(&to[j], 0, sizeof(to[j]));
            to[j].node = r->node;
            to[j].state = DHT__CAND_ANSWERED;
            to[j].has_token = 1;
            memcpy(to[j].token, r->token, sizeof(to[j].token));
        }
        if (it->n_lacking > 0)
            (void)dht__replicate_store(dht, &it->key, &it->hash, to, it->n_lacking);
    }
    dht__stores_flush(dht);
    dht__op_complete(dht, op, 0);
}

static void on_held(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;
    dht__check_t *c = op->check;
    have_req_t *r = &c->reqs[rpc->tag];

    if (status == DHT__RPC_STALLED || op->completed)
        return;
    if (status == 0 && reply->type == DHT__HELD && reply->n_have == r->n) {
        memcpy(r->token, reply->token, sizeof(r->token));
        for (unsigned i = 0; i < r->n; i++) {
            item_t *it = &c->items[r->items[i]];
            if (!(reply->held_bits >> i & 1u) && it->n_lacking < DHT_MAX_K)
                it->lacking[it->n_lacking++] = (uint16_t)rpc->tag;
        }
    } else {
        for (unsigned i = 0; i < r->n; i++)
            c->items[r->items[i]].by_lookup = 1;
    }
    if (--op->pending == 0)
        finish(dht, op);
}

/* Sends the batch's HAVEs as an operation of its own (it frees c). */
static int launch(dht_t *dht, dht__check_t *c)
{
    dht__op_t *op;
    int err = 0;

    if (c->n_reqs == 0) {
        dht__check_free(c);
        return 0;
    }
    op = dht__op_new(dht, DHT__OP_CHECK, NULL, &err);
    if (op == NULL) {
        dht__check_free(c);
        return err;
    }
    op->check = c;
    dht->replicating++;
    for (size_t i = 0; i < c->n_reqs; i++) {
        have_req_t *r = &c->reqs[i];
        dht__msg_t m;
        memset(&m, 0, sizeof(m));
        dht__msg_request(&m, DHT__HAVE, NULL);
        m.n_have = r->n;
        for (unsigned j = 0; j < r->n; j++) {
            m.have_key[j] = c->items[r->items[j]].key;
            m.have_hash[j] = c->items[r->items[j]].hash;
        }
        /* Two sends, each of the adaptive timeout: a keeper that answers
         * neither is checked for by a lookup, which finds who replaces it.
         * An offer goes once: the newcomer may be a forged address, and
         * nothing but this datagram goes there before it answers. */
        if (dht__rpc_send(dht, &m, &r->node.addr, &r->node.id, 0, c->offer ? 1 : 2, on_held, op,
                          i) == 0) {
            op->pending++;
        } else {
            for (unsigned j = 0; j < r->n; j++)
                c->items[r->items[j]].by_lookup = 1;
        }
    }
    if (op->pending == 0)
        finish(dht, op);
    return 0;
}

int dht__check_start(dht_t *dht, const dht_id_t *keys, const dht_id_t *hashes, size_t n)
{
    dht__check_t *c = calloc(1, sizeof(*c));
    int err = 0;

    if (c == NULL)
        return DHT_ENOMEM;
    if (n > DHT__CHECK_BATCH)
        n = DHT__CHECK_BATCH;
    for (size_t i = 0; i < n && err == 0; i++) {
        int how = add_value(dht, c, &keys[i], &hashes[i]);
        if (how == 0)
            dht->st.replications++; /* a lookup counts its own */
        if (how == 1)
            (void)dht__replicate_start(dht, &keys[i], &hashes[i]); /* busy: next interval */
        else if (how < 0)
            err = how;
    }
    if (err != 0) {
        dht__check_free(c);
        return err;
    }
    return launch(dht, c);
}

int dht__check_offer(dht_t *dht, const dht_node_info_t *to, const dht_id_t *keys,
                     const dht_id_t *hashes, size_t n)
{
    dht__check_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return DHT_ENOMEM;
    c->offer = 1;
    if (n > DHT__CHECK_BATCH)
        n = DHT__CHECK_BATCH;
    for (size_t i = 0; i < n; i++) {
        have_req_t *r = req_for(c, to);
        if (r == NULL) {
            dht__check_free(c);
            return DHT_ENOMEM;
        }
        c->items[i].key = keys[i];
        c->items[i].hash = hashes[i];
        r->items[r->n++] = (uint16_t)i;
        c->n_items++;
    }
    return launch(dht, c);
}
