/* dataset: rows of named values that a script's iterations take one at a
 * time ({{column}} in templates): a CSV file with a header row (RFC 4180
 * quoting) or a JSON array of objects. Parsed once, then read-only: every
 * loop of a run may read it. */
#ifndef STAMPEDE_DATASET_H
#define STAMPEDE_DATASET_H

#include "tmpl.h"

#include <stddef.h>
#include <stdint.h>

#define DATASET_MAX_BYTES (256u << 20) /* input size */
#define DATASET_MAX_COLS 256
#define DATASET_MAX_ROWS 10000000

struct dataset {
    int ncols;
    char **cols;              /* column names */
    long nrows;
    struct tmpl_val *cells;   /* nrows x ncols, row by row; values NUL-terminated */
    char *blob;               /* the values' bytes */
};

/* Parse CSV (a header row, then rows of as many fields). 0, or -1 with a
 * message naming the line in err. *out is freed with dataset_free. */
int dataset_parse_csv(const char *data, size_t len, struct dataset **out, char *err, size_t errlen);
/* Parse a JSON array of flat objects (string, number, boolean or null
 * values); the columns are every key seen, in order of first appearance;
 * a key an object lacks is "" in its row. */
int dataset_parse_json(const char *data, size_t len, struct dataset **out, char *err, size_t errlen);
/* By content: JSON when it starts with '[' (after blanks), else CSV. */
int dataset_parse(const char *data, size_t len, struct dataset **out, char *err, size_t errlen);
void dataset_free(struct dataset *d);
/* The index of column name, or -1. */
int dataset_col(const struct dataset *d, const char *name);

#endif
