/* run_point: one second of a run, as kept in the series and exported. */
#ifndef STAMPEDE_RUN_POINT_H
#define STAMPEDE_RUN_POINT_H

#include <stdint.h>

struct run_point {
    uint32_t second;         /* since the run's start */
    double span_s;           /* time the point covers (the last one is shorter) */
    int warmup;
    uint64_t requests, failed, retries, iterations, dropped, bytes_in, bytes_out;
    uint64_t errors;         /* all categories */
    uint32_t vus;
    double rps;
    double min_ms, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms, p99_9_ms, max_ms; /* corrected */
    double send_lag_p99_ms;  /* open model; NaN when nothing started */
};

#endif
