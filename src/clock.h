/* clock: the two clocks of the program.
 * Every duration and latency uses the monotonic clock (clock_now_ns/us);
 * the wall clock is only for timestamps shown to people and stored in rows. */
#ifndef STAMPEDE_CLOCK_H
#define STAMPEDE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_now_us(void)
{
    return clock_now_ns() / 1000u;
}

/* Milliseconds since the Unix epoch (wall clock). */
static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
