/* ds_rows: a dataset's rows in the form the server stores and shows them —
 * a JSON array of objects, each with every column in column order and
 * string values: [{"user":"ann","pin":"0042"}, ...]. Uploads (CSV or
 * JSON, parsed by dataset.c) and collections (collect_spec.c) both end up
 * here, and dataset_parse_json reads it back. */
#ifndef STAMPEDE_DS_ROWS_H
#define STAMPEDE_DS_ROWS_H

#include "dataset.h"
#include "json.h"

#include <stddef.h>

struct ds_rows {
    char **cols;        /* borrowed: outlive the builder */
    int ncols;
    yajl_gen g;
    long n;             /* rows added */
};

/* Begin an empty array of rows with these columns. */
void ds_rows_begin(struct ds_rows *r, char *const *cols, int ncols);
/* Add one row: ncols NUL-terminated values (a NULL p is ""). */
void ds_rows_add(struct ds_rows *r, const struct tmpl_val *cells);
/* Bytes of JSON so far. */
size_t ds_rows_bytes(const struct ds_rows *r);
/* The JSON text (caller frees); the builder is spent. */
char *ds_rows_finish(struct ds_rows *r, size_t *len);
/* Drop a builder without its text. */
void ds_rows_abort(struct ds_rows *r);

/* A parsed dataset in the stored form (caller frees). */
char *ds_rows_of(const struct dataset *d, size_t *len);
/* Column names as a JSON array (caller frees). */
char *ds_cols_json(char *const *cols, int ncols);
/* A dataset with these columns and no rows (for checking a script's
 * variables before any row exists); free with dataset_free. */
struct dataset *ds_columns_only(char *const *cols, int ncols);

#endif
