/* test_collect_spec: a dataset's collect spec — what is accepted (repeat
 * and batch, pre/post, limits), the columns each mode gives, every error
 * with the field it names (script errors renamed to routes/pre/post), and
 * the rows of a batch response. */
#include "check_main.h"
#include "collect_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct collect_spec *ok(const char *text)
{
    struct json_err e = { "", "" };
    yajl_val v = json_parse(text, strlen(text), JSON_MAX_DEPTH, &e);
    ck_assert_msg(v != NULL, "%s: %s", text, e.message);
    struct collect_spec *s = NULL;
    ck_assert_msg(collect_spec_parse(v, "collect", &s, &e) == 0, "%s: [%s] %s", text, e.field, e.message);
    yajl_tree_free(v);
    return s;
}

static void bad(const char *text, const char *field, const char *frag)
{
    struct json_err e = { "", "" };
    yajl_val v = json_parse(text, strlen(text), JSON_MAX_DEPTH, &e);
    ck_assert_msg(v != NULL, "%s: %s", text, e.message);
    struct collect_spec *s = (struct collect_spec *)1;
    ck_assert_msg(collect_spec_parse(v, "collect", &s, &e) == -1, "accepted %s", text);
    ck_assert_ptr_null(s);
    ck_assert_msg(strcmp(e.field, field) == 0, "%s: field \"%s\", expected \"%s\" (%s)", text, e.field, field,
                  e.message);
    ck_assert_msg(strstr(e.message, frag), "%s: \"%s\" lacks \"%s\"", text, e.message, frag);
    yajl_tree_free(v);
}

#define ROUTE(x) "{\"url\":\"http://api.example.com" x "\"}"

START_TEST(repeat_columns_are_the_extracted_names)
{
    struct collect_spec *s = ok(
        "{\"mode\":\"repeat\",\"iterations\":5,"
        " \"pre\":[{\"method\":\"POST\",\"url\":\"https://api.example.com/login\",\"body\":{\"u\":\"a\"},"
        "   \"extract\":{\"token\":{\"jsonpath\":\"$.token\"}}}],"
        " \"routes\":[{\"url\":\"https://api.example.com/users/new?n={{iteration}}\","
        "   \"headers\":{\"Authorization\":\"Bearer {{token}}\"},"
        "   \"extract\":{\"user\":{\"jsonpath\":\"$.name\"},\"id\":{\"jsonpath\":\"$.id\"}}},"
        "  {\"url\":\"https://api.example.com/users/{{id}}/pin\",\"extract\":{\"pin\":{\"regex\":\"pin=(\\\\d+)\"},"
        "   \"user\":{\"header\":\"X-User\"}}}],"
        " \"post\":[{\"method\":\"POST\",\"url\":\"https://api.example.com/logout\"}],"
        " \"limits\":{\"max_rows\":50,\"timeout\":\"30s\",\"max_bytes\":4096}}");
    ck_assert_int_eq(s->mode, COLLECT_REPEAT);
    ck_assert_int_eq(s->iterations, 5);
    ck_assert_int_eq(s->ncols, 3);
    ck_assert_str_eq(s->cols[0], "user");
    ck_assert_str_eq(s->cols[1], "id");
    ck_assert_str_eq(s->cols[2], "pin");
    ck_assert_int_eq(s->sc->nmain, 2);
    ck_assert_int_eq(s->sc->nsetup, 1);
    ck_assert_int_eq(s->sc->nteardown, 1);
    ck_assert_int_eq(s->max_rows, 50);
    ck_assert_uint_eq(s->timeout_us, 30000000u);
    ck_assert_uint_eq(s->max_bytes, 4096);
    char p[64];
    ck_assert_str_eq(collect_step_path(s, 0, p, sizeof p), "collect.routes[0]");
    ck_assert_str_eq(collect_step_path(s, 2, p, sizeof p), "collect.pre[0]");
    ck_assert_str_eq(collect_step_path(s, 3, p, sizeof p), "collect.post[0]");
    ck_assert_str_eq(s->sc->vars.names[s->col_var[2]], "pin");
    collect_spec_free(s);
    /* defaults */
    s = ok("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"http://h/x\",\"extract\":{\"a\":{\"jsonpath\":\"$\"}}}]}");
    ck_assert_int_eq(s->max_rows, COLLECT_DEFAULT_ROWS);
    ck_assert_uint_eq(s->timeout_us, COLLECT_DEFAULT_TIMEOUT_US);
    ck_assert_uint_eq(s->max_bytes, COLLECT_DEFAULT_BYTES);
    collect_spec_free(s);
}
END_TEST

START_TEST(batch_columns_follow_the_spec)
{
    struct collect_spec *s = ok(
        "{\"mode\":\"batch\",\"routes\":[" ROUTE("/items?page={{iteration}}") "],"
        " \"batch\":{\"rows\":\"$.items\",\"columns\":{\"name\":\"$.name\",\"id\":\"$.id\",\"tag\":\"$.tags[0]\"}}}");
    ck_assert_int_eq(s->mode, COLLECT_BATCH);
    ck_assert_int_eq(s->iterations, 1);
    ck_assert_int_eq(s->ncols, 3);
    ck_assert_str_eq(s->cols[0], "name");
    ck_assert_str_eq(s->cols[2], "tag");
    collect_spec_free(s);
}
END_TEST

START_TEST(errors_name_the_field)
{
    bad("[]", "collect", "expected an object");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[],\"x\":1}", "collect.x", "unknown field");
    bad("{\"iterations\":1,\"routes\":[" ROUTE("/") "]}", "collect.mode", "required");
    bad("{\"mode\":\"stream\",\"routes\":[" ROUTE("/") "]}", "collect.mode", "not one of repeat, batch");
    bad("{\"mode\":\"repeat\",\"routes\":[" ROUTE("/") "]}", "collect.iterations", "required");
    bad("{\"mode\":\"repeat\",\"iterations\":0,\"routes\":[" ROUTE("/") "]}", "collect.iterations", "");
    bad("{\"mode\":\"repeat\",\"iterations\":10001,\"routes\":[" ROUTE("/") "]}", "collect.iterations", "");
    bad("{\"mode\":\"repeat\",\"iterations\":1}", "collect.routes", "required");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[]}", "collect.routes", "expected 1 to 16 routes");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":{}}", "collect.routes", "expected an array");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[1]}", "collect.routes[0]", "expected a route object");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"path\":\"/x\"}]}", "collect.routes[0].path",
        "unknown field");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"method\":\"GET\"}]}", "collect.routes[0].url",
        "required: an absolute http(s) URL");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"/relative\"}]}", "collect.routes[0].url",
        "expected an absolute URL");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"ftp://h/x\"}]}", "collect.routes[0].url",
        "unsupported scheme");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"http://h/x\",\"method\":\"BREW\"}]}",
        "collect.routes[0].method", "");
    /* templates and extraction, through the script parser, renamed */
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"pre\":[{\"url\":\"http://h/login\",\"extract\":{\"token\":{\"jsonpath\":\"$.token\"}}}],"
        "\"routes\":[{\"url\":\"http://h/x\",\"headers\":{\"Authorization\":\"Bearer {{tokn}}\"},"
        "\"extract\":{\"a\":{\"jsonpath\":\"$.a\"}}}]}",
        "collect.routes[0].headers.Authorization", "unknown variable \"tokn\" (did you mean \"token\"?)");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[" ROUTE("/") "],"
        "\"post\":[{\"url\":\"http://h/{{random_int:5:1}}\"}]}", "collect.post[0].url", "random_int");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"http://h/x\",\"extract\":{\"a\":{\"jsonpath\":\"token\"}}}]}",
        "collect.routes[0].extract.a.jsonpath", "starts with $");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[{\"url\":\"http://h/x\",\"extract\":{\"a\":{\"regex\":\"(a)(b)\"}}}]}",
        "collect.routes[0].extract.a.regex", "exactly one capture group");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[" ROUTE("/") "],\"user_agent\":\"\"}",
        "collect.user_agent", "must not be empty");
    /* repeat needs something to extract; batch needs its section */
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[" ROUTE("/") "]}", "collect.routes", "no route extracts anything");
    bad("{\"mode\":\"repeat\",\"iterations\":1,\"routes\":[" ROUTE("/") "],\"batch\":{}}", "collect.batch", "only for mode batch");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "]}", "collect.batch", "required in mode batch");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"columns\":{\"a\":\"$.a\"}}}", "collect.batch.rows",
        "required");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"items\",\"columns\":{\"a\":\"$.a\"}}}",
        "collect.batch.rows", "starts with $");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$.items\"}}", "collect.batch.columns",
        "required");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$.items\",\"columns\":{}}}",
        "collect.batch.columns", "expected 1 to 256 columns");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"a b\":\"$.a\"}}}",
        "collect.batch.columns.a b", "cannot name a column");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"uuid\":\"$.a\"}}}",
        "collect.batch.columns.uuid", "builtin");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"a\":1}}}",
        "collect.batch.columns.a", "expected a JSONPath string");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"a\":\"$[\"}}}",
        "collect.batch.columns.a", "");
    /* limits */
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"a\":\"$\"}},"
        "\"limits\":{\"max_rows\":0}}", "collect.limits.max_rows", "");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"a\":\"$\"}},"
        "\"limits\":{\"timeout\":\"11m\"}}", "collect.limits.timeout", "at most 10m");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"a\":\"$\"}},"
        "\"limits\":{\"timeout\":30}}", "collect.limits.timeout", "");
    bad("{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"$\",\"columns\":{\"a\":\"$\"}},"
        "\"limits\":{\"rows\":3}}", "collect.limits.rows", "unknown field");
}
END_TEST

static struct collect_spec *batch(const char *rows, const char *cols)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"mode\":\"batch\",\"routes\":[" ROUTE("/") "],\"batch\":{\"rows\":\"%s\",\"columns\":%s}}",
             rows, cols);
    return ok(text);
}

static char *run_batch(const struct collect_spec *s, const char *body, long room, long *added, char *err,
                       size_t errlen)
{
    struct ds_rows r;
    ds_rows_begin(&r, s->cols, s->ncols);
    *added = collect_batch_rows(s, body, strlen(body), &r, room, err, errlen);
    return ds_rows_finish(&r, NULL);
}

START_TEST(batch_rows_from_a_body)
{
    struct collect_spec *s = batch("$.data.items", "{\"id\":\"$.id\",\"name\":\"$.profile.name\",\"tag\":\"$.tags[1]\","
                                                    "\"vip\":\"$.vip\",\"none\":\"$.missing\"}");
    char err[256] = "";
    long n;
    char *rows = run_batch(s,
        "{\"data\":{\"total\":2,\"items\":[{\"id\":1,\"profile\":{\"name\":\"ann\"},\"tags\":[\"a\",\"b\"],\"vip\":true},"
        "{\"id\":\"x\\\"y\",\"profile\":{\"name\":null},\"vip\":false}]}}", 10, &n, err, sizeof err);
    ck_assert_msg(n == 2, "%ld: %s", n, err);
    ck_assert_str_eq(rows, "[{\"id\":\"1\",\"name\":\"ann\",\"tag\":\"b\",\"vip\":\"true\",\"none\":\"\"},"
                           "{\"id\":\"x\\\"y\",\"name\":\"\",\"tag\":\"\",\"vip\":\"false\",\"none\":\"\"}]");
    free(rows);
    /* an empty page */
    rows = run_batch(s, "{\"data\":{\"items\":[]}}", 10, &n, err, sizeof err);
    ck_assert_int_eq(n, 0);
    free(rows);
    /* failures */
    rows = run_batch(s, "not json", 10, &n, err, sizeof err);
    ck_assert_int_eq(n, -1);
    ck_assert_ptr_nonnull(strstr(err, "not JSON"));
    free(rows);
    rows = run_batch(s, "{\"data\":{}}", 10, &n, err, sizeof err);
    ck_assert_int_eq(n, -1);
    ck_assert_ptr_nonnull(strstr(err, "nothing matches"));
    free(rows);
    rows = run_batch(s, "{\"data\":{\"items\":{\"id\":1}}}", 10, &n, err, sizeof err);
    ck_assert_int_eq(n, -1);
    ck_assert_ptr_nonnull(strstr(err, "an object there, not an array"));
    free(rows);
    rows = run_batch(s, "{\"data\":{\"items\":[{\"id\":{\"a\":1}}]}}", 10, &n, err, sizeof err);
    ck_assert_int_eq(n, -1);
    ck_assert_ptr_nonnull(strstr(err, "batch.columns.id: element 0 has an object there"));
    free(rows);
    rows = run_batch(s, "{\"data\":{\"items\":[{},{},{}]}}", 2, &n, err, sizeof err);
    ck_assert_int_eq(n, -1);
    ck_assert_ptr_nonnull(strstr(err, "more than limits.max_rows"));
    free(rows);
    collect_spec_free(s);

    /* the whole body is the array; [*] and .. find the first in document order */
    s = batch("$", "{\"v\":\"$\",\"deep\":\"$..k\",\"any\":\"$[*].x\"}");
    rows = run_batch(s, "[1, \"two\", {\"a\":{\"k\":\"in\"},\"k\":\"out\"}, [{\"y\":1},{\"x\":\"second\"}]]", 10, &n,
                     err, sizeof err);
    ck_assert_int_eq(n, -1); /* element 2's v is an object */
    free(rows);
    collect_spec_free(s);
    s = batch("$", "{\"deep\":\"$..k\",\"any\":\"$[*].x\"}");
    rows = run_batch(s, "[{\"a\":{\"k\":\"in\"},\"k\":\"out\"}, [{\"y\":1},{\"x\":\"second\"}], 3]", 10, &n, err,
                     sizeof err);
    ck_assert_msg(n == 3, "%s", err);
    ck_assert_str_eq(rows, "[{\"deep\":\"in\",\"any\":\"\"},{\"deep\":\"\",\"any\":\"second\"},{\"deep\":\"\",\"any\":\"\"}]");
    free(rows);
    collect_spec_free(s);
}
END_TEST

START_TEST(rows_in_stored_form_read_back)
{
    char *cols[] = { "user", "note" };
    struct ds_rows r;
    ds_rows_begin(&r, cols, 2);
    struct tmpl_val row[2] = { { "ann", 3 }, { "a, \"b\"\n", 8 } };
    ds_rows_add(&r, row);
    row[0] = (struct tmpl_val){ NULL, 0 };
    ds_rows_add(&r, row);
    size_t len;
    char *text = ds_rows_finish(&r, &len);
    struct dataset *d = NULL;
    char err[200];
    ck_assert_msg(dataset_parse_json(text, len, &d, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(d->nrows, 2);
    ck_assert_str_eq(d->cols[0], "user");
    ck_assert_str_eq(d->cells[1].p, "a, \"b\"\n");
    ck_assert_str_eq(d->cells[2].p, "");
    char *again = ds_rows_of(d, NULL);
    ck_assert_str_eq(again, text);
    free(again);
    char *cj = ds_cols_json(d->cols, d->ncols);
    ck_assert_str_eq(cj, "[\"user\",\"note\"]");
    free(cj);
    dataset_free(d);
    free(text);
    d = ds_columns_only(cols, 2);
    ck_assert_int_eq(d->ncols, 2);
    ck_assert_int_eq(d->nrows, 0);
    dataset_free(d);
}
END_TEST

static Suite *collect_spec_suite(void)
{
    Suite *s = suite_create("collect_spec");
    TCase *t = tcase_create("spec");
    tcase_add_test(t, repeat_columns_are_the_extracted_names);
    tcase_add_test(t, batch_columns_follow_the_spec);
    tcase_add_test(t, errors_name_the_field);
    tcase_add_test(t, batch_rows_from_a_body);
    tcase_add_test(t, rows_in_stored_form_read_back);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(collect_spec_suite)
