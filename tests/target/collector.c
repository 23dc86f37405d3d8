/* stampede-collector: the telemetry destination that integration tests
 * send to. It takes MoniFlux documents (POST /logs, /metrics, /traces),
 * JSON lines (the same paths) and OTLP/HTTP JSON (POST /v1/logs,
 * /v1/metrics, /v1/traces), checks every document (fields, the log
 * message size, 32/16-hex trace and span ids never seen before, the API
 * key in X-API-Key and Authorization), and counts documents per signal
 * per wall-clock second. GET /__stats reports; POST /__reset zeroes.
 *
 *   stampede-collector [--port N] [--key KEY] [--log-size N]
 * prints "PORT n" on stdout and runs until SIGTERM. */
#include "json.h"
#include "sbuf.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECONDS 4096 /* per-second counts kept (a ring) */
#define IDS (1u << 20) /* trace ids remembered to spot repeats */

struct signal {
    const char *name;
    uint64_t docs, requests, bad;
    uint64_t per_sec[SECONDS];
};

static struct signal sigs[3] = { { .name = "logs" }, { .name = "metrics" }, { .name = "traces" } };
static uint64_t bad_key, repeated_ids, not_json;
static const char *key;
static long log_size = -1;
static uint64_t *ids; /* open addressing: 0 = empty */

static long now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long)ts.tv_sec;
}

static int is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A trace id seen before counts as repeated. */
static void note_id(const char *hex)
{
    char first[17];
    memcpy(first, hex, 16);
    first[16] = '\0';
    uint64_t h = strtoull(hex + 16, NULL, 16) ^ strtoull(first, NULL, 16) * 0x9e3779b97f4a7c15ull;
    if (!h)
        h = 1;
    for (uint64_t i = h % IDS;; i = (i + 1) % IDS) {
        if (ids[i] == h) {
            repeated_ids++;
            return;
        }
        if (!ids[i]) {
            ids[i] = h;
            return;
        }
    }
}

static const char *str(yajl_val o, const char *k)
{
    yajl_val v = json_get(o, k);
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

/* One MoniFlux document: 1 if it is right for its signal. */
static int moniflux_ok(int sig, yajl_val d)
{
    if (!YAJL_IS_OBJECT(d) || !str(d, "testID"))
        return 0;
    switch (sig) {
    case 0: {
        const char *m = str(d, "message");
        return m && str(d, "timestamp") && str(d, "level") && (log_size < 0 || (long)strlen(m) == log_size);
    }
    case 1:
        return str(d, "timestamp") && str(d, "name") && YAJL_IS_NUMBER(json_get(d, "value"));
    default:
        if (!is_hex(str(d, "traceID"), 32) || !is_hex(str(d, "spanID"), 16) || !str(d, "operation") ||
            !YAJL_IS_NUMBER(json_get(d, "duration")))
            return 0;
        note_id(str(d, "traceID"));
        return 1;
    }
}

static yajl_val path(yajl_val v, const char *a, const char *b)
{
    const char *p[3] = { a, b, NULL };
    return yajl_tree_get(v, p, yajl_t_any);
}

/* OTLP/HTTP JSON: the documents in it, or -1 if it is not valid. */
static long otlp_docs(int sig, yajl_val root)
{
    static const char *const top[] = { "resourceLogs", "resourceMetrics", "resourceSpans" };
    static const char *const scope[] = { "scopeLogs", "scopeMetrics", "scopeSpans" };
    static const char *const items[] = { "logRecords", "metrics", "spans" };
    yajl_val rs = json_get(root, top[sig]);
    if (!YAJL_IS_ARRAY(rs))
        return -1;
    long n = 0;
    for (size_t i = 0; i < rs->u.array.len; i++) {
        yajl_val r = rs->u.array.values[i];
        if (!YAJL_IS_ARRAY(path(r, "resource", "attributes")))
            return -1;
        yajl_val ss = json_get(r, scope[sig]);
        if (!YAJL_IS_ARRAY(ss))
            return -1;
        for (size_t j = 0; j < ss->u.array.len; j++) {
            yajl_val list = json_get(ss->u.array.values[j], items[sig]);
            if (!YAJL_IS_ARRAY(list))
                return -1;
            for (size_t k = 0; k < list->u.array.len; k++) {
                yajl_val it = list->u.array.values[k];
                if (sig == 0) {
                    const char *body = YAJL_GET_STRING(path(it, "body", "stringValue"));
                    if (!body || !str(it, "timeUnixNano") || (log_size >= 0 && (long)strlen(body) != log_size))
                        return -1;
                    n++;
                } else if (sig == 1) {
                    yajl_val dps = path(it, "gauge", "dataPoints");
                    if (!str(it, "name") || !YAJL_IS_ARRAY(dps))
                        return -1;
                    n += (long)dps->u.array.len;
                } else {
                    if (!is_hex(str(it, "traceId"), 32) || !is_hex(str(it, "spanId"), 16) || !str(it, "name") ||
                        !str(it, "startTimeUnixNano") || !str(it, "endTimeUnixNano"))
                        return -1;
                    note_id(str(it, "traceId"));
                    n++;
                }
            }
        }
    }
    return n;
}

static int key_ok(struct evhttp_request *req)
{
    if (!key)
        return 1;
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *x = evhttp_find_header(h, "X-API-Key"), *a = evhttp_find_header(h, "Authorization");
    char bearer[512];
    snprintf(bearer, sizeof bearer, "Bearer %s", key);
    return x && a && strcmp(x, key) == 0 && strcmp(a, bearer) == 0;
}

static void reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Bad", b);
    evbuffer_free(b);
}

static void stats(struct evhttp_request *req)
{
    struct sbuf b = { 0 };
    long now = now_s();
    sbuf_printf(&b, "{\"now\":%ld,\"bad_key\":%llu,\"repeated_ids\":%llu,\"not_json\":%llu", now,
                (unsigned long long)bad_key, (unsigned long long)repeated_ids, (unsigned long long)not_json);
    for (int s = 0; s < 3; s++) {
        sbuf_printf(&b, ",\"%s\":{\"docs\":%llu,\"requests\":%llu,\"bad\":%llu,\"per_second\":{", sigs[s].name,
                    (unsigned long long)sigs[s].docs, (unsigned long long)sigs[s].requests,
                    (unsigned long long)sigs[s].bad);
        int first = 1;
        for (long t = now - SECONDS + 1; t <= now; t++) {
            uint64_t n = sigs[s].per_sec[t % SECONDS];
            if (!n)
                continue;
            sbuf_printf(&b, "%s\"%ld\":%llu", first ? "" : ",", t, (unsigned long long)n);
            first = 0;
        }
        sbuf_adds(&b, "}}");
    }
    sbuf_adds(&b, "}");
    reply(req, 200, b.s);
    sbuf_deinit(&b);
}

static void handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    if (strcmp(uri, "/__stats") == 0) {
        stats(req);
        return;
    }
    if (strcmp(uri, "/__reset") == 0) {
        for (int s = 0; s < 3; s++) {
            sigs[s].docs = sigs[s].requests = sigs[s].bad = 0;
            memset(sigs[s].per_sec, 0, sizeof sigs[s].per_sec);
        }
        bad_key = repeated_ids = not_json = 0;
        memset(ids, 0, IDS * sizeof *ids);
        reply(req, 200, "{}");
        return;
    }
    int otlp = strncmp(uri, "/v1/", 4) == 0;
    const char *name = uri + (otlp ? 4 : 1);
    int sig = -1;
    for (int s = 0; s < 3; s++)
        if (strcmp(name, sigs[s].name) == 0)
            sig = s;
    if (sig < 0 || evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        reply(req, 404, "{\"error\":\"unknown path\"}");
        return;
    }
    struct signal *sg = &sigs[sig];
    sg->requests++;
    if (!key_ok(req)) {
        bad_key++;
        reply(req, 401, "{\"error\":\"bad key\"}");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = (char *)evbuffer_pullup(in, -1);
    long docs = 0;
    struct json_err e;
    if (otlp) {
        yajl_val v = json_parse(body ? body : "", len, 16, &e);
        docs = v ? otlp_docs(sig, v) : -1;
        if (!v)
            not_json++;
        if (v)
            yajl_tree_free(v);
    } else {
        /* one document, or JSON lines */
        size_t off = 0;
        while (off < len && docs >= 0) {
            const char *nl = memchr(body + off, '\n', len - off);
            size_t n = nl ? (size_t)(nl - (body + off)) : len - off;
            if (n) {
                yajl_val v = json_parse(body + off, n, 4, &e);
                if (!v)
                    not_json++;
                docs = v && moniflux_ok(sig, v) ? docs + 1 : -1;
                if (v)
                    yajl_tree_free(v);
            }
            off += n + 1;
        }
    }
    if (docs <= 0) {
        sg->bad++;
        reply(req, 400, "{\"error\":\"bad document\"}");
        return;
    }
    sg->docs += (uint64_t)docs;
    sg->per_sec[now_s() % SECONDS] += (uint64_t)docs;
    reply(req, 200, "{\"accepted\":true}");
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--log-size") == 0 && i + 1 < argc)
            log_size = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: stampede-collector [--port N] [--key KEY] [--log-size N]\n");
            return 2;
        }
    }
    ids = xcalloc(IDS, sizeof *ids);
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_max_body_size(http, 64u << 20);
    evhttp_set_gencb(http, handle, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (!bs) {
        fprintf(stderr, "stampede-collector: cannot listen on 127.0.0.1 port %u\n", port);
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    printf("PORT %u\n", port); /* what tests/integration/target.c reads */
    fflush(stdout);
    struct event *term = evsignal_new(base, SIGTERM, on_term, base);
    event_add(term, NULL);
    signal(SIGPIPE, SIG_IGN);
    event_base_dispatch(base);
    event_free(term);
    evhttp_free(http);
    event_base_free(base);
    free(ids);
    return 0;
}
