/* script_data: a script's "dataset" section — where its rows come from,
 * in which order iterations take them, and what happens when they run
 * out. Its columns become variables ({{column}}). */
#include "script.h"

#include "dataset.h"
#include "xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void script_dataset_free(struct script_dataset *d)
{
    if (!d)
        return;
    dataset_free(d->rows);
    free(d->col_var);
    free(d->source);
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

int script_parse_dataset(struct script *s, yajl_val root, const char *base_dir, struct json_err *e)
{
    static const char *const keys[] = { "file", "order", "on_exhausted", NULL };
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
                             "unknown field (expected file, order, on_exhausted)");
        }
    }
    const char *file = NULL, *order = "sequential", *ex = NULL;
    if (json_get_string(v, "dataset", "file", 1, &file, e) < 0 ||
        json_get_string(v, "dataset", "order", 0, &order, e) < 0 ||
        json_get_string(v, "dataset", "on_exhausted", 0, &ex, e) < 0)
        return -1;
    struct script_dataset *d = xcalloc(1, sizeof *d);
    s->dataset = d;
    d->source = xstrdup(file);
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
    if (!base_dir)
        return json_fail(e, "dataset.file", "dataset files are read by `stampede run`, not by the server");
    if (!*file)
        return json_fail(e, "dataset.file", "must not be empty");
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
    d->col_var = xcalloc((size_t)d->rows->ncols, sizeof *d->col_var);
    for (int c = 0; c < d->rows->ncols; c++)
        d->col_var[c] = tmpl_syms_intern(&s->vars, d->rows->cols[c], strlen(d->rows->cols[c]));
    return 0;
}
