/* store_int: what the two files of the store share — the actor
 * (store.c: the pool of connections, reconnects, migrations, the report to
 * watchers, stopping) and its queries (store_query.c: the queue, dispatch,
 * results, retries, deadlines). Private to them; the store lives on loop 0
 * and is touched by that loop only. */
#ifndef STAMPEDE_STORE_INT_H
#define STAMPEDE_STORE_INT_H

#include "store.h"

#include <event2/dns.h>
#include <stdint.h>

#define MAX_WATCHERS 16

struct slot {
    struct store *st;
    int idx;
    struct pg_conn *pg;
    struct store_query *job;  /* running query, or NULL */
    int pinging;              /* running the keep-alive ping */
    int timed_out;            /* the job's deadline passed: reset on purpose */
    int was_up;               /* last reported PG_READY (not yet PG_DOWN) */
    int reset_on_purpose;     /* we dropped it (deadline): the server may be fine */
    uint64_t deadline_us;     /* of the job or ping */
    uint64_t last_used_us;
    uint64_t backoff_us;
    struct actor_timer *retry;
};

struct store {
    actor_t *self;
    char *dsn;
    uint64_t timeout_us;
    actor_t *supervisor;
    struct evdns_base *dns;
    struct slot *slots;
    int nslots;
    struct store_query *qhead, *qtail;
    int qlen;
    int migrated;
    int migrating;          /* a pg_migrate runs on some slot */
    int up;                 /* last state told to watchers */
    int probing;            /* the whole pool was lost while up: queries wait
                               for the first reconnect attempt to tell */
    char last_error[200];
    char told[200];         /* the last reason watchers were given while down */
    actor_t *watchers[MAX_WATCHERS];
    int nwatchers;
    struct actor_timer *start, *sweep, *finish;
    msg_t *stop_req;        /* MSG_STOP being served */
    uint64_t n_queries, n_failed, n_retried, n_reconnects;
    int stopped;            /* resources released; queries fail at once */
};

/* ---- store.c ---- */

/* Once stopping and no query runs, finish the stop from a timer. */
void store_maybe_finish_stop(struct store *st);

/* ---- store_query.c ---- */

/* Answer a query with a failure and free it. */
void store_fail_query(struct store_query *q, enum store_status status, const char *why);
void store_fail_all_queued(struct store *st, enum store_status status, const char *why);
/* A query that arrived: queue it, or fail it at once (stopping, database
 * down, queue full). */
void store_handle_query(struct store *st, struct store_query *q);
/* Hand queued queries to idle connections. */
void store_pump(struct store *st);
/* On the sweep timer: queries and pings past their deadline; a ping on
 * idle connections. */
void store_sweep(struct store *st);

#endif
