/*
 * KEY arguments. See keyarg.h.
 */
#include "tool/cli/keyarg.h"

#include "tool/cli/share_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads a whole (small) regular file. @return 0, or an exit code after
 * printing the error. */
static int read_raw(const char *path, uint8_t **buf, size_t *len)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    uint8_t *b;

    if (f == NULL)
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)CTL_MAX_BLOB) {
        fclose(f);
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", path,
                        S_ISREG(st.st_mode) ? "too large for a manifest file"
                                            : "not a regular file");
    }
    b = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (b == NULL || fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(b);
        fclose(f);
        return cli_fail(EXIT_INPUT, "cannot read %s", path);
    }
    fclose(f);
    *buf = b;
    *len = (size_t)st.st_size;
    return 0;
}

int keyarg_read_file(const char *path, uint8_t **buf, size_t *len)
{
    int code = read_raw(path, buf, len);

    if (code == 0 && !mf_is_bundle(*buf, *len)) {
        free(*buf);
        *buf = NULL;
        return cli_fail(EXIT_CORRUPT, "%s is not an emofs manifest file", path);
    }
    return code;
}

int keyarg_read_bundle(const char *arg, uint8_t **buf, size_t *len)
{
    int err;

    if (!share_link_is(arg)) {
        err = read_raw(arg, buf, len);
        if (err != 0 || mf_is_bundle(*buf, *len))
            return err;
        /* A file holding a manifest line (export --text -o FILE). */
        char *text = malloc(*len + 1);
        if (text == NULL) {
            free(*buf);
            return cli_fail(EXIT_FAIL, "out of memory");
        }
        memcpy(text, *buf, *len);
        text[*len] = '\0';
        free(*buf);
        *buf = NULL;
        if (strlen(text) != *len || !share_link_is(text)) {
            free(text);
            return cli_fail(EXIT_CORRUPT, "%s is not an emofs manifest file or line", arg);
        }
        err = share_link_decode(text, buf, len);
        free(text);
    } else {
        err = share_link_decode(arg, buf, len);
    }
    if (err == FS_ENOMEM)
        return cli_fail(EXIT_FAIL, "out of memory");
    if (err == FS_ETOOBIG)
        return cli_fail(EXIT_CORRUPT,
                        "the manifest text is longer than %u characters: not one "
                        "emofs made",
                        SHARE_LINK_MAX);
    if (err != 0)
        return cli_fail(EXIT_CORRUPT, "the manifest text is damaged or incomplete (copy the "
                                      "whole emofs:... line)");
    return 0;
}

int keyarg_bundle_arg(const char *arg)
{
    struct stat st;

    if (share_link_is(arg) || stat(arg, &st) == 0)
        return 0;
    return cli_fail(EXIT_USAGE,
                    "malformed key '%s' (want 64 hex digits, an emofs: line or a manifest file)",
                    arg);
}

int keyarg_import(const cli_common_t *c, const uint8_t *buf, size_t len, uint8_t key[MF_KEY_LEN])
{
    ctl_msg_t req = {0}, res;
    cli_common_t quiet = *c;
    int code;

    quiet.quiet = 1;
    req.type = CTL_IMPORT;
    req.blob = (uint8_t *)buf;
    req.blob_len = len;
    code = cli_run(&quiet, &req, &res);
    if (code)
        return code;
    if (res.status != 0)
        code = cli_fail(cli_exit_code(CTL_IMPORT, res.status), "cannot import the manifest: %s",
                        res.message);
    else
        memcpy(key, res.key, MF_KEY_LEN);
    ctl_msg_clear(&res);
    return code;
}

int keyarg_resolve(const cli_common_t *c, const char *arg, uint8_t key[MF_KEY_LEN])
{
    uint8_t *buf, secret[MF_KEY_LEN];
    size_t len;
    int code;

    if (mf_key_from_hex(key, arg) == 0)
        return 0;
    if (mf_capability_from_text(arg, key, secret) == 0)
        return cli_fail(EXIT_USAGE, "an encrypted file's KEY:SECRET works with get and cat; this "
                                    "command takes a plain file's key (or KEY, the part before "
                                    "the colon, for rm)");
    if ((code = keyarg_bundle_arg(arg)) != 0 || (code = keyarg_read_bundle(arg, &buf, &len)) != 0)
        return code;
    code = keyarg_import(c, buf, len, key);
    free(buf);
    return code;
}
