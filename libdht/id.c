/* Ids, keys and distances in the 256-bit Kademlia space. */
#include "dht.h"
#include "id_order.h"

#include <string.h>

#include <openssl/evp.h> /* EVP_Digest, EVP_sha256 */

void dht_id_from_bytes(dht_id_t *out, const void *data, size_t len)
{
    static const uint8_t empty[1];
    unsigned int outlen = DHT_ID_LEN;

    /* EVP_Digest with SHA-256 cannot fail on valid arguments; a NULL data
     * pointer is only allowed for the empty input, so give it a real one. */
    if (data == NULL)
        data = empty;
    EVP_Digest(data, len, out->b, &outlen, EVP_sha256(), NULL);
}

void dht_id_distance(dht_id_t *out, const dht_id_t *a, const dht_id_t *b)
{
    for (size_t i = 0; i < DHT_ID_LEN; i++)
        out->b[i] = a->b[i] ^ b->b[i];
}

int dht_id_cmp_distance(const dht_id_t *target, const dht_id_t *a, const dht_id_t *b)
{
    return dht__id_cmp_distance(target, a, b);
}

int dht_id_cmp(const dht_id_t *a, const dht_id_t *b)
{
    return memcmp(a->b, b->b, DHT_ID_LEN);
}

unsigned dht_id_common_prefix(const dht_id_t *a, const dht_id_t *b)
{
    for (unsigned i = 0; i < DHT_ID_LEN; i++) {
        uint8_t x = a->b[i] ^ b->b[i];
        if (x != 0) {
            unsigned bits = 0;
            while ((x & 0x80) == 0) {
                x <<= 1;
                bits++;
            }
            return i * 8 + bits;
        }
    }
    return DHT_ID_LEN * 8;
}

char *dht_id_to_hex(const dht_id_t *id, char *buf)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < DHT_ID_LEN; i++) {
        buf[2 * i] = digits[id->b[i] >> 4];
        buf[2 * i + 1] = digits[id->b[i] & 0x0f];
    }
    buf[2 * DHT_ID_LEN] = '\0';
    return buf;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dht_id_from_hex(dht_id_t *out, const char *hex)
{
    dht_id_t id;

    if (hex == NULL)
        return DHT_EINVAL;
    for (size_t i = 0; i < DHT_ID_LEN; i++) {
        int hi = hexval(hex[2 * i]);
        int lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return DHT_EINVAL;
        id.b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[2 * DHT_ID_LEN] != '\0')
        return DHT_EINVAL;
    *out = id;
    return 0;
}
