/*
 * The operations of dht.h (ping, bootstrap, find_node, put) and the life of
 * an operation: a reference count (one for the pending user callback, one
 * per rpc in flight) and a completion queue, so that user callbacks run
 * after the core has finished its own work and never inside the call that
 * started the operation.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

dht__op_t *dht__op_new(dht_t *dht, int kind, void *arg, int *err)
{
    dht__op_t *op;

    if (dht->closing) {
        *err = DHT_ECLOSED;
        return NULL;
    }
    if (dht->n_ops >= dht->cfg.max_ops) {
        *err = DHT_EBUSY;
        return NULL;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        *err = DHT_ENOMEM;
        return NULL;
    }
    op->kind = (uint8_t)kind;
    op->arg = arg;
    op->refs = 1;
    op->next = dht->ops;
    if (dht->ops)
        dht->ops->prev = op;
    dht->ops = op;
    dht->n_ops++;
    return op;
}

int dht__op_started(dht_t *dht, dht__op_t *op, int err)
{
    if (err) {
        op->completed = 1; /* never reported: the caller gets err */
        dht__op_unref(dht, op);
        return err;
    }
    dht__rearm(dht);
    return 0;
}

void dht__op_complete(dht_t *dht, dht__op_t *op, int status)
{
    if (op->completed)
        return;
    op->completed = 1;
    op->status = status;
    op->next_done = NULL;
    if (dht->done_tail)
        dht->done_tail->next_done = op;
    else
        dht->done_head = op;
    dht->done_tail = op;
}

void dht__op_unref(dht_t *dht, dht__op_t *op)
{
    if (--op->refs > 0)
        return;
    if (op->prev)
        op->prev->next = op->next;
    else
        dht->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    dht->n_ops--;
    if (op->batch != NULL)
        dht__put_batch_leave(dht, op);
    dht__lookup_free(&op->lk);
    dht__get_free(op->get);
    dht__check_free(op->check);
    free(op->value);
    free(op);
}

/* The closest candidates that answered, nearest first: k, or the
 * lookup_results of a find_node, put or get. */
static size_t answered(const dht__op_t *op, dht_node_info_t *out)
{
    size_t n = 0;

    for (size_t i = 0; i < op->lk.n && n < op->lk.window; i++)
        if (op->lk.cands[i].state == DHT__CAND_ANSWERED)
            out[n++] = op->lk.cands[i].node;
    return n;
}

static void report(dht_t *dht, dht__op_t *op)
{
    dht_node_info_t nodes[DHT_MAX_K];
    size_t n;

    switch (op->kind) {
    case DHT__OP_PING:
        op->cb.ping(op->status, op->status == 0 ? &op->peer_id : NULL, op->arg);
        break;
    case DHT__OP_BOOTSTRAP:
        op->cb.status(op->status, op->arg);
        break;
    case DHT__OP_FIND_NODE:
        n = op->status == 0 ? answered(op, nodes) : 0;
        op->cb.nodes(op->status, nodes, n, &op->lk.stats, op->arg);
        break;
    case DHT__OP_PUT:
        op->cb.put(op->status, op->status == 0 ? op->count : 0, op->arg);
        break;
    case DHT__OP_GET:
        dht__get_report(dht, op);
        break;
    case DHT__OP_REPLICATE:
    case DHT__OP_CHECK:
        dht__replicate_done(dht);
        break;
    case DHT__OP_HOLDERS:
        op->cb.holders(op->status, op->status == 0 ? op->count : 0,
                       op->status == 0 ? op->pending : 0, op->arg);
        break;
    case DHT__OP_ROUTE:
    case DHT__OP_UPCALL:
        dht__route_report(dht, op);
        break;
    case DHT__OP_DELETE:
        dht__delete_report(op);
        break;
    default:
        break; /* internal operations report to nobody */
    }
}

int dht__op_run_completions(dht_t *dht)
{
    /* A callback may start operations that complete at once; they join the
     * queue and this loop runs them too. A callback may also dht_free() the
     * node: that only queues the cancellations, and the node goes here,
     * once no callback is left on the stack. */
    if (dht->in_callback)
        return 0;
    dht->in_callback = 1;
    while (dht->done_head) {
        dht__op_t *op = dht->done_head;
        dht->done_head = op->next_done;
        if (dht->done_head == NULL)
            dht->done_tail = NULL;
        report(dht, op);
        dht__op_unref(dht, op);
    }
    dht->in_callback = 0;
    if (!dht->closing)
        return 0;
    dht__destroy(dht);
    return 1;
}

/* ---- ping ---- */

static void on_pong(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;

    if (status == DHT__RPC_STALLED)
        return;
    if (status == 0 && reply->type == DHT__PONG) {
        op->peer_id = reply->sender;
        op->count++;
        status = 0;
    } else if (status == 0) {
        status = DHT_EREJECTED;
    }
    if (op->kind == DHT__OP_PING) {
        dht__op_complete(dht, op, status);
        return;
    }
    /* Bootstrap: when the last ping is back, look up our own id. */
    if (--op->pending > 0 || op->completed)
        return;
    if (op->count == 0) {
        dht__op_complete(dht, op, DHT_ENOPEERS);
    } else if (dht__lookup_start(dht, op, &dht->self, 0) != 0) {
        dht__op_complete(dht, op, DHT_ENOMEM);
    }
}

int dht_ping(dht_t *dht, const dht_addr_t *addr, dht_ping_cb cb, void *arg)
{
    dht__msg_t m;
    dht__op_t *op;
    int err;

    if (dht == NULL || addr == NULL || cb == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    op = dht__op_new(dht, DHT__OP_PING, arg, &err);
    if (op == NULL)
        return err;
    op->cb.ping = cb;
    dht__msg_request(&m, DHT__PING, NULL);
    err = dht__rpc_send(dht, &m, addr, NULL, 0, 0, on_pong, op, 0);
    if (err) {
        op->completed = 1; /* never report: the caller got the error */
        dht__op_unref(dht, op);
        return err;
    }
    dht__rearm(dht);
    return 0;
}

int dht__bootstrap_start(dht_t *dht, const dht_addr_t *addrs, const dht_id_t *ids, size_t n,
                         dht_status_cb cb, void *arg)
{
    dht__op_t *op;
    int err;

    dht__now(dht);
    op = dht__op_new(dht, DHT__OP_BOOTSTRAP, arg, &err);
    if (op == NULL)
        return err;
    op->cb.status = cb;
    for (size_t i = 0; i < n; i++) {
        dht__msg_t m;
        dht__msg_request(&m, DHT__PING, NULL);
        if (dht__rpc_send(dht, &m, &addrs[i], ids ? &ids[i] : NULL, 0, DHT__BOOTSTRAP_ATTEMPTS,
                          on_pong, op, 0) == 0)
            op->pending++;
    }
    if (op->pending == 0)
        dht__op_complete(dht, op, DHT_ENOPEERS);
    dht__rearm(dht);
    return 0;
}

int dht_bootstrap(dht_t *dht, const dht_addr_t *addrs, size_t n, dht_status_cb cb, void *arg)
{
    if (dht == NULL || addrs == NULL || n == 0 || cb == NULL)
        return DHT_EINVAL;
    return dht__bootstrap_start(dht, addrs, NULL, n, cb, arg);
}

dht__op_t *dht__op_lookup(dht_t *dht, int kind, void *arg, const dht_id_t *target,
                          const dht_id_t *value_hash, int *err)
{
    dht__op_t *op;

    dht__now(dht);
    op = dht__op_new(dht, kind, arg, err);
    if (op == NULL)
        return NULL;
    if (value_hash != NULL)
        op->value_hash = *value_hash;
    *err = dht__lookup_start(dht, op, target, kind != DHT__OP_FIND_NODE);
    if (*err) {
        op->completed = 1;
        dht__op_unref(dht, op);
        return NULL;
    }
    return op;
}

int dht_find_node(dht_t *dht, const dht_id_t *target, dht_nodes_cb cb, void *arg)
{
    dht__op_t *op;
    int err;

    if (dht == NULL || target == NULL || cb == NULL)
        return DHT_EINVAL;
    op = dht__op_lookup(dht, DHT__OP_FIND_NODE, arg, target, NULL, &err);
    if (op == NULL)
        return err;
    op->cb.nodes = cb;
    dht__rearm(dht);
    return 0;
}

/* ---- put ---- */

static int store_here(dht_t *dht, dht__op_t *op)
{
    size_t len = 0;

    /* The program serves it already (value_size: the files it published):
     * that is this node's copy; no second one in the storage. */
    if (dht__held_external(dht) && (op->value_flags & DHT__VALUE_CONTENT) &&
        dht->cfg.value_size != NULL &&
        dht->cfg.value_size(dht->cfg.value_source_arg, &op->lk.target, &len) == 0 &&
        len == op->value_len)
        return 0;
    dht__value_t v = {.key = op->lk.target,
                      .hash = op->value_hash,
                      .len = (uint32_t)op->value_len,
                      .flags = op->value_flags,
                      .stored_at = dht->now,
                      .expires_at = dht->now + (uint64_t)op->ttl * 1000u,
                      .owned = op->value_owned,
                      .owner = op->value_owner};
    if (dht__held_external(dht)) {
        int err = dht__held_write(dht, NULL, &v, op->value, op);
        if (err == 0) { /* written later: dht__put_self_written counts it */
            op->pending++;
            return 1;
        }
        return err == DHT__HELD_IN_MEMORY ? 0 : err;
    }
    return dht__store_put_value(dht->store, &v, op->value, dht->now);
}

static int send_store(dht_t *dht, dht__op_t *op, const dht__cand_t *c)
{
    dht__wire_batch_t v = {.key = op->lk.target,
                           .ttl = op->ttl,
                           .len = (uint32_t)op->value_len,
                           .flags = op->value_flags,
                           .has_owner = op->value_owned,
                           .owner = op->value_owner,
                           .value = op->value};

    if (op->provide_port != 0)
        return dht__provide_send(dht, op, &c->node, c->token);
    return dht__store_send(dht, op, DHT__STORE_FOR_PUT, &c->node, c->token, &v);
}

static void put_done_if_last(dht_t *dht, dht__op_t *op)
{
    if (op->pending > 0)
        return;
    if (op->count > 0)
        dht__op_complete(dht, op, 0);
    else
        dht__op_complete(dht, op, op->status ? op->status : DHT_ENOPEERS);
}

/* A node among the r closest did not take the value (full, gone): the
 * next closest that answered the lookup gets it instead, so the value
 * still lands on r nodes when some refuse. @return 1 if a STORE went. */
static int put_store_next(dht_t *dht, dht__op_t *op)
{
    while (op->next_store < op->lk.n) {
        const dht__cand_t *c = &op->lk.cands[op->next_store++];
        if (c->state == DHT__CAND_ANSWERED && c->has_token && send_store(dht, op, c) == 0) {
            op->pending++;
            return 1;
        }
    }
    return 0;
}

void dht__put_stored(dht_t *dht, dht__op_t *op, int status)
{
    if (op->completed)
        return;
    op->pending--;
    if (status == 0) {
        op->count++;
    } else {
        op->status = status;
        if (status != DHT_EBADVALUE) /* a bad value is bad everywhere */
            put_store_next(dht, op);
    }
    put_done_if_last(dht, op);
}

/* This node's own copy of a put went to the storage: counted once written
 * (kept), else the next closest gets it instead. */
void dht__put_self_written(dht_t *dht, dht__op_t *op, int kept)
{
    if (op->completed)
        return;
    op->pending--;
    if (kept) {
        op->count++;
    } else {
        op->status = DHT_EREJECTED;
        put_store_next(dht, op);
    }
    put_done_if_last(dht, op);
}

/* The lookup found the k closest nodes: store on the r closest of them
 * (op->copies). This node (unless it is a client) keeps a copy instead of
 * the r-th when it is closer than that one (or fewer than r others
 * answered), so the value lives on exactly the r closest. A node that
 * refuses or does not answer is replaced by the next closest (put_store_next).
 * With no peer reached at all, nothing is stored anywhere: DHT_ENOPEERS. */
void dht__put_store_all(dht_t *dht, dht__op_t *op)
{
    const dht__cand_t *to[DHT_MAX_K];
    size_t n = 0, i;
    unsigned r = op->copies;
    int here;

    op->status = 0;
    for (i = 0; i < op->lk.n && n < r; i++) {
        const dht__cand_t *c = &op->lk.cands[i];
        if (c->state == DHT__CAND_ANSWERED && c->has_token)
            to[n++] = c;
    }
    op->next_store = i;
    if (n == 0) {
        dht__op_complete(dht, op, DHT_ENOPEERS);
        return;
    }
    /* A client is no holder: it may be gone in a moment; a provider
     * keeps no record of itself. */
    here = !dht->cfg.client && op->provide_port == 0 &&
           (n < r || dht_id_cmp_distance(&op->lk.target, &dht->self, &to[n - 1]->node.id) < 0);
    if (here && n == r) {
        n--;
        op->next_store = (size_t)(to[n] - op->lk.cands); /* the r-th: first fallback */
    }
    if (here) {
        int err = store_here(dht, op);
        if (err == 0)
            op->count++;
        else if (err != 1) /* 1: a write under way, counted when done */
            put_store_next(dht, op);
    }
    for (i = 0; i < n; i++)
        if (send_store(dht, op, to[i]) == 0)
            op->pending++;
        else
            put_store_next(dht, op);
    put_done_if_last(dht, op);
}

int dht_put(dht_t *dht, const dht_id_t *key, const void *value, size_t len, uint32_t ttl_s,
            dht_put_cb cb, void *arg)
{
    return dht_put_ex(dht, key, value, len, ttl_s, NULL, cb, arg);
}

dht__op_t *dht__put_op_new(dht_t *dht, const dht_id_t *key, const void *value, size_t len,
                           uint32_t ttl_s, const dht_put_opts_t *opts, dht_put_cb cb, void *arg,
                           int *err)
{
    unsigned copies = opts != NULL ? opts->copies : 0;
    int vouched = opts != NULL && opts->content;
    dht__op_t *op;

    if (key == NULL || (value == NULL && len > 0) || cb == NULL || ttl_s == 0 ||
        copies > DHT_MAX_COPIES) {
        *err = DHT_EINVAL;
        return NULL;
    }
    if (len > dht->cfg.max_value_size) {
        *err = DHT_ETOOBIG;
        return NULL;
    }
    op = dht__op_new(dht, DHT__OP_PUT, arg, err);
    if (op == NULL)
        return NULL;
    op->cb.put = cb;
    op->value = malloc(len ? len : 1);
    if (op->value == NULL) {
        *err = DHT_ENOMEM;
        op->completed = 1;
        dht__op_unref(dht, op);
        return NULL;
    }
    if (len)
        memcpy(op->value, value, len);
    op->value_len = len;
    op->ttl = ttl_s < dht->cfg.max_ttl_s ? ttl_s : dht->cfg.max_ttl_s;
    if (copies > dht->cfg.k)
        copies = dht->cfg.k;
    if (dht->cfg.lookup_results > 0 && (copies == 0 || copies > dht->cfg.lookup_results))
        copies = dht->cfg.lookup_results; /* py-dht's b: stored on b nodes at most */
    op->copies = copies > 0 ? copies : dht->cfg.k;
    if (vouched)
        op->value_hash = *key; /* the caller's word: not hashed again */
    else
        dht_id_from_bytes(&op->value_hash, value, len);
    op->value_flags = dht__value_with_copies(
        dht_id_cmp(&op->value_hash, key) == 0 ? DHT__VALUE_CONTENT : 0, copies);
    if (opts != NULL && opts->delete_secret != NULL) {
        op->value_owned = 1;
        dht_id_from_bytes(&op->value_owner, opts->delete_secret, DHT_DELETE_SECRET_LEN);
    }
    op->lk.target = *key;
    return op;
}

int dht_put_ex(dht_t *dht, const dht_id_t *key, const void *value, size_t len, uint32_t ttl_s,
               const dht_put_opts_t *opts, dht_put_cb cb, void *arg)
{
    dht__op_t *op;
    int err;

    if (dht == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    op = dht__put_op_new(dht, key, value, len, ttl_s, opts, cb, arg, &err);
    if (op == NULL)
        return err;
    return dht__op_started(dht, op, dht__lookup_start(dht, op, key, 0));
}

/* The self-lookup of a bootstrap ended. If nobody answered it (all its
 * datagrams lost, say), the node knows only its bootstrap nodes: try again
 * a few times before giving up. */
static void bootstrap_lookup_done(dht_t *dht, dht__op_t *op)
{
    dht_node_info_t nodes[DHT_MAX_K];

    if (answered(op, nodes) > 0) {
        dht__join_fill_start(dht);
        dht__sparse_start(dht);
        dht__op_complete(dht, op, 0);
        return;
    }
    dht__lookup_free(&op->lk);
    if (++op->pending > DHT__BOOTSTRAP_LOOKUPS || dht__lookup_start(dht, op, &dht->self, 0) != 0)
        dht__op_complete(dht, op, DHT_ENOPEERS);
}

void dht__op_lookup_done(dht_t *dht, dht__op_t *op)
{
    dht_node_info_t nodes[DHT_MAX_K];

    switch (op->kind) {
    case DHT__OP_PUT:
        if (op->batch != NULL)
            dht__put_batch_ready(dht, op);
        else
            dht__put_store_all(dht, op);
        break;
    case DHT__OP_GET:
        dht__get_lookup_done(dht, op);
        break;
    case DHT__OP_REPLICATE:
        dht__replicate_lookup_done(dht, op);
        break;
    case DHT__OP_HOLDERS:
        dht__holders_lookup_done(dht, op);
        break;
    case DHT__OP_ROUTE:
        dht__route_lookup_done(dht, op);
        break;
    case DHT__OP_DELETE:
        dht__delete_lookup_done(dht, op);
        break;
    case DHT__OP_BOOTSTRAP:
        bootstrap_lookup_done(dht, op);
        break;
    case DHT__OP_REJOIN:
        dht__join_fill_start(dht);
        dht__op_complete(dht, op, answered(op, nodes) > 0 ? 0 : DHT_ENOPEERS);
        break;
    default:
        dht__op_complete(dht, op, answered(op, nodes) > 0 ? 0 : DHT_ENOPEERS);
        break;
    }
}

int dht_get(dht_t *dht, const dht_id_t *key, dht_get_cb cb, void *arg)
{
    return dht_get_ex(dht, key, NULL, cb, arg);
}

int dht_get_ex(dht_t *dht, const dht_id_t *key, const dht_get_opts_t *opts, dht_get_cb cb,
               void *arg)
{
    dht__op_t *op;
    int err;

    if (dht == NULL || key == NULL || cb == NULL ||
        (opts != NULL && (opts->first & DHT__WIRE_FIRST_AGED)))
        return DHT_EINVAL;
    dht__now(dht);
    op = dht__op_new(dht, DHT__OP_GET, arg, &err);
    if (op == NULL)
        return err;
    op->cb.get = cb;
    if (opts != NULL) {
        op->max_age_s = opts->max_age_s;
        op->page_first = opts->first;
    }
    err = dht__get_start(dht, op, key, opts ? opts->max_values : 0);
    if (err) {
        op->completed = 1;
        dht__op_unref(dht, op);
        return err;
    }
    dht__rearm(dht);
    return 0;
}
