/*
 * Tests of the wire codec (libdht/wire.c) against schema/wire.md: the hand
 * written vectors of schema/vectors/wire/ decode to the fields they describe
 * and re-encode byte for byte; truncated, extended and corrupted messages are
 * rejected or re-encode to exactly their input (the encoding is canonical);
 * the encoder enforces the limits; random valid messages round-trip.
 *
 * Run from the repository root: the vectors are read at run time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers/fake_net.h"
#include "helpers/vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>   /* clock */
#include <unistd.h> /* alarm */

#include "store.h" /* DHT__VALUE_CONTENT */
#include "wire.h"

#define VECTOR_DIR  "schema/vectors/wire"
#define MIN_VECTORS 11
#define MAX_VECTORS 256
#define CORRUPTIONS 1000000
#define RANDOM_MSGS 20000

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Loaded once by the group setup; read-only afterwards. */
static vector_t vectors[MAX_VECTORS];
static size_t n_vectors;

static int load_vectors(void **state)
{
    (void)state;
    return vectors_load(VECTOR_DIR, vectors, MAX_VECTORS, &n_vectors);
}

static int free_vectors(void **state)
{
    (void)state;
    vectors_free(vectors, &n_vectors);
    return 0;
}

static void id_seq(dht_id_t *id, uint8_t start)
{
    for (unsigned i = 0; i < DHT_ID_LEN; i++)
        id->b[i] = (uint8_t)(start + i);
}

static void id_fill(dht_id_t *id, uint8_t v)
{
    memset(id->b, v, DHT_ID_LEN);
}

static void assert_id_seq(const dht_id_t *id, uint8_t start)
{
    dht_id_t want;
    id_seq(&want, start);
    assert_memory_equal(id->b, want.b, DHT_ID_LEN);
}

static void assert_id_fill(const dht_id_t *id, uint8_t v)
{
    dht_id_t want;
    id_fill(&want, v);
    assert_memory_equal(id->b, want.b, DHT_ID_LEN);
}

static void assert_addr(const dht_addr_t *a, uint8_t family, const char *ip_hex, uint16_t port)
{
    uint8_t ip[16] = {0};
    size_t n = 0;

    assert_int_equal(parse_hex_line(ip_hex, ip, sizeof(ip), &n), 0);
    assert_int_equal(n, family == DHT_AF_INET ? 4 : 16);
    assert_int_equal(a->family, family);
    /* The decoder leaves the unused 12 bytes of an IPv4 address zero. */
    assert_memory_equal(a->ip, ip, sizeof(ip));
    assert_int_equal(a->port, port);
}

/* Decodes buf[0..len) from a heap copy of exactly len bytes (so that any
 * read past the end is caught under AddressSanitizer) and checks the
 * codec's contract: either DHT_EPROTO, or a message of size len that
 * re-encodes to exactly these bytes, and not into one byte less.
 * @return 1 if it decoded, 0 if it was rejected. */
static int check_canonical(const uint8_t *buf, size_t len)
{
    static dht__msg_t m;
    static uint8_t out[VECTOR_MAX_LEN + 64];
    uint8_t *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, buf, len);
    rc = dht__wire_decode(&m, copy, len);
    if (rc != 0) {
        assert_int_equal(rc, DHT_EPROTO);
        free(copy);
        return 0;
    }
    assert_true(len <= VECTOR_MAX_LEN);
    assert_int_equal(dht__wire_size(&m), len);
    assert_int_equal(dht__wire_encode(&m, out, len), len);
    assert_memory_equal(out, buf, len);
    assert_int_equal(dht__wire_encode(&m, out, len - 1), 0);
    free(copy);
    return 1;
}

static const uint8_t known_types[] = {
    DHT__PING,       DHT__FIND_NODE,   DHT__FIND_VALUE,     DHT__STORE,     DHT__GET_VALUE,
    DHT__HAVE,       DHT__ROUTE,       DHT__PONG,           DHT__NODES,     DHT__VALUES,
    DHT__STORED,     DHT__VALUE,       DHT__HELD,           DHT__ROUTED,    DHT__ERROR,
    DHT__STORE_MANY, DHT__STORED_MANY, DHT__FIND_PROVIDERS, DHT__PROVIDERS, DHT__PROVIDE,
    DHT__PROVIDED,   DHT__DELETE,      DHT__DELETED,
};
#define N_TYPES (sizeof(known_types) / sizeof(known_types[0]))

/* @return 1 if t is a known type byte: a known type, or a request's with
 * the client bit (schema/wire.md 2.2). */
static int is_known_type(unsigned t)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (known_types[i] == t || (!DHT__IS_REPLY(known_types[i]) &&
                                    (t & ~(unsigned)DHT__WIRE_REQUEST_BITS) == known_types[i]))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Expected fields of the vectors, as their comments describe them          */
/* ------------------------------------------------------------------------ */

static void want_ping(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__PING);
    assert_int_equal(m->txid, 0x04030201u);
    assert_id_seq(&m->sender, 0x00);
}

static void want_pong_ipv4(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__PONG);
    assert_int_equal(m->txid, 0x04030201u);
    assert_id_seq(&m->sender, 0x20);
    assert_addr(&m->addr, DHT_AF_INET, "c0000207", 6881);
}

static void want_pong_advert(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__PONG);
    assert_addr(&m->addr, DHT_AF_INET, "c0000207", 6881);
    assert_int_equal(m->has_region, 1);
    assert_int_equal(m->region, 7);
    assert_int_equal(m->has_advert, 1);
    assert_addr(&m->advert, DHT_AF_INET, "cb007107", 4000);
}

static void want_pong_ipv6(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__PONG);
    assert_addr(&m->addr, DHT_AF_INET6, "20010db8000000000000000000000001", 4000);
}

static void want_ping_padded(const dht__msg_t *m)
{
    want_ping(m);
    assert_int_equal(m->has_proof, 0);
    assert_int_equal(m->pad, 78);
}

static void want_find_node(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__FIND_NODE);
    assert_int_equal(m->txid, 0xdeadbeefu);
    assert_id_seq(&m->sender, 0x00);
    assert_id_seq(&m->target, 0xa0);
}

static void want_find_node_client(const dht__msg_t *m)
{
    want_find_node(m);
    assert_int_equal(m->client, 1);
}

static void want_nodes_ipv4(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__NODES);
    assert_int_equal(m->txid, 0xdeadbeefu);
    assert_id_seq(&m->sender, 0x20);
    assert_memory_equal(m->token, "token001", 8);
    assert_int_equal(m->n_nodes, 2);
    assert_id_fill(&m->nodes[0].id, 0x11);
    assert_addr(&m->nodes[0].addr, DHT_AF_INET, "c0000201", 6881);
    assert_id_fill(&m->nodes[1].id, 0x22);
    assert_addr(&m->nodes[1].addr, DHT_AF_INET, "c6336402", 65535);
}

static void want_nodes_ipv6(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__NODES);
    assert_int_equal(m->n_nodes, 2);
    assert_id_fill(&m->nodes[0].id, 0x33);
    assert_addr(&m->nodes[0].addr, DHT_AF_INET6, "20010db8000000000000000000000002", 6881);
    assert_id_fill(&m->nodes[1].id, 0x44);
    assert_addr(&m->nodes[1].addr, DHT_AF_INET6, "20010db80001000000000000000000ff", 1);
}

static void want_nodes_empty(const dht__msg_t *m)
{
    static const uint8_t token[8] = {0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff};

    assert_int_equal(m->type, DHT__NODES);
    assert_memory_equal(m->token, token, 8);
    assert_int_equal(m->n_nodes, 0);
}

static void want_find_value(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__FIND_VALUE);
    assert_int_equal(m->txid, 1);
    assert_id_seq(&m->target, 0xa0);
    assert_int_equal(m->first, 0x0102);
}

static void want_values(const dht__msg_t *m)
{
    const dht__wire_entry_t *e = m->entries;

    assert_int_equal(m->type, DHT__VALUES);
    assert_int_equal(m->txid, 1);
    assert_id_seq(&m->sender, 0x20);
    assert_memory_equal(m->token, "token002", 8);
    assert_int_equal(m->n_nodes, 2);
    assert_id_fill(&m->nodes[0].id, 0x66);
    assert_addr(&m->nodes[0].addr, DHT_AF_INET, "cb007109", 6881);
    assert_id_fill(&m->nodes[1].id, 0x55);
    assert_addr(&m->nodes[1].addr, DHT_AF_INET6, "20010db8000000000000000000000005", 8080);
    assert_int_equal(m->total, 5);
    assert_int_equal(m->first, 2);
    assert_int_equal(m->n_entries, 2);
    assert_int_equal(e[0].is_summary, 0);
    assert_int_equal(e[0].flags, 0);
    assert_int_equal(e[0].ttl, 3600);
    assert_int_equal(e[0].len, 5);
    assert_memory_equal(e[0].data, "hello", 5);
    assert_int_equal(e[1].is_summary, 1);
    assert_int_equal(e[1].flags, 0);
    assert_int_equal(e[1].ttl, 86400);
    assert_int_equal(e[1].len, 1048576);
    assert_id_seq(&e[1].hash, 0xc0);
}

static void want_values_empty(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__VALUES);
    assert_memory_equal(m->token, "token003", 8);
    assert_int_equal(m->n_nodes, 0);
    assert_int_equal(m->total, 0);
    assert_int_equal(m->first, 0);
    assert_int_equal(m->n_entries, 0);
}

static void want_store(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORE);
    assert_int_equal(m->txid, 0x11223344u);
    assert_id_seq(&m->sender, 0x00);
    assert_memory_equal(m->token, "token001", 8);
    assert_id_seq(&m->target, 0xa0);
    assert_int_equal(m->ttl, 3600);
    assert_int_equal(m->flags, 0);
    assert_int_equal(m->value_len, 5);
    assert_memory_equal(m->value, "hello", 5);
    assert_int_equal(m->has_owner, 0);
}

/* The key of the content-addressed value "abc": SHA-256("abc"). */
static void assert_abc_key(const dht_id_t *key)
{
    dht_id_t h;
    dht_id_t want;

    dht_id_from_bytes(&h, "abc", 3);
    assert_int_equal(
        dht_id_from_hex(&want, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        0);
    assert_memory_equal(h.b, want.b, DHT_ID_LEN);
    assert_memory_equal(key->b, want.b, DHT_ID_LEN);
}

static void want_store_content(const dht__msg_t *m)
{
    static const uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    dht_id_t h;

    assert_int_equal(m->type, DHT__STORE);
    assert_int_equal(m->txid, 0x11223345u);
    assert_memory_equal(m->token, token, 8);
    assert_abc_key(&m->target);
    assert_int_equal(m->ttl, 86400);
    assert_int_equal(m->flags, DHT__VALUE_CONTENT);
    assert_int_equal(m->value_len, 3);
    assert_memory_equal(m->value, "abc", 3);
    dht_id_from_bytes(&h, m->value, m->value_len);
    assert_memory_equal(h.b, m->target.b, DHT_ID_LEN);
}

static void want_store_copies(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORE);
    assert_int_equal(m->flags, DHT__VALUE_CONTENT | (8 << DHT__VALUE_COPIES_SHIFT));
    assert_int_equal(dht__value_copies(m->flags, 20), 8);
    assert_int_equal(dht__value_copies(m->flags, 5), 5); /* never above k */
    assert_int_equal(dht__value_copies(DHT__VALUE_CONTENT, 20), 20);
    assert_int_equal(m->value_len, 3);
    assert_memory_equal(m->value, "abc", 3);
}

static void want_stored(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORED);
    assert_int_equal(m->txid, 0x11223344u);
    assert_id_seq(&m->sender, 0x20);
}

static void want_get_value(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__GET_VALUE);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->target, 0xa0);
    assert_id_seq(&m->hash, 0xc0);
}

static void want_get_value_proof(const dht__msg_t *m)
{
    want_get_value(m);
    assert_int_equal(m->has_proof, 1);
    assert_memory_equal(m->proof, "token002", 8);
    assert_int_equal(m->pad, 0);
}

static void want_value(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__VALUE);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_int_equal(m->flags, 0);
    assert_int_equal(m->ttl, 300);
    assert_int_equal(m->value_len, 11);
    assert_memory_equal(m->value, "hello world", 11);
}

static void want_value_content(const dht__msg_t *m)
{
    dht_id_t h;

    assert_int_equal(m->type, DHT__VALUE);
    assert_int_equal(m->txid, 0xfffffffeu);
    assert_int_equal(m->flags, DHT__VALUE_CONTENT);
    assert_int_equal(m->ttl, 86399);
    assert_int_equal(m->value_len, 3);
    dht_id_from_bytes(&h, m->value, m->value_len);
    assert_abc_key(&h);
}

static void want_error(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__ERROR);
    assert_int_equal(m->txid, 0x11223344u);
    assert_int_equal(m->err_code, DHT__WERR_BAD_TOKEN);
    assert_int_equal(m->err_len, 9);
    assert_memory_equal(m->err_msg, "bad token", 9);
}

static void want_error_empty(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__ERROR);
    assert_int_equal(m->txid, 0);
    assert_int_equal(m->err_code, DHT__WERR_RATE_LIMITED);
    assert_int_equal(m->err_len, 0);
}

static void want_error_max(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__ERROR);
    assert_int_equal(m->txid, 0x80000000u);
    assert_int_equal(m->err_code, DHT__WERR_TOO_BIG);
    assert_int_equal(m->err_len, DHT__WIRE_MAX_ERRMSG);
    for (unsigned i = 0; i < m->err_len; i++)
        assert_int_equal(m->err_msg[i], 'a');
}

static void want_have(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__HAVE);
    assert_int_equal(m->client, 0);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x00);
    assert_int_equal(m->n_have, 2);
    assert_id_seq(&m->have_key[0], 0xa0);
    assert_id_seq(&m->have_hash[0], 0xa0);
    assert_id_seq(&m->have_key[1], 0x40);
    assert_id_seq(&m->have_hash[1], 0xc0);
}

static void want_held(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__HELD);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x20);
    assert_memory_equal(m->token, "token004", 8);
    assert_int_equal(m->n_have, 10);
    assert_int_equal(m->held_bits, 0x205u); /* pairs 0, 2 and 9 held */
}

static void want_route(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__ROUTE);
    assert_int_equal(m->has_proof, 0);
    assert_int_equal(m->pad, 0);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x00);
    assert_id_seq(&m->target, 0xa0);
    assert_id_seq(&m->origin, 0x40);
    assert_int_equal(m->hops, 1);
    assert_int_equal(m->value_len, 5);
    assert_memory_equal(m->value, "hello", 5);
}

static void want_find_value_recent(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__FIND_VALUE);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->target, 0xa0);
    assert_int_equal(m->first, 0);
    assert_int_equal(m->max_age, 3600);
}

static void want_store_aged(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORE);
    assert_memory_equal(m->token, "token001", 8);
    assert_id_seq(&m->target, 0xa0);
    assert_int_equal(m->ttl, 1800);
    assert_int_equal(m->flags, DHT__WIRE_STORE_AGED);
    assert_int_equal(m->value_len, 3);
    assert_memory_equal(m->value, "abc", 3);
    assert_int_equal(m->age, 5400);
}

static void want_store_many(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORE_MANY);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x00);
    assert_memory_equal(m->token, "token001", 8);
    assert_int_equal(m->n_batch, 2);
    assert_id_seq(&m->batch[0].key, 0xa0);
    assert_int_equal(m->batch[0].ttl, 3600);
    assert_int_equal(m->batch[0].flags, 0);
    assert_int_equal(m->batch[0].len, 3);
    assert_memory_equal(m->batch[0].value, "abc", 3);
    assert_int_equal(m->batch[0].age, 0);
    assert_id_seq(&m->batch[1].key, 0x40);
    assert_int_equal(m->batch[1].ttl, 1800);
    assert_int_equal(m->batch[1].flags, DHT__WIRE_STORE_AGED);
    assert_int_equal(m->batch[1].len, 5);
    assert_memory_equal(m->batch[1].value, "hello", 5);
    assert_int_equal(m->batch[1].age, 5400);
}

/* SHA-256 of the secret c0 c1 .. df: the owner of store_owned.hex, which
 * delete.hex deletes (wire.md 5.10). */
static void assert_owner_of_secret(const dht_id_t *owner)
{
    uint8_t secret[32];
    dht_id_t want;

    for (unsigned i = 0; i < 32; i++)
        secret[i] = (uint8_t)(0xc0 + i);
    dht_id_from_bytes(&want, secret, sizeof(secret));
    assert_memory_equal(owner->b, want.b, DHT_ID_LEN);
}

static void want_store_owned(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORE);
    assert_id_seq(&m->target, 0xa0);
    assert_int_equal(m->ttl, 3600);
    assert_int_equal(m->flags, 0);
    assert_int_equal(m->value_len, 5);
    assert_memory_equal(m->value, "hello", 5);
    assert_int_equal(m->has_owner, 1);
    assert_owner_of_secret(&m->owner);
}

static void want_store_many_owned(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORE_MANY);
    assert_int_equal(m->n_batch, 1);
    assert_id_seq(&m->batch[0].key, 0xa0);
    assert_int_equal(m->batch[0].len, 3);
    assert_memory_equal(m->batch[0].value, "abc", 3);
    assert_int_equal(m->batch[0].has_owner, 1);
    assert_owner_of_secret(&m->batch[0].owner);
}

static void want_delete(const dht__msg_t *m)
{
    dht_id_t hello;

    assert_int_equal(m->type, DHT__DELETE);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x00);
    assert_id_seq(&m->target, 0xa0);
    dht_id_from_bytes(&hello, "hello", 5);
    assert_memory_equal(m->hash.b, hello.b, DHT_ID_LEN);
    assert_id_seq(&m->secret, 0xc0);
}

static void want_deleted(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__DELETED);
    assert_id_seq(&m->sender, 0x20);
    assert_int_equal(m->outcome, DHT__DELETE_DONE);
}

static void want_stored_many(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__STORED_MANY);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x20);
    assert_int_equal(m->n_batch, 3);
    assert_int_equal(m->batch_codes[0], 0);
    assert_int_equal(m->batch_codes[1], DHT__WERR_FULL);
    assert_int_equal(m->batch_codes[2], 0);
}

static void want_provide(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__PROVIDE);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x00);
    assert_memory_equal(m->token, "token001", 8);
    assert_id_seq(&m->target, 0xa0);
    assert_int_equal(m->port, 4100);
    assert_int_equal(m->ttl, 3600);
}

static void want_provided(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__PROVIDED);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x20);
}

static void want_find_providers(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__FIND_PROVIDERS);
    assert_id_seq(&m->target, 0xa0);
    assert_int_equal(m->first, 0);
    assert_int_equal(m->max_age, 0);
}

static void want_providers(const dht__msg_t *m)
{
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
    dht_addr_t a;

    assert_int_equal(m->type, DHT__PROVIDERS);
    assert_memory_equal(m->token, "token002", 8);
    assert_int_equal(m->n_nodes, 1);
    assert_int_equal(m->total, 2);
    assert_int_equal(m->n_entries, 2);
    assert_int_equal(m->entries[0].flags, 0x80);
    assert_int_equal(m->entries[0].ttl, 1800);
    assert_int_equal(dht__wire_addr_decode(m->entries[0].data, m->entries[0].len, &a), 0);
    assert_int_equal(a.family, DHT_AF_INET);
    assert_memory_equal(a.ip, "\xc6\x33\x64\x07", 4);
    assert_int_equal(a.port, 4100);
    assert_int_equal(dht__wire_addr_decode(m->entries[1].data, m->entries[1].len, &a), 0);
    assert_int_equal(a.family, DHT_AF_INET6);
    assert_memory_equal(a.ip, v6, 16);
    assert_int_equal(a.port, 4101);
    /* An address record is exactly 7 or 19 bytes of a known family. */
    assert_int_equal(dht__wire_addr_decode(m->entries[1].data, 18, &a), DHT_EPROTO);
    assert_int_equal(dht__wire_addr_decode(m->entries[0].data, 8, &a), DHT_EPROTO);
}

static void want_routed(const dht__msg_t *m)
{
    assert_int_equal(m->type, DHT__ROUTED);
    assert_int_equal(m->txid, 0x0a0b0c0du);
    assert_id_seq(&m->sender, 0x20);
    assert_int_equal(m->outcome, DHT__ROUTE_FORWARDED);
    assert_id_seq(&m->peer, 0x60);
}

static const struct {
    const char *name;
    void (*check)(const dht__msg_t *m);
} wanted[] = {
    {"ping.hex", want_ping},
    {"pong_ipv4.hex", want_pong_ipv4},
    {"pong_ipv6.hex", want_pong_ipv6},
    {"pong_advert.hex", want_pong_advert},
    {"find_node.hex", want_find_node},
    {"find_node_client.hex", want_find_node_client},
    {"nodes_ipv4.hex", want_nodes_ipv4},
    {"nodes_ipv6.hex", want_nodes_ipv6},
    {"nodes_empty.hex", want_nodes_empty},
    {"find_value.hex", want_find_value},
    {"values.hex", want_values},
    {"values_empty.hex", want_values_empty},
    {"store.hex", want_store},
    {"store_content.hex", want_store_content},
    {"store_copies.hex", want_store_copies},
    {"stored.hex", want_stored},
    {"get_value.hex", want_get_value},
    {"get_value_proof.hex", want_get_value_proof},
    {"ping_padded.hex", want_ping_padded},
    {"have.hex", want_have},
    {"held.hex", want_held},
    {"route.hex", want_route},
    {"find_value_recent.hex", want_find_value_recent},
    {"store_aged.hex", want_store_aged},
    {"routed.hex", want_routed},
    {"store_many.hex", want_store_many},
    {"provide.hex", want_provide},
    {"provided.hex", want_provided},
    {"find_providers.hex", want_find_providers},
    {"providers.hex", want_providers},
    {"stored_many.hex", want_stored_many},
    {"store_owned.hex", want_store_owned},
    {"store_many_owned.hex", want_store_many_owned},
    {"delete.hex", want_delete},
    {"deleted.hex", want_deleted},
    {"value.hex", want_value},
    {"value_content.hex", want_value_content},
    {"error.hex", want_error},
    {"error_empty.hex", want_error_empty},
    {"error_max.hex", want_error_max},
};
#define N_WANTED (sizeof(wanted) / sizeof(wanted[0]))

/* ------------------------------------------------------------------------ */
/* Vectors                                                                  */
/* ------------------------------------------------------------------------ */

/* Every vector decodes to the fields its comments describe, has the size
 * dht__wire_size() says, and re-encodes byte for byte; together they cover
 * every message type. */
static void test_vectors_roundtrip(void **state)
{
    static dht__msg_t m;
    static uint8_t out[VECTOR_MAX_LEN];
    unsigned seen[256] = {0};
    size_t checked = 0;

    (void)state;
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];

        print_message("vector %s: %zu bytes\n", v->name, v->len);
        assert_int_equal(dht__wire_decode(&m, v->buf, v->len), 0);
        assert_int_equal(dht__wire_size(&m), v->len);
        assert_int_equal(dht__wire_encode(&m, out, sizeof(out)), v->len);
        assert_memory_equal(out, v->buf, v->len);
        seen[m.type]++;
        for (size_t j = 0; j < N_WANTED; j++) {
            if (strcmp(wanted[j].name, v->name) == 0) {
                wanted[j].check(&m);
                checked++;
            }
        }
        /* No vector is larger than a datagram. */
        assert_true(v->len <= DHT_MAX_DATAGRAM);
    }
    for (size_t t = 0; t < N_TYPES; t++) {
        if (seen[known_types[t]] == 0)
            fail_msg("no vector of type 0x%02x", known_types[t]);
    }
    /* Every named vector is present: renaming one must not lose its checks. */
    assert_int_equal(checked, N_WANTED);
}

/* Every proper prefix of a vector is truncated, and one more byte is
 * trailing garbage: both are malformed. */
static void test_vectors_truncated_and_extended(void **state)
{
    static uint8_t longer[VECTOR_MAX_LEN + 1];
    static dht__msg_t m;

    (void)state;
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];

        size_t pad;

        assert_int_equal(dht__wire_decode(&m, v->buf, v->len), 0);
        /* Padding is what is left of the datagram: a padded message
         * stays valid cut down to one byte of it, or one zero longer. */
        pad = m.pad;
        for (size_t len = 0; len < v->len; len++) {
            /* A heap copy of exactly len bytes: no read past it may pass. */
            uint8_t *copy = malloc(len > 0 ? len : 1);
            int rc;
            assert_non_null(copy);
            memcpy(copy, v->buf, len);
            rc = dht__wire_decode(&m, copy, len);
            if (pad > 0 && len > v->len - pad) {
                assert_int_equal(rc, 0);
                assert_int_equal(m.pad, len - (v->len - pad));
            } else if (rc != DHT_EPROTO) {
                fail_msg("%s: prefix of %zu bytes accepted", v->name, len);
            }
            free(copy);
        }
        memcpy(longer, v->buf, v->len);
        for (unsigned extra = 0; extra < 256; extra += 0x55) {
            longer[v->len] = (uint8_t)extra;
            if (pad > 0 && extra == 0)
                assert_int_equal(dht__wire_decode(&m, longer, v->len + 1), 0);
            else if (dht__wire_decode(&m, longer, v->len + 1) != DHT_EPROTO)
                fail_msg("%s: trailing byte 0x%02x accepted", v->name, extra);
        }
    }
}

/* Header checks: a wrong magic or version is malformed; every type byte is
 * either an unknown type (malformed) or a known one whose body happens to
 * parse, and then the message is canonical. */
static void test_vectors_header(void **state)
{
    static uint8_t buf[VECTOR_MAX_LEN];

    (void)state;
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];

        for (unsigned pos = 0; pos < 3; pos++) {
            for (unsigned b = 0; b < 256; b++) {
                memcpy(buf, v->buf, v->len);
                if (b == v->buf[pos])
                    continue;
                buf[pos] = (uint8_t)b;
                assert_int_equal(check_canonical(buf, v->len), 0);
            }
        }
        for (unsigned t = 0; t < 256; t++) {
            memcpy(buf, v->buf, v->len);
            buf[3] = (uint8_t)t;
            if (check_canonical(buf, v->len))
                assert_true(is_known_type(t));
        }
    }
}

/* Writes a header for type, txid 7, sender 00 01 .. 1f. @return 40. */
static size_t put_header(uint8_t *buf, uint8_t type)
{
    static const uint8_t start[8] = {0x45, 0x4d, 0x01, 0x00, 7, 0, 0, 0};
    dht_id_t sender;

    memcpy(buf, start, 8);
    buf[3] = type;
    id_seq(&sender, 0x00);
    memcpy(buf + 8, sender.b, DHT_ID_LEN);
    return DHT__WIRE_HEADER;
}

/* Limits the decoder enforces even when the bytes are all there. */
static void test_decode_limits(void **state)
{
    static uint8_t buf[8192];
    static dht__msg_t m;
    size_t n;

    (void)state;

    /* NODES with 32 IPv4 records is fine; with 33 it is over the limit. */
    for (unsigned count = 32; count <= 33; count++) {
        n = put_header(buf, DHT__NODES);
        memset(buf + n, 0xaa, 8);
        n += 8;
        buf[n++] = (uint8_t)count;
        for (unsigned j = 0; j < count; j++) {
            buf[n++] = 4;
            memset(buf + n, (int)j, 32 + 4);
            n += 36;
            buf[n++] = (uint8_t)j;
            buf[n++] = 0;
        }
        assert_int_equal(n, 49 + 39 * count);
        assert_int_equal(dht__wire_decode(&m, buf, n), count == 32 ? 0 : DHT_EPROTO);
    }

    /* PROVIDE with port 1 is fine; with port 0 it is malformed. */
    for (unsigned port = 0; port <= 1; port++) {
        n = put_header(buf, DHT__PROVIDE);
        memset(buf + n, 0xaa, 8 + 32);
        n += 8 + 32;
        buf[n++] = (uint8_t)port;
        buf[n++] = 0;
        memset(buf + n, 0, 4); /* ttl 0: a withdrawal */
        n += 4;
        assert_int_equal(n, 86);
        assert_int_equal(dht__wire_decode(&m, buf, n), port == 1 ? 0 : DHT_EPROTO);
    }

    /* STORE_MANY with 32 empty values is fine; with 0 or 33 it is not;
     * and one larger than a datagram is malformed. */
    for (unsigned count = 0; count <= 33; count++) {
        n = put_header(buf, DHT__STORE_MANY);
        memset(buf + n, 0xaa, 8);
        n += 8;
        buf[n++] = (uint8_t)count;
        for (unsigned j = 0; j < count; j++) {
            memset(buf + n, (int)j, 32 + 4);
            n += 36;
            memset(buf + n, 0, 3); /* flags 0, len 0 */
            n += 3;
        }
        assert_int_equal(dht__wire_decode(&m, buf, n), count >= 1 && count <= 32 ? 0 : DHT_EPROTO);
    }
    n = put_header(buf, DHT__STORE_MANY);
    n += 8;
    buf[n++] = 1;
    memset(buf + n, 0, 32 + 4 + 1);
    n += 37;
    buf[n++] = (uint8_t)(1400 - 49 - 39 + 1);
    buf[n++] = (uint8_t)((1400 - 49 - 39 + 1) >> 8);
    memset(buf + n, 7, 1400 - 49 - 39 + 1);
    n += 1400 - 49 - 39 + 1;
    assert_int_equal(n, DHT_MAX_DATAGRAM + 1);
    assert_int_equal(dht__wire_decode(&m, buf, n), DHT_EPROTO);
    buf[n - 1400 + 49 + 39 - 1 - 2] = (uint8_t)(1400 - 49 - 39); /* one byte less: fits */
    assert_int_equal(dht__wire_decode(&m, buf, n - 1), 0);

    /* VALUES with 64 empty inline entries is fine; with 65 it is not. */
    for (unsigned count = 64; count <= 65; count++) {
        n = put_header(buf, DHT__VALUES);
        memset(buf + n, 0xaa, 8);
        n += 8;
        memcpy(buf + n, "\x00\x64\x00\x00\x00", 5); /* 0 nodes, total 100, first 0 */
        n += 5;
        buf[n++] = (uint8_t)count;
        for (unsigned j = 0; j < count; j++) {
            memset(buf + n, 0, 10); /* inline, flags 0, ttl 0, len 0 */
            n += 10;
        }
        assert_int_equal(dht__wire_decode(&m, buf, n), count == 64 ? 0 : DHT_EPROTO);
    }

    /* ERROR with a 200-byte message is fine; 201 bytes is over the limit. */
    for (unsigned len = 200; len <= 255; len += 1) {
        n = put_header(buf, DHT__ERROR);
        buf[n++] = 1;
        buf[n++] = 0;
        buf[n++] = (uint8_t)len;
        memset(buf + n, 'x', len);
        n += len;
        assert_int_equal(dht__wire_decode(&m, buf, n), len == 200 ? 0 : DHT_EPROTO);
    }

    /* A node record or an address record of another family is malformed. */
    for (unsigned fam = 0; fam < 256; fam++) {
        n = put_header(buf, DHT__PONG);
        buf[n++] = (uint8_t)fam;
        memset(buf + n, 1, 18);
        for (size_t len = n; len <= n + 18; len++) {
            int rc = dht__wire_decode(&m, buf, len);
            /* 0x80 on the family: a region (here 0x0101) follows, 2 bytes;
             * 0x40: an address record, whose family byte (1) is none. */
            size_t region = (fam & 0x80) ? 2 : 0;
            int ok = !(fam & 0x40) && (((fam & 0x3f) == 4 && len == n + 6 + region) ||
                                       ((fam & 0x3f) == 6 && len == n + 18 + region));
            assert_int_equal(rc, ok ? 0 : DHT_EPROTO);
        }
        n = put_header(buf, DHT__NODES);
        memset(buf + n, 0, 8);
        n += 8;
        buf[n++] = 1;
        buf[n++] = (uint8_t)fam;
        memset(buf + n, 1, 50);
        for (size_t len = n; len <= n + 50; len++) {
            int rc = dht__wire_decode(&m, buf, len);
            int ok = (fam == 4 && len == n + 38) || (fam == 6 && len == n + 50);
            assert_int_equal(rc, ok ? 0 : DHT_EPROTO);
        }
    }

    /* A value entry of a kind other than 0 or 1 is malformed. */
    for (unsigned kind = 0; kind < 256; kind++) {
        n = put_header(buf, DHT__VALUES);
        memset(buf + n, 0, 8 + 1 + 4);
        n += 13;
        buf[n++] = 1;
        buf[n++] = (uint8_t)kind;
        memset(buf + n, 0, 9 + 32); /* flags, ttl, len 0, then 32 bytes */
        size_t inline_len = n + 9, summary_len = n + 9 + 32;
        for (size_t len = n; len <= summary_len; len++) {
            int rc = dht__wire_decode(&m, buf, len);
            int ok = (kind == 0 && len == inline_len) || (kind == 1 && len == summary_len);
            assert_int_equal(rc, ok ? 0 : DHT_EPROTO);
        }
    }

    /* FIND_VALUE: a first with bit 15 set carries a max age, which must
     * not be 0 (no filter is said without the field); without the bit,
     * 4 more bytes are trailing bytes. */
    for (unsigned aged = 0; aged < 2; aged++)
        for (uint32_t age = 0; age < 2; age++) {
            n = put_header(buf, DHT__FIND_VALUE);
            memset(buf + n, 0x33, 32);
            n += 32;
            buf[n++] = 5;
            buf[n++] = aged ? 0x80 : 0;
            assert_int_equal(dht__wire_decode(&m, buf, n), aged ? DHT_EPROTO : 0);
            memcpy(buf + n, &age, 4);
            n += 4;
            assert_int_equal(dht__wire_decode(&m, buf, n), aged && age ? 0 : DHT_EPROTO);
            if (aged && age) {
                assert_int_equal(m.first, 5);
                assert_int_equal(m.max_age, 1);
            }
        }

    /* STORE with the aged flag: an age follows the value, and is not 0. */
    for (uint32_t age = 0; age < 2; age++) {
        n = put_header(buf, DHT__STORE);
        memset(buf + n, 0x44, 8 + 32 + 4);
        n += 8 + 32 + 4;
        buf[n++] = DHT__WIRE_STORE_AGED;
        memset(buf + n, 0, 4); /* len 0 */
        n += 4;
        assert_int_equal(dht__wire_decode(&m, buf, n), DHT_EPROTO); /* no age */
        memcpy(buf + n, &age, 4);
        n += 4;
        assert_int_equal(dht__wire_decode(&m, buf, n), age ? 0 : DHT_EPROTO);
    }

    /* ROUTE: hops up to 8 and a message up to DHT_ROUTE_MAX bytes; one
     * more of either is over the limit. ROUTED: outcomes 0..2 only. */
    for (unsigned hops = 7; hops <= 9; hops++)
        for (unsigned len = DHT_ROUTE_MAX - 1; len <= DHT_ROUTE_MAX + 1; len++) {
            n = put_header(buf, DHT__ROUTE);
            memset(buf + n, 0x11, 64);
            n += 64;
            buf[n++] = (uint8_t)hops;
            buf[n++] = (uint8_t)len;
            buf[n++] = (uint8_t)(len >> 8);
            memset(buf + n, 'r', len);
            n += len;
            assert_int_equal(dht__wire_decode(&m, buf, n),
                             hops <= DHT__WIRE_MAX_HOPS && len <= DHT_ROUTE_MAX ? 0 : DHT_EPROTO);
        }
    for (unsigned outcome = 0; outcome < 256; outcome++) {
        n = put_header(buf, DHT__ROUTED);
        buf[n++] = (uint8_t)outcome;
        memset(buf + n, 0x22, 32);
        n += 32;
        assert_int_equal(dht__wire_decode(&m, buf, n),
                         outcome <= DHT__ROUTE_REFUSED ? 0 : DHT_EPROTO);
    }
    /* PONG: a region of 0 is said without the field; the bits say what
     * follows, so nothing may be left out or added. */
    n = put_header(buf, DHT__PONG);
    memcpy(buf + n, "\x84\xc0\x00\x02\x07\xe1\x1a\x00\x00", 9);
    assert_int_equal(dht__wire_decode(&m, buf, n + 9), DHT_EPROTO);
    buf[n + 7] = 9; /* region 9 */
    assert_int_equal(dht__wire_decode(&m, buf, n + 9), 0);
    assert_int_equal(m.region, 9);
    assert_int_equal(m.has_advert, 0);
    assert_int_equal(m.addr.family, DHT_AF_INET);
    buf[n] = 0x44; /* a global address, no region */
    memcpy(buf + n + 7, "\x04\xcb\x00\x71\x07\xa0\x0f", 7);
    assert_int_equal(dht__wire_decode(&m, buf, n + 14), 0);
    assert_int_equal(m.has_region, 0);
    assert_int_equal(m.has_advert, 1);
    assert_int_equal(dht__wire_decode(&m, buf, n + 13), DHT_EPROTO);

    /* DELETED: outcomes 0..2 only. */
    for (unsigned outcome = 0; outcome < 256; outcome++) {
        n = put_header(buf, DHT__DELETED);
        buf[n++] = (uint8_t)outcome;
        assert_int_equal(dht__wire_decode(&m, buf, n),
                         outcome <= DHT__DELETE_REFUSED ? 0 : DHT_EPROTO);
    }

    /* A value length past the end of the buffer is truncated, never read. */
    n = put_header(buf, DHT__VALUE);
    buf[n++] = 0;
    memset(buf + n, 0, 4);
    n += 4;
    memset(buf + n, 0xff, 4);
    n += 4;
    assert_int_equal(dht__wire_decode(&m, buf, n), DHT_EPROTO);
}

/* ------------------------------------------------------------------------ */
/* Random messages                                                          */
/* ------------------------------------------------------------------------ */

/* Bytes that inline values, values and error texts point into. */
static uint8_t pool[70000];

static void random_node(uint64_t *s, dht_node_info_t *n)
{
    memset(n, 0, sizeof(*n));
    rnd_bytes(s, n->id.b, DHT_ID_LEN);
    n->addr.family = rnd_below(s, 2) ? DHT_AF_INET6 : DHT_AF_INET;
    rnd_bytes(s, n->addr.ip, n->addr.family == DHT_AF_INET ? 4 : 16);
    n->addr.port = (uint16_t)rnd_next(s);
}

/* A length that is usually small, sometimes large. */
static uint32_t random_len(uint64_t *s, uint32_t max)
{
    switch (rnd_below(s, 4)) {
    case 0:
        return 0;
    case 1:
        return rnd_below(s, 16);
    case 2:
        return rnd_below(s, 300 < max ? 300 : max);
    default:
        return rnd_below(s, max + 1);
    }
}

/* Fills *m with a valid message of the given type with random fields. */
static void random_msg(uint64_t *s, dht__msg_t *m, uint8_t type)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->txid = (uint32_t)rnd_next(s);
    rnd_bytes(s, m->sender.b, DHT_ID_LEN);
    switch (type) {
    case DHT__FIND_NODE:
        rnd_bytes(s, m->target.b, DHT_ID_LEN);
        break;
    case DHT__PROVIDE:
        rnd_bytes(s, m->token, sizeof(m->token));
        rnd_bytes(s, m->target.b, DHT_ID_LEN);
        m->port = (uint16_t)(1 + rnd_below(s, 65535));
        m->ttl = (uint32_t)rnd_next(s);
        break;
    case DHT__FIND_VALUE:
    case DHT__FIND_PROVIDERS:
        rnd_bytes(s, m->target.b, DHT_ID_LEN);
        m->first = (uint16_t)(rnd_next(s) & 0x7fff);
        m->max_age = rnd_below(s, 2) ? (uint32_t)(1 + rnd_below(s, 1000000)) : 0;
        break;
    case DHT__GET_VALUE:
        rnd_bytes(s, m->target.b, DHT_ID_LEN);
        rnd_bytes(s, m->hash.b, DHT_ID_LEN);
        break;
    case DHT__HAVE:
        m->n_have = (uint8_t)(1 + rnd_below(s, DHT__WIRE_MAX_HAVE));
        for (unsigned i = 0; i < m->n_have; i++) {
            rnd_bytes(s, m->have_key[i].b, DHT_ID_LEN);
            rnd_bytes(s, m->have_hash[i].b, DHT_ID_LEN);
        }
        break;
    case DHT__HELD:
        rnd_bytes(s, m->token, sizeof(m->token));
        m->n_have = (uint8_t)rnd_below(s, DHT__WIRE_MAX_HAVE + 1);
        m->held_bits = (uint32_t)rnd_next(s) & ((1u << m->n_have) - 1u);
        break;
    case DHT__PONG:
        m->addr.family = rnd_below(s, 2) ? DHT_AF_INET6 : DHT_AF_INET;
        rnd_bytes(s, m->addr.ip, m->addr.family == DHT_AF_INET ? 4 : 16);
        m->addr.port = (uint16_t)rnd_next(s);
        m->has_region = (uint8_t)rnd_below(s, 2);
        m->region = (uint16_t)(1 + rnd_below(s, 65535));
        m->has_advert = (uint8_t)rnd_below(s, 2);
        m->advert.family = rnd_below(s, 2) ? DHT_AF_INET6 : DHT_AF_INET;
        rnd_bytes(s, m->advert.ip, 16);
        if (m->advert.family == DHT_AF_INET)
            memset(m->advert.ip + 4, 0, 12);
        m->advert.port = (uint16_t)rnd_next(s);
        break;
    case DHT__STORE:
    case DHT__VALUE:
        if (type == DHT__STORE) { /* the rest of STORE is a VALUE's body */
            rnd_bytes(s, m->token, sizeof(m->token));
            rnd_bytes(s, m->target.b, DHT_ID_LEN);
        }
        m->ttl = (uint32_t)rnd_next(s);
        m->flags = (uint8_t)rnd_next(s);
        if (type == DHT__STORE && (m->flags & DHT__WIRE_STORE_AGED))
            m->age = (uint32_t)(1 + rnd_below(s, 1u << 30));
        m->value_len = random_len(s, sizeof(pool));
        m->value = pool + rnd_below(s, (uint32_t)(sizeof(pool) - m->value_len + 1));
        m->has_owner = type == DHT__STORE && rnd_below(s, 2);
        if (m->has_owner)
            rnd_bytes(s, m->owner.b, DHT_ID_LEN);
        break;
    case DHT__DELETE:
        rnd_bytes(s, m->target.b, DHT_ID_LEN);
        rnd_bytes(s, m->hash.b, DHT_ID_LEN);
        rnd_bytes(s, m->secret.b, DHT_ID_LEN);
        break;
    case DHT__DELETED:
        m->outcome = (uint8_t)rnd_below(s, DHT__DELETE_REFUSED + 1);
        break;
    case DHT__NODES:
    case DHT__VALUES:
    case DHT__PROVIDERS:
        rnd_bytes(s, m->token, sizeof(m->token));
        m->n_nodes = (uint8_t)rnd_below(s, DHT__WIRE_MAX_NODES + 1);
        for (unsigned i = 0; i < m->n_nodes; i++)
            random_node(s, &m->nodes[i]);
        if (type == DHT__NODES)
            break;
        m->total = (uint16_t)rnd_next(s);
        m->first = (uint16_t)rnd_next(s);
        m->n_entries = (uint8_t)rnd_below(s, DHT__WIRE_MAX_ENTRIES + 1);
        for (unsigned i = 0; i < m->n_entries; i++) {
            dht__wire_entry_t *e = &m->entries[i];
            e->is_summary = (uint8_t)rnd_below(s, 2);
            e->flags = (uint8_t)rnd_next(s);
            e->ttl = (uint32_t)rnd_next(s);
            if (e->is_summary) {
                e->len = (uint32_t)rnd_next(s);
                rnd_bytes(s, e->hash.b, DHT_ID_LEN);
            } else {
                e->len = random_len(s, 600);
                e->data = pool + rnd_below(s, (uint32_t)(sizeof(pool) - e->len + 1));
            }
        }
        break;
    case DHT__ROUTE:
        rnd_bytes(s, m->target.b, DHT_ID_LEN);
        rnd_bytes(s, m->origin.b, DHT_ID_LEN);
        m->hops = (uint8_t)rnd_below(s, DHT__WIRE_MAX_HOPS + 1);
        m->value_len = (uint32_t)rnd_below(s, DHT_ROUTE_MAX + 1);
        m->value = pool + rnd_below(s, (uint32_t)(sizeof(pool) - m->value_len + 1));
        break;
    case DHT__ROUTED:
        m->outcome = (uint8_t)rnd_below(s, DHT__ROUTE_REFUSED + 1);
        rnd_bytes(s, m->peer.b, DHT_ID_LEN);
        break;
    case DHT__STORE_MANY: {
        /* As many values as fit a datagram, with room left for padding. */
        size_t room = DHT_MAX_DATAGRAM - DHT__WIRE_HEADER - DHT__WIRE_TOKEN_LEN - 1 - 400;
        unsigned want = 1 + rnd_below(s, DHT__WIRE_MAX_BATCH);
        rnd_bytes(s, m->token, sizeof(m->token));
        m->n_batch = 0;
        while (m->n_batch < want) {
            dht__wire_batch_t *b = &m->batch[m->n_batch];
            rnd_bytes(s, b->key.b, DHT_ID_LEN);
            b->ttl = (uint32_t)rnd_next(s);
            b->flags = (uint8_t)rnd_next(s);
            b->age = (b->flags & DHT__WIRE_STORE_AGED) ? (uint32_t)(1 + rnd_below(s, 1u << 30)) : 0;
            b->len = rnd_below(s, 120);
            b->value = pool + rnd_below(s, (uint32_t)(sizeof(pool) - b->len + 1));
            b->has_owner = (uint8_t)rnd_below(s, 2);
            rnd_bytes(s, b->owner.b, DHT_ID_LEN);
            if (dht__wire_batch_size(b) > room)
                break;
            room -= dht__wire_batch_size(b);
            m->n_batch++;
        }
        if (m->n_batch == 0) { /* one empty value always fits */
            m->batch[0].flags = 0;
            m->batch[0].len = 0;
            m->batch[0].age = 0;
            m->batch[0].has_owner = 0;
            m->n_batch = 1;
        }
        break;
    }
    case DHT__STORED_MANY:
        m->n_batch = (uint8_t)(1 + rnd_below(s, DHT__WIRE_MAX_BATCH));
        for (unsigned i = 0; i < m->n_batch; i++)
            m->batch_codes[i] = (uint8_t)rnd_next(s);
        break;
    case DHT__ERROR:
        m->err_code = (uint16_t)rnd_next(s);
        m->err_len = (uint8_t)rnd_below(s, DHT__WIRE_MAX_ERRMSG + 1);
        m->err_msg = pool + rnd_below(s, 1000);
        break;
    default: /* PING, STORED: header only */
        break;
    }
}

static void assert_nodes_equal(const dht__msg_t *a, const dht__msg_t *b)
{
    assert_int_equal(a->n_nodes, b->n_nodes);
    for (unsigned i = 0; i < a->n_nodes; i++) {
        assert_memory_equal(a->nodes[i].id.b, b->nodes[i].id.b, DHT_ID_LEN);
        assert_true(dht_addr_equal(&a->nodes[i].addr, &b->nodes[i].addr));
    }
}

/* Random valid messages of every type: encode, decode, encode again gives
 * the same bytes, and the decoded fields are the ones encoded. */
static void test_random_roundtrip(void **state)
{
    static dht__msg_t m, d;
    static uint8_t buf[1 << 17], again[1 << 17];
    uint64_t s = 0x5eed0001;

    (void)state;
    rnd_bytes(&s, pool, sizeof(pool));
    for (unsigned i = 0; i < RANDOM_MSGS; i++) {
        uint8_t type = known_types[i % N_TYPES];
        size_t size, len;

        random_msg(&s, &m, type);
        m.client = (uint8_t)(!DHT__IS_REPLY(type) && (i / N_TYPES) % 2); /* half the requests */
        if (!DHT__IS_REPLY(type)) { /* a quarter with a proof, a quarter padded */
            m.has_proof = (uint8_t)((i / N_TYPES / 2) % 2);
            rnd_bytes(&s, m.proof, sizeof(m.proof));
            m.pad = (i / N_TYPES / 4) % 2 ? (uint16_t)(1 + rnd_below(&s, 1400)) : 0;
            if (type == DHT__STORE_MANY && m.pad > 0) /* a batch is one datagram */
                m.pad = (uint16_t)(1 + rnd_below(&s, 400 - DHT__WIRE_TOKEN_LEN));
        }
        size = dht__wire_size(&m);
        len = dht__wire_encode(&m, buf, sizeof(buf));
        assert_int_equal(len, size);
        assert_int_equal(dht__wire_encode(&m, buf, len - 1), 0);
        assert_int_equal(dht__wire_encode(&m, buf, len), len);
        assert_int_equal(dht__wire_decode(&d, buf, len), 0);
        assert_int_equal(dht__wire_size(&d), len);
        assert_int_equal(dht__wire_encode(&d, again, sizeof(again)), len);
        assert_memory_equal(again, buf, len);

        assert_int_equal(d.type, m.type);
        assert_int_equal(d.client, m.client);
        assert_int_equal(d.has_proof, m.has_proof);
        if (m.has_proof)
            assert_memory_equal(d.proof, m.proof, sizeof(m.proof));
        assert_int_equal(d.pad, m.pad);
        assert_int_equal(d.txid, m.txid);
        assert_memory_equal(d.sender.b, m.sender.b, DHT_ID_LEN);
        switch (type) {
        case DHT__PONG:
            assert_true(dht_addr_equal(&d.addr, &m.addr));
            assert_int_equal(d.has_region, m.has_region);
            assert_int_equal(d.has_advert, m.has_advert);
            if (m.has_region)
                assert_int_equal(d.region, m.region);
            if (m.has_advert)
                assert_true(dht_addr_equal(&d.advert, &m.advert));
            break;
        case DHT__PROVIDE:
            assert_memory_equal(d.token, m.token, sizeof(m.token));
            assert_int_equal(d.port, m.port);
            assert_int_equal(d.ttl, m.ttl);
            break;
        case DHT__FIND_VALUE:
        case DHT__FIND_PROVIDERS:
            assert_int_equal(d.first, m.first);
            assert_int_equal(d.max_age, m.max_age);
            break;
        case DHT__STORE:
        case DHT__VALUE:
            assert_int_equal(d.ttl, m.ttl);
            assert_int_equal(d.flags, m.flags);
            if (type == DHT__STORE)
                assert_int_equal(d.age, m.age);
            assert_int_equal(d.value_len, m.value_len);
            assert_memory_equal(d.value, m.value, m.value_len);
            assert_int_equal(d.has_owner, type == DHT__STORE && m.has_owner);
            if (d.has_owner)
                assert_memory_equal(d.owner.b, m.owner.b, DHT_ID_LEN);
            break;
        case DHT__DELETE:
            assert_memory_equal(d.target.b, m.target.b, DHT_ID_LEN);
            assert_memory_equal(d.hash.b, m.hash.b, DHT_ID_LEN);
            assert_memory_equal(d.secret.b, m.secret.b, DHT_ID_LEN);
            break;
        case DHT__DELETED:
            assert_int_equal(d.outcome, m.outcome);
            break;
        case DHT__VALUES:
        case DHT__PROVIDERS:
            assert_int_equal(d.total, m.total);
            assert_int_equal(d.first, m.first);
            assert_int_equal(d.n_entries, m.n_entries);
            for (unsigned j = 0; j < m.n_entries; j++) {
                assert_int_equal(d.entries[j].is_summary, m.entries[j].is_summary);
                assert_int_equal(d.entries[j].len, m.entries[j].len);
                assert_int_equal(d.entries[j].ttl, m.entries[j].ttl);
            }
            assert_nodes_equal(&d, &m);
            break;
        case DHT__NODES:
            assert_memory_equal(d.token, m.token, sizeof(m.token));
            assert_nodes_equal(&d, &m);
            break;
        case DHT__ERROR:
            assert_int_equal(d.err_code, m.err_code);
            assert_int_equal(d.err_len, m.err_len);
            assert_memory_equal(d.err_msg, m.err_msg, m.err_len);
            break;
        case DHT__HAVE:
            assert_int_equal(d.n_have, m.n_have);
            assert_memory_equal(d.have_key, m.have_key, m.n_have * sizeof(m.have_key[0]));
            assert_memory_equal(d.have_hash, m.have_hash, m.n_have * sizeof(m.have_hash[0]));
            break;
        case DHT__HELD:
            assert_memory_equal(d.token, m.token, sizeof(m.token));
            assert_int_equal(d.n_have, m.n_have);
            assert_int_equal(d.held_bits, m.held_bits);
            break;
        case DHT__ROUTE:
            assert_memory_equal(d.target.b, m.target.b, DHT_ID_LEN);
            assert_memory_equal(d.origin.b, m.origin.b, DHT_ID_LEN);
            assert_int_equal(d.hops, m.hops);
            assert_int_equal(d.value_len, m.value_len);
            assert_memory_equal(d.value, m.value, m.value_len);
            break;
        case DHT__ROUTED:
            assert_int_equal(d.outcome, m.outcome);
            assert_memory_equal(d.peer.b, m.peer.b, DHT_ID_LEN);
            break;
        case DHT__STORE_MANY:
            assert_memory_equal(d.token, m.token, sizeof(m.token));
            assert_int_equal(d.n_batch, m.n_batch);
            for (unsigned j = 0; j < m.n_batch; j++) {
                assert_memory_equal(d.batch[j].key.b, m.batch[j].key.b, DHT_ID_LEN);
                assert_int_equal(d.batch[j].ttl, m.batch[j].ttl);
                assert_int_equal(d.batch[j].flags, m.batch[j].flags);
                assert_int_equal(d.batch[j].age, m.batch[j].age);
                assert_int_equal(d.batch[j].len, m.batch[j].len);
                assert_memory_equal(d.batch[j].value, m.batch[j].value, m.batch[j].len);
                assert_int_equal(d.batch[j].has_owner, m.batch[j].has_owner);
                if (m.batch[j].has_owner)
                    assert_memory_equal(d.batch[j].owner.b, m.batch[j].owner.b, DHT_ID_LEN);
            }
            break;
        case DHT__STORED_MANY:
            assert_int_equal(d.n_batch, m.n_batch);
            assert_memory_equal(d.batch_codes, m.batch_codes, m.n_batch);
            break;
        default:
            break;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Corruptions                                                              */
/* ------------------------------------------------------------------------ */

typedef struct field {
    size_t off;
    unsigned width; /* 1, 2 or 4 bytes */
} field_t;

#define MAX_FIELDS 256

/* Lists the count, length and family fields of a valid message, the ones a
 * corruption of lengths should aim at. @return how many. */
static size_t length_fields(const dht__msg_t *m, field_t *f)
{
    size_t n = 0, off;

    switch (m->type) {
    case DHT__PONG:
        f[n++] = (field_t){40, 1};
        break;
    case DHT__STORE:
        f[n++] = (field_t){85, 4};
        break;
    case DHT__VALUE:
        f[n++] = (field_t){45, 4};
        break;
    case DHT__ERROR:
        f[n++] = (field_t){42, 1};
        break;
    case DHT__NODES:
    case DHT__VALUES:
        f[n++] = (field_t){48, 1};
        off = 49;
        for (unsigned i = 0; i < m->n_nodes; i++) {
            f[n++] = (field_t){off, 1};
            off += dht__wire_node_size(m->nodes[i].addr.family);
        }
        if (m->type == DHT__NODES)
            break;
        f[n++] = (field_t){off, 2};     /* total */
        f[n++] = (field_t){off + 2, 2}; /* first */
        f[n++] = (field_t){off + 4, 1}; /* n_entries */
        off += 5;
        for (unsigned i = 0; i < m->n_entries && n + 2 <= MAX_FIELDS; i++) {
            f[n++] = (field_t){off, 1};     /* kind */
            f[n++] = (field_t){off + 6, 4}; /* len */
            off += dht__wire_entry_size(&m->entries[i]);
        }
        break;
    default:
        break;
    }
    return n;
}

static void put_le(uint8_t *p, unsigned width, uint32_t v)
{
    for (unsigned i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le(const uint8_t *p, unsigned width)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* A value for a length field: near its old value, at a limit, or random. */
static uint32_t interesting(uint64_t *s, uint32_t old, size_t len)
{
    static const uint32_t special[] = {
        0,    1,    2,     4,           6,           31,          32,         33,  63,
        64,   65,   127,   128,         199,         200,         201,        255, 256,
        1400, 4096, 65535, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};

    switch (rnd_below(s, 4)) {
    case 0:
        return old + rnd_below(s, 17) - 8;
    case 1:
        return special[rnd_below(s, sizeof(special) / sizeof(special[0]))];
    case 2:
        return rnd_below(s, (uint32_t)len + 64);
    default:
        return (uint32_t)rnd_next(s);
    }
}

/* Applies one random mutation to buf[0..*len), which has room for cap bytes.
 * fields lists the length fields of the original message (they may have
 * moved after an earlier mutation, which is fine: it is still a mutation). */
static void mutate(uint64_t *s, uint8_t *buf, size_t *len, size_t cap, const field_t *fields,
                   size_t n_fields)
{
    size_t pos;
    unsigned k;

    unsigned op = rnd_below(s, 7);

    if (op >= 4 && op <= 5 && n_fields == 0)
        op = 6; /* no length field in this message */
    switch (op) {
    case 0: /* flip one bit */
        if (*len > 0) {
            pos = rnd_below(s, (uint32_t)*len);
            buf[pos] ^= (uint8_t)(1u << rnd_below(s, 8));
        }
        break;
    case 1: /* replace one byte */
        if (*len > 0)
            buf[rnd_below(s, (uint32_t)*len)] = (uint8_t)rnd_next(s);
        break;
    case 2: /* insert 1..8 bytes */
        k = 1 + rnd_below(s, 8);
        if (*len + k <= cap) {
            pos = rnd_below(s, (uint32_t)*len + 1);
            memmove(buf + pos + k, buf + pos, *len - pos);
            rnd_bytes(s, buf + pos, k);
            *len += k;
        }
        break;
    case 3: /* delete 1..8 bytes */
        k = 1 + rnd_below(s, 8);
        if (*len >= k) {
            pos = rnd_below(s, (uint32_t)(*len - k + 1));
            memmove(buf + pos, buf + pos + k, *len - pos - k);
            *len -= k;
        }
        break;
    case 4: /* a random value in a length, count or family field */
    case 5: {
        const field_t *f = &fields[rnd_below(s, (uint32_t)n_fields)];
        if (f->off + f->width <= *len)
            put_le(buf + f->off, f->width, interesting(s, get_le(buf + f->off, f->width), *len));
        break;
    }
    default: /* an interesting u8/u16/u32 anywhere */
        k = 1u << rnd_below(s, 3);
        if (*len >= k) {
            pos = rnd_below(s, (uint32_t)(*len - k + 1));
            put_le(buf + pos, k, interesting(s, get_le(buf + pos, k), *len));
        }
        break;
    }
}

/* Random corruptions of the vectors and of random valid messages: each one
 * must be rejected cleanly or decode to a message that re-encodes to exactly
 * the corrupted bytes. */
static void test_corruptions(void **state)
{
    static dht__msg_t m;
    static uint8_t base[4096], buf[4096 + 64];
    field_t fields[MAX_FIELDS];
    uint64_t s = 0xc0ffee;
    size_t total = 0, accepted = 0;
    clock_t t0 = clock();

    (void)state;
    assert_true(n_vectors >= MIN_VECTORS);
    rnd_bytes(&s, pool, sizeof(pool));
    while (total < CORRUPTIONS) {
        size_t base_len, n_fields, len;

        /* Half the time a vector, else a random message that fits 4096. */
        if (rnd_below(&s, 2) == 0) {
            const vector_t *v = &vectors[rnd_below(&s, (uint32_t)n_vectors)];
            base_len = v->len;
            memcpy(base, v->buf, v->len);
        } else {
            do {
                random_msg(&s, &m, known_types[rnd_below(&s, N_TYPES)]);
                base_len = dht__wire_encode(&m, base, sizeof(base));
            } while (base_len == 0);
        }
        assert_int_equal(dht__wire_decode(&m, base, base_len), 0);
        n_fields = length_fields(&m, fields);
        /* 100 corruptions of each base, each of 1 to 4 mutations. */
        for (unsigned i = 0; i < 100; i++) {
            unsigned n_mut = 1 + (rnd_below(&s, 4) == 0 ? rnd_below(&s, 3) + 1 : 0);
            memcpy(buf, base, base_len);
            len = base_len;
            for (unsigned j = 0; j < n_mut; j++)
                mutate(&s, buf, &len, sizeof(buf), fields, n_fields);
            accepted += (size_t)check_canonical(buf, len);
            total++;
        }
    }
    print_message("%zu corruptions, %zu decoded (and were canonical), %.2f s\n", total, accepted,
                  (double)(clock() - t0) / CLOCKS_PER_SEC);
}

/* ------------------------------------------------------------------------ */
/* Encoder limits                                                           */
/* ------------------------------------------------------------------------ */

static void test_encoder_limits(void **state)
{
    static dht__msg_t m;
    static uint8_t buf[1 << 16];
    static uint8_t text[256];
    uint64_t s = 42;

    (void)state;
    memset(text, 'e', sizeof(text));

    /* n_nodes over 32, in NODES and VALUES; 32 is fine. */
    for (unsigned t = 0; t < 2; t++) {
        random_msg(&s, &m, t == 0 ? DHT__NODES : DHT__VALUES);
        for (unsigned i = 0; i <= DHT__WIRE_MAX_NODES; i++)
            random_node(&s, &m.nodes[i]);
        m.n_nodes = DHT__WIRE_MAX_NODES;
        assert_int_not_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
        m.n_nodes = DHT__WIRE_MAX_NODES + 1;
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
        m.n_nodes = 255;
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    }

    /* n_entries over 64; 64 is fine. */
    random_msg(&s, &m, DHT__VALUES);
    m.n_nodes = 0;
    for (unsigned i = 0; i < DHT__WIRE_MAX_ENTRIES; i++) {
        memset(&m.entries[i], 0, sizeof(m.entries[i]));
        m.entries[i].is_summary = 1;
    }
    m.n_entries = DHT__WIRE_MAX_ENTRIES;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 54 + 64 * 42);
    for (unsigned n = DHT__WIRE_MAX_ENTRIES + 1; n < 256; n++) {
        m.n_entries = (uint8_t)n;
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    }

    /* err_len over 200; 200 is fine. */
    random_msg(&s, &m, DHT__ERROR);
    m.err_msg = text;
    m.err_len = DHT__WIRE_MAX_ERRMSG;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 43 + 200);
    for (unsigned n = DHT__WIRE_MAX_ERRMSG + 1; n < 256; n++) {
        m.err_len = (uint8_t)n;
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    }

    /* An unknown family in a node record (NODES, VALUES) or in PONG. */
    for (unsigned fam = 0; fam < 256; fam++) {
        int ok = fam == DHT_AF_INET || fam == DHT_AF_INET6;

        random_msg(&s, &m, DHT__NODES);
        m.n_nodes = 3;
        for (unsigned i = 0; i < 3; i++)
            random_node(&s, &m.nodes[i]);
        m.nodes[2].addr.family = (uint8_t)fam;
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)) != 0, ok);
        random_msg(&s, &m, DHT__VALUES);
        m.n_nodes = 1;
        m.nodes[0].addr.family = (uint8_t)fam;
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)) != 0, ok);
        random_msg(&s, &m, DHT__PONG);
        m.addr.family = (uint8_t)fam;
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)) != 0, ok);
    }

    /* A PROVIDE names a port, 1 or more. */
    random_msg(&s, &m, DHT__PROVIDE);
    m.port = 0;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);

    /* A STORE_MANY holds 1..32 values, and fits one datagram. */
    random_msg(&s, &m, DHT__STORE_MANY);
    m.pad = 0;
    m.n_batch = 0;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    m.n_batch = DHT__WIRE_MAX_BATCH + 1;
    for (unsigned i = 0; i < DHT__WIRE_MAX_BATCH; i++)
        m.batch[i] = (dht__wire_batch_t){.len = 0};
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    m.n_batch = DHT__WIRE_MAX_BATCH;
    assert_true(dht__wire_encode(&m, buf, sizeof(buf)) > 0);
    m.n_batch = 2;
    m.batch[0].len = 600;
    m.batch[0].value = pool;
    m.batch[1].len = 700;
    m.batch[1].value = pool;
    assert_int_equal(dht__wire_size(&m), 49 + 39 + 600 + 39 + 700); /* 1427: over */
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    m.batch[1].len = 1400 - 49 - 39 - 600 - 39; /* exactly a datagram */
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), DHT_MAX_DATAGRAM);
    m.pad = 1; /* one byte more */
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    m.pad = 0;
    m.batch[0].len = 0x10000; /* a u16 length */
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    random_msg(&s, &m, DHT__STORED_MANY);
    m.n_batch = 0;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);

    /* An unknown type. */
    for (unsigned t = 0; t < 256; t++) {
        random_msg(&s, &m, DHT__PING);
        m.addr.family = DHT_AF_INET; /* so that a PONG is valid */
        m.n_have = 1;                /* and a HAVE */
        m.n_batch = 1;               /* and a STORE_MANY or STORED_MANY */
        m.port = 1;                  /* and a PROVIDE */
        m.batch[0].len = 0;
        m.batch[0].flags = 0;
        m.type = (uint8_t)t;
        /* dht__msg_t.type never holds the client bit: m.client does. */
        /* dht__msg_t.type never holds a request bit: m.client, m.has_proof
         * and m.pad do. */
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)) != 0,
                         is_known_type(t) && !(t & DHT__WIRE_REQUEST_BITS && !DHT__IS_REPLY(t)));
        m.client = 1;
        if (dht__wire_encode(&m, buf, sizeof(buf)) != 0) {
            assert_true(is_known_type(t) && !DHT__IS_REPLY(t) && !(t & DHT__WIRE_REQUEST_BITS));
            assert_int_equal(buf[3], t | DHT__WIRE_CLIENT);
        }
        m.client = 0;
        m.has_proof = 1;
        if (dht__wire_encode(&m, buf, sizeof(buf)) != 0)
            assert_int_equal(buf[3], t | DHT__WIRE_PROOF);
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)) != 0,
                         is_known_type(t) && !DHT__IS_REPLY(t) && !(t & DHT__WIRE_REQUEST_BITS));
        m.has_proof = 0;
        m.pad = 3;
        if (dht__wire_encode(&m, buf, sizeof(buf)) != 0)
            assert_int_equal(buf[3], t | DHT__WIRE_PADDED);
        assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)) != 0,
                         is_known_type(t) && !DHT__IS_REPLY(t) && !(t & DHT__WIRE_REQUEST_BITS));
        m.pad = 0;
    }

    /* ROUTE over its limits (hops, message length), ROUTED with an
     * unknown outcome: not encoded. */
    random_msg(&s, &m, DHT__ROUTE);
    m.hops = DHT__WIRE_MAX_HOPS;
    m.value_len = DHT_ROUTE_MAX;
    assert_int_not_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    m.hops = DHT__WIRE_MAX_HOPS + 1;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    m.hops = 0;
    m.value_len = DHT_ROUTE_MAX + 1;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    random_msg(&s, &m, DHT__ROUTED);
    m.outcome = DHT__ROUTE_REFUSED + 1;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    random_msg(&s, &m, DHT__DELETED);
    m.outcome = DHT__DELETE_REFUSED + 1;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);

    /* A length that would reach the owner bit (wire.md 5.10): not encoded. */
    random_msg(&s, &m, DHT__STORE_MANY);
    m.n_batch = 1;
    m.batch[0].len = DHT__WIRE_BATCH_OWNED;
    m.batch[0].value = NULL;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);
    random_msg(&s, &m, DHT__STORE);
    m.value_len = DHT__WIRE_STORE_OWNED;
    m.value = NULL;
    assert_int_equal(dht__wire_encode(&m, buf, sizeof(buf)), 0);

    /* A buffer too small, by any amount, for every vector; exact is fine. */
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];

        assert_int_equal(dht__wire_decode(&m, v->buf, v->len), 0);
        for (size_t cap = 0; cap < v->len; cap++) {
            memset(buf, 0xee, sizeof(buf));
            assert_int_equal(dht__wire_encode(&m, buf, cap), 0);
            assert_int_equal(buf[cap], 0xee); /* nothing written past cap */
        }
        assert_int_equal(dht__wire_encode(&m, buf, v->len), v->len);
    }
}

/* ------------------------------------------------------------------------ */
/* Stream preamble                                                          */
/* ------------------------------------------------------------------------ */

/* A request whose proof the receiver no longer accepts goes again padded
 * instead: the same request, the proof's 8 bytes out, the padding in. */
static void test_proof_to_padding(void **state)
{
    dht__msg_t m, d;
    uint8_t buf[DHT_MAX_DATAGRAM];
    size_t len, out;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.type = DHT__FIND_NODE;
    m.client = 1;
    m.txid = 0x01020304u;
    m.has_proof = 1;
    memcpy(m.proof, "tokenABC", 8);
    memset(m.sender.b, 0x11, DHT_ID_LEN);
    memset(m.target.b, 0x22, DHT_ID_LEN);
    len = dht__wire_encode(&m, buf, sizeof(buf));
    assert_int_equal(len, DHT__WIRE_HEADER + 8 + DHT_ID_LEN);

    assert_int_equal(dht__wire_proof_to_padding(buf, len, 300, len - 8 + 299), 0); /* no room */
    assert_int_equal(dht__wire_proof_to_padding(buf, len, 0, sizeof(buf)), 0);     /* no pad */
    out = dht__wire_proof_to_padding(buf, len, 300, sizeof(buf));
    assert_int_equal(out, DHT__WIRE_HEADER + DHT_ID_LEN + 300);
    assert_int_equal(dht__wire_decode(&d, buf, out), 0);
    assert_int_equal(d.type, DHT__FIND_NODE);
    assert_int_equal(d.client, 1);
    assert_int_equal(d.txid, m.txid);
    assert_int_equal(d.has_proof, 0);
    assert_int_equal(d.pad, 300);
    assert_memory_equal(d.sender.b, m.sender.b, DHT_ID_LEN);
    assert_memory_equal(d.target.b, m.target.b, DHT_ID_LEN);
    /* Once padded, or a reply: not such a request. */
    assert_int_equal(dht__wire_proof_to_padding(buf, out, 10, sizeof(buf)), 0);
    m.type = DHT__ERROR;
    m.err_code = DHT__WERR_UNPROVEN;
    m.client = 0;
    m.has_proof = 0;
    len = dht__wire_encode(&m, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(dht__wire_proof_to_padding(buf, len, 10, sizeof(buf)), 0);
}

static void test_stream_preamble(void **state)
{
    uint8_t buf[DHT_STREAM_PREAMBLE], bad[DHT_STREAM_PREAMBLE];
    uint16_t port;

    (void)state;
    assert_int_equal(DHT_STREAM_PREAMBLE, 8);
    /* The layout of schema/wire.md section 6, for one port by hand. */
    {
        static const uint8_t want[8] = {0x45, 0x4d, 0x53, 0x01, 0xe1, 0x1a, 0x00, 0x00};
        dht_stream_preamble(buf, 6881);
        assert_memory_equal(buf, want, 8);
    }
    for (uint32_t p = 0; p <= 0xffff; p++) {
        dht_stream_preamble(buf, (uint16_t)p);
        assert_int_equal(buf[4], p & 0xff);
        assert_int_equal(buf[5], p >> 8);
        port = 0;
        assert_int_equal(dht_stream_preamble_parse(buf, &port), 0);
        assert_int_equal(port, p);
    }
    /* Any other byte at offsets 0-3 and 6-7 is a bad preamble; 4-5 are the
     * port and take any value. */
    dht_stream_preamble(buf, 4000);
    for (unsigned pos = 0; pos < DHT_STREAM_PREAMBLE; pos++) {
        for (unsigned b = 0; b < 256; b++) {
            memcpy(bad, buf, sizeof(bad));
            bad[pos] = (uint8_t)b;
            port = 1234;
            int rc = dht_stream_preamble_parse(bad, &port);
            if (pos == 4 || pos == 5 || b == buf[pos]) {
                assert_int_equal(rc, 0);
            } else {
                assert_int_equal(rc, DHT_EPROTO);
                assert_int_equal(port, 1234); /* left alone */
            }
        }
    }
    /* A datagram header is not a preamble. */
    assert_true(n_vectors >= MIN_VECTORS);
    assert_int_equal(dht_stream_preamble_parse(vectors[0].buf, &port), DHT_EPROTO);
}

/* Frames as dht.h gives them to shells: a 4-byte little-endian length, 0
 * and anything above max_value_size + 128 refused; a shell's report of a
 * broken stream counts as malformed. */
static void test_stream_frames(void **state)
{
    fake_net_t *net = fake_net_new(0);
    dht_config_t cfg;
    dht_t *d;
    dht_stats_t st;
    uint8_t hdr[DHT_STREAM_FRAME_HDR];
    size_t len = 0;
    int i;

    (void)state;
    assert_non_null(net);
    fake_config(&cfg, 1, NULL);
    cfg.max_value_size = 1000;
    i = fake_add(net, "127.0.0.1:4001", &cfg);
    assert_true(i >= 0);
    d = fake_dht(net, i);
    dht_stream_frame_header(hdr, 0x01020304u);
    assert_int_equal(hdr[0], 0x04);
    assert_int_equal(hdr[3], 0x01);
    assert_int_equal(dht_stream_frame_len(d, hdr, &len), DHT_EPROTO); /* too long */
    dht_stream_frame_header(hdr, 0);
    assert_int_equal(dht_stream_frame_len(d, hdr, &len), DHT_EPROTO);
    dht_stream_frame_header(hdr, 1128);
    assert_int_equal(dht_stream_frame_len(d, hdr, &len), 0);
    assert_int_equal(len, 1128);
    dht_stream_frame_header(hdr, 1129);
    assert_int_equal(dht_stream_frame_len(d, hdr, &len), DHT_EPROTO);
    dht_stream_dropped(d);
    st = fake_stats(net, i);
    assert_int_equal(st.dropped_malformed, 1);
    fake_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_roundtrip),
        cmocka_unit_test(test_vectors_truncated_and_extended),
        cmocka_unit_test(test_vectors_header),
        cmocka_unit_test(test_decode_limits),
        cmocka_unit_test(test_encoder_limits),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_proof_to_padding),
        cmocka_unit_test(test_stream_preamble),
        cmocka_unit_test(test_stream_frames),
    };

    alarm(120);
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
