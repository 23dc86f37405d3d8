/* test_actor: actors across loops — no message lost, per-sender order kept,
 * bounded mailboxes, request/reply, timers, fairness, deferred close. */
#include "actor.h"
#include "check_main.h"
#include "clock.h"
#include "loop.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { M_SEQ = 0x1000, M_PING, M_PONG, M_FLOOD };

struct seq_msg {
    msg_t m;
    int sender;
    long seq;
};

static struct loop_group *new_group(int n)
{
    char err[128];
    struct loop_group *g = loop_group_new(n, err, sizeof err);
    ck_assert_msg(g != NULL, "%s", err);
    return g;
}

/* ---- stress: producer threads and loop actors into one actor ---- */

#define THREADS 4
#define LOOP_SENDERS 2
#define PER_SENDER 50000
#define SENDERS (THREADS + LOOP_SENDERS)

struct sink {
    struct loop_group *g;
    long next[SENDERS];
    long total;
    int order_broken;
};

static void sink_handle(actor_t *self, msg_t *m)
{
    struct sink *s = actor_state(self);
    struct seq_msg *x = (struct seq_msg *)m;
    if (x->seq != s->next[x->sender])
        s->order_broken = 1;
    s->next[x->sender] = x->seq + 1;
    if (++s->total == (long)SENDERS * PER_SENDER)
        loop_group_stop(s->g);
    msg_free(m);
}

static void send_retrying(actor_t *to, int sender, long seq)
{
    struct seq_msg *x = MSG_NEW(M_SEQ, struct seq_msg);
    x->sender = sender;
    x->seq = seq;
    while (actor_send(to, &x->m) == ACTOR_EFULL)
        sched_yield(); /* bounded mailbox: the message is still ours */
}

struct thread_arg {
    actor_t *to;
    int sender;
};

static void *thread_producer(void *p)
{
    struct thread_arg *a = p;
    for (long i = 0; i < PER_SENDER; i++)
        send_retrying(a->to, a->sender, i);
    return NULL;
}

/* An actor on another loop that sends its share in slices, yielding the
 * loop between slices so the sink's loop and others interleave. */
struct loop_sender {
    actor_t *to;
    int sender;
    long sent;
    struct actor_timer *t;
};

static void loop_sender_handle(actor_t *self, msg_t *m)
{
    struct loop_sender *ls = actor_state(self);
    (void)m;
    for (int i = 0; i < 1000 && ls->sent < PER_SENDER; i++)
        send_retrying(ls->to, ls->sender, ls->sent++);
    if (ls->sent < PER_SENDER)
        actor_timer_start(ls->t, 0, 0);
}

START_TEST(stress_across_loops)
{
    struct loop_group *g = new_group(3);
    struct sink *s = calloc(1, sizeof *s);
    s->g = g;
    actor_t *sink = actor_new(loop_group_get(g, 1), "sink", -1, sink_handle, s, 1024);
    struct loop_sender ls[LOOP_SENDERS];
    actor_t *la[LOOP_SENDERS];
    for (int i = 0; i < LOOP_SENDERS; i++) {
        ls[i] = (struct loop_sender){ sink, THREADS + i, 0, NULL };
        /* senders on loop 0 and loop 2; loop 2 shares nothing with loop 1 */
        la[i] = actor_new(loop_group_get(g, i == 0 ? 0 : 2), "sender", i, loop_sender_handle, &ls[i], 0);
        ls[i].t = actor_timer_new(la[i], 1);
        actor_timer_start(ls[i].t, 0, 0);
    }
    pthread_t th[THREADS];
    struct thread_arg ta[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ta[i] = (struct thread_arg){ sink, i };
        pthread_create(&th[i], NULL, thread_producer, &ta[i]);
    }
    ck_assert_int_eq(loop_group_run(g), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(s->total, (long)SENDERS * PER_SENDER);
    ck_assert_int_eq(s->order_broken, 0);
    for (int i = 0; i < SENDERS; i++)
        ck_assert_int_eq(s->next[i], PER_SENDER);
    for (int i = 0; i < LOOP_SENDERS; i++) {
        actor_timer_free(ls[i].t);
        actor_free(la[i]);
    }
    actor_free(sink);
    loop_group_free(g);
    free(s);
}
END_TEST

/* ---- bounded mailbox ---- */

static void drop_handle(actor_t *self, msg_t *m)
{
    (void)self;
    msg_free(m);
}

START_TEST(bounded_mailbox_rejects_when_full)
{
    struct loop_group *g = new_group(2);
    actor_t *a = actor_new(loop_group_get(g, 1), "bounded", -1, drop_handle, NULL, 8);
    /* loop 1 is not running: nothing drains the mailbox */
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(actor_send(a, msg_new(M_SEQ, sizeof(msg_t))), 0);
    msg_t *extra = msg_new(M_SEQ, sizeof(msg_t));
    ck_assert_int_eq(actor_send(a, extra), ACTOR_EFULL);
    ck_assert_int_eq(actor_pending(a), 8);
    /* urgent sends ignore the bound (replies, control) */
    ck_assert_int_eq(actor_send_urgent(a, extra), 0);
    ck_assert_int_eq(actor_pending(a), 9);
    actor_free(a); /* frees the 9 queued messages */
    loop_group_free(g);
}
END_TEST

/* ---- request/reply across loops ---- */

#define PINGS 2000

struct pinger {
    struct loop_group *g;
    actor_t *ponger;
    uint64_t expect_corr;
    int replies, mismatched;
};

static void ponger_handle(actor_t *self, msg_t *m)
{
    (void)self;
    ck_assert_int_eq(m->type, M_PING);
    actor_reply(m, msg_new(M_PONG, sizeof(msg_t)));
    msg_free(m);
}

static void ping_once(actor_t *self, struct pinger *p)
{
    p->expect_corr = actor_request(self, p->ponger, msg_new(M_PING, sizeof(msg_t)));
    ck_assert_uint_ne(p->expect_corr, 0);
}

static void pinger_handle(actor_t *self, msg_t *m)
{
    struct pinger *p = actor_state(self);
    if (m->type == MSG_TIMER) {
        ping_once(self, p);
        return;
    }
    if (m->type != M_PONG || m->corr != p->expect_corr)
        p->mismatched++;
    msg_free(m);
    if (++p->replies == PINGS)
        loop_group_stop(p->g);
    else
        ping_once(self, p);
}

START_TEST(request_reply_correlates)
{
    struct loop_group *g = new_group(2);
    struct pinger p = { g, NULL, 0, 0, 0 };
    p.ponger = actor_new(loop_group_get(g, 1), "ponger", -1, ponger_handle, NULL, 0);
    actor_t *pinger = actor_new(loop_group_get(g, 0), "pinger", -1, pinger_handle, &p, 0);
    struct actor_timer *t = actor_timer_new(pinger, 0);
    actor_timer_start(t, 0, 0);
    ck_assert_int_eq(loop_group_run(g), 0);
    ck_assert_int_eq(p.replies, PINGS);
    ck_assert_int_eq(p.mismatched, 0);
    actor_timer_free(t);
    actor_free(pinger);
    actor_free(p.ponger);
    loop_group_free(g);
}
END_TEST

/* ---- timers ---- */

struct timing {
    struct loop_group *g;
    int order[3], n;
    int periodic;
    uint64_t start_us, last_us, first_due_us;
    struct actor_timer *per;
};

static void timing_handle(actor_t *self, msg_t *m)
{
    struct timing *t = actor_state(self);
    struct msg_timer *tm = (struct msg_timer *)m;
    (void)self;
    if (tm->tag < 3) {
        t->order[t->n++] = (int)tm->tag;
        return;
    }
    if (t->periodic == 0)
        t->first_due_us = tm->due_us;
    t->last_us = clock_now_us();
    if (++t->periodic == 50) {
        actor_timer_stop(tm->timer);
        loop_group_stop(t->g);
    }
}

START_TEST(timers_fire_in_order_and_periodic_does_not_drift)
{
    struct loop_group *g = new_group(1);
    struct timing t;
    memset(&t, 0, sizeof t);
    t.g = g;
    actor_t *a = actor_new(loop_group_get(g, 0), "timing", -1, timing_handle, &t, 0);
    struct actor_timer *t0 = actor_timer_new(a, 0), *t1 = actor_timer_new(a, 1),
                       *t2 = actor_timer_new(a, 2);
    actor_timer_start(t2, 30000, 0);
    actor_timer_start(t0, 10000, 0);
    actor_timer_start(t1, 20000, 0);
    t.per = actor_timer_new(a, 3);
    t.start_us = clock_now_us();
    actor_timer_start(t.per, 5000, 5000); /* 50 fires: due at 5, 10, ... 250 ms */
    ck_assert_int_eq(loop_group_run(g), 0);
    ck_assert_int_eq(t.n, 3);
    ck_assert_int_eq(t.order[0], 0);
    ck_assert_int_eq(t.order[1], 1);
    ck_assert_int_eq(t.order[2], 2);
    ck_assert_int_eq(t.periodic, 50);
    /* Drift-free: the 50th fire is due at start + 250 ms; libevent's coarse
     * timers fire within a few ms of that, never 50 x lateness. */
    uint64_t elapsed = t.last_us - t.start_us;
    ck_assert_msg(elapsed >= 250000 && elapsed < 262000, "50 periods took %llu us",
                  (unsigned long long)elapsed);
    actor_timer_free(t0);
    actor_timer_free(t1);
    actor_timer_free(t2);
    actor_timer_free(t.per);
    actor_free(a);
    loop_group_free(g);
}
END_TEST

/* ---- fairness: a flooded actor does not starve the loop's timers ---- */

#define FLOOD 5000

struct flood {
    struct loop_group *g;
    long handled;
    long handled_when_timer_fired;
    struct actor_timer *t;
};

static void flood_handle(actor_t *self, msg_t *m)
{
    struct flood *f = actor_state(self);
    (void)self;
    if (m->type == MSG_TIMER) {
        f->handled_when_timer_fired = f->handled;
        return;
    }
    uint64_t until = clock_now_us() + 20; /* 20 us of work per message: 100 ms in all */
    while (clock_now_us() < until)
        ;
    msg_free(m);
    if (++f->handled == FLOOD)
        loop_group_stop(f->g);
}

START_TEST(batch_limit_lets_timers_run)
{
    struct loop_group *g = new_group(1);
    struct flood f = { g, 0, -1, NULL };
    actor_t *a = actor_new(loop_group_get(g, 0), "flooded", -1, flood_handle, &f, FLOOD + 10);
    for (int i = 0; i < FLOOD; i++)
        ck_assert_int_eq(actor_send(a, msg_new(M_FLOOD, sizeof(msg_t))), 0);
    f.t = actor_timer_new(a, 0);
    actor_timer_start(f.t, 5000, 0);
    ck_assert_int_eq(loop_group_run(g), 0);
    ck_assert_int_eq(f.handled, FLOOD);
    /* the 5 ms timer ran long before the 100 ms of mail was done */
    ck_assert_msg(f.handled_when_timer_fired >= 0 && f.handled_when_timer_fired < FLOOD / 2,
                  "timer fired after %ld of %d messages", f.handled_when_timer_fired, FLOOD);
    actor_timer_free(f.t);
    actor_free(a);
    loop_group_free(g);
}
END_TEST

/* ---- close: an actor closed inside its own handler is freed later ---- */

static int closed_handled;

static void closer_handle(actor_t *self, msg_t *m)
{
    closed_handled++;
    msg_free(m);
    actor_close(self); /* the rest of the batch must be dropped, not handled */
}

static void stopper_handle(actor_t *self, msg_t *m)
{
    (void)self;
    msg_free(m);
    loop_group_stop(loop_group_of(actor_loop(self)));
}

START_TEST(close_inside_handler_is_deferred)
{
    struct loop_group *g = new_group(1);
    actor_t *a = actor_new(loop_group_get(g, 0), "closer", -1, closer_handle, NULL, 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(actor_send(a, msg_new(M_SEQ, sizeof(msg_t))), 0);
    actor_t *stopper = actor_new(loop_group_get(g, 0), "stopper", -1, stopper_handle, NULL, 0);
    struct actor_timer *t = actor_timer_new(stopper, 0);
    actor_timer_start(t, 20000, 0);
    closed_handled = 0;
    ck_assert_int_eq(loop_group_run(g), 0);
    ck_assert_int_eq(closed_handled, 1);
    actor_timer_free(t);
    actor_free(stopper);
    loop_group_free(g); /* "closer" was freed by the loop; ASan checks */
}
END_TEST

/* ---- stop from a foreign thread ---- */

static void *stop_later(void *arg)
{
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    loop_group_stop(arg);
    return NULL;
}

START_TEST(stop_from_another_thread)
{
    struct loop_group *g = new_group(4);
    pthread_t th;
    uint64_t t0 = clock_now_us();
    pthread_create(&th, NULL, stop_later, g);
    ck_assert_int_eq(loop_group_run(g), 0);
    pthread_join(th, NULL);
    ck_assert_uint_lt(clock_now_us() - t0, 2000000);
    loop_group_free(g);
}
END_TEST

static Suite *actor_suite(void)
{
    Suite *s = suite_create("actor");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, stress_across_loops);
    tcase_add_test(tc, bounded_mailbox_rejects_when_full);
    tcase_add_test(tc, request_reply_correlates);
    tcase_add_test(tc, timers_fire_in_order_and_periodic_does_not_drift);
    tcase_add_test(tc, batch_limit_lets_timers_run);
    tcase_add_test(tc, close_inside_handler_is_deferred);
    tcase_add_test(tc, stop_from_another_thread);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(actor_suite)
