/*
 * Fuzz target for manifests as one line of text (tool/cli/share_link.h,
 * tool/cli/base64url.h). Whatever the bytes, nothing may crash, leak or read
 * outside them:
 *
 *   - as an "emofs:" line: if it decodes, the manifest file encodes back
 *     to a line that decodes to the same bytes;
 *   - as base64url: if it decodes, it is the canonical encoding of what it
 *     decodes to (encoding gives back exactly the input).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tool/cli/base64url.h"
#include "tool/cli/share_link.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *line = NULL, *again;
    uint8_t *bundle = NULL, *back = NULL, *raw;
    size_t len, back_len, line_len, raw_len;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (share_link_decode(text, &bundle, &len) == 0) {
        check(share_link_encode(bundle, len, &line, &line_len) == 0);
        check(share_link_decode(line, &back, &back_len) == 0);
        check(back_len == len && memcmp(back, bundle, len) == 0);
        free(line);
        free(back);
        free(bundle);
    } else {
        check(bundle == NULL);
    }
    raw = malloc(b64url_decoded_max(size) + 1);
    if (raw != NULL && b64url_decode(text, size, raw, &raw_len) == 0) {
        again = malloc(b64url_encoded_len(raw_len) + 1);
        if (again != NULL) {
            b64url_encode(raw, raw_len, again);
            check(strlen(again) == size && memcmp(again, data, size) == 0);
            free(again);
        }
    }
    free(raw);
    free(text);
    return 0;
}
