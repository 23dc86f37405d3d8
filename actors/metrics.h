/* metrics: merges the shards' per-second windows of every run (loop 0).
 *
 * For each run it assembles second k once every shard has sent its window
 * for k (or finished), turns it into a point, keeps the point in the
 * series, publishes it as a live frame (docs/live.md) on "<prefix>:run:<id>"
 * through the bus (the state it shows follows MSG_METRICS_STATE), and
 * merges the measured (non-warmup) windows into the cumulative summary.
 * After each second it checks thresholds marked abort_on_fail and asks runs
 * to abort when one fails. On MSG_METRICS_END it flushes, evaluates every
 * threshold and replies with the summary document, the text table and the
 * series. With a series writer configured, every second's rows (the
 * measured and the warmup part apart) go to it as MSG_SERIES_BATCH. */
#ifndef STAMPEDE_METRICS_H
#define STAMPEDE_METRICS_H

#include "run_msgs.h"

struct metrics_config {
    actor_t *bus;        /* may be NULL: nothing is published */
    actor_t *series;     /* series writer; may be NULL: nothing is stored */
    const char *prefix;  /* channel prefix, e.g. "stampede" */
};

actor_t *metrics_new(struct loop *l, const struct metrics_config *cfg);
/* After every loop has stopped. */
void metrics_free(actor_t *metrics);

#endif
