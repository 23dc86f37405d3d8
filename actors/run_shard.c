/* run_shard: executors, virtual users and per-second windows of one run. */
#include "run_shard.h"

#include "clock.h"
#include "executor.h"
#include "httpc.h"
#include "minheap.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define CTL_TICK_US 10000u
/* Tick mode, for open-model shards planned above TICK_RATE per second: a
 * periodic timerfd every TICK_US polls the connections (httpc tick mode:
 * completions carry kernel receive timestamps) and releases the arrivals
 * due before the next tick. The loop then wakes once per tick instead of
 * once per arrival and per response — a wake-up costs ~10-20 us of CPU on
 * this VM. A request sent before it was due is timed from its send, so
 * latency is never understated; the load is released in TICK_US slices. */
#define TICK_RATE 2000.0
#define TICK_US 500u

enum { TAG_SECOND = 1, TAG_CTL, TAG_GRACE, TAG_WARMUP };
enum phase { PH_INIT, PH_RUNNING, PH_DRAINING, PH_DONE };

struct shard;

struct vu {
    struct shard *sh;
    int step;
    int active;          /* in an iteration */
    uint32_t iterations;
    uint64_t iter_due_us;
    uint64_t req_due_us;
    uint64_t backoff_us; /* the pause after the last pre-byte failure, 0 = none */
    uint32_t sleep_gen;  /* bumped to cancel its entry in the sleep heap */
    int sleeping;        /* in the sleep heap (think time or backoff) */
    SLIST_ENTRY(vu) idle_link;
    struct httpc_conn conns[]; /* one per origin */
};

struct shard {
    actor_t *self;
    uint64_t run_id;
    int index, n;
    const struct script *sc;   /* read until the last window, never after */
    const struct script_load *load;
    int nsteps, norigins;      /* kept for release, which must not read sc */
    actor_t *supervisor, *metrics;
    struct httpc_loop *hl;
    struct httpc_origin *origins;
    SSL_CTX *ssl_ctx;
    struct evdns_base *dns;
    int dns_pending;
    char **req;               /* pre-rendered request per step */
    size_t *req_len;
    unsigned *req_flags;
    struct exec_profile prof;
    struct exec_control ctl;
    int open;
    enum phase phase;

    struct vu **vus;          /* all allocated */
    int nvus, max_vus;
    SLIST_HEAD(, vu) idle;    /* stack: most recently used first (warm connections) */
    int nidle;
    int active;               /* VUs inside an iteration */
    int active_peak;          /* the most at once since the window began */
    int target;               /* closed: VUs that should be active */
    int finished_vus;         /* per-vu-iterations: VUs that did all their iterations */
    int vu_quota;             /* per-vu-iterations: VUs of this shard */

    uint64_t t0;              /* monotonic profile time 0 */
    uint64_t paused_total, paused_at;
    int paused;
    uint64_t next_arrival;    /* open: profile time of the next arrival */
    double carry;
    int afd;                  /* absolute-time timerfd for arrivals (or ticks) */
    int ticking;              /* tick mode (see TICK_RATE) */
    uint64_t armed_us;        /* what afd is set to, 0 = disarmed */
    struct event *arrival_ev;
    struct minheap sleepers;  /* VUs in think time or backoff, by wake time */
    uint64_t sleep_armed_us;  /* when sleep_ev fires, 0 = not armed */
    struct event *sleep_ev;

    char error[200];          /* why the shard failed, or "" */
    struct stats_window *win;
    uint64_t win_start_us;
    uint32_t second;
    int in_warmup;
    struct actor_timer *tick, *ctl_tick, *grace, *warmup;
};

static void shard_handle(actor_t *self, msg_t *m);
static void shard_fail(struct shard *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- time ---- */

static uint64_t ptime(const struct shard *s, uint64_t now)
{
    uint64_t ref = s->paused ? s->paused_at : now;
    uint64_t t = ref > s->t0 ? ref - s->t0 : 0;
    return t > s->paused_total ? t - s->paused_total : 0;
}

static uint64_t mono_of(const struct shard *s, uint64_t pt)
{
    return s->t0 + s->paused_total + pt;
}

/* ---- measuring ---- */

static void record(struct shard *s, struct vu *v, struct httpc_conn *c, int err, uint64_t now)
{
    const struct script_step *step = &s->sc->steps[v->step];
    struct stats_step *ss = &s->win->steps[v->step];
    ss->requests++;
    ss->retries += (uint64_t)c->retried;
    s->win->retries += (uint64_t)c->retried;
    ss->bytes_in += c->bytes_in;
    ss->bytes_out += c->bytes_out;
    uint64_t lat = now > v->req_due_us ? now - v->req_due_us : 0;
    int failed = 0, pass = 1;
    if (err >= 0) {
        ss->errors[err]++;
        failed = 1;
        pass = 0;
    } else {
        hist_record(&ss->lat, lat);
        hist_record(&ss->svc, now > c->sent_us ? now - c->sent_us : 0);
        int st = c->parser.status;
        if (st >= STATS_STATUS_MIN && st < STATS_STATUS_MIN + STATS_STATUS_SLOTS)
            ss->status[st - STATS_STATUS_MIN]++;
        if (st >= 500) {
            ss->errors[STATS_ERR_HTTP_5XX]++;
            failed = 1;
        } else if (st >= 400) {
            ss->errors[STATS_ERR_HTTP_4XX]++;
            failed = 1;
        }
        const struct script_checks *ck = &step->checks;
        if (ck->status && st != ck->status)
            pass = 0;
        if (ck->status_class && st / 100 != ck->status_class)
            pass = 0;
        if (ck->body_contains && !c->body_found)
            pass = 0;
        if (ck->max_latency_us && lat > ck->max_latency_us)
            pass = 0;
    }
    ss->failed += failed;
    const struct script_checks *ck = &step->checks;
    if (ck->status || ck->status_class || ck->body_contains || ck->max_latency_us) {
        if (pass) {
            ss->checks_passed++;
        } else {
            ss->checks_failed++;
            ss->errors[STATS_ERR_CHECK_FAILED]++;
        }
    }
}

/* ---- VUs ---- */

static void on_response(struct httpc_conn *c, int err, uint64_t now, void *arg);

static struct vu *vu_new(struct shard *s)
{
    int no = s->sc->norigins;
    struct vu *v = xcalloc(1, sizeof *v + (size_t)no * sizeof(struct httpc_conn));
    v->sh = s;
    for (int i = 0; i < no; i++)
        httpc_conn_init(&v->conns[i], s->hl, &s->origins[i], on_response, v);
    if (s->nvus % 64 == 0)
        s->vus = xrealloc(s->vus, (size_t)(s->nvus + 64) * sizeof *s->vus);
    s->vus[s->nvus++] = v;
    return v;
}

static void push_idle(struct shard *s, struct vu *v)
{
    SLIST_INSERT_HEAD(&s->idle, v, idle_link);
    s->nidle++;
}

static struct vu *pop_idle(struct shard *s)
{
    struct vu *v = SLIST_FIRST(&s->idle);
    if (v) {
        SLIST_REMOVE_HEAD(&s->idle, idle_link);
        s->nidle--;
    }
    return v;
}

static void send_step(struct shard *s, struct vu *v, uint64_t due, uint64_t now)
{
    const struct script_step *st = &s->sc->steps[v->step];
    v->req_due_us = due;
    const char *needle = st->checks.body_contains;
    httpc_send(&v->conns[st->origin], s->req[v->step], s->req_len[v->step], now, st->timeout_us,
               needle, needle ? strlen(needle) : 0,
               s->req_flags[v->step] | (st->retry_stale ? 0 : HTTPC_NO_RETRY));
}

static void vu_begin(struct shard *s, struct vu *v, uint64_t due, uint64_t now)
{
    if (s->open) /* the generator's own lateness: not the target's latency */
        hist_record(&s->win->send_lag, now > due ? now - due : 0);
    if (due > now)
        due = now; /* released early: timed from the send */
    if (!v->active) {
        v->active = 1;
        if (++s->active > s->active_peak)
            s->active_peak = s->active;
    }
    v->iter_due_us = due;
    v->step = 0;
    send_step(s, v, due, now);
}

static void vu_park(struct shard *s, struct vu *v)
{
    v->active = 0;
    s->active--;
    push_idle(s, v);
}

static void arm_sleep(struct shard *s, uint64_t now)
{
    const struct minheap_ent *top = minheap_top(&s->sleepers);
    if (!top) {
        evtimer_del(s->sleep_ev);
        s->sleep_armed_us = 0;
        return;
    }
    uint64_t wake = (uint64_t)top->key;
    if (s->sleep_armed_us && s->sleep_armed_us <= wake)
        return;
    uint64_t d = wake > now ? wake - now : 0;
    struct timeval tv = { (time_t)(d / 1000000), (suseconds_t)(d % 1000000) };
    if (evtimer_add(s->sleep_ev, &tv) < 0) {
        shard_fail(s, "cannot arm the think-time timer");
        return;
    }
    s->sleep_armed_us = wake;
}

/* Think time or backoff: the VU wakes at `wake` (on_sleep). */
static void sleep_push(struct shard *s, struct vu *v, uint64_t wake, uint64_t now)
{
    v->sleeping = 1;
    minheap_push(&s->sleepers, (int64_t)wake, v, ++v->sleep_gen);
    arm_sleep(s, now);
}

/* Take the VU out of the heap (its entry is skipped when it surfaces). */
static void sleep_cancel(struct vu *v)
{
    v->sleeping = 0;
    v->sleep_gen++;
}

/* A request that failed before a byte of it left (the name did not
 * resolve, the connection was refused) is answered at once: without a
 * pause, a closed-model VU would spin through hundreds of thousands of
 * them a second. The pause doubles per failure and resets on any answer.
 * Open model: arrivals keep their own pace, no pause. */
static uint64_t backoff_next(struct shard *s, struct vu *v, int err)
{
    const struct script_backoff *bo = &s->sc->backoff;
    if (err != STATS_ERR_DNS && err != STATS_ERR_CONNECT) {
        if (err < 0)
            v->backoff_us = 0;
        return 0;
    }
    if (s->open || bo->min_us == 0)
        return 0;
    v->backoff_us = v->backoff_us ? v->backoff_us * 2 : bo->min_us;
    if (v->backoff_us > bo->max_us)
        v->backoff_us = bo->max_us;
    s->win->backoff_us += v->backoff_us;
    return v->backoff_us;
}

static void check_drained(struct shard *s);

static void iteration_done(struct shard *s, struct vu *v, uint64_t now, uint64_t pause)
{
    s->win->iterations++;
    hist_record(&s->win->iter_dur, now > v->iter_due_us ? now - v->iter_due_us : 0);
    v->iterations++;
    if (s->phase != PH_RUNNING || s->open || s->paused) {
        vu_park(s, v);
        check_drained(s);
        return;
    }
    if (s->load->executor == EXEC_PER_VU_ITERATIONS && v->iterations >= (uint32_t)s->load->iterations) {
        v->active = 0;
        s->active--;
        s->finished_vus++; /* retired for good: not back on the idle stack */
        if (s->finished_vus >= s->vu_quota)
            check_drained(s);
        return;
    }
    if (s->active > s->target) {
        vu_park(s, v);
        return;
    }
    if (s->load->think_time_us || pause) {
        sleep_push(s, v, now + s->load->think_time_us + pause, now);
        return;
    }
    vu_begin(s, v, now, now);
}

static void on_response(struct httpc_conn *c, int err, uint64_t now, void *arg)
{
    struct vu *v = arg;
    struct shard *s = v->sh;
    record(s, v, c, err, now);
    uint64_t pause = backoff_next(s, v, err);
    if (++v->step < s->sc->nsteps) {
        if (s->phase == PH_DONE)
            return;
        if (pause)
            sleep_push(s, v, now + pause, now);
        else
            send_step(s, v, now, now);
        return;
    }
    iteration_done(s, v, now, pause);
}

static void on_sleep(evutil_socket_t fd, short what, void *arg)
{
    struct shard *s = arg;
    (void)fd;
    (void)what;
    uint64_t now = clock_now_us();
    s->sleep_armed_us = 0;
    const struct minheap_ent *top;
    while ((top = minheap_top(&s->sleepers)) && (uint64_t)top->key <= now) {
        struct minheap_ent e;
        minheap_pop(&s->sleepers, &e);
        struct vu *v = e.val;
        if (!v->sleeping || e.tag != v->sleep_gen)
            continue; /* cancelled */
        v->sleeping = 0;
        if (s->phase == PH_DONE)
            continue;
        if (v->step < s->sc->nsteps)
            send_step(s, v, now, now); /* a backoff inside the iteration */
        else if (s->phase != PH_RUNNING || s->paused || s->active > s->target)
            vu_park(s, v);
        else
            vu_begin(s, v, now, now);
    }
    arm_sleep(s, now);
    check_drained(s);
}

/* ---- executors ---- */

/* Closed model: bring the active VUs up to the target (down happens as
 * VUs finish their iteration). */
static void closed_adjust(struct shard *s, uint64_t now)
{
    long total = lround(exec_control_value(&s->ctl, &s->prof, ptime(s, now)));
    s->target = exec_split_share(total, s->index, s->n);
    if (s->load->executor == EXEC_PER_VU_ITERATIONS) {
        int left = s->vu_quota - s->finished_vus;
        if (s->target > left)
            s->target = left;
    }
    while (s->active < s->target) {
        struct vu *v = pop_idle(s);
        if (!v) {
            if (s->load->executor == EXEC_PER_VU_ITERATIONS && s->nvus >= s->vu_quota)
                break;
            v = vu_new(s);
        }
        vu_begin(s, v, now, now);
    }
}

static void set_afd(struct shard *s, uint64_t at_us)
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
static void arm_arrival(struct shard *s, uint64_t now)
{
    (void)now;
    if (s->ticking)
        return;
    if (s->next_arrival == UINT64_MAX || s->paused || s->phase != PH_RUNNING) {
        set_afd(s, 0);
        return;
    }
    set_afd(s, mono_of(s, s->next_arrival));
}

static void start_ticker(struct shard *s, uint64_t first_us)
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
static double peak_rate(const struct shard *s)
{
    double peak = s->prof.start;
    for (int i = 0; i < s->prof.nseg; i++)
        if (s->prof.v_end[i] > peak)
            peak = s->prof.v_end[i];
    return peak / s->n;
}

static void arrivals(struct shard *s, uint64_t now)
{
    uint64_t pt = ptime(s, now);
    uint64_t horizon = s->prof.length_us;
    double share = 1.0 / s->n;
    uint64_t window = pt + (s->ticking ? TICK_US : 0);
    while (s->next_arrival <= window && s->next_arrival != UINT64_MAX) {
        uint64_t due = mono_of(s, s->next_arrival);
        struct vu *v = pop_idle(s);
        if (!v && s->nvus < s->max_vus)
            v = vu_new(s);
        if (v)
            vu_begin(s, v, due, now);
        else
            s->win->dropped_iterations++;
        s->next_arrival = exec_arrival_next(&s->ctl, &s->prof, share, s->next_arrival, horizon, &s->carry);
    }
    arm_arrival(s, now);
}

static void on_arrival(evutil_socket_t fd, short what, void *arg)
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
        arrivals(s, clock_now_us());
}

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
    s->win = stats_window_new(s->sc->nsteps);
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
    set_afd(s, 0);
    if (s->sleep_ev)
        evtimer_del(s->sleep_ev);
    s->sleep_armed_us = 0;
    /* In-flight iterations past the graceful stop are interrupted. */
    for (int i = 0; i < s->nvus; i++) {
        struct vu *v = s->vus[i];
        if (!v->active)
            continue;
        s->win->interrupted_iterations++;
        v->active = 0;
        sleep_cancel(v);
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
static void shard_fail(struct shard *s, const char *fmt, ...)
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

static void check_drained(struct shard *s)
{
    if (s->phase == PH_RUNNING && s->load->executor == EXEC_PER_VU_ITERATIONS &&
        s->finished_vus >= s->vu_quota)
        s->phase = PH_DRAINING;
    if (s->phase == PH_DRAINING && s->active == 0)
        finish(s);
}

static void begin_drain(struct shard *s)
{
    if (s->phase != PH_RUNNING)
        return;
    s->phase = PH_DRAINING;
    set_afd(s, 0);
    actor_timer_start(s->grace, s->load->graceful_stop_us, 0);
    /* VUs sleeping between iterations will not start another; one
     * backing off inside an iteration finishes it within the grace */
    for (int i = 0; i < s->nvus; i++) {
        struct vu *v = s->vus[i];
        if (v->sleeping && v->step >= s->sc->nsteps) {
            sleep_cancel(v);
            vu_park(s, v);
        }
    }
    check_drained(s);
}

static void on_ctl_tick(struct shard *s)
{
    uint64_t now = clock_now_us();
    if (s->phase != PH_RUNNING)
        return;
    if (ptime(s, now) >= s->prof.length_us) {
        begin_drain(s);
        return;
    }
    if (s->paused)
        return;
    if (s->open)
        arrivals(s, now);
    else
        closed_adjust(s, now);
}

/* ---- control ---- */

static void apply_control(struct shard *s, const struct run_control *rc)
{
    uint64_t now = clock_now_us();
    uint64_t pt = ptime(s, now);
    switch (rc->op) {
    case RUN_OP_SET_RATE:
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
            set_afd(s, 0);
        }
        return;
    case RUN_OP_RESUME:
        if (s->paused) {
            s->paused_total += now - s->paused_at;
            s->paused = 0;
        }
        break;
    case RUN_OP_STOP:
        begin_drain(s);
        return;
    }
    if (s->phase != PH_RUNNING)
        return;
    if (s->open) {
        /* re-plan from now: the next arrival follows the new rate */
        s->carry = 0;
        s->next_arrival = exec_arrival_next(&s->ctl, &s->prof, 1.0 / s->n, pt, s->prof.length_us, &s->carry);
        set_afd(s, 0);
        arm_arrival(s, now);
    } else {
        closed_adjust(s, now);
    }
}

/* ---- start ---- */

static void render_requests(struct shard *s)
{
    const struct script *sc = s->sc;
    s->req = xcalloc((size_t)sc->nsteps, sizeof *s->req);
    s->req_len = xcalloc((size_t)sc->nsteps, sizeof *s->req_len);
    s->req_flags = xcalloc((size_t)sc->nsteps, sizeof *s->req_flags);
    for (int i = 0; i < sc->nsteps; i++) {
        const struct script_step *st = &sc->steps[i];
        size_t cap = 256 + strlen(st->target) + sc->origins[st->origin].authority[0] +
                     strlen(sc->origins[st->origin].authority) + st->body_len +
                     (sc->user_agent ? strlen(sc->user_agent) : 0);
        for (int h = 0; h < st->nheaders; h++)
            cap += strlen(st->headers[h].name) + strlen(st->headers[h].value) + 4;
        char *b = xmalloc(cap);
        int own_ua = 0; /* the step's own User-Agent replaces the script's */
        for (int h = 0; h < st->nheaders; h++)
            own_ua |= strcasecmp(st->headers[h].name, "User-Agent") == 0;
        int n = snprintf(b, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", st->method, st->target,
                         sc->origins[st->origin].authority);
        if (!own_ua)
            n += snprintf(b + n, cap - (size_t)n, "User-Agent: %s\r\n",
                          sc->user_agent ? sc->user_agent : "stampede");
        for (int h = 0; h < st->nheaders; h++)
            n += snprintf(b + n, cap - (size_t)n, "%s: %s\r\n", st->headers[h].name, st->headers[h].value);
        if (st->body || strcmp(st->method, "POST") == 0 || strcmp(st->method, "PUT") == 0 ||
            strcmp(st->method, "PATCH") == 0)
            n += snprintf(b + n, cap - (size_t)n, "Content-Length: %zu\r\n", st->body_len);
        n += snprintf(b + n, cap - (size_t)n, "\r\n");
        if (st->body_len) {
            memcpy(b + n, st->body, st->body_len);
            n += (int)st->body_len;
        }
        s->req[i] = b;
        s->req_len[i] = (size_t)n;
        s->req_flags[i] = strcmp(st->method, "HEAD") == 0 ? HTTP_PARSE_HEAD : 0;
    }
}

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
            push_idle(s, vu_new(s));
        if (s->ticking)
            start_ticker(s, s->t0);
        if (s->t0 <= now)
            arrivals(s, now);
        else
            arm_arrival(s, now);
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
    s->ticking = s->prof.open && peak_rate(s) > TICK_RATE;
    s->hl = httpc_loop_new(base, s->ticking);
    s->ticking = httpc_loop_ticking(s->hl);
    s->tick = actor_timer_new(s->self, TAG_SECOND);
    s->ctl_tick = actor_timer_new(s->self, TAG_CTL);
    s->grace = actor_timer_new(s->self, TAG_GRACE);
    s->warmup = actor_timer_new(s->self, TAG_WARMUP);
    s->win = stats_window_new(s->sc->nsteps);
    s->sleep_ev = evtimer_new(base, on_sleep, s);
    minheap_init(&s->sleepers);
    s->afd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->afd < 0 || !s->hl || !s->sleep_ev) {
        shard_fail(s, "cannot set up the shard: %s", s->afd < 0 ? strerror(errno) : "out of event slots");
        return;
    }
    s->arrival_ev = event_new(base, s->afd, EV_READ | EV_PERSIST, on_arrival, s);
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
    render_requests(s);

    int need_tls = 0;
    s->origins = xcalloc((size_t)s->sc->norigins, sizeof *s->origins);
    for (int i = 0; i < s->sc->norigins; i++)
        need_tls |= s->sc->origins[i].tls;
    if (need_tls) {
        char err[200];
        s->ssl_ctx = httpc_tls_ctx_new(!s->sc->insecure_skip_tls_verify, err, sizeof err);
        if (!s->ssl_ctx) {
            shard_fail(s, "%s", err);
            return;
        }
    }
    s->dns_pending = 1; /* held until every lookup has been started */
    for (int i = 0; i < s->sc->norigins; i++) {
        const struct script_origin *so = &s->sc->origins[i];
        struct httpc_origin *o = &s->origins[i];
        o->tls = so->tls;
        o->ssl_ctx = s->ssl_ctx;
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
        free(s->vus[i]);
    }
    free(s->vus);
    for (int i = 0; s->req && i < s->nsteps; i++)
        free(s->req[i]);
    free(s->req);
    free(s->req_len);
    free(s->req_flags);
    for (int i = 0; s->origins && i < s->norigins; i++)
        if (s->origins[i].session)
            SSL_SESSION_free(s->origins[i].session);
    free(s->origins);
    if (s->ssl_ctx)
        SSL_CTX_free(s->ssl_ctx);
    if (s->dns)
        evdns_base_free(s->dns, 0);
    if (s->arrival_ev)
        event_free(s->arrival_ev);
    if (s->afd >= 0)
        close(s->afd);
    if (s->sleep_ev)
        event_free(s->sleep_ev);
    minheap_deinit(&s->sleepers);
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
