/* executor: piecewise-linear load profiles, live control, arrival times. */
#include "executor.h"

#include <math.h>
#include <string.h>

static double seconds_per_unit(const struct script_load *l)
{
    return (double)(l->time_unit_us ? l->time_unit_us : 1000000u) / 1e6;
}

void exec_profile_from_load(struct exec_profile *p, const struct script_load *l)
{
    memset(p, 0, sizeof *p);
    p->open = script_load_is_open(l);
    double per_s = p->open ? 1.0 / seconds_per_unit(l) : 1.0;
    switch (l->executor) {
    case EXEC_CONSTANT_VUS:
        p->start = l->vus;
        p->nseg = 1;
        p->t_end[0] = l->duration_us;
        p->v_end[0] = l->vus;
        break;
    case EXEC_PER_VU_ITERATIONS:
        p->start = l->vus;
        p->nseg = 1;
        p->t_end[0] = l->max_duration_us;
        p->v_end[0] = l->vus;
        break;
    case EXEC_CONSTANT_ARRIVAL_RATE:
        p->start = l->rate * per_s;
        p->nseg = 1;
        p->t_end[0] = l->duration_us;
        p->v_end[0] = p->start;
        break;
    case EXEC_RAMPING_VUS:
    case EXEC_RAMPING_ARRIVAL_RATE: {
        p->start = (l->executor == EXEC_RAMPING_VUS ? l->start_vus : l->start_rate) * per_s;
        uint64_t t = 0;
        int n = l->nstages < EXEC_PROFILE_MAX_SEGMENTS ? l->nstages : EXEC_PROFILE_MAX_SEGMENTS;
        for (int i = 0; i < n; i++) {
            t += l->stages[i].duration_us;
            p->t_end[i] = t;
            p->v_end[i] = l->stages[i].target * per_s;
        }
        p->nseg = n;
        break;
    }
    }
    p->length_us = p->nseg ? p->t_end[p->nseg - 1] : 0;
}

double exec_profile_at(const struct exec_profile *p, uint64_t t)
{
    uint64_t t0 = 0;
    double v0 = p->start;
    for (int i = 0; i < p->nseg; i++) {
        if (t < p->t_end[i]) {
            uint64_t span = p->t_end[i] - t0;
            if (span == 0)
                return p->v_end[i];
            return v0 + (p->v_end[i] - v0) * (double)(t - t0) / (double)span;
        }
        t0 = p->t_end[i];
        v0 = p->v_end[i];
    }
    return v0; /* after the end: the last level (the caller stops the run) */
}

static double ramp_at(const struct exec_ramp *r, uint64_t t)
{
    if (t >= r->t1)
        return r->to;
    if (t <= r->t0)
        return r->from;
    return r->from + (r->to - r->from) * (double)(t - r->t0) / (double)(r->t1 - r->t0);
}

void exec_control_init(struct exec_control *c)
{
    memset(c, 0, sizeof *c);
    c->scale.from = c->scale.to = 1.0;
}

double exec_control_scale_at(const struct exec_control *c, uint64_t t)
{
    return ramp_at(&c->scale, t);
}

double exec_control_value(const struct exec_control *c, const struct exec_profile *p, uint64_t t)
{
    double base = c->override ? ramp_at(&c->level, t) : exec_profile_at(p, t);
    double v = base * ramp_at(&c->scale, t);
    return v > 0 ? v : 0;
}

void exec_control_set_scale(struct exec_control *c, uint64_t t, double scale, uint64_t ramp_us)
{
    c->scale.from = ramp_at(&c->scale, t);
    c->scale.to = scale;
    c->scale.t0 = t;
    c->scale.t1 = t + ramp_us;
}

void exec_control_set_level(struct exec_control *c, const struct exec_profile *p, uint64_t t, double value,
                       uint64_t ramp_us)
{
    double now = exec_control_value(c, p, t);
    c->override = 1;
    c->level.from = now;
    c->level.to = value;
    c->level.t0 = t;
    c->level.t1 = t + ramp_us;
    c->scale.from = c->scale.to = 1.0;
    c->scale.t0 = c->scale.t1 = t;
}

/* The next instant after t where the rate function changes slope. */
static uint64_t next_change(const struct exec_control *c, const struct exec_profile *p, uint64_t t)
{
    uint64_t best = UINT64_MAX;
    if (!c->override)
        for (int i = 0; i < p->nseg; i++)
            if (p->t_end[i] > t) {
                best = p->t_end[i];
                break;
            }
    const struct exec_ramp *rs[2] = { &c->scale, c->override ? &c->level : NULL };
    for (int k = 0; k < 2; k++) {
        if (!rs[k])
            continue;
        if (rs[k]->t0 > t && rs[k]->t0 < best)
            best = rs[k]->t0;
        if (rs[k]->t1 > t && rs[k]->t1 < best)
            best = rs[k]->t1;
    }
    return best;
}

uint64_t exec_arrival_next(const struct exec_control *c, const struct exec_profile *p, double share,
                      uint64_t t_us, uint64_t horizon_us, double *carry)
{
    /* carry holds the fraction of an arrival already accumulated: 0..1,
     * or a little below 0 when the last arrival was rounded down. */
    double need = 1.0 - *carry;
    double t = (double)t_us;
    const double step_max = 1000.0; /* µs */
    while (t < (double)horizon_us) {
        uint64_t ti = (uint64_t)t;
        uint64_t change = next_change(c, p, ti);
        double r0 = exec_control_value(c, p, ti) * share / 1e6; /* arrivals per µs */
        double seg_end = change == UINT64_MAX ? (double)horizon_us : (double)change;
        if (seg_end > (double)horizon_us)
            seg_end = (double)horizon_us;
        double r_end = exec_control_value(c, p, (uint64_t)seg_end - (seg_end > t ? 1 : 0)) * share / 1e6;
        if (fabs(r_end - r0) <= 1e-15 * (r0 > 0 ? r0 : 1)) {
            /* constant over [t, seg_end): exact */
            if (r0 <= 0) {
                t = seg_end;
                if (change == UINT64_MAX)
                    break;
                continue;
            }
            double dt = need / r0;
            if (t + dt <= seg_end) {
                double next = t + dt;
                if (next >= (double)horizon_us - 0.5) /* at the end (float error aside): not in it */
                    return UINT64_MAX;
                /* the caller resumes from the rounded microsecond: carry what
                 * rounding took or gave (negative: owed), so the intervals do
                 * not drift (1700/s would be 1700.68/s by 588 µs steps) */
                uint64_t at = (uint64_t)llround(next);
                *carry = ((double)at - next) * r0;
                return at;
            }
            need -= r0 * (seg_end - t);
            t = seg_end;
            continue;
        }
        /* changing: integrate in steps of at most 1 ms (trapezoid), solving
         * the last step linearly */
        double h = seg_end - t < step_max ? seg_end - t : step_max;
        if (h <= 0)
            h = 1;
        double ra = exec_control_value(c, p, (uint64_t)t) * share / 1e6;
        double rb = exec_control_value(c, p, (uint64_t)(t + h)) * share / 1e6;
        double area = 0.5 * (ra + rb) * h;
        if (area >= need) {
            /* within this step: rate linear from ra to rb; solve
             * ra*x + (rb-ra)/(2h)*x^2 = need */
            double a = (rb - ra) / (2 * h), x;
            if (fabs(a) < 1e-18)
                x = need / ra;
            else
                x = (-ra + sqrt(ra * ra + 4 * a * need)) / (2 * a);
            if (!(x >= 0 && x <= h))
                x = h;
            double next = t + x;
            if (next >= (double)horizon_us - 0.5) /* at the end (float error aside): not in it */
                return UINT64_MAX;
            uint64_t at = (uint64_t)llround(next);
            *carry = ((double)at - next) * (ra + (rb - ra) * x / h); /* as above */
            return at;
        }
        need -= area;
        t += h;
    }
    *carry = 1.0 - need;
    if (*carry < 0)
        *carry = 0;
    return UINT64_MAX;
}

int exec_split_share(long total, int i, int n)
{
    if (total <= 0 || n <= 0)
        return 0;
    return (int)((total + n - 1 - i) / n);
}
