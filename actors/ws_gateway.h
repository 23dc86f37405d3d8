/* ws_gateway: live frames for browsers over WebSocket (loop 0 + its own
 * service threads, src/wsgw.c).
 *
 * Subscribes to the bus for "<prefix>:run:*" (frames) and "<prefix>:runs"
 * (events): local publishes arrive straight from the bus, those of other
 * servers through Redis, so any server serves any run, and local runs
 * keep flowing while Redis is down. Each message is handed to the service
 * threads once (wsgw_publish); they fan it out. MSG_STOP stops the threads
 * from accepting and serving; ws_gateway_free joins them. */
#ifndef STAMPEDE_WS_GATEWAY_H
#define STAMPEDE_WS_GATEWAY_H

#include "actor.h"
#include "wsgw.h"

struct ws_gateway_config {
    actor_t *bus;
    const char *prefix;     /* channel prefix */
    const char *host;       /* listen address */
    uint16_t port;          /* 0 = ephemeral */
    int threads;
    const char *token;      /* NULL/"" = no auth */
    uint64_t ping_us;       /* keepalive: see wsgw_config; 0 = the default */
};

/* Create the actor and bind the port now (a busy port fails early). NULL
 * with a message in err. */
actor_t *ws_gateway_new(struct loop *l, const struct ws_gateway_config *cfg, char *err, size_t errlen);
uint16_t ws_gateway_port(actor_t *a);
/* The gateway's counters (any thread). */
struct wsgw_stats ws_gateway_stats(actor_t *a);
/* After every loop has stopped. NULL is a no-op. */
void ws_gateway_free(actor_t *a);

#endif
