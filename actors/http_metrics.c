/* http_metrics: the front's counters — answers by route and status —
 * and /metrics in Prometheus text format. */
#include "http_front_int.h"

#include "sbuf.h"
#include "ws_gateway.h"

void http_front_count(struct http_front *hf, const struct route *rt, int status)
{
    if (status >= STATS_STATUS_MIN && status < STATS_STATUS_MIN + STATS_STATUS_SLOTS)
        hf->counts[rt ? rt->index : hf->nroutes][status - STATS_STATUS_MIN]++;
}

void http_front_metrics(const struct http_ctx *c, struct sbuf *out)
{
    const struct http_front *hf = c->hf;
    sbuf_adds(out, "# HELP stampede_http_requests_total API requests answered, by route and status.\n"
                   "# TYPE stampede_http_requests_total counter\n");
    for (size_t i = 0; i <= hf->nroutes; i++) {
        const struct route *rt = i < hf->nroutes ? router_route(hf->router, i) : NULL;
        for (int k = 0; k < STATS_STATUS_SLOTS; k++)
            if (hf->counts[i][k])
                sbuf_printf(out, "stampede_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                            rt ? rt->pattern : "unmatched", k + STATS_STATUS_MIN,
                            (unsigned long long)hf->counts[i][k]);
    }
    sbuf_printf(out, "# HELP stampede_http_pending_requests API requests waiting for another actor.\n"
                     "# TYPE stampede_http_pending_requests gauge\n"
                     "stampede_http_pending_requests %zu\n", hf->pending.len);
    sbuf_printf(out, "# HELP stampede_http_unauthorized_total /v1 requests refused for a missing or wrong token.\n"
                     "# TYPE stampede_http_unauthorized_total counter\n"
                     "stampede_http_unauthorized_total %llu\n", (unsigned long long)hf->unauthorized);
    if (hf->cfg.live) {
        struct wsgw_stats ws = ws_gateway_stats(hf->cfg.live);
        sbuf_printf(out, "# HELP stampede_live_clients WebSocket clients connected to the live gateway.\n"
                         "# TYPE stampede_live_clients gauge\nstampede_live_clients %llu\n"
                         "# HELP stampede_live_writes_total Live messages written to WebSocket clients.\n"
                         "# TYPE stampede_live_writes_total counter\nstampede_live_writes_total %llu\n"
                         "# HELP stampede_live_replaced_total Unsent frames replaced by newer ones (slow clients).\n"
                         "# TYPE stampede_live_replaced_total counter\nstampede_live_replaced_total %llu\n"
                         "# HELP stampede_live_closed_slow_total Clients closed for falling behind.\n"
                         "# TYPE stampede_live_closed_slow_total counter\nstampede_live_closed_slow_total %llu\n"
                         "# HELP stampede_live_refused_total Upgrades refused (path or token).\n"
                         "# TYPE stampede_live_refused_total counter\nstampede_live_refused_total %llu\n",
                    (unsigned long long)ws.clients, (unsigned long long)ws.writes,
                    (unsigned long long)ws.replaced, (unsigned long long)ws.closed_slow,
                    (unsigned long long)ws.refused);
    }
    sbuf_printf(out, "# HELP stampede_dependency_up 1 when the dependency is reachable.\n"
                     "# TYPE stampede_dependency_up gauge\n"
                     "stampede_dependency_up{dependency=\"postgres\"} %d\n"
                     "stampede_dependency_up{dependency=\"redis\"} %d\n", hf->pg_up, hf->redis_up);
}
