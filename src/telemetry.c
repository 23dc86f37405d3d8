/* telemetry: the "telemetry" section, and the documents it sends. */
#include "telemetry.h"

#include "duration.h"
#include "script.h"
#include "tmpl.h"
#include "xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const signal_names[] = { "logs", "metrics", "traces" };

const char *telemetry_signal_name(enum telemetry_signal s)
{
    return (unsigned)s < 3 ? signal_names[s] : "unknown";
}

static const struct {
    const char *name;
    int severity; /* OTLP SeverityNumber */
} levels[] = { { "trace", 1 }, { "debug", 5 }, { "info", 9 }, { "warn", 13 }, { "error", 17 }, { "fatal", 21 } };

const char *telemetry_level_name(int severity)
{
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (levels[i].severity == severity)
            return levels[i].name;
    return "info";
}

double telemetry_posts_per_s(double docs_per_s, int batch)
{
    if (docs_per_s <= 1.0)
        return docs_per_s; /* one document a request */
    return ceil(docs_per_s / (double)batch);
}

void telemetry_free(struct script_telemetry *t)
{
    if (!t)
        return;
    free(t->test_id);
    free(t->service);
    free(t);
}

/* ---- the section ---- */

static int only_keys(yajl_val o, const char *parent, const char *const *keys, struct json_err *e)
{
    for (size_t i = 0; i < o->u.object.len; i++) {
        int ok = 0;
        for (const char *const *k = keys; *k && !ok; k++)
            ok = strcmp(*k, o->u.object.keys[i]) == 0;
        if (!ok) {
            char p[128];
            return json_fail(e, json_path(p, sizeof p, parent, o->u.object.keys[i]), "unknown field");
        }
    }
    return 0;
}

static int parse_signal(struct script_telemetry *t, yajl_val tel, enum telemetry_signal sig, struct json_err *e)
{
    static const char *const keys[] = { "rate", "level", "size", NULL };
    const char *name = signal_names[sig];
    char path[64], p[96];
    json_path(path, sizeof path, "telemetry", name);
    yajl_val v = json_get(tel, name);
    if (!v)
        return 0;
    if (!YAJL_IS_OBJECT(v))
        return json_fail(e, path, "expected an object like {\"rate\": 100}, got %s", json_type_name(v));
    if (only_keys(v, path, keys, e) < 0)
        return -1;
    struct telemetry_stream *st = &t->streams[t->nstreams];
    memset(st, 0, sizeof *st);
    st->signal = sig;
    if (json_get_number(v, path, "rate", 1, 0, TELEMETRY_MAX_RATE, &st->docs_per_s, e) < 0)
        return -1;
    if (st->docs_per_s <= 0)
        return 0; /* a signal at rate 0 sends nothing: no step */
    st->level = 9;
    st->log_size = 100;
    if (sig != SIGNAL_LOGS) {
        if (json_get(v, "level") || json_get(v, "size"))
            return json_fail(e, path, "level and size are for logs only");
    } else {
        const char *lv = "info";
        if (json_get_string(v, path, "level", 0, &lv, e) < 0)
            return -1;
        size_t i;
        for (i = 0; i < sizeof levels / sizeof levels[0]; i++)
            if (strcasecmp(levels[i].name, lv) == 0)
                break;
        if (i == sizeof levels / sizeof levels[0])
            return json_fail(e, json_path(p, sizeof p, path, "level"),
                             "\"%.20s\" is not one of trace, debug, info, warn, error, fatal", lv);
        st->level = levels[i].severity;
        int64_t size = 100;
        if (json_get_int(v, path, "size", 0, 1, TELEMETRY_MAX_LOG_SIZE, &size, e) < 0)
            return -1;
        st->log_size = (int)size;
    }
    t->nstreams++;
    return 0;
}

/* The destination as a base URL without a trailing '/'. */
static int destination(yajl_val tel, const char **url, yajl_val *headers, const char **key, struct json_err *e)
{
    static const char *const keys[] = { "url", "headers", "api_key", NULL };
    yajl_val d = json_get(tel, "destination");
    if (!d)
        return json_fail(e, "telemetry.destination", "destination is required ({\"url\": \"http://collector:4318\"})");
    if (!YAJL_IS_OBJECT(d))
        return json_fail(e, "telemetry.destination", "expected an object, got %s", json_type_name(d));
    if (only_keys(d, "telemetry.destination", keys, e) < 0 ||
        json_get_string(d, "telemetry.destination", "url", 1, url, e) < 0 ||
        json_get_string(d, "telemetry.destination", "api_key", 0, key, e) < 0)
        return -1;
    struct script_origin o;
    char *target = NULL, err[200];
    if (script_parse_url(*url, &o, &target, err, sizeof err) < 0)
        return json_fail(e, "telemetry.destination.url", "%s", err);
    script_origin_deinit(&o);
    int has_query = strchr(target, '?') != NULL;
    free(target);
    if (has_query)
        return json_fail(e, "telemetry.destination.url", "must not have a query (the signal's path is added to it)");
    if (*key) {
        for (const char *c = *key; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return json_fail(e, "telemetry.destination.api_key", "must not contain control characters");
    }
    *headers = json_get(d, "headers");
    if (*headers && !YAJL_IS_OBJECT(*headers))
        return json_fail(e, "telemetry.destination.headers", "expected an object of strings");
    return 0;
}

yajl_val telemetry_expand(yajl_val root, struct script_telemetry **out, struct json_err *e)
{
    static const char *const keys[] = { "destination", "format", "batch", "test_id", "service", "duration",
                                        "graceful_stop", "logs", "metrics", "traces", "max_vus", NULL };
    *out = NULL;
    yajl_val tel = json_get(root, "telemetry");
    if (!YAJL_IS_OBJECT(tel)) {
        json_fail(e, "telemetry", "expected an object, got %s", json_type_name(tel));
        return NULL;
    }
    static const char *const replaced[] = { "steps", "load", "setup", "teardown", "dataset", "target", NULL };
    for (const char *const *k = replaced; *k; k++)
        if (json_get(root, *k)) {
            json_fail(e, *k, "a telemetry script has no %s: its \"telemetry\" section says what it sends", *k);
            return NULL;
        }
    if (only_keys(tel, "telemetry", keys, e) < 0)
        return NULL;
    struct script_telemetry *t = xcalloc(1, sizeof *t);
    const char *fmt = "moniflux", *test_id = "stampede", *service = "stampede", *url = NULL, *key = "";
    const char *dur = NULL, *grace = "5s";
    yajl_val headers = NULL;
    int64_t batch = -1, max_vus = 0;
    if (json_get_string(tel, "telemetry", "format", 0, &fmt, e) < 0 ||
        json_get_string(tel, "telemetry", "test_id", 0, &test_id, e) < 0 ||
        json_get_string(tel, "telemetry", "service", 0, &service, e) < 0 ||
        json_get_string(tel, "telemetry", "duration", 1, &dur, e) < 0 ||
        json_get_string(tel, "telemetry", "graceful_stop", 0, &grace, e) < 0 ||
        json_get_int(tel, "telemetry", "batch", 0, 1, TELEMETRY_MAX_BATCH, &batch, e) < 0 ||
        json_get_int(tel, "telemetry", "max_vus", 0, 1, SCRIPT_MAX_VUS, &max_vus, e) < 0 ||
        destination(tel, &url, &headers, &key, e) < 0)
        goto fail;
    if (strcmp(fmt, "moniflux") == 0) {
        t->format = TELEMETRY_MONIFLUX;
        if (batch > 1) {
            json_fail(e, "telemetry.batch", "the moniflux format sends one document a request (use jsonl or otlp)");
            goto fail;
        }
        batch = 1;
    } else if (strcmp(fmt, "jsonl") == 0 || strcmp(fmt, "otlp") == 0) {
        t->format = fmt[0] == 'j' ? TELEMETRY_JSONL : TELEMETRY_OTLP;
        if (batch < 0)
            batch = 100;
    } else {
        json_fail(e, "telemetry.format", "\"%.20s\" is not one of moniflux, jsonl, otlp", fmt);
        goto fail;
    }
    t->batch = (int)batch;
    if (!*test_id || strlen(test_id) > 200) {
        json_fail(e, "telemetry.test_id", "expected 1 to 200 characters");
        goto fail;
    }
    t->test_id = xstrdup(test_id);
    t->service = xstrdup(service);
    for (int s = 0; s < 3; s++)
        if (parse_signal(t, tel, (enum telemetry_signal)s, e) < 0)
            goto fail;
    if (t->nstreams == 0) {
        json_fail(e, "telemetry", "no signal to send: give logs, metrics or traces a rate above 0");
        goto fail;
    }
    /* The script this stands for: one POST step per signal, one arrival
     * process at the sum of their request rates. */
    double posts = 0;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "steps");
    yajl_gen_array_open(g);
    size_t ulen = strlen(url);
    while (ulen && url[ulen - 1] == '/')
        ulen--;
    for (int i = 0; i < t->nstreams; i++) {
        const struct telemetry_stream *st = &t->streams[i];
        const char *name = signal_names[st->signal];
        posts += telemetry_posts_per_s(st->docs_per_s, t->batch);
        char *u = xasprintf("%.*s%s/%s", (int)ulen, url, t->format == TELEMETRY_OTLP ? "/v1" : "", name);
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "name", name);
        json_gen_kv_str(g, "method", "POST");
        json_gen_kv_str(g, "url", u);
        json_gen_kv_str(g, "timeout", "10s");
        json_gen_cstr(g, "headers");
        yajl_gen_map_open(g);
        for (size_t h = 0; headers && h < headers->u.object.len; h++) {
            yajl_val hv = headers->u.object.values[h];
            if (!YAJL_IS_STRING(hv)) {
                char p[128];
                json_fail(e, json_path(p, sizeof p, "telemetry.destination.headers", headers->u.object.keys[h]),
                          "expected a string, got %s", json_type_name(hv));
                free(u);
                yajl_gen_free(g);
                goto fail;
            }
            json_gen_kv_str(g, headers->u.object.keys[h], YAJL_GET_STRING(hv));
        }
        json_gen_kv_str(g, "Content-Type", t->format == TELEMETRY_JSONL ? "application/x-ndjson" : "application/json");
        if (*key) {
            char *bearer = xasprintf("Bearer %s", key);
            json_gen_kv_str(g, "X-API-Key", key);
            json_gen_kv_str(g, "Authorization", bearer);
            free(bearer);
        }
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
        free(u);
    }
    yajl_gen_array_close(g);
    json_gen_cstr(g, "load");
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "executor", "constant-arrival-rate");
    json_gen_kv_double(g, "rate", posts, 6);
    json_gen_kv_str(g, "duration", dur);
    json_gen_kv_str(g, "graceful_stop", grace);
    long mv = max_vus ? (long)max_vus : lround(fmin(SCRIPT_MAX_VUS, fmax(100.0, posts)));
    json_gen_kv_int(g, "pre_allocated_vus", mv < 20 ? mv : 20);
    json_gen_kv_int(g, "max_vus", mv);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    size_t len;
    char *text = json_gen_finish(g, &len);
    struct json_err pe;
    yajl_val tree = json_parse(text, len, JSON_MAX_DEPTH, &pe);
    free(text);
    if (!tree) {
        json_fail(e, "telemetry", "%s", pe.message);
        goto fail;
    }
    *out = t;
    return tree;
fail:
    telemetry_free(t);
    return NULL;
}

/* ---- documents ---- */

static const char *const words[] = {
    "request", "served", "cache", "miss", "hit", "user", "order", "payment", "accepted", "declined",
    "latency", "upstream", "timeout", "retry", "queue", "worker", "started", "finished", "session", "token",
    "refresh", "inventory", "checkout", "cart", "item", "shipped", "warehouse", "region", "eu-west", "us-east",
    "db", "query", "rows", "slow", "fast", "index", "scan", "lock", "released", "acquired",
};
#define NWORDS (sizeof words / sizeof words[0])
static const char *const metric_names[] = { "cpu.utilization", "memory.usage", "http.server.duration",
                                            "queue.depth", "db.connections" };
static const char *const operations[] = { "GET /api/items", "POST /api/orders", "GET /api/users/{id}",
                                          "PUT /api/cart", "db.query", "cache.get" };
static const char hexd[] = "0123456789abcdef";

/* Exactly n bytes of varied words (JSON-safe: no quotes, no backslashes). */
static void text(struct sbuf *b, int n, uint64_t *rng)
{
    char *o = sbuf_reserve(b, (size_t)n);
    int w = 0;
    while (w < n) {
        const char *word = words[tmpl_rng_next(rng) % NWORDS];
        if (w)
            o[w++] = ' ';
        for (const char *c = word; *c && w < n; c++)
            o[w++] = *c;
    }
    sbuf_commit(b, (size_t)n);
}

static void hex_id(struct sbuf *b, int bytes, uint64_t *rng)
{
    char *o = sbuf_reserve(b, (size_t)(2 * bytes));
    uint64_t r = 0;
    for (int i = 0; i < 2 * bytes; i++) {
        if (i % 16 == 0)
            r = tmpl_rng_next(rng);
        o[i] = hexd[r & 15];
        r >>= 4;
    }
    sbuf_commit(b, (size_t)(2 * bytes));
}

static void iso_now(char *buf, size_t len, const struct timespec *ts)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
}

/* test ids are validated as printable; keep them JSON-safe anyway */
static void json_str(struct sbuf *b, const char *s)
{
    sbuf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sbuf_addc(b, '\\');
        if ((unsigned char)*s >= 0x20)
            sbuf_addc(b, *s);
    }
    sbuf_addc(b, '"');
}

/* One MoniFlux document. */
static void moniflux_doc(const struct script_telemetry *t, const struct telemetry_stream *st, uint64_t *rng,
                         const struct timespec *ts, struct sbuf *b)
{
    char now[64];
    iso_now(now, sizeof now, ts);
    sbuf_adds(b, "{\"testID\":");
    json_str(b, t->test_id);
    switch (st->signal) {
    case SIGNAL_LOGS:
        sbuf_printf(b, ",\"timestamp\":\"%s\",\"level\":\"%s\",\"message\":\"", now, telemetry_level_name(st->level));
        text(b, st->log_size, rng);
        sbuf_adds(b, "\"}");
        break;
    case SIGNAL_METRICS:
        sbuf_printf(b, ",\"timestamp\":\"%s\",\"name\":\"%s\",\"value\":%.3f}", now,
                    metric_names[tmpl_rng_next(rng) % 5], (double)(tmpl_rng_next(rng) % 100000) / 100.0);
        break;
    case SIGNAL_TRACES:
        sbuf_adds(b, ",\"traceID\":\"");
        hex_id(b, 16, rng);
        sbuf_adds(b, "\",\"spanID\":\"");
        hex_id(b, 8, rng);
        sbuf_printf(b, "\",\"operation\":\"%s\",\"duration\":%u,\"timestamp\":\"%s\"}",
                    operations[tmpl_rng_next(rng) % 6], (unsigned)(1 + tmpl_rng_next(rng) % 2000), now);
        break;
    }
}

static void otlp_resource(const struct script_telemetry *t, struct sbuf *b)
{
    sbuf_adds(b, "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
    json_str(b, t->service);
    sbuf_adds(b, "}},{\"key\":\"test.id\",\"value\":{\"stringValue\":");
    json_str(b, t->test_id);
    sbuf_adds(b, "}}]},");
}

static void otlp_body(const struct script_telemetry *t, const struct telemetry_stream *st, int n, uint64_t *rng,
                      const struct timespec *ts, struct sbuf *b)
{
    uint64_t ns = (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
    static const char *const top[] = { "resourceLogs", "resourceMetrics", "resourceSpans" };
    static const char *const scope[] = { "scopeLogs", "scopeMetrics", "scopeSpans" };
    static const char *const items[] = { "logRecords", "metrics", "spans" };
    sbuf_printf(b, "{\"%s\":[", top[st->signal]);
    otlp_resource(t, b);
    sbuf_printf(b, "\"%s\":[{\"scope\":{\"name\":\"stampede\"},\"%s\":[", scope[st->signal], items[st->signal]);
    for (int i = 0; i < n; i++) {
        if (i)
            sbuf_addc(b, ',');
        switch (st->signal) {
        case SIGNAL_LOGS:
            sbuf_printf(b, "{\"timeUnixNano\":\"%llu\",\"observedTimeUnixNano\":\"%llu\",\"severityNumber\":%d,"
                           "\"severityText\":\"%s\",\"body\":{\"stringValue\":\"",
                        (unsigned long long)ns, (unsigned long long)ns, st->level, telemetry_level_name(st->level));
            text(b, st->log_size, rng);
            sbuf_adds(b, "\"},\"traceId\":\"");
            hex_id(b, 16, rng);
            sbuf_adds(b, "\",\"spanId\":\"");
            hex_id(b, 8, rng);
            sbuf_adds(b, "\"}");
            break;
        case SIGNAL_METRICS:
            sbuf_printf(b, "{\"name\":\"%s\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"%llu\","
                           "\"asDouble\":%.3f}]}}",
                        metric_names[tmpl_rng_next(rng) % 5], (unsigned long long)ns,
                        (double)(tmpl_rng_next(rng) % 100000) / 100.0);
            break;
        case SIGNAL_TRACES: {
            uint64_t dur = 1000 + tmpl_rng_next(rng) % 2000000000u;
            sbuf_adds(b, "{\"traceId\":\"");
            hex_id(b, 16, rng);
            sbuf_adds(b, "\",\"spanId\":\"");
            hex_id(b, 8, rng);
            sbuf_printf(b, "\",\"name\":\"%s\",\"kind\":2,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\","
                           "\"status\":{\"code\":1}}",
                        operations[tmpl_rng_next(rng) % 6], (unsigned long long)(ns - dur), (unsigned long long)ns);
            break;
        }
        }
    }
    sbuf_adds(b, "]}]}]}");
}

void telemetry_body(const struct script_telemetry *t, int k, int ndocs, uint64_t *rng, struct sbuf *out)
{
    const struct telemetry_stream *st = &t->streams[k];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    switch (t->format) {
    case TELEMETRY_MONIFLUX:
        moniflux_doc(t, st, rng, &ts, out);
        break;
    case TELEMETRY_JSONL:
        for (int i = 0; i < ndocs; i++) {
            moniflux_doc(t, st, rng, &ts, out);
            sbuf_addc(out, '\n');
        }
        break;
    case TELEMETRY_OTLP:
        otlp_body(t, st, ndocs, rng, &ts, out);
        break;
    }
}
