/* ds_rows: building the stored form of rows. */
#include "ds_rows.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

void ds_rows_begin(struct ds_rows *r, char *const *cols, int ncols)
{
    r->cols = (char **)cols;
    r->ncols = ncols;
    r->n = 0;
    r->g = json_gen_new();
    yajl_gen_array_open(r->g);
}

void ds_rows_add(struct ds_rows *r, const struct tmpl_val *cells)
{
    yajl_gen_map_open(r->g);
    for (int c = 0; c < r->ncols; c++) {
        json_gen_cstr(r->g, r->cols[c]);
        json_gen_cstr(r->g, cells[c].p ? cells[c].p : "");
    }
    yajl_gen_map_close(r->g);
    r->n++;
}

size_t ds_rows_bytes(const struct ds_rows *r)
{
    const unsigned char *buf;
    size_t n;
    yajl_gen_get_buf(r->g, &buf, &n);
    return n;
}

char *ds_rows_finish(struct ds_rows *r, size_t *len)
{
    yajl_gen_array_close(r->g);
    char *s = json_gen_finish(r->g, len);
    r->g = NULL;
    return s;
}

void ds_rows_abort(struct ds_rows *r)
{
    if (r->g)
        yajl_gen_free(r->g);
    r->g = NULL;
}

char *ds_rows_of(const struct dataset *d, size_t *len)
{
    struct ds_rows r;
    ds_rows_begin(&r, d->cols, d->ncols);
    for (long i = 0; i < d->nrows; i++)
        ds_rows_add(&r, &d->cells[(size_t)i * (size_t)d->ncols]);
    return ds_rows_finish(&r, len);
}

char *ds_cols_json(char *const *cols, int ncols)
{
    yajl_gen g = json_gen_new();
    yajl_gen_array_open(g);
    for (int c = 0; c < ncols; c++)
        json_gen_cstr(g, cols[c]);
    yajl_gen_array_close(g);
    return json_gen_finish(g, NULL);
}

struct dataset *ds_columns_only(char *const *cols, int ncols)
{
    struct dataset *d = xcalloc(1, sizeof *d);
    d->ncols = ncols;
    d->cols = xcalloc((size_t)(ncols ? ncols : 1), sizeof *d->cols);
    for (int c = 0; c < ncols; c++)
        d->cols[c] = xstrdup(cols[c]);
    d->cells = xcalloc(1, sizeof *d->cells);
    d->blob = xstrdup("");
    return d;
}
