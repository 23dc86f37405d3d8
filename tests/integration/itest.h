/* itest: helpers for integration tests — a private PostgreSQL + Redis
 * (contrib/stack.sh), the real stampede binary on an ephemeral port, and a
 * small blocking HTTP client. Tests may block; the server never does.
 *
 * The stack comes from STAMPEDE_STACK_DIR (contrib/dev.sh test sets it)
 * or, when that is unset, is started for this test program and stopped at
 * its end. Tests that stop PostgreSQL or Redis start them again. */
#ifndef STAMPEDE_ITEST_H
#define STAMPEDE_ITEST_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <yajl/yajl_tree.h>

struct itest_stack {
    char dir[512];
    char pg_dsn[256];
    char redis_url[128];
    int pg_port, redis_port;
    int owned; /* started by us */
};

/* The process-wide stack (set up once by itest_stack_up). */
const struct itest_stack *itest_stack(void);
void itest_stack_up(void);   /* unchecked fixture: aborts the program on failure */
void itest_stack_down(void);
/* Run `contrib/stack.sh CMD DIR`; returns its exit status. */
int itest_stack_cmd(const char *cmd);
/* A fresh, empty database; returns its DSN in a static buffer. */
const char *itest_createdb(const char *prefix);

struct itest_server {
    pid_t pid;
    uint16_t port;
    char log[640];  /* file holding the server's stderr */
};

/* Start `stampede serve` with this DSN and Redis URL (NULL = the stack's)
 * plus extra args (NULL-terminated). Waits for the listening line. Returns
 * 0, or -1 if the process exited first (its status in *exit_status). */
int itest_server_start(struct itest_server *s, const char *dsn, const char *redis_url,
                       const char *const *extra, int *exit_status);
/* Start it on the stack with extra args and wait until /healthz answers
 * 200; the test fails otherwise. */
void itest_server_start_healthy(struct itest_server *s, const char *const *extra);
/* Wait for the server to exit by itself; its exit status, or -1. */
int itest_server_wait(struct itest_server *s, int timeout_ms);
/* SIGTERM and wait (up to timeout_ms); returns the exit status or -1. */
int itest_server_stop(struct itest_server *s, int timeout_ms);
/* 1 if the server's log contains needle. */
int itest_log_contains(const struct itest_server *s, const char *needle);
/* Poll GET /healthz until it answers `status` (e.g. 200) or timeout. */
int itest_wait_health(uint16_t port, int status, int timeout_ms);

struct itest_resp {
    int status;      /* -1 on transport failure */
    char *headers;   /* raw header block */
    char *body;      /* NUL-terminated */
    size_t body_len;
    yajl_val json;   /* parsed body or NULL */
};

/* One request on a new connection (Connection: close). extra_headers is a
 * "K: V\r\n..." block or NULL. chunked != 0 sends the body chunked. */
int itest_http(uint16_t port, const char *method, const char *path, const char *extra_headers,
               const char *body, size_t body_len, int chunked, struct itest_resp *r);
void itest_resp_free(struct itest_resp *r);
/* String at a JSON path like {"error","code",NULL} in r->json, or NULL. */
const char *itest_json_str(const struct itest_resp *r, const char *const *path);

/* Blocking query for checks from outside the server. Caller PQclear()s. */
PGresult *itest_pg(const char *dsn, const char *sql);

uint64_t itest_now_ms(void);

#endif
