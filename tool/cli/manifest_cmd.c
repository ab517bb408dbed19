/*
 * emofs manifest show | export | import. See commands.h.
 */
#include "tool/cli/commands.h"

#include "tool/cli/cli.h"
#include "tool/cli/json.h"
#include "tool/cli/keyarg.h"
#include "tool/cli/output.h"
#include "tool/cli/progress.h"
#include "tool/cli/share_link.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int manifest_usage(FILE *f, int code)
{
    fprintf(f,
            "usage: emofs manifest show KEY [--json] [--data DIR]\n"
            "       emofs manifest export KEY -o FILE [--force] [--data DIR]\n"
            "       emofs manifest export KEY --text [-o FILE] [--force] [--data DIR]\n"
            "       emofs manifest import FILE|LINE [--data DIR]\n"
            "show:   the manifest for people: name, size, SHA-256, chunk list\n"
            "export: the manifest as a file, to share outside the network (-o -:\n"
            "        standard output); with --text, as one line to paste (emofs: and\n"
            "        base64url, at most %u characters: a larger manifest, of a file of\n"
            "        about 300 MiB or more, needs -o FILE), on stdout or in FILE with -o.\n"
            "        An existing FILE is replaced only with --force (else exit 9).\n"
            "import: a manifest file or line into this data directory; prints its key\n"
            "KEY is 64 hex digits, an emofs: line, or the path of a manifest file;\n"
            "show also takes an encrypted file's KEY:SECRET (export does not: share\n"
            "the capability itself).\n"
            "Exit codes: 2 usage (also: a manifest too large for --text), 3 cannot read\n"
            "FILE, 4 key not found, 6 cannot write FILE, 8 a damaged manifest or line,\n"
            "9 FILE exists.\n",
            SHARE_LINK_MAX);
    return code;
}

/* Fetches the manifest file bytes for KEY or an encrypted file's
 * KEY:SECRET (then *secret, else NULL), or reads them from a file. */
static int fetch_bundle(const cli_common_t *c, const char *arg, uint8_t **buf, size_t *len,
                        uint8_t secret_buf[MF_KEY_LEN], const uint8_t **secret)
{
    uint8_t key[MF_KEY_LEN];
    ctl_msg_t req = {0}, res;
    int code;

    *secret = NULL;
    if (mf_capability_from_text(arg, key, secret_buf) == 0) {
        *secret = secret_buf;
        req.has_secret = 1;
        memcpy(req.secret, secret_buf, MF_KEY_LEN);
    } else if (mf_key_from_hex(key, arg) != 0) {
        if ((code = keyarg_bundle_arg(arg)) != 0)
            return code;
        return keyarg_read_bundle(arg, buf, len);
    }
    req.type = CTL_MANIFEST;
    memcpy(req.key, key, MF_KEY_LEN);
    if ((code = cli_run(c, &req, &res)) != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_MANIFEST, res.status), "%s", res.message);
    } else {
        *buf = res.blob;
        *len = res.blob_len;
        res.blob = NULL;
        res.blob_len = 0;
    }
    ctl_msg_clear(&res);
    return code;
}

/* The manifest as one JSON object (README: JSON). */
static void show_json(const uint8_t key[MF_KEY_LEN], const mf_manifest_t *m, size_t nodes)
{
    char hex[65];
    uint64_t off = 0;
    json_t j;

    json_begin(&j, stdout);
    mf_key_to_hex(key, hex);
    json_str(&j, "key", hex);
    json_str(&j, "name", m->name);
    json_u64(&j, "size", m->size);
    mf_key_to_hex(m->sha256, hex);
    json_str(&j, "sha256", hex);
    json_bool(&j, "encrypted", m->secrets != NULL);
    json_u64(&j, "chunks", m->n_entries);
    json_u64(&j, "nodes", nodes);
    json_array_begin(&j, "entries");
    for (size_t i = 0; i < m->n_entries; i++) {
        json_object_begin(&j);
        json_u64(&j, "offset", off);
        json_u64(&j, "size", m->entries[i].size);
        mf_key_to_hex(m->entries[i].key, hex);
        json_str(&j, "key", hex);
        json_object_end(&j);
        off += m->entries[i].size;
    }
    json_array_end(&j);
    json_end(&j);
}

static const char *kind_name(uint8_t kind)
{
    return kind == MF_KIND_FILE ? "file" : kind == MF_KIND_DIR ? "dir" : "link";
}

/* A directory's listing, for people or as JSON (README: JSON). */
static void show_dir(const uint8_t key[MF_KEY_LEN], const mf_dir_t *d, size_t nodes, int as_json)
{
    char hex[65], sz[32];
    json_t j;

    mf_key_to_hex(key, hex);
    if (as_json) {
        json_begin(&j, stdout);
        json_str(&j, "key", hex);
        json_str(&j, "name", d->name);
        json_str(&j, "kind", "dir");
        json_u64(&j, "size", d->bytes);
        json_u64(&j, "files", d->files);
        json_u64(&j, "total", d->total);
        json_u64(&j, "nodes", nodes);
        json_array_begin(&j, "entries");
        for (size_t i = 0; i < d->n_entries; i++) {
            const mf_dirent_t *e = &d->entries[i];
            json_object_begin(&j);
            json_str(&j, "name", e->name);
            json_str(&j, "kind", kind_name(e->kind));
            json_u64(&j, "mode", e->mode);
            if (e->kind == MF_KIND_LINK) {
                json_str(&j, "target", e->target);
            } else {
                mf_key_to_hex(e->key, hex);
                json_str(&j, "key", hex);
                json_u64(&j, "size", e->bytes);
            }
            json_object_end(&j);
        }
        json_array_end(&j);
        json_end(&j);
        return;
    }
    progress_format_bytes(d->bytes, sz, sizeof(sz));
    printf("key      %s\n", hex);
    printf("name     %s/ (a directory)\n", d->name);
    printf("size     %llu bytes (%s) in %llu files, %llu entries below\n",
           (unsigned long long)d->bytes, sz, (unsigned long long)d->files,
           (unsigned long long)d->total);
    printf("nodes    %zu in the manifest file (the whole tree)\n", nodes);
    for (size_t i = 0; i < d->n_entries; i++) {
        const mf_dirent_t *e = &d->entries[i];
        if (e->kind == MF_KIND_LINK) {
            printf("link  %04o %14s  %s -> %s\n", (unsigned)e->mode, "", e->name, e->target);
            continue;
        }
        mf_key_to_hex(e->key, hex);
        printf("%-5s %04o %14llu  %s%s  %s\n", kind_name(e->kind), (unsigned)e->mode,
               (unsigned long long)e->bytes, e->name, e->kind == MF_KIND_DIR ? "/" : "", hex);
    }
}

static int show(const uint8_t *buf, size_t len, const uint8_t *secret, int as_json)
{
    uint8_t key[MF_KEY_LEN];
    mf_blob_t *blobs = NULL;
    mf_manifest_t m = {0};
    size_t n = 0;
    uint64_t off = 0;
    char hex[65], sz[32];
    int err = mf_bundle_decode(buf, len, key, &blobs, &n);

    if (err == 0 && n > 0 && secret == NULL &&
        mf_root_kind(blobs[n - 1].data, blobs[n - 1].len) == MF_KIND_DIR) {
        mf_dir_t d = {0};
        err = fs_manifest_assemble_dir(key, blobs, n, &d);
        if (err == 0)
            show_dir(key, &d, n, as_json);
        mf_dir_clear(&d);
        mf_blobs_free(blobs, n);
        return err ? cli_fail(EXIT_CORRUPT, "malformed manifest") : 0;
    }
    if (err == 0)
        err = fs_manifest_assemble(key, secret, blobs, n, &m);
    if (err) {
        mf_blobs_free(blobs, n);
        return cli_fail(EXIT_CORRUPT, "malformed manifest");
    }
    if (as_json) {
        show_json(key, &m, n);
        mf_manifest_clear(&m);
        mf_blobs_free(blobs, n);
        return 0;
    }
    mf_key_to_hex(key, hex);
    progress_format_bytes(m.size, sz, sizeof(sz));
    printf("key      %s\n", hex);
    printf("name     %s\n", m.name);
    printf("size     %llu bytes (%s)\n", (unsigned long long)m.size, sz);
    mf_key_to_hex(m.sha256, hex);
    printf("sha256   %s\n", hex);
    printf("chunks   %zu%s\n", m.n_entries,
           secret != NULL ? " (encrypted: each key names the sealed chunk)" : "");
    printf("nodes    %zu (manifest %s)\n", n, n == 1 ? "in one node" : "tree");
    printf("%8s %14s %9s  %s\n", "#", "offset", "size", "chunk key");
    for (size_t i = 0; i < m.n_entries; i++) {
        mf_key_to_hex(m.entries[i].key, hex);
        printf("%8zu %14llu %9u  %s\n", i, (unsigned long long)off, (unsigned)m.entries[i].size,
               hex);
        off += m.entries[i].size;
    }
    mf_manifest_clear(&m);
    mf_blobs_free(blobs, n);
    return 0;
}

/* Writes the manifest file to out: a stream ("-", a FIFO) or a file that
 * replaces nothing unless force. */
static int export_to(const char *out, const uint8_t *buf, size_t len, int force)
{
    int fd, code, r = output_open_stream(out, &fd);

    if (r < 0)
        return -r;
    if (r == 0)
        return output_write_file(out, buf, len, force);
    code = output_write_all(fd, buf, len, fd == STDOUT_FILENO ? "standard output" : out);
    if (fd != STDOUT_FILENO)
        close(fd);
    return code;
}

/* export --text: the manifest as one line, on stdout or in path. */
static int export_text(const char *path, const uint8_t *buf, size_t len, int force)
{
    char *line;
    size_t n;
    int err = share_link_encode(buf, len, &line, &n), code = 0;

    if (err == FS_ETOOBIG)
        return cli_fail(EXIT_USAGE,
                        "manifest too large for one line (%zu characters, at most %u): share it "
                        "as a file with emofs manifest export KEY -o FILE",
                        n, SHARE_LINK_MAX);
    if (err)
        return cli_fail(EXIT_FAIL, "out of memory");
    line[n] = '\n';
    if (path != NULL) {
        code = export_to(path, (const uint8_t *)line, n + 1, force);
    } else if (fwrite(line, 1, n + 1, stdout) != n + 1 || fflush(stdout) != 0) {
        code = cli_fail(EXIT_OUTPUT, "cannot write the manifest line: %s", strerror(errno));
    }
    free(line);
    return code;
}

enum { MF_OPT_OUTPUT = CLI_OPT_OWN, MF_OPT_FORCE, MF_OPT_TEXT };
#define MF_OPTS                                                                                    \
    CLI_OPTS_COMMON, {"--output", "-o", OPT_VALUE, MF_OPT_OUTPUT},                                 \
    {                                                                                              \
        "--force", "-f", OPT_FLAG, MF_OPT_FORCE                                                    \
    }
static const opt_spec_t manifest_opts[] = {MF_OPTS, OPT_TABLE_END};
static const opt_spec_t export_opts[] = {
    MF_OPTS, {"--text", NULL, OPT_FLAG, MF_OPT_TEXT}, OPT_TABLE_END};

int emofs_manifest_main(int argc, char **argv)
{
    cli_common_t c = {0};
    const char *sub = argc > 1 ? argv[1] : NULL, *arg = NULL, *out = NULL;
    uint8_t *buf = NULL, key[MF_KEY_LEN];
    size_t len = 0;
    char hex[65], cmd[32];
    opt_parser_t p;
    int code, id, force = 0, text = 0;

    if (sub == NULL)
        return cli_fail(EXIT_USAGE, "manifest: missing subcommand (see emofs manifest --help)");
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return manifest_usage(stdout, 0);
    if (strcmp(sub, "show") != 0 && strcmp(sub, "export") != 0 && strcmp(sub, "import") != 0) {
        return cli_fail(EXIT_USAGE, "manifest: unknown subcommand '%s' (see emofs manifest --help)",
                        sub);
    }
    snprintf(cmd, sizeof(cmd), "manifest %s", sub);
    opt_init(&p, argc, argv, 2, cmd, strcmp(sub, "export") == 0 ? export_opts : manifest_opts,
             stderr);
    while ((id = cli_next_option(&p, &c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return manifest_usage(stdout, 0);
        if (id == MF_OPT_OUTPUT)
            out = p.value;
        else if (id == MF_OPT_FORCE)
            force = 1;
        else if (id == MF_OPT_TEXT)
            text = 1;
        else if (arg != NULL)
            return cli_fail(EXIT_USAGE, "manifest %s: one argument at a time", sub);
        else
            arg = p.value;
    }
    if (arg == NULL)
        return cli_fail(EXIT_USAGE, "manifest %s: missing argument (see emofs manifest --help)",
                        sub);
    if (strcmp(sub, "export") == 0 && out == NULL && !text)
        return cli_fail(EXIT_USAGE, "manifest export needs -o FILE or --text");
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    c.quiet = 1;
    if (strcmp(sub, "import") == 0) {
        if ((code = keyarg_read_bundle(arg, &buf, &len)) != 0)
            return code;
        code = keyarg_import(&c, buf, len, key);
        free(buf);
        if (code == 0) {
            mf_key_to_hex(key, hex);
            printf("%s\n", hex);
        }
        return code;
    }
    uint8_t secret_buf[MF_KEY_LEN];
    const uint8_t *secret;
    if (strcmp(sub, "export") == 0 && mf_capability_from_text(arg, key, secret_buf) == 0)
        return cli_fail(EXIT_USAGE, "manifest export: an encrypted file's manifest is not "
                                    "exported (its readers would need the secret too): share its "
                                    "KEY:SECRET instead");
    if ((code = fetch_bundle(&c, arg, &buf, &len, secret_buf, &secret)) != 0)
        return code;
    if (strcmp(sub, "show") == 0)
        code = show(buf, len, secret, c.json);
    else if (text)
        code = export_text(out, buf, len, force);
    else
        code = export_to(out, buf, len, force);
    free(buf);
    return code;
}
