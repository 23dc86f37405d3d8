/* loop: reactor threads with an eventfd-woken task inbox each. */
#include "loop.h"

#include "log.h"
#include "xmalloc.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define LAG_PERIOD_US 250000
#define LAG_SAMPLES 20 /* 5 s */

struct loop {
    struct loop_group *group;
    int index;
    struct event_base *base;
    pthread_t thread;
    int started;

    /* Cross-thread inbox: pushes counted in inbox_n; the eventfd is written
     * only by the push that moves inbox_n from 0 to 1. */
    struct mpsc inbox;
    _Atomic long inbox_n;
    int efd;
    struct event *wake_ev;

    /* Own-thread tasks, FIFO, and the zero-delay timer that drains them. */
    struct loop_task *local_head, *local_tail;
    struct event *drain_ev;
    int drain_armed;

    struct loop_task stop_task;
    _Atomic int stop_requested;

    /* Lag probe: every LAG_PERIOD a task is queued on the loop itself and
     * timed until it runs; the worst of the last LAG_SAMPLES is published. */
    struct event *lag_ev;
    struct loop_task lag_task;
    uint64_t lag_t0_ns;
    int lag_pending;
    uint64_t lag_samples[LAG_SAMPLES];
    unsigned lag_next;
    _Atomic uint64_t lag_max_us;
};

struct loop_group {
    int n;
    struct loop *loops;
    int worker_nice;
};

static _Thread_local struct loop *current;

static void arm_drain(struct loop *l)
{
    if (!l->drain_armed) {
        static const struct timeval zero = { 0, 0 };
        l->drain_armed = 1;
        event_add(l->drain_ev, &zero);
    }
}

static void local_append(struct loop *l, struct loop_task *t)
{
    t->local_next = NULL;
    if (l->local_tail)
        l->local_tail->local_next = t;
    else
        l->local_head = t;
    l->local_tail = t;
}

/* Move what the inbox holds onto the local list, then run one pass of the
 * local list: only the tasks present now; those added meanwhile wait. */
static void drain(struct loop *l)
{
    long moved = 0;
    struct mpsc_node *n;
    while ((n = mpsc_pop(&l->inbox)) != NULL) {
        local_append(l, (struct loop_task *)((char *)n - offsetof(struct loop_task, node)));
        moved++;
    }
    long left = atomic_fetch_sub_explicit(&l->inbox_n, moved, memory_order_acq_rel) - moved;

    struct loop_task *t = l->local_head;
    l->local_head = l->local_tail = NULL;
    while (t) {
        struct loop_task *next = t->local_next;
        t->run(t);
        t = next;
    }
    /* left > 0: a push is half-done or more came in after our pops; its
     * producer did not write the eventfd, so we must look again. */
    if (left > 0 || l->local_head)
        arm_drain(l);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct loop *l = arg;
    uint64_t v;
    (void)what;
    if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_error("loop", "eventfd read: %s", strerror(errno));
    drain(l);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct loop *l = arg;
    (void)fd;
    (void)what;
    l->drain_armed = 0;
    drain(l);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run_lag(struct loop_task *t)
{
    struct loop *l = (struct loop *)((char *)t - offsetof(struct loop, lag_task));
    uint64_t us = (mono_ns() - l->lag_t0_ns) / 1000u;
    l->lag_pending = 0;
    l->lag_samples[l->lag_next++ % LAG_SAMPLES] = us;
    uint64_t max = 0;
    for (int i = 0; i < LAG_SAMPLES; i++)
        max = l->lag_samples[i] > max ? l->lag_samples[i] : max;
    atomic_store_explicit(&l->lag_max_us, max, memory_order_relaxed);
}

static void on_lag_timer(evutil_socket_t fd, short what, void *arg)
{
    struct loop *l = arg;
    (void)fd;
    (void)what;
    if (l->lag_pending)
        return; /* the last probe has not even run yet: it will say so */
    l->lag_pending = 1;
    l->lag_t0_ns = mono_ns();
    loop_schedule(l, &l->lag_task);
}

uint64_t loop_lag_us(const struct loop *l)
{
    return atomic_load_explicit(&l->lag_max_us, memory_order_relaxed);
}

static void run_stop(struct loop_task *t)
{
    struct loop *l = (struct loop *)((char *)t - offsetof(struct loop, stop_task));
    event_base_loopbreak(l->base);
}

void loop_schedule(struct loop *l, struct loop_task *t)
{
    if (current == l) {
        local_append(l, t);
        arm_drain(l);
        return;
    }
    mpsc_push(&l->inbox, &t->node);
    if (atomic_fetch_add_explicit(&l->inbox_n, 1, memory_order_acq_rel) == 0) {
        uint64_t one = 1;
        /* eventfd writes fail only when the counter would overflow, which
         * cannot happen with at most one pending write per edge. */
        if (write(l->efd, &one, sizeof one) < 0)
            log_error("loop", "eventfd write on loop %d: %s", l->index, strerror(errno));
    }
}

static int loop_init(struct loop_group *g, struct loop *l, int index, char *err, size_t errlen)
{
    l->group = g;
    l->index = index;
    l->efd = -1;
    mpsc_init(&l->inbox);
    atomic_store(&l->inbox_n, 0);
    l->stop_task.run = run_stop;
    l->lag_task.run = run_lag;

    struct event_config *cfg = event_config_new();
    if (!cfg)
        goto fail;
    /* No EVENT_BASE_FLAG_PRECISE_TIMER: with it, libevent's epoll backend
     * calls timerfd_settime on every loop iteration, and on this kind of
     * VM that one syscall cost ~20% of the CPU of an open-model run at
     * 20k req/s (perf: do_timerfd_settime -> irq enable). libevent's own
     * timers are therefore ~4 ms coarse; they serve housekeeping only.
     * Latency uses clock_gettime(CLOCK_MONOTONIC) directly, actor timers
     * never fire early (actor.c), and run shards schedule arrivals with
     * their own absolute timerfd (run_shard.c). */
    l->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!l->base) {
        snprintf(err, errlen, "loop %d: event_base_new failed", index);
        return -1;
    }
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0) {
        snprintf(err, errlen, "loop %d: eventfd: %s", index, strerror(errno));
        return -1;
    }
    l->wake_ev = event_new(l->base, l->efd, EV_READ | EV_PERSIST, on_wake, l);
    l->drain_ev = evtimer_new(l->base, on_drain, l);
    l->lag_ev = event_new(l->base, -1, EV_PERSIST, on_lag_timer, l);
    struct timeval lag_period = { 0, LAG_PERIOD_US };
    if (!l->wake_ev || !l->drain_ev || !l->lag_ev || event_add(l->wake_ev, NULL) < 0 ||
        event_add(l->lag_ev, &lag_period) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "loop %d: cannot create events", index);
    return -1;
}

static void loop_deinit(struct loop *l)
{
    if (l->wake_ev)
        event_free(l->wake_ev);
    if (l->drain_ev)
        event_free(l->drain_ev);
    if (l->lag_ev)
        event_free(l->lag_ev);
    if (l->efd >= 0)
        close(l->efd);
    if (l->base)
        event_base_free(l->base);
}

struct loop_group *loop_group_new(int n, char *err, size_t errlen)
{
    if (n < 1 || n > 1024) {
        snprintf(err, errlen, "loop count %d out of range 1..1024", n);
        return NULL;
    }
    /* Other threads call event_base_loopbreak and similar on these bases. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);

    struct loop_group *g = xcalloc(1, sizeof *g);
    g->n = n;
    g->loops = xcalloc((size_t)n, sizeof *g->loops);
    for (int i = 0; i < n; i++)
        g->loops[i].efd = -1;
    for (int i = 0; i < n; i++) {
        if (loop_init(g, &g->loops[i], i, err, errlen) < 0) {
            loop_group_free(g);
            return NULL;
        }
    }
    return g;
}

static int run_one(struct loop *l)
{
    current = l;
    int rc = event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    /* Run what was scheduled before the stop so nothing is left half-sent. */
    drain(l);
    current = NULL;
    return rc < 0 ? -1 : 0;
}

static void *thread_main(void *arg)
{
    struct loop *l = arg;
    char name[16];
    snprintf(name, sizeof name, "stampede-l%d", l->index);
    pthread_setname_np(pthread_self(), name);
    /* Linux: a thread's nice value is its own (setpriority on its tid). */
    if (l->group->worker_nice && setpriority(PRIO_PROCESS, (id_t)gettid(), l->group->worker_nice) < 0)
        log_warn("loop", "loop %d: cannot set nice %d: %s", l->index, l->group->worker_nice, strerror(errno));
    if (run_one(l) < 0)
        log_error("loop", "loop %d ended with an error", l->index);
    return NULL;
}

int loop_group_run(struct loop_group *g)
{
    int rc = 0;
    for (int i = 1; i < g->n; i++) {
        int e = pthread_create(&g->loops[i].thread, NULL, thread_main, &g->loops[i]);
        if (e != 0) {
            log_error("loop", "cannot start loop thread %d: %s", i, strerror(e));
            loop_group_stop(g);
            rc = -1;
            break;
        }
        g->loops[i].started = 1;
    }
    if (run_one(&g->loops[0]) < 0)
        rc = -1;
    for (int i = 1; i < g->n; i++) {
        if (g->loops[i].started) {
            pthread_join(g->loops[i].thread, NULL);
            g->loops[i].started = 0;
        }
    }
    return rc;
}

void loop_group_stop(struct loop_group *g)
{
    for (int i = 0; i < g->n; i++) {
        struct loop *l = &g->loops[i];
        if (atomic_exchange(&l->stop_requested, 1))
            continue; /* its stop task is already on the way */
        if (current == l)
            event_base_loopbreak(l->base);
        else
            loop_schedule(l, &l->stop_task);
    }
}

void loop_group_free(struct loop_group *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n; i++)
        loop_deinit(&g->loops[i]);
    free(g->loops);
    free(g);
}

int loop_default_count(int configured)
{
    if (configured > 0)
        return configured;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int loop_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_warn("loop", "cannot raise the descriptor limit to %llu: %s", (unsigned long long)rl.rlim_max,
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

void loop_group_set_worker_nice(struct loop_group *g, int nice)
{
    g->worker_nice = nice;
}

int loop_group_size(const struct loop_group *g)
{
    return g->n;
}

struct loop *loop_group_get(struct loop_group *g, int index)
{
    return (index >= 0 && index < g->n) ? &g->loops[index] : NULL;
}

struct event_base *loop_base(struct loop *l)
{
    return l->base;
}

int loop_index(const struct loop *l)
{
    return l->index;
}

struct loop_group *loop_group_of(struct loop *l)
{
    return l->group;
}

struct loop *loop_current(void)
{
    return current;
}

struct evdns_base *loop_dns_new(struct event_base *base)
{
    struct evdns_base *dns =
        evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (dns && (evdns_base_set_option(dns, "timeout:", "2") < 0 ||
                evdns_base_set_option(dns, "attempts:", "2") < 0)) {
        evdns_base_free(dns, 0);
        dns = NULL;
    }
    return dns;
}
