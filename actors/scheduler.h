/* scheduler: cron and one-shot schedules that start runs (loop 0).
 *
 * Keeps every active schedule's next fire time in a min-heap with one
 * timer. Loads the schedules when PostgreSQL is (back) up and follows
 * every change at once through LISTEN/NOTIFY on "stampede_schedules" (the
 * REST API notifies in the transaction that changes a schedule; any server
 * on the database hears it) — no polling.
 *
 * Exactly once: a fire is claimed in one statement that moves the
 * schedule's next_due_at from the due time to the following one, guarded
 * by its old value, and inserts the fire under a unique (schedule, due
 * time); only the server whose statement did both starts the run. A
 * server restarted across a due time finds next_due_at in the past.
 *
 * Misfires: a due time more than SCHED_GRACE_S late (the server was down
 * or frozen) follows the schedule's policy: `skip` records one `missed`
 * fire and waits for the next time to come; `run_once` starts one run now
 * for the latest missed time. Overlap, when the schedule's previous run is
 * still active: `skip` records `skipped_overlap`; `allow` starts anyway;
 * `queue` records `queued` and starts the run when the previous one is
 * over (one queued fire at a time per schedule; later ones are skipped).
 *
 * Runs are started through the run manager with origin "schedule:<id>".
 * Time zones are read from the tz database once per name and kept. */
#ifndef STAMPEDE_SCHEDULER_H
#define STAMPEDE_SCHEDULER_H

#include "actor.h"

#define SCHED_GRACE_S 5
#define SCHED_CHANNEL "stampede_schedules"

struct scheduler_config {
    actor_t *store, *runs, *listener;
    actor_t *bus;          /* fires go to "<prefix>:runs" as schedule_fire events; may be NULL */
    const char *prefix;    /* channel prefix (copied) */
};

actor_t *scheduler_new(struct loop *l, const struct scheduler_config *cfg);
/* After every loop has stopped. NULL is a no-op. */
void scheduler_free(actor_t *a);

#endif
