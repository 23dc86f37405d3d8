/* collector: the actor that runs dataset collections (collect_run.h),
 * one per request, answers them, and writes a collected version through
 * the store. */
#include "collector.h"

#include "collect_run.h"
#include "hfetch.h"
#include "httpc.h"
#include "ssrf.h"
#include "store.h"
#include "xmalloc.h"

#include <event2/dns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define MAX_JOBS 8          /* collections at once; more get 503 */

/* A request being served: collecting, then (collect) writing. */
struct job {
    LIST_ENTRY(job) link;
    struct collector *co;
    struct ds_collect *req;   /* owned until answered */
    struct collect_run *run;  /* while collecting */
    uint64_t store_corr;      /* while writing */
};
LIST_HEAD(job_list, job);

struct collector {
    actor_t *self;
    actor_t *store;
    struct ssrf_allow allow;
    struct collect_env env;
    struct job_list jobs;
    int njobs;
    int stopping;
};

void ds_collect_dtor(msg_t *m)
{
    free(((struct ds_collect *)m)->spec);
}

static void reply_dtor(msg_t *m)
{
    free(((struct ds_collect_reply *)m)->body);
}

/* Answer the job's request with a status and either a body (taken) or
 * an error, and forget the job. */
static void answer(struct job *j, int status, char *body, const char *code, const char *field, const char *fmt,
                   ...) __attribute__((format(printf, 6, 7)));
static void answer(struct job *j, int status, char *body, const char *code, const char *field, const char *fmt,
                   ...)
{
    struct ds_collect_reply *r = MSG_NEW(MSG_DS_COLLECT_REPLY, struct ds_collect_reply);
    r->m.dtor = reply_dtor;
    r->status = status;
    r->body = body;
    snprintf(r->code, sizeof r->code, "%s", code ? code : "");
    snprintf(r->field, sizeof r->field, "%s", field ? field : "");
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
    }
    actor_reply(&j->req->m, &r->m);
    msg_free(&j->req->m);
    LIST_REMOVE(j, link);
    j->co->njobs--;
    collect_run_cancel(j->run);
    free(j);
}

/* The collection is over (from its own event: the run frees itself
 * after this returns). */
static void on_collected(const struct collect_outcome *o, void *arg)
{
    struct job *j = arg;
    j->run = NULL;
    if (o->failed) {
        answer(j, o->status, NULL, o->code, o->field, "%s", o->message);
        return;
    }
    if (j->req->preview) {
        answer(j, 200, xstrdup(o->preview), NULL, NULL, NULL);
        return;
    }
    /* one statement writes the version */
    char nrows[24], nbytes[24];
    snprintf(nrows, sizeof nrows, "%ld", o->nrows);
    snprintf(nbytes, sizeof nbytes, "%zu", o->rows_len);
    const char *p[6] = { j->req->dataset_id, o->columns, nrows, nbytes, o->rows, "collect" };
    struct store_query *q = store_query_new();
    store_query_add(q, DS_INSERT_VERSION_SQL, 6, p);
    j->store_corr = actor_request(j->co->self, j->co->store, &q->m);
    if (!j->store_corr) {
        msg_free(&q->m);
        answer(j, 503, NULL, "database_unavailable", NULL, "too many requests waiting for the database");
    }
}

static void on_store_result(struct collector *co, struct store_result *res)
{
    struct job *j;
    LIST_FOREACH(j, &co->jobs, link)
        if (j->store_corr && j->store_corr == res->m.corr)
            break;
    if (!j)
        return;
    if (res->status != STORE_OK)
        answer(j, store_status_http(res->status), NULL, store_status_code(res->status), NULL, "%s",
               res->status == STORE_EFAILED ? "internal database error" : (res->error ? res->error : "database error"));
    else if (PQntuples(res->res[0]) == 0)
        answer(j, 404, NULL, "not_found", "id", "no dataset with id %s (deleted during the collection)",
               j->req->dataset_id);
    else
        answer(j, 201, xstrdup(PQgetvalue(res->res[0], 0, 0)), NULL, NULL, NULL);
}

/* ---- requests ---- */

static void on_collect(struct collector *co, struct ds_collect *req)
{
    struct job *j = xcalloc(1, sizeof *j);
    j->co = co;
    j->req = req;
    LIST_INSERT_HEAD(&co->jobs, j, link);
    co->njobs++;
    if (co->stopping) {
        answer(j, 503, NULL, "shutting_down", NULL, "the server is shutting down");
        return;
    }
    if (co->njobs > MAX_JOBS) {
        answer(j, 503, NULL, "busy", NULL, "%d collections are running; try again when one is done", MAX_JOBS);
        return;
    }
    struct json_err e = { "", "" };
    yajl_val v = req->spec ? json_parse(req->spec, strlen(req->spec), JSON_MAX_DEPTH, &e) : NULL;
    struct collect_spec *spec = NULL;
    int rc = v ? collect_spec_parse(v, "collect", &spec, &e) : -1;
    if (v)
        yajl_tree_free(v);
    if (rc < 0) {
        answer(j, 400, NULL, "invalid", e.field[0] ? e.field : "collect", "%s",
               e.message[0] ? e.message : "collect: not a collect spec");
        return;
    }
    j->run = collect_run_start(&co->env, spec, req->preview, on_collected, j);
}

static void on_stop(struct collector *co, msg_t *m)
{
    co->stopping = 1;
    while (!LIST_EMPTY(&co->jobs))
        answer(LIST_FIRST(&co->jobs), 503, NULL, "shutting_down", NULL, "the server is shutting down");
    actor_reply(m, msg_new(MSG_STOPPED, sizeof(msg_t)));
}

static void collector_handle(actor_t *self, msg_t *m)
{
    struct collector *co = actor_state(self);
    switch (m->type) {
    case MSG_DS_COLLECT:
        on_collect(co, (struct ds_collect *)m);
        return; /* kept until answered */
    case MSG_STORE_RESULT:
        on_store_result(co, (struct store_result *)m);
        break;
    case MSG_STOP:
        on_stop(co, m);
        break;
    default:
        alog_warn(self, "unexpected message type %u", m->type);
        break;
    }
    msg_free(m);
}

actor_t *collector_new(struct loop *l, const struct collector_config *cfg, char *err, size_t errlen)
{
    struct collector *co = xcalloc(1, sizeof *co);
    if (ssrf_allow_parse(cfg->allow, &co->allow, err, errlen) < 0) {
        free(co);
        return NULL;
    }
    co->store = cfg->store;
    struct collect_env *env = &co->env;
    env->base = loop_base(l);
    env->allow = &co->allow;
    env->dns = loop_dns_new(env->base);
    env->tls_verify = hfetch_tls_ctx_new(1, err, errlen);
    env->tls_noverify = env->tls_verify ? hfetch_tls_ctx_new(0, err, errlen) : NULL;
    if (!env->dns || !env->tls_verify || !env->tls_noverify) {
        if (!env->dns)
            snprintf(err, errlen, "cannot create a DNS resolver for dataset collection");
        else
            evdns_base_free(env->dns, 0);
        SSL_CTX_free(env->tls_verify);
        SSL_CTX_free(env->tls_noverify);
        ssrf_allow_free(&co->allow);
        free(co);
        return NULL;
    }
    env->md = extract_match_data();
    LIST_INIT(&co->jobs);
    co->self = actor_new(l, "collector", -1, collector_handle, co, 0);
    return co->self;
}

void collector_free(actor_t *a)
{
    if (!a)
        return;
    struct collector *co = actor_state(a);
    while (!LIST_EMPTY(&co->jobs)) { /* the loops are over: nobody to answer */
        struct job *j = LIST_FIRST(&co->jobs);
        LIST_REMOVE(j, link);
        collect_run_cancel(j->run);
        msg_free(&j->req->m);
        free(j);
    }
    evdns_base_free(co->env.dns, 0);
    SSL_CTX_free(co->env.tls_verify);
    SSL_CTX_free(co->env.tls_noverify);
    pcre2_match_data_free(co->env.md);
    ssrf_allow_free(&co->allow);
    free(co);
    actor_free(a);
}
