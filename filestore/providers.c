/*
 * The providers of a file, found for a get. See providers.h.
 */
#include "filestore/providers.h"

#include <stdlib.h>
#include <string.h>

struct fs_providers {
    unsigned refs; /* the get's, and the lookup's until it reports */
    size_t n;
    dht_addr_t addr[FS_PROVIDERS_MAX];
};

static void on_found(int status, const dht_provider_t *found, size_t n, void *arg)
{
    fs_providers_t *p = arg;

    for (size_t i = 0; status == 0 && i < n && p->n < FS_PROVIDERS_MAX; i++)
        p->addr[p->n++] = found[i].addr;
    fs_providers_release(p);
}

fs_providers_t *fs_providers_find(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN])
{
    fs_providers_t *p;
    dht_id_t id;

    if (ctx->dht == NULL || (p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    memcpy(id.b, key, MF_KEY_LEN);
    p->refs = 2;
    if (dht_find_providers(ctx->dht, &id, on_found, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

const dht_addr_t *fs_providers_pick(const fs_providers_t *p, uint32_t i)
{
    if (p == NULL || p->n == 0)
        return NULL;
    return &p->addr[i % p->n];
}

void fs_providers_failed(fs_providers_t *p, const dht_addr_t *addr)
{
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        if (dht_addr_equal(&p->addr[i], addr)) {
            p->addr[i] = p->addr[--p->n];
            return;
        }
    }
}

size_t fs_providers_count(const fs_providers_t *p)
{
    return p != NULL ? p->n : 0;
}

fs_providers_t *fs_providers_hold(fs_providers_t *p)
{
    if (p != NULL)
        p->refs++;
    return p;
}

void fs_providers_release(fs_providers_t *p)
{
    if (p != NULL && --p->refs == 0)
        free(p);
}
