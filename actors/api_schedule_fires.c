/* api_schedule_fires: a schedule's history and future — GET
 * /v1/schedules/{id}/fires (due, fired, run, outcome; newest first) and
 * GET /v1/schedules/{id}/next?count=N (the next fire times in its zone). */
#include "api.h"

#include "clock.h"
#include "cron.h"
#include "tz.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRES_DEFAULT 50
#define FIRES_MAX 500
#define NEXT_MAX 100

static void gen_fire(yajl_gen g, const PGresult *res, int i)
{
    static const char *const keys[] = { "id", "due_at", "fired_at", "run_id", "outcome", "detail" };
    yajl_gen_map_open(g);
    json_gen_cstr(g, keys[0]);
    api_gen_cell_num(g, res, i, 0);
    for (int k = 1; k < 6; k++) {
        json_gen_cstr(g, keys[k]);
        api_gen_cell_str(g, res, i, k);
    }
    yajl_gen_map_close(g);
}

static void get_fires(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "schedule");
    long limit, cursor;
    if (!id || api_query_long(c, "limit", 1, FIRES_MAX, FIRES_DEFAULT, &limit) < 0 ||
        api_query_long(c, "cursor", 1, INT64_MAX > LONG_MAX ? LONG_MAX : (long)INT64_MAX, 0, &cursor) < 0)
        return;
    char lim[24], cur[24];
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    snprintf(cur, sizeof cur, "%ld", cursor);
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT EXISTS (SELECT 1 FROM schedules WHERE id = $1)", 1, &id);
    const char *p[3] = { id, cursor ? cur : NULL, lim };
    store_query_add(q, "SELECT id, " API_TS("due_at") ", " API_TS("fired_at") ", run_id, outcome, detail"
                       " FROM schedule_fires WHERE schedule_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)"
                       " ORDER BY id DESC LIMIT $3::integer", 3, p);
    api_child_page(c, q, "schedule", (int)limit, gen_fire);
}

static void on_next(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    long count = (long)(intptr_t)http_udata(c);
    if (r->status != STORE_OK || PQntuples(r->res[0]) == 0) {
        if (r->status != STORE_OK)
            api_store_error(c, r, NULL);
        else
            http_reply_error(c, 404, "not_found", "id", "no schedule with id %s", http_param(c, "id"));
        msg_free(m);
        return;
    }
    const PGresult *res = r->res[0];
    char err[300];
    struct tz_zone *z = tz_load(PQgetvalue(res, 0, 1), err, sizeof err);
    struct cron *cr = PQgetisnull(res, 0, 0) ? NULL : cron_parse(PQgetvalue(res, 0, 0), err, sizeof err);
    if (!z || (!cr && !PQgetisnull(res, 0, 0))) {
        http_reply_error(c, 500, "internal", NULL, "the stored schedule cannot be read: %s", err);
        tz_free(z);
        msg_free(m);
        return;
    }
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "tz", tz_name(z));
    json_gen_kv_bool(g, "active", PQgetvalue(res, 0, 3)[0] == 't');
    json_gen_cstr(g, "items");
    yajl_gen_array_open(g);
    int64_t t = clock_wall_ms() / 1000;
    char iso[48];
    if (cr) {
        for (long i = 0; i < count && (t = cron_next(cr, z, t)) >= 0; i++)
            if (cron_format_iso(t, z, iso, sizeof iso) > 0)
                json_gen_cstr(g, iso);
    } else if (!PQgetisnull(res, 0, 2)) {
        int64_t at = strtoll(PQgetvalue(res, 0, 2), NULL, 10) / 1000000;
        if (at > t && cron_format_iso(at, z, iso, sizeof iso) > 0)
            json_gen_cstr(g, iso);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    http_reply_doc(c, 200, g);
    cron_free(cr);
    tz_free(z);
    msg_free(m);
}

static void get_next(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "schedule");
    long count;
    if (!id || api_query_long(c, "count", 1, NEXT_MAX, 5, &count) < 0)
        return;
    http_set_udata(c, (void *)(intptr_t)count, NULL);
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT cron, tz, (extract(epoch FROM at) * 1000000)::bigint, active FROM schedules"
                       " WHERE id = $1", 1, &id);
    api_store_call(c, q, on_next);
}

void api_schedule_fires_register(struct router *r)
{
    http_route(r, HTTP_GET, "/v1/schedules/:id/fires", get_fires, 0);
    http_route(r, HTTP_GET, "/v1/schedules/:id/next", get_next, 0);
}
