/* store: the PostgreSQL actor (loop 0).
 *
 * Owns a small pool of non-blocking libpq connections, applies the schema
 * migrations when it first connects, and runs queries sent to it in FIFO
 * order. A query is one or more parametrised statements; several run as one
 * implicit transaction (all or nothing). While no connection is up, queries
 * fail at once with STORE_EUNAVAILABLE; connections come back by themselves
 * with backoff. Every query has a deadline (config pg_timeout).
 *
 * A query whose connection was lost before any result came back is sent
 * again once on another connection (the server never answered it, so it
 * did not commit); when one connection finds the server gone, every idle
 * connection to it is dropped at once, and once the whole pool has been
 * down the migrations are checked again before queries flow (the server
 * that comes back may be another one, restored or failed over).
 *
 * Watchers (MSG_DEP_WATCH) get MSG_DEP_STATUS for DEP_POSTGRES. If a
 * migration fails, the supervisor given at creation gets MSG_STORE_FATAL
 * (the schema is left as it was). MSG_STOP: queued queries fail, running
 * ones finish (within their deadline), then MSG_STOPPED is the reply; later
 * queries fail at once. store_free, once the loops are done, releases
 * everything whether MSG_STOP finished or not (a failed start, the
 * shutdown deadline): queries still pending are dropped unanswered, the
 * same contract as bus_free. */
#ifndef STAMPEDE_STORE_H
#define STAMPEDE_STORE_H

#include "actor.h"
#include "pg.h"

enum {
    MSG_STORE_QUERY = MSG_RANGE_STORE + 1, /* struct store_query, reply store_result */
    MSG_STORE_RESULT,                      /* struct store_result */
    MSG_STORE_FATAL,                       /* struct store_fatal, to the supervisor */
    MSG_STORE_STATS_GET,                   /* plain msg; reply struct store_stats */
    MSG_STORE_STATS,
};

struct store_stats {
    msg_t m;
    int pool, connected, up;
    long queued;               /* queries waiting for a connection */
    uint64_t queries, failed, retried, reconnects;
};

#define STORE_MAX_PARAMS 32

enum store_status {
    STORE_OK = 0,
    STORE_EUNAVAILABLE, /* no database connection (503) */
    STORE_ETIMEOUT,     /* deadline passed (503) */
    STORE_ECONFLICT,    /* unique violation, 23505 (409) */
    STORE_EINVALID,     /* data or constraint error, SQLSTATE class 22/23 (400) */
    STORE_EFAILED,      /* anything else (500) */
};

struct store_query {
    msg_t m;
    int n;
    struct {
        char *sql;       /* owned copy */
        int nparams;
        char *params[STORE_MAX_PARAMS]; /* owned copies; NULL = SQL NULL */
    } stmt[PG_MAX_STMTS];
    /* store-private */
    struct store_query *next;
    uint64_t deadline_us;
    int attempts;        /* sent this many times (a lost connection retries once) */
};

struct store_result {
    msg_t m;
    enum store_status status;
    char sqlstate[6];
    char *error;      /* owned; NULL when OK */
    int failed;       /* statement index that failed, or -1 */
    int n;
    PGresult *res[PG_MAX_STMTS]; /* owned; freed with the message */
};

struct store_fatal {
    msg_t m;
    char reason[600];
};

struct store_config {
    const char *dsn;          /* copied */
    int pool;                 /* connections, >= 1 */
    uint64_t query_timeout_us;
    actor_t *supervisor;      /* gets MSG_STORE_FATAL; may be NULL */
};

/* Create the store on loop l; it starts connecting once the loop runs. */
actor_t *store_new(struct loop *l, const struct store_config *cfg);

/* After every loop has stopped: free the actor and its state. */
void store_free(actor_t *store);

/* Build a query: store_query_new() then one store_query_add per statement.
 * sql and params are copied (NULL entries become SQL NULL). Returns -1 when the
 * query already holds PG_MAX_STMTS statements or nparams is too large. */
struct store_query *store_query_new(void);
int store_query_add(struct store_query *q, const char *sql, int nparams, const char *const *params);
/* A new query with the same statements (deep copy), for sending again. */
struct store_query *store_query_clone(const struct store_query *q);

/* HTTP status a store failure maps to (200 for STORE_OK). */
int store_status_http(enum store_status st);
const char *store_status_code(enum store_status st);

#endif
