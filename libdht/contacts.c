/*
 * The contact arena (contacts.h): (id, addr) entries in one growable array.
 * A freed entry links to the one freed before it, so holds reuse them
 * first and the array grows only when none is free.
 */
#include "contacts.h"

#include <stdlib.h>
#include <string.h>

struct dht__arena_entry {
    dht_id_t id;
    dht_addr_t addr;
    uint32_t next_free; /* while freed: the entry freed before + 1; 0: none */
};

void dht__arena_init(dht__contact_arena_t *a, uint32_t base)
{
    memset(a, 0, sizeof(*a));
    a->base = base;
}

void dht__arena_free(dht__contact_arena_t *a)
{
    free(a->v);
    dht__arena_init(a, a->base);
}

uint32_t dht__arena_hold(dht__contact_arena_t *a, const dht_id_t *id, const dht_addr_t *addr)
{
    uint32_t i;

    if (a->free_top != 0) {
        i = a->free_top - 1;
        a->free_top = a->v[i].next_free;
    } else {
        if (a->n == a->cap) {
            uint32_t cap = a->cap ? a->cap * 2 : 8;
            struct dht__arena_entry *v;
            if (cap > DHT__CONTACT_NONE - a->base)
                cap = DHT__CONTACT_NONE - a->base;
            if (cap <= a->n)
                return DHT__CONTACT_NONE;
            v = realloc(a->v, (size_t)cap * sizeof(*v));
            if (v == NULL)
                return DHT__CONTACT_NONE;
            a->v = v;
            a->cap = cap;
        }
        i = a->n++;
    }
    a->v[i].id = *id;
    a->v[i].addr = *addr;
    a->v[i].next_free = 0;
    a->held++;
    return a->base + i;
}

void dht__arena_release(dht__contact_arena_t *a, uint32_t h)
{
    uint32_t i = h - a->base;

    a->v[i].next_free = a->free_top;
    a->free_top = i + 1;
    a->held--;
}

const dht_id_t *dht__arena_id(const dht__contact_arena_t *a, uint32_t h)
{
    return &a->v[h - a->base].id;
}

void dht__arena_addr(const dht__contact_arena_t *a, uint32_t h, dht_addr_t *out)
{
    *out = a->v[h - a->base].addr;
}

size_t dht__arena_held(const dht__contact_arena_t *a)
{
    return a->held;
}

static uint32_t op_hold(void *arg, const dht_id_t *id, const dht_addr_t *addr)
{
    return dht__arena_hold(arg, id, addr);
}

static void op_release(void *arg, uint32_t h)
{
    dht__arena_release(arg, h);
}

static const dht_id_t *op_id(void *arg, uint32_t h)
{
    return dht__arena_id(arg, h);
}

static void op_addr(void *arg, uint32_t h, dht_addr_t *out)
{
    dht__arena_addr(arg, h, out);
}

void dht__arena_contacts(dht__contact_arena_t *a, dht__contacts_t *out)
{
    out->hold = op_hold;
    out->release = op_release;
    out->id = op_id;
    out->addr = op_addr;
    out->arg = a;
}
