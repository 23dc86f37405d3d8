/* probe: run a loop group on a background thread and collect the messages
 * sent to a probe actor, so a test can be written as straight-line code:
 * send, then probe_wait for the answer. */
#ifndef STAMPEDE_PROBE_H
#define STAMPEDE_PROBE_H

#include "actor.h"
#include "loop.h"

#include <pthread.h>

struct probe {
    struct loop_group *g;
    pthread_t thread;
    actor_t *actor;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg_t *head, *tail; /* received, linked through m->node.next */
};

/* Start n loops on a background thread with a probe actor on loop 0. */
void probe_start(struct probe *p, int nloops);
/* Stop the loops and join; frees the messages the probe still holds. */
void probe_stop(struct probe *p);
/* After probe_stop and after freeing the actors under test: free the probe
 * actor and the loops. */
void probe_free(struct probe *p);
/* Next message (of `type`, or any when type == 0), or NULL after timeout.
 * Messages of other types are skipped and freed. Caller frees the result. */
msg_t *probe_wait(struct probe *p, uint32_t type, int timeout_ms);
/* Run the loops (after creating the actors under test). */
void probe_run(struct probe *p);
/* Send m to `to` from outside the loops with reply_to = the probe. */
void probe_send(struct probe *p, actor_t *to, msg_t *m, uint64_t corr);

#endif
