/* test_control: live control of a running run — rate, VUs, percent,
 * pause/resume, stop — seen in the per-second points published on the
 * (in-process) bus, applied within a second, without new connections.
 * Drives the real runs/metrics/bus actors and shards against the test
 * target on 127.0.0.1. */
#include "bus.h"
#include "check_main.h"
#include "clock.h"
#include "itest.h"
#include "json.h"
#include "metrics.h"
#include "probe.h"
#include "runs.h"
#include "script.h"
#include "target.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXSEC 64

static struct probe p;
static struct target tgt;
static actor_t *bus, *metrics, *runs;

struct seen {
    double rps[MAXSEC];
    double vus[MAXSEC];
    int have[MAXSEC];
    int finished;
    struct metrics_summary *summary;
    int reply_status;
    int got_reply;
};

static void setup(void)
{
    target_start(&tgt, NULL);
    probe_start(&p, 3);
    char err[128];
    struct loop *l0 = loop_group_get(p.g, 0);
    struct bus_config bc = { NULL, "stampede" };
    bus = bus_new(l0, &bc, err, sizeof err);
    struct metrics_config mc = { .bus = bus, .prefix = "stampede" };
    metrics = metrics_new(l0, &mc);
    struct runs_config rc = { p.g, metrics };
    runs = runs_new(l0, &rc);
    struct bus_subscribe *s = MSG_NEW(MSG_BUS_SUBSCRIBE, struct bus_subscribe);
    snprintf(s->pattern, sizeof s->pattern, "stampede:run:*");
    s->m.reply_to = p.actor;
    actor_send_urgent(bus, &s->m);
    probe_run(&p);
}

static void teardown(void)
{
    probe_stop(&p);
    runs_free(runs);
    metrics_free(metrics);
    bus_free(bus);
    probe_free(&p);
    target_stop(&tgt);
}

static void start(uint64_t id, const char *load, const char *path)
{
    char doc[1024];
    snprintf(doc, sizeof doc, "{\"target\":\"http://127.0.0.1:%u\",\"steps\":[{\"name\":\"s\",\"path\":\"%s\"}],"
                              "\"load\":%s}", tgt.port, path, load);
    struct script *sc;
    struct json_err e;
    ck_assert_msg(script_parse(doc, strlen(doc), &sc, &e) == 0, "%s", e.message);
    struct run_start *st = MSG_NEW(MSG_RUN_START, struct run_start);
    st->run_id = id;
    st->script = sc;
    st->observer = p.actor;
    ck_assert_int_eq(actor_send_urgent(runs, &st->m), 0);
}

static void take(struct seen *s, msg_t *m)
{
    if (m->type == MSG_BUS_MESSAGE) {
        struct bus_message *b = (struct bus_message *)m;
        struct json_err e;
        yajl_val v = json_parse(b->payload, b->len, JSON_MAX_DEPTH, &e);
        if (v) {
            static const char *tp[] = { "second", NULL }, *rp[] = { "rps", NULL }, *vp[] = { "vus", NULL };
            yajl_val t = yajl_tree_get(v, tp, yajl_t_number), r = yajl_tree_get(v, rp, yajl_t_number),
                     u = yajl_tree_get(v, vp, yajl_t_number);
            long k = t ? YAJL_GET_INTEGER(t) : -1;
            if (k >= 0 && k < MAXSEC && r && u) {
                s->rps[k] = YAJL_GET_DOUBLE(r);
                s->vus[k] = YAJL_GET_DOUBLE(u);
                s->have[k] = 1;
            }
            yajl_tree_free(v);
        }
    } else if (m->type == MSG_RUN_FINISHED) {
        struct run_finished *f = (struct run_finished *)m;
        s->finished = 1;
        s->summary = f->summary;
        f->summary = NULL;
        f->m.dtor = NULL;
    } else if (m->type == MSG_RUN_CONTROL_REPLY) {
        s->reply_status = ((struct run_control_reply *)m)->status;
        s->got_reply = 1;
    }
    msg_free(m);
}

/* Collect messages until `until_ms` after t_start (or the run finishes). */
static void pump(struct seen *s, uint64_t t_start, uint64_t until_ms)
{
    while (!s->finished && itest_now_ms() < t_start + until_ms) {
        msg_t *m = probe_wait(&p, 0, 20);
        if (m)
            take(s, m);
    }
}

static int control(struct seen *s, uint64_t id, enum run_op op, double value, uint64_t ramp_us)
{
    struct run_control *c = MSG_NEW(MSG_RUN_CONTROL, struct run_control);
    c->run_id = id;
    c->op = op;
    c->value = value;
    c->ramp_us = ramp_us;
    s->got_reply = 0;
    probe_send(&p, runs, &c->m, 4242);
    uint64_t until = itest_now_ms() + 2000;
    while (!s->got_reply && itest_now_ms() < until) {
        msg_t *m = probe_wait(&p, 0, 20);
        if (m)
            take(s, m);
    }
    ck_assert(s->got_reply);
    return s->reply_status;
}

static void finish(struct seen *s, uint64_t t_start)
{
    pump(s, t_start, 30000);
    ck_assert_msg(s->finished, "the run did not finish");
}

START_TEST(open_model_rate_pause_resume_scale)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    uint64_t t0 = itest_now_ms();
    start(1, "{\"executor\":\"constant-arrival-rate\",\"rate\":200,\"duration\":\"9s\","
             "\"pre_allocated_vus\":10,\"max_vus\":50}", "/");
    pump(&s, t0, 1500);
    ck_assert_int_eq(control(&s, 1, RUN_OP_SET_RATE, 600, 0), 0);   /* at ~1.5 s */
    pump(&s, t0, 3500);
    ck_assert_int_eq(control(&s, 1, RUN_OP_PAUSE, 0, 0), 0);         /* at ~3.5 s */
    pump(&s, t0, 5500);
    ck_assert_int_eq(control(&s, 1, RUN_OP_PAUSE, 0, 0), 409);       /* already paused */
    ck_assert_int_eq(control(&s, 1, RUN_OP_RESUME, 0, 0), 0);        /* at ~5.5 s */
    pump(&s, t0, 7500);
    ck_assert_int_eq(control(&s, 1, RUN_OP_SCALE, 50, 0), 0);        /* at ~7.5 s: 300/s */
    ck_assert_int_eq(control(&s, 1, RUN_OP_SET_VUS, 10, 0), 409);    /* not for an open run */
    ck_assert_int_eq(control(&s, 99, RUN_OP_STOP, 0, 0), 404);       /* no such run */
    finish(&s, t0);
    for (int k = 0; k <= 9; k++)
        ck_assert_msg(s.have[k], "no point for second %d", k);
    ck_assert_msg(fabs(s.rps[0] - 200) < 20, "t0 rps %.1f", s.rps[0]);
    ck_assert_msg(fabs(s.rps[2] - 600) < 60, "t2 rps %.1f (set_rate 600 at 1.5 s)", s.rps[2]);
    ck_assert_msg(s.rps[4] < 5, "t4 rps %.1f (paused at 3.5 s)", s.rps[4]);
    ck_assert_msg(fabs(s.rps[6] - 600) < 60, "t6 rps %.1f (resumed at 5.5 s)", s.rps[6]);
    /* pausing moved the plan: 2 s of pause, so the 9 s plan ends ~11 s in */
    ck_assert_msg(s.have[10] && fabs(s.rps[9] - 300) < 40, "t9 rps %.1f (scaled to 50%%)", s.rps[9]);
    msg_free(&s.summary->m);
}
END_TEST

START_TEST(closed_model_vus_ramp_and_stop)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    uint64_t t0 = itest_now_ms();
    /* 4 VUs against a 50 ms target: ~80 req/s */
    start(2, "{\"executor\":\"constant-vus\",\"vus\":4,\"duration\":\"30s\",\"graceful_stop\":\"2s\"}",
          "/delay?ms=50");
    pump(&s, t0, 1500);
    long before = target_requests(&tgt);
    ck_assert_int_eq(control(&s, 2, RUN_OP_SET_VUS, 12, 0), 0);      /* at ~1.5 s */
    pump(&s, t0, 3500);
    ck_assert_int_eq(control(&s, 2, RUN_OP_SCALE, 50, 2000000), 0);  /* 12 -> 6 over 2 s */
    pump(&s, t0, 6500);
    ck_assert_int_eq(control(&s, 2, RUN_OP_SET_RATE, 100, 0), 409);  /* not for a closed run */
    ck_assert_int_eq(control(&s, 2, RUN_OP_STOP, 0, 0), 0);          /* at ~6.5 s */
    uint64_t stop_at = itest_now_ms();
    finish(&s, t0);
    ck_assert_msg(itest_now_ms() - stop_at < 1500, "stop took %llu ms",
                  (unsigned long long)(itest_now_ms() - stop_at));
    ck_assert_msg(s.vus[0] == 4, "t0 vus %.0f", s.vus[0]);
    ck_assert_msg(s.vus[2] == 12, "t2 vus %.0f", s.vus[2]);
    ck_assert_msg(fabs(s.rps[2] - 240) < 40, "t2 rps %.1f", s.rps[2]);
    ck_assert_msg(s.vus[5] == 6, "t5 vus %.0f (50%% of 12 after the ramp)", s.vus[5]);
    ck_assert_msg(s.vus[4] > 6 && s.vus[4] < 12, "t4 vus %.0f (mid-ramp)", s.vus[4]);
    /* the summary is the run's own: every request the target saw */
    ck_assert_ptr_nonnull(s.summary);
    ck_assert_ptr_nonnull(strstr(s.summary->json, "\"interrupted_iterations\":0"));
    ck_assert_int_gt(target_requests(&tgt), before);
    msg_free(&s.summary->m);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, open_model_rate_pause_resume_scale);
    tcase_add_test(tc, closed_model_vus_ramp_and_stop);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(control_suite)
