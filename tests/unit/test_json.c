/* test_json: what the guarded parser rejects, field paths in errors, and
 * number formatting. */
#include "check_main.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

static void expect_reject(const char *doc, size_t len, const char *needle)
{
    struct json_err e = { "", "" };
    yajl_val v = json_parse(doc, len, JSON_MAX_DEPTH, &e);
    ck_assert_msg(v == NULL, "accepted: %.*s", (int)(len > 60 ? 60 : len), doc);
    ck_assert_msg(strstr(e.message, needle) != NULL, "message '%s' lacks '%s'", e.message, needle);
}

START_TEST(rejects_bad_documents)
{
    expect_reject("", 0, "empty body");
    expect_reject("{\"a\":", 5, "invalid JSON");
    expect_reject("{\"a\":1} x", 9, "invalid JSON");
    expect_reject("{\"a\":1,\"a\":2}", 13, "duplicate key 'a'");
    expect_reject("{\"o\":{\"k\":1,\"k\":1}}", 19, "duplicate key 'k'");
    expect_reject("{\"a\":\"x\\u0000y\"}", 16, "\\u0000");
    expect_reject("{\"a\\u0000\":1}", 13, "\\u0000");
    expect_reject("{\"a\":1}\0", 8, "NUL byte");
    expect_reject("[\"\xff\xfe\"]", 6, "invalid JSON"); /* bad UTF-8 */
}
END_TEST

START_TEST(depth_is_limited_before_building_a_tree)
{
    /* 300,000 levels crash yajl's tree parser; we must refuse early. */
    size_t n = 300000;
    char *doc = malloc(2 * n);
    memset(doc, '[', n);
    memset(doc + n, ']', n);
    expect_reject(doc, 2 * n, "nested too deeply");
    free(doc);
    /* exactly the limit is fine */
    char ok[2 * JSON_MAX_DEPTH];
    memset(ok, '[', JSON_MAX_DEPTH);
    memset(ok + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
    struct json_err e;
    yajl_val v = json_parse(ok, sizeof ok, JSON_MAX_DEPTH, &e);
    ck_assert_ptr_nonnull(v);
    yajl_tree_free(v);
}
END_TEST

START_TEST(typed_getters_name_the_field)
{
    const char *doc = "{\"name\":5,\"n\":1.5,\"big\":99999999999999999999,\"ok\":\"yes\","
                      "\"flag\":true,\"i\":7}";
    struct json_err e = { "", "" };
    yajl_val v = json_parse(doc, strlen(doc), JSON_MAX_DEPTH, &e);
    ck_assert_ptr_nonnull(v);
    const char *s;
    int64_t i;
    double d;
    int b;
    ck_assert_int_eq(json_get_string(v, "load", "name", 1, &s, &e), -1);
    ck_assert_str_eq(e.field, "load.name");
    ck_assert_ptr_nonnull(strstr(e.message, "expected a string, got an integer"));
    ck_assert_int_eq(json_get_int(v, "", "n", 1, 0, 10, &i, &e), -1);
    ck_assert_str_eq(e.field, "n");
    ck_assert_int_eq(json_get_int(v, "", "big", 1, 0, 10, &i, &e), -1); /* past int64: a double */
    ck_assert_int_eq(json_get_int(v, "", "i", 1, 0, 5, &i, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.message, "between 0 and 5"));
    ck_assert_int_eq(json_get_int(v, "", "i", 1, 0, 10, &i, &e), 0);
    ck_assert_int_eq(i, 7);
    ck_assert_int_eq(json_get_number(v, "", "n", 1, 0, 10, &d, &e), 0);
    ck_assert_double_eq(d, 1.5);
    ck_assert_int_eq(json_get_bool(v, "", "flag", 1, &b, &e), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(json_get_string(v, "", "missing", 0, &s, &e), 1);
    ck_assert_int_eq(json_get_string(v, "x.y[2]", "missing", 1, &s, &e), -1);
    ck_assert_str_eq(e.field, "x.y[2].missing");
    ck_assert_ptr_nonnull(strstr(e.message, "is required"));
    static const char *const allowed[] = { "name", "n", "big", "ok", "flag", NULL };
    ck_assert_int_eq(json_check_keys(v, "", allowed, &e), -1);
    ck_assert_str_eq(e.field, "i");
    yajl_tree_free(v);
}
END_TEST

START_TEST(numbers_are_formatted_by_us)
{
    yajl_gen g = json_gen_new();
    yajl_gen_array_open(g);
    json_gen_double(g, 1.2345, 3);
    json_gen_double(g, 2.0, 3);
    json_gen_double(g, 0.1 + 0.2, 6);
    json_gen_double(g, -0.0001, 2);
    json_gen_double(g, 1.0 / 0.0, 3);
    yajl_gen_array_close(g);
    char *s = json_gen_finish(g, NULL);
    ck_assert_str_eq(s, "[1.234,2,0.3,0,null]");
    free(s);
}
END_TEST

/* Found by contrib/fuzz (fuzz_json): "%.*f" of 1e300 is 301 digits, and
 * json_gen_double handed all of them to yajl from a 64-byte buffer. */
START_TEST(huge_numbers_are_formatted_without_overflow)
{
    yajl_gen g = json_gen_new();
    yajl_gen_array_open(g);
    json_gen_double(g, 1e300, 0);
    json_gen_double(g, -1e300, 3);
    json_gen_double(g, 1.5, 100);
    yajl_gen_array_close(g);
    size_t n = 0;
    char *s = json_gen_finish(g, &n);
    ck_assert_str_eq(s, "[1.0000000000000001e+300,-1.0000000000000001e+300,1.5]");
    struct json_err e;
    yajl_val v = json_parse(s, n, 4, &e);
    ck_assert_ptr_nonnull(v);
    ck_assert_double_eq(YAJL_GET_DOUBLE(v->u.array.values[0]), 1e300);
    yajl_tree_free(v);
    free(s);
}
END_TEST

START_TEST(error_body_shape)
{
    size_t len;
    char *s = json_error_body("invalid", "name: expected a \"string\"", "name", &len);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"invalid\",\"message\":\"name: expected a \\\"string\\\"\","
                        "\"field\":\"name\"}}");
    ck_assert_uint_eq(len, strlen(s));
    free(s);
    s = json_error_body("not_found", "no route", NULL, NULL);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"not_found\",\"message\":\"no route\",\"field\":null}}");
    free(s);
}
END_TEST

/* Apply patch to base as a merge patch and return the text. */
static char *merged(const char *base, const char *patch)
{
    struct json_err e;
    yajl_val b = json_parse(base, strlen(base), JSON_MAX_DEPTH, &e);
    yajl_val p = json_parse(patch, strlen(patch), JSON_MAX_DEPTH, &e);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(p);
    yajl_gen g = json_gen_new();
    json_gen_merged(g, b, p);
    yajl_tree_free(b);
    yajl_tree_free(p);
    return json_gen_finish(g, NULL);
}

START_TEST(merge_patch_follows_rfc7386)
{
    static const struct {
        const char *base, *patch, *want;
    } cases[] = {
        { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
        { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
        { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
        { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
        { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
        { "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
        { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
        /* numbers keep the text they were written with */
        { "{\"load\":{\"rate\":1.50,\"vus\":10}}", "{\"load\":{\"vus\":2e1}}",
          "{\"load\":{\"rate\":1.50,\"vus\":2e1}}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = merged(cases[i].base, cases[i].patch);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: %s, want %s", i, got, cases[i].want);
        free(got);
    }
}
END_TEST

START_TEST(quote_escapes)
{
    char *q = json_quote("a\"b\\c\n");
    ck_assert_str_eq(q, "\"a\\\"b\\\\c\\n\"");
    free(q);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rejects_bad_documents);
    tcase_add_test(tc, depth_is_limited_before_building_a_tree);
    tcase_add_test(tc, typed_getters_name_the_field);
    tcase_add_test(tc, numbers_are_formatted_by_us);
    tcase_add_test(tc, huge_numbers_are_formatted_without_overflow);
    tcase_add_test(tc, error_body_shape);
    tcase_add_test(tc, merge_patch_follows_rfc7386);
    tcase_add_test(tc, quote_escapes);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(json_suite)
