/* api_common: helpers shared by the REST route files. */
#include "api.h"

#include <ctype.h>
#include <string.h>

void api_register_all(struct router *r)
{
    api_health_register(r);
    api_projects_register(r);
}

void api_store_error(struct http_ctx *c, const struct store_result *res, const char *conflict_field)
{
    int status = store_status_http(res->status);
    const char *msg = res->error ? res->error : "database error";
    if (res->status == STORE_ECONFLICT)
        http_reply_error(c, status, "conflict", conflict_field, "%s already exists",
                         conflict_field ? conflict_field : "the resource");
    else if (res->status == STORE_EFAILED)
        http_reply_error(c, status, store_status_code(res->status), NULL, "internal database error");
    else
        http_reply_error(c, status, store_status_code(res->status), NULL, "%s", msg);
}

int api_store_call(struct http_ctx *c, struct store_query *q, http_reply_fn fn)
{
    if (http_call(c, http_peer(c, HTTP_PEER_STORE), &q->m, fn) < 0) {
        msg_free(&q->m);
        http_reply_error(c, 503, "database_unavailable", NULL, "the database is not reachable");
        return -1;
    }
    return 0;
}

int api_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

void api_gen_cell_str(yajl_gen g, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        yajl_gen_null(g);
    else
        json_gen_cstr(g, PQgetvalue(res, row, col));
}
