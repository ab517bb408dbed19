/* The wire codec of schema/wire.md: explicit bounds, little-endian fields. */
#include "wire.h"

#include <string.h>

/* A bounded reader: every get fails (and sets bad) rather than read past end. */
typedef struct reader {
    const uint8_t *p;
    const uint8_t *end;
    int bad;
} reader_t;

static const uint8_t *take(reader_t *r, size_t n)
{
    const uint8_t *p = r->p;

    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    r->p += n;
    return p;
}

static uint8_t get_u8(reader_t *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

static uint16_t get_u16(reader_t *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static uint32_t get_u32(reader_t *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
             : 0;
}

static void get_bytes(reader_t *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p)
        memcpy(out, p, n);
}

/* A bounded writer: overflow sets bad and writes nothing more. */
typedef struct writer {
    uint8_t *p;
    uint8_t *end;
    int bad;
} writer_t;

static uint8_t *room(writer_t *w, size_t n)
{
    uint8_t *p = w->p;

    if (w->bad || (size_t)(w->end - w->p) < n) {
        w->bad = 1;
        return NULL;
    }
    w->p += n;
    return p;
}

static void put_u8(writer_t *w, uint8_t v)
{
    uint8_t *p = room(w, 1);
    if (p)
        p[0] = v;
}

static void put_u16(writer_t *w, uint16_t v)
{
    uint8_t *p = room(w, 2);
    if (p) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

static void put_u32(writer_t *w, uint32_t v)
{
    uint8_t *p = room(w, 4);
    if (p) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
    }
}

static void put_bytes(writer_t *w, const void *src, size_t n)
{
    uint8_t *p = room(w, n);
    if (p && n > 0)
        memcpy(p, src, n);
}

static size_t ip_len(uint8_t family)
{
    return family == DHT_AF_INET6 ? 16 : 4;
}

size_t dht__wire_node_size(uint8_t family)
{
    return 1 + DHT_ID_LEN + ip_len(family) + 2;
}

size_t dht__wire_batch_size(const dht__wire_batch_t *b)
{
    return DHT__WIRE_BATCH_ENTRY + b->len + ((b->flags & DHT__WIRE_STORE_AGED) ? 4 : 0) +
           (b->has_owner ? DHT_ID_LEN : 0);
}

size_t dht__wire_entry_size(const dht__wire_entry_t *e)
{
    return 1 + 1 + 4 + 4 + (e->is_summary ? DHT_ID_LEN : e->len);
}

/* An address record: family, ip, port (also the tail of a node record). */
/* An address record whose family byte (already read) is family. */
static void get_addr_of(reader_t *r, dht_addr_t *a, uint8_t family)
{
    memset(a, 0, sizeof(*a));
    a->family = family;
    if (a->family != DHT_AF_INET && a->family != DHT_AF_INET6) {
        r->bad = 1;
        return;
    }
    get_bytes(r, a->ip, ip_len(a->family));
    a->port = get_u16(r);
}

static void get_addr(reader_t *r, dht_addr_t *a)
{
    uint8_t family = get_u8(r);

    get_addr_of(r, a, family);
}

static void put_addr(writer_t *w, const dht_addr_t *a)
{
    if (a->family != DHT_AF_INET && a->family != DHT_AF_INET6) {
        w->bad = 1;
        return;
    }
    put_u8(w, a->family);
    put_bytes(w, a->ip, ip_len(a->family));
    put_u16(w, a->port);
}

size_t dht__wire_addr_encode(const dht_addr_t *a, uint8_t *out)
{
    size_t n = ip_len(a->family);

    if (a->family != DHT_AF_INET && a->family != DHT_AF_INET6)
        return 0;
    out[0] = a->family; /* as put_addr writes it */
    memcpy(out + 1, a->ip, n);
    out[1 + n] = (uint8_t)a->port;
    out[2 + n] = (uint8_t)(a->port >> 8);
    return 3 + n;
}

int dht__wire_addr_decode(const uint8_t *buf, size_t len, dht_addr_t *a)
{
    reader_t r = {buf, buf + len, 0};

    get_addr(&r, a);
    return r.bad || r.p != r.end ? DHT_EPROTO : 0;
}

/* A node record is family, id, ip, port: the id sits after the family. */
static void get_node(reader_t *r, dht_node_info_t *n)
{
    uint8_t family = get_u8(r);

    memset(n, 0, sizeof(*n));
    if (family != DHT_AF_INET && family != DHT_AF_INET6) {
        r->bad = 1;
        return;
    }
    get_bytes(r, n->id.b, DHT_ID_LEN);
    n->addr.family = family;
    get_bytes(r, n->addr.ip, ip_len(family));
    n->addr.port = get_u16(r);
}

static void put_node(writer_t *w, const dht_node_info_t *n)
{
    if (n->addr.family != DHT_AF_INET && n->addr.family != DHT_AF_INET6) {
        w->bad = 1;
        return;
    }
    put_u8(w, n->addr.family);
    put_bytes(w, n->id.b, DHT_ID_LEN);
    put_bytes(w, n->addr.ip, ip_len(n->addr.family));
    put_u16(w, n->addr.port);
}

static void get_nodes(reader_t *r, dht__msg_t *m)
{
    m->n_nodes = get_u8(r);
    if (m->n_nodes > DHT__WIRE_MAX_NODES) {
        r->bad = 1;
        return;
    }
    for (unsigned i = 0; i < m->n_nodes && !r->bad; i++)
        get_node(r, &m->nodes[i]);
}

static void put_nodes(writer_t *w, const dht__msg_t *m)
{
    if (m->n_nodes > DHT__WIRE_MAX_NODES) {
        w->bad = 1;
        return;
    }
    put_u8(w, m->n_nodes);
    for (unsigned i = 0; i < m->n_nodes; i++)
        put_node(w, &m->nodes[i]);
}

static void get_entry(reader_t *r, dht__wire_entry_t *e)
{
    uint8_t kind = get_u8(r);

    memset(e, 0, sizeof(*e));
    if (kind > 1) {
        r->bad = 1;
        return;
    }
    e->is_summary = kind;
    e->flags = get_u8(r);
    e->ttl = get_u32(r);
    e->len = get_u32(r);
    if (e->is_summary)
        get_bytes(r, e->hash.b, DHT_ID_LEN);
    else
        e->data = take(r, e->len);
}

static void put_entry(writer_t *w, const dht__wire_entry_t *e)
{
    put_u8(w, e->is_summary ? 1 : 0);
    put_u8(w, e->flags);
    put_u32(w, e->ttl);
    put_u32(w, e->len);
    if (e->is_summary)
        put_bytes(w, e->hash.b, DHT_ID_LEN);
    else
        put_bytes(w, e->data, e->len);
}

/* A STORE's (or a STORE_MANY entry's) age: there with the aged flag,
 * and then 1 or more (age 0 is said without the field). */
static uint32_t get_age(reader_t *r, uint8_t flags)
{
    uint32_t age;

    if (!(flags & DHT__WIRE_STORE_AGED))
        return 0;
    age = get_u32(r);
    if (age == 0)
        r->bad = 1;
    return age;
}

static void put_age(writer_t *w, uint8_t flags, uint32_t age)
{
    if (!(flags & DHT__WIRE_STORE_AGED))
        return;
    if (age == 0)
        w->bad = 1;
    put_u32(w, age);
}

/* A STORE's (or a STORE_MANY entry's) owner: there when its len said so,
 * else all zero (never the bytes of an earlier message). */
static void get_owner(reader_t *r, int has_owner, dht_id_t *owner)
{
    if (has_owner)
        get_bytes(r, owner->b, DHT_ID_LEN);
    else
        memset(owner->b, 0, DHT_ID_LEN);
}

static void get_batch(reader_t *r, dht__wire_batch_t *b)
{
    uint16_t len;

    get_bytes(r, b->key.b, DHT_ID_LEN);
    b->ttl = get_u32(r);
    b->flags = get_u8(r);
    len = get_u16(r);
    b->has_owner = (len & DHT__WIRE_BATCH_OWNED) != 0;
    b->len = len & (uint16_t)~DHT__WIRE_BATCH_OWNED;
    b->value = take(r, b->len);
    b->age = get_age(r, b->flags);
    get_owner(r, b->has_owner, &b->owner);
}

static void put_batch(writer_t *w, const dht__wire_batch_t *b)
{
    put_bytes(w, b->key.b, DHT_ID_LEN);
    put_u32(w, b->ttl);
    put_u8(w, b->flags);
    if (b->len >= DHT__WIRE_BATCH_OWNED)
        w->bad = 1;
    put_u16(w, (uint16_t)(b->len | (b->has_owner ? DHT__WIRE_BATCH_OWNED : 0)));
    put_bytes(w, b->value, b->len);
    put_age(w, b->flags, b->age);
    if (b->has_owner)
        put_bytes(w, b->owner.b, DHT_ID_LEN);
}

/* Reads the body of m->type; the header has been read. */
static void get_body(reader_t *r, dht__msg_t *m)
{
    switch (m->type) {
    case DHT__PING:
    case DHT__STORED:
    case DHT__PROVIDED:
        break;
    case DHT__FIND_NODE:
        get_bytes(r, m->target.b, DHT_ID_LEN);
        break;
    case DHT__DELETE:
        get_bytes(r, m->target.b, DHT_ID_LEN);
        get_bytes(r, m->hash.b, DHT_ID_LEN);
        get_bytes(r, m->secret.b, DHT_ID_LEN);
        break;
    case DHT__DELETED:
        m->outcome = get_u8(r);
        if (m->outcome > DHT__DELETE_REFUSED)
            r->bad = 1;
        break;
    case DHT__FIND_VALUE:
    case DHT__FIND_PROVIDERS: {
        uint16_t first;
        get_bytes(r, m->target.b, DHT_ID_LEN);
        first = get_u16(r);
        m->first = (uint16_t)(first & ~DHT__WIRE_FIRST_AGED);
        m->max_age = 0;
        if (first & DHT__WIRE_FIRST_AGED) {
            m->max_age = get_u32(r);
            if (m->max_age == 0) /* "any age" is said without the field */
                r->bad = 1;
        }
        break;
    }
    case DHT__STORE:
        get_bytes(r, m->token, DHT__WIRE_TOKEN_LEN);
        get_bytes(r, m->target.b, DHT_ID_LEN);
        m->ttl = get_u32(r);
        m->flags = get_u8(r);
        m->value_len = get_u32(r);
        m->has_owner = (m->value_len & DHT__WIRE_STORE_OWNED) != 0;
        m->value_len &= ~DHT__WIRE_STORE_OWNED;
        m->value = take(r, m->value_len);
        m->age = get_age(r, m->flags);
        get_owner(r, m->has_owner, &m->owner);
        break;
    case DHT__GET_VALUE:
        get_bytes(r, m->target.b, DHT_ID_LEN);
        get_bytes(r, m->hash.b, DHT_ID_LEN);
        break;
    case DHT__PROVIDE:
        get_bytes(r, m->token, DHT__WIRE_TOKEN_LEN);
        get_bytes(r, m->target.b, DHT_ID_LEN);
        m->port = get_u16(r);
        m->ttl = get_u32(r);
        if (m->port == 0)
            r->bad = 1;
        break;
    case DHT__STORE_MANY:
        get_bytes(r, m->token, DHT__WIRE_TOKEN_LEN);
        m->n_batch = get_u8(r);
        if (m->n_batch == 0 || m->n_batch > DHT__WIRE_MAX_BATCH)
            r->bad = 1;
        for (unsigned i = 0; i < m->n_batch && !r->bad; i++)
            get_batch(r, &m->batch[i]);
        break;
    case DHT__STORED_MANY:
        m->n_batch = get_u8(r);
        if (m->n_batch == 0 || m->n_batch > DHT__WIRE_MAX_BATCH)
            r->bad = 1;
        for (unsigned i = 0; i < m->n_batch && !r->bad; i++)
            m->batch_codes[i] = get_u8(r);
        break;
    case DHT__HAVE:
        m->n_have = get_u8(r);
        if (m->n_have == 0 || m->n_have > DHT__WIRE_MAX_HAVE)
            r->bad = 1;
        for (unsigned i = 0; i < m->n_have && !r->bad; i++) {
            get_bytes(r, m->have_key[i].b, DHT_ID_LEN);
            get_bytes(r, m->have_hash[i].b, DHT_ID_LEN);
        }
        break;
    case DHT__ROUTE:
        get_bytes(r, m->target.b, DHT_ID_LEN);
        get_bytes(r, m->origin.b, DHT_ID_LEN);
        m->hops = get_u8(r);
        m->value_len = get_u16(r);
        if (m->hops > DHT__WIRE_MAX_HOPS || m->value_len > DHT_ROUTE_MAX)
            r->bad = 1;
        m->value = take(r, m->value_len);
        break;
    case DHT__ROUTED:
        m->outcome = get_u8(r);
        if (m->outcome > DHT__ROUTE_REFUSED)
            r->bad = 1;
        get_bytes(r, m->peer.b, DHT_ID_LEN);
        break;
    case DHT__HELD:
        get_bytes(r, m->token, DHT__WIRE_TOKEN_LEN);
        m->n_have = get_u8(r);
        if (m->n_have > DHT__WIRE_MAX_HAVE)
            r->bad = 1;
        m->held_bits = 0;
        for (unsigned i = 0; i < (m->n_have + 7u) / 8 && !r->bad; i++)
            m->held_bits |= (uint32_t)get_u8(r) << (8 * i);
        if (m->n_have < 32 && (m->held_bits >> m->n_have) != 0)
            r->bad = 1; /* bits past the count: one encoding only */
        break;
    case DHT__PONG: {
        /* The family byte's top bits: the replier's region, its global
         * address follow (wire.md 5.11). */
        uint8_t family = get_u8(r);
        get_addr_of(r, &m->addr,
                    family & (uint8_t) ~(DHT__WIRE_PONG_REGION | DHT__WIRE_PONG_ADVERT));
        m->has_region = (family & DHT__WIRE_PONG_REGION) != 0;
        m->has_advert = (family & DHT__WIRE_PONG_ADVERT) != 0;
        m->region = 0;
        if (m->has_region && (m->region = get_u16(r)) == 0)
            r->bad = 1; /* region 0 is said without the field */
        if (m->has_advert)
            get_addr(r, &m->advert);
        break;
    }
    case DHT__NODES:
        get_bytes(r, m->token, DHT__WIRE_TOKEN_LEN);
        get_nodes(r, m);
        break;
    case DHT__VALUES:
    case DHT__PROVIDERS:
        get_bytes(r, m->token, DHT__WIRE_TOKEN_LEN);
        get_nodes(r, m);
        m->total = get_u16(r);
        m->first = get_u16(r);
        m->n_entries = get_u8(r);
        if (m->n_entries > DHT__WIRE_MAX_ENTRIES)
            r->bad = 1;
        for (unsigned i = 0; i < m->n_entries && !r->bad; i++)
            get_entry(r, &m->entries[i]);
        break;
    case DHT__VALUE:
        m->flags = get_u8(r);
        m->ttl = get_u32(r);
        m->value_len = get_u32(r);
        m->value = take(r, m->value_len);
        break;
    case DHT__ERROR:
        m->err_code = get_u16(r);
        m->err_len = get_u8(r);
        if (m->err_len > DHT__WIRE_MAX_ERRMSG)
            r->bad = 1;
        m->err_msg = take(r, m->err_len);
        break;
    default:
        r->bad = 1;
    }
}

/* @return 1 if p[0..n) are all zero; word by word (a padded request is
 * up to 1,400 bytes, and a simulator decodes millions of them). */
static int all_zero(const uint8_t *p, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int dht__wire_decode(dht__msg_t *m, const uint8_t *buf, size_t len)
{
    reader_t r = {buf, buf + len, 0};
    const uint8_t *hdr = take(&r, 4);

    if (hdr == NULL || hdr[0] != DHT__WIRE_MAGIC0 || hdr[1] != DHT__WIRE_MAGIC1 ||
        hdr[2] != DHT__WIRE_VERSION)
        return DHT_EPROTO;
    /* Only the fields every message has are cleared: the node and entry
     * arrays are written before they are read, and clearing 3 KiB per
     * datagram would cost more than decoding it. */
    m->type = hdr[3];
    m->client = 0;
    m->has_proof = 0;
    m->pad = 0;
    if (!DHT__IS_REPLY(m->type)) {
        uint8_t bits = m->type & DHT__WIRE_REQUEST_BITS;
        m->type = (uint8_t)(m->type & ~DHT__WIRE_REQUEST_BITS);
        m->client = (bits & DHT__WIRE_CLIENT) != 0;
        m->has_proof = (bits & DHT__WIRE_PROOF) != 0;
        m->pad = (bits & DHT__WIRE_PADDED) != 0; /* counted below */
    }
    m->n_nodes = 0;
    m->n_entries = 0;
    m->n_have = 0;
    m->n_batch = 0;
    m->value = NULL;
    m->value_len = 0;
    m->has_owner = 0;
    m->has_region = m->has_advert = 0;
    m->txid = get_u32(&r);
    get_bytes(&r, m->sender.b, DHT_ID_LEN);
    if (m->has_proof)
        get_bytes(&r, m->proof, DHT__WIRE_TOKEN_LEN);
    get_body(&r, m);
    if (m->pad && !r.bad) {
        /* At least one byte, every one zero: one encoding only. */
        size_t n = (size_t)(r.end - r.p);
        if (n == 0 || n > UINT16_MAX || !all_zero(r.p, n))
            return DHT_EPROTO;
        m->pad = (uint16_t)n;
        r.p = r.end;
    }
    if (r.bad || r.p != r.end)
        return DHT_EPROTO;
    if (m->type == DHT__STORE_MANY && len > DHT_MAX_DATAGRAM)
        return DHT_EPROTO; /* a batch is one datagram; larger values go alone */
    return 0;
}

/* Writes the body of m->type; the header has been written. */
static void put_body(writer_t *w, const dht__msg_t *m)
{
    switch (m->type) {
    case DHT__PING:
    case DHT__STORED:
    case DHT__PROVIDED:
        break;
    case DHT__FIND_NODE:
        put_bytes(w, m->target.b, DHT_ID_LEN);
        break;
    case DHT__DELETE:
        put_bytes(w, m->target.b, DHT_ID_LEN);
        put_bytes(w, m->hash.b, DHT_ID_LEN);
        put_bytes(w, m->secret.b, DHT_ID_LEN);
        break;
    case DHT__DELETED:
        if (m->outcome > DHT__DELETE_REFUSED)
            w->bad = 1;
        put_u8(w, m->outcome);
        break;
    case DHT__FIND_VALUE:
    case DHT__FIND_PROVIDERS:
        if (m->first & DHT__WIRE_FIRST_AGED)
            w->bad = 1;
        put_bytes(w, m->target.b, DHT_ID_LEN);
        put_u16(w, (uint16_t)(m->first | (m->max_age ? DHT__WIRE_FIRST_AGED : 0)));
        if (m->max_age)
            put_u32(w, m->max_age);
        break;
    case DHT__STORE:
        put_bytes(w, m->token, DHT__WIRE_TOKEN_LEN);
        put_bytes(w, m->target.b, DHT_ID_LEN);
        put_u32(w, m->ttl);
        put_u8(w, m->flags);
        if (m->value_len >= DHT__WIRE_STORE_OWNED)
            w->bad = 1;
        put_u32(w, m->value_len | (m->has_owner ? DHT__WIRE_STORE_OWNED : 0));
        put_bytes(w, m->value, m->value_len);
        put_age(w, m->flags, m->age);
        if (m->has_owner)
            put_bytes(w, m->owner.b, DHT_ID_LEN);
        break;
    case DHT__GET_VALUE:
        put_bytes(w, m->target.b, DHT_ID_LEN);
        put_bytes(w, m->hash.b, DHT_ID_LEN);
        break;
    case DHT__PROVIDE:
        if (m->port == 0)
            w->bad = 1;
        put_bytes(w, m->token, DHT__WIRE_TOKEN_LEN);
        put_bytes(w, m->target.b, DHT_ID_LEN);
        put_u16(w, m->port);
        put_u32(w, m->ttl);
        break;
    case DHT__STORE_MANY:
        if (m->n_batch == 0 || m->n_batch > DHT__WIRE_MAX_BATCH)
            w->bad = 1;
        put_bytes(w, m->token, DHT__WIRE_TOKEN_LEN);
        put_u8(w, m->n_batch);
        for (unsigned i = 0; i < m->n_batch && !w->bad; i++)
            put_batch(w, &m->batch[i]);
        break;
    case DHT__STORED_MANY:
        if (m->n_batch == 0 || m->n_batch > DHT__WIRE_MAX_BATCH)
            w->bad = 1;
        put_u8(w, m->n_batch);
        for (unsigned i = 0; i < m->n_batch && !w->bad; i++)
            put_u8(w, m->batch_codes[i]);
        break;
    case DHT__HAVE:
        if (m->n_have == 0 || m->n_have > DHT__WIRE_MAX_HAVE)
            w->bad = 1;
        put_u8(w, m->n_have);
        for (unsigned i = 0; i < m->n_have && !w->bad; i++) {
            put_bytes(w, m->have_key[i].b, DHT_ID_LEN);
            put_bytes(w, m->have_hash[i].b, DHT_ID_LEN);
        }
        break;
    case DHT__ROUTE:
        if (m->hops > DHT__WIRE_MAX_HOPS || m->value_len > DHT_ROUTE_MAX)
            w->bad = 1;
        put_bytes(w, m->target.b, DHT_ID_LEN);
        put_bytes(w, m->origin.b, DHT_ID_LEN);
        put_u8(w, m->hops);
        put_u16(w, (uint16_t)m->value_len);
        put_bytes(w, m->value, m->value_len);
        break;
    case DHT__ROUTED:
        if (m->outcome > DHT__ROUTE_REFUSED)
            w->bad = 1;
        put_u8(w, m->outcome);
        put_bytes(w, m->peer.b, DHT_ID_LEN);
        break;
    case DHT__HELD:
        if (m->n_have > DHT__WIRE_MAX_HAVE || (m->held_bits >> m->n_have) != 0)
            w->bad = 1;
        put_bytes(w, m->token, DHT__WIRE_TOKEN_LEN);
        put_u8(w, m->n_have);
        for (unsigned i = 0; i < (m->n_have + 7u) / 8 && !w->bad; i++)
            put_u8(w, (uint8_t)(m->held_bits >> (8 * i)));
        break;
    case DHT__PONG:
        if (m->has_region && m->region == 0)
            w->bad = 1;
        put_u8(w, (uint8_t)(m->addr.family | (m->has_region ? DHT__WIRE_PONG_REGION : 0) |
                            (m->has_advert ? DHT__WIRE_PONG_ADVERT : 0)));
        if (m->addr.family != DHT_AF_INET && m->addr.family != DHT_AF_INET6)
            w->bad = 1;
        put_bytes(w, m->addr.ip, ip_len(m->addr.family));
        put_u16(w, m->addr.port);
        if (m->has_region)
            put_u16(w, m->region);
        if (m->has_advert)
            put_addr(w, &m->advert);
        break;
    case DHT__NODES:
        put_bytes(w, m->token, DHT__WIRE_TOKEN_LEN);
        put_nodes(w, m);
        break;
    case DHT__VALUES:
    case DHT__PROVIDERS:
        put_bytes(w, m->token, DHT__WIRE_TOKEN_LEN);
        put_nodes(w, m);
        put_u16(w, m->total);
        put_u16(w, m->first);
        if (m->n_entries > DHT__WIRE_MAX_ENTRIES)
            w->bad = 1;
        put_u8(w, m->n_entries);
        for (unsigned i = 0; i < m->n_entries && !w->bad; i++)
            put_entry(w, &m->entries[i]);
        break;
    case DHT__VALUE:
        put_u8(w, m->flags);
        put_u32(w, m->ttl);
        put_u32(w, m->value_len);
        put_bytes(w, m->value, m->value_len);
        break;
    case DHT__ERROR:
        if (m->err_len > DHT__WIRE_MAX_ERRMSG)
            w->bad = 1;
        put_u16(w, m->err_code);
        put_u8(w, m->err_len);
        put_bytes(w, m->err_msg, m->err_len);
        break;
    default:
        w->bad = 1;
    }
}

size_t dht__wire_encode(const dht__msg_t *m, uint8_t *buf, size_t cap)
{
    writer_t w = {buf, buf + cap, 0};

    put_u8(&w, DHT__WIRE_MAGIC0);
    put_u8(&w, DHT__WIRE_MAGIC1);
    put_u8(&w, DHT__WIRE_VERSION);
    if (m->type & DHT__WIRE_REQUEST_BITS && !DHT__IS_REPLY(m->type))
        return 0; /* the bits come from the fields below */
    if ((m->client || m->has_proof || m->pad) && DHT__IS_REPLY(m->type))
        return 0; /* only a request carries them */
    put_u8(&w, (uint8_t)(m->type | (m->client ? DHT__WIRE_CLIENT : 0) |
                         (m->has_proof ? DHT__WIRE_PROOF : 0) | (m->pad ? DHT__WIRE_PADDED : 0)));
    put_u32(&w, m->txid);
    put_bytes(&w, m->sender.b, DHT_ID_LEN);
    if (m->has_proof)
        put_bytes(&w, m->proof, DHT__WIRE_TOKEN_LEN);
    put_body(&w, m);
    if (m->type == DHT__STORE_MANY && (size_t)(w.p - buf) + m->pad > DHT_MAX_DATAGRAM)
        return 0; /* a batch is one datagram */
    if (m->pad) {
        uint8_t *p = room(&w, m->pad);
        if (p)
            memset(p, 0, m->pad);
    }
    return w.bad ? 0 : (size_t)(w.p - buf);
}

size_t dht__wire_reframe(uint8_t *buf, size_t len, size_t pad, const uint8_t *proof, size_t new_pad,
                         size_t cap)
{
    size_t start, body, at, out;
    uint8_t bits;

    if (len < DHT__WIRE_HEADER || DHT__IS_REPLY(buf[3] & (uint8_t)~DHT__WIRE_REQUEST_BITS))
        return 0;
    bits = buf[3];
    start = DHT__WIRE_HEADER + ((bits & DHT__WIRE_PROOF) ? DHT__WIRE_TOKEN_LEN : 0);
    if (((bits & DHT__WIRE_PADDED) != 0) != (pad > 0) || len < start + pad)
        return 0;
    body = len - start - pad;
    at = DHT__WIRE_HEADER + (proof ? DHT__WIRE_TOKEN_LEN : 0);
    out = at + body + new_pad;
    if (out > cap)
        return 0;
    memmove(buf + at, buf + start, body);
    if (proof)
        memcpy(buf + DHT__WIRE_HEADER, proof, DHT__WIRE_TOKEN_LEN);
    memset(buf + at + body, 0, new_pad);
    buf[3] = (uint8_t)((bits & ~(DHT__WIRE_PROOF | DHT__WIRE_PADDED)) |
                       (proof ? DHT__WIRE_PROOF : 0) | (new_pad ? DHT__WIRE_PADDED : 0));
    return out;
}

size_t dht__wire_proof_to_padding(uint8_t *buf, size_t len, size_t pad, size_t cap)
{
    if (len < DHT__WIRE_HEADER || pad == 0 ||
        (buf[3] & (DHT__WIRE_PROOF | DHT__WIRE_PADDED)) != DHT__WIRE_PROOF)
        return 0;
    return dht__wire_reframe(buf, len, 0, NULL, pad, cap);
}

/* The size of m's body, after the header (and the proof, if any). */
static size_t body_size(const dht__msg_t *m)
{
    size_t n = 0;

    switch (m->type) {
    case DHT__FIND_NODE:
        return n + DHT_ID_LEN;
    case DHT__FIND_VALUE:
    case DHT__FIND_PROVIDERS:
        return n + DHT_ID_LEN + 2 + (m->max_age ? 4 : 0);
    case DHT__PROVIDE:
        return n + DHT__WIRE_TOKEN_LEN + DHT_ID_LEN + 2 + 4;
    case DHT__STORE:
        return n + DHT__WIRE_TOKEN_LEN + DHT_ID_LEN + 4 + 1 + 4 + m->value_len +
               ((m->flags & DHT__WIRE_STORE_AGED) ? 4 : 0) + (m->has_owner ? DHT_ID_LEN : 0);
    case DHT__DELETE:
        return n + 3 * DHT_ID_LEN;
    case DHT__DELETED:
        return n + 1;
    case DHT__GET_VALUE:
        return n + 2 * DHT_ID_LEN;
    case DHT__STORE_MANY:
        n += DHT__WIRE_TOKEN_LEN + 1;
        for (unsigned i = 0; i < m->n_batch && i < DHT__WIRE_MAX_BATCH; i++)
            n += dht__wire_batch_size(&m->batch[i]);
        return n;
    case DHT__STORED_MANY:
        return n + 1 + (m->n_batch < DHT__WIRE_MAX_BATCH ? m->n_batch : DHT__WIRE_MAX_BATCH);
    case DHT__HAVE:
        return n + 1 +
               (size_t)(m->n_have < DHT__WIRE_MAX_HAVE ? m->n_have : DHT__WIRE_MAX_HAVE) * 2 *
                   DHT_ID_LEN;
    case DHT__HELD:
        return n + DHT__WIRE_TOKEN_LEN + 1 +
               ((m->n_have < DHT__WIRE_MAX_HAVE ? m->n_have : DHT__WIRE_MAX_HAVE) + 7u) / 8;
    case DHT__ROUTE:
        return n + 2 * DHT_ID_LEN + 1 + 2 + m->value_len;
    case DHT__ROUTED:
        return n + 1 + DHT_ID_LEN;
    case DHT__PONG:
        return n + 1 + ip_len(m->addr.family) + 2 + (m->has_region ? 2 : 0) +
               (m->has_advert ? 1 + ip_len(m->advert.family) + 2 : 0);
    case DHT__NODES:
    case DHT__VALUES:
    case DHT__PROVIDERS:
        n += DHT__WIRE_TOKEN_LEN + 1;
        for (unsigned i = 0; i < m->n_nodes && i < DHT__WIRE_MAX_NODES; i++)
            n += dht__wire_node_size(m->nodes[i].addr.family);
        if (m->type == DHT__NODES)
            return n;
        n += 2 + 2 + 1;
        for (unsigned i = 0; i < m->n_entries && i < DHT__WIRE_MAX_ENTRIES; i++)
            n += dht__wire_entry_size(&m->entries[i]);
        return n;
    case DHT__VALUE:
        return n + 1 + 4 + 4 + m->value_len;
    case DHT__ERROR:
        return n + 2 + 1 + m->err_len;
    default:
        return n;
    }
}

size_t dht__wire_size(const dht__msg_t *m)
{
    size_t n = DHT__WIRE_HEADER + body_size(m);

    if (DHT__IS_REPLY(m->type))
        return n;
    return n + (m->has_proof ? DHT__WIRE_TOKEN_LEN : 0) + m->pad;
}

void dht__stream_preamble(uint8_t *buf, uint16_t port)
{
    buf[0] = 'E';
    buf[1] = 'M';
    buf[2] = 'S';
    buf[3] = DHT__WIRE_VERSION;
    buf[4] = (uint8_t)port;
    buf[5] = (uint8_t)(port >> 8);
    buf[6] = 0;
    buf[7] = 0;
}

int dht__stream_preamble_parse(const uint8_t *buf, uint16_t *port)
{
    if (buf[0] != 'E' || buf[1] != 'M' || buf[2] != 'S' || buf[3] != DHT__WIRE_VERSION ||
        buf[6] != 0 || buf[7] != 0)
        return DHT_EPROTO;
    *port = (uint16_t)(buf[4] | buf[5] << 8);
    return 0;
}
