/* test_router: matching, parameters, 404 versus 405. */
#include "check_main.h"
#include "router.h"

static int h1, h2, h3;

START_TEST(matches_and_extracts)
{
    struct router *r = router_new();
    router_add(r, 1u << 0, "/v1/projects", &h1, 0);
    router_add(r, 1u << 2, "/v1/projects", &h2, 7);
    router_add(r, (1u << 0) | (1u << 4), "/v1/projects/:id", &h3, 0);
    struct route_match m;
    ck_assert_int_eq(router_match(r, 0, "/v1/projects", &m), ROUTER_OK);
    ck_assert_ptr_eq(m.route->handler, &h1);
    ck_assert_int_eq(router_match(r, 2, "/v1/projects/", &m), ROUTER_OK);
    ck_assert_ptr_eq(m.route->handler, &h2);
    ck_assert_uint_eq(m.route->flags, 7);
    ck_assert_int_eq(router_match(r, 4, "/v1/projects/abc", &m), ROUTER_OK);
    ck_assert_ptr_eq(m.route->handler, &h3);
    ck_assert_str_eq(route_param(&m, "id"), "abc");
    ck_assert_ptr_null(route_param(&m, "nope"));
    ck_assert_int_eq(router_match(r, 3, "/v1/projects/abc", &m), ROUTER_METHOD);
    ck_assert_uint_eq(m.allowed, (1u << 0) | (1u << 4));
    ck_assert_int_eq(router_match(r, 3, "/v1/projects", &m), ROUTER_METHOD);
    ck_assert_uint_eq(m.allowed, (1u << 0) | (1u << 2));
    ck_assert_int_eq(router_match(r, 0, "/v1/projects/abc/x", &m), ROUTER_NOT_FOUND);
    ck_assert_int_eq(router_match(r, 0, "/v1", &m), ROUTER_NOT_FOUND);
    ck_assert_int_eq(router_match(r, 0, "v1/projects", &m), ROUTER_NOT_FOUND);
    ck_assert_int_eq(router_match(r, 0, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n", &m), ROUTER_NOT_FOUND);
    ck_assert_ptr_nonnull(router_route(r, 2));
    ck_assert_ptr_null(router_route(r, 3));
    router_free(r);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, matches_and_extracts);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(router_suite)
