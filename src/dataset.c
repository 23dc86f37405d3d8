/* dataset: CSV (RFC 4180) and JSON rows into one block of values. */
#include "dataset.h"

#include "json.h"
#include "sbuf.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cells are collected as offsets into the growing blob, and become
 * pointers once it stops moving. */
struct builder {
    struct sbuf blob;
    size_t *off;       /* per cell: offset in blob */
    uint32_t *len;
    size_t ncells, cap;
};

static void add_cell(struct builder *b, const char *p, size_t n)
{
    if (b->ncells == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->off = xrealloc(b->off, b->cap * sizeof *b->off);
        b->len = xrealloc(b->len, b->cap * sizeof *b->len);
    }
    b->off[b->ncells] = b->blob.len;
    b->len[b->ncells] = (uint32_t)n;
    b->ncells++;
    sbuf_add(&b->blob, p, n);
    sbuf_addc(&b->blob, '\0');
}

static void builder_free(struct builder *b)
{
    sbuf_deinit(&b->blob);
    free(b->off);
    free(b->len);
}

static struct dataset *finish(struct builder *b, char **cols, int ncols)
{
    struct dataset *d = xcalloc(1, sizeof *d);
    d->cols = cols;
    d->ncols = ncols;
    d->nrows = ncols ? (long)(b->ncells / (size_t)ncols) : 0;
    d->blob = b->blob.s ? b->blob.s : xstrdup("");
    b->blob.s = NULL;
    d->cells = xcalloc(b->ncells ? b->ncells : 1, sizeof *d->cells);
    for (size_t i = 0; i < b->ncells; i++) {
        d->cells[i].p = d->blob + b->off[i];
        d->cells[i].len = b->len[i];
    }
    builder_free(b);
    return d;
}

void dataset_free(struct dataset *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->ncols; i++)
        free(d->cols[i]);
    free(d->cols);
    free(d->cells);
    free(d->blob);
    free(d);
}

int dataset_col(const struct dataset *d, const char *name)
{
    for (int i = 0; i < d->ncols; i++)
        if (strcmp(d->cols[i], name) == 0)
            return i;
    return -1;
}

static int check_size(size_t len, char *err, size_t errlen)
{
    if (len > DATASET_MAX_BYTES) {
        snprintf(err, errlen, "larger than %u MiB", DATASET_MAX_BYTES >> 20);
        return -1;
    }
    return 0;
}

static int check_name(const char *name, int col, char **cols, char *err, size_t errlen)
{
    if (!*name) {
        snprintf(err, errlen, "column %d has an empty name", col + 1);
        return -1;
    }
    for (int i = 0; i < col; i++)
        if (strcmp(cols[i], name) == 0) {
            snprintf(err, errlen, "column \"%.64s\" appears twice", name);
            return -1;
        }
    return 0;
}

/* ---- CSV ---- */

/* One field starting at *pos; its unquoted bytes go to out. Returns the
 * character that ended it (',' '\n' or 0 at the end), or -1. */
static int csv_field(const char *d, size_t len, size_t *pos, struct sbuf *out, long line, char *err, size_t errlen)
{
    size_t i = *pos;
    sbuf_reset(out);
    if (i < len && d[i] == '"') {
        i++;
        for (;;) {
            if (i >= len) {
                snprintf(err, errlen, "line %ld: a quoted field is not closed", line);
                return -1;
            }
            if (d[i] == '"') {
                if (i + 1 < len && d[i + 1] == '"') {
                    sbuf_addc(out, '"');
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            sbuf_addc(out, d[i++]);
        }
        if (i < len && d[i] == '\r')
            i++;
        if (i < len && d[i] != ',' && d[i] != '\n') {
            snprintf(err, errlen, "line %ld: text after a closing quote (write \"\" for a quote inside one)", line);
            return -1;
        }
    } else {
        size_t start = i;
        while (i < len && d[i] != ',' && d[i] != '\n') {
            if (d[i] == '"') {
                snprintf(err, errlen, "line %ld: a quote inside an unquoted field (quote the whole field)", line);
                return -1;
            }
            i++;
        }
        size_t end = i;
        if (end > start && d[end - 1] == '\r')
            end--;
        sbuf_add(out, d + start, end - start);
    }
    int ended = i < len ? d[i] : 0;
    if (i < len)
        i++;
    *pos = i;
    return ended;
}

int dataset_parse_csv(const char *d, size_t len, struct dataset **out, char *err, size_t errlen)
{
    *out = NULL;
    if (check_size(len, err, errlen) < 0)
        return -1;
    size_t pos = 0;
    if (len >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 byte order mark */
    struct sbuf f = { 0 };
    struct builder b = { 0 };
    char **cols = NULL;
    int ncols = 0, rc = -1;
    long line = 1;
    if (pos >= len || d[pos] == '\n' || d[pos] == '\r') {
        snprintf(err, errlen, "no header row (the first line names the columns)");
        goto out;
    }
    /* the header */
    for (;;) {
        int end = csv_field(d, len, &pos, &f, line, err, errlen);
        if (end < 0)
            goto out;
        if (ncols == DATASET_MAX_COLS) {
            snprintf(err, errlen, "line 1: more than %d columns", DATASET_MAX_COLS);
            goto out;
        }
        cols = xrealloc(cols, (size_t)(ncols + 1) * sizeof *cols);
        cols[ncols] = xstrdup(f.s ? f.s : "");
        if (check_name(cols[ncols], ncols, cols, err, errlen) < 0) {
            ncols++;
            goto out;
        }
        ncols++;
        if (end != ',')
            break;
    }
    while (pos < len) {
        line++;
        /* a blank line (or a last line ending) holds no row */
        if (d[pos] == '\n' || (d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n')) {
            pos += d[pos] == '\r' ? 2 : 1;
            continue;
        }
        long first_line = line;
        int nf = 0;
        for (;;) {
            const char *before = d + pos;
            int end = csv_field(d, len, &pos, &f, line, err, errlen);
            if (end < 0)
                goto out;
            for (const char *c = before; c < d + pos - (end == '\n'); c++)
                line += *c == '\n'; /* newlines inside quoted fields */
            if (nf < ncols)
                add_cell(&b, f.s ? f.s : "", f.len);
            nf++;
            if (end != ',')
                break;
        }
        if (nf != ncols) {
            snprintf(err, errlen, "line %ld: %d fields, the header has %d", first_line, nf, ncols);
            goto out;
        }
        if ((long)(b.ncells / (size_t)ncols) > DATASET_MAX_ROWS) {
            snprintf(err, errlen, "more than %d rows", DATASET_MAX_ROWS);
            goto out;
        }
    }
    *out = finish(&b, cols, ncols);
    cols = NULL;
    ncols = 0;
    rc = 0;
out:
    sbuf_deinit(&f);
    if (rc < 0)
        builder_free(&b);
    for (int i = 0; i < ncols; i++)
        free(cols[i]);
    free(cols);
    return rc;
}

/* ---- JSON ---- */

int dataset_parse_json(const char *data, size_t len, struct dataset **out, char *err, size_t errlen)
{
    *out = NULL;
    if (check_size(len, err, errlen) < 0)
        return -1;
    struct json_err e;
    yajl_val root = json_parse(data, len, 3, &e);
    if (!root) {
        snprintf(err, errlen, "%s", e.message);
        return -1;
    }
    int rc = -1, ncols = 0;
    char **cols = NULL;
    struct builder b = { 0 };
    if (!YAJL_IS_ARRAY(root)) {
        snprintf(err, errlen, "expected an array of objects, got %s", json_type_name(root));
        goto out;
    }
    size_t n = root->u.array.len;
    if (n > DATASET_MAX_ROWS) {
        snprintf(err, errlen, "more than %d rows", DATASET_MAX_ROWS);
        goto out;
    }
    /* the columns: every key, in order of first appearance */
    for (size_t r = 0; r < n; r++) {
        yajl_val o = root->u.array.values[r];
        if (!YAJL_IS_OBJECT(o)) {
            snprintf(err, errlen, "[%zu]: expected an object, got %s", r, json_type_name(o));
            goto out;
        }
        for (size_t k = 0; k < o->u.object.len; k++) {
            const char *key = o->u.object.keys[k];
            int seen = 0;
            for (int c = 0; c < ncols && !seen; c++)
                seen = strcmp(cols[c], key) == 0;
            if (seen)
                continue;
            if (ncols == DATASET_MAX_COLS) {
                snprintf(err, errlen, "more than %d distinct keys", DATASET_MAX_COLS);
                goto out;
            }
            cols = xrealloc(cols, (size_t)(ncols + 1) * sizeof *cols);
            cols[ncols++] = xstrdup(key);
            if (check_name(cols[ncols - 1], ncols - 1, cols, err, errlen) < 0)
                goto out;
        }
    }
    for (size_t r = 0; r < n; r++) {
        yajl_val o = root->u.array.values[r];
        for (int c = 0; c < ncols; c++) {
            yajl_val v = json_get(o, cols[c]);
            char num[64];
            if (!v || YAJL_IS_NULL(v)) {
                add_cell(&b, "", 0);
            } else if (YAJL_IS_STRING(v)) {
                add_cell(&b, v->u.string, strlen(v->u.string));
            } else if (YAJL_IS_NUMBER(v)) {
                add_cell(&b, v->u.number.r, strlen(v->u.number.r));
            } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
                snprintf(num, sizeof num, "%s", YAJL_IS_TRUE(v) ? "true" : "false");
                add_cell(&b, num, strlen(num));
            } else {
                snprintf(err, errlen, "[%zu].%.64s: expected a string, number, boolean or null, got %s", r,
                         cols[c], json_type_name(v));
                goto out;
            }
        }
    }
    *out = finish(&b, cols, ncols);
    cols = NULL;
    ncols = 0;
    rc = 0;
out:
    if (rc < 0)
        builder_free(&b);
    for (int i = 0; i < ncols; i++)
        free(cols[i]);
    free(cols);
    yajl_tree_free(root);
    return rc;
}

int dataset_parse(const char *data, size_t len, struct dataset **out, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && data[i] && strchr(" \t\r\n", data[i]))
        i++;
    if (i < len && data[i] == '[')
        return dataset_parse_json(data, len, out, err, errlen);
    return dataset_parse_csv(data, len, out, err, errlen);
}
