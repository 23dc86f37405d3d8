/* api_meta: about the server itself — GET /metrics (Prometheus text
 * format: the API's requests by route and status, runs by state, the
 * store's queue and reconnects, the bus's drops, the series writer's
 * backlog, each loop's lag) and GET /v1/openapi.json (the API's
 * description, docs/openapi.json compiled in). */
#include "api.h"

#include "bus.h"
#include "loop.h"
#include "openapi.h"
#include "sbuf.h"
#include "series_writer.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

static void sbuf_free(void *p)
{
    sbuf_deinit(p);
    free(p);
}

static void metric(struct sbuf *b, const char *name, const char *type, const char *help)
{
    sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void finish(struct http_ctx *c)
{
    struct sbuf *b = http_udata(c);
    struct loop_group *g = http_loops_group(c);
    if (g) {
        metric(b, "stampede_loop_lag_seconds", "gauge",
               "Longest wait of a task queued on each reactor loop over the last 5 s.");
        for (int i = 0; i < loop_group_size(g); i++)
            sbuf_printf(b, "stampede_loop_lag_seconds{loop=\"%d\"} %.6f\n", i,
                        (double)loop_lag_us(loop_group_get(g, i)) / 1e6);
    }
    http_reply_typed(c, 200, "text/plain; version=0.0.4; charset=utf-8", b->s, b->len);
}

static void on_series_stats(struct http_ctx *c, msg_t *m)
{
    struct sbuf *b = http_udata(c);
    if (m->type == MSG_SERIES_STATS) {
        struct series_stats *s = (struct series_stats *)m;
        metric(b, "stampede_series_batches_total", "counter",
               "Seconds of run series (one run, one second) by what became of them.");
        sbuf_printf(b, "stampede_series_batches_total{outcome=\"stored\"} %llu\n"
                       "stampede_series_batches_total{outcome=\"dropped\"} %llu\n",
                    (unsigned long long)s->batches_stored, (unsigned long long)s->batches_dropped);
        metric(b, "stampede_series_pending_bytes", "gauge", "Series rows waiting for PostgreSQL.");
        sbuf_printf(b, "stampede_series_pending_bytes %llu\n", (unsigned long long)s->pending_bytes);
        metric(b, "stampede_series_flush_failures_total", "counter",
               "Series inserts that failed and were kept for the next try.");
        sbuf_printf(b, "stampede_series_flush_failures_total %llu\n", (unsigned long long)s->flush_failures);
    }
    msg_free(m);
    finish(c);
}

static void on_runs_stats(struct http_ctx *c, msg_t *m)
{
    struct sbuf *b = http_udata(c);
    if (m->type == MSG_RM_STATS) {
        struct rm_stats *s = (struct rm_stats *)m;
        metric(b, "stampede_runs", "gauge", "Runs executing on this server, by state.");
        for (int i = RMS_QUEUED; i <= RMS_STOPPING; i++)
            sbuf_printf(b, "stampede_runs{state=\"%s\"} %llu\n", rm_state_name((enum rm_state)i),
                        (unsigned long long)s->active[i]);
        metric(b, "stampede_runs_ended_total", "counter", "Runs that ended on this server, by final state.");
        for (int i = RMS_FINISHED; i < RMS_COUNT; i++)
            sbuf_printf(b, "stampede_runs_ended_total{state=\"%s\"} %llu\n", rm_state_name((enum rm_state)i),
                        (unsigned long long)s->ended[i]);
        metric(b, "stampede_runs_created_total", "counter", "Runs started on this server.");
        sbuf_printf(b, "stampede_runs_created_total %llu\n", (unsigned long long)s->created);
        metric(b, "stampede_runs_interrupted_found_total", "counter",
               "Runs left active by a server that stopped, found and marked interrupted.");
        sbuf_printf(b, "stampede_runs_interrupted_found_total %llu\n", (unsigned long long)s->interrupted_found);
        metric(b, "stampede_run_write_retries_total", "counter", "Run state writes postponed while PostgreSQL was unavailable.");
        sbuf_printf(b, "stampede_run_write_retries_total %llu\n", (unsigned long long)s->write_retries);
    }
    msg_free(m);
    msg_t *q = msg_new(MSG_SERIES_STATS_GET, sizeof(msg_t));
    if (http_call(c, http_peer(c, HTTP_PEER_SERIES), q, on_series_stats) < 0) {
        msg_free(q);
        finish(c);
    }
}

static void on_bus_stats(struct http_ctx *c, msg_t *m)
{
    struct sbuf *b = http_udata(c);
    if (m->type == MSG_BUS_STATS) {
        struct bus_stats *s = (struct bus_stats *)m;
        metric(b, "stampede_bus_messages_total", "counter", "Live messages by what became of them.");
        sbuf_printf(b, "stampede_bus_messages_total{outcome=\"published\"} %llu\n"
                       "stampede_bus_messages_total{outcome=\"dropped\"} %llu\n"
                       "stampede_bus_messages_total{outcome=\"delivered_local\"} %llu\n"
                       "stampede_bus_messages_total{outcome=\"subscriber_dropped\"} %llu\n"
                       "stampede_bus_messages_total{outcome=\"received_remote\"} %llu\n",
                    (unsigned long long)s->published, (unsigned long long)s->dropped,
                    (unsigned long long)s->delivered_local, (unsigned long long)s->subscriber_drops,
                    (unsigned long long)s->received_remote);
        metric(b, "stampede_bus_reconnects_total", "counter", "Reconnections to Redis.");
        sbuf_printf(b, "stampede_bus_reconnects_total %llu\n", (unsigned long long)s->reconnects);
    }
    msg_free(m);
    msg_t *q = msg_new(MSG_RM_STATS_GET, sizeof(msg_t));
    if (http_call(c, http_peer(c, HTTP_PEER_RUNS), q, on_runs_stats) < 0) {
        msg_free(q);
        on_runs_stats(c, msg_new(0, sizeof(msg_t)));
    }
}

static void on_store_stats(struct http_ctx *c, msg_t *m)
{
    struct sbuf *b = http_udata(c);
    if (m->type == MSG_STORE_STATS) {
        struct store_stats *s = (struct store_stats *)m;
        metric(b, "stampede_store_connections", "gauge", "PostgreSQL connections of the pool, by state.");
        sbuf_printf(b, "stampede_store_connections{state=\"up\"} %d\nstampede_store_connections{state=\"down\"} %d\n",
                    s->connected, s->pool - s->connected);
        metric(b, "stampede_store_queue_depth", "gauge", "Queries waiting for a PostgreSQL connection.");
        sbuf_printf(b, "stampede_store_queue_depth %ld\n", s->queued);
        metric(b, "stampede_store_queries_total", "counter", "Queries answered, by outcome.");
        sbuf_printf(b, "stampede_store_queries_total{outcome=\"ok\"} %llu\n"
                       "stampede_store_queries_total{outcome=\"failed\"} %llu\n",
                    (unsigned long long)(s->queries - s->failed), (unsigned long long)s->failed);
        metric(b, "stampede_store_retries_total", "counter",
               "Queries sent again after their connection was lost before any answer.");
        sbuf_printf(b, "stampede_store_retries_total %llu\n", (unsigned long long)s->retried);
        metric(b, "stampede_store_reconnects_total", "counter", "Reconnections to PostgreSQL.");
        sbuf_printf(b, "stampede_store_reconnects_total %llu\n", (unsigned long long)s->reconnects);
    }
    msg_free(m);
    msg_t *q = msg_new(MSG_BUS_STATS_GET, sizeof(msg_t));
    if (http_call(c, http_peer(c, HTTP_PEER_BUS), q, on_bus_stats) < 0) {
        msg_free(q);
        on_bus_stats(c, msg_new(0, sizeof(msg_t)));
    }
}

/* The chain asks store, bus, run manager and series writer in turn; a
 * missing peer is skipped (its lines are left out, never invented). */
static void get_metrics(struct http_ctx *c)
{
    struct sbuf *b = xmalloc(sizeof *b);
    sbuf_init(b, 8192);
    http_set_udata(c, b, sbuf_free);
    http_front_metrics(c, b);
    msg_t *q = msg_new(MSG_STORE_STATS_GET, sizeof(msg_t));
    if (http_call(c, http_peer(c, HTTP_PEER_STORE), q, on_store_stats) < 0) {
        msg_free(q);
        on_store_stats(c, msg_new(0, sizeof(msg_t)));
    }
}

static void get_openapi(struct http_ctx *c)
{
    http_reply(c, 200, stampede_openapi_json, strlen(stampede_openapi_json));
}

void api_meta_register(struct router *r)
{
    http_route(r, HTTP_GET, "/metrics", get_metrics, 0);
    http_route(r, HTTP_GET, "/v1/openapi.json", get_openapi, 0);
}
