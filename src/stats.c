/* stats: measurement windows and their exact merge. */
#include "stats.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

static const char *const err_names[STATS_ERR_COUNT] = {
    "dns", "connect", "tls", "timeout", "reset", "closed", "bad_response", "http_4xx",
    "http_5xx", "check_failed", "extract_failed",
};

const char *stats_err_name(enum stats_err k)
{
    return (unsigned)k < STATS_ERR_COUNT ? err_names[k] : "unknown";
}

void stats_step_init(struct stats_step *s)
{
    memset(s, 0, sizeof *s);
    hist_init(&s->lat);
    hist_init(&s->svc);
}

void stats_step_merge(struct stats_step *dst, const struct stats_step *src)
{
    hist_merge(&dst->lat, &src->lat);
    hist_merge(&dst->svc, &src->svc);
    dst->requests += src->requests;
    dst->failed += src->failed;
    dst->retries += src->retries;
    dst->bytes_in += src->bytes_in;
    dst->bytes_out += src->bytes_out;
    dst->documents += src->documents;
    dst->checks_passed += src->checks_passed;
    dst->checks_failed += src->checks_failed;
    for (int i = 0; i < STATS_ERR_COUNT; i++)
        dst->errors[i] += src->errors[i];
    for (int i = 0; i < STATS_STATUS_SLOTS; i++)
        dst->status[i] += src->status[i];
}

struct stats_window *stats_window_new(int nsteps, int nmain)
{
    struct stats_window *w = xcalloc(1, sizeof *w);
    w->nsteps = nsteps;
    w->nmain = nmain < nsteps ? nmain : nsteps;
    w->steps = xmalloc((size_t)(nsteps > 0 ? nsteps : 1) * sizeof *w->steps);
    stats_window_reset(w);
    return w;
}

void stats_window_free(struct stats_window *w)
{
    if (!w)
        return;
    free(w->steps);
    free(w);
}

void stats_window_reset(struct stats_window *w)
{
    for (int i = 0; i < w->nsteps; i++)
        stats_step_init(&w->steps[i]);
    hist_init(&w->iter_dur);
    hist_init(&w->send_lag);
    w->iterations = w->dropped_iterations = w->interrupted_iterations = w->retries = 0;
    w->backoff_us = 0;
    w->vus = w->vus_max = 0;
}

void stats_window_merge(struct stats_window *dst, const struct stats_window *src)
{
    int n = dst->nsteps < src->nsteps ? dst->nsteps : src->nsteps;
    for (int i = 0; i < n; i++)
        stats_step_merge(&dst->steps[i], &src->steps[i]);
    hist_merge(&dst->iter_dur, &src->iter_dur);
    hist_merge(&dst->send_lag, &src->send_lag);
    dst->backoff_us += src->backoff_us;
    dst->iterations += src->iterations;
    dst->dropped_iterations += src->dropped_iterations;
    dst->interrupted_iterations += src->interrupted_iterations;
    dst->retries += src->retries;
    dst->vus += src->vus;
    dst->vus_max += src->vus_max;
}

void stats_window_total(const struct stats_window *w, struct stats_step *out)
{
    stats_step_init(out);
    for (int i = 0; i < w->nmain; i++)
        stats_step_merge(out, &w->steps[i]);
}
