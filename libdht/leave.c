/*
 * A graceful leave (dht_leave): every value the node holds gets
 * replication's check at once, DHT__LEAVE_MAX at a time, so that the
 * closest nodes that lack it have it before the node goes; bounded in time.
 */
#include "node.h"

#include <stdlib.h>

static uint64_t due_now(const void *arg, const dht_id_t *key, uint64_t touched_at)
{
    (void)arg;
    (void)key;
    (void)touched_at;
    return 0;
}

void dht__leave_finish(dht_t *dht, int status)
{
    dht_status_cb cb = dht->leave.cb;
    void *arg = dht->leave.arg;

    if (!dht->leave.active)
        return;
    dht->leave.active = 0;
    free(dht->leave.keys);
    free(dht->leave.hashes);
    dht->leave.keys = dht->leave.hashes = NULL;
    cb(status, arg);
}

void dht__leave_pump(dht_t *dht)
{
    while (dht->leave.active && dht->replicating < DHT__LEAVE_MAX &&
           dht->leave.next < dht->leave.n) {
        size_t i = dht->leave.next;
        if (dht__replicate_start(dht, &dht->leave.keys[i], &dht->leave.hashes[i]) != 0)
            break; /* busy: tried again as checks end, or from dht_periodic */
        dht->leave.next++;
    }
}

void dht__leave_check(dht_t *dht)
{
    if (!dht->leave.active)
        return;
    dht__leave_pump(dht);
    if (dht->leave.next >= dht->leave.n && dht->replicating == 0)
        dht__leave_finish(dht, 0);
    else if (dht->now >= dht->leave.deadline)
        dht__leave_finish(dht, DHT_ETIMEDOUT);
}

int dht_leave(dht_t *dht, uint32_t max_ms, dht_status_cb cb, void *arg)
{
    size_t n;

    if (dht == NULL || cb == NULL)
        return DHT_EINVAL;
    if (dht->closing)
        return DHT_ECLOSED;
    if (dht->leave.active)
        return DHT_EBUSY;
    dht__now(dht);
    n = dht__store_count(dht->store);
    dht->leave.keys = malloc((n ? n : 1) * sizeof(dht_id_t));
    dht->leave.hashes = malloc((n ? n : 1) * sizeof(dht_id_t));
    if (dht->leave.keys == NULL || dht->leave.hashes == NULL) {
        free(dht->leave.keys);
        free(dht->leave.hashes);
        dht->leave.keys = dht->leave.hashes = NULL;
        return DHT_ENOMEM;
    }
    dht->leave.n = dht__store_take_due(dht->store, dht->now, due_now, dht, dht->leave.keys,
                                       dht->leave.hashes, n);
    dht->leave.next = 0;
    dht->leave.cb = cb;
    dht->leave.arg = arg;
    dht->leave.deadline = dht->now + max_ms;
    dht->leave.active = 1;
    dht__leave_pump(dht); /* cb runs later: as checks end, or from dht_periodic */
    dht__rearm(dht);
    return 0;
}
