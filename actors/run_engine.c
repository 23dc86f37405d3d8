/* run_engine: a platform run's scripts on the engine — launching one
 * engine run per script, controls sent to them, their state events, and the
 * end: the series synced, the summary built and the final state written. */
#include "run_manager_int.h"

#include "bus.h"
#include "json.h"
#include "sbuf.h"
#include "series_writer.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ps_names[] = {
    "queued", "running", "stopping", "stopped", "finished", "failed", "interrupted",
};

static struct pscript *pscript_of(struct prun *r, uint64_t engine_id)
{
    for (int i = 0; i < r->n; i++)
        if (r->scripts[i].engine_id == engine_id)
            return &r->scripts[i];
    return NULL;
}

struct pscript *rm_pscript_by_id(struct prun *r, const char *script_id)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->scripts[i].script_id, script_id) == 0)
            return &r->scripts[i];
    return NULL;
}

int rm_ps_live(const struct pscript *ps)
{
    return ps->engine_id && !ps->engine_over;
}

/* Send a control to one engine run. With pc, the answer is awaited. */
void rm_engine_control(struct rm *rm, struct pscript *ps, enum run_op op, double value,
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
    rm_set_state(rm, r, RMS_STARTING, NULL, NULL, NULL);
    alog_info(rm->self, "run %s starting (%d script%s at %g%%)", r->id, r->n, r->n > 1 ? "s" : "",
              r->percent);
}

char *rm_detail_json(const char *k1, const char *v1, const char *k2, const char *v2)
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

void rm_engine_event(struct rm *rm, struct run_event *e)
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
            rm_set_state(rm, r, RMS_RUNNING, NULL, NULL, NULL);
    } else if (e->kind == RUN_EV_ABORTING) {
        char *d = rm_detail_json("script", ps->name, "reason", e->detail);
        rm_write_state(rm, r, NULL, "threshold_abort", d, NULL, NULL);
        bus_event(rm->cfg.bus, rm->prefix, "threshold_abort", r->id, rm_state_name(r->st), d);
        free(d);
        if (rm_state_active(r->st) && r->st != RMS_STOPPING && r->n == 1)
            rm_set_state(rm, r, RMS_STOPPING, NULL, NULL, NULL);
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
    char *d = rm_detail_json(error[0] ? "error" : NULL, error, NULL, NULL);
    const char *p2[3] = { r->id, rm_state_name(r->st), d };
    store_query_add(q, "INSERT INTO run_events (run_id, kind, detail) VALUES ($1, $2, $3::jsonb)", 3, p2);
    free(d);
    free(summary);
    rm_write(rm, r, q, NULL, NULL)->last = 1;
    char *ev = rm_detail_json(error[0] ? "error" : NULL, error, NULL, NULL);
    bus_event(rm->cfg.bus, rm->prefix, "state", r->id, rm_state_name(r->st), ev);
    free(ev);
    alog_info(rm->self, "run %s %s", r->id, rm_state_name(r->st));
}

void rm_engine_finished(struct rm *rm, struct run_finished *f)
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
        rm_series_synced(rm, s); /* go on without waiting */
        msg_free(&s->m);
    }
}

void rm_series_synced(struct rm *rm, struct series_sync *s)
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

