/*
 * DIR/config: the settings of a data directory's node, one per line,
 *
 *     # comment
 *     listen 0.0.0.0:4100
 *     bootstrap peer.example.org:4100
 *     log_level info
 *     store_max 20G
 *     replicate_interval 3600
 *     republish_interval 43200
 *     ttl 86400
 *     copies 8
 *     network_key net.key
 *     id_rule public
 *     advertise 203.0.113.7:4100
 *     region 3
 *
 * KEY, blanks, VALUE; '#' starts a comment anywhere. Every daemon option
 * but --data can be set here (README.md, "Data directory", lists the keys);
 * the command line wins over the file. A key the table does not know is
 * warned about and ignored, so a newer file still works with an older
 * emofs; a bad value of a known key is an error.
 */
#ifndef EMOFS_CONFIG_H
#define EMOFS_CONFIG_H

#include "tool/daemon/log.h"
#include "tool/node/emofs_node.h"

#include <stdio.h>

/* What a config file sets. */
typedef struct emofs_config {
    int has_listen;
    dht_addr_t listen; /* a name in the file is resolved */
    dht_addr_t bootstrap[EMOFS_MAX_BOOTSTRAP];
    size_t n_bootstrap;
    int has_log_level;
    log_level_t log_level;
    uint64_t store_max; /* 0: not set */
    int has_replicate_interval;
    unsigned replicate_interval_s;
    int has_republish_interval;
    unsigned republish_interval_s;
    unsigned ttl_s;         /* 0: not set */
    unsigned copies;        /* 0: not set */
    char network_key[4096]; /* a key file's path (relative: to DIR); "": not set */
    int id_rule;            /* DHT_ID_RULE_OFF (not set) or DHT_ID_RULE_PUBLIC */
    dht_addr_t advertise;   /* family 0: not set (a name in the file is resolved) */
    unsigned region;        /* 0: not set */
} emofs_config_t;

/* The keys, as bits for emofs_config_read's skip. */
enum {
    CONFIG_LISTEN = 1u << 0,
    CONFIG_BOOTSTRAP = 1u << 1,
    CONFIG_LOG_LEVEL = 1u << 2,
    CONFIG_STORE_MAX = 1u << 3,
    CONFIG_REPLICATE = 1u << 4,
    CONFIG_REPUBLISH = 1u << 5,
    CONFIG_TTL = 1u << 6,
    CONFIG_COPIES = 1u << 7,
    CONFIG_NETWORK_KEY = 1u << 8,
    CONFIG_ID_RULE = 1u << 9,
    CONFIG_ADVERTISE = 1u << 10,
    CONFIG_REGION = 1u << 11,
};

/* Parses a size: a whole number of bytes, or one with a unit K, M, G or T
 * (powers of 1024; "KB", "KiB" and lower case too): "500M", "20G".
 * @return 0 and *out, or -1. */
int emofs_parse_size(const char *text, uint64_t *out);

/* Reads a config file's text from f (to its end or the first bad line)
 * into *cfg, cleared first; name is what messages call the file (its
 * path). skip and warn as for emofs_config_read, which this does the work
 * of. @return 0; FS_EINVAL with err set to "NAME line N: WHAT"; FS_EIO
 * with err set when f cannot be read; or FS_ENOMEM. */
int emofs_config_parse(FILE *f, const char *name, unsigned skip, emofs_config_t *cfg, FILE *warn,
                       char *err, size_t err_cap);

/* Reads the config file path into *cfg (cleared first; a file that does
 * not exist sets nothing). Keys whose CONFIG_* bit is in skip (the command
 * line set them) are recognized but their values neither checked nor
 * resolved. Warnings, one line each ("emofs: PATH line 3: unknown setting
 * 'lisen' (ignored)"), go to warn (may be NULL).
 * @return 0; FS_EINVAL with err set to "PATH line N: WHAT" for a known key
 * with a missing, extra or bad value or a host that does not resolve;
 * FS_EIO with err set when the file cannot be read; or FS_ENOMEM. */
int emofs_config_read(const char *path, unsigned skip, emofs_config_t *cfg, FILE *warn, char *err,
                      size_t err_cap);

#endif /* EMOFS_CONFIG_H */
