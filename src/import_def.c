/* import_def: requests gathered by an importer, the header and URL rules
 * they share, and the script definition written from them. */
#include "import_def.h"

#include "script.h"
#include "xmalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NOTES 32     /* more are counted, not kept: input can make notes cheaply */
#define MAX_NAME 64      /* script step name limit */
#define MAX_NAME_BASE 60 /* leaves room for a "_64" suffix */
/* a name is made unique with a suffix of at most "_" + the step count */
_Static_assert(MAX_NAME_BASE + 3 <= MAX_NAME && IMPORT_MAX_STEPS < 100, "step names fit");

struct import_header {
    char *name;
    char *value;
};

struct import_request {
    char *method;       /* upper case, one the script accepts */
    int tls;
    char *host;         /* without brackets */
    uint16_t port;
    char *authority;    /* "host" or "host:port", as a script writes Host */
    char *target;       /* "/path?query", only bytes a request line carries */
    struct import_header headers[IMPORT_MAX_HEADERS];
    int nheaders;
    char *body;         /* NULL = no body */
    char *timeout;      /* NULL = the script's default */
};

struct import_def {
    struct import_request **reqs;
    int nreqs;
    int insecure;
    char **notes;
    size_t nnotes;
    size_t notes_dropped; /* past MAX_NOTES */
};

/* ---- results ---- */

void import_result_deinit(struct import_result *r)
{
    if (!r)
        return;
    free(r->definition);
    for (size_t i = 0; i < r->nnotes; i++)
        free(r->notes[i]);
    free(r->notes);
    memset(r, 0, sizeof *r);
}

/* ---- strings ---- */

void import_urlencode(struct sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            sbuf_addc(b, (char)c);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            sbuf_add(b, esc, 3);
        }
    }
}


int import_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p++;
        int more;
        uint32_t cp, min;
        if (c < 0x80)
            continue;
        if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (end - p < more)
            return 0;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3f);
        }
        /* overlong forms, UTF-16 surrogates and values past Unicode */
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
    }
    return 1;
}

void import_utf8_scrub(char *s)
{
    while (*s) {
        unsigned char c = (unsigned char)*s;
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (n && strnlen(s, n) == n && import_utf8_valid(s, n)) {
            s += n;
        } else {
            *s++ = '?';
        }
    }
}

/* ---- the definition ---- */

struct import_def *import_def_new(void)
{
    return xcalloc(1, sizeof(struct import_def));
}

static void request_free(struct import_request *r)
{
    free(r->method);
    free(r->host);
    free(r->authority);
    free(r->target);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->body);
    free(r->timeout);
    free(r);
}

void import_def_free(struct import_def *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->nreqs; i++)
        request_free(d->reqs[i]);
    free(d->reqs);
    for (size_t i = 0; i < d->nnotes; i++)
        free(d->notes[i]);
    free(d->notes);
    free(d);
}

void import_def_note(struct import_def *d, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    import_utf8_scrub(buf); /* notes quote the input, perhaps cut inside a character */
    for (size_t i = 0; i < d->nnotes; i++)
        if (strcmp(d->notes[i], buf) == 0)
            return;
    if (d->nnotes == MAX_NOTES) {
        d->notes_dropped++;
        return;
    }
    d->notes = xrealloc(d->notes, (d->nnotes + 1) * sizeof *d->notes);
    d->notes[d->nnotes++] = xstrdup(buf);
}

void import_def_insecure(struct import_def *d)
{
    d->insecure = 1;
}

int import_def_nrequests(const struct import_def *d)
{
    return d->nreqs;
}

static int is_hex(int c)
{
    return isxdigit(c) != 0;
}

/* The URL with its fragment cut off and, after the authority, every byte a
 * script refuses in a request-target percent-encoded. *changed says
 * whether anything was encoded. Caller frees. */
static char *encode_url(const char *url, int *changed)
{
    static const char hex[] = "0123456789ABCDEF";
    struct sbuf b = { 0 };
    const char *sep = strstr(url, "://");
    const char *rest = sep ? sep + 3 + strcspn(sep + 3, "/?#") : url;
    sbuf_add(&b, url, (size_t)(rest - url));
    *changed = 0;
    for (const char *p = rest; *p && *p != '#'; p++) {
        unsigned char c = (unsigned char)*p;
        int bad = c <= 0x20 || c >= 0x7f ||
                  (c == '%' && !(is_hex((unsigned char)p[1]) && is_hex((unsigned char)p[2])));
        if (bad) {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            sbuf_add(&b, esc, 3);
            *changed = 1;
        } else {
            sbuf_addc(&b, (char)c);
        }
    }
    return sbuf_take(&b, NULL);
}

/* The method as a script writes it (upper case), or NULL. */
static const char *canonical_method(const char *method)
{
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                            "OPTIONS", NULL };
    for (const char *const *m = methods; *m; m++)
        if (strcasecmp(*m, method) == 0)
            return *m;
    return NULL;
}

int import_method_supported(const char *method)
{
    return canonical_method(method) != NULL;
}

struct import_request *import_def_add(struct import_def *d, const char *method, const char *url,
                                      char *err, size_t errlen)
{
    if (d->nreqs == IMPORT_MAX_STEPS) {
        snprintf(err, errlen, "more than %d requests (a script has at most %d steps)",
                 IMPORT_MAX_STEPS, IMPORT_MAX_STEPS);
        return NULL;
    }
    const char *canon = canonical_method(method);
    if (!canon) {
        snprintf(err, errlen,
                 "method '%.40s' is not supported (use GET, HEAD, POST, PUT, PATCH, DELETE or "
                 "OPTIONS)", method);
        return NULL;
    }
    int changed = 0;
    char *clean = encode_url(url, &changed);
    struct script_origin o;
    char *target = NULL, why[256];
    if (script_parse_url(clean, &o, &target, why, sizeof why) < 0) {
        snprintf(err, errlen, "URL '%.100s%s': %s", url, strlen(url) > 100 ? "..." : "", why);
        free(clean);
        return NULL;
    }
    free(clean);
    if (changed)
        import_def_note(d, "the URL had bytes a request line cannot carry (spaces, control or "
                           "non-ASCII bytes, or a '%%' starting no %%XX escape); they were "
                           "percent-encoded");
    struct import_request *r = xcalloc(1, sizeof *r);
    r->method = xstrdup(canon);
    r->tls = o.tls;
    r->port = o.port;
    r->host = o.host;           /* taken over from o */
    r->authority = o.authority;
    r->target = target;
    d->reqs = xrealloc(d->reqs, (size_t)(d->nreqs + 1) * sizeof *d->reqs);
    d->reqs[d->nreqs++] = r;
    return r;
}

/* ---- headers ---- */

static int is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const struct {
    const char *name;
    const char *why;
} dropped_headers[] = {
    { "Host", "Stampede sets it from the URL" },
    { "Content-Length", "Stampede sets it from the body" },
    { "Transfer-Encoding", "Stampede sends every body with a Content-Length" },
    { "Connection", "Stampede manages its connections (keep-alive) itself" },
    { "Keep-Alive", "it is about one connection (hop-by-hop), not the request" },
    { "Proxy-Connection", "it is about one connection (hop-by-hop), not the request" },
    { "TE", "it is about one connection (hop-by-hop), not the request" },
    { "Upgrade", "it is about one connection (hop-by-hop), not the request" },
};

int import_request_header(struct import_def *d, struct import_request *r, const char *name,
                          const char *value, char *err, size_t errlen)
{
    if (name[0] == ':') {
        import_def_note(d, "dropped HTTP/2 pseudo-headers (:method, :authority, :path, ...): "
                           "the method and URL carry them");
        return 0;
    }
    if (!*name) {
        snprintf(err, errlen, "empty header name");
        return -1;
    }
    for (const char *c = name; *c; c++)
        if (!is_tchar((unsigned char)*c)) {
            snprintf(err, errlen,
                     "header name '%.60s' is not valid (use letters, digits and "
                     "!#$%%&'*+-.^_`|~)", name);
            return -1;
        }
    for (size_t i = 0; i < sizeof dropped_headers / sizeof dropped_headers[0]; i++)
        if (strcasecmp(name, dropped_headers[i].name) == 0) {
            import_def_note(d, "dropped the %s header: %s", dropped_headers[i].name,
                            dropped_headers[i].why);
            return 0;
        }

    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '\r' || c == '\n') {
            snprintf(err, errlen, "header '%.60s': the value contains a line break", name);
            return -1;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf(err, errlen, "header '%.60s': the value contains a control character",
                     name);
            return -1;
        }
    }
    if (!import_utf8_valid(value, n)) {
        snprintf(err, errlen, "header '%.60s': the value is not UTF-8 text", name);
        return -1;
    }

    for (int i = 0; i < r->nheaders; i++) {
        struct import_header *h = &r->headers[i];
        if (strcasecmp(h->name, name) != 0)
            continue;
        /* A script gives each name once; a list-valued header means the
         * same joined with commas (RFC 9110 5.3), cookies with "; ". */
        const char *sep = strcasecmp(name, "Cookie") == 0 ? "; " : ", ";
        char *joined = xasprintf("%s%s%.*s", h->value, sep, (int)n, value);
        free(h->value);
        h->value = joined;
        import_def_note(d, "joined the repeated %s headers into one, separated by '%s' (a "
                           "script gives each header once)", h->name, sep);
        return 0;
    }
    if (r->nheaders == IMPORT_MAX_HEADERS) {
        snprintf(err, errlen, "more than %d headers (a script step has at most %d)",
                 IMPORT_MAX_HEADERS, IMPORT_MAX_HEADERS);
        return -1;
    }
    r->headers[r->nheaders].name = xstrdup(name);
    r->headers[r->nheaders].value = xstrndup(value, n);
    r->nheaders++;
    return 0;
}

const char *import_request_header_value(const struct import_request *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

int import_request_body(struct import_request *r, const char *body, size_t len, char *err,
                        size_t errlen)
{
    if (memchr(body, '\0', len)) {
        snprintf(err, errlen, "the body contains a NUL byte (binary bodies are not supported)");
        return -1;
    }
    if (!import_utf8_valid(body, len)) {
        snprintf(err, errlen, "the body is not UTF-8 text (binary bodies are not supported)");
        return -1;
    }
    free(r->body);
    r->body = xstrndup(body, len);
    return 0;
}

void import_request_timeout(struct import_request *r, const char *duration)
{
    free(r->timeout);
    r->timeout = xstrdup(duration);
}

/* ---- writing ---- */

static int same_origin(const struct import_request *a, const struct import_request *b)
{
    return a->tls == b->tls && a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

/* "get_users_42" from GET /users/42?x=1: the method, then each run of
 * letters and digits in the path (%XX escapes separate, like punctuation);
 * "request" when the path has none. */
static void base_name(const struct import_request *r, char *out, size_t outlen)
{
    size_t n = 0, words = 0;
    for (const char *m = r->method; *m && n + 1 < outlen; m++)
        out[n++] = (char)tolower((unsigned char)*m);
    int gap = 1;
    for (const char *p = r->target; *p && *p != '?'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            p += 2; /* an escaped byte separates words like the byte would */
            gap = 1;
            continue;
        }
        if (!isalnum(c)) {
            gap = 1;
            continue;
        }
        if (gap) {
            if (n + 2 >= outlen)
                break;
            out[n++] = '_';
            words++;
        }
        gap = 0;
        if (n + 1 >= outlen)
            break;
        out[n++] = (char)c;
    }
    while (n && out[n - 1] == '_')
        n--;
    out[n] = '\0';
    if (!words)
        snprintf(out, outlen, "request");
}

static int name_taken(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static void gen_step(yajl_gen g, const struct import_request *r, const struct import_request *first,
                     const char *name)
{
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "name", name);
    json_gen_kv_str(g, "method", r->method);
    if (same_origin(r, first)) {
        json_gen_kv_str(g, "path", r->target);
    } else {
        char *url = xasprintf("%s://%s%s", r->tls ? "https" : "http", r->authority, r->target);
        json_gen_kv_str(g, "url", url);
        free(url);
    }
    if (r->nheaders) {
        json_gen_cstr(g, "headers");
        yajl_gen_map_open(g);
        for (int i = 0; i < r->nheaders; i++)
            json_gen_kv_str(g, r->headers[i].name, r->headers[i].value);
        yajl_gen_map_close(g);
    }
    if (r->body)
        json_gen_kv_str(g, "body", r->body);
    if (r->timeout)
        json_gen_kv_str(g, "timeout", r->timeout);
    yajl_gen_map_close(g);
}

int import_def_finish(struct import_def *d, unsigned flags, struct import_result *out,
                      struct json_err *e)
{
    memset(out, 0, sizeof *out);
    if (d->nreqs == 0) {
        json_err_set(e, "", "nothing to import: no request was found");
        return -1;
    }
    const struct import_request *first = d->reqs[0];
    char **names = xcalloc((size_t)d->nreqs, sizeof *names);
    for (int i = 0; i < d->nreqs; i++) {
        char base[MAX_NAME_BASE + 1];
        base_name(d->reqs[i], base, sizeof base);
        names[i] = xstrdup(base);
        for (int k = 2; name_taken(names, i, names[i]); k++) {
            free(names[i]);
            names[i] = xasprintf("%s_%d", base, k);
        }
    }

    yajl_gen g = json_gen_new();
    if (flags & IMPORT_PRETTY) {
        yajl_gen_config(g, yajl_gen_beautify, 1);
        yajl_gen_config(g, yajl_gen_indent_string, "  ");
    }
    yajl_gen_map_open(g);
    char *target = xasprintf("%s://%s", first->tls ? "https" : "http", first->authority);
    json_gen_kv_str(g, "target", target);
    free(target);
    if (d->insecure)
        json_gen_kv_bool(g, "insecure_skip_tls_verify", 1);
    json_gen_cstr(g, "steps");
    yajl_gen_array_open(g);
    for (int i = 0; i < d->nreqs; i++)
        gen_step(g, d->reqs[i], first, names[i]);
    yajl_gen_array_close(g);
    json_gen_cstr(g, "load");
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "executor", "constant-vus");
    json_gen_kv_int(g, "vus", 1);
    json_gen_kv_str(g, "duration", "30s");
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    size_t len = 0;
    char *doc = json_gen_finish(g, &len);
    for (int i = 0; i < d->nreqs; i++)
        free(names[i]);
    free(names);

    /* The contract is "script_parse accepts it": check rather than trust
     * that every rule above matches script.c's. */
    struct script *s = NULL;
    struct json_err se = { "", "" };
    if (script_parse(doc, len, &s, &se) < 0) {
        json_err_set(e, "", "the imported definition is not a valid script (a bug in the "
                            "importer): %s", se.message);
        free(doc);
        return -1;
    }
    script_free(s);
    if (d->notes_dropped) {
        char *more = xasprintf("... and %zu more notes", d->notes_dropped);
        d->notes = xrealloc(d->notes, (d->nnotes + 1) * sizeof *d->notes);
        d->notes[d->nnotes++] = more;
        d->notes_dropped = 0;
    }
    out->definition = doc;
    out->definition_len = len;
    out->notes = d->notes;
    out->nnotes = d->nnotes;
    d->notes = NULL;
    d->nnotes = 0;
    return 0;
}
