/* api_moniflux_ops: MoniFlux's state changes — /start-test (the payload
 * may update the test first), /restart-test (new rates, from Completed,
 * Cancelled or Error only), /cancel-test and /schedule-test (a one-shot
 * schedule through the scheduler). Each loads the test, checks its state
 * and answers with the test as it now is. */
#include "api_moniflux_int.h"

#include "json.h"
#include "moniflux.h"
#include "run_manager.h"
#include "sbuf.h"
#include "scheduler.h"
#include "script.h"
#include "xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum op { OP_START, OP_RESTART, OP_CANCEL, OP_SCHEDULE };
static const char *const op_names[] = { "start", "restart", "cancel", "schedule" };

struct mf_req {
    enum op op;
    char test_id[201];
    char *patch;        /* members to merge into the payload (start, restart), or NULL */
    char at[64];        /* schedule: scheduleAt */
    char run_id[UUID_STR_LEN];
    char script_id[UUID_STR_LEN];
};

static void req_free(void *p)
{
    struct mf_req *r = p;
    free(r->patch);
    free(r);
}

static void on_started(struct http_ctx *c, msg_t *m);

/* The run: origin "moniflux", this test's script. */
static void start_run(struct http_ctx *c, struct mf_req *rq)
{
    struct rm_create *rc = MSG_NEW(MSG_RM_CREATE, struct rm_create);
    rc->m.dtor = rm_create_dtor;
    snprintf(rc->script_id, sizeof rc->script_id, "%s", rq->script_id);
    snprintf(rc->origin, sizeof rc->origin, "moniflux");
    api_runs_call(c, &rc->m, on_started);
}

static void on_started(struct http_ctx *c, msg_t *m)
{
    struct rm_reply *rep = (struct rm_reply *)m;
    struct mf_req *rq = http_udata(c);
    if (rep->status >= 400) {
        api_rm_error(c, rep);
        msg_free(m);
        return;
    }
    const char *p[2] = { rq->test_id, rep->run_id };
    struct store_query *q = store_query_new();
    /* this run is the test's from now on (an older schedule is over) */
    store_query_add(q, "UPDATE moniflux_tests SET epoch_at = (SELECT created_at FROM runs WHERE id = $2::uuid),"
                       " cancelled = false, schedule_id = NULL, updated_at = now() WHERE test_id = $1", 2, p);
    mf_select_test(q, rq->test_id);
    msg_free(m);
    api_store_call(c, q, mf_on_test_ok);
}

static void on_payload_saved(struct http_ctx *c, msg_t *m)
{
    if (api_store_failed(c, m))
        return;
    msg_free(m);
    start_run(c, http_udata(c));
}

static void on_cancelled(struct http_ctx *c, msg_t *m)
{
    struct mf_req *rq = http_udata(c);
    if (m->type == MSG_STORE_RESULT && ((struct store_result *)m)->status != STORE_OK) {
        api_store_error(c, (struct store_result *)m, NULL);
        msg_free(m);
        return;
    }
    if (m->type == MSG_RM_REPLY) {
        struct rm_reply *rep = (struct rm_reply *)m;
        /* 409: it ended meanwhile — cancelled all the same from here */
        if (rep->status >= 400 && rep->status != 409) {
            api_rm_error(c, rep);
            msg_free(m);
            return;
        }
    }
    msg_free(m);
    const char *p[1] = { rq->test_id };
    struct store_query *q = store_query_new();
    store_query_add(q, "UPDATE moniflux_tests SET cancelled = true, updated_at = now() WHERE test_id = $1", 1, p);
    mf_select_test(q, rq->test_id);
    api_store_call(c, q, mf_on_test_ok);
}

static void on_scheduled(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status == STORE_OK && PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 400, "invalid", "scheduleAt", "scheduleAt: must be in the future");
        msg_free(m);
        return;
    }
    mf_reply_test(c, m, 200);
}

/* The test as it is: is the operation allowed in its state? */
static void on_loaded(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    struct mf_req *rq = http_udata(c);
    if (api_store_failed(c, m))
        return;
    const PGresult *res = r->res[0];
    if (PQntuples(res) == 0) {
        http_reply_error(c, 404, "not_found", "testID", "no test with testID %s", rq->test_id);
        msg_free(m);
        return;
    }
    const char *state = PQgetvalue(res, 0, C_STATE);
    int running = strcmp(state, "Running") == 0, scheduled = strcmp(state, "Scheduled") == 0;
    int ended = strcmp(state, "Completed") == 0 || strcmp(state, "Cancelled") == 0 || strcmp(state, "Error") == 0;
    int ok = rq->op == OP_START      ? !running && !scheduled
             : rq->op == OP_RESTART  ? ended
             : rq->op == OP_CANCEL   ? running || scheduled
                                     : !running && !scheduled;
    if (!ok || PQgetisnull(res, 0, C_SCRIPT)) {
        http_reply_error(c, 400, "invalid_state", "testID", "cannot %s a test that is %s", op_names[rq->op],
                         PQgetisnull(res, 0, C_SCRIPT) ? "without its script" : state);
        msg_free(m);
        return;
    }
    snprintf(rq->script_id, sizeof rq->script_id, "%s", PQgetvalue(res, 0, C_SCRIPT));
    snprintf(rq->run_id, sizeof rq->run_id, "%s", PQgetvalue(res, 0, C_RUN));
    switch (rq->op) {
    case OP_START:
    case OP_RESTART: {
        if (!rq->patch) {
            msg_free(m);
            start_run(c, rq);
            return;
        }
        /* new values first: the payload and the script (a new version) */
        yajl_val cur = mf_parse_text(PQgetvalue(res, 0, C_PAYLOAD)), patch = mf_parse_text(rq->patch);
        char *payload = mf_merged(cur, patch);
        if (cur)
            yajl_tree_free(cur);
        if (patch)
            yajl_tree_free(patch);
        msg_free(m);
        yajl_val full = mf_parse_text(payload);
        struct json_err e = { "", "" };
        char *def = full ? moniflux_definition(full, &e) : NULL;
        if (full)
            yajl_tree_free(full);
        if (!def) {
            free(payload);
            http_reply_invalid(c, &e);
            return;
        }
        const char *p[3] = { rq->test_id, payload, def };
        struct store_query *q = store_query_new();
        store_query_add(q,
            "WITH t AS (UPDATE moniflux_tests SET payload = $2::jsonb, updated_at = now() WHERE test_id = $1"
            "  RETURNING script_id),"
            " s AS (UPDATE scripts SET definition = $3::jsonb, version = version + 1, updated_at = now()"
            "  WHERE id = (SELECT script_id FROM t) RETURNING *)"
            " INSERT INTO script_versions (script_id, version, name, enabled, definition)"
            " SELECT id, version, name, enabled, definition FROM s", 3, p);
        free(payload);
        free(def);
        api_store_call(c, q, on_payload_saved);
        return;
    }
    case OP_CANCEL:
        msg_free(m);
        if (running) {
            struct rm_control *rc = MSG_NEW(MSG_RM_CONTROL, struct rm_control);
            snprintf(rc->run_id, sizeof rc->run_id, "%s", rq->run_id);
            rc->op = RM_OP_STOP;
            api_runs_call(c, &rc->m, on_cancelled);
        } else {
            const char *p[1] = { rq->test_id };
            struct store_query *q = store_query_new();
            store_query_add(q,
                "WITH s AS (UPDATE schedules SET active = false, updated_at = now()"
                "  WHERE id = (SELECT schedule_id FROM moniflux_tests WHERE test_id = $1) RETURNING id)"
                " SELECT pg_notify('" SCHED_CHANNEL "', id::text) FROM s", 1, p);
            api_store_call(c, q, on_cancelled);
        }
        return;
    case OP_SCHEDULE: {
        msg_free(m);
        char name[256];
        snprintf(name, sizeof name, "moniflux %s", rq->test_id);
        const char *p[4] = { rq->test_id, rq->at, name, rq->script_id };
        struct store_query *q = store_query_new();
        /* a one-shot schedule of the script; none when the time has passed */
        store_query_add(q,
            "WITH s AS (INSERT INTO schedules (name, project_id, script_id, at, next_due_at)"
            "  SELECT $3, sc.project_id, $4::uuid, $2::timestamptz, $2::timestamptz"
            "  FROM scripts x JOIN scenarios sc ON sc.id = x.scenario_id"
            "  WHERE x.id = $4::uuid AND $2::timestamptz > now() RETURNING id),"
            " t AS (UPDATE moniflux_tests SET schedule_id = (SELECT id FROM s), epoch_at = now(), cancelled = false,"
            "  updated_at = now() WHERE test_id = $1 AND EXISTS (SELECT 1 FROM s) RETURNING 1)"
            " SELECT pg_notify('" SCHED_CHANNEL "', id::text), (SELECT count(*) FROM t) FROM s", 4, p);
        mf_select_test(q, rq->test_id);
        api_store_call(c, q, on_scheduled);
        return;
    }
    }
}

static void operate(struct http_ctx *c, enum op op, const char *const *keys)
{
    yajl_val body = api_body_object(c, keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *id;
    if (json_get_string(body, "", "testID", 1, &id, &e) < 0 || api_check_text("testID", id, 200, 0, &e) < 0 ||
        mf_check_payload(body, 0, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    struct mf_req *rq = xcalloc(1, sizeof *rq);
    http_set_udata(c, rq, req_free);
    rq->op = op;
    snprintf(rq->test_id, sizeof rq->test_id, "%s", id);
    if (op == OP_SCHEDULE) {
        const char *at;
        if (json_get_string(body, "", "scheduleAt", 1, &at, &e) < 0) {
            http_reply_invalid(c, &e);
            return;
        }
        if (!api_is_timestamp(at) || strlen(at) >= sizeof rq->at || strlen(at) <= 10) {
            http_reply_error(c, 400, "invalid", "scheduleAt",
                             "scheduleAt: expected an RFC 3339 time like 2026-12-01T10:00:00Z");
            return;
        }
        snprintf(rq->at, sizeof rq->at, "%s", at);
    }
    if ((op == OP_START || op == OP_RESTART) && body->u.object.len > 1) {
        /* new values for the test: everything but testID */
        yajl_gen g = json_gen_new();
        yajl_gen_map_open(g);
        for (size_t i = 0; i < body->u.object.len; i++) {
            if (strcmp(body->u.object.keys[i], "testID") == 0)
                continue;
            json_gen_cstr(g, body->u.object.keys[i]);
            json_gen_value(g, body->u.object.values[i]);
        }
        yajl_gen_map_close(g);
        rq->patch = json_gen_finish(g, NULL);
    }
    struct store_query *q = store_query_new();
    mf_select_test(q, rq->test_id);
    api_store_call(c, q, on_loaded);
}

void mf_start_test(struct http_ctx *c)
{
    operate(c, OP_START, mf_payload_keys); /* the whole payload updates the test first */
}

void mf_restart_test(struct http_ctx *c)
{
    static const char *const keys[] = { "testID", "logRate", "metricsRate", "traceRate", "duration", NULL };
    operate(c, OP_RESTART, keys);
}

void mf_cancel_test(struct http_ctx *c)
{
    static const char *const keys[] = { "testID", NULL };
    operate(c, OP_CANCEL, keys);
}

void mf_schedule_test(struct http_ctx *c)
{
    static const char *const keys[] = { "testID", "scheduleAt", NULL };
    operate(c, OP_SCHEDULE, keys);
}

