/* json: yajl with the guards the API needs.
 * Parsing rejects what yajl would crash on or silently mangle: nesting
 * deeper than a limit (the tree API recurses), NUL bytes and "\u0000" in
 * strings, duplicate keys in one object, and trailing garbage. Typed
 * getters report errors with the field's path ("load.stages[2].duration").
 * Generation helpers format numbers ourselves (yajl prints %.20g). */
#ifndef STAMPEDE_JSON_H
#define STAMPEDE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define JSON_MAX_DEPTH 64

/* A validation error: which field, and what is wrong with it. */
struct json_err {
    char field[192];   /* "" when the document as a whole is wrong */
    char message[320];
};

void json_err_set(struct json_err *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set e to "<path>: <message>" with field = path (just the message when
 * path is empty); returns -1, for `return json_fail(e, path, ...)`. */
int json_fail(struct json_err *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse buf[0..len) (need not be NUL-terminated). Returns a tree the caller
 * frees with yajl_tree_free, or NULL with e->message set. */
yajl_val json_parse(const char *buf, size_t len, int max_depth, struct json_err *e);

/* Member of an object, or NULL (also when obj is not an object). */
yajl_val json_get(yajl_val obj, const char *key);

/* Join a path: json_path(buf, len, "load", "stages") -> "load.stages";
 * json_path_index(buf, len, "load.stages", 2) -> "load.stages[2]". */
const char *json_path(char *buf, size_t len, const char *parent, const char *key);
const char *json_path_index(char *buf, size_t len, const char *parent, size_t index);

/* Look up a member and its path for a getter of your own: returns it, or
 * NULL with *rc = 1 when absent and not required, -1 (e set) when required. */
yajl_val json_member(yajl_val obj, const char *parent, const char *key, int required, char *path,
                     size_t plen, struct json_err *e, int *rc);

/* Typed getters. Return 0 when found and valid, 1 when absent and not
 * required, -1 with e set (field = parent path + key) otherwise. Strings
 * are borrowed from the tree. */
int json_get_string(yajl_val obj, const char *parent, const char *key, int required,
                    const char **out, struct json_err *e);
int json_get_int(yajl_val obj, const char *parent, const char *key, int required, int64_t min,
                 int64_t max, int64_t *out, struct json_err *e);
int json_get_number(yajl_val obj, const char *parent, const char *key, int required, double min,
                    double max, double *out, struct json_err *e);
int json_get_bool(yajl_val obj, const char *parent, const char *key, int required, int *out,
                  struct json_err *e);
/* Reject members of obj not named in allowed (NULL-terminated). */
int json_check_keys(yajl_val obj, const char *parent, const char *const *allowed,
                    struct json_err *e);
const char *json_type_name(yajl_val v);

/* Generation. json_gen_new never returns NULL; json_gen_finish returns the
 * document as a NUL-terminated string the caller frees, and frees g. */
yajl_gen json_gen_new(void);
char *json_gen_finish(yajl_gen g, size_t *len);
void json_gen_cstr(yajl_gen g, const char *s);       /* NULL -> null */
void json_gen_int(yajl_gen g, int64_t v);
void json_gen_double(yajl_gen g, double v, int decimals); /* non-finite -> null */
void json_gen_kv_str(yajl_gen g, const char *key, const char *val);
void json_gen_kv_int(yajl_gen g, const char *key, int64_t v);
void json_gen_kv_double(yajl_gen g, const char *key, double v, int decimals);
void json_gen_kv_bool(yajl_gen g, const char *key, int v);
void json_gen_kv_null(yajl_gen g, const char *key);

/* Write a parsed value back out; numbers keep the text they were written
 * with. NULL writes null. */
void json_gen_value(yajl_gen g, yajl_val v);
/* Write base with patch applied as a JSON merge patch (RFC 7386): objects
 * merge member by member, a null member removes, anything else replaces. */
void json_gen_merged(yajl_gen g, yajl_val base, yajl_val patch);

/* s as a JSON string literal with its quotes; caller frees. */
char *json_quote(const char *s);

/* {"error":{"code":..,"message":..,"field":..|null}}; caller frees. */
char *json_error_body(const char *code, const char *message, const char *field, size_t *len);

#endif
