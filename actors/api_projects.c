/* api_projects: /v1/projects — create, list, get, update and delete.
 * Input is validated here with field names; the database enforces the same
 * limits (CHECK constraints) so nothing half-valid is ever stored. */
#include "api.h"

#include <string.h>

#define NAME_MAX_LEN 200
#define DESC_MAX_LEN 4000

#define COLS "t.id, t.name, t.description, " API_TS("t.created_at") ", " API_TS("t.updated_at") ", " \
    "(SELECT count(*) FROM scenarios s WHERE s.project_id = t.id)"

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
    json_gen_cstr(g, "scenarios");
    api_gen_cell_num(g, r, row, 5);
    yajl_gen_map_close(g);
}

static void on_created(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 201, gen_project, "id", "project", "name");
}

static void on_got(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 200, gen_project, "id", "project", "name");
}

static const char *const FIELDS[] = { "name", "description", NULL };

/* name and description from the body; on a PATCH both may be absent. */
static int read_fields(struct http_ctx *c, int patch, const char **name, const char **desc)
{
    yajl_val body = api_body_object(c, FIELDS);
    if (!body)
        return -1;
    struct json_err e = { "", "" };
    *name = *desc = NULL;
    if (json_get_string(body, "", "name", !patch, name, &e) < 0 ||
        json_get_string(body, "", "description", 0, desc, &e) < 0 ||
        (*name && api_check_text("name", *name, NAME_MAX_LEN, 0, &e) < 0) ||
        (*desc && api_check_text("description", *desc, DESC_MAX_LEN, 1, &e) < 0)) {
        http_reply_invalid(c, &e);
        return -1;
    }
    if (patch && !*name && !*desc) {
        http_reply_error(c, 400, "invalid", NULL, "nothing to change: give name or description");
        return -1;
    }
    return 0;
}

static void create_project(struct http_ctx *c)
{
    const char *name, *desc;
    if (read_fields(c, 0, &name, &desc) < 0)
        return;
    struct store_query *q = store_query_new();
    const char *params[2] = { name, desc ? desc : "" };
    store_query_add(q, "WITH t AS (INSERT INTO projects (name, description) VALUES ($1, $2) RETURNING *)"
                       " SELECT " COLS " FROM t", 2, params);
    api_store_call(c, q, on_created);
}

static void get_project(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "project");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " COLS " FROM projects t WHERE t.id = $1", 1, &id);
    api_store_call(c, q, on_got);
}

static void patch_project(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "project");
    const char *name, *desc;
    if (!id || read_fields(c, 1, &name, &desc) < 0)
        return;
    struct store_query *q = store_query_new();
    const char *params[3] = { id, name, desc };
    store_query_add(q, "WITH t AS (UPDATE projects SET name = coalesce($2, name),"
                       " description = coalesce($3, description), updated_at = now()"
                       " WHERE id = $1 RETURNING *) SELECT " COLS " FROM t", 3, params);
    api_store_call(c, q, on_got);
}

static void delete_project(struct http_ctx *c)
{
    api_delete_parent(c, "projects", "scenarios", "project_id", "project", "scenario");
}

static const char *const SORTS[] = { "created_at", "name", NULL };
static const struct api_list_spec LIST = { COLS, "projects t", SORTS, "created_at", gen_project };

static void list_projects(struct http_ctx *c)
{
    struct sqlq q;
    if (api_list_begin(c, &LIST, &q) < 0)
        return;
    const char *s = http_query(c, "q");
    if (s)
        sqlq_printf(&q, " AND strpos(lower(t.name), lower($%d)) > 0", sqlq_param(&q, s));
    api_list_run(c, &q);
}

void api_projects_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/projects", create_project, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/projects", list_projects, 0);
    http_route(r, HTTP_GET, "/v1/projects/:id", get_project, 0);
    http_route(r, HTTP_PATCH, "/v1/projects/:id", patch_project, HTTP_JSON_BODY);
    http_route(r, HTTP_DELETE, "/v1/projects/:id", delete_project, 0);
}
