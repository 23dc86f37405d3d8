/* test_series: rows written by series_gen_rows, read back the way
 * PostgreSQL returns them (a PGresult built in memory), merge to exactly
 * the window they came from; damaged rows are refused. Also the small
 * helpers the platform stands on: uuid, sqlq, sbuf. */
#include "check_main.h"
#include "json.h"
#include "sbuf.h"
#include "series.h"
#include "sqlq.h"
#include "uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SCRIPT[] =
    "{\"target\":\"http://127.0.0.1:9\",\"steps\":[{\"name\":\"a\",\"path\":\"/a\"},{\"name\":\"b\",\"path\":\"/b\"}],"
    "\"load\":{\"executor\":\"constant-vus\",\"vus\":1,\"duration\":\"1s\"}}";

/* A window with some latencies, statuses and errors, seeded by k. */
static struct stats_window *window(int k)
{
    struct stats_window *w = stats_window_new(2, 2);
    for (int s = 0; s < 2; s++) {
        struct stats_step *ss = &w->steps[s];
        for (int i = 0; i < 500 + 100 * k + s; i++) {
            hist_record(&ss->lat, (uint64_t)(100 + i * (k + 1) * 7 % 50000));
            hist_record(&ss->svc, (uint64_t)(90 + i * 3));
            ss->requests++;
            ss->status[200 - STATS_STATUS_MIN]++;
        }
        ss->errors[STATS_ERR_TIMEOUT] += (uint64_t)k;
        ss->requests += (uint64_t)k;
        ss->failed += (uint64_t)k;
        ss->bytes_in += 1000u * (unsigned)k + 7;
        ss->bytes_out += 500;
        ss->status[503 - STATS_STATUS_MIN] += (uint64_t)s;
        ss->failed += (uint64_t)s;
        ss->retries += (uint64_t)(k + s);
        w->retries += (uint64_t)(k + s);
    }
    for (int i = 0; i < 30 * k; i++)
        hist_record(&w->send_lag, (uint64_t)(i * 11));
    w->backoff_us = 20000u * (unsigned)k;
    for (int i = 0; i < 40 + k; i++)
        hist_record(&w->iter_dur, (uint64_t)(1000 + i * 13));
    w->iterations = 40u + (unsigned)k;
    w->dropped_iterations = (unsigned)k;
    w->vus = 3u + (unsigned)k;
    w->vus_max = 8;
    return w;
}

/* The JSON rows, as a PGresult with the columns of SERIES_SELECT_COLS
 * (after a leading script_id column), the way the REST API reads them. */
static PGresult *as_result(yajl_val rows, const char *step)
{
    static const char *const cols[] = { "script_id", "second", "warmup", "span_ms", "requests", "failed",
                                        "bytes_in", "bytes_out", "checks_passed", "checks_failed", "iterations",
                                        "dropped", "interrupted", "vus", "vus_max", "errors", "status_codes",
                                        "lat", "svc", "iter", "retries", "backoff_ms", "lag" };
    int ncols = (int)(sizeof cols / sizeof cols[0]);
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[23];
    memset(att, 0, sizeof att);
    for (int i = 0; i < ncols; i++)
        att[i].name = (char *)cols[i];
    ck_assert(PQsetResultAttrs(r, ncols, att));
    int row = 0;
    for (size_t i = 0; i < rows->u.array.len; i++) {
        yajl_val o = rows->u.array.values[i];
        const char *name = YAJL_GET_STRING(json_get(o, "step"));
        ck_assert_ptr_nonnull(name);
        if (strcmp(name, step) != 0)
            continue;
        for (int c = 0; c < ncols; c++) {
            yajl_val v = c == 0 ? NULL : json_get(o, cols[c]);
            char buf[64];
            const char *text = NULL;
            char *own = NULL;
            if (c == 0) {
                text = "0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a11";
            } else if (YAJL_IS_OBJECT(v)) {
                yajl_gen g = json_gen_new();
                json_gen_value(g, v);
                text = own = json_gen_finish(g, NULL);
            } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
                text = YAJL_IS_TRUE(v) ? "t" : "f";
            } else if (YAJL_IS_NUMBER(v)) {
                snprintf(buf, sizeof buf, "%s", YAJL_GET_NUMBER(v));
                text = buf;
            } else if (YAJL_IS_STRING(v)) {
                text = YAJL_GET_STRING(v);
            }
            ck_assert(PQsetvalue(r, row, c, (char *)text, text ? (int)strlen(text) : -1));
            free(own);
        }
        row++;
    }
    return r;
}

static yajl_val gen(const struct script *sc, const struct stats_window *w, uint32_t second, int warmup)
{
    yajl_gen g = json_gen_new();
    yajl_gen_array_open(g);
    series_gen_rows(g, sc, w, second, 1000, warmup);
    yajl_gen_array_close(g);
    size_t len;
    char *s = json_gen_finish(g, &len);
    struct json_err e;
    yajl_val v = json_parse(s, len, JSON_MAX_DEPTH, &e);
    ck_assert_msg(v != NULL, "%s", e.message);
    free(s);
    return v;
}

START_TEST(rows_merge_back_to_the_window)
{
    struct script *sc;
    struct json_err e;
    ck_assert_int_eq(script_parse(SCRIPT, strlen(SCRIPT), &sc, &e), 0);
    struct stats_window *w1 = window(1), *w2 = window(2), *all = stats_window_new(2, 2);
    stats_window_merge(all, w1);
    stats_window_merge(all, w2);
    yajl_val r1 = gen(sc, w1, 0, 0), r2 = gen(sc, w2, 1, 0);
    ck_assert_int_eq(r1->u.array.len, 3); /* total + 2 steps */
    /* the total rows */
    PGresult *p1 = as_result(r1, ""), *p2 = as_result(r2, "");
    ck_assert_int_eq(PQntuples(p1), 1);
    struct series_acc *a = malloc(sizeof *a);
    series_acc_init(a, 0);
    ck_assert_int_eq(series_acc_add_row(a, p1, 0, 1, 1), 0);
    ck_assert_int_eq(series_acc_add_row(a, p2, 0, 1, 1), 0);
    struct stats_step *t = malloc(sizeof *t);
    stats_window_total(all, t);
    ck_assert(memcmp(&a->ss.lat, &t->lat, sizeof t->lat) == 0);
    ck_assert(memcmp(&a->ss.svc, &t->svc, sizeof t->svc) == 0);
    ck_assert(memcmp(&a->iter, &all->iter_dur, sizeof a->iter) == 0);
    ck_assert(memcmp(&a->send_lag, &all->send_lag, sizeof a->send_lag) == 0);
    ck_assert_uint_eq(hist_count(&a->send_lag), 30 * 3);
    ck_assert_uint_eq(a->ss.retries, t->retries);
    ck_assert_uint_eq(a->ss.retries, (1 + 2) * 2 + 2); /* k + s over k = 1, 2 and s = 0, 1 */
    ck_assert_uint_eq(a->backoff_ms, 60);
    ck_assert_uint_eq(a->ss.requests, t->requests);
    ck_assert_uint_eq(a->ss.failed, t->failed);
    ck_assert_uint_eq(a->ss.bytes_in, t->bytes_in);
    ck_assert_uint_eq(a->ss.errors[STATS_ERR_TIMEOUT], 2 * (1 + 2));
    ck_assert_uint_eq(a->ss.status[503 - STATS_STATUS_MIN], 2);
    ck_assert(memcmp(a->ss.status, t->status, sizeof t->status) == 0);
    ck_assert_uint_eq(a->iterations, all->iterations);
    ck_assert_uint_eq(a->dropped, 3);
    ck_assert_uint_eq(a->vus, 5); /* the largest, not the sum */
    ck_assert_uint_eq(a->span_ms, 2000);
    ck_assert_int_eq(a->rows, 2);
    ck_assert_uint_eq(a->last, 1);
    PQclear(p1);
    PQclear(p2);
    /* one step's rows carry that step only, and no iteration counts */
    PGresult *pb = as_result(r2, "b");
    series_acc_init(a, 0);
    ck_assert_int_eq(series_acc_add_row(a, pb, 0, 1, 1), 0);
    ck_assert(memcmp(&a->ss.lat, &w2->steps[1].lat, sizeof a->ss.lat) == 0);
    ck_assert_uint_eq(a->iterations, 0);
    ck_assert(hist_is_empty(&a->iter));
    /* a damaged histogram is refused, not merged as garbage */
    PQsetvalue(pb, 0, 17, "01zz", 4);
    series_acc_init(a, 0);
    ck_assert_int_eq(series_acc_add_row(a, pb, 0, 1, 1), -1);
    PQsetvalue(pb, 0, 17, "0102", 4); /* hex, but not a histogram */
    series_acc_init(a, 0);
    ck_assert_int_eq(series_acc_add_row(a, pb, 0, 1, 1), -1);
    PQsetvalue(pb, 0, 17, "", 0);
    PQsetvalue(pb, 0, 4, "-3", 2); /* a negative count */
    series_acc_init(a, 0);
    ck_assert_int_eq(series_acc_add_row(a, pb, 0, 1, 1), -1);
    PQclear(pb);
    /* a bucket as JSON */
    PGresult *p0 = as_result(r1, "");
    series_acc_init(a, 0);
    series_acc_add_row(a, p0, 0, 1, 1);
    yajl_gen g = json_gen_new();
    series_gen_acc(g, a);
    char *doc = json_gen_finish(g, NULL);
    yajl_val v = json_parse(doc, strlen(doc), 16, &e);
    ck_assert_ptr_nonnull(v);
    const char *rq[] = { "requests", NULL }, *p99[] = { "latency_ms", "corrected", "p99", NULL };
    ck_assert_int_eq(YAJL_GET_INTEGER(yajl_tree_get(v, rq, yajl_t_number)), (long long)w1->steps[0].requests + (long long)w1->steps[1].requests);
    ck_assert_ptr_nonnull(yajl_tree_get(v, p99, yajl_t_number));
    yajl_tree_free(v);
    free(doc);
    PQclear(p0);
    free(a);
    free(t);
    yajl_tree_free(r1);
    yajl_tree_free(r2);
    stats_window_free(w1);
    stats_window_free(w2);
    stats_window_free(all);
    script_free(sc);
}
END_TEST

START_TEST(uuids_are_v4_and_checked)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    uuid_v4(a);
    uuid_v4(b);
    ck_assert(uuid_valid(a));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(a[14], '4');
    ck_assert(strchr("89ab", a[19]) != NULL);
    ck_assert(uuid_valid("0B5B3C6E-8F0E-4A4E-9D55-3C2B7F5E9A11"));
    ck_assert(!uuid_valid("0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a1"));
    ck_assert(!uuid_valid("0b5b3c6e-8f0e-4a4e-9d55_3c2b7f5e9a11"));
    ck_assert(!uuid_valid("0b5b3c6e-8f0e-4a4e-9d55-3c2b7f5e9a1g"));
    ck_assert(!uuid_valid(NULL));
}
END_TEST

START_TEST(sqlq_numbers_parameters)
{
    struct sqlq q;
    sqlq_init(&q, "SELECT 1 WHERE true");
    sqlq_printf(&q, " AND a = $%d", sqlq_param(&q, "x'; DROP TABLE y; --"));
    sqlq_printf(&q, " AND b = $%d", sqlq_param(&q, NULL));
    ck_assert_str_eq(q.sql.s, "SELECT 1 WHERE true AND a = $1 AND b = $2");
    ck_assert_int_eq(q.n, 2);
    ck_assert_str_eq(q.params[0], "x'; DROP TABLE y; --");
    ck_assert_ptr_null(q.params[1]);
    sqlq_deinit(&q);
    struct sbuf b;
    sbuf_init(&b, 2);
    for (int i = 0; i < 1000; i++)
        sbuf_printf(&b, "%d,", i);
    sbuf_add(&b, "end", 3);
    size_t len;
    char *s = sbuf_take(&b, &len);
    ck_assert_uint_eq(len, strlen(s));
    ck_assert(strncmp(s, "0,1,2,", 6) == 0);
    ck_assert_str_eq(s + len - 7, "999,end");
    free(s);
}
END_TEST

static Suite *series_suite(void)
{
    Suite *s = suite_create("series");
    TCase *t = tcase_create("rows");
    tcase_add_test(t, rows_merge_back_to_the_window);
    tcase_add_test(t, uuids_are_v4_and_checked);
    tcase_add_test(t, sqlq_numbers_parameters);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(series_suite)
