/* api_script_versions: /v1/scripts/:id/versions — every version a script
 * has had (newest first, at most VERSIONS_MAX), and one version with its
 * definition. Versions are written by api_scripts.c with each change. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSIONS_MAX 1000

static void on_versions(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else if (PQgetvalue(r->res[0], 0, 0)[0] != 't') {
        http_reply_error(c, 404, "not_found", "id", "no script with id %s", http_param(c, "id"));
    } else {
        const PGresult *res = r->res[1];
        int one = http_param(c, "version") != NULL;
        if (one && PQntuples(res) == 0) {
            http_reply_error(c, 404, "not_found", "version", "the script has no version %s",
                             http_param(c, "version"));
            msg_free(m);
            return;
        }
        yajl_gen g = json_gen_new();
        if (!one) {
            yajl_gen_map_open(g);
            json_gen_cstr(g, "items");
            yajl_gen_array_open(g);
        }
        for (int i = 0; i < PQntuples(res); i++) {
            yajl_gen_map_open(g);
            json_gen_cstr(g, "version");
            api_gen_cell_num(g, res, i, 0);
            json_gen_cstr(g, "name");
            api_gen_cell_str(g, res, i, 1);
            json_gen_cstr(g, "enabled");
            api_gen_cell_bool(g, res, i, 2);
            json_gen_cstr(g, "created_at");
            api_gen_cell_str(g, res, i, 3);
            if (one) {
                json_gen_cstr(g, "definition");
                api_gen_cell_json(g, res, i, 4);
            }
            yajl_gen_map_close(g);
        }
        if (!one) {
            yajl_gen_array_close(g);
            yajl_gen_map_close(g);
        }
        http_reply_doc(c, 200, g);
    }
    msg_free(m);
}

static void versions(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "script");
    if (!id)
        return;
    const char *v = http_param(c, "version");
    if (v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || end == v || n < 1 || n > 1000000000) {
            http_reply_error(c, 404, "not_found", "version", "no version %s (versions are 1, 2, ...)", v);
            return;
        }
    }
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT EXISTS (SELECT 1 FROM scripts WHERE id = $1)", 1, &id);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", VERSIONS_MAX);
    const char *p[2] = { id, v ? v : lim };
    if (v)
        store_query_add(q, "SELECT version, name, enabled, " API_TS("created_at") ", definition::text"
                           " FROM script_versions WHERE script_id = $1 AND version = $2::integer", 2, p);
    else
        store_query_add(q, "SELECT version, name, enabled, " API_TS("created_at")
                           " FROM script_versions WHERE script_id = $1 ORDER BY version DESC"
                           " LIMIT $2::integer", 2, p);
    api_store_call(c, q, on_versions);
}

void api_script_versions_register(struct router *r)
{
    http_route(r, HTTP_GET, "/v1/scripts/:id/versions", versions, 0);
    http_route(r, HTTP_GET, "/v1/scripts/:id/versions/:version", versions, 0);
}
