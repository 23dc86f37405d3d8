/* run_msgs: the messages between the run supervisor (runs), its shards
 * (run_shard) and the metrics actor. One header so the three agree.
 *
 *   observer -> runs      MSG_RUN_START, MSG_RUN_CONTROL
 *   runs -> metrics       MSG_METRICS_BEGIN, MSG_METRICS_STATE, MSG_METRICS_END
 *   runs -> run_shard     MSG_SHARD_START, MSG_RUN_CONTROL, MSG_SHARD_RELEASE
 *   run_shard -> metrics  MSG_SHARD_WINDOW (every second, and a last one)
 *   run_shard -> runs     MSG_SHARD_DONE (after its last window)
 *   metrics -> runs       MSG_RUN_ABORT (a threshold with abort_on_fail),
 *                         MSG_METRICS_SUMMARY (reply to MSG_METRICS_END)
 *   runs -> observer      MSG_RUN_EVENT, MSG_RUN_FINISHED, MSG_RUN_CONTROL_REPLY
 *
 * Ordering: a shard sends its last window to metrics before it sends DONE
 * to runs, and runs sends END to metrics only after every DONE, so metrics
 * always has every window before END. */
#ifndef STAMPEDE_RUN_MSGS_H
#define STAMPEDE_RUN_MSGS_H

#include "actor.h"
#include "run_point.h"
#include "script.h"
#include "stats.h"

#include <stdint.h>

enum {
    MSG_RUN_START = MSG_RANGE_RUNS + 1, /* struct run_start; reply MSG_RUN_FINISHED later */
    MSG_RUN_CONTROL,       /* struct run_control; reply struct run_control_reply */
    MSG_RUN_CONTROL_REPLY,
    MSG_RUN_EVENT,         /* struct run_event, to the observer */
    MSG_RUN_FINISHED,      /* struct run_finished, to the observer */
    MSG_RUN_ABORT,         /* struct run_abort, metrics -> runs */
    MSG_SHARD_START = MSG_RANGE_SHARD + 1, /* struct shard_start */
    MSG_SHARD_DONE,        /* struct shard_done */
    MSG_SHARD_RELEASE,     /* plain msg: the shard frees itself */
    MSG_SHARD_WINDOW = MSG_RANGE_METRICS + 1, /* struct shard_window */
    MSG_METRICS_BEGIN,     /* struct metrics_begin */
    MSG_METRICS_END,       /* struct metrics_end, reply struct metrics_summary */
    MSG_METRICS_SUMMARY,
    MSG_METRICS_STATE,     /* struct metrics_state: the run was paused, resumed, stopped */
};

struct run_start {
    msg_t m;
    uint64_t run_id;
    struct script *script; /* ownership moves to runs */
    actor_t *observer;     /* gets events and the finish; may be NULL */
    double percent;        /* start at this percent of the planned load; 0 = 100 */
    char label[64];        /* the run's name for people (summary run_id, channel); "" = the id */
    char script_id[40];    /* for live frames: which script of the run; "" = none */
    char script_name[208];
};

enum run_op {
    RUN_OP_SET_RATE,   /* value: iterations per second (open model) */
    RUN_OP_SET_VUS,    /* value: VUs (closed model) */
    RUN_OP_SCALE,      /* value: percent of planned load */
    RUN_OP_PAUSE,
    RUN_OP_RESUME,
    RUN_OP_STOP,       /* graceful stop now */
};

const char *run_op_name(enum run_op op);

struct run_control {
    msg_t m;
    uint64_t run_id;
    enum run_op op;
    double value;
    uint64_t ramp_us;  /* 0 = at once; shards apply their own share */
    char signal[16];   /* telemetry set_rate: "logs", "metrics", "traces" ("" = all) */
    int stream;        /* to shards: that signal's step, -1 = the whole run */
};

struct run_control_reply {
    msg_t m;
    int status;        /* 0 ok, else an HTTP-like code (404 no such run, 409 not applicable) */
    char message[200];
};

enum run_event_kind { RUN_EV_STARTED, RUN_EV_CONTROL, RUN_EV_ABORTING, RUN_EV_STOPPING };

struct run_event {
    msg_t m;
    uint64_t run_id;
    enum run_event_kind kind;
    char detail[240];
};

struct run_abort {
    msg_t m;
    uint64_t run_id;
    char reason[240];
};

struct shard_start {
    msg_t m;
    uint64_t run_id;
    const struct script *script; /* borrowed; runs frees it after RELEASE */
    int index, nshards;
    uint64_t t0_us;              /* monotonic instant of profile time 0 */
    double percent;              /* initial scale, percent of the planned load */
    actor_t *supervisor, *metrics;
};

struct shard_window {
    msg_t m;
    uint64_t run_id;
    int shard;
    uint32_t second;         /* index since t0 */
    uint64_t span_us;        /* time this window covers */
    int warmup;              /* measured during warmup: not in the summary */
    int partial;             /* more of this second follows from this shard */
    int last;                /* the shard sends nothing after this */
    struct stats_window *w;  /* owned */
};

struct shard_done {
    msg_t m;
    uint64_t run_id;
    int shard;
    uint64_t connects, retries;
    char error[200];        /* the shard could not do its part: why ("" = fine) */
};

struct metrics_begin {
    msg_t m;
    uint64_t run_id;
    const struct script *script; /* borrowed until MSG_METRICS_SUMMARY */
    int nshards;
    int64_t started_wall_ms;
    actor_t *supervisor;         /* gets MSG_RUN_ABORT */
    char label[64];              /* see run_start */
    char script_id[40];
    char script_name[208];
};

struct metrics_state {
    msg_t m;
    uint64_t run_id;
    char state[16];              /* running, paused, stopping */
};

struct metrics_end {
    msg_t m;
    uint64_t run_id;
    int aborted;
    char abort_reason[240];
};

struct metrics_summary {
    msg_t m;
    uint64_t run_id;
    char *json;              /* the summary document (owned) */
    size_t json_len;
    int thresholds_failed;   /* how many did not hold */
    int aborted;
    struct run_point *series;/* owned */
    int npoints;
    char *text;              /* a human summary table (owned) */
};

struct run_finished {
    msg_t m;
    uint64_t run_id;
    struct metrics_summary *summary; /* owned (freed with this message) */
};

#endif
