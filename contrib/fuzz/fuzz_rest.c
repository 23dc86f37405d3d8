/* fuzz_rest: the checks the REST handlers make on request bodies, run
 * without a server. The handlers themselves (actors/api_*.c) are static
 * functions of an HTTP context, so this target runs, on the parsed body,
 * the same calls in the same order: json_parse as http_front does, the
 * key check of api_body_object, the getters, and the module each body
 * feeds (script_from_json, the overrides merge and script_parse a run
 * start does, duration_parse for load changes, tz_load, cron_parse,
 * cron_next and tz_parse_iso for schedules, import_curl and
 * import_har_tree for imports). api_check_text and api_get_uuid are
 * re-stated here (they live in actors/api_common.c, which needs the
 * server).
 *
 * Input: a first line naming the route ("POST /v1/scripts"), then the
 * body. Oracles: no crash or leak; a definition the API accepts and stores
 * is accepted again when read back (the text json_gen_value wrote); what
 * the imports return holds fuzz_import.h. */
#include "fuzz_import.h"

#include "cron.h"
#include "duration.h"
#include "import_curl.h"
#include "import_har.h"
#include "script.h"
#include "tz.h"
#include "uuid.h"

#include <math.h>

#define NOW 1780000000 /* a fixed "now" (2026-05-28), so runs replay */

/* api_body_object: an object with only the allowed keys, or NULL. */
static yajl_val body_object(yajl_val body, const char *const *allowed)
{
    struct json_err e = { "", "" };
    if (!YAJL_IS_OBJECT(body) || json_check_keys(body, "", allowed, &e) < 0)
        return NULL;
    return body;
}

/* api_check_text, as actors/api_common.c has it. */
static int check_text(const char *s, size_t max, int allow_empty)
{
    size_t n = strlen(s);
    if ((!allow_empty && n == 0) || n > max)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 && ch != '\t' && !(allow_empty && (ch == '\n' || ch == '\r')))
            return -1;
    }
    return 0;
}

/* api_get_uuid. */
static int get_uuid(yajl_val obj, const char *key, int required, const char **out, struct json_err *e)
{
    int rc = json_get_string(obj, "", key, required, out, e);
    if (rc != 0)
        return rc;
    return uuid_valid(*out) ? 0 : -1;
}

static char *gen_text(yajl_val v)
{
    yajl_gen g = json_gen_new();
    json_gen_value(g, v);
    return json_gen_finish(g, NULL);
}

/* POST /v1/scripts, PATCH /v1/scripts/:id (api_scripts.c read_fields and
 * checked_definition). */
static void scripts(yajl_val root, int patch)
{
    static const char *const create_keys[] = { "scenario_id", "name", "enabled", "definition", NULL };
    static const char *const patch_keys[] = { "name", "enabled", "definition", NULL };
    yajl_val body = body_object(root, patch ? patch_keys : create_keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *scenario_id = NULL, *name = NULL;
    int enabled = 0;
    if ((!patch && get_uuid(body, "scenario_id", 1, &scenario_id, &e) < 0) ||
        json_get_string(body, "", "name", !patch, &name, &e) < 0 ||
        (name && check_text(name, 200, 0) < 0) || json_get_bool(body, "", "enabled", 0, &enabled, &e) < 0)
        return;
    yajl_val def = json_get(body, "definition");
    if (!def || !YAJL_IS_OBJECT(def))
        return;
    struct script *sc = NULL;
    if (script_from_json(def, &sc, &e) < 0) {
        FUZZ_CHECK(sc == NULL && e.message[0] != '\0');
        return;
    }
    script_free(sc);
    /* stored as this text; a run reads it back with script_parse */
    char *text = gen_text(def);
    struct json_err e2 = { "", "" };
    if (script_parse(text, strlen(text), &sc, &e2) < 0)
        fprintf(stderr, "stored definition refused when read back: %s\n%s\n", e2.message, text);
    FUZZ_CHECK(sc != NULL);
    script_free(sc);
    free(text);
}

/* The definition a run of the demo "browse" script starts from. */
static const char base_def[] =
    "{\"target\":\"http://127.0.0.1:8080\",\"steps\":[{\"name\":\"home\",\"path\":\"/\"},"
    "{\"name\":\"product\",\"path\":\"/delay?ms=5\"}],\"load\":{\"executor\":\"constant-vus\","
    "\"vus\":10,\"duration\":\"30s\"},\"thresholds\":{\"http_req_duration\":[\"p(95)<100\"]}}";

/* POST /v1/runs (api_runs.c create_run), then what run_create.c does with
 * the overrides when the run starts: merge, then script_parse. */
static void runs(yajl_val root, int unused)
{
    static const char *const keys[] = { "script_id", "scenario_id", "percent", "overrides", NULL };
    yajl_val body = body_object(root, keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *script_id = NULL, *scenario_id = NULL;
    double percent = 0;
    if (get_uuid(body, "script_id", 0, &script_id, &e) < 0 ||
        get_uuid(body, "scenario_id", 0, &scenario_id, &e) < 0 ||
        json_get_number(body, "", "percent", 0, 0, SCRIPT_MAX_PERCENT, &percent, &e) < 0)
        return;
    yajl_val ov = json_get(body, "overrides");
    if (!ov || !YAJL_IS_OBJECT(ov))
        return;
    char *overrides = gen_text(ov);
    struct json_err pe = { "", "" };
    yajl_val base = json_parse(base_def, sizeof base_def - 1, JSON_MAX_DEPTH, &pe);
    yajl_val patch = json_parse(overrides, strlen(overrides), JSON_MAX_DEPTH, &pe);
    FUZZ_CHECK(base != NULL && patch != NULL);
    yajl_gen g = json_gen_new();
    json_gen_merged(g, base, patch);
    size_t n = 0;
    char *def = json_gen_finish(g, &n);
    /* what the merge writes is JSON, whether or not it is a script */
    yajl_val merged = json_parse(def, n, JSON_MAX_DEPTH, &pe);
    if (!merged)
        fprintf(stderr, "merged definition is not JSON: %s\n%s\n", pe.message, def);
    FUZZ_CHECK(merged != NULL);
    yajl_tree_free(merged);
    struct script *sc = NULL;
    if (script_parse(def, n, &sc, &pe) == 0)
        script_free(sc);
    else
        FUZZ_CHECK(pe.message[0] != '\0');
    free(def);
    yajl_tree_free(base);
    yajl_tree_free(patch);
    free(overrides);
}

/* POST /v1/runs/:id/load (api_runs.c change_load). */
static void load(yajl_val root, int unused)
{
    static const char *const keys[] = { "percent", "rate", "vus", "over", "script_id", NULL };
    yajl_val body = body_object(root, keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    double percent = NAN, rate = NAN;
    int64_t vus = 0;
    const char *over = NULL, *script_id = NULL;
    int hp = json_get_number(body, "", "percent", 0, 0, SCRIPT_MAX_PERCENT, &percent, &e);
    int hr = hp < 0 ? -1 : json_get_number(body, "", "rate", 0, 0, SCRIPT_MAX_RATE, &rate, &e);
    int hv = hr < 0 ? -1 : json_get_int(body, "", "vus", 0, 0, SCRIPT_MAX_VUS, &vus, &e);
    if (hp < 0 || hr < 0 || hv < 0 || json_get_string(body, "", "over", 0, &over, &e) < 0 ||
        get_uuid(body, "script_id", 0, &script_id, &e) < 0)
        return;
    uint64_t ramp = 0;
    if (over && duration_parse(over, &ramp) == 0)
        FUZZ_CHECK(ramp <= 10000000000000000ull);
}

/* POST /v1/schedules, PATCH /v1/schedules/:id (api_schedules.c
 * read_fields, tz_check and compute_next). */
static void schedules(yajl_val root, int patch)
{
    static const char *const keys[] = { "name", "script_id", "scenario_id", "cron", "at", "tz", "percent",
                                        "overrides", "active", "overlap", "misfire", NULL };
    yajl_val body = body_object(root, keys);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *name = NULL, *script_id = NULL, *scenario_id = NULL, *cron = NULL, *at = NULL,
               *tzname = NULL, *overlap = NULL, *misfire = NULL;
    double percent = 0;
    int active = 0;
    if (json_get_string(body, "", "name", !patch, &name, &e) < 0 ||
        (name && check_text(name, 200, 0) < 0) || get_uuid(body, "script_id", 0, &script_id, &e) < 0 ||
        get_uuid(body, "scenario_id", 0, &scenario_id, &e) < 0 ||
        json_get_string(body, "", "cron", 0, &cron, &e) < 0 ||
        json_get_string(body, "", "at", 0, &at, &e) < 0 ||
        json_get_string(body, "", "tz", 0, &tzname, &e) < 0 ||
        json_get_number(body, "", "percent", 0, 0, SCRIPT_MAX_PERCENT, &percent, &e) < 0 ||
        json_get_bool(body, "", "active", 0, &active, &e) < 0 ||
        json_get_string(body, "", "overlap", 0, &overlap, &e) < 0 ||
        json_get_string(body, "", "misfire", 0, &misfire, &e) < 0)
        return;
    if (cron && at)
        return;
    if (tzname && (!*tzname || strlen(tzname) > 64))
        return;
    yajl_val ov = json_get(body, "overrides");
    if (ov && YAJL_IS_OBJECT(ov))
        free(gen_text(ov));

    char err[300] = "";
    struct tz_zone *z = tz_load(tzname ? tzname : "UTC", err, sizeof err);
    if (!z) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    int64_t next = -1;
    if (cron) {
        struct cron *cr = cron_parse(cron, err, sizeof err);
        if (cr) {
            next = cron_next(cr, z, NOW);
            FUZZ_CHECK(next == -1 || next > NOW);
            cron_free(cr);
        } else {
            FUZZ_CHECK(err[0] != '\0');
        }
    } else if (at) {
        if (tz_parse_iso(at, z, &next) == 0) {
            char iso[40];
            FUZZ_CHECK(cron_format_iso(next, z, iso, sizeof iso) > 0);
        }
    }
    tz_free(z);
}

/* POST /v1/import/curl (api_import.c import_curl_route). */
static void import_curl_body(yajl_val root, int unused)
{
    static const char *const allowed[] = { "command", NULL };
    yajl_val body = body_object(root, allowed);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *command = NULL;
    if (json_get_string(body, "", "command", 1, &command, &e) < 0)
        return;
    struct import_result r;
    fuzz_check_import(import_curl(command, 0, &r, &e), &r, &e);
}

/* POST /v1/import/har (api_import.c import_har_route). */
static void import_har_body(yajl_val root, int unused)
{
    static const char *const allowed[] = { "har", "host", NULL };
    yajl_val body = body_object(root, allowed);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *host = NULL;
    if (json_get_string(body, "", "host", 0, &host, &e) < 0 || (host && !*host))
        return;
    yajl_val har = json_get(body, "har");
    if (!har)
        return;
    struct import_result r;
    if (YAJL_IS_STRING(har)) {
        struct json_err pe = { "", "" };
        yajl_val tree = json_parse(har->u.string, strlen(har->u.string), JSON_MAX_DEPTH, &pe);
        if (!tree)
            return;
        fuzz_check_import(import_har_tree(tree, "har", host, 0, &r, &e), &r, &e);
        yajl_tree_free(tree);
    } else {
        fuzz_check_import(import_har_tree(har, "har", host, 0, &r, &e), &r, &e);
    }
}

static const struct {
    const char *route;
    void (*check)(yajl_val body, int patch);
    int patch;
} routes[] = {
    { "POST /v1/scripts", scripts, 0 },
    { "PATCH /v1/scripts/:id", scripts, 1 },
    { "POST /v1/runs", runs, 0 },
    { "POST /v1/runs/:id/load", load, 0 },
    { "POST /v1/schedules", schedules, 0 },
    { "PATCH /v1/schedules/:id", schedules, 1 },
    { "POST /v1/import/curl", import_curl_body, 0 },
    { "POST /v1/import/har", import_har_body, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t rlen;
    const uint8_t *body = fuzz_first_line(data, size, &rlen);
    if (!body)
        return 0;
    size_t i;
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strlen(routes[i].route) == rlen && memcmp(routes[i].route, data, rlen) == 0)
            break;
    if (i == sizeof routes / sizeof routes[0])
        return 0;
    struct json_err e = { "", "" };
    yajl_val root = json_parse((const char *)body, size - (size_t)(body - data), JSON_MAX_DEPTH, &e);
    if (!root)
        return 0;
    routes[i].check(root, routes[i].patch);
    yajl_tree_free(root);
    return 0;
}
