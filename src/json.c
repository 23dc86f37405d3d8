/* json: guarded yajl parsing, typed getters with field paths, generation. */
#include "json.h"

#include "xmalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

void json_err_set(struct json_err *e, const char *field, const char *fmt, ...)
{
    if (!e)
        return;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

int json_fail(struct json_err *e, const char *path, const char *fmt, ...)
{
    char msg[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        json_err_set(e, path, "%s: %s", path, msg);
    else
        json_err_set(e, "", "%s", msg);
    return -1;
}

/* ---- guard pass: depth and string contents, before yajl builds a tree ---- */

struct guard {
    int depth, max_depth;
    const char *why;
};

static int g_str(void *ctx, const unsigned char *s, size_t len)
{
    struct guard *g = ctx;
    if (memchr(s, '\0', len)) {
        g->why = "strings must not contain \\u0000";
        return 0;
    }
    return 1;
}

static int g_open(void *ctx)
{
    struct guard *g = ctx;
    if (++g->depth > g->max_depth) {
        g->why = "nested too deeply";
        return 0;
    }
    return 1;
}

static int g_close(void *ctx)
{
    ((struct guard *)ctx)->depth--;
    return 1;
}

static int g_map_open(void *ctx) { return g_open(ctx); }
static int g_map_key(void *ctx, const unsigned char *s, size_t len) { return g_str(ctx, s, len); }

static const yajl_callbacks guard_cbs = {
    .yajl_string = g_str,
    .yajl_start_map = g_map_open,
    .yajl_map_key = g_map_key,
    .yajl_end_map = g_close,
    .yajl_start_array = g_open,
    .yajl_end_array = g_close,
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the first duplicated key found in any object of v, or NULL. */
static const char *find_duplicate(yajl_val v)
{
    if (YAJL_IS_OBJECT(v)) {
        size_t n = v->u.object.len;
        if (n > 1) {
            const char **keys = xmalloc(n * sizeof *keys);
            memcpy(keys, v->u.object.keys, n * sizeof *keys);
            qsort(keys, n, sizeof *keys, cmp_str);
            const char *dup = NULL;
            for (size_t i = 1; i < n && !dup; i++)
                if (strcmp(keys[i - 1], keys[i]) == 0)
                    dup = keys[i];
            free(keys);
            if (dup)
                return dup;
        }
        for (size_t i = 0; i < n; i++) {
            const char *d = find_duplicate(v->u.object.values[i]);
            if (d)
                return d;
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            const char *d = find_duplicate(v->u.array.values[i]);
            if (d)
                return d;
        }
    }
    return NULL;
}

yajl_val json_parse(const char *buf, size_t len, int max_depth, struct json_err *e)
{
    if (len == 0) {
        json_err_set(e, "", "empty body: expected a JSON document");
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        json_err_set(e, "", "body contains a NUL byte");
        return NULL;
    }
    struct guard g = { 0, max_depth, NULL };
    yajl_handle h = yajl_alloc(&guard_cbs, NULL, &g);
    yajl_status st = yajl_parse(h, (const unsigned char *)buf, len);
    /* bytes consumed counts only the last call: a failure in
     * complete_parse is at the end of the document */
    size_t at = yajl_get_bytes_consumed(h);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        at = len;
    }
    if (st != yajl_status_ok) {
        if (g.why) {
            json_err_set(e, "", "invalid JSON: %s (at byte %zu)", g.why, at);
        } else {
            unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)buf, len);
            /* yajl's messages end in a newline and start with "parse error: ". */
            char *m = (char *)msg;
            if (strncmp(m, "parse error: ", 13) == 0)
                m += 13;
            size_t ml = strlen(m);
            while (ml && (m[ml - 1] == '\n' || m[ml - 1] == ' '))
                m[--ml] = '\0';
            json_err_set(e, "", "invalid JSON: %s (at byte %zu)", m, at);
            yajl_free_error(h, msg);
        }
        yajl_free(h);
        return NULL;
    }
    yajl_free(h);

    char *copy = xstrndup(buf, len);
    char ebuf[256];
    yajl_val v = yajl_tree_parse(copy, ebuf, sizeof ebuf);
    free(copy);
    if (!v) {
        json_err_set(e, "", "invalid JSON: %s", ebuf);
        return NULL;
    }
    const char *dup = find_duplicate(v);
    if (dup) {
        json_err_set(e, dup, "duplicate key '%s'", dup);
        yajl_tree_free(v);
        return NULL;
    }
    return v;
}

yajl_val json_get(yajl_val obj, const char *key)
{
    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

const char *json_path(char *buf, size_t len, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf(buf, len, "%s.%s", parent, key);
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

const char *json_path_index(char *buf, size_t len, const char *parent, size_t index)
{
    snprintf(buf, len, "%s[%zu]", parent ? parent : "", index);
    return buf;
}

const char *json_type_name(yajl_val v)
{
    if (!v || YAJL_IS_NULL(v))
        return "null";
    if (YAJL_IS_STRING(v))
        return "a string";
    if (YAJL_IS_INTEGER(v))
        return "an integer";
    if (YAJL_IS_NUMBER(v))
        return "a number";
    if (YAJL_IS_OBJECT(v))
        return "an object";
    if (YAJL_IS_ARRAY(v))
        return "an array";
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        return "a boolean";
    return "unknown";
}

yajl_val json_member(yajl_val obj, const char *parent, const char *key, int required, char *path,
                     size_t plen, struct json_err *e, int *rc)
{
    json_path(path, plen, parent, key);
    yajl_val v = json_get(obj, key);
    if (!v) {
        if (required) {
            json_err_set(e, path, "%s is required", path);
            *rc = -1;
        } else {
            *rc = 1;
        }
    }
    return v;
}

int json_get_string(yajl_val obj, const char *parent, const char *key, int required,
                    const char **out, struct json_err *e)
{
    char path[192];
    int rc = 0;
    yajl_val v = json_member(obj, parent, key, required, path, sizeof path, e, &rc);
    if (!v)
        return rc;
    if (!YAJL_IS_STRING(v)) {
        json_err_set(e, path, "%s: expected a string, got %s", path, json_type_name(v));
        return -1;
    }
    *out = v->u.string;
    return 0;
}

int json_get_int(yajl_val obj, const char *parent, const char *key, int required, int64_t min,
                 int64_t max, int64_t *out, struct json_err *e)
{
    char path[192];
    int rc = 0;
    yajl_val v = json_member(obj, parent, key, required, path, sizeof path, e, &rc);
    if (!v)
        return rc;
    /* Integers past int64 come back as doubles: never assume the flags. */
    if (!YAJL_IS_INTEGER(v)) {
        json_err_set(e, path, "%s: expected an integer, got %s", path,
                     YAJL_IS_DOUBLE(v) ? "a non-integer number" : json_type_name(v));
        return -1;
    }
    int64_t n = YAJL_GET_INTEGER(v);
    if (n < min || n > max) {
        json_err_set(e, path, "%s: must be between %lld and %lld", path, (long long)min,
                     (long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

int json_get_number(yajl_val obj, const char *parent, const char *key, int required, double min,
                    double max, double *out, struct json_err *e)
{
    char path[192];
    int rc = 0;
    yajl_val v = json_member(obj, parent, key, required, path, sizeof path, e, &rc);
    if (!v)
        return rc;
    if (!YAJL_IS_NUMBER(v)) {
        json_err_set(e, path, "%s: expected a number, got %s", path, json_type_name(v));
        return -1;
    }
    double d = YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) : YAJL_GET_DOUBLE(v);
    if (!isfinite(d) || d < min || d > max) {
        json_err_set(e, path, "%s: must be between %g and %g", path, min, max);
        return -1;
    }
    *out = d;
    return 0;
}

int json_get_bool(yajl_val obj, const char *parent, const char *key, int required, int *out,
                  struct json_err *e)
{
    char path[192];
    int rc = 0;
    yajl_val v = json_member(obj, parent, key, required, path, sizeof path, e, &rc);
    if (!v)
        return rc;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        json_err_set(e, path, "%s: expected a boolean, got %s", path, json_type_name(v));
        return -1;
    }
    *out = YAJL_IS_TRUE(v);
    return 0;
}

int json_check_keys(yajl_val obj, const char *parent, const char *const *allowed,
                    struct json_err *e)
{
    if (!YAJL_IS_OBJECT(obj))
        return 0;
    for (size_t i = 0; i < obj->u.object.len; i++) {
        const char *k = obj->u.object.keys[i];
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok) {
            char path[192];
            json_path(path, sizeof path, parent, k);
            json_err_set(e, path, "%s: unknown field", path);
            return -1;
        }
    }
    return 0;
}

/* ---- generation ---- */

yajl_gen json_gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        abort();
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

char *json_gen_finish(yajl_gen g, size_t *len)
{
    const unsigned char *buf;
    size_t n;
    yajl_gen_get_buf(g, &buf, &n);
    char *s = xstrndup((const char *)buf, n);
    if (len)
        *len = n;
    yajl_gen_free(g);
    return s;
}

void json_gen_cstr(yajl_gen g, const char *s)
{
    if (!s)
        yajl_gen_null(g);
    else if (yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_invalid_string)
        yajl_gen_string(g, (const unsigned char *)"\xef\xbf\xbd", 3); /* U+FFFD for bad UTF-8 */
}

void json_gen_int(yajl_gen g, int64_t v)
{
    yajl_gen_integer(g, (long long)v);
}

void json_gen_double(yajl_gen g, double v, int decimals)
{
    if (!isfinite(v)) {
        yajl_gen_null(g);
        return;
    }
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%.*f", decimals, v);
    /* %f writes every integer digit: past ~1e40 that does not fit, so
     * write it as %.17g does ("1e+300", a JSON number too). */
    if (n < 0 || (size_t)n >= sizeof buf) {
        n = snprintf(buf, sizeof buf, "%.17g", v);
        yajl_gen_number(g, buf, (size_t)n);
        return;
    }
    /* Trim trailing zeros ("1.500" -> "1.5", "2.000" -> "2"). */
    if (decimals > 0 && strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
            buf[--n] = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        n = snprintf(buf, sizeof buf, "0");
    yajl_gen_number(g, buf, (size_t)n);
}

void json_gen_kv_str(yajl_gen g, const char *key, const char *val)
{
    json_gen_cstr(g, key);
    json_gen_cstr(g, val);
}

void json_gen_kv_int(yajl_gen g, const char *key, int64_t v)
{
    json_gen_cstr(g, key);
    json_gen_int(g, v);
}

void json_gen_kv_double(yajl_gen g, const char *key, double v, int decimals)
{
    json_gen_cstr(g, key);
    json_gen_double(g, v, decimals);
}

void json_gen_kv_bool(yajl_gen g, const char *key, int v)
{
    json_gen_cstr(g, key);
    yajl_gen_bool(g, v);
}

void json_gen_kv_null(yajl_gen g, const char *key)
{
    json_gen_cstr(g, key);
    yajl_gen_null(g);
}

char *json_error_body(const char *code, const char *message, const char *field, size_t *len)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "error");
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "code", code);
    json_gen_kv_str(g, "message", message);
    json_gen_kv_str(g, "field", field && *field ? field : NULL);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    return json_gen_finish(g, len);
}

void json_gen_value(yajl_gen g, yajl_val v)
{
    if (!v || YAJL_IS_NULL(v)) {
        yajl_gen_null(g);
    } else if (YAJL_IS_STRING(v)) {
        json_gen_cstr(g, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        const char *r = YAJL_GET_NUMBER(v); /* as written: nothing lost */
        yajl_gen_number(g, r, strlen(r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            json_gen_value(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    } else {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            json_gen_cstr(g, v->u.object.keys[i]);
            json_gen_value(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    }
}

void json_gen_merged(yajl_gen g, yajl_val base, yajl_val patch)
{
    if (!YAJL_IS_OBJECT(patch)) {
        json_gen_value(g, patch);
        return;
    }
    yajl_gen_map_open(g);
    if (YAJL_IS_OBJECT(base)) {
        for (size_t i = 0; i < base->u.object.len; i++) {
            const char *k = base->u.object.keys[i];
            yajl_val pv = json_get(patch, k);
            if (pv && YAJL_IS_NULL(pv))
                continue; /* null removes */
            json_gen_cstr(g, k);
            if (pv)
                json_gen_merged(g, base->u.object.values[i], pv);
            else
                json_gen_value(g, base->u.object.values[i]);
        }
    }
    for (size_t i = 0; i < patch->u.object.len; i++) {
        const char *k = patch->u.object.keys[i];
        yajl_val pv = patch->u.object.values[i];
        if (YAJL_IS_NULL(pv) || (YAJL_IS_OBJECT(base) && json_get(base, k)))
            continue;
        json_gen_cstr(g, k);
        json_gen_merged(g, NULL, pv);
    }
    yajl_gen_map_close(g);
}

char *json_quote(const char *s)
{
    yajl_gen g = json_gen_new();
    json_gen_cstr(g, s);
    return json_gen_finish(g, NULL);
}
