/* api_datasets: /v1/datasets — rows that scripts take one per iteration
 * (docs/datasets.md), global or in a project: uploaded (CSV or JSON) or
 * collected from an API by the collector (collector.h). Every upload or
 * collection is a new version; the older ones stay readable. */
#include "api.h"

#include "collect_spec.h"
#include "collector.h"
#include "dataset.h"
#include "ds_rows.h"
#include "xmalloc.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define DESC_MAX_LEN 4000

#define COLS "t.id, t.project_id, t.name, t.description, t.collect::text, nullif(t.latest_version, 0)," \
    " to_json(v.columns)::text, v.row_count, " API_TS("t.created_at") ", " API_TS("t.updated_at")
/* the latest version, for its columns and row count */
#define WITH_LATEST " LEFT JOIN dataset_versions v ON v.dataset_id = t.id AND v.version = t.latest_version"

static void gen_dataset(yajl_gen g, const PGresult *r, int row)
{
    static const char *const k1[] = { "id", "project_id", "name", "description" };
    yajl_gen_map_open(g);
    for (int i = 0; i < 4; i++) {
        json_gen_cstr(g, k1[i]);
        api_gen_cell_str(g, r, row, i);
    }
    json_gen_cstr(g, "collect");
    api_gen_cell_json(g, r, row, 4);
    json_gen_cstr(g, "latest_version");
    api_gen_cell_num(g, r, row, 5);
    json_gen_cstr(g, "columns");
    api_gen_cell_json(g, r, row, 6);
    json_gen_cstr(g, "rows");
    api_gen_cell_num(g, r, row, 7);
    json_gen_cstr(g, "created_at");
    api_gen_cell_str(g, r, row, 8);
    json_gen_cstr(g, "updated_at");
    api_gen_cell_str(g, r, row, 9);
    yajl_gen_map_close(g);
}

static void on_got(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 200, gen_dataset, "id", "dataset", "name");
}

/* ---- create, read, change, delete ---- */

struct fields {
    const char *name, *description, *project_id;
    char *collect;      /* owned: the validated spec as JSON text, or NULL */
    int clear_collect;  /* "collect": null */
};

static void fields_free(void *p)
{
    struct fields *f = p;
    free(f->collect);
    free(f);
}

/* A collect spec given in a body: validated, and kept as written. 0 (*out
 * NULL when absent or null), or -1 with e set. */
static int read_collect(yajl_val body, char **out, int *is_null, struct json_err *e)
{
    *out = NULL;
    yajl_val v = json_get(body, "collect");
    if (is_null)
        *is_null = v && YAJL_IS_NULL(v);
    if (!v || YAJL_IS_NULL(v))
        return 0;
    struct collect_spec *spec;
    if (collect_spec_parse(v, "collect", &spec, e) < 0)
        return -1;
    collect_spec_free(spec);
    yajl_gen g = json_gen_new();
    json_gen_value(g, v);
    *out = json_gen_finish(g, NULL);
    return 0;
}

static int read_fields(struct http_ctx *c, int patch, struct fields *f, struct json_err *e)
{
    static const char *const keys[] = { "name", "project_id", "description", "collect", NULL };
    yajl_val body = api_body_object(c, keys);
    if (!body)
        return -2; /* answered */
    yajl_val pid = json_get(body, "project_id");
    if (patch && pid)
        return json_fail(e, "project_id", "cannot change: a dataset stays in its scope (create another one)");
    if (json_get_string(body, "", "name", !patch, &f->name, e) < 0 ||
        (f->name && api_check_text("name", f->name, NAME_MAX_LEN, 0, e) < 0) ||
        json_get_string(body, "", "description", 0, &f->description, e) < 0 ||
        (f->description && api_check_text("description", f->description, DESC_MAX_LEN, 1, e) < 0) ||
        (pid && !YAJL_IS_NULL(pid) && api_get_uuid(body, "project_id", 0, &f->project_id, e) < 0) ||
        read_collect(body, &f->collect, &f->clear_collect, e) < 0)
        return -1;
    if (patch && !f->name && !f->description && !json_get(body, "collect"))
        return json_fail(e, "", "nothing to change: give name, description or collect");
    return 0;
}

static void on_created(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status == STORE_OK && PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 400, "invalid", "project_id", "no project with that id");
        msg_free(m);
        return;
    }
    api_reply_row(c, m, 201, gen_dataset, "id", "dataset", "name");
}

/* The body's fields for a write (kept by the request), or NULL after
 * answering. */
static struct fields *write_fields(struct http_ctx *c, int patch)
{
    struct fields *f = xcalloc(1, sizeof *f);
    http_set_udata(c, f, fields_free);
    struct json_err e = { "", "" };
    int rc = read_fields(c, patch, f, &e);
    if (rc == -1)
        http_reply_invalid(c, &e);
    return rc < 0 ? NULL : f;
}

static void create_dataset(struct http_ctx *c)
{
    struct fields *f = write_fields(c, 0);
    if (!f)
        return;
    const char *p[4] = { f->project_id, f->name, f->description, f->collect };
    struct store_query *q = store_query_new();
    store_query_add(q, "WITH t AS (INSERT INTO datasets (project_id, name, description, collect)"
                       " SELECT $1::uuid, $2, coalesce($3, ''), $4::json"
                       " WHERE $1::uuid IS NULL OR EXISTS (SELECT 1 FROM projects WHERE id = $1::uuid) RETURNING *)"
                       " SELECT " COLS " FROM t" WITH_LATEST, 4, p);
    api_store_call(c, q, on_created);
}

static void get_dataset(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "dataset");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " COLS " FROM datasets t" WITH_LATEST " WHERE t.id = $1", 1, &id);
    api_store_call(c, q, on_got);
}

static void patch_dataset(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "dataset");
    struct fields *f = id ? write_fields(c, 1) : NULL;
    if (!f)
        return;
    const char *p[5] = { id, f->name, f->description, f->clear_collect ? "1" : "0", f->collect };
    struct store_query *q = store_query_new();
    store_query_add(q, "WITH t AS (UPDATE datasets SET name = coalesce($2, name),"
                       " description = coalesce($3, description),"
                       " collect = CASE WHEN $4 = '1' THEN NULL ELSE coalesce($5::json, collect) END,"
                       " updated_at = now() WHERE id = $1 RETURNING *)"
                       " SELECT " COLS " FROM t" WITH_LATEST, 5, p);
    api_store_call(c, q, on_got);
}

/* Scripts name a dataset in definition.dataset.id. */
#define USED_BY "(SELECT count(*) FROM scripts WHERE lower(definition->'dataset'->>'id') = $1::text)"

static void on_deleted(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else if (PQgetvalue(r->res[0], 0, 0)[0] != 't') {
        http_reply_error(c, 404, "not_found", "id", "no dataset with id %s", http_param(c, "id"));
    } else if (PQntuples(r->res[1]) == 0) {
        long n = atol(PQgetvalue(r->res[0], 0, 1));
        http_reply_error(c, 409, "conflict", "force",
                         "%ld script%s use%s this dataset: change them first, or delete it anyway with ?force=true",
                         n, n == 1 ? "" : "s", n == 1 ? "s" : "");
    } else {
        http_reply(c, 204, NULL, 0);
    }
    msg_free(m);
}

static void delete_dataset(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "dataset");
    if (!id)
        return;
    const char *force = http_query(c, "force");
    if (force && strcmp(force, "true") && strcmp(force, "false")) {
        http_reply_error(c, 400, "invalid", "force", "force must be true or false");
        return;
    }
    const char *p[2] = { id, force && !strcmp(force, "true") ? "1" : "0" };
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT EXISTS (SELECT 1 FROM datasets WHERE id = $1), " USED_BY, 1, p);
    store_query_add(q, "DELETE FROM datasets WHERE id = $1 AND ($2 = '1' OR " USED_BY " = 0) RETURNING id", 2, p);
    api_store_call(c, q, on_deleted);
}

/* ---- collection: preview and collect (the collector does the work) ---- */

struct collecting {
    char *spec;     /* owned: a spec from the body (preview), else NULL */
    int preview;
};

static void collecting_free(void *p)
{
    struct collecting *k = p;
    free(k->spec);
    free(k);
}

static void on_collected(struct http_ctx *c, msg_t *m)
{
    if (m->type == MSG_RM_REPLY) { /* the run manager could not hand it over */
        api_rm_error(c, (const struct rm_reply *)m);
    } else {
        const struct ds_collect_reply *r = (const struct ds_collect_reply *)m;
        if (r->status >= 400)
            http_reply_error(c, r->status, r->code[0] ? r->code : "error", r->field[0] ? r->field : NULL, "%s",
                             r->message);
        else
            http_reply(c, r->status, r->body ? r->body : "{}", r->body ? strlen(r->body) : 2);
    }
    msg_free(m);
}

static void on_spec(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    struct collecting *k = http_udata(c);
    const char *id = http_param(c, "id");
    if (api_store_failed(c, m))
        return;
    if (PQntuples(r->res[0]) == 0) {
        http_reply_error(c, 404, "not_found", "id", "no dataset with id %s", id);
        msg_free(m);
        return;
    }
    if (!k->spec && PQgetisnull(r->res[0], 0, 0)) {
        http_reply_error(c, 409, "conflict", "collect", "the dataset has no collect spec: set one with "
                         "PATCH /v1/datasets/%s, or upload its rows", id);
        msg_free(m);
        return;
    }
    struct ds_collect *req = MSG_NEW(MSG_DS_COLLECT, struct ds_collect);
    req->m.dtor = ds_collect_dtor;
    snprintf(req->dataset_id, sizeof req->dataset_id, "%s", id);
    req->spec = k->spec ? k->spec : xstrdup(PQgetvalue(r->res[0], 0, 0));
    k->spec = NULL;
    req->preview = k->preview;
    msg_free(m);
    api_runs_call(c, &req->m, on_collected);
}

static void start_collect(struct http_ctx *c, int preview)
{
    const char *id = api_path_uuid(c, "id", "dataset");
    if (!id)
        return;
    struct collecting *k = xcalloc(1, sizeof *k);
    k->preview = preview;
    http_set_udata(c, k, collecting_free);
    if (preview && http_body(c)) { /* try a spec before saving it */
        static const char *const keys[] = { "collect", NULL };
        yajl_val body = api_body_object(c, keys);
        struct json_err e = { "", "" };
        if (!body)
            return;
        if (read_collect(body, &k->spec, NULL, &e) < 0) {
            http_reply_invalid(c, &e);
            return;
        }
    }
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT collect::text FROM datasets WHERE id = $1", 1, &id);
    api_store_call(c, q, on_spec);
}

static void preview_dataset(struct http_ctx *c)
{
    start_collect(c, 1);
}

static void collect_dataset(struct http_ctx *c)
{
    start_collect(c, 0);
}

/* ---- list ---- */

static const char *const SORTS[] = { "created_at", "name", NULL };
static const struct api_list_spec LIST = { COLS, "datasets t" WITH_LATEST, SORTS, "created_at", gen_dataset };

static void list_datasets(struct http_ctx *c)
{
    const char *project_id;
    if (api_query_uuid(c, "project_id", &project_id) < 0)
        return;
    const char *global = http_query(c, "global");
    if (global && strcmp(global, "true") && strcmp(global, "false")) {
        http_reply_error(c, 400, "invalid", "global", "global must be true or false");
        return;
    }
    struct sqlq q;
    if (api_list_begin(c, &LIST, &q) < 0)
        return;
    if (project_id)
        sqlq_printf(&q, " AND t.project_id = $%d", sqlq_param(&q, project_id));
    if (global)
        sqlq_printf(&q, " AND t.project_id IS %sNULL", strcmp(global, "true") ? "NOT " : "");
    const char *s = http_query(c, "q");
    if (s)
        sqlq_printf(&q, " AND strpos(lower(t.name), lower($%d)) > 0", sqlq_param(&q, s));
    api_list_run(c, &q);
}

void api_datasets_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/datasets", create_dataset, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/datasets", list_datasets, 0);
    http_route(r, HTTP_GET, "/v1/datasets/:id", get_dataset, 0);
    http_route(r, HTTP_PATCH, "/v1/datasets/:id", patch_dataset, HTTP_JSON_BODY);
    http_route(r, HTTP_DELETE, "/v1/datasets/:id", delete_dataset, 0);
    http_route(r, HTTP_POST, "/v1/datasets/:id/preview", preview_dataset, HTTP_JSON_OPTIONAL);
    http_route(r, HTTP_POST, "/v1/datasets/:id/collect", collect_dataset, 0);
}
