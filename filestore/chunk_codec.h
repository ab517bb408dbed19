/*
 * Chunk codec: how a chunk's bytes are stored. One header byte, then the
 * payload:
 *   0x00  raw: the plain bytes follow
 *   0x01  zstd: one zstd frame (with its content size) follows
 * zstd is used only when it makes the chunk smaller. A chunk's key is
 * SHA-256 of the encoded bytes, header included. schema/manifest.md
 * describes this format too.
 *
 * A codec context is not thread safe: use one per thread.
 */
#ifndef EMOFS_CHUNK_CODEC_H
#define EMOFS_CHUNK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define FS_CODEC_RAW           0x00
#define FS_CODEC_ZSTD          0x01
#define FS_CODEC_LEVEL_DEFAULT 1

typedef struct fs_codec fs_codec_t;

/* @return 0 and a context compressing at zstd level `level` (negative
 * levels are faster), or FS_ENOMEM. */
int fs_codec_new(fs_codec_t **out, int level);

/* Frees the context. Accepts NULL. */
void fs_codec_free(fs_codec_t *c);

/* @return the largest encoded size of a plain chunk of plain_len bytes. */
size_t fs_codec_bound(size_t plain_len);

/* Encodes plain[0..len) into out (room for fs_codec_bound(len) bytes).
 * Skips zstd quickly on data that does not compress: a chunk of 64 KiB or
 * more is compressed whole only if 8 KiB from its middle shrink by 1/32.
 * The output depends only on the input and the level (deterministic),
 * and *out_len <= len + 1.
 * @return 0 and *out_len, or FS_EINVAL / FS_ENOMEM. */
int fs_codec_encode(fs_codec_t *c, const uint8_t *plain, size_t len, uint8_t *out, size_t *out_len);

/* Decodes enc[0..len) into out, which has room for exactly plain_len bytes
 * (the size the manifest gives). Anything else, a bad header byte, a
 * frame that decodes to another size, a frame header without the content
 * size or with another one, trailing bytes, a raw payload of another
 * length, is FS_ECORRUPT. A damaged frame may still decode to plain_len
 * bytes: the chunk's key, not the codec, guards the content.
 * @return 0, FS_ECORRUPT or FS_ENOMEM. */
int fs_codec_decode(fs_codec_t *c, const uint8_t *enc, size_t len, uint8_t *out, size_t plain_len);

#endif /* EMOFS_CHUNK_CODEC_H */
