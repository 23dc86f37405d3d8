/* fuzz_jsonpath: the JSONPath subset of extraction (src/jsonpath.c), which
 * matches on yajl's event stream and stops at the first match. Input: the
 * path on the first line, then a response body. Oracle: whenever the body
 * is a JSON document the tree parser accepts, the streamed answer equals a
 * plain tree walk's — the first value in document order whose path the
 * pattern matches: a scalar as its text, an object or array as
 * NOT_SCALAR, nothing as MISSING. A refused path says where. */
#include "fuzz.h"

#include "json.h"
#include "jsonpath.h"

struct step {
    const char *key; /* NULL: an array index */
    long index;
};

struct walk {
    const struct jsonpath *p;
    struct step path[JSON_MAX_DEPTH + 1];
    int depth;
};

static int step_is_key(const struct step *s, const char *key)
{
    return s->key && strcmp(s->key, key) == 0;
}

static int matches(const struct walk *w, int si, int pi)
{
    if (si == w->p->n)
        return pi == w->depth;
    const struct jp_seg *s = &w->p->segs[si];
    switch (s->kind) {
    case JP_KEY:
        return pi < w->depth && step_is_key(&w->path[pi], s->key) && matches(w, si + 1, pi + 1);
    case JP_INDEX:
        return pi < w->depth && !w->path[pi].key && w->path[pi].index == s->index && matches(w, si + 1, pi + 1);
    case JP_ANY:
        return pi < w->depth && matches(w, si + 1, pi + 1);
    case JP_DESCEND:
        for (int k = pi; k < w->depth; k++)
            if (step_is_key(&w->path[k], s->key) && matches(w, si + 1, k + 1))
                return 1;
        return 0;
    }
    return 0;
}

/* The first value below v (v included), in document order, that matches. */
static yajl_val first(struct walk *w, yajl_val v)
{
    if (matches(w, 0, 0))
        return v;
    yajl_val found = NULL;
    if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len && !found; i++) {
            w->path[w->depth++] = (struct step){ v->u.object.keys[i], 0 };
            found = first(w, v->u.object.values[i]);
            w->depth--;
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len && !found; i++) {
            w->path[w->depth++] = (struct step){ NULL, (long)i };
            found = first(w, v->u.array.values[i]);
            w->depth--;
        }
    }
    return found;
}

static void expect_text(const struct sbuf *out, const char *want)
{
    size_t n = strlen(want);
    FUZZ_CHECK(out->len == n && (n == 0 || memcmp(out->s, want, n) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t llen;
    const uint8_t *body = fuzz_first_line(data, size, &llen);
    size_t blen = body ? size - (size_t)(body - data) : 0;
    char *expr = fuzz_cstr(data, llen);
    struct jsonpath p;
    char err[128] = "";
    if (jsonpath_compile(expr, &p, err, sizeof err) < 0) {
        FUZZ_CHECK(strncmp(err, "at character ", 13) == 0);
        FUZZ_CHECK(p.n == 0 && p.segs == NULL);
        free(expr);
        return 0;
    }
    FUZZ_CHECK(p.n <= JSONPATH_MAX_SEGS);
    for (int i = 0; i < p.n; i++)
        FUZZ_CHECK(p.segs[i].kind == JP_INDEX || p.segs[i].kind == JP_ANY || p.segs[i].key);

    struct sbuf out = {0};
    int rc = jsonpath_find(&p, (const char *)body, blen, &out);
    FUZZ_CHECK(rc >= JSONPATH_NOT_SCALAR && rc <= JSONPATH_FOUND);
    if (rc != JSONPATH_FOUND)
        FUZZ_CHECK(out.len == 0);

    struct json_err e;
    yajl_val doc = blen ? json_parse((const char *)body, blen, JSON_MAX_DEPTH - 4, &e) : NULL;
    if (doc) {
        struct walk w = { .p = &p };
        yajl_val v = first(&w, doc);
        if (!v) {
            FUZZ_CHECK(rc == JSONPATH_MISSING);
        } else if (YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v)) {
            FUZZ_CHECK(rc == JSONPATH_NOT_SCALAR);
        } else {
            FUZZ_CHECK(rc == JSONPATH_FOUND);
            if (YAJL_IS_STRING(v))
                expect_text(&out, YAJL_GET_STRING(v));
            else if (YAJL_IS_NUMBER(v))
                expect_text(&out, YAJL_GET_NUMBER(v));
            else if (YAJL_IS_TRUE(v))
                expect_text(&out, "true");
            else if (YAJL_IS_FALSE(v))
                expect_text(&out, "false");
            else
                expect_text(&out, "null");
        }
        yajl_tree_free(doc);
    }
    sbuf_deinit(&out);
    jsonpath_free(&p);
    free(expr);
    return 0;
}
