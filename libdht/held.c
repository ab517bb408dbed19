/*
 * Values held for others whose bytes the program keeps (dht_config_t.
 * storage): the index stays in the store (store.c, with data NULL), the
 * bytes go to the storage's write, come back through its read (source.c)
 * and leave through its drop. A STORE is answered only once the storage
 * says the bytes are safe, so "stored" means kept.
 */
#include "node.h"

#include <string.h>

int dht__held_external(const dht_t *dht)
{
    return dht->cfg.storage.write != NULL;
}

void dht__held_describe(const dht_t *dht, const dht__value_t *v, dht_held_t *out)
{
    memset(out, 0, sizeof(*out));
    out->key = v->key;
    out->hash = v->hash;
    out->len = v->len;
    out->content = (v->flags & DHT__VALUE_CONTENT) != 0;
    out->copies = (v->flags & DHT__VALUE_COPIES_MASK) >> DHT__VALUE_COPIES_SHIFT;
    out->ttl_left_s = dht__ttl_left(v, dht->now);
    out->age_s = (uint32_t)(dht__value_age_ms(v, dht->now) / 1000u);
    out->source = v->source;
    out->owned = v->owned;
    out->owner = v->owner;
}

static void on_drop(const dht__value_t *v, void *arg)
{
    dht_t *dht = arg;
    dht_held_t held;

    dht__held_describe(dht, v, &held); /* the store tells only of values without data */
    dht->cfg.storage.drop(dht->cfg.storage.arg, &held);
    /* A write of the same value under way may have found the bytes there
     * and kept them, or be overtaken by the delete: either way it must not
     * index the value when it ends (dht_held_written). */
    for (size_t i = 0; i < dht->n_src_reqs; i++) {
        dht__pending_t *r = &dht->src_reqs[i];
        if (r->kind == DHT__PENDING_WRITE && dht_id_cmp(&r->key, &v->key) == 0 &&
            dht_id_cmp(&r->hash, &v->hash) == 0)
            r->dropped = 1;
    }
}

void dht__held_init(dht_t *dht)
{
    if (dht__held_external(dht))
        dht__store_set_external(dht->store, on_drop, dht);
}

int dht__held_write(dht_t *dht, const dht__held_wait_t *wait, const dht__value_t *v,
                    const uint8_t *data, dht__op_t *op)
{
    const dht__value_t *old = dht__store_find(dht->store, &v->key, &v->hash, dht->now);
    uint64_t expires_at =
        old != NULL && old->expires_at > v->expires_at ? old->expires_at : v->expires_at;
    dht__pending_t *r;
    dht_held_t held;
    int err;

    if (wait != NULL && wait->group == 0 && dht__pending_waits(dht, wait->txid, &wait->from))
        return 0; /* a resend: the answer to the first copy answers it */
    err = dht__store_fits(dht->store, &v->source, &v->key, &v->hash, v->len, dht->now);
    if (err)
        return err;
    r = dht__pending_new(dht, DHT__PENDING_WRITE);
    if (r == NULL)
        return DHT_EBUSY;
    if (wait != NULL && wait->group != 0) { /* the group answers (store_in.c) */
        r->group = wait->group;
        r->index = wait->index;
    } else if (wait != NULL) {
        r->txid = wait->txid;
        r->from = wait->from;
        r->reply = 1;
    }
    r->key = v->key;
    r->hash = v->hash;
    r->flags = v->flags;
    r->len = v->len;
    r->expires_at = expires_at; /* a refresh never shortens it (store.c) */
    r->age_in = v->age_in;      /* a copy by replication is as old as the value */
    r->source = v->source;
    r->owned = v->owned;
    r->owner = v->owner;
    dht__held_describe(dht, v, &held);
    held.ttl_left_s = (uint32_t)((expires_at - dht->now + 999) / 1000);
    if (op != NULL) { /* an own put: it counts this copy once written */
        r->op = op;
        op->refs++;
    }
    if (old != NULL) /* a refresh keeps its age */
        held.age_s = (uint32_t)(dht__value_age_ms(old, dht->now) / 1000u);
    old = dht__store_find(dht->store, &v->key, &v->hash, 0);
    if (old != NULL)
        held.source = r->source = old->source; /* and its first source (store.h), expired or not */
    {
        uint8_t owned; /* what the store will make of it (dht__store_put_value) */
        dht__owner_after(old, v, dht->now, &owned, &held.owner);
        held.owned = owned;
    }
    err = dht->cfg.storage.write(dht->cfg.storage.arg, &held, data, r->id);
    if (err != 0 && op != NULL)
        op->refs--; /* the caller holds one too */
    if (err == DHT_STORAGE_IN_MEMORY) {
        /* The storage has no place for it: the node keeps it in memory. */
        dht__pending_cancel(dht, r);
        err = dht__store_put_value(dht->store, v, data != NULL ? data : (const uint8_t *)"",
                                   dht->now);
        return err == 0 ? DHT__HELD_IN_MEMORY : err;
    }
    if (err != 0) {
        dht__pending_cancel(dht, r);
        return DHT_EREJECTED;
    }
    return 0;
}

int dht_held_written(dht_t *dht, uint64_t req, int status)
{
    dht__pending_t r;
    dht__msg_t m;
    int kept = 0;

    if (dht__pending_take(dht, req, DHT__PENDING_WRITE, &r) != 0)
        return DHT_ENOTFOUND;
    dht__now(dht);
    if (status == 0 && !r.dropped && r.expires_at > dht->now) {
        dht__value_t v = {.key = r.key,
                          .hash = r.hash,
                          .len = r.len,
                          .flags = r.flags,
                          .stored_at = dht->now,
                          .age_in = r.age_in,
                          .expires_at = r.expires_at,
                          .source = r.source,
                          .owned = r.owned,
                          .owner = r.owner};
        kept = dht__store_put_value(dht->store, &v, NULL, dht->now) == 0;
    }
    if (status == 0 && !kept) {
        /* Written, but not held: dropped meanwhile (its delete may have
         * raced the write), expired, or no room any more. The bytes go. */
        dht__value_t v = {.key = r.key,
                          .hash = r.hash,
                          .len = r.len,
                          .flags = r.flags,
                          .stored_at = dht->now,
                          .expires_at = r.expires_at};
        on_drop(&v, dht);
    }
    if (r.op != NULL) {
        dht__put_self_written(dht, r.op, kept);
        dht__op_unref(dht, r.op);
        dht__rearm(dht);
    }
    if (r.group != 0)
        dht__group_written(dht, r.group, r.index, kept);
    if (!r.reply)
        return 0;
    if (!kept)
        return dht__send_error(dht, r.txid, &r.from, DHT__WERR_FULL, "cannot keep it"), 0;
    memset(&m, 0, sizeof(m));
    m.type = DHT__STORED;
    m.txid = r.txid;
    m.sender = dht->self;
    dht__send_msg(dht, &r.from, &m);
    return 0;
}

int dht_held_add(dht_t *dht, const dht_held_t *v)
{
    uint32_t ttl_s;

    if (dht == NULL || v == NULL || !dht__held_external(dht) || v->ttl_left_s == 0 ||
        v->copies > DHT_MAX_COPIES || (v->content && dht_id_cmp(&v->key, &v->hash) != 0))
        return DHT_EINVAL;
    dht__now(dht);
    ttl_s = v->ttl_left_s < dht->cfg.max_ttl_s ? v->ttl_left_s : dht->cfg.max_ttl_s;
    dht__value_t h = {.key = v->key,
                      .hash = v->hash,
                      .len = v->len,
                      .flags =
                          dht__value_with_copies(v->content ? DHT__VALUE_CONTENT : 0, v->copies),
                      .stored_at = dht->now,
                      .age_in = v->age_s,
                      .expires_at = dht->now + (uint64_t)ttl_s * 1000u,
                      .source = v->source,
                      .owned = v->owned != 0,
                      .owner = v->owner};
    return dht__store_put_value(dht->store, &h, NULL, dht->now);
}

int dht_held_remove(dht_t *dht, const dht_id_t *key, const dht_id_t *hash)
{
    if (dht == NULL || key == NULL || hash == NULL)
        return DHT_ENOTFOUND;
    return dht__store_remove(dht->store, key, hash);
}

typedef struct foreach_ctx {
    dht_t *dht;
    int (*fn)(const dht_held_t *v, void *arg);
    void *arg;
} foreach_ctx_t;

static int visit(const dht__value_t *v, void *arg)
{
    foreach_ctx_t *c = arg;
    dht_held_t held;

    if (v->expires_at <= c->dht->now)
        return 0;
    dht__held_describe(c->dht, v, &held);
    return c->fn(&held, c->arg);
}

int dht_held_foreach(dht_t *dht, int (*fn)(const dht_held_t *v, void *arg), void *arg)
{
    foreach_ctx_t c = {dht, fn, arg};

    if (dht == NULL || fn == NULL)
        return 0;
    dht__now(dht);
    return dht__store_foreach(dht->store, visit, &c);
}
