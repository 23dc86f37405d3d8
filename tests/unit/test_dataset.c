/* test_dataset: CSV (RFC 4180 quoting, line endings, errors with their
 * line) and JSON rows. */
#include "check_main.h"
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct dataset *ok(const char *text)
{
    struct dataset *d = NULL;
    char err[200] = "";
    ck_assert_msg(dataset_parse(text, strlen(text), &d, err, sizeof err) == 0, "%s: %s", text, err);
    return d;
}

static void bad(const char *text, const char *frag)
{
    struct dataset *d = (struct dataset *)1;
    char err[200] = "";
    ck_assert_msg(dataset_parse(text, strlen(text), &d, err, sizeof err) == -1, "accepted %s", text);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, frag), "%s: \"%s\" lacks \"%s\"", text, err, frag);
}

static const char *cell(const struct dataset *d, long row, const char *col)
{
    int c = dataset_col(d, col);
    ck_assert_int_ge(c, 0);
    ck_assert_int_lt(row, d->nrows);
    return d->cells[row * d->ncols + c].p;
}

START_TEST(csv_quoting_and_line_endings)
{
    struct dataset *d = ok("\xEF\xBB\xBFname,note,empty\r\n"
                           "ann,\"a, b\",\r\n"
                           "\"bo\"\"b\",\"two\nlines\",x\n"
                           "\n"
                           "cy,plain,\"\"");
    ck_assert_int_eq(d->ncols, 3);
    ck_assert_int_eq(d->nrows, 3);
    ck_assert_str_eq(d->cols[0], "name");
    ck_assert_str_eq(cell(d, 0, "note"), "a, b");
    ck_assert_str_eq(cell(d, 0, "empty"), "");
    ck_assert_str_eq(cell(d, 1, "name"), "bo\"b");
    ck_assert_str_eq(cell(d, 1, "note"), "two\nlines");
    ck_assert_str_eq(cell(d, 2, "empty"), "");
    ck_assert_uint_eq(d->cells[1 * 3 + 1].len, 9);
    dataset_free(d);
    d = ok("only\nv1\nv2\n");
    ck_assert_int_eq(d->nrows, 2);
    ck_assert_str_eq(cell(d, 1, "only"), "v2");
    dataset_free(d);
    d = ok("a,b\n");
    ck_assert_int_eq(d->nrows, 0);
    dataset_free(d);
}
END_TEST

START_TEST(csv_errors_name_the_line)
{
    bad("", "no header row");
    bad("a,b\n1,2\n3\n", "line 3: 1 fields, the header has 2");
    bad("a,b\n1,2,3\n", "line 2: 3 fields");
    bad("a,b\n\"1,2\n", "line 2: a quoted field is not closed");
    bad("a,b\n\"1\"x,2\n", "line 2: text after a closing quote");
    bad("a,b\n1\"x,2\n", "line 2: a quote inside an unquoted field");
    bad("a,a\n1,2\n", "column \"a\" appears twice");
    bad("a,,b\n1,2,3\n", "column 2 has an empty name");
    bad("a,b\n\"x\ny\",1\n1\n", "line 4: 1 fields");
}
END_TEST

START_TEST(json_rows)
{
    struct dataset *d = ok(" [{\"id\": 1, \"name\": \"ann\", \"vip\": true},"
                           "  {\"name\": \"bo \\\"b\\\"\", \"id\": 2.5, \"extra\": null}]");
    ck_assert_int_eq(d->ncols, 4);
    ck_assert_int_eq(d->nrows, 2);
    ck_assert_str_eq(cell(d, 0, "id"), "1");
    ck_assert_str_eq(cell(d, 0, "vip"), "true");
    ck_assert_str_eq(cell(d, 0, "extra"), "");
    ck_assert_str_eq(cell(d, 1, "name"), "bo \"b\"");
    ck_assert_str_eq(cell(d, 1, "id"), "2.5");
    ck_assert_str_eq(cell(d, 1, "vip"), "");
    dataset_free(d);
    bad("[1, 2]", "[0]: expected an object");
    bad("[{\"a\": {\"b\": 1}}]", "");
    bad("[{\"a\": [1]}]", "[0].a: expected a string, number, boolean or null");
    bad("[{\"a\": 1}", "");
}
END_TEST

/* Found by contrib/fuzz (fuzz_dataset): strchr(" \t\r\n", 0) matches the
 * terminator, so a NUL byte was skipped as a blank before deciding JSON
 * or CSV. A NUL is content: this is a CSV whose header has a quote in an
 * unquoted field, not a JSON array. */
START_TEST(a_nul_byte_is_not_a_blank)
{
    static const char text[] = "\0[{\"a\": 1}]";
    struct dataset *d = NULL;
    char err[256] = "";
    ck_assert_int_eq(dataset_parse(text, sizeof text - 1, &d, err, sizeof err), -1);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, "a quote inside an unquoted field"), "error: %s", err);
}
END_TEST

static Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *t = tcase_create("parse");
    tcase_add_test(t, csv_quoting_and_line_endings);
    tcase_add_test(t, csv_errors_name_the_line);
    tcase_add_test(t, json_rows);
    tcase_add_test(t, a_nul_byte_is_not_a_blank);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(dataset_suite)
