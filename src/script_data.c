/* script_data: a script's "dataset" section — where its rows come from,
 * in which order iterations take them, and what happens when they run
 * out. Its columns become variables ({{column}}). */
#include "script.h"

#include "dataset.h"
#include "uuid.h"
#include "xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void script_dataset_free(struct script_dataset *d)
{
    if (!d)
        return;
    dataset_free(d->rows);
    free(d->col_var);
    free(d->source);
    free(d->id);
    free(d);
}

/* The whole file, or NULL with errno (EFBIG when over the limit). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sbuf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > DATASET_MAX_BYTES) {
            fclose(f);
            sbuf_deinit(&b);
            errno = EFBIG;
            return NULL;
        }
        sbuf_add(&b, chunk, n);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sbuf_deinit(&b);
        errno = EIO;
        return NULL;
    }
    return sbuf_take(&b, len);
}

/* ---- datasets the server keeps ---- */

/* Why a thread-local: script_parse_dataset is reached only through
 * script.c's build(), which passes nothing but base_dir; the lent rows
 * stand in for a parameter until the parse entry points take one. */
static __thread const struct script_ds_lent *lent;
static __thread int nlent;

void script_datasets_lend(const struct script_ds_lent *v, int n)
{
    lent = n > 0 ? v : NULL;
    nlent = n > 0 ? n : 0;
}

int script_dataset_ref(yajl_val def, char *id, size_t idlen, long *version)
{
    yajl_val d = json_get(def, "dataset"), i = json_get(d, "id"), v = json_get(d, "version");
    if (!YAJL_IS_STRING(i) || !uuid_valid(i->u.string))
        return 0;
    snprintf(id, idlen, "%s", i->u.string);
    for (char *p = id; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
    *version = YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 1 && YAJL_GET_INTEGER(v) <= INT32_MAX
               ? (long)YAJL_GET_INTEGER(v) : 0;
    return 1;
}

/* A copy of d that owns its values (one block, like dataset.c's). */
static struct dataset *dataset_copy(const struct dataset *d)
{
    struct dataset *c = xcalloc(1, sizeof *c);
    size_t ncells = (size_t)d->nrows * (size_t)d->ncols, bytes = 1;
    c->ncols = d->ncols;
    c->nrows = d->nrows;
    c->cols = xcalloc((size_t)(d->ncols ? d->ncols : 1), sizeof *c->cols);
    for (int i = 0; i < d->ncols; i++)
        c->cols[i] = xstrdup(d->cols[i]);
    for (size_t i = 0; i < ncells; i++)
        bytes += d->cells[i].len + 1u;
    c->blob = xmalloc(bytes);
    c->blob[0] = '\0';
    c->cells = xcalloc(ncells ? ncells : 1, sizeof *c->cells);
    char *p = c->blob;
    for (size_t i = 0; i < ncells; i++) {
        memcpy(p, d->cells[i].p, d->cells[i].len);
        p[d->cells[i].len] = '\0';
        c->cells[i].p = p;
        c->cells[i].len = d->cells[i].len;
        p += d->cells[i].len + 1u;
    }
    return c;
}

/* "id": rows lent by the server. */
static int dataset_by_id(struct script_dataset *d, const char *id, int has_version, int64_t version,
                         const char *base_dir, struct json_err *e)
{
    if (base_dir)
        return json_fail(e, "dataset.id", "datasets by id are kept by the server (stampede serve); "
                         "`stampede run` reads a file: give \"file\"");
    if (!uuid_valid(id))
        return json_fail(e, "dataset.id", "expected a dataset id (a UUID), got \"%.40s\"", id);
    /* the version pinned, else the latest lent (columns only: version 0) */
    const struct script_ds_lent *l = NULL;
    for (int i = 0; i < nlent; i++)
        if (strcasecmp(lent[i].id, id) == 0 && lent[i].rows &&
            (has_version && lent[i].version ? lent[i].version == version : !l || lent[i].version > l->version))
            l = &lent[i];
    if (!l)
        return json_fail(e, has_version ? "dataset.version" : "dataset.id", "no dataset with id %s%s", id,
                         has_version ? " at that version" : "");
    d->id = xstrdup(id);
    d->source = xstrdup(id);
    d->version = l->version;
    if (l->version && l->rows->nrows == 0)
        return json_fail(e, "dataset.id", "version %ld of dataset %s has no rows", l->version, id);
    d->rows = dataset_copy(l->rows);
    return 0;
}

/* "file": read now, relative to base_dir. */
static int dataset_from_file(struct script_dataset *d, const char *file, const char *base_dir, struct json_err *e)
{
    if (!base_dir)
        return json_fail(e, "dataset.file", "dataset files are read by `stampede run`, not by the server "
                         "(upload the rows to /v1/datasets and give \"id\")");
    if (!*file)
        return json_fail(e, "dataset.file", "must not be empty");
    d->source = xstrdup(file);
    char *path = file[0] == '/' ? xstrdup(file) : xasprintf("%s/%s", base_dir, file);
    size_t len = 0;
    char *data = read_file(path, &len);
    if (!data) {
        int err = errno;
        json_fail(e, "dataset.file", "cannot read %s: %s", path,
                  err == EFBIG ? "larger than the dataset limit" : strerror(err));
        free(path);
        return -1;
    }
    char err[200];
    int rc = dataset_parse(data, len, &d->rows, err, sizeof err);
    free(data);
    if (rc < 0) {
        json_fail(e, "dataset.file", "%s: %s", path, err);
        free(path);
        return -1;
    }
    free(path);
    if (d->rows->nrows == 0)
        return json_fail(e, "dataset.file", "%s has no rows", file);
    return 0;
}

int script_parse_dataset(struct script *s, yajl_val root, const char *base_dir, struct json_err *e)
{
    static const char *const keys[] = { "file", "id", "version", "order", "on_exhausted", NULL };
    yajl_val v = json_get(root, "dataset");
    if (!v)
        return 0;
    if (!YAJL_IS_OBJECT(v))
        return json_fail(e, "dataset", "expected an object like {\"file\": \"users.csv\"}, got %s",
                         json_type_name(v));
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        int known = 0;
        for (const char *const *p = keys; *p && !known; p++)
            known = strcmp(*p, k) == 0;
        if (!known) {
            char path[128];
            return json_fail(e, json_path(path, sizeof path, "dataset", k),
                             "unknown field (expected file or id, version, order, on_exhausted)");
        }
    }
    const char *file = NULL, *id = NULL, *order = "sequential", *ex = NULL;
    int64_t version = 0;
    int rv = 1;
    if (json_get_string(v, "dataset", "file", 0, &file, e) < 0 ||
        json_get_string(v, "dataset", "id", 0, &id, e) < 0 ||
        (rv = json_get_int(v, "dataset", "version", 0, 1, INT32_MAX, &version, e)) < 0 ||
        json_get_string(v, "dataset", "order", 0, &order, e) < 0 ||
        json_get_string(v, "dataset", "on_exhausted", 0, &ex, e) < 0)
        return -1;
    if (file && id)
        return json_fail(e, "dataset", "give file or id, not both");
    if (!file && !id)
        return json_fail(e, "dataset", "give file (a CSV or JSON file) or id (a dataset of the server)");
    if (rv == 0 && !id)
        return json_fail(e, "dataset.version", "only with id (a file has no versions)");
    struct script_dataset *d = xcalloc(1, sizeof *d);
    s->dataset = d;
    if (strcmp(order, "sequential") == 0)
        d->order = ORDER_SEQUENTIAL;
    else if (strcmp(order, "random") == 0)
        d->order = ORDER_RANDOM;
    else if (strcmp(order, "unique") == 0)
        d->order = ORDER_UNIQUE;
    else
        return json_fail(e, "dataset.order", "\"%.20s\" is not one of sequential, random, unique", order);
    if (!ex)
        d->stop = d->order == ORDER_UNIQUE;
    else if (strcmp(ex, "stop") == 0)
        d->stop = 1;
    else if (strcmp(ex, "recycle") == 0)
        d->stop = 0;
    else
        return json_fail(e, "dataset.on_exhausted", "\"%.20s\" is not one of recycle, stop", ex);
    if (d->order == ORDER_UNIQUE && !d->stop)
        return json_fail(e, "dataset.on_exhausted",
                         "unique rows are used once each: they cannot be recycled (use order sequential)");
    if (d->order == ORDER_RANDOM && d->stop)
        return json_fail(e, "dataset.on_exhausted", "random rows never run out: stop needs sequential or unique");
    int rc = id ? dataset_by_id(d, id, rv == 0, version, base_dir, e) : dataset_from_file(d, file, base_dir, e);
    if (rc < 0)
        return -1;
    d->col_var = xcalloc((size_t)(d->rows->ncols ? d->rows->ncols : 1), sizeof *d->col_var);
    for (int c = 0; c < d->rows->ncols; c++)
        d->col_var[c] = tmpl_syms_intern(&s->vars, d->rows->cols[c], strlen(d->rows->cols[c]));
    return 0;
}
