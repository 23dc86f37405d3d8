/* api_scripts: /v1/scripts (and /v1/scenarios/:id/scripts) — test
 * definitions, validated on every write with the same field-path errors
 * `stampede run` gives, versioned: every change makes a new version and
 * the old ones stay readable under /versions (api_script_versions.c). A definition that names a
 * dataset by id is checked against that dataset first (it exists, the
 * script's project may use it, its columns are the variables it gives). */
#include "api.h"

#include "collect_spec.h"
#include "ds_rows.h"
#include "script.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200

#define BASE_COLS "t.id, t.scenario_id, t.name, t.enabled, t.version, " \
    API_TS("t.created_at") ", " API_TS("t.updated_at") ", sc.project_id"
#define COLS BASE_COLS ", t.definition::text"

static void gen_base(yajl_gen g, const PGresult *r, int row)
{
    json_gen_cstr(g, "id");
    api_gen_cell_str(g, r, row, 0);
    json_gen_cstr(g, "scenario_id");
    api_gen_cell_str(g, r, row, 1);
    json_gen_cstr(g, "project_id");
    api_gen_cell_str(g, r, row, 7);
    json_gen_cstr(g, "name");
    api_gen_cell_str(g, r, row, 2);
    json_gen_cstr(g, "enabled");
    api_gen_cell_bool(g, r, row, 3);
    json_gen_cstr(g, "version");
    api_gen_cell_num(g, r, row, 4);
    json_gen_cstr(g, "created_at");
    api_gen_cell_str(g, r, row, 5);
    json_gen_cstr(g, "updated_at");
    api_gen_cell_str(g, r, row, 6);
}

static void gen_listed(yajl_gen g, const PGresult *r, int row)
{
    yajl_gen_map_open(g);
    gen_base(g, r, row);
    yajl_gen_map_close(g);
}

static void gen_script(yajl_gen g, const PGresult *r, int row)
{
    yajl_gen_map_open(g);
    gen_base(g, r, row);
    json_gen_cstr(g, "definition");
    api_gen_cell_json(g, r, row, 8);
    yajl_gen_map_close(g);
}

static void on_created(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 201, gen_script, "scenario_id", "scenario", "name");
}

static void on_got(struct http_ctx *c, msg_t *m)
{
    api_reply_row(c, m, 200, gen_script, "id", "script", "name");
}

struct fields {
    const char *scenario_id, *name;
    int enabled, has_enabled;
    char *definition; /* owned: the validated definition as JSON text, or NULL */
    yajl_val def;     /* the body's definition while its dataset is looked up (borrowed) */
    char dataset_id[UUID_STR_LEN]; /* the dataset it names by id, "" = none */
    char version[24]; /* the dataset version it pins, "" = the latest */
    const char *script_id; /* PATCH: the script */
};

static void fields_free(void *p)
{
    struct fields *f = p;
    free(f->definition);
    free(f);
}

/* Validate a definition exactly as `stampede run` would, naming the field
 * under "definition". Returns the text to store, or NULL with e set. */
static char *checked_definition(yajl_val def, struct json_err *e)
{
    if (!YAJL_IS_OBJECT(def)) {
        json_err_set(e, "definition", "definition: expected a script object, got %s", json_type_name(def));
        return NULL;
    }
    struct script *sc = NULL;
    struct json_err se = { "", "" };
    if (script_from_json(def, &sc, &se) < 0) {
        char field[sizeof e->field + 16];
        snprintf(field, sizeof field, "definition%s%.*s", se.field[0] ? "." : "",
                 (int)sizeof e->field - 12, se.field);
        if (se.field[0])
            json_err_set(e, field, "definition.%s", se.message);
        else
            json_err_set(e, field, "definition: %s", se.message);
        return NULL;
    }
    script_free(sc);
    yajl_gen g = json_gen_new();
    json_gen_value(g, def);
    return json_gen_finish(g, NULL);
}

/* The dataset a definition names by id, if any (script_dataset_ref). */
static void note_dataset(yajl_val def, struct fields *f)
{
    long version;
    if (script_dataset_ref(def, f->dataset_id, sizeof f->dataset_id, &version) && version)
        snprintf(f->version, sizeof f->version, "%ld", version);
}

/* The body's fields into f (kept by the request). The definition is
 * validated now, or once its dataset is known (f->def). 0, or -1 after
 * answering. */
static int read_fields(struct http_ctx *c, int patch, int with_scenario, struct fields *f)
{
    static const char *const create_keys[] = { "scenario_id", "name", "enabled", "definition", NULL };
    static const char *const patch_keys[] = { "name", "enabled", "definition", NULL };
    yajl_val body = api_body_object(c, patch || !with_scenario ? patch_keys : create_keys);
    if (!body)
        return -1;
    struct json_err e = { "", "" };
    int rc = 1;
    if ((with_scenario && !patch && api_get_uuid(body, "scenario_id", 1, &f->scenario_id, &e) < 0) ||
        json_get_string(body, "", "name", !patch, &f->name, &e) < 0 ||
        (f->name && api_check_text("name", f->name, NAME_MAX_LEN, 0, &e) < 0) ||
        (rc = json_get_bool(body, "", "enabled", 0, &f->enabled, &e)) < 0) {
        http_reply_invalid(c, &e);
        return -1;
    }
    f->has_enabled = rc == 0;
    yajl_val def = json_get(body, "definition");
    if (!def && !patch) {
        json_err_set(&e, "definition", "definition: required");
        http_reply_invalid(c, &e);
        return -1;
    }
    if (patch && !f->name && !f->has_enabled && !def) {
        http_reply_error(c, 400, "invalid", NULL, "nothing to change: give name, enabled or definition");
        return -1;
    }
    if (def && YAJL_IS_OBJECT(def))
        note_dataset(def, f);
    if (f->dataset_id[0]) {
        f->def = def; /* checked once the dataset's columns are known */
        return 0;
    }
    if (def && !(f->definition = checked_definition(def, &e))) {
        http_reply_invalid(c, &e);
        return -1;
    }
    return 0;
}

static void insert_script(struct http_ctx *c, struct fields *f)
{
    struct store_query *q = store_query_new();
    const char *params[4] = { f->scenario_id, f->name, f->has_enabled && !f->enabled ? "false" : "true",
                              f->definition };
    store_query_add(q, "WITH t AS (INSERT INTO scripts (scenario_id, name, enabled, definition)"
                       " SELECT s.id, $2, $3::boolean, $4::jsonb FROM scenarios s WHERE s.id = $1 RETURNING *),"
                       " v AS (INSERT INTO script_versions (script_id, version, name, enabled, definition)"
                       " SELECT id, version, name, enabled, definition FROM t)"
                       " SELECT " COLS " FROM t JOIN scenarios sc ON sc.id = t.scenario_id", 4, params);
    api_store_call(c, q, on_created);
}

static void update_script(struct http_ctx *c, struct fields *f)
{
    struct store_query *q = store_query_new();
    const char *params[4] = { f->script_id, f->name, f->has_enabled ? (f->enabled ? "true" : "false") : NULL,
                              f->definition };
    store_query_add(q, "UPDATE scripts SET name = coalesce($2, name), enabled = coalesce($3::boolean, enabled),"
                       " definition = coalesce($4::jsonb, definition), version = version + 1,"
                       " updated_at = now() WHERE id = $1", 4, params);
    store_query_add(q, "INSERT INTO script_versions (script_id, version, name, enabled, definition)"
                       " SELECT id, version, name, enabled, definition FROM scripts WHERE id = $1", 1, params);
    store_query_add(q, "SELECT " COLS " FROM scripts t JOIN scenarios sc ON sc.id = t.scenario_id"
                       " WHERE t.id = $1", 1, params);
    api_store_call(c, q, on_got);
}

/* The columns a dataset's rows will have — its version's, else what its
 * collect spec extracts — as a dataset without rows (free with
 * dataset_free), or NULL when they are unknown. */
static struct dataset *dataset_columns(const PGresult *res)
{
    char **cols = NULL;
    int ncols = 0;
    struct dataset *d = NULL;
    struct json_err e;
    if (!PQgetisnull(res, 0, 4)) {
        const char *text = PQgetvalue(res, 0, 4);
        yajl_val a = json_parse(text, strlen(text), 4, &e);
        if (a && YAJL_IS_ARRAY(a)) {
            cols = xcalloc(a->u.array.len + 1, sizeof *cols);
            for (size_t i = 0; i < a->u.array.len; i++)
                if (YAJL_IS_STRING(a->u.array.values[i]))
                    cols[ncols++] = a->u.array.values[i]->u.string;
            d = ds_columns_only(cols, ncols);
            free(cols);
        }
        if (a)
            yajl_tree_free(a);
        return d;
    }
    if (!PQgetisnull(res, 0, 5)) {
        const char *text = PQgetvalue(res, 0, 5);
        yajl_val v = json_parse(text, strlen(text), JSON_MAX_DEPTH, &e);
        struct collect_spec *spec = NULL;
        if (v && collect_spec_parse(v, "collect", &spec, &e) == 0) {
            d = ds_columns_only(spec->cols, spec->ncols);
            collect_spec_free(spec);
        }
        if (v)
            yajl_tree_free(v);
    }
    return d;
}

/* The dataset the definition names, looked up: check the definition with
 * its columns, then write. */
static void on_dataset(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    struct fields *f = http_udata(c);
    if (api_store_failed(c, m))
        return;
    const PGresult *res = r->res[0];
    int parent = PQgetvalue(res, 0, 1)[0] == 't';
    struct json_err e = { "", "" };
    struct dataset *cols = NULL;
    if (parent) { /* else the write answers 404 for the scenario or script */
        if (PQgetvalue(res, 0, 0)[0] != 't')
            json_err_set(&e, "definition.dataset.id", "definition.dataset.id: no dataset with id %s", f->dataset_id);
        else if (PQgetvalue(res, 0, 2)[0] != 't')
            json_err_set(&e, "definition.dataset.id", "definition.dataset.id: dataset %s belongs to another project",
                         f->dataset_id);
        else if (f->version[0] && PQgetvalue(res, 0, 3)[0] != 't')
            json_err_set(&e, "definition.dataset.version", "definition.dataset.version: dataset %s has no version %s",
                         f->dataset_id, f->version);
        else if (!(cols = dataset_columns(res)))
            json_err_set(&e, "definition.dataset.id", "definition.dataset.id: dataset %s has no rows yet and no "
                         "collect spec, so its columns are unknown: upload its rows first", f->dataset_id);
    }
    msg_free(m);
    if (e.field[0]) {
        http_reply_invalid(c, &e);
        return;
    }
    struct script_ds_lent lent = { f->dataset_id, 0, cols };
    if (cols)
        script_datasets_lend(&lent, 1);
    f->definition = parent ? checked_definition(f->def, &e) : NULL;
    script_datasets_lend(NULL, 0);
    dataset_free(cols);
    if (parent && !f->definition) {
        http_reply_invalid(c, &e);
        return;
    }
    if (f->script_id)
        update_script(c, f);
    else
        insert_script(c, f);
}

/* Look the dataset up along with the project of the script's scenario. */
static void lookup_dataset(struct http_ctx *c, struct fields *f)
{
    const char *p[3] = { f->dataset_id, f->script_id ? f->script_id : f->scenario_id,
                         f->version[0] ? f->version : NULL };
    char *sql = xasprintf(
        "SELECT d.id IS NOT NULL, p.found, d.project_id IS NULL OR d.project_id IS NOT DISTINCT FROM p.project_id,"
        " v.version IS NOT NULL, to_json(v.columns)::text, d.collect::text"
        " FROM (SELECT count(*) > 0 AS found, min(sc.project_id::text)::uuid AS project_id FROM %s) p"
        " LEFT JOIN datasets d ON d.id = $1::uuid"
        " LEFT JOIN dataset_versions v ON v.dataset_id = d.id AND v.version = coalesce($3::integer, d.latest_version)",
        f->script_id ? "scripts s JOIN scenarios sc ON sc.id = s.scenario_id WHERE s.id = $2::uuid"
                     : "scenarios sc WHERE sc.id = $2::uuid");
    struct store_query *q = store_query_new();
    store_query_add(q, sql, 3, p);
    free(sql);
    api_store_call(c, q, on_dataset);
}

static void create(struct http_ctx *c, const char *scenario_id)
{
    struct fields *f = xcalloc(1, sizeof *f);
    http_set_udata(c, f, fields_free);
    if (read_fields(c, 0, scenario_id == NULL, f) < 0)
        return;
    if (scenario_id)
        f->scenario_id = scenario_id;
    if (f->dataset_id[0])
        lookup_dataset(c, f);
    else
        insert_script(c, f);
}

static void create_script(struct http_ctx *c)
{
    create(c, NULL);
}

static void create_in_scenario(struct http_ctx *c)
{
    const char *sid = api_path_uuid(c, "id", "scenario");
    if (sid)
        create(c, sid);
}

static void get_script(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "script");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " COLS " FROM scripts t JOIN scenarios sc ON sc.id = t.scenario_id"
                       " WHERE t.id = $1", 1, &id);
    api_store_call(c, q, on_got);
}

static void patch_script(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "script");
    if (!id)
        return;
    struct fields *f = xcalloc(1, sizeof *f);
    http_set_udata(c, f, fields_free);
    f->script_id = id;
    if (read_fields(c, 1, 0, f) < 0)
        return;
    if (f->dataset_id[0])
        lookup_dataset(c, f);
    else
        update_script(c, f);
}

static void on_deleted(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK)
        api_store_error(c, r, NULL);
    else if (PQntuples(r->res[0]) == 0)
        http_reply_error(c, 404, "not_found", "id", "no script with id %s", http_param(c, "id"));
    else
        http_reply(c, 204, NULL, 0);
    msg_free(m);
}

static void delete_script(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "script");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "DELETE FROM scripts WHERE id = $1 RETURNING id", 1, &id);
    api_store_call(c, q, on_deleted);
}

/* ---- lists ---- */

static const char *const SORTS[] = { "created_at", "name", NULL };
static const struct api_list_spec LIST = { BASE_COLS, "scripts t JOIN scenarios sc ON sc.id = t.scenario_id",
                                           SORTS, "created_at", gen_listed };

static void list(struct http_ctx *c, const char *scenario_id)
{
    const char *sid = scenario_id, *pid;
    if ((!sid && api_query_uuid(c, "scenario_id", &sid) < 0) || api_query_uuid(c, "project_id", &pid) < 0)
        return;
    const char *en = http_query(c, "enabled");
    if (en && strcmp(en, "true") && strcmp(en, "false")) {
        http_reply_error(c, 400, "invalid", "enabled", "enabled must be true or false");
        return;
    }
    struct sqlq q;
    if (api_list_begin(c, &LIST, &q) < 0)
        return;
    if (sid)
        sqlq_printf(&q, " AND t.scenario_id = $%d", sqlq_param(&q, sid));
    if (pid)
        sqlq_printf(&q, " AND sc.project_id = $%d", sqlq_param(&q, pid));
    if (en)
        sqlq_printf(&q, " AND t.enabled = $%d::boolean", sqlq_param(&q, en));
    const char *s = http_query(c, "q");
    if (s)
        sqlq_printf(&q, " AND strpos(lower(t.name), lower($%d)) > 0", sqlq_param(&q, s));
    api_list_run(c, &q);
}

static void list_scripts(struct http_ctx *c)
{
    list(c, NULL);
}

static void list_in_scenario(struct http_ctx *c)
{
    const char *sid = api_path_uuid(c, "id", "scenario");
    if (sid)
        list(c, sid);
}

void api_scripts_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/scripts", create_script, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/scripts", list_scripts, 0);
    http_route(r, HTTP_GET, "/v1/scripts/:id", get_script, 0);
    http_route(r, HTTP_PATCH, "/v1/scripts/:id", patch_script, HTTP_JSON_BODY);
    http_route(r, HTTP_DELETE, "/v1/scripts/:id", delete_script, 0);
    http_route(r, HTTP_POST, "/v1/scenarios/:id/scripts", create_in_scenario, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/scenarios/:id/scripts", list_in_scenario, 0);
}
