/* api_schedules: /v1/schedules — runs started by a cron expression (in a
 * time zone) or once at a given time; their fire history and next times.
 * Every write computes next_due_at here and notifies the schedulers of
 * every server (NOTIFY in the same transaction). */
#include "api.h"

#include "clock.h"
#include "cron.h"
#include "scheduler.h"
#include "script.h"
#include "xmalloc.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200

#define COLS "t.id, t.name, t.project_id, t.script_id, t.scenario_id, t.cron, " API_TS("t.at") ", t.tz," \
    " t.percent, t.overrides::text, t.active, t.overlap, t.misfire, " API_TS("t.next_due_at") ", "      \
    API_TS("t.created_at") ", " API_TS("t.updated_at")

static void gen_schedule(yajl_gen g, const PGresult *r, int row)
{
    static const char *const k1[] = { "id", "name", "project_id", "script_id", "scenario_id", "cron", "at", "tz" };
    yajl_gen_map_open(g);
    for (int i = 0; i < 8; i++) {
        json_gen_cstr(g, k1[i]);
        api_gen_cell_str(g, r, row, i);
    }
    json_gen_cstr(g, "percent");
    api_gen_cell_num(g, r, row, 8);
    json_gen_cstr(g, "overrides");
    api_gen_cell_json(g, r, row, 9);
    json_gen_cstr(g, "active");
    api_gen_cell_bool(g, r, row, 10);
    static const char *const k2[] = { "overlap", "misfire", "next_due_at", "created_at", "updated_at" };
    for (int i = 0; i < 5; i++) {
        json_gen_cstr(g, k2[i]);
        api_gen_cell_str(g, r, row, 11 + i);
    }
    yajl_gen_map_close(g);
}

static void on_got(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 200, gen_schedule, "id", "schedule", "name");
}

/* ---- validation ---- */

struct fields {
    const char *name, *script_id, *scenario_id, *cron, *at, *tz, *overlap, *misfire;
    double percent;
    int has_percent, active, has_active;
    char *overrides;    /* owned JSON text, or NULL */
    int clear_overrides;
    char next_us[24];   /* computed next due (µs), "" = none */
    int when_changed;   /* cron, at, tz or active given: next_due_at is computed anew */
};

static void fields_free(void *p)
{
    struct fields *f = p;
    free(f->overrides);
    free(f);
}

static int one_of(const char *v, const char *a, const char *b, const char *c3)
{
    return !strcmp(v, a) || !strcmp(v, b) || (c3 && !strcmp(v, c3));
}

/* The next due time from now of a cron expression or a one-shot time, in
 * zone tz; "" when there is none. -1 with e set when something is wrong. */
static int compute_next(const char *cron, const char *at, const char *tzname, char *out, size_t outlen,
                        struct json_err *e)
{
    char err[300];
    /* A local file of a few KB from the tz database: read per request. */
    struct tz_zone *z = tz_load(tzname, err, sizeof err);
    if (!z) {
        json_err_set(e, "tz", "tz: %s", err);
        return -1;
    }
    int64_t now = clock_wall_ms() / 1000, next = -1;
    int rc = 0;
    if (cron) {
        struct cron *cr = cron_parse(cron, err, sizeof err);
        if (!cr) {
            json_err_set(e, "cron", "cron: %s", err);
            rc = -1;
        } else {
            next = cron_next(cr, z, now);
            cron_free(cr);
            if (next < 0) {
                json_err_set(e, "cron", "cron: \"%s\" never fires", cron);
                rc = -1;
            }
        }
    } else if (at) {
        if (tz_parse_iso(at, z, &next) < 0) {
            json_err_set(e, "at", "at: expected an RFC 3339 time like 2026-12-24T18:00:00+01:00");
            rc = -1;
        } else if (next <= now) {
            json_err_set(e, "at", "at: %s is in the past", at);
            rc = -1;
        }
    }
    tz_free(z);
    out[0] = '\0';
    if (rc == 0 && next >= 0)
        snprintf(out, outlen, "%" PRId64, next * 1000000);
    return rc;
}

static int tz_check(const char *name, struct json_err *e)
{
    char err[300];
    struct tz_zone *z = tz_load(name, err, sizeof err);
    if (!z)
        return json_fail(e, "tz", "%s", err);
    tz_free(z);
    return 0;
}

static int read_fields(struct http_ctx *c, int patch, struct fields *f, struct json_err *e)
{
    static const char *const keys[] = { "name", "script_id", "scenario_id", "cron", "at", "tz", "percent",
                                        "overrides", "active", "overlap", "misfire", NULL };
    yajl_val body = api_body_object(c, keys);
    if (!body)
        return -2; /* answered */
    int rp = 1, ra = 1;
    if (json_get_string(body, "", "name", !patch, &f->name, e) < 0 ||
        (f->name && api_check_text("name", f->name, NAME_MAX_LEN, 0, e) < 0) ||
        api_get_uuid(body, "script_id", 0, &f->script_id, e) < 0 ||
        api_get_uuid(body, "scenario_id", 0, &f->scenario_id, e) < 0 ||
        json_get_string(body, "", "cron", 0, &f->cron, e) < 0 ||
        json_get_string(body, "", "at", 0, &f->at, e) < 0 ||
        json_get_string(body, "", "tz", 0, &f->tz, e) < 0 ||
        (rp = json_get_number(body, "", "percent", 0, 0, SCRIPT_MAX_PERCENT, &f->percent, e)) < 0 ||
        (ra = json_get_bool(body, "", "active", 0, &f->active, e)) < 0 ||
        json_get_string(body, "", "overlap", 0, &f->overlap, e) < 0 ||
        json_get_string(body, "", "misfire", 0, &f->misfire, e) < 0)
        return -1;
    f->has_percent = rp == 0;
    f->has_active = ra == 0;
    if (f->has_percent && !(f->percent > 0))
        return json_fail(e, "percent", "must be greater than 0");
    if (f->script_id && f->scenario_id)
        return json_fail(e, "scenario_id", "give one of script_id and scenario_id, not both");
    if (!patch && !f->script_id && !f->scenario_id)
        return json_fail(e, "script_id", "give script_id or scenario_id: what the schedule runs");
    if (f->cron && f->at)
        return json_fail(e, "at", "give one of cron and at, not both");
    if (!patch && !f->cron && !f->at)
        return json_fail(e, "cron", "give cron (repeating) or at (once)");
    if (f->overlap && !one_of(f->overlap, "skip", "allow", "queue"))
        return json_fail(e, "overlap", "expected skip, allow or queue");
    if (f->misfire && !one_of(f->misfire, "skip", "run_once", NULL))
        return json_fail(e, "misfire", "expected skip or run_once");
    if (f->tz && (!*f->tz || strlen(f->tz) > 64))
        return json_fail(e, "tz", "expected an IANA time zone name like Europe/Berlin");
    yajl_val ov = json_get(body, "overrides");
    if (ov && YAJL_IS_NULL(ov)) {
        f->clear_overrides = 1;
    } else if (ov) {
        if (!YAJL_IS_OBJECT(ov))
            return json_fail(e, "overrides", "expected an object merged into each script's definition, got %s",
                             json_type_name(ov));
        yajl_gen g = json_gen_new();
        json_gen_value(g, ov);
        f->overrides = json_gen_finish(g, NULL);
    }
    f->when_changed = f->cron || f->at || f->tz || (f->has_active && f->active);
    if (patch && !f->name && !f->script_id && !f->scenario_id && !f->cron && !f->at && !f->tz &&
        !f->has_percent && !f->has_active && !f->overlap && !f->misfire && !ov) {
        json_err_set(e, "", "nothing to change");
        return -1;
    }
    return 0;
}

/* ---- create ---- */

/* A schedule whose target does not exist is invalid input (400 naming the
 * field), not a missing resource: nothing was inserted. */
static void on_created(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    const struct fields *f = http_udata(c);
    if (r->status == STORE_OK && PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 400, "invalid", f->scenario_id ? "scenario_id" : "script_id",
                         "no %s with that id", f->scenario_id ? "scenario" : "script");
        msg_free(m);
        return;
    }
    api_reply_row(c, m, 201, gen_schedule, "id", "schedule", "name");
}


static void create_schedule(struct http_ctx *c)
{
    struct fields *f = xcalloc(1, sizeof *f);
    http_set_udata(c, f, fields_free);
    struct json_err e = { "", "" };
    int rc = read_fields(c, 0, f, &e);
    if (rc == -2)
        return;
    if (rc < 0 || compute_next(f->cron, f->at, f->tz ? f->tz : "UTC", f->next_us, sizeof f->next_us, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    char pct[32];
    snprintf(pct, sizeof pct, "%.17g", f->has_percent ? f->percent : 100.0);
    const char *p[12] = { f->name, f->script_id, f->scenario_id, f->cron, f->at ? f->next_us : NULL,
                          f->tz ? f->tz : "UTC", pct, f->overrides,
                          f->has_active && !f->active ? "false" : "true", f->overlap ? f->overlap : "skip",
                          f->misfire ? f->misfire : "run_once", f->next_us[0] ? f->next_us : NULL };
    struct store_query *q = store_query_new();
    /* The target must exist: nothing is inserted otherwise (404). */
    store_query_add(q,
        "WITH tgt AS (SELECT sc.project_id FROM scripts s JOIN scenarios sc ON sc.id = s.scenario_id"
        "  WHERE s.id = $2::uuid UNION ALL SELECT project_id FROM scenarios WHERE id = $3::uuid),"
        " t AS (INSERT INTO schedules (name, project_id, script_id, scenario_id, cron, at, tz, percent,"
        "  overrides, active, overlap, misfire, next_due_at)"
        "  SELECT $1, tgt.project_id, $2::uuid, $3::uuid, $4,"
        "   timestamptz 'epoch' + $5::bigint * interval '1 microsecond', $6, $7::float8, $8::jsonb,"
        "   $9::boolean, $10, $11, timestamptz 'epoch' + $12::bigint * interval '1 microsecond'"
        "  FROM tgt LIMIT 1 RETURNING *),"
        " n AS (SELECT pg_notify('" SCHED_CHANNEL "', id::text) FROM t)"
        " SELECT " COLS " FROM t, (SELECT count(*) FROM n) AS notified", 12, p);
    api_store_call(c, q, on_created);
}

/* ---- read, change, delete ---- */

static void get_schedule(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "schedule");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " COLS " FROM schedules t WHERE t.id = $1", 1, &id);
    api_store_call(c, q, on_got);
}

/* PATCH, phase 2: the current row is known; write the change. */
static void on_current(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    struct fields *f = http_udata(c);
    const char *id = http_param(c, "id");
    if (api_store_failed(c, m))
        return;
    const PGresult *res = r->res[0];
    if (PQntuples(res) == 0) {
        http_reply_error(c, 404, "not_found", "id", "no schedule with id %s", id);
        msg_free(m);
        return;
    }
    if ((f->script_id && PQgetvalue(res, 0, 4)[0] != 't') || (f->scenario_id && PQgetvalue(res, 0, 5)[0] != 't')) {
        http_reply_error(c, 400, "invalid", f->script_id ? "script_id" : "scenario_id", "no %s with that id",
                         f->script_id ? "script" : "scenario");
        msg_free(m);
        return;
    }
    /* The schedule as it will be: what the request gives, else what it had. */
    const char *cron = f->cron ? f->cron : f->at ? NULL : (PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0));
    const char *tz = f->tz ? f->tz : PQgetvalue(res, 0, 2);
    int active = f->has_active ? f->active : PQgetvalue(res, 0, 3)[0] == 't';
    struct json_err e = { "", "" };
    if (f->when_changed && active) {
        int rc;
        if (!cron && !f->at && !PQgetisnull(res, 0, 1)) {
            /* an existing one-shot: next is its time, if still ahead */
            long long at_us = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
            if (at_us <= clock_wall_ms() * 1000) {
                json_err_set(&e, "active", "active: the one-shot time has passed; give a new at");
                rc = -1;
            } else {
                snprintf(f->next_us, sizeof f->next_us, "%lld", at_us);
                rc = tz_check(tz, &e);
            }
        } else {
            rc = compute_next(cron, f->at, tz, f->next_us, sizeof f->next_us, &e);
        }
        if (rc < 0) {
            http_reply_invalid(c, &e);
            msg_free(m);
            return;
        }
    } else if (f->tz && tz_check(f->tz, &e) < 0) {
        http_reply_invalid(c, &e);
        msg_free(m);
        return;
    } else if (f->cron || f->at) { /* checked even while inactive */
        char tmp[24];
        if (compute_next(f->cron, f->at, tz, tmp, sizeof tmp, &e) < 0) {
            http_reply_invalid(c, &e);
            msg_free(m);
            return;
        }
    }
    msg_free(m);
    char pct[32];
    snprintf(pct, sizeof pct, "%.17g", f->percent);
    const char *at_us = f->at ? f->next_us : NULL;
    const char *p[15] = { id, f->name, f->script_id, f->scenario_id, f->cron, at_us, f->tz,
                          f->has_percent ? pct : NULL, f->clear_overrides ? "1" : "0", f->overrides,
                          f->has_active ? (f->active ? "true" : "false") : NULL, f->overlap, f->misfire,
                          f->when_changed ? "1" : "0", f->next_us[0] ? f->next_us : NULL };
    struct store_query *q = store_query_new();
    store_query_add(q,
        "WITH t AS (UPDATE schedules SET name = coalesce($2, name),"
        " script_id = CASE WHEN $3::uuid IS NOT NULL THEN $3::uuid WHEN $4::uuid IS NOT NULL THEN NULL ELSE script_id END,"
        " scenario_id = CASE WHEN $4::uuid IS NOT NULL THEN $4::uuid WHEN $3::uuid IS NOT NULL THEN NULL ELSE scenario_id END,"
        " project_id = CASE WHEN $3::uuid IS NOT NULL THEN (SELECT sc.project_id FROM scripts s"
        "   JOIN scenarios sc ON sc.id = s.scenario_id WHERE s.id = $3::uuid)"
        "  WHEN $4::uuid IS NOT NULL THEN (SELECT project_id FROM scenarios WHERE id = $4::uuid) ELSE project_id END,"
        " cron = CASE WHEN $5::text IS NOT NULL THEN $5 WHEN $6::bigint IS NOT NULL THEN NULL ELSE cron END,"
        " at = CASE WHEN $6::bigint IS NOT NULL THEN timestamptz 'epoch' + $6::bigint * interval '1 microsecond'"
        "  WHEN $5::text IS NOT NULL THEN NULL ELSE at END,"
        " tz = coalesce($7, tz), percent = coalesce($8::float8, percent),"
        " overrides = CASE WHEN $9 = '1' THEN NULL ELSE coalesce($10::jsonb, overrides) END,"
        " active = coalesce($11::boolean, active), overlap = coalesce($12, overlap),"
        " misfire = coalesce($13, misfire),"
        " next_due_at = CASE WHEN $14 = '1' THEN timestamptz 'epoch' + $15::bigint * interval '1 microsecond'"
        "  ELSE next_due_at END,"
        " updated_at = now() WHERE id = $1 RETURNING *),"
        " n AS (SELECT pg_notify('" SCHED_CHANNEL "', id::text) FROM t)"
        " SELECT " COLS " FROM t, (SELECT count(*) FROM n) AS notified", 15, p);
    api_store_call(c, q, on_got);
}

static void patch_schedule(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "schedule");
    if (!id)
        return;
    struct fields *f = xcalloc(1, sizeof *f);
    http_set_udata(c, f, fields_free);
    struct json_err e = { "", "" };
    int rc = read_fields(c, 1, f, &e);
    if (rc == -2)
        return;
    if (rc < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    struct store_query *q = store_query_new();
    const char *p[3] = { id, f->script_id, f->scenario_id };
    store_query_add(q, "SELECT cron, (extract(epoch FROM at) * 1000000)::bigint, tz, active,"
                       " EXISTS (SELECT 1 FROM scripts WHERE id = $2::uuid),"
                       " EXISTS (SELECT 1 FROM scenarios WHERE id = $3::uuid)"
                       " FROM schedules WHERE id = $1", 3, p);
    api_store_call(c, q, on_current);
}

static void on_deleted(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK)
        api_store_error(c, r, NULL);
    else if (PQntuples(r->res[0]) == 0)
        http_reply_error(c, 404, "not_found", "id", "no schedule with id %s", http_param(c, "id"));
    else
        http_reply(c, 204, NULL, 0);
    msg_free(m);
}

static void delete_schedule(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "schedule");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "WITH d AS (DELETE FROM schedules WHERE id = $1 RETURNING id),"
                       " n AS (SELECT pg_notify('" SCHED_CHANNEL "', id::text) FROM d)"
                       " SELECT d.id FROM d, (SELECT count(*) FROM n) AS notified", 1, &id);
    api_store_call(c, q, on_deleted);
}

/* ---- list ---- */

static const char *const SORTS[] = { "created_at", "name", NULL };
static const struct api_list_spec LIST = { COLS, "schedules t", SORTS, "created_at", gen_schedule };

static void list_schedules(struct http_ctx *c)
{
    const char *script_id, *scenario_id, *project_id;
    if (api_query_uuid(c, "script_id", &script_id) < 0 || api_query_uuid(c, "scenario_id", &scenario_id) < 0 ||
        api_query_uuid(c, "project_id", &project_id) < 0)
        return;
    const char *active = http_query(c, "active");
    if (active && strcmp(active, "true") && strcmp(active, "false")) {
        http_reply_error(c, 400, "invalid", "active", "active must be true or false");
        return;
    }
    struct sqlq q;
    if (api_list_begin(c, &LIST, &q) < 0)
        return;
    if (script_id)
        sqlq_printf(&q, " AND t.script_id = $%d", sqlq_param(&q, script_id));
    if (scenario_id)
        sqlq_printf(&q, " AND t.scenario_id = $%d", sqlq_param(&q, scenario_id));
    if (project_id)
        sqlq_printf(&q, " AND t.project_id = $%d", sqlq_param(&q, project_id));
    if (active)
        sqlq_printf(&q, " AND t.active = $%d::boolean", sqlq_param(&q, active));
    const char *s = http_query(c, "q");
    if (s)
        sqlq_printf(&q, " AND strpos(lower(t.name), lower($%d)) > 0", sqlq_param(&q, s));
    api_list_run(c, &q);
}

void api_schedules_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/schedules", create_schedule, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/schedules", list_schedules, 0);
    http_route(r, HTTP_GET, "/v1/schedules/:id", get_schedule, 0);
    http_route(r, HTTP_PATCH, "/v1/schedules/:id", patch_schedule, HTTP_JSON_BODY);
    http_route(r, HTTP_DELETE, "/v1/schedules/:id", delete_schedule, 0);
}
