/* http_parse: incremental HTTP/1.1 response parser (see http_parse.h).
 * Line-oriented parts are found with memchr and parsed in place; body bytes
 * are skipped by arithmetic. Only a line split across feeds is copied. */
#include "http_parse.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

enum parse_state {
    ST_STATUS,       /* expecting a status line */
    ST_HEADER,       /* expecting a header line or the blank line */
    ST_BODY_LENGTH,  /* remaining body bytes per Content-Length */
    ST_BODY_CLOSE,   /* body runs until the peer closes */
    ST_CHUNK_SIZE,   /* expecting a chunk-size line */
    ST_CHUNK_DATA,   /* remaining bytes of the current chunk */
    ST_CHUNK_CR,     /* expecting CR LF (or bare LF) after chunk data */
    ST_CHUNK_LF,     /* saw that CR, expecting LF */
    ST_TRAILER,      /* skipping trailer lines until the blank line */
    ST_DONE,
    ST_ERROR,
};

#define CONN_CLOSE      0x1u
#define CONN_KEEP_ALIVE 0x2u

/* Smallest line buffer allocated; grows by doubling up to the section budget. */
#define LINE_BUF_MIN 256u

void http_parser_init(struct http_parser *p, unsigned flags)
{
    p->on_body = NULL;
    p->on_header = NULL;
    p->cb_arg = NULL;
    p->content_length = -1;
    p->body_bytes = 0;
    p->header_bytes = 0;
    p->status = 0;
    p->minor_version = 0;
    p->keep_alive = false;
    p->chunked = false;
    p->state = ST_STATUS;
    p->flags = (uint8_t)flags;
    p->conn_tokens = 0;
    p->te_present = false;
    p->interim = false;
    p->error = NULL;
    p->remaining = 0;
    p->budget = HTTP_PARSE_HEADER_MAX;
    p->line_buf = NULL;
    p->line_len = 0;
    p->line_cap = 0;
}

void http_parser_deinit(struct http_parser *p)
{
    free(p->line_buf);
    p->line_buf = NULL;
    p->line_len = 0;
    p->line_cap = 0;
}

const char *http_parser_error(const struct http_parser *p)
{
    return p->state == ST_ERROR ? p->error : NULL;
}

static int fail(struct http_parser *p, const char *why)
{
    p->error = why;
    return -1;
}

/* Value of hex digit c, or -1. */
static inline int hex_digit(unsigned char c)
{
    if ((unsigned)(c - '0') <= 9)
        return c - '0';
    c |= 0x20;
    if ((unsigned)(c - 'a') <= 5)
        return c - 'a' + 10;
    return -1;
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static inline uint64_t load64(const char *s)
{
    uint64_t v;
    memcpy(&v, s, sizeof v);
    return v;
}

static inline uint16_t load16(const char *s)
{
    uint16_t v;
    memcpy(&v, s, sizeof v);
    return v;
}

/* Case-insensitive compare of 8 bytes of s against lowercase lit. mask holds
 * ' ' (0x20) where lit has a letter and NUL elsewhere: OR-ing 0x20 into a
 * byte maps only 'X' and 'x' onto 'x', so the compare is exact. All three
 * arguments after s are literals, so the loads fold to constants. */
#define CI8(s, lit, mask) ((load64(s) | load64(mask)) == load64(lit))

/* s[0..n) equals lowercase lower[0..n) ignoring ASCII case. */
static inline bool ci_equal(const char *s, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i], l = (unsigned char)lower[i];
        if (l >= 'a' && l <= 'z')
            c |= 0x20;
        if (c != l)
            return false;
    }
    return true;
}

/* Slow half of next_line: s[0..avail) continues a split line, or holds the
 * start of one with no '\n' yet (nl == NULL). Copies into line_buf. */
static int next_line_split(struct http_parser *p, const char **pos, const char *nl,
                           size_t avail, const char **line, size_t *llen)
{
    const char *s = *pos;
    size_t take = nl ? (size_t)(nl - s) + 1 : avail;
    size_t total = (size_t)p->line_len + take;

    /* Without its '\n' yet, a line of total bytes will end up longer. */
    if (nl ? total > p->budget : total >= p->budget)
        return -1;
    if (total > p->line_cap) {
        size_t cap = p->line_cap ? p->line_cap : LINE_BUF_MIN;
        while (cap < total)
            cap *= 2;
        p->line_buf = xrealloc(p->line_buf, cap);
        p->line_cap = (uint32_t)cap;
    }
    memcpy(p->line_buf + p->line_len, s, take);
    *pos = s + take;
    if (!nl) {
        p->line_len = (uint32_t)total;
        return 0;
    }
    p->budget -= total;
    p->line_len = 0;
    *line = p->line_buf;
    *llen = total - 1 - (total >= 2 && p->line_buf[total - 2] == '\r');
    return 1;
}

/* Find the line starting at *pos. Returns 1 with *line, *llen (ending
 * stripped) and *pos past the '\n'; 0 when [*pos, end) holds no '\n' (kept
 * in line_buf, *pos = end); -1 when the line would exceed p->budget.
 * The line stays valid until the next call. */
static inline int next_line(struct http_parser *p, const char **pos, const char *end,
                            const char **line, size_t *llen)
{
    const char *s = *pos;
    size_t avail = (size_t)(end - s);
    const char *nl = memchr(s, '\n', avail);

    if (__builtin_expect(nl != NULL && p->line_len == 0, 1)) {
        size_t n = (size_t)(nl - s) + 1;
        if (n > p->budget)
            return -1;
        p->budget -= n;
        *pos = nl + 1;
        *line = s;
        *llen = n - 1 - (n >= 2 && nl[-1] == '\r');
        return 1;
    }
    return next_line_split(p, pos, nl, avail, line, llen);
}

/* "HTTP/1.x SSS[ reason]". */
static int parse_status_line(struct http_parser *p, const char *s, size_t n)
{
    if (n < 8 || memcmp(s, "HTTP/", 5) != 0)
        return fail(p, "bad status line");
    if (s[5] != '1' || s[6] != '.' || (unsigned)(s[7] - '0') > 9)
        return fail(p, (unsigned)(s[5] - '0') <= 9 ? "unsupported HTTP version"
                                                  : "bad status line");
    if (n < 9 || s[8] != ' ')
        return fail(p, "bad status line");
    if (n < 12)
        return fail(p, "bad status code");
    unsigned d0 = (unsigned)(s[9] - '0'), d1 = (unsigned)(s[10] - '0'),
             d2 = (unsigned)(s[11] - '0');
    if (d0 - 1 > 8 || d1 > 9 || d2 > 9 || (n > 12 && s[12] != ' '))
        return fail(p, "bad status code");
    /* RFC 9112: a 1.x message with x > 1 is processed as the highest 1.x we know. */
    p->minor_version = s[7] != '0';
    p->status = (int)(d0 * 100 + d1 * 10 + d2);
    p->interim = p->status < 200 && p->status != 101;
    return 0;
}

static int parse_content_length(struct http_parser *p, const char *v, const char *ve)
{
    uint64_t n = 0;

    if (v == ve)
        return fail(p, "invalid Content-Length");
    for (; v < ve; v++) {
        unsigned d = (unsigned)((unsigned char)*v - '0');
        if (d > 9 || n > HTTP_PARSE_LENGTH_MAX / 10)
            return fail(p, "invalid Content-Length");
        n = n * 10 + d;
        if (n > HTTP_PARSE_LENGTH_MAX)
            return fail(p, "invalid Content-Length");
    }
    if (p->content_length >= 0 && (uint64_t)p->content_length != n)
        return fail(p, "conflicting Content-Length");
    p->content_length = (int64_t)n;
    return 0;
}

/* Only the last coding matters: chunked must be last to frame the body. */
static void parse_transfer_encoding(struct http_parser *p, const char *v, const char *ve)
{
    while (ve > v && (is_ows(ve[-1]) || ve[-1] == ','))
        ve--;
    const char *t = ve;
    while (t > v && t[-1] != ',')
        t--;
    while (t < ve && is_ows(*t))
        t++;
    p->te_present = true;
    p->chunked = ve - t == 7 && ci_equal(t, "chunked", 7);
}

static void parse_connection(struct http_parser *p, const char *v, const char *ve)
{
    /* The usual single token first. */
    if (ve - v == 10 && CI8(v, "keep-ali", "    \0   ") && CI8(v + 2, "ep-alive", "  \0     ")) {
        p->conn_tokens |= CONN_KEEP_ALIVE;
        return;
    }
    while (v < ve) {
        const char *comma = memchr(v, ',', (size_t)(ve - v));
        const char *te = comma ? comma : ve;
        while (v < te && is_ows(*v))
            v++;
        const char *t = te;
        while (t > v && is_ows(t[-1]))
            t--;
        if (t - v == 5 && ci_equal(v, "close", 5))
            p->conn_tokens |= CONN_CLOSE;
        else if (t - v == 10 && ci_equal(v, "keep-alive", 10))
            p->conn_tokens |= CONN_KEEP_ALIVE;
        v = comma ? comma + 1 : ve;
    }
}

/* One non-empty header line. Only names of length 10, 14 and 17 are
 * looked at: Connection, Content-Length, Transfer-Encoding. */
static int parse_header(struct http_parser *p, const char *s, size_t n)
{
    if (is_ows(s[0]))
        return fail(p, "obsolete line folding");
    const char *colon = memchr(s, ':', n);
    /* No whitespace is allowed before the colon (RFC 9112 5.1): it is how
     * "Content-Length :" smuggles a second framing past some parsers. */
    if (!colon || colon == s || is_ows(colon[-1]))
        return fail(p, "bad header line");
    size_t nlen = (size_t)(colon - s);
    const char *v = colon + 1, *ve = s + n;
    while (v < ve && is_ows(*v))
        v++;
    while (ve > v && is_ows(ve[-1]))
        ve--;

    switch (nlen) {
    case 10:
        if (CI8(s, "connecti", "        ") && (load16(s + 8) | 0x2020) == load16("on"))
            parse_connection(p, v, ve);
        break;
    case 14:
        if (CI8(s, "content-", "       \0") && CI8(s + 6, "t-length", " \0      ")
            && parse_content_length(p, v, ve) < 0)
            return -1;
        break;
    case 17:
        if (CI8(s, "transfer", "        ") && CI8(s + 8, "-encodin", "\0       ")
            && CI8(s + 9, "encoding", "        "))
            parse_transfer_encoding(p, v, ve);
        break;
    }
    if (p->on_header && !p->interim)
        p->on_header(p->cb_arg, s, nlen, v, (size_t)(ve - v));
    return 0;
}

/* The blank line ending a header section. Returns 1 when the response is
 * complete, 0 when parsing goes on (body, or the next response after a 1xx). */
static int end_of_headers(struct http_parser *p)
{
    p->header_bytes += HTTP_PARSE_HEADER_MAX - p->budget;
    p->budget = HTTP_PARSE_HEADER_MAX;
    if (p->interim) {
        /* 1xx: forget its headers and read the response that follows. */
        p->status = 0;
        p->content_length = -1;
        p->chunked = false;
        p->te_present = false;
        p->conn_tokens = 0;
        p->interim = false;
        p->state = ST_STATUS;
        return 0;
    }
    if (p->minor_version)
        p->keep_alive = !(p->conn_tokens & CONN_CLOSE);
    else
        p->keep_alive = p->conn_tokens == CONN_KEEP_ALIVE;

    if (p->status == 101) {
        /* Switching Protocols: what follows is no longer HTTP/1.1. */
        p->keep_alive = false;
        return 1;
    }
    if ((p->flags & HTTP_PARSE_HEAD) || p->status == 204 || p->status == 304)
        return 1;
    if (p->te_present) {
        if (p->chunked) {
            p->budget = HTTP_PARSE_CHUNK_LINE_MAX;
            p->state = ST_CHUNK_SIZE;
            return 0;
        }
    } else if (p->content_length >= 0) {
        if (p->content_length == 0)
            return 1;
        p->remaining = (uint64_t)p->content_length;
        p->state = ST_BODY_LENGTH;
        return 0;
    }
    /* No length and not chunked (or an unknown final coding): read to close. */
    p->keep_alive = false;
    p->state = ST_BODY_CLOSE;
    return 0;
}

/* hex-size [BWS ";" extensions] */
static int parse_chunk_size(struct http_parser *p, const char *s, size_t n)
{
    const char *e = s + n;
    uint64_t size = 0;

    if (n == 0 || hex_digit((unsigned char)*s) < 0)
        return fail(p, "bad chunk size");
    for (; s < e; s++) {
        int d = hex_digit((unsigned char)*s);
        if (d < 0)
            break;
        if (size > HTTP_PARSE_LENGTH_MAX >> 4)
            return fail(p, "chunk size too large");
        size = size << 4 | (unsigned)d;
        if (size > HTTP_PARSE_LENGTH_MAX)
            return fail(p, "chunk size too large");
    }
    while (s < e && is_ows(*s))
        s++;
    if (s < e && *s != ';')
        return fail(p, "bad chunk size");
    p->remaining = size;
    return 0;
}

static int finish(struct http_parser *p, int state, int result)
{
    p->state = (uint8_t)state;
    if (__builtin_expect(p->line_buf != NULL, 0))
        http_parser_deinit(p);
    return result;
}

int http_parser_feed(struct http_parser *p, const char *buf, size_t len, size_t *consumed)
{
    const char *pos = buf, *end = buf + len;
    const char *line;
    size_t llen, n;
    int r;

    if (__builtin_expect(p->state >= ST_DONE, 0)) {
        *consumed = 0;
        return p->state == ST_DONE ? HTTP_PARSE_DONE : HTTP_PARSE_ERROR;
    }

    while (pos < end) {
        switch ((enum parse_state)p->state) {
        case ST_STATUS:
            r = next_line(p, &pos, end, &line, &llen);
            if (r <= 0) {
                if (r == 0)
                    break;
                fail(p, "header section too large");
                goto error;
            }
            if (parse_status_line(p, line, llen) < 0)
                goto error;
            p->state = ST_HEADER;
            break;

        case ST_HEADER:
            r = next_line(p, &pos, end, &line, &llen);
            if (r <= 0) {
                if (r == 0)
                    break;
                fail(p, "header section too large");
                goto error;
            }
            if (llen == 0) {
                if (end_of_headers(p))
                    goto done;
            } else if (parse_header(p, line, llen) < 0) {
                goto error;
            }
            break;

        case ST_BODY_LENGTH:
            n = (size_t)(end - pos);
            if (p->remaining < n)
                n = (size_t)p->remaining;
            if (p->on_body)
                p->on_body(p->cb_arg, pos, n);
            pos += n;
            p->body_bytes += n;
            p->remaining -= n;
            if (p->remaining == 0)
                goto done;
            break;

        case ST_BODY_CLOSE:
            n = (size_t)(end - pos);
            if (p->on_body)
                p->on_body(p->cb_arg, pos, n);
            pos += n;
            p->body_bytes += n;
            break;

        case ST_CHUNK_SIZE:
            r = next_line(p, &pos, end, &line, &llen);
            if (r <= 0) {
                if (r == 0)
                    break;
                fail(p, "chunk-size line too long");
                goto error;
            }
            if (parse_chunk_size(p, line, llen) < 0)
                goto error;
            if (p->remaining == 0) {
                p->budget = HTTP_PARSE_HEADER_MAX;
                p->state = ST_TRAILER;
            } else {
                p->state = ST_CHUNK_DATA;
            }
            break;

        case ST_CHUNK_DATA:
            n = (size_t)(end - pos);
            if (p->remaining < n)
                n = (size_t)p->remaining;
            if (p->on_body)
                p->on_body(p->cb_arg, pos, n);
            pos += n;
            p->body_bytes += n;
            p->remaining -= n;
            if (p->remaining == 0)
                p->state = ST_CHUNK_CR;
            break;

        case ST_CHUNK_CR:
        case ST_CHUNK_LF:
            if (*pos == '\r' && p->state == ST_CHUNK_CR) {
                p->state = ST_CHUNK_LF;
            } else if (*pos == '\n') {
                p->budget = HTTP_PARSE_CHUNK_LINE_MAX;
                p->state = ST_CHUNK_SIZE;
            } else {
                fail(p, "bad chunk terminator");
                goto error;
            }
            pos++;
            break;

        case ST_TRAILER:
            r = next_line(p, &pos, end, &line, &llen);
            if (r <= 0) {
                if (r == 0)
                    break;
                fail(p, "trailer section too large");
                goto error;
            }
            if (llen == 0)
                goto done;
            break;

        case ST_DONE:
        case ST_ERROR:
            break; /* unreachable: checked before the loop */
        }
    }
    *consumed = len;
    return HTTP_PARSE_MORE;

done:
    *consumed = (size_t)(pos - buf);
    return finish(p, ST_DONE, HTTP_PARSE_DONE);
error:
    *consumed = (size_t)(pos - buf);
    return finish(p, ST_ERROR, HTTP_PARSE_ERROR);
}

int http_parser_eof(struct http_parser *p)
{
    switch ((enum parse_state)p->state) {
    case ST_DONE:
        return HTTP_PARSE_DONE;
    case ST_ERROR:
        return HTTP_PARSE_ERROR;
    case ST_BODY_CLOSE:
        return finish(p, ST_DONE, HTTP_PARSE_DONE);
    case ST_STATUS:
        /* Nothing at all received: the usual race with a server closing an
         * idle keep-alive connection, worth telling apart. */
        if (p->header_bytes == 0 && p->line_len == 0)
            fail(p, "connection closed before response");
        else
            fail(p, "connection closed mid-headers");
        break;
    case ST_HEADER:
        fail(p, "connection closed mid-headers");
        break;
    default:
        fail(p, "connection closed before end of response");
        break;
    }
    return finish(p, ST_ERROR, HTTP_PARSE_ERROR);
}
