/*
 * The local store's upkeep: `emofs rm` (unpin a published file and remove
 * its blobs) and `emofs gc` (remove what no published file uses, and the
 * files of abandoned gets). Both only ever remove what emofs made: blobs
 * under DIR/blobs, and the temporary files and journals DIR/partials
 * recorded (tool/node/partials.h). Copies in the network are not touched:
 * once nobody republishes them they expire with their TTL.
 *
 * Both block (they read manifest nodes and unlink files) and run on the
 * node's loop thread with no put in flight: a put reuses blobs it finds in
 * the store without owning them, so removing one under a running put
 * could take a blob its file needs. node_ops.c holds them back until the
 * puts in flight are done; a put cannot start while they run.
 */
#ifndef EMOFS_MAINT_H
#define EMOFS_MAINT_H

#include "tool/node/control_wire.h"
#include "tool/node/emofs_node.h"

#include <stddef.h>

/* Unpins the file (or directory) with key: takes it out of DIR/published
 * (atomically), then removes each of its blobs that no other published
 * file uses. When the blobs of the other files cannot all be read (a
 * damaged or missing manifest node), none is removed and msg says so.
 * @return 0, *freed and the file's name in name[name_cap] (msg set or
 * ""); FS_ENOENT when key is not published here (nothing changed); or
 * another FS_* code (msg says what failed). */
int emofs_maint_rm(emofs_node_t *node, const uint8_t key[MF_KEY_LEN], ctl_freed_t *freed,
                   char *name, size_t name_cap, char *msg, size_t msg_cap);

/* Removes every local blob that no published file uses (none at all when
 * a published file's blobs cannot all be read: msg says which), then the
 * temporary files and journals of recorded gets that no longer run.
 * @return 0 and *freed (msg set or ""), or an FS_* code (msg says what
 * failed). */
int emofs_maint_gc(emofs_node_t *node, ctl_freed_t *freed, char *msg, size_t msg_cap);

#endif /* EMOFS_MAINT_H */
