/* probe: a message sink for straight-line integration tests. */
#include "probe.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static void probe_handle(actor_t *self, msg_t *m)
{
    struct probe *p = actor_state(self);
    if (m->type == MSG_TIMER)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&m->node.next, NULL, memory_order_relaxed);
    if (p->tail)
        atomic_store_explicit(&p->tail->node.next, &m->node, memory_order_relaxed);
    else
        p->head = m;
    p->tail = m;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *run(void *arg)
{
    struct probe *p = arg;
    loop_group_run(p->g);
    return NULL;
}

void probe_start(struct probe *p, int nloops)
{
    char err[128];
    p->g = loop_group_new(nloops, err, sizeof err);
    ck_assert_msg(p->g != NULL, "%s", err);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->head = p->tail = NULL;
    p->actor = actor_new(loop_group_get(p->g, 0), "probe", -1, probe_handle, p, 100000);
}

void probe_run(struct probe *p)
{
    pthread_create(&p->thread, NULL, run, p);
}

void probe_stop(struct probe *p)
{
    loop_group_stop(p->g);
    pthread_join(p->thread, NULL);
    msg_t *m = p->head;
    while (m) {
        msg_t *next = (msg_t *)atomic_load(&m->node.next);
        msg_free(m);
        m = next;
    }
    p->head = p->tail = NULL;
}

void probe_free(struct probe *p)
{
    actor_free(p->actor);
    loop_group_free(p->g);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

msg_t *probe_wait(struct probe *p, uint32_t type, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    msg_t *found = NULL;
    for (;;) {
        while (p->head && !found) {
            msg_t *m = p->head;
            p->head = (msg_t *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
            if (!p->head)
                p->tail = NULL;
            if (type == 0 || m->type == type)
                found = m;
            else
                msg_free(m);
        }
        if (found)
            break;
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&p->mu);
    return found;
}

void probe_send(struct probe *p, actor_t *to, msg_t *m, uint64_t corr)
{
    m->reply_to = p->actor;
    m->corr = corr;
    ck_assert_int_eq(actor_send_urgent(to, m), 0);
}
