/* run_vus: the virtual users of a shard — measuring each response, the
 * idle stack, think time and backoff. The executors that start them are in
 * run_exec.c. */
#include "run_shard_int.h"

#include "clock.h"
#include "dataset.h"
#include "extract.h"
#include "telemetry.h"
#include "xmalloc.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

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
        } else if (s->ts) {
            ss->documents += (uint64_t)v->ndocs; /* delivered: the destination took them */
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

/* ---- extraction ---- */

/* The step's extractors on the response just recorded: a value found is
 * the VU's from now on; one not found leaves the variable failed (steps
 * that use it are not sent) and counts as extract_failed. A transport
 * error fails them too, without another count. */
static void extract(struct shard *s, struct vu *v, int err)
{
    const struct script_step *st = &s->sc->steps[v->step];
    struct extract_response r = { v->body.s, v->body.len, v->headers.s, v->headers.len };
    for (int i = 0; i < st->nextract; i++) {
        const struct extractor *x = &st->extract[i];
        struct sbuf *own = &v->own[x->var];
        sbuf_reset(own);
        if (err < 0 && extract_run(x, &r, s->md, own) == 0) {
            v->vars[x->var] = (struct tmpl_val){ own->s ? own->s : "", (uint32_t)own->len };
            v->failed[x->var] = 0;
            continue;
        }
        v->vars[x->var] = (struct tmpl_val){ NULL, 0 };
        v->failed[x->var] = 1;
        if (err < 0)
            s->win->steps[v->step].errors[STATS_ERR_EXTRACT_FAILED]++;
    }
}

/* 1 if the step reads a variable whose extraction failed. */
static int needs_failed(const struct shard *s, const struct vu *v, int step)
{
    const struct script_step *st = &s->sc->steps[step];
    for (int i = 0; i < st->nuses; i++)
        if (v->failed[st->uses[i]])
            return 1;
    return 0;
}

/* ---- VUs ---- */

static void on_response(struct httpc_conn *c, int err, uint64_t now, void *arg);
static void advance(struct shard *s, struct vu *v, uint64_t now, uint64_t pause);
static uint64_t backoff_next(struct shard *s, struct vu *v, int err);

struct vu *shard_vu_new(struct shard *s)
{
    int no = s->sc->norigins;
    struct vu *v = xcalloc(1, sizeof *v + (size_t)no * sizeof(struct httpc_conn));
    v->sh = s;
    v->num = (uint32_t)(s->index + 1 + s->nvus * s->n); /* shards interleave: unique in the run */
    size_t nv = (size_t)(s->sc->vars.n ? s->sc->vars.n : 1);
    v->vars = xcalloc(nv, sizeof *v->vars);
    v->own = xcalloc(nv, sizeof *v->own);
    v->failed = xcalloc(nv, sizeof *v->failed);
    for (int i = 0; i < no; i++)
        httpc_conn_init(&v->conns[i], s->hl, &s->origins[i], on_response, v);
    if (s->nvus % 64 == 0)
        s->vus = xrealloc(s->vus, (size_t)(s->nvus + 64) * sizeof *s->vus);
    s->vus[s->nvus++] = v;
    return v;
}

void shard_push_idle(struct shard *s, struct vu *v)
{
    SLIST_INSERT_HEAD(&s->idle, v, idle_link);
    s->nidle++;
}

struct vu *shard_pop_idle(struct shard *s)
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
    if (st->nuses && needs_failed(s, v, v->step)) {
        /* a value it needs was not extracted: not sent, counted, and the
         * iteration goes on with the next step — after a pause, as when a
         * request cannot leave: a VU whose every step is skipped must not
         * spin (or recurse) through iterations without any I/O */
        s->win->steps[v->step].errors[STATS_ERR_EXTRACT_FAILED]++;
        uint64_t pause = backoff_next(s, v, STATS_ERR_CONNECT);
        advance(s, v, now, pause || s->open ? pause : 1);
        return;
    }
    v->req_due_us = due;
    const char *needle = st->checks.body_contains;
    struct httpc_conn *c = &v->conns[st->origin];
    c->keep_body = c->keep_headers = NULL;
    for (int i = 0; i < st->nextract; i++) {
        if (st->extract[i].src == EXTRACT_HEADER) {
            sbuf_reset(&v->headers);
            c->keep_headers = &v->headers;
        } else {
            sbuf_reset(&v->body);
            c->keep_body = &v->body;
            c->keep_body_max = EXTRACT_BODY_MAX;
        }
    }
    size_t len;
    const char *req = shard_render(s, v, v->step, &len);
    httpc_send(c, req, len, now, st->timeout_us,
               needle, needle ? strlen(needle) : 0,
               s->req_flags[v->step] | (st->retry_stale ? 0 : HTTPC_NO_RETRY));
}

/* The next dataset row into v's variables; -1 when the rows ran out and
 * the script says stop. */
static int take_row(struct shard *s, struct vu *v)
{
    const struct script_dataset *d = s->sc->dataset;
    if (!d)
        return 0;
    long n = d->rows->nrows, row;
    if (d->order == ORDER_RANDOM) {
        row = (long)(tmpl_rng_next(s->rng) % (uint64_t)n);
    } else {
        row = s->ds_next;
        if (row >= n) {
            if (d->stop)
                return -1;
            row %= n;
        }
        s->ds_next = row + s->n;
    }
    const struct tmpl_val *cells = &d->rows->cells[(size_t)row * (size_t)d->rows->ncols];
    for (int c = 0; c < d->rows->ncols; c++) {
        v->vars[d->col_var[c]] = cells[c];
        v->failed[d->col_var[c]] = 0;
    }
    return 0;
}

void shard_vu_begin(struct shard *s, struct vu *v, uint64_t due, uint64_t now)
{
    if (take_row(s, v) < 0) {
        /* this shard's rows are used up: it starts nothing more */
        if (v->active)
            shard_vu_park(s, v);
        else
            shard_push_idle(s, v);
        shard_begin_drain(s);
        return;
    }
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
    if (s->sc->nsetup && !v->setup_done) {
        /* its setup first; the iteration is still timed from its due time */
        v->stage = VS_SETUP;
        v->step = s->sc->nmain;
    } else {
        v->setup_done = 1;
        v->stage = VS_ITER;
        v->step = 0;
    }
    v->iter_end = s->sc->nmain;
    if (s->ts) {
        /* telemetry: this arrival is one request of the signal whose turn
         * it is (smooth weighted round robin: each keeps its rate) */
        int best = 0;
        double sum = 0;
        for (int k = 0; k < s->sc->nmain; k++) {
            s->ts[k].credit += s->ts[k].posts;
            sum += s->ts[k].posts;
            if (s->ts[k].credit > s->ts[best].credit)
                best = k;
        }
        s->ts[best].credit -= sum;
        v->step = best;
        v->iter_end = best + 1;
    }
    send_step(s, v, due, now);
}

void shard_telemetry_rates(struct shard *s, int k, double docs_per_s)
{
    const struct script_telemetry *t = s->sc->telemetry;
    double total = 0;
    for (int i = 0; i < t->nstreams; i++) {
        double docs = i == k ? docs_per_s : k < 0 ? t->streams[i].docs_per_s : -1;
        if (docs >= 0) {
            s->ts[i].posts = telemetry_posts_per_s(docs, t->batch);
            s->ts[i].per_post = docs <= 1.0 ? 1.0 : docs / s->ts[i].posts;
        }
        total += s->ts[i].posts;
    }
    if (k >= 0) /* the whole run's request rate; each shard applies its share */
        exec_control_set_level(&s->ctl, &s->prof, ptime(s, clock_now_us()), total, 0);
}

static int wants_teardown(const struct shard *s, const struct vu *v)
{
    return s->sc->nteardown && !v->torn_down && v->setup_done;
}

/* The VU (active, out of any list) runs its teardown steps. */
static void teardown(struct shard *s, struct vu *v, uint64_t now)
{
    v->stage = VS_TEARDOWN;
    v->step = s->sc->nmain + s->sc->nsetup;
    send_step(s, v, now, now);
}

void shard_teardown_idle(struct shard *s, uint64_t now)
{
    if (!s->sc->nteardown)
        return;
    struct vu *keep = NULL, *v;
    while ((v = shard_pop_idle(s))) {
        if (wants_teardown(s, v)) {
            v->active = 1;
            s->active++;
            teardown(s, v, now);
        } else {
            v->idle_link.sle_next = keep; /* back on the stack below */
            keep = v;
        }
    }
    while ((v = keep)) {
        keep = v->idle_link.sle_next;
        shard_push_idle(s, v);
    }
}

void shard_vu_park(struct shard *s, struct vu *v)
{
    v->active = 0;
    s->active--;
    shard_push_idle(s, v);
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

/* Think time or backoff: the VU wakes at `wake` (shard_on_sleep). */
static void sleep_push(struct shard *s, struct vu *v, uint64_t wake, uint64_t now)
{
    v->sleeping = 1;
    minheap_push(&s->sleepers, (int64_t)wake, v, ++v->sleep_gen);
    arm_sleep(s, now);
}

/* Take the VU out of the heap (its entry is skipped when it surfaces). */
void shard_sleep_cancel(struct vu *v)
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

static void iteration_done(struct shard *s, struct vu *v, uint64_t now, uint64_t pause)
{
    s->win->iterations++;
    hist_record(&s->win->iter_dur, now > v->iter_due_us ? now - v->iter_due_us : 0);
    v->iterations++;
    v->stage = VS_BETWEEN;
    if (s->phase != PH_RUNNING && wants_teardown(s, v)) {
        teardown(s, v, now); /* its last iteration */
        return;
    }
    if (s->phase != PH_RUNNING || s->open || s->paused) {
        shard_vu_park(s, v);
        shard_check_drained(s);
        return;
    }
    if (s->load->executor == EXEC_PER_VU_ITERATIONS && v->iterations >= (uint32_t)s->load->iterations) {
        s->finished_vus++; /* retired for good: not back on the idle stack */
        if (wants_teardown(s, v)) {
            teardown(s, v, now);
            return;
        }
        v->active = 0;
        s->active--;
        if (s->finished_vus >= s->vu_quota)
            shard_check_drained(s);
        return;
    }
    if (s->active > s->target) {
        shard_vu_park(s, v);
        return;
    }
    if (s->load->think_time_us || pause) {
        sleep_push(s, v, now + s->load->think_time_us + pause, now);
        return;
    }
    shard_vu_begin(s, v, now, now);
}

static void on_response(struct httpc_conn *c, int err, uint64_t now, void *arg)
{
    struct vu *v = arg;
    struct shard *s = v->sh;
    record(s, v, c, err, now);
    if (s->sc->steps[v->step].nextract)
        extract(s, v, err);
    advance(s, v, now, backoff_next(s, v, err));
}

/* On to the VU's next step: within its setup, iteration or teardown, or
 * the end of that stage. */
static void advance(struct shard *s, struct vu *v, uint64_t now, uint64_t pause)
{
    const struct script *sc = s->sc;
    int end = v->stage == VS_SETUP ? sc->nmain + sc->nsetup : v->stage == VS_ITER ? v->iter_end : sc->nsteps;
    if (++v->step < end) {
        if (s->phase == PH_DONE)
            return;
        if (pause)
            sleep_push(s, v, now + pause, now);
        else
            send_step(s, v, now, now);
        return;
    }
    switch ((enum vu_stage)v->stage) {
    case VS_SETUP:
        v->setup_done = 1;
        if (s->phase == PH_DONE)
            return;
        if (s->phase != PH_RUNNING) { /* stopped meanwhile: no iteration */
            teardown(s, v, now);
            return;
        }
        v->stage = VS_ITER;
        v->step = 0;
        v->iter_end = sc->nmain;
        if (pause)
            sleep_push(s, v, now + pause, now);
        else
            send_step(s, v, v->iter_due_us, now);
        return;
    case VS_ITER:
        iteration_done(s, v, now, pause);
        return;
    case VS_TEARDOWN:
    case VS_BETWEEN:
        /* done for good: neither idle nor active */
        v->torn_down = 1;
        v->stage = VS_BETWEEN;
        v->active = 0;
        s->active--;
        shard_check_drained(s);
        return;
    }
}

void shard_on_sleep(evutil_socket_t fd, short what, void *arg)
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
        if (v->stage != VS_BETWEEN)
            send_step(s, v, now, now); /* a backoff inside setup, an iteration or teardown */
        else if (s->phase != PH_RUNNING || s->paused || s->active > s->target)
            shard_vu_park(s, v);
        else
            shard_vu_begin(s, v, now, now);
    }
    arm_sleep(s, now);
    shard_check_drained(s);
}
