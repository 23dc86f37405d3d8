/* run_shard: the actor of one shard of a run — start (DNS, TLS, timers),
 * live control, per-second windows, draining and finishing. Its VUs and
 * executors are in run_vus.c, request bytes in run_render.c. */
#include "run_shard_int.h"

#include "clock.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void shard_handle(actor_t *self, msg_t *m);

/* ---- windows ---- */

static void send_window(struct shard *s, uint64_t now, int partial, int last)
{
    struct shard_window *w = MSG_NEW(MSG_SHARD_WINDOW, struct shard_window);
    w->run_id = s->run_id;
    w->shard = s->index;
    w->second = s->second;
    w->span_us = now > s->win_start_us ? now - s->win_start_us : 0;
    w->warmup = s->in_warmup;
    w->partial = partial;
    w->last = last;
    /* Closed model: the VUs running at the window's end (what the profile
     * and live control set). Open model: the most busy at once during the
     * window; at its end alone, fast responses make a run look idle. */
    s->win->vus = (uint32_t)(s->open && s->active_peak > s->active ? s->active_peak : s->active);
    s->active_peak = s->active;
    s->win->vus_max = (uint32_t)s->nvus;
    w->w = s->win;
    s->win = stats_window_new(s->sc->nsteps, s->sc->nmain);
    s->win_start_us = now;
    /* Urgent: metrics must see every window, and there is one per second. */
    if (actor_send_urgent(s->metrics, &w->m) < 0) {
        stats_window_free(w->w);
        msg_free(&w->m);
    }
}

static void finish(struct shard *s)
{
    if (s->phase == PH_DONE)
        return;
    s->phase = PH_DONE;
    uint64_t now = clock_now_us();
    actor_timer_stop(s->tick);
    actor_timer_stop(s->ctl_tick);
    actor_timer_stop(s->grace);
    actor_timer_stop(s->warmup);
    shard_set_afd(s, 0);
    if (s->sleep_ev)
        evtimer_del(s->sleep_ev);
    s->sleep_armed_us = 0;
    /* In-flight iterations past the graceful stop are interrupted. */
    for (int i = 0; i < s->nvus; i++) {
        struct vu *v = s->vus[i];
        if (!v->active)
            continue;
        s->win->interrupted_iterations += v->stage == VS_ITER || v->stage == VS_SETUP;
        v->active = 0;
        shard_sleep_cancel(v);
        for (int k = 0; k < s->sc->norigins; k++)
            httpc_conn_close(&v->conns[k]);
    }
    s->active = 0;
    send_window(s, now, 0, 1);
    struct shard_done *d = MSG_NEW(MSG_SHARD_DONE, struct shard_done);
    d->run_id = s->run_id;
    d->shard = s->index;
    struct httpc_counters hc = { 0 };
    if (s->hl)
        hc = httpc_loop_counters(s->hl);
    d->connects = hc.connects;
    d->retries = hc.retries;
    snprintf(d->error, sizeof d->error, "%s", s->error);
    if (actor_send_urgent(s->supervisor, &d->m) < 0)
        msg_free(&d->m);
}

/* A setup or system call failed: the shard cannot do its part. Say why
 * and end it now; runs ends the run with the reason (never a run that
 * silently does nothing). */
void shard_fail(struct shard *s, const char *fmt, ...)
{
    if (s->error[0] || s->phase == PH_DONE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    alog_error(s->self, "%s", s->error);
    finish(s);
}

void shard_check_drained(struct shard *s)
{
    if (s->phase == PH_RUNNING && s->load->executor == EXEC_PER_VU_ITERATIONS &&
        s->finished_vus >= s->vu_quota)
        s->phase = PH_DRAINING;
    if (s->phase == PH_DRAINING && s->active == 0)
        finish(s);
}

void shard_begin_drain(struct shard *s)
{
    if (s->phase != PH_RUNNING)
        return;
    s->phase = PH_DRAINING;
    shard_set_afd(s, 0);
    actor_timer_start(s->grace, s->load->graceful_stop_us, 0);
    /* VUs sleeping between iterations will not start another; one
     * backing off inside an iteration finishes it within the grace */
    for (int i = 0; i < s->nvus; i++) {
        struct vu *v = s->vus[i];
        if (v->sleeping && v->stage == VS_BETWEEN) {
            shard_sleep_cancel(v);
            shard_vu_park(s, v);
        }
    }
    shard_teardown_idle(s, clock_now_us());
    shard_check_drained(s);
}

static void on_ctl_tick(struct shard *s)
{
    uint64_t now = clock_now_us();
    if (s->phase != PH_RUNNING)
        return;
    if (ptime(s, now) >= s->prof.length_us) {
        /* arrivals due before the end that a late generator has not
         * released yet start now (timed from their due time), never lost */
        if (s->open && !s->paused)
            shard_arrivals(s, now);
        shard_begin_drain(s);
        return;
    }
    if (s->paused)
        return;
    if (s->open)
        shard_arrivals(s, now);
    else
        shard_closed_adjust(s, now);
}

/* ---- control ---- */

static void apply_control(struct shard *s, const struct run_control *rc)
{
    uint64_t now = clock_now_us();
    uint64_t pt = ptime(s, now);
    switch (rc->op) {
    case RUN_OP_SET_RATE:
        if (s->ts && rc->stream >= 0 && rc->stream < s->sc->nmain) {
            shard_telemetry_rates(s, rc->stream, rc->value);
            break;
        }
        /* fall through */
    case RUN_OP_SET_VUS:
        /* the level is for the whole run; each shard applies its share */
        exec_control_set_level(&s->ctl, &s->prof, pt, rc->value, rc->ramp_us);
        break;
    case RUN_OP_SCALE:
        exec_control_set_scale(&s->ctl, pt, rc->value / 100.0, rc->ramp_us);
        break;
    case RUN_OP_PAUSE:
        if (!s->paused) {
            s->paused = 1;
            s->paused_at = now;
            shard_set_afd(s, 0);
        }
        return;
    case RUN_OP_RESUME:
        if (s->paused) {
            s->paused_total += now - s->paused_at;
            s->paused = 0;
        }
        break;
    case RUN_OP_STOP:
        shard_begin_drain(s);
        return;
    }
    if (s->phase != PH_RUNNING)
        return;
    if (s->open) {
        /* re-plan from now: the next arrival follows the new rate */
        s->carry = 0;
        s->next_arrival = exec_arrival_next(&s->ctl, &s->prof, 1.0 / s->n, pt, s->prof.length_us, &s->carry);
        shard_set_afd(s, 0);
        shard_arm_arrival(s, now);
    } else {
        shard_closed_adjust(s, now);
    }
}

/* ---- start ---- */

static void go(struct shard *s)
{
    uint64_t now = clock_now_us();
    s->phase = PH_RUNNING;
    s->win_start_us = s->t0; /* the first window covers [t0, t0 + 1 s) */
    /* windows end on the run's second boundaries, so all shards agree */
    actor_timer_start_at(s->tick, s->t0 + 1000000u, 1000000u);
    actor_timer_start_at(s->ctl_tick, s->t0, CTL_TICK_US);
    if (s->load->warmup_us) {
        s->in_warmup = 1;
        actor_timer_start_at(s->warmup, s->t0 + s->load->warmup_us, 0);
    }
    if (s->open) {
        s->carry = 0;
        /* shards interleave: shard i's first arrival is i global intervals in */
        double r = exec_control_value(&s->ctl, &s->prof, 0);
        if (r > 0)
            s->next_arrival = (uint64_t)((double)s->index * 1e6 / r);
        else
            s->next_arrival = exec_arrival_next(&s->ctl, &s->prof, 1.0 / s->n, 0, s->prof.length_us, &s->carry);
        int prealloc = exec_split_share(s->load->pre_allocated_vus, s->index, s->n);
        for (int i = 0; i < prealloc; i++)
            shard_push_idle(s, shard_vu_new(s));
        if (s->ticking)
            shard_start_ticker(s, s->t0);
        if (s->t0 <= now)
            shard_arrivals(s, now);
        else
            shard_arm_arrival(s, now);
    }
    /* closed executors start at the first control tick (t0) */
}

struct resolve_ctx {
    struct shard *s;
    int origin;
};

static void on_resolved_ctx(int err, struct evutil_addrinfo *ai, void *arg)
{
    struct resolve_ctx *rc = arg;
    struct shard *s = rc->s;
    if (err != EVUTIL_EAI_CANCEL) {
        struct httpc_origin *o = &s->origins[rc->origin];
        if (!err && ai) {
            memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
            o->addrlen = (socklen_t)ai->ai_addrlen;
        }
        if (ai)
            evutil_freeaddrinfo(ai);
        if (err)
            alog_warn(s->self, "cannot resolve %s: %s (requests to it count as dns errors)",
                      s->sc->origins[rc->origin].host, evutil_gai_strerror(err));
    } else if (ai) {
        evutil_freeaddrinfo(ai);
    }
    free(rc);
    if (--s->dns_pending == 0 && s->phase == PH_INIT)
        go(s);
}

static void start(struct shard *s, struct shard_start *st)
{
    s->sc = st->script;
    s->load = &s->sc->load;
    s->nsteps = s->sc->nsteps;
    s->norigins = s->sc->norigins;
    s->index = st->index;
    s->n = st->nshards;
    s->t0 = st->t0_us;
    s->supervisor = st->supervisor;
    s->metrics = st->metrics;
    struct event_base *base = actor_base(s->self);
    exec_profile_from_load(&s->prof, s->load);
    s->n = st->nshards;
    s->ticking = s->prof.open && shard_peak_rate(s) > TICK_RATE;
    s->hl = httpc_loop_new(base, s->ticking);
    s->ticking = httpc_loop_ticking(s->hl);
    s->tick = actor_timer_new(s->self, TAG_SECOND);
    s->ctl_tick = actor_timer_new(s->self, TAG_CTL);
    s->grace = actor_timer_new(s->self, TAG_GRACE);
    s->warmup = actor_timer_new(s->self, TAG_WARMUP);
    s->win = stats_window_new(s->sc->nsteps, s->sc->nmain);
    s->sleep_ev = evtimer_new(base, shard_on_sleep, s);
    minheap_init(&s->sleepers);
    s->afd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->afd < 0 || !s->hl || !s->sleep_ev) {
        shard_fail(s, "cannot set up the shard: %s", s->afd < 0 ? strerror(errno) : "out of event slots");
        return;
    }
    s->arrival_ev = event_new(base, s->afd, EV_READ | EV_PERSIST, shard_on_arrival, s);
    if (!s->arrival_ev || event_add(s->arrival_ev, NULL) < 0) {
        shard_fail(s, "cannot watch the arrival timer");
        return;
    }
    exec_profile_from_load(&s->prof, s->load);
    exec_control_init(&s->ctl);
    if (st->percent > 0 && st->percent != 100)
        exec_control_set_scale(&s->ctl, 0, st->percent / 100.0, 0);
    s->open = s->prof.open;
    s->max_vus = exec_split_share(s->load->max_vus, s->index, s->n);
    s->vu_quota = exec_split_share(s->load->vus, s->index, s->n);
    tmpl_rng_seed(s->rng);
    s->md = extract_match_data();
    s->nvars = s->sc->vars.n;
    s->ds_next = s->index; /* dataset rows: shard i takes i, i + n, i + 2n, ... */
    if (s->sc->telemetry) {
        s->ts = xcalloc((size_t)s->sc->nmain, sizeof *s->ts);
        shard_telemetry_rates(s, -1, 0);
    }
    shard_render_requests(s);

    int need_tls = 0;
    s->origins = xcalloc((size_t)s->sc->norigins, sizeof *s->origins);
    for (int i = 0; i < s->sc->norigins; i++)
        need_tls |= s->sc->origins[i].tls;
    if (need_tls) {
        char err[200];
        s->tls = httpc_tls_new(!s->sc->insecure_skip_tls_verify, err, sizeof err);
        if (!s->tls) {
            shard_fail(s, "%s", err);
            return;
        }
    }
    s->dns_pending = 1; /* held until every lookup has been started */
    for (int i = 0; i < s->sc->norigins; i++) {
        const struct script_origin *so = &s->sc->origins[i];
        struct httpc_origin *o = &s->origins[i];
        o->tls = so->tls;
        o->tls_cfg = s->tls;
        o->sni = so->host;
        struct sockaddr_in *a4 = (struct sockaddr_in *)&o->addr;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o->addr;
        if (inet_pton(AF_INET, so->host, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons(so->port);
            o->addrlen = sizeof *a4;
        } else if (inet_pton(AF_INET6, so->host, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons(so->port);
            o->addrlen = sizeof *a6;
        } else {
            if (!s->dns) {
                s->dns = loop_dns_new(base); /* the run waits for its lookups: bounded */
                if (!s->dns) {
                    shard_fail(s, "cannot start a DNS resolver for %s", so->host);
                    return;
                }
            }
            struct evutil_addrinfo hints;
            memset(&hints, 0, sizeof hints);
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            char port[8];
            snprintf(port, sizeof port, "%u", so->port);
            struct resolve_ctx *rc = xmalloc(sizeof *rc);
            rc->s = s;
            rc->origin = i;
            s->dns_pending++;
            /* may answer at once (hosts file): on_resolved_ctx handles both */
            evdns_getaddrinfo(s->dns, so->host, port, &hints, on_resolved_ctx, rc);
        }
    }
    if (--s->dns_pending == 0)
        go(s);
}

static void release(struct shard *s)
{
    for (int i = 0; i < s->nvus; i++) {
        for (int k = 0; k < s->norigins; k++)
            httpc_conn_close(&s->vus[i]->conns[k]);
        struct vu *v = s->vus[i];
        for (int k = 0; v->own && k < s->nvars; k++)
            sbuf_deinit(&v->own[k]);
        free(v->own);
        free(v->failed);
        free(v->vars);
        sbuf_deinit(&v->out);
        sbuf_deinit(&v->body);
        sbuf_deinit(&v->headers);
        free(s->vus[i]);
    }
    free(s->vus);
    shard_render_free(s);
    for (int i = 0; s->origins && i < s->norigins; i++)
        httpc_origin_release(&s->origins[i]);
    free(s->origins);
    httpc_tls_free(s->tls);
    if (s->dns)
        evdns_base_free(s->dns, 0);
    if (s->arrival_ev)
        event_free(s->arrival_ev);
    if (s->afd >= 0)
        close(s->afd);
    if (s->sleep_ev)
        event_free(s->sleep_ev);
    minheap_deinit(&s->sleepers);
    free(s->ts);
    if (s->md)
        pcre2_match_data_free(s->md);
    actor_timer_free(s->tick);
    actor_timer_free(s->ctl_tick);
    actor_timer_free(s->grace);
    actor_timer_free(s->warmup);
    httpc_loop_free(s->hl);
    stats_window_free(s->win);
    actor_t *self = s->self;
    free(s);
    actor_close(self);
}

static void shard_handle(actor_t *self, msg_t *m)
{
    struct shard *s = actor_state(self);
    switch (m->type) {
    case MSG_TIMER: {
        struct msg_timer *t = (struct msg_timer *)m;
        uint64_t now = clock_now_us();
        switch (t->tag) {
        case TAG_SECOND:
            send_window(s, now, 0, 0);
            s->second++;
            break;
        case TAG_CTL:
            on_ctl_tick(s);
            break;
        case TAG_GRACE:
            finish(s);
            break;
        case TAG_WARMUP:
            if (ptime(s, now) < s->load->warmup_us) { /* paused meanwhile */
                actor_timer_start(s->warmup, s->load->warmup_us - ptime(s, now), 0);
            } else if (s->in_warmup) {
                /* When the second timer for the same instant ran first, the
                 * open window began after the warmup ended: none of it is
                 * warmup. Otherwise close the warmup part of this second. */
                if (ptime(s, s->win_start_us) < s->load->warmup_us)
                    send_window(s, now, 1, 0);
                s->in_warmup = 0;
            }
            break;
        }
        return;
    }
    case MSG_SHARD_START:
        start(s, (struct shard_start *)m);
        break;
    case MSG_RUN_CONTROL:
        if (s->phase == PH_RUNNING || s->phase == PH_INIT)
            apply_control(s, (struct run_control *)m);
        break;
    case MSG_SHARD_RELEASE:
        msg_free(m);
        release(s);
        return;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *run_shard_new(struct loop *l, uint64_t run_id, int index)
{
    struct shard *s = xcalloc(1, sizeof *s);
    s->run_id = run_id;
    s->index = index;
    s->phase = PH_INIT;
    s->afd = -1;
    s->self = actor_new(l, "run_shard", index, shard_handle, s, 0);
    return s->self;
}
