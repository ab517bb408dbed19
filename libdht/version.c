/* The library's version, for programs that check what they run with. */
#include "dht.h"

const char *dht_version(void)
{
    return DHT_VERSION_STRING;
}
