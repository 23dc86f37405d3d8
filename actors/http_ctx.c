/* http_ctx: a request as its handler sees it — route and query
 * parameters, the body, the peers, scratch data — and its one reply. */
#include "http_front_int.h"

#include "hex.h"
#include "ws_gateway.h"
#include "xmalloc.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- contexts ---- */

void http_ctx_free(struct http_ctx *c)
{
    if (c->req && c->paused)
        evhtp_request_unset_hook(c->req, evhtp_hook_on_request_fini);
    if (c->body)
        yajl_tree_free(c->body);
    if (c->udata_free)
        c->udata_free(c->udata);
    struct qval *q;
    while ((q = SLIST_FIRST(&c->qvals))) {
        SLIST_REMOVE_HEAD(&c->qvals, link);
        free(q->key);
        free(q->val);
        free(q);
    }
    free(c);
}

/* Called after a handler or reply callback returns: free the context when
 * it has answered and waits for nothing; a handler that did neither is a
 * bug, answered with 500 rather than a request paused forever. */
void http_ctx_settle(struct http_ctx *c)
{
    if (c->corr)
        return; /* waiting for a reply */
    if (!c->replied) {
        alog_error(c->hf->self, "handler for %s returned without replying",
                   c->match.route ? c->match.route->pattern : "?");
        http_reply_error(c, 500, "internal", NULL, "internal error");
    }
    http_ctx_free(c);
}

/* ---- replies ---- */

void http_raw_header(evhtp_request_t *r, const char *k, const char *v)
{
    evhtp_headers_add_header(r->headers_out, evhtp_header_new(k, v, 0, 1));
}

void http_reply_typed(struct http_ctx *c, int status, const char *content_type, const char *body,
                      size_t len)
{
    if (c->replied)
        return;
    c->replied = 1;
    http_front_count(c->hf, c->match.route, status);
    evhtp_request_t *r = c->req;
    if (!r)
        return;
    http_raw_header(r, "Content-Type", content_type);
    if (len)
        evbuffer_add(r->buffer_out, body, len);
    evhtp_send_reply(r, (evhtp_res)status);
    if (c->paused) {
        evhtp_request_unset_hook(r, evhtp_hook_on_request_fini);
        c->paused = 0;
        c->req = NULL;
        evhtp_request_resume(r);
    }
}

void http_reply(struct http_ctx *c, int status, const char *body, size_t len)
{
    http_reply_typed(c, status, "application/json", body, len);
}

void http_add_header(struct http_ctx *c, const char *name, const char *value)
{
    if (c->req && !c->replied)
        evhtp_headers_add_header(c->req->headers_out, evhtp_header_new(name, value, 1, 1));
}

void http_reply_doc(struct http_ctx *c, int status, yajl_gen g)
{
    size_t len;
    char *s = json_gen_finish(g, &len);
    http_reply(c, status, s, len);
    free(s);
}

static void vreply_error(evhtp_request_t *r, struct http_ctx *c, int status, const char *code,
                         const char *field, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len;
    char *body = json_error_body(code, msg, field, &len);
    if (c) {
        http_reply(c, status, body, len);
    } else {
        struct http_front *hf = evhtp_request_get_connection(r)->htp->arg;
        http_front_count(hf, NULL, status);
        http_raw_header(r, "Content-Type", "application/json");
        evbuffer_add(r->buffer_out, body, len);
        evhtp_send_reply(r, (evhtp_res)status);
    }
    free(body);
}

void http_reply_error(struct http_ctx *c, int status, const char *code, const char *field,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreply_error(c->req, c, status, code, field, fmt, ap);
    va_end(ap);
}

/* An error before any context exists (routing, guards). */
void http_raw_error(evhtp_request_t *r, int status, const char *code, const char *field,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreply_error(r, NULL, status, code, field, fmt, ap);
    va_end(ap);
}

void http_reply_invalid(struct http_ctx *c, const struct json_err *e)
{
    http_reply_error(c, 400, "invalid", e->field, "%s", e->message);
}

/* ---- accessors for handlers ---- */

const char *http_param(const struct http_ctx *c, const char *name)
{
    return route_param(&c->match, name);
}

/* Percent-decode a query value ('+' is a space, as in forms); a '%' that
 * does not start a valid escape stays as it is. Caller frees. */
static char *query_decode(const char *v)
{
    size_t n = strlen(v), k = 0;
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (v[i] == '%' && i + 2 < n + 1 && (hi = hex_digit(v[i + 1])) >= 0 && (lo = hex_digit(v[i + 2])) >= 0 &&
            (hi || lo)) {
            out[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[k++] = v[i] == '+' ? ' ' : v[i];
        }
    }
    out[k] = '\0';
    return out;
}

const char *http_query(const struct http_ctx *c, const char *key)
{
    if (!c->req || !c->req->uri || !c->req->uri->query)
        return NULL;
    struct http_ctx *mc = (struct http_ctx *)c; /* the decoded values are a cache */
    struct qval *q;
    SLIST_FOREACH(q, &mc->qvals, link)
        if (strcmp(q->key, key) == 0)
            return q->val;
    const char *raw = evhtp_kv_find(c->req->uri->query, key);
    if (!raw)
        return NULL;
    q = xmalloc(sizeof *q);
    q->key = xstrdup(key);
    q->val = query_decode(raw);
    SLIST_INSERT_HEAD(&mc->qvals, q, link);
    return q->val;
}

yajl_val http_body(const struct http_ctx *c)
{
    return c->body;
}

actor_t *http_peer(const struct http_ctx *c, enum http_peer which)
{
    switch (which) {
    case HTTP_PEER_STORE: return c->hf->cfg.store;
    case HTTP_PEER_BUS: return c->hf->cfg.bus;
    case HTTP_PEER_RUNS: return c->hf->cfg.runs;
    case HTTP_PEER_SERIES: return c->hf->cfg.series;
    }
    return NULL;
}

struct loop_group *http_loops_group(const struct http_ctx *c)
{
    return c->hf->cfg.group;
}

const struct assets *http_assets(const struct http_ctx *c)
{
    return c->hf->assets;
}

void http_live_info(const struct http_ctx *c, const char **host, unsigned *port, int *auth)
{
    const struct http_front *hf = c->hf;
    *host = hf->live_host;
    *port = hf->cfg.live ? ws_gateway_port(hf->cfg.live) : 0;
    *auth = hf->api_token != NULL;
}

int http_dep_up(const struct http_ctx *c, enum dep_kind dep)
{
    return dep == DEP_POSTGRES ? c->hf->pg_up : c->hf->redis_up;
}

const char *http_dep_detail(const struct http_ctx *c, enum dep_kind dep)
{
    return dep == DEP_POSTGRES ? c->hf->pg_detail : c->hf->redis_detail;
}

int http_loops(const struct http_ctx *c)
{
    return c->hf->cfg.loops;
}

const char *http_version(const struct http_ctx *c)
{
    return c->hf->version;
}

void http_set_udata(struct http_ctx *c, void *data, void (*free_fn)(void *))
{
    if (c->udata_free && c->udata != data)
        c->udata_free(c->udata); /* a later step of the request replaces it */
    c->udata = data;
    c->udata_free = free_fn;
}

void *http_udata(const struct http_ctx *c)
{
    return c->udata;
}

void http_route(struct router *r, unsigned methods, const char *pattern, http_handler_cb fn,
                unsigned flags)
{
    router_add(r, methods, pattern, (void *)fn, flags);
}
