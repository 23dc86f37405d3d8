/* api_common: helpers shared by the REST route files — the route table,
 * store calls and their errors, cells as JSON, request checks. Lists and
 * pages are in api_list.c. */
#include "api.h"

#include "hex.h"
#include "uuid.h"
#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_register_all(struct router *r)
{
    api_health_register(r);
    api_meta_register(r);
    api_projects_register(r);
    api_import_register(r);
    api_scenarios_register(r);
    api_scripts_register(r);
    api_script_versions_register(r);
    api_compare_register(r); /* before api_runs: /v1/runs/compare is not an id */
    api_results_register(r);
    api_runs_register(r);
    api_export_register(r);
    api_schedules_register(r);
    api_schedule_fires_register(r);
    api_datasets_register(r);
    api_dataset_rows_register(r);
    api_moniflux_register(r);
    api_ui_register(r);
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

int api_store_failed(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status == STORE_OK)
        return 0;
    api_store_error(c, r, NULL);
    msg_free(m);
    return 1;
}

int api_store_call(struct http_ctx *c, struct store_query *q, http_reply_cb fn)
{
    if (http_call(c, http_peer(c, HTTP_PEER_STORE), &q->m, fn) < 0) {
        msg_free(&q->m);
        http_reply_error(c, 503, "database_unavailable", NULL, "the database is not reachable");
        return -1;
    }
    return 0;
}

int api_runs_call(struct http_ctx *c, msg_t *m, http_reply_cb fn)
{
    if (http_call(c, http_peer(c, HTTP_PEER_RUNS), m, fn) < 0) {
        msg_free(m);
        http_reply_error(c, 503, "unavailable", NULL, "the run manager is not accepting requests");
        return -1;
    }
    return 0;
}

void api_rm_error(struct http_ctx *c, const struct rm_reply *rep)
{
    http_reply_error(c, rep->status, rep->code[0] ? rep->code : "error",
                     rep->field[0] ? rep->field : NULL, "%s", rep->message);
}

int api_is_uuid(const char *s)
{
    return uuid_valid(s);
}

void api_gen_cell_str(yajl_gen g, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        yajl_gen_null(g);
    else
        json_gen_cstr(g, PQgetvalue(res, row, col));
}

void api_gen_cell_num(yajl_gen g, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        yajl_gen_null(g);
        return;
    }
    const char *v = PQgetvalue(res, row, col);
    if (strcmp(v, "NaN") == 0 || strstr(v, "Infinity"))
        yajl_gen_null(g);
    else
        yajl_gen_number(g, v, strlen(v));
}

void api_gen_cell_bool(yajl_gen g, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        yajl_gen_null(g);
    else
        yajl_gen_bool(g, PQgetvalue(res, row, col)[0] == 't');
}

void api_gen_cell_json(yajl_gen g, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        yajl_gen_null(g);
        return;
    }
    const char *text = PQgetvalue(res, row, col);
    struct json_err e;
    yajl_val v = json_parse(text, strlen(text), JSON_MAX_DEPTH + 8, &e);
    json_gen_value(g, v); /* NULL (unparseable: cannot happen for jsonb) -> null */
    if (v)
        yajl_tree_free(v);
}

/* ---- request checks ---- */

yajl_val api_body_object(struct http_ctx *c, const char *const *allowed)
{
    yajl_val body = http_body(c);
    struct json_err e = { "", "" };
    if (!YAJL_IS_OBJECT(body)) {
        json_err_set(&e, "", "the body must be a JSON object");
        http_reply_invalid(c, &e);
        return NULL;
    }
    if (json_check_keys(body, "", allowed, &e) < 0) {
        http_reply_invalid(c, &e);
        return NULL;
    }
    return body;
}

int api_check_text(const char *field, const char *s, size_t max, int allow_empty, struct json_err *e)
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
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 && ch != '\t' && !(allow_empty && (ch == '\n' || ch == '\r'))) {
            json_err_set(e, field, "%s must not contain control characters", field);
            return -1;
        }
    }
    return 0;
}

int api_get_uuid(yajl_val obj, const char *key, int required, const char **out, struct json_err *e)
{
    int rc = json_get_string(obj, "", key, required, out, e);
    if (rc != 0)
        return rc;
    if (!uuid_valid(*out)) {
        json_err_set(e, key, "%s: expected a UUID", key);
        return -1;
    }
    return 0;
}

int api_query_uuid(struct http_ctx *c, const char *key, const char **out)
{
    *out = http_query(c, key);
    if (*out && !uuid_valid(*out)) {
        http_reply_error(c, 400, "invalid", key, "%s: expected a UUID", key);
        return -1;
    }
    return 0;
}

int api_query_long(struct http_ctx *c, const char *key, long min, long max, long dflt, long *out)
{
    const char *v = http_query(c, key);
    *out = dflt;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < min || n > max) {
        http_reply_error(c, 400, "invalid", key, "%s must be an integer %ld..%ld", key, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

const char *api_path_uuid(struct http_ctx *c, const char *param, const char *what)
{
    const char *id = http_param(c, param);
    if (!uuid_valid(id)) {
        http_reply_error(c, 404, "not_found", param, "no %s with id %s (not a UUID)", what, id ? id : "");
        return NULL;
    }
    return id;
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int api_is_timestamp(const char *s)
{
    /* YYYY-MM-DD */
    if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return 0;
    int mon = atoi(s + 5), day = atoi(s + 8);
    if (mon < 1 || mon > 12 || day < 1 || day > 31)
        return 0;
    s += 10;
    if (!*s)
        return 1;
    /* THH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    if ((*s != 'T' && *s != 't' && *s != ' ') || !digits(s + 1, 2) || s[3] != ':' || !digits(s + 4, 2) ||
        s[6] != ':' || !digits(s + 7, 2))
        return 0;
    if (atoi(s + 1) > 23 || atoi(s + 4) > 59 || atoi(s + 7) > 60)
        return 0;
    s += 9;
    if (*s == '.') {
        s++;
        int n = 0;
        while (isdigit((unsigned char)*s) && n < 9) {
            s++;
            n++;
        }
        if (!n)
            return 0;
    }
    if ((*s == 'Z' || *s == 'z') && !s[1])
        return 1;
    return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2) && !s[6] &&
           atoi(s + 1) <= 23 && atoi(s + 4) <= 59;
}
