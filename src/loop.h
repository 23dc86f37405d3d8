/* loop: the reactor threads. One libevent event_base per thread, each with a
 * cross-thread inbox of tasks woken through one eventfd; loop 0 runs on the
 * thread that calls loop_group_run, loops 1..n-1 on their own threads.
 *
 * Scheduling contract: loop_schedule(l, t) may be called from any thread;
 * t->run(t) then runs once on l's thread. A task must not be scheduled again
 * before its run has started (actors guarantee this with their mailbox
 * counter). From another thread the loop is woken only when its inbox goes
 * from empty to non-empty; on its own thread a task goes onto a local list.
 * Each drain pass runs only the tasks present when it began; later ones wait
 * for the next pass, after libevent has polled I/O and timers again, so one
 * busy actor cannot starve a loop. */
#ifndef STAMPEDE_LOOP_H
#define STAMPEDE_LOOP_H

#include "mpsc.h"

#include <stdint.h>

struct event_base;
struct loop;
struct loop_group;

struct loop_task {
    struct mpsc_node node;         /* inbox link (cross-thread) */
    struct loop_task *local_next;  /* local list link (own thread) */
    void (*run)(struct loop_task *t);
};

/* Create n loops (n >= 1), each an event_base (libevent's coarse timers:
 * see loop.c for why; durations are measured with clock_gettime).
 * Returns NULL with a message in err on failure (nothing left allocated). */
struct loop_group *loop_group_new(int n, char *err, size_t errlen);
/* Run loop 0 on the calling thread and the others on new threads; returns
 * once every loop has stopped (loop_group_stop). 0 or -1. */
int loop_group_run(struct loop_group *g);
/* Ask every loop to return from loop_group_run. Any thread. */
void loop_group_stop(struct loop_group *g);
/* After loop_group_run returned. Frees the bases. NULL is a no-op. */
void loop_group_free(struct loop_group *g);

/* The number of loops: configured when > 0, else one per online core. */
int loop_default_count(int configured);
/* Raise the process's descriptor limit to its hard limit (many load
 * connections, many WebSocket clients). 0, or -1 (logged). */
int loop_raise_fd_limit(void);
/* An asynchronous resolver on base (system name servers, hosts file),
 * with each lookup bounded (2 s a try, 2 tries) so nothing waits long
 * on a silent name server. NULL if it cannot be made: numeric addresses
 * still work, names do not. Free with evdns_base_free(dns, 0). */
struct evdns_base *loop_dns_new(struct event_base *base);

/* Before loop_group_run: the nice value of loops 1..n-1 (0 = unchanged).
 * The server lowers its load-generating loops so that a saturating run
 * yields the CPU to loop 0 (the API, the store) whenever they need it. */
void loop_group_set_worker_nice(struct loop_group *g, int nice);
int loop_group_size(const struct loop_group *g);
struct loop *loop_group_get(struct loop_group *g, int index);

struct event_base *loop_base(struct loop *l);
int loop_index(const struct loop *l);
struct loop_group *loop_group_of(struct loop *l);
/* The loop whose thread is calling, or NULL outside any loop. */
struct loop *loop_current(void);

void loop_schedule(struct loop *l, struct loop_task *t);

/* The loop's lag: the longest a task queued on it waited before running,
 * over the last 5 s (sampled 4 times a second). Any thread. */
uint64_t loop_lag_us(const struct loop *l);

#endif
