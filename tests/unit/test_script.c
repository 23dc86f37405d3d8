/* test_script: the script format — what parses to what, what is refused
 * and with which field path, and that the shipped examples parse.
 * Documents are written with ' for " to keep them readable. */
#include "check_main.h"
#include "script.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ' -> " (a JSON string that needs a quote uses \u0027) */
static char *dq(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static struct script *parse_ok(const char *doc)
{
    char *d = dq(doc);
    struct json_err e = { "", "" };
    struct script *s = NULL;
    int rc = script_parse(d, strlen(d), &s, &e);
    ck_assert_msg(rc == 0 && s != NULL, "rejected [%s] %s\n  in %s", e.field, e.message, d);
    free(d);
    return s;
}

/* Parse must fail with exactly this field and a message containing frag;
 * messages about a field start with its path. */
static void expect_err_at(const char *doc, const char *field, const char *frag, int line)
{
    char *d = dq(doc);
    struct json_err e = { "", "" };
    struct script *s = (struct script *)1;
    int rc = script_parse(d, strlen(d), &s, &e);
    ck_assert_msg(rc == -1, "line %d: accepted %s", line, d);
    ck_assert_msg(s == NULL, "line %d: *out not NULL after failure", line);
    ck_assert_msg(strcmp(e.field, field) == 0, "line %d: field '%s', expected '%s' (%s)\n  in %s",
                  line, e.field, field, e.message, d);
    ck_assert_msg(strstr(e.message, frag) != NULL, "line %d: message '%s' lacks '%s'", line,
                  e.message, frag);
    if (*field && strncmp(e.message, "duplicate key", 13) != 0)
        ck_assert_msg(strncmp(e.message, field, strlen(field)) == 0,
                      "line %d: message '%s' does not start with the path", line, e.message);
    free(d);
}
#define expect_err(doc, field, frag) expect_err_at((doc), (field), (frag), __LINE__)

#define T "'target':'http://127.0.0.1:8080'"
#define S1 "'steps':[{'name':'home','path':'/'}]"
#define LV "'load':{'executor':'constant-vus','vus':1,'duration':'1s'}"
#define DOC(extra) "{" T "," S1 "," LV extra "}"
#define WITH_STEP(step) "{" T ",'steps':[" step "]," LV "}"
#define WITH_LOAD(load) "{" T "," S1 ",'load':{" load "}}"
#define WITH_TH(th) \
    "{" T ",'steps':[{'name':'home','path':'/','checks':{'status':200}}]," LV ",'thresholds':{" th "}}"
#define CAR "'executor':'constant-arrival-rate','rate':10,'duration':'10s','pre_allocated_vus':5"
#define RAR "'executor':'ramping-arrival-rate','stages':[{'duration':'10s','target':10}],'pre_allocated_vus':5"

#define S_SEC 1000000ull

/* ---- valid scripts ---- */

START_TEST(minimal_script)
{
    struct script *s = parse_ok("{'target': 'http://127.0.0.1:8080',"
                                " 'steps': [{'name': 'home', 'method': 'GET', 'path': '/', 'checks': {'status': 200}}],"
                                " 'load': {'executor': 'constant-arrival-rate', 'rate': 500, 'time_unit': '1s', 'duration': '30s',"
                                "          'pre_allocated_vus': 50, 'max_vus': 200},"
                                " 'thresholds': {'http_req_duration': ['p(99)<250']}}");
    ck_assert_int_eq(s->norigins, 1);
    ck_assert_int_eq(s->origins[0].tls, 0);
    ck_assert_str_eq(s->origins[0].host, "127.0.0.1");
    ck_assert_uint_eq(s->origins[0].port, 8080);
    ck_assert_str_eq(s->origins[0].authority, "127.0.0.1:8080");

    ck_assert_int_eq(s->nsteps, 1);
    const struct script_step *st = &s->steps[0];
    ck_assert_str_eq(st->name, "home");
    ck_assert_str_eq(st->method, "GET");
    ck_assert_int_eq(st->origin, 0);
    ck_assert_str_eq(st->target, "/");
    ck_assert_int_eq(st->nheaders, 0);
    ck_assert_ptr_null(st->body);
    ck_assert_uint_eq(st->body_len, 0);
    ck_assert_uint_eq(st->timeout_us, 60 * S_SEC);
    ck_assert_int_eq(st->checks.status, 200);
    ck_assert_int_eq(st->checks.status_class, 0);
    ck_assert_ptr_null(st->checks.body_contains);
    ck_assert_uint_eq(st->checks.max_latency_us, 0);

    const struct script_load *l = &s->load;
    ck_assert_int_eq(l->executor, EXEC_CONSTANT_ARRIVAL_RATE);
    ck_assert_double_eq(l->rate, 500);
    ck_assert_uint_eq(l->time_unit_us, S_SEC);
    ck_assert_uint_eq(l->duration_us, 30 * S_SEC);
    ck_assert_int_eq(l->pre_allocated_vus, 50);
    ck_assert_int_eq(l->max_vus, 200);
    ck_assert_uint_eq(l->graceful_stop_us, 30 * S_SEC);
    ck_assert_uint_eq(l->warmup_us, 0);
    ck_assert_uint_eq(l->think_time_us, 0);
    ck_assert_int_eq(script_load_is_open(l), 1);
    ck_assert_uint_eq(script_load_duration_us(l), 30 * S_SEC);

    ck_assert_int_eq(s->nthresholds, 1);
    const struct threshold *t = &s->thresholds[0];
    ck_assert_int_eq(t->metric, TM_HTTP_REQ_DURATION);
    ck_assert_int_eq(t->step, -1);
    ck_assert_int_eq(t->agg, TA_P);
    ck_assert_double_eq(t->p, 99);
    ck_assert_int_eq(t->op, TO_LT);
    ck_assert_double_eq(t->value, 250);
    ck_assert_int_eq(t->abort_on_fail, 0);
    ck_assert_uint_eq(t->delay_abort_eval_us, 0);
    ck_assert_str_eq(t->metric_text, "http_req_duration");
    ck_assert_str_eq(t->expr_text, "p(99)<250");

    ck_assert_int_eq(s->insecure_skip_tls_verify, 0);
    ck_assert_str_eq(s->user_agent, "stampede/" PACKAGE_VERSION);
    script_free(s);
}
END_TEST

START_TEST(top_level_options)
{
    struct script *s =
        parse_ok(DOC(",'insecure_skip_tls_verify':true,'user_agent':'k6-compatible/1 (test)'"));
    ck_assert_int_eq(s->insecure_skip_tls_verify, 1);
    ck_assert_str_eq(s->user_agent, "k6-compatible/1 (test)");
    ck_assert_int_eq(s->nthresholds, 0);
    ck_assert_ptr_null(s->thresholds);
    script_free(s);
    script_free(NULL);
}
END_TEST

/* Templates compile at validation; errors name the field; a variable
 * nothing sets is refused where it is used. */
START_TEST(templates_compile_and_name_their_field)
{
    struct script *s = parse_ok("{" T ",'steps':[{'name':'a','path':'/u/{{uuid}}?n={{random_int:1:9}}',"
                                "'headers':{'X-Id':'{{vu}}-{{iteration}}'},'method':'POST','body':{'k':'{{random_string:3}}'}},"
                                "{'name':'b','path':'/static'}]," LV "}");
    ck_assert_int_eq(s->dynamic, 1);
    ck_assert_int_eq(s->steps[0].target_t.dynamic, 1);
    ck_assert_int_eq(s->steps[0].header_t[0].dynamic, 1);
    ck_assert_int_eq(s->steps[0].body_t.dynamic, 1);
    ck_assert_int_eq(s->steps[1].target_t.dynamic, 0);
    script_free(s);
    s = parse_ok(DOC(""));
    ck_assert_int_eq(s->dynamic, 0);
    script_free(s);
    expect_err(WITH_STEP("{'name':'a','path':'/u/{{uuid'}"), "steps[0].path", "is not closed");
    expect_err(WITH_STEP("{'name':'a','url':'http://h/{{random_int:3:1}}'}"), "steps[0].url",
               "greater than the maximum");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'Authorization':'Bearer {{tokn}}'}}"),
               "steps[0].headers.Authorization", "unknown variable \"tokn\"");
    expect_err(WITH_STEP("{'name':'a','path':'/','method':'POST','body':{'x':['{{random_string:0}}']}}"),
               "steps[0].body", "N from 1 to");
    expect_err(WITH_STEP("{'name':'a','path':'/','body':'{{who}}'}"), "steps[0].body", "unknown variable \"who\"");
}
END_TEST

/* setup and teardown: steps of their own, named apart from the iteration's */
START_TEST(setup_and_teardown_steps)
{
    struct script *s = parse_ok(DOC(",'setup':[{'name':'login','method':'POST','path':'/login'}],"
                                    "'teardown':[{'name':'logout','path':'/logout'},{'name':'bye','path':'/bye'}]"));
    ck_assert_int_eq(s->nsteps, 4);
    ck_assert_int_eq(s->nmain, 1);
    ck_assert_int_eq(s->nsetup, 1);
    ck_assert_int_eq(s->nteardown, 2);
    ck_assert_str_eq(s->steps[1].name, "login");
    ck_assert_str_eq(s->steps[3].name, "bye");
    char p[32];
    ck_assert_str_eq(script_step_path(s, 3, p, sizeof p), "teardown[1]");
    script_free(s);
    expect_err(DOC(",'setup':{}"), "setup", "expected an array");
    expect_err(DOC(",'setup':[{'name':'home','path':'/'}]"), "setup[0].name", "already the name of steps[0]");
    expect_err(DOC(",'setup':[{'name':'a','path':'/'}],'teardown':[{'name':'a','path':'/'}]"), "teardown[0].name",
               "already the name of setup[0]");
    expect_err(DOC(",'teardown':[{'name':'t','path':'/{{random_int:2:1}}'}]"), "teardown[0].path",
               "greater than the maximum");
    expect_err(DOC(",'setup':[{'name':'t'}]"), "setup[0]", "needs a path");
}
END_TEST

static const char *header(const struct script_step *st, const char *name);

/* A telemetry section stands for its steps and load; its errors name
 * the field under "telemetry". */
START_TEST(telemetry_scripts)
{
#define TEL(x) "{'telemetry':{'destination':{'url':'http://127.0.0.1:4318/'},'duration':'10s'" x "}}"
    struct script *s = parse_ok(TEL(",'format':'otlp','batch':100,'logs':{'rate':250,'size':64,'level':'ERROR'},"
                                    "'traces':{'rate':0.5},'metrics':{'rate':0}"));
    ck_assert_ptr_nonnull(s->telemetry);
    ck_assert_int_eq(s->nsteps, 2); /* metrics at rate 0: no step */
    ck_assert_str_eq(s->steps[0].name, "logs");
    ck_assert_str_eq(s->steps[0].target, "/v1/logs");
    ck_assert_str_eq(s->steps[1].target, "/v1/traces");
    ck_assert_str_eq(s->steps[0].method, "POST");
    ck_assert_int_eq(s->steps[0].retry_stale, 0); /* documents are never sent twice */
    ck_assert_int_eq(s->telemetry->streams[0].level, 17);
    ck_assert_int_eq(s->telemetry->streams[0].log_size, 64);
    ck_assert(script_load_is_open(&s->load));
    /* 250 logs/s in batches of 100: 3 requests a second; 0.5 traces/s: one each 2 s */
    ck_assert_double_eq_tol(s->load.rate, 3.5, 1e-9);
    ck_assert_uint_eq(s->load.duration_us, 10 * S_SEC);
    script_free(s);
    s = parse_ok("{'telemetry':{'destination':{'url':'http://h:9000/ingest','api_key':'k','headers':{'X-Org':'o'}},"
                 "'duration':'1m','logs':{'rate':10}},'thresholds':{'http_req_failed{step:logs}':['rate<0.01']}}");
    ck_assert_int_eq(s->telemetry->format, TELEMETRY_MONIFLUX);
    ck_assert_int_eq(s->telemetry->batch, 1);
    ck_assert_str_eq(s->steps[0].target, "/ingest/logs");
    ck_assert_str_eq(header(&s->steps[0], "X-API-Key"), "k");
    ck_assert_str_eq(header(&s->steps[0], "Authorization"), "Bearer k");
    ck_assert_str_eq(header(&s->steps[0], "X-Org"), "o");
    ck_assert_int_eq(s->nthresholds, 1);
    script_free(s);
    expect_err(TEL(""), "telemetry", "no signal to send");
    expect_err("{'telemetry':{'duration':'1s','logs':{'rate':1}}}", "telemetry.destination", "is required");
    expect_err("{'telemetry':{'destination':{'url':'ftp://h/'},'duration':'1s','logs':{'rate':1}}}",
               "telemetry.destination.url", "unsupported scheme");
    expect_err("{'telemetry':{'destination':{'url':'http://h/?a=1'},'duration':'1s','logs':{'rate':1}}}",
               "telemetry.destination.url", "must not have a query");
    expect_err(TEL(",'format':'xml','logs':{'rate':1}"), "telemetry.format", "not one of moniflux, jsonl, otlp");
    expect_err(TEL(",'batch':10,'logs':{'rate':1}"), "telemetry.batch", "one document a request");
    expect_err(TEL(",'logs':{'rate':-1}"), "telemetry.logs.rate", "");
    expect_err(TEL(",'logs':{'rate':1,'level':'loud'}"), "telemetry.logs.level", "not one of trace");
    expect_err(TEL(",'logs':{'rate':1,'size':0}"), "telemetry.logs.size", "");
    expect_err(TEL(",'metrics':{'rate':1,'size':10}"), "telemetry.metrics", "for logs only");
    expect_err(TEL(",'logs':{'rate':1,'colour':'red'}"), "telemetry.logs.colour", "unknown field");
    expect_err("{'telemetry':{'destination':{'url':'http://h/'},'logs':{'rate':1}}}", "telemetry.duration",
               "is required");
    expect_err("{" S1 ",'telemetry':{'destination':{'url':'http://h/'},'duration':'1s','logs':{'rate':1}}}", "steps",
               "a telemetry script has no steps");
#undef TEL
}
END_TEST

/* Stale keep-alive retries: idempotent methods by default, POST and PATCH
 * only when asked (per step or for all); backoff on by default. */
START_TEST(retry_stale_and_backoff)
{
    struct script *s = parse_ok("{" T ",'steps':[{'name':'g','path':'/'},{'name':'p','method':'POST','path':'/'},"
                                "{'name':'d','method':'DELETE','path':'/'},{'name':'q','method':'PATCH','path':'/',"
                                "'retry_stale':true},{'name':'h','path':'/','retry_stale':false}]," LV "}");
    ck_assert_int_eq(s->steps[0].retry_stale, 1);
    ck_assert_int_eq(s->steps[1].retry_stale, 0);
    ck_assert_int_eq(s->steps[2].retry_stale, 1);
    ck_assert_int_eq(s->steps[3].retry_stale, 1);
    ck_assert_int_eq(s->steps[4].retry_stale, 0);
    ck_assert_uint_eq(s->backoff.min_us, 10000);
    ck_assert_uint_eq(s->backoff.max_us, 1000000);
    script_free(s);
    s = parse_ok("{" T ",'retry_stale':true,'steps':[{'name':'p','method':'POST','path':'/'},"
                 "{'name':'g','path':'/','retry_stale':false}]," LV ",'backoff':false}");
    ck_assert_int_eq(s->steps[0].retry_stale, 1);
    ck_assert_int_eq(s->steps[1].retry_stale, 0);
    ck_assert_uint_eq(s->backoff.min_us, 0);
    script_free(s);
    s = parse_ok(DOC(",'backoff':{'min':'50ms','max':'5s'}"));
    ck_assert_uint_eq(s->backoff.min_us, 50000);
    ck_assert_uint_eq(s->backoff.max_us, 5000000);
    script_free(s);
    expect_err(DOC(",'backoff':5"), "backoff", "expected false or an object");
    expect_err(DOC(",'backoff':{'min':'1s','max':'10ms'}"), "backoff.max", "must not be shorter");
    expect_err(DOC(",'backoff':{'min':'0s'}"), "backoff.min", "longer than 0");
    expect_err(DOC(",'backoff':{'start':'1s'}"), "backoff.start", "unknown field");
    expect_err(DOC(",'retry_stale':'yes'"), "retry_stale", "expected a boolean");
    expect_err(WITH_STEP("{'name':'a','path':'/','retry_stale':1}"), "steps[0].retry_stale",
               "expected a boolean");
}
END_TEST

START_TEST(executor_constant_vus)
{
    struct script *s = parse_ok(WITH_LOAD("'executor':'constant-vus','vus':10,'duration':'1m30s'"));
    const struct script_load *l = &s->load;
    ck_assert_int_eq(l->executor, EXEC_CONSTANT_VUS);
    ck_assert_int_eq(l->vus, 10);
    ck_assert_uint_eq(l->duration_us, 90 * S_SEC);
    ck_assert_uint_eq(l->graceful_stop_us, 30 * S_SEC);
    ck_assert_uint_eq(l->warmup_us, 0);
    ck_assert_uint_eq(l->think_time_us, 0);
    ck_assert_int_eq(l->nstages, 0);
    ck_assert_int_eq(script_load_is_open(l), 0);
    ck_assert_uint_eq(script_load_duration_us(l), 90 * S_SEC);
    script_free(s);

    s = parse_ok(WITH_LOAD("'executor':'constant-vus','vus':100000,'duration':'2m','warmup':'10s',"
                           "'graceful_stop':'0s','think_time':'250ms'"));
    l = &s->load;
    ck_assert_int_eq(l->vus, 100000);
    ck_assert_uint_eq(l->warmup_us, 10 * S_SEC);
    ck_assert_uint_eq(l->graceful_stop_us, 0);
    ck_assert_uint_eq(l->think_time_us, 250000);
    script_free(s);
}
END_TEST

START_TEST(executor_ramping_vus)
{
    struct script *s = parse_ok(WITH_LOAD(
        "'executor':'ramping-vus','stages':[{'duration':'30s','target':20},"
        "{'duration':'1m','target':20},{'duration':'10s','target':0}]"));
    const struct script_load *l = &s->load;
    ck_assert_int_eq(l->executor, EXEC_RAMPING_VUS);
    ck_assert_int_eq(l->start_vus, 0);
    ck_assert_int_eq(l->nstages, 3);
    ck_assert_uint_eq(l->stages[0].duration_us, 30 * S_SEC);
    ck_assert_double_eq(l->stages[0].target, 20);
    ck_assert_uint_eq(l->stages[1].duration_us, 60 * S_SEC);
    ck_assert_double_eq(l->stages[2].target, 0);
    ck_assert_uint_eq(l->graceful_stop_us, 30 * S_SEC);
    ck_assert_int_eq(script_load_is_open(l), 0);
    ck_assert_uint_eq(script_load_duration_us(l), 100 * S_SEC);
    script_free(s);

    /* a 0s stage jumps; start_vus alone may carry the load */
    s = parse_ok(WITH_LOAD("'executor':'ramping-vus','start_vus':5,'stages':[{'duration':'0s',"
                           "'target':0},{'duration':'5s','target':0}],'warmup':'1s',"
                           "'graceful_stop':'5s','think_time':'1s'"));
    l = &s->load;
    ck_assert_int_eq(l->start_vus, 5);
    ck_assert_int_eq(l->nstages, 2);
    ck_assert_uint_eq(l->stages[0].duration_us, 0);
    ck_assert_uint_eq(l->warmup_us, S_SEC);
    ck_assert_uint_eq(l->graceful_stop_us, 5 * S_SEC);
    ck_assert_uint_eq(l->think_time_us, S_SEC);
    ck_assert_uint_eq(script_load_duration_us(l), 5 * S_SEC);
    script_free(s);
}
END_TEST

START_TEST(executor_constant_arrival_rate)
{
    struct script *s = parse_ok(WITH_LOAD(CAR));
    const struct script_load *l = &s->load;
    ck_assert_int_eq(l->executor, EXEC_CONSTANT_ARRIVAL_RATE);
    ck_assert_double_eq(l->rate, 10);
    ck_assert_uint_eq(l->time_unit_us, S_SEC);
    ck_assert_uint_eq(l->duration_us, 10 * S_SEC);
    ck_assert_int_eq(l->pre_allocated_vus, 5);
    ck_assert_int_eq(l->max_vus, 5); /* defaults to pre_allocated_vus */
    ck_assert_uint_eq(l->graceful_stop_us, 30 * S_SEC);
    ck_assert_int_eq(script_load_is_open(l), 1);
    ck_assert_uint_eq(script_load_duration_us(l), 10 * S_SEC);
    script_free(s);

    s = parse_ok(WITH_LOAD("'executor':'constant-arrival-rate','rate':2.5,'time_unit':'1m',"
                           "'duration':'1h','pre_allocated_vus':1,'max_vus':1,'warmup':'59m',"
                           "'graceful_stop':'1s'"));
    l = &s->load;
    ck_assert_double_eq(l->rate, 2.5); /* stored per time_unit, as given */
    ck_assert_uint_eq(l->time_unit_us, 60 * S_SEC);
    ck_assert_uint_eq(l->duration_us, 3600 * S_SEC);
    ck_assert_int_eq(l->max_vus, 1);
    ck_assert_uint_eq(l->warmup_us, 59 * 60 * S_SEC);
    ck_assert_uint_eq(l->graceful_stop_us, S_SEC);
    script_free(s);
}
END_TEST

START_TEST(executor_ramping_arrival_rate)
{
    struct script *s = parse_ok(WITH_LOAD(RAR));
    const struct script_load *l = &s->load;
    ck_assert_int_eq(l->executor, EXEC_RAMPING_ARRIVAL_RATE);
    ck_assert_double_eq(l->start_rate, 0);
    ck_assert_uint_eq(l->time_unit_us, S_SEC);
    ck_assert_int_eq(l->nstages, 1);
    ck_assert_double_eq(l->stages[0].target, 10);
    ck_assert_int_eq(l->pre_allocated_vus, 5);
    ck_assert_int_eq(l->max_vus, 5);
    ck_assert_int_eq(script_load_is_open(l), 1);
    ck_assert_uint_eq(script_load_duration_us(l), 10 * S_SEC);
    script_free(s);

    s = parse_ok(WITH_LOAD("'executor':'ramping-arrival-rate','start_rate':1.5,'time_unit':'500ms',"
                           "'stages':[{'duration':'1m','target':100.25},{'duration':'2m','target':0}],"
                           "'pre_allocated_vus':10,'max_vus':50,'warmup':'30s','graceful_stop':'2s'"));
    l = &s->load;
    ck_assert_double_eq(l->start_rate, 1.5);
    ck_assert_uint_eq(l->time_unit_us, 500000);
    ck_assert_int_eq(l->nstages, 2);
    ck_assert_double_eq(l->stages[0].target, 100.25);
    ck_assert_uint_eq(l->stages[1].duration_us, 120 * S_SEC);
    ck_assert_int_eq(l->max_vus, 50);
    ck_assert_uint_eq(l->warmup_us, 30 * S_SEC);
    ck_assert_uint_eq(script_load_duration_us(l), 180 * S_SEC);
    script_free(s);
}
END_TEST

START_TEST(executor_per_vu_iterations)
{
    struct script *s = parse_ok(WITH_LOAD("'executor':'per-vu-iterations','vus':4,'iterations':25"));
    const struct script_load *l = &s->load;
    ck_assert_int_eq(l->executor, EXEC_PER_VU_ITERATIONS);
    ck_assert_int_eq(l->vus, 4);
    ck_assert_int_eq(l->iterations, 25);
    ck_assert_uint_eq(l->max_duration_us, 600 * S_SEC);
    ck_assert_uint_eq(l->think_time_us, 0);
    ck_assert_int_eq(script_load_is_open(l), 0);
    ck_assert_uint_eq(script_load_duration_us(l), 600 * S_SEC);
    script_free(s);

    s = parse_ok(WITH_LOAD("'executor':'per-vu-iterations','vus':1,'iterations':1,"
                           "'max_duration':'90s','think_time':'10ms','graceful_stop':'1s'"));
    l = &s->load;
    ck_assert_uint_eq(l->max_duration_us, 90 * S_SEC);
    ck_assert_uint_eq(l->think_time_us, 10000);
    ck_assert_uint_eq(script_load_duration_us(l), 90 * S_SEC);
    script_free(s);
}
END_TEST

START_TEST(executor_names)
{
    ck_assert_str_eq(script_executor_name(EXEC_CONSTANT_VUS), "constant-vus");
    ck_assert_str_eq(script_executor_name(EXEC_RAMPING_VUS), "ramping-vus");
    ck_assert_str_eq(script_executor_name(EXEC_CONSTANT_ARRIVAL_RATE), "constant-arrival-rate");
    ck_assert_str_eq(script_executor_name(EXEC_RAMPING_ARRIVAL_RATE), "ramping-arrival-rate");
    ck_assert_str_eq(script_executor_name(EXEC_PER_VU_ITERATIONS), "per-vu-iterations");
    ck_assert_str_eq(script_executor_name((enum script_executor)99), "unknown");
}
END_TEST

START_TEST(url_steps_add_origins)
{
    struct script *s = parse_ok(
        "{" T ",'steps':["
        "{'name':'a','path':'/'},"
        "{'name':'b','url':'http://127.0.0.1:8080/x'},"          /* same as target */
        "{'name':'c','url':'https://example.com/a?b=1#frag'},"
        "{'name':'d','url':'http://example.com:80'},"           /* default port written out */
        "{'name':'e','url':'http://EXAMPLE.com/'},"             /* host case does not matter */
        "{'name':'f','url':'https://example.com:8443?q=1'},"
        "{'name':'g','url':'http://[::1]:9000/v6'},"
        "{'name':'h','url':'HTTPS://[2001:db8::1]/'},"
        "{'name':'i','url':'https://example.com:443/p%20q'}"
        "]," LV "}");
    ck_assert_int_eq(s->norigins, 6);
    int want_origin[] = { 0, 0, 1, 2, 2, 3, 4, 5, 1 };
    const char *want_target[] = { "/", "/x", "/a?b=1", "/", "/", "/?q=1", "/v6", "/", "/p%20q" };
    for (int i = 0; i < 9; i++) {
        ck_assert_int_eq(s->steps[i].origin, want_origin[i]);
        ck_assert_str_eq(s->steps[i].target, want_target[i]);
    }
    ck_assert_int_eq(s->origins[1].tls, 1);
    ck_assert_str_eq(s->origins[1].host, "example.com");
    ck_assert_uint_eq(s->origins[1].port, 443);
    ck_assert_str_eq(s->origins[1].authority, "example.com");
    ck_assert_int_eq(s->origins[2].tls, 0);
    ck_assert_uint_eq(s->origins[2].port, 80);
    ck_assert_str_eq(s->origins[2].authority, "example.com");
    ck_assert_uint_eq(s->origins[3].port, 8443);
    ck_assert_str_eq(s->origins[3].authority, "example.com:8443");
    ck_assert_str_eq(s->origins[4].host, "::1");
    ck_assert_uint_eq(s->origins[4].port, 9000);
    ck_assert_str_eq(s->origins[4].authority, "[::1]:9000");
    ck_assert_int_eq(s->origins[5].tls, 1);
    ck_assert_str_eq(s->origins[5].host, "2001:db8::1");
    ck_assert_uint_eq(s->origins[5].port, 443);
    ck_assert_str_eq(s->origins[5].authority, "[2001:db8::1]");
    script_free(s);

    /* no target at all: every step has a url */
    s = parse_ok("{'steps':[{'name':'a','url':'http://localhost/'},{'name':'b','url':'http://localhost:81/'}],"
                 LV "}");
    ck_assert_int_eq(s->norigins, 2);
    ck_assert_str_eq(s->origins[0].authority, "localhost");
    ck_assert_str_eq(s->origins[1].authority, "localhost:81");
    script_free(s);

    /* a target no step uses adds no origin */
    s = parse_ok("{" T ",'steps':[{'name':'a','url':'http://other:81/'}]," LV "}");
    ck_assert_int_eq(s->norigins, 1);
    ck_assert_str_eq(s->origins[0].host, "other");
    script_free(s);
}
END_TEST

START_TEST(path_joins_target_prefix)
{
    struct script *s = parse_ok("{'target':'http://h/api','steps':["
                                "{'name':'a','path':'/users'},"
                                "{'name':'b','path':'/'},"
                                "{'name':'c','path':'/users?page=2&q=%C3%A9#top'}"
                                "]," LV "}");
    ck_assert_str_eq(s->steps[0].target, "/api/users");
    ck_assert_str_eq(s->steps[1].target, "/api/");
    ck_assert_str_eq(s->steps[2].target, "/api/users?page=2&q=%C3%A9");
    ck_assert_int_eq(s->norigins, 1);
    ck_assert_str_eq(s->origins[0].authority, "h");
    ck_assert_uint_eq(s->origins[0].port, 80);
    script_free(s);

    s = parse_ok("{'target':'https://h:8443/api/v1/','steps':[{'name':'a','path':'/users'}]," LV "}");
    ck_assert_str_eq(s->steps[0].target, "/api/v1/users");
    ck_assert_str_eq(s->origins[0].authority, "h:8443");
    ck_assert_int_eq(s->origins[0].tls, 1);
    script_free(s);

    s = parse_ok("{'target':'http://h/','steps':[{'name':'a','path':'/x'}]," LV "}");
    ck_assert_str_eq(s->steps[0].target, "/x");
    script_free(s);
}
END_TEST

START_TEST(methods_headers_timeout)
{
    struct script *s = parse_ok(WITH_STEP(
        "{'name':'a','method':'post','path':'/','timeout':'1.5s',"
        "'headers':{'Accept':'*/*','X-Token':'a b\\tc','User-Agent':'mine'}},"
        "{'name':'b','method':'Options','path':'/'},{'name':'c','path':'/'}"));
    ck_assert_str_eq(s->steps[0].method, "POST");
    ck_assert_str_eq(s->steps[1].method, "OPTIONS");
    ck_assert_str_eq(s->steps[2].method, "GET");
    ck_assert_uint_eq(s->steps[0].timeout_us, 1500000);
    ck_assert_int_eq(s->steps[0].nheaders, 3);
    ck_assert_str_eq(s->steps[0].headers[0].name, "Accept");
    ck_assert_str_eq(s->steps[0].headers[0].value, "*/*");
    ck_assert_str_eq(s->steps[0].headers[1].name, "X-Token");
    ck_assert_str_eq(s->steps[0].headers[1].value, "a b\tc");
    ck_assert_str_eq(s->steps[0].headers[2].name, "User-Agent");
    ck_assert_ptr_null(s->steps[0].body);
    script_free(s);

    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                           "OPTIONS" };
    for (size_t i = 0; i < 7; i++) {
        char doc[256];
        snprintf(doc, sizeof doc, WITH_STEP("{'name':'a','method':'%s','path':'/'}"), methods[i]);
        s = parse_ok(doc);
        ck_assert_str_eq(s->steps[0].method, methods[i]);
        script_free(s);
    }
}
END_TEST

static const char *header(const struct script_step *st, const char *name)
{
    for (int i = 0; i < st->nheaders; i++)
        if (strcasecmp(st->headers[i].name, name) == 0)
            return st->headers[i].value;
    return NULL;
}

START_TEST(bodies)
{
    struct script *s = parse_ok(WITH_STEP(
        "{'name':'str','method':'POST','path':'/','body':'hello'},"
        "{'name':'obj','method':'POST','path':'/','body':{'a':1, 'b':[true, null, 'x\\u00e9'], 'c':{'d':1.50, 'e':-2e3}}},"
        "{'name':'typed','method':'PUT','path':'/','headers':{'content-type':'application/vnd.api+json'},"
        " 'body':{'k':'v'}},"
        "{'name':'arr','method':'POST','path':'/','headers':{'X-A':'1'},'body':[1,2]},"
        "{'name':'empty','method':'POST','path':'/','body':''}"));
    const struct script_step *st = &s->steps[0];
    ck_assert_str_eq(st->body, "hello");
    ck_assert_uint_eq(st->body_len, 5);
    ck_assert_int_eq(st->nheaders, 0); /* a string body sets no Content-Type */

    st = &s->steps[1];
    ck_assert_str_eq(st->body, "{\"a\":1,\"b\":[true,null,\"x\xc3\xa9\"],\"c\":{\"d\":1.50,\"e\":-2e3}}");
    ck_assert_uint_eq(st->body_len, strlen(st->body));
    ck_assert_int_eq(st->nheaders, 1);
    ck_assert_str_eq(st->headers[0].name, "Content-Type");
    ck_assert_str_eq(st->headers[0].value, "application/json");

    st = &s->steps[2];
    ck_assert_str_eq(st->body, "{\"k\":\"v\"}");
    ck_assert_int_eq(st->nheaders, 1);
    ck_assert_str_eq(header(st, "Content-Type"), "application/vnd.api+json");

    st = &s->steps[3];
    ck_assert_str_eq(st->body, "[1,2]");
    ck_assert_int_eq(st->nheaders, 2);
    ck_assert_str_eq(st->headers[0].name, "X-A");
    ck_assert_str_eq(header(st, "content-type"), "application/json");

    st = &s->steps[4];
    ck_assert_ptr_nonnull(st->body);
    ck_assert_uint_eq(st->body_len, 0);
    script_free(s);
}
END_TEST

START_TEST(checks_forms)
{
    struct script *s = parse_ok(WITH_STEP(
        "{'name':'a','path':'/','checks':{'status':204}},"
        "{'name':'b','path':'/','checks':{'status':'2xx','body_contains':'ok','max_latency':'250ms'}},"
        "{'name':'c','path':'/','checks':{'status':'5XX'}},"
        "{'name':'d','path':'/','checks':{}},"
        "{'name':'e','method':'HEAD','path':'/','checks':{'status':100}},"
        "{'name':'f','path':'/'}"));
    ck_assert_int_eq(s->steps[0].checks.status, 204);
    ck_assert_int_eq(s->steps[0].checks.status_class, 0);
    ck_assert_int_eq(s->steps[1].checks.status, 0);
    ck_assert_int_eq(s->steps[1].checks.status_class, 2);
    ck_assert_str_eq(s->steps[1].checks.body_contains, "ok");
    ck_assert_uint_eq(s->steps[1].checks.max_latency_us, 250000);
    ck_assert_int_eq(s->steps[2].checks.status_class, 5);
    for (int i = 3; i < 6; i += 2) {
        ck_assert_int_eq(s->steps[i].checks.status, 0);
        ck_assert_int_eq(s->steps[i].checks.status_class, 0);
        ck_assert_ptr_null(s->steps[i].checks.body_contains);
        ck_assert_uint_eq(s->steps[i].checks.max_latency_us, 0);
    }
    ck_assert_int_eq(s->steps[4].checks.status, 100);
    script_free(s);
}
END_TEST

START_TEST(thresholds_both_forms)
{
    struct script *s = parse_ok(
        "{" T ",'steps':[{'name':'home','path':'/','checks':{'status':200}},{'name':'api.v2','path':'/x'}],"
        LV ",'thresholds':{"
        "'http_req_duration':['p(95)<200', '  p( 99.9 ) <= 300.5 ', {'threshold':'avg<100','abort_on_fail':true,'delay_abort_eval':'10s'}],"
        "'http_req_duration{step:api.v2}':[{'threshold':'max>=0'}],"
        "'http_req_failed{step:home}':['rate<0.01'],"
        "'http_reqs':['count>10','rate!=0'],"
        "'checks':['rate==1'],"
        "'iteration_duration':['med>-1e2'],"
        "'dropped_iterations':['count<=0'],"
        "'data_sent{step:home}':['count>0'],"
        "'http_req_duration_uncorrected':['min<5']"
        "}}");
    ck_assert_int_eq(s->nthresholds, 12);
    const struct threshold *t = s->thresholds;
    ck_assert_int_eq(t[0].agg, TA_P);
    ck_assert_double_eq(t[0].p, 95);
    ck_assert_int_eq(t[1].agg, TA_P);
    ck_assert_double_eq_tol(t[1].p, 99.9, 1e-9);
    ck_assert_int_eq(t[1].op, TO_LE);
    ck_assert_double_eq(t[1].value, 300.5);
    ck_assert_str_eq(t[1].expr_text, "  p( 99.9 ) <= 300.5 ");
    ck_assert_int_eq(t[2].agg, TA_AVG);
    ck_assert_double_eq(t[2].p, 0);
    ck_assert_int_eq(t[2].abort_on_fail, 1);
    ck_assert_uint_eq(t[2].delay_abort_eval_us, 10 * S_SEC);
    ck_assert_str_eq(t[2].expr_text, "avg<100");
    ck_assert_int_eq(t[0].abort_on_fail, 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(t[i].metric, TM_HTTP_REQ_DURATION);
        ck_assert_int_eq(t[i].step, -1);
        ck_assert_str_eq(t[i].metric_text, "http_req_duration");
    }
    ck_assert_int_eq(t[3].metric, TM_HTTP_REQ_DURATION);
    ck_assert_int_eq(t[3].step, 1);
    ck_assert_int_eq(t[3].agg, TA_MAX);
    ck_assert_int_eq(t[3].op, TO_GE);
    ck_assert_int_eq(t[3].abort_on_fail, 0);
    ck_assert_str_eq(t[3].metric_text, "http_req_duration{step:api.v2}");
    ck_assert_int_eq(t[4].metric, TM_HTTP_REQ_FAILED);
    ck_assert_int_eq(t[4].step, 0);
    ck_assert_int_eq(t[4].agg, TA_RATE);
    ck_assert_double_eq(t[4].value, 0.01);
    ck_assert_int_eq(t[5].metric, TM_HTTP_REQS);
    ck_assert_int_eq(t[5].agg, TA_COUNT);
    ck_assert_int_eq(t[5].op, TO_GT);
    ck_assert_int_eq(t[6].agg, TA_RATE);
    ck_assert_int_eq(t[6].op, TO_NE);
    ck_assert_int_eq(t[7].metric, TM_CHECKS);
    ck_assert_int_eq(t[7].op, TO_EQ);
    ck_assert_int_eq(t[8].metric, TM_ITERATION_DURATION);
    ck_assert_int_eq(t[8].agg, TA_MED);
    ck_assert_double_eq(t[8].value, -100);
    ck_assert_int_eq(t[9].metric, TM_DROPPED_ITERATIONS);
    ck_assert_int_eq(t[9].op, TO_LE);
    ck_assert_int_eq(t[10].metric, TM_DATA_SENT);
    ck_assert_int_eq(t[10].step, 0);
    ck_assert_int_eq(t[11].metric, TM_HTTP_REQ_DURATION_UNCORRECTED);
    ck_assert_int_eq(t[11].agg, TA_MIN);
    script_free(s);
}
END_TEST

/* ---- the threshold module on its own ---- */

START_TEST(threshold_exprs_and_holds)
{
    struct threshold t = { 0 };
    char err[256];
    static const struct {
        const char *expr;
        enum threshold_op op;
        double below, equal, above; /* holds for value-1, value, value+1 */
    } ops[] = {
        { "avg<10", TO_LT, 1, 0, 0 },  { "avg<=10", TO_LE, 1, 1, 0 }, { "avg>10", TO_GT, 0, 0, 1 },
        { "avg>=10", TO_GE, 0, 1, 1 }, { "avg==10", TO_EQ, 0, 1, 0 }, { "avg!=10", TO_NE, 1, 0, 1 },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ck_assert_int_eq(threshold_parse_expr(TM_HTTP_REQ_DURATION, ops[i].expr, &t, err, sizeof err), 0);
        ck_assert_int_eq(t.op, ops[i].op);
        ck_assert_double_eq(t.value, 10);
        ck_assert_int_eq(threshold_holds(&t, 9), ops[i].below);
        ck_assert_int_eq(threshold_holds(&t, 10), ops[i].equal);
        ck_assert_int_eq(threshold_holds(&t, 11), ops[i].above);
        ck_assert_int_eq(threshold_holds(&t, NAN), 0);
    }
    ck_assert_int_eq(threshold_parse_expr(TM_DATA_RECEIVED, "rate > 1e6", &t, err, sizeof err), 0);
    ck_assert_int_eq(t.agg, TA_RATE);
    ck_assert_double_eq(t.value, 1e6);
    ck_assert_int_eq(threshold_parse_expr(TM_ITERATIONS, "count>=+5", &t, err, sizeof err), 0);
    ck_assert_double_eq(t.value, 5);
    ck_assert_int_eq(threshold_parse_expr(TM_HTTP_REQ_DURATION, "p(100)<1", &t, err, sizeof err), 0);
    ck_assert_double_eq(t.p, 100);
    ck_assert_int_eq(threshold_parse_expr(TM_HTTP_REQ_DURATION, "p(0.001)<1", &t, err, sizeof err), 0);
    ck_assert_double_eq(t.p, 0.001);

    /* failures leave t alone and quote the expression */
    t.value = 42;
    ck_assert_int_eq(threshold_parse_expr(TM_CHECKS, "count>1", &t, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "\"count>1\""));
    ck_assert_ptr_nonnull(strstr(err, "checks has no count; use rate"));
    ck_assert_double_eq(t.value, 42);
    static const char *const bad[] = { "", "   ", "avg", "avg<", "avg<x", "avg<0x10", "avg<inf",
                                       "avg<nan", "avg 10", "avg=10", "avg=<10", "avg<<10",
                                       "p95<1", "p()<1", "p(x)<1", "p(50<1", "p(-1)<1",
                                       "p(100.01)<1", "Avg<1", "avg<1 2", "avg<1,", NULL };
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(threshold_parse_expr(TM_HTTP_REQ_DURATION, bad[i], &t, err, sizeof err) == -1,
                      "'%s' accepted", bad[i]);

    for (int m = TM_HTTP_REQ_DURATION; m <= TM_DATA_SENT; m++) {
        enum threshold_metric got;
        char step[65];
        const char *name = threshold_metric_name((enum threshold_metric)m);
        ck_assert_int_eq(threshold_parse_metric(name, &got, step, sizeof step, err, sizeof err), 0);
        ck_assert_int_eq(got, m);
        ck_assert_str_eq(step, "");
    }
    enum threshold_metric got;
    char step[8];
    ck_assert_int_eq(threshold_parse_metric("checks{step:a-b}", &got, step, sizeof step, err, sizeof err), 0);
    ck_assert_int_eq(got, TM_CHECKS);
    ck_assert_str_eq(step, "a-b");
    ck_assert_int_eq(threshold_parse_metric("checks{step:toolongname}", &got, step, sizeof step, err,
                                            sizeof err), -1);
    ck_assert_int_eq(threshold_parse_metric("checks{step:}", &got, step, sizeof step, err, sizeof err), -1);
    ck_assert_int_eq(threshold_parse_metric("checks{step:a}x", &got, step, sizeof step, err, sizeof err), -1);
    ck_assert_int_eq(threshold_parse_metric("http_req_duration ", &got, step, sizeof step, err, sizeof err), -1);
    ck_assert_int_eq(threshold_parse_metric("iteration_duration{step:a}", &got, step, sizeof step, err,
                                            sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot be narrowed"));
    ck_assert_str_eq(threshold_metric_name((enum threshold_metric)99), "unknown");

    struct threshold owned = { .metric_text = strdup("x"), .expr_text = strdup("y") };
    threshold_deinit(&owned);
    ck_assert_ptr_null(owned.metric_text);
    threshold_deinit(&owned); /* twice is harmless */
}
END_TEST

START_TEST(parse_url_directly)
{
    struct script_origin o;
    char *target;
    char err[128];
    ck_assert_int_eq(script_parse_url("https://Example.COM:8443/a/b?c=d", &o, &target, err, sizeof err), 0);
    ck_assert_int_eq(o.tls, 1);
    ck_assert_str_eq(o.host, "Example.COM"); /* as written */
    ck_assert_uint_eq(o.port, 8443);
    ck_assert_str_eq(o.authority, "Example.COM:8443");
    ck_assert_str_eq(target, "/a/b?c=d");
    script_origin_deinit(&o);
    ck_assert_ptr_null(o.host);
    free(target);

    ck_assert_int_eq(script_parse_url("http://h:65535#x", &o, &target, err, sizeof err), 0);
    ck_assert_uint_eq(o.port, 65535);
    ck_assert_str_eq(target, "/");
    script_origin_deinit(&o);
    free(target);

    static const struct {
        const char *url, *frag;
    } bad[] = {
        { "", "empty" },
        { "ftp://h/", "unsupported scheme \"ftp\"" },
        { "h/x", "absolute URL" },
        { "//h/x", "absolute URL" },
        { "http://", "missing host" },
        { "http://:80/", "missing host" },
        { "http://h:0/", "1 to 65535" },
        { "http://h:65536/", "1 to 65535" },
        { "http://h:99999999999999999999/", "1 to 65535" },
        { "http://h:8o/", "1 to 65535" },
        { "http://h:/", "empty port" },
        { "http://u@h/", "user info" },
        { "http://u:p@h/", "user info" },
        { "http://h /", "space" },
        { "http://h/a\tb", "control character" },
        { "http://h/\xc3\xa9", "non-ASCII" },
        { "http://h/%g0", "%XX" },
        { "http://h/%4", "%XX" },
        { "http://::1/", "brackets" },
        { "http://[::1/", "unterminated" },
        { "http://[::1]x/", "after ']'" },
        { "http://[fe80::1%25eth0]/", "not an IPv6 address" },
        { "http://[]/", "bad IPv6" },
        { "http://h*st/", "bad character '*'" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.host = (char *)"junk";
        target = (char *)"junk";
        err[0] = '\0';
        ck_assert_msg(script_parse_url(bad[i].url, &o, &target, err, sizeof err) == -1,
                      "'%s' accepted", bad[i].url);
        ck_assert_msg(strstr(err, bad[i].frag) != NULL, "'%s': '%s' lacks '%s'", bad[i].url, err,
                      bad[i].frag);
        ck_assert_ptr_null(o.host);
        ck_assert_ptr_null(o.authority);
        ck_assert_ptr_null(target);
    }
}
END_TEST

/* ---- refusals ---- */

START_TEST(rejects_documents_and_top_level)
{
    expect_err("{'target':", "", "invalid JSON");
    expect_err("", "", "empty body");
    expect_err("[1,2]", "", "expected a JSON object at the top level, got an array");
    expect_err(DOC(",'extra':1"), "extra", "unknown field");
    expect_err(DOC(",'userAgent':'x'"), "userAgent", "did you mean \"user_agent\"");
    expect_err("{'target':'http://a','target':'http://b'," S1 "," LV "}", "target", "duplicate key 'target'");
    expect_err("{" S1 "," LV "}", "target", "required because steps[0] uses a path");
    expect_err("{" T "," LV "}", "steps", "steps is required");
    expect_err("{" T "," S1 "}", "load", "load is required");
    expect_err("{'target':5," S1 "," LV "}", "target", "expected a string, got an integer");
    expect_err("{'target':'ftp://h/'," S1 "," LV "}", "target", "unsupported scheme \"ftp\"");
    expect_err("{'target':'http://h/?a=1'," S1 "," LV "}", "target", "must not have a query");
    expect_err("{'target':'http://u:p@h'," S1 "," LV "}", "target", "user info");
    expect_err(DOC(",'insecure_skip_tls_verify':'yes'"), "insecure_skip_tls_verify", "expected a boolean");
    expect_err(DOC(",'user_agent':''"), "user_agent", "must not be empty");
    expect_err(DOC(",'user_agent':'a\\nb'"), "user_agent", "control characters");
    expect_err(DOC(",'user_agent':7"), "user_agent", "expected a string");
}
END_TEST

START_TEST(rejects_bad_steps)
{
    expect_err("{" T ",'steps':[]," LV "}", "steps", "expected 1 to 64 steps, got 0");
    expect_err("{" T ",'steps':{}," LV "}", "steps", "expected an array, got an object");
    expect_err(WITH_STEP("5"), "steps[0]", "expected an object, got an integer");
    expect_err(WITH_STEP("{'name':'a','path':'/','verb':'GET'}"), "steps[0].verb", "unknown field");
    expect_err(WITH_STEP("{'path':'/'}"), "steps[0].name", "is required");
    expect_err(WITH_STEP("{'name':'','path':'/'}"), "steps[0].name", "must not be empty");
    expect_err(WITH_STEP("{'name':'a b','path':'/'}"), "steps[0].name", "use only letters, digits");
    expect_err(WITH_STEP("{'name':'a/b','path':'/'}"), "steps[0].name", "use only letters, digits");
    expect_err(WITH_STEP("{'name':'x12345678901234567890123456789012345678901234567890123456789012345',"
                         "'path':'/'}"),
               "steps[0].name", "longer than 64");
    expect_err(WITH_STEP("{'name':'a','path':'/'},{'name':'b','path':'/'},{'name':'a','path':'/x'}"),
               "steps[2].name", "\"a\" is already the name of steps[0]");
    expect_err(WITH_STEP("{'name':5,'path':'/'}"), "steps[0].name", "expected a string");
    expect_err(WITH_STEP("{'name':'a','method':'FETCH','path':'/'}"), "steps[0].method",
               "\"FETCH\" is not one of GET");
    expect_err(WITH_STEP("{'name':'a','method':'','path':'/'}"), "steps[0].method", "is not one of");
    expect_err(WITH_STEP("{'name':'a','method':5,'path':'/'}"), "steps[0].method", "expected a string");
    expect_err(WITH_STEP("{'name':'a','path':'/','url':'http://h/'}"), "steps[0]", "both path and url");
    expect_err(WITH_STEP("{'name':'a'}"), "steps[0]", "needs a path");
    expect_err(WITH_STEP("{'name':'a','path':'users'}"), "steps[0].path", "must start with \"/\"");
    expect_err(WITH_STEP("{'name':'a','path':'http://h/x'}"), "steps[0].path", "use \"url\"");
    expect_err(WITH_STEP("{'name':'a','path':'/a b'}"), "steps[0].path", "contains a space");
    expect_err(WITH_STEP("{'name':'a','path':'/a%zz'}"), "steps[0].path", "%XX escape");
    expect_err(WITH_STEP("{'name':'a','path':'/a\\r\\nX: y'}"), "steps[0].path", "control character");
    expect_err(WITH_STEP("{'name':'a','path':7}"), "steps[0].path", "expected a string");
    expect_err(WITH_STEP("{'name':'a','url':'ftp://h/'}"), "steps[0].url", "unsupported scheme \"ftp\"");
    expect_err(WITH_STEP("{'name':'a','url':'http:///x'}"), "steps[0].url", "missing host");
    expect_err(WITH_STEP("{'name':'a','url':'http://h:0/'}"), "steps[0].url", "from 1 to 65535");
    expect_err(WITH_STEP("{'name':'a','url':'http://h:70000/'}"), "steps[0].url", "from 1 to 65535");
    expect_err(WITH_STEP("{'name':'a','url':'http://u:p@h/'}"), "steps[0].url", "user info");
    expect_err(WITH_STEP("{'name':'a','url':'http://h/a b'}"), "steps[0].url", "contains a space");
    expect_err(WITH_STEP("{'name':'a','url':'/x'}"), "steps[0].url", "expected an absolute URL");
    expect_err(WITH_STEP("{'name':'a','url':'http://::1/'}"), "steps[0].url", "must be in brackets");
    expect_err(WITH_STEP("{'name':'a','path':'/'},{'name':'b','url':'http://[zz]/'}"), "steps[1].url",
               "is not an IPv6 address");
    expect_err(WITH_STEP("{'name':'a','path':'/','timeout':10}"), "steps[0].timeout",
               "expected a duration like \"30s\"");
    expect_err(WITH_STEP("{'name':'a','path':'/','timeout':'0s'}"), "steps[0].timeout", "longer than 0");
    expect_err(WITH_STEP("{'name':'a','method':'POST','path':'/','body':5}"), "steps[0].body",
               "expected a string, an object or an array");
    expect_err(WITH_STEP("{'name':'a','path':'/','body':true}"), "steps[0].body", "got a boolean");
}
END_TEST

START_TEST(rejects_too_many_steps)
{
    char *doc = malloc(8192);
    size_t n = (size_t)sprintf(doc, "{" T ",'steps':[");
    for (int i = 0; i < 65; i++)
        n += (size_t)sprintf(doc + n, "%s{'name':'s%d','path':'/'}", i ? "," : "", i);
    sprintf(doc + n, "]," LV "}");
    expect_err(doc, "steps", "expected 1 to 64 steps, got 65");
    /* 64 is fine */
    char *cut = strstr(doc, ",{'name':'s64'");
    memmove(cut, strstr(cut, "}]") + 1, strlen(strstr(cut, "}]") + 1) + 1);
    struct script *s = parse_ok(doc);
    ck_assert_int_eq(s->nsteps, 64);
    script_free(s);
    free(doc);
}
END_TEST

START_TEST(rejects_bad_headers)
{
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'Host':'x'}}"), "steps[0].headers.Host",
               "Host is set by Stampede");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'content-length':'1'}}"),
               "steps[0].headers.content-length", "Content-Length is set by Stampede");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'Transfer-Encoding':'chunked'}}"),
               "steps[0].headers.Transfer-Encoding", "set by Stampede");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'X':'1','CONNECTION':'close'}}"),
               "steps[0].headers.CONNECTION", "Connection is set by Stampede");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'X-A':'a\\r\\nEvil: 1'}}"),
               "steps[0].headers.X-A", "CR or LF");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'X-A':'a\\nb'}}"), "steps[0].headers.X-A",
               "CR or LF");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'X-A':'a\\u0001'}}"), "steps[0].headers.X-A",
               "control characters");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'Bad Name':'x'}}"),
               "steps[0].headers.Bad Name", "not a valid header name");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'X:Y':'x'}}"), "steps[0].headers.X:Y",
               "not a valid header name");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'':'x'}}"), "steps[0].headers.",
               "empty header name");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'X-N':5}}"), "steps[0].headers.X-N",
               "expected a string, got an integer");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':['X-N']}"), "steps[0].headers",
               "expected an object, got an array");
    expect_err(WITH_STEP("{'name':'a','path':'/','headers':{'Accept':'a','accept':'b'}}"),
               "steps[0].headers.accept", "given twice");
}
END_TEST

START_TEST(rejects_bad_checks)
{
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'status':600}}"), "steps[0].checks.status",
               "between 100 and 599");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'status':99}}"), "steps[0].checks.status",
               "between 100 and 599");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'status':'6xx'}}"), "steps[0].checks.status",
               "class \"2xx\" to \"5xx\"");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'status':'200'}}"), "steps[0].checks.status",
               "got \"200\"");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'status':true}}"), "steps[0].checks.status",
               "expected a status code");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'status':200.5}}"), "steps[0].checks.status",
               "expected a status code");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'body_contains':''}}"),
               "steps[0].checks.body_contains", "must not be empty");
    expect_err(WITH_STEP("{'name':'a','method':'head','path':'/','checks':{'body_contains':'x'}}"),
               "steps[0].checks.body_contains", "HEAD has no body");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'latency':'1s'}}"), "steps[0].checks.latency",
               "unknown field");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'maxLatency':'1s'}}"),
               "steps[0].checks.maxLatency", "did you mean \"max_latency\"");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':{'max_latency':'fast'}}"),
               "steps[0].checks.max_latency", "expected a duration like \"30s\"");
    expect_err(WITH_STEP("{'name':'a','path':'/','checks':[200]}"), "steps[0].checks",
               "expected an object");
}
END_TEST

START_TEST(rejects_bad_load)
{
    expect_err("{" T "," S1 ",'load':[]}", "load", "expected an object, got an array");
    expect_err(WITH_LOAD("'vus':1,'duration':'1s'"), "load.executor", "is required");
    expect_err(WITH_LOAD("'executor':'shared-iterations'"), "load.executor", "unknown executor \"shared-iterations\"");
    expect_err(WITH_LOAD("'executor':5"), "load.executor", "expected a string");
    expect_err(WITH_LOAD("'executor':'constant-vus','duration':'1s'"), "load.vus", "is required");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1"), "load.duration", "is required");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':0,'duration':'1s'"), "load.vus",
               "between 1 and 100000");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':100001,'duration':'1s'"), "load.vus",
               "between 1 and 100000");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1.5,'duration':'1s'"), "load.vus",
               "expected an integer");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':'10','duration':'1s'"), "load.vus",
               "expected an integer, got a string");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':10"), "load.duration",
               "expected a duration like \"30s\", got 10");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'ten'"), "load.duration",
               "expected a duration like \"30s\"");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'-1s'"), "load.duration",
               "got \"-1s\"");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'0s'"), "load.duration",
               "longer than 0");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':null"), "load.duration",
               "expected a duration like \"30s\", got null");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'1s','rate':5"), "load.rate",
               "not used by constant-vus");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'1s','foo':5"), "load.foo",
               "unknown field");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'1s','gracefulStop':'1s'"),
               "load.gracefulStop", "did you mean \"graceful_stop\"");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'1s','graceful_stop':30"),
               "load.graceful_stop", "expected a duration");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'1s','warmup':'1s'"),
               "load.warmup", "must be shorter than the load (1s)");
    expect_err(WITH_LOAD("'executor':'constant-vus','vus':1,'duration':'1s','think_time':'x'"),
               "load.think_time", "expected a duration");

    /* ramping-vus */
    expect_err(WITH_LOAD("'executor':'ramping-vus'"), "load.stages", "is required");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[]"), "load.stages",
               "expected 1 to 100 stages, got 0");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':{}"), "load.stages", "expected an array");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[5]"), "load.stages[0]", "expected an object");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'1s','target':-1}]"),
               "load.stages[0].target", "between 0 and 100000");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'1s','target':1.5}]"),
               "load.stages[0].target", "expected an integer");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'1s'}]"),
               "load.stages[0].target", "is required");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'1s','target':1},"
                         "{'duration':'1s','target':1},{'duration':10,'target':1}]"),
               "load.stages[2].duration", "expected a duration like \"30s\"");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'1s','target':1,'vus':2}]"),
               "load.stages[0].vus", "unknown field");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'0s','target':1}]"),
               "load.stages", "add up to 0s");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'1s','target':0}]"),
               "load.stages", "nothing would run");
    expect_err(WITH_LOAD("'executor':'ramping-vus','start_vus':-1,'stages':[{'duration':'1s','target':1}]"),
               "load.start_vus", "between 0 and 100000");
    expect_err(WITH_LOAD("'executor':'ramping-vus','vus':2,'stages':[{'duration':'1s','target':1}]"),
               "load.vus", "not used by ramping-vus");
    expect_err(WITH_LOAD("'executor':'ramping-vus','stages':[{'duration':'1m','target':1}],'warmup':'2m'"),
               "load.warmup", "shorter than the load (1m)");

    /* constant-arrival-rate */
    expect_err(WITH_LOAD(CAR ",'max_vus':4"), "load.max_vus", "must be at least pre_allocated_vus (5)");
    expect_err(WITH_LOAD("'executor':'constant-arrival-rate','rate':0,'duration':'1s','pre_allocated_vus':1"),
               "load.rate", "greater than 0");
    expect_err(WITH_LOAD("'executor':'constant-arrival-rate','rate':'500','duration':'1s','pre_allocated_vus':1"),
               "load.rate", "expected a number, got a string");
    expect_err(WITH_LOAD("'executor':'constant-arrival-rate','duration':'1s','pre_allocated_vus':1"),
               "load.rate", "is required");
    expect_err(WITH_LOAD("'executor':'constant-arrival-rate','rate':1,'duration':'1s'"),
               "load.pre_allocated_vus", "is required");
    expect_err(WITH_LOAD("'executor':'constant-arrival-rate','rate':1,'duration':'1s','pre_allocated_vus':0"),
               "load.pre_allocated_vus", "between 1 and 100000");
    expect_err(WITH_LOAD(CAR ",'time_unit':'0s'"), "load.time_unit", "longer than 0");
    expect_err(WITH_LOAD(CAR ",'time_unit':1"), "load.time_unit", "expected a duration");
    expect_err(WITH_LOAD(CAR ",'think_time':'1s'"), "load.think_time",
               "not used by constant-arrival-rate: an arrival-rate executor");
    expect_err(WITH_LOAD(CAR ",'preAllocatedVUs':5"), "load.preAllocatedVUs",
               "did you mean \"pre_allocated_vus\"");
    expect_err(WITH_LOAD(CAR ",'vus':5"), "load.vus", "not used by constant-arrival-rate");
    expect_err(WITH_LOAD(CAR ",'warmup':'10s'"), "load.warmup", "shorter than the load (10s)");

    /* ramping-arrival-rate */
    expect_err(WITH_LOAD(RAR ",'think_time':'0s'"), "load.think_time", "not used by ramping-arrival-rate");
    expect_err(WITH_LOAD(RAR ",'start_rate':-1"), "load.start_rate", "between 0 and");
    expect_err(WITH_LOAD(RAR ",'duration':'1s'"), "load.duration", "not used by ramping-arrival-rate");
    expect_err(WITH_LOAD(RAR ",'max_vus':1"), "load.max_vus", "at least pre_allocated_vus");
    expect_err(WITH_LOAD("'executor':'ramping-arrival-rate','stages':[{'duration':'1s','target':'x'}],"
                         "'pre_allocated_vus':1"),
               "load.stages[0].target", "expected a number");
    expect_err(WITH_LOAD("'executor':'ramping-arrival-rate','stages':[],'pre_allocated_vus':1"),
               "load.stages", "expected 1 to 100 stages");

    /* per-vu-iterations */
    expect_err(WITH_LOAD("'executor':'per-vu-iterations','vus':1,'iterations':0"), "load.iterations",
               "between 1 and");
    expect_err(WITH_LOAD("'executor':'per-vu-iterations','vus':1"), "load.iterations", "is required");
    expect_err(WITH_LOAD("'executor':'per-vu-iterations','iterations':1"), "load.vus", "is required");
    expect_err(WITH_LOAD("'executor':'per-vu-iterations','vus':1,'iterations':1,'duration':'1s'"),
               "load.duration", "not used by per-vu-iterations");
    expect_err(WITH_LOAD("'executor':'per-vu-iterations','vus':1,'iterations':1,'max_duration':'0'"),
               "load.max_duration", "longer than 0");
    expect_err(WITH_LOAD("'executor':'per-vu-iterations','vus':1,'iterations':1,'warmup':'10m'"),
               "load.warmup", "shorter than the load (10m)");
}
END_TEST

START_TEST(rejects_bad_thresholds)
{
    expect_err(DOC(",'thresholds':[]"), "thresholds", "expected an object, got an array");
    expect_err(WITH_TH("'http_req_time':['avg<1']"), "thresholds.http_req_time", "unknown metric \"http_req_time\"");
    expect_err(WITH_TH("'http_req_duration{step:nope}':['avg<1']"), "thresholds.http_req_duration{step:nope}",
               "no step is named \"nope\"");
    expect_err(WITH_TH("'iterations{step:home}':['count>1']"), "thresholds.iterations{step:home}",
               "cannot be narrowed to a step");
    expect_err(WITH_TH("'dropped_iterations{step:home}':['count<1']"),
               "thresholds.dropped_iterations{step:home}", "cannot be narrowed to a step");
    expect_err(WITH_TH("'http_req_duration{status:200}':['avg<1']"), "thresholds.http_req_duration{status:200}",
               "only a step filter");
    expect_err(WITH_TH("'http_req_duration':'p(95)<1'"), "thresholds.http_req_duration", "expected an array");
    expect_err(WITH_TH("'http_req_duration':[]"), "thresholds.http_req_duration", "give at least one");
    expect_err(WITH_TH("'http_req_duration':[5]"), "thresholds.http_req_duration[0]", "expected an expression");
    expect_err(WITH_TH("'http_req_failed':['avg<1']"), "thresholds.http_req_failed[0]",
               "\"avg<1\": http_req_failed has no avg; use rate");
    expect_err(WITH_TH("'http_reqs':['p(95)<1']"), "thresholds.http_reqs[0]", "has no percentiles; use count or rate");
    expect_err(WITH_TH("'http_req_duration':['p(95)<1','rate<1']"), "thresholds.http_req_duration[1]",
               "has no rate; use avg, min, max, med or p(N)");
    expect_err(WITH_TH("'checks':['count>1']"), "thresholds.checks[0]", "checks has no count");
    expect_err(WITH_TH("'http_req_duration':['p(99)=<250']"), "thresholds.http_req_duration[0]",
               "\"p(99)=<250\": expected an operator");
    expect_err(WITH_TH("'http_req_duration':['avg===1']"), "thresholds.http_req_duration[0]", "bad operator");
    expect_err(WITH_TH("'http_req_duration':['avg=1']"), "thresholds.http_req_duration[0]", "expected an operator");
    expect_err(WITH_TH("'http_req_duration':['p(0)<1']"), "thresholds.http_req_duration[0]",
               "\"p(0)<1\": the percentile must be greater than 0 and at most 100");
    expect_err(WITH_TH("'http_req_duration':['p(101)<1']"), "thresholds.http_req_duration[0]",
               "greater than 0 and at most 100");
    expect_err(WITH_TH("'http_req_duration':['p95<1']"), "thresholds.http_req_duration[0]", "written p(N)");
    expect_err(WITH_TH("'http_req_duration':['avg<']"), "thresholds.http_req_duration[0]", "expected a number");
    expect_err(WITH_TH("'http_req_duration':['avg<250ms']"), "thresholds.http_req_duration[0]",
               "in milliseconds");
    expect_err(WITH_TH("'http_req_duration':['avg<1 x']"), "thresholds.http_req_duration[0]", "unexpected");
    expect_err(WITH_TH("'http_req_duration':['avg<1e999']"), "thresholds.http_req_duration[0]", "out of range");
    expect_err(WITH_TH("'http_req_duration':['average<1']"), "thresholds.http_req_duration[0]",
               "unknown aggregation \"average\"");
    expect_err(WITH_TH("'http_req_duration':['<250']"), "thresholds.http_req_duration[0]",
               "expected an aggregation first");
    expect_err(WITH_TH("'http_req_duration':['']"), "thresholds.http_req_duration[0]", "empty threshold");
    expect_err(WITH_TH("'http_req_duration':[{'abort_on_fail':true}]"),
               "thresholds.http_req_duration[0].threshold", "is required");
    expect_err(WITH_TH("'http_req_duration':[{'threshold':'avg<1','abortOnFail':true}]"),
               "thresholds.http_req_duration[0].abortOnFail", "did you mean \"abort_on_fail\"");
    expect_err(WITH_TH("'http_req_duration':[{'threshold':'avg<1','abort_on_fail':'yes'}]"),
               "thresholds.http_req_duration[0].abort_on_fail", "expected a boolean");
    expect_err(WITH_TH("'http_req_duration':[{'threshold':'avg<1','delay_abort_eval':10}]"),
               "thresholds.http_req_duration[0].delay_abort_eval", "expected a duration");
    expect_err(WITH_TH("'http_req_duration':['avg<1',{'threshold':'mean<1'}]"),
               "thresholds.http_req_duration[1].threshold", "unknown aggregation \"mean\"");
    expect_err(WITH_TH("'http_req_duration':[{'threshold':5}]"), "thresholds.http_req_duration[0].threshold",
               "expected a string");
    expect_err(DOC(",'thresholds':{'checks':['rate>0.9']}"), "thresholds.checks", "no step has checks");
    expect_err("{" T ",'steps':[{'name':'a','path':'/','checks':{'status':200}},{'name':'b','path':'/'}],"
               LV ",'thresholds':{'checks{step:b}':['rate>0.9']}}",
               "thresholds.checks{step:b}", "step \"b\" has no checks");
}
END_TEST

START_TEST(from_json_tree)
{
    struct json_err e = { "", "" };
    struct script *s = (struct script *)1;
    yajl_val v = json_parse("[]", 2, JSON_MAX_DEPTH, &e);
    ck_assert_int_eq(script_from_json(v, &s, &e), -1);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(e.field, "");
    yajl_tree_free(v);

    char *d = dq(DOC(""));
    v = json_parse(d, strlen(d), JSON_MAX_DEPTH, &e);
    ck_assert_int_eq(script_from_json(v, &s, &e), 0);
    yajl_tree_free(v); /* the script owns copies of everything */
    ck_assert_str_eq(s->steps[0].name, "home");
    ck_assert_str_eq(s->steps[0].target, "/");
    script_free(s);
    free(d);
}
END_TEST

/* ---- the shipped examples ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

START_TEST(examples_parse)
{
    const char *src = getenv("STAMPEDE_SRCDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/contrib/examples", src && *src ? src : ".");
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s (set STAMPEDE_SRCDIR)", dir);
    static const char *const required[] = { "quick.json", "ramping-vus.json",
                                            "ramping-arrival-rate.json", "per-vu-iterations.json",
                                            "multi-step.json" };
    int found[5] = { 0 }, parsed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *buf = read_file(path, &len);
        struct json_err e = { "", "" };
        struct script *s = NULL;
        int rc = script_parse_at(buf, len, dir, &s, &e);
        ck_assert_msg(rc == 0, "%s: [%s] %s", de->d_name, e.field, e.message);
        for (int i = 0; i < 5; i++)
            if (strcmp(de->d_name, required[i]) == 0)
                found[i] = 1;
        if (strcmp(de->d_name, "multi-step.json") == 0) {
            ck_assert_int_eq(s->nsteps, 4);
            ck_assert_str_eq(s->steps[0].method, "POST");
            ck_assert_str_eq(header(&s->steps[0], "Content-Type"), "application/json");
            ck_assert_ptr_nonnull(strstr(s->steps[0].body, s->steps[0].checks.body_contains));
            ck_assert_int_eq(s->norigins, 1);
            int aborts = 0, per_step = 0;
            for (int i = 0; i < s->nthresholds; i++) {
                aborts += s->thresholds[i].abort_on_fail;
                per_step += s->thresholds[i].step >= 0;
            }
            ck_assert_int_ge(aborts, 2);
            ck_assert_int_ge(per_step, 3);
        }
        if (strcmp(de->d_name, "quick.json") == 0)
            ck_assert_int_eq(s->load.executor, EXEC_CONSTANT_ARRIVAL_RATE);
        script_free(s);
        free(buf);
        parsed++;
    }
    closedir(d);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(found[i], "%s/%s is missing", dir, required[i]);
    ck_assert_int_ge(parsed, 5);
}
END_TEST

static Suite *script_suite(void)
{
    Suite *s = suite_create("script");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, minimal_script);
    tcase_add_test(tc, top_level_options);
    tcase_add_test(tc, retry_stale_and_backoff);
    tcase_add_test(tc, templates_compile_and_name_their_field);
    tcase_add_test(tc, setup_and_teardown_steps);
    tcase_add_test(tc, telemetry_scripts);
    tcase_add_test(tc, executor_constant_vus);
    tcase_add_test(tc, executor_ramping_vus);
    tcase_add_test(tc, executor_constant_arrival_rate);
    tcase_add_test(tc, executor_ramping_arrival_rate);
    tcase_add_test(tc, executor_per_vu_iterations);
    tcase_add_test(tc, executor_names);
    tcase_add_test(tc, url_steps_add_origins);
    tcase_add_test(tc, path_joins_target_prefix);
    tcase_add_test(tc, methods_headers_timeout);
    tcase_add_test(tc, bodies);
    tcase_add_test(tc, checks_forms);
    tcase_add_test(tc, thresholds_both_forms);
    tcase_add_test(tc, threshold_exprs_and_holds);
    tcase_add_test(tc, parse_url_directly);
    tcase_add_test(tc, from_json_tree);
    tcase_add_test(tc, examples_parse);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_test(tc, rejects_documents_and_top_level);
    tcase_add_test(tc, rejects_bad_steps);
    tcase_add_test(tc, rejects_too_many_steps);
    tcase_add_test(tc, rejects_bad_headers);
    tcase_add_test(tc, rejects_bad_checks);
    tcase_add_test(tc, rejects_bad_load);
    tcase_add_test(tc, rejects_bad_thresholds);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(script_suite)
