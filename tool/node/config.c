/*
 * The config file of a data directory. See config.h.
 */
#include "tool/node/config.h"

#include "tool/node/hostaddr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A key's setter: stores value in cfg. @return 0, or -1 with why set
 * (without the file and line, which the caller adds). */
typedef int (*config_set_fn)(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                             char *why, size_t why_cap);

/* Resolves value into *out. @return 0 or -1 with why. */
static int parse_addr(dht_addr_t *out, const char *value, char *why, size_t why_cap)
{
    int rc = hostaddr_resolve(out, value, why, why_cap);

    if (rc == HOSTADDR_EFORM)
        snprintf(why, why_cap, "bad address '%s' (want HOST:PORT)", value);
    return rc == 0 ? 0 : -1;
}

static int set_listen(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                      char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (parse_addr(&cfg->listen, value, why, why_cap) != 0)
        return -1;
    cfg->has_listen = 1; /* the last listen line wins */
    return 0;
}

static int set_bootstrap(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                         char *why, size_t why_cap)
{
    dht_addr_t a;

    if (parse_addr(&a, value, why, why_cap) != 0)
        return -1;
    if (cfg->n_bootstrap == EMOFS_MAX_BOOTSTRAP) {
        if (warn != NULL)
            fprintf(warn, "emofs: %s: more than %d bootstrap peers ('%s' ignored)\n", where,
                    EMOFS_MAX_BOOTSTRAP, value);
        return 0;
    }
    cfg->bootstrap[cfg->n_bootstrap++] = a;
    return 0;
}

static int set_log_level(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                         char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (log_level_parse(value, &cfg->log_level) != 0) {
        snprintf(why, why_cap, "bad log_level '%s' (want error, warn, info or debug)", value);
        return -1;
    }
    cfg->has_log_level = 1;
    return 0;
}

int emofs_parse_size(const char *text, uint64_t *out)
{
    static const char units[] = "KMGT";
    char *end;
    unsigned long long v;
    const char *u;
    int shift = 0;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    if (*end != '\0') {
        u = strchr(units, end[0] & ~0x20); /* K, k, M, m, ... */
        if (end[0] == '\0' || u == NULL)
            return -1;
        shift = 10 * (int)(u - units + 1);
        end++;
        if ((end[0] & ~0x20) == 'I' && (end[1] & ~0x20) == 'B') /* KiB, MiB, ... */
            end += 2;
        else if ((end[0] & ~0x20) == 'B') /* KB, MB, ... (also 1024-based) */
            end++;
        if (*end != '\0')
            return -1;
    }
    if (shift > 0 && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int set_store_max(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                         char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (emofs_parse_size(value, &cfg->store_max) != 0 || cfg->store_max < EMOFS_STORE_MAX_MIN) {
        snprintf(why, why_cap, "bad store_max '%s' (want a size of at least 16M: 500M, 20G)",
                 value);
        return -1;
    }
    return 0;
}

static int set_replicate_interval(emofs_config_t *cfg, const char *value, FILE *warn,
                                  const char *where, char *why, size_t why_cap)
{
    char *end;
    unsigned long v;

    (void)warn;
    (void)where;
    errno = 0;
    v = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 ||
        v > EMOFS_REPLICATE_MAX_S) {
        snprintf(why, why_cap, "bad replicate_interval '%s' (want seconds, 0..2592000)", value);
        return -1;
    }
    cfg->replicate_interval_s = (unsigned)v;
    cfg->has_replicate_interval = 1;
    return 0;
}

/* Parses a whole number (seconds, a count) in lo..hi into *out. @return 0 or -1. */
static int parse_uint(const char *value, unsigned long lo, unsigned long hi, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int set_republish_interval(emofs_config_t *cfg, const char *value, FILE *warn,
                                  const char *where, char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (parse_uint(value, 0, EMOFS_REPLICATE_MAX_S, &cfg->republish_interval_s) != 0) {
        snprintf(why, why_cap, "bad republish_interval '%s' (want seconds, 0..2592000)", value);
        return -1;
    }
    cfg->has_republish_interval = 1;
    return 0;
}

static int set_ttl(emofs_config_t *cfg, const char *value, FILE *warn, const char *where, char *why,
                   size_t why_cap)
{
    (void)warn;
    (void)where;
    if (parse_uint(value, 1, EMOFS_TTL_MAX_S, &cfg->ttl_s) != 0) {
        snprintf(why, why_cap, "bad ttl '%s' (want seconds, 1..86400)", value);
        return -1;
    }
    return 0;
}

static int set_copies(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                      char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (parse_uint(value, 1, EMOFS_COPIES_MAX, &cfg->copies) != 0) {
        snprintf(why, why_cap, "bad copies '%s' (want a count, 1..%u)", value, EMOFS_COPIES_MAX);
        return -1;
    }
    return 0;
}

static int set_network_key(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                           char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (strlen(value) >= sizeof(cfg->network_key)) {
        snprintf(why, why_cap, "network_key: path too long");
        return -1;
    }
    snprintf(cfg->network_key, sizeof(cfg->network_key), "%s", value);
    return 0;
}

static int set_id_rule(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                       char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (strcmp(value, "off") != 0 && strcmp(value, "public") != 0) {
        snprintf(why, why_cap, "bad id_rule '%s' (want off or public)", value);
        return -1;
    }
    cfg->id_rule = strcmp(value, "public") == 0 ? DHT_ID_RULE_PUBLIC : DHT_ID_RULE_OFF;
    return 0;
}

static int set_advertise(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                         char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    return parse_addr(&cfg->advertise, value, why, why_cap) != 0 ? -1 : 0;
}

static int set_region(emofs_config_t *cfg, const char *value, FILE *warn, const char *where,
                      char *why, size_t why_cap)
{
    (void)warn;
    (void)where;
    if (parse_uint(value, 1, 65535, &cfg->region) != 0) {
        snprintf(why, why_cap, "bad region '%s' (want a number, 1..65535)", value);
        return -1;
    }
    return 0;
}

/* Every key the file may set. A new daemon option that belongs in the
 * file is one line here, a field in emofs_config_t, and a row in the
 * README's table. */
static const struct config_key {
    const char *name;
    unsigned bit;
    config_set_fn set;
} keys[] = {
    {"listen", CONFIG_LISTEN, set_listen},
    {"bootstrap", CONFIG_BOOTSTRAP, set_bootstrap},
    {"log_level", CONFIG_LOG_LEVEL, set_log_level},
    {"store_max", CONFIG_STORE_MAX, set_store_max},
    {"replicate_interval", CONFIG_REPLICATE, set_replicate_interval},
    {"republish_interval", CONFIG_REPUBLISH, set_republish_interval},
    {"ttl", CONFIG_TTL, set_ttl},
    {"copies", CONFIG_COPIES, set_copies},
    {"network_key", CONFIG_NETWORK_KEY, set_network_key},
    {"id_rule", CONFIG_ID_RULE, set_id_rule},
    {"advertise", CONFIG_ADVERTISE, set_advertise},
    {"region", CONFIG_REGION, set_region},
};

static const struct config_key *find_key(const char *name)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* Splits off the next blank-separated word of *p (NUL-terminating it in
 * place). @return it, or NULL at the end of the line. */
static char *next_word(char **p)
{
    char *s = *p, *w;

    s += strspn(s, " \t\r\n\v\f");
    if (*s == '\0')
        return NULL;
    w = s;
    s += strcspn(s, " \t\r\n\v\f");
    if (*s != '\0')
        *s++ = '\0';
    *p = s;
    return w;
}

/* One line (comment already cut off). @return 0, or -1 with why. */
static int config_line(emofs_config_t *cfg, char *line, unsigned skip, FILE *warn,
                       const char *where, char *why, size_t why_cap)
{
    char *p = line, *name = next_word(&p), *value, *extra;
    const struct config_key *k;

    if (name == NULL)
        return 0; /* blank */
    value = next_word(&p);
    extra = next_word(&p);
    k = find_key(name);
    if (k == NULL) {
        if (warn != NULL)
            fprintf(warn, "emofs: %s: unknown setting '%s' (ignored)\n", where, name);
        return 0;
    }
    if (value == NULL) {
        snprintf(why, why_cap, "'%s' needs a value", name);
        return -1;
    }
    if (extra != NULL) {
        snprintf(why, why_cap, "'%s' takes one value (got '%s' and '%s')", name, value, extra);
        return -1;
    }
    if (skip & k->bit)
        return 0;
    return k->set(cfg, value, warn, where, why, why_cap);
}

int emofs_config_parse(FILE *f, const char *name, unsigned skip, emofs_config_t *cfg, FILE *warn,
                       char *err, size_t err_cap)
{
    char *line = NULL, where[4200], why[512];
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;

    memset(cfg, 0, sizeof(*cfg));
    errno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "#")] = '\0';
        snprintf(where, sizeof(where), "%s line %u", name, lineno);
        if (config_line(cfg, line, skip, warn, where, why, sizeof(why)) != 0) {
            snprintf(err, err_cap, "%s: %s", where, why);
            rc = FS_EINVAL;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        int e = errno ? errno : EIO;
        snprintf(err, err_cap, "cannot read %s: %s", name, strerror(e));
        rc = e == ENOMEM ? FS_ENOMEM : FS_EIO;
    }
    free(line);
    return rc;
}

int emofs_config_read(const char *path, unsigned skip, emofs_config_t *cfg, FILE *warn, char *err,
                      size_t err_cap)
{
    FILE *f;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        snprintf(err, err_cap, "cannot read %s: %s", path, strerror(e));
        return e == ENOMEM ? FS_ENOMEM : FS_EIO;
    }
    rc = emofs_config_parse(f, path, skip, cfg, warn, err, err_cap);
    fclose(f);
    return rc;
}
