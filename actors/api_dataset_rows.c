/* api_dataset_rows: a dataset's rows — PUT /v1/datasets/{id}/rows uploads
 * CSV or JSON as a new version, GET .../rows?version= pages through one,
 * GET .../versions lists them, newest first (docs/datasets.md). */
#include "api.h"

#include "collector.h"
#include "dataset.h"
#include "ds_rows.h"
#include "tmpl.h"
#include "xmalloc.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_DEFAULT 100
#define ROWS_MAX 1000
#define VERSIONS_DEFAULT 50
#define VERSIONS_MAX 500

static void on_uploaded(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK)
        api_store_error(c, r, NULL);
    else if (PQntuples(r->res[0]) == 0)
        http_reply_error(c, 404, "not_found", "id", "no dataset with id %s", http_param(c, "id"));
    else
        http_reply(c, 201, PQgetvalue(r->res[0], 0, 0), (size_t)PQgetlength(r->res[0], 0, 0));
    msg_free(m);
}

/* The body's rows: {"format": "csv" | "json", "content": text} or
 * {"content": [objects]}. A parsed dataset, or NULL after answering. */
static struct dataset *read_upload(struct http_ctx *c)
{
    static const char *const keys[] = { "format", "content", NULL };
    yajl_val body = api_body_object(c, keys);
    if (!body)
        return NULL;
    struct json_err e = { "", "" };
    const char *format = NULL;
    if (json_get_string(body, "", "format", 0, &format, &e) < 0) {
        http_reply_invalid(c, &e);
        return NULL;
    }
    if (format && strcmp(format, "csv") && strcmp(format, "json")) {
        http_reply_error(c, 400, "invalid", "format", "format: \"%.20s\" is not one of csv, json", format);
        return NULL;
    }
    yajl_val content = json_get(body, "content");
    char err[256];
    struct dataset *d = NULL;
    int rc;
    if (!content) {
        http_reply_error(c, 400, "invalid", "content", "content: required: the rows as CSV or JSON text, "
                         "or an array of objects");
        return NULL;
    }
    if (YAJL_IS_ARRAY(content)) {
        if (format && strcmp(format, "json")) {
            http_reply_error(c, 400, "invalid", "format", "format: an array of objects is json");
            return NULL;
        }
        yajl_gen g = json_gen_new();
        json_gen_value(g, content);
        size_t len;
        char *text = json_gen_finish(g, &len);
        rc = dataset_parse_json(text, len, &d, err, sizeof err);
        free(text);
    } else if (YAJL_IS_STRING(content)) {
        const char *s = content->u.string;
        size_t len = strlen(s);
        rc = !format ? dataset_parse(s, len, &d, err, sizeof err)
             : !strcmp(format, "csv") ? dataset_parse_csv(s, len, &d, err, sizeof err)
                                      : dataset_parse_json(s, len, &d, err, sizeof err);
    } else {
        http_reply_error(c, 400, "invalid", "content", "content: expected CSV or JSON text, or an array of "
                         "objects, got %s", json_type_name(content));
        return NULL;
    }
    if (rc < 0) {
        http_reply_error(c, 400, "invalid", "content", "content: %s", err);
        return NULL;
    }
    if (d->nrows == 0) {
        http_reply_error(c, 400, "invalid", "content", "content: no rows (a header row alone is not a dataset)");
        dataset_free(d);
        return NULL;
    }
    for (int i = 0; i < d->ncols; i++) {
        if (!tmpl_valid_name(d->cols[i], strlen(d->cols[i]))) {
            http_reply_error(c, 400, "invalid", "content", "content: column \"%.64s\" cannot be a variable "
                             "(a letter or _, then letters, digits, _ . -)", d->cols[i]);
            dataset_free(d);
            return NULL;
        }
    }
    return d;
}

static void upload_rows(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "dataset");
    if (!id)
        return;
    struct dataset *d = read_upload(c);
    if (!d)
        return;
    size_t len;
    char *content = ds_rows_of(d, &len);
    char *cols = ds_cols_json(d->cols, d->ncols);
    char nrows[24], nbytes[24];
    snprintf(nrows, sizeof nrows, "%ld", d->nrows);
    snprintf(nbytes, sizeof nbytes, "%zu", len);
    dataset_free(d);
    const char *p[6] = { id, cols, nrows, nbytes, content, "upload" };
    struct store_query *q = store_query_new();
    store_query_add(q, DS_INSERT_VERSION_SQL, 6, p);
    free(content);
    free(cols);
    api_store_call(c, q, on_uploaded);
}

struct page {
    long limit, offset;
};

static void on_rows(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    const struct page *pg = http_udata(c);
    const char *version = http_query(c, "version");
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else if (PQgetvalue(r->res[0], 0, 0)[0] != 't') {
        http_reply_error(c, 404, "not_found", "id", "no dataset with id %s", http_param(c, "id"));
    } else if (PQntuples(r->res[1]) == 0) {
        if (version)
            http_reply_error(c, 404, "not_found", "version", "the dataset has no version %s", version);
        else
            http_reply_error(c, 404, "not_found", "version", "the dataset has no rows yet: upload or collect them");
    } else {
        const PGresult *res = r->res[1];
        yajl_gen g = json_gen_new();
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "dataset_id", http_param(c, "id"));
        json_gen_cstr(g, "version");
        api_gen_cell_num(g, res, 0, 0);
        json_gen_cstr(g, "columns");
        api_gen_cell_json(g, res, 0, 1);
        json_gen_cstr(g, "total");
        api_gen_cell_num(g, res, 0, 2);
        json_gen_kv_int(g, "offset", pg->offset);
        json_gen_kv_int(g, "limit", pg->limit);
        json_gen_cstr(g, "rows");
        api_gen_cell_json(g, res, 0, 3);
        yajl_gen_map_close(g);
        http_reply_doc(c, 200, g);
    }
    msg_free(m);
}

static void get_rows(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "dataset");
    struct page *pg = xcalloc(1, sizeof *pg);
    http_set_udata(c, pg, free);
    long version;
    if (!id || api_query_long(c, "version", 1, INT_MAX, 0, &version) < 0 ||
        api_query_long(c, "limit", 1, ROWS_MAX, ROWS_DEFAULT, &pg->limit) < 0 ||
        api_query_long(c, "offset", 0, LONG_MAX, 0, &pg->offset) < 0)
        return;
    char ver[24], off[24], lim[24];
    snprintf(ver, sizeof ver, "%ld", version);
    snprintf(off, sizeof off, "%ld", pg->offset);
    snprintf(lim, sizeof lim, "%ld", pg->limit);
    const char *p[4] = { id, version ? ver : NULL, off, lim };
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT EXISTS (SELECT 1 FROM datasets WHERE id = $1)", 1, p);
    /* the page is cut out by PostgreSQL, not on the API's loop */
    store_query_add(q, "SELECT v.version, to_json(v.columns)::text, v.row_count,"
                       " (SELECT coalesce(json_agg(x.e ORDER BY x.i), '[]'::json) FROM"
                       "  (SELECT e, i FROM json_array_elements(v.content) WITH ORDINALITY AS a(e, i)"
                       "   ORDER BY i OFFSET $3::bigint LIMIT $4::bigint) x)::text"
                       " FROM dataset_versions v WHERE v.dataset_id = $1 AND v.version = coalesce($2::integer,"
                       "  (SELECT latest_version FROM datasets WHERE id = $1))", 4, p);
    api_store_call(c, q, on_rows);
}

static void gen_version(yajl_gen g, const PGresult *res, int row)
{
    api_gen_cell_json(g, res, row, 1);
}

static void list_versions(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "dataset");
    long limit, cursor;
    if (!id || api_query_long(c, "limit", 1, VERSIONS_MAX, VERSIONS_DEFAULT, &limit) < 0 ||
        api_query_long(c, "cursor", 1, INT_MAX, 0, &cursor) < 0)
        return;
    char lim[24], cur[24];
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    snprintf(cur, sizeof cur, "%ld", cursor);
    const char *p[3] = { id, cursor ? cur : NULL, lim };
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT EXISTS (SELECT 1 FROM datasets WHERE id = $1)", 1, p);
    store_query_add(q, "SELECT v.version, " DS_VERSION_JSON("v") " FROM dataset_versions v"
                       " WHERE v.dataset_id = $1 AND ($2::integer IS NULL OR v.version < $2::integer)"
                       " ORDER BY v.version DESC LIMIT $3::integer", 3, p);
    api_child_page(c, q, "dataset", (int)limit, gen_version);
}

void api_dataset_rows_register(struct router *r)
{
    http_route(r, HTTP_PUT, "/v1/datasets/:id/rows", upload_rows, HTTP_JSON_BODY);
    http_route(r, HTTP_GET, "/v1/datasets/:id/rows", get_rows, 0);
    http_route(r, HTTP_GET, "/v1/datasets/:id/versions", list_versions, 0);
}
