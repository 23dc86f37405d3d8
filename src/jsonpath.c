/* jsonpath: compiling the subset, and matching it on yajl's event stream. */
#include "jsonpath.h"

#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define MAX_DEPTH 64

/* ---- compiling ---- */

static void push(struct jsonpath *p, enum jp_kind kind, char *key, long index)
{
    p->segs = xrealloc(p->segs, (size_t)(p->n + 1) * sizeof *p->segs);
    p->segs[p->n++] = (struct jp_seg){ kind, key, index };
}

void jsonpath_free(struct jsonpath *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->segs[i].key);
    free(p->segs);
    p->segs = NULL;
    p->n = 0;
}

static int fail(struct jsonpath *p, char *err, size_t errlen, size_t at, const char *what)
{
    snprintf(err, errlen, "at character %zu: %s", at + 1, what);
    jsonpath_free(p);
    return -1;
}

int jsonpath_compile(const char *e, struct jsonpath *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t i = 0, n = strlen(e);
    if (n == 0 || e[0] != '$')
        return fail(out, err, errlen, 0, "a path starts with $");
    i = 1;
    while (i < n) {
        if (out->n == JSONPATH_MAX_SEGS)
            return fail(out, err, errlen, i, "too many parts (at most 32)");
        if (e[i] == '.') {
            int descend = i + 1 < n && e[i + 1] == '.';
            i += descend ? 2 : 1;
            size_t s = i;
            while (i < n && (isalnum((unsigned char)e[i]) || e[i] == '_' || e[i] == '-' || e[i] == '$' ||
                             (unsigned char)e[i] >= 0x80))
                i++;
            if (i == s) {
                if (!descend && i < n && e[i] == '*') { /* .* is [*] */
                    push(out, JP_ANY, NULL, 0);
                    i++;
                    continue;
                }
                return fail(out, err, errlen, s, "expected a name after '.' (use ['...'] for other characters)");
            }
            push(out, descend ? JP_DESCEND : JP_KEY, xstrndup(e + s, i - s), 0);
        } else if (e[i] == '[') {
            i++;
            if (i < n && e[i] == '*') {
                if (i + 1 >= n || e[i + 1] != ']')
                    return fail(out, err, errlen, i + 1, "expected ] after *");
                push(out, JP_ANY, NULL, 0);
                i += 2;
            } else if (i < n && (e[i] == '\'' || e[i] == '"')) {
                char q = e[i++];
                struct sbuf k = { 0 };
                while (i < n && e[i] != q) {
                    if (e[i] == '\\' && i + 1 < n)
                        i++;
                    sbuf_addc(&k, e[i++]);
                }
                if (i >= n || i + 1 >= n || e[i + 1] != ']') {
                    sbuf_deinit(&k);
                    return fail(out, err, errlen, i, "an unclosed ['name']");
                }
                size_t klen;
                push(out, JP_KEY, sbuf_take(&k, &klen), 0);
                i += 2;
            } else if (i < n && isdigit((unsigned char)e[i])) {
                char *end;
                errno = 0;
                long idx = strtol(e + i, &end, 10);
                if (errno || *end != ']')
                    return fail(out, err, errlen, i, "expected [n] with a whole number n >= 0");
                push(out, JP_INDEX, NULL, idx);
                i = (size_t)(end - e) + 1;
            } else {
                return fail(out, err, errlen, i, "expected [n], [*] or ['name'] (no filters or slices)");
            }
        } else {
            return fail(out, err, errlen, i, "expected . or [");
        }
    }
    return 0;
}

/* ---- matching ---- */

struct frame {
    int array;
    long count;     /* array: elements seen */
    char *key;      /* object: the current member's key */
    size_t klen;
};

struct matcher {
    const struct jsonpath *p;
    struct frame st[MAX_DEPTH];
    int depth;      /* frames in use; 0 = at the root value */
    int result;
    struct sbuf *out;
};

/* Does the path of the value now starting (frames 0..depth-1, each with
 * its current key or index) match segments from seg on, from frame f? */
static int match(const struct matcher *m, int seg, int f)
{
    const struct jsonpath *p = m->p;
    if (seg == p->n)
        return f == m->depth;
    if (f == m->depth)
        return 0;
    const struct jp_seg *s = &p->segs[seg];
    const struct frame *fr = &m->st[f];
    switch (s->kind) {
    case JP_KEY:
        return !fr->array && fr->key && strlen(s->key) == fr->klen && memcmp(s->key, fr->key, fr->klen) == 0 &&
               match(m, seg + 1, f + 1);
    case JP_INDEX:
        return fr->array && fr->count - 1 == s->index && match(m, seg + 1, f + 1);
    case JP_ANY:
        return match(m, seg + 1, f + 1);
    case JP_DESCEND:
        for (int k = f; k < m->depth; k++) {
            const struct frame *g = &m->st[k];
            if (!g->array && g->key && strlen(s->key) == g->klen && memcmp(s->key, g->key, g->klen) == 0 &&
                match(m, seg + 1, k + 1))
                return 1;
        }
        return 0;
    }
    return 0;
}

/* A value starts here: count it in its array and test the path. */
static int value_here(struct matcher *m)
{
    if (m->depth > 0 && m->st[m->depth - 1].array)
        m->st[m->depth - 1].count++;
    return match(m, 0, 0);
}

static int scalar(void *ctx, const char *s, size_t n)
{
    struct matcher *m = ctx;
    if (!value_here(m))
        return 1;
    sbuf_add(m->out, s, n);
    m->result = JSONPATH_FOUND;
    return 0; /* stop reading */
}

static int on_null(void *ctx)
{
    return scalar(ctx, "null", 4);
}

static int on_bool(void *ctx, int b)
{
    return scalar(ctx, b ? "true" : "false", b ? 4 : 5);
}

static int on_number(void *ctx, const char *s, size_t n)
{
    return scalar(ctx, s, n);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    return scalar(ctx, (const char *)s, n);
}

static int open_container(void *ctx, int array)
{
    struct matcher *m = ctx;
    if (value_here(m)) {
        m->result = JSONPATH_NOT_SCALAR;
        return 0;
    }
    if (m->depth == MAX_DEPTH)
        return 0; /* deeper than any path we match: give up as not found */
    struct frame *f = &m->st[m->depth++];
    f->array = array;
    f->count = 0;
    f->key = NULL;
    f->klen = 0;
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, 0);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, 1);
}

static int on_key(void *ctx, const unsigned char *k, size_t n)
{
    struct matcher *m = ctx;
    struct frame *f = &m->st[m->depth - 1];
    f->key = xrealloc(f->key, n + 1);
    memcpy(f->key, k, n);
    f->key[n] = '\0';
    f->klen = n;
    return 1;
}

static int on_end(void *ctx)
{
    struct matcher *m = ctx;
    struct frame *f = &m->st[--m->depth];
    free(f->key);
    f->key = NULL;
    return 1;
}

static const yajl_callbacks callbacks = {
    on_null, on_bool, NULL, NULL, on_number, on_string, on_start_map, on_key, on_end, on_start_array, on_end,
};

int jsonpath_find(const struct jsonpath *p, const char *body, size_t len, struct sbuf *out)
{
    struct matcher m = { .p = p, .result = JSONPATH_MISSING, .out = out };
    yajl_handle h = yajl_alloc(&callbacks, NULL, &m);
    yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    int rc = m.result;
    if (rc == JSONPATH_MISSING && st == yajl_status_error)
        rc = JSONPATH_NOT_JSON;
    for (int i = 0; i < m.depth; i++)
        free(m.st[i].key);
    yajl_free(h);
    return rc;
}
