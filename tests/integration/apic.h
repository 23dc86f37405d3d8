/* apic: a small client of the REST API for integration tests — requests
 * with JSON bodies, typed access to answers, and the usual set-up steps
 * (a project, a scenario, a script; waiting for a run's status). Every
 * helper asserts what it needs, so a test reads as a list of steps. */
#ifndef STAMPEDE_APIC_H
#define STAMPEDE_APIC_H

#include "itest.h"

#include <stdint.h>

/* The server the helpers talk to, and its token ("" = none). */
void apic_use(uint16_t port, const char *token);

/* A request; body (JSON) may be NULL. The answer is parsed when JSON. */
struct itest_resp apic(const char *method, const char *path, const char *body);
/* Same, asserting the status; the caller frees the answer. */
struct itest_resp apic_expect(const char *method, const char *path, const char *body, int status);
/* Asserting an error answer: status, code and (when not NULL) field. */
void apic_error(const char *method, const char *path, const char *body, int status, const char *code,
                const char *field);

/* Values at a path (NULL-terminated keys) of a parsed answer. */
const char *apic_str(yajl_val v, ...);
double apic_num(yajl_val v, ...);        /* NAN when absent or not a number */
yajl_val apic_get(yajl_val v, ...);

/* Create and return the id (static buffer, copy it). */
const char *apic_project(const char *name);
const char *apic_scenario(const char *project_id, const char *name);
const char *apic_script(const char *scenario_id, const char *name, const char *definition);
/* Start a run from a POST /v1/runs body; returns its id (static buffer). */
const char *apic_run(const char *body);
/* Poll GET /v1/runs/{id} until status is one of the '|'-separated states;
 * asserts it happens within timeout_ms. Returns the status (static). */
const char *apic_wait_status(const char *run_id, const char *states, int timeout_ms);
/* A name unique to this process and call: prefix-pid-n. Static buffer. */
const char *apic_name(const char *prefix);
/* A script definition loading target port `port` at `path`. */
char *apic_def_iterations(uint16_t port, const char *path, int vus, int iterations);
char *apic_def_rate(uint16_t port, const char *path, double rate, const char *duration);

void apic_sleep_ms(int ms);

#endif
