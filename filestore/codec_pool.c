#include "filestore/codec_pool.h"

#include "filestore/fs_error.h"

int fs_codec_pool_init(fs_codec_pool_t *pool, int level)
{
    pool->n_free = 0;
    pool->level = level;
    return pthread_mutex_init(&pool->lock, NULL) == 0 ? 0 : FS_ENOMEM;
}

void fs_codec_pool_destroy(fs_codec_pool_t *pool)
{
    for (unsigned i = 0; i < pool->n_free; i++)
        fs_codec_free(pool->free[i]);
    pool->n_free = 0;
    pthread_mutex_destroy(&pool->lock);
}

fs_codec_t *fs_codec_pool_take(fs_codec_pool_t *pool)
{
    fs_codec_t *c = NULL;

    pthread_mutex_lock(&pool->lock);
    if (pool->n_free > 0)
        c = pool->free[--pool->n_free];
    pthread_mutex_unlock(&pool->lock);
    if (c == NULL && fs_codec_new(&c, pool->level) != 0)
        c = NULL;
    return c;
}

void fs_codec_pool_give(fs_codec_pool_t *pool, fs_codec_t *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    if (pool->n_free < FS_CODEC_POOL_MAX) {
        pool->free[pool->n_free++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    fs_codec_free(c);
}
