/*
 * Unpinning: a key's lines taken out of DIR/published. See emofs_node.h.
 */
#include "tool/node/emofs_node.h"

#include "tool/node/linefile.h"

#include <stdio.h>
#include <string.h>

/* What the rewrite looks for, and what it found. */
typedef struct unpin {
    const uint8_t *key;
    emofs_published_t *found;
    int hits;
} unpin_t;

/* Parses a "KEY SIZE NAME" line as emofs_published_list does.
 * @return 1 and *e, or 0 for a line that is not one. */
static int parse_line(const char *line, emofs_published_t *e)
{
    char hex[65];
    unsigned long long size;
    int name_at = 0;
    size_t len;

    if (sscanf(line, "%64s %llu %n", hex, &size, &name_at) != 2 || name_at == 0 ||
        mf_key_from_hex(e->key, hex) != 0)
        return 0;
    len = strlen(line + name_at);
    if (len > MF_NAME_MAX + 1)
        return 0;
    e->size = size;
    memcpy(e->name, line + name_at, len + 1);
    return 1;
}

static int keep_other(const char *line, void *arg)
{
    unpin_t *u = arg;
    emofs_published_t e;

    if (!parse_line(line, &e) || memcmp(e.key, u->key, MF_KEY_LEN) != 0)
        return 1;  /* not ours to judge: kept as it is */
    *u->found = e; /* the latest line wins, as in emofs_published_list */
    u->hits++;
    return 0;
}

int emofs_published_remove(const char *dir, const uint8_t key[MF_KEY_LEN],
                           emofs_published_t *removed)
{
    unpin_t u = {key, removed, 0};
    int n = emofs_line_rewrite(dir, "published", keep_other, &u);

    if (n < 0)
        return n;
    return u.hits > 0 ? 0 : FS_ENOENT;
}
