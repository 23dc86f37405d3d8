/* Unit tests for http_parse: representative responses fed whole, split at
 * every position and one byte at a time must give identical results; each
 * malformed input must fail with its own message. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "http_parse.h"

#define WHOLE SIZE_MAX /* step: feed the rest in one piece */

/* ---- representative responses ------------------------------------------ */

struct resp_case {
    const char *name;
    const char *raw;
    size_t raw_len;          /* 0: strlen(raw) */
    unsigned flags;
    int status;
    int minor_version;
    bool keep_alive;
    int64_t content_length;
    bool chunked;
    bool close_delimited;    /* complete only at EOF */
    const char *body;        /* decoded body */
    size_t body_len;         /* 0 with body != NULL: strlen(body) */
    size_t header_bytes;
    bool body_in_raw;        /* body points into raw: check spans by address */
};

#define NGINX_HEAD                                                  \
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"                   \
    "Date: Mon, 03 Jun 2024 10:00:00 GMT\r\nContent-Type: text/plain\r\n"

static struct resp_case cases[] = {
    { .name = "content-length keep-alive",
      .raw = NGINX_HEAD "Content-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
      .status = 200, .minor_version = 1, .keep_alive = true, .content_length = 2,
      .body = "ok" },
    { .name = "chunked with extensions and trailers",
      .raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;name=value\r\nhello\r\n"
             "7 ; a=\"b;c\" ;d\r\n, world\r\n"
             "0000000000000000000000001\r\n!\r\n"
             "0;last\r\nX-Trailer: yes\r\nX-Checksum: 42\r\n\r\n",
      .status = 200, .minor_version = 1, .keep_alive = true, .content_length = -1,
      .chunked = true, .body = "hello, world!" },
    { .name = "HTTP/1.0 without keep-alive",
      .raw = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      .status = 200, .minor_version = 0, .keep_alive = false, .content_length = 5,
      .body = "hello" },
    { .name = "HTTP/1.0 with keep-alive",
      .raw = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\nhello",
      .status = 200, .minor_version = 0, .keep_alive = true, .content_length = 5,
      .body = "hello" },
    { .name = "close-delimited body",
      .raw = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>until close</p>\n",
      .status = 200, .minor_version = 1, .keep_alive = false, .content_length = -1,
      .close_delimited = true, .body = "<p>until close</p>\n" },
    { .name = "204 with a Content-Length header",
      .raw = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
      .status = 204, .minor_version = 1, .keep_alive = true, .content_length = 5,
      .body = "" },
    { .name = "HEAD",
      .raw = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nTransfer-Encoding: chunked\r\n\r\n",
      .flags = HTTP_PARSE_HEAD, .status = 200, .minor_version = 1, .keep_alive = true,
      .content_length = 1234, .chunked = true, .body = "" },
    { .name = "100 Continue then 200",
      .raw = "HTTP/1.1 100 Continue\r\nContent-Length: 99\r\nConnection: close\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes",
      .status = 200, .minor_version = 1, .keep_alive = true, .content_length = 3,
      .body = "yes" },
    { .name = "bare LF line endings",
      .raw = "HTTP/1.1 201 Created\nLocation: /x\nContent-Length: 4\nConnection: close\n\nmade",
      .status = 201, .minor_version = 1, .keep_alive = false, .content_length = 4,
      .body = "made" },
    { .name = "bare LF chunked",
      .raw = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
      .status = 200, .minor_version = 1, .keep_alive = true, .content_length = -1,
      .chunked = true, .body = "abc" },
    { .name = "chunked wins over Content-Length, odd case names",
      .raw = "HTTP/1.1 200 OK\r\ncontent-LENGTH: 100\r\nTRANSFER-encoding: gzip, Chunked\r\n"
             "CONNECTION: Upgrade, close\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n",
      .status = 200, .minor_version = 1, .keep_alive = false, .content_length = 100,
      .chunked = true, .body = "wxyz" },
    { .name = "304 with chunked header has no body",
      .raw = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nETag: \"x\"\r\n\r\n",
      .status = 304, .minor_version = 1, .keep_alive = true, .content_length = -1,
      .chunked = true, .body = "" },
    { .name = "non-chunked final coding reads to close",
      .raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 3\r\n\r\nabcdef",
      .status = 200, .minor_version = 1, .keep_alive = false, .content_length = 3,
      .close_delimited = true, .body = "abcdef" },
    { .name = "large body 1 MB" }, /* filled by setup_cases() */
};
#define N_CASES (sizeof cases / sizeof cases[0])
#define LARGE_BODY (1024 * 1024)

/* Header bytes of a case: everything before the body, unless chunked. */
static size_t case_header_bytes(const struct resp_case *c)
{
    if (!c->chunked || (c->flags & HTTP_PARSE_HEAD) || c->status == 304)
        return c->raw_len - c->body_len;
    const char *crlf = strstr(c->raw, "\r\n\r\n"), *lf = strstr(c->raw, "\n\n");
    if (crlf && (!lf || crlf < lf))
        return (size_t)(crlf + 4 - c->raw);
    return (size_t)(lf + 2 - c->raw);
}

static void setup_cases(void)
{
    static char *large;
    if (!large) {
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
        size_t hl = sizeof head - 1;
        large = malloc(hl + LARGE_BODY);
        ck_assert_ptr_nonnull(large);
        memcpy(large, head, hl);
        for (size_t i = 0; i < LARGE_BODY; i++)
            large[hl + i] = (char)('a' + (i * 7 + i / 251) % 26);
        struct resp_case *c = &cases[N_CASES - 1];
        c->raw = large;
        c->raw_len = hl + LARGE_BODY;
        c->status = 200;
        c->minor_version = 1;
        c->keep_alive = true;
        c->content_length = LARGE_BODY;
        c->body = large + hl;
        c->body_len = LARGE_BODY;
        c->body_in_raw = true;
    }
    for (size_t i = 0; i < N_CASES; i++) {
        struct resp_case *c = &cases[i];
        if (!c->raw_len)
            c->raw_len = strlen(c->raw);
        if (!c->body_len)
            c->body_len = strlen(c->body);
        c->header_bytes = case_header_bytes(c);
    }
}

/* on_body collector: compares each span with the expected body in place
 * (by address when the body lies in the fed buffer, so 1 MB split a million
 * ways stays linear). No ck_assert here: it is far too slow per call. */
struct body_check {
    const struct resp_case *c;
    size_t got;
    size_t calls;
    bool bad;
};

static void check_body(void *arg, const char *data, size_t n)
{
    struct body_check *b = arg;
    const struct resp_case *c = b->c;
    b->calls++;
    if (n == 0 || b->got + n > c->body_len)
        b->bad = true;
    else if (c->body_in_raw ? data != c->body + b->got
                            : memcmp(data, c->body + b->got, n) != 0)
        b->bad = true;
    b->got += n;
}

/* Feed c->raw as [0, split) then the rest in pieces of step bytes. Returns
 * NULL on success, else what went wrong (in a static buffer). */
static const char *run_case(const struct resp_case *c, size_t split, size_t step)
{
    static char why[256];
    struct http_parser p;
    struct body_check b = { .c = c };
    size_t off = 0, consumed;
    bool first = true;
    int r;

    http_parser_init(&p, c->flags);
    p.on_body = check_body;
    p.cb_arg = &b;
    do {
        size_t n = first ? split : step;
        first = false;
        if (n > c->raw_len - off)
            n = c->raw_len - off;
        r = http_parser_feed(&p, c->raw + off, n, &consumed);
        bool last = off + n == c->raw_len;
        if (r == HTTP_PARSE_ERROR) {
            snprintf(why, sizeof why, "ERROR \"%s\" at offset %zu", http_parser_error(&p), off);
            return why;
        }
        if (consumed != n) {
            snprintf(why, sizeof why, "consumed %zu of %zu at offset %zu", consumed, n, off);
            return why;
        }
        if (r == HTTP_PARSE_DONE && !(last && !c->close_delimited)) {
            snprintf(why, sizeof why, "early DONE at offset %zu", off);
            return why;
        }
        off += n;
    } while (off < c->raw_len);
    if (c->close_delimited) {
        if (r != HTTP_PARSE_MORE)
            return "close-delimited response not MORE before EOF";
        r = http_parser_eof(&p);
    }
    if (r != HTTP_PARSE_DONE)
        return "not DONE at the end";
    if (p.status != c->status || p.minor_version != c->minor_version
        || p.keep_alive != c->keep_alive || p.content_length != c->content_length
        || p.chunked != c->chunked) {
        snprintf(why, sizeof why, "status %d minor %d keep_alive %d length %lld chunked %d",
                 p.status, p.minor_version, p.keep_alive, (long long)p.content_length,
                 p.chunked);
        return why;
    }
    if (p.body_bytes != c->body_len || b.got != c->body_len || b.bad) {
        snprintf(why, sizeof why, "body_bytes %llu, on_body got %zu%s, want %zu",
                 (unsigned long long)p.body_bytes, b.got, b.bad ? " (wrong bytes)" : "",
                 c->body_len);
        return why;
    }
    if (p.header_bytes != c->header_bytes) {
        snprintf(why, sizeof why, "header_bytes %zu, want %zu", p.header_bytes, c->header_bytes);
        return why;
    }
    if (http_parser_error(&p) != NULL)
        return "error string set after DONE";
    return NULL;
}

START_TEST(test_case_whole)
{
    setup_cases();
    const struct resp_case *c = &cases[_i];
    const char *why = run_case(c, c->raw_len, WHOLE);
    if (why)
        ck_abort_msg("%s: %s", c->name, why);
}
END_TEST

START_TEST(test_case_every_split)
{
    setup_cases();
    const struct resp_case *c = &cases[_i];
    for (size_t split = 0; split <= c->raw_len; split++) {
        const char *why = run_case(c, split, WHOLE);
        if (why)
            ck_abort_msg("%s: split at %zu: %s", c->name, split, why);
    }
}
END_TEST

START_TEST(test_case_bytewise)
{
    setup_cases();
    const struct resp_case *c = &cases[_i];
    const char *why = run_case(c, 1, 1);
    if (why)
        ck_abort_msg("%s: one byte at a time: %s", c->name, why);
}
END_TEST

/* ---- malformed responses ------------------------------------------------ */

struct err_case {
    const char *name;
    const char *raw;
    unsigned flags;
    bool at_eof;             /* the error comes from http_parser_eof */
    const char *error;
};

#define OK_HEAD "HTTP/1.1 200 OK\r\n"
#define CHUNKED_HEAD OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"

static const struct err_case err_cases[] = {
    { "not HTTP", "HTPT/1.1 200 OK\r\n\r\n", 0, false, "bad status line" },
    { "empty status line", "\r\n", 0, false, "bad status line" },
    { "no space after version", "HTTP/1.1-200 OK\r\n\r\n", 0, false, "bad status line" },
    { "HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 0, false, "unsupported HTTP version" },
    { "HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n", 0, false, "unsupported HTTP version" },
    { "two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 0, false, "bad status code" },
    { "four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 0, false, "bad status code" },
    { "status below 100", "HTTP/1.1 099 Low\r\n\r\n", 0, false, "bad status code" },
    { "non-digit status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, false, "bad status code" },
    { "Content-Length non-digit", OK_HEAD "Content-Length: 12a\r\n\r\n", 0, false,
      "invalid Content-Length" },
    { "Content-Length negative", OK_HEAD "Content-Length: -1\r\n\r\n", 0, false,
      "invalid Content-Length" },
    { "Content-Length empty", OK_HEAD "Content-Length: \r\n\r\n", 0, false,
      "invalid Content-Length" },
    { "Content-Length 2^62+1", OK_HEAD "Content-Length: 4611686018427387905\r\n\r\n", 0, false,
      "invalid Content-Length" },
    { "Content-Length 2^64+1", OK_HEAD "Content-Length: 18446744073709551617\r\n\r\n", 0, false,
      "invalid Content-Length" },
    { "conflicting Content-Length", OK_HEAD "Content-Length: 5\r\ncontent-length: 6\r\n\r\n", 0,
      false, "conflicting Content-Length" },
    { "chunk size 2^62+1", CHUNKED_HEAD "4000000000000001\r\n", 0, false,
      "chunk size too large" },
    { "chunk size 2^68", CHUNKED_HEAD "100000000000000000\r\n", 0, false,
      "chunk size too large" },
    { "non-hex chunk size", CHUNKED_HEAD "zz\r\n", 0, false, "bad chunk size" },
    { "hex then junk", CHUNKED_HEAD "5x\r\nhello\r\n", 0, false, "bad chunk size" },
    { "empty chunk size", CHUNKED_HEAD "\r\n", 0, false, "bad chunk size" },
    { "missing chunk terminator", CHUNKED_HEAD "5\r\nhelloXY\r\n", 0, false,
      "bad chunk terminator" },
    { "CR without LF after chunk", CHUNKED_HEAD "5\r\nhello\r\r\n", 0, false,
      "bad chunk terminator" },
    { "obs-fold", OK_HEAD "X-Long: a\r\n  continued\r\n\r\n", 0, false,
      "obsolete line folding" },
    { "header without colon", OK_HEAD "Content-Length 5\r\n\r\n", 0, false, "bad header line" },
    { "empty header name", OK_HEAD ": value\r\n\r\n", 0, false, "bad header line" },
    { "space before colon", OK_HEAD "Content-Length : 5\r\n\r\n", 0, false, "bad header line" },
    { "EOF before anything", "", 0, true, "connection closed before response" },
    { "EOF mid status line", "HTTP/1.", 0, true, "connection closed mid-headers" },
    { "EOF mid-headers", OK_HEAD "Content-Le", 0, true, "connection closed mid-headers" },
    { "EOF after 100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", 0, true,
      "connection closed mid-headers" },
    { "EOF mid-body with Content-Length", OK_HEAD "Content-Length: 10\r\n\r\nabc", 0, true,
      "connection closed before end of response" },
    { "EOF right after headers", OK_HEAD "Content-Length: 10\r\n\r\n", 0, true,
      "connection closed before end of response" },
    { "EOF mid-chunk", CHUNKED_HEAD "a\r\nabc", 0, true,
      "connection closed before end of response" },
    { "EOF in trailers", CHUNKED_HEAD "0\r\nX-T: 1\r\n", 0, true,
      "connection closed before end of response" },
};
#define N_ERR_CASES (sizeof err_cases / sizeof err_cases[0])

/* Feed raw[0, len) to p as [0, split) then pieces of step bytes, stopping
 * at the first result other than MORE (or a MORE that left bytes unused).
 * Returns the last result; *used = bytes consumed in all. */
static int feed_pieces(struct http_parser *p, const char *raw, size_t len, size_t split,
                       size_t step, size_t *used)
{
    size_t off = 0, consumed;
    bool first = true;
    int r;

    do {
        size_t n = first ? split : step;
        first = false;
        if (n > len - off)
            n = len - off;
        r = http_parser_feed(p, raw + off, n, &consumed);
        off += consumed;
        if (r != HTTP_PARSE_MORE || consumed != n)
            break;
    } while (off < len);
    *used = off;
    return r;
}

/* Feed raw[0, len) as [0, split) then pieces of step. NULL if the expected
 * error came out, else what happened instead. */
static const char *run_error(const char *raw, size_t len, unsigned flags, bool at_eof,
                             const char *error, size_t split, size_t step)
{
    static char why[256];
    struct http_parser p;
    size_t used, consumed;

    http_parser_init(&p, flags);
    int r = feed_pieces(&p, raw, len, split, step, &used);
    if (r == HTTP_PARSE_MORE && used != len)
        return "MORE without consuming everything";
    if (at_eof) {
        if (r != HTTP_PARSE_MORE)
            return "input did not end in MORE before EOF";
        r = http_parser_eof(&p);
    }
    if (r != HTTP_PARSE_ERROR) {
        snprintf(why, sizeof why, "result %d, not ERROR", r);
        return why;
    }
    if (!http_parser_error(&p) || strcmp(http_parser_error(&p), error) != 0) {
        snprintf(why, sizeof why, "error \"%s\", want \"%s\"",
                 http_parser_error(&p) ? http_parser_error(&p) : "(null)", error);
        return why;
    }
    if (p.line_buf != NULL)
        return "line buffer kept after ERROR";
    /* ERROR is sticky. */
    if (http_parser_feed(&p, "HTTP/1.1 200 OK\r\n\r\n", 19, &consumed) != HTTP_PARSE_ERROR
        || consumed != 0 || http_parser_eof(&p) != HTTP_PARSE_ERROR)
        return "ERROR not sticky";
    return NULL;
}

START_TEST(test_error_case)
{
    const struct err_case *e = &err_cases[_i];
    size_t len = strlen(e->raw);
    const char *why = run_error(e->raw, len, e->flags, e->at_eof, e->error, len, WHOLE);
    if (why)
        ck_abort_msg("%s, whole: %s", e->name, why);
    why = run_error(e->raw, len, e->flags, e->at_eof, e->error, 1, 1);
    if (why)
        ck_abort_msg("%s, one byte at a time: %s", e->name, why);
    for (size_t split = 0; split <= len; split++) {
        why = run_error(e->raw, len, e->flags, e->at_eof, e->error, split, WHOLE);
        if (why)
            ck_abort_msg("%s, split at %zu: %s", e->name, split, why);
    }
}
END_TEST

/* A response whose header section is exactly `total` bytes long. */
static char *make_header_section(size_t total, size_t *len)
{
    char *s = malloc(total + 1);
    ck_assert_ptr_nonnull(s);
    size_t off = (size_t)sprintf(s, "HTTP/1.1 204 No Content\r\n");
    while (total - off - 2 >= 100 + 7) {
        off += (size_t)sprintf(s + off, "X-Filler: %088zu\r\n", off);
    }
    /* One last header line sized to land exactly on total. */
    size_t last = total - off - 2; /* bytes left before the blank line */
    ck_assert_uint_ge(last, 6);
    memcpy(s + off, "X-Z: ", 5);
    memset(s + off + 5, 'z', last - 7);
    memcpy(s + off + last - 2, "\r\n\r\n", 4);
    *len = total;
    s[total] = '\0';
    return s;
}

START_TEST(test_header_section_limit)
{
    size_t len;
    char *s = make_header_section(HTTP_PARSE_HEADER_MAX, &len);
    ck_assert_uint_eq(len, HTTP_PARSE_HEADER_MAX);
    ck_assert_uint_eq(strlen(s), len);

    /* Exactly at the limit: accepted, whole and one byte at a time. */
    const size_t steps[] = { len, 1 };
    for (size_t i = 0; i < 2; i++) {
        struct http_parser p;
        size_t used;
        http_parser_init(&p, 0);
        ck_assert_int_eq(feed_pieces(&p, s, len, steps[i], steps[i], &used), HTTP_PARSE_DONE);
        ck_assert_uint_eq(used, len);
        ck_assert_uint_eq(p.header_bytes, HTTP_PARSE_HEADER_MAX);
        ck_assert_int_eq(p.status, 204);
    }
    free(s);

    /* One byte over: rejected, whole and one byte at a time. */
    s = make_header_section(HTTP_PARSE_HEADER_MAX + 1, &len);
    const char *why = run_error(s, len, 0, false, "header section too large", len, WHOLE);
    if (why)
        ck_abort_msg("limit + 1, whole: %s", why);
    why = run_error(s, len, 0, false, "header section too large", 1, 1);
    if (why)
        ck_abort_msg("limit + 1, one byte at a time: %s", why);
    /* Refused as soon as the excess is certain: before the final '\n'. */
    why = run_error(s, len - 1, 0, false, "header section too large", len - 1, WHOLE);
    if (why)
        ck_abort_msg("limit + 1 without its last byte: %s", why);
    free(s);
}
END_TEST

START_TEST(test_header_line_too_long_without_newline)
{
    /* A single endless header line: refused before its '\n' ever comes. */
    size_t len = HTTP_PARSE_HEADER_MAX + 100;
    char *s = malloc(len);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
    memset(s + 24, 'b', len - 24);
    const char *why = run_error(s, len, 0, false, "header section too large", len, WHOLE);
    if (why)
        ck_abort_msg("whole: %s", why);
    why = run_error(s, len, 0, false, "header section too large", 30, 4096);
    if (why)
        ck_abort_msg("in 4 KiB reads: %s", why);
    free(s);
}
END_TEST

START_TEST(test_chunk_and_trailer_limits)
{
    char *s = malloc(HTTP_PARSE_HEADER_MAX + 200);
    ck_assert_ptr_nonnull(s);

    /* A chunk-size line of exactly 1 KiB (with CRLF) is accepted... */
    int off = sprintf(s, CHUNKED_HEAD "1;");
    memset(s + off, 'e', HTTP_PARSE_CHUNK_LINE_MAX - 4);
    off += HTTP_PARSE_CHUNK_LINE_MAX - 4;
    off += sprintf(s + off, "\r\nx\r\n0\r\n\r\n");
    struct http_parser p;
    size_t consumed;
    http_parser_init(&p, 0);
    ck_assert_int_eq(http_parser_feed(&p, s, (size_t)off, &consumed), HTTP_PARSE_DONE);
    ck_assert_uint_eq(consumed, (size_t)off);
    ck_assert_uint_eq(p.body_bytes, 1);

    /* ...one byte more is not. */
    off = sprintf(s, CHUNKED_HEAD "1;");
    memset(s + off, 'e', HTTP_PARSE_CHUNK_LINE_MAX - 3);
    off += HTTP_PARSE_CHUNK_LINE_MAX - 3;
    off += sprintf(s + off, "\r\nx\r\n0\r\n\r\n");
    const char *why = run_error(s, (size_t)off, 0, false, "chunk-size line too long",
                                (size_t)off, WHOLE);
    if (why)
        ck_abort_msg("chunk line, whole: %s", why);
    why = run_error(s, (size_t)off, 0, false, "chunk-size line too long", 1, 1);
    if (why)
        ck_abort_msg("chunk line, bytewise: %s", why);

    /* Trailers are bounded like headers. */
    off = sprintf(s, CHUNKED_HEAD "0\r\nX-T: ");
    memset(s + off, 't', HTTP_PARSE_HEADER_MAX);
    off += HTTP_PARSE_HEADER_MAX;
    off += sprintf(s + off, "\r\n\r\n");
    why = run_error(s, (size_t)off, 0, false, "trailer section too large", (size_t)off, WHOLE);
    if (why)
        ck_abort_msg("trailer: %s", why);
    free(s);
}
END_TEST

/* ---- consumed, reuse, headers ------------------------------------------- */

START_TEST(test_extra_bytes_after_response)
{
    static const char *const responses[] = {
        NGINX_HEAD "Content-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
        CHUNKED_HEAD "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    };
    static const char extra[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nX\r\n";
    char buf[512];

    for (size_t i = 0; i < sizeof responses / sizeof responses[0]; i++) {
        size_t rl = strlen(responses[i]);
        size_t total = rl + sizeof extra - 1;
        memcpy(buf, responses[i], rl);
        memcpy(buf + rl, extra, sizeof extra - 1);
        /* Every split point: the DONE feed must stop exactly at rl. */
        for (size_t split = 0; split <= total; split++) {
            struct http_parser p;
            size_t consumed, used;
            http_parser_init(&p, 0);
            int r = http_parser_feed(&p, buf, split, &consumed);
            used = consumed;
            if (r == HTTP_PARSE_MORE) {
                ck_assert_uint_eq(consumed, split);
                r = http_parser_feed(&p, buf + split, total - split, &consumed);
                used += consumed;
            }
            if (r != HTTP_PARSE_DONE || used != rl)
                ck_abort_msg("response %zu split %zu: result %d consumed %zu, want DONE %zu",
                             i, split, r, used, rl);
            /* Fed again after DONE: stays DONE, takes nothing. */
            ck_assert_int_eq(http_parser_feed(&p, buf + rl, total - rl, &consumed),
                             HTTP_PARSE_DONE);
            ck_assert_uint_eq(consumed, 0);
            ck_assert_int_eq(http_parser_eof(&p), HTTP_PARSE_DONE);
        }
    }
}
END_TEST

START_TEST(test_reuse_after_init)
{
    static const char two[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
        "HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\ntwo";
    struct http_parser p;
    size_t consumed, off = 0;

    http_parser_init(&p, 0);
    ck_assert_int_eq(http_parser_feed(&p, two, sizeof two - 1, &consumed), HTTP_PARSE_DONE);
    ck_assert_int_eq(p.status, 200);
    ck_assert(p.keep_alive);
    off = consumed;
    http_parser_init(&p, 0);
    ck_assert_int_eq(http_parser_feed(&p, two + off, sizeof two - 1 - off, &consumed),
                     HTTP_PARSE_DONE);
    ck_assert_uint_eq(off + consumed, sizeof two - 1);
    ck_assert_int_eq(p.status, 404);
    ck_assert_int_eq(p.minor_version, 0);
    ck_assert(!p.keep_alive);
    ck_assert_uint_eq(p.body_bytes, 3);
}
END_TEST

START_TEST(test_deinit_releases_split_line)
{
    struct http_parser p;
    size_t consumed;

    http_parser_init(&p, 0);
    ck_assert_ptr_null(http_parser_error(&p));
    ck_assert_int_eq(http_parser_feed(&p, "HTTP/1.1 200 OK\r\nServ", 21, &consumed),
                     HTTP_PARSE_MORE);
    ck_assert_ptr_nonnull(p.line_buf); /* "Serv" waits for its line's end */
    http_parser_deinit(&p);
    ck_assert_ptr_null(p.line_buf);
    http_parser_deinit(&p); /* idempotent */

    /* The buffer also goes away on its own at DONE. */
    http_parser_init(&p, 0);
    ck_assert_int_eq(http_parser_feed(&p, "HTTP/1.1 200 OK\r\nContent-Len", 28, &consumed),
                     HTTP_PARSE_MORE);
    ck_assert_ptr_nonnull(p.line_buf);
    ck_assert_int_eq(http_parser_feed(&p, "gth: 0\r\n\r\n", 10, &consumed), HTTP_PARSE_DONE);
    ck_assert_ptr_null(p.line_buf);
    ck_assert_int_eq(p.content_length, 0);
}
END_TEST

START_TEST(test_one_feed_allocates_nothing)
{
    struct http_parser p;
    size_t consumed;
    const struct resp_case *c;

    setup_cases();
    for (size_t i = 0; i < N_CASES; i++) {
        c = &cases[i];
        http_parser_init(&p, c->flags);
        int r = http_parser_feed(&p, c->raw, c->raw_len, &consumed);
        ck_assert_ptr_null(p.line_buf);
        ck_assert_int_eq(r, c->close_delimited ? HTTP_PARSE_MORE : HTTP_PARSE_DONE);
    }
}
END_TEST

START_TEST(test_status_line_variants)
{
    static const struct {
        const char *raw;
        int status, minor;
        bool keep_alive;
    } v[] = {
        { "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, 1, true },    /* no reason */
        { "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 200, 1, true },   /* empty reason */
        { "HTTP/1.1 999 Odd: yes\r\nContent-Length: 0\r\n\r\n", 999, 1, true },
        { "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 1, true }, /* read as 1.1 */
        { "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n", 101, 1, false },
        { "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
          200, 0, false },
        { "HTTP/1.1 200 OK\r\nConnection: foo,,  Close ,bar\r\nContent-Length: 0\r\n\r\n",
          200, 1, false },
        { "HTTP/1.1 200 OK\r\nConnection: keep-alive-ish\r\nContent-Length: 0\r\n\r\n",
          200, 1, true },
        { "HTTP/1.0 200 OK\r\nConnection: keep-alive-ish\r\nContent-Length: 0\r\n\r\n",
          200, 0, false },
        { "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\nsame!!!", 200, 1,
          true },
        { "HTTP/1.1 200 OK\r\nContent-Length: 0000\r\n\r\n", 200, 1, true },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct http_parser p;
        size_t consumed, len = strlen(v[i].raw);
        http_parser_init(&p, 0);
        int r = http_parser_feed(&p, v[i].raw, len, &consumed);
        if (r != HTTP_PARSE_DONE || consumed != len || p.status != v[i].status
            || p.minor_version != v[i].minor || p.keep_alive != v[i].keep_alive)
            ck_abort_msg("variant %zu: result %d consumed %zu status %d minor %d ka %d "
                         "(%s)", i, r, consumed, p.status, p.minor_version, p.keep_alive,
                         http_parser_error(&p) ? http_parser_error(&p) : "");
    }
}
END_TEST

START_TEST(test_transfer_encoding_tokens)
{
    static const struct {
        const char *te;
        bool chunked;
    } v[] = {
        { "Transfer-Encoding: chunked\r\n", true },
        { "Transfer-Encoding: gzip, chunked\r\n", true },
        { "Transfer-Encoding: gzip,chunked , \r\n", true },
        { "Transfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n", true },
        { "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", false },
        { "Transfer-Encoding: chunked, gzip\r\n", false },
        { "Transfer-Encoding: chunkedx\r\n", false },
        { "Transfer-Encoding: xchunked\r\n", false },
        { "Transfer-Encoding: chunk\r\n", false },
        { "Transfer-Encoding:\r\n", false },
    };
    char raw[256];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct http_parser p;
        size_t consumed;
        int len = snprintf(raw, sizeof raw,
                           OK_HEAD "Connection: keep-alive\r\nContent-Length: 1\r\n%s\r\n"
                                   "1\r\nz\r\n0\r\n\r\n",
                           v[i].te);
        http_parser_init(&p, 0);
        int r = http_parser_feed(&p, raw, (size_t)len, &consumed);
        if (v[i].chunked) {
            /* Framed by chunks, despite Content-Length: 1. */
            if (r != HTTP_PARSE_DONE || consumed != (size_t)len || !p.chunked
                || p.body_bytes != 1 || !p.keep_alive)
                ck_abort_msg("\"%s\": result %d consumed %zu chunked %d body %llu", v[i].te, r, consumed, p.chunked, (unsigned long long)p.body_bytes);
        } else {
            /* An unknown final coding: the body runs to close, raw chunks and all. */
            if (r != HTTP_PARSE_MORE || p.chunked || http_parser_eof(&p) != HTTP_PARSE_DONE
                || p.keep_alive || p.body_bytes != 11)
                ck_abort_msg("\"%s\": result %d chunked %d keep_alive %d body %llu", v[i].te, r,
                             p.chunked, p.keep_alive, (unsigned long long)p.body_bytes);
        }
    }
}
END_TEST

START_TEST(test_content_length_max)
{
    static const char raw[] = OK_HEAD "Content-Length: 4611686018427387904\r\n\r\nab";
    struct http_parser p;
    size_t consumed;

    http_parser_init(&p, 0);
    ck_assert_int_eq(http_parser_feed(&p, raw, sizeof raw - 1, &consumed), HTTP_PARSE_MORE);
    ck_assert_int_eq(p.content_length, (int64_t)HTTP_PARSE_LENGTH_MAX);
    ck_assert_uint_eq(p.body_bytes, 2);
    ck_assert_int_eq(http_parser_eof(&p), HTTP_PARSE_ERROR);
    ck_assert_str_eq(http_parser_error(&p), "connection closed before end of response");
}
END_TEST

/* on_header collector: "name=value\n" per header, with a bounds check. */
struct header_log {
    char text[4096];
    size_t len;
    bool overflow;
};

static void log_header(void *arg, const char *name, size_t nlen, const char *value,
                       size_t vlen)
{
    struct header_log *h = arg;
    if (h->len + nlen + vlen + 2 > sizeof h->text) {
        h->overflow = true;
        return;
    }
    memcpy(h->text + h->len, name, nlen);
    h->len += nlen;
    h->text[h->len++] = '=';
    memcpy(h->text + h->len, value, vlen);
    h->len += vlen;
    h->text[h->len++] = '\n';
}

START_TEST(test_on_header_every_split)
{
    char raw[2048], want[2048], long_value[301];
    memset(long_value, 'L', 300);
    long_value[300] = '\0';
    int rl = snprintf(raw, sizeof raw,
                      "HTTP/1.1 100 Continue\r\nX-Interim: not reported\r\n\r\n"
                      "HTTP/1.1 200 OK\r\n"
                      "Server:  nginx/1.22.1 \r\n"
                      "X-Empty:\r\n"
                      "X-Blank: \t \r\n"
                      "X-Tabs:\t a  b \t\r\n"
                      "content-length: 3\n"
                      "X-Colon: a:b: c\r\n"
                      "X-Long: %s\r\n"
                      "\r\nabc",
                      long_value);
    int wl = snprintf(want, sizeof want,
                      "Server=nginx/1.22.1\nX-Empty=\nX-Blank=\nX-Tabs=a  b\n"
                      "content-length=3\nX-Colon=a:b: c\nX-Long=%s\n",
                      long_value);
    ck_assert_int_lt(rl, (int)sizeof raw);
    ck_assert_int_lt(wl, (int)sizeof want);

    /* split == rl + 1 stands for "one byte at a time". */
    for (size_t split = 0; split <= (size_t)rl + 1; split++) {
        struct http_parser p;
        struct header_log h = { .len = 0 };
        size_t off;
        bool bytewise = split == (size_t)rl + 1;

        http_parser_init(&p, 0);
        p.on_header = log_header;
        p.cb_arg = &h;
        int r = feed_pieces(&p, raw, (size_t)rl, bytewise ? 1 : split, bytewise ? 1 : WHOLE,
                            &off);
        if (r != HTTP_PARSE_DONE || off != (size_t)rl || h.overflow || h.len != (size_t)wl
            || memcmp(h.text, want, h.len) != 0)
            ck_abort_msg("split %zu: result %d consumed %zu, headers:\n%.*s", split, r, off,
                         (int)h.len, h.text);
        ck_assert_int_eq(p.content_length, 3);
    }
}
END_TEST

static Suite *http_parse_suite(void)
{
    Suite *s = suite_create("http_parse");

    TCase *tc = tcase_create("responses");
    tcase_set_timeout(tc, 120); /* 1 MB split a million ways, under sanitizers */
    tcase_add_loop_test(tc, test_case_whole, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_case_every_split, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_case_bytewise, 0, (int)N_CASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_error_case, 0, (int)N_ERR_CASES);
    tcase_add_test(tc, test_header_section_limit);
    tcase_add_test(tc, test_header_line_too_long_without_newline);
    tcase_add_test(tc, test_chunk_and_trailer_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_test(tc, test_extra_bytes_after_response);
    tcase_add_test(tc, test_reuse_after_init);
    tcase_add_test(tc, test_deinit_releases_split_line);
    tcase_add_test(tc, test_one_feed_allocates_nothing);
    tcase_add_test(tc, test_status_line_variants);
    tcase_add_test(tc, test_transfer_encoding_tokens);
    tcase_add_test(tc, test_content_length_max);
    tcase_add_test(tc, test_on_header_every_split);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(http_parse_suite)
