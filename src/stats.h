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

enum stats_err {
    STATS_ERR_DNS,
    STATS_ERR_CONNECT,
    STATS_ERR_TLS,
    STATS_ERR_TIMEOUT,
    STATS_ERR_RESET,
    STATS_ERR_CLOSED,
    STATS_ERR_BAD_RESPONSE,
    STATS_ERR_HTTP_4XX,
    STATS_ERR_HTTP_5XX,
    STATS_ERR_CHECK_FAILED,
    STATS_ERR_EXTRACT_FAILED, /* an extraction found nothing; or a step not sent
                                 because a variable it needs failed to extract */
    STATS_ERR_COUNT
};

const char *stats_err_name(enum stats_err k);

#define STATS_STATUS_MIN 100
#define STATS_STATUS_SLOTS 500 /* 100..599 */

struct stats_step {
    struct hist lat;
    struct hist svc;
    uint64_t requests;      /* finished: answered or failed */
    uint64_t failed;        /* transport error or status >= 400 */
    uint64_t retries;       /* of those, sent a second time on a fresh connection after
                               a stale keep-alive one failed (both reached the wire) */
    uint64_t bytes_in, bytes_out;
    uint64_t documents;     /* telemetry: documents in requests the destination took (2xx, 3xx) */
    uint64_t checks_passed, checks_failed;
    uint64_t errors[STATS_ERR_COUNT];
    uint64_t status[STATS_STATUS_SLOTS];
};

struct stats_window {
    int nsteps;                   /* every step: an iteration's, setup's, teardown's */
    int nmain;                    /* the first nmain: an iteration's (the totals) */
    struct stats_step *steps;
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

/* A zeroed window for nsteps steps, the first nmain of them an
 * iteration's. Never NULL; free with stats_window_free. */
struct stats_window *stats_window_new(int nsteps, int nmain);
void stats_window_free(struct stats_window *w);
void stats_window_reset(struct stats_window *w);
/* dst += src (counters, histograms); gauges add up too (shards' VUs sum). */
void stats_window_merge(struct stats_window *dst, const struct stats_window *src);
void stats_step_init(struct stats_step *s);
void stats_step_merge(struct stats_step *dst, const struct stats_step *src);
/* An iteration's steps merged into one (the run's totals: setup and
 * teardown are reported apart). */
void stats_window_total(const struct stats_window *w, struct stats_step *out);

#endif
