/*
 * Replication: what a node holds for others stays on the r closest live
 * nodes (r: the copies its publisher asked for, k when it named none).
 * Once per replicate_interval_s (due_at below) a holder checks each value
 * it holds that no peer stored here meanwhile. Most checks go in batches
 * (check.c): one HAVE per keeper asks which of many values it lacks. The
 * others, and those a keeper left unanswered, take a lookup of the key
 * (FIND_VALUE, waiting for late nodes as a put's does), which says which
 * of the r closest lack it. Only those get a STORE, with what is left of
 * the value's TTL (a copy never outlives what its publisher asked for).
 * The bytes come from memory or, for a value in the program's storage,
 * from a read of it. A node that joined closer to a key than its holders
 * gets the value this way (hand-over), and when holders die the next
 * closest get it (repair), within one interval.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* @return when value (key) is next due on this node after touched_at: at
 * the first point of this node's grid (every half interval, at an offset
 * drawn from its id) at least half an interval later. So the values a node
 * took within one half interval come due together, and are checked in
 * batches (check.c); and the holders of a key, each on its own grid, do
 * not all check it at once. */
static uint64_t due_at(const void *arg, const dht_id_t *key, uint64_t touched_at)
{
    const dht_t *dht = arg;
    uint64_t half = (uint64_t)dht->cfg.replicate_interval_s * 500u, mix = 0, earliest, offset;

    (void)key;
    if (half == 0)
        return touched_at;
    for (int i = 0; i < 8; i++)
        mix = mix << 8 | dht->self.b[i];
    offset = mix % half;
    earliest = touched_at + half;
    if (earliest <= offset)
        return offset;
    return earliest + (half - (earliest - offset) % half) % half;
}

void dht__replica_stored(dht_t *dht, dht__op_t *op, int status)
{
    if (op->completed)
        return;
    op->pending--;
    if (status == 0) {
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
        dht__wire_batch_t v = {.key = op->lk.target,
                               .ttl = op->ttl,
                               .len = (uint32_t)op->value_len,
                               .flags = op->value_flags,
                               .has_owner = op->value_owned,
                               .owner = op->value_owner,
                               .value = op->value};
        if (c->has_value || !c->has_token)
            continue;
        if (op->age_s > 0) { /* the copy is as old as ours (wire.md 5.5) */
            v.flags |= DHT__WIRE_STORE_AGED;
            v.age = op->age_s;
        }
        if (dht__store_send(dht, op, DHT__STORE_FOR_REPLICA, &c->node, c->token, &v) == 0)
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
    if (v == NULL || dht__value_is_record(v) || lacking(dht, op) == 0) {
        dht__op_complete(dht, op, 0); /* gone meanwhile, or nobody lacks it */
        return;
    }
    op->ttl = dht__ttl_left(v, dht->now);
    op->age_s = (uint32_t)(dht__value_age_ms(v, dht->now) / 1000u);
    op->value_flags = v->flags;
    op->value_owned = v->owned; /* the copies keep its owner: it may delete them */
    op->value_owner = v->owner;
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

int dht__replicate_store(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
                         const dht__cand_t *to, size_t n)
{
    dht__op_t *op;
    int err;

    if (n == 0 || n > DHT_MAX_K)
        return DHT_EINVAL;
    if ((op = dht__op_new(dht, DHT__OP_REPLICATE, NULL, &err)) == NULL)
        return err;
    op->lk.cands = malloc(n * sizeof(*op->lk.cands));
    if (op->lk.cands == NULL) {
        op->completed = 1;
        dht__op_unref(dht, op);
        return DHT_ENOMEM;
    }
    /* As a lookup would have left it: the nodes, nearest first. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 &&
               dht_id_cmp_distance(key, &to[i].node.id, &op->lk.cands[j - 1].node.id) < 0) {
            op->lk.cands[j] = op->lk.cands[j - 1];
            j--;
        }
        op->lk.cands[j] = to[i];
    }
    op->lk.n = op->lk.cap = n;
    op->lk.target = *key;
    op->lk.finished = 1;
    op->value_hash = *hash;
    dht->replicating++;
    dht__replicate_lookup_done(dht, op);
    return 0;
}

/* Starts the check of one value. @return 0 or a negative code. */
int dht__replicate_start(dht_t *dht, const dht_id_t *key, const dht_id_t *hash)
{
    const dht__value_t *v = dht__store_find(dht->store, key, hash, dht->now);
    int err;

    if (v != NULL && dht__value_is_record(v))
        return 0; /* a provider's own announcements keep its records alive */
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

void dht__replicate_newcomer(dht_t *dht, const dht_node_info_t *newcomer)
{
    dht_id_t *keys, *hashes;
    size_t n, offered = 0;

    if (dht->cfg.replicate_interval_s == 0 || dht->cfg.client || dht->leave.active ||
        dht->replicating >= DHT__REPLICATE_MAX)
        return; /* busy: the next checks will do */
    keys = malloc(DHT__OFFER_SCAN * sizeof(*keys));
    hashes = malloc(DHT__OFFER_SCAN * sizeof(*hashes));
    if (keys == NULL || hashes == NULL) {
        free(keys);
        free(hashes);
        return;
    }
    n = dht__store_near(dht->store, &newcomer->id, 2, dht->now, keys, hashes, DHT__OFFER_SCAN);
    for (size_t i = 0; i < n && offered < DHT__CHECK_BATCH; i++) {
        const dht__value_t *v = dht__store_find(dht->store, &keys[i], &hashes[i], dht->now);
        unsigned copies = v != NULL ? dht__value_copies(v->flags, dht->cfg.k) : 0;
        dht__rt_node_t near[DHT_MAX_K];
        size_t m = dht__rt_closest_verified(dht->rt, &keys[i], dht->now, near, copies);
        unsigned before_it = dht_id_cmp_distance(&keys[i], &dht->self, &newcomer->id) < 0;
        unsigned before_me = 0;
        for (size_t j = 0; j < m; j++) {
            if (dht_id_cmp(&near[j].id, &newcomer->id) == 0)
                continue;
            before_it += dht_id_cmp_distance(&keys[i], &near[j].id, &newcomer->id) < 0;
            before_me += dht_id_cmp_distance(&newcomer->id, &near[j].id, &dht->self) < 0;
        }
        /* The newcomer should keep it (it is among the r closest), and this
         * node is among the few keepers nearest to the newcomer (of those
         * it knows), which offer it: those are the nodes the newcomer asks
         * last as it looks up its own id, and it gets each value a few
         * times at most, not once per keeper (its HELD says what it has
         * already). */
        if (v == NULL || dht__value_is_record(v) || before_it >= copies ||
            before_me >= DHT__OFFER_RANK)
            continue;
        keys[offered] = keys[i];
        hashes[offered] = hashes[i];
        offered++;
    }
    if (offered > 0)
        (void)dht__check_offer(dht, newcomer, keys, hashes, offered);
    free(keys);
    free(hashes);
}

void dht__replicate_tick(dht_t *dht, uint64_t now)
{
    dht_id_t keys[DHT__CHECK_BATCH], hashes[DHT__CHECK_BATCH];
    size_t n;

    /* A leave checks every value itself (leave.c). */
    while (dht->cfg.replicate_interval_s > 0 && !dht->cfg.client && !dht->leave.active &&
           !dht->closing && dht->replicating < DHT__REPLICATE_MAX && dht->rt != NULL) {
        n = dht__store_take_due(dht->store, now, due_at, dht, keys, hashes, DHT__CHECK_BATCH);
        if (n == 0 || dht__check_start(dht, keys, hashes, n) != 0)
            return; /* nothing due, or busy: the rest wait for the next interval */
    }
}
