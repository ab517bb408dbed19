/*
 * The local value store: the values this node holds for others.
 *
 * Pure code: no I/O, no clock. Several values per key, each identified by
 * its hash (SHA-256 of its bytes) and stored once per key: storing the same
 * (key, hash) again refreshes its expiry. Each value has an expiry time.
 *
 * Each value has a source (dht_source_t: who stored it here; all zero for
 * the node itself), and the store shares its room fairly among them, so
 * that one source can never crowd out the others' values.
 *
 * Caps: at most max_per_key values per key and at most max_bytes bytes of
 * values in all. A put that would pass a cap first removes every expired
 * value (whether it then succeeds or not), then evicts:
 *   - per key: the oldest value of the source that holds the most values
 *     of that key, the new one counted (ties: the oldest of theirs; with
 *     one source, the key's oldest value);
 *   - in all, with S the new value's source, n the number of sources
 *     holding values (S included) and the share F = max_bytes / n:
 *     a. if S would hold more than F with the new value, only S's own
 *        values go: those of the key farthest (XOR) from the own id,
 *        oldest first, then the next farthest key, and so on, never a key
 *        as close as the new value's or closer, and never a value S
 *        stored less than the settle time ago (dht__store_set_settle): if
 *        the farthest key's values of S are all that young, the next to
 *        go is the oldest settled value of S in some other key farther
 *        than the new value's (the first found in a walk of S's keys from
 *        the farthest, not always the next farthest). The copies a put
 *        placed a minute ago are not thrown out for its later ones, which
 *        go to the next node instead (the put counted them as placed);
 *     b. else the values of the sources holding more than F, the
 *        heaviest source first (ties: the larger dht_source_t bytes), its
 *        farthest key's oldest value first, each source down to F at most
 *        (always room enough: store.c says why).
 *   With one source this is plain distance order (rule a): the node is
 *   least responsible for the keys farthest from it.
 * A put that cannot make room so is refused (DHT_EBUSY), evicting nothing.
 */
#ifndef DHT_STORE_H
#define DHT_STORE_H

#include "dht.h"

#include <string.h>

#define DHT__VALUE_CONTENT 0x01 /* flag: content addressed (key == hash) */
/* Flags bits 1..5: the copies the value's publisher asked for (r, 1..31);
 * 0 means "k" (wire.md 3.4). A holder keeps both. */
#define DHT__VALUE_COPIES_SHIFT 1
#define DHT__VALUE_COPIES_MASK  0x3e
/* Flag: a provider record (wire.md 3.4, 5.9): its bytes are the address
 * record of a node that serves the key's content, listed by
 * FIND_PROVIDERS only, never as one of the key's values. */
#define DHT__VALUE_PROVIDER 0x80
#define DHT__VALUE_KEPT     (DHT__VALUE_CONTENT | DHT__VALUE_COPIES_MASK | DHT__VALUE_PROVIDER)

/* @return the nodes that should keep a value with these flags: its r,
 * at most k, or k when it names none. */
static inline unsigned dht__value_copies(uint8_t flags, unsigned k)
{
    unsigned r = (flags & DHT__VALUE_COPIES_MASK) >> DHT__VALUE_COPIES_SHIFT;
    return r == 0 || r > k ? k : r;
}

/* @return flags with copies r (0: k) set in them. */
static inline uint8_t dht__value_with_copies(uint8_t flags, unsigned r)
{
    return (uint8_t)((flags & ~DHT__VALUE_COPIES_MASK) |
                     ((r << DHT__VALUE_COPIES_SHIFT) & DHT__VALUE_COPIES_MASK));
}

typedef struct dht__value {
    dht_id_t key;
    dht_id_t hash; /* SHA-256 of data */
    uint8_t *data; /* owned by the store */
    uint32_t len;
    uint8_t flags;       /* DHT__VALUE_* */
    uint64_t stored_at;  /* first stored here, ms */
    uint32_t age_in;     /* s: how old it was then (a STORE's age, wire.md 5.5) */
    uint64_t expires_at; /* ms */
    uint64_t touched_at; /* last stored (or refreshed, or checked by replication), ms */
    dht_source_t source; /* who stored it first (a refresh keeps it) */
    uint8_t owned;       /* 1: owner may delete it (wire.md 5.10) */
    dht_id_t owner;      /* SHA-256 of its publisher's delete secret */
} dht__value_t;

/* @return 1 if v is a provider record (DHT__VALUE_PROVIDER): kept from a
 * PROVIDE only, never replicated (its provider announces it again). */
static inline int dht__value_is_record(const dht__value_t *v)
{
    return (v->flags & DHT__VALUE_PROVIDER) != 0;
}

typedef struct dht__store dht__store_t;

/* @return an empty store, or NULL if out of memory. */
dht__store_t *dht__store_new(const dht_id_t *self, size_t max_bytes, unsigned max_per_key);

/* Makes each value count for at least cost bytes against max_bytes and in
 * its source's share (what holding one costs beyond its bytes: its index,
 * a file), so that a flood of tiny values cannot hold more than
 * max_bytes / cost of them. Call it on an empty store; 0 (the default):
 * a value counts for its length. ETOOBIG then means "counts for more than
 * max_bytes". */
void dht__store_set_value_cost(dht__store_t *st, size_t cost);

/* Sets the settle time (rule a above): a value stored less than ms ago is
 * not evicted for a newer value of its own source. 0 (the default): any
 * value may be. */
void dht__store_set_settle(dht__store_t *st, uint64_t ms);

/* Frees the store and every value. Accepts NULL. */
void dht__store_free(dht__store_t *st);

/* Stores a copy of data[0..len) under key with the given hash (the caller
 * has computed SHA-256(data) and checked any content-address claim), or
 * refreshes expires_at and flags if (key, hash) is already there.
 * Evicts as the caps demand (see above). Expired values go first.
 * @return 0, DHT_ETOOBIG (len > max_bytes), DHT_EBUSY (no room without
 *         evicting closer keys) or DHT_ENOMEM; the store is unchanged on
 *         error. */
int dht__store_put(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash, const uint8_t *data,
                   size_t len, uint8_t flags, uint64_t now, uint64_t expires_at);

/* As dht__store_put, for a value first stored at stored_at (<= now): a
 * value a program reloads from its own storage keeps its age. */
int dht__store_put_at(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash,
                      const uint8_t *data, size_t len, uint8_t flags, uint64_t now,
                      uint64_t stored_at, uint64_t expires_at);

/* As dht__store_put_at, for a value that source src (NULL: all zero, the
 * node itself) stores, age_in seconds old already (its age in the network
 * when first stored here: wire.md 5.5). dht__store_put and
 * dht__store_put_at store the node's own, of age 0. */
int dht__store_put_from(dht__store_t *st, const dht_source_t *src, const dht_id_t *key,
                        const dht_id_t *hash, const uint8_t *data, size_t len, uint8_t flags,
                        uint64_t now, uint64_t stored_at, uint32_t age_in, uint64_t expires_at);

/* As dht__store_put_from, for the value v describes (key, hash, len,
 * flags, stored_at, age_in, expires_at, source; its data is data), and
 * records who may delete it (wire.md 5.10): a value new to the store
 * takes v's owner (none when !v->owned); one held already keeps its
 * owner only if v names the same one, else nobody may delete it any
 * more (two publishers of the same bytes: neither deletes the other's
 * copy; one who stored it without an owner wants it kept). */
int dht__store_put_value(dht__store_t *st, const dht__value_t *v, const uint8_t *data,
                         uint64_t now);

/* The owner of the value (key, hash) after a put of v, by
 * dht__store_put_value's rule, old being the value held before (NULL:
 * none; one expired at now counts as none): v's for a new value, else
 * old's if v names the same, else none. Sets *owned, and *owner (zero
 * when none). */
static inline void dht__owner_after(const dht__value_t *old, const dht__value_t *v, uint64_t now,
                                    uint8_t *owned, dht_id_t *owner)
{
    int fresh = old == NULL || old->expires_at <= now;

    *owned = v->owned && (fresh || (old->owned && dht_id_cmp(&old->owner, &v->owner) == 0));
    if (*owned)
        *owner = v->owner;
    else
        memset(owner, 0, sizeof(*owner));
}

/* @return v's age in the network, ms: its age when first stored here and
 * the time since. */
static inline uint64_t dht__value_age_ms(const dht__value_t *v, uint64_t now)
{
    return (uint64_t)v->age_in * 1000u + (now > v->stored_at ? now - v->stored_at : 0);
}

/* @return 0 if a put of a len-byte value (key, hash) from src (NULL: the
 * node itself) would succeed now (a refresh always does), else what it
 * would fail with: DHT_ETOOBIG or DHT_EBUSY (DHT_ENOMEM is not foreseen).
 * Changes nothing but the removal of expired values that a put would do. */
int dht__store_fits(dht__store_t *st, const dht_source_t *src, const dht_id_t *key,
                    const dht_id_t *hash, size_t len, uint64_t now);

/* @return 1 if src would hold more than its share (rule a above) with a
 * new value of len bytes, else 0. */
int dht__store_over_share(const dht__store_t *st, const dht_source_t *src, size_t len);

/* @return what the values src holds count for (their bytes, each at least
 * the value cost; expired ones included until they are removed), and the
 * number of sources holding values. */
size_t dht__store_source_bytes(const dht__store_t *st, const dht_source_t *src);
size_t dht__store_sources(const dht__store_t *st);

/* Collects into keys[] and hashes[] up to max unexpired values whose key
 * shares with id a prefix at most `slack` bits shorter than it shares with
 * this node's own id: those id may be about as near to as this node is.
 * @return how many. */
size_t dht__store_near(const dht__store_t *st, const dht_id_t *id, unsigned slack, uint64_t now,
                       dht_id_t *keys, dht_id_t *hashes, size_t max);

/* Collects up to max unexpired values that are due, due_at(arg, key,
 * touched_at) <= now, into keys[] and hashes[], and sets their touched_at
 * to now (so they are due again one period later). Each call goes on from
 * the key where the last one stopped, around the store once at most.
 * @return how many were collected. */
size_t dht__store_take_due(dht__store_t *st, uint64_t now,
                           uint64_t (*due_at)(const void *arg, const dht_id_t *key,
                                              uint64_t touched_at),
                           const void *arg, dht_id_t *keys, dht_id_t *hashes, size_t max);

/* Removes the value (key, hash), expired or not.
 * @return 0 or DHT_ENOTFOUND. */
int dht__store_remove(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash);

/* The bytes of values may be kept by someone else from now on (call it on
 * an empty store): a put with data NULL copies nothing (the value's data
 * stays NULL), and each such value that leaves the store (expired,
 * evicted for room or removed; not at dht__store_free) is passed to
 * drop(v, arg) first. A put with data keeps a copy, as without this call.
 * drop must not modify the store. */
void dht__store_set_external(dht__store_t *st, void (*drop)(const dht__value_t *v, void *arg),
                             void *arg);

/* Points out[0..] at up to max unexpired values of key, oldest first; the
 * pointers are valid until the next call that modifies the store.
 * @return the number of unexpired values of key (may exceed max). */
size_t dht__store_get(const dht__store_t *st, const dht_id_t *key, uint64_t now,
                      const dht__value_t **out, size_t max);

/* @return the unexpired value (key, hash), or NULL (now 0: the value,
 * expired or not). */
const dht__value_t *dht__store_find(const dht__store_t *st, const dht_id_t *key,
                                    const dht_id_t *hash, uint64_t now);

/* Removes every value with expires_at <= now. @return how many went. */
size_t dht__store_expire(dht__store_t *st, uint64_t now);

/* @return the earliest expires_at of any value, or UINT64_MAX if empty. */
uint64_t dht__store_next_expiry(const dht__store_t *st);

/* Number of values and bytes held (expired ones included until expired). */
size_t dht__store_count(const dht__store_t *st);

/* @return how many of the values are provider records, and their bytes
 * in *bytes. */
size_t dht__store_records(const dht__store_t *st, size_t *bytes);
size_t dht__store_bytes(const dht__store_t *st);

/* Calls fn for every value, in no particular order, until fn returns
 * nonzero. fn must not modify the store. @return fn's nonzero result or 0. */
int dht__store_foreach(const dht__store_t *st, int (*fn)(const dht__value_t *v, void *arg),
                       void *arg);

#endif /* DHT_STORE_H */
