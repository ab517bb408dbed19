/*
 * DIR/peers: the peers a daemon saves so that it rejoins its network after
 * a restart with no bootstrap address (libdht's dht_export_peers and
 * dht_import_peers; the bytes are schema/peers.md's). Only the daemon
 * writes it, on the loop's thread.
 */
#ifndef EMOFS_PEERS_FILE_H
#define EMOFS_PEERS_FILE_H

#include "dht.h"

#include <stddef.h>
#include <stdint.h>

#define EMOFS_PEERS_FILE "peers"

/* Writes dht's peer list (dht_export_peers at now_ms, uv_now() for a
 * libuv node) to DIR/peers atomically: DIR/peers.tmp, fsync, rename over
 * DIR/peers, fsync of DIR, so a crash leaves the old list or the new one.
 * A list of no peer is not written: the file keeps the last list that had
 * some, so a node that starts while its peers are down does not forget
 * them.
 * @return the number of peers saved (0: nothing written), or a negative
 *         FS_* code (the file is then as it was). */
int emofs_peers_save(const dht_t *dht, uint64_t now_ms, const char *dir);

/* Reads DIR/peers into a malloc()ed *buf of *len bytes (free it). The
 * bytes are not checked: dht_import_peers does that.
 * @return 0; FS_ENOENT if there is no such file; FS_ETOOBIG if it is
 *         larger than any peer list (DHT_PEERS_MAX_BYTES); another FS_*
 *         code if it cannot be read. */
int emofs_peers_load(const char *dir, uint8_t **buf, size_t *len);

#endif /* EMOFS_PEERS_FILE_H */
