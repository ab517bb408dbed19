/*
 * Replicas on disk: libdht's storage over a chunk store. See replicas.h.
 */
#include "filestore/replicas.h"

#include "filestore/fs_error.h"
#include "filestore/place.h" /* fs_path_join, fs_sync_dir */
#include "manifests/le.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORD_LEN     64     /* hash, expires_at, stored_at and copies, source (replicas.h) */
#define OLD_RECORD_LEN 48     /* the same without the source: the log "expiry" of before */
#define OWNER_LEN      64     /* hash, owner: the log "owners" (replicas.h) */
#define COPIES_OWNED   0x80u  /* the copies byte of a record: the value has an owner */
#define UNKNOWN_TTL_S  86400u /* a replica the log does not know */

typedef struct record {
    uint8_t hash[MF_KEY_LEN];
    uint64_t expires_at, stored_at; /* wall seconds; expires_at 0: gone */
    unsigned copies;                /* the copies the value asks for (dht_held_t); 0: k */
    dht_source_t source;            /* who stored it here (dht_held_t) */
    int owned;                      /* it has an owner (dht_held_t), in the log "owners" */
    uint8_t owner[MF_KEY_LEN];      /* ... this one (not in the 64 bytes) */
    size_t order;                   /* place in the logs: the last one counts */
} record_t;

#define STORED_AT_BITS 56 /* the rest of bytes 40..47 of a record: copies */

static void record_encode(uint8_t rec[RECORD_LEN], const record_t *x)
{
    memcpy(rec, x->hash, MF_KEY_LEN);
    le_put64(rec + 32, x->expires_at);
    le_put64(rec + 40, (x->stored_at & ((1ull << STORED_AT_BITS) - 1)) |
                           (uint64_t)((x->copies & 0x7f) | (x->owned ? COPIES_OWNED : 0))
                               << STORED_AT_BITS);
    memcpy(rec + 48, x->source.b, sizeof(x->source.b));
}

/* Decodes a record of len bytes (RECORD_LEN, or OLD_RECORD_LEN: no source). */
static void record_decode(const uint8_t *rec, size_t len, record_t *x)
{
    uint64_t last = le_get64(rec + 40);

    memcpy(x->hash, rec, MF_KEY_LEN);
    x->expires_at = le_get64(rec + 32);
    x->stored_at = last & ((1ull << STORED_AT_BITS) - 1);
    x->copies = (unsigned)(last >> STORED_AT_BITS) & 0x7f;
    x->owned = len == RECORD_LEN && (last >> STORED_AT_BITS & COPIES_OWNED) != 0;
    memset(x->owner, 0, sizeof(x->owner));
    memset(&x->source, 0, sizeof(x->source));
    if (len == RECORD_LEN)
        memcpy(x->source.b, rec + 48, sizeof(x->source.b));
}

/* A write, read or delete on a worker. */
typedef struct replica_job {
    fs_job_t job;
    fs_replicas_t *r;
    uint64_t req;
    uint8_t hash[MF_KEY_LEN];
    uint8_t *data;
    size_t len;
    record_t rec; /* its record in the log (hash, times, copies, source) */
    int status;
} replica_job_t;

static uint64_t wall_now(void)
{
    return (uint64_t)time(NULL);
}

/* Appends one record, from a worker or the loop (O_APPEND: a 64-byte
 * write lands whole). */
static void log_append(fs_replicas_t *r, const record_t *x)
{
    uint8_t rec[RECORD_LEN];

    record_encode(rec, x);
    if (r->log_fd >= 0 && write(r->log_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
        /* Lost: the replica then gets a fresh TTL at the next start. */
    }
}

/* Appends the owner of an owned value to the log "owners" and syncs it,
 * so that the record that says "owned", appended after, never outlives
 * it in a crash (an older owner of the same bytes would then count).
 * @return 0, or -1: the value is to be recorded without an owner. */
static int owner_append(fs_replicas_t *r, const record_t *x)
{
    uint8_t rec[OWNER_LEN];

    memcpy(rec, x->hash, MF_KEY_LEN);
    memcpy(rec + MF_KEY_LEN, x->owner, MF_KEY_LEN);
    if (r->owners_fd < 0 || write(r->owners_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec) ||
        fdatasync(r->owners_fd) != 0)
        return -1;
    return 0;
}

/* Appends the record that says hash is gone. */
static void log_gone(fs_replicas_t *r, const uint8_t hash[MF_KEY_LEN])
{
    record_t x;

    memset(&x, 0, sizeof(x));
    memcpy(x.hash, hash, MF_KEY_LEN);
    log_append(r, &x);
}

static replica_job_t *job_new(fs_replicas_t *r, const dht_held_t *v, uint64_t req)
{
    replica_job_t *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->r = r;
    j->req = req;
    memcpy(j->hash, v->hash.b, MF_KEY_LEN);
    j->len = v->len;
    memcpy(j->rec.hash, v->hash.b, MF_KEY_LEN);
    j->rec.expires_at = wall_now() + v->ttl_left_s;
    j->rec.stored_at = wall_now() - v->age_s;
    j->rec.copies = v->copies;
    j->rec.source = v->source;
    j->rec.owned = v->owned;
    memcpy(j->rec.owner, v->owner.b, MF_KEY_LEN);
    j->job.data = j;
    return j;
}

static int queue(fs_replicas_t *r, replica_job_t *j, void (*work)(fs_job_t *),
                 void (*after)(fs_job_t *))
{
    if (r->exec == NULL || fs_exec_queue(r->exec, &j->job, work, after) != 0)
        return -1;
    r->busy++;
    return 0;
}

/* ---- write ---- */

static void write_blob(fs_job_t *job)
{
    replica_job_t *j = job->data;

    j->status = fs_store_put(j->r->store, j->hash, j->data, j->len, 0);
    if (j->status == 0 && j->rec.owned && owner_append(j->r, &j->rec) != 0)
        j->rec.owned = 0; /* not deletable rather than deletable by a stale owner */
    if (j->status == 0)
        log_append(j->r, &j->rec);
}

static void after_write(fs_job_t *job)
{
    replica_job_t *j = job->data;

    j->r->busy--;
    if (j->r->dht != NULL)
        dht_held_written(j->r->dht, j->req, j->status == 0 ? 0 : DHT_EIO);
    free(j->data);
    free(j);
}

static int st_write(void *arg, const dht_held_t *v, const uint8_t *data, uint64_t req)
{
    fs_replicas_t *r = arg;
    replica_job_t *j;

    if (!v->content) /* named by its hash on disk: only content-addressed ones */
        return DHT_STORAGE_IN_MEMORY;
    if (r->dht == NULL)
        return -1;
    j = job_new(r, v, req);
    if (j == NULL || (j->data = malloc(v->len ? v->len : 1)) == NULL) {
        free(j);
        return -1;
    }
    memcpy(j->data, data, v->len);
    if (queue(r, j, write_blob, after_write) != 0) {
        free(j->data);
        free(j);
        return -1;
    }
    return 0;
}

/* ---- read ---- */

static void read_blob(fs_job_t *job)
{
    replica_job_t *j = job->data;

    /* Checks the hash; a damaged blob is removed. */
    j->status = fs_store_get(j->r->store, j->hash, &j->data, &j->len);
    if (j->status != 0) {
        j->data = NULL;
        j->len = 0;
    }
}

static void after_read(fs_job_t *job)
{
    replica_job_t *j = job->data;
    fs_replicas_t *r = j->r;

    r->busy--;
    if (r->dht != NULL) {
        if (j->status == FS_EBADHASH || j->status == FS_ENOENT) {
            /* Damaged (and removed) or gone: held no more. */
            dht_id_t id;
            memcpy(id.b, j->hash, MF_KEY_LEN);
            r->damaged += j->status == FS_EBADHASH;
            dht_held_remove(r->dht, &id, &id);
        }
        if (dht_value_ready(r->dht, j->req, j->data, j->len) == 0)
            r->served += j->data != NULL;
    }
    free(j->data);
    free(j);
}

static int st_read(void *arg, const dht_held_t *v, uint64_t req)
{
    fs_replicas_t *r = arg;
    replica_job_t *j = job_new(r, v, req);

    if (j == NULL)
        return -1;
    if (queue(r, j, read_blob, after_read) != 0) {
        free(j);
        return -1;
    }
    return 0;
}

/* ---- drop ---- */

/* Removes the bytes at once, on the loop thread (an unlink and a 64-byte
 * append, no fsync): queued, the removal could run after a write of the
 * same value that a later STORE queued, and unlink bytes the node then
 * says it holds; and the quota counts the disk only once a dropped
 * value's bytes are gone, so they go before the STORE that made room is
 * answered. */
static void st_drop(void *arg, const dht_held_t *v)
{
    fs_replicas_t *r = arg;

    fs_store_remove(r->store, v->hash.b);
    log_gone(r, v->hash.b);
}

/* ---- open, load, close ---- */

int fs_replicas_open(fs_replicas_t *r, const char *dir, dht_config_t *cfg)
{
    char *root = fs_path_join(dir, "replicas");
    int err;

    memset(r, 0, sizeof(*r));
    r->log_fd = -1;
    r->owners_fd = -1;
    if (root == NULL)
        return FS_ENOMEM;
    err = fs_store_open(&r->store, root);
    r->log_path = err == 0 ? fs_path_join(root, "records") : NULL;
    r->old_log_path = err == 0 ? fs_path_join(root, "expiry") : NULL;
    r->owners_path = err == 0 ? fs_path_join(root, "owners") : NULL;
    free(root);
    if (err == 0 && (r->log_path == NULL || r->old_log_path == NULL || r->owners_path == NULL))
        err = FS_ENOMEM;
    if (err) {
        fs_replicas_close(r);
        return err;
    }
    cfg->storage.write = st_write;
    cfg->storage.read = st_read;
    cfg->storage.drop = st_drop;
    cfg->storage.arg = r;
    return 0;
}

static int cmp_record(const void *a, const void *b)
{
    const record_t *x = a, *y = b;
    int c = memcmp(x->hash, y->hash, MF_KEY_LEN);

    return c != 0 ? c : (x->order > y->order) - (x->order < y->order);
}

typedef struct record_list {
    record_t *v;
    size_t n, cap;
} record_list_t;

/* Appends the records of reclen bytes each in the log at path (none if
 * it does not exist) to l. @return 0 or an FS_* code. */
static int read_log(const char *path, size_t reclen, record_list_t *l)
{
    FILE *f = fopen(path, "rb");
    uint8_t rec[RECORD_LEN];

    if (f == NULL)
        return errno == ENOENT ? 0 : fs_from_errno(errno);
    while (fread(rec, 1, reclen, f) == reclen) {
        if (l->n == l->cap) {
            size_t c = l->cap ? l->cap * 2 : 256;
            record_t *p = realloc(l->v, c * sizeof(*p));
            if (p == NULL) {
                fclose(f);
                return FS_ENOMEM;
            }
            l->v = p;
            l->cap = c;
        }
        record_decode(rec, reclen, &l->v[l->n]);
        l->v[l->n].order = l->n;
        l->n++;
    }
    fclose(f);
    return 0;
}

/* The log "owners": the last owner written of each hash, sorted by hash. */
typedef struct owner_rec {
    uint8_t hash[MF_KEY_LEN], owner[MF_KEY_LEN];
    size_t order; /* place in the log: the last one counts */
} owner_rec_t;

typedef struct owner_list {
    owner_rec_t *v;
    size_t n;
} owner_list_t;

static int cmp_owner(const void *a, const void *b)
{
    const owner_rec_t *x = a, *y = b;
    int c = memcmp(x->hash, y->hash, MF_KEY_LEN);

    return c != 0 ? c : (x->order > y->order) - (x->order < y->order);
}

/* Reads path into l (nothing if it does not exist), the last record of
 * each hash kept, sorted by hash. @return 0 or an FS_* code. */
static int read_owners(const char *path, owner_list_t *l)
{
    FILE *f = fopen(path, "rb");
    uint8_t rec[OWNER_LEN];
    size_t cap = 0, kept = 0;

    l->v = NULL;
    l->n = 0;
    if (f == NULL)
        return errno == ENOENT ? 0 : fs_from_errno(errno);
    while (fread(rec, 1, OWNER_LEN, f) == OWNER_LEN) {
        if (l->n == cap) {
            size_t c = cap ? cap * 2 : 256;
            owner_rec_t *p = realloc(l->v, c * sizeof(*p));
            if (p == NULL) {
                fclose(f);
                free(l->v);
                l->v = NULL;
                l->n = 0;
                return FS_ENOMEM;
            }
            l->v = p;
            cap = c;
        }
        memcpy(l->v[l->n].hash, rec, MF_KEY_LEN);
        memcpy(l->v[l->n].owner, rec + MF_KEY_LEN, MF_KEY_LEN);
        l->v[l->n].order = l->n;
        l->n++;
    }
    fclose(f);
    if (l->n > 0)
        qsort(l->v, l->n, sizeof(*l->v), cmp_owner);
    /* One per hash. Two owners of the same bytes since the log was last
     * rewritten (two publishers, or a value deleted and put again by
     * another while this daemon ran): nobody's, as the node would have
     * it (a write of one may even have ended after the other's). */
    for (size_t i = 0; i < l->n;) {
        size_t j = i + 1;
        int agree = 1;
        while (j < l->n && memcmp(l->v[j].hash, l->v[i].hash, MF_KEY_LEN) == 0)
            agree &= memcmp(l->v[j++].owner, l->v[i].owner, MF_KEY_LEN) == 0;
        if (agree)
            l->v[kept++] = l->v[i];
        i = j;
    }
    l->n = kept;
    return 0;
}

/* @return the owner of hash in l, or NULL. */
static const uint8_t *owner_of(const owner_list_t *l, const uint8_t *hash)
{
    size_t lo = 0, hi = l->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(l->v[mid].hash, hash, MF_KEY_LEN);
        if (c == 0)
            return l->v[mid].owner;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* @return 1 if file a exists and was modified after file b (or b does
 * not exist), else 0. */
static int newer(const char *a, const char *b)
{
    struct stat sa, sb;

    if (stat(a, &sa) != 0)
        return 0;
    if (stat(b, &sb) != 0)
        return 1;
    return sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ? sa.st_mtim.tv_sec > sb.st_mtim.tv_sec
                                                  : sa.st_mtim.tv_nsec > sb.st_mtim.tv_nsec;
}

/* @return the last record of hash, or NULL. */
static const record_t *last_record(const record_t *recs, size_t n, const uint8_t *hash)
{
    size_t lo = 0, hi = n;

    while (lo < hi) { /* the first record past hash */
        size_t mid = (lo + hi) / 2;
        if (memcmp(recs[mid].hash, hash, MF_KEY_LEN) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && memcmp(recs[lo - 1].hash, hash, MF_KEY_LEN) == 0 ? &recs[lo - 1] : NULL;
}

typedef struct found {
    uint8_t hash[MF_KEY_LEN];
    uint64_t size;
} found_t;

typedef struct found_list {
    found_t *v;
    size_t n, cap;
} found_list_t;

static int collect(const uint8_t key[MF_KEY_LEN], uint64_t size, void *arg)
{
    found_list_t *l = arg;

    if (l->n == l->cap) {
        size_t c = l->cap ? l->cap * 2 : 256;
        found_t *p = realloc(l->v, c * sizeof(*p));
        if (p == NULL)
            return FS_ENOMEM;
        l->v = p;
        l->cap = c;
    }
    memcpy(l->v[l->n].hash, key, MF_KEY_LEN);
    l->v[l->n++].size = size;
    return 0;
}

/* Writes the live records (kept[0..n)) as the new log at path,
 * atomically, and opens it for appending into *fd: the records log, or
 * (owners) the owners of those that have one. */
static int rewrite_log(const char *path, int *fd_out, const record_t *kept, size_t n, int owners,
                       const char *dir)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    int fd, err = 0;

    if (tmp == NULL)
        return FS_ENOMEM;
    snprintf(tmp, plen + 5, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(tmp);
        return fs_from_errno(errno);
    }
    for (size_t i = 0; i < n && err == 0; i++) {
        uint8_t rec[RECORD_LEN]; /* OWNER_LEN == RECORD_LEN */
        if (owners && !kept[i].owned)
            continue;
        if (owners) {
            memcpy(rec, kept[i].hash, MF_KEY_LEN);
            memcpy(rec + MF_KEY_LEN, kept[i].owner, MF_KEY_LEN);
        } else {
            record_encode(rec, &kept[i]);
        }
        if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
            err = fs_from_errno(errno);
    }
    if (err == 0 && fsync(fd) != 0)
        err = fs_from_errno(errno);
    close(fd);
    if (err == 0 && rename(tmp, path) != 0)
        err = fs_from_errno(errno);
    if (err == 0)
        fs_sync_dir(dir);
    else
        unlink(tmp);
    free(tmp);
    *fd_out = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (*fd_out < 0 && err == 0)
        err = fs_from_errno(errno);
    return err;
}

int fs_replicas_attach(fs_replicas_t *r, dht_t *dht, const fs_exec_t *exec, uint64_t *count,
                       uint64_t *bytes)
{
    found_list_t found = {0};
    dht_stats_t st;
    record_list_t recs = {0};
    owner_list_t owners = {0};
    record_t *kept = NULL;
    size_t n_kept = 0;
    uint64_t now = wall_now();
    const uint8_t *owner;
    char *dir;
    int err;

    /* No executor until the load is over: what the node evicts meanwhile
     * goes here, on this thread, while nothing else touches the log. */
    r->dht = dht;
    r->exec = NULL;
    /* The log of an older emofs (records without their source) and ours,
     * the one written last read last: the last record of a value counts.
     * (Ours is the newer unless an older emofs ran since.) */
    if (newer(r->old_log_path, r->log_path)) {
        err = read_log(r->log_path, RECORD_LEN, &recs);
        if (err == 0)
            err = read_log(r->old_log_path, OLD_RECORD_LEN, &recs);
    } else {
        err = read_log(r->old_log_path, OLD_RECORD_LEN, &recs);
        if (err == 0)
            err = read_log(r->log_path, RECORD_LEN, &recs);
    }
    if (recs.n > 0)
        qsort(recs.v, recs.n, sizeof(*recs.v), cmp_record);
    if (err == 0)
        err = read_owners(r->owners_path, &owners);
    if (err == 0)
        err = fs_store_foreach(r->store, collect, &found);
    if (err == 0 && (kept = malloc((found.n ? found.n : 1) * sizeof(*kept))) == NULL)
        err = FS_ENOMEM;
    for (size_t i = 0; err == 0 && i < found.n; i++) {
        const record_t *rec = last_record(recs.v, recs.n, found.v[i].hash);
        uint64_t expires = rec != NULL ? rec->expires_at : now + UNKNOWN_TTL_S;
        uint64_t stored = rec != NULL && rec->stored_at <= now ? rec->stored_at : now;
        dht_held_t v;

        memset(&v, 0, sizeof(v));
        memcpy(v.key.b, found.v[i].hash, MF_KEY_LEN);
        v.hash = v.key;
        v.len = found.v[i].size > UINT32_MAX ? UINT32_MAX : (uint32_t)found.v[i].size;
        v.content = 1;
        v.copies = rec != NULL && rec->copies <= DHT_MAX_COPIES ? rec->copies : 0;
        v.ttl_left_s =
            expires > now ? (uint32_t)(expires - now > UINT32_MAX ? UINT32_MAX : expires - now) : 0;
        v.age_s = (uint32_t)(now - stored > UINT32_MAX ? UINT32_MAX : now - stored);
        if (rec != NULL)
            v.source = rec->source;
        /* Its owner may delete it (wire.md 5.10): only if the record says
         * it has one and the owners log kept it. */
        if (rec != NULL && rec->owned && (owner = owner_of(&owners, found.v[i].hash)) != NULL) {
            v.owned = 1;
            memcpy(v.owner.b, owner, MF_KEY_LEN);
        }
        if (v.ttl_left_s == 0 || dht_held_add(dht, &v) != 0) {
            /* Expired, or no room under the quota: it goes. */
            fs_store_remove(r->store, found.v[i].hash);
            continue;
        }
        memcpy(kept[n_kept].hash, found.v[i].hash, MF_KEY_LEN);
        kept[n_kept].expires_at = expires;
        kept[n_kept].stored_at = stored;
        kept[n_kept].copies = v.copies;
        kept[n_kept].source = v.source;
        kept[n_kept].owned = v.owned;
        memcpy(kept[n_kept].owner, v.owner.b, MF_KEY_LEN);
        n_kept++;
    }
    dir = strdup(r->log_path);
    if (err == 0 && dir == NULL)
        err = FS_ENOMEM;
    if (dir != NULL)
        *strrchr(dir, '/') = '\0'; /* DIR/replicas */
    /* The owners first: a record saying "owned" finds its owner. */
    if (err == 0)
        err = rewrite_log(r->owners_path, &r->owners_fd, kept, n_kept, 1, dir);
    if (err == 0)
        err = rewrite_log(r->log_path, &r->log_fd, kept, n_kept, 0, dir);
    if (err == 0 && unlink(r->old_log_path) == 0) /* its records are in ours now */
        fs_sync_dir(dir);
    r->exec = exec;
    free(dir);
    free(kept);
    free(recs.v);
    free(owners.v);
    free(found.v);
    /* What the node holds now: a replica loaded early may have been
     * evicted for a closer one loaded later (its record stays in the log,
     * harmless without its blob). */
    dht_get_stats(dht, fs_exec_now(exec), &st);
    if (count != NULL)
        *count = st.values;
    if (bytes != NULL)
        *bytes = st.value_bytes;
    return err;
}

void fs_replicas_detach(fs_replicas_t *r)
{
    r->dht = NULL;
}

void fs_replicas_close(fs_replicas_t *r)
{
    fs_store_close(r->store);
    r->store = NULL;
    if (r->log_fd >= 0)
        close(r->log_fd);
    if (r->owners_fd >= 0)
        close(r->owners_fd);
    r->log_fd = r->owners_fd = -1;
    free(r->log_path);
    free(r->old_log_path);
    free(r->owners_path);
    r->log_path = r->old_log_path = r->owners_path = NULL;
}
