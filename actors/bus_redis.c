/* bus_redis: the bus's Redis side — the redis:// URL, resolving the host,
 * the pub and sub connections with reconnects and backoff, the PING that
 * finds a hung server, and messages other servers published. */
#include "bus_int.h"

#include "clock.h"
#include "status.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_US 100000u
#define BACKOFF_MAX_US 2000000u
#define PING_DEADLINE_US 2000000u
#define CONNECT_DEADLINE_US 2000000u

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
    uint64_t h = bus_msg_hash(channel, payload, len);
    for (unsigned i = 0; i < RECENT; i++) {
        if (b->recent[i] == h) {
            b->recent[i] = 0; /* our own publish coming back: local subscribers had it */
            return;
        }
    }
    b->st.received_remote++;
    /* The reply is freed after this callback: bus_deliver_local copies. */
    bus_deliver_local(b, channel, payload, len, 1);
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
    if (err == EVUTIL_EAI_CANCEL) {
        /* cancelled: libevent calls back later, when the bus may be gone */
        if (ai)
            evutil_freeaddrinfo(ai);
        return;
    }
    struct bus *b = arg;
    b->dns_req = NULL;
    if (err || !ai) {
        if (ai)
            evutil_freeaddrinfo(ai);
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
void bus_attempt(struct bus *b, struct rconn *rc)
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

void bus_on_tick(struct bus *b)
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

/* Close the connections and free the timers; publishes stay local. */
void bus_release(struct bus *b)
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
