/*
 * Unpinning: a key's lines taken out of DIR/published. See emofs_node.h.
 */
#include "tool/node/emofs_node.h"

#include "tool/node/linefile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the rewrite looks for, and what it found. */
typedef struct unpin {
    const uint8_t *key;
    emofs_published_t *found;
    int hits;
} unpin_t;

int emofs_published_parse(const char *line, emofs_published_t *e)
{
    char hex[130], *end;
    unsigned long long size, copies = 0;
    int size_at = 0;
    size_t len;

    if (sscanf(line, "%129s %n", hex, &size_at) != 1 || size_at == 0 ||
        !isdigit((unsigned char)line[size_at]))
        return 0;
    memset(e->secret, 0, MF_KEY_LEN);
    e->sealed = mf_capability_from_text(hex, e->key, e->secret) == 0; /* "KEY:SECRET" */
    if (!e->sealed && mf_key_from_hex(e->key, hex) != 0)
        return 0;
    errno = 0;
    size = strtoull(line + size_at, &end, 10);
    if (errno != 0)
        return 0;
    if (*end == '/') { /* "SIZE/COPIES" */
        const char *c = end + 1;
        if (!isdigit((unsigned char)*c))
            return 0;
        copies = strtoull(c, &end, 10);
        if (copies < 1 || copies > EMOFS_COPIES_MAX)
            return 0;
    }
    if (*end != ' ')
        return 0;
    while (*end == ' ')
        end++;
    len = strlen(end);
    if (len > MF_NAME_MAX + 1)
        return 0;
    e->size = size;
    e->copies = (unsigned)copies;
    memcpy(e->name, end, len + 1);
    return 1;
}

static int keep_other(const char *line, void *arg)
{
    unpin_t *u = arg;
    emofs_published_t e;

    if (!emofs_published_parse(line, &e) || memcmp(e.key, u->key, MF_KEY_LEN) != 0)
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
