/* collect_spec: how the server collects a dataset's rows from an API
 * (the "collect" object of a dataset, docs/datasets.md) — validated with
 * field-path errors and compiled once. The routes are script steps: they
 * become the steps of a script (routes = steps, pre = setup, post =
 * teardown), so their URLs, headers, bodies, {{templates}} and "extract"
 * follow docs/script-format.md and compile with the same code.
 *
 *   repeat: `iterations` times the routes; one row per iteration, whose
 *           columns are the names the routes extract.
 *   batch:  the last route's response holds a JSON array (batch.rows, a
 *           JSONPath); every element is a row, each column a JSONPath
 *           relative to the element (batch.columns). With iterations > 1
 *           (pages: {{iteration}} in the URL), an empty array ends early.
 *
 * A parsed spec is immutable. */
#ifndef STAMPEDE_COLLECT_SPEC_H
#define STAMPEDE_COLLECT_SPEC_H

#include "ds_rows.h"
#include "json.h"
#include "jsonpath.h"
#include "script.h"

#include <stddef.h>
#include <stdint.h>

#define COLLECT_MAX_ROUTES 16            /* per section: pre, routes, post */
#define COLLECT_MAX_ITERATIONS 10000
#define COLLECT_DEFAULT_ROWS 100000      /* limits.max_rows */
#define COLLECT_MAX_ROWS 1000000
#define COLLECT_DEFAULT_TIMEOUT_US 8000000u   /* limits.timeout: the whole collection */
#define COLLECT_MAX_TIMEOUT_US 600000000u
#define COLLECT_DEFAULT_BYTES (16u << 20)     /* limits.max_bytes: the stored rows */
#define COLLECT_MAX_BYTES (64u << 20)
#define COLLECT_RESPONSE_MAX (8u << 20)       /* bytes of one response body */

enum collect_mode { COLLECT_REPEAT, COLLECT_BATCH };

struct collect_spec {
    enum collect_mode mode;
    long iterations;
    struct script *sc;        /* steps[0, nmain): routes; then pre (setup), post (teardown) */
    int ncols;
    char **cols;              /* the columns, in order */
    int *col_var;             /* repeat: per column, the variable that fills it */
    struct jsonpath rows;     /* batch: where the array is in the last route's body */
    struct jsonpath *col_path; /* batch: per column, relative to an element */
    long max_rows;
    uint64_t timeout_us;
    uint64_t max_bytes;
    char field[32];           /* the prefix of this spec's paths ("collect") */
};

/* Parse and validate v (the "collect" object); field prefixes every error
 * path ("collect" -> "collect.routes[1].url"). 0 with *out (free with
 * collect_spec_free), or -1 with e set. */
int collect_spec_parse(yajl_val v, const char *field, struct collect_spec **out, struct json_err *e);
void collect_spec_free(struct collect_spec *s);
/* Where step i of s->sc was written: "collect.routes[0]", "collect.pre[1]". */
const char *collect_step_path(const struct collect_spec *s, int i, char *buf, size_t len);

/* Batch: add the rows of one response body to out (at most `room` of
 * them). Returns the number added (0: an empty array), or -1 with a
 * message in err (not JSON, no array at batch.rows, a column that is an
 * object or array, more than room rows). */
long collect_batch_rows(const struct collect_spec *s, const char *body, size_t len, struct ds_rows *out,
                        long room, char *err, size_t errlen);

#endif
