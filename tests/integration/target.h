/* target: start and query tests/target/stampede-target from a test. */
#ifndef STAMPEDE_TEST_TARGET_H
#define STAMPEDE_TEST_TARGET_H

#include <stdint.h>
#include <sys/types.h>

struct target {
    pid_t pid;
    uint16_t port;
};

/* Start it with extra args (NULL-terminated, may be NULL); aborts the test
 * on failure. */
void target_start(struct target *t, const char *const *args);
/* The same for another program of tests/target/ that prints "PORT n"
 * (stampede-collector). */
void target_start_program(struct target *t, const char *program, const char *const *args);
void target_stop(struct target *t);
/* Requests it counted (GET /__stats "requests"). */
long target_requests(const struct target *t);
void target_reset(const struct target *t);
/* Requests it counted for one path (the query left out), and how many
 * distinct paths it saw. */
long target_path_count(const struct target *t, const char *path);
long target_distinct_paths(const struct target *t);
/* A number from GET /__stats ("logins", "tokens_ok", ...). */
long target_stat(const struct target *t, const char *key);

#endif
