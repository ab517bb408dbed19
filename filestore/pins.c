/*
 * The blobs a published file uses in the local store. See pins.h.
 */
#include "filestore/pins.h"

#include "filestore/fs_error.h"
#include "filestore/keyset.h"
#include "manifests/dir_manifest.h"

#include <stdlib.h>
#include <string.h>

struct fs_pins {
    fs_keyset_t set;
    fs_keylist_t damaged; /* manifest nodes found damaged (and removed) */
};

/* A manifest still to read: its key and the kind its entry says. */
typedef struct todo {
    uint8_t key[MF_KEY_LEN];
    int kind;
} todo_t;

typedef struct walk {
    fs_pins_t *p;
    fs_store_t *st;
    todo_t *q;
    size_t n, cap;
    int missing, corrupt;
    const uint8_t *secret; /* a sealed file's root secret (the first todo), or NULL */
} walk_t;

int fs_pins_new(fs_pins_t **out)
{
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? 0 : FS_ENOMEM;
}

void fs_pins_free(fs_pins_t *p)
{
    if (p == NULL)
        return;
    fs_keyset_clear(&p->set);
    fs_keylist_clear(&p->damaged);
    free(p);
}

static int add_key(fs_pins_t *p, const uint8_t key[MF_KEY_LEN])
{
    return fs_keyset_add(&p->set, key) != NULL ? 0 : FS_ENOMEM;
}

static int push(walk_t *w, const uint8_t key[MF_KEY_LEN], int kind)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        void *q = realloc(w->q, cap * sizeof(*w->q));
        if (q == NULL)
            return FS_ENOMEM;
        w->q = q;
        w->cap = cap;
    }
    memcpy(w->q[w->n].key, key, MF_KEY_LEN);
    w->q[w->n++].kind = kind;
    return 0;
}

/* Reads the node under key into a (its key into the set once read).
 * @return 0, 1 when it is missing or damaged, or an FS_* code. */
static int add_node(walk_t *w, mf_asm_t *a, const uint8_t key[MF_KEY_LEN])
{
    uint8_t *data = NULL;
    size_t len = 0;
    int err = fs_store_get(w->st, key, &data, &len);

    if (err == FS_ENOMEM)
        return err;
    if (err == FS_EBADHASH && fs_keylist_add(&w->p->damaged, key) != 0)
        return FS_ENOMEM;
    if (err != 0) {
        w->missing = 1;
        return 1;
    }
    err = mf_asm_add(a, key, data, len);
    free(data);
    if (err == MF_ENOMEM)
        return FS_ENOMEM;
    if (err != 0) {
        w->corrupt = 1;
        return 1;
    }
    return add_key(w->p, key);
}

/* What a whole manifest lists: a file's chunks, a directory's entries
 * (queued). */
static int add_listed(walk_t *w, mf_asm_t *a)
{
    int err = 0;

    if (mf_asm_kind(a) == MF_KIND_DIR) {
        mf_dir_t d = {0};
        if (mf_dir_asm_finish(a, &d) != 0) {
            w->corrupt = 1;
            return 0;
        }
        for (size_t i = 0; err == 0 && i < d.n_entries; i++)
            if (d.entries[i].kind == MF_KIND_FILE || d.entries[i].kind == MF_KIND_DIR)
                err = push(w, d.entries[i].key, d.entries[i].kind);
        mf_dir_clear(&d);
        return err;
    }
    mf_manifest_t m = {0};
    if (mf_asm_finish(a, &m) != 0) {
        w->corrupt = 1;
        return 0;
    }
    for (size_t i = 0; err == 0 && i < m.n_entries; i++)
        err = add_key(w->p, m.entries[i].key);
    mf_manifest_clear(&m);
    return err;
}

/* Reads one manifest (every node of it) and what it lists. */
static int walk_one(walk_t *w, const todo_t *t)
{
    uint8_t want[MF_KEY_LEN];
    mf_asm_t *a;
    int err;

    if (fs_keyset_find(&w->p->set, t->key) != NULL)
        return 0; /* read already (a tree may name one file twice) */
    if ((w->secret != NULL && memcmp(t->key, w->q[0].key, MF_KEY_LEN) == 0
             ? mf_asm_new_sealed(&a, t->key, w->secret)
             : mf_asm_new_kind(&a, t->key, t->kind)) != 0)
        return FS_ENOMEM;
    err = add_node(w, a, t->key);
    while (err == 0 && mf_asm_pending(a, &want, 1) > 0)
        err = add_node(w, a, want);
    if (err == 0)
        err = add_listed(w, a);
    mf_asm_free(a);
    return err < 0 ? err : 0;
}

int fs_pins_add(fs_pins_t *p, fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *secret)
{
    walk_t w = {p, st, NULL, 0, 0, 0, 0, secret};
    int err = push(&w, key, MF_KIND_ANY);

    for (size_t i = 0; err == 0 && i < w.n; i++) {
        todo_t t = w.q[i]; /* push may move the queue */
        err = walk_one(&w, &t);
    }
    free(w.q);
    if (err != 0)
        return err;
    return w.corrupt ? FS_ECORRUPT : w.missing ? FS_ENOENT : 0;
}

int fs_pins_has(const fs_pins_t *p, const uint8_t key[MF_KEY_LEN])
{
    return fs_keyset_find((fs_keyset_t *)&p->set, key) != NULL;
}

size_t fs_pins_count(const fs_pins_t *p)
{
    return p->set.n;
}

int fs_pins_foreach(const fs_pins_t *p, int (*fn)(const uint8_t key[MF_KEY_LEN], void *arg),
                    void *arg)
{
    for (size_t i = 0; i < p->set.cap; i++) {
        if (p->set.state[i] != 1)
            continue;
        int r = fn(p->set.keys[i], arg);
        if (r != 0)
            return r;
    }
    return 0;
}

const fs_keylist_t *fs_pins_damaged(const fs_pins_t *p)
{
    return &p->damaged;
}
