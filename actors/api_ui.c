/* api_ui: the dashboard — GET / (index.html), GET /ui/... (its files, read
 * into memory at start; contrib/dashboard), and GET /ui/config.js, which
 * tells the page where the live WebSocket gateway is and whether the API
 * wants a token. Open without a token: the page holds no data; the API
 * calls it makes carry the token. */
#include "api.h"

#include "assets.h"
#include "sbuf.h"

#include <stdio.h>
#include <string.h>

static void serve(struct http_ctx *c, const char *path)
{
    const struct asset *a = assets_get(http_assets(c), path);
    if (!a) {
        http_reply_error(c, 404, "not_found", NULL,
                         assets_count(http_assets(c)) ? "no such file in the dashboard: %s"
                                                      : "the dashboard is not installed (%s)", path);
        return;
    }
    http_add_header(c, "Cache-Control", "no-cache");
    http_reply_typed(c, 200, a->type, a->data, a->len);
}

static void get_index(struct http_ctx *c)
{
    serve(c, "index.html");
}

static void get_config(struct http_ctx *c)
{
    const char *host;
    unsigned port;
    int auth;
    http_live_info(c, &host, &port, &auth);
    struct sbuf b = { 0 };
    int any = !host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
    int v6 = strchr(host, ':') != NULL;
    if (any) /* listening everywhere: the page's own host name reaches it */
        sbuf_printf(&b, "window.STAMPEDE = {\"live\": \"ws://\" + location.hostname + \":%u/v1/live\", "
                        "\"auth\": %s};\n", port, auth ? "true" : "false");
    else
        sbuf_printf(&b, "window.STAMPEDE = {\"live\": \"ws://%s%s%s:%u/v1/live\", \"auth\": %s};\n",
                    v6 ? "[" : "", host, v6 ? "]" : "", port, auth ? "true" : "false");
    http_add_header(c, "Cache-Control", "no-cache");
    http_reply_typed(c, 200, "text/javascript; charset=utf-8", b.s, b.len);
    sbuf_deinit(&b);
}

static void get_file(struct http_ctx *c)
{
    char path[400];
    const char *a = http_param(c, "a"), *b = http_param(c, "b"), *d = http_param(c, "c");
    snprintf(path, sizeof path, "%s%s%s%s%s", a, b ? "/" : "", b ? b : "", d ? "/" : "", d ? d : "");
    if (strcmp(path, "config.js") == 0)
        get_config(c);
    else
        serve(c, path); /* only names loaded at start exist: no way out of the folder */
}

void api_ui_register(struct router *r)
{
    http_route(r, HTTP_GET | HTTP_HEAD, "/", get_index, 0);
    http_route(r, HTTP_GET | HTTP_HEAD, "/ui/:a", get_file, 0);
    http_route(r, HTTP_GET | HTTP_HEAD, "/ui/:a/:b", get_file, 0);
    http_route(r, HTTP_GET | HTTP_HEAD, "/ui/:a/:b/:c", get_file, 0);
}
