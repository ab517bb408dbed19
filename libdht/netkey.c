/*
 * Private networks (schema/wire.md 2.4): every message of a node with a
 * network key ends with a tag, the first DHT_NETWORK_TAG_LEN bytes of
 * HMAC-SHA256(key, message), and a message without a valid tag is
 * dropped before it is parsed. The key is set up once; each message
 * copies the keyed context (EVP_MAC_CTX_dup), so no key schedule runs per
 * message.
 */
#include "node.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h> /* CRYPTO_memcmp */
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

int dht__netkey_init(dht_t *dht)
{
    EVP_MAC *mac;
    OSSL_PARAM params[2];
    char digest[] = "SHA256";
    int ok;

    dht->tag_len = 0;
    dht->net_mac = NULL;
    if (dht->cfg.network_key_len == 0)
        return 0;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return DHT_ENOMEM;
    dht->net_mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
    if (dht->net_mac == NULL)
        return DHT_ENOMEM;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = EVP_MAC_init(dht->net_mac, dht->cfg.network_key, dht->cfg.network_key_len, params);
    dht->cfg.network_key = NULL; /* the caller's bytes: not kept */
    if (!ok) {
        dht__netkey_free(dht);
        return DHT_ENOMEM;
    }
    dht->tag_len = DHT_NETWORK_TAG_LEN;
    return 0;
}

void dht__netkey_free(dht_t *dht)
{
    EVP_MAC_CTX_free(dht->net_mac);
    dht->net_mac = NULL;
}

/* The full HMAC of buf[0..len) into out. @return 1, or 0 if OpenSSL failed. */
static int hmac(const dht_t *dht, const uint8_t *buf, size_t len, uint8_t out[32])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(dht->net_mac);
    size_t n = 0;
    int ok = c != NULL && EVP_MAC_update(c, buf, len) && EVP_MAC_final(c, out, &n, 32) && n == 32;

    EVP_MAC_CTX_free(c);
    return ok;
}

size_t dht__netkey_seal(const dht_t *dht, uint8_t *buf, size_t len)
{
    uint8_t mac[32];

    if (dht->net_mac == NULL)
        return len;
    if (!hmac(dht, buf, len, mac))
        return 0;
    memcpy(buf + len, mac, DHT_NETWORK_TAG_LEN);
    return len + DHT_NETWORK_TAG_LEN;
}

int dht__netkey_open(const dht_t *dht, const uint8_t *buf, size_t *len)
{
    uint8_t mac[32];
    size_t body;

    if (dht->net_mac == NULL)
        return 0;
    if (*len <= DHT_NETWORK_TAG_LEN)
        return -1;
    body = *len - DHT_NETWORK_TAG_LEN;
    if (!hmac(dht, buf, body, mac) || CRYPTO_memcmp(mac, buf + body, DHT_NETWORK_TAG_LEN) != 0)
        return -1;
    *len = body;
    return 0;
}
