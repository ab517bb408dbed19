/*
 * Replication: what a node holds for others stays on the r closest live
 * nodes (r: the copies its publisher asked for, k when it named none). Once per
 * replicate_interval_s (at a point of it drawn from the key and the own id, so the holders of a key
 * do not all check at once) a holder checks each value it holds that no peer stored here meanwhile:
 * a lookup of the key (FIND_VALUE, waiting for late nodes as a put's does) says which of the r
 * closest lack it, and those alone get a STORE, with what is left of the value's TTL (a copy never
 * outlives what its publisher asked for). The bytes come from memory or, for a value in the
 * program's storage, from a read of it. A node that joined closer to a key than its holders gets
 * the value this way (hand-over), and when holders die the next closest get it (repair), within one
 * interval.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* @return when value (key) is next due on this node after touched_at: half
 * an interval, plus a share of the other half drawn from key and own id. */
static uint64_t due_at(const void *arg, const dht_id_t *key, uint64_t touched_at)
{
    const dht_t *dht = arg;
    uint64_t interval = (uint64_t)dht->cfg.replicate_interval_s * 1000u, mix = 0;

    for (int i = 0; i < 8; i++)
        mix = mix << 8 | (uint8_t)(key->b[i] ^ dht->self.b[i]);
    return touched_at + interval / 2 + (interval / 2 > 0 ? mix % (interval / 2) : 0);
}

static void on_replica_stored(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;

    if (status == DHT__RPC_STALLED || op->completed)
        return;
    op->pending--;
    if (status == 0 && reply->type == DHT__STORED) {
        op->count++;
        dht->st.replica_stores++;
    }
    if (op->pending == 0)
        dht__op_complete(dht, op, 0);
}

/* The nodes that should keep the value: of the candidates that answered,
 * those among the r closest (op->copies), this node taking a place of its
 * own when it is among them (not while it leaves). @return how many,
 * in out[]. */
static size_t keepers(const dht_t *dht, const dht__op_t *op, const dht__cand_t **out)
{
    int self_placed = dht->leave.active;
    size_t n = 0;
    unsigned places = 0;

    for (size_t i = 0; i < op->lk.n && places < op->copies; i++) {
        const dht__cand_t *c = &op->lk.cands[i];
        if (c->state != DHT__CAND_ANSWERED)
            continue;
        if (!self_placed && dht_id_cmp_distance(&op->lk.target, &dht->self, &c->node.id) < 0) {
            self_placed = 1;
            if (++places == op->copies)
                break;
        }
        out[n++] = c;
        places++;
    }
    return n;
}

/* Sends the value (op->value) to the keepers that answered without it. */
static void send_to_lacking(dht_t *dht, dht__op_t *op)
{
    const dht__cand_t *to[DHT_MAX_K];
    size_t n = keepers(dht, op, to);

    for (size_t i = 0; i < n; i++) {
        const dht__cand_t *c = to[i];
        dht__msg_t m;
        if (c->has_value || !c->has_token)
            continue;
        memset(&m, 0, sizeof(m));
        m.type = DHT__STORE;
        memcpy(m.token, c->token, sizeof(m.token));
        m.target = op->lk.target;
        m.ttl = op->ttl;
        m.flags = op->value_flags;
        m.value_len = (uint32_t)op->value_len;
        m.value = op->value;
        if (dht__rpc_send(dht, &m, &c->node.addr, &c->node.id, dht__timeout_for(dht, op->value_len),
                          0, on_replica_stored, op, 0) == 0)
            op->pending++;
    }
    if (op->pending == 0)
        dht__op_complete(dht, op, 0);
}

/* @return how many of the keepers answered without the value. */
static unsigned lacking(const dht_t *dht, const dht__op_t *op)
{
    const dht__cand_t *to[DHT_MAX_K];
    size_t n = keepers(dht, op, to);
    unsigned missing = 0;

    for (size_t i = 0; i < n; i++)
        missing += !to[i]->has_value && to[i]->has_token;
    return missing;
}

void dht__replicate_lookup_done(dht_t *dht, dht__op_t *op)
{
    const dht__value_t *v = dht__store_find(dht->store, &op->lk.target, &op->value_hash, dht->now);
    dht__pending_t *r;
    dht_held_t held;

    if (v != NULL)
        op->copies = dht__value_copies(v->flags, dht->cfg.k);
    if (v == NULL || lacking(dht, op) == 0) {
        dht__op_complete(dht, op, 0); /* gone meanwhile, or nobody lacks it */
        return;
    }
    op->ttl = dht__ttl_left(v, dht->now);
    op->value_flags = v->flags;
    if (v->data != NULL) {
        op->value = malloc(v->len ? v->len : 1);
        if (op->value == NULL) {
            dht__op_complete(dht, op, DHT_ENOMEM);
            return;
        }
        memcpy(op->value, v->data, v->len);
        op->value_len = v->len;
        send_to_lacking(dht, op);
        return;
    }
    /* In the program's storage: read it first (dht_value_ready). */
    r = dht__pending_new(dht, DHT__PENDING_READ);
    if (r == NULL) {
        dht__op_complete(dht, op, DHT_EBUSY); /* next interval, then */
        return;
    }
    r->key = v->key;
    r->hash = v->hash;
    r->held = 1;
    r->op = op;
    op->refs++;
    dht__held_describe(dht, v, &held);
    if (dht->cfg.storage.read(dht->cfg.storage.arg, &held, r->id) != 0) {
        dht__pending_cancel(dht, r);
        dht__op_complete(dht, op, DHT_EIO);
        dht__op_unref(dht, op);
    }
}

void dht__replicate_read(dht_t *dht, dht__op_t *op, const uint8_t *data, size_t len)
{
    if (op->completed)
        return;
    if (data == NULL) {
        dht__op_complete(dht, op, DHT_EIO);
        return;
    }
    op->value = malloc(len ? len : 1);
    if (op->value == NULL) {
        dht__op_complete(dht, op, DHT_ENOMEM);
        return;
    }
    memcpy(op->value, data, len);
    op->value_len = len;
    send_to_lacking(dht, op);
}

void dht__replicate_on_values(dht__op_t *op, dht__cand_t *c, const dht__msg_t *m)
{
    for (unsigned i = 0; i < m->n_entries; i++) {
        const dht__wire_entry_t *e = &m->entries[i];
        dht_id_t hash;
        if (e->is_summary)
            hash = e->hash;
        else
            dht_id_from_bytes(&hash, e->data, e->len);
        if (dht_id_cmp(&hash, &op->value_hash) == 0)
            c->has_value = 1;
    }
}

/* Starts the check of one value. @return 0 or a negative code. */
int dht__replicate_start(dht_t *dht, const dht_id_t *key, const dht_id_t *hash)
{
    int err;

    if (dht__op_lookup(dht, DHT__OP_REPLICATE, NULL, key, hash, &err) == NULL)
        return err;
    dht->replicating++;
    dht->st.replications++;
    return 0;
}

void dht__replicate_done(dht_t *dht)
{
    if (dht->replicating > 0)
        dht->replicating--;
    if (dht->leave.active) {
        dht__leave_pump(dht);
        dht__leave_check(dht);
    }
    /* More may be due: start them now rather than at the next tick. */
    if (!dht->closing)
        dht__replicate_tick(dht, dht->now);
}

void dht__replicate_tick(dht_t *dht, uint64_t now)
{
    dht_id_t keys[DHT__REPLICATE_MAX], hashes[DHT__REPLICATE_MAX];
    size_t room, n;

    if (dht->cfg.replicate_interval_s == 0 || dht->cfg.client ||
        dht->replicating >= DHT__REPLICATE_MAX || dht->rt == NULL)
        return;
    room = DHT__REPLICATE_MAX - dht->replicating;
    n = dht__store_take_due(dht->store, now, due_at, dht, keys, hashes, room);
    for (size_t i = 0; i < n; i++)
        if (dht__replicate_start(dht, &keys[i], &hashes[i]) != 0)
            break; /* busy: the rest wait for the next interval */
}
