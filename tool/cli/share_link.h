/*
 * A manifest as one line of text, to paste into a chat or a mail:
 * "emofs:" and the manifest file (schema/manifest.md, sections 5 and 5.1) in
 * base64url without padding (tool/cli/base64url.h). `emofs manifest export KEY
 * --text` prints it; `emofs get`, `emofs manifest import` and `show` take
 * it wherever they take a key or a manifest file.
 */
#ifndef EMOFS_SHARE_LINK_H
#define EMOFS_SHARE_LINK_H

#include <stddef.h>
#include <stdint.h>

#define SHARE_LINK_PREFIX "emofs:"
/* The longest line, prefix included: half of what one command-line
 * argument may hold on Linux (MAX_ARG_STRLEN, 128 KiB). A larger manifest
 * (a file of about 300 MiB and more) is shared as a file. */
#define SHARE_LINK_MAX (64u << 10)

/* @return 1 if text starts with SHARE_LINK_PREFIX (after blanks), else 0. */
int share_link_is(const char *text);

/* Encodes a manifest file's bytes as a line (no newline).
 * @return 0 and a malloc()ed, NUL-terminated *line; FS_ETOOBIG if the
 * line would be longer than SHARE_LINK_MAX (*line_len then says how long);
 * or FS_ENOMEM. */
int share_link_encode(const uint8_t *bundle, size_t len, char **line, size_t *line_len);

/* Decodes a line back into the manifest file's bytes and checks them as a
 * manifest file (mf_bundle_decode: the structure, and every node against
 * its key). Blanks anywhere in the line (a pasted line break) are ignored.
 * @return 0 and a malloc()ed *bundle of *len bytes; FS_ECORRUPT (no
 * prefix, not base64url, truncated, or not a sound manifest file);
 * FS_ETOOBIG (longer than SHARE_LINK_MAX); or FS_ENOMEM. */
int share_link_decode(const char *line, uint8_t **bundle, size_t *len);

#endif /* EMOFS_SHARE_LINK_H */
