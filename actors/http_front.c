/* http_front: the REST front actor — the libevhtp server, its start and
 * stop, and calls to other actors (a request paused until the reply). */
#include "http_front_int.h"

#include "api.h"
#include "assets.h"
#include "clock.h"
#include "xmalloc.h"

#include <errno.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SWEEP_US 100000u

enum { TAG_SWEEP = 1 };

/* ---- calls to other actors ---- */

static evhtp_res on_request_fini(evhtp_request_t *r, void *arg)
{
    struct http_ctx *c = arg;
    (void)r;
    c->req = NULL; /* the client went away; a late reply goes nowhere */
    return EVHTP_RES_OK;
}

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
    http_ctx_settle(c);
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
        http_ctx_free(c);
    }
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
    evhtp_set_gencb(hf->htp, http_front_on_request, hf);
    evhtp_set_post_accept_cb(hf->htp, http_front_on_accept, hf);
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
