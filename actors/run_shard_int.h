/* run_shard_int: what the three files of a run shard share — the actor
 * (run_shard.c: messages, windows, start and stop), its virtual users and
 * executors (run_vus.c) and request rendering (run_render.c). Private to
 * them; one shard lives on one loop and is touched by that loop only. */
#ifndef STAMPEDE_RUN_SHARD_INT_H
#define STAMPEDE_RUN_SHARD_INT_H

#include "run_shard.h"

#include "executor.h"
#include "extract.h"
#include "httpc.h"
#include "minheap.h"

#include <event2/event.h>
#include <sys/queue.h>

#define CTL_TICK_US 10000u
/* Tick mode, for open-model shards planned above TICK_RATE per second: a
 * periodic timerfd every TICK_US polls the connections (httpc tick mode:
 * completions carry kernel receive timestamps) and releases the arrivals
 * due before the next tick. The loop then wakes once per tick instead of
 * once per arrival and per response — a wake-up costs ~10-20 us of CPU on
 * this VM. A request sent before it was due is timed from its send, so
 * latency is never understated; the load is released in TICK_US slices. */
#define TICK_RATE 2000.0
#define TICK_US 500u

enum { TAG_SECOND = 1, TAG_CTL, TAG_GRACE, TAG_WARMUP };
enum phase { PH_INIT, PH_RUNNING, PH_DRAINING, PH_DONE };

struct shard;

/* A telemetry signal in a shard: its share of the arrivals (smooth
 * weighted round robin by request rate) and its documents per request. */
struct tstream {
    double posts;             /* requests per second of the whole run */
    double per_post;          /* documents per request */
    double credit;            /* round-robin credit */
    double acc;               /* documents owed (fractions carried over) */
};

/* Where a VU is: between iterations (idle, sleeping, retired), or in
 * its setup, an iteration, or its teardown. */
enum vu_stage { VS_BETWEEN, VS_SETUP, VS_ITER, VS_TEARDOWN };

struct vu {
    struct shard *sh;
    int step;
    int active;          /* in an iteration */
    uint32_t iterations;
    uint64_t iter_due_us;
    uint64_t req_due_us;
    uint64_t backoff_us; /* the pause after the last pre-byte failure, 0 = none */
    uint32_t sleep_gen;  /* bumped to cancel its entry in the sleep heap */
    int sleeping;        /* in the sleep heap (think time or backoff) */
    SLIST_ENTRY(vu) idle_link;
    uint32_t num;        /* 1-based, unique in the run ({{vu}}) */
    uint8_t stage;       /* enum vu_stage */
    uint8_t setup_done;  /* ran its setup (or has none and began an iteration) */
    uint8_t torn_down;   /* ran its teardown */
    int iter_end;        /* the iteration ends before this step (nmain, or one telemetry step) */
    int ndocs;           /* telemetry: documents in the request in flight */
    struct tmpl_val *vars; /* by symbol index: dataset columns, extractions */
    struct sbuf out;     /* the request being sent, when rendered per request */
    struct sbuf *own;    /* by symbol index: extracted values' bytes */
    uint8_t *failed;     /* by symbol index: its last extraction found nothing */
    struct sbuf body, headers; /* the response, kept for the step's extractors */
    struct httpc_conn conns[]; /* one per origin */
};

struct shard {
    actor_t *self;
    uint64_t run_id;
    int index, n;
    const struct script *sc;   /* read until the last window, never after */
    const struct script_load *load;
    int nsteps, norigins, nvars; /* kept for release, which must not read sc */
    actor_t *supervisor, *metrics;
    struct httpc_loop *hl;
    struct httpc_origin *origins;
    struct httpc_tls *tls; /* TLS settings of the shard's origins, NULL without https */
    struct evdns_base *dns;
    int dns_pending;
    char **req;               /* per step: its bytes when nothing in them varies, else NULL */
    size_t *req_len;
    unsigned *req_flags;
    struct tmpl *req_t;       /* per step: the request up to the body, compiled */
    const struct tmpl **req_body; /* per step: a body that varies (sc's), or NULL */
    struct sbuf scratch;      /* a varying body, rendered before its Content-Length */
    uint64_t rng[4];          /* builtins' randomness (uuid, random_*) */
    pcre2_match_data *md;     /* for extractors' regexes, on this loop */
    long ds_next;             /* the next dataset row this shard takes (sequential, unique) */
    struct tstream *ts;       /* telemetry: one per signal (step), else NULL */
    struct exec_profile prof;
    struct exec_control ctl;
    int open;
    enum phase phase;

    struct vu **vus;          /* all allocated */
    int nvus, max_vus;
    SLIST_HEAD(, vu) idle;    /* stack: most recently used first (warm connections) */
    int nidle;
    int active;               /* VUs inside an iteration */
    int active_peak;          /* the most at once since the window began */
    int target;               /* closed: VUs that should be active */
    int finished_vus;         /* per-vu-iterations: VUs that did all their iterations */
    int vu_quota;             /* per-vu-iterations: VUs of this shard */

    uint64_t t0;              /* monotonic profile time 0 */
    uint64_t paused_total, paused_at;
    int paused;
    uint64_t next_arrival;    /* open: profile time of the next arrival */
    double carry;
    int afd;                  /* absolute-time timerfd for arrivals (or ticks) */
    int ticking;              /* tick mode (see TICK_RATE) */
    uint64_t armed_us;        /* what afd is set to, 0 = disarmed */
    struct event *arrival_ev;
    struct minheap sleepers;  /* VUs in think time or backoff, by wake time */
    uint64_t sleep_armed_us;  /* when sleep_ev fires, 0 = not armed */
    struct event *sleep_ev;

    char error[200];          /* why the shard failed, or "" */
    struct stats_window *win;
    uint64_t win_start_us;
    uint32_t second;
    int in_warmup;
    struct actor_timer *tick, *ctl_tick, *grace, *warmup;
};

/* ---- time ---- */

/* Profile time (µs since t0, pauses left out) at monotonic time now. */
static inline uint64_t ptime(const struct shard *s, uint64_t now)
{
    uint64_t ref = s->paused ? s->paused_at : now;
    uint64_t t = ref > s->t0 ? ref - s->t0 : 0;
    return t > s->paused_total ? t - s->paused_total : 0;
}

/* Monotonic time of profile time pt. */
static inline uint64_t mono_of(const struct shard *s, uint64_t pt)
{
    return s->t0 + s->paused_total + pt;
}

/* ---- run_shard.c ---- */

/* A setup or system call failed: end the shard now with the reason. */
void shard_fail(struct shard *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Finish once draining and no VU is in an iteration. */
void shard_check_drained(struct shard *s);
/* No new iterations from now on (the end of the load, a stop, rows run
 * out); in-flight ones get the graceful stop. */
void shard_begin_drain(struct shard *s);

/* ---- run_vus.c ---- */

struct vu *shard_vu_new(struct shard *s);
void shard_push_idle(struct shard *s, struct vu *v);
/* The most recently idled VU, or NULL. */
struct vu *shard_pop_idle(struct shard *s);
/* Start v's iteration (setup first when it has not run), due at due. */
void shard_vu_begin(struct shard *s, struct vu *v, uint64_t due, uint64_t now);
/* Out of its iteration, back on the idle stack. */
void shard_vu_park(struct shard *s, struct vu *v);
/* Take a sleeping VU out of think time or backoff. */
void shard_sleep_cancel(struct vu *v);
/* Draining: the idle VUs that ran a setup or an iteration run their
 * teardown now (the others stay idle). */
void shard_teardown_idle(struct shard *s, uint64_t now);
void shard_on_sleep(evutil_socket_t fd, short what, void *arg);

/* ---- run_exec.c ---- */

/* Closed model: bring the active VUs up to the target. */
void shard_closed_adjust(struct shard *s, uint64_t now);
/* Open model: start every arrival due by now (or the next tick). */
void shard_arrivals(struct shard *s, uint64_t now);
void shard_arm_arrival(struct shard *s, uint64_t now);
/* Set the arrival timerfd to absolute monotonic at_us (0 disarms). */
void shard_set_afd(struct shard *s, uint64_t at_us);
void shard_start_ticker(struct shard *s, uint64_t first_us);
void shard_on_arrival(evutil_socket_t fd, short what, void *arg);
/* Planned peak rate of this shard, per second. */
double shard_peak_rate(const struct shard *s);

/* Telemetry: set signal k's documents per second (k < 0: the planned
 * rates) and the run's total request rate to match. */
void shard_telemetry_rates(struct shard *s, int k, double docs_per_s);

/* ---- run_render.c ---- */

/* Every step's request, once, before the run starts: bytes when nothing
 * varies, else compiled templates. */
void shard_render_requests(struct shard *s);
/* Step `step`'s request for v: borrowed until its response (static, or
 * in v's buffer). */
const char *shard_render(struct shard *s, struct vu *v, int step, size_t *len);
void shard_render_free(struct shard *s);

#endif
