/* collect_run: resolving and checking a collection's hosts, then its
 * requests one at a time — pre, the routes per iteration, post — with
 * the variables they extract, the rows they give, and the limits. */
#include "collect_run.h"

#include "clock.h"
#include "hfetch.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PREVIEW_ROWS 100    /* rows a preview shows */

enum phase { PH_RESOLVE, PH_PRE, PH_ROUTES, PH_POST };

/* A host of the routes, resolved once per run. */
struct origin {
    struct collect_run *run;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct evdns_getaddrinfo_request *dns;
    int refused;             /* the guard said no (why) */
    int failed;              /* no address (why) */
    char why[300];
};

struct collect_run {
    struct collect_env env;
    int preview;
    collect_done_cb done;
    void *arg;
    struct collect_spec *spec;
    const struct script *sc; /* spec->sc */
    struct origin *origins;  /* one per host of the routes */
    int pending_dns;
    enum phase phase;
    int step;                /* index in sc->steps */
    long iteration;
    int batch_done;          /* an empty page ended the batch early */
    /* variables: by symbol index */
    struct tmpl_val *vals;
    struct sbuf *vbuf;
    uint64_t rng[4];
    struct hfetch *fetch;
    struct event *next_ev;   /* runs advance() from the loop */
    struct event *deadline_ev;
    uint64_t deadline_us;
    struct ds_rows rows;
    struct sbuf req_bytes, scratch;
    yajl_gen log;            /* preview: the requests made */
    long requests;
    /* the first failure, which ends the run */
    int failed, fail_status;
    char fail_code[32], fail_field[192], fail_msg[600];
};

static void run_free(struct collect_run *j)
{
    if (j->fetch)
        hfetch_cancel(j->fetch);
    for (int i = 0; j->origins && i < j->sc->norigins; i++)
        if (j->origins[i].dns)
            evdns_getaddrinfo_cancel(j->origins[i].dns); /* on_dns gets EVUTIL_EAI_CANCEL, later */
    free(j->origins);
    for (int v = 0; v < j->sc->vars.n; v++)
        sbuf_deinit(&j->vbuf[v]);
    free(j->vbuf);
    free(j->vals);
    event_free(j->next_ev);
    event_free(j->deadline_ev);
    ds_rows_abort(&j->rows);
    sbuf_deinit(&j->req_bytes);
    sbuf_deinit(&j->scratch);
    if (j->log)
        yajl_gen_free(j->log);
    collect_spec_free(j->spec);
    free(j);
}

/* Run advance() from the loop (never from inside a callback of the
 * request that just ended). */
static void schedule(struct collect_run *j)
{
    event_active(j->next_ev, EV_TIMEOUT, 0);
}

/* Remember the first failure; the run goes on to post (or ends). */
static void fail(struct collect_run *j, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(struct collect_run *j, int status, const char *code, const char *field, const char *fmt, ...)
{
    if (j->failed)
        return;
    j->failed = 1;
    j->fail_status = status;
    snprintf(j->fail_code, sizeof j->fail_code, "%s", code);
    snprintf(j->fail_field, sizeof j->fail_field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->fail_msg, sizeof j->fail_msg, fmt, ap);
    va_end(ap);
}

/* "collect.limits.<name>" */
static const char *limit_field(const struct collect_run *j, const char *name, char *buf)
{
    snprintf(buf, 64, "%s.limits.%s", j->spec->field, name);
    return buf;
}

static const char *step_path(const struct collect_run *j, int i, char *buf, size_t len)
{
    return collect_step_path(j->spec, i, buf, len);
}

/* The path of the url of the first step that goes to origin o. */
static const char *origin_field(const struct collect_run *j, int o, char *buf, size_t len)
{
    for (int i = 0; i < j->sc->nsteps; i++) {
        if (j->sc->steps[i].origin == o) {
            char sp[96];
            snprintf(buf, len, "%s.url", step_path(j, i, sp, sizeof sp));
            return buf;
        }
    }
    snprintf(buf, len, "%s", j->spec->field);
    return buf;
}

static char *preview_body(struct collect_run *j)
{
    size_t len;
    char *text = ds_rows_finish(&j->rows, &len);
    struct json_err e;
    yajl_val rows = json_parse(text, len, 8, &e);
    free(text);
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "columns");
    yajl_gen_array_open(g);
    for (int c = 0; c < j->spec->ncols; c++)
        json_gen_cstr(g, j->spec->cols[c]);
    yajl_gen_array_close(g);
    size_t n = rows && YAJL_IS_ARRAY(rows) ? rows->u.array.len : 0;
    json_gen_kv_int(g, "row_count", (int64_t)n);
    json_gen_cstr(g, "rows");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n && i < PREVIEW_ROWS; i++)
        json_gen_value(g, rows->u.array.values[i]);
    yajl_gen_array_close(g);
    json_gen_cstr(g, "requests");
    yajl_gen_array_close(j->log);
    const unsigned char *buf;
    size_t blen;
    yajl_gen_get_buf(j->log, &buf, &blen);
    /* the log is a finished JSON array of our own making */
    struct json_err le;
    yajl_val log = json_parse((const char *)buf, blen, 8, &le);
    json_gen_value(g, log);
    if (log)
        yajl_tree_free(log);
    yajl_gen_map_close(g);
    if (rows)
        yajl_tree_free(rows);
    return json_gen_finish(g, NULL);
}

/* The end: tell the owner, then go. Only from the run's own events. */
static void finish(struct collect_run *j)
{
    struct collect_outcome o = { .failed = j->failed, .requests = j->requests };
    char *rows = NULL, *cols = NULL, *preview = NULL;
    if (!j->failed && j->rows.n == 0)
        fail(j, 502, "collect_failed", j->spec->field, "the collection produced no rows: nothing to %s",
             j->preview ? "show" : "store");
    if (j->failed) {
        o.failed = 1;
        o.status = j->fail_status;
        o.code = j->fail_code;
        o.field = j->fail_field;
        o.message = j->fail_msg;
    } else if (j->preview) {
        o.preview = preview = preview_body(j);
        o.nrows = j->rows.n;
    } else {
        o.nrows = j->rows.n;
        o.rows = rows = ds_rows_finish(&j->rows, &o.rows_len);
        o.columns = cols = ds_cols_json(j->spec->cols, j->spec->ncols);
    }
    j->done(&o, j->arg);
    free(rows);
    free(cols);
    free(preview);
    run_free(j);
}

/* ---- one request ---- */

static int sends_length(const struct script_step *st, size_t body_len)
{
    return body_len || strcmp(st->method, "POST") == 0 || strcmp(st->method, "PUT") == 0 ||
           strcmp(st->method, "PATCH") == 0;
}

/* The request bytes of step i, rendered with the run's variables. */
static void render(struct collect_run *j, int i)
{
    const struct script *sc = j->sc;
    const struct script_step *st = &sc->steps[i];
    struct tmpl_ctx ctx = { .rng = j->rng, .vu = 1, .iteration = (uint64_t)j->iteration,
                            .vars = j->vals, .nvars = sc->vars.n };
    struct sbuf *b = &j->req_bytes;
    sbuf_reset(b);
    sbuf_printf(b, "%s ", st->method);
    tmpl_render(&st->target_t, &ctx, b);
    sbuf_printf(b, " HTTP/1.1\r\nHost: %s\r\n", sc->origins[st->origin].authority);
    int own_ua = 0;
    for (int h = 0; h < st->nheaders; h++)
        own_ua |= strcasecmp(st->headers[h].name, "User-Agent") == 0;
    if (!own_ua)
        sbuf_printf(b, "User-Agent: %s\r\n", sc->user_agent ? sc->user_agent : "stampede");
    for (int h = 0; h < st->nheaders; h++) {
        sbuf_printf(b, "%s: ", st->headers[h].name);
        tmpl_render(&st->header_t[h], &ctx, b);
        sbuf_adds(b, "\r\n");
    }
    sbuf_reset(&j->scratch);
    if (st->body)
        tmpl_render(&st->body_t, &ctx, &j->scratch);
    if (sends_length(st, j->scratch.len))
        sbuf_printf(b, "Content-Length: %zu\r\n", j->scratch.len);
    sbuf_adds(b, "Connection: close\r\n\r\n");
    if (j->scratch.len)
        sbuf_add(b, j->scratch.s, j->scratch.len);
}

/* The connected peer must be the address that was checked, and pass the
 * guard again. */
static int check_peer(const struct sockaddr *peer, void *arg, char *why, size_t whylen)
{
    struct collect_run *j = arg;
    const struct origin *o = &j->origins[j->sc->steps[j->step].origin];
    const struct sockaddr *want = (const struct sockaddr *)&o->addr;
    int same = peer->sa_family == want->sa_family;
    if (same && peer->sa_family == AF_INET)
        same = memcmp(&((const struct sockaddr_in *)peer)->sin_addr, &((const struct sockaddr_in *)want)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    else if (same)
        same = memcmp(&((const struct sockaddr_in6 *)peer)->sin6_addr,
                      &((const struct sockaddr_in6 *)want)->sin6_addr, sizeof(struct in6_addr)) == 0;
    if (!same) {
        snprintf(why, whylen, "the connection reached another address than the one checked");
        return -1;
    }
    return ssrf_check(peer, j->env.allow, why, whylen);
}

static void log_request(struct collect_run *j, int i, const struct hfetch_result *r, const char *error)
{
    if (!j->log)
        return;
    char sp[96];
    const struct script *sc = j->sc;
    const struct script_step *st = &sc->steps[i];
    const char *line = j->req_bytes.s ? j->req_bytes.s : "";
    const char *sp1 = strchr(line, ' ');
    const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    char *url = xasprintf("%s://%s%.*s", sc->origins[st->origin].tls ? "https" : "http",
                          sc->origins[st->origin].authority, sp2 ? (int)(sp2 - sp1 - 1) : 0, sp1 ? sp1 + 1 : "");
    yajl_gen g = j->log;
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "route", step_path(j, i, sp, sizeof sp));
    if (i < sc->nmain)
        json_gen_kv_int(g, "iteration", j->iteration);
    else
        json_gen_kv_null(g, "iteration");
    json_gen_kv_str(g, "method", st->method);
    json_gen_kv_str(g, "url", url);
    if (r && r->err == HFETCH_OK)
        json_gen_kv_int(g, "status", r->status);
    else
        json_gen_kv_null(g, "status");
    json_gen_kv_double(g, "ms", r ? (double)r->elapsed_us / 1000.0 : 0, 3);
    json_gen_kv_str(g, "error", error);
    yajl_gen_map_close(g);
    free(url);
}

static void set_var(struct collect_run *j, int var, const char *p, size_t n)
{
    struct sbuf *b = &j->vbuf[var];
    sbuf_reset(b);
    sbuf_add(b, p, n);
    sbuf_addc(b, '\0');
    b->len--; /* NUL-terminated, even when empty */
    j->vals[var].p = b->s;
    j->vals[var].len = (uint32_t)n;
}

/* After a route's response: its extractions, and the rows it gives. 0,
 * or -1 with the run failed. */
static int take_response(struct collect_run *j, int i, const struct hfetch_result *r)
{
    char sp[96], field[192], err[300], lf[64];
    const struct script_step *st = &j->sc->steps[i];
    step_path(j, i, sp, sizeof sp);
    struct extract_response resp = { r->body, r->body_len, r->headers, r->headers_len };
    for (int k = 0; k < st->nextract; k++) {
        const struct extractor *x = &st->extract[k];
        sbuf_reset(&j->scratch);
        const char *name = j->sc->vars.names[x->var];
        if (extract_run(x, &resp, j->env.md, &j->scratch) < 0) {
            snprintf(field, sizeof field, "%s.extract.%s", sp, name);
            fail(j, 502, "collect_failed", field, "%s: nothing matched in the response (status %d, %zu bytes)",
                 field, r->status, r->body_len);
            return -1;
        }
        set_var(j, x->var, j->scratch.s ? j->scratch.s : "", j->scratch.len);
    }
    if (i != j->sc->nmain - 1)
        return 0;
    const struct collect_spec *s = j->spec;
    long room = s->max_rows - j->rows.n;
    if (s->mode == COLLECT_REPEAT) {
        if (room <= 0) {
            fail(j, 502, "collect_failed", limit_field(j, "max_rows", lf), "more than limits.max_rows (%ld) rows",
                 s->max_rows);
            return -1;
        }
        struct tmpl_val *cells = xcalloc((size_t)s->ncols, sizeof *cells);
        for (int c = 0; c < s->ncols; c++)
            cells[c] = j->vals[s->col_var[c]];
        ds_rows_add(&j->rows, cells);
        free(cells);
    } else {
        long added = collect_batch_rows(s, r->body, r->body_len, &j->rows, room, err, sizeof err);
        if (added < 0) {
            fail(j, 502, "collect_failed", sp, "%s: %s", sp, err);
            return -1;
        }
        j->batch_done = added == 0;
    }
    if (ds_rows_bytes(&j->rows) > s->max_bytes) {
        fail(j, 502, "collect_failed", limit_field(j, "max_bytes", lf),
             "the rows take more than limits.max_bytes (%llu)", (unsigned long long)s->max_bytes);
        return -1;
    }
    return 0;
}

static void on_fetched(const struct hfetch_result *r, void *arg)
{
    struct collect_run *j = arg;
    int i = j->step;
    char sp[96], field[160];
    j->fetch = NULL;
    j->requests++;
    step_path(j, i, sp, sizeof sp);
    int post = j->phase == PH_POST;
    char err[sizeof j->fail_msg] = "";
    if (r->err == HFETCH_EPEER) {
        snprintf(err, sizeof err, "%s", r->message);
        snprintf(field, sizeof field, "%s.url", sp);
        if (!post)
            fail(j, 403, "address_not_allowed", field, "%s: %s: collection may not reach it (config collect_allow "
                 "can allow it)", field, r->message);
    } else if (r->err != HFETCH_OK) {
        snprintf(err, sizeof err, "%s", r->message);
        if (!post)
            fail(j, 502, "collect_failed", sp, "%s: %s", sp, r->message);
    } else if (r->status >= 400) {
        snprintf(err, sizeof err, "answered %d", r->status);
        if (!post)
            fail(j, 502, "collect_failed", sp, "%s: the server answered %d: %.120s", sp, r->status, r->body);
    } else if (!post) {
        if (take_response(j, i, r) < 0)
            snprintf(err, sizeof err, "%s", j->fail_msg);
    }
    log_request(j, i, r, err[0] ? err : NULL);
    j->step++;
    schedule(j);
}

/* Send step i. 0, or -1 with the run failed (nothing sent). */
static int send_step(struct collect_run *j, int i)
{
    const struct script_step *st = &j->sc->steps[i];
    char sp[96];
    for (int u = 0; u < st->nuses; u++) {
        if (!j->vals[st->uses[u]].p) {
            step_path(j, i, sp, sizeof sp);
            if (j->phase != PH_POST)
                fail(j, 502, "collect_failed", sp, "%s uses {{%s}}, which no earlier route set", sp,
                     j->sc->vars.names[st->uses[u]]);
            return -1;
        }
    }
    render(j, i);
    const struct origin *o = &j->origins[st->origin];
    uint64_t now = clock_now_us(), left = j->deadline_us > now ? j->deadline_us - now : 1;
    const struct script_origin *so = &j->sc->origins[st->origin];
    struct hfetch_req rq = {
        .addr = (const struct sockaddr *)&o->addr,
        .addrlen = o->addrlen,
        .ssl_ctx = so->tls ? (j->sc->insecure_skip_tls_verify ? j->env.tls_noverify : j->env.tls_verify) : NULL,
        .sni = so->host,
        .bytes = j->req_bytes.s,
        .len = j->req_bytes.len,
        .head = strcmp(st->method, "HEAD") == 0,
        .timeout_us = st->timeout_us < left ? st->timeout_us : left,
        .max_body = COLLECT_RESPONSE_MAX,
        .check_peer = check_peer,
        .done = on_fetched,
        .arg = j,
    };
    j->fetch = hfetch_start(j->env.base, &rq);
    return 0;
}

/* The next request, or the end. Runs from the loop (schedule). */
static void advance(evutil_socket_t fd, short what, void *arg)
{
    struct collect_run *j = arg;
    const struct script *sc = j->sc;
    (void)fd;
    (void)what;
    int pre_end = sc->nmain + sc->nsetup;
    for (;;) {
        switch (j->phase) {
        case PH_RESOLVE:
            return; /* on_dns moves on */
        case PH_PRE:
            if (j->failed) {
                finish(j); /* no session: nothing to log out of */
                return;
            }
            if (j->step < pre_end) {
                if (send_step(j, j->step) == 0)
                    return;
                continue;
            }
            j->phase = PH_ROUTES;
            j->step = 0;
            j->iteration = 0;
            continue;
        case PH_ROUTES: {
            long iterations = j->preview ? 1 : j->spec->iterations;
            if (j->step == sc->nmain) { /* an iteration done */
                j->iteration++;
                j->step = 0;
            }
            if (j->failed || j->batch_done || j->iteration >= iterations) {
                j->phase = PH_POST;
                j->step = pre_end;
                continue;
            }
            if (send_step(j, j->step) == 0)
                return;
            continue;
        }
        case PH_POST:
            if (j->step < sc->nsteps) {
                if (send_step(j, j->step) == 0)
                    return;
                j->step++; /* post goes on past a route it cannot send */
                continue;
            }
            finish(j);
            return;
        }
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct collect_run *j = arg;
    (void)fd;
    (void)what;
    if (j->fetch) {
        hfetch_cancel(j->fetch);
        j->fetch = NULL;
    }
    char d[32], lf[64];
    snprintf(d, sizeof d, "%.3g s", (double)j->spec->timeout_us / 1e6);
    fail(j, 502, "collect_failed", limit_field(j, "timeout", lf),
         "the collection took longer than limits.timeout (%s) after %ld requests", d, j->requests);
    finish(j); /* time is up: post is skipped */
}

/* ---- hosts ---- */

static void resolved(struct collect_run *j)
{
    char field[192];
    for (int i = 0; i < j->sc->norigins; i++) {
        struct origin *o = &j->origins[i];
        if (o->refused)
            fail(j, 403, "address_not_allowed", origin_field(j, i, field, sizeof field),
                 "%s: %s: collection may not reach it (config collect_allow can allow it)", field, o->why);
        else if (o->failed)
            fail(j, 502, "collect_failed", origin_field(j, i, field, sizeof field), "%s: %s", field, o->why);
    }
    j->phase = PH_PRE; /* a failure ends it there */
    j->step = j->sc->nmain;
    schedule(j);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Every address a name has must pass: an answer that mixes a public and
 * a private address could send the request to either. */
static void on_dns(int result, struct evutil_addrinfo *res, void *arg)
{
    if (result == EVUTIL_EAI_CANCEL) {
        /* the run is going away: libevent calls back later, from the loop,
         * when the origin (and the run) may be freed already */
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    struct origin *o = arg;
    struct collect_run *j = o->run;
    o->dns = NULL;
    const struct script_origin *so = &j->sc->origins[o - j->origins];
    if (result != 0 || !res) {
        o->failed = 1;
        snprintf(o->why, sizeof o->why, "cannot resolve %s: %s", so->host, evutil_gai_strerror(result));
    } else {
        for (struct evutil_addrinfo *a = res; a && !o->refused; a = a->ai_next) {
            char why[240];
            if (ssrf_check(a->ai_addr, j->env.allow, why, sizeof why) < 0) {
                o->refused = 1;
                snprintf(o->why, sizeof o->why, "%s resolves to a refused address (%s)", so->host, why);
            } else if (!o->addrlen && a->ai_addrlen <= sizeof o->addr) {
                memcpy(&o->addr, a->ai_addr, a->ai_addrlen);
                o->addrlen = (socklen_t)a->ai_addrlen;
                set_port(&o->addr, so->port);
            }
        }
    }
    if (res)
        evutil_freeaddrinfo(res);
    if (--j->pending_dns == 0 && j->phase == PH_RESOLVE)
        resolved(j);
}

/* Numeric hosts at once, names through evdns (/etc/hosts included). */
static void resolve(struct collect_run *j)
{
    const struct script *sc = j->sc;
    j->origins = xcalloc((size_t)sc->norigins, sizeof *j->origins);
    int names = 0;
    for (int i = 0; i < sc->norigins; i++) {
        struct origin *o = &j->origins[i];
        o->run = j;
        struct sockaddr_in *in = (struct sockaddr_in *)&o->addr;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&o->addr;
        if (inet_pton(AF_INET, sc->origins[i].host, &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            o->addrlen = sizeof *in;
        } else if (inet_pton(AF_INET6, sc->origins[i].host, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            o->addrlen = sizeof *in6;
        } else {
            names++;
            continue;
        }
        set_port(&o->addr, sc->origins[i].port);
        if (ssrf_check((const struct sockaddr *)&o->addr, j->env.allow, o->why, sizeof o->why) < 0)
            o->refused = 1;
    }
    /* every lookup counted first: an answer from /etc/hosts comes back
     * inside evdns_getaddrinfo */
    j->pending_dns = names + 1;
    for (int i = 0; i < sc->norigins; i++) {
        struct origin *o = &j->origins[i];
        if (o->addrlen)
            continue;
        if (!j->env.dns) {
            o->failed = 1;
            snprintf(o->why, sizeof o->why, "cannot resolve %s: no resolver", sc->origins[i].host);
            j->pending_dns--;
            continue;
        }
        struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                         .ai_protocol = IPPROTO_TCP };
        o->dns = evdns_getaddrinfo(j->env.dns, sc->origins[i].host, NULL, &hints, on_dns, o);
    }
    if (--j->pending_dns == 0)
        resolved(j);
}

/* ---- start, cancel ---- */

struct collect_run *collect_run_start(const struct collect_env *env, struct collect_spec *spec, int preview,
                                      collect_done_cb done, void *arg)
{
    struct collect_run *j = xcalloc(1, sizeof *j);
    j->env = *env;
    j->preview = preview;
    j->done = done;
    j->arg = arg;
    j->spec = spec;
    j->sc = spec->sc;
    int nv = j->sc->vars.n ? j->sc->vars.n : 1;
    j->vals = xcalloc((size_t)nv, sizeof *j->vals);
    j->vbuf = xcalloc((size_t)nv, sizeof *j->vbuf);
    tmpl_rng_seed(j->rng);
    ds_rows_begin(&j->rows, spec->cols, spec->ncols);
    if (preview) {
        j->log = json_gen_new();
        yajl_gen_array_open(j->log);
    }
    j->next_ev = event_new(env->base, -1, 0, advance, j);
    j->deadline_ev = evtimer_new(env->base, on_deadline, j);
    if (!j->next_ev || !j->deadline_ev)
        abort(); /* out of memory, as xmalloc would */
    j->deadline_us = clock_now_us() + spec->timeout_us;
    struct timeval tv = { (time_t)(spec->timeout_us / 1000000), (suseconds_t)(spec->timeout_us % 1000000) };
    evtimer_add(j->deadline_ev, &tv);
    j->phase = PH_RESOLVE;
    resolve(j);
    return j;
}

void collect_run_cancel(struct collect_run *r)
{
    if (r)
        run_free(r);
}
