/* stampede-target: the HTTP/1.1 (and HTTPS) server that integration tests drive.
 * Each request picks a misbehaviour by its path (delay, reset, hang-up, slow or
 * malformed reply, stall) and the server counts exactly what it received, so a
 * test can compare the load client's counts with GET /__stats. See README.md. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "log.h"
#include "xmalloc.h"

#define TAG "target"

enum { IO_OK = 0, IO_AGAIN = 1, IO_ERR = -1 };

#define MAX_HEAD       (64 * 1024)   /* request line + header fields; also all trailers */
#define MAX_TARGET     8192
#define MAX_CHUNK_LINE 4096
#define MAX_ECHO_BODY  (64u << 20)
#define MAX_PATHS      1024          /* distinct by_path keys; later paths count as "(other)" */
#define MAX_MS         3600000u
#define READ_HIGH      (1024 * 1024) /* stop reading a socket past this much unparsed input */
#define WRITE_LOW      (64 * 1024)   /* on_write runs when output drains to this */
#define OUT_HIGH       (256 * 1024)  /* stop parsing and generating past this much output */
#define FILL_CHUNK     (64 * 1024)
#define LINGER_MS      2000
#define BATCH          64            /* requests answered per wake-up before yielding */
#define CLEN_CHUNKED   (-1)
#define CLEN_NONE      (-2)
#define ADD_LIT(buf, s) evbuffer_add((buf), (s), sizeof(s) - 1)

enum route {
    RT_OK, RT_DELAY, RT_STATUS, RT_CHUNKED, RT_SLOW_BODY, RT_CLOSE, RT_RESET, RT_HANGUP,
    RT_MALFORMED, RT_ECHO, RT_BIG, RT_LOGIN, RT_ME, RT_ITEMS, RT_TLS,
    RT_STATS, RT_ADMIN_RESET, RT_STALL, /* admin routes (these and later): never counted */
};

static const struct { const char *path; enum route route; } routes[] = {
    { "/delay", RT_DELAY },   { "/status", RT_STATUS },       { "/chunked", RT_CHUNKED },
    { "/slow-body", RT_SLOW_BODY }, { "/close", RT_CLOSE },   { "/reset", RT_RESET },
    { "/hangup", RT_HANGUP }, { "/malformed", RT_MALFORMED }, { "/echo", RT_ECHO },
    { "/big", RT_BIG },       { "/login", RT_LOGIN },         { "/me", RT_ME },       { "/items", RT_ITEMS },   { "/tls", RT_TLS },   { "/__stats", RT_STATS },       { "/__reset", RT_ADMIN_RESET },
    { "/__stall", RT_STALL },
};

static const struct { int code; const char *text; } reasons[] = {
    { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
    { 301, "Moved Permanently" }, { 302, "Found" }, { 304, "Not Modified" },
    { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
    { 405, "Method Not Allowed" }, { 408, "Request Timeout" }, { 413, "Content Too Large" },
    { 429, "Too Many Requests" }, { 500, "Internal Server Error" }, { 502, "Bad Gateway" },
    { 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
};

enum phase { PH_HEAD, PH_BODY, PH_CHUNK_SIZE, PH_CHUNK_DATA, PH_CHUNK_CRLF, PH_TRAILERS, PH_DONE };

/* One request being parsed or answered. Zeroed by request_reset. */
struct request {
    enum phase phase;
    size_t head_scanned;   /* input bytes already searched for the blank line */
    char method[32];
    char *target;          /* owned copy of the request-target; path and query point into it */
    const char *path;
    const char *query;     /* after '?', or NULL */
    char *x_test;          /* owned value of the first X-Test header, or NULL */
    char *auth;            /* owned value of the first Authorization header, or NULL */
    char *cookie;          /* owned value of the first Cookie header, or NULL */
    enum route route;
    int minor;             /* HTTP/1.<minor> */
    bool keep_alive, is_head, chunked, expect_continue;
    uint64_t body_left;    /* PH_BODY: bytes left; PH_CHUNK_DATA: bytes left in this chunk */
    uint64_t body_len;     /* decoded body bytes received */
    size_t trailer_bytes;
    struct evbuffer *body; /* owned; kept only for /echo, else NULL and the bytes are dropped */
    int bad_status;        /* status for a request that fails to parse; 0 means 400 */
};

enum job_kind { JOB_NONE, JOB_DELAY, JOB_SLOW_BODY, JOB_BIG, JOB_CHUNKED };

/* The asynchronous part of a response (conn state CONN_RESPONDING). */
struct job {
    enum job_kind kind;
    uint64_t left;         /* BIG, SLOW_BODY: body bytes not yet queued; CHUNKED: left in chunk */
    uint64_t total;        /* SLOW_BODY: body size */
    uint64_t chunks_left, chunk_size;
    bool chunk_open, first_chunk;
    uint64_t start_ns, dur_ms, tick_ms;
};

enum conn_state {
    CONN_READING,    /* parsing requests; synchronous answers are queued at once */
    CONN_RESPONDING, /* one answer in progress (timer or on_write); later input waits its turn */
    CONN_DRAINING,   /* final bytes queued; close as close_how says once output is empty */
    CONN_LINGERING,  /* FIN sent; discard input until the peer's EOF or LINGER_MS */
    CONN_DEAD,       /* on the reaper list: no callbacks, freed by on_reap */
};

enum close_how { CLOSE_FIN, CLOSE_RST };

struct conn {
    struct target *t;
    struct conn *prev, *next; /* t->conns while alive; t->dead (next only) once dead */
    struct bufferevent *bev;  /* owned; closes the socket and frees the SSL on free */
    SSL *ssl;                 /* borrowed from bev; NULL for plain HTTP */
    struct event *timer;      /* owned, made on first use: delay, slow-body tick, linger */
    enum conn_state state;    /* changed only by conn_set_state and conn_finish */
    enum close_how close_how;
    bool peer_eof;            /* the peer's FIN was read: never read again */
    bool counted;             /* counted in stats.open_connections */
    unsigned gen;             /* stats generation when accepted */
    uint64_t requests, responses;
    struct request req;
    struct job job;
};

#define TOKENS 65536 /* sessions remembered (oldest overwritten) */
#define TOKEN_LEN 24

struct stats {
    uint64_t requests, connections;
    uint64_t logins, tokens_ok, tokens_rejected; /* /login, /me */
    int64_t open_connections;
    unsigned gen;             /* bumped by POST /__reset */
    struct path_count { char *path; uint64_t n; } *paths; /* owned, insertion order */
    size_t npaths, cap;
};

struct target {
    struct event_base *base;
    struct evconnlistener *listener;
    SSL_CTX *ssl_ctx;         /* NULL for plain HTTP */
    uint64_t close_after;     /* close each connection after this many responses; 0: never */
    struct conn *conns;       /* live connections */
    struct conn *dead;        /* finished, freed by on_reap once their callbacks have returned */
    struct event *reaper, *stall_timer, *accept_retry, *sig_term, *sig_int;
    bool stalled;
    struct conn *stall_conn;  /* while stalled: the connection still flushing its /__stall reply */
    struct stats stats;
    char fill[FILL_CHUNK];    /* 'x' bytes that generated bodies reference, never copy */
};

static void conn_process(struct conn *c);
static void conn_after_drain(struct conn *c);

/* Library allocations that fail only when memory is exhausted: abort, like xmalloc. */
static void *xcheck(void *p)
{
    if (!p)
        abort();
    return p;
}

static struct timeval ms_to_tv(uint64_t ms)
{
    return (struct timeval){ .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
}

/* ---- stats ---------------------------------------------------------- */

static struct path_count *stats_find(struct stats *s, const char *path)
{
    for (size_t i = 0; i < s->npaths; i++)
        if (strcmp(s->paths[i].path, path) == 0)
            return &s->paths[i];
    return NULL;
}

static void stats_count(struct stats *s, const char *path)
{
    struct path_count *pc = stats_find(s, path);
    if (!pc && s->npaths >= MAX_PATHS) /* bounded, whatever paths a test invents */
        pc = stats_find(s, path = "(other)");
    if (!pc) {
        if (s->npaths == s->cap)
            s->paths = xrealloc(s->paths, (s->cap = s->cap ? 2 * s->cap : 16) * sizeof *s->paths);
        pc = &s->paths[s->npaths++];
        *pc = (struct path_count){ xstrdup(path), 0 };
    }
    pc->n++;
    s->requests++;
}

/* Zero the counters; open_connections is a gauge and stays. */
static void stats_reset(struct stats *s)
{
    for (size_t i = 0; i < s->npaths; i++)
        free(s->paths[i].path);
    s->npaths = 0;
    s->requests = s->connections = 0;
    s->logins = s->tokens_ok = s->tokens_rejected = 0;
    s->gen++;
}

static void stats_json(const struct stats *s, struct evbuffer *buf)
{
    evbuffer_add_printf(buf, "{\"requests\":%" PRIu64 ",\"by_path\":{", s->requests);
    for (size_t i = 0; i < s->npaths; i++) {
        if (i)
            ADD_LIT(buf, ",");
        ADD_LIT(buf, "\"");
        for (const unsigned char *p = (const unsigned char *)s->paths[i].path; *p; p++) {
            if (*p == '"' || *p == '\\' || *p < 0x20 || *p >= 0x7f)
                evbuffer_add_printf(buf, "\\u%04x", *p);
            else
                evbuffer_add(buf, p, 1);
        }
        evbuffer_add_printf(buf, "\":%" PRIu64, s->paths[i].n);
    }
    evbuffer_add_printf(buf, "},\"connections\":%" PRIu64 ",\"open_connections\":%" PRId64
                             ",\"logins\":%" PRIu64 ",\"tokens_ok\":%" PRIu64 ",\"tokens_rejected\":%" PRIu64 "}",
                        s->connections, s->open_connections, s->logins, s->tokens_ok, s->tokens_rejected);
}

/* ---- request parsing ------------------------------------------------ */

static bool is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Does the comma-separated value [v, v+n) hold tok (case-insensitive)? With
 * last_only, only its last non-empty element counts. */
static bool list_match(const char *v, size_t n, const char *tok, bool last_only)
{
    const char *end = v + n;
    bool found = false;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *s = v, *e = comma ? comma : end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            found = name_is(s, (size_t)(e - s), tok);
            if (found && !last_only)
                return true;
        }
        v = comma ? comma + 1 : end;
    }
    return last_only && found;
}

static void request_reset(struct request *r)
{
    free(r->target);
    free(r->x_test);
    free(r->auth);
    free(r->cookie);
    if (r->body)
        evbuffer_free(r->body);
    memset(r, 0, sizeof *r);
}

/* Parse the request line and header fields in [p, end), where every line ends
 * in CRLF and the blank line is excluded. IO_ERR on anything malformed. */
static int request_parse_head(struct request *r, const char *p, const char *end)
{
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof r->method)
        return IO_ERR;
    for (const char *q = p; q < sp1; q++)
        if (!is_tchar((unsigned char)*q))
            return IO_ERR;
    memcpy(r->method, p, (size_t)(sp1 - p));
    r->method[sp1 - p] = '\0';
    const char *tg = sp1 + 1, *sp2 = memchr(tg, ' ', (size_t)(eol - tg));
    if (!sp2 || sp2 == tg || sp2 - tg > MAX_TARGET)
        return IO_ERR;
    for (const char *q = tg; q < sp2; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return IO_ERR;
    if (eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
        return IO_ERR;
    r->minor = sp2[8] - '0';
    r->is_head = strcmp(r->method, "HEAD") == 0;
    r->target = xstrndup(tg, (size_t)(sp2 - tg));
    char *qm = strchr(r->target, '?');
    if (qm)
        *qm = '\0';
    r->path = r->target;
    r->query = qm ? qm + 1 : NULL;

    bool have_len = false, te = false, conn_close = false, conn_keep = false;
    uint64_t clen = 0;
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p)
            return IO_ERR;
        for (const char *q = p; q < colon; q++) /* also rejects obs-fold and "Name :" */
            if (!is_tchar((unsigned char)*q))
                return IO_ERR;
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *q = v; q < ve; q++)
            if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
                return IO_ERR;
        size_t nlen = (size_t)(colon - p), vlen = (size_t)(ve - v);
        if (name_is(p, nlen, "content-length")) {
            uint64_t n = 0;
            if (vlen == 0 || vlen > 15 || strspn(v, "0123456789") < vlen)
                return IO_ERR;
            for (const char *q = v; q < ve; q++)
                n = n * 10 + (uint64_t)(*q - '0');
            if (have_len && n != clen)
                return IO_ERR;
            have_len = true;
            clen = n;
        } else if (name_is(p, nlen, "transfer-encoding")) {
            te = true;
            r->chunked = list_match(v, vlen, "chunked", true);
        } else if (name_is(p, nlen, "connection")) {
            conn_close |= list_match(v, vlen, "close", false);
            conn_keep |= list_match(v, vlen, "keep-alive", false);
        } else if (name_is(p, nlen, "expect")) {
            r->expect_continue = name_is(v, vlen, "100-continue");
        } else if (name_is(p, nlen, "x-test") && !r->x_test) {
            r->x_test = xstrndup(v, vlen);
        } else if (name_is(p, nlen, "authorization") && !r->auth) {
            r->auth = xstrndup(v, vlen);
        } else if (name_is(p, nlen, "cookie") && !r->cookie) {
            r->cookie = xstrndup(v, vlen);
        }
    }
    /* A body we cannot delimit, or request-smuggling material: refuse. */
    if (te && (!r->chunked || have_len || r->minor == 0))
        return IO_ERR;
    r->keep_alive = !conn_close && (r->minor == 1 || conn_keep);
    r->body_left = clen;
    return IO_OK;
}

/* Take one CRLF-terminated line of at most max bytes off in: copied
 * NUL-terminated into buf (max + 1 bytes) or, with buf NULL, discarded. */
static int read_line(struct evbuffer *in, char *buf, size_t max, size_t *len_out)
{
    size_t eol_len;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
    if (p.pos < 0)
        return evbuffer_get_length(in) > max + 1 ? IO_ERR : IO_AGAIN;
    if ((size_t)p.pos > max)
        return IO_ERR;
    *len_out = (size_t)p.pos;
    if (buf) {
        evbuffer_remove(in, buf, *len_out);
        buf[*len_out] = '\0';
    }
    evbuffer_drain(in, (buf ? 0 : *len_out) + eol_len);
    return IO_OK;
}

/* PH_HEAD: wait for the blank line, parse the head, set up the body phase. */
static int request_read_head(struct conn *c, struct evbuffer *in)
{
    struct request *r = &c->req;
    size_t avail = evbuffer_get_length(in);
    struct evbuffer_ptr from;
    evbuffer_ptr_set(in, &from, r->head_scanned > 3 ? r->head_scanned - 3 : 0, EVBUFFER_PTR_SET);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, &from);
    if (end.pos < 0) {
        r->head_scanned = avail; /* next time, search only what is new */
        return avail > MAX_HEAD ? IO_ERR : IO_AGAIN;
    }
    size_t head_len = (size_t)end.pos + 4;
    if (head_len > MAX_HEAD)
        return IO_ERR;
    const char *head = xcheck(evbuffer_pullup(in, (ev_ssize_t)head_len));
    int rc = request_parse_head(r, head, head + head_len - 2);
    evbuffer_drain(in, head_len);
    if (rc != IO_OK)
        return IO_ERR;

    r->route = RT_OK;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].path, r->path) == 0)
            r->route = routes[i].route;
    r->phase = r->chunked ? PH_CHUNK_SIZE : r->body_left > 0 ? PH_BODY : PH_DONE;
    if (r->route == RT_ECHO && r->phase != PH_DONE) {
        if (r->body_left > MAX_ECHO_BODY) {
            r->bad_status = 413;
            return IO_ERR;
        }
        r->body = xcheck(evbuffer_new());
    }
    if (r->expect_continue && r->minor == 1 && r->phase != PH_DONE && evbuffer_get_length(in) == 0)
        ADD_LIT(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    return IO_OK;
}

/* Move up to body_left bytes of body off in: kept for /echo, else dropped.
 * Returns true when body_left reaches 0. */
static bool request_take_body(struct request *r, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    size_t n = r->body_left < avail ? (size_t)r->body_left : avail;
    if (r->body)
        evbuffer_remove_buffer(in, r->body, n);
    else
        evbuffer_drain(in, n);
    r->body_len += n;
    r->body_left -= n;
    return r->body_left == 0;
}

/* Advance c->req over buffered input. IO_OK: a whole request (head and body)
 * was received; IO_AGAIN: need more input; IO_ERR: answer bad_status, close. */
static int request_parse(struct conn *c, struct evbuffer *in)
{
    struct request *r = &c->req;
    char line[MAX_CHUNK_LINE + 1], *end;
    size_t len;
    int rc = IO_OK;
    while (rc == IO_OK && r->phase != PH_DONE) {
        switch (r->phase) {
        case PH_HEAD:
            rc = request_read_head(c, in);
            break;
        case PH_BODY:
        case PH_CHUNK_DATA:
            if (!request_take_body(r, in))
                return IO_AGAIN;
            r->phase = r->phase == PH_BODY ? PH_DONE : PH_CHUNK_CRLF;
            break;
        case PH_CHUNK_SIZE:
            if ((rc = read_line(in, line, MAX_CHUNK_LINE, &len)) != IO_OK)
                break;
            len = strspn(line, "0123456789abcdefABCDEF");
            end = line + len + strspn(line + len, " \t"); /* extensions after ';' are ignored */
            if (len == 0 || len > 15 || (*end != '\0' && *end != ';'))
                return IO_ERR;
            r->body_left = strtoull(line, NULL, 16);
            if (r->body && r->body_len + r->body_left > MAX_ECHO_BODY) {
                r->bad_status = 413;
                return IO_ERR;
            }
            r->phase = r->body_left ? PH_CHUNK_DATA : PH_TRAILERS;
            break;
        case PH_CHUNK_CRLF: {
            char crlf[2];
            if (evbuffer_copyout(in, crlf, 2) < 2)
                return IO_AGAIN;
            if (crlf[0] != '\r' || crlf[1] != '\n')
                return IO_ERR;
            evbuffer_drain(in, 2);
            r->phase = PH_CHUNK_SIZE;
            break;
        }
        case PH_TRAILERS:
            if ((rc = read_line(in, NULL, MAX_HEAD, &len)) != IO_OK)
                break;
            if ((r->trailer_bytes += len + 2) > MAX_HEAD)
                return IO_ERR;
            if (len == 0)
                r->phase = PH_DONE;
            break;
        case PH_DONE:
            break;
        }
    }
    return rc;
}

/* ---- responses ------------------------------------------------------ */

/* Queue a status line and the common headers; the caller adds its own headers
 * and the blank line. clen: body length, CLEN_CHUNKED or CLEN_NONE. */
static void resp_head_open(struct conn *c, int status, int64_t clen)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const char *text = "Status";
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].code == status)
            text = reasons[i].text;
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: stampede-target\r\n%s", status, text,
                        !c->req.keep_alive ? "Connection: close\r\n"
                        : c->req.minor == 0 ? "Connection: keep-alive\r\n" : "");
    if (clen >= 0)
        evbuffer_add_printf(out, "Content-Length: %" PRId64 "\r\n", clen);
    else if (clen == CLEN_CHUNKED)
        ADD_LIT(out, "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n");
}

/* A whole response with a NUL-terminated body; headers: extra lines or NULL. */
static void resp_simple(struct conn *c, int status, const char *body, const char *headers)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    resp_head_open(c, status, (int64_t)strlen(body));
    evbuffer_add_printf(out, "%s\r\n%s", headers ? headers : "", c->req.is_head ? "" : body);
}

/* Queue n 'x' bytes by reference to t->fill (no copy). */
static void add_fill(struct conn *c, uint64_t n)
{
    for (size_t k; n > 0; n -= k) {
        k = n < FILL_CHUNK ? (size_t)n : FILL_CHUNK;
        evbuffer_add_reference(bufferevent_get_output(c->bev), c->t->fill, k, NULL, NULL);
    }
}

/* Queue more of a generated body (JOB_BIG, JOB_CHUNKED) until OUT_HIGH bytes
 * are queued or the body ends. Returns true once the whole body is queued. */
static bool job_fill(struct conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct job *j = &c->job;
    while (evbuffer_get_length(out) < OUT_HIGH) {
        if (j->kind == JOB_CHUNKED && !j->chunk_open) {
            if (j->chunks_left == 0) {
                ADD_LIT(out, "0\r\nX-Trailer: done\r\n\r\n");
                return true;
            }
            evbuffer_add_printf(out, "%" PRIx64 "%s\r\n", j->chunk_size,
                                j->first_chunk ? ";ext=stampede" : "");
            j->first_chunk = false;
            j->chunk_open = true;
            j->left = j->chunk_size;
        }
        if (j->kind == JOB_BIG && j->left == 0)
            return true;
        uint64_t n = j->left < FILL_CHUNK ? j->left : FILL_CHUNK;
        add_fill(c, n);
        if ((j->left -= n) == 0 && j->kind == JOB_CHUNKED) {
            ADD_LIT(out, "\r\n");
            j->chunk_open = false;
            j->chunks_left--;
        }
    }
    return j->kind == JOB_BIG && j->left == 0;
}

/* JOB_SLOW_BODY: queue the bytes due by now (a straight line from none at
 * start_ns to all at dur_ms). Returns true once the whole body is queued. */
static bool job_slow_tick(struct conn *c)
{
    struct job *j = &c->job;
    uint64_t elapsed_ms = (clock_now_ns() - j->start_ns) / 1000000u;
    uint64_t due = elapsed_ms >= j->dur_ms ? j->total : j->total * elapsed_ms / j->dur_ms;
    if (due > j->total - j->left) {
        add_fill(c, due - (j->total - j->left));
        j->left = j->total - due;
    }
    return j->left == 0;
}

/* ---- connections ---------------------------------------------------- */

/* Set the state and enable exactly the directions it (and a stall) allows. */
static void conn_set_state(struct conn *c, enum conn_state state)
{
    struct target *t = c->t;
    short want = 0, have = bufferevent_get_enabled(c->bev);
    c->state = state;
    if (state == CONN_READING || state == CONN_RESPONDING)
        want = EV_WRITE | (c->peer_eof ? 0 : EV_READ);
    else if (state == CONN_DRAINING)
        want = EV_WRITE;
    else if (state == CONN_LINGERING)
        want = c->peer_eof ? 0 : EV_READ;
    if (t->stalled)
        want = c == t->stall_conn ? (short)(want & EV_WRITE) : 0;
    if (have & ~want)
        bufferevent_disable(c->bev, have & ~want);
    if (want & ~have)
        bufferevent_enable(c->bev, want & ~have);
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void conn_timer_arm(struct conn *c, uint64_t ms)
{
    struct timeval tv = ms_to_tv(ms);
    if (!c->timer)
        c->timer = xcheck(evtimer_new(c->t->base, on_timer, c));
    evtimer_add(c->timer, &tv);
}

/* Run conn_process again from a later callback (keeps each wake-up bounded). */
static void conn_kick(struct conn *c)
{
    bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Stop every callback of c and queue it for on_reap, which frees it after the
 * current callback returns (callers up the stack may still look at c). */
static void conn_finish(struct conn *c)
{
    struct target *t = c->t;
    if (c->state == CONN_DEAD)
        return;
    c->state = CONN_DEAD;
    if (c->timer)
        event_del(c->timer);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    *(c->prev ? &c->prev->next : &t->conns) = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->counted)
        t->stats.open_connections--;
    if (t->stall_conn == c)
        t->stall_conn = NULL;
    c->next = t->dead;
    t->dead = c;
    event_active(t->reaper, EV_TIMEOUT, 0);
}

/* Stop answering: close as `how` says once everything queued is written. */
static void conn_drain(struct conn *c, enum close_how how)
{
    request_reset(&c->req);
    c->job.kind = JOB_NONE;
    c->close_how = how;
    conn_set_state(c, CONN_DRAINING);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        conn_after_drain(c);
}

/* Output is empty: reset, or send FIN and linger until the peer closes too.
 * Why linger: closing with unread input makes the kernel send RST, which can
 * destroy our last response in the peer's receive buffer. */
static void conn_after_drain(struct conn *c)
{
    int fd = bufferevent_getfd(c->bev);
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    if (c->close_how == CLOSE_RST) {
        if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
            log_warn(TAG, "setsockopt SO_LINGER while resetting a connection: %s", strerror(errno));
        conn_finish(c);
        return;
    }
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* close_notify: one non-blocking try is enough */
        ERR_clear_error();
    }
    if (c->peer_eof) {
        conn_finish(c);
        return;
    }
    shutdown(fd, SHUT_WR);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    conn_set_state(c, CONN_LINGERING);
    conn_timer_arm(c, LINGER_MS);
}

/* The current response is wholly queued: count it, then go back to reading
 * (the caller resumes conn_process) or drain and close. */
static void conn_response_done(struct conn *c)
{
    c->responses++;
    c->job.kind = JOB_NONE;
    /* --close-after closes without having sent "Connection: close". */
    if (!c->req.keep_alive || (c->t->close_after && c->responses >= c->t->close_after)) {
        conn_drain(c, CLOSE_FIN);
        return;
    }
    request_reset(&c->req);
    conn_set_state(c, CONN_READING);
}

/* The one timer of a connection: linger timeout, /delay, /slow-body ticks. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd, (void)what;
    if (c->state == CONN_LINGERING) {
        conn_finish(c);
        return;
    }
    if (c->state != CONN_RESPONDING)
        return;
    if (c->job.kind == JOB_DELAY) {
        resp_simple(c, 200, "ok", NULL);
    } else if (!job_slow_tick(c)) {
        conn_timer_arm(c, c->job.tick_ms);
        return;
    }
    conn_response_done(c);
    conn_process(c);
}

static void stall_begin(struct target *t, struct conn *requester, uint64_t ms)
{
    struct timeval tv = ms_to_tv(ms);
    log_info(TAG, "stalling every connection and accepts for %" PRIu64 " ms", ms);
    t->stalled = true;
    t->stall_conn = requester; /* keeps writing until its reply is flushed */
    evconnlistener_disable(t->listener);
    for (struct conn *c = t->conns; c; c = c->next)
        conn_set_state(c, c->state);
    evtimer_add(t->stall_timer, &tv);
}

static void on_stall_end(evutil_socket_t fd, short what, void *arg)
{
    struct target *t = arg;
    (void)fd, (void)what;
    log_info(TAG, "stall over; resuming");
    t->stalled = false;
    t->stall_conn = NULL;
    evconnlistener_enable(t->listener);
    for (struct conn *c = t->conns; c; c = c->next) {
        conn_set_state(c, c->state);
        if (c->state == CONN_READING)
            conn_kick(c); /* input may have waited through the stall */
    }
}

/* ---- routes --------------------------------------------------------- */

/* Parse the decimal query parameter key into *out (dflt when absent).
 * -1 when present but not a number in [min, max]. */
static int query_u64(const char *query, const char *key, uint64_t dflt, uint64_t min,
                     uint64_t max, uint64_t *out)
{
    size_t klen = strlen(key);
    *out = dflt;
    for (const char *p = query; p && *p; p += strcspn(p, "&") + (p[strcspn(p, "&")] == '&')) {
        size_t len = strcspn(p, "&");
        if (len <= klen || strncmp(p, key, klen) != 0 || p[klen] != '=')
            continue;
        const char *v = p + klen + 1;
        size_t vlen = len - klen - 1;
        if (vlen == 0 || vlen > 19 || strspn(v, "0123456789") < vlen)
            return -1;
        uint64_t n = strtoull(v, NULL, 10);
        if (n < min || n > max)
            return -1;
        *out = n;
        return 0;
    }
    return 0;
}

/* GET /__stats, POST /__reset, POST /__stall?ms=N. Never counted; a connection
 * whose first request is an admin one is taken out of the connection counts. */
static void admin_handle(struct conn *c)
{
    struct target *t = c->t;
    struct request *r = &c->req;
    const char *method = r->route == RT_STATS ? "GET" : "POST";
    uint64_t ms = 0;
    if (c->requests == 1 && c->counted) {
        t->stats.connections -= c->gen == t->stats.gen;
        t->stats.open_connections--;
        c->counted = false;
    }
    if (strcmp(r->method, method) != 0 && !(r->route == RT_STATS && r->is_head)) {
        char allow[32];
        snprintf(allow, sizeof allow, "Allow: %s\r\n", method);
        resp_simple(c, 405, "method not allowed\n", allow);
    } else if (r->route == RT_STATS) {
        struct evbuffer *out = bufferevent_get_output(c->bev), *json = xcheck(evbuffer_new());
        stats_json(&t->stats, json);
        resp_head_open(c, 200, (int64_t)evbuffer_get_length(json));
        ADD_LIT(out, "Content-Type: application/json\r\n\r\n");
        if (!r->is_head)
            evbuffer_add_buffer(out, json);
        evbuffer_free(json);
    } else if (r->route == RT_ADMIN_RESET) {
        stats_reset(&t->stats);
        resp_simple(c, 200, "ok", NULL);
    } else if (query_u64(r->query, "ms", 1000, 0, 600000, &ms) < 0) {
        resp_simple(c, 400, "bad parameter\n", NULL);
    } else {
        resp_simple(c, 200, "ok", NULL);
        if (ms > 0)
            stall_begin(t, c, ms); /* after queueing the reply: it is still flushed */
    }
    conn_response_done(c);
}

/* ---- sessions: /login issues a random token, /me checks it ---------- */

static char tokens[TOKENS][TOKEN_LEN + 1];
static size_t token_next;

static void login(struct conn *c)
{
    static const char hex[] = "0123456789abcdef";
    char *tok = tokens[token_next++ % TOKENS];
    unsigned char rnd[TOKEN_LEN / 2];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0x5a, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++) {
        tok[2 * i] = hex[rnd[i] >> 4];
        tok[2 * i + 1] = hex[rnd[i] & 15];
    }
    tok[TOKEN_LEN] = '\0';
    c->t->stats.logins++;
    char body[96], cookie[64];
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"expires_in\":3600}", tok);
    snprintf(cookie, sizeof cookie, "Set-Cookie: sid=%s; Path=/; HttpOnly\r\n", tok);
    resp_simple(c, 200, body, cookie);
}

static bool token_known(const char *tok, size_t n)
{
    if (n != TOKEN_LEN)
        return false;
    size_t have = token_next < TOKENS ? token_next : TOKENS;
    for (size_t i = 0; i < have; i++)
        if (memcmp(tokens[i], tok, TOKEN_LEN) == 0)
            return true;
    return false;
}

/* The session token a request carries ("Authorization: Bearer <token>"
 * or "Cookie: sid=<token>"), counted as tokens_ok or tokens_rejected:
 * 1 when /login issued it, 0 when not, -1 when there is none (not
 * counted). */
static int session_check(struct conn *c)
{
    const struct request *r = &c->req;
    const char *tok = NULL;
    size_t n = 0;
    if (r->auth && strncmp(r->auth, "Bearer ", 7) == 0) {
        tok = r->auth + 7;
        n = strlen(tok);
    } else if (r->cookie && (tok = strstr(r->cookie, "sid="))) {
        tok += 4;
        n = strcspn(tok, "; ");
    }
    if (!tok)
        return -1;
    int ok = token_known(tok, n);
    if (ok)
        c->t->stats.tokens_ok++;
    else
        c->t->stats.tokens_rejected++;
    return ok;
}

/* 200 for a token /login issued, else 401 (none counts as rejected). */
static void me(struct conn *c)
{
    int ok = session_check(c);
    if (ok == 1) {
        resp_simple(c, 200, "{\"ok\":true}", NULL);
    } else {
        if (ok < 0)
            c->t->stats.tokens_rejected++;
        resp_simple(c, 401, "{\"ok\":false}", NULL);
    }
}

/* /items?n=N: a JSON array of N made-up users under "items" (for batch
 * collection); a request with a session token must carry a valid one. */
static void items(struct conn *c, uint64_t n)
{
    if (session_check(c) == 0) {
        resp_simple(c, 401, "{\"ok\":false}", NULL);
        return;
    }
    struct evbuffer *json = xcheck(evbuffer_new());
    evbuffer_add_printf(json, "{\"count\":%" PRIu64 ",\"items\":[", n);
    for (uint64_t i = 1; i <= n; i++)
        evbuffer_add_printf(json, "%s{\"id\":%" PRIu64 ",\"name\":\"user%" PRIu64 "\",\"email\":\"user%" PRIu64
                            "@example.com\",\"tags\":[\"t%" PRIu64 "\"]}", i > 1 ? "," : "", i, i, i, i % 3);
    evbuffer_add_printf(json, "]}");
    struct evbuffer *out = bufferevent_get_output(c->bev);
    resp_head_open(c, 200, (int64_t)evbuffer_get_length(json));
    ADD_LIT(out, "Content-Type: application/json\r\n\r\n");
    if (!c->req.is_head)
        evbuffer_add_buffer(out, json);
    evbuffer_free(json);
}

/* Answer the complete request in c->req: at once (then conn_response_done),
 * by starting a job in CONN_RESPONDING, or by closing. */
static void conn_dispatch(struct conn *c)
{
    struct request *r = &c->req;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct job *j = &c->job;
    uint64_t a, b;
    c->requests++;
    if (r->route >= RT_STATS) {
        admin_handle(c);
        return;
    }
    stats_count(&c->t->stats, r->path); /* once fully received, before any delay */
    switch (r->route) {
    case RT_DELAY:
        if (query_u64(r->query, "ms", 100, 0, MAX_MS, &a) < 0)
            goto bad_param;
        *j = (struct job){ .kind = JOB_DELAY };
        conn_set_state(c, CONN_RESPONDING);
        conn_timer_arm(c, a);
        return;
    case RT_STATUS: {
        char body[32];
        if (query_u64(r->query, "code", 200, 200, 599, &a) < 0)
            goto bad_param;
        if (a == 204 || a == 304) { /* these never carry a body */
            resp_head_open(c, (int)a, CLEN_NONE);
            ADD_LIT(out, "\r\n");
            break;
        }
        snprintf(body, sizeof body, "status %d\n", (int)a);
        resp_simple(c, (int)a, body, NULL);
        break;
    }
    case RT_CHUNKED:
        if (query_u64(r->query, "chunks", 3, 0, 1000000000, &a) < 0 ||
            query_u64(r->query, "size", 16, 1, 16u << 20, &b) < 0)
            goto bad_param;
        if (r->minor == 0) /* HTTP/1.0 has no chunked coding: send the bytes plainly */
            *j = (struct job){ .kind = JOB_BIG, .left = a * b };
        else
            *j = (struct job){ .kind = JOB_CHUNKED, .chunks_left = a, .chunk_size = b,
                               .first_chunk = true };
        resp_head_open(c, 200, r->minor == 0 ? (int64_t)(a * b) : CLEN_CHUNKED);
        goto stream;
    case RT_BIG:
        if (query_u64(r->query, "bytes", 1u << 20, 0, UINT64_C(1) << 40, &a) < 0)
            goto bad_param;
        *j = (struct job){ .kind = JOB_BIG, .left = a };
        resp_head_open(c, 200, (int64_t)a);
        goto stream;
    case RT_SLOW_BODY:
        if (query_u64(r->query, "ms", 1000, 0, MAX_MS, &a) < 0 ||
            query_u64(r->query, "bytes", 100, 0, 64u << 20, &b) < 0)
            goto bad_param;
        resp_head_open(c, 200, (int64_t)b);
        ADD_LIT(out, "\r\n");
        if (r->is_head || a == 0 || b == 0) {
            add_fill(c, r->is_head ? 0 : b);
            break;
        }
        *j = (struct job){ .kind = JOB_SLOW_BODY, .left = b, .total = b, .dur_ms = a,
                           .start_ns = clock_now_ns(), .tick_ms = a / b };
        j->tick_ms = j->tick_ms < 1 ? 1 : j->tick_ms > 50 ? 50 : j->tick_ms;
        conn_set_state(c, CONN_RESPONDING);
        conn_timer_arm(c, j->tick_ms);
        return;
    case RT_CLOSE:
        r->keep_alive = false;
        resp_simple(c, 200, "ok", NULL);
        break;
    case RT_RESET:
    case RT_HANGUP:
        conn_drain(c, r->route == RT_RESET ? CLOSE_RST : CLOSE_FIN);
        return;
    case RT_MALFORMED:
        ADD_LIT(out, "HTTP/1.1 abc\r\ngarbage\r\n\r\n");
        conn_drain(c, CLOSE_FIN);
        return;
    case RT_LOGIN:
        login(c);
        break;
    case RT_ME:
        me(c);
        break;
    case RT_TLS: { /* the cipher suite this connection uses, and whether its session was
                    * resumed; ?close=1 closes the connection after the response;
                    * ?keyupdate=1 sends a TLS 1.3 KeyUpdate before it, asking the
                    * client to update its keys too */
        if (query_u64(r->query, "close", 0, 0, 1, &a) < 0 ||
            query_u64(r->query, "keyupdate", 0, 0, 1, &b) < 0)
            goto bad_param;
        r->keep_alive = r->keep_alive && !a;
        if (b && c->ssl && SSL_version(c->ssl) == TLS1_3_VERSION &&
            SSL_key_update(c->ssl, SSL_KEY_UPDATE_REQUESTED) != 1)
            log_warn(TAG, "SSL_key_update failed");
        char what[128];
        snprintf(what, sizeof what, "%s %s", c->ssl ? SSL_get_cipher_name(c->ssl) : "plain",
                 c->ssl && SSL_session_reused(c->ssl) ? "resumed" : "new");
        resp_simple(c, 200, what, NULL);
        break;
    }
    case RT_ITEMS:
        if (query_u64(r->query, "n", 10, 0, 10000, &a) < 0)
            goto bad_param;
        items(c, a);
        break;
    case RT_ECHO:
        resp_head_open(c, 200, (int64_t)r->body_len);
        evbuffer_add_printf(out, "X-Method: %s\r\n", r->method);
        if (r->x_test)
            evbuffer_add_printf(out, "X-Test-Echo: %s\r\n", r->x_test);
        ADD_LIT(out, "\r\n");
        if (r->body && !r->is_head)
            evbuffer_add_buffer(out, r->body);
        break;
    default:
        resp_simple(c, 200, "ok", NULL);
        break;
    }
    conn_response_done(c);
    return;
stream:
    ADD_LIT(out, "\r\n");
    if (r->is_head || job_fill(c))
        conn_response_done(c);
    else
        conn_set_state(c, CONN_RESPONDING); /* on_write queues the rest */
    return;
bad_param:
    resp_simple(c, 400, "bad parameter\n", NULL);
    conn_response_done(c);
}

/* Parse and answer buffered requests in order while the connection is
 * READING: at most BATCH of them, and none while output is backed up. */
static void conn_process(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev), *out = bufferevent_get_output(c->bev);
    for (int n = 0; c->state == CONN_READING && !c->t->stalled; n++) {
        if (evbuffer_get_length(out) > OUT_HIGH)
            return; /* on_write resumes */
        if (n == BATCH) {
            conn_kick(c);
            return;
        }
        int rc = request_parse(c, in);
        if (rc == IO_AGAIN) {
            if (c->peer_eof)
                conn_drain(c, CLOSE_FIN);
            return;
        }
        if (rc == IO_ERR) {
            int status = c->req.bad_status ? c->req.bad_status : 400;
            log_debug(TAG, "answering %d to a malformed request", status);
            c->req.keep_alive = c->req.is_head = false;
            resp_simple(c, status, status == 400 ? "bad request\n" : "too large\n", NULL);
            conn_drain(c, CLOSE_FIN);
            return;
        }
        conn_dispatch(c);
    }
}

/* ---- callbacks ------------------------------------------------------ */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state == CONN_READING)
        conn_process(c);
    else if (c->state == CONN_LINGERING)
        evbuffer_drain(in, evbuffer_get_length(in));
    /* CONN_RESPONDING: pipelined input waits its turn (READ_HIGH bounds it). */
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    size_t queued = evbuffer_get_length(bufferevent_get_output(bev));
    if (c == c->t->stall_conn && queued == 0) {
        c->t->stall_conn = NULL; /* its /__stall reply is out: stall it too */
        conn_set_state(c, c->state);
    }
    if (c->state == CONN_RESPONDING && (c->job.kind == JOB_BIG || c->job.kind == JOB_CHUNKED) &&
        job_fill(c)) {
        conn_response_done(c);
        conn_process(c);
    } else if (c->state == CONN_READING &&
               (c->peer_eof || evbuffer_get_length(bufferevent_get_input(bev)) > 0)) {
        conn_process(c);
    } else if (c->state == CONN_DRAINING && queued == 0) {
        conn_after_drain(c);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return; /* TLS handshake done */
    if ((what & BEV_EVENT_EOF) && c->state == CONN_READING) {
        c->peer_eof = true; /* a half-close: answer what was fully received, then close */
        conn_process(c);
        if (c->state != CONN_DEAD) {
            /* libevent's TLS layer stops writing at EOF yet leaves EV_WRITE enabled. */
            bufferevent_disable(c->bev, EV_WRITE);
            conn_set_state(c, c->state);
        }
        return;
    }
    /* An error, or the peer left mid-response (e.g. during /delay): drop it. */
    if (what & BEV_EVENT_ERROR)
        log_debug(TAG, "connection error: %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    conn_finish(c);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct target *t = arg;
    (void)fd, (void)what;
    while (t->dead) {
        struct conn *c = t->dead;
        t->dead = c->next;
        request_reset(&c->req);
        if (c->timer)
            event_free(c->timer);
        bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE: closes the socket, frees the SSL */
        free(c);
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct target *t = arg;
    struct bufferevent *bev;
    SSL *ssl = NULL;
    int one = 1;
    (void)l, (void)sa, (void)salen;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (t->ssl_ctx) {
        /* If this fails, libevent may already have freed ssl and closed fd. */
        ssl = xcheck(SSL_new(t->ssl_ctx));
        bev = bufferevent_openssl_socket_new(t->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    } else {
        bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        log_warn(TAG, "creating a bufferevent for an accepted connection failed");
        if (!ssl)
            evutil_closesocket(fd);
        return;
    }
    if (ssl)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct conn *c = xcalloc(1, sizeof *c);
    *c = (struct conn){ .t = t, .bev = bev, .ssl = ssl, .counted = true, .gen = t->stats.gen,
                        .next = t->conns };
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->stats.connections++;
    t->stats.open_connections++;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(bev, EV_READ, 0, READ_HIGH);
    bufferevent_setwatermark(bev, EV_WRITE, WRITE_LOW, 0);
    conn_set_state(c, CONN_READING);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct target *t = arg;
    (void)fd, (void)what;
    if (!t->stalled)
        evconnlistener_enable(t->listener);
}

/* accept() failed in a way libevent does not retry (EMFILE, ENFILE,
 * ENOBUFS): pause accepting briefly rather than spin. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct target *t = arg;
    struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
    log_warn(TAG, "accept: %s; pausing accepts for 100 ms",
             evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    evconnlistener_disable(l);
    evtimer_add(t->accept_retry, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct target *t = arg;
    (void)what;
    log_info(TAG, "signal %d: exiting", (int)sig);
    event_base_loopexit(t->base, NULL);
}

/* ---- setup ---------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: stampede-target [--port N] [--host 127.0.0.1] [--tls CERT.pem KEY.pem]\n"
                    "                       [--close-after N] [--backlog N]\n");
    exit(2);
}

static uint64_t arg_u64(const char *s, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > max) {
        fprintf(stderr, "stampede-target: bad number '%s'\n", s);
        usage();
    }
    return v;
}

/* Fill *ss for a numeric loopback address (or "localhost"); -1 for anything else. */
static int loopback_addr(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        *sin = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                     .sin_addr = sin->sin_addr };
        *len = sizeof *sin;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127 ? 0 : -1;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len = sizeof *sin6;
        return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ? 0 : -1;
    }
    return -1;
}

/* Raise the open-file soft limit to the hard limit: tests open 20k+ sockets. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_warn(TAG, "raising the open-file limit to %ju: %s", (uintmax_t)rl.rlim_max, strerror(errno));
        rl.rlim_cur = old;
    }
    if (rl.rlim_cur < 20100)
        log_warn(TAG, "open-file limit is %ju: about 20000 connections at most",
                 (uintmax_t)rl.rlim_cur);
}

static SSL_CTX *tls_ctx_new(const char *cert, const char *key)
{
    SSL_CTX *ctx = xcheck(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* many idle TLS connections */
    /* A TCP FIN without close_notify is an EOF, not a fatal alert to the peer. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 &&
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
        SSL_CTX_check_private_key(ctx) == 1)
        return ctx;
    log_error(TAG, "loading the TLS certificate %s and key %s: %s", cert, key,
              ERR_reason_error_string(ERR_get_error()));
    SSL_CTX_free(ctx);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
    unsigned port = 0;
    int backlog = 4096, rc = 1;
    uint64_t close_after = 0;
    for (int i = 1; i < argc; i++) {
        bool has1 = i + 1 < argc;
        if (strcmp(argv[i], "--port") == 0 && has1)
            port = (unsigned)arg_u64(argv[++i], 65535);
        else if (strcmp(argv[i], "--host") == 0 && has1)
            host = argv[++i];
        else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc)
            cert = argv[i + 1], key = argv[i + 2], i += 2;
        else if (strcmp(argv[i], "--close-after") == 0 && has1)
            close_after = arg_u64(argv[++i], UINT64_MAX);
        else if (strcmp(argv[i], "--backlog") == 0 && has1)
            backlog = (int)arg_u64(argv[++i], 1000000);
        else
            usage();
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (loopback_addr(host, port, &ss, &sslen) != 0) {
        fprintf(stderr, "stampede-target: refusing to bind '%s': loopback addresses only\n", host);
        return 2;
    }
    log_init(LOG_INFO, 2); /* stderr: stdout carries only the PORT line */
    log_route_libevent();
    signal(SIGPIPE, SIG_IGN); /* a write to a vanished peer is an error event, not a death */
    raise_nofile();

    struct target *t = xcalloc(1, sizeof *t);
    memset(t->fill, 'x', sizeof t->fill);
    t->close_after = close_after;
    /* precise timers: /delay must not answer early (the default clock is 4 ms coarse) */
    struct event_config *ecfg = xcheck(event_config_new());
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    t->base = xcheck(event_base_new_with_config(ecfg));
    event_config_free(ecfg);
    if (cert && !(t->ssl_ctx = tls_ctx_new(cert, key)))
        goto fail_tls;
    t->reaper = xcheck(event_new(t->base, -1, 0, on_reap, t));
    t->stall_timer = xcheck(evtimer_new(t->base, on_stall_end, t));
    t->accept_retry = xcheck(evtimer_new(t->base, on_accept_retry, t));
    t->sig_term = xcheck(evsignal_new(t->base, SIGTERM, on_signal, t));
    t->sig_int = xcheck(evsignal_new(t->base, SIGINT, on_signal, t));
    evsignal_add(t->sig_term, NULL);
    evsignal_add(t->sig_int, NULL);
    t->listener = evconnlistener_new_bind(t->base, on_accept, t,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                              LEV_OPT_CLOSE_ON_EXEC,
                                          backlog, (struct sockaddr *)&ss, (int)sslen);
    if (!t->listener) {
        log_error(TAG, "listening on %s port %u: %s", host, port, strerror(errno));
        goto fail_listen;
    }
    evconnlistener_set_error_cb(t->listener, on_accept_error);
    if (getsockname(evconnlistener_get_fd(t->listener), (struct sockaddr *)&ss, &sslen) != 0) {
        log_error(TAG, "getsockname on the listener: %s", strerror(errno));
        goto fail_run;
    }
    port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
    printf("PORT %u\n", port); /* the one line tests read */
    fflush(stdout);
    log_info(TAG, "listening on %s port %u (%s)", host, port, t->ssl_ctx ? "https" : "http");

    event_base_dispatch(t->base);
    rc = 0;
fail_run:
    while (t->conns)
        conn_finish(t->conns);
    on_reap(-1, 0, t);
    evconnlistener_free(t->listener);
fail_listen:
    event_free(t->reaper);
    event_free(t->stall_timer);
    event_free(t->accept_retry);
    event_free(t->sig_term);
    event_free(t->sig_int);
fail_tls:
    event_base_free(t->base); /* also runs the bufferevents' pending finalizers */
    SSL_CTX_free(t->ssl_ctx);
    stats_reset(&t->stats);
    free(t->stats.paths);
    free(t);
    libevent_global_shutdown();
    return rc;
}
