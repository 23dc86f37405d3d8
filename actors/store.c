/* store: the PostgreSQL actor — its pool of async libpq connections,
 * reconnect with backoff, migrations, the report to watchers and stopping.
 * Queries (queue, dispatch, fail-fast while the database is down) are in
 * store_query.c. */
#include "store_int.h"

#include "clock.h"
#include "migrations.h"
#include "pg_migrate.h"
#include "status.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_US 100000u
#define BACKOFF_MAX_US 2000000u
#define SWEEP_US 100000u

enum { TAG_START = 1, TAG_SWEEP, TAG_FINISH, TAG_RETRY = 100 };

static void store_handle(actor_t *self, msg_t *m);

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

static void drop_idle_peers(struct store *st, struct slot *lost);

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
        store_pump(st);
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
    store_maybe_finish_stop(st);
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
            store_pump(st);
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
            store_pump(st); /* a query sent again after a lost connection */
        } else if (was_up && !on_purpose && !st->stop_req) {
            /* Connections were killed, or the server went: queries wait for
             * the first reconnect (BACKOFF_MIN_US away) to tell which. */
            st->probing = 1;
        } else {
            st->probing = 0;
            store_fail_all_queued(st, STORE_EUNAVAILABLE, st->last_error);
        }
        if (!any) {
            /* The server that answers next may not be the one we migrated. */
            if (st->migrated)
                alog_debug(st->self, "whole pool down: migrations will be checked again");
            st->migrated = 0;
        }
    }
    report(st);
    store_maybe_finish_stop(st);
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

void store_maybe_finish_stop(struct store *st)
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
            store_fail_query((struct store_query *)m, STORE_EUNAVAILABLE, "the server is shutting down");
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
            store_sweep(st);
        } else if (t->tag == TAG_FINISH && stop_ready(st)) {
            finish_stop(st);
        }
        return; /* timer messages are static */
    }
    case MSG_STORE_QUERY:
        store_handle_query(st, (struct store_query *)m);
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
        store_fail_all_queued(st, STORE_EUNAVAILABLE, "the server is shutting down");
        report(st);
        store_maybe_finish_stop(st);
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
