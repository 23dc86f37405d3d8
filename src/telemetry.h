/* telemetry: a script kind that sends synthetic logs, metrics and traces
 * to a destination at exact rates — MoniFlux's job, to load-test
 * observability pipelines. The "telemetry" section replaces "steps" and
 * "load": each signal becomes one step (POST to the destination), all of
 * them share one open-model arrival process whose arrivals are dealt to
 * the signals by smooth weighted round robin, so each signal keeps its
 * own rate to within one request. Bodies are generated per request:
 * MoniFlux documents, JSON lines, or OTLP/HTTP JSON. See docs/telemetry.md. */
#ifndef STAMPEDE_TELEMETRY_H
#define STAMPEDE_TELEMETRY_H

#include "json.h"
#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

enum telemetry_format { TELEMETRY_MONIFLUX, TELEMETRY_JSONL, TELEMETRY_OTLP };
enum telemetry_signal { SIGNAL_LOGS, SIGNAL_METRICS, SIGNAL_TRACES };

#define TELEMETRY_MAX_RATE 1000000.0  /* documents per second per signal */
#define TELEMETRY_MAX_BATCH 10000
#define TELEMETRY_MAX_LOG_SIZE 65536

struct telemetry_stream {
    enum telemetry_signal signal;
    double docs_per_s;      /* planned documents per second */
    int level;              /* logs: severity number (OTLP), see telemetry_level_name */
    int log_size;           /* logs: message bytes */
};

struct script_telemetry {
    enum telemetry_format format;
    int batch;              /* documents per request at most (moniflux: 1) */
    char *test_id;          /* MoniFlux testID, OTLP resource attribute test.id */
    char *service;          /* OTLP resource service.name */
    struct telemetry_stream streams[3]; /* in step order */
    int nstreams;
};

/* Requests per second that carry docs_per_s documents in batches of at
 * most batch. */
double telemetry_posts_per_s(double docs_per_s, int batch);
const char *telemetry_signal_name(enum telemetry_signal s);
const char *telemetry_level_name(int severity);

/* Turn the "telemetry" section of root into the script it stands for:
 * a tree with "steps" (one per signal with a rate) and "load" (one
 * constant-arrival-rate) for the ordinary parser, and *out describing
 * the signals. NULL with e set (field paths under "telemetry"). The
 * caller frees the tree (yajl_tree_free) and *out (telemetry_free). */
yajl_val telemetry_expand(yajl_val root, struct script_telemetry **out, struct json_err *e);
void telemetry_free(struct script_telemetry *t);

/* One request's body for stream k carrying ndocs documents. rng: 4 words
 * of xoshiro state (tmpl_rng_next). */
void telemetry_body(const struct script_telemetry *t, int k, int ndocs, uint64_t *rng, struct sbuf *out);

#endif
