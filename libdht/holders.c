/*
 * Counting the nodes that hold a value (dht_count_holders): a patient
 * FIND_VALUE lookup whose candidates are marked when their reply lists the
 * value (dht__replicate_on_values), and this node when it holds it.
 */
#include "node.h"

/* @return 1 if this node holds the value itself. */
static int held_here(dht_t *dht, const dht_id_t *key, const dht_id_t *hash)
{
    size_t len = 0;

    if (dht__store_find(dht->store, key, hash, dht->now) != NULL)
        return 1;
    return dht_id_cmp(key, hash) == 0 && dht->cfg.value_size != NULL &&
           dht->cfg.value_size(dht->cfg.value_source_arg, key, &len) == 0;
}

void dht__holders_lookup_done(dht_t *dht, dht__op_t *op)
{
    unsigned seen = 0, holders = 0;

    for (size_t i = 0; i < op->lk.n && seen < dht->cfg.k; i++) {
        const dht__cand_t *c = &op->lk.cands[i];
        if (c->state != DHT__CAND_ANSWERED)
            continue;
        seen++;
        holders += c->has_value;
    }
    if (held_here(dht, &op->lk.target, &op->value_hash)) {
        holders++;
        seen++;
    }
    op->count = holders;
    op->pending = seen;
    dht__op_complete(dht, op, op->lk.stats.replies > 0 || seen > 0 ? 0 : DHT_ENOPEERS);
}

int dht_count_holders(dht_t *dht, const dht_id_t *key, const dht_id_t *hash, dht_holders_cb cb,
                      void *arg)
{
    dht__op_t *op;
    int err;

    if (dht == NULL || key == NULL || cb == NULL)
        return DHT_EINVAL;
    op = dht__op_lookup(dht, DHT__OP_HOLDERS, arg, key, hash != NULL ? hash : key, &err);
    if (op == NULL)
        return err;
    op->cb.holders = cb;
    dht__rearm(dht);
    return 0;
}
