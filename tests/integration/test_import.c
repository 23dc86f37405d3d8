/* test_import: the import routes of the real server (POST /v1/import/curl
 * and /v1/import/har) — definitions a script parse accepts, notes, 400s
 * that name the field — and the `stampede import` command of the real
 * binary: stdout, stderr and exit codes. */
#include "check_main.h"
#include "itest.h"
#include "json.h"
#include "script.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const ERR_CODE[] = { "error", "code", NULL };
static const char *const ERR_FIELD[] = { "error", "field", NULL };
static const char *const ERR_MSG[] = { "error", "message", NULL };

static struct itest_server srv;

static void start_default(void)
{
    itest_server_start_healthy(&srv, NULL);
}

static void stop_default(void)
{
    if (srv.pid > 0)
        itest_server_stop(&srv, 10000);
}

#define JSON "Content-Type: application/json\r\n"

/* {"key": value} with value JSON-escaped by yajl; caller frees. */
static char *body1(const char *key, const char *value)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, key, value);
    yajl_gen_map_close(g);
    return json_gen_finish(g, NULL);
}

static struct itest_resp post(const char *path, const char *body, int status)
{
    struct itest_resp r;
    itest_http(srv.port, "POST", path, JSON, body, strlen(body), 0, &r);
    ck_assert_msg(r.status == status, "POST %s: status %d, want %d: %s\n  body sent: %.300s", path,
                  r.status, status, r.body ? r.body : "", body);
    return r;
}

/* A 400 "invalid" naming field, whose message contains frag. */
static void expect_invalid_at(int line, const char *path, const char *body, const char *field,
                              const char *frag)
{
    struct itest_resp r = post(path, body, 400);
    const char *code = itest_json_str(&r, ERR_CODE), *f = itest_json_str(&r, ERR_FIELD),
               *msg = itest_json_str(&r, ERR_MSG);
    ck_assert_msg(code && strcmp(code, "invalid") == 0, "line %d: code %s: %s", line, code, r.body);
    if (field)
        ck_assert_msg(f && strcmp(f, field) == 0, "line %d: field %s, want %s: %s", line,
                      f ? f : "(null)", field, r.body);
    else
        ck_assert_msg(f == NULL, "line %d: field %s, want null", line, f);
    ck_assert_msg(msg && strstr(msg, frag), "line %d: message '%s' lacks '%s'", line, msg, frag);
    itest_resp_free(&r);
}
#define EXPECT_INVALID(path, body, field, frag) \
    expect_invalid_at(__LINE__, (path), (body), (field), (frag))

/* The definition in a 200 answer, parsed as a script; caller frees. */
static struct script *definition_script(const struct itest_resp *r)
{
    yajl_val def = json_get(r->json, "definition");
    ck_assert_msg(YAJL_IS_OBJECT(def), "no definition object: %s", r->body);
    struct script *s = NULL;
    struct json_err e = { "", "" };
    ck_assert_msg(script_from_json(def, &s, &e) == 0, "definition refused: [%s] %s\n%s", e.field,
                  e.message, r->body);
    return s;
}

static int has_note(const struct itest_resp *r, const char *frag)
{
    yajl_val notes = json_get(r->json, "notes");
    ck_assert_msg(YAJL_IS_ARRAY(notes), "no notes array: %s", r->body);
    for (size_t i = 0; i < notes->u.array.len; i++)
        if (YAJL_IS_STRING(notes->u.array.values[i]) &&
            strstr(notes->u.array.values[i]->u.string, frag))
            return 1;
    return 0;
}

static const char *header_value(const struct script_step *st, const char *name)
{
    for (int i = 0; i < st->nheaders; i++)
        if (strcmp(st->headers[i].name, name) == 0)
            return st->headers[i].value;
    return NULL;
}

/* ---- /v1/import/curl ---- */

START_TEST(curl_route_returns_a_definition)
{
    char *body = body1("command",
                       "curl 'https://api.example.com/v1/orders?limit=5' \\\n"
                       "  -H 'Authorization: Bearer t0k' \\\n"
                       "  -H 'Host: api.example.com' \\\n"
                       "  --data-raw $'{\"note\":\"it\\'s\\nfine\"}' \\\n"
                       "  -H 'Content-Type: application/json' --compressed -k -m 3");
    struct itest_resp r = post("/v1/import/curl", body, 200);
    free(body);
    ck_assert_ptr_nonnull(strstr(r.headers, "Content-Type: application/json"));
    static const char *const target[] = { "definition", "target", NULL };
    ck_assert_str_eq(itest_json_str(&r, target), "https://api.example.com");
    struct script *s = definition_script(&r);
    ck_assert_int_eq(s->nsteps, 1);
    const struct script_step *st = &s->steps[0];
    ck_assert_str_eq(st->name, "post_v1_orders");
    ck_assert_str_eq(st->method, "POST");
    ck_assert_str_eq(st->target, "/v1/orders?limit=5");
    ck_assert_str_eq(s->origins[st->origin].authority, "api.example.com");
    ck_assert_int_eq(s->origins[st->origin].tls, 1);
    ck_assert_int_eq(st->nheaders, 3);
    ck_assert_str_eq(header_value(st, "Accept-Encoding"), "gzip, deflate, br");
    ck_assert_str_eq(header_value(st, "Authorization"), "Bearer t0k");
    ck_assert_str_eq(header_value(st, "Content-Type"), "application/json");
    ck_assert_uint_eq(st->body_len, strlen("{\"note\":\"it's\nfine\"}"));
    ck_assert(memcmp(st->body, "{\"note\":\"it's\nfine\"}", st->body_len) == 0);
    ck_assert_uint_eq(st->timeout_us, 3000000);
    ck_assert_int_eq(s->insecure_skip_tls_verify, 1);
    ck_assert_int_eq(s->load.executor, EXEC_CONSTANT_VUS);
    ck_assert_int_eq(s->load.vus, 1);
    script_free(s);
    ck_assert(has_note(&r, "dropped the Host header"));
    ck_assert(has_note(&r, "does not decompress"));
    itest_resp_free(&r);

    /* a plain GET: no notes, an empty array */
    body = body1("command", "curl https://example.com/");
    r = post("/v1/import/curl", body, 200);
    free(body);
    yajl_val notes = json_get(r.json, "notes");
    ck_assert(YAJL_IS_ARRAY(notes) && notes->u.array.len == 0);
    s = definition_script(&r);
    ck_assert_str_eq(s->steps[0].method, "GET");
    ck_assert_str_eq(s->steps[0].target, "/");
    script_free(s);
    itest_resp_free(&r);
}
END_TEST

START_TEST(curl_route_names_what_is_wrong)
{
    char *body = body1("command", "curl 'https://example.com/");
    EXPECT_INVALID("/v1/import/curl", body, "command", "command: unterminated single quote");
    free(body);
    body = body1("command", "curl -d @data.json https://example.com/");
    EXPECT_INVALID("/v1/import/curl", body, "command", "-d @data.json: reading files is not supported");
    free(body);
    body = body1("command", "curl --frobnicate https://example.com/");
    EXPECT_INVALID("/v1/import/curl", body, "command", "unknown option '--frobnicate'");
    free(body);
    body = body1("command", "curl -s");
    EXPECT_INVALID("/v1/import/curl", body, "command", "no URL given");
    free(body);
    /* a message that quotes the input cut inside a character is still text */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "curl 'http://bad host/%s\xc3\xa9'",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    body = body1("command", cmd);
    EXPECT_INVALID("/v1/import/curl", body, "command", "aaa?...': contains a space");
    free(body);
    EXPECT_INVALID("/v1/import/curl", "{}", "command", "command is required");
    EXPECT_INVALID("/v1/import/curl", "{\"command\":[\"curl\"]}", "command",
                   "expected a string, got an array");
    EXPECT_INVALID("/v1/import/curl", "{\"command\":\"curl http://h/\",\"colour\":1}", "colour",
                   "colour: unknown field");
    EXPECT_INVALID("/v1/import/curl", "[\"curl http://h/\"]", NULL, "must be a JSON object");
    /* the front's own checks still apply */
    struct itest_resp r = post("/v1/import/curl", "{\"command\": ", 400);
    ck_assert_str_eq(itest_json_str(&r, ERR_CODE), "malformed_json");
    itest_resp_free(&r);
    itest_http(srv.port, "POST", "/v1/import/curl", "Content-Type: text/plain\r\n", "curl x", 6, 0,
               &r);
    ck_assert_int_eq(r.status, 415);
    itest_resp_free(&r);
    itest_http(srv.port, "GET", "/v1/import/curl", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 405);
    itest_resp_free(&r);
}
END_TEST

/* ---- /v1/import/har ---- */

#define HAR_ENTRIES \
    "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"WebInspector\",\"version\":\"537.36\"}," \
    "\"entries\":[" \
    "{\"request\":{\"method\":\"GET\",\"url\":\"https://app.example.com/dashboard\"," \
    "\"httpVersion\":\"http/2.0\",\"headers\":[{\"name\":\":authority\",\"value\":\"app.example.com\"}," \
    "{\"name\":\"accept\",\"value\":\"text/html\"}],\"cookies\":[],\"queryString\":[]},\"response\":{}}," \
    "{\"request\":{\"method\":\"GET\",\"url\":\"https://cdn.example.net/app.css\",\"headers\":[]},\"response\":{}}," \
    "{\"request\":{\"method\":\"POST\",\"url\":\"https://app.example.com/api/events\"," \
    "\"headers\":[{\"name\":\"content-type\",\"value\":\"application/json\"}]," \
    "\"postData\":{\"mimeType\":\"application/json\",\"text\":\"{\\\"type\\\":\\\"view\\\"}\"}},\"response\":{}}" \
    "]}}"

START_TEST(har_route_returns_a_definition)
{
    struct itest_resp r = post("/v1/import/har", "{\"har\":" HAR_ENTRIES "}", 200);
    struct script *s = definition_script(&r);
    ck_assert_int_eq(s->nsteps, 3);
    ck_assert_int_eq(s->norigins, 2);
    ck_assert_str_eq(s->steps[0].name, "get_dashboard");
    ck_assert_str_eq(s->steps[0].target, "/dashboard");
    ck_assert_str_eq(s->origins[s->steps[0].origin].authority, "app.example.com");
    ck_assert_int_eq(s->steps[0].nheaders, 1);
    ck_assert_str_eq(s->steps[0].headers[0].name, "accept");
    ck_assert_str_eq(s->origins[s->steps[1].origin].authority, "cdn.example.net");
    ck_assert_str_eq(s->steps[2].method, "POST");
    ck_assert_uint_eq(s->steps[2].body_len, strlen("{\"type\":\"view\"}"));
    ck_assert(memcmp(s->steps[2].body, "{\"type\":\"view\"}", s->steps[2].body_len) == 0);
    script_free(s);
    static const char *const url1[] = { "definition", "steps", NULL };
    yajl_val steps = yajl_tree_get(r.json, (const char **)url1, yajl_t_array);
    ck_assert_ptr_nonnull(steps);
    ck_assert_str_eq(json_get(steps->u.array.values[1], "url")->u.string,
                     "https://cdn.example.net/app.css");
    ck_assert(has_note(&r, "pseudo-headers"));
    itest_resp_free(&r);

    /* filtered by host; the HAR file's text as a string works too */
    char *body = body1("har", HAR_ENTRIES);
    size_t n = strlen(body);
    char *with_host = malloc(n + 64);
    snprintf(with_host, n + 64, "%.*s,\"host\":\"CDN.example.net\"}", (int)(n - 1), body);
    r = post("/v1/import/har", with_host, 200);
    s = definition_script(&r);
    ck_assert_int_eq(s->nsteps, 1);
    ck_assert_str_eq(s->steps[0].target, "/app.css");
    script_free(s);
    ck_assert(has_note(&r, "left out 2 requests to other hosts"));
    itest_resp_free(&r);
    free(with_host);
    free(body);
}
END_TEST

START_TEST(har_route_names_what_is_wrong)
{
    EXPECT_INVALID("/v1/import/har", "{}", "har", "har is required");
    EXPECT_INVALID("/v1/import/har", "{\"har\":[]}", "har", "expected a HAR document");
    EXPECT_INVALID("/v1/import/har", "{\"har\":{\"log\":{}}}", "har.log.entries",
                   "har.log.entries is required");
    EXPECT_INVALID("/v1/import/har",
                   "{\"har\":{\"log\":{\"entries\":[{\"request\":{\"method\":\"GET\",\"url\":\"http://h/\"}},"
                   "{\"request\":{\"method\":\"GET\",\"url\":\"http://h:99999/\"}}]}}}",
                   "har.log.entries[1].request.url", "port must be a number from 1 to 65535");
    EXPECT_INVALID("/v1/import/har",
                   "{\"har\":{\"log\":{\"entries\":[{\"request\":{\"method\":\"GET\",\"url\":\"http://h/\","
                   "\"headers\":[{\"name\":\"X\"}]}}]}}}",
                   "har.log.entries[0].request.headers[0].value", "is required");
    EXPECT_INVALID("/v1/import/har", "{\"har\":" HAR_ENTRIES ",\"host\":\"nope.example.org\"}",
                   "har.log.entries", "no request has the host 'nope.example.org'");
    EXPECT_INVALID("/v1/import/har", "{\"har\":" HAR_ENTRIES ",\"host\":\"\"}", "host",
                   "must not be empty");
    EXPECT_INVALID("/v1/import/har", "{\"har\":" HAR_ENTRIES ",\"host\":5}", "host",
                   "expected a string");
    EXPECT_INVALID("/v1/import/har", "{\"har\":" HAR_ENTRIES ",\"hosts\":[\"a\"]}", "hosts",
                   "hosts: unknown field");
    EXPECT_INVALID("/v1/import/har", "{\"har\":\"{\\\"log\\\":\"}", "har", "har: invalid JSON");
}
END_TEST

/* ---- the stampede import command ---- */

struct cli_result {
    int code;
    char out[65536], err[8192];
};

static void read_fd(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

/* Run `stampede import ARGS...` with input on stdin (NULL: none); waits
 * for it to exit. stdout and stderr go to files read afterwards, so a
 * full pipe can never block the child. */
static void run_cli(const char *const *args, const char *input, struct cli_result *r)
{
    const char *bin = getenv("STAMPEDE_BIN");
    const char *argv[16];
    int n = 0;
    argv[n++] = bin ? bin : "./stampede";
    argv[n++] = "import";
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char outp[] = "/tmp/stampede-import-out-XXXXXX", errp[] = "/tmp/stampede-import-err-XXXXXX",
         inp[] = "/tmp/stampede-import-in-XXXXXX";
    int fo = mkstemp(outp), fe = mkstemp(errp), fi = mkstemp(inp);
    ck_assert(fo >= 0 && fe >= 0 && fi >= 0);
    if (input)
        ck_assert_int_eq(write(fi, input, strlen(input)), (ssize_t)strlen(input));
    lseek(fi, 0, SEEK_SET);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    read_fd(fo, r->out, sizeof r->out);
    read_fd(fe, r->err, sizeof r->err);
    close(fo);
    close(fe);
    close(fi);
    unlink(outp);
    unlink(errp);
    unlink(inp);
}

static struct script *cli_script(const struct cli_result *r)
{
    struct script *s = NULL;
    struct json_err e = { "", "" };
    ck_assert_msg(script_parse(r->out, strlen(r->out), &s, &e) == 0, "stdout refused: %s\n%s",
                  e.message, r->out);
    return s;
}

START_TEST(cli_imports_curl)
{
    static struct cli_result r;
    /* one argument holding the command line */
    static const char *const one[] = { "curl", "curl -X PUT -H 'X-A: 1' -d 'k=v' http://h.example.com/x", NULL };
    run_cli(one, NULL, &r);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\n  \"steps\": [")); /* pretty */
    struct script *s = cli_script(&r);
    ck_assert_str_eq(s->steps[0].method, "PUT");
    ck_assert_str_eq(s->steps[0].target, "/x");
    ck_assert_int_eq(s->steps[0].nheaders, 2);
    script_free(s);
    ck_assert_str_eq(r.err, "");
    /* words the shell already split, without the inner "curl" */
    static const char *const words[] = { "curl", "-H", "X-Long: a b c", "--compressed",
                                         "https://h.example.com/y?q=1", NULL };
    run_cli(words, NULL, &r);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    s = cli_script(&r);
    ck_assert_str_eq(s->steps[0].target, "/y?q=1");
    ck_assert_str_eq(s->steps[0].headers[1].value, "a b c");
    script_free(s);
    ck_assert_ptr_nonnull(strstr(r.err, "note: --compressed"));
    /* stdin */
    static const char *const dash[] = { "curl", "-", NULL };
    run_cli(dash, "curl ^\"https://h.example.com/z^\" ^\n  -H ^\"a: b^\"\n", &r);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    s = cli_script(&r);
    ck_assert_str_eq(s->steps[0].target, "/z");
    script_free(s);
    /* bad input: exit 2 and the message */
    static const char *const bad[] = { "curl", "curl -d @body.json http://h/", NULL };
    run_cli(bad, NULL, &r);
    ck_assert_int_eq(r.code, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, "stampede import curl: -d @body.json: reading files is not supported\n");
    static const char *const none[] = { "curl", NULL };
    run_cli(none, NULL, &r);
    ck_assert_int_eq(r.code, 2);
    static const char *const what[] = { "wget", NULL };
    run_cli(what, NULL, &r);
    ck_assert_int_eq(r.code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown source 'wget'"));
}
END_TEST

START_TEST(cli_imports_har)
{
    static struct cli_result r;
    char path[] = "/tmp/stampede-import-har-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *har = HAR_ENTRIES;
    ck_assert_int_eq(write(fd, har, strlen(har)), (ssize_t)strlen(har));
    close(fd);
    const char *args[] = { "har", path, "--host", "app.example.com", NULL };
    run_cli(args, NULL, &r);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    struct script *s = cli_script(&r);
    ck_assert_int_eq(s->nsteps, 2);
    ck_assert_str_eq(s->steps[1].name, "post_api_events");
    script_free(s);
    ck_assert_ptr_nonnull(strstr(r.err, "note: left out 1 request to other hosts"));
    /* stdin, and a broken file */
    const char *dash[] = { "har", "-", NULL };
    run_cli(dash, "{\"log\":{\"entries\":[{\"request\":{\"method\":\"GET\"}}]}}", &r);
    ck_assert_int_eq(r.code, 2);
    ck_assert_str_eq(r.err, "stampede import har: -: log.entries[0].request.url is required\n");
    unlink(path);
    run_cli(args, NULL, &r);
    ck_assert_int_eq(r.code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot open"));
    const char *nofile[] = { "har", NULL };
    run_cli(nofile, NULL, &r);
    ck_assert_int_eq(r.code, 2);
}
END_TEST

static Suite *import_suite(void)
{
    Suite *s = suite_create("import");
    TCase *api = tcase_create("api");
    tcase_set_timeout(api, 60);
    tcase_add_unchecked_fixture(api, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(api, start_default, stop_default);
    tcase_add_test(api, curl_route_returns_a_definition);
    tcase_add_test(api, curl_route_names_what_is_wrong);
    tcase_add_test(api, har_route_returns_a_definition);
    tcase_add_test(api, har_route_names_what_is_wrong);
    suite_add_tcase(s, api);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 30);
    tcase_add_test(cli, cli_imports_curl);
    tcase_add_test(cli, cli_imports_har);
    suite_add_tcase(s, cli);
    return s;
}

CHECK_MAIN(import_suite)
