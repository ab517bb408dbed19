/* Tests of the local value store (libdht/store.c) against store.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "store.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void self_id(dht_id_t *self)
{
    dht_id_from_bytes(self, "self", 4);
}

/* The key whose XOR distance from self starts with bytes d0, d1. */
static dht_id_t key_at(uint8_t d0, uint8_t d1)
{
    dht_id_t self, dist = {{0}}, key;

    self_id(&self);
    dist.b[0] = d0;
    dist.b[1] = d1;
    dht_id_distance(&key, &self, &dist);
    return key;
}

static dht__store_t *new_store(size_t max_bytes, unsigned max_per_key)
{
    dht_id_t self;
    dht__store_t *st;

    self_id(&self);
    st = dht__store_new(&self, max_bytes, max_per_key);
    assert_non_null(st);
    return st;
}

/* Stores len bytes of `fill` under key. */
static int put_fill(dht__store_t *st, const dht_id_t *key, uint8_t fill, size_t len, uint64_t now,
                    uint64_t exp)
{
    uint8_t buf[256];
    dht_id_t hash;

    assert_true(len <= sizeof(buf));
    memset(buf, fill, len);
    dht_id_from_bytes(&hash, buf, len);
    return dht__store_put(st, key, &hash, buf, len, 0, now, exp);
}

/* As put_fill, from the source whose last byte is src (0: the node). */
static int put_src(dht__store_t *st, uint8_t src, const dht_id_t *key, uint8_t fill, size_t len,
                   uint64_t now)
{
    uint8_t buf[256];
    dht_source_t id;
    dht_id_t hash;

    assert_true(len <= sizeof(buf));
    memset(buf, fill, len);
    memset(&id, 0, sizeof(id));
    id.b[15] = src;
    dht_id_from_bytes(&hash, buf, len);
    return dht__store_put_from(st, &id, key, &hash, buf, len, 0, now, now, 0, 1000);
}

static size_t src_bytes(const dht__store_t *st, uint8_t src)
{
    dht_source_t id;

    memset(&id, 0, sizeof(id));
    id.b[15] = src;
    return dht__store_source_bytes(st, &id);
}

static dht_id_t fill_hash(uint8_t fill, size_t len)
{
    uint8_t buf[256];
    dht_id_t hash;

    memset(buf, fill, len);
    dht_id_from_bytes(&hash, buf, len);
    return hash;
}

/* @return 1 if (key, fill/len) is stored and unexpired at now. */
static int has(const dht__store_t *st, const dht_id_t *key, uint8_t fill, size_t len, uint64_t now)
{
    dht_id_t hash = fill_hash(fill, len);
    const dht__value_t *v = dht__store_find(st, key, &hash, now);

    if (v == NULL)
        return 0;
    assert_int_equal(v->len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(v->data[i], fill);
    return 1;
}

/* A snapshot of everything observable, to check that a call changed nothing. */
struct rec {
    dht_id_t key, hash, datahash;
    uint64_t stored_at, expires_at;
    uint32_t len;
    uint8_t flags;
};

struct snap {
    size_t count, bytes, n;
    uint64_t next;
    struct rec r[64];
};

static int snap_one(const dht__value_t *v, void *arg)
{
    struct snap *s = arg;
    struct rec *r;

    assert_true(s->n < 64);
    r = &s->r[s->n++];
    memset(r, 0, sizeof(*r));
    r->key = v->key;
    r->hash = v->hash;
    dht_id_from_bytes(&r->datahash, v->data, v->len);
    r->stored_at = v->stored_at;
    r->expires_at = v->expires_at;
    r->len = v->len;
    r->flags = v->flags;
    return 0;
}

static int rec_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct rec));
}

static void take_snap(const dht__store_t *st, struct snap *s)
{
    memset(s, 0, sizeof(*s));
    s->count = dht__store_count(st);
    s->bytes = dht__store_bytes(st);
    s->next = dht__store_next_expiry(st);
    assert_int_equal(dht__store_foreach(st, snap_one, s), 0);
    qsort(s->r, s->n, sizeof(s->r[0]), rec_cmp);
}

static void assert_unchanged(const dht__store_t *st, const struct snap *before)
{
    struct snap *now = malloc(sizeof(*now));

    assert_non_null(now);
    take_snap(st, now);
    assert_int_equal(now->count, before->count);
    assert_int_equal(now->bytes, before->bytes);
    assert_int_equal(now->next, before->next);
    assert_int_equal(now->n, before->n);
    assert_memory_equal(now->r, before->r, before->n * sizeof(before->r[0]));
    free(now);
}

/* ------------------------------------------------------------------------ */
/* Basic behaviour                                                          */
/* ------------------------------------------------------------------------ */

static void test_empty(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 16);
    dht_id_t k = key_at(1, 0), h = fill_hash('a', 3);
    const dht__value_t *out[4];

    assert_int_equal(dht__store_count(st), 0);
    assert_int_equal(dht__store_bytes(st), 0);
    assert_true(dht__store_next_expiry(st) == UINT64_MAX);
    assert_int_equal(dht__store_get(st, &k, 0, out, 4), 0);
    assert_null(dht__store_find(st, &k, &h, 0));
    assert_int_equal(dht__store_expire(st, UINT64_MAX), 0);
    dht__store_free(st);
    dht__store_free(NULL);
}

static void test_put_get_find(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 16);
    dht_id_t k = key_at(1, 0), other = key_at(2, 0);
    dht_id_t h = fill_hash('a', 5), h2 = fill_hash('b', 5);
    uint8_t data[5] = {'a', 'a', 'a', 'a', 'a'};
    const dht__value_t *out[4];

    assert_int_equal(dht__store_put(st, &k, &h, data, 5, DHT__VALUE_CONTENT, 10, 500), 0);
    memset(data, 'x', sizeof(data)); /* the store keeps its own copy */
    assert_int_equal(dht__store_count(st), 1);
    assert_int_equal(dht__store_bytes(st), 5);
    assert_int_equal(dht__store_get(st, &k, 10, out, 4), 1);
    assert_memory_equal(out[0]->key.b, k.b, DHT_ID_LEN);
    assert_memory_equal(out[0]->hash.b, h.b, DHT_ID_LEN);
    assert_int_equal(out[0]->len, 5);
    assert_memory_equal(out[0]->data, "aaaaa", 5);
    assert_int_equal(out[0]->flags, DHT__VALUE_CONTENT);
    assert_int_equal(out[0]->stored_at, 10);
    assert_int_equal(out[0]->expires_at, 500);
    assert_ptr_equal(dht__store_find(st, &k, &h, 10), out[0]);
    assert_null(dht__store_find(st, &k, &h2, 10));
    assert_null(dht__store_find(st, &other, &h, 10));
    assert_int_equal(dht__store_get(st, &other, 10, out, 4), 0);
    dht__store_free(st);
}

static void test_several_values_oldest_first(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 16);
    dht_id_t k = key_at(1, 0);
    const dht__value_t *out[8];

    /* stored_at decides the order, not the order of the calls. */
    assert_int_equal(put_fill(st, &k, 'c', 3, 30, 1000), 0);
    assert_int_equal(put_fill(st, &k, 'a', 1, 10, 1000), 0);
    assert_int_equal(put_fill(st, &k, 'b', 2, 20, 1000), 0);
    assert_int_equal(put_fill(st, &k, 'd', 4, 30, 1000), 0); /* ties: call order */
    assert_int_equal(dht__store_get(st, &k, 30, out, 8), 4);
    assert_int_equal(out[0]->data[0], 'a');
    assert_int_equal(out[1]->data[0], 'b');
    assert_int_equal(out[2]->data[0], 'c');
    assert_int_equal(out[3]->data[0], 'd');
    assert_int_equal(out[3]->len, 4);
    /* Fewer slots than values: the count is still the full one. */
    out[2] = NULL;
    assert_int_equal(dht__store_get(st, &k, 30, out, 2), 4);
    assert_int_equal(out[0]->data[0], 'a');
    assert_int_equal(out[1]->data[0], 'b');
    assert_null(out[2]);
    assert_int_equal(dht__store_get(st, &k, 30, NULL, 0), 4);
    assert_int_equal(dht__store_count(st), 4);
    assert_int_equal(dht__store_bytes(st), 10);
    dht__store_free(st);
}

static void test_refresh(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 16);
    dht_id_t k = key_at(1, 0), h = fill_hash('a', 4);
    const dht__value_t *out[4];
    const dht__value_t *v;

    assert_int_equal(put_fill(st, &k, 'a', 4, 10, 100), 0);
    assert_int_equal(put_fill(st, &k, 'b', 4, 20, 150), 0);
    assert_int_equal(
        dht__store_put(st, &k, &h, (const uint8_t *)"aaaa", 4, DHT__VALUE_CONTENT, 50, 300), 0);
    assert_int_equal(dht__store_count(st), 2);
    assert_int_equal(dht__store_bytes(st), 8);
    v = dht__store_find(st, &k, &h, 50);
    assert_non_null(v);
    assert_int_equal(v->expires_at, 300);
    assert_int_equal(v->stored_at, 10);
    assert_int_equal(v->flags, DHT__VALUE_CONTENT);
    assert_true(dht__store_next_expiry(st) == 150);
    /* Still the oldest: a refresh keeps its place. */
    assert_int_equal(dht__store_get(st, &k, 50, out, 4), 2);
    assert_int_equal(out[0]->data[0], 'a');
    /* A shorter expiry does not shorten it (store.c's rule); flags change. */
    assert_int_equal(dht__store_put(st, &k, &h, (const uint8_t *)"aaaa", 4, 0, 60, 200), 0);
    v = dht__store_find(st, &k, &h, 60);
    assert_int_equal(v->expires_at, 300);
    assert_int_equal(v->flags, 0);
    /* An expired value that is still there is revived by a refresh. */
    assert_int_equal(put_fill(st, &k, 'b', 4, 400, 900), 0);
    assert_int_equal(dht__store_count(st), 2);
    assert_true(has(st, &k, 'b', 4, 400));
    assert_true(dht__store_next_expiry(st) == 300);
    dht__store_free(st);
}

static void test_get_skips_expired(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 16);
    dht_id_t k = key_at(1, 0);
    const dht__value_t *out[4];

    assert_int_equal(put_fill(st, &k, 'a', 1, 0, 100), 0);
    assert_int_equal(put_fill(st, &k, 'b', 1, 1, 50), 0);
    assert_int_equal(put_fill(st, &k, 'c', 1, 2, 200), 0);
    assert_int_equal(dht__store_get(st, &k, 49, out, 4), 3);
    assert_int_equal(dht__store_get(st, &k, 50, out, 4), 2); /* expires_at <= now */
    assert_int_equal(out[0]->data[0], 'a');
    assert_int_equal(out[1]->data[0], 'c');
    assert_false(has(st, &k, 'b', 1, 50));
    assert_true(has(st, &k, 'b', 1, 49));
    assert_int_equal(dht__store_get(st, &k, 150, out, 4), 1);
    assert_int_equal(out[0]->data[0], 'c');
    assert_int_equal(dht__store_get(st, &k, 200, out, 4), 0);
    /* Expired values still count until expire() removes them. */
    assert_int_equal(dht__store_count(st), 3);
    assert_int_equal(dht__store_bytes(st), 3);
    dht__store_free(st);
}

static void test_expire_and_next_expiry(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 16);
    dht_id_t k1 = key_at(1, 0), k2 = key_at(2, 0), k3 = key_at(3, 0);

    assert_int_equal(put_fill(st, &k1, 'a', 10, 0, 500), 0);
    assert_true(dht__store_next_expiry(st) == 500);
    assert_int_equal(put_fill(st, &k2, 'b', 20, 0, 300), 0);
    assert_true(dht__store_next_expiry(st) == 300);
    assert_int_equal(put_fill(st, &k1, 'c', 30, 0, 400), 0);
    assert_int_equal(put_fill(st, &k3, 'd', 40, 0, 400), 0);
    assert_true(dht__store_next_expiry(st) == 300);
    assert_int_equal(put_fill(st, &k2, 'b', 20, 0, 900), 0); /* refresh */
    assert_true(dht__store_next_expiry(st) == 400);
    assert_int_equal(dht__store_expire(st, 399), 0);
    assert_int_equal(dht__store_count(st), 4);
    assert_int_equal(dht__store_expire(st, 400), 2); /* c and d, <= now */
    assert_int_equal(dht__store_count(st), 2);
    assert_int_equal(dht__store_bytes(st), 30);
    assert_true(has(st, &k1, 'a', 10, 400));
    assert_true(has(st, &k2, 'b', 20, 400));
    assert_false(has(st, &k1, 'c', 30, 0));
    assert_false(has(st, &k3, 'd', 40, 0));
    assert_true(dht__store_next_expiry(st) == 500);
    assert_int_equal(dht__store_expire(st, 10000), 2);
    assert_int_equal(dht__store_count(st), 0);
    assert_int_equal(dht__store_bytes(st), 0);
    assert_true(dht__store_next_expiry(st) == UINT64_MAX);
    /* A key emptied by expiry can be used again. */
    assert_int_equal(put_fill(st, &k3, 'e', 5, 10000, 20000), 0);
    assert_true(has(st, &k3, 'e', 5, 10000));
    assert_true(dht__store_next_expiry(st) == 20000);
    dht__store_free(st);
}

static void test_dead_on_arrival_and_empty_value(void **state)
{
    (void)state;
    dht__store_t *st = new_store(10, 2);
    dht_id_t k = key_at(1, 0), h;
    const dht__value_t *out[2];

    /* Already expired: accepted, and nothing is kept or evicted for it. */
    assert_int_equal(put_fill(st, &k, 'a', 10, 0, 100), 0);
    assert_int_equal(put_fill(st, &k, 'b', 5, 100, 100), 0);
    assert_int_equal(dht__store_count(st), 1);
    assert_int_equal(dht__store_bytes(st), 10);
    assert_int_equal(dht__store_expire(st, 99), 0);
    /* An empty value takes no bytes and is stored even when bytes are full. */
    dht_id_from_bytes(&h, NULL, 0);
    assert_int_equal(dht__store_put(st, &k, &h, NULL, 0, 0, 1, 100), 0);
    assert_int_equal(dht__store_count(st), 2);
    assert_int_equal(dht__store_bytes(st), 10);
    assert_int_equal(dht__store_get(st, &k, 1, out, 2), 2);
    assert_int_equal(out[1]->len, 0);
    assert_memory_equal(out[1]->hash.b, h.b, DHT_ID_LEN);
    dht__store_free(st);
}

static void test_too_big(void **state)
{
    (void)state;
    dht__store_t *st = new_store(10, 16);
    dht_id_t k = key_at(1, 0), far = key_at(0xff, 0);
    struct snap *before = malloc(sizeof(*before));

    assert_non_null(before);
    assert_int_equal(put_fill(st, &far, 'f', 4, 0, 100), 0);
    take_snap(st, before);
    assert_int_equal(put_fill(st, &k, 'a', 11, 0, 100), DHT_ETOOBIG);
    assert_unchanged(st, before);
    /* Exactly max_bytes fits, by evicting the farther key. */
    assert_int_equal(put_fill(st, &k, 'a', 10, 0, 100), 0);
    assert_int_equal(dht__store_bytes(st), 10);
    assert_int_equal(dht__store_count(st), 1);
    assert_false(has(st, &far, 'f', 4, 0));
    free(before);
    dht__store_free(st);
}

/* ------------------------------------------------------------------------ */
/* Caps                                                                     */
/* ------------------------------------------------------------------------ */

static void test_per_key_cap(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 3);
    dht_id_t k = key_at(1, 0), other = key_at(0xf0, 0);
    const dht__value_t *out[4];

    assert_int_equal(put_fill(st, &other, 'z', 7, 0, 1000), 0);
    assert_int_equal(put_fill(st, &k, '1', 1, 1, 1000), 0);
    assert_int_equal(put_fill(st, &k, '2', 2, 2, 50), 0);
    assert_int_equal(put_fill(st, &k, '3', 3, 3, 1000), 0);
    assert_int_equal(put_fill(st, &k, '4', 4, 4, 1000), 0);
    assert_int_equal(dht__store_get(st, &k, 4, out, 4), 3);
    assert_int_equal(out[0]->data[0], '2');
    assert_int_equal(out[1]->data[0], '3');
    assert_int_equal(out[2]->data[0], '4');
    assert_int_equal(dht__store_count(st), 4);
    assert_int_equal(dht__store_bytes(st), 7 + 2 + 3 + 4);
    assert_true(has(st, &other, 'z', 7, 4));
    /* '2' has expired: it goes instead of '3', the oldest live value. */
    assert_int_equal(put_fill(st, &k, '5', 5, 60, 1000), 0);
    assert_int_equal(dht__store_get(st, &k, 60, out, 4), 3);
    assert_int_equal(out[0]->data[0], '3');
    assert_int_equal(out[1]->data[0], '4');
    assert_int_equal(out[2]->data[0], '5');
    assert_int_equal(dht__store_count(st), 4);
    assert_int_equal(dht__store_bytes(st), 7 + 3 + 4 + 5);
    assert_true(dht__store_next_expiry(st) == 1000);
    dht__store_free(st);
}

static void test_per_key_cap_zero_means_one(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 0);
    dht_id_t k = key_at(1, 0);

    assert_int_equal(put_fill(st, &k, 'a', 1, 1, 1000), 0);
    assert_int_equal(put_fill(st, &k, 'b', 1, 2, 1000), 0);
    assert_int_equal(dht__store_count(st), 1);
    assert_true(has(st, &k, 'b', 1, 2));
    dht__store_free(st);
}

static void test_bytes_cap_evicts_farthest_oldest(void **state)
{
    (void)state;
    dht__store_t *st = new_store(100, 16);
    dht_id_t a = key_at(0x10, 0), b = key_at(0x20, 0), c = key_at(0x30, 0);
    dht_id_t d = key_at(0x05, 0);

    assert_int_equal(put_fill(st, &c, 'x', 20, 2, 1000), 0);
    assert_int_equal(put_fill(st, &c, 'w', 20, 1, 1000), 0); /* the oldest of c */
    assert_int_equal(put_fill(st, &b, 'y', 20, 3, 1000), 0);
    assert_int_equal(put_fill(st, &a, 'z', 20, 4, 1000), 0);
    assert_int_equal(dht__store_bytes(st), 80);
    /* Needs 10 bytes: c's oldest value goes, nothing else. */
    assert_int_equal(put_fill(st, &a, '2', 30, 5, 1000), 0);
    assert_false(has(st, &c, 'w', 20, 5));
    assert_true(has(st, &c, 'x', 20, 5));
    assert_int_equal(dht__store_bytes(st), 90);
    assert_int_equal(dht__store_count(st), 4);
    /* Needs 20: c's last value. */
    assert_int_equal(put_fill(st, &a, '3', 30, 6, 1000), 0);
    assert_false(has(st, &c, 'x', 20, 6));
    assert_true(has(st, &b, 'y', 20, 6));
    assert_int_equal(dht__store_bytes(st), 100);
    /* Needs 5: c is gone, so b, the next farthest. */
    assert_int_equal(put_fill(st, &a, '4', 15, 7, 1000), 0);
    assert_false(has(st, &b, 'y', 20, 7));
    assert_int_equal(dht__store_bytes(st), 95);
    assert_int_equal(dht__store_count(st), 4);
    /* A key closer than a takes a's oldest value. */
    assert_int_equal(put_fill(st, &d, 'd', 10, 8, 1000), 0);
    assert_false(has(st, &a, 'z', 20, 8));
    assert_true(has(st, &a, '2', 30, 8));
    assert_true(has(st, &a, '3', 30, 8));
    assert_true(has(st, &a, '4', 15, 8));
    assert_true(has(st, &d, 'd', 10, 8));
    assert_int_equal(dht__store_bytes(st), 85);
    assert_int_equal(dht__store_count(st), 4);
    dht__store_free(st);
}

static void test_bytes_cap_expired_first(void **state)
{
    (void)state;
    dht__store_t *st = new_store(60, 16);
    dht_id_t far = key_at(0xf0, 0), k = key_at(0x01, 0), j = key_at(0x02, 0);
    dht_id_t m = key_at(0x03, 0);

    assert_int_equal(put_fill(st, &far, 'f', 20, 0, 1000), 0);
    assert_int_equal(put_fill(st, &k, 'k', 20, 0, 50), 0);
    assert_int_equal(put_fill(st, &j, 'j', 15, 0, 1000), 0);
    assert_int_equal(put_fill(st, &j, 'i', 5, 0, 40), 0);
    /* Room to spare: expired values are not touched. */
    assert_int_equal(dht__store_bytes(st), 60);
    /* Needs 20 at t=100: the 25 expired bytes go, the far key stays. */
    assert_int_equal(put_fill(st, &m, 'm', 20, 100, 1000), 0);
    assert_true(has(st, &far, 'f', 20, 100));
    assert_true(has(st, &j, 'j', 15, 100));
    assert_true(has(st, &m, 'm', 20, 100));
    assert_int_equal(dht__store_count(st), 3);
    assert_int_equal(dht__store_bytes(st), 55);
    assert_int_equal(dht__store_expire(st, 100), 0);
    assert_true(dht__store_next_expiry(st) == 1000);
    dht__store_free(st);
}

static void test_busy_new_key_farthest(void **state)
{
    (void)state;
    dht__store_t *st = new_store(50, 16);
    dht_id_t a = key_at(0x10, 0), b = key_at(0x20, 0), far = key_at(0x80, 0);
    struct snap *before = malloc(sizeof(*before));

    assert_non_null(before);
    assert_int_equal(put_fill(st, &a, 'a', 20, 0, 1000), 0);
    assert_int_equal(put_fill(st, &b, 'b', 20, 0, 1000), 0);
    assert_int_equal(put_fill(st, &b, 'c', 5, 0, 30), 0); /* expired later */
    take_snap(st, before);
    /* 45 + 10 > 50 and only closer keys could make room. */
    assert_int_equal(put_fill(st, &far, 'f', 10, 0, 1000), DHT_EBUSY);
    assert_unchanged(st, before);
    assert_false(has(st, &far, 'f', 10, 0));
    /* Still busy when the expired value would not be enough; it goes all
     * the same (a put that needs room removes expired values first)... */
    assert_int_equal(put_fill(st, &far, 'f', 11, 40, 1000), DHT_EBUSY);
    assert_false(has(st, &far, 'f', 11, 40));
    assert_int_equal(dht__store_count(st), 2);
    assert_int_equal(dht__store_bytes(st), 40);
    /* ...and then there is room. */
    assert_int_equal(put_fill(st, &far, 'g', 10, 40, 1000), 0);
    assert_int_equal(dht__store_count(st), 3);
    assert_int_equal(dht__store_bytes(st), 50);
    assert_true(has(st, &a, 'a', 20, 40));
    assert_true(has(st, &b, 'b', 20, 40));
    free(before);
    dht__store_free(st);
}

static void test_busy_would_evict_closer_key(void **state)
{
    (void)state;
    dht__store_t *st = new_store(60, 16);
    dht_id_t far = key_at(0xf0, 0), mid = key_at(0x80, 0), close = key_at(0x10, 0);
    struct snap *before = malloc(sizeof(*before));

    assert_non_null(before);
    assert_int_equal(put_fill(st, &far, 'f', 10, 0, 1000), 0);
    assert_int_equal(put_fill(st, &close, 'c', 50, 0, 1000), 0);
    take_snap(st, before);
    /* Needs 30: far's 10 bytes are not enough and close is closer than mid. */
    assert_int_equal(put_fill(st, &mid, 'm', 30, 0, 1000), DHT_EBUSY);
    assert_unchanged(st, before);
    /* 10 bytes are enough: far goes. */
    assert_int_equal(put_fill(st, &mid, 'm', 10, 0, 1000), 0);
    assert_false(has(st, &far, 'f', 10, 0));
    assert_true(has(st, &close, 'c', 50, 0));
    assert_true(has(st, &mid, 'm', 10, 0));
    assert_int_equal(dht__store_count(st), 2);
    assert_int_equal(dht__store_bytes(st), 60);
    free(before);
    dht__store_free(st);
}

/* With a settle time, a value its source stored less than that ago is not
 * evicted for a newer value of the same source (rule a): the new one is
 * refused, unless an older value of that source under a key farther than
 * the new one's can go (the farthest key is passed over if its values are
 * all young). Once settled, distance order holds again. Other sources'
 * rule (b) is unchanged: a source over its share gives way, young or not. */
static void test_settle_protects_young_own_values(void **state)
{
    (void)state;
    dht__store_t *st = new_store(60, 16);
    dht_id_t far = key_at(0xf0, 0), farish = key_at(0xc0, 0), mid = key_at(0x80, 0);
    dht_id_t close = key_at(0x10, 0), closer = key_at(0x08, 0);
    struct snap *before = malloc(sizeof(*before));

    assert_non_null(before);
    dht__store_set_settle(st, 500);
    assert_int_equal(put_src(st, 7, &farish, 'a', 20, 0), 0); /* settles at 500 */
    assert_int_equal(put_src(st, 7, &mid, 'm', 20, 100), 0);  /* at 600 */
    assert_int_equal(put_src(st, 7, &far, 'f', 20, 400), 0);  /* at 900 */
    take_snap(st, before);
    /* At 450 nothing is settled: a closer key of the same source is refused. */
    assert_int_equal(put_src(st, 7, &close, 'c', 20, 450), DHT_EBUSY);
    assert_unchanged(st, before);
    /* At 550 farish is: it goes, though far is farther (far is young). */
    assert_int_equal(put_src(st, 7, &close, 'c', 20, 550), 0);
    assert_false(has(st, &farish, 'a', 20, 0));
    assert_true(has(st, &far, 'f', 20, 0));
    assert_true(has(st, &mid, 'm', 20, 0));
    /* At 950 everything but close is settled: far, the farthest, goes first. */
    assert_int_equal(put_src(st, 7, &closer, 'd', 20, 950), 0);
    assert_false(has(st, &far, 'f', 20, 0));
    assert_true(has(st, &mid, 'm', 20, 0));
    assert_true(has(st, &close, 'c', 20, 0));
    /* Another source within its share: the heavy source's young value
     * still gives way (rule b). */
    assert_int_equal(put_src(st, 9, &far, 'g', 20, 960), 0); /* mid goes (settled) */
    assert_false(has(st, &mid, 'm', 20, 0));
    assert_int_equal(put_src(st, 9, &farish, 'h', 10, 970), 0); /* close goes: young */
    assert_false(has(st, &close, 'c', 20, 0));
    assert_true(has(st, &closer, 'd', 20, 0));
    assert_true(has(st, &far, 'g', 20, 0));
    assert_true(has(st, &farish, 'h', 10, 0));
    free(before);
    dht__store_free(st);
}

static void test_busy_farthest_key_own_values(void **state)
{
    (void)state;
    dht__store_t *st = new_store(60, 2);
    dht_id_t far = key_at(0xf0, 0), close = key_at(0x10, 0);
    const dht__value_t *out[2];
    struct snap *before = malloc(sizeof(*before));

    assert_non_null(before);
    assert_int_equal(put_fill(st, &close, 'c', 20, 0, 1000), 0);
    assert_int_equal(put_fill(st, &far, '1', 30, 1, 1000), 0);
    take_snap(st, before);
    /* The farthest key does not give up its own values for the byte cap. */
    assert_int_equal(put_fill(st, &far, '2', 15, 2, 1000), DHT_EBUSY);
    assert_unchanged(st, before);
    assert_int_equal(put_fill(st, &far, '2', 10, 2, 1000), 0);
    assert_int_equal(dht__store_bytes(st), 60);
    /* At its per-key cap it does: the oldest goes, then the new one fits. */
    assert_int_equal(put_fill(st, &far, '3', 25, 3, 1000), 0);
    assert_int_equal(dht__store_get(st, &far, 3, out, 2), 2);
    assert_int_equal(out[0]->data[0], '2');
    assert_int_equal(out[1]->data[0], '3');
    assert_int_equal(dht__store_bytes(st), 55);
    assert_int_equal(dht__store_count(st), 3);
    /* Even then, not at the cost of a closer key. */
    take_snap(st, before);
    assert_int_equal(put_fill(st, &far, '4', 40, 4, 1000), DHT_EBUSY);
    assert_unchanged(st, before);
    free(before);
    dht__store_free(st);
}

/* ------------------------------------------------------------------------ */
/* foreach and many keys                                                    */
/* ------------------------------------------------------------------------ */

struct visit {
    unsigned calls, stop_at;
    size_t bytes;
    unsigned seen[10];
};

static int visit_one(const dht__value_t *v, void *arg)
{
    struct visit *w = arg;

    w->calls++;
    w->bytes += v->len;
    assert_true(v->len >= 1 && v->len <= 10);
    w->seen[v->len - 1]++;
    return w->calls == w->stop_at ? 7 : 0;
}

/* A source that filled the store gives way to another, down to its share;
 * at its share, a source makes room from its own values only. */
static void test_share_heavy_source_gives_way(void **state)
{
    (void)state;
    dht__store_t *st = new_store(100, 16);
    dht_id_t near[5], far1 = key_at(0xf0, 0), far2 = key_at(0xe0, 0), far3 = key_at(0xd0, 0);
    dht_id_t nearest = key_at(0x00, 1);

    for (int i = 0; i < 5; i++) { /* A (source 1): keys next to the node's id */
        near[i] = key_at((uint8_t)(1 + i), 0);
        assert_int_equal(put_src(st, 1, &near[i], (uint8_t)('a' + i), 20, 1), 0);
    }
    assert_int_equal(src_bytes(st, 1), 100);
    /* H (source 2) stores at far keys: A, above its share of 50, makes the
     * room, its farthest key first, although H's keys are farther. */
    assert_int_equal(put_src(st, 2, &far1, 'x', 20, 2), 0);
    assert_false(has(st, &near[4], 'e', 20, 2));
    assert_int_equal(put_src(st, 2, &far2, 'y', 20, 3), 0);
    assert_false(has(st, &near[3], 'd', 20, 3));
    assert_int_equal(src_bytes(st, 1), 60);
    assert_int_equal(src_bytes(st, 2), 40);
    assert_int_equal(dht__store_sources(st), 2);
    /* H at 60 would pass its share: only its own farther keys give way. */
    dht_source_t h = {{0}};
    h.b[15] = 2;
    assert_int_equal(dht__store_over_share(st, &h, 20), 1);
    assert_int_equal(dht__store_over_share(st, &h, 10), 0);
    assert_int_equal(dht__store_over_share(st, NULL, 33), 0); /* a third source: 100 / 3 */
    assert_int_equal(dht__store_over_share(st, NULL, 34), 1);
    assert_int_equal(put_src(st, 2, &far3, 'z', 20, 4), 0);
    assert_false(has(st, &far1, 'x', 20, 4));
    assert_true(has(st, &far2, 'y', 20, 4));
    assert_int_equal(src_bytes(st, 1), 60);
    /* A, at 60, cannot take H's values back, even for its nearest key. */
    assert_int_equal(put_src(st, 1, &nearest, 'n', 20, 5), 0);
    assert_false(has(st, &near[2], 'c', 20, 5)); /* its own farthest */
    assert_true(has(st, &far2, 'y', 20, 5));
    assert_true(has(st, &far3, 'z', 20, 5));
    assert_int_equal(src_bytes(st, 1), 60);
    assert_int_equal(src_bytes(st, 2), 40);
    /* A value larger than a new source's share finds no room. */
    assert_int_equal(put_src(st, 3, &nearest, 'q', 40, 6), DHT_EBUSY);
    assert_int_equal(dht__store_sources(st), 2);
    assert_int_equal(dht__store_bytes(st), 100);
    dht__store_free(st);
}

/* At the per-key cap, the source with the most values of the key loses
 * its oldest, not the key's oldest value. */
static void test_per_key_cap_heaviest_source(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 3);
    dht_id_t k = key_at(0x40, 0);

    assert_int_equal(put_src(st, 2, &k, 'b', 10, 1), 0); /* the key's oldest */
    assert_int_equal(put_src(st, 1, &k, 'a', 10, 2), 0);
    assert_int_equal(put_src(st, 1, &k, 'A', 10, 3), 0);
    assert_int_equal(put_src(st, 3, &k, 'c', 10, 4), 0);
    assert_true(has(st, &k, 'b', 10, 4));
    assert_false(has(st, &k, 'a', 10, 4));
    assert_true(has(st, &k, 'A', 10, 4));
    assert_true(has(st, &k, 'c', 10, 4));
    /* A source replaces its own first; a flood of one under the key only
     * ever replaces its own. */
    for (uint8_t i = 0; i < 20; i++)
        assert_int_equal(put_src(st, 1, &k, (uint8_t)('d' + i), 10, 5 + i), 0);
    assert_true(has(st, &k, 'b', 10, 30));
    assert_true(has(st, &k, 'c', 10, 30));
    assert_int_equal(src_bytes(st, 1), 10);
    dht__store_free(st);
}

/* With a value cost, tiny values count for it: a flood of them holds
 * max_bytes / cost values at most. */
static void test_value_cost(void **state)
{
    (void)state;
    dht__store_t *st = new_store(100, 16);
    dht_id_t far = key_at(0xf0, 0);

    dht__store_set_value_cost(st, 10);
    for (uint8_t i = 0; i < 10; i++) {
        dht_id_t k = key_at((uint8_t)(0x80 - i), 0); /* each closer than the last */
        assert_int_equal(put_fill(st, &k, (uint8_t)('a' + i), 1, 1, 1000), 0);
    }
    assert_int_equal(dht__store_count(st), 10);
    assert_int_equal(dht__store_bytes(st), 10); /* the bytes themselves */
    assert_int_equal(dht__store_source_bytes(st, NULL), 100);
    assert_int_equal(put_fill(st, &far, 'z', 0, 1, 1000), DHT_EBUSY); /* counts for 10 */
    {
        dht_id_t k = key_at(0x01, 0), k0 = key_at(0x80, 0), k1 = key_at(0x7f, 0);
        assert_int_equal(put_fill(st, &k, 'y', 15, 1, 1000), 0); /* the farthest two go */
        assert_false(has(st, &k0, 'a', 1, 1));
        assert_false(has(st, &k1, 'b', 1, 1));
        assert_int_equal(dht__store_count(st), 9);
        assert_int_equal(dht__store_source_bytes(st, NULL), 95);
    }
    assert_int_equal(put_fill(st, &far, 'x', 101, 1, 1000), DHT_ETOOBIG);
    dht__store_free(st);
}

static void test_foreach(void **state)
{
    (void)state;
    dht__store_t *st = new_store(1000, 16);
    struct visit w = {0};

    assert_int_equal(dht__store_foreach(st, visit_one, &w), 0);
    assert_int_equal(w.calls, 0);
    for (unsigned i = 1; i <= 10; i++) {
        dht_id_t k = key_at((uint8_t)(i % 4), 0);
        assert_int_equal(put_fill(st, &k, (uint8_t)i, i, i, 100 + i), 0);
    }
    assert_int_equal(dht__store_foreach(st, visit_one, &w), 0);
    assert_int_equal(w.calls, 10);
    assert_int_equal(w.bytes, 55);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(w.seen[i], 1);
    memset(&w, 0, sizeof(w));
    w.stop_at = 3;
    assert_int_equal(dht__store_foreach(st, visit_one, &w), 7);
    assert_int_equal(w.calls, 3);
    /* Expired values are visited until expire() removes them. */
    memset(&w, 0, sizeof(w));
    assert_int_equal(dht__store_foreach(st, visit_one, &w), 0);
    assert_int_equal(w.calls, 10);
    assert_int_equal(dht__store_expire(st, 105), 5);
    memset(&w, 0, sizeof(w));
    assert_int_equal(dht__store_foreach(st, visit_one, &w), 0);
    assert_int_equal(w.calls, 5);
    assert_int_equal(w.bytes, 6 + 7 + 8 + 9 + 10);
    dht__store_free(st);
}

static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 5000 };
    dht__store_t *st = new_store(SIZE_MAX / 2, 16);
    const dht__value_t *out[2];

    for (uint32_t i = 0; i < N; i++) {
        dht_id_t k;
        dht_id_from_bytes(&k, &i, sizeof(i));
        assert_int_equal(put_fill(st, &k, (uint8_t)i, 8, 0, 1000 + i), 0);
    }
    assert_int_equal(dht__store_count(st), N);
    assert_int_equal(dht__store_bytes(st), 8 * N);
    assert_true(dht__store_next_expiry(st) == 1000);
    for (uint32_t i = 0; i < N; i++) {
        dht_id_t k;
        dht_id_from_bytes(&k, &i, sizeof(i));
        assert_int_equal(dht__store_get(st, &k, 0, out, 2), 1);
        assert_int_equal(out[0]->data[7], (uint8_t)i);
    }
    assert_int_equal(dht__store_expire(st, 1000 + N / 2 - 1), N / 2);
    assert_true(dht__store_next_expiry(st) == 1000 + N / 2);
    for (uint32_t i = 0; i < N; i++) {
        dht_id_t k;
        dht_id_from_bytes(&k, &i, sizeof(i));
        assert_int_equal(dht__store_get(st, &k, 0, out, 2), i >= N / 2);
    }
    assert_int_equal(dht__store_count(st), N - N / 2);
    dht__store_free(st);
}

/* ------------------------------------------------------------------------ */
/* Randomized, against a reference model                                    */
/* ------------------------------------------------------------------------ */

/* The model is a flat list scanned in full: slow, and obviously the rules. */
enum { MAXKEYS = 300, NCONTENT = 24, MAXVALS = 1024, NSRC = 4 };

/* Source i of the model: all zero (the node itself) for 0, else i in its
 * last byte, so that a larger i is a larger dht_source_t. */
static dht_source_t src_id(int i)
{
    dht_source_t s;

    memset(&s, 0, sizeof(s));
    s.b[15] = (uint8_t)i;
    return s;
}

struct mval {
    int key, content, src;
    uint8_t flags;
    uint64_t stored_at, expires_at, seq;
};

struct model {
    size_t max_bytes;
    unsigned per_key, nkeys;
    dht_id_t self, keys[MAXKEYS];
    uint8_t data[NCONTENT][64];
    uint32_t len[NCONTENT];
    dht_id_t hash[NCONTENT];
    struct mval v[MAXVALS];
    size_t n, bytes;
    size_t cost, charged; /* dht__store_set_value_cost; what the values count for */
    uint64_t seq, rng;
};

static uint64_t rnd(struct model *m)
{
    /* splitmix64 */
    uint64_t z = (m->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* @return what content c counts for in the store. */
static size_t model_charge(const struct model *m, int c)
{
    return m->len[c] > m->cost ? m->len[c] : m->cost;
}

static void model_remove(struct model *m, size_t i)
{
    m->bytes -= m->len[m->v[i].content];
    m->charged -= model_charge(m, m->v[i].content);
    m->v[i] = m->v[--m->n];
}

static int older(const struct mval *a, const struct mval *b)
{
    return a->stored_at != b->stored_at ? a->stored_at < b->stored_at : a->seq < b->seq;
}

static unsigned model_key_count(const struct model *m, int key, uint64_t now, int live)
{
    unsigned c = 0;

    for (size_t i = 0; i < m->n; i++)
        c += m->v[i].key == key && (!live || m->v[i].expires_at > now);
    return c;
}

static size_t model_expire(struct model *m, uint64_t now)
{
    size_t gone = 0;

    for (size_t i = m->n; i-- > 0;) {
        if (m->v[i].expires_at <= now) {
            model_remove(m, i);
            gone++;
        }
    }
    return gone;
}

static int model_farther(const struct model *m, int a, int b)
{
    return dht_id_cmp_distance(&m->self, &m->keys[a], &m->keys[b]) > 0;
}

static size_t model_load(const struct model *m, int src)
{
    size_t sum = 0;

    for (size_t i = 0; i < m->n; i++)
        sum += m->v[i].src == src ? model_charge(m, m->v[i].content) : 0;
    return sum;
}

static unsigned model_sources(const struct model *m)
{
    unsigned n = 0;

    for (int s = 0; s < NSRC; s++) {
        size_t i = 0;
        while (i < m->n && m->v[i].src != s)
            i++;
        n += i < m->n;
    }
    return n;
}

/* @return the bytes of src's values (src -1: anyone's) under keys farther
 * than key. */
static size_t model_far(const struct model *m, int src, int key)
{
    size_t sum = 0;

    for (size_t i = 0; i < m->n; i++)
        if ((src < 0 || m->v[i].src == src) && model_farther(m, m->v[i].key, key))
            sum += model_charge(m, m->v[i].content);
    return sum;
}

/* @return the value of src (-1: anyone) under its farthest key, the
 * oldest there, or SIZE_MAX. */
static size_t model_farthest_of(const struct model *m, int src)
{
    size_t best = SIZE_MAX;

    for (size_t i = 0; i < m->n; i++) {
        if (src >= 0 && m->v[i].src != src)
            continue;
        if (best == SIZE_MAX || model_farther(m, m->v[i].key, m->v[best].key) ||
            (m->v[i].key == m->v[best].key && older(&m->v[i], &m->v[best])))
            best = i;
    }
    return best;
}

/* @return the value the per-key cap evicts from key for a new value from
 * src: the oldest of the source holding the most of key's values, the new
 * one counted. */
static size_t model_per_key_victim(const struct model *m, int key, int src)
{
    unsigned per[NSRC] = {0}, most = 1;
    size_t best = SIZE_MAX;

    per[src] = 1;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].key == key && ++per[m->v[i].src] > most)
            most = per[m->v[i].src];
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].key == key && per[m->v[i].src] == most &&
            (best == SIZE_MAX || older(&m->v[i], &m->v[best])))
            best = i;
    return best;
}

/* @return the source with the most bytes (ties: the larger id). */
static int model_heaviest(const struct model *m)
{
    int best = 0;

    for (int s = 1; s < NSRC; s++)
        if (model_load(m, s) >= model_load(m, best))
            best = s;
    return best;
}

static int model_put(struct model *m, int key, int c, int src, uint8_t flags, uint64_t now,
                     uint64_t exp)
{
    size_t len = model_charge(m, c); /* what it counts for */
    size_t victim = SIZE_MAX, vlen = 0, share, mine, kept;
    int vsrc = -1, own, present = 0;

    if (len > m->max_bytes)
        return DHT_ETOOBIG;
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].key == key && m->v[i].content == c) {
            m->v[i].flags = flags;
            if (exp > m->v[i].expires_at)
                m->v[i].expires_at = exp;
            return 0;
        }
    }
    if (exp <= now)
        return 0;
    if (m->charged + len > m->max_bytes || model_key_count(m, key, now, 0) >= m->per_key)
        model_expire(m, now);
    /* The plan, on what is left. */
    mine = model_load(m, src);
    for (size_t i = 0; i < m->n; i++)
        present |= m->v[i].src == src;
    share = m->max_bytes / (model_sources(m) + !present);
    if (model_key_count(m, key, now, 0) >= m->per_key) {
        victim = model_per_key_victim(m, key, src);
        vlen = model_charge(m, m->v[victim].content);
        vsrc = m->v[victim].src;
        if (vsrc == src)
            mine -= vlen;
    }
    own = mine + len > share;
    kept = m->charged - vlen;
    if (kept + len > m->max_bytes) {
        size_t need = kept + len - m->max_bytes, room;
        if (own) {
            room = model_far(m, src, key);
        } else {
            room = model_far(m, -1, key);
            for (int t = 0; t < NSRC; t++) {
                size_t load = model_load(m, t) - (t == vsrc ? vlen : 0), far = model_far(m, t, key);
                if (t != src && load > share && load - share > far)
                    room += load - share - far;
            }
        }
        if (room < need)
            return DHT_EBUSY;
    }
    /* The evictions. */
    if (victim != SIZE_MAX)
        model_remove(m, victim);
    while (own && m->charged + len > m->max_bytes)
        model_remove(m, model_farthest_of(m, src));
    while (m->charged + len > m->max_bytes) {
        int heavy = model_heaviest(m);
        if (model_load(m, heavy) <= share)
            break;
        model_remove(m, model_farthest_of(m, heavy));
    }
    while (m->charged + len > m->max_bytes) /* never: rule b always makes room (store.c) */
        model_remove(m, model_farthest_of(m, -1));
    assert_true(m->n < MAXVALS);
    m->v[m->n++] = (struct mval){key, c, src, flags, now, exp, m->seq++};
    m->bytes += m->len[c];
    m->charged += len;
    return 0;
}

/* Checks the store against the model: totals, caps, every key's values. */
static void model_check(const struct model *m, const dht__store_t *st, uint64_t now)
{
    const dht__value_t *out[32];
    uint64_t next = UINT64_MAX;

    assert_int_equal(dht__store_count(st), m->n);
    assert_int_equal(dht__store_bytes(st), m->bytes);
    assert_true(m->charged <= m->max_bytes);
    assert_int_equal(dht__store_sources(st), model_sources(m));
    for (int s = 0; s < NSRC; s++) {
        dht_source_t id = src_id(s);
        assert_int_equal(dht__store_source_bytes(st, &id), model_load(m, s));
    }
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].expires_at < next)
            next = m->v[i].expires_at;
    assert_true(dht__store_next_expiry(st) == next);
    for (unsigned k = 0; k < m->nkeys; k++) {
        size_t n = dht__store_get(st, &m->keys[k], now, out, 32);
        size_t prev = SIZE_MAX;
        assert_true(model_key_count(m, (int)k, now, 0) <= m->per_key);
        assert_int_equal(n, model_key_count(m, (int)k, now, 1));
        for (size_t j = 0; j < n; j++) {
            const dht__value_t *v = out[j];
            size_t i = 0;
            while (i < m->n && !(m->v[i].key == (int)k &&
                                 memcmp(m->hash[m->v[i].content].b, v->hash.b, DHT_ID_LEN) == 0))
                i++;
            assert_true(i < m->n);
            assert_true(m->v[i].expires_at > now);
            assert_int_equal(v->len, m->len[m->v[i].content]);
            assert_memory_equal(v->data, m->data[m->v[i].content], v->len);
            assert_memory_equal(v->key.b, m->keys[k].b, DHT_ID_LEN);
            assert_int_equal(v->flags, m->v[i].flags);
            assert_int_equal(v->stored_at, m->v[i].stored_at);
            assert_int_equal(v->expires_at, m->v[i].expires_at);
            dht_source_t id = src_id(m->v[i].src);
            assert_memory_equal(v->source.b, id.b, sizeof(id.b));
            assert_true(prev == SIZE_MAX || older(&m->v[prev], &m->v[i]));
            prev = i;
        }
    }
}

static int count_one(const dht__value_t *v, void *arg)
{
    size_t *sums = arg;

    sums[0]++;
    sums[1] += v->len;
    return 0;
}

static void model_init(struct model *m, uint64_t seed, unsigned nkeys, size_t max_bytes,
                       unsigned per_key)
{
    memset(m, 0, sizeof(*m));
    m->rng = seed;
    m->nkeys = nkeys;
    m->max_bytes = max_bytes;
    m->per_key = per_key;
    for (size_t i = 0; i < DHT_ID_LEN; i++)
        m->self.b[i] = (uint8_t)rnd(m);
    for (unsigned k = 0; k < nkeys; k++) {
        for (size_t i = 0; i < DHT_ID_LEN; i++)
            m->keys[k].b[i] = (uint8_t)rnd(m);
        if (k > 0 && rnd(m) % 4 == 0) /* share a long prefix with another key */
            memcpy(m->keys[k].b, m->keys[rnd(m) % k].b, 20);
    }
    for (int c = 0; c < NCONTENT; c++) {
        /* 1..50 bytes, some too big for the smallest caps; one empty value
         * (two would have the same hash). */
        m->len[c] = c == 0 ? 0 : (uint32_t)(1 + rnd(m) % 50);
        for (uint32_t i = 0; i < m->len[c]; i++)
            m->data[c][i] = (uint8_t)(c * 31 + i);
        m->data[c][0] = (uint8_t)c; /* distinct even at equal lengths */
        dht_id_from_bytes(&m->hash[c], m->data[c], m->len[c]);
    }
}

/* Runs random puts, expires and finds, checking the store against the model
 * after every step. @return how many puts failed with DHT_EBUSY. */
static unsigned run_random(uint64_t seed, unsigned nkeys, size_t max_bytes, unsigned per_key,
                           unsigned steps)
{
    struct model *m = malloc(sizeof(*m));
    dht__store_t *st;
    uint64_t now = 1000;
    unsigned busy = 0, puts = 0;

    assert_non_null(m);
    model_init(m, seed, nkeys, max_bytes, per_key);
    st = dht__store_new(&m->self, max_bytes, per_key);
    assert_non_null(st);
    if (seed % 3 == 0) { /* values count for at least a few bytes more */
        m->cost = 1 + seed % 9;
        dht__store_set_value_cost(st, m->cost);
    }
    for (unsigned step = 0; step < steps; step++) {
        uint64_t r = rnd(m) % 100;
        now += rnd(m) % 4;
        if (r < 75) {
            int key = (int)(rnd(m) % nkeys), c = (int)(rnd(m) % NCONTENT);
            uint8_t flags = (uint8_t)(rnd(m) % 2);
            uint64_t exp = now + rnd(m) % 80;
            if (rnd(m) % 20 == 0)
                exp -= 80; /* already expired, or a refresh that would shorten */
            /* Source 0 (the node) most, so that sources differ in weight. */
            int src = rnd(m) % 2 ? 0 : (int)(rnd(m) % NSRC);
            dht_source_t id = src_id(src);
            int want, fits = 0;
            if (exp > now) /* fits() does not know the expiry: it plans */
                fits = dht__store_fits(st, &id, &m->keys[key], &m->hash[c], m->len[c], now);
            want = model_put(m, key, c, src, flags, now, exp);
            if (exp > now)
                assert_int_equal(fits, want);
            int got = src == 0 && rnd(m) % 2
                          ? dht__store_put(st, &m->keys[key], &m->hash[c], m->data[c], m->len[c],
                                           flags, now, exp)
                          : dht__store_put_from(st, &id, &m->keys[key], &m->hash[c], m->data[c],
                                                m->len[c], flags, now, now, 0, exp);
            assert_int_equal(got, want);
            busy += got == DHT_EBUSY;
            puts += got == 0;
        } else if (r < 90) {
            assert_int_equal(dht__store_expire(st, now), model_expire(m, now));
        } else {
            int key = (int)(rnd(m) % nkeys), c = (int)(rnd(m) % NCONTENT);
            const dht__value_t *v = dht__store_find(st, &m->keys[key], &m->hash[c], now);
            size_t i = 0;
            while (i < m->n && !(m->v[i].key == key && m->v[i].content == c))
                i++;
            assert_int_equal(v != NULL, i < m->n && m->v[i].expires_at > now);
        }
        model_check(m, st, now);
        size_t sums[2] = {0, 0};
        assert_int_equal(dht__store_foreach(st, count_one, sums), 0);
        assert_int_equal(sums[0], m->n);
        assert_int_equal(sums[1], m->bytes);
    }
    assert_true(puts > steps / 10); /* enough successes for the caps to bite */
    dht__store_free(st);
    free(m);
    return busy;
}

static void test_random_small(void **state)
{
    (void)state;
    assert_true(run_random(1, 12, 200, 3, 4000) > 0);
}

static void test_random_tiny(void **state)
{
    (void)state;
    assert_true(run_random(2, 4, 60, 1, 4000) > 0);
}

static void test_random_many_keys(void **state)
{
    (void)state;
    assert_true(run_random(3, 300, 500, 4, 4000) > 0);
}

static void test_random_seeds(void **state)
{
    (void)state;
    unsigned busy = 0;

    for (uint64_t seed = 10; seed < 60; seed++)
        busy += run_random(seed, 2 + (unsigned)(seed % 20), 40 + 20 * (seed % 7),
                           1 + (unsigned)(seed % 5), 2000);
    assert_true(busy > 0);
}

int main(void)
{
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_put_get_find),
        cmocka_unit_test(test_several_values_oldest_first),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_get_skips_expired),
        cmocka_unit_test(test_expire_and_next_expiry),
        cmocka_unit_test(test_dead_on_arrival_and_empty_value),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_per_key_cap),
        cmocka_unit_test(test_per_key_cap_zero_means_one),
        cmocka_unit_test(test_bytes_cap_evicts_farthest_oldest),
        cmocka_unit_test(test_bytes_cap_expired_first),
        cmocka_unit_test(test_busy_new_key_farthest),
        cmocka_unit_test(test_busy_would_evict_closer_key),
        cmocka_unit_test(test_settle_protects_young_own_values),
        cmocka_unit_test(test_busy_farthest_key_own_values),
        cmocka_unit_test(test_share_heavy_source_gives_way),
        cmocka_unit_test(test_per_key_cap_heaviest_source),
        cmocka_unit_test(test_value_cost),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_random_tiny),
        cmocka_unit_test(test_random_many_keys),
        cmocka_unit_test(test_random_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
