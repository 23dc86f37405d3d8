/* test_script_data: a script's dataset named by id — rows lent by the
 * server become the script's own copy (the latest, or the pinned
 * version), columns alone check variables, and every refusal names its
 * field: unknown id, not a UUID, file and id together, version without
 * id, an id in `stampede run`, a version with no rows. */
#include "check_main.h"
#include "dataset.h"
#include "ds_rows.h"
#include "script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID "6f1e2a3b-0000-4000-8000-00000000000a"

static char *def(const char *dataset, const char *path)
{
    char *s = NULL;
    if (asprintf(&s, "{\"target\":\"http://127.0.0.1:9\",\"dataset\":%s,"
                     "\"steps\":[{\"name\":\"a\",\"path\":\"%s\"}],"
                     "\"load\":{\"executor\":\"per-vu-iterations\",\"vus\":1,\"iterations\":1}}",
                 dataset, path) < 0)
        abort();
    return s;
}

static struct dataset *rows(const char *text)
{
    struct dataset *d = NULL;
    char err[200];
    ck_assert_msg(dataset_parse(text, strlen(text), &d, err, sizeof err) == 0, "%s", err);
    return d;
}

static void refused(const char *dataset, const char *path, const char *base_dir, const char *field,
                    const char *frag)
{
    char *d = def(dataset, path);
    struct script *s = NULL;
    struct json_err e = { "", "" };
    ck_assert_msg(script_parse_at(d, strlen(d), base_dir, &s, &e) == -1, "accepted %s", d);
    ck_assert_msg(strcmp(e.field, field) == 0, "%s: field %s (%s)", d, e.field, e.message);
    ck_assert_msg(strstr(e.message, frag), "%s: \"%s\" lacks \"%s\"", d, e.message, frag);
    free(d);
}

START_TEST(rows_lent_by_id)
{
    struct dataset *v1 = rows("user,pin\nann,1\n"), *v3 = rows("user,pin\nbo,2\ncy,3\n");
    struct script_ds_lent lent[2] = { { ID, 1, v1 }, { ID, 3, v3 } };
    script_datasets_lend(lent, 2);
    /* the latest lent, unless a version is pinned; upper case ids match */
    char *d = def("{\"id\":\"6F1E2A3B-0000-4000-8000-00000000000A\",\"order\":\"unique\"}", "/u/{{user}}/{{pin}}");
    struct script *s = NULL;
    struct json_err e = { "", "" };
    ck_assert_msg(script_parse(d, strlen(d), &s, &e) == 0, "%s", e.message);
    ck_assert_int_eq(s->dataset->version, 3);
    ck_assert_int_eq(s->dataset->rows->nrows, 2);
    ck_assert_ptr_ne(s->dataset->rows, v3); /* its own copy */
    ck_assert_str_eq(s->dataset->rows->cells[2].p, "cy");
    ck_assert_str_eq(s->dataset->id, "6F1E2A3B-0000-4000-8000-00000000000A");
    ck_assert_int_eq(s->dataset->order, ORDER_UNIQUE);
    script_free(s);
    free(d);
    d = def("{\"id\":\"" ID "\",\"version\":1}", "/u/{{user}}");
    ck_assert_msg(script_parse(d, strlen(d), &s, &e) == 0, "%s", e.message);
    ck_assert_int_eq(s->dataset->version, 1);
    ck_assert_str_eq(s->dataset->rows->cells[0].p, "ann");
    script_free(s);
    free(d);
    refused("{\"id\":\"" ID "\",\"version\":2}", "/", NULL, "dataset.version", "at that version");
    refused("{\"id\":\"" ID "\"}", "/{{usr}}", NULL, "steps[0].path", "did you mean \"user\"");
    refused("{\"id\":\"6f1e2a3b-0000-4000-8000-00000000000b\"}", "/", NULL, "dataset.id", "no dataset with id");
    script_datasets_lend(NULL, 0);
    refused("{\"id\":\"" ID "\"}", "/", NULL, "dataset.id", "no dataset with id");
    dataset_free(v1);
    dataset_free(v3);
}
END_TEST

START_TEST(columns_only_check_variables)
{
    char *cols[] = { "user", "pin" };
    struct dataset *c = ds_columns_only(cols, 2);
    struct script_ds_lent lent = { ID, 0, c };
    script_datasets_lend(&lent, 1);
    char *d = def("{\"id\":\"" ID "\",\"version\":7}", "/u/{{user}}/{{pin}}");
    struct script *s = NULL;
    struct json_err e = { "", "" };
    ck_assert_msg(script_parse(d, strlen(d), &s, &e) == 0, "%s", e.message);
    ck_assert_int_eq(s->dataset->rows->nrows, 0);
    script_free(s);
    free(d);
    refused("{\"id\":\"" ID "\"}", "/{{name}}", NULL, "steps[0].path", "unknown variable \"name\"");
    script_datasets_lend(NULL, 0);
    dataset_free(c);
    /* a version read with no rows cannot run */
    struct dataset *empty = ds_columns_only(cols, 2);
    struct script_ds_lent none = { ID, 4, empty };
    script_datasets_lend(&none, 1);
    refused("{\"id\":\"" ID "\"}", "/", NULL, "dataset.id", "version 4 of dataset " ID " has no rows");
    script_datasets_lend(NULL, 0);
    dataset_free(empty);
}
END_TEST

START_TEST(refusals)
{
    refused("{\"id\":\"users\"}", "/", NULL, "dataset.id", "expected a dataset id (a UUID)");
    refused("{\"id\":\"" ID "\",\"file\":\"a.csv\"}", "/", NULL, "dataset", "give file or id, not both");
    refused("{\"order\":\"random\"}", "/", NULL, "dataset", "give file");
    refused("{\"file\":\"a.csv\",\"version\":2}", "/", ".", "dataset.version", "only with id");
    refused("{\"id\":\"" ID "\",\"version\":0}", "/", NULL, "dataset.version", "");
    refused("{\"id\":\"" ID "\"}", "/", ".", "dataset.id", "`stampede run` reads a file");
    refused("{\"file\":\"a.csv\"}", "/", NULL, "dataset.file", "not by the server");
    refused("{\"id\":\"" ID "\",\"rows\":[]}", "/", NULL, "dataset.rows", "unknown field");
}
END_TEST

static Suite *script_data_suite(void)
{
    Suite *s = suite_create("script_data");
    TCase *t = tcase_create("by_id");
    tcase_add_test(t, rows_lent_by_id);
    tcase_add_test(t, columns_only_check_variables);
    tcase_add_test(t, refusals);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(script_data_suite)
