/*
 * Values peers store here: a STORE's one, a STORE_MANY's several (Emo's
 * several values per store request). Each value is checked and kept the
 * same way: in the value store, or first written by the program's
 * storage (held.c), since "stored" means kept. A STORE_MANY is answered
 * by one STORED_MANY, a code per value, once every value is kept or
 * refused; while some wait on the storage, a group (below) gathers their
 * outcomes and sends the reply when the last one comes. A PROVIDE is
 * kept as a provider record: a value whose bytes are the address it came
 * from, with the port it names.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* A STORE_MANY whose reply waits on the storage. */
typedef struct dht__store_group {
    uint64_t id;
    uint32_t txid;
    dht_addr_t from;
    uint64_t asked_at;
    uint8_t n;    /* values in the request */
    uint8_t left; /* outcomes still to come (one more while they are asked) */
    uint8_t codes[DHT__WIRE_MAX_BATCH];
} dht__store_group_t;

/* Keeps b from `from`, a value or (from a PROVIDE) a provider record. */
static int keep(dht_t *dht, const dht_addr_t *from, const dht__wire_batch_t *b,
                const dht__held_wait_t *wait)
{
    uint32_t ttl = b->ttl < dht->cfg.max_ttl_s ? b->ttl : dht->cfg.max_ttl_s;
    uint64_t expires_at;
    dht_source_t source;
    dht_id_t hash;
    int err;

    if (b->len > dht->cfg.max_value_size)
        return DHT__WERR_TOO_BIG;
    dht_id_from_bytes(&hash, b->value, b->len);
    if ((b->flags & DHT__VALUE_CONTENT) && dht_id_cmp(&hash, &b->key) != 0) {
        dht->st.dropped_bad_value++;
        return DHT__WERR_BAD_VALUE;
    }
    /* Its owner deleted it here: a stale copy (wire.md 5.10). */
    if (b->has_owner && dht__tomb_refuses(dht, from, &b->key, &hash, &b->owner))
        return DHT__WERR_DELETED;
    if (ttl == 0)
        ttl = 1;
    expires_at = dht->now + (uint64_t)ttl * 1000u;
    dht__source_of(&source, from);
    dht__value_t v = {.key = b->key,
                      .hash = hash,
                      .len = b->len,
                      .flags = b->flags & DHT__VALUE_KEPT,
                      .stored_at = dht->now,
                      .age_in = b->age, /* replication's copy: as old as the value */
                      .expires_at = expires_at,
                      .source = source,
                      .owned = b->has_owner,
                      .owner = b->owner};
    /* Provider records stay in memory, whatever keeps the values. */
    if (dht__held_external(dht) && !(b->flags & DHT__VALUE_PROVIDER)) {
        /* The storage writes; the answer waits for it (held.c). */
        err = dht__held_write(dht, wait, &v, b->value, NULL);
        if (err == 0)
            return DHT__TAKE_LATER;
        if (err == DHT__HELD_IN_MEMORY)
            err = 0;
    } else {
        err = dht__store_put_value(dht->store, &v, b->value, dht->now);
    }
    if (err == DHT_EBUSY && dht__store_over_share(dht->store, &source, b->len))
        dht->st.refused_over_share++;
    if (err == DHT_ETOOBIG)
        return DHT__WERR_TOO_BIG;
    return err < 0 ? DHT__WERR_FULL : 0;
}

/* @return 1 if the key holds room for one more provider record: fewer
 * than DHT__RECORDS_PER_KEY of them, and a free place under the per-key
 * cap (a record never takes a value's place). A refresh of a record held
 * always has room. */
static int record_room(dht_t *dht, const dht_id_t *key, const dht_id_t *hash)
{
    const dht__value_t *vals[DHT__MAX_PER_KEY];
    size_t n = dht__store_get(dht->store, key, dht->now, vals, DHT__MAX_PER_KEY), records = 0;

    if (n > DHT__MAX_PER_KEY)
        n = DHT__MAX_PER_KEY;
    for (size_t i = 0; i < n; i++) {
        if (dht_id_cmp(&vals[i]->hash, hash) == 0)
            return 1;
        records += dht__value_is_record(vals[i]);
    }
    return records < DHT__RECORDS_PER_KEY && n < dht->cfg.store_max_per_key;
}

int dht__take_provide(dht_t *dht, const dht_addr_t *from, const dht__msg_t *req)
{
    uint8_t record[DHT__WIRE_ADDR_MAX];
    dht_addr_t named = *from;
    dht_id_t hash;
    dht__wire_batch_t b = {
        .key = req->target, .ttl = req->ttl, .flags = DHT__VALUE_PROVIDER, .value = record};

    /* The address the request came from, with the port it names: nobody
     * announces another's address (BEP 5's announce_peer). */
    named.port = req->port;
    b.len = (uint32_t)dht__wire_addr_encode(&named, record);
    if (b.len == 0)
        return DHT__WERR_MALFORMED;
    dht_id_from_bytes(&hash, record, b.len);
    if (req->ttl == 0) { /* withdrawn: gone, whoever else provides it */
        (void)dht__store_remove(dht->store, &req->target, &hash);
        return 0;
    }
    if (!record_room(dht, &req->target, &hash))
        return DHT__WERR_FULL;
    return keep(dht, from, &b, NULL);
}

int dht__take_value(dht_t *dht, const dht_addr_t *from, const dht__wire_batch_t *b,
                    const dht__held_wait_t *wait)
{
    /* A provider record comes from its provider's PROVIDE only: a STORE
     * of one could name any address (wire.md 5.9). */
    if (b->flags & DHT__VALUE_PROVIDER) {
        dht->st.dropped_bad_value++;
        return DHT__WERR_BAD_VALUE;
    }
    return keep(dht, from, b, wait);
}

static dht__store_group_t *group_find(dht_t *dht, uint64_t id)
{
    for (size_t i = 0; i < dht->n_groups; i++)
        if (dht->groups[i].id == id)
            return &dht->groups[i];
    return NULL;
}

static int group_waits(const dht_t *dht, uint32_t txid, const dht_addr_t *from)
{
    for (size_t i = 0; i < dht->n_groups; i++)
        if (dht->groups[i].txid == txid && dht_addr_equal(&dht->groups[i].from, from))
            return 1;
    return 0;
}

static dht__store_group_t *group_new(dht_t *dht)
{
    void *p;

    if (dht->n_groups >= DHT__SOURCE_MAX)
        return NULL;
    p = dht__room_for_one(dht->groups, dht->n_groups, &dht->cap_groups, sizeof(*dht->groups), 4);
    if (p == NULL)
        return NULL;
    dht->groups = p;
    memset(&dht->groups[dht->n_groups], 0, sizeof(dht->groups[0]));
    dht->groups[dht->n_groups].id = ++dht->next_group;
    return &dht->groups[dht->n_groups++];
}

static void group_remove(dht_t *dht, const dht__store_group_t *g)
{
    dht->groups[g - dht->groups] = dht->groups[--dht->n_groups];
}

/* One outcome of g came: with the last, the reply goes and g is gone. */
static int group_step(dht_t *dht, dht__store_group_t *g)
{
    dht__msg_t r;

    if (--g->left > 0)
        return 0;
    memset(&r, 0, sizeof(r));
    r.type = DHT__STORED_MANY;
    r.txid = g->txid;
    r.sender = dht->self;
    r.n_batch = g->n;
    memcpy(r.batch_codes, g->codes, g->n);
    dht__store_group_t done = *g;
    group_remove(dht, g);
    return dht__send_msg(dht, &done.from, &r);
}

int dht__take_many(dht_t *dht, const dht__msg_t *req, const dht_addr_t *from)
{
    dht__store_group_t *g;
    uint64_t id;

    if (group_waits(dht, req->txid, from))
        return 0; /* a resend: the answer to the first copy answers it */
    g = group_new(dht);
    if (g == NULL)
        return dht__send_error(dht, req->txid, from, DHT__WERR_RATE_LIMITED, "busy");
    id = g->id;
    g->txid = req->txid;
    g->from = *from;
    g->asked_at = dht->now;
    g->n = req->n_batch;
    g->left = (uint8_t)(req->n_batch + 1); /* one more until all are asked */
    for (uint8_t i = 0; i < req->n_batch; i++) {
        dht__held_wait_t wait = {.txid = req->txid, .from = *from, .group = id, .index = i};
        int code = dht__take_value(dht, from, &req->batch[i], &wait);
        /* A write may end inside the storage's call: find g anew. */
        g = group_find(dht, id);
        if (code == DHT__TAKE_LATER)
            continue;
        g->codes[i] = (uint8_t)code;
        g->left--;
    }
    return group_step(dht, group_find(dht, id));
}

void dht__group_written(dht_t *dht, uint64_t group, uint8_t index, int kept)
{
    dht__store_group_t *g = group_find(dht, group);

    if (g == NULL || index >= g->n)
        return; /* forgotten: its sender gave up */
    g->codes[index] = kept ? 0 : DHT__WERR_FULL;
    (void)group_step(dht, g);
}

void dht__groups_expire(dht_t *dht, uint64_t now)
{
    for (size_t i = dht->n_groups; i-- > 0;)
        if (dht->groups[i].asked_at + DHT_SOURCE_WAIT_MS <= now)
            group_remove(dht, &dht->groups[i]);
}

void dht__groups_free(dht_t *dht)
{
    free(dht->groups);
    dht->groups = NULL;
    dht->n_groups = dht->cap_groups = 0;
}
