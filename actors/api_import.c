/* api_import: POST /v1/import/curl and POST /v1/import/har — a script
 * definition made from a curl command or a HAR recording, with notes on
 * anything dropped or approximated (docs/import.md). Answered at once on
 * the front's loop: the work is bounded by the body limit and needs no
 * other actor. */
#include "api.h"

#include "import_curl.h"
#include "import_har.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* 200 {"definition": {...}, "notes": [...]}. */
static void reply_result(struct http_ctx *c, struct import_result *r)
{
    yajl_gen g = json_gen_new();
    yajl_gen_array_open(g);
    for (size_t i = 0; i < r->nnotes; i++)
        json_gen_cstr(g, r->notes[i]);
    yajl_gen_array_close(g);
    size_t nlen;
    char *notes = json_gen_finish(g, &nlen);
    /* The definition is a complete JSON document written by yajl (and
     * checked by script_parse): embed its text rather than parse it back
     * into a tree only to write it out again. */
    char *body = xasprintf("{\"definition\":%s,\"notes\":%s}", r->definition, notes);
    http_reply(c, 200, body, strlen(body));
    free(body);
    free(notes);
    import_result_deinit(r);
}

/* 400 naming the field; an import error about the input as a whole is
 * about `whole` (the field the input came in). */
static void reply_import_error(struct http_ctx *c, const char *whole, const struct json_err *ie)
{
    struct json_err e;
    if (ie->field[0])
        e = *ie;
    else
        json_err_set(&e, whole, "%s: %s", whole, ie->message);
    /* the message quotes the input, which may not be UTF-8 (or be cut
     * inside a character); yajl would replace all of it */
    import_utf8_scrub(e.message);
    import_utf8_scrub(e.field);
    http_reply_invalid(c, &e);
}

static void import_curl_route(struct http_ctx *c)
{
    static const char *const allowed[] = { "command", NULL };
    yajl_val body = api_body_object(c, allowed);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *command = NULL;
    if (json_get_string(body, "", "command", 1, &command, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    struct import_result r;
    if (import_curl(command, 0, &r, &e) < 0) {
        reply_import_error(c, "command", &e);
        return;
    }
    reply_result(c, &r);
}

static void import_har_route(struct http_ctx *c)
{
    static const char *const allowed[] = { "har", "host", NULL };
    yajl_val body = api_body_object(c, allowed);
    if (!body)
        return;
    struct json_err e = { "", "" };
    const char *host = NULL;
    if (json_get_string(body, "", "host", 0, &host, &e) < 0) {
        http_reply_invalid(c, &e);
        return;
    }
    if (host && !*host) {
        http_reply_error(c, 400, "invalid", "host", "host: must not be empty (leave it out to "
                                                    "keep every host)");
        return;
    }
    yajl_val har = json_get(body, "har");
    if (!har) {
        http_reply_error(c, 400, "invalid", "har", "har is required");
        return;
    }
    struct import_result r;
    int rc;
    if (YAJL_IS_STRING(har)) {
        /* the HAR file's text, for clients that send the file as is */
        struct json_err pe = { "", "" };
        yajl_val tree = json_parse(har->u.string, strlen(har->u.string), JSON_MAX_DEPTH, &pe);
        if (!tree) {
            json_err_set(&e, "har", "har: %s", pe.message);
            http_reply_invalid(c, &e);
            return;
        }
        rc = import_har_tree(tree, "har", host, 0, &r, &e);
        yajl_tree_free(tree);
    } else {
        rc = import_har_tree(har, "har", host, 0, &r, &e);
    }
    if (rc < 0) {
        reply_import_error(c, "har", &e);
        return;
    }
    reply_result(c, &r);
}

void api_import_register(struct router *r)
{
    http_route(r, HTTP_POST, "/v1/import/curl", import_curl_route, HTTP_JSON_BODY);
    http_route(r, HTTP_POST, "/v1/import/har", import_har_route, HTTP_JSON_BODY);
}
