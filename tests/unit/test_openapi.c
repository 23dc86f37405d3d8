/* test_openapi: docs/openapi.json (compiled in) against the router — every
 * route the server registers is documented with each of its methods, and
 * nothing is documented that the server does not serve. */
#include "api.h"
#include "check_main.h"
#include "json.h"
#include "openapi.h"
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    unsigned bit;
    const char *name;
} METHODS[] = { { HTTP_GET, "get" },     { HTTP_HEAD, "head" },     { HTTP_POST, "post" },
                { HTTP_PUT, "put" },     { HTTP_DELETE, "delete" }, { HTTP_PATCH, "patch" } };
#define NMETHODS (sizeof METHODS / sizeof METHODS[0])

/* "/v1/runs/:id/scripts/:script_id/stop" -> "/v1/runs/{id}/scripts/{script_id}/stop" */
static void to_openapi(const char *pattern, char *out, size_t len)
{
    size_t k = 0;
    for (const char *p = pattern; *p && k + 2 < len; p++) {
        if (*p == ':') {
            out[k++] = '{';
            while (p[1] && p[1] != '/' && k + 2 < len)
                out[k++] = *++p;
            out[k++] = '}';
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

static yajl_val load_doc(void)
{
    struct json_err e;
    yajl_val doc = json_parse(stampede_openapi_json, strlen(stampede_openapi_json), 64, &e);
    ck_assert_msg(doc != NULL, "docs/openapi.json does not parse: %s", e.message);
    return doc;
}

START_TEST(every_route_is_documented)
{
    yajl_val doc = load_doc();
    yajl_val paths = json_get(doc, "paths");
    ck_assert(YAJL_IS_OBJECT(paths));
    struct router *r = router_new();
    api_register_all(r);
    ck_assert_uint_gt(router_count(r), 30);
    for (size_t i = 0; i < router_count(r); i++) {
        const struct route *rt = router_route(r, i);
        char path[256];
        to_openapi(rt->pattern, path, sizeof path);
        yajl_val item = json_get(paths, path);
        ck_assert_msg(YAJL_IS_OBJECT(item), "%s is not in docs/openapi.json", path);
        for (size_t m = 0; m < NMETHODS; m++) {
            if (!(rt->methods & METHODS[m].bit))
                continue;
            yajl_val op = json_get(item, METHODS[m].name);
            ck_assert_msg(YAJL_IS_OBJECT(op), "%s %s is not documented", METHODS[m].name, path);
            ck_assert_msg(YAJL_IS_OBJECT(json_get(op, "responses")), "%s %s has no responses",
                          METHODS[m].name, path);
            ck_assert_msg(YAJL_IS_STRING(json_get(op, "operationId")), "%s %s has no operationId",
                          METHODS[m].name, path);
        }
    }
    router_free(r);
    yajl_tree_free(doc);
}
END_TEST

START_TEST(nothing_documented_is_missing_from_the_router)
{
    yajl_val doc = load_doc();
    yajl_val paths = json_get(doc, "paths");
    struct router *r = router_new();
    api_register_all(r);
    for (size_t i = 0; i < paths->u.object.len; i++) {
        const char *path = paths->u.object.keys[i];
        yajl_val item = paths->u.object.values[i];
        unsigned documented = 0, served = 0;
        for (size_t m = 0; m < NMETHODS; m++)
            if (json_get(item, METHODS[m].name))
                documented |= METHODS[m].bit;
        for (size_t k = 0; k < router_count(r); k++) {
            char p[256];
            to_openapi(router_route(r, k)->pattern, p, sizeof p);
            if (strcmp(p, path) == 0)
                served |= router_route(r, k)->methods;
        }
        ck_assert_msg(served, "docs/openapi.json documents %s, which the server does not serve", path);
        ck_assert_msg(documented == served, "%s: documented methods %#x, served %#x", path, documented, served);
    }
    router_free(r);
    yajl_tree_free(doc);
}
END_TEST

START_TEST(operation_ids_are_unique_and_refs_resolve)
{
    yajl_val doc = load_doc();
    yajl_val paths = json_get(doc, "paths"), schemas = yajl_tree_get(doc, (const char *[]){ "components", "schemas", NULL }, yajl_t_object);
    ck_assert_ptr_nonnull(schemas);
    char seen[128][64];
    int n = 0;
    for (size_t i = 0; i < paths->u.object.len; i++) {
        yajl_val item = paths->u.object.values[i];
        for (size_t m = 0; m < item->u.object.len; m++) {
            const char *id = YAJL_GET_STRING(json_get(item->u.object.values[m], "operationId"));
            ck_assert_ptr_nonnull(id);
            for (int k = 0; k < n; k++)
                ck_assert_msg(strcmp(seen[k], id) != 0, "operationId %s is used twice", id);
            ck_assert_int_lt(n, 128);
            snprintf(seen[n++], sizeof seen[0], "%s", id);
        }
    }
    /* every "$ref" points at a schema or response that exists */
    const char *p = stampede_openapi_json;
    while ((p = strstr(p, "\"$ref\""))) {
        const char *q = strstr(p, "#/components/");
        ck_assert_ptr_nonnull(q);
        q += strlen("#/components/");
        const char *slash = strchr(q, '/'), *end = strchr(q, '"');
        char kind[32], name[64];
        snprintf(kind, sizeof kind, "%.*s", (int)(slash - q), q);
        snprintf(name, sizeof name, "%.*s", (int)(end - slash - 1), slash + 1);
        const char *path[] = { "components", kind, name, NULL };
        ck_assert_msg(yajl_tree_get(doc, path, yajl_t_object) != NULL, "$ref to a missing %s/%s", kind, name);
        p = end;
    }
    yajl_tree_free(doc);
}
END_TEST

static Suite *openapi_suite(void)
{
    Suite *s = suite_create("openapi");
    TCase *t = tcase_create("doc");
    tcase_add_test(t, every_route_is_documented);
    tcase_add_test(t, nothing_documented_is_missing_from_the_router);
    tcase_add_test(t, operation_ids_are_unique_and_refs_resolve);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(openapi_suite)
