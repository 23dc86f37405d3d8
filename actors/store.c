/* store: pool of async libpq connections, query queue, migrations,
 * reconnect with backoff, and fail-fast while the database is down. */
#include "store.h"

#include "clock.h"
#include "migrations.h"
#include "pg_migrate.h"
#include "status.h"
#include "xmalloc.h"

#include <event2/dns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 2048
#define BACKOFF_MIN_US 100000u
#define BACKOFF_MAX_US 2000000u
#define SWEEP_US 100000u
#define PING_EVERY_US 2000000u
#define MAX_WATCHERS 16

enum { TAG_START = 1, TAG_SWEEP, TAG_FINISH, TAG_RETRY = 100 };

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

static void store_handle(actor_t *self, msg_t *m);

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
static void fail_query(struct store_query *q, enum store_status status, const char *why)
{
    struct store_result *r = MSG_NEW(MSG_STORE_RESULT, struct store_result);
    r->m.dtor = result_dtor;
    r->status = status;
    r->failed = -1;
    r->error = xstrdup(why);
    actor_reply(&q->m, &r->m);
    msg_free(&q->m);
}

static int slot_usable(const struct slot *s)
{
    enum pg_state st = pg_conn_state(s->pg);
    return st == PG_READY || st == PG_BUSY;
}

static void report(struct store *st)
{
    int up = st->migrated && !st->stop_req;
    if (up) {
        up = 0;
        for (int i = 0; i < st->nslots && !up; i++)
            up = slot_usable(&st->slots[i]);
    }
    /* while down, a new reason is news too (the first failure after
     * "connecting", a host that stopped resolving) */
    if (up == st->up && (up || strcmp(st->told, st->last_error) == 0))
        return;
    st->up = up;
    snprintf(st->told, sizeof st->told, "%s", up ? "" : st->last_error);
    if (up)
        alog_info(st->self, "database is up");
    else
        alog_warn(st->self, "database is down: %s", st->last_error);
    for (int i = 0; i < st->nwatchers; i++)
        dep_status_send(st->watchers[i], DEP_POSTGRES, up, up ? "" : st->last_error);
}

static void fail_all_queued(struct store *st, enum store_status status, const char *why)
{
    struct store_query *q = st->qhead;
    st->qhead = st->qtail = NULL;
    st->qlen = 0;
    while (q) {
        struct store_query *next = q->next;
        fail_query(q, status, why);
        q = next;
    }
}

static void maybe_finish_stop(struct store *st);
static void pump(struct store *st);
static int any_result(const struct pg_outcome *o);
static void drop_idle_peers(struct store *st, struct slot *lost);

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
        pump(st);
    maybe_finish_stop(st);
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
static void pump(struct store *st)
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

static void on_migrated(enum pg_migrate_status ms, const char *message, int applied, void *arg)
{
    struct slot *s = arg;
    struct store *st = s->st;
    st->migrating = 0;
    switch (ms) {
    case PG_MIGRATE_OK:
        alog_info(st->self, "%s", message);
        st->migrated = 1;
        st->probing = 0;
        report(st);
        pump(st);
        break;
    case PG_MIGRATE_CONN_LOST:
        alog_warn(st->self, "%s; will retry", message);
        break; /* the next ready connection tries again */
    case PG_MIGRATE_FAILED: {
        alog_error(st->self, "%s; the schema was left unchanged", message);
        snprintf(st->last_error, sizeof st->last_error, "migrations failed");
        if (st->supervisor) {
            struct store_fatal *f = MSG_NEW(MSG_STORE_FATAL, struct store_fatal);
            snprintf(f->reason, sizeof f->reason, "%s", message);
            if (actor_send_urgent(st->supervisor, &f->m) < 0)
                msg_free(&f->m);
        }
        break;
    }
    }
    (void)applied;
    maybe_finish_stop(st);
}

static void start_migrations(struct store *st, struct slot *s)
{
    st->migrating = 1;
    if (!pg_migrate_start(s->pg, stampede_migrations, stampede_migrations_count, on_migrated, s)) {
        st->migrating = 0;
        alog_warn(st->self, "cannot start migrations on %s", pg_conn_tag(s->pg));
    }
}

static void on_pg_state(struct pg_conn *c, enum pg_state state, const char *why, void *arg)
{
    struct slot *s = arg;
    struct store *st = s->st;
    (void)c;
    if (state == PG_READY) {
        if (s->backoff_us)
            st->n_reconnects++;
        s->was_up = 1;
        s->backoff_us = 0;
        s->last_used_us = clock_now_us();
        if (st->stop_req) {
            pg_conn_reset(s->pg, "shutting down");
            return;
        }
        if (!st->migrated && !st->migrating)
            start_migrations(st, s);
        else
            pump(st);
    } else if (state == PG_DOWN) {
        int was_up = s->was_up, on_purpose = s->reset_on_purpose;
        s->was_up = 0;
        s->reset_on_purpose = 0;
        s->pinging = 0;
        if (why)
            snprintf(st->last_error, sizeof st->last_error, "%s", why);
        if (was_up && !on_purpose && !st->stop_req)
            drop_idle_peers(st, s);
        if (!st->stop_req) {
            s->backoff_us = s->backoff_us ? s->backoff_us * 2 : BACKOFF_MIN_US;
            if (s->backoff_us > BACKOFF_MAX_US)
                s->backoff_us = BACKOFF_MAX_US;
            actor_timer_start(s->retry, s->backoff_us, 0);
            alog_debug(st->self, "%s down (%s); retry in %llu ms", pg_conn_tag(s->pg),
                       why ? why : "", (unsigned long long)(s->backoff_us / 1000));
        }
        int any = 0;
        for (int i = 0; i < st->nslots; i++)
            any |= slot_usable(&st->slots[i]);
        if (any) {
            pump(st); /* a query sent again after a lost connection */
        } else if (was_up && !on_purpose && !st->stop_req) {
            /* Connections were killed, or the server went: queries wait for
             * the first reconnect (BACKOFF_MIN_US away) to tell which. */
            st->probing = 1;
        } else {
            st->probing = 0;
            fail_all_queued(st, STORE_EUNAVAILABLE, st->last_error);
        }
        if (!any) {
            /* The server that answers next may not be the one we migrated. */
            if (st->migrated)
                alog_debug(st->self, "whole pool down: migrations will be checked again");
            st->migrated = 0;
        }
    }
    report(st);
    maybe_finish_stop(st);
}

/* One connection found the server gone: the idle ones were talking to the
 * same server and would fail the next query sent to them. Drop them now. */
static void drop_idle_peers(struct store *st, struct slot *lost)
{
    for (int i = 0; i < st->nslots; i++) {
        struct slot *o = &st->slots[i];
        if (o != lost && pg_conn_state(o->pg) == PG_READY && !o->job && !o->pinging)
            pg_conn_reset(o->pg, "another connection to the same server was lost");
    }
}

static void sweep(struct store *st)
{
    uint64_t now = clock_now_us();
    while (st->qhead && st->qhead->deadline_us <= now) {
        struct store_query *q = st->qhead;
        st->qhead = q->next;
        if (!st->qhead)
            st->qtail = NULL;
        st->qlen--;
        fail_query(q, STORE_ETIMEOUT, "the database did not answer in time");
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

static void handle_query(struct store *st, struct store_query *q)
{
    if (st->stop_req) {
        fail_query(q, STORE_EUNAVAILABLE, "the server is shutting down");
        return;
    }
    if (!st->up && !st->probing) {
        fail_query(q, STORE_EUNAVAILABLE, st->last_error[0] ? st->last_error : "database unavailable");
        return;
    }
    if (st->qlen >= QUEUE_MAX) {
        fail_query(q, STORE_EUNAVAILABLE, "too many queries waiting for the database");
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
    pump(st);
}

/* Stopping: once no query runs, tear down from a timer, never from inside
 * a pg callback (which may be what called us). */
static int stop_ready(const struct store *st)
{
    if (!st->stop_req || st->migrating)
        return 0;
    for (int i = 0; i < st->nslots; i++)
        if (st->slots[i].job)
            return 0; /* running queries finish first (their deadline bounds this) */
    return 1;
}

static void maybe_finish_stop(struct store *st)
{
    if (stop_ready(st) && !actor_timer_pending(st->finish))
        actor_timer_start(st->finish, 0, 0);
}

/* Connections, timers and the resolver: released by a finished MSG_STOP,
 * or by store_free when the store never stopped (a failed start, the
 * shutdown deadline). */
static void store_release(struct store *st)
{
    for (int i = 0; i < st->nslots; i++) {
        actor_timer_free(st->slots[i].retry);
        st->slots[i].retry = NULL;
        pg_conn_free(st->slots[i].pg);
        st->slots[i].pg = NULL;
    }
    actor_timer_free(st->sweep);
    actor_timer_free(st->start);
    actor_timer_free(st->finish);
    st->sweep = st->start = st->finish = NULL;
    if (st->dns)
        evdns_base_free(st->dns, 0);
    st->dns = NULL;
    st->stopped = 1;
}

static void finish_stop(struct store *st)
{
    store_release(st);
    msg_t *req = st->stop_req;
    actor_reply(req, msg_new(MSG_STOPPED, sizeof(msg_t)));
    msg_free(req);
    alog_info(st->self, "stopped");
}

void store_free(actor_t *a)
{
    if (!a)
        return;
    struct store *st = actor_state(a);
    if (!st->stopped) {
        store_release(st);
        /* the loops are over: nobody waits for these answers */
        for (int i = 0; i < st->nslots; i++)
            if (st->slots[i].job) {
                msg_free(&st->slots[i].job->m);
                st->slots[i].job = NULL;
            }
        for (struct store_query *q = st->qhead, *next; q; q = next) {
            next = q->next;
            msg_free(&q->m);
        }
        st->qhead = st->qtail = NULL;
    }
    free(st->slots);
    free(st->dsn);
    free(st);
    actor_free(a);
}

static void store_handle(actor_t *self, msg_t *m)
{
    struct store *st = actor_state(self);
    if (st->stopped) {
        if (m->type == MSG_STORE_QUERY)
            fail_query((struct store_query *)m, STORE_EUNAVAILABLE, "the server is shutting down");
        else if (m->type == MSG_STOP)
            actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t))), msg_free(m);
        else
            msg_free(m);
        return;
    }
    switch (m->type) {
    case MSG_TIMER: {
        struct msg_timer *t = (struct msg_timer *)m;
        if (t->tag == TAG_START || t->tag >= TAG_RETRY) {
            struct slot *s = &st->slots[t->tag == TAG_START ? 0 : (int)t->tag - TAG_RETRY];
            if (t->tag == TAG_START) {
                for (int i = 0; i < st->nslots; i++)
                    pg_conn_connect(st->slots[i].pg);
            } else if (!st->stop_req && pg_conn_state(s->pg) == PG_DOWN) {
                pg_conn_connect(s->pg);
            }
        } else if (t->tag == TAG_SWEEP) {
            sweep(st);
        } else if (t->tag == TAG_FINISH && stop_ready(st)) {
            finish_stop(st);
        }
        return; /* timer messages are static */
    }
    case MSG_STORE_QUERY:
        handle_query(st, (struct store_query *)m);
        return;
    case MSG_STORE_STATS_GET: {
        struct store_stats *ss = MSG_NEW(MSG_STORE_STATS, struct store_stats);
        ss->pool = st->nslots;
        for (int i = 0; i < st->nslots; i++)
            ss->connected += slot_usable(&st->slots[i]);
        ss->up = st->up;
        ss->queued = st->qlen;
        ss->queries = st->n_queries;
        ss->failed = st->n_failed;
        ss->retried = st->n_retried;
        ss->reconnects = st->n_reconnects;
        actor_reply(m, &ss->m);
        msg_free(m);
        return;
    }
    case MSG_DEP_WATCH:
        if (m->reply_to && st->nwatchers < MAX_WATCHERS) {
            st->watchers[st->nwatchers++] = m->reply_to;
            dep_status_send(m->reply_to, DEP_POSTGRES, st->up,
                            st->up ? "" : (st->last_error[0] ? st->last_error : "connecting"));
        }
        msg_free(m);
        return;
    case MSG_STOP:
        if (st->stop_req) {
            actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
            msg_free(m);
            return;
        }
        st->stop_req = m;
        snprintf(st->last_error, sizeof st->last_error, "the server is shutting down");
        fail_all_queued(st, STORE_EUNAVAILABLE, "the server is shutting down");
        report(st);
        maybe_finish_stop(st);
        return;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        msg_free(m);
        return;
    }
}

actor_t *store_new(struct loop *l, const struct store_config *cfg)
{
    struct store *st = xcalloc(1, sizeof *st);
    st->dsn = xstrdup(cfg->dsn);
    st->timeout_us = cfg->query_timeout_us;
    st->supervisor = cfg->supervisor;
    st->nslots = cfg->pool > 0 ? cfg->pool : 1;
    snprintf(st->last_error, sizeof st->last_error, "connecting");
    snprintf(st->told, sizeof st->told, "connecting");
    st->self = actor_new(l, "store", -1, store_handle, st, 0);
    /* Only for resolving a host name in the DSN; no resolv.conf means the
     * hosts file and numeric names still work. */
    st->dns = loop_dns_new(loop_base(l));
    if (!st->dns)
        alog_warn(st->self, "no DNS resolver: a database host name will not resolve (addresses work)");
    st->slots = xcalloc((size_t)st->nslots, sizeof *st->slots);
    for (int i = 0; i < st->nslots; i++) {
        struct slot *s = &st->slots[i];
        char tag[32];
        snprintf(tag, sizeof tag, "store.pg%d", i);
        s->st = st;
        s->idx = i;
        s->pg = pg_conn_new(loop_base(l), st->dns, st->dsn, tag, on_pg_state, s);
        s->retry = actor_timer_new(st->self, TAG_RETRY + (uint32_t)i);
    }
    st->start = actor_timer_new(st->self, TAG_START);
    actor_timer_start(st->start, 0, 0);
    st->finish = actor_timer_new(st->self, TAG_FINISH);
    st->sweep = actor_timer_new(st->self, TAG_SWEEP);
    actor_timer_start(st->sweep, SWEEP_US, SWEEP_US);
    return st->self;
}
