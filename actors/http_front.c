/* http_front: libevhtp listener, routing, request guards, async replies. */
#include "http_front.h"

#include "api.h"
#include "assets.h"
#include "clock.h"
#include "hex.h"
#include "idmap.h"
#include "sbuf.h"
#include "stats.h"
#include "ws_gateway.h"
#include "xmalloc.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/listener.h>
/* evhtp.h declares `evhtp_res (*evhtp_hook)()`: not our warning to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <evhtp.h>
#pragma GCC diagnostic pop
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#define SWEEP_US 100000u

enum { TAG_SWEEP = 1 };

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

/* ---- contexts ---- */

static void ctx_free(struct http_ctx *c)
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
static void ctx_settle(struct http_ctx *c)
{
    if (c->corr)
        return; /* waiting for a reply */
    if (!c->replied) {
        alog_error(c->hf->self, "handler for %s returned without replying",
                   c->match.route ? c->match.route->pattern : "?");
        http_reply_error(c, 500, "internal", NULL, "internal error");
    }
    ctx_free(c);
}

static evhtp_res on_request_fini(evhtp_request_t *r, void *arg)
{
    struct http_ctx *c = arg;
    (void)r;
    c->req = NULL; /* the client went away; a late reply goes nowhere */
    return EVHTP_RES_OK;
}

/* ---- replies ---- */

static void add_header(evhtp_request_t *r, const char *k, const char *v)
{
    evhtp_headers_add_header(r->headers_out, evhtp_header_new(k, v, 0, 1));
}

static void count(struct http_front *hf, const struct route *rt, int status)
{
    if (status >= STATS_STATUS_MIN && status < STATS_STATUS_MIN + STATS_STATUS_SLOTS)
        hf->counts[rt ? rt->index : hf->nroutes][status - STATS_STATUS_MIN]++;
}

void http_reply_typed(struct http_ctx *c, int status, const char *content_type, const char *body,
                      size_t len)
{
    if (c->replied)
        return;
    c->replied = 1;
    count(c->hf, c->match.route, status);
    evhtp_request_t *r = c->req;
    if (!r)
        return;
    add_header(r, "Content-Type", content_type);
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
        count(hf, NULL, status);
        add_header(r, "Content-Type", "application/json");
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
static void raw_error(evhtp_request_t *r, int status, const char *code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void raw_error(evhtp_request_t *r, int status, const char *code, const char *field,
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

/* ---- calls to other actors ---- */

int http_call(struct http_ctx *c, actor_t *to, msg_t *m, http_reply_cb fn)
{
    struct http_front *hf = c->hf;
    if (!to || c->corr || c->replied || hf->stopped)
        return -1;
    uint64_t corr = actor_request(hf->self, to, m);
    if (!corr)
        return -1;
    c->corr = corr;
    c->on_reply = fn;
    c->deadline_us = clock_now_us() + hf->cfg.request_timeout_us;
    idmap_put(&hf->pending, corr, c);
    TAILQ_INSERT_TAIL(&hf->plist, c, plink);
    if (!c->paused && c->req) {
        evhtp_request_pause(c->req);
        evhtp_request_set_hook(c->req, evhtp_hook_on_request_fini, (evhtp_hook)on_request_fini, c);
        c->paused = 1;
    }
    return 0;
}

static void on_reply_msg(struct http_front *hf, msg_t *m)
{
    struct http_ctx *c = idmap_del(&hf->pending, m->corr);
    if (!c) {
        msg_free(m); /* its request timed out or the server is stopping */
        return;
    }
    TAILQ_REMOVE(&hf->plist, c, plink);
    c->corr = 0;
    http_reply_cb fn = c->on_reply;
    c->on_reply = NULL;
    fn(c, m);
    ctx_settle(c);
}

static void fail_pending(struct http_front *hf, int status, const char *code, const char *why,
                         uint64_t older_than_us)
{
    struct http_ctx *c;
    while ((c = TAILQ_FIRST(&hf->plist)) && c->deadline_us <= older_than_us) {
        TAILQ_REMOVE(&hf->plist, c, plink);
        idmap_del(&hf->pending, c->corr);
        c->corr = 0;
        http_reply_error(c, status, code, NULL, "%s", why);
        ctx_free(c);
    }
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

void http_front_metrics(const struct http_ctx *c, struct sbuf *out)
{
    const struct http_front *hf = c->hf;
    sbuf_adds(out, "# HELP stampede_http_requests_total API requests answered, by route and status.\n"
                   "# TYPE stampede_http_requests_total counter\n");
    for (size_t i = 0; i <= hf->nroutes; i++) {
        const struct route *rt = i < hf->nroutes ? router_route(hf->router, i) : NULL;
        for (int k = 0; k < STATS_STATUS_SLOTS; k++)
            if (hf->counts[i][k])
                sbuf_printf(out, "stampede_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                            rt ? rt->pattern : "unmatched", k + STATS_STATUS_MIN,
                            (unsigned long long)hf->counts[i][k]);
    }
    sbuf_printf(out, "# HELP stampede_http_pending_requests API requests waiting for another actor.\n"
                     "# TYPE stampede_http_pending_requests gauge\n"
                     "stampede_http_pending_requests %zu\n", hf->pending.len);
    sbuf_printf(out, "# HELP stampede_http_unauthorized_total /v1 requests refused for a missing or wrong token.\n"
                     "# TYPE stampede_http_unauthorized_total counter\n"
                     "stampede_http_unauthorized_total %llu\n", (unsigned long long)hf->unauthorized);
    if (hf->cfg.live) {
        struct wsgw_stats ws = ws_gateway_stats(hf->cfg.live);
        sbuf_printf(out, "# HELP stampede_live_clients WebSocket clients connected to the live gateway.\n"
                         "# TYPE stampede_live_clients gauge\nstampede_live_clients %llu\n"
                         "# HELP stampede_live_writes_total Live messages written to WebSocket clients.\n"
                         "# TYPE stampede_live_writes_total counter\nstampede_live_writes_total %llu\n"
                         "# HELP stampede_live_replaced_total Unsent frames replaced by newer ones (slow clients).\n"
                         "# TYPE stampede_live_replaced_total counter\nstampede_live_replaced_total %llu\n"
                         "# HELP stampede_live_closed_slow_total Clients closed for falling behind.\n"
                         "# TYPE stampede_live_closed_slow_total counter\nstampede_live_closed_slow_total %llu\n"
                         "# HELP stampede_live_refused_total Upgrades refused (path or token).\n"
                         "# TYPE stampede_live_refused_total counter\nstampede_live_refused_total %llu\n",
                    (unsigned long long)ws.clients, (unsigned long long)ws.writes,
                    (unsigned long long)ws.replaced, (unsigned long long)ws.closed_slow,
                    (unsigned long long)ws.refused);
    }
    sbuf_printf(out, "# HELP stampede_dependency_up 1 when the dependency is reachable.\n"
                     "# TYPE stampede_dependency_up gauge\n"
                     "stampede_dependency_up{dependency=\"postgres\"} %d\n"
                     "stampede_dependency_up{dependency=\"redis\"} %d\n", hf->pg_up, hf->redis_up);
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

/* ---- request guards ---- */

static int over_limit(struct http_front *hf, uint64_t n)
{
    return n > hf->cfg.max_body_bytes;
}

static void reject_too_large(struct http_front *hf, evhtp_request_t *r)
{
    add_header(r, "Connection", "close");
    raw_error(r, 413, "body_too_large", NULL, "request body exceeds the limit of %llu bytes",
              (unsigned long long)hf->cfg.max_body_bytes);
}

/* Known length over the limit: answer 413 before reading the body
 * (evhtp itself would only close the connection). */
static evhtp_res on_headers(evhtp_request_t *r, evhtp_headers_t *hdrs, void *arg)
{
    struct http_front *hf = arg;
    const char *cl = evhtp_kv_find(hdrs, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || end == cl || over_limit(hf, n)) {
            reject_too_large(hf, r);
            return EVHTP_RES_OK;
        }
    }
    return EVHTP_RES_OK;
}

/* Chunked bodies carry no length: count them as they arrive. */
static evhtp_res on_read(evhtp_request_t *r, struct evbuffer *buf, void *arg)
{
    struct http_front *hf = arg;
    if (r->flags & EVHTP_REQ_FLAG_FINISHED)
        return EVHTP_RES_OK;
    if (over_limit(hf, (uint64_t)evbuffer_get_length(r->buffer_in) + evbuffer_get_length(buf))) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        reject_too_large(hf, r);
    }
    return EVHTP_RES_OK;
}

static evhtp_res on_accept(evhtp_connection_t *conn, void *arg)
{
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers, (evhtp_hook)on_headers, arg);
    evhtp_connection_set_hook(conn, evhtp_hook_on_read, (evhtp_hook)on_read, arg);
    return EVHTP_RES_OK;
}

static int is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

static void allow_header(evhtp_request_t *r, unsigned mask)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = { { HTTP_GET, "GET" }, { HTTP_HEAD, "HEAD" }, { HTTP_POST, "POST" },
                  { HTTP_PUT, "PUT" }, { HTTP_PATCH, "PATCH" }, { HTTP_DELETE, "DELETE" } };
    char buf[128] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (mask & names[i].bit) {
            if (buf[0])
                strcat(buf, ", ");
            strcat(buf, names[i].name);
        }
    }
    add_header(r, "Allow", buf);
}

/* "Bearer <token>", compared in constant time (for a given length). */
static int token_ok(const struct http_front *hf, const char *auth)
{
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *t = auth + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t), want = strlen(hf->api_token);
    unsigned char diff = (unsigned char)(n != want);
    for (size_t i = 0; i < want; i++)
        diff |= (unsigned char)(hf->api_token[i] ^ (i < n ? t[i] : 0));
    return diff == 0;
}

static void on_request(evhtp_request_t *r, void *arg)
{
    struct http_front *hf = arg;
    hf->requests++;
    if (r->flags & EVHTP_REQ_FLAG_FINISHED)
        return; /* already answered by a guard (413) */
    if (hf->stopped) {
        raw_error(r, 503, "shutting_down", NULL, "the server is shutting down");
        return;
    }
    htp_method method = evhtp_request_get_method(r);
    const char *path = r->uri && r->uri->path && r->uri->path->full ? r->uri->path->full : "/";
    struct route_match match;
    int rc = method < 32 ? router_match(hf->router, (unsigned)method, path, &match)
                         : ROUTER_NOT_FOUND;
    if (rc == ROUTER_NOT_FOUND) {
        raw_error(r, 404, "not_found", NULL, "no route for %s", path);
        return;
    }
    if (rc == ROUTER_METHOD) {
        allow_header(r, match.allowed);
        raw_error(r, 405, "method_not_allowed", NULL, "%s does not allow this method", path);
        return;
    }
    if (hf->api_token && (strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0) &&
        !token_ok(hf, evhtp_kv_find(r->headers_in, "Authorization"))) {
        hf->unauthorized++;
        add_header(r, "WWW-Authenticate", "Bearer");
        raw_error(r, 401, "unauthorized", NULL, "this API needs Authorization: Bearer <token>");
        return;
    }
    struct http_ctx *c = xcalloc(1, sizeof *c);
    c->hf = hf;
    c->req = r;
    c->match = match;
    int has_body = evbuffer_get_length(r->buffer_in) > 0;
    if ((match.route->flags & HTTP_JSON_BODY) || ((match.route->flags & HTTP_JSON_OPTIONAL) && has_body)) {
        if (!is_json_type(evhtp_kv_find(r->headers_in, "Content-Type"))) {
            http_reply_error(c, 415, "unsupported_media_type", NULL,
                             "the body must be JSON (Content-Type: application/json)");
            ctx_free(c);
            return;
        }
        size_t len = evbuffer_get_length(r->buffer_in);
        struct json_err e = { "", "" };
        c->body = json_parse((const char *)evbuffer_pullup(r->buffer_in, -1), len, JSON_MAX_DEPTH, &e);
        if (!c->body) {
            http_reply_error(c, 400, "malformed_json", e.field[0] ? e.field : NULL, "%s", e.message);
            ctx_free(c);
            return;
        }
    }
    ((http_handler_cb)match.route->handler)(c);
    ctx_settle(c);
}

/* ---- the actor ---- */

static void front_handle(actor_t *self, msg_t *m)
{
    struct http_front *hf = actor_state(self);
    if (m->corr && m->type != MSG_STOP) {
        on_reply_msg(hf, m);
        return;
    }
    switch (m->type) {
    case MSG_TIMER:
        fail_pending(hf, 503, "timeout", "the request timed out waiting for the server",
                     clock_now_us());
        return;
    case MSG_DEP_STATUS: {
        struct msg_dep_status *s = (struct msg_dep_status *)m;
        if (s->dep == DEP_POSTGRES) {
            hf->pg_up = s->up;
            snprintf(hf->pg_detail, sizeof hf->pg_detail, "%s", s->detail);
        } else {
            hf->redis_up = s->up;
            snprintf(hf->redis_detail, sizeof hf->redis_detail, "%s", s->detail);
        }
        break;
    }
    case MSG_STOP:
        if (!hf->stopped) {
            hf->stopped = 1;
            evhtp_unbind_socket(hf->htp);
            actor_timer_stop(hf->sweep);
            fail_pending(hf, 503, "shutting_down", "the server is shutting down", UINT64_MAX);
            alog_info(self, "stopped accepting requests (%llu served)",
                      (unsigned long long)hf->requests);
        }
        actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
        break;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

static void watch(struct http_front *hf, actor_t *peer)
{
    if (!peer)
        return;
    msg_t *w = msg_new(MSG_DEP_WATCH, sizeof(msg_t));
    w->reply_to = hf->self;
    if (actor_send_urgent(peer, w) < 0)
        msg_free(w);
}

actor_t *http_front_new(struct loop *l, const struct http_front_config *cfg, char *err,
                        size_t errlen)
{
    struct http_front *hf = xcalloc(1, sizeof *hf);
    TAILQ_INIT(&hf->plist);
    hf->cfg = *cfg;
    snprintf(hf->host, sizeof hf->host, "%s", cfg->host);
    snprintf(hf->version, sizeof hf->version, "%s", cfg->version ? cfg->version : "");
    hf->cfg.host = hf->host;
    hf->cfg.version = hf->version;
    snprintf(hf->pg_detail, sizeof hf->pg_detail, "%s", cfg->store ? "connecting" : "not configured");
    snprintf(hf->redis_detail, sizeof hf->redis_detail, "%s", cfg->bus ? "connecting" : "not configured");
    idmap_init(&hf->pending);
    hf->router = router_new();
    api_register_all(hf->router);
    hf->nroutes = router_count(hf->router);
    snprintf(hf->live_host, sizeof hf->live_host, "%s", cfg->live_host ? cfg->live_host : "");
    hf->cfg.live_host = hf->live_host;
    hf->assets = assets_load(cfg->dashboard_dir, err, errlen);
    if (!hf->assets)
        goto fail;
    hf->cfg.dashboard_dir = NULL; /* read; not kept */
    hf->counts = xcalloc(hf->nroutes + 1, sizeof *hf->counts);
    if (cfg->api_token && cfg->api_token[0])
        hf->api_token = xstrdup(cfg->api_token);
    hf->cfg.api_token = hf->api_token;

    hf->htp = evhtp_new(loop_base(l), hf);
    if (!hf->htp) {
        snprintf(err, errlen, "cannot create the HTTP server");
        goto fail;
    }
    /* Guards answer 413 themselves; evhtp's own limit would just close. */
    evhtp_set_gencb(hf->htp, on_request, hf);
    evhtp_set_post_accept_cb(hf->htp, on_accept, hf);
    struct timeval idle = { 60, 0 };
    evhtp_set_timeouts(hf->htp, &idle, &idle);
    char addr[80];
    snprintf(addr, sizeof addr, "%s%s", strchr(hf->host, ':') ? "ipv6:" : "ipv4:", hf->host);
    if (evhtp_bind_socket(hf->htp, addr, cfg->port, 1024) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", hf->host, cfg->port, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evconnlistener_get_fd(hf->htp->server);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        hf->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
    hf->self = actor_new(l, "http_front", -1, front_handle, hf, 0);
    hf->sweep = actor_timer_new(hf->self, TAG_SWEEP);
    actor_timer_start(hf->sweep, SWEEP_US, SWEEP_US);
    watch(hf, cfg->store);
    watch(hf, cfg->bus);
    return hf->self;
fail:
    if (hf->htp)
        evhtp_free(hf->htp);
    assets_free(hf->assets);
    free(hf->counts);
    free(hf->api_token);
    router_free(hf->router);
    idmap_deinit(&hf->pending);
    free(hf);
    return NULL;
}

uint16_t http_front_port(actor_t *front)
{
    return ((struct http_front *)actor_state(front))->port;
}

void http_front_free(actor_t *front)
{
    if (!front)
        return;
    struct http_front *hf = actor_state(front);
    fail_pending(hf, 503, "shutting_down", "the server is shutting down", UINT64_MAX);
    actor_timer_free(hf->sweep);
    evhtp_free(hf->htp);
    router_free(hf->router);
    idmap_deinit(&hf->pending);
    free(hf->counts);
    free(hf->api_token);
    assets_free(hf->assets);
    free(hf);
    actor_free(front);
}
