/* run_manager: the platform's runs (loop 0) — what turns a row in
 * PostgreSQL into engine runs on the worker loops and back into history.
 *
 * MSG_RM_CREATE starts a run of a script or of every enabled script of a
 * scenario (or restarts an earlier run from its snapshot): it loads the
 * definitions, applies the overrides and checks them with the script
 * validator, inserts the run, its scripts and its first event in one
 * transaction, answers (201 and the id), then starts one engine run per
 * script through the `runs` actor, each at its planned load x percent.
 * MSG_RM_CONTROL stops, pauses, resumes or changes the load of a run (or
 * stops one script of it) through the engine's live control and answers
 * once the change is applied and recorded as an event.
 *
 * State machine (runs.status): queued -> starting -> running <-> paused ->
 * stopping -> finished | failed | cancelled | interrupted. Every
 * transition and every load change is a run_events row; a run's writes
 * go out one at a time, in order, and are retried while PostgreSQL is
 * down. A run is over in the database only after its series rows are
 * stored (series_writer sync) and its summary is written.
 *
 * Liveness: active runs carry a heartbeat refreshed every second; runs
 * whose heartbeat is older than RM_STALE_S (their server died) are marked
 * `interrupted` with an event, at start and every few seconds after.
 *
 * Every state change, load change and threshold abort is also published
 * on the bus as a run event (docs/live.md).
 *
 * Dataset collections (MSG_DS_COLLECT, collector.h) are jobs too: the run
 * manager owns the collector actor and forwards them to it unchanged.
 *
 * MSG_STOP: every active run is stopped gracefully and recorded as
 * interrupted, the collector drops its jobs; the reply comes once they
 * are over (or after a deadline). */
#ifndef STAMPEDE_RUN_MANAGER_H
#define STAMPEDE_RUN_MANAGER_H

#include "actor.h"
#include "uuid.h"

#include <stdint.h>

#define RM_STALE_S 5

enum {
    MSG_RM_CREATE = MSG_RANGE_PLATFORM + 1, /* struct rm_create; reply struct rm_reply */
    MSG_RM_CONTROL,                         /* struct rm_control; reply struct rm_reply */
    MSG_RM_REPLY,
    MSG_RM_STATS_GET,                       /* plain msg; reply struct rm_stats */
    MSG_RM_STATS,
};

struct rm_create {
    msg_t m;
    char script_id[UUID_STR_LEN];   /* exactly one of script_id, scenario_id, restart_of */
    char scenario_id[UUID_STR_LEN];
    char restart_of[UUID_STR_LEN];  /* a run whose snapshot to run again */
    double percent;                 /* 0: 100, or the restarted run's */
    char *overrides;                /* owned JSON object (merge patch on each definition) or NULL */
    char origin[64];                /* "api", "schedule:<id>", "moniflux" */
};
/* Destructor for rm_create (frees overrides); MSG_NEW then set m.dtor. */
void rm_create_dtor(msg_t *m);

enum rm_op {
    RM_OP_STOP,
    RM_OP_PAUSE,
    RM_OP_RESUME,
    RM_OP_PERCENT,      /* value: percent of the planned load */
    RM_OP_RATE,         /* value: iterations per second (arrival-rate executors) */
    RM_OP_VUS,          /* value: VUs (constant-vus, ramping-vus) */
    RM_OP_STOP_SCRIPT,  /* script_id: that script only */
};

struct rm_control {
    msg_t m;
    char run_id[UUID_STR_LEN];
    char script_id[UUID_STR_LEN];   /* "" = every script of the run */
    enum rm_op op;
    double value;
    uint64_t ramp_us;               /* 0 = at once */
};

struct rm_reply {
    msg_t m;
    int status;                     /* an HTTP status: 200, 201, or the error's */
    char code[32];                  /* error code ("not_found", "conflict", ...) */
    char field[64];                 /* the field at fault, or "" */
    char message[400];
    char run_id[UUID_STR_LEN];      /* the run created or controlled */
};

enum rm_state {
    RMS_QUEUED, RMS_STARTING, RMS_RUNNING, RMS_PAUSED, RMS_STOPPING,
    RMS_FINISHED, RMS_FAILED, RMS_CANCELLED, RMS_INTERRUPTED, RMS_COUNT
};
const char *rm_state_name(enum rm_state s);

struct rm_stats {
    msg_t m;
    uint64_t active[RMS_COUNT];     /* runs of this server now, by state */
    uint64_t ended[RMS_COUNT];      /* runs that ended here since start, by final state */
    uint64_t created, write_retries, interrupted_found;
};

struct rm_config {
    actor_t *store, *runs, *series;
    actor_t *bus;          /* run events go to "<prefix>:runs"; may be NULL */
    const char *prefix;    /* channel prefix (copied) */
    const char *collect_allow; /* CIDRs dataset collection may reach (config collect_allow); NULL = none */
};

actor_t *run_manager_new(struct loop *l, const struct rm_config *cfg);
/* After every loop has stopped. NULL is a no-op. */
void run_manager_free(actor_t *rm);

#endif
