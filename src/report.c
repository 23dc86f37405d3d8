/* report: summaries, points, tables and CSV from measurement windows. */
#include "report.h"

#include "duration.h"
#include "json.h"
#include "sbuf.h"
#include "xmalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

void report_latency(const struct hist *h, struct latency_ms *o)
{
    memset(o, 0, sizeof *o);
    o->count = hist_count(h);
    if (!o->count) {
        o->min = o->mean = o->p50 = o->p75 = o->p90 = o->p95 = o->p99 = o->p99_9 = o->max = NAN;
        return;
    }
    o->min = ms(hist_min(h));
    o->mean = hist_mean(h) / 1000.0;
    o->p50 = ms(hist_percentile(h, 50));
    o->p75 = ms(hist_percentile(h, 75));
    o->p90 = ms(hist_percentile(h, 90));
    o->p95 = ms(hist_percentile(h, 95));
    o->p99 = ms(hist_percentile(h, 99));
    o->p99_9 = ms(hist_percentile(h, 99.9));
    o->max = ms(hist_max(h));
}

static double trend(const struct hist *h, const struct threshold *t)
{
    if (hist_is_empty(h))
        return NAN;
    switch (t->agg) {
    case TA_AVG: return hist_mean(h) / 1000.0;
    case TA_MIN: return ms(hist_min(h));
    case TA_MAX: return ms(hist_max(h));
    case TA_MED: return ms(hist_percentile(h, 50));
    case TA_P: return ms(hist_percentile(h, t->p));
    default: return NAN;
    }
}

static double counter(uint64_t n, const struct threshold *t, double duration_s)
{
    if (t->agg == TA_COUNT)
        return (double)n;
    return duration_s > 0 ? (double)n / duration_s : NAN;
}

double report_observe(const struct threshold *t, const struct stats_window *cum, double duration_s)
{
    struct stats_step total;
    const struct stats_step *ss;
    if (t->step >= 0 && t->step < cum->nsteps) {
        ss = &cum->steps[t->step];
    } else {
        stats_window_total(cum, &total);
        ss = &total;
    }
    switch (t->metric) {
    case TM_HTTP_REQ_DURATION: return trend(&ss->lat, t);
    case TM_HTTP_REQ_DURATION_UNCORRECTED: return trend(&ss->svc, t);
    case TM_ITERATION_DURATION: return trend(&cum->iter_dur, t);
    case TM_HTTP_REQ_FAILED:
        return ss->requests ? (double)ss->failed / (double)ss->requests : NAN;
    case TM_CHECKS: {
        uint64_t n = ss->checks_passed + ss->checks_failed;
        return n ? (double)ss->checks_passed / (double)n : NAN;
    }
    case TM_HTTP_REQS: return counter(ss->requests, t, duration_s);
    case TM_ITERATIONS: return counter(cum->iterations, t, duration_s);
    case TM_DROPPED_ITERATIONS: return counter(cum->dropped_iterations, t, duration_s);
    case TM_DATA_RECEIVED: return counter(ss->bytes_in, t, duration_s);
    case TM_DATA_SENT: return counter(ss->bytes_out, t, duration_s);
    }
    return NAN;
}

int report_generator_warning(const struct stats_window *cum, const struct stats_step *total,
                             char *buf, size_t len)
{
    if (hist_is_empty(&cum->send_lag) || hist_is_empty(&total->lat))
        return 0;
    uint64_t lag = hist_percentile(&cum->send_lag, 99), p99 = hist_percentile(&total->lat, 99);
    if (lag * 10 <= p99)
        return 0;
    snprintf(buf, len,
             "the generator was late: requests left up to %.3f ms after their due time (send lag p99), "
             "%.0f%% of the corrected p99 of %.3f ms; that part of the latency is the load generator's, "
             "not the target's (use more loops or a quieter machine)",
             ms(lag), 100.0 * (double)lag / (double)(p99 ? p99 : 1), ms(p99));
    return 1;
}

/* ---- JSON ---- */

void report_gen_latency(yajl_gen g, const char *key, const struct hist *h)
{
    struct latency_ms l;
    report_latency(h, &l);
    json_gen_cstr(g, key);
    yajl_gen_map_open(g);
    json_gen_kv_double(g, "min", l.min, 3);
    json_gen_kv_double(g, "mean", l.mean, 3);
    json_gen_kv_double(g, "p50", l.p50, 3);
    json_gen_kv_double(g, "p75", l.p75, 3);
    json_gen_kv_double(g, "p90", l.p90, 3);
    json_gen_kv_double(g, "p95", l.p95, 3);
    json_gen_kv_double(g, "p99", l.p99, 3);
    json_gen_kv_double(g, "p99_9", l.p99_9, 3);
    json_gen_kv_double(g, "max", l.max, 3);
    json_gen_kv_int(g, "count", (int64_t)l.count);
    yajl_gen_map_close(g);
}

static void gen_errors(yajl_gen g, const uint64_t *errors)
{
    json_gen_cstr(g, "errors");
    yajl_gen_map_open(g);
    for (int i = 0; i < STATS_ERR_COUNT; i++)
        json_gen_kv_int(g, stats_err_name((enum stats_err)i), (int64_t)errors[i]);
    yajl_gen_map_close(g);
}

static void gen_counts(yajl_gen g, const char *key, const uint64_t *errors, const uint64_t *status);

static void gen_status(yajl_gen g, const uint64_t *status)
{
    gen_counts(g, "status_codes", NULL, status);
}

void report_gen_requests(yajl_gen g, const struct stats_step *ss, double duration_s)
{
    json_gen_kv_int(g, "requests", (int64_t)ss->requests);
    json_gen_kv_double(g, "rps", duration_s > 0 ? (double)ss->requests / duration_s : 0, 3);
    json_gen_kv_int(g, "failed", (int64_t)ss->failed);
    json_gen_kv_double(g, "failed_rate", ss->requests ? (double)ss->failed / (double)ss->requests : 0, 6);
    json_gen_kv_int(g, "retries", (int64_t)ss->retries);
    json_gen_kv_int(g, "bytes_in", (int64_t)ss->bytes_in);
    json_gen_kv_int(g, "bytes_out", (int64_t)ss->bytes_out);
    json_gen_cstr(g, "latency_ms");
    yajl_gen_map_open(g);
    report_gen_latency(g, "corrected", &ss->lat);
    report_gen_latency(g, "uncorrected", &ss->svc);
    yajl_gen_map_close(g);
    gen_errors(g, ss->errors);
    gen_status(g, ss->status);
    json_gen_cstr(g, "checks");
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "passed", (int64_t)ss->checks_passed);
    json_gen_kv_int(g, "failed", (int64_t)ss->checks_failed);
    yajl_gen_map_close(g);
}

void report_iso_time(int64_t wall_ms, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

char *report_summary_json(const struct report_input *in, size_t *len)
{
    const struct script *sc = in->sc;
    struct stats_step total;
    stats_window_total(in->cum, &total);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)in->run_id);
    json_gen_kv_str(g, "run_id", in->run_label && in->run_label[0] ? in->run_label : id);
    char ts[64];
    report_iso_time(in->started_wall_ms, ts, sizeof ts);
    json_gen_kv_str(g, "started_at", ts);
    json_gen_kv_str(g, "executor", script_executor_name(sc->load.executor));
    json_gen_kv_double(g, "duration_s", in->duration_s, 3);
    json_gen_kv_double(g, "warmup_s", (double)sc->load.warmup_us / 1e6, 3);
    report_gen_requests(g, &total, in->duration_s);
    json_gen_kv_int(g, "iterations", (int64_t)in->cum->iterations);
    json_gen_kv_int(g, "dropped_iterations", (int64_t)in->cum->dropped_iterations);
    json_gen_kv_int(g, "interrupted_iterations", (int64_t)in->cum->interrupted_iterations);
    report_gen_latency(g, "iteration_duration_ms", &in->cum->iter_dur);
    report_gen_latency(g, "send_lag_ms", &in->cum->send_lag);
    json_gen_kv_double(g, "backoff_s", (double)in->cum->backoff_us / 1e6, 3);
    json_gen_kv_int(g, "vus_max", in->cum->vus_max);
    json_gen_cstr(g, "warnings");
    yajl_gen_array_open(g);
    char warn[256];
    if (report_generator_warning(in->cum, &total, warn, sizeof warn))
        json_gen_cstr(g, warn);
    yajl_gen_array_close(g);
    /* an iteration's steps, then setup's and teardown's (once per VU, apart) */
    static const char *const groups[] = { "steps", "setup", "teardown" };
    int from = 0;
    for (int k = 0; k < 3; k++) {
        int n = k == 0 ? sc->nmain : k == 1 ? sc->nsetup : sc->nteardown;
        json_gen_cstr(g, groups[k]);
        yajl_gen_map_open(g);
        for (int i = from; i < from + n; i++) {
            json_gen_cstr(g, sc->steps[i].name);
            yajl_gen_map_open(g);
            report_gen_requests(g, &in->cum->steps[i], in->duration_s);
            yajl_gen_map_close(g);
        }
        yajl_gen_map_close(g);
        from += n;
    }
    if (sc->telemetry) {
        /* documents the destination took, per signal, and their rate */
        json_gen_cstr(g, "telemetry");
        yajl_gen_map_open(g);
        for (int i = 0; i < sc->telemetry->nstreams; i++) {
            const struct stats_step *ss = &in->cum->steps[i];
            json_gen_cstr(g, sc->steps[i].name);
            yajl_gen_map_open(g);
            json_gen_kv_int(g, "documents", (int64_t)ss->documents);
            json_gen_kv_double(g, "documents_per_s",
                               in->duration_s > 0 ? (double)ss->documents / in->duration_s : 0, 3);
            json_gen_kv_double(g, "planned_per_s", sc->telemetry->streams[i].docs_per_s, 3);
            json_gen_kv_int(g, "requests", (int64_t)ss->requests);
            json_gen_kv_int(g, "failed", (int64_t)ss->failed);
            yajl_gen_map_close(g);
        }
        yajl_gen_map_close(g);
    }
    json_gen_cstr(g, "thresholds");
    yajl_gen_array_open(g);
    for (int i = 0; i < sc->nthresholds; i++) {
        const struct threshold *t = &sc->thresholds[i];
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "metric", t->metric_text);
        json_gen_kv_str(g, "expr", t->expr_text);
        json_gen_kv_str(g, "step", t->step >= 0 ? sc->steps[t->step].name : NULL);
        json_gen_kv_double(g, "observed", in->observed[i], 6);
        json_gen_kv_bool(g, "ok", in->ok[i]);
        json_gen_kv_bool(g, "abort_on_fail", t->abort_on_fail);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    json_gen_kv_bool(g, "aborted", in->aborted);
    json_gen_kv_str(g, "abort_reason", in->aborted ? in->abort_reason : NULL);
    yajl_gen_map_close(g);
    return json_gen_finish(g, len);
}

/* ---- points ---- */

void report_point(struct run_point *p, uint32_t second, double span_s, int warmup,
                  const struct stats_window *w)
{
    struct stats_step t;
    stats_window_total(w, &t);
    memset(p, 0, sizeof *p);
    p->second = second;
    p->span_s = span_s;
    p->warmup = warmup;
    p->requests = t.requests;
    p->failed = t.failed;
    p->retries = t.retries;
    p->iterations = w->iterations;
    p->dropped = w->dropped_iterations;
    p->bytes_in = t.bytes_in;
    p->bytes_out = t.bytes_out;
    for (int i = 0; i < STATS_ERR_COUNT; i++)
        p->errors += t.errors[i];
    p->vus = w->vus;
    p->rps = span_s > 0 ? (double)t.requests / span_s : 0;
    struct latency_ms l;
    report_latency(&t.lat, &l);
    p->min_ms = l.min;
    p->mean_ms = l.mean;
    p->p50_ms = l.p50;
    p->p90_ms = l.p90;
    p->p95_ms = l.p95;
    p->p99_ms = l.p99;
    p->p99_9_ms = l.p99_9;
    p->max_ms = l.max;
    p->send_lag_p99_ms = hist_is_empty(&w->send_lag) ? NAN : ms(hist_percentile(&w->send_lag, 99));
}

void report_frame_totals_add(struct frame_totals *t, const struct stats_window *w)
{
    for (int i = 0; i < w->nsteps; i++) {
        const struct stats_step *ss = &w->steps[i];
        t->requests += ss->requests;
        t->failed += ss->failed;
        t->bytes_in += ss->bytes_in;
        t->bytes_out += ss->bytes_out;
    }
    t->iterations += w->iterations;
    t->dropped += w->dropped_iterations;
    t->retries += w->retries;
}

static void gen_counts(yajl_gen g, const char *key, const uint64_t *errors, const uint64_t *status)
{
    json_gen_cstr(g, key);
    yajl_gen_map_open(g);
    if (errors) {
        for (int i = 0; i < STATS_ERR_COUNT; i++)
            if (errors[i])
                json_gen_kv_int(g, stats_err_name((enum stats_err)i), (int64_t)errors[i]);
    } else {
        for (int i = 0; i < STATS_STATUS_SLOTS; i++) {
            if (!status[i])
                continue;
            char code[16];
            snprintf(code, sizeof code, "%d", i + STATS_STATUS_MIN);
            json_gen_kv_int(g, code, (int64_t)status[i]);
        }
    }
    yajl_gen_map_close(g);
}

/* {"p50", "p95", "p99", "max"} of a step, or the full set for the run. */
static void gen_lat(yajl_gen g, const char *key, const struct hist *h, int full)
{
    struct latency_ms l;
    report_latency(h, &l);
    json_gen_cstr(g, key);
    yajl_gen_map_open(g);
    if (full) {
        json_gen_kv_double(g, "min", l.min, 3);
        json_gen_kv_double(g, "mean", l.mean, 3);
    }
    json_gen_kv_double(g, "p50", l.p50, 3);
    if (full) {
        json_gen_kv_double(g, "p75", l.p75, 3);
        json_gen_kv_double(g, "p90", l.p90, 3);
    }
    json_gen_kv_double(g, "p95", l.p95, 3);
    json_gen_kv_double(g, "p99", l.p99, 3);
    if (full)
        json_gen_kv_double(g, "p99_9", l.p99_9, 3);
    json_gen_kv_double(g, "max", l.max, 3);
    yajl_gen_map_close(g);
}

static void gen_latencies(yajl_gen g, const struct stats_step *ss, int full)
{
    json_gen_cstr(g, "latency_ms");
    yajl_gen_map_open(g);
    gen_lat(g, "corrected", &ss->lat, full);
    gen_lat(g, "uncorrected", &ss->svc, full);
    yajl_gen_map_close(g);
}

char *report_frame_json(const struct frame_input *in, size_t *len)
{
    const struct stats_window *w = in->w;
    struct stats_step *t = xmalloc(sizeof *t); /* ~64 KiB: not on a loop's stack */
    stats_window_total(w, t);
    double rps = in->span_s > 0 ? (double)t->requests / in->span_s : 0;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "type", "frame");
    json_gen_kv_str(g, "run_id", in->run_id);
    json_gen_kv_str(g, "script_id", in->script_id);
    json_gen_kv_str(g, "script", in->script ? in->script : "");
    json_gen_kv_str(g, "state", in->state);
    json_gen_kv_bool(g, "final", in->final);
    json_gen_kv_int(g, "t_ms", in->t_ms);
    json_gen_kv_int(g, "second", in->second);
    json_gen_kv_double(g, "elapsed_s", in->elapsed_s, 3);
    json_gen_kv_double(g, "span_s", in->span_s, 3);
    json_gen_kv_bool(g, "warmup", in->warmup);
    json_gen_kv_int(g, "vus", w->vus);
    json_gen_kv_int(g, "vus_max", w->vus_max);
    json_gen_kv_double(g, "rps", rps, 3);
    const struct frame_totals *tt = in->totals;
    json_gen_kv_int(g, "requests", (int64_t)tt->requests);
    json_gen_kv_int(g, "failed", (int64_t)tt->failed);
    json_gen_kv_int(g, "iterations", (int64_t)tt->iterations);
    json_gen_kv_int(g, "dropped_iterations", (int64_t)tt->dropped);
    json_gen_kv_int(g, "retries", (int64_t)tt->retries);
    json_gen_kv_int(g, "bytes_in", (int64_t)tt->bytes_in);
    json_gen_kv_int(g, "bytes_out", (int64_t)tt->bytes_out);
    json_gen_cstr(g, "second_counts");
    yajl_gen_map_open(g);
    json_gen_kv_int(g, "requests", (int64_t)t->requests);
    json_gen_kv_int(g, "failed", (int64_t)t->failed);
    json_gen_kv_int(g, "iterations", (int64_t)w->iterations);
    json_gen_kv_int(g, "dropped_iterations", (int64_t)w->dropped_iterations);
    json_gen_kv_int(g, "retries", (int64_t)w->retries);
    json_gen_kv_int(g, "bytes_in", (int64_t)t->bytes_in);
    json_gen_kv_int(g, "bytes_out", (int64_t)t->bytes_out);
    json_gen_kv_double(g, "backoff_s", (double)w->backoff_us / 1e6, 3);
    yajl_gen_map_close(g);
    gen_counts(g, "errors", t->errors, NULL);
    gen_counts(g, "status_codes", NULL, t->status);
    gen_latencies(g, t, 1);
    gen_lat(g, "send_lag_ms", &w->send_lag, 0);
    json_gen_cstr(g, "steps");
    yajl_gen_map_open(g);
    for (int i = 0; i < w->nsteps && i < in->sc->nmain; i++) {
        const struct stats_step *ss = &w->steps[i];
        json_gen_cstr(g, in->sc->steps[i].name);
        yajl_gen_map_open(g);
        json_gen_kv_int(g, "requests", (int64_t)ss->requests);
        json_gen_kv_int(g, "failed", (int64_t)ss->failed);
        json_gen_kv_int(g, "retries", (int64_t)ss->retries);
        if (in->sc->telemetry)
            json_gen_kv_int(g, "documents", (int64_t)ss->documents);
        json_gen_kv_double(g, "rps", in->span_s > 0 ? (double)ss->requests / in->span_s : 0, 3);
        gen_counts(g, "errors", ss->errors, NULL);
        gen_latencies(g, ss, 0);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    free(t);
    return json_gen_finish(g, len);
}

int report_series_csv(FILE *f, const struct run_point *pts, int n)
{
    if (fprintf(f, "second,span_s,warmup,requests,rps,failed,errors,retries,iterations,dropped_iterations,"
                   "vus,bytes_in,bytes_out,min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,p99_9_ms,max_ms,"
                   "send_lag_p99_ms\n") < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        const struct run_point *p = &pts[i];
        double v[9] = { p->min_ms, p->mean_ms, p->p50_ms, p->p90_ms, p->p95_ms, p->p99_ms, p->p99_9_ms, p->max_ms,
                        p->send_lag_p99_ms };
        fprintf(f, "%u,%.3f,%d,%llu,%.3f,%llu,%llu,%llu,%llu,%llu,%u,%llu,%llu", p->second, p->span_s, p->warmup,
                (unsigned long long)p->requests, p->rps, (unsigned long long)p->failed,
                (unsigned long long)p->errors, (unsigned long long)p->retries, (unsigned long long)p->iterations,
                (unsigned long long)p->dropped, p->vus, (unsigned long long)p->bytes_in,
                (unsigned long long)p->bytes_out);
        for (int k = 0; k < 9; k++) {
            if (isnan(v[k]))
                fputs(",", f);
            else
                fprintf(f, ",%.3f", v[k]);
        }
        if (fputc('\n', f) == EOF)
            return -1;
    }
    return fflush(f) == 0 ? 0 : -1;
}

/* ---- text ---- */

static const char *human_bytes(uint64_t n, char *buf, size_t len)
{
    const char *u[] = { "B", "kB", "MB", "GB", "TB" };
    double v = (double)n;
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    return buf;
}

static void fmt_ms(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (v < 10)
        snprintf(buf, len, "%.3f", v);
    else if (v < 1000)
        snprintf(buf, len, "%.2f", v);
    else
        snprintf(buf, len, "%.0f", v);
}

static void latency_row(struct sbuf *b, const char *name, const struct stats_step *ss, double dur,
                        const struct hist *h)
{
    struct latency_ms l;
    report_latency(h, &l);
    double cols[8] = { l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.p99_9, l.max };
    sbuf_printf(b, "  %-16.16s %9llu %9.1f", name, (unsigned long long)ss->requests,
              dur > 0 ? (double)ss->requests / dur : 0.0);
    for (int i = 0; i < 8; i++) {
        char c[24];
        fmt_ms(c, sizeof c, cols[i]);
        sbuf_printf(b, " %8s", c);
    }
    sbuf_printf(b, " %8llu\n", (unsigned long long)ss->failed);
}

static void latency_table(struct sbuf *b, const struct report_input *in, const struct stats_step *total,
                          int service)
{
    sbuf_printf(b, "  %-16s %9s %9s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "step", "requests", "req/s",
              "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max", "failed");
    if (in->sc->nmain > 1)
        for (int i = 0; i < in->sc->nmain; i++)
            latency_row(b, in->sc->steps[i].name, &in->cum->steps[i], in->duration_s,
                        service ? &in->cum->steps[i].svc : &in->cum->steps[i].lat);
    latency_row(b, in->sc->nmain > 1 ? "total" : in->sc->steps[0].name, total, in->duration_s,
                service ? &total->svc : &total->lat);
    if (!service && in->sc->nsteps > in->sc->nmain) {
        sbuf_printf(b, "  setup and teardown, once per VU (not in the total)\n");
        for (int i = in->sc->nmain; i < in->sc->nsteps; i++)
            latency_row(b, in->sc->steps[i].name, &in->cum->steps[i], in->duration_s, &in->cum->steps[i].lat);
    }
}

char *report_summary_text(const struct report_input *in)
{
    struct sbuf b;
    sbuf_init(&b, 4096);
    const struct script *sc = in->sc;
    struct stats_step total;
    stats_window_total(in->cum, &total);
    char d1[32], d2[32];
    sbuf_printf(&b, "\n  executor   %s", script_executor_name(sc->load.executor));
    if (sc->load.warmup_us)
        sbuf_printf(&b, " (first %s of warmup not counted)", duration_format(sc->load.warmup_us, d1, sizeof d1));
    sbuf_printf(&b, "\n  duration   %.1f s measured%s\n", in->duration_s, in->aborted ? " (aborted)" : "");
    sbuf_printf(&b, "  requests   %llu (%.1f/s)   failed %llu (%.2f%%)\n", (unsigned long long)total.requests,
              in->duration_s > 0 ? (double)total.requests / in->duration_s : 0.0,
              (unsigned long long)total.failed,
              total.requests ? 100.0 * (double)total.failed / (double)total.requests : 0.0);
    sbuf_printf(&b, "  iterations %llu   dropped %llu   interrupted %llu   vus max %u\n",
              (unsigned long long)in->cum->iterations, (unsigned long long)in->cum->dropped_iterations,
              (unsigned long long)in->cum->interrupted_iterations, in->cum->vus_max);
    if (total.retries)
        sbuf_printf(&b, "  retries    %llu requests sent twice (a kept-alive connection had gone stale): "
                    "%llu on the wire\n", (unsigned long long)total.retries,
                    (unsigned long long)(total.requests + total.retries));
    if (in->cum->backoff_us)
        sbuf_printf(&b, "  backoff    VUs waited %.1f s in all after requests that could not be sent\n",
                    (double)in->cum->backoff_us / 1e6);
    sbuf_printf(&b, "  data       received %s   sent %s\n", human_bytes(total.bytes_in, d1, sizeof d1),
              human_bytes(total.bytes_out, d2, sizeof d2));
    int open = script_load_is_open(&sc->load);
    sbuf_printf(&b, "\n  latency in ms, %s\n",
              open ? "from when each request was due (corrected for coordinated omission)"
                   : "from when each request was sent");
    latency_table(&b, in, &total, 0);
    if (open) {
        sbuf_printf(&b, "\n  service time in ms, from when each request was sent (uncorrected)\n");
        latency_table(&b, in, &total, 1);
        struct latency_ms lag;
        report_latency(&in->cum->send_lag, &lag);
        if (lag.count) {
            char c1[24], c2[24], c3[24];
            fmt_ms(c1, sizeof c1, lag.p50);
            fmt_ms(c2, sizeof c2, lag.p99);
            fmt_ms(c3, sizeof c3, lag.max);
            sbuf_printf(&b, "\n  send lag   p50 %s   p99 %s   max %s ms (iterations started after their due time)\n",
                        c1, c2, c3);
        }
    }
    sbuf_printf(&b, "\n  status     ");
    int any = 0;
    for (int i = 0; i < STATS_STATUS_SLOTS; i++)
        if (total.status[i]) {
            sbuf_printf(&b, "%s%d: %llu", any ? ", " : "", i + STATS_STATUS_MIN, (unsigned long long)total.status[i]);
            any = 1;
        }
    sbuf_printf(&b, "%s\n  errors     ", any ? "" : "none");
    any = 0;
    for (int i = 0; i < STATS_ERR_COUNT; i++)
        if (total.errors[i]) {
            sbuf_printf(&b, "%s%s: %llu", any ? ", " : "", stats_err_name((enum stats_err)i),
                      (unsigned long long)total.errors[i]);
            any = 1;
        }
    sbuf_printf(&b, "%s\n", any ? "" : "none");
    uint64_t nck = total.checks_passed + total.checks_failed;
    if (nck)
        sbuf_printf(&b, "  checks     %llu passed, %llu failed (%.2f%% passed)\n",
                  (unsigned long long)total.checks_passed, (unsigned long long)total.checks_failed,
                  100.0 * (double)total.checks_passed / (double)nck);
    if (sc->nthresholds) {
        sbuf_printf(&b, "\n  thresholds\n");
        for (int i = 0; i < sc->nthresholds; i++) {
            const struct threshold *t = &sc->thresholds[i];
            char obs[32];
            if (isnan(in->observed[i]))
                snprintf(obs, sizeof obs, "no data");
            else
                snprintf(obs, sizeof obs, "%.3f", in->observed[i]);
            sbuf_printf(&b, "  %s %-36s %-16s observed %s\n", in->ok[i] ? "ok  " : "FAIL", t->metric_text,
                      t->expr_text, obs);
        }
    }
    char warn[256];
    if (report_generator_warning(in->cum, &total, warn, sizeof warn))
        sbuf_printf(&b, "\n  warning: %s\n", warn);
    if (in->aborted && in->abort_reason)
        sbuf_printf(&b, "\n  aborted: %s\n", in->abort_reason);
    return b.s;
}
