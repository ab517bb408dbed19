/*
 * Counts per piece and their summary. See counts.h.
 */
#include "filestore/counts.h"

#include <stdlib.h>

int fs_counts_add(fs_counts_t *c, uint32_t count)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uint32_t *p = realloc(c->v, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = count;
    return 0;
}

static int by_count(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void fs_counts_summary(fs_counts_t *c, uint32_t *fewest, uint32_t *median)
{
    *fewest = *median = 0;
    if (c->n == 0)
        return;
    qsort(c->v, c->n, sizeof(*c->v), by_count);
    *fewest = c->v[0];
    *median = c->v[c->n / 2];
}

void fs_counts_clear(fs_counts_t *c)
{
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}
