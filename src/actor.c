/* actor: mailboxes, scheduling on the empty->non-empty edge, request/reply,
 * timers, and deferred close. */
#include "actor.h"

#include "clock.h"
#include "xmalloc.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTOR_DEFAULT_CAPACITY 4096

struct actor {
    struct loop_task task;      /* scheduled when the mailbox has mail */
    struct loop_task free_task; /* runs the deferred free after close */
    struct mpsc mbox;
    /* Messages pushed and not yet accounted by a finished batch. The push
     * that moves it from 0 schedules the actor; the batch that leaves it
     * above 0 reschedules. It may dip below 0 for an instant when a batch
     * consumed a message whose producer has not incremented yet. */
    _Atomic long count;
    _Atomic int closing;
    int free_scheduled;
    unsigned capacity;
    struct loop *loop;
    actor_handler_cb handler;
    void *state;
    uint64_t next_corr;
    char name[48];
};

msg_t *msg_new(uint32_t type, size_t size)
{
    msg_t *m = xcalloc(1, size < sizeof(msg_t) ? sizeof(msg_t) : size);
    m->type = type;
    return m;
}

void msg_free(msg_t *m)
{
    if (!m || (m->flags & MSG_F_STATIC))
        return;
    if (m->dtor)
        m->dtor(m);
    free(m);
}

static void really_free(actor_t *a)
{
    free(a);
}

static void run_free(struct loop_task *t)
{
    actor_t *a = (actor_t *)((char *)t - offsetof(actor_t, free_task));
    a->free_scheduled = 0;
    /* count == 0 means the actor task is neither queued nor running. */
    if (atomic_load_explicit(&a->count, memory_order_acquire) == 0)
        really_free(a);
}

static void run_actor(struct loop_task *t)
{
    actor_t *a = (actor_t *)t;
    long n = 0;
    int closing = atomic_load_explicit(&a->closing, memory_order_relaxed);
    while (n < ACTOR_BATCH) {
        struct mpsc_node *node = mpsc_pop(&a->mbox);
        if (!node)
            break;
        n++;
        msg_t *m = (msg_t *)node;
        if (closing)
            msg_free(m);
        else
            a->handler(a, m);
        closing = atomic_load_explicit(&a->closing, memory_order_relaxed);
    }
    long left = atomic_fetch_sub_explicit(&a->count, n, memory_order_acq_rel) - n;
    if (left > 0) {
        loop_schedule(a->loop, &a->task);
    } else if (closing && !a->free_scheduled) {
        a->free_scheduled = 1;
        loop_schedule(a->loop, &a->free_task);
    }
}

actor_t *actor_new(struct loop *l, const char *name, int index, actor_handler_cb handler,
                   void *state, unsigned capacity)
{
    actor_t *a = xcalloc(1, sizeof *a);
    a->task.run = run_actor;
    a->free_task.run = run_free;
    mpsc_init(&a->mbox);
    atomic_store(&a->count, 0);
    atomic_store(&a->closing, 0);
    a->capacity = capacity ? capacity : ACTOR_DEFAULT_CAPACITY;
    a->loop = l;
    a->handler = handler;
    a->state = state;
    if (index >= 0)
        snprintf(a->name, sizeof a->name, "%s#%d", name, index);
    else
        snprintf(a->name, sizeof a->name, "%s", name);
    return a;
}

void actor_close(actor_t *a)
{
    if (!a || atomic_exchange(&a->closing, 1))
        return;
    if (!a->free_scheduled) {
        a->free_scheduled = 1;
        loop_schedule(a->loop, &a->free_task);
    }
}

void actor_free(actor_t *a)
{
    if (!a)
        return;
    struct mpsc_node *node;
    while ((node = mpsc_pop(&a->mbox)) != NULL)
        msg_free((msg_t *)node);
    free(a);
}

static int push(actor_t *to, msg_t *m, int bounded)
{
    if (atomic_load_explicit(&to->closing, memory_order_acquire))
        return ACTOR_ECLOSED;
    if (bounded && atomic_load_explicit(&to->count, memory_order_relaxed) >= (long)to->capacity)
        return ACTOR_EFULL;
    mpsc_push(&to->mbox, &m->node);
    if (atomic_fetch_add_explicit(&to->count, 1, memory_order_acq_rel) == 0)
        loop_schedule(to->loop, &to->task);
    return 0;
}

int actor_send(actor_t *to, msg_t *m)
{
    return push(to, m, 1);
}

int actor_send_urgent(actor_t *to, msg_t *m)
{
    return push(to, m, 0);
}

uint64_t actor_request(actor_t *self, actor_t *to, msg_t *m)
{
    uint64_t corr = ++self->next_corr;
    m->reply_to = self;
    m->corr = corr;
    if (push(to, m, 1) < 0) {
        m->reply_to = NULL;
        m->corr = 0;
        return 0;
    }
    return corr;
}

int actor_reply(const msg_t *req, msg_t *reply)
{
    if (!req->reply_to) {
        msg_free(reply);
        return ACTOR_ECLOSED;
    }
    reply->corr = req->corr;
    int rc = push(req->reply_to, reply, 0);
    if (rc < 0)
        msg_free(reply);
    return rc;
}

void *actor_state(const actor_t *a)
{
    return a->state;
}

const char *actor_name(const actor_t *a)
{
    return a ? a->name : "-";
}

struct loop *actor_loop(const actor_t *a)
{
    return a->loop;
}

struct event_base *actor_base(const actor_t *a)
{
    return loop_base(a->loop);
}

long actor_pending(const actor_t *a)
{
    long n = atomic_load_explicit(&a->count, memory_order_relaxed);
    return n < 0 ? 0 : n;
}

/* ---- timers ---- */

struct actor_timer {
    struct msg_timer msg;
    actor_t *actor;
    struct event *ev;
    uint64_t due_us;
    uint64_t period_us;
};

static void arm(struct actor_timer *t)
{
    uint64_t now = clock_now_us();
    uint64_t wait = t->due_us > now ? t->due_us - now : 0;
    struct timeval tv = { (time_t)(wait / 1000000u), (suseconds_t)(wait % 1000000u) };
    event_add(t->ev, &tv);
}


static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct actor_timer *t = arg;
    (void)fd;
    (void)what;
    /* libevent's clock is coarse (loop.c): never deliver before the due
     * time, wait for the rest instead */
    if (clock_now_us() < t->due_us) {
        arm(t);
        return;
    }
    t->msg.due_us = t->due_us;
    if (t->period_us) {
        t->due_us += t->period_us;
        /* After a long stall, do not fire a burst of missed periods. */
        uint64_t now = clock_now_us();
        if (t->due_us + t->period_us < now)
            t->due_us = now;
        arm(t);
    }
    /* The handler may stop, restart or free this timer. */
    t->actor->handler(t->actor, &t->msg.m);
}

struct actor_timer *actor_timer_new(actor_t *a, uint32_t tag)
{
    struct actor_timer *t = xcalloc(1, sizeof *t);
    t->actor = a;
    t->msg.m.type = MSG_TIMER;
    t->msg.m.flags = MSG_F_STATIC;
    t->msg.tag = tag;
    t->msg.timer = t;
    t->ev = evtimer_new(actor_base(a), on_timer, t);
    if (!t->ev) {
        log_error(actor_name(a), "cannot create a timer event");
        abort();
    }
    return t;
}

void actor_timer_start_at(struct actor_timer *t, uint64_t due_us, uint64_t period_us)
{
    t->due_us = due_us;
    t->period_us = period_us;
    arm(t);
}

void actor_timer_start(struct actor_timer *t, uint64_t delay_us, uint64_t period_us)
{
    actor_timer_start_at(t, clock_now_us() + delay_us, period_us);
}

void actor_timer_stop(struct actor_timer *t)
{
    if (t) {
        t->period_us = 0;
        event_del(t->ev);
    }
}

int actor_timer_pending(const struct actor_timer *t)
{
    return t && evtimer_pending(t->ev, NULL);
}

void actor_timer_free(struct actor_timer *t)
{
    if (!t)
        return;
    event_free(t->ev);
    free(t);
}
