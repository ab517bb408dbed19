/*
 * emofs rm and emofs gc on a node. See maint.h.
 */
#include "tool/node/maint.h"

#include "filestore/filestore.h"
#include "filestore/keyset.h"
#include "filestore/pins.h"
#include "tool/node/partials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fetches again, in the background, the manifest nodes of published files
 * that were found damaged (and removed) while reading them. */
static void repin_damaged(emofs_node_t *node, const fs_pins_t *keep)
{
    const fs_keylist_t *bad = keep != NULL ? fs_pins_damaged(keep) : NULL;

    for (size_t i = 0; bad != NULL && i < bad->n; i++)
        (void)fs_fetch_repin(&node->ctx, bad->keys[i]); /* no peers: it stays missing */
}

/* Adds the blobs of every published file but skip (NULL: none) to keep.
 * @return 0, or an FS_* code with msg saying which file could not be read
 * whole. */
static int pins_of_published(emofs_node_t *node, const emofs_published_t *list, size_t n,
                             const uint8_t *skip, fs_pins_t *keep, char *msg, size_t msg_cap)
{
    char hex[65];

    for (size_t i = 0; i < n; i++) {
        if (skip != NULL && memcmp(list[i].key, skip, MF_KEY_LEN) == 0)
            continue;
        int err =
            fs_pins_add(keep, node->store, list[i].key, list[i].sealed ? list[i].secret : NULL);
        if (err == FS_ENOMEM)
            return err;
        if (err != 0) {
            mf_key_to_hex(list[i].key, hex);
            snprintf(msg, msg_cap,
                     "the manifest of %s (%s) is not whole in %s/blobs, so what it uses is not "
                     "known; no blob was removed (%s)",
                     hex, list[i].name, node->dir,
                     fs_pins_damaged(keep)->n > 0
                         ? "a damaged part of it is being fetched again from the network"
                         : "emofs rm it, or get it again");
            return err;
        }
    }
    return 0;
}

/* Removing the blobs of a set that another set does not keep. */
typedef struct sweep {
    fs_store_t *store;
    const fs_pins_t *keep; /* NULL: keep nothing */
    ctl_freed_t *freed;
} sweep_t;

/* Removes one blob unless kept (or provisional: a put's, still settling). */
static void drop_blob(sweep_t *s, const uint8_t key[MF_KEY_LEN])
{
    size_t len = 0;

    if (s->keep != NULL && fs_pins_has(s->keep, key)) {
        s->freed->shared++;
        return;
    }
    if (fs_store_has(s->store, key, &len) && fs_store_drop(s->store, key) == 0) {
        s->freed->blobs++;
        s->freed->bytes += len;
    }
}

static int drop_pinned(const uint8_t key[MF_KEY_LEN], void *arg)
{
    drop_blob(arg, key);
    return 0;
}

int emofs_maint_rm(emofs_node_t *node, const uint8_t key[MF_KEY_LEN], ctl_freed_t *freed,
                   char *name, size_t name_cap, char *msg, size_t msg_cap)
{
    emofs_published_t *list = NULL, removed;
    fs_pins_t *keep = NULL, *drop = NULL;
    size_t n = 0, i;
    char hex[65];
    int err, keep_err;

    memset(freed, 0, sizeof(*freed));
    freed->ttl_s = node->ttl_s;
    msg[0] = '\0';
    if ((err = emofs_published_list(node->dir, &list, &n)) != 0)
        return err;
    for (i = 0; i < n && memcmp(list[i].key, key, MF_KEY_LEN) != 0; i++)
        ;
    if (i == n) {
        mf_key_to_hex(key, hex);
        snprintf(msg, msg_cap, "%s is not a file this node published (emofs ls lists them)", hex);
        free(list);
        return FS_ENOENT;
    }
    if (fs_pins_new(&keep) != 0 || fs_pins_new(&drop) != 0) {
        err = FS_ENOMEM;
        goto done;
    }
    /* What the others use is read before anything changes; the file's own
     * blobs as far as they can be read (a damaged file is unpinned too). */
    keep_err = pins_of_published(node, list, n, key, keep, msg, msg_cap);
    if (keep_err == FS_ENOMEM ||
        (err = fs_pins_add(drop, node->store, key, list[i].sealed ? list[i].secret : NULL)) ==
            FS_ENOMEM) {
        err = FS_ENOMEM;
        goto done;
    }
    err = emofs_published_remove(node->dir, key, &removed);
    if (err != 0) {
        snprintf(msg, msg_cap, "cannot rewrite %s/published: %s", node->dir, fs_strerror(err));
        goto done;
    }
    snprintf(name, name_cap, "%s", removed.name);
    emofs_node_unprovide(node, key); /* it serves the file no more */
    if (keep_err == 0) {
        sweep_t s = {node->store, keep, freed};
        fs_pins_foreach(drop, drop_pinned, &s);
    }
    err = 0;
done:
    repin_damaged(node, keep);
    fs_pins_free(keep);
    fs_pins_free(drop);
    free(list);
    return err;
}

/* The store's blobs no published file uses. */
typedef struct orphans {
    const fs_pins_t *keep;
    fs_keylist_t keys;
} orphans_t;

static int find_orphan(const uint8_t key[MF_KEY_LEN], uint64_t size, void *arg)
{
    orphans_t *o = arg;

    (void)size;
    if (fs_pins_has(o->keep, key))
        return 0;
    return fs_keylist_add(&o->keys, key) == 0 ? 0 : FS_ENOMEM;
}

int emofs_maint_gc(emofs_node_t *node, ctl_freed_t *freed, char *msg, size_t msg_cap)
{
    emofs_published_t *list = NULL;
    emofs_partials_result_t pr;
    fs_pins_t *keep = NULL;
    orphans_t o = {NULL, {NULL, 0, 0}};
    size_t n = 0;
    int err;

    memset(freed, 0, sizeof(*freed));
    msg[0] = '\0';
    if ((err = emofs_published_list(node->dir, &list, &n)) != 0 || (err = fs_pins_new(&keep)) != 0)
        goto done;
    err = pins_of_published(node, list, n, NULL, keep, msg, msg_cap);
    if (err == FS_ENOMEM)
        goto done;
    if (err == 0) {
        o.keep = keep;
        err = fs_store_foreach(node->store, find_orphan, &o);
        if (err != 0) {
            snprintf(msg, msg_cap, "cannot list %s/blobs: %s", node->dir, fs_strerror(err));
            goto done;
        }
        sweep_t s = {node->store, NULL, freed};
        for (size_t i = 0; i < o.keys.n; i++)
            drop_blob(&s, o.keys.keys[i]);
    }
    /* The files of abandoned gets go whatever the blobs' fate. */
    err = emofs_partials_collect(node->dir, &pr);
    freed->partials = pr.removed;
    freed->partial_bytes = pr.bytes;
    freed->busy = pr.busy;
    if (err != 0)
        snprintf(msg, msg_cap, "cannot rewrite %s/%s: %s", node->dir, EMOFS_PARTIALS_NAME,
                 fs_strerror(err));
done:
    repin_damaged(node, keep);
    fs_keylist_clear(&o.keys);
    fs_pins_free(keep);
    free(list);
    return err;
}
