/* scheduler_int: what the scheduler's files share (scheduler.c: the
 * actor, schedules in memory, loading; scheduler_fire.c: claiming fires
 * and starting their runs). Not for other modules. */
#ifndef STAMPEDE_SCHEDULER_INT_H
#define STAMPEDE_SCHEDULER_INT_H

#include "scheduler.h"

#include "clock.h"
#include "minheap.h"
#include "run_manager.h"
#include "store.h"
#include "tz.h"
#include "uuid.h"

#include <stdint.h>
#include <sys/queue.h>

#define TICK_MAX_US 1000000u /* re-look at least this often (wall-clock jumps, queued fires) */
#define MISSED_COUNT_MAX 100000

enum { TAG_TICK = 1 };
enum op { OP_LOAD_ALL, OP_LOAD_ONE, OP_CLAIM, OP_UNQUEUE, OP_NOTE, OP_START };

struct sched {
    TAILQ_ENTRY(sched) link;
    char id[UUID_STR_LEN];
    struct cron *cron;           /* NULL: a one-shot */
    const struct tz_zone *tz;    /* from the cache */
    int64_t next_us;             /* next due (Unix µs), -1 = none */
    uint64_t gen;                /* bumped by every reload: older heap entries are stale */
    int refs;                    /* heap entries pointing here */
    int gone;                    /* deleted or deactivated */
    int busy;                    /* a claim or a start is in flight */
    int queued;                  /* a queued fire waits for the previous run */
    int64_t queued_fire;
};
TAILQ_HEAD(sched_list, sched);

struct zone {
    SLIST_ENTRY(zone) link;
    struct tz_zone *z;
};

struct pend {
    LIST_ENTRY(pend) link;
    uint64_t corr;
    enum op op;
    struct sched *s;
    int64_t fire_id;
};

struct sch {
    actor_t *self;
    struct scheduler_config cfg;
    struct sched_list scheds;
    SLIST_HEAD(, zone) zones;
    struct minheap heap;
    LIST_HEAD(, pend) pend;
    struct actor_timer *tick;
    int db_up, loaded, subscribed, stopping;
    char prefix[64];
};

static inline int64_t sch_now_us(void)
{
    return clock_wall_ms() * 1000; /* wall time: due times are wall times */
}

/* scheduler.c */
void sch_arm(struct sch *sc);                      /* the timer, for the heap's top */
void sch_push(struct sch *sc, struct sched *s);    /* s's next fire into the heap */
void sch_maybe_release(struct sch *sc, struct sched *s); /* free s once gone and unused */
void sch_load_one(struct sch *sc, const char *id);

/* scheduler_fire.c */
struct pend *sch_query(struct sch *sc, struct store_query *q, enum op op, struct sched *s);
void sch_on_claimed(struct sch *sc, struct pend *pd, struct store_result *res);
void sch_on_unqueued(struct sch *sc, struct pend *pd, struct store_result *res);
void sch_on_started(struct sch *sc, struct pend *pd, struct rm_reply *rep);
void sch_on_tick(struct sch *sc); /* fire what is due, re-arm */

#endif
