/* http_front_int: what the files of the REST front share — the actor and
 * its evhtp server (http_front.c: start, stop, calls to other actors),
 * request intake (http_request.c: guards, routing, the JSON body), a
 * request's context as handlers see it (http_ctx.c: accessors and replies)
 * and the front's counters (http_metrics.c). Private to them; the front
 * lives on loop 0 and is touched by that loop only. */
#ifndef STAMPEDE_HTTP_FRONT_INT_H
#define STAMPEDE_HTTP_FRONT_INT_H

#include "http_front.h"

#include "idmap.h"
#include "stats.h"

/* evhtp.h declares `evhtp_res (*evhtp_hook)()`: not our warning to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <evhtp.h>
#pragma GCC diagnostic pop
#include <stdint.h>
#include <sys/queue.h>

struct http_front {
    actor_t *self;
    evhtp_t *htp;
    struct router *router;
    struct http_front_config cfg;
    char host[64];
    char version[32];
    uint16_t port;
    struct idmap pending;            /* corr -> ctx waiting for a reply */
    TAILQ_HEAD(, http_ctx) plist;    /* the same, oldest first (deadline order) */
    struct actor_timer *sweep;
    int pg_up, redis_up;
    char pg_detail[200], redis_detail[200];
    int stopped;
    uint64_t requests;
    char *api_token;
    char live_host[64];
    struct assets *assets;
    size_t nroutes;
    uint64_t (*counts)[STATS_STATUS_SLOTS]; /* [route index, or nroutes: no route][status - 100] */
    uint64_t unauthorized;
};

struct qval {
    char *key, *val;
    SLIST_ENTRY(qval) link;
};

struct http_ctx {
    struct http_front *hf;
    SLIST_HEAD(, qval) qvals;   /* query values asked for, decoded */
    evhtp_request_t *req;       /* NULL once evhtp has freed the request */
    struct route_match match;
    yajl_val body;
    http_reply_cb on_reply;
    uint64_t corr;
    uint64_t deadline_us;
    TAILQ_ENTRY(http_ctx) plink;  /* pending list */
    void *udata;
    void (*udata_free)(void *);
    int replied;
    int paused;
    int in_callback;
};

/* ---- http_request.c ---- */

/* evhtp's callback for every request: guards, routing, then the handler. */
void http_front_on_request(evhtp_request_t *r, void *arg);
/* evhtp's post-accept callback: hooks the body-limit guards on the connection. */
evhtp_res http_front_on_accept(evhtp_connection_t *conn, void *arg);

/* ---- http_ctx.c ---- */

void http_ctx_free(struct http_ctx *c);
/* After a handler or reply callback returns: free c, or answer 500 first
 * when the handler neither replied nor called another actor. */
void http_ctx_settle(struct http_ctx *c);
/* A response header on a request with no context: the name is not copied
 * (a literal), the value is. */
void http_raw_header(evhtp_request_t *r, const char *k, const char *v);
/* An error before any context exists (routing, guards). */
void http_raw_error(evhtp_request_t *r, int status, const char *code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- http_metrics.c ---- */

/* Count an answer by route (NULL: no route) and status. */
void http_front_count(struct http_front *hf, const struct route *rt, int status);

#endif
