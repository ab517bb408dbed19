/*
 * Deletes (schema/wire.md 5.10). A value may carry an owner, the SHA-256
 * of a secret its publisher drew (dht_put_opts_t.delete_secret); a DELETE
 * that reveals the secret removes it from a holder before its TTL ends.
 * The holder then keeps a tombstone (key, hash, owner, secret) until the
 * value would have expired: a STORE of the same value under the same
 * owner (replication from a node the publisher's DELETE missed) is
 * refused, and its sender is sent the DELETE in turn, so a deletion
 * spreads the way the value did. dht_delete is a lookup of the key, then
 * a DELETE to every node that answered it.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* A value deleted here, and the secret that deleted it. */
typedef struct dht__tomb {
    dht_id_t key, hash, owner, secret;
    uint64_t until; /* when the value would have expired */
} dht__tomb_t;

/* A DELETE in flight for a dht_delete; a tombstone's answer goes with op
 * NULL and is not waited for. */
static void on_deleted(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply);

static void tombs_expire(dht_t *dht)
{
    for (size_t i = dht->n_tombs; i-- > 0;)
        if (dht->tombs[i].until <= dht->now)
            dht->tombs[i] = dht->tombs[--dht->n_tombs];
}

/* Keeps a tombstone of v, deleted by secret. The oldest to expire gives
 * way when DHT__TOMBS_MAX are kept: a tombstone lost only lets a stale
 * copy live out its TTL. */
static void tomb_add(dht_t *dht, const dht__value_t *v, const dht_id_t *secret)
{
    dht__tomb_t *t;

    tombs_expire(dht);
    if (dht->n_tombs == DHT__TOMBS_MAX) {
        size_t soonest = 0;
        for (size_t i = 1; i < dht->n_tombs; i++)
            if (dht->tombs[i].until < dht->tombs[soonest].until)
                soonest = i;
        t = &dht->tombs[soonest];
    } else {
        void *p = dht__room_for_one(dht->tombs, dht->n_tombs, &dht->cap_tombs, sizeof(*t), 8);
        if (p == NULL)
            return;
        dht->tombs = p;
        t = &dht->tombs[dht->n_tombs++];
    }
    t->key = v->key;
    t->hash = v->hash;
    t->owner = v->owner;
    t->secret = *secret;
    t->until = v->expires_at;
}

static const dht__tomb_t *tomb_find(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
                                    const dht_id_t *owner)
{
    for (size_t i = 0; i < dht->n_tombs; i++) {
        const dht__tomb_t *t = &dht->tombs[i];
        if (t->until > dht->now && dht_id_cmp(&t->hash, hash) == 0 &&
            dht_id_cmp(&t->key, key) == 0 && dht_id_cmp(&t->owner, owner) == 0)
            return t;
    }
    return NULL;
}

/* Sends DELETE (key, hash, secret) to a node; op NULL: nobody waits. */
static int send_delete(dht_t *dht, dht__op_t *op, const dht_addr_t *to, const dht_id_t *id,
                       const dht_id_t *key, const dht_id_t *hash, const dht_id_t *secret)
{
    dht__msg_t m;

    dht__msg_request(&m, DHT__DELETE, NULL);
    m.target = *key;
    m.hash = *hash;
    m.secret = *secret;
    return dht__rpc_send(dht, &m, to, id, 0, 0, on_deleted, op, 0);
}

int dht__tomb_refuses(dht_t *dht, const dht_addr_t *from, const dht_id_t *key, const dht_id_t *hash,
                      const dht_id_t *owner)
{
    const dht__tomb_t *t = tomb_find(dht, key, hash, owner);

    if (t == NULL)
        return 0;
    dht->st.refused_deleted++;
    /* The storer holds a stale copy: it may delete it too. Its STORE
     * carried a token of ours, so the address is its own. */
    (void)send_delete(dht, NULL, from, NULL, &t->key, &t->hash, &t->secret);
    return 1;
}

/* The writes of (key, hash) under owner that wait on the storage are
 * deleted before they end: not indexed when written (held.c drops their
 * bytes then), and a tombstone kept. @return 1 if there was one. */
static int delete_pending(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
                          const dht_id_t *owner, const dht_id_t *secret)
{
    int found = 0;

    for (size_t i = 0; i < dht->n_src_reqs; i++) {
        dht__pending_t *r = &dht->src_reqs[i];
        if (r->kind != DHT__PENDING_WRITE || r->dropped || !r->owned ||
            dht_id_cmp(&r->hash, hash) != 0 || dht_id_cmp(&r->key, key) != 0 ||
            dht_id_cmp(&r->owner, owner) != 0)
            continue;
        dht__value_t v = {.key = r->key,
                          .hash = r->hash,
                          .owned = 1,
                          .owner = r->owner,
                          .expires_at = r->expires_at};
        r->dropped = 1;
        if (!found)
            tomb_add(dht, &v, secret);
        found = 1;
    }
    return found;
}

/* Deletes (key, hash) here if secret is its owner's.
 * @return DHT__DELETE_*. */
static uint8_t delete_here(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
                           const dht_id_t *secret)
{
    const dht__value_t *v = dht__store_find(dht->store, key, hash, dht->now);
    dht__value_t gone;
    dht_id_t owner;

    dht_id_from_bytes(&owner, secret->b, DHT_ID_LEN);
    if (v == NULL && delete_pending(dht, key, hash, &owner, secret)) {
        dht->st.values_deleted++;
        return DHT__DELETE_DONE;
    }
    if (v == NULL || dht__value_is_record(v))
        return DHT__DELETE_NOT_HELD;
    if (!v->owned || dht_id_cmp(&owner, &v->owner) != 0) {
        dht->st.deletes_refused++;
        return DHT__DELETE_REFUSED;
    }
    gone = *v;
    if (dht__store_remove(dht->store, key, hash) != 0)
        return DHT__DELETE_NOT_HELD;
    tomb_add(dht, &gone, secret);
    dht->st.values_deleted++;
    return DHT__DELETE_DONE;
}

int dht__serve_delete_outcome(dht_t *dht, const dht__msg_t *req)
{
    return delete_here(dht, &req->target, &req->hash, &req->secret);
}

size_t dht__tombs_live(const dht_t *dht, uint64_t now)
{
    size_t n = 0;

    for (size_t i = 0; i < dht->n_tombs; i++)
        n += dht->tombs[i].until > now;
    return n;
}

void dht__tombs_free(dht_t *dht)
{
    free(dht->tombs);
    dht->tombs = NULL;
    dht->n_tombs = dht->cap_tombs = 0;
}

/* ---- dht_delete ---- */

static void done_if_last(dht_t *dht, dht__op_t *op)
{
    if (op->pending > 0)
        return;
    dht__op_complete(dht, op, op->status);
}

static void on_deleted(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;

    if (status == DHT__RPC_STALLED || op == NULL || op->completed)
        return;
    op->pending--;
    if (status == 0 && reply->type == DHT__DELETED) {
        op->status = 0; /* somebody answered */
        if (reply->outcome == DHT__DELETE_DONE)
            op->count++;
        else if (reply->outcome == DHT__DELETE_REFUSED)
            op->refused++;
        else
            op->not_held++;
    } else if (status == 0 && reply->type == DHT__ERROR) {
        op->status = 0;
        op->refused++; /* a rate limit, say: it may still hold the value */
    } else {
        op->silent++; /* gone, or an older version that drops DELETEs */
    }
    done_if_last(dht, op);
}

void dht__delete_lookup_done(dht_t *dht, dht__op_t *op)
{
    uint8_t here = delete_here(dht, &op->lk.target, &op->value_hash, &op->value_owner);

    op->count += here == DHT__DELETE_DONE;
    op->refused += here == DHT__DELETE_REFUSED;
    op->status = DHT_ENOPEERS; /* until a node answers */
    for (size_t i = 0; i < op->lk.n; i++) {
        const dht__cand_t *c = &op->lk.cands[i];
        if (c->state != DHT__CAND_ANSWERED)
            continue;
        if (send_delete(dht, op, &c->node.addr, &c->node.id, &op->lk.target, &op->value_hash,
                        &op->value_owner) == 0)
            op->pending++;
    }
    done_if_last(dht, op);
}

void dht__delete_report(const dht__op_t *op)
{
    dht_delete_result_t r = {.deleted = op->count,
                             .not_held = op->not_held,
                             .refused = op->refused,
                             .silent = op->silent};

    op->cb.del(op->status, &r, op->arg);
}

int dht_delete(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
               const uint8_t secret[DHT_DELETE_SECRET_LEN], dht_delete_cb cb, void *arg)
{
    dht__op_t *op;
    int err;

    if (dht == NULL || key == NULL || hash == NULL || secret == NULL || cb == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    op = dht__op_new(dht, DHT__OP_DELETE, arg, &err);
    if (op == NULL)
        return err;
    op->cb.del = cb;
    op->value_hash = *hash;
    memcpy(op->value_owner.b, secret, DHT_DELETE_SECRET_LEN); /* the secret itself */
    return dht__op_started(dht, op, dht__lookup_start(dht, op, key, 0));
}
