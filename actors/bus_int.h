/* bus_int: what the two files of the bus share — the actor (bus.c:
 * messages, local fan-out, publishing, subscriptions) and its Redis side
 * (bus_redis.c: the URL, resolving, the two connections, reconnects, pings,
 * messages from other servers). Private to them; the bus lives on loop 0
 * and is touched by that loop only. */
#ifndef STAMPEDE_BUS_INT_H
#define STAMPEDE_BUS_INT_H

#include "bus.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_SUBS 256
#define MAX_WATCHERS 16
#define RECENT 1024 /* our own publishes awaiting their echo from Redis */

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

/* ---- bus.c ---- */

/* What recognises our own publishes when Redis echoes them back (never 0). */
uint64_t bus_msg_hash(const char *channel, const char *payload, size_t len);
/* Copy the message to every local subscriber whose pattern matches. */
void bus_deliver_local(struct bus *b, const char *channel, const char *payload, size_t len,
                       int remote);

/* ---- bus_redis.c ---- */

/* Start a connection attempt on rc (its retry timer fires it). */
void bus_attempt(struct bus *b, struct rconn *rc);
/* On the ping timer: connect deadlines, and a PING to find a hung server. */
void bus_on_tick(struct bus *b);
/* Close the connections and free the timers; publishes stay local. */
void bus_release(struct bus *b);

#endif
