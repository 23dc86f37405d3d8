/* import_har: walk log.entries[].request of a HAR document and add each
 * request to an import_def; field paths in errors follow the HAR. */
#include "import_har.h"

#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PATHLEN sizeof(((struct json_err *)0)->field)
#define MAX_HOSTS_SHOWN 5
#define MAX_RECORDED_HEADERS (4 * IMPORT_MAX_HEADERS)

struct har {
    struct import_def *d;
    const char *host;          /* the filter, or NULL */
    struct json_err *e;
    int kept, left_out, not_http, filtered;
    char hosts[MAX_HOSTS_SHOWN][64]; /* distinct hosts seen, for "no entry matches" */
    int nhosts;
};


/* The member key of obj as an object (or array when want_array): 0 when
 * found, 1 when absent and optional, -1 with e set otherwise. */
static int get_container(yajl_val obj, const char *parent, const char *key, int required,
                         int want_array, yajl_val *out, char *path, struct json_err *e)
{
    int rc = 0;
    yajl_val v = json_member(obj, parent, key, required, path, PATHLEN, e, &rc);
    if (!v)
        return rc;
    if (want_array ? !YAJL_IS_ARRAY(v) : !YAJL_IS_OBJECT(v))
        return json_fail(e, path, "expected %s, got %s", want_array ? "an array" : "an object",
                    json_type_name(v));
    *out = v;
    return 0;
}

static int is_http(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* Host (no brackets) and authority as written, from an http(s) URL. */
static void url_host(const char *url, char *host, size_t hlen, char *auth, size_t alen)
{
    const char *a = strstr(url, "://") + 3;
    size_t n = strcspn(a, "/?#");
    const char *at = memrchr(a, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    snprintf(auth, alen, "%.*s", (int)n, a);
    const char *h = a, *end;
    if (a[0] == '[') {
        h = a + 1;
        end = memchr(a, ']', n);
        if (!end)
            end = a + n;
    } else {
        end = memchr(a, ':', n);
        if (!end)
            end = a + n;
    }
    snprintf(host, hlen, "%.*s", (int)(end - h), h);
}

static void remember_host(struct har *h, const char *host)
{
    for (int i = 0; i < h->nhosts; i++)
        if (strcasecmp(h->hosts[i], host) == 0)
            return;
    if (h->nhosts < MAX_HOSTS_SHOWN)
        snprintf(h->hosts[h->nhosts++], sizeof h->hosts[0], "%.*s", (int)sizeof h->hosts[0] - 1,
                 host);
}

/* request.headers[]: {"name", "value"} pairs; returns whether a Cookie
 * header was among them through *cookie. */
static int add_headers(struct har *h, struct import_request *q, yajl_val req, const char *rp,
                       int *cookie)
{
    char hp[PATHLEN], ip[PATHLEN], err[256];
    yajl_val hs = NULL;
    int rc = get_container(req, rp, "headers", 0, 1, &hs, hp, h->e);
    if (rc)
        return rc < 0 ? -1 : 0;
    /* generous (pseudo-headers and dropped ones count too), but bounded:
     * each repeated name is joined, a copy that grows with the repeats */
    if (hs->u.array.len > MAX_RECORDED_HEADERS)
        return json_fail(h->e, hp, "more than %d headers", MAX_RECORDED_HEADERS);
    for (size_t i = 0; i < hs->u.array.len; i++) {
        yajl_val hv = hs->u.array.values[i];
        json_path_index(ip, sizeof ip, hp, i);
        if (!YAJL_IS_OBJECT(hv))
            return json_fail(h->e, ip, "expected an object with name and value, got %s",
                        json_type_name(hv));
        const char *name, *value;
        if (json_get_string(hv, ip, "name", 1, &name, h->e) < 0 ||
            json_get_string(hv, ip, "value", 1, &value, h->e) < 0)
            return -1;
        if (import_request_header(h->d, q, name, value, err, sizeof err) < 0)
            return json_fail(h->e, ip, "%s", err);
        if (strcasecmp(name, "Cookie") == 0)
            *cookie = 1;
    }
    return 0;
}

/* request.cookies[] as one Cookie header, for recordings that list the
 * cookies but not the header. */
static int add_cookies(struct har *h, struct import_request *q, yajl_val req, const char *rp)
{
    char cp[PATHLEN], ip[PATHLEN], err[256];
    yajl_val cs = NULL;
    int rc = get_container(req, rp, "cookies", 0, 1, &cs, cp, h->e);
    if (rc)
        return rc < 0 ? -1 : 0;
    struct sbuf b = { 0 };
    for (size_t i = 0; i < cs->u.array.len; i++) {
        yajl_val cv = cs->u.array.values[i];
        json_path_index(ip, sizeof ip, cp, i);
        const char *name, *value;
        if (!YAJL_IS_OBJECT(cv)) {
            sbuf_deinit(&b);
            return json_fail(h->e, ip, "expected an object with name and value, got %s",
                        json_type_name(cv));
        }
        if (json_get_string(cv, ip, "name", 1, &name, h->e) < 0 ||
            json_get_string(cv, ip, "value", 1, &value, h->e) < 0) {
            sbuf_deinit(&b);
            return -1;
        }
        if (b.len)
            sbuf_adds(&b, "; ");
        sbuf_adds(&b, name);
        sbuf_addc(&b, '=');
        sbuf_adds(&b, value);
    }
    rc = 0;
    if (b.len) {
        rc = import_request_header(h->d, q, "Cookie", b.s, err, sizeof err);
        if (rc < 0)
            json_fail(h->e, cp, "%s", err);
        else
            import_def_note(h->d, "built Cookie headers from request.cookies where no Cookie "
                                  "header was recorded");
    }
    sbuf_deinit(&b);
    return rc;
}

/* request.postData: text as written; else params, form-encoded. A
 * recorded mimeType becomes the Content-Type when no header gave one. */
static int add_body(struct har *h, struct import_request *q, yajl_val req, const char *rp)
{
    char pp[PATHLEN], path[PATHLEN], ip[PATHLEN], err[256];
    yajl_val pd = NULL;
    int rc = get_container(req, rp, "postData", 0, 0, &pd, pp, h->e);
    if (rc)
        return rc < 0 ? -1 : 0;
    const char *text = NULL, *mime = NULL;
    if (json_get_string(pd, pp, "text", 0, &text, h->e) < 0 ||
        json_get_string(pd, pp, "mimeType", 0, &mime, h->e) < 0)
        return -1;
    struct sbuf b = { 0 };
    yajl_val params = NULL;
    if (!text) {
        rc = get_container(pd, pp, "params", 0, 1, &params, path, h->e);
        if (rc < 0)
            return -1;
        for (size_t i = 0; params && i < params->u.array.len; i++) {
            yajl_val pv = params->u.array.values[i];
            const char *name, *value = "", *file = NULL;
            json_path_index(ip, sizeof ip, path, i);
            if (!YAJL_IS_OBJECT(pv)) {
                sbuf_deinit(&b);
                return json_fail(h->e, ip, "expected an object with name and value, got %s",
                            json_type_name(pv));
            }
            if (json_get_string(pv, ip, "name", 1, &name, h->e) < 0 ||
                json_get_string(pv, ip, "value", 0, &value, h->e) < 0 ||
                json_get_string(pv, ip, "fileName", 0, &file, h->e) < 0) {
                sbuf_deinit(&b);
                return -1;
            }
            if (file) {
                sbuf_deinit(&b);
                return json_fail(h->e, ip, "a file upload (%.60s) cannot be imported: the HAR does "
                                      "not hold the file", file);
            }
            if (b.len)
                sbuf_addc(&b, '&');
            import_urlencode(&b, name, strlen(name));
            sbuf_addc(&b, '=');
            import_urlencode(&b, value, strlen(value));
        }
        if (!params) /* postData with neither: nothing was recorded */
            return 0;
        text = b.s ? b.s : "";
        import_def_note(h->d, "form bodies were rebuilt from postData.params (no postData.text "
                              "was recorded)");
    }
    rc = import_request_body(q, text, strlen(text), err, sizeof err);
    if (rc < 0)
        json_fail(h->e, json_path(path, sizeof path, pp, "text"), "%s", err);
    if (rc == 0 && mime && *mime && !import_request_header_value(q, "Content-Type")) {
        rc = import_request_header(h->d, q, "Content-Type", mime, err, sizeof err);
        if (rc < 0)
            json_fail(h->e, json_path(path, sizeof path, pp, "mimeType"), "%s", err);
    }
    sbuf_deinit(&b);
    return rc;
}

static int add_entry(struct har *h, yajl_val ent, const char *ep)
{
    char rp[PATHLEN], up[PATHLEN], err[256];
    if (!YAJL_IS_OBJECT(ent))
        return json_fail(h->e, ep, "expected an object, got %s", json_type_name(ent));
    yajl_val req = NULL;
    if (get_container(ent, ep, "request", 1, 0, &req, rp, h->e) < 0)
        return -1;
    const char *method, *url;
    if (json_get_string(req, rp, "method", 1, &method, h->e) < 0 ||
        json_get_string(req, rp, "url", 1, &url, h->e) < 0)
        return -1;
    json_path(up, sizeof up, rp, "url");
    if (!is_http(url)) {
        h->not_http++;
        return 0;
    }
    char host[256], auth[320];
    url_host(url, host, sizeof host, auth, sizeof auth);
    if (h->host && strcasecmp(h->host, host) != 0 && strcasecmp(h->host, auth) != 0) {
        remember_host(h, host);
        h->filtered++;
        return 0;
    }
    if (!import_method_supported(method)) {
        import_def_note(h->d, "skipped %.20s requests: a script step sends GET, HEAD, POST, "
                              "PUT, PATCH, DELETE or OPTIONS", method);
        return 0;
    }
    if (h->kept == IMPORT_MAX_STEPS) {
        h->left_out++;
        return 0;
    }
    struct import_request *q = import_def_add(h->d, method, url, err, sizeof err);
    if (!q)
        return json_fail(h->e, up, "%s", err);
    int cookie = 0;
    if (add_headers(h, q, req, rp, &cookie) < 0 || (!cookie && add_cookies(h, q, req, rp) < 0) ||
        add_body(h, q, req, rp) < 0)
        return -1;
    if (import_request_header_value(q, "Accept-Encoding"))
        import_def_note(h->d, "recorded Accept-Encoding headers are kept: Stampede does not "
                              "decompress responses; it counts the bytes as received");
    h->kept++;
    return 0;
}

/* The notes that sum up what was left out, then the definition. */
static int finish(struct har *h, const char *entries_path, unsigned flags,
                  struct import_result *out)
{
    if (h->kept == 0) {
        if (h->host && h->filtered) {
            char list[400] = "";
            size_t n = 0;
            for (int i = 0; i < h->nhosts && n < sizeof list; i++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                                      h->hosts[i]);
            return json_fail(h->e, entries_path, "no request has the host '%s' (hosts in the file: "
                                            "%s%s)", h->host, list,
                        h->nhosts == MAX_HOSTS_SHOWN ? ", ..." : "");
        }
        return json_fail(h->e, entries_path, "no http(s) request to import");
    }
    if (h->not_http)
        import_def_note(h->d, "skipped %d entr%s that are not http(s) requests (data:, blob:, "
                              "ws: ...)", h->not_http, h->not_http == 1 ? "y" : "ies");
    if (h->filtered)
        import_def_note(h->d, "left out %d request%s to other hosts than '%s'", h->filtered,
                        h->filtered == 1 ? "" : "s", h->host);
    if (h->left_out)
        import_def_note(h->d, "kept the first %d requests and left out %d more: a script has at "
                              "most %d steps (filter by host to choose)", IMPORT_MAX_STEPS,
                        h->left_out, IMPORT_MAX_STEPS);
    return import_def_finish(h->d, flags, out, h->e);
}

int import_har_tree(yajl_val har, const char *path, const char *host, unsigned flags,
                    struct import_result *out, struct json_err *e)
{
    memset(out, 0, sizeof *out);
    char lp[PATHLEN], ep[PATHLEN], ip[PATHLEN];
    if (!YAJL_IS_OBJECT(har))
        return json_fail(e, path, "expected a HAR document (an object with \"log\"), got %s",
                    json_type_name(har));
    yajl_val log = NULL, entries = NULL;
    if (get_container(har, path, "log", 1, 0, &log, lp, e) < 0 ||
        get_container(log, lp, "entries", 1, 1, &entries, ep, e) < 0)
        return -1;
    struct har h;
    memset(&h, 0, sizeof h);
    h.d = import_def_new();
    h.host = host && *host ? host : NULL;
    h.e = e;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < entries->u.array.len; i++)
        rc = add_entry(&h, entries->u.array.values[i], json_path_index(ip, sizeof ip, ep, i));
    if (rc == 0)
        rc = finish(&h, ep, flags, out);
    import_def_free(h.d);
    return rc;
}

int import_har(const char *har, size_t len, const char *host, unsigned flags,
               struct import_result *out, struct json_err *e)
{
    memset(out, 0, sizeof *out);
    yajl_val root = json_parse(har, len, JSON_MAX_DEPTH, e);
    if (!root)
        return -1;
    int rc = import_har_tree(root, "", host, flags, out, e);
    yajl_tree_free(root);
    return rc;
}
