/* actor: message-passing actors pinned to one loop.
 *
 * An actor is a handler, a state pointer and an MPSC mailbox. Sending from
 * any thread pushes onto the mailbox; the push that takes the mailbox from
 * empty to non-empty schedules the actor on its loop (loop_schedule), so an
 * actor with mail is always scheduled exactly once. A scheduled actor
 * handles at most ACTOR_BATCH messages, then yields the loop.
 *
 * Ownership: a successful send transfers the message to the receiver; a
 * failed send leaves it with the sender and nothing is called. The handler
 * owns each message it gets and releases it with msg_free (or keeps it).
 *
 * Bounded mailboxes: every actor has a capacity. actor_send fails with
 * ACTOR_EFULL when the mailbox already holds that many messages; the sender
 * decides (drop and count, or retry later). actor_send_urgent ignores the
 * bound and is for replies and lifecycle/control messages, whose number is
 * bounded by the requests that caused them. */
#ifndef STAMPEDE_ACTOR_H
#define STAMPEDE_ACTOR_H

#include "log.h"
#include "loop.h"

#include <stdint.h>

typedef struct actor actor_t;
typedef struct msg msg_t;

#define ACTOR_BATCH 64
#define ACTOR_EFULL (-1)
#define ACTOR_ECLOSED (-2)

/* Message type ranges: each module defines its types inside its range. */
enum {
    MSG_TIMER = 1,      /* struct msg_timer, delivered by actor timers */
    MSG_STOP,           /* plain msg: finish work, then reply MSG_STOPPED */
    MSG_STOPPED,        /* plain msg: reply to MSG_STOP */
    MSG_RANGE_STATUS = 0x080,
    MSG_RANGE_STORE = 0x100,
    MSG_RANGE_BUS = 0x200,
    MSG_RANGE_HTTP = 0x300,
    MSG_RANGE_RUNS = 0x400,
    MSG_RANGE_SHARD = 0x500,
    MSG_RANGE_METRICS = 0x600,
    MSG_RANGE_CLI = 0x700,
    MSG_RANGE_SERIES = 0x800,
    MSG_RANGE_PLATFORM = 0x900,
};

#define MSG_F_STATIC 1u /* embedded in another object: msg_free does nothing */

struct msg {
    struct mpsc_node node; /* mailbox link; must stay first */
    uint32_t type;
    uint32_t flags;
    uint64_t corr;       /* correlation id of a request/reply pair, 0 = none */
    actor_t *reply_to;   /* where a reply goes, NULL = nowhere */
    void (*dtor)(msg_t *m); /* releases what the payload owns (not m) */
};

/* Allocate a zeroed message of `size` bytes (>= sizeof(msg_t)) whose
 * first member is a msg_t. Never NULL. */
msg_t *msg_new(uint32_t type, size_t size);
#define MSG_NEW(type_id, T) ((T *)msg_new((type_id), sizeof(T)))
/* Run the destructor and free. NULL and static messages: no-op. */
void msg_free(msg_t *m);

typedef void (*actor_handler_cb)(actor_t *self, msg_t *m);

/* Create an actor on loop l. name is copied; when index >= 0 the actor's
 * name becomes "name#index". capacity 0 means the default (4096). */
actor_t *actor_new(struct loop *l, const char *name, int index, actor_handler_cb handler,
                   void *state, unsigned capacity);
/* Close an actor: later sends fail with ACTOR_ECLOSED, mail already queued
 * is dropped (msg_free), and the actor is freed on its loop after its
 * current handler has returned. Call on its own loop, once, after stopping
 * its timers, and only when nothing else will send to it any more. */
void actor_close(actor_t *a);

/* Free an actor and any mail still queued, for long-lived actors once every
 * loop has stopped (loop_group_run returned). NULL is a no-op. */
void actor_free(actor_t *a);

int actor_send(actor_t *to, msg_t *m);
int actor_send_urgent(actor_t *to, msg_t *m);

/* Request/reply. actor_request runs on self's loop: it stamps m with
 * reply_to = self and a fresh correlation id, sends it, and returns the id
 * (never 0), or 0 if the send failed (m stays with the caller).
 * actor_reply takes ownership of reply in every case: it copies req's
 * correlation id, sends urgently to req->reply_to and frees reply if there
 * is nowhere to send it. Returns 0 or a negative ACTOR_E* code. */
uint64_t actor_request(actor_t *self, actor_t *to, msg_t *m);
int actor_reply(const msg_t *req, msg_t *reply);

void *actor_state(const actor_t *a);
const char *actor_name(const actor_t *a);
struct loop *actor_loop(const actor_t *a);
struct event_base *actor_base(const actor_t *a);
/* Messages waiting (approximate when read from another thread). */
long actor_pending(const actor_t *a);

/* Timers: messages of type MSG_TIMER delivered to the actor's handler on its
 * own loop. The message is embedded in the timer (MSG_F_STATIC): handlers
 * may call msg_free on it, which does nothing. Periodic timers are
 * drift-free: the n-th fire is due at start + delay + (n-1) * period. */
struct msg_timer {
    msg_t m;
    uint32_t tag;
    struct actor_timer *timer;
    uint64_t due_us; /* monotonic time this fire was due */
};

struct actor_timer;
struct actor_timer *actor_timer_new(actor_t *a, uint32_t tag);
/* (Re)start: first fire after delay_us, then every period_us (0 = once). */
void actor_timer_start(struct actor_timer *t, uint64_t delay_us, uint64_t period_us);
/* Start at an absolute monotonic time (microseconds, clock_now_us). */
void actor_timer_start_at(struct actor_timer *t, uint64_t due_us, uint64_t period_us);
void actor_timer_stop(struct actor_timer *t);
int actor_timer_pending(const struct actor_timer *t);
/* Stop and free; NULL is a no-op. May be called from the timer's own fire. */
void actor_timer_free(struct actor_timer *t);

#define alog_error(a, ...) log_error(actor_name(a), __VA_ARGS__)
#define alog_warn(a, ...)  log_warn(actor_name(a), __VA_ARGS__)
#define alog_info(a, ...)  log_info(actor_name(a), __VA_ARGS__)
#define alog_debug(a, ...) log_debug(actor_name(a), __VA_ARGS__)

#endif
