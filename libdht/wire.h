/*
 * The wire codec: messages as structs, and their bytes as schema/wire.md
 * defines them. Pure code: bytes in, structs out, and back.
 */
#ifndef DHT_WIRE_H
#define DHT_WIRE_H

#include "dht.h"

#define DHT__WIRE_MAGIC0         0x45 /* 'E' */
#define DHT__WIRE_MAGIC1         0x4d /* 'M' */
#define DHT__WIRE_VERSION        1
#define DHT__WIRE_HEADER         40 /* magic 2, version 1, type 1, txid 4, sender 32 */
#define DHT__WIRE_TOKEN_LEN      8
#define DHT__WIRE_MAX_NODES      DHT_MAX_K
#define DHT__WIRE_MAX_ENTRIES    64
#define DHT__WIRE_MAX_ERRMSG     200
#define DHT__WIRE_VALUE_OVERHEAD 128     /* a STORE or VALUE message, minus its value */
#define DHT__WIRE_MAX_HAVE       20      /* (key, hash) pairs per HAVE: 41 + 20 * 64 bytes */
#define DHT__WIRE_MAX_HOPS       8       /* a ROUTE is forwarded this many times at most */
#define DHT__WIRE_STORE_AGED     0x40    /* a STORE's flags: its age follows the value */
#define DHT__WIRE_FIRST_AGED     0x8000u /* a FIND_VALUE's first: a max age follows */
#define DHT__WIRE_MAX_BATCH      32      /* values per STORE_MANY */
#define DHT__WIRE_BATCH_ENTRY    39      /* a STORE_MANY entry, minus its value (age, owner) */
/* A STORE's len (u32), a STORE_MANY entry's (u16): its top bit says that
 * the value's owner (32 bytes, wire.md 5.10) follows the value and age. */
#define DHT__WIRE_STORE_OWNED 0x80000000u
#define DHT__WIRE_BATCH_OWNED 0x8000u
/* A PONG's address record's family byte: its top bits say that the
 * replier's region (u16) and its global address (an address record)
 * follow the record, in that order (wire.md 5.11). */
#define DHT__WIRE_PONG_REGION 0x80u
#define DHT__WIRE_PONG_ADVERT 0x40u

/* Stream preamble: "EMS" version, then the sender's listening port. */
#define DHT__STREAM_PREAMBLE DHT_STREAM_PREAMBLE

typedef enum dht__msg_type {
    DHT__PING = 0x01,
    DHT__FIND_NODE = 0x02,
    DHT__FIND_VALUE = 0x03,
    DHT__STORE = 0x04,
    DHT__GET_VALUE = 0x05,
    DHT__HAVE = 0x06,
    DHT__ROUTE = 0x07,
    DHT__STORE_MANY = 0x08,
    DHT__FIND_PROVIDERS = 0x09,
    DHT__PROVIDE = 0x0a,
    DHT__DELETE = 0x0b,
    DHT__PONG = 0x81,
    DHT__NODES = 0x82,
    DHT__VALUES = 0x83,
    DHT__STORED = 0x84,
    DHT__VALUE = 0x85,
    DHT__HELD = 0x86,
    DHT__ROUTED = 0x87,
    DHT__STORED_MANY = 0x88,
    DHT__PROVIDERS = 0x89,
    DHT__PROVIDED = 0x8a,
    DHT__DELETED = 0x8b,
    DHT__ERROR = 0xff,
} dht__msg_type_t;

#define DHT__IS_REPLY(type) (((type)&0x80) != 0)

/* Bit of a request's type byte: the sender is a client node (schema/wire.md
 * 2.2). Decoded into dht__msg_t.client; never set on a reply. */
#define DHT__WIRE_CLIENT 0x40

/* Bits of a request's type byte (schema/wire.md 2.3): PROOF, an 8-byte
 * token the receiver handed to the sender's address follows the header;
 * PADDED, zero bytes fill the message after the body, so that the sender
 * may be sent a reply of that size before its address is proven. Decoded
 * into dht__msg_t.has_proof / proof and pad; never set on a reply. */
#define DHT__WIRE_PROOF        0x20
#define DHT__WIRE_PADDED       0x10
#define DHT__WIRE_REQUEST_BITS (DHT__WIRE_CLIENT | DHT__WIRE_PROOF | DHT__WIRE_PADDED)

/* What became of a ROUTE (ROUTED's outcome, schema/wire.md 4). */
typedef enum dht__route_outcome {
    DHT__ROUTE_DELIVERED = 0, /* the replier delivered it to its application */
    DHT__ROUTE_FORWARDED = 1, /* the replier passed it on to a closer node */
    DHT__ROUTE_REFUSED = 2,   /* dropped: its application refused it, or it runs none */
} dht__route_outcome_t;

/* Error codes carried by an ERROR reply. */
typedef enum dht__wire_err {
    DHT__WERR_MALFORMED = 1,
    DHT__WERR_BAD_TOKEN = 2,
    DHT__WERR_TOO_BIG = 3,
    DHT__WERR_BAD_VALUE = 4,
    DHT__WERR_FULL = 5,
    DHT__WERR_NOT_FOUND = 6,
    DHT__WERR_RATE_LIMITED = 7,
    DHT__WERR_UNPROVEN = 8,
    DHT__WERR_DELETED = 9,
} dht__wire_err_t;

/* What became of a DELETE (DELETED's outcome, schema/wire.md 4). */
typedef enum dht__delete_outcome {
    DHT__DELETE_DONE = 0,     /* the replier held the value and removed it */
    DHT__DELETE_NOT_HELD = 1, /* it holds no such value */
    DHT__DELETE_REFUSED = 2,  /* it holds it, but the secret does not delete it */
} dht__delete_outcome_t;

/* One value entry of a VALUES reply: inline bytes, or a summary (hash and
 * length) for a value to fetch with GET_VALUE. */
typedef struct dht__wire_entry {
    uint8_t is_summary;
    uint8_t flags;
    uint32_t ttl;
    uint32_t len;
    const uint8_t *data; /* inline: len bytes (into the decoded buffer) */
    dht_id_t hash;       /* summary: SHA-256 of the value */
} dht__wire_entry_t;

/* One value of a STORE_MANY (schema/wire.md 4): what a STORE carries
 * after its token. */
typedef struct dht__wire_batch {
    dht_id_t key;
    uint32_t ttl;
    uint32_t age; /* with DHT__WIRE_STORE_AGED in flags: s since first stored */
    uint32_t len; /* a u16 on the wire (a batch fits a datagram) */
    uint8_t flags;
    uint8_t has_owner;    /* an owner follows (DHT__WIRE_BATCH_OWNED) */
    dht_id_t owner;       /* SHA-256 of the publisher's delete secret (wire.md 5.10) */
    const uint8_t *value; /* len bytes (into the decoded buffer) */
} dht__wire_batch_t;

/* A decoded message. Which fields mean something depends on type; pointers
 * point into the buffer that was decoded. */
typedef struct dht__msg {
    uint8_t type;      /* without the client bit */
    uint8_t client;    /* a request from a client node (encoded in the type byte) */
    uint8_t has_proof; /* a request carrying proof[] */
    uint8_t proof[DHT__WIRE_TOKEN_LEN]; /* a token the receiver handed to the sender */
    uint16_t pad;                       /* a request's zero bytes after the body */
    uint32_t txid;
    dht_id_t sender;
    dht_id_t target; /* FIND_NODE target; key of FIND_VALUE, STORE, GET_VALUE, ROUTE */
    dht_id_t hash;   /* GET_VALUE: the value wanted; DELETE: the value to delete */
    dht_id_t secret; /* DELETE: the secret whose SHA-256 is the value's owner */
    dht_id_t owner;  /* STORE with has_owner: SHA-256 of its delete secret */
    uint8_t has_owner;
    uint8_t token[DHT__WIRE_TOKEN_LEN]; /* STORE, NODES, VALUES, PROVIDE, PROVIDERS */
    dht_addr_t addr;                    /* PONG: the requester's address as the replier saw it */
    uint8_t has_region;                 /* PONG: the replier's region and maybe address follow */
    uint16_t region;                    /* PONG: the replier's region (0: none; wire.md 5.11) */
    uint8_t has_advert;                 /* PONG: advert below is there */
    dht_addr_t advert;                  /* PONG: the replier's global address (wire.md 5.11) */
    uint16_t first;                     /* FIND_VALUE, VALUES (and FIND_PROVIDERS,
                                         * PROVIDERS): index of the first entry */
    uint32_t max_age;                   /* FIND_VALUE: values at most this old, s; 0: any */
    uint32_t age;   /* STORE with DHT__WIRE_STORE_AGED: s since the value was first stored */
    uint16_t total; /* VALUES: values the replier holds for the key */
    uint8_t n_nodes;
    uint8_t n_entries;
    uint8_t flags;      /* STORE, VALUE */
    uint32_t ttl;       /* STORE, VALUE; PROVIDE (0: withdraw) */
    uint16_t port;      /* PROVIDE: where the sender serves the key's content */
    uint32_t value_len; /* STORE, VALUE; ROUTE: its message */
    const uint8_t *value;
    uint8_t n_have;     /* HAVE: pairs asked; HELD: pairs answered (the request's count) */
    uint32_t held_bits; /* HELD: bit i set when the replier holds pair i */
    dht_id_t origin;    /* ROUTE: the node that sent the message first */
    uint8_t hops;       /* ROUTE: times it was forwarded so far */
    uint8_t outcome;    /* ROUTED: DHT__ROUTE_*; DELETED: DHT__DELETE_* */
    dht_id_t peer;      /* ROUTED: the node that delivered it, or the next hop */
    uint16_t err_code;  /* ERROR */
    uint8_t err_len;
    const uint8_t *err_msg;
    dht_node_info_t nodes[DHT__WIRE_MAX_NODES];
    dht__wire_entry_t entries[DHT__WIRE_MAX_ENTRIES];
    dht_id_t have_key[DHT__WIRE_MAX_HAVE], have_hash[DHT__WIRE_MAX_HAVE]; /* HAVE */
    uint8_t n_batch;                              /* STORE_MANY: values; STORED_MANY: codes */
    uint8_t batch_codes[DHT__WIRE_MAX_BATCH];     /* STORED_MANY: 0 stored, else an ERROR code */
    dht__wire_batch_t batch[DHT__WIRE_MAX_BATCH]; /* STORE_MANY (token in token[]) */
} dht__msg_t;

/* Decodes buf[0..len) into *m. Reads only inside the buffer and accepts
 * only a message that fills it exactly.
 * @return 0, or DHT_EPROTO for anything malformed (bad magic, version or
 *         type, truncated, trailing bytes, a count over its limit, a node
 *         record of an unknown family). *m is then unspecified. */
int dht__wire_decode(dht__msg_t *m, const uint8_t *buf, size_t len);

/* @return the size dht__wire_encode() gives m, for a message within the
 * limits (counts over their limit are capped; an unknown family counts as
 * IPv4): check the encoder's result, not this, for validity. */
size_t dht__wire_size(const dht__msg_t *m);

/* Encodes m into buf (cap bytes). Every pointer m carries with a nonzero
 * length (value, err_msg, an inline entry's data) must be valid.
 * @return the length written, or 0 if it does not fit or m breaks a limit
 *         (then nothing useful is in buf). */
size_t dht__wire_encode(const dht__msg_t *m, uint8_t *buf, size_t cap);

/* Turns buf[0..len), an encoded request that carries a proof and no
 * padding, into the same request without the proof and padded with pad
 * zero bytes (pad >= 1), in place (cap bytes of room): what its sender
 * sends again when the receiver answered that the proof did not check.
 * @return the new length, or 0 (buf unchanged) if buf is no such request
 *         or the result does not fit cap. */
size_t dht__wire_proof_to_padding(uint8_t *buf, size_t len, size_t pad, size_t cap);

/* Rewrites buf[0..len), an encoded request that carries pad bytes of
 * padding (0: none) and maybe a proof, to carry proof (8 bytes; NULL:
 * none) and new_pad bytes of padding instead, the rest unchanged, in
 * place (cap bytes of room).
 * @return the new length, or 0 (buf unchanged) if buf is no request,
 *         pad does not match its padded bit, or the result does not fit. */
size_t dht__wire_reframe(uint8_t *buf, size_t len, size_t pad, const uint8_t *proof, size_t new_pad,
                         size_t cap);

/* Size of one node record for a family (1 + 32 + 4|16 + 2). */
size_t dht__wire_node_size(uint8_t family);

#define DHT__WIRE_ADDR_MAX 19 /* an address record (3.1): 7 bytes (IPv4) or 19 (IPv6) */

/* Writes a's address record (schema/wire.md 3.1) to out (DHT__WIRE_ADDR_MAX
 * bytes of room). @return its length, or 0 for an unknown family. */
size_t dht__wire_addr_encode(const dht_addr_t *a, uint8_t *out);

/* Reads the address record that is exactly buf[0..len).
 * @return 0 and *a, or DHT_EPROTO. */
int dht__wire_addr_decode(const uint8_t *buf, size_t len, dht_addr_t *a);

/* Size of one STORE_MANY entry. */
size_t dht__wire_batch_size(const dht__wire_batch_t *b);

/* Size of one VALUES entry. */
size_t dht__wire_entry_size(const dht__wire_entry_t *e);

/* Writes the stream preamble for a sender listening on port into
 * buf[0..DHT__STREAM_PREAMBLE). */
void dht__stream_preamble(uint8_t *buf, uint16_t port);

/* Checks a stream preamble. @return 0 and *port, or DHT_EPROTO. */
int dht__stream_preamble_parse(const uint8_t *buf, uint16_t *port);

#endif /* DHT_WIRE_H */
