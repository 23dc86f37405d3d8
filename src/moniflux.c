/* moniflux: a MoniFlux test payload as the telemetry script it stands for
 * (docs/moniflux.md). */
#include "moniflux.h"

#include "script.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* MoniFlux's fields, and the telemetry script field each becomes (to
 * name the right one when the script refuses a value). */
static const struct {
    const char *mf, *script;
} fields[] = {
    { "destination.endpoint", "telemetry.destination.url" }, { "destination.apiKey", "telemetry.destination.api_key" },
    { "logRate", "telemetry.logs.rate" },                     { "logSize", "telemetry.logs.size" },
    { "logType", "telemetry.logs.level" },                    { "metricsRate", "telemetry.metrics.rate" },
    { "traceRate", "telemetry.traces.rate" },                 { "duration", "telemetry.duration" },
    { "testID", "telemetry.test_id" },
};

static double num_or(yajl_val p, const char *k, double dflt)
{
    yajl_val v = json_get(p, k);
    return YAJL_IS_NUMBER(v) ? YAJL_GET_DOUBLE(v) : dflt;
}

char *moniflux_definition(yajl_val p, struct json_err *e)
{
    yajl_val dst = json_get(p, "destination");
    const char *endpoint = YAJL_GET_STRING(json_get(dst, "endpoint"));
    yajl_val port = json_get(dst, "port"), key = json_get(dst, "apiKey"), lt = json_get(p, "logType");
    struct script_origin o;
    char *target = NULL, err[200];
    if (!endpoint || script_parse_url(endpoint, &o, &target, err, sizeof err) < 0)
        return json_fail(e, "destination.endpoint", "destination.endpoint: %s", endpoint ? err : "required"),
               NULL;
    /* MoniFlux gives the port apart: it replaces the endpoint's */
    char *url = xasprintf("%s://%s%s%s:%d%s", o.tls ? "https" : "http", strchr(o.host, ':') ? "[" : "", o.host,
                          strchr(o.host, ':') ? "]" : "", port ? (int)YAJL_GET_INTEGER(port) : (int)o.port,
                          strcmp(target, "/") == 0 ? "" : target);
    script_origin_deinit(&o);
    free(target);
    /* logType names a level when it is one (else the logs are info) */
    static const char *const levels[] = { "trace", "debug", "info", "warn", "error", "fatal", NULL };
    const char *level = "info", *lts = YAJL_IS_STRING(lt) ? YAJL_GET_STRING(lt) : NULL;
    for (const char *const *l = levels; lts && *l; l++)
        if (strcasecmp(*l, lts) == 0)
            level = *l;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "telemetry");
    yajl_gen_map_open(g);
    json_gen_cstr(g, "destination");
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "url", url);
    if (YAJL_IS_STRING(key) && *YAJL_GET_STRING(key))
        json_gen_kv_str(g, "api_key", YAJL_GET_STRING(key));
    yajl_gen_map_close(g);
    json_gen_kv_str(g, "format", "moniflux");
    json_gen_kv_str(g, "test_id", YAJL_GET_STRING(json_get(p, "testID")));
    char dur[32];
    snprintf(dur, sizeof dur, "%.0fs", num_or(p, "duration", 60));
    json_gen_kv_str(g, "duration", dur);
    json_gen_cstr(g, "logs");
    yajl_gen_map_open(g);
    json_gen_kv_double(g, "rate", num_or(p, "logRate", 0), 6);
    json_gen_kv_int(g, "size", (int64_t)num_or(p, "logSize", 100));
    json_gen_kv_str(g, "level", level);
    yajl_gen_map_close(g);
    json_gen_cstr(g, "metrics");
    yajl_gen_map_open(g);
    json_gen_kv_double(g, "rate", num_or(p, "metricsRate", 0), 6);
    yajl_gen_map_close(g);
    json_gen_cstr(g, "traces");
    yajl_gen_map_open(g);
    json_gen_kv_double(g, "rate", num_or(p, "traceRate", 0), 6);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    free(url);
    size_t len;
    char *def = json_gen_finish(g, &len);
    struct script *sc;
    struct json_err se = { "", "" };
    if (script_parse(def, len, &sc, &se) == 0) {
        script_free(sc);
        return def;
    }
    free(def);
    const char *field = "";
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strncmp(se.field, fields[i].script, strlen(fields[i].script)) == 0)
            field = fields[i].mf;
    if (strcmp(se.field, "telemetry") == 0)
        field = "logRate"; /* nothing to send */
    json_err_set(e, field, "%s%s%s", field, *field ? ": " : "",
                 strcmp(se.field, "telemetry") == 0 ? "give logRate, metricsRate or traceRate above 0" : se.message);
    return NULL;
}
