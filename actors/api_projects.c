/* api_projects: /v1/projects — create, list, get and delete projects.
 * Input is validated here with field names; the database enforces the same
 * limits (CHECK constraints) so nothing half-valid is ever stored. */
#include "api.h"

#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define DESC_MAX_LEN 4000
#define LIST_MAX 200

#define COLS "id, name, description, " \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), " \
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), " \
    "(extract(epoch from created_at) * 1000000)::bigint"

static void gen_project(yajl_gen g, const PGresult *r, int row)
{
    yajl_gen_map_open(g);
    json_gen_cstr(g, "id");
    api_gen_cell_str(g, r, row, 0);
    json_gen_cstr(g, "name");
    api_gen_cell_str(g, r, row, 1);
    json_gen_cstr(g, "description");
    api_gen_cell_str(g, r, row, 2);
    json_gen_cstr(g, "created_at");
    api_gen_cell_str(g, r, row, 3);
    json_gen_cstr(g, "updated_at");
    api_gen_cell_str(g, r, row, 4);
    yajl_gen_map_close(g);
}

static int check_text(const char *field, const char *s, size_t max, int allow_empty,
                      struct json_err *e)
{
    size_t n = strlen(s);
    if (!allow_empty && n == 0) {
        json_err_set(e, field, "%s must not be empty", field);
        return -1;
    }
    if (n > max) {
        json_err_set(e, field, "%s must be at most %zu bytes", field, max);
        return -1;
    }
    return 0;
}

static void on_one(struct http_ctx *c, msg_t *m, int created)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, "name");
    } else if (PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 404, "not_found", "id", "no project with id %s", http_param(c, "id"));
    } else {
        yajl_gen g = json_gen_new();
        gen_project(g, r->res[0], 0);
        http_reply_doc(c, created ? 201 : 200, g);
    }
    msg_free(m);
}

static void on_created(struct http_ctx *c, msg_t *m)
{
    on_one(c, m, 1);
}

static void on_got(struct http_ctx *c, msg_t *m)
{
    on_one(c, m, 0);
}

static void create_project(struct http_ctx *c)
{
    static const char *const allowed[] = { "name", "description", NULL };
    yajl_val body = http_body(c);
    struct json_err e = { "", "" };
    const char *name = NULL, *desc = "";
    if (!YAJL_IS_OBJECT(body)) {
        json_err_set(&e, "", "the body must be a JSON object");
        http_reply_invalid(c, &e);
        return;
    }
    if (json_check_keys(body, "", allowed, &e) < 0 ||
        json_get_string(body, "", "name", 1, &name, &e) < 0 ||
        json_get_string(body, "", "description", 0, &desc, &e) < 0 ||
        check_text("name", name, NAME_MAX_LEN, 0, &e) < 0 ||
        check_text("description", desc, DESC_MAX_LEN, 1, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    struct store_query *q = store_query_new();
    const char *params[2] = { name, desc };
    store_query_add(q, "INSERT INTO projects (name, description) VALUES ($1, $2) RETURNING " COLS,
                    2, params);
    api_store_call(c, q, on_created);
}

static void get_project(struct http_ctx *c)
{
    const char *id = http_param(c, "id");
    if (!api_is_uuid(id)) {
        http_reply_error(c, 404, "not_found", "id", "no project with id %s (not a UUID)", id);
        return;
    }
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " COLS " FROM projects WHERE id = $1", 1, &id);
    api_store_call(c, q, on_got);
}

static void on_deleted(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK)
        api_store_error(c, r, NULL);
    else if (PQntuples(r->res[0]) == 0)
        http_reply_error(c, 404, "not_found", "id", "no project with id %s", http_param(c, "id"));
    else
        http_reply(c, 204, NULL, 0);
    msg_free(m);
}

static void delete_project(struct http_ctx *c)
{
    const char *id = http_param(c, "id");
    if (!api_is_uuid(id)) {
        http_reply_error(c, 404, "not_found", "id", "no project with id %s (not a UUID)", id);
        return;
    }
    struct store_query *q = store_query_new();
    store_query_add(q, "DELETE FROM projects WHERE id = $1 RETURNING id", 1, &id);
    api_store_call(c, q, on_deleted);
}

static void on_listed(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
        msg_free(m);
        return;
    }
    const PGresult *res = r->res[0];
    int limit = *(int *)http_udata(c);
    int n = PQntuples(res);
    int shown = n > limit ? limit : n;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "items");
    yajl_gen_array_open(g);
    for (int i = 0; i < shown; i++)
        gen_project(g, res, i);
    yajl_gen_array_close(g);
    json_gen_cstr(g, "next_cursor");
    if (n > limit) {
        /* Keyset cursor: the last item's (created_at in µs, id). */
        char cur[96];
        snprintf(cur, sizeof cur, "%s_%s", PQgetvalue(res, shown - 1, 5), PQgetvalue(res, shown - 1, 0));
        json_gen_cstr(g, cur);
    } else {
        yajl_gen_null(g);
    }
    yajl_gen_map_close(g);
    http_reply_doc(c, 200, g);
    msg_free(m);
}

static void list_projects(struct http_ctx *c)
{
    int *limit = xmalloc(sizeof *limit);
    *limit = 50;
    http_set_udata(c, limit, free);
    const char *ls = http_query(c, "limit");
    if (ls) {
        char *end;
        long v = strtol(ls, &end, 10);
        if (*end || end == ls || v < 1 || v > LIST_MAX) {
            http_reply_error(c, 400, "invalid", "limit", "limit must be an integer 1..%d", LIST_MAX);
            return;
        }
        *limit = (int)v;
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", *limit + 1); /* one more tells whether a next page exists */
    const char *cursor = http_query(c, "cursor");
    struct store_query *q = store_query_new();
    if (cursor) {
        const char *us = strchr(cursor, '_');
        char ts[32];
        if (!us || (size_t)(us - cursor) >= sizeof ts || !api_is_uuid(us + 1)) {
            msg_free(&q->m);
            http_reply_error(c, 400, "invalid", "cursor", "cursor is not one this API returned");
            return;
        }
        snprintf(ts, sizeof ts, "%.*s", (int)(us - cursor), cursor);
        char *end;
        strtoll(ts, &end, 10);
        if (*end || !ts[0]) {
            msg_free(&q->m);
            http_reply_error(c, 400, "invalid", "cursor", "cursor is not one this API returned");
            return;
        }
        const char *params[3] = { ts, us + 1, lim };
        store_query_add(q, "SELECT " COLS " FROM projects"
                           " WHERE (created_at, id) > (timestamptz 'epoch' + $1::bigint * interval '1 microsecond', $2::uuid)"
                           " ORDER BY created_at, id LIMIT $3", 3, params);
    } else {
        const char *params[1] = { lim };
        store_query_add(q, "SELECT " COLS " FROM projects ORDER BY created_at, id LIMIT $1", 1, params);
    }
    api_store_call(c, q, on_listed);
}

void api_projects_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/projects", create_project, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/projects", list_projects, 0);
    http_route(r, HTTP_GET, "/v1/projects/:id", get_project, 0);
    http_route(r, HTTP_DELETE, "/v1/projects/:id", delete_project, 0);
}
