/* run_shard: the virtual users of one run on one loop.
 *
 * A shard owns its VUs, their HTTP connections and its measurement window;
 * nothing is shared with other loops. It applies its part of the load
 * (1/n of the rate, an integer split of the VUs), closed model (VUs loop
 * over the steps, think time between iterations) or open model (one timer
 * schedules arrivals; each takes a free VU; with none free and max_vus
 * reached the arrival is counted in dropped_iterations, never delayed).
 * Latency counts from when a request was due, and the service time from
 * when it was written. Every second (aligned to the run's t0) it sends its
 * window to metrics; live control applies at once or ramps.
 *
 * Created by runs on its target loop with run_shard_new; it does nothing
 * until MSG_SHARD_START arrives. After its last window it sends
 * MSG_SHARD_DONE to runs and waits for MSG_SHARD_RELEASE, then frees
 * itself (runs sends nothing after the release). */
#ifndef STAMPEDE_RUN_SHARD_H
#define STAMPEDE_RUN_SHARD_H

#include "run_msgs.h"

actor_t *run_shard_new(struct loop *l, uint64_t run_id, int index);

#endif
