/* run_manager: live runs — engine runs, live control, the run's ordered
 * writes, heartbeats and the sweep of runs whose server died. The create
 * flow is in run_create.c. */
#include "run_manager_int.h"

#include "bus.h"
#include "clock.h"
#include "collector.h"
#include "json.h"
#include "sbuf.h"
#include "series_writer.h"
#include "status.h"
#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_US 1000000u
#define SWEEP_EVERY_TICKS 2
#define STOP_DEADLINE_US 8000000u

enum { TAG_TICK = 1 };

/* An API control waiting for the engine's answers. */
struct pctl {
    struct rm_control *req;   /* owned until answered */
    struct prun *run;
    int waiting;
    int err_status;
    char err[200];
};

static const char *const state_names[RMS_COUNT] = {
    "queued", "starting", "running", "paused", "stopping",
    "finished", "failed", "cancelled", "interrupted",
};

static const char *const ps_names[] = {
    "queued", "running", "stopping", "stopped", "finished", "failed", "interrupted",
};

const char *rm_state_name(enum rm_state s)
{
    return (unsigned)s < RMS_COUNT ? state_names[s] : "unknown";
}

static int state_active(enum rm_state s)
{
    return s <= RMS_STOPPING;
}

void rm_create_dtor(msg_t *m)
{
    free(((struct rm_create *)m)->overrides);
}

/* ---- replies ---- */

struct rm_reply *rm_reply_new(int status, const char *code, const char *field, const char *fmt, ...)
{
    struct rm_reply *r = MSG_NEW(MSG_RM_REPLY, struct rm_reply);
    r->status = status;
    snprintf(r->code, sizeof r->code, "%s", code ? code : "");
    snprintf(r->field, sizeof r->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return r;
}

void rm_answer(msg_t *req, struct rm_reply *rep)
{
    actor_reply(req, &rep->m);
    msg_free(req);
}

/* ---- the run's writes, one at a time, in order ---- */

static void wq_free(struct wq *w)
{
    if (w->q)
        msg_free(&w->q->m);
    if (w->req)
        msg_free(w->req);
    if (w->rep)
        msg_free(&w->rep->m);
    free(w);
}

void rm_run_free(struct prun *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        script_free(r->scripts[i].sc);
        free(r->scripts[i].summary);
    }
    free(r->scripts);
    while (!STAILQ_EMPTY(&r->writes)) {
        struct wq *w = STAILQ_FIRST(&r->writes);
        STAILQ_REMOVE_HEAD(&r->writes, link);
        wq_free(w);
    }
    free(r);
}

static void pump_writes(struct rm *rm, struct prun *r)
{
    if (r->write_corr || r->write_blocked || STAILQ_EMPTY(&r->writes))
        return;
    struct wq *w = STAILQ_FIRST(&r->writes);
    struct store_query *q = store_query_clone(w->q);
    uint64_t corr = actor_request(rm->self, rm->cfg.store, &q->m);
    if (!corr) {
        msg_free(&q->m);
        r->write_blocked = 1; /* the store is backed up: the tick tries again */
        return;
    }
    r->write_corr = corr;
    idmap_put(&rm->wcorr, corr, r);
}

struct wq *rm_write(struct rm *rm, struct prun *r, struct store_query *q, msg_t *req, struct rm_reply *rep)
{
    struct wq *w = xcalloc(1, sizeof *w);
    w->q = q;
    w->req = req;
    w->rep = rep;
    STAILQ_INSERT_TAIL(&r->writes, w, link);
    pump_writes(rm, r);
    return w;
}

static void forget_run(struct rm *rm, struct prun *r)
{
    LIST_REMOVE(r, link);
    for (int i = 0; i < r->n; i++)
        if (r->scripts[i].engine_id)
            idmap_del(&rm->engine, r->scripts[i].engine_id);
    rm_run_free(r);
}

static void maybe_stopped(struct rm *rm);

static void on_write_result(struct rm *rm, struct prun *r, struct store_result *res)
{
    r->write_corr = 0;
    struct wq *w = STAILQ_FIRST(&r->writes);
    if (!w)
        return;
    int retry = res->status == STORE_EUNAVAILABLE || res->status == STORE_ETIMEOUT;
    if (w->req) {
        /* The change is applied; the record follows when the database can take it. */
        rm_answer(w->req, w->rep);
        w->req = NULL;
        w->rep = NULL;
    }
    if (retry) {
        rm->stats.write_retries++;
        r->write_blocked = 1;
        alog_debug(rm->self, "run %s: write postponed (%s)", r->id, res->error ? res->error : "");
        return;
    }
    if (res->status != STORE_OK)
        alog_error(rm->self, "run %s: a write was refused: %s", r->id, res->error ? res->error : "?");
    STAILQ_REMOVE_HEAD(&r->writes, link);
    int last = w->last;
    wq_free(w);
    if (last) {
        forget_run(rm, r);
        maybe_stopped(rm);
        return;
    }
    pump_writes(rm, r);
}

/* A status change and its event, as one write. detail is a JSON object. */
static void write_state(struct rm *rm, struct prun *r, const char *extra_set, const char *kind,
                        const char *detail, msg_t *req, struct rm_reply *rep)
{
    struct store_query *q = store_query_new();
    char *sql = xasprintf("UPDATE runs SET status = $2%s WHERE id = $1", extra_set ? extra_set : "");
    const char *p1[2] = { r->id, rm_state_name(r->st) };
    store_query_add(q, sql, 2, p1);
    free(sql);
    const char *p2[3] = { r->id, kind, detail ? detail : "{}" };
    store_query_add(q, "INSERT INTO run_events (run_id, kind, detail) VALUES ($1, $2, $3::jsonb)", 3, p2);
    rm_write(rm, r, q, req, rep);
}

static void set_state(struct rm *rm, struct prun *r, enum rm_state st, const char *detail,
                      msg_t *req, struct rm_reply *rep)
{
    r->st = st;
    bus_event(rm->cfg.bus, rm->prefix, "state", r->id, rm_state_name(st), detail);
    const char *extra = st == RMS_STARTING ? ", started_at = now()" : NULL;
    write_state(rm, r, extra, rm_state_name(st), detail, req, rep);
}

/* ---- engine ---- */

static struct pscript *pscript_of(struct prun *r, uint64_t engine_id)
{
    for (int i = 0; i < r->n; i++)
        if (r->scripts[i].engine_id == engine_id)
            return &r->scripts[i];
    return NULL;
}

static struct pscript *pscript_by_id(struct prun *r, const char *script_id)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->scripts[i].script_id, script_id) == 0)
            return &r->scripts[i];
    return NULL;
}

static int ps_live(const struct pscript *ps)
{
    return ps->engine_id && !ps->engine_over;
}

/* Send a control to one engine run. With pc, the answer is awaited. */
static void engine_control(struct rm *rm, struct pscript *ps, enum run_op op, double value,
                           uint64_t ramp_us, struct pctl *pc)
{
    struct run_control *c = MSG_NEW(MSG_RUN_CONTROL, struct run_control);
    c->run_id = ps->engine_id;
    c->op = op;
    c->value = value;
    c->ramp_us = ramp_us;
    if (!pc) {
        if (actor_send_urgent(rm->cfg.runs, &c->m) < 0)
            msg_free(&c->m);
        return;
    }
    uint64_t corr = actor_request(rm->self, rm->cfg.runs, &c->m);
    if (!corr) {
        msg_free(&c->m);
        pc->err_status = 503;
        snprintf(pc->err, sizeof pc->err, "the engine is not accepting controls");
        return;
    }
    pc->waiting++;
    idmap_put(&rm->ctl, corr, pc);
}

void rm_launch(struct rm *rm, struct prun *r)
{
    LIST_INSERT_HEAD(&rm->runs, r, link);
    rm->stats.created++;
    for (int i = 0; i < r->n; i++) {
        struct pscript *ps = &r->scripts[i];
        ps->engine_id = ++rm->next_engine_id;
        idmap_put(&rm->engine, ps->engine_id, r);
        struct series_register *g = MSG_NEW(MSG_SERIES_REGISTER, struct series_register);
        g->run_id = ps->engine_id;
        snprintf(g->run_uuid, sizeof g->run_uuid, "%s", r->id);
        snprintf(g->script_uuid, sizeof g->script_uuid, "%s", ps->script_id);
        if (actor_send_urgent(rm->cfg.series, &g->m) < 0)
            msg_free(&g->m);
        struct run_start *st = MSG_NEW(MSG_RUN_START, struct run_start);
        st->run_id = ps->engine_id;
        st->script = ps->sc;
        st->observer = rm->self;
        st->percent = r->percent;
        snprintf(st->label, sizeof st->label, "%s", r->id);
        snprintf(st->script_id, sizeof st->script_id, "%s", ps->script_id);
        snprintf(st->script_name, sizeof st->script_name, "%s", ps->name);
        if (actor_send_urgent(rm->cfg.runs, &st->m) < 0) {
            msg_free(&st->m); /* the script stays ours and is freed with the run */
            ps->engine_over = ps->done = 1;
            ps->st = PS_FAILED;
            alog_error(rm->self, "run %s: the engine refused script %s", r->id, ps->name);
            continue;
        }
        ps->sc = NULL;
        ps->st = PS_RUNNING;
    }
    set_state(rm, r, RMS_STARTING, NULL, NULL, NULL);
    alog_info(rm->self, "run %s starting (%d script%s at %g%%)", r->id, r->n, r->n > 1 ? "s" : "",
              r->percent);
}

static char *detail_json(const char *k1, const char *v1, const char *k2, const char *v2)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    if (k1)
        json_gen_kv_str(g, k1, v1);
    if (k2)
        json_gen_kv_str(g, k2, v2);
    yajl_gen_map_close(g);
    return json_gen_finish(g, NULL);
}

static void on_engine_event(struct rm *rm, struct run_event *e)
{
    struct prun *r = idmap_get(&rm->engine, e->run_id);
    struct pscript *ps = r ? pscript_of(r, e->run_id) : NULL;
    if (!ps)
        return;
    if (e->kind == RUN_EV_STARTED) {
        ps->started = 1;
        int all = 1;
        for (int i = 0; i < r->n; i++)
            all &= r->scripts[i].started || r->scripts[i].engine_over;
        if (all && r->st == RMS_STARTING)
            set_state(rm, r, RMS_RUNNING, NULL, NULL, NULL);
    } else if (e->kind == RUN_EV_ABORTING) {
        char *d = detail_json("script", ps->name, "reason", e->detail);
        write_state(rm, r, NULL, "threshold_abort", d, NULL, NULL);
        bus_event(rm->cfg.bus, rm->prefix, "threshold_abort", r->id, rm_state_name(r->st), d);
        free(d);
        if (state_active(r->st) && r->st != RMS_STOPPING && r->n == 1)
            set_state(rm, r, RMS_STOPPING, NULL, NULL, NULL);
    }
}

/* The summary of the whole run: the script's own, or for a scenario
 * {"run_id", "kind": "scenario", "scripts": [{script_id, name, summary}]}. */
static char *run_summary(const struct prun *r)
{
    if (!r->scenario)
        return r->scripts[0].summary ? xstrdup(r->scripts[0].summary) : NULL;
    struct sbuf b;
    sbuf_init(&b, 4096);
    sbuf_printf(&b, "{\"run_id\":\"%s\",\"kind\":\"scenario\",\"scripts\":[", r->id);
    for (int i = 0; i < r->n; i++) {
        const struct pscript *ps = &r->scripts[i];
        char *name = json_quote(ps->name);
        sbuf_printf(&b, "%s{\"script_id\":\"%s\",\"name\":%s,\"status\":\"%s\",\"summary\":%s}",
                    i ? "," : "", ps->script_id, name, ps_names[ps->st],
                    ps->summary ? ps->summary : "null");
        free(name);
    }
    sbuf_adds(&b, "]}");
    return sbuf_take(&b, NULL);
}

static void finalize(struct rm *rm, struct prun *r)
{
    int failed = 0, stopped = 0;
    for (int i = 0; i < r->n; i++) {
        failed += r->scripts[i].st == PS_FAILED;
        stopped += r->scripts[i].st == PS_STOPPED;
    }
    char error[300] = "";
    if (r->shutdown) {
        r->st = RMS_INTERRUPTED;
        snprintf(error, sizeof error, "the server was shut down while the run was going");
    } else if (r->user_stop || stopped == r->n) {
        r->st = RMS_CANCELLED;
    } else if (failed) {
        r->st = RMS_FAILED;
        snprintf(error, sizeof error, "%d of %d script%s failed thresholds", failed, r->n,
                 r->n > 1 ? "s" : "");
    } else {
        r->st = RMS_FINISHED;
    }
    rm->stats.ended[r->st]++;
    char *summary = run_summary(r);
    struct store_query *q = store_query_new();
    const char *p1[4] = { r->id, rm_state_name(r->st), summary, error[0] ? error : NULL };
    store_query_add(q, "UPDATE runs SET status = $2, finished_at = now(), summary = $3::jsonb,"
                       " error = $4, heartbeat_at = NULL WHERE id = $1", 4, p1);
    char *d = detail_json(error[0] ? "error" : NULL, error, NULL, NULL);
    const char *p2[3] = { r->id, rm_state_name(r->st), d };
    store_query_add(q, "INSERT INTO run_events (run_id, kind, detail) VALUES ($1, $2, $3::jsonb)", 3, p2);
    free(d);
    free(summary);
    rm_write(rm, r, q, NULL, NULL)->last = 1;
    char *ev = detail_json(error[0] ? "error" : NULL, error, NULL, NULL);
    bus_event(rm->cfg.bus, rm->prefix, "state", r->id, rm_state_name(r->st), ev);
    free(ev);
    alog_info(rm->self, "run %s %s", r->id, rm_state_name(r->st));
}

static void on_synced(struct rm *rm, struct series_sync *s);

static void on_engine_finished(struct rm *rm, struct run_finished *f)
{
    struct prun *r = idmap_get(&rm->engine, f->run_id);
    struct pscript *ps = r ? pscript_of(r, f->run_id) : NULL;
    if (!ps)
        return;
    ps->engine_over = 1;
    ps->thresholds_failed = f->summary->thresholds_failed;
    ps->aborted = f->summary->aborted;
    free(ps->summary);
    ps->summary = f->summary->json; /* taken */
    f->summary->json = NULL;
    struct series_sync *s = MSG_NEW(MSG_SERIES_SYNC, struct series_sync);
    s->run_id = f->run_id;
    if (!actor_request(rm->self, rm->cfg.series, &s->m)) {
        alog_warn(rm->self, "run %s: cannot wait for its series rows", r->id);
        on_synced(rm, s); /* go on without waiting */
        msg_free(&s->m);
    }
}

static void on_synced(struct rm *rm, struct series_sync *s)
{
    struct prun *r = idmap_get(&rm->engine, s->run_id);
    struct pscript *ps = r ? pscript_of(r, s->run_id) : NULL;
    if (!ps || ps->done)
        return;
    ps->done = 1;
    if (s->dropped)
        alog_warn(rm->self, "run %s script %s: %llu seconds of series could not be stored", r->id,
                  ps->name, (unsigned long long)s->dropped);
    if (ps->user_stopped)
        ps->st = PS_STOPPED;
    else if (r->shutdown)
        ps->st = PS_INTERRUPTED;
    else if (ps->thresholds_failed || ps->aborted)
        ps->st = PS_FAILED;
    else
        ps->st = PS_FINISHED;
    struct store_query *q = store_query_new();
    const char *p[4] = { r->id, ps->script_id, ps_names[ps->st], ps->summary };
    store_query_add(q, "UPDATE run_scripts SET status = $3, summary = $4::jsonb"
                       " WHERE run_id = $1 AND script_id = $2", 4, p);
    rm_write(rm, r, q, NULL, NULL);
    for (int i = 0; i < r->n; i++)
        if (!r->scripts[i].done)
            return;
    finalize(rm, r);
}

/* ---- control ---- */

static struct prun *find_run(struct rm *rm, const char *id)
{
    struct prun *r;
    LIST_FOREACH(r, &rm->runs, link)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

static void reply_err(msg_t *req, int status, const char *code, const char *field, const char *msg)
{
    rm_answer(req, rm_reply_new(status, code, field, "%s", msg));
}

static struct rm_reply *ok_reply(const struct prun *r)
{
    struct rm_reply *rep = rm_reply_new(200, NULL, NULL, "ok");
    snprintf(rep->run_id, sizeof rep->run_id, "%s", r->id);
    return rep;
}

static void stop_script_engine(struct rm *rm, struct prun *r, struct pscript *ps)
{
    if (!ps_live(ps))
        return;
    if (r->st == RMS_PAUSED)
        engine_control(rm, ps, RUN_OP_RESUME, 0, 0, NULL);
    engine_control(rm, ps, RUN_OP_STOP, 0, 0, NULL);
    if (ps->st == PS_RUNNING)
        ps->st = PS_STOPPING;
}

static void stop_run(struct rm *rm, struct prun *r, const char *by, msg_t *req)
{
    for (int i = 0; i < r->n; i++)
        stop_script_engine(rm, r, &r->scripts[i]);
    char *d = detail_json("by", by, NULL, NULL);
    set_state(rm, r, RMS_STOPPING, d, req, req ? ok_reply(r) : NULL);
    free(d);
}

static const char *load_field(enum rm_op op)
{
    return op == RM_OP_PERCENT ? "percent" : op == RM_OP_RATE ? "rate" : "vus";
}

static void control_load(struct rm *rm, struct prun *r, struct rm_control *c)
{
    struct pscript *only = NULL;
    int live = 0;
    for (int i = 0; i < r->n; i++)
        live += ps_live(&r->scripts[i]) && r->scripts[i].st == PS_RUNNING;
    if (c->script_id[0]) {
        only = pscript_by_id(r, c->script_id);
        if (!only) {
            reply_err(&c->m, 404, "not_found", "script_id", "this run has no such script");
            return;
        }
        if (!ps_live(only) || only->st != PS_RUNNING) {
            reply_err(&c->m, 409, "conflict", "script_id", "that script of the run is not running");
            return;
        }
    } else if (c->op != RM_OP_PERCENT && live > 1) {
        reply_err(&c->m, 400, "invalid", "script_id",
                  "this run has several scripts: say which one with script_id");
        return;
    }
    struct pctl *pc = xcalloc(1, sizeof *pc);
    pc->req = c;
    pc->run = r;
    enum run_op op = c->op == RM_OP_PERCENT ? RUN_OP_SCALE
                     : c->op == RM_OP_RATE  ? RUN_OP_SET_RATE
                                            : RUN_OP_SET_VUS;
    for (int i = 0; i < r->n; i++) {
        struct pscript *ps = &r->scripts[i];
        if ((only && ps != only) || !ps_live(ps) || ps->st != PS_RUNNING)
            continue;
        engine_control(rm, ps, op, c->value, c->ramp_us, pc);
    }
    if (pc->waiting == 0) {
        reply_err(&c->m, pc->err_status ? pc->err_status : 409, pc->err_status ? "unavailable" : "conflict",
                  NULL, pc->err[0] ? pc->err : "no script of the run is running");
        free(pc);
    }
}

static void control_done(struct rm *rm, struct pctl *pc)
{
    struct rm_control *c = pc->req;
    struct prun *r = pc->run;
    if (pc->err_status) {
        const char *code = pc->err_status == 404 ? "not_found" : pc->err_status == 400 ? "invalid" : "conflict";
        reply_err(&c->m, pc->err_status, code, load_field(c->op), pc->err);
        free(pc);
        return;
    }
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_double(g, load_field(c->op), c->value, 6);
    json_gen_kv_double(g, "over_s", (double)c->ramp_us / 1e6, 3);
    if (c->script_id[0])
        json_gen_kv_str(g, "script_id", c->script_id);
    yajl_gen_map_close(g);
    char *d = json_gen_finish(g, NULL);
    struct store_query *q = store_query_new();
    if (c->op == RM_OP_PERCENT && !c->script_id[0]) {
        r->percent = c->value;
        char pct[32];
        snprintf(pct, sizeof pct, "%.17g", c->value);
        const char *p1[2] = { r->id, pct };
        store_query_add(q, "UPDATE runs SET percent = $2 WHERE id = $1", 2, p1);
    }
    const char *p2[2] = { r->id, d };
    store_query_add(q, "INSERT INTO run_events (run_id, kind, detail) VALUES ($1, 'load', $2::jsonb)", 2, p2);
    bus_event(rm->cfg.bus, rm->prefix, "load", r->id, rm_state_name(r->st), d);
    free(d);
    rm_write(rm, r, q, &c->m, ok_reply(r));
    free(pc);
}

static void on_engine_control_reply(struct rm *rm, struct run_control_reply *rep)
{
    struct pctl *pc = idmap_del(&rm->ctl, rep->m.corr);
    if (!pc)
        return;
    if (rep->status && !pc->err_status) {
        pc->err_status = rep->status;
        snprintf(pc->err, sizeof pc->err, "%s", rep->message);
    }
    if (--pc->waiting == 0)
        control_done(rm, pc);
}

static void on_control(struct rm *rm, struct rm_control *c)
{
    struct prun *r = find_run(rm, c->run_id);
    if (!r || !state_active(r->st)) {
        reply_err(&c->m, 409, "conflict", "id", "the run is not active on this server");
        return;
    }
    if (rm->stop_req) {
        reply_err(&c->m, 503, "shutting_down", NULL, "the server is shutting down");
        return;
    }
    switch (c->op) {
    case RM_OP_STOP:
        if (r->st == RMS_STOPPING) {
            reply_err(&c->m, 409, "conflict", NULL, "the run is already stopping");
            return;
        }
        r->user_stop = 1;
        stop_run(rm, r, "api", &c->m);
        return;
    case RM_OP_PAUSE:
    case RM_OP_RESUME: {
        int pause = c->op == RM_OP_PAUSE;
        if (r->st != (pause ? RMS_RUNNING : RMS_PAUSED)) {
            reply_err(&c->m, 409, "conflict", NULL, pause ? "only a running run can be paused"
                                                           : "the run is not paused");
            return;
        }
        for (int i = 0; i < r->n; i++)
            if (ps_live(&r->scripts[i]))
                engine_control(rm, &r->scripts[i], pause ? RUN_OP_PAUSE : RUN_OP_RESUME, 0, 0, NULL);
        set_state(rm, r, pause ? RMS_PAUSED : RMS_RUNNING, NULL, &c->m, ok_reply(r));
        return;
    }
    case RM_OP_PERCENT:
    case RM_OP_RATE:
    case RM_OP_VUS:
        if (r->st == RMS_STOPPING || r->st == RMS_QUEUED) {
            reply_err(&c->m, 409, "conflict", NULL, "the run is not running");
            return;
        }
        control_load(rm, r, c);
        return;
    case RM_OP_STOP_SCRIPT: {
        struct pscript *ps = pscript_by_id(r, c->script_id);
        if (!ps) {
            reply_err(&c->m, 404, "not_found", "script_id", "this run has no such script");
            return;
        }
        if (!ps_live(ps) || ps->st != PS_RUNNING) {
            reply_err(&c->m, 409, "conflict", "script_id", "that script of the run is not running");
            return;
        }
        ps->user_stopped = 1;
        stop_script_engine(rm, r, ps);
        struct store_query *q = store_query_new();
        const char *p1[2] = { r->id, ps->script_id };
        store_query_add(q, "UPDATE run_scripts SET status = 'stopping' WHERE run_id = $1 AND script_id = $2",
                        2, p1);
        char *d = detail_json("script_id", ps->script_id, "name", ps->name);
        const char *p2[2] = { r->id, d };
        store_query_add(q, "INSERT INTO run_events (run_id, kind, detail) VALUES ($1, 'script_stopping', $2::jsonb)",
                        2, p2);
        free(d);
        rm_write(rm, r, q, &c->m, ok_reply(r));
        return;
    }
    }
    reply_err(&c->m, 400, "invalid", NULL, "unknown control");
}

/* ---- liveness: heartbeats and the sweep ---- */

/* '{a,b,c}': the ids of this server's active runs as a uuid[] literal. */
static char *active_ids(struct rm *rm)
{
    struct sbuf b;
    sbuf_init(&b, 128);
    sbuf_adds(&b, "{");
    struct prun *r;
    int n = 0;
    LIST_FOREACH(r, &rm->runs, link)
        sbuf_printf(&b, "%s%s", n++ ? "," : "", r->id);
    sbuf_adds(&b, "}");
    return sbuf_take(&b, NULL);
}

static void heartbeat(struct rm *rm)
{
    if (rm->heartbeat_corr || LIST_EMPTY(&rm->runs) || !rm->db_up)
        return;
    char *ids = active_ids(rm);
    struct store_query *q = store_query_new();
    const char *p[1] = { ids };
    store_query_add(q, "UPDATE runs SET heartbeat_at = now() WHERE id = ANY($1::uuid[])", 1, p);
    free(ids);
    rm->heartbeat_corr = actor_request(rm->self, rm->cfg.store, &q->m);
    if (!rm->heartbeat_corr)
        msg_free(&q->m);
}

static void sweep(struct rm *rm)
{
    if (rm->sweep_corr || !rm->db_up)
        return;
    char *ids = active_ids(rm);
    char stale[16];
    snprintf(stale, sizeof stale, "%d", RM_STALE_S);
    struct store_query *q = store_query_new();
    const char *p[2] = { ids, stale };
    store_query_add(q,
        "WITH dead AS ("
        " UPDATE runs SET status = 'interrupted', finished_at = now(), heartbeat_at = NULL,"
        "  error = 'the server executing the run stopped answering (last heartbeat '"
        "   || coalesce(to_char(heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'never') || ')'"
        " WHERE status IN ('queued', 'starting', 'running', 'paused', 'stopping')"
        "  AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $2::int))"
        "  AND NOT (id = ANY($1::uuid[]))"
        " RETURNING id),"
        " ev AS (INSERT INTO run_events (run_id, kind, detail)"
        "  SELECT id, 'interrupted', '{\"reason\":\"no heartbeat from its server\"}'::jsonb FROM dead),"
        " rs AS (UPDATE run_scripts SET status = 'interrupted'"
        "  WHERE run_id IN (SELECT id FROM dead) AND status IN ('queued', 'running', 'stopping'))"
        " SELECT count(*) FROM dead", 2, p);
    free(ids);
    rm->sweep_corr = actor_request(rm->self, rm->cfg.store, &q->m);
    if (!rm->sweep_corr)
        msg_free(&q->m);
}

static void on_sweep_result(struct rm *rm, struct store_result *res)
{
    rm->sweep_corr = 0;
    if (res->status != STORE_OK) {
        alog_debug(rm->self, "sweep failed: %s", res->error ? res->error : "");
        return;
    }
    PGresult *pr = res->res[0];
    long n = PQntuples(pr) ? atol(PQgetvalue(pr, 0, 0)) : 0;
    if (n > 0) {
        rm->stats.interrupted_found += (uint64_t)n;
        alog_warn(rm->self, "%ld run%s left by a server that stopped marked interrupted", n, n > 1 ? "s" : "");
    }
}

/* ---- lifecycle ---- */

static void maybe_stopped(struct rm *rm)
{
    if (!rm->stop_req || !LIST_EMPTY(&rm->creates) || rm->collector_stopping)
        return;
    if (!LIST_EMPTY(&rm->runs) && clock_now_us() < rm->stop_deadline_us)
        return;
    if (!LIST_EMPTY(&rm->runs))
        alog_warn(rm->self, "runs still stopping after %u s: leaving them to the sweep",
                  STOP_DEADLINE_US / 1000000u);
    actor_reply(rm->stop_req, msg_new(MSG_STOPPED, sizeof(msg_t)));
    msg_free(rm->stop_req);
    rm->stop_req = NULL;
}

static void on_stop(struct rm *rm, msg_t *m)
{
    if (rm->stop_req) {
        actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
        msg_free(m);
        return;
    }
    rm->stop_req = m;
    rm->stop_deadline_us = clock_now_us() + STOP_DEADLINE_US;
    rm_create_abort_all(rm);
    if (rm->collector) {
        msg_t *cs = msg_new(MSG_STOP, sizeof(msg_t));
        cs->reply_to = rm->self;
        if (actor_send_urgent(rm->collector, cs) == 0)
            rm->collector_stopping = 1;
        else
            msg_free(cs);
    }
    struct prun *r;
    LIST_FOREACH(r, &rm->runs, link) {
        r->shutdown = 1;
        if (state_active(r->st) && r->st != RMS_STOPPING)
            stop_run(rm, r, "shutdown", NULL);
    }
    maybe_stopped(rm);
}

static void on_tick(struct rm *rm)
{
    rm->ticks++;
    heartbeat(rm);
    if (rm->ticks % SWEEP_EVERY_TICKS == 1)
        sweep(rm);
    struct prun *r;
    LIST_FOREACH(r, &rm->runs, link) {
        if (r->write_blocked && rm->db_up) {
            r->write_blocked = 0;
            pump_writes(rm, r);
        }
    }
    maybe_stopped(rm);
}

static void on_stats_get(struct rm *rm, msg_t *req)
{
    struct rm_stats *s = MSG_NEW(MSG_RM_STATS, struct rm_stats);
    memcpy(s->ended, rm->stats.ended, sizeof s->ended);
    s->created = rm->stats.created;
    s->write_retries = rm->stats.write_retries;
    s->interrupted_found = rm->stats.interrupted_found;
    struct prun *r;
    LIST_FOREACH(r, &rm->runs, link)
        s->active[r->st]++;
    actor_reply(req, &s->m);
}

static void on_store_result(struct rm *rm, struct store_result *res)
{
    uint64_t corr = res->m.corr;
    if (corr && corr == rm->heartbeat_corr) {
        rm->heartbeat_corr = 0;
        return;
    }
    if (corr && corr == rm->sweep_corr) {
        on_sweep_result(rm, res);
        return;
    }
    struct prun *r = idmap_del(&rm->wcorr, corr);
    if (r) {
        on_write_result(rm, r, res);
        return;
    }
    if (rm_create_result(rm, res)) {
        maybe_stopped(rm);
        return;
    }
}

static void rm_handle(actor_t *self, msg_t *m)
{
    struct rm *rm = actor_state(self);
    switch (m->type) {
    case MSG_TIMER:
        on_tick(rm);
        return;
    case MSG_RM_CREATE:
        if (rm->stop_req) {
            reply_err(m, 503, "shutting_down", NULL, "the server is shutting down");
            return;
        }
        rm_create_begin(rm, (struct rm_create *)m);
        return; /* kept until answered */
    case MSG_RM_CONTROL:
        on_control(rm, (struct rm_control *)m);
        return; /* answered (and freed) there */
    case MSG_DS_COLLECT:
        /* the collector answers the API itself */
        if (rm->stop_req || !rm->collector || actor_send(rm->collector, m) < 0)
            reply_err(m, 503, rm->stop_req ? "shutting_down" : "unavailable", NULL,
                      rm->stop_req ? "the server is shutting down" : "dataset collection is not available");
        return;
    case MSG_STOPPED: /* the collector's */
        rm->collector_stopping = 0;
        maybe_stopped(rm);
        break;
    case MSG_RM_STATS_GET:
        on_stats_get(rm, m);
        break;
    case MSG_STORE_RESULT:
        on_store_result(rm, (struct store_result *)m);
        break;
    case MSG_RUN_EVENT:
        on_engine_event(rm, (struct run_event *)m);
        break;
    case MSG_RUN_FINISHED:
        on_engine_finished(rm, (struct run_finished *)m);
        break;
    case MSG_RUN_CONTROL_REPLY:
        on_engine_control_reply(rm, (struct run_control_reply *)m);
        break;
    case MSG_SERIES_SYNCED:
        on_synced(rm, (struct series_sync *)m);
        break;
    case MSG_DEP_STATUS: {
        struct msg_dep_status *d = (struct msg_dep_status *)m;
        if (d->dep == DEP_POSTGRES) {
            int was = rm->db_up;
            rm->db_up = d->up;
            if (d->up && !was)
                sweep(rm); /* at start and after an outage: runs left by a dead server */
        }
        break;
    }
    case MSG_STOP:
        on_stop(rm, m);
        return;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *run_manager_new(struct loop *l, const struct rm_config *cfg)
{
    struct rm *rm = xcalloc(1, sizeof *rm);
    rm->cfg = *cfg;
    snprintf(rm->prefix, sizeof rm->prefix, "%s", cfg->prefix ? cfg->prefix : "stampede");
    rm->cfg.prefix = rm->prefix;
    LIST_INIT(&rm->runs);
    LIST_INIT(&rm->creates);
    idmap_init(&rm->engine);
    idmap_init(&rm->ctl);
    idmap_init(&rm->wcorr);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(rm->owner, sizeof rm->owner, "%s:%d", host, (int)getpid());
    rm->self = actor_new(l, "run_manager", -1, rm_handle, rm, 0);
    char err[256];
    struct collector_config cc = { cfg->store, cfg->collect_allow };
    rm->collector = collector_new(l, &cc, err, sizeof err);
    if (!rm->collector)
        alog_error(rm->self, "dataset collection is off: %s", err);
    rm->tick = actor_timer_new(rm->self, TAG_TICK);
    actor_timer_start(rm->tick, TICK_US, TICK_US);
    msg_t *w = msg_new(MSG_DEP_WATCH, sizeof(msg_t));
    w->reply_to = rm->self;
    if (actor_send_urgent(cfg->store, w) < 0)
        msg_free(w);
    return rm->self;
}

void run_manager_free(actor_t *a)
{
    if (!a)
        return;
    struct rm *rm = actor_state(a);
    actor_timer_free(rm->tick);
    rm_create_abort_all(rm);
    while (!LIST_EMPTY(&rm->runs)) {
        struct prun *r = LIST_FIRST(&rm->runs);
        LIST_REMOVE(r, link);
        rm_run_free(r);
    }
    size_t pos = 0;
    uint64_t k;
    void *v;
    while (idmap_next(&rm->ctl, &pos, &k, &v)) {
        struct pctl *pc = v;
        msg_free(&pc->req->m);
        free(pc);
    }
    idmap_deinit(&rm->engine);
    idmap_deinit(&rm->ctl);
    idmap_deinit(&rm->wcorr);
    collector_free(rm->collector);
    free(rm);
    actor_free(a);
}
