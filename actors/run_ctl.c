/* run_ctl: live control of a run from the API — stop, pause, resume, a
 * load change (percent, rate or VUs, optionally ramped) for the whole run or
 * one script, and stopping one script of a scenario run. Each answers the
 * request once the engine has applied it and the event row is written. */
#include "run_manager_int.h"

#include "bus.h"
#include "json.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct prun *find_run(struct rm *rm, const char *id)
{
    struct prun *r;
    LIST_FOREACH(r, &rm->runs, link)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

void rm_reply_err(msg_t *req, int status, const char *code, const char *field, const char *msg)
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
    if (!rm_ps_live(ps))
        return;
    if (r->st == RMS_PAUSED)
        rm_engine_control(rm, ps, RUN_OP_RESUME, 0, 0, NULL);
    rm_engine_control(rm, ps, RUN_OP_STOP, 0, 0, NULL);
    if (ps->st == PS_RUNNING)
        ps->st = PS_STOPPING;
}

void rm_stop_run(struct rm *rm, struct prun *r, const char *by, msg_t *req)
{
    for (int i = 0; i < r->n; i++)
        stop_script_engine(rm, r, &r->scripts[i]);
    char *d = rm_detail_json("by", by, NULL, NULL);
    rm_set_state(rm, r, RMS_STOPPING, d, req, req ? ok_reply(r) : NULL);
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
        live += rm_ps_live(&r->scripts[i]) && r->scripts[i].st == PS_RUNNING;
    if (c->script_id[0]) {
        only = rm_pscript_by_id(r, c->script_id);
        if (!only) {
            rm_reply_err(&c->m, 404, "not_found", "script_id", "this run has no such script");
            return;
        }
        if (!rm_ps_live(only) || only->st != PS_RUNNING) {
            rm_reply_err(&c->m, 409, "conflict", "script_id", "that script of the run is not running");
            return;
        }
    } else if (c->op != RM_OP_PERCENT && live > 1) {
        rm_reply_err(&c->m, 400, "invalid", "script_id",
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
        if ((only && ps != only) || !rm_ps_live(ps) || ps->st != PS_RUNNING)
            continue;
        rm_engine_control(rm, ps, op, c->value, c->ramp_us, pc);
    }
    if (pc->waiting == 0) {
        rm_reply_err(&c->m, pc->err_status ? pc->err_status : 409, pc->err_status ? "unavailable" : "conflict",
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
        rm_reply_err(&c->m, pc->err_status, code, load_field(c->op), pc->err);
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

void rm_control_reply(struct rm *rm, struct run_control_reply *rep)
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

void rm_control(struct rm *rm, struct rm_control *c)
{
    struct prun *r = find_run(rm, c->run_id);
    if (!r || !rm_state_active(r->st)) {
        rm_reply_err(&c->m, 409, "conflict", "id", "the run is not active on this server");
        return;
    }
    if (rm->stop_req) {
        rm_reply_err(&c->m, 503, "shutting_down", NULL, "the server is shutting down");
        return;
    }
    switch (c->op) {
    case RM_OP_STOP:
        if (r->st == RMS_STOPPING) {
            rm_reply_err(&c->m, 409, "conflict", NULL, "the run is already stopping");
            return;
        }
        r->user_stop = 1;
        rm_stop_run(rm, r, "api", &c->m);
        return;
    case RM_OP_PAUSE:
    case RM_OP_RESUME: {
        int pause = c->op == RM_OP_PAUSE;
        if (r->st != (pause ? RMS_RUNNING : RMS_PAUSED)) {
            rm_reply_err(&c->m, 409, "conflict", NULL, pause ? "only a running run can be paused"
                                                           : "the run is not paused");
            return;
        }
        for (int i = 0; i < r->n; i++)
            if (rm_ps_live(&r->scripts[i]))
                rm_engine_control(rm, &r->scripts[i], pause ? RUN_OP_PAUSE : RUN_OP_RESUME, 0, 0, NULL);
        rm_set_state(rm, r, pause ? RMS_PAUSED : RMS_RUNNING, NULL, &c->m, ok_reply(r));
        return;
    }
    case RM_OP_PERCENT:
    case RM_OP_RATE:
    case RM_OP_VUS:
        if (r->st == RMS_STOPPING || r->st == RMS_QUEUED) {
            rm_reply_err(&c->m, 409, "conflict", NULL, "the run is not running");
            return;
        }
        control_load(rm, r, c);
        return;
    case RM_OP_STOP_SCRIPT: {
        struct pscript *ps = rm_pscript_by_id(r, c->script_id);
        if (!ps) {
            rm_reply_err(&c->m, 404, "not_found", "script_id", "this run has no such script");
            return;
        }
        if (!rm_ps_live(ps) || ps->st != PS_RUNNING) {
            rm_reply_err(&c->m, 409, "conflict", "script_id", "that script of the run is not running");
            return;
        }
        ps->user_stopped = 1;
        stop_script_engine(rm, r, ps);
        struct store_query *q = store_query_new();
        const char *p1[2] = { r->id, ps->script_id };
        store_query_add(q, "UPDATE run_scripts SET status = 'stopping' WHERE run_id = $1 AND script_id = $2",
                        2, p1);
        char *d = rm_detail_json("script_id", ps->script_id, "name", ps->name);
        const char *p2[2] = { r->id, d };
        store_query_add(q, "INSERT INTO run_events (run_id, kind, detail) VALUES ($1, 'script_stopping', $2::jsonb)",
                        2, p2);
        free(d);
        rm_write(rm, r, q, &c->m, ok_reply(r));
        return;
    }
    }
    rm_reply_err(&c->m, 400, "invalid", NULL, "unknown control");
}

