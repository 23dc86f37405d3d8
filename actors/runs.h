/* runs: the run supervisor (loop 0).
 *
 * MSG_RUN_START splits a run into one run_shard per worker loop (loops
 * 1..n-1; loop 0 when there is only one), gives them a common start instant
 * and tells metrics to expect their windows. Live control (MSG_RUN_CONTROL)
 * is checked against the executor and forwarded to every shard; each shard
 * applies its own share. A threshold abort from metrics stops the run
 * gracefully. When every shard is done, metrics is asked for the summary
 * and the observer gets MSG_RUN_FINISHED; then the shards are released and
 * the script freed. MSG_STOP stops every run and answers once all have
 * finished. */
#ifndef STAMPEDE_RUNS_H
#define STAMPEDE_RUNS_H

#include "run_msgs.h"

struct runs_config {
    struct loop_group *loops;
    actor_t *metrics;
};

actor_t *runs_new(struct loop *l, const struct runs_config *cfg);
/* After every loop has stopped. */
void runs_free(actor_t *runs);

#endif
