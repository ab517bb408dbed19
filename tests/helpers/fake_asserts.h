/*
 * cmocka-checked shorthands over the fake network (fake_net.h), shared by
 * the core's test files. Include after <cmocka.h>. Static: each test file
 * gets its own copy, and the helpers library stays free of cmocka.
 */
#ifndef FAKE_ASSERTS_H
#define FAKE_ASSERTS_H

#include "fake_net.h"

#define T0 1000000u /* the fake clock starts here: any epoch will do */

/* A new, empty network at time T0. */
static inline fake_net_t *new_net(void)
{
    fake_net_t *net = fake_net_new(T0);

    assert_non_null(net);
    return net;
}

/* Adds a core at hostport with settings cfg. @return its index. */
static inline int add_cfg(fake_net_t *net, const char *hostport, const dht_config_t *cfg)
{
    int i = fake_add(net, hostport, cfg);

    assert_true(i >= 0);
    return i;
}

#endif /* FAKE_ASSERTS_H */
