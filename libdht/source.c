/*
 * Requests waiting on the embedding program. A GET_VALUE for a value the
 * program keeps (dht_config_t.value_read, or the storage's read for a value
 * held through dht_config_t.storage) is held here while the program reads
 * it, off the loop, and answered when dht_value_ready() brings the bytes;
 * a STORE waits here while the storage writes (held.c). dht_receive()
 * itself never waits on a disk or hashes a value read from one.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

static int not_found(dht_t *dht, uint32_t txid, const dht_addr_t *to)
{
    return dht__send_error(dht, txid, to, DHT__WERR_NOT_FOUND, "no such value");
}

int dht__pending_waits(const dht_t *dht, uint32_t txid, const dht_addr_t *from)
{
    for (size_t i = 0; i < dht->n_src_reqs; i++)
        if (dht->src_reqs[i].reply && dht->src_reqs[i].txid == txid &&
            dht_addr_equal(&dht->src_reqs[i].from, from))
            return 1;
    return 0;
}

dht__pending_t *dht__pending_new(dht_t *dht, uint8_t kind)
{
    dht__pending_t *r;

    if (dht->n_src_reqs >= DHT__SOURCE_MAX)
        return NULL;
    if (dht->n_src_reqs == dht->cap_src_reqs) {
        size_t cap = dht->cap_src_reqs ? dht->cap_src_reqs * 2 : 8;
        void *p = realloc(dht->src_reqs, cap * sizeof(*dht->src_reqs));
        if (p == NULL)
            return NULL;
        dht->src_reqs = p;
        dht->cap_src_reqs = cap;
    }
    r = &dht->src_reqs[dht->n_src_reqs++];
    memset(r, 0, sizeof(*r));
    r->id = ++dht->next_src_req;
    r->kind = kind;
    r->asked_at = dht->now;
    return r;
}

void dht__pending_cancel(dht_t *dht, const dht__pending_t *r)
{
    size_t i = (size_t)(r - dht->src_reqs);

    dht->src_reqs[i] = dht->src_reqs[--dht->n_src_reqs];
}

int dht__pending_take(dht_t *dht, uint64_t id, uint8_t kind, dht__pending_t *out)
{
    for (size_t i = 0; dht != NULL && i < dht->n_src_reqs; i++) {
        if (dht->src_reqs[i].id == id && dht->src_reqs[i].kind == kind) {
            *out = dht->src_reqs[i];
            dht->src_reqs[i] = dht->src_reqs[--dht->n_src_reqs];
            return 0;
        }
    }
    return DHT_ENOTFOUND;
}

/* Starts a read of a value the program keeps: v from the index (data
 * NULL) through the storage, or else a content-addressed one through
 * value_read. */
int dht__source_ask(dht_t *dht, const dht__msg_t *req, const dht_addr_t *from,
                    const dht__value_t *v)
{
    dht__pending_t *r;
    int err;

    if (v == NULL && (dht->cfg.value_read == NULL || dht_id_cmp(&req->hash, &req->target) != 0))
        return not_found(dht, req->txid, from);
    if (dht__pending_waits(dht, req->txid, from))
        return 0; /* the answer to the first copy answers this one */
    r = dht__pending_new(dht, DHT__PENDING_READ);
    if (r == NULL) /* busy: the requester tries another holder */
        return dht__send_error(dht, req->txid, from, DHT__WERR_RATE_LIMITED, "busy");
    r->txid = req->txid;
    r->from = *from;
    r->reply = 1;
    r->key = req->target;
    r->hash = req->hash;
    if (v != NULL) {
        dht_held_t held;
        r->held = 1;
        dht__held_describe(dht, v, &held);
        err = dht->cfg.storage.read(dht->cfg.storage.arg, &held, r->id);
    } else {
        err = dht->cfg.value_read(dht->cfg.value_source_arg, &req->target, r->id);
    }
    if (err != 0) {
        dht__pending_cancel(dht, r);
        return not_found(dht, req->txid, from);
    }
    return 0;
}

/* The storage's answer to a replication's read (r.op waits). */
static int replication_read(dht_t *dht, const dht__pending_t *r, const uint8_t *data, size_t len)
{
    dht_id_t hash;

    if (data != NULL) {
        dht_id_from_bytes(&hash, data, len);
        if (dht_id_cmp(&hash, &r->hash) != 0) {
            dht->st.dropped_bad_value++;
            dht__store_remove(dht->store, &r->key, &r->hash); /* damaged: gone */
            data = NULL;
        }
    }
    dht__replicate_read(dht, r->op, data, len);
    dht__op_unref(dht, r->op);
    dht__rearm(dht);
    return 0;
}

int dht_value_ready(dht_t *dht, uint64_t req, const uint8_t *data, size_t len)
{
    const dht__value_t *v = NULL;
    dht__pending_t r;
    dht__msg_t m;
    dht_id_t hash;

    if (dht__pending_take(dht, req, DHT__PENDING_READ, &r) != 0)
        return DHT_ENOTFOUND;
    if (r.op != NULL)
        return replication_read(dht, &r, data, len);
    if (r.held)
        v = dht__store_find(dht->store, &r.key, &r.hash, dht->now);
    if (data == NULL || len == 0 || len > dht->cfg.max_value_size || (r.held && v == NULL) ||
        (v != NULL && v->len != len)) {
        not_found(dht, r.txid, &r.from);
        return 0;
    }
    dht_id_from_bytes(&hash, data, len);
    if (dht_id_cmp(&hash, &r.hash) != 0) {
        /* Bytes that do not hash to their key are dropped and counted, as
         * every content-addressed value that fails to verify is. */
        dht->st.dropped_bad_value++;
        if (r.held) /* the storage damaged it: held no more (drop deletes it) */
            dht__store_remove(dht->store, &r.key, &r.hash);
        not_found(dht, r.txid, &r.from);
        return 0;
    }
    memset(&m, 0, sizeof(m));
    m.type = DHT__VALUE;
    m.txid = r.txid;
    m.sender = dht->self;
    m.flags = v != NULL ? v->flags : DHT__VALUE_CONTENT;
    m.ttl = v != NULL ? dht__ttl_left(v, dht->now) : dht->cfg.max_ttl_s;
    m.value_len = (uint32_t)len;
    m.value = data;
    dht__send_msg(dht, &r.from, &m);
    return 0;
}

void dht__source_expire(dht_t *dht, uint64_t now)
{
    for (size_t i = 0; i < dht->n_src_reqs;) {
        /* A write waits for its answer however long the disk takes: the
         * node must know whether it holds the value. */
        if (dht->src_reqs[i].kind == DHT__PENDING_READ &&
            now - dht->src_reqs[i].asked_at >= DHT_SOURCE_WAIT_MS) {
            dht__op_t *op = dht->src_reqs[i].op;
            dht->src_reqs[i] = dht->src_reqs[--dht->n_src_reqs];
            if (op != NULL) {
                dht__op_complete(dht, op, DHT_ETIMEDOUT);
                dht__op_unref(dht, op);
            }
        } else {
            i++;
        }
    }
}

void dht__source_free(dht_t *dht)
{
    for (size_t i = 0; i < dht->n_src_reqs; i++)
        if (dht->src_reqs[i].op != NULL)
            dht__op_unref(dht, dht->src_reqs[i].op);
    free(dht->src_reqs);
    dht->src_reqs = NULL;
    dht->n_src_reqs = dht->cap_src_reqs = 0;
}
