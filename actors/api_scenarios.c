/* api_scenarios: /v1/scenarios (and /v1/projects/:id/scenarios) — a
 * service or functional group of scripts inside a project, with tags. */
#include "api.h"

#include "sbuf.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define DESC_MAX_LEN 4000
#define TAG_MAX_LEN 64
#define TAGS_MAX 32

#define COLS "t.id, t.project_id, t.name, t.description, array_to_json(t.tags)::text, " \
    API_TS("t.created_at") ", " API_TS("t.updated_at") ", " \
    "(SELECT count(*) FROM scripts s WHERE s.scenario_id = t.id)"

static void gen_scenario(yajl_gen g, const PGresult *r, int row)
{
    yajl_gen_map_open(g);
    static const char *const keys[] = { "id", "project_id", "name", "description" };
    for (int i = 0; i < 4; i++) {
        json_gen_cstr(g, keys[i]);
        api_gen_cell_str(g, r, row, i);
    }
    json_gen_cstr(g, "tags");
    api_gen_cell_json(g, r, row, 4);
    json_gen_cstr(g, "created_at");
    api_gen_cell_str(g, r, row, 5);
    json_gen_cstr(g, "updated_at");
    api_gen_cell_str(g, r, row, 6);
    json_gen_cstr(g, "scripts");
    api_gen_cell_num(g, r, row, 7);
    yajl_gen_map_close(g);
}

static void on_created(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 201, gen_scenario, "project_id", "project", "name");
}

static void on_got(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 200, gen_scenario, "id", "scenario", "name");
}

/* tags: an array of distinct non-empty strings -> a text[] literal. */
static char *tags_literal(yajl_val tags, struct json_err *e)
{
    if (!YAJL_IS_ARRAY(tags)) {
        json_err_set(e, "tags", "tags: expected an array of strings, got %s", json_type_name(tags));
        return NULL;
    }
    if (tags->u.array.len > TAGS_MAX) {
        json_err_set(e, "tags", "tags: at most %d tags", TAGS_MAX);
        return NULL;
    }
    struct sbuf b;
    sbuf_init(&b, 128);
    sbuf_adds(&b, "{");
    for (size_t i = 0; i < tags->u.array.len; i++) {
        yajl_val t = tags->u.array.values[i];
        char path[32];
        json_path_index(path, sizeof path, "tags", i);
        if (!YAJL_IS_STRING(t)) {
            json_err_set(e, path, "%s: expected a string, got %s", path, json_type_name(t));
            goto bad;
        }
        const char *s = YAJL_GET_STRING(t);
        if (!*s || strlen(s) > TAG_MAX_LEN) {
            json_err_set(e, path, "%s: a tag is 1..%d bytes", path, TAG_MAX_LEN);
            goto bad;
        }
        for (const char *p = s; *p; p++) {
            if ((unsigned char)*p < 0x20) {
                json_err_set(e, path, "%s: control characters are not allowed", path);
                goto bad;
            }
        }
        for (size_t k = 0; k < i; k++) {
            const char *prev = YAJL_GET_STRING(tags->u.array.values[k]);
            if (prev && strcmp(prev, s) == 0) {
                json_err_set(e, path, "%s: \"%s\" is given twice", path, s);
                goto bad;
            }
        }
        sbuf_adds(&b, i ? ",\"" : "\"");
        for (const char *p = s; *p; p++) {
            if (*p == '"' || *p == '\\')
                sbuf_add(&b, "\\", 1);
            sbuf_add(&b, p, 1);
        }
        sbuf_adds(&b, "\"");
    }
    sbuf_adds(&b, "}");
    return sbuf_take(&b, NULL);
bad:
    sbuf_deinit(&b);
    return NULL;
}

struct fields {
    const char *project_id, *name, *desc;
    char *tags; /* owned text[] literal or NULL */
};

static int read_fields(struct http_ctx *c, int patch, int with_project, struct fields *f)
{
    static const char *const create_keys[] = { "project_id", "name", "description", "tags", NULL };
    static const char *const patch_keys[] = { "name", "description", "tags", NULL };
    yajl_val body = api_body_object(c, patch || !with_project ? patch_keys : create_keys);
    if (!body)
        return -1;
    memset(f, 0, sizeof *f);
    struct json_err e = { "", "" };
    if ((with_project && !patch && api_get_uuid(body, "project_id", 1, &f->project_id, &e) < 0) ||
        json_get_string(body, "", "name", !patch, &f->name, &e) < 0 ||
        json_get_string(body, "", "description", 0, &f->desc, &e) < 0 ||
        (f->name && api_check_text("name", f->name, NAME_MAX_LEN, 0, &e) < 0) ||
        (f->desc && api_check_text("description", f->desc, DESC_MAX_LEN, 1, &e) < 0)) {
        http_reply_invalid(c, &e);
        return -1;
    }
    yajl_val tags = json_get(body, "tags");
    if (tags && !(f->tags = tags_literal(tags, &e))) {
        http_reply_invalid(c, &e);
        return -1;
    }
    if (patch && !f->name && !f->desc && !f->tags) {
        http_reply_error(c, 400, "invalid", NULL, "nothing to change: give name, description or tags");
        return -1;
    }
    return 0;
}

static void create(struct http_ctx *c, const char *project_id)
{
    struct fields f;
    if (read_fields(c, 0, project_id == NULL, &f) < 0)
        return;
    if (project_id)
        f.project_id = project_id;
    struct store_query *q = store_query_new();
    const char *params[4] = { f.project_id, f.name, f.desc ? f.desc : "", f.tags ? f.tags : "{}" };
    /* An unknown project inserts nothing (no FK error to decode): 404. */
    store_query_add(q, "WITH t AS (INSERT INTO scenarios (project_id, name, description, tags)"
                       " SELECT p.id, $2, $3, $4::text[] FROM projects p WHERE p.id = $1 RETURNING *)"
                       " SELECT " COLS " FROM t", 4, params);
    free(f.tags);
    api_store_call(c, q, on_created);
}

static void create_scenario(struct http_ctx *c)
{
    create(c, NULL);
}

static void create_in_project(struct http_ctx *c)
{
    const char *pid = api_path_uuid(c, "id", "project");
    if (pid)
        create(c, pid);
}

static void get_scenario(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "scenario");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " COLS " FROM scenarios t WHERE t.id = $1", 1, &id);
    api_store_call(c, q, on_got);
}

static void patch_scenario(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "scenario");
    struct fields f;
    if (!id || read_fields(c, 1, 0, &f) < 0)
        return;
    struct store_query *q = store_query_new();
    const char *params[4] = { id, f.name, f.desc, f.tags };
    store_query_add(q, "WITH t AS (UPDATE scenarios SET name = coalesce($2, name),"
                       " description = coalesce($3, description), tags = coalesce($4::text[], tags),"
                       " updated_at = now() WHERE id = $1 RETURNING *) SELECT " COLS " FROM t", 4, params);
    free(f.tags);
    api_store_call(c, q, on_got);
}

static void delete_scenario(struct http_ctx *c)
{
    api_delete_parent(c, "scenarios", "scripts", "scenario_id", "scenario", "script");
}

static const char *const SORTS[] = { "created_at", "name", NULL };
static const struct api_list_spec LIST = { COLS, "scenarios t", SORTS, "created_at", gen_scenario };

static void list(struct http_ctx *c, const char *project_id)
{
    const char *pid = project_id;
    if (!pid && api_query_uuid(c, "project_id", &pid) < 0)
        return;
    struct sqlq q;
    if (api_list_begin(c, &LIST, &q) < 0)
        return;
    if (pid)
        sqlq_printf(&q, " AND t.project_id = $%d", sqlq_param(&q, pid));
    const char *s = http_query(c, "q");
    if (s)
        sqlq_printf(&q, " AND strpos(lower(t.name), lower($%d)) > 0", sqlq_param(&q, s));
    const char *tag = http_query(c, "tag");
    if (tag)
        sqlq_printf(&q, " AND t.tags @> ARRAY[$%d]::text[]", sqlq_param(&q, tag));
    api_list_run(c, &q);
}

static void list_scenarios(struct http_ctx *c)
{
    list(c, NULL);
}

static void list_in_project(struct http_ctx *c)
{
    const char *pid = api_path_uuid(c, "id", "project");
    if (pid)
        list(c, pid);
}

void api_scenarios_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/scenarios", create_scenario, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/scenarios", list_scenarios, 0);
    http_route(r, HTTP_GET, "/v1/scenarios/:id", get_scenario, 0);
    http_route(r, HTTP_PATCH, "/v1/scenarios/:id", patch_scenario, HTTP_JSON_BODY);
    http_route(r, HTTP_DELETE, "/v1/scenarios/:id", delete_scenario, 0);
    http_route(r, HTTP_POST, "/v1/projects/:id/scenarios", create_in_project, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/projects/:id/scenarios", list_in_project, 0);
}
