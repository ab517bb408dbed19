/*
 * SipHash-2-4 of a 32-byte id under a 128-bit key: a keyed hash for the
 * value store's table (store.c), so that keys chosen by anyone cannot be
 * piled into one probe run. Internal to libdht.
 */
#ifndef DHT_SIPHASH_H
#define DHT_SIPHASH_H

#include "dht.h"

#include <stdint.h>

/* @return SipHash-2-4 of the DHT_ID_LEN bytes of id under key k. */
uint64_t dht__siphash_id(const uint64_t k[2], const dht_id_t *id);

#endif /* DHT_SIPHASH_H */
