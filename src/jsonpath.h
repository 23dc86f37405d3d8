/* jsonpath: the subset of JSONPath that extraction needs — `$`, `.name`,
 * `['name']` (any characters, `\'` and `\\` escaped), `[n]`, `[*]` (any
 * member or element: the first that matches wins) and `..name` (at any
 * depth below) — compiled once, then matched against a response body while
 * it is parsed as a stream of events: the parse stops at the first match,
 * so a value near the start of a large body costs only the bytes before
 * it, and no tree is built. */
#ifndef STAMPEDE_JSONPATH_H
#define STAMPEDE_JSONPATH_H

#include "sbuf.h"

#include <stddef.h>

enum jp_kind { JP_KEY, JP_INDEX, JP_ANY, JP_DESCEND };

struct jp_seg {
    enum jp_kind kind;
    char *key;      /* JP_KEY, JP_DESCEND (the key searched at any depth) */
    long index;     /* JP_INDEX */
};

struct jsonpath {
    struct jp_seg *segs;
    int n;
};

#define JSONPATH_MAX_SEGS 32

/* 0, or -1 with a message naming the position in err. */
int jsonpath_compile(const char *expr, struct jsonpath *out, char *err, size_t errlen);
void jsonpath_free(struct jsonpath *p);

enum {
    JSONPATH_FOUND = 1,     /* out holds the value: a string unquoted, a number as
                               written, true/false/null as words */
    JSONPATH_MISSING = 0,   /* the body is JSON and nothing matches */
    JSONPATH_NOT_JSON = -1, /* the body is not JSON (up to where it was read) */
    JSONPATH_NOT_SCALAR = -2, /* the first match is an object or an array */
};

/* The first value of body (len bytes) that p matches, appended to out. */
int jsonpath_find(const struct jsonpath *p, const char *body, size_t len, struct sbuf *out);

#endif
