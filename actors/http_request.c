/* http_request: a request's way in — the body limit (413 even for chunked
 * uploads), routing (404, 405), the API token (401), the JSON body (415,
 * 400) — and then its handler. */
#include "http_front_int.h"

#include "xmalloc.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- request guards ---- */

static int over_limit(struct http_front *hf, uint64_t n)
{
    return n > hf->cfg.max_body_bytes;
}

static void reject_too_large(struct http_front *hf, evhtp_request_t *r)
{
    http_raw_header(r, "Connection", "close");
    http_raw_error(r, 413, "body_too_large", NULL, "request body exceeds the limit of %llu bytes",
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

evhtp_res http_front_on_accept(evhtp_connection_t *conn, void *arg)
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
    http_raw_header(r, "Allow", buf);
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

void http_front_on_request(evhtp_request_t *r, void *arg)
{
    struct http_front *hf = arg;
    hf->requests++;
    if (r->flags & EVHTP_REQ_FLAG_FINISHED)
        return; /* already answered by a guard (413) */
    if (hf->stopped) {
        http_raw_error(r, 503, "shutting_down", NULL, "the server is shutting down");
        return;
    }
    htp_method method = evhtp_request_get_method(r);
    const char *path = r->uri && r->uri->path && r->uri->path->full ? r->uri->path->full : "/";
    struct route_match match;
    int rc = method < 32 ? router_match(hf->router, (unsigned)method, path, &match)
                         : ROUTER_NOT_FOUND;
    if (rc == ROUTER_NOT_FOUND) {
        http_raw_error(r, 404, "not_found", NULL, "no route for %s", path);
        return;
    }
    if (rc == ROUTER_METHOD) {
        allow_header(r, match.allowed);
        http_raw_error(r, 405, "method_not_allowed", NULL, "%s does not allow this method", path);
        return;
    }
    if (hf->api_token &&
        (strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0 || (match.route->flags & HTTP_TOKEN)) &&
        !token_ok(hf, evhtp_kv_find(r->headers_in, "Authorization"))) {
        hf->unauthorized++;
        http_raw_header(r, "WWW-Authenticate", "Bearer");
        http_raw_error(r, 401, "unauthorized", NULL, "this API needs Authorization: Bearer <token>");
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
            http_ctx_free(c);
            return;
        }
        size_t len = evbuffer_get_length(r->buffer_in);
        struct json_err e = { "", "" };
        c->body = json_parse((const char *)evbuffer_pullup(r->buffer_in, -1), len, JSON_MAX_DEPTH, &e);
        if (!c->body) {
            http_reply_error(c, 400, "malformed_json", e.field[0] ? e.field : NULL, "%s", e.message);
            http_ctx_free(c);
            return;
        }
    }
    ((http_handler_cb)match.route->handler)(c);
    http_ctx_settle(c);
}
