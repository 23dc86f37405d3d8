/* ws_gateway: bus messages into the WebSocket service threads. */
#include "ws_gateway.h"

#include "bus.h"
#include "loop.h"
#include "xmalloc.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw {
    actor_t *self;
    struct wsgw *ws;
    struct event *accept_ev;
    char runs_channel[96];   /* "<prefix>:runs" */
    char run_prefix[96];     /* "<prefix>:run:" */
    uint64_t malformed;
};

static void subscribe(struct gw *g, actor_t *bus, const char *pattern)
{
    struct bus_subscribe *s = MSG_NEW(MSG_BUS_SUBSCRIBE, struct bus_subscribe);
    snprintf(s->pattern, sizeof s->pattern, "%s", pattern);
    s->m.reply_to = g->self;
    if (actor_send_urgent(bus, &s->m) < 0)
        msg_free(&s->m);
}

/* The script a frame is about: its "script_id" member as we write it
 * (report_frame_json), or "" (stampede run's frames have null). */
static void script_of(const char *payload, char *out, size_t len)
{
    const char *p = strstr(payload, "\"script_id\":\"");
    out[0] = '\0';
    if (!p)
        return;
    p += strlen("\"script_id\":\"");
    size_t n = strcspn(p, "\"");
    if (n < len)
        snprintf(out, len, "%.*s", (int)n, p);
}

static void on_message(struct gw *g, const struct bus_message *bm)
{
    if (strcmp(bm->channel, g->runs_channel) == 0) {
        wsgw_publish(g->ws, NULL, NULL, bm->payload, bm->len, 0);
        return;
    }
    size_t pl = strlen(g->run_prefix);
    const char *run = bm->channel + pl;
    if (strncmp(bm->channel, g->run_prefix, pl) != 0 || !*run || strlen(run) >= 40) {
        g->malformed++;
        return;
    }
    char script[48], key[96];
    script_of(bm->payload, script, sizeof script);
    snprintf(key, sizeof key, "%s/%s", run, script);
    int final = strstr(bm->payload, "\"final\":true") != NULL;
    wsgw_publish(g->ws, run, key, bm->payload, bm->len, final);
}

static void gw_handle(actor_t *self, msg_t *m)
{
    struct gw *g = actor_state(self);
    switch (m->type) {
    case MSG_BUS_MESSAGE:
        on_message(g, (struct bus_message *)m);
        break;
    case MSG_STOP:
        event_del(g->accept_ev);
        wsgw_stop(g->ws);
        actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
        break;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    struct gw *g = arg;
    (void)fd;
    (void)what;
    wsgw_accept(g->ws);
}

actor_t *ws_gateway_new(struct loop *l, const struct ws_gateway_config *cfg, char *err, size_t errlen)
{
    struct wsgw_config wc = { cfg->host, cfg->port, cfg->threads, cfg->token, cfg->ping_us };
    struct wsgw *ws = wsgw_new(&wc, err, errlen);
    if (!ws)
        return NULL;
    struct gw *g = xcalloc(1, sizeof *g);
    g->ws = ws;
    const char *prefix = cfg->prefix ? cfg->prefix : "stampede";
    snprintf(g->runs_channel, sizeof g->runs_channel, "%s:runs", prefix);
    snprintf(g->run_prefix, sizeof g->run_prefix, "%s:run:", prefix);
    g->self = actor_new(l, "ws_gateway", -1, gw_handle, g, 0);
    g->accept_ev = event_new(loop_base(l), wsgw_listen_fd(ws), EV_READ | EV_PERSIST, on_accept, g);
    if (!g->accept_ev || event_add(g->accept_ev, NULL) < 0) {
        snprintf(err, errlen, "live gateway: cannot watch its listening socket");
        ws_gateway_free(g->self);
        return NULL;
    }
    if (wsgw_start(ws) < 0) {
        snprintf(err, errlen, "live gateway: cannot start its threads");
        ws_gateway_free(g->self);
        return NULL;
    }
    char pattern[128];
    snprintf(pattern, sizeof pattern, "%s*", g->run_prefix);
    subscribe(g, cfg->bus, pattern);
    subscribe(g, cfg->bus, g->runs_channel);
    return g->self;
}

uint16_t ws_gateway_port(actor_t *a)
{
    return wsgw_port(((struct gw *)actor_state(a))->ws);
}

struct wsgw_stats ws_gateway_stats(actor_t *a)
{
    return wsgw_stats(((struct gw *)actor_state(a))->ws);
}

void ws_gateway_free(actor_t *a)
{
    if (!a)
        return;
    struct gw *g = actor_state(a);
    if (g->accept_ev)
        event_free(g->accept_ev);
    wsgw_free(g->ws);
    free(g);
    actor_free(a);
}
