/* api: the REST routes served by http_front, one file per resource
 * (api_health.c, api_projects.c, ...), plus helpers they share. */
#ifndef STAMPEDE_API_H
#define STAMPEDE_API_H

#include "http_front.h"
#include "store.h"

void api_register_all(struct router *r);

void api_health_register(struct router *r);
void api_projects_register(struct router *r);

/* Answer a failed store_result with its HTTP status and a JSON error;
 * conflict_field names the field a unique violation is about. */
void api_store_error(struct http_ctx *c, const struct store_result *res, const char *conflict_field);
/* Send a query to the store; on failure to send, answer 503 and free q.
 * Returns 0 when the reply callback will run. */
int api_store_call(struct http_ctx *c, struct store_query *q, http_reply_fn fn);
/* 1 if s is a canonical UUID (8-4-4-4-12 hex digits). */
int api_is_uuid(const char *s);
/* Emit a result cell as JSON: NULL -> null, else the text as a string. */
void api_gen_cell_str(yajl_gen g, const PGresult *res, int row, int col);

#endif
