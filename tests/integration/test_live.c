/* test_live: live frames on real Redis and over the WebSocket gateway —
 * once a second, valid against the JSON Schema in docs/live.md; events;
 * subscribe/unsubscribe and the latest frame at once; malformed messages;
 * a stalled client does not delay another; Redis restarted mid-run; the
 * token on REST and WebSocket. */
#include "apic.h"
#include "check_main.h"
#include "target.h"
#include "wsc.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct itest_server srv;
static struct target tgt;
static uint16_t live_port;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t live_port_of(const struct itest_server *s)
{
    FILE *f = fopen(s->log, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    int port = 0;
    while (!port && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "live frames on ws://127.0.0.1:");
        if (p)
            port = atoi(p + strlen("live frames on ws://127.0.0.1:"));
    }
    fclose(f);
    ck_assert_int_gt(port, 0);
    return (uint16_t)port;
}

static const char *const LIVE_ARGS[] = { "--live-listen", "127.0.0.1:0", NULL };

static void start_default(void)
{
    target_start(&tgt, NULL);
    itest_server_start_healthy(&srv, LIVE_ARGS);
    apic_use(srv.port, NULL);
    live_port = live_port_of(&srv);
}

static void stop_default(void)
{
    if (srv.pid > 0)
        itest_server_stop(&srv, 20000);
    target_stop(&tgt);
}

/* ---- the documented schema ---- */

static yajl_val schema_root;

static yajl_val load_schema(void)
{
    if (schema_root)
        return schema_root;
    char path[600];
    snprintf(path, sizeof path, "%s/docs/live.md", getenv("STAMPEDE_SRCDIR") ? getenv("STAMPEDE_SRCDIR") : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = 0;
    char *p = strstr(doc, "<!-- frame-schema -->");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "```json");
    ck_assert_ptr_nonnull(p);
    p += strlen("```json");
    char *end = strstr(p, "```");
    ck_assert_ptr_nonnull(end);
    *end = 0;
    char err[256];
    schema_root = yajl_tree_parse(p, err, sizeof err);
    ck_assert_msg(schema_root != NULL, "the schema in docs/live.md does not parse: %s", err);
    return schema_root;
}

static yajl_val member(yajl_val o, const char *k)
{
    if (!YAJL_IS_OBJECT(o))
        return NULL;
    for (size_t i = 0; i < o->u.object.len; i++)
        if (!strcmp(o->u.object.keys[i], k))
            return o->u.object.values[i];
    return NULL;
}

static int is_type(yajl_val v, const char *t)
{
    if (!strcmp(t, "object"))
        return YAJL_IS_OBJECT(v);
    if (!strcmp(t, "array"))
        return YAJL_IS_ARRAY(v);
    if (!strcmp(t, "string"))
        return YAJL_IS_STRING(v);
    if (!strcmp(t, "integer"))
        return YAJL_IS_INTEGER(v);
    if (!strcmp(t, "number"))
        return YAJL_IS_NUMBER(v);
    if (!strcmp(t, "boolean"))
        return YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v);
    if (!strcmp(t, "null"))
        return YAJL_IS_NULL(v);
    return 0;
}

/* A string's text, never NULL. */
static const char *str(yajl_val v)
{
    const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    return s ? s : "";
}

static int enum_has(yajl_val en, yajl_val v)
{
    for (size_t i = 0; i < en->u.array.len; i++)
        if (YAJL_IS_STRING(v) && !strcmp(str(v), str(en->u.array.values[i])))
            return 1;
    return 0;
}

/* Validate v against schema s (the subset docs/live.md uses); why names
 * the first violation. */
static int valid(yajl_val s, yajl_val v, const char *path, char *why, size_t wl)
{
    yajl_val ref = member(s, "$ref");
    if (ref) {
        const char *slash = strrchr(str(ref), '/');
        const char *name = slash ? slash + 1 : "";
        return valid(member(member(load_schema(), "$defs"), name), v, path, why, wl);
    }
    yajl_val type = member(s, "type");
    if (type) {
        int ok = 0;
        if (YAJL_IS_STRING(type))
            ok = is_type(v, str(type));
        for (size_t i = 0; YAJL_IS_ARRAY(type) && i < type->u.array.len; i++)
            ok |= is_type(v, str(type->u.array.values[i]));
        if (!ok) {
            snprintf(why, wl, "%s: wrong type", path);
            return 0;
        }
    }
    yajl_val en = member(s, "enum");
    if (en && !enum_has(en, v)) {
        snprintf(why, wl, "%s: not one of the enum", path);
        return 0;
    }
    yajl_val min = member(s, "minimum");
    if (min && YAJL_IS_NUMBER(v) && YAJL_GET_DOUBLE(v) < YAJL_GET_DOUBLE(min)) {
        snprintf(why, wl, "%s: below the minimum", path);
        return 0;
    }
    if (!YAJL_IS_OBJECT(v))
        return 1;
    yajl_val req = member(s, "required");
    for (size_t i = 0; req && i < req->u.array.len; i++) {
        if (!member(v, str(req->u.array.values[i]))) {
            snprintf(why, wl, "%s.%s: required", path, str(req->u.array.values[i]));
            return 0;
        }
    }
    yajl_val props = member(s, "properties"), extra = member(s, "additionalProperties"),
             names = member(s, "propertyNames");
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        if (names) {
            yajl_val kv = member(names, "enum");
            int ok = 0;
            for (size_t e = 0; kv && e < kv->u.array.len; e++)
                ok |= !strcmp(str(kv->u.array.values[e]), k);
            if (!ok) {
                snprintf(why, wl, "%s: an unknown name", sub);
                return 0;
            }
        }
        yajl_val ps = member(props, k);
        if (ps) {
            if (!valid(ps, v->u.object.values[i], sub, why, wl))
                return 0;
        } else if (extra && YAJL_IS_FALSE(extra)) {
            snprintf(why, wl, "%s: not in the schema", sub);
            return 0;
        } else if (extra && YAJL_IS_OBJECT(extra) && !valid(extra, v->u.object.values[i], sub, why, wl)) {
            return 0;
        }
    }
    return 1;
}

static void check_frame(yajl_val frame)
{
    char why[300] = "";
    ck_assert_msg(valid(load_schema(), frame, "frame", why, sizeof why), "a frame breaks docs/live.md: %s", why);
}

/* ---- helpers ---- */

static const char *start_run(double rate, const char *duration, int steps)
{
    char pid[64], sid[64];
    snprintf(pid, sizeof pid, "%s", apic_project(apic_name("live")));
    snprintf(sid, sizeof sid, "%s", apic_scenario(pid, "s"));
    char def[16384];
    int n = snprintf(def, sizeof def, "{\"target\":\"http://127.0.0.1:%u\",\"steps\":[", tgt.port);
    for (int i = 0; i < steps; i++)
        n += snprintf(def + n, sizeof def - (size_t)n, "%s{\"name\":\"step-number-%02d\",\"path\":\"/s%d\"}",
                      i ? "," : "", i, i);
    snprintf(def + n, sizeof def - (size_t)n,
             "],\"load\":{\"executor\":\"constant-arrival-rate\",\"rate\":%g,\"duration\":\"%s\","
             "\"pre_allocated_vus\":5,\"max_vus\":50,\"graceful_stop\":\"1s\"}}", rate, duration);
    char scr[64], body[160];
    snprintf(scr, sizeof scr, "%s", apic_script(sid, "live", def));
    snprintf(body, sizeof body, "{\"script_id\":\"%s\"}", scr);
    return apic_run(body);
}

static void ws_open(struct wsc *w, const char *extra)
{
    int status;
    ck_assert_msg(wsc_connect(w, live_port, "/v1/live", extra, &status) == 0, "upgrade failed: %d", status);
}

/* The next message of a type ("frame", "event", ...) within ms, parsed. */
static yajl_val next_of(struct wsc *w, const char *type, int ms, int64_t *recv_ms)
{
    int64_t until = wall_ms() + ms;
    while (wall_ms() < until) {
        int code;
        char reason[128];
        char *m = wsc_recv(w, (int)(until - wall_ms()), &code, reason, sizeof reason);
        ck_assert_msg(m || code == 0, "the gateway closed the connection: %d %s", code, reason);
        if (!m)
            break;
        if (recv_ms)
            *recv_ms = wall_ms();
        char err[128];
        yajl_val v = yajl_tree_parse(m, err, sizeof err);
        free(m);
        ck_assert_ptr_nonnull(v);
        const char *t = apic_str(v, "type", NULL);
        if (t && !strcmp(t, type))
            return v;
        yajl_tree_free(v);
    }
    return NULL;
}

START_TEST(frames_once_a_second_on_redis_and_websocket)
{
    redisContext *rc = redisConnect("127.0.0.1", (int)itest_stack()->redis_port);
    ck_assert(rc && !rc->err);
    redisReply *rep = redisCommand(rc, "PSUBSCRIBE stampede:run:*");
    freeReplyObject(rep);
    struct wsc w;
    ws_open(&w, NULL);
    wsc_send(&w, "{\"subscribe\":\"runs\"}");
    yajl_val ack = next_of(&w, "subscribed", 2000, NULL);
    ck_assert_str_eq(apic_str(ack, "channel", NULL), "runs");
    yajl_tree_free(ack);
    char id[64];
    snprintf(id, sizeof id, "%s", start_run(40, "5s", 2));
    char sub[128];
    snprintf(sub, sizeof sub, "{\"subscribe\":\"run:%s\"}", id);
    wsc_send(&w, sub);
    /* WebSocket: frames once a second, valid, fresh; events as they come */
    int frames = 0, saw_final = 0, states = 0;
    long last_second = -1;
    int64_t max_delay = 0;
    double total_req = 0;
    const char *want[] = { "starting", "running", "finished" };
    int64_t until = wall_ms() + 20000;
    while ((!saw_final || states < 3) && wall_ms() < until) {
        int code;
        char reason[128];
        char *m = wsc_recv(&w, 4000, &code, reason, sizeof reason);
        ck_assert_msg(m != NULL, "nothing within 4 s (%d frames, %d states; close %d %s)", frames, states,
                      code, reason);
        int64_t got = wall_ms();
        char err[128];
        yajl_val f = yajl_tree_parse(m, err, sizeof err);
        free(m);
        ck_assert_ptr_nonnull(f);
        const char *type = apic_str(f, "type", NULL);
        if (!strcmp(type, "event")) {
            if (states < 3 && !strcmp(apic_str(f, "run_id", NULL), id) && !strcmp(apic_str(f, "kind", NULL), "state") &&
                !strcmp(apic_str(f, "state", NULL), want[states]))
                states++;
            yajl_tree_free(f);
            continue;
        }
        if (strcmp(type, "frame")) {
            yajl_tree_free(f);
            continue;
        }
        check_frame(f);
        ck_assert_str_eq(apic_str(f, "run_id", NULL), id);
        long sec = (long)apic_num(f, "second", NULL);
        ck_assert_msg(sec == last_second + 1 || last_second < 0, "second %ld after %ld", sec, last_second);
        last_second = sec;
        int64_t delay = got - (int64_t)apic_num(f, "t_ms", NULL);
        if (delay > max_delay)
            max_delay = delay;
        total_req = apic_num(f, "requests", NULL);
        saw_final |= YAJL_IS_TRUE(apic_get(f, "final", NULL));
        frames++;
        yajl_tree_free(f);
    }
    ck_assert_msg(states == 3, "saw %d of the starting, running, finished events", states);
    ck_assert_msg(frames >= 5 && frames <= 8, "%d frames for a 5 s run", frames);
    ck_assert_msg(max_delay < 500, "a frame took %lld ms to arrive", (long long)max_delay);
    /* 40 iterations/s for 5 s, two steps each */
    ck_assert_msg(fabs(total_req - 400) <= 4, "the frames count %.0f requests", total_req);
    /* Redis: the same frames */
    struct timeval tv = { 2, 0 };
    redisSetTimeout(rc, tv);
    int on_redis = 0;
    while (redisGetReply(rc, (void **)&rep) == REDIS_OK) {
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 && strstr(rep->element[2]->str, id)) {
            char err[128];
            yajl_val f = yajl_tree_parse(rep->element[3]->str, err, sizeof err);
            ck_assert_ptr_nonnull(f);
            check_frame(f);
            yajl_tree_free(f);
            on_redis++;
        }
        freeReplyObject(rep);
        if (on_redis == frames)
            break;
    }
    ck_assert_int_eq(on_redis, frames);
    redisFree(rc);
    wsc_close(&w);
}
END_TEST

START_TEST(subscribe_latest_unsubscribe_and_errors)
{
    char id[64];
    snprintf(id, sizeof id, "%s", start_run(20, "20s", 1));
    apic_wait_status(id, "running", 10000);
    apic_sleep_ms(1500);
    struct wsc w;
    ws_open(&w, NULL);
    /* malformed and unknown messages: an error each, the connection stays */
    static const char *const bad[] = { "{", "[1]", "hello", "{\"subscribe\":5}", "{\"subscribe\":\"nope\"}",
                                       "{\"subscribe\":\"run:not-a-uuid\"}", "{\"dance\":\"run:x\"}",
                                       "{\"subscribe\":\"runs\",\"unsubscribe\":\"runs\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsc_send(&w, bad[i]);
        yajl_val e = next_of(&w, "error", 2000, NULL);
        ck_assert_msg(e != NULL, "no error frame for %s", bad[i]);
        ck_assert_ptr_nonnull(apic_str(e, "message", NULL));
        yajl_tree_free(e);
    }
    /* subscribe: the latest frame at once, not a second later */
    char msg[128];
    snprintf(msg, sizeof msg, "{\"subscribe\":\"run:%s\"}", id);
    int64_t t0 = wall_ms();
    wsc_send(&w, msg);
    int64_t got;
    yajl_val f = next_of(&w, "frame", 3000, &got);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(got - t0 < 300, "the latest frame took %lld ms", (long long)(got - t0));
    ck_assert_msg(t0 - (int64_t)apic_num(f, "t_ms", NULL) >= 0, "it was built before we asked");
    yajl_tree_free(f);
    f = next_of(&w, "frame", 3000, NULL);
    ck_assert_ptr_nonnull(f);
    yajl_tree_free(f);
    /* unsubscribe: no more frames */
    snprintf(msg, sizeof msg, "{\"unsubscribe\":\"run:%s\"}", id);
    wsc_send(&w, msg);
    yajl_val u = next_of(&w, "unsubscribed", 2000, NULL);
    ck_assert_ptr_nonnull(u);
    yajl_tree_free(u);
    f = next_of(&w, "frame", 2500, NULL);
    ck_assert_msg(f == NULL, "a frame came after unsubscribing");
    wsc_close(&w);
    char p[160];
    snprintf(p, sizeof p, "/v1/runs/%s/stop", id);
    struct itest_resp r = apic("POST", p, NULL);
    itest_resp_free(&r);
}
END_TEST

/* A sample's value: the line that starts with name (not its # HELP). */
static double metric(const char *name)
{
    struct itest_resp r = apic_expect("GET", "/metrics", NULL, 200);
    char needle[160];
    snprintf(needle, sizeof needle, "\n%s", name);
    const char *p = strstr(r.body, needle);
    double v = p ? atof(p + strlen(needle)) : -1;
    itest_resp_free(&r);
    return v;
}

START_TEST(a_stalled_client_does_not_delay_another)
{
    char id[64];
    snprintf(id, sizeof id, "%s", start_run(50, "16s", 64)); /* big frames: 64 steps */
    apic_wait_status(id, "running", 10000);
    /* a client that reads nothing, with almost no receive buffer */
    struct wsc stalled, live;
    int status;
    ck_assert_int_eq(wsc_connect_rcvbuf(&stalled, live_port, "/v1/live", NULL, 1024, &status), 0);
    ws_open(&live, NULL);
    char msg[128];
    snprintf(msg, sizeof msg, "{\"subscribe\":\"run:%s\"}", id);
    wsc_send(&stalled, msg);
    wsc_send(&live, msg);
    int frames = 0;
    int64_t max_delay = 0;
    for (;;) {
        int64_t got;
        yajl_val f = next_of(&live, "frame", 4000, &got);
        if (!f)
            break;
        int64_t d = got - (int64_t)apic_num(f, "t_ms", NULL);
        max_delay = d > max_delay ? d : max_delay;
        int final = YAJL_IS_TRUE(apic_get(f, "final", NULL));
        frames++;
        yajl_tree_free(f);
        if (final)
            break;
    }
    ck_assert_msg(frames >= 15, "the live client got %d frames", frames);
    ck_assert_msg(max_delay < 500, "the live client waited %lld ms for a frame", (long long)max_delay);
    /* the stalled one was served the latest frames instead of a backlog */
    ck_assert_msg(metric("stampede_live_replaced_total ") > 0, "no frame was replaced for the stalled client");
    wsc_close(&stalled);
    wsc_close(&live);
}
END_TEST

START_TEST(redis_restart_mid_run)
{
    char id[64];
    snprintf(id, sizeof id, "%s", start_run(20, "14s", 1));
    apic_wait_status(id, "running", 10000);
    struct wsc w;
    ws_open(&w, NULL);
    char msg[128];
    snprintf(msg, sizeof msg, "{\"subscribe\":\"run:%s\"}", id);
    wsc_send(&w, msg);
    yajl_val f = next_of(&w, "frame", 3000, NULL);
    ck_assert_ptr_nonnull(f);
    yajl_tree_free(f);
    ck_assert_int_eq(itest_stack_cmd("redis-stop"), 0);
    /* this server's run keeps reaching its own subscribers */
    int during = 0;
    int64_t until = wall_ms() + 3000;
    while (wall_ms() < until) {
        f = next_of(&w, "frame", 1500, NULL);
        if (f) {
            during++;
            yajl_tree_free(f);
        }
    }
    ck_assert_msg(during >= 2, "%d frames while Redis was down", during);
    ck_assert_int_eq(itest_stack_cmd("redis-start"), 0);
    int64_t back = wall_ms();
    redisContext *rc = redisConnect("127.0.0.1", (int)itest_stack()->redis_port);
    ck_assert(rc && !rc->err);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "SUBSCRIBE stampede:run:%s", id);
    redisReply *rep = redisCommand(rc, cmd);
    freeReplyObject(rep);
    struct timeval tv = { 4, 0 };
    redisSetTimeout(rc, tv);
    int got = 0;
    while (!got && redisGetReply(rc, (void **)&rep) == REDIS_OK) {
        got = rep->type == REDIS_REPLY_ARRAY && rep->elements == 3;
        freeReplyObject(rep);
    }
    ck_assert_msg(got, "no frame on Redis after it came back");
    /* within 2 s of Redis returning, plus the second a frame takes */
    ck_assert_msg(wall_ms() - back < 3200, "the Redis path resumed after %lld ms", (long long)(wall_ms() - back));
    redisFree(rc);
    f = next_of(&w, "frame", 3000, NULL);
    ck_assert_ptr_nonnull(f);
    yajl_tree_free(f);
    wsc_close(&w);
}
END_TEST

START_TEST(token_guards_rest_and_websocket)
{
    itest_server_stop(&srv, 20000);
    static const char *const args[] = { "--live-listen", "127.0.0.1:0", "--api-token", "t0k3n", NULL };
    itest_server_start_healthy(&srv, args);
    live_port = live_port_of(&srv);
    apic_use(srv.port, NULL);
    apic_error("GET", "/v1/runs", NULL, 401, "unauthorized", NULL);
    /* a wrong header: refused at the handshake */
    struct wsc w;
    int status;
    ck_assert_int_eq(wsc_connect(&w, live_port, "/v1/live", "Authorization: Bearer nope\r\n", &status), -1);
    ck_assert_int_ne(status, 101);
    /* a wrong path: refused too */
    ck_assert_int_eq(wsc_connect(&w, live_port, "/elsewhere", NULL, &status), -1);
    /* no header: nothing before the token; a wrong token closes */
    ws_open(&w, NULL);
    wsc_send(&w, "{\"subscribe\":\"runs\"}");
    yajl_val e = next_of(&w, "error", 2000, NULL);
    ck_assert_ptr_nonnull(strstr(apic_str(e, "message", NULL), "token"));
    yajl_tree_free(e);
    wsc_send(&w, "{\"token\":\"t0k3\"}");
    int code;
    char reason[128];
    char *m;
    while ((m = wsc_recv(&w, 2000, &code, reason, sizeof reason)) != NULL)
        free(m);
    ck_assert_int_eq(code, 1008);
    wsc_close(&w);
    /* the right token as a message, or as a header */
    ws_open(&w, NULL);
    wsc_send(&w, "{\"token\":\"t0k3n\"}");
    e = next_of(&w, "authenticated", 2000, NULL);
    ck_assert_ptr_nonnull(e);
    yajl_tree_free(e);
    wsc_send(&w, "{\"subscribe\":\"runs\"}");
    e = next_of(&w, "subscribed", 2000, NULL);
    ck_assert_ptr_nonnull(e);
    yajl_tree_free(e);
    wsc_close(&w);
    ws_open(&w, "Authorization: Bearer t0k3n\r\n");
    wsc_send(&w, "{\"subscribe\":\"runs\"}");
    e = next_of(&w, "subscribed", 2000, NULL);
    ck_assert_ptr_nonnull(e);
    yajl_tree_free(e);
    wsc_close(&w);
    double refused = metric("stampede_live_refused_total ");
    ck_assert_msg(refused >= 2, "refused: %.0f", refused);
}
END_TEST

/* Keepalive (live_ping 1 s here): a silent client that answers pings
 * stays; one that does not is closed with a reason about a ping after as
 * long again. */
START_TEST(silent_clients_are_pinged_and_dead_ones_closed)
{
    itest_server_stop(&srv, 20000);
    static const char *const args[] = { "--live-listen", "127.0.0.1:0", "--live-ping", "1s", NULL };
    itest_server_start_healthy(&srv, args);
    live_port = live_port_of(&srv);
    apic_use(srv.port, NULL);
    struct wsc alive, deaf;
    ws_open(&alive, NULL);
    ws_open(&deaf, NULL);
    deaf.deaf = 1;
    int64_t t0 = wall_ms(), closed_after = -1;
    int code_alive = 0, code_deaf = 0;
    char reason[128] = "", why[128] = "";
    while (wall_ms() - t0 < 5500) {
        free(wsc_recv(&alive, 100, &code_alive, why, sizeof why));
        ck_assert_msg(code_alive == 0, "the client that answers was closed (%d %s, %u pings)", code_alive, why,
                      alive.pings);
        if (closed_after < 0) {
            free(wsc_recv(&deaf, 100, &code_deaf, reason, sizeof reason));
            if (code_deaf)
                closed_after = wall_ms() - t0;
        }
    }
    ck_assert_msg(alive.pings >= 2, "the answering client got %u pings in 5.5 s", alive.pings);
    ck_assert_uint_ge(deaf.pings, 1);
    ck_assert_int_eq(code_deaf, 1008);
    ck_assert_msg(strstr(reason, "pong") != NULL, "close reason: %s", reason);
    /* pinged 1-2 s after its last word, closed 1-2 s after the ping */
    ck_assert_msg(closed_after >= 1500 && closed_after <= 4500, "closed after %lld ms", (long long)closed_after);
    wsc_send(&alive, "{\"subscribe\":\"runs\"}");
    yajl_val e = next_of(&alive, "subscribed", 2000, NULL);
    ck_assert_ptr_nonnull(e);
    yajl_tree_free(e);
    wsc_close(&alive);
    wsc_close(&deaf);
}
END_TEST

static Suite *live_suite(void)
{
    Suite *s = suite_create("live");
    TCase *t = tcase_create("live");
    tcase_set_timeout(t, 90);
    tcase_add_unchecked_fixture(t, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(t, start_default, stop_default);
    tcase_add_test(t, frames_once_a_second_on_redis_and_websocket);
    tcase_add_test(t, subscribe_latest_unsubscribe_and_errors);
    tcase_add_test(t, a_stalled_client_does_not_delay_another);
    tcase_add_test(t, redis_restart_mid_run);
    tcase_add_test(t, token_guards_rest_and_websocket);
    tcase_add_test(t, silent_clients_are_pinged_and_dead_ones_closed);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(live_suite)
