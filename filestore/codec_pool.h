/*
 * A pool of chunk codec contexts shared by worker threads: a worker takes
 * one, uses it alone, gives it back. Internal to filestore.
 */
#ifndef EMOFS_CODEC_POOL_H
#define EMOFS_CODEC_POOL_H

#include "filestore/chunk_codec.h"

#include <pthread.h>

#define FS_CODEC_POOL_MAX 16

typedef struct fs_codec_pool {
    pthread_mutex_t lock;
    fs_codec_t *free[FS_CODEC_POOL_MAX];
    unsigned n_free;
    int level;
} fs_codec_pool_t;

/* @return 0 or FS_ENOMEM. */
int fs_codec_pool_init(fs_codec_pool_t *pool, int level);

/* Frees every context kept. The pool must not be in use. */
void fs_codec_pool_destroy(fs_codec_pool_t *pool);

/* @return a context for the caller alone (a new one if none is free), or
 * NULL if out of memory. Thread safe. */
fs_codec_t *fs_codec_pool_take(fs_codec_pool_t *pool);

/* Gives back a context from fs_codec_pool_take (NULL is ignored). */
void fs_codec_pool_give(fs_codec_pool_t *pool, fs_codec_t *c);

#endif /* EMOFS_CODEC_POOL_H */
