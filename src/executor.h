/* executor: the load a run should apply at each instant, and how live
 * control changes it.
 *
 * A profile is the planned load as a piecewise-linear function of profile
 * time (µs since the start, paused time excluded): VUs for the closed
 * executors, iterations per second for the arrival-rate ones. A control
 * sits on top: a scale factor (percent of planned load) and an optional
 * override (an absolute level), each ramping linearly to its new value.
 *     value(t) = (override active ? override(t) : planned(t)) * scale(t)
 * Everything here is pure arithmetic: no clocks, no allocation after init. */
#ifndef STAMPEDE_EXECUTOR_H
#define STAMPEDE_EXECUTOR_H

#include "script.h"

#include <stdint.h>

#define EXEC_PROFILE_MAX_SEGMENTS 128

struct exec_profile {
    int open;          /* values are rates (per second), else VUs */
    double start;      /* value at t = 0 */
    int nseg;
    uint64_t t_end[EXEC_PROFILE_MAX_SEGMENTS];  /* segment i ends here (µs) */
    double v_end[EXEC_PROFILE_MAX_SEGMENTS];    /* value at its end */
    uint64_t length_us; /* planned duration: the last t_end */
};

struct exec_ramp {
    double from, to;
    uint64_t t0, t1; /* from at t0, to at t1 (and after) */
};

struct exec_control {
    struct exec_ramp scale;    /* 1.0 = planned load */
    int override;
    struct exec_ramp level;    /* absolute level when override is set */
};

/* The planned load of a script (rates converted to per second). */
void exec_profile_from_load(struct exec_profile *p, const struct script_load *l);
double exec_profile_at(const struct exec_profile *p, uint64_t t_us);

void exec_control_init(struct exec_control *c);
double exec_control_value(const struct exec_control *c, const struct exec_profile *p, uint64_t t_us);
double exec_control_scale_at(const struct exec_control *c, uint64_t t_us);
/* Ramp the scale to `scale` (1.0 = 100%) over ramp_us starting at t_us. */
void exec_control_set_scale(struct exec_control *c, uint64_t t_us, double scale, uint64_t ramp_us);
/* Ramp the absolute level to `value` over ramp_us from the current value;
 * resets the scale to 1. */
void exec_control_set_level(struct exec_control *c, const struct exec_profile *p, uint64_t t_us, double value,
                       uint64_t ramp_us);

/* Open model: the profile time of the next arrival after an arrival at
 * t_us, for the share `share` (0..1] of the total rate. Integrates the
 * rate exactly for constant stretches and within 1 ms steps otherwise.
 * Returns UINT64_MAX when no arrival happens before `horizon_us`. */
uint64_t exec_arrival_next(const struct exec_control *c, const struct exec_profile *p, double share,
                      uint64_t t_us, uint64_t horizon_us, double *carry);

/* Integer split of `total` among n shards: shard i's part. Parts differ by
 * at most one and sum to total. */
int exec_split_share(long total, int i, int n);

#endif
