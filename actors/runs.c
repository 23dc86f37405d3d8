/* runs: run state machine, sharding across loops, live control. */
#include "runs.h"

#include "clock.h"
#include "idmap.h"
#include "run_shard.h"
#include "script.h"
#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shards get this long to set up (DNS, requests) before profile time 0. */
#define START_DELAY_US 50000u

enum run_state { RS_RUNNING, RS_PAUSED, RS_STOPPING, RS_FINISHING };

struct run {
    uint64_t id;
    double percent;
    char label[64];
    char script_id[40];
    char script_name[208];
    struct script *sc;
    actor_t *observer;
    actor_t **shards;
    int nshards, done;
    enum run_state state;
    int aborted;
    char abort_reason[240];
};

struct runs {
    actor_t *self;
    struct loop_group *loops;
    actor_t *metrics;
    struct idmap runs;
    msg_t *stop_req;
};

const char *run_op_name(enum run_op op)
{
    static const char *const names[] = { "set_rate", "set_vus", "scale", "pause", "resume", "stop" };
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

static void event_to(struct run *r, enum run_event_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void event_to(struct run *r, enum run_event_kind kind, const char *fmt, ...)
{
    if (!r->observer)
        return;
    struct run_event *e = MSG_NEW(MSG_RUN_EVENT, struct run_event);
    e->run_id = r->id;
    e->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
    if (actor_send_urgent(r->observer, &e->m) < 0)
        msg_free(&e->m);
}

/* Tell metrics what the live frames should say the run is doing. */
static void state_to_metrics(struct runs *rs, struct run *r, const char *state)
{
    struct metrics_state *ms = MSG_NEW(MSG_METRICS_STATE, struct metrics_state);
    ms->run_id = r->id;
    snprintf(ms->state, sizeof ms->state, "%s", state);
    if (actor_send_urgent(rs->metrics, &ms->m) < 0)
        msg_free(&ms->m);
}

static void to_shards(struct run *r, enum run_op op, double value, uint64_t ramp_us, int stream)
{
    for (int i = 0; i < r->nshards; i++) {
        struct run_control *c = MSG_NEW(MSG_RUN_CONTROL, struct run_control);
        c->run_id = r->id;
        c->op = op;
        c->value = value;
        c->ramp_us = ramp_us;
        c->stream = stream;
        if (actor_send_urgent(r->shards[i], &c->m) < 0)
            msg_free(&c->m);
    }
}

static void start_run(struct runs *rs, struct run_start *st)
{
    struct run *r = xcalloc(1, sizeof *r);
    r->id = st->run_id;
    r->sc = st->script;
    st->script = NULL;
    r->observer = st->observer;
    r->percent = st->percent > 0 ? st->percent : 100;
    snprintf(r->label, sizeof r->label, "%s", st->label);
    snprintf(r->script_id, sizeof r->script_id, "%s", st->script_id);
    snprintf(r->script_name, sizeof r->script_name, "%s", st->script_name);
    int nloops = loop_group_size(rs->loops);
    r->nshards = nloops > 1 ? nloops - 1 : 1;
    r->shards = xcalloc((size_t)r->nshards, sizeof *r->shards);
    idmap_put(&rs->runs, r->id, r);

    struct metrics_begin *b = MSG_NEW(MSG_METRICS_BEGIN, struct metrics_begin);
    b->run_id = r->id;
    b->script = r->sc;
    b->nshards = r->nshards;
    b->started_wall_ms = clock_wall_ms();
    b->supervisor = rs->self;
    snprintf(b->label, sizeof b->label, "%s", r->label);
    snprintf(b->script_id, sizeof b->script_id, "%s", r->script_id);
    snprintf(b->script_name, sizeof b->script_name, "%s", r->script_name);
    if (actor_send_urgent(rs->metrics, &b->m) < 0)
        msg_free(&b->m);

    uint64_t t0 = clock_now_us() + START_DELAY_US;
    for (int i = 0; i < r->nshards; i++) {
        struct loop *l = loop_group_get(rs->loops, nloops > 1 ? i + 1 : 0);
        r->shards[i] = run_shard_new(l, r->id, i);
        struct shard_start *ss = MSG_NEW(MSG_SHARD_START, struct shard_start);
        ss->run_id = r->id;
        ss->script = r->sc;
        ss->index = i;
        ss->nshards = r->nshards;
        ss->t0_us = t0;
        ss->percent = r->percent;
        ss->supervisor = rs->self;
        ss->metrics = rs->metrics;
        if (actor_send_urgent(r->shards[i], &ss->m) < 0) {
            /* cannot happen to a new actor; if it did, the run must still end */
            msg_free(&ss->m);
            struct shard_done *d = MSG_NEW(MSG_SHARD_DONE, struct shard_done);
            d->run_id = r->id;
            d->shard = i;
            snprintf(d->error, sizeof d->error, "the shard did not take its start");
            if (actor_send_urgent(rs->self, &d->m) < 0)
                msg_free(&d->m);
        }
    }
    alog_info(rs->self, "run %llu started: %s on %d shard%s", (unsigned long long)r->id,
              script_executor_name(r->sc->load.executor), r->nshards, r->nshards > 1 ? "s" : "");
    event_to(r, RUN_EV_STARTED, "%s on %d shard%s", script_executor_name(r->sc->load.executor),
             r->nshards, r->nshards > 1 ? "s" : "");
}

static void reply_control(const msg_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_control(const msg_t *req, int status, const char *fmt, ...)
{
    struct run_control_reply *rep = MSG_NEW(MSG_RUN_CONTROL_REPLY, struct run_control_reply);
    rep->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
    va_end(ap);
    actor_reply(req, &rep->m);
}

static void control(struct runs *rs, struct run_control *c)
{
    struct run *r = idmap_get(&rs->runs, c->run_id);
    if (!r) {
        reply_control(&c->m, 404, "no running run %llu", (unsigned long long)c->run_id);
        return;
    }
    if (r->state == RS_STOPPING || r->state == RS_FINISHING) {
        reply_control(&c->m, 409, "the run is stopping");
        return;
    }
    int open = script_load_is_open(&r->sc->load);
    int stream = -1;
    const struct script_telemetry *tel = r->sc->telemetry;
    if (c->signal[0] && c->op != RUN_OP_SET_RATE) {
        reply_control(&c->m, 400, "only a rate is set per signal");
        return;
    }
    switch (c->op) {
    case RUN_OP_SET_RATE:
        if (!open) {
            reply_control(&c->m, 409, "set_rate needs an arrival-rate executor (this run uses %s)",
                          script_executor_name(r->sc->load.executor));
            return;
        }
        if (tel) {
            /* a telemetry run's rates are each signal's documents per second */
            for (int k = 0; k < tel->nstreams && stream < 0; k++)
                if (strcmp(c->signal, telemetry_signal_name(tel->streams[k].signal)) == 0)
                    stream = k;
            if (stream < 0) {
                reply_control(&c->m, c->signal[0] ? 404 : 409,
                              c->signal[0] ? "this run sends no %s" : "a telemetry run sets the rate of one signal: "
                                                                     "name logs, metrics or traces%s",
                              c->signal);
                return;
            }
            if (!(c->value >= 0 && c->value <= TELEMETRY_MAX_RATE)) {
                reply_control(&c->m, 400, "rate must be between 0 and %.0f documents per second", TELEMETRY_MAX_RATE);
                return;
            }
            break;
        }
        if (c->signal[0]) {
            reply_control(&c->m, 409, "only a telemetry run has signals");
            return;
        }
        if (!(c->value >= 0 && c->value <= SCRIPT_MAX_RATE)) {
            reply_control(&c->m, 400, "rate must be between 0 and %.0f", SCRIPT_MAX_RATE);
            return;
        }
        break;
    case RUN_OP_SET_VUS:
        if (open || r->sc->load.executor == EXEC_PER_VU_ITERATIONS) {
            reply_control(&c->m, 409, "set_vus needs constant-vus or ramping-vus (this run uses %s)",
                          script_executor_name(r->sc->load.executor));
            return;
        }
        if (!(c->value >= 0 && c->value <= SCRIPT_MAX_VUS)) {
            reply_control(&c->m, 400, "vus must be between 0 and %d", SCRIPT_MAX_VUS);
            return;
        }
        break;
    case RUN_OP_SCALE:
        if (!(c->value >= 0 && c->value <= SCRIPT_MAX_PERCENT)) {
            reply_control(&c->m, 400, "percent must be between 0 and %.0f", SCRIPT_MAX_PERCENT);
            return;
        }
        break;
    case RUN_OP_PAUSE:
        if (r->state == RS_PAUSED) {
            reply_control(&c->m, 409, "the run is already paused");
            return;
        }
        r->state = RS_PAUSED;
        break;
    case RUN_OP_RESUME:
        if (r->state != RS_PAUSED) {
            reply_control(&c->m, 409, "the run is not paused");
            return;
        }
        r->state = RS_RUNNING;
        break;
    case RUN_OP_STOP:
        r->state = RS_STOPPING;
        break;
    }
    to_shards(r, c->op, c->value, c->ramp_us, stream);
    if (c->op == RUN_OP_PAUSE || c->op == RUN_OP_RESUME || c->op == RUN_OP_STOP)
        state_to_metrics(rs, r, c->op == RUN_OP_PAUSE ? "paused" : c->op == RUN_OP_RESUME ? "running" : "stopping");
    /* "set_rate 300 over 10 s", "scale 50%", "pause" */
    char what[120], ramp[40] = "";
    int valued = c->op == RUN_OP_SET_RATE || c->op == RUN_OP_SET_VUS || c->op == RUN_OP_SCALE;
    if (valued && c->ramp_us)
        snprintf(ramp, sizeof ramp, " over %.3g s", (double)c->ramp_us / 1e6);
    if (valued)
        snprintf(what, sizeof what, "%s %g%s%s%s%s", run_op_name(c->op), c->value,
                 c->op == RUN_OP_SCALE ? "%" : "", stream >= 0 ? " " : "", stream >= 0 ? c->signal : "", ramp);
    else
        snprintf(what, sizeof what, "%s", run_op_name(c->op));
    event_to(r, c->op == RUN_OP_STOP ? RUN_EV_STOPPING : RUN_EV_CONTROL, "%s", what);
    reply_control(&c->m, 0, "%s: applied", what);
}

static void abort_run(struct runs *rs, struct run_abort *a)
{
    struct run *r = idmap_get(&rs->runs, a->run_id);
    if (!r || r->state == RS_STOPPING || r->state == RS_FINISHING)
        return;
    r->aborted = 1;
    snprintf(r->abort_reason, sizeof r->abort_reason, "%s", a->reason);
    if (r->state == RS_PAUSED)
        to_shards(r, RUN_OP_RESUME, 0, 0, -1);
    r->state = RS_STOPPING;
    to_shards(r, RUN_OP_STOP, 0, 0, -1);
    state_to_metrics(rs, r, "stopping");
    event_to(r, RUN_EV_ABORTING, "%s", a->reason);
}

static void shard_done(struct runs *rs, struct shard_done *d)
{
    struct run *r = idmap_get(&rs->runs, d->run_id);
    if (!r)
        return;
    if (d->error[0] && !r->aborted) {
        /* A shard that cannot run fails the run: the others stop too. */
        r->aborted = 1;
        snprintf(r->abort_reason, sizeof r->abort_reason, "shard %d: %s", d->shard, d->error);
        alog_error(rs->self, "run %llu: %s", (unsigned long long)r->id, r->abort_reason);
        if (r->state == RS_PAUSED)
            to_shards(r, RUN_OP_RESUME, 0, 0, -1);
        if (r->state != RS_FINISHING) {
            r->state = RS_STOPPING;
            to_shards(r, RUN_OP_STOP, 0, 0, -1);
            event_to(r, RUN_EV_ABORTING, "%s", r->abort_reason);
        }
    }
    if (++r->done < r->nshards)
        return;
    r->state = RS_FINISHING;
    struct metrics_end *e = MSG_NEW(MSG_METRICS_END, struct metrics_end);
    e->run_id = r->id;
    e->aborted = r->aborted;
    snprintf(e->abort_reason, sizeof e->abort_reason, "%s", r->abort_reason);
    e->m.reply_to = rs->self;
    e->m.corr = r->id;
    if (actor_send_urgent(rs->metrics, &e->m) < 0)
        msg_free(&e->m);
}

static void maybe_stopped(struct runs *rs)
{
    if (rs->stop_req && rs->runs.len == 0) {
        actor_reply(rs->stop_req, msg_new(MSG_STOPPED, sizeof(msg_t)));
        msg_free(rs->stop_req);
        rs->stop_req = NULL;
    }
}

static void finished_dtor(msg_t *m)
{
    struct run_finished *f = (struct run_finished *)m;
    msg_free(&f->summary->m);
}

static void finished(struct runs *rs, struct metrics_summary *s)
{
    struct run *r = idmap_del(&rs->runs, s->run_id);
    if (!r) {
        msg_free(&s->m);
        return;
    }
    for (int i = 0; i < r->nshards; i++)
    {
        msg_t *rel = msg_new(MSG_SHARD_RELEASE, sizeof(msg_t));
        if (actor_send_urgent(r->shards[i], rel) < 0)
            msg_free(rel); /* closed already: nothing to release */
    }
    alog_info(rs->self, "run %llu finished%s", (unsigned long long)r->id, r->aborted ? " (aborted)" : "");
    if (r->observer) {
        struct run_finished *f = MSG_NEW(MSG_RUN_FINISHED, struct run_finished);
        f->run_id = r->id;
        f->summary = s;
        f->m.dtor = finished_dtor;
        if (actor_send_urgent(r->observer, &f->m) < 0)
            msg_free(&f->m);
    } else {
        msg_free(&s->m);
    }
    /* A shard reads the script only until its last window (it keeps the
     * counts it needs to free itself), and metrics has replied: the
     * script can go now. */
    free(r->shards);
    script_free(r->sc);
    free(r);
    maybe_stopped(rs);
}

static void stop_all(struct runs *rs, msg_t *req)
{
    if (rs->stop_req) {
        actor_reply(req, msg_new(MSG_STOPPED, sizeof(msg_t)));
        msg_free(req);
        return;
    }
    rs->stop_req = req;
    size_t pos = 0;
    uint64_t k;
    void *v;
    while (idmap_next(&rs->runs, &pos, &k, &v)) {
        struct run *r = v;
        if (r->state == RS_STOPPING || r->state == RS_FINISHING)
            continue;
        if (r->state == RS_PAUSED)
            to_shards(r, RUN_OP_RESUME, 0, 0, -1);
        r->state = RS_STOPPING;
        to_shards(r, RUN_OP_STOP, 0, 0, -1);
        state_to_metrics(rs, r, "stopping");
        event_to(r, RUN_EV_STOPPING, "the server is shutting down");
    }
    maybe_stopped(rs);
}

static void runs_handle(actor_t *self, msg_t *m)
{
    struct runs *rs = actor_state(self);
    switch (m->type) {
    case MSG_RUN_START:
        if (rs->stop_req) {
            script_free(((struct run_start *)m)->script);
            break;
        }
        start_run(rs, (struct run_start *)m);
        break;
    case MSG_RUN_CONTROL:
        control(rs, (struct run_control *)m);
        break;
    case MSG_RUN_ABORT:
        abort_run(rs, (struct run_abort *)m);
        break;
    case MSG_SHARD_DONE:
        shard_done(rs, (struct shard_done *)m);
        break;
    case MSG_METRICS_SUMMARY:
        finished(rs, (struct metrics_summary *)m);
        return; /* ownership passed on */
    case MSG_STOP:
        stop_all(rs, m);
        return;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *runs_new(struct loop *l, const struct runs_config *cfg)
{
    struct runs *rs = xcalloc(1, sizeof *rs);
    rs->loops = cfg->loops;
    rs->metrics = cfg->metrics;
    idmap_init(&rs->runs);
    rs->self = actor_new(l, "runs", -1, runs_handle, rs, 0);
    return rs->self;
}

void runs_free(actor_t *a)
{
    if (!a)
        return;
    struct runs *rs = actor_state(a);
    size_t pos = 0;
    uint64_t k;
    void *v;
    while (idmap_next(&rs->runs, &pos, &k, &v)) {
        struct run *r = v;
        free(r->shards);
        script_free(r->sc);
        free(r);
    }
    idmap_deinit(&rs->runs);
    msg_free(rs->stop_req);
    free(rs);
    actor_free(a);
}
