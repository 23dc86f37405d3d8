/* status: the message by which dependency owners (store: PostgreSQL, bus:
 * Redis) tell watchers that a dependency went up or down. A watcher gets
 * the current state when it starts watching, then every change. */
#ifndef STAMPEDE_STATUS_H
#define STAMPEDE_STATUS_H

#include "actor.h"

#include <stdio.h>

enum dep_kind { DEP_POSTGRES, DEP_REDIS };

enum {
    MSG_DEP_WATCH = MSG_RANGE_STATUS + 1, /* plain msg with reply_to = the watcher */
    MSG_DEP_STATUS,                       /* struct msg_dep_status */
};

struct msg_dep_status {
    msg_t m;
    enum dep_kind dep;
    int up;
    char detail[200]; /* why it is down, "" when up */
};

/* Send the status to a watcher (urgent: bounded by the number of changes). */
static inline void dep_status_send(actor_t *watcher, enum dep_kind dep, int up, const char *detail)
{
    struct msg_dep_status *s = MSG_NEW(MSG_DEP_STATUS, struct msg_dep_status);
    s->dep = dep;
    s->up = up;
    if (detail)
        snprintf(s->detail, sizeof s->detail, "%s", detail);
    if (actor_send_urgent(watcher, &s->m) < 0)
        msg_free(&s->m);
}

#endif
