/* api_runs: /v1/runs — start runs of a script or a scenario, list and read
 * them, and drive them live: stop, pause, resume, restart, change the load,
 * stop one script of a scenario run. The run manager does the work; this
 * file checks input, asks it, and answers with the run as stored. */
#include "api.h"

#include "duration.h"
#include "sbuf.h"
#include "script.h"
#include "xmalloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_COLS "t.id, t.kind, t.name, t.project_id, t.scenario_id, t.script_id, t.status, t.percent," \
    " t.overrides::text, t.origin, t.restarted_from, " API_TS("t.created_at") ", "                     \
    API_TS("t.started_at") ", " API_TS("t.finished_at") ", t.error"
#define SCRIPTS_COL(extra)                                                                           \
    ", (SELECT json_agg(json_build_object('script_id', rs.script_id, 'name', rs.name, 'version',     \
    rs.version, 'status', rs.status" extra ") ORDER BY rs.position) FROM run_scripts rs"             \
    " WHERE rs.run_id = t.id)::text"
#define LIST_COLS RUN_COLS SCRIPTS_COL("")
#define ONE_COLS RUN_COLS SCRIPTS_COL(", 'definition', rs.definition")

static const char *const RUN_STATES[] = { "queued", "starting", "running", "paused", "stopping",
                                          "finished", "failed", "cancelled", "interrupted", NULL };

static void gen_run(yajl_gen g, const PGresult *r, int row)
{
    static const char *const keys[] = { "id", "kind", "name", "project_id", "scenario_id",
                                        "script_id", "status" };
    yajl_gen_map_open(g);
    for (int i = 0; i < 7; i++) {
        json_gen_cstr(g, keys[i]);
        api_gen_cell_str(g, r, row, i);
    }
    json_gen_cstr(g, "percent");
    api_gen_cell_num(g, r, row, 7);
    json_gen_cstr(g, "overrides");
    api_gen_cell_json(g, r, row, 8);
    static const char *const keys2[] = { "origin", "restarted_from", "created_at", "started_at",
                                         "finished_at", "error" };
    for (int i = 0; i < 6; i++) {
        json_gen_cstr(g, keys2[i]);
        api_gen_cell_str(g, r, row, 9 + i);
    }
    json_gen_cstr(g, "scripts");
    api_gen_cell_json(g, r, row, 15);
    yajl_gen_map_close(g);
}

static void on_run(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    int status = (int)(intptr_t)http_udata(c);
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else if (PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 404, "not_found", "id", "no run with id %s", http_param(c, "id"));
    } else {
        yajl_gen g = json_gen_new();
        gen_run(g, r->res[0], 0);
        http_reply_doc(c, status ? status : 200, g);
    }
    msg_free(m);
}

/* Answer with the run as stored now, with status (200 or 201). */
static void reply_run(struct http_ctx *c, const char *id, int status)
{
    http_set_udata(c, (void *)(intptr_t)status, NULL);
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " ONE_COLS " FROM runs t WHERE t.id = $1", 1, &id);
    api_store_call(c, q, on_run);
}

static void get_run(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (id)
        reply_run(c, id, 200);
}

/* ---- create and restart ---- */

static void on_created(struct http_ctx *c, msg_t *m)
{
    struct rm_reply *rep = (struct rm_reply *)m;
    if (rep->status >= 400)
        api_rm_error(c, rep);
    else
        reply_run(c, rep->run_id, 201);
    msg_free(m);
}

static int get_percent(yajl_val body, double *out, struct json_err *e)
{
    *out = 0;
    int rc = json_get_number(body, "", "percent", 0, 0, SCRIPT_MAX_PERCENT, out, e);
    if (rc == 0 && !(*out > 0)) {
        json_err_set(e, "percent", "percent: must be greater than 0");
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

static void create_run(struct http_ctx *c)
{
    static const char *const keys[] = { "script_id", "scenario_id", "percent", "overrides", NULL };
    yajl_val body = api_body_object(c, keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *script_id = NULL, *scenario_id = NULL;
    double percent;
    if (api_get_uuid(body, "script_id", 0, &script_id, &e) < 0 ||
        api_get_uuid(body, "scenario_id", 0, &scenario_id, &e) < 0 || get_percent(body, &percent, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    if (!script_id == !scenario_id) {
        http_reply_error(c, 400, "invalid", script_id ? "scenario_id" : "script_id",
                         "give exactly one of script_id and scenario_id");
        return;
    }
    yajl_val ov = json_get(body, "overrides");
    if (ov && !YAJL_IS_OBJECT(ov) && !YAJL_IS_NULL(ov)) {
        http_reply_error(c, 400, "invalid", "overrides",
                         "overrides: expected an object merged into each script's definition, got %s",
                         json_type_name(ov));
        return;
    }
    struct rm_create *rc = MSG_NEW(MSG_RM_CREATE, struct rm_create);
    rc->m.dtor = rm_create_dtor;
    snprintf(rc->script_id, sizeof rc->script_id, "%s", script_id ? script_id : "");
    snprintf(rc->scenario_id, sizeof rc->scenario_id, "%s", scenario_id ? scenario_id : "");
    rc->percent = percent;
    snprintf(rc->origin, sizeof rc->origin, "api");
    if (ov && YAJL_IS_OBJECT(ov)) {
        yajl_gen g = json_gen_new();
        json_gen_value(g, ov);
        rc->overrides = json_gen_finish(g, NULL);
    }
    api_runs_call(c, &rc->m, on_created);
}

/* ---- live control ---- */

struct ctl_state {
    struct rm_control *msg; /* sent once the run is known to be active */
    char restart_pct[32];
};

static void ctl_state_free(void *p)
{
    struct ctl_state *s = p;
    if (s->msg)
        msg_free(&s->msg->m);
    free(s);
}

static void on_controlled(struct http_ctx *c, msg_t *m)
{
    struct rm_reply *rep = (struct rm_reply *)m;
    if (rep->status >= 400)
        api_rm_error(c, rep);
    else
        reply_run(c, rep->run_id, 200);
    msg_free(m);
}

static void on_status(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    struct ctl_state *s = http_udata(c);
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else if (PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 404, "not_found", "id", "no run with id %s", http_param(c, "id"));
    } else {
        const char *st = PQgetvalue(r->res[0], 0, 0);
        static const char *const active[] = { "queued", "starting", "running", "paused", "stopping" };
        int is_active = 0;
        for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
            is_active |= strcmp(st, active[i]) == 0;
        if (!is_active) {
            http_reply_error(c, 409, "conflict", "id", "the run is %s: only an active run can be controlled", st);
        } else {
            msg_t *msg = &s->msg->m;
            s->msg = NULL;
            api_runs_call(c, msg, on_controlled);
        }
    }
    msg_free(m);
}

/* Check that the run exists and is active, then send the control. */
static void send_control(struct http_ctx *c, const char *id, struct rm_control *rc)
{
    struct ctl_state *s = xcalloc(1, sizeof *s);
    s->msg = rc;
    http_set_udata(c, s, ctl_state_free);
    snprintf(rc->run_id, sizeof rc->run_id, "%s", id);
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT status FROM runs WHERE id = $1", 1, &id);
    api_store_call(c, q, on_status);
}

static struct rm_control *control_new(enum rm_op op)
{
    struct rm_control *rc = MSG_NEW(MSG_RM_CONTROL, struct rm_control);
    rc->op = op;
    return rc;
}

static void simple_control(struct http_ctx *c, enum rm_op op)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (id)
        send_control(c, id, control_new(op));
}

static void stop_run(struct http_ctx *c)
{
    simple_control(c, RM_OP_STOP);
}

static void pause_run(struct http_ctx *c)
{
    simple_control(c, RM_OP_PAUSE);
}

static void resume_run(struct http_ctx *c)
{
    simple_control(c, RM_OP_RESUME);
}

static void stop_script(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (!id)
        return;
    const char *sid = http_param(c, "script_id");
    if (!api_is_uuid(sid)) {
        http_reply_error(c, 404, "not_found", "script_id", "no script with id %s (not a UUID)", sid);
        return;
    }
    struct rm_control *rc = control_new(RM_OP_STOP_SCRIPT);
    snprintf(rc->script_id, sizeof rc->script_id, "%s", sid);
    send_control(c, id, rc);
}

static void patch_load(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (!id)
        return;
    static const char *const keys[] = { "percent", "rate", "vus", "over", "script_id", NULL };
    yajl_val body = api_body_object(c, keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    double percent = NAN, rate = NAN, vus = NAN;
    int64_t vus_i = 0;
    const char *over = NULL, *script_id = NULL;
    int hp = json_get_number(body, "", "percent", 0, 0, SCRIPT_MAX_PERCENT, &percent, &e);
    int hr = hp < 0 ? -1 : json_get_number(body, "", "rate", 0, 0, SCRIPT_MAX_RATE, &rate, &e);
    int hv = hr < 0 ? -1 : json_get_int(body, "", "vus", 0, 0, SCRIPT_MAX_VUS, &vus_i, &e);
    if (hp < 0 || hr < 0 || hv < 0 || json_get_string(body, "", "over", 0, &over, &e) < 0 ||
        api_get_uuid(body, "script_id", 0, &script_id, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    vus = (double)vus_i;
    int given = (hp == 0) + (hr == 0) + (hv == 0);
    if (given != 1) {
        http_reply_error(c, 400, "invalid", given ? "rate" : "percent",
                         "give exactly one of percent, rate and vus");
        return;
    }
    uint64_t ramp = 0;
    if (over && duration_parse(over, &ramp) < 0) {
        http_reply_error(c, 400, "invalid", "over", "over: expected a duration like \"30s\"");
        return;
    }
    struct rm_control *rc = control_new(hp == 0 ? RM_OP_PERCENT : hr == 0 ? RM_OP_RATE : RM_OP_VUS);
    rc->value = hp == 0 ? percent : hr == 0 ? rate : vus;
    rc->ramp_us = ramp;
    snprintf(rc->script_id, sizeof rc->script_id, "%s", script_id ? script_id : "");
    send_control(c, id, rc);
}

static void restart_run(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (!id)
        return;
    double percent = 0;
    yajl_val body = http_body(c);
    if (body) {
        static const char *const keys[] = { "percent", NULL };
        if (!(body = api_body_object(c, keys)))
            return;
        struct json_err e = { "", "" };
        if (get_percent(body, &percent, &e) < 0) {
            http_reply_invalid(c, &e);
            return;
        }
    }
    struct rm_create *rc = MSG_NEW(MSG_RM_CREATE, struct rm_create);
    rc->m.dtor = rm_create_dtor;
    snprintf(rc->restart_of, sizeof rc->restart_of, "%s", id);
    rc->percent = percent;
    snprintf(rc->origin, sizeof rc->origin, "api");
    api_runs_call(c, &rc->m, on_created);
}

/* ---- list ---- */

static const char *const SORTS[] = { "created_at", "name", "status", NULL };
static const struct api_list_spec LIST = { LIST_COLS, "runs t", SORTS, "-created_at", gen_run };

/* status=running,paused: a comma-separated list of states. */
static char *status_array(const char *s)
{
    char *copy = xstrdup(s), *save = NULL;
    struct sbuf b;
    sbuf_init(&b, 64);
    sbuf_adds(&b, "{");
    int n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int ok = 0;
        for (const char *const *st = RUN_STATES; *st && !ok; st++)
            ok = strcmp(*st, tok) == 0;
        if (!ok) {
            free(copy);
            sbuf_deinit(&b);
            return NULL;
        }
        sbuf_printf(&b, "%s%s", n++ ? "," : "", tok);
    }
    free(copy);
    sbuf_adds(&b, "}");
    if (!n) {
        sbuf_deinit(&b);
        return NULL;
    }
    return sbuf_take(&b, NULL);
}

static void list_runs(struct http_ctx *c)
{
    const char *script_id, *scenario_id, *project_id, *schedule_id;
    if (api_query_uuid(c, "script_id", &script_id) < 0 || api_query_uuid(c, "scenario_id", &scenario_id) < 0 ||
        api_query_uuid(c, "project_id", &project_id) < 0 || api_query_uuid(c, "schedule_id", &schedule_id) < 0)
        return;
    const char *from = http_query(c, "from"), *to = http_query(c, "to");
    if ((from && !api_is_timestamp(from)) || (to && !api_is_timestamp(to))) {
        http_reply_error(c, 400, "invalid", from && !api_is_timestamp(from) ? "from" : "to",
                         "expected an RFC 3339 time (2026-11-23T10:00:00Z) or a date (2026-11-23)");
        return;
    }
    const char *status = http_query(c, "status");
    char *states = NULL;
    if (status && !(states = status_array(status))) {
        http_reply_error(c, 400, "invalid", "status", "status: a comma-separated list of %s",
                         "queued, starting, running, paused, stopping, finished, failed, cancelled, interrupted");
        return;
    }
    struct sqlq q;
    if (api_list_begin(c, &LIST, &q) < 0) {
        free(states);
        return;
    }
    if (states)
        sqlq_printf(&q, " AND t.status = ANY($%d::text[])", sqlq_param(&q, states));
    free(states);
    if (script_id) {
        int p = sqlq_param(&q, script_id);
        sqlq_printf(&q, " AND (t.script_id = $%d OR EXISTS (SELECT 1 FROM run_scripts rs WHERE rs.run_id = t.id"
                        " AND rs.script_id = $%d))", p, p);
    }
    if (scenario_id)
        sqlq_printf(&q, " AND t.scenario_id = $%d", sqlq_param(&q, scenario_id));
    if (project_id)
        sqlq_printf(&q, " AND t.project_id = $%d", sqlq_param(&q, project_id));
    if (schedule_id)
        sqlq_printf(&q, " AND t.origin = 'schedule:' || $%d", sqlq_param(&q, schedule_id));
    const char *origin = http_query(c, "origin");
    if (origin)
        sqlq_printf(&q, " AND t.origin = $%d", sqlq_param(&q, origin));
    if (from)
        sqlq_printf(&q, " AND t.created_at >= $%d::timestamptz", sqlq_param(&q, from));
    if (to)
        sqlq_printf(&q, " AND t.created_at < $%d::timestamptz", sqlq_param(&q, to));
    const char *s = http_query(c, "q");
    if (s)
        sqlq_printf(&q, " AND strpos(lower(t.name), lower($%d)) > 0", sqlq_param(&q, s));
    api_list_run(c, &q);
}

void api_runs_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/runs", create_run, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/runs", list_runs, 0);
    http_route(r, HTTP_GET, "/v1/runs/:id", get_run, 0);
    http_route(r, HTTP_POST, "/v1/runs/:id/stop", stop_run, 0);
    http_route(r, HTTP_POST, "/v1/runs/:id/pause", pause_run, 0);
    http_route(r, HTTP_POST, "/v1/runs/:id/resume", resume_run, 0);
    http_route(r, HTTP_POST, "/v1/runs/:id/restart", restart_run, HTTP_JSON_OPTIONAL);
    http_route(r, HTTP_PATCH, "/v1/runs/:id/load", patch_load, HTTP_JSON_BODY);
    http_route(r, HTTP_POST, "/v1/runs/:id/scripts/:script_id/stop", stop_script, 0);
}
