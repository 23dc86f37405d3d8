/* series: per-second rows to and from run_series. */
#include "series.h"

#include "hex.h"
#include "json.h"
#include "report.h"
#include "xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char SERIES_INSERT_SQL[] =
    "INSERT INTO run_series (run_id, script_id, step, second, warmup, span_ms, requests, failed,"
    " bytes_in, bytes_out, checks_passed, checks_failed, iterations, dropped, interrupted, vus,"
    " vus_max, errors, status_codes, p50_ms, p75_ms, p90_ms, p95_ms, p99_ms, p99_9_ms, max_ms,"
    " svc_p50_ms, svc_p99_ms, svc_max_ms, lat_hist, svc_hist, iter_hist, retries, backoff_ms,"
    " lag_p99_ms, lag_hist)"
    " SELECT (b->>'r')::uuid, (b->>'s')::uuid, x.step, x.second, x.warmup, x.span_ms, x.requests,"
    " x.failed, x.bytes_in, x.bytes_out, x.checks_passed, x.checks_failed, x.iterations,"
    " x.dropped, x.interrupted, x.vus, x.vus_max, x.errors, x.status_codes, x.p50_ms, x.p75_ms,"
    " x.p90_ms, x.p95_ms, x.p99_ms, x.p99_9_ms, x.max_ms, x.svc_p50_ms, x.svc_p99_ms,"
    " x.svc_max_ms, decode(x.lat, 'hex'), decode(x.svc, 'hex'), decode(x.iter, 'hex'), x.retries,"
    " x.backoff_ms, x.lag_p99_ms, decode(x.lag, 'hex')"
    " FROM jsonb_array_elements($1::jsonb) AS b,"
    " jsonb_to_recordset(b->'rows') AS x(step text, second integer, warmup boolean,"
    " span_ms integer, requests bigint, failed bigint, bytes_in bigint, bytes_out bigint,"
    " checks_passed bigint, checks_failed bigint, iterations bigint, dropped bigint,"
    " interrupted bigint, vus integer, vus_max integer, errors jsonb, status_codes jsonb,"
    " p50_ms float8, p75_ms float8, p90_ms float8, p95_ms float8, p99_ms float8,"
    " p99_9_ms float8, max_ms float8, svc_p50_ms float8, svc_p99_ms float8, svc_max_ms float8,"
    " lat text, svc text, iter text, retries bigint, backoff_ms bigint,"
    " lag_p99_ms float8, lag text)"
    " ON CONFLICT DO NOTHING";

/* ---- write side ---- */

static void gen_hist_hex(yajl_gen g, const char *key, const struct hist *h)
{
    size_t n = hist_encode(h, NULL, 0);
    uint8_t *bin = xmalloc(n);
    hist_encode(h, bin, n);
    char *hex = xmalloc(2 * n + 1);
    hex_encode(bin, n, hex);
    json_gen_kv_str(g, key, hex);
    free(hex);
    free(bin);
}

static void gen_ms(yajl_gen g, const char *key, const struct hist *h, double p)
{
    if (hist_is_empty(h))
        json_gen_kv_null(g, key);
    else
        json_gen_kv_double(g, key, (double)(p >= 100 ? hist_max(h) : hist_percentile(h, p)) / 1000.0, 3);
}

static void gen_row(yajl_gen g, const char *step, const struct stats_step *ss,
                    const struct stats_window *w, uint32_t second, uint32_t span_ms, int warmup)
{
    int total = w != NULL;
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "step", step);
    json_gen_kv_int(g, "second", second);
    json_gen_kv_bool(g, "warmup", warmup);
    json_gen_kv_int(g, "span_ms", span_ms);
    json_gen_kv_int(g, "requests", (int64_t)ss->requests);
    json_gen_kv_int(g, "failed", (int64_t)ss->failed);
    json_gen_kv_int(g, "retries", (int64_t)ss->retries);
    json_gen_kv_int(g, "backoff_ms", total ? (int64_t)(w->backoff_us / 1000) : 0);
    json_gen_kv_int(g, "bytes_in", (int64_t)ss->bytes_in);
    json_gen_kv_int(g, "bytes_out", (int64_t)ss->bytes_out);
    json_gen_kv_int(g, "checks_passed", (int64_t)ss->checks_passed);
    json_gen_kv_int(g, "checks_failed", (int64_t)ss->checks_failed);
    json_gen_kv_int(g, "iterations", total ? (int64_t)w->iterations : 0);
    json_gen_kv_int(g, "dropped", total ? (int64_t)w->dropped_iterations : 0);
    json_gen_kv_int(g, "interrupted", total ? (int64_t)w->interrupted_iterations : 0);
    json_gen_kv_int(g, "vus", total ? w->vus : 0);
    json_gen_kv_int(g, "vus_max", total ? w->vus_max : 0);
    json_gen_cstr(g, "errors");
    yajl_gen_map_open(g);
    for (int i = 0; i < STATS_ERR_COUNT; i++)
        if (ss->errors[i])
            json_gen_kv_int(g, stats_err_name((enum stats_err)i), (int64_t)ss->errors[i]);
    yajl_gen_map_close(g);
    json_gen_cstr(g, "status_codes");
    yajl_gen_map_open(g);
    for (int i = 0; i < STATS_STATUS_SLOTS; i++) {
        if (!ss->status[i])
            continue;
        char code[16];
        snprintf(code, sizeof code, "%d", i + STATS_STATUS_MIN);
        json_gen_kv_int(g, code, (int64_t)ss->status[i]);
    }
    yajl_gen_map_close(g);
    static const struct {
        const char *key;
        double p;
    } pct[] = { { "p50_ms", 50 }, { "p75_ms", 75 }, { "p90_ms", 90 }, { "p95_ms", 95 },
                { "p99_ms", 99 }, { "p99_9_ms", 99.9 }, { "max_ms", 100 } };
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
        gen_ms(g, pct[i].key, &ss->lat, pct[i].p);
    gen_ms(g, "svc_p50_ms", &ss->svc, 50);
    gen_ms(g, "svc_p99_ms", &ss->svc, 99);
    gen_ms(g, "svc_max_ms", &ss->svc, 100);
    gen_hist_hex(g, "lat", &ss->lat);
    gen_hist_hex(g, "svc", &ss->svc);
    if (total) {
        gen_hist_hex(g, "iter", &w->iter_dur);
        gen_hist_hex(g, "lag", &w->send_lag);
        gen_ms(g, "lag_p99_ms", &w->send_lag, 99);
    } else {
        json_gen_kv_null(g, "iter");
        json_gen_kv_null(g, "lag");
        json_gen_kv_null(g, "lag_p99_ms");
    }
    yajl_gen_map_close(g);
}

void series_gen_rows(yajl_gen g, const struct script *sc, const struct stats_window *w,
                     uint32_t second, uint32_t span_ms, int warmup)
{
    struct stats_step *total = xmalloc(sizeof *total); /* ~64 KiB: not on a loop's stack */
    stats_window_total(w, total);
    gen_row(g, "", total, w, second, span_ms, warmup);
    free(total);
    for (int i = 0; i < w->nsteps && i < sc->nsteps; i++)
        gen_row(g, sc->steps[i].name, &w->steps[i], NULL, second, span_ms, warmup);
}

/* ---- read side ---- */

void series_acc_init(struct series_acc *a, uint32_t t)
{
    memset(a, 0, sizeof *a);
    a->t = a->last = t;
    stats_step_init(&a->ss);
    hist_init(&a->iter);
    hist_init(&a->send_lag);
}

static int get_u64(const PGresult *r, int row, int col, uint64_t *out)
{
    if (PQgetisnull(r, row, col))
        return -1;
    const char *v = PQgetvalue(r, row, col);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || end == v || v[0] == '-')
        return -1;
    *out = n;
    return 0;
}

/* Merge the hex-encoded histogram in column col into h (NULL: nothing). */
static int merge_hex(struct hist *h, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const char *hex = PQgetvalue(r, row, col);
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    uint8_t *bin = xmalloc(n / 2 + 1);
    if (hex_decode(hex, n / 2, bin) < 0) {
        free(bin);
        return -1;
    }
    struct hist *tmp = xmalloc(sizeof *tmp);
    int rc = hist_decode(tmp, bin, n / 2);
    if (rc == 0)
        hist_merge(h, tmp);
    free(tmp);
    free(bin);
    return rc;
}

/* Add a JSON map {"name": count} from column col: errors by category name
 * or statuses by code. */
static int add_counts(const PGresult *r, int row, int col, uint64_t *errors, uint64_t *status)
{
    const char *text = PQgetvalue(r, row, col);
    struct json_err e;
    yajl_val v = json_parse(text, strlen(text), 4, &e);
    if (!v || !YAJL_IS_OBJECT(v)) {
        if (v)
            yajl_tree_free(v);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        yajl_val n = v->u.object.values[i];
        if (!YAJL_IS_INTEGER(n) || YAJL_GET_INTEGER(n) < 0) {
            rc = -1;
            continue;
        }
        uint64_t c = (uint64_t)YAJL_GET_INTEGER(n);
        if (errors) {
            for (int kind = 0; kind < STATS_ERR_COUNT; kind++)
                if (strcmp(k, stats_err_name((enum stats_err)kind)) == 0)
                    errors[kind] += c;
        } else {
            int code = atoi(k);
            if (code >= STATS_STATUS_MIN && code < STATS_STATUS_MIN + STATS_STATUS_SLOTS)
                status[code - STATS_STATUS_MIN] += c;
        }
    }
    yajl_tree_free(v);
    return rc;
}

int series_acc_add_row(struct series_acc *a, const PGresult *r, int row, int col0, int count_span)
{
    uint64_t second, span, vus, vus_max;
    int c = col0;
    if (get_u64(r, row, c, &second) < 0)
        return -1;
    int warmup = PQgetvalue(r, row, c + 1)[0] == 't';
    if (get_u64(r, row, c + 2, &span) < 0)
        return -1;
    uint64_t *dst[] = { &a->ss.requests, &a->ss.failed, &a->ss.bytes_in, &a->ss.bytes_out,
                        &a->ss.checks_passed, &a->ss.checks_failed, &a->iterations, &a->dropped,
                        &a->interrupted };
    for (int i = 0; i < 9; i++) {
        uint64_t v;
        if (get_u64(r, row, c + 3 + i, &v) < 0)
            return -1;
        *dst[i] += v;
    }
    if (get_u64(r, row, c + 12, &vus) < 0 || get_u64(r, row, c + 13, &vus_max) < 0)
        return -1;
    if (add_counts(r, row, c + 14, a->ss.errors, NULL) < 0 ||
        add_counts(r, row, c + 15, NULL, a->ss.status) < 0)
        return -1;
    if (merge_hex(&a->ss.lat, r, row, c + 16) < 0 || merge_hex(&a->ss.svc, r, row, c + 17) < 0 ||
        merge_hex(&a->iter, r, row, c + 18) < 0)
        return -1;
    uint64_t retries, backoff_ms;
    if (get_u64(r, row, c + 19, &retries) < 0 || get_u64(r, row, c + 20, &backoff_ms) < 0 ||
        merge_hex(&a->send_lag, r, row, c + 21) < 0)
        return -1;
    a->ss.retries += retries;
    a->backoff_ms += backoff_ms;
    if (count_span)
        a->span_ms += span;
    if (vus > a->vus)
        a->vus = (uint32_t)vus;
    if (vus_max > a->vus_max)
        a->vus_max = (uint32_t)vus_max;
    if (second > a->last)
        a->last = (uint32_t)second;
    a->warmup |= warmup;
    a->rows++;
    return 0;
}

void series_gen_acc(yajl_gen g, const struct series_acc *a)
{
    double span_s = (double)a->span_ms / 1000.0;
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "t", a->t);
    json_gen_kv_double(g, "span_s", span_s, 3);
    json_gen_kv_bool(g, "warmup", a->warmup);
    report_gen_requests(g, &a->ss, span_s);
    json_gen_kv_int(g, "iterations", (int64_t)a->iterations);
    json_gen_kv_int(g, "dropped_iterations", (int64_t)a->dropped);
    json_gen_kv_int(g, "interrupted_iterations", (int64_t)a->interrupted);
    report_gen_latency(g, "iteration_duration_ms", &a->iter);
    report_gen_latency(g, "send_lag_ms", &a->send_lag);
    json_gen_kv_double(g, "backoff_s", (double)a->backoff_ms / 1000.0, 3);
    json_gen_kv_int(g, "vus", a->vus);
    json_gen_kv_int(g, "vus_max", a->vus_max);
    yajl_gen_map_close(g);
}
