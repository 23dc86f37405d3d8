/* run_exec: a shard's executors — the closed model keeping its VUs at the
 * target, the open model starting an iteration per arrival from a timerfd
 * (or the tick), and the shard's peak rate. */
#include "run_shard_int.h"

#include "clock.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Closed model: bring the active VUs up to the target (down happens as
 * VUs finish their iteration). */
void shard_closed_adjust(struct shard *s, uint64_t now)
{
    long total = lround(exec_control_value(&s->ctl, &s->prof, ptime(s, now)));
    s->target = exec_split_share(total, s->index, s->n);
    if (s->load->executor == EXEC_PER_VU_ITERATIONS) {
        int left = s->vu_quota - s->finished_vus;
        if (s->target > left)
            s->target = left;
    }
    while (s->active < s->target && s->phase == PH_RUNNING) {
        struct vu *v = shard_pop_idle(s);
        if (!v) {
            if (s->load->executor == EXEC_PER_VU_ITERATIONS && s->nvus >= s->vu_quota)
                break;
            v = shard_vu_new(s);
        }
        shard_vu_begin(s, v, now, now);
    }
}

void shard_set_afd(struct shard *s, uint64_t at_us)
{
    if (s->ticking && s->phase != PH_DONE)
        return; /* the ticker keeps polling I/O until the shard is done */
    if (at_us == s->armed_us || s->afd < 0)
        return; /* re-arming costs a syscall: only when the time changes */
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (at_us) {
        its.it_value.tv_sec = (time_t)(at_us / 1000000u);
        its.it_value.tv_nsec = (long)(at_us % 1000000u) * 1000;
    }
    if (timerfd_settime(s->afd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        shard_fail(s, "cannot arm the arrival timer: %s", strerror(errno));
        return;
    }
    s->armed_us = at_us;
}

/* Event mode: wake for the next arrival, exactly. Tick mode: the ticker
 * runs from start to finish and covers arrivals too. */
void shard_arm_arrival(struct shard *s, uint64_t now)
{
    (void)now;
    if (s->ticking)
        return;
    if (s->next_arrival == UINT64_MAX || s->paused || s->phase != PH_RUNNING) {
        shard_set_afd(s, 0);
        return;
    }
    shard_set_afd(s, mono_of(s, s->next_arrival));
}

void shard_start_ticker(struct shard *s, uint64_t first_us)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(first_us / 1000000u);
    its.it_value.tv_nsec = (long)(first_us % 1000000u) * 1000;
    its.it_interval.tv_nsec = TICK_US * 1000;
    if (timerfd_settime(s->afd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        shard_fail(s, "cannot arm the tick timer: %s", strerror(errno));
        return;
    }
    s->armed_us = first_us;
}

/* Planned peak rate of this shard (per second). */
double shard_peak_rate(const struct shard *s)
{
    double peak = s->prof.start;
    for (int i = 0; i < s->prof.nseg; i++)
        if (s->prof.v_end[i] > peak)
            peak = s->prof.v_end[i];
    return peak / s->n;
}

void shard_arrivals(struct shard *s, uint64_t now)
{
    uint64_t pt = ptime(s, now);
    uint64_t horizon = s->prof.length_us;
    double share = 1.0 / s->n;
    uint64_t window = pt + (s->ticking ? TICK_US : 0);
    while (s->next_arrival <= window && s->next_arrival != UINT64_MAX && s->phase == PH_RUNNING) {
        uint64_t due = mono_of(s, s->next_arrival);
        struct vu *v = shard_pop_idle(s);
        if (!v && s->nvus < s->max_vus)
            v = shard_vu_new(s);
        if (v)
            shard_vu_begin(s, v, due, now);
        else
            s->win->dropped_iterations++;
        s->next_arrival = exec_arrival_next(&s->ctl, &s->prof, share, s->next_arrival, horizon, &s->carry);
    }
    shard_arm_arrival(s, now);
}

void shard_on_arrival(evutil_socket_t fd, short what, void *arg)
{
    struct shard *s = arg;
    uint64_t expirations;
    (void)what;
    if (read(fd, &expirations, sizeof expirations) < 0)
        return; /* EAGAIN: re-armed meanwhile */
    if (s->ticking) {
        httpc_loop_poll(s->hl); /* completions first: VUs come free */
    } else {
        s->armed_us = 0;
    }
    if (s->phase == PH_RUNNING && !s->paused)
        shard_arrivals(s, clock_now_us());
}
