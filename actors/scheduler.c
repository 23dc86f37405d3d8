/* scheduler: a min-heap of next fire times, claims in PostgreSQL, runs
 * through the run manager (firing is in scheduler_fire.c). See
 * scheduler.h for the rules. */
#include "scheduler_int.h"

#include "bus.h"
#include "cron.h"
#include "json.h"
#include "listener.h"
#include "status.h"
#include "xmalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- schedules in memory ---- */

static struct sched *find(struct sch *sc, const char *id)
{
    struct sched *s;
    TAILQ_FOREACH(s, &sc->scheds, link)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

void sch_maybe_release(struct sch *sc, struct sched *s)
{
    if (s->gone && !s->refs && !s->busy && !s->queued) {
        TAILQ_REMOVE(&sc->scheds, s, link);
        cron_free(s->cron);
        free(s);
    }
}

static const struct tz_zone *zone(struct sch *sc, const char *name)
{
    struct zone *z;
    SLIST_FOREACH(z, &sc->zones, link)
        if (strcmp(tz_name(z->z), name) == 0)
            return z->z;
    char err[200];
    /* A local file of a few KB, read once per zone name for the process. */
    struct tz_zone *t = tz_load(name, err, sizeof err);
    if (!t) {
        alog_error(sc->self, "%s", err);
        return NULL;
    }
    z = xcalloc(1, sizeof *z);
    z->z = t;
    SLIST_INSERT_HEAD(&sc->zones, z, link);
    return t;
}

void sch_arm(struct sch *sc)
{
    if (sc->stopping)
        return;
    const struct minheap_ent *top = minheap_top(&sc->heap);
    int64_t delay = top ? top->key - sch_now_us() : (int64_t)TICK_MAX_US;
    if (delay < 0)
        delay = 0;
    if (delay > (int64_t)TICK_MAX_US)
        delay = TICK_MAX_US;
    actor_timer_start(sc->tick, (uint64_t)delay, 0);
}

void sch_push(struct sch *sc, struct sched *s)
{
    if (s->gone || s->next_us < 0)
        return;
    minheap_push(&sc->heap, s->next_us, s, s->gen);
    s->refs++;
    sch_arm(sc);
}

/* ---- loading ---- */

#define SCHED_COLS "id, cron, tz, (extract(epoch FROM next_due_at) * 1000000)::bigint, active"

static void load_all(struct sch *sc)
{
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT " SCHED_COLS " FROM schedules WHERE active AND next_due_at IS NOT NULL", 0, NULL);
    /* fires a server claimed and then died before starting the run */
    store_query_add(q, "UPDATE schedule_fires SET outcome = 'failed', detail = 'the server firing it"
                       " stopped before the run started' WHERE outcome = 'pending'"
                       " AND fired_at < now() - interval '30 seconds'", 0, NULL);
    store_query_add(q, "SELECT f.id, f.schedule_id FROM schedule_fires f WHERE f.outcome = 'queued'", 0, NULL);
    sch_query(sc, q, OP_LOAD_ALL, NULL);
}

void sch_load_one(struct sch *sc, const char *id)
{
    if (!uuid_valid(id))
        return;
    struct store_query *q = store_query_new();
    const char *p[1] = { id };
    store_query_add(q, "SELECT " SCHED_COLS " FROM schedules WHERE id = $1", 1, p);
    sch_query(sc, q, OP_LOAD_ONE, NULL);
}

/* Take row i of a schedules result (SCHED_COLS) into memory. */
static void take_row(struct sch *sc, const PGresult *r, int i)
{
    const char *id = PQgetvalue(r, i, 0);
    struct sched *s = find(sc, id);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        snprintf(s->id, sizeof s->id, "%s", id);
        TAILQ_INSERT_TAIL(&sc->scheds, s, link);
    }
    s->gen++;
    cron_free(s->cron);
    s->cron = NULL;
    s->gone = 0;
    s->next_us = PQgetisnull(r, i, 3) ? -1 : strtoll(PQgetvalue(r, i, 3), NULL, 10);
    if (PQgetvalue(r, i, 4)[0] != 't')
        s->next_us = -1;
    char err[300];
    if (!PQgetisnull(r, i, 1) && !(s->cron = cron_parse(PQgetvalue(r, i, 1), err, sizeof err))) {
        alog_error(sc->self, "schedule %s: %s", s->id, err);
        s->next_us = -1;
    }
    if (!(s->tz = zone(sc, PQgetvalue(r, i, 2))))
        s->next_us = -1;
    if (s->next_us < 0)
        s->gone = 1;
    sch_push(sc, s);
}

static void on_loaded_all(struct sch *sc, struct store_result *res)
{
    if (res->status != STORE_OK) {
        alog_warn(sc->self, "cannot load the schedules: %s", res->error ? res->error : "?");
        return; /* the next DEP_STATUS up or resync tries again */
    }
    struct sched *s;
    TAILQ_FOREACH(s, &sc->scheds, link)
        s->gone = 1, s->gen++;
    const PGresult *r = res->res[0];
    for (int i = 0; i < PQntuples(r); i++)
        take_row(sc, r, i);
    const PGresult *qf = res->res[2];
    for (int i = 0; i < PQntuples(qf); i++) {
        struct sched *x = find(sc, PQgetvalue(qf, i, 1));
        if (x && !x->queued) {
            x->queued = 1;
            x->queued_fire = strtoll(PQgetvalue(qf, i, 0), NULL, 10);
        }
    }
    sc->loaded = 1;
    alog_info(sc->self, "%d active schedule%s", PQntuples(r), PQntuples(r) == 1 ? "" : "s");
    sch_arm(sc);
}

/* ---- the actor ---- */

static struct pend *take_pend(struct sch *sc, uint64_t corr)
{
    struct pend *p;
    LIST_FOREACH(p, &sc->pend, link) {
        if (p->corr == corr) {
            LIST_REMOVE(p, link);
            return p;
        }
    }
    return NULL;
}

static void on_store_result(struct sch *sc, struct store_result *res)
{
    struct pend *p = take_pend(sc, res->m.corr);
    if (!p)
        return;
    switch (p->op) {
    case OP_LOAD_ALL:
        on_loaded_all(sc, res);
        break;
    case OP_LOAD_ONE:
        if (res->status == STORE_OK) {
            if (PQntuples(res->res[0]))
                take_row(sc, res->res[0], 0);
        }
        break;
    case OP_CLAIM:
        sch_on_claimed(sc, p, res);
        break;
    case OP_UNQUEUE:
        sch_on_unqueued(sc, p, res);
        break;
    case OP_NOTE:
    case OP_START:
        if (res->status != STORE_OK)
            alog_warn(sc->self, "cannot record a fire: %s", res->error ? res->error : "?");
        break;
    }
    free(p);
}

static void on_notify(struct sch *sc, struct listen_notify *n)
{
    if (n->resync) {
        if (sc->db_up)
            load_all(sc);
        return;
    }
    if (!sc->loaded)
        return; /* the full load will see it */
    struct sched *s = find(sc, n->payload);
    if (s)
        s->gen++; /* what the heap holds for it is stale from now on */
    sch_load_one(sc, n->payload);
    if (s && !s->busy) {
        s->gone = 1; /* until the row comes back, if it does */
        sch_maybe_release(sc, s);
    }
}

static void subscribe(struct sch *sc)
{
    if (sc->subscribed || !sc->cfg.listener)
        return;
    struct listen_subscribe *ls = MSG_NEW(MSG_LISTEN_SUBSCRIBE, struct listen_subscribe);
    snprintf(ls->channel, sizeof ls->channel, "%s", SCHED_CHANNEL);
    ls->m.reply_to = sc->self;
    if (actor_send_urgent(sc->cfg.listener, &ls->m) < 0)
        msg_free(&ls->m);
    else
        sc->subscribed = 1;
}

static void scheduler_handle(actor_t *self, msg_t *m)
{
    struct sch *sc = actor_state(self);
    switch (m->type) {
    case MSG_TIMER:
        if (!sc->stopping)
            sch_on_tick(sc);
        return;
    case MSG_STORE_RESULT:
        on_store_result(sc, (struct store_result *)m);
        break;
    case MSG_RM_REPLY: {
        struct pend *p = take_pend(sc, m->corr);
        if (p) {
            sch_on_started(sc, p, (struct rm_reply *)m);
            free(p);
        }
        break;
    }
    case MSG_LISTEN_NOTIFY:
        on_notify(sc, (struct listen_notify *)m);
        break;
    case MSG_DEP_STATUS: {
        struct msg_dep_status *d = (struct msg_dep_status *)m;
        if (d->dep == DEP_POSTGRES) {
            int was = sc->db_up;
            sc->db_up = d->up;
            if (d->up && !was) {
                subscribe(sc);
                load_all(sc); /* at start, and after an outage: what changed meanwhile */
            }
        }
        break;
    }
    case MSG_STOP:
        sc->stopping = 1;
        actor_timer_stop(sc->tick);
        actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
        break;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *scheduler_new(struct loop *l, const struct scheduler_config *cfg)
{
    struct sch *sc = xcalloc(1, sizeof *sc);
    sc->cfg = *cfg;
    snprintf(sc->prefix, sizeof sc->prefix, "%s", cfg->prefix ? cfg->prefix : "stampede");
    sc->cfg.prefix = sc->prefix;
    TAILQ_INIT(&sc->scheds);
    SLIST_INIT(&sc->zones);
    LIST_INIT(&sc->pend);
    minheap_init(&sc->heap);
    sc->self = actor_new(l, "scheduler", -1, scheduler_handle, sc, 0);
    sc->tick = actor_timer_new(sc->self, TAG_TICK);
    msg_t *w = msg_new(MSG_DEP_WATCH, sizeof(msg_t));
    w->reply_to = sc->self;
    if (actor_send_urgent(cfg->store, w) < 0)
        msg_free(w);
    return sc->self;
}

void scheduler_free(actor_t *a)
{
    if (!a)
        return;
    struct sch *sc = actor_state(a);
    actor_timer_free(sc->tick);
    while (!TAILQ_EMPTY(&sc->scheds)) {
        struct sched *s = TAILQ_FIRST(&sc->scheds);
        TAILQ_REMOVE(&sc->scheds, s, link);
        cron_free(s->cron);
        free(s);
    }
    while (!SLIST_EMPTY(&sc->zones)) {
        struct zone *z = SLIST_FIRST(&sc->zones);
        SLIST_REMOVE_HEAD(&sc->zones, link);
        tz_free(z->z);
        free(z);
    }
    while (!LIST_EMPTY(&sc->pend)) {
        struct pend *p = LIST_FIRST(&sc->pend);
        LIST_REMOVE(p, link);
        free(p);
    }
    minheap_deinit(&sc->heap);
    free(sc);
    actor_free(a);
}
