/* api_moniflux_int: what MoniFlux's two route files share
 * (api_moniflux.c: create, read, list; api_moniflux_ops.c: start,
 * restart, cancel, schedule). */
#ifndef STAMPEDE_API_MONIFLUX_INT_H
#define STAMPEDE_API_MONIFLUX_INT_H

#include "api.h"

/* The columns mf_select_test reads. */
enum { C_ID, C_USER, C_PAYLOAD, C_STATE, C_RUN, C_AT, C_CREATED, C_UPDATED, C_SCRIPT, C_COUNTS };

/* The payload's members, for api_body_object. */
extern const char *const mf_payload_keys[];

/* Check the members a payload has (create: testID, duration and
 * destination.endpoint are required). 0, or -1 with e naming the field. */
int mf_check_payload(yajl_val p, int create, struct json_err *e);
/* payload with patch's members over it (NULL: none), as JSON text. */
char *mf_merged(yajl_val payload, yajl_val patch);
/* A stored JSON text as a tree (NULL if it does not parse). */
yajl_val mf_parse_text(const char *s);
/* Reply with the test the result's last query selected (404 if none). */
void mf_reply_test(struct http_ctx *c, msg_t *m, int status);
void mf_on_test_ok(struct http_ctx *c, msg_t *m); /* mf_reply_test with 200 */
/* Add the query that selects test id, with its state and counts. */
void mf_select_test(struct store_query *q, const char *id);

/* api_moniflux_ops.c: the routes' handlers */
void mf_start_test(struct http_ctx *c);
void mf_restart_test(struct http_ctx *c);
void mf_cancel_test(struct http_ctx *c);
void mf_schedule_test(struct http_ctx *c);

#endif
