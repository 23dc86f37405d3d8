/* test_schedules: schedules against the real server, PostgreSQL and the
 * test target — a six-field schedule fires on time and stops when
 * deactivated; a one-shot fires once; two servers on one database start
 * one run per fire; a server killed across due times follows the misfire
 * policy; malformed schedules are refused naming the field. */
#include "apic.h"
#include "check_main.h"
#include "target.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct itest_server srv;
static struct target tgt;
static char script_id[64];

/* A quick script: 1 VU, 2 iterations against the target. */
static void start_default(void)
{
    target_start(&tgt, NULL);
    itest_server_start_healthy(&srv, NULL);
    apic_use(srv.port, NULL);
    char pid[64], sid[64];
    snprintf(pid, sizeof pid, "%s", apic_project(apic_name("sched")));
    snprintf(sid, sizeof sid, "%s", apic_scenario(pid, "s"));
    char *def = apic_def_iterations(tgt.port, "/sched", 1, 2);
    snprintf(script_id, sizeof script_id, "%s", apic_script(sid, "tick", def));
    free(def);
}

static void stop_default(void)
{
    /* nothing of this test fires into the next one */
    PGresult *res = itest_pg(itest_stack()->pg_dsn, "UPDATE schedules SET active = false");
    if (res)
        PQclear(res);
    if (srv.pid > 0)
        itest_server_stop(&srv, 20000);
    target_stop(&tgt);
}

static const char *create(const char *extra)
{
    static char id[64];
    char body[1024];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"script_id\":\"%s\",%s}", apic_name("s"), script_id, extra);
    struct itest_resp r = apic_expect("POST", "/v1/schedules", body, 201);
    snprintf(id, sizeof id, "%s", apic_str(r.json, "id", NULL));
    itest_resp_free(&r);
    return id;
}

static PGresult *sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PGresult *sql(const char *fmt, ...)
{
    char q[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGresult *res = itest_pg(itest_stack()->pg_dsn, q);
    ck_assert_ptr_nonnull(res);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", q, PQresultErrorMessage(res));
    return res;
}

static long count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long count(const char *fmt, ...)
{
    char q[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGresult *res = sql("%s", q);
    long n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

START_TEST(six_field_schedule_fires_on_time_and_stops)
{
    char id[64], path[200];
    snprintf(id, sizeof id, "%s", create("\"cron\":\"*/2 * * * * *\",\"tz\":\"Europe/Berlin\""));
    apic_sleep_ms(7500);
    /* about 3-4 fires, each within a second of its due time, each a run */
    PGresult *res = sql("SELECT count(*), max(abs(extract(epoch FROM fired_at - due_at))),"
                        " count(*) FILTER (WHERE outcome = 'started'), count(run_id),"
                        " count(DISTINCT due_at), min(extract(second FROM due_at)::int %% 2)"
                        " FROM schedule_fires WHERE schedule_id = '%s'", id);
    long fires = atol(PQgetvalue(res, 0, 0)), started = atol(PQgetvalue(res, 0, 2));
    double late = atof(PQgetvalue(res, 0, 1));
    ck_assert_msg(fires >= 3 && fires <= 4, "%ld fires in 7.5 s", fires);
    ck_assert_msg(late < 1.0, "a fire came %.3f s after its due time", late);
    ck_assert_int_eq(started, fires);
    ck_assert_int_eq(atol(PQgetvalue(res, 0, 3)), fires);
    ck_assert_int_eq(atol(PQgetvalue(res, 0, 4)), fires);
    ck_assert_int_eq(atol(PQgetvalue(res, 0, 5)), 0); /* even seconds only */
    PQclear(res);
    /* the runs know where they came from */
    snprintf(path, sizeof path, "/v1/runs?schedule_id=%s&limit=200", id);
    struct itest_resp r = apic_expect("GET", path, NULL, 200);
    ck_assert_int_eq((long)apic_get(r.json, "items", NULL)->u.array.len, fires);
    char origin[80];
    snprintf(origin, sizeof origin, "schedule:%s", id);
    ck_assert_str_eq(apic_str(r.json, "items", "0", "origin", NULL), origin);
    itest_resp_free(&r);
    /* history and the times to come */
    snprintf(path, sizeof path, "/v1/schedules/%s/fires?limit=2", id);
    r = apic_expect("GET", path, NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "items", "0", "outcome", NULL), "started");
    ck_assert_ptr_nonnull(apic_str(r.json, "items", "0", "run_id", NULL));
    ck_assert_ptr_nonnull(apic_str(r.json, "next_cursor", NULL));
    itest_resp_free(&r);
    snprintf(path, sizeof path, "/v1/schedules/%s/next?count=3", id);
    r = apic_expect("GET", path, NULL, 200);
    const char *t0 = apic_str(r.json, "items", "0", NULL), *t1 = apic_str(r.json, "items", "1", NULL);
    ck_assert_ptr_nonnull(t0);
    ck_assert_ptr_nonnull(strstr(t0, "+01:00")); /* Berlin in winter */
    ck_assert_int_eq((t1[18] - '0') % 2, 0);
    itest_resp_free(&r);
    /* deactivated: no more fires */
    snprintf(path, sizeof path, "/v1/schedules/%s", id);
    r = apic_expect("PATCH", path, "{\"active\":false}", 200);
    ck_assert(YAJL_IS_FALSE(apic_get(r.json, "active", NULL)));
    itest_resp_free(&r);
    apic_sleep_ms(300);
    long before = count("SELECT count(*) FROM schedule_fires WHERE schedule_id = '%s'", id);
    apic_sleep_ms(4500);
    ck_assert_int_eq(count("SELECT count(*) FROM schedule_fires WHERE schedule_id = '%s'", id), before);
    /* and active again: it goes on from now, not from where it stopped */
    r = apic_expect("PATCH", path, "{\"active\":true,\"cron\":\"* * * * * *\"}", 200);
    itest_resp_free(&r);
    apic_sleep_ms(2600);
    long after = count("SELECT count(*) FROM schedule_fires WHERE schedule_id = '%s'", id);
    ck_assert_msg(after >= before + 2 && after <= before + 3, "%ld fires after re-activation", after - before);
    ck_assert_int_eq(count("SELECT count(*) FROM schedule_fires WHERE schedule_id = '%s' AND outcome = 'missed'", id), 0);
}
END_TEST

START_TEST(one_shot_fires_once)
{
    char at[64], extra[160], id[64], path[200];
    time_t t = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(extra, sizeof extra, "\"at\":\"%s\"", at);
    snprintf(id, sizeof id, "%s", create(extra));
    apic_sleep_ms(5000);
    ck_assert_int_eq(count("SELECT count(*) FROM schedule_fires WHERE schedule_id = '%s' AND outcome = 'started'", id), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM runs WHERE origin = 'schedule:%s'", id), 1);
    snprintf(path, sizeof path, "/v1/schedules/%s", id);
    struct itest_resp r = apic_expect("GET", path, NULL, 200);
    ck_assert_ptr_null(apic_str(r.json, "next_due_at", NULL));
    itest_resp_free(&r);
    snprintf(path, sizeof path, "/v1/schedules/%s/next", id);
    r = apic_expect("GET", path, NULL, 200);
    ck_assert_int_eq(apic_get(r.json, "items", NULL)->u.array.len, 0);
    itest_resp_free(&r);
}
END_TEST

START_TEST(two_servers_one_run_per_fire)
{
    struct itest_server two;
    itest_server_start_healthy(&two, NULL);
    char id[64];
    snprintf(id, sizeof id, "%s", create("\"cron\":\"* * * * * *\",\"overlap\":\"allow\""));
    apic_sleep_ms(12500);
    char path[200];
    snprintf(path, sizeof path, "/v1/schedules/%s", id);
    struct itest_resp r = apic_expect("PATCH", path, "{\"active\":false}", 200);
    itest_resp_free(&r);
    apic_sleep_ms(500);
    PGresult *res = sql("SELECT count(*), count(DISTINCT due_at), count(*) FILTER (WHERE outcome = 'started'),"
                        " extract(epoch FROM max(due_at) - min(due_at))::int"
                        " FROM schedule_fires WHERE schedule_id = '%s'", id);
    long fires = atol(PQgetvalue(res, 0, 0)), distinct = atol(PQgetvalue(res, 0, 1));
    long started = atol(PQgetvalue(res, 0, 2)), spread = atol(PQgetvalue(res, 0, 3));
    PQclear(res);
    ck_assert_msg(fires >= 10, "only %ld fires", fires);
    ck_assert_int_eq(distinct, fires);
    ck_assert_int_eq(started, fires);
    ck_assert_int_eq(spread, fires - 1); /* one per second, none missing */
    /* one run per fire, whichever server started it */
    char origin[80];
    snprintf(origin, sizeof origin, "schedule:%s", id);
    ck_assert_int_eq(count("SELECT count(*) FROM runs WHERE origin = '%s'", origin), fires);
    ck_assert_int_eq(itest_server_stop(&two, 20000), 0);
}
END_TEST

static void kill_restart(int down_ms)
{
    kill(srv.pid, SIGKILL);
    waitpid(srv.pid, NULL, 0);
    srv.pid = 0;
    apic_sleep_ms(down_ms);
    itest_server_start_healthy(&srv, NULL);
    apic_use(srv.port, NULL);
}

START_TEST(killed_across_due_times_follows_misfire_policy)
{
    char skip[64], once[64];
    snprintf(skip, sizeof skip, "%s", create("\"cron\":\"*/2 * * * * *\",\"misfire\":\"skip\""));
    snprintf(once, sizeof once, "%s", create("\"cron\":\"*/2 * * * * *\",\"misfire\":\"run_once\""));
    apic_sleep_ms(2500);
    long skip_runs = count("SELECT count(*) FROM runs WHERE origin = 'schedule:%s'", skip);
    long once_runs = count("SELECT count(*) FROM runs WHERE origin = 'schedule:%s'", once);
    ck_assert_int_ge(skip_runs, 1);
    kill_restart(9000); /* about 4 due times pass with no server */
    uint64_t t0 = itest_now_ms();
    apic_sleep_ms(1000);
    /* skip: one missed fire recorded, no run for it */
    PGresult *res = sql("SELECT count(*), min(detail) FROM schedule_fires WHERE schedule_id = '%s' AND outcome = 'missed'", skip);
    ck_assert_int_eq(atol(PQgetvalue(res, 0, 0)), 1);
    ck_assert_ptr_nonnull(strstr(PQgetvalue(res, 0, 1), "missed"));
    PQclear(res);
    /* run_once: one run at once for the missed times */
    res = sql("SELECT count(*), min(detail) FROM schedule_fires WHERE schedule_id = '%s' AND detail LIKE '%%missed%%'", once);
    ck_assert_int_eq(atol(PQgetvalue(res, 0, 0)), 1);
    PQclear(res);
    ck_assert_int_eq(count("SELECT count(*) FROM schedule_fires WHERE schedule_id = '%s' AND outcome = 'missed'", once), 0);
    /* then both go on as before: fires every 2 s, each a run */
    apic_sleep_ms(4000 - (int)(itest_now_ms() - t0));
    long skip_after = count("SELECT count(*) FROM runs WHERE origin = 'schedule:%s'", skip);
    long once_after = count("SELECT count(*) FROM runs WHERE origin = 'schedule:%s'", once);
    ck_assert_msg(skip_after - skip_runs >= 1 && skip_after - skip_runs <= 3, "skip: %ld new runs", skip_after - skip_runs);
    ck_assert_msg(once_after - once_runs >= 2 && once_after - once_runs <= 4, "run_once: %ld new runs", once_after - once_runs);
    /* a fire is recorded once per due time, across the restart */
    ck_assert_int_eq(count("SELECT count(*) - count(DISTINCT due_at) FROM schedule_fires WHERE schedule_id = '%s'", once), 0);
}
END_TEST

START_TEST(malformed_schedules_name_the_field)
{
    char body[512];
    long before = count("SELECT count(*) FROM schedules");
#define BAD(extra, field)                                                                                     \
    do {                                                                                                      \
        snprintf(body, sizeof body, "{\"name\":\"bad\",\"script_id\":\"%s\",%s}", script_id, extra);        \
        apic_error("POST", "/v1/schedules", body, 400, "invalid", field);                                     \
    } while (0)
    BAD("\"cron\":\"* * *\"", "cron");
    BAD("\"cron\":\"0 0 32 * *\"", "cron");
    BAD("\"cron\":\"0 0 30 2 *\"", "cron");
    BAD("\"cron\":\"*/0 * * * *\"", "cron");
    BAD("\"cron\":\"0 0 * * FUNDAY\"", "cron");
    BAD("\"cron\":\"* * * * *\",\"tz\":\"Mars/Olympus\"", "tz");
    BAD("\"cron\":\"* * * * *\",\"tz\":\"../../etc/passwd\"", "tz");
    BAD("\"at\":\"2020-01-01T00:00:00Z\"", "at");
    BAD("\"at\":\"tomorrow\"", "at");
    BAD("\"cron\":\"* * * * *\",\"at\":\"2099-01-01T00:00:00Z\"", "at");
    BAD("\"cron\":\"* * * * *\",\"overlap\":\"sometimes\"", "overlap");
    BAD("\"cron\":\"* * * * *\",\"misfire\":\"later\"", "misfire");
    BAD("\"cron\":\"* * * * *\",\"percent\":0", "percent");
    BAD("\"cron\":5", "cron");
    apic_error("POST", "/v1/schedules", "{\"name\":\"bad\",\"cron\":\"* * * * *\"}", 400, "invalid", "script_id");
    apic_error("POST", "/v1/schedules",
               "{\"name\":\"bad\",\"cron\":\"* * * * *\",\"script_id\":\"0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11\"}",
               400, "invalid", "script_id");
    apic_error("POST", "/v1/schedules",
               "{\"name\":\"bad\",\"cron\":\"* * * * *\",\"scenario_id\":\"0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11\"}",
               400, "invalid", "scenario_id");
    struct itest_resp r = apic("POST", "/v1/schedules", "{\"name\":\"bad\",\"cron\":\"0 0 32 * *\",\"script_id\":\"0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11\"}");
    ck_assert_ptr_nonnull(strstr(apic_str(r.json, "error", "message", NULL), "day of month"));
    itest_resp_free(&r);
    ck_assert_int_eq(count("SELECT count(*) FROM schedules"), before);
    /* and on PATCH */
    char id[64], path[160];
    snprintf(id, sizeof id, "%s", create("\"cron\":\"0 0 1 1 *\""));
    snprintf(path, sizeof path, "/v1/schedules/%s", id);
    apic_error("PATCH", path, "{\"cron\":\"61 * * * *\"}", 400, "invalid", "cron");
    apic_error("PATCH", path, "{\"tz\":\"Nowhere/Land\"}", 400, "invalid", "tz");
    apic_error("PATCH", path, "{}", 400, "invalid", NULL);
    apic_error("PATCH", "/v1/schedules/0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11", "{\"name\":\"x\"}", 404, "not_found", "id");
    r = apic_expect("PATCH", path, "{\"tz\":\"Australia/Sydney\",\"percent\":25}", 200);
    ck_assert_str_eq(apic_str(r.json, "tz", NULL), "Australia/Sydney");
    ck_assert_int_eq((int)apic_num(r.json, "percent", NULL), 25);
    ck_assert_str_eq(apic_str(r.json, "cron", NULL), "0 0 1 1 *");
    /* midnight, January 1st, in Sydney (summer: +11:00) is 13:00 UTC the day before */
    ck_assert_ptr_nonnull(strstr(apic_str(r.json, "next_due_at", NULL), "-12-31T13:00:00"));
    itest_resp_free(&r);
    r = apic_expect("DELETE", path, NULL, 204);
    itest_resp_free(&r);
    apic_error("GET", path, NULL, 404, "not_found", "id");
}
END_TEST

static Suite *schedules_suite(void)
{
    Suite *s = suite_create("schedules");
    TCase *t = tcase_create("schedules");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(t, start_default, stop_default);
    tcase_add_test(t, malformed_schedules_name_the_field);
    tcase_add_test(t, six_field_schedule_fires_on_time_and_stops);
    tcase_add_test(t, one_shot_fires_once);
    tcase_add_test(t, two_servers_one_run_per_fire);
    tcase_add_test(t, killed_across_due_times_follows_misfire_policy);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(schedules_suite)
