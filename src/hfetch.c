/* hfetch: a connection per request over bufferevents — connect, check
 * the peer, TLS on top when asked, one request, one parsed response. */
#include "hfetch.h"

#include "clock.h"
#include "http_parse.h"
#include "sbuf.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hfetch {
    struct event_base *base;
    struct bufferevent *bev;      /* the socket, or the TLS filter over it */
    SSL_CTX *ssl_ctx;
    char *sni;
    int tls_up;                   /* the TLS filter is in place */
    int sent;                     /* the request went out */
    char *req;
    size_t req_len;
    struct http_parser parser;
    struct sbuf body, headers;
    size_t max_body;
    int too_big;
    struct event *deadline;
    struct event *finish_ev;      /* runs done from the loop */
    hfetch_peer_cb check_peer;
    hfetch_done_cb done;
    void *arg;
    struct hfetch_result res;
    uint64_t start_us;
    int finished;
};

static void hfetch_free(struct hfetch *f)
{
    if (f->bev)
        bufferevent_free(f->bev); /* the filter frees its socket and SSL too */
    event_free(f->deadline);
    event_free(f->finish_ev);
    http_parser_deinit(&f->parser);
    sbuf_deinit(&f->body);
    sbuf_deinit(&f->headers);
    free(f->sni);
    free(f->req);
    free(f);
}

/* Record the outcome and leave the rest to the loop: done never runs
 * inside a libevent callback of this fetch's own bufferevent. */
static void finish(struct hfetch *f, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(struct hfetch *f, int err, const char *fmt, ...)
{
    if (f->finished)
        return;
    f->finished = 1;
    f->res.err = err;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->res.message, sizeof f->res.message, fmt, ap);
        va_end(ap);
    }
    if (f->bev) {
        bufferevent_setcb(f->bev, NULL, NULL, NULL, NULL);
        bufferevent_disable(f->bev, EV_READ | EV_WRITE);
    }
    event_del(f->deadline);
    event_active(f->finish_ev, EV_TIMEOUT, 0);
}

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
    struct hfetch *f = arg;
    (void)fd;
    (void)what;
    struct hfetch_result *r = &f->res;
    if (r->err == HFETCH_OK)
        r->status = f->parser.status;
    r->body = f->body.s ? f->body.s : "";
    r->body_len = f->body.len;
    r->headers = f->headers.s ? f->headers.s : "";
    r->headers_len = f->headers.len;
    r->elapsed_us = clock_now_us() - f->start_us;
    f->done(r, f->arg);
    hfetch_free(f);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct hfetch *f = arg;
    (void)fd;
    (void)what;
    finish(f, HFETCH_ETIMEOUT, "no complete response within %.1f s",
           (double)(clock_now_us() - f->start_us) / 1e6);
}

static void on_header(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct hfetch *f = arg;
    sbuf_add(&f->headers, name, nlen);
    sbuf_add(&f->headers, ": ", 2);
    sbuf_add(&f->headers, value, vlen);
    sbuf_addc(&f->headers, '\n');
}

static void on_body(void *arg, const char *data, size_t n)
{
    struct hfetch *f = arg;
    if (f->body.len + n > f->max_body) {
        f->too_big = 1;
        return;
    }
    sbuf_add(&f->body, data, n);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct hfetch *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    while (!f->finished && (n = evbuffer_get_contiguous_space(in)) > 0) {
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
        size_t used = 0;
        int rc = http_parser_feed(&f->parser, p, n, &used);
        evbuffer_drain(in, n);
        if (f->too_big)
            finish(f, HFETCH_ETOOBIG, "the response body is larger than %zu bytes", f->max_body);
        else if (rc == HTTP_PARSE_DONE)
            finish(f, HFETCH_OK, NULL);
        else if (rc == HTTP_PARSE_ERROR)
            finish(f, HFETCH_EBAD, "not a valid HTTP response: %s", http_parser_error(&f->parser));
    }
}

static void send_request(struct hfetch *f)
{
    f->sent = 1;
    bufferevent_setcb(f->bev, on_read, NULL, NULL, f);
    bufferevent_write(f->bev, f->req, f->req_len);
    bufferevent_enable(f->bev, EV_READ | EV_WRITE);
}

static void on_event(struct bufferevent *bev, short what, void *arg);

/* Connected: the peer must pass the check before anything is sent — not
 * even a TLS ClientHello. */
static void connected(struct hfetch *f)
{
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getpeername(bufferevent_getfd(f->bev), (struct sockaddr *)&peer, &plen) < 0) {
        finish(f, HFETCH_ECONNECT, "getpeername: %s", strerror(errno));
        return;
    }
    char why[200];
    if (f->check_peer && f->check_peer((const struct sockaddr *)&peer, f->arg, why, sizeof why) < 0) {
        finish(f, HFETCH_EPEER, "%s", why);
        return;
    }
    if (!f->ssl_ctx) {
        send_request(f);
        return;
    }
    SSL *ssl = SSL_new(f->ssl_ctx);
    if (!ssl) {
        finish(f, HFETCH_ETLS, "cannot create a TLS connection");
        return;
    }
    if (f->sni) {
        unsigned char ip[16];
        int is_ip = inet_pton(AF_INET, f->sni, ip) == 1 || inet_pton(AF_INET6, f->sni, ip) == 1;
        if (!is_ip)
            SSL_set_tlsext_host_name(ssl, f->sni);
        if (SSL_CTX_get_verify_mode(f->ssl_ctx) & SSL_VERIFY_PEER) {
            if (is_ip)
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), f->sni);
            else
                SSL_set1_host(ssl, f->sni);
        }
    }
    struct bufferevent *tls = bufferevent_openssl_filter_new(
        f->base, f->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!tls) {
        SSL_free(ssl);
        finish(f, HFETCH_ETLS, "cannot start TLS");
        return;
    }
    f->bev = tls; /* owns the socket's bufferevent and the SSL now */
    f->tls_up = 1;
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    bufferevent_setcb(tls, NULL, NULL, on_event, f);
    bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct hfetch *f = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        if (f->tls_up)
            send_request(f);
        else
            connected(f);
        return;
    }
    if (!f->sent) {
        unsigned long e = f->tls_up ? bufferevent_get_openssl_error(f->bev) : 0;
        if (e) {
            char buf[160];
            ERR_error_string_n(e, buf, sizeof buf);
            finish(f, HFETCH_ETLS, "TLS handshake failed: %s", buf);
        } else if (f->tls_up) {
            finish(f, HFETCH_ETLS, "TLS handshake failed");
        } else {
            int err = EVUTIL_SOCKET_ERROR();
            finish(f, HFETCH_ECONNECT, "cannot connect: %s", err ? strerror(err) : "refused");
        }
        return;
    }
    if ((what & BEV_EVENT_EOF) && http_parser_eof(&f->parser) == HTTP_PARSE_DONE) {
        finish(f, f->too_big ? HFETCH_ETOOBIG : HFETCH_OK, f->too_big ? "the response body is too large" : NULL);
        return;
    }
    finish(f, HFETCH_ECLOSED, "the server closed the connection before the end of the response (%s)",
           http_parser_error(&f->parser) ? http_parser_error(&f->parser) : "reset");
}

struct hfetch *hfetch_start(struct event_base *base, const struct hfetch_req *rq)
{
    struct hfetch *f = xcalloc(1, sizeof *f);
    f->base = base;
    f->start_us = clock_now_us();
    f->ssl_ctx = rq->ssl_ctx;
    f->sni = rq->sni ? xstrdup(rq->sni) : NULL;
    f->req = xmalloc(rq->len ? rq->len : 1);
    memcpy(f->req, rq->bytes, rq->len);
    f->req_len = rq->len;
    f->max_body = rq->max_body;
    f->check_peer = rq->check_peer;
    f->done = rq->done;
    f->arg = rq->arg;
    http_parser_init(&f->parser, rq->head ? HTTP_PARSE_HEAD : 0);
    f->parser.on_body = on_body;
    f->parser.on_header = on_header;
    f->parser.cb_arg = f;
    f->deadline = evtimer_new(base, on_deadline, f);
    f->finish_ev = event_new(base, -1, 0, on_finish, f);
    if (!f->deadline || !f->finish_ev)
        abort(); /* out of memory, as xmalloc would */
    struct timeval tv = { (time_t)(rq->timeout_us / 1000000), (suseconds_t)(rq->timeout_us % 1000000) };
    evtimer_add(f->deadline, &tv);
    f->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!f->bev) {
        finish(f, HFETCH_ECONNECT, "cannot create a socket");
        return f;
    }
    bufferevent_setcb(f->bev, NULL, NULL, on_event, f);
    if (bufferevent_socket_connect(f->bev, rq->addr, (int)rq->addrlen) < 0)
        finish(f, HFETCH_ECONNECT, "cannot connect: %s", strerror(errno));
    return f;
}

void hfetch_cancel(struct hfetch *f)
{
    if (f)
        hfetch_free(f);
}

SSL_CTX *hfetch_tls_ctx_new(int verify, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            snprintf(err, errlen, "cannot load the system's CA certificates");
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}
