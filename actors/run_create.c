/* run_create: a run request becomes rows and engine runs — load the
 * definitions (script, scenario's enabled scripts, or an earlier run's
 * snapshot), apply the overrides, read the datasets they name by id (the
 * latest version, or the one a snapshot pinned), validate with the script
 * parser, insert the run, its scripts (the dataset version pinned in each
 * snapshot) and its first event in one transaction, answer, and hand the
 * run to run_manager.c to launch. */
#include "run_manager_int.h"

#include "dataset.h"
#include "json.h"
#include "sbuf.h"
#include "uuid.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCRIPTS 32

/* Columns common to the three loading queries. */
enum { C_SCRIPT_ID, C_NAME, C_VERSION, C_DEFINITION, C_SCENARIO_ID, C_PROJECT_ID, C_RUN_NAME,
       C_KIND, C_PERCENT, C_OVERRIDES, C_RUN_SCRIPT_ID };

static const char SQL_BY_SCRIPT[] =
    "SELECT s.id, s.name, s.version, s.definition::text, sc.id, sc.project_id, s.name"
    " FROM scripts s JOIN scenarios sc ON sc.id = s.scenario_id WHERE s.id = $1";
static const char SQL_BY_SCENARIO[] =
    "SELECT s.id, s.name, s.version, s.definition::text, sc.id, sc.project_id, sc.name"
    " FROM scenarios sc LEFT JOIN scripts s ON s.scenario_id = sc.id AND s.enabled"
    " WHERE sc.id = $1 ORDER BY s.created_at, s.id";
static const char SQL_BY_RUN[] =
    "SELECT rs.script_id, rs.name, rs.version, rs.definition::text, r.scenario_id, r.project_id,"
    " r.name, r.kind, r.percent, r.overrides::text, r.script_id"
    " FROM runs r JOIN run_scripts rs ON rs.run_id = r.id WHERE r.id = $1 ORDER BY rs.position";

static void creating_free(struct creating *c)
{
    if (c->req)
        msg_free(&c->req->m);
    rm_run_free(c->run);
    for (int i = 0; i < c->ndefs; i++)
        free(c->defs[i]);
    free(c->defs);
    PQclear(c->loaded);
    for (int i = 0; i < c->nlent; i++) {
        free((char *)c->lent[i].id);
        dataset_free((struct dataset *)c->lent[i].rows);
    }
    free(c->lent);
    free(c);
}

/* Answer the request and drop the attempt. */
static void fail(struct creating *c, struct rm_reply *rep)
{
    LIST_REMOVE(c, link);
    rm_answer(&c->req->m, rep);
    c->req = NULL;
    creating_free(c);
}

static void store_fail(struct creating *c, const struct store_result *res)
{
    int status = store_status_http(res->status);
    fail(c, rm_reply_new(status, store_status_code(res->status), NULL, "%s",
                         res->status == STORE_EFAILED ? "internal database error"
                                                      : (res->error ? res->error : "database error")));
}

void rm_create_begin(struct rm *rm, struct rm_create *req)
{
    struct creating *c = xcalloc(1, sizeof *c);
    c->req = req;
    LIST_INSERT_HEAD(&rm->creates, c, link);
    struct store_query *q = store_query_new();
    if (req->restart_of[0]) {
        const char *p[1] = { req->restart_of };
        store_query_add(q, SQL_BY_RUN, 1, p);
    } else if (req->scenario_id[0]) {
        const char *p[1] = { req->scenario_id };
        store_query_add(q, SQL_BY_SCENARIO, 1, p);
    } else {
        const char *p[1] = { req->script_id };
        store_query_add(q, SQL_BY_SCRIPT, 1, p);
    }
    c->corr = actor_request(rm->self, rm->cfg.store, &q->m);
    if (!c->corr) {
        msg_free(&q->m);
        fail(c, rm_reply_new(503, "database_unavailable", NULL, "too many requests waiting for the database"));
    }
}

/* The definition with the request's overrides merged in (a new string),
 * or NULL with e set. */
static char *effective_definition(const char *def, const char *overrides, struct json_err *e)
{
    if (!overrides)
        return xstrdup(def);
    yajl_val base = json_parse(def, strlen(def), JSON_MAX_DEPTH, e);
    if (!base)
        return NULL;
    yajl_val patch = json_parse(overrides, strlen(overrides), JSON_MAX_DEPTH, e);
    if (!patch) {
        yajl_tree_free(base);
        return NULL;
    }
    yajl_gen g = json_gen_new();
    json_gen_merged(g, base, patch);
    yajl_tree_free(base);
    yajl_tree_free(patch);
    return json_gen_finish(g, NULL);
}

static const char *pg_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* The dataset a definition (JSON text) names by id (script_dataset_ref). */
static int dataset_ref(const char *def, char *id, size_t idlen, long *version)
{
    struct json_err e;
    yajl_val root = json_parse(def, strlen(def), JSON_MAX_DEPTH, &e);
    int found = root && script_dataset_ref(root, id, idlen, version);
    if (root)
        yajl_tree_free(root);
    return found;
}

/* The snapshot of a definition that read dataset version `version`: the
 * version pinned, so the run's record says which rows it had and a
 * restart reads the same ones (a new string). */
static char *pin_version(const char *def, long version)
{
    char patch[64];
    snprintf(patch, sizeof patch, "{\"dataset\":{\"version\":%ld}}", version);
    struct json_err e;
    yajl_val base = json_parse(def, strlen(def), JSON_MAX_DEPTH, &e);
    yajl_val p = json_parse(patch, strlen(patch), 4, &e);
    yajl_gen g = json_gen_new();
    json_gen_merged(g, base, p);
    yajl_tree_free(base);
    yajl_tree_free(p);
    return json_gen_finish(g, NULL);
}

static void build_and_insert(struct rm *rm, struct creating *c, const PGresult *res)
{
    struct rm_create *req = c->req;
    int restart = req->restart_of[0] != 0, scenario = req->scenario_id[0] != 0;
    int n = PQntuples(res);
    if (restart)
        scenario = strcmp(PQgetvalue(res, 0, C_KIND), "scenario") == 0;
    struct prun *r = xcalloc(1, sizeof *r);
    c->run = r;
    STAILQ_INIT(&r->writes);
    uuid_v4(r->id);
    r->scenario = scenario;
    r->percent = req->percent > 0 ? req->percent
                 : restart        ? atof(PQgetvalue(res, 0, C_PERCENT))
                                  : 100;
    r->st = RMS_QUEUED;
    r->n = n;
    r->scripts = xcalloc((size_t)n, sizeof *r->scripts);
    struct sbuf rows;
    sbuf_init(&rows, 4096);
    sbuf_adds(&rows, "[");
    /* the datasets read for this run, for the parses below */
    script_datasets_lend(c->lent, c->nlent);
    for (int i = 0; i < n; i++) {
        struct pscript *ps = &r->scripts[i];
        snprintf(ps->script_id, sizeof ps->script_id, "%s", PQgetvalue(res, i, C_SCRIPT_ID));
        snprintf(ps->name, sizeof ps->name, "%s", PQgetvalue(res, i, C_NAME));
        struct json_err e = { "", "" };
        const char *def = c->defs[i];
        if (script_parse(def, strlen(def), &ps->sc, &e) < 0) {
            script_datasets_lend(NULL, 0);
            sbuf_deinit(&rows);
            if (req->overrides && !restart)
                fail(c, rm_reply_new(400, "invalid", "overrides", "with the overrides, script %s: %s",
                                     ps->name, e.message));
            else
                fail(c, rm_reply_new(409, "invalid_definition", "definition",
                                     "script %s cannot run: %s", ps->name, e.message));
            return;
        }
        const struct script_dataset *ds = ps->sc->dataset;
        char *pinned = ds && ds->id ? pin_version(def, ds->version) : NULL;
        char *name = json_quote(ps->name);
        sbuf_printf(&rows, "%s{\"script_id\":\"%s\",\"position\":%d,\"name\":%s,\"version\":%s,\"definition\":%s",
                    i ? "," : "", ps->script_id, i, name, PQgetvalue(res, i, C_VERSION), pinned ? pinned : def);
        if (pinned)
            sbuf_printf(&rows, ",\"dataset_id\":\"%s\",\"dataset_version\":%ld", ds->id, ds->version);
        sbuf_adds(&rows, "}");
        free(name);
        free(pinned);
    }
    script_datasets_lend(NULL, 0);
    sbuf_adds(&rows, "]");

    char pct[32];
    snprintf(pct, sizeof pct, "%.17g", r->percent);
    const char *overrides = restart ? pg_str(res, 0, C_OVERRIDES) : req->overrides;
    const char *script_id = restart ? pg_str(res, 0, C_RUN_SCRIPT_ID)
                            : scenario ? NULL : req->script_id;
    const char *p1[11] = { r->id, scenario ? "scenario" : "script", pg_str(res, 0, C_PROJECT_ID),
                           pg_str(res, 0, C_SCENARIO_ID), script_id, PQgetvalue(res, 0, C_RUN_NAME),
                           pct, overrides, req->origin[0] ? req->origin : "api",
                           restart ? req->restart_of : NULL, rm->owner };
    struct store_query *q = store_query_new();
    store_query_add(q, "INSERT INTO runs (id, kind, project_id, scenario_id, script_id, name, percent,"
                       " overrides, origin, restarted_from, owner, heartbeat_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, now())", 11, p1);
    const char *p2[2] = { r->id, rows.s };
    store_query_add(q, "INSERT INTO run_scripts (run_id, script_id, position, name, version, definition,"
                       " dataset_id, dataset_version)"
                       " SELECT $1, x.script_id, x.position, x.name, x.version, x.definition, x.dataset_id,"
                       " x.dataset_version FROM jsonb_to_recordset($2::jsonb) AS x(script_id uuid, position integer,"
                       " name text, version integer, definition jsonb, dataset_id uuid, dataset_version integer)",
                    2, p2);
    sbuf_deinit(&rows);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "origin", p1[8]);
    json_gen_kv_double(g, "percent", r->percent, 6);
    if (restart)
        json_gen_kv_str(g, "restarted_from", req->restart_of);
    yajl_gen_map_close(g);
    char *detail = json_gen_finish(g, NULL);
    const char *p3[2] = { r->id, detail };
    store_query_add(q, "INSERT INTO run_events (run_id, kind, detail) VALUES ($1, 'queued', $2::jsonb)", 2, p3);
    free(detail);
    c->stage = 1;
    c->corr = actor_request(rm->self, rm->cfg.store, &q->m);
    if (!c->corr) {
        msg_free(&q->m);
        fail(c, rm_reply_new(503, "database_unavailable", NULL, "too many requests waiting for the database"));
    }
}

/* Columns of the datasets query. */
enum { D_ID, D_EXISTS, D_VISIBLE, D_VERSION, D_CONTENT, D_PINNED };

/* Stage 2: the datasets the definitions name, read; parse each once and
 * lend them to the scripts' parses. */
static void on_datasets(struct rm *rm, struct creating *c, const PGresult *res)
{
    int n = PQntuples(res);
    c->lent = xcalloc((size_t)(n ? n : 1), sizeof *c->lent);
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(res, i, D_ID);
        long pinned = PQgetisnull(res, i, D_PINNED) ? 0 : atol(PQgetvalue(res, i, D_PINNED));
        const char *why = NULL;
        char msg[200];
        if (PQgetvalue(res, i, D_EXISTS)[0] != 't')
            why = "no dataset with that id";
        else if (PQgetvalue(res, i, D_VISIBLE)[0] != 't')
            why = "the dataset belongs to another project";
        else if (PQgetisnull(res, i, D_VERSION) && pinned) {
            snprintf(msg, sizeof msg, "the dataset has no version %ld", pinned);
            why = msg;
        } else if (PQgetisnull(res, i, D_VERSION))
            why = "the dataset has no rows yet: upload or collect them first";
        if (why) {
            /* name the script that needs it */
            const char *script = "";
            for (int k = 0; k < c->ndefs; k++) {
                char rid[UUID_STR_LEN];
                long v;
                if (c->defs[k] && dataset_ref(c->defs[k], rid, sizeof rid, &v) && strcmp(rid, id) == 0 &&
                    v == pinned) {
                    script = PQgetvalue(c->loaded, k, C_NAME);
                    break;
                }
            }
            fail(c, rm_reply_new(409, "invalid_definition", "definition", "script %s cannot run: dataset.id: %s: %s",
                                 script, id, why));
            return;
        }
        char err[256];
        struct dataset *d = NULL;
        const char *content = PQgetvalue(res, i, D_CONTENT);
        if (dataset_parse_json(content, strlen(content), &d, err, sizeof err) < 0) {
            fail(c, rm_reply_new(500, "internal", NULL, "dataset %s: the stored rows cannot be read: %s", id, err));
            return;
        }
        c->lent[c->nlent].id = xstrdup(id);
        c->lent[c->nlent].version = atol(PQgetvalue(res, i, D_VERSION));
        c->lent[c->nlent].rows = d;
        c->nlent++;
    }
    build_and_insert(rm, c, c->loaded);
}

/* Stage 0: the definitions are loaded. Apply the overrides; when they
 * name datasets by id, read those first (stage 2), else go on. */
static void prepare(struct rm *rm, struct creating *c, struct store_result *sr)
{
    struct rm_create *req = c->req;
    const PGresult *res = sr->res[0];
    int restart = req->restart_of[0] != 0, scenario = req->scenario_id[0] != 0;
    const char *idfield = restart ? "id" : scenario ? "scenario_id" : "script_id";
    int n = PQntuples(res);
    if (n == 0) {
        fail(c, rm_reply_new(404, "not_found", idfield, "no %s with id %s",
                             restart ? "run" : scenario ? "scenario" : "script",
                             restart ? req->restart_of : scenario ? req->scenario_id : req->script_id));
        return;
    }
    if (PQgetisnull(res, 0, C_SCRIPT_ID)) {
        fail(c, rm_reply_new(409, "conflict", "scenario_id", "the scenario has no enabled scripts"));
        return;
    }
    if (n > MAX_SCRIPTS) {
        fail(c, rm_reply_new(409, "conflict", idfield, "a run takes at most %d scripts (this one has %d)",
                             MAX_SCRIPTS, n));
        return;
    }
    c->defs = xcalloc((size_t)n, sizeof *c->defs);
    c->ndefs = n;
    struct sbuf refs = { 0 };
    int nrefs = 0;
    for (int i = 0; i < n; i++) {
        struct json_err e = { "", "" };
        /* a restart runs the snapshot as it ran: its overrides are in it */
        c->defs[i] = effective_definition(PQgetvalue(res, i, C_DEFINITION), restart ? NULL : req->overrides, &e);
        if (!c->defs[i]) {
            sbuf_deinit(&refs);
            if (req->overrides && !restart)
                fail(c, rm_reply_new(400, "invalid", "overrides", "with the overrides, script %s: %s",
                                     PQgetvalue(res, i, C_NAME), e.message));
            else
                fail(c, rm_reply_new(409, "invalid_definition", "definition", "script %s cannot run: %s",
                                     PQgetvalue(res, i, C_NAME), e.message));
            return;
        }
        char id[UUID_STR_LEN];
        long version;
        if (!dataset_ref(c->defs[i], id, sizeof id, &version))
            continue; /* the parse reports a bad one */
        char one[96];
        snprintf(one, sizeof one, "{\"id\":\"%s\",\"pinned\":%ld}", id, version);
        if (refs.s && strstr(refs.s, one))
            continue;
        sbuf_printf(&refs, "%s%s", nrefs++ ? "," : "[", one);
    }
    if (!nrefs) {
        build_and_insert(rm, c, res);
        return;
    }
    sbuf_adds(&refs, "]");
    c->loaded = sr->res[0]; /* kept for build_and_insert; the result message frees the rest */
    sr->res[0] = NULL;
    const char *p[2] = { refs.s, pg_str(c->loaded, 0, C_PROJECT_ID) };
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT x.id, d.id IS NOT NULL, d.project_id IS NULL OR d.project_id = $2::uuid,"
                       " v.version, v.content::text, nullif(x.pinned, 0)"
                       " FROM json_to_recordset($1::json) AS x(id uuid, pinned integer)"
                       " LEFT JOIN datasets d ON d.id = x.id"
                       " LEFT JOIN dataset_versions v ON v.dataset_id = d.id"
                       "  AND v.version = coalesce(nullif(x.pinned, 0), d.latest_version)", 2, p);
    sbuf_deinit(&refs);
    c->stage = 2;
    c->corr = actor_request(rm->self, rm->cfg.store, &q->m);
    if (!c->corr) {
        msg_free(&q->m);
        fail(c, rm_reply_new(503, "database_unavailable", NULL, "too many requests waiting for the database"));
    }
}

int rm_create_result(struct rm *rm, struct store_result *res)
{
    struct creating *c;
    LIST_FOREACH(c, &rm->creates, link)
        if (c->corr == res->m.corr)
            break;
    if (!c)
        return 0;
    c->corr = 0;
    if (res->status != STORE_OK) {
        store_fail(c, res);
        return 1;
    }
    if (c->stage == 0) {
        prepare(rm, c, res);
        return 1;
    }
    if (c->stage == 2) {
        on_datasets(rm, c, res->res[0]);
        return 1;
    }
    /* inserted: answer, then start it */
    struct prun *r = c->run;
    c->run = NULL;
    struct rm_reply *rep = rm_reply_new(201, NULL, NULL, "created");
    snprintf(rep->run_id, sizeof rep->run_id, "%s", r->id);
    LIST_REMOVE(c, link);
    rm_answer(&c->req->m, rep);
    c->req = NULL;
    creating_free(c);
    rm_launch(rm, r);
    return 1;
}

void rm_create_abort_all(struct rm *rm)
{
    while (!LIST_EMPTY(&rm->creates)) {
        struct creating *c = LIST_FIRST(&rm->creates);
        fail(c, rm_reply_new(503, "shutting_down", NULL, "the server is shutting down"));
    }
}
