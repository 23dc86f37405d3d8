/* threshold: pass/fail criteria on run metrics, in k6's language:
 *   "http_req_duration": ["p(95)<200", "avg<100"], "http_req_failed": ["rate<0.01"]
 * A metric may be narrowed to one step: "http_req_duration{step:home}".
 * Durations are in milliseconds, rates are fractions 0..1 (or per second
 * for counters), counts are totals. */
#ifndef STAMPEDE_THRESHOLD_H
#define STAMPEDE_THRESHOLD_H

#include <stddef.h>
#include <stdint.h>

enum threshold_metric {
    TM_HTTP_REQ_DURATION,       /* ms, latency counted from when the request was due */
    TM_HTTP_REQ_DURATION_UNCORRECTED, /* ms, from when it was sent (service time) */
    TM_HTTP_REQ_FAILED,         /* rate of failed requests (transport error or status >= 400) */
    TM_HTTP_REQS,               /* count, rate (per second) */
    TM_ITERATIONS,              /* count, rate */
    TM_ITERATION_DURATION,      /* ms */
    TM_DROPPED_ITERATIONS,      /* count, rate */
    TM_CHECKS,                  /* rate of passed checks */
    TM_DATA_RECEIVED,           /* count (bytes), rate */
    TM_DATA_SENT,               /* count (bytes), rate */
};

enum threshold_agg {
    TA_AVG, TA_MIN, TA_MAX, TA_MED, TA_P, /* trend metrics (durations) */
    TA_COUNT,                             /* counters */
    TA_RATE,                              /* counters: per second; rate metrics: fraction */
};

enum threshold_op { TO_LT, TO_LE, TO_GT, TO_GE, TO_EQ, TO_NE };

struct threshold {
    enum threshold_metric metric;
    int step;                /* index into script.steps, or -1 for the whole run */
    enum threshold_agg agg;
    double p;                /* TA_P: percentile 0 < p <= 100 */
    enum threshold_op op;
    double value;
    int abort_on_fail;
    uint64_t delay_abort_eval_us; /* no abort before this much run time */
    char *metric_text;       /* as written: "http_req_duration{step:home}" */
    char *expr_text;         /* as written: "p(95)<200" */
};

/* Parse "p(95)<200" etc. for a metric; -1 with a message if invalid or the
 * aggregation does not apply to the metric. */
int threshold_parse_expr(enum threshold_metric metric, const char *text, struct threshold *t,
                         char *err, size_t errlen);
/* Parse a metric name with an optional {step:NAME} filter; step names are
 * resolved against the script. */
int threshold_parse_metric(const char *text, enum threshold_metric *metric, char *step_name,
                           size_t step_len, char *err, size_t errlen);
const char *threshold_metric_name(enum threshold_metric m);
/* 1 if observed satisfies the threshold (NaN never does). */
int threshold_holds(const struct threshold *t, double observed);

void threshold_deinit(struct threshold *t);

#endif
