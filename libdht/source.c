/*
 * Values the embedding program keeps itself (dht_config_t.value_size and
 * value_read): a GET_VALUE for one is held here while the program reads it,
 * off the loop, and answered when dht_value_ready() brings the bytes.
 * dht_receive() itself never waits on a disk or hashes a sourced value.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

typedef struct dht__source_req {
    uint64_t id;
    uint32_t txid;
    dht_addr_t from;
    dht_id_t key;
    uint64_t asked_at;
} source_req_t;

static int not_found(dht_t *dht, uint32_t txid, const dht_addr_t *to)
{
    return dht__send_error(dht, txid, to, DHT__WERR_NOT_FOUND, "no such value");
}

/* @return 1 if the request (from, txid) already waits: a resend. */
static int waiting(const dht_t *dht, uint32_t txid, const dht_addr_t *from)
{
    for (size_t i = 0; i < dht->n_src_reqs; i++)
        if (dht->src_reqs[i].txid == txid && dht_addr_equal(&dht->src_reqs[i].from, from))
            return 1;
    return 0;
}

int dht__source_ask(dht_t *dht, const dht__msg_t *req, const dht_addr_t *from)
{
    source_req_t *r;

    if (dht->cfg.value_read == NULL || dht_id_cmp(&req->hash, &req->target) != 0)
        return not_found(dht, req->txid, from);
    if (waiting(dht, req->txid, from))
        return 0; /* the answer to the first copy answers this one */
    if (dht->n_src_reqs >= DHT__SOURCE_MAX) /* busy: the requester tries another holder */
        return dht__send_error(dht, req->txid, from, DHT__WERR_RATE_LIMITED, "busy");
    if (dht->n_src_reqs == dht->cap_src_reqs) {
        size_t cap = dht->cap_src_reqs ? dht->cap_src_reqs * 2 : 8;
        void *p = realloc(dht->src_reqs, cap * sizeof(*dht->src_reqs));
        if (p == NULL)
            return not_found(dht, req->txid, from);
        dht->src_reqs = p;
        dht->cap_src_reqs = cap;
    }
    r = &dht->src_reqs[dht->n_src_reqs];
    r->id = ++dht->next_src_req;
    r->txid = req->txid;
    r->from = *from;
    r->key = req->target;
    r->asked_at = dht->now;
    dht->n_src_reqs++;
    if (dht->cfg.value_read(dht->cfg.value_source_arg, &req->target, r->id) != 0) {
        dht->n_src_reqs--;
        return not_found(dht, req->txid, from);
    }
    return 0;
}

/* @return the index of request id, or -1. */
static long find_req(const dht_t *dht, uint64_t id)
{
    for (size_t i = 0; i < dht->n_src_reqs; i++)
        if (dht->src_reqs[i].id == id)
            return (long)i;
    return -1;
}

int dht_value_ready(dht_t *dht, uint64_t req, const uint8_t *data, size_t len)
{
    long i = dht != NULL ? find_req(dht, req) : -1;
    source_req_t r;
    dht__msg_t m;
    dht_id_t hash;

    if (i < 0)
        return DHT_ENOTFOUND;
    r = dht->src_reqs[i];
    dht->src_reqs[i] = dht->src_reqs[--dht->n_src_reqs];
    if (data == NULL || len == 0 || len > dht->cfg.max_value_size) {
        not_found(dht, r.txid, &r.from);
        return 0;
    }
    dht_id_from_bytes(&hash, data, len);
    if (dht_id_cmp(&hash, &r.key) != 0) {
        /* Bytes that do not hash to their key are dropped and counted, as
         * every content-addressed value that fails to verify is. */
        dht->st.dropped_bad_value++;
        not_found(dht, r.txid, &r.from);
        return 0;
    }
    memset(&m, 0, sizeof(m));
    m.type = DHT__VALUE;
    m.txid = r.txid;
    m.sender = dht->self;
    m.flags = DHT__VALUE_CONTENT;
    m.ttl = dht->cfg.max_ttl_s;
    m.value_len = (uint32_t)len;
    m.value = data;
    dht__send_msg(dht, &r.from, &m);
    return 0;
}

void dht__source_expire(dht_t *dht, uint64_t now)
{
    for (size_t i = 0; i < dht->n_src_reqs;) {
        if (now - dht->src_reqs[i].asked_at >= DHT_SOURCE_WAIT_MS)
            dht->src_reqs[i] = dht->src_reqs[--dht->n_src_reqs];
        else
            i++;
    }
}

void dht__source_free(dht_t *dht)
{
    free(dht->src_reqs);
    dht->src_reqs = NULL;
    dht->n_src_reqs = dht->cap_src_reqs = 0;
}
