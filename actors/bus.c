/* bus: Redis pub/sub with local fan-out, drop counting and reconnects. */
#include "bus.h"

#include "clock.h"
#include "fnv.h"
#include "json.h"
#include "status.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <fnmatch.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_US 100000u
#define BACKOFF_MAX_US 2000000u
#define PING_US 1000000u
#define PING_DEADLINE_US 2000000u
#define CONNECT_DEADLINE_US 2000000u
#define MAX_SUBS 256
#define MAX_WATCHERS 16
#define RECENT 1024 /* our own publishes awaiting their echo from Redis */

enum { TAG_RETRY_PUB = 1, TAG_RETRY_SUB, TAG_PING };

struct rconn {
    struct bus *bus;
    const char *role;          /* "pub" / "sub" */
    redisAsyncContext *ac;
    int connected;
    uint64_t started_us;       /* when the current attempt began */
    uint64_t backoff_us;
    struct actor_timer *retry;
};

struct sub {
    char pattern[128];
    actor_t *actor;
};

struct bus {
    actor_t *self;
    int enabled;
    char host[128];
    char ip[INET6_ADDRSTRLEN];
    int port;
    char password[128];
    char prefix[64];
    char psub_pattern[80];
    struct evdns_base *dns;
    struct evdns_getaddrinfo_request *dns_req;
    struct rconn pub, sub;
    struct actor_timer *ping_timer;
    uint64_t ping_sent_us; /* 0 = no ping outstanding */
    size_t inflight;
    struct sub subs[MAX_SUBS];
    int nsubs;
    uint64_t recent[RECENT];
    unsigned recent_head;
    actor_t *watchers[MAX_WATCHERS];
    int nwatchers;
    int up;
    char last_error[200];
    char told[200];         /* the last reason watchers were given while down */
    struct bus_stats st;
    int stopped; /* connections closed: publishes are delivered locally only */
};

static uint64_t msg_hash(const char *channel, const char *payload, size_t len)
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

int bus_parse_url(const char *url, char *host, size_t hostlen, int *port, char *password,
                  size_t pwlen, char *err, size_t errlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        snprintf(err, errlen, "expected redis://host:port, got '%s'", url);
        return -1;
    }
    p += 8;
    password[0] = '\0';
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= pwlen) {
            snprintf(err, errlen, "password too long");
            return -1;
        }
        memcpy(password, pw, n);
        password[n] = '\0';
        p = at + 1;
    }
    const char *end = p + strcspn(p, "/");
    const char *colon = NULL;
    if (*p == '[') { /* [::1]:6379 */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            snprintf(err, errlen, "unterminated IPv6 address in '%s'", url);
            return -1;
        }
        if (rb + 1 < end && rb[1] == ':')
            colon = rb + 1;
        size_t n = (size_t)(rb - p - 1);
        if (n == 0 || n >= hostlen) {
            snprintf(err, errlen, "bad host in '%s'", url);
            return -1;
        }
        memcpy(host, p + 1, n);
        host[n] = '\0';
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        size_t n = (size_t)((colon ? colon : end) - p);
        if (n == 0 || n >= hostlen) {
            snprintf(err, errlen, "missing or bad host in '%s'", url);
            return -1;
        }
        memcpy(host, p, n);
        host[n] = '\0';
    }
    *port = 6379;
    if (colon) {
        char *e;
        long v = strtol(colon + 1, &e, 10);
        if (e != end || v < 1 || v > 65535) {
            snprintf(err, errlen, "bad port in '%s'", url);
            return -1;
        }
        *port = (int)v;
    }
    return 0;
}

static void report(struct bus *b)
{
    int up = b->enabled && b->pub.connected && b->sub.connected;
    b->st.redis_up = up;
    /* while down, a new reason is news too (the first failure after
     * "connecting", a host that stopped resolving) */
    if (up == b->up && (up || strcmp(b->told, b->last_error) == 0))
        return;
    b->up = up;
    snprintf(b->told, sizeof b->told, "%s", up ? "" : b->last_error);
    if (up)
        alog_info(b->self, "redis is up (%s:%d)", b->ip, b->port);
    else
        alog_warn(b->self, "redis is down: %s", b->last_error);
    for (int i = 0; i < b->nwatchers; i++)
        dep_status_send(b->watchers[i], DEP_REDIS, up, up ? "" : b->last_error);
}

static void deliver_local(struct bus *b, const char *channel, const char *payload, size_t len,
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

static void conn_down(struct rconn *rc, const char *why)
{
    struct bus *b = rc->bus;
    rc->ac = NULL;
    rc->connected = 0;
    if (rc == &b->pub) {
        b->ping_sent_us = 0;
        b->inflight = 0;
    } else {
        memset(b->recent, 0, sizeof b->recent); /* echoes will not come back */
    }
    if (why)
        snprintf(b->last_error, sizeof b->last_error, "%s", why);
    rc->backoff_us = rc->backoff_us ? rc->backoff_us * 2 : BACKOFF_MIN_US;
    if (rc->backoff_us > BACKOFF_MAX_US)
        rc->backoff_us = BACKOFF_MAX_US;
    if (rc->retry)
        actor_timer_start(rc->retry, rc->backoff_us, 0);
    report(b);
}

/* Close a connection on our own initiative (hung server). hiredis runs the
 * pending callbacks with NULL replies and our disconnect callback, which
 * ignores contexts we have already let go of. */
static void conn_abort(struct rconn *rc, const char *why)
{
    redisAsyncContext *ac = rc->ac;
    conn_down(rc, why);
    if (ac)
        redisAsyncFree(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;
    if (!rc || rc->ac != ac)
        return;
    if (status != REDIS_OK) {
        char why[200];
        snprintf(why, sizeof why, "%s connection: %s", rc->role, ac->errstr ? ac->errstr : "failed");
        conn_down(rc, why); /* hiredis frees the context after this callback */
        return;
    }
    rc->connected = 1;
    rc->backoff_us = 0;
    report(rc->bus);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;
    if (!rc || rc->ac != ac)
        return;
    char why[200];
    snprintf(why, sizeof why, "%s connection closed: %s", rc->role,
             status == REDIS_OK ? "by request" : (ac->errstr ? ac->errstr : "error"));
    rc->bus->st.reconnects++;
    conn_down(rc, why);
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

static void on_pong(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rconn *rc = ac->data;
    (void)priv;
    if (rc && rc->ac == ac && reply)
        rc->bus->ping_sent_us = 0;
}

static void on_pmessage(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rconn *rc = ac->data;
    redisReply *r = reply;
    (void)priv;
    if (!rc || rc->ac != ac || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return;
    if (r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "pmessage") != 0)
        return;
    struct bus *b = rc->bus;
    const char *channel = r->element[2]->str;
    const char *payload = r->element[3]->str;
    size_t len = r->element[3]->len;
    uint64_t h = msg_hash(channel, payload, len);
    for (unsigned i = 0; i < RECENT; i++) {
        if (b->recent[i] == h) {
            b->recent[i] = 0; /* our own publish coming back: local subscribers had it */
            return;
        }
    }
    b->st.received_remote++;
    /* The reply is freed after this callback: deliver_local copies. */
    deliver_local(b, channel, payload, len, 1);
}

static void conn_start(struct rconn *rc)
{
    struct bus *b = rc->bus;
    redisAsyncContext *ac = redisAsyncConnect(b->ip, b->port);
    if (!ac) {
        conn_down(rc, "out of memory");
        return;
    }
    if (ac->err) {
        char why[200];
        snprintf(why, sizeof why, "%s connection: %s", rc->role, ac->errstr);
        redisAsyncFree(ac);
        conn_down(rc, why);
        return;
    }
    ac->data = rc;
    rc->ac = ac;
    rc->started_us = clock_now_us();
    redisLibeventAttach(ac, actor_base(b->self));
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Commands queue until the connection is up. */
    if (b->password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", b->password);
    if (rc == &b->sub)
        redisAsyncCommand(ac, on_pmessage, NULL, "PSUBSCRIBE %s", b->psub_pattern);
}

static void on_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
    struct bus *b = arg;
    b->dns_req = NULL;
    if (err || !ai) {
        if (ai)
            evutil_freeaddrinfo(ai);
        if (err == EVUTIL_EAI_CANCEL)
            return;
        char why[200];
        snprintf(why, sizeof why, "cannot resolve %s: %s", b->host, evutil_gai_strerror(err));
        conn_down(&b->pub, why);
        conn_down(&b->sub, why);
        return;
    }
    const void *a = ai->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    inet_ntop(ai->ai_family, a, b->ip, sizeof b->ip);
    evutil_freeaddrinfo(ai);
    conn_start(&b->pub);
    conn_start(&b->sub);
}

/* Start a connection attempt; a host name is resolved first, once for the
 * life of the process (both connections use that address). */
static void attempt(struct bus *b, struct rconn *rc)
{
    if (b->ip[0]) {
        conn_start(rc);
        return;
    }
    if (b->dns_req)
        return; /* both connections start when the answer comes */
    if (!b->dns) {
        char why[200];
        snprintf(why, sizeof why, "cannot resolve %s: no DNS resolver (give its address)", b->host);
        conn_down(&b->pub, why);
        conn_down(&b->sub, why);
        return;
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    b->dns_req = evdns_getaddrinfo(b->dns, b->host, NULL, &hints, on_resolved, b);
}

static void do_publish(struct bus *b, struct bus_message *p)
{
    deliver_local(b, p->channel, p->payload, p->len, 0);
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
        b->recent[b->recent_head] = msg_hash(p->channel, p->payload, p->len);
        b->recent_head = (b->recent_head + 1) % RECENT;
    }
}

static void on_tick(struct bus *b)
{
    uint64_t now = clock_now_us();
    struct rconn *rcs[2] = { &b->pub, &b->sub };
    for (int i = 0; i < 2; i++) {
        struct rconn *rc = rcs[i];
        if (rc->ac && !rc->connected && now - rc->started_us > CONNECT_DEADLINE_US)
            conn_abort(rc, "connecting to redis timed out");
    }
    if (!b->pub.connected)
        return;
    if (b->ping_sent_us && now - b->ping_sent_us > PING_DEADLINE_US) {
        conn_abort(&b->pub, "redis stopped answering");
        if (b->sub.ac)
            conn_abort(&b->sub, "redis stopped answering");
        return;
    }
    if (!b->ping_sent_us && redisAsyncCommand(b->pub.ac, on_pong, NULL, "PING") == REDIS_OK)
        b->ping_sent_us = now;
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

/* Close the connections and free the timers; publishes stay local. */
static void bus_release(struct bus *b)
{
    struct rconn *rcs[2] = { &b->pub, &b->sub };
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = rcs[i]->ac;
        rcs[i]->ac = NULL;
        rcs[i]->connected = 0;
        if (ac)
            redisAsyncFree(ac);
        actor_timer_free(rcs[i]->retry);
        rcs[i]->retry = NULL;
    }
    if (b->dns_req)
        evdns_getaddrinfo_cancel(b->dns_req);
    b->dns_req = NULL;
    if (b->dns)
        evdns_base_free(b->dns, 0);
    b->dns = NULL;
    actor_timer_free(b->ping_timer);
    b->ping_timer = NULL;
    b->stopped = 1;
    b->enabled = 0;
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
            attempt(b, &b->pub);
        else if (t->tag == TAG_RETRY_SUB)
            attempt(b, &b->sub);
        else if (t->tag == TAG_PING)
            on_tick(b);
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
