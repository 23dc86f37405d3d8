/* test_pg_dns: a PostgreSQL connection whose host is being looked up when
 * it is reset or freed. libevent reports a cancelled lookup later, from the
 * loop, so the callback must not touch a connection that is gone (found by
 * ASan in CI: a heap-use-after-free at server shutdown) nor clear the
 * lookup a reconnect has started since. Run under --enable-sanitizers, a
 * mistake here is a sanitizer report. No PostgreSQL is needed: the name
 * never resolves (a nameserver that does not answer). */
#include "check_main.h"
#include "pg.h"

#include <event2/dns.h>
#include <event2/event.h>

static int states;

static void on_state(struct pg_conn *c, enum pg_state st, const char *why, void *arg)
{
    (void)c;
    (void)st;
    (void)why;
    (void)arg;
    states++;
}

/* A resolver whose one nameserver is a port where nothing answers: every
 * lookup stays in flight for the whole test. */
static struct evdns_base *mute_dns(struct event_base *base)
{
    struct evdns_base *dns = evdns_base_new(base, 0);
    ck_assert_ptr_nonnull(dns);
    ck_assert_int_eq(evdns_base_nameserver_ip_add(dns, "127.0.0.1:9"), 0);
    ck_assert_int_eq(evdns_base_set_option(dns, "timeout:", "30"), 0);
    ck_assert_int_eq(evdns_base_set_option(dns, "attempts:", "1"), 0);
    return dns;
}

static void spin(struct event_base *base)
{
    for (int i = 0; i < 20; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

START_TEST(freed_while_its_host_is_looked_up)
{
    struct event_base *base = event_base_new();
    struct evdns_base *dns = mute_dns(base);
    states = 0;
    struct pg_conn *c = pg_conn_new(base, dns, "host=db.stampede-test.invalid dbname=x", "t", on_state, NULL);
    ck_assert_int_eq(pg_conn_connect(c), 0);
    spin(base);
    ck_assert_int_eq(pg_conn_state(c), PG_CONNECTING); /* still looking up */
    int before = states;
    pg_conn_free(c);
    spin(base); /* the cancelled lookup is reported now, to nobody */
    ck_assert_int_eq(states, before);
    evdns_base_free(dns, 0);
    event_base_free(base);
}
END_TEST

START_TEST(reset_while_looked_up_then_reconnected)
{
    struct event_base *base = event_base_new();
    struct evdns_base *dns = mute_dns(base);
    struct pg_conn *c = pg_conn_new(base, dns, "host=db.stampede-test.invalid dbname=x", "t", on_state, NULL);
    ck_assert_int_eq(pg_conn_connect(c), 0);
    spin(base);
    pg_conn_reset(c, "test");
    ck_assert_int_eq(pg_conn_state(c), PG_DOWN);
    ck_assert_int_eq(pg_conn_connect(c), 0); /* a second lookup, before the first's cancel is reported */
    spin(base);
    ck_assert_int_eq(pg_conn_state(c), PG_CONNECTING);
    /* the second lookup must still be known, so that freeing cancels it */
    pg_conn_free(c);
    spin(base);
    evdns_base_free(dns, 0);
    event_base_free(base);
}
END_TEST

static Suite *pg_dns_suite(void)
{
    Suite *s = suite_create("pg_dns");
    TCase *tc = tcase_create("lookup");
    tcase_add_test(tc, freed_while_its_host_is_looked_up);
    tcase_add_test(tc, reset_while_looked_up_then_reconnected);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(pg_dns_suite)
