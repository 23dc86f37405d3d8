/* config: server settings from four sources, in precedence order
 * command-line flag > environment (STAMPEDE_*) > config file > default.
 * The file is `key = value` lines with # comments (see etc/stampede.conf).
 * Every error names its source: "STAMPEDE_LOOPS: expected an integer...",
 * "etc/stampede.conf:12: unknown key 'lisen'". */
#ifndef STAMPEDE_CONFIG_H
#define STAMPEDE_CONFIG_H

#include "log.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config {
    char listen_host[64];   /* numeric IPv4/IPv6 address */
    uint16_t listen_port;   /* 0 = ephemeral */
    char live_host[64];     /* the WebSocket gateway's address */
    uint16_t live_port;
    int live_threads;       /* its service threads */
    uint64_t live_ping_us;  /* its keepalive: silence before a ping */
    char *dashboard_dir;    /* "" = the build's contrib/dashboard */
    char *pg_dsn;           /* libpq conninfo string or URI */
    char *redis_url;        /* redis://host:port[/db] */
    int loops;              /* reactor threads; 0 = one per online core */
    int worker_nice;        /* nice value of loops 1..n-1 (the run shards) */
    enum log_level log_level;
    uint64_t max_body_bytes;
    int pg_pool;            /* connections in the store's pool */
    uint64_t pg_timeout_us; /* a query's deadline */
    uint64_t request_timeout_us; /* deadline of an API request's reply */
    char *channel_prefix;   /* Redis channel prefix */
    char *api_token;        /* "" = no auth; else /v1 needs Authorization: Bearer <it> */
    char *collect_allow;    /* CIDRs dataset collection may reach despite the SSRF guard
                               (ssrf.h); "" = none. Checked when read */
    char *config_path;      /* file read, or NULL */
};

/* Lookup of environment variables; getenv in production, a table in tests. */
typedef const char *(*config_getenv_cb)(const char *name);

void config_init(struct config *c);
void config_deinit(struct config *c);

/* Resolve the whole configuration. argv holds only the options (e.g. those
 * after "serve"); --config PATH (or STAMPEDE_CONFIG) names the file. On
 * error returns -1 with a message naming the source and field in err. */
int config_resolve(struct config *c, int argc, char **argv, config_getenv_cb env, char *err,
                   size_t errlen);

/* Print the known keys, their env names, flags and defaults (for --help). */
void config_usage(FILE *out);

#endif
