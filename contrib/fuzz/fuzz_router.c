/* fuzz_router: the request path against the REST API's route patterns
 * (src/router.c), before any handler runs. Input: one byte of method, then
 * the path. Oracles: a match has the pattern's segments and parameters,
 * each a non-empty segment of the path (no '/') that fits its buffer; a
 * path that matches only under other methods reports them. */
#include "fuzz.h"

#include "router.h"

/* The patterns actors/api_*.c register (GET 0, POST 1, PATCH 2, DELETE 3). */
static const struct {
    unsigned methods;
    const char *pattern;
} api[] = {
    { 1, "/" }, { 1, "/healthz" }, { 1, "/metrics" }, { 1, "/ui/:a" }, { 1, "/ui/:a/:b" },
    { 1, "/ui/:a/:b/:c" }, { 2, "/v1/import/curl" }, { 2, "/v1/import/har" }, { 1, "/v1/openapi.json" },
    { 3, "/v1/projects" }, { 13, "/v1/projects/:id" }, { 3, "/v1/projects/:id/scenarios" }, { 3, "/v1/runs" },
    { 9, "/v1/runs/:id" }, { 1, "/v1/runs/:id/events" }, { 1, "/v1/runs/:id/export.csv" },
    { 1, "/v1/runs/:id/export.junit.xml" }, { 2, "/v1/runs/:id/load" }, { 2, "/v1/runs/:id/pause" },
    { 2, "/v1/runs/:id/restart" }, { 2, "/v1/runs/:id/resume" }, { 2, "/v1/runs/:id/scripts/:script_id/stop" },
    { 1, "/v1/runs/:id/series" }, { 2, "/v1/runs/:id/stop" }, { 1, "/v1/runs/:id/summary" },
    { 1, "/v1/runs/compare" }, { 3, "/v1/scenarios" }, { 13, "/v1/scenarios/:id" },
    { 3, "/v1/scenarios/:id/scripts" }, { 3, "/v1/schedules" }, { 13, "/v1/schedules/:id" },
    { 1, "/v1/schedules/:id/fires" }, { 1, "/v1/schedules/:id/next" }, { 3, "/v1/scripts" },
    { 13, "/v1/scripts/:id" }, { 1, "/v1/scripts/:id/versions" }, { 1, "/v1/scripts/:id/versions/:version" },
};
#define NAPI (sizeof api / sizeof api[0])

static struct router *r;

/* Segments of s (collapsing "//"), as the router counts them. */
static int segments(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        if (*p != '/' && (p == s || p[-1] == '/'))
            n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!r) {
        r = router_new();
        for (size_t i = 0; i < NAPI; i++)
            router_add(r, api[i].methods, api[i].pattern, (void *)&api[i], 0);
        FUZZ_CHECK(router_count(r) == NAPI && router_route(r, NAPI) == NULL);
    }
    if (size < 1)
        return 0;
    unsigned method = data[0] % 5; /* 4: a method no route takes */
    char *path = fuzz_cstr(data + 1, size - 1);
    struct route_match m;
    memset(&m, 0xa5, sizeof m);
    int rc = router_match(r, method, path, &m);
    FUZZ_CHECK(rc == ROUTER_OK || rc == ROUTER_NOT_FOUND || rc == ROUTER_METHOD);
    if (rc == ROUTER_OK) {
        FUZZ_CHECK(m.route && (m.route->methods & (1u << method)));
        FUZZ_CHECK(segments(path) == segments(m.route->pattern));
        FUZZ_CHECK(m.nparams >= 0 && m.nparams <= ROUTER_MAX_PARAMS);
        for (int i = 0; i < m.nparams; i++) {
            FUZZ_CHECK(memchr(m.params[i].value, '\0', sizeof m.params[i].value));
            FUZZ_CHECK(m.params[i].value[0] && !strchr(m.params[i].value, '/'));
            FUZZ_CHECK(strstr(path, m.params[i].value) != NULL);
            FUZZ_CHECK(route_param(&m, m.params[i].name) != NULL);
        }
    } else if (rc == ROUTER_METHOD) {
        FUZZ_CHECK(m.allowed && !(m.allowed & (1u << method)));
    } else {
        FUZZ_CHECK(m.allowed == 0 && m.route == NULL);
    }
    free(path);
    return 0;
}
