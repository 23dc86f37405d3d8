/* import_curl: read curl's options the way curl does, from words that
 * import_shell split (or the caller's argv), and hand the one request they
 * describe to import_def. */
#include "hex.h"
#include "import_curl.h"

#include "duration.h"
#include "import_shell.h"
#include "xmalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERRLEN 320

/* ---- curl's options ---- */

enum opt_kind {
    O_REQUEST, O_HEADER, O_DATA, O_DATA_RAW, O_DATA_URLENCODE, O_JSON,
    O_USER, O_USER_AGENT, O_COOKIE, O_REFERER, O_HEAD, O_GET, O_COMPRESSED, O_URL,
    O_INSECURE, O_MAX_TIME, O_OAUTH2_BEARER, O_URL_QUERY, O_GLOBOFF,
    O_IGNORE,  /* accepted, changes nothing about the request */
    O_NOTE,    /* accepted, with a note saying what is not carried over */
    O_REFUSE,  /* an error: what it needs cannot be done here */
};

struct curl_opt {
    char short_name;     /* 0 = long form only */
    const char *long_name;
    int has_value;
    enum opt_kind kind;
    const char *why;     /* O_NOTE, O_REFUSE: the text */
};

#define HTTP11_ONLY "Stampede speaks HTTP/1.1, so the request goes over HTTP/1.1"
#define NOT_FOLLOWED "Stampede does not follow redirects: the step measures the first response"

static const struct curl_opt curl_opts[] = {
    { 'X', "request", 1, O_REQUEST, NULL },
    { 'H', "header", 1, O_HEADER, NULL },
    { 'd', "data", 1, O_DATA, NULL },
    { 0, "data-ascii", 1, O_DATA, NULL },
    { 0, "data-raw", 1, O_DATA_RAW, NULL },
    { 0, "data-binary", 1, O_DATA, NULL }, /* -d strips newlines from files only */
    { 0, "data-urlencode", 1, O_DATA_URLENCODE, NULL },
    { 0, "json", 1, O_JSON, NULL },
    { 'u', "user", 1, O_USER, NULL },
    { 'A', "user-agent", 1, O_USER_AGENT, NULL },
    { 'b', "cookie", 1, O_COOKIE, NULL },
    { 'e', "referer", 1, O_REFERER, NULL },
    { 'I', "head", 0, O_HEAD, NULL },
    { 'G', "get", 0, O_GET, NULL },
    { 0, "compressed", 0, O_COMPRESSED, NULL },
    { 0, "url", 1, O_URL, NULL },
    { 'k', "insecure", 0, O_INSECURE, NULL },
    { 'm', "max-time", 1, O_MAX_TIME, NULL },
    { 0, "oauth2-bearer", 1, O_OAUTH2_BEARER, NULL },
    { 0, "url-query", 1, O_URL_QUERY, NULL },
    { 'g', "globoff", 0, O_GLOBOFF, NULL },
    /* output, progress and retry behaviour of the curl tool */
    { 's', "silent", 0, O_IGNORE, NULL },
    { 'S', "show-error", 0, O_IGNORE, NULL },
    { 'v', "verbose", 0, O_IGNORE, NULL },
    { 'i', "include", 0, O_IGNORE, NULL },
    { 'f', "fail", 0, O_IGNORE, NULL },
    { 0, "fail-with-body", 0, O_IGNORE, NULL },
    { 0, "fail-early", 0, O_IGNORE, NULL },
    { 'N', "no-buffer", 0, O_IGNORE, NULL },
    { '#', "progress-bar", 0, O_IGNORE, NULL },
    { 0, "no-progress-meter", 0, O_IGNORE, NULL },
    { 'o', "output", 1, O_IGNORE, NULL },
    { 0, "output-dir", 1, O_IGNORE, NULL },
    { 'O', "remote-name", 0, O_IGNORE, NULL },
    { 0, "remote-name-all", 0, O_IGNORE, NULL },
    { 'J', "remote-header-name", 0, O_IGNORE, NULL },
    { 0, "create-dirs", 0, O_IGNORE, NULL },
    { 'w', "write-out", 1, O_IGNORE, NULL },
    { 'D', "dump-header", 1, O_IGNORE, NULL },
    { 0, "stderr", 1, O_IGNORE, NULL },
    { 0, "trace", 1, O_IGNORE, NULL },
    { 0, "trace-ascii", 1, O_IGNORE, NULL },
    { 0, "trace-time", 0, O_IGNORE, NULL },
    { 'c', "cookie-jar", 1, O_IGNORE, NULL },
    { 'j', "junk-session-cookies", 0, O_IGNORE, NULL },
    { 0, "connect-timeout", 1, O_IGNORE, NULL },
    { 0, "retry", 1, O_IGNORE, NULL },
    { 0, "retry-delay", 1, O_IGNORE, NULL },
    { 0, "retry-max-time", 1, O_IGNORE, NULL },
    { 0, "retry-connrefused", 0, O_IGNORE, NULL },
    { 0, "retry-all-errors", 0, O_IGNORE, NULL },
    { 0, "max-redirs", 1, O_IGNORE, NULL },
    { 0, "max-filesize", 1, O_IGNORE, NULL },
    { 0, "keepalive-time", 1, O_IGNORE, NULL },
    { 0, "expect100-timeout", 1, O_IGNORE, NULL },
    { 0, "raw", 0, O_IGNORE, NULL },
    { 0, "tr-encoding", 0, O_IGNORE, NULL },
    { 0, "tcp-nodelay", 0, O_IGNORE, NULL },
    { 0, "keepalive", 0, O_IGNORE, NULL },
    { 0, "no-keepalive", 0, O_IGNORE, NULL },
    { 0, "no-sessionid", 0, O_IGNORE, NULL },
    { 0, "no-alpn", 0, O_IGNORE, NULL },
    { 0, "tcp-fastopen", 0, O_IGNORE, NULL },
    { 0, "path-as-is", 0, O_IGNORE, NULL },
    { '4', "ipv4", 0, O_IGNORE, NULL },
    { '6', "ipv6", 0, O_IGNORE, NULL },
    { 0, "basic", 0, O_IGNORE, NULL },
    { 'q', "disable", 0, O_IGNORE, NULL },
    { 'Z', "parallel", 0, O_IGNORE, NULL },
    { 0, "http1.1", 0, O_IGNORE, NULL },
    { 0, "ssl-no-revoke", 0, O_IGNORE, NULL },
    { 0, "ssl-revoke-best-effort", 0, O_IGNORE, NULL },
    { 0, "tlsv1", 0, O_IGNORE, NULL },
    { 0, "tlsv1.0", 0, O_IGNORE, NULL },
    { 0, "tlsv1.1", 0, O_IGNORE, NULL },
    { 0, "tlsv1.2", 0, O_IGNORE, NULL },
    { 0, "tlsv1.3", 0, O_IGNORE, NULL },
    { 0, "tls-max", 1, O_IGNORE, NULL },
    { 0, "ciphers", 1, O_IGNORE, NULL },
    { 0, "noproxy", 1, O_IGNORE, NULL },
    /* accepted, but the load test behaves differently: say how */
    { 'L', "location", 0, O_NOTE, NOT_FOLLOWED },
    { 0, "location-trusted", 0, O_NOTE, NOT_FOLLOWED },
    { '0', "http1.0", 0, O_NOTE, HTTP11_ONLY },
    { 0, "http2", 0, O_NOTE, HTTP11_ONLY },
    { 0, "http2-prior-knowledge", 0, O_NOTE, HTTP11_ONLY },
    { 0, "http3", 0, O_NOTE, HTTP11_ONLY },
    { 0, "http3-only", 0, O_NOTE, HTTP11_ONLY },
    { 'x', "proxy", 1, O_NOTE, "requests go straight to the target, not through a proxy" },
    { 'U', "proxy-user", 1, O_NOTE, "requests go straight to the target, not through a proxy" },
    { 0, "resolve", 1, O_NOTE, "the target's host name is resolved by DNS as usual" },
    { 0, "connect-to", 1, O_NOTE, "the target's host name is resolved by DNS as usual" },
    { 0, "cacert", 1, O_NOTE, "certificates are verified against the system's CA store "
                              "(or not at all with -k)" },
    { 0, "capath", 1, O_NOTE, "certificates are verified against the system's CA store "
                              "(or not at all with -k)" },
    { 0, "interface", 1, O_NOTE, "connections use the default interface" },
    { 0, "limit-rate", 1, O_NOTE, "transfers are not rate-limited" },
    /* cannot be done without files, a prompt or another auth scheme */
    { 'F', "form", 1, O_REFUSE, "multipart form uploads are not supported" },
    { 0, "form-string", 1, O_REFUSE, "multipart form uploads are not supported" },
    { 'T', "upload-file", 1, O_REFUSE, "uploading files is not supported" },
    { 'K', "config", 1, O_REFUSE, "reading files is not supported" },
    { 'E', "cert", 1, O_REFUSE, "client certificates are not supported" },
    { 0, "key", 1, O_REFUSE, "client certificates are not supported" },
    { 0, "digest", 0, O_REFUSE, "only Basic authentication (-u) is supported" },
    { 0, "ntlm", 0, O_REFUSE, "only Basic authentication (-u) is supported" },
    { 0, "negotiate", 0, O_REFUSE, "only Basic authentication (-u) is supported" },
    { 0, "anyauth", 0, O_REFUSE, "only Basic authentication (-u) is supported" },
    { 0, "aws-sigv4", 1, O_REFUSE, "request signing is not supported" },
    { ':', "next", 0, O_REFUSE, "one request per import: import each command on its own" },
    { 0, "unix-socket", 1, O_REFUSE, "requests go over TCP only" },
    { 0, "abstract-unix-socket", 1, O_REFUSE, "requests go over TCP only" },
};

#define NOPTS (sizeof curl_opts / sizeof curl_opts[0])

static const struct curl_opt *find_short(char c)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (curl_opts[i].short_name == c)
            return &curl_opts[i];
    return NULL;
}

static const struct curl_opt *find_long(const char *name, size_t n)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(curl_opts[i].long_name) == n && strncmp(curl_opts[i].long_name, name, n) == 0)
            return &curl_opts[i];
    return NULL;
}

/* A -H header, kept in order; value NULL = "Name:" (curl: do not send). */
struct custom_header {
    char *name;
    char *value;
};

/* Everything the options say about the request. Strings are borrowed from
 * the words unless noted. */
struct curl_req {
    const char *method;
    const char *urls[2];     /* the first two given; nurls counts all */
    int nurls;
    struct sbuf data; /* joined -d pieces (owned) */
    int have_data, last_json, any_json;
    struct sbuf query; /* --url-query pieces (owned) */
    int get, head, compressed, insecure, globoff;
    struct custom_header hdrs[IMPORT_MAX_HEADERS]; /* owned */
    int nhdrs;
    const char *user, *user_agent, *referer, *bearer;
    char user_flag[8];       /* "-u" or "--user", as given */
    struct sbuf cookies; /* owned */
    char timeout[32];
};

static void req_deinit(struct curl_req *r)
{
    sbuf_deinit(&r->data);
    sbuf_deinit(&r->query);
    sbuf_deinit(&r->cookies);
    for (int i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
}

static const struct custom_header *custom(const struct curl_req *r, const char *name)
{
    for (int i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0)
            return &r->hdrs[i];
    return NULL;
}

/* -H 'Name: value', 'Name;' (empty value) or 'Name:' (send none). */
static int opt_header(struct curl_req *r, const char *flag, const char *v, char *err, size_t errlen)
{
    if (v[0] == '@') {
        snprintf(err, errlen, "%s %.80s: reading files is not supported", flag, v);
        return -1;
    }
    const char *colon = strchr(v, ':');
    size_t nlen;
    const char *value;
    int remove = 0;
    if (colon) {
        nlen = (size_t)(colon - v);
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        remove = *value == '\0';
    } else {
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n == 0 || v[n - 1] != ';') {
            snprintf(err, errlen, "%s '%.80s': expected 'Name: value'", flag, v);
            return -1;
        }
        nlen = n - 1;
        value = "";
    }
    while (nlen && (v[nlen - 1] == ' ' || v[nlen - 1] == '\t'))
        nlen--;
    if (nlen == 0) {
        snprintf(err, errlen, "%s '%.80s': the header has no name", flag, v);
        return -1;
    }
    if (r->nhdrs == IMPORT_MAX_HEADERS) {
        snprintf(err, errlen, "more than %d headers (a script step has at most %d)",
                 IMPORT_MAX_HEADERS, IMPORT_MAX_HEADERS);
        return -1;
    }
    char *name = xstrndup(v, nlen);
    if (remove) {
        /* curl drops its own header of that name, and earlier -H ones */
        for (int i = 0; i < r->nhdrs; i++)
            if (strcasecmp(r->hdrs[i].name, name) == 0 && r->hdrs[i].value) {
                free(r->hdrs[i].value);
                r->hdrs[i].value = NULL;
            }
    }
    r->hdrs[r->nhdrs].name = name;
    r->hdrs[r->nhdrs].value = remove ? NULL : xstrdup(value);
    r->nhdrs++;
    return 0;
}

/* Append one -d piece the way curl joins them: '&' between pieces, except
 * between two --json pieces, which are concatenated. */
static void add_data(struct curl_req *r, const char *s, size_t n, int json)
{
    if (r->have_data && !(json && r->last_json))
        sbuf_addc(&r->data, '&');
    if (!r->data.s)
        sbuf_add(&r->data, "", 0);
    sbuf_add(&r->data, s, n);
    r->have_data = 1;
    r->last_json = json;
    r->any_json |= json;
}

/* --data-urlencode and --url-query: "content", "=content", "name=content"
 * encode the content; "@file" and "name@file" read a file (an error);
 * the first '=' or '@' decides. --url-query's "+content" is sent as is. */
static int urlencode_piece(struct sbuf *out, const char *flag, const char *v, int plus_raw,
                           char *err, size_t errlen)
{
    if (plus_raw && v[0] == '+') {
        sbuf_adds(out, v + 1);
        return 0;
    }
    const char *sep = strpbrk(v, "=@");
    if (sep && *sep == '@') {
        snprintf(err, errlen, "%s %.80s: reading files is not supported", flag, v);
        return -1;
    }
    if (sep) {
        sbuf_add(out, v, (size_t)(sep - v));
        if (sep > v)
            sbuf_addc(out, '=');
        v = sep + 1;
    }
    import_urlencode(out, v, strlen(v));
    return 0;
}

static int parse_max_time(struct curl_req *r, struct import_def *d, const char *flag,
                          const char *v, char *err, size_t errlen)
{
    char *end;
    double s = strtod(v, &end);
    if (end == v || *end || !isfinite(s) || s < 0 || s > 86400.0 * 365) {
        snprintf(err, errlen, "%s '%.40s': expected a number of seconds", flag, v);
        return -1;
    }
    uint64_t us = (uint64_t)llround(s * 1e6);
    if (us == 0) {
        import_def_note(d, "%s 0 means no time limit in curl; the step keeps Stampede's "
                           "default timeout (60s)", flag);
        r->timeout[0] = '\0';
        return 0;
    }
    duration_format(us, r->timeout, sizeof r->timeout);
    return 0;
}

/* Apply one option with its value (NULL when it takes none). flag is the
 * spelling the user gave ("-d", "--data"), for messages. */
static int apply(struct curl_req *r, struct import_def *d, const struct curl_opt *o,
                 const char *flag, const char *v, int off, char *err, size_t errlen)
{
    switch (o->kind) {
    case O_REQUEST:
        r->method = v;
        return 0;
    case O_HEADER:
        return opt_header(r, flag, v, err, errlen);
    case O_DATA:
    case O_JSON:
        if (v[0] == '@') {
            snprintf(err, errlen, "%s %.80s: reading files is not supported", flag, v);
            return -1;
        }
        add_data(r, v, strlen(v), o->kind == O_JSON);
        return 0;
    case O_DATA_RAW:
        add_data(r, v, strlen(v), 0);
        return 0;
    case O_DATA_URLENCODE: {
        struct sbuf piece = { 0 };
        int rc = urlencode_piece(&piece, flag, v, 0, err, errlen);
        if (rc == 0)
            add_data(r, piece.s ? piece.s : "", piece.len, 0);
        sbuf_deinit(&piece);
        return rc;
    }
    case O_URL_QUERY:
        if (r->query.len)
            sbuf_addc(&r->query, '&');
        return urlencode_piece(&r->query, flag, v, 1, err, errlen);
    case O_USER:
        r->user = v;
        snprintf(r->user_flag, sizeof r->user_flag, "%s", flag);
        return 0;
    case O_USER_AGENT:
        r->user_agent = v;
        return 0;
    case O_COOKIE:
        if (!strchr(v, '=')) {
            snprintf(err, errlen,
                     "%s %.80s: reading a cookie file is not supported (give the cookies as "
                     "'name=value; name2=value2')", flag, v);
            return -1;
        }
        if (r->cookies.len)
            sbuf_adds(&r->cookies, "; ");
        sbuf_adds(&r->cookies, v);
        return 0;
    case O_REFERER:
        r->referer = v;
        return 0;
    case O_HEAD:
        r->head = !off;
        return 0;
    case O_GET:
        r->get = !off;
        return 0;
    case O_COMPRESSED:
        r->compressed = !off;
        return 0;
    case O_INSECURE:
        r->insecure = !off;
        return 0;
    case O_GLOBOFF:
        r->globoff = !off;
        return 0;
    case O_URL:
        if (r->nurls < 2)
            r->urls[r->nurls] = v;
        r->nurls++;
        return 0;
    case O_MAX_TIME:
        return parse_max_time(r, d, flag, v, err, errlen);
    case O_OAUTH2_BEARER:
        r->bearer = v;
        return 0;
    case O_IGNORE:
        return 0;
    case O_NOTE:
        if (!off)
            import_def_note(d, "ignored --%s: %s", o->long_name, o->why);
        return 0;
    case O_REFUSE:
        snprintf(err, errlen, "%s: %s", flag, o->why);
        return -1;
    }
    return 0;
}

static int parse_options(struct curl_req *r, struct import_def *d, int argc,
                         const char *const *argv, char *err, size_t errlen)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (a[0] == '-') {
                snprintf(err, errlen, "unexpected argument '-' (stdin is not read)");
                return -1;
            }
            if (r->nurls < 2)
                r->urls[r->nurls] = a;
            r->nurls++;
            continue;
        }
        if (a[1] == '-') {
            /* --name, --name value, --name=value, --no-name (booleans) */
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            int off = 0;
            const struct curl_opt *o = find_long(name, n);
            if (!o && n > 3 && strncmp(name, "no-", 3) == 0) {
                o = find_long(name + 3, n - 3);
                if (o && o->has_value)
                    o = NULL;
                off = o != NULL;
            }
            if (!o) {
                snprintf(err, errlen, "unknown option '--%.*s'", (int)(n > 60 ? 60 : n), name);
                return -1;
            }
            char flag[72];
            snprintf(flag, sizeof flag, "--%s", o->long_name);
            const char *v = NULL;
            if (o->has_value) {
                if (eq) {
                    v = eq + 1;
                } else if (i + 1 < argc) {
                    v = argv[++i];
                } else {
                    snprintf(err, errlen, "option '%s' needs a value", flag);
                    return -1;
                }
            } else if (eq) {
                snprintf(err, errlen, "option '%s' takes no value", flag);
                return -1;
            }
            if (apply(r, d, o, flag, v, off, err, errlen) < 0)
                return -1;
            continue;
        }
        /* -sSL, -XPOST, -sX POST: letters until one takes a value, which is
         * the rest of the word or else the next word */
        for (const char *c = a + 1; *c; c++) {
            const struct curl_opt *o = find_short(*c);
            if (!o) {
                snprintf(err, errlen, "unknown option '-%c'%s%.60s%s", *c,
                         a[2] ? " (in '" : "", a[2] ? a : "", a[2] ? "')" : "");
                return -1;
            }
            char flag[3] = { '-', *c, '\0' };
            const char *v = NULL;
            if (o->has_value) {
                if (c[1]) {
                    v = c + 1;
                } else if (i + 1 < argc) {
                    v = argv[++i];
                } else {
                    snprintf(err, errlen, "option '%s' needs a value", flag);
                    return -1;
                }
            }
            if (apply(r, d, o, flag, v, 0, err, errlen) < 0)
                return -1;
            if (o->has_value)
                break;
        }
    }
    return 0;
}

/* ---- from options to a request ---- */

static void base64(struct sbuf *b, const char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)u[i + 1] << 8;
        if (i + 2 < n)
            v |= u[i + 2];
        char q[4] = { tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                      i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '=' };
        sbuf_add(b, q, 4);
    }
}

static void percent_decode(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hex_digit((unsigned char)s[i + 1]) >= 0 &&
            hex_digit((unsigned char)s[i + 2]) >= 0) {
            sbuf_addc(b, (char)(hex_digit((unsigned char)s[i + 1]) * 16 +
                                      hex_digit((unsigned char)s[i + 2])));
            i += 2;
        } else {
            sbuf_addc(b, s[i]);
        }
    }
}

/* 1 if s[0..n) has curl URL-pattern characters; "${NAME}" is a shell
 * variable kept as written, not a pattern. */
static int has_glob(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            const char *close = memchr(s + i, '}', n - i);
            if (close) {
                i = (size_t)(close - s);
                continue;
            }
        }
        if (s[i] == '[' || s[i] == ']' || s[i] == '{' || s[i] == '}')
            return 1;
    }
    return 0;
}

/* The URL to request: a scheme added when missing (http://, as curl
 * guesses), user info moved out into *userinfo (owned, decoded), the
 * fragment dropped, --url-query and -G data added to the query. */
static char *build_url(const struct curl_req *r, struct import_def *d, char **userinfo)
{
    struct sbuf b = { 0 };
    const char *u = r->urls[0];
    const char *scheme_end = strstr(u, "://");
    /* "host:8080/x?next=http://y" has no scheme: only letters may precede :// */
    if (scheme_end) {
        for (const char *c = u; c < scheme_end; c++)
            if (!isalnum((unsigned char)*c) && *c != '+' && *c != '-' && *c != '.')
                scheme_end = NULL;
    }
    if (!scheme_end) {
        sbuf_adds(&b, "http://");
    } else {
        sbuf_add(&b, u, (size_t)(scheme_end + 3 - u));
        u = scheme_end + 3;
    }
    size_t alen = strcspn(u, "/?#");
    const char *at = NULL;
    for (const char *c = u; c < u + alen; c++)
        if (*c == '@')
            at = c;
    *userinfo = NULL;
    if (at) {
        struct sbuf ui = { 0 };
        percent_decode(&ui, u, (size_t)(at - u));
        *userinfo = sbuf_take(&ui, NULL);
        u = at + 1;
        alen = strcspn(u, "/?#");
    }
    size_t rest = strcspn(u, "#");
    sbuf_add(&b, u, rest);
    if (!r->globoff && has_glob(u + alen, rest - alen))
        import_def_note(d, "the URL has [ ] { } characters, which curl expands as a URL pattern "
                           "unless -g/--globoff is given; they were kept as written");
    /* curl adds --url-query pieces, then -G data, each after '&' or '?' */
    int has_query = memchr(u + alen, '?', rest - alen) != NULL;
    const struct sbuf *extra[2] = { &r->query, r->get && r->have_data ? &r->data : NULL };
    for (int i = 0; i < 2; i++) {
        if (!extra[i] || !extra[i]->len)
            continue;
        char last = b.s[b.len - 1];
        if (!has_query)
            sbuf_addc(&b, '?');
        else if (last != '?' && last != '&')
            sbuf_addc(&b, '&');
        has_query = 1;
        sbuf_add(&b, extra[i]->s, extra[i]->len);
    }
    return sbuf_take(&b, NULL);
}

/* A header curl derives from an option (-A, -u, -b, ...), unless a -H of
 * the same name replaces it or removes it, as in curl. */
static int derived(struct import_def *d, struct import_request *q, const struct curl_req *r,
                   const char *name, const char *value, const char *from, char *err,
                   size_t errlen)
{
    if (custom(r, name)) {
        if (from)
            import_def_note(d, "ignored %s: the %s header given with -H takes its place", from,
                            name);
        return 0;
    }
    return import_request_header(d, q, name, value, err, errlen);
}

/* Add the request the options describe to d: the method as curl picks it,
 * the URL, the headers options derive (in the order curl sends them), the
 * -H headers in order, a default Content-Type, the body and the timeout.
 * Returns 0, or -1 with err set. */
static int build(struct curl_req *r, struct import_def *d, char *err, size_t errlen)
{
    if (r->nurls == 0) {
        snprintf(err, errlen, "no URL given");
        return -1;
    }
    if (r->nurls > 1) {
        snprintf(err, errlen,
                 "several URLs given ('%.60s' and '%.60s'%s): one request per import", r->urls[0],
                 r->urls[1], r->nurls > 2 ? ", ..." : "");
        return -1;
    }
    int body = r->have_data && !r->get;
    if (r->head && body && !r->method) {
        snprintf(err, errlen, "-I/--head cannot be combined with -d/--data: a HEAD request has "
                              "no body (add -G to send the data in the query string)");
        return -1;
    }
    if (r->user && !strchr(r->user, ':')) {
        snprintf(err, errlen, "%s '%.60s': no password given (curl would prompt for it; write "
                              "user:password)", r->user_flag, r->user);
        return -1;
    }
    const char *method = r->method ? r->method : r->head ? "HEAD" : body ? "POST" : "GET";

    char *userinfo = NULL;
    char *url = build_url(r, d, &userinfo);
    struct import_request *q = import_def_add(d, method, url, err, errlen);
    free(url);
    if (!q) {
        free(userinfo);
        return -1;
    }

    int rc = 0;
    struct sbuf v = { 0 };
    if (userinfo && r->user) {
        import_def_note(d, "ignored the user name in the URL: %s takes its place", r->user_flag);
    } else if (userinfo) {
        /* curl sends a URL's user name with an empty password when none is given */
        if (!strchr(userinfo, ':')) {
            char *withpw = xasprintf("%s:", userinfo);
            free(userinfo);
            userinfo = withpw;
        }
        import_def_note(d, "moved the user name and password in the URL into an "
                           "Authorization: Basic header");
    }
    const char *user = r->user ? r->user : userinfo;
    if (user) {
        sbuf_adds(&v, "Basic ");
        base64(&v, user, strlen(user));
        rc = derived(d, q, r, "Authorization", v.s,
                     r->user ? r->user_flag : "the user name in the URL", err, errlen);
        sbuf_deinit(&v);
    } else if (r->bearer) {
        sbuf_adds(&v, "Bearer ");
        sbuf_adds(&v, r->bearer);
        rc = derived(d, q, r, "Authorization", v.s, "--oauth2-bearer", err, errlen);
        sbuf_deinit(&v);
    }
    if (rc == 0 && r->user_agent)
        rc = derived(d, q, r, "User-Agent", r->user_agent, "-A/--user-agent", err, errlen);
    if (rc == 0 && r->referer) {
        size_t n = strlen(r->referer);
        const char *ref = r->referer;
        char *copy = NULL;
        if (n >= 5 && strcmp(ref + n - 5, ";auto") == 0) {
            copy = xstrndup(ref, n - 5);
            ref = copy;
            import_def_note(d, "ignored ';auto' in the referer: redirects are not followed");
        }
        if (*ref)
            rc = derived(d, q, r, "Referer", ref, "-e/--referer", err, errlen);
        free(copy);
    }
    if (rc == 0 && r->cookies.len)
        rc = derived(d, q, r, "Cookie", r->cookies.s, "-b/--cookie", err, errlen);
    if (rc == 0 && r->any_json)
        rc = derived(d, q, r, "Accept", "application/json", NULL, err, errlen);
    if (rc == 0 && r->compressed) {
        rc = derived(d, q, r, "Accept-Encoding", "gzip, deflate, br", NULL, err, errlen);
        import_def_note(d, "--compressed: Stampede does not decompress responses; it counts the "
                           "bytes as received");
    }
    for (int i = 0; rc == 0 && i < r->nhdrs; i++) {
        const struct custom_header *h = &r->hdrs[i];
        if (h->value) {
            rc = import_request_header(d, q, h->name, h->value, err, errlen);
        } else if (strcasecmp(h->name, "User-Agent") == 0) {
            import_def_note(d, "-H 'User-Agent:' removes curl's User-Agent; Stampede sends its "
                               "own (set user_agent in the script to change it)");
        }
    }
    if (rc == 0 && body)
        rc = derived(d, q, r, "Content-Type",
                     r->any_json ? "application/json" : "application/x-www-form-urlencoded", NULL,
                     err, errlen);
    if (rc == 0 && body)
        rc = import_request_body(q, r->data.s, r->data.len, err, errlen);
    if (rc == 0 && r->timeout[0])
        import_request_timeout(q, r->timeout);
    if (r->insecure)
        import_def_insecure(d);
    sbuf_deinit(&v);
    free(userinfo);
    return rc;
}

static int is_curl(const char *w)
{
    const char *base = w;
    for (const char *c = w; *c; c++)
        if (*c == '/' || *c == '\\')
            base = c + 1;
    return strcmp(base, "curl") == 0 || strcasecmp(base, "curl.exe") == 0;
}

/* Options words (after "curl") into a definition. */
static int from_words(struct import_def *d, int argc, const char *const *argv, unsigned flags,
                      struct import_result *out, struct json_err *e)
{
    char err[ERRLEN] = "";
    struct curl_req r;
    memset(&r, 0, sizeof r);
    int rc = parse_options(&r, d, argc, argv, err, sizeof err);
    if (rc == 0)
        rc = build(&r, d, err, sizeof err);
    req_deinit(&r);
    if (rc < 0) {
        json_err_set(e, "", "%s", err);
        return -1;
    }
    return import_def_finish(d, flags, out, e);
}

int import_curl(const char *command, unsigned flags, struct import_result *out,
                struct json_err *e)
{
    memset(out, 0, sizeof *out);
    struct import_def *d = import_def_new();
    struct import_words w = { 0 };
    char err[ERRLEN];
    int rc = import_shell_split(command, d, &w, err, sizeof err);
    int first = w.n > 0 && strcmp(w.v[0], "$") == 0; /* a "$ " prompt copied from docs */
    if (rc < 0) {
        json_err_set(e, "", "%s", err);
    } else if (first >= w.n) {
        json_err_set(e, "", "empty command: expected 'curl' followed by options and a URL");
        rc = -1;
    } else if (!is_curl(w.v[first])) {
        json_err_set(e, "", "expected a curl command, got '%.60s' as the first word", w.v[first]);
        rc = -1;
    } else {
        rc = from_words(d, w.n - first - 1, (const char *const *)w.v + first + 1, flags, out, e);
    }
    import_words_deinit(&w);
    import_def_free(d);
    return rc;
}

int import_curl_argv(int argc, const char *const *argv, unsigned flags, struct import_result *out,
                     struct json_err *e)
{
    memset(out, 0, sizeof *out);
    int first = argc > 0 && is_curl(argv[0]) ? 1 : 0;
    struct import_def *d = import_def_new();
    int rc = from_words(d, argc - first, argv + first, flags, out, e);
    import_def_free(d);
    return rc;
}
