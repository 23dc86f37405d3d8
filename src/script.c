/* script: parse and validate a load test definition (JSON) into a struct
 * script. Every error names the field's path; a failed parse frees all it
 * built. The format is documented in docs/script-format.md. */
#include "script.h"

#include "duration.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_STEPS 64
#define MAX_STEP_NAME 64
#define MAX_HEADERS 64
#define MAX_STAGES 100
#define MAX_VUS SCRIPT_MAX_VUS
#define MAX_ITERATIONS 1000000000
#define MAX_RATE SCRIPT_MAX_RATE
#define MAX_URL 8192
#define MAX_HOST 253
#define MAX_EXPR 128
#define DEFAULT_USER_AGENT "stampede/" PACKAGE_VERSION
#define DEFAULT_TIMEOUT_US (60 * 1000000ull)
#define DEFAULT_BACKOFF_MIN_US (10 * 1000ull)
#define DEFAULT_BACKOFF_MAX_US (1000 * 1000ull)
#define DEFAULT_GRACEFUL_STOP_US (30 * 1000000ull)
#define DEFAULT_MAX_DURATION_US (10 * 60 * 1000000ull)
#define DEFAULT_TIME_UNIT_US 1000000ull

typedef char path_t[sizeof ((struct json_err *)0)->field];


/* ---- generic field helpers ---- */

/* "preAllocatedVUs" and "pre_allocated_vus" both squash to "preallocatedvus":
 * lets us point k6 users at the snake_case name they meant. */
static void squash(const char *s, char *out, size_t len)
{
    size_t n = 0;
    for (; *s && n + 1 < len; s++)
        if (*s != '_' && *s != '-')
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

static int in_list(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(*list, k) == 0)
            return 1;
    return 0;
}

/* Like json_check_keys, with a "did you mean" for camelCase spellings. */
static int check_keys(yajl_val obj, const char *parent, const char *const *allowed,
                      struct json_err *e)
{
    for (size_t i = 0; i < obj->u.object.len; i++) {
        const char *k = obj->u.object.keys[i];
        if (in_list(k, allowed))
            continue;
        path_t path;
        json_path(path, sizeof path, parent, k);
        char a[64], b[64];
        squash(k, a, sizeof a);
        for (const char *const *al = allowed; *al; al++) {
            squash(*al, b, sizeof b);
            if (strcmp(a, b) == 0)
                return json_fail(e, path, "unknown field (did you mean \"%s\"?)", *al);
        }
        return json_fail(e, path, "unknown field");
    }
    return 0;
}

/* The member must be an object (or absent when not required). */
static int get_object(yajl_val obj, const char *parent, const char *key, int required,
                      yajl_val *out, struct json_err *e)
{
    path_t path;
    int rc = 0;
    yajl_val v = json_member(obj, parent, key, required, path, sizeof path, e, &rc);
    if (!v)
        return rc;
    if (!YAJL_IS_OBJECT(v))
        return json_fail(e, path, "expected an object, got %s", json_type_name(v));
    *out = v;
    return 0;
}

/* Durations are strings with a unit. 0 found, 1 absent (not required), -1 error. */
static int get_duration(yajl_val obj, const char *parent, const char *key, int required,
                        uint64_t *out, struct json_err *e)
{
    path_t path;
    int rc = 0;
    yajl_val v = json_member(obj, parent, key, required, path, sizeof path, e, &rc);
    if (!v)
        return rc;
    if (YAJL_IS_STRING(v)) {
        if (duration_parse(v->u.string, out) == 0)
            return 0;
        return json_fail(e, path, "expected a duration like \"30s\" (units: us, ms, s, m, h), got \"%.40s\"",
                    v->u.string);
    }
    if (YAJL_IS_NUMBER(v))
        return json_fail(e, path, "expected a duration like \"30s\", got %.40s (a bare number has no unit)",
                    v->u.number.r);
    return json_fail(e, path, "expected a duration like \"30s\", got %s", json_type_name(v));
}

static int get_positive_duration(yajl_val obj, const char *parent, const char *key, int required,
                                 uint64_t *out, struct json_err *e)
{
    int rc = get_duration(obj, parent, key, required, out, e);
    if (rc == 0 && *out == 0) {
        path_t path;
        return json_fail(e, json_path(path, sizeof path, parent, key), "must be longer than 0");
    }
    return rc;
}

static int get_int(yajl_val obj, const char *parent, const char *key, int required, int64_t min,
                   int64_t max, int *out, struct json_err *e)
{
    int64_t v;
    int rc = json_get_int(obj, parent, key, required, min, max, &v, e);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

/* ---- URLs ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* What may appear in a request-target: printable ASCII, no spaces, and
 * '%' only as the start of a %XX escape. */
static int check_target_chars(const char *s, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') {
            snprintf(err, errlen, "contains a space (write it as %%20)");
            return -1;
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(err, errlen, "contains a control character");
            return -1;
        }
        if (c >= 0x80) {
            snprintf(err, errlen, "contains a non-ASCII character (percent-encode it, e.g. %%C3%%A9)");
            return -1;
        }
        if (c == '%' && (i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 ||
                         hexval((unsigned char)s[i + 2]) < 0)) {
            snprintf(err, errlen, "has a '%%' that does not start a %%XX escape (write %%25)");
            return -1;
        }
    }
    return 0;
}

static int host_char(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Contract: on success fills *o (release with script_origin_deinit) and
 * *target ("/path?query", caller frees); a fragment is dropped, as a
 * browser would. On failure returns -1 with err set, *o zeroed and
 * *target NULL. */
int script_parse_url(const char *url, struct script_origin *o, char **target, char *err,
                     size_t errlen)
{
    memset(o, 0, sizeof *o);
    *target = NULL;
    size_t len = strlen(url);
    if (len == 0) {
        snprintf(err, errlen, "empty URL");
        return -1;
    }
    if (len > MAX_URL) {
        snprintf(err, errlen, "longer than %d bytes", MAX_URL);
        return -1;
    }
    const char *p = url;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (p == url || strncmp(p, "://", 3) != 0) {
        snprintf(err, errlen, "expected an absolute URL like \"http://host:port/path\"");
        return -1;
    }
    size_t slen = (size_t)(p - url);
    int tls;
    if (slen == 4 && strncasecmp(url, "http", 4) == 0) {
        tls = 0;
    } else if (slen == 5 && strncasecmp(url, "https", 5) == 0) {
        tls = 1;
    } else {
        snprintf(err, errlen, "unsupported scheme \"%.*s\" (use http or https)",
                 (int)(slen > 16 ? 16 : slen), url);
        return -1;
    }

    const char *a = p + 3;
    size_t alen = strcspn(a, "/?#");
    const char *rest = a + alen;
    if (check_target_chars(a, alen, err, errlen) < 0)
        return -1;
    if (memchr(a, '@', alen)) {
        snprintf(err, errlen,
                 "user info (user:password@) is not supported; send an Authorization header instead");
        return -1;
    }
    if (alen == 0) {
        snprintf(err, errlen, "missing host");
        return -1;
    }

    const char *host, *portp = NULL;
    size_t hlen, portlen = 0;
    int v6 = 0;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close) {
            snprintf(err, errlen, "unterminated IPv6 address (no ']')");
            return -1;
        }
        host = a + 1;
        hlen = (size_t)(close - host);
        char buf[INET6_ADDRSTRLEN + 1];
        struct in6_addr in6;
        if (hlen == 0 || hlen >= sizeof buf) {
            snprintf(err, errlen, "bad IPv6 address");
            return -1;
        }
        memcpy(buf, host, hlen);
        buf[hlen] = '\0';
        if (inet_pton(AF_INET6, buf, &in6) != 1) {
            snprintf(err, errlen, "\"[%s]\" is not an IPv6 address", buf);
            return -1;
        }
        const char *after = close + 1;
        if (after < a + alen) {
            if (*after != ':') {
                snprintf(err, errlen, "unexpected characters after ']'");
                return -1;
            }
            portp = after + 1;
            portlen = (size_t)(a + alen - portp);
        }
        v6 = 1;
    } else {
        const char *colon = memchr(a, ':', alen);
        host = a;
        hlen = colon ? (size_t)(colon - a) : alen;
        if (colon) {
            portp = colon + 1;
            portlen = (size_t)(a + alen - portp);
            if (memchr(portp, ':', portlen)) {
                snprintf(err, errlen, "an IPv6 address must be in brackets, e.g. http://[::1]:8080/");
                return -1;
            }
        }
        if (hlen == 0) {
            snprintf(err, errlen, "missing host");
            return -1;
        }
        if (hlen > MAX_HOST) {
            snprintf(err, errlen, "host name longer than %d characters", MAX_HOST);
            return -1;
        }
        for (size_t i = 0; i < hlen; i++)
            if (!host_char((unsigned char)host[i])) {
                snprintf(err, errlen, "bad character '%c' in host", host[i]);
                return -1;
            }
    }

    unsigned port = tls ? 443 : 80;
    if (portp) {
        if (portlen == 0) {
            snprintf(err, errlen, "empty port after ':'");
            return -1;
        }
        unsigned v = 0;
        for (size_t i = 0; i < portlen; i++) {
            if (!isdigit((unsigned char)portp[i]) || v > 65535) {
                v = 0;
                break;
            }
            v = v * 10 + (unsigned)(portp[i] - '0');
        }
        if (v == 0 || v > 65535) {
            snprintf(err, errlen, "port must be a number from 1 to 65535, got \"%.*s\"",
                     (int)(portlen > 16 ? 16 : portlen), portp);
            return -1;
        }
        port = v;
    }

    size_t rlen = strcspn(rest, "#");
    if (check_target_chars(rest, rlen, err, errlen) < 0)
        return -1;

    o->tls = tls;
    o->host = xstrndup(host, hlen);
    o->port = (uint16_t)port;
    int dflt = port == (tls ? 443u : 80u);
    if (v6)
        o->authority = dflt ? xasprintf("[%s]", o->host) : xasprintf("[%s]:%u", o->host, port);
    else
        o->authority = dflt ? xstrdup(o->host) : xasprintf("%s:%u", o->host, port);
    if (rest[0] == '/')
        *target = xstrndup(rest, rlen);
    else
        *target = xasprintf("/%.*s", (int)rlen, rest); /* "" or "?query" */
    return 0;
}

void script_origin_deinit(struct script_origin *o)
{
    if (!o)
        return;
    free(o->host);
    free(o->authority);
    o->host = NULL;
    o->authority = NULL;
}

/* Index of the origin equal to o in s->origins, added (copied) if new. */
static int intern_origin(struct script *s, const struct script_origin *o)
{
    for (int i = 0; i < s->norigins; i++) {
        const struct script_origin *x = &s->origins[i];
        if (x->tls == o->tls && x->port == o->port && strcasecmp(x->host, o->host) == 0)
            return i;
    }
    s->origins = xrealloc(s->origins, (size_t)(s->norigins + 1) * sizeof *s->origins);
    struct script_origin *n = &s->origins[s->norigins];
    n->tls = o->tls;
    n->host = xstrdup(o->host);
    n->port = o->port;
    n->authority = xstrdup(o->authority);
    return s->norigins++;
}

/* ---- steps ---- */

/* The top-level target, once parsed: steps with a path are sent there. */
struct base {
    int have;
    struct script_origin origin;
    char *prefix; /* target's path without trailing '/': "" or "/api" */
    int retry_stale; /* the top-level default for every step, -1 = by method */
};

static int parse_name(struct script *s, yajl_val step, const char *sp, int idx, struct json_err *e)
{
    path_t path;
    json_path(path, sizeof path, sp, "name");
    const char *name;
    if (json_get_string(step, sp, "name", 1, &name, e) < 0)
        return -1;
    size_t n = strlen(name);
    if (n == 0)
        return json_fail(e, path, "must not be empty");
    if (n > MAX_STEP_NAME)
        return json_fail(e, path, "longer than %d characters", MAX_STEP_NAME);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return json_fail(e, path, "\"%s\": use only letters, digits, '_', '.' and '-'", name);
    }
    for (int i = 0; i < idx; i++)
        if (strcmp(s->steps[i].name, name) == 0) {
            char other[32];
            return json_fail(e, path, "\"%s\" is already the name of %s", name,
                             script_step_path(s, i, other, sizeof other));
        }
    s->steps[idx].name = xstrdup(name);
    return 0;
}

static int parse_method(struct script_step *st, yajl_val step, const char *sp, struct json_err *e)
{
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                           "OPTIONS", NULL };
    const char *m = "GET";
    if (json_get_string(step, sp, "method", 0, &m, e) < 0)
        return -1;
    char up[16];
    size_t n = strlen(m);
    if (n < sizeof up) {
        for (size_t i = 0; i <= n; i++)
            up[i] = (char)toupper((unsigned char)m[i]);
        for (const char *const *x = methods; *x; x++)
            if (strcmp(*x, up) == 0) {
                st->method = xstrdup(*x);
                return 0;
            }
    }
    path_t path;
    return json_fail(e, json_path(path, sizeof path, sp, "method"),
                "\"%.20s\" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", m);
}

/* Exactly one of path (joined to the target) or url (its own origin). */
static int parse_where(struct script *s, struct script_step *st, yajl_val step, const char *sp,
                       const struct base *b, struct json_err *e)
{
    path_t path;
    const char *rel = NULL, *url = NULL;
    if (json_get_string(step, sp, "path", 0, &rel, e) < 0 ||
        json_get_string(step, sp, "url", 0, &url, e) < 0)
        return -1;
    if (rel && url)
        return json_fail(e, sp, "has both path and url; give one");
    if (!rel && !url)
        return json_fail(e, sp, "needs a path (sent to the top-level target) or a url");
    char err[256];
    if (url) {
        json_path(path, sizeof path, sp, "url");
        struct script_origin o;
        if (script_parse_url(url, &o, &st->target, err, sizeof err) < 0)
            return json_fail(e, path, "%s", err);
        st->origin = intern_origin(s, &o);
        st->url_given = 1;
        script_origin_deinit(&o);
        return 0;
    }
    json_path(path, sizeof path, sp, "path");
    if (rel[0] != '/') {
        if (strstr(rel, "://"))
            return json_fail(e, path, "must start with \"/\" (for an absolute URL use \"url\")");
        return json_fail(e, path, "must start with \"/\", got \"%.40s\"", rel);
    }
    size_t n = strcspn(rel, "#");
    if (n > MAX_URL)
        return json_fail(e, path, "longer than %d bytes", MAX_URL);
    if (check_target_chars(rel, n, err, sizeof err) < 0)
        return json_fail(e, path, "%s", err);
    if (!b->have) {
        /* Say which step needs it: the fix is at the top level. */
        return json_fail(e, "target", "required because %s uses a path (or give every step a url)", sp);
    }
    st->origin = intern_origin(s, &b->origin);
    st->target = xasprintf("%s%.*s", b->prefix, (int)n, rel);
    return 0;
}

static int is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int parse_headers(struct script_step *st, yajl_val step, const char *sp, struct json_err *e)
{
    static const char *const forbidden[] = { "Host", "Content-Length", "Transfer-Encoding",
                                             "Connection", NULL };
    path_t hp, path;
    json_path(hp, sizeof hp, sp, "headers");
    yajl_val h = NULL;
    int rc = get_object(step, sp, "headers", 0, &h, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    size_t n = h->u.object.len;
    if (n > MAX_HEADERS)
        return json_fail(e, hp, "at most %d headers", MAX_HEADERS);
    /* +1: room for a default Content-Type added by parse_body */
    st->headers = xcalloc(n + 1, sizeof *st->headers);
    for (size_t i = 0; i < n; i++) {
        const char *name = h->u.object.keys[i];
        yajl_val v = h->u.object.values[i];
        json_path(path, sizeof path, hp, name);
        if (!*name)
            return json_fail(e, path, "empty header name");
        for (const char *c = name; *c; c++)
            if (!is_tchar((unsigned char)*c))
                return json_fail(e, path, "\"%.40s\" is not a valid header name", name);
        for (const char *const *f = forbidden; *f; f++)
            if (strcasecmp(*f, name) == 0)
                return json_fail(e, path, "%s is set by Stampede and cannot be given", *f);
        for (int j = 0; j < st->nheaders; j++)
            if (strcasecmp(st->headers[j].name, name) == 0)
                return json_fail(e, path, "given twice (header names are case-insensitive)");
        if (!YAJL_IS_STRING(v))
            return json_fail(e, path, "expected a string, got %s", json_type_name(v));
        for (const char *c = v->u.string; *c; c++) {
            if (*c == '\r' || *c == '\n')
                return json_fail(e, path, "the value must not contain CR or LF");
            if ((unsigned char)*c < 0x20 && *c != '\t')
                return json_fail(e, path, "the value must not contain control characters");
            if (*c == 0x7f)
                return json_fail(e, path, "the value must not contain control characters");
        }
        st->headers[st->nheaders].name = xstrdup(name);
        st->headers[st->nheaders].value = xstrdup(v->u.string);
        st->nheaders++;
    }
    return 0;
}

/* Write v compactly; numbers keep the text they were written with. */
static void gen_value(yajl_gen g, yajl_val v)
{
    if (YAJL_IS_STRING(v)) {
        yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
    } else if (YAJL_IS_NUMBER(v)) {
        yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            yajl_gen_string(g, (const unsigned char *)k, strlen(k));
            gen_value(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            gen_value(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_TRUE(v)) {
        yajl_gen_bool(g, 1);
    } else if (YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, 0);
    } else {
        yajl_gen_null(g);
    }
}

static int parse_body(struct script_step *st, yajl_val step, const char *sp, struct json_err *e)
{
    yajl_val v = json_get(step, "body");
    if (!v)
        return 0;
    if (YAJL_IS_STRING(v)) {
        st->body_len = strlen(v->u.string);
        st->body = xstrdup(v->u.string);
        return 0;
    }
    if (!YAJL_IS_OBJECT(v) && !YAJL_IS_ARRAY(v)) {
        path_t path;
        return json_fail(e, json_path(path, sizeof path, sp, "body"),
                    "expected a string, an object or an array, got %s", json_type_name(v));
    }
    yajl_gen g = json_gen_new();
    gen_value(g, v);
    st->body = json_gen_finish(g, &st->body_len);
    st->body_json = 1;
    for (int i = 0; i < st->nheaders; i++)
        if (strcasecmp(st->headers[i].name, "Content-Type") == 0)
            return 0;
    if (!st->headers) /* parse_headers leaves room for one more */
        st->headers = xcalloc(1, sizeof *st->headers);
    st->headers[st->nheaders].name = xstrdup("Content-Type");
    st->headers[st->nheaders].value = xstrdup("application/json");
    st->nheaders++;
    return 0;
}

static int parse_checks(struct script_step *st, yajl_val step, const char *sp, struct json_err *e)
{
    static const char *const keys[] = { "status", "body_contains", "max_latency", NULL };
    path_t cp, path;
    json_path(cp, sizeof cp, sp, "checks");
    yajl_val c = NULL;
    int rc = get_object(step, sp, "checks", 0, &c, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (check_keys(c, cp, keys, e) < 0)
        return -1;

    yajl_val v = json_get(c, "status");
    json_path(path, sizeof path, cp, "status");
    if (YAJL_IS_INTEGER(v)) {
        long long n = YAJL_GET_INTEGER(v);
        if (n < 100 || n > 599)
            return json_fail(e, path, "must be between 100 and 599");
        st->checks.status = (int)n;
    } else if (YAJL_IS_STRING(v)) {
        const char *s = v->u.string;
        if (strlen(s) != 3 || s[0] < '2' || s[0] > '5' || tolower((unsigned char)s[1]) != 'x' ||
            tolower((unsigned char)s[2]) != 'x')
            return json_fail(e, path, "expected a status code like 200 or a class \"2xx\" to \"5xx\", got \"%.20s\"",
                        s);
        st->checks.status_class = s[0] - '0';
    } else if (v) {
        return json_fail(e, path, "expected a status code like 200 or a class like \"2xx\", got %s",
                    json_type_name(v));
    }

    const char *bc;
    rc = json_get_string(c, cp, "body_contains", 0, &bc, e);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        json_path(path, sizeof path, cp, "body_contains");
        if (!*bc)
            return json_fail(e, path, "must not be empty");
        if (strcmp(st->method, "HEAD") == 0)
            return json_fail(e, path, "a response to HEAD has no body");
        st->checks.body_contains = xstrdup(bc);
    }
    if (get_positive_duration(c, cp, "max_latency", 0, &st->checks.max_latency_us, e) < 0)
        return -1;
    return 0;
}

static int parse_step(struct script *s, yajl_val v, int idx, const struct base *b,
                      struct json_err *e)
{
    static const char *const keys[] = { "name", "method", "path", "url", "headers",
                                        "body", "timeout", "checks", "retry_stale", "extract", NULL };
    path_t sp;
    script_step_path(s, idx, sp, sizeof sp);
    if (!YAJL_IS_OBJECT(v))
        return json_fail(e, sp, "expected an object, got %s", json_type_name(v));
    if (check_keys(v, sp, keys, e) < 0)
        return -1;
    struct script_step *st = &s->steps[idx];
    st->timeout_us = DEFAULT_TIMEOUT_US;
    if (parse_name(s, v, sp, idx, e) < 0 || parse_method(st, v, sp, e) < 0 ||
        parse_where(s, st, v, sp, b, e) < 0 || parse_headers(st, v, sp, e) < 0 ||
        parse_body(st, v, sp, e) < 0 ||
        get_positive_duration(v, sp, "timeout", 0, &st->timeout_us, e) < 0 ||
        parse_checks(st, v, sp, e) < 0 || script_parse_extract(s, st, v, sp, e) < 0)
        return -1;
    /* RFC 9110 9.2.2: only idempotent requests may be repeated unasked */
    st->retry_stale = b->retry_stale >= 0 ? b->retry_stale
                      : strcmp(st->method, "POST") != 0 && strcmp(st->method, "PATCH") != 0;
    return json_get_bool(v, sp, "retry_stale", 0, &st->retry_stale, e);
}

static void step_deinit(struct script_step *st)
{
    free(st->name);
    free(st->method);
    free(st->target);
    for (int i = 0; i < st->nheaders; i++) {
        free(st->headers[i].name);
        free(st->headers[i].value);
    }
    free(st->headers);
    free(st->body);
    free(st->checks.body_contains);
    tmpl_deinit(&st->target_t);
    for (int i = 0; st->header_t && i < st->nheaders; i++)
        tmpl_deinit(&st->header_t[i]);
    free(st->header_t);
    tmpl_deinit(&st->body_t);
    for (int i = 0; i < st->nextract; i++)
        extract_free(&st->extract[i]);
    free(st->extract);
    free(st->uses);
}

/* ---- load ---- */

static const char *const exec_names[] = {
    [EXEC_CONSTANT_VUS] = "constant-vus",
    [EXEC_RAMPING_VUS] = "ramping-vus",
    [EXEC_CONSTANT_ARRIVAL_RATE] = "constant-arrival-rate",
    [EXEC_RAMPING_ARRIVAL_RATE] = "ramping-arrival-rate",
    [EXEC_PER_VU_ITERATIONS] = "per-vu-iterations",
};
#define NEXEC ((int)(sizeof exec_names / sizeof exec_names[0]))

/* The fields each executor takes, besides executor, warmup, graceful_stop
 * and (closed executors only) think_time. */
static const char *const exec_keys[][6] = {
    [EXEC_CONSTANT_VUS] = { "vus", "duration", NULL },
    [EXEC_RAMPING_VUS] = { "start_vus", "stages", NULL },
    [EXEC_CONSTANT_ARRIVAL_RATE] = { "rate", "time_unit", "duration", "pre_allocated_vus",
                                     "max_vus", NULL },
    [EXEC_RAMPING_ARRIVAL_RATE] = { "start_rate", "time_unit", "stages", "pre_allocated_vus",
                                    "max_vus", NULL },
    [EXEC_PER_VU_ITERATIONS] = { "vus", "iterations", "max_duration", NULL },
};

static const char *const load_keys[] = {
    "executor", "vus", "duration", "start_vus", "stages", "rate", "time_unit", "start_rate",
    "pre_allocated_vus", "max_vus", "iterations", "max_duration", "warmup", "graceful_stop",
    "think_time", NULL,
};

const char *script_executor_name(enum script_executor x)
{
    if ((int)x < 0 || (int)x >= NEXEC)
        return "unknown";
    return exec_names[x];
}

int script_load_is_open(const struct script_load *l)
{
    return l->executor == EXEC_CONSTANT_ARRIVAL_RATE || l->executor == EXEC_RAMPING_ARRIVAL_RATE;
}

uint64_t script_load_duration_us(const struct script_load *l)
{
    switch (l->executor) {
    case EXEC_CONSTANT_VUS:
    case EXEC_CONSTANT_ARRIVAL_RATE:
        return l->duration_us;
    case EXEC_RAMPING_VUS:
    case EXEC_RAMPING_ARRIVAL_RATE: {
        uint64_t sum = 0;
        for (int i = 0; i < l->nstages; i++)
            sum += l->stages[i].duration_us;
        return sum;
    }
    case EXEC_PER_VU_ITERATIONS:
        return l->max_duration_us;
    }
    return 0;
}

static int parse_stages(struct script_load *l, yajl_val load, struct json_err *e)
{
    static const char *const keys[] = { "duration", "target", NULL };
    yajl_val a = json_get(load, "stages");
    if (!a) {
        json_err_set(e, "load.stages", "load.stages is required");
        return -1;
    }
    if (!YAJL_IS_ARRAY(a))
        return json_fail(e, "load.stages", "expected an array, got %s", json_type_name(a));
    if (a->u.array.len < 1 || a->u.array.len > MAX_STAGES)
        return json_fail(e, "load.stages", "expected 1 to %d stages, got %zu", MAX_STAGES,
                    a->u.array.len);
    int vus = l->executor == EXEC_RAMPING_VUS;
    l->stages = xcalloc(a->u.array.len, sizeof *l->stages);
    l->nstages = (int)a->u.array.len;
    int any = vus ? l->start_vus > 0 : l->start_rate > 0;
    for (int i = 0; i < l->nstages; i++) {
        path_t sp;
        json_path_index(sp, sizeof sp, "load.stages", (size_t)i);
        yajl_val v = a->u.array.values[i];
        if (!YAJL_IS_OBJECT(v))
            return json_fail(e, sp, "expected an object, got %s", json_type_name(v));
        if (check_keys(v, sp, keys, e) < 0 ||
            get_duration(v, sp, "duration", 1, &l->stages[i].duration_us, e) < 0)
            return -1;
        if (vus) {
            int64_t t;
            if (json_get_int(v, sp, "target", 1, 0, MAX_VUS, &t, e) < 0)
                return -1;
            l->stages[i].target = (double)t;
        } else if (json_get_number(v, sp, "target", 1, 0, MAX_RATE, &l->stages[i].target, e) < 0) {
            return -1;
        }
        any |= l->stages[i].target > 0;
    }
    if (script_load_duration_us(l) == 0)
        return json_fail(e, "load.stages", "the stages add up to 0s; give at least one a duration");
    if (!any)
        return json_fail(e, "load.stages", "every stage targets 0 and so does %s: nothing would run",
                    vus ? "start_vus" : "start_rate");
    return 0;
}

static int parse_arrival(struct script_load *l, yajl_val load, struct json_err *e)
{
    if (get_positive_duration(load, "load", "time_unit", 0, &l->time_unit_us, e) < 0 ||
        get_int(load, "load", "pre_allocated_vus", 1, 1, MAX_VUS, &l->pre_allocated_vus, e) < 0)
        return -1;
    l->max_vus = l->pre_allocated_vus;
    if (get_int(load, "load", "max_vus", 0, 1, MAX_VUS, &l->max_vus, e) < 0)
        return -1;
    if (l->max_vus < l->pre_allocated_vus)
        return json_fail(e, "load.max_vus", "must be at least pre_allocated_vus (%d)",
                    l->pre_allocated_vus);
    return 0;
}

static int parse_load(struct script_load *l, yajl_val root, struct json_err *e)
{
    yajl_val load;
    if (get_object(root, "", "load", 1, &load, e) < 0)
        return -1;
    const char *ex;
    if (json_get_string(load, "load", "executor", 1, &ex, e) < 0)
        return -1;
    int x;
    for (x = 0; x < NEXEC; x++)
        if (strcmp(exec_names[x], ex) == 0)
            break;
    if (x == NEXEC)
        return json_fail(e, "load.executor",
                    "unknown executor \"%.40s\"; expected constant-vus, ramping-vus, "
                    "constant-arrival-rate, ramping-arrival-rate or per-vu-iterations",
                    ex);
    l->executor = (enum script_executor)x;
    int open = script_load_is_open(l);

    if (check_keys(load, "load", load_keys, e) < 0)
        return -1;
    for (size_t i = 0; i < load->u.object.len; i++) {
        const char *k = load->u.object.keys[i];
        if (strcmp(k, "executor") == 0 || strcmp(k, "warmup") == 0 ||
            strcmp(k, "graceful_stop") == 0 || in_list(k, exec_keys[x]))
            continue;
        path_t path;
        json_path(path, sizeof path, "load", k);
        if (strcmp(k, "think_time") == 0 && !open)
            continue;
        if (strcmp(k, "think_time") == 0)
            return json_fail(e, path,
                        "not used by %s: an arrival-rate executor starts iterations on a "
                        "schedule, so there is no pause between them (lower the rate instead)",
                        ex);
        return json_fail(e, path, "not used by %s", ex);
    }

    l->time_unit_us = DEFAULT_TIME_UNIT_US;
    l->graceful_stop_us = DEFAULT_GRACEFUL_STOP_US;
    switch (l->executor) {
    case EXEC_CONSTANT_VUS:
        if (get_int(load, "load", "vus", 1, 1, MAX_VUS, &l->vus, e) < 0 ||
            get_positive_duration(load, "load", "duration", 1, &l->duration_us, e) < 0)
            return -1;
        break;
    case EXEC_RAMPING_VUS:
        if (get_int(load, "load", "start_vus", 0, 0, MAX_VUS, &l->start_vus, e) < 0 ||
            parse_stages(l, load, e) < 0)
            return -1;
        break;
    case EXEC_CONSTANT_ARRIVAL_RATE:
        if (json_get_number(load, "load", "rate", 1, 0, MAX_RATE, &l->rate, e) < 0)
            return -1;
        if (l->rate <= 0)
            return json_fail(e, "load.rate", "must be greater than 0");
        if (get_positive_duration(load, "load", "duration", 1, &l->duration_us, e) < 0 ||
            parse_arrival(l, load, e) < 0)
            return -1;
        break;
    case EXEC_RAMPING_ARRIVAL_RATE:
        if (json_get_number(load, "load", "start_rate", 0, 0, MAX_RATE, &l->start_rate, e) < 0 ||
            parse_stages(l, load, e) < 0 || parse_arrival(l, load, e) < 0)
            return -1;
        break;
    case EXEC_PER_VU_ITERATIONS:
        l->max_duration_us = DEFAULT_MAX_DURATION_US;
        if (get_int(load, "load", "vus", 1, 1, MAX_VUS, &l->vus, e) < 0 ||
            get_int(load, "load", "iterations", 1, 1, MAX_ITERATIONS, &l->iterations, e) < 0 ||
            get_positive_duration(load, "load", "max_duration", 0, &l->max_duration_us, e) < 0)
            return -1;
        break;
    }

    if (get_duration(load, "load", "warmup", 0, &l->warmup_us, e) < 0 ||
        get_duration(load, "load", "graceful_stop", 0, &l->graceful_stop_us, e) < 0 ||
        get_duration(load, "load", "think_time", 0, &l->think_time_us, e) < 0)
        return -1;
    uint64_t total = script_load_duration_us(l);
    if (l->warmup_us && l->warmup_us >= total) {
        char d[32];
        return json_fail(e, "load.warmup", "must be shorter than the load (%s)",
                    duration_format(total, d, sizeof d));
    }
    return 0;
}

/* ---- thresholds ---- */

static int any_checks(const struct script *s, int step)
{
    for (int i = 0; i < s->nsteps; i++) {
        const struct script_checks *c = &s->steps[i].checks;
        if ((step < 0 || step == i) &&
            (c->status || c->status_class || c->body_contains || c->max_latency_us))
            return 1;
    }
    return 0;
}

/* One element of a metric's array: "p(95)<200" or {"threshold": ..., ...}. */
static int parse_threshold(struct script *s, enum threshold_metric m, int step, const char *mtext,
                           yajl_val v, const char *ep, struct json_err *e)
{
    static const char *const keys[] = { "threshold", "abort_on_fail", "delay_abort_eval", NULL };
    struct threshold t = { .metric = m, .step = step };
    const char *expr;
    path_t xp;
    snprintf(xp, sizeof xp, "%s", ep);
    if (YAJL_IS_STRING(v)) {
        expr = v->u.string;
    } else if (YAJL_IS_OBJECT(v)) {
        if (check_keys(v, ep, keys, e) < 0 || json_get_string(v, ep, "threshold", 1, &expr, e) < 0 ||
            json_get_bool(v, ep, "abort_on_fail", 0, &t.abort_on_fail, e) < 0 ||
            get_duration(v, ep, "delay_abort_eval", 0, &t.delay_abort_eval_us, e) < 0)
            return -1;
        json_path(xp, sizeof xp, ep, "threshold");
    } else {
        return json_fail(e, ep, "expected an expression like \"p(95)<200\" or an object with "
                           "\"threshold\", got %s",
                    json_type_name(v));
    }
    if (strlen(expr) > MAX_EXPR)
        return json_fail(e, xp, "longer than %d characters", MAX_EXPR);
    char err[256];
    if (threshold_parse_expr(m, expr, &t, err, sizeof err) < 0)
        return json_fail(e, xp, "%s", err);
    t.metric_text = xstrdup(mtext);
    t.expr_text = xstrdup(expr);
    s->thresholds = xrealloc(s->thresholds, (size_t)(s->nthresholds + 1) * sizeof *s->thresholds);
    s->thresholds[s->nthresholds++] = t;
    return 0;
}

static int parse_thresholds(struct script *s, yajl_val root, struct json_err *e)
{
    yajl_val th = NULL;
    int rc = get_object(root, "", "thresholds", 0, &th, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (size_t i = 0; i < th->u.object.len; i++) {
        const char *mtext = th->u.object.keys[i];
        yajl_val a = th->u.object.values[i];
        path_t mp;
        json_path(mp, sizeof mp, "thresholds", mtext);
        enum threshold_metric m;
        char sname[MAX_STEP_NAME + 1], err[320];
        if (threshold_parse_metric(mtext, &m, sname, sizeof sname, err, sizeof err) < 0)
            return json_fail(e, mp, "%s", err);
        int step = -1;
        if (sname[0]) {
            for (int j = 0; j < s->nsteps && step < 0; j++)
                if (strcmp(s->steps[j].name, sname) == 0)
                    step = j;
            if (step < 0)
                return json_fail(e, mp, "no step is named \"%s\"", sname);
        }
        if (m == TM_CHECKS && !any_checks(s, step))
            return step < 0 ? json_fail(e, mp, "no step has checks, so there is nothing to count")
                            : json_fail(e, mp, "step \"%s\" has no checks, so there is nothing to count",
                                   sname);
        if (!YAJL_IS_ARRAY(a))
            return json_fail(e, mp, "expected an array of expressions like [\"p(95)<200\"], got %s",
                        json_type_name(a));
        if (a->u.array.len == 0)
            return json_fail(e, mp, "empty: give at least one expression");
        for (size_t j = 0; j < a->u.array.len; j++) {
            path_t ep;
            json_path_index(ep, sizeof ep, mp, j);
            if (parse_threshold(s, m, step, mtext, a->u.array.values[j], ep, e) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- the script ---- */

static int parse_target(yajl_val root, struct base *b, struct json_err *e)
{
    const char *t;
    int rc = json_get_string(root, "", "target", 0, &t, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    char err[256];
    char *tp;
    if (script_parse_url(t, &b->origin, &tp, err, sizeof err) < 0)
        return json_fail(e, "target", "%s", err);
    b->have = 1;
    if (strchr(tp, '?')) {
        free(tp);
        return json_fail(e, "target", "must not have a query (put it in each step's path)");
    }
    size_t n = strlen(tp);
    while (n > 0 && tp[n - 1] == '/')
        tp[--n] = '\0';
    b->prefix = tp;
    return 0;
}

const char *script_step_path(const struct script *s, int i, char *buf, size_t len)
{
    if (i < s->nmain)
        json_path_index(buf, len, "steps", (size_t)i);
    else if (i < s->nmain + s->nsetup)
        json_path_index(buf, len, "setup", (size_t)(i - s->nmain));
    else
        json_path_index(buf, len, "teardown", (size_t)(i - s->nmain - s->nsetup));
    return buf;
}

/* The step arrays: "steps" (required), then "setup" and "teardown". */
static int parse_steps(struct script *s, yajl_val root, const struct base *b, struct json_err *e)
{
    static const char *const groups[] = { "steps", "setup", "teardown" };
    yajl_val a[3];
    size_t total = 0;
    for (int g = 0; g < 3; g++) {
        a[g] = json_get(root, groups[g]);
        if (!a[g] && g == 0) {
            json_err_set(e, "steps", "steps is required");
            return -1;
        }
        if (!a[g])
            continue;
        if (!YAJL_IS_ARRAY(a[g]))
            return json_fail(e, groups[g], "expected an array, got %s", json_type_name(a[g]));
        if (a[g]->u.array.len > MAX_STEPS || (g == 0 && a[g]->u.array.len < 1))
            return json_fail(e, groups[g], "expected %d to %d steps, got %zu", g == 0, MAX_STEPS,
                             a[g]->u.array.len);
        total += a[g]->u.array.len;
    }
    s->nmain = (int)a[0]->u.array.len;
    s->nsetup = a[1] ? (int)a[1]->u.array.len : 0;
    s->nteardown = a[2] ? (int)a[2]->u.array.len : 0;
    /* All slots exist from here on, zeroed, so script_free can release a
     * half-built array. */
    s->steps = xcalloc(total, sizeof *s->steps);
    s->nsteps = (int)total;
    int idx = 0;
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; a[g] && i < a[g]->u.array.len; i++, idx++)
            if (parse_step(s, a[g]->u.array.values[i], idx, b, e) < 0)
                return -1;
    return 0;
}

/* "backoff": false turns it off; {"min": "10ms", "max": "1s"} tunes it. */
static int parse_backoff(struct script_backoff *bo, yajl_val root, struct json_err *e)
{
    static const char *const keys[] = { "min", "max", NULL };
    bo->min_us = DEFAULT_BACKOFF_MIN_US;
    bo->max_us = DEFAULT_BACKOFF_MAX_US;
    yajl_val v = json_get(root, "backoff");
    if (!v || YAJL_IS_TRUE(v))
        return 0;
    if (YAJL_IS_FALSE(v)) {
        bo->min_us = bo->max_us = 0;
        return 0;
    }
    if (!YAJL_IS_OBJECT(v))
        return json_fail(e, "backoff", "expected false or an object like {\"min\": \"10ms\", "
                         "\"max\": \"1s\"}, got %s", json_type_name(v));
    if (check_keys(v, "backoff", keys, e) < 0 ||
        get_positive_duration(v, "backoff", "min", 0, &bo->min_us, e) < 0 ||
        get_positive_duration(v, "backoff", "max", 0, &bo->max_us, e) < 0)
        return -1;
    if (bo->max_us < bo->min_us)
        return json_fail(e, "backoff.max", "must not be shorter than backoff.min");
    return 0;
}

static int parse_options(struct script *s, yajl_val root, struct base *b, struct json_err *e)
{
    if (json_get_bool(root, "", "insecure_skip_tls_verify", 0, &s->insecure_skip_tls_verify, e) < 0)
        return -1;
    b->retry_stale = -1;
    if (json_get_bool(root, "", "retry_stale", 0, &b->retry_stale, e) < 0 ||
        parse_backoff(&s->backoff, root, e) < 0)
        return -1;
    const char *ua = DEFAULT_USER_AGENT;
    if (json_get_string(root, "", "user_agent", 0, &ua, e) < 0)
        return -1;
    if (!*ua)
        return json_fail(e, "user_agent", "must not be empty (leave it out for the default)");
    for (const char *c = ua; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return json_fail(e, "user_agent", "must not contain control characters (CR, LF, ...)");
    s->user_agent = xstrdup(ua);
    return 0;
}

static int build(yajl_val root, const char *base_dir, struct script **out, struct json_err *e)
{
    static const char *const keys[] = { "target", "steps", "load", "thresholds",
                                        "insecure_skip_tls_verify", "user_agent", "retry_stale",
                                        "backoff", "dataset", "setup", "teardown", "telemetry", NULL };
    *out = NULL;
    if (!YAJL_IS_OBJECT(root))
        return json_fail(e, "", "expected a JSON object at the top level, got %s",
                    json_type_name(root));
    if (check_keys(root, "", keys, e) < 0)
        return -1;

    struct script *s = xcalloc(1, sizeof *s);
    struct base b = { 0 };
    /* a telemetry script stands for steps and a load of its own making */
    yajl_val made = NULL, src = root;
    if (json_get(root, "telemetry")) {
        made = telemetry_expand(root, &s->telemetry, e);
        if (!made)
            goto fail;
        src = made;
    }
    if (parse_options(s, root, &b, e) < 0 || parse_target(root, &b, e) < 0 ||
        parse_steps(s, src, &b, e) < 0 || parse_load(&s->load, src, e) < 0 ||
        parse_thresholds(s, root, e) < 0 || script_parse_dataset(s, root, base_dir, e) < 0 ||
        script_compile_templates(s, e) < 0)
        goto fail;
    if (made)
        yajl_tree_free(made);
    script_origin_deinit(&b.origin);
    free(b.prefix);
    *out = s;
    return 0;

fail:
    if (made)
        yajl_tree_free(made);
    script_origin_deinit(&b.origin);
    free(b.prefix);
    script_free(s);
    return -1;
}

int script_from_json(yajl_val root, struct script **out, struct json_err *e)
{
    return build(root, NULL, out, e);
}

int script_parse_at(const char *json, size_t len, const char *base_dir, struct script **out,
                    struct json_err *e)
{
    *out = NULL;
    yajl_val root = json_parse(json, len, JSON_MAX_DEPTH, e);
    if (!root)
        return -1;
    int rc = build(root, base_dir, out, e);
    yajl_tree_free(root);
    return rc;
}

int script_parse(const char *json, size_t len, struct script **out, struct json_err *e)
{
    return script_parse_at(json, len, NULL, out, e);
}

void script_free(struct script *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->norigins; i++)
        script_origin_deinit(&s->origins[i]);
    free(s->origins);
    for (int i = 0; i < s->nsteps; i++)
        step_deinit(&s->steps[i]);
    free(s->steps);
    free(s->load.stages);
    for (int i = 0; i < s->nthresholds; i++)
        threshold_deinit(&s->thresholds[i]);
    free(s->thresholds);
    free(s->user_agent);
    script_dataset_free(s->dataset);
    telemetry_free(s->telemetry);
    tmpl_syms_deinit(&s->vars);
    free(s);
}
