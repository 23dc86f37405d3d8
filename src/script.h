/* script: a load test definition, parsed and validated from JSON.
 * Every validation error names the field's path, e.g.
 *   load.stages[2].duration: expected a duration like "30s"
 * The parsed script is immutable: once built it may be read from any loop
 * (run shards read it; nothing writes it). See docs/script-format.md. */
#ifndef STAMPEDE_SCRIPT_H
#define STAMPEDE_SCRIPT_H

#include "json.h"
#include "threshold.h"
#include "tmpl.h"
#include "extract.h"
#include "telemetry.h"

#include <stddef.h>
#include <stdint.h>

/* ---- where requests go ---- */

struct script_origin {
    int tls;            /* https */
    char *host;         /* as written (name or address, no brackets) */
    uint16_t port;
    char *authority;    /* Host header value: "host" or "host:port" ([v6]:port) */
};

/* ---- steps ---- */

struct script_header {
    char *name;
    char *value;
};

struct script_checks {
    int status;              /* exact expected status, 0 = none */
    int status_class;        /* 2 for "2xx" ... 5, 0 = none */
    char *body_contains;     /* NULL = none */
    uint64_t max_latency_us; /* 0 = none */
};

struct script_step {
    char *name;              /* unique in the script; metrics are kept under it */
    char *method;            /* upper case */
    int origin;              /* index into script.origins */
    char *target;            /* request-target: "/path?query" */
    struct script_header *headers;
    int nheaders;
    char *body;              /* may be NULL */
    size_t body_len;
    uint64_t timeout_us;     /* response timeout (default 60s) */
    struct script_checks checks;
    int retry_stale;         /* sent again once when a reused keep-alive connection
                                failed before any answer (default: idempotent methods) */
    int url_given;           /* the step gave "url" (else "path"): for error paths */
    int body_json;           /* the body was a JSON object or array */
    /* compiled {{...}} templates (script_compile_templates) */
    struct tmpl target_t;    /* percent-encoding values */
    struct tmpl *header_t;   /* one per header value */
    struct tmpl body_t;      /* JSON-escaping values when body_json */
    struct extractor *extract; /* values taken from its response */
    int nextract;
    int *uses;               /* the variables its templates read (symbol indexes) */
    int nuses;
};

/* ---- limits (scripts, live control, the REST API, the CLI) ---- */

#define SCRIPT_MAX_VUS 100000          /* VUs of a run */
#define SCRIPT_MAX_RATE 10000000.0     /* iterations per time unit */
#define SCRIPT_MAX_PERCENT 10000.0     /* planned-load scale, % */

/* ---- load ---- */

enum script_executor {
    EXEC_CONSTANT_VUS,
    EXEC_RAMPING_VUS,
    EXEC_CONSTANT_ARRIVAL_RATE,
    EXEC_RAMPING_ARRIVAL_RATE,
    EXEC_PER_VU_ITERATIONS,
};

struct script_stage {
    uint64_t duration_us;
    double target;          /* VUs (ramping-vus) or iterations per time_unit */
};

struct script_load {
    enum script_executor executor;
    int vus;                 /* constant-vus, per-vu-iterations */
    int start_vus;           /* ramping-vus (default 0) */
    uint64_t duration_us;    /* constant-* (required) */
    double rate;             /* constant-arrival-rate: iterations per time_unit */
    double start_rate;       /* ramping-arrival-rate (default 0) */
    uint64_t time_unit_us;   /* default 1s */
    struct script_stage *stages; /* ramping-*; at least one */
    int nstages;
    int pre_allocated_vus;   /* arrival-rate executors */
    int max_vus;             /* arrival-rate executors; >= pre_allocated_vus */
    int iterations;          /* per-vu-iterations */
    uint64_t max_duration_us;   /* per-vu-iterations cap (default 10m) */
    uint64_t warmup_us;         /* first part of the run excluded from results */
    uint64_t graceful_stop_us;  /* time in-flight iterations get at the end (default 30s) */
    uint64_t think_time_us;     /* pause between a VU's iterations (closed model) */
};

/* The planned length of the load (stages summed, or duration), without the
 * graceful stop; per-vu-iterations: its max_duration. */
uint64_t script_load_duration_us(const struct script_load *l);
/* 1 for the arrival-rate executors (open model). */
int script_load_is_open(const struct script_load *l);
const char *script_executor_name(enum script_executor e);

/* A VU whose request fails before a byte of it left (DNS, connect) waits
 * before its next iteration: min_us, doubling up to max_us, reset by any
 * answer. min_us == 0: no backoff. */
struct script_backoff {
    uint64_t min_us;        /* default 10ms */
    uint64_t max_us;        /* default 1s */
};

/* ---- data ---- */

enum script_order {
    ORDER_SEQUENTIAL, /* rows in file order, shared by all VUs */
    ORDER_RANDOM,     /* any row, each iteration */
    ORDER_UNIQUE,     /* each row used by exactly one iteration of the run */
};

struct dataset;
struct script;

struct script_dataset {
    struct dataset *rows;
    enum script_order order;
    int stop;                /* on_exhausted: stop (else recycle) */
    int *col_var;            /* per column: its symbol in script.vars */
    char *source;            /* the file as given, or the dataset's id */
    char *id;                /* a dataset of the server ("id"), else NULL */
    long version;            /* its version these rows are (0 with columns only) */
};

void script_dataset_free(struct script_dataset *d);
/* The "dataset" section (script_data.c). base_dir: where a relative file
 * is read from; NULL refuses files (the server). A dataset named by "id"
 * takes its rows from those lent below. */
int script_parse_dataset(struct script *s, yajl_val root, const char *base_dir, struct json_err *e);

/* Datasets the server keeps ("dataset": {"id": ...}). Parsing never
 * waits for the database, so the server reads a dataset's rows first and
 * lends them to the parses the calling thread makes, until it lends
 * others or NULL:
 *     script_datasets_lend(v, n); script_parse(...); script_datasets_lend(NULL, 0);
 * A parse copies the rows it uses; v stays the caller's. rows with no
 * rows (columns only, e.g. ds_columns_only) check a script's variables
 * without running it: the parse then skips the "has no rows" check. */
struct script_ds_lent {
    const char *id;              /* the dataset's id */
    long version;                /* the version these rows are; 0: columns only */
    const struct dataset *rows;  /* borrowed */
};
void script_datasets_lend(const struct script_ds_lent *v, int n);
/* The dataset a definition (parsed JSON) names by id: 1 with its id in
 * lower case (idlen >= UUID_STR_LEN) and the version it pins (0: the
 * latest), or 0 when it names none (a file, no dataset, or something the
 * parser will refuse with its own message). */
int script_dataset_ref(yajl_val def, char *id, size_t idlen, long *version);

/* ---- the script ---- */

struct script {
    struct script_origin *origins;
    int norigins;
    struct script_step *steps;   /* an iteration's, then setup's, then teardown's */
    int nsteps;                  /* all of them */
    int nmain;                   /* steps[0, nmain): one iteration */
    int nsetup;                  /* then: once per VU before its first iteration */
    int nteardown;               /* then: once per VU after its last */
    struct script_load load;
    struct threshold *thresholds;
    int nthresholds;
    int insecure_skip_tls_verify; /* default 0: certificates are verified */
    struct script_backoff backoff;
    struct tmpl_syms vars;        /* every variable a template names */
    struct script_dataset *dataset; /* NULL: none */
    struct script_telemetry *telemetry; /* a telemetry script's signals, or NULL */
    int dynamic;                  /* some step has a placeholder */
    char *user_agent;             /* default "stampede/<package version>" */
};

/* Parse and validate. On success *out is a new script (free with
 * script_free); on failure returns -1 with e naming the field. */
int script_parse(const char *json, size_t len, struct script **out, struct json_err *e);
/* The same for a script read from a file in base_dir: its dataset file
 * is read relative to it. */
int script_parse_at(const char *json, size_t len, const char *base_dir, struct script **out,
                    struct json_err *e);
/* Same, from a parsed tree (used by the REST API). */
int script_from_json(yajl_val root, struct script **out, struct json_err *e);
void script_free(struct script *s);
/* Where step i was written: "steps[2]", "setup[0]", "teardown[1]". */
const char *script_step_path(const struct script *s, int i, char *buf, size_t len);
/* A step's "extract" section (script_tmpl.c). */
int script_parse_extract(struct script *s, struct script_step *st, yajl_val step, const char *sp,
                         struct json_err *e);
/* Compile every step's templates and check that each variable they read
 * can be set (script_tmpl.c; called by script_from_json). */
int script_compile_templates(struct script *s, struct json_err *e);

/* Parse an absolute http(s) URL into origin + request-target. -1 with a
 * message on anything else (other schemes, userinfo, bad port, spaces). */
int script_parse_url(const char *url, struct script_origin *o, char **target, char *err,
                     size_t errlen);
void script_origin_deinit(struct script_origin *o);

#endif
