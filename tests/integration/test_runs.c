/* test_runs: runs inside `stampede serve` against the real PostgreSQL and
 * the test target — from start to finished with the summary and the series
 * checked against what the target counted; live control visible in series
 * and events; scenario runs with two scripts at their own rates; compare;
 * exports; restart; a server killed mid-run; PostgreSQL stopped mid-run. */
#include "apic.h"
#include "check_main.h"
#include "target.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct itest_server srv;
static struct target tgt;

static void start_default(void)
{
    target_start(&tgt, NULL);
    itest_server_start_healthy(&srv, NULL);
    apic_use(srv.port, NULL);
}

static void stop_default(void)
{
    if (srv.pid > 0)
        itest_server_stop(&srv, 20000);
    target_stop(&tgt);
}

/* A project and scenario to hang scripts on; returns the scenario id. */
static const char *scenario(void)
{
    static char sid[64];
    char pid[64];
    snprintf(pid, sizeof pid, "%s", apic_project(apic_name("runs")));
    snprintf(sid, sizeof sid, "%s", apic_scenario(pid, "svc"));
    return sid;
}

/* Requests the target counted for one path. */
static long target_path(const char *path)
{
    struct itest_resp r;
    itest_http(tgt.port, "GET", "/__stats", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    double n = apic_num(r.json, "by_path", path, NULL);
    itest_resp_free(&r);
    return isnan(n) ? 0 : (long)n;
}

/* GET /v1/runs/{id}{what}{query} */
static struct itest_resp get_run(int status, const char *id, const char *what, const char *query)
{
    char path[512];
    snprintf(path, sizeof path, "/v1/runs/%s%s%s", id, what, query ? query : "");
    return apic_expect("GET", path, NULL, status);
}

/* Does the events list of run id hold an event of this kind? */
static int has_event(const char *id, const char *kind)
{
    struct itest_resp r = get_run(200, id, "/events", "?limit=1000");
    yajl_val items = apic_get(r.json, "items", NULL);
    int found = 0;
    for (size_t i = 0; items && i < items->u.array.len; i++)
        found |= strcmp(apic_str(items->u.array.values[i], "kind", NULL), kind) == 0;
    itest_resp_free(&r);
    return found;
}

START_TEST(script_run_finishes_with_exact_counts)
{
    const char *sid = scenario();
    char *def = apic_def_iterations(tgt.port, "/exact", 3, 40);
    char scr[64], body[256], id[64];
    snprintf(scr, sizeof scr, "%s", apic_script(sid, "exact", def));
    free(def);
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", scr);
    struct itest_resp r = apic_expect("POST", "/v1/runs", body, 201);
    snprintf(id, sizeof id, "%s", apic_str(r.json, "id", NULL));
    ck_assert_str_eq(apic_str(r.json, "kind", NULL), "script");
    ck_assert_str_eq(apic_str(r.json, "origin", NULL), "api");
    ck_assert_str_eq(apic_str(r.json, "scripts", "0", "script_id", NULL), scr);
    ck_assert_ptr_nonnull(apic_get(r.json, "scripts", "0", "definition", "load", NULL));
    itest_resp_free(&r);
    ck_assert_str_eq(apic_wait_status(id, "finished", 30000), "finished");
    long on_target = target_path("/exact");
    ck_assert_int_eq(on_target, 120);
    /* the summary counts what the target saw */
    r = get_run(200, id, "/summary", NULL);
    ck_assert_str_eq(apic_str(r.json, "run_id", NULL), id);
    ck_assert_int_eq((long)apic_num(r.json, "requests", NULL), on_target);
    ck_assert_int_eq((long)apic_num(r.json, "iterations", NULL), 120);
    ck_assert_int_eq((long)apic_num(r.json, "failed", NULL), 0);
    double p50 = apic_num(r.json, "latency_ms", "corrected", "p50", NULL);
    double p99 = apic_num(r.json, "latency_ms", "corrected", "p99", NULL);
    double max = apic_num(r.json, "latency_ms", "corrected", "max", NULL);
    itest_resp_free(&r);
    /* the series re-aggregates to exactly the summary */
    r = get_run(200, id, "/series", "?resolution=all&warmup=false");
    yajl_val all = apic_get(r.json, "items", "0", NULL);
    ck_assert_ptr_nonnull(all);
    ck_assert_int_eq((long)apic_num(all, "requests", NULL), on_target);
    ck_assert_int_eq((long)apic_num(all, "iterations", NULL), 120);
    ck_assert(fabs(apic_num(all, "latency_ms", "corrected", "p50", NULL) - p50) < 1e-9);
    ck_assert(fabs(apic_num(all, "latency_ms", "corrected", "p99", NULL) - p99) < 1e-9);
    ck_assert(fabs(apic_num(all, "latency_ms", "corrected", "max", NULL) - max) < 1e-9);
    itest_resp_free(&r);
    /* per second and per step, the rows add up to the same */
    r = get_run(200, id, "/series", "?step=home&resolution=1s");
    yajl_val items = apic_get(r.json, "items", NULL);
    long sum = 0;
    for (size_t i = 0; i < items->u.array.len; i++)
        sum += (long)apic_num(items->u.array.values[i], "requests", NULL);
    ck_assert_int_eq(sum, on_target);
    itest_resp_free(&r);
    /* history: every transition is an event */
    ck_assert(has_event(id, "queued"));
    ck_assert(has_event(id, "starting"));
    ck_assert(has_event(id, "running"));
    ck_assert(has_event(id, "finished"));
    r = get_run(200, id, "", NULL);
    ck_assert_ptr_nonnull(apic_str(r.json, "started_at", NULL));
    ck_assert_ptr_nonnull(apic_str(r.json, "finished_at", NULL));
    ck_assert_str_eq(apic_str(r.json, "scripts", "0", "status", NULL), "finished");
    itest_resp_free(&r);
    /* CSV and JUnit exports */
    r = get_run(200, id, "/export.csv", NULL);
    ck_assert_ptr_nonnull(strstr(r.headers, "text/csv"));
    ck_assert(strncmp(r.body, "second,script,step,", 19) == 0);
    ck_assert_ptr_nonnull(strstr(r.body, ",\"exact\",total,"));
    ck_assert_ptr_nonnull(strstr(r.body, ",\"exact\",home,"));
    itest_resp_free(&r);
    r = get_run(200, id, "/export.junit.xml", NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "<testsuites tests=\"1\" failures=\"0\">"));
    itest_resp_free(&r);
    /* a finished run cannot be controlled; it can be restarted */
    char p[160];
    snprintf(p, sizeof p, "/v1/runs/%s/stop", id);
    apic_error("POST", p, NULL, 409, "conflict", "id");
    snprintf(p, sizeof p, "/v1/runs/%s/restart", id);
    r = apic_expect("POST", p, NULL, 201);
    ck_assert_str_eq(apic_str(r.json, "restarted_from", NULL), id);
    char id2[64];
    snprintf(id2, sizeof id2, "%s", apic_str(r.json, "id", NULL));
    itest_resp_free(&r);
    ck_assert_str_eq(apic_wait_status(id2, "finished", 30000), "finished");
    ck_assert_int_eq(target_path("/exact"), 240);
}
END_TEST

START_TEST(thresholds_fail_the_run_and_junit_says_so)
{
    const char *sid = scenario();
    char def[1024], scr[64], body[256], id[64];
    snprintf(def, sizeof def,
             "{\"target\":\"http://127.0.0.1:%u\",\"steps\":[{\"name\":\"err\",\"path\":\"/status?code=500\"}],"
             "\"load\":{\"executor\":\"per-vu-iterations\",\"vus\":1,\"iterations\":10},"
             "\"thresholds\":{\"http_req_failed\":[\"rate<0.01\"]}}", tgt.port);
    snprintf(scr, sizeof scr, "%s", apic_script(sid, "errs", def));
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", scr);
    snprintf(id, sizeof id, "%s", apic_run(body));
    ck_assert_str_eq(apic_wait_status(id, "finished|failed", 30000), "failed");
    struct itest_resp r = get_run(200, id, "", NULL);
    ck_assert_ptr_nonnull(strstr(apic_str(r.json, "error", NULL), "threshold"));
    itest_resp_free(&r);
    r = get_run(200, id, "/export.junit.xml", NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "failures=\"1\""));
    ck_assert_ptr_nonnull(strstr(r.body, "name=\"http_req_failed rate&lt;0.01\""));
    itest_resp_free(&r);
}
END_TEST

/* Requests per second in the series between seconds from and to (inclusive). */
static double rate_between(const char *id, int from, int to)
{
    char q[128];
    snprintf(q, sizeof q, "?resolution=all&from=%d&to=%d", from, to);
    struct itest_resp r = get_run(200, id, "/series", q);
    double n = apic_num(r.json, "items", "0", "requests", NULL);
    double span = apic_num(r.json, "items", "0", "span_s", NULL);
    itest_resp_free(&r);
    return span > 0 ? n / span : 0;
}

/* The last second the series has so far. */
static int last_second(const char *id)
{
    struct itest_resp r = get_run(200, id, "/series", NULL);
    yajl_val items = apic_get(r.json, "items", NULL);
    int t = items && items->u.array.len ? (int)apic_num(items->u.array.values[items->u.array.len - 1], "t", NULL) : -1;
    itest_resp_free(&r);
    return t;
}

static void wait_second(const char *id, int t)
{
    uint64_t until = itest_now_ms() + 30000;
    while (last_second(id) < t) {
        ck_assert_msg(itest_now_ms() < until, "the series never reached second %d", t);
        apic_sleep_ms(100);
    }
}

START_TEST(live_control_shows_in_series_and_events)
{
    const char *sid = scenario();
    char *def = apic_def_rate(tgt.port, "/live", 200, "60s");
    char scr[64], body[256], id[64], p[160];
    snprintf(scr, sizeof scr, "%s", apic_script(sid, "live", def));
    free(def);
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", scr);
    snprintf(id, sizeof id, "%s", apic_run(body));
    apic_wait_status(id, "running", 10000);
    wait_second(id, 2);
    double before = rate_between(id, 1, 2);
    ck_assert_msg(fabs(before - 200) < 10, "rate before: %.1f", before);
    /* half the load, at once */
    snprintf(p, sizeof p, "/v1/runs/%s/load", id);
    apic_error("PATCH", p, "{\"vus\":5}", 409, "conflict", "vus");
    apic_error("PATCH", p, "{\"percent\":50,\"rate\":3}", 400, "invalid", NULL);
    apic_error("PATCH", p, "{\"percent\":-1}", 400, "invalid", "percent");
    apic_error("PATCH", p, "{\"percent\":50,\"over\":\"soon\"}", 400, "invalid", "over");
    struct itest_resp r = apic_expect("PATCH", p, "{\"percent\":50}", 200);
    ck_assert_int_eq((int)apic_num(r.json, "percent", NULL), 50);
    itest_resp_free(&r);
    int t0 = last_second(id);
    wait_second(id, t0 + 3);
    double half = rate_between(id, t0 + 2, t0 + 3);
    ck_assert_msg(fabs(half - 100) < 8, "rate at 50%%: %.1f", half);
    /* an absolute rate */
    r = apic_expect("PATCH", p, "{\"rate\":150}", 200);
    itest_resp_free(&r);
    t0 = last_second(id);
    wait_second(id, t0 + 3);
    double abs_rate = rate_between(id, t0 + 2, t0 + 3);
    ck_assert_msg(fabs(abs_rate - 150) < 9, "rate after rate 150: %.1f", abs_rate);
    /* pause: nothing is sent; resume: it goes on */
    snprintf(p, sizeof p, "/v1/runs/%s/pause", id);
    r = apic_expect("POST", p, NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "status", NULL), "paused");
    itest_resp_free(&r);
    apic_error("POST", p, NULL, 409, "conflict", NULL);
    apic_sleep_ms(300);
    long paused_at = target_path("/live");
    t0 = last_second(id);
    wait_second(id, t0 + 3); /* t0 + 1 may still hold the moments before the pause */
    ck_assert_int_eq(target_path("/live"), paused_at);
    ck_assert(rate_between(id, t0 + 2, t0 + 3) == 0);
    snprintf(p, sizeof p, "/v1/runs/%s/resume", id);
    r = apic_expect("POST", p, NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "status", NULL), "running");
    itest_resp_free(&r);
    t0 = last_second(id);
    wait_second(id, t0 + 2);
    ck_assert_int_gt(target_path("/live"), paused_at);
    /* stop: cancelled, with the summary of what ran */
    snprintf(p, sizeof p, "/v1/runs/%s/stop", id);
    r = apic_expect("POST", p, NULL, 200);
    const char *st = apic_str(r.json, "status", NULL);
    ck_assert(!strcmp(st, "stopping") || !strcmp(st, "cancelled"));
    itest_resp_free(&r);
    ck_assert_str_eq(apic_wait_status(id, "cancelled", 20000), "cancelled");
    r = get_run(200, id, "/summary", NULL);
    ck_assert_int_eq((long)apic_num(r.json, "requests", NULL), target_path("/live"));
    itest_resp_free(&r);
    ck_assert(has_event(id, "load"));
    ck_assert(has_event(id, "paused"));
    ck_assert(has_event(id, "running"));
    ck_assert(has_event(id, "stopping"));
    ck_assert(has_event(id, "cancelled"));
    /* the load events say what changed */
    r = get_run(200, id, "/events", NULL);
    yajl_val items = apic_get(r.json, "items", NULL);
    int saw_percent = 0, saw_rate = 0;
    for (size_t i = 0; i < items->u.array.len; i++) {
        yajl_val e = items->u.array.values[i];
        if (strcmp(apic_str(e, "kind", NULL), "load"))
            continue;
        saw_percent |= apic_num(e, "detail", "percent", NULL) == 50;
        saw_rate |= apic_num(e, "detail", "rate", NULL) == 150;
    }
    ck_assert(saw_percent && saw_rate);
    itest_resp_free(&r);
}
END_TEST

START_TEST(scenario_run_two_scripts_two_rates)
{
    const char *sidp = scenario();
    char sid[64], a[64], b[64], body[256], id[64], p[256];
    snprintf(sid, sizeof sid, "%s", sidp);
    char *da = apic_def_rate(tgt.port, "/a", 50, "4s"), *db = apic_def_rate(tgt.port, "/b", 100, "4s");
    snprintf(a, sizeof a, "%s", apic_script(sid, "slow", da));
    snprintf(b, sizeof b, "%s", apic_script(sid, "fast", db));
    free(da);
    free(db);
    /* a disabled script is left out */
    char *dc = apic_def_rate(tgt.port, "/c", 100, "4s");
    char c[64];
    snprintf(c, sizeof c, "%s", apic_script(sid, "off", dc));
    free(dc);
    snprintf(p, sizeof p, "/v1/scripts/%s", c);
    struct itest_resp r = apic_expect("PATCH", p, "{\"enabled\":false}", 200);
    itest_resp_free(&r);
    snprintf(body, sizeof body, "{\"scenario_id\":\"%s\",\"percent\":50}", sid);
    r = apic_expect("POST", "/v1/runs", body, 201);
    snprintf(id, sizeof id, "%s", apic_str(r.json, "id", NULL));
    ck_assert_str_eq(apic_str(r.json, "kind", NULL), "scenario");
    ck_assert_int_eq(apic_get(r.json, "scripts", NULL)->u.array.len, 2);
    itest_resp_free(&r);
    ck_assert_str_eq(apic_wait_status(id, "finished", 30000), "finished");
    /* at 50%: 25/s and 50/s for 4 s */
    long na = target_path("/a"), nb = target_path("/b");
    ck_assert_msg(labs(na - 100) <= 2, "slow script sent %ld", na);
    ck_assert_msg(labs(nb - 200) <= 2, "fast script sent %ld", nb);
    ck_assert_int_eq(target_path("/c"), 0);
    /* per-script summaries, and the whole run's */
    char q[128];
    snprintf(q, sizeof q, "?script_id=%s", a);
    r = get_run(200, id, "/summary", q);
    ck_assert_int_eq((long)apic_num(r.json, "requests", NULL), na);
    itest_resp_free(&r);
    r = get_run(200, id, "/summary", NULL);
    ck_assert_str_eq(apic_str(r.json, "kind", NULL), "scenario");
    ck_assert_str_eq(apic_str(r.json, "scripts", "1", "name", NULL), "fast");
    ck_assert_int_eq((long)apic_num(r.json, "scripts", "1", "summary", "requests", NULL), nb);
    itest_resp_free(&r);
    /* the series of both scripts merged */
    r = get_run(200, id, "/series", "?resolution=all");
    ck_assert_int_eq((long)apic_num(r.json, "items", "0", "requests", NULL), na + nb);
    itest_resp_free(&r);
    snprintf(q, sizeof q, "?resolution=all&script_id=%s", b);
    r = get_run(200, id, "/series", q);
    ck_assert_int_eq((long)apic_num(r.json, "items", "0", "requests", NULL), nb);
    itest_resp_free(&r);
    snprintf(q, sizeof q, "?script_id=%s", c);
    r = get_run(404, id, "/summary", q);
    itest_resp_free(&r);
    /* runs are found by script and by scenario */
    snprintf(p, sizeof p, "/v1/runs?script_id=%s", b);
    r = apic_expect("GET", p, NULL, 200);
    ck_assert_int_eq(apic_get(r.json, "items", NULL)->u.array.len, 1);
    itest_resp_free(&r);
    snprintf(p, sizeof p, "/v1/runs?scenario_id=%s&status=finished", sid);
    r = apic_expect("GET", p, NULL, 200);
    ck_assert_int_eq(apic_get(r.json, "items", NULL)->u.array.len, 1);
    itest_resp_free(&r);
}
END_TEST

START_TEST(stop_one_script_of_a_scenario)
{
    char sid[64], a[64], id[64], body[256], p[256];
    snprintf(sid, sizeof sid, "%s", scenario());
    char *da = apic_def_rate(tgt.port, "/s1", 50, "30s"), *db = apic_def_rate(tgt.port, "/s2", 50, "3s");
    snprintf(a, sizeof a, "%s", apic_script(sid, "long", da));
    apic_script(sid, "short", db);
    free(da);
    free(db);
    snprintf(body, sizeof body, "{\"scenario_id\":\"%s\"}", sid);
    snprintf(id, sizeof id, "%s", apic_run(body));
    apic_wait_status(id, "running", 10000);
    apic_sleep_ms(1000);
    snprintf(p, sizeof p, "/v1/runs/%s/scripts/%s/stop", id, a);
    struct itest_resp r = apic_expect("POST", p, NULL, 200);
    itest_resp_free(&r);
    apic_error("POST", p, NULL, 409, "conflict", "script_id");
    snprintf(p, sizeof p, "/v1/runs/%s/scripts/0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11/stop", id);
    apic_error("POST", p, NULL, 404, "not_found", "script_id");
    /* the other script ends by itself after 3 s: the run is over, not cancelled */
    ck_assert_str_eq(apic_wait_status(id, "finished", 20000), "finished");
    r = get_run(200, id, "", NULL);
    yajl_val scripts = apic_get(r.json, "scripts", NULL);
    ck_assert_str_eq(apic_str(scripts, "0", "status", NULL), "stopped");
    ck_assert_str_eq(apic_str(scripts, "1", "status", NULL), "finished");
    itest_resp_free(&r);
    ck_assert_int_lt(target_path("/s1"), 50 * 3);
    ck_assert(has_event(id, "script_stopping"));
}
END_TEST

START_TEST(compare_runs_against_a_baseline)
{
    char sid[64], fast[64], slow[64], body[256], a[64], b[64];
    snprintf(sid, sizeof sid, "%s", scenario());
    char *d1 = apic_def_iterations(tgt.port, "/", 2, 20), *d2 = apic_def_iterations(tgt.port, "/delay?ms=20", 2, 20);
    snprintf(fast, sizeof fast, "%s", apic_script(sid, "fast", d1));
    snprintf(slow, sizeof slow, "%s", apic_script(sid, "slow", d2));
    free(d1);
    free(d2);
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", fast);
    snprintf(a, sizeof a, "%s", apic_run(body));
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", slow);
    snprintf(b, sizeof b, "%s", apic_run(body));
    apic_wait_status(a, "finished", 30000);
    apic_wait_status(b, "finished", 30000);
    char p[300];
    snprintf(p, sizeof p, "/v1/runs/compare?ids=%s,%s&baseline=%s", a, b, a);
    struct itest_resp r = apic_expect("GET", p, NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "baseline", NULL), a);
    double pa = apic_num(r.json, "steps", "total", "p50_ms", "values", a, NULL);
    double pb = apic_num(r.json, "steps", "total", "p50_ms", "values", b, NULL);
    double d = apic_num(r.json, "steps", "total", "p50_ms", "delta_pct", b, NULL);
    ck_assert_msg(pb > 20 && pa < pb, "p50 %.3f vs %.3f", pa, pb);
    ck_assert_msg(fabs(d - (pb - pa) / pa * 100) < 0.01 * fabs(d) + 0.01, "delta %.2f", d);
    ck_assert_int_eq((int)apic_num(r.json, "steps", "home", "requests", "values", b, NULL), 40);
    itest_resp_free(&r);
    snprintf(p, sizeof p, "/v1/runs/compare?ids=%s", a);
    apic_error("GET", p, NULL, 400, "invalid", "ids");
    snprintf(p, sizeof p, "/v1/runs/compare?ids=%s,0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11", a);
    apic_error("GET", p, NULL, 404, "not_found", "ids");
    snprintf(p, sizeof p, "/v1/runs/compare?ids=%s,%s&baseline=0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11", a, b);
    apic_error("GET", p, NULL, 400, "invalid", "baseline");
}
END_TEST

START_TEST(run_requests_are_validated)
{
    char sid[64], scr[64], body[512];
    snprintf(sid, sizeof sid, "%s", scenario());
    char *def = apic_def_iterations(tgt.port, "/v", 1, 5);
    snprintf(scr, sizeof scr, "%s", apic_script(sid, "v", def));
    free(def);
    long runs_before = 0;
    PGresult *res = itest_pg(itest_stack()->pg_dsn, "SELECT count(*) FROM runs");
    runs_before = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    apic_error("POST", "/v1/runs", "{}", 400, "invalid", "script_id");
    snprintf(body, sizeof body, "{\"script_id\":\"%s\",\"scenario_id\":\"%s\"}", scr, sid);
    apic_error("POST", "/v1/runs", body, 400, "invalid", NULL);
    apic_error("POST", "/v1/runs", "{\"script_id\":\"0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11\"}", 404, "not_found", "script_id");
    apic_error("POST", "/v1/runs", "{\"scenario_id\":\"0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11\"}", 404, "not_found", "scenario_id");
    snprintf(body, sizeof body, "{\"script_id\":\"%s\",\"percent\":0}", scr);
    apic_error("POST", "/v1/runs", body, 400, "invalid", "percent");
    snprintf(body, sizeof body, "{\"script_id\":\"%s\",\"percent\":\"50\"}", scr);
    apic_error("POST", "/v1/runs", body, 400, "invalid", "percent");
    snprintf(body, sizeof body, "{\"script_id\":\"%s\",\"overrides\":[1]}", scr);
    apic_error("POST", "/v1/runs", body, 400, "invalid", "overrides");
    snprintf(body, sizeof body, "{\"script_id\":\"%s\",\"overrides\":{\"load\":{\"iterations\":\"many\"}}}", scr);
    apic_error("POST", "/v1/runs", body, 400, "invalid", "overrides");
    /* a scenario without enabled scripts */
    char empty[64];
    snprintf(empty, sizeof empty, "%s", apic_scenario(apic_project(apic_name("empty")), "nothing"));
    snprintf(body, sizeof body, "{\"scenario_id\":\"%s\"}", empty);
    apic_error("POST", "/v1/runs", body, 409, "conflict", "scenario_id");
    res = itest_pg(itest_stack()->pg_dsn, "SELECT count(*) FROM runs");
    ck_assert_int_eq(atol(PQgetvalue(res, 0, 0)), runs_before);
    PQclear(res);
    /* overrides that are fine change what runs, and are kept */
    snprintf(body, sizeof body, "{\"script_id\":\"%s\",\"overrides\":{\"load\":{\"iterations\":2}}}", scr);
    char id[64];
    snprintf(id, sizeof id, "%s", apic_run(body));
    apic_wait_status(id, "finished", 20000);
    ck_assert_int_eq(target_path("/v"), 2);
    struct itest_resp r = get_run(200, id, "", NULL);
    ck_assert_int_eq((int)apic_num(r.json, "overrides", "load", "iterations", NULL), 2);
    ck_assert_int_eq((int)apic_num(r.json, "scripts", "0", "definition", "load", "iterations", NULL), 2);
    itest_resp_free(&r);
}
END_TEST

/* kill -9 the server mid-run: the next server marks the run interrupted. */
START_TEST(runs_of_a_dead_server_are_interrupted)
{
    char sid[64], scr[64], body[256], id[64];
    snprintf(sid, sizeof sid, "%s", scenario());
    char *def = apic_def_rate(tgt.port, "/dead", 20, "60s");
    snprintf(scr, sizeof scr, "%s", apic_script(sid, "dead", def));
    free(def);
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", scr);
    snprintf(id, sizeof id, "%s", apic_run(body));
    apic_wait_status(id, "running", 10000);
    kill(srv.pid, SIGKILL);
    waitpid(srv.pid, NULL, 0);
    srv.pid = 0;
    itest_server_start_healthy(&srv, NULL);
    apic_use(srv.port, NULL);
    ck_assert_str_eq(apic_wait_status(id, "interrupted", 20000), "interrupted");
    ck_assert(has_event(id, "interrupted"));
    struct itest_resp r = get_run(200, id, "", NULL);
    ck_assert_ptr_nonnull(strstr(apic_str(r.json, "error", NULL), "stopped answering"));
    ck_assert_str_eq(apic_str(r.json, "scripts", "0", "status", NULL), "interrupted");
    itest_resp_free(&r);
}
END_TEST

/* PostgreSQL goes away for 5 s in the middle of a run: the run goes on,
 * the rows wait and arrive, and nothing is missing. */
START_TEST(postgres_outage_mid_run_loses_no_rows)
{
    char sid[64], scr[64], body[256], id[64];
    snprintf(sid, sizeof sid, "%s", scenario());
    char *def = apic_def_rate(tgt.port, "/outage", 40, "12s");
    snprintf(scr, sizeof scr, "%s", apic_script(sid, "outage", def));
    free(def);
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", scr);
    snprintf(id, sizeof id, "%s", apic_run(body));
    apic_wait_status(id, "running", 10000);
    apic_sleep_ms(2500);
    ck_assert_int_eq(itest_stack_cmd("pg-stop"), 0);
    apic_sleep_ms(5000);
    ck_assert_int_eq(itest_stack_cmd("pg-start"), 0);
    ck_assert_int_eq(itest_wait_health(srv.port, 200, 10000), 0);
    ck_assert_str_eq(apic_wait_status(id, "finished", 30000), "finished");
    long sent = target_path("/outage");
    ck_assert_msg(labs(sent - 480) <= 5, "sent %ld", sent);
    /* one row per second for the total, no second missing */
    char q[300];
    snprintf(q, sizeof q, "SELECT count(*), count(DISTINCT second), max(second), sum(requests)"
                          " FROM run_series WHERE run_id = '%s' AND step = ''", id);
    PGresult *res = itest_pg(itest_stack()->pg_dsn, q);
    ck_assert_ptr_nonnull(res);
    long rows = atol(PQgetvalue(res, 0, 0)), distinct = atol(PQgetvalue(res, 0, 1));
    long maxs = atol(PQgetvalue(res, 0, 2)), reqs = atol(PQgetvalue(res, 0, 3));
    PQclear(res);
    ck_assert_int_eq(rows, distinct);
    ck_assert_int_eq(distinct, maxs + 1);
    ck_assert_int_ge(distinct, 12);
    ck_assert_int_eq(reqs, sent);
    struct itest_resp r = get_run(200, id, "/summary", NULL);
    ck_assert_int_eq((long)apic_num(r.json, "requests", NULL), sent);
    itest_resp_free(&r);
}
END_TEST

static Suite *runs_suite(void)
{
    Suite *s = suite_create("runs");
    TCase *t = tcase_create("runs");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(t, start_default, stop_default);
    tcase_add_test(t, script_run_finishes_with_exact_counts);
    tcase_add_test(t, thresholds_fail_the_run_and_junit_says_so);
    tcase_add_test(t, live_control_shows_in_series_and_events);
    tcase_add_test(t, scenario_run_two_scripts_two_rates);
    tcase_add_test(t, stop_one_script_of_a_scenario);
    tcase_add_test(t, compare_runs_against_a_baseline);
    tcase_add_test(t, run_requests_are_validated);
    tcase_add_test(t, runs_of_a_dead_server_are_interrupted);
    tcase_add_test(t, postgres_outage_mid_run_loses_no_rows);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(runs_suite)
