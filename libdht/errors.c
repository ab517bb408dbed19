/* Error codes and their texts, generated from DHT_ERRNO_MAP. */
#include "dht.h"

const char *dht_strerror(int err)
{
    switch (err) {
    case DHT_OK:
        return "success";
#define XX(name, value, text)                                                                      \
    case DHT_##name:                                                                               \
        return text;
        DHT_ERRNO_MAP(XX)
#undef XX
    }
    return "unknown error";
}

const char *dht_err_name(int err)
{
    switch (err) {
    case DHT_OK:
        return "DHT_OK";
#define XX(name, value, text)                                                                      \
    case DHT_##name:                                                                               \
        return "DHT_" #name;
        DHT_ERRNO_MAP(XX)
#undef XX
    }
    return "DHT_UNKNOWN";
}
