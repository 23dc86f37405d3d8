/* test_report: what the summary says about the measurement itself — the
 * generator's send lag and the warning when it, not the target, made a
 * percentile; retries per step and in total; the CSV columns. */
#include "check_main.h"
#include "json.h"
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SCRIPT[] =
    "{\"target\":\"http://127.0.0.1:9\",\"steps\":[{\"name\":\"a\",\"path\":\"/a\"},{\"name\":\"b\",\"path\":\"/b\"}],"
    "\"load\":{\"executor\":\"constant-arrival-rate\",\"rate\":100,\"duration\":\"1s\",\"pre_allocated_vus\":2,\"max_vus\":4}}";

/* A window whose requests took lat_us each and whose iterations started
 * lag_us late. */
static struct stats_window *window(uint64_t lat_us, uint64_t lag_us)
{
    struct stats_window *w = stats_window_new(2, 2);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 1000; i++) {
            hist_record(&w->steps[s].lat, lat_us);
            hist_record(&w->steps[s].svc, lat_us > lag_us ? lat_us - lag_us : 0);
            w->steps[s].requests++;
            w->steps[s].status[200 - STATS_STATUS_MIN]++;
        }
    for (int i = 0; i < 1000; i++)
        hist_record(&w->send_lag, lag_us);
    w->iterations = 1000;
    return w;
}

static char *summary(const struct script *sc, const struct stats_window *w, yajl_val *out)
{
    struct report_input in = { .run_id = 1, .sc = sc, .cum = w, .duration_s = 1.0 };
    size_t len;
    char *s = report_summary_json(&in, &len);
    struct json_err e;
    *out = json_parse(s, len, JSON_MAX_DEPTH, &e);
    ck_assert_msg(*out != NULL, "%s", e.message);
    return s;
}

static double num(yajl_val v, const char *a, const char *b, const char *c)
{
    const char *path[4] = { a, b, c, NULL };
    yajl_val n = yajl_tree_get(v, path, yajl_t_number);
    ck_assert_msg(n != NULL, "no number at %s.%s.%s", a, b ? b : "", c ? c : "");
    return YAJL_GET_DOUBLE(n);
}

START_TEST(a_late_generator_is_named)
{
    struct script *sc;
    struct json_err e;
    ck_assert_int_eq(script_parse(SCRIPT, strlen(SCRIPT), &sc, &e), 0);
    /* 2 ms answers, iterations 0.5 ms late: the generator made a quarter of p99 */
    struct stats_window *w = window(2000, 500);
    struct stats_step t;
    stats_window_total(w, &t);
    char msg[256];
    ck_assert_int_eq(report_generator_warning(w, &t, msg, sizeof msg), 1);
    ck_assert_ptr_nonnull(strstr(msg, "generator"));
    ck_assert_ptr_nonnull(strstr(msg, "0.500 ms"));
    yajl_val v;
    char *s = summary(sc, w, &v);
    const char *wp[] = { "warnings", NULL };
    yajl_val warn = yajl_tree_get(v, wp, yajl_t_array);
    ck_assert_ptr_nonnull(warn);
    ck_assert_uint_eq(warn->u.array.len, 1);
    ck_assert_str_eq(YAJL_GET_STRING(warn->u.array.values[0]), msg);
    ck_assert_double_eq_tol(num(v, "send_lag_ms", "p99", NULL), 0.5, 0.01);
    ck_assert_double_eq(num(v, "send_lag_ms", "count", NULL), 1000);
    yajl_tree_free(v);
    free(s);
    char *text = report_summary_text(&(struct report_input){ .run_id = 1, .sc = sc, .cum = w, .duration_s = 1.0 });
    ck_assert_ptr_nonnull(strstr(text, "warning: the generator was late"));
    ck_assert_ptr_nonnull(strstr(text, "send lag"));
    free(text);
    stats_window_free(w);

    /* 50 µs late against 2 ms answers (2.5%): the target's numbers */
    w = window(2000, 50);
    stats_window_total(w, &t);
    ck_assert_int_eq(report_generator_warning(w, &t, msg, sizeof msg), 0);
    s = summary(sc, w, &v);
    warn = yajl_tree_get(v, wp, yajl_t_array);
    ck_assert_ptr_nonnull(warn);
    ck_assert_uint_eq(warn->u.array.len, 0);
    yajl_tree_free(v);
    free(s);
    stats_window_free(w);

    /* closed model: no lag measured, no warning, null values */
    w = window(2000, 0);
    hist_reset(&w->send_lag);
    stats_window_total(w, &t);
    ck_assert_int_eq(report_generator_warning(w, &t, msg, sizeof msg), 0);
    s = summary(sc, w, &v);
    const char *lp[] = { "send_lag_ms", "p99", NULL };
    ck_assert(YAJL_IS_NULL(yajl_tree_get(v, lp, yajl_t_any)));
    yajl_tree_free(v);
    free(s);
    stats_window_free(w);
    script_free(sc);
}
END_TEST

START_TEST(retries_add_up_per_step_and_in_total)
{
    struct script *sc;
    struct json_err e;
    ck_assert_int_eq(script_parse(SCRIPT, strlen(SCRIPT), &sc, &e), 0);
    struct stats_window *w = window(1000, 0);
    hist_reset(&w->send_lag); /* closed model */
    w->steps[0].retries = 3;
    w->steps[1].retries = 4;
    w->retries = 7;
    w->backoff_us = 1500000;
    yajl_val v;
    char *s = summary(sc, w, &v);
    ck_assert_double_eq(num(v, "retries", NULL, NULL), 7);
    ck_assert_double_eq(num(v, "steps", "a", "retries"), 3);
    ck_assert_double_eq(num(v, "steps", "b", "retries"), 4);
    ck_assert_double_eq(num(v, "backoff_s", NULL, NULL), 1.5);
    yajl_tree_free(v);
    free(s);
    char *text = report_summary_text(&(struct report_input){ .run_id = 1, .sc = sc, .cum = w, .duration_s = 1.0 });
    ck_assert_ptr_nonnull(strstr(text, "7 requests sent twice"));
    ck_assert_ptr_nonnull(strstr(text, "2007 on the wire"));
    free(text);

    struct run_point p;
    report_point(&p, 0, 1.0, 0, w);
    ck_assert_uint_eq(p.retries, 7);
    ck_assert(isnan(p.send_lag_p99_ms));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(report_series_csv(f, &p, 1), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "errors,retries,iterations"));
    ck_assert_ptr_nonnull(strstr(buf, ",send_lag_p99_ms\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\n0,1.000,0,2000,2000.000,0,0,7,1000,"));
    ck_assert(buf[len - 2] == ','); /* no lag in the closed model: an empty last column */
    free(buf);
    stats_window_free(w);
    script_free(sc);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *t = tcase_create("honesty");
    tcase_add_test(t, a_late_generator_is_named);
    tcase_add_test(t, retries_add_up_per_step_and_in_total);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(report_suite)
