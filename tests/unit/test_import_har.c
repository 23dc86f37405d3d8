/* test_import_har: HAR recordings as Chrome and Firefox save them — steps in
 * order, the first origin as target, other origins by url, headers cleaned,
 * bodies from postData, the host filter, the 64-step limit, unique names —
 * and malformed documents, each refused with the path of the field at fault.
 * Documents are written with ' for " (dq) to keep them readable. */
#include "check_main.h"
#include "import_har.h"
#include "script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ' -> " (a JSON string that needs a quote uses \' which becomes \") */
static char *dq(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

struct step_want {
    const char *name, *method;
    const char *path;            /* or NULL when url is given */
    const char *url;
    const char *const *headers;  /* name, value, ..., NULL; NULL = none */
    const char *body;            /* NULL = none */
};

#define HDRS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *str_member(yajl_val obj, const char *key)
{
    yajl_val v = json_get(obj, key);
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

#define EQ_OR_NULL(a, b) ((a) == NULL ? (b) == NULL : (b) != NULL && strcmp((a), (b)) == 0)

static int has_note(const struct import_result *r, const char *frag)
{
    for (size_t i = 0; i < r->nnotes; i++)
        if (strstr(r->notes[i], frag))
            return 1;
    return 0;
}

/* The definition's target and steps are exactly these, and script_parse
 * accepts it. */
static void check_steps(const struct import_result *r, const char *target,
                        const struct step_want *want, size_t n)
{
    struct json_err e = { "", "" };
    yajl_val root = json_parse(r->definition, r->definition_len, JSON_MAX_DEPTH, &e);
    ck_assert_msg(root != NULL, "not JSON: %s", e.message);
    ck_assert_str_eq(str_member(root, "target"), target);
    yajl_val steps = json_get(root, "steps");
    ck_assert_msg(YAJL_IS_ARRAY(steps) && steps->u.array.len == n, "%zu steps, want %zu\n%s",
                  YAJL_IS_ARRAY(steps) ? steps->u.array.len : 0, n, r->definition);
    for (size_t i = 0; i < n; i++) {
        yajl_val st = steps->u.array.values[i];
        const struct step_want *w = &want[i];
        ck_assert_msg(EQ_OR_NULL(w->name, str_member(st, "name")), "steps[%zu].name %s, want %s",
                      i, str_member(st, "name"), w->name);
        ck_assert_msg(EQ_OR_NULL(w->method, str_member(st, "method")), "steps[%zu].method", i);
        ck_assert_msg(EQ_OR_NULL(w->path, str_member(st, "path")), "steps[%zu].path %s, want %s",
                      i, str_member(st, "path"), w->path);
        ck_assert_msg(EQ_OR_NULL(w->url, str_member(st, "url")), "steps[%zu].url %s, want %s", i,
                      str_member(st, "url"), w->url);
        ck_assert_msg(EQ_OR_NULL(w->body, str_member(st, "body")), "steps[%zu].body [%s], want [%s]",
                      i, str_member(st, "body"), w->body);
        size_t nh = 0;
        while (w->headers && w->headers[2 * nh])
            nh++;
        yajl_val hs = json_get(st, "headers");
        size_t got = YAJL_IS_OBJECT(hs) ? hs->u.object.len : 0;
        ck_assert_msg(got == nh, "steps[%zu]: %zu headers, want %zu\n%s", i, got, nh,
                      r->definition);
        for (size_t k = 0; k < nh; k++) {
            ck_assert_str_eq(hs->u.object.keys[k], w->headers[2 * k]);
            ck_assert_str_eq(hs->u.object.values[k]->u.string, w->headers[2 * k + 1]);
        }
    }
    yajl_tree_free(root);
    struct script *s = NULL;
    ck_assert_msg(script_parse(r->definition, r->definition_len, &s, &e) == 0,
                  "script_parse: %s\n%s", e.message, r->definition);
    ck_assert_int_eq(s->nsteps, (int)n);
    script_free(s);
}

static void import_ok(const char *doc, const char *host, struct import_result *r)
{
    char *d = dq(doc);
    struct json_err e = { "", "" };
    int rc = import_har(d, strlen(d), host, 0, r, &e);
    ck_assert_msg(rc == 0, "rejected [%s] %s", e.field, e.message);
    free(d);
}

/* Import must fail with exactly this field and a message that starts with
 * it and contains frag. */
static void expect_err_at(int line, const char *doc, const char *host, const char *field,
                          const char *frag)
{
    char *d = dq(doc);
    struct json_err e = { "", "" };
    struct import_result r;
    memset(&r, 0xab, sizeof r);
    int rc = import_har(d, strlen(d), host, 0, &r, &e);
    ck_assert_msg(rc == -1, "line %d: accepted %s", line, d);
    ck_assert_msg(r.definition == NULL && r.nnotes == 0, "line %d: *out not zeroed", line);
    ck_assert_msg(strcmp(e.field, field) == 0, "line %d: field '%s', want '%s' (%s)", line,
                  e.field, field, e.message);
    ck_assert_msg(strstr(e.message, frag) != NULL, "line %d: message '%s' lacks '%s'", line,
                  e.message, frag);
    if (*field && strncmp(e.message, "duplicate key", 13) != 0)
        ck_assert_msg(strncmp(e.message, field, strlen(field)) == 0,
                      "line %d: message '%s' does not start with the path", line, e.message);
    free(d);
}
#define EXPECT_ERR(doc, host, field, frag) expect_err_at(__LINE__, (doc), (host), (field), (frag))

/* A Chrome recording of a shop: an HTTP/2 page load with pseudo-headers
 * and cookies, an inline image (data:), a script from a CDN over HTTP/1.1,
 * a JSON POST, a form login recorded as params, a fetch, and a WebSocket. */
static const char SHOP_HAR[] =
    "{'log':{'version':'1.2','creator':{'name':'WebInspector','version':'537.36'},"
    "'pages':[{'startedDateTime':'2024-05-01T10:00:00.000Z','id':'page_1','title':'Shop',"
    "'pageTimings':{'onLoad':812}}],"
    "'entries':["
    "{'startedDateTime':'2024-05-01T10:00:00.100Z','time':120,'pageref':'page_1',"
    " 'request':{'method':'GET','url':'https://shop.example.com/','httpVersion':'http/2.0',"
    "  'headers':[{'name':':authority','value':'shop.example.com'},{'name':':method','value':'GET'},"
    "   {'name':':path','value':'/'},{'name':':scheme','value':'https'},"
    "   {'name':'accept','value':'text/html'},{'name':'accept-encoding','value':'gzip, deflate, br, zstd'},"
    "   {'name':'cookie','value':'sid=s1; theme=dark'},{'name':'user-agent','value':'Mozilla/5.0'}],"
    "  'queryString':[],'cookies':[{'name':'sid','value':'s1'},{'name':'theme','value':'dark'}],"
    "  'headersSize':-1,'bodySize':0},"
    " 'response':{'status':200,'statusText':'','httpVersion':'http/2.0','headers':[],'cookies':[],"
    "  'content':{'size':10,'mimeType':'text/html'},'redirectURL':'','headersSize':-1,'bodySize':-1},"
    " 'cache':{},'timings':{'send':0,'wait':100,'receive':20}},"
    "{'startedDateTime':'2024-05-01T10:00:00.300Z','time':0,'request':{'method':'GET',"
    " 'url':'data:image/png;base64,iVBORw0KGgo=','httpVersion':'','headers':[],'queryString':[],"
    " 'cookies':[],'headersSize':-1,'bodySize':0},'response':{'status':200}},"
    "{'startedDateTime':'2024-05-01T10:00:00.400Z','time':50,'request':{'method':'GET',"
    " 'url':'https://cdn.example.net/static/app.js?v=3','httpVersion':'http/1.1',"
    " 'headers':[{'name':'Host','value':'cdn.example.net'},{'name':'Connection','value':'keep-alive'},"
    "  {'name':'Accept','value':'*/*'}],'queryString':[{'name':'v','value':'3'}],'cookies':[],"
    " 'headersSize':300,'bodySize':0},'response':{'status':200}},"
    "{'startedDateTime':'2024-05-01T10:00:01.000Z','time':80,'request':{'method':'POST',"
    " 'url':'https://shop.example.com/api/cart/items','httpVersion':'http/2.0',"
    " 'headers':[{'name':':authority','value':'shop.example.com'},"
    "  {'name':'content-type','value':'application/json'},{'name':'content-length','value':'22'},"
    "  {'name':'origin','value':'https://shop.example.com'}],"
    " 'queryString':[],'cookies':[{'name':'sid','value':'s1'}],'headersSize':-1,'bodySize':22,"
    " 'postData':{'mimeType':'application/json','text':'{\\'sku\\':\\'A-1\\',\\'qty\\':2}'}},"
    " 'response':{'status':201}},"
    "{'startedDateTime':'2024-05-01T10:00:02.000Z','time':30,'request':{'method':'POST',"
    " 'url':'https://shop.example.com/api/login','httpVersion':'http/1.1',"
    " 'headers':[{'name':'Host','value':'shop.example.com'}],'queryString':[],'cookies':[],"
    " 'headersSize':-1,'bodySize':20,'postData':{'mimeType':'application/x-www-form-urlencoded',"
    "  'params':[{'name':'user','value':'ann lee'},{'name':'pw','value':'p&ss'}]}},"
    " 'response':{'status':200}},"
    "{'startedDateTime':'2024-05-01T10:00:03.000Z','time':30,'request':{'method':'get',"
    " 'url':'https://SHOP.example.com:443/api/cart/items?view=full#top','httpVersion':'http/2.0',"
    " 'headers':[],'queryString':[],'cookies':[],'headersSize':-1,'bodySize':0},"
    " 'response':{'status':200}},"
    "{'startedDateTime':'2024-05-01T10:00:03.500Z','time':30,'request':{'method':'GET',"
    " 'url':'wss://shop.example.com/live','httpVersion':'http/1.1','headers':[],'queryString':[],"
    " 'cookies':[],'headersSize':-1,'bodySize':0},'response':{'status':101}}"
    "]}}";

START_TEST(chrome_recording_all_hosts)
{
    struct import_result r;
    import_ok(SHOP_HAR, NULL, &r);
    const struct step_want want[] = {
        { "request", "GET", "/", NULL,
          HDRS("accept", "text/html", "accept-encoding", "gzip, deflate, br, zstd",
               "cookie", "sid=s1; theme=dark", "user-agent", "Mozilla/5.0"), NULL },
        { "get_static_app_js", "GET", NULL, "https://cdn.example.net/static/app.js?v=3",
          HDRS("Accept", "*/*"), NULL },
        { "post_api_cart_items", "POST", "/api/cart/items", NULL,
          HDRS("content-type", "application/json", "origin", "https://shop.example.com",
               "Cookie", "sid=s1"),
          "{\"sku\":\"A-1\",\"qty\":2}" },
        { "post_api_login", "POST", "/api/login", NULL,
          HDRS("Content-Type", "application/x-www-form-urlencoded"), "user=ann%20lee&pw=p%26ss" },
        /* same origin in another spelling: host case and the default port */
        { "get_api_cart_items", "GET", "/api/cart/items?view=full", NULL, NULL, NULL },
    };
    check_steps(&r, "https://shop.example.com", want, sizeof want / sizeof want[0]);
    ck_assert(has_note(&r, "pseudo-headers"));
    ck_assert(has_note(&r, "dropped the Host header"));
    ck_assert(has_note(&r, "dropped the Connection header"));
    ck_assert(has_note(&r, "dropped the Content-Length header"));
    ck_assert(has_note(&r, "skipped 2 entries that are not http(s)"));
    ck_assert(has_note(&r, "does not decompress"));
    ck_assert(has_note(&r, "rebuilt from postData.params"));
    ck_assert(has_note(&r, "request.cookies"));
    import_result_deinit(&r);
}
END_TEST

START_TEST(host_filter)
{
    struct import_result r;
    import_ok(SHOP_HAR, "cdn.example.net", &r);
    const struct step_want cdn[] = {
        { "get_static_app_js", "GET", "/static/app.js?v=3", NULL, HDRS("Accept", "*/*"), NULL },
    };
    check_steps(&r, "https://cdn.example.net", cdn, 1);
    ck_assert(has_note(&r, "left out 4 requests to other hosts than 'cdn.example.net'"));
    import_result_deinit(&r);

    /* any case; a host:port form matches the URL as written */
    import_ok(SHOP_HAR, "Shop.Example.COM", &r);
    struct json_err e;
    struct script *s = NULL;
    ck_assert_int_eq(script_parse(r.definition, r.definition_len, &s, &e), 0);
    ck_assert_int_eq(s->nsteps, 4);
    ck_assert_int_eq(s->norigins, 1);
    script_free(s);
    ck_assert(has_note(&r, "left out 1 request to other hosts"));
    import_result_deinit(&r);
    import_ok(SHOP_HAR, "shop.example.com:443", &r);
    ck_assert_int_eq(script_parse(r.definition, r.definition_len, &s, &e), 0);
    ck_assert_int_eq(s->nsteps, 1);
    ck_assert_str_eq(s->steps[0].target, "/api/cart/items?view=full");
    script_free(s);
    import_result_deinit(&r);

    EXPECT_ERR(SHOP_HAR, "nope.example.com", "log.entries",
               "no request has the host 'nope.example.com' (hosts in the file: "
               "shop.example.com, cdn.example.net)");
}
END_TEST

#define ENTRY(method, url) \
    "{'request':{'method':'" method "','url':'" url "','headers':[]},'response':{}}"

START_TEST(unique_step_names)
{
    struct import_result r;
    import_ok("{'log':{'entries':[" ENTRY("GET", "http://h/api/items") ","
              ENTRY("GET", "http://h/api/items?page=2") "," ENTRY("GET", "http://h/api/items_2") ","
              ENTRY("GET", "http://h/api/items") "," ENTRY("DELETE", "http://h/api/items") ","
              ENTRY("GET", "http://h/") "," ENTRY("GET", "http://h/?x=1") "]}}",
              NULL, &r);
    const struct step_want want[] = {
        { "get_api_items", "GET", "/api/items", NULL, NULL, NULL },
        { "get_api_items_2", "GET", "/api/items?page=2", NULL, NULL, NULL },
        { "get_api_items_2_2", "GET", "/api/items_2", NULL, NULL, NULL },
        { "get_api_items_3", "GET", "/api/items", NULL, NULL, NULL },
        { "delete_api_items", "DELETE", "/api/items", NULL, NULL, NULL },
        { "request", "GET", "/", NULL, NULL, NULL },
        { "request_2", "GET", "/?x=1", NULL, NULL, NULL },
    };
    check_steps(&r, "http://h", want, sizeof want / sizeof want[0]);
    ck_assert_uint_eq(r.nnotes, 0);
    import_result_deinit(&r);
}
END_TEST

START_TEST(at_most_64_steps)
{
    size_t cap = 70 * 120 + 64;
    char *doc = malloc(cap);
    size_t n = (size_t)snprintf(doc, cap, "{'log':{'entries':[");
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(doc + n, cap - n, "%s" ENTRY("GET", "http://h/page/%d"),
                              i ? "," : "", i);
    snprintf(doc + n, cap - n, "]}}");
    struct import_result r;
    import_ok(doc, NULL, &r);
    struct json_err e;
    struct script *s = NULL;
    ck_assert_int_eq(script_parse(r.definition, r.definition_len, &s, &e), 0);
    ck_assert_int_eq(s->nsteps, 64);
    ck_assert_str_eq(s->steps[0].target, "/page/0");
    ck_assert_str_eq(s->steps[63].target, "/page/63");
    ck_assert_str_eq(s->steps[63].name, "get_page_63");
    script_free(s);
    ck_assert(has_note(&r, "kept the first 64 requests and left out 6 more"));
    import_result_deinit(&r);
    free(doc);
}
END_TEST

START_TEST(firefox_recording_http1)
{
    /* Firefox: HTTP/1.1 headers with Host and Connection, the cookies
     * listed but no Cookie header, a body with its mimeType only, TE */
    struct import_result r;
    import_ok("{'log':{'version':'1.2','creator':{'name':'Firefox','version':'125.0'},'entries':["
              "{'request':{'bodySize':9,'method':'PUT','url':'http://127.0.0.1:8080/api/v1/profile',"
              " 'httpVersion':'HTTP/1.1','headers':[{'name':'Host','value':'127.0.0.1:8080'},"
              "  {'name':'User-Agent','value':'Mozilla/5.0 (X11; rv:125.0) Firefox/125.0'},"
              "  {'name':'Accept','value':'*/*'},{'name':'Connection','value':'keep-alive'},"
              "  {'name':'TE','value':'trailers'},{'name':'X-Trace','value':'a'},"
              "  {'name':'X-Trace','value':'b'}],"
              " 'cookies':[{'name':'sid','value':'f00'},{'name':'lang','value':'de'}],"
              " 'queryString':[],'headersSize':410,"
              " 'postData':{'mimeType':'text/plain;charset=UTF-8','params':[],'text':'name=Jörg'}},"
              " 'response':{'status':204},'timings':{}}]}}",
              NULL, &r);
    const struct step_want want[] = {
        { "put_api_v1_profile", "PUT", "/api/v1/profile", NULL,
          HDRS("User-Agent", "Mozilla/5.0 (X11; rv:125.0) Firefox/125.0", "Accept", "*/*",
               "X-Trace", "a, b", "Cookie", "sid=f00; lang=de",
               "Content-Type", "text/plain;charset=UTF-8"),
          "name=J\xc3\xb6rg" },
    };
    check_steps(&r, "http://127.0.0.1:8080", want, 1);
    ck_assert(has_note(&r, "dropped the TE header"));
    ck_assert(has_note(&r, "joined the repeated X-Trace headers"));
    import_result_deinit(&r);
}
END_TEST

START_TEST(unsupported_methods_are_skipped)
{
    struct import_result r;
    import_ok("{'log':{'entries':[" ENTRY("CONNECT", "http://h/") "," ENTRY("OPTIONS", "http://h/x")
              "," ENTRY("PROPFIND", "http://h/dav") "]}}", NULL, &r);
    const struct step_want want[] = { { "options_x", "OPTIONS", "/x", NULL, NULL, NULL } };
    check_steps(&r, "http://h", want, 1);
    ck_assert(has_note(&r, "skipped CONNECT requests"));
    ck_assert(has_note(&r, "skipped PROPFIND requests"));
    import_result_deinit(&r);
}
END_TEST

START_TEST(recorded_headers_are_bounded)
{
    char *doc = malloc(300 * 40 + 200);
    strcpy(doc, "{'log':{'entries':[{'request':{'method':'GET','url':'http://h/','headers':[");
    for (int i = 0; i < 257; i++)
        sprintf(doc + strlen(doc), "%s{'name':'X-Same','value':'%d'}", i ? "," : "", i);
    strcat(doc, "]}}]}}");
    EXPECT_ERR(doc, NULL, "log.entries[0].request.headers", "more than 256 headers");
    /* 256 of one name are joined into one header */
    char *cut = strstr(doc, ",{'name':'X-Same','value':'256'}");
    ck_assert_ptr_nonnull(cut);
    strcpy(cut, "]}}]}}");
    struct import_result r;
    import_ok(doc, NULL, &r);
    struct json_err e;
    struct script *s = NULL;
    ck_assert_int_eq(script_parse(r.definition, r.definition_len, &s, &e), 0);
    ck_assert_int_eq(s->steps[0].nheaders, 1);
    ck_assert_str_eq(s->steps[0].headers[0].name, "X-Same");
    ck_assert_uint_eq(strlen(s->steps[0].headers[0].value),
                      10 * 1 + 90 * 2 + 156 * 3 + 255 * 2); /* digits and ", " */
    script_free(s);
    import_result_deinit(&r);
    free(doc);
}
END_TEST

START_TEST(tree_form_prefixes_field_paths)
{
    struct json_err e = { "", "" };
    char *d = dq("{'har':{'log':{'entries':[" ENTRY("GET", "http://h/a") ","
                 ENTRY("GET", "http://h:0/b") "]}}}");
    yajl_val root = json_parse(d, strlen(d), JSON_MAX_DEPTH, &e);
    ck_assert_ptr_nonnull(root);
    struct import_result r;
    ck_assert_int_eq(import_har_tree(json_get(root, "har"), "har", NULL, 0, &r, &e), -1);
    ck_assert_str_eq(e.field, "har.log.entries[1].request.url");
    ck_assert_ptr_nonnull(strstr(e.message, "har.log.entries[1].request.url: URL 'http://h:0/b'"));
    ck_assert_ptr_nonnull(strstr(e.message, "port must be a number from 1 to 65535"));
    ck_assert_int_eq(import_har_tree(json_get(root, "nope"), "har", NULL, 0, &r, &e), -1);
    ck_assert_str_eq(e.field, "har");
    yajl_tree_free(root);
    free(d);
    /* pretty output for people */
    d = dq("{'log':{'entries':[" ENTRY("GET", "http://h/a") "]}}");
    ck_assert_int_eq(import_har(d, strlen(d), NULL, IMPORT_PRETTY, &r, &e), 0);
    ck_assert_ptr_nonnull(strstr(r.definition, "\n  \"steps\": ["));
    import_result_deinit(&r);
    free(d);
}
END_TEST

START_TEST(not_a_har_document)
{
    EXPECT_ERR("{'log':", NULL, "", "invalid JSON");
    EXPECT_ERR("", NULL, "", "empty body");
    EXPECT_ERR("[1,2]", NULL, "", "expected a HAR document (an object with \"log\"), got an array");
    EXPECT_ERR("{'version':'1.2'}", NULL, "log", "log is required");
    EXPECT_ERR("{'log':[]}", NULL, "log", "log: expected an object, got an array");
    EXPECT_ERR("{'log':{}}", NULL, "log.entries", "log.entries is required");
    EXPECT_ERR("{'log':{'entries':{}}}", NULL, "log.entries", "expected an array, got an object");
    EXPECT_ERR("{'log':{'entries':[]}}", NULL, "log.entries", "no http(s) request to import");
}
END_TEST

START_TEST(bad_entries)
{
    EXPECT_ERR("{'log':{'entries':[" ENTRY("GET", "data:,x") "]}}", NULL, "log.entries",
               "no http(s) request to import");
    EXPECT_ERR("{'log':{'entries':[" ENTRY("GET", "http://h/") ",5]}}", NULL, "log.entries[1]",
               "expected an object, got an integer");
    EXPECT_ERR("{'log':{'entries':[{'response':{}}]}}", NULL, "log.entries[0].request",
               "log.entries[0].request is required");
    EXPECT_ERR("{'log':{'entries':[{'request':'GET /'}]}}", NULL, "log.entries[0].request",
               "expected an object, got a string");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET'}}]}}", NULL,
               "log.entries[0].request.url", "is required");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':7}}]}}", NULL,
               "log.entries[0].request.url", "expected a string, got an integer");
    EXPECT_ERR("{'log':{'entries':[{'request':{'url':'http://h/'}}]}}", NULL,
               "log.entries[0].request.method", "is required");
    EXPECT_ERR("{'log':{'entries':[" ENTRY("GET", "http://h/") "," ENTRY("GET", "http://h:x/") "]}}",
               NULL, "log.entries[1].request.url", "port must be a number");
    EXPECT_ERR("{'log':{'entries':[" ENTRY("GET", "https://u:p@h/") "]}}", NULL,
               "log.entries[0].request.url", "user info");
}
END_TEST

START_TEST(bad_headers_cookies_and_bodies)
{
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':'http://h/','headers':{}}}]}}",
               NULL, "log.entries[0].request.headers", "expected an array, got an object");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':'http://h/',"
               "'headers':[{'name':'A','value':'1'},'B: 2']}}]}}",
               NULL, "log.entries[0].request.headers[1]", "expected an object with name and value");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':'http://h/',"
               "'headers':[{'name':'A'}]}}]}}",
               NULL, "log.entries[0].request.headers[0].value", "is required");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':'http://h/',"
               "'headers':[{'name':'Bad Name','value':'1'}]}}]}}",
               NULL, "log.entries[0].request.headers[0]", "header name 'Bad Name' is not valid");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':'http://h/',"
               "'headers':[{'name':'X','value':'a\\nb'}]}}]}}",
               NULL, "log.entries[0].request.headers[0]", "the value contains a line break");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':'http://h/',"
               "'cookies':[{'name':'a'}]}}]}}",
               NULL, "log.entries[0].request.cookies[0].value", "is required");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'POST','url':'http://h/',"
               "'postData':{'mimeType':'text/plain','text':5}}}]}}",
               NULL, "log.entries[0].request.postData.text", "expected a string");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'POST','url':'http://h/',"
               "'postData':'a=1'}}]}}",
               NULL, "log.entries[0].request.postData", "expected an object, got a string");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'POST','url':'http://h/',"
               "'postData':{'mimeType':'multipart/form-data','params':[{'name':'f',"
               "'fileName':'cat.png','contentType':'image/png'}]}}}]}}",
               NULL, "log.entries[0].request.postData.params[0]", "a file upload (cat.png)");
    EXPECT_ERR("{'log':{'entries':[{'request':{'method':'GET','url':'http://h/',"
               "'headers':[{'name':'A','value':'1'},{'name':'A','value':'2'}],'headers':[]}}]}}",
               NULL, "headers", "duplicate key");
}
END_TEST

static Suite *import_har_suite(void)
{
    Suite *s = suite_create("import_har");
    TCase *tc = tcase_create("recordings");
    tcase_add_test(tc, chrome_recording_all_hosts);
    tcase_add_test(tc, host_filter);
    tcase_add_test(tc, unique_step_names);
    tcase_add_test(tc, at_most_64_steps);
    tcase_add_test(tc, firefox_recording_http1);
    tcase_add_test(tc, unsupported_methods_are_skipped);
    tcase_add_test(tc, recorded_headers_are_bounded);
    tcase_add_test(tc, tree_form_prefixes_field_paths);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, not_a_har_document);
    tcase_add_test(tc, bad_entries);
    tcase_add_test(tc, bad_headers_cookies_and_bodies);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(import_har_suite)
