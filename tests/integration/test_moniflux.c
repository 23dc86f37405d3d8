/* test_moniflux: MoniFlux's routes on a real server, PostgreSQL and
 * Redis, sending to the test collector on 127.0.0.1 — create, start at
 * the payload's rates, cancel (delivery stops within a second), restart
 * with new rates, complete, schedule (starts on time), the transitions
 * refused, lists, bad payloads with the field, and the API token. */
#include "apic.h"
#include "check_main.h"
#include "itest.h"
#include "target.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct itest_server srv;
static struct target col;

static void start_default(void)
{
    const char *args[] = { "--log-size", "40", NULL };
    target_start_program(&col, "stampede-collector", args);
    itest_server_start_healthy(&srv, NULL);
    apic_use(srv.port, NULL);
}

static void stop_default(void)
{
    if (srv.pid > 0)
        itest_server_stop(&srv, 20000);
    target_stop(&col);
}

/* A MoniFlux payload for test id, sending to the collector. */
static const char *payload(const char *id, int log_rate, int metrics_rate, int trace_rate, int duration)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"testID\":\"%s\",\"userID\":\"u-%d\",\"logType\":\"ERROR\",\"logRate\":%d,\"logSize\":40,"
             "\"metricsRate\":%d,\"traceRate\":%d,\"duration\":%d,"
             "\"destination\":{\"name\":\"collector\",\"endpoint\":\"http://127.0.0.1:1/\",\"port\":%u,"
             "\"apiKey\":\"mf-key\"}}",
             id, (int)getpid(), log_rate, metrics_rate, trace_rate, duration, col.port);
    return buf;
}

static const char *state_of(const char *id)
{
    static char st[32];
    char path[300];
    snprintf(path, sizeof path, "/tests/%s", id);
    struct itest_resp r = apic_expect("GET", path, NULL, 200);
    snprintf(st, sizeof st, "%s", apic_str(r.json, "state", NULL));
    itest_resp_free(&r);
    return st;
}

static const char *wait_state(const char *id, const char *want, int timeout_ms)
{
    const char *st = "";
    for (int t = 0; t <= timeout_ms; t += 100) {
        st = state_of(id);
        if (strcmp(st, want) == 0)
            return st;
        apic_sleep_ms(100);
    }
    ck_abort_msg("test %s stayed %s, not %s", id, st, want);
    return st;
}

static long collected(const char *signal)
{
    struct itest_resp r;
    itest_http(col.port, "GET", "/__stats", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    const char *p[] = { signal, "docs", NULL };
    yajl_val v = yajl_tree_get(r.json, p, yajl_t_number);
    ck_assert_ptr_nonnull(v);
    long n = (long)YAJL_GET_INTEGER(v);
    const char *b[] = { signal, "bad", NULL };
    ck_assert_int_eq(YAJL_GET_INTEGER(yajl_tree_get(r.json, b, yajl_t_number)), 0);
    itest_resp_free(&r);
    return n;
}

static void post(const char *route, const char *body, int status, const char *state)
{
    struct itest_resp r = apic_expect("POST", route, body, status);
    if (state)
        ck_assert_str_eq(apic_str(r.json, "state", NULL), state);
    itest_resp_free(&r);
}

START_TEST(lifecycle_and_rates)
{
    char id[64], body[256];
    snprintf(id, sizeof id, "%s", apic_name("mf"));
    struct itest_resp r = apic_expect("POST", "/create-test", payload(id, 200, 100, 50, 30), 201);
    ck_assert_str_eq(apic_str(r.json, "state", NULL), "Pending");
    ck_assert_str_eq(apic_str(r.json, "testID", NULL), id);
    ck_assert_str_eq(apic_str(r.json, "destination", "apiKey", NULL), "***");
    itest_resp_free(&r);
    apic_error("POST", "/create-test", payload(id, 1, 1, 1, 5), 400, "invalid", "testID");
    snprintf(body, sizeof body, "{\"testID\":\"%s\"}", id);
    post("/restart-test", body, 400, NULL); /* Pending: nothing to restart */
    post("/cancel-test", body, 400, NULL);

    /* started: each signal at its rate, 40-byte messages, the key on each */
    post("/start-test", body, 200, "Running");
    post("/start-test", body, 400, NULL); /* already running */
    post("/restart-test", body, 400, NULL);
    apic_sleep_ms(2600);
    long logs = collected("logs"), metrics = collected("metrics"), traces = collected("traces");
    ck_assert_msg(logs >= 400 && logs <= 560, "%ld logs in ~2.5 s at 200/s", logs);
    ck_assert_msg(metrics >= 200 && metrics <= 280, "%ld metrics in ~2.5 s at 100/s", metrics);
    ck_assert_msg(traces >= 100 && traces <= 140, "%ld traces in ~2.5 s at 50/s", traces);

    /* cancelled: the destination stops receiving within a second */
    post("/cancel-test", body, 200, "Cancelled");
    apic_sleep_ms(1000);
    long after = collected("logs");
    apic_sleep_ms(1000);
    ck_assert_msg(collected("logs") == after, "logs still arriving a second after the cancel");
    ck_assert_str_eq(state_of(id), "Cancelled");

    /* restarted with new rates, to the end */
    snprintf(body, sizeof body, "{\"testID\":\"%s\",\"logRate\":20,\"metricsRate\":0,\"traceRate\":10,\"duration\":2}",
             id);
    long logs0 = collected("logs"), metrics0 = collected("metrics");
    post("/restart-test", body, 200, "Running");
    wait_state(id, "Completed", 15000);
    long dl = collected("logs") - logs0;
    ck_assert_msg(dl >= 39 && dl <= 41, "%ld logs at 20/s for 2 s", dl);
    ck_assert_int_eq(collected("metrics"), metrics0); /* rate 0: none */
    char path[300];
    snprintf(path, sizeof path, "/tests/%s", id);
    r = apic_expect("GET", path, NULL, 200);
    ck_assert_double_eq(apic_num(r.json, "logRate", NULL), 20);
    ck_assert_ptr_nonnull(apic_str(r.json, "runID", NULL));
    itest_resp_free(&r);
    snprintf(body, sizeof body, "{\"testID\":\"%s\"}", id);
    post("/cancel-test", body, 400, NULL); /* completed: nothing to cancel */

    /* lists, filtered by user */
    char lp[128];
    snprintf(lp, sizeof lp, "/tests?userID=u-%d", (int)getpid());
    r = apic_expect("GET", lp, NULL, 200);
    ck_assert(YAJL_IS_ARRAY(r.json));
    ck_assert_uint_ge(r.json->u.array.len, 1);
    itest_resp_free(&r);
    r = apic_expect("GET", "/tests?userID=nobody-at-all", NULL, 200);
    ck_assert_uint_eq(r.json->u.array.len, 0);
    itest_resp_free(&r);
    apic_error("GET", "/tests/no-such-test", NULL, 404, "not_found", "testID");
    apic_error("POST", "/start-test", "{\"testID\":\"no-such-test\"}", 404, "not_found", "testID");
}
END_TEST

START_TEST(schedule_starts_on_time)
{
    char id[64], body[256];
    snprintf(id, sizeof id, "%s", apic_name("mfs"));
    post("/create-test", payload(id, 100, 0, 0, 2), 201, "Pending");
    time_t at = time(NULL) + 3;
    struct tm tm;
    gmtime_r(&at, &tm);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof body, "{\"testID\":\"%s\",\"scheduleAt\":\"2001-01-01T00:00:00Z\"}", id);
    apic_error("POST", "/schedule-test", body, 400, "invalid", "scheduleAt");
    snprintf(body, sizeof body, "{\"testID\":\"%s\",\"scheduleAt\":\"tomorrow\"}", id);
    apic_error("POST", "/schedule-test", body, 400, "invalid", "scheduleAt");
    long before = collected("logs");
    snprintf(body, sizeof body, "{\"testID\":\"%s\",\"scheduleAt\":\"%s\"}", id, when);
    post("/schedule-test", body, 200, "Scheduled");
    post("/schedule-test", body, 400, NULL); /* already scheduled */
    /* nothing before the time; documents within a second after it */
    while (time(NULL) < at - 1)
        apic_sleep_ms(50);
    ck_assert_int_eq(collected("logs"), before);
    struct timespec t0;
    for (;;) {
        clock_gettime(CLOCK_REALTIME, &t0);
        if (collected("logs") > before)
            break;
        ck_assert_msg(t0.tv_sec <= at + 1, "no documents a second after %s", when);
        apic_sleep_ms(20);
    }
    double late = (double)t0.tv_sec + t0.tv_nsec / 1e9 - (double)at;
    ck_assert_msg(late >= -0.05 && late <= 1.0, "first documents %.3f s after scheduleAt", late);
    wait_state(id, "Completed", 15000);

    /* a scheduled test cancelled never starts */
    char id2[64];
    snprintf(id2, sizeof id2, "%s", apic_name("mfc"));
    post("/create-test", payload(id2, 100, 0, 0, 2), 201, NULL);
    at = time(NULL) + 60;
    gmtime_r(&at, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof body, "{\"testID\":\"%s\",\"scheduleAt\":\"%s\"}", id2, when);
    post("/schedule-test", body, 200, "Scheduled");
    snprintf(body, sizeof body, "{\"testID\":\"%s\"}", id2);
    post("/cancel-test", body, 200, "Cancelled");
}
END_TEST

START_TEST(bad_payloads_name_the_field)
{
    static const struct {
        const char *body, *field;
    } bad[] = {
        { "{\"userID\":\"u\",\"duration\":5,\"destination\":{\"endpoint\":\"http://127.0.0.1:9/\"}}", "testID" },
        { "{\"testID\":\"\",\"duration\":5,\"destination\":{\"endpoint\":\"http://127.0.0.1:9/\"}}", "testID" },
        { "{\"testID\":\"x1\",\"logRate\":\"many\",\"duration\":5,\"destination\":{\"endpoint\":\"http://h/\"}}",
          "logRate" },
        { "{\"testID\":\"x2\",\"logRate\":-1,\"duration\":5,\"destination\":{\"endpoint\":\"http://h/\"}}", "logRate" },
        { "{\"testID\":\"x3\",\"logRate\":5,\"logSize\":0,\"duration\":5,\"destination\":{\"endpoint\":\"http://h/\"}}",
          "logSize" },
        { "{\"testID\":\"x4\",\"logRate\":5,\"duration\":0,\"destination\":{\"endpoint\":\"http://h/\"}}", "duration" },
        { "{\"testID\":\"x5\",\"logRate\":5,\"duration\":5}", "destination" },
        { "{\"testID\":\"x6\",\"logRate\":5,\"duration\":5,\"destination\":{\"endpoint\":\"ftp://h/\"}}",
          "destination.endpoint" },
        { "{\"testID\":\"x7\",\"logRate\":5,\"duration\":5,\"destination\":{\"endpoint\":\"http://h/\",\"port\":0}}",
          "destination.port" },
        { "{\"testID\":\"x8\",\"duration\":5,\"destination\":{\"endpoint\":\"http://h/\"}}", "logRate" },
        { "{\"testID\":\"x9\",\"logRate\":5,\"duration\":5,\"destination\":{\"endpoint\":\"http://h/\"},\"colour\":1}",
          "colour" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        apic_error("POST", "/create-test", bad[i].body, 400, "invalid", bad[i].field);
    apic_error("POST", "/create-test", "{\"testID\":", 400, "malformed_json", NULL);
    apic_error("POST", "/restart-test", "{\"testID\":\"x1\",\"logSize\":5}", 400, "invalid", "logSize");
    /* nothing half-written */
    apic_error("GET", "/tests/x1", NULL, 404, "not_found", "testID");
}
END_TEST

START_TEST(the_token_guards_them)
{
    struct itest_server s;
    const char *extra[] = { "--api-token", "mf-secret-token", NULL };
    itest_server_start_healthy(&s, extra);
    struct itest_resp r;
    itest_http(s.port, "GET", "/tests", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 401);
    itest_resp_free(&r);
    itest_http(s.port, "GET", "/tests", "Authorization: Bearer mf-secret-token\r\n", NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    itest_resp_free(&r);
    itest_server_stop(&s, 20000);
}
END_TEST

static Suite *moniflux_suite(void)
{
    Suite *s = suite_create("moniflux");
    TCase *tc = tcase_create("routes");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(tc, start_default, stop_default);
    tcase_add_test(tc, lifecycle_and_rates);
    tcase_add_test(tc, schedule_starts_on_time);
    tcase_add_test(tc, bad_payloads_name_the_field);
    tcase_add_test(tc, the_token_guards_them);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(moniflux_suite)
