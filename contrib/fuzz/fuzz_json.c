/* fuzz_json: the JSON layer every REST body goes through (src/json.c):
 * json_parse with its guards, the typed getters on every member, key
 * checks, and generation. Input: a JSON document.
 * Oracles: each getter agrees with the member's type; what json_gen_value
 * and json_gen_merged write parses again, and writing it again gives the
 * same text (generation is a fixed point). */
#include "fuzz.h"

#include "json.h"

#include <float.h>
#include <math.h>

static void check_err(const struct json_err *e)
{
    FUZZ_CHECK(memchr(e->field, '\0', sizeof e->field) != NULL);
    FUZZ_CHECK(memchr(e->message, '\0', sizeof e->message) != NULL);
}

/* Every getter on every member of obj, at path parent. */
static void get_members(yajl_val obj, const char *parent)
{
    size_t n = obj->u.object.len;
    for (size_t i = 0; i < n; i++) {
        const char *k = obj->u.object.keys[i];
        yajl_val v = obj->u.object.values[i];
        struct json_err e = { "", "" };
        FUZZ_CHECK(json_get(obj, k) == v); /* duplicate keys were refused */

        const char *s = NULL;
        int rc = json_get_string(obj, parent, k, 1, &s, &e);
        FUZZ_CHECK((rc == 0) == YAJL_IS_STRING(v));
        FUZZ_CHECK(rc == 0 ? s == v->u.string : rc == -1);
        check_err(&e);

        int64_t iv = 0;
        rc = json_get_int(obj, parent, k, 0, INT64_MIN, INT64_MAX, &iv, &e);
        FUZZ_CHECK((rc == 0) == YAJL_IS_INTEGER(v));
        rc = json_get_int(obj, parent, k, 0, -100, 100, &iv, &e);
        FUZZ_CHECK(rc == -1 || (iv >= -100 && iv <= 100));

        double d = 0;
        rc = json_get_number(obj, parent, k, 0, -DBL_MAX, DBL_MAX, &d, &e);
        FUZZ_CHECK(rc == -1 || (YAJL_IS_NUMBER(v) && isfinite(d)));
        if (YAJL_IS_INTEGER(v))
            FUZZ_CHECK(rc == 0);

        int b = -1;
        rc = json_get_bool(obj, parent, k, 0, &b, &e);
        FUZZ_CHECK((rc == 0) == (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)));
        FUZZ_CHECK(rc == -1 || b == YAJL_IS_TRUE(v));
        check_err(&e);
        FUZZ_CHECK(json_type_name(v) != NULL);
    }
    struct json_err e = { "", "" };
    FUZZ_CHECK(json_get_string(obj, parent, "\x01missing", 0, NULL, &e) == 1);
    FUZZ_CHECK(json_get_bool(obj, parent, "\x01missing", 1, NULL, &e) == -1);
    check_err(&e);
    static const char *const none[] = { NULL };
    FUZZ_CHECK(json_check_keys(obj, parent, none, &e) == (n ? -1 : 0));
    const char **all = calloc(n + 1, sizeof *all);
    FUZZ_CHECK(all != NULL);
    for (size_t i = 0; i < n; i++)
        all[i] = obj->u.object.keys[i];
    FUZZ_CHECK(json_check_keys(obj, parent, all, &e) == 0);
    free(all);
}

/* Walk v, calling the getters on every object, with the field paths the
 * API would build. */
static void walk(yajl_val v, const char *path)
{
    char sub[192];
    if (YAJL_IS_OBJECT(v)) {
        get_members(v, path);
        for (size_t i = 0; i < v->u.object.len; i++)
            walk(v->u.object.values[i], json_path(sub, sizeof sub, path, v->u.object.keys[i]));
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            walk(v->u.array.values[i], json_path_index(sub, sizeof sub, path, i));
    } else if (YAJL_IS_STRING(v)) {
        char *q = json_quote(v->u.string);
        FUZZ_CHECK(q && q[0] == '"');
        free(q);
        size_t n = 0;
        char *body = json_error_body("invalid", v->u.string, path, &n);
        FUZZ_CHECK(body && n == strlen(body));
        free(body);
    } else if (YAJL_IS_NUMBER(v) && YAJL_IS_DOUBLE(v)) {
        yajl_gen g = json_gen_new();
        yajl_gen_array_open(g);
        for (int dec = 0; dec <= 6; dec += 3)
            json_gen_double(g, YAJL_GET_DOUBLE(v), dec);
        yajl_gen_array_close(g);
        size_t n = 0;
        char *text = json_gen_finish(g, &n);
        struct json_err e = { "", "" };
        yajl_val back = json_parse(text, n, 2, &e);
        FUZZ_CHECK(back != NULL);
        yajl_tree_free(back);
        free(text);
    }
}

/* Write v with gen (json_gen_value, or json_gen_merged onto base), parse
 * the text again and return it; the caller frees. */
static char *regen(yajl_val base, yajl_val v, int merged, size_t *len)
{
    yajl_gen g = json_gen_new();
    if (merged)
        json_gen_merged(g, base, v);
    else
        json_gen_value(g, v);
    char *text = json_gen_finish(g, len);
    struct json_err e = { "", "" };
    yajl_val back = json_parse(text, *len, JSON_MAX_DEPTH, &e);
    if (!back)
        fprintf(stderr, "regenerated text does not parse: %s\n%s\n", e.message, text);
    FUZZ_CHECK(back != NULL);
    yajl_tree_free(back);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_err e = { "", "" };
    yajl_val v = json_parse((const char *)data, size, JSON_MAX_DEPTH, &e);
    check_err(&e);
    if (!v) {
        FUZZ_CHECK(e.message[0] != '\0');
        return 0;
    }
    walk(v, "");

    size_t n1, n2;
    char *t1 = regen(NULL, v, 0, &n1);
    struct json_err e2 = { "", "" };
    yajl_val v2 = json_parse(t1, n1, JSON_MAX_DEPTH, &e2);
    FUZZ_CHECK(v2 != NULL);
    char *t2 = regen(NULL, v2, 0, &n2);
    FUZZ_CHECK(n1 == n2 && memcmp(t1, t2, n1) == 0);
    free(t2);

    /* merge patches: onto itself, onto nothing, and a fixed base */
    free(regen(v, v2, 1, &n2));
    free(regen(NULL, v, 1, &n2));
    static const char base_text[] = "{\"a\":1,\"load\":{\"vus\":2}}";
    yajl_val base = json_parse(base_text, sizeof base_text - 1, 4, &e2);
    FUZZ_CHECK(base != NULL);
    free(regen(base, v, 1, &n2));
    free(regen(v, base, 1, &n2));
    yajl_tree_free(base);

    yajl_tree_free(v2);
    free(t1);
    yajl_tree_free(v);
    return 0;
}
