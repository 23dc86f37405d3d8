/* store_query: the store's queries — building them, the FIFO queue with
 * fail-fast while the database is down, dispatch to idle connections,
 * results, one retry after a lost connection, and deadlines (with the
 * keep-alive ping of idle connections). */
#include "store_int.h"

#include "clock.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 2048
#define PING_EVERY_US 2000000u

struct store_query *store_query_new(void)
{
    return MSG_NEW(MSG_STORE_QUERY, struct store_query);
}

static void query_dtor(msg_t *m)
{
    struct store_query *q = (struct store_query *)m;
    for (int i = 0; i < q->n; i++) {
        free(q->stmt[i].sql);
        for (int k = 0; k < q->stmt[i].nparams; k++)
            free(q->stmt[i].params[k]);
    }
}

int store_query_add(struct store_query *q, const char *sql, int nparams, const char *const *params)
{
    if (q->n >= PG_MAX_STMTS || nparams < 0 || nparams > STORE_MAX_PARAMS)
        return -1;
    q->m.dtor = query_dtor;
    q->stmt[q->n].sql = xstrdup(sql);
    q->stmt[q->n].nparams = nparams;
    for (int k = 0; k < nparams; k++)
        q->stmt[q->n].params[k] = params[k] ? xstrdup(params[k]) : NULL;
    q->n++;
    return 0;
}

struct store_query *store_query_clone(const struct store_query *q)
{
    struct store_query *c = store_query_new();
    for (int i = 0; i < q->n; i++)
        store_query_add(c, q->stmt[i].sql, q->stmt[i].nparams,
                        (const char *const *)q->stmt[i].params);
    return c;
}

static void result_dtor(msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    free(r->error);
    for (int i = 0; i < r->n; i++)
        if (r->res[i])
            PQclear(r->res[i]);
}

int store_status_http(enum store_status st)
{
    switch (st) {
    case STORE_OK: return 200;
    case STORE_EUNAVAILABLE: return 503;
    case STORE_ETIMEOUT: return 503;
    case STORE_ECONFLICT: return 409;
    case STORE_EINVALID: return 400;
    case STORE_EFAILED: return 500;
    }
    return 500;
}

const char *store_status_code(enum store_status st)
{
    switch (st) {
    case STORE_OK: return "ok";
    case STORE_EUNAVAILABLE: return "database_unavailable";
    case STORE_ETIMEOUT: return "database_timeout";
    case STORE_ECONFLICT: return "conflict";
    case STORE_EINVALID: return "invalid";
    case STORE_EFAILED: return "database_error";
    }
    return "database_error";
}

/* Answer a query with a failure and free it. */
void store_fail_query(struct store_query *q, enum store_status status, const char *why)
{
    struct store_result *r = MSG_NEW(MSG_STORE_RESULT, struct store_result);
    r->m.dtor = result_dtor;
    r->status = status;
    r->failed = -1;
    r->error = xstrdup(why);
    actor_reply(&q->m, &r->m);
    msg_free(&q->m);
}

void store_fail_all_queued(struct store *st, enum store_status status, const char *why)
{
    struct store_query *q = st->qhead;
    st->qhead = st->qtail = NULL;
    st->qlen = 0;
    while (q) {
        struct store_query *next = q->next;
        store_fail_query(q, status, why);
        q = next;
    }
}

static int any_result(const struct pg_outcome *o);

static void on_job_done(struct pg_conn *c, struct pg_outcome *o, void *arg)
{
    struct slot *s = arg;
    struct store *st = s->st;
    (void)c;
    s->last_used_us = clock_now_us();
    if (s->pinging) {
        s->pinging = 0;
    } else if (s->job && o->conn_lost && !s->timed_out && !st->stop_req &&
               s->job->attempts < 2 && !any_result(o)) {
        /* Nothing came back: the server never ran it. Once more, at the
         * head of the queue, on whatever connection is up next. */
        struct store_query *q = s->job;
        s->job = NULL;
        alog_info(st->self, "%s lost before answering; sending the query again", pg_conn_tag(s->pg));
        st->n_retried++;
        q->next = st->qhead;
        st->qhead = q;
        if (!st->qtail)
            st->qtail = q;
        st->qlen++;
    } else if (s->job) {
        struct store_query *q = s->job;
        s->job = NULL;
        struct store_result *r = MSG_NEW(MSG_STORE_RESULT, struct store_result);
        r->m.dtor = result_dtor;
        r->n = o->n;
        r->failed = o->failed;
        memcpy(r->sqlstate, o->sqlstate, sizeof r->sqlstate);
        for (int i = 0; i < o->n; i++) {
            r->res[i] = o->res[i]; /* take ownership */
            o->res[i] = NULL;
        }
        if (o->ok) {
            r->status = STORE_OK;
        } else if (s->timed_out) {
            r->status = STORE_ETIMEOUT;
            r->error = xstrdup("the database did not answer in time");
        } else if (o->conn_lost) {
            r->status = STORE_EUNAVAILABLE;
            r->error = xasprintf("database connection lost: %s", o->error ? o->error : "");
        } else {
            const char *ss = o->sqlstate;
            if (strcmp(ss, "23505") == 0)
                r->status = STORE_ECONFLICT;
            else if (strncmp(ss, "22", 2) == 0 || strncmp(ss, "23", 2) == 0)
                r->status = STORE_EINVALID;
            else if (strncmp(ss, "08", 2) == 0 || strncmp(ss, "57", 2) == 0)
                r->status = STORE_EUNAVAILABLE;
            else
                r->status = STORE_EFAILED;
            r->error = xstrdup(o->error ? o->error : "query failed");
            if (r->status == STORE_EFAILED)
                alog_error(st->self, "query failed: %s (SQLSTATE %s)", r->error, ss);
        }
        st->n_queries++;
        st->n_failed += r->status != STORE_OK;
        actor_reply(&q->m, &r->m);
        msg_free(&q->m);
    }
    s->timed_out = 0;
    if (pg_conn_state(s->pg) == PG_READY)
        store_pump(st);
    store_maybe_finish_stop(st);
}

/* 1 if the server answered anything: a result that is not the report of
 * the connection breaking — libpq's own (no SQLSTATE) or the server's
 * farewell (class 08 connection exception, 57 operator intervention such
 * as 57P01 "terminating connection due to administrator command"), which
 * replaces the answer: the statement did not complete, nothing committed. */
static int any_result(const struct pg_outcome *o)
{
    for (int i = 0; i < o->n; i++) {
        if (!o->res[i])
            continue;
        if (PQresultStatus(o->res[i]) != PGRES_FATAL_ERROR)
            return 1;
        const char *ss = PQresultErrorField(o->res[i], PG_DIAG_SQLSTATE);
        if (ss && strncmp(ss, "08", 2) != 0 && strncmp(ss, "57", 2) != 0)
            return 1;
    }
    return 0;
}

static int exec_on(struct slot *s, struct store_query *q)
{
    struct pg_stmt stmts[PG_MAX_STMTS];
    for (int i = 0; i < q->n; i++) {
        stmts[i].sql = q->stmt[i].sql;
        stmts[i].nparams = q->stmt[i].nparams;
        stmts[i].params = (const char *const *)q->stmt[i].params;
    }
    if (pg_conn_exec(s->pg, stmts, q->n, 0, on_job_done, s) < 0)
        return -1;
    q->attempts++;
    s->job = q;
    s->deadline_us = q->deadline_us;
    return 0;
}

/* Hand queued queries to idle connections. */
void store_pump(struct store *st)
{
    if (!st->migrated)
        return;
    for (int i = 0; i < st->nslots && st->qhead; i++) {
        struct slot *s = &st->slots[i];
        if (pg_conn_state(s->pg) != PG_READY || s->job || s->pinging)
            continue;
        struct store_query *q = st->qhead;
        st->qhead = q->next;
        if (!st->qhead)
            st->qtail = NULL;
        st->qlen--;
        q->next = NULL;
        if (exec_on(s, q) < 0) {
            /* put it back at the head; the slot reports itself down soon */
            q->next = st->qhead;
            st->qhead = q;
            if (!st->qtail)
                st->qtail = q;
            st->qlen++;
        }
    }
}

void store_sweep(struct store *st)
{
    uint64_t now = clock_now_us();
    while (st->qhead && st->qhead->deadline_us <= now) {
        struct store_query *q = st->qhead;
        st->qhead = q->next;
        if (!st->qhead)
            st->qtail = NULL;
        st->qlen--;
        store_fail_query(q, STORE_ETIMEOUT, "the database did not answer in time");
    }
    for (int i = 0; i < st->nslots; i++) {
        struct slot *s = &st->slots[i];
        enum pg_state ps = pg_conn_state(s->pg);
        if (ps == PG_BUSY && (s->job || s->pinging) && s->deadline_us <= now) {
            s->timed_out = 1;
            s->reset_on_purpose = 1;
            alog_warn(st->self, "%s: %s past its deadline; reconnecting", pg_conn_tag(s->pg),
                      s->pinging ? "ping" : "query");
            snprintf(st->last_error, sizeof st->last_error, "the database stopped answering");
            pg_conn_reset(s->pg, "the database stopped answering");
        } else if (ps == PG_READY && !s->job && st->migrated &&
                   now - s->last_used_us >= PING_EVERY_US) {
            /* An idle connection to a frozen server would look healthy forever. */
            struct pg_stmt ping = { "SELECT 1", 0, NULL };
            if (pg_conn_exec(s->pg, &ping, 1, 0, on_job_done, s) == 0) {
                s->pinging = 1;
                s->deadline_us = now + PING_EVERY_US;
            }
        }
    }
}

void store_handle_query(struct store *st, struct store_query *q)
{
    if (st->stop_req) {
        store_fail_query(q, STORE_EUNAVAILABLE, "the server is shutting down");
        return;
    }
    if (!st->up && !st->probing) {
        store_fail_query(q, STORE_EUNAVAILABLE, st->last_error[0] ? st->last_error : "database unavailable");
        return;
    }
    if (st->qlen >= QUEUE_MAX) {
        store_fail_query(q, STORE_EUNAVAILABLE, "too many queries waiting for the database");
        return;
    }
    q->next = NULL;
    q->deadline_us = clock_now_us() + st->timeout_us;
    if (st->qtail)
        st->qtail->next = q;
    else
        st->qhead = q;
    st->qtail = q;
    st->qlen++;
    store_pump(st);
}
