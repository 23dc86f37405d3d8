/* test_platform: the CRUD surface of projects › scenarios › scripts against
 * the real server and PostgreSQL — create, get, patch, delete with cascade
 * rules, lists with filters, sorting and pagination, versions, validation
 * with field paths, and bad input that leaves no row behind; plus the API
 * token, /metrics and the OpenAPI document. */
#include "apic.h"
#include "check_main.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct itest_server srv;

static void start_default(void)
{
    itest_server_start_healthy(&srv, NULL);
    apic_use(srv.port, NULL);
}

static void stop_default(void)
{
    if (srv.pid > 0)
        itest_server_stop(&srv, 10000);
}

static long count_rows(const char *sql)
{
    PGresult *res = itest_pg(itest_stack()->pg_dsn, sql);
    ck_assert_ptr_nonnull(res);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(res));
    long n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static const char GOOD_DEF[] =
    "{\"target\":\"http://127.0.0.1:9\",\"steps\":[{\"name\":\"home\",\"path\":\"/\"}],"
    "\"load\":{\"executor\":\"constant-vus\",\"vus\":2,\"duration\":\"5s\"}}";

START_TEST(projects_patch_sort_filter)
{
    char a[64], b[64], path[160], body[256];
    char na[96], nb[96];
    snprintf(na, sizeof na, "%s", apic_name("zeta"));
    snprintf(nb, sizeof nb, "%s", apic_name("alpha"));
    snprintf(a, sizeof a, "%s", apic_project(na));
    snprintf(b, sizeof b, "%s", apic_project(nb));
    /* PATCH changes what it is given and nothing else */
    snprintf(path, sizeof path, "/v1/projects/%s", a);
    struct itest_resp r = apic_expect("PATCH", path, "{\"description\":\"new words\"}", 200);
    ck_assert_str_eq(apic_str(r.json, "name", NULL), na);
    ck_assert_str_eq(apic_str(r.json, "description", NULL), "new words");
    ck_assert_str_ne(apic_str(r.json, "updated_at", NULL), apic_str(r.json, "created_at", NULL));
    itest_resp_free(&r);
    apic_error("PATCH", path, "{}", 400, "invalid", NULL);
    apic_error("PATCH", path, "{\"name\":7}", 400, "invalid", "name");
    apic_error("PATCH", path, "{\"owner\":\"x\"}", 400, "invalid", "owner");
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", nb);
    apic_error("PATCH", path, body, 409, "conflict", "name");
    apic_error("PATCH", "/v1/projects/0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11", "{\"name\":\"q\"}", 404,
               "not_found", "id");
    /* q finds by part of the name, case-insensitively */
    char qpath[200];
    char needle[64];
    snprintf(needle, sizeof needle, "ALPHA-%d", (int)getpid());
    snprintf(qpath, sizeof qpath, "/v1/projects?q=%s", needle);
    r = apic_expect("GET", qpath, NULL, 200);
    yajl_val items = apic_get(r.json, "items", NULL);
    ck_assert_int_eq(items->u.array.len, 1);
    ck_assert_str_eq(apic_str(items, "0", "id", NULL), b);
    itest_resp_free(&r);
    /* sort=name and -name are each other's reverse (this process's
     * projects: a database shared by earlier runs may hold more than a page) */
    char up_path[160], down_path[160];
    snprintf(up_path, sizeof up_path, "/v1/projects?sort=name&limit=200&q=-%d-", (int)getpid());
    snprintf(down_path, sizeof down_path, "/v1/projects?sort=-name&limit=200&q=-%d-", (int)getpid());
    r = apic_expect("GET", up_path, NULL, 200);
    struct itest_resp r2 = apic_expect("GET", down_path, NULL, 200);
    yajl_val up = apic_get(r.json, "items", NULL), down = apic_get(r2.json, "items", NULL);
    ck_assert_int_eq(up->u.array.len, down->u.array.len);
    size_t n = up->u.array.len;
    ck_assert_uint_ge(n, 2);
    for (size_t i = 0; i + 1 < n; i++)
        ck_assert_int_le(strcmp(apic_str(up->u.array.values[i], "name", NULL),
                                apic_str(up->u.array.values[i + 1], "name", NULL)), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(apic_str(up->u.array.values[i], "id", NULL),
                         apic_str(down->u.array.values[n - 1 - i], "id", NULL));
    itest_resp_free(&r);
    itest_resp_free(&r2);
    apic_error("GET", "/v1/projects?sort=colour", NULL, 400, "invalid", "sort");
    apic_error("GET", "/v1/projects?limit=201", NULL, 400, "invalid", "limit");
    apic_error("GET", "/v1/projects?cursor=12.zz", NULL, 400, "invalid", "cursor");
}
END_TEST

/* Walk every page of a list and count the items. */
static long walk(const char *base)
{
    char cursor[512] = "";
    long seen = 0;
    for (int page = 0; page < 200; page++) {
        char p[800];
        snprintf(p, sizeof p, "%s%slimit=2%s%s", base, strchr(base, '?') ? "&" : "?",
                 cursor[0] ? "&cursor=" : "", cursor);
        struct itest_resp r = apic_expect("GET", p, NULL, 200);
        yajl_val items = apic_get(r.json, "items", NULL);
        ck_assert_ptr_nonnull(items);
        ck_assert_uint_le(items->u.array.len, 2);
        seen += (long)items->u.array.len;
        const char *next = apic_str(r.json, "next_cursor", NULL);
        if (!next) {
            itest_resp_free(&r);
            return seen;
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        itest_resp_free(&r);
    }
    ck_abort_msg("more than 200 pages");
    return -1;
}

START_TEST(scenarios_crud_tags_and_pages)
{
    char pid[64], path[200], body[400];
    snprintf(pid, sizeof pid, "%s", apic_project(apic_name("scen-proj")));
    /* both forms of create */
    snprintf(body, sizeof body, "{\"project_id\":\"%s\",\"name\":\"checkout\",\"tags\":[\"shop\",\"critical\"]}", pid);
    struct itest_resp r = apic_expect("POST", "/v1/scenarios", body, 201);
    char sid[64];
    snprintf(sid, sizeof sid, "%s", apic_str(r.json, "id", NULL));
    ck_assert_str_eq(apic_str(r.json, "project_id", NULL), pid);
    ck_assert_str_eq(apic_str(r.json, "tags", "1", NULL), "critical");
    itest_resp_free(&r);
    snprintf(path, sizeof path, "/v1/projects/%s/scenarios", pid);
    for (int i = 0; i < 4; i++) {
        snprintf(body, sizeof body, "{\"name\":\"svc-%d\",\"tags\":[\"%s\"]}", i, i % 2 ? "shop" : "search");
        struct itest_resp x = apic_expect("POST", path, body, 201);
        itest_resp_free(&x);
    }
    /* same name in the same project: 409; in another project: fine */
    apic_error("POST", path, "{\"name\":\"checkout\"}", 409, "conflict", "name");
    char other[64];
    snprintf(other, sizeof other, "%s", apic_project(apic_name("other-proj")));
    snprintf(body, sizeof body, "{\"project_id\":\"%s\",\"name\":\"checkout\"}", other);
    r = apic_expect("POST", "/v1/scenarios", body, 201);
    itest_resp_free(&r);
    /* filters and pages */
    ck_assert_int_eq(walk(path), 5);
    snprintf(path, sizeof path, "/v1/scenarios?project_id=%s&tag=shop", pid);
    ck_assert_int_eq(walk(path), 3);
    snprintf(path, sizeof path, "/v1/scenarios?project_id=%s&q=SVC", pid);
    ck_assert_int_eq(walk(path), 4);
    /* patch tags */
    snprintf(path, sizeof path, "/v1/scenarios/%s", sid);
    r = apic_expect("PATCH", path, "{\"tags\":[\"renamed\"]}", 200);
    ck_assert_str_eq(apic_str(r.json, "tags", "0", NULL), "renamed");
    ck_assert_ptr_null(apic_get(r.json, "tags", "1", NULL));
    ck_assert_str_eq(apic_str(r.json, "name", NULL), "checkout");
    itest_resp_free(&r);
    /* bad input */
    apic_error("PATCH", path, "{\"tags\":\"shop\"}", 400, "invalid", "tags");
    apic_error("PATCH", path, "{\"tags\":[\"a\",\"a\"]}", 400, "invalid", "tags[1]");
    apic_error("PATCH", path, "{\"tags\":[\"\"]}", 400, "invalid", "tags[0]");
    apic_error("POST", "/v1/scenarios", "{\"name\":\"x\"}", 400, "invalid", "project_id");
    apic_error("POST", "/v1/scenarios", "{\"project_id\":\"nope\",\"name\":\"x\"}", 400, "invalid", "project_id");
    apic_error("POST", "/v1/scenarios",
               "{\"project_id\":\"0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11\",\"name\":\"x\"}", 404, "not_found",
               "project_id");
    apic_error("GET", "/v1/scenarios?project_id=12", NULL, 400, "invalid", "project_id");
    apic_error("GET", "/v1/scenarios/not-a-uuid", NULL, 404, "not_found", "id");
}
END_TEST

START_TEST(scripts_validate_version_and_cascade)
{
    char pid[64], sid[64], scr[64], path[200];
    snprintf(pid, sizeof pid, "%s", apic_project(apic_name("scr-proj")));
    snprintf(sid, sizeof sid, "%s", apic_scenario(pid, "api"));
    long before = count_rows("SELECT count(*) FROM scripts");
    long vbefore = count_rows("SELECT count(*) FROM script_versions");
    char body[1024];
    /* invalid definitions are refused with the field path; nothing stored */
    snprintf(body, sizeof body,
             "{\"scenario_id\":\"%s\",\"name\":\"bad\",\"definition\":{\"target\":\"http://127.0.0.1:9\","
             "\"steps\":[{\"name\":\"home\",\"path\":\"/\"}],\"load\":{\"executor\":\"ramping-vus\","
             "\"stages\":[{\"duration\":\"10s\",\"target\":5},{\"duration\":30,\"target\":0}]}}}", sid);
    apic_error("POST", "/v1/scripts", body, 400, "invalid", "definition.load.stages[1].duration");
    snprintf(body, sizeof body, "{\"scenario_id\":\"%s\",\"name\":\"bad\",\"definition\":[]}", sid);
    apic_error("POST", "/v1/scripts", body, 400, "invalid", "definition");
    snprintf(body, sizeof body, "{\"scenario_id\":\"%s\",\"name\":\"bad\"}", sid);
    apic_error("POST", "/v1/scripts", body, 400, "invalid", "definition");
    snprintf(body, sizeof body, "{\"scenario_id\":\"%s\",\"name\":\"bad\",\"enabled\":\"yes\",\"definition\":%s}",
             sid, GOOD_DEF);
    apic_error("POST", "/v1/scripts", body, 400, "invalid", "enabled");
    ck_assert_int_eq(count_rows("SELECT count(*) FROM scripts"), before);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM script_versions"), vbefore);
    /* a good one: version 1 */
    snprintf(path, sizeof path, "/v1/scenarios/%s/scripts", sid);
    snprintf(body, sizeof body, "{\"name\":\"browse\",\"definition\":%s}", GOOD_DEF);
    struct itest_resp r = apic_expect("POST", path, body, 201);
    snprintf(scr, sizeof scr, "%s", apic_str(r.json, "id", NULL));
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 1);
    ck_assert(YAJL_IS_TRUE(apic_get(r.json, "enabled", NULL)));
    ck_assert_str_eq(apic_str(r.json, "project_id", NULL), pid);
    ck_assert_int_eq((int)apic_num(r.json, "definition", "load", "vus", NULL), 2);
    itest_resp_free(&r);
    /* a change makes version 2; version 1 stays readable */
    snprintf(path, sizeof path, "/v1/scripts/%s", scr);
    r = apic_expect("PATCH", path,
                    "{\"definition\":{\"target\":\"http://127.0.0.1:9\",\"steps\":[{\"name\":\"home\",\"path\":\"/v2\"}],"
                    "\"load\":{\"executor\":\"constant-vus\",\"vus\":7,\"duration\":\"5s\"}}}", 200);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 2);
    ck_assert_int_eq((int)apic_num(r.json, "definition", "load", "vus", NULL), 7);
    itest_resp_free(&r);
    r = apic_expect("PATCH", path, "{\"enabled\":false}", 200);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 3);
    ck_assert(YAJL_IS_FALSE(apic_get(r.json, "enabled", NULL)));
    itest_resp_free(&r);
    apic_error("PATCH", path, "{\"definition\":{\"steps\":[]}}", 400, "invalid", NULL);
    char vpath[240];
    snprintf(vpath, sizeof vpath, "/v1/scripts/%s/versions", scr);
    r = apic_expect("GET", vpath, NULL, 200);
    ck_assert_int_eq(apic_get(r.json, "items", NULL)->u.array.len, 3);
    ck_assert_int_eq((int)apic_num(r.json, "items", "0", "version", NULL), 3);
    itest_resp_free(&r);
    snprintf(vpath, sizeof vpath, "/v1/scripts/%s/versions/1", scr);
    r = apic_expect("GET", vpath, NULL, 200);
    ck_assert_int_eq((int)apic_num(r.json, "definition", "load", "vus", NULL), 2);
    itest_resp_free(&r);
    snprintf(vpath, sizeof vpath, "/v1/scripts/%s/versions/9", scr);
    apic_error("GET", vpath, NULL, 404, "not_found", "version");
    /* filters */
    char lpath[240];
    snprintf(lpath, sizeof lpath, "/v1/scripts?scenario_id=%s&enabled=false", sid);
    ck_assert_int_eq(walk(lpath), 1);
    snprintf(lpath, sizeof lpath, "/v1/scripts?project_id=%s&enabled=true", pid);
    ck_assert_int_eq(walk(lpath), 0);
    apic_error("GET", "/v1/scripts?enabled=maybe", NULL, 400, "invalid", "enabled");
    /* the project has children: 409 and nothing deleted; with cascade, all goes */
    snprintf(path, sizeof path, "/v1/projects/%s", pid);
    apic_error("DELETE", path, NULL, 409, "conflict", "cascade");
    snprintf(path, sizeof path, "/v1/scenarios/%s", sid);
    apic_error("DELETE", path, NULL, 409, "conflict", "cascade");
    char q[300];
    snprintf(q, sizeof q, "SELECT count(*) FROM scripts WHERE id = '%s'", scr);
    ck_assert_int_eq(count_rows(q), 1);
    snprintf(path, sizeof path, "/v1/projects/%s?cascade=maybe", pid);
    apic_error("DELETE", path, NULL, 400, "invalid", "cascade");
    snprintf(path, sizeof path, "/v1/projects/%s?cascade=true", pid);
    struct itest_resp d = apic_expect("DELETE", path, NULL, 204);
    itest_resp_free(&d);
    ck_assert_int_eq(count_rows(q), 0);
    snprintf(q, sizeof q, "SELECT count(*) FROM script_versions WHERE script_id = '%s'", scr);
    ck_assert_int_eq(count_rows(q), 0);
    snprintf(path, sizeof path, "/v1/scenarios/%s", sid);
    apic_error("GET", path, NULL, 404, "not_found", "id");
}
END_TEST

START_TEST(bad_input_on_every_resource)
{
    static const char *const posts[] = { "/v1/projects", "/v1/scenarios", "/v1/scripts", "/v1/runs" };
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
        apic_error("POST", posts[i], "{", 400, "malformed_json", NULL);
        apic_error("POST", posts[i], "[]", 400, "invalid", NULL);
        apic_error("POST", posts[i], "{\"bogus\":1}", 400, "invalid", "bogus");
        apic_error("POST", posts[i], "{\"a\":1,\"a\":2}", 400, "malformed_json", NULL);
        struct itest_resp r;
        itest_http(srv.port, "POST", posts[i], "Content-Type: text/plain\r\n", "{}", 2, 0, &r);
        ck_assert_int_eq(r.status, 415);
        itest_resp_free(&r);
    }
    static const char *const ids[] = { "/v1/projects/", "/v1/scenarios/", "/v1/scripts/", "/v1/runs/" };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%snot-a-uuid", ids[i]);
        apic_error("GET", p, NULL, 404, "not_found", "id");
        snprintf(p, sizeof p, "%s0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11", ids[i]);
        apic_error("GET", p, NULL, 404, "not_found", "id");
    }
    apic_error("PUT", "/v1/scripts", "{}", 405, "method_not_allowed", NULL);
    apic_error("GET", "/v1/runs?status=sleeping", NULL, 400, "invalid", "status");
    apic_error("GET", "/v1/runs?from=yesterday", NULL, 400, "invalid", "from");
    apic_error("GET", "/v1/runs?script_id=7", NULL, 400, "invalid", "script_id");
    apic_error("GET", "/v1/runs?sort=-status&limit=0", NULL, 400, "invalid", "limit");
    struct itest_resp ok = apic_expect("GET", "/v1/runs?sort=-status&from=2026-01-01&to=2030-01-01T00:00:00Z", NULL, 200);
    itest_resp_free(&ok);
}
END_TEST

START_TEST(api_token_guards_v1_only)
{
    struct itest_server s;
    int st = 0;
    static const char *const extra[] = { "--api-token", "s3cret-token", NULL };
    ck_assert_int_eq(itest_server_start(&s, NULL, NULL, extra, &st), 0);
    ck_assert_int_eq(itest_wait_health(s.port, 200, 10000), 0);
    apic_use(s.port, NULL);
    apic_error("GET", "/v1/projects", NULL, 401, "unauthorized", NULL);
    apic_use(s.port, "s3cret-tokeN");
    apic_error("GET", "/v1/projects", NULL, 401, "unauthorized", NULL);
    apic_use(s.port, "s3cret-token-longer");
    apic_error("GET", "/v1/projects", NULL, 401, "unauthorized", NULL);
    apic_use(s.port, "s3cret-token");
    struct itest_resp r = apic_expect("GET", "/v1/projects", NULL, 200);
    itest_resp_free(&r);
    apic_use(s.port, NULL);
    r = apic_expect("GET", "/healthz", NULL, 200);
    itest_resp_free(&r);
    r = apic_expect("GET", "/metrics", NULL, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "stampede_http_unauthorized_total 3"));
    itest_resp_free(&r);
    ck_assert_int_eq(itest_server_stop(&s, 10000), 0);
    apic_use(srv.port, NULL);
}
END_TEST

START_TEST(metrics_and_openapi_are_served)
{
    struct itest_resp r = apic_expect("GET", "/v1/projects?limit=1", NULL, 200);
    itest_resp_free(&r);
    apic_error("GET", "/v1/projects/nope", NULL, 404, "not_found", "id");
    r = apic_expect("GET", "/metrics", NULL, 200);
    ck_assert_ptr_nonnull(strstr(r.headers, "text/plain"));
    static const char *const want[] = {
        "stampede_http_requests_total{route=\"/v1/projects\",status=\"200\"}",
        "stampede_http_requests_total{route=\"/v1/projects/:id\",status=\"404\"}",
        "stampede_store_queue_depth 0",
        "stampede_store_connections{state=\"up\"}",
        "stampede_bus_messages_total{outcome=\"dropped\"}",
        "stampede_runs{state=\"running\"}",
        "stampede_series_pending_bytes",
        "stampede_loop_lag_seconds{loop=\"1\"}",
        "stampede_dependency_up{dependency=\"postgres\"} 1",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(r.body, want[i]), "/metrics lacks %s:\n%s", want[i], r.body);
    itest_resp_free(&r);
    r = apic_expect("GET", "/v1/openapi.json", NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "openapi", NULL), "3.1.0");
    ck_assert_ptr_nonnull(apic_get(r.json, "paths", "/v1/runs/{id}/load", "patch", NULL));
    itest_resp_free(&r);
}
END_TEST

/* Connections killed under the server's feet (the server itself stays up)
 * must not fail the next request: the query is sent again. */
START_TEST(killed_connections_do_not_fail_requests)
{
    for (int i = 0; i < 20; i++) {
        PGresult *res = itest_pg(itest_stack()->pg_dsn,
                                 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                 " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                                 " AND application_name = ''");
        ck_assert_ptr_nonnull(res);
        PQclear(res);
        struct itest_resp r = apic_expect("GET", "/v1/projects?limit=1", NULL, 200);
        itest_resp_free(&r);
    }
}
END_TEST

static Suite *platform_suite(void)
{
    Suite *s = suite_create("platform");
    TCase *t = tcase_create("crud");
    tcase_set_timeout(t, 90);
    tcase_add_unchecked_fixture(t, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(t, start_default, stop_default);
    tcase_add_test(t, projects_patch_sort_filter);
    tcase_add_test(t, scenarios_crud_tags_and_pages);
    tcase_add_test(t, scripts_validate_version_and_cascade);
    tcase_add_test(t, bad_input_on_every_resource);
    tcase_add_test(t, api_token_guards_v1_only);
    tcase_add_test(t, metrics_and_openapi_are_served);
    tcase_add_test(t, killed_connections_do_not_fail_requests);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(platform_suite)
