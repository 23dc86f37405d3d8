/* scheduler_fire: due fires — claimed in PostgreSQL first (a unique
 * (schedule_id, due_at) row, so one server of many starts the run),
 * then misfire and overlap policies, the run started through the run
 * manager, and the fire's outcome noted. */
#include "scheduler_int.h"

#include "bus.h"
#include "cron.h"
#include "json.h"
#include "xmalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- talking to the store and the run manager ---- */

struct pend *sch_query(struct sch *sc, struct store_query *q, enum op op, struct sched *s)
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
    sch_query(sc, q, OP_NOTE, NULL);
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
    int64_t now = sch_now_us();
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
    struct pend *pd = sch_query(sc, q, OP_CLAIM, s);
    if (pd)
        s->busy++;
    s->next_us = following; /* what the claim sets; a lost claim reloads the row */
    if (following >= 0)
        sch_push(sc, s);
}

void sch_on_claimed(struct sch *sc, struct pend *pd, struct store_result *res)
{
    struct sched *s = pd->s;
    s->busy--;
    if (res->status != STORE_OK || PQntuples(res->res[0]) == 0) {
        /* Another server fired it, the schedule changed, or the database
         * is away: the row says what is true now. */
        if (res->status != STORE_OK)
            alog_warn(sc->self, "schedule %s: claim failed: %s", s->id, res->error ? res->error : "?");
        sch_load_one(sc, s->id);
        sch_maybe_release(sc, s);
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
    struct pend *pd = sch_query(sc, q, OP_UNQUEUE, s);
    if (pd) {
        pd->fire_id = s->queued_fire;
        s->busy++;
    }
}

void sch_on_unqueued(struct sch *sc, struct pend *pd, struct store_result *res)
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
            sch_maybe_release(sc, s);
        }
        return;
    }
    s->queued = 0;
    start_run(sc, s, pd->fire_id, res->res[0], 0);
}

void sch_on_started(struct sch *sc, struct pend *pd, struct rm_reply *rep)
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
    sch_maybe_release(sc, s);
}

void sch_on_tick(struct sch *sc)
{
    int64_t now = sch_now_us();
    struct minheap_ent e;
    const struct minheap_ent *top;
    while ((top = minheap_top(&sc->heap)) && top->key <= now) {
        minheap_pop(&sc->heap, &e);
        struct sched *s = e.val;
        s->refs--;
        if (e.tag == s->gen && !s->gone && s->next_us == e.key && sc->db_up)
            fire(sc, s, e.key);
        else if (e.tag == s->gen && !s->gone && !sc->db_up)
            sch_push(sc, s); /* not now: the claim needs the database */
        sch_maybe_release(sc, s);
        if (!sc->db_up)
            break;
    }
    struct sched *s;
    TAILQ_FOREACH(s, &sc->scheds, link) {
        if (s->queued && sc->db_up)
            try_unqueue(sc, s); /* changes no list: safe inside the walk */
    }
    sch_arm(sc);
}

