/* scheduler: a min-heap of next fire times, claims in PostgreSQL, runs
 * through the run manager. See scheduler.h for the rules. */
#include "scheduler.h"

#include "bus.h"
#include "clock.h"
#include "cron.h"
#include "json.h"
#include "listener.h"
#include "minheap.h"
#include "run_manager.h"
#include "status.h"
#include "store.h"
#include "uuid.h"
#include "xmalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define TICK_MAX_US 1000000u /* re-look at least this often (wall-clock jumps, queued fires) */
#define MISSED_COUNT_MAX 100000

enum { TAG_TICK = 1 };
enum op { OP_LOAD_ALL, OP_LOAD_ONE, OP_CLAIM, OP_UNQUEUE, OP_NOTE, OP_START };

struct sched {
    TAILQ_ENTRY(sched) link;
    char id[UUID_STR_LEN];
    struct cron *cron;           /* NULL: a one-shot */
    const struct tz_zone *tz;    /* from the cache */
    int64_t next_us;             /* next due (Unix µs), -1 = none */
    uint64_t gen;                /* bumped by every reload: older heap entries are stale */
    int refs;                    /* heap entries pointing here */
    int gone;                    /* deleted or deactivated */
    int busy;                    /* a claim or a start is in flight */
    int queued;                  /* a queued fire waits for the previous run */
    int64_t queued_fire;
};
TAILQ_HEAD(sched_list, sched);

struct zone {
    SLIST_ENTRY(zone) link;
    struct tz_zone *z;
};

struct pend {
    LIST_ENTRY(pend) link;
    uint64_t corr;
    enum op op;
    struct sched *s;
    int64_t fire_id;
};

struct sch {
    actor_t *self;
    struct scheduler_config cfg;
    struct sched_list scheds;
    SLIST_HEAD(, zone) zones;
    struct minheap heap;
    LIST_HEAD(, pend) pend;
    struct actor_timer *tick;
    int db_up, loaded, subscribed, stopping;
    char prefix[64];
};

static int64_t now_us(void)
{
    return clock_wall_ms() * 1000; /* wall time: due times are wall times */
}

/* ---- schedules in memory ---- */

static struct sched *find(struct sch *sc, const char *id)
{
    struct sched *s;
    TAILQ_FOREACH(s, &sc->scheds, link)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static void maybe_release(struct sch *sc, struct sched *s)
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

static void arm(struct sch *sc)
{
    if (sc->stopping)
        return;
    const struct minheap_ent *top = minheap_top(&sc->heap);
    int64_t delay = top ? top->key - now_us() : (int64_t)TICK_MAX_US;
    if (delay < 0)
        delay = 0;
    if (delay > (int64_t)TICK_MAX_US)
        delay = TICK_MAX_US;
    actor_timer_start(sc->tick, (uint64_t)delay, 0);
}

static void push(struct sch *sc, struct sched *s)
{
    if (s->gone || s->next_us < 0)
        return;
    minheap_push(&sc->heap, s->next_us, s, s->gen);
    s->refs++;
    arm(sc);
}

/* ---- talking to the store and the run manager ---- */

static struct pend *query(struct sch *sc, struct store_query *q, enum op op, struct sched *s)
{
    uint64_t corr = actor_request(sc->self, sc->cfg.store, &q->m);
    if (!corr) {
        msg_free(&q->m);
        alog_warn(sc->self, "the store is not accepting queries");
        return NULL;
    }
    struct pend *p = xcalloc(1, sizeof *p);
    p->corr = corr;
    p->op = op;
    p->s = s;
    LIST_INSERT_HEAD(&sc->pend, p, link);
    return p;
}

static void note_fire(struct sch *sc, const struct sched *s, int64_t fire_id, const char *outcome,
                      const char *run_id, const char *detail)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "schedule_id", s->id);
    json_gen_kv_int(g, "fire_id", fire_id);
    json_gen_kv_str(g, "outcome", outcome);
    json_gen_kv_str(g, "run_id", run_id);
    json_gen_kv_str(g, "detail", detail);
    yajl_gen_map_close(g);
    char *ev = json_gen_finish(g, NULL);
    bus_event(sc->cfg.bus, sc->prefix, "schedule_fire", run_id, NULL, ev);
    free(ev);
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, fire_id);
    struct store_query *q = store_query_new();
    const char *p[4] = { id, outcome, run_id, detail };
    store_query_add(q, "UPDATE schedule_fires SET outcome = $2, run_id = $3::uuid, detail = coalesce($4, detail),"
                       " fired_at = clock_timestamp() WHERE id = $1::bigint", 4, p);
    query(sc, q, OP_NOTE, NULL);
}

/* Start the run of a claimed fire: target, percent and overrides are
 * row cols c0.. of r (script_id, scenario_id, percent, overrides). */
static void start_run(struct sch *sc, struct sched *s, int64_t fire_id, const PGresult *r, int c0)
{
    struct rm_create *rc = MSG_NEW(MSG_RM_CREATE, struct rm_create);
    rc->m.dtor = rm_create_dtor;
    if (!PQgetisnull(r, 0, c0))
        snprintf(rc->script_id, sizeof rc->script_id, "%s", PQgetvalue(r, 0, c0));
    else
        snprintf(rc->scenario_id, sizeof rc->scenario_id, "%s", PQgetvalue(r, 0, c0 + 1));
    rc->percent = atof(PQgetvalue(r, 0, c0 + 2));
    if (!PQgetisnull(r, 0, c0 + 3))
        rc->overrides = xstrdup(PQgetvalue(r, 0, c0 + 3));
    snprintf(rc->origin, sizeof rc->origin, "schedule:%s", s->id);
    uint64_t corr = actor_request(sc->self, sc->cfg.runs, &rc->m);
    if (!corr) {
        msg_free(&rc->m);
        note_fire(sc, s, fire_id, "failed", NULL, "the run manager is not accepting runs");
        return;
    }
    struct pend *p = xcalloc(1, sizeof *p);
    p->corr = corr;
    p->op = OP_START;
    p->s = s;
    p->fire_id = fire_id;
    s->busy++;
    LIST_INSERT_HEAD(&sc->pend, p, link);
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
    query(sc, q, OP_LOAD_ALL, NULL);
}

static void load_one(struct sch *sc, const char *id)
{
    if (!uuid_valid(id))
        return;
    struct store_query *q = store_query_new();
    const char *p[1] = { id };
    store_query_add(q, "SELECT " SCHED_COLS " FROM schedules WHERE id = $1", 1, p);
    query(sc, q, OP_LOAD_ONE, NULL);
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
    push(sc, s);
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
    arm(sc);
}

/* ---- firing ---- */

/* How many fire times of s lie in (from, to], at most MISSED_COUNT_MAX. */
static long count_between(const struct sched *s, int64_t from_s, int64_t to_s)
{
    long n = 0;
    for (int64_t t = from_s; n < MISSED_COUNT_MAX;) {
        t = cron_next(s->cron, s->tz, t);
        if (t < 0 || t > to_s)
            break;
        n++;
    }
    return n;
}

static void fire(struct sch *sc, struct sched *s, int64_t due_us)
{
    int64_t now = now_us();
    int late = now - due_us > (int64_t)SCHED_GRACE_S * 1000000;
    char detail[240] = "";
    int64_t following = -1;
    if (s->cron) {
        /* the next time to come, never one already gone by */
        int64_t from = late ? now / 1000000 : due_us / 1000000;
        int64_t t = cron_next(s->cron, s->tz, from);
        following = t < 0 ? -1 : t * 1000000;
    }
    if (late) {
        long missed = s->cron ? count_between(s, due_us / 1000000 - 1, now / 1000000) : 1;
        snprintf(detail, sizeof detail, "%ld fire%s missed while no server was running it (last due %+.1f s ago)",
                 missed, missed == 1 ? "" : "s", (double)(now - due_us) / 1e6);
    }
    struct store_query *q = store_query_new();
    char id_due[24], id_next[24];
    snprintf(id_due, sizeof id_due, "%" PRId64, due_us);
    snprintf(id_next, sizeof id_next, "%" PRId64, following);
    /* misfire policy is the schedule's: decided in SQL from its row */
    const char *p[5] = { s->id, id_due, following >= 0 ? id_next : NULL, late ? "1" : "0", detail };
    store_query_add(q,
        "WITH claim AS ("
        " UPDATE schedules SET next_due_at = CASE WHEN $3::bigint IS NULL THEN NULL"
        "  ELSE timestamptz 'epoch' + $3::bigint * interval '1 microsecond' END"
        " WHERE id = $1 AND active AND next_due_at = timestamptz 'epoch' + $2::bigint * interval '1 microsecond'"
        " RETURNING id, script_id, scenario_id, percent, overrides::text, overlap, misfire),"
        " f AS (INSERT INTO schedule_fires (schedule_id, due_at, outcome, detail)"
        "  SELECT id, timestamptz 'epoch' + $2::bigint * interval '1 microsecond',"
        "   CASE WHEN $4 = '1' AND misfire = 'skip' THEN 'missed' ELSE 'pending' END, nullif($5, '') FROM claim"
        "  ON CONFLICT DO NOTHING RETURNING id, outcome)"
        " SELECT c.script_id, c.scenario_id, c.percent, c.overrides, c.overlap, f.id, f.outcome,"
        "  (SELECT r.id FROM runs r WHERE r.origin = 'schedule:' || c.id::text"
        "   AND r.status IN ('queued', 'starting', 'running', 'paused', 'stopping') LIMIT 1)"
        " FROM claim c JOIN f ON true", 5, p);
    struct pend *pd = query(sc, q, OP_CLAIM, s);
    if (pd)
        s->busy++;
    s->next_us = following; /* what the claim sets; a lost claim reloads the row */
    if (following >= 0)
        push(sc, s);
}

static void on_claimed(struct sch *sc, struct pend *pd, struct store_result *res)
{
    struct sched *s = pd->s;
    s->busy--;
    if (res->status != STORE_OK || PQntuples(res->res[0]) == 0) {
        /* Another server fired it, the schedule changed, or the database
         * is away: the row says what is true now. */
        if (res->status != STORE_OK)
            alog_warn(sc->self, "schedule %s: claim failed: %s", s->id, res->error ? res->error : "?");
        load_one(sc, s->id);
        maybe_release(sc, s);
        return;
    }
    const PGresult *r = res->res[0];
    int64_t fire_id = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    const char *outcome = PQgetvalue(r, 0, 6), *overlap = PQgetvalue(r, 0, 4);
    if (strcmp(outcome, "missed") == 0) {
        alog_info(sc->self, "schedule %s: missed fires recorded (misfire policy skip)", s->id);
        return;
    }
    if (!PQgetisnull(r, 0, 7) && strcmp(overlap, "allow") != 0) {
        char detail[120];
        snprintf(detail, sizeof detail, "run %s was still going", PQgetvalue(r, 0, 7));
        if (strcmp(overlap, "queue") == 0 && !s->queued) {
            s->queued = 1;
            s->queued_fire = fire_id;
            note_fire(sc, s, fire_id, "queued", NULL, detail);
        } else {
            note_fire(sc, s, fire_id, "skipped_overlap", NULL, detail);
        }
        return;
    }
    start_run(sc, s, fire_id, r, 0);
}

/* A queued fire: start it once the previous run is over (guarded, so one
 * server does it). */
static void try_unqueue(struct sch *sc, struct sched *s)
{
    if (s->busy)
        return;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, s->queued_fire);
    struct store_query *q = store_query_new();
    const char *p[1] = { id };
    store_query_add(q,
        "WITH f AS (UPDATE schedule_fires f SET outcome = 'pending' WHERE f.id = $1::bigint"
        " AND f.outcome = 'queued' AND NOT EXISTS (SELECT 1 FROM runs r"
        "  WHERE r.origin = 'schedule:' || f.schedule_id::text"
        "  AND r.status IN ('queued', 'starting', 'running', 'paused', 'stopping'))"
        " RETURNING f.schedule_id)"
        " SELECT s.script_id, s.scenario_id, s.percent, s.overrides::text FROM schedules s JOIN f ON s.id = f.schedule_id",
        1, p);
    store_query_add(q, "SELECT outcome FROM schedule_fires WHERE id = $1::bigint", 1, p);
    struct pend *pd = query(sc, q, OP_UNQUEUE, s);
    if (pd) {
        pd->fire_id = s->queued_fire;
        s->busy++;
    }
}

static void on_unqueued(struct sch *sc, struct pend *pd, struct store_result *res)
{
    struct sched *s = pd->s;
    s->busy--;
    if (res->status != STORE_OK)
        return; /* try again next tick */
    if (PQntuples(res->res[0]) == 0) {
        /* The previous run is still going (the fire is still queued), or
         * another server took the fire or it is gone: stop waiting. */
        const PGresult *st = res->res[1];
        if (!PQntuples(st) || strcmp(PQgetvalue(st, 0, 0), "queued") != 0) {
            s->queued = 0;
            maybe_release(sc, s);
        }
        return;
    }
    s->queued = 0;
    start_run(sc, s, pd->fire_id, res->res[0], 0);
}

static void on_started(struct sch *sc, struct pend *pd, struct rm_reply *rep)
{
    struct sched *s = pd->s;
    s->busy--;
    if (rep->status >= 400) {
        alog_warn(sc->self, "schedule %s: the run did not start: %s", s->id, rep->message);
        note_fire(sc, s, pd->fire_id, "failed", NULL, rep->message);
    } else {
        alog_info(sc->self, "schedule %s started run %s", s->id, rep->run_id);
        note_fire(sc, s, pd->fire_id, "started", rep->run_id, NULL);
    }
    maybe_release(sc, s);
}

static void on_tick(struct sch *sc)
{
    int64_t now = now_us();
    struct minheap_ent e;
    const struct minheap_ent *top;
    while ((top = minheap_top(&sc->heap)) && top->key <= now) {
        minheap_pop(&sc->heap, &e);
        struct sched *s = e.val;
        s->refs--;
        if (e.tag == s->gen && !s->gone && s->next_us == e.key && sc->db_up)
            fire(sc, s, e.key);
        else if (e.tag == s->gen && !s->gone && !sc->db_up)
            push(sc, s); /* not now: the claim needs the database */
        maybe_release(sc, s);
        if (!sc->db_up)
            break;
    }
    struct sched *s;
    TAILQ_FOREACH(s, &sc->scheds, link) {
        if (s->queued && sc->db_up)
            try_unqueue(sc, s); /* changes no list: safe inside the walk */
    }
    arm(sc);
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
        on_claimed(sc, p, res);
        break;
    case OP_UNQUEUE:
        on_unqueued(sc, p, res);
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
    load_one(sc, n->payload);
    if (s && !s->busy) {
        s->gone = 1; /* until the row comes back, if it does */
        maybe_release(sc, s);
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
            on_tick(sc);
        return;
    case MSG_STORE_RESULT:
        on_store_result(sc, (struct store_result *)m);
        break;
    case MSG_RM_REPLY: {
        struct pend *p = take_pend(sc, m->corr);
        if (p) {
            on_started(sc, p, (struct rm_reply *)m);
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
