/* api: the REST routes served by http_front, one file per resource
 * (api_health.c, api_projects.c, api_scenarios.c, api_scripts.c,
 * api_runs.c, api_results.c, api_meta.c, api_datasets.c, ...), plus helpers they share:
 * errors from the store and the run manager, JSON body checks, and lists
 * with keyset pagination, filters and sorting. */
#ifndef STAMPEDE_API_H
#define STAMPEDE_API_H

#include "http_front.h"
#include "run_manager.h"
#include "sqlq.h"
#include "store.h"

void api_register_all(struct router *r);

void api_health_register(struct router *r);
void api_projects_register(struct router *r);
void api_scenarios_register(struct router *r);
void api_scripts_register(struct router *r);
void api_script_versions_register(struct router *r);
void api_runs_register(struct router *r);
void api_results_register(struct router *r);
void api_export_register(struct router *r);
void api_compare_register(struct router *r);
void api_meta_register(struct router *r);
void api_import_register(struct router *r);
void api_schedules_register(struct router *r);
void api_schedule_fires_register(struct router *r);
void api_datasets_register(struct router *r);
void api_dataset_rows_register(struct router *r);
void api_moniflux_register(struct router *r);
void api_ui_register(struct router *r);

/* Answer a failed store_result with its HTTP status and a JSON error;
 * conflict_field names the field a unique violation is about. */
void api_store_error(struct http_ctx *c, const struct store_result *res, const char *conflict_field);
/* Send a query to the store; on failure to send, answer 503 and free q.
 * Returns 0 when the reply callback will run. */
int api_store_call(struct http_ctx *c, struct store_query *q, http_reply_cb fn);
/* For a store reply handler: 0 when the query went through; else the error
 * is answered, m freed, and 1 returned (`if (api_store_failed(c, m)) return;`). */
int api_store_failed(struct http_ctx *c, msg_t *m);
/* Send a message to the run manager (same contract as api_store_call). */
int api_runs_call(struct http_ctx *c, msg_t *m, http_reply_cb fn);
/* Answer an rm_reply that carries an error (status >= 400). */
void api_rm_error(struct http_ctx *c, const struct rm_reply *rep);
/* 1 if s is a canonical UUID (8-4-4-4-12 hex digits). */
int api_is_uuid(const char *s);
/* Emit a result cell as JSON: NULL -> null, else the text as a string. */
void api_gen_cell_str(yajl_gen g, const PGresult *res, int row, int col);
/* The cell as a number (NULL -> null). */
void api_gen_cell_num(yajl_gen g, const PGresult *res, int row, int col);
/* The cell as a boolean ('t'/'f'). */
void api_gen_cell_bool(yajl_gen g, const PGresult *res, int row, int col);
/* The cell holds JSON text (jsonb::text): emit it as a value (NULL -> null). */
void api_gen_cell_json(yajl_gen g, const PGresult *res, int row, int col);

/* The request body as a JSON object whose members are all in allowed;
 * NULL after answering 400 otherwise. */
yajl_val api_body_object(struct http_ctx *c, const char *const *allowed);
/* Non-empty unless allow_empty, at most max bytes, no control characters. */
int api_check_text(const char *field, const char *s, size_t max, int allow_empty, struct json_err *e);
/* A UUID member: 0 found, 1 absent (not required), -1 with e set. */
int api_get_uuid(yajl_val obj, const char *key, int required, const char **out, struct json_err *e);
/* A query parameter that must be a UUID when present: 0 (absent: *out
 * NULL), or -1 after answering 400 naming it. */
int api_query_uuid(struct http_ctx *c, const char *key, const char **out);
/* A query parameter that must be an integer min..max: 0 (*out = dflt
 * when absent), or -1 after answering 400 naming it. */
int api_query_long(struct http_ctx *c, const char *key, long min, long max, long dflt, long *out);
/* A path parameter "id" that must be a UUID; -1 after answering 404. */
const char *api_path_uuid(struct http_ctx *c, const char *param, const char *what);
/* An RFC 3339 date-time or a date (YYYY-MM-DD): 1 if s is one. */
int api_is_timestamp(const char *s);

/* ---- lists: ?limit=&cursor=&sort= ---- */

struct api_list_spec {
    const char *cols;           /* select list; its first column must be t.id */
    const char *from;           /* "projects t" (alias t; joins allowed) */
    const char *const *sorts;   /* allowed keys among created_at, name, status; NULL-terminated */
    const char *default_sort;   /* "created_at" or "-created_at", ... */
    void (*gen)(yajl_gen g, const PGresult *r, int row);
};

/* Begin a list: check sort and limit, start "SELECT ... WHERE true" in q.
 * The caller then appends " AND ..." filters with sqlq_param, and calls
 * api_list_run. -1 (q not initialised) after answering 400. spec must
 * outlive the request (a static). */
int api_list_begin(struct http_ctx *c, const struct api_list_spec *spec, struct sqlq *q);
/* Add the cursor, order and limit; run; answer {"items":[...],"next_cursor":..}.
 * Takes q (deinitialised here). */
void api_list_run(struct http_ctx *c, struct sqlq *q);
/* Add a store statement built with sqlq (copied). */
int api_sqlq_add(struct store_query *sq, const struct sqlq *q);

/* Answer a store result (m, freed here) with the first row of its last
 * statement rendered by gen, with status (200, 201); 404 naming
 * missing_field when there is no row ("no <what> with ..."); or the
 * store's error (a unique violation names conflict_field). */
void api_reply_row(struct http_ctx *c, msg_t *m, int status, void (*gen)(yajl_gen, const PGresult *, int),
                   const char *missing_field, const char *what, const char *conflict_field);

/* Answer a page of rows numbered by a bigint id (column 0), fetched with
 * limit + 1 rows: {"items": [gen of each], "next_cursor": last id | null}. */
void api_reply_id_page(struct http_ctx *c, const PGresult *res, int limit,
                       void (*gen)(yajl_gen g, const PGresult *r, int row));

/* Run q and answer a page of rows that belong to the resource named by
 * the path's "id" (a <what>): q's first statement gives whether it exists
 * (one boolean), its second the rows, fetched with limit + 1 and paged as
 * api_reply_id_page does. 404 naming "id" when it does not exist. */
void api_child_page(struct http_ctx *c, struct store_query *q, const char *what, int limit,
                    void (*gen)(yajl_gen g, const PGresult *r, int row));

/* DELETE /v1/<table>/:id: 404 unknown, 409 (field "cascade") while rows of
 * child_table refer to it through child_fk, unless ?cascade=true; 204. */
void api_delete_parent(struct http_ctx *c, const char *table, const char *child_table,
                       const char *child_fk, const char *what, const char *child);

/* The timestamp columns as the API shows them. */
#define API_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

#endif
