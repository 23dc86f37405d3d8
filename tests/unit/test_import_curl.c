/* test_import_curl: curl command lines as people paste them — devtools
 * "Copy as cURL" (bash and cmd), Postman, API docs — each checked field by
 * field (method, target, path and query, headers in order, body) and run
 * through script_parse; every error class with its message; and the shell
 * word splitting (import_shell) on its own. */
#include "check_main.h"
#include "import_curl.h"
#include "import_shell.h"
#include "script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

struct want {
    const char *method;
    const char *target;          /* the definition's "target" */
    const char *path;            /* the step's "path" (request-target) */
    const char *const *headers;  /* name, value, ..., NULL; NULL = no headers */
    const char *body;            /* NULL = no body */
    const char *timeout;         /* NULL = none */
    int insecure;
    const char *note;            /* some note contains this; NULL = not checked */
    int no_notes;                /* there must be no note at all */
};

#define HDRS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int has_note(const struct import_result *r, const char *frag)
{
    for (size_t i = 0; i < r->nnotes; i++)
        if (strstr(r->notes[i], frag))
            return 1;
    return 0;
}

static const char *notes_text(const struct import_result *r)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->nnotes && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\n    note: %s", r->notes[i]);
    return buf;
}

static const char *str_member(yajl_val obj, const char *key)
{
    yajl_val v = json_get(obj, key);
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

#define EQ_OR_NULL(a, b) ((a) == NULL ? (b) == NULL : (b) != NULL && strcmp((a), (b)) == 0)

/* The definition holds exactly one step as w says, and script_parse
 * accepts it with the same method, request-target, headers and body. */
static void check_def(int line, const struct import_result *r, const struct want *w)
{
    const char *def = r->definition;
    ck_assert_msg(def && strlen(def) == r->definition_len, "line %d: definition length", line);
    struct json_err e = { "", "" };
    yajl_val root = json_parse(def, strlen(def), JSON_MAX_DEPTH, &e);
    ck_assert_msg(root != NULL, "line %d: definition is not JSON: %s\n%s", line, e.message, def);

    ck_assert_msg(EQ_OR_NULL(w->target, str_member(root, "target")), "line %d: target %s, want %s",
                  line, str_member(root, "target"), w->target);
    yajl_val insecure = json_get(root, "insecure_skip_tls_verify");
    ck_assert_msg(w->insecure ? YAJL_IS_TRUE(insecure) : insecure == NULL,
                  "line %d: insecure_skip_tls_verify", line);
    yajl_val steps = json_get(root, "steps");
    ck_assert_msg(YAJL_IS_ARRAY(steps) && steps->u.array.len == 1, "line %d: one step", line);
    yajl_val st = steps->u.array.values[0];
    ck_assert_msg(EQ_OR_NULL(w->method, str_member(st, "method")), "line %d: method %s, want %s",
                  line, str_member(st, "method"), w->method);
    ck_assert_msg(EQ_OR_NULL(w->path, str_member(st, "path")), "line %d: path %s, want %s", line,
                  str_member(st, "path"), w->path);
    ck_assert_msg(json_get(st, "url") == NULL, "line %d: a one-request import uses path", line);
    ck_assert_msg(EQ_OR_NULL(w->body, str_member(st, "body")), "line %d: body [%s], want [%s]",
                  line, str_member(st, "body"), w->body);
    ck_assert_msg(EQ_OR_NULL(w->timeout, str_member(st, "timeout")), "line %d: timeout %s, want %s",
                  line, str_member(st, "timeout"), w->timeout);

    size_t nh = 0;
    while (w->headers && w->headers[2 * nh])
        nh++;
    yajl_val hs = json_get(st, "headers");
    if (nh == 0) {
        ck_assert_msg(hs == NULL, "line %d: no headers expected, got %zu", line,
                      YAJL_IS_OBJECT(hs) ? hs->u.object.len : 0);
    } else {
        ck_assert_msg(YAJL_IS_OBJECT(hs), "line %d: headers missing", line);
        ck_assert_msg(hs->u.object.len == nh, "line %d: %zu headers, want %zu\n%s", line,
                      hs->u.object.len, nh, def);
        for (size_t i = 0; i < nh; i++) {
            ck_assert_msg(strcmp(hs->u.object.keys[i], w->headers[2 * i]) == 0,
                          "line %d: header %zu is %s, want %s", line, i, hs->u.object.keys[i],
                          w->headers[2 * i]);
            yajl_val v = hs->u.object.values[i];
            ck_assert_msg(YAJL_IS_STRING(v) && strcmp(v->u.string, w->headers[2 * i + 1]) == 0,
                          "line %d: %s: [%s], want [%s]", line, w->headers[2 * i],
                          YAJL_IS_STRING(v) ? v->u.string : "?", w->headers[2 * i + 1]);
        }
    }
    yajl_val load = json_get(root, "load");
    ck_assert_msg(EQ_OR_NULL("constant-vus", str_member(load, "executor")) &&
                      EQ_OR_NULL("30s", str_member(load, "duration")),
                  "line %d: load", line);
    yajl_tree_free(root);

    /* what the engine will send */
    struct script *s = NULL;
    ck_assert_msg(script_parse(def, strlen(def), &s, &e) == 0, "line %d: script_parse: %s\n%s",
                  line, e.message, def);
    ck_assert_int_eq(s->nsteps, 1);
    const struct script_step *ss = &s->steps[0];
    ck_assert_str_eq(ss->method, w->method);
    ck_assert_str_eq(ss->target, w->path);
    ck_assert_int_eq(ss->nheaders, (int)nh);
    for (size_t i = 0; i < nh; i++)
        ck_assert_str_eq(ss->headers[i].value, w->headers[2 * i + 1]);
    if (w->body) {
        ck_assert_uint_eq(ss->body_len, strlen(w->body));
        ck_assert(memcmp(ss->body, w->body, ss->body_len) == 0);
    } else {
        ck_assert_ptr_null(ss->body);
    }
    ck_assert_int_eq(s->insecure_skip_tls_verify, w->insecure);
    script_free(s);

    if (w->note)
        ck_assert_msg(has_note(r, w->note), "line %d: no note with '%s'%s", line, w->note,
                      notes_text(r));
    if (w->no_notes)
        ck_assert_msg(r->nnotes == 0, "line %d: unexpected notes%s", line, notes_text(r));
}

static void expect_at(int line, const char *cmd, const struct want *w)
{
    struct import_result r;
    struct json_err e = { "x", "x" };
    int rc = import_curl(cmd, 0, &r, &e);
    ck_assert_msg(rc == 0, "line %d: rejected: %s\n  %s", line, e.message, cmd);
    check_def(line, &r, w);
    import_result_deinit(&r);
    /* the pretty form says the same */
    rc = import_curl(cmd, IMPORT_PRETTY, &r, &e);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(strchr(r.definition, '\n'));
    check_def(line, &r, w);
    import_result_deinit(&r);
}
#define EXPECT(cmd, ...) expect_at(__LINE__, (cmd), &(struct want){ __VA_ARGS__ })

static void expect_err_at(int line, const char *cmd, const char *frag)
{
    struct import_result r;
    memset(&r, 0xab, sizeof r);
    struct json_err e = { "x", "" };
    int rc = import_curl(cmd, 0, &r, &e);
    ck_assert_msg(rc == -1, "line %d: accepted: %s\n%s", line, cmd, rc == 0 ? r.definition : "");
    ck_assert_msg(r.definition == NULL && r.notes == NULL && r.nnotes == 0,
                  "line %d: *out not zeroed after failure", line);
    ck_assert_msg(e.field[0] == '\0', "line %d: field '%s' (a command has none)", line, e.field);
    ck_assert_msg(strstr(e.message, frag) != NULL, "line %d: message '%s' lacks '%s'", line,
                  e.message, frag);
}
#define EXPECT_ERR(cmd, frag) expect_err_at(__LINE__, (cmd), (frag))

#define UA_CHROME "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " \
                  "Chrome/124.0.0.0 Safari/537.36"
#define FORM "application/x-www-form-urlencoded"

/* ---- browsers: Copy as cURL (bash) ---- */

START_TEST(chrome_bash_get_with_cookies)
{
    EXPECT("curl 'https://shop.example.com/api/products?category=shoes&page=2' \\\n"
           "  -H 'accept: application/json, text/plain, */*' \\\n"
           "  -H 'accept-language: en-US,en;q=0.9' \\\n"
           "  -b '_ga=GA1.1.123; session=eyJhbGciOi.J9' \\\n"
           "  -H 'referer: https://shop.example.com/shoes' \\\n"
           "  -H 'sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"' \\\n"
           "  -H 'sec-fetch-mode: cors' \\\n"
           "  -H 'user-agent: " UA_CHROME "'",
           .method = "GET", .target = "https://shop.example.com",
           .path = "/api/products?category=shoes&page=2",
           .headers = HDRS("Cookie", "_ga=GA1.1.123; session=eyJhbGciOi.J9",
                           "accept", "application/json, text/plain, */*",
                           "accept-language", "en-US,en;q=0.9",
                           "referer", "https://shop.example.com/shoes",
                           "sec-ch-ua", "\"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"",
                           "sec-fetch-mode", "cors",
                           "user-agent", UA_CHROME),
           .no_notes = 1);
}
END_TEST

START_TEST(chrome_bash_post_ansi_c_body)
{
    /* Chrome switches to $'...' when the body has a quote, a newline or '!' */
    EXPECT("curl 'https://api.example.com/v1/comments' \\\n"
           "  -H 'content-type: application/json' \\\n"
           "  -H 'origin: https://app.example.com' \\\n"
           "  --data-raw $'{\"author\":\"O\\'Brien\",\"text\":\"line one\\nline two\\ttabbed\","
           "\"shout\":\"hey\\u0021\",\"path\":\"C:\\\\\\\\tmp\",\"e\":\"\\u00e9\\x41\\101\"}'",
           .method = "POST", .target = "https://api.example.com", .path = "/v1/comments",
           .headers = HDRS("content-type", "application/json",
                           "origin", "https://app.example.com"),
           .body = "{\"author\":\"O'Brien\",\"text\":\"line one\nline two\ttabbed\","
                   "\"shout\":\"hey!\",\"path\":\"C:\\\\tmp\",\"e\":\"\xc3\xa9" "AA\"}",
           .no_notes = 1);
}
END_TEST

START_TEST(firefox_posix_post)
{
    EXPECT("curl 'https://www.example.org/graphql' -X POST "
           "-H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0' "
           "-H 'Accept: */*' -H 'Accept-Language: en-US,en;q=0.5' "
           "-H 'Accept-Encoding: gzip, deflate, br' -H 'Content-Type: application/json' "
           "-H 'Origin: https://www.example.org' -H 'Connection: keep-alive' "
           "-H 'Sec-Fetch-Site: same-origin' -H 'TE: trailers' "
           "--data-raw '{\"operationName\":\"Me\",\"variables\":{},\"query\":\"query Me { me { id } }\"}'",
           .method = "POST", .target = "https://www.example.org", .path = "/graphql",
           .headers = HDRS("User-Agent",
                           "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                           "Accept", "*/*", "Accept-Language", "en-US,en;q=0.5",
                           "Accept-Encoding", "gzip, deflate, br",
                           "Content-Type", "application/json",
                           "Origin", "https://www.example.org",
                           "Sec-Fetch-Site", "same-origin"),
           .body = "{\"operationName\":\"Me\",\"variables\":{},\"query\":\"query Me { me { id } }\"}",
           .note = "dropped the Connection header");
}
END_TEST

/* ---- browsers: Copy as cURL (cmd) ---- */

START_TEST(chrome_cmd_post)
{
    /* Chrome's cmd quoting: ^"...^", ^-escapes, \^" for a quote, %^ after
     * a percent sign, ^ + two newlines for a newline in the body */
    EXPECT("curl ^\"https://example.com/api/v2/orders?id=7^&sort=-date^\" ^\n"
           "  -H ^\"accept: application/json, text/plain, */*^\" ^\n"
           "  -H ^\"cookie: sid=abc^%^20def; theme=dark^\" ^\n"
           "  -H ^\"content-type: application/json^\" ^\n"
           "  --data-raw ^\"^{^\\^\"note^\\^\":^\\^\"50^% off^\n\nnext line^\\^\",^\\^\"q^\\^\":"
           "^\\^\"a^<b^>^&c^|d^^e^!^\\^\"^}^\" ^\n"
           "  --compressed",
           .method = "POST", .target = "https://example.com",
           .path = "/api/v2/orders?id=7&sort=-date",
           .headers = HDRS("Accept-Encoding", "gzip, deflate, br",
                           "accept", "application/json, text/plain, */*",
                           "cookie", "sid=abc%20def; theme=dark",
                           "content-type", "application/json"),
           .body = "{\"note\":\"50% off\nnext line\",\"q\":\"a<b>&c|d^e!\"}",
           .note = "does not decompress");
}
END_TEST

START_TEST(chrome_cmd_get_with_cookie_flag)
{
    EXPECT("curl ^\"https://intranet.example.com/reports?from=2024-01-01^&to=2024-01-31^\" ^\r\n"
           "  -b ^\"JSESSIONID=0A1B2C; remember=1^\" ^\r\n"
           "  -H ^\"user-agent: Mozilla/5.0^\" ^\r\n"
           "  --insecure",
           .method = "GET", .target = "https://intranet.example.com",
           .path = "/reports?from=2024-01-01&to=2024-01-31",
           .headers = HDRS("Cookie", "JSESSIONID=0A1B2C; remember=1", "user-agent", "Mozilla/5.0"),
           .insecure = 1, .no_notes = 1);
}
END_TEST

START_TEST(windows_doubled_quotes_curl_exe)
{
    /* the older "Copy as cURL (Windows)": "" is a quote inside quotes */
    EXPECT("curl.exe \"https://api.example.com/v1/notes\" -H \"Accept: */*\" "
           "-H \"Content-Type: application/json\" "
           "--data-binary \"{\"\"title\"\":\"\"50\"%\"\"\",\"\"tags\"\":[]}\"",
           .method = "POST", .target = "https://api.example.com", .path = "/v1/notes",
           .headers = HDRS("Accept", "*/*", "Content-Type", "application/json"),
           .body = "{\"title\":\"50%\",\"tags\":[]}", .no_notes = 1);
}
END_TEST

/* ---- Postman ---- */

START_TEST(postman_location_request_raw_multiline)
{
    EXPECT("curl --location --request POST 'https://api.example.com/v1/users' \\\n"
           "--header 'Content-Type: application/json' \\\n"
           "--header 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig' \\\n"
           "--data-raw '{\n"
           "    \"name\": \"Ann\",\n"
           "    \"email\": \"ann@example.com\"\n"
           "}'",
           .method = "POST", .target = "https://api.example.com", .path = "/v1/users",
           .headers = HDRS("Content-Type", "application/json",
                           "Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"),
           .body = "{\n    \"name\": \"Ann\",\n    \"email\": \"ann@example.com\"\n}",
           .note = "does not follow redirects");
}
END_TEST

START_TEST(postman_new_style_patch)
{
    EXPECT("curl --location --request PATCH 'https://api.example.com/v1/users/42' \\\n"
           "--header 'x-api-key: k_123' \\\n"
           "--header 'Content-Type: application/json' \\\n"
           "--data '{\"name\":\"Bo\"}'",
           .method = "PATCH", .target = "https://api.example.com", .path = "/v1/users/42",
           .headers = HDRS("x-api-key", "k_123", "Content-Type", "application/json"),
           .body = "{\"name\":\"Bo\"}");
}
END_TEST

/* ---- API docs ---- */

START_TEST(stripe_create_charge)
{
    EXPECT("curl https://api.stripe.com/v1/charges \\\n"
           "  -u sk_test_4eC39HqLyjWDarjtT1zdp7dc: \\\n"
           "  -d amount=2000 \\\n"
           "  -d currency=usd \\\n"
           "  -d source=tok_visa \\\n"
           "  -d \"description=My First Test Charge (created for API docs)\"",
           .method = "POST", .target = "https://api.stripe.com", .path = "/v1/charges",
           .headers = HDRS("Authorization", "Basic c2tfdGVzdF80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM6",
                           "Content-Type", FORM),
           .body = "amount=2000&currency=usd&source=tok_visa&"
                   "description=My First Test Charge (created for API docs)",
           .no_notes = 1);
}
END_TEST

START_TEST(stripe_list_with_get_and_brackets)
{
    EXPECT("curl -G https://api.stripe.com/v1/customers \\\n"
           "  -u sk_test_123: \\\n"
           "  -d limit=3 \\\n"
           "  -d \"expand[]=data.default_source\"",
           .method = "GET", .target = "https://api.stripe.com",
           .path = "/v1/customers?limit=3&expand[]=data.default_source",
           .headers = HDRS("Authorization", "Basic c2tfdGVzdF8xMjM6"), .no_notes = 1);
}
END_TEST

START_TEST(github_create_issue)
{
    /* no Content-Type given: curl sends -d as a form, and so do we */
    EXPECT("curl -L \\\n"
           "  -X POST \\\n"
           "  -H \"Accept: application/vnd.github+json\" \\\n"
           "  -H \"Authorization: Bearer <YOUR-TOKEN>\" \\\n"
           "  -H \"X-GitHub-Api-Version: 2022-11-28\" \\\n"
           "  https://api.github.com/repos/OWNER/REPO/issues \\\n"
           "  -d '{\"title\":\"Found a bug\",\"body\":\"I'\"'\"'m having a problem.\","
           "\"labels\":[\"bug\"]}'",
           .method = "POST", .target = "https://api.github.com",
           .path = "/repos/OWNER/REPO/issues",
           .headers = HDRS("Accept", "application/vnd.github+json",
                           "Authorization", "Bearer <YOUR-TOKEN>",
                           "X-GitHub-Api-Version", "2022-11-28", "Content-Type", FORM),
           .body = "{\"title\":\"Found a bug\",\"body\":\"I'm having a problem.\",\"labels\":[\"bug\"]}",
           .note = "does not follow redirects");
}
END_TEST

START_TEST(github_token_variable_kept)
{
    EXPECT("curl -H \"Authorization: Bearer $GITHUB_TOKEN\" https://api.github.com/user/repos",
           .method = "GET", .target = "https://api.github.com", .path = "/user/repos",
           .headers = HDRS("Authorization", "Bearer $GITHUB_TOKEN"),
           .note = "kept $GITHUB_TOKEN as written");
}
END_TEST

START_TEST(slack_webhook_and_api)
{
    EXPECT("curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"Hello, World!\"}' "
           "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
           .method = "POST", .target = "https://hooks.slack.com",
           .path = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
           .headers = HDRS("Content-type", "application/json"),
           .body = "{\"text\":\"Hello, World!\"}", .no_notes = 1);
    EXPECT("curl -sS -X POST https://slack.com/api/chat.postMessage "
           "-H 'Authorization: Bearer xoxb-1234' "
           "-H 'Content-type: application/json; charset=utf-8' "
           "--data '{\"channel\":\"C123ABC456\",\"text\":\"I hope the tour went well\"}'",
           .method = "POST", .target = "https://slack.com", .path = "/api/chat.postMessage",
           .headers = HDRS("Authorization", "Bearer xoxb-1234",
                           "Content-type", "application/json; charset=utf-8"),
           .body = "{\"channel\":\"C123ABC456\",\"text\":\"I hope the tour went well\"}",
           .no_notes = 1);
}
END_TEST

START_TEST(get_with_data_urlencode_forms)
{
    /* content, =content, name=content; UTF-8 bytes and '&' encoded */
    EXPECT("curl -G 'https://api.example.com/search' \\\n"
           "  --data-urlencode 'q=café & crème' \\\n"
           "  --data-urlencode '=a b' \\\n"
           "  --data-urlencode 'plain~text.ok' \\\n"
           "  -d page=2",
           .method = "GET", .target = "https://api.example.com",
           .path = "/search?q=caf%C3%A9%20%26%20cr%C3%A8me&a%20b&plain~text.ok&page=2",
           .no_notes = 1);
}
END_TEST

START_TEST(json_flag)
{
    EXPECT("curl --json '{\"tool\": \"curl\"}' https://example.com/api/tools",
           .method = "POST", .target = "https://example.com", .path = "/api/tools",
           .headers = HDRS("Accept", "application/json", "Content-Type", "application/json"),
           .body = "{\"tool\": \"curl\"}", .no_notes = 1);
    /* pieces concatenated; -H replaces the Accept it adds; -X wins */
    EXPECT("curl --json '{\"drink\":' --json ' \"coffee\"}' -H 'Accept: text/plain' -X PUT "
           "https://example.com/api/order",
           .method = "PUT", .target = "https://example.com", .path = "/api/order",
           .headers = HDRS("Accept", "text/plain", "Content-Type", "application/json"),
           .body = "{\"drink\": \"coffee\"}");
}
END_TEST

START_TEST(compressed_adds_accept_encoding)
{
    EXPECT("curl --compressed https://example.com/feed.xml",
           .method = "GET", .target = "https://example.com", .path = "/feed.xml",
           .headers = HDRS("Accept-Encoding", "gzip, deflate, br"),
           .note = "does not decompress");
    EXPECT("curl --compressed -H 'Accept-Encoding: gzip' https://example.com/feed.xml",
           .method = "GET", .target = "https://example.com", .path = "/feed.xml",
           .headers = HDRS("Accept-Encoding", "gzip"));
}
END_TEST

START_TEST(combined_and_attached_short_flags)
{
    EXPECT("curl -sSLk -XPUT -H'X-Req: 1' -d'{\"v\":1}' https://h.example.com:8443/items/7",
           .method = "PUT", .target = "https://h.example.com:8443", .path = "/items/7",
           .headers = HDRS("X-Req", "1", "Content-Type", FORM), .body = "{\"v\":1}",
           .insecure = 1);
    EXPECT("curl -sX DELETE 'https://h.example.com/items/7?force=true' -m 5",
           .method = "DELETE", .target = "https://h.example.com", .path = "/items/7?force=true",
           .timeout = "5s", .no_notes = 1);
    EXPECT("curl -sm2.5 -Iv https://h.example.com/health",
           .method = "HEAD", .target = "https://h.example.com", .path = "/health",
           .timeout = "2.5s", .no_notes = 1);
}
END_TEST

START_TEST(long_options_with_equals)
{
    EXPECT("curl --request=PATCH --data='{\"a\":1}' --header='Content-Type: application/json' "
           "--url=https://h.example.com/v1/x --max-time=0.25 --user-agent=probe/1",
           .method = "PATCH", .target = "https://h.example.com", .path = "/v1/x",
           .headers = HDRS("User-Agent", "probe/1", "Content-Type", "application/json"),
           .body = "{\"a\":1}", .timeout = "250ms", .no_notes = 1);
}
END_TEST

START_TEST(head_and_get_flags)
{
    EXPECT("curl -I https://example.com/health",
           .method = "HEAD", .target = "https://example.com", .path = "/health", .no_notes = 1);
    EXPECT("curl -I -G -d probe=1 https://example.com/health",
           .method = "HEAD", .target = "https://example.com", .path = "/health?probe=1");
    /* -X GET with -d: a GET with a body, as curl sends it */
    EXPECT("curl -X GET -d q=1 http://example.com/odd",
           .method = "GET", .target = "http://example.com", .path = "/odd",
           .headers = HDRS("Content-Type", FORM), .body = "q=1");
}
END_TEST

START_TEST(user_info_in_url)
{
    EXPECT("curl https://admin:s3cr%40t@internal.example.com:8080/metrics",
           .method = "GET", .target = "https://internal.example.com:8080", .path = "/metrics",
           .headers = HDRS("Authorization", "Basic YWRtaW46czNjckB0"),
           .note = "Authorization: Basic");
    /* -u wins over the URL's user */
    EXPECT("curl -u bob:pw http://alice@h.example.com/",
           .method = "GET", .target = "http://h.example.com", .path = "/",
           .headers = HDRS("Authorization", "Basic Ym9iOnB3"), .note = "ignored the user name");
}
END_TEST

START_TEST(prompt_comment_and_continuations)
{
    EXPECT("$ curl https://api.example.com/v2/ping \\\r\n"
           "    -H 'Accept: application/json'   # health check\n",
           .method = "GET", .target = "https://api.example.com", .path = "/v2/ping",
           .headers = HDRS("Accept", "application/json"), .no_notes = 1);
}
END_TEST

START_TEST(scheme_less_url_and_repeated_data)
{
    EXPECT("curl localhost:3000/api/login -d user=ann -d 'pass=p w' -d ''",
           .method = "POST", .target = "http://localhost:3000", .path = "/api/login",
           .headers = HDRS("Content-Type", FORM), .body = "user=ann&pass=p w&", .no_notes = 1);
    EXPECT("curl example.com",
           .method = "GET", .target = "http://example.com", .path = "/", .no_notes = 1);
}
END_TEST

START_TEST(double_quoted_escapes)
{
    /* in "...", \ escapes only " \ $ ` and newline; elsewhere it stays */
    EXPECT("curl \"https://h.example.com/api\" -H \"X-Json: {\\\"a\\\":\\\"\\$HOME\\\"}\" "
           "-d \"say \\\"hi\\\" \\\\ \\`date\\` \\n \\\n"
           "end\"",
           .method = "POST", .target = "https://h.example.com", .path = "/api",
           .headers = HDRS("X-Json", "{\"a\":\"$HOME\"}", "Content-Type", FORM),
           .body = "say \"hi\" \\ `date` \\n end", .no_notes = 1);
}
END_TEST

START_TEST(pipes_and_redirections_are_not_the_request)
{
    EXPECT("curl -s https://api.example.com/items 2>/dev/null | jq '.[0]'",
           .method = "GET", .target = "https://api.example.com", .path = "/items",
           .note = "ignored '| jq '.[0]''");
    EXPECT("curl -o out.json https://api.example.com/items > log.txt; echo done",
           .method = "GET", .target = "https://api.example.com", .path = "/items",
           .note = "ignored '; echo done'");
    /* an unquoted & ends a bash command */
    EXPECT("curl https://api.example.com/items?a=1&b=2",
           .method = "GET", .target = "https://api.example.com", .path = "/items?a=1",
           .note = "an unquoted '&' ends a shell command");
    EXPECT("curl https://a.example.com/one\ncurl https://b.example.com/two",
           .method = "GET", .target = "https://a.example.com", .path = "/one",
           .note = "only the first command is imported");
}
END_TEST

START_TEST(cookie_referer_user_agent_bearer)
{
    EXPECT("curl -b 'session=abc; lang=en' -b theme=dark -e 'https://example.com/;auto' "
           "-A 'Mozilla/5.0 (X11)' --oauth2-bearer tok123 https://example.com/account",
           .method = "GET", .target = "https://example.com", .path = "/account",
           .headers = HDRS("Authorization", "Bearer tok123", "User-Agent", "Mozilla/5.0 (X11)",
                           "Referer", "https://example.com/",
                           "Cookie", "session=abc; lang=en; theme=dark"),
           .note = "';auto'");
    EXPECT("curl -A one -H 'User-Agent: two' -b a=1 -H 'Cookie: b=2' https://example.com/",
           .method = "GET", .target = "https://example.com", .path = "/",
           .headers = HDRS("User-Agent", "two", "Cookie", "b=2"),
           .note = "ignored -b/--cookie: the Cookie header given with -H takes its place");
}
END_TEST

START_TEST(headers_stampede_sets_are_dropped)
{
    EXPECT("curl -H 'Host: other.example.com' -H 'Content-Length: 5' -H 'Connection: close' "
           "-H 'Transfer-Encoding: chunked' -H 'X-Keep: 1' -d hello https://h.example.com/",
           .method = "POST", .target = "https://h.example.com", .path = "/",
           .headers = HDRS("X-Keep", "1", "Content-Type", FORM), .body = "hello",
           .note = "dropped the Host header");
    struct import_result r;
    struct json_err e;
    ck_assert_int_eq(import_curl("curl -H 'Host: a' -H 'Content-Length: 1' -H 'Connection: x' "
                                 "-H 'Transfer-Encoding: y' http://h/", 0, &r, &e), 0);
    ck_assert(has_note(&r, "dropped the Host header"));
    ck_assert(has_note(&r, "dropped the Content-Length header"));
    ck_assert(has_note(&r, "dropped the Connection header"));
    ck_assert(has_note(&r, "dropped the Transfer-Encoding header"));
    import_result_deinit(&r);
}
END_TEST

START_TEST(repeated_empty_and_removed_headers)
{
    EXPECT("curl -H 'Accept: text/html' -H 'accept: application/json' -H 'X-Empty;' "
           "-H 'X-Gone: 1' -H 'X-Gone:' -H 'Content-Type:' -d a=1 http://h.example.com/",
           .method = "POST", .target = "http://h.example.com", .path = "/",
           .headers = HDRS("Accept", "text/html, application/json", "X-Empty", ""),
           .body = "a=1", .note = "joined the repeated Accept headers");
}
END_TEST

START_TEST(ipv6_globoff_url_query_and_raw_at)
{
    EXPECT("curl -g 'http://[::1]:9000/status' --data-raw '@handle'",
           .method = "POST", .target = "http://[::1]:9000", .path = "/status",
           .headers = HDRS("Content-Type", FORM), .body = "@handle", .no_notes = 1);
    EXPECT("curl --url-query 'q=a b' --url-query '+raw=%41' 'https://h.example.com/s?x=1'",
           .method = "GET", .target = "https://h.example.com", .path = "/s?x=1&q=a%20b&raw=%41",
           .no_notes = 1);
    EXPECT("curl 'https://h.example.com/files/[1-3].txt'",
           .method = "GET", .target = "https://h.example.com", .path = "/files/[1-3].txt",
           .note = "URL pattern");
}
END_TEST

START_TEST(url_bytes_are_percent_encoded)
{
    EXPECT("curl 'http://h.example.com/a b/é?q=x y&p=100%'",
           .method = "GET", .target = "http://h.example.com",
           .path = "/a%20b/%C3%A9?q=x%20y&p=100%25", .note = "percent-encoded");
}
END_TEST

START_TEST(ignored_and_noted_options)
{
    EXPECT("curl -s -S -v -i -f --fail-with-body -N --no-buffer -g --globoff --http1.1 "
           "--connect-timeout 3 --retry 2 -o /dev/null --output x -w '%{http_code}' "
           "-D - --max-redirs 5 -c jar.txt --no-progress-meter -4 --tlsv1.2 https://h.example.com/x",
           .method = "GET", .target = "https://h.example.com", .path = "/x", .no_notes = 1);
    EXPECT("curl --http2 -x http://proxy:3128 https://h.example.com/x",
           .method = "GET", .target = "https://h.example.com", .path = "/x",
           .note = "ignored --proxy");
    EXPECT("curl --no-compressed --compressed --no-insecure https://h.example.com/x",
           .method = "GET", .target = "https://h.example.com", .path = "/x",
           .headers = HDRS("Accept-Encoding", "gzip, deflate, br"));
}
END_TEST

START_TEST(notes_are_bounded)
{
    /* notes quote the input, so input can ask for many: 32 are kept */
    char cmd[1024] = "curl 'http://h.example.com/?";
    for (int i = 0; i < 40; i++)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "v%d=\"$V%d\"&", i, i);
    strcat(cmd, "'");
    /* single quotes keep $ literal; unquote to get variables */
    for (char *p = cmd; *p; p++)
        if (*p == '\'')
            *p = '"';
    struct import_result r;
    struct json_err e;
    ck_assert_msg(import_curl(cmd, 0, &r, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(r.nnotes, 33);
    ck_assert_str_eq(r.notes[0], "kept $V0 as written: shell variables are not expanded");
    ck_assert_str_eq(r.notes[32], "... and 8 more notes");
    import_result_deinit(&r);
}
END_TEST

START_TEST(argv_form)
{
    static const char *const with_curl[] = { "curl", "-X", "POST", "-H", "X-A: it's \"q\"",
                                             "-d", "a b", "https://h.example.com/p" };
    static const char *const without[] = { "-u", "u:p", "http://h.example.com" };
    struct import_result r;
    struct json_err e;
    ck_assert_int_eq(import_curl_argv(8, with_curl, 0, &r, &e), 0);
    check_def(__LINE__, &r,
              &(struct want){ .method = "POST", .target = "https://h.example.com", .path = "/p",
                              .headers = HDRS("X-A", "it's \"q\"", "Content-Type", FORM),
                              .body = "a b" });
    import_result_deinit(&r);
    ck_assert_int_eq(import_curl_argv(3, without, 0, &r, &e), 0);
    check_def(__LINE__, &r,
              &(struct want){ .method = "GET", .target = "http://h.example.com", .path = "/",
                              .headers = HDRS("Authorization", "Basic dTpw") });
    import_result_deinit(&r);
    ck_assert_int_eq(import_curl_argv(0, NULL, 0, &r, &e), -1);
    ck_assert_str_eq(e.message, "no URL given");
}
END_TEST

START_TEST(step_names_from_the_path)
{
    static const struct {
        const char *cmd, *name;
    } cases[] = {
        { "curl https://h.example.com/users", "get_users" },
        { "curl -X POST https://h.example.com/v1/users/42/avatar.png?x=1", "post_v1_users_42_avatar_png" },
        { "curl https://h.example.com/", "request" },
        { "curl 'https://h.example.com/--/?q=1'", "request" },
        { "curl 'https://h.example.com/caf%C3%A9/menu'", "get_caf_menu" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct import_result r;
        struct json_err e;
        ck_assert_int_eq(import_curl(cases[i].cmd, 0, &r, &e), 0);
        char want[128];
        snprintf(want, sizeof want, "\"name\":\"%s\"", cases[i].name);
        ck_assert_msg(strstr(r.definition, want), "%s: %s", cases[i].cmd, r.definition);
        import_result_deinit(&r);
    }
    /* long paths: cut to fit the 64-character limit, still valid */
    char cmd[400] = "curl https://h.example.com";
    for (int i = 0; i < 20; i++)
        strcat(cmd, "/segment");
    struct import_result r;
    struct json_err e;
    ck_assert_int_eq(import_curl(cmd, 0, &r, &e), 0);
    yajl_val root = json_parse(r.definition, r.definition_len, JSON_MAX_DEPTH, &e);
    yajl_val st = json_get(root, "steps")->u.array.values[0];
    size_t n = strlen(str_member(st, "name"));
    ck_assert_uint_le(n, 64);
    ck_assert_uint_ge(n, 50);
    yajl_tree_free(root);
    import_result_deinit(&r);
}
END_TEST

/* ---- errors ---- */

START_TEST(errors_in_the_shell_text)
{
    EXPECT_ERR("curl 'http://h/", "unterminated single quote (at character 6)");
    EXPECT_ERR("curl \"http://h/", "unterminated double quote");
    EXPECT_ERR("curl $'http://h/", "unterminated $'...' string");
    EXPECT_ERR("curl ${URL", "unterminated ${...}");
    EXPECT_ERR("curl \"http://h/$(whoami)\"", "command substitution $(...) is not supported");
    EXPECT_ERR("curl http://h/`id`", "command substitution (`...`) is not supported");
    EXPECT_ERR("curl -d $'a\\x00b' http://h/", "NUL byte");
    EXPECT_ERR("curl -d $'a\\0' http://h/", "NUL byte");
    EXPECT_ERR("", "empty command");
    EXPECT_ERR("  \\\n  # only a comment\n", "empty command");
    EXPECT_ERR("wget http://h/", "expected a curl command, got 'wget'");
    EXPECT_ERR("http://h/", "expected a curl command");
}
END_TEST

START_TEST(errors_in_options)
{
    EXPECT_ERR("curl --foo http://h/", "unknown option '--foo'");
    EXPECT_ERR("curl -z http://h/", "unknown option '-z'");
    EXPECT_ERR("curl -sSz http://h/", "unknown option '-z' (in '-sSz')");
    EXPECT_ERR("curl --no-data x http://h/", "unknown option '--no-data'");
    EXPECT_ERR("curl http://h/ -H", "option '-H' needs a value");
    EXPECT_ERR("curl http://h/ --data", "option '--data' needs a value");
    EXPECT_ERR("curl --silent=yes http://h/", "option '--silent' takes no value");
    EXPECT_ERR("curl - http://h/", "unexpected argument '-'");
    EXPECT_ERR("curl -m abc http://h/", "-m 'abc': expected a number of seconds");
    EXPECT_ERR("curl -m -1 http://h/", "expected a number of seconds");
}
END_TEST

START_TEST(errors_for_files_and_prompts)
{
    EXPECT_ERR("curl -d @data.json http://h/", "-d @data.json: reading files is not supported");
    EXPECT_ERR("curl --data-binary @img.png http://h/", "--data-binary @img.png: reading files");
    EXPECT_ERR("curl --data-ascii @- http://h/", "--data-ascii @-: reading files");
    EXPECT_ERR("curl --json @body.json http://h/", "--json @body.json: reading files");
    EXPECT_ERR("curl --data-urlencode name@file.txt http://h/", "name@file.txt: reading files");
    EXPECT_ERR("curl --data-urlencode @file.txt http://h/", "@file.txt: reading files");
    EXPECT_ERR("curl -G --url-query @q.txt http://h/", "--url-query @q.txt: reading files");
    EXPECT_ERR("curl -H @headers.txt http://h/", "-H @headers.txt: reading files");
    EXPECT_ERR("curl -b cookies.txt http://h/", "-b cookies.txt: reading a cookie file");
    EXPECT_ERR("curl -u bob http://h/", "-u 'bob': no password given");
    EXPECT_ERR("curl --user bob http://h/", "--user 'bob': no password given");
    EXPECT_ERR("curl -F a=b http://h/", "-F: multipart form uploads are not supported");
    EXPECT_ERR("curl --form 'a=@f' http://h/", "--form: multipart");
    EXPECT_ERR("curl -T up.bin http://h/", "-T: uploading files is not supported");
    EXPECT_ERR("curl -K cfg http://h/", "-K: reading files is not supported");
    EXPECT_ERR("curl --digest -u a:b http://h/", "only Basic authentication");
    EXPECT_ERR("curl -E client.pem http://h/", "client certificates are not supported");
    EXPECT_ERR("curl http://h/a --next http://h/b", "one request per import");
}
END_TEST

START_TEST(errors_in_the_request)
{
    EXPECT_ERR("curl", "no URL given");
    EXPECT_ERR("curl -s -H 'A: b'", "no URL given");
    EXPECT_ERR("curl http://a/ http://b/", "several URLs given ('http://a/' and 'http://b/')");
    EXPECT_ERR("curl http://a/ --url http://b/ http://c/", "several URLs given");
    EXPECT_ERR("curl -X PURGE http://h/", "method 'PURGE' is not supported");
    EXPECT_ERR("curl ftp://h/file", "unsupported scheme \"ftp\"");
    EXPECT_ERR("curl http://h:99999/", "port must be a number from 1 to 65535");
    EXPECT_ERR("curl 'http://bad host/'", "URL 'http://bad host/': contains a space");
    EXPECT_ERR("curl 'http://bad_h!st/'", "bad character '!' in host");
    EXPECT_ERR("curl -I -d a=1 http://h/", "-I/--head cannot be combined with -d");
    EXPECT_ERR("curl -H 'X-A' http://h/", "-H 'X-A': expected 'Name: value'");
    EXPECT_ERR("curl -H ': v' http://h/", "the header has no name");
    EXPECT_ERR("curl -H 'Bad Name: x' http://h/", "header name 'Bad Name' is not valid");
    EXPECT_ERR("curl -H $'X-A: a\\r\\nX-B: b' http://h/", "header 'X-A': the value contains a line break");
    EXPECT_ERR("curl -H $'X-A: a\\x01' http://h/", "the value contains a control character");
    EXPECT_ERR("curl -H $'X-A: \\xff' http://h/", "the value is not UTF-8 text");
    EXPECT_ERR("curl -d $'\\xc3\\x28' http://h/", "the body is not UTF-8 text");
    EXPECT_ERR("curl -d $'\\uD800' http://h/", "the body is not UTF-8 text");
    char many[4096] = "curl http://h/";
    for (int i = 0; i < 65; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), " -H 'X-%d: v'", i);
    EXPECT_ERR(many, "more than 64 headers");
}
END_TEST

/* ---- import_shell on its own ---- */

static void expect_words_at(int line, const char *text, int is_cmd, const char *const *want)
{
    struct import_def *d = import_def_new();
    struct import_words w = { 0 };
    char err[256] = "";
    ck_assert_msg(import_shell_is_cmd(text) == is_cmd, "line %d: flavour", line);
    ck_assert_msg(import_shell_split(text, d, &w, err, sizeof err) == 0, "line %d: %s", line, err);
    int n = 0;
    while (want[n])
        n++;
    ck_assert_msg(w.n == n, "line %d: %d words, want %d", line, w.n, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strcmp(w.v[i], want[i]) == 0, "line %d: word %d [%s], want [%s]", line, i,
                      w.v[i], want[i]);
    import_words_deinit(&w);
    ck_assert_ptr_null(w.v);
    import_def_free(d);
}
#define WORDS(text, is_cmd, ...) \
    expect_words_at(__LINE__, (text), (is_cmd), (const char *const[]){ __VA_ARGS__, NULL })

START_TEST(bash_words)
{
    WORDS("a\\ b 'c d'\"e f\"$'g\\th'", 0, "a b", "c de fg\th");
    WORDS("x \\\n y\\\nz", 0, "x", "yz");
    WORDS("'' \"\" a", 0, "", "", "a");
    WORDS("a 2>/dev/null b >>log c 2>&1", 0, "a", "b", "c");
    WORDS("a '2'>x", 0, "a", "2");
    WORDS("$\"loc\" $'\\x41\\u00e9\\101\\cA\\e\\q' $5 $", 0, "loc", "A\xc3\xa9" "A\x01\x1b\\q", "$5",
          "$");
    WORDS("\"a\\b\\\"c\\$d\"", 0, "a\\b\"c$d");
    WORDS("a # comment\nb", 0, "a", "b");
    WORDS("a#b", 0, "a#b");
}
END_TEST

START_TEST(cmd_words)
{
    WORDS("curl ^\"a b^\" ^\n  -H ^\"x^\"", 1, "curl", "a b", "-H", "x");
    WORDS("curl ^\"a^\n\nb^\"", 1, "curl", "a\nb");
    WORDS("curl \"a\"\"b\" \"c\\\"d\" \\\\\\\"e", 1, "curl", "a\"b", "c\"d", "\\\"e");
    WORDS("curl ^\"x^\" & echo hi", 1, "curl", "x");
    WORDS("curl \"a\"^\n\n\"b\"", 1, "curl", "a\nb");
    /* JSON with "" inside single quotes is bash, not cmd */
    WORDS("curl -d '{\"a\":\"\"}' u", 0, "curl", "-d", "{\"a\":\"\"}", "u");
    WORDS("curl -d $'{\"a\":\"it\\'s\",\"b\":\"\"}' u", 0, "curl", "-d", "{\"a\":\"it's\",\"b\":\"\"}",
          "u");
}
END_TEST

START_TEST(shell_errors_give_the_position)
{
    struct import_def *d = import_def_new();
    struct import_words w = { 0 };
    char err[256];
    ck_assert_int_eq(import_shell_split("ab 'cd", d, &w, err, sizeof err), -1);
    ck_assert_str_eq(err, "unterminated single quote (at character 4)");
    import_words_deinit(&w);
    ck_assert_int_eq(import_shell_split("ab \"c $(x)\"", d, &w, err, sizeof err), -1);
    ck_assert_str_eq(err, "command substitution $(...) is not supported (at character 7)");
    import_words_deinit(&w);
    import_def_free(d);
}
END_TEST

START_TEST(utf8_check_and_scrub)
{
    ck_assert(import_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    ck_assert(!import_utf8_valid("\xc3", 1));         /* cut short */
    ck_assert(!import_utf8_valid("\xc0\xaf", 2));     /* overlong */
    ck_assert(!import_utf8_valid("\xed\xa0\x80", 3)); /* a surrogate */
    ck_assert(!import_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    char s[] = "a\xff" "b\xc3\xa9-\xe2\x82";
    import_utf8_scrub(s);
    ck_assert_str_eq(s, "a?b\xc3\xa9-??");
    /* a message quoting the input stays text */
    struct import_result r;
    struct json_err e;
    ck_assert_int_eq(import_curl("curl $'http://h\xff/'", 0, &r, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.message, "URL 'http://h\xff/'"));
    import_utf8_scrub(e.message);
    ck_assert(import_utf8_valid(e.message, strlen(e.message)));
}
END_TEST

static Suite *import_curl_suite(void)
{
    Suite *s = suite_create("import_curl");
    TCase *tc = tcase_create("real_world");
    tcase_add_test(tc, chrome_bash_get_with_cookies);
    tcase_add_test(tc, chrome_bash_post_ansi_c_body);
    tcase_add_test(tc, firefox_posix_post);
    tcase_add_test(tc, chrome_cmd_post);
    tcase_add_test(tc, chrome_cmd_get_with_cookie_flag);
    tcase_add_test(tc, windows_doubled_quotes_curl_exe);
    tcase_add_test(tc, postman_location_request_raw_multiline);
    tcase_add_test(tc, postman_new_style_patch);
    tcase_add_test(tc, stripe_create_charge);
    tcase_add_test(tc, stripe_list_with_get_and_brackets);
    tcase_add_test(tc, github_create_issue);
    tcase_add_test(tc, github_token_variable_kept);
    tcase_add_test(tc, slack_webhook_and_api);
    tcase_add_test(tc, get_with_data_urlencode_forms);
    tcase_add_test(tc, json_flag);
    tcase_add_test(tc, compressed_adds_accept_encoding);
    tcase_add_test(tc, combined_and_attached_short_flags);
    tcase_add_test(tc, long_options_with_equals);
    tcase_add_test(tc, head_and_get_flags);
    tcase_add_test(tc, user_info_in_url);
    tcase_add_test(tc, prompt_comment_and_continuations);
    tcase_add_test(tc, scheme_less_url_and_repeated_data);
    tcase_add_test(tc, double_quoted_escapes);
    tcase_add_test(tc, pipes_and_redirections_are_not_the_request);
    tcase_add_test(tc, cookie_referer_user_agent_bearer);
    tcase_add_test(tc, headers_stampede_sets_are_dropped);
    tcase_add_test(tc, repeated_empty_and_removed_headers);
    tcase_add_test(tc, ipv6_globoff_url_query_and_raw_at);
    tcase_add_test(tc, url_bytes_are_percent_encoded);
    tcase_add_test(tc, ignored_and_noted_options);
    tcase_add_test(tc, notes_are_bounded);
    tcase_add_test(tc, argv_form);
    tcase_add_test(tc, step_names_from_the_path);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, errors_in_the_shell_text);
    tcase_add_test(tc, errors_in_options);
    tcase_add_test(tc, errors_for_files_and_prompts);
    tcase_add_test(tc, errors_in_the_request);
    suite_add_tcase(s, tc);
    tc = tcase_create("shell");
    tcase_add_test(tc, bash_words);
    tcase_add_test(tc, cmd_words);
    tcase_add_test(tc, shell_errors_give_the_position);
    tcase_add_test(tc, utf8_check_and_scrub);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(import_curl_suite)
