/*
 * How many nodes took or hold each piece of a file, and their summary (the
 * fewest, the median): what put, republish and health report. Internal to
 * filestore. Not thread safe.
 */
#ifndef EMOFS_COUNTS_H
#define EMOFS_COUNTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_counts {
    uint32_t *v;
    size_t n, cap;
} fs_counts_t;

/* Appends count. @return 0, or -1 if out of memory (counts unchanged). */
int fs_counts_add(fs_counts_t *c, uint32_t count);

/* Sets *fewest and *median of the counts so far (both 0 when there are
 * none); sorts them. */
void fs_counts_summary(fs_counts_t *c, uint32_t *fewest, uint32_t *median);

/* Frees what c holds and zeroes it. */
void fs_counts_clear(fs_counts_t *c);

#endif /* EMOFS_COUNTS_H */
