/* test_bus: the bus actor in-process against the real Redis — local and
 * remote delivery without duplicates, drops counted while Redis is down,
 * local delivery meanwhile, and reconnection. */
#include "bus.h"
#include "check_main.h"
#include "itest.h"
#include "probe.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct probe p;
static actor_t *buses[2];
static int nbuses;

static actor_t *make_bus(const char *url, const char *prefix)
{
    char err[200];
    struct bus_config bc = { url, prefix };
    actor_t *b = bus_new(loop_group_get(p.g, nbuses % 2), &bc, err, sizeof err);
    ck_assert_msg(b != NULL, "%s", err);
    buses[nbuses++] = b;
    return b;
}

static void subscribe(actor_t *bus, actor_t *who, const char *pattern)
{
    struct bus_subscribe *s = MSG_NEW(MSG_BUS_SUBSCRIBE, struct bus_subscribe);
    snprintf(s->pattern, sizeof s->pattern, "%s", pattern);
    s->m.reply_to = who;
    ck_assert_int_eq(actor_send(bus, &s->m), 0);
}

static void watch(actor_t *bus)
{
    msg_t *w = msg_new(MSG_DEP_WATCH, sizeof(msg_t));
    w->reply_to = p.actor;
    ck_assert_int_eq(actor_send(bus, w), 0);
}

static void publish(actor_t *bus, const char *channel, const char *payload)
{
    struct bus_message *m = bus_publish_new(channel, payload, strlen(payload));
    ck_assert_int_eq(actor_send(bus, &m->m), 0);
}

static int wait_up(int want, int count, int timeout_ms)
{
    uint64_t until = itest_now_ms() + (uint64_t)timeout_ms;
    int seen = 0;
    while (itest_now_ms() < until && seen < count) {
        struct msg_dep_status *s = (struct msg_dep_status *)probe_wait(&p, MSG_DEP_STATUS, 100);
        if (!s)
            continue;
        if (s->up == want)
            seen++;
        msg_free(&s->m);
    }
    return seen >= count ? 0 : -1;
}

static struct bus_stats stats(actor_t *bus)
{
    probe_send(&p, bus, msg_new(MSG_BUS_STATS_GET, sizeof(msg_t)), 77);
    struct bus_stats *s = (struct bus_stats *)probe_wait(&p, MSG_BUS_STATS, 5000);
    ck_assert_ptr_nonnull(s);
    struct bus_stats copy = *s;
    msg_free(&s->m);
    return copy;
}

static struct bus_message *next_message(int timeout_ms)
{
    return (struct bus_message *)probe_wait(&p, MSG_BUS_MESSAGE, timeout_ms);
}

static void setup(void)
{
    nbuses = 0;
    probe_start(&p, 2);
}

static void teardown(void)
{
    for (int i = 0; i < nbuses; i++) {
        probe_send(&p, buses[i], msg_new(MSG_STOP, sizeof(msg_t)), 5);
        msg_t *m = probe_wait(&p, MSG_STOPPED, 5000);
        msg_free(m);
    }
    probe_stop(&p);
    for (int i = 0; i < nbuses; i++)
        bus_free(buses[i]);
    probe_free(&p);
}

START_TEST(local_only_bus_delivers_in_process)
{
    actor_t *b = make_bus(NULL, "stampede");
    subscribe(b, p.actor, "stampede:run:*");
    probe_run(&p);
    publish(b, "stampede:run:1", "{\"x\":1}");
    publish(b, "stampede:other", "{\"x\":2}"); /* does not match */
    struct bus_message *m = next_message(2000);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->channel, "stampede:run:1");
    ck_assert_str_eq(m->payload, "{\"x\":1}");
    ck_assert_int_eq(m->remote, 0);
    msg_free(&m->m);
    ck_assert_ptr_null(next_message(200));
    struct bus_stats s = stats(b);
    ck_assert_uint_eq(s.delivered_local, 1);
    ck_assert_uint_eq(s.published, 0);
}
END_TEST

START_TEST(two_servers_share_messages_without_duplicates)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "t%d", (int)getpid());
    char pattern[80], chan[80];
    snprintf(pattern, sizeof pattern, "%s:run:*", prefix);
    snprintf(chan, sizeof chan, "%s:run:42", prefix);
    actor_t *a = make_bus(itest_stack()->redis_url, prefix);
    actor_t *b = make_bus(itest_stack()->redis_url, prefix);
    watch(a);
    watch(b);
    subscribe(a, p.actor, pattern);
    probe_run(&p);
    ck_assert_int_eq(wait_up(1, 2, 5000), 0);
    usleep(200000); /* let both PSUBSCRIBEs be confirmed */
    /* from a: delivered locally once, its echo from Redis skipped */
    publish(a, chan, "{\"from\":\"a\"}");
    struct bus_message *m = next_message(2000);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->remote, 0);
    msg_free(&m->m);
    ck_assert_ptr_null(next_message(300));
    /* from b (no local subscriber there): reaches a's subscriber through Redis */
    publish(b, chan, "{\"from\":\"b\"}");
    m = next_message(2000);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->remote, 1);
    ck_assert_str_eq(m->payload, "{\"from\":\"b\"}");
    msg_free(&m->m);
    ck_assert_uint_ge(stats(b).published, 1);
}
END_TEST

START_TEST(redis_outage_drops_counts_and_recovers)
{
    char prefix[64], pattern[80], chan[80];
    snprintf(prefix, sizeof prefix, "o%d", (int)getpid());
    snprintf(pattern, sizeof pattern, "%s:*", prefix);
    snprintf(chan, sizeof chan, "%s:run:1", prefix);
    actor_t *a = make_bus(itest_stack()->redis_url, prefix);
    actor_t *b = make_bus(itest_stack()->redis_url, prefix);
    watch(a);
    subscribe(a, p.actor, pattern);
    probe_run(&p);
    ck_assert_int_eq(wait_up(1, 1, 5000), 0);
    ck_assert_int_eq(itest_stack_cmd("redis-stop"), 0);
    ck_assert_int_eq(wait_up(0, 1, 3000), 0);
    uint64_t dropped0 = stats(a).dropped;
    for (int i = 0; i < 5; i++)
        publish(a, chan, "{\"during\":\"outage\"}");
    for (int i = 0; i < 5; i++) { /* local subscribers still get every one */
        struct bus_message *m = next_message(2000);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(m->remote, 0);
        msg_free(&m->m);
    }
    struct bus_stats s = stats(a);
    ck_assert_uint_eq(s.dropped - dropped0, 5);
    ck_assert_int_eq(s.redis_up, 0);
    ck_assert_int_eq(itest_stack_cmd("redis-start"), 0);
    ck_assert_msg(wait_up(1, 1, 8000) == 0, "bus did not reconnect");
    usleep(300000);
    publish(b, chan, "{\"after\":\"outage\"}");
    struct bus_message *m = next_message(3000);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->remote, 1);
    msg_free(&m->m);
}
END_TEST

START_TEST(bad_urls_are_refused)
{
    char host[64], pw[64], err[200];
    int port;
    ck_assert_int_eq(bus_parse_url("http://x", host, sizeof host, &port, pw, sizeof pw, err, sizeof err), -1);
    ck_assert_int_eq(bus_parse_url("redis://:9", host, sizeof host, &port, pw, sizeof pw, err, sizeof err), -1);
    ck_assert_int_eq(bus_parse_url("redis://h:99999", host, sizeof host, &port, pw, sizeof pw, err, sizeof err), -1);
    ck_assert_int_eq(bus_parse_url("redis://:secret@10.0.0.1:7000/2", host, sizeof host, &port, pw,
                                   sizeof pw, err, sizeof err), 0);
    ck_assert_str_eq(host, "10.0.0.1");
    ck_assert_int_eq(port, 7000);
    ck_assert_str_eq(pw, "secret");
    ck_assert_int_eq(bus_parse_url("redis://[::1]", host, sizeof host, &port, pw, sizeof pw, err, sizeof err), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 6379);
}
END_TEST

static Suite *bus_suite(void)
{
    Suite *s = suite_create("bus");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, local_only_bus_delivers_in_process);
    tcase_add_test(tc, two_servers_share_messages_without_duplicates);
    tcase_add_test(tc, redis_outage_drops_counts_and_recovers);
    suite_add_tcase(s, tc);
    TCase *u = tcase_create("url");
    tcase_add_test(u, bad_urls_are_refused);
    suite_add_tcase(s, u);
    return s;
}

CHECK_MAIN(bus_suite)
