/* pg: one asynchronous PostgreSQL connection on a libevent base.
 *
 * Never blocks: connects with PQconnectStartParams/PQconnectPoll (a host
 * name is first resolved with evdns and passed as hostaddr), sends with
 * PQsendQueryParams (or PQsendQuery for multi-statement migration text),
 * flushes with write interest only while PQflush says so, and reads results
 * on readability until PQgetResult returns NULL.
 *
 * A job of parametrised statements goes out as one pipeline with one sync:
 * the server runs them as one implicit transaction, so either all take
 * effect or none does. Each statement text is prepared on a connection the
 * first time it is used there (PQsendPrepare in the same pipeline) and
 * executed by name after that, so it is planned once per connection, not
 * once per query (at most 128 texts per connection; more run unprepared).
 * The done callback sees one PGresult per statement.
 *
 * Callbacks run on the base's thread. Inside them the owner may call
 * pg_conn_exec (next job) and pg_conn_reset, never pg_conn_free. */
#ifndef STAMPEDE_PG_H
#define STAMPEDE_PG_H

#include <libpq-fe.h>

struct event_base;
struct evdns_base;
struct pg_conn;

enum pg_state {
    PG_DOWN,       /* not connected; pg_conn_connect to try again */
    PG_CONNECTING,
    PG_READY,      /* connected, no job */
    PG_BUSY,       /* a job is running */
};

#define PG_MAX_STMTS 16

struct pg_stmt {
    const char *sql;            /* borrowed until the job is done */
    int nparams;
    const char *const *params;  /* text values, NULL = SQL NULL; borrowed */
};

struct pg_outcome {
    int ok;                      /* every statement succeeded */
    int n;                       /* statements in the job */
    PGresult *res[PG_MAX_STMTS]; /* per statement (NULL if not run); the
                                    callback may take one and set it NULL,
                                    the rest are cleared after it returns */
    int failed;                  /* index of the failing statement, or -1 */
    char sqlstate[6];            /* "" when the connection failed */
    const char *error;           /* message; valid during the callback */
    int conn_lost;               /* the connection broke during the job */
};

typedef void (*pg_state_cb)(struct pg_conn *c, enum pg_state st, const char *why, void *arg);
typedef void (*pg_done_cb)(struct pg_conn *c, struct pg_outcome *o, void *arg);
/* A NOTIFY on a channel this connection LISTENs to; channel and payload
 * are valid during the call only. */
typedef void (*pg_notify_cb)(struct pg_conn *c, const char *channel, const char *payload, void *arg);

/* conninfo is copied. tag names the connection in logs. */
struct pg_conn *pg_conn_new(struct event_base *base, struct evdns_base *dns, const char *conninfo,
                            const char *tag, pg_state_cb on_state, void *arg);
/* Stop everything (no callbacks) and free. NULL is a no-op. */
void pg_conn_free(struct pg_conn *c);

/* From PG_DOWN: start connecting. State changes are reported through
 * on_state (PG_READY on success, PG_DOWN with a reason on failure).
 * Returns 0, or -1 if the attempt could not even start (then on_state is
 * not called and the state stays PG_DOWN). */
int pg_conn_connect(struct pg_conn *c);

/* In PG_READY: run a job. simple != 0 sends stmts[0].sql with PQsendQuery
 * (no parameters, may hold several statements). 0 on success (done_cb will
 * be called exactly once), -1 if the job could not be sent (done_cb is
 * never called; the connection may have gone down). */
int pg_conn_exec(struct pg_conn *c, const struct pg_stmt *stmts, int n, int simple,
                 pg_done_cb done, void *arg);

/* Drop the connection: a running job completes with conn_lost, state goes
 * to PG_DOWN (reported through on_state). */
void pg_conn_reset(struct pg_conn *c, const char *why);

/* Deliver notifications (LISTEN) to cb, from the loop, idle or busy. */
void pg_conn_on_notify(struct pg_conn *c, pg_notify_cb cb, void *arg);

enum pg_state pg_conn_state(const struct pg_conn *c);
const char *pg_conn_tag(const struct pg_conn *c);

#endif
