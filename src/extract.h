/* extract: taking a value out of a response into a VU's variable —
 * {"jsonpath": "$.token"} on the body, {"regex": "id=([0-9]+)"} on the
 * body, {"header": "X-Token"} (the whole value), or {"header":
 * "Set-Cookie", "regex": "sid=([^;]+)"}. A regex is PCRE2 (Perl syntax)
 * with exactly one capture group, whose text is the value; it is compiled
 * once and matched from any loop (each match uses the caller's match
 * data). */
#ifndef STAMPEDE_EXTRACT_H
#define STAMPEDE_EXTRACT_H

#include "json.h"
#include "jsonpath.h"
#include "sbuf.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>

#define EXTRACT_BODY_MAX (8u << 20) /* bytes of a body kept for extraction */

enum extract_src { EXTRACT_JSONPATH, EXTRACT_BODY_REGEX, EXTRACT_HEADER };

struct extractor {
    int var;                 /* the variable it sets (symbol index) */
    enum extract_src src;
    struct jsonpath jp;      /* EXTRACT_JSONPATH */
    pcre2_code *re;          /* EXTRACT_BODY_REGEX, EXTRACT_HEADER with a regex; NULL */
    char *header;            /* EXTRACT_HEADER: its name */
};

/* Compile one extractor from its JSON object; field names it in errors
 * ("steps[0].extract.token"). 0, or -1 with e set. */
int extract_compile(struct extractor *x, yajl_val v, const char *field, struct json_err *e);
void extract_free(struct extractor *x);

/* The captured response: the body (maybe cut at EXTRACT_BODY_MAX) and its
 * headers as "name: value\n" lines. */
struct extract_response {
    const char *body;
    size_t body_len;
    const char *headers;
    size_t headers_len;
};

/* Run x on a response: 0 with the value appended to out, or -1 (nothing
 * matched, or the body is not JSON for a jsonpath). md: match data for
 * two groups, owned by the caller's thread (extract_match_data). */
int extract_run(const struct extractor *x, const struct extract_response *r, pcre2_match_data *md,
                struct sbuf *out);
pcre2_match_data *extract_match_data(void);

#endif
