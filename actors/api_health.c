/* api_health: GET /healthz — the state of the server and its dependencies.
 * 200 with "ok" when PostgreSQL and Redis are both up, else 503 "degraded". */
#include "api.h"

static void get_health(struct http_ctx *c)
{
    int pg = http_dep_up(c, DEP_POSTGRES), redis = http_dep_up(c, DEP_REDIS);
    int ok = pg && redis;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "status", ok ? "ok" : "degraded");
    json_gen_kv_str(g, "postgres", pg ? "up" : "down");
    json_gen_kv_str(g, "redis", redis ? "up" : "down");
    json_gen_kv_int(g, "loops", http_loops(c));
    json_gen_kv_str(g, "version", http_version(c));
    if (!ok) {
        json_gen_cstr(g, "detail");
        yajl_gen_map_open(g);
        if (!pg)
            json_gen_kv_str(g, "postgres", http_dep_detail(c, DEP_POSTGRES));
        if (!redis)
            json_gen_kv_str(g, "redis", http_dep_detail(c, DEP_REDIS));
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    http_reply_doc(c, ok ? 200 : 503, g);
}

void api_health_register(struct router *r)
{
    http_route(r, HTTP_GET | HTTP_HEAD, "/healthz", get_health, 0);
}
