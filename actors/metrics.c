/* metrics: per-second assembly, series, publishing, thresholds, summary. */
#include "metrics.h"

#include "bus.h"
#include "clock.h"
#include "idmap.h"
#include "report.h"
#include "series.h"
#include "series_writer.h"
#include "xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One second being assembled. */
struct slot {
    uint32_t second;
    struct stats_window *w;  /* everything measured in this second */
    struct stats_window *part[2]; /* stored series only: [0] measured, [1] warmup part */
    uint64_t *span;          /* per shard: time covered */
    uint64_t *measured;      /* per shard: time covered outside warmup */
    int warmup;
    struct slot *next;       /* pending list, ascending seconds */
};

struct mrun {
    uint64_t run_id;
    char label[64];
    char id_text[64];        /* label, or the number */
    char script_id[40];
    char script_name[208];
    char state[16];          /* what frames say: running, paused, stopping, finished */
    struct frame_totals totals;
    double elapsed_s;
    const struct script *sc;
    int nshards;
    int64_t started_wall_ms;
    actor_t *supervisor;
    uint32_t *next_second;   /* per shard: the next second it will send */
    int *last;               /* per shard: sent its last window */
    struct slot *pending;
    uint32_t next_emit;
    struct stats_window *cum;
    double measured_s;
    struct run_point *series;
    int npoints, cap;
    int abort_sent;
    char channel[160];
};

struct metrics {
    actor_t *self;
    actor_t *bus;
    actor_t *series;
    uint64_t series_drops;   /* batches the series writer could not take */
    char prefix[64];
    struct idmap runs;
};

static void summary_dtor(msg_t *m)
{
    struct metrics_summary *s = (struct metrics_summary *)m;
    free(s->json);
    free(s->text);
    free(s->series);
}

static struct slot *slot_get(struct mrun *r, uint32_t second)
{
    struct slot **pp = &r->pending;
    while (*pp && (*pp)->second < second)
        pp = &(*pp)->next;
    if (*pp && (*pp)->second == second)
        return *pp;
    struct slot *s = xcalloc(1, sizeof *s);
    s->second = second;
    s->w = stats_window_new(r->sc->nsteps, r->sc->nmain);
    s->span = xcalloc((size_t)r->nshards, sizeof *s->span);
    s->measured = xcalloc((size_t)r->nshards, sizeof *s->measured);
    s->next = *pp;
    *pp = s;
    return s;
}

static void slot_free(struct slot *s)
{
    stats_window_free(s->w);
    stats_window_free(s->part[0]);
    stats_window_free(s->part[1]);
    free(s->span);
    free(s->measured);
    free(s);
}

static void evaluate(struct mrun *r, double *observed, int *ok)
{
    for (int i = 0; i < r->sc->nthresholds; i++) {
        observed[i] = report_observe(&r->sc->thresholds[i], r->cum, r->measured_s);
        ok[i] = threshold_holds(&r->sc->thresholds[i], observed[i]);
    }
}

static void check_abort(struct metrics *m, struct mrun *r)
{
    if (r->abort_sent || !r->sc->nthresholds)
        return;
    double elapsed = (double)r->next_emit; /* seconds of run time assembled */
    for (int i = 0; i < r->sc->nthresholds; i++) {
        const struct threshold *t = &r->sc->thresholds[i];
        if (!t->abort_on_fail || elapsed * 1e6 < (double)t->delay_abort_eval_us)
            continue;
        double v = report_observe(t, r->cum, r->measured_s);
        if (isnan(v) || threshold_holds(t, v))
            continue;
        struct run_abort *a = MSG_NEW(MSG_RUN_ABORT, struct run_abort);
        a->run_id = r->run_id;
        snprintf(a->reason, sizeof a->reason, "threshold %s %s failed (observed %.3f)", t->metric_text,
                 t->expr_text, v);
        alog_warn(m->self, "run %llu: %s", (unsigned long long)r->run_id, a->reason);
        if (actor_send_urgent(r->supervisor, &a->m) < 0)
            msg_free(&a->m);
        r->abort_sent = 1;
        return;
    }
}

/* Hand the stored rows of one second to the series writer: the measured
 * part and the warmup part separately, so that the measured rows merge to
 * exactly the summary. */
static void store_second(struct metrics *m, struct mrun *r, struct slot *s, uint64_t span_us,
                         uint64_t measured_us)
{
    yajl_gen g = json_gen_new();
    yajl_gen_array_open(g);
    uint64_t spans[2] = { measured_us, span_us > measured_us ? span_us - measured_us : 0 };
    for (int k = 0; k < 2; k++)
        if (s->part[k])
            series_gen_rows(g, r->sc, s->part[k], s->second, (uint32_t)((spans[k] + 500) / 1000), k);
    yajl_gen_array_close(g);
    struct series_batch *b = MSG_NEW(MSG_SERIES_BATCH, struct series_batch);
    b->m.dtor = series_batch_dtor;
    b->run_id = r->run_id;
    b->json = json_gen_finish(g, &b->len);
    if (actor_send(m->series, &b->m) < 0) {
        m->series_drops++;
        alog_warn(m->self, "run %llu second %u: the series writer is full; rows dropped",
                  (unsigned long long)r->run_id, s->second);
        msg_free(&b->m);
    }
}

static int all_done(const struct mrun *r)
{
    for (int i = 0; i < r->nshards; i++)
        if (!r->last[i])
            return 0;
    return 1;
}

static void publish_frame(struct metrics *m, struct mrun *r, struct slot *s, double span_s)
{
    int final = all_done(r) && s->next == NULL;
    struct frame_input in = {
        .run_id = r->id_text,
        .script_id = r->script_id[0] ? r->script_id : NULL,
        .script = r->script_name,
        .state = final ? "finished" : r->state,
        .final = final,
        .t_ms = clock_wall_ms(),
        .second = s->second,
        .elapsed_s = r->elapsed_s,
        .span_s = span_s,
        .warmup = s->warmup,
        .sc = r->sc,
        .w = s->w,
        .totals = &r->totals,
    };
    size_t len;
    char *json = report_frame_json(&in, &len);
    struct bus_message *pub = bus_publish_new(r->channel, json, len);
    free(json);
    if (actor_send(m->bus, &pub->m) < 0)
        msg_free(&pub->m); /* the bus is backed up: a live frame may be lost */
}

static void emit(struct metrics *m, struct mrun *r, struct slot *s)
{
    uint64_t span = 0, measured = 0;
    for (int i = 0; i < r->nshards; i++) {
        if (s->span[i] > span)
            span = s->span[i];
        if (s->measured[i] > measured)
            measured = s->measured[i];
    }
    r->measured_s += (double)measured / 1e6;
    if (r->npoints == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->series = xrealloc(r->series, (size_t)r->cap * sizeof *r->series);
    }
    struct run_point *p = &r->series[r->npoints++];
    report_point(p, s->second, (double)span / 1e6, s->warmup, s->w); /* any part in warmup */
    if (r->cum->vus_max < s->w->vus_max)
        r->cum->vus_max = s->w->vus_max;
    if (m->series)
        store_second(m, r, s, span, measured);
    report_frame_totals_add(&r->totals, s->w);
    r->elapsed_s += (double)span / 1e6;
    if (m->bus)
        publish_frame(m, r, s, (double)span / 1e6);
    r->next_emit = s->second + 1;
    check_abort(m, r);
}

/* Emit every second that all shards have delivered; with force, all. */
static void flush(struct metrics *m, struct mrun *r, int force)
{
    while (r->pending) {
        struct slot *s = r->pending;
        if (!force) {
            for (int i = 0; i < r->nshards; i++)
                if (!r->last[i] && r->next_second[i] <= s->second)
                    return;
        }
        r->pending = s->next;
        emit(m, r, s);
        slot_free(s);
    }
}

/* dst += a shard's window; gauges (VUs) count once per shard and second,
 * from its last window of the second. */
static void merge_gauged(struct stats_window *dst, const struct shard_window *w)
{
    stats_window_merge(dst, w->w);
    dst->vus -= w->partial ? w->w->vus : 0;
    dst->vus_max -= w->partial ? w->w->vus_max : 0;
}

static void on_window(struct metrics *m, struct shard_window *w)
{
    struct mrun *r = idmap_get(&m->runs, w->run_id);
    if (!r || w->shard < 0 || w->shard >= r->nshards) {
        stats_window_free(w->w);
        return;
    }
    struct slot *s = slot_get(r, w->second);
    merge_gauged(s->w, w);
    if (m->series) {
        int k = w->warmup ? 1 : 0;
        if (!s->part[k])
            s->part[k] = stats_window_new(r->sc->nsteps, r->sc->nmain);
        merge_gauged(s->part[k], w);
    }
    s->span[w->shard] += w->span_us;
    if (w->warmup) {
        s->warmup = 1;
    } else {
        s->measured[w->shard] += w->span_us;
        stats_window_merge(r->cum, w->w);
        r->cum->vus = 0;
        r->cum->vus_max = 0;
    }
    if (!w->partial && r->next_second[w->shard] <= w->second)
        r->next_second[w->shard] = w->second + 1;
    if (w->last)
        r->last[w->shard] = 1;
    stats_window_free(w->w);
    flush(m, r, 0);
}

static void on_begin(struct metrics *m, struct metrics_begin *b)
{
    struct mrun *r = xcalloc(1, sizeof *r);
    r->run_id = b->run_id;
    r->sc = b->script;
    r->nshards = b->nshards;
    r->started_wall_ms = b->started_wall_ms;
    r->supervisor = b->supervisor;
    r->next_second = xcalloc((size_t)r->nshards, sizeof *r->next_second);
    r->last = xcalloc((size_t)r->nshards, sizeof *r->last);
    r->cum = stats_window_new(r->sc->nsteps, r->sc->nmain);
    snprintf(r->label, sizeof r->label, "%s", b->label);
    snprintf(r->script_id, sizeof r->script_id, "%s", b->script_id);
    snprintf(r->script_name, sizeof r->script_name, "%s", b->script_name);
    snprintf(r->state, sizeof r->state, "running");
    if (r->label[0])
        snprintf(r->id_text, sizeof r->id_text, "%s", r->label);
    else
        snprintf(r->id_text, sizeof r->id_text, "%llu", (unsigned long long)r->run_id);
    if (r->label[0])
        snprintf(r->channel, sizeof r->channel, "%s:run:%s", m->prefix, r->label);
    else
        snprintf(r->channel, sizeof r->channel, "%s:run:%llu", m->prefix,
                 (unsigned long long)r->run_id);
    idmap_put(&m->runs, r->run_id, r);
}

static void run_free(struct mrun *r)
{
    while (r->pending) {
        struct slot *s = r->pending;
        r->pending = s->next;
        slot_free(s);
    }
    stats_window_free(r->cum);
    free(r->next_second);
    free(r->last);
    free(r->series);
    free(r);
}

static void on_end(struct metrics *m, struct metrics_end *e)
{
    struct mrun *r = idmap_del(&m->runs, e->run_id);
    struct metrics_summary *s = MSG_NEW(MSG_METRICS_SUMMARY, struct metrics_summary);
    s->m.dtor = summary_dtor;
    s->run_id = e->run_id;
    if (!r) {
        actor_reply(&e->m, &s->m);
        return;
    }
    flush(m, r, 1);
    int n = r->sc->nthresholds;
    double *observed = xcalloc((size_t)(n ? n : 1), sizeof *observed);
    int *ok = xcalloc((size_t)(n ? n : 1), sizeof *ok);
    evaluate(r, observed, ok);
    for (int i = 0; i < n; i++)
        s->thresholds_failed += !ok[i];
    struct report_input in = {
        .run_id = r->run_id,
        .run_label = r->label,
        .sc = r->sc,
        .cum = r->cum,
        .duration_s = r->measured_s,
        .started_wall_ms = r->started_wall_ms,
        .aborted = e->aborted,
        .abort_reason = e->abort_reason,
        .observed = observed,
        .ok = ok,
    };
    s->json = report_summary_json(&in, &s->json_len);
    s->text = report_summary_text(&in);
    s->aborted = e->aborted;
    s->series = r->series;
    s->npoints = r->npoints;
    r->series = NULL;
    free(observed);
    free(ok);
    run_free(r);
    actor_reply(&e->m, &s->m);
}

static void metrics_handle(actor_t *self, msg_t *msg)
{
    struct metrics *m = actor_state(self);
    switch (msg->type) {
    case MSG_SHARD_WINDOW:
        on_window(m, (struct shard_window *)msg);
        break;
    case MSG_METRICS_BEGIN:
        on_begin(m, (struct metrics_begin *)msg);
        break;
    case MSG_METRICS_END:
        on_end(m, (struct metrics_end *)msg);
        break;
    case MSG_METRICS_STATE: {
        struct metrics_state *st = (struct metrics_state *)msg;
        struct mrun *r = idmap_get(&m->runs, st->run_id);
        if (r)
            snprintf(r->state, sizeof r->state, "%s", st->state);
        break;
    }
    case MSG_STOP:
        actor_reply(msg, msg_new(MSG_STOPPED, sizeof(msg_t)));
        break;
    default:
        alog_warn(self, "unexpected message type %u", msg->type);
        break;
    }
    msg_free(msg);
}

actor_t *metrics_new(struct loop *l, const struct metrics_config *cfg)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    m->bus = cfg->bus;
    m->series = cfg->series;
    snprintf(m->prefix, sizeof m->prefix, "%s", cfg->prefix ? cfg->prefix : "stampede");
    idmap_init(&m->runs);
    m->self = actor_new(l, "metrics", -1, metrics_handle, m, 0);
    return m->self;
}

void metrics_free(actor_t *a)
{
    if (!a)
        return;
    struct metrics *m = actor_state(a);
    size_t pos = 0;
    uint64_t k;
    void *v;
    while (idmap_next(&m->runs, &pos, &k, &v))
        run_free(v);
    idmap_deinit(&m->runs);
    free(m);
    actor_free(a);
}
