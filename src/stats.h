/* stats: what a run measures, in blocks that shards fill and the metrics
 * actor merges. A window is one shard's measurements over one second (or
 * any span); windows merge exactly (histograms included), so a run's
 * cumulative summary is the merge of all its windows.
 * Latencies are µs: `lat` counts from when a request was due (open model:
 * its scheduled start), `svc` from when it was written (service time). */
#ifndef STAMPEDE_STATS_H
#define STAMPEDE_STATS_H

#include "hist.h"

#include <stdint.h>

enum err_kind {
    ERR_DNS,
    ERR_CONNECT,
    ERR_TLS,
    ERR_TIMEOUT,
    ERR_RESET,
    ERR_CLOSED,
    ERR_BAD_RESPONSE,
    ERR_HTTP_4XX,
    ERR_HTTP_5XX,
    ERR_CHECK_FAILED,
    ERR_COUNT
};

const char *err_kind_name(enum err_kind k);

#define STATUS_MIN 100
#define STATUS_SLOTS 500 /* 100..599 */

struct step_stats {
    struct hist lat;
    struct hist svc;
    uint64_t requests;      /* finished: answered or failed */
    uint64_t failed;        /* transport error or status >= 400 */
    uint64_t retries;       /* of those, sent a second time on a fresh connection after
                               a stale keep-alive one failed (both reached the wire) */
    uint64_t bytes_in, bytes_out;
    uint64_t checks_passed, checks_failed;
    uint64_t errors[ERR_COUNT];
    uint64_t status[STATUS_SLOTS];
};

struct stats_window {
    int nsteps;
    struct step_stats *steps;
    struct hist iter_dur;         /* µs, from an iteration's due time */
    struct hist send_lag;         /* open model: µs an iteration started after its due
                                     time (the generator's lateness, not the target's) */
    uint64_t iterations;          /* completed */
    uint64_t dropped_iterations;  /* open model: no VU was free */
    uint64_t interrupted_iterations; /* cut by the end of the graceful stop */
    uint64_t retries;             /* the steps' retries summed */
    uint64_t backoff_us;          /* VU time spent backing off after pre-byte failures */
    uint32_t vus;                 /* gauge: VUs in an iteration at the window's end (closed
                                     model), the most at once during it (open model) */
    uint32_t vus_max;             /* gauge: allocated VUs */
};

/* A zeroed window for nsteps steps. Never NULL; free with stats_window_free. */
struct stats_window *stats_window_new(int nsteps);
void stats_window_free(struct stats_window *w);
void stats_window_reset(struct stats_window *w);
/* dst += src (counters, histograms); gauges add up too (shards' VUs sum). */
void stats_window_merge(struct stats_window *dst, const struct stats_window *src);
void step_stats_init(struct step_stats *s);
void step_stats_merge(struct step_stats *dst, const struct step_stats *src);
/* All steps merged into one (the run's totals). */
void stats_window_total(const struct stats_window *w, struct step_stats *out);

#endif
