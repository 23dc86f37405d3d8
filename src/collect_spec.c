/* collect_spec: validating a collection spec (its routes through the
 * script parser), and the rows of a batch response (JSONPath on a parsed
 * tree: the array, then each element). */
#include "collect_spec.h"

#include "duration.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SECTIONS[3] = { "routes", "pre", "post" };
/* where script.c puts each section */
static const char *const SCRIPT_SECTIONS[3] = { "steps", "setup", "teardown" };

void collect_spec_free(struct collect_spec *s)
{
    if (!s)
        return;
    script_free(s->sc);
    for (int c = 0; c < s->ncols; c++) {
        free(s->cols[c]);
        if (s->col_path)
            jsonpath_free(&s->col_path[c]);
    }
    free(s->cols);
    free(s->col_var);
    free(s->col_path);
    jsonpath_free(&s->rows);
    free(s);
}

const char *collect_step_path(const struct collect_spec *s, int i, char *buf, size_t len)
{
    const struct script *sc = s->sc;
    if (i < sc->nmain)
        snprintf(buf, len, "%s.routes[%d]", s->field, i);
    else if (i < sc->nmain + sc->nsetup)
        snprintf(buf, len, "%s.pre[%d]", s->field, i - sc->nmain);
    else
        snprintf(buf, len, "%s.post[%d]", s->field, i - sc->nmain - sc->nsetup);
    return buf;
}

/* Copy src into dst (dstlen bytes) with every "steps[" written as
 * "<field>.routes[" and so on: the script parser's paths, as the spec
 * names them. */
static void rename_paths(char *dst, size_t dstlen, const char *src, const char *field)
{
    struct sbuf b = { 0 };
    const char *p = src;
    while (*p) {
        int hit = -1;
        for (int k = 0; k < 3 && hit < 0; k++) {
            size_t n = strlen(SCRIPT_SECTIONS[k]);
            if (strncmp(p, SCRIPT_SECTIONS[k], n) == 0 && p[n] == '[' &&
                (p == src || p[-1] == ' ' || p[-1] == '('))
                hit = k;
        }
        if (hit < 0) {
            sbuf_addc(&b, *p++);
            continue;
        }
        sbuf_printf(&b, "%s.%s", field, SECTIONS[hit]);
        p += strlen(SCRIPT_SECTIONS[hit]);
    }
    snprintf(dst, dstlen, "%s", b.s ? b.s : "");
    sbuf_deinit(&b);
}

/* A section: an array of route objects with the keys a route may have and
 * a url. Writes them as script steps named "<section><i>". */
static int gen_section(yajl_gen g, yajl_val v, int k, const char *field, int required, struct json_err *e)
{
    static const char *const keys[] = { "method", "url", "headers", "body", "extract", "timeout", NULL };
    char path[128], rp[160];
    json_path(path, sizeof path, field, SECTIONS[k]);
    yajl_val a = json_get(v, SECTIONS[k]);
    if (!a) {
        if (required)
            return json_fail(e, path, "required: the requests that return the data");
        return 0;
    }
    if (!YAJL_IS_ARRAY(a))
        return json_fail(e, path, "expected an array of routes, got %s", json_type_name(a));
    size_t n = a->u.array.len;
    if (n > COLLECT_MAX_ROUTES || (required && n == 0))
        return json_fail(e, path, "expected %d to %d routes, got %zu", required, COLLECT_MAX_ROUTES, n);
    if (n == 0)
        return 0;
    json_gen_cstr(g, SCRIPT_SECTIONS[k]);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        yajl_val r = a->u.array.values[i];
        json_path_index(rp, sizeof rp, path, i);
        if (!YAJL_IS_OBJECT(r))
            return json_fail(e, rp, "expected a route object like {\"url\": \"https://api.example.com/users\"}, "
                             "got %s", json_type_name(r));
        if (json_check_keys(r, rp, keys, e) < 0)
            return -1;
        yajl_val url = json_get(r, "url");
        if (!url) {
            char up[192];
            return json_fail(e, json_path(up, sizeof up, rp, "url"),
                             "required: an absolute http(s) URL (routes have no target to be relative to)");
        }
        yajl_gen_map_open(g);
        char name[32];
        snprintf(name, sizeof name, "%s%zu", SECTIONS[k], i);
        json_gen_kv_str(g, "name", name);
        for (size_t m = 0; m < r->u.object.len; m++) {
            json_gen_cstr(g, r->u.object.keys[m]);
            json_gen_value(g, r->u.object.values[m]);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    return 0;
}

/* The routes as a script: one VU, `iterations` iterations. */
static struct script *routes_script(yajl_val v, const char *field, long iterations, struct json_err *e)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    for (int k = 0; k < 3; k++) {
        if (gen_section(g, v, k, field, k == 0, e) < 0) {
            yajl_gen_free(g);
            return NULL;
        }
    }
    for (int k = 0; k < 2; k++) {
        static const char *const passed[] = { "insecure_skip_tls_verify", "user_agent" };
        yajl_val o = json_get(v, passed[k]);
        if (o) {
            json_gen_cstr(g, passed[k]);
            json_gen_value(g, o);
        }
    }
    json_gen_cstr(g, "load");
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "executor", "per-vu-iterations");
    json_gen_kv_int(g, "vus", 1);
    json_gen_kv_int(g, "iterations", iterations);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    size_t len;
    char *text = json_gen_finish(g, &len);
    struct script *sc = NULL;
    struct json_err se = { "", "" };
    if (script_parse(text, len, &sc, &se) < 0) {
        char f[sizeof se.field];
        if (!se.field[0] || strncmp(se.field, "steps", 5) == 0 || strncmp(se.field, "setup", 5) == 0 ||
            strncmp(se.field, "teardown", 8) == 0)
            rename_paths(f, sizeof f, se.field, field);
        else /* insecure_skip_tls_verify, user_agent */
            json_path(f, sizeof f, field, se.field);
        size_t fl = strlen(se.field);
        int prefixed = fl && strncmp(se.message, se.field, fl) == 0;
        char msg[sizeof e->message];
        rename_paths(msg, sizeof msg, se.message + (prefixed ? fl : 0), field); /* ": ..." */
        json_err_set(e, f, "%s%s", prefixed ? f : "", msg);
    }
    free(text);
    return sc;
}

static int add_col(struct collect_spec *s, const char *name)
{
    for (int c = 0; c < s->ncols; c++)
        if (strcmp(s->cols[c], name) == 0)
            return c;
    s->cols = xrealloc(s->cols, (size_t)(s->ncols + 1) * sizeof *s->cols);
    s->cols[s->ncols] = xstrdup(name);
    return s->ncols++;
}

/* Repeat: the columns are what the routes (not pre, not post) extract. */
static int repeat_columns(struct collect_spec *s, struct json_err *e)
{
    const struct script *sc = s->sc;
    for (int i = 0; i < sc->nmain; i++) {
        for (int k = 0; k < sc->steps[i].nextract; k++) {
            int var = sc->steps[i].extract[k].var;
            int c = add_col(s, sc->vars.names[var]);
            if (c >= DATASET_MAX_COLS) {
                char p[64];
                snprintf(p, sizeof p, "%s.routes", s->field);
                return json_fail(e, p, "more than %d columns", DATASET_MAX_COLS);
            }
            s->col_var = xrealloc(s->col_var, (size_t)s->ncols * sizeof *s->col_var);
            s->col_var[c] = var;
        }
    }
    if (s->ncols == 0) {
        char p[64];
        snprintf(p, sizeof p, "%s.routes", s->field);
        return json_fail(e, p, "no route extracts anything: in mode repeat each iteration's extracted values "
                         "make a row (add \"extract\" to a route)");
    }
    return 0;
}

static int batch_section(struct collect_spec *s, yajl_val v, struct json_err *e)
{
    static const char *const keys[] = { "rows", "columns", NULL };
    char bp[64], p[160], err[200];
    json_path(bp, sizeof bp, s->field, "batch");
    yajl_val b = json_get(v, "batch");
    if (!b)
        return json_fail(e, bp, "required in mode batch: {\"rows\": \"$.items\", \"columns\": {\"id\": \"$.id\"}}");
    if (!YAJL_IS_OBJECT(b))
        return json_fail(e, bp, "expected an object, got %s", json_type_name(b));
    if (json_check_keys(b, bp, keys, e) < 0)
        return -1;
    const char *rows;
    if (json_get_string(b, bp, "rows", 1, &rows, e) < 0)
        return -1;
    if (jsonpath_compile(rows, &s->rows, err, sizeof err) < 0)
        return json_fail(e, json_path(p, sizeof p, bp, "rows"), "%s", err);
    char cp[96];
    json_path(cp, sizeof cp, bp, "columns");
    yajl_val cols = json_get(b, "columns");
    if (!cols)
        return json_fail(e, cp, "required: an object of column: JSONPath relative to an element, like "
                         "{\"id\": \"$.id\"}");
    if (!YAJL_IS_OBJECT(cols))
        return json_fail(e, cp, "expected an object of column: JSONPath, got %s", json_type_name(cols));
    size_t n = cols->u.object.len;
    if (n == 0 || n > DATASET_MAX_COLS)
        return json_fail(e, cp, "expected 1 to %d columns, got %zu", DATASET_MAX_COLS, n);
    s->col_path = xcalloc(n, sizeof *s->col_path);
    for (size_t i = 0; i < n; i++) {
        const char *name = cols->u.object.keys[i];
        yajl_val jp = cols->u.object.values[i];
        json_path(p, sizeof p, cp, name);
        if (!tmpl_valid_name(name, strlen(name)))
            return json_fail(e, p, "\"%.64s\" cannot name a column (a letter or _, then letters, digits, _ . -)",
                             name);
        if (tmpl_is_builtin(name))
            return json_fail(e, p, "%s is a builtin, not a column name", name);
        if (!YAJL_IS_STRING(jp))
            return json_fail(e, p, "expected a JSONPath string like \"$.id\", got %s", json_type_name(jp));
        int c = add_col(s, name);
        if (jsonpath_compile(jp->u.string, &s->col_path[c], err, sizeof err) < 0)
            return json_fail(e, p, "%s", err);
    }
    return 0;
}

static int parse_limits(struct collect_spec *s, yajl_val v, struct json_err *e)
{
    static const char *const keys[] = { "max_rows", "timeout", "max_bytes", NULL };
    char lp[64], p[96];
    json_path(lp, sizeof lp, s->field, "limits");
    s->max_rows = COLLECT_DEFAULT_ROWS;
    s->timeout_us = COLLECT_DEFAULT_TIMEOUT_US;
    s->max_bytes = COLLECT_DEFAULT_BYTES;
    yajl_val l = json_get(v, "limits");
    if (!l)
        return 0;
    if (!YAJL_IS_OBJECT(l))
        return json_fail(e, lp, "expected an object like {\"max_rows\": 1000, \"timeout\": \"30s\"}, got %s",
                         json_type_name(l));
    int64_t n;
    int rc;
    if (json_check_keys(l, lp, keys, e) < 0 ||
        (rc = json_get_int(l, lp, "max_rows", 0, 1, COLLECT_MAX_ROWS, &n, e)) < 0)
        return -1;
    if (rc == 0)
        s->max_rows = (long)n;
    if ((rc = json_get_int(l, lp, "max_bytes", 0, 1024, COLLECT_MAX_BYTES, &n, e)) < 0)
        return -1;
    if (rc == 0)
        s->max_bytes = (uint64_t)n;
    const char *t;
    if ((rc = json_get_string(l, lp, "timeout", 0, &t, e)) < 0)
        return -1;
    if (rc == 0) {
        json_path(p, sizeof p, lp, "timeout");
        if (duration_parse(t, &s->timeout_us) < 0)
            return json_fail(e, p, "expected a duration like \"30s\", got \"%.32s\"", t);
        if (s->timeout_us == 0 || s->timeout_us > COLLECT_MAX_TIMEOUT_US)
            return json_fail(e, p, "must be more than 0 and at most 10m");
    }
    return 0;
}

int collect_spec_parse(yajl_val v, const char *field, struct collect_spec **out, struct json_err *e)
{
    static const char *const keys[] = { "mode", "iterations", "pre", "routes", "post", "batch", "limits",
                                        "insecure_skip_tls_verify", "user_agent", NULL };
    *out = NULL;
    if (!YAJL_IS_OBJECT(v))
        return json_fail(e, field, "expected an object like {\"mode\": \"repeat\", \"iterations\": 10, "
                         "\"routes\": [...]}, got %s", json_type_name(v));
    if (json_check_keys(v, field, keys, e) < 0)
        return -1;
    struct collect_spec *s = xcalloc(1, sizeof *s);
    snprintf(s->field, sizeof s->field, "%s", field);
    char p[64];
    const char *mode;
    int64_t it = 1;
    int rc;
    if (json_get_string(v, field, "mode", 1, &mode, e) < 0)
        goto fail;
    if (strcmp(mode, "repeat") == 0) {
        s->mode = COLLECT_REPEAT;
    } else if (strcmp(mode, "batch") == 0) {
        s->mode = COLLECT_BATCH;
    } else {
        json_fail(e, json_path(p, sizeof p, field, "mode"), "\"%.20s\" is not one of repeat, batch", mode);
        goto fail;
    }
    rc = json_get_int(v, field, "iterations", s->mode == COLLECT_REPEAT, 1, COLLECT_MAX_ITERATIONS, &it, e);
    if (rc < 0)
        goto fail;
    s->iterations = (long)it;
    if (s->mode == COLLECT_REPEAT && json_get(v, "batch")) {
        json_fail(e, json_path(p, sizeof p, field, "batch"), "only for mode batch");
        goto fail;
    }
    if (parse_limits(s, v, e) < 0)
        goto fail;
    s->sc = routes_script(v, field, s->iterations, e);
    if (!s->sc)
        goto fail;
    if (s->mode == COLLECT_REPEAT ? repeat_columns(s, e) < 0 : batch_section(s, v, e) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    collect_spec_free(s);
    return -1;
}

/* ---- batch rows ---- */

/* The first value under v that segs[0, n) match, in document order (as
 * jsonpath_find would find it in the text), or NULL. */
static yajl_val tree_find(const struct jp_seg *segs, int n, yajl_val v)
{
    if (n == 0)
        return v;
    const struct jp_seg *s = segs;
    yajl_val hit = NULL;
    if (s->kind == JP_KEY && YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len && !hit; i++)
            if (strcmp(v->u.object.keys[i], s->key) == 0)
                hit = tree_find(segs + 1, n - 1, v->u.object.values[i]);
    } else if (s->kind == JP_INDEX && YAJL_IS_ARRAY(v)) {
        if (s->index >= 0 && (size_t)s->index < v->u.array.len)
            hit = tree_find(segs + 1, n - 1, v->u.array.values[s->index]);
    } else if (s->kind == JP_ANY || s->kind == JP_DESCEND) {
        size_t len = YAJL_IS_OBJECT(v) ? v->u.object.len : YAJL_IS_ARRAY(v) ? v->u.array.len : 0;
        for (size_t i = 0; i < len && !hit; i++) {
            yajl_val child = YAJL_IS_OBJECT(v) ? v->u.object.values[i] : v->u.array.values[i];
            if (s->kind == JP_ANY) {
                hit = tree_find(segs + 1, n - 1, child);
                continue;
            }
            if (YAJL_IS_OBJECT(v) && strcmp(v->u.object.keys[i], s->key) == 0)
                hit = tree_find(segs + 1, n - 1, child);
            if (!hit)
                hit = tree_find(segs, n, child); /* deeper */
        }
    }
    return hit;
}

long collect_batch_rows(const struct collect_spec *s, const char *body, size_t len, struct ds_rows *out,
                        long room, char *err, size_t errlen)
{
    struct json_err e;
    yajl_val root = json_parse(body, len, JSON_MAX_DEPTH, &e);
    if (!root) {
        snprintf(err, errlen, "the response is not JSON: %s", e.message);
        return -1;
    }
    long added = -1;
    struct tmpl_val *cells = xcalloc((size_t)s->ncols, sizeof *cells);
    yajl_val a = tree_find(s->rows.segs, s->rows.n, root);
    if (!a || !YAJL_IS_ARRAY(a)) {
        snprintf(err, errlen, "batch.rows: %s in the response", a ? "no array" : "nothing matches");
        if (a)
            snprintf(err, errlen, "batch.rows: the response has %s there, not an array", json_type_name(a));
        goto out;
    }
    if ((long)a->u.array.len > room) {
        snprintf(err, errlen, "more than limits.max_rows (%ld) rows", s->max_rows);
        goto out;
    }
    for (size_t i = 0; i < a->u.array.len; i++) {
        yajl_val el = a->u.array.values[i];
        for (int c = 0; c < s->ncols; c++) {
            yajl_val x = tree_find(s->col_path[c].segs, s->col_path[c].n, el);
            const char *t = "";
            if (!x || YAJL_IS_NULL(x))
                t = "";
            else if (YAJL_IS_STRING(x))
                t = x->u.string;
            else if (YAJL_IS_NUMBER(x))
                t = x->u.number.r;
            else if (YAJL_IS_TRUE(x))
                t = "true";
            else if (YAJL_IS_FALSE(x))
                t = "false";
            else {
                snprintf(err, errlen, "batch.columns.%.64s: element %zu has %s there, not a value", s->cols[c], i,
                         json_type_name(x));
                goto out;
            }
            cells[c].p = t;
            cells[c].len = (uint32_t)strlen(t);
        }
        ds_rows_add(out, cells);
    }
    added = (long)a->u.array.len;
out:
    free(cells);
    yajl_tree_free(root);
    return added;
}
