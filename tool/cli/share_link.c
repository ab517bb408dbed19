/*
 * Manifests as one line of text. See share_link.h.
 */
#include "tool/cli/share_link.h"

#include "filestore/fs_error.h"
#include "manifests/manifest.h"
#include "tool/cli/base64url.h"

#include <stdlib.h>
#include <string.h>

#define PREFIX_LEN (sizeof(SHARE_LINK_PREFIX) - 1)

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int share_link_is(const char *text)
{
    if (text == NULL)
        return 0;
    while (is_blank(*text))
        text++;
    return strncmp(text, SHARE_LINK_PREFIX, PREFIX_LEN) == 0;
}

int share_link_encode(const uint8_t *bundle, size_t len, char **line, size_t *line_len)
{
    size_t n = PREFIX_LEN + b64url_encoded_len(len);
    char *s;

    *line = NULL;
    *line_len = n;
    /* len / 3 first: no overflow in the length for any len. */
    if (len / 3 > SHARE_LINK_MAX || n > SHARE_LINK_MAX)
        return FS_ETOOBIG;
    s = malloc(n + 1);
    if (s == NULL)
        return FS_ENOMEM;
    memcpy(s, SHARE_LINK_PREFIX, PREFIX_LEN);
    b64url_encode(bundle, len, s + PREFIX_LEN);
    *line = s;
    return 0;
}

int share_link_decode(const char *line, uint8_t **bundle, size_t *len)
{
    size_t n = 0, got;
    char *text;
    uint8_t *out, key[MF_KEY_LEN];
    mf_blob_t *blobs = NULL;
    size_t n_blobs = 0;

    *bundle = NULL;
    *len = 0;
    while (is_blank(*line))
        line++;
    if (!share_link_is(line))
        return FS_ECORRUPT;
    if (strlen(line) > SHARE_LINK_MAX)
        return FS_ETOOBIG;
    line += PREFIX_LEN;
    text = malloc(strlen(line) + 1);
    if (text == NULL)
        return FS_ENOMEM;
    for (const char *p = line; *p != '\0'; p++)
        if (!is_blank(*p))
            text[n++] = *p;
    out = malloc(b64url_decoded_max(n) + 1);
    if (out == NULL) {
        free(text);
        return FS_ENOMEM;
    }
    if (b64url_decode(text, n, out, &got) != 0) {
        free(text);
        free(out);
        return FS_ECORRUPT;
    }
    free(text);
    switch (mf_bundle_decode(out, got, key, &blobs, &n_blobs)) {
    case 0:
        mf_blobs_free(blobs, n_blobs);
        *bundle = out;
        *len = got;
        return 0;
    case MF_ENOMEM:
        free(out);
        return FS_ENOMEM;
    default:
        free(out);
        return FS_ECORRUPT;
    }
}
