/* api_results: what a run measured — its summary, its per-second series
 * re-aggregated from the stored histograms at any resolution and window,
 * and its events. Comparisons are in api_compare.c, exports in
 * api_export.c. */
#include "api.h"

#include "sbuf.h"
#include "series.h"
#include "xmalloc.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_MAX_ROWS 20000
#define EVENTS_DEFAULT 100
#define EVENTS_MAX 1000

/* ---- summary ---- */

static void on_summary(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else if (PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 404, "not_found", "id", "no run with id %s", http_param(c, "id"));
    } else if (r->n > 1 && PQntuples(r->res[1]) == 0) {
        http_reply_error(c, 404, "not_found", "script_id", "the run has no script %s", http_query(c, "script_id"));
    } else {
        const PGresult *res = r->res[r->n - 1];
        if (PQgetisnull(res, 0, 1)) {
            http_reply_error(c, 409, "not_ready", NULL, "no summary yet: the run is %s",
                             PQgetvalue(r->res[0], 0, 0));
        } else {
            const char *s = PQgetvalue(res, 0, 1);
            http_reply(c, 200, s, strlen(s));
        }
    }
    msg_free(m);
}

static void get_summary(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run"), *sid;
    if (!id || api_query_uuid(c, "script_id", &sid) < 0)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT status, summary::text FROM runs WHERE id = $1", 1, &id);
    if (sid) {
        const char *p[2] = { id, sid };
        store_query_add(q, "SELECT status, summary::text FROM run_scripts WHERE run_id = $1 AND script_id = $2",
                        2, p);
    }
    api_store_call(c, q, on_summary);
}

/* ---- series ---- */

struct series_req {
    uint32_t res_s;  /* bucket width in seconds; 0 = one bucket for everything */
};

/* Rows come ordered by second, script, warmup. A bucket's span is, per
 * second, the longest any script covered (scripts of a scenario run side
 * by side); the split rows of a warmup boundary add up within a script. */
static void on_series(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    const struct series_req *sr = http_udata(c);
    if (api_store_failed(c, m))
        return;
    if (PQgetvalue(r->res[0], 0, 0)[0] != 't') {
        http_reply_error(c, 404, "not_found", "id", "no run with id %s", http_param(c, "id"));
        msg_free(m);
        return;
    }
    const PGresult *res = r->res[1];
    int n = PQntuples(res);
    if (n > SERIES_MAX_ROWS) {
        http_reply_error(c, 400, "invalid", "to",
                         "the window holds more than %d rows: narrow it with from/to", SERIES_MAX_ROWS);
        msg_free(m);
        return;
    }
    struct series_acc *a = xmalloc(sizeof *a);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "items");
    yajl_gen_array_open(g);
    int open = 0, bad = 0;
    long cur_sec = -1;
    const char *cur_script = NULL;
    uint64_t sec_max = 0, script_span = 0;
    for (int i = 0; i < n && !bad; i++) {
        uint32_t second = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
        const char *script = PQgetvalue(res, i, 0);
        uint64_t span = strtoull(PQgetvalue(res, i, 3), NULL, 10);
        uint32_t b = sr->res_s ? second / sr->res_s * sr->res_s : 0;
        if ((long)second != cur_sec || strcmp(script, cur_script) != 0) {
            if (script_span > sec_max)
                sec_max = script_span;
            script_span = 0;
            if ((long)second != cur_sec) {
                if (open)
                    a->span_ms += sec_max;
                sec_max = 0;
            }
        }
        if (open && a->t != b && sr->res_s) {
            series_gen_acc(g, a);
            open = 0;
        }
        if (!open) {
            series_acc_init(a, b);
            open = 1;
        }
        cur_sec = second;
        cur_script = script;
        script_span += span;
        bad = series_acc_add_row(a, res, i, 1, 0) < 0;
    }
    if (open) {
        if (script_span > sec_max)
            sec_max = script_span;
        a->span_ms += sec_max;
        series_gen_acc(g, a);
    }
    free(a);
    if (bad) {
        yajl_gen_free(g);
        http_reply_error(c, 500, "internal", NULL, "a stored series row could not be read");
        msg_free(m);
        return;
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    http_reply_doc(c, 200, g);
    msg_free(m);
}

/* A bound of the window: seconds since the start ("90") or a time. */
static int window_bound(struct http_ctx *c, const char *key, struct sqlq *q, const char *op)
{
    const char *v = http_query(c, key);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long s = strtol(v, &end, 10);
    if (!errno && !*end && end != v && s >= 0 && s <= 100000000) {
        sqlq_printf(q, " AND s.second %s $%d::integer", op, sqlq_param(q, v));
        return 0;
    }
    if (api_is_timestamp(v)) {
        sqlq_printf(q, " AND s.second %s floor(extract(epoch FROM ($%d::timestamptz -"
                       " (SELECT started_at FROM runs WHERE id = s.run_id))))::integer",
                    op, sqlq_param(q, v));
        return 0;
    }
    http_reply_error(c, 400, "invalid", key, "%s: seconds since the start (e.g. 90) or an RFC 3339 time", key);
    return -1;
}

static void get_series(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run"), *sid;
    if (!id || api_query_uuid(c, "script_id", &sid) < 0)
        return;
    const char *resol = http_query(c, "resolution");
    struct series_req *sr = xcalloc(1, sizeof *sr);
    http_set_udata(c, sr, free);
    sr->res_s = 1;
    if (resol) {
        if (!strcmp(resol, "1s"))
            sr->res_s = 1;
        else if (!strcmp(resol, "10s"))
            sr->res_s = 10;
        else if (!strcmp(resol, "1m"))
            sr->res_s = 60;
        else if (!strcmp(resol, "all"))
            sr->res_s = 0;
        else {
            http_reply_error(c, 400, "invalid", "resolution", "resolution must be 1s, 10s, 1m or all");
            return;
        }
    }
    const char *warm = http_query(c, "warmup");
    if (warm && strcmp(warm, "true") && strcmp(warm, "false")) {
        http_reply_error(c, 400, "invalid", "warmup", "warmup must be true (include) or false (leave out)");
        return;
    }
    const char *step = http_query(c, "step");
    if (step && strlen(step) > 64) {
        http_reply_error(c, 400, "invalid", "step", "step: at most 64 characters");
        return;
    }
    struct sqlq q;
    sqlq_init(&q, "SELECT s.script_id, " SERIES_SELECT_COLS " FROM run_series s WHERE true");
    sqlq_printf(&q, " AND s.run_id = $%d", sqlq_param(&q, id));
    sqlq_printf(&q, " AND s.step = $%d", sqlq_param(&q, step ? step : ""));
    if (sid)
        sqlq_printf(&q, " AND s.script_id = $%d", sqlq_param(&q, sid));
    if (warm && !strcmp(warm, "false"))
        sqlq_printf(&q, " AND NOT s.warmup");
    if (window_bound(c, "from", &q, ">=") < 0 || window_bound(c, "to", &q, "<=") < 0) {
        sqlq_deinit(&q);
        return;
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", SERIES_MAX_ROWS + 1);
    sqlq_printf(&q, " ORDER BY s.second, s.script_id, s.warmup DESC LIMIT $%d", sqlq_param(&q, lim));
    struct store_query *sq = store_query_new();
    store_query_add(sq, "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)", 1, &id);
    api_sqlq_add(sq, &q);
    sqlq_deinit(&q);
    api_store_call(c, sq, on_series);
}

/* ---- events ---- */

static void gen_event(yajl_gen g, const PGresult *res, int i)
{
    yajl_gen_map_open(g);
    json_gen_cstr(g, "id");
    api_gen_cell_num(g, res, i, 0);
    json_gen_cstr(g, "at");
    api_gen_cell_str(g, res, i, 1);
    json_gen_cstr(g, "kind");
    api_gen_cell_str(g, res, i, 2);
    json_gen_cstr(g, "detail");
    api_gen_cell_json(g, res, i, 3);
    yajl_gen_map_close(g);
}

static void on_events(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK)
        api_store_error(c, r, NULL);
    else if (PQgetvalue(r->res[0], 0, 0)[0] != 't')
        http_reply_error(c, 404, "not_found", "id", "no run with id %s", http_param(c, "id"));
    else
        api_reply_id_page(c, r->res[1], (int)(intptr_t)http_udata(c), gen_event);
    msg_free(m);
}

static void get_events(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (!id)
        return;
    long limit = EVENTS_DEFAULT;
    const char *ls = http_query(c, "limit"), *cur = http_query(c, "cursor");
    char *end;
    if (ls) {
        errno = 0;
        limit = strtol(ls, &end, 10);
        if (errno || *end || end == ls || limit < 1 || limit > EVENTS_MAX) {
            http_reply_error(c, 400, "invalid", "limit", "limit must be an integer 1..%d", EVENTS_MAX);
            return;
        }
    }
    if (cur) {
        errno = 0;
        long long v = strtoll(cur, &end, 10);
        if (errno || *end || end == cur || v < 0) {
            http_reply_error(c, 400, "invalid", "cursor", "cursor is not one this API returned");
            return;
        }
    }
    http_set_udata(c, (void *)(intptr_t)limit, NULL);
    char lim[16];
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)", 1, &id);
    const char *p[3] = { id, cur ? cur : "0", lim };
    store_query_add(q, "SELECT id, " API_TS("at") ", kind, detail::text FROM run_events"
                       " WHERE run_id = $1 AND id > $2::bigint ORDER BY id LIMIT $3::integer", 3, p);
    api_store_call(c, q, on_events);
}

void api_results_register(struct router *r)
{
    http_route(r, HTTP_GET, "/v1/runs/:id/summary", get_summary, 0);
    http_route(r, HTTP_GET, "/v1/runs/:id/series", get_series, 0);
    http_route(r, HTTP_GET, "/v1/runs/:id/events", get_events, 0);
}
