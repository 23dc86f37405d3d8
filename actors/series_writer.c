/* series_writer: buffered, batched inserts of run_series rows. */
#include "series_writer.h"

#include "idmap.h"
#include "sbuf.h"
#include "series.h"
#include "store.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define FLUSH_EVERY_US 1000000u
#define FLUSH_MAX_BYTES (8u << 20) /* one statement's document, at most */

enum { TAG_FLUSH = 1 };

struct pend {
    STAILQ_ENTRY(pend) link;
    uint64_t run_id;
    char *element; /* {"r":..,"s":..,"rows":[..]} */
    size_t len;
};
STAILQ_HEAD(pend_list, pend);

struct reg {
    char run_uuid[UUID_STR_LEN];
    char script_uuid[UUID_STR_LEN];
    uint64_t dropped;
};

struct waiter {
    LIST_ENTRY(waiter) link;
    struct series_sync *req; /* the request, answered with MSG_SERIES_SYNCED */
};
LIST_HEAD(waiter_list, waiter);

struct writer {
    actor_t *self;
    actor_t *store;
    struct idmap regs;             /* engine run id -> struct reg */
    struct pend_list queue;        /* waiting, oldest first */
    struct pend_list inflight;     /* in the INSERT being run */
    uint64_t flight_corr;          /* 0 = no flush running */
    struct waiter_list waiters;
    struct actor_timer *tick;
    struct series_stats st;
    uint64_t unknown_drops;
    int stopping;
};

void series_batch_dtor(msg_t *m)
{
    free(((struct series_batch *)m)->json);
}

static void pend_free(struct pend *p)
{
    free(p->element);
    free(p);
}

static int run_pending(const struct writer *w, uint64_t run_id)
{
    const struct pend *p;
    STAILQ_FOREACH(p, &w->queue, link)
        if (p->run_id == run_id)
            return 1;
    STAILQ_FOREACH(p, &w->inflight, link)
        if (p->run_id == run_id)
            return 1;
    return 0;
}

/* Answer the syncs whose run has nothing left waiting. */
static void answer_waiters(struct writer *w)
{
    struct waiter *x = LIST_FIRST(&w->waiters);
    while (x) {
        struct waiter *next = LIST_NEXT(x, link);
        uint64_t id = x->req->run_id;
        if (!run_pending(w, id)) {
            struct reg *r = idmap_del(&w->regs, id);
            struct series_sync *rep = MSG_NEW(MSG_SERIES_SYNCED, struct series_sync);
            rep->run_id = id;
            rep->dropped = r ? r->dropped : 0;
            free(r);
            actor_reply(&x->req->m, &rep->m);
            msg_free(&x->req->m);
            LIST_REMOVE(x, link);
            free(x);
        }
        x = next;
    }
}

static void drop_oldest(struct writer *w)
{
    struct pend *p = STAILQ_FIRST(&w->queue);
    STAILQ_REMOVE_HEAD(&w->queue, link);
    w->st.pending_bytes -= p->len;
    w->st.pending_batches--;
    w->st.batches_dropped++;
    struct reg *r = idmap_get(&w->regs, p->run_id);
    if (r)
        r->dropped++;
    pend_free(p);
}

static void on_batch(struct writer *w, struct series_batch *b)
{
    struct reg *r = idmap_get(&w->regs, b->run_id);
    if (!r) {
        if (w->unknown_drops++ == 0)
            alog_warn(w->self, "rows of an unregistered run %llu dropped",
                      (unsigned long long)b->run_id);
        w->st.batches_dropped++;
        return;
    }
    struct pend *p = xcalloc(1, sizeof *p);
    p->run_id = b->run_id;
    p->element = xasprintf("{\"r\":\"%s\",\"s\":\"%s\",\"rows\":%s}", r->run_uuid, r->script_uuid,
                           b->json);
    p->len = strlen(p->element);
    STAILQ_INSERT_TAIL(&w->queue, p, link);
    w->st.pending_bytes += p->len;
    w->st.pending_batches++;
    int warned = 0;
    while (w->st.pending_bytes > SERIES_MAX_PENDING && !STAILQ_EMPTY(&w->queue)) {
        if (!warned++)
            alog_warn(w->self, "more than %u MiB of rows waiting for the database: dropping the oldest",
                      SERIES_MAX_PENDING >> 20);
        drop_oldest(w);
    }
}

/* Move up to FLUSH_MAX_BYTES of the queue into one INSERT. */
static void flush(struct writer *w)
{
    if (w->flight_corr || STAILQ_EMPTY(&w->queue))
        return;
    struct sbuf doc;
    sbuf_init(&doc, 4096);
    sbuf_adds(&doc, "[");
    size_t n = 0;
    while (!STAILQ_EMPTY(&w->queue) && (n == 0 || doc.len + STAILQ_FIRST(&w->queue)->len < FLUSH_MAX_BYTES)) {
        struct pend *p = STAILQ_FIRST(&w->queue);
        STAILQ_REMOVE_HEAD(&w->queue, link);
        if (n++)
            sbuf_adds(&doc, ",");
        sbuf_add(&doc, p->element, p->len);
        STAILQ_INSERT_TAIL(&w->inflight, p, link);
    }
    sbuf_adds(&doc, "]");
    struct store_query *q = store_query_new();
    const char *params[1] = { doc.s };
    store_query_add(q, SERIES_INSERT_SQL, 1, params);
    sbuf_deinit(&doc);
    w->st.flushes++;
    w->flight_corr = actor_request(w->self, w->store, &q->m);
    if (!w->flight_corr) {
        msg_free(&q->m);
        w->st.flush_failures++;
        /* back to the head, in order */
        struct pend_list back = STAILQ_HEAD_INITIALIZER(back);
        STAILQ_CONCAT(&back, &w->inflight);
        STAILQ_CONCAT(&back, &w->queue);
        STAILQ_CONCAT(&w->queue, &back);
    }
}

static void on_result(struct writer *w, struct store_result *r)
{
    if (r->m.corr != w->flight_corr)
        return;
    w->flight_corr = 0;
    if (r->status == STORE_OK || r->status == STORE_EINVALID || r->status == STORE_EFAILED) {
        /* Stored, or refused by the database: sending them again would fail
         * the same way forever. */
        if (r->status != STORE_OK)
            alog_error(w->self, "series rows refused by the database: %s", r->error ? r->error : "?");
        while (!STAILQ_EMPTY(&w->inflight)) {
            struct pend *p = STAILQ_FIRST(&w->inflight);
            STAILQ_REMOVE_HEAD(&w->inflight, link);
            w->st.pending_bytes -= p->len;
            w->st.pending_batches--;
            if (r->status == STORE_OK) {
                w->st.batches_stored++;
            } else {
                w->st.batches_dropped++;
                struct reg *g = idmap_get(&w->regs, p->run_id);
                if (g)
                    g->dropped++;
            }
            pend_free(p);
        }
        answer_waiters(w);
        if (!STAILQ_EMPTY(&w->queue) && r->status == STORE_OK)
            flush(w); /* more waited meanwhile */
        return;
    }
    /* Unavailable or too slow: keep them, in order, for the next tick. */
    w->st.flush_failures++;
    alog_debug(w->self, "series flush failed (%s); %llu batches wait", r->error ? r->error : "",
               (unsigned long long)w->st.pending_batches);
    STAILQ_CONCAT(&w->inflight, &w->queue);
    STAILQ_CONCAT(&w->queue, &w->inflight);
}

static void on_register(struct writer *w, struct series_register *g)
{
    struct reg *r = idmap_get(&w->regs, g->run_id);
    if (!r) {
        r = xcalloc(1, sizeof *r);
        idmap_put(&w->regs, g->run_id, r);
    }
    snprintf(r->run_uuid, sizeof r->run_uuid, "%s", g->run_uuid);
    snprintf(r->script_uuid, sizeof r->script_uuid, "%s", g->script_uuid);
}

static void on_sync(struct writer *w, struct series_sync *s)
{
    struct waiter *x = xcalloc(1, sizeof *x);
    x->req = s;
    LIST_INSERT_HEAD(&w->waiters, x, link);
    answer_waiters(w);
    flush(w);
}

static void on_stats(struct writer *w, msg_t *req)
{
    struct series_stats *st = MSG_NEW(MSG_SERIES_STATS, struct series_stats);
    uint64_t bs = w->st.batches_stored, bd = w->st.batches_dropped, f = w->st.flushes,
             ff = w->st.flush_failures, pb = w->st.pending_bytes, pn = w->st.pending_batches;
    st->batches_stored = bs;
    st->batches_dropped = bd;
    st->flushes = f;
    st->flush_failures = ff;
    st->pending_bytes = pb;
    st->pending_batches = pn;
    actor_reply(req, &st->m);
}

static void writer_handle(actor_t *self, msg_t *m)
{
    struct writer *w = actor_state(self);
    switch (m->type) {
    case MSG_TIMER:
        flush(w);
        return;
    case MSG_SERIES_BATCH:
        on_batch(w, (struct series_batch *)m);
        break;
    case MSG_SERIES_REGISTER:
        on_register(w, (struct series_register *)m);
        break;
    case MSG_SERIES_SYNC:
        on_sync(w, (struct series_sync *)m);
        return; /* kept until answered */
    case MSG_SERIES_STATS_GET:
        on_stats(w, m);
        break;
    case MSG_STORE_RESULT:
        on_result(w, (struct store_result *)m);
        break;
    case MSG_STOP:
        /* What is still waiting stays unwritten: the store stops next. */
        if (!STAILQ_EMPTY(&w->queue))
            alog_warn(self, "stopping with %llu batches of rows not stored",
                      (unsigned long long)w->st.pending_batches);
        actor_timer_stop(w->tick);
        actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
        break;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *series_writer_new(struct loop *l, const struct series_writer_config *cfg)
{
    struct writer *w = xcalloc(1, sizeof *w);
    w->store = cfg->store;
    idmap_init(&w->regs);
    STAILQ_INIT(&w->queue);
    STAILQ_INIT(&w->inflight);
    LIST_INIT(&w->waiters);
    w->self = actor_new(l, "series_writer", -1, writer_handle, w, 0);
    w->tick = actor_timer_new(w->self, TAG_FLUSH);
    actor_timer_start(w->tick, FLUSH_EVERY_US, FLUSH_EVERY_US);
    return w->self;
}

void series_writer_free(actor_t *a)
{
    if (!a)
        return;
    struct writer *w = actor_state(a);
    actor_timer_free(w->tick);
    STAILQ_CONCAT(&w->queue, &w->inflight);
    while (!STAILQ_EMPTY(&w->queue)) {
        struct pend *p = STAILQ_FIRST(&w->queue);
        STAILQ_REMOVE_HEAD(&w->queue, link);
        pend_free(p);
    }
    while (!LIST_EMPTY(&w->waiters)) {
        struct waiter *x = LIST_FIRST(&w->waiters);
        LIST_REMOVE(x, link);
        msg_free(&x->req->m);
        free(x);
    }
    size_t pos = 0;
    uint64_t k;
    void *v;
    while (idmap_next(&w->regs, &pos, &k, &v))
        free(v);
    idmap_deinit(&w->regs);
    free(w);
    actor_free(a);
}
