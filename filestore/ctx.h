/*
 * Small things put, get and fetch share. Internal to filestore.
 */
#ifndef EMOFS_CTX_H
#define EMOFS_CTX_H

#include "filestore/filestore.h"

/* @return the number of nodes in the routing table of ctx's node. */
uint32_t fs_peer_count(const fs_ctx_t *ctx);

#endif /* EMOFS_CTX_H */
