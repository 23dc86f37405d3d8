/* fuzz_dataset: the dataset readers (src/dataset.c): CSV with a header row
 * and RFC 4180 quoting, or a JSON array of flat objects, as users upload
 * them. Input: the file. Oracles: a refusal says why; an accepted dataset
 * (unless it is an empty JSON array) has unique non-empty column names and NUL-terminated cells; written back
 * as CSV with every field quoted, it reads back to the same columns, rows
 * and bytes. */
#include "fuzz.h"

#include "dataset.h"
#include "sbuf.h"

static void quoted(struct sbuf *b, const char *p, size_t n)
{
    sbuf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            sbuf_addc(b, '"');
        sbuf_addc(b, p[i]);
    }
    sbuf_addc(b, '"');
}

static void check_shape(const struct dataset *d)
{
    FUZZ_CHECK(d->ncols >= 1 && d->ncols <= DATASET_MAX_COLS);
    FUZZ_CHECK(d->nrows >= 0 && d->nrows <= DATASET_MAX_ROWS);
    for (int c = 0; c < d->ncols; c++) {
        FUZZ_CHECK(d->cols[c] && d->cols[c][0]);
        FUZZ_CHECK(dataset_col(d, d->cols[c]) == c); /* unique */
    }
    for (long i = 0; i < d->nrows * d->ncols; i++)
        FUZZ_CHECK(d->cells[i].p && d->cells[i].p[d->cells[i].len] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dataset *d = NULL;
    char err[256] = "";
    if (dataset_parse((const char *)data, size, &d, err, sizeof err) < 0) {
        FUZZ_CHECK(err[0] != '\0' && d == NULL);
        return 0;
    }
    FUZZ_CHECK(d);
    if (d->ncols == 0) { /* "[]": no rows, so no keys; nothing to write back */
        FUZZ_CHECK(d->nrows == 0);
        dataset_free(d);
        return 0;
    }
    check_shape(d);

    struct sbuf csv = {0};
    for (int c = 0; c < d->ncols; c++) {
        if (c)
            sbuf_addc(&csv, ',');
        quoted(&csv, d->cols[c], strlen(d->cols[c]));
    }
    for (long r = 0; r < d->nrows; r++) {
        sbuf_addc(&csv, '\n');
        for (int c = 0; c < d->ncols; c++) {
            const struct tmpl_val *v = &d->cells[r * d->ncols + c];
            if (c)
                sbuf_addc(&csv, ',');
            quoted(&csv, v->p, v->len);
        }
    }
    struct dataset *back = NULL;
    err[0] = '\0';
    int rc = dataset_parse_csv(csv.s, csv.len, &back, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "written back, refused: %s\n", err);
    FUZZ_CHECK(rc == 0 && back);
    FUZZ_CHECK(back->ncols == d->ncols && back->nrows == d->nrows);
    for (int c = 0; c < d->ncols; c++)
        FUZZ_CHECK(strcmp(back->cols[c], d->cols[c]) == 0);
    for (long i = 0; i < d->nrows * d->ncols; i++)
        FUZZ_CHECK(back->cells[i].len == d->cells[i].len &&
                   memcmp(back->cells[i].p, d->cells[i].p, d->cells[i].len) == 0);
    dataset_free(back);
    dataset_free(d);
    sbuf_deinit(&csv);
    return 0;
}
