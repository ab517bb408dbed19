/*
 * manifests: the manifest file, every node of a manifest in one buffer
 * (schema/manifest.md, section 5).
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"

int mf_is_bundle(const uint8_t *buf, size_t len)
{
    return buf != NULL && len >= 4 && memcmp(buf, MF__BUNDLE_MAGIC, 4) == 0;
}

/* Marks in keep[] the first blob of each key and sums the file's length
 * and node count. @return 0, MF_EINVAL (a bad blob, the root not last
 * after all) or MF_ENOMEM. */
static int plan(const mf_blob_t *blobs, size_t n, uint8_t *keep, size_t *len, size_t *count)
{
    mf__map_t seen;
    int rc = MF_OK;

    mf__map_init(&seen);
    *len = MF__BUNDLE_HDR;
    *count = 0;
    for (size_t i = 0; i < n && rc == MF_OK; i++) {
        if (blobs[i].data == NULL || blobs[i].len == 0 || blobs[i].len > UINT32_MAX ||
            blobs[i].len > SIZE_MAX - MF__BUNDLE_REC - *len) {
            rc = MF_EINVAL;
            break;
        }
        keep[i] = mf__map_get(&seen, blobs[i].key) == SIZE_MAX;
        if (!keep[i]) {
            rc = i == n - 1 ? MF_EINVAL : MF_OK; /* the root must stay last */
            continue;
        }
        rc = mf__map_put(&seen, blobs[i].key, i);
        *len += MF__BUNDLE_REC + blobs[i].len;
        (*count)++;
    }
    mf__map_free(&seen);
    return rc;
}

int mf_bundle_encode(const mf_blob_t *blobs, size_t n, uint8_t **out, size_t *out_len)
{
    size_t len, count;
    uint8_t *buf, *p, *keep;
    int rc;

    if (blobs == NULL || n == 0 || n > UINT32_MAX || out == NULL || out_len == NULL)
        return MF_EINVAL;
    keep = malloc(n);
    if (keep == NULL)
        return MF_ENOMEM;
    rc = plan(blobs, n, keep, &len, &count);
    buf = rc == MF_OK ? malloc(len) : NULL;
    if (rc == MF_OK && buf == NULL)
        rc = MF_ENOMEM;
    if (rc != MF_OK) {
        free(keep);
        return rc;
    }
    memcpy(buf, MF__BUNDLE_MAGIC, 4);
    buf[4] = MF__VERSION;
    p = le_put32(buf + 5, (uint32_t)count);
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        memcpy(p, blobs[i].key, MF_KEY_LEN);
        p = le_put32(p + MF_KEY_LEN, (uint32_t)blobs[i].len);
        memcpy(p, blobs[i].data, blobs[i].len);
        p += blobs[i].len;
    }
    free(keep);
    *out = buf;
    *out_len = len;
    return MF_OK;
}

/* Checks the framing of buf: header, count records, nothing after.
 * @return the count, or 0 if malformed. */
static uint32_t check_framing(const uint8_t *buf, size_t len)
{
    size_t off = MF__BUNDLE_HDR;
    uint32_t count;

    if (len < MF__BUNDLE_HDR || !mf_is_bundle(buf, len) || buf[4] != MF__VERSION)
        return 0;
    count = le_get32(buf + 5);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n;
        if (len - off < MF__BUNDLE_REC)
            return 0;
        n = le_get32(buf + off + MF_KEY_LEN);
        if (n == 0 || len - off - MF__BUNDLE_REC < n)
            return 0;
        off += MF__BUNDLE_REC + n;
    }
    return off == len ? count : 0;
}

/* Copies the node of len bytes at p, filed under key, into b, after
 * checking that it hashes to key and was not filed before.
 * @return 0, MF_EFORMAT, MF_EHASH or MF_ENOMEM. */
static int take_node(mf_blob_t *b, mf__map_t *seen, size_t i, const uint8_t *key, const uint8_t *p,
                     size_t len)
{
    uint8_t h[MF_KEY_LEN];
    int rc;

    if (mf__map_get(seen, key) != SIZE_MAX)
        return MF_EFORMAT; /* a node filed twice */
    rc = mf_sha256(p, len, h);
    if (rc != MF_OK)
        return rc;
    if (memcmp(h, key, MF_KEY_LEN) != 0)
        return MF_EHASH;
    b->data = malloc(len);
    if (b->data == NULL)
        return MF_ENOMEM;
    memcpy(b->key, key, MF_KEY_LEN);
    memcpy(b->data, p, len);
    b->len = len;
    return mf__map_put(seen, key, i);
}

int mf_bundle_decode(const uint8_t *buf, size_t len, uint8_t file_key[MF_KEY_LEN],
                     mf_blob_t **blobs, size_t *n)
{
    mf__map_t seen;
    mf_blob_t *b;
    uint32_t count;
    size_t off = MF__BUNDLE_HDR;
    int rc = MF_OK;

    if (buf == NULL || file_key == NULL || blobs == NULL || n == NULL)
        return MF_EINVAL;
    count = check_framing(buf, len);
    if (count == 0)
        return MF_EFORMAT;
    b = calloc(count, sizeof(*b));
    if (b == NULL)
        return MF_ENOMEM;
    mf__map_init(&seen);
    for (uint32_t i = 0; i < count && rc == MF_OK; i++) {
        size_t node_len = le_get32(buf + off + MF_KEY_LEN);
        rc = take_node(&b[i], &seen, i, buf + off, buf + off + MF__BUNDLE_REC, node_len);
        off += MF__BUNDLE_REC + node_len;
    }
    mf__map_free(&seen);
    if (rc != MF_OK) {
        mf_blobs_free(b, count);
        return rc;
    }
    memcpy(file_key, b[count - 1].key, MF_KEY_LEN);
    *blobs = b;
    *n = count;
    return MF_OK;
}
