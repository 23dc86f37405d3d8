/* mpsc: an intrusive multi-producer single-consumer queue (Vyukov).
 * Any thread may push; only the owning consumer pops. Push is wait-free
 * (one atomic exchange); pop is lock-free and may transiently report
 * "empty" while a producer is between its two steps, so consumers pair it
 * with a counter that tells them to look again (see loop.c, actor.c).
 * Nodes are embedded in the caller's objects; the queue never allocates. */
#ifndef STAMPEDE_MPSC_H
#define STAMPEDE_MPSC_H

#include <stdatomic.h>
#include <stddef.h>

struct mpsc_node {
    _Atomic(struct mpsc_node *) next;
};

struct mpsc {
    _Atomic(struct mpsc_node *) head; /* producers swap themselves in here */
    struct mpsc_node *tail;           /* consumer reads from here */
    struct mpsc_node sentinel;
};

static inline void mpsc_init(struct mpsc *q)
{
    atomic_store_explicit(&q->sentinel.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->head, &q->sentinel, memory_order_relaxed);
    q->tail = &q->sentinel;
}

/* Any thread. n must not be in any queue. */
static inline void mpsc_push(struct mpsc *q, struct mpsc_node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    struct mpsc_node *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Consumer thread only. Returns the oldest node or NULL when the queue is
 * empty or a push is half-done (the caller's counter says to retry). */
static inline struct mpsc_node *mpsc_pop(struct mpsc *q)
{
    struct mpsc_node *tail = q->tail;
    struct mpsc_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->sentinel) {
        if (!next)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL; /* a producer has swapped head but not linked yet */
    mpsc_push(q, &q->sentinel);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

#endif
