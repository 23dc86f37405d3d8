/* collect_run: one collection of a dataset's rows from an API, as its
 * collect spec says (collect_spec.h) — on one loop, never blocking it.
 *
 * Every host of the spec's routes is resolved once (evdns; numeric hosts
 * as they are) and every address a name has is checked by the SSRF guard
 * (ssrf.h): one refused address refuses the collection before anything
 * is sent. Requests then go one at a time (hfetch.h), each to the address
 * that was checked, whose connected peer is checked again before a byte
 * leaves: pre once, the routes `iterations` times (once for a preview),
 * post once — also after a failed route, to log out; a failed pre skips
 * the rest. Bounded by the spec's limits: time, rows, bytes.
 *
 * Callback contract: `done` runs exactly once per collect_run_start,
 * always from the loop (never inside collect_run_start); the run frees
 * itself after `done` returns. Before that, collect_run_cancel drops it
 * without a callback. */
#ifndef STAMPEDE_COLLECT_RUN_H
#define STAMPEDE_COLLECT_RUN_H

#include "collect_spec.h"
#include "ssrf.h"

#include <openssl/ssl.h>
#include <stddef.h>

struct event_base;
struct evdns_base;
struct collect_run;

/* What runs share (borrowed: it outlives them). */
struct collect_env {
    struct event_base *base;
    struct evdns_base *dns;        /* NULL: host names cannot be resolved */
    const struct ssrf_allow *allow;
    SSL_CTX *tls_verify, *tls_noverify;
    pcre2_match_data *md;          /* extract_match_data, of this loop */
};

/* The end of a run; everything in it is valid during `done` only. */
struct collect_outcome {
    int failed;
    int status;            /* failed: 403 (the guard) or 502 */
    const char *code;      /* failed: "address_not_allowed" or "collect_failed" */
    const char *field;     /* failed: "collect.routes[1]", "collect.limits.timeout", ... */
    const char *message;   /* failed: the whole story, with the field first */
    const char *rows;      /* the rows in stored form (ds_rows.h) */
    size_t rows_len;
    long nrows;
    const char *columns;   /* a JSON array of the column names */
    const char *preview;   /* a preview: {columns, row_count, rows (the first 100), requests} */
    long requests;         /* requests made */
};

typedef void (*collect_done_cb)(const struct collect_outcome *o, void *arg);

/* Start a collection of spec (taken: freed with the run). preview: one
 * iteration, and a log of the requests for the outcome. Never NULL. */
struct collect_run *collect_run_start(const struct collect_env *env, struct collect_spec *spec, int preview,
                                      collect_done_cb done, void *arg);
/* Drop a run whose done has not run yet: no callback. NULL is a no-op. */
void collect_run_cancel(struct collect_run *r);

#endif
