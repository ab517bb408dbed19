/*
 * The saved peer list of schema/peers.md: its codec, for peers.c and the
 * tests. Pure code: no node, no I/O.
 */
#ifndef DHT_PEERS_H
#define DHT_PEERS_H

#include "dht.h"

#define DHT__PEERS_MAGIC   "EMPL"
#define DHT__PEERS_VERSION 1
#define DHT__PEERS_HEADER  7 /* magic, version, count */

/* @return the bytes the list of nodes[0..n) takes, header included. */
size_t dht__peers_size(const dht_node_info_t *nodes, size_t n);

/* Encodes nodes[0..n) into buf[0..cap).
 * @return the bytes written, or 0 (nothing written) if n > DHT_PEERS_MAX,
 *         a node's family is neither DHT_AF_INET nor DHT_AF_INET6, or the
 *         list does not fit in cap. */
size_t dht__peers_encode(const dht_node_info_t *nodes, size_t n, uint8_t *buf, size_t cap);

/* Decodes buf[0..len) strictly (schema/peers.md, section 3) into out,
 * which must hold DHT_PEERS_MAX nodes. Reads only inside the buffer.
 * @return 0 and *n, or DHT_EPROTO; out may then have been written to. */
int dht__peers_decode(const uint8_t *buf, size_t len, dht_node_info_t *out, size_t *n);

#endif /* DHT_PEERS_H */
