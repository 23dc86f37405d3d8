/* test_extract: the JSONPath subset on streamed bodies (missing paths,
 * arrays, escaped names, first match, huge bodies, not JSON), regexes on
 * bodies and headers, and extractors refused with their field. */
#include "check_main.h"
#include "extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int find(const char *path, const char *body, char *out, size_t outlen)
{
    struct jsonpath p;
    char err[200];
    ck_assert_msg(jsonpath_compile(path, &p, err, sizeof err) == 0, "%s: %s", path, err);
    struct sbuf b = { 0 };
    int rc = jsonpath_find(&p, body, strlen(body), &b);
    snprintf(out, outlen, "%s", b.s ? b.s : "");
    sbuf_deinit(&b);
    jsonpath_free(&p);
    return rc;
}

static void expect(const char *path, const char *body, const char *want)
{
    char got[256];
    int rc = find(path, body, got, sizeof got);
    ck_assert_msg(rc == JSONPATH_FOUND, "%s on %s: rc %d", path, body, rc);
    ck_assert_msg(strcmp(got, want) == 0, "%s on %s: got \"%s\", want \"%s\"", path, body, got, want);
}

static void expect_rc(const char *path, const char *body, int want)
{
    char got[256];
    int rc = find(path, body, got, sizeof got);
    ck_assert_msg(rc == want, "%s on %s: rc %d, want %d (\"%s\")", path, body, rc, want, got);
}

static const char DOC[] = "{\"token\":\"abc\",\"n\":12.50,\"ok\":true,\"none\":null,"
                          "\"items\":[{\"id\":7,\"tags\":[\"x\",\"y\"]},{\"id\":8,\"name\":\"b\\\"q\\\"\"}],"
                          "\"odd key\":{\"a.b\":\"dotted\",\"it's\":\"quoted\"},"
                          "\"deep\":{\"x\":{\"y\":{\"name\":\"found-deep\"}}},\"name\":\"top\"}";

START_TEST(jsonpath_subset)
{
    expect("$.token", DOC, "abc");
    expect("$.n", DOC, "12.50"); /* numbers as written */
    expect("$.ok", DOC, "true");
    expect("$.none", DOC, "null");
    expect("$.items[0].id", DOC, "7");
    expect("$.items[1].id", DOC, "8");
    expect("$['items'][1]['name']", DOC, "b\"q\"");
    expect("$.items[0].tags[1]", DOC, "y");
    expect("$.items[*].id", DOC, "7");         /* the first match */
    expect("$.items[*].name", DOC, "b\"q\""); /* the first element that has one */
    expect("$['odd key']['a.b']", DOC, "dotted");
    expect("$['odd key']['it\\'s']", DOC, "quoted");
    expect("$..name", DOC, "b\"q\"");          /* document order: items[1].name comes first */
    expect("$.deep..name", DOC, "found-deep");
    expect("$..tags[0]", DOC, "x");
    expect("$", "\"just a string\"", "just a string");
    expect("$[2]", "[1,2,3]", "3");
    expect_rc("$.missing", DOC, JSONPATH_MISSING);
    expect_rc("$.items[5].id", DOC, JSONPATH_MISSING);
    expect_rc("$.token.deeper", DOC, JSONPATH_MISSING);
    expect_rc("$.items", DOC, JSONPATH_NOT_SCALAR);
    expect_rc("$.token", "<html>not json</html>", JSONPATH_NOT_JSON);
    expect_rc("$.token", "", JSONPATH_NOT_JSON);
    expect_rc("$.b", "{\"a\":1,", JSONPATH_NOT_JSON);
    /* found before the body goes bad: the rest is never read */
    expect("$.a", "{\"a\":\"first\", garbage", "first");
}
END_TEST

START_TEST(jsonpath_reads_only_what_it_needs)
{
    /* 16 MiB of array after the value: found at once */
    size_t big = 16u << 20;
    char *body = malloc(big + 64);
    int n = sprintf(body, "{\"token\":\"t0k\",\"pad\":[");
    for (size_t i = (size_t)n; i < big; i += 2)
        memcpy(body + i, "1,", 2);
    strcpy(body + big, "1]}");
    struct jsonpath p;
    char err[100];
    ck_assert_int_eq(jsonpath_compile("$.token", &p, err, sizeof err), 0);
    struct sbuf b = { 0 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++) {
        sbuf_reset(&b);
        ck_assert_int_eq(jsonpath_find(&p, body, big + 3, &b), JSONPATH_FOUND);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert_str_eq(b.s, "t0k");
    /* a full parse of 16 MiB takes tens of ms; 1000 early stops take far less */
    ck_assert_msg(ms < 1000, "1000 early matches took %.1f ms", ms);
    /* and one at the end is still found */
    jsonpath_free(&p);
    ck_assert_int_eq(jsonpath_compile("$.pad[3]", &p, err, sizeof err), 0);
    sbuf_reset(&b);
    ck_assert_int_eq(jsonpath_find(&p, body, big + 3, &b), JSONPATH_FOUND);
    ck_assert_str_eq(b.s, "1");
    sbuf_deinit(&b);
    jsonpath_free(&p);
    free(body);
}
END_TEST

START_TEST(jsonpath_bad_expressions)
{
    static const struct {
        const char *expr, *frag;
    } bad[] = {
        { "", "starts with $" },  { "token", "starts with $" },    { "$.", "expected a name" },
        { "$..", "expected a name" }, { "$[", "expected [n]" },       { "$[-1]", "expected [n]" },
        { "$[1:2]", "whole number" }, { "$[?(@.a)]", "no filters" }, { "$['a'", "unclosed" },
        { "$x", "expected . or [" }, { "$[*", "expected ]" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jsonpath p;
        char err[200] = "";
        ck_assert_msg(jsonpath_compile(bad[i].expr, &p, err, sizeof err) == -1, "accepted %s", bad[i].expr);
        ck_assert_msg(strstr(err, bad[i].frag), "%s: \"%s\" lacks \"%s\"", bad[i].expr, err, bad[i].frag);
        ck_assert_int_eq(p.n, 0);
    }
}
END_TEST

static struct extractor *compile(const char *json)
{
    struct json_err e = { "", "" };
    yajl_val v = json_parse(json, strlen(json), 8, &e);
    ck_assert_ptr_nonnull(v);
    struct extractor *x = malloc(sizeof *x);
    ck_assert_msg(extract_compile(x, v, "steps[0].extract.v", &e) == 0, "%s: %s", json, e.message);
    yajl_tree_free(v);
    return x;
}

static void compile_bad(const char *json, const char *field, const char *frag)
{
    struct json_err e = { "", "" };
    yajl_val v = json_parse(json, strlen(json), 8, &e);
    ck_assert_ptr_nonnull(v);
    struct extractor x;
    ck_assert_int_eq(extract_compile(&x, v, "steps[0].extract.v", &e), -1);
    extract_free(&x);
    ck_assert_msg(strcmp(e.field, field) == 0, "%s: field %s, want %s", json, e.field, field);
    ck_assert_msg(strstr(e.message, frag), "%s: \"%s\" lacks \"%s\"", json, e.message, frag);
    yajl_tree_free(v);
}

START_TEST(regex_and_headers)
{
    static const char headers[] = "Content-Type: application/json\n"
                                  "Set-Cookie: theme=dark; Path=/\n"
                                  "set-cookie: sid=S3SS10N; HttpOnly\n"
                                  "X-Token: tok-123\n"
                                  "X-Empty:\n";
    static const char body[] = "<a href=\"/item?id=4711&x=1\">item</a>";
    struct extract_response r = { body, strlen(body), headers, strlen(headers) };
    struct sbuf out = { 0 };
    pcre2_match_data *md = extract_match_data();
    struct extractor *x = compile("{\"header\": \"Set-Cookie\", \"regex\": \"sid=([^;]+)\"}");
    ck_assert_int_eq(extract_run(x, &r, md, &out), 0);
    ck_assert_str_eq(out.s, "S3SS10N");
    extract_free(x);
    free(x);
    sbuf_reset(&out);
    x = compile("{\"header\": \"x-token\"}");
    ck_assert_int_eq(extract_run(x, &r, md, &out), 0);
    ck_assert_str_eq(out.s, "tok-123");
    extract_free(x);
    free(x);
    sbuf_reset(&out);
    x = compile("{\"header\": \"X-Empty\"}");
    ck_assert_int_eq(extract_run(x, &r, md, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    extract_free(x);
    free(x);
    sbuf_reset(&out);
    x = compile("{\"regex\": \"id=([0-9]+)\"}");
    ck_assert_int_eq(extract_run(x, &r, md, &out), 0);
    ck_assert_str_eq(out.s, "4711");
    extract_free(x);
    free(x);
    sbuf_reset(&out);
    x = compile("{\"header\": \"X-Missing\"}");
    ck_assert_int_eq(extract_run(x, &r, md, &out), -1);
    extract_free(x);
    free(x);
    x = compile("{\"regex\": \"nomatch=([0-9]+)\"}");
    ck_assert_int_eq(extract_run(x, &r, md, &out), -1);
    extract_free(x);
    free(x);
    x = compile("{\"jsonpath\": \"$.id\"}");
    ck_assert_int_eq(extract_run(x, &r, md, &out), -1); /* the body is HTML */
    extract_free(x);
    free(x);
    sbuf_deinit(&out);
    pcre2_match_data_free(md);
    compile_bad("\"$.a\"", "steps[0].extract.v", "expected an object");
    compile_bad("{}", "steps[0].extract.v", "give jsonpath, regex or header");
    compile_bad("{\"jsonpath\": \"$.a\", \"regex\": \"(a)\"}", "steps[0].extract.v", "jsonpath alone");
    compile_bad("{\"jsonpath\": \"a.b\"}", "steps[0].extract.v.jsonpath", "starts with $");
    compile_bad("{\"regex\": \"a(b\"}", "steps[0].extract.v.regex", "not a valid regex at character");
    compile_bad("{\"regex\": \"ab\"}", "steps[0].extract.v.regex", "exactly one capture group");
    compile_bad("{\"regex\": \"(a)(b)\"}", "steps[0].extract.v.regex", "it has 2");
    compile_bad("{\"header\": \"\"}", "steps[0].extract.v.header", "must not be empty");
    compile_bad("{\"xpath\": \"//a\"}", "steps[0].extract.v.xpath", "unknown field");
}
END_TEST

static Suite *extract_suite(void)
{
    Suite *s = suite_create("extract");
    TCase *t = tcase_create("extract");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, jsonpath_subset);
    tcase_add_test(t, jsonpath_reads_only_what_it_needs);
    tcase_add_test(t, jsonpath_bad_expressions);
    tcase_add_test(t, regex_and_headers);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(extract_suite)
