/* api_list: lists and pages for the REST route files — filtered, sorted,
 * cursor-paginated lists ({items, next_cursor}), a parent's DELETE that
 * answers 409 while it has children (unless ?cascade=true), a row or a
 * page of rows as the reply. */
#include "api.h"

#include "hex.h"
#include "uuid.h"
#include "xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 200

/* ---- lists ---- */

struct list_state {
    const struct api_list_spec *spec;
    const char *key;    /* the sort column (an index can serve it) */
    int numeric;        /* created_at: the cursor holds it in µs */
    int desc;
    int limit;
};

/* created_at in µs since the epoch (the cursor's form of it); extract()
 * returns numeric since PostgreSQL 14, so this is exact. */
static const char CREATED_US[] = "(extract(epoch FROM t.created_at) * 1000000)::bigint";

int api_list_begin(struct http_ctx *c, const struct api_list_spec *spec, struct sqlq *q)
{
    struct list_state *ls = xcalloc(1, sizeof *ls);
    http_set_udata(c, ls, free);
    ls->spec = spec;
    ls->limit = LIST_DEFAULT;
    const char *ls_s = http_query(c, "limit");
    if (ls_s) {
        char *end;
        errno = 0;
        long v = strtol(ls_s, &end, 10);
        if (errno || *end || end == ls_s || v < 1 || v > LIST_MAX) {
            http_reply_error(c, 400, "invalid", "limit", "limit must be an integer 1..%d", LIST_MAX);
            return -1;
        }
        ls->limit = (int)v;
    }
    const char *sort = http_query(c, "sort");
    if (!sort)
        sort = spec->default_sort;
    ls->desc = sort[0] == '-';
    const char *name = sort + (sort[0] == '-' || sort[0] == '+');
    int ok = 0;
    for (const char *const *s = spec->sorts; *s && !ok; s++)
        ok = strcmp(*s, name) == 0;
    if (!ok) {
        char allowed[160] = "";
        for (const char *const *s = spec->sorts; *s; s++)
            snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                     s == spec->sorts ? "" : ", ", *s);
        http_reply_error(c, 400, "invalid", "sort", "sort must be one of %s (prefix - for descending)",
                         allowed);
        return -1;
    }
    ls->numeric = strcmp(name, "created_at") == 0;
    ls->key = ls->numeric ? "t.created_at" : strcmp(name, "name") == 0 ? "t.name" : "t.status";
    sqlq_init(q, "SELECT ");
    sqlq_printf(q, "%s, %s FROM %s WHERE true", spec->cols, ls->numeric ? CREATED_US : ls->key, spec->from);
    return 0;
}

static void on_listed(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    const struct list_state *ls = http_udata(c);
    if (api_store_failed(c, m))
        return;
    const PGresult *res = r->res[0];
    int n = PQntuples(res), kcol = PQnfields(res) - 1;
    int shown = n > ls->limit ? ls->limit : n;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "items");
    yajl_gen_array_open(g);
    for (int i = 0; i < shown; i++)
        ls->spec->gen(g, res, i);
    yajl_gen_array_close(g);
    json_gen_cstr(g, "next_cursor");
    if (n > ls->limit) {
        /* Keyset cursor: the last item's key (hex) and id. */
        const char *key = PQgetvalue(res, shown - 1, kcol);
        size_t kl = strlen(key);
        char *cur = xmalloc(2 * kl + 40);
        hex_encode((const uint8_t *)key, kl, cur);
        snprintf(cur + 2 * kl, 40, ".%s", PQgetvalue(res, shown - 1, 0));
        json_gen_cstr(g, cur);
        free(cur);
    } else {
        yajl_gen_null(g);
    }
    yajl_gen_map_close(g);
    http_reply_doc(c, 200, g);
    msg_free(m);
}

/* A cursor's key: hex digits of a text without NUL bytes. */
static int unhex(const char *s, size_t n, char *out)
{
    if (hex_decode(s, n / 2, (uint8_t *)out) < 0 || memchr(out, '\0', n / 2))
        return -1;
    out[n / 2] = '\0';
    return 0;
}

void api_list_run(struct http_ctx *c, struct sqlq *q)
{
    const struct list_state *ls = http_udata(c);
    const char *cursor = http_query(c, "cursor");
    if (cursor) {
        const char *dot = strchr(cursor, '.');
        size_t kl = dot ? (size_t)(dot - cursor) : 0;
        char *key = xmalloc(kl / 2 + 1);
        int bad = !dot || kl == 0 || kl % 2 || kl > 1024 || !uuid_valid(dot + 1) ||
                  unhex(cursor, kl, key) < 0;
        if (!bad && ls->numeric) {
            char *end;
            errno = 0;
            strtoll(key, &end, 10);
            bad = errno || *end;
        }
        if (bad) {
            free(key);
            sqlq_deinit(q);
            http_reply_error(c, 400, "invalid", "cursor", "cursor is not one this API returned");
            return;
        }
        int pk = sqlq_param(q, key), pi = sqlq_param(q, dot + 1);
        if (ls->numeric) /* exact: timestamptz has µs resolution */
            sqlq_printf(q, " AND (t.created_at, t.id) %s (timestamptz 'epoch' + $%d::bigint *"
                           " interval '1 microsecond', $%d::uuid)", ls->desc ? "<" : ">", pk, pi);
        else
            sqlq_printf(q, " AND (%s, t.id) %s ($%d, $%d::uuid)", ls->key, ls->desc ? "<" : ">", pk, pi);
        free(key);
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", ls->limit + 1); /* one more tells whether a next page exists */
    int pl = sqlq_param(q, lim);
    sqlq_printf(q, " ORDER BY %s %s, t.id %s LIMIT $%d", ls->key, ls->desc ? "DESC" : "ASC",
                ls->desc ? "DESC" : "ASC", pl);
    struct store_query *sq = store_query_new();
    api_sqlq_add(sq, q);
    sqlq_deinit(q);
    api_store_call(c, sq, on_listed);
}

int api_sqlq_add(struct store_query *sq, const struct sqlq *q)
{
    return store_query_add(sq, q->sql.s, q->n, (const char *const *)q->params);
}

/* ---- DELETE of a parent: 409 while it has children, unless ?cascade=true ---- */

struct del_state {
    const char *what, *child;
};

static void on_deleted(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    const struct del_state *d = http_udata(c);
    if (r->status != STORE_OK) {
        api_store_error(c, r, NULL);
    } else {
        const PGresult *info = r->res[0];
        int exists = PQgetvalue(info, 0, 0)[0] == 't';
        long children = atol(PQgetvalue(info, 0, 1));
        int deleted = r->n > 1 && PQntuples(r->res[1]) > 0;
        if (!exists)
            http_reply_error(c, 404, "not_found", "id", "no %s with id %s", d->what, http_param(c, "id"));
        else if (!deleted)
            http_reply_error(c, 409, "conflict", "cascade",
                             "the %s still has %ld %s%s: delete them first or use ?cascade=true",
                             d->what, children, d->child, children == 1 ? "" : "s");
        else
            http_reply(c, 204, NULL, 0);
    }
    msg_free(m);
}

void api_delete_parent(struct http_ctx *c, const char *table, const char *child_table,
                       const char *child_fk, const char *what, const char *child)
{
    const char *id = api_path_uuid(c, "id", what);
    if (!id)
        return;
    const char *cs = http_query(c, "cascade");
    int cascade = 0;
    if (cs) {
        if (!strcmp(cs, "true") || !strcmp(cs, "1"))
            cascade = 1;
        else if (strcmp(cs, "false") && strcmp(cs, "0")) {
            http_reply_error(c, 400, "invalid", "cascade", "cascade must be true or false");
            return;
        }
    }
    struct del_state *d = xmalloc(sizeof *d);
    d->what = what;
    d->child = child;
    http_set_udata(c, d, free);
    struct store_query *q = store_query_new();
    const char *p[1] = { id };
    char *info = xasprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE id = $1),"
                           " (SELECT count(*) FROM %s WHERE %s = $1)", table, child_table, child_fk);
    store_query_add(q, info, 1, p);
    free(info);
    char *del = cascade ? xasprintf("DELETE FROM %s WHERE id = $1 RETURNING id", table)
                        : xasprintf("DELETE FROM %s WHERE id = $1 AND NOT EXISTS"
                                    " (SELECT 1 FROM %s WHERE %s = $1) RETURNING id",
                                    table, child_table, child_fk);
    store_query_add(q, del, 1, p);
    free(del);
    api_store_call(c, q, on_deleted);
}

void api_reply_row(struct http_ctx *c, msg_t *m, int status, void (*gen)(yajl_gen, const PGresult *, int),
                   const char *missing_field, const char *what, const char *conflict_field)
{
    struct store_result *r = (struct store_result *)m;
    const PGresult *res = r->status == STORE_OK ? r->res[r->n - 1] : NULL;
    if (r->status != STORE_OK) {
        api_store_error(c, r, conflict_field);
    } else if (PQntuples(res) == 0) {
        if (strcmp(missing_field, "id") == 0)
            http_reply_error(c, 404, "not_found", "id", "no %s with id %s", what, http_param(c, "id"));
        else
            http_reply_error(c, 404, "not_found", missing_field, "no %s with that id", what);
    } else {
        yajl_gen g = json_gen_new();
        gen(g, res, 0);
        http_reply_doc(c, status, g);
    }
    msg_free(m);
}

void api_reply_id_page(struct http_ctx *c, const PGresult *res, int limit,
                       void (*gen)(yajl_gen g, const PGresult *r, int row))
{
    int n = PQntuples(res), shown = n > limit ? limit : n;
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_cstr(g, "items");
    yajl_gen_array_open(g);
    for (int i = 0; i < shown; i++)
        gen(g, res, i);
    yajl_gen_array_close(g);
    json_gen_cstr(g, "next_cursor");
    if (n > limit)
        json_gen_cstr(g, PQgetvalue(res, shown - 1, 0));
    else
        yajl_gen_null(g);
    yajl_gen_map_close(g);
    http_reply_doc(c, 200, g);
}

/* ---- a page of a parent's rows ---- */

struct child_page {
    const char *what;
    int limit;
    void (*gen)(yajl_gen g, const PGresult *r, int row);
};

static void on_child_page(struct http_ctx *c, msg_t *m)
{
    struct store_result *r = (struct store_result *)m;
    const struct child_page *cp = http_udata(c);
    if (r->status != STORE_OK)
        api_store_error(c, r, NULL);
    else if (PQgetvalue(r->res[0], 0, 0)[0] != 't')
        http_reply_error(c, 404, "not_found", "id", "no %s with id %s", cp->what, http_param(c, "id"));
    else
        api_reply_id_page(c, r->res[1], cp->limit, cp->gen);
    msg_free(m);
}

void api_child_page(struct http_ctx *c, struct store_query *q, const char *what, int limit,
                    void (*gen)(yajl_gen g, const PGresult *r, int row))
{
    struct child_page *cp = xmalloc(sizeof *cp);
    cp->what = what;
    cp->limit = limit;
    cp->gen = gen;
    http_set_udata(c, cp, free);
    api_store_call(c, q, on_child_page);
}
