/* fuzz_http_parse: the load client's HTTP/1.1 response parser (src/http_parse.c).
 * Input: one byte of options (bit 0: the request was HEAD; the rest seeds
 * how the bytes are cut), then what a server sends, possibly several
 * responses in a row. The bytes are parsed twice, fed whole and fed in
 * random pieces (each piece its own allocation, so a read past it is
 * caught), and both runs must agree on every response: result, status,
 * headers, body, framing flags, error. */
#include "fuzz.h"

#include "http_parse.h"

#define MAX_RESPONSES 8

/* What one response looked like to the caller. */
struct seen {
    int result;
    int status, minor_version, keep_alive, chunked;
    int64_t content_length;
    uint64_t body_bytes, body_hash, header_hash;
    size_t header_bytes, nheaders;
    const char *error;
};

struct run {
    struct seen r[MAX_RESPONSES];
    int n;
};

static void on_body(void *arg, const char *data, size_t n)
{
    struct seen *s = arg;
    FUZZ_CHECK(n > 0);
    s->body_bytes += n;
    s->body_hash = fuzz_fnv(s->body_hash, data, n);
}

static void on_header(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct seen *s = arg;
    FUZZ_CHECK(nlen > 0);
    FUZZ_CHECK(vlen == 0 || (value[0] != ' ' && value[0] != '\t'));
    FUZZ_CHECK(vlen == 0 || (value[vlen - 1] != ' ' && value[vlen - 1] != '\t'));
    s->header_hash = fuzz_fnv(s->header_hash, name, nlen);
    s->header_hash = fuzz_fnv(s->header_hash, ":", 1);
    s->header_hash = fuzz_fnv(s->header_hash, value, vlen);
    s->nheaders++;
}

/* Feed data[0..len) as successive responses; piece sizes come from rng
 * (whole when rng is NULL). */
static void parse_all(const uint8_t *data, size_t len, unsigned flags, uint64_t *rng, struct run *out)
{
    size_t off = 0;
    out->n = 0;
    while (out->n < MAX_RESPONSES) {
        struct seen *s = &out->r[out->n++];
        memset(s, 0, sizeof *s);
        s->body_hash = s->header_hash = FUZZ_FNV_INIT;
        struct http_parser p;
        http_parser_init(&p, flags);
        p.on_body = on_body;
        p.on_header = on_header;
        p.cb_arg = s;
        int r = HTTP_PARSE_MORE;
        while (off < len) {
            size_t n = len - off;
            if (rng) {
                size_t want = 1 + (size_t)(fuzz_rand(rng) % 24);
                n = want < n ? want : n;
            }
            char *piece = malloc(n);
            FUZZ_CHECK(piece != NULL);
            memcpy(piece, data + off, n);
            size_t used = (size_t)-1;
            r = http_parser_feed(&p, piece, n, &used);
            free(piece);
            FUZZ_CHECK(used <= n);
            FUZZ_CHECK(r == HTTP_PARSE_MORE || r == HTTP_PARSE_DONE || r == HTTP_PARSE_ERROR);
            if (r == HTTP_PARSE_MORE)
                FUZZ_CHECK(used == n);
            off += used;
            if (r != HTTP_PARSE_MORE)
                break;
        }
        if (r == HTTP_PARSE_MORE)
            r = http_parser_eof(&p);
        /* After DONE or ERROR the parser stays there and takes nothing. */
        size_t used = 1;
        FUZZ_CHECK(http_parser_feed(&p, "x", 1, &used) == r && used == 0);
        FUZZ_CHECK(http_parser_eof(&p) == r);
        FUZZ_CHECK(p.line_buf == NULL);
        s->result = r;
        s->error = http_parser_error(&p);
        FUZZ_CHECK((r == HTTP_PARSE_ERROR) == (s->error != NULL));
        s->status = p.status;
        s->minor_version = p.minor_version;
        s->keep_alive = p.keep_alive;
        s->chunked = p.chunked;
        s->content_length = p.content_length;
        s->header_bytes = p.header_bytes;
        FUZZ_CHECK(s->body_bytes == p.body_bytes);
        if (r == HTTP_PARSE_DONE) {
            FUZZ_CHECK(p.status >= 100 && p.status <= 999);
            FUZZ_CHECK(p.minor_version == 0 || p.minor_version == 1);
            FUZZ_CHECK(p.content_length < 0 || !p.keep_alive || p.chunked ||
                       (flags & HTTP_PARSE_HEAD) || p.body_bytes <= (uint64_t)p.content_length);
        }
        http_parser_deinit(&p);
        if (r != HTTP_PARSE_DONE || off >= len)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & 1 ? HTTP_PARSE_HEAD : 0;
    uint64_t seed = data[0] | (uint64_t)size << 8;
    data++;
    size--;

    static struct run whole, pieces;
    parse_all(data, size, flags, NULL, &whole);
    parse_all(data, size, flags, &seed, &pieces);

    FUZZ_CHECK(whole.n == pieces.n);
    for (int i = 0; i < whole.n; i++) {
        const struct seen *a = &whole.r[i], *b = &pieces.r[i];
        FUZZ_CHECK(a->result == b->result);
        FUZZ_CHECK(a->error == b->error); /* static strings: same fault, same pointer */
        FUZZ_CHECK(a->status == b->status);
        FUZZ_CHECK(a->nheaders == b->nheaders && a->header_hash == b->header_hash);
        FUZZ_CHECK(a->body_bytes == b->body_bytes && a->body_hash == b->body_hash);
        FUZZ_CHECK(a->header_bytes == b->header_bytes);
        if (a->result == HTTP_PARSE_DONE) {
            FUZZ_CHECK(a->minor_version == b->minor_version);
            FUZZ_CHECK(a->keep_alive == b->keep_alive);
            FUZZ_CHECK(a->chunked == b->chunked);
            FUZZ_CHECK(a->content_length == b->content_length);
        }
    }
    return 0;
}
