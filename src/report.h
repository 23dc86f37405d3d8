/* report: turning measurements into what people and programs read — the
 * summary document (`--summary-json`, the REST summary), the per-second
 * point (Redis, WebSocket), the terminal table, the CSV series — and the
 * value a threshold observes. Latencies are reported in milliseconds with
 * three decimals; percentiles come from the HDR histograms (<= 0.4% off). */
#ifndef STAMPEDE_REPORT_H
#define STAMPEDE_REPORT_H

#include "run_point.h"
#include "script.h"
#include "stats.h"

#include <stdio.h>
#include <yajl/yajl_gen.h>

struct latency_ms {
    uint64_t count;
    double min, mean, p50, p75, p90, p95, p99, p99_9, max;
};

void report_latency(const struct hist *h, struct latency_ms *out);

/* Everything a summary is made of. */
struct report_input {
    uint64_t run_id;
    const char *run_label;          /* shown as run_id instead when set */
    const struct script *sc;
    const struct stats_window *cum; /* measured part (warmup excluded) */
    double duration_s;              /* measured time */
    int64_t started_wall_ms;
    int aborted;
    const char *abort_reason;
    const double *observed;         /* per threshold */
    const int *ok;                  /* per threshold */
};

/* What threshold t observes in the cumulative window (ms for durations,
 * fractions for rates, per second for counter rates). NaN if no data. */
double report_observe(const struct threshold *t, const struct stats_window *cum, double duration_s);

/* When the generator's own send lag (p99) is over 10% of the corrected
 * p99, a sentence saying so in buf, and 1; else 0. */
int report_generator_warning(const struct stats_window *cum, const struct stats_step *total,
                             char *buf, size_t len);
/* The summary document; caller frees. Schema: docs/summary-format.md. */
char *report_summary_json(const struct report_input *in, size_t *len);
/* The terminal summary; caller frees. */
char *report_summary_text(const struct report_input *in);
/* Fill a series point from one second's merged window. */
void report_point(struct run_point *p, uint32_t second, double span_s, int warmup,
                  const struct stats_window *w);
/* One second of a run as a live frame (docs/live.md). */
struct frame_totals {
    uint64_t requests, failed, iterations, dropped, retries, bytes_in, bytes_out;
};

struct frame_input {
    const char *run_id;        /* the run's name: its UUID, or its number */
    const char *script_id;     /* NULL: null (stampede run) */
    const char *script;        /* the script's name, "" when none */
    const char *state;         /* running, paused, stopping, finished */
    int final;                 /* the script's last frame */
    int64_t t_ms;              /* wall clock when built */
    uint32_t second;
    double elapsed_s, span_s;
    int warmup;
    const struct script *sc;
    const struct stats_window *w;       /* this second */
    const struct frame_totals *totals;  /* since the start, this second included */
};

/* Add the counters of window w to t. */
void report_frame_totals_add(struct frame_totals *t, const struct stats_window *w);
/* The frame as JSON; caller frees. */
char *report_frame_json(const struct frame_input *in, size_t *len);
/* The request-level members shared by the summary's total, its steps and
 * the REST series: requests, rps (over duration_s), failed, failed_rate,
 * bytes, latency_ms {corrected, uncorrected}, errors, status_codes, checks.
 * g is inside an open map. */
void report_gen_requests(yajl_gen g, const struct stats_step *ss, double duration_s);
/* key: {"min", "mean", "p50", ..., "max", "count"} in ms. */
void report_gen_latency(yajl_gen g, const char *key, const struct hist *h);
/* "2026-11-23T10:58:38.072Z" */
void report_iso_time(int64_t wall_ms, char *buf, size_t len);
/* The series as CSV with a header line; 0 or -1 (errno set). */
int report_series_csv(FILE *f, const struct run_point *pts, int n);

#endif
