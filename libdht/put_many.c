/*
 * dht_put_many: n puts as one batch. Each value is a put of its own (its
 * op, lookup and callback, as dht_put_ex makes them), tied to the batch:
 * when a put's lookup ends it waits, and once the last of the batch's has
 * ended, every put's STOREs are sent with the queue held (store_out.c),
 * so that small values bound for the same node leave together in
 * STORE_MANYs. What follows (a refusal, a silent node: the next closest
 * gets the value) is each put's own, as for dht_put_ex.
 */
#include "node.h"

#include <stdlib.h>

struct dht__put_batch {
    unsigned refs;    /* puts still tied to it */
    unsigned waiting; /* puts whose lookup has not ended */
    size_t n;
    dht__op_t *ops[]; /* NULL once that put is freed */
};

/* Every lookup of b has ended: the STOREs of all its puts go together. */
static void store_all(dht_t *dht, dht__put_batch_t *b)
{
    if (dht->closing)
        return;
    dht__stores_hold(dht);
    for (size_t i = 0; i < b->n; i++) {
        dht__op_t *op = b->ops[i];
        if (op != NULL && !op->completed)
            dht__put_store_all(dht, op);
    }
    dht__stores_flush(dht);
}

/* One put of b has no lookup to wait for any more. */
static void lookup_over(dht_t *dht, dht__op_t *op)
{
    dht__put_batch_t *b = op->batch;

    op->batch_ready = 1;
    if (--b->waiting == 0)
        store_all(dht, b);
}

void dht__put_batch_ready(dht_t *dht, dht__op_t *op)
{
    if (!op->batch_ready)
        lookup_over(dht, op);
}

void dht__put_batch_leave(dht_t *dht, dht__op_t *op)
{
    dht__put_batch_t *b = op->batch;

    b->ops[op->batch_index] = NULL;
    if (!op->batch_ready) /* freed before its lookup ended: nobody waits for it */
        lookup_over(dht, op);
    op->batch = NULL;
    if (--b->refs == 0)
        free(b);
}

int dht_put_many(dht_t *dht, const dht_put_item_t *items, size_t n, uint32_t ttl_s,
                 const dht_put_opts_t *opts, dht_put_cb cb)
{
    dht__put_batch_t *b;
    int err = 0;

    if (dht == NULL || items == NULL || n == 0 || n > DHT_PUT_MANY_MAX || cb == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    b = calloc(1, sizeof(*b) + n * sizeof(b->ops[0]));
    if (b == NULL)
        return DHT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        b->ops[i] = dht__put_op_new(dht, &items[i].key, items[i].value, items[i].len, ttl_s, opts,
                                    cb, items[i].arg, &err);
        if (b->ops[i] == NULL) {
            while (i-- > 0) {
                b->ops[i]->completed = 1; /* never report: the caller gets the error */
                dht__op_unref(dht, b->ops[i]);
            }
            free(b);
            return err;
        }
    }
    b->n = n;
    b->refs = (unsigned)n;
    b->waiting = (unsigned)n;
    for (size_t i = 0; i < n; i++) {
        b->ops[i]->batch = b;
        b->ops[i]->batch_index = (uint32_t)i;
    }
    /* Each lookup that cannot start fails its put alone; the batch goes
     * on without it. A lookup may also end at once (an empty table). */
    for (size_t i = 0; i < n; i++) {
        dht__op_t *op = b->ops[i];
        err = dht__lookup_start(dht, op, &items[i].key, 0);
        if (err) {
            dht__op_complete(dht, op, err);
            lookup_over(dht, op);
        }
    }
    dht__rearm(dht);
    return 0;
}
