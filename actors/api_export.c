/* api_export: a run's results for other tools — its per-second series as
 * CSV (GET /v1/runs/{id}/export.csv) and its thresholds as JUnit XML test
 * cases for CI (GET /v1/runs/{id}/export.junit.xml). */
#include "api.h"

#include "sbuf.h"
#include "xmalloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_csv(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else if (PQgetvalue(r->res[0], 0, 0)[0] != 't') {
        http_reply_error(c, 404, "not_found", "id", "no run with id %s", http_param(c, "id"));
    } else {
        const PGresult *res = r->res[1];
        struct sbuf b;
        sbuf_init(&b, 65536);
        sbuf_adds(&b, "second,script,step,warmup,span_s,requests,rps,failed,errors,retries,iterations,"
                      "dropped_iterations,vus,bytes_in,bytes_out,p50_ms,p90_ms,p95_ms,p99_ms,p99_9_ms,max_ms,"
                      "send_lag_p99_ms,backoff_s\n");
        for (int i = 0; i < PQntuples(res); i++) {
            double span = atof(PQgetvalue(res, i, 4)) / 1000.0;
            double reqs = atof(PQgetvalue(res, i, 5));
            /* names are [A-Za-z0-9_.-] (steps) or free text (scripts): quote the latter */
            sbuf_printf(&b, "%s,\"", PQgetvalue(res, i, 0));
            for (const char *p = PQgetvalue(res, i, 1); *p; p++)
                sbuf_add(&b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
            sbuf_printf(&b, "\",%s,%s,%.3f,%s,%.3f", PQgetvalue(res, i, 2)[0] ? PQgetvalue(res, i, 2) : "total",
                        PQgetvalue(res, i, 3)[0] == 't' ? "true" : "false", span, PQgetvalue(res, i, 5),
                        span > 0 ? reqs / span : 0.0);
            for (int k = 6; k < PQnfields(res); k++)
                sbuf_printf(&b, ",%s", PQgetvalue(res, i, k));
            sbuf_adds(&b, "\n");
        }
        char disp[96];
        snprintf(disp, sizeof disp, "attachment; filename=\"run-%s.csv\"", http_param(c, "id"));
        http_add_header(c, "Content-Disposition", disp);
        http_reply_typed(c, 200, "text/csv; charset=utf-8", b.s, b.len);
        sbuf_deinit(&b);
    }
    msg_free(m);
}

static void export_csv(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)", 1, &id);
    store_query_add(q, "SELECT s.second, coalesce(rs.name, s.script_id::text), s.step, s.warmup, s.span_ms,"
                       " s.requests, s.failed, (SELECT coalesce(sum(value::bigint), 0) FROM jsonb_each_text(s.errors)),"
                       " s.retries, s.iterations, s.dropped, s.vus, s.bytes_in, s.bytes_out,"
                       " coalesce(s.p50_ms::text, ''), coalesce(s.p90_ms::text, ''), coalesce(s.p95_ms::text, ''),"
                       " coalesce(s.p99_ms::text, ''), coalesce(s.p99_9_ms::text, ''), coalesce(s.max_ms::text, ''),"
                       " coalesce(s.lag_p99_ms::text, ''),"
                       " CASE WHEN s.step = '' THEN (s.backoff_ms / 1000.0)::numeric(20,3)::text ELSE '' END"
                       " FROM run_series s LEFT JOIN run_scripts rs ON rs.run_id = s.run_id AND rs.script_id = s.script_id"
                       " WHERE s.run_id = $1 ORDER BY s.second, rs.position, s.step, s.warmup DESC", 1, &id);
    api_store_call(c, q, on_csv);
}

static void xml_text(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sbuf_adds(b, "&amp;"); break;
        case '<': sbuf_adds(b, "&lt;"); break;
        case '>': sbuf_adds(b, "&gt;"); break;
        case '"': sbuf_adds(b, "&quot;"); break;
        case '\'': sbuf_adds(b, "&apos;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
                sbuf_add(b, s, 1);
        }
    }
}

/* The thresholds of one summary as test cases. */
static void junit_cases(struct sbuf *b, yajl_val summary, const char *classname, int *tests, int *failures)
{
    yajl_val th = json_get(summary, "thresholds");
    if (!YAJL_IS_ARRAY(th))
        return;
    for (size_t i = 0; i < th->u.array.len; i++) {
        yajl_val t = th->u.array.values[i];
        yajl_val metric = json_get(t, "metric"), expr = json_get(t, "expr"), ok = json_get(t, "ok"),
                 obs = json_get(t, "observed");
        (*tests)++;
        sbuf_adds(b, "    <testcase classname=\"");
        xml_text(b, classname);
        sbuf_adds(b, "\" name=\"");
        xml_text(b, YAJL_IS_STRING(metric) ? YAJL_GET_STRING(metric) : "?");
        sbuf_adds(b, " ");
        xml_text(b, YAJL_IS_STRING(expr) ? YAJL_GET_STRING(expr) : "?");
        sbuf_adds(b, "\">");
        if (!YAJL_IS_TRUE(ok)) {
            (*failures)++;
            char msg[96];
            if (YAJL_IS_NUMBER(obs))
                snprintf(msg, sizeof msg, "observed %.3f", YAJL_GET_DOUBLE(obs));
            else
                snprintf(msg, sizeof msg, "no data");
            sbuf_adds(b, "<failure message=\"");
            xml_text(b, msg);
            sbuf_adds(b, "\"/>");
        }
        sbuf_adds(b, "</testcase>\n");
    }
}

static void on_junit(struct http_ctx *c, msg_t *m)
{
    if (api_store_failed(c, m))
        return;
    struct store_result *r = (struct store_result *)m;
    const PGresult *res = r->res[0];
    if (PQntuples(res) == 0) {
        http_reply_error(c, 404, "not_found", "id", "no run with id %s", http_param(c, "id"));
        msg_free(m);
        return;
    }
    const char *name = PQgetvalue(res, 0, 0), *status = PQgetvalue(res, 0, 1);
    yajl_val summary = NULL;
    if (!PQgetisnull(res, 0, 2)) {
        struct json_err e;
        const char *text = PQgetvalue(res, 0, 2);
        summary = json_parse(text, strlen(text), JSON_MAX_DEPTH + 8, &e);
    }
    struct sbuf cases;
    sbuf_init(&cases, 4096);
    int tests = 1, failures = 0;
    /* The run itself is a test case: it must have finished. */
    int ok = strcmp(status, "finished") == 0 || strcmp(status, "failed") == 0;
    sbuf_adds(&cases, "    <testcase classname=\"run\" name=\"run completed\">");
    if (!ok) {
        failures++;
        sbuf_adds(&cases, "<failure message=\"the run is ");
        xml_text(&cases, status);
        sbuf_adds(&cases, "\"/>");
    }
    sbuf_adds(&cases, "</testcase>\n");
    yajl_val scripts = json_get(summary, "scripts");
    if (YAJL_IS_ARRAY(scripts)) {
        for (size_t k = 0; k < scripts->u.array.len; k++) {
            yajl_val s = scripts->u.array.values[k], nm = json_get(s, "name");
            junit_cases(&cases, json_get(s, "summary"), YAJL_IS_STRING(nm) ? YAJL_GET_STRING(nm) : "?",
                        &tests, &failures);
        }
    } else if (summary) {
        junit_cases(&cases, summary, name, &tests, &failures);
    }
    struct sbuf b;
    sbuf_init(&b, cases.len + 512);
    sbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"%d\" failures=\"%d\">\n"
                    "  <testsuite name=\"", tests, failures);
    xml_text(&b, name[0] ? name : "stampede run");
    sbuf_printf(&b, "\" tests=\"%d\" failures=\"%d\">\n", tests, failures);
    sbuf_add(&b, cases.s, cases.len);
    sbuf_adds(&b, "  </testsuite>\n</testsuites>\n");
    http_reply_typed(c, 200, "application/xml; charset=utf-8", b.s, b.len);
    sbuf_deinit(&b);
    sbuf_deinit(&cases);
    if (summary)
        yajl_tree_free(summary);
    msg_free(m);
}

static void export_junit(struct http_ctx *c)
{
    const char *id = api_path_uuid(c, "id", "run");
    if (!id)
        return;
    struct store_query *q = store_query_new();
    store_query_add(q, "SELECT name, status, summary::text FROM runs WHERE id = $1", 1, &id);
    api_store_call(c, q, on_junit);
}

void api_export_register(struct router *r)
{
    http_route(r, HTTP_GET, "/v1/runs/:id/export.csv", export_csv, 0);
    http_route(r, HTTP_GET, "/v1/runs/:id/export.junit.xml", export_junit, 0);
}
