/* test_server: the real stampede binary against the real PostgreSQL and
 * Redis — health, every bad-input class, projects, migrations, outages of
 * each dependency, and a graceful stop. */
#include "check_main.h"
#include "itest.h"
#include "migrations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const ERR_CODE[] = { "error", "code", NULL };
static const char *const ERR_FIELD[] = { "error", "field", NULL };
static const char *const ERR_MSG[] = { "error", "message", NULL };

static struct itest_server srv;

static void start_default(void)
{
    itest_server_start_healthy(&srv, NULL);
}

static void stop_default(void)
{
    if (srv.pid > 0)
        itest_server_stop(&srv, 10000);
}

/* Request and expect a status and an error code (NULL = no error body). */
static struct itest_resp expect(const char *method, const char *path, const char *headers,
                                const char *body, int status, const char *code, const char *field)
{
    struct itest_resp r;
    itest_http(srv.port, method, path, headers, body, body ? strlen(body) : 0, 0, &r);
    ck_assert_msg(r.status == status, "%s %s: status %d, want %d (%s)", method, path, r.status,
                  status, r.body ? r.body : "");
    if (code) {
        const char *c = itest_json_str(&r, ERR_CODE);
        ck_assert_msg(c && strcmp(c, code) == 0, "%s %s: code %s, want %s; body %s", method, path,
                      c ? c : "(none)", code, r.body);
        ck_assert_ptr_nonnull(itest_json_str(&r, ERR_MSG));
        if (field) {
            const char *f = itest_json_str(&r, ERR_FIELD);
            ck_assert_msg(f && strcmp(f, field) == 0, "%s %s: field %s, want %s", method, path,
                          f ? f : "(none)", field);
        }
    }
    return r;
}

static void expect_free(const char *method, const char *path, const char *headers, const char *body,
                        int status, const char *code, const char *field)
{
    struct itest_resp r = expect(method, path, headers, body, status, code, field);
    itest_resp_free(&r);
}

#define JSON "Content-Type: application/json\r\n"

START_TEST(health_reports_everything_up)
{
    struct itest_resp r;
    itest_http(srv.port, "GET", "/healthz", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.headers, "Content-Type: application/json"));
    static const char *const st[] = { "status", NULL }, *const pg[] = { "postgres", NULL },
                             *const rd[] = { "redis", NULL }, *const ver[] = { "version", NULL };
    ck_assert_str_eq(itest_json_str(&r, st), "ok");
    ck_assert_str_eq(itest_json_str(&r, pg), "up");
    ck_assert_str_eq(itest_json_str(&r, rd), "up");
    ck_assert_ptr_nonnull(itest_json_str(&r, ver));
    static const char *loops[] = { "loops", NULL };
    yajl_val l = yajl_tree_get(r.json, loops, yajl_t_number);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(YAJL_GET_INTEGER(l), 2);
    itest_resp_free(&r);
}
END_TEST

static long count_projects(void)
{
    PGresult *res = itest_pg(itest_stack()->pg_dsn, "SELECT count(*) FROM projects");
    ck_assert_ptr_nonnull(res);
    long n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

START_TEST(bad_input_gets_json_errors_and_writes_nothing)
{
    long before = count_projects();
    /* 400 malformed JSON */
    expect_free("POST", "/v1/projects", JSON, "{\"name\": ", 400, "malformed_json", NULL);
    expect_free("POST", "/v1/projects", JSON, "", 400, "malformed_json", NULL);
    expect_free("POST", "/v1/projects", JSON, "{\"name\":\"a\",\"name\":\"b\"}", 400, "malformed_json", "name");
    expect_free("POST", "/v1/projects", JSON, "{\"name\":\"a\\u0000b\"}", 400, "malformed_json", NULL);
    /* 400 wrong types, missing and unknown fields: named */
    expect_free("POST", "/v1/projects", JSON, "{\"name\": 5}", 400, "invalid", "name");
    expect_free("POST", "/v1/projects", JSON, "[1,2]", 400, "invalid", NULL);
    expect_free("POST", "/v1/projects", JSON, "{}", 400, "invalid", "name");
    expect_free("POST", "/v1/projects", JSON, "{\"name\":\"\"}", 400, "invalid", "name");
    expect_free("POST", "/v1/projects", JSON, "{\"name\":\"x\",\"description\":false}", 400, "invalid", "description");
    expect_free("POST", "/v1/projects", JSON, "{\"name\":\"x\",\"colour\":\"red\"}", 400, "invalid", "colour");
    char longname[300];
    memset(longname, 'n', 250);
    longname[250] = '\0';
    char body[400];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", longname);
    expect_free("POST", "/v1/projects", JSON, body, 400, "invalid", "name");
    /* nesting deep enough to crash yajl's tree parser, well under the size limit */
    size_t depth = 300000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    expect_free("POST", "/v1/projects", JSON, deep, 400, "malformed_json", NULL);
    free(deep);
    /* 415 wrong content type */
    expect_free("POST", "/v1/projects", "Content-Type: text/plain\r\n", "{\"name\":\"x\"}", 415,
                "unsupported_media_type", NULL);
    expect_free("POST", "/v1/projects", NULL, "{\"name\":\"x\"}", 415, "unsupported_media_type", NULL);
    /* 404 unknown route, unknown id, malformed id */
    expect_free("GET", "/v1/nothing", NULL, NULL, 404, "not_found", NULL);
    expect_free("GET", "/v1/projects/0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11", NULL, NULL, 404, "not_found", "id");
    expect_free("GET", "/v1/projects/not-a-uuid", NULL, NULL, 404, "not_found", "id");
    expect_free("DELETE", "/v1/projects/0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11", NULL, NULL, 404, "not_found", "id");
    /* 405 with Allow */
    struct itest_resp r = expect("PUT", "/v1/projects", JSON, "{}", 405, "method_not_allowed", NULL);
    ck_assert_ptr_nonnull(strstr(r.headers, "Allow: GET, POST"));
    itest_resp_free(&r);
    /* 400 bad query parameters */
    expect_free("GET", "/v1/projects?limit=0", NULL, NULL, 400, "invalid", "limit");
    expect_free("GET", "/v1/projects?limit=abc", NULL, NULL, 400, "invalid", "limit");
    expect_free("GET", "/v1/projects?cursor=zzz", NULL, NULL, 400, "invalid", "cursor");
    ck_assert_int_eq(count_projects(), before);
}
END_TEST

START_TEST(oversize_bodies_get_413)
{
    size_t n = 2u << 20; /* 2 MiB > the 1 MiB default */
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    struct itest_resp r;
    itest_http(srv.port, "POST", "/v1/projects", JSON, big, n, 0, &r);
    ck_assert_int_eq(r.status, 413);
    ck_assert_str_eq(itest_json_str(&r, ERR_CODE), "body_too_large");
    itest_resp_free(&r);
    /* no length given: counted as it arrives */
    itest_http(srv.port, "POST", "/v1/projects", JSON, big, n, 1, &r);
    ck_assert_int_eq(r.status, 413);
    ck_assert_str_eq(itest_json_str(&r, ERR_CODE), "body_too_large");
    itest_resp_free(&r);
    free(big);
    /* the server is still fine */
    ck_assert_int_eq(itest_wait_health(srv.port, 200, 2000), 0);
}
END_TEST

START_TEST(projects_crud_and_pagination)
{
    char name[64], body[128], path[128];
    snprintf(name, sizeof name, "crud-%d", (int)getpid());
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"description\":\"d\"}", name);
    struct itest_resp r = expect("POST", "/v1/projects", JSON "Accept: */*\r\n", body, 201, NULL, NULL);
    static const char *const id_p[] = { "id", NULL }, *const name_p[] = { "name", NULL },
                             *const created_p[] = { "created_at", NULL };
    char id[64];
    snprintf(id, sizeof id, "%s", itest_json_str(&r, id_p));
    ck_assert_str_eq(itest_json_str(&r, name_p), name);
    ck_assert_ptr_nonnull(strchr(itest_json_str(&r, created_p), 'T'));
    itest_resp_free(&r);
    /* content type with parameters is fine; same name conflicts */
    expect_free("POST", "/v1/projects", "Content-Type: application/json; charset=utf-8\r\n", body, 409,
                "conflict", "name");
    snprintf(path, sizeof path, "/v1/projects/%s", id);
    r = expect("GET", path, NULL, NULL, 200, NULL, NULL);
    ck_assert_str_eq(itest_json_str(&r, id_p), id);
    itest_resp_free(&r);
    /* pagination: make 5 more and walk pages of 2 */
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"name\":\"%s-%d\"}", name, i);
        expect_free("POST", "/v1/projects", JSON, body, 201, NULL, NULL);
    }
    long total = count_projects();
    long seen = 0;
    char cursor[200] = "";
    for (long page = 0; page <= total / 2 + 1; page++) { /* a reused database holds more */
        char p[300];
        snprintf(p, sizeof p, "/v1/projects?limit=2%s%s", cursor[0] ? "&cursor=" : "", cursor);
        r = expect("GET", p, NULL, NULL, 200, NULL, NULL);
        static const char *const items_p[] = { "items", NULL }, *const next_p[] = { "next_cursor", NULL };
        yajl_val items = yajl_tree_get(r.json, (const char **)items_p, yajl_t_array);
        ck_assert_ptr_nonnull(items);
        ck_assert_uint_le(items->u.array.len, 2);
        seen += (long)items->u.array.len;
        const char *next = itest_json_str(&r, next_p);
        if (!next) {
            itest_resp_free(&r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        itest_resp_free(&r);
    }
    ck_assert_int_eq(seen, total);
    expect_free("DELETE", path, NULL, NULL, 204, NULL, NULL);
    expect_free("GET", path, NULL, NULL, 404, "not_found", "id");
}
END_TEST

static long migrations_rows(const char *dsn, char *applied_at, size_t len)
{
    PGresult *res = itest_pg(dsn, "SELECT count(*), max(applied_at)::text FROM schema_migrations");
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    long n = atol(PQgetvalue(res, 0, 0));
    snprintf(applied_at, len, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return n;
}

START_TEST(migrations_apply_once_and_are_idempotent)
{
    const char *dsn = itest_createdb("mig");
    char dsn_copy[256];
    snprintf(dsn_copy, sizeof dsn_copy, "%s", dsn);
    struct itest_server s;
    int st = 0;
    ck_assert_int_eq(itest_server_start(&s, dsn_copy, NULL, NULL, &st), 0);
    ck_assert_int_eq(itest_wait_health(s.port, 200, 10000), 0);
    ck_assert(itest_log_contains(&s, "applying 001_projects"));
    char at1[64], at2[64];
    ck_assert_int_eq(migrations_rows(dsn_copy, at1, sizeof at1), (long)stampede_migrations_count);
    ck_assert_int_eq(itest_server_stop(&s, 10000), 0);
    /* restart: nothing applied again */
    ck_assert_int_eq(itest_server_start(&s, dsn_copy, NULL, NULL, &st), 0);
    ck_assert_int_eq(itest_wait_health(s.port, 200, 10000), 0);
    ck_assert(!itest_log_contains(&s, "applying 001_projects"));
    ck_assert_int_eq(migrations_rows(dsn_copy, at2, sizeof at2), (long)stampede_migrations_count);
    ck_assert_str_eq(at1, at2);
    ck_assert_int_eq(itest_server_stop(&s, 10000), 0);
}
END_TEST

START_TEST(failing_migration_stops_server_and_leaves_schema)
{
    const char *dsn = itest_createdb("migfail");
    char dsn_copy[256];
    snprintf(dsn_copy, sizeof dsn_copy, "%s", dsn);
    /* a table in the way of 001_projects makes it fail */
    PGresult *res = itest_pg(dsn_copy, "CREATE TABLE projects (x int)");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    struct itest_server s;
    int st = 0;
    int started = itest_server_start(&s, dsn_copy, NULL, NULL, &st);
    if (started == 0) /* it printed the listening line before failing */
        st = itest_server_wait(&s, 15000);
    ck_assert_int_eq(st, 1);
    ck_assert(itest_log_contains(&s, "migration 001_projects failed"));
    ck_assert(itest_log_contains(&s, "schema was left unchanged"));
    res = itest_pg(dsn_copy, "SELECT count(*) FROM schema_migrations");
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    /* the table in the way is untouched: the index of 001 was rolled back */
    res = itest_pg(dsn_copy, "SELECT count(*) FROM pg_indexes WHERE indexname = 'projects_created_at_idx'");
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
}
END_TEST

static int health_json(const char *key, const char *want)
{
    struct itest_resp r;
    itest_http(srv.port, "GET", "/healthz", NULL, NULL, 0, 0, &r);
    const char *path[] = { key, NULL };
    const char *v = itest_json_str(&r, path);
    int ok = v && strcmp(v, want) == 0;
    itest_resp_free(&r);
    return ok;
}

START_TEST(postgres_outage_degrades_and_recovers)
{
    ck_assert_int_eq(itest_stack_cmd("pg-stop"), 0);
    uint64_t t0 = itest_now_ms();
    ck_assert_int_eq(itest_wait_health(srv.port, 503, 1000), 0);
    ck_assert_msg(itest_now_ms() - t0 <= 1000, "degraded after %llu ms",
                  (unsigned long long)(itest_now_ms() - t0));
    ck_assert(health_json("postgres", "down"));
    ck_assert(health_json("redis", "up"));
    ck_assert(health_json("status", "degraded"));
    /* queries fail fast with 503 */
    uint64_t q0 = itest_now_ms();
    expect_free("POST", "/v1/projects", JSON, "{\"name\":\"during-outage\"}", 503, "database_unavailable", NULL);
    expect_free("GET", "/v1/projects", NULL, NULL, 503, "database_unavailable", NULL);
    ck_assert_uint_le(itest_now_ms() - q0, 1000);
    ck_assert_int_eq(itest_stack_cmd("pg-start"), 0);
    ck_assert_msg(itest_wait_health(srv.port, 200, 10000) == 0, "not healthy after PostgreSQL came back");
    expect_free("GET", "/v1/projects?limit=1", NULL, NULL, 200, NULL, NULL);
}
END_TEST

START_TEST(redis_outage_degrades_and_recovers)
{
    ck_assert_int_eq(itest_stack_cmd("redis-stop"), 0);
    ck_assert_int_eq(itest_wait_health(srv.port, 503, 1000), 0);
    ck_assert(health_json("redis", "down"));
    ck_assert(health_json("postgres", "up"));
    /* the API that needs only PostgreSQL keeps working */
    expect_free("GET", "/v1/projects?limit=1", NULL, NULL, 200, NULL, NULL);
    ck_assert_int_eq(itest_stack_cmd("redis-start"), 0);
    ck_assert_msg(itest_wait_health(srv.port, 200, 10000) == 0, "not healthy after Redis came back");
}
END_TEST

START_TEST(sigterm_stops_gracefully)
{
    struct itest_server s;
    int st = 0;
    ck_assert_int_eq(itest_server_start(&s, NULL, NULL, NULL, &st), 0);
    ck_assert_int_eq(itest_wait_health(s.port, 200, 10000), 0);
    uint64_t t0 = itest_now_ms();
    ck_assert_int_eq(itest_server_stop(&s, 10000), 0);
    ck_assert_uint_lt(itest_now_ms() - t0, 5000);
    ck_assert(itest_log_contains(&s, "shutting down"));
    ck_assert(itest_log_contains(&s, "bye"));
}
END_TEST

/* Hosts that do not resolve: the server runs, says which host failed in
 * /healthz and in its log, answers 503 with the reason, and stops cleanly. */
START_TEST(unresolvable_hosts_are_named)
{
    struct itest_server s;
    int st = 0;
    ck_assert_int_eq(itest_server_start(&s, "host=no-such-host.invalid port=5432 dbname=x user=x connect_timeout=2",
                                        "redis://no-such-host.invalid:6379", NULL, &st),
                     0);
    const char *const pg[] = { "detail", "postgres", NULL }, *const rd[] = { "detail", "redis", NULL };
    int named = 0;
    for (uint64_t t0 = itest_now_ms(); !named && itest_now_ms() - t0 < 30000; usleep(100000)) {
        struct itest_resp r;
        itest_http(s.port, "GET", "/healthz", NULL, NULL, 0, 0, &r);
        ck_assert_int_eq(r.status, 503);
        const char *p = itest_json_str(&r, pg), *d = itest_json_str(&r, rd);
        named = p && strstr(p, "cannot resolve the database host no-such-host.invalid") && d &&
                strstr(d, "cannot resolve no-such-host.invalid");
        itest_resp_free(&r);
    }
    ck_assert_msg(named, "/healthz never named the hosts that do not resolve");
    struct itest_resp r;
    itest_http(s.port, "GET", "/v1/projects", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(r.body, "no-such-host.invalid"));
    itest_resp_free(&r);
    ck_assert(itest_log_contains(&s, "database is down: cannot resolve the database host no-such-host.invalid"));
    ck_assert(itest_log_contains(&s, "redis is down: cannot resolve no-such-host.invalid"));
    ck_assert_int_eq(itest_server_stop(&s, 10000), 0);
}
END_TEST

START_TEST(config_errors_exit_2)
{
    struct itest_server s;
    int st = 0;
    static const char *const bad[] = { "--loops", "zero", NULL };
    ck_assert_int_eq(itest_server_start(&s, NULL, NULL, bad, &st), -1);
    ck_assert_int_eq(st, 2);
    ck_assert(itest_log_contains(&s, "--loops: expected an integer"));
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *api = tcase_create("api");
    tcase_set_timeout(api, 60);
    tcase_add_unchecked_fixture(api, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(api, start_default, stop_default);
    tcase_add_test(api, health_reports_everything_up);
    tcase_add_test(api, bad_input_gets_json_errors_and_writes_nothing);
    tcase_add_test(api, oversize_bodies_get_413);
    tcase_add_test(api, projects_crud_and_pagination);
    tcase_add_test(api, postgres_outage_degrades_and_recovers);
    tcase_add_test(api, redis_outage_degrades_and_recovers);
    suite_add_tcase(s, api);
    TCase *life = tcase_create("lifecycle");
    tcase_set_timeout(life, 60);
    tcase_add_unchecked_fixture(life, itest_stack_up, itest_stack_down);
    tcase_add_test(life, migrations_apply_once_and_are_idempotent);
    tcase_add_test(life, failing_migration_stops_server_and_leaves_schema);
    tcase_add_test(life, sigterm_stops_gracefully);
    tcase_add_test(life, config_errors_exit_2);
    tcase_add_test(life, unresolvable_hosts_are_named);
    suite_add_tcase(s, life);
    return s;
}

CHECK_MAIN(server_suite)
