/*
 * Content-defined chunking (FastCDC with a gear hash and normalised
 * chunking): cut points depend only on the bytes near them, so inserting
 * or deleting bytes in a file changes only the chunks around the edit.
 *
 * Pure code, no allocation, no globals but a constant table.
 */
#ifndef EMOFS_CHUNKER_H
#define EMOFS_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define FS_CHUNK_MIN_DEFAULT (64u << 10)
#define FS_CHUNK_AVG_DEFAULT (256u << 10)
#define FS_CHUNK_MAX_DEFAULT (1u << 20)

typedef struct fs_chunker_params {
    size_t min; /* no chunk is smaller, except the file's last */
    size_t avg; /* target average, a power of two */
    size_t max; /* no chunk is larger */
} fs_chunker_params_t;

/* Fills p with 64 KiB / 256 KiB / 1 MiB. */
void fs_chunker_params_default(fs_chunker_params_t *p);

/* @return 0 if p is usable: 64 <= min < avg < max <= 16 MiB, avg a power
 * of two; else FS_EINVAL. Tests use small sizes (min 256, avg 1 KiB, ...). */
int fs_chunker_params_check(const fs_chunker_params_t *p);

/* Finds where the chunk that starts at data[0] ends. p must pass
 * fs_chunker_params_check().
 * data holds len bytes of the file from the chunk's start; final is 1 when
 * they run to the end of the file.
 * @return the chunk's length (1..len), or 0 when more bytes are needed to
 * decide: final == 0 and len < p->max. Returns 0 for len == 0.
 * The answer depends only on data[0..min(len, max)), so feeding a buffer
 * of at least p->max bytes (or the rest of the file) always decides.
 * A caller feeding pieces may call again with more bytes from the same
 * start and gets the cut that the whole file would give. */
size_t fs_chunker_cut(const fs_chunker_params_t *p, const uint8_t *data, size_t len, int final);

#endif /* EMOFS_CHUNKER_H */
