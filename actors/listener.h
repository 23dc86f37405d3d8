/* listener: PostgreSQL LISTEN/NOTIFY for the other actors (loop 0).
 *
 * One connection of its own (the store's pool runs queries; a LISTEN must
 * stay on one session). An actor subscribes to a channel with
 * MSG_LISTEN_SUBSCRIBE; every NOTIFY on it arrives as MSG_LISTEN_NOTIFY.
 * When the connection comes (back) up, every subscriber gets a
 * MSG_LISTEN_NOTIFY with `resync` set: notifications may have been missed
 * while it was down, so reload what you follow. Reconnects with backoff
 * (100 ms doubling to 2 s); never blocks. Two servers on one database tell
 * each other what changed this way (e.g. schedules). */
#ifndef STAMPEDE_LISTENER_H
#define STAMPEDE_LISTENER_H

#include "actor.h"

enum {
    MSG_LISTEN_SUBSCRIBE = MSG_RANGE_PLATFORM + 0x40, /* struct listen_subscribe, reply_to = subscriber */
    MSG_LISTEN_NOTIFY,                                /* struct listen_notify, to the subscriber */
};

#define LISTEN_CHANNEL_MAX 64

struct listen_subscribe {
    msg_t m;
    char channel[LISTEN_CHANNEL_MAX]; /* [a-z_]+ */
};

struct listen_notify {
    msg_t m;
    char channel[LISTEN_CHANNEL_MAX];
    char payload[256];   /* truncated beyond */
    int resync;          /* (re)connected: reload, payload is empty */
};

struct listener_config {
    const char *dsn; /* copied */
};

actor_t *listener_new(struct loop *l, const struct listener_config *cfg);
/* After every loop has stopped. NULL is a no-op. */
void listener_free(actor_t *a);

/* Send NOTIFY from SQL in the same transaction as the change it announces:
 * SELECT pg_notify('<channel>', '<payload>'). */

#endif
