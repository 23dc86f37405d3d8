/* bus: the pub/sub actor (loop 0).
 *
 * PUBLISH goes to Redis on one hiredis connection and, always, to local
 * subscribers in this process. A second connection PSUBSCRIBEs to
 * "<prefix>:*" and hands messages published by other servers to local
 * subscribers (our own come back too and are recognised and skipped).
 *
 * While Redis is down (or slow: more than BUS_MAX_INFLIGHT bytes unanswered)
 * publishes to Redis are dropped and counted, never queued without bound,
 * never blocking; local subscribers still get every message. Both
 * connections come back by themselves with backoff. With no Redis URL the
 * bus is local only (used by `stampede run`).
 *
 * Watchers (MSG_DEP_WATCH) get MSG_DEP_STATUS for DEP_REDIS. */
#ifndef STAMPEDE_BUS_H
#define STAMPEDE_BUS_H

#include "actor.h"

#include <stddef.h>
#include <stdint.h>

#define BUS_MAX_INFLIGHT (8u << 20)

enum {
    MSG_BUS_PUBLISH = MSG_RANGE_BUS + 1, /* struct bus_message */
    MSG_BUS_SUBSCRIBE,   /* struct bus_subscribe, reply_to = the subscriber */
    MSG_BUS_UNSUBSCRIBE, /* struct bus_subscribe, reply_to = the subscriber */
    MSG_BUS_MESSAGE,     /* struct bus_message, to a subscriber */
    MSG_BUS_STATS_GET,   /* plain msg, reply struct bus_stats */
    MSG_BUS_STATS,
};

struct bus_subscribe {
    msg_t m;
    char pattern[128]; /* Redis glob, e.g. "stampede:run:*" */
};

/* MSG_BUS_PUBLISH (to the bus) and MSG_BUS_MESSAGE (from it to a
 * subscriber) carry the same thing. */
struct bus_message {
    msg_t m;
    char *channel; /* owned */
    char *payload; /* owned, NUL-terminated */
    size_t len;
    int remote;    /* MSG_BUS_MESSAGE: came from another server through Redis */
};

struct bus_stats {
    msg_t m;
    int redis_up;
    uint64_t published;       /* PUBLISH sent to Redis */
    uint64_t dropped;         /* not sent: Redis down or too slow */
    uint64_t delivered_local; /* messages handed to local subscribers */
    uint64_t subscriber_drops;/* local subscriber's mailbox was full */
    uint64_t received_remote; /* from other servers through Redis */
    uint64_t reconnects;
};

struct bus_config {
    const char *redis_url; /* NULL or "" = local only */
    const char *prefix;    /* channel prefix, e.g. "stampede" */
};

/* Create the bus; it connects once the loop runs. On a malformed URL
 * returns NULL with a message in err. */
actor_t *bus_new(struct loop *l, const struct bus_config *cfg, char *err, size_t errlen);

/* After every loop has stopped: free the actor and its state. */
void bus_free(actor_t *bus);

/* Build a publish message (channel and payload are copied). */
struct bus_message *bus_publish_new(const char *channel, const char *payload, size_t len);

/* Publish a run event on "<prefix>:runs" (docs/live.md):
 * {"type":"event","kind":kind,"run_id":..,"state":..,"t_ms":..,"detail":{..}}.
 * detail_json is a JSON object text or NULL; run_id and state may be NULL.
 * Dropped (never queued without bound) when the bus is backed up. */
void bus_event(actor_t *bus, const char *prefix, const char *kind, const char *run_id, const char *state,
               const char *detail_json);

/* Parse redis://[:password@]host[:port][/db]; 0 or -1 with err set. */
int bus_parse_url(const char *url, char *host, size_t hostlen, int *port, char *password,
                  size_t pwlen, char *err, size_t errlen);

#endif
