/*
 * STOREs this node sends: one value alone, or several small values bound
 * for the same node together in a STORE_MANY (schema/wire.md 4), as many
 * as fit a datagram. Batching happens while the queue is held: the
 * STOREs that arise meanwhile (the puts of a dht_put_many once all their
 * lookups ended, the values held in memory that a replication check
 * found lacking) wait in it, and go out when the hold ends, grouped by node. Every value's
 * outcome goes back to its operation (a put's or a replication's) as if
 * it had gone alone: stored, refused, or the rpc's failure. A
 * PROVIDE (providers.c) goes alone, its outcome told the same way.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* A STORE waiting in the queue. */
typedef struct dht__store_out {
    dht__op_t *op; /* one reference */
    int kind;      /* DHT__STORE_FOR_* */
    dht_node_info_t to;
    uint8_t token[DHT__WIRE_TOKEN_LEN];
    dht__wire_batch_t v; /* its bytes are op's */
    size_t seq;          /* its place in the queue: batches keep that order */
} dht__store_out_t;

/* A STORE_MANY in flight: whose values it carries. */
typedef struct sent_batch {
    size_t n;
    struct {
        dht__op_t *op; /* one reference */
        int kind;
    } e[DHT__WIRE_MAX_BATCH];
} sent_batch_t;

#define BATCH_HEAD (DHT__WIRE_HEADER + DHT__WIRE_TOKEN_LEN + 1) /* a STORE_MANY minus entries */

static void tell(dht_t *dht, int kind, dht__op_t *op, int status)
{
    if (kind == DHT__STORE_FOR_PUT)
        dht__put_stored(dht, op, status);
    else
        dht__replica_stored(dht, op, status);
}

/* @return a refusal's status: a bad value is bad everywhere. */
static int refusal(uint16_t code)
{
    return code == DHT__WERR_BAD_VALUE ? DHT_EBADVALUE : DHT_EREJECTED;
}

static void on_one_stored(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    if (status == DHT__RPC_STALLED)
        return;
    if (status == 0 && reply->type != DHT__STORED && reply->type != DHT__PROVIDED)
        status = reply->type == DHT__ERROR ? refusal(reply->err_code) : DHT_EREJECTED;
    tell(dht, (int)rpc->tag, rpc->op, status);
}

static void on_batch_stored(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    sent_batch_t *b = (sent_batch_t *)rpc->tag;

    if (status == DHT__RPC_STALLED)
        return;
    for (size_t i = 0; i < b->n; i++) {
        int st = status;
        if (status == 0 && reply->type == DHT__STORED_MANY && reply->n_batch == b->n)
            st = reply->batch_codes[i] == 0 ? 0 : refusal(reply->batch_codes[i]);
        else if (status == 0 && reply->type == DHT__ERROR) /* a bad token, say: all refused */
            st = refusal(reply->err_code);
        else if (status == 0)
            st = DHT_EREJECTED;
        tell(dht, b->e[i].kind, b->e[i].op, st);
        dht__op_unref(dht, b->e[i].op);
    }
    free(b);
}

static int send_one(dht_t *dht, dht__op_t *op, int kind, const dht_node_info_t *to,
                    const uint8_t *token, const dht__wire_batch_t *v)
{
    dht__msg_t m;

    dht__msg_request(&m, DHT__STORE, NULL);
    memcpy(m.token, token, sizeof(m.token));
    m.target = v->key;
    m.ttl = v->ttl;
    m.flags = v->flags;
    m.age = v->age;
    m.has_owner = v->has_owner;
    m.owner = v->owner;
    m.value_len = v->len;
    m.value = v->value;
    return dht__rpc_send(dht, &m, &to->addr, &to->id, dht__timeout_for(dht, v->len), 0,
                         on_one_stored, op, (uintptr_t)kind);
}

int dht__provide_send(dht_t *dht, dht__op_t *op, const dht_node_info_t *to,
                      const uint8_t token[DHT__WIRE_TOKEN_LEN])
{
    dht__msg_t m;

    dht__msg_request(&m, DHT__PROVIDE, NULL);
    memcpy(m.token, token, sizeof(m.token));
    m.target = op->lk.target;
    m.port = op->provide_port;
    m.ttl = op->ttl;
    return dht__rpc_send(dht, &m, &to->addr, &to->id, 0, 0, on_one_stored, op,
                         (uintptr_t)DHT__STORE_FOR_PUT);
}

int dht__store_send(dht_t *dht, dht__op_t *op, int kind, const dht_node_info_t *to,
                    const uint8_t token[DHT__WIRE_TOKEN_LEN], const dht__wire_batch_t *v)
{
    dht__store_out_t *q;
    void *p;

    if (dht->outq_holds == 0 || BATCH_HEAD + dht__wire_batch_size(v) > DHT_MAX_DATAGRAM)
        return send_one(dht, op, kind, to, token, v);
    if (dht->closing)
        return DHT_ECLOSED;
    p = dht__room_for_one(dht->outq, dht->n_outq, &dht->cap_outq, sizeof(*dht->outq), 64);
    if (p == NULL)
        return send_one(dht, op, kind, to, token, v);
    dht->outq = p;
    q = &dht->outq[dht->n_outq++];
    q->op = op;
    q->kind = kind;
    q->to = *to;
    memcpy(q->token, token, sizeof(q->token));
    q->v = *v;
    q->seq = dht->n_outq - 1;
    op->refs++;
    return 0;
}

void dht__stores_hold(dht_t *dht)
{
    dht->outq_holds++;
}

static int by_node(const void *a, const void *b)
{
    const dht__store_out_t *x = a, *y = b;
    int c = dht_id_cmp(&x->to.id, &y->to.id);

    if (c == 0)
        c = (x->to.addr.family > y->to.addr.family) - (x->to.addr.family < y->to.addr.family);
    if (c == 0)
        c = memcmp(x->to.addr.ip, y->to.addr.ip, sizeof(x->to.addr.ip));
    if (c == 0)
        c = (x->to.addr.port > y->to.addr.port) - (x->to.addr.port < y->to.addr.port);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sends q[0..n) (one node's, n >= 2) as one STORE_MANY. @return 0 or a
 * negative code (nothing sent; no outcome told). */
static int send_batch(dht_t *dht, const dht__store_out_t *q, size_t n)
{
    sent_batch_t *b = malloc(sizeof(*b));
    dht__msg_t m;
    size_t len = 0;
    int err;

    if (b == NULL)
        return DHT_ENOMEM;
    dht__msg_request(&m, DHT__STORE_MANY, NULL);
    memcpy(m.token, q[n - 1].token, sizeof(m.token)); /* the newest: they came in order */
    m.n_batch = (uint8_t)n;
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        m.batch[i] = q[i].v;
        b->e[i].op = q[i].op;
        b->e[i].kind = q[i].kind;
        len += q[i].v.len;
    }
    /* The reply waits for every value's write: more time for more. */
    err = dht__rpc_send(dht, &m, &q[0].to.addr, &q[0].to.id,
                        dht__timeout_for(dht, len) * (uint32_t)(1 + n / 8), 0, on_batch_stored,
                        NULL, (uintptr_t)b);
    if (err) {
        free(b);
        return err;
    }
    dht->st.store_batches_sent++;
    dht->st.batched_values_sent += n;
    return 0; /* the ops' references are b's now */
}

/* Sends q[0..n), STOREs for one node: as few datagrams as hold them. */
static void send_for_node(dht_t *dht, dht__store_out_t *q, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i, size = BATCH_HEAD;
        while (j < n && j - i < DHT__WIRE_MAX_BATCH &&
               size + dht__wire_batch_size(&q[j].v) <= DHT_MAX_DATAGRAM)
            size += dht__wire_batch_size(&q[j++].v);
        if (j - i >= 2 && send_batch(dht, &q[i], j - i) == 0) {
            i = j;
            continue;
        }
        /* One alone (or a batch that could not go): a STORE each. */
        for (j = j > i ? j : i + 1; i < j; i++) {
            int err = send_one(dht, q[i].op, q[i].kind, &q[i].to, q[i].token, &q[i].v);
            if (err)
                tell(dht, q[i].kind, q[i].op, err);
            dht__op_unref(dht, q[i].op);
        }
    }
}

void dht__stores_free(dht_t *dht)
{
    free(dht->outq);
    dht->outq = NULL;
    dht->n_outq = dht->cap_outq = 0;
}

void dht__stores_flush(dht_t *dht)
{
    dht__store_out_t *q = dht->outq;
    size_t n = dht->n_outq, i = 0;

    if (dht->outq_holds == 0 || --dht->outq_holds > 0 || n == 0)
        return;
    /* The queue is taken whole: what the outcomes below start goes anew. */
    dht->outq = NULL;
    dht->n_outq = dht->cap_outq = 0;
    qsort(q, n, sizeof(*q), by_node);
    while (i < n) {
        size_t j = i + 1;
        while (j < n && dht_id_cmp(&q[j].to.id, &q[i].to.id) == 0 &&
               dht_addr_equal(&q[j].to.addr, &q[i].to.addr))
            j++;
        send_for_node(dht, &q[i], j - i);
        i = j;
    }
    free(q);
}
