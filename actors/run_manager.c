/* run_manager: the actor that hosts platform runs — requests routed to
 * the create flow (run_create.c), live control (run_ctl.c) and the engine
 * side (run_engine.c); the run's ordered writes, heartbeats, the sweep of
 * runs whose server died, and an orderly stop. */
#include "run_manager_int.h"

#include "bus.h"
#include "clock.h"
#include "collector.h"
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

static const char *const state_names[RMS_COUNT] = {
    "queued", "starting", "running", "paused", "stopping",
    "finished", "failed", "cancelled", "interrupted",
};

const char *rm_state_name(enum rm_state s)
{
    return (unsigned)s < RMS_COUNT ? state_names[s] : "unknown";
}

int rm_state_active(enum rm_state s)
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
void rm_write_state(struct rm *rm, struct prun *r, const char *extra_set, const char *kind,
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

void rm_set_state(struct rm *rm, struct prun *r, enum rm_state st, const char *detail,
                      msg_t *req, struct rm_reply *rep)
{
    r->st = st;
    bus_event(rm->cfg.bus, rm->prefix, "state", r->id, rm_state_name(st), detail);
    const char *extra = st == RMS_STARTING ? ", started_at = now()" : NULL;
    rm_write_state(rm, r, extra, rm_state_name(st), detail, req, rep);
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
        if (rm_state_active(r->st) && r->st != RMS_STOPPING)
            rm_stop_run(rm, r, "shutdown", NULL);
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
            rm_reply_err(m, 503, "shutting_down", NULL, "the server is shutting down");
            return;
        }
        rm_create_begin(rm, (struct rm_create *)m);
        return; /* kept until answered */
    case MSG_RM_CONTROL:
        rm_control(rm, (struct rm_control *)m);
        return; /* answered (and freed) there */
    case MSG_DS_COLLECT:
        /* the collector answers the API itself */
        if (rm->stop_req || !rm->collector || actor_send(rm->collector, m) < 0)
            rm_reply_err(m, 503, rm->stop_req ? "shutting_down" : "unavailable", NULL,
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
        rm_engine_event(rm, (struct run_event *)m);
        break;
    case MSG_RUN_FINISHED:
        rm_engine_finished(rm, (struct run_finished *)m);
        break;
    case MSG_RUN_CONTROL_REPLY:
        rm_control_reply(rm, (struct run_control_reply *)m);
        break;
    case MSG_SERIES_SYNCED:
        rm_series_synced(rm, (struct series_sync *)m);
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
