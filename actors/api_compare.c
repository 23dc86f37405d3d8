/* api_compare: GET /v1/runs/compare?ids=a,b,c&baseline=a — per scope
 * (the total, each step, prefixed by its script in a scenario run) and
 * metric, every run's value and its % delta against the baseline run. */
#include "api.h"

#include "xmalloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPARE_MAX 10

struct cmp_metric {
    const char *key;      /* in the answer */
    const char *path[4];  /* in a summary's total or step object */
};

static const struct cmp_metric METRICS[] = {
    { "requests", { "requests", NULL } },
    { "rps", { "rps", NULL } },
    { "failed_rate", { "failed_rate", NULL } },
    { "mean_ms", { "latency_ms", "corrected", "mean", NULL } },
    { "p50_ms", { "latency_ms", "corrected", "p50", NULL } },
    { "p90_ms", { "latency_ms", "corrected", "p90", NULL } },
    { "p95_ms", { "latency_ms", "corrected", "p95", NULL } },
    { "p99_ms", { "latency_ms", "corrected", "p99", NULL } },
    { "p99_9_ms", { "latency_ms", "corrected", "p99_9", NULL } },
    { "max_ms", { "latency_ms", "corrected", "max", NULL } },
};
#define NMETRICS (sizeof METRICS / sizeof METRICS[0])

/* One scope of a summary: "total" or a step, prefixed with the script's
 * name in a scenario run. */
struct scope {
    char name[280];
    yajl_val obj[COMPARE_MAX]; /* per run, borrowed from its tree */
};

static struct scope *scope_get(struct scope **sc, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*sc)[i].name, name) == 0)
            return &(*sc)[i];
    *sc = xrealloc(*sc, (size_t)(*n + 1) * sizeof **sc);
    struct scope *s = &(*sc)[(*n)++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static void add_scopes(struct scope **sc, int *n, int run, yajl_val summary, const char *prefix)
{
    char name[280];
    snprintf(name, sizeof name, "%s%stotal", prefix, prefix[0] ? "/" : "");
    scope_get(sc, n, name)->obj[run] = summary;
    yajl_val steps = json_get(summary, "steps");
    if (!YAJL_IS_OBJECT(steps))
        return;
    for (size_t i = 0; i < steps->u.object.len; i++) {
        snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "/" : "", steps->u.object.keys[i]);
        scope_get(sc, n, name)->obj[run] = steps->u.object.values[i];
    }
}

static double metric_of(yajl_val obj, const struct cmp_metric *mt)
{
    if (!obj)
        return NAN;
    yajl_val v = yajl_tree_get(obj, (const char **)mt->path, yajl_t_number);
    return v ? YAJL_GET_DOUBLE(v) : NAN;
}

static void on_compare(struct http_ctx *c, msg_t *m)
{
    if (api_store_failed(c, m))
        return;
    struct store_result *r = (struct store_result *)m;
    char **ids = http_udata(c); /* NULL-terminated, baseline first */
    const PGresult *res = r->res[0];
    int nruns = 0;
    while (ids[nruns])
        nruns++;
    int row_of[COMPARE_MAX];
    for (int i = 0; i < nruns; i++) {
        row_of[i] = -1;
        for (int k = 0; k < PQntuples(res); k++)
            if (strcmp(PQgetvalue(res, k, 0), ids[i]) == 0)
                row_of[i] = k;
        if (row_of[i] < 0) {
            http_reply_error(c, 404, "not_found", "ids", "no run with id %s", ids[i]);
            msg_free(m);
            return;
        }
    }
    yajl_val trees[COMPARE_MAX] = { 0 };
    struct scope *scopes = NULL;
    int nscopes = 0;
    for (int i = 0; i < nruns; i++) {
        if (PQgetisnull(res, row_of[i], 3))
            continue;
        const char *text = PQgetvalue(res, row_of[i], 3);
        struct json_err e;
        trees[i] = json_parse(text, strlen(text), JSON_MAX_DEPTH + 8, &e);
        yajl_val scripts = json_get(trees[i], "scripts");
        if (YAJL_IS_ARRAY(scripts)) {
            for (size_t k = 0; k < scripts->u.array.len; k++) {
                yajl_val s = scripts->u.array.values[k], nm = json_get(s, "name");
                add_scopes(&scopes, &nscopes, i, json_get(s, "summary"),
                           YAJL_IS_STRING(nm) ? YAJL_GET_STRING(nm) : "?");
            }
        } else if (trees[i]) {
            add_scopes(&scopes, &nscopes, i, trees[i], "");
        }
    }
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "baseline", ids[0]);
    json_gen_cstr(g, "runs");
    yajl_gen_array_open(g);
    for (int i = 0; i < nruns; i++) {
        yajl_gen_map_open(g);
        json_gen_kv_str(g, "id", ids[i]);
        json_gen_kv_str(g, "name", PQgetvalue(res, row_of[i], 1));
        json_gen_kv_str(g, "status", PQgetvalue(res, row_of[i], 2));
        json_gen_kv_bool(g, "has_summary", trees[i] != NULL);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    json_gen_cstr(g, "steps");
    yajl_gen_map_open(g);
    for (int s = 0; s < nscopes; s++) {
        json_gen_cstr(g, scopes[s].name);
        yajl_gen_map_open(g);
        for (size_t k = 0; k < NMETRICS; k++) {
            json_gen_cstr(g, METRICS[k].key);
            yajl_gen_map_open(g);
            double base = metric_of(scopes[s].obj[0], &METRICS[k]);
            json_gen_cstr(g, "values");
            yajl_gen_map_open(g);
            for (int i = 0; i < nruns; i++)
                json_gen_kv_double(g, ids[i], metric_of(scopes[s].obj[i], &METRICS[k]), 3);
            yajl_gen_map_close(g);
            json_gen_cstr(g, "delta_pct");
            yajl_gen_map_open(g);
            for (int i = 1; i < nruns; i++) {
                double v = metric_of(scopes[s].obj[i], &METRICS[k]);
                json_gen_kv_double(g, ids[i], base != 0 ? (v - base) / base * 100.0 : NAN, 2);
            }
            yajl_gen_map_close(g);
            yajl_gen_map_close(g);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    http_reply_doc(c, 200, g);
    for (int i = 0; i < nruns; i++)
        if (trees[i])
            yajl_tree_free(trees[i]);
    free(scopes);
    msg_free(m);
}

static void free_ids(void *p)
{
    char **ids = p;
    for (int i = 0; ids[i]; i++)
        free(ids[i]);
    free(ids);
}

static void compare_runs(struct http_ctx *c)
{
    const char *list = http_query(c, "ids"), *baseline = http_query(c, "baseline");
    if (!list) {
        http_reply_error(c, 400, "invalid", "ids", "ids: give 2..%d run ids, comma-separated", COMPARE_MAX);
        return;
    }
    char **ids = xcalloc(COMPARE_MAX + 2, sizeof *ids);
    http_set_udata(c, ids, free_ids);
    int n = 0;
    char *copy = xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!api_is_uuid(tok) || n == COMPARE_MAX) {
            free(copy);
            http_reply_error(c, 400, "invalid", "ids", "ids: 2..%d run ids (UUIDs), comma-separated",
                             COMPARE_MAX);
            return;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(ids[i], tok)) {
                free(copy);
                http_reply_error(c, 400, "invalid", "ids", "ids: %s is given twice", tok);
                return;
            }
        ids[n++] = xstrdup(tok);
    }
    free(copy);
    if (n < 2) {
        http_reply_error(c, 400, "invalid", "ids", "ids: give at least two runs to compare");
        return;
    }
    if (baseline) {
        int at = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(ids[i], baseline))
                at = i;
        if (at < 0) {
            http_reply_error(c, 400, "invalid", "baseline", "baseline must be one of ids");
            return;
        }
        char *t = ids[0]; /* the baseline goes first */
        ids[0] = ids[at];
        ids[at] = t;
    }
    struct sbuf arr;
    sbuf_init(&arr, 512);
    sbuf_adds(&arr, "{");
    for (int i = 0; i < n; i++)
        sbuf_printf(&arr, "%s%s", i ? "," : "", ids[i]);
    sbuf_adds(&arr, "}");
    struct store_query *q = store_query_new();
    const char *p[1] = { arr.s };
    store_query_add(q, "SELECT id, name, status, summary::text FROM runs WHERE id = ANY($1::uuid[])", 1, p);
    sbuf_deinit(&arr);
    api_store_call(c, q, on_compare);
}

void api_compare_register(struct router *r)
{
    http_route(r, HTTP_GET, "/v1/runs/compare", compare_runs, 0);
}
