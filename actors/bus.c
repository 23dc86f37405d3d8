/* bus: the pub/sub actor — local fan-out, publishing with drop counting,
 * subscriptions and run events. Its Redis connections are in bus_redis.c. */
#include "bus_int.h"

#include "clock.h"
#include "fnv.h"
#include "json.h"
#include "status.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PING_US 1000000u

enum { TAG_RETRY_PUB = 1, TAG_RETRY_SUB, TAG_PING };

uint64_t bus_msg_hash(const char *channel, const char *payload, size_t len)
{
    uint64_t h = fnv1a(FNV1A_INIT, channel, strlen(channel));
    h = fnv1a(h ^ 0xff, payload, len);
    return h ? h : 1;
}

static void message_dtor(msg_t *m)
{
    struct bus_message *b = (struct bus_message *)m;
    free(b->channel);
    free(b->payload);
}

struct bus_message *bus_publish_new(const char *channel, const char *payload, size_t len)
{
    struct bus_message *p = MSG_NEW(MSG_BUS_PUBLISH, struct bus_message);
    p->m.dtor = message_dtor;
    p->channel = xstrdup(channel);
    p->payload = xstrndup(payload, len);
    p->len = len;
    return p;
}

void bus_event(actor_t *bus, const char *prefix, const char *kind, const char *run_id, const char *state,
               const char *detail_json)
{
    if (!bus)
        return;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "type", "event");
    json_gen_kv_str(g, "kind", kind);
    json_gen_kv_str(g, "run_id", run_id);
    json_gen_kv_str(g, "state", state);
    json_gen_kv_int(g, "t_ms", clock_wall_ms());
    json_gen_cstr(g, "detail");
    struct json_err e;
    yajl_val d = detail_json ? json_parse(detail_json, strlen(detail_json), 16, &e) : NULL;
    if (d) {
        json_gen_value(g, d);
        yajl_tree_free(d);
    } else {
        yajl_gen_map_open(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    size_t len;
    char *json = json_gen_finish(g, &len);
    char channel[96];
    snprintf(channel, sizeof channel, "%s:runs", prefix ? prefix : "stampede");
    struct bus_message *p = bus_publish_new(channel, json, len);
    free(json);
    if (actor_send(bus, &p->m) < 0)
        msg_free(&p->m); /* backed up: the event is lost for live listeners (it is in run_events) */
}

void bus_deliver_local(struct bus *b, const char *channel, const char *payload, size_t len,
                       int remote)
{
    for (int i = 0; i < b->nsubs; i++) {
        if (fnmatch(b->subs[i].pattern, channel, 0) != 0)
            continue;
        struct bus_message *m = MSG_NEW(MSG_BUS_MESSAGE, struct bus_message);
        m->m.dtor = message_dtor;
        m->channel = xstrdup(channel);
        m->payload = xstrndup(payload, len);
        m->len = len;
        m->remote = remote;
        if (actor_send(b->subs[i].actor, &m->m) < 0) {
            msg_free(&m->m);
            b->st.subscriber_drops++;
        } else {
            b->st.delivered_local++;
        }
    }
}

static void on_published(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rconn *rc = ac->data;
    size_t len = (size_t)(uintptr_t)priv;
    if (!rc || rc->ac != ac)
        return; /* a context we let go of: counters were reset already */
    struct bus *b = rc->bus;
    b->inflight = b->inflight > len ? b->inflight - len : 0;
    (void)reply;
}

static void do_publish(struct bus *b, struct bus_message *p)
{
    bus_deliver_local(b, p->channel, p->payload, p->len, 0);
    if (!b->enabled)
        return;
    if (!b->pub.connected || b->inflight + p->len > BUS_MAX_INFLIGHT) {
        b->st.dropped++;
        return;
    }
    if (redisAsyncCommand(b->pub.ac, on_published, (void *)(uintptr_t)p->len, "PUBLISH %s %b",
                          p->channel, p->payload, p->len) != REDIS_OK) {
        b->st.dropped++;
        return;
    }
    b->inflight += p->len;
    b->st.published++;
    if (b->sub.connected) {
        b->recent[b->recent_head] = bus_msg_hash(p->channel, p->payload, p->len);
        b->recent_head = (b->recent_head + 1) % RECENT;
    }
}

static void subscribe(struct bus *b, msg_t *m, int add)
{
    struct bus_subscribe *s = (struct bus_subscribe *)m;
    if (!m->reply_to)
        return;
    for (int i = 0; i < b->nsubs; i++) {
        if (b->subs[i].actor == m->reply_to && strcmp(b->subs[i].pattern, s->pattern) == 0) {
            if (!add)
                b->subs[i] = b->subs[--b->nsubs];
            return;
        }
    }
    if (add && b->nsubs < MAX_SUBS) {
        snprintf(b->subs[b->nsubs].pattern, sizeof b->subs[0].pattern, "%s", s->pattern);
        b->subs[b->nsubs].actor = m->reply_to;
        b->nsubs++;
    } else if (add) {
        alog_warn(b->self, "too many subscriptions; '%s' refused", s->pattern);
    }
}

static void bus_stop(struct bus *b, msg_t *req)
{
    bus_release(b);
    actor_reply(req, msg_new(MSG_STOPPED, sizeof(msg_t)));
}

void bus_free(actor_t *a)
{
    if (!a)
        return;
    struct bus *b = actor_state(a);
    if (!b->stopped)
        bus_release(b); /* `stampede run` never stops its bus: the loops just end */
    free(b);
    actor_free(a);
}

static void bus_handle(actor_t *self, msg_t *m)
{
    struct bus *b = actor_state(self);
    switch (m->type) {
    case MSG_TIMER: {
        struct msg_timer *t = (struct msg_timer *)m;
        if (t->tag == TAG_RETRY_PUB)
            bus_attempt(b, &b->pub);
        else if (t->tag == TAG_RETRY_SUB)
            bus_attempt(b, &b->sub);
        else if (t->tag == TAG_PING)
            bus_on_tick(b);
        return;
    }
    case MSG_BUS_PUBLISH:
        do_publish(b, (struct bus_message *)m);
        break;
    case MSG_BUS_SUBSCRIBE:
    case MSG_BUS_UNSUBSCRIBE:
        subscribe(b, m, m->type == MSG_BUS_SUBSCRIBE);
        break;
    case MSG_DEP_WATCH:
        if (m->reply_to && b->nwatchers < MAX_WATCHERS) {
            b->watchers[b->nwatchers++] = m->reply_to;
            dep_status_send(m->reply_to, DEP_REDIS, b->up,
                            b->up ? "" : (b->enabled ? b->last_error : "not configured"));
        }
        break;
    case MSG_BUS_STATS_GET: {
        struct bus_stats *s = MSG_NEW(MSG_BUS_STATS, struct bus_stats);
        *s = b->st;
        s->m.type = MSG_BUS_STATS;
        s->m.dtor = NULL;
        s->m.flags = 0;
        actor_reply(m, &s->m);
        break;
    }
    case MSG_STOP:
        if (!b->stopped)
            bus_stop(b, m);
        else
            actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
        break;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *bus_new(struct loop *l, const struct bus_config *cfg, char *err, size_t errlen)
{
    struct bus *b = xcalloc(1, sizeof *b);
    snprintf(b->prefix, sizeof b->prefix, "%s", cfg->prefix ? cfg->prefix : "stampede");
    snprintf(b->psub_pattern, sizeof b->psub_pattern, "%s:*", b->prefix);
    if (cfg->redis_url && *cfg->redis_url) {
        if (bus_parse_url(cfg->redis_url, b->host, sizeof b->host, &b->port, b->password,
                          sizeof b->password, err, errlen) < 0) {
            free(b);
            return NULL;
        }
        b->enabled = 1;
        unsigned char buf[sizeof(struct in6_addr)];
        if (strcmp(b->host, "localhost") == 0)
            snprintf(b->ip, sizeof b->ip, "127.0.0.1");
        else if (inet_pton(AF_INET, b->host, buf) == 1 || inet_pton(AF_INET6, b->host, buf) == 1)
            snprintf(b->ip, sizeof b->ip, "%.45s", b->host);
        snprintf(b->last_error, sizeof b->last_error, "connecting");
        snprintf(b->told, sizeof b->told, "connecting");
    } else {
        snprintf(b->last_error, sizeof b->last_error, "not configured");
    }
    b->self = actor_new(l, "bus", -1, bus_handle, b, 0);
    b->pub = (struct rconn){ .bus = b, .role = "pub" };
    b->sub = (struct rconn){ .bus = b, .role = "sub" };
    b->pub.retry = actor_timer_new(b->self, TAG_RETRY_PUB);
    b->sub.retry = actor_timer_new(b->self, TAG_RETRY_SUB);
    b->ping_timer = actor_timer_new(b->self, TAG_PING);
    if (b->enabled) {
        b->dns = loop_dns_new(loop_base(l));
        if (!b->dns)
            alog_warn(b->self, "no DNS resolver: a Redis host name will not resolve (addresses work)");
        actor_timer_start(b->pub.retry, 0, 0);
        actor_timer_start(b->sub.retry, 0, 0);
        actor_timer_start(b->ping_timer, PING_US, PING_US);
    }
    return b->self;
}
