/*
 * Contact stores: where a routing table keeps its contacts' ids and
 * addresses.
 *
 * A table slot (rt.c) holds a 24-bit handle instead of the 52 bytes of an
 * id and an address, so that the simulator can keep one copy of each
 * node's id and address for all its tables (libdht/sim/sim.c: a million
 * tables of 330 contacts each) while a real node keeps its own: the arena
 * below, every table's default store. The table's rules never depend on
 * the store: the same calls give the same answers with either.
 *
 * Pure code: no I/O, no clock.
 */
#ifndef DHT_CONTACTS_H
#define DHT_CONTACTS_H

#include "dht.h"

#define DHT__CONTACT_BITS 24
#define DHT__CONTACT_NONE ((1u << DHT__CONTACT_BITS) - 1u) /* no handle: out of memory */

/* A store, as a table sees it. */
typedef struct dht__contacts {
    /* @return a handle for (id, addr), held until release(), or
     *         DHT__CONTACT_NONE if out of memory. Each call may return a
     *         new handle (a table holds one per contact). */
    uint32_t (*hold)(void *arg, const dht_id_t *id, const dht_addr_t *addr);
    /* Gives back a handle from hold(). */
    void (*release)(void *arg, uint32_t h);
    /* @return the id of held handle h; the pointer stays valid until the
     *         next hold(). */
    const dht_id_t *(*id)(void *arg, uint32_t h);
    /* Copies the address of held handle h into *out. */
    void (*addr)(void *arg, uint32_t h, dht_addr_t *out);
    void *arg;
} dht__contacts_t;

/* The arena: one (id, addr) entry per hold, in a growable array, freed
 * entries reused first. Handles are base + the entry's index. */
typedef struct dht__contact_arena {
    struct dht__arena_entry *v;
    uint32_t n, cap;   /* entries in use or freed; allocated */
    uint32_t free_top; /* the last freed entry + 1; 0: none */
    uint32_t held;     /* entries in use */
    uint32_t base;     /* the first handle */
} dht__contact_arena_t;

/* Makes *a an empty arena whose handles start at base (below
 * DHT__CONTACT_NONE). Allocates nothing. */
void dht__arena_init(dht__contact_arena_t *a, uint32_t base);

/* Frees the arena's entries; *a is then empty. */
void dht__arena_free(dht__contact_arena_t *a);

/* The store ops (dht__contacts_t's functions) over arena a, filled into
 * *out. */
void dht__arena_contacts(dht__contact_arena_t *a, dht__contacts_t *out);

/* The same operations, called directly (the simulator's store falls back
 * to an arena for contacts that are not one of its nodes). */
uint32_t dht__arena_hold(dht__contact_arena_t *a, const dht_id_t *id, const dht_addr_t *addr);
void dht__arena_release(dht__contact_arena_t *a, uint32_t h);
const dht_id_t *dht__arena_id(const dht__contact_arena_t *a, uint32_t h);
void dht__arena_addr(const dht__contact_arena_t *a, uint32_t h, dht_addr_t *out);

/* @return the entries held now (for tests and memory figures). */
size_t dht__arena_held(const dht__contact_arena_t *a);

/* The simulator (sim/sim.c) gives every node's table the store its nodes
 * share. With on = 1, the nodes added from then on keep their contacts in
 * their tables' own arenas instead, as a real node does: for tests, which
 * check that the runs are the same. */
void dht__sim_table_contacts(dht_sim_t *sim, int on);

#endif /* DHT_CONTACTS_H */
