/* http_parse: incremental HTTP/1.1 response parser for the load client's hot path.
 * Fed whatever read() returned, in any pieces; no allocation and no copying
 * unless a line (status, header, chunk size) is split across two feeds. */
#ifndef STAMPEDE_HTTP_PARSE_H
#define STAMPEDE_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of http_parser_feed and http_parser_eof. */
enum {
    HTTP_PARSE_ERROR = -1, /* malformed; http_parser_error() says why */
    HTTP_PARSE_MORE = 0,   /* all input consumed, response incomplete */
    HTTP_PARSE_DONE = 1,   /* response complete */
};

/* Flags for http_parser_init. */
#define HTTP_PARSE_HEAD 0x1u /* response to HEAD: no body, whatever the headers say */

/* Limits. A response exceeding one is an ERROR, never a truncation. */
#define HTTP_PARSE_HEADER_MAX     (64 * 1024) /* status line + headers + blank line, bytes, per response */
#define HTTP_PARSE_CHUNK_LINE_MAX 1024        /* one chunk-size line with its line ending, bytes */
#define HTTP_PARSE_LENGTH_MAX     ((uint64_t)1 << 62) /* largest Content-Length or chunk size */

/* Decoded body bytes (chunk framing removed). data is borrowed: it points
 * into the buffer given to http_parser_feed and is valid only during the call.
 * Called at most once per chunk per feed; n > 0. */
typedef void http_parser_body_cb(void *arg, const char *data, size_t n);

/* One header of the final response (not of 1xx interim responses, not
 * trailers). name is not NUL-terminated; value is trimmed of surrounding
 * spaces and tabs. Both are borrowed and valid only during the call: they
 * point into the fed buffer, or into the parser's line buffer when the line
 * was split across feeds. */
typedef void http_parser_header_cb(void *arg, const char *name, size_t nlen,
                                   const char *value, size_t vlen);

/* Embed one per connection. Fields above "private" are public: the callbacks
 * are set by the caller, the results are read after DONE. Nothing else may be
 * touched. Invariant: line_buf is allocated at the first line of a response
 * that is split across feeds and kept (reused) until that response ends;
 * DONE and ERROR free it, so it is non-NULL only after a feed returned MORE. */
struct http_parser {
    /* Set after http_parser_init (which clears them) and before the first
     * feed; NULL skips the call. cb_arg is passed to both. */
    http_parser_body_cb *on_body;
    http_parser_header_cb *on_header;
    void *cb_arg;

    /* Results, valid after DONE (partially filled before). */
    int64_t content_length;  /* Content-Length header value, -1 if absent; not used
                                for framing when Transfer-Encoding is present */
    uint64_t body_bytes;     /* decoded body bytes */
    size_t header_bytes;     /* status lines + headers + blank lines, interim 1xx
                                responses included; trailers and chunk framing not */
    int status;              /* 100..999, of the final response */
    int minor_version;       /* 0 or 1 (HTTP/1.2+ is read as 1.1) */
    bool keep_alive;         /* connection reusable after this response; false
                                after 101 Switching Protocols (also final) */
    bool chunked;            /* last Transfer-Encoding is chunked */

    /* private */
    uint8_t state;
    uint8_t flags;
    uint8_t conn_tokens;     /* Connection: close / keep-alive seen */
    bool te_present;         /* any Transfer-Encoding header */
    bool interim;            /* current message is a 1xx to skip */
    const char *error;
    uint64_t remaining;      /* body or chunk bytes still expected */
    size_t budget;           /* bytes left for the current header section or chunk-size line */
    char *line_buf;          /* split line being reassembled; lazily allocated */
    uint32_t line_len;
    uint32_t line_cap;
};

/* Prepare p for one response: clears results, callbacks and flags. Cheap
 * (plain stores, no allocation); call before each response. Must not be called on a parser
 * whose last feed returned MORE without http_parser_deinit first, or a
 * pending line buffer leaks. */
void http_parser_init(struct http_parser *p, unsigned flags);

/* Release the line buffer, if any. Call when abandoning a response mid-way
 * (timeout, reset, connection closed). Idempotent; a no-op after DONE or
 * ERROR. The parser must be re-initialised before the next feed. */
void http_parser_deinit(struct http_parser *p);

/* Feed the next len bytes from the connection (buf is borrowed). Returns
 * HTTP_PARSE_MORE with *consumed = len; HTTP_PARSE_DONE with *consumed =
 * the bytes of buf that belong to this response (anything after them is not
 * part of it: without pipelining, a protocol error); HTTP_PARSE_ERROR with
 * *consumed = bytes accepted before the fault. After DONE or ERROR further
 * feeds return the same result with *consumed = 0. consumed must not be NULL.
 * Callbacks run inside this call and must not init, feed or deinit p. */
int http_parser_feed(struct http_parser *p, const char *buf, size_t len, size_t *consumed);

/* The peer closed the connection. Returns DONE when the body is delimited by
 * close (or the response was already DONE), else ERROR with a reason. */
int http_parser_eof(struct http_parser *p);

/* Static string naming the fault after ERROR, NULL when there is none. One of:
 * "bad status line", "unsupported HTTP version", "bad status code",
 * "bad header line", "obsolete line folding", "invalid Content-Length",
 * "conflicting Content-Length", "header section too large", "bad chunk size",
 * "chunk size too large", "chunk-size line too long", "bad chunk terminator",
 * "trailer section too large", "connection closed before response",
 * "connection closed mid-headers", "connection closed before end of response".
 * Valid for the life of the program. */
const char *http_parser_error(const struct http_parser *p);

#endif
