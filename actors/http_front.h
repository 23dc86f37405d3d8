/* http_front: the REST front actor (loop 0, libevhtp).
 *
 * Routes requests (api_*.c register them), enforces the body limit (413
 * with a JSON body even for chunked uploads), content type (415) and JSON
 * syntax (400), and answers every error with
 *   {"error":{"code":"...","message":"...","field":"..."|null}}.
 * Handlers answer at once or call another actor with http_call: the
 * request is paused until the reply message arrives or the request
 * deadline passes (then 503 "timeout" is sent and a late reply dropped). */
#ifndef STAMPEDE_HTTP_FRONT_H
#define STAMPEDE_HTTP_FRONT_H

#include "actor.h"
#include "json.h"
#include "router.h"
#include "status.h"

#include <stdint.h>

struct http_front_config {
    const char *host;          /* numeric address to listen on */
    uint16_t port;             /* 0 = ephemeral */
    uint64_t max_body_bytes;
    uint64_t request_timeout_us;
    int loops;
    const char *version;
    actor_t *store;            /* peers; a NULL peer answers 503 */
    actor_t *bus;
    actor_t *runs;             /* run_manager */
    actor_t *series;           /* series_writer (for /metrics) */
    struct loop_group *group;  /* for /metrics (loop lag); may be NULL */
    const char *api_token;     /* when set, /v1 requires Authorization: Bearer <it> */
    actor_t *live;             /* the WebSocket gateway (ws_gateway); may be NULL */
    const char *live_host;     /* its listen address, for the dashboard's config */
    const char *dashboard_dir; /* served at / and /ui/ (read once at start); NULL = none */
};

/* Create the actor and bind the listener now, so a busy port fails early.
 * NULL with a message in err on failure. */
actor_t *http_front_new(struct loop *l, const struct http_front_config *cfg, char *err,
                        size_t errlen);
/* The bound port (useful with port 0). Call on loop 0 or before it runs. */
uint16_t http_front_port(actor_t *front);
/* After every loop has stopped: free the actor, evhtp and its state. */
void http_front_free(actor_t *front);

/* ---- the interface route handlers (actors/api_*.c) use ---- */

struct http_ctx;
typedef void (*http_handler_cb)(struct http_ctx *c);
/* Gets the reply message and owns it (msg_free). */
typedef void (*http_reply_cb)(struct http_ctx *c, msg_t *reply);

/* Method bits for http_route (values are evhtp's htp_method numbers). */
#define HTTP_GET (1u << 0)
#define HTTP_HEAD (1u << 1)
#define HTTP_POST (1u << 2)
#define HTTP_PUT (1u << 3)
#define HTTP_DELETE (1u << 4)
#define HTTP_PATCH (1u << 15)

/* Route flag: the request must carry a JSON body (Content-Type checked,
 * parsed before the handler runs; see http_body). */
#define HTTP_JSON_BODY 1u
/* Route flag: a JSON body is optional (checked like HTTP_JSON_BODY when the
 * request has one; http_body is NULL when it has none). */
#define HTTP_JSON_OPTIONAL 2u
/* Route flag: outside /v1, but guarded by the API token like /v1 is
 * (MoniFlux's routes). */
#define HTTP_TOKEN 4u

enum http_peer { HTTP_PEER_STORE, HTTP_PEER_BUS, HTTP_PEER_RUNS, HTTP_PEER_SERIES };

void http_route(struct router *r, unsigned methods, const char *pattern, http_handler_cb fn,
                unsigned flags);

const char *http_param(const struct http_ctx *c, const char *name);
/* Query parameter, percent-decoded ('+' = space; "%00" is left as it is),
 * or NULL. Valid as long as the request. */
const char *http_query(const struct http_ctx *c, const char *key);
yajl_val http_body(const struct http_ctx *c);
actor_t *http_peer(const struct http_ctx *c, enum http_peer which);
int http_dep_up(const struct http_ctx *c, enum dep_kind dep);
const char *http_dep_detail(const struct http_ctx *c, enum dep_kind dep);
int http_loops(const struct http_ctx *c);
const char *http_version(const struct http_ctx *c);

struct loop_group *http_loops_group(const struct http_ctx *c);
/* The dashboard's files (never NULL; maybe empty). */
const struct assets *http_assets(const struct http_ctx *c);
/* Where the live gateway listens (host "" and port 0 when there is none),
 * and whether the API wants a token. */
void http_live_info(const struct http_ctx *c, const char **host, unsigned *port, int *auth);
/* Append the front's own counters in Prometheus text format. */
struct sbuf;
void http_front_metrics(const struct http_ctx *c, struct sbuf *out);

/* Handler scratch data freed with the request (free_fn may be NULL);
 * setting another frees the one before. */
void http_set_udata(struct http_ctx *c, void *data, void (*free_fn)(void *));
void *http_udata(const struct http_ctx *c);

/* Replies: exactly one per request. Bodies are JSON unless typed. */
void http_reply(struct http_ctx *c, int status, const char *body, size_t len);
void http_reply_typed(struct http_ctx *c, int status, const char *content_type, const char *body,
                      size_t len);
/* An extra response header (copied), before the reply. */
void http_add_header(struct http_ctx *c, const char *name, const char *value);
void http_reply_doc(struct http_ctx *c, int status, yajl_gen g); /* frees g */
void http_reply_error(struct http_ctx *c, int status, const char *code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 400 "invalid" naming e->field. */
void http_reply_invalid(struct http_ctx *c, const struct json_err *e);

/* Send m to `to` as a request; fn runs with the reply. 0 on success; -1 if
 * the peer is missing or its mailbox is full: m stays with the caller. */
int http_call(struct http_ctx *c, actor_t *to, msg_t *m, http_reply_cb fn);

#endif
