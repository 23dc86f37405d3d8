/* series: a run's per-second rows as stored in PostgreSQL (run_series),
 * written by the metrics actor and read back by the REST API.
 *
 * Write side: one second of a script becomes rows — the script total
 * (step "", with the iteration counts) and one per step — as JSON objects
 * whose histograms are hist.c's encoding in hex; the series writer wraps
 * them with their run and script ids and inserts them in one statement.
 *
 * Read side: rows selected with SERIES_SELECT_COLS are merged into
 * buckets (exactly: counters add, histograms merge), so any window and
 * any resolution re-aggregates to the percentiles a live run would have
 * reported for it. */
#ifndef STAMPEDE_SERIES_H
#define STAMPEDE_SERIES_H

#include "script.h"
#include "stats.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

/* Append to g (inside an open array) the rows of one second of a script:
 * the total first, then each step. span_ms is the time the second covers. */
void series_gen_rows(yajl_gen g, const struct script *sc, const struct stats_window *w,
                     uint32_t second, uint32_t span_ms, int warmup);

/* The INSERT of a batch: $1 is a JSON array of {"r": run id, "s": script
 * id, "rows": [...rows of series_gen_rows...]}. Rows already stored are
 * skipped, so a batch sent twice is harmless. */
extern const char SERIES_INSERT_SQL[];

/* Columns to select from run_series for series_acc_add_row, in order. */
#define SERIES_SELECT_COLS                                                              \
    "second, warmup, span_ms, requests, failed, bytes_in, bytes_out, checks_passed, "  \
    "checks_failed, iterations, dropped, interrupted, vus, vus_max, errors::text, "    \
    "status_codes::text, encode(lat_hist, 'hex'), encode(svc_hist, 'hex'), "           \
    "encode(iter_hist, 'hex'), retries, backoff_ms, encode(lag_hist, 'hex')"

/* A bucket of rows merged. */
struct series_acc {
    uint32_t t;            /* first second of the bucket */
    uint32_t last;         /* last second seen */
    uint64_t span_ms;      /* time covered (seconds of rows of one script add once) */
    int warmup;            /* any row of it was warmup */
    int rows;
    struct stats_step ss;  /* requests, bytes, latency histograms, errors, statuses */
    struct hist iter;
    struct hist send_lag;  /* open model: iterations' lateness */
    uint64_t iterations, dropped, interrupted, backoff_ms;
    uint32_t vus, vus_max; /* the largest seen */
};

/* A bucket starting at second t. Allocates nothing. */
void series_acc_init(struct series_acc *a, uint32_t t);
/* Merge row `row` of r (selected with SERIES_SELECT_COLS from column
 * col0 on). count_span: add its span (once per second; 0 for the second
 * script of a scenario in the same second). 0, or -1 if a stored value
 * is malformed (the bucket may then be partly merged). */
int series_acc_add_row(struct series_acc *a, const PGresult *r, int row, int col0, int count_span);
/* The bucket as a JSON object: {"t", "span_s", "warmup", requests, rps,
 * failed, retries, ..., "latency_ms": {...}, "iterations",
 * "dropped_iterations", "vus", "vus_max", "iteration_duration_ms",
 * "send_lag_ms", "backoff_s"}. */
void series_gen_acc(yajl_gen g, const struct series_acc *a);

#endif
