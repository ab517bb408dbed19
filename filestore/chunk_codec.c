/*
 * The chunk codec: one header byte (raw or zstd) and the payload. See
 * chunk_codec.h.
 */
#include "filestore/chunk_codec.h"

#include "filestore/fs_error.h"
#include "manifests/le.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h> /* ZSTD_error_memory_allocation */

/* Chunks at least this large are sampled before being compressed whole. */
#define SAMPLE_MIN_LEN (64u << 10)
/* The sample: this many bytes from the middle of the chunk. */
#define SAMPLE_LEN (8u << 10)
/* Compress the whole chunk only if the sample shrinks to at most
 * SAMPLE_KEEP_NUM / SAMPLE_KEEP_DEN of its size. */
#define SAMPLE_KEEP_NUM 31
#define SAMPLE_KEEP_DEN 32

struct fs_codec {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
};

int fs_codec_new(fs_codec_t **out, int level)
{
    fs_codec_t *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL)
        return FS_ENOMEM;
    c->cctx = ZSTD_createCCtx();
    c->dctx = ZSTD_createDCtx();
    if (c->cctx == NULL || c->dctx == NULL)
        goto fail;
    /* The content size goes into the frame header so that decoding can
     * check it against the manifest before writing anything. No checksum:
     * the chunk's key already covers every byte. One thread, so the
     * output is the same for the same input and level. */
    if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_nbWorkers, 0)))
        goto fail;
    *out = c;
    return 0;

fail:
    fs_codec_free(c);
    return FS_ENOMEM;
}

void fs_codec_free(fs_codec_t *c)
{
    if (c == NULL)
        return;
    ZSTD_freeCCtx(c->cctx);
    ZSTD_freeDCtx(c->dctx);
    free(c);
}

size_t fs_codec_bound(size_t plain_len)
{
    size_t z = ZSTD_compressBound(plain_len);

    return 1 + (z > plain_len ? z : plain_len);
}

/* @return 1 if a sample from the middle of plain shrinks enough to make
 * compressing the whole chunk worth trying. The sample is compressed
 * into out, which is overwritten afterwards. */
static int sample_compresses(fs_codec_t *c, const uint8_t *plain, size_t len, uint8_t *out,
                             size_t cap)
{
    const uint8_t *mid = plain + (len - SAMPLE_LEN) / 2;
    size_t z;

    if (len < SAMPLE_MIN_LEN)
        return 1;
    z = ZSTD_compress2(c->cctx, out, cap, mid, SAMPLE_LEN);
    /* On an error, let the full compression decide. */
    return ZSTD_isError(z) || z * SAMPLE_KEEP_DEN <= (size_t)SAMPLE_LEN * SAMPLE_KEEP_NUM;
}

static void encode_raw(const uint8_t *plain, size_t len, uint8_t *out, size_t *out_len)
{
    out[0] = FS_CODEC_RAW;
    if (len > 0)
        memcpy(out + 1, plain, len);
    *out_len = 1 + len;
}

int fs_codec_encode(fs_codec_t *c, const uint8_t *plain, size_t len, uint8_t *out, size_t *out_len)
{
    size_t cap, z;

    if (c == NULL || out == NULL || out_len == NULL || (plain == NULL && len > 0))
        return FS_EINVAL;
    cap = fs_codec_bound(len) - 1;
    /* A zstd frame is never smaller than 9 bytes, nor than nothing. */
    if (len <= 16 || !sample_compresses(c, plain, len, out + 1, cap)) {
        encode_raw(plain, len, out, out_len);
        return 0;
    }
    z = ZSTD_compress2(c->cctx, out + 1, cap, plain, len);
    if (ZSTD_isError(z)) {
        if (ZSTD_getErrorCode(z) == ZSTD_error_memory_allocation)
            return FS_ENOMEM;
        return FS_EINVAL;
    }
    if (z >= len) {
        encode_raw(plain, len, out, out_len);
        return 0;
    }
    out[0] = FS_CODEC_ZSTD;
    *out_len = 1 + z;
    return 0;
}

/* Checks that frame[0..len) is exactly one zstd frame (not a skippable
 * one, whose magic differs) whose header gives plain_len as its content
 * size. */
static int check_frame(const uint8_t *frame, size_t len, size_t plain_len)
{
    unsigned long long size;
    uint32_t magic;
    size_t r;

    if (len < 4)
        return FS_ECORRUPT;
    magic = le_get32(frame);
    if (magic != ZSTD_MAGICNUMBER)
        return FS_ECORRUPT;
    size = ZSTD_getFrameContentSize(frame, len);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
        size != (unsigned long long)plain_len)
        return FS_ECORRUPT;
    r = ZSTD_findFrameCompressedSize(frame, len);
    if (ZSTD_isError(r) || r != len)
        return FS_ECORRUPT;
    return 0;
}

int fs_codec_decode(fs_codec_t *c, const uint8_t *enc, size_t len, uint8_t *out, size_t plain_len)
{
    size_t r;
    int err;

    if (c == NULL || (enc == NULL && len > 0) || (out == NULL && plain_len > 0))
        return FS_ECORRUPT;
    if (len < 1)
        return FS_ECORRUPT;
    switch (enc[0]) {
    case FS_CODEC_RAW:
        if (len - 1 != plain_len)
            return FS_ECORRUPT;
        if (plain_len > 0)
            memcpy(out, enc + 1, plain_len);
        return 0;
    case FS_CODEC_ZSTD:
        err = check_frame(enc + 1, len - 1, plain_len);
        if (err != 0)
            return err;
        r = ZSTD_decompressDCtx(c->dctx, out, plain_len, enc + 1, len - 1);
        if (ZSTD_isError(r)) {
            if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
                return FS_ENOMEM;
            return FS_ECORRUPT;
        }
        return r == plain_len ? 0 : FS_ECORRUPT;
    default:
        return FS_ECORRUPT;
    }
}
