/* listener: one LISTEN connection, notifications as messages. */
#include "listener.h"

#include "pg.h"
#include "xmalloc.h"

#include <ctype.h>
#include <event2/dns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_US 100000u
#define BACKOFF_MAX_US 2000000u
#define MAX_SUBS 16

enum { TAG_CONNECT = 1 };

struct sub {
    actor_t *who;
    char channel[LISTEN_CHANNEL_MAX];
    int listening; /* LISTEN sent on the current session */
};

struct listener {
    actor_t *self;
    struct evdns_base *dns;
    struct pg_conn *pg;
    struct actor_timer *retry;
    uint64_t backoff_us;
    struct sub subs[MAX_SUBS];
    int nsubs;
    int busy;      /* a LISTEN is running */
    int stopped;
};

static void send_listens(struct listener *ls);

static void notify_one(const struct sub *s, const char *payload, int resync)
{
    struct listen_notify *n = MSG_NEW(MSG_LISTEN_NOTIFY, struct listen_notify);
    snprintf(n->channel, sizeof n->channel, "%s", s->channel);
    snprintf(n->payload, sizeof n->payload, "%s", payload);
    n->resync = resync;
    if (actor_send_urgent(s->who, &n->m) < 0)
        msg_free(&n->m);
}

static void on_notify(struct pg_conn *c, const char *channel, const char *payload, void *arg)
{
    struct listener *ls = arg;
    (void)c;
    for (int i = 0; i < ls->nsubs; i++)
        if (strcmp(ls->subs[i].channel, channel) == 0)
            notify_one(&ls->subs[i], payload, 0);
}

static void on_listened(struct pg_conn *c, struct pg_outcome *o, void *arg)
{
    struct listener *ls = arg;
    (void)c;
    ls->busy = 0;
    if (!o->ok) {
        alog_warn(ls->self, "LISTEN failed: %s", o->error ? o->error : "?");
        return; /* the connection resets and we try again */
    }
    for (int i = 0; i < ls->nsubs; i++) {
        if (!ls->subs[i].listening && ls->subs[i].channel[0]) {
            ls->subs[i].listening = 1;
            /* (re)listening: what happened meanwhile is unknown */
            notify_one(&ls->subs[i], "", 1);
        }
    }
    send_listens(ls); /* subscriptions that came in meanwhile */
}

/* One LISTEN per channel not yet listened to, as one simple query. */
static void send_listens(struct listener *ls)
{
    if (ls->busy || pg_conn_state(ls->pg) != PG_READY)
        return;
    char sql[MAX_SUBS * (LISTEN_CHANNEL_MAX + 16)] = "";
    size_t n = 0;
    for (int i = 0; i < ls->nsubs; i++)
        if (!ls->subs[i].listening)
            n += (size_t)snprintf(sql + n, sizeof sql - n, "LISTEN %s;", ls->subs[i].channel);
    if (!n)
        return;
    struct pg_stmt st = { sql, 0, NULL };
    if (pg_conn_exec(ls->pg, &st, 1, 1, on_listened, ls) == 0)
        ls->busy = 1;
}

static void on_state(struct pg_conn *c, enum pg_state state, const char *why, void *arg)
{
    struct listener *ls = arg;
    (void)c;
    if (state == PG_READY) {
        ls->backoff_us = 0;
        send_listens(ls);
    } else if (state == PG_DOWN) {
        ls->busy = 0;
        for (int i = 0; i < ls->nsubs; i++)
            ls->subs[i].listening = 0;
        if (ls->stopped)
            return;
        ls->backoff_us = ls->backoff_us ? ls->backoff_us * 2 : BACKOFF_MIN_US;
        if (ls->backoff_us > BACKOFF_MAX_US)
            ls->backoff_us = BACKOFF_MAX_US;
        alog_debug(ls->self, "down (%s); retry in %llu ms", why ? why : "",
                   (unsigned long long)(ls->backoff_us / 1000));
        actor_timer_start(ls->retry, ls->backoff_us, 0);
    }
}

static int channel_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static void listener_handle(actor_t *self, msg_t *m)
{
    struct listener *ls = actor_state(self);
    switch (m->type) {
    case MSG_TIMER:
        if (!ls->stopped && pg_conn_state(ls->pg) == PG_DOWN)
            pg_conn_connect(ls->pg);
        return;
    case MSG_LISTEN_SUBSCRIBE: {
        struct listen_subscribe *s = (struct listen_subscribe *)m;
        if (!m->reply_to || !channel_ok(s->channel) || ls->nsubs == MAX_SUBS) {
            alog_error(self, "refused a subscription to \"%s\"", s->channel);
        } else {
            struct sub *x = &ls->subs[ls->nsubs++];
            x->who = m->reply_to;
            snprintf(x->channel, sizeof x->channel, "%s", s->channel);
            x->listening = 0;
            send_listens(ls);
        }
        break;
    }
    case MSG_STOP:
        ls->stopped = 1;
        actor_timer_stop(ls->retry);
        pg_conn_reset(ls->pg, "shutting down");
        actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
        break;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *listener_new(struct loop *l, const struct listener_config *cfg)
{
    struct listener *ls = xcalloc(1, sizeof *ls);
    ls->self = actor_new(l, "listener", -1, listener_handle, ls, 0);
    ls->dns = loop_dns_new(loop_base(l));
    if (!ls->dns)
        alog_warn(ls->self, "no DNS resolver: a database host name will not resolve (addresses work)");
    ls->pg = pg_conn_new(loop_base(l), ls->dns, cfg->dsn, "listener.pg", on_state, ls);
    pg_conn_on_notify(ls->pg, on_notify, ls);
    ls->retry = actor_timer_new(ls->self, TAG_CONNECT);
    actor_timer_start(ls->retry, 0, 0);
    return ls->self;
}

void listener_free(actor_t *a)
{
    if (!a)
        return;
    struct listener *ls = actor_state(a);
    actor_timer_free(ls->retry);
    pg_conn_free(ls->pg);
    if (ls->dns)
        evdns_base_free(ls->dns, 0);
    free(ls);
    actor_free(a);
}
