/* api_moniflux: MoniFlux's routes on the API port, so its frontend keeps
 * working — POST /create-test, /start-test, /cancel-test, /restart-test,
 * /schedule-test, GET /tests and /tests/{testID}. A test is a telemetry
 * script (docs/telemetry.md) in project "moniflux" › scenario "tests",
 * named after its testID; starting it is a run with origin "moniflux",
 * scheduling it a one-shot schedule. Its state (Pending, Scheduled,
 * Running, Completed, Cancelled, Error) is read from the script's latest
 * run since the last start, its schedule and a cancel. docs/moniflux.md.
 * This file: create, read, list; the state changes are in
 * api_moniflux_ops.c. */
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

#define MAX_DURATION_S (7 * 86400)

/* The state, from the latest run since epoch_at, the schedule, a cancel. */
#define MF_FROM                                                                                              \
    " FROM moniflux_tests t"                                                                                 \
    " LEFT JOIN LATERAL (SELECT id, status FROM runs WHERE script_id = t.script_id AND t.epoch_at IS NOT NULL" \
    "   AND created_at >= t.epoch_at ORDER BY created_at DESC LIMIT 1) r ON true"                           \
    " LEFT JOIN schedules s ON s.id = t.schedule_id"
#define MF_COLS                                                                                              \
    "t.test_id, t.user_id, t.payload::text,"                                                                 \
    " CASE WHEN t.cancelled THEN 'Cancelled'"                                                                \
    "  WHEN r.status IN ('queued', 'starting', 'running', 'paused', 'stopping') THEN 'Running'"              \
    "  WHEN r.status = 'finished' THEN 'Completed' WHEN r.status = 'cancelled' THEN 'Cancelled'"             \
    "  WHEN r.status IN ('failed', 'interrupted') THEN 'Error'"                                              \
    "  WHEN s.active AND s.next_due_at IS NOT NULL THEN 'Scheduled' ELSE 'Pending' END,"                     \
    " r.id, to_char(s.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), t.created_at, t.updated_at,"  \
    " t.script_id,"                                                                                          \
    " (SELECT jsonb_object_agg(x.step, x.n)::text FROM (SELECT step, sum(requests - failed) AS n"            \
    "   FROM run_series WHERE run_id = r.id AND step <> '' GROUP BY step) x)"

/* ---- the payload ---- */

const char *const mf_payload_keys[] = { "testID", "userID", "logType", "logRate", "logSize", "metricsRate",
                                            "traceRate", "duration", "destination", NULL };

/* Check the members a payload has (create: testID, duration and
 * destination.endpoint are required). 0, or -1 with e naming the field. */
int mf_check_payload(yajl_val p, int create, struct json_err *e)
{
    const char *s;
    double d;
    int64_t n;
    if (json_get_string(p, "", "testID", create, &s, e) < 0 ||
        (json_get(p, "testID") && api_check_text("testID", s, 200, 0, e) < 0) ||
        json_get_string(p, "", "userID", 0, &s, e) < 0 ||
        (json_get(p, "userID") && api_check_text("userID", s, 200, 1, e) < 0) ||
        json_get_string(p, "", "logType", 0, &s, e) < 0 ||
        json_get_number(p, "", "logRate", 0, 0, TELEMETRY_MAX_RATE, &d, e) < 0 ||
        json_get_int(p, "", "logSize", 0, 1, TELEMETRY_MAX_LOG_SIZE, &n, e) < 0 ||
        json_get_number(p, "", "metricsRate", 0, 0, TELEMETRY_MAX_RATE, &d, e) < 0 ||
        json_get_number(p, "", "traceRate", 0, 0, TELEMETRY_MAX_RATE, &d, e) < 0 ||
        json_get_number(p, "", "duration", create, 0, MAX_DURATION_S, &d, e) < 0)
        return -1;
    if (json_get(p, "duration") && !(d >= 1))
        return json_fail(e, "duration", "duration: at least 1 second");
    yajl_val dst = json_get(p, "destination");
    if (!dst && create)
        return json_fail(e, "destination", "destination: required ({\"endpoint\": \"http://collector\"})");
    if (!dst)
        return 0;
    if (!YAJL_IS_OBJECT(dst))
        return json_fail(e, "destination", "destination: expected an object, got %s", json_type_name(dst));
    static const char *const dkeys[] = { "name", "endpoint", "port", "apiKey", NULL };
    for (size_t i = 0; i < dst->u.object.len; i++) {
        int ok = 0;
        for (const char *const *k = dkeys; *k && !ok; k++)
            ok = strcmp(*k, dst->u.object.keys[i]) == 0;
        if (!ok) {
            char f[96];
            return json_fail(e, json_path(f, sizeof f, "destination", dst->u.object.keys[i]), "unknown field");
        }
    }
    return json_get_string(dst, "destination", "name", 0, &s, e) < 0 ||
                   json_get_string(dst, "destination", "endpoint", 1, &s, e) < 0 ||
                   json_get_int(dst, "destination", "port", 0, 1, 65535, &n, e) < 0 ||
                   json_get_string(dst, "destination", "apiKey", 0, &s, e) < 0
               ? -1
               : 0;
}

/* payload with patch's members over it (a JSON merge patch), as JSON text. */
char *mf_merged(yajl_val payload, yajl_val patch)
{
    yajl_gen g = json_gen_new();
    if (patch)
        json_gen_merged(g, payload, patch);
    else
        json_gen_value(g, payload);
    return json_gen_finish(g, NULL);
}

yajl_val mf_parse_text(const char *s)
{
    struct json_err e;
    return json_parse(s, strlen(s), JSON_MAX_DEPTH, &e);
}

/* ---- replies ---- */

static void gen_test(yajl_gen g, const PGresult *r, int row)
{
    yajl_gen_map_open(g);
    yajl_val p = mf_parse_text(PQgetvalue(r, row, C_PAYLOAD));
    for (size_t i = 0; p && YAJL_IS_OBJECT(p) && i < p->u.object.len; i++) {
        const char *k = p->u.object.keys[i];
        yajl_val v = p->u.object.values[i];
        json_gen_cstr(g, k);
        if (strcmp(k, "destination") != 0 || !YAJL_IS_OBJECT(v)) {
            json_gen_value(g, v);
            continue;
        }
        yajl_gen_map_open(g); /* the key is not shown back */
        for (size_t j = 0; j < v->u.object.len; j++) {
            json_gen_cstr(g, v->u.object.keys[j]);
            if (strcmp(v->u.object.keys[j], "apiKey") == 0)
                json_gen_cstr(g, "***");
            else
                json_gen_value(g, v->u.object.values[j]);
        }
        yajl_gen_map_close(g);
    }
    if (p)
        yajl_tree_free(p);
    json_gen_cstr(g, "state");
    api_gen_cell_str(g, r, row, C_STATE);
    json_gen_cstr(g, "runID");
    api_gen_cell_str(g, r, row, C_RUN);
    json_gen_cstr(g, "scheduleAt");
    api_gen_cell_str(g, r, row, C_AT);
    json_gen_cstr(g, "scriptID");
    api_gen_cell_str(g, r, row, C_SCRIPT);
    /* documents the destination took so far, per signal (one per request) */
    json_gen_cstr(g, "counts");
    if (PQgetisnull(r, row, C_COUNTS)) {
        yajl_gen_map_open(g);
        yajl_gen_map_close(g);
    } else {
        api_gen_cell_json(g, r, row, C_COUNTS);
    }
    json_gen_cstr(g, "createdAt");
    api_gen_cell_str(g, r, row, C_CREATED);
    json_gen_cstr(g, "updatedAt");
    api_gen_cell_str(g, r, row, C_UPDATED);
    yajl_gen_map_close(g);
}

/* Answer with the test in the last result of m (status on success). */
void mf_reply_test(struct http_ctx *c, msg_t *m, int status)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, "testID");
    } else {
        const PGresult *res = r->res[r->n - 1];
        if (PQntuples(res) == 0) {
            http_reply_error(c, 404, "not_found", "testID", "no test with that testID");
        } else {
            yajl_gen g = json_gen_new();
            gen_test(g, res, 0);
            http_reply_doc(c, status, g);
        }
    }
    msg_free(m);
}

void mf_on_test_ok(struct http_ctx *c, msg_t *m)
{
    mf_reply_test(c, m, 200);
}

static void on_test_created(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status == STORE_OK && atol(PQgetvalue(r->res[0], 0, 0)) == 0) {
        http_reply_error(c, 400, "invalid", "testID", "testID: a test with this testID exists");
        msg_free(m);
        return;
    }
    if (r->status == STORE_ECONFLICT) { /* its script's name is taken */
        http_reply_error(c, 400, "invalid", "testID", "testID: a test with this testID exists");
        msg_free(m);
        return;
    }
    mf_reply_test(c, m, 201);
}

void mf_select_test(struct store_query *q, const char *id)
{
    store_query_add(q, "SELECT " MF_COLS MF_FROM " WHERE t.test_id = $1", 1, &id);
}

/* ---- create, read ---- */

static void create_test(struct http_ctx *c)
{
    yajl_val body = api_body_object(c, mf_payload_keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    char *def;
    if (mf_check_payload(body, 1, &e) < 0 || !(def = moniflux_definition(body, &e))) {
        http_reply_invalid(c, &e);
        return;
    }
    char *payload = mf_merged(body, NULL);
    yajl_val uid = json_get(body, "userID");
    const char *p[4] = { YAJL_GET_STRING(json_get(body, "testID")), YAJL_IS_STRING(uid) ? YAJL_GET_STRING(uid) : "",
                         def, payload };
    struct store_query *q = store_query_new();
    /* one transaction: the project and scenario if new, the script and its
     * first version, the test; nothing when the testID is taken */
    store_query_add(q,
        "WITH p AS (INSERT INTO projects (name, description) VALUES ('moniflux', 'Tests created through MoniFlux''s"
        "  routes (docs/moniflux.md)') ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id),"
        " sc AS (INSERT INTO scenarios (project_id, name) SELECT id, 'tests' FROM p"
        "  ON CONFLICT (project_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id),"
        " sp AS (INSERT INTO scripts (scenario_id, name, definition) SELECT sc.id, $1, $3::jsonb FROM sc"
        "  WHERE NOT EXISTS (SELECT 1 FROM moniflux_tests WHERE test_id = $1) RETURNING *),"
        " v AS (INSERT INTO script_versions (script_id, version, name, enabled, definition)"
        "  SELECT id, version, name, enabled, definition FROM sp),"
        " t AS (INSERT INTO moniflux_tests (test_id, user_id, payload, script_id)"
        "  SELECT $1, $2, $4::jsonb, sp.id FROM sp RETURNING 1)"
        " SELECT count(*) FROM t", 4, p);
    mf_select_test(q, p[0]);
    free(def);
    free(payload);
    api_store_call(c, q, on_test_created);
}

static void get_test(struct http_ctx *c)
{
    struct store_query *q = store_query_new();
    mf_select_test(q, http_param(c, "id"));
    api_store_call(c, q, mf_on_test_ok);
}

static void on_list(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else {
        yajl_gen g = json_gen_new();
        yajl_gen_array_open(g); /* MoniFlux answers a list as an array */
        for (int i = 0; i < PQntuples(r->res[0]); i++)
            gen_test(g, r->res[0], i);
        yajl_gen_array_close(g);
        http_reply_doc(c, 200, g);
    }
    msg_free(m);
}

static void list_tests(struct http_ctx *c)
{
    const char *user = http_query(c, "userID");
    struct json_err e = { "", "" };
    if (user && api_check_text("userID", user, 200, 0, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    const char *p[1] = { user ? user : "" };
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " MF_COLS MF_FROM " WHERE $1 = '' OR t.user_id = $1 ORDER BY t.created_at, t.test_id"
                       " LIMIT 1000", 1, p);
    api_store_call(c, q, on_list);
}

void api_moniflux_register(struct router *r)
{
    /* outside /v1 (MoniFlux's paths), guarded by the API token all the same */
    http_route(r, HTTP_POST, "/create-test", create_test, HTTP_JSON_BODY | HTTP_TOKEN);
    http_route(r, HTTP_POST, "/start-test", mf_start_test, HTTP_JSON_BODY | HTTP_TOKEN);
    http_route(r, HTTP_POST, "/cancel-test", mf_cancel_test, HTTP_JSON_BODY | HTTP_TOKEN);
    http_route(r, HTTP_POST, "/restart-test", mf_restart_test, HTTP_JSON_BODY | HTTP_TOKEN);
    http_route(r, HTTP_POST, "/schedule-test", mf_schedule_test, HTTP_JSON_BODY | HTTP_TOKEN);
    http_route(r, HTTP_GET, "/tests", list_tests, HTTP_TOKEN);
    http_route(r, HTTP_GET, "/tests/:id", get_test, HTTP_TOKEN);
}
