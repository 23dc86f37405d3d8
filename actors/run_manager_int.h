/* run_manager_int: what run_manager.c (live runs, control, history) and
 * run_create.c (loading, snapshot, insert) share. Private to the two. */
#ifndef STAMPEDE_RUN_MANAGER_INT_H
#define STAMPEDE_RUN_MANAGER_INT_H

#include "idmap.h"
#include "run_manager.h"
#include "run_msgs.h"
#include "script.h"
#include "series_writer.h"
#include "store.h"

#include <sys/queue.h>

enum ps_state { PS_QUEUED, PS_RUNNING, PS_STOPPING, PS_STOPPED, PS_FINISHED, PS_FAILED, PS_INTERRUPTED };

/* One script of a live run: one engine run. */
struct pscript {
    char script_id[UUID_STR_LEN];
    char name[208];
    uint64_t engine_id;
    struct script *sc;        /* owned until handed to the engine */
    enum ps_state st;
    int started;              /* the engine said it started */
    int engine_over;          /* MSG_RUN_FINISHED came */
    int done;                 /* and its series rows are stored */
    int user_stopped;
    int thresholds_failed, aborted;
    char *summary;            /* owned: its summary document */
};

/* A database write of a run, in the run's order. */
struct wq {
    STAILQ_ENTRY(wq) link;
    struct store_query *q;    /* owned; each attempt sends a clone of it */
    msg_t *req;               /* an API request answered when the write is done, or NULL */
    struct rm_reply *rep;     /* its answer (owned) */
    int last;                 /* the run's final write: forget the run after it */
};
STAILQ_HEAD(wq_list, wq);

struct prun {
    LIST_ENTRY(prun) link;
    char id[UUID_STR_LEN];
    enum rm_state st;
    int scenario;             /* a scenario run (else one script) */
    double percent;
    struct pscript *scripts;
    int n;
    int user_stop, shutdown;
    struct wq_list writes;
    uint64_t write_corr;      /* the write in flight, 0 = none */
    int write_blocked;        /* the last attempt failed: retried by the tick */
};
LIST_HEAD(prun_list, prun);

/* A create in progress (waiting for the store). */
struct creating {
    LIST_ENTRY(creating) link;
    struct rm_create *req;    /* owned until answered */
    uint64_t corr;
    int stage;                /* 0: loading, 2: reading datasets, 1: inserting */
    struct prun *run;         /* built after loading */
    char **defs;              /* per script loaded: its definition with the overrides (owned) */
    int ndefs;
    PGresult *loaded;         /* the definitions' rows, kept while datasets are read (owned) */
    struct script_ds_lent *lent; /* datasets by id the scripts name, read for this run (owned) */
    int nlent;
};
LIST_HEAD(creating_list, creating);

struct rm {
    actor_t *self;
    struct rm_config cfg;
    struct prun_list runs;
    struct creating_list creates;
    struct idmap engine;       /* engine run id -> struct prun */
    struct idmap ctl;          /* corr of an engine control -> struct pctl */
    struct idmap wcorr;        /* corr of a run's write in flight -> struct prun */
    uint64_t next_engine_id;
    char owner[128];           /* this server instance, in runs.owner */
    char prefix[64];           /* of the bus channels */
    struct actor_timer *tick;
    uint64_t heartbeat_corr, sweep_corr;
    int ticks;
    int db_up;
    msg_t *stop_req;
    uint64_t stop_deadline_us;
    struct rm_stats stats;
    actor_t *collector;        /* dataset collections (collector.h); NULL: none */
    int collector_stopping;    /* MSG_STOP sent to it, MSG_STOPPED not back yet */
};

/* An API control waiting for the engine's answers. */
struct pctl {
    struct rm_control *req;   /* owned until answered */
    struct prun *run;
    int waiting;
    int err_status;
    char err[200];
};

/* run_manager.c */
struct rm_reply *rm_reply_new(int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rm_answer(msg_t *req, struct rm_reply *rep); /* takes both */
struct wq *rm_write(struct rm *rm, struct prun *r, struct store_query *q, msg_t *req, struct rm_reply *rep);
void rm_run_free(struct prun *r);
int rm_state_active(enum rm_state s);
/* A status change and its event row, as one write (detail: a JSON object). */
void rm_write_state(struct rm *rm, struct prun *r, const char *extra_set, const char *kind, const char *detail,
                    msg_t *req, struct rm_reply *rep);
/* The same with the bus event, for a change of r's state to st. */
void rm_set_state(struct rm *rm, struct prun *r, enum rm_state st, const char *detail, msg_t *req,
                  struct rm_reply *rep);

/* run_engine.c: a run's scripts on the engine (runs actor) and their ends */
void rm_launch(struct rm *rm, struct prun *r);
int rm_ps_live(const struct pscript *ps);
struct pscript *rm_pscript_by_id(struct prun *r, const char *script_id);
/* Send a control to one engine run. With pc, the answer is awaited. */
void rm_engine_control(struct rm *rm, struct pscript *ps, enum run_op op, double value, uint64_t ramp_us,
                       struct pctl *pc);
/* {"k1": v1, "k2": v2} (a NULL key is left out); caller frees. */
char *rm_detail_json(const char *k1, const char *v1, const char *k2, const char *v2);
void rm_engine_event(struct rm *rm, struct run_event *e);
void rm_engine_finished(struct rm *rm, struct run_finished *f);
void rm_series_synced(struct rm *rm, struct series_sync *s);

/* run_ctl.c: live control from the API (stop, pause, resume, load, stop one script) */
void rm_reply_err(msg_t *req, int status, const char *code, const char *field, const char *msg);
void rm_stop_run(struct rm *rm, struct prun *r, const char *by, msg_t *req);
void rm_control(struct rm *rm, struct rm_control *c); /* answers (and frees) c */
void rm_control_reply(struct rm *rm, struct run_control_reply *rep);

/* run_create.c */
void rm_create_begin(struct rm *rm, struct rm_create *req);
/* A store result for a create; 1 if it was one (and consumed), else 0. */
int rm_create_result(struct rm *rm, struct store_result *res);
void rm_create_abort_all(struct rm *rm);

#endif
