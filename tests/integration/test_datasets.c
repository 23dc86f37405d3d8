/* test_datasets: datasets in the server against the real PostgreSQL and
 * the test target — CRUD in global and project scope, uploads (CSV, JSON)
 * with errors naming the line, versions kept and readable, collection in
 * repeat and batch mode with pre/post routes, preview storing nothing,
 * failures and limits naming the route; the SSRF guard refusing loopback,
 * private, metadata and mapped addresses and a name that resolves to
 * them; scripts naming a dataset by id (validated, run on its rows, the
 * version pinned in the run's snapshot). Every collection target is the
 * test target on 127.0.0.1 (allowed with --collect-allow). */
#include "apic.h"
#include "check_main.h"
#include "target.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct itest_server srv;
static struct target tgt;

static const char *const ALLOW[] = { "--collect-allow", "127.0.0.1/32", NULL };

static void start_default(void)
{
    target_start(&tgt, NULL);
    itest_server_start_healthy(&srv, ALLOW);
    apic_use(srv.port, NULL);
}

static void stop_default(void)
{
    if (srv.pid > 0)
        itest_server_stop(&srv, 20000);
    target_stop(&tgt);
}

/* printf into one of four static buffers, so that two can be arguments
 * of one call */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    static char bufs[4][8192];
    static int next;
    char *buf = bufs[next++ % 4];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof bufs[0], f, ap);
    va_end(ap);
    return buf;
}

/* POST /v1/datasets with this body; returns the id (static). */
static const char *dataset(const char *body)
{
    static char id[64];
    struct itest_resp r = apic_expect("POST", "/v1/datasets", body, 201);
    snprintf(id, sizeof id, "%s", apic_str(r.json, "id", NULL));
    itest_resp_free(&r);
    return id;
}

static long count_sql(const char *sql)
{
    PGresult *res = itest_pg(itest_stack()->pg_dsn, sql);
    ck_assert_ptr_nonnull(res);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(res));
    long n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static size_t items(const struct itest_resp *r, const char *key)
{
    yajl_val a = apic_get(r->json, key, NULL);
    ck_assert_msg(YAJL_IS_ARRAY(a), "%s is not an array: %s", key, r->body);
    return a->u.array.len;
}

START_TEST(crud_in_two_scopes)
{
    char pid[64], other[64], g[64], p[64], path[256];
    snprintf(pid, sizeof pid, "%s", apic_project(apic_name("dsp")));
    snprintf(other, sizeof other, "%s", apic_project(apic_name("dsq")));
    const char *name = apic_name("users");
    snprintf(g, sizeof g, "%s", dataset(fmt("{\"name\":\"%s\",\"description\":\"logins\"}", name)));
    /* the same name: taken among the global ones, free in a project */
    apic_error("POST", "/v1/datasets", fmt("{\"name\":\"%s\"}", name), 409, "conflict", "name");
    snprintf(p, sizeof p, "%s", dataset(fmt("{\"name\":\"%s\",\"project_id\":\"%s\"}", name, pid)));
    dataset(fmt("{\"name\":\"%s\",\"project_id\":\"%s\"}", name, other));
    apic_error("POST", "/v1/datasets", fmt("{\"name\":\"%s\",\"project_id\":\"%s\"}", name, pid), 409, "conflict",
               "name");
    /* bad input names the field */
    apic_error("POST", "/v1/datasets", "{}", 400, "invalid", "name");
    apic_error("POST", "/v1/datasets", "{\"name\":\"\"}", 400, "invalid", "name");
    apic_error("POST", "/v1/datasets", "{\"name\":\"x\",\"rows\":[]}", 400, "invalid", "rows");
    apic_error("POST", "/v1/datasets", "{\"name\":\"x\",\"project_id\":\"nope\"}", 400, "invalid", "project_id");
    apic_error("POST", "/v1/datasets", "{\"name\":\"x\",\"project_id\":\"6f1e2a3b-0000-4000-8000-00000000000a\"}", 400,
               "invalid", "project_id");
    apic_error("POST", "/v1/datasets", "{\"name\":\"x\",\"collect\":{\"mode\":\"repeat\"}}", 400, "invalid",
               "collect.iterations");
    apic_error("POST", "/v1/datasets", "{\"name\":\"x\",\"collect\":{\"mode\":\"repeat\",\"iterations\":2,"
               "\"routes\":[{\"url\":\"/x\"}]}}", 400, "invalid", "collect.routes[0].url");
    /* read */
    snprintf(path, sizeof path, "/v1/datasets/%s", p);
    struct itest_resp r = apic_expect("GET", path, NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "project_id", NULL), pid);
    ck_assert_ptr_null(apic_str(r.json, "columns", NULL));
    ck_assert(isnan(apic_num(r.json, "latest_version", NULL)));
    itest_resp_free(&r);
    apic_error("GET", "/v1/datasets/6f1e2a3b-0000-4000-8000-00000000000a", NULL, 404, "not_found", "id");
    apic_error("GET", "/v1/datasets/users", NULL, 404, "not_found", "id");
    /* lists: scope filters, q, pages */
    r = apic_expect("GET", fmt("/v1/datasets?project_id=%s", pid), NULL, 200);
    ck_assert_uint_eq(items(&r, "items"), 1);
    itest_resp_free(&r);
    r = apic_expect("GET", fmt("/v1/datasets?global=true&q=%s", name), NULL, 200);
    ck_assert_uint_eq(items(&r, "items"), 1);
    ck_assert_str_eq(apic_str(r.json, "items", "0", "id", NULL), g);
    itest_resp_free(&r);
    r = apic_expect("GET", fmt("/v1/datasets?q=%s&limit=2&sort=name", name), NULL, 200);
    ck_assert_uint_eq(items(&r, "items"), 2);
    const char *cur = apic_str(r.json, "next_cursor", NULL);
    ck_assert_ptr_nonnull(cur);
    struct itest_resp r2 = apic_expect("GET", fmt("/v1/datasets?q=%s&limit=2&sort=name&cursor=%s", name, cur), NULL, 200);
    ck_assert_uint_eq(items(&r2, "items"), 1);
    itest_resp_free(&r2);
    itest_resp_free(&r);
    apic_error("GET", "/v1/datasets?global=maybe", NULL, 400, "invalid", "global");
    apic_error("GET", "/v1/datasets?limit=0", NULL, 400, "invalid", "limit");
    /* change */
    r = apic_expect("PATCH", path, "{\"name\":\"renamed\",\"description\":\"d\",\"collect\":{\"mode\":\"batch\","
                    "\"routes\":[{\"url\":\"http://127.0.0.1:1/items\"}],\"batch\":{\"rows\":\"$.items\","
                    "\"columns\":{\"b\":\"$.b\",\"a\":\"$.a\"}}}}", 200);
    ck_assert_str_eq(apic_str(r.json, "name", NULL), "renamed");
    /* the spec is kept as written: its columns' order too */
    ck_assert_str_eq(apic_get(r.json, "collect", "batch", "columns", NULL)->u.object.keys[0], "b");
    itest_resp_free(&r);
    r = apic_expect("PATCH", path, "{\"collect\":null}", 200);
    ck_assert(YAJL_IS_NULL(apic_get(r.json, "collect", NULL)));
    ck_assert_str_eq(apic_str(r.json, "description", NULL), "d");
    itest_resp_free(&r);
    apic_error("PATCH", path, "{\"project_id\":null}", 400, "invalid", "project_id");
    apic_error("PATCH", path, "{}", 400, "invalid", NULL);
    /* delete; a project's datasets go with it */
    r = apic_expect("DELETE", path, NULL, 204);
    itest_resp_free(&r);
    apic_error("DELETE", path, NULL, 404, "not_found", "id");
    r = apic_expect("DELETE", fmt("/v1/projects/%s?cascade=true", other), NULL, 204);
    itest_resp_free(&r);
    ck_assert_int_eq(count_sql(fmt("SELECT count(*) FROM datasets WHERE project_id = '%s'", other)), 0);
}
END_TEST

START_TEST(uploads_make_versions)
{
    char id[64], path[256];
    snprintf(id, sizeof id, "%s", dataset(fmt("{\"name\":\"%s\"}", apic_name("up"))));
    snprintf(path, sizeof path, "/v1/datasets/%s/rows", id);
    apic_error("GET", path, NULL, 404, "not_found", "version");
    struct itest_resp r = apic_expect("PUT", path, "{\"format\":\"csv\",\"content\":\"user,note\\r\\nann,\\\"a, b\\\"\\r\\nbo,x\\r\\n\"}", 201);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 1);
    ck_assert_int_eq((int)apic_num(r.json, "rows", NULL), 2);
    ck_assert_str_eq(apic_str(r.json, "origin", NULL), "upload");
    ck_assert_str_eq(apic_str(r.json, "columns", "1", NULL), "note");
    itest_resp_free(&r);
    /* JSON text (sniffed) and an array of objects */
    r = apic_expect("PUT", path, "{\"content\":\"[{\\\"user\\\":\\\"cy\\\",\\\"n\\\":1}]\"}", 201);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 2);
    itest_resp_free(&r);
    r = apic_expect("PUT", path, "{\"format\":\"json\",\"content\":[{\"user\":\"dee\",\"n\":2,\"vip\":true},"
                    "{\"user\":\"ed\"}]}", 201);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 3);
    itest_resp_free(&r);
    /* bad rows: 400 naming the line; nothing is written */
    apic_error("PUT", path, "{\"format\":\"csv\",\"content\":\"a,b\\n1,2\\n3\\n\"}", 400, "invalid", "content");
    r = apic_expect("PUT", path, "{\"format\":\"csv\",\"content\":\"a,b\\n1,2\\n\\\"3,4\\n\"}", 400);
    ck_assert_ptr_nonnull(strstr(apic_str(r.json, "error", "message", NULL), "line 3"));
    itest_resp_free(&r);
    apic_error("PUT", path, "{\"format\":\"json\",\"content\":\"[{\\\"a\\\":[1]}]\"}", 400, "invalid", "content");
    apic_error("PUT", path, "{\"content\":\"a,b\\n\"}", 400, "invalid", "content");
    apic_error("PUT", path, "{\"content\":\"a b,c\\n1,2\\n\"}", 400, "invalid", "content");
    apic_error("PUT", path, "{\"format\":\"xml\",\"content\":\"<a/>\"}", 400, "invalid", "format");
    apic_error("PUT", path, "{\"content\":12}", 400, "invalid", "content");
    apic_error("PUT", path, "{}", 400, "invalid", "content");
    apic_error("PUT", "/v1/datasets/6f1e2a3b-0000-4000-8000-00000000000a/rows", "{\"content\":\"a\\n1\\n\"}", 404,
               "not_found", "id");
    ck_assert_int_eq(count_sql(fmt("SELECT latest_version * 10 + (SELECT count(*) FROM dataset_versions"
                                   " WHERE dataset_id = '%s') FROM datasets WHERE id = '%s'", id, id)), 33);
    /* every version stays readable, paged by PostgreSQL */
    r = apic_expect("GET", fmt("%s?version=1&offset=1&limit=5", path), NULL, 200);
    ck_assert_int_eq((int)apic_num(r.json, "total", NULL), 2);
    ck_assert_uint_eq(items(&r, "rows"), 1);
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "user", NULL), "bo");
    itest_resp_free(&r);
    r = apic_expect("GET", fmt("%s?version=1", path), NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "note", NULL), "a, b");
    itest_resp_free(&r);
    r = apic_expect("GET", path, NULL, 200); /* the latest */
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 3);
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "n", NULL), "2");
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "vip", NULL), "true");
    ck_assert_str_eq(apic_str(r.json, "rows", "1", "n", NULL), "");
    ck_assert_str_eq(apic_str(r.json, "columns", "2", NULL), "vip");
    itest_resp_free(&r);
    apic_error("GET", fmt("%s?version=9", path), NULL, 404, "not_found", "version");
    apic_error("GET", fmt("%s?version=x", path), NULL, 400, "invalid", "version");
    apic_error("GET", fmt("%s?limit=1001", path), NULL, 400, "invalid", "limit");
    apic_error("GET", fmt("%s?offset=-1", path), NULL, 400, "invalid", "offset");
    /* versions, newest first, in pages */
    r = apic_expect("GET", fmt("/v1/datasets/%s/versions?limit=2", id), NULL, 200);
    ck_assert_uint_eq(items(&r, "items"), 2);
    ck_assert_int_eq((int)apic_num(r.json, "items", "0", "version", NULL), 3);
    const char *cur = apic_str(r.json, "next_cursor", NULL);
    ck_assert_str_eq(cur, "2");
    itest_resp_free(&r);
    r = apic_expect("GET", fmt("/v1/datasets/%s/versions?limit=2&cursor=2", id), NULL, 200);
    ck_assert_uint_eq(items(&r, "items"), 1);
    ck_assert_int_eq((int)apic_num(r.json, "items", "0", "version", NULL), 1);
    ck_assert(YAJL_IS_NULL(apic_get(r.json, "next_cursor", NULL)));
    itest_resp_free(&r);
    /* the dataset shows its latest version */
    r = apic_expect("GET", fmt("/v1/datasets/%s", id), NULL, 200);
    ck_assert_int_eq((int)apic_num(r.json, "latest_version", NULL), 3);
    ck_assert_int_eq((int)apic_num(r.json, "rows", NULL), 2);
    itest_resp_free(&r);
    /* the size bound is the server's max_body */
    size_t big = 1100000;
    char *body = malloc(big + 64);
    int k = snprintf(body, 64, "{\"content\":\"a\\n");
    memset(body + k, '1', big);
    strcpy(body + k + big, "\\n\"}");
    r = apic(/* 413 */ "PUT", path, body);
    ck_assert_int_eq(r.status, 413);
    itest_resp_free(&r);
    free(body);
}
END_TEST

/* A repeat spec: log in, then per iteration an echo that returns the
 * user it was sent and a check of the token; log out at the end. */
static const char *repeat_spec(int iterations)
{
    static char s[2048];
    snprintf(s, sizeof s,
             "{\"mode\":\"repeat\",\"iterations\":%d,"
             "\"pre\":[{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%u/login\",\"extract\":{\"token\":{\"jsonpath\":\"$.token\"}}}],"
             "\"routes\":[{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%u/echo\",\"headers\":{\"X-Test\":\"n{{iteration}}\"},"
             "\"body\":{\"user\":\"u{{iteration}}\",\"id\":\"{{uuid}}\"},"
             "\"extract\":{\"user\":{\"jsonpath\":\"$.user\"},\"key\":{\"jsonpath\":\"$.id\"},\"echo\":{\"header\":\"X-Test-Echo\"}}},"
             "{\"url\":\"http://127.0.0.1:%u/me\",\"headers\":{\"Authorization\":\"Bearer {{token}}\"},"
             "\"extract\":{\"ok\":{\"regex\":\"\\\"ok\\\":(\\\\w+)\"}}}],"
             "\"post\":[{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%u/logout\",\"headers\":{\"Authorization\":\"Bearer {{token}}\"}}]}",
             iterations, tgt.port, tgt.port, tgt.port, tgt.port);
    return s;
}

START_TEST(collect_repeat_with_pre_and_post)
{
    char id[64], path[256];
    snprintf(id, sizeof id, "%s", dataset(fmt("{\"name\":\"%s\",\"collect\":%s}", apic_name("rep"), repeat_spec(5))));
    target_reset(&tgt);
    /* preview: one iteration, the rows and requests shown, nothing stored */
    snprintf(path, sizeof path, "/v1/datasets/%s/preview", id);
    struct itest_resp r = apic_expect("POST", path, NULL, 200);
    ck_assert_int_eq((int)apic_num(r.json, "row_count", NULL), 1);
    ck_assert_str_eq(apic_str(r.json, "columns", "0", NULL), "user");
    ck_assert_str_eq(apic_str(r.json, "columns", "3", NULL), "ok");
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "user", NULL), "u0");
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "echo", NULL), "n0");
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "ok", NULL), "true");
    ck_assert_uint_eq(strlen(apic_str(r.json, "rows", "0", "key", NULL)), 36);
    ck_assert_uint_eq(items(&r, "requests"), 4);
    ck_assert_str_eq(apic_str(r.json, "requests", "0", "route", NULL), "collect.pre[0]");
    ck_assert_str_eq(apic_str(r.json, "requests", "3", "route", NULL), "collect.post[0]");
    ck_assert_int_eq((int)apic_num(r.json, "requests", "2", "status", NULL), 200);
    itest_resp_free(&r);
    ck_assert_int_eq(count_sql(fmt("SELECT count(*) FROM dataset_versions WHERE dataset_id = '%s'", id)), 0);
    ck_assert_int_eq(target_stat(&tgt, "logins"), 1);
    ck_assert_int_eq(target_path_count(&tgt, "/logout"), 1);
    /* collect: five iterations between one login and one logout */
    target_reset(&tgt);
    snprintf(path, sizeof path, "/v1/datasets/%s/collect", id);
    r = apic_expect("POST", path, NULL, 201);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 1);
    ck_assert_int_eq((int)apic_num(r.json, "rows", NULL), 5);
    ck_assert_str_eq(apic_str(r.json, "origin", NULL), "collect");
    itest_resp_free(&r);
    ck_assert_int_eq(target_stat(&tgt, "logins"), 1);
    ck_assert_int_eq(target_path_count(&tgt, "/echo"), 5);
    ck_assert_int_eq(target_stat(&tgt, "tokens_ok"), 5); /* every /me with the one token */
    ck_assert_int_eq(target_stat(&tgt, "tokens_rejected"), 0);
    ck_assert_int_eq(target_path_count(&tgt, "/logout"), 1);
    r = apic_expect("GET", fmt("/v1/datasets/%s/rows", id), NULL, 200);
    ck_assert_int_eq((int)apic_num(r.json, "total", NULL), 5);
    ck_assert_str_eq(apic_str(r.json, "rows", "4", "user", NULL), "u4");
    ck_assert_str_eq(apic_str(r.json, "rows", "4", "echo", NULL), "n4");
    char key1[64];
    snprintf(key1, sizeof key1, "%s", apic_str(r.json, "rows", "0", "key", NULL));
    itest_resp_free(&r);
    /* again: a new version; the first stays as it was */
    r = apic_expect("POST", path, NULL, 201);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 2);
    itest_resp_free(&r);
    r = apic_expect("GET", fmt("/v1/datasets/%s/rows?version=1", id), NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "key", NULL), key1);
    itest_resp_free(&r);
    r = apic_expect("GET", fmt("/v1/datasets/%s/rows?version=2", id), NULL, 200);
    ck_assert_str_ne(apic_str(r.json, "rows", "0", "key", NULL), key1);
    itest_resp_free(&r);
}
END_TEST

START_TEST(collect_batch)
{
    char id[64], path[256];
    snprintf(id, sizeof id, "%s", dataset(fmt(
        "{\"name\":\"%s\",\"collect\":{\"mode\":\"batch\","
        "\"pre\":[{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%u/login\",\"extract\":{\"token\":{\"jsonpath\":\"$.token\"}}}],"
        "\"routes\":[{\"url\":\"http://127.0.0.1:%u/items?n=25\",\"headers\":{\"Authorization\":\"Bearer {{token}}\"}}],"
        "\"post\":[{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%u/logout\"}],"
        "\"batch\":{\"rows\":\"$.items\",\"columns\":{\"email\":\"$.email\",\"id\":\"$.id\",\"tag\":\"$.tags[0]\"}}}}",
        apic_name("batch"), tgt.port, tgt.port, tgt.port)));
    target_reset(&tgt);
    snprintf(path, sizeof path, "/v1/datasets/%s/collect", id);
    struct itest_resp r = apic_expect("POST", path, NULL, 201);
    ck_assert_int_eq((int)apic_num(r.json, "rows", NULL), 25);
    ck_assert_str_eq(apic_str(r.json, "columns", "0", NULL), "email");
    itest_resp_free(&r);
    ck_assert_int_eq(target_stat(&tgt, "tokens_ok"), 1);
    ck_assert_int_eq(target_path_count(&tgt, "/logout"), 1);
    r = apic_expect("GET", fmt("/v1/datasets/%s/rows?offset=24", id), NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "email", NULL), "user25@example.com");
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "id", NULL), "25");
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "tag", NULL), "t1");
    itest_resp_free(&r);
    /* a preview of another spec (pages): nothing stored, the saved spec unchanged */
    snprintf(path, sizeof path, "/v1/datasets/%s/preview", id);
    char *pages = strdup(fmt("{\"collect\":{\"mode\":\"batch\",\"iterations\":3,"
                            "\"routes\":[{\"url\":\"http://127.0.0.1:%u/items?n=4&page={{iteration}}\"}],"
                            "\"batch\":{\"rows\":\"$.items\",\"columns\":{\"name\":\"$.name\"}}}}", tgt.port));
    r = apic_expect("POST", path, pages, 200);
    ck_assert_int_eq((int)apic_num(r.json, "row_count", NULL), 4); /* a preview is one page */
    ck_assert_str_eq(apic_str(r.json, "rows", "3", "name", NULL), "user4");
    itest_resp_free(&r);
    ck_assert_int_eq(count_sql(fmt("SELECT count(*) FROM dataset_versions WHERE dataset_id = '%s'", id)), 1);
    r = apic_expect("GET", fmt("/v1/datasets/%s", id), NULL, 200);
    ck_assert_str_eq(apic_str(r.json, "collect", "routes", "0", "url", NULL),
                     fmt("http://127.0.0.1:%u/items?n=25", tgt.port));
    itest_resp_free(&r);
    /* pages: collected until the iterations are done, or an empty page */
    r = apic_expect("PATCH", fmt("/v1/datasets/%s", id), pages, 200);
    itest_resp_free(&r);
    free(pages);
    r = apic_expect("POST", fmt("/v1/datasets/%s/collect", id), NULL, 201);
    ck_assert_int_eq((int)apic_num(r.json, "rows", NULL), 12);
    ck_assert_int_eq((int)apic_num(r.json, "version", NULL), 2);
    itest_resp_free(&r);
    target_reset(&tgt);
    r = apic_expect("PATCH", fmt("/v1/datasets/%s", id), fmt(
        "{\"collect\":{\"mode\":\"batch\",\"iterations\":5,\"routes\":[{\"url\":\"http://127.0.0.1:%u/items?n=3{{iteration}}\"}],"
        "\"batch\":{\"rows\":\"$.items\",\"columns\":{\"id\":\"$.id\"}},\"limits\":{\"max_rows\":1000}}}", tgt.port), 200);
    itest_resp_free(&r);
    r = apic_expect("POST", fmt("/v1/datasets/%s/collect", id), NULL, 201);
    ck_assert_int_eq((int)apic_num(r.json, "rows", NULL), 30 + 31 + 32 + 33 + 34);
    itest_resp_free(&r);
    ck_assert_int_eq(target_path_count(&tgt, "/items"), 5);
    /* the first page empty: no rows, nothing stored */
    r = apic_expect("PATCH", fmt("/v1/datasets/%s", id), fmt(
        "{\"collect\":{\"mode\":\"batch\",\"iterations\":3,\"routes\":[{\"url\":\"http://127.0.0.1:%u/items?n={{iteration}}\"}],"
        "\"batch\":{\"rows\":\"$.items\",\"columns\":{\"id\":\"$.id\"}}}}", tgt.port), 200);
    itest_resp_free(&r);
    target_reset(&tgt);
    apic_error("POST", fmt("/v1/datasets/%s/collect", id), NULL, 502, "collect_failed", "collect");
    ck_assert_int_eq(target_path_count(&tgt, "/items"), 1);
    ck_assert_int_eq(count_sql(fmt("SELECT count(*) FROM dataset_versions WHERE dataset_id = '%s'", id)), 3);
}
END_TEST

/* Preview a spec on dataset id and expect an error. */
static void preview_error(const char *id, const char *spec, int status, const char *code, const char *field,
                          const char *frag)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/datasets/%s/preview", id);
    size_t n = strlen(spec) + 32;
    char *body = malloc(n);
    snprintf(body, n, "{\"collect\":%s}", spec);
    struct itest_resp r = apic_expect("POST", path, body, status);
    free(body);
    const char *c = apic_str(r.json, "error", "code", NULL), *f = apic_str(r.json, "error", "field", NULL),
               *m = apic_str(r.json, "error", "message", NULL);
    ck_assert_msg(c && !strcmp(c, code), "code %s, want %s: %s", c, code, r.body);
    ck_assert_msg(f && !strcmp(f, field), "field %s, want %s: %s", f, field, r.body);
    ck_assert_msg(m && strstr(m, frag), "\"%s\" lacks \"%s\"", m, frag);
    itest_resp_free(&r);
}

static const char *one_route(const char *url, const char *extract)
{
    static char s[1024];
    snprintf(s, sizeof s, "{\"mode\":\"repeat\",\"iterations\":2,\"routes\":[{\"url\":\"%s\",\"extract\":%s}]}", url,
             extract);
    return s;
}

START_TEST(collection_failures_name_the_route)
{
    char id[64], u[256];
    snprintf(id, sizeof id, "%s", dataset(fmt("{\"name\":\"%s\"}", apic_name("fail"))));
    /* no spec */
    apic_error("POST", fmt("/v1/datasets/%s/collect", id), NULL, 409, "conflict", "collect");
    apic_error("POST", fmt("/v1/datasets/%s/preview", id), NULL, 409, "conflict", "collect");
    apic_error("POST", "/v1/datasets/6f1e2a3b-0000-4000-8000-00000000000a/collect", NULL, 404, "not_found", "id");
    apic_error("POST", fmt("/v1/datasets/%s/preview", id), "{\"collect\":{\"mode\":\"x\"}}", 400, "invalid",
               "collect.mode");
    apic_error("POST", fmt("/v1/datasets/%s/preview", id), "{\"spec\":{}}", 400, "invalid", "spec");
    const char *x = "{\"v\":{\"jsonpath\":\"$.v\"}}";
    snprintf(u, sizeof u, "http://127.0.0.1:%u/status?code=500", tgt.port);
    preview_error(id, one_route(u, x), 502, "collect_failed", "collect.routes[0]", "answered 500");
    snprintf(u, sizeof u, "http://127.0.0.1:%u/me", tgt.port);
    preview_error(id, one_route(u, x), 502, "collect_failed", "collect.routes[0]", "answered 401");
    snprintf(u, sizeof u, "http://127.0.0.1:%u/echo", tgt.port);
    preview_error(id, one_route(u, x), 502, "collect_failed", "collect.routes[0].extract.v", "nothing matched");
    snprintf(u, sizeof u, "http://127.0.0.1:%u/malformed", tgt.port);
    preview_error(id, one_route(u, x), 502, "collect_failed", "collect.routes[0]", "not a valid HTTP response");
    snprintf(u, sizeof u, "http://127.0.0.1:1/x");
    preview_error(id, one_route(u, x), 502, "collect_failed", "collect.routes[0]", "cannot connect");
    preview_error(id, one_route("http://no-such-host.invalid/x", x), 502, "collect_failed", "collect.routes[0].url",
                  "cannot resolve no-such-host.invalid");
    /* limits */
    snprintf(u, sizeof u, "http://127.0.0.1:%u/big?bytes=9000000", tgt.port);
    preview_error(id, one_route(u, x), 502, "collect_failed", "collect.routes[0]", "larger than");
    uint64_t t0 = itest_now_ms();
    preview_error(id, fmt("{\"mode\":\"repeat\",\"iterations\":2,\"limits\":{\"timeout\":\"300ms\"},"
                          "\"routes\":[{\"url\":\"http://127.0.0.1:%u/delay?ms=5000\",\"extract\":%s}]}", tgt.port, x),
                  502, "collect_failed", "collect.limits.timeout", "longer than limits.timeout");
    ck_assert_msg(itest_now_ms() - t0 < 3000, "the time limit took %llu ms", (unsigned long long)(itest_now_ms() - t0));
    snprintf(u, sizeof u, "http://127.0.0.1:%u/echo", tgt.port);
    preview_error(id, fmt("{\"mode\":\"batch\",\"routes\":[{\"url\":\"http://127.0.0.1:%u/items?n=20\"}],"
                          "\"batch\":{\"rows\":\"$.items\",\"columns\":{\"id\":\"$.id\"}},\"limits\":{\"max_rows\":10}}",
                          tgt.port),
                  502, "collect_failed", "collect.routes[0]", "more than limits.max_rows (10)");
    /* a failed log-in: the routes and post are not sent */
    target_reset(&tgt);
    preview_error(id, fmt("{\"mode\":\"repeat\",\"iterations\":2,"
                          "\"pre\":[{\"url\":\"http://127.0.0.1:%u/status?code=403\"}],"
                          "\"routes\":[{\"url\":\"http://127.0.0.1:%u/echo\",\"extract\":%s}],"
                          "\"post\":[{\"url\":\"http://127.0.0.1:%u/logout\"}]}", tgt.port, tgt.port, x, tgt.port),
                  502, "collect_failed", "collect.pre[0]", "answered 403");
    ck_assert_int_eq(target_path_count(&tgt, "/echo"), 0);
    ck_assert_int_eq(target_path_count(&tgt, "/logout"), 0);
    /* a failed route: post still logs out; nothing stored */
    target_reset(&tgt);
    struct itest_resp r = apic_expect("PATCH", fmt("/v1/datasets/%s", id), fmt(
        "{\"collect\":{\"mode\":\"repeat\",\"iterations\":3,"
        "\"routes\":[{\"url\":\"http://127.0.0.1:%u/status?code={{iteration}}\",\"extract\":{\"s\":{\"regex\":\"status (\\\\d+)\"}}}],"
        "\"post\":[{\"url\":\"http://127.0.0.1:%u/logout\"}]}}", tgt.port, tgt.port), 200);
    itest_resp_free(&r);
    apic_error("POST", fmt("/v1/datasets/%s/collect", id), NULL, 502, "collect_failed", "collect.routes[0]");
    ck_assert_int_eq(target_path_count(&tgt, "/status"), 1); /* code=0 is a bad parameter: 400 */
    ck_assert_int_eq(target_path_count(&tgt, "/logout"), 1);
    ck_assert_int_eq(count_sql(fmt("SELECT count(*) FROM dataset_versions WHERE dataset_id = '%s'", id)), 0);
    /* a variable that only a later route sets */
    preview_error(id, fmt("{\"mode\":\"repeat\",\"iterations\":1,"
                          "\"routes\":[{\"url\":\"http://127.0.0.1:%u/u/{{late}}\"},"
                          "{\"url\":\"http://127.0.0.1:%u/echo\",\"method\":\"POST\",\"body\":\"x\",\"extract\":{\"late\":{\"regex\":\"(x)\"}}}]}",
                          tgt.port, tgt.port),
                  502, "collect_failed", "collect.routes[0]", "uses {{late}}, which no earlier route set");
}
END_TEST

/* A batch spec against an HTTPS target, with extra members first. */
static const char *tls_spec(uint16_t port, const char *extra)
{
    static char s[1024];
    snprintf(s, sizeof s,
             "{\"mode\":\"batch\",%s\"pre\":[{\"method\":\"POST\",\"url\":\"https://127.0.0.1:%u/login\","
             "\"extract\":{\"token\":{\"jsonpath\":\"$.token\"}}}],"
             "\"routes\":[{\"url\":\"https://127.0.0.1:%u/items?n=3\",\"headers\":{\"Authorization\":"
             "\"Bearer {{token}}\"}}],\"batch\":{\"rows\":\"$.items\",\"columns\":{\"id\":\"$.id\"}}}",
             extra, port, port);
    return s;
}

/* HTTPS: the certificate is verified unless the spec says not to. */
START_TEST(collect_over_https)
{
    char dir[] = "/tmp/stampede-ds-tls-XXXXXX", cert[600], key[600], cmd[1500];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '%s' -out '%s' 2>/dev/null", key, cert);
    ck_assert_int_eq(system(cmd), 0);
    struct target tls;
    const char *args[] = { "--tls", cert, key, NULL };
    target_start(&tls, args);
    char id[64];
    snprintf(id, sizeof id, "%s", dataset(fmt("{\"name\":\"%s\"}", apic_name("tls"))));
    /* a self-signed certificate is refused */
    preview_error(id, tls_spec(tls.port, ""), 502, "collect_failed", "collect.pre[0]", "TLS");
    /* unless the spec says so */
    struct itest_resp r = apic_expect("POST", fmt("/v1/datasets/%s/preview", id),
                                      fmt("{\"collect\":%s}", tls_spec(tls.port, "\"insecure_skip_tls_verify\":true,")),
                                      200);
    ck_assert_int_eq((int)apic_num(r.json, "row_count", NULL), 3); /* /items took the token */
    ck_assert_ptr_nonnull(strstr(apic_str(r.json, "requests", "1", "url", NULL), "https://127.0.0.1:"));
    itest_resp_free(&r);
    target_stop(&tls);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(ssrf_guard_refuses_internal_addresses)
{
    /* this server has no allow-list */
    itest_server_stop(&srv, 20000);
    itest_server_start_healthy(&srv, NULL);
    apic_use(srv.port, NULL);
    char id[64];
    snprintf(id, sizeof id, "%s", dataset(fmt("{\"name\":\"%s\"}", apic_name("ssrf"))));
    const char *x = "{\"v\":{\"jsonpath\":\"$.v\"}}";
    target_reset(&tgt);
    static const struct {
        const char *host, *path, *frag;
    } cases[] = {
        { "127.0.0.1", "/login", "127.0.0.1 is a loopback address" },
        { "10.0.0.1", "/", "10.0.0.1 is a private (RFC 1918) address" },
        { "169.254.169.254", "/latest/meta-data/", "169.254.169.254 is the cloud metadata address" },
        { "[::1]", "/login", "::1 is a loopback address" },
        { "[::ffff:127.0.0.1]", "/login", "IPv4-mapped form of 127.0.0.1, a loopback address" },
        { "[fd00:ec2::254]", "/", "the cloud metadata address" },
        { "100.64.0.1", "/", "CGNAT" },
        { "localhost", "/login", "localhost resolves to a refused address (127.0.0.1 is a loopback address)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char u[256];
        snprintf(u, sizeof u, "http://%s:%u%s", cases[i].host, tgt.port, cases[i].path);
        preview_error(id, one_route(u, x), 403, "address_not_allowed", "collect.routes[0].url", cases[i].frag);
    }
    /* in pre and post too, before anything is sent */
    preview_error(id, fmt("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"http://93.184.216.34:9/\",\"extract\":%s}],"
                          "\"post\":[{\"url\":\"http://127.0.0.1:%u/logout\"}]}", x, tgt.port),
                  403, "address_not_allowed", "collect.post[0].url", "loopback");
    preview_error(id, fmt("{\"mode\":\"repeat\",\"iterations\":1,\"pre\":[{\"url\":\"http://localhost:%u/login\"}],"
                          "\"routes\":[{\"url\":\"http://93.184.216.34:9/\",\"extract\":%s}]}", tgt.port, x),
                  403, "address_not_allowed", "collect.pre[0].url", "loopback");
    ck_assert_int_eq(target_requests(&tgt), 0);
    /* the allow-list lets a range through, and only it */
    itest_server_stop(&srv, 20000);
    const char *allow[] = { "--collect-allow", "127.0.0.0/30", NULL };
    itest_server_start_healthy(&srv, allow);
    apic_use(srv.port, NULL);
    char u[256];
    snprintf(u, sizeof u, "http://[::ffff:127.0.0.1]:%u/echo", tgt.port);
    struct itest_resp r = apic_expect("POST", fmt("/v1/datasets/%s/preview", id),
                                      fmt("{\"collect\":{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"%s\","
                                          "\"method\":\"POST\",\"body\":\"hello\",\"extract\":{\"b\":{\"regex\":\"(h.*)\"}}}]}}", u),
                                      200);
    ck_assert_str_eq(apic_str(r.json, "rows", "0", "b", NULL), "hello");
    itest_resp_free(&r);
    snprintf(u, sizeof u, "http://127.0.0.4:%u/echo", tgt.port);
    preview_error(id, one_route(u, x), 403, "address_not_allowed", "collect.routes[0].url", "127.0.0.4 is a loopback");
    /* a bad allow-list stops the server at start, naming the setting */
    struct itest_server bad;
    const char *wrong[] = { "--collect-allow", "127.0.0.1/40", NULL };
    int st = 0;
    ck_assert_int_eq(itest_server_start(&bad, NULL, NULL, wrong, &st), -1);
    ck_assert_int_eq(st, 2);
}
END_TEST

/* A definition that reads dataset `id` in order `order`. */
static const char *def_with(const char *id, const char *extra_dataset, const char *path, int vus, int iterations)
{
    static char s[1024];
    snprintf(s, sizeof s,
             "{\"target\":\"http://127.0.0.1:%u\",\"dataset\":{\"id\":\"%s\"%s},"
             "\"steps\":[{\"name\":\"get\",\"path\":\"%s\"}],"
             "\"load\":{\"executor\":\"per-vu-iterations\",\"vus\":%d,\"iterations\":%d,\"max_duration\":\"30s\"}}",
             tgt.port, id, extra_dataset, path, vus, iterations);
    return s;
}

#define SCRIPT_BODY "{\"scenario_id\":\"%s\",\"name\":\"%s\",\"definition\":%s}"

START_TEST(scripts_run_on_a_dataset_by_id)
{
    char pid[64], sid[64], ds[64], other_ds[64], spec_ds[64], scr[64], run1[64], run2[64];
    snprintf(pid, sizeof pid, "%s", apic_project(apic_name("dsrun")));
    snprintf(sid, sizeof sid, "%s", apic_scenario(pid, "s"));
    snprintf(ds, sizeof ds, "%s", dataset(fmt("{\"name\":\"%s\",\"project_id\":\"%s\"}", apic_name("users"), pid)));
    char other[64];
    snprintf(other, sizeof other, "%s", apic_project(apic_name("dsother")));
    snprintf(other_ds, sizeof other_ds, "%s",
             dataset(fmt("{\"name\":\"%s\",\"project_id\":\"%s\"}", apic_name("theirs"), other)));
    /* 20 users in version 1 */
    char csv[1024] = "user,pin\\n";
    for (int i = 1; i <= 20; i++)
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "a%d,%d\\n", i, 1000 + i);
    struct itest_resp r = apic_expect("PUT", fmt("/v1/datasets/%s/rows", ds), fmt("{\"content\":\"%s\"}", csv), 201);
    itest_resp_free(&r);
    /* validation knows the dataset and its columns */
    apic_error("POST", "/v1/scripts", fmt(SCRIPT_BODY, sid, "x", def_with(ds, "", "/u/{{usr}}", 1, 1)), 400, "invalid",
               "definition.steps[0].path");
    apic_error("POST", "/v1/scripts",
               fmt(SCRIPT_BODY, sid, "x", def_with("6f1e2a3b-0000-4000-8000-00000000000a", "", "/", 1, 1)), 400, "invalid",
               "definition.dataset.id");
    apic_error("POST", "/v1/scripts", fmt(SCRIPT_BODY, sid, "x", def_with("users", "", "/", 1, 1)), 400, "invalid",
               "definition.dataset.id");
    apic_error("POST", "/v1/scripts", fmt(SCRIPT_BODY, sid, "x", def_with(other_ds, "", "/", 1, 1)), 400, "invalid",
               "definition.dataset.id");
    apic_error("POST", "/v1/scripts", fmt(SCRIPT_BODY, sid, "x", def_with(ds, ",\"version\":7", "/", 1, 1)), 400, "invalid",
               "definition.dataset.version");
    apic_error("POST", "/v1/scripts", fmt(SCRIPT_BODY, sid, "x", def_with(ds, ",\"file\":\"u.csv\"", "/", 1, 1)), 400,
               "invalid", "definition.dataset");
    /* a dataset with a collect spec and no rows yet: its columns are known */
    snprintf(spec_ds, sizeof spec_ds, "%s", dataset(fmt("{\"name\":\"%s\",\"collect\":%s}", apic_name("later"), repeat_spec(2))));
    char later[64];
    snprintf(later, sizeof later, "%s",
             apic_script(sid, apic_name("later"), def_with(spec_ds, "", "/k/{{key}}", 1, 2)));
    apic_error("POST", "/v1/runs", fmt("{\"script_id\":\"%s\"}", later), 409, "invalid_definition", "definition");
    /* unique rows: 2 VUs x 10 iterations use each user once */
    snprintf(scr, sizeof scr, "%s",
             apic_script(sid, "users", def_with(ds, ",\"order\":\"unique\"", "/u/{{user}}/{{pin}}", 2, 10)));
    target_reset(&tgt);
    snprintf(run1, sizeof run1, "%s", apic_run(fmt("{\"script_id\":\"%s\"}", scr)));
    ck_assert_str_eq(apic_wait_status(run1, "finished|failed|cancelled", 30000), "finished");
    ck_assert_int_eq(target_requests(&tgt), 20);
    ck_assert_int_eq(target_distinct_paths(&tgt), 20);
    ck_assert_int_eq(target_path_count(&tgt, "/u/a7/1007"), 1);
    /* the snapshot pins the version it read */
    r = apic_expect("GET", fmt("/v1/runs/%s", run1), NULL, 200);
    ck_assert_int_eq((int)apic_num(r.json, "scripts", "0", "definition", "dataset", "version", NULL), 1);
    ck_assert_str_eq(apic_str(r.json, "scripts", "0", "definition", "dataset", "id", NULL), ds);
    itest_resp_free(&r);
    ck_assert_int_eq(count_sql(fmt("SELECT dataset_version FROM run_scripts WHERE run_id = '%s'"
                                   " AND dataset_id = '%s'", run1, ds)), 1);
    /* version 2: new runs take it, a restart keeps version 1 */
    r = apic_expect("PUT", fmt("/v1/datasets/%s/rows", ds),
                    "{\"content\":[{\"user\":\"b1\",\"pin\":\"1\"},{\"user\":\"b2\",\"pin\":\"2\"}]}", 201);
    itest_resp_free(&r);
    char scr2[64];
    snprintf(scr2, sizeof scr2, "%s", apic_script(sid, "latest", def_with(ds, "", "/u/{{user}}/{{pin}}", 1, 4)));
    target_reset(&tgt);
    snprintf(run2, sizeof run2, "%s", apic_run(fmt("{\"script_id\":\"%s\"}", scr2)));
    ck_assert_str_eq(apic_wait_status(run2, "finished|failed|cancelled", 30000), "finished");
    ck_assert_int_eq(target_path_count(&tgt, "/u/b1/1"), 2); /* sequential, recycled */
    ck_assert_int_eq(target_path_count(&tgt, "/u/b2/2"), 2);
    target_reset(&tgt);
    r = apic_expect("POST", fmt("/v1/runs/%s/restart", run1), "{}", 201);
    char run3[64];
    snprintf(run3, sizeof run3, "%s", apic_str(r.json, "id", NULL));
    itest_resp_free(&r);
    ck_assert_str_eq(apic_wait_status(run3, "finished|failed|cancelled", 30000), "finished");
    ck_assert_int_eq(target_requests(&tgt), 20);
    ck_assert_int_eq(target_path_count(&tgt, "/u/a20/1020"), 1);
    /* overrides may pin a version */
    target_reset(&tgt);
    char run4[64];
    snprintf(run4, sizeof run4, "%s",
             apic_run(fmt("{\"script_id\":\"%s\",\"overrides\":{\"dataset\":{\"version\":1}}}", scr2)));
    ck_assert_str_eq(apic_wait_status(run4, "finished|failed|cancelled", 30000), "finished");
    ck_assert_int_eq(target_path_count(&tgt, "/u/a1/1001"), 1);
    apic_error("POST", "/v1/runs", fmt("{\"script_id\":\"%s\",\"overrides\":{\"dataset\":{\"version\":5}}}", scr2), 409,
               "invalid_definition", "definition");
    /* a dataset in use is not deleted by accident */
    apic_error("DELETE", fmt("/v1/datasets/%s", ds), NULL, 409, "conflict", "force");
    r = apic_expect("DELETE", fmt("/v1/datasets/%s?force=true", ds), NULL, 204);
    itest_resp_free(&r);
    r = apic_expect("POST", "/v1/runs", fmt("{\"script_id\":\"%s\"}", scr2), 409);
    ck_assert_ptr_nonnull(strstr(apic_str(r.json, "error", "message", NULL), "no dataset with that id"));
    itest_resp_free(&r);
}
END_TEST

static Suite *datasets_suite(void)
{
    Suite *s = suite_create("datasets");
    TCase *t = tcase_create("datasets");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(t, start_default, stop_default);
    tcase_add_test(t, crud_in_two_scopes);
    tcase_add_test(t, uploads_make_versions);
    tcase_add_test(t, collect_repeat_with_pre_and_post);
    tcase_add_test(t, collect_batch);
    tcase_add_test(t, collection_failures_name_the_route);
    tcase_add_test(t, collect_over_https);
    tcase_add_test(t, ssrf_guard_refuses_internal_addresses);
    tcase_add_test(t, scripts_run_on_a_dataset_by_id);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(datasets_suite)
